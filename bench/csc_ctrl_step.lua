-- One CSC-CTRL training step (one max step of the encoder, then one min step
-- of the decoder) in sgen, timed: the sgen side of bench/csc_ctrl_step.sh.
-- PyTorch's side is bench/csc_ctrl_step.py: the same networks, the same CSC
-- layers, the same objective, the same passes and optimizer steps.
--
-- Model: models/csc_ctrl.lua, built as experiments/csc_ctrl.lua builds it
-- (Fashion-MNIST: nc = 1, 32x32; width 1: c = 64, nz = 512):
--   --model=csc   CSCCTRL({nc = 1, width = W, lambda = 0.01}): four nn.CSC
--                 layers (4x4 atoms, 2 unrolled FISTA iterations, ReLU prox,
--                 unit-norm atoms, L by power iteration (<= 50 steps, tol
--                 1e-5) refreshed every 2 training forwards) in f, the same
--                 dictionaries in g (nn.CSCDecoder); 2,755,200 parameters
--   --model=ctrl  CTRL({nc = 1, width = W}): Conv2d / unshared ConvTranspose2d,
--                 bias-free (5,508,736 parameters)
-- Step: sgen.ctrl.Game(net.f, net.g, {strategy = S, lr = 2e-4}) (Adam, betas
-- 0/0.9, ε² = 0.5, n_max = 1, no labels: the paper's unsupervised objective
-- ΔR(Z, Ẑ)), one game:step(x): exactly one iteration of experiments/csc_ctrl.lua:
--   max: Z = f(X), X̂ = g(Z) without gradient, Ẑ = f(X̂); backward; Adam (maximize) on f
--   min: Z = f(X), X̂ = g(Z), Ẑ = f(X̂) (Strategy 2: total derivative; Strategy 1:
--        Z detached, f with detached dictionaries); backward; Adam on g
-- and the ΔR terms read back as numbers (game:step returns them).
-- X is a fixed random batch in [-1, 1] (B x 1 x 32 x 32): no data loading is
-- timed. Warm-up steps first, then the mean wall time of the timed ones
-- (sg.core.monotonic).
--
--   sgen run bench/csc_ctrl_step.lua [--model=csc|ctrl --strategy=2 --batch=128 --width=1
--                                     --iters=5 --warmup=2 --threads=2]
-- prints one line: `sgen csc_ctrl_step model=csc strategy=2 batch=128 width=1 ms_per_iter=...
-- threads=... params=... params_f=... params_g=... max_total=... min_total=... R_Z=...
-- R_Zhat=... delta_R_pairs=... power_iters=a/b/c/d` (the ΔR terms of the last step's
-- min step; power_iters: steps the power iteration takes on each CSC layer's final
-- dictionary, recounted after the timing with the layer's own algorithm, start vector
-- and tolerance; "-" for ctrl).
local sg = require "sgen"
local cli = require "sgen.cli"
local core = require "sgen.core"
local common = require "bench.csc_ctrl_common"

local opts = cli.options(common.options({
  model = {type = "string", default = "csc", help = "csc (CSC-CTRL) | ctrl (the conv baseline)"},
  iters = {type = "integer", default = 5, help = "timed steps"},
  warmup = {type = "integer", default = 2, help = "untimed steps first"},
}, {batch = 128, width = 1, seed = 1}),
  {help = "Times one CSC-CTRL (or CTRL) max+min step of models/csc_ctrl.lua with sgen.ctrl."})

if opts.model ~= "csc" and opts.model ~= "ctrl" then common.usage("--model must be csc or ctrl, got '%s'", opts.model) end
if opts.iters < 1 then common.usage("--iters must be >= 1") end
if opts.warmup < 0 then common.usage("--warmup must be >= 0") end
local net, game, x = common.setup(opts, opts.model)

local function finite(name, v)
  if v ~= v or v == math.huge or v == -math.huge then
    error(string.format("sgen: csc_ctrl_step: %s is not finite (%s)", name, tostring(v)), 0)
  end
  return v
end

for _ = 1, opts.warmup do game:step(x) end
local t0 = core.monotonic()
local r
for _ = 1, opts.iters do r = game:step(x) end
local ms = (core.monotonic() - t0) * 1000 / opts.iters

-- The power iteration of nn.CSC (lua/sgen/nn/csc.lua: CSC:power_iteration),
-- recounted on a layer's current dictionary: how many steps it takes.
-- size: the layer's input spatial size.
local function power_steps(layer, size)
  local W = layer.weight
  local v0, shape, op = common.power_start(layer, size)
  local s, p = layer.stride, layer.padding
  local function AtA(v)
    local y = core.conv_transpose2d(v, W, nil, {stride = s, padding = p, output_padding = op})
    return core.conv2d(y, W, nil, {stride = s, padding = p})
  end
  return sg.no_grad(function()
    local v = v0 / v0:norm()
    for i = 1, layer.power_iters do
      local u = AtA(v)
      local vn = u / u:norm():item()
      local moved = (vn - v):norm():item()
      v = vn
      if moved < layer.power_tol then return i end
    end
    return layer.power_iters
  end), shape[2]
end

local pi = "-"
if opts.model == "csc" then
  local n, size = {}, 32
  for i, l in ipairs(net.csc_layers) do n[i], size = power_steps(l, size) end
  pi = table.concat(n, "/")
end
local m = r.min
print(string.format("sgen csc_ctrl_step model=%s strategy=%d batch=%d width=%g ms_per_iter=%.3f threads=%d "
  .. "params=%d params_f=%d params_g=%d max_total=%.4f min_total=%.4f R_Z=%.4f R_Zhat=%.4f "
  .. "delta_R_pairs=%.4f power_iters=%s", opts.model, opts.strategy, opts.batch, opts.width, ms,
  sg.get_num_threads(), net:num_parameters(), net.f:num_parameters(), net.g:num_parameters(),
  finite("max_total", r.max[1].total), finite("min_total", m.total), m.R_Z, m.R_Zhat,
  finite("delta_R_pairs", m.delta_R_pairs), pi))
