-- SPGAN (Mahdizadehaghdam, Panahi, Krim, "Sparse Generative Adversarial
-- Network", §4.1-4.2): a generator that emits one sparse code per image patch
-- and multiplies it by a dictionary Ω learned beforehand on image patches
-- (sg.sparse.learn_dictionary, Eq. 5); overlapping patches are averaged.
--
--   local spgan = require "models.spgan"
--   local omega = sg.sparse.learn_dictionary(patches, {atoms = 100})   -- m x atoms, m = nc*patch*patch
--   local G = spgan.Generator({nz = 100, ngf = 64, nc = 3, atoms = 100, omega = omega})
--   local x, gammas = G(z, {return_gamma = true})   -- x: N x nc x 32 x 32; gammas[1] = Γ: N x atoms x 32 x 32
--   local E = spgan.Reconstructor({nc = 3, nz = 100, ndf = 64})      -- N x nc x 32 x 32 -> N x nz
--   local lossR = spgan.reconstruction_loss(x_real, G(E(x_real)))    -- L_R of Eq. 4: mean_n ||x_n - G(E(x_n))||^2
--
-- Generator:
--   A(z): the DCGAN trunk of models/dcgan.lua (ConvT(nz -> 4 ngf) 1 -> 4, BN
--   ReLU, -> 2 ngf 8x8, BN ReLU, -> ngf 16x16, BN ReLU), then
--   ConvT(ngf -> atoms, 4x4 stride 2 pad 1) -> 32x32 with no BN or activation:
--   one signed depth vector a (atoms entries) per pixel (the paper's CIFAR-10
--   generator ends at 32 x 32 x k with k = 100 atoms).
--   Γ = S_λ(A(z)): nn.SoftThreshold, λ one value per atom, learnable
--   (learnable_lambda = true, the default) or fixed.
--   x = P(Γ Ω): the code at pixel (i, j) makes the patch Ω γ_ij (nc x p x p)
--   centred on (i, j) (p odd, stride 1); every pixel is the mean of the
--   patches that cover it (9 inside, 6 on the edges, 4 at the corners for
--   p = 3; parts of patches outside the image are dropped). Computed as
--   conv_transpose2d(Γ, W, padding (p-1)/2) / count, W = Ωᵀ reshaped to
--   atoms x nc x p x p and count = conv_transpose2d(1, 1_{p x p}) (the
--   per-pixel overlap, a non-persistent buffer). No Tanh (tanh = true adds
--   one; the paper has none).
-- Ω (m x atoms, the layout learn_dictionary returns, columns as unit-norm
-- atoms vectorised c, row, column) is the buffer `omega`: not a parameter (the
-- optimizer never sees it, no gradient reaches it) but in the state_dict.
-- Without `omega` the generator draws a random unit-norm Ω (N(0, 1) columns,
-- normalised) from the global RNG; G:set_dictionary(omega) copies a learned
-- one in. A learnable λ may be pushed below 0 by the optimizer (the soft
-- threshold then enlarges the codes): call G:project_lambda() after each step.
--
-- Options of Generator: nz (100), ngf (64), nc (3), atoms (100), patch (3, odd),
-- lambda (0.1: the initial or fixed threshold, >= 0), learnable_lambda (true),
-- omega (an m x atoms tensor), tanh (false).
-- State_dict: main.0 ... main.9 (the trunk, the last ConvT is main.9),
-- threshold.lambda (learnable λ, atoms x 1 x 1), omega.
--
-- Reconstructor E (§4.2; the paper uses a ResNet-50, we use the critic's
-- trunk): Conv(nc -> ndf, 4x4 s2 p1) LReLU(0.2), Conv(-> 2 ndf) LReLU,
-- Conv(-> 4 ndf) LReLU (4x4), Flatten, Linear(4 ndf * 16 -> nz). Options nc
-- (3), nz (100), ndf (64). Conv weights N(0, 0.02), biases 0; Linear: PyTorch's.
local sg = require "sgen"
local nn = sg.nn
local dcgan = require "models.dcgan"

local spgan = {}

local TensorMT = getmetatable(sg.zeros(0))
local function is_tensor(v) return getmetatable(v) == TensorMT end

local function fail(fmt, ...) error(string.format("models.spgan: " .. fmt, ...), 0) end

local function shape_str(t) return table.concat(t:shape(), "x") end

-- options(name, opts, spec): spec maps each option to {kind, default}; kinds
-- "int" (positive integer), "odd" (positive odd integer), "nonneg" (a number
-- >= 0), "bool", "tensor".
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
    if s.kind == "int" or s.kind == "odd" then
      if math.type(v) ~= "integer" or v < 1 or (s.kind == "odd" and v % 2 == 0) then
        fail("%s: option '%s' must be a positive %sinteger, got %s", name, k,
          s.kind == "odd" and "odd " or "", tostring(v))
      end
    elseif s.kind == "nonneg" then
      if type(v) ~= "number" or v ~= v or v < 0 or v == math.huge then
        fail("%s: option '%s' must be a finite number >= 0, got %s", name, k, tostring(v))
      end
    elseif s.kind == "bool" then
      if type(v) ~= "boolean" then fail("%s: option '%s' must be true or false, got %s", name, k, tostring(v)) end
    elseif s.kind == "tensor" then
      if not is_tensor(v) then fail("%s: option '%s' must be a tensor, got %s", name, k, type(v)) end
    end
    cfg[k] = v
  end
  return cfg
end

local function check_omega(name, omega, m, atoms)
  if not is_tensor(omega) then fail("%s: Ω expected a tensor, got %s", name, type(omega)) end
  if omega:dim() ~= 2 or omega:size(1) ~= m or omega:size(2) ~= atoms then
    fail("%s: Ω is %s, expected %d x %d (nc*patch*patch x atoms, as sg.sparse.learn_dictionary returns)",
      name, shape_str(omega), m, atoms)
  end
end

local Generator = nn.Module:extend("SPGANGenerator")

function Generator:init(opts)
  local c = options("Generator", opts, {
    nz = {kind = "int", default = 100}, ngf = {kind = "int", default = 64},
    nc = {kind = "int", default = 3}, atoms = {kind = "int", default = 100},
    patch = {kind = "odd", default = 3}, lambda = {kind = "nonneg", default = 0.1},
    learnable_lambda = {kind = "bool", default = true}, omega = {kind = "tensor"},
    tanh = {kind = "bool", default = false},
  })
  if c.patch > 31 then fail("Generator: option 'patch' must be at most 31 (32x32 images), got %d", c.patch) end
  self.nz, self.ngf, self.nc, self.atoms, self.patch = c.nz, c.ngf, c.nc, c.atoms, c.patch
  self.size = 32
  self.use_tanh = c.tanh
  local m = c.nc * c.patch * c.patch
  if c.omega ~= nil then check_omega("Generator", c.omega, m, c.atoms) end
  local g = c.ngf
  local function up(cin, cout, stride, pad)
    return nn.ConvTranspose2d(cin, cout, 4, {stride = stride, padding = pad, bias = false})
  end
  self.main = nn.Sequential(
    up(c.nz, g * 4, 1, 0), nn.BatchNorm2d(g * 4), nn.ReLU(),
    up(g * 4, g * 2, 2, 1), nn.BatchNorm2d(g * 2), nn.ReLU(),
    up(g * 2, g, 2, 1), nn.BatchNorm2d(g), nn.ReLU(),
    up(g, c.atoms, 2, 1))
  self:apply(dcgan.init_weights)
  self.threshold = nn.SoftThreshold(c.lambda, c.learnable_lambda and {learnable = true, channels = c.atoms} or nil)
  local omega
  if c.omega ~= nil then
    omega = c.omega:detach():float():contiguous():clone()
  else
    omega = sg.randn(m, c.atoms)
    omega = omega / omega:norm(2, 1, true)
  end
  self:register_buffer("omega", omega)
  local pad = (c.patch - 1) // 2
  local count = sg.F.conv_transpose2d(sg.ones(1, 1, self.size, self.size), sg.ones(1, 1, c.patch, c.patch),
    nil, {padding = pad})
  self:register_buffer("overlap", count, false)
end

-- Copy a learned dictionary (m x atoms) into the buffer `omega`.
function Generator:set_dictionary(omega)
  check_omega("Generator:set_dictionary", omega, self.nc * self.patch * self.patch, self.atoms)
  local o = self.omega
  sg.no_grad(function() o:copy_(omega:detach():to(o:device()):to(o:dtype())) end)
  return self
end

-- Clamp a learnable λ to >= 0 in place (after an optimizer step).
function Generator:project_lambda()
  if self.threshold.learnable then
    local l = self.threshold.lambda
    sg.no_grad(function() l:copy_(l:clamp(0, math.huge)) end)
  end
  return self
end

-- The dictionary as ConvTranspose2d weights: atoms x nc x patch x patch.
function Generator:atoms_weight()
  return self.omega:t():reshape(self.atoms, self.nc, self.patch, self.patch)
end

-- P(Γ Ω): the patches of the codes Γ (N x atoms x 32 x 32) placed on the
-- image and averaged where they overlap.
function Generator:assemble(gamma)
  if not is_tensor(gamma) or gamma:dim() ~= 4 or gamma:size(2) ~= self.atoms or gamma:size(3) ~= self.size
      or gamma:size(4) ~= self.size then
    fail("Generator:assemble: Γ is %s, expected N x %d x %d x %d", is_tensor(gamma) and shape_str(gamma) or type(gamma),
      self.atoms, self.size, self.size)
  end
  local sum = sg.F.conv_transpose2d(gamma, self:atoms_weight(), nil, {padding = (self.patch - 1) // 2})
  return sum / self.overlap
end

local function check_z(name, z, nz)
  if not is_tensor(z) then fail("%s: z expected a tensor, got %s", name, type(z)) end
  if z:dim() == 2 then z = z:view(z:size(1), z:size(2), 1, 1) end
  if z:dim() ~= 4 or z:size(2) ~= nz or z:size(3) ~= 1 or z:size(4) ~= 1 then
    fail("%s: z is %s, expected N x %d x 1 x 1 (or N x %d)", name, shape_str(z), nz, nz)
  end
  return z
end

local function wants_gamma(name, opts)
  if opts == nil then return false end
  if type(opts) ~= "table" or is_tensor(opts) then
    fail("%s: forward: argument 2 expected an options table ({return_gamma = true}), got %s", name, type(opts))
  end
  for k in pairs(opts) do
    if k ~= "return_gamma" then fail("%s: forward: unknown option '%s' (expected return_gamma)", name, tostring(k)) end
  end
  return opts.return_gamma == true
end

-- The codes before the threshold: A(z), N x atoms x 32 x 32.
function Generator:codes(z)
  return self.main(check_z("Generator", z, self.nz))
end

-- G(z) -> x (N x nc x 32 x 32); G(z, {return_gamma = true}) -> x, {Γ}.
function Generator:forward(z, opts)
  local want = wants_gamma("Generator", opts)
  local gamma = self.threshold(self:codes(z))
  local x = self:assemble(gamma)
  if self.use_tanh then x = x:tanh() end
  if want then return x, {gamma} end
  return x
end

-- The current thresholds as a Lua list (one per atom; one value for a fixed λ).
function Generator:lambdas()
  if self.threshold.learnable then return self.threshold.lambda:detach():reshape(-1):totable() end
  return {self.threshold.value}
end

local Reconstructor = nn.Module:extend("SPGANReconstructor")

function Reconstructor:init(opts)
  local c = options("Reconstructor", opts, {nc = {kind = "int", default = 3}, nz = {kind = "int", default = 100},
    ndf = {kind = "int", default = 64}})
  self.nc, self.nz = c.nc, c.nz
  local d = c.ndf
  local function down(cin, cout) return nn.Conv2d(cin, cout, 4, {stride = 2, padding = 1}) end
  self.main = nn.Sequential(
    down(c.nc, d), nn.LeakyReLU(0.2),
    down(d, d * 2), nn.LeakyReLU(0.2),
    down(d * 2, d * 4), nn.LeakyReLU(0.2),
    nn.Flatten(),
    nn.Linear(d * 4 * 16, c.nz))
  self:apply(dcgan.init_weights)
  for name, p in self:named_parameters() do
    if name:match("^main%.[024]%.bias$") then sg.no_grad(function() p:zero_() end) end
  end
end

-- x: N x nc x 32 x 32 -> z: N x nz
function Reconstructor:forward(x)
  if not is_tensor(x) or x:dim() ~= 4 or x:size(2) ~= self.nc or x:size(3) ~= 32 or x:size(4) ~= 32 then
    fail("Reconstructor: input is %s, expected N x %d x 32 x 32", is_tensor(x) and shape_str(x) or type(x), self.nc)
  end
  return self.main(x)
end

-- reconstruction_loss(a, b, {squared = true}) -> mean over the batch of
-- ||a_n - b_n||_2^2 (squared = true: Eq. 4's L_R and its constraint) or of
-- ||a_n - b_n||_2 (squared = false: Algorithm 1 line 18 and Eq. 6). Use it
-- for L_R (a = x, b = G(E(x))) and for the encoder's loss (a = z, b = E(G(z))).
function spgan.reconstruction_loss(a, b, opts)
  if not is_tensor(a) or not is_tensor(b) then
    fail("reconstruction_loss: expected two tensors, got %s and %s", type(a), type(b))
  end
  if shape_str(a) ~= shape_str(b) or a:dim() < 1 then
    fail("reconstruction_loss: shapes %s and %s differ (expected N x ... twice)", shape_str(a), shape_str(b))
  end
  local o = options("reconstruction_loss", opts, {squared = {kind = "bool", default = true}})
  local sq = ((a - b) ^ 2):reshape(a:size(1), -1):sum(2)
  if o.squared then return sq:mean() end
  return (sq + 1e-12):sqrt():mean()
end

spgan.Generator = Generator
spgan.Reconstructor = Reconstructor
spgan.Critic = dcgan.Critic

return spgan
