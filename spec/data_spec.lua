-- sg.data: datasets and the DataLoader.
local sg = require "sgen"
local data = sg.data
local H = require "spec.helpers"

local FMNIST = "/usr/share/datasets/fashion-mnist"

local tmpdir, rmdir, writefile = H.tmpdir, H.rmdir, H.write_file

local function be32(n) return string.pack(">I4", n) end

-- A tiny uncompressed IDX pair: n images h x w with pixel value (i*10 + k) % 256
-- and labels (i-1) % 10.
local function write_idx(dir, prefix, n, h, w, opts)
  opts = opts or {}
  local px = {}
  for i = 1, n do
    for k = 1, h * w do px[#px + 1] = string.char((i * 10 + k) % 256) end
  end
  writefile(dir .. "/" .. prefix .. "-images-idx3-ubyte",
    be32(0x803) .. be32(n) .. be32(h) .. be32(w) .. table.concat(px))
  local nl = opts.nlabels or n
  local lab = {}
  for i = 1, nl do lab[i] = string.char(opts.label or ((i - 1) % 10)) end
  writefile(dir .. "/" .. prefix .. "-labels-idx1-ubyte", be32(0x801) .. be32(nl) .. table.concat(lab))
end

-- A CIFAR-10 binary batch of n records: label (first + i - 1) % 10, every pixel
-- of record i = i + first.
local function write_cifar(path, n, first)
  local recs = {}
  for i = 1, n do
    recs[i] = string.char((first + i - 1) % 10) .. string.rep(string.char((first + i) % 256), 3072)
  end
  writefile(path, table.concat(recs))
end

local shape = H.shape_str

local function near(want, got, tol)
  assert.is_true(math.abs(want - got) <= (tol or 1e-6), string.format("expected %.9g, got %.9g", want, got))
end

-- The message of a failed call, without the "file:line: " prefix.
local errmsg = H.error_message

describe("sg.data.fashion_mnist", function()
  local ds = data.fashion_mnist(FMNIST, "test")

  it("loads the test split as uint8 images and 1-based int64 labels", function()
    assert.equal(10000, ds:len())
    assert.equal(10000, #ds)
    assert.equal("10000x1x28x28", shape(ds.images))
    assert.equal("uint8", ds.images:dtype())
    assert.equal("int64", ds.labels:dtype())
    assert.equal(1, ds.labels:min():item())
    assert.equal(10, ds.labels:max():item())
    assert.equal(5.5, ds.labels:double():mean():item()) -- 1000 of each class
    assert.equal(573469082, ds.images:long():sum():item())
    assert.equal("Ankle boot", ds.classes[10])
    assert.equal("test", ds.split)
    assert.matches("FashionMNIST%(test%)%(10000 samples", tostring(ds))
  end)

  it("get(i) gives a float32 1x28x28 image in [0,1] and the 1-based label", function()
    local x, y = ds:get(1)
    assert.equal("1x28x28", shape(x))
    assert.equal("float32", x:dtype())
    assert.equal(10, y) -- the file's first test label is 9 (Ankle boot)
    assert.is_true(math.abs(x:sum():item() - 33456 / 255) < 1e-3)
    local row = x[1][15]:narrow(1, 11, 8)
    assert.is_true((row * 255 - sg.tensor({0.0, 0, 98, 136, 110, 109, 110, 162})):abs():max():item() < 1e-4)
    local xl, yl = ds:get(10000)
    assert.equal(6, yl)
    assert.is_true(math.abs(xl:sum():item() - 24390 / 255) < 1e-3)
    assert.equal(3, select(2, ds:get(2)))
  end)

  it("batch(index) matches get and takes tensors or lists", function()
    local x, y = ds:batch({1, 2, 3, 4, 5, 6, 7, 8})
    assert.equal("8x1x28x28", shape(x))
    assert.equal("float32", x:dtype())
    assert.same({10, 3, 2, 2, 7, 2, 5, 7}, y:totable())
    local x2, y2 = ds:batch(sg.tensor({8, 1}, {dtype = "int64"}))
    assert.same({7, 10}, y2:totable())
    assert.equal(0, (x2[2] - ds:get(1)):abs():max():item())
    assert.equal(0, (x2[1] - x[8]):abs():max():item())
    assert.is_true(x:max():item() <= 1 and x:min():item() >= 0)
  end)

  it("reports bad indices", function()
    assert.has_error(function() ds:get(0) end, "sgen.data.Dataset.get: index 0 out of range 1..10000 (indices are 1-based)")
    assert.has_error(function() ds:get(10001) end,
      "sgen.data.Dataset.get: index 10001 out of range 1..10000 (indices are 1-based)")
    assert.has_error(function() ds:get(1.5) end, "sgen.data.Dataset.get: argument 1 (index) expected an integer, got 1.5")
    assert.has_error(function() ds:batch({0}) end,
      "sgen.data.Dataset.batch: index 0 out of range for dim 1 of size 10000 (expected 1..10000; indices are 1-based)")
    assert.has_error(function() ds:batch({}) end, "sgen.data.Dataset.batch: argument 1 (index) is an empty list")
    assert.has_error(function() ds:batch({"a"}) end, "sgen.data.Dataset.batch: argument 1 (index) must be a list of integers")
    assert.has_error(function() ds:batch(3) end,
      "sgen.data.Dataset.batch: argument 1 (index) expected a 1-D int64 tensor or a list of integers, got number")
    assert.has_error(function() ds:batch(sg.ones(2, 2, {dtype = "int64"})) end,
      "sgen.data.Dataset.batch: index has 2 dims, expected 1")
  end)

  it("rejects a wrong split and a missing directory", function()
    assert.has_error(function() data.fashion_mnist(FMNIST, "val") end,
      "sgen.data.fashion_mnist: split must be 'train' or 'test', got 'val'")
    assert.has_error(function() data.fashion_mnist(FMNIST, 1) end,
      "sgen.data.fashion_mnist: split must be 'train' or 'test', got number")
    assert.has_error(function() data.fashion_mnist("/nonexistent/fm", "test") end,
      "sgen.data.fashion_mnist: directory '/nonexistent/fm' does not exist")
    local d = tmpdir()
    assert.has_error(function() data.fashion_mnist(d, "test") end,
      "sgen.data.fashion_mnist: no t10k-images-idx3-ubyte(.gz) in '" .. d .. "'")
    assert.has_error(function() data.fashion_mnist(3) end,
      "sgen.data.fashion_mnist: argument 1 (dir) expected a directory path, got number")
    rmdir(d)
  end)

  it("defaults to the Debian package's directory", function()
    assert.equal(FMNIST, data.FASHION_MNIST_DIR)
  end)
end)

describe("sg.data.mnist", function()
  it("reads uncompressed IDX files of any size", function()
    local d = tmpdir()
    write_idx(d, "train", 12, 2, 3)
    write_idx(d, "t10k", 3, 2, 3)
    local ds = data.mnist(d) -- split defaults to train
    assert.equal(12, ds:len())
    assert.equal("12x1x2x3", shape(ds.images))
    assert.same({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2}, ds.labels:totable())
    local x, y = ds:get(2)
    assert.equal(2, y)
    local want = sg.tensor({{{21.0, 22, 23}, {24, 25, 26}}}) / 255
    assert.is_true((x - want):abs():max():item() < 1e-7)
    assert.equal(3, data.mnist(d, "test"):len())
    assert.equal("0", ds.classes[1])
    rmdir(d)
  end)

  it("reports missing, mismatched and corrupt files", function()
    assert.has_error(function() data.mnist() end,
      "sgen.data.mnist: argument 1 (dir) expected a directory path, got nil (the directory holding train-images-idx3-ubyte.gz etc.)")
    local d = tmpdir()
    write_idx(d, "train", 4, 2, 2, {nlabels = 3})
    assert.has_error(function() data.mnist(d) end,
      "sgen.data.mnist: " .. d .. "/train-images-idx3-ubyte has 4 images but " .. d ..
      "/train-labels-idx1-ubyte has 3 labels")
    write_idx(d, "train", 4, 2, 2, {label = 12})
    assert.has_error(function() data.mnist(d) end,
      "sgen.data.mnist: " .. d .. "/train-labels-idx1-ubyte has labels outside 0..9")
    os.remove(d .. "/train-labels-idx1-ubyte")
    assert.has_error(function() data.mnist(d) end,
      "sgen.data.mnist: no train-labels-idx1-ubyte(.gz) in '" .. d .. "'")
    writefile(d .. "/train-labels-idx1-ubyte", "garbage!")
    assert.matches("^sgen%.data%.mnist: '.*/train%-labels%-idx1%-ubyte': bad magic", errmsg(data.mnist, d))
    rmdir(d)
  end)
end)

describe("sg.data.cifar10", function()
  it("reads the binary batches (train: 5 files, test: 1)", function()
    local d = tmpdir()
    for i = 1, 5 do write_cifar(d .. "/data_batch_" .. i .. ".bin", 2, (i - 1) * 2) end
    write_cifar(d .. "/test_batch.bin", 3, 100)
    local tr = data.cifar10(d, "train")
    assert.equal(10, tr:len())
    assert.equal("10x3x32x32", shape(tr.images))
    assert.same({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, tr.labels:totable())
    local x, y = tr:get(4)
    assert.equal("3x32x32", shape(x))
    assert.equal(4, y)
    near(4 / 255, x:min():item())
    assert.equal(x:min():item(), x:max():item())
    local te = data.cifar10(d, "test")
    assert.equal(3, te:len())
    assert.same({1, 2, 3}, te.labels:totable()) -- (100 + i - 1) % 10 + 1
    assert.equal("airplane", te.classes[1])
    rmdir(d)
  end)

  it("finds the cifar-10-batches-bin subfolder", function()
    local d = tmpdir()
    os.execute("mkdir -p '" .. d .. "/cifar-10-batches-bin'")
    write_cifar(d .. "/cifar-10-batches-bin/test_batch.bin", 2, 0)
    assert.equal(2, data.cifar10(d, "test"):len())
    rmdir(d)
  end)

  it("reports missing files, bad splits and corrupt batches", function()
    local d = tmpdir()
    for i = 1, 2 do write_cifar(d .. "/data_batch_" .. i .. ".bin", 1, 0) end
    assert.has_error(function() data.cifar10(d, "train") end,
      "sgen.data.cifar10: no data_batch_3.bin in '" .. d .. "'")
    assert.has_error(function() data.cifar10(d, "training") end,
      "sgen.data.cifar10: split must be 'train' or 'test', got 'training'")
    assert.has_error(function() data.cifar10(nil, "test") end,
      "sgen.data.cifar10: argument 1 (dir) expected a directory path, got nil (the directory holding data_batch_1.bin ... test_batch.bin)")
    assert.has_error(function() data.cifar10("/nonexistent", "test") end,
      "sgen.data.cifar10: directory '/nonexistent' does not exist")
    writefile(d .. "/test_batch.bin", string.rep("x", 100))
    assert.matches("^sgen%.data%.cifar10: '.*/test_batch%.bin'", errmsg(data.cifar10, d, "test"))
    rmdir(d)
  end)
end)

describe("sg.data.images", function()
  it("loads a folder of PNGs sorted by name, unlabelled", function()
    local d = tmpdir()
    sg.image.write(d .. "/b.png", sg.full({3, 4, 5}, 1))
    sg.image.write(d .. "/a.png", sg.zeros(3, 4, 5))
    sg.image.write(d .. "/c.PNG", sg.full({3, 4, 5}, 0.5))
    writefile(d .. "/notes.txt", "not an image")
    local ds = data.images(d)
    assert.equal(3, ds:len())
    assert.equal("3x3x4x5", shape(ds.images))
    assert.is_nil(ds.labels)
    local x, y = ds:get(1)
    assert.is_nil(y)
    assert.equal(0, x:max():item())
    assert.equal(1, ds:get(2):min():item())
    near(128 / 255, ds:get(3):max():item())
    assert.matches("/a%.png$", ds.files[1])
    local xb, yb = ds:batch({2, 1})
    assert.equal("2x3x4x5", shape(xb))
    assert.is_nil(yb)
    rmdir(d)
  end)

  it("uses subfolders as classes, resizes and converts channels", function()
    local d = tmpdir()
    os.execute("mkdir -p '" .. d .. "/dog' '" .. d .. "/cat'")
    sg.image.write(d .. "/dog/1.png", sg.full({1, 8, 8}, 1))
    sg.image.write(d .. "/cat/1.png", sg.full({3, 4, 4}, 0.2))
    sg.image.write(d .. "/cat/2.png", sg.full({4, 4, 4}, 0.4))
    local ds = data.images(d, {size = 4, channels = 3})
    assert.same({"cat", "dog"}, ds.classes)
    assert.same({1, 1, 2}, ds.labels:totable())
    assert.equal("3x3x4x4", shape(ds.images))
    assert.equal(1, ds:get(3):min():item()) -- gray -> RGB, 8x8 -> 4x4
    local g = data.images(d, {size = {2, 3}, channels = 1})
    assert.equal("3x1x2x3", shape(g.images))
    near(51 / 255, g:get(1):max():item()) -- luminance of (0.2, 0.2, 0.2)
    rmdir(d)
  end)

  it("reports mixed sizes, empty folders and bad options", function()
    local d = tmpdir()
    assert.has_error(function() data.images(d) end, "sgen.data.images: no PNG files in '" .. d .. "'")
    sg.image.write(d .. "/a.png", sg.zeros(1, 4, 4))
    sg.image.write(d .. "/b.png", sg.zeros(1, 5, 4))
    assert.has_error(function() data.images(d) end,
      "sgen.data.images: '" .. d .. "/b.png' is 1x5x4 but '" .. d .. "/a.png' is 1x4x4; pass {size = {H, W}} to resize")
    assert.equal("2x1x4x4", shape(data.images(d, {size = {4, 4}}).images))
    assert.has_error(function() data.images(d, {channels = 2}) end, "sgen.data.images: option channels must be 1 or 3, got 2")
    assert.has_error(function() data.images(d, {size = {0, 2}}) end,
      "sgen.data.images: option size expected {H, W} or an integer, positive")
    assert.has_error(function() data.images(d, {sizes = 3}) end,
      "sgen.data.images: unknown option 'sizes' (expected size, channels)")
    assert.has_error(function() data.images("/nonexistent") end, "sgen.data.images: directory '/nonexistent' does not exist")
    writefile(d .. "/c.png", "broken")
    assert.matches("^sgen%.data%.images: '.*/c%.png': not a PNG", errmsg(data.images, d, {size = 4}))
    rmdir(d)
  end)
end)

describe("sg.data.TensorDataset", function()
  it("wraps tensors; float images pass unchanged", function()
    local x = sg.randn(5, 3)
    local ds = data.TensorDataset(x, sg.tensor({1, 2, 3, 4, 5}, {dtype = "int64"}))
    local xb, yb = ds:batch({5, 1})
    assert.equal(0, (xb[1] - x[5]):abs():max():item())
    assert.same({5, 1}, yb:totable())
    assert.equal(3, select(2, ds:get(3)))
  end)
  it("checks its arguments", function()
    assert.has_error(function() data.TensorDataset("x") end,
      "sgen.data.TensorDataset: argument 1 (images) expected a tensor, got string")
    assert.has_error(function() data.TensorDataset(sg.zeros(3, 2), sg.zeros(2)) end,
      "sgen.data.TensorDataset: 3 images but 2 labels")
    assert.has_error(function() data.TensorDataset(sg.zeros(3, 2), sg.zeros(3, 1)) end,
      "sgen.data.TensorDataset: argument 2 (labels) has 2 dims (3x1), expected 1")
    assert.has_error(function() data.TensorDataset(sg.zeros(3, 2), nil, {nmae = "x"}) end,
      "sgen.data.TensorDataset: unknown option 'nmae' (expected name, classes, range)")
  end)
end)

describe("sg.data.DataLoader", function()
  local function seq_ds(n)
    -- sample i is the number i; labels 1-based too
    local x = sg.arange(1, n + 1):reshape(n, 1)
    return data.TensorDataset(x, sg.arange(1, n + 1, {dtype = "int64"}))
  end
  local function collect(loader)
    local out = {}
    for x, y in loader:iter() do
      local b = {}
      for i, v in ipairs(y:totable()) do
        b[i] = v
        assert.equal(v, x[i]:item()) -- x and y stay paired
      end
      out[#out + 1] = b
    end
    return out
  end

  it("batches in order without shuffling; drop_last drops the short batch", function()
    local ds = seq_ds(10)
    local l = data.DataLoader(ds, {batch_size = 3})
    assert.equal(4, l:len())
    assert.equal(4, #l)
    assert.same({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10}}, collect(l))
    local ld = data.DataLoader(ds, {batch_size = 3, drop_last = true})
    assert.equal(3, ld:len())
    assert.same({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}, collect(ld))
    assert.equal(1, data.DataLoader(ds, {batch_size = 10, drop_last = true}):len())
    assert.equal(0, data.DataLoader(ds, {batch_size = 11, drop_last = true}):len())
    assert.same({}, collect(data.DataLoader(ds, {batch_size = 11, drop_last = true})))
    assert.equal(10, data.DataLoader(ds):len()) -- batch_size 1 by default
    assert.matches("DataLoader%(10 samples, batch_size=3", tostring(l))
  end)

  it("shuffles reproducibly: same seed, same batches; each epoch a new order", function()
    local ds = seq_ds(50)
    local a = data.DataLoader(ds, {batch_size = 8, shuffle = true, seed = 7})
    local b = data.DataLoader(ds, {batch_size = 8, shuffle = true, seed = 7})
    local a1, b1 = collect(a), collect(b)
    assert.same(a1, b1)
    assert.equal(7, #a1)
    assert.equal(2, #a1[7])
    -- a permutation of 1..50
    local seen = {}
    for _, batch in ipairs(a1) do for _, v in ipairs(batch) do seen[v] = (seen[v] or 0) + 1 end end
    for i = 1, 50 do assert.equal(1, seen[i]) end
    local a2 = collect(a)
    assert.are_not.same(a1, a2)
    assert.same(a2, collect(b))
    local c = data.DataLoader(ds, {batch_size = 8, shuffle = true, seed = 8})
    assert.are_not.same(a1, collect(c))
    -- epoch e is seeded by seed + e: resume with set_epoch
    local r = data.DataLoader(ds, {batch_size = 8, shuffle = true, seed = 7})
    r:set_epoch(1)
    assert.same(a2, collect(r))
    assert.equal(2, r.epoch)
    assert.same(a:order(1):totable(), r:order(1):totable())
  end)

  it("neither consumes nor disturbs the global random stream", function()
    sg.manual_seed(123)
    local want = sg.rand(4):totable()
    sg.manual_seed(123)
    local l = data.DataLoader(seq_ds(20), {batch_size = 4, shuffle = true, seed = 1})
    collect(l)
    collect(l)
    assert.same(want, sg.rand(4):totable())
    -- the default seed is the global one at construction
    sg.manual_seed(99)
    local d1 = collect(data.DataLoader(seq_ds(20), {batch_size = 4, shuffle = true}))
    sg.manual_seed(99)
    local d2 = collect(data.DataLoader(seq_ds(20), {batch_size = 4, shuffle = true}))
    assert.same(d1, d2)
  end)

  it("applies a transform and works with get-only datasets", function()
    local ds = seq_ds(5)
    local l = data.DataLoader(ds, {batch_size = 2, transform = function(x, y) return x * 10, y end})
    local it = l:iter()
    local x, y = it()
    assert.same({{10}, {20}}, x:totable())
    assert.same({1, 2}, y:totable())
    local plain = {len = function() return 3 end, get = function(_, i) return sg.full({2}, i), i * 2 end}
    local got = {}
    for xb, yb in data.DataLoader(plain, {batch_size = 2}):iter() do
      got[#got + 1] = {xb:totable(), yb:totable(), yb:dtype()}
    end
    assert.same({{{{1, 1}, {2, 2}}, {2, 4}, "int64"}, {{{3, 3}}, {6}, "int64"}}, got)
  end)

  it("iterates a real dataset fast", function()
    local ds = data.fashion_mnist(FMNIST, "test")
    local l = data.DataLoader(ds, {batch_size = 256, shuffle = true, seed = 0, drop_last = true})
    local n, labels = 0, 0
    for x, y in l:iter() do
      assert.equal("256x1x28x28", shape(x))
      assert.equal("float32", x:dtype())
      n = n + 1
      labels = labels + y:numel()
    end
    assert.equal(39, n)
    assert.equal(39 * 256, labels)
  end)

  it("rejects bad arguments", function()
    local ds = seq_ds(4)
    assert.has_error(function() data.DataLoader(ds, {batch_size = 0}) end,
      "sgen.data.DataLoader: batch_size must be an integer >= 1, got 0")
    assert.has_error(function() data.DataLoader(ds, {batch_size = 2.5}) end,
      "sgen.data.DataLoader: batch_size must be an integer >= 1, got 2.5")
    assert.has_error(function() data.DataLoader(ds, {batch_size = "8"}) end,
      "sgen.data.DataLoader: batch_size must be an integer >= 1, got 8")
    assert.has_error(function() data.DataLoader(ds, {batchsize = 8}) end,
      "sgen.data.DataLoader: unknown option 'batchsize' (expected batch_size, shuffle, drop_last, seed, transform, sampler)")
    assert.has_error(function() data.DataLoader(ds, {shuffle = 1}) end,
      "sgen.data.DataLoader: option shuffle expected a boolean, got number")
    assert.has_error(function() data.DataLoader(ds, {seed = 1.5}) end,
      "sgen.data.DataLoader: option seed expected an integer, got 1.5")
    assert.has_error(function() data.DataLoader(ds, {transform = 3}) end,
      "sgen.data.DataLoader: option transform expected a function(x, y) -> x, y, got number")
    assert.has_error(function() data.DataLoader(nil) end,
      "sgen.data.DataLoader: argument 1 (dataset) expected a dataset with len() and get(i) or batch(index), got nil")
    assert.has_error(function() data.DataLoader({len = function() return 1 end}) end,
      "sgen.data.DataLoader: argument 1 (dataset) has neither batch(index) nor get(i)")
    assert.has_error(function() data.DataLoader(ds):set_epoch(-1) end,
      "sgen.data.DataLoader: set_epoch: argument 1 (epoch) expected an integer >= 0, got -1")
  end)
end)
