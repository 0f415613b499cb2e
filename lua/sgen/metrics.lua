-- sg.metrics: image quality metrics (PSNR, SSIM) returning Lua numbers, and
-- the GAN metrics of lua/sgen/metrics/gan.lua (frechet_features, fid, kid,
-- inception_score, feature_network, frechet_distance), merged in below.
-- NOTE: sgen's FID is the Fréchet distance in the 128-d feature space of its
-- own Fashion-MNIST classifier, comparable only within sgen, never to
-- Inception-FID numbers (see that file's header).
--
--   local sg = require "sgen"
--   local p = sg.metrics.psnr(out, clean)              -- dB, data_range = 1
--   local s = sg.metrics.ssim(out, clean)              -- Gaussian-window SSIM
--   local per = sg.metrics.psnr(a, b, {reduction = "none"})   -- N float64 values
--
-- Inputs are float32/float64 tensors, CxHxW (one image) or NxCxHxW (a batch),
-- of the same shape and device. The arithmetic is done in float64 on the
-- inputs' device, on detached copies (no autograd graph is built). For a
-- batch the result is the mean over the samples; {reduction = "none"} gives a
-- float64 tensor with one value per sample (shape {N}, {1} for CxHxW).
--
-- SSIM follows Wang et al. (2004) as computed by scikit-image's
-- structural_similarity(x, y, data_range=R, channel_axis=0,
-- gaussian_weights=True, sigma=1.5, use_sample_covariance=False): local
-- statistics weighted by a normalised Gaussian window (win_size taps per
-- axis, separable), population (co)variances, the SSIM map over the 'valid'
-- positions only (the window inside the image, which is scikit-image's crop
-- of (win_size-1)/2 pixels per side) and its mean over positions and
-- channels. The window is applied as a depthwise conv2d (groups = channels)
-- with a 1xK then a Kx1 kernel. tools/make_metric_references.py documents
-- the algorithm and computes the reference values the spec checks.
local sg = require "sgen"

local M = {}

local TRUNCATE = 3.5 -- scipy.ndimage's Gaussian truncation used by scikit-image

local C = require("sgen.util.check").new("sgen.metrics.")
local fail, typename, shape_str, check_opts = C.fail, C.typename, C.shape_str, C.check_opts
local is_tensor = C.is_tensor

local function check_image(fname, v, idx, name)
  if not is_tensor(v) then
    fail(fname, "argument %d (%s) expected a tensor, got %s", idx, name, typename(v))
  end
  if v:is_freed() then
    fail(fname, "argument %d (%s) is a freed tensor (t:free() was called on it)", idx, name)
  end
  local nd = v:dim()
  if nd ~= 3 and nd ~= 4 then
    fail(fname, "%s has %d dims (%s), expected 3 (CxHxW) or 4 (NxCxHxW)", name, nd,
      shape_str(v))
  end
  local dt = v:dtype()
  if dt ~= "float32" and dt ~= "float64" then
    fail(fname, "%s has dtype %s, expected float32 or float64", name, dt)
  end
  if v:numel() == 0 then fail(fname, "%s is empty (%s)", name, shape_str(v)) end
end

local function check_pair(fname, x, y)
  check_image(fname, x, 1, "x")
  check_image(fname, y, 2, "y")
  local sx, sy = shape_str(x), shape_str(y)
  if sx ~= sy then fail(fname, "x and y have different shapes (%s and %s)", sx, sy) end
  if x:device() ~= y:device() then
    fail(fname, "x is on %s and y on %s, expected one device", x:device(), y:device())
  end
end

-- opts[key]: a finite number, positive (or non-negative).
local function opt_number(fname, opts, key, def, positive)
  return C.opt_number(fname, opts, key, def, positive and "positive" or "nonnegative")
end

local function opt_reduction(fname, opts)
  local r = opts.reduction
  if r == nil then return "mean" end
  if r ~= "mean" and r ~= "none" then
    fail(fname, "option 'reduction' expected \"mean\" or \"none\", got %s",
      type(r) == "string" and ("'" .. r .. "'") or typename(r))
  end
  return r
end

-- x as a detached float64 NxCxHxW tensor (a new userdata, never the caller's).
local function as_batch(x)
  local d = x:detach():double()
  if d:dim() == 3 then d = d:unsqueeze(1) end
  return d
end

-- per-sample values (tensor {N}) -> the result for `reduction`.
local function reduce(per, reduction)
  if reduction == "none" then return per end
  local m = per:mean():item()
  per:free()
  return m
end

--- PSNR in dB: 10 log10(data_range^2 / MSE), MSE over all elements of one
-- image; +inf (math.huge) when the images are equal.
function M.psnr(x, y, opts)
  local fname = "psnr"
  check_pair(fname, x, y)
  opts = check_opts(fname, opts, 3, {"data_range", "reduction"})
  local range = opt_number(fname, opts, "data_range", 1, true)
  local reduction = opt_reduction(fname, opts)
  local a, b = as_batch(x), as_batch(y)
  local n = a:size(1)
  local d = a - b
  a:free(); b:free()
  local se = d * d
  d:free()
  local mse = se:reshape(n, -1):mean(2)
  se:free()
  -- range^2 / 0 = +inf and log(+inf) = +inf: equal images give +inf
  local ratio = (range * range) / mse
  mse:free()
  local per = ratio:log() * (10 / math.log(10))
  ratio:free()
  return reduce(per, reduction)
end

-- Normalised Gaussian taps, k of them (k odd), standard deviation sigma.
local function gaussian_taps(k, sigma)
  local r = (k - 1) // 2
  local g, s = {}, 0
  for i = -r, r do
    local v = math.exp(-0.5 * i * i / (sigma * sigma))
    g[#g + 1] = v
    s = s + v
  end
  for i = 1, k do g[i] = g[i] / s end
  return g
end

-- Depthwise weights for `groups` channels: a 1xK row kernel and a Kx1
-- column kernel (groups x 1 x 1 x K and groups x 1 x K x 1).
local function window_weights(taps, groups, device)
  local row, col = {}, {}
  local column = {}
  for i = 1, #taps do column[i] = {taps[i]} end
  for c = 1, groups do
    row[c] = {{taps}}
    col[c] = {column}
  end
  local o = {dtype = "float64", device = device}
  return sg.tensor(row, o), sg.tensor(col, o)
end

--- SSIM (Wang et al. 2004, Gaussian window), mean over valid positions and
-- channels; 1 for equal images.
function M.ssim(x, y, opts)
  local fname = "ssim"
  check_pair(fname, x, y)
  opts = check_opts(fname, opts, 3, {"data_range", "win_size", "sigma", "k1", "k2", "reduction"})
  local range = opt_number(fname, opts, "data_range", 1, true)
  local sigma = opt_number(fname, opts, "sigma", 1.5, true)
  local k1 = opt_number(fname, opts, "k1", 0.01, false)
  local k2 = opt_number(fname, opts, "k2", 0.03, false)
  local reduction = opt_reduction(fname, opts)
  local win = opts.win_size
  if win == nil then
    win = 2 * math.floor(TRUNCATE * sigma + 0.5) + 1
  elseif math.type(win) ~= "integer" and not (type(win) == "number" and win == math.floor(win)) then
    fail(fname, "option 'win_size' expected an integer, got %s",
      type(win) == "number" and tostring(win) or typename(win))
  else
    win = math.tointeger(win)
    if win < 1 or win % 2 == 0 then
      fail(fname, "option 'win_size' must be a positive odd integer, got %d", win)
    end
  end
  local s = x:shape()
  local h, w = s[#s - 1], s[#s]
  if h < win or w < win then
    fail(fname, "images are %dx%d (HxW), smaller than the %dx%d window (option 'win_size')",
      h, w, win, win)
  end

  local a, b = as_batch(x), as_batch(y)
  local n, c = a:size(1), a:size(2)
  local aa, bb, ab = a * a, b * b, a * b
  local stack = sg.cat({a, b, aa, bb, ab}, 2) -- N x 5C x H x W
  a:free(); b:free(); aa:free(); bb:free(); ab:free()
  local wr, wc = window_weights(gaussian_taps(win, sigma), 5 * c, x:device())
  local tmp = sg.F.conv2d(stack, wr, nil, {groups = 5 * c})
  stack:free()
  local f = sg.F.conv2d(tmp, wc, nil, {groups = 5 * c}) -- N x 5C x H' x W'
  tmp:free(); wr:free(); wc:free()
  local ux, uy = f:narrow(2, 1, c), f:narrow(2, c + 1, c)
  local uxx, uyy, uxy = f:narrow(2, 2 * c + 1, c), f:narrow(2, 3 * c + 1, c),
    f:narrow(2, 4 * c + 1, c)
  local c1, c2 = (k1 * range) ^ 2, (k2 * range) ^ 2
  local uxuy = ux * uy
  local ux2, uy2 = ux * ux, uy * uy
  local a1 = uxuy * 2 + c1
  local a2 = (uxy - uxuy) * 2 + c2
  local b1 = ux2 + uy2 + c1
  local b2 = (uxx - ux2) + (uyy - uy2) + c2
  local map = (a1 * a2) / (b1 * b2)
  for _, t in ipairs({f, ux, uy, uxx, uyy, uxy, uxuy, ux2, uy2, a1, a2, b1, b2}) do t:free() end
  local per = map:reshape(n, -1):mean(2)
  map:free()
  return reduce(per, reduction)
end

-- The GAN metrics (Fashion-MNIST feature network, FID, KID, IS).
for k, v in pairs(require "sgen.metrics.gan") do M[k] = v end

return M
