-- Aggregates one family of tools/paper_results.sh:
-- DIR/<family>/<cell>/seed<s>/{summary.json,metrics.csv} -> OUT/table.md
-- (mean ± sample std over seeds per cell; paired differences seed by seed
-- against the family's baseline, absolute and relative), OUT/<metric>.svg
-- (the mean curve of each cell over the seeds, iterations all seeds logged)
-- and OUT/<image> (the lowest seed's final picture of every cell side by
-- side, in the table's order). Prints the table.
--
--   sgen run tools/paper_aggregate.lua --dir=runs/results/papers --family=spgan --out=docs/results/spgan
local sg = require "sgen"
local util = require "sgen.util"
local cli = require "sgen.cli"
local log = require "sgen.util.log"

local opts = cli.options({
  dir = {type = "string", default = "runs/results/papers", help = "tools/paper_results.sh output directory"},
  family = {type = "string", default = "", help = "csc_ctrl | spgan | self_sparse"},
  out = {type = "string", default = "", help = "where table.md, the curves and the pictures go (default DIR/<family>/aggregate)"},
})

local fid_note = "FID: Fréchet distance in sgen's Fashion-MNIST classifier feature space (not Inception-FID: comparable within sgen only)"
local families = {
  csc_ctrl = {
    cells = {"ctrl", "csc-s2", "csc-s1"},
    label = {ctrl = "CTRL (conv baseline)", ["csc-s2"] = "CSC-CTRL, Strategy 2", ["csc-s1"] = "CSC-CTRL, Strategy 1"},
    metrics = {
      {key = "psnr", label = "PSNR (dB)", digits = 2},
      {key = "ssim", label = "SSIM", digits = 3},
      {key = "mse", label = "MSE", digits = 4},
      {key = "fid", label = "FID of X̂ vs X", digits = 1},
      {key = "final_delta_R_pairs", label = "ΔR(Z, Ẑ) last step", digits = 2},
      {key = "psnr_start", label = "PSNR at start", digits = 2, unpaired = true},
      {key = "seconds", label = "seconds", digits = 0, unpaired = true},
    },
    pairs = {{"csc-s2", "ctrl"}, {"csc-s1", "ctrl"}, {"csc-s1", "csc-s2"}},
    curves = {{y = "psnr", ylabel = "PSNR (dB) of g(f(x)) on the evaluation images"},
              {y = "fid", ylabel = "FID of reconstructions (classifier features)", logy = true}},
    images = {"recon_final.png", "atoms.png"},
    setting = function(s)
      return string.format("Fashion-MNIST 32×32, width %g (c = %d), batch %d, Adam lr %g (betas 0, 0.9), "
        .. "%d game steps (n_max %d), CSC λ %g during training; PSNR/SSIM/MSE of X̂ = g(f(X)) on the first %d "
        .. "test images mapped to [0, 1]; %s.", s.width, math.floor(64 * s.width + 0.5), s.batch_size, s.lr,
        s.iters, s.n_max, s.lambda, s.eval_n, fid_note)
    end,
  },
  spgan = {
    cells = {"wgan-gp", "spgan", "spgan-recon"},
    label = {["wgan-gp"] = "WGAN-GP (DCGAN generator)", spgan = "SPGAN", ["spgan-recon"] = "SPGAN + reconstructor"},
    metrics = {
      {key = "fid", label = "FID (final)", digits = 1},
      {key = "best_fid", label = "best FID", digits = 1},
      {key = "kid", label = "KID", digits = 1},
      {key = "is", label = "IS (classifier)", digits = 2},
      {key = "max_class_percent", label = "largest class %", digits = 1},
      {key = "nonzero_percent", label = "% non-zero codes", digits = 1, unpaired = true},
      {key = "seconds", label = "seconds", digits = 0, unpaired = true},
    },
    pairs = {{"spgan", "wgan-gp"}, {"spgan-recon", "wgan-gp"}, {"spgan-recon", "spgan"}},
    curves = {{y = "fid", ylabel = "FID (classifier features)", logy = true}},
    images = {"samples_final.png"},
    setting = function(s)
      return string.format("Fashion-MNIST 32×32, batch %d, ngf %d, ndf %d, WGAN-GP (n_critic %d), %d generator "
        .. "steps; FID/KID/IS on %d generated samples against the 10,000 test images; %s.",
        s.batch_size, s.ngf, s.ndf, s.n_critic, s.iters, s.fid_samples, fid_note)
    end,
  },
  self_sparse = {
    cells = {"wgan", "self-sparse", "no-csm", "no-psm"},
    label = {wgan = "WGAN, zero-centred GP (baseline)", ["self-sparse"] = "Self-Sparse GAN",
             ["no-csm"] = "without CSM (channel module)", ["no-psm"] = "without PSM (position module)"},
    metrics = {
      {key = "fid", label = "FID (final)", digits = 1},
      {key = "best_fid", label = "best FID", digits = 1},
      {key = "kid", label = "KID", digits = 1},
      {key = "is", label = "IS (classifier)", digits = 2},
      {key = "max_class_percent", label = "largest class %", digits = 1},
      {key = "xi_bar", label = "ξ̄ (Eq. 15)", digits = 3, unpaired = true},
      {key = "zeta_mean", label = "ζ mean", digits = 3, unpaired = true},
      {key = "seconds", label = "seconds", digits = 0, unpaired = true},
    },
    pairs = {{"self-sparse", "wgan"}, {"no-csm", "wgan"}, {"no-psm", "wgan"}, {"no-csm", "self-sparse"},
             {"no-psm", "self-sparse"}},
    curves = {{y = "fid", ylabel = "FID (classifier features)", logy = true},
              {y = "xi_bar", ylabel = "ξ̄, mean channel sparse rate (Eq. 15)"}},
    images = {"samples_final.png"},
    setting = function(s)
      return string.format("Fashion-MNIST %d×%d, batch %d, ngf %d, ndf %d, WGAN with the zero-centred gradient "
        .. "penalty (λ %g, %d critic steps per G step), %d generator steps; FID/KID/IS on %d generated samples "
        .. "(at 32×32) against the 10,000 test images; %s.", s.size, s.size, s.batch_size, s.ngf, s.ndf,
        s.gp_lambda, s.n_critic, s.iters, s.fid_samples, fid_note)
    end,
  },
}
local fam = families[opts.family]
if not fam then error("sgen: --family must be csc_ctrl, spgan or self_sparse, got '" .. opts.family .. "'", 0) end
local root = opts.dir .. "/" .. opts.family
local out = opts.out ~= "" and opts.out or (root .. "/aggregate")
os.execute("mkdir -p '" .. out:gsub("'", "'\\''") .. "'")

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

-- cell -> seed -> {summary =, dir =}
local runs, seeds_of, first = {}, {}, nil
for _, cell in ipairs(fam.cells) do
  runs[cell], seeds_of[cell] = {}, {}
  for seed = 1, 99 do
    local dir = string.format("%s/%s/seed%d", root, cell, seed)
    if exists(dir .. "/summary.json") then
      local s = util.json.read(dir .. "/summary.json")
      runs[cell][seed] = {summary = s, dir = dir}
      table.insert(seeds_of[cell], seed)
      if cell ~= fam.cells[1] then first = first or s end
    end
  end
end
for _, seed in ipairs(seeds_of[fam.cells[1]]) do first = first or runs[fam.cells[1]][seed].summary end
if not first then error("sgen: no " .. root .. "/<cell>/seed<s>/summary.json", 0) end

local function value(s, key)
  local v = s[key]
  if type(v) == "table" then v = v.gamma or v.gamma1 end  -- nonzero_percent of the GAN experiments
  return type(v) == "number" and v or nil
end
local function stats(xs)
  local n, sum = #xs, 0
  for _, x in ipairs(xs) do sum = sum + x end
  local mean, ss = sum / n, 0
  for _, x in ipairs(xs) do ss = ss + (x - mean) ^ 2 end
  return mean, n > 1 and math.sqrt(ss / (n - 1)) or 0
end
local function fmt(xs, digits)
  if #xs == 0 then return "–" end
  local m, s = stats(xs)
  return string.format("%." .. digits .. "f ± %." .. digits .. "f", m, s)
end

local lines = {}
local function add(s) lines[#lines + 1] = s end
add(fam.setting(first))
add("")
add("Mean ± sample std over seeds (n per row).")
add("")
local head, rule = {"cell", "n", "seeds"}, {"---", "--:", "---"}
for _, m in ipairs(fam.metrics) do head[#head + 1] = m.label; rule[#rule + 1] = "--:" end
add("| " .. table.concat(head, " | ") .. " |")
add("|" .. table.concat(rule, "|") .. "|")
for _, cell in ipairs(fam.cells) do
  local row = {fam.label[cell], tostring(#seeds_of[cell]), table.concat(seeds_of[cell], ",")}
  for _, m in ipairs(fam.metrics) do
    local xs = {}
    for _, seed in ipairs(seeds_of[cell]) do xs[#xs + 1] = value(runs[cell][seed].summary, m.key) end
    row[#row + 1] = fmt(xs, m.digits)
  end
  add("| " .. table.concat(row, " | ") .. " |")
end

add("")
add("Paired differences, seed by seed (a − b on the seeds both have; relative: mean of (a − b) / b).")
add("")
local phead, prule = {"a − b", "n"}, {"---", "--:"}
local paired = {}
for _, m in ipairs(fam.metrics) do
  if not m.unpaired then
    paired[#paired + 1] = m
    phead[#phead + 1] = m.label; prule[#prule + 1] = "--:"
  end
end
add("| " .. table.concat(phead, " | ") .. " |")
add("|" .. table.concat(prule, "|") .. "|")
for _, p in ipairs(fam.pairs) do
  local a, b = p[1], p[2]
  local common = {}
  for _, seed in ipairs(seeds_of[a]) do
    if runs[b][seed] then common[#common + 1] = seed end
  end
  local row = {fam.label[a] .. " − " .. fam.label[b], tostring(#common)}
  for _, m in ipairs(paired) do
    local d, r = {}, {}
    for _, seed in ipairs(common) do
      local va, vb = value(runs[a][seed].summary, m.key), value(runs[b][seed].summary, m.key)
      if va and vb then
        d[#d + 1] = va - vb
        if vb ~= 0 then r[#r + 1] = 100 * (va - vb) / math.abs(vb) end
      end
    end
    local cellv = fmt(d, m.digits)
    if #r > 0 then
      local rm, rs = stats(r)
      cellv = cellv .. string.format(" (%+.1f ± %.1f %%)", rm, rs)
    end
    row[#row + 1] = cellv
  end
  add("| " .. table.concat(row, " | ") .. " |")
end

-- Per-layer code sparsity (CSC-CTRL): % zeros of each CSC layer's codes.
if opts.family == "csc_ctrl" then
  add("")
  add("Code sparsity: % zeros of each CSC layer's output (after the ReLU-prox) on the first evaluation batch, end of training.")
  add("")
  local nl = 0
  for _, cell in ipairs(fam.cells) do
    for _, seed in ipairs(seeds_of[cell]) do
      local z = runs[cell][seed].summary.code_zeros_percent
      if type(z) == "table" then nl = math.max(nl, #z) end
    end
  end
  if nl > 0 then
    local h, r = {"cell"}, {"---"}
    for l = 1, nl do h[#h + 1] = "layer " .. l; r[#r + 1] = "--:" end
    add("| " .. table.concat(h, " | ") .. " |")
    add("|" .. table.concat(r, "|") .. "|")
    for _, cell in ipairs(fam.cells) do
      local row = {fam.label[cell]}
      local any = false
      for l = 1, nl do
        local xs = {}
        for _, seed in ipairs(seeds_of[cell]) do
          local z = runs[cell][seed].summary.code_zeros_percent
          if type(z) == "table" and z[l] then xs[#xs + 1] = z[l]; any = true end
        end
        row[#row + 1] = fmt(xs, 1)
      end
      if any then add("| " .. table.concat(row, " | ") .. " |") end
    end
  end
end

-- Denoising with λ changed at inference (paper Tables 7 and 8): the
-- results.json of experiments/csc_ctrl_denoise.lua in <csc-s2 run>/denoise_sigma<σ>/.
if opts.family == "csc_ctrl" then
  local results = {}
  for _, seed in ipairs(seeds_of["csc-s2"]) do
    local p = io.popen("ls -d '" .. runs["csc-s2"][seed].dir .. "'/denoise_sigma*/results.json 2>/dev/null")
    for file in p:lines() do results[#results + 1] = util.json.read(file) end
    p:close()
  end
  if #results > 0 then
    local r1 = results[1]
    add("")
    add(string.format("Denoising (paper Tables 7 and 8): X̂ = g(f(X + σN)), σ = %g on the [−1, 1] scale (σ/2 on [0, 1]), "
      .. "the first %d test images, λ of every CSC layer set at inference (trained with λ %g), scored against the "
      .. "clean images on [0, 1]; the CTRL row is the baseline run of the same seed; %d seeds (noise seed %d).",
      r1.sigma, r1.n, r1.training_lambda, #results, r1.seed))
    add("")
    add("| | PSNR (dB) | MSE | SSIM |")
    add("|---|--:|--:|--:|")
    local function row(name, get)
      local p, m, s = {}, {}, {}
      for _, r in ipairs(results) do
        local v = get(r)
        if v then p[#p + 1], m[#m + 1], s[#s + 1] = v.psnr, v.mse, v.ssim end
      end
      if #p > 0 then add(string.format("| %s | %s | %s | %s |", name, fmt(p, 2), fmt(m, 4), fmt(s, 3))) end
    end
    row("noisy input", function(r) return r.noisy end)
    row("CTRL (conv baseline)", function(r) return r.baseline_result end)
    row("CSC-CTRL, clean input, training λ", function(r) return r.clean_reconstruction end)
    for i, l in ipairs(r1.lambdas) do
      row(string.format("CSC-CTRL, λ = %g", l.lambda), function(r) return r.lambdas[i] end)
    end
  end
end

-- Mean curves over seeds, at the iterations every seed of the cell logged.
for ci, c in ipairs(fam.curves) do
  local series = {}
  for _, cell in ipairs(fam.cells) do
    local by_iter, count = {}, {}
    for _, seed in ipairs(seeds_of[cell]) do
      local csv = runs[cell][seed].dir .. "/metrics.csv"
      if exists(csv) then
        local t = log.read_csv(csv)
        for _, r in ipairs(t.rows) do
          if type(r.iter) == "number" and type(r[c.y]) == "number" then
            by_iter[r.iter] = (by_iter[r.iter] or 0) + r[c.y]
            count[r.iter] = (count[r.iter] or 0) + 1
          end
        end
      end
    end
    local xs = {}
    for it, n in pairs(count) do
      if n == #seeds_of[cell] then xs[#xs + 1] = it end
    end
    table.sort(xs)
    local ys = {}
    for i, it in ipairs(xs) do ys[i] = by_iter[it] / count[it] end
    if #xs > 0 then series[#series + 1] = {name = fam.label[cell], x = xs, y = ys} end
  end
  if #series > 0 then
    sg.plot.lines(out .. "/" .. c.y .. ".svg", {series = series, markers = true, logy = c.logy,
      title = string.format("%s: mean over seeds", opts.family), xlabel = "iteration", ylabel = c.ylabel})
  end
  fam.curves[ci].written = #series > 0
end

-- The lowest seed's final pictures, side by side in the table's order.
for _, name in ipairs(fam.images) do
  local imgs = {}
  for _, cell in ipairs(fam.cells) do
    local seed = seeds_of[cell][1]
    if seed and exists(runs[cell][seed].dir .. "/" .. name) then
      imgs[#imgs + 1] = sg.image.read(runs[cell][seed].dir .. "/" .. name)
    end
  end
  if #imgs > 0 then
    -- pictures of different sizes (atoms of different layers) are padded by grid to the largest
    local ok, grid = pcall(sg.image.grid, imgs, {nrow = #imgs, padding = 6, pad_value = 1})
    if ok then sg.image.write(out .. "/" .. name, grid) else print("skip " .. name .. ": " .. tostring(grid)) end
  end
end

local text = table.concat(lines, "\n") .. "\n"
require("sgen.util.file").write(out .. "/table.md", text)
io.write(text)
print("wrote " .. out .. "/table.md, curves and pictures (cells left to right: "
  .. table.concat(fam.cells, ", ") .. ")")
