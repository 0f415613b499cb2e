-- sgen.util.json: JSON encode/decode (a thin layer over lua-dkjson) and
-- whole-file helpers for config.json / summary.json.
--
--   json.encode(value, {indent=false, keyorder={...}}) -> string
--   json.decode(string) -> value   (raises on malformed input, with the position
--                                   where dkjson knows it)
--   json.write(path, value, {indent=true})  atomic: temp file + rename
--   json.read(path) -> value
--
-- NaN and infinities have no JSON spelling: they are written as null.
-- Tensors (anything with :item()) are encoded as their value when they hold
-- one element, else as nested arrays (t:totable()).
-- An empty Lua table encodes as [] (use json.object() for {}); json.null is the
-- value decoded JSON null becomes (a sentinel, so arrays keep their length).
local dkjson = require "dkjson"

local M = {}
M.null = dkjson.null

-- An empty table that encodes as {} rather than [].
function M.object(t) return setmetatable(t or {}, {__jsontype = "object"}) end
-- A table that encodes as an array even when empty.
function M.array(t) return setmetatable(t or {}, {__jsontype = "array"}) end

local check = require "sgen.util.check"
local is_tensor = check.is_tensor

local function exception(reason, value, state, defaultmessage)
  if is_tensor(value) then
    local ok, r = pcall(function()
      if value:numel() == 1 then return dkjson.encode(value:item()) end
      return dkjson.encode(value:totable())
    end)
    if ok then return r end
  end
  return nil, defaultmessage
end

local ENCODE_KEYS = {"indent", "keyorder"}

function M.encode(value, opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error("sgen.util.json.encode: argument 2 (opts) expected an options table, got " .. type(opts), 2)
  end
  check.options(opts, ENCODE_KEYS, "sgen.util.json.encode")
  local ok, s = pcall(dkjson.encode, value,
    {indent = opts.indent or false, keyorder = opts.keyorder, exception = exception})
  if not ok or type(s) ~= "string" then
    error("sgen.util.json.encode: " .. tostring(s or "cannot encode value"), 2)
  end
  return s
end

-- dkjson's decoder reads "{" and "[" alike, taking `key: value` members and
-- plain values in either, so a damaged text such as {"a" true: 1} or
-- ["k": 1] decodes to a table JSON cannot hold (a boolean key, a string key
-- in an array), which json.encode then refuses (found by fuzz/fuzz_json).
-- Returns what is wrong with v, or nil.
local function mixed_members(v)
  if type(v) ~= "table" then return nil end
  local mt = getmetatable(v)
  local object = mt ~= nil and mt.__jsontype == "object"
  for k, x in pairs(v) do
    if object and type(k) ~= "string" then
      return "an object holds a value without a key"
    elseif not object and (math.type(k) ~= "integer" or k < 1) then
      return "an array holds a member with a key"
    end
    local bad = mixed_members(x)
    if bad then return bad end
  end
  return nil
end

function M.decode(s)
  if type(s) ~= "string" then
    error("sgen.util.json.decode: argument 1 (text) expected a string, got " .. type(s), 2)
  end
  local v, pos, err = dkjson.decode(s, 1, dkjson.null)
  if err then error("sgen.util.json.decode: " .. err, 2) end
  -- anything but whitespace after the value is an error
  if pos and s:find("%S", pos) then
    error("sgen.util.json.decode: unexpected text after the value at position " .. pos, 2)
  end
  local bad = mixed_members(v)
  if bad then error("sgen.util.json.decode: malformed JSON: " .. bad, 2) end
  return v
end

function M.write(path, value, opts)
  if type(path) ~= "string" then
    error("sgen.util.json.write: argument 1 (path) expected a string, got " .. type(path), 2)
  end
  opts = opts or {}
  local ok, s = pcall(M.encode, value, {indent = opts.indent ~= false, keyorder = opts.keyorder})
  if not ok then error((tostring(s):gsub("json%.encode", "json.write")), 2) end
  -- required here: reading JSON needs no sgen.core
  require("sgen.util.file").write(path, s .. "\n", "sgen.util.json.write", 2)
end

function M.read(path)
  if type(path) ~= "string" then
    error("sgen.util.json.read: argument 1 (path) expected a string, got " .. type(path), 2)
  end
  local f, err = io.open(path, "r")
  if not f then error("sgen.util.json.read: cannot open " .. path .. ": " .. tostring(err), 2) end
  local s = f:read("a")
  f:close()
  local ok, v = pcall(M.decode, s)
  if not ok then
    error("sgen.util.json.read: " .. path .. ": " .. tostring(v):gsub("^sgen%.util%.json%.decode: ", ""), 2)
  end
  return v
end

return M
