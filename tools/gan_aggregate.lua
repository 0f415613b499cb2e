-- Aggregates the runs of tools/gan_results.sh: DIR/<cell>/seed<s>/summary.json
-- (cells named dcgan-none, dcgan-l0inf-k4, dcgan-l1-w0.01, ...) -> with
-- --k and --l1 (the chosen values), DIR/table.md (per loss: mean ± std over seeds of FID, KID, IS and % of
-- non-zeros in Γ; paired differences of each variant against vanilla on the
-- same seeds), DIR/fid_vs_nonzeros.svg (paper Fig. 4a: one point per run) and
-- DIR/needle_density_<loss>.png (paper Fig. 4b: the seed-1 maps side by side,
-- left to right in the table's order). Prints the table.
--
-- Also a table of the sweep (every k of dcgan-l0inf-k*, every weight of
-- dcgan-l1-w*, on the lowest seed present).
--
--   sgen run tools/gan_aggregate.lua --dir=runs/gan_results --k=4 --l1=0.01
--   sgen run tools/gan_aggregate.lua --dir=runs/gan_results --pick   -- prints "k=<k> l1=<w>": the sweep's lowest FIDs
local sg = require "sgen"
local util = require "sgen.util"
local cli = require "sgen.cli"

local opts = cli.options({
  dir = {type = "string", default = "runs/gan_results", help = "results directory"},
  k = {type = "string", default = "", help = "the chosen k (cells ...-k<k>)"},
  l1 = {type = "string", default = "", help = "the chosen L1 weight (cells dcgan-l1-w<w>)"},
  pick = {type = "boolean", default = false, help = "print the sweep's best k and L1 weight and exit"},
})

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local files = {}
local p = assert(io.popen("find " .. sh_quote(opts.dir) .. " -name summary.json -path '*/seed*/*' | sort"))
for line in p:lines() do files[#files + 1] = line end
p:close()
if #files == 0 then error("sgen: no <cell>/seed*/summary.json under " .. opts.dir, 0) end

local runs = {}   -- cell -> seed -> summary
local first
for _, f in ipairs(files) do
  local cell, seed = f:match("([^/]+)/seed(%d+)/summary.json$")
  local s = util.json.read(f)
  first = first or s
  runs[cell] = runs[cell] or {}
  runs[cell][tonumber(seed)] = s
end

local function seeds_of(cell)
  local list = {}
  for seed in pairs(runs[cell] or {}) do list[#list + 1] = seed end
  table.sort(list)
  return list
end

-- The sweep: dcgan-l0inf-k<k> and dcgan-l1-w<w> on the lowest seed present.
local sweep = {l0inf = {}, l1 = {}}
local sweep_seed
for cell in pairs(runs) do
  local seeds = seeds_of(cell)
  if cell:match("^dcgan%-l0inf%-k") or cell:match("^dcgan%-l1%-w") then
    sweep_seed = math.min(sweep_seed or seeds[1], seeds[1])
  end
end
for cell, by_seed in pairs(runs) do
  local s = sweep_seed and by_seed[sweep_seed]
  local kk = cell:match("^dcgan%-l0inf%-k(%d+)$")
  local w = cell:match("^dcgan%-l1%-w([%d.e-]+)$")
  if s and kk then table.insert(sweep.l0inf, {param = kk, value = tonumber(kk), s = s}) end
  if s and w then table.insert(sweep.l1, {param = w, value = tonumber(w), s = s}) end
end
for _, list in pairs(sweep) do table.sort(list, function(a, b) return a.value < b.value end) end
local function best(list)
  local b
  for _, e in ipairs(list) do if not b or e.s.fid < b.s.fid then b = e end end
  return b
end
if opts.pick then
  local bk, bw = best(sweep.l0inf), best(sweep.l1)
  if not bk or not bw then error("sgen: the sweep is incomplete: need dcgan-l0inf-k* and dcgan-l1-w* runs", 0) end
  print(string.format("k=%s l1=%s", bk.param, bw.param))
  return
end
if opts.k == "" or opts.l1 == "" then
  error("sgen: give the chosen values: --k=K --l1=W (or --pick to print the sweep's best)", 0)
end

local groups = {
  {loss = "dcgan", title = "Non-saturating DCGAN loss",
   cells = {"dcgan-none", "dcgan-l1-w" .. opts.l1, "dcgan-l0-k" .. opts.k, "dcgan-l0inf-k" .. opts.k,
            "dcgan-mlcsc-k" .. opts.k}},
  {loss = "wgan-gp", title = "WGAN-GP",
   cells = {"wgan-none", "wgan-l0inf-k" .. opts.k, "wgan-mlcsc-k" .. opts.k}},
}
local label = {none = "vanilla", l1 = "L1", l0 = "L0", l0inf = "L0,∞"}
local function cell_label(s)
  if s.model == "mlcsc" then return "ML-CSC (" .. label[s.variant] .. ")" end
  return label[s.variant]
end

local function stats(xs)
  local n, sum = #xs, 0
  for _, x in ipairs(xs) do sum = sum + x end
  local mean = sum / n
  local ss = 0
  for _, x in ipairs(xs) do ss = ss + (x - mean) ^ 2 end
  return mean, n > 1 and math.sqrt(ss / (n - 1)) or 0, n
end
local function fmt(xs, digits)
  if #xs == 0 then return "–" end
  local m, s = stats(xs)
  return string.format("%." .. (digits or 2) .. "f ± %." .. (digits or 2) .. "f", m, s)
end
-- % non-zeros of the Γ the sparsity acts on last (Γ for DCGAN, Γ1 for ML-CSC)
local function nonzero(s)
  local nz = s.nonzero_percent
  return nz.gamma or nz.gamma1
end

local lines = {}
local function add(s) lines[#lines + 1] = s end
add(string.format("Setting: %s 32x32, batch %d, ngf %d, ndf %d; FID/KID on %d samples "
  .. "against the 10,000 test images in sgen's Fashion-MNIST classifier feature space (not Inception: "
  .. "comparable within sgen only). Mean ± sample std over seeds (n per row); the paired difference "
  .. "is taken seed by seed against vanilla with the same loss.",
  first.data == "fmnist" and "Fashion-MNIST" or first.data, first.batch_size, first.ngf, first.ndf,
  first.fid_samples))
local points = {}
for _, g in ipairs(groups) do
  local present = {}
  for _, c in ipairs(g.cells) do if runs[c] then present[#present + 1] = c end end
  if #present > 0 then
    add("")
    local s1 = runs[present[1]][seeds_of(present[1])[1]]
    add(string.format("### %s (%d generator iterations, %d D updates each)", g.title, s1.iters, s1.n_critic))
    add("")
    add("| generator | k / weight | n | FID ↓ | KID ↓ | IS ↑ | % non-zeros in Γ (Γ1) | FID − vanilla (paired) |")
    add("|---|---|---|---|---|---|---|---|")
    local base = runs[g.cells[1]]
    for _, c in ipairs(present) do
      local fid, kid, is, nzs, diff = {}, {}, {}, {}, {}
      local any
      for _, seed in ipairs(seeds_of(c)) do
        local s = runs[c][seed]
        any = s
        fid[#fid + 1], kid[#kid + 1], is[#is + 1], nzs[#nzs + 1] = s.fid, s.kid, s.is, nonzero(s)
        if base and base[seed] and c ~= g.cells[1] then diff[#diff + 1] = s.fid - base[seed].fid end
        points[c] = points[c] or {x = {}, y = {}, name = g.loss .. ": " .. cell_label(s)}
        table.insert(points[c].x, nonzero(s))
        table.insert(points[c].y, s.fid)
      end
      local param = any.variant == "l1" and string.format("%g", any.l1_weight)
        or (any.variant == "l0inf" and tostring(any.k))
        or (any.variant == "l0" and (any.k < 1 and string.format("%g of Γ", any.k) or tostring(any.k))) or "–"
      add(string.format("| %s | %s | %d | %s | %s | %s | %s | %s |", cell_label(any), param, #fid,
        fmt(fid), fmt(kid), fmt(is), fmt(nzs, 1), c == g.cells[1] and "–" or fmt(diff)))
    end
  end
end
if sweep_seed then
  add("")
  add(string.format("### Sweep (seed %d, DCGAN loss): FID by k and by L1 weight", sweep_seed))
  add("")
  add("| variant | value | FID | % non-zeros in Γ |")
  add("|---|---|---|---|")
  for _, e in ipairs(sweep.l0inf) do
    add(string.format("| L0,∞ | k = %s | %.2f | %.1f |", e.param, e.s.fid, nonzero(e.s)))
  end
  for _, e in ipairs(sweep.l1) do
    add(string.format("| L1 | weight = %s | %.2f | %.1f |", e.param, e.s.fid, nonzero(e.s)))
  end
end
local text = table.concat(lines, "\n") .. "\n"
require("sgen.util.file").write(opts.dir .. "/table.md", text)
io.write(text)

local series = {}
for _, g in ipairs(groups) do
  for _, c in ipairs(g.cells) do
    if points[c] then
      series[#series + 1] = {name = points[c].name, x = points[c].x, y = points[c].y, dash = "none"}
    end
  end
end
sg.plot.lines(opts.dir .. "/fid_vs_nonzeros.svg", {series = series, markers = true,
  title = "FID (Fashion-MNIST classifier features) against % non-zeros in Γ, one point per run",
  xlabel = "% non-zeros in Γ (Γ1 for ML-CSC)", ylabel = "FID"})

-- One image per cell of a group, side by side in the table's order, from the
-- run of the lowest seed: the first of `files` that exists in it.
local function side_by_side(g, files, out)
  local imgs = {}
  for _, c in ipairs(g.cells) do
    local seeds = seeds_of(c)
    if #seeds > 0 then
      local dir = opts.dir .. "/" .. c .. "/seed" .. seeds[1]
      for _, name in ipairs(files) do
        local fh = io.open(dir .. "/" .. name, "r")
        if fh then
          fh:close()
          imgs[#imgs + 1] = sg.image.read(dir .. "/" .. name)
          break
        end
      end
    end
  end
  if #imgs > 0 then sg.image.write(out, sg.image.grid(imgs, {nrow = #imgs, padding = 4, pad_value = 1})) end
end

for _, g in ipairs(groups) do
  -- Fig. 4b: needle-density maps of Γ (Γ1 for ML-CSC)
  side_by_side(g, {"needle_density.png", "needle_density_gamma1.png"},
    opts.dir .. "/needle_density_" .. g.loss .. ".png")
  -- the final samples of the fixed z
  side_by_side(g, {"samples_final.png"}, opts.dir .. "/samples_" .. g.loss .. ".png")
end

-- Appendix A: the atoms of D1 and of D_eff = D1 D2 of the DCGAN-loss ML-CSC run
-- (lowest seed), from its final checkpoint.
do
  local cell = groups[1].cells[5]
  local seeds = seeds_of(cell)
  local s = seeds[1] and runs[cell][seeds[1]]
  if s then
    local dir = opts.dir .. "/" .. cell .. "/seed" .. seeds[1]
    local file = sg.train.find_checkpoint(dir)
    if file then
      local dcgan = require "models.dcgan"
      local G = dcgan.MLCSCGenerator({nz = s.nz, ngf = s.ngf, nc = s.data == "cifar10" and 3 or 1,
        sparsity = s.variant, k = s.k})
      sg.train.load_checkpoint(file, {models = {G = G}})
      local d1 = G:atoms() -- D1 first
      local eff = G:effective_atoms()
      -- each atom scaled to [0, 1] on its own, the grid enlarged 6x (nearest)
      local function write_atoms(path, w)
        local grid = sg.image.grid(w:detach(), {nrow = 16, padding = 1, pad_value = 1, normalize = true,
          scale_each = true})
        sg.image.write(path, sg.F.interpolate(grid:unsqueeze(1), {scale_factor = 6})[1])
      end
      write_atoms(opts.dir .. "/atoms_d1.png", d1)
      write_atoms(opts.dir .. "/atoms_deff.png", eff)
    end
  end
end
print("wrote " .. opts.dir .. "/table.md, fid_vs_nonzeros.svg, needle_density_*.png, samples_*.png, atoms_*.png")
