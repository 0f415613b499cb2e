-- Self-Sparse GAN (Qian, Xu, Zuo, Li, paper 003): a DCGAN-like generator with
-- a SASTM after every deconvolution, trained as WGAN with the zero-centred
-- gradient penalty (Eq. 13), against the same generator without SASTMs
-- (the paper's WGAN-GP baseline, same loss) and the §4.4 ablations without
-- the channel (CSM) or the position (PSM) sparsity module.
--
--   sgen run experiments/self_sparse.lua --quick                          -- about a minute on 2 cores
--   sgen run experiments/self_sparse.lua --variant=wgan --size=64 --device=cuda   -- paper: 100K G steps
--   sgen run experiments/self_sparse.lua --resume=runs/self_sparse/<run>
--
-- One iteration: 2 critic updates (each on a fresh real batch and fresh z,
-- loss mean D(fake) - mean D(real) + 10 mean ||∇D(x̂)||², centre 0), then one
-- G update (-mean D(G(z))); Adam G 1e-4, D 3e-4, betas (0.5, 0.999)
-- (sg.gan.optimizer_settings("self-sparse")).
--
-- Data: Fashion-MNIST padded to 32x32 in [-1, 1]; --size=64/128 upsamples
-- those 32x32 images bilinearly (sg.F.interpolate, align_corners = false) in
-- the loader. "FID" is the Fréchet distance in sgen's Fashion-MNIST
-- classifier features (not Inception-FID), always at 32x32: generated images
-- of size 64/128 are averaged down to 32x32 (F.avg_pool2d, 2x2 / 4x4 windows)
-- before the classifier, against the 32x32 test images.
--
-- metrics.csv logs, from G's training forward, ξ̄ (Eq. 15) and ζ averaged over
-- the stages and per stage (xi_t = (1/C) Σ ξ_i, zeta_t of Eq. 5) for the SASTM variants.
-- Outputs under runs/self_sparse/<timestamp>/ (or --out): config.json, metrics.csv,
-- samples/iter_NNNNNN.png, samples_final.png, losses.svg, fid.svg, sparsity.svg,
-- classes.svg, summary.json, checkpoints/.
local root = (arg and arg[0] or ""):match("^(.*)/experiments/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local sg = require "sgen"
local cli = require "sgen.cli"
local util = require "sgen.util"
local run = require "sgen.train.run"
local dcgan = require "models.dcgan"
local self_sparse = require "models.self_sparse"
local nn = sg.nn

local opts, given = cli.options({
  variant = {type = "string", default = "self-sparse", help = "self-sparse | wgan | no-csm | no-psm"},
  size = {type = "integer", default = 64, help = "image size 32 | 64 | 128 (Fashion-MNIST 32x32 upsampled)"},
  iters = {type = "integer", default = 100000, help = "generator updates (paper: 100K)"},
  batch_size = {type = "integer", default = 64, help = "batch size"},
  seed = {type = "integer", default = 1, help = "initialization, z, data order"},
  device = {type = "string", default = "auto", help = "auto | cpu | cuda"},
  out = {type = "string", default = "", help = "output directory (default runs/self_sparse/<timestamp>)"},
  data = {type = "string", default = "fmnist", help = "fmnist (the only data set here)"},
  data_dir = {type = "string", default = "", help = "dataset folder (default: Debian's Fashion-MNIST)"},
  nz = {type = "integer", default = 100, help = "latent size (and SASTM hidden width)"},
  ngf = {type = "integer", default = 64, help = "generator width"},
  ndf = {type = "integer", default = 64, help = "critic width"},
  gp_lambda = {type = "number", default = 10, help = "zero-centred penalty weight"},
  log_every = {type = "integer", default = 50, help = "iterations between metrics.csv rows"},
  sample_every = {type = "integer", default = 500, help = "iterations between sample grids (0: end only)"},
  fid_every = {type = "integer", default = 500, help = "iterations between FID evaluations (paper: 500; 0: end only)"},
  fid_samples = {type = "integer", default = 5000, help = "generated samples per FID (paper: 5K)"},
  checkpoint_every = {type = "integer", default = 1000, help = "iterations between checkpoints (0: end and Ctrl-C only)"},
  resume = {type = "string", default = "", help = "continue the run in this directory (bit-identically)"},
  threads = {type = "integer", default = 0, help = "CPU threads (0: keep the default)"},
  quick = {type = "boolean", default = false,
           help = "small preset: size 32, ngf=ndf=32, 80 iterations, FID on 1,000 samples at the end"},
}, {help = "Self-Sparse GAN (Qian et al.): SASTMs after every deconvolution, WGAN with a zero-centred penalty."})

local usage = run.usage
local resume_dir = opts.resume ~= "" and opts.resume or nil
if resume_dir then
  sg.train.resume_options(opts, given, resume_dir)
  opts.out = resume_dir
end
if opts.quick then
  run.preset(opts, given, {size = 32, ngf = 32, ndf = 32, iters = 80, log_every = 5, sample_every = 40,
    fid_every = 0, fid_samples = 1000, checkpoint_every = 0})
end

run.one_of("variant", opts.variant, {"self-sparse", "wgan", "no-csm", "no-psm"})
run.one_of("data", opts.data, {"fmnist"})
if opts.size ~= 32 and opts.size ~= 64 and opts.size ~= 128 then usage("--size must be 32, 64 or 128, got %d", opts.size) end
run.at_least(opts, {"iters", "batch_size", "nz", "ngf", "ndf", "log_every"}, 1)
run.at_least(opts, {"sample_every", "fid_every", "checkpoint_every", "threads"}, 0)
if opts.fid_samples < 2 then usage("--fid-samples must be at least 2, got %d", opts.fid_samples) end
if opts.gp_lambda < 0 then usage("--gp-lambda must be >= 0, got %g", opts.gp_lambda) end
if opts.threads > 0 then sg.set_num_threads(opts.threads) end
local device = run.device(opts.device)
local s = sg.gan.optimizer_settings("self-sparse")
local S, nc = opts.size, 1

local out = run.output_dir(opts, "self_sparse", resume_dir, {lr_g_used = s.lr_g, lr_d_used = s.lr_d,
  betas_used = s.betas, n_critic_used = s.n_critic, gp_center_used = s.gp_center, device_used = device,
  fid_resolution = 32, upsampling = S > 32 and "bilinear from the padded 32x32 images" or nil,
  fid_downsampling = S > 32 and string.format("avg_pool2d %dx%d to 32x32", S // 32, S // 32) or nil})

-- ---------------------------------------------------------------- data
local train = run.train_set(opts)
if train:len() < opts.batch_size then
  usage("%d training images are fewer than one batch (--batch-size=%d)", train:len(), opts.batch_size)
end
local transform
if S > 32 then
  transform = function(x, y) return sg.F.interpolate(x, {size = S, mode = "bilinear"}), y end
end
local loader = sg.data.DataLoader(train, {batch_size = opts.batch_size, shuffle = true, drop_last = true,
  seed = opts.seed, transform = transform})
local function next_real() return loader:next():to(device) end
local ref_feats
local function reference() ref_feats = ref_feats or run.reference_features(opts); return ref_feats end
local function to32(x)
  if S == 32 then return x end
  return sg.F.avg_pool2d(x, S // 32)
end

-- ---------------------------------------------------------------- models
local PlainGenerator = self_sparse.PlainGenerator

sg.manual_seed(opts.seed)
local sastm = opts.variant ~= "wgan"
local G
if sastm then
  G = self_sparse.Generator({nz = opts.nz, ngf = opts.ngf, nc = nc, size = S,
    csm = opts.variant ~= "no-csm", psm = opts.variant ~= "no-psm"}):to(device)
else
  G = PlainGenerator({nz = opts.nz, ngf = opts.ngf, nc = nc, size = S}):to(device)
end
local D = self_sparse.Critic({ndf = opts.ndf, nc = nc, size = S}):to(device)
local optG = sg.optim.Adam(G:parameters(), {lr = s.lr_g, betas = s.betas})
local optD = sg.optim.Adam(D:parameters(), {lr = s.lr_d, betas = s.betas})
local fixed_z = sg.randn(64, opts.nz, 1, 1):to(device)
local T = ({[32] = 4, [64] = 5, [128] = 6})[S]

local ckpt = sg.train.Checkpointer(out .. "/checkpoints", {every = opts.checkpoint_every, keep = 2})
local state = {models = {G = G, D = D}, optimizers = {optG = optG, optD = optD}, loaders = {train = loader}}
local start_iter = resume_dir and run.resume(ckpt, out, state, opts.iters, "self_sparse") or 0

print(string.format("self_sparse: variant %s, %dx%d (FID at 32x32), ngf %d, ndf %d, WGAN + zero-centred GP "
  .. "(λ %g), %d D steps per G step, %d iterations of batch %d, seed %d, device %s, out %s",
  opts.variant, S, S, opts.ngf, opts.ndf, opts.gp_lambda, s.n_critic, opts.iters, opts.batch_size, opts.seed,
  device, out))

-- ---------------------------------------------------------------- evaluation
local function generate(n)
  G:eval()
  local parts = {}
  sg.no_grad(function()
    local done = 0
    while done < n do
      local b = math.min(500, n - done)
      parts[#parts + 1] = to32(G(sg.randn(b, opts.nz, 1, 1):to(device))):cpu()
      done = done + b
    end
  end)
  G:train()
  return sg.cat(parts, 1)
end

local function evaluate(iter)
  local imgs = run.with_seed(opts.seed * 1000003 + iter, generate, opts.fid_samples)
  local r = run.evaluate(imgs, reference(), {seed = opts.seed})
  r.rates = sastm and G:sparse_rates() or nil -- of the last evaluation batch (eval mode)
  return r
end

local function write_samples(path)
  G:eval()
  sg.no_grad(function()
    sg.image.write(path, G(fixed_z):cpu(), {nrow = 8, normalize = true, range = {-1, 1}})
  end)
  G:train()
end

-- ---------------------------------------------------------------- training
local function randz() return sg.randn(opts.batch_size, opts.nz, 1, 1):to(device) end

local function d_step()
  local real = next_real()
  local fake = sg.no_grad(function() return G(randz()) end)
  local loss_d = sg.gan.d_loss("wgan-gp", D(real), D(fake))
  local gp = sg.gan.gradient_penalty(D, real, fake, {lambda = opts.gp_lambda, center = s.gp_center})
  local total = loss_d + gp
  optD:zero_grad()
  total:backward()
  optD:step()
  return total:item(), gp:item()
end

local function g_step()
  local loss_g = sg.gan.g_loss("wgan-gp", D(G(randz())))
  optG:zero_grad()
  loss_g:backward()
  optG:step()
  return loss_g:item()
end

local fields = {"iter", "loss_d", "loss_g", "gp", "xi_bar", "zeta_mean"}
for t = 1, 6 do fields[#fields + 1] = "xi_" .. t end
for t = 1, 6 do fields[#fields + 1] = "zeta_" .. t end
for _, f in ipairs({"fid", "kid", "kid_std", "is", "max_class_percent", "seconds"}) do fields[#fields + 1] = f end
local log = run.open_log(out, fields, start_iter, opts.iters)
local clock = util.clock
local t0 = clock()

local function rate_columns(row, rates)
  if not rates then return row end
  row.xi_bar, row.zeta_mean = rates.xi_bar, rates.zeta_mean
  for t, r in ipairs(rates.stages) do row["xi_" .. t], row["zeta_" .. t] = r.xi_mean, r.zeta end
  return row
end

local function log_eval(iter)
  local r = evaluate(iter)
  local _, maxp = run.class_table(r.classes)
  log:write(rate_columns({iter = iter, fid = r.fid, kid = r.kid, kid_std = r.kid_std, is = r.is,
    max_class_percent = maxp, seconds = clock() - t0}, r.rates))
  print(string.format("iter %d: FID %.3f (Fashion-MNIST-classifier features at 32x32, not Inception), KID %.5f ± %.5f, "
    .. "IS %.3f%s", iter, r.fid, r.kid, r.kid_std, r.is,
    r.rates and string.format(", ξ̄ %.3f, ζ %.3f", r.rates.xi_bar, r.rates.zeta_mean) or ""))
  return r
end

local bar = util.progress.new(opts.iters - start_iter, {desc = opts.variant, every = opts.log_every})
local last = {}
ckpt:loop(start_iter, opts.iters, state, function(iter)
  local ld, gp
  for _ = 1, s.n_critic do ld, gp = d_step() end
  local lg = g_step()
  last = {loss_d = ld, loss_g = lg}
  if iter % opts.log_every == 0 or iter == 1 then
    log:write(rate_columns({iter = iter, loss_d = ld, loss_g = lg, gp = gp, seconds = clock() - t0},
      sastm and G:sparse_rates() or nil))
  end
  if opts.sample_every > 0 and iter % opts.sample_every == 0 then
    write_samples(string.format("%s/samples/iter_%06d.png", out, iter))
  end
  if opts.fid_every > 0 and iter % opts.fid_every == 0 and iter < opts.iters then log_eval(iter) end
  bar:update(1, {d = string.format("%.3f", ld), g = string.format("%.3f", lg)})
end)
bar:close()
local train_seconds = clock() - t0

-- ---------------------------------------------------------------- final outputs
write_samples(out .. "/samples_final.png")
local final = log_eval(opts.iters)
log:close()
local classes, maxp, best = run.finish(out, final, {iters = opts.iters, fid_samples = opts.fid_samples,
  variant = opts.variant, title = string.format("Self-Sparse GAN %s %dx%d, seed %d", opts.variant, S, S, opts.seed),
  fid_title = "Fréchet distance at 32x32 (Fashion-MNIST classifier features)"})
if sastm then
  local ys = {"xi_bar", "zeta_mean"}
  sg.plot.from_csv(out .. "/sparsity.svg", out .. "/metrics.csv", {x = "iter", y = ys,
    title = "sparse rates: ξ̄ (Eq. 15) and mean ζ over the stages"})
end

local stage_rates
if final.rates then
  stage_rates = {}
  for t, r in ipairs(final.rates.stages) do
    stage_rates[t] = {stage = t, channels = r.channels, size = r.size, xi_mean = r.xi_mean, zeta = r.zeta}
  end
end
local summary = {
  experiment = "self_sparse", variant = opts.variant, size = S, stages = T, data = opts.data, iters = opts.iters,
  batch_size = opts.batch_size, seed = opts.seed, device = device, nz = opts.nz, ngf = opts.ngf, ndf = opts.ndf,
  n_critic = s.n_critic, gp_lambda = opts.gp_lambda, gp_center = s.gp_center,
  fid = final.fid, kid = final.kid, kid_std = final.kid_std, is = final.is, best_fid = best.fid,
  best_fid_iter = best.iter, fid_samples = opts.fid_samples, fid_resolution = 32, fid_note = run.FID_NOTE,
  fid_downsampling = S > 32 and string.format("avg_pool2d %dx%d", S // 32, S // 32) or nil,
  xi_bar = final.rates and final.rates.xi_bar, zeta_mean = final.rates and final.rates.zeta_mean,
  sparse_rates = stage_rates, classes = classes, max_class_percent = maxp,
  final_loss_d = last.loss_d, final_loss_g = last.loss_g,
  seconds = train_seconds, resumed_from = resume_dir and start_iter or nil, sgen_version = sg.version,
}
util.json.write(out .. "/summary.json", summary)
print(string.format("done: FID %.3f (best %.3f at %d), KID %.5f, IS %.3f, largest class %.1f %%%s, %.1f s; seed %d",
  final.fid, best.fid, best.iter, final.kid, final.is, maxp,
  final.rates and string.format(", ξ̄ %.3f", final.rates.xi_bar) or "", train_seconds, opts.seed))
print("samples, curves, metrics: " .. out)
return summary
