-- The check function of the fuzz_cli harness (fuzz/fuzz_cli.c): the
-- `sgen run` option parser fed the way `sgen run` feeds it. The input split
-- at NUL bytes is the argument list after the script (argv strings hold no
-- NUL). It goes through cli._set_args (what bindings/sgen_run.c calls:
-- cli.parse and the global `opts`), cli.parse's result is checked, then
-- cli.options with declarations of every type, then cli._unread_options
-- (the warning `sgen run` prints at the end).
--
-- Accepted outcomes: results of the promised types, the usage error the
-- parser promises ("sgen: ...", recorded in cli._usage_error, printed by
-- `sgen run` with exit status 2), or --help (os.exit(0), turned into a Lua
-- error here so the process lives on). Any other error (an index of nil in
-- the parser, say) or a wrongly typed value raises: a finding.
local cli = require "sgen.cli"

os.exit = function(code) error({fuzz_exit = code}, 0) end
io.stdout = {write = function(self) return self end, flush = function() end}

local DECL = {
  iters = 100, lr = 1e-3, out = "out.png", verbose = true, no_cache = false,
  seed = {type = "integer", help = "random seed"}, name = {type = "string"},
  ratio = {type = "number", default = 0.5}, ["learning-rate"] = 0.1,
}
local TYPES = {}
for k, v in pairs(DECL) do
  local t = type(v) == "table" and v.type or type(v)
  if t == "number" and math.type(v) == "integer" then t = "integer" end
  TYPES[k] = t
end

-- true to go on, false when the call ended cleanly with a usage error or --help
local function expect_usage(ok, err, what)
  if ok then return true end
  if type(err) == "table" and err.fuzz_exit == 0 then return false end
  if type(err) ~= "string" or not err:find("^sgen: ") then
    error(what .. " raised something other than a usage error: " .. tostring(err), 0)
  end
  if cli._usage_error ~= err then
    error(what .. ": usage error not recorded in cli._usage_error: " .. err, 0)
  end
  return false
end

-- "integer" / "float" for numbers, else type(v)
local function typeof(v)
  return math.type(v) or type(v)
end

return function(input)
  local args = {}
  for a in (input .. "\0"):gmatch("(.-)%z") do
    if #args == 64 then break end
    args[#args + 1] = a
  end

  cli._usage_error = nil
  local ok, err = pcall(cli._set_args, "fuzz.lua", args, "sgen")
  if not expect_usage(ok, err, "cli._set_args") then return end
  local raw, positional = cli.parse(args)
  for k, v in pairs(raw) do
    local t = type(v)
    if type(k) ~= "string" or k:find("-", 1, true) or
       (t ~= "number" and t ~= "boolean" and t ~= "string") then
      error("cli.parse gave option " .. tostring(k) .. " = " .. tostring(v), 0)
    end
  end
  if #positional > #args then
    error("cli.parse gave more positional arguments than arguments", 0)
  end
  local unread = cli._unread_options()
  if unread ~= nil and type(unread) ~= "table" then
    error("cli._unread_options gave a " .. type(unread), 0)
  end

  cli._usage_error = nil
  local ok2, res, given = pcall(cli.options, DECL, {help = "fuzz"})
  if not expect_usage(ok2, res, "cli.options") then return end
  for k, t in pairs(TYPES) do
    local v = res[k]
    if v ~= nil then
      local got = typeof(v)
      -- a number option gives floats (cli.options adds 0.0)
      if got ~= (t == "number" and "float" or t) then
        error("cli.options gave " .. k .. " = " .. tostring(v) .. " (" .. got .. "), declared " .. t, 0)
      end
    end
  end
  for k in pairs(given) do
    if TYPES[k] == nil then
      error("cli.options marked an undeclared option given: " .. tostring(k), 0)
    end
  end
end
