-- sg.metrics.psnr / sg.metrics.ssim against the reference values of
-- tools/make_metric_references.py (numpy re-implementation of
-- scikit-image's Gaussian SSIM), closed forms, batches and errors.
local sg = require "sgen"
local H = require "spec.helpers"

local TOL = 1e-6 -- float64 arithmetic on both sides; the issue asks for 1e-4

local function R() return H.fixture("metrics_ref") end
local function val(name) return R()[name]:item() end

local function close(want, got, tol, what)
  assert(math.abs(want - got) <= tol,
    string.format("%s: expected %.12g, got %.12g (|diff| %.3g > %.3g)", what or "value", want,
      got, math.abs(want - got), tol))
end

local err = H.error_of

-- sg.metrics[name](noisy<i>, clean, opts), a number, for i = 1, 2, 3 and
-- each kind ("gray", "rgb") against the reference <kind>.<name><i><suffix>.
local function check_refs(name, kinds, suffix, opts)
  for _, kind in ipairs(kinds) do
    local clean = R()[kind .. ".clean"]
    for i = 1, 3 do
      local key = kind .. "." .. name .. i .. suffix
      local got = sg.metrics[name](R()[kind .. ".noisy" .. i], clean, opts)
      assert.is_number(got)
      close(val(key), got, TOL, key)
    end
  end
end

-- sg.metrics[name] of the three noisy rgb images (one batch) against the
-- clean one: per-sample values (reduction = "none") and their mean (the
-- default) against the references. Returns the references, the batch, the
-- batch of clean images, the noisy images and the clean image.
local function check_batch(name)
  local c = R()["rgb.clean"]
  local xs, want = {}, {}
  for i = 1, 3 do
    xs[i] = R()["rgb.noisy" .. i]
    want[i] = val("rgb." .. name .. i)
  end
  local x = sg.stack(xs, 1)
  local y = sg.stack({c, c, c}, 1)
  local per = sg.metrics[name](x, y, {reduction = "none"})
  assert.same({3}, per:shape())
  assert.equal("float64", per:dtype())
  local got = per:totable()
  for i = 1, 3 do close(want[i], got[i], TOL, "sample " .. i) end
  close((want[1] + want[2] + want[3]) / 3, sg.metrics[name](x, y), TOL, "batch mean")
  return want, x, y, xs, c
end

describe("sg.metrics", function()
  it("is the module sgen.metrics", function()
    assert.equal(require("sgen.metrics"), sg.metrics)
    assert.is_function(sg.metrics.psnr)
    assert.is_function(sg.metrics.ssim)
  end)
end)

describe("sg.metrics.psnr", function()
  it("matches the reference values (gray and RGB, three noise levels)", function()
    check_refs("psnr", {"gray", "rgb"}, "")
  end)

  it("uses data_range", function()
    check_refs("psnr", {"rgb"}, "_range2", {data_range = 2})
  end)

  it("gives the same value for float64 inputs", function()
    local c, n = R()["rgb.clean"], R()["rgb.noisy2"]
    close(sg.metrics.psnr(n, c), sg.metrics.psnr(n:double(), c:double()), 1e-10)
  end)

  it("has the closed form 10 log10(range^2 / MSE)", function()
    local x = sg.zeros(1, 5, 5, {dtype = "float64"})
    local y = sg.full({1, 5, 5}, 0.1, {dtype = "float64"})
    close(20, sg.metrics.psnr(x, y), 1e-9)
    close(20 + 20 * math.log(255, 10), sg.metrics.psnr(x, y, {data_range = 255}), 1e-9)
    local z = sg.full({2, 1, 4, 4}, 0.5)
    close(10 * math.log(4, 10), sg.metrics.psnr(z, sg.zeros(2, 1, 4, 4)), 1e-9)
  end)

  it("is +inf for identical images", function()
    local c = R()["rgb.clean"]
    assert.equal(math.huge, sg.metrics.psnr(c, c))
    assert.equal(math.huge, sg.metrics.psnr(c, c:clone()))
  end)

  it("is symmetric", function()
    local c, n = R()["gray.clean"], R()["gray.noisy1"]
    assert.equal(sg.metrics.psnr(c, n), sg.metrics.psnr(n, c))
  end)

  it("averages over a batch; reduction='none' gives per-sample values", function()
    local want, x, y = check_batch("psnr")
    close((want[1] + want[2] + want[3]) / 3, sg.metrics.psnr(x, y, {reduction = "mean"}), TOL)
  end)

  it("gives a 1-element tensor for one image with reduction='none'", function()
    local c, n = R()["gray.clean"], R()["gray.noisy3"]
    local per = sg.metrics.psnr(n, c, {reduction = "none"})
    assert.same({1}, per:shape())
    close(val("gray.psnr3"), per:totable()[1], TOL)
  end)

  it("is +inf for a sample that matches and the mean then too", function()
    local c, n = R()["rgb.clean"], R()["rgb.noisy1"]
    local x = sg.stack({n, c}, 1)
    local y = sg.stack({c, c}, 1)
    local per = sg.metrics.psnr(x, y, {reduction = "none"}):totable()
    close(val("rgb.psnr1"), per[1], TOL)
    assert.equal(math.huge, per[2])
    assert.equal(math.huge, sg.metrics.psnr(x, y))
  end)

  it("does not track gradients or change its inputs", function()
    local c = R()["gray.clean"]:clone()
    local n = R()["gray.noisy2"]:clone():requires_grad_()
    local before = n:totable()
    close(val("gray.psnr2"), sg.metrics.psnr(n, c), TOL)
    assert.same(before, n:totable())
  end)
end)

describe("sg.metrics.ssim", function()
  it("matches the reference values (gray and RGB, three noise levels)", function()
    check_refs("ssim", {"gray", "rgb"}, "")
  end)

  it("uses data_range", function()
    check_refs("ssim", {"rgb"}, "_range2", {data_range = 2})
  end)

  it("uses sigma, with scikit-image's window size 2*floor(3.5 sigma + 0.5) + 1", function()
    local clean = R()["rgb.clean"]
    for i = 1, 3 do
      local n = R()["rgb.noisy" .. i]
      close(val("rgb.ssim" .. i .. "_sigma1"), sg.metrics.ssim(n, clean, {sigma = 1}), TOL)
      close(val("rgb.ssim" .. i .. "_sigma1"),
        sg.metrics.ssim(n, clean, {sigma = 1, win_size = 9}), TOL)
    end
  end)

  it("gives the defaults when they are passed explicitly", function()
    local c, n = R()["rgb.clean"], R()["rgb.noisy2"]
    local got = sg.metrics.ssim(n, c, {data_range = 1, win_size = 11, sigma = 1.5, k1 = 0.01,
      k2 = 0.03})
    close(val("rgb.ssim2"), got, TOL)
  end)

  it("depends on win_size, k1 and k2", function()
    local c, n = R()["rgb.clean"], R()["rgb.noisy2"]
    local base = val("rgb.ssim2")
    assert(math.abs(sg.metrics.ssim(n, c, {win_size = 7}) - base) > 1e-3)
    assert(math.abs(sg.metrics.ssim(n, c, {k2 = 0.1}) - base) > 1e-3)
    -- k1 weighs the luminance term: visible when the local means differ
    local dark = c * 0.5
    local s1 = sg.metrics.ssim(dark, c)
    assert(math.abs(sg.metrics.ssim(dark, c, {k1 = 0.1}) - s1) > 1e-3)
  end)

  it("gives the same value for float64 inputs", function()
    local c, n = R()["gray.clean"], R()["gray.noisy1"]
    close(val("gray.ssim1"), sg.metrics.ssim(n:double(), c:double()), TOL)
  end)

  it("is 1 for identical images", function()
    for _, name in ipairs({"gray.clean", "rgb.clean", "rgb.noisy3"}) do
      local x = R()[name]
      close(1, sg.metrics.ssim(x, x), 1e-12, name)
      close(1, sg.metrics.ssim(x, x:clone(), {data_range = 2, sigma = 1}), 1e-12, name)
    end
  end)

  it("has the closed form (2ab + C1) / (a^2 + b^2 + C1) for constant images", function()
    local a, b = 0.25, 0.75 -- exact in float32
    local x = sg.full({2, 15, 17}, a)
    local y = sg.full({2, 15, 17}, b)
    local c1 = 0.01 ^ 2
    close((2 * a * b + c1) / (a * a + b * b + c1), sg.metrics.ssim(x, y), 1e-12)
    c1 = (0.02 * 3) ^ 2
    close((2 * a * b + c1) / (a * a + b * b + c1),
      sg.metrics.ssim(x, y, {data_range = 3, k1 = 0.02}), 1e-12)
  end)

  it("is symmetric", function()
    local c, n = R()["rgb.clean"], R()["rgb.noisy2"]
    close(sg.metrics.ssim(c, n), sg.metrics.ssim(n, c), 1e-12)
  end)

  it("averages over a batch; reduction='none' gives per-sample values", function()
    local want, _, _, xs, c = check_batch("ssim")
    local one = sg.metrics.ssim(xs[2], c, {reduction = "none"})
    assert.same({1}, one:shape())
    close(want[2], one:totable()[1], TOL)
  end)

  it("works on images just as large as the window", function()
    local x = sg.full({1, 7, 7}, 0.5)
    local y = sg.full({1, 7, 7}, 0.5)
    close(1, sg.metrics.ssim(x, y, {win_size = 7}), 1e-12)
  end)

  it("does not track gradients", function()
    local c = R()["gray.clean"]
    local n = R()["gray.noisy2"]:clone():requires_grad_()
    close(val("gray.ssim2"), sg.metrics.ssim(n, c), TOL)
  end)
end)

describe("sg.metrics errors", function()
  local x3, y3
  local function setup_images()
    x3 = sg.zeros(3, 12, 13)
    y3 = sg.zeros(3, 12, 13)
  end

  for _, f in ipairs({"psnr", "ssim"}) do
    local pre = "sgen.metrics." .. f .. ": "
    describe(f, function()
      before_each(setup_images)

      it("rejects non-tensors", function()
        assert.has_error(function() sg.metrics[f](1, y3) end,
          pre .. "argument 1 (x) expected a tensor, got number")
        assert.has_error(function() sg.metrics[f](x3) end,
          pre .. "argument 2 (y) expected a tensor, got nil")
        assert.has_error(function() sg.metrics[f]({}, y3) end,
          pre .. "argument 1 (x) expected a tensor, got table")
        assert.has_error(function() sg.metrics[f](x3, "img") end,
          pre .. "argument 2 (y) expected a tensor, got string")
      end)

      it("rejects freed tensors", function()
        local z = sg.zeros(3, 12, 13)
        z:free()
        assert.has_error(function() sg.metrics[f](z, y3) end,
          pre .. "argument 1 (x) is a freed tensor (t:free() was called on it)")
      end)

      it("rejects wrong numbers of dims", function()
        assert.has_error(function() sg.metrics[f](sg.zeros(12, 13), sg.zeros(12, 13)) end,
          pre .. "x has 2 dims (12x13), expected 3 (CxHxW) or 4 (NxCxHxW)")
        assert.has_error(function() sg.metrics[f](x3, sg.zeros(1, 1, 3, 12, 13)) end,
          pre .. "y has 5 dims (1x1x3x12x13), expected 3 (CxHxW) or 4 (NxCxHxW)")
        assert.has_error(function() sg.metrics[f](sg.tensor(1.0), y3) end,
          pre .. "x has 0 dims (scalar), expected 3 (CxHxW) or 4 (NxCxHxW)")
      end)

      it("rejects different shapes", function()
        assert.has_error(function() sg.metrics[f](x3, sg.zeros(3, 12, 12)) end,
          pre .. "x and y have different shapes (3x12x13 and 3x12x12)")
        assert.has_error(function() sg.metrics[f](sg.zeros(2, 3, 12, 13), x3) end,
          pre .. "x and y have different shapes (2x3x12x13 and 3x12x13)")
      end)

      it("rejects non-float dtypes and empty tensors", function()
        assert.has_error(function() sg.metrics[f](x3:long(), y3) end,
          pre .. "x has dtype int64, expected float32 or float64")
        assert.has_error(function() sg.metrics[f](x3, y3:byte()) end,
          pre .. "y has dtype uint8, expected float32 or float64")
        assert.has_error(function() sg.metrics[f](sg.zeros(0, 3, 12, 13), sg.zeros(0, 3, 12, 13)) end,
          pre .. "x is empty (0x3x12x13)")
      end)

      it("checks its options", function()
        assert.has_error(function() sg.metrics[f](x3, y3, 1) end,
          pre .. "argument 3 expected an options table, got number")
        local e = err(function() sg.metrics[f](x3, y3, {range = 1}) end)
        assert.matches("^" .. pre:gsub("%.", "%%.") .. "unknown option 'range' %(expected data_range, ", e)
        assert.has_error(function() sg.metrics[f](x3, y3, {data_range = -1}) end,
          pre .. "option 'data_range' must be positive, got -1")
        assert.has_error(function() sg.metrics[f](x3, y3, {data_range = 0}) end,
          pre .. "option 'data_range' must be positive, got 0")
        assert.has_error(function() sg.metrics[f](x3, y3, {data_range = "1"}) end,
          pre .. "option 'data_range' expected a number, got string")
        assert.has_error(function() sg.metrics[f](x3, y3, {data_range = math.huge}) end,
          pre .. "option 'data_range' must be finite, got inf")
        assert.has_error(function() sg.metrics[f](x3, y3, {reduction = "sum"}) end,
          pre .. "option 'reduction' expected \"mean\" or \"none\", got 'sum'")
        assert.has_error(function() sg.metrics[f](x3, y3, {reduction = true}) end,
          pre .. "option 'reduction' expected \"mean\" or \"none\", got boolean")
      end)
    end)
  end

  it("psnr lists its options", function()
    assert.has_error(function() sg.metrics.psnr(sg.zeros(1, 2, 2), sg.zeros(1, 2, 2), {sigma = 1}) end,
      "sgen.metrics.psnr: unknown option 'sigma' (expected data_range, reduction)")
  end)

  it("ssim checks its window options", function()
    local x, y = sg.zeros(1, 12, 13), sg.zeros(1, 12, 13)
    assert.has_error(function() sg.metrics.ssim(x, y, {windowsize = 7}) end,
      "sgen.metrics.ssim: unknown option 'windowsize' (expected data_range, win_size, sigma, k1, k2, reduction)")
    assert.has_error(function() sg.metrics.ssim(x, y, {win_size = 10}) end,
      "sgen.metrics.ssim: option 'win_size' must be a positive odd integer, got 10")
    assert.has_error(function() sg.metrics.ssim(x, y, {win_size = -3}) end,
      "sgen.metrics.ssim: option 'win_size' must be a positive odd integer, got -3")
    assert.has_error(function() sg.metrics.ssim(x, y, {win_size = 2.5}) end,
      "sgen.metrics.ssim: option 'win_size' expected an integer, got 2.5")
    assert.has_error(function() sg.metrics.ssim(x, y, {win_size = "7"}) end,
      "sgen.metrics.ssim: option 'win_size' expected an integer, got string")
    assert.has_error(function() sg.metrics.ssim(x, y, {sigma = 0}) end,
      "sgen.metrics.ssim: option 'sigma' must be positive, got 0")
    assert.has_error(function() sg.metrics.ssim(x, y, {k1 = -0.01}) end,
      "sgen.metrics.ssim: option 'k1' must be non-negative, got -0.01")
    assert.has_error(function() sg.metrics.ssim(x, y, {k2 = {}}) end,
      "sgen.metrics.ssim: option 'k2' expected a number, got table")
  end)

  it("ssim rejects images smaller than the window", function()
    assert.has_error(function() sg.metrics.ssim(sg.zeros(3, 8, 9), sg.zeros(3, 8, 9)) end,
      "sgen.metrics.ssim: images are 8x9 (HxW), smaller than the 11x11 window (option 'win_size')")
    assert.has_error(function()
      sg.metrics.ssim(sg.zeros(1, 12, 6), sg.zeros(1, 12, 6), {win_size = 7})
    end, "sgen.metrics.ssim: images are 12x6 (HxW), smaller than the 7x7 window (option 'win_size')")
    -- the default window follows sigma: 2*floor(3.5*0.5 + 0.5) + 1 = 5
    close(1, sg.metrics.ssim(sg.zeros(1, 6, 6), sg.zeros(1, 6, 6), {sigma = 0.5}), 1e-12)
  end)
end)
