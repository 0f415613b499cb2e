-- One DCGAN training step in sgen, timed: the sgen side of bench/gpu_bench.sh
-- (PyTorch's side is bench/gpu_dcgan_step.py, the same networks and step).
--
-- Networks: models/dcgan.lua (32x32, nz=100, ngf=ndf=64 by default). One step,
-- as in PyTorch's DCGAN example (Adam lr 2e-4, betas 0.5/0.999, BCE with logits):
--   D: zero_grad; loss on a fixed real batch (label 1), backward; z ~ N(0, 1),
--      fake = G(z), loss on fake:detach() (label 0), backward; D step
--   G: zero_grad; loss of D(fake) against label 1, backward; G step
-- The real batch is a fixed random tensor in [-1, 1] on the device (no data
-- loading is timed). Warm-up steps first, then the mean wall time of the timed
-- ones (sg.core.monotonic, after sg.cuda.synchronize() on a GPU).
--
--   sgen run bench/gpu_dcgan_step.lua --device=cuda [--batch=64 --iters=50 --warmup=5 --tf32]
-- prints one line: `sgen dcgan_step batch=64 ms_per_iter=... device=... params_G=... params_D=... peak_mib=...`.
local sg = require "sgen"
local cli = require "sgen.cli"
local core = require "sgen.core"
local dcgan = require "models.dcgan"

local opts = cli.options({
  batch = {type = "integer", default = 64, help = "batch size"},
  iters = {type = "integer", default = 50, help = "timed steps"},
  warmup = {type = "integer", default = 5, help = "untimed steps first"},
  nz = {type = "integer", default = 100, help = "latent size"},
  ngf = {type = "integer", default = 64, help = "generator width"},
  ndf = {type = "integer", default = 64, help = "discriminator width"},
  threads = {type = "integer", default = 0, help = "CPU threads (0: sgen's default)"},
  device = {type = "string", default = "cuda", help = "cpu | cuda"},
  tf32 = {type = "boolean", default = false, help = "sg.backends.allow_tf32 (TF32 matmul/conv)"},
  seed = {type = "integer", default = 0, help = "sg.manual_seed"},
}, {help = "Times one DCGAN training step (D on real + fake, then G) of models/dcgan.lua."})

if opts.iters < 1 then error("sgen: --iters must be >= 1", 0) end
if opts.warmup < 0 then error("sgen: --warmup must be >= 0", 0) end
if opts.batch < 1 then error("sgen: --batch must be >= 1", 0) end
local device = opts.device
if device ~= "cpu" and device ~= "cuda" then
  error("sgen: --device must be cpu or cuda, got '" .. device .. "'", 0)
end
if opts.threads > 0 then sg.set_num_threads(opts.threads) end
if device == "cuda" and not sg.cuda.is_available() then
  error("sgen: --device=cuda but CUDA is not usable: " .. sg.cuda.unavailable_reason(), 0)
end
if device == "cuda" then sg.backends.allow_tf32 = opts.tf32 end

sg.manual_seed(opts.seed)
local G = dcgan.Generator({nz = opts.nz, ngf = opts.ngf}):to(device)
local D = dcgan.Discriminator({ndf = opts.ndf}):to(device)
local optD = sg.optim.Adam(D:parameters(), {lr = 2e-4, betas = {0.5, 0.999}})
local optG = sg.optim.Adam(G:parameters(), {lr = 2e-4, betas = {0.5, 0.999}})
local B = opts.batch
local real = (sg.rand(B, 3, 32, 32) * 2 - 1):to(device)
local ones = sg.ones(B, {device = device})
local zeros = sg.zeros(B, {device = device})
local bce = sg.F.binary_cross_entropy_with_logits

local function step()
  optD:zero_grad()
  local errD_real = bce(D(real), ones)
  errD_real:backward()
  local z = sg.randn(B, opts.nz, 1, 1, {device = device})
  local fake = G(z)
  local errD_fake = bce(D(fake:detach()), zeros)
  errD_fake:backward()
  optD:step()

  optG:zero_grad()
  local errG = bce(D(fake), ones)
  errG:backward()
  optG:step()
  return errD_real, errD_fake, errG
end

local function sync()
  if device == "cuda" then sg.cuda.synchronize() end
end

for _ = 1, opts.warmup do step() end
sync()
if device == "cuda" then sg.cuda.reset_peak_memory_stats() end
local t0 = core.monotonic()
local dr, df, g
for _ = 1, opts.iters do dr, df, g = step() end
sync()
local ms = (core.monotonic() - t0) * 1000 / opts.iters
local loss = dr:item() + df:item() + g:item()
if loss ~= loss then error("sgen: dcgan_step: the losses are NaN", 0) end
local peak = device == "cuda" and sg.cuda.memory_stats().peak_allocated_bytes / 2 ^ 20 or 0
print(string.format("sgen dcgan_step batch=%d ms_per_iter=%.3f device=%s tf32=%s params_G=%d "
  .. "params_D=%d peak_mib=%.0f loss_D=%.4f loss_G=%.4f", B, ms, device, tostring(opts.tf32),
  G:num_parameters(), D:num_parameters(), peak, dr:item() + df:item(), g:item()))
