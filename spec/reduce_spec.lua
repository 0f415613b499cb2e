-- Reductions: sum, mean, var, std, norm, logsumexp, max, min, argmax, argmin.
-- Convention: x:f() reduces every dim; x:f(dim [, keepdim]) or
-- x:f({dims} [, keepdim]) with 1-based dims; keepdim positional or as
-- {keepdim = true}; var/std flags only in the options table. Indices
-- returned by max/min/argmax/argmin are int64 and 1-based.
-- Reference values from PyTorch 1.13 (float64).
local sg = require "sgen"

local function f64(data) return sg.tensor(data, {dtype = "float64"}) end
local function x23() return f64({{1, 5, 3}, {4, 2, 6}}) end

local function flat(t)
  local out = {}
  local function walk(v)
    if type(v) == "table" then
      for _, e in ipairs(v) do walk(e) end
    else
      out[#out + 1] = v
    end
  end
  walk(t:totable())
  return out
end

local function assert_close(expected, t, tol)
  tol = tol or 1e-9
  local got = type(t) == "number" and {t} or flat(t)
  if type(expected) == "number" then expected = {expected} end
  assert.equal(#expected, #got)
  for i = 1, #expected do
    if math.abs(expected[i] - got[i]) > tol then
      error(("element %d: expected %.10g, got %.10g"):format(i, expected[i], got[i]), 2)
    end
  end
end

local function gradcheck(f, inputs)
  if not sg.gradcheck then return end
  for _, t in ipairs(inputs) do t:requires_grad() end
  assert.is_true(sg.gradcheck(f, inputs, {eps = 1e-6, atol = 1e-6}))
end

describe("sum / mean", function()
  it("reduce all dims, one dim, or a list of dims", function()
    local x = x23()
    assert.same({}, x:sum():shape())
    assert.equal(21, x:sum():item())
    assert.same({5, 7, 9}, x:sum(1):totable())
    assert.same({9, 12}, sg.sum(x, -1):totable())
    assert.equal(21, x:sum({1, 2}):item())
    assert.equal(21, x:sum({}):item())
    assert.same({3, 4}, x:mean(2):totable())
    assert.equal(3.5, sg.mean(x):item())
  end)
  it("keep the reduced dims positionally or through {keepdim = true}", function()
    local x = x23()
    assert.same({{9}, {12}}, x:sum(2, true):totable())
    assert.same({{5, 7, 9}}, x:sum(1, {keepdim = true}):totable())
    assert.same({1, 1}, x:sum({keepdim = true}):shape())
    assert.same({1, 1}, x:mean({1, 2}, true):shape())
    assert.same({3}, x:sum(1, false):shape())
  end)
  it("sum keeps integer dtypes as int64 and counts booleans", function()
    assert.equal("int64", sg.tensor({1, 2}, {dtype = "int64"}):sum():dtype())
    assert.equal(2, sg.tensor({true, false, true}, {dtype = "bool"}):sum():item())
  end)
  it("reject bad dims and options", function()
    local x = x23()
    assert.has_error(function() x:sum(3) end,
      "sgen.sum: dim 3 out of range for a tensor with 2 dims (expected 1..2 or -2..-1; dims are 1-based)")
    assert.has_error(function() x:sum({1, -2}) end, "sgen.sum: dim -2 listed twice")
    assert.has_error(function() x:sum({1.5}) end, "sgen.sum: dims[1] expected an integer, got 1.5")
    assert.has_error(function() x:sum("a") end,
      "sgen.sum: argument 2 (dim) expected an integer or a table of integers, got string")
    assert.has_error(function() x:sum(1, 2) end,
      "sgen.sum: argument 3 expected a boolean (keepdim) or an options table, got number")
    assert.has_error(function() x:mean(1, {keepdims = true}) end,
      "sgen.mean: unknown option 'keepdims' (expected keepdim)")
    assert.has_error(function() sg.tensor({1, 2}, {dtype = "int64"}):mean() end,
      "sgen.mean: expected a float tensor (float32 or float64), got int64 (input 2); convert it with x:float() or x:double() first")
    assert.has_error(function() sg.sum({1, 2}) end, "sgen.sum: argument 1 (input) expected a tensor, got table")
  end)
  it("are differentiable", function()
    local w = x23():requires_grad()
    ;(w:sum(1) * f64({1, 2, 3})):sum():backward()
    assert.same({{1, 2, 3}, {1, 2, 3}}, w.grad:totable())
    w = x23():requires_grad()
    w:mean(2, true):sum():backward()
    assert_close({1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3}, w.grad)
    gradcheck(function(v) return v:sum({1, 3}, true) end, {sg.randn(2, 3, 2, {dtype = "float64"})})
    gradcheck(function(v) return v:mean(-1) end, {sg.randn(2, 3, {dtype = "float64"})})
  end)
end)

describe("var / std", function()
  it("are unbiased by default; options unbiased, correction, keepdim", function()
    local x = x23()
    assert_close({4, 4}, x:var(2))
    assert_close({8 / 3, 8 / 3}, x:var(2, {unbiased = false}))
    assert_close(1.8708286934, x:std(), 1e-9)
    assert_close({2.1213203436, 2.1213203436, 2.1213203436}, x:std(1, {keepdim = true}), 1e-9)
    assert.same({1, 3}, sg.std(x, 1, {keepdim = true}):shape())
    assert_close(4.375, x:var({1, 2}, {correction = 2}))
    assert_close(17.5 / 6, x:var({unbiased = false}))
  end)
  it("refuse a positional flag (PyTorch's var(dim, unbiased) would be misread)", function()
    local x = x23()
    assert.has_error(function() x:var(1, true) end,
      "sgen.var: argument 3 expected an options table {unbiased=, correction=, keepdim=}, got boolean")
    assert.has_error(function() x:std(1, {unbiased = false, correction = 0}) end,
      "sgen.std: give either 'unbiased' or 'correction', not both")
    assert.has_error(function() x:var(1, {unbiassed = false}) end,
      "sgen.var: unknown option 'unbiassed' (expected unbiased, correction, keepdim)")
    assert.has_error(function() x:var(1, {correction = -1}) end,
      "sgen.var: option 'correction' must be >= 0, got -1")
    assert.has_error(function() sg.tensor({1, 2}, {dtype = "int64"}):std() end,
      "sgen.std: expected a float tensor (float32 or float64), got int64 (input 2); convert it with x:float() or x:double() first")
  end)
  it("are differentiable", function()
    gradcheck(function(v) return v:var(2) end, {sg.randn(3, 4, {dtype = "float64"})})
    gradcheck(function(v) return v:std(1, {unbiased = false, keepdim = true}) end,
      {sg.randn(3, 4, {dtype = "float64"})})
    local w = f64({1, 3}):requires_grad()
    w:var():backward() -- gradient 2 (x - mean) / (n - 1)
    assert.same({-2, 2}, w.grad:totable())
  end)
end)

describe("norm", function()
  it("takes p (default 2, math.huge or 'inf' for max |x|), dims and keepdim", function()
    local x = x23()
    assert_close(9.5393920142, x:norm(), 1e-9)
    assert_close(9.5393920142, x:norm("fro"), 1e-9)
    assert_close({9, 12}, x:norm(1, 2))
    assert_close(6, x:norm(math.huge))
    assert_close(6, sg.norm(-x, "inf"))
    assert_close({4.0207257586, 5.1044687220, 6.2402514692}, x:norm(3, 1), 1e-9)
    assert.same({2, 1}, x:norm(2, 2, true):shape())
    assert.same({1, 1}, x:norm(2, {1, 2}, {keepdim = true}):shape())
  end)
  it("rejects bad p", function()
    local x = x23()
    assert.has_error(function() x:norm(0) end,
      "sgen.norm: p = 0.0 is not supported (expected p > 0, or math.huge for the largest |x|)")
    assert.has_error(function() x:norm("nuc") end,
      "sgen.norm: argument 2 (p) expected a number, \"fro\" or \"inf\", got \"nuc\"")
    assert.has_error(function() x:norm(true) end, "sgen.norm: argument 2 (p) expected a number, got boolean")
    assert.has_error(function() x:norm(2, 3) end,
      "sgen.norm: dim 3 out of range for a tensor with 2 dims (expected 1..2 or -2..-1; dims are 1-based)")
  end)
  it("is differentiable", function()
    local w = f64({3, 4}):requires_grad()
    w:norm():backward()
    assert_close({0.6, 0.8}, w.grad)
    gradcheck(function(v) return v:norm(3, 2) end, {sg.randn(3, 4, {dtype = "float64"})})
  end)
end)

describe("logsumexp", function()
  it("reduces stably over dims", function()
    local x = x23()
    assert_close({5.1429316285, 6.1429316285}, x:logsumexp(2), 1e-9)
    assert_close(6.4561933160, x:logsumexp({1, 2}), 1e-9)
    assert_close(6.4561933160, sg.logsumexp(x), 1e-9)
    assert_close({1000 + math.log(2)}, f64({1000, 1000}):logsumexp(1), 1e-9)
    assert.same({2, 1}, x:logsumexp(-1, true):shape())
  end)
  it("is differentiable (the gradient is the softmax)", function()
    local w = f64({0, math.log(3)}):requires_grad()
    w:logsumexp(1):backward()
    assert_close({0.25, 0.75}, w.grad)
    gradcheck(function(v) return v:logsumexp(1) end, {sg.randn(3, 4, {dtype = "float64"})})
  end)
end)

describe("max / min", function()
  it("without a dim give a 0-dim tensor", function()
    local x = x23()
    assert.same({}, x:max():shape())
    assert.equal(6, x:max():item())
    assert.equal(1, sg.min(x):item())
  end)
  it("with a dim give values and 1-based int64 indices", function()
    local x = x23()
    local v, i = x:max(2)
    assert.same({5, 6}, v:totable())
    assert.same({2, 3}, i:totable())
    assert.equal("int64", i:dtype())
    v, i = x:min(1, true)
    assert.same({{1, 2, 3}}, v:totable())
    assert.same({{1, 2, 1}}, i:totable())
    v, i = sg.max(x, -2, {keepdim = true})
    assert.same({{4, 5, 6}}, v:totable())
    assert.same({{2, 1, 2}}, i:totable())
  end)
  it("with a tensor take the elementwise maximum/minimum", function()
    local x = f64({1, 5})
    assert.same({3, 5}, x:max(f64({3, 3})):totable())
    assert.same({1, 3}, sg.min(x, f64({3, 3})):totable())
  end)
  it("reject bad dims and empty inputs", function()
    local x = x23()
    assert.has_error(function() x:max(3) end,
      "sgen.max: dim 3 out of range for a tensor with 2 dims (expected 1..2 or -2..-1; dims are 1-based)")
    assert.has_error(function() x:min({1, 2}) end,
      "sgen.min: argument 2 (dim) expected an integer, got a table of dims (min reduces one dim)")
    assert.has_error(function() x:max(nil, true) end,
      "sgen.max: keepdim needs a dim (max() without a dim gives a 0-dim tensor)")
    assert.has_error(function() sg.zeros(0, 3):max(1) end,
      "sgen.max: cannot reduce over dim 1 of size 0 (input 0x3): the operation has no identity")
    assert.has_error(function() sg.zeros(0):min() end,
      "sgen.min: the input (0) is empty; the operation has no identity")
    assert.has_error(function() x:max("a") end, "sgen.max: argument 2 (dim) expected an integer, got string")
    assert.has_error(function() x:argmax(true) end, "sgen.argmax: argument 2 (dim) expected an integer, got boolean")
    assert.has_error(function() x:sum(1, {2}) end,
      "sgen.sum: argument 3 expected a boolean (keepdim) or an options table, got a list")
  end)
  it("are differentiable through the values (not the indices)", function()
    local w = x23():requires_grad()
    local v, i = w:max(2)
    assert.is_nil(i.grad_fn)
    ;(v * f64({1, 2})):sum():backward()
    assert.same({{0, 1, 0}, {0, 0, 2}}, w.grad:totable())
    w = x23():requires_grad()
    w:min():backward()
    assert.same({{1, 0, 0}, {0, 0, 0}}, w.grad:totable())
    gradcheck(function(u) return (u:max(1)) end, {f64({{1, 5, 3}, {4, 2, 6}})})
    gradcheck(function(u) return (u:min(2, true)) end, {f64({{1, 5, 3}, {4, 2, 6}})})
  end)
end)

describe("argmax / argmin", function()
  it("give 1-based int64 indices, over the flattened tensor without a dim", function()
    local x = x23()
    assert.equal(6, x:argmax():item())
    assert.equal(1, x:argmin():item())
    assert.equal("int64", x:argmax():dtype())
    assert.same({2, 3}, x:argmax(2):totable())
    assert.same({{1, 2, 1}}, sg.argmin(x, 1, true):totable())
    assert.same({1, 1}, x:argmax(nil, true):shape())
    assert.equal(1, sg.tensor(7):argmax():item())
  end)
  it("pick the first of equal values", function()
    assert.equal(2, f64({1, 3, 3}):argmax():item())
  end)
  it("reject bad dims", function()
    assert.has_error(function() x23():argmax(0) end,
      "sgen.argmax: dim 0 out of range for a tensor with 2 dims (expected 1..2 or -2..-1; dims are 1-based)")
    assert.has_error(function() sg.zeros(0):argmin() end,
      "sgen.argmin: the input (0) is empty; the operation has no identity")
  end)
end)
