-- sg.image: PNG read/write, grids, heat maps.
local sg = require "sgen"
local image = sg.image
local H = require "spec.helpers"

local tmpname = H.tmpname
local shape = H.shape_str

local function maxdiff(a, b) return (a - b):abs():max():item() end

describe("sg.image.read / write", function()
  it("round-trips 8-bit values exactly for 1, 2, 3 and 4 channels", function()
    for _, c in ipairs({1, 2, 3, 4}) do
      local p = tmpname(".png")
      local t = (sg.randint(0, 256, {c, 5, 7}):float() / 255)
      image.write(p, t)
      local r = image.read(p)
      assert.equal(c .. "x5x7", shape(r))
      assert.equal("float32", r:dtype())
      assert.is_true(maxdiff(r, t) < 1e-6)
      os.remove(p)
    end
  end)

  it("writes H x W as gray, clamps values and maps NaN to 0", function()
    local p = tmpname(".png")
    image.write(p, sg.tensor({{-1, 0.5}, {2, 0 / 0}}))
    local r = image.read(p)
    assert.equal("1x2x2", shape(r))
    local v = r:totable()[1]
    assert.equal(0, v[1][1])
    assert.equal(1, v[2][1])
    assert.equal(0, v[2][2])
    assert.is_true(math.abs(v[1][2] - 128 / 255) < 1e-6)
    os.remove(p)
  end)

  it("writes uint8, float64 and bool tensors", function()
    local p = tmpname(".png")
    image.write(p, sg.tensor({{{0, 255}, {7, 100}}}, {dtype = "uint8"}))
    assert.is_true(maxdiff(image.read(p), sg.tensor({{{0, 1}, {7 / 255, 100 / 255}}})) < 1e-6)
    image.write(p, sg.tensor({{{0.25, 1}}}, {dtype = "float64"}))
    assert.is_true(maxdiff(image.read(p), sg.tensor({{{64 / 255, 1}}})) < 1e-6)
    image.write(p, sg.tensor({{{1.0, 0}}}):gt(0.5))
    assert.same({{{1, 0}}}, image.read(p):totable())
    os.remove(p)
  end)

  it("writes a tensor that requires grad", function()
    local p = tmpname(".png")
    image.write(p, sg.rand(3, 4, 4):requires_grad_())
    assert.equal("3x4x4", shape(image.read(p)))
    os.remove(p)
  end)

  it("writes N x C x H x W as a grid", function()
    local p = tmpname(".png")
    image.write(p, sg.rand(6, 3, 4, 5), {nrow = 3, padding = 1})
    assert.equal("3x11x19", shape(image.read(p))) -- 2 rows of 4+1, 3 columns of 5+1, plus 1
    os.remove(p)
  end)

  it("normalizes a single image on request", function()
    local p = tmpname(".png")
    image.write(p, sg.tensor({{{-2.0, 0, 2}}}), {normalize = true})
    assert.is_true(maxdiff(image.read(p), sg.tensor({{{0, 128 / 255, 1}}})) < 1e-6)
    os.remove(p)
  end)

  it("reports missing files, non-PNG files and bad arguments", function()
    assert.has_error(function() image.read("/nonexistent/x.png") end,
      "sgen.image.read: cannot open '/nonexistent/x.png': No such file or directory")
    local p = tmpname(".png")
    local f = io.open(p, "w")
    f:write("not a png at all")
    f:close()
    assert.has_error(function() image.read(p) end, "sgen.image.read: '" .. p .. "': not a PNG file (bad signature)")
    os.remove(p)
    assert.has_error(function() image.read(3) end, "sgen.image.read: argument 1 (path) expected a string, got number")
    assert.has_error(function() image.write(3, sg.rand(1, 2, 2)) end,
      "sgen.image.write: argument 1 (path) expected a string, got number")
    assert.has_error(function() image.write("x.png", {}) end,
      "sgen.image.write: argument 2 (image) expected a tensor, got table")
    assert.has_error(function() image.write("x.png", sg.rand(5, 2, 2)) end,
      "sgen.image.write: image has shape 5x2x2, expected C x H x W with C = 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA)")
    assert.has_error(function() image.write("x.png", sg.rand(4)) end,
      "sgen.image.write: image has 1 dims (4), expected H x W, C x H x W or N x C x H x W")
    assert.has_error(function() image.write("x.png", sg.rand(1, 1, 1, 1, 1)) end,
      "sgen.image.write: image has 5 dims (1x1x1x1x1), expected H x W, C x H x W or N x C x H x W")
    assert.has_error(function() image.write("x.png", sg.zeros(1, 2, 2, {dtype = "int64"})) end,
      "sgen.image.write: image has dtype int64, expected float32, float64, uint8 or bool")
    assert.has_error(function() image.write("x.png", sg.rand(2, 5, 2, 2)) end,
      "sgen.image.write: image has shape 5x6x10, expected C x H x W with C = 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA)")
    assert.has_error(function() image.write("x.png", sg.rand(1, 2, 2), {nrows = 2}) end,
      "sgen.image.write: unknown option 'nrows' (expected nrow, padding, pad_value, normalize, range, value_range, scale_each)")
    assert.has_error(function() image.write("/nonexistent-dir/x.png", sg.rand(1, 2, 2)) end,
      "sgen.image.write: cannot write '/nonexistent-dir/x.png': cannot create a temp file next to it: No such file or directory")
  end)
end)

describe("sg.image.grid", function()
  it("tiles like torchvision's make_grid", function()
    local b = sg.rand(20, 1, 28, 28)
    local g = image.grid(b, {nrow = 5})
    assert.equal("1x122x152", shape(g)) -- 4 rows x (28+2) + 2, 5 cols x (28+2) + 2
    -- image k (1-based) sits at row (k-1)//5, col (k-1)%5
    local k = 8
    local r, c = (k - 1) // 5, (k - 1) % 5
    local tile = g:narrow(2, r * 30 + 3, 28):narrow(3, c * 30 + 3, 28)
    assert.equal(0, maxdiff(tile, b[k]))
    -- padding keeps pad_value (0)
    assert.equal(0, g:narrow(2, 1, 2):abs():max():item())
    assert.equal(0, g:narrow(3, 31, 2):abs():max():item())
  end)

  it("defaults to 8 per row, padding 2, and fills a partial last row with pad_value", function()
    local g = image.grid(sg.ones(10, 3, 4, 4), {pad_value = 0.5})
    assert.equal("3x14x50", shape(g)) -- 2 rows, 8 columns of 4+2, +2
    -- the empty tiles of the last row are pad_value
    assert.equal(0.5, g:narrow(2, 9, 4):narrow(3, 2 * 6 + 3, 4):min():item())
    assert.equal(1, g:narrow(2, 3, 4):narrow(3, 3, 4):min():item())
  end)

  it("returns a single image unchanged and takes lists of C x H x W", function()
    local x = sg.rand(1, 3, 4, 4)
    assert.equal("3x4x4", shape(image.grid(x)))
    assert.equal(0, maxdiff(image.grid(x), x[1]))
    local g = image.grid({sg.zeros(1, 2, 2), sg.ones(1, 2, 2)}, {padding = 0})
    assert.same({{{0, 0, 1, 1}, {0, 0, 1, 1}}}, g:totable())
  end)

  it("converts uint8 batches to [0,1]", function()
    local g = image.grid(sg.full({2, 1, 1, 1}, 255, {dtype = "uint8"}), {padding = 0})
    assert.equal("float32", g:dtype())
    assert.same({{{1, 1}}}, g:totable())
  end)

  it("normalizes by min/max, by a range, or per image", function()
    local b = sg.tensor({{{{-1.0, 1}}}, {{{3, 1}}}})
    assert.same({{{0, 0.5, 1, 0.5}}}, image.grid(b, {padding = 0, normalize = true}):totable())
    assert.same({{{0, 1, 1, 1}}}, image.grid(b, {padding = 0, normalize = true, range = {-1, 1}}):totable())
    assert.same({{{0, 1, 1, 0}}}, image.grid(b, {padding = 0, normalize = true, scale_each = true}):totable())
    -- without normalize values pass unchanged
    assert.same({{{-1, 1, 3, 1}}}, image.grid(b, {padding = 0}):totable())
  end)

  it("rejects bad batches and options", function()
    assert.has_error(function() image.grid(sg.rand(2, 3)) end,
      "sgen.image.grid: batch has 2 dims (2x3), expected 4 (N x C x H x W)")
    assert.has_error(function() image.grid("x") end,
      "sgen.image.grid: argument 1 (batch) expected an N x C x H x W tensor or a list of C x H x W tensors, got string")
    assert.has_error(function() image.grid({}) end, "sgen.image.grid: argument 1 (batch) is an empty list")
    assert.has_error(function() image.grid({sg.rand(1, 2, 2), sg.rand(1, 3, 2)}) end,
      "sgen.image.grid: batch[2] has shape 1x3x2, expected 1x2x2 like batch[1]")
    assert.has_error(function() image.grid({sg.rand(2, 2)}) end,
      "sgen.image.grid: batch[1] expected a C x H x W tensor, got 2 dims (2x2)")
    assert.has_error(function() image.grid(sg.rand(2, 1, 2, 2), {nrow = 0}) end,
      "sgen.image.grid: option nrow must be an integer >= 1, got 0")
    assert.has_error(function() image.grid(sg.rand(2, 1, 2, 2), {padding = -1}) end,
      "sgen.image.grid: option padding must be an integer >= 0, got -1")
    assert.has_error(function() image.grid(sg.rand(2, 1, 2, 2), {normalize = true, range = {1, 0}}) end,
      "sgen.image.grid: option range expected {lo, hi} with lo < hi")
    assert.has_error(function() image.grid(sg.rand(2, 1, 2, 2), 5) end,
      "sgen.image.grid: expected an options table, got number")
  end)
end)

describe("sg.image.heatmap", function()
  local lo = {68 / 255, 1 / 255, 84 / 255}
  local hi = {253 / 255, 231 / 255, 37 / 255}
  local function px(rgb, i, j)
    local t = rgb:totable()
    return {t[1][i][j], t[2][i][j], t[3][i][j]}
  end
  local function near(a, b)
    for k = 1, 3 do if math.abs(a[k] - b[k]) > 1e-6 then return false end end
    return true
  end

  it("maps min..max onto viridis, enlarges by scale and writes RGB", function()
    local p = tmpname(".png")
    local rgb = image.heatmap(p, sg.tensor({{0.0, 1}, {2, 4}}), {scale = 3})
    assert.equal("3x6x6", shape(rgb))
    assert.is_true(near(px(rgb, 1, 1), lo))
    assert.is_true(near(px(rgb, 3, 3), lo)) -- same 3x3 block
    assert.is_true(near(px(rgb, 6, 6), hi))
    local mid = px(rgb, 4, 1) -- value 2 = halfway: viridis(0.5) ~ (33,145,140)
    assert.is_true(math.abs(mid[1] - 33 / 255) < 0.02 and math.abs(mid[2] - 145 / 255) < 0.02)
    local r = image.read(p)
    assert.equal("3x6x6", shape(r))
    assert.is_true(maxdiff(r, rgb) <= 0.5 / 255 + 1e-6)
    os.remove(p)
  end)

  it("clamps to given min/max, paints NaN black and handles constant maps", function()
    local rgb = image.heatmap(nil, sg.tensor({{-5, 0 / 0, 5}}), {min = 0, max = 1, scale = 1})
    assert.is_true(near(px(rgb, 1, 1), lo))
    assert.is_true(near(px(rgb, 1, 2), {0, 0, 0}))
    assert.is_true(near(px(rgb, 1, 3), hi))
    local c = image.heatmap(nil, sg.full({2, 2}, 7), {scale = 1})
    assert.is_true(near(px(c, 2, 2), lo))
    -- default scale: the longer side reaches 256 pixels
    assert.equal("3x256x128", shape(image.heatmap(nil, sg.rand(8, 4))))
    assert.equal("3x4x4", shape(image.heatmap(nil, sg.rand(1, 4, 4), {scale = 1})))
    local g = image.heatmap(nil, sg.tensor({{0, 0.5, 1}}), {cmap = "gray", scale = 3})
    assert.is_true(maxdiff(g[1][1], sg.tensor({0.0, 0, 0, 128, 128, 128, 255, 255, 255}) / 255) < 1e-6)
  end)

  it("rejects bad input", function()
    assert.has_error(function() image.heatmap("x.png", sg.rand(2, 2, 2)) end,
      "sgen.image.heatmap: values have 3 dims (2x2x2), expected 2 (H x W)")
    assert.has_error(function() image.heatmap("x.png", "v") end,
      "sgen.image.heatmap: argument 2 (values) expected an H x W tensor, got string")
    assert.has_error(function() image.heatmap(1, sg.rand(2, 2)) end,
      "sgen.image.heatmap: argument 1 (path) expected a string, got number")
    assert.has_error(function() image.heatmap(nil, sg.rand(2, 2), {scale = 0}) end,
      "sgen.image.heatmap: option scale must be an integer >= 1, got 0")
    assert.has_error(function() image.heatmap(nil, sg.rand(2, 2), {min = "a"}) end,
      "sgen.image.heatmap: option min must be a number, got a")
    assert.has_error(function() image.heatmap(nil, sg.rand(2, 2), {cmap = "jet"}) end,
      "sgen.image.colormap: unknown colour map 'jet' (expected viridis, gray)")
    assert.has_error(function() image.heatmap(nil, sg.rand(2, 2), {size = 3}) end,
      "sgen.image.heatmap: unknown option 'size' (expected min, max, scale, cmap)")
    assert.has_error(function() image.heatmap("/nonexistent-dir/h.png", sg.rand(2, 2)) end,
      "sgen.image.heatmap: cannot write '/nonexistent-dir/h.png': cannot create a temp file next to it: No such file or directory")
  end)
end)
