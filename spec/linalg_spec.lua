-- Matrix products (matmul, mm, bmm, outer) and sgen.linalg (cholesky, logdet,
-- solve, inv): values against PyTorch 1.13, batching, errors, gradients.
local sg = require "sgen"
local H = require "spec.helpers"

local f64 = H.f64

-- expected: a number or the flat list of t's elements
local function assert_close(expected, t, tol) H.assert_close(t, expected, tol or 1e-9) end

local gradcheck = H.gradcheck

local A = f64({{4, 2}, {2, 3}})
local B = f64({{2, 1}, {1, 2}})

-- a well-conditioned symmetric positive definite matrix built from any m
local function spd(m) return m:matmul(m:transpose(-1, -2)) + sg.eye(m:size(-1), {dtype = "float64"}) * 3 end

describe("matmul / mm / bmm / outer", function()
  it("multiply matrices, vectors and broadcast batches", function()
    local a = f64({{1, 2}, {3, 4}})
    assert.same({{7, 10}, {15, 22}}, a:matmul(a):totable())
    assert.same({{7, 10}, {15, 22}}, sg.mm(a, a):totable())
    assert.same({5, 11}, a:matmul(f64({1, 2})):totable())
    assert.same({7, 10}, sg.matmul(f64({1, 2}), a):totable())
    assert.same({}, f64({1, 2}):matmul(f64({3, 4})):shape())
    assert.equal(11, f64({1, 2}):matmul(f64({3, 4})):item())
    assert.same({2, 3, 5}, sg.matmul(sg.ones(2, 3, 4), sg.ones(4, 5)):shape())
    assert.same({4, 2, 3, 5}, sg.zeros(4, 1, 3, 2):matmul(sg.zeros(2, 2, 5)):shape())
    local p = sg.bmm(sg.ones(2, 3, 4), sg.ones(2, 4, 5))
    assert.same({2, 3, 5}, p:shape())
    assert.equal(4, p:max():item())
    assert.same({{3, 4, 5}, {6, 8, 10}}, sg.outer(f64({1, 2}), f64({3, 4, 5})):totable())
    assert.same({{3, 4}, {6, 8}}, f64({1, 2}):outer(f64({3, 4})):totable())
  end)
  it("reject shapes that cannot be multiplied", function()
    local a = sg.zeros(2, 2)
    assert.has_error(function() a:matmul(sg.zeros(3, 2)) end,
      "sgen.matmul: shapes 2x2 and 3x2 cannot be multiplied (2 != 3)")
    assert.has_error(function() sg.mm(a, sg.zeros(2)) end, "sgen.mm: expected two 2-D tensors, got 2x2 and 2")
    assert.has_error(function() sg.bmm(a, a) end,
      "sgen.bmm: expected two 3-D tensors (BxMxK and BxKxN), got 2x2 and 2x2")
    assert.has_error(function() sg.bmm(sg.zeros(2, 2, 2), sg.zeros(3, 2, 2)) end,
      "sgen.bmm: batch sizes differ (2x2x2 and 3x2x2)")
    assert.has_error(function() sg.outer(a, sg.zeros(2)) end, "sgen.outer: expected two 1-D tensors, got 2x2 and 2")
    assert.has_error(function() a:matmul(sg.zeros(2, 2, {dtype = "float64"})) end,
      "sgen.matmul: expected both operands to have the same dtype, got float32 and float64")
    assert.has_error(function() a:matmul(2) end, "sgen.matmul: argument 2 (other) expected a tensor, got number")
    assert.has_error(function() sg.mm(nil, a) end, "sgen.mm: argument 1 (input) expected a tensor, got nil")
  end)
  it("are differentiable", function()
    local a = f64({{1, 2}, {3, 4}}):requires_grad_()
    local b = f64({{5, 6}, {7, 8}}):requires_grad_()
    a:matmul(b):sum():backward()
    assert.same({{11, 15}, {11, 15}}, a.grad:totable()) -- ones * b^T
    assert.same({{4, 4}, {6, 6}}, b.grad:totable())    -- a^T * ones
    gradcheck(function(x, y) return x:matmul(y) end,
      {sg.randn(2, 3, 4, {dtype = "float64"}), sg.randn(4, 2, {dtype = "float64"})})
    gradcheck(function(x, y) return sg.bmm(x, y) end,
      {sg.randn(2, 3, 4, {dtype = "float64"}), sg.randn(2, 4, 2, {dtype = "float64"})})
    gradcheck(function(x, y) return sg.outer(x, y) end,
      {sg.randn(3, {dtype = "float64"}), sg.randn(2, {dtype = "float64"})})
    gradcheck(function(x, y) return x:mm(y) end,
      {sg.randn(3, 2, {dtype = "float64"}), sg.randn(2, 2, {dtype = "float64"})})
  end)
end)

describe("sgen.linalg", function()
  it("is a subtable of the module", function()
    assert.is_table(sg.linalg)
    assert.is_function(sg.linalg.cholesky)
    assert.equal(sg.core.linalg, sg.linalg)
  end)
  it("cholesky factors lower (default) or upper, batched", function()
    assert_close({2, 0, 1, math.sqrt(2)}, sg.linalg.cholesky(A))
    assert_close({2, 1, 0, math.sqrt(2)}, sg.linalg.cholesky(A, {upper = true}))
    local L = sg.linalg.cholesky(sg.stack({A, B}))
    assert.same({2, 2, 2}, L:shape())
    assert_close({2, 0, 1, 1.4142135624, 1.4142135624, 0, 0.7071067812, 1.2247448714}, L, 1e-9)
  end)
  it("logdet, inv and solve, batched", function()
    assert_close(math.log(8), sg.linalg.logdet(A))
    assert_close({2.0794415417, 1.0986122887}, sg.linalg.logdet(sg.stack({A, B})), 1e-9)
    assert_close({0.375, -0.25, -0.25, 0.5}, sg.linalg.inv(A))
    assert_close({0.375, -0.25, -0.25, 0.5, 2 / 3, -1 / 3, -1 / 3, 2 / 3}, sg.linalg.inv(sg.stack({A, B})))
    assert_close({-0.125, 0.75}, sg.linalg.solve(A, f64({1, 2})))
    assert_close({0.375, -0.25, -0.25, 0.5}, sg.linalg.solve(A, sg.eye(2, {dtype = "float64"})))
    -- b of a's shape minus the last dim: a batch of vectors (PyTorch's rule)
    assert_close({0.375, -0.25, -1 / 3, 2 / 3}, sg.linalg.solve(sg.stack({A, B}), sg.eye(2, {dtype = "float64"})))
    assert.is_true(sg.linalg.logdet(f64({{0, 1}, {1, 0}})):item() ~= sg.linalg.logdet(f64({{0, 1}, {1, 0}})):item())
  end)
  it("reject bad input", function()
    assert.has_error(function() sg.linalg.cholesky(f64({{1, 2}, {2, 1}})) end,
      "sgen.linalg.cholesky: the input is not positive definite: leading minor of order 2 is not positive")
    assert.has_error(function() sg.linalg.inv(sg.zeros(2, 3)) end,
      "sgen.linalg.inv: `input` has shape 2x3, expected square matrices (...xnxn): the last two dims differ")
    assert.has_error(function() sg.linalg.inv(sg.zeros(2, 2)) end,
      "sgen.linalg.inv: the input is singular: diagonal element 1 of its LU factorization is zero")
    assert.has_error(function() sg.linalg.solve(A, sg.zeros(3, {dtype = "float64"})) end,
      "sgen.linalg.solve: a has shape 2x2 and b has shape 3: expected b of shape (...x2xk) or (...x2)")
    assert.has_error(function() sg.linalg.cholesky(A, {uper = true}) end,
      "sgen.linalg.cholesky: unknown option 'uper' (expected upper)")
    assert.has_error(function() sg.linalg.cholesky(A, true) end,
      "sgen.linalg.cholesky: argument 2 expected an options table, got boolean")
    assert.has_error(function() sg.linalg.logdet(3) end,
      "sgen.linalg.logdet: argument 1 (A) expected a tensor, got number")
    assert.has_error(function() sg.linalg.solve(A) end,
      "sgen.linalg.solve: argument 2 (B) expected a tensor, got no value")
    assert.has_error(function() sg.linalg.inv(sg.tensor({{1, 2}, {3, 4}}, {dtype = "int64"})) end,
      "sgen.linalg.inv: `input` has dtype int64, expected float32 or float64")
    assert.has_error(function() sg.linalg.logdet(sg.zeros(3)) end,
      "sgen.linalg.logdet: `input` has 1 dims (3), expected at least 2 (...xnxn)")
  end)
  it("are differentiable", function()
    local w = A:clone():requires_grad_()
    sg.linalg.logdet(w):backward()
    assert_close({0.375, -0.25, -0.25, 0.5}, w.grad) -- d logdet / dA = inv(A)^T
    gradcheck(function(m) return sg.linalg.cholesky(spd(m)) end, {sg.randn(2, 3, 3, {dtype = "float64"})})
    gradcheck(function(m) return sg.linalg.cholesky(spd(m), {upper = true}) end, {sg.randn(3, 3, {dtype = "float64"})})
    gradcheck(function(m) return sg.linalg.logdet(spd(m)) end, {sg.randn(2, 3, 3, {dtype = "float64"})})
    gradcheck(function(m) return sg.linalg.inv(spd(m)) end, {sg.randn(3, 3, {dtype = "float64"})})
    gradcheck(function(m, b) return sg.linalg.solve(spd(m), b) end,
      {sg.randn(2, 3, 3, {dtype = "float64"}), sg.randn(2, 3, 2, {dtype = "float64"})})
  end)
end)
