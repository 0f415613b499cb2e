-- sgen.report.scan: what a run folder holds, read into a table for the
-- report. Driven only by the files (config.json, summary.json, metrics.csv,
-- *.png, *.svg), so a new experiment needs no code here.
--
--   local runs, shared = scan.collect({"runs/demo"})   -- every run below the folders
--   local run = scan.load_run("runs/demo/l0", {label = "l0"})
--
-- A run is a folder holding metrics.csv or summary.json. A folder whose
-- subfolders hold runs is a container (dip_denoise --variant=all writes
-- <out>/config.json, noisy.png and <out>/<variant>/): its runs are reported,
-- its own images are shown as shared ones, and its config.json is the
-- config of a run folder that has none.
local lfs = require "lfs"
local json = require "sgen.util.json"
local log = require "sgen.util.log"

local M = {}

-- Folders that are never runs nor hold any: checkpoints are large binaries.
local SKIP_DIRS = {checkpoints = true, [".git"] = true}
-- How deep below a folder given on the command line runs are looked for
-- (results/<config>/<seed>/ is two levels).
local MAX_DEPTH = 4

local function fail(fmt, ...) error("sgen report: " .. string.format(fmt, ...), 0) end
M.fail = fail

local function mode(path)
  local a = lfs.attributes(path)
  return a and a.mode, a and a.size
end

function M.is_dir(path) return mode(path) == "directory" end
function M.is_file(path) return mode(path) == "file" end

-- Sorted names in a folder (no . and ..).
function M.list(dir)
  local ok, iter, obj = pcall(lfs.dir, dir)
  if not ok then fail("cannot read the folder %s: %s", dir, tostring(iter)) end
  local names = {}
  for name in iter, obj do
    if name ~= "." and name ~= ".." then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

local function is_run(dir) return M.is_file(dir .. "/metrics.csv") or M.is_file(dir .. "/summary.json") end

-- The run folders at or below dir (depth-first, sorted by name).
local function find_runs(dir, depth, out)
  local sub = {}
  if depth < MAX_DEPTH then
    for _, name in ipairs(M.list(dir)) do
      local p = dir .. "/" .. name
      if not SKIP_DIRS[name] and M.is_dir(p) then find_runs(p, depth + 1, sub) end
    end
  end
  if #sub > 0 then
    for _, r in ipairs(sub) do out[#out + 1] = r end
    out.containers = out.containers or {}
    out.containers[#out.containers + 1] = dir
    for _, c in ipairs(sub.containers or {}) do out.containers[#out.containers + 1] = c end
  elseif is_run(dir) then
    out[#out + 1] = dir
  end
  return out
end

-- read_json(path) -> value; a clear error when empty or not JSON.
function M.read_json(path)
  local f, err = io.open(path, "r")
  if not f then fail("cannot open %s: %s", path, tostring(err)) end
  local text = f:read("a")
  f:close()
  if text:match("^%s*$") then fail("%s is empty", path) end
  local ok, v = pcall(json.decode, text)
  if not ok then fail("%s is not valid JSON: %s", path, (tostring(v):gsub("^.-json%.decode: ", ""))) end
  local mt = getmetatable(v)
  if type(v) ~= "table" or (mt and mt.__jsontype == "array") then
    fail("%s holds a JSON %s, expected a JSON object", path, type(v) == "table" and "array" or type(v))
  end
  return v
end

local function read_metrics(path)
  local _, size = mode(path)
  if size == 0 then fail("%s is empty (no header line)", path) end
  local ok, t = pcall(log.read_csv, path)
  if not ok then fail("%s cannot be read: %s", path, (tostring(t):gsub("^.-sgen%.util%.log[%.%w_]*: ", ""))) end
  if #t.columns == 0 or t.columns[1] == "" then fail("%s has no header line", path) end
  return t
end

local PNG_MAGIC = "\137PNG\r\n\26\n"

-- check_image(path) -> nil or why the file is not an image we can show.
function M.check_image(path)
  local f = io.open(path, "rb")
  if not f then return "cannot be opened" end
  local head = f:read(256) or ""
  f:close()
  if head == "" then return "is empty" end
  if path:match("%.png$") then
    if head:sub(1, 8) ~= PNG_MAGIC then return "is not a PNG file (bad signature)" end
  elseif not head:find("<svg", 1, true) and not head:find("<?xml", 1, true) then
    return "is not an SVG file"
  end
  return nil
end

local function is_image(name) return name:match("%.png$") or name:match("%.svg$") end

-- Images of a folder: its own *.png/*.svg, and (with_subdirs: a run still
-- training) the newest image of each plain subfolder
-- (samples/iter_NNNNNN.png: the latest samples; a finished run has its
-- final ones at the top).
local function images_of(dir, lenient, with_subdirs)
  local imgs = {}
  local function add(rel)
    local path = dir .. "/" .. rel
    local why = M.check_image(path)
    if why then
      if not lenient then fail("%s %s", path, why) end
    else
      imgs[#imgs + 1] = {name = rel, path = path}
    end
  end
  local subdirs = {}
  for _, name in ipairs(M.list(dir)) do
    local p = dir .. "/" .. name
    if is_image(name) and M.is_file(p) then
      add(name)
    elseif with_subdirs and not SKIP_DIRS[name] and M.is_dir(p) then
      subdirs[#subdirs + 1] = name
    end
  end
  for _, sub in ipairs(subdirs) do
    local last
    for _, name in ipairs(M.list(dir .. "/" .. sub)) do
      if is_image(name) then last = name end
    end
    if last then add(sub .. "/" .. last) end
  end
  return imgs
end
M.images_of = images_of

-- Flattens nested tables of scalars into "a.b" keys (up to 3 levels; lists
-- as a.1, a.2). Values: numbers, strings, booleans.
local function flatten(t, prefix, out, depth)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local v = t[k]
    local key = prefix .. tostring(k)
    local tv = type(v)
    if tv == "number" or tv == "string" or tv == "boolean" then
      out[key] = v
    elseif tv == "table" and v ~= json.null and depth < 3 then
      flatten(v, key .. ".", out, depth + 1)
    end
  end
  return out
end
M.flatten = flatten

-- A config's options: scalars as they are, a list of scalars as "a,b,c".
local function options_of(config)
  local o = {}
  for k, v in pairs(config) do
    local tv = type(v)
    if tv == "number" or tv == "string" or tv == "boolean" then
      o[k] = v
    elseif tv == "table" and #v > 0 then
      local parts = {}
      for i, x in ipairs(v) do
        if type(x) == "table" then parts = nil break end
        parts[i] = tostring(x)
      end
      if parts then o[k] = table.concat(parts, ",") end
    end
  end
  return o
end

-- The nearest config.json at or above dir (up to stop_depth parents).
local function find_config(dir, stop_depth)
  local d = dir
  for _ = 0, stop_depth do
    if M.is_file(d .. "/config.json") then return d .. "/config.json" end
    local parent = d:match("^(.*)/[^/]+$")
    if not parent or parent == "" then break end
    d = parent
  end
  return nil
end

-- load_run(dir, {label =, lenient =}) -> run table:
--   dir, label, config (table or nil), config_path, options (flat scalars),
--   summary (table or nil), summary_flat, values (numeric summary entries
--   that are not options), metrics ({columns, rows} or nil), images, status.
-- lenient (the live report): images being written are skipped rather than
-- an error.
function M.load_run(dir, opts)
  opts = opts or {}
  if not M.is_dir(dir) then fail("%s is not a folder", dir) end
  local run = {dir = dir, label = opts.label or dir:match("([^/]+)/*$") or dir}
  run.config_path = find_config(dir, 2)
  run.config = run.config_path and M.read_json(run.config_path) or nil
  run.options = options_of(run.config or {})
  if M.is_file(dir .. "/summary.json") then
    run.summary = M.read_json(dir .. "/summary.json")
  end
  if M.is_file(dir .. "/metrics.csv") then
    run.metrics = read_metrics(dir .. "/metrics.csv")
  end
  if not run.summary and not run.metrics and not opts.lenient then
    fail("%s holds no metrics.csv and no summary.json (not a run folder?)", dir)
  end
  run.summary_flat = run.summary and flatten(run.summary, "", {}, 1) or {}
  -- a summary entry that is also an option (variant, k, seed) is the value
  -- this run used: dip_denoise's config says variant=all, each summary the one
  run.values = {}
  for k, v in pairs(run.summary_flat) do
    if run.options[k] ~= nil or (run.config and run.config[k] ~= nil) then
      if type(v) ~= "table" then run.options[k] = v end
    elseif type(v) == "number" then
      run.values[k] = v
    end
  end
  run.images = images_of(dir, opts.lenient, not run.summary)
  run.status = run.summary and "done" or "running"
  return run
end

-- collect(dirs) -> runs, shared: the runs at or below each folder (labelled
-- by their path below it, or the folder's name when it is the run), and the
-- images of the containers ({label =, images =}).
function M.collect(dirs)
  if type(dirs) ~= "table" or #dirs == 0 then fail("give at least one run folder") end
  local runs, shared, seen = {}, {}, {}
  for _, arg in ipairs(dirs) do
    local dir = arg:gsub("/+$", "")
    if dir == "" then dir = "/" end
    local m = mode(dir)
    if m == nil then fail("%s: no such folder", arg) end
    if m ~= "directory" then fail("%s is not a folder (give a run folder or a folder of runs)", arg) end
    local found = find_runs(dir, 0, {})
    if #found == 0 then
      if #M.list(dir) == 0 then fail("%s is empty (no run in it)", arg) end
      fail("%s holds no run: no metrics.csv or summary.json in it or its subfolders (to depth %d)", arg, MAX_DEPTH)
    end
    local base = dir:match("([^/]+)$") or dir
    for _, r in ipairs(found) do
      if not seen[r] then
        seen[r] = true
        local label = r == dir and dir or r:sub(#dir + 2)
        if #dirs > 1 and r ~= dir then label = base .. "/" .. label end
        runs[#runs + 1] = M.load_run(r, {label = label})
      end
    end
    for _, c in ipairs(found.containers or {}) do
      local imgs = images_of(c, false, false)
      if #imgs > 0 then
        shared[#shared + 1] = {label = c == dir and base or (base .. "/" .. c:sub(#dir + 2)), images = imgs}
      end
    end
  end
  return runs, shared
end

return M
