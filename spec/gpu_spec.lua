-- The CUDA backend against the CPU (ARCHITECTURE.md §2 and §6; docs/gpu.md).
-- Every spec here carries the busted tag `gpu`:
--   * ctest's lua.* entries run busted with --exclude-tags=gpu, so none of
--     this runs on a machine without a GPU there;
--   * ctest's lua.gpu entry (tools/gpu_specs.sh) runs busted --tags=gpu over
--     spec/ and reports "skipped" when sg.cuda.is_available() is false;
--   * run directly without a GPU (busted spec/gpu_spec.lua), every test calls
--     pending("no CUDA device ...") instead of passing.
-- SGEN_GPU_SPEC_SELFTEST=1 runs everything with the CPU standing in for the
-- GPU (CPU against CPU): it checks the specs themselves on any machine.
-- SGEN_GPU_SPEC_STEPS overrides the 10,000 steps of the memory loop.
--
-- What is checked:
--   1. RNG streams: after sg.manual_seed, every random op gives bit for bit the
--      same numbers on both devices and advances the generator alike.
--   2. The parity walk: every function of sg (sgen.core), sg.F, sg.linalg and
--      sg.sparse, and the Tensor methods that are not also functions, is
--      listed below with a few argument sets (broadcasting, strided inputs,
--      options, float64, int64, large sizes). Each runs on the CPU and on the
--      GPU from the same inputs; outputs must agree (exactly for integer and
--      bool results, within a float tolerance otherwise), the GPU results
--      must live on the GPU, inputs changed in place (running statistics) must
--      agree after the call, and the gradients of a random projection of the
--      outputs with respect to every float input must agree; the cases marked
--      dd also compare second derivatives (double backward). A function of
--      sg that is neither walked nor listed in NOT_WALKED fails the walk.
--   3. The DIP network (models/unet_dip.lua, full size) with the same weights:
--      output, loss, parameter gradients and BatchNorm running statistics.
--   4. A 10,000-step training loop (MLP, Adam) whose device memory stays flat.
local sg = require "sgen"
local F = sg.F
local sparse = sg.sparse
local linalg = sg.linalg
local UNetDIP = require "models.unet_dip"

local SELFTEST = os.getenv("SGEN_GPU_SPEC_SELFTEST") == "1"
local DEV = SELFTEST and "cpu" or "cuda"
local DEV_NAME = SELFTEST and "cpu" or "cuda:0"
local AVAILABLE = SELFTEST or sg.cuda.is_available()
local REASON = AVAILABLE and "" or sg.cuda.unavailable_reason()
local NO_GPU = REASON:match("^no CUDA device") and REASON or ("no CUDA device (" .. REASON .. ")")

-- it() that becomes pending without a GPU.
local function gpu_it(name, fn)
  it(name, function()
    if not AVAILABLE then
      pending(NO_GPU)
      return
    end
    fn()
  end)
end

local function is_tensor(v) return getmetatable(v) == getmetatable(sg.core.zeros(0)) end
local function is_float(t) return t:dtype() == "float32" or t:dtype() == "float64" end
local function shape_str(t) return table.concat(t:shape(), "x") end

-- ---------------------------------------------------------------- comparison

-- b (on DEV, or on the CPU when host) against a (CPU): shape, dtype, device,
-- values (exact for integer and bool dtypes; |a - b| <= tol * (1 + max|a|)
-- for floats).
local function check_tensor(what, a, b, tol, host)
  assert(is_tensor(b), what .. ": the GPU result is a " .. type(b) .. ", not a tensor")
  assert.same(a:shape(), b:shape(), what .. ": shape")
  assert.equal(a:dtype(), b:dtype(), what .. ": dtype")
  assert.equal(host and "cpu" or DEV_NAME, b:device(), what .. ": device")
  a, b = a:detach(), b:detach():cpu()
  if a:numel() == 0 then return end
  if is_float(a) then
    if a:dtype() == "float64" then tol = math.min(tol, 1e-9) end
    local err = (a - b):abs():max():item()
    local scale = a:abs():max():item()
    if not (err <= tol * (1 + scale)) then
      error(string.format("%s: max |cpu - %s| = %.3g (max |cpu| = %.3g, %s %s), tolerance %.3g",
        what, DEV, err, scale, shape_str(a), a:dtype(), tol * (1 + scale)), 0)
    end
  else
    local differ = a:long():ne(b:long()):sum():item()
    if differ ~= 0 then
      error(string.format("%s: %d of %d entries differ (%s %s)", what, differ, a:numel(),
        shape_str(a), a:dtype()), 0)
    end
  end
end

-- Plain Lua values (numbers, booleans, nested tables of them).
local function check_value(what, a, b, tol)
  assert.equal(type(a), type(b), what .. ": type")
  if type(a) == "table" then
    assert.equal(#a, #b, what .. ": length")
    for i = 1, #a do check_value(what .. "[" .. i .. "]", a[i], b[i], tol) end
  elseif math.type(a) == "float" then
    if not (math.abs(a - b) <= tol * (1 + math.abs(a))) then
      error(string.format("%s: cpu %.9g, %s %.9g", what, a, DEV, b), 0)
    end
  else
    assert.equal(a, b, what)
  end
end

-- The results of a call as a flat list: tensors, lists of tensors (split,
-- chunk) and plain values.
local function flatten(list, v)
  if is_tensor(v) then
    list[#list + 1] = v
  elseif type(v) == "table" and is_tensor(v[1]) then
    for _, t in ipairs(v) do list[#list + 1] = t end
  else
    list[#list + 1] = {value = v}
  end
  return list
end

local function results(...)
  local out = {}
  local n = select("#", ...)
  for i = 1, n do flatten(out, (select(i, ...))) end
  return out
end

local function check_results(what, rc, rd, tol, host)
  assert.equal(#rc, #rd, what .. ": number of results")
  for i = 1, #rc do
    local w = string.format("%s: result %d", what, i)
    if is_tensor(rc[i]) then
      check_tensor(w, rc[i], rd[i], tol, host)
      assert.equal(rc[i]:needs_grad(), rd[i]:needs_grad(), w .. ": needs_grad")
    else
      assert(type(rd[i]) == "table" and not is_tensor(rd[i]), w .. ": expected a plain value")
      check_value(w, rc[i].value, rd[i].value, tol)
    end
  end
end

-- ---------------------------------------------------------------- inputs
-- Input specs, generated on the CPU from the seeded stream, then copied.

local function numel_of(shape)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  return n
end

local GEN = {
  randn = function(s) return sg.randn(s.shape, {dtype = s.dtype}) end,
  -- (0.5, 2.5): log, sqrt, rsqrt, pow bases, divisors
  pos = function(s) return sg.rand(s.shape, {dtype = s.dtype}) * 2 + 0.5 end,
  -- (-0.9, 0.9)
  unit = function(s) return sg.rand(s.shape, {dtype = s.dtype}) * 1.8 - 0.9 end,
  -- |x| >= 0.5: away from the kinks of abs, sign, relu, clamp, reciprocal
  away = function(s)
    local x = sg.randn(s.shape, {dtype = s.dtype})
    return x:sign() * (x:abs() + 0.5)
  end,
  -- distinct values with distinct magnitudes (sort, topk, max, projections)
  distinct = function(s)
    local n = numel_of(s.shape)
    local mag = (sg.randperm(n):to(s.dtype or "float32") - 0.75) * (1 / n)
    local sign = sg.rand(n):lt(0.5):to(s.dtype or "float32") * 2 - 1
    return (mag * sign):view(s.shape)
  end,
  -- int64 1..hi (1-based indices, class labels)
  index = function(s) return sg.randint(1, s.hi + 1, s.shape) end,
  -- int64 in [lo, hi)
  int = function(s) return sg.randint(s.lo, s.hi, s.shape) end,
  -- a permutation along dim (1-based), its first `take` entries: indices
  -- without repeats along that dim (scatter)
  perm = function(s)
    local idx = sg.rand(s.shape):argsort(s.dim)
    return idx:narrow(s.dim, 1, s.take or s.shape[s.dim]):contiguous()
  end,
  bool = function(s) return sg.rand(s.shape):lt(0.5) end,
  -- symmetric positive definite (batched): M Mᵀ + n I
  spd = function(s)
    local n = s.shape[#s.shape]
    local m = sg.randn(s.shape, {dtype = s.dtype})
    return m:matmul(m:transpose(-1, -2)) + sg.eye(n, {dtype = s.dtype}) * n
  end,
  -- probabilities in (0.1, 0.9)
  prob = function(s) return sg.rand(s.shape, {dtype = s.dtype}) * 0.8 + 0.1 end,
}

local function spec(kind, shape, o)
  o = o or {}
  o.kind, o.shape = kind, shape
  return o
end
local function R(shape, o) return spec("randn", shape, o) end
local function P(shape, o) return spec("pos", shape, o) end
local function U(shape, o) return spec("unit", shape, o) end
local function A(shape, o) return spec("away", shape, o) end
local function D(shape, o) return spec("distinct", shape, o) end
local function I(shape, hi) return spec("index", shape, {hi = hi}) end
local function INT(shape, lo, hi) return spec("int", shape, {lo = lo, hi = hi}) end
local function PERM(shape, dim, take) return spec("perm", shape, {dim = dim, take = take}) end
local function B(shape) return spec("bool", shape) end
local function SPD(shape, o) return spec("spd", shape, o) end
local function PR(shape, o) return spec("prob", shape, o) end
-- a float input that must not require grad (targets, running statistics)
local function NG(s) s.grad = false return s end
local function F64(s) s.dtype = "float64" return s end

-- ---------------------------------------------------------------- cases
-- CASES[name] = list of variants:
--   V(fn, inputs, opts): fn(inputs...) on each device;
--   C(fn, opts): fn(device) creates on that device.
-- opts: tol (float tolerance, default 1e-4), dd (compare double backward),
--   seed (sg.manual_seed(seed) before each device's call: random ops),
--   meta (compare shape, dtype and device only: empty), host (the results
--   are CPU values on both sides), nograd (no gradient comparison).
local function V(fn, inputs, o)
  o = o or {}
  o.fn, o.inputs = fn, inputs
  return o
end
local function C(fn, o)
  o = o or {}
  o.fn, o.inputs, o.create = fn, {}, true
  return o
end

local CASES = {}
local function case(name, ...) CASES[name] = {...} end

-- Elementwise unary functions: each as sg.f(x) on a strided view and on a
-- contiguous tensor larger than a few CUDA blocks (not a multiple of 4: the
-- vectorized loads' tail), and on float64.
local UNARY = {
  abs = A, ceil = R, cos = R, exp = R, expm1 = R, floor = R, log = P, log1p = P, neg = R,
  reciprocal = A, relu = A, round = R, rsqrt = P, sigmoid = R, sign = A, sin = R, softplus = R,
  sqrt = P, square = R, tanh = R,
}
local SMOOTH = {cos = true, exp = true, expm1 = true, log = true, log1p = true, reciprocal = true,
  rsqrt = true, sigmoid = true, sin = true, softplus = true, sqrt = true, square = true,
  tanh = true}
for name, gen in pairs(UNARY) do
  local f = sg[name]
  case(name,
    V(function(x) return f(x:transpose(1, 2)) end, {gen({5, 7, 3})}, {dd = SMOOTH[name]}),
    V(function(x) return f(x) end, {gen({100003})}),
    V(function(x) return f(x) end, {gen({4, 6}, {dtype = "float64"})}, {dd = SMOOTH[name]}))
end
case("logical_not",
  V(function(m) return sg.logical_not(m) end, {B({5, 9})}),
  V(function(x) return sg.logical_not(x) end, {INT({4, 4}, -2, 3)}))
case("leaky_relu",
  V(function(x) return sg.leaky_relu(x, 0.2) end, {A({4, 5, 6})}),
  V(function(x) return sg.leaky_relu(x) end, {A({1000})}))
case("clamp",
  V(function(x) return sg.clamp(x, -0.5, 0.7) end, {R({6, 7})}),
  V(function(x) return sg.clamp(x, nil, 0.3) end, {R({6, 7})}),
  V(function(x) return sg.clamp(x, -0.2) end, {R({3, 4}, {dtype = "float64"})}))

-- Binary elementwise ops: same shapes, broadcasting both ways, a number,
-- a transposed operand, float64, int64.
local BINARY = {add = {R, R}, sub = {R, R}, mul = {R, R}, div = {R, A}, maximum = {D, D},
  minimum = {D, D}, pow = {P, R}}
for name, gens in pairs(BINARY) do
  local f = sg[name]
  local g1, g2 = gens[1], gens[2]
  local variants = {
    V(function(a, b) return f(a, b) end, {g1({4, 5}), g2({4, 5})}, {dd = true}),
    V(function(a, b) return f(a, b) end, {g1({3, 1, 5}), g2({4, 5})}, {dd = true}),
    V(function(a, b) return f(a:t(), b) end, {g1({6, 4}), g2({4, 1})}),
    V(function(a) return f(a, 1.5) end, {g1({7, 3})}),
    V(function(a, b) return f(a, b) end, {g1({5, 3}, {dtype = "float64"}), g2({5, 3}, {dtype = "float64"})}, {dd = true}),
    V(function(a, b) return f(a, b) end, {g1({65537}), g2({65537})}),
  }
  if name ~= "pow" and name ~= "div" then
    variants[#variants + 1] = V(function(a, b) return f(a, b) end, {INT({3, 4}, -5, 6), INT({4}, -5, 6)})
  end
  if name == "div" then
    variants[#variants + 1] = V(function(a) return f(3, a) end, {A({4, 4})}) -- number first
  end
  case(name, table.unpack(variants))
end
for _, name in ipairs({"eq", "ne", "lt", "le", "gt", "ge"}) do
  local f = sg[name]
  case(name,
    V(function(a, b) return f(a, b) end, {INT({4, 5}, 0, 3), INT({4, 5}, 0, 3)}),
    V(function(a, b) return f(a, b) end, {D({3, 1, 4}), D({5, 4})}),
    V(function(a) return f(a, 0) end, {R({9, 2})}))
end
case("logical_and",
  V(function(a, b) return sg.logical_and(a, b) end, {B({4, 6}), B({6})}),
  V(function(a, b) return sg.logical_and(a, b) end, {INT({3, 3}, 0, 2), R({3, 3})}))
case("logical_or",
  V(function(a, b) return sg.logical_or(a, b) end, {B({4, 6}), B({4, 1})}),
  V(function(a) return sg.logical_or(a, 0) end, {INT({5}, 0, 2)}))
case("where",
  V(function(c, x, y) return sg.where(c, x, y) end, {B({4, 5}), R({4, 5}), R({5})}, {dd = true}),
  V(function(c, x) return sg.where(c, x, 0.5) end, {B({3, 1}), R({3, 4})}),
  V(function(c, y) return sg.where(c, 2, y) end, {B({6}), R({6}, {dtype = "float64"})}))
case("masked_fill",
  V(function(x, m) return sg.masked_fill(x, m, -1.5) end, {R({4, 5}), B({4, 5})}),
  V(function(x, m) return sg.masked_fill(x, m, 7) end, {INT({3, 4}, 0, 9), B({4})}))

-- Reductions
local function red_cases(name, gen, extra)
  local f = sg[name]
  local v = {
    V(function(x) return f(x) end, {gen({5, 6})}),
    V(function(x) return f(x, 2) end, {gen({4, 5, 6})}),
    V(function(x) return f(x, {1, 3}, true) end, {gen({4, 5, 6})}),
    V(function(x) return f(x, -1) end, {gen({3, 50000})}),
    V(function(x) return f(x:transpose(1, 2), 1) end, {gen({6, 7})}),
    V(function(x) return f(x, 1) end, {gen({4, 3}, {dtype = "float64"})}),
  }
  for _, e in ipairs(extra or {}) do v[#v + 1] = e end
  case(name, table.unpack(v))
end
red_cases("sum", R, {
  V(function(m) return sg.sum(m) end, {B({100, 7})}),
  V(function(x) return sg.sum(x, 1) end, {INT({5, 3}, -9, 9)}),
  V(function(x) return sg.sum(x, 1) end, {R({1000003, 2})}),
})
red_cases("mean", R)
red_cases("logsumexp", R)
case("var",
  V(function(x) return sg.var(x) end, {R({5, 6})}, {dd = true}),
  V(function(x) return sg.var(x, 2, {unbiased = false}) end, {R({4, 5, 6})}),
  V(function(x) return sg.var(x, {1, 2}, {correction = 2, keepdim = true}) end, {R({4, 5, 6})}),
  V(function(x) return sg.var(x, 1) end, {R({20000, 3})}))
case("std",
  V(function(x) return sg.std(x) end, {R({5, 6})}, {dd = true}),
  V(function(x) return sg.std(x, 2, {keepdim = true}) end, {R({4, 5, 6}, {dtype = "float64"})}))
case("norm",
  V(function(x) return sg.norm(x) end, {R({5, 6})}, {dd = true}),
  V(function(x) return sg.norm(x, 1, 2) end, {A({4, 5})}),
  V(function(x) return sg.norm(x, math.huge, 1, true) end, {D({4, 5})}),
  V(function(x) return sg.norm(x, 3, {1, 2}) end, {R({3, 4, 5})}))
for _, name in ipairs({"max", "min"}) do
  local f = sg[name]
  case(name,
    V(function(x) return f(x) end, {D({5, 6})}),
    V(function(x) return f(x, 2) end, {D({4, 5, 6})}),
    V(function(x) return f(x, 1, true) end, {D({4, 5})}),
    V(function(x) return f(x, -1) end, {D({3, 20000})}),
    V(function(x, y) return f(x, y) end, {D({4, 5}), D({5})}),
    V(function(x) return f(x, 2) end, {INT({6, 9}, -100, 100)}))
end
for _, name in ipairs({"argmax", "argmin"}) do
  local f = sg[name]
  case(name,
    V(function(x) return f(x) end, {D({5, 6})}),
    V(function(x) return f(x, 2) end, {D({4, 5, 6})}),
    V(function(x) return f(x, 1, true) end, {D({7, 3})}),
    V(function(x) return f(x, 1) end, {D({30000, 2})}))
end

-- Views and copies
case("view", V(function(x) return sg.view(x, 3, -1) end, {R({2, 3, 4})}))
case("reshape",
  V(function(x) return sg.reshape(x, {4, 6}) end, {R({2, 3, 4})}),
  V(function(x) return sg.reshape(x:transpose(1, 3), -1) end, {R({2, 3, 4})}))
case("permute", V(function(x) return sg.permute(x, 3, 1, 2) + 0 end, {R({2, 3, 4})}))
case("transpose", V(function(x) return sg.transpose(x, 1, -1):contiguous() end, {R({2, 3, 4})}))
case("t", V(function(x) return sg.t(x) * 2 end, {R({3, 5})}))
case("narrow", V(function(x) return sg.narrow(x, 2, 2, 3) end, {R({4, 6})}))
case("select", V(function(x) return sg.select(x, 2, -1) end, {R({4, 6, 2})}))
case("expand",
  V(function(x) return sg.expand(x, 4, 3, 5) * 1 end, {R({3, 1})}),
  V(function(x) return sg.expand(x, {2, -1}):contiguous() end, {R({3})}))
case("expand_as", V(function(x, y) return sg.expand_as(x, y) + y end, {R({1, 5}), R({4, 5})}))
case("squeeze",
  V(function(x) return sg.squeeze(x) end, {R({1, 3, 1, 2})}),
  V(function(x) return sg.squeeze(x, 3) end, {R({1, 3, 1, 2})}))
case("unsqueeze", V(function(x) return sg.unsqueeze(x, -1) end, {R({3, 2})}))
case("flatten", V(function(x) return sg.flatten(x, 2, 3) end, {R({2, 3, 4, 5})}))
case("split",
  V(function(x) return sg.split(x, 2) end, {R({5, 3})}),
  V(function(x) return sg.split(x, {1, 3}, 2) end, {R({2, 4})}))
case("chunk", V(function(x) return sg.chunk(x, 3, 2) end, {R({2, 7})}))
case("clone", V(function(x) return sg.clone(x:t()) end, {R({3, 4})}))
case("contiguous", V(function(x) return sg.contiguous(x:permute(2, 1, 3)) end, {R({2, 3, 4})}))
case("detach", V(function(x) return sg.detach(x) * 2 + x end, {R({3, 4})}))
case("numel", V(function(x) return sg.numel(x) end, {R({3, 4, 5})}, {nograd = true}))
case("totable",
  V(function(x) return sg.totable(x) end, {R({2, 3})}, {nograd = true}),
  V(function(x) return x:totable() end, {INT({2, 2}, -3, 3)}))

-- Matrix products and linear algebra
case("matmul",
  V(function(a, b) return sg.matmul(a, b) end, {R({5, 7}), R({7, 3})}, {dd = true}),
  V(function(a, b) return sg.matmul(a, b) end, {R({7}), R({7})}),
  V(function(a, b) return sg.matmul(a, b) end, {R({4, 7}), R({7})}),
  V(function(a, b) return sg.matmul(a, b) end, {R({2, 1, 3, 6}), R({5, 6, 4})}),
  V(function(a, b) return sg.matmul(a:t(), b:t()) end, {R({7, 5}), R({3, 7})}),
  V(function(a, b) return sg.matmul(a, b) end, {R({65, 129}), R({129, 33})}),
  V(function(a, b) return sg.matmul(a, b) end, {R({4, 3}, {dtype = "float64"}), R({3, 2}, {dtype = "float64"})}, {dd = true}),
  V(function(a, b) return sg.matmul(a, b) end, {INT({3, 4}, -4, 5), INT({4, 2}, -4, 5)}))
case("mm", V(function(a, b) return sg.mm(a, b) end, {R({6, 4}), R({4, 5})}, {dd = true}))
case("bmm", V(function(a, b) return sg.bmm(a, b) end, {R({3, 4, 5}), R({3, 5, 2})}, {dd = true}))
case("outer", V(function(a, b) return sg.outer(a, b) end, {R({4}), R({6})}))
case("linalg.cholesky",
  V(function(a) return linalg.cholesky(a) end, {SPD({4, 4})}),
  V(function(a) return linalg.cholesky(a, {upper = true}) end, {SPD({3, 5, 5})}),
  V(function(a) return linalg.cholesky(a) end, {SPD({6, 6}, {dtype = "float64"})}, {dd = true}))
case("linalg.logdet",
  V(function(a) return linalg.logdet(a) end, {SPD({5, 5})}),
  V(function(a) return linalg.logdet(a) end, {SPD({2, 4, 4}, {dtype = "float64"})}, {dd = true}))
case("linalg.solve",
  V(function(a, b) return linalg.solve(a, b) end, {SPD({4, 4}), R({4, 3})}),
  V(function(a, b) return linalg.solve(a, b) end, {SPD({2, 5, 5}), R({2, 5})}),
  V(function(a, b) return linalg.solve(a, b) end, {SPD({3, 3}, {dtype = "float64"}), R({3, 2}, {dtype = "float64"})}, {dd = true}))
case("linalg.inv",
  V(function(a) return linalg.inv(a) end, {SPD({5, 5})}),
  V(function(a) return linalg.inv(a) end, {SPD({3, 4, 4}, {dtype = "float64"})}, {dd = true}))

-- Joining and indexing
case("cat",
  V(function(a, b) return sg.cat({a, b}) end, {R({2, 3}), R({4, 3})}),
  V(function(a, b, c) return sg.cat({a, b:t(), c}, 2) end, {R({3, 1}), R({2, 3}), R({3, 4})}),
  V(function(a, b) return sg.cat({a, b}, 1) end, {INT({2, 2}, 0, 9), INT({1, 2}, 0, 9)}))
case("stack",
  V(function(a, b) return sg.stack({a, b}) end, {R({2, 3}), R({2, 3})}),
  V(function(a, b) return sg.stack({a, b}, 3) end, {R({2, 3}), R({2, 3})}))
case("gather",
  V(function(x, i) return sg.gather(x, 2, i) end, {R({4, 6}), I({4, 9}, 6)}),
  V(function(x, i) return sg.gather(x, 1, i) end, {R({5, 3, 2}), I({2, 3, 2}, 5)}))
case("scatter",
  V(function(x, i, s) return sg.scatter(x, 2, i, s) end, {R({4, 6}), PERM({4, 6}, 2, 3), R({4, 3})}),
  V(function(x, i) return sg.scatter(x, 1, i, 2.5) end, {R({5, 3}), PERM({5, 3}, 1, 2)}))
case("scatter_add",
  V(function(x, i, s) return sg.scatter_add(x, 2, i, s) end, {R({4, 6}), I({4, 10}, 6), R({4, 10})}),
  V(function(x, i, s) return sg.scatter_add(x, 1, i, s) end, {R({3, 5}), I({50, 5}, 3), R({50, 5})}))
case("index_select",
  V(function(x, i) return sg.index_select(x, 1, i) end, {R({5, 3}), I({8}, 5)}),
  V(function(x) return sg.index_select(x, 2, {3, 1, 3}) end, {R({2, 4, 2})}))
case("topk",
  V(function(x) return sg.topk(x, 3) end, {D({4, 9})}),
  V(function(x) return sg.topk(x, 2, 1, {largest = false}) end, {D({6, 5})}),
  V(function(x) return sg.topk(x, 50) end, {D({2, 10000})}),
  V(function(x) return sg.topk((x * 480):long(), 4, 2) end, {D({3, 40})}))
case("sort",
  V(function(x) return sg.sort(x) end, {D({4, 9})}),
  V(function(x) return sg.sort(x, 1, {descending = true}) end, {D({6, 5})}),
  V(function(x) return sg.sort(x) end, {D({3000})}),
  V(function(x) return sg.sort(x, {stable = true}) end, {INT({3, 50}, 0, 5)}))
case("argsort",
  V(function(x) return sg.argsort(x) end, {D({4, 9})}),
  V(function(x) return sg.argsort(x, 1, {descending = true}) end, {D({700, 3})}))

-- Creation (on each device)
case("tensor",
  C(function(dev) return sg.tensor({{1, 2.5}, {-3, 4}}, {device = dev}) end),
  C(function(dev) return sg.tensor({true, false, true}, {device = dev}) end),
  C(function(dev) return sg.tensor({2 ^ 40, -3}, {dtype = "int64", device = dev}) end))
case("zeros", C(function(dev) return sg.zeros(2, 3, {device = dev}) end),
  C(function(dev) return sg.zeros({4}, {dtype = "int64", device = dev}) end))
case("ones", C(function(dev) return sg.ones(3, 2, {device = dev, dtype = "float64"}) end),
  C(function(dev) return sg.ones({5}, {dtype = "bool", device = dev}) end))
case("full", C(function(dev) return sg.full({2, 3}, -7.25, {device = dev}) end),
  C(function(dev) return sg.full({3}, true, {device = dev}) end))
case("empty", C(function(dev) return sg.empty(3, 4, {device = dev}) end, {meta = true}))
case("arange", C(function(dev) return sg.arange(1, 10, 3, {device = dev}) end),
  C(function(dev) return sg.arange(0, 1, 0.125, {device = dev}) end))
case("linspace", C(function(dev) return sg.linspace(-1, 1, 9, {device = dev}) end))
case("eye", C(function(dev) return sg.eye(3, 4, {device = dev}) end))
case("zeros_like", V(function(x) return sg.zeros_like(x) end, {R({2, 3})}, {nograd = true}))
case("ones_like", V(function(x) return sg.ones_like(x, {dtype = "int64"}) end, {R({2, 3})}))
case("full_like", V(function(x) return sg.full_like(x, 3.5) end, {R({4})}, {nograd = true}))
case("empty_like", V(function(x) return sg.empty_like(x) end, {R({2, 5})}, {meta = true, nograd = true}))

-- Random numbers (their streams are also compared bit for bit below)
case("rand", C(function(dev) return sg.rand(1000, {device = dev}) end, {seed = 11}))
case("randn", C(function(dev) return sg.randn(3, 333, {device = dev}) end, {seed = 12}))
case("rand_like", V(function(x) return sg.rand_like(x) end, {R({7, 9})}, {seed = 13, nograd = true}))
case("randn_like", V(function(x) return sg.randn_like(x) end, {R({7, 9})}, {seed = 14, nograd = true}))
case("randint", C(function(dev) return sg.randint(-5, 17, {100}, {device = dev}) end, {seed = 15}))
case("randperm", C(function(dev) return sg.randperm(1000, {device = dev}) end, {seed = 16}))
case("normal", C(function(dev) return sg.normal(2, 0.5, {10, 10}, {device = dev}) end, {seed = 17}))
case("bernoulli",
  V(function(p) return sg.bernoulli(p) end, {PR({20, 30})}, {seed = 18, nograd = true}),
  C(function(dev) return sg.bernoulli(0.3, {500}, {dtype = "bool", device = dev}) end, {seed = 19}))
case("dropout",
  V(function(x) return sg.dropout(x, {p = 0.3}) end, {R({40, 50})}, {seed = 20, dd = true}),
  V(function(x) return sg.dropout(x, {p = 0.5, training = false}) end, {R({4, 5})}))

-- Autograd entry points
case("no_grad", V(function(x) return sg.no_grad(function() return x * 2 end) end, {R({3})}))
case("enable_grad", V(function(x)
  return sg.no_grad(function() return sg.enable_grad(function() return x * x end) end)
end, {R({3})}))
case("backward", V(function(x)
  -- the walk itself compares the .grad fields that backward() accumulates;
  -- here, sg.backward with explicit gradients on two outputs
  local y1, y2 = x * x, x:sin()
  sg.backward({y1, y2}, {sg.ones_like(y1), sg.ones_like(y2) * 2})
  return x.grad:clone()
end, {R({5})}, {nograd = true}))
case("grad", V(function(x)
  local g = sg.grad({(x * x * x):sum()}, {x}, {create_graph = true})[1]
  return g, sg.grad({g:sum()}, {x})[1]
end, {R({6})}, {nograd = true}))

-- Files: a device tensor written, read back on the CPU
local TMP = os.tmpname()
case("save", C(function(dev)
  local t = sg.arange(0, 12, 1, {device = dev}):float():view(3, 4) / 7
  sg.save(TMP, {t = t, i = sg.arange(5, {device = dev})})
  local back = sg.load(TMP)
  return back.t, back.i
end, {host = true}))
case("load", C(function(dev)
  sg.save(TMP, {x = sg.linspace(0, 1, 6, {device = dev})})
  return sg.load(TMP).x
end, {host = true}))
case("png_write", C(function(dev)
  local img = sg.linspace(0, 1, 3 * 5 * 4, {device = dev}):view(3, 5, 4)
  sg.core.png_write(TMP .. ".png", img)
  return sg.core.png_read(TMP .. ".png")
end, {host = true}))
case("png_read", C(function(dev)
  sg.core.png_write(TMP .. ".png", sg.full({1, 2, 2}, 0.5, {device = dev}))
  return sg.core.png_read(TMP .. ".png")
end, {host = true}))

-- Neural-network ops (sg.F and sg)
case("conv2d",
  V(function(x, w, b) return F.conv2d(x, w, b, {padding = 1}) end, {R({2, 3, 8, 8}), R({4, 3, 3, 3}), R({4})}, {dd = true}),
  V(function(x, w) return F.conv2d(x, w, nil, {stride = 2, padding = {1, 2}}) end, {R({2, 3, 9, 10}), R({5, 3, 4, 3})}),
  V(function(x, w) return F.conv2d(x, w, nil, {dilation = 2, padding = 2}) end, {R({1, 2, 9, 9}), R({3, 2, 3, 3})}),
  V(function(x, w, b) return F.conv2d(x, w, b, {groups = 2, padding = 1}) end, {R({2, 4, 6, 6}), R({6, 2, 3, 3}), R({6})}),
  V(function(x, w) return F.conv2d(x, w) end, {R({3, 16, 5, 5}), R({8, 16, 1, 1})}),
  V(function(x, w) return F.conv2d(x, w, nil, {padding = 1}) end, {R({1, 2, 5, 5}, {dtype = "float64"}), R({2, 2, 3, 3}, {dtype = "float64"})}, {dd = true}),
  V(function(x, w) return F.conv2d(x, w, nil, {padding = 1}) end, {R({4, 64, 16, 16}), R({64, 64, 3, 3})}, {tol = 3e-4}))
case("conv_transpose2d",
  V(function(x, w, b) return F.conv_transpose2d(x, w, b, {stride = 2, padding = 1}) end, {R({2, 4, 5, 5}), R({4, 3, 4, 4}), R({3})}, {dd = true}),
  V(function(x, w) return F.conv_transpose2d(x, w, nil, {stride = 2, padding = 1, output_padding = 1}) end, {R({1, 3, 4, 6}), R({3, 2, 3, 3})}),
  V(function(x, w) return F.conv_transpose2d(x, w, nil, {groups = 2, stride = 2}) end, {R({2, 4, 3, 3}), R({4, 3, 2, 2})}),
  V(function(x, w) return F.conv_transpose2d(x, w, nil, {dilation = 2}) end, {R({1, 2, 4, 4}), R({2, 2, 3, 3})}),
  V(function(z, w) return F.conv_transpose2d(z, w) end, {R({8, 100, 1, 1}), R({100, 32, 4, 4})}, {tol = 3e-4}))
case("linear",
  V(function(x, w, b) return F.linear(x, w, b) end, {R({5, 7}), R({3, 7}), R({3})}, {dd = true}),
  V(function(x, w) return F.linear(x, w) end, {R({2, 4, 7}), R({6, 7})}))
case("batch_norm",
  V(function(x, rm, rv, w, b) return F.batch_norm(x, rm, rv, w, b, {training = true, momentum = 0.2}) end,
    {R({4, 3, 5, 5}), NG(R({3})), NG(P({3})), P({3}), R({3})}, {dd = true}),
  V(function(x, rm, rv) return F.batch_norm(x, rm, rv, nil, nil, {training = false}) end,
    {R({4, 3, 5, 5}), NG(R({3})), NG(P({3}))}),
  V(function(x, w, b) return F.batch_norm(x, nil, nil, w, b, {training = true}) end, {R({16, 6}), P({6}), R({6})}),
  V(function(x, rm, rv) return F.batch_norm(x, rm, rv, nil, nil, {training = true}) end,
    {R({2, 8, 33, 31}), NG(R({8})), NG(P({8}))}))
case("instance_norm",
  V(function(x, w, b) return F.instance_norm(x, nil, nil, w, b) end, {R({2, 3, 6, 5}), P({3}), R({3})}, {dd = true}),
  V(function(x, rm, rv) return F.instance_norm(x, rm, rv, nil, nil, {momentum = 0.3}) end,
    {R({2, 3, 4, 4}), NG(R({3})), NG(P({3}))}))
case("layer_norm",
  V(function(x, w, b) return F.layer_norm(x, {5}, w, b) end, {R({4, 5}), P({5}), R({5})}, {dd = true}),
  V(function(x) return F.layer_norm(x, {3, 8}, nil, nil, {eps = 1e-3}) end, {R({2, 3, 8})}))
case("max_pool2d",
  V(function(x) return F.max_pool2d(x, 2) end, {D({2, 3, 8, 8})}),
  V(function(x) return F.max_pool2d(x, 3, {stride = 2, padding = 1, return_indices = true}) end, {D({2, 2, 9, 7})}),
  V(function(x) return F.max_pool2d(x, 2, {ceil_mode = true, dilation = 1}) end, {D({1, 2, 7, 7})}),
  V(function(x) return F.max_pool2d(x, 3, {dilation = 2}) end, {D({1, 1, 9, 9})}))
case("avg_pool2d",
  V(function(x) return F.avg_pool2d(x, 2) end, {R({2, 3, 8, 8})}, {dd = true}),
  V(function(x) return F.avg_pool2d(x, 3, {stride = 1, padding = 1, count_include_pad = false}) end, {R({1, 2, 5, 6})}),
  V(function(x) return F.avg_pool2d(x, 3, {stride = 2, ceil_mode = true}) end, {R({1, 2, 8, 8})}))
case("adaptive_avg_pool2d",
  V(function(x) return F.adaptive_avg_pool2d(x, {2, 3}) end, {R({2, 3, 7, 7})}),
  V(function(x) return F.adaptive_avg_pool2d(x, 1) end, {R({4, 8, 5, 5})}))
case("interpolate",
  V(function(x) return F.interpolate(x, {scale_factor = 2}) end, {R({2, 3, 4, 5})}),
  V(function(x) return F.interpolate(x, {scale_factor = 2, mode = "bilinear"}) end, {R({2, 3, 4, 5})}, {dd = true}),
  V(function(x) return F.interpolate(x, {size = {5, 7}, mode = "bilinear", align_corners = true}) end, {R({1, 2, 4, 4})}),
  V(function(x) return F.interpolate(x, {size = {5, 3}, mode = "bilinear"}) end, {R({1, 2, 7, 8})}),
  V(function(x) return F.interpolate(x, {size = 7}) end, {R({1, 2, 4, 5})}),
  V(function(x) return F.interpolate(x, {scale_factor = 2, mode = "bilinear"}) end, {R({1, 128, 32, 32})}))
case("pad",
  V(function(x) return F.pad(x, {1, 2, 3, 0}, {value = 1.5}) end, {R({2, 3, 4, 5})}),
  V(function(x) return F.pad(x, {1, 1, 1, 1}, {mode = "reflect"}) end, {R({2, 3, 4, 5})}, {dd = true}),
  V(function(x) return F.pad(x, {2, 1, 0, 2}, {mode = "replicate"}) end, {R({1, 2, 3, 4})}),
  V(function(x) return F.pad(x, {-1, 1}) end, {R({3, 5})}))
case("pixel_shuffle", V(function(x) return F.pixel_shuffle(x, 2) end, {R({2, 8, 3, 4})}))
case("unfold",
  V(function(x) return F.unfold(x, 3, {padding = 1}) end, {R({2, 3, 5, 6})}),
  V(function(x) return F.unfold(x, {2, 3}, {stride = 2, dilation = {1, 2}}) end, {R({1, 2, 7, 9})}))
case("fold",
  V(function(c) return F.fold(c, {5, 6}, 3, {padding = 1}) end, {R({2, 27, 30})}),
  V(function(c) return F.fold(c, {4, 4}, 2, {stride = 2}) end, {R({1, 8, 4})}))
case("softmax",
  V(function(x) return F.softmax(x, 2) end, {R({4, 6})}, {dd = true}),
  V(function(x) return F.softmax(x, 1) end, {R({5, 3, 2})}),
  V(function(x) return F.softmax(x, -1) end, {R({3, 5000})}))
case("log_softmax",
  V(function(x) return F.log_softmax(x, 2) end, {R({4, 6})}, {dd = true}),
  V(function(x) return F.log_softmax(x, 1) end, {R({7, 3})}),
  V(function(x) return F.log_softmax(x, -1) end, {R({2, 3000})}))
for _, name in ipairs({"mse_loss", "l1_loss"}) do
  local f = F[name]
  case(name,
    V(function(x, t) return f(x, t) end, {R({4, 5}), NG(R({4, 5}))}, {dd = name == "mse_loss"}),
    V(function(x, t) return f(x, t, {reduction = "sum"}) end, {R({3, 7}), R({3, 7})}),
    V(function(x, t) return f(x, t, {reduction = "none"}) end, {R({2, 3, 4}), NG(R({2, 3, 4}))}),
    V(function(x, t) return f(x, t) end, {R({100003}), NG(R({100003}))}))
end
case("binary_cross_entropy_with_logits",
  V(function(x, t) return F.binary_cross_entropy_with_logits(x, t) end, {R({6, 4}), NG(PR({6, 4}))}, {dd = true}),
  V(function(x, t, w, pw) return F.binary_cross_entropy_with_logits(x, t, {weight = w, pos_weight = pw, reduction = "sum"}) end,
    {R({5, 3}), NG(PR({5, 3})), NG(P({5, 1})), NG(P({3}))}),
  V(function(x, t) return F.binary_cross_entropy_with_logits(x, t, {reduction = "none"}) end, {R({64}), NG(PR({64}))}))
case("cross_entropy",
  V(function(x, y) return F.cross_entropy(x, y) end, {R({6, 5}), I({6}, 5)}, {dd = true}),
  V(function(x, y, w) return F.cross_entropy(x, y, {weight = w, reduction = "sum"}) end, {R({8, 4}), I({8}, 4), NG(P({4}))}),
  V(function(x, y) return F.cross_entropy(x, y, {label_smoothing = 0.1}) end, {R({2, 3, 4, 5}), I({2, 4, 5}, 3)}),
  V(function(x, y) return F.cross_entropy(x, y, {ignore_index = 2, reduction = "none"}) end, {R({10, 3}), I({10}, 3)}),
  V(function(x, y) return F.cross_entropy(x, y) end, {R({256, 1000}), I({256}, 1000)}))
case("nll_loss",
  V(function(x, y) return F.nll_loss(x, y) end, {R({6, 5}), I({6}, 5)}),
  V(function(x, y, w) return F.nll_loss(x, y, {weight = w, ignore_index = 1}) end, {R({9, 4}), I({9}, 4), NG(P({4}))}))
case("F.elu",
  V(function(x) return F.elu(x) end, {A({5, 6})}, {dd = true}),
  V(function(x) return F.elu(x, 0.5) end, {A({7})}))
case("F.silu", V(function(x) return F.silu(x) end, {R({5, 6})}, {dd = true}))
case("F.coding_rate",
  V(function(z) return F.coding_rate(z, 0.5) end, {R({12, 5})}),
  V(function(z) return F.coding_rate(z) end, {R({2, 4, 9}, {dtype = "float64"})}))
case("F.rate_reduction",
  V(function(z, zh, y) return (F.rate_reduction(z, zh, y, 0.5)) end, {R({12, 5}), R({12, 5}), I({12}, 3)}))

-- Sparsity
case("l0_project",
  V(function(x) return sg.l0_project(x, 5) end, {D({3, 4, 3, 3})}, {dd = true}),
  V(function(x) return sg.l0_project(x, 0.25) end, {D({2, 1000})}))
case("l0inf_project",
  V(function(x) return sg.l0inf_project(x, 2) end, {D({2, 6, 4, 5})}, {dd = true}),
  V(function(x) return sg.l0inf_project(x, 16) end, {D({2, 128, 8, 8})}),
  V(function(x) return sg.l0inf_project(x, 1, {dim = 3}) end, {D({3, 4, 5})}))
case("l0_mask", V(function(x) return sg.l0_mask(x, 7) end, {D({3, 5, 4})}))
case("l0inf_mask", V(function(x) return sg.l0inf_mask(x, 3, {dim = 2}) end, {D({2, 8, 3, 3})}))
case("soft_threshold",
  V(function(x) return sg.soft_threshold(x, 0.5) end, {R({5, 6})}),
  V(function(x, l) return sg.soft_threshold(x, l) end, {R({2, 3, 4}), P({3, 1})}))
case("hard_threshold", V(function(x) return sg.hard_threshold(x, 0.7) end, {R({5, 6})}))
case("sparse.l1_penalty", V(function(x) return sparse.l1_penalty(x) end, {A({4, 3, 2})}))
case("sparse.sparsity",
  V(function(x) return sparse.sparsity(sg.l0_project(x, 3)) end, {D({2, 10})}, {nograd = true}),
  V(function(x) return sparse.sparsity(sg.l0inf_project(x, 1), {dim = 2}) end, {D({2, 3, 2, 2})}, {nograd = true}))
case("sparse.needle_density", V(function(x) return sparse.needle_density(sg.l0inf_project(x, 2)) end, {D({2, 5, 3, 4})}))

-- Tensor methods that are not also sg functions
case("Tensor:to",
  V(function(x) return x:to("float64") end, {R({3, 4})}),
  V(function(x) return x:to({dtype = "int64"}) end, {R({3, 4})}),
  V(function(x, y) return x:to(y) end, {R({3}), INT({1}, 0, 2)}))
case("Tensor:float", V(function(x) return x:float() end, {INT({5}, -3, 3)}))
case("Tensor:double", V(function(x) return x:double() * 2 end, {R({5})}))
case("Tensor:long", V(function(x) return x:long() end, {R({5, 2})}))
case("Tensor:byte", V(function(x) return x:byte() end, {INT({6}, 0, 255)}))
case("Tensor:bool", V(function(x) return x:bool() end, {INT({6}, -1, 2)}))
case("Tensor:cpu", V(function(x) return x:cpu() end, {R({4})}, {host = true}))
case("Tensor:item",
  V(function(x) return x:sum():item() end, {R({4, 5})}, {nograd = true}),
  V(function(x) return x:max():item() end, {INT({9}, -50, 50)}))
case("Tensor:index", V(function(x) return x[2], x[-1][3] end, {R({3, 4})}))
case("Tensor:fill_", V(function(x) return x:detach():clone():fill_(3.25) end, {R({4, 3})}, {nograd = true}))
case("Tensor:zero_", V(function(x) return x:detach():clone():zero_() end, {R({4, 3})}, {nograd = true}))
case("Tensor:copy_",
  V(function(x, y) return x:detach():clone():copy_(y) end, {R({3, 4}), R({4})}, {nograd = true}),
  V(function(x, y) local z = x:detach():clone(); z:select(1, 2):copy_(y); return z end, {R({3, 4}), INT({4}, 0, 5)}, {nograd = true}))
case("Tensor:operators", V(function(a, b) return -a + b * 2 - a / b + a ^ 2, 3 - a, 2 / b end,
  {R({3, 4}), A({4})}, {dd = true}))
case("Tensor:len", V(function(x) return #x end, {R({6, 2})}, {nograd = true}))

-- Functions of sg that the walk does not call, and why.
local NOT_WALKED = {
  manual_seed = "RNG state: the RNG stream specs",
  initial_seed = "RNG state: the RNG stream specs",
  get_rng_state = "RNG state: the RNG stream specs",
  set_rng_state = "RNG state: the RNG stream specs",
  set_num_threads = "host threads, no device work",
  get_num_threads = "host threads, no device work",
  build_info = "a string",
  isatty = "a terminal query",
  monotonic = "a clock",
  memory_stats = "host memory counters (the device's: the memory-loop spec)",
  empty_cache = "host allocator cache (the device's: the memory-loop spec)",
  set_grad_enabled = "a host-side flag (no_grad/enable_grad are walked)",
  is_grad_enabled = "a host-side flag",
  gradcheck = "float64 finite differences on the CPU: refuses GPU inputs by design",
  gradgradcheck = "float64 finite differences on the CPU: refuses GPU inputs by design",
  idx_read = "reads a file into a CPU tensor (no device)",
  cifar10_read = "reads a file into CPU tensors (no device)",
}

-- Names of everything the walk must cover: every function of sgen.core,
-- sg.F, sg.linalg, sg.sparse and the Tensor methods; the same function
-- reached under two names needs one case.
local function inventory()
  local by_fn, names = {}, {}
  local function add(name, fn)
    if type(fn) ~= "function" then return end
    names[#names + 1] = name
    by_fn[fn] = by_fn[fn] or {}
    table.insert(by_fn[fn], name)
  end
  for k, v in pairs(sg.core) do add(k, v) end
  for k, v in pairs(F) do add("F." .. k, v) end
  for k, v in pairs(linalg) do add("linalg." .. k, v) end
  for k, v in pairs(sparse) do add("sparse." .. k, v) end
  local methods = getmetatable(sg.core.zeros(0)).__methods
  for k, v in pairs(methods) do add("Tensor:" .. k, v) end
  table.sort(names)
  return names, by_fn
end

local TENSOR_QUERIES = {data_ptr = true, device = true, dim = true, dtype = true, free = true,
  is_contiguous = true, is_freed = true, needs_grad = true, requires_grad = true,
  requires_grad_ = true, shape = true, size = true, stride = true, cuda = true}

-- ---------------------------------------------------------------- the walk

-- Ops computed by cuDNN / cuBLAS / cuSOLVER with their own summation orders
-- and algorithms (Winograd, FFT, split-K): a looser float32 tolerance.
-- Wrong kernels are off by O(1), not by 1e-4.
local LIBRARY_TOL = {conv2d = 5e-4, conv_transpose2d = 5e-4, linear = 2e-4, matmul = 2e-4,
  mm = 2e-4, bmm = 2e-4, ["linalg.cholesky"] = 2e-4, ["linalg.logdet"] = 2e-4,
  ["linalg.solve"] = 5e-4, ["linalg.inv"] = 5e-4, fold = 2e-4}

local function run_variant(name, vi, v)
  local what = string.format("%s #%d", name, vi)
  local seed = 1000 * vi + #name
  sg.manual_seed(seed)
  local cpu_in = {}
  for i, s in ipairs(v.inputs) do cpu_in[i] = GEN[s.kind](s) end
  local function prepare(dev)
    local ins = {}
    for i, x in ipairs(cpu_in) do
      local t = x:clone():to(dev)
      if is_float(t) and v.inputs[i].grad ~= false and not v.nograd_inputs then t:requires_grad_() end
      ins[i] = t
    end
    return ins
  end
  local ic, id = prepare("cpu"), prepare(DEV)
  local function call(ins, dev)
    if v.seed then sg.manual_seed(v.seed) end
    if v.create then return results(v.fn(dev)) end
    return results(v.fn(table.unpack(ins)))
  end
  local rc = call(ic, "cpu")
  local rd = call(id, DEV)
  if v.meta then
    assert.equal(#rc, #rd, what .. ": number of results")
    for i = 1, #rc do
      assert.same(rc[i]:shape(), rd[i]:shape(), what .. ": shape")
      assert.equal(rc[i]:dtype(), rd[i]:dtype(), what .. ": dtype")
      assert.equal(DEV_NAME, rd[i]:device(), what .. ": device")
    end
    return
  end
  local tol = v.tol or LIBRARY_TOL[name] or 1e-4
  check_results(what, rc, rd, tol, v.host)
  -- inputs changed in place (running statistics) agree
  for i = 1, #ic do check_tensor(what .. ": input " .. i .. " after the call", ic[i], id[i], tol) end
  if v.nograd or v.create then return end

  -- first derivatives of sum_i <w_i, out_i> over the float outputs that need grad
  local grad_in = {}
  for i, t in ipairs(ic) do if t:needs_grad() then grad_in[#grad_in + 1] = i end end
  if #grad_in == 0 then return end
  sg.manual_seed(seed + 7)
  local loss_c, loss_d
  for _, i in ipairs((function()
    local l = {}
    for j, o in ipairs(rc) do if is_tensor(o) and is_float(o) and o:needs_grad() then l[#l + 1] = j end end
    return l
  end)()) do
    local w = sg.randn(rc[i]:shape(), {dtype = rc[i]:dtype()})
    local lc, ld = (rc[i] * w):sum(), (rd[i] * w:to(DEV)):sum()
    loss_c = loss_c and loss_c + lc or lc
    loss_d = loss_d and loss_d + ld or ld
  end
  if loss_c == nil then return end
  local xc, xd = {}, {}
  for k, i in ipairs(grad_in) do xc[k], xd[k] = ic[i], id[i] end
  local gc, gd
  if v.dd then
    gc = sg.grad({loss_c}, xc, {create_graph = true, allow_unused = true})
    gd = sg.grad({loss_d}, xd, {create_graph = true, allow_unused = true})
  else
    loss_c:backward()
    loss_d:backward()
    gc, gd = {}, {}
    for k = 1, #xc do gc[k], gd[k] = xc[k].grad, xd[k].grad end
  end
  for k, i in ipairs(grad_in) do
    local w = string.format("%s: gradient of input %d", what, i)
    assert.equal(gc[k] == nil, gd[k] == nil, w .. ": present on one device only")
    if gc[k] then check_tensor(w, gc[k], gd[k], 2 * tol) end
  end
  if not v.dd then return end

  -- second derivatives of sum_k <u_k, grad_k>
  sg.manual_seed(seed + 11)
  local l2c, l2d
  for k = 1, #xc do
    if gc[k] and gc[k]:needs_grad() then
      local u = sg.randn(gc[k]:shape(), {dtype = gc[k]:dtype()})
      local tc, td = (gc[k] * u):sum(), (gd[k] * u:to(DEV)):sum()
      l2c = l2c and l2c + tc or tc
      l2d = l2d and l2d + td or td
    end
  end
  for k = 1, #xc do
    assert.equal(gc[k] ~= nil and gc[k]:needs_grad(), gd[k] ~= nil and gd[k]:needs_grad(),
      what .. ": gradient " .. k .. " is differentiable on one device only")
  end
  if l2c == nil then return end -- linear in its inputs: no second derivative
  local okc, g2c = pcall(sg.grad, {l2c}, xc, {allow_unused = true})
  local okd, g2d = pcall(sg.grad, {l2d}, xd, {allow_unused = true})
  assert.equal(okc, okd, what .. ": double backward fails on one device only: "
    .. tostring(okc and g2d or g2c))
  if not okc then return end
  for k, i in ipairs(grad_in) do
    local w = string.format("%s: second derivative, input %d", what, i)
    assert.equal(g2c[k] == nil, g2d[k] == nil, w .. ": present on one device only")
    if g2c[k] then check_tensor(w, g2c[k], g2d[k], 5 * tol) end
  end
end

-- ---------------------------------------------------------------- specs

describe("CUDA RNG streams equal the CPU's #gpu", function()
  -- Bitwise: the float bits of every element.
  local function bits(t)
    local fmt = t:dtype() == "float64" and "<d" or (t:dtype() == "float32" and "<f" or nil)
    local out = {}
    local flat = t:cpu():reshape(-1):totable()
    for i, x in ipairs(flat) do
      if type(x) == "boolean" then x = x and 1 or 0 end
      out[i] = fmt and string.pack(fmt, x) or x
    end
    return out
  end

  local function same_stream(what, make, seed)
    sg.manual_seed(seed)
    local a = make("cpu")
    local sa = sg.get_rng_state()
    sg.manual_seed(seed)
    local b = make(DEV)
    local sb = sg.get_rng_state()
    assert.equal(DEV_NAME, b:device(), what .. ": device")
    assert.same(a:shape(), b:shape(), what .. ": shape")
    assert.equal(a:dtype(), b:dtype(), what .. ": dtype")
    local ba, bb = bits(a), bits(b)
    local differ, first = 0, nil
    for i = 1, #ba do
      if ba[i] ~= bb[i] then
        differ = differ + 1
        first = first or i
      end
    end
    if differ > 0 then
      error(string.format("%s (seed %d): %d of %d elements differ, the first at %d", what, seed,
        differ, #ba, first), 0)
    end
    assert.same(sa, sb, what .. ": generator state after the call")
  end

  gpu_it("rand, randn, normal: float32 and float64, odd sizes, large sizes", function()
    for _, seed in ipairs({0, 1, 42, -7, 2 ^ 40 + 3}) do
      for _, n in ipairs({1, 3, 4, 5, 1023, 1000003}) do
        same_stream("rand(" .. n .. ")", function(d) return sg.rand(n, {device = d}) end, seed)
        same_stream("randn(" .. n .. ")", function(d) return sg.randn(n, {device = d}) end, seed)
      end
      same_stream("rand float64", function(d) return sg.rand(7, 9, {dtype = "float64", device = d}) end, seed)
      same_stream("randn float64", function(d) return sg.randn(1001, {dtype = "float64", device = d}) end, seed)
      same_stream("normal", function(d) return sg.normal(3, 0.25, {33, 17}, {device = d}) end, seed)
      same_stream("0-dim randn", function(d) return sg.randn({}, {device = d}) end, seed)
    end
  end)

  gpu_it("randint, randperm, bernoulli, rand_like, randn_like", function()
    for _, seed in ipairs({0, 5, 123456789}) do
      same_stream("randint", function(d) return sg.randint(-3, 1000, {4097}, {device = d}) end, seed)
      same_stream("randint uint8", function(d) return sg.randint(6, {64}, {dtype = "uint8", device = d}) end, seed)
      same_stream("randperm", function(d) return sg.randperm(5000, {device = d}) end, seed)
      same_stream("bernoulli(p)", function(d) return sg.bernoulli(0.25, {999}, {device = d}) end, seed)
      same_stream("bernoulli bool", function(d) return sg.bernoulli(0.5, {77}, {dtype = "bool", device = d}) end, seed)
      local p = sg.rand(40, 25)
      same_stream("bernoulli(tensor)", function(d) return sg.bernoulli(p:to(d)) end, seed)
      local base = sg.zeros(13, 11)
      same_stream("rand_like", function(d) return sg.rand_like(base:to(d)) end, seed)
      same_stream("randn_like", function(d) return base:to(d):randn_like() end, seed)
    end
  end)

  gpu_it("dropout masks, and a sequence of calls from one seed", function()
    local x = sg.ones(5000)
    same_stream("dropout", function(d) return F.dropout(x:to(d), {p = 0.3}) end, 9)
    same_stream("a sequence", function(d)
      local a = sg.rand(3, {device = d})
      local b = sg.randn(1001, {device = d})
      local c = sg.randint(10, {5}, {device = d}):float()
      local e = F.dropout(sg.ones(17, {device = d}), {p = 0.5})
      return sg.cat({a, b, c, e})
    end, 2024)
    -- set_rng_state replays on the other device
    sg.manual_seed(77)
    sg.rand(10)
    local st = sg.get_rng_state()
    local a = sg.randn(100)
    sg.set_rng_state(st)
    local b = sg.randn(100, {device = DEV})
    assert.same(bits(a), bits(b))
  end)
end)

describe("CUDA parity walk over the Lua-visible ops #gpu", function()
  gpu_it("lists every function of sg, sg.F, sg.linalg, sg.sparse and the Tensor methods", function()
    local names, by_fn = inventory()
    local covered = {}
    for name in pairs(CASES) do covered[name] = true end
    local missing = {}
    for _, name in ipairs(names) do
      local short = name:match("^Tensor:(.*)$")
      local fn = (short and getmetatable(sg.core.zeros(0)).__methods[short])
        or (name:match("^F%.") and F[name:sub(3)])
        or (name:match("^linalg%.") and linalg[name:sub(8)])
        or (name:match("^sparse%.") and sparse[name:sub(8)])
        or sg.core[name]
      local ok = covered[name] or NOT_WALKED[name] or (short and TENSOR_QUERIES[short])
      for _, alias in ipairs(by_fn[fn] or {}) do
        ok = ok or covered[alias] or NOT_WALKED[alias]
      end
      -- a method that is also a function of the same name (x:add and sg.add)
      if short and (covered[short] or NOT_WALKED[short]) then ok = true end
      if not ok then missing[#missing + 1] = name end
    end
    assert.same({}, missing, "functions with no parity case and no entry in NOT_WALKED")
    for name in pairs(CASES) do
      if not name:match("^Tensor:") then
        local fn = (name:match("^F%.") and F[name:sub(3)])
          or (name:match("^linalg%.") and linalg[name:sub(8)])
          or (name:match("^sparse%.") and sparse[name:sub(8)])
          or sg.core[name]
        assert.equal("function", type(fn), "a case for '" .. name .. "', which is no function of sg")
      end
    end
  end)

  local names = {}
  for name in pairs(CASES) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    gpu_it(name, function()
      for vi, v in ipairs(CASES[name]) do run_variant(name, vi, v) end
    end)
  end

  gpu_it("TF32 off by default; on, matmul and conv2d stay close to float32", function()
    assert.is_false(sg.backends.allow_tf32)
    sg.manual_seed(3)
    local a, b = sg.randn(256, 512), sg.randn(512, 128)
    local x, w = sg.randn(2, 64, 16, 16), sg.randn(32, 64, 3, 3)
    local ref = a:matmul(b)
    local cref = F.conv2d(x, w, nil, {padding = 1})
    sg.backends.allow_tf32 = true
    local ok, err = pcall(function()
      local m = a:to(DEV):matmul(b:to(DEV)):cpu()
      local c = F.conv2d(x:to(DEV), w:to(DEV), nil, {padding = 1}):cpu()
      -- TF32 keeps 10 mantissa bits: relative error well under 1e-2
      assert.is_true(((m - ref):abs():max() / ref:abs():max()):item() < 1e-2)
      assert.is_true(((c - cref):abs():max() / cref:abs():max()):item() < 1e-2)
    end)
    sg.backends.allow_tf32 = false
    assert(ok, err)
  end)

  teardown(function()
    os.remove(TMP)
    os.remove(TMP .. ".png")
  end)
end)

describe("the DIP network on CUDA #gpu", function()
  local function compare_nets(cfg, size, tol)
    sg.manual_seed(31)
    local cpu_net = UNetDIP(cfg)
    local dev_net = UNetDIP(cfg)
    dev_net:load_state_dict(cpu_net:state_dict())
    dev_net:to(DEV)
    local z = sg.rand(1, 32, size, size) * 0.1
    local target = sg.rand(1, 3, size, size)
    local function step(net, dev)
      net:zero_grad()
      local out = net(z:to(dev))
      local loss = F.mse_loss(out, target:to(dev))
      loss:backward()
      return out, loss
    end
    local oc, lc = step(cpu_net, "cpu")
    local od, ld = step(dev_net, DEV)
    check_tensor("output (train mode)", oc, od, tol)
    check_tensor("loss", lc, ld, tol)
    local dev_params = {}
    for name, p in dev_net:named_parameters() do dev_params[name] = p end
    local n = 0
    for name, p in cpu_net:named_parameters() do
      check_tensor("gradient of " .. name, p.grad, dev_params[name].grad, 5 * tol)
      n = n + 1
    end
    assert.is_true(n > 0, "no parameters compared")
    -- running statistics after one training forward
    local sc, sd = cpu_net:state_dict(), dev_net:state_dict()
    for name, t in pairs(sc) do
      if name:match("running_") then check_tensor(name, t, sd[name], tol) end
    end
    -- eval mode: the running statistics in use
    cpu_net:eval()
    dev_net:eval()
    local ec = sg.no_grad(function() return cpu_net(z) end)
    local ed = sg.no_grad(function() return dev_net(z:to(DEV)) end)
    check_tensor("output (eval mode)", ec, ed, tol)
  end

  -- 128x128: the deepest BatchNorm sees 4x4 positions (at 64x64 only 2x2,
  -- whose batch statistics amplify rounding differences)
  gpu_it("full network (5 scales, 128 channels), 128x128: output, gradients, running stats", function()
    compare_nets({}, 128, 1e-3)
  end)

  gpu_it("odd size 97x97, 3 scales of 16 channels", function()
    compare_nets({channels = 16, scales = 3}, 97, 1e-3)
  end)
end)

describe("device memory over a 10,000-step training loop #gpu", function()
  local function stats()
    if DEV == "cpu" then
      local m = sg.memory_stats()
      return {allocated = m.live_bytes, reserved = m.live_bytes + m.cached_bytes}
    end
    local m = sg.cuda.memory_stats()
    return {allocated = m.allocated_bytes, reserved = m.reserved_bytes, allocs = m.num_device_allocs}
  end

  gpu_it("stays flat (MLP, Adam, batches made on the device)", function()
    local steps = tonumber(os.getenv("SGEN_GPU_SPEC_STEPS")) or 10000
    local every = math.max(1, steps // 10)
    local nn = sg.nn
    sg.manual_seed(5)
    local teacher = sg.randn(32, 10):to(DEV)
    local net = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
      nn.Linear(128, 10)):to(DEV)
    local opt = sg.optim.Adam(net:parameters(), {lr = 1e-3})
    local function step()
      local x = sg.randn(64, 32, {device = DEV})
      local y = x:matmul(teacher):argmax(2) -- labels from a fixed linear teacher
      local loss = F.cross_entropy(net(x), y)
      opt:zero_grad()
      loss:backward()
      opt:step()
      return loss
    end
    local first_loss = 0
    for _ = 1, 20 do first_loss = first_loss + step():item() / 20 end
    collectgarbage()
    collectgarbage()
    local base = stats()
    local points, peak = {}, base.allocated
    local last_loss = 0
    for i = 1, steps do
      do -- the step's tensors are garbage before a collection
        local loss = step()
        peak = math.max(peak, stats().allocated)
        if i > steps - 20 then last_loss = last_loss + loss:item() / 20 end
      end
      if i % every == 0 then
        collectgarbage()
        collectgarbage()
        points[#points + 1] = stats()
      end
    end
    local trace = {}
    for k, p in ipairs(points) do
      trace[k] = string.format("%d:%d/%d", k * every, p.allocated, p.reserved)
    end
    local msg = "allocated/reserved bytes after a full collection every " .. every .. " steps: "
      .. table.concat(trace, " ") .. string.format(" (base %d/%d)", base.allocated, base.reserved)
    -- live memory after a full collection: exactly what it was
    for _, p in ipairs(points) do assert.equal(base.allocated, p.allocated, msg) end
    -- the cache does not grow
    local lastp = points[#points]
    assert.is_true(lastp.reserved <= math.max(base.reserved, points[1].reserved) + (1 << 20), msg)
    -- garbage between collections stays bounded (collection paced by bytes)
    assert.is_true(peak - base.allocated < 256 * 1024 * 1024, "peak " .. peak .. "; " .. msg)
    -- and the network learned something
    assert.is_true(last_loss < first_loss, string.format("loss %.4f -> %.4f", first_loss, last_loss))
  end)
end)
