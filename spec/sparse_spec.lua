-- sg.sparse: projections and thresholds (bindings/lsg_sparse.c), penalty and
-- diagnostics (lua/sgen/sparse/init.lua): values, gradients, errors.
local sg = require "sgen"
local sparse = sg.sparse
local H = require "spec.helpers"

local function assert_close(a, b, tol) H.assert_close(a, b, tol or 1e-6) end

local X = function() return sg.tensor({{1.0, -3, 2}, {4, 0, -5}}) end

describe("sg.sparse", function()
  it("is a plain, extensible table holding the core projections", function()
    assert.equal(sparse, require "sgen.sparse")
    for _, name in ipairs({ "l0_project", "l0inf_project", "soft_threshold", "hard_threshold",
      "l0_mask", "l0inf_mask", "l1_penalty", "sparsity", "needle_density" }) do
      assert.equal("function", type(sparse[name]), name)
    end
    assert.equal(sg.l0_project, sparse.l0_project)
    assert.is_nil(getmetatable(sparse))
  end)
end)

describe("sparse.l0_project", function()
  it("keeps the k largest |entries| of each sample", function()
    assert.same({{0, -3, 0}, {0, 0, -5}}, sparse.l0_project(X(), 1):totable())
    assert.same({{0, -3, 2}, {4, 0, -5}}, sparse.l0_project(X(), 2):totable())
    assert.same({{1, -3, 2}, {4, 0, -5}}, sparse.l0_project(X(), 3):totable())
    -- over all the non-batch dims of N x C x H x W
    local x = sg.tensor({{{{1.0, 5}}, {{-7, 2}}}, {{{0, 0}}, {{0, 3}}}}) -- 2x2x1x2
    assert.same({{{{0, 5}}, {{-7, 0}}}, {{{0, 0}}, {{0, 3}}}}, sparse.l0_project(x, 2):totable())
    -- ties keep the lower index
    assert.same({{2, 0, 0}}, sparse.l0_project(sg.tensor({{2.0, -2, 1}}), 1):totable())
  end)
  it("takes a fraction in (0, 1] (a float) or a whole float as a count", function()
    assert.same({{0, -3, 2}, {4, 0, -5}}, sparse.l0_project(X(), 0.5):totable())   -- ceil(1.5) = 2
    assert.same({{0, -3, 0}, {0, 0, -5}}, sparse.l0_project(X(), 0.2):totable())   -- at least 1
    assert.same({{1, -3, 2}, {4, 0, -5}}, sparse.l0_project(X(), 1.0):totable())   -- everything
    assert.same({{0, -3, 0}, {0, 0, -5}}, sparse.l0_project(X(), 1):totable())     -- integer: one
    assert.same({{0, -3, 2}, {4, 0, -5}}, sparse.l0_project(X(), 4 / 2):totable()) -- 2.0: two
  end)
  it("passes the gradient through the kept entries only", function()
    local x = X():requires_grad_()
    sparse.l0_project(x, 2):sum():backward()
    assert.same({{0, 1, 1}, {1, 0, 1}}, x.grad:totable())
  end)
  it("passes gradcheck and gradgradcheck in float64", function()
    sg.manual_seed(11)
    local x = sg.randn(3, 2, 3, {dtype = "float64"}):requires_grad_()
    local f = function(a) return sparse.l0_project(a, 3) * a end
    assert.is_true(sg.gradcheck(f, {x}))
    assert.is_true(sg.gradgradcheck(f, {x}))
  end)
  it("rejects bad k and input", function()
    assert.has_error(function() sparse.l0_project(X(), 0) end,
      "sgen.l0_project: argument 2 (k) must be a count >= 1 or a fraction in (0, 1], got 0")
    assert.has_error(function() sparse.l0_project(X(), -0.5) end,
      "sgen.l0_project: argument 2 (k) must be a count >= 1 or a fraction in (0, 1], got -0.5")
    assert.has_error(function() sparse.l0_project(X(), 1.5) end,
      "sgen.l0_project: argument 2 (k) must be a count >= 1 or a fraction in (0, 1], got 1.5")
    assert.has_error(function() sparse.l0_project(X(), "2") end,
      "sgen.l0_project: argument 2 (k) expected an integer count or a fraction in (0, 1], got string")
    assert.has_error(function() sparse.l0_project(X()) end,
      "sgen.l0_project: argument 2 (k) expected an integer count or a fraction in (0, 1], got no value")
    assert.has_error(function() sparse.l0_project(X(), 4) end,
      "sgen.l0_project: k = 4 is more than the 3 entries per sample (input 2x3)")
    assert.has_error(function() sparse.l0_project(sg.tensor({1.0, 2}), 1) end,
      "sgen.l0_project: input has 1 dims (2), expected at least 2 (dim 1 is the batch)")
    assert.has_error(function() sparse.l0_project(X(), 1, {dim = 2}) end,
      "sgen.l0_project: takes (input, k), got a 3rd argument (table)")
    assert.has_error(function() sparse.l0_project(nil, 1) end,
      "sgen.l0_project: argument 1 (input) expected a tensor, got nil")
    assert.matches("dtype int64", select(2, pcall(sparse.l0_project, X():long(), 1)))
  end)
end)

describe("sparse.l0_mask", function()
  it("returns the bool mask of the kept entries", function()
    local m = sparse.l0_mask(X(), 2)
    assert.equal("bool", m:dtype())
    assert.same({{false, true, true}, {true, false, true}}, m:totable())
    assert.same({{true, true, true}, {true, true, true}}, sparse.l0_mask(X(), 1.0):totable())
    assert.has_error(function() sparse.l0_mask(X(), 0) end,
      "sgen.l0_mask: argument 2 (k) must be a count >= 1 or a fraction in (0, 1], got 0")
  end)
end)

describe("sparse.l0inf_project", function()
  -- 1 x 3 x 1 x 2: position 1 holds channels {1, -4, 2}, position 2 {3, 0, -1}
  local function needles() return sg.tensor({{{{1.0, 3}}, {{-4, 0}}, {{2, -1}}}}) end
  it("keeps the k largest |entries| along the channels at every position", function()
    assert.same({{{{0, 3}}, {{-4, 0}}, {{0, 0}}}}, sparse.l0inf_project(needles(), 1):totable())
    assert.same({{{{0, 3}}, {{-4, 0}}, {{2, -1}}}}, sparse.l0inf_project(needles(), 2):totable())
    assert.same(needles():totable(), sparse.l0inf_project(needles(), 3):totable())
  end)
  it("takes the dim as a 1-based option (default 2)", function()
    assert.same(sparse.l0inf_project(needles(), 1):totable(),
      sparse.l0inf_project(needles(), 1, {dim = 2}):totable())
    assert.same(sparse.l0inf_project(needles(), 1):totable(),
      sparse.l0inf_project(needles(), 1, {dim = -3}):totable())
    -- along the last dim (width)
    assert.same({{{{0, 3}}, {{-4, 0}}, {{2, 0}}}}, sparse.l0inf_project(needles(), 1, {dim = 4}):totable())
    assert.same({{0, -3, 0}, {0, 0, -5}}, sparse.l0inf_project(X(), 1):totable())
  end)
  it("passes the gradient through the kept entries only", function()
    local x = needles():requires_grad_()
    sparse.l0inf_project(x, 1):sum():backward()
    assert.same({{{{0, 1}}, {{1, 0}}, {{0, 0}}}}, x.grad:totable())
  end)
  it("passes gradcheck and gradgradcheck in float64", function()
    sg.manual_seed(12)
    local x = sg.randn(2, 4, 2, 2, {dtype = "float64"}):requires_grad_()
    local f = function(a) return sparse.l0inf_project(a, 2) * a end
    assert.is_true(sg.gradcheck(f, {x}))
    assert.is_true(sg.gradgradcheck(f, {x}))
  end)
  it("rejects bad k, dim and input", function()
    assert.has_error(function() sparse.l0inf_project(needles(), 4) end,
      "sgen.l0inf_project: k = 4 out of range: expected 1..3 (the size of dim 2 of input 1x3x1x2)")
    assert.has_error(function() sparse.l0inf_project(needles(), 0, {dim = 4}) end,
      "sgen.l0inf_project: k = 0 out of range: expected 1..2 (the size of dim 4 of input 1x3x1x2)")
    assert.has_error(function() sparse.l0inf_project(needles(), 1.5) end,
      "sgen.l0inf_project: argument 2 (k) expected an integer, got 1.5")
    assert.has_error(function() sparse.l0inf_project(needles(), 1, {dim = 5}) end,
      "sgen.l0inf_project: option 'dim' 5 out of range for a tensor with 4 dims (expected 1..4 or -4..-1; dims are 1-based)")
    assert.has_error(function() sparse.l0inf_project(needles(), 1, {axis = 2}) end,
      "sgen.l0inf_project: unknown option 'axis' (expected dim)")
    assert.has_error(function() sparse.l0inf_project(needles(), 1, {dim = "2"}) end,
      "sgen.l0inf_project: option 'dim' expected an integer, got string")
    assert.has_error(function() sparse.l0inf_project(needles(), 1, 2) end,
      "sgen.l0inf_project: argument 3 expected an options table, got number")
    assert.has_error(function() sparse.l0inf_project(sg.tensor({1.0, 2}), 1) end,
      "sgen.l0inf_project: input has 1 dims (2), expected at least 2 (dim 1 is the batch)")
  end)
end)

describe("sparse.l0inf_mask", function()
  it("returns the bool mask of the kept entries", function()
    local m = sparse.l0inf_mask(sg.tensor({{1.0, -3, 2}, {4, 0, -5}}), 2)
    assert.equal("bool", m:dtype())
    assert.same({{false, true, true}, {true, false, true}}, m:totable())
    assert.same({{false, true, false}, {true, false, true}},
      sparse.l0inf_mask(sg.tensor({{1.0, -3, 2}, {4, 0, -5}}), 1, {dim = 1}):totable())
  end)
end)

describe("sparse.soft_threshold", function()
  local v = function() return sg.tensor({{-3, -1, 0, 0.5, 2}}) end
  it("shrinks towards zero by lambda (number or broadcast tensor)", function()
    assert.same({{-2, 0, 0, 0, 1}}, sparse.soft_threshold(v(), 1):totable())
    assert.same(v():totable(), sparse.soft_threshold(v(), 0):totable())
    local x = sg.tensor({{-3.0, 3}, {-3, 3}})
    assert.same({{-2, 2}, {-1, 1}}, sparse.soft_threshold(x, sg.tensor({{1.0}, {2}})):totable())
  end)
  it("differentiates in x and in a tensor lambda", function()
    local x = v():requires_grad_()
    sparse.soft_threshold(x, 1):sum():backward()
    assert.same({{1, 0, 0, 0, 1}}, x.grad:totable())
    local y = sg.tensor({{-3, 3, 0.5}}):requires_grad_()
    local lam = sg.tensor({1.0}):requires_grad_()
    sparse.soft_threshold(y, lam):sum():backward()
    assert.same({{1, 1, 0}}, y.grad:totable())
    assert.same({0}, lam.grad:totable()) -- -sign(-3) - sign(3)
  end)
  it("passes gradcheck and gradgradcheck in float64 (x and lambda)", function()
    sg.manual_seed(13)
    local x = sg.randn(2, 3, 2, {dtype = "float64"}):requires_grad_()
    local lam = (sg.rand(1, 3, 1, {dtype = "float64"}) * 0.5):requires_grad_()
    local f = function(a, l) return sparse.soft_threshold(a, l) end
    assert.is_true(sg.gradcheck(f, {x, lam}))
    assert.is_true(sg.gradgradcheck(function(a, l) return f(a, l) * a end, {x, lam}))
  end)
  it("rejects a bad lambda", function()
    assert.has_error(function() sparse.soft_threshold(v(), -1) end,
      "sgen.soft_threshold: argument 2 (lambda) must be >= 0, got -1.0")
    assert.has_error(function() sparse.soft_threshold(v(), "1") end,
      "sgen.soft_threshold: argument 2 (lambda) expected a number or a tensor, got string")
    assert.has_error(function() sparse.soft_threshold(v()) end,
      "sgen.soft_threshold: argument 2 (lambda) expected a number or a tensor, got no value")
    assert.has_error(function() sparse.soft_threshold(v(), sg.ones(3)) end,
      "sgen.soft_threshold: lambda of shape 3 does not broadcast to the input's 1x5")
    local freed = sg.ones(1)
    freed:free()
    assert.has_error(function() sparse.soft_threshold(v(), freed) end,
      "sgen.soft_threshold: argument 2 (lambda) is a freed tensor (t:free() was called on it)")
  end)
end)

describe("sparse.hard_threshold", function()
  local v = function() return sg.tensor({{-3, -1, 0, 0.5, 2}}) end
  it("zeros the entries with |x| <= lambda", function()
    assert.same({{-3, 0, 0, 0, 2}}, sparse.hard_threshold(v(), 1):totable())
    assert.same({{-3, 0, 0, 0, 0}}, sparse.hard_threshold(v(), sg.tensor({2.0})):totable())
  end)
  it("passes the gradient through the kept entries", function()
    local x = v():requires_grad_()
    sparse.hard_threshold(x, 1):sum():backward()
    assert.same({{1, 0, 0, 0, 1}}, x.grad:totable())
  end)
  it("rejects a bad lambda", function()
    assert.has_error(function() sparse.hard_threshold(v(), -0.5) end,
      "sgen.hard_threshold: argument 2 (lambda) must be >= 0, got -0.5")
    assert.has_error(function() sparse.hard_threshold(v(), {}) end,
      "sgen.hard_threshold: argument 2 (lambda) expected a number or a tensor, got table")
  end)
end)

describe("sparse.l1_penalty", function()
  it("is the mean over the batch of each sample's L1 norm", function()
    assert_close(sparse.l1_penalty(X()), (6 + 9) / 2)
    assert_close(sparse.l1_penalty(sg.tensor({{{-1.0, 1}}, {{2, 0}}, {{0, 0}}})), 4 / 3)
  end)
  it("differentiates: sign(x) / N", function()
    local x = X():requires_grad_()
    sparse.l1_penalty(x):backward()
    assert_close(x.grad, {{0.5, -0.5, 0.5}, {0.5, 0, -0.5}})
  end)
  it("rejects bad input", function()
    assert.has_error(function() sparse.l1_penalty(sg.tensor(3.0)) end,
      "sgen.l1_penalty: input has 0 dims (scalar), expected at least 1 (dim 1 is the batch)")
    assert.has_error(function() sparse.l1_penalty(3) end,
      "sgen.l1_penalty: argument 1 (input) expected a tensor, got number")
  end)
end)

describe("sparse.sparsity", function()
  it("is the fraction of non-zero entries, a Lua number", function()
    assert.equal(0.5, sparse.sparsity(sg.tensor({{1.0, -2, 0}, {0, 0, 3}})))
    assert.equal(5 / 6, sparse.sparsity(X()))
    assert.equal(0, sparse.sparsity(sg.zeros(2, 2)))
    assert.equal("number", type(sparse.sparsity(sg.ones(2):requires_grad_())))
  end)
  it("with dim, is the fraction of non-zero slices (n, i) along that dim", function()
    local x = sg.zeros(2, 4, 3, 3)
    x:select(1, 1):select(1, 2):select(1, 3):fill_(1) -- sample 1, channel 2: row 3
    x:select(1, 2):select(1, 4):fill_(-2)             -- sample 2, channel 4: all entries
    assert.equal(2 / 8, sparse.sparsity(x, {dim = 2}))
    assert.equal(2 / 8, sparse.sparsity(x, {dim = -3}))
    assert.equal(1.0, sparse.sparsity(x, {dim = 1}))       -- both samples are non-zero
    assert.equal(4 / 6, sparse.sparsity(x, {dim = 3}))     -- rows 3 of s1; all rows of s2
    assert.equal(12 / 72, sparse.sparsity(x))
  end)
  it("rejects bad options", function()
    assert.has_error(function() sparse.sparsity(X(), {dims = 1}) end,
      "sgen.sparsity: unknown option 'dims' (expected dim)")
    assert.has_error(function() sparse.sparsity(X(), {dim = 3}) end,
      "sgen.sparsity: option 'dim' 3 out of range for a tensor with 2 dims (expected 1..2 or -2..-1; dims are 1-based)")
    assert.has_error(function() sparse.sparsity(X(), {dim = 1.5}) end,
      "sgen.sparsity: option 'dim' expected an integer, got 1.5")
    assert.has_error(function() sparse.sparsity(X(), 2) end,
      "sgen.sparsity: argument 2 expected an options table, got number")
    assert.has_error(function() sparse.sparsity("x") end,
      "sgen.sparsity: argument 1 (input) expected a tensor, got string")
  end)
end)

describe("sparse.needle_density", function()
  it("maps the fraction of non-zero channels per position, averaged over the batch", function()
    sg.manual_seed(14)
    local h = sparse.l0inf_project(sg.randn(3, 8, 2, 5), 2)
    local d = sparse.needle_density(h)
    assert.same({2, 5}, d:shape())
    assert.equal("float32", d:dtype())
    assert_close(d, sg.full({2, 5}, 0.25))
    local x = sg.zeros(2, 2, 1, 2, {dtype = "float64"})
    x:select(1, 1):select(1, 1):fill_(1) -- sample 1, channel 1 everywhere
    x:select(1, 2):select(3, 2):fill_(1) -- sample 2, both channels at position (1, 2)
    assert_close(sparse.needle_density(x), {{0.25, 0.75}})
  end)
  it("rejects non-images", function()
    assert.has_error(function() sparse.needle_density(sg.zeros(2, 3)) end,
      "sgen.needle_density: input has 2 dims (2x3), expected 4 (NxCxHxW)")
    assert.has_error(function() sparse.needle_density({}) end,
      "sgen.needle_density: argument 1 (input) expected a tensor, got table")
  end)
end)
