-- The sparsity layers (lua/sgen/sparse/layers.lua): nn.L0Project,
-- nn.L0InfProject and nn.SoftThreshold (also sg.sparse.*): values (per-sample
-- and per-needle counts, the kept entries are the largest in magnitude,
-- threshold values), gradients (through the kept entries only, the learnable
-- threshold's gradient, float64 gradcheck), state_dict, errors and printing.
local sg = require "sgen"
local nn = sg.nn
local H = require "spec.helpers"

local shape_str = H.shape_str

-- max |a - b| (tensors of the same shape) as a Lua number
local function maxdiff(a, b)
  assert.are.equal(shape_str(b), shape_str(a))
  return (a:double() - b:double()):abs():max():item()
end

-- A N x C x H x W float32 tensor with distinct magnitudes (no ties, no zeros):
-- a random permutation of 1..n scaled, with random signs.
local function distinct(seed, ...)
  sg.manual_seed(seed)
  local shape = {...}
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  local perm = sg.randperm(n):float() + 1
  local sign = sg.rand(n):gt(0.5):float() * 2 - 1
  return (perm * sign * 0.1):reshape(shape)
end

-- The number of non-zeros of x summed over every dim except those listed
-- (kept): a tensor of counts.
local function nonzeros(x, reduce_dims)
  return x:ne(0):float():sum(reduce_dims)
end

local function all_equal(t, v)
  return t:eq(v):float():min():item() == 1
end

describe("sparsity layers", function()
  it("are nn modules reachable from sg.nn and sg.sparse", function()
    for _, name in ipairs({"L0Project", "L0InfProject", "SoftThreshold"}) do
      assert.is_not_nil(nn[name], name)
      assert.are.equal(nn[name], sg.sparse[name], name)
      assert.are.equal(nn[name], require("sgen.sparse.layers")[name], name)
    end
    assert.is_true(nn.L0Project(2).__is_module)
  end)
end)

describe("nn.L0Project", function()
  it("keeps k entries per sample: the largest in magnitude, unchanged", function()
    local x = distinct(1, 3, 4, 5, 6) -- 120 entries per sample
    for _, k in ipairs({1, 7, 120}) do
      local y = nn.L0Project(k)(x)
      assert.are.equal(shape_str(x), shape_str(y))
      local counts = nonzeros(y, {2, 3, 4})
      assert.is_true(all_equal(counts, k), "k = " .. k)
      -- kept entries are unchanged, the others zero
      local kept = y:ne(0)
      assert.are.equal(0, maxdiff(y, x * kept:float()))
      -- per sample: the smallest kept magnitude beats the largest dropped one
      local ax = x:abs()
      for n = 1, 3 do
        local a, m = ax[n], kept[n]
        local min_kept = (a * m:float() + (1 - m:float()) * 1e9):min():item()
        local max_dropped = (a * (1 - m:float())):max():item()
        assert.is_true(min_kept > max_dropped, string.format("sample %d, k = %d", n, k))
      end
    end
  end)

  it("takes a fraction of the entries per sample (rounded up, at least 1)", function()
    local x = distinct(2, 2, 4, 3, 5) -- 60 entries per sample
    assert.is_true(all_equal(nonzeros(nn.L0Project(0.25)(x), {2, 3, 4}), 15))
    assert.is_true(all_equal(nonzeros(nn.L0Project(0.1)(x), {2, 3, 4}), 6))
    assert.is_true(all_equal(nonzeros(nn.L0Project(0.11)(x), {2, 3, 4}), 7)) -- ceil(6.6)
    assert.is_true(all_equal(nonzeros(nn.L0Project(0.001)(x), {2, 3, 4}), 1))
    assert.are.equal(0, maxdiff(nn.L0Project(1.0)(x), x))
    -- samples are projected independently: each one as if alone
    local y = nn.L0Project(9)(x)
    assert.are.equal(0, maxdiff(y[2]:unsqueeze(1), nn.L0Project(9)(x[2]:unsqueeze(1))))
  end)

  it("passes the gradient through the kept entries only", function()
    local x = distinct(3, 2, 3, 4, 4):requires_grad_()
    local w = distinct(4, 2, 3, 4, 4)
    local y = nn.L0Project(10)(x)
    local loss = (y * w):sum()
    loss:backward()
    local mask = y:detach():ne(0):float()
    assert.are.equal(0, maxdiff(x.grad, w * mask))
    assert.are.equal(2 * 10, x.grad:ne(0):float():sum():item())
  end)

  it("passes gradcheck in float64 (count and fraction)", function()
    local x = distinct(5, 2, 3, 2, 2):double():requires_grad_()
    assert.is_true(sg.gradcheck(function(a) return nn.L0Project(5)(a) end, {x}))
    assert.is_true(sg.gradcheck(function(a) return nn.L0Project(0.5)(a) end, {x}))
  end)

  it("has no parameters nor state, and prints its k", function()
    local m = nn.L0Project(3)
    assert.are.equal(0, #m:parameters())
    assert.same({}, m:state_dict_keys())
    assert.are.equal("L0Project(k=3)", tostring(m))
    assert.are.equal("L0Project(k=0.25)", tostring(nn.L0Project(0.25)))
  end)

  it("rejects a bad k", function()
    assert.has_error(function() nn.L0Project(0) end,
      "sgen.nn.L0Project: argument 1 (k) must be at least 1, got 0")
    assert.has_error(function() nn.L0Project(-2) end,
      "sgen.nn.L0Project: argument 1 (k) must be at least 1, got -2")
    assert.has_error(function() nn.L0Project(1.5) end,
      "sgen.nn.L0Project: argument 1 (k) must be a positive integer or a fraction in (0, 1], got 1.5")
    assert.has_error(function() nn.L0Project(-0.5) end,
      "sgen.nn.L0Project: argument 1 (k) must be a positive integer or a fraction in (0, 1], got -0.5")
    assert.has_error(function() nn.L0Project("3") end,
      "sgen.nn.L0Project: argument 1 (k) expected a number, got string")
    assert.has_error(function() nn.L0Project() end,
      "sgen.nn.L0Project: argument 1 (k) expected a number, got nil")
    assert.has_error(function() nn.L0Project(0 / 0) end,
      "sgen.nn.L0Project: argument 1 (k) expected a number, got nan")
    -- a k larger than the sample: the projection's own message
    local ok, err = pcall(function() return nn.L0Project(50)(sg.randn(1, 3, 2, 2)) end)
    assert.is_false(ok)
    assert.matches("sgen.l0_project: k = 50 is more than the 12 entries per sample (input 1x3x2x2)",
      err, 1, true)
  end)
end)

describe("nn.L0InfProject", function()
  it("keeps k channels per needle (sample and position): the largest in magnitude", function()
    local x = distinct(6, 2, 8, 5, 3)
    for _, k in ipairs({1, 3, 8}) do
      local y = nn.L0InfProject(k)(x)
      assert.are.equal(shape_str(x), shape_str(y))
      local counts = nonzeros(y, 2) -- 2 x 5 x 3: one count per needle
      assert.are.equal("2x5x3", shape_str(counts))
      assert.is_true(all_equal(counts, k), "k = " .. k)
      local kept = y:ne(0):float()
      assert.are.equal(0, maxdiff(y, x * kept))
      -- at every needle the smallest kept magnitude beats the largest dropped one
      local ax = x:abs()
      local min_kept = (ax * kept + (1 - kept) * 1e9):min(2)
      local max_dropped = (ax * (1 - kept)):max(2)
      assert.is_true(all_equal(min_kept:gt(max_dropped), 1), "k = " .. k)
    end
    -- the same as the functional projection
    assert.are.equal(0, maxdiff(nn.L0InfProject(3)(x), sg.sparse.l0inf_project(x, 3)))
  end)

  it("projects along another dim with {dim = d}", function()
    local x = distinct(7, 2, 3, 6, 4)
    local y = nn.L0InfProject(2, {dim = 3})(x)
    assert.is_true(all_equal(nonzeros(y, 3), 2))
    assert.are.equal(0, maxdiff(nn.L0InfProject(1, {dim = -1})(x),
      sg.sparse.l0inf_project(x, 1, {dim = 4})))
    -- N x C inputs: each row keeps k entries
    local m = distinct(8, 4, 6):reshape(4, 6)
    assert.is_true(all_equal(nonzeros(nn.L0InfProject(2)(m), 2), 2))
  end)

  it("passes the gradient through the kept entries only", function()
    local x = distinct(9, 2, 6, 3, 3):requires_grad_()
    local w = distinct(10, 2, 6, 3, 3)
    local y = nn.L0InfProject(2)(x)
    local loss = (y * w):sum()
    loss:backward()
    local mask = y:detach():ne(0):float()
    assert.are.equal(0, maxdiff(x.grad, w * mask))
    assert.is_true(all_equal(x.grad:ne(0):float():sum(2), 2))
  end)

  it("passes gradcheck in float64", function()
    local x = distinct(11, 2, 4, 2, 3):double():requires_grad_()
    assert.is_true(sg.gradcheck(function(a) return nn.L0InfProject(2)(a) end, {x}))
    assert.is_true(sg.gradcheck(function(a) return nn.L0InfProject(1, {dim = 3})(a) end, {x}))
  end)

  it("has no parameters nor state, and prints k and dim", function()
    local m = nn.L0InfProject(4)
    assert.are.equal(0, #m:parameters())
    assert.same({}, m:state_dict_keys())
    assert.are.equal("L0InfProject(k=4, dim=2)", tostring(m))
    assert.are.equal("L0InfProject(k=2, dim=3)", tostring(nn.L0InfProject(2, {dim = 3})))
    assert.are.equal("L0InfProject(k=2, dim=2)", tostring(nn.L0InfProject(2.0)))
  end)

  it("rejects a bad k and unknown options", function()
    assert.has_error(function() nn.L0InfProject(0) end,
      "sgen.nn.L0InfProject: argument 1 (k) must be at least 1, got 0")
    assert.has_error(function() nn.L0InfProject(0.5) end,
      "sgen.nn.L0InfProject: argument 1 (k) must be a positive integer, got 0.5")
    assert.has_error(function() nn.L0InfProject(true) end,
      "sgen.nn.L0InfProject: argument 1 (k) expected a number, got boolean")
    assert.has_error(function() nn.L0InfProject(2, {foo = 1}) end,
      "sgen.nn.L0InfProject: unknown option 'foo' (expected dim)")
    assert.has_error(function() nn.L0InfProject(2, 3) end,
      "sgen.nn.L0InfProject: argument 2 (opts) expected a table, got number")
    local ok, err = pcall(function() return nn.L0InfProject(5)(sg.randn(1, 3, 2, 2)) end)
    assert.is_false(ok)
    assert.matches("sgen.l0inf_project: k = 5 out of range: expected 1..3 (the size of dim 2 of input 1x3x2x2)",
      err, 1, true)
    ok, err = pcall(function() return nn.L0InfProject(2, {dim = 5})(sg.randn(1, 3, 2, 2)) end)
    assert.is_false(ok)
    assert.matches("sgen.l0inf_project: option 'dim' 5 out of range for a tensor with 4 dims", err, 1, true)
  end)
end)

describe("nn.SoftThreshold", function()
  local v = function() return sg.tensor({{-3, -1, -0.25, 0, 0.5, 2}}) end

  it("shrinks towards zero by a fixed lambda", function()
    assert.same({{-2.5, -0.5, 0, 0, 0, 1.5}}, nn.SoftThreshold(0.5)(v()):totable())
    assert.same({{-2, 0, 0, 0, 0, 1}}, nn.SoftThreshold(1)(v()):totable())
    assert.same(v():totable(), nn.SoftThreshold(0)(v()):totable())
    local m = nn.SoftThreshold(0.5)
    assert.are.equal(0, #m:parameters())
    assert.same({}, m:state_dict_keys())
  end)

  it("with learnable = true holds lambda as a parameter named 'lambda'", function()
    local m = nn.SoftThreshold(0.5, {learnable = true})
    local params = m:parameters()
    assert.are.equal(1, #params)
    assert.are.equal(m.lambda, params[1])
    assert.same({"lambda"}, m:state_dict_keys())
    local sd = m:state_dict()
    assert.same({0.5}, sd.lambda:totable())
    assert.same({{-2.5, -0.5, 0, 0, 0, 1.5}}, m(v()):totable())
    -- load_state_dict changes the threshold used by forward
    m:load_state_dict({lambda = sg.tensor({1.0})})
    assert.same({1}, m.lambda:totable())
    assert.same({{-2, 0, 0, 0, 0, 1}}, m(v()):totable())
    assert.is_true(m.lambda:needs_grad())
  end)

  it("learns one threshold per channel with channels = C", function()
    local m = nn.SoftThreshold(0.5, {learnable = true, channels = 3})
    assert.same({3, 1, 1}, m.lambda:shape())
    assert.same({"lambda"}, m:state_dict_keys())
    m:load_state_dict({lambda = sg.tensor({{{0.0}}, {{1}}, {{2}}})})
    local x = sg.full({2, 3, 1, 2}, 2.5)
    local y = m(x)
    assert.same({{{{2.5, 2.5}}, {{1.5, 1.5}}, {{0.5, 0.5}}}, {{{2.5, 2.5}}, {{1.5, 1.5}}, {{0.5, 0.5}}}},
      y:totable())
  end)

  it("gives the input and the learnable lambda their gradients", function()
    local m = nn.SoftThreshold(1, {learnable = true})
    local x = sg.tensor({{-3, -0.5, 0.5, 2, 4}}):requires_grad_()
    m(x):sum():backward()
    assert.same({{1, 0, 0, 1, 1}}, x.grad:totable())
    -- d/dlambda sum(sign(x)(|x| - lambda)) over |x| > lambda = -sum(sign(x)) = -(-1 + 1 + 1)
    assert.same({-1}, m.lambda.grad:totable())
    -- per channel: the sums of -sign(x) over each channel's surviving entries
    local mc = nn.SoftThreshold(0.5, {learnable = true, channels = 2})
    local xc = sg.tensor({{{{1, 2, -0.3}}, {{-1, -2, 0.1}}}}) -- 1x2x1x3
    mc(xc):sum():backward()
    assert.same({{{-2}}, {{2}}}, mc.lambda.grad:totable())
  end)

  it("passes gradcheck in float64 (input and learnable lambda)", function()
    sg.manual_seed(21)
    local x = sg.randn(2, 3, 2, 2, {dtype = "float64"}):requires_grad_()
    assert.is_true(sg.gradcheck(function(a) return nn.SoftThreshold(0.3)(a) end, {x}))
    local m = nn.SoftThreshold(0.3, {learnable = true, channels = 3}):double()
    assert.are.equal("float64", m.lambda:dtype())
    assert.is_true(sg.gradcheck(function(a, lam)
      m:load_state_dict({lambda = lam})
      return sg.sparse.soft_threshold(a, lam)
    end, {x, m.lambda:detach():clone():requires_grad_()}))
    -- through the module itself: lambda is its parameter
    assert.is_true(sg.gradcheck(function(a) return m(a) end, {x}))
    local lam = m.lambda
    assert.is_true(sg.gradcheck(function(_) return m(x:detach()) end, {lam}))
  end)

  it("prints lambda, or that it is learnable", function()
    assert.are.equal("SoftThreshold(lambda=0.5)", tostring(nn.SoftThreshold(0.5)))
    assert.are.equal("SoftThreshold(lambda=2)", tostring(nn.SoftThreshold(2)))
    assert.are.equal("SoftThreshold(learnable=true)", tostring(nn.SoftThreshold(0.5, {learnable = true})))
    assert.are.equal("SoftThreshold(learnable=true, channels=3)",
      tostring(nn.SoftThreshold(0.5, {learnable = true, channels = 3})))
    assert.are.equal("Sequential(\n  (1): L0InfProject(k=2, dim=2)\n  (2): SoftThreshold(lambda=0.1)\n)",
      tostring(nn.Sequential(nn.L0InfProject(2), nn.SoftThreshold(0.1))))
  end)

  it("rejects a bad lambda and unknown options", function()
    assert.has_error(function() nn.SoftThreshold(-1) end,
      "sgen.nn.SoftThreshold: argument 1 (lambda) expected a non-negative number, got -1")
    assert.has_error(function() nn.SoftThreshold("x") end,
      "sgen.nn.SoftThreshold: argument 1 (lambda) expected a non-negative number, got string")
    assert.has_error(function() nn.SoftThreshold() end,
      "sgen.nn.SoftThreshold: argument 1 (lambda) expected a non-negative number, got nil")
    assert.has_error(function() nn.SoftThreshold(0 / 0) end,
      "sgen.nn.SoftThreshold: argument 1 (lambda) expected a non-negative number, got nan")
    assert.has_error(function() nn.SoftThreshold(1, {bar = true}) end,
      "sgen.nn.SoftThreshold: unknown option 'bar' (expected channels, learnable)")
    assert.has_error(function() nn.SoftThreshold(1, "learnable") end,
      "sgen.nn.SoftThreshold: argument 2 (opts) expected a table, got string")
    assert.has_error(function() nn.SoftThreshold(1, {channels = 0}) end,
      "sgen.nn.SoftThreshold: option 'channels' expected a positive integer, got 0")
    assert.has_error(function() nn.SoftThreshold(1, {channels = 2.5}) end,
      "sgen.nn.SoftThreshold: option 'channels' expected a positive integer, got 2.5")
    local ok, err = pcall(function()
      return nn.SoftThreshold(1, {learnable = true, channels = 4})(sg.randn(1, 3, 2, 2))
    end)
    assert.is_false(ok)
    assert.matches("sgen.soft_threshold: lambda of shape 4x1x1 does not broadcast to the input's 1x3x2x2",
      err, 1, true)
  end)
end)
