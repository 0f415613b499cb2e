-- SPGAN (models/spgan.lua): the sparse-code generator with a fixed
-- dictionary Ω and averaged overlapping patches, the reconstructor E and
-- the reconstruction loss.
local sg = require "sgen"
local H = require "spec.helpers"
local spgan = require "models.spgan"
local dcgan = require "models.dcgan"

local function count(params)
  local n = 0
  for _, p in ipairs(params) do n = n + p:numel() end
  return n
end

-- The hand-written assembly: every code γ_ij (atoms) makes the patch Ω γ_ij,
-- read as nc x p x p (rows of Ω in c, row, column order), centred on (i, j);
-- pixels outside the image are dropped; each pixel is the mean of the
-- patches covering it.
local function fold_and_average(gamma, omega, nc, p, size)
  local g = gamma:totable()[1] -- atoms x size x size
  local O = omega:totable()    -- m x atoms
  local atoms, r = #g, (p - 1) // 2
  local acc, cnt = {}, {}
  for c = 1, nc do
    acc[c] = {}
    for y = 1, size do acc[c][y] = {} for x = 1, size do acc[c][y][x] = 0 end end
  end
  for y = 1, size do cnt[y] = {} for x = 1, size do cnt[y][x] = 0 end end
  for i = 1, size do
    for j = 1, size do
      for u = 1, p do
        for v = 1, p do
          local y, x = i + u - 1 - r, j + v - 1 - r
          if y >= 1 and y <= size and x >= 1 and x <= size then
            cnt[y][x] = cnt[y][x] + 1
            for c = 1, nc do
              local row = (c - 1) * p * p + (u - 1) * p + v
              local s = 0
              for a = 1, atoms do s = s + O[row][a] * g[a][i][j] end
              acc[c][y][x] = acc[c][y][x] + s
            end
          end
        end
      end
    end
  end
  for c = 1, nc do
    for y = 1, size do for x = 1, size do acc[c][y][x] = acc[c][y][x] / cnt[y][x] end end
  end
  return sg.tensor({acc}), cnt
end

describe("models.spgan", function()
  it("maps z to N x nc x 32 x 32 and returns Γ = S_λ(A(z)), N x atoms x 32 x 32, on request", function()
    sg.manual_seed(1)
    for _, nc in ipairs({1, 3}) do
      local G = spgan.Generator({nz = 10, ngf = 8, nc = nc, atoms = 12})
      local z = sg.randn(3, 10)
      local x, gammas = G(z, {return_gamma = true})
      assert.same({3, nc, 32, 32}, x:shape())
      assert.equal(1, #gammas)
      assert.same({3, 12, 32, 32}, gammas[1]:shape())
      H.assert_close(G(z:view(3, 10, 1, 1)), x, 0, "z as N x nz x 1 x 1")
      -- Γ is the soft threshold of the codes, and x is assembled from it
      local a = G:codes(z)
      H.assert_close(sg.sparse.soft_threshold(a, G.threshold.lambda), gammas[1], 1e-6, "Γ = S_λ(a)")
      H.assert_close(G:assemble(gammas[1]), x, 1e-6, "x = P(ΓΩ)")
    end
  end)

  it("keeps Ω as a buffer: in the state_dict, not a parameter, no gradient; λ learnable gets one", function()
    sg.manual_seed(2)
    local G = spgan.Generator({nz = 10, ngf = 8, nc = 1, atoms = 9})
    local sd = G:state_dict()
    assert.same({9, 9}, sd.omega:shape())
    assert.same({9, 1, 1}, sd["threshold.lambda"]:shape())
    assert.is_nil(sd.overlap)
    for _, p in ipairs(G:parameters()) do assert.is_false(p == G.omega) end
    assert.equal(count(G:parameters()), 10 * 32 * 16 + 32 + 32 + 32 * 16 * 16 + 16 + 16 + 16 * 8 * 16 + 8 + 8
      + 8 * 9 * 16 + 9)
    -- unit-norm random stand-in
    H.assert_close(G.omega:norm(2, 1), sg.ones(9), 1e-5, "unit-norm columns")
    local x = G(sg.randn(4, 10))
    ;(x * sg.randn(4, 1, 32, 32)):sum():backward()
    assert.is_nil(G.omega.grad)
    for name, p in G:named_parameters() do
      assert.is_not_nil(p.grad, name)
      assert.is_true(p.grad:abs():sum():item() > 0, name)
    end
    -- fixed λ: no parameter for it
    local F = spgan.Generator({nz = 10, ngf = 8, nc = 1, atoms = 9, learnable_lambda = false, lambda = 0.05})
    assert.is_nil(F:state_dict()["threshold.lambda"])
    assert.same({0.05}, F:lambdas())
    assert.equal(count(G:parameters()) - 9, count(F:parameters()))
  end)

  it("a constant code map on a constant atom gives a constant image", function()
    sg.manual_seed(3)
    for _, nc in ipairs({1, 3}) do
      local m = nc * 9
      local rest = sg.randn(m, 4)
      rest = rest / rest:norm(2, 1, true)
      local omega = sg.cat({rest:narrow(2, 1, 1), sg.full({m, 1}, 1 / math.sqrt(m)), rest:narrow(2, 2, 3)}, 2)
      local G = spgan.Generator({nz = 4, ngf = 4, nc = nc, atoms = 5, omega = omega})
      H.assert_close(G.omega, omega, 0, "Ω copied")
      local gamma = sg.cat({sg.zeros(2, 1, 32, 32), sg.full({2, 1, 32, 32}, 0.7), sg.zeros(2, 3, 32, 32)}, 2)
      H.assert_close(G:assemble(gamma), sg.full({2, nc, 32, 32}, 0.7 / math.sqrt(m)), 1e-6, "constant image")
    end
  end)

  it("averages overlapping patches as a hand-written fold-and-average", function()
    sg.manual_seed(4)
    for _, cfg in ipairs({{nc = 1, p = 3, atoms = 2}, {nc = 2, p = 3, atoms = 3}, {nc = 1, p = 5, atoms = 2}}) do
      local m = cfg.nc * cfg.p * cfg.p
      local omega = sg.randn(m, cfg.atoms)
      local G = spgan.Generator({nz = 4, ngf = 4, nc = cfg.nc, atoms = cfg.atoms, patch = cfg.p})
      G:set_dictionary(omega)
      local gamma = sg.randn(1, cfg.atoms, 32, 32)
      local want, cnt = fold_and_average(gamma, omega, cfg.nc, cfg.p, 32)
      H.assert_close(G:assemble(gamma), want, 1e-5, "fold and average, p = " .. cfg.p)
      if cfg.p == 3 then
        assert.equal(4, cnt[1][1]); assert.equal(6, cnt[1][2]); assert.equal(9, cnt[2][2])
        local ov = G.overlap:totable()[1][1]
        assert.equal(4, ov[1][1]); assert.equal(6, ov[32][2]); assert.equal(9, ov[5][7])
      end
    end
  end)

  it("makes Γ sparse: the fraction of zeros grows with λ, and λ = large zeros the image", function()
    sg.manual_seed(5)
    local z = sg.randn(4, 10)
    local prev = -1
    for _, lambda in ipairs({0, 0.02, 0.1, 1e3}) do
      sg.manual_seed(6)
      local G = spgan.Generator({nz = 10, ngf = 8, nc = 1, atoms = 9, lambda = lambda, learnable_lambda = false})
      local x, g = G(z, {return_gamma = true})
      local zeros = 1 - sg.sparse.sparsity(g[1])
      print(string.format("  SPGAN Γ at λ = %g: %.3f zeros", lambda, zeros))
      assert.is_true(zeros >= prev)
      prev = zeros
      if lambda == 1e3 then
        assert.equal(1, zeros)
        assert.equal(0, x:abs():max():item())
      end
    end
  end)

  it("project_lambda clamps a learnable λ at 0; set_dictionary and the state_dict carry Ω", function()
    sg.manual_seed(7)
    local G = spgan.Generator({nz = 4, ngf = 4, nc = 1, atoms = 3})
    sg.no_grad(function() G.threshold.lambda:copy_(sg.tensor({-1, 0.5, -0.1}):view(3, 1, 1)) end)
    G:project_lambda()
    assert.same({0, 0.5, 0}, G:lambdas())
    -- Ω learned on patches (learn_dictionary's layout), saved and loaded with the rest
    local patches = sg.randn(200, 1, 3, 3)
    local omega = sg.sparse.learn_dictionary(patches, {atoms = 3, iters = 20, batch_size = 32, seed = 1})
    G:set_dictionary(omega)
    H.assert_close(G.omega, omega, 0, "set_dictionary")
    local G2 = spgan.Generator({nz = 4, ngf = 4, nc = 1, atoms = 3})
    G2:load_state_dict(G:state_dict())
    H.assert_close(G2.omega, omega, 0, "load_state_dict")
    G:eval(); G2:eval()
    local z = sg.randn(2, 4)
    H.assert_close(G2(z), G(z), 0, "same generator")
  end)

  it("tanh = true squashes the assembled image", function()
    sg.manual_seed(8)
    local G = spgan.Generator({nz = 4, ngf = 4, nc = 1, atoms = 3, tanh = true})
    local z = sg.randn(2, 4)
    local x, g = G(z, {return_gamma = true})
    H.assert_close(x, G:assemble(g[1]):tanh(), 1e-6, "tanh(P(ΓΩ))")
  end)

  it("Reconstructor maps images to N x nz; reconstruction_loss is Eq. 4 (squared) or Alg. 1 (not)", function()
    sg.manual_seed(9)
    local E = spgan.Reconstructor({nc = 3, nz = 10, ndf = 4})
    local G = spgan.Generator({nz = 10, ngf = 4, nc = 3, atoms = 6})
    local x = sg.randn(3, 3, 32, 32)
    local z = E(x)
    assert.same({3, 10}, z:shape())
    local lr = spgan.reconstruction_loss(x, G(z))
    lr:backward()
    for name, p in G:named_parameters() do assert.is_not_nil(p.grad, "G " .. name) end
    for name, p in E:named_parameters() do assert.is_not_nil(p.grad, "E " .. name) end
    local a, b = sg.tensor({{3.0, 0}, {0, 0}}), sg.tensor({{0.0, 4}, {1, 0}})
    assert.near((25 + 1) / 2, spgan.reconstruction_loss(a, b):item(), 1e-6)
    assert.near((5 + 1) / 2, spgan.reconstruction_loss(a, b, {squared = false}):item(), 1e-5)
    -- the encoder's loss of Eq. 6 with the same helper; G is not trained by it
    G:zero_grad()
    local zz = sg.randn(3, 10)
    spgan.reconstruction_loss(zz, E(G(zz):detach())):backward()
    for _, p in ipairs(G:parameters()) do assert.is_nil(p.grad) end
    local nE = count(E:parameters())
    assert.equal(3 * 4 * 16 + 4 + 4 * 8 * 16 + 8 + 8 * 16 * 16 + 16 + 16 * 16 * 10 + 10, nE)
  end)

  it("prints its parameter counts (defaults ngf = ndf = 64, nz = 100)", function()
    for _, cfg in ipairs({{nc = 3, atoms = 100}, {nc = 1, atoms = 36}}) do
      local G = spgan.Generator({nc = cfg.nc, atoms = cfg.atoms})
      local E = spgan.Reconstructor({nc = cfg.nc})
      local D = spgan.Critic({nc = cfg.nc})
      local nG, nE, nD = count(G:parameters()), count(E:parameters()), count(D:parameters())
      print(string.format("  SPGAN nc = %d, atoms = %d: G %d (+ Ω %d x %d, a buffer), E %d, Critic %d",
        cfg.nc, cfg.atoms, nG, cfg.nc * 9, cfg.atoms, nE, nD))
      -- the trunk is DCGAN's G_S; the last ConvT has atoms outputs; λ per atom
      local dg = dcgan.Generator({nc = cfg.nc})
      assert.equal(count(dg:parameters()) - 64 * cfg.nc * 16 + 64 * cfg.atoms * 16 + cfg.atoms, nG)
    end
  end)

  it("rejects bad options and inputs", function()
    local function err(f) return H.error_message(f) end
    assert.matches("option 'patch' must be a positive odd integer", err(function() spgan.Generator({patch = 4}) end))
    assert.matches("unknown option 'atom'", err(function() spgan.Generator({atom = 4}) end))
    assert.matches("option 'lambda' must be a finite number >= 0", err(function() spgan.Generator({lambda = -1}) end))
    assert.matches("option 'learnable_lambda' must be true or false",
      err(function() spgan.Generator({learnable_lambda = 1}) end))
    assert.matches("Ω is 9x4, expected 27 x 4",
      err(function() spgan.Generator({nc = 3, atoms = 4, omega = sg.randn(9, 4)}) end))
    assert.matches("option 'omega' must be a tensor", err(function() spgan.Generator({omega = {}}) end))
    local G = spgan.Generator({nz = 4, ngf = 4, nc = 1, atoms = 3})
    assert.matches("Ω is 9x2, expected 9 x 3", err(function() G:set_dictionary(sg.randn(9, 2)) end))
    assert.matches("z is 2x5x1x1, expected N x 4", err(function() G(sg.randn(2, 5)) end))
    assert.matches("unknown option 'gamma'", err(function() G(sg.randn(2, 4), {gamma = true}) end))
    assert.matches("Γ is 1x3x16x16", err(function() G:assemble(sg.randn(1, 3, 16, 16)) end))
    local E = spgan.Reconstructor({nc = 1, nz = 4, ndf = 2})
    assert.matches("input is 1x3x32x32, expected N x 1 x 32 x 32", err(function() E(sg.randn(1, 3, 32, 32)) end))
    assert.matches("shapes 2x3 and 3x2 differ",
      err(function() spgan.reconstruction_loss(sg.randn(2, 3), sg.randn(3, 2)) end))
  end)
end)
