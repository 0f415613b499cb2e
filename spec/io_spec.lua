-- File I/O: sg.save / sg.load (safetensors), and the raw readers and writers
-- of sgen.core: png_read / png_write, idx_read, cifar10_read.
local sg = require "sgen"
local H = require "spec.helpers"

local FIXTURE = H.fixture_path("io_torch")

-- Temp files: os.tmpname() creates a unique file; we use paths next to it
-- and remove everything in teardown.
local base, made
local function tmp(suffix)
  local p = base .. suffix
  made[#made + 1] = p
  return p
end
local write_file = H.write_file
local read_file = H.slurp
local err_of = H.error_of

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

before_each(function()
  base = os.tmpname()
  made = {}
end)

after_each(function()
  for _, p in ipairs(made) do os.remove(p) end
  os.remove(base)
end)

describe("sg.save / sg.load", function()
  it("round trip every dtype, shapes and metadata", function()
    local t = {
      f32 = sg.tensor({{1.5, -2}, {0.25, 1e-3}}),
      f64 = sg.tensor({math.pi, -1e300, 1 / 3}, {dtype = "float64"}),
      i64 = sg.tensor({2 ^ 40 + 1, -5, 0}, {dtype = "int64"}),
      u8 = sg.tensor({0, 7, 255}, {dtype = "uint8"}),
      flags = sg.tensor({true, false, true}),
      scalar = sg.tensor(4.5),
      empty = sg.zeros(0, 3),
      ["layer.0.weight"] = sg.tensor({{1.0, 2, 3}, {4, 5, 6}}):t(), -- non-contiguous
    }
    local path = tmp(".safetensors")
    sg.save(path, t, {metadata = {format = "pt", note = "quote \" and \u{fc}"}})
    local back, meta = sg.load(path)
    assert.same({format = "pt", note = "quote \" and \u{fc}"}, meta)
    assert.equal(count(t), count(back))
    for name, x in pairs(t) do
      local y = back[name]
      assert.is_not_nil(y, name)
      assert.equal(x:dtype(), y:dtype(), name)
      assert.same(x:shape(), y:shape(), name)
      assert.same(x:totable(), y:totable(), name)
    end
    assert.same({{1, 4}, {2, 5}, {3, 6}}, back["layer.0.weight"]:totable())
    -- float32 rounding survives exactly: 1e-3 as float32, not as float64
    assert.equal(t.f32:totable()[2][2], back.f32:totable()[2][2])
  end)

  it("loads tensors that own their memory (usable after the file is gone)", function()
    local path = tmp(".safetensors")
    sg.save(path, {a = sg.tensor({1.0, 2, 3})})
    local back = sg.load(path)
    os.remove(path)
    assert.same({1, 2, 3}, back.a:totable())
    assert.same({2, 4, 6}, (back.a * 2):totable())
  end)

  it("returns an empty metadata table when the file has none; saves an empty table", function()
    local path = tmp(".safetensors")
    sg.save(path, {})
    local back, meta = sg.load(path)
    assert.same({}, back)
    assert.same({}, meta)
  end)

  it("overwrites atomically and keeps the bytes stable (save, load, save)", function()
    local p1, p2 = tmp(".a.safetensors"), tmp(".b.safetensors")
    sg.save(p1, {x = sg.tensor({1.0, 2}), y = sg.tensor({3}, {dtype = "int64"})}, {metadata = {k = "v"}})
    sg.save(p1, {x = sg.tensor({5.0, 6}), y = sg.tensor({7}, {dtype = "int64"})}, {metadata = {k = "w"}})
    local back, meta = sg.load(p1)
    assert.same({5, 6}, back.x:totable())
    assert.same({k = "w"}, meta)
    sg.save(p2, back, {metadata = meta})
    assert.equal(read_file(p1), read_file(p2))
  end)

  it("reads a file written by PyTorch (tools/make_io_fixtures.py)", function()
    local t, meta = sg.load(FIXTURE)
    assert.same({format = "pt", producer = "tools/make_io_fixtures.py"}, meta)
    assert.equal(14, count(t))
    assert.equal("float32", t.f32:dtype())
    assert.same({{-0.5, -0.25, 0}, {0.25, 0.5, 0.75}}, t.f32:totable())
    assert.equal("float64", t.f64:dtype())
    local x, s = t.f64:totable(), t.sin:totable()
    assert.equal(7, #x)
    for i = 1, 7 do
      assert.near(-1 + (i - 1) / 3, x[i], 1e-15)
      assert.near(math.sin(x[i]), s[i], 1e-15)
    end
    assert.equal("int64", t.i64:dtype())
    assert.same({2 ^ 40 + 1, -5}, t.i64:totable()[1])
    assert.equal("uint8", t.u8:dtype())
    assert.same({0, 7, 255}, t.u8:totable())
    assert.equal("bool", t.flags:dtype())
    assert.same({true, false, true, true}, t.flags:totable())
    -- converted exactly: half types to float32, small ints to int64
    assert.equal("float32", t.f16:dtype())
    assert.same({0.0999755859375, -2.25, 65504}, t.f16:totable())
    assert.equal("float32", t.bf16:dtype())
    assert.same({0.10009765625, -3.5}, t.bf16:totable())
    assert.equal("int64", t.i32:dtype())
    assert.same({-2147483648, 2147483647}, t.i32:totable())
    assert.same({-32768, 32767}, t.i16:totable())
    assert.same({-128, 127}, t.i8:totable())
    assert.same({}, t.scalar:shape())
    assert.equal(4.5, t.scalar:item())
    assert.same({0, 3}, t.empty:shape())
    assert.same({{0, 3}, {1, 4}, {2, 5}}, t["w.t"]:totable())
  end)

  it("keeps int64 values beyond 2^53 exact through load and save", function()
    -- totable() goes through doubles, so compare the bytes on disk instead
    local t = sg.load(FIXTURE)
    local p = tmp(".safetensors")
    sg.save(p, {i64 = t.i64})
    local bytes = read_file(p)
    assert.is_not_nil(bytes:find(string.pack("<i8", (1 << 53) + 1), 1, true))
  end)

  it("reports a missing file with its name", function()
    local p = base .. ".missing.safetensors"
    assert.equal("sgen.load: safetensors: cannot open '" .. p .. "': No such file or directory",
      err_of(sg.load, p))
  end)

  it("reports truncated files with their name", function()
    local data = read_file(FIXTURE)
    local p = write_file(tmp(".trunc.safetensors"), data:sub(1, #data - 10))
    local e = err_of(sg.load, p)
    assert.truthy(e:find("sgen.load: safetensors: '" .. p .. "': ", 1, true), e)
    assert.truthy(e:find("outside the data section", 1, true), e)
    local p2 = write_file(tmp(".short.safetensors"), data:sub(1, 4))
    assert.equal("sgen.load: safetensors: '" .. p2 .. "': file is 4 bytes, too short for the "
      .. "8-byte header length", err_of(sg.load, p2))
  end)

  it("reports corrupt headers with the file name", function()
    local data = read_file(FIXTURE)
    local p = write_file(tmp(".corrupt.safetensors"), data:sub(1, 20) .. "@@@@" .. data:sub(25))
    local e = err_of(sg.load, p)
    assert.truthy(e:find("sgen.load: safetensors: '" .. p .. "': ", 1, true), e)
    local p2 = write_file(tmp(".len.safetensors"), string.pack("<I8", 1 << 40) .. data:sub(9))
    assert.equal("sgen.load: safetensors: '" .. p2 .. "': header length 1099511627776 is absurd "
      .. "(more than 100000000 bytes): not a safetensors file?", err_of(sg.load, p2))
    local p3 = write_file(tmp(".png.safetensors"), "\137PNG\r\n\26\n" .. string.rep("\0", 32))
    assert.truthy(err_of(sg.load, p3):find(p3, 1, true))
  end)

  it("checks its arguments", function()
    local p = tmp(".safetensors")
    local x = sg.zeros(2)
    assert.equal("sgen.save: argument 1 (path) expected a string, got nil",
      err_of(sg.save, nil, {x = x}))
    assert.equal("sgen.save: argument 1 (path) is an empty string", err_of(sg.save, "", {x = x}))
    assert.equal("sgen.save: argument 2 (tensors) expected a table {name = tensor, ...}, got tensor",
      err_of(sg.save, p, x))
    assert.equal("sgen.save: entry 'a' is number, expected a tensor",
      err_of(sg.save, p, {a = 3}))
    assert.equal("sgen.save: entry 'a' is table, expected a tensor",
      err_of(sg.save, p, {a = {b = x}}))
    assert.equal("sgen.save: argument 2 (tensors) has a number key, expected string names "
      .. "(a table {name = tensor, ...}, not a list)", err_of(sg.save, p, {x}))
    local freed = sg.zeros(1)
    freed:free()
    assert.equal("sgen.save: entry 'f' is a freed tensor", err_of(sg.save, p, {f = freed}))
    assert.equal("sgen.save: metadata 'epoch' is number, expected a string (safetensors "
      .. "metadata holds strings only; convert with tostring)",
      err_of(sg.save, p, {x = x}, {metadata = {epoch = 3}}))
    assert.equal("sgen.save: metadata has a number key, expected string keys",
      err_of(sg.save, p, {x = x}, {metadata = {"a"}}))
    assert.equal("sgen.save: option 'metadata' expected a table {key = \"value\"}, got string",
      err_of(sg.save, p, {x = x}, {metadata = "a"}))
    assert.equal("sgen.save: unknown option 'meta' (expected metadata)",
      err_of(sg.save, p, {x = x}, {meta = {}}))
    assert.equal("sgen.save: safetensors: save '" .. p .. "': '__metadata__' is reserved, not a "
      .. "tensor name", err_of(sg.save, p, {__metadata__ = x}))
    assert.equal("sgen.load: argument 1 (path) expected a string, got number", err_of(sg.load, 3))
    -- nothing was written by the failed saves
    assert.is_nil(io.open(p, "rb"))
  end)

  it("reports an unwritable path with its name", function()
    local p = base .. ".nodir/x.safetensors"
    assert.equal("sgen.save: safetensors: cannot write '" .. p .. "': cannot create a temp file "
      .. "next to it: No such file or directory", err_of(sg.save, p, {x = sg.zeros(1)}))
  end)
end)

describe("sg.core.png_read / png_write", function()
  it("round trip float32 C x H x W in [0, 1] (8 bits)", function()
    for _, c in ipairs({1, 2, 3, 4}) do
      local vals = {}
      for ch = 1, c do
        vals[ch] = {}
        for y = 1, 4 do
          vals[ch][y] = {}
          for x = 1, 5 do vals[ch][y][x] = ((ch * 37 + y * 11 + x * 53) % 256) / 255 end
        end
      end
      local img = sg.tensor(vals)
      local p = tmp(".c" .. c .. ".png")
      sg.core.png_write(p, img)
      local back = sg.core.png_read(p)
      assert.equal("float32", back:dtype())
      assert.same({c, 4, 5}, back:shape())
      local b = back:totable()
      for ch = 1, c do
        for y = 1, 4 do
          for x = 1, 5 do assert.near(vals[ch][y][x], b[ch][y][x], 1e-6) end
        end
      end
    end
  end)

  it("writes uint8 images and clamps float values", function()
    local p = tmp(".u8.png")
    sg.core.png_write(p, sg.tensor({{{0, 128, 255}}}, {dtype = "uint8"}))
    local r = sg.core.png_read(p):totable()[1][1]
    assert.same({0, 1}, {r[1], r[3]})
    assert.near(128 / 255, r[2], 1e-7)
    local p2 = tmp(".clamp.png")
    sg.core.png_write(p2, sg.tensor({{{-1, 0.5, 2}}}, {dtype = "float64"}))
    local b = sg.core.png_read(p2):totable()[1][1]
    assert.same({0, 1}, {b[1], b[3]})
    assert.near(128 / 255, b[2], 1e-6) -- round(0.5 * 255) = 128
  end)

  it("reports missing and corrupt files with their name", function()
    local p = base .. ".none.png"
    assert.equal("sgen.png_read: png: cannot open '" .. p .. "': No such file or directory",
      err_of(sg.core.png_read, p))
    local bad = write_file(tmp(".bad.png"), "not a png at all")
    assert.equal("sgen.png_read: png: '" .. bad .. "': not a PNG file (bad signature)",
      err_of(sg.core.png_read, bad))
    -- a valid PNG cut in half
    local good = tmp(".good.png")
    sg.core.png_write(good, sg.rand(3, 16, 16))
    local data = read_file(good)
    local cut = write_file(tmp(".cut.png"), data:sub(1, #data // 2))
    assert.truthy(err_of(sg.core.png_read, cut):find("sgen.png_read: png: '" .. cut .. "': ", 1, true))
  end)

  it("checks the image", function()
    local p = tmp(".x.png")
    local q = tmp(".y.png")
    assert.equal("sgen.png_write: png_write: image has shape 5x2x2, expected C x H x W with C = 1 "
      .. "(gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA)", err_of(sg.core.png_write, p, sg.zeros(5, 2, 2)))
    assert.equal("sgen.png_write: argument 2 (image) expected a tensor, got table",
      err_of(sg.core.png_write, p, {1}))
    assert.equal("sgen.png_read: argument 1 (path) expected a string, got no value",
      err_of(sg.core.png_read))
    assert.equal("sgen.png_write: argument 1 (path) expected a string, got table",
      err_of(sg.core.png_write, {}, sg.zeros(1, 2, 2)))
    assert.is_nil(io.open(p, "rb"))
    assert.is_nil(io.open(q, "rb"))
  end)
end)

describe("sg.core.idx_read", function()
  it("reads ubyte, int and float IDX files (big-endian, MNIST layout)", function()
    -- magic: 0 0 type ndim; dims as big-endian u32; data big-endian
    local p = write_file(tmp(".u8.idx"), "\0\0\8\3" .. string.pack(">I4I4I4", 2, 2, 3)
      .. string.char(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 254, 255))
    local x = sg.core.idx_read(p)
    assert.equal("uint8", x:dtype())
    assert.same({{{0, 1, 2}, {3, 4, 5}}, {{6, 7, 8}, {9, 254, 255}}}, x:totable())
    local p2 = write_file(tmp(".i32.idx"), "\0\0\12\1" .. string.pack(">I4i4i4i4", 3, -7, 0, 1 << 30))
    local y = sg.core.idx_read(p2)
    assert.equal("int64", y:dtype())
    assert.same({-7, 0, 1 << 30}, y:totable())
    local p3 = write_file(tmp(".f32.idx"), "\0\0\13\1" .. string.pack(">I4ff", 2, 1.5, -0.25))
    local z = sg.core.idx_read(p3)
    assert.equal("float32", z:dtype())
    assert.same({1.5, -0.25}, z:totable())
  end)

  it("reports missing and truncated files with their name", function()
    local p = base .. ".none.idx"
    assert.equal("sgen.idx_read: idx: cannot open '" .. p .. "': No such file or directory",
      err_of(sg.core.idx_read, p))
    local t = write_file(tmp(".t.idx"), "\0\0\8\1" .. string.pack(">I4", 5) .. "ab")
    assert.equal("sgen.idx_read: idx: '" .. t .. "': file is truncated: header says 5 of ubyte "
      .. "(5 data bytes) but the file holds only 2", err_of(sg.core.idx_read, t))
    local m = write_file(tmp(".m.idx"), "PK\3\4xxxxxxxx")
    assert.truthy(err_of(sg.core.idx_read, m):find("sgen.idx_read: idx: '" .. m .. "'", 1, true))
  end)
end)

describe("sg.core.cifar10_read", function()
  local function record(label, seed)
    local px = {}
    for i = 1, 3072 do px[i] = string.char((i * 7 + seed) % 256) end
    return string.char(label) .. table.concat(px)
  end

  it("reads images N x 3 x 32 x 32 uint8 and labels 0..9 as stored", function()
    local p = write_file(tmp(".bin"), record(3, 0) .. record(9, 5) .. record(0, 9))
    local images, labels = sg.core.cifar10_read(p)
    assert.equal("uint8", images:dtype())
    assert.same({3, 3, 32, 32}, images:shape())
    assert.equal("int64", labels:dtype())
    assert.same({3, 9, 0}, labels:totable()) -- NOT shifted to 1-based
    local im = images:totable()
    -- record 2, channel G (plane 2), row 1, col 2: byte 1024 + 2 of the pixels
    assert.equal((1026 * 7 + 5) % 256, im[2][2][1][2])
    assert.equal((1 * 7 + 0) % 256, im[1][1][1][1])
    assert.equal((3072 * 7 + 9) % 256, im[3][3][32][32])
  end)

  it("reports missing, truncated and corrupt files with their name", function()
    local p = base .. ".none.bin"
    assert.equal("sgen.cifar10_read: cifar10: cannot open '" .. p .. "': No such file or directory",
      err_of(sg.core.cifar10_read, p))
    local t = write_file(tmp(".t.bin"), record(1, 0):sub(1, 3000))
    assert.equal("sgen.cifar10_read: cifar10: '" .. t .. "': file size 3000 is not a positive "
      .. "multiple of 3073 (records of 1 label byte + 3072 pixel bytes)", err_of(sg.core.cifar10_read, t))
    local c = write_file(tmp(".c.bin"), record(1, 0) .. record(10, 0))
    assert.equal("sgen.cifar10_read: cifar10: '" .. c .. "': record 1 has label 10, expected 0..9",
      err_of(sg.core.cifar10_read, c))
  end)
end)
