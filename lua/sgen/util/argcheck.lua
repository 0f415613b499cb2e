-- sgen.util.argcheck: the argument checks that the Lua library's functions
-- share, with their messages ("sgen.metrics.fid: argument 1 (a) expected a
-- tensor, got string"), so every module words an error the same way.
--
--   local C = require("sgen.util.argcheck").new("sgen.metrics.")
--   C.fail("fid", "%s has %d dims", name, n)        -- error "sgen.metrics.fid: ..." (level 0)
--   opts = C.check_opts("kid", opts, 3, {"subsets", "seed"})
--   local n = C.opt_int("kid", opts, "subsets", 100, 1)
--   local s = C.opt_number("ssim", opts, "sigma", 1.5, "positive")   -- or "nonnegative", or nil: any finite
local core = require "sgen.core"

local M = {}

local TENSOR_MT
function M.is_tensor(v)
  if type(v) ~= "userdata" then return false end
  TENSOR_MT = TENSOR_MT or getmetatable(core.zeros(0))
  return getmetatable(v) == TENSOR_MT
end

-- "tensor" for a tensor, else Lua's type name.
function M.typename(v)
  if M.is_tensor(v) then return "tensor" end
  return type(v)
end

-- "2x3x4", or "scalar" for a 0-dim tensor.
function M.shape_str(t)
  local s = t:shape()
  if #s == 0 then return "scalar" end
  return table.concat(s, "x")
end

-- A checker whose messages start with prefix .. fname .. ": ".
function M.new(prefix)
  local C = {is_tensor = M.is_tensor, typename = M.typename, shape_str = M.shape_str}

  function C.fail(fname, fmt, ...)
    error(string.format(prefix .. fname .. ": " .. fmt, ...), 0)
  end

  -- opts: nil (-> {}) or a table holding only the allowed keys.
  function C.check_opts(fname, opts, idx, allowed)
    if opts == nil then return {} end
    if type(opts) ~= "table" then
      C.fail(fname, "argument %d expected an options table, got %s", idx, M.typename(opts))
    end
    local set = {}
    for _, k in ipairs(allowed) do set[k] = true end
    for k in pairs(opts) do
      if not set[k] then
        C.fail(fname, "unknown option '%s' (expected %s)", tostring(k), table.concat(allowed, ", "))
      end
    end
    return opts
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
