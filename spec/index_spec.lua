-- Joining and indexing: sgen.cat, sgen.stack, gather, scatter, scatter_add,
-- index_select, topk, sort, argsort. Every index is 1-based: the int64
-- index tensors given to gather/scatter/index_select and the indices
-- returned by topk/sort/argsort.
local sg = require "sgen"
local H = require "spec.helpers"

local f64 = H.f64
local function long(data) return sg.tensor(data, {dtype = "int64"}) end
local gradcheck = H.gradcheck

describe("sgen.cat / sgen.stack", function()
  it("cat joins along an existing dim (default 1, negative from the end)", function()
    local a, b = f64({{1, 2}}), f64({{3, 4}})
    assert.same({{1, 2}, {3, 4}}, sg.cat({a, b}):totable())
    assert.same({{1, 2, 3, 4}}, sg.cat({a, b}, 2):totable())
    assert.same({{1, 2, 3, 4, 1, 2}}, sg.cat({a, b, a}, -1):totable())
    assert.same({1, 2, 3}, sg.cat({f64({1, 2}), sg.zeros(0, {dtype = "float64"}), f64({3})}):totable())
  end)
  it("cat promotes dtypes as PyTorch", function()
    assert.equal("float64", sg.cat({sg.ones(1), f64({2})}):dtype())
    assert.equal("float32", sg.cat({long({1}), sg.ones(1)}):dtype())
  end)
  it("stack joins along a new dim (1..ndim+1)", function()
    local a, b = f64({1, 2}), f64({3, 4})
    assert.same({{1, 2}, {3, 4}}, sg.stack({a, b}):totable())
    assert.same({{1, 3}, {2, 4}}, sg.stack({a, b}, 2):totable())
    assert.same({{1, 3}, {2, 4}}, sg.stack({a, b}, -1):totable())
    assert.same({3}, sg.stack({sg.tensor(1.0), sg.tensor(2.0), sg.tensor(3.0)}):shape())
  end)
  it("reject bad lists, shapes and dims", function()
    local a = f64({{1, 2}})
    assert.has_error(function() sg.cat({a, sg.zeros(2, 3, {dtype = "float64"})}) end,
      "sgen.cat: tensors[2] has shape 2x3, expected the shape of tensors[1] (1x2) in every dim but dim 1")
    assert.has_error(function() sg.cat({a, f64({1, 2})}, 2) end,
      "sgen.cat: tensors[2] has shape 2, expected the shape of tensors[1] (1x2) in every dim but dim 2")
    assert.has_error(function() sg.cat({a, a}, 3) end,
      "sgen.cat: dim 3 out of range for a tensor with 2 dims (expected 1..2 or -2..-1; dims are 1-based)")
    assert.has_error(function() sg.cat({}) end,
      "sgen.cat: argument 1 (tensors) expected a non-empty list of tensors")
    assert.has_error(function() sg.cat(a) end,
      "sgen.cat: argument 1 (tensors) expected a list of tensors, got tensor")
    assert.has_error(function() sg.cat({a, 3}) end, "sgen.cat: tensors[2] expected a tensor, got number")
    assert.has_error(function() sg.cat({sg.tensor(1.0), sg.tensor(2.0)}) end,
      "sgen.cat: tensors[1] is 0-dim; 0-dim tensors cannot be concatenated (unsqueeze them or use sgen.stack)")
    assert.has_error(function() sg.stack({a, f64({1, 2})}) end,
      "sgen.stack: tensors[2] has shape 2, expected 1x2 like tensors[1]")
    assert.has_error(function() sg.stack({a, a}, 4) end,
      "sgen.stack: dim 4 out of range for a tensor with 2 dims (expected 1..3 or -3..-1; dims are 1-based)")
    assert.has_error(function() sg.stack({a, a}, "x") end,
      "sgen.stack: argument 2 (dim) expected an integer, got string")
  end)
  it("are differentiable", function()
    local a, b = f64({1, 2}):requires_grad_(), f64({3}):requires_grad_()
    ;(sg.cat({a, b}) * f64({1, 2, 3})):sum():backward()
    assert.same({1, 2}, a.grad:totable())
    assert.same({3}, b.grad:totable())
    gradcheck(function(x, y) return sg.cat({x, y, x}, 2) end,
      {sg.randn(2, 3, {dtype = "float64"}), sg.randn(2, 1, {dtype = "float64"})})
    gradcheck(function(x, y) return sg.stack({x, y}, 2) end,
      {sg.randn(2, 3, {dtype = "float64"}), sg.randn(2, 3, {dtype = "float64"})})
  end)
end)

describe("gather / scatter / scatter_add / index_select", function()
  local x = f64({{10, 20, 30}, {40, 50, 60}})
  local I = long({{1, 3}, {2, 2}})

  it("gather picks x[i][index[i][j]] along dim 2 (1-based)", function()
    assert.same({{10, 30}, {50, 50}}, x:gather(2, I):totable())
    assert.same({{40, 20}}, sg.gather(x, 1, long({{2, 1}})):totable())
    assert.same({{10, 30}, {50, 50}}, x:gather(-1, I):totable())
  end)
  it("scatter writes src (a tensor or a number) at the 1-based indices, out of place", function()
    local z = sg.zeros(2, 3, {dtype = "float64"})
    assert.same({{1, 0, 2}, {0, 4, 0}}, z:scatter(2, I, f64({{1, 2}, {3, 4}})):totable())
    assert.same({{7, 0, 7}, {0, 7, 0}}, sg.scatter(z, 2, I, 7):totable())
    assert.same({{0, 0, 0}, {0, 0, 0}}, z:totable())
    assert.same({{1, 0, 2}, {0, 7, 0}}, z:scatter_add(2, I, f64({{1, 2}, {3, 4}})):totable())
    assert.same({{0, 5, 0}, {1, 0, 0}}, sg.scatter_add(z, 1, long({{2, 1}}), f64({{1, 5}})):totable())
  end)
  it("index_select takes a 1-D int64 tensor or a Lua list of 1-based indices", function()
    assert.same({{30, 10}, {60, 40}}, x:index_select(2, long({3, 1})):totable())
    assert.same({{40, 50, 60}, {40, 50, 60}, {10, 20, 30}}, sg.index_select(x, 1, {2, 2, 1}):totable())
    assert.same({0, 3}, x:index_select(1, {}):shape())
  end)
  it("leave the caller's index tensor unchanged", function()
    local idx = long({{1, 3}, {2, 2}})
    x:gather(2, idx)
    sg.zeros(2, 3):scatter(2, idx, 1)
    x:index_select(2, long({3}))
    assert.same({{1, 3}, {2, 2}}, idx:totable())
  end)
  it("reject indices out of 1..size, wrong dtypes and shapes", function()
    assert.has_error(function() x:gather(2, long({{0, 1}, {1, 1}})) end,
      "sgen.gather: index 0 out of range for dim 2 of size 3 (expected 1..3; indices are 1-based)")
    assert.has_error(function() x:gather(2, long({{4, 1}, {1, 1}})) end,
      "sgen.gather: index 4 out of range for dim 2 of size 3 (expected 1..3; indices are 1-based)")
    assert.has_error(function() x:gather(2, f64({{1, 1}, {1, 1}})) end,
      "sgen.gather: argument 3 (index) has dtype float64, expected int64 (1-based indices; convert with :long())")
    assert.has_error(function() x:gather(2, long({1, 1})) end,
      "sgen.gather: index has 1 dims (2), expected 2 like the input (2x3)")
    assert.has_error(function() x:gather(2, long({{1}, {1}, {1}})) end,
      "sgen.gather: index (3x1) is larger than the input (2x3) in dim 1")
    assert.has_error(function() x:gather(3, I) end,
      "sgen.gather: dim 3 out of range for a tensor with 2 dims (expected 1..2 or -2..-1; dims are 1-based)")
    assert.has_error(function() x:gather(2, {{1}}) end,
      "sgen.gather: argument 3 (index) expected a tensor, got table")
    assert.has_error(function() x:scatter(1, long({{3, 1}}), 1) end,
      "sgen.scatter: index 3 out of range for dim 1 of size 2 (expected 1..2; indices are 1-based)")
    assert.has_error(function() x:scatter(2, I, "a") end,
      "sgen.scatter: argument 4 (src) expected a tensor or a number, got string")
    assert.has_error(function() x:scatter(2, I, sg.ones(2, 2)) end,
      "sgen.scatter: src has dtype float32, expected the input's dtype float64")
    assert.has_error(function() x:scatter(2, I, f64({{1, 2}})) end,
      "sgen.scatter: index (2x2) is larger than the src (1x2) in dim 1")
    assert.has_error(function() x:scatter_add(2, I, 1) end,
      "sgen.scatter_add: argument 4 (src) expected a tensor, got number")
    assert.has_error(function() x:scatter_add(2, long({{-1, 1}, {1, 1}}), x) end,
      "sgen.scatter_add: index -1 out of range for dim 2 of size 3 (expected 1..3; indices are 1-based)")
    assert.has_error(function() x:index_select(1, {3}) end,
      "sgen.index_select: index 3 out of range for dim 1 of size 2 (expected 1..2; indices are 1-based)")
    assert.has_error(function() x:index_select(1, {1.5}) end,
      "sgen.index_select: index[1] expected an integer, got 1.5")
    assert.has_error(function() x:index_select(1, long({{1}})) end,
      "sgen.index_select: index has shape 1x1, expected a 1-D tensor")
    assert.has_error(function() sg.tensor(1.0):index_select(1, {1}) end,
      "sgen.index_select: the input is 0-dim, expected at least 1 dim")
  end)
  it("are differentiable through the values", function()
    local w = x:clone():requires_grad_()
    w:gather(2, I):sum():backward()
    assert.same({{1, 0, 1}, {0, 2, 0}}, w.grad:totable())
    w = x:clone():requires_grad_()
    w:index_select(1, {2, 2}):sum():backward()
    assert.same({{0, 0, 0}, {2, 2, 2}}, w.grad:totable())
    w = x:clone():requires_grad_()
    local s = f64({{1, 2}, {3, 4}}):requires_grad_()
    ;(w:scatter(2, long({{1, 3}, {2, 1}}), s) * f64({{1, 2, 3}, {4, 5, 6}})):sum():backward()
    assert.same({{0, 2, 0}, {0, 0, 6}}, w.grad:totable()) -- overwritten positions get no gradient
    assert.same({{1, 3}, {5, 4}}, s.grad:totable())
    gradcheck(function(v) return v:gather(1, long({{2, 1, 1}, {1, 2, 2}})) end, {sg.randn(2, 3, {dtype = "float64"})})
    gradcheck(function(v, u) return v:scatter_add(2, I, u) end,
      {sg.randn(2, 3, {dtype = "float64"}), sg.randn(2, 2, {dtype = "float64"})})
    gradcheck(function(v, u) return v:scatter(2, long({{1, 3}, {2, 1}}), u) end,
      {sg.randn(2, 3, {dtype = "float64"}), sg.randn(2, 2, {dtype = "float64"})})
    gradcheck(function(v) return v:index_select(2, long({3, 1, 3})) end, {sg.randn(2, 3, {dtype = "float64"})})
  end)
end)

describe("topk / sort / argsort", function()
  local x = f64({{3, 1, 2}, {5, 6, 4}})

  it("topk gives the k largest (or smallest) along a dim (default the last), 1-based indices", function()
    local v, i = x:topk(2)
    assert.same({{3, 2}, {6, 5}}, v:totable())
    assert.same({{1, 3}, {2, 1}}, i:totable())
    assert.equal("int64", i:dtype())
    v, i = sg.topk(x, 1, 1, {largest = false})
    assert.same({{3, 1, 2}}, v:totable())
    assert.same({{1, 1, 1}}, i:totable())
    v, i = x:topk(2, {largest = false})
    assert.same({{1, 2}, {4, 5}}, v:totable())
    assert.same({{2, 3}, {3, 1}}, i:totable())
    v = x:topk(0)
    assert.same({2, 0}, v:shape())
  end)
  it("sort is stable, ascending by default, descending on request", function()
    local v, i = f64({3, 1, 2, 1}):sort()
    assert.same({1, 1, 2, 3}, v:totable())
    assert.same({2, 4, 3, 1}, i:totable())
    v, i = x:sort(1, {descending = true})
    assert.same({{5, 6, 4}, {3, 1, 2}}, v:totable())
    assert.same({{2, 2, 2}, {1, 1, 1}}, i:totable())
    v, i = sg.sort(x, {descending = true})
    assert.same({{3, 2, 1}, {6, 5, 4}}, v:totable())
    assert.same({{1, 3, 2}, {2, 1, 3}}, i:totable())
  end)
  it("argsort gives the 1-based sorting indices only", function()
    assert.same({{2, 3, 1}, {3, 1, 2}}, x:argsort():totable())
    assert.same({{1, 3, 2}, {2, 1, 3}}, sg.argsort(x, -1, {descending = true}):totable())
    assert.same({{1, 1, 1}, {2, 2, 2}}, x:argsort(1):totable())
  end)
  it("reject bad k, dims and options", function()
    assert.has_error(function() x:topk(4) end,
      "sgen.topk: k = 4 out of range for dim 2 of size 3 (expected 0..3; input 2x3)")
    assert.has_error(function() x:topk(-1) end,
      "sgen.topk: k = -1 out of range for dim 2 of size 3 (expected 0..3; input 2x3)")
    assert.has_error(function() x:topk(1, 3) end,
      "sgen.topk: dim 3 out of range for a tensor with 2 dims (expected 1..2 or -2..-1; dims are 1-based)")
    assert.has_error(function() sg.tensor(3.0):topk(0) end,
      "sgen.topk: k = 0 out of range for a 0-dim tensor (expected 1)")
    assert.has_error(function() x:sort({1}) end,
      "sgen.sort: argument 2 (dim) expected an integer or an options table, got a list (sort works along one dim)")
    assert.has_error(function() x:topk() end, "sgen.topk: argument 2 (k) expected an integer, got no value")
    assert.has_error(function() x:topk(1, 1, {biggest = true}) end,
      "sgen.topk: unknown option 'biggest' (expected largest, sorted)")
    assert.has_error(function() x:sort(1, true) end, "sgen.sort: argument 3 expected an options table, got boolean")
    assert.has_error(function() x:sort(0) end,
      "sgen.sort: dim 0 out of range for a tensor with 2 dims (expected 1..2 or -2..-1; dims are 1-based)")
    assert.has_error(function() x:argsort(1, {desc = true}) end,
      "sgen.argsort: unknown option 'desc' (expected descending, stable)")
    assert.has_error(function() sg.tensor({true, false}, {dtype = "bool"}):topk(1) end,
      "sgen.topk: not implemented for dtype bool")
  end)
  it("are differentiable through the values", function()
    local w = x:clone():requires_grad_()
    local v, i = w:topk(1)
    assert.is_nil(i.grad_fn)
    ;(v * f64({{1}, {2}})):sum():backward()
    assert.same({{1, 0, 0}, {0, 2, 0}}, w.grad:totable())
    w = x:clone():requires_grad_()
    v = w:sort(2, {descending = true})
    ;(v * f64({{1, 2, 3}, {1, 2, 3}})):sum():backward()
    assert.same({{1, 3, 2}, {2, 1, 3}}, w.grad:totable())
    gradcheck(function(u) return (u:topk(2, 1)) end, {f64({{3, 1, 2}, {5, 6, 4}, {0, 9, 8}})})
    gradcheck(function(u) return (u:sort()) end, {f64({{3, 1, 2}, {5, 6, 4}})})
  end)
end)
