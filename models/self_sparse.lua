-- Self-Sparse GAN (Qian, Xu, Zuo, Li, "Self Sparse Generative Adversarial
-- Networks"): a DCGAN-like generator with an nn.SASTM after every
-- deconvolution (§3, Figs. 1 and 3), all driven by the latent z, and a
-- critic without BatchNorm, trained as WGAN with a zero-centred gradient
-- penalty (Eq. 13: sg.gan.zero_centered_gradient_penalty).
--
--   local self_sparse = require "models.self_sparse"
--   local G = self_sparse.Generator({nz = 100, ngf = 64, nc = 1, size = 64})  -- z: N x nz -> N x nc x 64 x 64 in (-1, 1)
--   local D = self_sparse.Critic({ndf = 64, nc = 1, size = 64})               -- N x nc x 64 x 64 -> N scores
--   local B = self_sparse.PlainGenerator({nz = 100, ngf = 64, nc = 1, size = 64})  -- the baseline: no SASTMs
--   local x = G(z)
--   local r = G:sparse_rates()   -- per stage xi_mean, zeta, ...; r.xi_bar (Eq. 15)
--
-- Generator, T = log2(size) - 1 stages (size 32: 4, 64: 5, 128: 6), 4x4
-- bias-free transposed convolutions; stage t (1 <= t < T):
--   ConvT(-> ngf * 2^(T-1-t)) (stage 1: nz -> , stride 1 pad 0, 1 -> 4;
--   then stride 2 pad 1, doubling the size) -> SASTM -> BN -> ReLU
-- (Fig. 3: y^{t-1} -> deconvolution h^t -> SASTM x^t -> BN s^t -> ReLU y^t);
-- the last stage T: ConvT(ngf -> nc) -> SASTM -> Tanh. The paper adds "a
-- SASTM behind each deconvolution layer" and counts the last one among its T
-- stages (T = 6 at 128x128, Eq. 15 averages over them), so the image stage
-- has one too. For size 32 the widths are models/dcgan.lua's (4 ngf, 2 ngf,
-- ngf, nc); 64 adds 8 ngf in front, 128 16 ngf. Each SASTM t is
-- nn.SASTM(C^t, H^t, W^t, nz, {hidden, csm, psm}) (hidden defaults to nz).
-- Weights: DCGAN's init (ConvT N(0, 0.02), BN N(1, 0.02) / 0); the SASTM
-- Linear layers keep PyTorch's default init.
-- Options: nz (100), ngf (64), nc (3), size (32 | 64 | 128; 32), csm (true),
-- psm (true), hidden (nz).
-- State_dict: main.<i>.* with the modules of `main` in order (ConvT, SASTM,
-- BN, ReLU per stage; ConvT, SASTM, Tanh last), the SASTMs' f, g1, g2 under
-- main.<i>.f.weight ... (PyTorch's names for the same nn.Sequential).
--
-- Critic (WGAN, no BN, conv biases): Conv(nc -> ndf, 4x4 s2 p1) LReLU(0.2),
-- then stride-2 convs doubling the width down to 4x4 (size 32: ndf, 2 ndf,
-- 4 ndf; 64: up to 8 ndf; 128: up to 16 ndf), then Conv(-> 1, 4x4 s1 p0).
-- At size 32 it is models/dcgan.lua's Critic (same state_dict). Options:
-- ndf (64), nc (3), size (32).
local sg = require "sgen"
local nn = sg.nn
local dcgan = require "models.dcgan"

local self_sparse = {}

local TensorMT = getmetatable(sg.zeros(0))
local function is_tensor(v) return getmetatable(v) == TensorMT end

local function fail(fmt, ...) error(string.format("models.self_sparse: " .. fmt, ...), 0) end

local SIZES = {[32] = 4, [64] = 5, [128] = 6} -- size -> T (generator stages)

local function options(name, opts, spec)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" or is_tensor(opts) then
    fail("%s: expected an options table, got %s", name, is_tensor(opts) and "a tensor" or type(opts))
  end
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
    elseif s.kind == "size" then
      if math.type(v) ~= "integer" or SIZES[v] == nil then
        fail("%s: option 'size' must be 32, 64 or 128, got %s", name, tostring(v))
      end
    elseif s.kind == "bool" then
      if type(v) ~= "boolean" then fail("%s: option '%s' must be true or false, got %s", name, k, tostring(v)) end
    end
    cfg[k] = v
  end
  return cfg
end

-- The generator's layers: T stages of 4x4 ConvT (1 -> 4, then x2 each),
-- each followed by a SASTM when sastm_opts is given, then BN -> ReLU (Tanh
-- after the last); also the index in the list of each stage's SASTM.
local function deconv_stack(c, sastm_opts)
  local T = SIZES[c.size]
  local layers, sastm_index = {}, {}
  local cin, hw = c.nz, 1
  for t = 1, T do
    local last = t == T
    local cout = math.tointeger(last and c.nc or c.ngf * 2 ^ (T - 1 - t))
    layers[#layers + 1] = nn.ConvTranspose2d(cin, cout, 4, {stride = t == 1 and 1 or 2, padding = t == 1 and 0 or 1,
      bias = false})
    hw = t == 1 and 4 or hw * 2
    if sastm_opts then
      layers[#layers + 1] = nn.SASTM(cout, hw, hw, c.nz, sastm_opts)
      sastm_index[t] = #layers
    end
    if last then
      layers[#layers + 1] = nn.Tanh()
    else
      layers[#layers + 1] = nn.BatchNorm2d(cout)
      layers[#layers + 1] = nn.ReLU()
    end
    cin = cout
  end
  return layers, sastm_index
end

local Generator = nn.Module:extend("SelfSparseGenerator")

function Generator:init(opts)
  local c = options("Generator", opts, {
    nz = {kind = "int", default = 100}, ngf = {kind = "int", default = 64},
    nc = {kind = "int", default = 3}, size = {kind = "size", default = 32},
    csm = {kind = "bool", default = true}, psm = {kind = "bool", default = true},
    hidden = {kind = "int"},
  })
  if not c.csm and not c.psm then
    fail("Generator: csm = false and psm = false leave the SASTMs no coefficient (every feature map would be 0)")
  end
  local T = SIZES[c.size]
  self.nz, self.ngf, self.nc, self.size, self.stages = c.nz, c.ngf, c.nc, c.size, T
  self.csm, self.psm = c.csm, c.psm
  local layers, sastm_index = deconv_stack(c, {hidden = c.hidden, csm = c.csm, psm = c.psm})
  self.sastm_index = sastm_index
  self.n_layers = #layers
  self.main = nn.Sequential(table.unpack(layers))
  self:apply(dcgan.init_weights)
end

local function check_z(name, z, nz)
  if not is_tensor(z) then fail("%s: z expected a tensor, got %s", name, type(z)) end
  if z:dim() == 2 then z = z:view(z:size(1), z:size(2), 1, 1) end
  if z:dim() ~= 4 or z:size(2) ~= nz or z:size(3) ~= 1 or z:size(4) ~= 1 then
    fail("%s: z is %s, expected N x %d x 1 x 1 (or N x %d)", name, table.concat(z:shape(), "x"), nz, nz)
  end
  return z
end

-- G(z) -> x, N x nc x size x size in (-1, 1); z is N x nz or N x nz x 1 x 1.
-- G(z, {return_features = true}) -> x, {x^1, ..., x^T}: the SASTM outputs.
function Generator:forward(z, opts)
  local want = false
  if opts ~= nil then
    if type(opts) ~= "table" or is_tensor(opts) then
      fail("Generator: forward: argument 2 expected an options table ({return_features = true}), got %s", type(opts))
    end
    for k in pairs(opts) do
      if k ~= "return_features" then
        fail("Generator: forward: unknown option '%s' (expected return_features)", tostring(k))
      end
    end
    want = opts.return_features == true
  end
  z = check_z("Generator", z, self.nz)
  local zf = z:reshape(z:size(1), self.nz)
  local m, h, feats = self.main, z, {}
  local is_sastm = {}
  for _, i in ipairs(self.sastm_index) do is_sastm[i] = true end
  for i = 1, self.n_layers do
    if is_sastm[i] then
      h = m[i](h, zf)
      feats[#feats + 1] = h
    else
      h = m[i](h)
    end
  end
  if want then return h, feats end
  return h
end

-- The SASTM modules, stage 1 first.
function Generator:sastms()
  local out = {}
  for t, i in ipairs(self.sastm_index) do out[t] = self.main[i] end
  return out
end

-- Sparse rates of the last forward: {stages = {r^1, ..., r^T}, xi_bar, zeta_mean}
-- with r^t = {stage = t, channels, size, xi_mean ((1/C^t) Σ ξ_i^t), zeta
-- (Eq. 5, batch mean), zeta_batch, alpha_zero, beta_zero} from
-- SASTM:sparse_rates(), xi_bar = Eq. 15 ((1/T) Σ_t xi_mean^t) and zeta_mean
-- the mean of zeta over the stages.
function Generator:sparse_rates()
  local stages, xs, zs = {}, 0, 0
  for t, s in ipairs(self:sastms()) do
    local r = s:sparse_rates()
    stages[t] = {stage = t, channels = r.channels, size = s.height, xi_mean = r.xi_mean, zeta = r.zeta,
      zeta_batch = r.zeta_batch, alpha_zero = r.alpha_zero, beta_zero = r.beta_zero}
    xs, zs = xs + r.xi_mean, zs + r.zeta
  end
  return {stages = stages, xi_bar = xs / #stages, zeta_mean = zs / #stages}
end

local Critic = nn.Module:extend("SelfSparseCritic")

function Critic:init(opts)
  local c = options("Critic", opts, {ndf = {kind = "int", default = 64}, nc = {kind = "int", default = 3},
    size = {kind = "size", default = 32}})
  self.nc, self.size = c.nc, c.size
  local layers, cin, w, s = {}, c.nc, c.ndf, c.size
  while s > 4 do
    layers[#layers + 1] = nn.Conv2d(cin, w, 4, {stride = 2, padding = 1})
    layers[#layers + 1] = nn.LeakyReLU(0.2)
    cin, w, s = w, w * 2, s // 2
  end
  layers[#layers + 1] = nn.Conv2d(cin, 1, 4, {stride = 1, padding = 0})
  self.main = nn.Sequential(table.unpack(layers))
  self:apply(dcgan.init_weights)
  for name, p in self:named_parameters() do
    if name:match("%.bias$") then sg.no_grad(function() p:zero_() end) end
  end
end

-- x: N x nc x size x size -> N scores
function Critic:forward(x)
  if not is_tensor(x) or x:dim() ~= 4 or x:size(2) ~= self.nc or x:size(3) ~= self.size or x:size(4) ~= self.size then
    fail("Critic: input is %s, expected N x %d x %d x %d", is_tensor(x) and table.concat(x:shape(), "x") or type(x),
      self.nc, self.size, self.size)
  end
  return self.main(x):view(-1)
end

-- The paper's baseline (§4.2, "WGAN-GP"): Generator's layers without the
-- SASTMs, ConvT -> BN -> ReLU per stage and ConvT -> Tanh last, initialized
-- like the others (models/dcgan.lua's generator at size 32). Options nz,
-- ngf, nc, size as Generator's.
local PlainGenerator = nn.Module:extend("PlainDCGANGenerator")

function PlainGenerator:init(opts)
  local o = options("PlainGenerator", opts, {nz = {kind = "int", default = 100}, ngf = {kind = "int", default = 64},
    nc = {kind = "int", default = 3}, size = {kind = "size", default = 32}})
  local layers = deconv_stack(o, nil)
  self.main = nn.Sequential(table.unpack(layers))
  self:apply(dcgan.init_weights)
end

function PlainGenerator:forward(z) return self.main(z) end

self_sparse.Generator = Generator
self_sparse.PlainGenerator = PlainGenerator
self_sparse.Critic = Critic

return self_sparse
