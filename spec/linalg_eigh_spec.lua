-- sgen.linalg.eigh, slogdet, trace and diagonal: values against numpy
-- (spec/fixtures/linalg_eigh.safetensors, written by
-- tools/make_linalg_fixtures.py), batching, float32, errors, gradients.
local sg = require "sgen"
local H = require "spec.helpers"

local f64 = H.f64
local gradcheck = H.gradcheck

local function fx(name) return H.fixture("linalg_eigh")[name] end

-- max |A V - V diag(L)| and max |V^T V - I| over a stack
local function residuals(A, L, V)
  local n = A:size(-1)
  local r = (A:matmul(V) - V * L:unsqueeze(-2)):abs():max():item()
  local o = (V:transpose(-1, -2):matmul(V) - sg.eye(n, {dtype = V:dtype()})):abs():max():item()
  return r, o
end

-- (X + X^T) / 2
local function sym(x) return (x + x:transpose(-1, -2)) * 0.5 end

describe("sgen.linalg.eigh", function()
  it("eigenvalues match numpy (float64) and the eigenvectors diagonalize", function()
    for _, k in ipairs({{"eigh.a1", "eigh.w1"}, {"eigh.ab", "eigh.wb"}, {"eigh.deg", "eigh.wdeg"}}) do
      local A = fx(k[1])
      local L, V = sg.linalg.eigh(A)
      assert.equal("float64", L:dtype())
      assert.equal("float64", V:dtype())
      assert.same(A:shape(), V:shape())
      H.assert_close(L, fx(k[2]), 1e-10, k[1] .. " eigenvalues")
      local r, o = residuals(A, L, V)
      assert.is_true(r < 1e-10, k[1] .. " A V - V diag(L): " .. r)
      assert.is_true(o < 1e-10, k[1] .. " V^T V - I: " .. o)
    end
  end)
  it("eigenvalues are ascending; float32 within 1e-4", function()
    local A = fx("eigh.ab"):float()
    local L, V = sg.linalg.eigh(A)
    assert.equal("float32", L:dtype())
    assert.equal("float32", V:dtype())
    H.assert_close(L, fx("eigh.wb"), 1e-4, "float32 eigenvalues")
    local r, o = residuals(A, L, V)
    assert.is_true(r < 1e-4 and o < 1e-4, "float32 residuals " .. r .. " " .. o)
    local Ld = sg.linalg.eigh(fx("eigh.deg"))
    for i = 1, 4 do assert.is_true(Ld[i]:item() <= Ld[i + 1]:item()) end
  end)
  it("batches over any leading dims like a loop over the matrices", function()
    local ab = fx("eigh.ab")
    local A = sg.stack({ab, ab * 2}) -- 2x3x4x4
    local L, V = sg.linalg.eigh(A)
    assert.same({2, 3, 4}, L:shape())
    assert.same({2, 3, 4, 4}, V:shape())
    for i = 1, 2 do
      for j = 1, 3 do
        local l1, v1 = sg.linalg.eigh(A[i][j])
        H.assert_equal_tensors(L[i][j], l1, "eigenvalues of element " .. i .. "," .. j)
        -- the same matrix alone gives the same numbers (the sign of a column too)
        H.assert_equal_tensors(V[i][j], v1, "eigenvectors of element " .. i .. "," .. j)
      end
    end
    -- 1x1, 0-sized batches
    local l1, v1 = sg.linalg.eigh(f64({{{-3}}}))
    assert.same({{-3}}, l1:totable())
    assert.same({{{1}}}, v1:abs():totable())
    local l0, v0 = sg.linalg.eigh(sg.zeros(0, 3, 3))
    assert.same({0, 3}, l0:shape())
    assert.same({0, 3, 3}, v0:shape())
  end)
  it("reads only the lower triangle and takes any strides", function()
    local A = fx("eigh.a1")
    -- upper triangle replaced by other numbers: same result
    local low = sg.tensor(A:totable(), {dtype = "float64"})
    local t = low:totable()
    for i = 1, 5 do for j = i + 1, 5 do t[i][j] = 100 * i + j end end
    local L1, V1 = sg.linalg.eigh(f64(t))
    local L0, V0 = sg.linalg.eigh(A)
    H.assert_equal_tensors(L1, L0, "eigenvalues")
    H.assert_equal_tensors(V1, V0, "eigenvectors")
    -- a transposed (non-contiguous) view of a symmetric matrix
    local Lt = sg.linalg.eigh(A:transpose(1, 2))
    H.assert_close(Lt, fx("eigh.w1"), 1e-10, "transposed view")
  end)
  it("is deterministic", function()
    local A = sg.stack({fx("eigh.a1"), fx("eigh.deg")})
    local L1, V1 = sg.linalg.eigh(A)
    for _ = 1, 3 do
      local L2, V2 = sg.linalg.eigh(A)
      H.assert_equal_tensors(L2, L1, "eigenvalues")
      H.assert_equal_tensors(V2, V1, "eigenvectors")
    end
  end)
  it("rejects bad input with clear errors", function()
    assert.has_error(function() sg.linalg.eigh(sg.zeros(2, 3)) end,
      "sgen.linalg.eigh: `input` has shape 2x3, expected square matrices (...xnxn): the last two dims differ")
    assert.has_error(function() sg.linalg.eigh(sg.zeros(3)) end,
      "sgen.linalg.eigh: `input` has 1 dims (3), expected at least 2 (...xnxn)")
    assert.has_error(function() sg.linalg.eigh(sg.zeros(2, 2, {dtype = "int64"})) end,
      "sgen.linalg.eigh: `input` has dtype int64, expected float32 or float64")
    assert.has_error(function() sg.linalg.eigh({{1}}) end,
      "sgen.linalg.eigh: argument 1 (A) expected a tensor, got table")
    local b = sg.zeros(5, 2, 2)
    b[4]:fill_(0 / 0)
    assert.has_error(function() sg.linalg.eigh(b) end,
      "sgen.linalg.eigh: input contains NaN or Inf (batch element 3)")
    assert.has_error(function() sg.linalg.eigh(f64({{1, 0}, {math.huge, 1}})) end,
      "sgen.linalg.eigh: input contains NaN or Inf")
    assert.has_error(function() sg.linalg.eigh(f64({{1, -math.huge}, {0, 1}})) end,
      "sgen.linalg.eigh: input contains NaN or Inf")
  end)
end)

describe("sgen.linalg.eigh gradients", function()
  it("of the eigenvalues sum to the identity and a top eigenvalue gives v v^T", function()
    local A = fx("eigh.a1"):clone():requires_grad_()
    local L = sg.linalg.eigh(A)
    L:sum():backward()
    H.assert_close(A.grad, sg.eye(5, {dtype = "float64"}), 1e-12, "d trace / dA")
    A.grad = nil
    local L2, V2 = sg.linalg.eigh(A)
    L2[5]:backward()
    local v = V2:select(2, 5):detach()
    H.assert_close(A.grad, sg.outer(v, v), 1e-12, "d lambda_max / dA")
  end)
  it("pass gradcheck on symmetrized inputs (eigenvalues, eigenvectors, both, batched)", function()
    sg.manual_seed(7)
    local vals = function(x) local L = sg.linalg.eigh(sym(x)); return L end
    local vecs = function(x) local _, V = sg.linalg.eigh(sym(x)); return V * V end
    local both = function(x)
      local L, V = sg.linalg.eigh(sym(x))
      return sg.cat({L:reshape(-1), (V * V):reshape(-1) * 3}, 1)
    end
    gradcheck(vals, {sg.randn(4, 4, {dtype = "float64"})})
    gradcheck(vecs, {sg.randn(4, 4, {dtype = "float64"})})
    gradcheck(both, {sg.randn(4, 4, {dtype = "float64"})})
    gradcheck(both, {sg.randn(2, 3, 3, {dtype = "float64"})})
    -- a loss of both outputs through backward
    local x = sg.randn(3, 3, {dtype = "float64"}):requires_grad_()
    gradcheck(function(m)
      local L, V = sg.linalg.eigh(sym(m))
      return (L * L):sum() + (V * V * sg.arange(1, 4, {dtype = "float64"})):sum()
    end, {x})
  end)
  it("say clearly that they are first order only", function()
    local x = f64({{2, 1}, {1, 3}}):requires_grad_()
    local L = sg.linalg.eigh(x)
    -- the engine refuses to build a gradient graph through eigh's backward
    assert.has_error(function() sg.grad({L:sum()}, {x}, {create_graph = true, retain_graph = true}) end,
      "sgen.backward of eigh: eigh: this op's backward is not differentiable (double backward / "
      .. "create_graph is not supported through it)")
    local g = sg.grad({L:sum()}, {x}) -- first order is fine
    H.assert_close(g[1], {1, 0, 0, 1}, 1e-12, "d trace / dx")
  end)
end)

describe("sgen.linalg.slogdet", function()
  it("sign and log|det| match numpy, batched", function()
    local s, l = sg.linalg.slogdet(fx("slogdet.a"))
    H.assert_close(s, fx("slogdet.sign"), 0, "sign")
    H.assert_close(l, fx("slogdet.logabs"), 1e-12, "logabsdet")
    local s1, l1 = sg.linalg.slogdet(fx("slogdet.a")[2])
    assert.same({}, s1:shape())
    assert.equal(-1, s1:item())
    H.assert_close(l1, fx("slogdet.logabs")[2]:item(), 1e-12, "single")
    local s32, l32 = sg.linalg.slogdet(fx("slogdet.a"):float())
    assert.equal("float32", s32:dtype())
    H.assert_close(s32, fx("slogdet.sign"), 0, "float32 sign")
    H.assert_close(l32, fx("slogdet.logabs"), 1e-5, "float32 logabsdet")
    -- det 0: sign 0, log|det| -inf (PyTorch's convention)
    local s0, l0 = sg.linalg.slogdet(f64({{1, 2}, {2, 4}}))
    assert.equal(0, s0:item())
    assert.equal(-math.huge, l0:item())
    -- agrees with logdet where det > 0
    local A = f64({{4, 2}, {2, 3}})
    assert.equal(sg.linalg.logdet(A):item(), select(2, sg.linalg.slogdet(A)):item())
  end)
  it("rejects bad input", function()
    assert.has_error(function() sg.linalg.slogdet(sg.zeros(2, 3)) end,
      "sgen.linalg.slogdet: `input` has shape 2x3, expected square matrices (...xnxn): the last two dims differ")
    assert.has_error(function() sg.linalg.slogdet(sg.zeros(3)) end,
      "sgen.linalg.slogdet: `input` has 1 dims (3), expected at least 2 (...xnxn)")
    assert.has_error(function() sg.linalg.slogdet(sg.zeros(2, 2, {dtype = "int64"})) end,
      "sgen.linalg.slogdet: `input` has dtype int64, expected float32 or float64")
  end)
  it("log|det| is differentiable twice (d/dA = A^-T), the sign is not differentiable", function()
    local A = f64({{0, 2}, {1, 1}}):requires_grad_() -- det -2
    local s, l = sg.linalg.slogdet(A)
    assert.is_nil(s.grad_fn)
    assert.equal("slogdet", l.grad_fn)
    l:backward()
    H.assert_close(A.grad, {-0.5, 0.5, 1, 0}, 1e-12, "inv(A)^T")
    sg.manual_seed(3)
    local function fn(m) local _, la = sg.linalg.slogdet(m); return la end
    local m = sg.randn(2, 3, 3, {dtype = "float64"}) + sg.eye(3, {dtype = "float64"}) * 2
    gradcheck(fn, {m})
    m:requires_grad_()
    assert.is_true(sg.gradgradcheck(fn, {m}))
  end)
end)

describe("sgen.linalg.trace and diagonal", function()
  it("trace sums the main diagonal of the last two dims", function()
    H.assert_close(sg.linalg.trace(fx("trace.a")), fx("trace.t"), 1e-12, "trace")
    assert.equal(5, sg.linalg.trace(f64({{1, 2}, {3, 4}})):item())
    assert.same({2}, sg.linalg.trace(fx("trace.a")):shape())
    assert.equal(0, sg.linalg.trace(sg.zeros(0, 3)):item())
    assert.has_error(function() sg.linalg.trace(sg.zeros(3)) end,
      "sgen.linalg.trace: `input` has 1 dims (3), expected at least 2 (...xnxm)")
  end)
  it("diagonal is a view of the diagonal, with offsets", function()
    local a = sg.arange(0, 12, {dtype = "float64"}):view(3, 4)
    assert.same({0, 5, 10}, sg.linalg.diagonal(a):totable())
    assert.same({1, 6, 11}, sg.linalg.diagonal(a, {offset = 1}):totable())
    assert.same({3}, sg.linalg.diagonal(a, {offset = 3}):totable())
    assert.same({0}, sg.linalg.diagonal(a, {offset = 4}):shape())
    assert.same({4, 9}, sg.linalg.diagonal(a, {offset = -1}):totable())
    assert.same({0}, sg.linalg.diagonal(a, {offset = -3}):shape())
    local b = sg.stack({a, a + 100})
    assert.same({{4, 9}, {104, 109}}, sg.linalg.diagonal(b, {offset = -1}):totable())
    assert.same({{0, 5, 10}, {100, 105, 110}}, sg.linalg.diagonal(b:transpose(2, 3)):totable())
    -- shares storage
    sg.linalg.diagonal(a):fill_(-1)
    assert.same({{-1, 1, 2, 3}, {4, -1, 6, 7}, {8, 9, -1, 11}}, a:totable())
    assert.has_error(function() sg.linalg.diagonal(a, {ofset = 1}) end,
      "sgen.linalg.diagonal: unknown option 'ofset' (expected offset)")
    assert.has_error(function() sg.linalg.diagonal(sg.zeros(3)) end,
      "sgen.linalg.diagonal: `input` has 1 dims (3), expected at least 2 (...xnxm)")
  end)
  it("are differentiable (twice)", function()
    sg.manual_seed(5)
    for _, off in ipairs({0, 1, 2, -1, -2, 5}) do
      local f = function(x) return sg.linalg.diagonal(x, {offset = off}) end
      gradcheck(f, {sg.randn(2, 3, 4, {dtype = "float64"})})
      local x = sg.randn(3, 4, {dtype = "float64"}):requires_grad_()
      assert.is_true(sg.gradgradcheck(function(m) return f(m) * f(m) end, {x}))
    end
    gradcheck(sg.linalg.trace, {sg.randn(2, 3, 3, {dtype = "float64"})})
    local x = f64({{1, 2}, {3, 4}}):requires_grad_()
    sg.linalg.trace(x):backward()
    assert.same({{1, 0}, {0, 1}}, x.grad:totable())
    local y = sg.randn(3, 3, {dtype = "float64"}):requires_grad_()
    assert.is_true(sg.gradgradcheck(function(m) return sg.linalg.trace(m * m) end, {y}))
  end)
end)
