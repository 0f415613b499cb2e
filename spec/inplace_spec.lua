-- In-place methods (add_ sub_ mul_ div_ clamp_ lerp_ addcmul_ addcdiv_ copy_
-- neg_ abs_ sqrt_ exp_ zero_ fill_ uniform_ normal_) and autograd's rules
-- for them: leaves that require grad, recorded writes, version counters.
local sg = require "sgen"
local H = require "spec.helpers"

local function f64(t) return sg.tensor(t, {dtype = "float64"}) end

describe("in-place methods", function()
  it("compute what the out-of-place ops compute, in the tensor's own memory", function()
    sg.manual_seed(1)
    local a = sg.randn(3, 4)
    local b = sg.randn(3, 4)
    local pos = sg.rand(3, 4) + 0.5
    local cases = {
      {"add_", {b}, a + b}, {"add_", {b, {alpha = 2}}, a + b * 2}, {"add_", {3}, a + 3},
      {"sub_", {b}, a - b}, {"sub_", {b, {alpha = -1}}, a + b}, {"mul_", {b}, a * b},
      {"mul_", {2}, a * 2}, {"div_", {pos}, a / pos}, {"neg_", {}, -a}, {"abs_", {}, a:abs()},
      {"clamp_", {-0.5, 0.5}, a:clamp(-0.5, 0.5)}, {"lerp_", {b, 0.25}, a + (b - a) * 0.25},
      {"lerp_", {b, pos}, a + (b - a) * pos},
      {"addcmul_", {b, pos, {value = 0.5}}, a + b * pos * 0.5},
      {"addcdiv_", {b, pos}, a + b / pos}, {"copy_", {b}, b}, {"fill_", {7}, sg.full({3, 4}, 7)},
      {"zero_", {}, sg.zeros(3, 4)},
    }
    for _, c in ipairs(cases) do
      local x = a:clone()
      local ret = x[c[1]](x, table.unpack(c[2]))
      assert.equal(x, ret, c[1] .. " returns self")
      H.assert_equal_tensors(x, c[3], c[1])
    end
    local p = pos:clone()
    p:sqrt_()
    H.assert_equal_tensors(p, pos:sqrt(), "sqrt_")
    p = a:clone()
    p:exp_()
    H.assert_equal_tensors(p, a:exp(), "exp_")
    -- a view writes through to its base
    local base = sg.zeros(2, 3)
    base:narrow(2, 2, 1):fill_(5)
    assert.same({{0, 5, 0}, {0, 5, 0}}, base:totable())
    base[1]:add_(1)
    assert.same({{1, 6, 1}, {0, 5, 0}}, base:totable())
  end)

  it("uniform_ and normal_ draw from the global RNG like rand / randn", function()
    local x = sg.empty(1000)
    sg.manual_seed(4)
    x:uniform_(-2, 3)
    sg.manual_seed(4)
    H.assert_equal_tensors(x, sg.rand(1000) * 5 - 2, "uniform_")
    assert.is_true(x:min():item() >= -2 and x:max():item() < 3)
    sg.manual_seed(5)
    x:normal_(1, 0.5)
    sg.manual_seed(5)
    H.assert_equal_tensors(x, sg.randn(1000) * 0.5 + 1, "normal_")
  end)

  it("reject what they cannot write", function()
    local i = sg.tensor({1, 2}, {dtype = "int64"})
    assert.has_error(function() i:mul_(0.5) end,
      "sgen.mul_: the result is float32, which cannot be written into a int64 tensor in place "
      .. "(convert with :to() first)")
    assert.has_error(function() sg.zeros(2):add_(sg.zeros(3, 2)) end,
      "sgen.add_: the result has shape 3x2, which does not fit the tensor written in place (2)")
    assert.has_error(function() sg.zeros(2):add_(sg.ones(2), {beta = 2}) end,
      "sgen.add_: unknown option 'beta' (expected alpha)")
    assert.has_error(function() sg.zeros(2):lerp_(sg.ones(2)) end,
      "sgen.lerp_: argument 2 (weight) is missing")
  end)
end)

describe("autograd and in-place writes", function()
  it("refuses a leaf that requires grad outside no_grad, allows it inside", function()
    local w = sg.ones(3):requires_grad_()
    for _, f in ipairs({function() w:add_(1) end, function() w:mul_(2) end,
                        function() w:copy_(sg.zeros(3)) end, function() w:fill_(0) end,
                        function() w:zero_() end, function() w:uniform_() end}) do
      assert.has_error(f, nil)
      local ok, err = pcall(f)
      assert.is_false(ok)
      assert.matches("a leaf tensor that requires grad %(float32 3%) cannot be modified in place", err)
    end
    H.assert_equal_tensors(w:detach(), sg.ones(3), "untouched")
    sg.no_grad(function()
      w:mul_(2):add_(1)
      w:copy_(w * 2)
    end)
    H.assert_equal_tensors(w:detach(), sg.full({3}, 6), "under no_grad")
    assert.is_true(w:needs_grad() and w.is_leaf)
  end)

  it("records a write into a computed tensor: gradients as out of place (float64 gradcheck)",
    function()
    sg.manual_seed(2)
    local x = sg.randn(4, {dtype = "float64"}):requires_grad_()
    local y = sg.randn(4, {dtype = "float64"}):requires_grad_()
    local pos = (sg.rand(4, {dtype = "float64"}) + 0.5):requires_grad_()
    local fns = {
      function(a, b) local t = a * 1; t:add_(b, {alpha = 3}); return t end,
      function(a, b) local t = a * 1; t:mul_(b); return t end,
      function(a, b) local t = a * 1; t:div_(b * b + 1); return t end,
      function(a, b) local t = a:sin(); t:mul_(a); t:sub_(b); return t end,
      function(a, b) local t = a * b; t:clamp_(-0.3, 0.3); return t end,
      function(a, b) local t = a * 1; t:lerp_(b, 0.3); return t end,
      function(a, b) local t = a * 1; t:addcmul_(a, b, {value = 2}); return t end,
      function(a, b) local t = b * 1; t:addcdiv_(a, b * b + 1); return t end,
      function(a, b) local t = (a * a + 1); t:sqrt_(); t:neg_(); return t end,
      function(a, b) local t = a * 1; t:abs_(); t:exp_(); return t + b end,
      function(a, b) local t = sg.zeros(4, {dtype = "float64"}); t:copy_(a * b); return t end,
    }
    for k, f in ipairs(fns) do
      assert.is_true(sg.gradcheck(f, {x, y}), "case " .. k)
    end
    -- with pos as b: a quotient that stays away from 0
    assert.is_true(sg.gradcheck(function(a, b) local t = a * 1; t:div_(b); return t end,
      {x, pos}))
    -- double backward through a recorded in-place op
    assert.is_true(sg.gradgradcheck(function(a, b) local t = a * 1; t:mul_(b); t:mul_(a)
      return t end, {x, y}))
  end)

  it("keeps the tensor's dtype, and the gradient of the other operand its own", function()
    local y = f64({1, 2}):requires_grad_()
    local x = sg.ones(2):requires_grad_()
    local t = x * 2 -- float32
    t:add_(y * 3)
    assert.equal("float32", t:dtype())
    t:sum():backward()
    assert.equal("float64", y.grad:dtype())
    assert.same({3, 3}, y.grad:totable())
    assert.same({2, 2}, x.grad:totable())
  end)

  it("a refused uniform_ / normal_ draws nothing from the RNG", function()
    local w = sg.ones(3):requires_grad_()
    sg.manual_seed(9)
    assert.has_error(function() w:uniform_() end)
    assert.has_error(function() w:normal_() end)
    local after = sg.rand(3)
    sg.manual_seed(9)
    H.assert_equal_tensors(after, sg.rand(3), "the stream is where it was")
  end)

  it("copy_ of a tensor that requires grad passes the gradient to the source", function()
    local src = f64({1, 2, 3}):requires_grad_()
    local dst = sg.zeros(2, 3, {dtype = "float64"})
    dst:copy_(src) -- broadcast
    assert.is_true(dst:needs_grad())
    local loss = (dst * f64({{1, 1, 1}, {2, 2, 2}})):sum()
    loss:backward()
    assert.same({3, 3, 3}, src.grad:totable())
  end)

  it("a constant written over a computed tensor cuts its history (zero gradient)", function()
    local x = f64({1, 2}):requires_grad_()
    local t = x * 2
    t:fill_(3)
    assert.is_false(t:needs_grad())
    local u = x * 2
    u:zero_()
    assert.is_nil(u.grad_fn)
    local loss = (x * 1):sum() + u:sum()
    loss:backward()
    assert.same({1, 1}, x.grad:totable())
  end)

  it("backward fails, naming the op, when a tensor it saved was written in place", function()
    local x = f64({1, 2}):requires_grad_()
    local h = x * 3
    local y = h * h -- saves h
    h:add_(1)
    local ok, err = pcall(function() y:sum():backward() end)
    assert.is_false(ok)
    assert.matches("mul: a tensor saved for its gradient %(float64 2%) was modified by an "
      .. "in%-place operation after it was saved %(its version is 1, expected 0%)", err)
    -- an output saved by its op (exp saves its result), written under no_grad
    local e = x:exp()
    sg.no_grad(function() e:mul_(2) end)
    ok, err = pcall(function() e:sum():backward() end)
    assert.is_false(ok)
    assert.matches("exp: a tensor saved for its gradient", err)
    -- a parameter updated between forward and backward (an optimizer step too early)
    local w = f64({0.5, 1.5}):requires_grad_()
    local l = (w * w):sum()
    sg.no_grad(function() w:add_(1) end)
    ok, err = pcall(function() l:backward() end)
    assert.is_false(ok)
    assert.matches("was modified by an in%-place operation", err)
    -- writes after backward are fine
    local w2 = f64({0.5}):requires_grad_()
    local l2 = (w2 * w2):sum()
    l2:backward()
    sg.no_grad(function() w2:add_(1) end)
    assert.same({1}, w2.grad:totable())
  end)

  it("refuses a recorded write into a tensor that shares its memory", function()
    local x = f64({1, 2, 3}):requires_grad_()
    local t = x * 1
    local v = t:narrow(1, 1, 2)
    local ok, err = pcall(function() v:mul_(2) end)
    assert.is_false(ok)
    assert.matches("sgen.mul_: the tensor written in place %(2%) shares its memory with another "
      .. "tensor", err)
    -- also with the copy of its result that exp saved for its backward
    local e = x:exp()
    ok, err = pcall(function() e:mul_(2) end)
    assert.is_false(ok)
    assert.matches("a copy autograd saved for a backward formula", err)
    -- outside autograd, views write through
    sg.no_grad(function() v:mul_(2) end)
    assert.same({2, 4, 3}, t:detach():totable())
  end)

  it("an optimizer step after backward, as training does, is unaffected", function()
    sg.manual_seed(3)
    local lin = sg.nn.Linear(3, 2)
    local opt = sg.optim.Adam(lin:parameters(), {lr = 0.1})
    for _ = 1, 3 do
      local loss = lin(sg.randn(4, 3)):pow(2):mean()
      opt:zero_grad()
      loss:backward()
      opt:step()
    end
    local sgd = sg.optim.SGD(lin:parameters(), {lr = 0.1, momentum = 0.9})
    for _ = 1, 3 do
      local loss = lin(sg.randn(4, 3)):pow(2):mean()
      sgd:zero_grad()
      loss:backward()
      sgd:step()
    end
    assert.is_true(lin.weight:needs_grad())
  end)
end)
