-- The sparsity-regularized GANs (Ganz & Elad): models/dcgan.lua's Generator
-- with sparsity options, MLCSCGenerator and Critic; sg.gan's losses and
-- gradient penalty. References: spec/fixtures/gan.safetensors, made by
-- tools/make_gan_fixture.py (the same networks in PyTorch, the l0inf
-- projection as topk of |Γ| per needle).
local sg = require "sgen"
local H = require "spec.helpers"
local dcgan = require "models.dcgan"
local gan = sg.gan

local function keys_with_prefix(t, prefix)
  local out = {}
  for k, v in pairs(t) do
    if k:sub(1, #prefix) == prefix then out[k:sub(#prefix + 1)] = v end
  end
  return out
end

local function sorted_keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

local function sparse_opts(s, extra)
  local o = {sparsity = s}
  if s == "l1" then o.l1_weight = 0.5 elseif s == "l0" then o.k = 0.1 elseif s == "l0inf" then o.k = 2 end
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local SPARSITIES = {"none", "l1", "l0", "l0inf"}

-- non-zeros per needle (N x C x H x W -> N x H x W) and per sample (N)
local function nnz_needles(g) return g:ne(0):float():sum(2) end
local function nnz_samples(g) return g:ne(0):float():reshape(g:size(1), -1):sum(2) end

-- G_S's output (Γ before the projection), from the first 9 modules of main
local function gamma_before_projection(G, z)
  local h = z:view(z:size(1), z:size(2), 1, 1)
  for i = 1, 9 do h = G.main[i](h) end
  return h
end

describe("models.dcgan sparse GANs", function()
  it("map z to N x nc x 32 x 32 and return Γ on request, for nc = 1 and 3 and every sparsity", function()
    sg.manual_seed(1)
    for _, nc in ipairs({1, 3}) do
      for _, s in ipairs(SPARSITIES) do
        local G = dcgan.Generator(sparse_opts(s, {nz = 10, ngf = 8, nc = nc}))
        local z = sg.randn(3, 10)
        local x, gammas = G(z, {return_gamma = true})
        assert.same({3, nc, 32, 32}, x:shape(), s)
        assert.equal(1, #gammas)
        assert.same({3, 8, 16, 16}, gammas[1]:shape())
        assert.same({3, nc, 32, 32}, G(z):shape())
        local M = dcgan.MLCSCGenerator(sparse_opts(s, {nz = 10, ngf = 8, nc = nc}))
        local x2, g2 = M(z, {return_gamma = true})
        assert.same({3, nc, 32, 32}, x2:shape(), s)
        assert.equal(2, #g2)
        assert.same({3, 8, 16, 16}, g2[1]:shape())
        assert.same({3, 8, 16, 16}, g2[2]:shape())
        assert.is_true(x2:abs():max():item() < 1)
      end
      assert.same({4}, dcgan.Critic({ndf = 4, nc = nc})(sg.randn(4, nc, 32, 32)):shape())
    end
  end)

  it("Γ is the input of the last layer: x = tanh(ConvT(Γ)) (and D1(Γ1), Γ1 = proj(D2 Γ2) for ML-CSC)", function()
    sg.manual_seed(2)
    local G = dcgan.Generator({nz = 10, ngf = 8, sparsity = "l0inf", k = 3})
    G:eval()
    local z = sg.randn(2, 10)
    local x, g = G(z, {return_gamma = true})
    H.assert_close(G.main[11](G.main[10](g[1])), x, 1e-6, "tanh(ConvT(Γ))")
    H.assert_close(G(z), x, 0, "G(z) without Γ")
    local M = dcgan.MLCSCGenerator({nz = 10, ngf = 8, sparsity = "l0inf", k = 3})
    M:eval()
    local x2, g2 = M(z, {return_gamma = true})
    H.assert_close(M.main[12](M.main[11](g2[1])), x2, 1e-6, "tanh(D1 Γ1)")
    H.assert_close(sg.sparse.l0inf_project(M.main[10](g2[2]), 3), g2[1], 1e-6, "Γ1 = proj(D2 Γ2)")
  end)

  it("have PyTorch's parameter counts; the state_dict does not depend on the sparsity", function()
    local fx = H.fixture("gan")
    local function n(c, o) return c(o):num_parameters() end
    assert.equal(fx["params.G128c3"]:item(), n(dcgan.Generator, {ngf = 128, nc = 3, sparsity = "l0inf", k = 8}))
    assert.equal(fx["params.G64c1"]:item(), n(dcgan.Generator, {ngf = 64, nc = 1}))
    assert.equal(fx["params.M128c3"]:item(), n(dcgan.MLCSCGenerator, {ngf = 128, nc = 3}))
    assert.equal(fx["params.M64c1"]:item(), n(dcgan.MLCSCGenerator, {ngf = 64, nc = 1, sparsity = "l0", k = 0.1}))
    assert.equal(fx["params.C64c3"]:item(), n(dcgan.Critic, {ndf = 64, nc = 3}))
    assert.equal(fx["params.C64c1"]:item(), n(dcgan.Critic, {ndf = 64, nc = 1}))
    assert.equal(3448576, n(dcgan.Generator, {ngf = 128}))
    assert.equal(3596032, n(dcgan.MLCSCGenerator, {ngf = 128}))
    assert.equal(662977, n(dcgan.Critic, {}))
    local plain = sorted_keys(dcgan.Generator({ngf = 4}):state_dict())
    for _, s in ipairs(SPARSITIES) do
      assert.same(plain, sorted_keys(dcgan.Generator(sparse_opts(s, {ngf = 4})):state_dict()), s)
    end
    assert.same(sorted_keys(keys_with_prefix(fx, "G.sd.")),
      sorted_keys(dcgan.Generator({nz = 8, ngf = 4, sparsity = "l0inf", k = 2}):state_dict()))
    assert.same(sorted_keys(keys_with_prefix(fx, "M.sd.")),
      sorted_keys(dcgan.MLCSCGenerator({nz = 8, ngf = 4, nc = 1}):state_dict()))
    assert.same(sorted_keys(keys_with_prefix(fx, "C.sd.")), sorted_keys(dcgan.Critic({ndf = 4, nc = 1}):state_dict()))
  end)

  it("compute what the PyTorch twins compute with the l0inf projection: x, Γ, gradients", function()
    local fx = H.fixture("gan")
    local nets = {
      G = dcgan.Generator({nz = 8, ngf = 4, nc = 3, sparsity = "l0inf", k = 2}),
      M = dcgan.MLCSCGenerator({nz = 8, ngf = 4, nc = 1, sparsity = "l0inf", k1 = 1, k2 = 2}),
    }
    for prefix, net in pairs(nets) do
      net:load_state_dict(keys_with_prefix(fx, prefix .. ".sd."))
      local x, gammas = net(fx[prefix .. ".z"], {return_gamma = true})
      H.assert_close(x, fx[prefix .. ".x"], 1e-5, prefix .. ".x")
      for i, g in ipairs(gammas) do
        H.assert_close(g, fx[prefix .. ".gamma" .. i], 1e-5, prefix .. ".gamma" .. i)
      end
      assert.equal(prefix == "G" and 1 or 2, #gammas)
      ;(x * fx[prefix .. ".r"]):sum():backward()
      local n = 0
      for name, p in net:named_parameters() do
        local ref = fx[prefix .. ".grad." .. name]
        assert.is_not_nil(ref, prefix .. " " .. name)
        H.assert_close(p.grad, ref, 1e-4 * (1 + ref:abs():max():item()), prefix .. ".grad." .. name)
        n = n + 1
      end
      assert.equal(prefix == "G" and 10 or 11, n)
    end
  end)

  it("l0inf keeps exactly k channels per needle of Γ, l0 exactly k entries per sample", function()
    sg.manual_seed(4)
    local z = sg.randn(3, 10)
    -- ML-CSC's Γ1 = proj(D2 Γ2) has no ReLU: every needle has more than k non-zeros before
    local M = dcgan.MLCSCGenerator({nz = 10, ngf = 16, sparsity = "l0inf", k1 = 3, k2 = 5})
    local _, g = M(z, {return_gamma = true})
    H.assert_equal_tensors(nnz_needles(g[1]), sg.full({3, 16, 16}, 3), "Γ1 needles")
    assert.is_true(nnz_needles(g[2]):max():item() <= 5)
    M = dcgan.MLCSCGenerator({nz = 10, ngf = 16, sparsity = "l0", k = 37})
    _, g = M(z, {return_gamma = true})
    H.assert_equal_tensors(nnz_samples(g[1]), sg.full({3}, 37), "Γ1 samples")
    M = dcgan.MLCSCGenerator({nz = 10, ngf = 16, sparsity = "l0", k = 0.1})
    _, g = M(z, {return_gamma = true})
    H.assert_equal_tensors(nnz_samples(g[1]), sg.full({3}, math.ceil(0.1 * 16 * 256)), "Γ1 fraction")
    -- DCGAN's Γ comes after a ReLU: min(k, the positive entries) survive
    for _, s in ipairs({"l0inf", "l0"}) do
      local k = s == "l0inf" and 3 or 200
      local G = dcgan.Generator({nz = 10, ngf = 16, sparsity = s, k = k})
      local _, gg = G(z, {return_gamma = true})
      local before = gamma_before_projection(G, z)
      local counts = s == "l0inf" and nnz_needles or nnz_samples
      H.assert_equal_tensors(counts(gg[1]), counts(before):clamp(nil, k), s)
      assert.is_true(counts(gg[1]):max():item() == k, s)
      assert.is_true(counts(before):max():item() > k, s)
    end
  end)

  it("sends gradients to every generator parameter through the projections and the L1 term", function()
    sg.manual_seed(5)
    for _, ctor in ipairs({dcgan.Generator, dcgan.MLCSCGenerator}) do
      for _, s in ipairs(SPARSITIES) do
        local G = ctor(sparse_opts(s, {nz = 10, ngf = 8}))
        local x, g = G(sg.randn(2, 10), {return_gamma = true})
        local loss = (x * sg.randn(2, 3, 32, 32)):sum() + G:sparsity_loss(g)
        loss:backward()
        for name, p in G:named_parameters() do
          assert.is_not_nil(p.grad, s .. " " .. name)
          assert.is_true(p.grad:abs():sum():item() > 0, s .. " " .. name)
        end
      end
    end
  end)

  it("sparsity_loss is l1_weight * sum of mean |Γi| for l1, 0 otherwise", function()
    sg.manual_seed(6)
    local z = sg.randn(2, 10)
    local G = dcgan.Generator({nz = 10, ngf = 8, sparsity = "l1", l1_weight = 0.25})
    local _, g = G(z, {return_gamma = true})
    local expect = 0.25 * g[1]:abs():sum():item() / g[1]:numel()
    H.assert_close(G:sparsity_loss(g), {expect}, 1e-6, "G l1")
    assert.is_true(expect > 0.01)
    -- only G_S's parameters get a gradient from it
    G:sparsity_loss(g):backward()
    assert.is_true(G.main[1].weight.grad:abs():sum():item() > 0)
    assert.is_nil(G.main[10].weight.grad)
    local M = dcgan.MLCSCGenerator({nz = 10, ngf = 8, sparsity = "l1", l1_weight = 2})
    local _, g2 = M(z, {return_gamma = true})
    local e2 = 2 * (g2[1]:abs():mean():item() + g2[2]:abs():mean():item())
    H.assert_close(M:sparsity_loss(g2), {e2}, 1e-5, "ML-CSC l1")
    for _, s in ipairs({"none", "l0", "l0inf"}) do
      local Gs = dcgan.Generator(sparse_opts(s, {nz = 10, ngf = 8}))
      local _, gs = Gs(z, {return_gamma = true})
      assert.equal(0, Gs:sparsity_loss(gs), s)
    end
    assert.has_error(function() G:sparsity_loss(g[1]) end,
      "models.dcgan: Generator: sparsity_loss: expected the list of 1 Γ tensor(s) returned by forward(z, {return_gamma = true}), got userdata")
    assert.has_error(function() M:sparsity_loss(g) end,
      "models.dcgan: MLCSCGenerator: sparsity_loss: expected the list of 2 Γ tensor(s) returned by forward(z, {return_gamma = true}), got a list of 1")
  end)

  it("effective_atoms() is D1 D2: the image of a unit Γ2 needle, ngf x nc x 8 x 8", function()
    sg.manual_seed(7)
    local M = dcgan.MLCSCGenerator({nz = 10, ngf = 6, nc = 3})
    local atoms = M:effective_atoms()
    assert.same({6, 3, 8, 8}, atoms:shape())
    local d1, d2 = M:atoms()
    assert.same({6, 3, 4, 4}, d1:shape())
    assert.same({6, 6, 3, 3}, d2:shape())
    -- unit needle e_j at Γ2 position (8, 8) (1-based); D2 spreads it over
    -- Γ1 rows 7..9, D1 over image rows 2*7-1-1 .. : an 8x8 window from 12
    for j = 1, 6 do
      local e = sg.zeros(1, 6, 16, 16)
      e:narrow(2, j, 1):narrow(3, 8, 1):narrow(4, 8, 1):fill_(1)
      local img = sg.no_grad(function() return M.main[11](M.main[10](e)) end)
      local win = img:narrow(3, 12, 8):narrow(4, 12, 8)
      H.assert_close(win, atoms:narrow(1, j, 1), 1e-6, "atom " .. j)
      H.assert_close(img:abs():sum(), win:abs():sum(), 1e-5, "support of atom " .. j)
    end
  end)

  it("Critic: no BatchNorm, conv biases zero at init, weights N(0, 0.02)", function()
    sg.manual_seed(8)
    local C = dcgan.Critic()
    for name, p in C:named_parameters() do
      if name:match("bias$") then
        assert.equal(0, p:abs():sum():item(), name)
      else
        assert.is_true(math.abs(p:std():item() - 0.02) < 2e-3, name)
      end
    end
    for _, m in ipairs({C.main[1], C.main[2], C.main[3], C.main[4], C.main[5], C.main[6], C.main[7]}) do
      assert.is_not.equal("BatchNorm2d", getmetatable(m).__name)
    end
    assert.equal(7, #C.main)
  end)

  it("reject bad options", function()
    local E = "models.dcgan: "
    assert.has_error(function() dcgan.Generator({sparsity = "l2"}) end,
      E .. 'Generator: option \'sparsity\' must be one of "none", "l1", "l0", "l0inf", got "l2"')
    assert.has_error(function() dcgan.Generator({sparsity = 1}) end,
      E .. 'Generator: option \'sparsity\' must be one of "none", "l1", "l0", "l0inf", got 1')
    assert.has_error(function() dcgan.Generator({k = 2}) end,
      E .. 'Generator: option \'k\' is for sparsity "l0" or "l0inf", not "none"')
    assert.has_error(function() dcgan.Generator({sparsity = "l1", l1_weight = 1, k = 2}) end,
      E .. 'Generator: option \'k\' is for sparsity "l0" or "l0inf", not "l1"')
    assert.has_error(function() dcgan.Generator({sparsity = "l1"}) end,
      E .. 'Generator: sparsity "l1" needs option \'l1_weight\' (the weight of mean |Γ| in G\'s loss)')
    assert.has_error(function() dcgan.Generator({sparsity = "l0inf", k = 2, l1_weight = 1}) end,
      E .. 'Generator: option \'l1_weight\' is for sparsity "l1", not "l0inf"')
    assert.has_error(function() dcgan.Generator({sparsity = "l1", l1_weight = -1}) end,
      E .. "Generator: option 'l1_weight' must be a positive number, got -1")
    assert.has_error(function() dcgan.Generator({sparsity = "l0inf"}) end,
      E .. 'Generator: sparsity "l0inf" needs option \'k\' (kept channels per needle of Γ)')
    assert.has_error(function() dcgan.Generator({sparsity = "l0"}) end,
      E .. 'Generator: sparsity "l0" needs option \'k\' (kept entries per sample of Γ, a count or a fraction)')
    assert.has_error(function() dcgan.Generator({ngf = 8, sparsity = "l0inf", k = 9}) end,
      E .. 'Generator: option \'k\' must be an integer in 1..8 for sparsity "l0inf" (kept channels per needle of Γ), got 9')
    assert.has_error(function() dcgan.Generator({ngf = 8, sparsity = "l0inf", k = 0.5}) end,
      E .. 'Generator: option \'k\' must be an integer in 1..8 for sparsity "l0inf" (kept channels per needle of Γ), got 0.5')
    assert.has_error(function() dcgan.Generator({ngf = 8, sparsity = "l0inf", k = 0}) end,
      E .. "Generator: option 'k' must be a positive number, got 0")
    assert.has_error(function() dcgan.Generator({ngf = 8, sparsity = "l0", k = 2049}) end,
      E .. 'Generator: option \'k\' must be a count in 1..2048 or a fraction in (0, 1] for sparsity "l0" (kept entries per sample of Γ), got 2049')
    assert.has_error(function() dcgan.Generator({ngf = 8, sparsity = "l0", k = 2.5}) end,
      E .. 'Generator: option \'k\' must be a count in 1..2048 or a fraction in (0, 1] for sparsity "l0" (kept entries per sample of Γ), got 2.5')
    assert.has_error(function() dcgan.Generator({ngf = 8, sparsity = "l0", k = "3"}) end,
      E .. "Generator: option 'k' must be a positive number, got 3")
    assert.has_error(function() dcgan.Generator({sparsity = "l0inf", k1 = 2}) end,
      E .. "Generator: unknown option 'k1' (expected k, l1_weight, nc, ngf, nz, sparsity)")
    assert.has_error(function() dcgan.MLCSCGenerator({ngf = 8, sparsity = "l0inf", k = 2, k2 = 9}) end,
      E .. 'MLCSCGenerator: option \'k2\' must be an integer in 1..8 for sparsity "l0inf" (kept channels per needle of Γ), got 9')
    assert.has_error(function() dcgan.MLCSCGenerator({sparsity = "l0inf", k1 = 2}) end,
      E .. 'MLCSCGenerator: sparsity "l0inf" needs option \'k\' (kept channels per needle of Γ)')
    assert.has_error(function() dcgan.MLCSCGenerator({k2 = 2}) end,
      E .. 'MLCSCGenerator: option \'k2\' is for sparsity "l0" or "l0inf", not "none"')
    assert.has_error(function() dcgan.Critic({ngf = 4}) end,
      E .. "Critic: unknown option 'ngf' (expected nc, ndf)")
    local G = dcgan.Generator({ngf = 4})
    assert.has_error(function() G(sg.randn(2, 100), true) end,
      E .. "Generator: forward: argument 2 expected an options table ({return_gamma = true}), got boolean")
    assert.has_error(function() G(sg.randn(2, 100), {gamma = true}) end,
      E .. "Generator: forward: unknown option 'gamma' (expected return_gamma)")
    assert.has_error(function() dcgan.MLCSCGenerator({ngf = 4})(sg.randn(2, 7)) end,
      E .. "MLCSCGenerator: z is 2x7x1x1, expected N x 100 x 1 x 1 (or N x 100)")
    assert.has_error(function() dcgan.Critic({nc = 1})(sg.randn(2, 3, 32, 32)) end,
      E .. "Critic: input is 2x3x32x32, expected N x 1 x 32 x 32")
    -- the options keep their meaning: whole floats are counts, 1.0 keeps everything
    assert.equal(3, dcgan.Generator({ngf = 8, sparsity = "l0inf", k = 3.0}).k)
    assert.equal(1.0, dcgan.Generator({ngf = 8, sparsity = "l0", k = 1.0}).k)
    assert.equal(7, dcgan.MLCSCGenerator({ngf = 8, sparsity = "l0", k = 5, k1 = 7}).k1)
    assert.equal(5, dcgan.MLCSCGenerator({ngf = 8, sparsity = "l0", k = 5, k1 = 7}).k2)
  end)
end)

describe("sg.gan", function()
  it("d_loss and g_loss agree with PyTorch for dcgan, wgan-gp and hinge", function()
    local fx = H.fixture("gan")
    for _, kind in ipairs({"dcgan", "wgan-gp", "hinge"}) do
      H.assert_close(gan.d_loss(kind, fx["L.real"], fx["L.fake"]), fx["L." .. kind .. ".d"], 1e-5, kind .. " d")
      H.assert_close(gan.g_loss(kind, fx["L.fake"]), fx["L." .. kind .. ".g"], 1e-5, kind .. " g")
    end
    -- by hand
    local r, f = sg.tensor({2, -0.5}), sg.tensor({0.5, -3})
    H.assert_close(gan.d_loss("hinge", r, f), {(0 + 1.5) / 2 + (1.5 + 0) / 2}, 1e-6, "hinge d")
    H.assert_close(gan.d_loss("wgan-gp", r, f), {-1.25 - 0.75}, 1e-6, "wgan d")
    H.assert_close(gan.g_loss("wgan-gp", f), {1.25}, 1e-6, "wgan g")
    H.assert_close(gan.g_loss("dcgan", sg.tensor({0.0, 0})), {math.log(2)}, 1e-6, "dcgan g")
    local logits = sg.tensor({1.5}):requires_grad_()
    gan.g_loss("dcgan", logits):backward()
    H.assert_close(logits.grad, {1 / (1 + math.exp(1.5)) * -1}, 1e-6, "non-saturating gradient")
  end)

  it("gradient_penalty agrees with PyTorch (value, norms, double backward to the critic's weights)", function()
    local fx = H.fixture("gan")
    local C = dcgan.Critic({ndf = 4, nc = 1})
    C:load_state_dict(keys_with_prefix(fx, "C.sd."))
    local gp, norms = gan.gradient_penalty(C, fx["C.real"], fx["C.fake"], {lambda = 10, eps = fx["C.eps"]})
    H.assert_close(gp, fx["C.gp"], 1e-4 * fx["C.gp"]:item(), "gp")
    H.assert_close(norms, fx["C.norms"], 1e-5, "norms")
    assert.is_true(math.abs(fx["C.gp"]:item() - 10) > 0.1)
    gp:backward()
    local n = 0
    for name, p in C:named_parameters() do
      local ref = fx["C.grad." .. name]
      if name:match("weight$") then
        H.assert_close(p.grad, ref, 1e-4 * (1 + ref:abs():max():item()), "C.grad." .. name)
        assert.is_true(p.grad:abs():sum():item() > 0, name)
        n = n + 1
      else
        -- a piecewise-linear critic's input gradient does not depend on its biases
        assert.equal(0, ref:abs():sum():item(), name)
        assert.is_true(p.grad == nil or p.grad:abs():sum():item() == 0, name)
      end
    end
    assert.equal(4, n)
  end)

  it("gradient_penalty: lambda scales, eps is uniform per sample by default, no gradient to G", function()
    local fx = H.fixture("gan")
    local C = dcgan.Critic({ndf = 4, nc = 1})
    C:load_state_dict(keys_with_prefix(fx, "C.sd."))
    local gp1 = gan.gradient_penalty(C, fx["C.real"], fx["C.fake"], {lambda = 1, eps = fx["C.eps"]})
    H.assert_close(gp1, {fx["C.gp"]:item() / 10}, 1e-5, "lambda 1")
    -- eps = 1 everywhere: the penalty at the real samples
    local at_real = gan.gradient_penalty(C, fx["C.real"], fx["C.fake"], {eps = sg.ones(2)})
    local x = fx["C.real"]:clone():requires_grad_()
    local g = sg.grad({C(x):sum()}, {x})[1]
    local nrm = g:reshape(2, -1):norm(2, 2)
    H.assert_close(at_real, {10 * ((nrm - 1) ^ 2):mean():item()}, 1e-4, "at the real samples")
    sg.manual_seed(9)
    local a = gan.gradient_penalty(C, fx["C.real"], fx["C.fake"])
    local b = gan.gradient_penalty(C, fx["C.real"], fx["C.fake"])
    assert.is_true(a:item() ~= b:item(), "random eps")
    local fake = fx["C.fake"]:clone():requires_grad_()
    gan.gradient_penalty(C, fx["C.real"], fake):backward()
    assert.is_nil(fake.grad)
  end)

  it("optimizer settings per loss", function()
    assert.same({lr = 2e-4, lr_g = 2e-4, lr_d = 2e-4, betas = {0.5, 0.999}, n_critic = 1, gp_lambda = 0,
      gp_center = 1}, gan.optimizer_settings("dcgan"))
    assert.same({lr = 2e-4, lr_g = 2e-4, lr_d = 2e-4, betas = {0.5, 0.999}, n_critic = 1, gp_lambda = 0,
      gp_center = 1}, gan.optimizer_settings("hinge"))
    assert.same({lr = 1e-4, lr_g = 1e-4, lr_d = 1e-4, betas = {0, 0.9}, n_critic = 5, gp_lambda = 10,
      gp_center = 1}, gan.optimizer_settings("wgan-gp"))
    local G, D = dcgan.Generator({ngf = 4}), dcgan.Critic({ndf = 4})
    local oG, oD = gan.optimizers("wgan-gp", G, D)
    assert.same({0, 0.9}, oG.param_groups[1].betas)
    assert.equal(1e-4, oD.param_groups[1].lr)
  end)

  it("rejects bad arguments", function()
    local t = sg.zeros(2)
    assert.has_error(function() gan.d_loss("wgan", t, t) end,
      'sgen.gan.d_loss: argument 1 (kind) must be "dcgan", "wgan-gp" or "hinge", got "wgan"')
    assert.has_error(function() gan.g_loss(nil, t) end,
      'sgen.gan.g_loss: argument 1 (kind) must be "dcgan", "wgan-gp" or "hinge", got nil')
    assert.has_error(function() gan.d_loss("hinge", t, 3) end,
      "sgen.gan.d_loss: argument 3 (fake_out) expected a tensor, got number")
    assert.has_error(function() gan.optimizer_settings("adam") end,
      'sgen.gan.optimizer_settings: argument 1 (kind) must be "dcgan", "wgan-gp", "hinge", "spgan" or "self-sparse", got "adam"')
    local C = dcgan.Critic({ndf = 4, nc = 1})
    local r = sg.randn(2, 1, 32, 32)
    assert.has_error(function() gan.gradient_penalty(C, r, sg.randn(3, 1, 32, 32)) end,
      "sgen.gan.gradient_penalty: real is 2x1x32x32 and fake is 3x1x32x32, expected the same shape (N x ...)")
    assert.has_error(function() gan.gradient_penalty(C, r, r, {eps = sg.ones(3)}) end,
      "sgen.gan.gradient_penalty: option 'eps' has 3 elements, expected 2 (one per sample)")
    assert.has_error(function() gan.gradient_penalty(C, r, r, {lamda = 1}) end,
      "sgen.gan.gradient_penalty: unknown option 'lamda' (expected center, eps, lambda)")
    assert.has_error(function() gan.gradient_penalty(C, r, r, {lambda = -1}) end,
      "sgen.gan.gradient_penalty: option 'lambda' must be a number >= 0, got -1")
  end)
end)
