-- Optimizer state <-> safetensors: flatten_state turns a state_dict into
-- {name = tensor} plus string metadata for sg.save; unflatten_state turns
-- what sg.load returns back into a state_dict for opt:load_state_dict.
--
-- Layout (prefix defaults to "optim."):
--   tensors   <prefix>state.<i>.<key>   e.g. optim.state.1.exp_avg
--   metadata  <prefix>format         "sgen.optim.state/1"
--             <prefix>param_groups   JSON list of the groups (options and the
--                                    parameter numbers 1, 2, ...)
--             <prefix>state          JSON {"<i>": {"step": 10, ...}}: the
--                                    non-tensor entries of each state
-- so an optimizer's state can share a file with a model's weights.
local Optimizer = require "sgen.optim.optimizer"

local check = require "sgen.util.check"
local fail, typename, is_tensor = Optimizer.fail, Optimizer.typename, Optimizer.is_tensor

local FORMAT = "sgen.optim.state/1"

local M = {}

-- ---- a small JSON encoder / decoder for plain values ----

local function encode_number(x, path, fname)
  if math.type(x) == "integer" then return string.format("%d", x) end
  if x ~= x or x == math.huge or x == -math.huge then
    fail(string.format("%s: %s is %s, which JSON metadata cannot hold", fname, path,
                       tostring(x)))
  end
  if x == math.floor(x) and math.abs(x) < 2^53 then return string.format("%.1f", x) end
  for _, f in ipairs({"%.15g", "%.16g", "%.17g"}) do
    local s = string.format(f, x)
    if tonumber(s) == x then return s end
  end
end

local ESC = {['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
             ["\r"] = "\\r", ["\t"] = "\\t"}

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESC[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function encode(v, path, fname, out)
  local t = type(v)
  if t == "number" then
    out[#out + 1] = encode_number(v, path, fname)
  elseif t == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif t == "string" then
    out[#out + 1] = encode_string(v)
  elseif t == "table" and not is_tensor(v) then
    if next(v) ~= nil and Optimizer.is_list(v) then
      out[#out + 1] = "["
      for i, x in ipairs(v) do
        if i > 1 then out[#out + 1] = "," end
        encode(x, string.format("%s[%d]", path, i), fname, out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do
        if type(k) ~= "string" and math.type(k) ~= "integer" then
          fail(string.format("%s: %s has a %s key, which JSON metadata cannot hold", fname, path,
                             type(k)))
        end
        keys[#keys + 1] = tostring(k)
      end
      table.sort(keys)
      local orig = {}
      for k in pairs(v) do orig[tostring(k)] = k end
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = encode_string(k)
        out[#out + 1] = ":"
        encode(v[orig[k]], path .. "." .. k, fname, out)
      end
      out[#out + 1] = "}"
    end
  else
    fail(string.format("%s: %s is a %s, which JSON metadata cannot hold", fname, path,
                       typename(v)))
  end
end

function M.json_encode(v, path, fname)
  local out = {}
  encode(v, path or "value", fname or "sgen.optim.json_encode", out)
  return table.concat(out)
end

-- Decoder: returns the value or raises "<fname>: <what>: bad JSON at byte n".
function M.json_decode(s, what, fname)
  local pos = 1
  local function bad(msg)
    fail(string.format("%s: %s is not valid JSON (%s at byte %d)", fname, what, msg, pos))
  end
  local function ws()
    pos = s:find("[^ \t\r\n]", pos) or #s + 1
  end
  local value
  local function str()
    pos = pos + 1
    local parts = {}
    while true do
      local c = s:sub(pos, pos)
      if c == "" then bad("unterminated string") end
      if c == '"' then pos = pos + 1; break end
      if c == "\\" then
        local e = s:sub(pos + 1, pos + 1)
        local map = {['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
                     r = "\r", t = "\t"}
        if map[e] then
          parts[#parts + 1] = map[e]
          pos = pos + 2
        elseif e == "u" then
          local hex = s:sub(pos + 2, pos + 5)
          if not hex:match("^%x%x%x%x$") then bad("bad \\u escape") end
          parts[#parts + 1] = utf8.char(tonumber(hex, 16))
          pos = pos + 6
        else
          bad("bad escape")
        end
      else
        parts[#parts + 1] = c
        pos = pos + 1
      end
    end
    return table.concat(parts)
  end
  value = function(depth)
    if depth > 64 then bad("nested too deeply") end
    ws()
    local c = s:sub(pos, pos)
    if c == "{" then
      pos = pos + 1
      local t = {}
      ws()
      if s:sub(pos, pos) == "}" then pos = pos + 1; return t end
      while true do
        ws()
        if s:sub(pos, pos) ~= '"' then bad("expected a string key") end
        local k = str()
        ws()
        if s:sub(pos, pos) ~= ":" then bad("expected ':'") end
        pos = pos + 1
        t[k] = value(depth + 1)
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "}" then return t end
        if d ~= "," then pos = pos - 1; bad("expected ',' or '}'") end
      end
    elseif c == "[" then
      pos = pos + 1
      local t = {}
      ws()
      if s:sub(pos, pos) == "]" then pos = pos + 1; return t end
      while true do
        t[#t + 1] = value(depth + 1)
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "]" then return t end
        if d ~= "," then pos = pos - 1; bad("expected ',' or ']'") end
      end
    elseif c == '"' then
      return str()
    elseif s:sub(pos, pos + 3) == "true" then
      pos = pos + 4
      return true
    elseif s:sub(pos, pos + 4) == "false" then
      pos = pos + 5
      return false
    else
      local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      if not num or num == "" or num == "-" then bad("unexpected character") end
      local v = tonumber(num)
      if v == nil then bad("bad number") end
      if not num:find("[.eE]") then v = math.tointeger(v) or v end
      pos = pos + #num
      return v
    end
  end
  if type(s) ~= "string" then
    fail(string.format("%s: %s expected a string, got %s", fname, what, typename(s)))
  end
  local v = value(0)
  ws()
  if pos <= #s then bad("trailing characters") end
  return v
end

-- ---- flatten / unflatten ----

local function check_prefix(fname, opts)
  if opts == nil then return "optim." end
  if type(opts) ~= "table" or is_tensor(opts) then
    fail(string.format("%s: the options argument expected a table, got %s", fname,
                       typename(opts)))
  end
  check.options(opts, {"prefix"}, fname, 0)
  if opts.prefix == nil then return "optim." end
  if type(opts.prefix) ~= "string" then
    fail(string.format("%s: prefix must be a string, got %s", fname, typename(opts.prefix)))
  end
  return opts.prefix
end

local function check_sd(fname, sd)
  if type(sd) ~= "table" or is_tensor(sd) then
    fail(string.format("%s: argument 1 (state_dict) expected a table {state = ..., "
                       .. "param_groups = ...}, got %s", fname, typename(sd)))
  end
  if type(sd.param_groups) ~= "table" then
    fail(string.format("%s: state_dict.param_groups expected a list, got %s", fname,
                       typename(sd.param_groups)))
  end
  if sd.state ~= nil and type(sd.state) ~= "table" then
    fail(string.format("%s: state_dict.state expected a table, got %s", fname,
                       typename(sd.state)))
  end
end

-- optim.flatten_state(sd, {prefix = "optim."}) -> tensors, metadata
function M.flatten_state(sd, opts)
  local fname = "sgen.optim.flatten_state"
  local prefix = check_prefix(fname, opts)
  check_sd(fname, sd)
  local tensors, scalars = {}, {}
  for id, s in pairs(sd.state or {}) do
    if math.type(id) ~= "integer" then
      fail(string.format("%s: state_dict.state has the key %s, expected parameter numbers",
                         fname, tostring(id)))
    end
    if type(s) ~= "table" then
      fail(string.format("%s: state_dict.state[%d] expected a table, got %s", fname, id,
                         typename(s)))
    end
    local plain = {}
    for k, v in pairs(s) do
      if type(k) ~= "string" then
        fail(string.format("%s: state_dict.state[%d] has a %s key, expected names", fname, id,
                           type(k)))
      end
      if is_tensor(v) then
        if v:is_freed() then
          fail(string.format("%s: state_dict.state[%d].%s is a freed tensor", fname, id, k))
        end
        tensors[string.format("%sstate.%d.%s", prefix, id, k)] = v
      else
        plain[k] = v
      end
    end
    scalars[tostring(id)] = plain
  end
  local metadata = {
    [prefix .. "format"] = FORMAT,
    [prefix .. "param_groups"] = M.json_encode(sd.param_groups, "state_dict.param_groups",
                                               fname),
    [prefix .. "state"] = M.json_encode(scalars, "state_dict.state", fname),
  }
  return tensors, metadata
end

-- optim.unflatten_state(tensors, metadata, {prefix = "optim."}) -> state_dict
-- Tensors whose names do not start with the prefix (a model's weights in the
-- same file) are ignored.
function M.unflatten_state(tensors, metadata, opts)
  local fname = "sgen.optim.unflatten_state"
  local prefix = check_prefix(fname, opts)
  if type(tensors) ~= "table" or is_tensor(tensors) then
    fail(string.format("%s: argument 1 (tensors) expected a table {name = tensor}, got %s",
                       fname, typename(tensors)))
  end
  if type(metadata) ~= "table" then
    fail(string.format("%s: argument 2 (metadata) expected a table {key = \"value\"}, got %s",
                       fname, typename(metadata)))
  end
  local fmt = metadata[prefix .. "format"]
  if fmt == nil then
    fail(string.format("%s: metadata has no '%sformat' (not an optimizer state, or saved "
                       .. "with another prefix)", fname, prefix))
  end
  if fmt ~= FORMAT then
    fail(string.format("%s: metadata '%sformat' is '%s', expected '%s'", fname, prefix,
                       tostring(fmt), FORMAT))
  end
  local groups = M.json_decode(metadata[prefix .. "param_groups"],
                               "metadata '" .. prefix .. "param_groups'", fname)
  if type(groups) ~= "table" or not Optimizer.is_list(groups) then
    fail(string.format("%s: metadata '%sparam_groups' is not a list of groups", fname, prefix))
  end
  local plain = M.json_decode(metadata[prefix .. "state"] or "{}",
                              "metadata '" .. prefix .. "state'", fname)
  if type(plain) ~= "table" then
    fail(string.format("%s: metadata '%sstate' is not an object", fname, prefix))
  end
  local state = {}
  for k, s in pairs(plain) do
    local id = math.tointeger(tonumber(k))
    if id == nil or type(s) ~= "table" then
      fail(string.format("%s: metadata '%sstate' has a bad entry '%s'", fname, prefix,
                         tostring(k)))
    end
    state[id] = s
  end
  local head = prefix .. "state."
  for name, t in pairs(tensors) do
    if type(name) == "string" and name:sub(1, #head) == head then
      local id, key = name:sub(#head + 1):match("^(%d+)%.(.+)$")
      id = id and math.tointeger(tonumber(id))
      if not id then
        fail(string.format("%s: tensor name '%s' does not read <prefix>state.<number>.<key>",
                           fname, name))
      end
      if not is_tensor(t) then
        fail(string.format("%s: entry '%s' is a %s, expected a tensor", fname, name,
                           typename(t)))
      end
      state[id] = state[id] or {}
      state[id][key] = t
    end
  end
  return {state = state, param_groups = groups}
end

return M
