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

local function options(name, opts, defaults)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then fail("%s: expected an options table, got %s", name, type(opts)) end
  local cfg = {}
  for k, v in pairs(defaults) do cfg[k] = v end
  for k, v in pairs(opts) do
    if defaults[k] == nil then
      local names = {}
      for n in pairs(defaults) do names[#names + 1] = n end
      table.sort(names)
      fail("%s: unknown option '%s' (expected %s)", name, tostring(k), table.concat(names, ", "))
    end
    if math.type(v) ~= "integer" or v < 1 then
      fail("%s: option '%s' must be a positive integer, got %s", name, k, tostring(v))
    end
    cfg[k] = v
  end
  return cfg
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

function Generator:init(opts)
  local c = options("Generator", opts, {nz = 100, ngf = 64, nc = 3})
  self.nz = c.nz
  local g = c.ngf
  local function up(cin, cout, stride, pad)
    return nn.ConvTranspose2d(cin, cout, 4, {stride = stride, padding = pad, bias = false})
  end
  self.main = nn.Sequential(
    up(c.nz, g * 4, 1, 0), nn.BatchNorm2d(g * 4), nn.ReLU(),
    up(g * 4, g * 2, 2, 1), nn.BatchNorm2d(g * 2), nn.ReLU(),
    up(g * 2, g, 2, 1), nn.BatchNorm2d(g), nn.ReLU(),
    up(g, c.nc, 2, 1), nn.Tanh())
  self:apply(dcgan.init_weights)
end

function Generator:forward(z)
  if z:dim() == 2 then z = z:view(z:size(1), z:size(2), 1, 1) end
  if z:dim() ~= 4 or z:size(2) ~= self.nz or z:size(3) ~= 1 or z:size(4) ~= 1 then
    fail("Generator: z is %s, expected N x %d x 1 x 1 (or N x %d)", table.concat(z:shape(), "x"),
      self.nz, self.nz)
  end
  return self.main(z)
end

local Discriminator = nn.Module:extend("DCGANDiscriminator")

function Discriminator:init(opts)
  local c = options("Discriminator", opts, {ndf = 64, nc = 3})
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

return dcgan
