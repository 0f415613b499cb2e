-- Denoising with a trained CSC-CTRL (paper 004, Appendix E, Tables 7 and 8):
-- X̂ = g(f(X + σ·N)) with every CSC layer's λ set at inference (no
-- retraining), scored against the clean images; a CTRL baseline run beside it.
--
--   sgen run experiments/csc_ctrl_denoise.lua --checkpoint=runs/csc_ctrl/<run>
--   sgen run experiments/csc_ctrl_denoise.lua --checkpoint=RUN --baseline=CTRL_RUN --sigma=0.5 \
--       --lambdas=0.01,0.1,0.2,0.4,0.5,1 --n=500
--
-- The runs are directories written by experiments/csc_ctrl.lua: config.json
-- gives the model options (model, width, data, λ of training), the weights
-- come from the newest checkpoint (else model_final.safetensors).
-- Noise scale: Gaussian noise of standard deviation σ is added to the test
-- images in [-1, 1] (σ = 0.5 there is σ = 0.25 on the [0, 1] scale); the
-- noisy images are not clipped. PSNR (dB), MSE and SSIM are computed with
-- the clean images and the reconstructions mapped to [0, 1] ((x + 1) / 2,
-- clamped; data_range 1), over the first --n test images. The paper does not
-- state its scale, so its numbers are not directly comparable.
--
-- Outputs in --out (default <checkpoint>/denoise_sigma<σ>): table.md,
-- results.json, denoise.svg (PSNR and SSIM against λ, with the noisy input
-- and the baseline as flat lines) and strip.png (8 test images: a row of
-- clean, a row of noisy, then one row of reconstructions per λ, then the
-- baseline's row).
local root = (arg and arg[0] or ""):match("^(.*)/experiments/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local sg = require "sgen"
local cli = require "sgen.cli"
local util = require "sgen.util"
local csc_ctrl = require "models.csc_ctrl"

local opts = cli.options({
  checkpoint = {type = "string", default = "", help = "a CSC-CTRL run directory of experiments/csc_ctrl.lua (required)"},
  baseline = {type = "string", default = "", help = "a CTRL (or other) run directory to score beside it"},
  sigma = {type = "number", default = 0.5, help = "noise standard deviation on the [-1, 1] image scale"},
  lambdas = {type = "string", default = "0.01,0.1,0.2,0.4,0.5,1", help = "comma-separated λ values set at inference"},
  n = {type = "integer", default = 500, help = "test images (the first ones)"},
  seed = {type = "integer", default = 1, help = "noise seed"},
  device = {type = "string", default = "auto", help = "auto | cpu | cuda"},
  data_dir = {type = "string", default = "", help = "dataset folder (default: the run's)"},
  out = {type = "string", default = "", help = "output directory (default <checkpoint>/denoise_sigma<σ>)"},
}, {help = "Denoising with a trained CSC-CTRL at several inference λ (paper 004, Tables 7/8)."})

local function usage(fmt, ...) error(string.format("sgen: " .. fmt, ...), 0) end

if opts.checkpoint == "" then usage("--checkpoint=DIR is required (a run directory of experiments/csc_ctrl.lua)") end
if not (opts.sigma >= 0) or opts.sigma == math.huge then usage("--sigma must be a number >= 0, got %s", tostring(opts.sigma)) end
if opts.n < 2 then usage("--n must be at least 2, got %d", opts.n) end
local lambdas = {}
for item in (opts.lambdas .. ","):gmatch("([^,]*),") do
  local v = tonumber(item)
  if not v or not (v >= 0) or v == math.huge then
    usage("--lambdas must be a comma-separated list of numbers >= 0, got '%s'", opts.lambdas)
  end
  lambdas[#lambdas + 1] = v
end
local device = opts.device
if device == "auto" then device = sg.cuda.is_available() and "cuda" or "cpu" end
if device ~= "cpu" and device ~= "cuda" then usage("--device must be auto, cpu or cuda, got '%s'", opts.device) end

-- A trained run: its config, the model with its weights.
local function load_run(dir, what)
  local path = dir .. "/config.json"
  local f = io.open(path, "r")
  if not f then usage("--%s=%s: %s not found (not a run of experiments/csc_ctrl.lua?)", what, dir, path) end
  f:close()
  local cfg = util.json.read(path)
  if cfg.model ~= "csc" and cfg.model ~= "ctrl" then
    usage("--%s=%s: config.json has no model csc|ctrl (not a run of experiments/csc_ctrl.lua?)", what, dir)
  end
  local nc = cfg.data == "cifar10" and 3 or 1
  local mopts = {nc = nc, width = cfg.width}
  if cfg.model == "csc" then mopts.lambda = cfg.lambda end
  local net = (cfg.model == "csc" and csc_ctrl.CSCCTRL or csc_ctrl.CTRL)(mopts)
  local step
  if sg.train.find_checkpoint(dir) then
    step = sg.train.load_checkpoint(dir, {models = {net = net}})
  else
    local mf = dir .. "/model_final.safetensors"
    local g = io.open(mf, "rb")
    if not g then usage("--%s=%s: neither checkpoints/ nor model_final.safetensors", what, dir) end
    g:close()
    net:load_state_dict(sg.load(mf))
    step = cfg.iters
  end
  net = net:to(device)
  net:eval()
  return net, cfg, step
end

local net, cfg, step = load_run(opts.checkpoint, "checkpoint")
if cfg.model ~= "csc" then
  usage("--checkpoint=%s is a CTRL baseline run (no CSC layers, no λ): give it as --baseline", opts.checkpoint)
end
local base, bcfg, bstep
if opts.baseline ~= "" then
  base, bcfg, bstep = load_run(opts.baseline, "baseline")
  if bcfg.data ~= cfg.data then
    usage("--baseline=%s was trained on %s, --checkpoint on %s", opts.baseline, bcfg.data, cfg.data)
  end
end

local out = opts.out ~= "" and opts.out or string.format("%s/denoise_sigma%g", opts.checkpoint, opts.sigma)
assert(os.execute("mkdir -p '" .. out:gsub("'", "'\\''") .. "'"), "cannot create directory " .. out)

-- Test images in [-1, 1] and their noisy versions (seeded, unclipped).
local data_dir = opts.data_dir ~= "" and opts.data_dir or (cfg.data_dir ~= "" and cfg.data_dir or nil)
local test
if cfg.data == "fmnist" then test = sg.data.fashion_mnist32(data_dir, "test")
else test = sg.data.cifar10(data_dir, "test") end
local n = math.min(opts.n, test:len())
local clean = test:batch(sg.arange(1, n + 1, {dtype = "int64"}))
if cfg.data == "cifar10" then clean = clean * 2 - 1 end
sg.manual_seed(opts.seed)
local noisy = clean + sg.randn(clean:shape()) * opts.sigma

local function to01(x) return ((x + 1) / 2):clamp(0, 1) end
local clean01 = to01(clean)
local function score(x)
  local a = to01(x)
  return {psnr = sg.metrics.psnr(a, clean01), ssim = sg.metrics.ssim(a, clean01),
          mse = ((a - clean01) * (a - clean01)):mean():item()}
end

local function reconstruct(model, x)
  local parts = {}
  sg.no_grad(function()
    local done = 0
    while done < n do
      local b = math.min(250, n - done)
      parts[#parts + 1] = model.g(model.f(x:narrow(1, done + 1, b):to(device))):cpu()
      done = done + b
    end
  end)
  return sg.cat(parts, 1)
end

print(string.format("csc_ctrl_denoise: %s (step %d, width %g, trained with λ %g), σ = %g on [-1,1] images, %d test images%s",
  opts.checkpoint, step, cfg.width, cfg.lambda, opts.sigma, n,
  base and string.format("; baseline %s (%s, step %d)", opts.baseline, bcfg.model, bstep) or ""))

local k = math.min(8, n)
local strip = {clean:narrow(1, 1, k), noisy:narrow(1, 1, k)}
local rows = {}
local noisy_score = score(noisy)
for _, lam in ipairs(lambdas) do
  net:set_lambda(lam)
  local xh = reconstruct(net, noisy)
  local s = score(xh)
  s.lambda = lam
  rows[#rows + 1] = s
  strip[#strip + 1] = xh:narrow(1, 1, k)
  print(string.format("λ = %-6g PSNR %.4f dB  MSE %.5f  SSIM %.4f", lam, s.psnr, s.mse, s.ssim))
end
net:set_lambda(cfg.lambda)
local clean_score = score(reconstruct(net, clean)) -- the training λ on clean inputs, for reference
local base_score
if base then
  local xh = reconstruct(base, noisy)
  base_score = score(xh)
  strip[#strip + 1] = xh:narrow(1, 1, k)
  print(string.format("baseline (%s): PSNR %.4f dB  MSE %.5f  SSIM %.4f", bcfg.model, base_score.psnr,
    base_score.mse, base_score.ssim))
end
sg.image.write(out .. "/strip.png", sg.cat(strip, 1), {nrow = k, normalize = true, range = {-1, 1}})

-- table.md
local md = {
  string.format("# Denoising, σ = %g (on images in [-1, 1]; %g on [0, 1])", opts.sigma, opts.sigma / 2), "",
  string.format("CSC-CTRL run `%s` (step %d, width %g, trained with λ = %g), %d %s test images, noise seed %d.",
    opts.checkpoint, step, cfg.width, cfg.lambda, n, cfg.data == "fmnist" and "Fashion-MNIST 32×32" or "CIFAR-10",
    opts.seed),
  "PSNR / MSE / SSIM on the [0, 1] scale (data_range 1) against the clean images; noisy inputs unclipped.", "",
  "| input / model | λ at inference | PSNR (dB) ↑ | MSE ↓ | SSIM ↑ |", "|---|---|---|---|---|",
  string.format("| noisy input | – | %.4f | %.5f | %.4f |", noisy_score.psnr, noisy_score.mse, noisy_score.ssim),
}
if base_score then
  md[#md + 1] = string.format("| %s baseline (`%s`) | – | %.4f | %.5f | %.4f |", bcfg.model == "ctrl" and "CTRL" or "CSC-CTRL",
    opts.baseline, base_score.psnr, base_score.mse, base_score.ssim)
end
for _, r in ipairs(rows) do
  md[#md + 1] = string.format("| CSC-CTRL | %g%s | %.4f | %.5f | %.4f |", r.lambda,
    r.lambda == cfg.lambda and " (training)" or "", r.psnr, r.mse, r.ssim)
end
md[#md + 1] = ""
md[#md + 1] = string.format("Clean inputs, training λ: PSNR %.4f dB, SSIM %.4f (the reconstruction ceiling).",
  clean_score.psnr, clean_score.ssim)
require("sgen.util.file").write(out .. "/table.md", table.concat(md, "\n") .. "\n")

-- denoise.svg
local xs, ps, ss = {}, {}, {}
for i, r in ipairs(rows) do xs[i], ps[i], ss[i] = r.lambda, r.psnr, r.ssim end
local series = {{name = "CSC-CTRL PSNR (dB)", x = xs, y = ps}}
local function flat(name, v, dash) return {name = name, x = {xs[1], xs[#xs]}, y = {v, v}, dash = dash} end
series[#series + 1] = flat("noisy input", noisy_score.psnr, "4,3")
if base_score then series[#series + 1] = flat(bcfg.model == "ctrl" and "CTRL baseline" or "baseline", base_score.psnr, "8,3") end
sg.plot.lines(out .. "/denoise.svg", {series = series, markers = true, xlabel = "λ at inference",
  ylabel = "PSNR (dB, [0,1] scale)", title = string.format("denoising, σ = %g on [-1,1]", opts.sigma)})

util.json.write(out .. "/results.json", {
  checkpoint = opts.checkpoint, step = step, baseline = base and opts.baseline or nil, baseline_step = bstep,
  sigma = opts.sigma, sigma_scale = "[-1,1] images (sigma/2 on [0,1])", n = n, seed = opts.seed,
  metric_scale = "[0,1], data_range 1", training_lambda = cfg.lambda,
  noisy = noisy_score, baseline_result = base_score, clean_reconstruction = clean_score, lambdas = rows,
})
print("table, curve, strip: " .. out)
return rows
