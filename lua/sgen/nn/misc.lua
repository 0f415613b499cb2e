-- Dropout, Dropout2d, Upsample, padding layers, Flatten.
local sg = require "sgen"
local U = require "sgen.nn.util"
local M = require "sgen.nn.module"

local Module = M.Module

local function input(name, x)
  if not U.is_tensor(x) then U.fail(name, "expected a tensor input, got %s", U.typename(x)) end
  return x
end

-- nn.Dropout(p=0.5, {inplace=false}): zeroes entries with probability p and
-- scales the rest by 1/(1-p) in training mode; the identity in eval mode.
local Dropout = Module:extend("Dropout")

function Dropout:init(p, opts)
  if type(p) == "table" then opts, p = p, nil end
  local o = U.opts("Dropout", opts, {"p", "inplace"})
  if p == nil then p = o.p end
  if p == nil then p = 0.5 end
  if type(p) ~= "number" or p < 0 or p > 1 then
    U.fail("Dropout", "dropout probability has to be between 0 and 1, but got %s", tostring(p))
  end
  self.p = p
  self.inplace = o.inplace ~= nil and U.bool("Dropout", "option 'inplace'", o.inplace)
end

function Dropout:forward(x)
  return sg.F.dropout(input("Dropout", x), {p = self.p, training = self.training})
end

function Dropout:extra_repr()
  return string.format("p=%s, inplace=%s", U.pyfloat(self.p + 0.0), U.py(self.inplace))
end

-- nn.Dropout2d(p=0.5, {inplace=false}): in training mode zeroes whole
-- channels of an N x C x H x W input (each with probability p, the same for
-- all its positions) and scales the rest by 1/(1-p); the identity in eval mode.
local Dropout2d = Dropout:extend("Dropout2d")

function Dropout2d:forward(x)
  input("Dropout2d", x)
  if x:dim() ~= 4 then
    U.fail("Dropout2d", "input has %d dims (%s), expected 4 (NxCxHxW)", x:dim(), U.shape_str(x))
  end
  if not self.training or self.p == 0 then return x end
  local f = {dtype = x:dtype(), device = x:device()}
  if self.p == 1 then return x * sg.zeros({x:size(1), x:size(2), 1, 1}, f) end
  local keep = sg.bernoulli(sg.full({x:size(1), x:size(2), 1, 1}, 1 - self.p, f))
  return x * (keep / (1 - self.p))
end

-- nn.Upsample({size=, scale_factor=, mode="nearest"|"bilinear", align_corners=})
-- size and scale_factor: a number or a pair {h, w}; exactly one of them.
local Upsample = Module:extend("Upsample")

function Upsample:init(opts)
  local name = self.__name
  local o = U.opts(name, opts, {"size", "scale_factor", "mode", "align_corners"})
  if (o.size == nil) == (o.scale_factor == nil) then
    U.fail(name, "give exactly one of the options 'size' and 'scale_factor'")
  end
  if o.size ~= nil then
    U.pair(name, "option 'size'", o.size, 1)
    self.size = o.size
  else
    local sf = o.scale_factor
    if type(sf) == "table" then
      if #sf ~= 2 then U.fail(name, "option 'scale_factor' must be a number or a pair {h, w}") end
      self.scale_factor = {U.num(name, "scale_factor", sf[1], 0) + 0.0,
                           U.num(name, "scale_factor", sf[2], 0) + 0.0}
    else
      self.scale_factor = U.num(name, "option 'scale_factor'", sf, 0) + 0.0
    end
  end
  self.mode = o.mode or self._default_mode or "nearest"
  if self.mode ~= "nearest" and self.mode ~= "bilinear" then
    U.fail(name, "option 'mode' must be nearest or bilinear, got %s", tostring(self.mode))
  end
  local ac = o.align_corners
  if ac == nil then ac = self._default_align_corners end
  if ac ~= nil then
    U.bool(name, "option 'align_corners'", ac)
    if self.mode == "nearest" and ac then
      U.fail(name, "align_corners option can only be set with the bilinear mode")
    end
  end
  self.align_corners = ac
end

function Upsample:forward(x)
  local name = getmetatable(self).__name
  input(name, x)
  if x:dim() ~= 4 then
    U.fail(name, "input has %d dims (%s), expected 4 (NxCxHxW)", x:dim(), U.shape_str(x))
  end
  return sg.F.interpolate(x, {size = self.size, scale_factor = self.scale_factor,
                              mode = self.mode, align_corners = self.align_corners})
end

function Upsample:extra_repr()
  local info
  if self.scale_factor ~= nil then
    info = "scale_factor=" .. U.py(self.scale_factor)
  else
    info = "size=" .. U.py(self.size)
  end
  return info .. ", mode=" .. self.mode
end

-- nn.UpsamplingNearest2d({size=, scale_factor=}), nn.UpsamplingBilinear2d (align_corners=true)
local UpsamplingNearest2d = Upsample:extend("UpsamplingNearest2d")
UpsamplingNearest2d._default_mode = "nearest"
local UpsamplingBilinear2d = Upsample:extend("UpsamplingBilinear2d")
UpsamplingBilinear2d._default_mode = "bilinear"
UpsamplingBilinear2d._default_align_corners = true

-- ---------------------------------------------------------------- padding
local function pads4(name, padding)
  if type(padding) == "table" and not U.is_tensor(padding) then
    if #padding ~= 4 then
      U.fail(name, "padding must be an integer or 4 integers {left, right, top, bottom}")
    end
    local p = {}
    for i = 1, 4 do p[i] = U.int(name, "padding", padding[i], 0) end
    return p
  end
  local p = U.int(name, "padding", padding, 0)
  return {p, p, p, p}
end

local function pad_forward(self, x)
  local name = getmetatable(self).__name
  input(name, x)
  if x:dim() ~= 3 and x:dim() ~= 4 then
    U.fail(name, "input has %d dims (%s), expected 3 (CxHxW) or 4 (NxCxHxW)", x:dim(),
      U.shape_str(x))
  end
  if self._mode == "constant" then
    return sg.F.pad(x, self.padding, {mode = "constant", value = self.value})
  end
  return sg.F.pad(x, self.padding, {mode = self._mode})
end

local function pad_class(cname, mode)
  local C = Module:extend(cname)
  C._mode = mode
  function C:init(padding) self.padding = pads4(cname, padding) end
  C.forward = pad_forward
  function C:extra_repr() return U.py(self.padding) end
  return C
end

-- nn.ReflectionPad2d(padding), nn.ReplicationPad2d(padding), nn.ZeroPad2d(padding):
-- padding an integer or {left, right, top, bottom}.
local ReflectionPad2d = pad_class("ReflectionPad2d", "reflect")
local ReplicationPad2d = pad_class("ReplicationPad2d", "replicate")
local ZeroPad2d = pad_class("ZeroPad2d", "constant")
function ZeroPad2d:init(padding)
  self.padding = pads4("ZeroPad2d", padding)
  self.value = 0
end

-- nn.ConstantPad2d(padding, value)
local ConstantPad2d = pad_class("ConstantPad2d", "constant")
function ConstantPad2d:init(padding, value)
  self.padding = pads4("ConstantPad2d", padding)
  self.value = U.num("ConstantPad2d", "value", value)
end
function ConstantPad2d:extra_repr()
  return "padding=" .. U.py(self.padding) .. ", value=" .. U.py(self.value)
end

-- ---------------------------------------------------------------- Flatten
-- nn.Flatten(start_dim=2, end_dim=-1): 1-based dims (PyTorch's start_dim=1).
local Flatten = Module:extend("Flatten")

function Flatten:init(start_dim, end_dim)
  if type(start_dim) == "table" then
    local o = U.opts("Flatten", start_dim, {"start_dim", "end_dim"})
    start_dim, end_dim = o.start_dim, o.end_dim
  end
  start_dim = start_dim == nil and 2 or start_dim
  end_dim = end_dim == nil and -1 or end_dim
  for _, v in ipairs({start_dim, end_dim}) do
    if not U.is_int(v) or v == 0 then
      U.fail("Flatten", "dims must be non-zero integers (1-based, negative from the end), got %s",
        tostring(v))
    end
  end
  self.start_dim = math.tointeger(start_dim)
  self.end_dim = math.tointeger(end_dim)
end

function Flatten:forward(x)
  return input("Flatten", x):flatten(self.start_dim, self.end_dim)
end

function Flatten:extra_repr()
  return string.format("start_dim=%d, end_dim=%d", self.start_dim, self.end_dim)
end

return {Dropout = Dropout, Dropout2d = Dropout2d, Upsample = Upsample, UpsamplingNearest2d = UpsamplingNearest2d,
        UpsamplingBilinear2d = UpsamplingBilinear2d, ReflectionPad2d = ReflectionPad2d,
        ReplicationPad2d = ReplicationPad2d, ZeroPad2d = ZeroPad2d, ConstantPad2d = ConstantPad2d,
        Flatten = Flatten}
