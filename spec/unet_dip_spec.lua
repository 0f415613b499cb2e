-- models/unet_dip.lua: DIP's "skip" hourglass with the sparsity projections
-- of Ganz & Elad on every encoder representation Γ1..ΓK: output shapes (odd
-- and minimal sizes), the default network's size (the same as
-- bench/dip_step.py's PyTorch network), that the projections are active,
-- that gradients reach every parameter, and errors on bad options.
local sg = require "sgen"
local UNetDIP = require "models.unet_dip"
local H = require "spec.helpers"

local shape_str = H.shape_str

-- A small network: 2 input channels, few channels, the given scales.
local function small(opts)
  local o = {in_channels = 2, channels = 6, skip = 2, scales = 3}
  for k, v in pairs(opts or {}) do o[k] = v end
  return UNetDIP(o)
end

local function min_of(t) return t:min():item() end
local function max_of(t) return t:max():item() end

describe("models.unet_dip", function()
  it("keeps the input's height and width for odd sizes, with outputs in (0, 1)", function()
    sg.manual_seed(1)
    for _, scales in ipairs({1, 2, 3}) do
      local net = small({scales = scales})
      local out = net(sg.rand(2, 2, 37, 29))
      assert.are.equal("2x3x37x29", shape_str(out))
      assert.is_true(min_of(out) > 0 and max_of(out) < 1)
    end
    -- other sizes: channels per scale, more output channels
    local net = UNetDIP({in_channels = 3, out_channels = 1, channels = {4, 5, 7}, skip = 3, scales = 3})
    assert.are.equal("1x1x23x40", shape_str(net(sg.rand(1, 3, 23, 40))))
  end)

  it("works down to the smallest size reflection padding allows", function()
    sg.manual_seed(2)
    -- 3x3 kernels: H, W >= 2^scales + 1 (the last scale is 2x2)
    assert.are.equal("1x3x3x3", shape_str(small({scales = 1})(sg.rand(1, 2, 3, 3))))
    assert.are.equal("1x3x5x5", shape_str(small({scales = 2})(sg.rand(1, 2, 5, 5))))
    assert.are.equal("2x3x9x11", shape_str(small({scales = 3})(sg.rand(2, 2, 9, 11))))
    -- 1x1 kernels pad nothing: a 1x1 image goes through 3 scales (batch
    -- norm in training needs more than one value per channel: a batch of 2,
    -- or eval mode)
    assert.are.equal("2x3x1x1", shape_str(small({kernel = 1})(sg.rand(2, 2, 1, 1))))
    assert.are.equal("1x3x1x2", shape_str(small({kernel = 1}):eval()(sg.rand(1, 2, 1, 2))))
    -- one pixel less: an error naming the minimum
    assert.has_error(function() small({scales = 3})(sg.rand(1, 2, 8, 9)) end,
      "models.unet_dip: input is 1x2x8x9, too small for 3 scales with 3x3 kernels: height and "
      .. "width must be at least 9 (reflection padding)")
    assert.has_error(function() small({scales = 1})(sg.rand(1, 2, 3, 2)) end,
      "models.unet_dip: input is 1x2x3x2, too small for 1 scale with 3x3 kernels: height and "
      .. "width must be at least 3 (reflection padding)")
    assert.has_error(function() small({scales = 2, kernel = 5})(sg.rand(1, 2, 8, 8)) end,
      "models.unet_dip: input is 1x2x8x8, too small for 2 scales with 5x5 kernels: height and "
      .. "width must be at least 9 (reflection padding)")
  end)

  it("has DIP's size by default: 2,217,831 parameters, as bench/dip_step.py's PyTorch network", function()
    -- /usr/bin/python3 bench/dip_step.py --size 64 --iters 1 prints params=2217831
    local net = UNetDIP()
    assert.are.equal(2217831, net:num_parameters())
    assert.are.equal(5, net.config.scales)
    assert.same({128, 128, 128, 128, 128}, net.config.channels)
    -- 5 scales x (skip conv+BN, 2 convs+BNs down, BN + 2 convs+BNs merge) + head conv
    local nconv, nbn = 0, 0
    for _, m in ipairs(net:modules()) do
      local name = tostring(m):match("^(%w+)%(")
      if name == "Conv2d" then nconv = nconv + 1 end
      if name == "BatchNorm2d" then nbn = nbn + 1 end
    end
    assert.are.equal(5 * 5 + 1, nconv)
    assert.are.equal(5 * 6, nbn)
    -- the sparse variants add no parameters
    assert.are.equal(2217831, UNetDIP({sparsity = {kind = "l0inf", k = 16}}):num_parameters())
    assert.are.equal(2217831, UNetDIP({sparsity = {kind = "l0", k = 16}}):num_parameters())
  end)

  it("collects Γ1..ΓK: the encoder tensor of each scale", function()
    sg.manual_seed(3)
    local net = UNetDIP({in_channels = 2, channels = {4, 6, 8}, skip = 2, scales = 3})
    local codes = {}
    local out = net(sg.rand(2, 2, 21, 17), codes)
    assert.are.equal("2x3x21x17", shape_str(out))
    assert.are.equal(3, #codes)
    assert.are.equal("2x4x11x9", shape_str(codes[1]))
    assert.are.equal("2x6x6x5", shape_str(codes[2]))
    assert.are.equal("2x8x3x3", shape_str(codes[3]))
    -- without the projection nothing is zeroed (LeakyReLU keeps the sign)
    for i, g in ipairs(codes) do
      assert.are.equal(g:numel(), g:ne(0):float():sum():item(), "Γ" .. i)
    end
    -- the output does not depend on whether codes are collected
    sg.manual_seed(4)
    local z = sg.rand(1, 2, 21, 17)
    net:eval()
    local a = net(z)
    local b = net(z, {})
    assert.are.equal(0, (a - b):abs():max():item())
  end)

  it("l0inf: every needle of each Γi keeps at most k channels", function()
    sg.manual_seed(5)
    for _, k in ipairs({1, 3}) do
      local net = small({channels = 8, sparsity = {kind = "l0inf", k = k}})
      local codes = {}
      net(sg.rand(2, 2, 19, 23), codes)
      assert.are.equal(3, #codes)
      for i, g in ipairs(codes) do
        local per_needle = g:ne(0):float():sum(2) -- N x H x W
        assert.is_true(max_of(per_needle) <= k, string.format("Γ%d, k = %d", i, k))
        assert.are.equal(k, max_of(per_needle), string.format("Γ%d, k = %d", i, k))
      end
    end
  end)

  it("l0: each sample of Γi keeps at most k·H·W entries (anywhere)", function()
    sg.manual_seed(6)
    -- k / channels = 5 / 6 is not exact in binary: the count still is k·H·W
    for _, k in ipairs({1, 5}) do
      local net = small({channels = 6, sparsity = {kind = "l0", k = k}})
      local codes = {}
      net(sg.rand(2, 2, 19, 23), codes)
      for i, g in ipairs(codes) do
        local budget = k * g:size(3) * g:size(4)
        local per_sample = g:ne(0):float():sum({2, 3, 4})
        assert.is_true(max_of(per_sample) <= budget, string.format("Γ%d, k = %d", i, k))
        assert.are.equal(budget, min_of(per_sample), string.format("Γ%d, k = %d", i, k))
        if k == 1 then
          -- placed freely: some needle holds more than one channel
          assert.is_true(max_of(g[1]:ne(0):float():sum(1)) > 1, "Γ" .. i)
        end
      end
    end
  end)

  for _, kind in ipairs({"none", "l0", "l0inf"}) do
    it("passes gradients to every parameter (" .. kind .. ")", function()
      sg.manual_seed(7)
      local net = small({channels = 6, sparsity = {kind = kind, k = 2}})
      local out = net(sg.rand(1, 2, 17, 19))
      local loss = sg.F.mse_loss(out, sg.rand(1, 3, 17, 19))
      loss:backward()
      local n = 0
      for name, p in net:named_parameters() do
        n = n + 1
        assert.is_not_nil(p.grad, name)
        assert.are.equal(shape_str(p), shape_str(p.grad), name)
        assert.is_true(p.grad:abs():sum():item() > 0, name .. " has a zero gradient")
      end
      assert.are.equal(#net:parameters(), n)
      assert.is_true(n > 0)
    end)
  end

  it("prints its configuration", function()
    local s = tostring(small({sparsity = {kind = "l0inf", k = 2}}))
    assert.matches("^UNetDIP%(\n  scales=3, channels=6/6/6, skip=2, sparsity=l0inf%(k=2%)\n", s)
    assert.matches("(project): L0InfProject(k=2, dim=2)", s, 1, true)
    assert.matches("(up): Upsample(scale_factor=2.0, mode=bilinear)", s, 1, true)
    assert.matches("^UNetDIP%(\n  scales=3, channels=6/6/6, skip=2, sparsity=none\n", tostring(small()))
  end)

  it("rejects bad options and inputs", function()
    local function err(opts, msg)
      assert.has_error(function() UNetDIP(opts) end, "models.unet_dip: " .. msg)
    end
    err("big", "expected an options table, got string")
    err({chanels = 4},
      "unknown option 'chanels' (expected channels, in_channels, kernel, out_channels, scales, "
      .. "skip, slope, sparsity, upsample)")
    err({scales = 0}, "scales must be a positive integer, got 0")
    err({scales = 2.5}, "scales must be a positive integer, got 2.5")
    err({scales = 3, channels = {4, 4}}, "channels must be a number or a list of 3 numbers (one per scale)")
    err({channels = "many"}, "channels must be a number or a list of 5 numbers (one per scale)")
    err({kernel = 4}, "kernel must be an odd positive integer, got 4")
    err({kernel = "3"}, "kernel must be an odd positive integer, got 3")
    err({sparsity = "l0inf"}, "sparsity must be a table {kind = ..., k = ...}, got string")
    err({sparsity = {kind = "l1", k = 4}},
      "sparsity.kind must be \"none\", \"l0\" or \"l0inf\", got l1")
    err({sparsity = {kind = "l0inf", K = 4}}, "unknown sparsity option 'K' (expected k, kind)")
    err({sparsity = {kind = "l0inf"}}, "sparsity.k must be an integer in 1..128 (the channels of Γ), got nil")
    err({sparsity = {kind = "l0", k = 0}}, "sparsity.k must be an integer in 1..128 (the channels of Γ), got 0")
    err({channels = 8, scales = 2, sparsity = {kind = "l0inf", k = 9}},
      "sparsity.k must be an integer in 1..8 (the channels of Γ), got 9")
    err({channels = 8, scales = 2, sparsity = {kind = "l0inf", k = 2.0}},
      "sparsity.k must be an integer in 1..8 (the channels of Γ), got 2.0")
    local net = small()
    assert.has_error(function() net(sg.rand(2, 21, 17)) end,
      "models.unet_dip: input has 3 dims (2x21x17), expected 4 (N x C x H x W)")
    assert.has_error(function() net(sg.rand(1, 3, 21, 17)) end,
      "models.unet_dip: input has 3 channels, expected 2 (in_channels)")
  end)
end)
