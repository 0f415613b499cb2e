-- One Deep Image Prior training iteration in sgen: the sgen side of
-- bench/dip_step.sh (PyTorch's side is bench/dip_step.py, the same network).
--
-- The network is models/unet_dip.lua with its default configuration (DIP's
-- "skip" hourglass: 5 scales, 128 channels, 4 skip channels, reflection
-- padding, BatchNorm + LeakyReLU(0.2), bilinear upsampling; 2,217,831
-- parameters, as the PyTorch network). One iteration = input perturbation
-- (uniform input x 0.1 plus Gaussian noise of std 1/30), forward, MSE loss
-- against a fixed target, backward, Adam step (lr 0.01), as in
-- experiments/dip_denoise.lua. Warm-up iterations first, then the mean wall
-- time (sg.core.monotonic) of the timed ones.
--
--   sgen run bench/dip_step.lua --size=128 --iters=5 [--warmup=2 --channels=128 --scales=5 --threads=2]
-- prints one line: `sgen dip_step size=128 ms_per_iter=... threads=... params=...`.
local sg = require "sgen"
local cli = require "sgen.cli"
local core = require "sgen.core"
local UNetDIP = require "models.unet_dip"

local opts = cli.options({
  size = {type = "integer", default = 128, help = "image height and width"},
  iters = {type = "integer", default = 5, help = "timed iterations"},
  warmup = {type = "integer", default = 2, help = "untimed iterations first"},
  channels = {type = "integer", default = 128, help = "channels at every scale"},
  scales = {type = "integer", default = 5, help = "number of scales"},
  threads = {type = "integer", default = 2, help = "CPU threads"},
  device = {type = "string", default = "cpu", help = "cpu | cuda"},
}, {help = "Times one DIP iteration (forward, MSE, backward, Adam step) of models/unet_dip.lua."})

if opts.iters < 1 then error("sgen: --iters must be >= 1", 0) end
if opts.warmup < 0 then error("sgen: --warmup must be >= 0", 0) end
if opts.threads > 0 then sg.set_num_threads(opts.threads) end
local device = opts.device
if device ~= "cpu" and device ~= "cuda" then
  error("sgen: --device must be cpu or cuda, got '" .. device .. "'", 0)
end

sg.manual_seed(0)
local net = UNetDIP({channels = opts.channels, scales = opts.scales}):to(device)
local s = opts.size
local input = (sg.rand(1, 32, s, s) * 0.1):to(device)
local target = sg.rand(1, 3, s, s):to(device)
local optimizer = sg.optim.Adam(net:parameters(), {lr = 0.01})

local function step()
  local x = input + sg.randn_like(input) / 30
  local out = net(x)
  local loss = sg.F.mse_loss(out, target)
  optimizer:zero_grad()
  loss:backward()
  optimizer:step()
  return loss
end

local function sync()
  if device == "cuda" and sg.cuda and sg.cuda.synchronize then sg.cuda.synchronize() end
end

for _ = 1, opts.warmup do step() end
sync()
local t0 = core.monotonic()
for _ = 1, opts.iters do step() end
sync()
local ms = (core.monotonic() - t0) * 1000 / opts.iters
print(string.format("sgen dip_step size=%d ms_per_iter=%.1f threads=%d params=%d", s, ms,
  sg.get_num_threads(), net:num_parameters()))
