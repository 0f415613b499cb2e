-- Sequential and ModuleList. Children are named "0", "1", ... as in PyTorch
-- (so state_dict names match: "features.0.weight"), while Lua indexing is
-- 1-based: seq[1] is the child named "0"; #seq counts the children.
local U = require "sgen.nn.util"
local M = require "sgen.nn.module"

local Module = M.Module

local function at(self, i)
  local keys = self._modules.keys
  local n = #keys
  if math.type(i) ~= "integer" then
    if type(i) == "number" and i == math.floor(i) then i = math.tointeger(i) else return nil end
  end
  if i < 0 then i = n + 1 + i end
  if i < 1 or i > n then return nil end
  return self._modules.map[keys[i]]
end

local function len(self) return #self._modules.keys end

local function append(self, m)
  local name = getmetatable(self).__name
  if not U.is_module(m) then
    U.fail(name, "expected a module, got %s", U.typename(m))
  end
  self:add_module(tostring(#self._modules.keys), m)
  return self
end

-- nn.Sequential(m1, m2, ...): forward runs the children in order.
local Sequential = Module:extend("Sequential")
Sequential.__index_number = at
Sequential.__len = len

function Sequential:init(...)
  local n = select("#", ...)
  for i = 1, n do
    local m = select(i, ...)
    if not U.is_module(m) then
      U.fail("Sequential", "argument %d expected a module, got %s", i, U.typename(m))
    end
    self:add_module(tostring(i - 1), m)
  end
end

-- seq:add(m) / seq:append(m): adds a child at the end (named by its 0-based position).
Sequential.add = append
Sequential.append = append

-- A BatchNorm followed by a plain ReLU / LeakyReLU runs as one fused op
-- (BatchNorm:_fusable_activation): one pass over the activations instead of
-- several; the same output bit for bit, gradients equal to rounding.
function Sequential:forward(x, ...)
  local keys, map = self._modules.keys, self._modules.map
  local extra = select("#", ...) > 0
  local i, n = 1, #keys
  while i <= n do
    local m = map[keys[i]]
    local act, slope
    if i < n and not extra and m._fusable_activation then
      act, slope = m:_fusable_activation(map[keys[i + 1]])
    end
    if act then
      x = m:_forward_act(x, act, slope)
      i = i + 2
    else
      x = m(x, ...)
      i = i + 1
    end
  end
  return x
end

-- nn.ModuleList({m1, m2, ...}): holds modules (registered, so their
-- parameters are found) without a forward of its own.
local ModuleList = Module:extend("ModuleList")
ModuleList.__index_number = at
ModuleList.__len = len
ModuleList.append = append
ModuleList.add = append

function ModuleList:init(list)
  if list == nil then return end
  if type(list) ~= "table" or U.is_module(list) then
    U.fail("ModuleList", "expected a list of modules, got %s", U.typename(list))
  end
  for i, m in ipairs(list) do
    if not U.is_module(m) then
      U.fail("ModuleList", "entry %d expected a module, got %s", i, U.typename(m))
    end
    self:add_module(tostring(i - 1), m)
  end
end

-- for i, m in list:ipairs() do ... end  (1-based)
local function iter(self)
  local i = 0
  return function()
    i = i + 1
    local m = at(self, i)
    if m then return i, m end
  end
end
ModuleList.ipairs = iter
Sequential.ipairs = iter

function ModuleList:forward()
  U.fail("ModuleList", "a ModuleList has no forward; iterate over it in your module's forward")
end

return {Sequential = Sequential, ModuleList = ModuleList}
