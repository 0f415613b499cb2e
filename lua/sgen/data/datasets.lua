-- Datasets held as tensors, with a fast batch path.
--
-- Images are stored as uint8 N x C x H x W and converted to float32 in [0,1]
-- per batch (x:float():div(255)): four times less memory than float32 storage
-- (CIFAR-10 train: 150 MB instead of 600 MB) and the conversion of a batch
-- costs little next to a training step. Labels are int64 and 1-BASED (1..K),
-- as sgen's cross_entropy expects.
--
-- Every dataset has ds:len(), ds:get(i) -> x, y (x a float32 C x H x W tensor,
-- y a Lua integer or nil) and ds:batch(index) -> X, Y (index: a 1-D int64
-- tensor or a Lua list of 1-based indices; X float32 B x C x H x W, Y int64 B
-- or nil), and the fields images, labels, classes (names), name.
local core = require "sgen.core"

local M = {}

local check = require "sgen.util.check"
local is_tensor, shape_str = check.is_tensor, check.shape_str

local function exists(path)
  local f = io.open(path, "rb")
  if not f then return false end
  f:close()
  return true
end

local function isdir(path)
  local f = io.open(path, "rb")
  if not f then return false end
  local _, _, code = f:read(1)
  f:close()
  return code == 21 -- EISDIR
end
M.isdir = isdir

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function join(dir, name)
  if dir:sub(-1) == "/" then return dir .. name end
  return dir .. "/" .. name
end

---------------------------------------------------------------------------
-- TensorDataset
---------------------------------------------------------------------------
local Dataset = {}
Dataset.__index = Dataset
Dataset.__name = "sgen.data.Dataset"
M.Dataset = Dataset

local TD_KEYS = {"name", "classes", "range"}

-- data.TensorDataset(images, labels, opts): images a tensor whose first dim
-- indexes samples (uint8 images are scaled to [0,1] float32 per batch, or to
-- [-1,1] with opts.range = "pm1"; other dtypes are returned as they are);
-- labels nil or a 1-D tensor of the same length (returned as they are: give
-- 1-based class labels). opts: name, classes, range ("01", the default, or
-- "pm1": uint8 v -> v / 127.5 - 1).
function M.TensorDataset(images, labels, opts)
  local fname = "sgen.data.TensorDataset"
  if not is_tensor(images) then
    error(fname .. ": argument 1 (images) expected a tensor, got " .. type(images), 2)
  end
  if images:dim() < 1 then error(fname .. ": argument 1 (images) must have a sample dim, got a scalar", 2) end
  if labels ~= nil then
    if not is_tensor(labels) then
      error(fname .. ": argument 2 (labels) expected a tensor or nil, got " .. type(labels), 2)
    end
    if labels:dim() ~= 1 then
      error(fname .. ": argument 2 (labels) has " .. labels:dim() .. " dims (" .. shape_str(labels) ..
        "), expected 1", 2)
    end
    if labels:size(1) ~= images:size(1) then
      error(string.format("%s: %d images but %d labels", fname, images:size(1), labels:size(1)), 2)
    end
  end
  opts = opts or {}
  if type(opts) ~= "table" then error(fname .. ": argument 3 (opts) expected a table, got " .. type(opts), 2) end
  check.options(opts, TD_KEYS, fname)
  local range = opts.range or "01"
  if range ~= "01" and range ~= "pm1" then
    error(fname .. ": option range expected \"01\" ([0,1]) or \"pm1\" ([-1,1]), got " .. tostring(range), 2)
  end
  return setmetatable({images = images, labels = labels, n = images:size(1),
                       name = opts.name or "TensorDataset", classes = opts.classes, range = range}, Dataset)
end

function Dataset:len() return self.n end
Dataset.__len = Dataset.len

function Dataset:__tostring()
  return string.format("%s(%d samples, images %s %s%s)", self.name, self.n, shape_str(self.images),
    self.images:dtype(), self.labels and (", labels " .. self.labels:dtype()) or "")
end

local function to_float(x, range)
  if x:dtype() == "uint8" then
    if range == "pm1" then return x:float():div(127.5):sub(1) end
    return x:float():div(255)
  end
  return x
end

-- ds:get(i) -> x, y
function Dataset:get(i)
  if math.type(i) ~= "integer" then
    if type(i) == "number" and i == math.floor(i) then i = math.tointeger(i)
    else
      error("sgen.data.Dataset.get: argument 1 (index) expected an integer, got " ..
        (type(i) == "number" and tostring(i) or type(i)), 2)
    end
  end
  if i < 1 or i > self.n then
    error(string.format("sgen.data.Dataset.get: index %d out of range 1..%d (indices are 1-based)", i, self.n), 2)
  end
  local x = to_float(self.images[i], self.range)
  local y = nil
  if self.labels then
    y = self.labels[i]:item()
  end
  return x, y
end

-- ds:batch(index) -> X, Y
function Dataset:batch(index)
  local idx = index
  if type(index) == "table" and not is_tensor(index) then
    if #index == 0 then error("sgen.data.Dataset.batch: argument 1 (index) is an empty list", 2) end
    local ok, t = pcall(core.tensor, index, {dtype = "int64"})
    if not ok then error("sgen.data.Dataset.batch: argument 1 (index) must be a list of integers", 2) end
    idx = t
  elseif not is_tensor(index) then
    error("sgen.data.Dataset.batch: argument 1 (index) expected a 1-D int64 tensor or a list of integers, got " ..
      type(index), 2)
  end
  if idx:dim() ~= 1 then
    error("sgen.data.Dataset.batch: index has " .. idx:dim() .. " dims, expected 1", 2)
  end
  local ok, x = pcall(core.index_select, self.images, 1, idx)
  if not ok then error((tostring(x):gsub("^.-sgen%.index_select", "sgen.data.Dataset.batch")), 2) end
  local y = self.labels and self.labels:index_select(1, idx) or nil
  return to_float(x, self.range), y
end

---------------------------------------------------------------------------
-- IDX datasets: MNIST and Fashion-MNIST
---------------------------------------------------------------------------
M.FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

M.fashion_mnist_classes = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                           "Sneaker", "Bag", "Ankle boot"}
M.mnist_classes = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
M.cifar10_classes = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

local function check_split(split, fname, level)
  if split == nil then return "train" end
  if split ~= "train" and split ~= "test" then
    error(fname .. ": split must be 'train' or 'test', got " ..
      (type(split) == "string" and ("'" .. split .. "'") or type(split)), level + 1)
  end
  return split
end

local function check_dir(dir, fname, hint, level)
  if type(dir) ~= "string" then
    error(fname .. ": argument 1 (dir) expected a directory path, got " .. type(dir) .. hint, level + 1)
  end
  if not isdir(dir) then
    error(fname .. ": directory '" .. dir .. "' does not exist" .. hint, level + 1)
  end
end

local function find_file(dir, base)
  for _, name in ipairs({base .. ".gz", base}) do
    local p = join(dir, name)
    if exists(p) then return p end
  end
  return nil
end

local function core_call(f, fname, level, ...)
  local ok, a, b = pcall(f, ...)
  if not ok then
    local msg = tostring(a):gsub("^.-sgen%.[%w_]+: ", ""):gsub("^idx: ", ""):gsub("^cifar10: ", "")
    error(fname .. ": " .. msg, level + 1)
  end
  return a, b
end

local function idx_dataset(fname, name, classes, dir, split, hint)
  split = check_split(split, fname, 3)
  check_dir(dir, fname, hint, 3)
  local prefix = split == "train" and "train" or "t10k"
  local ipath = find_file(dir, prefix .. "-images-idx3-ubyte")
  local lpath = find_file(dir, prefix .. "-labels-idx1-ubyte")
  if not ipath or not lpath then
    error(string.format("%s: no %s-%s-ubyte(.gz) in '%s'%s", fname, prefix,
      ipath and "labels-idx1" or "images-idx3", dir, hint), 3)
  end
  local images = core_call(core.idx_read, fname, 3, ipath)
  local labels = core_call(core.idx_read, fname, 3, lpath)
  if images:dim() ~= 3 or images:dtype() ~= "uint8" then
    error(string.format("%s: %s holds a %s %s tensor, expected uint8 N x H x W images", fname, ipath,
      shape_str(images), images:dtype()), 3)
  end
  if labels:dim() ~= 1 then
    error(string.format("%s: %s holds a %s tensor, expected N labels", fname, lpath, shape_str(labels)), 3)
  end
  if labels:size(1) ~= images:size(1) then
    error(string.format("%s: %s has %d images but %s has %d labels", fname, ipath, images:size(1), lpath,
      labels:size(1)), 3)
  end
  labels = labels:long()
  if labels:numel() > 0 and (labels:min():item() < 0 or labels:max():item() >= #classes) then
    error(string.format("%s: %s has labels outside 0..%d", fname, lpath, #classes - 1), 3)
  end
  local ds = M.TensorDataset(images:unsqueeze(2), labels + 1,
    {name = name .. "(" .. split .. ")", classes = classes})
  ds.split, ds.files = split, {ipath, lpath}
  return ds
end

-- data.fashion_mnist(dir, split): Fashion-MNIST from its IDX files
-- (train-images-idx3-ubyte.gz ...; gzip or not). dir defaults to
-- /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist);
-- split "train" (60,000, the default) or "test" (10,000).
function M.fashion_mnist(dir, split)
  return idx_dataset("sgen.data.fashion_mnist", "FashionMNIST", M.fashion_mnist_classes,
    dir or M.FASHION_MNIST_DIR, split,
    dir == nil and " (install the Debian package dataset-fashion-mnist, or pass the directory)" or "")
end

-- data.fashion_mnist32(dir, split): Fashion-MNIST in the layout of every GAN
-- of sgen and of sg.metrics.frechet_features: 1 x 32 x 32 images in [-1,1],
-- the 28 x 28 images padded by 2 pixels on each side with the background
-- (0 in [0,1], so -1 after x * 2 - 1). Stored as uint8 N x 1 x 32 x 32 (ds.images,
-- padded) and converted per batch (ds.range = "pm1": v / 127.5 - 1, so 0 -> -1
-- and 255 -> 1 exactly). Same arguments, labels and errors as fashion_mnist.
function M.fashion_mnist32(dir, split)
  local ds = idx_dataset("sgen.data.fashion_mnist32", "FashionMNIST32", M.fashion_mnist_classes,
    dir or M.FASHION_MNIST_DIR, split,
    dir == nil and " (install the Debian package dataset-fashion-mnist, or pass the directory)" or "")
  local img = ds.images -- N x 1 x 28 x 28 uint8
  local n, h, w = img:size(1), img:size(3), img:size(4)
  local padded = core.zeros(n, 1, h + 4, w + 4, {dtype = "uint8"})
  padded:narrow(3, 3, h):narrow(4, 3, w):copy_(img)
  local out = M.TensorDataset(padded, ds.labels, {name = "FashionMNIST32(" .. ds.split .. ")",
    classes = M.fashion_mnist_classes, range = "pm1"})
  out.split, out.files = ds.split, ds.files
  return out
end

-- data.mnist(dir, split): MNIST from its IDX files, same layout and names.
function M.mnist(dir, split)
  return idx_dataset("sgen.data.mnist", "MNIST", M.mnist_classes, dir, split,
    dir == nil and " (the directory holding train-images-idx3-ubyte.gz etc.)" or "")
end

---------------------------------------------------------------------------
-- CIFAR-10 binary batches
---------------------------------------------------------------------------
-- data.cifar10(dir, split): CIFAR-10 "binary version": data_batch_1.bin ..
-- data_batch_5.bin (train, 50,000) or test_batch.bin (test, 10,000) in dir or
-- in dir/cifar-10-batches-bin.
function M.cifar10(dir, split)
  local fname = "sgen.data.cifar10"
  local hint = dir == nil and " (the directory holding data_batch_1.bin ... test_batch.bin)" or ""
  split = check_split(split, fname, 2)
  check_dir(dir, fname, hint, 2)
  local sub = join(dir, "cifar-10-batches-bin")
  if not exists(join(dir, "test_batch.bin")) and not exists(join(dir, "data_batch_1.bin")) and isdir(sub) then
    dir = sub
  end
  local names = {}
  if split == "train" then
    for i = 1, 5 do names[i] = "data_batch_" .. i .. ".bin" end
  else
    names[1] = "test_batch.bin"
  end
  local imgs, labs = {}, {}
  for i, n in ipairs(names) do
    local p = join(dir, n)
    if not exists(p) then error(fname .. ": no " .. n .. " in '" .. dir .. "'", 2) end
    imgs[i], labs[i] = core_call(core.cifar10_read, fname, 2, p)
  end
  local images = #imgs == 1 and imgs[1] or core.cat(imgs, 1)
  local labels = #labs == 1 and labs[1] or core.cat(labs, 1)
  local ds = M.TensorDataset(images, labels:long() + 1,
    {name = "CIFAR10(" .. split .. ")", classes = M.cifar10_classes})
  ds.split = split
  return ds
end

---------------------------------------------------------------------------
-- A folder of PNG images
---------------------------------------------------------------------------
local function list_pngs(dir)
  local cmd = "find " .. shell_quote(dir) .. " -mindepth 1 -maxdepth 2 -type f -iname '*.png' 2>/dev/null"
  local p = io.popen(cmd, "r")
  local top, nested = {}, {}
  if not p then return top, nested end
  local base = dir:gsub("/+$", "")
  for line in p:lines() do
    local rel = line:sub(#base + 2)
    local cls, file = rel:match("^([^/]+)/([^/]+)$")
    if cls then nested[#nested + 1] = {path = line, class = cls, name = file}
    else top[#top + 1] = {path = line, name = rel} end
  end
  p:close()
  return top, nested
end

-- Converts a float C x H x W image to `channels` channels (1 or 3; alpha dropped).
local function to_channels(img, channels)
  local c = img:size(1)
  if c == 2 or c == 4 then img = img:narrow(1, 1, c - 1); c = c - 1 end
  if c == channels then return img end
  if channels == 3 then return img:expand(3, img:size(2), img:size(3)) end
  -- RGB -> luminance (ITU-R 601, as PIL's convert("L"))
  return (img[1] * 0.299 + img[2] * 0.587 + img[3] * 0.114):unsqueeze(1)
end

local IMAGES_KEYS = {"size", "channels"}

-- data.images(dir, {size=, channels=}): every *.png of dir, sorted by name.
-- If dir has no PNG files of its own but subfolders holding PNGs, each
-- subfolder is a class (sorted names -> labels 1..K, ds.classes), as
-- torchvision's ImageFolder; else the images are unlabelled (y is nil).
-- size = {H, W} (or a number for square) resizes each image (bilinear);
-- without it all images must have the same size. channels = 1 or 3 converts
-- (gray <-> RGB, alpha dropped); by default the first image's colour channels.
-- Stored as uint8 like the other datasets (16-bit PNGs lose their low bits).
function M.images(dir, opts)
  local fname = "sgen.data.images"
  check_dir(dir, fname, "", 2)
  opts = opts or {}
  if type(opts) ~= "table" then error(fname .. ": argument 2 (opts) expected a table, got " .. type(opts), 2) end
  check.options(opts, IMAGES_KEYS, fname)
  local size = opts.size
  if size ~= nil then
    if math.type(size) == "integer" then size = {size, size} end
    if type(size) ~= "table" or math.type(size[1]) ~= "integer" or math.type(size[2]) ~= "integer"
        or size[1] < 1 or size[2] < 1 then
      error(fname .. ": option size expected {H, W} or an integer, positive", 2)
    end
  end
  local channels = opts.channels
  if channels ~= nil and channels ~= 1 and channels ~= 3 then
    error(fname .. ": option channels must be 1 or 3, got " .. tostring(channels), 2)
  end
  local top, nested = list_pngs(dir)
  local files, classes
  if #top > 0 then
    files = top
    table.sort(files, function(a, b) return a.name < b.name end)
  elseif #nested > 0 then
    files = nested
    table.sort(files, function(a, b)
      if a.class ~= b.class then return a.class < b.class end
      return a.name < b.name
    end)
    classes = {}
    local id = {}
    for _, f in ipairs(files) do
      if not id[f.class] then classes[#classes + 1] = f.class; id[f.class] = #classes end
      f.label = id[f.class]
    end
  else
    error(fname .. ": no PNG files in '" .. dir .. "'", 2)
  end
  local imgs, labels, paths = {}, {}, {}
  local first_shape
  for i, f in ipairs(files) do
    local ok, img = pcall(core.png_read, f.path)
    if not ok then error(fname .. ": " .. tostring(img):gsub("^.-sgen%.png_read: ", ""):gsub("^png: ", ""), 2) end
    if channels == nil then
      local c = img:size(1)
      channels = (c == 1 or c == 2) and 1 or 3
    end
    img = to_channels(img, channels)
    if size then
      img = core.interpolate(img:unsqueeze(1), {size = size, mode = "bilinear", align_corners = false})[1]
    end
    local s = shape_str(img)
    if not first_shape then
      first_shape = s
    elseif s ~= first_shape then
      error(string.format("%s: '%s' is %s but '%s' is %s; pass {size = {H, W}} to resize", fname,
        f.path, s, files[1].path, first_shape), 2)
    end
    imgs[i] = (img:clamp(0, 1) * 255):round():byte()
    labels[i] = f.label
    paths[i] = f.path
  end
  local images = core.stack(imgs, 1)
  local lab = classes and core.tensor(labels, {dtype = "int64"}) or nil
  local ds = M.TensorDataset(images, lab, {name = "ImageFolder", classes = classes})
  ds.files = paths
  return ds
end

return M
