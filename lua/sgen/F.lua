-- sg.F: functional neural-network ops (PyTorch's torch.nn.functional).
--   local F = require("sgen").F
--   local y = F.conv2d(x, w, nil, {padding = 1})
-- Tensors are positional (nil = absent), settings go in a trailing options
-- table. Dims, returned indices and class labels are 1-based.
-- The ops live in C (sgen.core, bindings/lsg_nn.c); the activations below are
-- the core elementwise functions or short compositions of them.
local core = require "sgen.core"

local F = {}

local from_core = {
  -- bindings/lsg_nn.c
  "conv2d", "conv_transpose2d", "linear", "unfold", "fold",
  "batch_norm", "instance_norm", "layer_norm",
  "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
  "interpolate", "pad", "pixel_shuffle",
  "softmax", "log_softmax", "dropout",
  "mse_loss", "l1_loss", "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss",
  -- activations (bindings/lsg_elementwise.c)
  "relu", "leaky_relu", "sigmoid", "tanh", "softplus",
}
for _, name in ipairs(from_core) do
  F[name] = assert(core[name], "sgen.core lacks " .. name)
end

local is_tensor = require("sgen.util.check").is_tensor

local function check_tensor(fname, x)
  if not is_tensor(x) then
    error(string.format("sgen.%s: argument 1 (input) expected a tensor, got %s", fname,
      type(x)), 0)
  end
end

-- elu(x, alpha=1): x where x > 0, alpha * (exp(x) - 1) elsewhere.
function F.elu(x, alpha)
  check_tensor("elu", x)
  if alpha ~= nil and type(alpha) ~= "number" then
    error("sgen.elu: argument 2 (alpha) expected a number, got " .. type(alpha), 0)
  end
  alpha = alpha or 1.0
  -- exp of the clamped negative part keeps large positive x from overflowing
  local neg = core.mul(core.expm1(core.clamp(x, nil, 0)), alpha)
  return core.where(core.gt(x, 0), x, neg)
end

-- silu(x) = x * sigmoid(x) (also called swish).
function F.silu(x)
  check_tensor("silu", x)
  return core.mul(x, core.sigmoid(x))
end

-- one_hot, gelu, binary_cross_entropy, normalize, cosine_similarity,
-- embedding, group_norm (lua/sgen/F_compose.lua)
for k, v in pairs(require "sgen.F_compose") do F[k] = v end

-- coding_rate, rate_reduction (lua/sgen/F_rate.lua)
for k, v in pairs(require "sgen.F_rate") do F[k] = v end

return F
