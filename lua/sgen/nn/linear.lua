-- Linear and Identity.
local sg = require "sgen"
local U = require "sgen.nn.util"
local M = require "sgen.nn.module"
local init = require "sgen.nn.init_fns"

local Module = M.Module
local L = {}

-- A new parameter of the given shape (uninitialized), with the factory
-- options {dtype=, device=} of a constructor.
function L.new_param(shape, o)
  return sg.empty(shape, {dtype = o.dtype or "float32", device = o.device or "cpu"}):requires_grad_()
end

-- PyTorch's reset_parameters of Linear and ConvNd: kaiming_uniform_(a=sqrt(5))
-- on the weight (a bound of 1/sqrt(fan_in)), U(-1/sqrt(fan_in), 1/sqrt(fan_in))
-- on the bias.
function L.reset_linear_like(weight, bias)
  init.kaiming_uniform_(weight, {a = math.sqrt(5)})
  if bias ~= nil then
    local fan_in = init.calculate_fan_in_and_fan_out(weight)
    local bound = fan_in > 0 and 1 / math.sqrt(fan_in) or 0
    init.uniform_(bias, -bound, bound)
  end
end

-- nn.Linear(in_features, out_features, {bias=true, dtype=, device=})
local Linear = Module:extend("Linear")

function Linear:init(in_features, out_features, opts)
  local o = U.opts("Linear", opts, {"bias", "dtype", "device"})
  self.in_features = U.int("Linear", "in_features", in_features, 0)
  self.out_features = U.int("Linear", "out_features", out_features, 0)
  local bias = o.bias == nil and true or U.bool("Linear", "option 'bias'", o.bias)
  self.weight = L.new_param({self.out_features, self.in_features}, o)
  if bias then self.bias = L.new_param({self.out_features}, o) end
  self:reset_parameters()
end

function Linear:reset_parameters()
  L.reset_linear_like(self.weight, self.bias)
end

function Linear:forward(x)
  if not U.is_tensor(x) then U.fail("Linear", "expected a tensor input, got %s", U.typename(x)) end
  local s = x:shape()
  if #s == 0 or s[#s] ~= self.in_features then
    U.fail("Linear", "input's last dim is %s (%s), expected in_features = %d",
      #s == 0 and "missing" or tostring(s[#s]), U.shape_str(x), self.in_features)
  end
  return sg.F.linear(x, self.weight, self.bias)
end

function Linear:extra_repr()
  return string.format("in_features=%d, out_features=%d, bias=%s", self.in_features,
    self.out_features, U.py(self.bias ~= nil))
end

-- nn.Identity(): returns its input.
local Identity = Module:extend("Identity")

function Identity:init() end -- accepts and ignores arguments, as PyTorch

function Identity:forward(x) return x end

return {Linear = Linear, Identity = Identity, _helpers = L}
