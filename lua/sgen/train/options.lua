-- sg.train.resume_options: the options of a run being resumed.
--
--   local opts, given = cli.options({...})
--   if opts.resume ~= "" then sg.train.resume_options(opts, given, opts.resume) end
--   -- then the presets (--quick ...), which leave given options alone
--
-- Every option that the run's DIR/config.json holds and the command line does
-- not give again takes the saved value and is marked as given, so presets
-- applied afterwards do not replace it: a resumed run continues with the
-- options it started with. Options given again win (--iters to extend a run).
-- "resume" and "out" are never taken from the file; keys of the file that are
-- not options (device_used, sgen_version, ...) are ignored. Returns the saved
-- table. Errors name the file when it is missing or unreadable.
local json = require "sgen.util.json"

local M = {}

local SKIP = {resume = true, out = true}

function M.resume_options(opts, given, dir)
  local fname = "sgen.train.resume_options"
  if type(opts) ~= "table" then error(fname .. ": argument 1 (opts) expected a table, got " .. type(opts), 2) end
  if type(given) ~= "table" then error(fname .. ": argument 2 (given) expected a table, got " .. type(given), 2) end
  if type(dir) ~= "string" or dir == "" then
    error(fname .. ": argument 3 (dir) expected a run directory, got " .. tostring(dir), 2)
  end
  local path = dir .. "/config.json"
  local f = io.open(path, "r")
  if not f then error("sgen: --resume=" .. dir .. ": " .. path .. " not found (not a run directory?)", 0) end
  f:close()
  local ok, saved = pcall(json.read, path)
  if not ok or type(saved) ~= "table" then
    error("sgen: --resume=" .. dir .. ": cannot read " .. path .. ": " .. tostring(saved), 0)
  end
  for key, v in pairs(saved) do
    if opts[key] ~= nil and not given[key] and not SKIP[key] and type(v) == type(opts[key]) then
      opts[key] = v
      given[key] = true
    end
  end
  return saved
end

return M
