-- sg.optim: optimizers and learning-rate schedulers with PyTorch's update
-- equations and defaults (torch.optim of PyTorch 1.13).
--   local opt = sg.optim.Adam(model:parameters(), {lr = 1e-3})
--   opt:zero_grad(); loss:backward(); opt:step()
local Optimizer = require "sgen.optim.optimizer"
local adam = require "sgen.optim.adam"
local state_io = require "sgen.optim.state_io"

return {
  Optimizer = Optimizer,
  SGD = require "sgen.optim.sgd",
  Adam = adam.Adam,
  AdamW = adam.AdamW,
  RMSprop = require "sgen.optim.rmsprop",
  lr_scheduler = require "sgen.optim.lr_scheduler",
  EMA = require "sgen.optim.ema",
  flatten_state = state_io.flatten_state,
  unflatten_state = state_io.unflatten_state,
}
