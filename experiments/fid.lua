-- Scores generated Fashion-MNIST images: FID, KID and IS in the feature
-- space of sgen's own Fashion-MNIST classifier (sg.metrics.frechet_features,
-- weights data/fmnist_features.safetensors).
--
--   sgen run experiments/fid.lua --fake=runs/gan/.../samples           -- a folder of PNGs
--   sgen run experiments/fid.lua --fake=samples.safetensors --n=10000  -- an N x 1 x 32 x 32 batch
--   sgen run experiments/fid.lua --real=DIR --fake=DIR2 --out=DIR3     -- two folders; summary.json
--   sgen run experiments/fid.lua --quick --fake=...                    -- n = 1000, 10 KID subsets
--
-- !!! These are NOT Inception-FID/KID/IS numbers: the features are the 128
-- penultimate features of a small CNN trained on Fashion-MNIST. Compare them
-- only with other values measured by sgen with the same weights file. !!!
--
-- --real / --fake: "fmnist-test" (the 10,000 test images), "fmnist-train",
-- a folder of PNGs (sg.data.images, sorted by name: RGB is converted to
-- grayscale, 28x28 images are padded by 2 to the 32x32 layout, other sizes
-- are resized (bilinear) to 32x32 with a message), or a .safetensors file
-- whose tensor "images" (or its only tensor) is N x 1 x 32 x 32 in [-1,1].
-- --n caps the number of images taken from each side (the first n).
-- Prints FID, KID (mean +- std over subsets) and IS (mean +- std over
-- splits) of the fake images (and IS of the real ones); with --out, writes
-- summary.json and config.json there (this scorer writes nothing otherwise).
local root = (arg and arg[0] or ""):match("^(.*)/experiments/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local sg = require "sgen"
local cli = require "sgen.cli"
local util = require "sgen.util"

local opts, given = cli.options({
  real = "fmnist-test",
  fake = "",
  n = 5000,
  batch_size = 500,
  kid_subsets = 100,
  kid_subset_size = 1000,
  splits = 10,
  seed = 2020,          -- KID's subsets (the global RNG is left alone)
  weights = "",         -- default: data/fmnist_features.safetensors
  data = sg.data.FASHION_MNIST_DIR or "/usr/share/datasets/fashion-mnist",
  out = "",
  quick = false,
}, {help = "FID / KID / IS of Fashion-MNIST 32x32 images in sgen's classifier feature space "
  .. "(not Inception: comparable only within sgen)."})

if opts.quick then
  if not given.n then opts.n = 1000 end
  if not given.kid_subsets then opts.kid_subsets = 10 end
  if not given.kid_subset_size then opts.kid_subset_size = 500 end
end
if opts.fake == "" then error("sgen: --fake=DIR|FILE.safetensors|fmnist-test|fmnist-train is required", 0) end
for _, k in ipairs({"n", "batch_size", "kid_subsets", "kid_subset_size", "splits"}) do
  if opts[k] < 1 then error("sgen: --" .. k .. " must be at least 1, got " .. opts[k], 0) end
end

local CAVEAT = "NOTE: FID/KID/IS in the 128-d feature space of sgen's Fashion-MNIST classifier "
  .. "(data/fmnist_features.safetensors), not Inception: compare only with sgen numbers."

local is_dir = require("sgen.data.datasets").isdir

-- The first n images of `src` as float32 N x 1 x 32 x 32 in [-1,1]; a description.
local function load_images(src, what)
  if src == "fmnist-test" or src == "fmnist-train" then
    local ds = sg.data.fashion_mnist32(opts.data, src == "fmnist-test" and "test" or "train")
    local n = math.min(opts.n, ds:len())
    local x = ds:batch(sg.arange(1, n + 1, {dtype = "int64"}))
    return x, string.format("%s: %d Fashion-MNIST %s images (32x32, padded by 2)", what, n, ds.split)
  end
  if src:match("%.safetensors$") then
    local t = sg.load(src)
    local x, key = t.images, "images"
    if not x then
      local names = {}
      for k in pairs(t) do names[#names + 1] = k end
      if #names ~= 1 then
        table.sort(names)
        error(string.format("sgen: %s holds no tensor \"images\" and %d tensors (%s); expected one",
          src, #names, table.concat(names, ", ")), 0)
      end
      key = names[1]
      x = t[key]
    end
    if x:dim() == 3 then x = x:unsqueeze(2) end
    if x:dim() ~= 4 or x:size(2) ~= 1 or x:size(3) ~= 32 or x:size(4) ~= 32 then
      error(string.format("sgen: %s: tensor \"%s\" is %s, expected N x 1 x 32 x 32 in [-1,1]", src, key,
        table.concat(x:shape(), "x")), 0)
    end
    local n = math.min(opts.n, x:size(1))
    return x:narrow(1, 1, n):float(), string.format("%s: %d images from %s[\"%s\"]", what, n, src, key)
  end
  if not is_dir(src) then
    error("sgen: '" .. src .. "' is neither fmnist-test, fmnist-train, a .safetensors file nor a folder", 0)
  end
  local ds = sg.data.images(src, {channels = 1})
  local notes = {}
  local c0 = sg.image.read(ds.files[1]):size(1)
  if c0 >= 3 then notes[#notes + 1] = "RGB converted to grayscale (luminance)" end
  local n = math.min(opts.n, ds:len())
  local x = ds:batch(sg.arange(1, n + 1, {dtype = "int64"})) -- [0,1], N x 1 x H x W
  local h, w = x:size(3), x:size(4)
  if h == 28 and w == 28 then
    x = sg.F.pad(x, {2, 2, 2, 2})
    notes[#notes + 1] = "28x28 padded by 2 to 32x32 (the Fashion-MNIST layout)"
  elseif h ~= 32 or w ~= 32 then
    x = sg.F.interpolate(x, {size = {32, 32}, mode = "bilinear", align_corners = false}):clamp(0, 1)
    notes[#notes + 1] = string.format("resized %dx%d to 32x32 (bilinear): expect a worse FID than "
      .. "images made at 32x32", h, w)
  end
  x = x * 2 - 1
  local desc = string.format("%s: %d PNG images from %s", what, n, src)
  if #notes > 0 then desc = desc .. " (" .. table.concat(notes, "; ") .. ")" end
  return x, desc
end

local t0 = util.clock()
local xr, dr = load_images(opts.real, "real")
local xf, df = load_images(opts.fake, "fake")
print(dr)
print(df)
local mopts = {batch_size = opts.batch_size}
if opts.weights ~= "" then mopts.weights = opts.weights end
local _, meta = sg.metrics.feature_network(opts.weights ~= "" and {weights = opts.weights} or nil)
local fr = sg.metrics.frechet_features(xr, mopts)
local ff = sg.metrics.frechet_features(xf, mopts)
local nr, nf = fr:size(1), ff:size(1)
if nr < 2 or nf < 2 then error(string.format("sgen: need at least 2 images on each side, got %d real and %d fake",
  nr, nf), 0) end

local fid = sg.metrics.fid(fr, ff)
local m = math.min(opts.kid_subset_size, nr, nf)
if m < opts.kid_subset_size then
  print(string.format("KID subsets of %d images (fewer images than --kid_subset_size=%d)", m, opts.kid_subset_size))
end
local kid, kid_std = sg.metrics.kid(fr, ff, {subsets = opts.kid_subsets, subset_size = m, seed = opts.seed})
local splits_f, splits_r = math.min(opts.splits, nf), math.min(opts.splits, nr)
local is_f, is_f_std = sg.metrics.inception_score(xf, {splits = splits_f, batch_size = opts.batch_size,
  weights = mopts.weights})
local is_r, is_r_std = sg.metrics.inception_score(xr, {splits = splits_r, batch_size = opts.batch_size,
  weights = mopts.weights})
local seconds = util.clock() - t0

print(string.format("FID %.4f | KID %.5f +- %.5f (%d subsets of %d) | IS fake %.3f +- %.3f, real %.3f +- %.3f",
  fid, kid, kid_std, opts.kid_subsets, m, is_f, is_f_std, is_r, is_r_std))
print(CAVEAT)

local summary = {fid = fid, kid_mean = kid, kid_std = kid_std, kid_subsets = opts.kid_subsets,
  kid_subset_size = m, is_mean = is_f, is_std = is_f_std, is_splits = splits_f, is_real_mean = is_r,
  is_real_std = is_r_std, n_real = nr, n_fake = nf, real = opts.real, fake = opts.fake,
  weights = opts.weights ~= "" and opts.weights or "data/fmnist_features.safetensors",
  feature_net_test_acc = tonumber(meta.test_acc), feature_net_commit = meta.commit,
  seconds = seconds, note = CAVEAT}
if opts.out ~= "" then
  assert(os.execute("mkdir -p '" .. opts.out:gsub("'", "'\\''") .. "'"), "cannot create " .. opts.out)
  local config = {}
  for k, v in pairs(opts) do config[k] = v end
  config.sgen_version = sg.version
  util.json.write(opts.out .. "/config.json", config)
  util.json.write(opts.out .. "/summary.json", summary)
  print("wrote " .. opts.out .. "/summary.json")
end
return summary
