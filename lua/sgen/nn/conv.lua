-- Conv2d and ConvTranspose2d.
local sg = require "sgen"
local U = require "sgen.nn.util"
local M = require "sgen.nn.module"
local LIN = require("sgen.nn.linear")._helpers

local Module = M.Module
local PAD_MODES = {zeros = true, reflect = true, replicate = true}

local function check_input(self, name, x)
  if not U.is_tensor(x) then U.fail(name, "expected a tensor input, got %s", U.typename(x)) end
  local d = x:dim()
  if d ~= 3 and d ~= 4 then
    U.fail(name, "input has %d dims (%s), expected 3 (CxHxW) or 4 (NxCxHxW)", d, U.shape_str(x))
  end
  local c = x:size(d - 2)
  if c ~= self.in_channels then
    U.fail(name, "input has %d channels (%s), expected in_channels = %d", c, U.shape_str(x),
      self.in_channels)
  end
  return d == 3
end

local function common_args(name, in_channels, out_channels, kernel_size, o)
  local a = {}
  a.in_channels = U.int(name, "in_channels", in_channels, 1)
  a.out_channels = U.int(name, "out_channels", out_channels, 1)
  a.kernel_size = U.pair(name, "kernel_size", kernel_size, 1)
  a.stride = U.pair(name, "option 'stride'", o.stride == nil and 1 or o.stride, 1)
  a.dilation = U.pair(name, "option 'dilation'", o.dilation == nil and 1 or o.dilation, 1)
  a.groups = U.int(name, "option 'groups'", o.groups == nil and 1 or o.groups, 1)
  if a.in_channels % a.groups ~= 0 then
    U.fail(name, "in_channels (%d) must be divisible by groups (%d)", a.in_channels, a.groups)
  end
  if a.out_channels % a.groups ~= 0 then
    U.fail(name, "out_channels (%d) must be divisible by groups (%d)", a.out_channels, a.groups)
  end
  a.bias = o.bias == nil and true or U.bool(name, "option 'bias'", o.bias)
  a.padding_mode = o.padding_mode or "zeros"
  if not PAD_MODES[a.padding_mode] then
    U.fail(name, "option 'padding_mode' must be zeros, reflect or replicate, got %s",
      tostring(a.padding_mode))
  end
  return a
end

-- The conv module's common repr (PyTorch's _ConvNd.extra_repr).
local function conv_repr(self)
  local s = string.format("%d, %d, kernel_size=%s, stride=%s", self.in_channels,
    self.out_channels, U.py(self.kernel_size), U.py(self.stride))
  local p = self.padding
  if type(p) == "string" then
    s = s .. ", padding=" .. p
  elseif p[1] ~= 0 or p[2] ~= 0 then
    s = s .. ", padding=" .. U.py(p)
  end
  if self.dilation[1] ~= 1 or self.dilation[2] ~= 1 then s = s .. ", dilation=" .. U.py(self.dilation) end
  local op = self.output_padding
  if op and (op[1] ~= 0 or op[2] ~= 0) then s = s .. ", output_padding=" .. U.py(op) end
  if self.groups ~= 1 then s = s .. ", groups=" .. self.groups end
  if self.bias == nil then s = s .. ", bias=False" end
  if self.padding_mode ~= "zeros" then s = s .. ", padding_mode=" .. self.padding_mode end
  return s
end

-- nn.Conv2d(in_channels, out_channels, kernel_size, {stride=1, padding=0,
--   dilation=1, groups=1, bias=true, padding_mode="zeros"|"reflect"|"replicate",
--   dtype=, device=}); padding may be a number, a pair {h, w}, "valid" or "same".
local Conv2d = Module:extend("Conv2d")

function Conv2d:init(in_channels, out_channels, kernel_size, opts)
  local name = "Conv2d"
  local o = U.opts(name, opts, {"stride", "padding", "dilation", "groups", "bias",
                                "padding_mode", "dtype", "device"})
  local a = common_args(name, in_channels, out_channels, kernel_size, o)
  for _, k in ipairs({"in_channels", "out_channels", "kernel_size", "stride", "dilation",
                      "groups", "padding_mode"}) do
    self[k] = a[k]
  end
  local p = o.padding == nil and 0 or o.padding
  local k, d = a.kernel_size, a.dilation
  if p == "valid" then
    self.padding = {0, 0}
    self._pads = {0, 0, 0, 0}
  elseif p == "same" then
    if a.stride[1] ~= 1 or a.stride[2] ~= 1 then
      U.fail(name, "padding='same' is not supported for strided convolutions")
    end
    self.padding = "same"
    local tot_h, tot_w = d[1] * (k[1] - 1), d[2] * (k[2] - 1)
    self._pads = {tot_w // 2, tot_w - tot_w // 2, tot_h // 2, tot_h - tot_h // 2}
  elseif type(p) == "string" then
    U.fail(name, "option 'padding' must be an integer, a pair, 'valid' or 'same', got '%s'", p)
  else
    self.padding = U.pair(name, "option 'padding'", p, 0)
    self._pads = {self.padding[2], self.padding[2], self.padding[1], self.padding[1]}
  end
  self.weight = LIN.new_param({a.out_channels, a.in_channels // a.groups, k[1], k[2]}, o)
  if a.bias then self.bias = LIN.new_param({a.out_channels}, o) end
  self:reset_parameters()
end

function Conv2d:reset_parameters()
  LIN.reset_linear_like(self.weight, self.bias)
end

function Conv2d:forward(x)
  local unbatched = check_input(self, "Conv2d", x)
  if unbatched then x = x:unsqueeze(1) end
  local F = sg.F
  local pads = self._pads
  local symmetric = pads[1] == pads[2] and pads[3] == pads[4]
  local padding
  if self.padding_mode == "zeros" and symmetric then
    padding = {pads[3], pads[1]}
  else
    if self.padding_mode == "zeros" then
      x = F.pad(x, pads)
    else
      x = F.pad(x, pads, {mode = self.padding_mode})
    end
    padding = {0, 0}
  end
  local y = F.conv2d(x, self.weight, self.bias, {stride = self.stride, padding = padding,
                                                 dilation = self.dilation, groups = self.groups})
  if unbatched then y = y:squeeze(1) end
  return y
end

Conv2d.extra_repr = conv_repr

-- nn.ConvTranspose2d(in_channels, out_channels, kernel_size, {stride=1,
--   padding=0, output_padding=0, groups=1, bias=true, dilation=1, dtype=, device=})
-- The weight is in_channels x out_channels/groups x kh x kw, so its fan_in
-- (for the default init) is out_channels/groups * kh * kw, as in PyTorch.
local ConvTranspose2d = Module:extend("ConvTranspose2d")

function ConvTranspose2d:init(in_channels, out_channels, kernel_size, opts)
  local name = "ConvTranspose2d"
  local o = U.opts(name, opts, {"stride", "padding", "output_padding", "groups", "bias",
                                "dilation", "padding_mode", "dtype", "device"})
  local a = common_args(name, in_channels, out_channels, kernel_size, o)
  if a.padding_mode ~= "zeros" then
    U.fail(name, "only padding_mode 'zeros' is supported, got '%s'", a.padding_mode)
  end
  for _, k in ipairs({"in_channels", "out_channels", "kernel_size", "stride", "dilation",
                      "groups", "padding_mode"}) do
    self[k] = a[k]
  end
  self.padding = U.pair(name, "option 'padding'", o.padding == nil and 0 or o.padding, 0)
  self.output_padding = U.pair(name, "option 'output_padding'",
    o.output_padding == nil and 0 or o.output_padding, 0)
  for i = 1, 2 do
    if self.output_padding[i] >= math.max(self.stride[i], self.dilation[i]) then
      U.fail(name, "output_padding (%d) must be smaller than either stride (%d) or dilation (%d)",
        self.output_padding[i], self.stride[i], self.dilation[i])
    end
  end
  local k = a.kernel_size
  self.weight = LIN.new_param({a.in_channels, a.out_channels // a.groups, k[1], k[2]}, o)
  if a.bias then self.bias = LIN.new_param({a.out_channels}, o) end
  self:reset_parameters()
end

function ConvTranspose2d:reset_parameters()
  LIN.reset_linear_like(self.weight, self.bias)
end

function ConvTranspose2d:forward(x)
  local unbatched = check_input(self, "ConvTranspose2d", x)
  if unbatched then x = x:unsqueeze(1) end
  local y = sg.F.conv_transpose2d(x, self.weight, self.bias, {
    stride = self.stride, padding = self.padding, output_padding = self.output_padding,
    groups = self.groups, dilation = self.dilation})
  if unbatched then y = y:squeeze(1) end
  return y
end

ConvTranspose2d.extra_repr = conv_repr

return {Conv2d = Conv2d, ConvTranspose2d = ConvTranspose2d}
