-- sgen.util.check: the argument checks that the Lua library's functions
-- share, so that every module words an error the same way and raises it at
-- the user's line rather than inside the library.
--
--   local check = require "sgen.util.check"
--   check.is_tensor(v)        -- sgen.core.is_tensor (C): a live or freed tensor
--   check.typename(v)         -- "tensor" or Lua's type name
--   check.shape_str(t)        -- "2x3x4", "scalar"
--   opts = check.options(opts, {"stride", "padding"}, "sgen.nn.Conv2d")
--     -- nil -> {}; an unknown key raises
--     -- "sgen.nn.Conv2d: unknown option 'strid' (expected stride, padding)"
--   check.error(msg, level)   -- error(msg) at the user's line (level nil)
--
-- Levels: nil (the default) raises at the first caller outside sgen's Lua
-- library, however deep inside the library the check runs; a number is
-- error()'s level counted from the function that calls the check (0: no
-- position, which the modules whose messages never carried one keep).
--
-- The older checker object (messages prefixed with a module name):
--   local C = check.new("sgen.metrics.")
--   C.fail("fid", "%s has %d dims", name, n)        -- error "sgen.metrics.fid: ..." (level 0)
--   opts = C.check_opts("kid", opts, 3, {"subsets", "seed"})
--   local n = C.opt_int("kid", opts, "subsets", 100, 1)
--   local s = C.opt_number("ssim", opts, "sigma", 1.5, "positive")   -- or "nonnegative", or nil: any finite
local core = require "sgen.core"

local M = {}

M.is_tensor = core.is_tensor

-- "tensor" for a tensor, else Lua's type name.
function M.typename(v)
  if core.is_tensor(v) then return "tensor" end
  return type(v)
end

-- "2x3x4", or "scalar" for a 0-dim tensor.
function M.shape_str(t)
  local s = t:shape()
  if #s == 0 then return "scalar" end
  return table.concat(s, "x")
end

-- ---------------------------------------------------------------- error levels

-- "@/path/lua/sgen/": every file of the library has a chunk name below it
-- (the source tree and an installed share/lua/5.4/sgen alike).
local LIB = debug.getinfo(1, "S").source:match("^(@.*[/\\]sgen[/\\])util[/\\][^/\\]*$")

local function in_library(info)
  if info.what == "C" then return true end
  return LIB ~= nil and info.source:sub(1, #LIB) == LIB
end

-- error(msg) at `level` counted from the caller of check.error (1: that
-- caller, as error()'s own levels); nil: the first frame outside the library
-- (no position when there is none).
function M.error(msg, level)
  if level == 0 then error(msg, 0) end
  if level ~= nil then error(msg, level + 1) end
  local lv = 2 -- getinfo's levels seen from here, which error() shares: 1 is check.error
  while true do
    local info = debug.getinfo(lv, "S")
    if info == nil then error(msg, 0) end
    if not in_library(info) then error(msg, lv) end
    lv = lv + 1
  end
end

-- ---------------------------------------------------------------- options

local function expected_list(allowed)
  if allowed[1] ~= nil or next(allowed) == nil then return allowed end
  local names = {}
  for k in pairs(allowed) do names[#names + 1] = k end
  table.sort(names)
  return names
end

local function key_str(k)
  if type(k) == "string" then return k end
  return "(" .. type(k) .. " key " .. tostring(k) .. ")"
end

-- check.options(opts, allowed, fname[, level[, where]]) -> opts, or {} for nil.
-- allowed: a list of the option names (the message lists them in its order)
-- or a set {name = true} (listed sorted); a list may also hold names = true
-- that are accepted without being listed. The message names the first
-- unknown key in sorted order, so that it does not depend on pairs();
-- `where` (" in params[2]") follows the key. A value that is not a table
-- raises "fname: expected an options table, got number"; callers with
-- their own wording check the type first.
function M.options(opts, allowed, fname, level, where)
  if opts == nil then return {} end
  -- M.error counts from here: options' caller is one level further
  local lv = level and level > 0 and level + 1 or level
  if type(opts) ~= "table" or core.is_tensor(opts) then
    M.error(string.format("%s: expected an options table, got %s", fname, M.typename(opts)), lv)
  end
  local set = {}
  for k, v in pairs(allowed) do
    if math.type(k) == "integer" then set[v] = true else set[k] = true end
  end
  local bad
  for k in pairs(opts) do
    if not set[k] then
      local s = key_str(k)
      if bad == nil or s < bad then bad = s end
    end
  end
  if bad then
    M.error(string.format("%s: unknown option '%s'%s (expected %s)", fname, bad, where or "",
      next(allowed) == nil and "no options" or table.concat(expected_list(allowed), ", ")), lv)
  end
  return opts
end

-- ---------------------------------------------------------------- checker object

-- A checker whose messages start with prefix .. fname .. ": ".
function M.new(prefix)
  local C = {is_tensor = M.is_tensor, typename = M.typename, shape_str = M.shape_str}

  function C.fail(fname, fmt, ...)
    error(string.format(prefix .. fname .. ": " .. fmt, ...), 0)
  end

  -- opts: nil (-> {}) or a table holding only the allowed keys.
  function C.check_opts(fname, opts, idx, allowed)
    if opts ~= nil and type(opts) ~= "table" then
      C.fail(fname, "argument %d expected an options table, got %s", idx, M.typename(opts))
    end
    return M.options(opts, allowed, prefix .. fname, 0)
  end

  -- opts[key] as an integer >= min (def when absent).
  function C.opt_int(fname, opts, key, def, min)
    local v = opts[key]
    if v == nil then return def end
    if type(v) ~= "number" or v ~= math.floor(v) or v ~= v or v == math.huge then
      C.fail(fname, "option '%s' expected an integer, got %s", key,
        type(v) == "number" and tostring(v) or M.typename(v))
    end
    v = math.tointeger(v)
    if v < min then C.fail(fname, "option '%s' must be at least %d, got %d", key, min, v) end
    return v
  end

  -- opts[key] as a finite number (def when absent); bound "positive" or
  -- "nonnegative" restricts it further.
  function C.opt_number(fname, opts, key, def, bound)
    local v = opts[key]
    if v == nil then return def end
    if type(v) ~= "number" then
      C.fail(fname, "option '%s' expected a number, got %s", key, M.typename(v))
    end
    if v ~= v or v == math.huge or v == -math.huge then
      C.fail(fname, "option '%s' must be finite, got %s", key, tostring(v))
    end
    if bound == "positive" and v <= 0 then
      C.fail(fname, "option '%s' must be positive, got %s", key, tostring(v))
    elseif bound == "nonnegative" and v < 0 then
      C.fail(fname, "option '%s' must be non-negative, got %s", key, tostring(v))
    end
    return v
  end

  return C
end

return M
