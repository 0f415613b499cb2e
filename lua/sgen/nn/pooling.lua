-- MaxPool2d, AvgPool2d, AdaptiveAvgPool2d.
local sg = require "sgen"
local U = require "sgen.nn.util"
local M = require "sgen.nn.module"

local Module = M.Module

-- Checks a 3-dim (C x H x W) or 4-dim input; returns the batched input and
-- whether it was unbatched.
local function image_input(name, x)
  if not U.is_tensor(x) then U.fail(name, "expected a tensor input, got %s", U.typename(x)) end
  local d = x:dim()
  if d ~= 3 and d ~= 4 then
    U.fail(name, "input has %d dims (%s), expected 3 (CxHxW) or 4 (NxCxHxW)", d, U.shape_str(x))
  end
  if d == 3 then return x:unsqueeze(1), true end
  return x, false
end

local function int_or_pair(v)
  if type(v) == "table" then return v end
  return v
end

-- nn.MaxPool2d(kernel_size, {stride=kernel_size, padding=0, dilation=1, ceil_mode=false})
local MaxPool2d = Module:extend("MaxPool2d")

function MaxPool2d:init(kernel_size, opts)
  local name = "MaxPool2d"
  local o = U.opts(name, opts, {"stride", "padding", "dilation", "ceil_mode"})
  self.kernel_size = int_or_pair(kernel_size)
  self.stride = o.stride == nil and self.kernel_size or o.stride
  self.padding = o.padding == nil and 0 or o.padding
  self.dilation = o.dilation == nil and 1 or o.dilation
  self.ceil_mode = o.ceil_mode ~= nil and U.bool(name, "option 'ceil_mode'", o.ceil_mode)
  self._k = U.pair(name, "kernel_size", self.kernel_size, 1)
  self._s = U.pair(name, "option 'stride'", self.stride, 1)
  self._p = U.pair(name, "option 'padding'", self.padding, 0)
  self._d = U.pair(name, "option 'dilation'", self.dilation, 1)
  for i = 1, 2 do
    if self._p[i] * 2 > self._k[i] then
      U.fail(name, "padding (%d) should be at most half of kernel_size (%d)", self._p[i], self._k[i])
    end
  end
end

function MaxPool2d:forward(x)
  local unbatched
  x, unbatched = image_input("MaxPool2d", x)
  local y = sg.F.max_pool2d(x, self._k, {stride = self._s, padding = self._p,
                                         dilation = self._d, ceil_mode = self.ceil_mode})
  if unbatched then y = y:squeeze(1) end
  return y
end

function MaxPool2d:extra_repr()
  return string.format("kernel_size=%s, stride=%s, padding=%s, dilation=%s, ceil_mode=%s",
    U.py(self.kernel_size), U.py(self.stride), U.py(self.padding), U.py(self.dilation),
    U.py(self.ceil_mode))
end

-- nn.AvgPool2d(kernel_size, {stride=kernel_size, padding=0, ceil_mode=false,
--   count_include_pad=true})
local AvgPool2d = Module:extend("AvgPool2d")

function AvgPool2d:init(kernel_size, opts)
  local name = "AvgPool2d"
  local o = U.opts(name, opts, {"stride", "padding", "ceil_mode", "count_include_pad"})
  self.kernel_size = int_or_pair(kernel_size)
  self.stride = o.stride == nil and self.kernel_size or o.stride
  self.padding = o.padding == nil and 0 or o.padding
  self.ceil_mode = o.ceil_mode ~= nil and U.bool(name, "option 'ceil_mode'", o.ceil_mode)
  self.count_include_pad = o.count_include_pad == nil and true or
    U.bool(name, "option 'count_include_pad'", o.count_include_pad)
  self._k = U.pair(name, "kernel_size", self.kernel_size, 1)
  self._s = U.pair(name, "option 'stride'", self.stride, 1)
  self._p = U.pair(name, "option 'padding'", self.padding, 0)
  for i = 1, 2 do
    if self._p[i] * 2 > self._k[i] then
      U.fail(name, "padding (%d) should be at most half of kernel_size (%d)", self._p[i], self._k[i])
    end
  end
end

function AvgPool2d:forward(x)
  local unbatched
  x, unbatched = image_input("AvgPool2d", x)
  local y = sg.F.avg_pool2d(x, self._k, {stride = self._s, padding = self._p,
                                         ceil_mode = self.ceil_mode,
                                         count_include_pad = self.count_include_pad})
  if unbatched then y = y:squeeze(1) end
  return y
end

function AvgPool2d:extra_repr()
  return string.format("kernel_size=%s, stride=%s, padding=%s", U.py(self.kernel_size),
    U.py(self.stride), U.py(self.padding))
end

-- nn.AdaptiveAvgPool2d(output_size): an integer or a pair {h, w}.
local AdaptiveAvgPool2d = Module:extend("AdaptiveAvgPool2d")

function AdaptiveAvgPool2d:init(output_size)
  self.output_size = int_or_pair(output_size)
  self._size = U.pair("AdaptiveAvgPool2d", "output_size", output_size, 1)
end

function AdaptiveAvgPool2d:forward(x)
  local unbatched
  x, unbatched = image_input("AdaptiveAvgPool2d", x)
  local y = sg.F.adaptive_avg_pool2d(x, self._size)
  if unbatched then y = y:squeeze(1) end
  return y
end

function AdaptiveAvgPool2d:extra_repr()
  return "output_size=" .. U.py(self.output_size)
end

return {MaxPool2d = MaxPool2d, AvgPool2d = AvgPool2d, AdaptiveAvgPool2d = AdaptiveAvgPool2d}
