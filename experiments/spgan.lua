-- SPGAN (Mahdizadehaghdam, Panahi, Krim, paper 002): a generator that emits
-- one sparse code per pixel, times a dictionary Ω learned beforehand on 3x3
-- patches of the training images (Algorithm 1 line 2), patches averaged;
-- WGAN-GP; optionally the reconstructor E (§4.2). Baseline: the plain DCGAN
-- generator with the same trunk width and the same critic (WGAN-GP).
--
--   sgen run experiments/spgan.lua --quick --variant=spgan            -- about a minute on 2 cores
--   sgen run experiments/spgan.lua --variant=spgan-recon --iters=20000 --device=cuda
--   sgen run experiments/spgan.lua --resume=runs/spgan/<run>         -- continue a run bit-identically
--
-- One iteration: n_critic (5) critic updates with the centre-1 gradient
-- penalty, each on a fresh real batch, then one G update (-mean D(G(z)),
-- plus recon_weight * L_R for spgan-recon once iter > recon_start), then
-- G:project_lambda() (learnable λ stays >= 0). spgan-recon also updates E
-- once per iteration (n_reconst = 1) on ||E(G(z)) - z||² (Eq. 6, squared as
-- Eq. 4) with a fresh z, from the first iteration; L_R = mean ||x - G(E(x))||²
-- on a fresh real batch, E held fixed, added to G's loss (one G step, not
-- Algorithm 1's separate step: docs/experiments.md).
--
-- "FID" is the Fréchet distance in sgen's Fashion-MNIST classifier features,
-- not Inception-FID. SPGAN has no Tanh: images are clamped to [-1, 1] before
-- the classifier (and in the sample grids).
--
-- Outputs under runs/spgan/<timestamp>/ (or --out): config.json, omega.safetensors and
-- omega.png (not for wgan-gp), metrics.csv, samples/iter_NNNNNN.png, samples_final.png,
-- losses.svg, fid.svg, classes.svg (generated classes by the classifier), summary.json,
-- checkpoints/ (G with Ω, D, E, optimizers, loader, RNG).
local root = (arg and arg[0] or ""):match("^(.*)/experiments/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local sg = require "sgen"
local cli = require "sgen.cli"
local util = require "sgen.util"
local run = require "sgen.train.run"
local dcgan = require "models.dcgan"
local spgan = require "models.spgan"

local opts, given = cli.options({
  variant = {type = "string", default = "spgan", help = "wgan-gp | spgan | spgan-recon"},
  iters = {type = "integer", default = 20000, help = "generator updates"},
  batch_size = {type = "integer", default = 64, help = "batch size"},
  seed = {type = "integer", default = 1, help = "initialization, z, data order, patches"},
  device = {type = "string", default = "auto", help = "auto | cpu | cuda"},
  out = {type = "string", default = "", help = "output directory (default runs/spgan/<timestamp>)"},
  data = {type = "string", default = "fmnist", help = "fmnist | cifar10"},
  data_dir = {type = "string", default = "", help = "dataset folder (default: Debian's Fashion-MNIST)"},
  nz = {type = "integer", default = 100, help = "latent size"},
  ngf = {type = "integer", default = 64, help = "generator trunk width (same for the wgan-gp baseline)"},
  ndf = {type = "integer", default = 64, help = "critic (and reconstructor) width"},
  atoms = {type = "integer", default = 0, help = "atoms of Ω (0: 36 for Fashion-MNIST, 100 for CIFAR-10)"},
  patch = {type = "integer", default = 3, help = "patch side (odd)"},
  lambda = {type = "number", default = 0.1, help = "initial soft threshold λ (learnable, one per atom)"},
  dictionary = {type = "string", default = "", help = "load Ω from this safetensors file (tensor 'omega') instead of learning it"},
  dict_patches = {type = "integer", default = 50000, help = "random patches for learning Ω"},
  dict_iters = {type = "integer", default = 1000, help = "online dictionary learning iterations (batches of 256)"},
  recon_weight = {type = "number", default = 0.01, help = "weight of L_R in G's loss (spgan-recon)"},
  recon_start = {type = "integer", default = -1, help = "L_R enters G's loss after this iteration (-1: iters/10)"},
  gp_lambda = {type = "number", default = 10, help = "gradient-penalty weight"},
  log_every = {type = "integer", default = 50, help = "iterations between metrics.csv rows"},
  sample_every = {type = "integer", default = 500, help = "iterations between sample grids (0: end only)"},
  fid_every = {type = "integer", default = 2000, help = "iterations between FID evaluations (0: end only)"},
  fid_samples = {type = "integer", default = 5000, help = "generated samples per FID"},
  checkpoint_every = {type = "integer", default = 1000, help = "iterations between checkpoints (0: end and Ctrl-C only)"},
  resume = {type = "string", default = "", help = "continue the run in this directory (bit-identically)"},
  threads = {type = "integer", default = 0, help = "CPU threads (0: keep the default)"},
  quick = {type = "boolean", default = false,
           help = "small preset: ngf=ndf=32, 40 iterations, Ω from 5,000 patches, FID on 1,000 samples at the end"},
}, {help = "SPGAN (Mahdizadehaghdam et al.): sparse patch codes times a learned dictionary Ω; WGAN-GP; reconstructor."})

local usage = run.usage
local resume_dir = opts.resume ~= "" and opts.resume or nil
if resume_dir then
  sg.train.resume_options(opts, given, resume_dir)
  opts.out = resume_dir
end
if opts.quick then
  run.preset(opts, given, {ngf = 32, ndf = 32, iters = 40, log_every = 5, sample_every = 20, fid_every = 0,
    fid_samples = 1000, checkpoint_every = 0, dict_patches = 5000, dict_iters = 100})
end

run.one_of("variant", opts.variant, {"wgan-gp", "spgan", "spgan-recon"})
run.one_of("data", opts.data, {"fmnist", "cifar10"})
run.at_least(opts, {"iters", "batch_size", "nz", "ngf", "ndf", "patch", "log_every", "dict_patches", "dict_iters"}, 1)
run.at_least(opts, {"atoms", "sample_every", "fid_every", "checkpoint_every", "threads"}, 0)
if opts.fid_samples < 2 then usage("--fid-samples must be at least 2, got %d", opts.fid_samples) end
if opts.patch % 2 == 0 or opts.patch > 31 then usage("--patch must be odd and at most 31, got %d", opts.patch) end
if opts.lambda < 0 then usage("--lambda must be >= 0, got %g", opts.lambda) end
if opts.recon_weight < 0 then usage("--recon-weight must be >= 0, got %g", opts.recon_weight) end
if opts.recon_start < -1 then usage("--recon-start must be >= 0 (or -1: iters/10), got %d", opts.recon_start) end
if opts.data == "cifar10" and opts.data_dir == "" then
  usage("--data=cifar10 needs --data-dir=DIR (the folder of CIFAR-10's binary batches; nothing is downloaded)")
end
if opts.dictionary ~= "" and opts.variant == "wgan-gp" then usage("--dictionary applies to the spgan variants only") end
if opts.threads > 0 then sg.set_num_threads(opts.threads) end
local device = run.device(opts.device)

local nc = opts.data == "cifar10" and 3 or 1
local atoms = opts.atoms > 0 and opts.atoms or (nc == 1 and 36 or 100)
local recon = opts.variant == "spgan-recon"
local sparse_g = opts.variant ~= "wgan-gp"
local recon_start = opts.recon_start >= 0 and opts.recon_start or opts.iters // 10
local s = sg.gan.optimizer_settings("spgan")

local out = run.output_dir(opts, "spgan", resume_dir, {atoms_used = atoms, recon_start_used = recon_start,
  lr_g_used = s.lr_g, lr_d_used = s.lr_d, lr_e_used = s.lr_g, betas_used = s.betas, n_critic_used = s.n_critic,
  device_used = device})

-- ---------------------------------------------------------------- data
local train, _, transform = run.train_set(opts)
if train:len() < opts.batch_size then
  usage("%d training images are fewer than one batch (--batch-size=%d)", train:len(), opts.batch_size)
end
local loader = sg.data.DataLoader(train, {batch_size = opts.batch_size, shuffle = true, drop_last = true,
  seed = opts.seed, transform = transform})
local function next_real() return loader:next():to(device) end
local ref_feats
local function reference() ref_feats = ref_feats or run.reference_features(opts); return ref_feats end

-- ---------------------------------------------------------------- Ω
-- Random p x p patches (all channels) of random training images, seeded from
-- --seed and drawn outside the training RNG stream; learned with Mairal's
-- online algorithm (learn_dictionary's defaults: λ = 1.2/sqrt(m), batches of 256).
local omega, dict_info
local m = nc * opts.patch * opts.patch
if sparse_g then
  if resume_dir then
    omega = sg.load(out .. "/omega.safetensors").omega -- the checkpoint's G holds it too
  elseif opts.dictionary ~= "" then
    local t = sg.load(opts.dictionary)
    if not t.omega then usage("--dictionary=%s holds no tensor 'omega'", opts.dictionary) end
    omega = t.omega:float()
    if omega:dim() ~= 2 or omega:size(1) ~= m or omega:size(2) ~= atoms then
      usage("--dictionary=%s: Ω is %s, expected %d x %d (nc*patch*patch x atoms)", opts.dictionary,
        table.concat(omega:shape(), "x"), m, atoms)
    end
    dict_info = {source = opts.dictionary}
  else
    local t0 = util.clock()
    local patches = run.with_seed(opts.seed * 7919 + 17, function()
      local n_img = math.min(train:len(), math.max(1, opts.dict_patches // 16))
      local idx = sg.randperm(train:len()):narrow(1, 1, n_img)
      local imgs = train:batch(idx)
      if transform then imgs = transform(imgs) end
      local cols = sg.F.unfold(imgs, opts.patch)            -- n_img x m x L
      cols = cols:permute(1, 3, 2):reshape(-1, m)            -- (n_img L) x m
      local pick = sg.randperm(cols:size(1)):narrow(1, 1, math.min(opts.dict_patches, cols:size(1)))
      return cols:index_select(1, pick):contiguous()
    end)
    local info
    omega, info = sg.sparse.learn_dictionary(patches, {atoms = atoms, iters = opts.dict_iters, seed = opts.seed})
    dict_info = {source = "learned", patches = patches:size(1), iters = opts.dict_iters,
      objective_final = info and info.objective_final, seconds = util.clock() - t0}
    print(string.format("spgan: Ω learned on %d random %dx%d patches (%d atoms, %d iterations) in %.1f s",
      patches:size(1), opts.patch, opts.patch, atoms, opts.dict_iters, dict_info.seconds))
  end
  if not resume_dir then
    sg.save(out .. "/omega.safetensors", {omega = omega})
    -- each atom scaled to [0, 1] on its own, the grid enlarged 8x (nearest) to be visible
    local atoms_img = sg.sparse.dictionary_atoms_image(omega, {patch = {nc, opts.patch, opts.patch}})
    atoms_img = sg.F.interpolate(atoms_img:unsqueeze(1), {scale_factor = 8})[1]
    sg.image.write(out .. "/omega.png", atoms_img)
  end
end

-- ---------------------------------------------------------------- models
sg.manual_seed(opts.seed)
local G
if sparse_g then
  G = spgan.Generator({nz = opts.nz, ngf = opts.ngf, nc = nc, atoms = atoms, patch = opts.patch,
    lambda = opts.lambda, omega = omega}):to(device)
else
  G = dcgan.Generator({nz = opts.nz, ngf = opts.ngf, nc = nc}):to(device)
end
local D = spgan.Critic({ndf = opts.ndf, nc = nc}):to(device)
local optG = sg.optim.Adam(G:parameters(), {lr = s.lr_g, betas = s.betas})
local optD = sg.optim.Adam(D:parameters(), {lr = s.lr_d, betas = s.betas})
local E, optE
if recon then
  E = spgan.Reconstructor({nc = nc, nz = opts.nz, ndf = opts.ndf}):to(device)
  optE = sg.optim.Adam(E:parameters(), {lr = s.lr_g, betas = s.betas})
end
local fixed_z = sg.randn(64, opts.nz, 1, 1):to(device)

local ckpt = sg.train.Checkpointer(out .. "/checkpoints", {every = opts.checkpoint_every, keep = 2})
local state = {models = {G = G, D = D, E = E}, optimizers = {optG = optG, optD = optD, optE = optE},
  loaders = {train = loader}}
local start_iter = resume_dir and run.resume(ckpt, out, state, opts.iters, "spgan") or 0

print(string.format("spgan: variant %s (ngf %d%s), WGAN-GP n_critic %d, %s, %d iterations of batch %d, seed %d, "
  .. "device %s, out %s", opts.variant, opts.ngf,
  sparse_g and string.format(", %d atoms of %dx%dx%d, λ0 %g", atoms, nc, opts.patch, opts.patch, opts.lambda) or "",
  s.n_critic, opts.data == "fmnist" and "Fashion-MNIST 32x32" or "CIFAR-10", opts.iters, opts.batch_size,
  opts.seed, device, out))
if recon then
  print(string.format("spgan: reconstructor from iteration 1, L_R (weight %g) in G's loss after iteration %d",
    opts.recon_weight, recon_start))
end

-- ---------------------------------------------------------------- evaluation
local function forward_g(z)
  if sparse_g then
    local x, gs = G(z, {return_gamma = true})
    return x, gs[1]
  end
  return G(z), nil
end

local function generate(n)
  G:eval()
  local parts, gamma = {}, nil
  sg.no_grad(function()
    local done = 0
    while done < n do
      local b = math.min(500, n - done)
      local x, g = forward_g(sg.randn(b, opts.nz, 1, 1):to(device))
      parts[#parts + 1] = x:cpu()
      if g and not gamma then gamma = g:cpu() end
      done = done + b
    end
  end)
  G:train()
  return sg.cat(parts, 1), gamma
end

local function evaluate(iter)
  local imgs, gamma = run.with_seed(opts.seed * 1000003 + iter, generate, opts.fid_samples)
  local r = run.evaluate(imgs, reference(), {seed = opts.seed})
  r.nonzero = gamma and 100 * sg.sparse.sparsity(gamma) or nil
  return r
end

local function write_samples(path)
  G:eval()
  sg.no_grad(function()
    sg.image.write(path, G(fixed_z):cpu():clamp(-1, 1), {nrow = 8, normalize = true, range = {-1, 1}})
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

local function e_step()
  local z = randz()
  local x = sg.no_grad(function() return G(z) end)
  local loss_e = spgan.reconstruction_loss(z:reshape(opts.batch_size, opts.nz), E(x))
  optE:zero_grad()
  loss_e:backward()
  optE:step()
  return loss_e:item()
end

local function g_step(iter)
  local fake, gamma = forward_g(randz())
  local loss_g = sg.gan.g_loss("wgan-gp", D(fake))
  local total, loss_r = loss_g, nil
  if recon and iter > recon_start then
    local x = next_real()
    local zx = sg.no_grad(function() return E(x) end)
    local lr = spgan.reconstruction_loss(x, G(zx:reshape(opts.batch_size, opts.nz, 1, 1)))
    total = total + lr * opts.recon_weight
    loss_r = lr:item()
  end
  optG:zero_grad()
  total:backward()
  optG:step()
  if sparse_g then G:project_lambda() end
  return loss_g:item(), loss_r, gamma and 100 * sg.sparse.sparsity(gamma:detach()) or nil
end

local log = run.open_log(out, {"iter", "loss_d", "loss_g", "gp", "loss_e", "loss_r", "nonzero_gamma", "lambda_mean",
  "fid", "kid", "kid_std", "is", "max_class_percent", "seconds"}, start_iter, opts.iters)
local clock = util.clock
local t0 = clock()

local function lambda_mean()
  if not sparse_g then return nil end
  local l, sum = G:lambdas(), 0
  for _, v in ipairs(l) do sum = sum + v end
  return sum / #l
end

local function log_eval(iter)
  local r = evaluate(iter)
  local _, maxp = run.class_table(r.classes)
  log:write({iter = iter, fid = r.fid, kid = r.kid, kid_std = r.kid_std, is = r.is, nonzero_gamma = r.nonzero,
    max_class_percent = maxp, seconds = clock() - t0})
  print(string.format("iter %d: FID %.3f (Fashion-MNIST-classifier features, not Inception), KID %.5f ± %.5f, IS %.3f%s",
    iter, r.fid, r.kid, r.kid_std, r.is, r.nonzero and string.format(", Γ %.1f %% non-zero", r.nonzero) or ""))
  return r
end

local bar = util.progress.new(opts.iters - start_iter, {desc = opts.variant, every = opts.log_every})
local last = {}
ckpt:loop(start_iter, opts.iters, state, function(iter)
  local ld, gp
  for _ = 1, s.n_critic do ld, gp = d_step() end
  local le = recon and e_step() or nil
  local lg, lr, nzp = g_step(iter)
  last = {loss_d = ld, loss_g = lg}
  if iter % opts.log_every == 0 or iter == 1 then
    log:write({iter = iter, loss_d = ld, loss_g = lg, gp = gp, loss_e = le, loss_r = lr, nonzero_gamma = nzp,
      lambda_mean = lambda_mean(), seconds = clock() - t0})
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
  variant = opts.variant, title = string.format("SPGAN %s, seed %d", opts.variant, opts.seed)})

local summary = {
  experiment = "spgan", variant = opts.variant, data = opts.data, iters = opts.iters, batch_size = opts.batch_size,
  seed = opts.seed, device = device, nz = opts.nz, ngf = opts.ngf, ndf = opts.ndf, n_critic = s.n_critic,
  atoms = sparse_g and atoms or nil, patch = sparse_g and opts.patch or nil, dictionary = dict_info,
  recon_weight = recon and opts.recon_weight or nil, recon_start = recon and recon_start or nil,
  fid = final.fid, kid = final.kid, kid_std = final.kid_std, is = final.is, best_fid = best.fid,
  best_fid_iter = best.iter, fid_samples = opts.fid_samples, fid_note = run.FID_NOTE,
  nonzero_percent = final.nonzero, lambda_mean = lambda_mean(),
  classes = classes, max_class_percent = maxp,
  final_loss_d = last.loss_d, final_loss_g = last.loss_g,
  seconds = train_seconds, resumed_from = resume_dir and start_iter or nil, sgen_version = sg.version,
}
util.json.write(out .. "/summary.json", summary)
print(string.format("done: FID %.3f (best %.3f at %d), KID %.5f, IS %.3f, largest class %.1f %%%s, %.1f s; seed %d",
  final.fid, best.fid, best.iter, final.kid, final.is, maxp,
  final.nonzero and string.format(", Γ %.1f %% non-zero", final.nonzero) or "", train_seconds, opts.seed))
print("samples, curves, metrics: " .. out)
return summary
