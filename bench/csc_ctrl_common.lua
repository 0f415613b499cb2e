-- What bench/csc_ctrl_step.lua (the timing) and bench/csc_ctrl_step_check.lua
-- (the twin check's dump) share: their common options, the CSC-CTRL game they
-- build (as experiments/csc_ctrl.lua builds it) and nn.CSC's power-iteration
-- start vector. Loaded from the repository root: require "bench.csc_ctrl_common".
local sg = require "sgen"
local csc_ctrl = require "models.csc_ctrl"
local ctrl = require "sgen.ctrl"

local M = {}

M.POWER_SEED = 20240607 -- nn.CSC's (lua/sgen/nn/csc.lua)

-- `spec` (a cli.options table) with the shared options added: strategy,
-- batch, width, seed (their defaults from `defaults`) and threads.
function M.options(spec, defaults)
  spec.strategy = {type = "integer", default = 2, help = "2: total derivative in the min step; 1: through g only"}
  spec.batch = {type = "integer", default = defaults.batch, help = "batch size"}
  spec.width = {type = "number", default = defaults.width, help = "channel multiplier (c = round(64·width))"}
  spec.seed = {type = "integer", default = defaults.seed, help = "sg.manual_seed"}
  spec.threads = {type = "integer", default = 0, help = "CPU threads (0: sgen's default)"}
  return spec
end

local function usage(fmt, ...) error(string.format("sgen: " .. fmt, ...), 0) end
M.usage = usage

-- Checks the shared options, sets the threads and the seed, then builds the
-- model ("csc": CSCCTRL, λ 0.01; "ctrl": CTRL; nc 1), its game (Adam 2e-4,
-- one max step per min step) and a fixed random batch in [-1, 1]
-- (batch x 1 x 32 x 32). Returns net, game, x.
function M.setup(opts, model)
  if opts.strategy ~= 1 and opts.strategy ~= 2 then usage("--strategy must be 1 or 2, got %d", opts.strategy) end
  if opts.batch < 2 then usage("--batch must be >= 2") end
  if not (opts.width > 0) or math.floor(64 * opts.width + 0.5) < 1 then usage("--width must be positive") end
  if opts.threads > 0 then sg.set_num_threads(opts.threads) end
  sg.manual_seed(opts.seed)
  local model_opts = {nc = 1, width = opts.width}
  if model == "csc" then model_opts.lambda = 0.01 end
  local net = (model == "csc" and csc_ctrl.CSCCTRL or csc_ctrl.CTRL)(model_opts)
  local game = ctrl.Game(net.f, net.g, {strategy = opts.strategy, lr = 2e-4, n_max = 1})
  return net, game, sg.rand(opts.batch, 1, 32, 32) * 2 - 1
end

-- nn.CSC's power-iteration start vector for `layer` on inputs of spatial size
-- `size` (drawn under POWER_SEED; the RNG state is kept), then the code's
-- shape (C, H, W) and the output_padding of its transposed convolution.
function M.power_start(layer, size)
  local shape, op = layer:code_shape(sg.zeros(1, layer.in_channels, size, size))
  local st = sg.get_rng_state()
  sg.manual_seed(M.POWER_SEED)
  local v = sg.rand({1, shape[1], shape[2], shape[3]}, {dtype = layer.weight:dtype()})
  sg.set_rng_state(st)
  return v, shape, op
end

return M
