-- One Deep Image Prior training iteration in sgen: the sgen side of
-- bench/dip_step.sh on the CPU and of bench/gpu_bench.sh on a GPU (PyTorch's
-- side is bench/dip_step.py, the same network).
--
-- The network is models/unet_dip.lua with its default configuration (DIP's
-- "skip" hourglass: 5 scales, 128 channels, 4 skip channels, reflection
-- padding, BatchNorm + LeakyReLU(0.2), bilinear upsampling; 2,217,831
-- parameters, as the PyTorch network). One iteration = input perturbation
-- (uniform input x 0.1 plus Gaussian noise of std 1/30), forward, MSE loss
-- against a fixed target, backward, Adam step (lr 0.01), as in
-- experiments/dip_denoise.lua. Warm-up iterations first, then the mean wall
-- time (sg.core.monotonic, after sg.cuda.synchronize() on a GPU) of the timed ones.
--
--   sgen run bench/dip_step.lua --size=128 --iters=5 [--warmup=2 --channels=128 --scales=5 --threads=2]
--   sgen run bench/dip_step.lua --device=cuda --size=256 --iters=20 --warmup=3 [--tf32]
-- prints one line: `sgen dip_step size=128 ms_per_iter=... device=... threads=... tf32=...
-- params=... peak_mib=... loss=... conv_gflop=... conv_gflops=...` (peak_mib: device memory,
-- 0 on the CPU; conv_gflop: the convolutions' GFLOP per iteration, conv_gflops: that
-- over the measured time, GFLOP/s).
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
  tf32 = {type = "boolean", default = false, help = "sg.backends.allow_tf32 (TF32 matmul/conv on a GPU)"},
  seed = {type = "integer", default = 0, help = "sg.manual_seed"},
}, {help = "Times one DIP iteration (forward, MSE, backward, Adam step) of models/unet_dip.lua."})

if opts.iters < 1 then error("sgen: --iters must be >= 1", 0) end
if opts.warmup < 0 then error("sgen: --warmup must be >= 0", 0) end
if opts.threads > 0 then sg.set_num_threads(opts.threads) end
local device = opts.device
if device ~= "cpu" and device ~= "cuda" then
  error("sgen: --device must be cpu or cuda, got '" .. device .. "'", 0)
end
if device == "cuda" and not sg.cuda.is_available() then
  error("sgen: --device=cuda but CUDA is not usable: " .. sg.cuda.unavailable_reason(), 0)
end
if device == "cuda" then sg.backends.allow_tf32 = opts.tf32 end

sg.manual_seed(opts.seed)
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
  if device == "cuda" then sg.cuda.synchronize() end
end

-- Convolution FLOPs of one iteration, counted on one forward pass:
-- 2 * N * K * (C/groups) * kh * kw * Ho * Wo per convolution, three times
-- (forward, input gradient, weight gradient) less the input gradient of
-- convolutions whose input needs none (the first, fed by the fixed input).
local F = sg.F
local conv_flop = 0
do
  local conv2d = F.conv2d
  F.conv2d = function(x, w, b, o)
    local y = conv2d(x, w, b, o)
    local ys, ws = y:shape(), w:shape()
    local f = 2 * ys[1] * ys[2] * ws[2] * ws[3] * ws[4] * ys[3] * ys[4]
    conv_flop = conv_flop + (x:needs_grad() and 3 or 2) * f
    return y
  end
  net(input)
  F.conv2d = conv2d
end

for _ = 1, opts.warmup do step() end
sync()
if device == "cuda" then sg.cuda.reset_peak_memory_stats() end
local t0 = core.monotonic()
local loss
for _ = 1, opts.iters do loss = step() end
sync()
local ms = (core.monotonic() - t0) * 1000 / opts.iters
local l = loss:item()
if l ~= l then error("sgen: dip_step: the loss is NaN", 0) end
local peak = device == "cuda" and sg.cuda.memory_stats().peak_allocated_bytes / 2 ^ 20 or 0
print(string.format("sgen dip_step size=%d ms_per_iter=%.1f device=%s threads=%d tf32=%s params=%d "
  .. "peak_mib=%.0f loss=%.5f conv_gflop=%.2f conv_gflops=%.1f", s, ms, device,
  sg.get_num_threads(), tostring(opts.tf32), net:num_parameters(), peak, l, conv_flop / 1e9,
  conv_flop / 1e9 / (ms / 1000)))
