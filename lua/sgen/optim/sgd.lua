-- Stochastic gradient descent with momentum, dampening, Nesterov momentum and
-- weight decay: PyTorch 1.13's torch.optim.SGD (single-tensor path).
--
--   d = grad (negated if maximize) + weight_decay * p
--   buf = d on the first step, then momentum * buf + (1 - dampening) * d
--   d = d + momentum * buf (nesterov) or buf          (when momentum ~= 0)
--   p = p - lr * d
local Optimizer = require "sgen.optim.optimizer"

local function validate(fname, g, where)
  Optimizer.check_nonneg(fname, where, g, "lr")
  local momentum = Optimizer.check_nonneg(fname, where, g, "momentum")
  local dampening = Optimizer.check_number(fname, where, g, "dampening")
  Optimizer.check_nonneg(fname, where, g, "weight_decay")
  local nesterov = Optimizer.check_boolean(fname, where, g, "nesterov")
  Optimizer.check_boolean(fname, where, g, "maximize")
  if nesterov and (momentum <= 0 or dampening ~= 0) then
    Optimizer.fail(string.format("%s: %snesterov requires momentum > 0 and dampening = 0 (got "
                                 .. "momentum %s, dampening %s)", fname, where,
                                 tostring(momentum), tostring(dampening)))
  end
end

local function init_state(_, _, _)
  return {}
end

local function update(_, group, p, g, state)
  local lr, wd, momentum = group.lr, group.weight_decay, group.momentum
  local d, fresh = g, false
  if group.maximize then d, fresh = -g, true end
  if wd ~= 0 then d, fresh = d + p * wd, true end
  if momentum ~= 0 then
    local buf = state.momentum_buffer
    if buf == nil then
      -- d may be the gradient itself, which the caller may change: copy it
      buf = fresh and d or d:clone()
    else
      local damp = 1 - group.dampening
      buf = buf * momentum + (damp ~= 1 and d * damp or d)
    end
    state.momentum_buffer = buf
    if group.nesterov then d = d + buf * momentum else d = buf end
  end
  p:copy_(p + d * (-lr))
end

return Optimizer.define({
  name = "SGD",
  keys = {"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"},
  defaults = {lr = Optimizer.REQUIRED, momentum = 0, dampening = 0, weight_decay = 0,
              nesterov = false, maximize = false},
  validate = validate,
  init_state = init_state,
  update = update,
})
