-- sgen.util.class: the one class helper of the Lua library (nn.Module,
-- the optimizers, the learning-rate schedulers, data.DataLoader).
--
--   local class = require "sgen.util.class"
--   local Base = class("sgen.Base")
--   function Base:init(x) self.x = x end
--   local Sub = class("sgen.Sub", Base)        -- Sub.super == Base
--   local s = Sub(1)                           -- or Sub.new(1): init(self, 1)
--   class.is_instance(s, Base)                 -- true
--
-- A class is the metatable of its instances: __index finds methods in the
-- class, then in its parents; __name names it (error messages, tostring).
-- Metamethods are copied from the parent when the class is made, because
-- Lua looks them up in the metatable itself, never through __index.
-- Construction: cls.new(...) (also cls(...)) makes the instance table with
-- cls.__alloc(cls) when the class has one (an empty table otherwise), sets
-- its metatable and calls self:init(...). A class may replace `new`.
local M = {}

local METAMETHODS = {"__index", "__newindex", "__call", "__tostring", "__len", "__pairs",
                     "__close", "__eq", "__lt", "__le", "__concat"}

-- "sgen.data.DataLoader: 0x5581..." where no class defines __tostring.
local function default_tostring(self)
  return string.format("%s: %p", getmetatable(self).__name, self)
end

local function class_tostring(cls) return cls.__name .. " (class)" end

local function construct(cls, ...)
  local self = setmetatable(cls.__alloc and cls.__alloc(cls) or {}, cls)
  self:init(...)
  return self
end

-- class(name[, parent]) -> a new class.
local function new_class(name, parent)
  if type(name) ~= "string" then
    error("sgen.util.class: argument 1 (name) expected a string, got " .. type(name), 2)
  end
  if parent ~= nil and (type(parent) ~= "table" or rawget(parent, "__name") == nil) then
    error("sgen.util.class: argument 2 (parent) expected a class, got " .. type(parent), 2)
  end
  local cls = {}
  if parent then
    for _, mm in ipairs(METAMETHODS) do cls[mm] = rawget(parent, mm) end
    -- a parent that looks itself up gives a child that looks itself up
    if cls.__index == parent then cls.__index = cls end
  else
    cls.__index = cls
    cls.__tostring = default_tostring
    cls.init = function() end
  end
  cls.__name = name
  cls.super = parent
  cls.new = function(...) return construct(cls, ...) end
  return setmetatable(cls, {
    __index = parent,
    __call = function(c, ...) return c.new(...) end,
    __tostring = class_tostring,
  })
end

-- True when v is an instance of cls or of a class derived from it.
function M.is_instance(v, cls)
  if type(v) ~= "table" then return false end
  local c = getmetatable(v)
  while type(c) == "table" do
    if c == cls then return true end
    c = rawget(c, "super")
  end
  return false
end

return setmetatable(M, {__call = function(_, name, parent) return new_class(name, parent) end})
