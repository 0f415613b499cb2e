-- Internal helpers shared by the sgen.nn files: type tests, argument and
-- option checking with PyTorch-like messages, Python-style formatting for
-- __tostring. Not part of the public API.
local sg = require "sgen"

local U = {}

local check = require "sgen.util.check"

U.is_tensor = check.is_tensor

function U.is_module(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__is_module == true
end

U.shape_str = check.shape_str

function U.fail(name, fmt, ...)
  error("sgen.nn." .. name .. ": " .. string.format(fmt, ...), 0)
end

function U.typename(v)
  if U.is_tensor(v) then return "tensor" end
  if U.is_module(v) then return "module" end
  return type(v)
end

-- The options table of a constructor (nil -> {}); unknown keys raise
-- check.options' message, named "sgen.nn.<name>", without a position as
-- every sgen.nn message.
function U.opts(name, o, allowed)
  if o == nil then return {} end
  if type(o) ~= "table" or U.is_tensor(o) or U.is_module(o) then
    U.fail(name, "expected an options table, got %s", U.typename(o))
  end
  return check.options(o, allowed, "sgen.nn." .. name, 0)
end

local function is_int(v) return math.type(v) == "integer" or (type(v) == "number" and v == math.floor(v) and v == v and v ~= math.huge and v ~= -math.huge) end
U.is_int = is_int

-- A positive (min = 1) or non-negative (min = 0) integer argument.
function U.int(name, what, v, min)
  if not is_int(v) or v < (min or 1) then
    U.fail(name, "%s must be an integer >= %d, got %s", what, min or 1,
      type(v) == "number" and tostring(v) or U.typename(v))
  end
  return math.tointeger(v)
end

function U.num(name, what, v, lo)
  if type(v) ~= "number" or v ~= v or (lo and v < lo) then
    U.fail(name, "%s must be a number%s, got %s", what, lo and (" >= " .. tostring(lo)) or "",
      type(v) == "number" and tostring(v) or U.typename(v))
  end
  return v
end

function U.bool(name, what, v)
  if type(v) ~= "boolean" then U.fail(name, "%s must be a boolean, got %s", what, U.typename(v)) end
  return v
end

-- An integer or a pair {h, w} -> {h, w}.
function U.pair(name, what, v, min)
  if type(v) == "table" and not U.is_tensor(v) then
    if #v ~= 2 or not is_int(v[1]) or not is_int(v[2]) or v[1] < min or v[2] < min then
      U.fail(name, "%s must be an integer >= %d or a pair {h, w} of them", what, min)
    end
    return {math.tointeger(v[1]), math.tointeger(v[2])}
  end
  if not is_int(v) or v < min then
    U.fail(name, "%s must be an integer >= %d or a pair {h, w} of them, got %s", what, min,
      type(v) == "number" and tostring(v) or U.typename(v))
  end
  v = math.tointeger(v)
  return {v, v}
end

-- Python repr of a float: shortest digits that read back, exponent form
-- below 1e-4 or from 1e16 ("1e-05", "0.1", "2.0").
function U.pyfloat(x)
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" end
  if x == -math.huge then return "-inf" end
  if x == 0 then return (1 / x < 0) and "-0.0" or "0.0" end
  local s
  for p = 1, 17 do
    s = string.format("%." .. (p - 1) .. "e", x)
    if tonumber(s) == x then break end
  end
  local sign, d1, rest, e = s:match("^(-?)(%d)%.?(%d*)e([-+]%d+)$")
  e = tonumber(e)
  local digits = (d1 .. rest):gsub("0+$", "")
  if digits == "" then digits = "0" end
  if e < -4 or e >= 16 then
    local m = digits:sub(1, 1)
    if #digits > 1 then m = m .. "." .. digits:sub(2) end
    return string.format("%s%se%s%02d", sign, m, e < 0 and "-" or "+", math.abs(e))
  end
  local out
  if e < 0 then
    out = "0." .. string.rep("0", -e - 1) .. digits
  elseif #digits <= e + 1 then
    out = digits .. string.rep("0", e + 1 - #digits) .. ".0"
  else
    out = digits:sub(1, e + 1) .. "." .. digits:sub(e + 2)
  end
  return sign .. out
end

-- Python repr of a value as PyTorch's extra_repr shows it: integers, floats
-- ("0.1"), booleans ("True"), false/nil as None where asked, tuples "(3, 3)".
function U.py(v)
  if v == nil then return "None" end
  if type(v) == "boolean" then return v and "True" or "False" end
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then return U.pyfloat(v) end
  if type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = U.py(x) end
    if #parts == 1 then return "(" .. parts[1] .. ",)" end
    return "(" .. table.concat(parts, ", ") .. ")"
  end
  return tostring(v)
end

-- Runs f with gradient recording off when the binding exists (in-place
-- copy_/fill_ are never recorded anyway).
function U.no_grad(f)
  local ng = sg.no_grad
  if ng then
    local r
    ng(function() r = f() end)
    return r
  end
  return f()
end

return U
