-- Torch7-style indexing, 1-based: x[i], x[{i, {a, b}, {}}], x[mask], and
-- the assignments x[...] = value.
local sg = require "sgen"
local H = require "spec.helpers"

local function grid() return sg.arange(1, 13):reshape(3, 4) end

describe("x[{...}]", function()
  it("selects with integers, inclusive ranges {a, b}, single-index ranges {a} and {}",
    function()
    local x = grid()
    assert.same({5, 6, 7}, x[{2, {1, 3}}]:totable())
    assert.same({{2}, {6}, {10}}, x[{{}, {2}}]:totable())
    assert.same({{5, 6, 7, 8}, {9, 10, 11, 12}}, x[{{2, 3}}]:totable())
    assert.same({{5, 6, 7, 8}, {9, 10, 11, 12}}, x[{{2, 3}, {}}]:totable())
    assert.equal(7, x[{2, 3}]:item())
    assert.same({3, 4}, x[{}]:shape())
    -- negative indices count from the end
    assert.equal(12, x[{-1, -1}]:item())
    assert.same({10, 11}, x[{-1, {2, -2}}]:totable())
    assert.same({{1, 2, 3, 4}}, x[{{1}}]:totable()) -- {a} keeps the dim
  end)

  it("returns views: writes through them reach the tensor", function()
    local x = grid()
    local v = x[{{2, 3}, {2, 3}}]
    v:fill_(0)
    assert.same({{1, 2, 3, 4}, {5, 0, 0, 8}, {9, 0, 0, 12}}, x:totable())
    assert.is_false(v:is_contiguous())
  end)

  it("rejects bad indices with the entry and dim named", function()
    local x = grid()
    assert.has_error(function() return x[{4}] end,
      "sgen.index: index 4 (entry 1) out of range for dim 1 of size 3 (expected 1..3 or "
      .. "-3..-1; indices are 1-based)")
    assert.has_error(function() return x[{1, 0}] end,
      "sgen.index: index 0 (entry 2) out of range for dim 2 of size 4 (expected 1..4 or "
      .. "-4..-1; indices are 1-based)")
    assert.has_error(function() return x[{{3, 2}}] end,
      "sgen.index: entry 1: range {3, 2} is empty on dim 1 of size 3 (the last index comes "
      .. "before the first)")
    assert.has_error(function() return x[{1, 2, 3}] end, "sgen.index: 3 indices for a 2-dim tensor")
    assert.has_error(function() return x[{"a"}] end,
      "sgen.index: entry 1: expected an integer, a range {first, last} or {}, got string")
    assert.has_error(function() return x[{{1, 2, 3}}] end,
      "sgen.index: entry 1: a range is {first, last}, {index} or {}, got a table of 3 entries")
    assert.has_error(function() return x[{1.5}] end,
      "sgen.index: entry 1: an index must be an integer, got number")
    -- a table that is not a list, or a key of another type, is not "everything"
    assert.has_error(function() return x[{a = 1}] end,
      "sgen.index: an index table is a list {i, {a, b}, {}, ...}; this one has 1 entries that "
      .. "are not at positions 1..0")
    assert.has_error(function() x[{a = 1}] = 5 end)
    assert.has_error(function() x[nil] = 9 end,
      "sgen.index: x[key] = value takes an integer, an index table {...} or a bool mask as the "
      .. "key, got nil")
    assert.has_error(function() x[true] = 0 end,
      "sgen.index: x[key] = value takes an integer, an index table {...} or a bool mask as the "
      .. "key, got boolean")
    assert.same({{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}}, x:totable())
  end)

  it("is differentiable (float64 gradcheck)", function()
    local w = sg.randn(3, 4, {dtype = "float64"}):requires_grad_()
    assert.is_true(sg.gradcheck(function(a) return a[{{2, 3}, {1, -2}}] * 2 end, {w}))
    assert.is_true(sg.gradcheck(function(a) return a[{-1, {}}]:exp() end, {w}))
  end)
end)

describe("x[mask]", function()
  it("gives the elements where the mask is true, as a 1-d copy, in order", function()
    local x = grid()
    assert.same({8, 9, 10, 11, 12}, x[x:gt(7)]:totable())
    assert.same({0}, x[x:gt(99)]:shape())
  end)

  it("is differentiable: the gradient returns to the selected positions", function()
    local w = sg.tensor({{1, -2}, {-3, 4}}, {dtype = "float64"}):requires_grad_()
    local s = w[w:gt(0)]:sum() * 3
    s:backward()
    assert.same({{3, 0}, {0, 3}}, w.grad:totable())
    local m = sg.tensor({{true, false}, {true, true}})
    assert.is_true(sg.gradcheck(function(a) return a[m]:pow(2) end, {w}))
  end)

  it("rejects a mask that is not bool or has another shape", function()
    local x = grid()
    assert.has_error(function() return x[sg.ones(3, 4)] end,
      "sgen.index: a tensor index must be a bool mask, got float32 (integer indices: "
      .. "x:index_select)")
    assert.has_error(function() return x[sg.ones(4, 3):gt(0)] end,
      "sgen.index: mask of shape 4x3, expected the tensor's shape 3x4")
  end)
end)

describe("x[...] = value", function()
  it("writes numbers, tensors (broadcast) and booleans through the selected view", function()
    local x = grid()
    x[1] = 0
    x[{2, {2, 3}}] = sg.tensor({-1.0, -2})
    x[{{}, 4}] = 100
    x[{3, {1, 2}}] = sg.tensor({7.0})
    assert.same({{0, 0, 0, 100}, {5, -1, -2, 100}, {7, 7, 11, 100}}, x:totable())
    local b = sg.zeros(2):bool()
    b[2] = true
    assert.same({false, true}, b:totable())
  end)

  it("x[mask] = number fills where the mask is true", function()
    local x = grid()
    x[x:gt(10)] = -1
    assert.same({{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, -1, -1}}, x:totable())
    assert.has_error(function() x[x:gt(0)] = sg.ones(12) end,
      "sgen.index: x[mask] = value takes a number, got tensor (tensors: sg.where(mask, value, x))")
  end)

  it("rejects values of the wrong shape or type", function()
    local x = grid()
    assert.has_error(function() x[1] = sg.ones(3) end,
      "sgen.index: source of shape 3 does not broadcast to 4")
    assert.has_error(function() x[1] = "a" end,
      "sgen.index: x[...] = value takes a number or a tensor, got string")
    assert.has_error(function() x[5] = 0 end,
      "sgen.index: index 5 (entry 1) out of range for dim 1 of size 3 (expected 1..3 or "
      .. "-3..-1; indices are 1-based)")
  end)

  it("follows autograd's in-place rules", function()
    local w = sg.randn(3, {dtype = "float64"}):requires_grad_()
    -- a parameter is written under no_grad only (the leaf's advice, not the view's)
    assert.has_error(function() w[1] = 0 end,
      "sgen.index: a leaf tensor that requires grad (float64 3) cannot be modified in place "
      .. "while autograd records; do it under sg.no_grad (parameter updates, initialization) or "
      .. "on a copy")
    assert.has_error(function() w[{{1, 2}}] = 0 end)
    sg.no_grad(function() w[1] = 0 end)
    assert.equal(0, w[1]:item())
    -- a write through a view of a computed tensor would bypass its history: refused
    local y = w * 2
    local ok, err = pcall(function() y[2] = 5 end)
    assert.is_false(ok)
    assert.matches("shares its memory with another tensor", err)
    -- a mask fill of a computed tensor is recorded: no gradient where it wrote
    local z = w * 3
    z[sg.tensor({true, false, true})] = 1
    z:sum():backward()
    assert.same({0, 3, 0}, w.grad:totable())
  end)
end)
