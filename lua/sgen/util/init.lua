-- sgen.util: progress bars, metric logs, JSON, wall-clock timers.
--   util.progress.new(total, opts)     (sgen.util.progress)
--   util.log.new{csv=, jsonl=}         (sgen.util.log)
--   util.json.encode/decode/read/write (sgen.util.json, over lua-dkjson)
--   util.clock() -> wall seconds; util.timer() -> t:elapsed(), t:reset()
--   util.format_duration(s) -> "MM:SS" / "H:MM:SS"
--   util.check, util.class: argument checks and the class helper (sgen.util.check, .class)
--   util.tables.sorted_keys(t): keys in a fixed order (sgen.util.tables)
local time = require "sgen.util.time"

local M = {
  progress = require "sgen.util.progress",
  log = require "sgen.util.log",
  json = require "sgen.util.json",
  time = time,
  check = require "sgen.util.check",
  class = require "sgen.util.class",
  tables = require "sgen.util.tables",
  clock = time.clock,
  timer = time.timer,
  format_duration = time.format_duration,
}

return M
