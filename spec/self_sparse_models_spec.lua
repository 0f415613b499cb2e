-- Self-Sparse GAN (models/self_sparse.lua): the generator with an nn.SASTM
-- after every deconvolution, its sparse rates, the critic; and
-- sg.gan's zero-centred gradient penalty and optimizer settings for Self-Sparse GAN and SPGAN.
local sg = require "sgen"
local H = require "spec.helpers"
local self_sparse = require "models.self_sparse"
local dcgan = require "models.dcgan"
local P = sg.gan

local function count(params)
  local n = 0
  for _, p in ipairs(params) do n = n + p:numel() end
  return n
end

local function classes(seq)
  local out = {}
  for i = 1, #seq do out[i] = getmetatable(seq[i]).__name end
  return out
end

describe("models.self_sparse", function()
  it("maps z to N x nc x size x size for sizes 32, 64, 128, with T = log2(size) - 1 SASTMs", function()
    sg.manual_seed(1)
    for size, T in pairs({[32] = 4, [64] = 5, [128] = 6}) do
      local G = self_sparse.Generator({nz = 6, ngf = 2, nc = 1, size = size})
      assert.equal(T, G.stages)
      local z = sg.randn(2, 6)
      local x, feats = G(z, {return_features = true})
      assert.same({2, 1, size, size}, x:shape())
      assert.is_true(x:abs():max():item() < 1)
      H.assert_close(G(z:view(2, 6, 1, 1)), x, 0, "z as N x nz x 1 x 1")
      assert.equal(T, #feats)
      for t = 1, T do
        local hw = 2 ^ (t + 1)
        local c = t == T and 1 or 2 * 2 ^ (T - 1 - t)
        assert.same({2, math.tointeger(c), math.tointeger(hw), math.tointeger(hw)}, feats[t]:shape(), "stage " .. t)
        local s = G:sastms()[t]
        assert.same({math.tointeger(c), math.tointeger(hw), math.tointeger(hw), 6},
          {s.channels, s.height, s.width, s.z_dim})
      end
      local D = self_sparse.Critic({ndf = 2, nc = 1, size = size})
      assert.same({2}, D(x):shape())
    end
  end)

  it("places Deconv -> SASTM -> BN -> ReLU in every stage and Deconv -> SASTM -> Tanh last", function()
    local G = self_sparse.Generator({nz = 4, ngf = 2, nc = 3, size = 32})
    assert.same({"ConvTranspose2d", "SASTM", "BatchNorm2d", "ReLU",
      "ConvTranspose2d", "SASTM", "BatchNorm2d", "ReLU",
      "ConvTranspose2d", "SASTM", "BatchNorm2d", "ReLU",
      "ConvTranspose2d", "SASTM", "Tanh"}, classes(G.main))
    -- recompute the forward by hand: z feeds every SASTM
    sg.manual_seed(2)
    G:eval()
    local z = sg.randn(3, 4)
    local m, h = G.main, z:view(3, 4, 1, 1)
    for i = 1, #m do
      if getmetatable(m[i]).__name == "SASTM" then h = m[i](h, z) else h = m[i](h) end
    end
    H.assert_close(G(z), h, 0, "by hand")
    -- the widths at size 32 are DCGAN's
    local dg = dcgan.Generator({nz = 4, ngf = 2, nc = 3})
    for _, i in ipairs({1, 5, 9, 13}) do
      assert.same(dg.main[({1, 4, 7, 10})[(i + 3) // 4]].weight:shape(), m[i].weight:shape())
    end
  end)

  it("sends gradients to every parameter; csm = false / psm = false drop the heads", function()
    sg.manual_seed(3)
    for _, o in ipairs({{}, {csm = false}, {psm = false}}) do
      local G = self_sparse.Generator({nz = 6, ngf = 4, nc = 1, size = 32, csm = o.csm, psm = o.psm, hidden = 5})
      local x = G(sg.randn(4, 6))
      ;(x * sg.randn(4, 1, 32, 32)):sum():backward()
      local names = {}
      for name, p in G:named_parameters() do
        names[name] = true
        assert.is_not_nil(p.grad, name)
        assert.is_true(p.grad:abs():sum():item() > 0, name)
      end
      assert.equal(o.csm ~= false, names["main.1.g1.weight"] == true)
      assert.equal(o.psm ~= false, names["main.1.g2.weight"] == true)
      assert.same({5, 6}, G.main[2].f.weight:shape())
    end
  end)

  it("reports per-stage ξ̄, ζ and Eq. 15's average", function()
    sg.manual_seed(4)
    local G = self_sparse.Generator({nz = 8, ngf = 4, nc = 1, size = 64})
    assert.matches("no forward has run yet", H.error_message(function() G:sparse_rates() end))
    G(sg.randn(5, 8))
    local r = G:sparse_rates()
    assert.equal(5, #r.stages)
    local s, zs = 0, 0
    for t, st in ipairs(r.stages) do
      local own = G:sastms()[t]:sparse_rates()
      assert.equal(own.xi_mean, st.xi_mean)
      assert.equal(own.zeta, st.zeta)
      assert.equal(2 ^ (t + 1), st.size)
      assert.is_true(st.xi_mean >= 0 and st.xi_mean <= 1)
      s, zs = s + st.xi_mean, zs + st.zeta
      print(string.format("  stage %d (%d ch, %dx%d): xi %.3f zeta %.3f", t, st.channels, st.size, st.size,
        st.xi_mean, st.zeta))
    end
    assert.near(s / 5, r.xi_bar, 1e-12)
    assert.near(zs / 5, r.zeta_mean, 1e-12)
    assert.near(sg.nn.SASTM.average_position_sparsity(G), r.xi_bar, 1e-12)
  end)

  it("Critic: no BatchNorm, DCGAN's Critic at size 32, one more stride-2 conv per doubling", function()
    sg.manual_seed(5)
    local C, D = self_sparse.Critic({ndf = 4, nc = 3}), dcgan.Critic({ndf = 4, nc = 3})
    local a, b = C:state_dict(), D:state_dict()
    for k, v in pairs(b) do assert.same(v:shape(), a[k]:shape(), k) end
    for k in pairs(a) do assert.is_not_nil(b[k], k) end
    C:load_state_dict(b)
    local x = sg.randn(2, 3, 32, 32)
    H.assert_close(C(x), D(x), 1e-6, "same critic")
    for _, size in ipairs({64, 128}) do
      local K = self_sparse.Critic({ndf = 2, nc = 1, size = size})
      for i = 1, #K.main do assert.is_true(getmetatable(K.main[i]).__name ~= "BatchNorm2d") end
      local convs = 0
      for i = 1, #K.main do if getmetatable(K.main[i]).__name == "Conv2d" then convs = convs + 1 end end
      assert.equal(size == 64 and 5 or 6, convs)
    end
  end)

  it("prints its parameter counts at the default widths (nz = 100, ngf = ndf = 64)", function()
    local seen = {}
    for _, size in ipairs({32, 64}) do
      for _, nc in ipairs({1, 3}) do
        local G = self_sparse.Generator({nc = nc, size = size})
        local D = self_sparse.Critic({nc = nc, size = size})
        local nG, nD = count(G:parameters()), count(D:parameters())
        local ns = 0
        for _, s in ipairs(G:sastms()) do ns = ns + count(s:parameters()) end
        print(string.format("  Self-Sparse size %d nc %d: G %d (SASTMs %d), Critic %d", size, nc, nG, ns, nD))
        seen[size .. "/" .. nc] = {nG, ns, nD}
      end
    end
    -- at size 32, G = DCGAN's generator + the SASTMs
    local dg = dcgan.Generator({nc = 3})
    assert.equal(count(dg:parameters()), seen["32/3"][1] - seen["32/3"][2])
    -- SASTM at (C, H, W): f 100x100 + 100, g1 100 C + C, g2 100 HW + HW
    local function sastm(C, hw) return 100 * 100 + 100 + 100 * C + C + 100 * hw * hw + hw * hw end
    assert.equal(sastm(256, 4) + sastm(128, 8) + sastm(64, 16) + sastm(3, 32), seen["32/3"][2])
    assert.equal(seen["32/3"][3], count(dcgan.Critic({nc = 3}):parameters()))
  end)

  it("rejects bad options and inputs", function()
    local function err(f) return H.error_message(f) end
    assert.matches("option 'size' must be 32, 64 or 128, got 48", err(function() self_sparse.Generator({size = 48}) end))
    assert.matches("option 'size' must be 32, 64 or 128", err(function() self_sparse.Critic({size = 16}) end))
    assert.matches("csm = false and psm = false",
      err(function() self_sparse.Generator({csm = false, psm = false}) end))
    assert.matches("option 'csm' must be true or false", err(function() self_sparse.Generator({csm = 0}) end))
    assert.matches("unknown option 'ndf'", err(function() self_sparse.Generator({ndf = 4}) end))
    assert.matches("option 'hidden' must be a positive integer", err(function() self_sparse.Generator({hidden = 0}) end))
    local G = self_sparse.Generator({nz = 4, ngf = 2, nc = 1})
    assert.matches("z is 2x5x1x1, expected N x 4", err(function() G(sg.randn(2, 5)) end))
    assert.matches("unknown option 'return_gamma'", err(function() G(sg.randn(2, 4), {return_gamma = true}) end))
    local D = self_sparse.Critic({ndf = 2, nc = 1, size = 64})
    assert.matches("input is 1x1x32x32, expected N x 1 x 64 x 64", err(function() D(sg.randn(1, 1, 32, 32)) end))
  end)
end)

describe("sg.gan: zero-centred penalty, self-sparse / spgan settings", function()
  -- a linear critic D(x) = <w, x> per sample: ∇_x D = w everywhere
  local function linear_critic(w)
    return function(x) return (x * w):reshape(x:size(1), -1):sum(2) end
  end

  it("center = 0 is λ·mean ||∇D(x̂)||², center = 1 is the WGAN-GP penalty", function()
    sg.manual_seed(6)
    local w = sg.randn(1, 2, 3, 3)
    local real, fake = sg.randn(4, 2, 3, 3), sg.randn(4, 2, 3, 3)
    local sq = (w * w):sum():item()
    local gp0, norms = P.zero_centered_gradient_penalty(linear_critic(w), real, fake, {lambda = 3})
    assert.near(3 * sq, gp0:item(), 1e-4 * sq)
    H.assert_close(norms, sg.full({4}, math.sqrt(sq)), 1e-4, "norms")
    local gpc = P.gradient_penalty(linear_critic(w), real, fake, {lambda = 3, center = 0})
    assert.near(gp0:item(), gpc:item(), 1e-6)
    -- center = 1 (the default) is λ·mean (||∇D(x̂)|| − 1)²: (sqrt(sq) − 1)² for the linear critic
    local gp1 = P.gradient_penalty(linear_critic(w), real, fake, {lambda = 3})
    assert.near(3 * (math.sqrt(sq) - 1) ^ 2, gp1:item(), 1e-4 * sq)
    local gp2 = P.gradient_penalty(linear_critic(w), real, fake, {lambda = 3, center = 2})
    assert.near(3 * (math.sqrt(sq) - 2) ^ 2, gp2:item(), 1e-4 * sq)
  end)

  it("differentiates to D's parameters, and no gradient reaches G", function()
    sg.manual_seed(7)
    local D = self_sparse.Critic({ndf = 2, nc = 1})
    local G = self_sparse.Generator({nz = 4, ngf = 2, nc = 1})
    local fake = G(sg.randn(3, 4))
    local gp = P.zero_centered_gradient_penalty(D, sg.randn(3, 1, 32, 32), fake)
    gp:backward()
    -- the weights (the biases do not enter ∇_x D of a piecewise-linear critic)
    for name, p in D:named_parameters() do
      if name:match("weight$") then assert.is_not_nil(p.grad, name) end
    end
    for _, p in ipairs(G:parameters()) do assert.is_nil(p.grad) end
    -- gradcheck of the zero-centred penalty w.r.t. a linear critic's weights
    local real64, fake64 = sg.randn(2, 1, 2, 2, {dtype = "float64"}), sg.randn(2, 1, 2, 2, {dtype = "float64"})
    local e = sg.rand(2, {dtype = "float64"})
    H.gradcheck(function(w)
      local f = function(x) return ((x * w):reshape(x:size(1), -1):sum(2)) ^ 2 end
      -- enable_grad: the finite differences may run under no_grad
      return sg.enable_grad(function() return (P.zero_centered_gradient_penalty(f, real64, fake64, {eps = e})) end)
    end, {sg.randn(1, 1, 2, 2, {dtype = "float64"}):requires_grad_()})
  end)

  it("optimizer_settings: self-sparse (G 1e-4, D 3e-4, (0.5, 0.999), 2 D steps), spgan, sg.gan's kinds", function()
    assert.same({lr_g = 1e-4, lr_d = 3e-4, betas = {0.5, 0.999}, n_critic = 2, gp_lambda = 10, gp_center = 0},
      P.optimizer_settings("self-sparse"))
    local s = P.optimizer_settings("spgan")
    assert.same({lr = 1e-4, lr_g = 1e-4, lr_d = 1e-4, betas = {0, 0.9}, n_critic = 5, gp_lambda = 10, gp_center = 1}, s)
    assert.equal(2e-4, P.optimizer_settings("dcgan").lr_g)
    local G, D = self_sparse.Generator({nz = 4, ngf = 2, nc = 1}), self_sparse.Critic({ndf = 2, nc = 1})
    local oG, oD = P.optimizers("self-sparse", G, D)
    assert.is_not_nil(oG); assert.is_not_nil(oD)
    assert.matches("or \"self%-sparse\", got \"wgan\"", H.error_message(function() P.optimizer_settings("wgan") end))
    assert.matches("unknown option 'centre'", H.error_message(function()
      P.gradient_penalty(D, sg.randn(1, 1, 32, 32), sg.randn(1, 1, 32, 32), {centre = 0}) end))
    assert.matches("option 'center' is fixed at 0", H.error_message(function()
      P.zero_centered_gradient_penalty(D, sg.randn(1, 1, 32, 32), sg.randn(1, 1, 32, 32), {center = 1}) end))
    assert.matches("option 'center' must be a finite number >= 0", H.error_message(function()
      P.gradient_penalty(D, sg.randn(1, 1, 32, 32), sg.randn(1, 1, 32, 32), {center = -1}) end))
  end)
end)
