-- Deep Image Prior denoising with and without the sparsity constraints of
-- Ganz & Elad (paper 000, §4 and §5.2, Table 4).
--
--   sgen run experiments/dip_denoise.lua                       -- paper scale (GPU)
--   sgen run experiments/dip_denoise.lua --quick               -- small crop and network, ~1-2 min on 2 cores
--   sgen run experiments/dip_denoise.lua --demo                -- the README demo: all three variants
--   sgen run experiments/dip_denoise.lua --variant=all --image=data/images/baboon_256.png
--
-- Protocol (DIP's denoising notebook, ../shared/docs/REFERENCE-NOTES.md): the
-- clean image (cropped so both sides divide by 2^scales) gets white Gaussian
-- noise of std sigma/255, clipped to [0, 1] (seeded by --noise_seed, so all
-- variants and seeds see the same noisy image). The network maps a fixed input
-- (32 channels of uniform noise x 0.1, perturbed each iteration by Gaussian
-- noise of std 1/30) to the image; Adam (lr 0.01) minimizes the MSE to the
-- noisy image. PSNR against the clean image is tracked for each output
-- ("single") and for the exponential average of the outputs (weight 0.99,
-- "average"); the best and the final values are reported, as in Table 4.
-- DIP's backtracking is on by default: when the PSNR against the noisy image
-- drops by more than 5 dB between two iterations, the previous parameters
-- are restored.
--
-- Outputs under runs/dip_denoise/<timestamp>/[<variant>/]: clean.png,
-- noisy.png, best_single.png, best_average.png, final.png, final_average.png,
-- psnr.svg, needle_density_<i>.png (Γi of the final iterate), metrics.csv,
-- summary.json, checkpoints/ (sg.train: --checkpoint_every=N, else the final
-- one and one on Ctrl-C); config.json at the top; with --variant=all a table.md.
-- --resume=DIR continues a run from its newest checkpoints (DIR: the run's
-- output directory, written into unless --out is given; with --variant=all
-- the variants without a checkpoint start afresh), bit for bit as if it had
-- not stopped.
-- Run from anywhere: models/ and data/ are found next to experiments/.
local root = (arg and arg[0] or ""):match("^(.*)/experiments/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local sg = require "sgen"
local cli = require "sgen.cli"
local util = require "sgen.util"
local UNetDIP = require "models.unet_dip"

local default_image = root .. "/data/images/astronaut_256.png"

local opts, given = cli.options({
  image = {type = "string", default = default_image, help = "clean PNG image"},
  sigma = {type = "number", default = 25, help = "noise std on the 0-255 scale"},
  iters = {type = "integer", default = 3000, help = "training iterations"},
  variant = {type = "string", default = "none", help = "none | l0 | l0inf | all"},
  k = {type = "integer", default = 16, help = "kept channels per needle (l0inf), same budget for l0"},
  seed = {type = "integer", default = 1, help = "network initialization and input noise"},
  noise_seed = {type = "integer", default = 0, help = "the added image noise (same for all runs)"},
  device = {type = "string", default = "auto", help = "auto | cpu | cuda"},
  out = {type = "string", default = "", help = "output directory (default runs/dip_denoise/<timestamp>)"},
  crop = {type = "integer", default = 0, help = "centre crop to this size (0: whole image)"},
  channels = {type = "integer", default = 128, help = "channels at every scale"},
  scales = {type = "integer", default = 5, help = "number of scales"},
  lr = {type = "number", default = 0.01, help = "Adam learning rate"},
  reg_noise = {type = "number", default = 1 / 30, help = "std of the per-iteration input perturbation"},
  ema = {type = "number", default = 0.99, help = "weight of the exponential average"},
  backtrack = {type = "boolean", default = true, help = "restore parameters after a >5 dB drop"},
  log_every = {type = "integer", default = 10, help = "iterations between metrics.csv rows"},
  threads = {type = "integer", default = 0, help = "CPU threads (0: keep the default)"},
  checkpoint_every = {type = "integer", default = 0, help = "iterations between checkpoints (0: the final one and on Ctrl-C)"},
  resume = {type = "string", default = "", help = "continue the run in this output directory from its checkpoints"},
  quick = {type = "boolean", default = false, help = "small preset: 64x64 crop, 32 channels, 3 scales, 300 iterations"},
  demo = {type = "boolean", default = false, help = "README demo: 96x96 crop, 32 channels, 4 scales, 800 iterations, all three variants"},
}, {help = "Deep Image Prior denoising with L0 / L0,inf sparsity on the encoder representations."})

-- --resume: the options the run was started with, unless given again
if opts.resume ~= "" then sg.train.resume_options(opts, given, opts.resume) end

local function preset(values)
  for key, v in pairs(values) do
    if not given[key] then opts[key] = v end
  end
end
if opts.quick or opts.demo then
  preset({crop = 64, channels = 32, scales = 3, iters = 300, k = 4, log_every = 5})
end
if opts.demo then
  preset({variant = "all", crop = 96, scales = 4, iters = 800})
end

local variants
if opts.variant == "all" then
  variants = {"none", "l0", "l0inf"}
elseif opts.variant == "none" or opts.variant == "l0" or opts.variant == "l0inf" then
  variants = {opts.variant}
else
  error("sgen: --variant must be none, l0, l0inf or all, got '" .. opts.variant .. "'", 0)
end
if opts.k < 1 or opts.k > opts.channels then
  error(string.format("sgen: --k must be in 1..%d (the channels), got %d", opts.channels, opts.k), 0)
end
if opts.sigma < 0 then error("sgen: --sigma must be >= 0", 0) end
if opts.iters < 1 then error("sgen: --iters must be at least 1, got " .. opts.iters, 0) end
if opts.log_every < 1 then error("sgen: --log_every must be at least 1, got " .. opts.log_every, 0) end
if opts.checkpoint_every < 0 then
  error("sgen: --checkpoint_every must be >= 0, got " .. opts.checkpoint_every, 0)
end
if opts.threads > 0 then sg.set_num_threads(opts.threads) end

local device = opts.device
if device == "auto" then device = sg.cuda.is_available() and "cuda" or "cpu" end
if device ~= "cpu" and device ~= "cuda" then
  error("sgen: --device must be auto, cpu or cuda, got '" .. device .. "'", 0)
end

local function mkdir(path)
  assert(os.execute("mkdir -p '" .. path:gsub("'", "'\\''") .. "'"), "cannot create directory " .. path)
end

local out_root = opts.out ~= "" and opts.out or (opts.resume ~= "" and opts.resume)
  or ("runs/dip_denoise/" .. os.date("!%Y%m%d-%H%M%S"))
mkdir(out_root)
local config = {}
for key, v in pairs(opts) do config[key] = v end
config.device_used = device
config.variants = variants
config.sgen_version = sg.version
if opts.resume == "" or out_root ~= opts.resume then util.json.write(out_root .. "/config.json", config) end

-- ---------------------------------------------------------------- data
local clean = sg.image.read(opts.image)
if clean:size(1) == 4 then clean = clean:narrow(1, 1, 3) end
if clean:size(1) == 1 then clean = clean:expand(3, -1, -1):contiguous() end
do
  local h, w = clean:size(2), clean:size(3)
  local th, tw = h, w
  if opts.crop > 0 then th, tw = math.min(h, opts.crop), math.min(w, opts.crop) end
  local m = 2 ^ opts.scales
  th, tw = math.floor(th / m) * m, math.floor(tw / m) * m
  if th < m or tw < m then
    error(string.format("sgen: the image (%dx%d) is smaller than 2^scales = %d", h, w, m), 0)
  end
  clean = clean:narrow(2, (h - th) // 2 + 1, th):narrow(3, (w - tw) // 2 + 1, tw):contiguous()
end
local H, W = clean:size(2), clean:size(3)

local rng_state = sg.get_rng_state()
sg.manual_seed(opts.noise_seed)
local noisy = (clean + sg.randn_like(clean) * (opts.sigma / 255)):clamp(0, 1)
sg.set_rng_state(rng_state)
local psnr, ssim = sg.metrics.psnr, sg.metrics.ssim
local noisy_psnr = psnr(noisy, clean)
sg.image.write(out_root .. "/clean.png", clean)
sg.image.write(out_root .. "/noisy.png", noisy)

print(string.format("dip_denoise: %s %dx%d, sigma %g (noisy PSNR %.2f dB), %d iterations, "
  .. "%d scales x %d channels, variants %s, k %d, seed %d, noise seed %d, device %s",
  opts.image, H, W, opts.sigma, noisy_psnr, opts.iters, opts.scales, opts.channels,
  table.concat(variants, "/"), opts.k, opts.seed, opts.noise_seed, device))
print("output: " .. out_root)

-- ---------------------------------------------------------------- one run
local function run_variant(variant, dir, resume_from)
  mkdir(dir)
  sg.manual_seed(opts.seed)
  local net = UNetDIP({channels = opts.channels, scales = opts.scales,
    sparsity = {kind = variant, k = opts.k}}):to(device)
  local z = (sg.rand(1, 32, H, W) * 0.1):to(device)
  local target = noisy:unsqueeze(1):to(device)
  local clean_dev = clean:unsqueeze(1):to(device)
  local params = net:parameters()
  local optimizer = sg.optim.Adam(params, {lr = opts.lr})

  local avg
  local best = {single = -math.huge, average = -math.huge, single_iter = 0, average_iter = 0}
  local last_params, last_psnr_noisy
  local curve_x, curve_single, curve_avg = {}, {}, {}
  local backtracks = 0
  local clock = util.clock
  local t0 = clock()
  local t_first
  local final_out, final_codes

  -- everything the loop carries from one iteration to the next
  local state = {models = {net = net}, optimizers = {adam = optimizer}}
  state.tensors = function()
    local t = {avg = avg, best_single = best.single_img, best_average = best.average_img,
               final_out = final_out}
    for i, p in ipairs(last_params or {}) do t["last_params." .. i] = p end
    for i, c in ipairs(final_codes or {}) do t["final_codes." .. i] = c end
    return t
  end
  state.extra = function()
    local finite = function(v) if v > -math.huge then return v end end
    return {best = {single = finite(best.single), average = finite(best.average),
                    single_iter = best.single_iter, average_iter = best.average_iter},
            last_psnr_noisy = last_psnr_noisy, backtracks = backtracks, n_params = last_params and #params or 0,
            n_codes = final_codes and #final_codes or 0, seconds = clock() - t0,
            curve_x = curve_x, curve_single = curve_single, curve_avg = curve_avg}
  end
  local ckpt = sg.train.Checkpointer(dir .. "/checkpoints", {every = opts.checkpoint_every, keep = 2})
  local start = 0
  if resume_from then
    local extra, saved
    start, extra, saved = ckpt:load(resume_from, state)
    local function dev(t) return t and t:to(device) end
    avg, best.single_img, best.average_img, final_out = dev(saved.avg), dev(saved.best_single),
      dev(saved.best_average), dev(saved.final_out)
    best.single, best.average = extra.best.single or -math.huge, extra.best.average or -math.huge
    best.single_iter, best.average_iter = extra.best.single_iter, extra.best.average_iter
    last_psnr_noisy, backtracks = extra.last_psnr_noisy, extra.backtracks
    if extra.n_params > 0 then
      last_params = {}
      for i = 1, extra.n_params do last_params[i] = dev(saved["last_params." .. i]) end
    end
    if extra.n_codes > 0 then
      final_codes = {}
      for i = 1, extra.n_codes do final_codes[i] = dev(saved["final_codes." .. i]) end
    end
    curve_x, curve_single, curve_avg = extra.curve_x, extra.curve_single, extra.curve_avg
    t0 = clock() - extra.seconds
    print(string.format("%s: resumed at iteration %d of %d", variant, start, opts.iters))
  end
  local log = util.log.new({csv = dir .. "/metrics.csv"},
    {append = start > 0 and util.log.truncate_csv(dir .. "/metrics.csv", start)})
  local bar = util.progress.new(opts.iters - start, {desc = variant, every = 50})
  ckpt:loop(start, opts.iters, state, function(it)
    local input = z + sg.randn_like(z) * opts.reg_noise
    local want_codes = it == opts.iters
    local codes = want_codes and {} or nil
    local out = net(input, codes)
    local loss = sg.F.mse_loss(out, target)
    optimizer:zero_grad()
    loss:backward()

    local out_d = out:detach()
    local p_noisy = psnr(out_d, target)
    -- DIP's backtracking, checked at iterations that are not multiples of 100,
    -- before the step: the snapshot holds the parameters that produced the
    -- output whose PSNR is stored with it. A drop of more than 5 dB restores
    -- them and skips this step.
    local skip_step = false
    if opts.backtrack and it % 100 ~= 0 then
      if last_psnr_noisy and p_noisy - last_psnr_noisy < -5 then
        sg.no_grad(function()
          for i, p in ipairs(params) do p:copy_(last_params[i]) end
        end)
        backtracks = backtracks + 1
        skip_step = true
      else
        last_params = last_params or {}
        sg.no_grad(function()
          for i, p in ipairs(params) do
            if last_params[i] then last_params[i]:copy_(p) else last_params[i] = p:detach():clone() end
          end
        end)
        last_psnr_noisy = p_noisy
      end
    end
    if not skip_step then optimizer:step() end

    avg = avg and (avg * opts.ema + out_d * (1 - opts.ema)) or out_d
    local p_single = psnr(out_d, clean_dev)
    local p_avg = psnr(avg, clean_dev)
    if p_single > best.single then
      best.single, best.single_iter, best.single_img = p_single, it, out_d
    end
    if p_avg > best.average then
      best.average, best.average_iter, best.average_img = p_avg, it, avg
    end
    -- Iteration 1 pays one-time costs (allocator warm-up): estimate from 2..4.
    if it == 1 then t_first = clock() end
    if it == 4 and device == "cpu" and opts.iters >= 1000 then
      local per_iter = (clock() - t_first) / 3
      local total = per_iter * opts.iters * #variants
      if total > 600 then
        io.stderr:write(string.format("dip_denoise: warning: this is a paper-scale run on the CPU: "
          .. "about %.1f s per iteration, %.1f hours in all. Add --quick for a small run, or run on a GPU.\n",
          per_iter, total / 3600))
      end
    end
    if it % opts.log_every == 0 or it == 1 or it == opts.iters then
      log:write({iter = it, loss = loss:item(), psnr_noisy = p_noisy, psnr_single = p_single,
        psnr_average = p_avg, seconds = clock() - t0})
      curve_x[#curve_x + 1], curve_single[#curve_single + 1], curve_avg[#curve_avg + 1] = it, p_single, p_avg
    end
    if want_codes then final_out, final_codes = out_d, codes end
    bar:update(1, {single = string.format("%.2f", p_single), avg = string.format("%.2f", p_avg)})
  end)
  bar:close()
  log:close()
  local seconds = clock() - t0

  local final_single, final_avg = psnr(final_out, clean_dev), psnr(avg, clean_dev)
  sg.image.write(dir .. "/best_single.png", best.single_img[1]:cpu())
  sg.image.write(dir .. "/best_average.png", best.average_img[1]:cpu())
  sg.image.write(dir .. "/final.png", final_out[1]:cpu())
  sg.image.write(dir .. "/final_average.png", avg[1]:cpu())
  local densities = {}
  for i, g in ipairs(final_codes) do
    local dmap = sg.sparse.needle_density(g:detach():cpu())
    sg.image.heatmap(dir .. string.format("/needle_density_%d.png", i), dmap, {min = 0, max = 1})
    densities[i] = dmap:mean():item()
  end
  sg.plot.lines(dir .. "/psnr.svg", {title = string.format("DIP denoising, %s (sigma %g)", variant, opts.sigma),
    xlabel = "iteration", ylabel = "PSNR (dB)",
    series = {{name = "single", x = curve_x, y = curve_single},
              {name = "average", x = curve_x, y = curve_avg}}})
  local summary = {
    variant = variant, k = variant ~= "none" and opts.k or nil, image = opts.image,
    size = {H, W}, sigma = opts.sigma, iters = opts.iters, seed = opts.seed, noise_seed = opts.noise_seed,
    noisy_psnr = noisy_psnr,
    best_single = best.single, best_single_iter = best.single_iter,
    best_average = best.average, best_average_iter = best.average_iter,
    final_single = final_single, final_average = final_avg,
    final_ssim = ssim(final_out, clean_dev), final_average_ssim = ssim(avg, clean_dev),
    needle_density = densities, backtracks = backtracks,
    seconds = seconds, seconds_per_iter = seconds / opts.iters, device = device,
  }
  util.json.write(dir .. "/summary.json", summary)
  print(string.format("%-6s best single %.2f dB (iter %d), best average %.2f dB (iter %d), "
    .. "final %.2f / %.2f dB, %.1f s", variant, best.single, best.single_iter, best.average,
    best.average_iter, final_single, final_avg, seconds))
  return summary
end

local results = {}
for _, variant in ipairs(variants) do
  local dir = #variants > 1 and (out_root .. "/" .. variant) or out_root
  local resume_from
  if opts.resume ~= "" then
    local rdir = #variants > 1 and (opts.resume .. "/" .. variant) or opts.resume
    -- --variant=all: a variant that had not started has no checkpoint yet
    if #variants == 1 or sg.train.find_checkpoint(rdir) then resume_from = rdir end
  end
  results[#results + 1] = run_variant(variant, dir, resume_from)
end

if #variants > 1 then
  local lines = {
    string.format("DIP denoising, %s %dx%d, sigma %g, noisy %.2f dB, %d iterations, seed %d (cf. paper 000, Table 4)",
      opts.image, H, W, opts.sigma, noisy_psnr, opts.iters, opts.seed),
    "",
    "| variant | best single | best average | final single | final average |",
    "|---|---|---|---|---|",
  }
  for _, r in ipairs(results) do
    lines[#lines + 1] = string.format("| %s | %.2f | %.2f | %.2f | %.2f |",
      r.variant == "none" and "vanilla" or (r.variant == "l0" and "L0" or "L0,inf") ..
      string.format(" (k=%d)", opts.k), r.best_single, r.best_average, r.final_single, r.final_average)
  end
  local text = table.concat(lines, "\n") .. "\n"
  require("sgen.util.file").write(out_root .. "/table.md", text)
  io.write("\n" .. text)
end
-- One variant: its summary.json is already at the top; several: collect them.
if #variants > 1 then util.json.write(out_root .. "/summary.json", {runs = results}) end
print("images, curves and metrics: " .. out_root)
return results
