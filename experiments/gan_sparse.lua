-- Sparsity-regularized GANs (Ganz & Elad, paper 000 §3 and §5.1, Table 1,
-- Fig. 4): a DCGAN or ML-CSC generator whose last-layer input Γ is left
-- alone (vanilla), penalized (L1) or projected (L0, L0,∞), trained with the
-- non-saturating DCGAN loss, WGAN-GP or the hinge loss, scored by a Fréchet
-- distance in the feature space of sgen's own Fashion-MNIST classifier.
--
--   sgen run experiments/gan_sparse.lua --quick --variant=l0inf      -- ~1 min on 2 cores
--   sgen run experiments/gan_sparse.lua --model=mlcsc --loss=wgan-gp --iters=5000
--   sgen run experiments/gan_sparse.lua --data=cifar10 --data-dir=DIR --device=cuda  -- paper scale
--   sgen run experiments/gan_sparse.lua --resume=runs/gan_sparse/<run>        -- continue a run
--
-- One iteration is one generator update, preceded by n_critic updates of the
-- discriminator/critic, each on a fresh real batch (the loader cycles through
-- epochs). With n_critic = 1 the G update reuses the D update's fake batch
-- (PyTorch's DCGAN example); with more, it draws its own z (WGAN-GP's loop). Γ is the input of the generator's last transposed convolution (for
-- ML-CSC: Γ2, the input of D2, and Γ1, the input of D1).
--
-- "FID" here is the Fréchet distance in the 128-d penultimate feature space of
-- sgen's Fashion-MNIST classifier (sg.metrics.frechet_features): comparable
-- between runs of sgen, NOT to Inception-FID numbers such as the paper's.
-- On CIFAR-10 it is still computed in that Fashion-MNIST feature space (on
-- grayscale versions of the images) and means even less; say so when you
-- report it.
--
-- Outputs under runs/gan_sparse/<timestamp>/ (or --out): config.json,
-- metrics.csv (losses every --log-every iterations; FID/KID every
-- --fid-every), samples/iter_NNNNNN.png (a fixed z every --sample-every),
-- samples_final.png, needle_density[_gamma2|_gamma1].png (paper Fig. 4b),
-- losses.svg, fid.svg, summary.json and checkpoints/ (every
-- --checkpoint-every iterations, at the end and on Ctrl-C).
local root = (arg and arg[0] or ""):match("^(.*)/experiments/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local sg = require "sgen"
local cli = require "sgen.cli"
local util = require "sgen.util"
local dcgan = require "models.dcgan"

local opts, given = cli.options({
  model = {type = "string", default = "dcgan", help = "dcgan | mlcsc"},
  loss = {type = "string", default = "dcgan", help = "dcgan | wgan-gp | hinge"},
  variant = {type = "string", default = "none", help = "none | l1 | l0 | l0inf (sparsity of Γ)"},
  k = {type = "number", default = 0,
       help = "l0inf: kept channels per needle; l0: kept entries per sample (count, or fraction < 1); 0: ngf/8 per needle"},
  l1_weight = {type = "number", default = 0.01, help = "weight of mean|Γ| in G's loss (variant l1)"},
  iters = {type = "integer", default = 20000, help = "generator updates"},
  batch_size = {type = "integer", default = 64, help = "batch size (real and fake)"},
  seed = {type = "integer", default = 1, help = "initialization, z, data order"},
  device = {type = "string", default = "auto", help = "auto | cpu | cuda"},
  out = {type = "string", default = "", help = "output directory (default runs/gan_sparse/<timestamp>)"},
  data = {type = "string", default = "fmnist", help = "fmnist | cifar10"},
  data_dir = {type = "string", default = "", help = "dataset folder (default: Debian's Fashion-MNIST)"},
  nz = {type = "integer", default = 100, help = "latent size"},
  ngf = {type = "integer", default = 128, help = "generator width (channels of Γ; Appendix A: 128)"},
  ndf = {type = "integer", default = 64, help = "discriminator width"},
  n_critic = {type = "integer", default = 0, help = "D steps per G step (0: 5 for wgan-gp, 1 otherwise)"},
  lr_g = {type = "number", default = 0, help = "G learning rate (0: the loss's default)"},
  lr_d = {type = "number", default = 0, help = "D learning rate (0: the loss's default)"},
  gp_lambda = {type = "number", default = 10, help = "gradient-penalty weight (wgan-gp)"},
  log_every = {type = "integer", default = 50, help = "iterations between metrics.csv rows"},
  sample_every = {type = "integer", default = 500, help = "iterations between sample grids (0: end only)"},
  fid_every = {type = "integer", default = 2000, help = "iterations between FID evaluations (0: end only)"},
  fid_samples = {type = "integer", default = 5000, help = "generated samples per FID (against the 10,000 test images)"},
  checkpoint_every = {type = "integer", default = 1000, help = "iterations between checkpoints (0: end and Ctrl-C only)"},
  resume = {type = "string", default = "", help = "continue the run in this directory (bit-identically)"},
  threads = {type = "integer", default = 0, help = "CPU threads (0: keep the default)"},
  quick = {type = "boolean", default = false,
           help = "small preset: ngf=ndf=32, 300 iterations (60 for wgan-gp), FID on 1,000 samples at the end"},
}, {help = "Sparsity-regularized GANs (Ganz & Elad): DCGAN / ML-CSC generators with L1, L0 or L0,inf on Γ."})

local function usage(fmt, ...) error(string.format("sgen: " .. fmt, ...), 0) end

-- --resume: the run's own config.json gives every option not given again.
local resume_dir = opts.resume ~= "" and opts.resume or nil
if resume_dir then
  sg.train.resume_options(opts, given, resume_dir)
  opts.out = resume_dir
end

local function preset(values)
  for key, v in pairs(values) do
    if not given[key] then opts[key] = v end
  end
end
if opts.quick then
  -- a WGAN-GP iteration is 5 critic updates with the penalty: 5x dearer
  local wgan_loss = opts.loss == "wgan-gp"
  preset({ngf = 32, ndf = 32, iters = wgan_loss and 60 or 300, log_every = 10,
          sample_every = wgan_loss and 20 or 100, fid_every = 0, fid_samples = 1000, checkpoint_every = 0})
end

local function one_of(name, v, allowed)
  for _, a in ipairs(allowed) do if v == a then return end end
  usage("--%s must be %s, got '%s'", name:gsub("_", "-"), table.concat(allowed, ", "), tostring(v))
end
one_of("model", opts.model, {"dcgan", "mlcsc"})
one_of("loss", opts.loss, {"dcgan", "wgan-gp", "hinge"})
one_of("variant", opts.variant, {"none", "l1", "l0", "l0inf"})
one_of("data", opts.data, {"fmnist", "cifar10"})
for _, key in ipairs({"iters", "batch_size", "nz", "ngf", "ndf", "log_every", "fid_samples"}) do
  if opts[key] < 1 then usage("--%s must be at least 1, got %d", key:gsub("_", "-"), opts[key]) end
end
for _, key in ipairs({"n_critic", "sample_every", "fid_every", "checkpoint_every", "threads"}) do
  if opts[key] < 0 then usage("--%s must be >= 0, got %d", key:gsub("_", "-"), opts[key]) end
end
if opts.fid_samples < 2 then usage("--fid-samples must be at least 2") end
if opts.l1_weight < 0 then usage("--l1-weight must be >= 0, got %g", opts.l1_weight) end
if opts.data == "cifar10" and opts.data_dir == "" then
  usage("--data=cifar10 needs --data-dir=DIR (the folder of CIFAR-10's binary batches; nothing is downloaded)")
end
if opts.threads > 0 then sg.set_num_threads(opts.threads) end

local device = opts.device
if device == "auto" then device = sg.cuda.is_available() and "cuda" or "cpu" end
one_of("device", device, {"cpu", "cuda"})

-- Sparsity budget. l0inf: k kept channels per needle (default ngf/8). l0: k
-- kept entries per sample, a count (>= 1) or a fraction of Γ's entries (< 1);
-- the default is the l0inf budget as a fraction, (ngf/8)/ngf = 1/8, so both
-- constraints keep the same number of non-zeros (docs/decisions.md).
local k = opts.k
if opts.variant == "l0inf" then
  if k == 0 then k = math.max(1, opts.ngf // 8) end
  if k ~= math.floor(k) or k < 1 or k > opts.ngf then
    usage("--k must be an integer in 1..%d (the channels of Γ) for l0inf, got %s", opts.ngf, tostring(opts.k))
  end
  k = math.tointeger(k)
elseif opts.variant == "l0" then
  if k == 0 then k = math.max(1, opts.ngf // 8) / opts.ngf end
  if k < 0 or (k > 1 and k ~= math.floor(k)) then
    usage("--k for l0 must be a count of kept entries per sample (an integer >= 1) or a fraction in (0, 1), got %s",
      tostring(opts.k))
  end
  if k >= 1 then k = math.tointeger(k) end
elseif k ~= 0 then
  usage("--k applies to --variant=l0 and l0inf only (got --variant=%s)", opts.variant)
end

-- Per-loss defaults: Radford et al. for dcgan/hinge, Gulrajani et al. for wgan-gp.
local wgan = opts.loss == "wgan-gp"
local lr_g = opts.lr_g > 0 and opts.lr_g or (wgan and 1e-4 or 2e-4)
local lr_d = opts.lr_d > 0 and opts.lr_d or (wgan and 1e-4 or 2e-4)
local betas = wgan and {0, 0.9} or {0.5, 0.999}
local n_critic = opts.n_critic > 0 and opts.n_critic or (wgan and 5 or 1)

-- ---------------------------------------------------------------- output
local function mkdir(path)
  assert(os.execute("mkdir -p '" .. path:gsub("'", "'\\''") .. "'"), "cannot create directory " .. path)
end
local out = opts.out ~= "" and opts.out or ("runs/gan_sparse/" .. os.date("!%Y%m%d-%H%M%S"))
mkdir(out .. "/samples")
local config = {}
for key, v in pairs(opts) do config[key] = v end
config.k_used, config.lr_g_used, config.lr_d_used, config.betas_used, config.n_critic_used =
  k, lr_g, lr_d, betas, n_critic
config.device_used = device
config.sgen_version = sg.version
if not resume_dir then util.json.write(out .. "/config.json", config) end

-- ---------------------------------------------------------------- data
local nc = opts.data == "cifar10" and 3 or 1
local train
if opts.data == "fmnist" then
  train = sg.data.fashion_mnist32(opts.data_dir ~= "" and opts.data_dir or nil, "train")
else
  train = sg.data.cifar10(opts.data_dir, "train")
end
local transform = opts.data == "cifar10" and function(x, y) return x * 2 - 1, y end or nil
if train:len() < opts.batch_size then
  usage("%d training images are fewer than one batch (--batch-size=%d)", train:len(), opts.batch_size)
end
local loader = sg.data.DataLoader(train, {batch_size = opts.batch_size, shuffle = true,
  drop_last = true, seed = opts.seed, transform = transform})

local function next_real()
  local x = loader:next() -- the loader's epochs one after another
  return x:to(device)
end

-- Reference features for the Fréchet distance: the 10,000 test images.
local test_feats
local function reference_features()
  if test_feats then return test_feats end
  local test = opts.data == "fmnist" and sg.data.fashion_mnist32(opts.data_dir ~= "" and opts.data_dir or nil, "test")
    or sg.data.cifar10(opts.data_dir, "test")
  local imgs = test:batch(sg.arange(1, test:len() + 1, {dtype = "int64"}))
  if opts.data == "cifar10" then imgs = (imgs * 2 - 1):mean(2, true) end
  test_feats = sg.metrics.frechet_features(imgs)
  return test_feats
end

-- ---------------------------------------------------------------- models
sg.manual_seed(opts.seed)
local gen_opts = {nz = opts.nz, ngf = opts.ngf, nc = nc, sparsity = opts.variant,
  k = (opts.variant == "l0" or opts.variant == "l0inf") and k or nil,
  l1_weight = opts.variant == "l1" and opts.l1_weight or nil}
local G
if opts.model == "dcgan" then
  G = dcgan.Generator(gen_opts):to(device)
else
  G = dcgan.MLCSCGenerator(gen_opts):to(device)
end
local D = (wgan and dcgan.Critic or dcgan.Discriminator)({ndf = opts.ndf, nc = nc}):to(device)
local optG = sg.optim.Adam(G:parameters(), {lr = lr_g, betas = betas})
local optD = sg.optim.Adam(D:parameters(), {lr = lr_d, betas = betas})
local fixed_z = sg.randn(64, opts.nz, 1, 1):to(device)

local ckpt = sg.train.Checkpointer(out .. "/checkpoints", {every = opts.checkpoint_every, keep = 2})
local state = {models = {G = G, D = D}, optimizers = {optG = optG, optD = optD}, loaders = {train = loader}}
local start_iter = 0
if resume_dir then
  if not sg.train.find_checkpoint(out) then
    usage("--resume=%s: no checkpoint in %s/checkpoints (the run stopped before its first one: start it again)",
      resume_dir, out)
  end
  start_iter = ckpt:load(out, state)
  if start_iter > opts.iters then
    usage("--resume=%s: the checkpoint is of iteration %d, past --iters=%d (give --iters >= %d to continue)",
      resume_dir, start_iter, opts.iters, start_iter)
  end
  print(string.format("gan_sparse: resumed %s at iteration %d of %d", out, start_iter, opts.iters))
end

print(string.format("gan_sparse: %s generator (ngf %d, sparsity on %s), %s loss, variant %s%s, %s, %d iterations of batch %d, "
  .. "n_critic %d, seed %d, device %s, out %s",
  opts.model, opts.ngf, opts.model == "mlcsc" and "Γ1, Γ2" or "Γ", opts.loss, opts.variant,
  (opts.variant == "l0" or opts.variant == "l0inf") and (" k=" .. tostring(k))
    or (opts.variant == "l1" and (" weight=" .. opts.l1_weight) or ""),
  opts.data == "fmnist" and "Fashion-MNIST 32x32" or "CIFAR-10", opts.iters, opts.batch_size,
  n_critic, opts.seed, device, out))

-- ---------------------------------------------------------------- evaluation
-- Generated images in batches of 500, G in eval mode (BatchNorm running
-- statistics), with the Γs of the first batch for the sparsity diagnostics.
local function generate(n)
  G:eval()
  local parts, gammas = {}, nil
  sg.no_grad(function()
    local done = 0
    while done < n do
      local b = math.min(500, n - done)
      local x, gs = G(sg.randn(b, opts.nz, 1, 1):to(device), {return_gamma = true})
      parts[#parts + 1] = x:cpu()
      if not gammas then
        gammas = {}
        for i, g in ipairs(gs) do gammas[i] = g:cpu() end
      end
      done = done + b
    end
  end)
  G:train()
  return sg.cat(parts, 1), gammas
end

local function gamma_names()
  return opts.model == "mlcsc" and {"gamma1", "gamma2"} or {"gamma"}
end

-- FID/KID on fid_samples generated images vs the test set; % non-zeros of Γ.
-- Drawing z here must not disturb the training stream: the RNG state is saved
-- and restored around it (and seeded from the iteration, so a resumed run
-- draws the same evaluation samples).
local function evaluate(iter)
  local rng = sg.get_rng_state()
  sg.manual_seed(opts.seed * 1000003 + iter)
  local imgs, gammas = generate(opts.fid_samples)
  sg.set_rng_state(rng)
  local gray = nc == 3 and imgs:mean(2, true) or imgs
  local feats = sg.metrics.frechet_features(gray)
  local ref = reference_features()
  local r = {fid = sg.metrics.fid(feats, ref)}
  r.kid, r.kid_std = sg.metrics.kid(feats, ref, {seed = opts.seed,
    subset_size = math.min(1000, opts.fid_samples, ref:size(1))})
  r.is, r.is_std = sg.metrics.inception_score(gray)
  r.nonzero = {}
  for i, g in ipairs(gammas) do r.nonzero[gamma_names()[i]] = 100 * sg.sparse.sparsity(g) end
  return r, gammas
end

local function write_samples(path)
  G:eval()
  sg.no_grad(function()
    local x = G(fixed_z)
    sg.image.write(path, x:cpu(), {nrow = 8, normalize = true, range = {-1, 1}})
  end)
  G:train()
end

-- ---------------------------------------------------------------- training
local losses = sg.gan
-- One D update. With keep (n_critic = 1, as in PyTorch's DCGAN example) the
-- fake batch keeps its graph and its Γs for the G update that follows; else
-- the G update draws its own z (WGAN-GP's loop).
local function d_step(keep)
  local real = next_real()
  local z = sg.randn(opts.batch_size, opts.nz, 1, 1):to(device)
  local fake, gammas
  if keep then fake, gammas = G(z, {return_gamma = true}) else fake = G(z) end
  local fake_d = fake:detach()
  local loss_d = losses.d_loss(opts.loss, D(real), D(fake_d))
  local gp
  if wgan then
    gp = losses.gradient_penalty(D, real, fake_d, {lambda = opts.gp_lambda})
    loss_d = loss_d + gp
  end
  optD:zero_grad()
  loss_d:backward()
  optD:step()
  return loss_d:item(), gp and gp:item() or nil, keep and {fake, gammas} or nil
end

local function g_step(kept)
  local fake, gammas
  if kept then
    fake, gammas = kept[1], kept[2]
  else
    fake, gammas = G(sg.randn(opts.batch_size, opts.nz, 1, 1):to(device), {return_gamma = true})
  end
  local loss_g = losses.g_loss(opts.loss, D(fake))
  local reg = G:sparsity_loss(gammas)
  local total = loss_g + reg
  optG:zero_grad()
  total:backward()
  optG:step()
  return loss_g:item(), type(reg) == "number" and reg or reg:item()
end

local log = util.log.new({csv = out .. "/metrics.csv",
  -- a run stopped during its final outputs keeps no final evaluation row: it is written again
  append = start_iter > 0 and util.log.truncate_csv(out .. "/metrics.csv", start_iter, function(line, n)
    return not (n == opts.iters and line:match("^[^,]*,,")) -- an evaluation row has no loss_d
  end),
  fields = {"iter", "loss_d", "loss_g", "gp", "sparsity_loss", "fid", "kid", "kid_std", "is",
            "nonzero_gamma", "nonzero_gamma1", "nonzero_gamma2", "seconds"}})
local clock = util.clock
local t0 = clock()

local function log_eval(iter)
  local r = evaluate(iter)
  local row = {iter = iter, fid = r.fid, kid = r.kid, kid_std = r.kid_std, is = r.is, seconds = clock() - t0}
  for name, v in pairs(r.nonzero) do row["nonzero_" .. name] = v end
  log:write(row)
  print(string.format("iter %d: FID %.3f (Fashion-MNIST-classifier features, not Inception), KID %.5f ± %.5f, IS %.3f",
    iter, r.fid, r.kid, r.kid_std, r.is))
  return r
end

local bar = util.progress.new(opts.iters - start_iter, {desc = string.format("%s/%s/%s", opts.model, opts.loss, opts.variant),
  every = opts.log_every})
local last = {}
ckpt:loop(start_iter, opts.iters, state, function(iter)
  local ld, gp, kept
  for i = 1, n_critic do ld, gp, kept = d_step(n_critic == 1 and i == 1) end
  local lg, reg = g_step(kept)
  last = {loss_d = ld, loss_g = lg}
  if iter % opts.log_every == 0 or iter == 1 then
    log:write({iter = iter, loss_d = ld, loss_g = lg, gp = gp, sparsity_loss = reg, seconds = clock() - t0})
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

local _, gammas = (function()
  local rng = sg.get_rng_state()
  sg.manual_seed(opts.seed)
  local a, b = generate(500)
  sg.set_rng_state(rng)
  return a, b
end)()
local densities = {}
for i, g in ipairs(gammas) do
  local name = gamma_names()[i]
  local dmap = sg.sparse.needle_density(g)
  local file = #gammas == 1 and "needle_density.png" or ("needle_density_" .. name .. ".png")
  sg.image.heatmap(out .. "/" .. file, dmap, {min = 0, max = 1})
  densities[name] = {mean = dmap:mean():item(), min = dmap:min():item(), max = dmap:max():item(), file = file}
end

-- Curves from the whole metrics.csv (a resumed run has rows from before).
sg.plot.from_csv(out .. "/losses.svg", out .. "/metrics.csv", {x = "iter", y = {"loss_d", "loss_g"},
  title = string.format("%s / %s / %s, seed %d", opts.model, opts.loss, opts.variant, opts.seed)})
sg.plot.from_csv(out .. "/fid.svg", out .. "/metrics.csv", {x = "iter", y = {"fid"},
  title = "Fréchet distance (Fashion-MNIST classifier features)"})

local summary = {
  model = opts.model, loss = opts.loss, variant = opts.variant, k = k,
  l1_weight = opts.variant == "l1" and opts.l1_weight or nil,
  data = opts.data, iters = opts.iters, batch_size = opts.batch_size, n_critic = n_critic,
  ngf = opts.ngf, ndf = opts.ndf, nz = opts.nz, seed = opts.seed, device = device,
  fid = final.fid, kid = final.kid, kid_std = final.kid_std, is = final.is,
  fid_samples = opts.fid_samples,
  fid_note = "Fréchet distance in sgen's Fashion-MNIST classifier feature space; not comparable to Inception FID",
  nonzero_percent = final.nonzero, needle_density = densities,
  final_loss_d = last.loss_d, final_loss_g = last.loss_g,
  seconds = train_seconds, resumed_from = resume_dir and start_iter or nil,
  sgen_version = sg.version,
}
util.json.write(out .. "/summary.json", summary)
local nz_text = {}
for _, name in ipairs(gamma_names()) do
  nz_text[#nz_text + 1] = string.format("%s %.1f %%", name, final.nonzero[name])
end
print(string.format("done: FID %.3f, KID %.5f, IS %.3f, non-zeros %s, %.1f s; seed %d",
  final.fid, final.kid, final.is, table.concat(nz_text, ", "), train_seconds, opts.seed))
print("samples, curves, metrics: " .. out)
return summary
