-- sgen.report: one self-contained HTML page of a run folder, or comparing
-- several (docs/report.md). Everything comes from the files a run leaves
-- (sgen.report.scan); no experiment has code here.
--
--   local report = require "sgen.report"
--   report.write("runs/demo/report.html", {"runs/demo"})            -- the 3 DIP variants
--   report.write("r.html", {"runs/a", "runs/b"}, {images = "link"})
--   local html = report.render({"runs/x"}, {out_dir = ".", refresh = 10})
--
-- Options: images = "embed" (default: data: URIs, the page stands alone),
-- "link" (relative links from the page's folder) or "none"; title; refresh
-- (seconds: a <meta refresh>, for the live view while a run trains); status
-- (shown for a run without summary.json, default "running"); lenient (skip
-- unreadable images instead of failing: the live view reads files that are
-- being written).
local core = require "sgen.core"
local scan = require "sgen.report.scan"
local html = require "sgen.report.html"

local M = {}

local esc, fmt = html.esc, html.fmt

-- Options that never tell runs apart: where they were written, resume paths.
local IGNORED_OPTIONS = {out = true, resume = true, sgen_version = true, weights = true, data_dir = true}
-- Options that are replicates of one setting: their groups are averaged over.
local function is_replicate(key) return key:match("seed$") ~= nil end

-- The x axis of metrics.csv: its first counter column.
local X_COLUMNS = {"iter", "iteration", "step", "epoch", "batch"}
local function x_column(metrics)
  local has = {}
  for _, c in ipairs(metrics.columns) do has[c] = true end
  for _, c in ipairs(X_COLUMNS) do if has[c] then return c end end
  return metrics.columns[1]
end

local function numeric_columns(metrics, xcol)
  local cols = {}
  for _, c in ipairs(metrics.columns) do
    if c ~= xcol then
      for _, r in ipairs(metrics.rows) do
        if r[c] ~= nil then
          if type(r[c]) == "number" then cols[#cols + 1] = c end
          break
        end
      end
    end
  end
  return cols
end

local function series_of(metrics, xcol, col)
  local xs, ys = {}, {}
  for _, r in ipairs(metrics.rows) do
    if type(r[xcol]) == "number" and type(r[col]) == "number" then xs[#xs + 1], ys[#ys + 1] = r[xcol], r[col] end
  end
  return xs, ys
end

local function has_points(ys)
  for _, v in ipairs(ys) do
    if v == v and v ~= math.huge and v ~= -math.huge then return true end
  end
  return false
end

local function plot_title(col) return col .. (html.is_fid(col) and " †" or "") end

local function status_html(run, default)
  local status = run.status == "done" and "done" or (default or "running")
  local cls = status == "done" and "done" or (status == "running" and "running" or "stopped")
  local extra = ""
  if run.metrics and #run.metrics.rows > 0 then
    local xcol = x_column(run.metrics)
    local last = run.metrics.rows[#run.metrics.rows]
    if last[xcol] then extra = string.format(", last %s %s", esc(xcol), esc(fmt(last[xcol]))) end
    if run.config and type(run.config.iters) == "number" and xcol == "iter" then
      extra = extra .. string.format(" of %s", esc(fmt(run.config.iters)))
    end
  end
  return string.format('<p class="status %s" id="status">%s%s</p>', cls, esc(status), extra)
end

local function images_section(images, ctx)
  if #images == 0 then return "" end
  local o = {'<div class="strip">'}
  for _, im in ipairs(images) do
    o[#o + 1] = "<figure>" .. html.img(im, ctx) .. "<figcaption>" .. esc(im.name) .. "</figcaption></figure>"
  end
  o[#o + 1] = "</div>"
  return table.concat(o)
end

local function fid_note_if(keys)
  for _, k in ipairs(keys) do
    if html.is_fid(k) then return '<p class="note fid-note">' .. esc(html.FID_NOTE) .. "</p>" end
  end
  return ""
end

local sorted_keys = require("sgen.util.tables").sorted_keys

-- ---------------------------------------------------------------- one run

local function single_page(run, ctx)
  local o = {}
  o[#o + 1] = "<h1>" .. esc(ctx.title or run.label) .. "</h1>"
  o[#o + 1] = status_html(run, ctx.status)
  o[#o + 1] = string.format('<p class="note">run folder: %s; written %s</p>', esc(run.dir), os.date("%Y-%m-%d %H:%M:%S"))
  if run.summary then
    o[#o + 1] = "<h2>Summary</h2>"
    o[#o + 1] = html.kv_table(run.summary_flat, {id = "summary"})
    o[#o + 1] = fid_note_if(sorted_keys(run.summary_flat))
  end
  if run.metrics then
    local xcol = x_column(run.metrics)
    local cols = numeric_columns(run.metrics, xcol)
    o[#o + 1] = string.format("<h2>Metric curves</h2><p class=\"note\">metrics.csv: %d rows</p>", #run.metrics.rows)
    o[#o + 1] = '<div class="plots">'
    for _, c in ipairs(cols) do
      local xs, ys = series_of(run.metrics, xcol, c)
      if has_points(ys) then
        o[#o + 1] = html.inline_plot({series = {{name = c, x = xs, y = ys}}, title = plot_title(c), xlabel = xcol,
          width = 480, height = 300}, ctx)
      end
    end
    o[#o + 1] = "</div>"
    o[#o + 1] = fid_note_if(cols)
  end
  if ctx.images ~= "none" and #run.images > 0 then
    o[#o + 1] = "<h2>Images</h2>" .. images_section(run.images, ctx)
  end
  if run.config then
    o[#o + 1] = "<h2>Config</h2>" .. string.format('<p class="note">%s</p>', esc(run.config_path))
    o[#o + 1] = html.kv_table(run.options, {id = "config"})
  end
  return table.concat(o, "\n")
end

-- ---------------------------------------------------------------- several runs

-- The options whose values are not the same in every run.
local function differing_options(runs)
  local keys, seen = {}, {}
  for _, r in ipairs(runs) do
    for k in pairs(r.options) do
      if not seen[k] and not IGNORED_OPTIONS[k] then seen[k] = true keys[#keys + 1] = k end
    end
  end
  table.sort(keys)
  local diff = {}
  for _, k in ipairs(keys) do
    local first, differs = runs[1].options[k], false
    for i = 2, #runs do
      if runs[i].options[k] ~= first then differs = true break end
    end
    if differs then diff[#diff + 1] = k end
  end
  return diff
end

local function metric_keys(runs)
  local keys, seen = {}, {}
  for _, r in ipairs(runs) do
    for k in pairs(r.values) do if not seen[k] then seen[k] = true keys[#keys + 1] = k end end
  end
  table.sort(keys)
  return keys
end

local function mean_std(vals)
  local n, s = #vals, 0
  for _, v in ipairs(vals) do s = s + v end
  local m = s / n
  if n < 2 then return m, nil end
  local ss = 0
  for _, v in ipairs(vals) do ss = ss + (v - m) ^ 2 end
  return m, math.sqrt(ss / (n - 1))
end
M.mean_std = mean_std

local function partition(runs, keys)
  local ids, n, seen = {}, 0, {}
  for i, r in ipairs(runs) do
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = fmt(r.options[k]) end
    local id = table.concat(parts, "\0")
    if not seen[id] then n = n + 1 seen[id] = n end
    ids[i] = seen[id]
  end
  return table.concat(ids, ","), n
end

-- The fewest of keys that still tell the same groups apart: an option that
-- follows from the others (k_used from k, lr from loss) only lengthens the
-- group's name. Tried for removal: *_used first, then the rest from the end,
-- the usual experiment switches (PREFERRED) last.
local PREFERRED = {"variant", "model", "loss", "strategy", "k", "lambda", "data"}
local function minimal_keys(runs, keys)
  local rank = {}
  for i, k in ipairs(PREFERRED) do rank[k] = i end
  local order = {}
  for i = #keys, 1, -1 do if keys[i]:match("_used$") then order[#order + 1] = keys[i] end end
  for i = #keys, 1, -1 do
    if not keys[i]:match("_used$") and not rank[keys[i]] then order[#order + 1] = keys[i] end
  end
  for i = #PREFERRED, 1, -1 do
    for _, k in ipairs(keys) do if k == PREFERRED[i] then order[#order + 1] = k end end
  end
  local kept = {table.unpack(keys)}
  local target = partition(runs, kept)
  for _, k in ipairs(order) do
    local trial = {}
    for _, x in ipairs(kept) do if x ~= k then trial[#trial + 1] = x end end
    if #trial > 0 and partition(runs, trial) == target then kept = trial end
  end
  return kept
end

-- Groups of runs by the differing options that are not replicate seeds,
-- named by the fewest of them that tell the groups apart.
local function group_runs(runs, diff)
  local gkeys = {}
  for _, k in ipairs(diff) do if not is_replicate(k) then gkeys[#gkeys + 1] = k end end
  gkeys = #gkeys > 0 and minimal_keys(runs, gkeys) or gkeys
  local groups, by_label = {}, {}
  for _, r in ipairs(runs) do
    local parts = {}
    for _, k in ipairs(gkeys) do parts[#parts + 1] = k .. "=" .. fmt(r.options[k]) end
    local label = #parts > 0 and table.concat(parts, ", ") or "all runs"
    local g = by_label[label]
    if not g then
      g = {label = label, id = "g" .. (#groups + 1), runs = {}, options = {}}
      for _, k in ipairs(gkeys) do g.options[k] = r.options[k] end
      by_label[label] = g
      groups[#groups + 1] = g
    end
    g.runs[#g.runs + 1] = r
    r.group = g
  end
  return groups, gkeys
end

-- The mean curve of a group's runs over the x values that all of them have.
local function group_curve(g, col)
  local count, sum, n = {}, {}, 0
  for _, r in ipairs(g.runs) do
    if r.metrics then
      local xcol = x_column(r.metrics)
      local xs, ys = series_of(r.metrics, xcol, col)
      if #xs > 0 then
        n = n + 1
        for i, x in ipairs(xs) do count[x] = (count[x] or 0) + 1 sum[x] = (sum[x] or 0) + ys[i] end
      end
    end
  end
  local xs = {}
  for x, c in pairs(count) do if c == n then xs[#xs + 1] = x end end
  table.sort(xs)
  local ys = {}
  for i, x in ipairs(xs) do ys[i] = sum[x] / n end
  return xs, ys, n
end

local function comparison_page(runs, shared, ctx)
  local diff = differing_options(runs)
  local metrics = metric_keys(runs)
  local groups, gkeys = group_runs(runs, diff)
  local o = {}
  o[#o + 1] = "<h1>" .. esc(ctx.title or string.format("%d runs", #runs)) .. "</h1>"
  o[#o + 1] = string.format('<p class="note">%d runs in %d groups (by %s); written %s. Click a column header to sort.</p>',
    #runs, #groups, #gkeys > 0 and esc(table.concat(gkeys, ", ")) or "no differing option",
    os.date("%Y-%m-%d %H:%M:%S"))

  -- every run
  local cols = {{key = "run", label = "run"}, {key = "group", label = "group"}}
  for _, k in ipairs(diff) do cols[#cols + 1] = {key = "opt:" .. k, label = k} end
  cols[#cols + 1] = {key = "status", label = "status"}
  for _, k in ipairs(metrics) do cols[#cols + 1] = {key = "m:" .. k, label = k, numeric = true, fid = html.is_fid(k)} end
  local rows = {}
  for _, r in ipairs(runs) do
    local row = {run = r.label, group = r.group.id, status = r.status == "done" and "done" or (ctx.status or "running")}
    for _, k in ipairs(diff) do row["opt:" .. k] = r.options[k] end
    for _, k in ipairs(metrics) do row["m:" .. k] = r.values[k] end
    rows[#rows + 1] = row
  end
  o[#o + 1] = "<h2>Runs</h2>" .. html.table(cols, rows, {id = "runs", sortable = true})

  -- the groups: mean ± std over their runs
  local gcols = {{key = "group", label = "group"}}
  for _, k in ipairs(gkeys) do gcols[#gcols + 1] = {key = "opt:" .. k, label = k} end
  gcols[#gcols + 1] = {key = "n", label = "runs", numeric = true}
  for _, k in ipairs(metrics) do gcols[#gcols + 1] = {key = "m:" .. k, label = k, numeric = true, fid = html.is_fid(k)} end
  local grows = {}
  for _, g in ipairs(groups) do
    local row = {group = g.id, n = #g.runs}
    for _, k in ipairs(gkeys) do row["opt:" .. k] = g.options[k] end
    for _, k in ipairs(metrics) do
      local vals = {}
      for _, r in ipairs(g.runs) do if r.values[k] then vals[#vals + 1] = r.values[k] end end
      if #vals > 0 then
        local m, s = mean_std(vals)
        row["m:" .. k] = m
        row["m:" .. k .. "\0text"] = s and (fmt(m) .. " ± " .. fmt(s)) or fmt(m)
      end
    end
    grows[#grows + 1] = row
  end
  o[#o + 1] = "<h2>Groups (mean ± std over runs)</h2>" .. html.table(gcols, grows, {id = "groups", sortable = true})
  o[#o + 1] = fid_note_if(metrics)

  -- overlaid curves: one line per group (the mean of its runs)
  local ccols, seen = {}, {}
  for _, r in ipairs(runs) do
    if r.metrics then
      for _, c in ipairs(numeric_columns(r.metrics, x_column(r.metrics))) do
        if not seen[c] then seen[c] = true ccols[#ccols + 1] = c end
      end
    end
  end
  if #ccols > 0 then
    o[#o + 1] = '<h2>Metric curves</h2><p class="note">one line per group (g1, g2, ...: the groups table); '
      .. 'a group of several runs is their mean</p>'
    o[#o + 1] = '<div class="plots">'
    for _, c in ipairs(ccols) do
      local series = {}
      for _, g in ipairs(groups) do
        local xs, ys, n = group_curve(g, c)
        if has_points(ys) then
          local name = #g.label <= 28 and (g.id .. ": " .. g.label) or g.id
          series[#series + 1] = {name = name .. (n > 1 and string.format(" (mean of %d)", n) or ""), x = xs, y = ys}
        end
      end
      if #series > 0 then
        o[#o + 1] = html.inline_plot({series = series, title = plot_title(c), width = 480, height = 320}, ctx)
      end
    end
    o[#o + 1] = "</div>"
  end

  -- images: the shared ones, then one strip per image name across the runs
  if ctx.images ~= "none" then
    local names, by_name = {}, {}
    for _, r in ipairs(runs) do
      for _, im in ipairs(r.images) do
        if not by_name[im.name] then by_name[im.name] = {} names[#names + 1] = im.name end
        by_name[im.name][#by_name[im.name] + 1] = {run = r, image = im}
      end
    end
    if #shared > 0 or #names > 0 then o[#o + 1] = "<h2>Images</h2>" end
    for _, s in ipairs(shared) do
      o[#o + 1] = "<h3>" .. esc(s.label) .. " (shared)</h3>" .. images_section(s.images, ctx)
    end
    for _, name in ipairs(names) do
      o[#o + 1] = "<h3>" .. esc(name) .. "</h3>" .. '<div class="strip">'
      for _, e in ipairs(by_name[name]) do
        o[#o + 1] = "<figure>" .. html.img(e.image, ctx) .. "<figcaption>" .. esc(e.run.label) .. "</figcaption></figure>"
      end
      o[#o + 1] = "</div>"
    end
  end

  -- each run's config and summary
  o[#o + 1] = "<h2>Runs in detail</h2>"
  for _, r in ipairs(runs) do
    o[#o + 1] = "<details><summary>" .. esc(r.label) .. " — " .. esc(r.dir) .. "</summary>"
    if r.summary then o[#o + 1] = "<h4>summary.json</h4>" .. html.kv_table(r.summary_flat) end
    if r.config then o[#o + 1] = "<h4>" .. esc(r.config_path) .. "</h4>" .. html.kv_table(r.options) end
    o[#o + 1] = "</details>"
  end
  return table.concat(o, "\n")
end

-- ---------------------------------------------------------------- API

local IMAGE_MODES = {embed = true, link = true, none = true}

local function check_opts(opts, fname)
  opts = opts or {}
  if type(opts) ~= "table" then error(fname .. ": argument opts expected a table, got " .. type(opts), 3) end
  local images = opts.images or "embed"
  if not IMAGE_MODES[images] then
    error(fname .. ": option images must be embed, link or none, got '" .. tostring(images) .. "'", 3)
  end
  return {images = images, title = opts.title, refresh = opts.refresh, status = opts.status,
    lenient = opts.lenient, out_dir = opts.out_dir or "."}
end

local function check_dirs(dirs, fname)
  if type(dirs) == "string" then dirs = {dirs} end
  if type(dirs) ~= "table" then
    error(fname .. ": argument dirs expected a folder or a list of folders, got " .. type(dirs), 3)
  end
  for i, d in ipairs(dirs) do
    if type(d) ~= "string" then error(fname .. ": dirs[" .. i .. "] expected a string, got " .. type(d), 3) end
  end
  return dirs
end

-- render(dirs, opts) -> html, runs: the page (one run: its own page; more: the comparison).
function M.render(dirs, opts)
  dirs = check_dirs(dirs, "sgen.report.render")
  local ctx = check_opts(opts, "sgen.report.render")
  local runs, shared
  if ctx.lenient and #dirs == 1 then
    runs, shared = {scan.load_run(dirs[1], {lenient = true})}, {}
  else
    runs, shared = scan.collect(dirs)
  end
  local body = #runs == 1 and #shared == 0 and single_page(runs[1], ctx) or comparison_page(runs, shared, ctx)
  local title = ctx.title or (#runs == 1 and runs[1].label or string.format("%d runs", #runs))
  return html.page("sgen report: " .. title, body, {refresh = ctx.refresh}), runs
end

-- write(path, dirs, opts) -> path, runs: the page, written atomically
-- (sg.core.write_file: temp file, fsync, rename: a browser never sees half a
-- page, a kill never leaves one).
function M.write(path, dirs, opts)
  if type(path) ~= "string" or path == "" then
    error("sgen.report.write: argument 1 (path) expected a file name, got " .. tostring(path), 2)
  end
  dirs = check_dirs(dirs, "sgen.report.write")
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.out_dir = path:match("^(.*)/[^/]*$") or "."
  if o.out_dir == "" then o.out_dir = "/" end
  local text, runs = M.render(dirs, o)
  local ok, err = pcall(core.write_file, path, text)
  if not ok then scan.fail("cannot write %s: %s", path, (tostring(err):gsub("^sgen%.write_file: ", ""))) end
  return path, runs
end

return M
