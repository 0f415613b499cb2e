-- A small CNN for 28x28 or 32x32 grayscale images (Fashion-MNIST / MNIST):
--   conv 1->32 3x3, BN, ReLU, max-pool 2  (28 -> 14, or 32 -> 16)
--   conv 32->64 3x3, BN, ReLU, max-pool 2 (14 -> 7,  or 16 -> 8)
--   flatten, linear 3136->128 (32x32: 4096->128), ReLU
--                                          = features(x), the penultimate layer
--   linear 128->10                         = class logits (labels 1..10)
-- FmnistCNN() takes 28x28 inputs; FmnistCNN({size = 32}) takes the 32x32
-- layout of the GAN work (Fashion-MNIST padded by 2, see
-- sg.data.fashion_mnist32), the network behind sg.metrics.frechet_features.
-- Both have the same state-dict names, which follow PyTorch (body.0.weight,
-- ..., head.weight), so the same network written in PyTorch loads these
-- weights and vice versa.
local sg = require "sgen"
local nn = sg.nn

local FmnistCNN = nn.Module:extend("FmnistCNN")

function FmnistCNN:init(opts)
  opts = opts or {}
  local c1, c2, hidden = opts.c1 or 32, opts.c2 or 64, opts.hidden or 128
  local size = opts.size or 28
  if math.type(size) ~= "integer" and not (type(size) == "number" and size == math.floor(size)) then
    error("FmnistCNN: option size expected an integer (28 or 32), got " .. tostring(size), 2)
  end
  size = math.tointeger(size)
  if size < 4 or size % 4 ~= 0 then
    error("FmnistCNN: option size must be a positive multiple of 4 (28 or 32), got " .. size, 2)
  end
  self.size = size
  local s = size // 4 -- two 2x2 max-pools
  self.body = nn.Sequential(
    nn.Conv2d(1, c1, 3, {padding = 1}), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(c1, c2, 3, {padding = 1}), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(c2 * s * s, hidden), nn.ReLU())
  self.head = nn.Linear(hidden, opts.classes or 10)
end

-- The 128 penultimate features (the feature space of the Fréchet distance).
function FmnistCNN:features(x)
  return self.body(x)
end

function FmnistCNN:forward(x)
  return self.head(self.body(x))
end

return FmnistCNN
