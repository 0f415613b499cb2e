-- sgen.util.time: a wall clock, timers and duration formatting.
--
-- The clock is wall time, not CPU time: os.clock() counts CPU seconds of all
-- threads (with OpenMP kernels on 2 cores it runs up to twice as fast as the
-- wall) and os.time() has whole-second resolution. The best source present is
-- used, in this order:
--   1. sgen.core.monotonic()  (a C clock_gettime(CLOCK_MONOTONIC) binding, if built)
--   2. /proc/uptime           (Linux, monotonic, 10 ms resolution)
--   3. os.time()              (1 s resolution)
-- time.source names the one in use.
local M = {}

local ok_core, core = pcall(require, "sgen.core")
local core_clock = ok_core and type(core) == "table" and rawget(core, "monotonic") or nil

local function uptime()
  local f = io.open("/proc/uptime", "r")
  if not f then return nil end
  local v = f:read("n")
  f:close()
  return v
end

if core_clock then
  M.clock = core_clock
  M.source = "sgen.core.monotonic"
elseif uptime() then
  M.clock = uptime
  M.source = "/proc/uptime"
else
  M.clock = function() return os.time() + 0.0 end
  M.source = "os.time"
end

-- Seconds as "MM:SS", or "H:MM:SS" from an hour on; "--:--" for nil, NaN or inf.
function M.format_duration(s)
  if type(s) ~= "number" or s ~= s or s == math.huge or s < 0 then return "--:--" end
  s = math.floor(s + 0.5)
  local h, m, sec = s // 3600, (s % 3600) // 60, s % 60
  if h > 0 then return string.format("%d:%02d:%02d", h, m, sec) end
  return string.format("%02d:%02d", m, sec)
end

local Timer = {}
Timer.__index = Timer

-- timer = time.timer(): wall-clock stopwatch started now.
function M.timer()
  return setmetatable({start = M.clock()}, Timer)
end

-- Seconds since the timer started (or was last reset).
function Timer:elapsed() return M.clock() - self.start end

-- Restarts the timer; returns the seconds elapsed before the reset.
function Timer:reset()
  local now = M.clock()
  local e = now - self.start
  self.start = now
  return e
end

Timer.__tostring = function(t) return string.format("timer(%.3f s)", t:elapsed()) end

return M
