-- sg.autograd: PyTorch's torch.autograd names for the core autograd
-- functions (bindings/lsg_autograd.c); sg.autograd.grad is sg.grad.
local core = require "sgen.core"

return {
  grad = core.grad,
  backward = core.backward,
  gradcheck = core.gradcheck,
  gradgradcheck = core.gradgradcheck,
  no_grad = core.no_grad,
  enable_grad = core.enable_grad,
  set_grad_enabled = core.set_grad_enabled,
  is_grad_enabled = core.is_grad_enabled,
  set_detect_anomaly = core.set_detect_anomaly,
  is_anomaly_enabled = core.is_anomaly_enabled,
  detect_anomaly = core.detect_anomaly,
}
