-- RMSprop: PyTorch 1.13's torch.optim.RMSprop (single-tensor path). With g the
-- gradient (negated if maximize):
--   g = g + weight_decay * p
--   s = alpha * s + (1 - alpha) * g * g
--   centered: a = alpha * a + (1 - alpha) * g;  r = sqrt(s - a * a) + eps
--   else:     r = sqrt(s) + eps
--   momentum > 0: buf = momentum * buf + g / r;  p = p - lr * buf
--   else:         p = p - lr * g / r
local core = require "sgen.core"
local Optimizer = require "sgen.optim.optimizer"

local function validate(fname, g, where)
  Optimizer.check_nonneg(fname, where, g, "lr")
  Optimizer.check_nonneg(fname, where, g, "alpha")
  Optimizer.check_nonneg(fname, where, g, "eps")
  Optimizer.check_nonneg(fname, where, g, "weight_decay")
  Optimizer.check_nonneg(fname, where, g, "momentum")
  Optimizer.check_boolean(fname, where, g, "centered")
  Optimizer.check_boolean(fname, where, g, "maximize")
end

local function init_state(_, p, group)
  local s = {step = 0, square_avg = core.zeros_like(p)}
  if group.momentum > 0 then s.momentum_buffer = core.zeros_like(p) end
  if group.centered then s.grad_avg = core.zeros_like(p) end
  return s
end

local T = Optimizer.tmp

-- The state tensor `key`, created as zeros if an option was switched on after
-- the first step.
local function buffer(state, key, p)
  local b = state[key]
  if b == nil then
    b = core.zeros_like(p)
    state[key] = b
  end
  return b
end

local function update(_, group, p, g, state)
  local lr, alpha, eps, wd, momentum = group.lr, group.alpha, group.eps, group.weight_decay,
                                       group.momentum
  local grad = group.maximize and T(-g) or g
  state.step = state.step + 1
  if wd ~= 0 then grad = T(grad + T(p * wd)) end
  local square_avg = state.square_avg
  square_avg:copy_(T(T(square_avg * alpha) + T(T(grad * grad) * (1 - alpha))))
  local avg
  if group.centered then
    local grad_avg = buffer(state, "grad_avg", p)
    grad_avg:copy_(T(T(grad_avg * alpha) + T(grad * (1 - alpha))))
    avg = T(T(square_avg - T(grad_avg * grad_avg)):sqrt())
  else
    avg = T(square_avg:sqrt())
  end
  avg = T(avg + eps)
  if momentum > 0 then
    local buf = buffer(state, "momentum_buffer", p)
    buf:copy_(T(T(buf * momentum) + T(grad / avg)))
    p:copy_(T(p + T(buf * (-lr))))
  else
    p:copy_(T(p + T(T(grad / avg) * (-lr))))
  end
end

return Optimizer.define({
  name = "RMSprop",
  keys = {"lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"},
  defaults = {lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0,
              centered = false, maximize = false},
  validate = validate,
  init_state = init_state,
  state_keys = {step = "number", square_avg = "tensor"},
  update = update,
})
