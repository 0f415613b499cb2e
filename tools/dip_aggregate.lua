-- Aggregates dip_denoise summaries written by tools/dip_results.sh:
-- DIR/<image>/<variant>/seed<s>/summary.json -> a Markdown table of
-- mean ± std (over seeds) of the best and final single / average PSNRs per
-- image and variant, the mean over images, and each variant's gain over
-- vanilla DIP (paired by image and seed). Prints it and writes DIR/table.md.
--
--   sgen run tools/dip_aggregate.lua --dir=runs/dip_results
local util = require "sgen.util"
local cli = require "sgen.cli"

local opts = cli.options({dir = {type = "string", default = "runs/dip_results", help = "results directory"}})

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local files = {}
local p = assert(io.popen("find " .. sh_quote(opts.dir) .. " -name summary.json -path '*/seed*/*' | sort"))
for line in p:lines() do files[#files + 1] = line end
p:close()
if #files == 0 then error("sgen: no */seed*/summary.json under " .. opts.dir, 0) end

local metrics = {"best_single", "best_average", "final_single", "final_average"}
local runs = {}      -- image -> variant -> seed -> summary
local images, variants_seen = {}, {}
local first
for _, f in ipairs(files) do
  local image, variant, seed = f:match("([^/]+)/([^/]+)/seed(%d+)/summary.json$")
  local s = util.json.read(f)
  first = first or s
  if not runs[image] then runs[image] = {}; images[#images + 1] = image end
  runs[image][variant] = runs[image][variant] or {}
  runs[image][variant][tonumber(seed)] = s
  variants_seen[variant] = true
end
local variants = {}
for _, v in ipairs({"none", "l0", "l0inf"}) do
  if variants_seen[v] then variants[#variants + 1] = v end
end
local label = {none = "vanilla", l0 = "L0", l0inf = "L0,∞"}

local function stats(xs)
  local n, sum = #xs, 0
  for _, x in ipairs(xs) do sum = sum + x end
  local mean = sum / n
  local ss = 0
  for _, x in ipairs(xs) do ss = ss + (x - mean) ^ 2 end
  return mean, n > 1 and math.sqrt(ss / (n - 1)) or 0, n
end

local function fmt(xs)
  if #xs == 0 then return "–" end
  local m, s = stats(xs)
  return string.format("%.2f ± %.2f", m, s)
end

local lines = {}
local function add(s) lines[#lines + 1] = s end
add(string.format("Setting: %dx%d crops, sigma %g, %d iterations, k = %s, seeds per cell: see n. "
  .. "Values: PSNR in dB, mean ± sample std over seeds.", first.size[1], first.size[2], first.sigma,
  first.iters, tostring(first.k or "(vanilla)")))
add("")
add("| image | variant | n | noisy | best single | best average | final single | final average |")
add("|---|---|---|---|---|---|---|---|")
local all = {}
for _, v in ipairs(variants) do all[v] = {} for _, m in ipairs(metrics) do all[v][m] = {} end end
for _, image in ipairs(images) do
  for _, v in ipairs(variants) do
    local cols, noisy, n = {}, nil, 0
    for _, m in ipairs(metrics) do cols[m] = {} end
    for _, s in pairs(runs[image][v] or {}) do
      n = n + 1
      noisy = s.noisy_psnr
      for _, m in ipairs(metrics) do
        cols[m][#cols[m] + 1] = s[m]
        all[v][m][#all[v][m] + 1] = s[m]
      end
    end
    if n > 0 then
      add(string.format("| %s | %s | %d | %.2f | %s | %s | %s | %s |", image, label[v], n, noisy,
        fmt(cols.best_single), fmt(cols.best_average), fmt(cols.final_single), fmt(cols.final_average)))
    end
  end
end
add("")
add("Mean over all images and seeds:")
add("")
add("| variant | runs | best single | best average | final single | final average |")
add("|---|---|---|---|---|---|")
for _, v in ipairs(variants) do
  add(string.format("| %s | %d | %s | %s | %s | %s |", label[v], #all[v].best_single,
    fmt(all[v].best_single), fmt(all[v].best_average), fmt(all[v].final_single), fmt(all[v].final_average)))
end
if variants_seen.none then
  add("")
  add("Gain over vanilla DIP (paired by image and seed; mean ± std of the differences):")
  add("")
  add("| variant | pairs | best single | best average | final single | final average |")
  add("|---|---|---|---|---|---|")
  for _, v in ipairs(variants) do
    if v ~= "none" then
      local d = {}
      for _, m in ipairs(metrics) do d[m] = {} end
      for _, image in ipairs(images) do
        for seed, s in pairs(runs[image][v] or {}) do
          local base = runs[image].none and runs[image].none[seed]
          if base then
            for _, m in ipairs(metrics) do d[m][#d[m] + 1] = s[m] - base[m] end
          end
        end
      end
      add(string.format("| %s | %d | %s | %s | %s | %s |", label[v], #d.best_single,
        fmt(d.best_single), fmt(d.best_average), fmt(d.final_single), fmt(d.final_average)))
    end
  end
end
local text = table.concat(lines, "\n") .. "\n"
io.write(text)
require("sgen.util.file").write(opts.dir .. "/table.md", text)
