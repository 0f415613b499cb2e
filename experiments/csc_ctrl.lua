-- CSC-CTRL (Dai et al., paper 004): closed-loop transcription with
-- convolutional sparse coding layers (models/csc_ctrl.lua, CSCCTRL) or the
-- plain CTRL baseline (Conv2d / unshared ConvTranspose2d), trained by the
-- max/min rate-reduction game of sgen.ctrl (Strategy 2, the paper's, or
-- Strategy 1, Table 6's ablation), scored on reconstructions X̂ = g(f(X)).
--
--   sgen run experiments/csc_ctrl.lua --quick                     -- ~1 min on 2 cores
--   sgen run experiments/csc_ctrl.lua --model=ctrl --quick        -- the CTRL baseline
--   sgen run experiments/csc_ctrl.lua --data=cifar10 --data-dir=DIR --device=cuda   -- paper scale
--   sgen run experiments/csc_ctrl.lua --resume=runs/csc_ctrl/<run>                  -- continue a run
--   sgen run experiments/csc_ctrl_denoise.lua --checkpoint=runs/csc_ctrl/<run>      -- Tables 7/8
--
-- One iteration is one game:step on a fresh batch: n_max encoder (max) steps
-- then one decoder (min) step. Without --labels the objective is the paper's
-- unsupervised ΔR(Z, Ẑ) (eq. 8, one class); with --labels it is the
-- multi-class CTRL objective over the batch's classes.
--
-- Metrics. PSNR, SSIM and MSE of the reconstructions are computed with the
-- images mapped from [-1, 1] to [0, 1] ((x + 1) / 2, reconstructions clamped):
-- data_range 1. "FID" is the Fréchet distance between the reconstructions and
-- the same test images in the 128-d feature space of sgen's Fashion-MNIST
-- classifier (sg.metrics.frechet_features): comparable between runs of sgen
-- only, not to Inception-FID numbers such as the paper's Table 6 (on CIFAR-10
-- it is computed on grayscale versions and means even less). Code sparsity:
-- % zeros of each CSC layer's output (the codes, after the ReLU-prox) on the
-- first evaluation batch. Evaluations run the model in eval mode and leave
-- the training state alone (the CSC layers' cached step constants are put
-- back afterwards), so --eval-every does not change the training trajectory.
--
-- Outputs under runs/csc_ctrl/<timestamp>/ (or --out): config.json,
-- metrics.csv (the ΔR terms of the max and min steps every --log-every
-- iterations; psnr/ssim/mse/fid/zeros_layerN at evaluations, iteration 0
-- included), recon/iter_NNNNNN.png (a fixed batch of test images, each row
-- of originals followed by a row of their reconstructions, every
-- --sample-every iterations), recon_final.png, atoms.png (the first layer's
-- dictionary, 4x4 atoms shown 6x enlarged; for the baseline its first
-- conv's filters), objective.svg,
-- terms.svg, quality.svg, fid.svg, summary.json, model_final.safetensors
-- (net:state_dict(), for csc_ctrl_denoise.lua) and checkpoints/ (every
-- --checkpoint-every iterations, at the end and on Ctrl-C; the model with its
-- CSC layers' power buffers, both Adams, the loader and the RNG: exact resume).
local root = (arg and arg[0] or ""):match("^(.*)/experiments/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local sg = require "sgen"
local cli = require "sgen.cli"
local util = require "sgen.util"
local csc_ctrl = require "models.csc_ctrl"
local ctrl = require "sgen.ctrl"

local opts, given = cli.options({
  model = {type = "string", default = "csc", help = "csc (CSC-CTRL) | ctrl (the conv baseline)"},
  strategy = {type = "integer", default = 2, help = "2: total derivative in the min step (the paper's); 1: through g only"},
  lambda = {type = "number", default = 0.01, help = "λ of every CSC layer during training (csc)"},
  iters = {type = "integer", default = 20000, help = "game steps (n_max max steps + one min step each)"},
  batch_size = {type = "integer", default = 128, help = "batch size"},
  lr = {type = "number", default = 2e-4, help = "Adam learning rate of both players (betas 0, 0.9)"},
  n_max = {type = "integer", default = 1, help = "encoder (max) steps per decoder (min) step"},
  width = {type = "number", default = 1, help = "channel multiplier (c = round(64·width))"},
  labels = {type = "boolean", default = false, help = "use the class labels in the objective (multi-class CTRL)"},
  seed = {type = "integer", default = 1, help = "initialization, data order"},
  device = {type = "string", default = "auto", help = "auto | cpu | cuda"},
  out = {type = "string", default = "", help = "output directory (default runs/csc_ctrl/<timestamp>)"},
  data = {type = "string", default = "fmnist", help = "fmnist (32x32, [-1,1]) | cifar10 ([-1,1])"},
  data_dir = {type = "string", default = "", help = "dataset folder (default: Debian's Fashion-MNIST)"},
  log_every = {type = "integer", default = 1, help = "iterations between metrics.csv rows of ΔR terms"},
  sample_every = {type = "integer", default = 1000, help = "iterations between reconstruction grids (0: end only)"},
  eval_every = {type = "integer", default = 1000, help = "iterations between evaluations (0: start and end only)"},
  eval_n = {type = "integer", default = 2000, help = "test images of the evaluation subset (the first ones)"},
  checkpoint_every = {type = "integer", default = 1000, help = "iterations between checkpoints (0: end and Ctrl-C only)"},
  resume = {type = "string", default = "", help = "continue the run in this directory (bit-identically)"},
  threads = {type = "integer", default = 0, help = "CPU threads (0: keep the default)"},
  quick = {type = "boolean", default = false,
           help = "small preset: width 0.25, batch 64, lr 1e-3, 200 iterations, evaluation on 500 test images every 50"},
}, {help = "CSC-CTRL (Dai et al.): closed-loop transcription with convolutional sparse coding layers, or the CTRL baseline."})

local function usage(fmt, ...) error(string.format("sgen: " .. fmt, ...), 0) end

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
  -- measured on 2 busy cores, one thread: ~0.27 s per step; with lr 2e-4 the
  -- reconstructions barely move in 200 steps, with 1e-3 PSNR rises ~7 -> ~13 dB
  preset({width = 0.25, batch_size = 64, lr = 1e-3, iters = 200, log_every = 1, sample_every = 50,
          eval_every = 50, eval_n = 500, checkpoint_every = 0})
end

local function one_of(name, v, allowed)
  for _, a in ipairs(allowed) do if v == a then return end end
  local s = {}
  for i, a in ipairs(allowed) do s[i] = tostring(a) end
  usage("--%s must be %s, got '%s'", name:gsub("_", "-"), table.concat(s, ", "), tostring(v))
end
one_of("model", opts.model, {"csc", "ctrl"})
one_of("strategy", opts.strategy, {1, 2})
one_of("data", opts.data, {"fmnist", "cifar10"})
for _, key in ipairs({"iters", "batch_size", "log_every", "n_max"}) do
  if opts[key] < 1 then usage("--%s must be at least 1, got %d", key:gsub("_", "-"), opts[key]) end
end
for _, key in ipairs({"sample_every", "eval_every", "checkpoint_every", "threads"}) do
  if opts[key] < 0 then usage("--%s must be >= 0, got %d", key:gsub("_", "-"), opts[key]) end
end
if opts.batch_size < 2 then usage("--batch-size must be at least 2 (the coding rate of one sample is 0)") end
if opts.eval_n < 2 then usage("--eval-n must be at least 2, got %d", opts.eval_n) end
if not (opts.lambda >= 0) or opts.lambda == math.huge then usage("--lambda must be a number >= 0, got %s", tostring(opts.lambda)) end
if not (opts.lr > 0) or opts.lr == math.huge then usage("--lr must be a positive number, got %s", tostring(opts.lr)) end
if not (opts.width > 0) or math.floor(64 * opts.width + 0.5) < 1 then
  usage("--width must be positive with round(64·width) >= 1, got %s", tostring(opts.width))
end
if opts.model == "ctrl" and given.lambda then usage("--lambda applies to --model=csc only") end
if opts.data == "cifar10" and opts.data_dir == "" then
  usage("--data=cifar10 needs --data-dir=DIR (the folder of CIFAR-10's binary batches; nothing is downloaded)")
end
if opts.threads > 0 then sg.set_num_threads(opts.threads) end

local device = opts.device
if device == "auto" then device = sg.cuda.is_available() and "cuda" or "cpu" end
one_of("device", device, {"cpu", "cuda"})

-- ---------------------------------------------------------------- output
local function mkdir(path)
  assert(os.execute("mkdir -p '" .. path:gsub("'", "'\\''") .. "'"), "cannot create directory " .. path)
end
local out = opts.out ~= "" and opts.out or ("runs/csc_ctrl/" .. os.date("!%Y%m%d-%H%M%S"))
mkdir(out .. "/recon")
local nc = opts.data == "cifar10" and 3 or 1
local config = {}
for key, v in pairs(opts) do config[key] = v end
config.device_used, config.nc, config.sgen_version = device, nc, sg.version
config.metric_scale = "PSNR/SSIM/MSE on images mapped from [-1,1] to [0,1] (data_range 1)"
if not resume_dir then util.json.write(out .. "/config.json", config) end

-- ---------------------------------------------------------------- data
local function dataset(split)
  if opts.data == "fmnist" then
    return sg.data.fashion_mnist32(opts.data_dir ~= "" and opts.data_dir or nil, split)
  end
  return sg.data.cifar10(opts.data_dir, split)
end
local train = dataset("train")
local transform = opts.data == "cifar10" and function(x, y) return x * 2 - 1, y end or nil
if train:len() < opts.batch_size then
  usage("%d training images are fewer than one batch (--batch-size=%d)", train:len(), opts.batch_size)
end
local loader = sg.data.DataLoader(train, {batch_size = opts.batch_size, shuffle = true,
  drop_last = true, seed = opts.seed, transform = transform})

local test = dataset("test")
local eval_n = math.min(opts.eval_n, test:len())
local test_x = test:batch(sg.arange(1, eval_n + 1, {dtype = "int64"}))
if opts.data == "cifar10" then test_x = test_x * 2 - 1 end
local grid_n = math.min(32, eval_n)
local grid_x = test_x:narrow(1, 1, grid_n)

-- ---------------------------------------------------------------- model and game
sg.manual_seed(opts.seed)
local model_opts = {nc = nc, width = opts.width}
if opts.model == "csc" then model_opts.lambda = opts.lambda end
local net = (opts.model == "csc" and csc_ctrl.CSCCTRL or csc_ctrl.CTRL)(model_opts):to(device)
local game = ctrl.Game(net.f, net.g, {strategy = opts.strategy, lr = opts.lr, n_max = opts.n_max})

local ckpt = sg.train.Checkpointer(out .. "/checkpoints", {every = opts.checkpoint_every, keep = 2})
local state = {models = {net = net}, optimizers = {opt_max = game.opt_max, opt_min = game.opt_min},
  loaders = {train = loader}}
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
  print(string.format("csc_ctrl: resumed %s at iteration %d of %d", out, start_iter, opts.iters))
end

print(string.format("csc_ctrl: %s (width %g, c = %d, nz = %d%s), strategy %d, %s objective, %s, %d iterations of batch %d, "
  .. "lr %g, n_max %d, seed %d, device %s, out %s",
  opts.model == "csc" and "CSC-CTRL" or "CTRL baseline", opts.width, math.floor(64 * opts.width + 0.5), net.nz,
  opts.model == "csc" and (", λ " .. opts.lambda) or "", opts.strategy,
  opts.labels and "multi-class (labels)" or "unsupervised ΔR(Z, Ẑ)",
  opts.data == "fmnist" and "Fashion-MNIST 32x32" or "CIFAR-10", opts.iters, opts.batch_size,
  opts.lr, opts.n_max, opts.seed, device, out))

-- ---------------------------------------------------------------- evaluation
-- The CSC layers' cached step constants (an eval-mode forward recomputes
-- them): saved before an evaluation and put back after it.
local function power_snapshot()
  local s = {}
  for i, l in ipairs(net.csc_layers) do
    s[i] = {l.power_L:clone(), l.power_state:clone(), l.L, l._L_device}
  end
  return s
end
local function power_restore(s)
  for i, l in ipairs(net.csc_layers) do
    sg.no_grad(function()
      l.power_L:copy_(s[i][1])
      l.power_state:copy_(s[i][2])
    end)
    l.L, l._L_device = s[i][3], s[i][4]
  end
end

-- Reconstructions of x (eval mode, batches of 250) on the CPU; with
-- want_codes, the % zeros of every CSC layer's output on the first batch.
local function reconstruct(x, want_codes)
  local snap = power_snapshot()
  net:eval()
  local parts, zeros = {}, nil
  sg.no_grad(function()
    local n = x:size(1)
    local done = 0
    while done < n do
      local b = math.min(250, n - done)
      local xb = x:narrow(1, done + 1, b):to(device)
      if want_codes and not zeros and opts.model == "csc" then
        zeros = {}
        local h = xb
        local m = net.f.main
        for i = 1, #m do
          h = m[i](h)
          if getmetatable(m[i]).__name == "CSC" then zeros[#zeros + 1] = 100 * (1 - sg.sparse.sparsity(h)) end
        end
      end
      parts[#parts + 1] = net.g(net.f(xb)):cpu()
      done = done + b
    end
  end)
  net:train()
  power_restore(snap)
  return sg.cat(parts, 1), zeros
end

local function to01(x) return ((x + 1) / 2):clamp(0, 1) end

local test_feats
local function features(imgs)
  if nc == 3 then imgs = imgs:mean(2, true) end
  return sg.metrics.frechet_features(imgs)
end

local function evaluate()
  local xh, zeros = reconstruct(test_x, true)
  local a, b = to01(xh), to01(test_x)
  local r = {psnr = sg.metrics.psnr(a, b), ssim = sg.metrics.ssim(a, b), mse = ((a - b) * (a - b)):mean():item()}
  test_feats = test_feats or features(test_x)
  r.fid = sg.metrics.fid(features(xh), test_feats)
  r.zeros = zeros
  return r
end

local function write_recon(path)
  local xh = reconstruct(grid_x)
  local rows = {}
  for s = 1, grid_n, 8 do
    local k = math.min(8, grid_n - s + 1)
    rows[#rows + 1] = grid_x:narrow(1, s, k)
    rows[#rows + 1] = xh:narrow(1, s, k)
  end
  sg.image.write(path, sg.cat(rows, 1), {nrow = 8, normalize = true, range = {-1, 1}})
end

-- ---------------------------------------------------------------- training
local TERMS = ctrl.TERMS
local fields = {"iter", "max_total", "min_total"}
for _, t in ipairs(TERMS) do fields[#fields + 1] = t end
for _, f in ipairs({"psnr", "ssim", "mse", "fid", "zeros_layer1", "zeros_layer2", "zeros_layer3", "zeros_layer4",
                    "seconds"}) do fields[#fields + 1] = f end
local log = util.log.new({csv = out .. "/metrics.csv",
  append = start_iter > 0 and util.log.truncate_csv(out .. "/metrics.csv", start_iter),
  fields = fields})
local clock = util.clock
local t0 = clock()

local function log_eval(iter)
  local r = evaluate()
  local row = {iter = iter, psnr = r.psnr, ssim = r.ssim, mse = r.mse, fid = r.fid, seconds = clock() - t0}
  for i, z in ipairs(r.zeros or {}) do row["zeros_layer" .. i] = z end
  log:write(row)
  local zs = {}
  for i, z in ipairs(r.zeros or {}) do zs[i] = string.format("%.1f", z) end
  print(string.format("iter %d: PSNR %.2f dB, SSIM %.4f, MSE %.5f ([0,1] scale), FID %.2f (Fashion-MNIST-classifier "
    .. "features, not Inception)%s", iter, r.psnr, r.ssim, r.mse, r.fid,
    #zs > 0 and (", code zeros % " .. table.concat(zs, " / ")) or ""))
  return r
end


if start_iter == 0 then
  log_eval(0)
  write_recon(string.format("%s/recon/iter_%06d.png", out, 0))
end

local bar = util.progress.new(opts.iters - start_iter, {desc = string.format("%s/s%d", opts.model, opts.strategy),
  every = math.max(opts.log_every, 10)})
local last = {}
ckpt:loop(start_iter, opts.iters, state, function(iter)
  local x, y = loader:next()
  x = x:to(device)
  local labels = opts.labels and y or nil
  local r = game:step(x, labels)
  last = r.min
  if iter % opts.log_every == 0 or iter == 1 then
    local row = {iter = iter, max_total = r.max[#r.max].total, min_total = r.min.total, seconds = clock() - t0}
    for _, t in ipairs(TERMS) do row[t] = r.min[t] end
    log:write(row)
  end
  if r.min.total ~= r.min.total then usage("the objective is NaN at iteration %d", iter) end
  if opts.sample_every > 0 and iter % opts.sample_every == 0 then
    write_recon(string.format("%s/recon/iter_%06d.png", out, iter))
  end
  if opts.eval_every > 0 and iter % opts.eval_every == 0 and iter < opts.iters then log_eval(iter) end
  bar:update(1, {obj = string.format("%.3f", r.min.total)})
end)
bar:close()
local train_seconds = clock() - t0

-- ---------------------------------------------------------------- final outputs
write_recon(out .. "/recon_final.png")
local final = log_eval(opts.iters)
log:close()
sg.save(out .. "/model_final.safetensors", net:state_dict())

local W1 = (opts.model == "csc" and net:dictionaries()[1] or net.f.main[1].weight):detach():cpu()
-- atoms x nc x 4 x 4 -> one tile per atom (RGB for CIFAR-10), each scaled on its
-- own, enlarged 6x (nearest) to be visible
sg.image.write(out .. "/atoms.png", sg.F.interpolate(W1, {scale_factor = 6, mode = "nearest"}),
  {nrow = 16, padding = 2, normalize = true, scale_each = true})

local title = string.format("%s, strategy %d, seed %d", opts.model == "csc" and "CSC-CTRL" or "CTRL", opts.strategy, opts.seed)
sg.plot.from_csv(out .. "/objective.svg", out .. "/metrics.csv", {x = "iter", y = {"max_total", "min_total"},
  title = "objective before the max / min steps: " .. title})
sg.plot.from_csv(out .. "/terms.svg", out .. "/metrics.csv", {x = "iter", y = {"R_Z", "R_Zhat", "delta_R_pairs"},
  title = "rate terms (min step): " .. title})
sg.plot.from_csv(out .. "/quality.svg", out .. "/metrics.csv", {x = "iter", y = {"psnr"},
  title = "reconstruction PSNR (dB, [0,1] scale): " .. title})
sg.plot.from_csv(out .. "/fid.svg", out .. "/metrics.csv", {x = "iter", y = {"fid"},
  title = "Fréchet distance, reconstructions vs test images (Fashion-MNIST classifier features)"})

-- the start of the whole run: the iteration-0 row of metrics.csv (also after a resume)
local start_psnr
do
  local t = util.log.read_csv(out .. "/metrics.csv")
  for _, row in ipairs(t.rows) do
    if row.iter == 0 and row.psnr then start_psnr = row.psnr break end
  end
end

local summary = {
  model = opts.model, strategy = opts.strategy, lambda = opts.model == "csc" and opts.lambda or nil,
  labels = opts.labels, data = opts.data, iters = opts.iters, batch_size = opts.batch_size, lr = opts.lr,
  n_max = opts.n_max, width = opts.width, nz = net.nz, seed = opts.seed, device = device,
  eval_n = eval_n, psnr = final.psnr, ssim = final.ssim, mse = final.mse, fid = final.fid,
  psnr_start = start_psnr, code_zeros_percent = final.zeros,
  metric_note = "PSNR/SSIM/MSE of g(f(x)) vs x on the first eval_n test images, both mapped from [-1,1] to [0,1]",
  fid_note = "Fréchet distance of reconstructions vs the same test images in sgen's Fashion-MNIST classifier "
    .. "feature space; not comparable to Inception FID",
  final_objective = last.total, final_delta_R_pairs = last.delta_R_pairs,
  parameters = (function() local n = 0 for _, p in ipairs(net:parameters()) do n = n + p:numel() end return n end)(),
  seconds = train_seconds, resumed_from = resume_dir and start_iter or nil, sgen_version = sg.version,
}
util.json.write(out .. "/summary.json", summary)
print(string.format("done: PSNR %.2f dB (start %s), SSIM %.4f, FID %.2f, %.1f s; seed %d", final.psnr,
  start_psnr and string.format("%.2f", start_psnr) or "?", final.ssim, final.fid, train_seconds, opts.seed))
print("reconstructions, curves, metrics: " .. out)
return summary
