-- sg.optim: optimizers against PyTorch 1.13 (fixtures made by
-- tools/make_optim_fixtures.py), state_dict and safetensors round trips,
-- learning-rate schedulers, and errors.
local sg = require "sgen"
local optim = sg.optim
local H = require "spec.helpers"

local C1, C2 = 0.7, 1.3
local flat = H.flat

-- Largest relative difference |a - b| / max(|b|, 1e-3) over the elements.
local function max_rel(a, b)
  assert.same(b:shape(), a:shape())
  local fa, fb = flat(a), flat(b)
  local worst = 0
  for i = 1, #fb do
    local d = math.abs(fa[i] - fb[i]) / math.max(math.abs(fb[i]), 1e-3)
    if d ~= d then d = math.huge end
    if d > worst then worst = d end
  end
  return worst
end

local function assert_close(a, b, tol, what)
  local r = max_rel(a, b)
  assert(r <= tol, string.format("%s: relative difference %.3g > %.3g", what or "", r, tol))
end

local assert_equal_tensors = H.assert_equal_tensors
local errmsg = H.error_of

-- The fixture's loss gradient, in the float64 operations of the script.
local function grad(p, t, c)
  return (p - t) * (2 * c) + p:cos()
end

local function fixture(name) return H.fixture("optim_" .. name) end

-- Fresh float64 leaves from a fixture's initial values.
local function params_from(fx)
  return fx["init.p1"]:clone():requires_grad_(), fx["init.p2"]:clone():requires_grad_()
end

local function set_grads(fx, p1, p2)
  sg.no_grad(function()
    p1.grad = grad(p1, fx["target.p1"], C1)
    p2.grad = grad(p2, fx["target.p2"], C2)
  end)
end

local CASES = {
  sgd = {
    {"sgd_plain", "SGD", {lr = 0.1}},
    {"sgd_momentum", "SGD", {lr = 0.05, momentum = 0.9}},
    {"sgd_nesterov_wd", "SGD", {lr = 0.05, momentum = 0.9, nesterov = true, weight_decay = 0.01}},
    {"sgd_dampening", "SGD", {lr = 0.05, momentum = 0.8, dampening = 0.3}},
    {"sgd_maximize", "SGD", {lr = 0.02, momentum = 0.5, maximize = true}},
    {"sgd_groups", "SGD", {lr = 0.03, momentum = 0.9}, {{lr = 0.1}, {momentum = 0.5}}},
  },
  adam = {
    {"adam_plain", "Adam", {lr = 0.1}},
    {"adam_wd", "Adam", {lr = 0.05, betas = {0.8, 0.95}, weight_decay = 0.1}},
    {"adam_amsgrad", "Adam", {lr = 0.05, amsgrad = true}},
    {"adam_maximize", "Adam", {lr = 0.01, eps = 1e-6, maximize = true}},
  },
  adamw = {
    {"adamw_plain", "AdamW", {lr = 0.05}},
    {"adamw_amsgrad_wd", "AdamW", {lr = 0.05, weight_decay = 0.1, amsgrad = true}},
  },
  rmsprop = {
    {"rmsprop_plain", "RMSprop", {lr = 0.01}},
    {"rmsprop_centered_momentum", "RMSprop", {lr = 0.01, centered = true, momentum = 0.9}},
    {"rmsprop_wd", "RMSprop", {lr = 0.01, alpha = 0.9, weight_decay = 0.1}},
  },
}

local function make(cls, p1, p2, opts, groups)
  if groups then
    local g1, g2 = {params = {p1}}, {params = {p2}}
    for k, v in pairs(groups[1]) do g1[k] = v end
    for k, v in pairs(groups[2]) do g2[k] = v end
    return optim[cls]({g1, g2}, opts)
  end
  return optim[cls]({p1, p2}, opts)
end

describe("sg.optim against PyTorch 1.13 (10 steps, float64)", function()
  for file, cases in pairs(CASES) do
    for _, case in ipairs(cases) do
      local name, cls, opts, groups = case[1], case[2], case[3], case[4]
      it(name, function()
        local fx = fixture(file)
        local p1, p2 = params_from(fx)
        local opt = make(cls, p1, p2, opts, groups)
        for k = 1, 10 do
          set_grads(fx, p1, p2)
          opt:step()
          assert_close(p1, fx[name .. ".p1"]:select(1, k), 1e-10, name .. " p1 step " .. k)
          assert_close(p2, fx[name .. ".p2"]:select(1, k), 1e-10, name .. " p2 step " .. k)
        end
        -- the parameters are still leaves that require grad, with no graph
        assert.is_true(p1.is_leaf)
        assert.is_nil(p1.grad_fn)
        assert.is_true(p1:needs_grad())
        for _, s in pairs(opt.state) do
          for _, v in pairs(s) do
            if type(v) ~= "number" then assert.is_false(v:needs_grad()) end
          end
        end
      end)
    end
  end

  it("matches with gradients from backward (the parameters' graph is not disturbed)", function()
    local fx = fixture("adam")
    local p1, p2 = params_from(fx)
    local opt = optim.Adam({p1, p2}, {lr = 0.05, amsgrad = true})
    for k = 1, 10 do
      opt:zero_grad()
      local l1 = (p1 - fx["target.p1"]) ^ 2 * C1 + p1:sin()
      local l2 = (p2 - fx["target.p2"]) ^ 2 * C2 + p2:sin()
      l1:backward(sg.ones_like(l1))
      l2:backward(sg.ones_like(l2))
      opt:step()
      assert_close(p1, fx["adam_amsgrad.p1"]:select(1, k), 1e-10, "p1 step " .. k)
      assert_close(p2, fx["adam_amsgrad.p2"]:select(1, k), 1e-10, "p2 step " .. k)
    end
  end)

  it("work on float32 parameters (close to the float64 reference)", function()
    local fx = fixture("adam")
    local p1, p2 = fx["init.p1"]:float():requires_grad_(), fx["init.p2"]:float():requires_grad_()
    local opt = optim.Adam({p1, p2}, {lr = 0.1})
    local t1, t2 = fx["target.p1"]:float(), fx["target.p2"]:float()
    for _ = 1, 10 do
      sg.no_grad(function()
        p1.grad = grad(p1, t1, C1)
        p2.grad = grad(p2, t2, C2)
      end)
      opt:step()
    end
    assert.equal("float32", p1:dtype())
    assert.equal("float32", opt.state[p1].exp_avg:dtype())
    assert_close(p1:double(), fx["adam_plain.p1"]:select(1, 10), 1e-4, "p1")
    assert_close(p2:double(), fx["adam_plain.p2"]:select(1, 10), 1e-4, "p2")
  end)
end)

describe("Optimizer:step", function()
  it("skips parameters without a gradient", function()
    local a = sg.tensor({1, 2}, {dtype = "float64"}):requires_grad_()
    local b = sg.tensor({3, 4}, {dtype = "float64"}):requires_grad_()
    local opt = optim.SGD({a, b}, {lr = 0.5, momentum = 0.9})
    a.grad = sg.tensor({1, 1}, {dtype = "float64"})
    opt:step()
    assert.same({0.5, 1.5}, a:totable())
    assert.same({3, 4}, b:totable())
    assert.is_nil(opt.state[b])
    assert.is_not_nil(opt.state[a].momentum_buffer)
  end)

  it("calls the closure with grad enabled and returns its value", function()
    local a = sg.tensor({1, 2}, {dtype = "float64"}):requires_grad_()
    local opt = optim.SGD({a}, {lr = 0.25})
    local calls, mode = 0, nil
    local ret = sg.no_grad(function()
      return opt:step(function()
        calls = calls + 1
        mode = sg.is_grad_enabled()
        a.grad = sg.tensor({2, 4}, {dtype = "float64"})
        return 42
      end)
    end)
    assert.equal(1, calls)
    assert.is_true(mode)
    assert.equal(42, ret)
    assert.same({0.5, 1}, a:totable())
  end)

  it("copies the first momentum buffer instead of aliasing the gradient", function()
    local a = sg.tensor({0, 0}, {dtype = "float64"}):requires_grad_()
    local opt = optim.SGD({a}, {lr = 1, momentum = 0.5})
    a.grad = sg.tensor({1, 1}, {dtype = "float64"})
    opt:step()
    a.grad:fill_(10)
    assert.same({1, 1}, opt.state[a].momentum_buffer:totable())
  end)

  it("frees its temporaries (memory stays flat over steps)", function()
    for _, c in ipairs({{"SGD", {lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.1}},
                        {"Adam", {amsgrad = true, weight_decay = 0.1, maximize = true}},
                        {"AdamW", {}},
                        {"RMSprop", {centered = true, momentum = 0.9, weight_decay = 0.1}}}) do
      local a = sg.randn(100, 100):requires_grad_()
      a.grad = sg.randn(100, 100)
      local opt = optim[c[1]]({a}, c[2])
      opt:step()
      opt:step()
      collectgarbage()
      local before = sg.memory_stats().live_bytes
      for _ = 1, 20 do opt:step() end
      assert.equal(before, sg.memory_stats().live_bytes, c[1])
    end
  end)

  it("uses a learning rate changed through param_groups", function()
    local a = sg.tensor({1}, {dtype = "float64"}):requires_grad_()
    local opt = optim.SGD({a}, {lr = 0.1})
    a.grad = sg.tensor({1}, {dtype = "float64"})
    opt.param_groups[1].lr = 0.5
    opt:step()
    assert.same({0.5}, a:totable())
  end)

  it("checks hyperparameters edited after construction", function()
    local a = sg.tensor({1}, {dtype = "float64"}):requires_grad_()
    local opt = optim.Adam({a})
    a.grad = sg.tensor({1}, {dtype = "float64"})
    opt.param_groups[1].lr = "fast"
    assert.equal("sgen.optim.Adam: param_groups[1].lr must be a number, got string",
                 errmsg(function() opt:step() end))
    opt.param_groups[1].lr = 1e-3
    opt.param_groups[1].betas = {0.9}
    assert.equal("sgen.optim.Adam: param_groups[1].betas must be a pair {beta1, beta2}, got a "
                 .. "table of 1 entries", errmsg(function() opt:step() end))
    assert.same({1}, a:totable())
  end)

  it("refuses a closure that is not a function and a call without a colon", function()
    local opt = optim.SGD({sg.zeros(2):requires_grad_()}, {lr = 0.1})
    assert.equal("sgen.optim.SGD.step: argument 1 (closure) expected a function, got number",
                 errmsg(function() opt:step(3) end))
    assert.equal("sgen.optim.Optimizer.step: call it as a method, opt:step(...)",
                 errmsg(function() opt.step() end))
    assert.equal("sgen.optim.Optimizer.zero_grad: call it as a method, opt:zero_grad(...)",
                 errmsg(function() opt.zero_grad() end))
  end)

  it("propagates an error from the closure and restores grad mode", function()
    local opt = optim.SGD({sg.zeros(2):requires_grad_()}, {lr = 0.1})
    local ok, err = pcall(function() opt:step(function() error("boom", 0) end) end)
    assert.is_false(ok)
    assert.equal("boom", err)
    assert.is_true(sg.is_grad_enabled())
  end)
end)

describe("Optimizer:zero_grad", function()
  it("sets gradients to nil by default", function()
    local a = sg.zeros(2):requires_grad_()
    local b = sg.zeros(3):requires_grad_()
    local opt = optim.Adam({a, b})
    a.grad = sg.ones(2)
    b.grad = sg.ones(3)
    opt:zero_grad()
    assert.is_nil(a.grad)
    assert.is_nil(b.grad)
  end)

  it("fills them with zeros with set_to_none = false", function()
    local a = sg.zeros(2):requires_grad_()
    local b = sg.zeros(3):requires_grad_()
    local opt = optim.Adam({a, b})
    a.grad = sg.ones(2)
    opt:zero_grad({set_to_none = false})
    assert.same({0, 0}, a.grad:totable())
    assert.is_nil(b.grad)
  end)

  it("checks its options", function()
    local opt = optim.Adam({sg.zeros(2):requires_grad_()})
    assert.equal("sgen.optim.Adam.zero_grad: unknown option 'set_to_zero' (expected "
                 .. "set_to_none)", errmsg(function() opt:zero_grad({set_to_zero = true}) end))
    assert.equal("sgen.optim.Adam.zero_grad: set_to_none must be a boolean, got number",
                 errmsg(function() opt:zero_grad({set_to_none = 0}) end))
    assert.equal("sgen.optim.Adam.zero_grad: argument 1 (options) expected a table, got "
                 .. "boolean", errmsg(function() opt:zero_grad(false) end))
  end)
end)

describe("construction", function()
  it("fills PyTorch's defaults", function()
    local p = sg.zeros(2):requires_grad_()
    local g = optim.Adam({p}).param_groups[1]
    assert.same({lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0,
                 amsgrad = false, maximize = false, params = {p}}, g)
    assert.equal(1e-2, optim.AdamW({p}).param_groups[1].weight_decay)
    g = optim.RMSprop({p}).param_groups[1]
    assert.same({lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0,
                 centered = false, maximize = false, params = {p}}, g)
    g = optim.SGD({p}, {lr = 0.1}).param_groups[1]
    assert.same({lr = 0.1, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false,
                 maximize = false, params = {p}}, g)
  end)

  it("accepts parameter groups, a single tensor as a group's params, and .new", function()
    local a, b = sg.zeros(2):requires_grad_(), sg.zeros(3):requires_grad_()
    local opt = optim.SGD.new({{params = a, lr = 0.5}, {params = {b}}}, {lr = 0.1, momentum = 0.9})
    assert.equal(2, #opt.param_groups)
    assert.equal(0.5, opt.param_groups[1].lr)
    assert.equal(0.9, opt.param_groups[1].momentum)
    assert.equal(0.1, opt.param_groups[2].lr)
    assert.equal(a, opt.param_groups[1].params[1])
  end)

  it("does not share the defaults' tables between groups", function()
    local a, b = sg.zeros(2):requires_grad_(), sg.zeros(3):requires_grad_()
    local betas = {0.5, 0.6}
    local opt = optim.Adam({{params = {a}}, {params = {b}}}, {betas = betas})
    opt.param_groups[1].betas[1] = 0.1
    assert.same({0.5, 0.6}, opt.param_groups[2].betas)
    assert.same({0.5, 0.6}, betas)
  end)

  it("add_param_group adds a group with the defaults", function()
    local a, b = sg.zeros(2):requires_grad_(), sg.zeros(3):requires_grad_()
    local opt = optim.Adam({a}, {lr = 0.01})
    opt:add_param_group({params = {b}, eps = 1e-3})
    assert.equal(2, #opt.param_groups)
    assert.equal(0.01, opt.param_groups[2].lr)
    assert.equal(1e-3, opt.param_groups[2].eps)
    b.grad = sg.ones(3)
    opt:step()
    assert.equal(1, opt.state[b].step)
    assert.equal("sgen.optim.Adam: param_group.params[1] appears more than once in the "
                 .. "optimizer's parameters", errmsg(function() opt:add_param_group({params = {a}}) end))
    assert.equal("sgen.optim.Adam.add_param_group: argument 1 (param_group) has no 'params'",
                 errmsg(function() opt:add_param_group({lr = 1}) end))
    assert.equal("sgen.optim.Adam.add_param_group: argument 1 (param_group) expected a table "
                 .. "{params = {...}, ...}, got number", errmsg(function() opt:add_param_group(1) end))
    assert.equal("sgen.optim.Adam: unknown option 'lrate' in param_group (expected params, lr, "
                 .. "betas, eps, weight_decay, amsgrad, maximize)",
                 errmsg(function() opt:add_param_group({params = {sg.zeros(1)}, lrate = 1}) end))
  end)

  it("prints like PyTorch", function()
    local opt = optim.SGD({sg.zeros(2):requires_grad_()}, {lr = 0.1})
    assert.equal("SGD (\nParameter Group 1\n    dampening: 0\n    lr: 0.1\n    maximize: false\n"
                 .. "    momentum: 0\n    nesterov: false\n    weight_decay: 0\n)", tostring(opt))
  end)
end)

describe("errors", function()
  local p
  before_each(function() p = sg.zeros(2):requires_grad_() end)

  it("bad learning rates", function()
    assert.equal("sgen.optim.SGD: lr must be >= 0, got -1",
                 errmsg(function() optim.SGD({p}, {lr = -1}) end))
    assert.equal("sgen.optim.Adam: lr must be a number, got string",
                 errmsg(function() optim.Adam({p}, {lr = "0.1"}) end))
    assert.equal("sgen.optim.RMSprop: lr must be >= 0, got nan",
                 errmsg(function() optim.RMSprop({p}, {lr = 0 / 0}) end):gsub("%-nan", "nan"))
    assert.equal("sgen.optim.SGD: option 'lr' is required (give it in the options or in every "
                 .. "parameter group)", errmsg(function() optim.SGD({p}) end))
    assert.equal("sgen.optim.SGD: params[1].lr must be >= 0, got -0.5",
                 errmsg(function() optim.SGD({{params = {p}, lr = -0.5}}, {lr = 1}) end))
  end)

  it("betas that are not a pair in [0, 1)", function()
    assert.equal("sgen.optim.Adam: betas must be a pair {beta1, beta2}, got number",
                 errmsg(function() optim.Adam({p}, {betas = 0.9}) end))
    assert.equal("sgen.optim.Adam: betas must be a pair {beta1, beta2}, got a table of 3 entries",
                 errmsg(function() optim.Adam({p}, {betas = {0.9, 0.99, 0.999}}) end))
    assert.equal("sgen.optim.AdamW: betas[2] must be in [0, 1), got 1",
                 errmsg(function() optim.AdamW({p}, {betas = {0.9, 1}}) end))
    assert.equal("sgen.optim.Adam: betas[1] must be a number, got string",
                 errmsg(function() optim.Adam({p}, {betas = {"a", 0.9}}) end))
  end)

  it("other bad hyperparameters", function()
    assert.equal("sgen.optim.Adam: eps must be >= 0, got -1e-08",
                 errmsg(function() optim.Adam({p}, {eps = -1e-8}) end))
    assert.equal("sgen.optim.Adam: amsgrad must be a boolean, got number",
                 errmsg(function() optim.Adam({p}, {amsgrad = 1}) end))
    assert.equal("sgen.optim.SGD: momentum must be >= 0, got -0.9",
                 errmsg(function() optim.SGD({p}, {lr = 0.1, momentum = -0.9}) end))
    assert.equal("sgen.optim.SGD: nesterov requires momentum > 0 and dampening = 0 (got "
                 .. "momentum 0, dampening 0)",
                 errmsg(function() optim.SGD({p}, {lr = 0.1, nesterov = true}) end))
    assert.equal("sgen.optim.SGD: nesterov requires momentum > 0 and dampening = 0 (got "
                 .. "momentum 0.9, dampening 0.1)", errmsg(function()
                   optim.SGD({p}, {lr = 0.1, nesterov = true, momentum = 0.9, dampening = 0.1})
                 end))
    assert.equal("sgen.optim.RMSprop: alpha must be >= 0, got -0.99",
                 errmsg(function() optim.RMSprop({p}, {alpha = -0.99}) end))
    assert.equal("sgen.optim.RMSprop: weight_decay must be >= 0, got -1",
                 errmsg(function() optim.RMSprop({p}, {weight_decay = -1}) end))
  end)

  it("unknown option keys name the optimizer and the key", function()
    assert.equal("sgen.optim.SGD: unknown option 'lrr' (expected lr, momentum, dampening, "
                 .. "weight_decay, nesterov, maximize)",
                 errmsg(function() optim.SGD({p}, {lrr = 0.1}) end))
    assert.equal("sgen.optim.Adam: unknown option 'beta1' (expected lr, betas, eps, "
                 .. "weight_decay, amsgrad, maximize)",
                 errmsg(function() optim.Adam({p}, {beta1 = 0.9}) end))
    assert.equal("sgen.optim.RMSprop: unknown option 'nesterov' (expected lr, alpha, eps, "
                 .. "weight_decay, momentum, centered, maximize)",
                 errmsg(function() optim.RMSprop({p}, {nesterov = true}) end))
    assert.equal("sgen.optim.AdamW: unknown option 'momentum' in params[2] (expected params, "
                 .. "lr, betas, eps, weight_decay, amsgrad, maximize)", errmsg(function()
                   optim.AdamW({{params = {p}}, {params = {sg.zeros(1)}, momentum = 0.9}})
                 end))
    assert.equal("sgen.optim.Adam: argument 2 (options) expected a table, got number",
                 errmsg(function() optim.Adam({p}, 0.1) end))
  end)

  it("bad params", function()
    assert.equal("sgen.optim.Adam: argument 1 (params) is an empty list",
                 errmsg(function() optim.Adam({}) end))
    assert.equal("sgen.optim.Adam: argument 1 (params) expected a list of tensors or of "
                 .. "parameter groups, got nil", errmsg(function() optim.Adam() end))
    assert.equal("sgen.optim.Adam: argument 1 (params) expected a list of tensors or of "
                 .. "parameter groups, got tensor", errmsg(function() optim.Adam(p) end))
    assert.equal("sgen.optim.SGD: params[2] is a number, expected a tensor",
                 errmsg(function() optim.SGD({p, 3}, {lr = 1}) end))
    assert.equal("sgen.optim.SGD: params[1].params[1] is a string, expected a tensor",
                 errmsg(function() optim.SGD({{params = {"w"}}}, {lr = 1}) end))
    assert.equal("sgen.optim.SGD: params[2] is a tensor, expected a parameter group "
                 .. "{params = {...}, ...} like params[1]",
                 errmsg(function() optim.SGD({{params = {p}}, sg.zeros(1)}, {lr = 1}) end))
    assert.equal("sgen.optim.Adam: argument 1 (params) must be a list, found the key 'weight' "
                 .. "(pass model:parameters() rather than named parameters)",
                 errmsg(function() optim.Adam({weight = p}) end))
    assert.equal("sgen.optim.Adam: params[1] has dtype int64, expected a floating-point tensor",
                 errmsg(function() optim.Adam({sg.tensor({1, 2}, {dtype = "int64"})}) end))
    local q = p * 2
    assert.equal("sgen.optim.Adam: params[1] is not a leaf tensor (it was computed by mul); "
                 .. "optimize the leaves, e.g. model:parameters()",
                 errmsg(function() optim.Adam({q}) end))
    assert.equal("sgen.optim.Adam: params[2] appears more than once in the optimizer's "
                 .. "parameters", errmsg(function() optim.Adam({p, p}) end))
    assert.equal("sgen.optim.Adam: params[2].params[1] appears more than once in the "
                 .. "optimizer's parameters",
                 errmsg(function() optim.Adam({{params = {p}}, {params = {p}}}) end))
    local f = sg.zeros(2)
    f:free()
    assert.equal("sgen.optim.Adam: params[1] is a freed tensor",
                 errmsg(function() optim.Adam({f}) end))
    assert.equal("sgen.optim.Adam: params[1].params is an empty list",
                 errmsg(function() optim.Adam({{params = {}}}) end))
  end)
end)

-- Runs `n` fixture steps (SGD/Adam/RMSprop cases) on p1, p2.
local function run(fx, opt, p1, p2, n)
  for _ = 1, n do
    set_grads(fx, p1, p2)
    opt:step()
  end
end

describe("state_dict", function()
  local configs = {
    {"SGD", {lr = 0.05, momentum = 0.9, nesterov = true}},
    {"Adam", {lr = 0.05, amsgrad = true}},
    {"AdamW", {lr = 0.05}},
    {"RMSprop", {lr = 0.01, centered = true, momentum = 0.5}},
  }
  for _, c in ipairs(configs) do
    it("round trip gives identical next steps: " .. c[1], function()
      local fx = fixture("adam")
      local a1, a2 = params_from(fx)
      local opt = optim[c[1]]({a1, a2}, c[2])
      run(fx, opt, a1, a2, 4)
      local sd = opt:state_dict()
      -- a second optimizer on copies of the parameters, from the state_dict
      local b1, b2 = a1:detach():clone():requires_grad_(), a2:detach():clone():requires_grad_()
      local opt2 = optim[c[1]]({b1, b2}, {lr = 123})
      opt2:load_state_dict(sd)
      assert.equal(c[2].lr, opt2.param_groups[1].lr)
      -- the loaded tensors are copies
      for k, v in pairs(sd.state[1]) do
        if type(v) ~= "number" then assert.are_not.equal(v, opt2.state[b1][k]) end
      end
      run(fx, opt, a1, a2, 5)
      run(fx, opt2, b1, b2, 5)
      assert_equal_tensors(b1, a1, "p1")
      assert_equal_tensors(b2, a2, "p2")
    end)
  end

  it("is indexed by parameter position like PyTorch", function()
    local a, b, c = sg.zeros(2):requires_grad_(), sg.zeros(3):requires_grad_(),
                    sg.zeros(1):requires_grad_()
    local opt = optim.Adam({{params = {a, b}, lr = 0.1}, {params = {c}}})
    b.grad = sg.ones(3)
    c.grad = sg.ones(1)
    opt:step()
    local sd = opt:state_dict()
    assert.same({1, 2}, sd.param_groups[1].params)
    assert.same({3}, sd.param_groups[2].params)
    assert.equal(0.1, sd.param_groups[1].lr)
    assert.is_nil(sd.state[1])
    assert.equal(1, sd.state[2].step)
    assert.same({3}, sd.state[2].exp_avg:shape())
    assert.same({1}, sd.state[3].exp_avg_sq:shape())
    -- the state_dict's groups are copies
    sd.param_groups[1].betas[1] = 0
    assert.equal(0.9, opt.param_groups[1].betas[1])
  end)

  it("returns the optimizer's own state tensors, updated in place as in PyTorch", function()
    local a = sg.tensor({1, 2}, {dtype = "float64"}):requires_grad_()
    local opt = optim.Adam({a})
    a.grad = sg.ones_like(a)
    opt:step()
    local sd = opt:state_dict()
    opt:step()
    assert.equal(opt.state[a].exp_avg, sd.state[1].exp_avg)
    assert.equal(1, sd.state[1].step)
    assert.equal(2, opt.state[a].step)
    assert.same(opt.state[a].exp_avg:totable(), sd.state[1].exp_avg:totable())
  end)

  it("loading does not alias the state_dict's tensors", function()
    local a = sg.tensor({1, 2}, {dtype = "float64"}):requires_grad_()
    local opt = optim.SGD({a}, {lr = 0.1, momentum = 0.9})
    a.grad = sg.ones_like(a)
    opt:step()
    local sd = opt:state_dict()
    local opt2 = optim.SGD({a}, {lr = 0.1})
    opt2:load_state_dict(sd)
    sd.state[1].momentum_buffer:fill_(7)
    assert.same({1, 1}, opt2.state[a].momentum_buffer:totable())
    assert.equal(0.9, opt2.param_groups[1].momentum)
  end)

  it("converts loaded state to the parameter's dtype", function()
    local a = sg.zeros(2):requires_grad_()
    local opt = optim.Adam({a})
    opt:load_state_dict({param_groups = {{params = {1}, lr = 0.1, betas = {0.9, 0.999},
                                          eps = 1e-8, weight_decay = 0, amsgrad = false,
                                          maximize = false}},
                         state = {[1] = {step = 3, exp_avg = sg.ones(2, {dtype = "float64"}),
                                         exp_avg_sq = sg.ones(2, {dtype = "float64"})}}})
    assert.equal("float32", opt.state[a].exp_avg:dtype())
    assert.equal(3, opt.state[a].step)
  end)

  it("refuses mismatches with clear messages", function()
    local a, b = sg.zeros(2):requires_grad_(), sg.zeros(3):requires_grad_()
    local opt = optim.Adam({a, b})
    a.grad, b.grad = sg.ones(2), sg.ones(3)
    opt:step()
    local sd = opt:state_dict()
    local function load_into(o, s) return errmsg(function() o:load_state_dict(s) end) end
    assert.equal("sgen.optim.Adam.load_state_dict: the state_dict has 1 parameter groups, the "
                 .. "optimizer has 2",
                 load_into(optim.Adam({{params = {a}}, {params = {b}}}), sd))
    assert.equal("sgen.optim.Adam.load_state_dict: parameter group 1 has 2 parameters in the "
                 .. "state_dict, 1 in the optimizer", load_into(optim.Adam({a}), sd))
    local c = sg.zeros(4):requires_grad_()
    assert.equal("sgen.optim.Adam.load_state_dict: state_dict.state[2].exp_avg has shape 3, "
                 .. "the parameter has shape 4", load_into(optim.Adam({a, c}), sd))
    assert.equal("sgen.optim.SGD: unknown option 'amsgrad' in state_dict.param_groups[1] "
                 .. "(expected params, lr, momentum, dampening, weight_decay, nesterov, "
                 .. "maximize)", load_into(optim.SGD({a, b}, {lr = 1}), sd))
    assert.equal("sgen.optim.Adam.load_state_dict: argument 1 (state_dict) expected a table "
                 .. "{state = ..., param_groups = ...}, got nil", load_into(optim.Adam({a, b}), nil))
    assert.equal("sgen.optim.Adam.load_state_dict: unexpected key 'groups' in the state_dict "
                 .. "(expected state, param_groups)",
                 load_into(optim.Adam({a, b}), {groups = {}, state = {}}))
    sd.state[7] = {step = 1}
    assert.equal("sgen.optim.Adam.load_state_dict: state_dict.state has an entry for "
                 .. "parameter 7, which is in no parameter group", load_into(optim.Adam({a, b}), sd))
    sd.state[7] = nil
    local saved = sd.state[1].exp_avg
    sd.state[1].exp_avg = nil
    assert.equal("sgen.optim.Adam.load_state_dict: state_dict.state[1] has no 'exp_avg'",
                 load_into(optim.Adam({a, b}), sd))
    sd.state[1].exp_avg = saved
    sd.state[1].step = sg.tensor(1.0)
    assert.equal("sgen.optim.Adam.load_state_dict: state_dict.state[1].step has shape scalar, "
                 .. "the parameter has shape 2", load_into(optim.Adam({a, b}), sd))
    sd.state[1].step = "1"
    assert.equal("sgen.optim.Adam.load_state_dict: state_dict.state[1].step is a string, "
                 .. "expected a number", load_into(optim.Adam({a, b}), sd))
    sd.state[1].step = 1
    sd.param_groups[1].lr = -1
    assert.equal("sgen.optim.Adam.load_state_dict: state_dict.param_groups[1].lr must be >= 0, "
                 .. "got -1", load_into(optim.Adam({a, b}), sd))
    -- nothing changed on failure
    local o = optim.Adam({a, b}, {lr = 0.5})
    pcall(function() o:load_state_dict(sd) end)
    assert.equal(0.5, o.param_groups[1].lr)
    assert.same({}, o.state)
  end)
end)

describe("saving the optimizer state to safetensors", function()
  local path
  before_each(function() path = os.tmpname() end)
  after_each(function() os.remove(path) end)

  for _, c in ipairs({{"Adam", {lr = 0.05, amsgrad = true, betas = {0.8, 0.95}}},
                      {"SGD", {lr = 0.05, momentum = 0.9}},
                      {"RMSprop", {lr = 0.01, centered = true, momentum = 0.5}}}) do
    it("save / resume gives identical subsequent steps: " .. c[1], function()
      local fx = fixture("adam")
      local a1, a2 = params_from(fx)
      local opt = optim[c[1]]({a1, a2}, c[2])
      run(fx, opt, a1, a2, 3)
      -- a checkpoint holding the model's weights and the optimizer's state
      local tensors, meta = optim.flatten_state(opt:state_dict())
      tensors["model.p1"], tensors["model.p2"] = a1, a2
      sg.save(path, tensors, {metadata = meta})

      local t, m = sg.load(path)
      local b1, b2 = t["model.p1"]:requires_grad_(), t["model.p2"]:requires_grad_()
      local opt2 = optim[c[1]]({b1, b2}, {lr = 1})
      opt2:load_state_dict(optim.unflatten_state(t, m))
      assert.same(opt.param_groups[1].betas, opt2.param_groups[1].betas)
      assert.equal(opt.param_groups[1].lr, opt2.param_groups[1].lr)
      run(fx, opt, a1, a2, 4)
      run(fx, opt2, b1, b2, 4)
      assert_equal_tensors(b1, a1, "p1")
      assert_equal_tensors(b2, a2, "p2")
    end)
  end

  it("names the tensors and metadata with a prefix", function()
    local a = sg.zeros(2):requires_grad_()
    local opt = optim.Adam({a}, {lr = 0.1})
    a.grad = sg.ones(2)
    opt:step()
    local sd = opt:state_dict()
    local tensors, meta = optim.flatten_state(sd, {prefix = "opt/"})
    local names = {}
    for k in pairs(tensors) do names[#names + 1] = k end
    table.sort(names)
    assert.same({"opt/state.1.exp_avg", "opt/state.1.exp_avg_sq"}, names)
    assert.equal("sgen.optim.state/1", meta["opt/format"])
    assert.equal('{"1":{"step":1}}', meta["opt/state"])
    assert.equal('[{"amsgrad":false,"betas":[0.9,0.999],"eps":1e-08,"lr":0.1,'
                 .. '"maximize":false,"params":[1],"weight_decay":0}]', meta["opt/param_groups"])
    local back = optim.unflatten_state(tensors, meta, {prefix = "opt/"})
    assert.same(sd.param_groups, back.param_groups)
    assert.equal(1, back.state[1].step)
    assert.equal(sd.state[1].exp_avg, back.state[1].exp_avg)
  end)

  it("keeps integers and floats apart and strings intact", function()
    local sd = {param_groups = {{params = {1, 2}, lr = 1.0, n = 3, s = 'a"b\\c\n',
                                 x = 0.1, y = 1e-300, z = -2.5e20}}, state = {}}
    local _, meta = optim.flatten_state(sd)
    local back = optim.unflatten_state({}, meta)
    assert.same(sd.param_groups, back.param_groups)
    assert.equal("float", math.type(back.param_groups[1].lr))
    assert.equal("integer", math.type(back.param_groups[1].n))
  end)

  it("reports bad input", function()
    assert.equal("sgen.optim.unflatten_state: metadata has no 'optim.format' (not an optimizer "
                 .. "state, or saved with another prefix)",
                 errmsg(function() optim.unflatten_state({}, {}) end))
    assert.equal("sgen.optim.unflatten_state: metadata 'optim.param_groups' is not valid JSON "
                 .. "(expected ',' or ']' at byte 4)", errmsg(function()
                   optim.unflatten_state({}, {["optim.format"] = "sgen.optim.state/1",
                                              ["optim.param_groups"] = "[1 2]"})
                 end))
    assert.equal("sgen.optim.unflatten_state: metadata 'optim.format' is 'x', expected "
                 .. "'sgen.optim.state/1'",
                 errmsg(function() optim.unflatten_state({}, {["optim.format"] = "x"}) end))
    assert.equal("sgen.optim.flatten_state: argument 1 (state_dict) expected a table "
                 .. "{state = ..., param_groups = ...}, got number",
                 errmsg(function() optim.flatten_state(1) end))
    assert.equal("sgen.optim.flatten_state: state_dict.param_groups[1].lr is inf, which JSON "
                 .. "metadata cannot hold", errmsg(function()
                   optim.flatten_state({param_groups = {{lr = math.huge}}, state = {}})
                 end))
    assert.equal("sgen.optim.flatten_state: unknown option 'prefx' (expected prefix)",
                 errmsg(function() optim.flatten_state({param_groups = {}}, {prefx = "a"}) end))
  end)
end)

describe("lr_scheduler against PyTorch 1.13", function()
  local S = optim.lr_scheduler
  local cases = {
    {"steplr", function(o) return S.StepLR(o, 3, {gamma = 0.5}) end},
    {"multisteplr", function(o) return S.MultiStepLR(o, {2, 5, 5, 9}, {gamma = 0.1}) end},
    {"exponentiallr", function(o) return S.ExponentialLR(o, 0.9) end},
    {"cosineannealinglr", function(o) return S.CosineAnnealingLR(o, 5, {eta_min = 0.001}) end},
    {"cosineannealinglr_default", function(o) return S.CosineAnnealingLR(o, 4) end},
  }
  local function two_groups()
    local a = sg.zeros(2, {dtype = "float64"}):requires_grad_()
    local b = sg.zeros(2, {dtype = "float64"}):requires_grad_()
    return optim.SGD({{params = {a}, lr = 0.1}, {params = {b}, lr = 0.05}}, {lr = 0.1})
  end
  for _, c in ipairs(cases) do
    it(c[1], function()
      local ref = fixture("lr_scheduler")[c[1] .. ".lr"]:totable()
      local opt = two_groups()
      local sched = c[2](opt)
      local function check(row)
        for i = 1, 2 do
          local want, got = ref[row][i], opt.param_groups[i].lr
          assert(math.abs(got - want) <= 1e-12 * math.max(math.abs(want), 1e-6),
                 string.format("row %d group %d: %.17g vs %.17g", row, i, got, want))
        end
        assert.same({opt.param_groups[1].lr, opt.param_groups[2].lr}, sched:get_last_lr())
      end
      check(1)
      for k = 1, 15 do
        opt:step()
        sched:step()
        check(k + 1)
      end
      assert.equal(15, sched.last_epoch)
      assert.equal(0.1, opt.param_groups[1].initial_lr)
    end)
  end

  it("step(epoch) uses the closed form", function()
    local opt = two_groups()
    local sched = S.StepLR(opt, 3, {gamma = 0.5})
    sched:step(7)
    assert.same({0.1 * 0.25, 0.05 * 0.25}, sched:get_last_lr())
    local cos = S.CosineAnnealingLR(two_groups(), 10, {eta_min = 0.01})
    cos:step(5)
    assert.near(0.01 + 0.09 * (1 + math.cos(math.pi * 5 / 10)) / 2, cos:get_last_lr()[1], 1e-15)
    local ms = S.MultiStepLR(two_groups(), {3, 1, 3})
    ms:step(4)
    assert.near(0.1 * 0.1 ^ 3, ms:get_last_lr()[1], 1e-18)
  end)

  it("state_dict round trip continues the same sequence", function()
    local opt = two_groups()
    local sched = S.CosineAnnealingLR(opt, 6, {eta_min = 0.01})
    for _ = 1, 4 do sched:step() end
    local osd, ssd = opt:state_dict(), sched:state_dict()
    assert.same({last_epoch = 4, base_lrs = {0.1, 0.05}, _step_count = 5,
                 _last_lr = sched:get_last_lr(), T_max = 6, eta_min = 0.01}, ssd)
    -- PyTorch's order: build both, then load the optimizer's and the scheduler's state
    local opt2 = two_groups()
    local sched2 = S.CosineAnnealingLR(opt2, 6, {eta_min = 0.01})
    opt2:load_state_dict(osd)
    sched2:load_state_dict(ssd)
    -- or build the scheduler with last_epoch after loading the optimizer (closed form)
    local opt3 = two_groups()
    opt3:load_state_dict(osd)
    local sched3 = S.CosineAnnealingLR(opt3, 6, {eta_min = 0.01, last_epoch = 4})
    sched:step()
    sched2:step()
    assert.same(sched:get_last_lr(), sched2:get_last_lr())
    for i = 1, 2 do assert.near(sched:get_last_lr()[i], sched3:get_last_lr()[i], 1e-15) end
    for _ = 1, 5 do
      sched:step()
      sched2:step()
      sched3:step()
      assert.same(sched:get_last_lr(), sched2:get_last_lr())
      for i = 1, 2 do assert.near(sched:get_last_lr()[i], sched3:get_last_lr()[i], 1e-15) end
    end
  end)

  it("resuming with last_epoch needs initial_lr", function()
    assert.equal("sgen.optim.lr_scheduler.StepLR: param_groups[1] has no initial_lr, needed to "
                 .. "resume with last_epoch = 3 (load the optimizer's state_dict first)",
                 errmsg(function() S.StepLR(two_groups(), 2, {last_epoch = 3}) end))
  end)

  it("errors", function()
    local opt = two_groups()
    assert.equal("sgen.optim.lr_scheduler.StepLR: argument 1 (optimizer) expected an "
                 .. "optimizer, got nil", errmsg(function() S.StepLR(nil, 3) end))
    assert.equal("sgen.optim.lr_scheduler.StepLR: argument 2 (step_size) must be >= 1, got 0",
                 errmsg(function() S.StepLR(opt, 0) end))
    assert.equal("sgen.optim.lr_scheduler.StepLR: argument 2 (step_size) must be an integer, "
                 .. "got 1.5", errmsg(function() S.StepLR(opt, 1.5) end))
    assert.equal("sgen.optim.lr_scheduler.StepLR: unknown option 'gama' (expected gamma, "
                 .. "last_epoch)", errmsg(function() S.StepLR(opt, 2, {gama = 0.1}) end))
    assert.equal("sgen.optim.lr_scheduler.MultiStepLR: argument 2 (milestones) expected a list "
                 .. "of epochs, got number", errmsg(function() S.MultiStepLR(opt, 3) end))
    assert.equal("sgen.optim.lr_scheduler.MultiStepLR: milestones[2] must be an integer, got "
                 .. "string", errmsg(function() S.MultiStepLR(opt, {1, "2"}) end))
    assert.equal("sgen.optim.lr_scheduler.ExponentialLR: argument 2 (gamma) must be a number, "
                 .. "got nil", errmsg(function() S.ExponentialLR(opt) end))
    assert.equal("sgen.optim.lr_scheduler.CosineAnnealingLR: eta_min must be a number, got "
                 .. "string", errmsg(function() S.CosineAnnealingLR(opt, 3, {eta_min = "0"}) end))
    assert.equal("sgen.optim.lr_scheduler.CosineAnnealingLR: last_epoch must be >= -1, got -2",
                 errmsg(function() S.CosineAnnealingLR(opt, 3, {last_epoch = -2}) end))
    local s = S.ExponentialLR(opt, 0.5)
    assert.equal("sgen.optim.lr_scheduler.step: call it as a method, sched:step(...)",
                 errmsg(function() s.step() end))
    assert.equal("sgen.optim.lr_scheduler.ExponentialLR.load_state_dict: unexpected key "
                 .. "'step_size' (a state_dict of another scheduler?)",
                 errmsg(function() s:load_state_dict(S.StepLR(two_groups(), 2):state_dict()) end))
  end)
end)

describe("training with sg.nn", function()
  for _, c in ipairs({{"SGD", {lr = 0.1, momentum = 0.9}}, {"Adam", {lr = 0.1}},
                      {"AdamW", {lr = 0.1, weight_decay = 1e-4}}, {"RMSprop", {lr = 0.03}}}) do
    it(c[1] .. " fits a linear map with nn.Linear and a scheduler", function()
      sg.manual_seed(0)
      local model = sg.nn.Linear(3, 1)
      local x = sg.randn(64, 3)
      local y = x:matmul(sg.tensor({{1}, {-2}, {0.5}})) + 0.3
      local opt = optim[c[1]](model:parameters(), c[2])
      local sched = optim.lr_scheduler.StepLR(opt, 100, {gamma = 0.5})
      local first, last
      for _ = 1, 300 do
        opt:zero_grad()
        local loss = sg.F.mse_loss(model(x), y)
        loss:backward()
        opt:step()
        sched:step()
        first = first or loss:item()
        last = loss:item()
      end
      assert(first > 0.5, "initial loss " .. first)
      assert(last < 1e-3, c[1] .. " final loss " .. last)
      assert.near(c[2].lr * 0.125, opt.param_groups[1].lr, 1e-12)
    end)
  end
end)
