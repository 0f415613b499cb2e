-- Views: view, reshape, permute, transpose, t, narrow, select, expand,
-- expand_as, squeeze, unsqueeze, flatten, split, chunk. Dims and indices are
-- 1-based (negative from the end); errors speak in that numbering.
local sg = require "sgen"
local H = require "spec.helpers"

local f64 = H.f64

-- a 2x3 float32 tensor {{1,2,3},{4,5,6}}
local function m23() return sg.tensor({{1.0, 2, 3}, {4, 5, 6}}) end

-- d(sum(c * f(w)))/dw for a float64 w, with c a fixed tensor of f(w)'s shape
-- (so that the gradient of every output element is checked, not only a sum).
local function grad_of(f, w0)
  local w = w0:clone():requires_grad_()
  local y = f(w)
  local c = sg.arange(1, y:numel() + 1, 1, {dtype = "float64"}):reshape(y:shape())
  ;(y * c):sum():backward()
  return w.grad, c
end

-- float64 finite differences through sg.gradcheck (inputs made to require grad)
local gradcheck = H.gradcheck

describe("view / reshape", function()
  it("give the sizes as integers or a table, -1 inferred", function()
    local x = sg.arange(6)
    assert.same({{0, 1, 2}, {3, 4, 5}}, x:view(2, 3):totable())
    assert.same({3, 2}, x:view({3, -1}):shape())
    assert.same({2, 1, 3}, sg.view(x, -1, 1, 3):shape())
    assert.same({{0, 1}, {2, 3}, {4, 5}}, x:reshape(3, 2):totable())
    assert.same({6}, sg.reshape(x:view(2, 3), -1):shape())
    assert.same({}, sg.tensor({7.0}):view():shape())
  end)
  it("view shares storage with its source", function()
    local x = sg.zeros(2, 3)
    x:view(6):narrow(1, 2, 1):fill_(5)
    assert.same({{0, 5, 0}, {0, 0, 0}}, x:totable())
  end)
  it("reshape copies a non-contiguous tensor where view refuses", function()
    local xt = m23():t()
    assert.same({1, 4, 2, 5, 3, 6}, xt:reshape(6):totable())
    assert.has_error(function() xt:view(6) end,
      "sgen.view: the tensor (3x2) is not laid out compatibly with the new shape; use reshape (which copies) or contiguous() first")
  end)
  it("reject bad sizes", function()
    local x = m23()
    assert.has_error(function() x:view(4) end,
      "sgen.view: cannot view a tensor of shape 2x3 (6 elements) as 4")
    assert.has_error(function() x:reshape(4, -1) end,
      "sgen.reshape: cannot view a tensor of shape 2x3 (6 elements) as 4x-1")
    assert.has_error(function() x:view(-1, -1) end, "sgen.view: only one size can be -1 (inferred)")
    assert.has_error(function() x:view(2, -2) end,
      "sgen.view: size 2 must be non-negative (or -1 to infer it), got -2")
    assert.has_error(function() x:view(2, 1.5) end, "sgen.view: size 2 must be an integer, got a fraction")
    assert.has_error(function() x:view(2, "3") end,
      "sgen.view: argument 3 expected an integer size, got string (sizes are integers or one table of integers)")
    assert.has_error(function() x:view({2, 3}, 1) end,
      "sgen.view: argument 3 expected an integer size, got number (sizes are integers or one table of integers)")
    assert.has_error(function() sg.view("x", 6) end,
      "sgen.view: argument 1 (input) expected a tensor, got string")
  end)
  it("are differentiable", function()
    local g = grad_of(function(w) return w:view(3, 2) end, f64({{1, 2, 3}, {4, 5, 6}}))
    assert.same({{1, 2, 3}, {4, 5, 6}}, g:totable())
    g = grad_of(function(w) return w:t():reshape(6) end, f64({{1, 2, 3}, {4, 5, 6}}))
    assert.same({{1, 3, 5}, {2, 4, 6}}, g:totable())
    gradcheck(function(w) return w:t():reshape(3, 2) end, {sg.randn(2, 3, {dtype = "float64"})})
  end)
end)

describe("permute / transpose / t", function()
  it("permute takes 1-based dims, as integers or a table, negative from the end", function()
    local x = sg.zeros(2, 3, 4)
    assert.same({4, 2, 3}, x:permute(3, 1, 2):shape())
    assert.same({3, 4, 2}, x:permute({2, -1, 1}):shape())
    assert.same({{1, 4}, {2, 5}, {3, 6}}, sg.permute(m23(), 2, 1):totable())
  end)
  it("permute rejects wrong, repeated or out-of-range dims", function()
    local x = m23()
    assert.has_error(function() x:permute(1) end,
      "sgen.permute: got 1 dims for a tensor with 2 dims (2x3); expected a permutation of 1..2")
    assert.has_error(function() x:permute({1, 2, 3}) end,
      "sgen.permute: got 3 dims for a tensor with 2 dims (2x3); expected a permutation of 1..2")
    assert.has_error(function() x:permute(1, -2) end,
      "sgen.permute: dim -2 repeated (expected a permutation of 1..2)")
    assert.has_error(function() x:permute(0, 1) end,
      "sgen.permute: dim 0 out of range for a tensor with 2 dims (expected 1..2 or -2..-1; dims are 1-based)")
    assert.has_error(function() x:permute(1, "b") end,
      "sgen.permute: argument 3 (dim) expected an integer, got string")
    assert.has_error(function() x:permute({1, "b"}) end,
      "sgen.permute: dims[2] expected an integer, got string")
  end)
  it("transpose swaps two dims", function()
    local x = sg.zeros(2, 3, 4)
    assert.same({4, 3, 2}, x:transpose(1, 3):shape())
    assert.same({2, 4, 3}, sg.transpose(x, -1, -2):shape())
    assert.same({{1, 4}, {2, 5}, {3, 6}}, m23():transpose(1, 2):totable())
    assert.has_error(function() x:transpose(1, 4) end,
      "sgen.transpose: dim1 4 out of range for a tensor with 3 dims (expected 1..3 or -3..-1; dims are 1-based)")
    assert.has_error(function() x:transpose(1) end,
      "sgen.transpose: argument 3 (dim1) expected an integer, got no value")
  end)
  it("t transposes a matrix and leaves 1-D tensors alone", function()
    assert.same({{1, 4}, {2, 5}, {3, 6}}, m23():t():totable())
    assert.same({1, 2}, sg.t(sg.tensor({1.0, 2})):totable())
    assert.has_error(function() sg.zeros(2, 3, 4):t() end,
      "sgen.t: expected a tensor with at most 2 dims, got 3 (2x3x4); use transpose(dim0, dim1) or permute")
  end)
  it("are differentiable", function()
    local g = grad_of(function(w) return w:permute(2, 1) end, f64({{1, 2, 3}, {4, 5, 6}}))
    assert.same({{1, 3, 5}, {2, 4, 6}}, g:totable())
    g = grad_of(function(w) return w:t() end, f64({{1, 2, 3}, {4, 5, 6}}))
    assert.same({{1, 3, 5}, {2, 4, 6}}, g:totable())
    gradcheck(function(w) return w:permute(3, 1, 2) end, {sg.randn(2, 3, 2, {dtype = "float64"})})
    gradcheck(function(w) return w:transpose(1, 3) end, {sg.randn(2, 3, 2, {dtype = "float64"})})
  end)
end)

describe("narrow / select", function()
  it("narrow takes a 1-based start (negative from the end) and a length", function()
    local x = sg.arange(1, 11)
    assert.same({3, 4, 5}, x:narrow(1, 3, 3):totable())
    assert.same({8, 9}, x:narrow(1, -3, 2):totable())
    assert.same({0}, x:narrow(1, 11, 0):shape())
    assert.same({{2, 3}, {5, 6}}, sg.narrow(m23(), -1, 2, 2):totable())
  end)
  it("narrow is a view", function()
    local x = sg.zeros(4)
    x:narrow(1, 2, 2):fill_(1)
    assert.same({0, 1, 1, 0}, x:totable())
  end)
  it("narrow rejects out-of-range starts and lengths", function()
    local x = m23()
    assert.has_error(function() x:narrow(2, 3, 2) end,
      "sgen.narrow: start 3 with length 2 is out of range for dim 2 of size 3 (2x3); start is 1-based (negative from the end) and start + length - 1 must be <= 3")
    assert.has_error(function() x:narrow(2, 0, 1) end,
      "sgen.narrow: start 0 with length 1 is out of range for dim 2 of size 3 (2x3); start is 1-based (negative from the end) and start + length - 1 must be <= 3")
    assert.has_error(function() x:narrow(1, 1, -1) end,
      "sgen.narrow: start 1 with length -1 is out of range for dim 1 of size 2 (2x3); start is 1-based (negative from the end) and start + length - 1 must be <= 2")
    assert.has_error(function() x:narrow(3, 1, 1) end,
      "sgen.narrow: dim 3 out of range for a tensor with 2 dims (expected 1..2 or -2..-1; dims are 1-based)")
    assert.has_error(function() x:narrow(1, 1) end,
      "sgen.narrow: argument 4 (length) expected an integer, got no value")
    assert.has_error(function() sg.tensor(1.0):narrow(1, 1, 1) end, "sgen.narrow: cannot narrow a 0-dim tensor")
  end)
  it("select takes a 1-based index, negative from the end, and drops the dim", function()
    local x = m23()
    assert.same({4, 5, 6}, x:select(1, 2):totable())
    assert.same({3, 6}, x:select(2, -1):totable())
    assert.same({}, sg.select(sg.tensor({9.0}), 1, 1):shape())
    assert.has_error(function() x:select(2, 4) end,
      "sgen.select: index 4 out of range for dim 2 of size 3 (expected 1..3 or -3..-1; indices are 1-based)")
    assert.has_error(function() x:select(1, 0) end,
      "sgen.select: index 0 out of range for dim 1 of size 2 (expected 1..2 or -2..-1; indices are 1-based)")
    assert.has_error(function() x:select(1, 1.5) end,
      "sgen.select: argument 3 (index) expected an integer, got 1.5")
    assert.has_error(function() sg.tensor(1.0):select(1, 1) end, "sgen.select: cannot select from a 0-dim tensor")
  end)
  it("are differentiable", function()
    local g = grad_of(function(w) return w:narrow(2, 2, 2) end, f64({{1, 2, 3}, {4, 5, 6}}))
    assert.same({{0, 1, 2}, {0, 3, 4}}, g:totable())
    g = grad_of(function(w) return w:select(2, -1) end, f64({{1, 2, 3}, {4, 5, 6}}))
    assert.same({{0, 0, 1}, {0, 0, 2}}, g:totable())
    gradcheck(function(w) return w:narrow(1, 2, 2) end, {sg.randn(4, 2, {dtype = "float64"})})
    gradcheck(function(w) return w:select(2, 2) end, {sg.randn(2, 3, {dtype = "float64"})})
  end)
end)

describe("expand / expand_as", function()
  it("expand broadcasts size-1 dims and adds leading dims; -1 keeps a size", function()
    local x = sg.tensor({{1.0}, {2}})
    assert.same({{1, 1, 1}, {2, 2, 2}}, x:expand(2, 3):totable())
    assert.same({4, 2, 3}, x:expand({4, -1, 3}):shape())
    assert.same({{1, 1}, {2, 2}}, sg.expand(x, -1, 2):totable())
    assert.same({2, 5}, x:expand_as(sg.zeros(2, 5)):shape())
    assert.same({2, 4}, sg.expand_as(x, sg.zeros(2, 4)):shape())
  end)
  it("expand shares storage (stride 0)", function()
    assert.same({1, 0}, sg.tensor({{1.0}, {2}}):expand(2, 3):stride())
  end)
  it("rejects shapes that do not broadcast", function()
    local x = m23()
    assert.has_error(function() x:expand(2, 4) end,
      "sgen.expand: cannot expand 2x3 to 2x4: dim 2 has size 3, expected 1 or 4 (only size-1 dims can be expanded)")
    assert.has_error(function() x:expand(3) end,
      "sgen.expand: cannot expand 2x3 to 3: the target has 1 dims, fewer than the tensor's 2")
    assert.has_error(function() x:expand(-1, 2, 3) end,
      "sgen.expand: size -1 is not allowed for the new leading dim 1")
    assert.has_error(function() x:expand_as(sg.zeros(3, 3)) end,
      "sgen.expand_as: cannot expand 2x3 to 3x3: dim 1 has size 2, expected 1 or 3 (only size-1 dims can be expanded)")
    assert.has_error(function() x:expand_as({3, 3}) end,
      "sgen.expand_as: argument 2 (other) expected a tensor, got table")
  end)
  it("are differentiable (the gradient sums over the expanded dims)", function()
    local g = grad_of(function(w) return w:expand(2, 3) end, f64({{1}, {2}}))
    assert.same({{6}, {15}}, g:totable())
    g = grad_of(function(w) return w:expand(2, 2) end, f64({7, 8}))
    assert.same({4, 6}, g:totable())
    gradcheck(function(w) return w:expand(3, 2, 4) end, {sg.randn(2, 1, {dtype = "float64"})})
  end)
end)

describe("squeeze / unsqueeze / flatten", function()
  it("squeeze drops size-1 dims (all, or the one given)", function()
    local x = sg.zeros(1, 2, 1, 3)
    assert.same({2, 3}, x:squeeze():shape())
    assert.same({1, 2, 3}, x:squeeze(3):shape())
    assert.same({2, 1, 3}, sg.squeeze(x, 1):shape())
    assert.same({1, 2, 1, 3}, x:squeeze(2):shape()) -- size 2: unchanged, as PyTorch
    assert.has_error(function() x:squeeze(5) end,
      "sgen.squeeze: dim 5 out of range for a tensor with 4 dims (expected 1..4 or -4..-1; dims are 1-based)")
  end)
  it("unsqueeze inserts a dim at 1..ndim+1 (negative from the end)", function()
    local x = sg.zeros(2, 3)
    assert.same({1, 2, 3}, x:unsqueeze(1):shape())
    assert.same({2, 3, 1}, x:unsqueeze(3):shape())
    assert.same({2, 3, 1}, sg.unsqueeze(x, -1):shape())
    assert.same({2, 1, 3}, x:unsqueeze(-2):shape())
    assert.has_error(function() x:unsqueeze(4) end,
      "sgen.unsqueeze: dim 4 out of range for a tensor with 2 dims (expected 1..3 or -3..-1; dims are 1-based)")
    assert.has_error(function() x:unsqueeze() end,
      "sgen.unsqueeze: argument 2 (dim) expected an integer, got no value")
    assert.has_error(function() sg.zeros(1, 1, 1, 1, 1, 1, 1, 1):unsqueeze(1) end,
      "sgen.unsqueeze: the tensor already has 8 dims (the maximum)")
  end)
  it("flatten merges dims start..end (defaults 1 and -1)", function()
    local x = sg.zeros(2, 3, 4, 5)
    assert.same({120}, x:flatten():shape())
    assert.same({2, 60}, x:flatten(2):shape())
    assert.same({2, 12, 5}, sg.flatten(x, 2, 3):shape())
    assert.same({6, 4, 5}, x:flatten(1, -3):shape())
    assert.same({1}, sg.tensor(3.0):flatten():shape())
    assert.same({1, 2, 3, 4, 5, 6}, m23():flatten():totable())
    assert.has_error(function() x:flatten(3, 2) end, "sgen.flatten: start_dim 3 is after end_dim 2")
    assert.has_error(function() x:flatten(5) end,
      "sgen.flatten: start_dim 5 out of range for a tensor with 4 dims (expected 1..4 or -4..-1; dims are 1-based)")
  end)
  it("are differentiable", function()
    local g = grad_of(function(w) return w:unsqueeze(1):squeeze() end, f64({1, 2, 3}))
    assert.same({1, 2, 3}, g:totable())
    g = grad_of(function(w) return w:t():flatten() end, f64({{1, 2, 3}, {4, 5, 6}}))
    assert.same({{1, 3, 5}, {2, 4, 6}}, g:totable())
    gradcheck(function(w) return w:unsqueeze(2):flatten(1, 2):squeeze() end,
      {sg.randn(3, 1, 2, {dtype = "float64"})})
  end)
end)

describe("split / chunk", function()
  it("split gives a Lua list of pieces of one size (the last smaller)", function()
    local x = sg.arange(1, 6)
    local p = x:split(2)
    assert.equal(3, #p)
    assert.same({1, 2}, p[1]:totable())
    assert.same({3, 4}, p[2]:totable())
    assert.same({5}, p[3]:totable())
    local q = sg.split(m23(), 2, 2)
    assert.same({{1, 2}, {4, 5}}, q[1]:totable())
    assert.same({{3}, {6}}, q[2]:totable())
    assert.equal(1, #sg.zeros(0):split(3))
  end)
  it("split takes a table of sizes", function()
    local p = m23():split({1, 2}, -1)
    assert.equal(2, #p)
    assert.same({{1}, {4}}, p[1]:totable())
    assert.same({{2, 3}, {5, 6}}, p[2]:totable())
  end)
  it("split pieces are views", function()
    local x = sg.zeros(4)
    x:split(2)[2]:fill_(1)
    assert.same({0, 0, 1, 1}, x:totable())
  end)
  it("chunk splits into n pieces at most, as PyTorch", function()
    local c = sg.arange(5):chunk(3)
    assert.equal(3, #c)
    assert.same({4}, c[3]:totable())
    assert.equal(3, #sg.arange(6):chunk(4)) -- sizes 2, 2, 2
    assert.equal(3, #sg.zeros(0):chunk(3))
    local d = sg.chunk(m23(), 3, 2)
    assert.equal(3, #d)
    assert.same({{2}, {5}}, d[2]:totable())
  end)
  it("reject bad sizes and dims", function()
    local x = m23()
    assert.has_error(function() x:split(0) end, "sgen.split: split_size must be >= 1, got 0")
    assert.has_error(function() x:split({1, 1}, 2) end,
      "sgen.split: sizes add up to 2 but dim 2 has size 3 (input 2x3)")
    assert.has_error(function() x:split({1, -1}, 2) end,
      "sgen.split: sizes[2] expected a non-negative integer, got -1")
    assert.has_error(function() x:split(1, 3) end,
      "sgen.split: dim 3 out of range for a tensor with 2 dims (expected 1..2 or -2..-1; dims are 1-based)")
    assert.has_error(function() x:split("a") end,
      "sgen.split: argument 2 (split_size) expected an integer, got string")
    assert.has_error(function() sg.tensor(1.0):split(1) end, "sgen.split: cannot split a 0-dim tensor")
    assert.has_error(function() x:chunk(0) end, "sgen.chunk: chunks must be >= 1, got 0")
    assert.has_error(function() x:chunk(2, -3) end,
      "sgen.chunk: dim -3 out of range for a tensor with 2 dims (expected 1..2 or -2..-1; dims are 1-based)")
  end)
  it("are differentiable", function()
    local w = f64({1, 2, 3, 4, 5}):requires_grad_()
    local p = w:split(2)
    ;((p[1] * 2):sum() + (p[3] * 3):sum()):backward()
    assert.same({2, 2, 0, 0, 3}, w.grad:totable())
    gradcheck(function(v)
      local c = v:chunk(2, 2)
      return c[1] * c[2]
    end, {sg.randn(2, 4, {dtype = "float64"})})
  end)
end)
