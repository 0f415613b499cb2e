-- One whole training iteration of SPGAN (paper 002, experiments/spgan.lua)
-- or of Self-Sparse GAN (paper 003, experiments/self_sparse.lua) in sgen,
-- timed: the sgen side of bench/paper_gan_step.sh. PyTorch's side is
-- bench/paper_gan_step.py: the same networks, the same iteration, the same
-- number of forward and backward passes, the same optimizers.
--
-- --model=spgan (experiments/spgan.lua, Fashion-MNIST: nc = 1, 36 atoms of
-- 1x3x3, λ0 = 0.1 learnable per atom; sg.gan.optimizer_settings("spgan"):
-- Adam 1e-4, betas (0, 0.9), 5 critic steps, penalty centred at 1, λ = 10):
--   --variant=spgan (default): G = models/spgan.lua's Generator (the DCGAN
--     trunk -> ConvT(ngf -> 36 atoms) 32x32 -> nn.SoftThreshold with a
--     learnable λ per atom -> conv_transpose2d with the fixed Ω, divided by
--     the overlap count; no Tanh). Ω: a random unit-norm 9 x 36 dictionary
--     (the Generator's own draw when no Ω is given), no dictionary learning.
--   --variant=wgan-gp: G = models/dcgan.lua's Generator (the baseline).
--   D = models/spgan.lua's Critic (models/dcgan.lua's, no BN).
--   One iteration (experiments/spgan.lua's loop body, variants spgan and
--   wgan-gp; spgan-recon's reconstructor is not timed):
--     5 x d_step: fake = G(z) under no_grad (G in train mode), loss =
--       mean D(fake) - mean D(real) + 10 mean((||∇x̂ D(x̂)||₂ - 1)²)
--       (sg.gan.gradient_penalty, create_graph, then the double backward),
--       zero_grad, backward, Adam step, loss and penalty read (:item())
--     g_step: x, {Γ} = G(z, {return_gamma = true}) (spgan), loss -mean D(x),
--       zero_grad, backward, Adam step, G:project_lambda() (λ >= 0), the
--       non-zero share of Γ read (sg.sparse.sparsity), loss read
-- --model=self-sparse (experiments/self_sparse.lua, --size=32 by default:
-- the CPU-scale runs of tools/paper_results.sh; nc = 1;
-- sg.gan.optimizer_settings("self-sparse"): Adam G 1e-4, D 3e-4, betas
-- (0.5, 0.999), 2 critic steps, zero-centred penalty, λ = 10):
--   --variant=self-sparse (default): G = models/self_sparse.lua's Generator
--     (an nn.SASTM after every transposed convolution; the SASTMs also count
--     the zeros of their outputs, a diagnostic the module always computes).
--   --variant=wgan: the same generator without SASTMs (the experiment's
--     PlainGenerator, models/self_sparse.lua).
--   D = models/self_sparse.lua's Critic.
--   One iteration: 2 x d_step (as above, penalty 10 mean ||∇x̂ D(x̂)||₂²),
--     then g_step (loss -mean D(G(z)), zero_grad, backward, Adam step).
-- The real batches are n_critic fixed random tensors in [-1, 1] made before
-- the timing (the experiments draw a fresh batch per critic step from the
-- loader; no data loading is timed here). --warmup untimed iterations, then
-- the mean (and the fastest) of --iters timed ones (sg.core.monotonic, after
-- sg.cuda.synchronize() on a GPU); ms_critic_step (mean of one critic step)
-- and ms_g_step (the G step with its projection) break the iteration down.
-- What differs from the PyTorch side: the RNGs (the losses agree in
-- magnitude only) and the kernels (bench/paper_gan_step.py's header).
--
--   sgen run bench/paper_gan_step.lua --model=spgan [--variant=spgan|wgan-gp] [--iters=5 --warmup=2
--       --batch=64 --ngf=64 --ndf=64 --nz=100 --threads=2 --device=cpu]
--   sgen run bench/paper_gan_step.lua --model=self-sparse [--variant=self-sparse|wgan --size=32]
-- prints one line: `sgen paper_gan_step model=... variant=... batch=... ms_per_iter=... ms_min=...
-- ms_critic_step=... ms_g_step=... params_G=... params_D=... loss_D=... gp=... loss_G=...`.
local sg = require "sgen"
local cli = require "sgen.cli"
local core = require "sgen.core"
local nn = sg.nn
local dcgan = require "models.dcgan"
local spgan = require "models.spgan"
local self_sparse = require "models.self_sparse"

local opts = cli.options({
  model = {type = "string", default = "spgan", help = "spgan | self-sparse"},
  variant = {type = "string", default = "", help = "spgan: spgan | wgan-gp; self-sparse: self-sparse | wgan (default: the first)"},
  batch = {type = "integer", default = 64, help = "batch size"},
  iters = {type = "integer", default = 5, help = "timed iterations"},
  warmup = {type = "integer", default = 2, help = "untimed iterations first"},
  nz = {type = "integer", default = 100, help = "latent size"},
  ngf = {type = "integer", default = 64, help = "generator width"},
  ndf = {type = "integer", default = 64, help = "critic width"},
  nc = {type = "integer", default = 1, help = "image channels (Fashion-MNIST: 1)"},
  atoms = {type = "integer", default = 36, help = "spgan: atoms of Ω (the experiment's 36 for nc = 1)"},
  patch = {type = "integer", default = 3, help = "spgan: patch side"},
  size = {type = "integer", default = 32, help = "self-sparse: image size 32 | 64 | 128"},
  threads = {type = "integer", default = 0, help = "CPU threads (0: sgen's default)"},
  device = {type = "string", default = "cpu", help = "cpu | cuda"},
  seed = {type = "integer", default = 1, help = "sg.manual_seed"},
}, {help = "Times one whole training iteration of SPGAN or Self-Sparse GAN (critic steps + G step)."})

local function usage(fmt, ...) error("sgen: " .. string.format(fmt, ...), 0) end
if opts.iters < 1 then usage("--iters must be >= 1") end
if opts.warmup < 0 then usage("--warmup must be >= 0") end
for _, k in ipairs({"batch", "nz", "ngf", "ndf", "nc", "atoms", "patch"}) do
  if opts[k] < 1 then usage("--%s must be >= 1", k) end
end
local model = opts.model
local variants = {spgan = {"spgan", "wgan-gp"}, ["self-sparse"] = {"self-sparse", "wgan"}}
if not variants[model] then usage("--model must be spgan or self-sparse, got '%s'", model) end
local variant = opts.variant ~= "" and opts.variant or variants[model][1]
if variant ~= variants[model][1] and variant ~= variants[model][2] then
  usage("--variant for --model=%s must be %s or %s, got '%s'", model, variants[model][1], variants[model][2], variant)
end
if model == "self-sparse" and opts.size ~= 32 and opts.size ~= 64 and opts.size ~= 128 then
  usage("--size must be 32, 64 or 128, got %d", opts.size)
end
local device = opts.device
if device ~= "cpu" and device ~= "cuda" then usage("--device must be cpu or cuda, got '%s'", device) end
if device == "cuda" and not sg.cuda.is_available() then
  usage("--device=cuda but CUDA is not usable: %s", sg.cuda.unavailable_reason())
end
if opts.threads > 0 then sg.set_num_threads(opts.threads) end

local PlainGenerator = self_sparse.PlainGenerator -- experiments/self_sparse.lua's baseline

sg.manual_seed(opts.seed)
local B, nc = opts.batch, opts.nc
local S = model == "self-sparse" and opts.size or 32
local s = sg.gan.optimizer_settings(model == "spgan" and "spgan" or "self-sparse")
local gp_lambda = 10
local sparse_g = variant == "spgan"
local G, D
if model == "spgan" then
  if sparse_g then
    G = spgan.Generator({nz = opts.nz, ngf = opts.ngf, nc = nc, atoms = opts.atoms, patch = opts.patch, lambda = 0.1})
  else
    G = dcgan.Generator({nz = opts.nz, ngf = opts.ngf, nc = nc})
  end
  D = spgan.Critic({ndf = opts.ndf, nc = nc})
else
  if variant == "self-sparse" then
    G = self_sparse.Generator({nz = opts.nz, ngf = opts.ngf, nc = nc, size = S})
  else
    G = PlainGenerator({nz = opts.nz, ngf = opts.ngf, nc = nc, size = S})
  end
  D = self_sparse.Critic({ndf = opts.ndf, nc = nc, size = S})
end
G, D = G:to(device), D:to(device)
local optG = sg.optim.Adam(G:parameters(), {lr = s.lr_g, betas = s.betas})
local optD = sg.optim.Adam(D:parameters(), {lr = s.lr_d, betas = s.betas})

local reals = {}
for i = 1, s.n_critic do reals[i] = (sg.rand(B, nc, S, S) * 2 - 1):to(device) end
local function randz() return sg.randn(B, opts.nz, 1, 1):to(device) end

-- experiments/spgan.lua's and experiments/self_sparse.lua's d_step (the
-- real batch given instead of drawn from the loader)
local function d_step(real)
  local fake = sg.no_grad(function() return G(randz()) end)
  local loss_d = sg.gan.d_loss("wgan-gp", D(real), D(fake))
  local gp = sg.gan.gradient_penalty(D, real, fake, {lambda = gp_lambda, center = s.gp_center})
  local total = loss_d + gp
  optD:zero_grad()
  total:backward()
  optD:step()
  return total:item(), gp:item()
end

-- experiments/spgan.lua's g_step (without spgan-recon's L_R); for
-- self-sparse, experiments/self_sparse.lua's
local function g_step()
  local fake, gamma
  if sparse_g then
    local x, gs = G(randz(), {return_gamma = true})
    fake, gamma = x, gs[1]
  else
    fake = G(randz())
  end
  local loss_g = sg.gan.g_loss("wgan-gp", D(fake))
  optG:zero_grad()
  loss_g:backward()
  optG:step()
  if sparse_g then G:project_lambda() end
  return loss_g:item(), gamma and 100 * sg.sparse.sparsity(gamma:detach()) or nil
end

local function sync()
  if device == "cuda" then sg.cuda.synchronize() end
end

-- one whole iteration; also adds the time of its critic steps and of its G
-- step to phase.d / phase.g (a breakdown printed as ms_critic_step, ms_g_step)
local phase = {d = 0, g = 0}
local function iteration()
  local ld, gp
  local t0 = core.monotonic()
  for i = 1, s.n_critic do ld, gp = d_step(reals[i]) end
  sync()
  local t1 = core.monotonic()
  local lg, nzp = g_step()
  sync()
  phase.d, phase.g = phase.d + (t1 - t0), phase.g + (core.monotonic() - t1)
  return ld, gp, lg, nzp
end

local function finite(name, x)
  if x ~= x or x == math.huge or x == -math.huge then
    error(string.format("sgen: %s %s: %s is not finite (%s)", model, variant, name, tostring(x)), 0)
  end
  return x
end

for _ = 1, opts.warmup do iteration() end
sync()
phase.d, phase.g = 0, 0
local total, best = 0, math.huge
local ld, gp, lg, nzp
for _ = 1, opts.iters do
  local t0 = core.monotonic()
  ld, gp, lg, nzp = iteration()
  sync()
  local dt = core.monotonic() - t0
  total = total + dt
  if dt < best then best = dt end
end
local extra = ""
if model == "self-sparse" then extra = string.format(" size=%d", S) end
if nzp then extra = extra .. string.format(" nonzero_gamma=%.2f", nzp) end
print(string.format("sgen paper_gan_step model=%s variant=%s batch=%d ms_per_iter=%.3f ms_min=%.3f "
  .. "ms_critic_step=%.3f ms_g_step=%.3f device=%s threads=%d n_critic=%d params_G=%d params_D=%d loss_D=%.4f "
  .. "gp=%.4f loss_G=%.4f%s",
  model, variant, B, total * 1000 / opts.iters, best * 1000, phase.d * 1000 / (opts.iters * s.n_critic),
  phase.g * 1000 / opts.iters, device, sg.get_num_threads(), s.n_critic,
  G:num_parameters(), D:num_parameters(), finite("loss_D", ld), finite("gp", gp), finite("loss_G", lg), extra))
