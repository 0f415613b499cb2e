-- sgen.io: sg.save / sg.load of whole training states in one call.
--
--   sg.save(path, {G = G, D = D, optG = optG, rng = sg.get_rng_state(), step = 1200})
--   sg.load(path, into)      -- restores G, D, optG in place, into.step, the random stream
--
-- A table whose values are all tensors is written as it always was (sgen.core.save),
-- and a file without the layout below loads as it always did ({name = tensor},
-- metadata). A table holding a module, an optimizer or another object with
-- state_dict / load_state_dict (a scheduler, a DataLoader), or any table saved
-- with {checkpoint = true}, is written in this layout, still a plain safetensors
-- file (the tensor and metadata machinery of sg.train's checkpoints):
--
--   tensors   <name>                 a tensor entry
--             <name>.<key>           a module's state_dict (G.fc.weight)
--             <name>.state.<i>.<key> an optimizer's state (optG.state.3.exp_avg;
--                                    sg.optim.flatten_state with prefix "<name>.")
--   metadata  sgen.format            "sgen.save/1"
--             sgen.entries           JSON {name: kind}, kind one of tensor, module,
--                                    optimizer, state, rng, value
--             <name>                 JSON of a plain value, an RNG state or the
--                                    state_dict of a "state" object
--             <name>.format / .param_groups / .state   an optimizer's (flatten_state)
-- Entry names are non-empty strings without '.'.
local core = require "sgen.core"
-- loaded on first use: `require "sgen"` stays fast and free of cycles
local state_io = setmetatable({}, {__index = function(t, k)
  local m = require "sgen.optim.state_io"
  setmetatable(t, {__index = m})
  return m[k]
end})

local FORMAT = "sgen.save/1"

local M = {FORMAT = FORMAT}

local function fail(fname, fmt, ...)
  error("sgen." .. fname .. ": " .. string.format(fmt, ...), 0)
end

-- Calls sgen.core.save / load so that their errors read as before this
-- wrapper: the position is that of the user's call (`level` counts from
-- this function to the caller of M.save / M.load; no tail calls on the way).
local function call_core(level, f, ...)
  local r = table.pack(pcall(f, ...))
  if r[1] then return table.unpack(r, 2, r.n) end
  local msg = r[2]
  if type(msg) == "string" then msg = msg:gsub("^[^\n]-io%.lua:%d+: ", "", 1) end
  error(msg, level)
end

local check = require "sgen.util.check"
local is_tensor = check.is_tensor

local function is_module(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__is_module == true
end

local function is_optimizer(v)
  return type(v) == "table" and getmetatable(v) ~= nil and type(rawget(v, "param_groups")) == "table"
    and type(v.state_dict) == "function" and type(v.load_state_dict) == "function"
end

-- a scheduler, a DataLoader: an object (with a metatable) whose state is plain values
local function is_stateful(v)
  return type(v) == "table" and getmetatable(v) ~= nil and not is_module(v) and not is_optimizer(v)
    and type(v.state_dict) == "function" and type(v.load_state_dict) == "function"
end

-- what sg.get_rng_state() returns: exactly {seed =, offset =}, integers
local function is_rng_state(v)
  if type(v) ~= "table" or getmetatable(v) ~= nil then return false end
  if math.type(v.seed) ~= "integer" or math.type(v.offset) ~= "integer" then return false end
  for k in pairs(v) do
    if k ~= "seed" and k ~= "offset" then return false end
  end
  return true
end

local function typename(v)
  if is_tensor(v) then return "tensor" end
  if is_module(v) then return "module" end
  if is_optimizer(v) then return "optimizer" end
  return type(v)
end

local function kind_of(v)
  if is_tensor(v) then return "tensor" end
  if is_module(v) then return "module" end
  if is_optimizer(v) then return "optimizer" end
  if is_stateful(v) then return "state" end
  if is_rng_state(v) then return "rng" end
  local t = type(v)
  if t == "number" or t == "string" or t == "boolean" or (t == "table" and getmetatable(v) == nil) then
    return "value"
  end
  return nil
end

-- Does `obj` need the layout above (something besides tensors)?
local function has_objects(obj)
  for _, v in pairs(obj) do
    if is_module(v) or is_optimizer(v) or is_stateful(v) then return true end
  end
  return false
end

local sorted_names = require("sgen.util.tables").sorted_keys

-- ---- save ----

local function save_objects(path, obj, user_meta)
  local fname = "save"
  local tensors, meta, kinds = {}, {}, {}
  for name, v in pairs(obj) do
    if type(name) ~= "string" or name == "" then
      fail(fname, "argument 2 has a %s key, expected names (non-empty strings)",
           type(name) == "string" and "empty string" or type(name))
    end
    if name:find(".", 1, true) then
      fail(fname, "entry name '%s' contains '.', which separates the parts of the tensor "
           .. "names in the file (G.fc.weight): use another name", name)
    end
    local kind = kind_of(v)
    if kind == nil then
      fail(fname, "entry '%s' is a %s, expected a tensor, a module, an optimizer, an object "
           .. "with state_dict() or a plain value (number, string, boolean, table of them)",
           name, typename(v))
    end
    kinds[name] = kind
    if kind == "tensor" then
      if v:is_freed() then fail(fname, "entry '%s' is a freed tensor", name) end
      tensors[name] = v
    elseif kind == "module" then
      for key, t in pairs(v:state_dict()) do tensors[name .. "." .. key] = t end
    elseif kind == "optimizer" then
      local ts, md = state_io.flatten_state(v:state_dict(), {prefix = name .. "."})
      for k, t in pairs(ts) do tensors[k] = t end
      for k, s in pairs(md) do meta[k] = s end
    else
      local value = kind == "state" and v:state_dict() or v
      local n_tensors, n_all = 0, 0
      if kind == "state" and type(value) == "table" then
        for _, x in pairs(value) do
          n_all = n_all + 1
          if is_tensor(x) then n_tensors = n_tensors + 1 end
        end
      end
      if n_tensors > 0 and n_tensors == n_all then
        -- a state_dict of tensors (sg.optim.EMA's): stored as a module's is
        for key, t in pairs(value) do tensors[name .. "." .. key] = t end
      elseif n_tensors > 0 then
        fail(fname, "entry '%s': its state_dict() mixes tensors and plain values, which the "
             .. "file cannot hold together", name)
      else
        meta[name] = state_io.json_encode(value, "entry '" .. name .. "'", "sgen.save")
      end
    end
  end
  meta["sgen.format"] = FORMAT
  meta["sgen.entries"] = state_io.json_encode(kinds, "entries", "sgen.save")
  for k, s in pairs(user_meta or {}) do
    if meta[k] ~= nil then
      fail(fname, "metadata key '%s' is used by the file's layout (an entry of that name, or "
           .. "sgen.format / sgen.entries): choose another key", tostring(k))
    end
    meta[k] = s
  end
  call_core(4, core.save, path, tensors, {metadata = meta})
end

local SAVE_KEYS = {"metadata", "checkpoint"}

--- sg.save(path, tensors | objects, [{metadata =, checkpoint =}])
function M.save(path, obj, opts, ...)
  local plain_opts = type(opts) == "table" and not is_tensor(opts)
  local checkpoint = nil
  if plain_opts then checkpoint = opts.checkpoint end
  if checkpoint ~= nil and type(checkpoint) ~= "boolean" then
    fail("save", "option 'checkpoint' expected a boolean, got %s", typename(checkpoint))
  end
  local objects = type(obj) == "table" and not is_tensor(obj) and not is_module(obj) and has_objects(obj)
  if is_module(obj) then
    fail("save", "argument 2 is a module: save a table naming it (sg.save(path, {net = net})) or "
         .. "its state_dict() (sg.save(path, net:state_dict()))")
  end
  if checkpoint == true or (checkpoint == nil and objects) then
    if type(path) ~= "string" or type(obj) ~= "table" or is_tensor(obj) then
      call_core(3, core.save, path, obj) -- its argument errors
      return
    end
    if opts ~= nil then
      if not plain_opts then fail("save", "argument 3 (options) expected a table, got %s", typename(opts)) end
      check.options(opts, SAVE_KEYS, "sgen.save", 0)
      if opts.metadata ~= nil and (type(opts.metadata) ~= "table" or is_tensor(opts.metadata)) then
        fail("save", "option 'metadata' expected a table {key = \"value\"}, got %s", typename(opts.metadata))
      end
    end
    if select("#", ...) > 0 then
      fail("save", "unexpected argument 4 (%s) after the options table", typename((...)))
    end
    save_objects(path, obj, opts and opts.metadata) -- not a tail call: see call_core
    return
  end
  if checkpoint == false then
    check.options(opts, SAVE_KEYS, "sgen.save", 0)
    opts = {metadata = opts.metadata}
  end
  call_core(3, core.save, path, obj, opts, ...)
end

-- ---- load ----

-- The entries of a file in the layout above, as plain Lua values:
-- tensors, state_dict tables of modules and optimizers, decoded values.
local function decode_entries(path, tensors, meta)
  local fname = "load"
  local function json(key)
    local ok, v = pcall(state_io.json_decode, meta[key], "metadata '" .. key .. "'", "sgen.load")
    if not ok then fail(fname, "'%s' is damaged: %s", path, tostring(v)) end
    return v
  end
  local kinds = json("sgen.entries")
  if type(kinds) ~= "table" then fail(fname, "'%s' is damaged: metadata 'sgen.entries' is not an object", path) end
  local out = {}
  for _, name in ipairs(sorted_names(kinds)) do
    local kind = kinds[name]
    if kind == "tensor" then
      if not is_tensor(tensors[name]) then
        fail(fname, "'%s' is damaged: it lists the tensor '%s' but does not hold it", path, name)
      end
      out[name] = tensors[name]
    elseif kind == "module" then
      local head, sd = name .. ".", {}
      for k, t in pairs(tensors) do
        if k:sub(1, #head) == head then sd[k:sub(#head + 1)] = t end
      end
      out[name] = sd
    elseif kind == "optimizer" then
      local ok, sd = pcall(state_io.unflatten_state, tensors, meta, {prefix = name .. "."})
      if not ok then fail(fname, "'%s' is damaged: optimizer '%s': %s", path, name, tostring(sd)) end
      out[name] = sd
    elseif kind == "state" and meta[name] == nil then
      -- a state_dict of tensors, stored as a module's
      local head, sd, n = name .. ".", {}, 0
      for k, t in pairs(tensors) do
        if k:sub(1, #head) == head then sd[k:sub(#head + 1)], n = t, n + 1 end
      end
      if n == 0 then
        fail(fname, "'%s' is damaged: it lists the entry '%s' but holds neither its metadata nor "
             .. "its tensors", path, name)
      end
      out[name] = sd
    elseif kind == "state" or kind == "rng" or kind == "value" then
      if meta[name] == nil then
        fail(fname, "'%s' is damaged: it lists the entry '%s' but has no metadata '%s'", path, name, name)
      end
      out[name] = json(name)
    else
      fail(fname, "'%s' is damaged: entry '%s' has the unknown kind '%s'", path, name, tostring(kind))
    end
  end
  return out, kinds
end

local shape_str = check.shape_str

-- Checks an optimizer's state_dict against an optimizer without changing it:
-- the group sizes and the shapes of the state tensors against the parameters.
local function optimizer_problem(opt, sd)
  local groups = opt.param_groups
  if #sd.param_groups ~= #groups then
    return string.format("the file has %d parameter groups, the optimizer %d", #sd.param_groups, #groups)
  end
  local byid = {}
  for gi, g in ipairs(sd.param_groups) do
    local ids = type(g) == "table" and g.params or {}
    if #ids ~= #groups[gi].params then
      return string.format("parameter group %d has %d parameters in the file, %d in the optimizer",
                           gi, #ids, #groups[gi].params)
    end
    for j, id in ipairs(ids) do byid[id] = groups[gi].params[j] end
  end
  local bad = {}
  for _, id in ipairs(sorted_names(sd.state)) do
    local p = byid[id]
    for _, key in ipairs(sorted_names(sd.state[id])) do
      local t = sd.state[id][key]
      if p ~= nil and is_tensor(t) and shape_str(t) ~= shape_str(p) then
        bad[#bad + 1] = string.format("parameter %d: state.%d.%s has shape %s, the parameter %s",
                                      id, id, key, shape_str(t), shape_str(p))
        break
      end
    end
  end
  if #bad > 0 then
    return "it holds other parameters (" .. table.concat(bad, "; ") .. ")"
  end
end

local function load_into(path, out, kinds, into)
  local fname = "load"
  local model_problems = require("sgen.train.checkpoint").model_problems
  local names = sorted_names(kinds)
  local function listed()
    return #names > 0 and table.concat(names, ", ") or "none"
  end
  -- check everything before anything changes
  for name, target in pairs(into) do
    local want = kind_of(target)
    if (want == "module" or want == "optimizer" or want == "state" or want == "tensor")
        and kinds[name] == nil then
      fail(fname, "'%s' has no entry '%s' to load the %s into (it has: %s)", path, tostring(name),
           want, listed())
    end
    local have = kinds[name]
    if have ~= nil then
      if (want == "module" or want == "optimizer" or want == "state" or want == "tensor")
          and have ~= want then
        fail(fname, "entry '%s' of '%s' is a %s, not a %s like into.%s", name, path, have, want, name)
      end
      if want == "module" then
        local problem = model_problems(name, target, out[name])
        if problem then
          fail(fname, "%s ('%s')", problem:gsub("^model '", "module '"):gsub("the checkpoint", "the file"), path)
        end
      elseif want == "optimizer" then
        local problem = optimizer_problem(target, out[name])
        if problem then fail(fname, "optimizer '%s' does not match '%s': %s", name, path, problem) end
      elseif want == "tensor" and shape_str(target) ~= shape_str(out[name]) then
        fail(fname, "tensor '%s' has shape %s in '%s', %s in into.%s", name, shape_str(out[name]),
             path, shape_str(target), name)
      end
    end
  end
  -- optimizers first: each checks its state_dict before changing; undo on failure
  local done = {}
  local function undo()
    for _, d in ipairs(done) do
      d.opt.state = d.state
      for gi, g in ipairs(d.opt.param_groups) do
        for k in pairs(g) do if k ~= "params" then g[k] = nil end end
        for k, v in pairs(d.groups[gi]) do g[k] = v end
      end
    end
  end
  for _, name in ipairs(names) do
    local target = into[name]
    if kinds[name] == "optimizer" and is_optimizer(target) then
      local snap = {opt = target, state = target.state, groups = {}}
      for gi, g in ipairs(target.param_groups) do
        local c = {}
        for k, v in pairs(g) do if k ~= "params" then c[k] = v end end
        snap.groups[gi] = c
      end
      local ok, err = pcall(target.load_state_dict, target, out[name])
      if not ok then
        undo()
        fail(fname, "optimizer '%s' does not match '%s': %s", name, path, tostring(err))
      end
      done[#done + 1] = snap
    end
  end
  for _, name in ipairs(names) do
    local kind, target = kinds[name], into[name]
    if kind == "module" and is_module(target) then
      target:load_state_dict(out[name])
    elseif kind == "tensor" and is_tensor(target) then
      core.no_grad(function() target:copy_(out[name]) end)
    elseif kind == "state" and is_stateful(target) then
      target:load_state_dict(out[name])
    elseif kind ~= "optimizer" or not is_optimizer(target) then
      into[name] = out[name]
      if kind == "rng" then core.set_rng_state(out[name]) end
    end
  end
  return into
end

--- sg.load(path, [into]) -> entries, metadata
function M.load(path, into, ...)
  if select("#", ...) > 0 then
    call_core(3, core.load, path, into, ...)
    return
  end
  if into == nil then
    local t, m = M.load_plain(path)
    return t, m
  end
  if type(into) ~= "table" or is_module(into) or is_optimizer(into) then
    fail("load", "argument 2 (into) expected a table {name = module, optimizer, tensor or "
         .. "value}, got %s", typename(into))
  end
  local tensors, meta = call_core(3, core.load, path)
  if meta["sgen.format"] == nil then
    fail("load", "'%s' holds plain tensors, not entries saved by sg.save of modules, optimizers "
         .. "and values (no metadata 'sgen.format'): load it without a second argument", path)
  end
  if meta["sgen.format"] ~= FORMAT then
    fail("load", "'%s' has the layout '%s', this sgen reads '%s'", path, tostring(meta["sgen.format"]), FORMAT)
  end
  local out, kinds = decode_entries(path, tensors, meta)
  return load_into(path, out, kinds, into), meta
end

-- sg.load(path): the plain entries of a file in the layout (see
-- decode_entries), else what sgen.core.load returns. Called by M.load only.
function M.load_plain(path)
  local tensors, meta = call_core(4, core.load, path)
  if meta["sgen.format"] == nil then return tensors, meta end
  if meta["sgen.format"] ~= FORMAT then
    fail("load", "'%s' has the layout '%s', this sgen reads '%s'", path, tostring(meta["sgen.format"]), FORMAT)
  end
  return (decode_entries(path, tensors, meta)), meta
end

return M
