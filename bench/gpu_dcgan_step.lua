-- One GAN training step in sgen, timed: the sgen side of bench/gpu_bench.sh
-- (--step=dcgan) and of bench/gan_step.sh (both steps, on the CPU). PyTorch's
-- side is bench/gpu_dcgan_step.py: the same networks, the same step, the same
-- number of forward and backward passes, the same options.
--
-- Networks: models/dcgan.lua (32x32, nz=100, ngf=ndf=64 by default; the
-- sparse-GAN papers' Appendix A uses --ngf=128 --ndf=64). --sparsity=l0inf
-- --k=16 projects Γ, the input of the generator's last layer (per sample and
-- position, keep the k channels of largest |value|: nn.L0InfProject), as the
-- papers' runs do; --sparsity=none (default) is the plain DCGAN generator.
--
-- --step=dcgan (default), as in PyTorch's DCGAN example (Adam lr 2e-4, betas
-- 0.5/0.999, non-saturating BCE with logits), D = dcgan.Discriminator:
--   D: zero_grad; loss on a fixed real batch (label 1), backward; z ~ N(0, 1),
--      fake = G(z), loss on fake:detach() (label 0), backward; D step
--   G: zero_grad; loss of D(fake) against label 1, backward; G step
-- --step=wgan-gp: one WGAN-GP critic step (Gulrajani et al.; what
-- experiments/gan_sparse.lua's d_step does), D = dcgan.Critic (no BatchNorm),
-- Adam lr 1e-4, betas 0/0.9 for D and G:
--   z ~ N(0, 1), fake = G(z):detach() (G in train mode, grad mode on);
--   loss = mean D(fake) - mean D(real) + 10 mean((||grad_xhat D(xhat)||_2 - 1)^2),
--   xhat = eps real + (1 - eps) fake, eps ~ U(0, 1) per sample, the gradient
--   taken with create_graph (sg.gan.gradient_penalty): 3 critic forwards, one
--   backward to xhat, one backward of the whole (double backward); D step.
--   --full_iters=N (default 0) also times N whole WGAN-GP iterations:
--   --n_critic (5) critic steps, then one G step (z ~ N(0, 1), loss -mean D(G(z)),
--   backward, G step).
-- The real batch is a fixed random tensor in [-1, 1] on the device (no data
-- loading is timed). Warm-up steps first, then the mean wall time of the timed
-- ones (sg.core.monotonic, after sg.cuda.synchronize() on a GPU).
--
--   sgen run bench/gpu_dcgan_step.lua --device=cuda [--batch=64 --iters=50 --warmup=5 --tf32]
--       [--step=dcgan|wgan-gp --sparsity=none|l0inf --k=16 --nc=3 --full_iters=0 --n_critic=5]
-- prints one line: `sgen dcgan_step batch=64 ms_per_iter=... device=... params_G=... params_D=... peak_mib=...`
-- (`sgen wgan_gp_step ...` for --step=wgan-gp, with `ms_full_iter=...` where --full_iters > 0).
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
  nc = {type = "integer", default = 3, help = "image channels"},
  step = {type = "string", default = "dcgan", help = "dcgan | wgan-gp (one critic step with the gradient penalty)"},
  sparsity = {type = "string", default = "none", help = "none | l0inf (projection of Γ, the input of G's last layer)"},
  k = {type = "integer", default = 16, help = "l0inf: kept channels per needle of Γ"},
  full_iters = {type = "integer", default = 0, help = "wgan-gp: also time this many whole iterations (n_critic critic steps + 1 G step)"},
  n_critic = {type = "integer", default = 5, help = "wgan-gp: critic steps per G step in --full_iters"},
  threads = {type = "integer", default = 0, help = "CPU threads (0: sgen's default)"},
  device = {type = "string", default = "cuda", help = "cpu | cuda"},
  tf32 = {type = "boolean", default = false, help = "sg.backends.allow_tf32 (TF32 matmul/conv)"},
  seed = {type = "integer", default = 0, help = "sg.manual_seed"},
}, {help = "Times one GAN training step of models/dcgan.lua: DCGAN (D on real + fake, then G) or a WGAN-GP critic step."})

if opts.iters < 1 then error("sgen: --iters must be >= 1", 0) end
if opts.warmup < 0 then error("sgen: --warmup must be >= 0", 0) end
if opts.batch < 1 then error("sgen: --batch must be >= 1", 0) end
if opts.full_iters < 0 then error("sgen: --full_iters must be >= 0", 0) end
if opts.n_critic < 1 then error("sgen: --n_critic must be >= 1", 0) end
if opts.step ~= "dcgan" and opts.step ~= "wgan-gp" then
  error("sgen: --step must be dcgan or wgan-gp, got '" .. opts.step .. "'", 0)
end
if opts.sparsity ~= "none" and opts.sparsity ~= "l0inf" then
  error("sgen: --sparsity must be none or l0inf, got '" .. opts.sparsity .. "'", 0)
end
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
local wgan = opts.step == "wgan-gp"
local gopts = {nz = opts.nz, ngf = opts.ngf, nc = opts.nc}
if opts.sparsity == "l0inf" then gopts.sparsity, gopts.k = "l0inf", opts.k end
local G = dcgan.Generator(gopts):to(device)
local D = (wgan and dcgan.Critic or dcgan.Discriminator)({ndf = opts.ndf, nc = opts.nc}):to(device)
local lr, betas = 2e-4, {0.5, 0.999}
if wgan then lr, betas = 1e-4, {0, 0.9} end
local optD = sg.optim.Adam(D:parameters(), {lr = lr, betas = betas})
local optG = sg.optim.Adam(G:parameters(), {lr = lr, betas = betas})
local B = opts.batch
local real = (sg.rand(B, opts.nc, 32, 32) * 2 - 1):to(device)
local ones = sg.ones(B, {device = device})
local zeros = sg.zeros(B, {device = device})
local bce = sg.F.binary_cross_entropy_with_logits

-- returns the three losses (read after the timing)
local function dcgan_step()
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

-- one WGAN-GP critic step: returns the critic's loss (with the penalty) and the penalty
local function critic_step()
  local z = sg.randn(B, opts.nz, 1, 1, {device = device})
  local fake = G(z):detach()
  local loss = sg.gan.d_loss("wgan-gp", D(real), D(fake)) -- mean D(fake) - mean D(real)
  local gp = sg.gan.gradient_penalty(D, real, fake, {lambda = 10})
  loss = loss + gp
  optD:zero_grad()
  loss:backward()
  optD:step()
  return loss, gp
end

-- one WGAN-GP generator step: returns G's loss
local function wgan_g_step()
  local z = sg.randn(B, opts.nz, 1, 1, {device = device})
  local errG = sg.gan.g_loss("wgan-gp", D(G(z))) -- -mean D(G(z))
  optG:zero_grad()
  errG:backward()
  optG:step()
  return errG
end

local step = wgan and critic_step or dcgan_step

local function sync()
  if device == "cuda" then sg.cuda.synchronize() end
end

local function finite(name, x)
  if x ~= x or x == math.huge or x == -math.huge then
    error(string.format("sgen: %s: %s is not finite (%s)", opts.step, name, tostring(x)), 0)
  end
  return x
end

for _ = 1, opts.warmup do step() end
sync()
if device == "cuda" then sg.cuda.reset_peak_memory_stats() end
local t0 = core.monotonic()
local a, b, c
for _ = 1, opts.iters do a, b, c = step() end
sync()
local ms = (core.monotonic() - t0) * 1000 / opts.iters
local peak = device == "cuda" and sg.cuda.memory_stats().peak_allocated_bytes / 2 ^ 20 or 0
local sparsity = opts.sparsity == "l0inf" and string.format("sparsity=l0inf k=%d", opts.k) or "sparsity=none"
if not wgan then
  local lD, lG = finite("loss_D", a:item() + b:item()), finite("loss_G", c:item())
  print(string.format("sgen dcgan_step batch=%d ms_per_iter=%.3f device=%s tf32=%s params_G=%d "
    .. "params_D=%d peak_mib=%.0f loss_D=%.4f loss_G=%.4f %s", B, ms, device, tostring(opts.tf32),
    G:num_parameters(), D:num_parameters(), peak, lD, lG, sparsity))
else
  local lD, gp = finite("loss_D", a:item()), finite("gp", b:item())
  local full = ""
  if opts.full_iters > 0 then
    local lG
    sync()
    local t1 = core.monotonic()
    for _ = 1, opts.full_iters do
      for _ = 1, opts.n_critic do critic_step() end
      lG = wgan_g_step()
    end
    sync()
    local msf = (core.monotonic() - t1) * 1000 / opts.full_iters
    full = string.format(" ms_full_iter=%.3f n_critic=%d full_iters=%d loss_G=%.4f", msf, opts.n_critic,
      opts.full_iters, finite("loss_G", lG:item()))
  end
  print(string.format("sgen wgan_gp_step batch=%d ms_per_iter=%.3f device=%s tf32=%s params_G=%d "
    .. "params_D=%d peak_mib=%.0f loss_D=%.4f gp=%.4f %s%s", B, ms, device, tostring(opts.tf32),
    G:num_parameters(), D:num_parameters(), peak, lD, gp, sparsity, full))
end
