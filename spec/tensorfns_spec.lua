-- Tensor functions of lua/sgen/tensorfns.lua: isnan isfinite all any cumsum
-- prod flip roll repeat_tensor tile lerp diag tril triu einsum. Values and
-- gradients against PyTorch (spec/fixtures/tensorfns.safetensors, written by
-- tools/make_tensorfns_fixtures.py), float64 gradient and double-backward
-- checks, dtypes, methods, views, errors.
local sg = require "sgen"
local H = require "spec.helpers"

local f64 = H.f64

local function fx() return H.fixture("tensorfns") end

-- sgen's form of each PyTorch call of the fixture script (1-based dims).
local calls = {
  cumsum = function(x) return x:cumsum(2) end,
  cumsum0 = function(x) return sg.cumsum(x, 1) end,
  prod_all = function(x) return x:prod() end,
  prod_zeros = function(x) return x:prod(2) end,
  prod_keep = function(x) return x:prod(1, {keepdim = true}) end,
  flip = function(x) return x:flip({1, 3}) end,
  roll = function(x) return x:roll({1, -2}, {1, 2}) end,
  roll_flat = function(x) return x:roll(2) end,
  ["repeat"] = function(x) return x:repeat_tensor(2, 1, 2) end,
  tile = function(x) return x:tile({2}) end,
  lerp = function(a, b, w) return a:lerp(b, w) end,
  lerp_scalar = function(a, b) return sg.lerp(a, b, 0.3) end,
  diag_vec = function(x) return x:diag(1) end,
  diag_mat = function(x) return sg.diag(x, -1) end,
  tril = function(x) return x:tril(-1) end,
  triu = function(x) return x:triu(1) end,
  ein_mm = function(a, b) return sg.einsum("ij,jk->ik", a, b) end,
  ein_bmm = function(a, b) return sg.einsum("bij,bjk->bik", a, b) end,
  ein_implicit = function(a, b) return sg.einsum("ij,jk", {a, b}) end,
  ein_trace = function(a) return sg.einsum("ii->", a) end,
  ein_diag = function(a) return sg.einsum("ii->i", a) end,
  ein_t = function(a) return sg.einsum("ij->ji", a) end,
  ein_outer = function(a, b) return sg.einsum("i,j->ij", a, b) end,
  ein_sum = function(a) return sg.einsum("ijk->kj", a) end,
  ein_inner = function(a, b) return sg.einsum("ij,ij->", a, b) end,
  ein_mix = function(a, b) return sg.einsum("bij,jk->bki", a, b) end,
}

-- input names of a case, in order (x; a, b, w; x1, x2)
local function inputs_of(case)
  local f = fx()
  for _, names in ipairs({{"x"}, {"a", "b", "w"}, {"x1", "x2"}}) do
    if f[case .. "." .. names[1]] then
      local out = {}
      for _, n in ipairs(names) do
        if f[case .. "." .. n] then out[#out + 1] = n end
      end
      return out
    end
  end
  error("no inputs for case " .. case)
end

describe("tensor functions against PyTorch (spec/fixtures/tensorfns.safetensors)", function()
  local names = {}
  for k in pairs(calls) do names[#names + 1] = k end
  table.sort(names)
  for _, case in ipairs(names) do
    it(case .. ": values and gradients (float64), values (float32)", function()
      local f = fx()
      local ins, vals = inputs_of(case), {}
      for i, n in ipairs(ins) do vals[i] = f[case .. "." .. n]:clone():requires_grad_() end
      local out = calls[case](table.unpack(vals))
      H.assert_close(out, f[case .. ".out"], 1e-12, case .. " out")
      assert.same(f[case .. ".out"]:shape(), out:shape())
      local g = sg.grad({(out * f[case .. ".r"]):sum()}, vals)
      for i, n in ipairs(ins) do
        H.assert_close(g[i], f[case .. ".grad_" .. n], 1e-12, case .. " grad_" .. n)
      end
      local f32 = {}
      for i, n in ipairs(ins) do f32[i] = f[case .. "." .. n]:float() end
      local o32 = calls[case](table.unpack(f32))
      assert.equal("float32", o32:dtype())
      H.assert_close(o32, f[case .. ".out"], 1e-4, case .. " float32 out")
    end)
  end

  it("isnan, isfinite, all, any give PyTorch's bool tensors", function()
    local f = fx()
    local t = f["isnan.x"]
    local got = {
      isnan = t:isnan(), isfinite = sg.isfinite(t), all_dim = t:all(2),
      any_dim = t:ne(1):any(1, {keepdim = true}), all = sg.all(t),
    }
    for k, v in pairs(got) do
      assert.equal("bool", v:dtype(), k)
      H.assert_equal_tensors(v, f[k .. ".out"], k)
    end
  end)
end)

describe("gradients: float64 finite differences and double backward", function()
  sg.manual_seed(7)
  local function d(...) return sg.randn(...):double() end
  local cases = {
    {"cumsum", function(x) return x:cumsum(-1) end, {d(3, 5)}},
    {"cumsum (dim 1, 9 long)", function(x) return x:cumsum(1) end, {d(9, 2)}},
    {"prod (dim)", function(x) return x:prod(2) end, {d(3, 5)}},
    {"prod with zeros", function(x) return x:prod(1) end,
      {f64({{0, 2, 3}, {4, 0, 6}, {1, 0.5, 0}})}},
    {"prod all with a zero", function(x) return x:prod() end, {f64({{1.5, 0, -2}, {3, 0.5, 1.2}})}},
    {"prod all with two zeros", function(x) return x:prod() end, {f64({{1.5, 0, -2}, {3, 0, 1.2}})}},
    {"flip", function(x) return x:flip(1, 2) end, {d(3, 4)}},
    {"roll", function(x) return x:roll({1, -2}, {1, 2}) end, {d(3, 4)}},
    {"roll flat", function(x) return x:roll(-4) end, {d(3, 4)}},
    {"repeat_tensor", function(x) return x:repeat_tensor(2, 1, 3) end, {d(3, 2)}},
    {"tile", function(x) return x:tile({2, 1, 2}) end, {d(3, 2)}},
    {"lerp", function(a, b, w) return sg.lerp(a, b, w) end, {d(2, 3), d(2, 3), d(3)}},
    {"diag vector", function(x) return x:diag(-2) end, {d(3)}},
    {"diag matrix", function(x) return x:diag(1) end, {d(3, 4)}},
    {"tril", function(x) return x:tril() end, {d(2, 3, 3)}},
    {"triu", function(x) return x:triu(-1) end, {d(3, 4)}},
    {"einsum matrix product", function(a, b) return sg.einsum("ij,jk->ik", a, b) end, {d(2, 3), d(3, 4)}},
    {"einsum batched", function(a, b) return sg.einsum("bij,bjk->bik", a, b) end, {d(2, 2, 3), d(2, 3, 4)}},
    {"einsum trace", function(a) return sg.einsum("ii", a) end, {d(3, 3)}},
    {"einsum diagonal + contraction", function(a, b) return sg.einsum("iij,kj->ki", a, b) end,
      {d(3, 3, 2), d(4, 2)}},
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      for _, t in ipairs(c[3]) do t:requires_grad_() end
      assert.is_true(sg.gradcheck(c[2], c[3], {eps = 1e-6, atol = 1e-6}))
      assert.is_true(sg.gradgradcheck(c[2], c[3], {eps = 1e-6, atol = 1e-6}))
    end)
  end

  it("prod's gradient with zeros is the product of the other entries", function()
    local x = f64({2, 0, 3, 0.5}):requires_grad_()
    x:prod():backward()
    assert.same({0, 3, 0, 0}, x.grad:totable())
    local y = f64({2, 0, 3, 0}):requires_grad_()
    y:prod():backward()
    assert.same({0, 0, 0, 0}, y.grad:totable())
  end)
end)

describe("dtypes, shapes and copies", function()
  it("cumsum and prod of integers and booleans accumulate in int64", function()
    local i = sg.tensor({{1, 2}, {3, 4}}, {dtype = "int64"})
    assert.equal("int64", i:cumsum(1):dtype())
    assert.same({{1, 2}, {4, 6}}, i:cumsum(1):totable())
    assert.equal(24, i:prod():item())
    local b = sg.tensor({true, false, true})
    assert.same({1, 1, 2}, b:cumsum(1):totable())
    assert.equal("int64", b:prod():dtype())
  end)

  it("empty and 0-dim inputs", function()
    assert.equal(1, sg.zeros(0):prod():item())
    assert.same({1, 1}, sg.zeros(2, 0):prod(2):totable())
    assert.same({0, 2}, sg.zeros(0, 2):cumsum(1):shape())
    assert.equal(5, sg.tensor(5.0):cumsum(1):item())
    assert.equal(5, sg.tensor(5.0):prod():item())
    assert.is_true(sg.zeros(0):all():item())
    assert.is_false(sg.zeros(0):any():item())
    assert.same({0, 3}, sg.zeros(0, 3):flip(1):shape())
    assert.same({0, 6}, sg.zeros(0, 3):repeat_tensor(1, 2):shape())
    assert.same({0, 3}, sg.ones(2, 3):repeat_tensor(0, 1):shape())
  end)

  it("results are copies, never views of the input", function()
    local x = sg.tensor({{1.0, 2}, {3, 4}})
    local outs = {x:flip(1):flip(1), x:roll(0), x:roll(2, 1), x:repeat_tensor(1, 1),
      x:tile({1}), x:cumsum(1), sg.einsum("ij->ji", x), sg.einsum("ii->i", x), x:diag(),
      x:tril(5), x:flip({})}
    for _, o in ipairs(outs) do o:fill_(0) end
    assert.same({{1, 2}, {3, 4}}, x:totable())
  end)

  it("x['repeat'] is repeat_tensor, and tile pads the repeats with leading 1s", function()
    local x = sg.tensor({{1.0, 2}})
    assert.same({{1, 2, 1, 2}, {1, 2, 1, 2}}, x["repeat"](x, 2, 2):totable())
    assert.same({{1, 2, 1, 2}}, x:tile({2}):totable())
    assert.same({{1, 2, 1, 2}}, sg.tile(x, 2):totable())
    assert.same({2, 1, 4}, x:repeat_tensor({2, 1, 2}):shape())
  end)

  it("isnan / isfinite of integers; all / any of several dims", function()
    local i = sg.tensor({1, 2}, {dtype = "int64"})
    assert.same({false, false}, i:isnan():totable())
    assert.same({true, true}, i:isfinite():totable())
    local t = sg.tensor({{{1.0, 0}, {1, 1}}, {{1, 1}, {1, 1}}})
    assert.same({false, true}, t:all({2, 3}):totable())
    assert.same({{{false}}}, t:all({keepdim = true}):totable())
    assert.same({{true, true}}, t:any(1):any(1, true):totable())
  end)

  it("tril / triu / diag write exact zeros next to inf and NaN (no 0 * inf)", function()
    local m = sg.tensor({{1, math.huge}, {0 / 0, 2}})
    local lo, up = m:tril():totable(), m:triu():totable()
    assert.equal(0, lo[1][2])
    assert.is_true(lo[2][1] ~= lo[2][1]) -- NaN kept
    assert.same({{1, math.huge}, {0, 2}}, up)
    assert.same({{math.huge, 0}, {0, 1}}, sg.tensor({math.huge, 1}):diag():totable())
  end)
end)

describe("errors", function()
  local x = sg.ones(2, 3)
  local cases = {
    {function() return x:cumsum(3) end, "sgen.cumsum: dim 3 out of range for a tensor with 2 dims"},
    {function() return x:cumsum() end, "sgen.cumsum: argument 2 (dim) is required"},
    {function() return sg.cumsum("x", 1) end, "sgen.cumsum: argument 1 (input) expected a tensor, got string"},
    {function() return x:prod({1, 2}) end, "sgen.prod: argument 2 (dim) expected an integer, got a table"},
    {function() return x:prod(1, {keep = true}) end, "sgen.prod: unknown option 'keep' (expected keepdim)"},
    {function() return x:all(0) end, "sgen.all: dim 0 out of range"},
    {function() return x:any({1, 1}) end, "sgen.any: dim 1 listed twice"},
    {function() return x:flip() end, "sgen.flip: no dims given"},
    {function() return x:flip({1, -2}) end, "sgen.flip: dim -2 listed twice"},
    {function() return x:flip(1.5) end, "sgen.flip: dims[1] expected an integer, got number 1.5"},
    {function() return x:roll({1, 2}) end, "sgen.roll: 2 shifts given without dims"},
    {function() return x:roll({1, 2}, 1) end, "sgen.roll: 2 shifts and 1 dims given"},
    {function() return x:repeat_tensor(2) end, "sgen.repeat_tensor: 1 repeats given for a 2-d tensor (2x3); expected at least 2"},
    {function() return x:repeat_tensor(2, -1) end, "sgen.repeat_tensor: repeats[2] = -1 is negative"},
    {function() return x:tile() end, "sgen.tile: no repeats given"},
    {function() return sg.lerp(x, sg.ones(2, 3, {dtype = "float64"}), 0.5) end,
      "sgen.lerp: input and end have dtypes float32 and float64"},
    {function() return sg.lerp(x, sg.ones(4), 0.5) end, "sgen.lerp: shapes 2x3, 4 and scalar cannot be broadcast"},
    {function() return sg.lerp(x, x, "a") end, "sgen.lerp: argument 3 (weight) expected a tensor, got string"},
    {function() return sg.ones(2, 2, 2):diag() end, "sgen.diag: expected a 1-d or 2-d tensor, got 3-d (2x2x2)"},
    {function() return sg.ones(3):tril() end, "sgen.tril: expected a tensor with at least 2 dims (...xnxm), got 1-d (3)"},
    {function() return x:triu(0.5) end, "sgen.triu: argument 2 (diagonal) expected an integer"},
    {function() return sg.einsum("ij,jk,kl->il", x, x, x) end, "sgen.einsum: 'ij,jk,kl->il': 3 operands given; one or two are supported"},
    {function() return sg.einsum("...ij->...ji", x) end, "ellipsis ('...') is not supported"},
    {function() return sg.einsum("ij,jk->ik", x) end, "has 2 input terms but 1 operand were given"},
    {function() return sg.einsum("ijk->i", x) end, "term 1 ('ijk') has 3 subscripts but operand 1 has 2 dims (2x3)"},
    {function() return sg.einsum("ij,ij->i", x, sg.ones(3, 2)) end, "subscript 'i' has sizes 2 and 3"},
    {function() return sg.einsum("ij->ik", x) end, "output subscript 'k' does not appear in the inputs"},
    {function() return sg.einsum("ij->ii", x) end, "output subscript 'i' appears twice"},
    {function() return sg.einsum("iii->i", sg.ones(2, 2, 2)) end, "subscript 'i' appears 3 times in operand 1"},
    {function() return sg.einsum("ii->i", x) end, "subscript 'i' has sizes 2 and 3"},
    {function() return sg.einsum("i1->i", x) end, "subscript '1' in term 1 ('i1') is not a letter"},
    {function() return sg.einsum(x, x) end, "sgen.einsum: argument 1 (equation) expected a string"},
    {function() return sg.einsum("ij,jk->ik", x, sg.ones(3, 2, {dtype = "float64"})) end,
      "operands have dtypes float32 and float64"},
  }
  for i, c in ipairs(cases) do
    it(string.format("%d: %s", i, c[2]), function()
      local e = H.error_message(c[1])
      assert.is_truthy(e:find(c[2], 1, true), "got: " .. tostring(e))
    end)
  end
end)
