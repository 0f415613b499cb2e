-- models/csc_ctrl.lua (CSC-CTRL and the CTRL baseline) and sgen.ctrl (the
-- closed-loop max/min game): shapes for CIFAR-10 (3x32x32), Fashion-MNIST
-- padded (1x32x32) and the 64x64 variant, the one shared dictionary tensor,
-- parameter counts (written out from the layer shapes), the game's steps
-- moving each player in its direction on a fixed batch, Strategy 2 = the
-- total derivative = Strategy 1's part (through g) + the part through f,
-- finite gradients, exact resume of a game, errors.
local sg = require "sgen"
local nn = sg.nn
local H = require "spec.helpers"
local cc = require "models.csc_ctrl"
local ctrl = require "sgen.ctrl"

local F64 = {dtype = "float64"}

local function maxabs(t) return t:abs():max():item() end

local function finite(t)
  local m = t:abs():max():item()
  return m == m and m < math.huge
end

local function shape(t) return table.concat(t:shape(), "x") end

-- counts from the layer shapes: dictionaries / convs c_in·c_out·16, BN 2·c
local function expected_count(nc, c, nz, size, kind)
  local ch = size == 32 and {nc, c, 2 * c, 4 * c, nz} or {nc, c, 2 * c, 4 * c, 8 * c, nz}
  local w, bn_f, bn_g = 0, 0, 0
  for i = 1, #ch - 1 do w = w + ch[i] * ch[i + 1] * 16 end
  for i = 3, #ch - 1 do bn_f = bn_f + 2 * ch[i] end -- after every CSC but the first and last
  for i = 2, #ch - 1 do bn_g = bn_g + 2 * ch[i] end -- after every CSC-inv but the last
  return (kind == "csc" and w or 2 * w) + bn_f + bn_g
end

describe("models.csc_ctrl", function()
  it("shapes: CIFAR-10 (3x32x32), Fashion-MNIST (1x32x32), 64x64; unit features", function()
    sg.manual_seed(1)
    for _, case in ipairs({{nc = 3, S = 32}, {nc = 1, S = 32}, {nc = 3, S = 64}}) do
      for _, C in ipairs({cc.CSCCTRL, cc.CTRL}) do
        local net = C({nc = case.nc, image_size = case.S, width = 1 / 16})
        local nz = case.S == 32 and 32 or 64
        assert.equal(nz, net.nz)
        local x = sg.rand(3, case.nc, case.S, case.S) * 2 - 1
        local Z, xh, Zh = net(x)
        assert.equal("3x" .. nz, shape(Z))
        assert.equal(shape(x), shape(xh))
        assert.equal("3x" .. nz, shape(Zh))
        H.assert_close(Z:norm(2, 2), sg.ones(3), 1e-5, "unit rows")
        assert.is_true(maxabs(xh) < 1) -- tanh
        assert.equal(shape(xh), shape(net.g(Z:view(3, nz, 1, 1)))) -- N x nz x 1 x 1 too
      end
    end
    -- nz can be set; width scales every layer
    local net = cc.CSCCTRL({width = 0.125, nz = 20})
    assert.equal(20, net.f(sg.randn(2, 3, 32, 32)):size(2))
    assert.same({8, 3, 4, 4}, net:dictionaries()[1]:shape())
    assert.same({20, 32, 4, 4}, net:dictionaries()[4]:shape())
  end)

  it("the paper's layers: CSC strides/paddings, BN and activations (Tables 2/3)", function()
    local net = cc.CSCCTRL()
    local f, g = net.f.main, net.g.main
    local names = {}
    for i = 1, #f do names[i] = getmetatable(f[i]).__name end
    assert.same({"CSC", "LeakyReLU", "CSC", "BatchNorm2d", "LeakyReLU", "CSC", "BatchNorm2d",
      "LeakyReLU", "CSC"}, names)
    names = {}
    for i = 1, #g do names[i] = getmetatable(g[i]).__name end
    assert.same({"CSCDecoder", "BatchNorm2d", "ReLU", "CSCDecoder", "BatchNorm2d", "ReLU",
      "CSCDecoder", "BatchNorm2d", "ReLU", "CSCDecoder", "Tanh"}, names)
    local L = net.csc_layers
    assert.equal(4, #L)
    for i, want in ipairs({{3, 64, 2, 1}, {64, 128, 2, 1}, {128, 256, 2, 1}, {256, 512, 1, 0}}) do
      assert.same(want, {L[i].in_channels, L[i].atoms, L[i].stride[1], L[i].padding[1]})
      assert.equal(0.01, L[i].lambda)
      assert.equal(2, L[i].iters)
    end
    -- the decoder uses them in reverse order
    for i = 1, 4 do assert.is_true(rawequal(g[3 * (i - 1) + 1].csc, L[5 - i])) end
    assert.equal(0.2, f[2].negative_slope)
  end)

  it("one dictionary tensor per CSC layer, shared by f and g; a step through g moves f", function()
    sg.manual_seed(2)
    local net = cc.CSCCTRL({width = 1 / 16})
    local fp, gp = net.f:parameters(), net.g:parameters()
    for i, W in ipairs(net:dictionaries()) do
      local in_f, in_g = false, false
      for _, p in ipairs(fp) do in_f = in_f or rawequal(p, W) end
      for _, p in ipairs(gp) do in_g = in_g or rawequal(p, W) end
      assert.is_true(in_f and in_g, "dictionary " .. i)
    end
    -- the model lists each once
    assert.equal(#fp + #gp - 4, #net:parameters())
    local W1 = net:dictionaries()[1]
    local before = W1:clone()
    local opt = sg.optim.SGD(gp, {lr = 0.1})
    net.g(sg.randn(4, 32)):pow(2):sum():backward()
    opt:step()
    assert.is_true(maxabs(W1 - before) > 0)
    assert.is_true(rawequal(net.f.main[1].weight, W1))
    H.assert_equal_tensors(net.f.main[1].weight, net.g.main[10].csc.weight, "one tensor")
    -- the baseline's decoder has its own weights
    local base = cc.CTRL({width = 1 / 16})
    for _, p in ipairs(base.g:parameters()) do
      for _, q in ipairs(base.f:parameters()) do assert.is_false(rawequal(p, q)) end
    end
  end)

  it("parameter counts", function()
    local cases = {
      {{}, 3, 64, 512, 32, 2757248, 5512832},
      {{nc = 1}, 1, 64, 512, 32, 2755200, 5508736},
      {{image_size = 64}, 3, 64, 1024, 64, 11147904, 22292096},
      {{width = 0.5}, 3, 32, 256, 32, nil, nil},
    }
    for _, c in ipairs(cases) do
      local a = cc.CSCCTRL(c[1]):num_parameters()
      local b = cc.CTRL(c[1]):num_parameters()
      assert.equal(expected_count(c[2], c[3], c[4], c[5], "csc"), a)
      assert.equal(expected_count(c[2], c[3], c[4], c[5], "conv"), b)
      if c[6] then assert.equal(c[6], a) assert.equal(c[7], b) end
    end
  end)

  it("state_dict: the shared dictionaries under f and g; save -> load round trip", function()
    sg.manual_seed(3)
    local net = cc.CSCCTRL({width = 1 / 16})
    local sd = net:state_dict()
    assert.is_not_nil(sd["f.main.0.weight"])
    assert.is_not_nil(sd["g.main.9.csc.weight"])
    assert.is_not_nil(sd["f.main.0.power_L"])
    local x = sg.randn(4, 3, 32, 32)
    net(x)
    local path = H.tmpname(".safetensors")
    sg.save(path, net:state_dict())
    local other = cc.CSCCTRL({width = 1 / 16})
    other:load_state_dict(sg.load(path))
    os.remove(path)
    net:eval() other:eval()
    local Z1, X1 = net(x)
    local Z2, X2 = other(x)
    H.assert_equal_tensors(Z1, Z2, "Z")
    H.assert_equal_tensors(X1, X2, "X̂")
  end)

  it("set_lambda changes every CSC layer (denoising at inference)", function()
    local net = cc.CSCCTRL({width = 1 / 16})
    net:set_lambda(0.3)
    for _, l in ipairs(net.csc_layers) do assert.equal(0.3, l.lambda) end
    assert.has_error(function() cc.CTRL({width = 1 / 16}):set_lambda(0.1) end,
      "models.csc_ctrl: CTRL: set_lambda: the CTRL baseline has no CSC layers")
  end)

  it("raises errors for bad options and inputs", function()
    local E = "models.csc_ctrl: "
    assert.has_error(function() cc.CSCCTRL({image_size = 28}) end,
      E .. "CSCCTRL: option 'image_size' must be 32 or 64, got 28")
    assert.has_error(function() cc.CSCCTRL({ngf = 64}) end,
      E .. "CSCCTRL: unknown option 'ngf' (expected algorithm, image_size, iters, lambda, nc, "
      .. "normalize, nz, power_iters, refresh_every, width)")
    assert.has_error(function() cc.CTRL({lambda = 0.1}) end,
      E .. "CTRL: unknown option 'lambda' (expected image_size, nc, nz, width)")
    assert.has_error(function() cc.CSCCTRL({algorithm = "admm"}) end,
      E .. 'CSCCTRL: option \'algorithm\' must be "fista" or "ista", got "admm"')
    assert.has_error(function() cc.CSCCTRL({width = 0.001}) end,
      E .. "CSCCTRL: option 'width' 0.001 gives 0 channels (64·width must round to >= 1)")
    local net = cc.CSCCTRL({width = 1 / 16})
    assert.has_error(function() net.f(sg.randn(2, 3, 28, 28)) end,
      E .. "encoder: input is 2x3x28x28, expected N x 3 x 32 x 32")
    assert.has_error(function() net.g(sg.randn(2, 31)) end,
      E .. "decoder: input is 2x31x1x1, expected N x 32 (or N x 32 x 1 x 1)")
    assert.has_error(function() net.f(sg.randn(2, 3, 32, 32), {detach = true}) end,
      E .. "encoder: forward: unknown option 'detach' (expected detach_dictionary)")
  end)
end)

describe("sgen.ctrl.Game", function()
  -- a fixed float64 batch, L held fixed (refresh_every large) so that the
  -- objective is the function the gradient differentiates
  local function setup(C, seed, opts)
    sg.manual_seed(seed)
    local mopts = {width = 1 / 16}
    if C == cc.CSCCTRL then mopts.refresh_every = 1000 end
    local net = C(mopts):double()
    local x = (sg.randn(8, 3, 32, 32, F64) * 0.5):tanh()
    return net, x, ctrl.Game(net.f, net.g, opts)
  end

  it("the max step increases the objective on its batch, the min step decreases it", function()
    for _, C in ipairs({cc.CSCCTRL, cc.CTRL}) do
      for _, strategy in ipairs({2, 1}) do
        for _, labels in ipairs({false, {1, 2, 1, 2, 1, 2, 1, 2}}) do
          local what = C.__name .. " strategy " .. strategy .. (labels and " labels" or "")
          local net, x, game = setup(C, 4, {lr = 1e-4, strategy = strategy})
          local lab = labels or nil
          local before = game:objective(x, lab):item()
          local fW, gW = {}, {}
          for i, p in ipairs(net.f:parameters()) do fW[i] = p:clone() end
          local tmax = game:max_step(x, lab)
          assert.equal(before, tmax.total) -- the terms are those before the update
          local mid = game:objective(x, lab):item()
          assert.is_true(mid > before, what .. ": max step " .. before .. " -> " .. mid)
          local moved = false
          for i, p in ipairs(net.f:parameters()) do moved = moved or maxabs(p - fW[i]) > 0 end
          assert.is_true(moved)
          for _, p in ipairs(net.g:parameters()) do gW[#gW + 1] = p:clone() end
          local tmin = game:min_step(x, lab)
          assert.equal(mid, tmin.total)
          local after = game:objective(x, lab):item()
          assert.is_true(after < mid, what .. ": min step " .. mid .. " -> " .. after)
          for i, p in ipairs(net.g:parameters()) do
            assert.is_true(maxabs(p - gW[i]) > 0, what .. ": decoder parameter " .. i)
          end
          -- the terms add up
          H.assert_close(sg.tensor(tmin.total, F64),
            sg.tensor(tmin.delta_R_Z + tmin.delta_R_Zhat + tmin.delta_R_pairs, F64), 1e-12, "terms")
          if not labels then assert.equal(0, tmin.delta_R_Z) end
        end
      end
    end
  end)

  it("strategy 2's min-step gradient is the total derivative: strategy 1's (through g) + the part through f", function()
    local function dict_grads(net, game, x, patch_g)
      local saved = {}
      if patch_g then -- g's uses of the dictionaries held constant
        for i = 1, #net.g.main do
          local m = net.g.main[i]
          if getmetatable(m).__name == "CSCDecoder" then
            saved[#saved + 1] = m
            m.forward = function(self, z)
              local c = self.csc
              return sg.F.conv_transpose2d(z, c.weight:detach(), nil, {stride = c.stride,
                padding = c.padding})
            end
          end
        end
      end
      for _, p in ipairs(net:parameters()) do p.grad = nil end
      local total = game:objective(x, nil, "min")
      total:backward()
      for _, m in ipairs(saved) do m.forward = nil end
      local out = {}
      for i, W in ipairs(net:dictionaries()) do out[i] = W.grad:clone() end
      return out
    end
    local net, x = setup(cc.CSCCTRL, 5)
    local g2 = dict_grads(net, ctrl.Game(net.f, net.g, {strategy = 2}), x)
    local g1 = dict_grads(net, ctrl.Game(net.f, net.g, {strategy = 1}), x)
    local gf = dict_grads(net, ctrl.Game(net.f, net.g, {strategy = 2}), x, true)
    for i = 1, 4 do
      assert.is_true(maxabs(g1[i] - g2[i]) > 0, "strategies differ, layer " .. i)
      H.assert_close(g1[i] + gf[i], g2[i], 1e-9, "layer " .. i)
      for _, g in ipairs({g1[i], g2[i], gf[i]}) do
        assert.is_true(finite(g))
      end
    end
    -- for the baseline (separate parameters) both strategies give g the same gradients
    local base, xb = setup(cc.CTRL, 6)
    local grads = {}
    for s = 1, 2 do
      local game = ctrl.Game(base.f, base.g, {strategy = s})
      for _, p in ipairs(base:parameters()) do p.grad = nil end
      game:objective(xb, nil, "min"):backward()
      grads[s] = {}
      for i, p in ipairs(base.g:parameters()) do grads[s][i] = p.grad:clone() end
    end
    for i = 1, #grads[1] do H.assert_close(grads[1][i], grads[2][i], 1e-12, "baseline " .. i) end
  end)

  it("gradients are finite in float32 at the default settings; step() runs n_max max steps", function()
    sg.manual_seed(7)
    local net = cc.CSCCTRL({width = 1 / 16})
    local game = ctrl.Game(net.f, net.g, {n_max = 2})
    local x = sg.rand(6, 3, 32, 32) * 2 - 1
    local terms = game:step(x)
    assert.equal(2, #terms.max)
    for _, t in ipairs({terms.max[1], terms.max[2], terms.min}) do
      for _, k in ipairs(ctrl.TERMS) do assert.is_true(t[k] == t[k] and math.abs(t[k]) < math.huge, k) end
    end
    for _, p in ipairs(net:parameters()) do
      if p.grad then assert.is_true(finite(p.grad)) end
    end
    assert.equal(2e-4, game.opt_max.param_groups[1].lr)
    assert.same({0, 0.9}, game.opt_min.param_groups[1].betas)
    assert.is_true(game.opt_max.param_groups[1].maximize)
  end)

  it("resumes bitwise: model and both optimizers saved after k rounds", function()
    local function fresh() sg.manual_seed(8) local n = cc.CSCCTRL({width = 1 / 16}) return n, ctrl.Game(n.f, n.g) end
    local xs = {}
    sg.manual_seed(9)
    for i = 1, 4 do xs[i] = sg.rand(4, 3, 32, 32) * 2 - 1 end
    local a, ga = fresh()
    for i = 1, 2 do ga:step(xs[i]) end
    local path = H.tmpname(".safetensors")
    sg.save(path, a:state_dict())
    local oa, ob = ga.opt_max:state_dict(), ga.opt_min:state_dict()
    local b, gb = fresh()
    b:load_state_dict(sg.load(path))
    os.remove(path)
    gb.opt_max:load_state_dict(oa)
    gb.opt_min:load_state_dict(ob)
    for i = 3, 4 do
      local ta, tb = ga:step(xs[i]), gb:step(xs[i])
      assert.equal(ta.min.total, tb.min.total)
      assert.equal(ta.max[1].total, tb.max[1].total)
    end
    for i, p in ipairs(a:parameters()) do H.assert_equal_tensors(p, b:parameters()[i], "param " .. i) end
  end)

  it("raises errors for bad options", function()
    local net = cc.CSCCTRL({width = 1 / 16})
    local E = "sgen.ctrl: Game: "
    assert.has_error(function() ctrl.Game(net.f, net.g, {strategy = 3}) end,
      E .. "option 'strategy' must be 1 or 2, got 3")
    assert.has_error(function() ctrl.Game(net.f, net.g, {lr = 0}) end,
      E .. "option 'lr' must be a positive number, got 0")
    assert.has_error(function() ctrl.Game(net.f, net.g, {n_max = 0}) end,
      E .. "option 'n_max' must be a positive integer, got 0")
    assert.has_error(function() ctrl.Game(net.f, net.g, {eps = 0.5}) end,
      E .. "unknown option 'eps' (expected strategy, lr, lr_max, lr_min, betas, eps2, n_max, "
      .. "normalize, params_max, params_min)")
    assert.has_error(function() ctrl.Game(net.f, {}) end,
      E .. "argument 2 (g) expected an nn module, got table")
    local game = ctrl.Game(net.f, net.g)
    assert.has_error(function() game:step(sg.randn(1, 3, 32, 32)) end,
      "sgen.ctrl: step: the batch needs at least 2 samples, got 1")
    assert.has_error(function() game:step(sg.randn(3, 32, 32)) end,
      "sgen.ctrl: step: X must be a batch of images N x C x H x W, got 3 dims")
  end)
end)
