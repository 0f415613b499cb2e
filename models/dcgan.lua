-- DCGAN (Radford et al. 2016) for 32x32 images: the generator and the
-- discriminator of PyTorch's DCGAN example, one stride-2 stage fewer (64x64
-- there, 32x32 here), with the example's weight initialization.
--
--   local dcgan = require "models.dcgan"
--   local G = dcgan.Generator({nz = 100, ngf = 64, nc = 3})      -- z: N x nz x 1 x 1 -> N x nc x 32 x 32 in (-1, 1)
--   local D = dcgan.Discriminator({ndf = 64, nc = 3})            -- N x nc x 32 x 32 -> N logits (no sigmoid)
--
-- Generator (bias-free transposed convolutions, 4x4 kernels):
--   ConvT(nz -> 4 ngf, stride 1, pad 0)  1x1 -> 4x4    BN ReLU
--   ConvT(4 ngf -> 2 ngf, stride 2, pad 1)  -> 8x8     BN ReLU
--   ConvT(2 ngf -> ngf, stride 2, pad 1)    -> 16x16   BN ReLU
--   ConvT(ngf -> nc, stride 2, pad 1)       -> 32x32   Tanh
-- Discriminator (bias-free convolutions, 4x4 kernels):
--   Conv(nc -> ndf, stride 2, pad 1)        -> 16x16   LeakyReLU(0.2)
--   Conv(ndf -> 2 ndf, stride 2, pad 1)     -> 8x8     BN LeakyReLU(0.2)
--   Conv(2 ndf -> 4 ndf, stride 2, pad 1)   -> 4x4     BN LeakyReLU(0.2)
--   Conv(4 ndf -> 1, stride 1, pad 0)       -> 1x1     (a logit: train with
--                                                       binary_cross_entropy_with_logits)
--
-- Sparsity-regularized generators (Ganz & Elad): a generator is G_S (z -> Γ,
-- the input of the last layer) followed by G_I (the last ConvT, a
-- convolutional dictionary). Options of Generator and MLCSCGenerator:
--   sparsity = "none" (default) | "l1" | "l0" | "l0inf"
--   k          l0inf: kept channels per 1x1xngf needle of Γ (1..ngf);
--              l0: kept entries per sample of Γ, a count (1..ngf*256) or a
--              fraction in (0, 1]; required for l0/l0inf, refused otherwise
--   l1_weight  l1: weight of mean |Γ| in G's loss (required for l1 only)
--   k1, k2     MLCSCGenerator only: k of Γ1 / Γ2 (both default to k)
-- l0/l0inf project Γ (after the last BN+ReLU of G_S, before the last ConvT)
-- with nn.L0Project / nn.L0InfProject (no parameters: the state_dict is the
-- same for every sparsity). Γ on request:
--   local x, gammas = G(z, {return_gamma = true})   -- gammas[i]: input of Di
--   local lossG = adv_loss + G:sparsity_loss(gammas) -- l1_weight * sum_i mean|Γi|; 0 unless l1
--   dcgan.MLCSCGenerator(opts)   ... -> ConvT 3x3 D2 (ngf -> ngf) -> ConvT 4x4 D1 (ngf -> nc)
--   G:effective_atoms()          D1 D2 as ngf x nc x 8 x 8 atoms (ML-CSC)
--   dcgan.Critic({ndf, nc})      WGAN-GP critic: Discriminator without BN
-- Both hold their layers in `main` (an nn.Sequential), so the state_dict
-- names are PyTorch's (`main.0.weight`, `main.1.running_mean`, ...): the same
-- networks written in PyTorch (bench/gpu_dcgan_step.py) load these weights
-- and vice versa. dcgan.init_weights(m) is the example's weights_init:
-- convolution weights N(0, 0.02), BatchNorm weights N(1, 0.02) and biases 0;
-- the constructors apply it.
local sg = require "sgen"
local nn = sg.nn

local dcgan = {}

local function fail(fmt, ...) error(string.format("models.dcgan: " .. fmt, ...), 0) end

-- options(name, opts, spec): spec maps each option to {kind, default}, kind
-- "int" (a positive integer), "choice" (one of spec.choices, a string), "k"
-- (a positive number: an integer count or, where the sparsity allows it, a
-- fraction in (0, 1]; checked against the network by check_sparsity) or
-- "weight" (a number > 0).
local function options(name, opts, spec)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then fail("%s: expected an options table, got %s", name, type(opts)) end
  local cfg = {}
  for k, s in pairs(spec) do cfg[k] = s.default end
  for k, v in pairs(opts) do
    local s = spec[k]
    if s == nil then
      local names = {}
      for n in pairs(spec) do names[#names + 1] = n end
      table.sort(names)
      fail("%s: unknown option '%s' (expected %s)", name, tostring(k), table.concat(names, ", "))
    end
    if s.kind == "int" then
      if math.type(v) ~= "integer" or v < 1 then
        fail("%s: option '%s' must be a positive integer, got %s", name, k, tostring(v))
      end
    elseif s.kind == "choice" then
      local ok = false
      for _, c in ipairs(s.choices) do ok = ok or v == c end
      if not ok then
        fail("%s: option '%s' must be one of \"%s\", got %s", name, k,
          table.concat(s.choices, "\", \""), type(v) == "string" and ('"' .. v .. '"') or tostring(v))
      end
    elseif s.kind == "k" or s.kind == "weight" then
      if type(v) ~= "number" or v ~= v or v <= 0 or v == math.huge then
        fail("%s: option '%s' must be a positive number, got %s", name, k, tostring(v))
      end
    end
    cfg[k] = v
  end
  return cfg
end

local SPARSITIES = {"none", "l1", "l0", "l0inf"}

-- The options shared by the generators (DCGAN and ML-CSC).
local function generator_spec(extra)
  local spec = {
    nz = {kind = "int", default = 100}, ngf = {kind = "int", default = 64},
    nc = {kind = "int", default = 3},
    sparsity = {kind = "choice", choices = SPARSITIES, default = "none"},
    k = {kind = "k"}, l1_weight = {kind = "weight"},
  }
  for k, v in pairs(extra or {}) do spec[k] = v end
  return spec
end

-- check_k(name, opt, k, sparsity, channels, entries): k of an l0inf
-- projection is an integer in 1..channels (kept channels per needle); k of
-- an l0 projection is an integer in 1..entries (kept entries per sample) or a
-- fraction in (0, 1] of the entries. Returns k (an integer where whole).
local function check_k(name, opt, k, sparsity, channels, entries)
  local whole = k == math.floor(k)
  if sparsity == "l0inf" then
    if not whole or k > channels then
      fail("%s: option '%s' must be an integer in 1..%d for sparsity \"l0inf\" (kept channels per needle of Γ), got %s",
        name, opt, channels, tostring(k))
    end
    return math.tointeger(k)
  end
  if whole and math.type(k) == "integer" then
    if k > entries then
      fail("%s: option '%s' must be a count in 1..%d or a fraction in (0, 1] for sparsity \"l0\" (kept entries per sample of Γ), got %s",
        name, opt, entries, tostring(k))
    end
    return k
  end
  if k > 1 then
    if not whole or k > entries then
      fail("%s: option '%s' must be a count in 1..%d or a fraction in (0, 1] for sparsity \"l0\" (kept entries per sample of Γ), got %s",
        name, opt, entries, tostring(k))
    end
    return math.tointeger(k)
  end
  return k -- a fraction in (0, 1] (1.0 keeps every entry)
end

-- check_sparsity(name, cfg, kopts, channels, entries): the sparsity options
-- agree with each other; returns {k for each name of kopts} (nil entries for
-- "none" and "l1"). kopts: the per-layer k options ({"k"} for DCGAN,
-- {"k1", "k2"} for ML-CSC, where each defaults to k).
local function check_sparsity(name, cfg, kopts, channels, entries)
  local s = cfg.sparsity
  local all = {"k"}
  for _, o in ipairs(kopts) do if o ~= "k" then all[#all + 1] = o end end
  if s == "none" or s == "l1" then
    for _, o in ipairs(all) do
      if cfg[o] ~= nil then
        fail("%s: option '%s' is for sparsity \"l0\" or \"l0inf\", not \"%s\"", name, o, s)
      end
    end
  end
  if s == "l1" and cfg.l1_weight == nil then
    fail("%s: sparsity \"l1\" needs option 'l1_weight' (the weight of mean |Γ| in G's loss)", name)
  end
  if s ~= "l1" and cfg.l1_weight ~= nil then
    fail("%s: option 'l1_weight' is for sparsity \"l1\", not \"%s\"", name, s)
  end
  local ks = {}
  if s == "l0" or s == "l0inf" then
    for _, o in ipairs(kopts) do
      local k = cfg[o]
      if k ~= nil then
        k = check_k(name, o, k, s, channels, entries)
      elseif cfg.k ~= nil then
        k = check_k(name, "k", cfg.k, s, channels, entries)
      else
        fail("%s: sparsity \"%s\" needs option 'k' (%s)", name, s,
          s == "l0inf" and "kept channels per needle of Γ" or "kept entries per sample of Γ, a count or a fraction")
      end
      ks[o] = k
    end
  end
  return ks
end

local function projection(sparsity, k)
  if sparsity == "l0" then return nn.L0Project(k) end
  if sparsity == "l0inf" then return nn.L0InfProject(k) end
  return nil
end

local function check_z(name, z, nz)
  if z:dim() == 2 then z = z:view(z:size(1), z:size(2), 1, 1) end
  if z:dim() ~= 4 or z:size(2) ~= nz or z:size(3) ~= 1 or z:size(4) ~= 1 then
    fail("%s: z is %s, expected N x %d x 1 x 1 (or N x %d)", name, table.concat(z:shape(), "x"),
      nz, nz)
  end
  return z
end

-- forward's options: {return_gamma = true|false}
local function wants_gamma(name, opts)
  if opts == nil then return false end
  if type(opts) ~= "table" then
    fail("%s: forward: argument 2 expected an options table ({return_gamma = true}), got %s", name, type(opts))
  end
  for k in pairs(opts) do
    if k ~= "return_gamma" then
      fail("%s: forward: unknown option '%s' (expected return_gamma)", name, tostring(k))
    end
  end
  return opts.return_gamma == true
end

-- l1_weight * sum over the layers of mean |Γi| (0 unless sparsity is "l1").
local function sparsity_loss(self, name, gammas)
  if type(gammas) ~= "table" or #gammas ~= self.n_gamma then
    fail("%s: sparsity_loss: expected the list of %d Γ tensor(s) returned by forward(z, {return_gamma = true}), got %s",
      name, self.n_gamma, type(gammas) == "table" and ("a list of " .. #gammas) or type(gammas))
  end
  if self.sparsity ~= "l1" then return 0 end
  local loss
  for _, g in ipairs(gammas) do
    local m = g:abs():mean()
    loss = loss and loss + m or m
  end
  return loss * self.l1_weight
end

-- weights_init of PyTorch's DCGAN example, for one module (use with
-- module:apply(dcgan.init_weights)).
function dcgan.init_weights(m)
  local cls = getmetatable(m).__name
  if cls == "Conv2d" or cls == "ConvTranspose2d" then
    nn.init.normal_(m.weight, 0, 0.02)
  elseif cls == "BatchNorm2d" then
    nn.init.normal_(m.weight, 1, 0.02)
    nn.init.zeros_(m.bias)
  end
end

local Generator = nn.Module:extend("DCGANGenerator")

-- G_S: z -> Γ (nz -> 4 ngf -> 2 ngf -> ngf channels, 1 -> 4 -> 8 -> 16
-- pixels), the first 9 modules of `main` (three ConvT BN ReLU stages).
local function gs_layers(c)
  local g = c.ngf
  local function up(cin, cout, stride, pad)
    return nn.ConvTranspose2d(cin, cout, 4, {stride = stride, padding = pad, bias = false})
  end
  return {up(c.nz, g * 4, 1, 0), nn.BatchNorm2d(g * 4), nn.ReLU(),
    up(g * 4, g * 2, 2, 1), nn.BatchNorm2d(g * 2), nn.ReLU(),
    up(g * 2, g, 2, 1), nn.BatchNorm2d(g), nn.ReLU()}
end
local N_GS = 9

function Generator:init(opts)
  local c = options("Generator", opts, generator_spec())
  local ks = check_sparsity("Generator", c, {"k"}, c.ngf, c.ngf * 16 * 16)
  self.nz, self.ngf, self.nc = c.nz, c.ngf, c.nc
  self.sparsity, self.k, self.l1_weight = c.sparsity, ks.k, c.l1_weight
  self.n_gamma = 1
  local layers = gs_layers(c)
  layers[#layers + 1] = nn.ConvTranspose2d(c.ngf, c.nc, 4, {stride = 2, padding = 1, bias = false})
  layers[#layers + 1] = nn.Tanh()
  self.main = nn.Sequential(table.unpack(layers))
  -- the projection of Γ: no parameters, no state (the state_dict is the
  -- same for every sparsity)
  local p = projection(c.sparsity, ks.k)
  if p then self.project = p end
  self:apply(dcgan.init_weights)
end

-- G(z) -> x; G(z, {return_gamma = true}) -> x, {Γ}: Γ (N x ngf x 16 x 16)
-- is the input of the last layer (the dictionary), after the projection.
function Generator:forward(z, opts)
  local want = wants_gamma("Generator", opts)
  z = check_z("Generator", z, self.nz)
  local m = self.main
  local h = z
  for i = 1, N_GS do h = m[i](h) end
  if self.project then h = self.project(h) end
  local x = m[N_GS + 2](m[N_GS + 1](h))
  if want then return x, {h} end
  return x
end

-- l1_weight * mean |Γ| for sparsity "l1" (add it to G's loss), the number 0
-- for the other sparsities. gammas: the list returned by forward.
function Generator:sparsity_loss(gammas)
  return sparsity_loss(self, "Generator", gammas)
end

-- The dictionary D of the last layer as atoms: ngf x nc x 4 x 4 (a copy).
function Generator:atoms()
  return self.main[N_GS + 1].weight:detach():clone()
end

-- ML-CSC generator: G_S of the DCGAN generator up to Γ2 (N x ngf x 16 x 16),
-- then two bias-free dictionaries with no normalization or nonlinearity
-- between them (docs/decisions.md), so that D1 D2 is the effective dictionary:
--   D2 = ConvT(ngf -> ngf, 3x3, stride 1, pad 1)   Γ2 -> Γ1 (16x16)
--   D1 = ConvT(ngf -> nc, 4x4, stride 2, pad 1)    Γ1 -> 32x32, Tanh
-- The projection (sparsity l0 / l0inf) is applied to Γ2 and to Γ1 with
-- k2 and k1 (both default to k); l1 penalizes both.
local MLCSCGenerator = nn.Module:extend("MLCSCGenerator")

function MLCSCGenerator:init(opts)
  local c = options("MLCSCGenerator", opts, generator_spec({k1 = {kind = "k"}, k2 = {kind = "k"}}))
  local ks = check_sparsity("MLCSCGenerator", c, {"k1", "k2"}, c.ngf, c.ngf * 16 * 16)
  self.nz, self.ngf, self.nc = c.nz, c.ngf, c.nc
  self.sparsity, self.k1, self.k2, self.l1_weight = c.sparsity, ks.k1, ks.k2, c.l1_weight
  self.n_gamma = 2
  local layers = gs_layers(c)
  layers[#layers + 1] = nn.ConvTranspose2d(c.ngf, c.ngf, 3, {stride = 1, padding = 1, bias = false})
  layers[#layers + 1] = nn.ConvTranspose2d(c.ngf, c.nc, 4, {stride = 2, padding = 1, bias = false})
  layers[#layers + 1] = nn.Tanh()
  self.main = nn.Sequential(table.unpack(layers))
  local p2, p1 = projection(c.sparsity, ks.k2), projection(c.sparsity, ks.k1)
  if p2 then
    self.project2 = p2
    self.project1 = p1
  end
  self:apply(dcgan.init_weights)
end

-- G(z) -> x; G(z, {return_gamma = true}) -> x, {Γ1, Γ2}: Γi is the input of
-- dictionary Di after its projection (Γ2 from G_S, Γ1 = proj(D2 Γ2)).
function MLCSCGenerator:forward(z, opts)
  local want = wants_gamma("MLCSCGenerator", opts)
  z = check_z("MLCSCGenerator", z, self.nz)
  local m = self.main
  local g2 = z
  for i = 1, N_GS do g2 = m[i](g2) end
  if self.project2 then g2 = self.project2(g2) end
  local g1 = m[N_GS + 1](g2)
  if self.project1 then g1 = self.project1(g1) end
  local x = m[N_GS + 3](m[N_GS + 2](g1))
  if want then return x, {g1, g2} end
  return x
end

function MLCSCGenerator:sparsity_loss(gammas)
  return sparsity_loss(self, "MLCSCGenerator", gammas)
end

-- The atoms of D1 (ngf x nc x 4 x 4) and of D2 (ngf x ngf x 3 x 3), copies.
function MLCSCGenerator:atoms()
  return self.main[N_GS + 2].weight:detach():clone(), self.main[N_GS + 1].weight:detach():clone()
end

-- D_eff = D1 D2 as ngf atoms of nc x 8 x 8: atom j is the image that
-- D1(D2(·)) makes of a unit Γ2 needle e_j at one position (away from the
-- borders, where the padding crops nothing): the transposed convolution of
-- D2's atoms (ngf x ngf x 3 x 3, read as a batch of Γ1 maps) by D1 at stride 2.
function MLCSCGenerator:effective_atoms()
  local w2 = self.main[N_GS + 1].weight:detach()
  local w1 = self.main[N_GS + 2].weight:detach()
  return sg.no_grad(function() return sg.F.conv_transpose2d(w2, w1, nil, {stride = 2}) end)
end

-- WGAN-GP critic (Gulrajani et al. 2017): the discriminator without batch
-- normalization (the gradient penalty is per sample), with conv biases:
--   Conv(nc -> ndf, 4x4 s2 p1) LReLU(0.2), Conv(ndf -> 2 ndf) LReLU,
--   Conv(2 ndf -> 4 ndf) LReLU, Conv(4 ndf -> 1, 4x4 s1 p0): one score.
-- Weights N(0, 0.02) as the DCGAN example, biases 0.
local Critic = nn.Module:extend("WGANCritic")

function Critic:init(opts)
  local c = options("Critic", opts, {ndf = {kind = "int", default = 64}, nc = {kind = "int", default = 3}})
  self.nc = c.nc
  local d = c.ndf
  local function down(cin, cout, stride, pad)
    return nn.Conv2d(cin, cout, 4, {stride = stride, padding = pad})
  end
  self.main = nn.Sequential(
    down(c.nc, d, 2, 1), nn.LeakyReLU(0.2),
    down(d, d * 2, 2, 1), nn.LeakyReLU(0.2),
    down(d * 2, d * 4, 2, 1), nn.LeakyReLU(0.2),
    down(d * 4, 1, 1, 0))
  self:apply(dcgan.init_weights)
  for name, p in self:named_parameters() do
    if name:match("%.bias$") then sg.no_grad(function() p:zero_() end) end
  end
end

-- x: N x nc x 32 x 32 -> N scores
function Critic:forward(x)
  if x:dim() ~= 4 or x:size(2) ~= self.nc or x:size(3) ~= 32 or x:size(4) ~= 32 then
    fail("Critic: input is %s, expected N x %d x 32 x 32", table.concat(x:shape(), "x"), self.nc)
  end
  return self.main(x):view(-1)
end

local Discriminator = nn.Module:extend("DCGANDiscriminator")

function Discriminator:init(opts)
  local c = options("Discriminator", opts, {ndf = {kind = "int", default = 64}, nc = {kind = "int", default = 3}})
  self.nc = c.nc
  local d = c.ndf
  local function down(cin, cout, stride, pad)
    return nn.Conv2d(cin, cout, 4, {stride = stride, padding = pad, bias = false})
  end
  self.main = nn.Sequential(
    down(c.nc, d, 2, 1), nn.LeakyReLU(0.2),
    down(d, d * 2, 2, 1), nn.BatchNorm2d(d * 2), nn.LeakyReLU(0.2),
    down(d * 2, d * 4, 2, 1), nn.BatchNorm2d(d * 4), nn.LeakyReLU(0.2),
    down(d * 4, 1, 1, 0))
  self:apply(dcgan.init_weights)
end

-- x: N x nc x 32 x 32 -> N logits
function Discriminator:forward(x)
  if x:dim() ~= 4 or x:size(2) ~= self.nc or x:size(3) ~= 32 or x:size(4) ~= 32 then
    fail("Discriminator: input is %s, expected N x %d x 32 x 32", table.concat(x:shape(), "x"),
      self.nc)
  end
  return self.main(x):view(-1)
end

dcgan.Generator = Generator
dcgan.Discriminator = Discriminator
dcgan.MLCSCGenerator = MLCSCGenerator
dcgan.Critic = Critic

return dcgan
