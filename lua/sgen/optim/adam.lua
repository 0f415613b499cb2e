-- Adam and AdamW: PyTorch 1.13's torch.optim.Adam / AdamW (single-tensor
-- path). With g the gradient (negated if maximize) and t the step count:
--   Adam:  g = g + weight_decay * p             (L2 penalty in the gradient)
--   AdamW: p = p * (1 - lr * weight_decay)      (decoupled weight decay)
--   m = beta1 * m + (1 - beta1) * g
--   v = beta2 * v + (1 - beta2) * g * g
--   vmax = max(vmax, v) and v = vmax            (amsgrad)
--   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
local core = require "sgen.core"
local Optimizer = require "sgen.optim.optimizer"

local function validate(fname, g, where)
  Optimizer.check_nonneg(fname, where, g, "lr")
  Optimizer.check_betas(fname, where, g, "betas")
  Optimizer.check_nonneg(fname, where, g, "eps")
  Optimizer.check_nonneg(fname, where, g, "weight_decay")
  Optimizer.check_boolean(fname, where, g, "amsgrad")
  Optimizer.check_boolean(fname, where, g, "maximize")
end

local function init_state(_, p, group)
  local s = {step = 0, exp_avg = core.zeros_like(p), exp_avg_sq = core.zeros_like(p)}
  if group.amsgrad then s.max_exp_avg_sq = core.zeros_like(p) end
  return s
end

local T = Optimizer.tmp

local function make_update(decoupled)
  return function(_, group, p, g, state)
    local lr, wd, eps = group.lr, group.weight_decay, group.eps
    local beta1, beta2 = group.betas[1], group.betas[2]
    -- The common case in one fused pass (sgen.core.adam_step_, same equations
    -- and operation order); amsgrad, other devices and non-contiguous
    -- tensors take the op-by-op path below.
    local m0, v0 = state.exp_avg, state.exp_avg_sq
    if not group.amsgrad and p:device() == "cpu" and p:is_contiguous() and g:is_contiguous()
        and m0:is_contiguous() and v0:is_contiguous() and g:dtype() == p:dtype() then
      state.step = state.step + 1
      core.adam_step_(p, g, m0, v0, {lr = lr, beta1 = beta1, beta2 = beta2, eps = eps,
        weight_decay = wd, step = state.step, decoupled = decoupled, maximize = group.maximize})
      return
    end
    local grad = group.maximize and T(-g) or g
    local step = state.step + 1
    state.step = step
    local base = p
    if decoupled then
      local f = 1 - lr * wd
      if f ~= 1 then base = T(p * f) end
    elseif wd ~= 0 then
      grad = T(grad + T(p * wd))
    end
    local m, v = state.exp_avg, state.exp_avg_sq
    m:copy_(T(T(m * beta1) + T(grad * (1 - beta1))))
    v:copy_(T(T(v * beta2) + T(T(grad * grad) * (1 - beta2))))
    local bias_correction1 = 1 - beta1 ^ step
    local bias_correction2 = 1 - beta2 ^ step
    local step_size = lr / bias_correction1
    local bias_correction2_sqrt = math.sqrt(bias_correction2)
    if group.amsgrad then
      local vmax = state.max_exp_avg_sq
      if vmax == nil then
        vmax = v:clone()
        state.max_exp_avg_sq = vmax
      else
        vmax:copy_(T(core.maximum(vmax, v)))
      end
      v = vmax
    end
    local denom = T(T(T(v:sqrt()) / bias_correction2_sqrt) + eps)
    p:copy_(T(base + T(T(m / denom) * (-step_size))))
  end
end

local keys = {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"}

local Adam = Optimizer.define({
  name = "Adam",
  keys = keys,
  defaults = {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0, amsgrad = false,
              maximize = false},
  validate = validate,
  init_state = init_state,
  state_keys = {step = "number", exp_avg = "tensor", exp_avg_sq = "tensor"},
  update = make_update(false),
})

local AdamW = Optimizer.define({
  name = "AdamW",
  keys = keys,
  defaults = {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 1e-2, amsgrad = false,
              maximize = false},
  validate = validate,
  init_state = init_state,
  state_keys = {step = "number", exp_avg = "tensor", exp_avg_sq = "tensor"},
  update = make_update(true),
})

return {Adam = Adam, AdamW = AdamW}
