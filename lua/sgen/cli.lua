-- sgen.cli: command-line options for scripts run by `sgen run`, and the
-- value printer of the REPL. Independent of the rest of the library.
--
--   sgen run train.lua --iters=500 --lr=1e-3 --no-verbose -- extra args
--
-- `sgen run` parses the arguments after the script with cli.parse and sets
-- the globals `opts` (typed guesses: numbers, true/false, strings) and `arg`
-- (arg[0] = the script, arg[1..n] = positional arguments). A script that
-- declares its options gets checked, typed values:
--
--   local opts = require("sgen.cli").options({iters = 100, lr = 1e-3, out = "out.png"},
--                                            {help = "Trains the model."})
--
-- Unknown keys, values of the wrong type and --help are handled there.
local cli = {}

-- The raw arguments after the script, set by `sgen run` (cli._set_args);
-- nil when the script runs under plain lua5.4 (then the global `arg` is used).
local current_args, current_script

-- Messages of option errors raised by cli.options: `sgen run` prints them
-- without a traceback and exits with status 2.
cli._usage_error = nil

local function usage_error(msg)
  msg = "sgen: " .. msg
  cli._usage_error = msg
  error(msg, 0)
end

-- "--learning-rate" and "--learning_rate" name the same key.
local function normalize(key)
  return (key:gsub("%-", "_"))
end

local function dashed(key)
  return "--" .. key:gsub("_", "-")
end

--- Converts a string given on the command line to a number, a boolean or
-- leaves it a string ("true"/"false" are booleans, "1e-3" a number).
function cli.guess(raw)
  if raw == "true" then return true end
  if raw == "false" then return false end
  local n = tonumber(raw)
  if n ~= nil then return n end
  return raw
end

--- Parses argument strings: `--key=value`, `--flag` (true), `--no-flag`
-- (false); `--` ends the options; everything else is positional.
-- Returns opts (typed by cli.guess), the list of positional arguments and
-- the ordered list of option entries {key=, value= raw string or nil,
-- negated= bool, text= the argument as given}.
function cli.parse(args)
  local opts, positional, entries = {}, {}, {}
  local i, n = 1, #args
  while i <= n do
    local a = args[i]
    if type(a) ~= "string" then
      error("sgen.cli.parse: argument " .. i .. " is a " .. type(a) .. ", expected a string", 2)
    end
    if a == "--" then
      for j = i + 1, n do positional[#positional + 1] = args[j] end
      break
    end
    local body = a:match("^%-%-(.*)$")
    if body == nil then
      positional[#positional + 1] = a
    else
      local key, value = body:match("^([^=]*)=(.*)$")
      if key == nil then key = body end
      if not key:match("^[%a_][%w_%-%.]*$") then
        usage_error("bad option '" .. a .. "' (expected --key=value, --flag or --no-flag)")
      end
      key = normalize(key)
      local e = {key = key, value = value, negated = false, text = a}
      if value == nil and key:match("^no_.") then
        e.negated = true
      end
      entries[#entries + 1] = e
      if value ~= nil then
        opts[key] = cli.guess(value)
      elseif e.negated then
        opts[key:sub(4)] = false
      else
        opts[key] = true
      end
    end
    i = i + 1
  end
  return opts, positional, entries
end

-- Called by `sgen run` before the script starts: records the raw arguments
-- and sets the globals `opts` and `arg`. Returns the positional arguments
-- (the script's `...`).
-- The options a script without cli.options never read, for the warning
-- `sgen run` prints when the script ends (a mistyped --option would else
-- go unnoticed): `opts` is a view of the parsed table that records reads.
local raw_opts, read_opts

function cli._set_args(script, args, progname)
  current_script, current_args = script, args
  local opts, positional = cli.parse(args)
  local a = {[0] = script, [-1] = "run", [-2] = progname or "sgen"}
  for i, v in ipairs(positional) do a[i] = v end
  raw_opts, read_opts = opts, {}
  local seen = read_opts
  _G.opts = setmetatable({}, {
    __index = function(_, k) seen[k] = true; return opts[k] end,
    __newindex = function(_, k, v) seen[k] = true; opts[k] = v end,
    __pairs = function()
      for k in pairs(opts) do seen[k] = true end
      return next, opts, nil
    end,
    __len = function() return #opts end,
  })
  _G.arg = a
  return table.unpack(positional)
end

-- The --options given to `sgen run` that the script neither declared
-- (cli.options) nor read from `opts`, sorted; nil when there are none.
function cli._unread_options()
  if raw_opts == nil then return nil end
  local names = {}
  for k in pairs(raw_opts) do
    if not read_opts[k] then names[#names + 1] = "--" .. tostring(k):gsub("_", "-") end
  end
  if #names == 0 then return nil end
  table.sort(names)
  return names
end

-- ---- declared options ----

-- Edit distance counting insertions, deletions, substitutions and swaps of
-- two neighbours ("itres" is 1 from "iters").
local function edit_distance(a, b)
  local la, lb = #a, #b
  local d = {}
  for i = 0, la do d[i] = {[0] = i} end
  for j = 0, lb do d[0][j] = j end
  for i = 1, la do
    for j = 1, lb do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        v = math.min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[la][lb]
end

--- The closest of the names to key, or nil when none is close
-- (edit distance at most max(1, #key // 3), or one a prefix of the other).
function cli.suggest(key, names)
  local best, bestd
  for _, name in ipairs(names) do
    local d = edit_distance(key, name)
    if #key >= 3 and (name:sub(1, #key) == key or key:sub(1, #name) == name) then
      d = math.min(d, 1)
    end
    if bestd == nil or d < bestd or (d == bestd and name < best) then best, bestd = name, d end
  end
  if best ~= nil and bestd <= math.max(1, #key // 3) then return best end
  return nil
end

local TYPES = {number = true, integer = true, boolean = true, string = true}

-- Turns the declaration of one option into {type=, default=, help=}.
local function declaration(key, v)
  if type(key) ~= "string" then
    error("sgen.cli.options: option names must be strings, got " .. type(key), 3)
  end
  local t = type(v)
  if t == "number" then
    return {type = math.type(v) == "integer" and "integer" or "number", default = v}
  elseif t == "boolean" or t == "string" then
    return {type = t, default = v}
  elseif t == "table" then
    local d = {type = v.type, default = v.default, help = v.help}
    if d.type == nil and d.default ~= nil then
      d.type = declaration(key, d.default).type
    end
    if not TYPES[d.type] then
      error("sgen.cli.options: option '" .. key .. "' needs a type (number, integer, boolean "
            .. "or string) or a default, got type " .. tostring(v.type), 3)
    end
    for k in pairs(v) do
      if k ~= "type" and k ~= "default" and k ~= "help" then
        error("sgen.cli.options: option '" .. key .. "': unknown field '" .. tostring(k)
              .. "' (expected type, default, help)", 3)
      end
    end
    return d
  else
    error("sgen.cli.options: option '" .. key .. "' has a " .. t .. " default; expected a "
          .. "number, boolean, string or a table {type=, default=, help=}", 3)
  end
end

local function convert(key, d, e)
  local name = dashed(key)
  if e.negated then
    if d.type ~= "boolean" then
      usage_error(e.text .. ": option " .. name .. " takes " .. (d.type == "integer" and "an " or "a ") .. d.type .. ", it is not a flag "
                  .. "(give " .. name .. "=...)")
    end
    return false
  end
  local raw = e.value
  if raw == nil then
    if d.type == "boolean" then return true end
    usage_error("option " .. name .. " expects " .. (d.type == "integer" and "an " or "a ")
                .. d.type .. " value (" .. name .. "=...)")
  end
  if d.type == "string" then return raw end
  if d.type == "boolean" then
    if raw == "true" or raw == "1" or raw == "yes" then return true end
    if raw == "false" or raw == "0" or raw == "no" then return false end
    usage_error("option " .. name .. " expects true or false, got '" .. raw .. "'")
  end
  local n = cli.guess(raw)
  if type(n) ~= "number" then
    usage_error("option " .. name .. " expects a" .. (d.type == "integer" and "n " or " ")
                .. d.type .. ", got '" .. raw .. "'")
  end
  if d.type == "integer" then
    local i = math.tointeger(n)
    if i == nil then
      local hint = d.default ~= nil and ("; its default " .. tostring(d.default)
        .. " is an integer: write it as " .. tostring(d.default) .. ".0 in the script to "
        .. "accept any number") or ""
      usage_error("option " .. name .. " expects an integer, got '" .. raw .. "'" .. hint)
    end
    return i
  end
  return n + 0.0
end

local function show_default(d)
  if d.default == nil then return "" end
  if d.type == "string" then return string.format("%q", d.default) end
  return tostring(d.default)
end

--- The help text of declared options (what --help prints).
function cli.help_text(defaults, spec)
  spec = spec or {}
  local script = spec.script or current_script or (_G.arg and _G.arg[0]) or "script.lua"
  local lines = {}
  lines[#lines + 1] = spec.usage or ("usage: sgen run " .. script .. " [--option=value ...]"
                                     .. (spec.positional and (" " .. spec.positional) or ""))
  if spec.help then
    lines[#lines + 1] = ""
    lines[#lines + 1] = spec.help
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "options:"
  local keys = {}
  for k in pairs(defaults) do keys[#keys + 1] = k end
  table.sort(keys)
  local rows = {}
  local width = 0
  for _, k in ipairs(keys) do
    local d = declaration(k, defaults[k])
    local left
    if d.type == "boolean" then
      left = "--[no-]" .. dashed(k):sub(3)
    else
      left = dashed(k) .. "=" .. d.type:upper()
    end
    local right = {}
    if d.help then right[#right + 1] = d.help end
    local tail = d.type
    if d.default ~= nil then tail = tail .. ", default " .. show_default(d) end
    right[#right + 1] = "(" .. tail .. ")"
    rows[#rows + 1] = {left, table.concat(right, " ")}
    width = math.max(width, #left)
  end
  rows[#rows + 1] = {"--help", "show this help and exit"}
  width = math.max(width, 6)
  for _, r in ipairs(rows) do
    lines[#lines + 1] = "  " .. r[1] .. string.rep(" ", width - #r[1] + 2) .. r[2]
  end
  return table.concat(lines, "\n") .. "\n"
end

--- Declares a script's options and returns them merged with the command
-- line: `defaults` maps names to default values (their types are the
-- options' types; an integer default takes integers only) or to
-- declarations {type = "number"|"integer"|"boolean"|"string", default =,
-- help = "..."}. spec: {help = "text for --help", usage = "usage line",
-- positional = "FILES...", args = {raw argument strings} (default: those
-- given to `sgen run`, or the global `arg` under plain lua)}.
-- Unknown options, badly typed values and bare/negated forms of the wrong
-- kind raise "sgen: ..." errors (`sgen run` prints them without a traceback
-- and exits with status 2); --help prints cli.help_text and exits 0.
-- Returns the options and, second, the set of option names given on the
-- command line (so presets can fill in only the others).
function cli.options(defaults, spec)
  if type(defaults) ~= "table" then
    error("sgen.cli.options: argument 1 (defaults) expected a table, got " .. type(defaults), 2)
  end
  if spec ~= nil and type(spec) ~= "table" then
    error("sgen.cli.options: argument 2 (spec) expected a table, got " .. type(spec), 2)
  end
  spec = spec or {}
  for k in pairs(spec) do
    if k ~= "help" and k ~= "usage" and k ~= "positional" and k ~= "args" and k ~= "script" then
      error("sgen.cli.options: unknown field '" .. tostring(k)
            .. "' in argument 2 (expected help, usage, positional, args, script)", 2)
    end
  end
  local decl, names = {}, {}
  for k, v in pairs(defaults) do
    local d = declaration(k, v)
    d.key = k -- the name as the script wrote it (the key of the result)
    local norm = normalize(k)
    if decl[norm] ~= nil then
      error("sgen.cli.options: options '" .. decl[norm].key .. "' and '" .. k
            .. "' have the same command-line name " .. dashed(norm), 2)
    end
    decl[norm] = d
    names[#names + 1] = norm
  end
  table.sort(names)

  local args = spec.args or current_args
  if args == nil then
    args = {}
    if type(_G.arg) == "table" then
      for i = 1, #_G.arg do args[i] = _G.arg[i] end
    end
  end
  local _, _, entries = cli.parse(args)

  if decl.help == nil then
    for _, e in ipairs(entries) do
      if e.key == "help" then
        io.stdout:write(cli.help_text(defaults, spec))
        io.stdout:flush()
        os.exit(0)
      end
    end
  end

  local result, given = {}, {}
  for _, d in pairs(decl) do result[d.key] = d.default end
  for _, e in ipairs(entries) do
    local key = e.key
    local d = decl[key]
    if d == nil and e.negated and decl[key:sub(4)] ~= nil then
      key = key:sub(4)
      d = decl[key]
    elseif d ~= nil and e.negated then
      -- an option literally called no_something: --no-something sets it true
      e = {key = key, negated = false, text = e.text}
    end
    if d == nil then
      local base = e.negated and key:sub(4) or key
      local valid = {}
      for i, n in ipairs(names) do valid[i] = dashed(n) end
      valid[#valid + 1] = "--help"
      local as_typed = e.text:match("^([^=]*)")
      local msg = "unknown option " .. as_typed
      local s = cli.suggest(base, names)
      if s and e.negated then s = "--no-" .. dashed(s):sub(3)
      elseif s then s = dashed(s) end
      if s then msg = msg .. "; did you mean " .. s .. "?" end
      usage_error(msg .. " (valid options: " .. table.concat(valid, ", ") .. ")")
    end
    result[d.key] = convert(key, d, e)
    given[d.key] = true
  end
  if current_args ~= nil and spec.args == nil then
    _G.opts = result
    raw_opts = nil -- declared: cli.options has checked every option itself
  end
  return result, given
end

-- ---- REPL value printing ----

local function is_identifier(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil
end

local function tensor_summary(v)
  local ok, s = pcall(function()
    local shape = v:shape()
    local dims = {}
    for i, d in ipairs(shape) do dims[i] = tostring(d) end
    return "tensor(" .. (#dims > 0 and table.concat(dims, "x") or "scalar") .. ", "
           .. v:dtype() .. ", " .. v:device() .. ")"
  end)
  return ok and s or tostring(v)
end

local function repr(v, depth, seen, top)
  local t = type(v)
  if t == "string" then
    return top and v or string.format("%q", v)
  elseif t == "table" then
    local mt = getmetatable(v)
    if mt ~= nil and mt.__tostring ~= nil then return tostring(v) end
    if seen[v] then return "<cycle>" end
    if depth > 3 then return "{...}" end
    seen[v] = true
    local parts, count, limit = {}, 0, 50
    local n = #v
    for i = 1, n do
      count = count + 1
      if count > limit then break end
      parts[#parts + 1] = repr(v[i], depth + 1, seen, false)
    end
    local keys = {}
    for k in pairs(v) do
      if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
    end
    table.sort(keys, function(a, b)
      local ta, tb = type(a), type(b)
      if ta ~= tb then return ta < tb end
      if ta == "number" or ta == "string" then return a < b end
      return tostring(a) < tostring(b)
    end)
    for _, k in ipairs(keys) do
      count = count + 1
      if count > limit then break end
      local ks = is_identifier(k) and k or ("[" .. repr(k, depth + 1, seen, false) .. "]")
      parts[#parts + 1] = ks .. " = " .. repr(v[k], depth + 1, seen, false)
    end
    seen[v] = nil
    local total = n + #keys
    if total > limit then parts[#parts + 1] = "... (" .. total .. " entries)" end
    return "{" .. table.concat(parts, ", ") .. "}"
  elseif t == "userdata" then
    local mt = getmetatable(v)
    if not top and type(mt) == "table" and mt.__name == "sgen.Tensor" then
      return tensor_summary(v)
    end
    return tostring(v)
  else
    return tostring(v)
  end
end

--- How the REPL shows a value: tensors and objects with __tostring as
-- tostring shows them, tables as {1, 2, key = "v"} (nested tensors
-- summarized as tensor(2x3, float32, cpu)), strings at the top level raw.
function cli.repr(v)
  return repr(v, 1, {}, true)
end

-- The REPL's line for the values of an expression (tab-separated).
-- The REPL's rewrite of a chunk's first line, as Torch7's trepl: top-level
-- `local x = ...`, `local a, b = ...`, `local x` and `local function f` become
-- globals, since every chunk typed at the prompt is its own scope. Locals
-- with attributes (<const>, <close>) are left alone. Returns the new line, or
-- nil when there is nothing to rewrite.
function cli._repl_rewrite(line)
  if type(line) ~= "string" then return nil end
  local lead, rest = line:match("^(%s*)local%s+(.*)$")
  if not lead then return nil end
  if rest:match("^function[%s(]") then return lead .. rest end
  local names, after = rest:match("^([%a_][%w_]*%s*[,%w_%s]-)%s*(=.*)$")
  if names == nil then
    names = rest:match("^([%a_][%w_]*[,%w_%s]*)%s*;?%s*$")
    if names == nil then return nil end
    after = "= nil"
  end
  if after:match("^==") then return nil end
  -- a plain list of names: x, y
  local list = {}
  for part in (names .. ","):gmatch("([^,]*),") do
    local n = part:match("^%s*([%a_][%w_]*)%s*$")
    if not n then return nil end
    list[#list + 1] = n
  end
  return lead .. table.concat(list, ", ") .. " " .. after
end

function cli._repl_format(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do
    parts[i] = cli.repr((select(i, ...)))
  end
  return table.concat(parts, "\t")
end

return cli
