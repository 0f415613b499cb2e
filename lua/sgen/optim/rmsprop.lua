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

local function update(_, group, p, g, state)
  local lr, alpha, eps, wd, momentum = group.lr, group.alpha, group.eps, group.weight_decay,
                                       group.momentum
  local grad = group.maximize and -g or g
  state.step = state.step + 1
  if wd ~= 0 then grad = grad + p * wd end
  local square_avg = state.square_avg * alpha + grad * grad * (1 - alpha)
  state.square_avg = square_avg
  local avg
  if group.centered then
    local grad_avg = (state.grad_avg or core.zeros_like(p)) * alpha + grad * (1 - alpha)
    state.grad_avg = grad_avg
    avg = (square_avg - grad_avg * grad_avg):sqrt()
  else
    avg = square_avg:sqrt()
  end
  avg = avg + eps
  if momentum > 0 then
    local buf = (state.momentum_buffer or core.zeros_like(p)) * momentum + grad / avg
    state.momentum_buffer = buf
    p:copy_(p + buf * (-lr))
  else
    p:copy_(p + grad / avg * (-lr))
  end
end

return Optimizer.define({
  name = "RMSprop",
  keys = {"lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"},
  defaults = {lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0,
              centered = false, maximize = false},
  validate = validate,
  init_state = init_state,
  update = update,
})
