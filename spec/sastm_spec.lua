-- nn.SASTM (lua/sgen/nn/sastm.lua), Self-Sparse GAN's Self-Adaptive Sparse
-- Transform Module: shapes, hand-set weights giving known alpha / beta,
-- outputs and sparse rates (xi, zeta, Eq. 15), the csm / psm ablations,
-- gradients (Eq. 6 by hand, float64 gradcheck, finite differences on the
-- MLP's parameters), state_dict names, printing, errors.
local sg = require "sgen"
local nn = sg.nn
local H = require "spec.helpers"

local f64 = {dtype = "float64"}

-- Sets a module's parameters from plain tables ({name = nested table}).
local function set_params(m, values)
  local params = {}
  for name, p in m:named_parameters() do params[name] = p end
  sg.no_grad(function()
    for name, v in pairs(values) do
      local p = assert(params[name], name)
      p:copy_(sg.tensor(v, {dtype = p:dtype()}))
    end
  end)
end

-- The hand-made module: C = 2, H = W = 2, z_dim = hidden = 2.
--   f = identity (e = ReLU(z));  z = {{1, 2}, {3, -1}} -> e = {{1, 2}, {3, 0}}
--   g1 = {{1, 0}, {0, -1}} + {0, 0.5} -> alpha = {{1, 0}, {3, 0.5}}
--   g2 = {{0, 1}, {1, 0}, {-1, 0}, {0, 0}} + {0, 0, 0, -1}
--        -> beta = {{2, 1, 0, 0}, {0, 3, 0, 0}} (positions row-major)
local HAND = {
  ["f.weight"] = {{1, 0}, {0, 1}}, ["f.bias"] = {0, 0},
  ["g1.weight"] = {{1, 0}, {0, -1}}, ["g1.bias"] = {0, 0.5},
  ["g2.weight"] = {{0, 1}, {1, 0}, {-1, 0}, {0, 0}}, ["g2.bias"] = {0, 0, 0, -1},
}
local Z = {{1, 2}, {3, -1}}
local ALPHA = {{1, 0}, {3, 0.5}}
local BETA = {{2, 1, 0, 0}, {0, 3, 0, 0}}

local function hand_module(opts)
  local o = {hidden = 2, dtype = "float64"}
  for k, v in pairs(opts or {}) do o[k] = v end
  local m = nn.SASTM(2, 2, 2, 2, o)
  local vals = {}
  for k, v in pairs(HAND) do
    if not ((k:sub(1, 2) == "g1" and o.csm == false) or (k:sub(1, 2) == "g2" and o.psm == false)) then
      vals[k] = v
    end
  end
  set_params(m, vals)
  return m
end

-- h = 1..16 as 2 x 2 x 2 x 2, with h[1][2][1][1] = 0 (a zero of h itself).
local function hand_h()
  local h = sg.arange(1, 17, f64):reshape(2, 2, 2, 2)
  h:narrow(1, 1, 1):narrow(2, 2, 1):narrow(3, 1, 1):narrow(4, 1, 1):fill_(0)
  return h
end

-- The expected x = (alpha_c + beta_p) h (use_a / use_b drop a term).
local function expected_x(h, use_a, use_b)
  local ht = h:totable()
  local out = {}
  for n = 1, 2 do
    out[n] = {}
    for c = 1, 2 do
      out[n][c] = {}
      for j = 1, 2 do
        out[n][c][j] = {}
        for k = 1, 2 do
          local coef = (use_a and ALPHA[n][c] or 0) + (use_b and BETA[n][(j - 1) * 2 + k] or 0)
          out[n][c][j][k] = coef * ht[n][c][j][k]
        end
      end
    end
  end
  return out
end

describe("nn.SASTM", function()
  it("is reachable from sg.nn and keeps the input's shape", function()
    assert.equal(require("sgen.nn.sastm").SASTM, nn.SASTM)
    sg.manual_seed(0)
    for _, case in ipairs({
      {1, 1, 1, 1, 1, {}},
      {3, 4, 5, 8, 2, {}},
      {16, 8, 8, 100, 3, {hidden = 32}},
      {5, 2, 3, 4, 4, {csm = false}},
      {5, 2, 3, 4, 1, {psm = false}},
    }) do
      local C, Hh, W, zd, N, o = table.unpack(case)
      local m = nn.SASTM(C, Hh, W, zd, o)
      local h = sg.randn(N, C, Hh, W)
      local x = m(h, sg.randn(N, zd))
      assert.same({N, C, Hh, W}, x:shape())
      assert.equal("float32", x:dtype())
      -- the DCGAN latent layout N x z_dim x 1 x 1 is accepted
      assert.same({N, C, Hh, W}, m(h, sg.randn(N, zd, 1, 1)):shape())
      local alpha, beta = m:coefficients(sg.randn(N, zd))
      if o.csm == false then assert.is_nil(alpha) else assert.same({N, C}, alpha:shape()) end
      if o.psm == false then assert.is_nil(beta) else assert.same({N, Hh, W}, beta:shape()) end
      assert.equal(o.hidden or zd, m.f.out_features)
    end
  end)

  it("computes alpha, beta and x = alpha h + beta h (Eqs. 1-3) from known weights", function()
    local m = hand_module()
    local z = sg.tensor(Z, f64)
    local alpha, beta = m:coefficients(z)
    H.assert_close(alpha, ALPHA, 0, "alpha")
    H.assert_close(beta:reshape(2, 4), BETA, 0, "beta")
    local h = hand_h()
    H.assert_close(m(h, z), expected_x(h, true, true), 1e-12, "x")
  end)

  it("reports the sparse rates xi, zeta (Eqs. 4, 5) and Eq. 15's mean", function()
    local m = hand_module()
    m(hand_h(), sg.tensor(Z, f64))
    local r = m:sparse_rates()
    -- zeros of x: sample 1 channel 2 has coef {2, 1, 0, 0} and h = 0 at the
    -- first position: 3 of 4 (xi = 0.75 >= 2/3); every other (n, c): none.
    H.assert_close(r.xi, {0, 0.375}, 1e-15, "xi (batch means)")
    assert.near(0.1875, r.xi_mean, 1e-15)
    assert.near(0.25, r.zeta, 1e-15)       -- sample 1: 1 of 2 channels, sample 2: 0 of 2
    assert.equal(0, r.zeta_batch)          -- batch-mean xi_2 = 0.375 < 2/3
    assert.near(0.25, r.alpha_zero, 1e-15) -- alpha = {{1, 0}, {3, 0.5}}
    assert.near(5 / 8, r.beta_zero, 1e-15) -- beta has 2 + 3 zeros of 8
    assert.equal(2, r.batch)
    assert.equal(2, r.channels)
    assert.equal(4, r.positions)
    assert.equal("number", type(r.xi[1]))
    -- Eq. 15 over the SASTM modules of a model (and of a list)
    local Net = nn.Module:extend("TwoSASTM")
    function Net:init(a, b) self.a, self.b = a, b end
    local other = nn.SASTM(1, 1, 3, 1, {csm = false, hidden = 1, dtype = "float64"})
    -- beta = ReLU(g2(ReLU(z))) with z = 1: {1, -1, -2} -> {1, 0, 0}: xi = 2/3 exactly
    set_params(other, {["f.weight"] = {{1}}, ["f.bias"] = {0},
      ["g2.weight"] = {{1}, {-1}, {-2}}, ["g2.bias"] = {0, 0, 0}})
    other(sg.ones(1, 1, 1, 3, f64), sg.ones(1, 1, f64))
    local ro = other:sparse_rates()
    H.assert_close(ro.xi, {2 / 3}, 1e-15, "xi = 2/3")
    assert.equal(1, ro.zeta)      -- 2/3 counts as sparse (compared in integers)
    assert.equal(1, ro.zeta_batch)
    assert.is_nil(ro.alpha_zero)
    local avg = (0.1875 + 2 / 3) / 2
    assert.near(avg, nn.SASTM.average_position_sparsity(Net(m, other)), 1e-15)
    assert.near(avg, nn.SASTM.average_position_sparsity({m, other}), 1e-15)
    assert.is_nil(nn.SASTM.average_position_sparsity(nn.Linear(2, 2)))
  end)

  it("drops the alpha term with csm = false and the beta term with psm = false (§4.4)", function()
    local h, z = hand_h(), sg.tensor(Z, f64)
    local only_b = hand_module({csm = false})
    H.assert_close(only_b(h, z), expected_x(h, false, true), 1e-12, "without CSM")
    assert.same({"f.weight", "f.bias", "g2.weight", "g2.bias"}, only_b:state_dict_keys())
    local only_a = hand_module({psm = false})
    H.assert_close(only_a(h, z), expected_x(h, true, false), 1e-12, "without PSM")
    assert.same({"f.weight", "f.bias", "g1.weight", "g1.bias"}, only_a:state_dict_keys())
    local r = only_a:sparse_rates()
    -- alpha_12 = 0: sample 1 channel 2 is all zeros
    H.assert_close(r.xi, {0, 0.5}, 1e-15, "xi without PSM")
    assert.near(0.25, r.zeta, 1e-15)
    assert.is_nil(r.beta_zero)
  end)

  it("passes the gradients of Eq. 6 to h and to the heads", function()
    local m = hand_module()
    local h = hand_h():requires_grad_()
    local z = sg.tensor(Z, f64)
    m(h, z):sum():backward()
    -- dL/dh = alpha_c + beta_p
    local ones = sg.ones(2, 2, 2, 2, f64)
    H.assert_close(h.grad, expected_x(ones, true, true), 1e-12, "h.grad")
    -- dL/d g1.bias_c = sum_n 1(alpha_nc > 0) sum_jk h_ncjk (every alpha here is
    -- > 0 but alpha_12, whose pre-activation is -1.5)
    local ht = hand_h():sum({3, 4}):totable() -- n x c
    H.assert_close(m.g1.bias.grad, {ht[1][1] + ht[2][1], ht[2][2]}, 1e-12, "g1.bias.grad")
    -- dL/d g2.bias_p = sum_n 1(beta_np > 0) sum_c h_ncp
    local hp = hand_h():sum(2):reshape(2, 4):totable()
    -- (beta > 0 at positions 1, 2 of sample 1 and 2 of sample 2)
    H.assert_close(m.g2.bias.grad, {hp[1][1], hp[1][2] + hp[2][2], 0, 0}, 1e-12, "g2.bias.grad")
    assert.is_not_nil(m.f.weight.grad)
  end)

  it("passes float64 gradcheck in h and z", function()
    sg.manual_seed(3)
    local m = nn.SASTM(2, 2, 3, 3, {hidden = 4, dtype = "float64"})
    H.gradcheck(function(h, z) return m(h, z) end,
      {sg.randn(2, 2, 2, 3, f64), sg.randn(2, 3, f64)})
  end)

  it("gives the MLP's parameters their finite-difference gradients", function()
    sg.manual_seed(4)
    local m = nn.SASTM(2, 2, 2, 3, {hidden = 4, dtype = "float64"})
    local h, z = sg.randn(3, 2, 2, 2, f64), sg.randn(3, 3, f64)
    local w = sg.randn(3, 2, 2, 2, f64)
    local function loss() return (m(h, z) * w):sum() end
    m:zero_grad()
    loss():backward()
    local eps, checked = 1e-6, 0
    for name, p in m:named_parameters() do
      local flat = p:view(-1)
      local g = p.grad:reshape(-1):totable()
      for i = 1, flat:numel() do
        local e = flat:narrow(1, i, 1)
        local v = e:item()
        local lp, lm
        sg.no_grad(function()
          e:fill_(v + eps); lp = loss():item()
          e:fill_(v - eps); lm = loss():item()
          e:fill_(v)
        end)
        local fd = (lp - lm) / (2 * eps)
        assert.is_true(math.abs(fd - g[i]) < 1e-6, string.format("%s[%d]: fd %g, grad %g", name, i, fd, g[i]))
        checked = checked + 1
      end
    end
    assert.equal(3 * 4 + 4 + 4 * 2 + 2 + 4 * 4 + 4, checked)
  end)

  it("has PyTorch Linear names and initialisation, and prints its settings", function()
    local m = nn.SASTM(8, 4, 4, 16, {hidden = 32})
    assert.same({"f.weight", "f.bias", "g1.weight", "g1.bias", "g2.weight", "g2.bias"}, m:state_dict_keys())
    assert.same({32, 16}, m.f.weight:shape())
    assert.same({8, 32}, m.g1.weight:shape())
    assert.same({16, 32}, m.g2.weight:shape())
    -- kaiming_uniform(a = sqrt(5)): |w| <= 1/sqrt(fan_in)
    assert.is_true(m.f.weight:abs():max():item() <= 1 / math.sqrt(16) + 1e-7)
    assert.is_true(m.g2.bias:abs():max():item() <= 1 / math.sqrt(32) + 1e-7)
    local sd = m:state_dict()
    local m2 = nn.SASTM(8, 4, 4, 16, {hidden = 32})
    m2:load_state_dict(sd)
    local h, z = sg.randn(2, 8, 4, 4), sg.randn(2, 16)
    H.assert_equal_tensors(m2(h, z), m(h, z), "loaded state_dict")
    assert.matches("^SASTM%(\n  channels=8, height=4, width=4, z_dim=16, hidden=32, csm=True, psm=True\n  %(f%): Linear",
      tostring(m))
  end)

  it("checks its arguments", function()
    local function msg(f, ...) return H.error_message(f, ...) end
    local ctor = function(...) return nn.SASTM(...) end
    assert.matches("sgen.nn.SASTM: channels must be an integer >= 1, got 0", msg(ctor, 0, 2, 2, 4))
    assert.matches("width must be an integer >= 1", msg(ctor, 2, 2, nil, 4))
    assert.matches("unknown option 'hiden'", msg(ctor, 2, 2, 2, 4, {hiden = 3}))
    assert.matches("option 'csm' must be a boolean", msg(ctor, 2, 2, 2, 4, {csm = 1}))
    assert.matches("csm = false and psm = false", msg(ctor, 2, 2, 2, 4, {csm = false, psm = false}))
    local m = nn.SASTM(2, 3, 3, 4)
    assert.matches("sparse_rates: no forward has run yet", msg(m.sparse_rates, m))
    local fwd = function(...) return m(...) end
    assert.matches("h has shape 2x3x3x3, expected N x 2 x 3 x 3", msg(fwd, sg.randn(2, 3, 3, 3), sg.randn(2, 4)))
    assert.matches("h has shape 2x3x3", msg(fwd, sg.randn(2, 3, 3), sg.randn(2, 4)))
    assert.matches("z has shape 2x5, expected N x 4", msg(fwd, sg.randn(2, 2, 3, 3), sg.randn(2, 5)))
    assert.matches("z has shape 3x4 but h has a batch of 2", msg(fwd, sg.randn(2, 2, 3, 3), sg.randn(3, 4)))
    assert.matches("argument z expected a tensor", msg(fwd, sg.randn(2, 2, 3, 3)))
    assert.matches("expected a module or a list", msg(nn.SASTM.average_position_sparsity, 3))
  end)
end)
