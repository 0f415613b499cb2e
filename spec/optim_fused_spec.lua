-- The fused Adam/AdamW step (sgen.core.adam_step_) against the op-by-op path
-- of lua/sgen/optim/adam.lua (taken for non-contiguous parameters), and its errors.
local sg = require "sgen"

local function run(opt_class, opts, contiguous, dtype)
  sg.manual_seed(7)
  local init = sg.randn(5, 4, {dtype = dtype})
  local p
  if contiguous then
    p = init:clone():requires_grad_()
  else
    -- same values, transposed storage: a non-contiguous leaf takes the op-by-op path
    p = init:t():contiguous():t():detach():requires_grad_()
    assert(not p:is_contiguous())
  end
  local target = sg.randn(5, 4, {dtype = dtype})
  local opt = opt_class({p}, opts)
  for _ = 1, 10 do
    opt:zero_grad()
    local loss = ((p - target) ^ 2):sum() + p:sin():sum()
    loss:backward()
    opt:step()
  end
  return p:detach():contiguous()
end

local function max_rel(a, b)
  return ((a - b):abs() / (b:abs() + 1e-12)):max():item()
end

describe("fused Adam step", function()
  for _, case in ipairs({
    {"Adam", sg.optim.Adam, {lr = 0.05}},
    {"Adam weight_decay maximize", sg.optim.Adam, {lr = 0.05, weight_decay = 0.1, maximize = true}},
    {"AdamW", sg.optim.AdamW, {lr = 0.05, weight_decay = 0.3, betas = {0.8, 0.99}}},
  }) do
    it(case[1] .. " matches the op-by-op path (float64 to 1e-14, float32 to 1e-6)", function()
      local fused = run(case[2], case[3], true, "float64")
      local ops = run(case[2], case[3], false, "float64")
      assert.is_true(max_rel(fused, ops) < 1e-14, "float64 rel " .. max_rel(fused, ops))
      local f32 = run(case[2], case[3], true, "float32")
      local o32 = run(case[2], case[3], false, "float32")
      assert.is_true(max_rel(f32, o32) < 1e-6, "float32 rel " .. max_rel(f32, o32))
      -- and the update did something
      assert.is_true((fused - run(case[2], {lr = 0}, true, "float64")):abs():max():item() > 1e-3)
    end)
  end

  it("raises clear errors", function()
    local p, g = sg.zeros(3), sg.zeros(3)
    local ok, err = pcall(sg.core.adam_step_, p, sg.zeros(4), sg.zeros(3), sg.zeros(3), {step = 1})
    assert.is_false(ok)
    assert.matches("sgen.adam_step_: grad is 4 float32, expected 3 float32 like the parameter", err, 1, true)
    ok, err = pcall(sg.core.adam_step_, p, g, sg.zeros(3), sg.zeros(3), {step = 0})
    assert.matches("step must be >= 1, got 0", err, 1, true)
    ok, err = pcall(sg.core.adam_step_, p, g, sg.zeros(3), sg.zeros(3), {step = 1, betas = {0.9, 0.99}})
    assert.matches("unknown option 'betas'", err, 1, true)
    ok, err = pcall(sg.core.adam_step_, sg.zeros(3, {dtype = "int64"}), g, g, g, {step = 1})
    assert.matches("the parameter is int64, expected float32 or float64", err, 1, true)
  end)
end)
