-- ReLU, LeakyReLU, Tanh, Sigmoid, Softmax, LogSoftmax, SiLU, GELU.
local sg = require "sgen"
local U = require "sgen.nn.util"
local M = require "sgen.nn.module"

local Module = M.Module

local function input(name, x)
  if not U.is_tensor(x) then U.fail(name, "expected a tensor input, got %s", U.typename(x)) end
  return x
end

-- `inplace` is accepted for PyTorch compatibility (shown by __tostring) but
-- sgen always computes out of place: the result is the same.
local function inplace_arg(name, v)
  if type(v) == "table" and not U.is_tensor(v) then
    local o = U.opts(name, v, {"inplace"})
    v = o.inplace
  end
  if v == nil then return false end
  return U.bool(name, "inplace", v)
end

-- nn.ReLU({inplace=false})
local ReLU = Module:extend("ReLU")
function ReLU:init(inplace) self.inplace = inplace_arg("ReLU", inplace) end
function ReLU:forward(x) return input("ReLU", x):relu() end
function ReLU:extra_repr() return self.inplace and "inplace=True" or "" end

-- nn.LeakyReLU(negative_slope=0.01, {inplace=false})
local LeakyReLU = Module:extend("LeakyReLU")
function LeakyReLU:init(negative_slope, opts)
  if type(negative_slope) == "table" then
    opts, negative_slope = negative_slope, nil
  end
  self.negative_slope = U.num("LeakyReLU", "negative_slope",
    negative_slope == nil and 0.01 or negative_slope)
  self.inplace = inplace_arg("LeakyReLU", opts)
end
function LeakyReLU:forward(x) return input("LeakyReLU", x):leaky_relu(self.negative_slope) end
function LeakyReLU:extra_repr()
  return "negative_slope=" .. U.pyfloat(self.negative_slope) ..
    (self.inplace and ", inplace=True" or "")
end

-- nn.Tanh(), nn.Sigmoid()
local Tanh = Module:extend("Tanh")
function Tanh:forward(x) return input("Tanh", x):tanh() end

local Sigmoid = Module:extend("Sigmoid")
function Sigmoid:forward(x) return input("Sigmoid", x):sigmoid() end

-- nn.Softmax(dim), nn.LogSoftmax(dim): dim 1-based (negative from the end).
local function dim_arg(name, dim)
  if type(dim) == "table" and not U.is_tensor(dim) then
    dim = U.opts(name, dim, {"dim"}).dim
  end
  if math.type(dim) ~= "integer" and not (type(dim) == "number" and U.is_int(dim)) or dim == 0 then
    U.fail(name, "dim must be a non-zero integer (1-based, negative from the end), got %s",
      type(dim) == "number" and tostring(dim) or U.typename(dim))
  end
  return math.tointeger(dim)
end

local Softmax = Module:extend("Softmax")
function Softmax:init(dim) self.dim = dim_arg("Softmax", dim) end
function Softmax:forward(x) return sg.F.softmax(input("Softmax", x), self.dim) end
function Softmax:extra_repr() return "dim=" .. self.dim end

local LogSoftmax = Module:extend("LogSoftmax")
function LogSoftmax:init(dim) self.dim = dim_arg("LogSoftmax", dim) end
function LogSoftmax:forward(x) return sg.F.log_softmax(input("LogSoftmax", x), self.dim) end
function LogSoftmax:extra_repr() return "dim=" .. self.dim end

-- nn.SiLU({inplace=false}): x * sigmoid(x).
local SiLU = Module:extend("SiLU")
function SiLU:init(inplace) self.inplace = inplace_arg("SiLU", inplace) end
function SiLU:forward(x) return sg.F.silu(input("SiLU", x)) end
function SiLU:extra_repr() return self.inplace and "inplace=True" or "" end

-- nn.GELU({approximate="none"|"tanh"})
local GELU = Module:extend("GELU")
function GELU:init(opts)
  if type(opts) == "string" then opts = {approximate = opts} end
  local o = U.opts("GELU", opts, {"approximate"})
  local a = o.approximate or "none"
  if a ~= "none" and a ~= "tanh" then
    U.fail("GELU", "option 'approximate' must be \"none\" or \"tanh\", got %s", tostring(a))
  end
  self.approximate = a
end
function GELU:forward(x) return sg.F.gelu(input("GELU", x), {approximate = self.approximate}) end
function GELU:extra_repr() return "approximate='" .. self.approximate .. "'" end

return {ReLU = ReLU, LeakyReLU = LeakyReLU, Tanh = Tanh, Sigmoid = Sigmoid, Softmax = Softmax,
        LogSoftmax = LogSoftmax, SiLU = SiLU, GELU = GELU}
