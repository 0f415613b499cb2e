-- sg.F: functional nn ops (bindings/lsg_nn.c, lua/sgen/F.lua): values on
-- hand-checkable inputs, shapes, options, 1-based indices and labels, errors,
-- gradients, and a few ops against PyTorch (tools/make_functional_fixtures.py).
local sg = require "sgen"
local F = sg.F
local H = require "spec.helpers"

-- a: tensor; b: tensor, nested table or number. Same shape (when b is a
-- tensor) and max |a - b| <= tol.
local function assert_close(a, b, tol, what) H.assert_close(a, b, tol or 1e-5, what) end

local err_of = H.error_of

local function image3() -- 1x1x3x3 holding 1..9
  return sg.tensor({{{{1.0, 2, 3}, {4, 5, 6}, {7, 8, 9}}}})
end

local function image4() -- 1x1x4x4 holding 1..16
  return sg.arange(1, 17):float():view(1, 1, 4, 4)
end

describe("sg.F", function()
  it("holds every functional op and the activations", function()
    for _, name in ipairs({ "conv2d", "conv_transpose2d", "linear", "batch_norm", "instance_norm",
      "layer_norm", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "interpolate", "pad",
      "pixel_shuffle", "softmax", "log_softmax", "dropout", "mse_loss", "l1_loss",
      "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "unfold", "fold",
      "relu", "leaky_relu", "sigmoid", "tanh", "softplus", "elu", "silu" }) do
      assert.equal("function", type(F[name]), name)
    end
    assert.equal(F, require "sgen.F")
  end)
end)

describe("F.conv2d", function()
  it("convolves (valid, padded, strided, with bias)", function()
    local x, w = image3(), sg.ones(1, 1, 2, 2)
    assert.same({{{{12, 16}, {24, 28}}}}, F.conv2d(x, w):totable())
    assert.same({{{{13, 17}, {25, 29}}}}, F.conv2d(x, w, sg.tensor({1.0})):totable())
    local y = F.conv2d(x, w, nil, {padding = 1})
    assert.same({1, 1, 4, 4}, y:shape())
    assert.same({{1, 3, 5, 3}, {5, 12, 16, 9}, {11, 24, 28, 15}, {7, 15, 17, 9}}, y:totable()[1][1])
    assert.same({{{{12}}}}, F.conv2d(x, w, nil, {stride = 2}):totable())
    assert.same({{{{12, 16}}}}, F.conv2d(x, w, nil, {stride = {2, 1}}):totable())
    -- dilation 2: taps at (0,0) (0,2) (2,0) (2,2)
    assert.same({{{{20}}}}, F.conv2d(x, w, nil, {dilation = 2}):totable())
  end)
  it("supports groups", function()
    local x = sg.tensor({{{{1.0, 2}}, {{3, 4}}}})       -- 1x2x1x2
    local w = sg.tensor({{{{10.0}}}, {{{100}}}})        -- 2x1x1x1
    assert.same({{{{10, 20}}, {{300, 400}}}}, F.conv2d(x, w, nil, {groups = 2}):totable())
  end)
  it("differentiates input, weight and bias", function()
    local x = image3():requires_grad_()
    local w = sg.ones(1, 1, 2, 2):requires_grad_()
    local b = sg.zeros(1):requires_grad_()
    F.conv2d(x, w, b):sum():backward()
    assert.same({{{{1, 2, 1}, {2, 4, 2}, {1, 2, 1}}}}, x.grad:totable())
    assert.same({{{{12, 16}, {24, 28}}}}, w.grad:totable())
    assert.same({4}, b.grad:totable())
  end)
  it("passes gradcheck and gradgradcheck in float64", function()
    sg.manual_seed(1)
    local x = sg.randn(1, 2, 4, 4, {dtype = "float64"}):requires_grad_()
    local w = sg.randn(2, 1, 3, 3, {dtype = "float64"}):requires_grad_()
    local b = sg.randn(2, {dtype = "float64"}):requires_grad_()
    local f = function(a, c, d) return F.conv2d(a, c, d, {padding = 1, stride = 2, groups = 2}) end
    assert.is_true(sg.gradcheck(f, {x, w, b}))
    assert.is_true(sg.gradgradcheck(f, {x, w, b}))
  end)
  it("rejects bad input with clear messages", function()
    local w = sg.ones(1, 1, 2, 2)
    assert.has_error(function() F.conv2d(sg.zeros(3, 32, 32), w) end,
      "sgen.conv2d: input has 3 dims (3x32x32), expected 4 (NxCxHxW)")
    assert.has_error(function() F.conv2d(image3(), sg.ones(1, 2, 2, 2)) end,
      "sgen.conv2d: weight 1x2x2x2 expects 2 input channels (2 x groups 1), input 1x1x3x3 has 1")
    assert.has_error(function() F.conv2d(image3()) end,
      "sgen.conv2d: argument 2 (weight) expected a tensor, got no value")
    assert.has_error(function() F.conv2d(image3(), w, 1) end,
      "sgen.conv2d: argument 3 (bias) expected a tensor, got number")
    assert.has_error(function() F.conv2d(image3(), w, nil, 1) end,
      "sgen.conv2d: argument 4 expected an options table, got number")
    assert.has_error(function() F.conv2d(image3(), w, nil, {strides = 1}) end,
      "sgen.conv2d: unknown option 'strides' (expected stride, padding, dilation, groups)")
    assert.has_error(function() F.conv2d(image3(), w, nil, {stride = 0}) end,
      "sgen.conv2d: option 'stride' must be positive, got 0")
    assert.has_error(function() F.conv2d(image3(), w, nil, {padding = {-1, 0}}) end,
      "sgen.conv2d: option 'padding' must be non-negative, got -1x0")
    assert.has_error(function() F.conv2d(image3(), w, nil, {stride = "2"}) end,
      "sgen.conv2d: option 'stride' expected an integer or a pair {h, w} of integers, got string")
    assert.has_error(function() F.conv2d(image3(), w, nil, {stride = {1, 2, 3}}) end,
      "sgen.conv2d: option 'stride' expected an integer or a pair {h, w} of integers, got table")
    assert.has_error(function() F.conv2d(image3(), w, nil, {groups = 0}) end,
      "sgen.conv2d: option 'groups' must be between 1 and 2147483647, got 0")
    assert.has_error(function() F.conv2d(image3(), w, nil, {groups = 1.5}) end,
      "sgen.conv2d: option 'groups' expected an integer, got 1.5")
    assert.has_error(function() F.conv2d(image3(), w, nil, {dilation = 1e12}) end,
      "sgen.conv2d: option 'dilation' is too large, got 1000000000000")
    assert.has_error(function() F.conv2d(image3(), w, nil, {dilation = 1.5}) end,
      "sgen.conv2d: option 'dilation' expected an integer or a pair {h, w} of integers, got number")
    assert.matches("dtype", err_of(F.conv2d, image3():long(), w))
  end)
end)

describe("F.conv_transpose2d", function()
  it("scatters each input pixel through the kernel", function()
    local x = sg.tensor({{{{1.0, 2}, {3, 4}}}})
    local w = sg.ones(1, 1, 2, 2)
    assert.same({{{{1, 3, 2}, {4, 10, 6}, {3, 7, 4}}}}, F.conv_transpose2d(x, w):totable())
    local y = F.conv_transpose2d(x, w, sg.tensor({1.0}), {stride = 2})
    assert.same({{2, 2, 3, 3}, {2, 2, 3, 3}, {4, 4, 5, 5}, {4, 4, 5, 5}}, y:totable()[1][1])
    assert.same({1, 1, 5, 5}, F.conv_transpose2d(x, w, nil, {stride = 2, output_padding = 1}):shape())
    assert.same({1, 1, 2, 2}, F.conv_transpose2d(x, w, nil, {stride = 2, padding = 1}):shape())
  end)
  it("is the adjoint of conv2d (gradient of the input)", function()
    local x = sg.tensor({{{{1.0, 2}, {3, 4}}}}):requires_grad_()
    F.conv_transpose2d(x, sg.ones(1, 1, 2, 2)):sum():backward()
    assert.same({{{{4, 4}, {4, 4}}}}, x.grad:totable())
  end)
  it("passes gradcheck in float64", function()
    sg.manual_seed(2)
    local x = sg.randn(1, 2, 3, 3, {dtype = "float64"}):requires_grad_()
    local w = sg.randn(2, 2, 3, 3, {dtype = "float64"}):requires_grad_()
    assert.is_true(sg.gradcheck(function(a, b)
      return F.conv_transpose2d(a, b, nil, {stride = 2, padding = 1, output_padding = 1})
    end, {x, w}))
  end)
  it("rejects bad input", function()
    local w = sg.ones(1, 1, 2, 2)
    assert.has_error(function() F.conv_transpose2d(sg.zeros(1, 2, 2), w) end,
      "sgen.conv_transpose2d: input has 3 dims (1x2x2), expected 4 (NxCxHxW)")
    assert.has_error(function() F.conv_transpose2d(sg.zeros(1, 1, 2, 2), w, nil, {output_pad = 1}) end,
      "sgen.conv_transpose2d: unknown option 'output_pad' (expected stride, padding, output_padding, groups, dilation)")
    assert.has_error(function()
      F.conv_transpose2d(sg.zeros(1, 1, 2, 2), w, nil, {stride = 2, output_padding = 2})
    end, "sgen.conv_transpose2d: output_padding 2x2 must be smaller than stride 2x2")
  end)
end)

describe("F.linear", function()
  it("computes x w^T + b", function()
    local x = sg.tensor({{1.0, 2, 3}, {4, 5, 6}})
    local w = sg.tensor({{1.0, 0, 0}, {0, 1, 1}})
    assert.same({{1, 5}, {4, 11}}, F.linear(x, w):totable())
    assert.same({{11, 25}, {14, 31}}, F.linear(x, w, sg.tensor({10.0, 20})):totable())
  end)
  it("differentiates", function()
    local x = sg.tensor({{1.0, 2, 3}}):requires_grad_()
    local w = sg.tensor({{1.0, 0, 0}, {0, 1, 1}}):requires_grad_()
    F.linear(x, w):sum():backward()
    assert.same({{1, 1, 1}}, x.grad:totable())
    assert.same({{1, 2, 3}, {1, 2, 3}}, w.grad:totable())
  end)
  it("rejects bad input", function()
    assert.has_error(function() F.linear(sg.zeros(2, 3), sg.zeros(3)) end,
      "sgen.linear: weight has 1 dims (3), expected 2 (out x in)")
    assert.has_error(function() F.linear(sg.zeros(2, 3), sg.zeros(4, 3), nil, {}) end,
      "sgen.linear: takes (input, weight, bias), got a 4th argument (table)")
    assert.matches("^sgen%.linear: ", err_of(F.linear, sg.zeros(2, 3), sg.zeros(4, 2)))
  end)
end)

describe("F.batch_norm", function()
  local x = sg.tensor({{{{1.0}}, {{2}}}, {{{3}}, {{6}}}}) -- 2x2x1x1: channel 1 {1,3}, channel 2 {2,6}
  it("uses the running statistics in eval mode (the default)", function()
    local rm, rv = sg.tensor({1.0, 2}), sg.tensor({4.0, 16})
    local y = F.batch_norm(x, rm, rv, nil, nil, {eps = 0})
    assert_close(y:view(2, 2), {{0, 0}, {1, 1}})
    y = F.batch_norm(x, rm, rv, sg.tensor({2.0, 3}), sg.tensor({1.0, -1}), {eps = 0})
    assert_close(y:view(2, 2), {{1, -1}, {3, 2}})
  end)
  it("uses batch statistics in training and updates the running ones in place", function()
    local rm, rv = sg.zeros(2), sg.ones(2)
    local y = F.batch_norm(x, rm, rv, nil, nil, {training = true, momentum = 0.5, eps = 0})
    assert_close(y:view(2, 2), {{-1, -1}, {1, 1}})
    -- means {2, 4}; unbiased variances {2, 8}
    assert_close(rm, {1, 2})
    assert_close(rv, {1.5, 4.5})
    -- no running stats at all is fine in training
    assert_close(F.batch_norm(x, nil, nil, nil, nil, {training = true, eps = 0}):view(2, 2),
      {{-1, -1}, {1, 1}})
  end)
  it("differentiates weight and bias", function()
    local w, b = sg.ones(2):requires_grad_(), sg.zeros(2):requires_grad_()
    F.batch_norm(x, nil, nil, w, b, {training = true, eps = 0}):sum():backward()
    assert_close(w.grad, {0, 0})
    assert_close(b.grad, {2, 2})
  end)
  it("passes gradcheck in float64", function()
    sg.manual_seed(3)
    local xx = sg.randn(3, 2, 2, 2, {dtype = "float64"}):requires_grad_()
    local w = sg.randn(2, {dtype = "float64"}):requires_grad_()
    assert.is_true(sg.gradcheck(function(a, c)
      return F.batch_norm(a, nil, nil, c, nil, {training = true})
    end, {xx, w}))
  end)
  it("fuses an activation: the output of batch_norm then relu / leaky_relu, gradients to "
    .. "rounding, in training and eval mode", function()
    sg.manual_seed(11)
    local z = sg.randn(4, 3, 5, 5)
    local w, b = sg.rand(3) + 0.5, sg.randn(3)
    for _, case in ipairs({{"relu", nil, F.relu}, {"leaky_relu", 0.2, function(t)
        return F.leaky_relu(t, 0.2) end}}) do
      for _, training in ipairs({true, false}) do
        local grads = {}
        for k = 1, 2 do
          local xx, ww, bb = z:clone():requires_grad_(), w:clone():requires_grad_(),
            b:clone():requires_grad_()
          local rm, rv = sg.zeros(3), sg.ones(3)
          local o = {training = training}
          local y
          if k == 1 then
            o.activation, o.negative_slope = case[1], case[2]
            y = F.batch_norm(xx, rm, rv, ww, bb, o)
          else
            y = case[3](F.batch_norm(xx, rm, rv, ww, bb, o))
          end
          y:backward(sg.ones_like(y))
          grads[k] = {y = y:detach(), x = xx.grad, w = ww.grad, b = bb.grad, rm = rm, rv = rv}
        end
        H.assert_equal_tensors(grads[1].y, grads[2].y, case[1])
        H.assert_equal_tensors(grads[1].rm, grads[2].rm, case[1])
        H.assert_equal_tensors(grads[1].rv, grads[2].rv, case[1])
        for _, key in ipairs({"x", "w", "b"}) do
          H.assert_close(grads[1][key], grads[2][key], 1e-4, case[1] .. " grad " .. key)
        end
      end
    end
  end)
  it("rejects bad options and missing statistics", function()
    assert.has_error(function() F.batch_norm(x, nil, nil, nil, nil, {train = true}) end,
      "sgen.batch_norm: unknown option 'train' (expected training, momentum, eps, activation, "
      .. "negative_slope)")
    assert.has_error(function() F.batch_norm(x, nil, nil, nil, nil, {activation = "gelu"}) end,
      "sgen.batch_norm: option 'activation' expected \"none\", \"relu\" or \"leaky_relu\", "
      .. "got \"gelu\"")
    assert.has_error(function() F.batch_norm(x, nil, nil, nil, nil, {training = 1}) end,
      "sgen.batch_norm: option 'training' expected a boolean, got number")
    assert.has_error(function() F.batch_norm(x, nil, nil, nil, nil, {eps = -1}) end,
      "sgen.batch_norm: option 'eps' must be >= 0, got -1.0")
    assert.has_error(function() F.batch_norm(x, nil, nil) end,
      "sgen.batch_norm: running_mean and running_var are required in eval mode")
    assert.has_error(function() F.batch_norm(x, sg.zeros(3), sg.ones(3)) end,
      "sgen.batch_norm: running_mean has shape 3, expected 2 (the channels of input 2x2x1x1)")
  end)
end)

describe("F.instance_norm", function()
  it("normalizes each sample and channel over its positions", function()
    local x = sg.tensor({{{{1.0, 2}, {3, 4}}, {{10, 10}, {10, 10}}}})
    local y = F.instance_norm(x, nil, nil, nil, nil)
    local s = 1 / math.sqrt(1.25 + 1e-5)
    assert_close(y, {{{{-1.5 * s, -0.5 * s}, {0.5 * s, 1.5 * s}}, {{0, 0}, {0, 0}}}})
    local y2 = F.instance_norm(x, nil, nil, sg.tensor({2.0, 1}), sg.tensor({0.0, 5}))
    assert_close(y2, {{{{-3 * s, -s}, {s, 3 * s}}, {{5, 5}, {5, 5}}}})
  end)
  it("uses running statistics when use_input_stats is false", function()
    local x = sg.tensor({{{{1.0, 3}}}})
    local y = F.instance_norm(x, sg.tensor({1.0}), sg.tensor({4.0}), nil, nil,
      {use_input_stats = false, eps = 0})
    assert_close(y, {{{{0, 1}}}})
  end)
  it("rejects bad options", function()
    assert.has_error(function() F.instance_norm(sg.zeros(1, 1, 2, 2), nil, nil, nil, nil, {affine = true}) end,
      "sgen.instance_norm: unknown option 'affine' (expected use_input_stats, momentum, eps)")
    assert.has_error(function()
      F.instance_norm(sg.zeros(1, 1, 2, 2), nil, nil, nil, nil, {use_input_stats = "no"})
    end, "sgen.instance_norm: option 'use_input_stats' expected a boolean, got string")
  end)
end)

describe("F.layer_norm", function()
  it("normalizes over the last dims", function()
    local x = sg.tensor({{1.0, 2, 3}, {2, 4, 6}})
    local s1, s2 = 1 / math.sqrt(2 / 3), 1 / math.sqrt(8 / 3)
    assert_close(F.layer_norm(x, {3}, nil, nil, {eps = 0}), {{-s1, 0, s1}, {-2 * s2, 0, 2 * s2}})
    assert_close(F.layer_norm(x, 3, sg.tensor({1.0, 2, 3}), sg.tensor({1.0, 1, 1}), {eps = 0}),
      {{1 - s1, 1, 1 + 3 * s1}, {1 - 2 * s2, 1, 1 + 6 * s2}})
    local all = F.layer_norm(x, {2, 3}, nil, nil, {eps = 0})
    assert_close(all:mean(), 0, 1e-6)
  end)
  it("passes gradcheck in float64", function()
    sg.manual_seed(4)
    local x = sg.randn(2, 4, {dtype = "float64"}):requires_grad_()
    local w = sg.randn(4, {dtype = "float64"}):requires_grad_()
    local b = sg.randn(4, {dtype = "float64"}):requires_grad_()
    assert.is_true(sg.gradcheck(function(a, c, d) return F.layer_norm(a, {4}, c, d) end, {x, w, b}))
  end)
  it("rejects bad shapes and options", function()
    local x = sg.zeros(2, 3)
    assert.has_error(function() F.layer_norm(x, "3") end,
      "sgen.layer_norm: argument 2 (normalized_shape) expected an integer or a table of sizes, got string")
    assert.has_error(function() F.layer_norm(x, {}) end,
      "sgen.layer_norm: normalized_shape is empty, expected at least one size")
    assert.has_error(function() F.layer_norm(x, 0) end,
      "sgen.layer_norm: normalized_shape entry 1 must be positive, got 0")
    assert.has_error(function() F.layer_norm(x, {4}) end,
      "sgen.layer_norm: input of shape 2x3 does not end with normalized_shape 4")
    assert.has_error(function() F.layer_norm(x, {3}, nil, nil, {epsilon = 1}) end,
      "sgen.layer_norm: unknown option 'epsilon' (expected eps)")
  end)
end)

describe("F.max_pool2d", function()
  it("takes maxima with stride = kernel by default", function()
    assert.same({{{{6, 8}, {14, 16}}}}, F.max_pool2d(image4(), 2):totable())
    assert.same({{{{6, 7, 8}, {10, 11, 12}, {14, 15, 16}}}}, F.max_pool2d(image4(), 2, {stride = 1}):totable())
    assert.same({{{{5, 6}, {8, 9}}}}, F.max_pool2d(image3(), 2, {stride = 1}):totable())
    assert.same({{{{6, 8}, {14, 16}}}}, F.max_pool2d(image4(), {2, 2}, {stride = {2, 2}, dilation = 1}):totable())
    assert.same({{{{6, 7, 8}, {14, 15, 16}}}}, F.max_pool2d(image4(), 2, {stride = {2, 1}}):totable())
    -- ceil_mode keeps the partial window
    assert.same({1, 1, 1, 1}, F.max_pool2d(image3(), 2):shape())
    assert.same({{{{5, 6}, {8, 9}}}}, F.max_pool2d(image3(), 2, {ceil_mode = true}):totable())
    -- padding
    assert.same({{{{1, 3}, {7, 9}}}}, F.max_pool2d(image3(), 2, {padding = 1}):totable())
    -- dilation 2 on 3x3: one window over the corners
    assert.same({{{{9}}}}, F.max_pool2d(image3(), 2, {dilation = 2}):totable())
  end)
  it("returns 1-based flat indices into each H x W plane", function()
    local y, idx = F.max_pool2d(image4(), 2, {return_indices = true})
    assert.same({{{{6, 8}, {14, 16}}}}, y:totable())
    assert.equal("int64", idx:dtype())
    assert.same({{{{6, 8}, {14, 16}}}}, idx:totable())
    local x = sg.tensor({{{{9.0, 1}, {1, 1}}, {{1, 1}, {1, 9}}}})
    local _, i2 = F.max_pool2d(x, 2, {return_indices = true})
    assert.same({{{{1}}, {{4}}}}, i2:totable())
    -- the indices address the input: gather them back
    assert.same({9, 9}, x:view(2, 4):gather(2, i2:view(2, 1)):view(2):totable())
  end)
  it("routes the gradient to the maxima", function()
    local x = image3():requires_grad_()
    F.max_pool2d(x, 2, {stride = 1}):sum():backward()
    assert.same({{{{0, 0, 0}, {0, 1, 1}, {0, 1, 1}}}}, x.grad:totable())
  end)
  it("rejects bad arguments", function()
    assert.has_error(function() F.max_pool2d(image4()) end,
      "sgen.max_pool2d: argument 2 (kernel_size) expected an integer or a pair {h, w} of integers, got no value")
    assert.has_error(function() F.max_pool2d(image4(), 0) end,
      "sgen.max_pool2d: argument 2 (kernel_size) must be positive, got 0")
    assert.has_error(function() F.max_pool2d(image4(), {2, 0}) end,
      "sgen.max_pool2d: argument 2 (kernel_size) must be positive, got 2x0")
    assert.has_error(function() F.max_pool2d(image4(), 2.5) end,
      "sgen.max_pool2d: argument 2 (kernel_size) expected an integer or a pair {h, w} of integers, got number")
    assert.has_error(function() F.max_pool2d(image4(), 2, {return_indices = "yes"}) end,
      "sgen.max_pool2d: option 'return_indices' expected a boolean, got string")
    assert.has_error(function() F.max_pool2d(image4(), 2, {kernel = 2}) end,
      "sgen.max_pool2d: unknown option 'kernel' (expected stride, padding, dilation, ceil_mode, return_indices)")
    assert.has_error(function() F.max_pool2d(image4(), 2, {padding = 2}) end,
      "sgen.max_pool2d: padding 2x2 must be between 0 and half the kernel size 2x2")
    assert.has_error(function() F.max_pool2d(sg.zeros(4, 4), 2) end,
      "sgen.max_pool2d: input has 2 dims (4x4), expected 3 or 4 (C x H x W or N x C x H x W)")
  end)
end)

describe("F.avg_pool2d", function()
  it("averages windows", function()
    assert.same({{{{3.5, 5.5}, {11.5, 13.5}}}}, F.avg_pool2d(image4(), 2):totable())
    assert.same({{{{3, 4}, {6, 7}}}}, F.avg_pool2d(image3(), 2, {stride = 1}):totable())
    assert.same({{{{3, 4}, {6, 7}}}}, F.avg_pool2d(image3(), {2, 2}, {stride = {1, 1}}):totable())
  end)
  it("counts padding unless count_include_pad = false", function()
    local x = sg.ones(1, 1, 2, 2)
    assert.same({{{{0.25, 0.25}, {0.25, 0.25}}}}, F.avg_pool2d(x, 2, {padding = 1}):totable())
    assert.same({{{{1, 1}, {1, 1}}}}, F.avg_pool2d(x, 2, {padding = 1, count_include_pad = false}):totable())
  end)
  it("spreads the gradient evenly", function()
    local x = sg.ones(1, 1, 2, 2):requires_grad_()
    F.avg_pool2d(x, 2):sum():backward()
    assert.same({{{{0.25, 0.25}, {0.25, 0.25}}}}, x.grad:totable())
  end)
  it("rejects bad options", function()
    assert.has_error(function() F.avg_pool2d(image4(), 2, {dilation = 1}) end,
      "sgen.avg_pool2d: unknown option 'dilation' (expected stride, padding, ceil_mode, count_include_pad)")
    assert.has_error(function() F.avg_pool2d(image4(), 2, {count_include_pad = 0}) end,
      "sgen.avg_pool2d: option 'count_include_pad' expected a boolean, got number")
    assert.has_error(function() F.avg_pool2d(image4(), 2, {stride = 0}) end,
      "sgen.avg_pool2d: option 'stride' must be positive, got 0")
  end)
end)

describe("F.adaptive_avg_pool2d", function()
  it("pools to the requested size", function()
    assert.same({{{{3.5, 5.5}, {11.5, 13.5}}}}, F.adaptive_avg_pool2d(image4(), 2):totable())
    assert.same({{{{8.5}}}}, F.adaptive_avg_pool2d(image4(), {1, 1}):totable())
    assert.same({1, 1, 3, 2}, F.adaptive_avg_pool2d(image4(), {3, 2}):shape())
  end)
  it("rejects bad sizes", function()
    assert.has_error(function() F.adaptive_avg_pool2d(image4(), 0) end,
      "sgen.adaptive_avg_pool2d: argument 2 (output_size) must be positive, got 0")
    assert.has_error(function() F.adaptive_avg_pool2d(image4(), "2") end,
      "sgen.adaptive_avg_pool2d: argument 2 (output_size) expected an integer or a pair {h, w} of integers, got string")
  end)
end)

describe("F.interpolate", function()
  local x = sg.tensor({{{{1.0, 2}, {3, 4}}}})
  it("resizes with nearest (the default)", function()
    assert.same({{1, 1, 2, 2}, {1, 1, 2, 2}, {3, 3, 4, 4}, {3, 3, 4, 4}},
      F.interpolate(x, {scale_factor = 2}):totable()[1][1])
    assert.same({{1, 1, 2}, {3, 3, 4}}, F.interpolate(x, {size = {2, 3}}):totable()[1][1])
    assert.same({1, 1, 4, 6}, F.interpolate(x, {scale_factor = {2, 3}}):shape())
  end)
  it("resizes bilinearly with and without align_corners", function()
    local y = F.interpolate(x, {size = 3, mode = "bilinear", align_corners = true})
    assert_close(y, {{{{1, 1.5, 2}, {2, 2.5, 3}, {3, 3.5, 4}}}})
    local z = F.interpolate(x, {scale_factor = 2, mode = "bilinear"})
    assert_close(z:view(4, 4)[1], {1, 1.25, 1.75, 2})
  end)
  it("differentiates (the gradient sums back)", function()
    local xx = sg.tensor({{{{1.0, 2}, {3, 4}}}}):requires_grad_()
    F.interpolate(xx, {scale_factor = 2, mode = "bilinear"}):sum():backward()
    assert_close(xx.grad, {{{{4, 4}, {4, 4}}}})
  end)
  it("rejects bad options", function()
    assert.has_error(function() F.interpolate(x) end,
      "sgen.interpolate: argument 2 expected an options table with size or scale_factor, got no value")
    assert.has_error(function() F.interpolate(x, {}) end,
      "sgen.interpolate: give exactly one of the options size and scale_factor")
    assert.has_error(function() F.interpolate(x, {size = 4, scale_factor = 2}) end,
      "sgen.interpolate: give exactly one of the options size and scale_factor")
    assert.has_error(function() F.interpolate(x, {scale_factor = 2, mode = "bicubic"}) end,
      "sgen.interpolate: option 'mode' expected \"nearest\" or \"bilinear\", got \"bicubic\"")
    assert.has_error(function() F.interpolate(x, {scale_factor = 0}) end,
      "sgen.interpolate: option 'scale_factor' must be positive, got 0.0 and 0.0")
    assert.has_error(function() F.interpolate(x, {scale_factor = "2"}) end,
      "sgen.interpolate: option 'scale_factor' expected a number or a pair {h, w} of numbers, got string")
    assert.has_error(function() F.interpolate(x, {size = 0}) end,
      "sgen.interpolate: option 'size' must be positive, got 0")
    assert.has_error(function() F.interpolate(x, {scale = 2}) end,
      "sgen.interpolate: unknown option 'scale' (expected size, scale_factor, mode, align_corners)")
    assert.has_error(function() F.interpolate(sg.zeros(1, 2, 2), {size = 4}) end,
      "sgen.interpolate: input has 3 dims (1x2x2), expected 4 (N x C x H x W)")
  end)
end)

describe("F.pad", function()
  local x = sg.tensor({{{{1.0, 2, 3}}}}) -- 1x1x1x3
  it("pads with a constant (left, right, top, bottom)", function()
    assert.same({{0, 1, 2, 3, 0, 0}}, F.pad(x, {1, 2}):totable()[1][1])
    assert.same({{-1, -1, -1}, {1, 2, 3}}, F.pad(x, {0, 0, 1, 0}, {value = -1}):totable()[1][1])
    assert.same({{2}}, F.pad(x, {-1, -1}):totable()[1][1])
  end)
  it("reflects and replicates", function()
    assert.same({{3, 2, 1, 2, 3, 2}}, F.pad(x, {2, 1}, {mode = "reflect"}):totable()[1][1])
    assert.same({{1, 1, 2, 3, 3, 3}}, F.pad(x, {1, 2}, {mode = "replicate"}):totable()[1][1])
  end)
  it("differentiates", function()
    local xx = sg.tensor({{{{1.0, 2, 3}}}}):requires_grad_()
    F.pad(xx, {2, 0}, {mode = "reflect"}):sum():backward()
    assert.same({{{{1, 2, 2}}}}, xx.grad:totable())
  end)
  it("rejects bad arguments", function()
    assert.has_error(function() F.pad(x, 1) end,
      "sgen.pad: argument 2 (pad) expected a table of integers {left, right, top, bottom, ...}, got number")
    assert.has_error(function() F.pad(x, {1, 1.5}) end,
      "sgen.pad: pad entry 2 expected an integer, got a fraction")
    assert.has_error(function() F.pad(x, {1}) end,
      "sgen.pad: 1 pad values given for input 1x1x1x3; expected an even number, at most 2 per dim (8)")
    assert.has_error(function() F.pad(x, {1, 1}, {mode = "circular"}) end,
      "sgen.pad: option 'mode' expected \"constant\", \"reflect\" or \"replicate\", got \"circular\"")
    assert.has_error(function() F.pad(x, {1, 1}, {mode = "reflect", value = 2}) end,
      "sgen.pad: option 'value' only applies to mode \"constant\" (mode is \"reflect\")")
    assert.has_error(function() F.pad(x, {1, 1}, {fill = 2}) end,
      "sgen.pad: unknown option 'fill' (expected mode, value)")
    assert.matches("^sgen%.pad: reflect padding", err_of(F.pad, x, {3, 0}, {mode = "reflect"}))
  end)
end)

describe("F.pixel_shuffle", function()
  it("moves channels into space", function()
    local x = sg.tensor({1.0, 2, 3, 4}):view(1, 4, 1, 1)
    assert.same({{{{1, 2}, {3, 4}}}}, F.pixel_shuffle(x, 2):totable())
    assert.same({2, 1, 6, 6}, F.pixel_shuffle(sg.zeros(2, 9, 2, 2), 3):shape())
  end)
  it("rejects bad factors", function()
    assert.has_error(function() F.pixel_shuffle(sg.zeros(1, 4, 1, 1), 0) end,
      "sgen.pixel_shuffle: argument 2 (upscale_factor) must be positive, got 0")
    assert.has_error(function() F.pixel_shuffle(sg.zeros(1, 4, 1, 1)) end,
      "sgen.pixel_shuffle: argument 2 (upscale_factor) expected an integer, got no value")
    assert.has_error(function() F.pixel_shuffle(sg.zeros(1, 5, 1, 1), 2) end,
      "sgen.pixel_shuffle: input 1x5x1x1 has 5 channels, not divisible by upscale^2 = 4")
  end)
end)

describe("F.softmax / F.log_softmax", function()
  local x = sg.tensor({{1.0, 2, 3}, {1, 1, 1}})
  it("normalize along a 1-based dim", function()
    local e = math.exp
    local s = e(1) + e(2) + e(3)
    local y = F.softmax(x, 2)
    assert_close(y, {{e(1) / s, e(2) / s, e(3) / s}, {1 / 3, 1 / 3, 1 / 3}})
    assert_close(F.softmax(x, -1), y)
    assert_close(x:softmax(2), y)
    assert_close(F.softmax(x, 1), {{0.5, 1 / (1 + e(-1)), 1 / (1 + e(-2))},
      {0.5, 1 - 1 / (1 + e(-1)), 1 - 1 / (1 + e(-2))}})
    assert_close(F.log_softmax(x, 2), {{1 - math.log(s), 2 - math.log(s), 3 - math.log(s)},
      {-math.log(3), -math.log(3), -math.log(3)}})
    assert_close(x:log_softmax(-1), F.log_softmax(x, 2))
  end)
  it("differentiate", function()
    local xx = sg.tensor({{0.0, 0, 0, 0}}):requires_grad_()
    F.log_softmax(xx, 2):sum():backward()
    assert_close(xx.grad, {{0, 0, 0, 0}}) -- 1 - 4 * 1/4
    local z = sg.tensor({{1.0, 2}}):requires_grad_()
    F.softmax(z, 2):select(2, 1):sum():backward()
    local p = 1 / (1 + math.exp(1))
    assert_close(z.grad, {{p * (1 - p), -p * (1 - p)}})
  end)
  it("reject bad dims", function()
    assert.has_error(function() F.softmax(x, 3) end,
      "sgen.softmax: dim 3 out of range for a tensor with 2 dims (expected 1..2 or -2..-1; dims are 1-based)")
    assert.has_error(function() F.softmax(x, 0) end,
      "sgen.softmax: dim 0 out of range for a tensor with 2 dims (expected 1..2 or -2..-1; dims are 1-based)")
    assert.has_error(function() F.log_softmax(x) end,
      "sgen.log_softmax: argument 2 (dim) expected an integer, got no value")
    assert.has_error(function() F.softmax(x:long(), 1) end)
  end)
end)

describe("F.dropout", function()
  it("is the identity when not training or with p = 0", function()
    local x = sg.tensor({1.0, 2, 3})
    assert.same({1, 2, 3}, F.dropout(x, {training = false}):totable())
    assert.same({1, 2, 3}, F.dropout(x, {p = 0}):totable())
  end)
  it("zeros a fraction p and scales the rest by 1/(1-p), reproducibly", function()
    sg.manual_seed(7)
    local y = F.dropout(sg.ones(4000), {p = 0.25})
    local kept = y:ne(0):sum():item()
    assert(math.abs(kept / 4000 - 0.75) < 0.03, "kept fraction " .. kept / 4000)
    assert_close(y:sum() / kept, 1 / 0.75, 1e-5)
    sg.manual_seed(7)
    assert.same(y:totable(), F.dropout(sg.ones(4000), {p = 0.25}):totable())
  end)
  it("passes the gradient through the kept entries", function()
    sg.manual_seed(8)
    local x = sg.ones(100):requires_grad_()
    local y = F.dropout(x)
    y:sum():backward()
    assert.same(y:totable(), x.grad:totable())
  end)
  it("rejects bad options", function()
    assert.has_error(function() F.dropout(sg.ones(3), {prob = 0.5}) end,
      "sgen.dropout: unknown option 'prob' (expected p, training)")
    assert.has_error(function() F.dropout(sg.ones(3), {p = 1}) end,
      "sgen.dropout: p must be in [0, 1), got 1")
    assert.has_error(function() F.dropout(sg.ones(3), 0.5) end,
      "sgen.dropout: argument 2 expected an options table, got number")
  end)
end)

describe("F.mse_loss / F.l1_loss", function()
  local a, b = sg.tensor({1.0, 2, 3}), sg.tensor({1.0, 1, 1})
  it("reduce by mean (default), sum or none", function()
    assert_close(F.mse_loss(a, b), 5 / 3)
    assert_close(F.mse_loss(a, b, {reduction = "sum"}), 5)
    assert.same({0, 1, 4}, F.mse_loss(a, b, {reduction = "none"}):totable())
    assert_close(F.l1_loss(a, b), 1)
    assert_close(F.l1_loss(a, b, {reduction = "sum"}), 3)
    assert.same({0, 1, 2}, F.l1_loss(a, b, {reduction = "none"}):totable())
  end)
  it("differentiate", function()
    local x = sg.tensor({1.0, 2, 3}):requires_grad_()
    F.mse_loss(x, b):backward()
    assert_close(x.grad, {0, 2 / 3, 4 / 3})
    local y = sg.tensor({0.0, 2, 3}):requires_grad_()
    F.l1_loss(y, b, {reduction = "sum"}):backward()
    assert_close(y.grad, {-1, 1, 1})
  end)
  it("reject bad input", function()
    assert.has_error(function() F.mse_loss(a, b, {reduction = "avg"}) end,
      "sgen.mse_loss: option 'reduction' expected \"mean\", \"sum\" or \"none\", got \"avg\"")
    assert.has_error(function() F.l1_loss(a, b, {reduce = "sum"}) end,
      "sgen.l1_loss: unknown option 'reduce' (expected reduction)")
    assert.has_error(function() F.mse_loss(a) end,
      "sgen.mse_loss: argument 2 (target) expected a tensor, got no value")
    assert.matches("^sgen%.mse_loss: ", err_of(F.mse_loss, a, sg.zeros(2)))
  end)
end)

describe("F.binary_cross_entropy_with_logits", function()
  local log2 = math.log(2)
  it("computes the logistic loss with weight and pos_weight", function()
    local x, t = sg.tensor({0.0, 0}), sg.tensor({1.0, 0})
    assert_close(F.binary_cross_entropy_with_logits(x, t), log2)
    assert_close(F.binary_cross_entropy_with_logits(x, t, {pos_weight = sg.tensor({3.0})}), 2 * log2)
    assert_close(F.binary_cross_entropy_with_logits(x, t, {weight = sg.tensor({1, 0.5}), reduction = "sum"}),
      1.5 * log2)
    local big = F.binary_cross_entropy_with_logits(sg.tensor({100.0, -100}), sg.tensor({1.0, 0}),
      {reduction = "none"})
    assert_close(big, {0, 0}) -- stable for large logits
  end)
  it("differentiates: sigmoid(x) - t", function()
    local x = sg.tensor({0.0, 2}):requires_grad_()
    F.binary_cross_entropy_with_logits(x, sg.tensor({1.0, 0}), {reduction = "sum"}):backward()
    assert_close(x.grad, {-0.5, 1 / (1 + math.exp(-2))})
  end)
  it("rejects bad options", function()
    assert.has_error(function()
      F.binary_cross_entropy_with_logits(sg.zeros(2), sg.zeros(2), {weight = "a"})
    end, "sgen.binary_cross_entropy_with_logits: option 'weight' expected a tensor, got string")
    assert.has_error(function()
      F.binary_cross_entropy_with_logits(sg.zeros(2), sg.zeros(2), {posweight = sg.ones(1)})
    end, "sgen.binary_cross_entropy_with_logits: unknown option 'posweight' (expected weight, pos_weight, reduction)")
  end)
end)

describe("F.cross_entropy / F.nll_loss", function()
  local logits = sg.tensor({{1.0, 2, 3}, {1, 0, 0}})
  local l1 = math.log(math.exp(1) + math.exp(2) + math.exp(3)) - 3
  local l2 = math.log(math.exp(1) + 2) - 1
  local function labels(t) return sg.tensor(t, {dtype = "int64"}) end
  it("takes 1-based class labels", function()
    assert_close(F.cross_entropy(logits, labels({3, 1})), (l1 + l2) / 2)
    assert_close(F.cross_entropy(logits, labels({3, 1}), {reduction = "sum"}), l1 + l2)
    assert_close(F.cross_entropy(logits, labels({3, 1}), {reduction = "none"}), {l1, l2})
    -- a 1-D input takes a 0-dim label
    assert_close(F.cross_entropy(sg.tensor({1.0, 2, 3}), sg.tensor(3, {dtype = "int64"})), l1)
    -- N x C x d: labels N x d
    local x3 = sg.tensor({{{1.0, 1}, {2, 0}, {3, 0}}}) -- 1x3x2
    assert_close(F.cross_entropy(x3, labels({{3, 1}}), {reduction = "none"}), {{l1, l2}})
  end)
  it("honours weight, ignore_index (in label space) and label_smoothing", function()
    local w = sg.tensor({2.0, 1, 1})
    assert_close(F.cross_entropy(logits, labels({3, 1}), {weight = w}), (l1 + 2 * l2) / 3)
    assert_close(F.cross_entropy(logits, labels({3, 2}), {ignore_index = 2}), l1)
    assert_close(F.cross_entropy(logits, labels({3, -100})), l1)
    assert_close(F.cross_entropy(logits, labels({3, 0}), {ignore_index = 0}), l1)
    -- smoothing 1: the mean of -log p over the classes
    local lp = F.log_softmax(logits, 2)
    assert_close(F.cross_entropy(logits, labels({3, 1}), {label_smoothing = 1}), -lp:mean():item(), 1e-6)
  end)
  it("differentiates: softmax - onehot, averaged", function()
    local x = sg.tensor({{0.0, 0}}):requires_grad_()
    F.cross_entropy(x, labels({2})):backward()
    assert_close(x.grad, {{0.5, -0.5}})
  end)
  it("reports labels outside 1..C in label space", function()
    assert.has_error(function() F.cross_entropy(logits, labels({3, 4})) end,
      "sgen.cross_entropy: target label 4 (at flat index 2 of target 2) is out of range: expected 1..3 (class labels are 1-based) or ignore_index -100")
    assert.has_error(function() F.cross_entropy(logits, labels({0, 1})) end,
      "sgen.cross_entropy: target label 0 (at flat index 1 of target 2) is out of range: expected 1..3 (class labels are 1-based) or ignore_index -100")
    assert.has_error(function() F.cross_entropy(logits, labels({1, math.mininteger})) end,
      "sgen.cross_entropy: target label -9223372036854775808 (at flat index 2 of target 2) is out of range: expected 1..3 (class labels are 1-based) or ignore_index -100")
    assert.has_error(function() F.cross_entropy(logits, labels({math.maxinteger, 1})) end,
      "sgen.cross_entropy: target label 9223372036854775807 (at flat index 1 of target 2) is out of range: expected 1..3 (class labels are 1-based) or ignore_index -100")
    -- non-contiguous labels are reported at their logical position
    assert.has_error(function() F.cross_entropy(logits, labels({{1, 2}, {9, 3}}):t():select(1, 1)) end,
      "sgen.cross_entropy: target label 9 (at flat index 2 of target 2) is out of range: expected 1..3 (class labels are 1-based) or ignore_index -100")
    assert.has_error(function() F.nll_loss(logits, labels({1, 7}), {ignore_index = 0}) end,
      "sgen.nll_loss: target label 7 (at flat index 2 of target 2) is out of range: expected 1..3 (class labels are 1-based) or ignore_index 0")
  end)
  it("rejects other bad input", function()
    assert.has_error(function() F.cross_entropy(logits, sg.tensor({3.0, 1})) end,
      "sgen.cross_entropy: target has dtype float32, expected int64 class labels (1-based)")
    assert.has_error(function() F.cross_entropy(logits, labels({1, 2, 3})) end,
      "sgen.cross_entropy: target has shape 3, expected 2 for input 2x3")
    assert.has_error(function() F.cross_entropy(logits, labels({1, 2}), {label_smoothing = 2}) end,
      "sgen.cross_entropy: option 'label_smoothing' must be in [0, 1], got 2.0")
    assert.has_error(function() F.cross_entropy(logits, labels({1, 2}), {smoothing = 0.1}) end,
      "sgen.cross_entropy: unknown option 'smoothing' (expected weight, reduction, ignore_index, label_smoothing)")
    assert.has_error(function() F.nll_loss(logits, labels({1, 2}), {label_smoothing = 0.1}) end,
      "sgen.nll_loss: unknown option 'label_smoothing' (expected weight, reduction, ignore_index)")
    assert.has_error(function() F.cross_entropy(logits, labels({1, 2}), {weight = sg.ones(2)}) end,
      "sgen.cross_entropy: weight has shape 2, expected 3 (one per class)")
    assert.has_error(function() F.cross_entropy(logits, labels({1, 2}), {ignore_index = 1.5}) end,
      "sgen.cross_entropy: option 'ignore_index' expected an integer, got 1.5")
  end)
  it("nll_loss picks -logp at the labels", function()
    local lp = sg.tensor({{-1.0, -2, -3}, {-4, -5, -6}})
    assert_close(F.nll_loss(lp, labels({2, 3})), 4)
    assert_close(F.nll_loss(lp, labels({2, 3}), {reduction = "none"}), {2, 6})
    assert_close(F.nll_loss(lp, labels({2, 3}), {weight = sg.tensor({1.0, 1, 3})}), (2 + 18) / 4)
  end)
end)

describe("F.unfold / F.fold", function()
  it("extract and put back patches", function()
    local cols = F.unfold(image3(), 2)
    assert.same({1, 4, 4}, cols:shape())
    assert.same({{1, 2, 4, 5}, {2, 3, 5, 6}, {4, 5, 7, 8}, {5, 6, 8, 9}}, cols:totable()[1])
    assert.same({1, 9, 1}, F.unfold(image3(), 3):shape())
    assert.same({1, 4, 1}, F.unfold(image3(), 2, {stride = 2}):shape())
    assert.same({1, 4, 4}, F.unfold(image3(), 2, {padding = 1, stride = 2, dilation = 1}):shape())
    assert.same({1, 4, 1}, F.unfold(image3(), 2, {dilation = 2}):shape())
    -- fold sums overlapping patches: fold(unfold(x)) = x * (patch count)
    local back = F.fold(cols, 3, 2)
    assert.same({{{{1, 4, 3}, {8, 20, 12}, {7, 16, 9}}}}, back:totable())
    assert.same({{{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}}}, F.fold(F.unfold(image3(), 1), {3, 3}, 1):totable())
  end)
  it("are adjoint (gradients)", function()
    local x = image3():requires_grad_()
    F.unfold(x, 2):sum():backward()
    assert.same({{{{1, 2, 1}, {2, 4, 2}, {1, 2, 1}}}}, x.grad:totable())
  end)
  it("reject bad arguments", function()
    assert.has_error(function() F.unfold(image3(), 0) end,
      "sgen.unfold: argument 2 (kernel_size) must be positive, got 0")
    assert.has_error(function() F.unfold(image3(), 2, {step = 1}) end,
      "sgen.unfold: unknown option 'step' (expected dilation, padding, stride)")
    assert.has_error(function() F.fold(sg.zeros(1, 4, 4), nil, 2) end,
      "sgen.fold: argument 2 (output_size) expected an integer or a pair {h, w} of integers, got nil")
    assert.matches("^sgen%.fold: ", err_of(F.fold, sg.zeros(1, 4, 5), 3, 2))
  end)
end)

describe("F activations", function()
  local x = sg.tensor({-2.0, 0, 3})
  it("relu, leaky_relu, sigmoid, tanh, softplus", function()
    assert.same({0, 0, 3}, F.relu(x):totable())
    assert_close(F.leaky_relu(x, 0.1), {-0.2, 0, 3})
    assert_close(F.sigmoid(x), {1 / (1 + math.exp(2)), 0.5, 1 / (1 + math.exp(-3))})
    local tanh = function(v) return (math.exp(2 * v) - 1) / (math.exp(2 * v) + 1) end
    assert_close(F.tanh(x), {tanh(-2), 0, tanh(3)})
    assert_close(F.softplus(x), {math.log(1 + math.exp(-2)), math.log(2), math.log(1 + math.exp(3))})
  end)
  it("elu and silu", function()
    assert_close(F.elu(x), {math.exp(-2) - 1, 0, 3})
    assert_close(F.elu(x, 2), {2 * (math.exp(-2) - 1), 0, 3})
    assert_close(F.elu(sg.tensor({1000.0})), {1000}) -- no overflow
    assert_close(F.silu(x), {-2 / (1 + math.exp(2)), 0, 3 / (1 + math.exp(-3))})
    local z = sg.tensor({-1.0, 2}):requires_grad_()
    F.elu(z):sum():backward()
    assert_close(z.grad, {math.exp(-1), 1})
  end)
  it("reject non-tensors", function()
    assert.has_error(function() F.elu(1) end, "sgen.elu: argument 1 (input) expected a tensor, got number")
    assert.has_error(function() F.silu(nil) end, "sgen.silu: argument 1 (input) expected a tensor, got nil")
    assert.has_error(function() F.elu(x, "a") end, "sgen.elu: argument 2 (alpha) expected a number, got string")
  end)
end)

describe("F against PyTorch (spec/fixtures/functional.safetensors)", function()
  local fx = H.fixture("functional")
  local function f32(name) return assert(fx[name], name) end

  -- Runs fn on the case's inputs (float32, with grad), checks out and the
  -- gradients of sum(out * r) against the float64 references.
  local function check(case, names, fn, tol)
    tol = tol or 1e-4
    local ins = {}
    for i, n in ipairs(names) do ins[i] = f32(case .. "." .. n):clone():requires_grad_() end
    local out = fn(table.unpack(ins))
    assert_close(out, fx[case .. ".out"], tol, case .. ".out")
    local loss = (out * f32(case .. ".r")):sum()
    loss:backward()
    for i, n in ipairs(names) do
      assert_close(ins[i].grad, fx[case .. ".grad_" .. n], tol, case .. ".grad_" .. n)
    end
  end

  it("conv2d", function()
    check("conv2d", {"x", "w", "b"}, function(x, w, b) return F.conv2d(x, w, b, {stride = 2, padding = 1}) end)
    check("conv2d_g", {"x", "w"}, function(x, w)
      return F.conv2d(x, w, nil, {padding = {1, 0}, dilation = 2, groups = 2})
    end)
  end)
  it("conv_transpose2d", function()
    check("convt", {"x", "w", "b"}, function(x, w, b)
      return F.conv_transpose2d(x, w, b, {stride = 2, padding = 1, output_padding = 1})
    end)
  end)
  it("batch_norm (training, running stats)", function()
    local rm, rv = f32("bn.rm"):clone(), f32("bn.rv"):clone()
    check("bn", {"x", "w", "b"}, function(x, w, b)
      return F.batch_norm(x, rm, rv, w, b, {training = true, momentum = 0.2, eps = 1e-3})
    end)
    assert_close(rm, fx["bn.rm_after"], 1e-5, "running_mean")
    assert_close(rv, fx["bn.rv_after"], 1e-5, "running_var")
  end)
  it("max_pool2d with 1-based indices", function()
    check("maxpool", {"x"}, function(x) return F.max_pool2d(x, 3, {stride = 2, padding = 1}) end)
    local _, idx = F.max_pool2d(f32("maxpool.x"), 3, {stride = 2, padding = 1, return_indices = true})
    assert.same(fx["maxpool.indices"]:totable(), idx:totable())
  end)
  it("interpolate bilinear", function()
    check("bilinear", {"x"}, function(x) return F.interpolate(x, {size = {5, 7}, mode = "bilinear"}) end)
    check("bilinear_ac", {"x"}, function(x)
      return F.interpolate(x, {scale_factor = 2, mode = "bilinear", align_corners = true})
    end)
  end)
  it("pad reflect", function()
    check("reflect", {"x"}, function(x) return F.pad(x, {2, 1, 1, 2}, {mode = "reflect"}) end)
  end)
  it("cross_entropy with 1-based labels", function()
    local t, w = f32("ce.target"), f32("ce.weight")
    check("ce", {"x"}, function(x) return F.cross_entropy(x, t, {weight = w, label_smoothing = 0.1}) end)
    check("ce_none", {"x"}, function(x)
      return F.cross_entropy(x, t, {reduction = "none", ignore_index = 3})
    end)
  end)
  it("agrees in float64 to near machine precision", function()
    local x = f32("conv2d.x"):double():requires_grad_()
    local y = F.conv2d(x, f32("conv2d.w"):double(), f32("conv2d.b"):double(), {stride = 2, padding = 1})
    assert_close(y, fx["conv2d.out"], 1e-10)
  end)
end)
