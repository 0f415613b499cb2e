-- sgen.image: PNG images as tensors.
--
--   local img = image.read("x.png")        -- float32 C x H x W in [0,1]
--   image.write("out.png", img)             -- C x H x W (C = 1, 2, 3, 4) or H x W
--   image.write("grid.png", batch, {nrow = 8})  -- N x C x H x W: written as a grid
--   local g = image.grid(batch, {nrow = 8, padding = 2, pad_value = 0, normalize = false})
--   image.heatmap("map.png", hw, {min = 0, max = 1})  -- H x W values as viridis colours
--
-- Values are clamped to [0,1] when written (NaN -> 0) and rounded to 8 bits;
-- uint8 tensors are written as they are. Tensors on another device, or that
-- require grad, are detached and copied to the CPU first.
local core = require "sgen.core"

local M = {}

local check = require "sgen.util.check"
local is_tensor, shape_str = check.is_tensor, check.shape_str
M.is_tensor = is_tensor

local function check_opts(opts, fname, allowed, level)
  if opts == nil then return {} end
  if type(opts) ~= "table" or is_tensor(opts) then
    error("sgen.image." .. fname .. ": expected an options table, got " ..
      (is_tensor(opts) and "tensor" or type(opts)), level + 1)
  end
  return check.options(opts, allowed, "sgen.image." .. fname)
end

-- Rewrites an error of a core function ("sgen.png_read: png: msg") as ours.
local function reraise(err, fname, level)
  local msg = tostring(err):gsub("^.-sgen%.png_%a+: ", ""):gsub("^png_?%a*: ", "")
  error("sgen.image." .. fname .. ": " .. msg, level + 1)
end

-- image.read(path) -> float32 C x H x W in [0,1] (C = 1 gray, 2 gray+alpha,
-- 3 RGB, 4 RGBA; palettes expanded; 16-bit PNGs scaled by 1/65535).
function M.read(path)
  if type(path) ~= "string" then
    error("sgen.image.read: argument 1 (path) expected a string, got " .. type(path), 2)
  end
  local ok, t = pcall(core.png_read, path)
  if not ok then reraise(t, "read", 2) end
  return t
end

-- A detached CPU float tensor (float32, or float64 kept) of t.
local function as_float(t)
  t = t:detach()
  if t:device() ~= "cpu" then t = t:cpu() end
  local dt = t:dtype()
  if dt == "uint8" then return t:float():div(255) end
  if dt == "float64" or dt == "float32" then return t end
  if dt == "bool" then return t:float() end
  return nil
end

-- Scales t to [0,1]: over `range` {lo, hi} if given (values clamped), else
-- over t's own min and max.
local function norm_range(t, range)
  local lo, hi
  if range then
    lo, hi = range[1], range[2]
    t = t:clamp(lo, hi)
  else
    lo, hi = t:min():item(), t:max():item()
  end
  return (t - lo) / math.max(hi - lo, 1e-5)
end

local grid_keys = {"nrow", "padding", "pad_value", "normalize", "range", "value_range", "scale_each"}

local function check_range(r, fname, level)
  if r == nil then return nil end
  if type(r) ~= "table" or type(r[1]) ~= "number" or type(r[2]) ~= "number" or not (r[1] < r[2]) then
    error("sgen.image." .. fname .. ": option range expected {lo, hi} with lo < hi", level + 1)
  end
  return r
end

local function grid_impl(batch, opts, fname, level)
  opts = check_opts(opts, fname, grid_keys, level + 1)
  local x
  if is_tensor(batch) then
    x = batch
  elseif type(batch) == "table" then
    if #batch == 0 then
      error("sgen.image." .. fname .. ": argument 1 (batch) is an empty list", level + 1)
    end
    for i, t in ipairs(batch) do
      if not is_tensor(t) or t:dim() ~= 3 then
        error(string.format("sgen.image.%s: batch[%d] expected a C x H x W tensor, got %s", fname, i,
          is_tensor(t) and (t:dim() .. " dims (" .. shape_str(t) .. ")") or type(t)), level + 1)
      end
      if shape_str(t) ~= shape_str(batch[1]) then
        error(string.format("sgen.image.%s: batch[%d] has shape %s, expected %s like batch[1]",
          fname, i, shape_str(t), shape_str(batch[1])), level + 1)
      end
    end
    local items = {}
    for i, t in ipairs(batch) do items[i] = as_float(t) or t end
    x = core.stack(items, 1)
  else
    error("sgen.image." .. fname .. ": argument 1 (batch) expected an N x C x H x W tensor or a list " ..
      "of C x H x W tensors, got " .. type(batch), level + 1)
  end
  if x:dim() == 3 then x = x:unsqueeze(1) end
  if x:dim() ~= 4 then
    error(string.format("sgen.image.%s: batch has %d dims (%s), expected 4 (N x C x H x W)",
      fname, x:dim(), shape_str(x)), level + 1)
  end
  local fx = as_float(x)
  if not fx then
    error("sgen.image." .. fname .. ": batch has dtype " .. x:dtype() .. ", expected float32, float64, uint8 or bool",
      level + 1)
  end
  x = fx
  local nrow = opts.nrow or 8
  local padding = opts.padding or 2
  local pad_value = opts.pad_value or 0
  if math.type(nrow) ~= "integer" or nrow < 1 then
    error("sgen.image." .. fname .. ": option nrow must be an integer >= 1, got " .. tostring(nrow), level + 1)
  end
  if math.type(padding) ~= "integer" or padding < 0 then
    error("sgen.image." .. fname .. ": option padding must be an integer >= 0, got " .. tostring(padding), level + 1)
  end
  if type(pad_value) ~= "number" then
    error("sgen.image." .. fname .. ": option pad_value must be a number, got " .. type(pad_value), level + 1)
  end
  local range = check_range(opts.range or opts.value_range, fname, level + 1)
  if opts.normalize then
    if opts.scale_each then
      local n = x:size(1)
      local items = {}
      for i = 1, n do items[i] = norm_range(x[i], range) end
      x = core.stack(items, 1)
    else
      x = norm_range(x, range)
    end
  end
  local n, c, h, w = x:size(1), x:size(2), x:size(3), x:size(4)
  if n == 1 then return x[1] end
  local xmaps = math.min(nrow, n)
  local ymaps = math.ceil(n / xmaps)
  local hp, wp = h + padding, w + padding
  local g = core.full({c, ymaps * hp + padding, xmaps * wp + padding}, pad_value, {dtype = x:dtype()})
  for k = 0, n - 1 do
    local gy, gx = k // xmaps, k % xmaps
    g:narrow(2, gy * hp + padding + 1, h):narrow(3, gx * wp + padding + 1, w):copy_(x[k + 1])
  end
  return g
end

-- image.grid(batch, opts) -> C x H' x W': the images of an N x C x H x W
-- tensor (or a list of C x H x W tensors) tiled nrow per row with `padding`
-- pixels of pad_value between and around them, like torchvision's make_grid
-- (one difference: a 1-channel batch gives a 1-channel grid; torchvision
-- repeats it to 3 channels). Options: nrow (8), padding (2), pad_value (0),
-- normalize (false: scale to [0,1] by min/max, or by range={lo, hi} with
-- values clamped), scale_each (false: normalize each image on its own).
-- A batch of one image comes back as that image, without padding.
function M.grid(batch, opts)
  return grid_impl(batch, opts, "grid", 2)
end

local write_keys = {"nrow", "padding", "pad_value", "normalize", "range", "value_range", "scale_each"}

-- image.write(path, t, opts): writes an 8-bit PNG. t is H x W, C x H x W (C in
-- 1..4) or N x C x H x W (tiled with image.grid and the grid options).
-- normalize/range apply to single images too.
function M.write(path, t, opts)
  if type(path) ~= "string" then
    error("sgen.image.write: argument 1 (path) expected a string, got " .. type(path), 2)
  end
  if not is_tensor(t) then
    error("sgen.image.write: argument 2 (image) expected a tensor, got " .. type(t), 2)
  end
  opts = check_opts(opts, "write", write_keys, 2)
  local d = t:dim()
  if d == 4 then
    t = grid_impl(t, opts, "write", 2)
  elseif d == 2 or d == 3 then
    if d == 2 then t = t:unsqueeze(1) end
    local c = t:size(1)
    if c < 1 or c > 4 then
      error(string.format("sgen.image.write: image has shape %s, expected C x H x W with C = 1 (gray), " ..
        "2 (gray+alpha), 3 (RGB) or 4 (RGBA)", shape_str(t)), 2)
    end
    if t:dtype() ~= "uint8" or opts.normalize then
      local f = as_float(t)
      if not f then
        error("sgen.image.write: image has dtype " .. t:dtype() .. ", expected float32, float64, uint8 or bool", 2)
      end
      t = f
      if opts.normalize then t = norm_range(t, check_range(opts.range or opts.value_range, "write", 2)) end
    end
  else
    error(string.format("sgen.image.write: image has %d dims (%s), expected H x W, C x H x W or N x C x H x W",
      d, d == 0 and "scalar" or shape_str(t)), 2)
  end
  if t:dim() == 3 and t:size(1) > 4 then
    error(string.format("sgen.image.write: image has shape %s, expected C x H x W with C = 1 (gray), " ..
      "2 (gray+alpha), 3 (RGB) or 4 (RGBA)", shape_str(t)), 2)
  end
  if t:dtype() ~= "uint8" then t = as_float(t) end
  local ok, err = pcall(core.png_write, path, t)
  if not ok then reraise(err, "write", 2) end
  return path
end

-- Colour maps: anchors at 0, 1/8, ..., 1 (viridis from matplotlib), linearly
-- interpolated to 256 entries.
local cmaps = {
  viridis = {{68, 1, 84}, {71, 45, 123}, {59, 82, 139}, {44, 114, 142}, {33, 145, 140},
             {40, 174, 128}, {94, 201, 98}, {173, 220, 48}, {253, 231, 37}},
  gray = {{0, 0, 0}, {255, 255, 255}},
}

local lut_cache = {}
-- image.colormap(name) -> float32 256 x 3 tensor of RGB in [0,1].
function M.colormap(name)
  name = name or "viridis"
  if lut_cache[name] then return lut_cache[name] end
  local anchors = cmaps[name]
  if not anchors then
    error("sgen.image.colormap: unknown colour map '" .. tostring(name) .. "' (expected viridis, gray)", 2)
  end
  local rows = {}
  local segs = #anchors - 1
  for i = 0, 255 do
    local p = i / 255 * segs
    local k = math.min(math.floor(p), segs - 1)
    local f = p - k
    local a, b = anchors[k + 1], anchors[k + 2]
    rows[i + 1] = {(a[1] + f * (b[1] - a[1])) / 255, (a[2] + f * (b[2] - a[2])) / 255,
                   (a[3] + f * (b[3] - a[3])) / 255}
  end
  lut_cache[name] = core.tensor(rows)
  return lut_cache[name]
end

local heat_keys = {"min", "max", "scale", "cmap"}

-- image.heatmap(path, hw, {min=, max=, scale=, cmap="viridis"}) -> the RGB
-- tensor written (float32 3 x H*scale x W*scale). Values map linearly from
-- [min, max] (default: the data's own finite min and max) onto the colour map,
-- clamped at both ends; NaN pixels are black. hw is H x W (or 1 x H x W).
-- scale (an integer; default enough to make the longer side >= 256 pixels)
-- enlarges each value into a scale x scale block. path may be nil to only
-- compute the image.
function M.heatmap(path, hw, opts)
  if path ~= nil and type(path) ~= "string" then
    error("sgen.image.heatmap: argument 1 (path) expected a string, got " .. type(path), 2)
  end
  if not is_tensor(hw) then
    error("sgen.image.heatmap: argument 2 (values) expected an H x W tensor, got " .. type(hw), 2)
  end
  opts = check_opts(opts, "heatmap", heat_keys, 2)
  local t = hw
  if t:dim() == 3 and t:size(1) == 1 then t = t[1] end
  if t:dim() ~= 2 then
    error(string.format("sgen.image.heatmap: values have %d dims (%s), expected 2 (H x W)",
      t:dim(), t:dim() == 0 and "scalar" or shape_str(t)), 2)
  end
  if t:numel() == 0 then error("sgen.image.heatmap: values are empty (" .. shape_str(t) .. ")", 2) end
  t = t:detach()
  if t:device() ~= "cpu" then t = t:cpu() end
  if t:dtype() ~= "float64" then t = t:float() end
  local h, w = t:size(1), t:size(2)
  for _, k in ipairs({"min", "max"}) do
    if opts[k] ~= nil and (type(opts[k]) ~= "number" or opts[k] ~= opts[k]) then
      error("sgen.image.heatmap: option " .. k .. " must be a number, got " .. tostring(opts[k]), 2)
    end
  end
  local scale = opts.scale or math.max(1, 256 // math.max(h, w))
  if math.type(scale) ~= "integer" or scale < 1 then
    error("sgen.image.heatmap: option scale must be an integer >= 1, got " .. tostring(scale), 2)
  end
  local lut = M.colormap(opts.cmap or "viridis")
  local nan = t:ne(t)
  local has_nan = nan:sum():item() > 0
  local finite_vals = has_nan and t:masked_fill(nan, 0) or t
  local lo, hi = opts.min, opts.max
  if lo == nil then lo = (has_nan and t:masked_fill(nan, math.huge) or t):min():item() end
  if hi == nil then hi = (has_nan and t:masked_fill(nan, -math.huge) or t):max():item() end
  if lo == math.huge then lo, hi = 0, 1 end -- all NaN
  local v
  if hi > lo then
    v = ((finite_vals - lo) / (hi - lo)):clamp(0, 1)
  else
    v = core.zeros_like(finite_vals)
  end
  local idx = (v * 255):round():long():reshape(-1) + 1
  local rgb = lut:index_select(1, idx):t():reshape(3, h, w)
  if has_nan then rgb = rgb:masked_fill(nan:unsqueeze(1):expand(3, h, w), 0) end
  if scale > 1 then
    local function rep(n)
      local r = {}
      for i = 1, n * scale do r[i] = (i - 1) // scale + 1 end
      return core.tensor(r, {dtype = "int64"})
    end
    rgb = rgb:index_select(2, rep(h)):index_select(3, rep(w))
  end
  rgb = rgb:contiguous()
  if path then
    local ok, err = pcall(core.png_write, path, rgb)
    if not ok then reraise(err, "heatmap", 2) end
  end
  return rgb
end

return M
