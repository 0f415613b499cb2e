-- Autograd from Lua: backward, .grad accumulation, sg.grad (higher order),
-- grad mode (no_grad / enable_grad / set_grad_enabled), gradcheck.
local sg = require "sgen"
local H = require "spec.helpers"

-- The error of f(...), without the "file:line: " that luaL_error adds when
-- a C function is called from Lua code (as assert.has_error strips it).
local err_of = H.error_message

local function near_all(expected, got, tol)
  assert.equal(#expected, #got)
  for i = 1, #expected do assert.near(expected[i], got[i], tol or 1e-5) end
end

describe("x:backward", function()
  it("computes gradients of leaves", function()
    local w = sg.tensor({1.0, -2, 3}):requires_grad_()
    local loss = (w * w):sum()
    loss:backward()
    assert.same({2, -4, 6}, w.grad:totable())
    assert.is_true(w.is_leaf)
    assert.is_false(loss.is_leaf)
  end)

  it("accumulates into .grad, which can be reset with w.grad = nil or zero_()", function()
    local w = sg.tensor({1.0, 2}):requires_grad_()
    ;(w * 3):sum():backward()
    ;(w * w):sum():backward()
    assert.same({5, 7}, w.grad:totable()) -- 3 + 2w
    w.grad = nil
    assert.is_nil(w.grad)
    ;(w * 3):sum():backward()
    assert.same({3, 3}, w.grad:totable())
    w.grad:zero_()
    ;(w * w):sum():backward()
    assert.same({2, 4}, w.grad:totable())
  end)

  it("takes a gradient for non-scalar tensors", function()
    local w = sg.tensor({1.0, 2, 3}):requires_grad_()
    local y = w * w
    y:backward(sg.tensor({1.0, 0, -1}))
    assert.same({2, 0, -6}, w.grad:totable())
  end)

  it("frees the graph unless retain_graph is set", function()
    local w = sg.tensor({2.0}):requires_grad_()
    local y = (w * w * w):sum()
    y:backward({retain_graph = true})
    y:backward()
    assert.same({24}, w.grad:totable()) -- 2 * 3w^2
    local e = err_of(function() y:backward() end)
    assert.equal("sgen.backward through mul a second time: its saved tensors were freed; pass "
      .. "retain_graph=true to the first backward", e)
  end)

  it("builds a differentiable gradient with create_graph", function()
    local x = sg.tensor({2}, {dtype = "float64"}):requires_grad_()
    ;(x * x * x):sum():backward({create_graph = true})
    local g = x.grad -- 3x^2, itself part of a graph
    assert.same({12}, g:totable())
    assert.is_false(g.is_leaf)
    x.grad = nil
    g:sum():backward()
    assert.same({12}, x.grad:totable()) -- 6x
  end)

  it("raises clear errors", function()
    local w = sg.tensor({1.0, 2}):requires_grad_()
    local c = sg.tensor({1.0, 2})
    assert.equal("sgen.backward: tensor 1 (scalar) does not require grad and has no grad_fn; was "
      .. "it computed under no_grad or from tensors without requires_grad?",
      err_of(function() (c * 2):sum():backward() end))
    assert.equal("sgen.backward: tensor 1 (2) does not require grad and has no grad_fn; was it "
      .. "computed under no_grad or from tensors without requires_grad?",
      err_of(function() c:backward() end))
    assert.equal("sgen.backward: tensor 1 has shape 2; a gradient can be implied only for a "
      .. "one-element tensor, pass one", err_of(function() (w * 2):backward() end))
    assert.equal("sgen.backward: gradient 1 has shape 3, the tensor has 2",
      err_of(function() (w * 2):backward(sg.ones(3)) end))
    assert.equal("sgen.backward: argument 2 (gradient) expected a tensor, got number",
      err_of(function() (w * 2):sum():backward(1) end))
    assert.equal("sgen.backward: unknown option 'retain' (expected retain_graph, create_graph)",
      err_of(function() (w * 2):sum():backward({retain = true}) end))
    assert.equal("sgen.backward: option 'create_graph' expected a boolean, got number",
      err_of(function() (w * 2):sum():backward(nil, {create_graph = 1}) end))
  end)
end)

describe("sg.backward", function()
  it("runs backward from several tensors with optional gradients", function()
    local w = sg.tensor({1.0, 2}):requires_grad_()
    local a = (w * w):sum()
    local b = w * 3
    sg.backward({a, b}, {nil, sg.tensor({1.0, 10})})
    assert.same({2 + 3, 4 + 30}, w.grad:totable())
  end)

  it("accepts one tensor and an options table in second place", function()
    local w = sg.tensor({3.0}):requires_grad_()
    local y = (w * w):sum()
    sg.backward(y, {retain_graph = true})
    sg.backward({y})
    assert.same({12}, w.grad:totable())
  end)

  it("raises clear errors", function()
    local w = sg.tensor({1.0}):requires_grad_()
    assert.equal("sgen.backward: tensors[2] is number, expected a tensor",
      err_of(sg.backward, {w * 2, 3}))
    assert.equal("sgen.backward: argument 1 (tensors) is an empty list, expected at least one tensor",
      err_of(sg.backward, {}))
    assert.equal("sgen.backward: argument 2 (grad_tensors)[2] is string, expected a tensor or nil",
      err_of(sg.backward, {w * 2, w * 3}, {sg.ones(1), "x"}))
    assert.equal("sgen.backward: tensor 2 (1) does not require grad and has no grad_fn; was it "
      .. "computed under no_grad or from tensors without requires_grad?",
      err_of(sg.backward, {w * 2, sg.ones(1)}))
  end)
end)

describe("sg.grad", function()
  it("returns gradients without touching .grad", function()
    local x = sg.tensor({1, 2}, {dtype = "float64"}):requires_grad_()
    local y = sg.tensor({3}, {dtype = "float64"}):requires_grad_()
    local out = (x * x):sum() + (x * y):sum()
    local g = sg.grad({out}, {x, y})
    assert.same({2 + 3, 4 + 3}, g[1]:totable())
    assert.same({3}, g[2]:totable())
    assert.is_nil(x.grad)
    assert.is_nil(y.grad)
  end)

  it("gives second derivatives with create_graph", function()
    local x = sg.tensor({0.5, 2}, {dtype = "float64"}):requires_grad_()
    local y = (x * x * x):sum()
    local g = sg.grad({y}, {x}, {create_graph = true})[1]
    near_all({0.75, 12}, g:totable(), 1e-12) -- 3x^2
    assert.is_false(g.is_leaf)
    local h = sg.grad({g:sum()}, {x})[1]
    near_all({3, 12}, h:totable(), 1e-12) -- 6x
    -- third order (on a fresh graph: computing h without retain_graph freed
    -- the nodes of y that g's graph goes through, as in PyTorch)
    y = (x * x * x):sum()
    local g2 = sg.grad({y}, {x}, {create_graph = true})[1]
    local h2 = sg.grad({g2:sum()}, {x}, {create_graph = true})[1]
    local k = sg.grad({h2:sum()}, {x})[1]
    near_all({6, 6}, k:totable(), 1e-12)
  end)

  it("takes grad_outputs and a single tensor for outputs and inputs", function()
    local x = sg.tensor({1.0, 2}):requires_grad_()
    local g = sg.grad(x * x, x, {grad_outputs = sg.tensor({1.0, -1})})
    assert.same({2, -4}, g[1]:totable())
  end)

  it("returns nil for unused inputs with allow_unused", function()
    local x = sg.tensor({1.0}):requires_grad_()
    local z = sg.tensor({1.0}):requires_grad_()
    local y = (x * 2):sum()
    local g = sg.grad({y}, {z, x}, {allow_unused = true, retain_graph = true})
    assert.is_nil(g[1])
    assert.same({2}, g[2]:totable())
    assert.equal("sgen.grad: inputs[1] is not reachable from the outputs (pass allow_unused=true "
      .. "to get nil for it)", err_of(sg.grad, {y}, {z, x}))
  end)

  it("raises clear errors", function()
    local x = sg.tensor({1.0}):requires_grad_()
    local c = sg.tensor({1.0})
    assert.equal("sgen.grad: inputs[1] (1) does not require grad",
      err_of(sg.grad, {x * 2}, {c}))
    assert.equal("sgen.grad: argument 2 (inputs) expected a tensor or a list of tensors, got no value",
      err_of(sg.grad, {x * 2}))
    assert.equal("sgen.grad: unknown option 'create' (expected grad_outputs, retain_graph, "
      .. "create_graph, allow_unused)", err_of(sg.grad, {x * 2}, {x}, {create = true}))
    assert.equal("sgen.grad: option 'grad_outputs'[1] is number, expected a tensor or nil",
      err_of(sg.grad, {x * 2}, {x}, {grad_outputs = {1}}))
  end)
end)

describe("grad mode", function()
  after_each(function() sg.set_grad_enabled(true) end)

  it("no_grad runs fn without recording, passes arguments and returns its results", function()
    local w = sg.tensor({1.0}):requires_grad_()
    local y, extra, n = sg.no_grad(function(a, b)
      assert.is_false(sg.is_grad_enabled())
      return a * 2, b, select("#", a, b)
    end, w, "x")
    assert.is_false(y:needs_grad())
    assert.is_nil(y.grad_fn)
    assert.equal("x", extra)
    assert.equal(2, n)
    assert.is_true(sg.is_grad_enabled())
    assert.is_true((w * 2):needs_grad())
  end)

  it("no_grad restores the mode after an error and re-raises it unchanged", function()
    local e = err_of(sg.no_grad, function() error("boom", 0) end)
    assert.equal("boom", e)
    assert.is_true(sg.is_grad_enabled())
    local obj = {code = 7}
    assert.equal(obj, err_of(sg.no_grad, function() error(obj) end))
    assert.is_true(sg.is_grad_enabled())
    -- an engine error inside
    assert.matches("^sgen%.", err_of(sg.no_grad, function() return sg.zeros(2) + sg.zeros(3) end))
    assert.is_true(sg.is_grad_enabled())
  end)

  it("enable_grad turns recording back on inside no_grad, and both nest", function()
    local w = sg.tensor({1.0}):requires_grad_()
    sg.no_grad(function()
      local y = sg.enable_grad(function()
        assert.is_true(sg.is_grad_enabled())
        return w * 2
      end)
      assert.is_false(sg.is_grad_enabled())
      assert.is_true(y:needs_grad())
      local ok = pcall(sg.enable_grad, function() error("x") end)
      assert.is_false(ok)
      assert.is_false(sg.is_grad_enabled())
    end)
    assert.is_true(sg.is_grad_enabled())
  end)

  it("set_grad_enabled returns the previous mode", function()
    assert.is_true(sg.set_grad_enabled(false))
    assert.is_false(sg.is_grad_enabled())
    local w = sg.tensor({1.0}):requires_grad_()
    assert.is_false((w * 2):needs_grad())
    assert.is_false(sg.set_grad_enabled(true))
    assert.is_true(sg.is_grad_enabled())
  end)

  it("checks arguments", function()
    assert.equal("sgen.no_grad: argument 1 (fn) expected a function, got number", err_of(sg.no_grad, 3))
    assert.equal("sgen.enable_grad: argument 1 (fn) expected a function, got no value", err_of(sg.enable_grad))
    assert.equal("sgen.set_grad_enabled: argument 1 (mode) expected a boolean, got number",
      err_of(sg.set_grad_enabled, 1))
  end)
end)

describe("sg.gradcheck / sg.gradgradcheck", function()
  local function f64(t) return sg.tensor(t, {dtype = "float64"}):requires_grad_() end

  it("pass on correct functions of several inputs", function()
    local a, b = f64({0.3, -1.2, 2}), f64({1.5, 0.5, -0.7})
    local f = function(x, y) return x * x * y + x:exp() - y:sin() * 3 end
    assert.is_true(sg.gradcheck(f, {a, b}))
    assert.is_true(sg.gradgradcheck(f, {a, b}))
    assert.is_true(sg.gradcheck(function(x) return (x * x):sum() end, a, {eps = 1e-5, atol = 1e-4}))
    -- the inputs are restored after the finite differences
    assert.same({0.3, -1.2, 2}, a:totable())
  end)

  it("inputs that do not require grad are passed through but not checked", function()
    local a, c = f64({1, 2}), sg.tensor({3, 4}, {dtype = "float64"})
    assert.is_true(sg.gradcheck(function(x, k) return x * k end, {a, c}))
  end)

  it("fail when a function cuts the graph (detach)", function()
    local a = f64({0.5, 1.5})
    local wrong = function(x) return x * x:detach() end
    local e = err_of(sg.gradcheck, wrong, {a})
    assert.matches("^sgen%.gradcheck: input 1, element 0: autograd .* vs finite difference", e)
    local ok, msg = sg.gradcheck(wrong, {a}, {raise_exception = false})
    assert.is_false(ok)
    assert.matches("^gradcheck: input 1, element 0", msg)
  end)

  it("gradgradcheck fails when only the second derivative is wrong", function()
    -- value x^2, first derivative 2x (right), but computed from a detached
    -- copy: the second derivative comes out 0 instead of 2
    local f = function(x)
      local c = (x * 2):detach()
      return (x * x):detach() + c * (x - x:detach())
    end
    local a = f64({0.5, -1})
    assert.is_true(sg.gradcheck(f, {a}))
    assert.matches("^sgen%.gradgradcheck: input 1, element 0: autograd 0 vs finite difference",
      err_of(sg.gradgradcheck, f, {a}))
  end)

  it("evaluate f with grad enabled, so a gradient penalty (sg.grad inside f) is checked", function()
    -- regression: the finite differences ran f under no_grad, where its inner
    -- sg.grad failed ("does not require grad"); PyTorch keeps grad enabled
    local penalty = function(x)
      local y = (x * x * x):sin():sum()
      local g = sg.grad({y}, {x}, {create_graph = true})[1]
      return (g * g):sum()
    end
    local a = f64({0.3, -0.8, 1.1})
    assert.is_true(sg.gradcheck(penalty, {a}))
    -- also from inside no_grad: the check turns grad mode on and restores it
    sg.no_grad(function() assert.is_true(sg.gradcheck(penalty, {a})) end)
    assert.is_true(sg.is_grad_enabled())
    assert.same({0.3, -0.8, 1.1}, a:totable())
  end)

  it("turn an error inside f into a Lua error after the check, restoring grad mode", function()
    local a = f64({1})
    local e = err_of(sg.gradcheck, function() error("inside f", 0) end, {a})
    assert.equal("sgen.gradcheck: the function raised an error: inside f", e)
    assert.is_true(sg.is_grad_enabled())
    local obj = {}
    assert.equal(obj, err_of(sg.gradgradcheck, function() error(obj) end, {a}))
    assert.is_true(sg.is_grad_enabled())
    -- an error on the second call (inside the finite differences)
    local calls = 0
    e = err_of(sg.gradcheck, function(x)
      calls = calls + 1
      if calls == 2 then error("second call", 0) end
      return x * 2
    end, {a})
    assert.equal("sgen.gradcheck: the function raised an error: second call", e)
    assert.is_true(sg.is_grad_enabled())
    assert.same({1}, a:totable())
  end)

  it("raise clear errors on bad arguments", function()
    local a = f64({1})
    assert.equal("sgen.gradcheck: f returned number, expected a tensor",
      err_of(sg.gradcheck, function() return 1 end, {a}))
    assert.equal("sgen.gradcheck: input 1 is float32; use float64 inputs",
      err_of(sg.gradcheck, function(x) return x * 2 end, {sg.tensor({1.0}):requires_grad_()}))
    assert.equal("sgen.gradcheck: no input requires grad",
      err_of(sg.gradcheck, function(x) return x * 2 end, {sg.tensor({1}, {dtype = "float64"})}))
    assert.equal("sgen.gradcheck: argument 1 (f) expected a function, got table",
      err_of(sg.gradcheck, {}, {a}))
    assert.equal("sgen.gradcheck: inputs[1] is number, expected a tensor",
      err_of(sg.gradcheck, function(x) return x end, {1}))
    assert.equal("sgen.gradcheck: unknown option 'tol' (expected eps, atol, rtol, seed, raise_exception)",
      err_of(sg.gradcheck, function(x) return x end, {a}, {tol = 1}))
    assert.equal("sgen.gradgradcheck: option 'eps' must be in (0, 1), got -1.0",
      err_of(sg.gradgradcheck, function(x) return x end, {a}, {eps = -1}))
  end)
end)
