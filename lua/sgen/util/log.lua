-- sgen.util.log: metrics to CSV and JSONL, one row per call, flushed at once
-- so that a crash loses nothing already logged.
--
--   local log = util.log.new{csv = "runs/x/metrics.csv", jsonl = "runs/x/metrics.jsonl"}
--   log:write{step = 1, loss = 0.52, acc = 0.81}
--   log:close()
--   util.log.new("metrics.csv")   -- one file; the format from the extension (.csv / .jsonl)
--
-- Columns: opts.fields if given, else the first row's keys, in a stable order:
-- the usual counters first (epoch, step, iter, iteration, batch, time), then the
-- rest alphabetically. A later row may leave columns out (empty cells in CSV,
-- absent in JSONL) but a key that is not a column is an error: a CSV header
-- cannot grow once written, and a silently dropped metric is worse. Declare
-- every metric you will log with `fields` when the first row lacks some.
-- (JSONL alone accepts any keys.)
-- Values: numbers (integers exactly, floats with 10 significant digits; NaN and
-- infinities as nan/inf in CSV, null in JSONL), strings (CSV-quoted when
-- needed), booleans, and one-element tensors (their :item()).
-- opts.append = true continues existing files (the CSV's header must match
-- `fields` when both are given; else its header gives the columns).
-- A CSV named metrics.csv is a run's log: after each row its folder's
-- report.html is brought up to date now and then (sgen.report.live, at most
-- 1 % of the run's time); opts.report = false (or SGEN_LIVE_REPORT=0) leaves
-- it alone.
local json = require "sgen.util.json"
local check = require "sgen.util.check"

local M = {}

local Logger = {}
Logger.__index = Logger
Logger.__name = "sgen.util.Logger"

local leading = {"epoch", "step", "iter", "iteration", "batch", "time"}
local leading_rank = {}
for i, k in ipairs(leading) do leading_rank[k] = i end

-- The stable column order of a row's keys.
function M.order_keys(row)
  local keys = {}
  for k in pairs(row) do
    if type(k) ~= "string" then
      error("sgen.util.log: row keys must be strings, got " .. type(k) .. " " .. tostring(k), 3)
    end
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b)
    local ra, rb = leading_rank[a] or math.huge, leading_rank[b] or math.huge
    if ra ~= rb then return ra < rb end
    return a < b
  end)
  return keys
end

local function scalar(v, key)
  if type(v) == "userdata" then
    local ok, r = pcall(function() return v:item() end)
    if not ok then
      error("sgen.util.log.write: value of '" .. key .. "' is not a number, string, boolean or one-element tensor", 4)
    end
    return r
  end
  local t = type(v)
  if t ~= "number" and t ~= "string" and t ~= "boolean" then
    error("sgen.util.log.write: value of '" .. key .. "' must be a number, string, boolean or one-element tensor, got " .. t, 4)
  end
  return v
end

local function csv_cell(v)
  if v == nil then return "" end
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then
    if v ~= v then return "nan" end
    if v == math.huge then return "inf" end
    if v == -math.huge then return "-inf" end
    return string.format("%.10g", v)
  end
  v = tostring(v)
  if v:find('[,"\r\n]') then v = '"' .. v:gsub('"', '""') .. '"' end
  return v
end
M.csv_cell = csv_cell

-- Splits one CSV line into fields (RFC 4180 quoting; no embedded newlines).
function M.csv_split(line)
  local out, i, n = {}, 1, #line
  while true do
    if line:sub(i, i) == '"' then
      local buf, j = {}, i + 1
      while true do
        local q = line:find('"', j, true)
        if not q then error("sgen.util.log: unterminated quote in CSV line: " .. line, 2) end
        buf[#buf + 1] = line:sub(j, q - 1)
        if line:sub(q + 1, q + 1) == '"' then
          buf[#buf + 1] = '"'
          j = q + 2
        else
          i = q + 1
          break
        end
      end
      out[#out + 1] = table.concat(buf)
    else
      local c = line:find(",", i, true) or n + 1
      out[#out + 1] = line:sub(i, c - 1)
      i = c
    end
    if i > n then break end
    if line:sub(i, i) ~= "," then error("sgen.util.log: malformed CSV line: " .. line, 2) end
    i = i + 1
    if i > n then out[#out + 1] = "" break end
  end
  return out
end

-- The live report (required at the first row: sgen.report reads CSVs with
-- this module). A missing piece (lfs) disables it with one warning.
local live
local function live_update(dir)
  if live == nil then
    local ok, mod = pcall(require, "sgen.report.live")
    if not ok then
      io.stderr:write("sgen: warning: no live report.html: ", tostring(mod), "\n")
      mod = false
    end
    live = mod
  end
  if live then live.update(dir) end
end

local OPT_KEYS = {"csv", "jsonl", "fields", "append", "report"}

-- Rows are appended whole and flushed, so a kill cuts at most the last one
-- (no newline after it): an appending logger drops it (crash-safe rewrite)
-- rather than glue its first row onto it. Returns the file's text, nil when
-- there is no file.
local function drop_cut_row(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  if text ~= "" and text:sub(-1) ~= "\n" then
    text = text:match("^(.*\n)") or ""
    require("sgen.util.file").write(path, text, "sgen.util.log.new", 3)
  end
  return text
end

-- log.new(path | {csv=, jsonl=}, {fields=, append=})
function M.new(spec, opts)
  local cfg = {}
  if type(spec) == "string" then
    if spec:match("%.csv$") then cfg.csv = spec
    elseif spec:match("%.jsonl$") then cfg.jsonl = spec
    else
      error("sgen.util.log.new: argument 1 (path) must end in .csv or .jsonl, got '" .. spec .. "'", 2)
    end
    if opts ~= nil and type(opts) ~= "table" then
      error("sgen.util.log.new: argument 2 (opts) expected an options table, got " .. type(opts), 2)
    end
    for k, v in pairs(opts or {}) do cfg[k] = v end
  elseif type(spec) == "table" then
    for k, v in pairs(spec) do cfg[k] = v end
    if opts ~= nil then
      if type(opts) ~= "table" then
        error("sgen.util.log.new: argument 2 (opts) expected an options table, got " .. type(opts), 2)
      end
      for k, v in pairs(opts) do cfg[k] = v end
    end
  else
    error("sgen.util.log.new: argument 1 expected a path or a table {csv=, jsonl=}, got " .. type(spec), 2)
  end
  check.options(cfg, OPT_KEYS, "sgen.util.log.new")
  if cfg.report ~= nil and type(cfg.report) ~= "boolean" then
    error("sgen.util.log.new: option report expected a boolean, got " .. type(cfg.report), 2)
  end
  if cfg.csv == nil and cfg.jsonl == nil then
    error("sgen.util.log.new: give a csv and/or a jsonl path", 2)
  end
  for _, k in ipairs({"csv", "jsonl"}) do
    if cfg[k] ~= nil and type(cfg[k]) ~= "string" then
      error("sgen.util.log.new: option " .. k .. " expected a path string, got " .. type(cfg[k]), 2)
    end
  end
  local self = setmetatable({rows = 0, closed = false}, Logger)
  if cfg.fields ~= nil then
    if type(cfg.fields) ~= "table" or #cfg.fields == 0 then
      error("sgen.util.log.new: option fields expected a non-empty list of column names", 2)
    end
    local seen = {}
    for i, f in ipairs(cfg.fields) do
      if type(f) ~= "string" then
        error("sgen.util.log.new: fields[" .. i .. "] expected a string, got " .. type(f), 2)
      end
      if seen[f] then error("sgen.util.log.new: field '" .. f .. "' given twice", 2) end
      seen[f] = true
    end
    self.fields = {table.unpack(cfg.fields)}
  end
  local mode = cfg.append and "a" or "w"
  if cfg.csv then
    local header_written = false
    if cfg.append then
      local text = drop_cut_row(cfg.csv)
      if text then
        local first = text:match("^([^\n]*)")
        if first and first ~= "" then
          local cols = M.csv_split(first)
          if self.fields and table.concat(cols, "\0") ~= table.concat(self.fields, "\0") then
            error("sgen.util.log.new: " .. cfg.csv .. " has columns " .. table.concat(cols, ",") ..
              ", expected " .. table.concat(self.fields, ","), 2)
          end
          self.fields = cols
          header_written = true
        end
      end
    end
    local f, err = io.open(cfg.csv, mode)
    if not f then error("sgen.util.log.new: cannot open " .. cfg.csv .. ": " .. tostring(err), 2) end
    self.csv, self.csv_path, self.header_written = f, cfg.csv, header_written
    if cfg.report ~= false and (cfg.csv == "metrics.csv" or cfg.csv:match("/metrics%.csv$")) then
      self.live_dir = cfg.csv:match("^(.*)/metrics%.csv$") or "."
    end
  end
  if cfg.jsonl then
    if cfg.append then drop_cut_row(cfg.jsonl) end
    local f, err = io.open(cfg.jsonl, mode)
    if not f then
      if self.csv then self.csv:close() end
      error("sgen.util.log.new: cannot open " .. cfg.jsonl .. ": " .. tostring(err), 2)
    end
    self.jsonl, self.jsonl_path = f, cfg.jsonl
  end
  return self
end

-- log:write(row): appends one row (a table of name -> value) to every file.
function Logger:write(row)
  if self.closed then error("sgen.util.log.write: the logger is closed", 2) end
  if type(row) ~= "table" then
    error("sgen.util.log.write: argument 1 (row) expected a table, got " .. type(row), 2)
  end
  local vals = {}
  for k, v in pairs(row) do
    if type(k) ~= "string" then
      error("sgen.util.log.write: row keys must be strings, got " .. type(k) .. " " .. tostring(k), 2)
    end
    vals[k] = scalar(v, k)
  end
  if not self.fields then
    if next(vals) == nil then error("sgen.util.log.write: the first row is empty", 2) end
    self.fields = M.order_keys(vals)
  end
  if self.csv then
    local known = {}
    for _, f in ipairs(self.fields) do known[f] = true end
    local extra = {}
    for k in pairs(vals) do if not known[k] then extra[#extra + 1] = k end end
    if #extra > 0 then
      table.sort(extra)
      error("sgen.util.log.write: '" .. table.concat(extra, "', '") .. "' not among the CSV columns (" ..
        table.concat(self.fields, ", ") .. "); declare every column with the fields option", 2)
    end
    if not self.header_written then
      local h = {}
      for i, f in ipairs(self.fields) do h[i] = csv_cell(f) end
      self.csv:write(table.concat(h, ","), "\n")
      self.header_written = true
    end
    local cells = {}
    for i, f in ipairs(self.fields) do cells[i] = csv_cell(vals[f]) end
    self.csv:write(table.concat(cells, ","), "\n")
    self.csv:flush()
    if self.live_dir then live_update(self.live_dir) end
  end
  if self.jsonl then
    local order, seen = {}, {}
    for _, f in ipairs(self.fields) do order[#order + 1] = f; seen[f] = true end
    for _, k in ipairs(M.order_keys(vals)) do
      if not seen[k] then order[#order + 1] = k end
    end
    self.jsonl:write(json.encode(json.object(vals), {keyorder = order}), "\n")
    self.jsonl:flush()
  end
  self.rows = self.rows + 1
  return self
end
Logger.log = Logger.write

-- log:close(): closes the files (idempotent).
function Logger:close()
  if self.closed then return end
  self.closed = true
  if self.csv then self.csv:close() end
  if self.jsonl then self.jsonl:close() end
end
Logger.__close = Logger.close
Logger.__gc = function(self) pcall(Logger.close, self) end

-- log.read_csv(path) -> {columns = {...}, rows = {{col=value,...},...}}: numbers
-- become numbers ("nan"/"inf" too), empty cells nil, the rest strings.
function M.read_csv(path)
  if type(path) ~= "string" then
    error("sgen.util.log.read_csv: argument 1 (path) expected a string, got " .. type(path), 2)
  end
  local f, err = io.open(path, "r")
  if not f then error("sgen.util.log.read_csv: cannot open " .. path .. ": " .. tostring(err), 2) end
  local header = f:read("l")
  if not header then
    f:close()
    error("sgen.util.log.read_csv: " .. path .. " is empty", 2)
  end
  header = header:gsub("\r$", "")
  local cols = M.csv_split(header)
  local rows = {}
  for line in f:lines() do
    line = line:gsub("\r$", "")
    if line ~= "" then
      local cells = M.csv_split(line)
      local r = {}
      for i, c in ipairs(cols) do
        local s = cells[i]
        if s ~= nil and s ~= "" then
          local num = tonumber(s)
          if num == nil then
            if s == "nan" or s == "-nan" then num = 0 / 0
            elseif s == "inf" then num = math.huge
            elseif s == "-inf" then num = -math.huge end
          end
          r[c] = num == nil and s or num
        end
      end
      rows[#rows + 1] = r
    end
  end
  f:close()
  return {columns = cols, rows = rows}
end

-- log.truncate_csv(path, last, [keep]) -> true when the file exists (its
-- header and the kept rows were written back), false when it does not (then
-- start a new log): keeps the header and the rows whose first column is a
-- number <= last (an iteration or step counter), for a run resumed from the
-- checkpoint of step `last`: the rows written after that checkpoint are
-- written again by the resumed run. keep(line, n), when given, can drop more
-- of those rows by returning false.
function M.truncate_csv(path, last, keep)
  if type(path) ~= "string" then
    error("sgen.util.log.truncate_csv: argument 1 (path) expected a string, got " .. type(path), 2)
  end
  if type(last) ~= "number" then
    error("sgen.util.log.truncate_csv: argument 2 (last) expected a number, got " .. type(last), 2)
  end
  if keep ~= nil and type(keep) ~= "function" then
    error("sgen.util.log.truncate_csv: argument 3 (keep) expected a function, got " .. type(keep), 2)
  end
  local f = io.open(path, "r")
  if not f then return false end
  local text = f:read("a")
  f:close()
  local lines = {}
  -- Only lines ending in a newline: a row cut by a kill mid-write ("12" of
  -- "125,0.3") would else pass for the row of iteration 12.
  for line in text:gmatch("([^\n]*)\n") do
    local n = tonumber(line:match("^([^,]*)"))
    if #lines == 0 or (n and n <= last and (keep == nil or keep(line, n))) then lines[#lines + 1] = line end
  end
  require("sgen.util.file").write(path, table.concat(lines, "\n") .. (#lines > 0 and "\n" or ""),
                                  "sgen.util.log.truncate_csv", 2)
  return #lines > 0
end

return M
