-- sgen.train.checkpoint: one-file checkpoints of a whole training state and
-- bit-identical resume.
--
--   local state = {models = {G = G, D = D}, optimizers = {optG = optG, optD = optD},
--                  loaders = {train = loader}, extra = function() return {best = best} end}
--   local ckpt = sg.train.Checkpointer(out .. "/checkpoints", {every = 500, keep = 2})
--   local start = 0
--   if opts.resume ~= "" then start = ckpt:load(opts.resume, state) end
--   ckpt:loop(start, opts.iters, state, function(it) ... one iteration ... end)
--
-- A state table names what a checkpoint holds (every field optional):
--   models      {name = nn.Module}: state_dict() (parameters and buffers)
--   optimizers  {name = optimizer}: state_dict() (tensors, step counters, groups)
--   schedulers  {name = lr scheduler}: state_dict() (plain values)
--   loaders     {name = DataLoader}: the position (epoch, batch in the epoch)
--   tensors     {name = tensor} or a function returning it: any other tensors
--   extra       a JSON-able table or a function returning it (counters, best
--               values, curves: numbers keep their exact bits)
-- and always the global random stream (sg.get_rng_state(), which also drives
-- the GPU: sgen has one counter-based stream for every device) and the step.
--
-- File: <dir>/step_<8 digits>.safetensors, written atomically (temp file,
-- fsync, rename, fsync of the directory: sg.save). Tensors are named
-- models.<name>.<key>, optimizers.<name>.state.<i>.<key> (optim.flatten_state)
-- and tensors.<name>; the metadata holds format = "sgen.checkpoint/1", step,
-- rng, loaders, schedulers, extra, the optimizers' groups and scalar state
-- (JSON), the names of the models / optimizers / tensors, and informative
-- time and sgen_version. <dir>/latest.json (replaced atomically after the
-- checkpoint is written) names the newest file and the kept ones.
local core = require "sgen.core"
local state_io = require "sgen.optim.state_io"

local FORMAT = "sgen.checkpoint/1"
local LATEST = "latest.json"

local M = {FORMAT = FORMAT}

local function fail(fname, fmt, ...)
  error("sgen.train." .. fname .. ": " .. string.format(fmt, ...), 0)
end

local check = require "sgen.util.check"
local is_tensor, typename = check.is_tensor, check.typename

local function enc(v, what, fname) return state_io.json_encode(v, what, "sgen.train." .. fname) end
local function dec(s, what, fname) return state_io.json_decode(s, what, "sgen.train." .. fname) end

-- ---- files ----

local function exists(path)
  local f = io.open(path, "rb")
  if not f then return false end
  f:close()
  return true
end

local function isdir(path)
  local f = io.open(path, "rb")
  if not f then return false end
  local _, _, code = f:read(1)
  f:close()
  return code == 21 -- EISDIR
end

local function join(dir, name)
  if dir:sub(-1) == "/" then return dir .. name end
  return dir .. "/" .. name
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function mkdir(dir, fname)
  if isdir(dir) then return end
  local ok = os.execute("mkdir -p " .. shell_quote(dir))
  if not ok or not isdir(dir) then fail(fname, "cannot create the directory '%s'", dir) end
end

local function read_text(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- latest.json -> {file =, step =, files = {...}} or nil (absent or unreadable)
local function read_latest(dir)
  local s = read_text(join(dir, LATEST))
  if not s then return nil end
  local ok, v = pcall(state_io.json_decode, s, LATEST, "latest")
  if not ok or type(v) ~= "table" or type(v.file) ~= "string" then return nil end
  if type(v.files) ~= "table" then v.files = {v.file} end
  return v
end

-- Written like sg.save (sg.core.write_file: temp file next to it, fsync, rename).
local function write_latest(dir, v, fname)
  local path = join(dir, LATEST)
  local ok, err = pcall(core.write_file, path, enc(v, "latest", fname) .. "\n")
  if not ok then fail(fname, "%s", (tostring(err):gsub("^sgen%.write_file: ", ""))) end
end

-- The checkpoint file that `path` designates: a file as it is; a directory
-- through its latest.json, or through checkpoints/latest.json below it (a
-- run's output directory). nil, reason when there is none.
function M.find(path)
  if type(path) ~= "string" or path == "" then
    return nil, "expected a path (a checkpoint file or directory), got " ..
      (type(path) == "string" and "an empty string" or typename(path))
  end
  if not exists(path) then return nil, string.format("'%s' does not exist", path) end
  if not isdir(path) then return path end
  for _, dir in ipairs({path, join(path, "checkpoints")}) do
    local latest = read_latest(dir)
    if latest then
      local file = join(dir, latest.file)
      if not exists(file) then
        return nil, string.format("'%s' names %s, which does not exist", join(dir, LATEST), latest.file)
      end
      return file
    end
  end
  return nil, string.format("no checkpoint in '%s' (no %s there or in %s)", path, LATEST,
    join(path, "checkpoints"))
end

-- ---- state tables ----

local STATE_KEYS = {models = true, optimizers = true, schedulers = true, loaders = true,
                    tensors = true, extra = true}

local function check_state(state, fname)
  if type(state) ~= "table" then
    fail(fname, "the state expected a table {models =, optimizers =, loaders =, extra = ...}, got %s",
         typename(state))
  end
  for k in pairs(state) do
    if not STATE_KEYS[k] then
      fail(fname, "unknown state field '%s' (expected models, optimizers, schedulers, loaders, "
           .. "tensors, extra)", tostring(k))
    end
  end
end

-- The sorted names of state[field] (a table {name = object}), checked.
local function names_of(state, field, fname, need)
  local t = state[field]
  if t == nil then return {} end
  if type(t) ~= "table" or is_tensor(t) then
    fail(fname, "state.%s expected a table {name = object}, got %s", field, typename(t))
  end
  local names = {}
  for name, obj in pairs(t) do
    if type(name) ~= "string" or name == "" or name:find(".", 1, true) then
      fail(fname, "state.%s: names must be non-empty strings without '.', got %s", field,
           type(name) == "string" and ("'" .. name .. "'") or type(name))
    end
    if type(obj) ~= "table" or type(obj[need]) ~= "function" then
      fail(fname, "state.%s.%s has no %s() (got %s)", field, name, need, typename(obj))
    end
    names[#names + 1] = name
  end
  table.sort(names)
  return names
end

-- state.tensors / state.extra: a value or a function returning it.
local function value_of(state, field)
  local v = state[field]
  if type(v) == "function" then v = v() end
  return v
end

local shape_str = check.shape_str

-- ---- save ----

-- save(path, step, state) writes one checkpoint file; returns path.
function M.save(path, step, state)
  local fname = "save_checkpoint"
  if type(path) ~= "string" or path == "" then
    fail(fname, "argument 1 (path) expected a file name, got %s", typename(path))
  end
  if math.type(step) ~= "integer" or step < 0 then
    fail(fname, "argument 2 (step) expected an integer >= 0, got %s", tostring(step))
  end
  check_state(state, fname)
  local tensors = {}
  local meta = {format = FORMAT, step = string.format("%d", step),
                time = os.date("!%Y-%m-%dT%H:%M:%SZ"), sgen_version = tostring(core.version)}

  local models = names_of(state, "models", fname, "state_dict")
  for _, name in ipairs(models) do
    for key, t in pairs(state.models[name]:state_dict()) do
      tensors["models." .. name .. "." .. key] = t
    end
  end
  meta.models = enc(models, "models", fname)

  local optimizers = names_of(state, "optimizers", fname, "state_dict")
  for _, name in ipairs(optimizers) do
    local ts, md = state_io.flatten_state(state.optimizers[name]:state_dict(),
      {prefix = "optimizers." .. name .. "."})
    for k, t in pairs(ts) do tensors[k] = t end
    for k, v in pairs(md) do meta[k] = v end
  end
  meta.optimizers = enc(optimizers, "optimizers", fname)

  local scheds = {}
  for _, name in ipairs(names_of(state, "schedulers", fname, "state_dict")) do
    scheds[name] = state.schedulers[name]:state_dict()
  end
  meta.schedulers = enc(scheds, "schedulers", fname)

  local loaders = {}
  for _, name in ipairs(names_of(state, "loaders", fname, "state_dict")) do
    loaders[name] = state.loaders[name]:state_dict()
  end
  meta.loaders = enc(loaders, "loaders", fname)

  local extra_t = value_of(state, "tensors")
  local tnames = {}
  if extra_t ~= nil then
    if type(extra_t) ~= "table" or is_tensor(extra_t) then
      fail(fname, "state.tensors expected a table {name = tensor} (or a function returning one), got %s",
           typename(extra_t))
    end
    for name, t in pairs(extra_t) do
      if type(name) ~= "string" or name == "" then
        fail(fname, "state.tensors: names must be non-empty strings, got %s", typename(name))
      end
      if not is_tensor(t) then fail(fname, "state.tensors.%s is a %s, expected a tensor", name, typename(t)) end
      tensors["tensors." .. name] = t
      tnames[#tnames + 1] = name
    end
    table.sort(tnames)
  end
  meta.tensors = enc(tnames, "tensors", fname)

  local extra = value_of(state, "extra")
  if extra ~= nil and type(extra) ~= "table" then
    fail(fname, "state.extra expected a JSON-able table (or a function returning one), got %s",
         typename(extra))
  end
  meta.extra = enc(extra or {}, "state.extra", fname)
  meta.rng = enc(core.get_rng_state(), "rng", fname)

  core.save(path, tensors, {metadata = meta})
  return path
end

-- ---- load ----

-- A message naming what differs between a model's state_dict and `saved`
-- (missing and unexpected keys, shapes), or nil; also used by sg.load.
local function model_problems(name, model, saved)
  local have = model:state_dict()
  local msgs, missing, unexpected = {}, {}, {}
  for key, t in pairs(have) do
    local v = saved[key]
    if v == nil then
      missing[#missing + 1] = key
    elseif shape_str(v) ~= shape_str(t) then
      msgs[#msgs + 1] = string.format("size mismatch for %s: the checkpoint has shape %s, the model %s",
        key, shape_str(v), shape_str(t))
    end
  end
  for key in pairs(saved) do
    if have[key] == nil then unexpected[#unexpected + 1] = key end
  end
  table.sort(missing)
  table.sort(unexpected)
  if #missing > 0 then table.insert(msgs, 1, "missing keys: " .. table.concat(missing, ", ")) end
  if #unexpected > 0 then msgs[#msgs + 1] = "unexpected keys: " .. table.concat(unexpected, ", ") end
  if #msgs > 0 then
    return string.format("model '%s' does not match the checkpoint: %s", name, table.concat(msgs, "; "))
  end
end

M.model_problems = model_problems

-- load(path, state) restores everything `state` names, in place, and the
-- random stream; path may be a file or a directory (see find). Returns
-- step, extra, tensors, file.
function M.load(path, state)
  local fname = "load_checkpoint"
  check_state(state or {}, fname)
  state = state or {}
  local file, why = M.find(path)
  if not file then fail(fname, "%s", why) end
  local ok, tensors, meta = pcall(core.load, file)
  if not ok then
    fail(fname, "cannot read the checkpoint '%s' (truncated or not a safetensors file?): %s", file,
         tostring(tensors))
  end
  if type(meta) ~= "table" or meta.format ~= FORMAT then
    fail(fname, "'%s' is not an sgen checkpoint (its metadata 'format' is %s, expected '%s')", file,
         meta and meta.format and ("'" .. tostring(meta.format) .. "'") or "absent", FORMAT)
  end
  local function field(key)
    local s = meta[key]
    if s == nil then fail(fname, "'%s' has no metadata '%s' (damaged checkpoint)", file, key) end
    return dec(s, "the metadata '" .. key .. "' of '" .. file .. "'", fname)
  end
  local step = math.tointeger(tonumber(meta.step or ""))
  if not step then fail(fname, "'%s' has no valid metadata 'step'", file) end

  -- check everything that can be checked before anything changes
  local saved_models = {}
  for _, n in ipairs(field("models")) do saved_models[n] = true end
  local model_sd = {}
  for _, name in ipairs(names_of(state, "models", fname, "load_state_dict")) do
    if not saved_models[name] then
      local list = {}
      for n in pairs(saved_models) do list[#list + 1] = n end
      table.sort(list)
      fail(fname, "'%s' has no model '%s' (it has: %s)", file, name,
           #list > 0 and table.concat(list, ", ") or "none")
    end
    local head = "models." .. name .. "."
    local sd = {}
    for k, t in pairs(tensors) do
      if k:sub(1, #head) == head then sd[k:sub(#head + 1)] = t end
    end
    local problem = model_problems(name, state.models[name], sd)
    if problem then fail(fname, "%s (%s)", problem, file) end
    model_sd[name] = sd
  end
  local saved_opts = {}
  for _, n in ipairs(field("optimizers")) do saved_opts[n] = true end
  local opt_sd = {}
  for _, name in ipairs(names_of(state, "optimizers", fname, "load_state_dict")) do
    if not saved_opts[name] then fail(fname, "'%s' has no optimizer '%s'", file, name) end
    opt_sd[name] = state_io.unflatten_state(tensors, meta, {prefix = "optimizers." .. name .. "."})
  end
  local scheds, loaders = field("schedulers"), field("loaders")
  for _, name in ipairs(names_of(state, "schedulers", fname, "load_state_dict")) do
    if scheds[name] == nil then fail(fname, "'%s' has no scheduler '%s'", file, name) end
  end
  for _, name in ipairs(names_of(state, "loaders", fname, "load_state_dict")) do
    if loaders[name] == nil then fail(fname, "'%s' has no loader '%s'", file, name) end
  end
  local extra = field("extra")
  local rng = field("rng")
  local saved_tensors = {}
  for _, n in ipairs(field("tensors")) do
    local t = tensors["tensors." .. n]
    if t == nil then fail(fname, "'%s' lists the tensor '%s' but does not hold it", file, n) end
    saved_tensors[n] = t
  end

  -- restore
  for name, sd in pairs(model_sd) do state.models[name]:load_state_dict(sd) end
  for name, sd in pairs(opt_sd) do
    local ok2, err = pcall(state.optimizers[name].load_state_dict, state.optimizers[name], sd)
    if not ok2 then fail(fname, "optimizer '%s': %s (%s)", name, tostring(err), file) end
  end
  for name, s in pairs(scheds) do
    if state.schedulers and state.schedulers[name] then state.schedulers[name]:load_state_dict(s) end
  end
  for name, s in pairs(loaders) do
    if state.loaders and state.loaders[name] then state.loaders[name]:load_state_dict(s) end
  end
  -- tensors: into state.tensors when it is a table, converted to the dtype
  -- and device of the tensor they replace
  if type(state.tensors) == "table" then
    for name, t in pairs(saved_tensors) do
      local old = state.tensors[name]
      if is_tensor(old) and (old:device() ~= t:device() or old:dtype() ~= t:dtype()) then
        t = t:to(old)
      end
      state.tensors[name] = t
    end
  end
  core.set_rng_state(rng)
  return step, extra, saved_tensors, file
end

-- ---- Checkpointer ----

local Checkpointer = {}
Checkpointer.__index = Checkpointer
Checkpointer.__name = "sgen.train.Checkpointer"

local CKPT_KEYS = {"every", "keep"}

-- Checkpointer(dir, {every = 0, keep = 2}): checkpoints in dir (created at
-- the first save); every N steps with maybe_save / loop (0: only the final
-- one and on Ctrl-C); keep the newest `keep` files (0: all).
function M.Checkpointer(dir, opts)
  local fname = "Checkpointer"
  if type(dir) ~= "string" or dir == "" then
    fail(fname, "argument 1 (dir) expected a directory name, got %s", typename(dir))
  end
  opts = opts or {}
  if type(opts) ~= "table" then fail(fname, "argument 2 (opts) expected a table, got %s", typename(opts)) end
  check.options(opts, CKPT_KEYS, "sgen.train." .. fname, 0)
  local every, keep = opts.every or 0, opts.keep or 2
  if math.type(every) ~= "integer" or every < 0 then
    fail(fname, "option every expected an integer >= 0, got %s", tostring(opts.every))
  end
  if math.type(keep) ~= "integer" or keep < 0 then
    fail(fname, "option keep expected an integer >= 0, got %s", tostring(opts.keep))
  end
  return setmetatable({dir = dir, every = every, keep = keep, last_step = nil}, Checkpointer)
end

function Checkpointer:path(step)
  return join(self.dir, string.format("step_%08d.safetensors", step))
end

-- ckpt:save(step, state) -> path: writes the checkpoint, then latest.json,
-- then removes the files beyond `keep` (oldest first).
function Checkpointer:save(step, state)
  mkdir(self.dir, "Checkpointer:save")
  local path = M.save(self:path(step), step, state)
  local base = path:match("[^/]*$")
  local latest = read_latest(self.dir)
  local files = {}
  for _, f in ipairs(latest and latest.files or {}) do
    if f ~= base and exists(join(self.dir, f)) then files[#files + 1] = f end
  end
  files[#files + 1] = base
  local drop = {}
  if self.keep > 0 then
    while #files > self.keep do drop[#drop + 1] = table.remove(files, 1) end
  end
  write_latest(self.dir, {file = base, step = step, files = files}, "Checkpointer:save")
  for _, f in ipairs(drop) do os.remove(join(self.dir, f)) end
  self.last_step = step
  return path
end

-- ckpt:maybe_save(step, state) -> path or nil: saves when `every` divides step.
function Checkpointer:maybe_save(step, state)
  if self.every > 0 and step % self.every == 0 then return self:save(step, state) end
  return nil
end

-- ckpt:load(path_or_dir, state) -> step, extra, tensors, file (see M.load).
function Checkpointer:load(path, state)
  return M.load(path, state)
end

-- ckpt:latest() -> the newest checkpoint file in dir, or nil.
function Checkpointer:latest()
  return (M.find(self.dir))
end

local function with_traceback(e)
  if type(e) == "string" and not e:find("\nstack traceback:\n", 1, true) then
    return core.traceback(e, 2) -- sgen's names (sgen.add, not sgen.core.add), as `sgen run` prints
  end
  return e
end

-- ckpt:loop(start, stop, state, body): runs body(it) for it = start + 1 ..
-- stop, saving every `every` steps and at stop. Ctrl-C (under `sgen run`)
-- lets the current iteration finish, saves a checkpoint of that step and
-- raises "interrupted!" (the process then ends by SIGINT, status 130).
function Checkpointer:loop(start, stop, state, body)
  local fname = "Checkpointer:loop"
  if math.type(start) ~= "integer" or start < 0 then
    fail(fname, "argument 1 (start) expected an integer >= 0, got %s", tostring(start))
  end
  if math.type(stop) ~= "integer" then
    fail(fname, "argument 2 (stop) expected an integer, got %s", tostring(stop))
  end
  check_state(state, fname)
  if type(body) ~= "function" then fail(fname, "argument 4 (body) expected a function, got %s", typename(body)) end
  local saved
  local function stopped(it)
    local path = self:save(it, state)
    error(string.format("interrupted! (checkpoint of step %d: %s)", it, path), 0)
  end
  local prev = core.defer_interrupt(true)
  local ok, err = xpcall(function()
    if core.interrupted() then stopped(start) end
    for it = start + 1, stop do
      body(it)
      if core.interrupted() then stopped(it) end
      if self:maybe_save(it, state) then saved = it end
    end
    if stop > start and saved ~= stop then self:save(stop, state) end
    if core.interrupted() then error("interrupted! (after the last step)", 0) end
  end, with_traceback)
  core.defer_interrupt(prev)
  if not ok then error(err, 0) end
end

return M
