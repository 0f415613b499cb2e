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

local T = Optimizer.tmp

local function update(_, group, p, g, state)
  local lr, wd, momentum = group.lr, group.weight_decay, group.momentum
  local d = g
  if group.maximize then d = T(-g) end
  if wd ~= 0 then d = T(d + T(p * wd)) end
  if momentum ~= 0 then
    local buf = state.momentum_buffer
    if buf == nil then
      buf = d:clone()
      state.momentum_buffer = buf
    else
      local damp = 1 - group.dampening
      buf:copy_(T(T(buf * momentum) + (damp ~= 1 and T(d * damp) or d)))
    end
    if group.nesterov then d = T(d + T(buf * momentum)) else d = buf end
  end
  p:copy_(T(p + T(d * (-lr))))
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
