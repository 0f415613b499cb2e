-- sgen.util.progress: a progress bar for long loops.
--
--   local p = progress.new(total, {desc="train", every=100, seconds=30})
--   for i = 1, total do ...; p:update(1, {loss=l, acc=a}) end
--   p:close()
--
-- Two modes:
--   bar    one line redrawn in place with "\r" (at most every `refresh` s):
--          desc  42%|#####     | 420/1000 [00:12<00:17, 34.50it/s, acc=0.91, loss=0.123]
--   plain  a line of its own every `every` iterations or every `seconds` s,
--          whichever comes first, and one at close():
--          desc 420/1000 (42%) 34.50 it/s elapsed 00:12 eta 00:17 acc=0.91 loss=0.123
-- The mode is, in order: opts.mode ("bar"|"plain"|"off"); the environment
-- variable SGEN_PROGRESS=bar|plain|off; "bar" when the output is io.stdout and
-- stdout is a terminal; else "plain". Terminal detection: sgen.core.isatty(1)
-- when the bindings provide it, else TERM set and not "dumb" and `test -t 1`
-- (run once per process through os.execute; the shell inherits our stdout).
-- Output goes to opts.out (a file handle; io.stdout by default).
local time = require "sgen.util.time"
local check = require "sgen.util.check"

local M = {}

local Progress = {}
Progress.__index = Progress

local isatty_cache
local function stdout_isatty()
  if isatty_cache ~= nil then return isatty_cache end
  local ok, core = pcall(require, "sgen.core")
  local f = ok and type(core) == "table" and rawget(core, "isatty") or nil
  if f then
    isatty_cache = f(1) and true or false
  else
    local term = os.getenv("TERM")
    if term == nil or term == "" or term == "dumb" then
      isatty_cache = false
    else
      isatty_cache = os.execute("test -t 1") == true
    end
  end
  return isatty_cache
end
M.isatty = stdout_isatty

local modes = {bar = true, plain = true, off = true}
local OPT_KEYS = {"desc", "every", "seconds", "out", "mode", "width", "refresh", "unit"}

local function check_count(v, what, fname, allow_nil)
  if v == nil and allow_nil then return end
  if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v) and v == v) then
    error(string.format("sgen.util.progress.%s: %s expected an integer, got %s", fname, what,
      type(v) == "number" and tostring(v) or type(v)), 3)
  end
end

-- progress.new(total, opts): total is the number of iterations (nil or 0 if unknown).
function M.new(total, opts)
  if total ~= nil then
    check_count(total, "argument 1 (total)", "new")
    if total < 0 then error("sgen.util.progress.new: argument 1 (total) must be >= 0, got " .. total, 2) end
    if total == 0 then total = nil end
  end
  opts = opts or {}
  if type(opts) ~= "table" then
    error("sgen.util.progress.new: argument 2 (opts) expected an options table, got " .. type(opts), 2)
  end
  check.options(opts, OPT_KEYS, "sgen.util.progress.new")
  local mode = opts.mode or os.getenv("SGEN_PROGRESS")
  if mode == "" then mode = nil end
  if mode ~= nil and not modes[mode] then
    error("sgen.util.progress.new: mode must be bar, plain or off, got '" .. tostring(mode) .. "'" ..
      (opts.mode and "" or " (from SGEN_PROGRESS)"), 2)
  end
  local out = opts.out or io.stdout
  if mode == nil then
    mode = (out == io.stdout and stdout_isatty()) and "bar" or "plain"
  end
  local every = opts.every
  if every ~= nil then
    check_count(every, "option every", "new")
    if every < 1 then error("sgen.util.progress.new: option every must be >= 1, got " .. every, 2) end
  else
    every = total and math.max(1, math.ceil(total / 10)) or 100
  end
  local seconds = opts.seconds
  if seconds ~= nil and (type(seconds) ~= "number" or seconds < 0) then
    error("sgen.util.progress.new: option seconds must be a number >= 0, got " .. tostring(seconds), 2)
  end
  local now = time.clock()
  return setmetatable({
    total = total, n = 0, desc = opts.desc, out = out, mode = mode,
    every = every, seconds = seconds or 60, refresh = opts.refresh or 0.1,
    width = opts.width or tonumber(os.getenv("COLUMNS") or "") or 100,
    unit = opts.unit or "it",
    start = now, last_print = now, last_n = 0, metrics = {}, closed = false, last_len = 0,
  }, Progress)
end

local function fmt_value(v)
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then
    if v ~= v then return "nan" end
    if v == math.huge then return "inf" end
    if v == -math.huge then return "-inf" end
    return string.format("%.4g", v)
  end
  return tostring(v)
end

function Progress:metric_text(sep)
  local keys = {}
  for k in pairs(self.metrics) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. fmt_value(self.metrics[k]) end
  return table.concat(parts, sep)
end

-- Rate (iterations per second), elapsed seconds and ETA seconds (nil if unknown).
function Progress:stats()
  local elapsed = time.clock() - self.start
  local rate = elapsed > 0 and self.n / elapsed or nil
  local eta
  if self.total and rate and rate > 0 then eta = math.max(0, self.total - self.n) / rate end
  return rate, elapsed, eta
end

local function fmt_rate(rate, unit)
  if not rate then return "?" .. unit .. "/s" end
  if rate >= 1 or rate == 0 then return string.format("%.2f%s/s", rate, unit) end
  return string.format("%.2fs/%s", 1 / rate, unit)
end

-- The plain-mode line (no newline).
function Progress:plain_line()
  local rate, elapsed, eta = self:stats()
  local parts = {}
  if self.desc then parts[#parts + 1] = self.desc end
  if self.total then
    parts[#parts + 1] = string.format("%d/%d (%d%%)", self.n, self.total,
      math.floor(100 * self.n / self.total))
  else
    parts[#parts + 1] = tostring(self.n)
  end
  parts[#parts + 1] = (rate and string.format("%.2f", rate) or "?") .. " " .. self.unit .. "/s"
  parts[#parts + 1] = "elapsed " .. time.format_duration(elapsed)
  if self.total then parts[#parts + 1] = "eta " .. time.format_duration(eta) end
  local m = self:metric_text(" ")
  if m ~= "" then parts[#parts + 1] = m end
  return table.concat(parts, " ")
end

-- The bar-mode line (no "\r").
function Progress:bar_line()
  local rate, elapsed, eta = self:stats()
  local desc = self.desc and (self.desc .. " ") or ""
  local m = self:metric_text(", ")
  local right
  if self.total then
    right = string.format(" %d/%d [%s<%s, %s%s]", self.n, self.total, time.format_duration(elapsed),
      time.format_duration(eta), fmt_rate(rate, self.unit), m ~= "" and (", " .. m) or "")
  else
    right = string.format(" %d [%s, %s%s]", self.n, time.format_duration(elapsed),
      fmt_rate(rate, self.unit), m ~= "" and (", " .. m) or "")
    return desc .. right:sub(2)
  end
  local pct = string.format("%3d%%", math.floor(100 * self.n / self.total))
  local barw = math.max(10, math.min(30, self.width - #desc - 70))
  local filled = math.floor(barw * math.min(self.n, self.total) / self.total)
  return desc .. pct .. "|" .. string.rep("#", filled) .. string.rep(" ", barw - filled) .. "|" .. right
end

function Progress:draw()
  local line = self:bar_line()
  local pad = self.last_len > #line and string.rep(" ", self.last_len - #line) or ""
  self.out:write("\r", line, pad)
  self.out:flush()
  self.last_len = #line
end

function Progress:print_plain()
  self.out:write(self:plain_line(), "\n")
  self.out:flush()
end

-- p:update(n, metrics): advance by n (default 1) iterations; metrics (a table
-- of numbers, strings or one-element tensors) replaces the shown values
-- key by key.
function Progress:update(n, metrics)
  if self.closed then error("sgen.util.progress.update: the progress bar is closed", 2) end
  if type(n) == "table" and metrics == nil then n, metrics = 1, n end
  if n == nil then n = 1 end
  check_count(n, "argument 1 (n)", "update")
  if n < 0 then error("sgen.util.progress.update: argument 1 (n) must be >= 0, got " .. n, 2) end
  if metrics ~= nil then
    if type(metrics) ~= "table" then
      error("sgen.util.progress.update: argument 2 (metrics) expected a table, got " .. type(metrics), 2)
    end
    for k, v in pairs(metrics) do
      -- keep plain values: a loss tensor would hold its autograd graph alive
      if type(v) == "userdata" and v.item then v = v:item() end
      self.metrics[k] = v
    end
  end
  self.n = self.n + n
  if self.mode == "off" then return self end
  local now = time.clock()
  if self.mode == "bar" then
    if now - self.last_print >= self.refresh or (self.total and self.n >= self.total) then
      self.last_print = now
      self:draw()
    end
  else
    local due = (self.n // self.every) > (self.last_n // self.every)
    if not due and self.seconds > 0 and now - self.last_print >= self.seconds then due = true end
    if due then
      self.last_print, self.last_n = now, self.n
      self:print_plain()
    end
  end
  return self
end

-- p:set(metrics): change the shown metrics without advancing.
function Progress:set(metrics) return self:update(0, metrics) end

-- p:close(): draws the final state (bar: ends the line; plain: prints a last
-- line unless the last one already showed the final count). Idempotent.
function Progress:close()
  if self.closed then return end
  self.closed = true
  if self.mode == "bar" then
    self:draw()
    self.out:write("\n")
    self.out:flush()
  elseif self.mode == "plain" and self.last_n ~= self.n then
    self:print_plain()
  end
end

Progress.__close = Progress.close
Progress.__name = "sgen.util.Progress"

return M
