-- Base class of sgen's optimizers: PyTorch's torch.optim.Optimizer.
--
-- An optimizer holds `param_groups` (a list of tables {params = {tensors},
-- lr = ..., ...}: edit `opt.param_groups[i].lr` to change a learning rate, as
-- the schedulers do) and `state` (per-parameter tables keyed by the parameter
-- tensor). Subclasses are made with Optimizer.define (see sgd.lua) and give:
--   name      "SGD"
--   keys      the option names in order (messages list them in this order)
--   defaults  {key = default}; Optimizer.REQUIRED for a required option
--   validate(fname, group, where)  raises on bad hyperparameters; `where` is
--             "" or a prefix like "param_groups[2]." for messages
--   init_state(self, p, group) -> state table for a parameter's first step
--   state_keys (optional) {key = "number" | "tensor"}: entries every loaded
--             state must have
--   update(self, group, p, grad, state)  one step for one parameter; runs
--             under sg.no_grad, writes the parameter and the state tensors
--             with copy_ and registers its temporaries with Optimizer.tmp
local core = require "sgen.core"
local check = require "sgen.util.check"
local class = require "sgen.util.class"
local sorted_keys = require("sgen.util.tables").sorted_keys

local Optimizer = class("sgen.optim.Optimizer")

-- Marks a required option in `defaults` (SGD's lr, as in PyTorch).
Optimizer.REQUIRED = setmetatable({}, {__tostring = function() return "<required>" end})
local REQUIRED = Optimizer.REQUIRED

-- Keys a parameter group may hold besides the optimizer's options.
local EXTRA_GROUP_KEYS = {params = true, initial_lr = true}

-- ---- small helpers (shared with the rest of sgen.optim) ----

local is_tensor = check.is_tensor
Optimizer.is_tensor = is_tensor

-- "tensor", "freed tensor", "number", ... for messages.
local function typename(x)
  if is_tensor(x) then return x:is_freed() and "freed tensor" or "tensor" end
  return type(x)
end
Optimizer.typename = typename

local function fail(msg) error(msg, 0) end
Optimizer.fail = fail

local shape_str = check.shape_str
Optimizer.shape_str = shape_str

-- Deep copy of plain values (tables of numbers such as betas); tensors are
-- shared.
local function copy_value(v)
  if type(v) ~= "table" or v == REQUIRED then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = copy_value(x) end
  return c
end
Optimizer.copy_value = copy_value

-- A list: a table whose keys are exactly 1..#t.
local function is_list(t)
  local n = #t
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false, k end
  end
  return true
end
Optimizer.is_list = is_list

-- ---- temporaries of an update ----
-- Updates are written with out-of-place ops; each intermediate tensor is
-- registered with Optimizer.tmp(x) (which returns x) and freed right after the
-- parameter's update, so that memory does not wait for Lua's collector.
-- Never register a tensor that is kept (state, parameter, gradient).
local temps, ntemps = {}, 0

function Optimizer.tmp(x)
  ntemps = ntemps + 1
  temps[ntemps] = x
  return x
end

local function free_temps()
  for i = ntemps, 1, -1 do
    local t = temps[i]
    temps[i] = nil
    t:free()
  end
  ntemps = 0
end

-- ---- validators for subclasses ----

function Optimizer.check_number(fname, where, group, key)
  local v = group[key]
  if type(v) ~= "number" then
    fail(string.format("%s: %s%s must be a number, got %s", fname, where, key, typename(v)))
  end
  return v
end

-- A number >= 0 (NaN refused).
function Optimizer.check_nonneg(fname, where, group, key)
  local v = Optimizer.check_number(fname, where, group, key)
  if not (v >= 0) then
    fail(string.format("%s: %s%s must be >= 0, got %s", fname, where, key, tostring(v)))
  end
  return v
end

function Optimizer.check_boolean(fname, where, group, key)
  local v = group[key]
  if type(v) ~= "boolean" then
    fail(string.format("%s: %s%s must be a boolean, got %s", fname, where, key, typename(v)))
  end
  return v
end

-- betas = {beta1, beta2}, each in [0, 1).
function Optimizer.check_betas(fname, where, group, key)
  local v = group[key]
  if type(v) ~= "table" or #v ~= 2 or not is_list(v) then
    local got = type(v) == "table" and string.format("a table of %d entries", #v) or typename(v)
    fail(string.format("%s: %s%s must be a pair {beta1, beta2}, got %s", fname, where, key, got))
  end
  for i = 1, 2 do
    local b = v[i]
    if type(b) ~= "number" then
      fail(string.format("%s: %s%s[%d] must be a number, got %s", fname, where, key, i,
                         typename(b)))
    end
    if not (b >= 0 and b < 1) then
      fail(string.format("%s: %s%s[%d] must be in [0, 1), got %s", fname, where, key, i,
                         tostring(b)))
    end
  end
end

-- ---- defining subclasses ----

-- Returns a new optimizer class. `spec` holds name, keys, defaults, validate,
-- init_state, update (see the top of this file). The class is callable:
-- Class(params, opts) or Class.new(params, opts).
function Optimizer.define(spec)
  for _, k in ipairs({"name", "keys", "defaults", "validate", "init_state", "update"}) do
    if spec[k] == nil then error("sgen.optim.Optimizer.define: spec." .. k .. " is missing", 2) end
  end
  local cls = class("sgen.optim." .. spec.name, Optimizer)
  for k, v in pairs(spec) do cls[k] = v end
  cls.fname = cls.__name
  return cls
end

-- Raises on keys of t that are not options of cls. `where` names the table
-- (" in params[2]") and `extra` allows group keys (params, initial_lr).
local function check_keys(cls, t, where, extra)
  local allowed = {}
  if extra then
    allowed[1] = "params"
    for k in pairs(EXTRA_GROUP_KEYS) do allowed[k] = true end
  end
  for _, k in ipairs(cls.keys) do allowed[#allowed + 1] = k end
  check.options(t, allowed, cls.fname, 0, where)
end

-- Optimizer(params, opts) through a class made by define.
function Optimizer:init(params, opts)
  local cls = getmetatable(self)
  if cls == Optimizer then
    fail("sgen.optim.Optimizer: a base class; make optimizers with Optimizer.define (see sgd.lua)")
  end
  local fname = cls.fname
  if opts ~= nil and (type(opts) ~= "table" or is_tensor(opts)) then
    fail(string.format("%s: argument 2 (options) expected a table, got %s", fname,
                       typename(opts)))
  end
  opts = opts or {}
  check_keys(cls, opts, "", false)
  local defaults = {}
  for _, k in ipairs(cls.keys) do
    local v = opts[k]
    if v == nil then v = cls.defaults[k] end
    defaults[k] = copy_value(v)
  end
  -- Validate what was given now (a required option may still come per group).
  local probe = {}
  local has_required = false
  for k, v in pairs(defaults) do
    if v == REQUIRED then has_required = true else probe[k] = v end
  end
  if not has_required then cls.validate(fname, probe, "") end

  self.defaults, self.state, self.param_groups = defaults, {}, {}

  if type(params) ~= "table" or is_tensor(params) then
    fail(string.format("%s: argument 1 (params) expected a list of tensors or of parameter "
                       .. "groups, got %s", fname, typename(params)))
  end
  local ok, badkey = is_list(params)
  if not ok then
    fail(string.format("%s: argument 1 (params) must be a list, found the key '%s' (pass "
                       .. "model:parameters() rather than named parameters)", fname,
                       tostring(badkey)))
  end
  if #params == 0 then fail(fname .. ": argument 1 (params) is an empty list") end
  if type(params[1]) == "table" and not is_tensor(params[1]) then
    for i, g in ipairs(params) do
      if type(g) ~= "table" or is_tensor(g) then
        fail(string.format("%s: params[%d] is a %s, expected a parameter group {params = {...}, "
                           .. "...} like params[1]", fname, i, typename(g)))
      end
      self:_add_group(g, string.format("params[%d]", i))
    end
  else
    self:_add_group({params = params}, nil)
  end
end

-- Adds a group. `label` names the group in messages ("params[2]"), nil when
-- the group is the plain list given as argument 1.
function Optimizer:_add_group(group, label)
  local cls = getmetatable(self)
  local fname = cls.fname
  check_keys(cls, group, label and (" in " .. label) or "", true)
  local plist = group.params
  local lname = label and (label .. ".params") or "params"
  if is_tensor(plist) then plist = {plist} end
  if type(plist) ~= "table" then
    fail(string.format("%s: %s expected a list of tensors, got %s", fname, lname,
                       typename(plist)))
  end
  local ok, badkey = is_list(plist)
  if not ok then
    fail(string.format("%s: %s must be a list, found the key '%s'", fname, lname,
                       tostring(badkey)))
  end
  if #plist == 0 then fail(string.format("%s: %s is an empty list", fname, lname)) end

  -- parameters already in the optimizer (by identity and by data pointer)
  local seen, seen_ptr = {}, {}
  for _, g in ipairs(self.param_groups) do
    for _, p in ipairs(g.params) do
      seen[p] = true
      if p:numel() > 0 then seen_ptr[p:data_ptr()] = true end
    end
  end
  local params = {}
  for j, p in ipairs(plist) do
    local pname = string.format("%s[%d]", lname, j)
    if not is_tensor(p) then
      fail(string.format("%s: %s is a %s, expected a tensor", fname, pname, typename(p)))
    end
    if p:is_freed() then fail(string.format("%s: %s is a freed tensor", fname, pname)) end
    local dt = p:dtype()
    if dt ~= "float32" and dt ~= "float64" then
      fail(string.format("%s: %s has dtype %s, expected a floating-point tensor", fname, pname,
                         dt))
    end
    if not p.is_leaf then
      fail(string.format("%s: %s is not a leaf tensor (it was computed by %s); optimize the "
                         .. "leaves, e.g. model:parameters()", fname, pname, tostring(p.grad_fn)))
    end
    local ptr = p:numel() > 0 and p:data_ptr() or nil
    if seen[p] or (ptr and seen_ptr[ptr]) then
      fail(string.format("%s: %s appears more than once in the optimizer's parameters", fname,
                         pname))
    end
    seen[p] = true
    if ptr then seen_ptr[ptr] = true end
    params[j] = p
  end

  local g = {params = params}
  for k, v in pairs(group) do
    if k ~= "params" then g[k] = copy_value(v) end
  end
  for _, k in ipairs(cls.keys) do
    if g[k] == nil then g[k] = copy_value(self.defaults[k]) end
    if g[k] == REQUIRED then
      fail(string.format("%s: option '%s' is required (give it in the options or in every "
                         .. "parameter group)", fname, k))
    end
  end
  cls.validate(fname, g, label and (label .. ".") or "")
  self.param_groups[#self.param_groups + 1] = g
end

local function check_self(self, method)
  if type(self) ~= "table" or getmetatable(self) == nil or type(rawget(self, "param_groups"))
      ~= "table" then
    fail(string.format("sgen.optim.Optimizer.%s: call it as a method, opt:%s(...)", method,
                       method))
  end
end

-- opt:add_param_group({params = {...}, lr = ..., ...}): PyTorch's
-- add_param_group; options not given take the optimizer's defaults.
function Optimizer:add_param_group(group)
  check_self(self, "add_param_group")
  local fname = self.fname .. ".add_param_group"
  if type(group) ~= "table" or is_tensor(group) then
    fail(string.format("%s: argument 1 (param_group) expected a table {params = {...}, ...}, "
                       .. "got %s", fname, typename(group)))
  end
  if group.params == nil then
    fail(fname .. ": argument 1 (param_group) has no 'params'")
  end
  self:_add_group(group, "param_group")
end

-- opt:step([closure]) performs one update of every parameter that has a
-- gradient (parameters whose .grad is nil are skipped). The optional closure
-- re-evaluates the model and returns the loss (run with grad enabled);
-- step returns what it returns.
function Optimizer:step(closure)
  check_self(self, "step")
  local cls = getmetatable(self)
  local fname = cls.fname
  if closure ~= nil and type(closure) ~= "function" then
    local mt = getmetatable(closure)
    if not (type(mt) == "table" and mt.__call) then
      fail(string.format("%s.step: argument 1 (closure) expected a function, got %s", fname,
                         typename(closure)))
    end
  end
  local loss
  if closure ~= nil then
    core.enable_grad(function() loss = closure() end)
  end
  free_temps() -- left by an update that raised
  core.no_grad(function()
    for gi, group in ipairs(self.param_groups) do
      -- hyperparameters may have been edited since (schedulers, users)
      cls.validate(fname, group, string.format("param_groups[%d].", gi))
      for _, p in ipairs(group.params) do
        local g = p.grad
        if g ~= nil then
          local state = self.state[p]
          if state == nil then
            state = cls.init_state(self, p, group)
            self.state[p] = state
          end
          cls.update(self, group, p, g, state)
          free_temps()
        end
      end
    end
  end)
  return loss
end

-- opt:zero_grad({set_to_none = true}): sets every parameter's .grad to nil
-- (PyTorch 2.x's default) or, with set_to_none = false, fills it with zeros.
function Optimizer:zero_grad(opts)
  check_self(self, "zero_grad")
  local fname = self.fname .. ".zero_grad"
  local set_to_none = true
  if opts ~= nil then
    if type(opts) ~= "table" or is_tensor(opts) then
      fail(string.format("%s: argument 1 (options) expected a table, got %s", fname,
                         typename(opts)))
    end
    check.options(opts, {"set_to_none"}, fname, 0)
    if opts.set_to_none ~= nil then
      if type(opts.set_to_none) ~= "boolean" then
        fail(string.format("%s: set_to_none must be a boolean, got %s", fname,
                           typename(opts.set_to_none)))
      end
      set_to_none = opts.set_to_none
    end
  end
  for _, group in ipairs(self.param_groups) do
    for _, p in ipairs(group.params) do
      if set_to_none then
        p.grad = nil
      else
        local g = p.grad
        if g ~= nil then g:zero_() end
      end
    end
  end
end

-- opt:state_dict() -> {state = {[i] = {step = n, exp_avg = tensor, ...}},
-- param_groups = {{lr = ..., params = {1, 2}}, ...}}. Parameters are numbered
-- 1, 2, ... in the order of the groups, like PyTorch (which counts from 0).
-- The state's tensors are the optimizer's own, as in PyTorch: the next steps
-- update them in place (clone them for a snapshot).
function Optimizer:state_dict()
  check_self(self, "state_dict")
  local index, n = {}, 0
  local groups = {}
  for gi, group in ipairs(self.param_groups) do
    local g = {}
    for k, v in pairs(group) do
      if k ~= "params" then g[k] = copy_value(v) end
    end
    g.params = {}
    for j, p in ipairs(group.params) do
      n = n + 1
      index[p] = n
      g.params[j] = n
    end
    groups[gi] = g
  end
  local state = {}
  for p, s in pairs(self.state) do
    local id = index[p]
    if id then
      local c = {}
      for k, v in pairs(s) do c[k] = copy_value(v) end
      state[id] = c
    end
  end
  return {state = state, param_groups = groups}
end

-- opt:load_state_dict(sd): restores hyperparameters and state from a
-- state_dict of an optimizer of the same class with the same group sizes.
-- Tensors are copied (converted to each parameter's dtype and device).
-- Everything is checked before anything changes.
function Optimizer:load_state_dict(sd)
  check_self(self, "load_state_dict")
  local cls = getmetatable(self)
  local fname = cls.fname .. ".load_state_dict"
  if type(sd) ~= "table" or is_tensor(sd) then
    fail(string.format("%s: argument 1 (state_dict) expected a table {state = ..., "
                       .. "param_groups = ...}, got %s", fname, typename(sd)))
  end
  for k in pairs(sd) do
    if k ~= "state" and k ~= "param_groups" then
      fail(string.format("%s: unexpected key '%s' in the state_dict (expected state, "
                         .. "param_groups)", fname, tostring(k)))
    end
  end
  local sgroups, sstate = sd.param_groups, sd.state
  if type(sgroups) ~= "table" or not is_list(sgroups) then
    fail(string.format("%s: state_dict.param_groups expected a list, got %s", fname,
                       typename(sgroups)))
  end
  if sstate ~= nil and type(sstate) ~= "table" then
    fail(string.format("%s: state_dict.state expected a table, got %s", fname,
                       typename(sstate)))
  end
  sstate = sstate or {}
  if #sgroups ~= #self.param_groups then
    fail(string.format("%s: the state_dict has %d parameter groups, the optimizer has %d",
                       fname, #sgroups, #self.param_groups))
  end
  local byid = {}
  local new_groups = {}
  for gi, sg_ in ipairs(sgroups) do
    local group = self.param_groups[gi]
    local where = string.format("state_dict.param_groups[%d]", gi)
    if type(sg_) ~= "table" then
      fail(string.format("%s: %s expected a table, got %s", fname, where, typename(sg_)))
    end
    local ids = sg_.params
    if type(ids) ~= "table" or not is_list(ids) then
      fail(string.format("%s: %s.params expected a list of parameter numbers, got %s", fname,
                         where, typename(ids)))
    end
    if #ids ~= #group.params then
      fail(string.format("%s: parameter group %d has %d parameters in the state_dict, %d in "
                         .. "the optimizer", fname, gi, #ids, #group.params))
    end
    for j, id in ipairs(ids) do
      if math.type(id) ~= "integer" then
        fail(string.format("%s: %s.params[%d] expected an integer, got %s", fname, where, j,
                           tostring(id)))
      end
      if byid[id] then
        fail(string.format("%s: parameter number %d appears twice in state_dict.param_groups",
                           fname, id))
      end
      byid[id] = group.params[j]
    end
    check_keys(cls, sg_, " in " .. where, true)
    local g = {}
    for k, v in pairs(sg_) do
      if k ~= "params" then g[k] = copy_value(v) end
    end
    for _, k in ipairs(cls.keys) do
      if g[k] == nil then
        fail(string.format("%s: %s has no '%s'", fname, where, k))
      end
    end
    cls.validate(fname, g, where .. ".")
    new_groups[gi] = g
  end

  local new_state = {}
  for _, id in ipairs(sorted_keys(sstate)) do
    local s = sstate[id]
    local p = byid[id]
    if p == nil then
      fail(string.format("%s: state_dict.state has an entry for parameter %s, which is in no "
                         .. "parameter group", fname, tostring(id)))
    end
    if type(s) ~= "table" then
      fail(string.format("%s: state_dict.state[%s] expected a table, got %s", fname,
                         tostring(id), typename(s)))
    end
    local c = {}
    for _, k in ipairs(sorted_keys(s)) do
      local v = s[k]
      local what = string.format("state_dict.state[%s].%s", tostring(id), tostring(k))
      if is_tensor(v) then
        if v:is_freed() then fail(string.format("%s: %s is a freed tensor", fname, what)) end
        if shape_str(v) ~= shape_str(p) then
          fail(string.format("%s: %s has shape %s, the parameter has shape %s", fname, what,
                             shape_str(v), shape_str(p)))
        end
        if v:dtype() == p:dtype() and v:device() == p:device() then
          c[k] = v:clone()
        else
          c[k] = v:to(p)
        end
      elseif type(v) == "number" or type(v) == "boolean" or type(v) == "string" then
        c[k] = v
      else
        fail(string.format("%s: %s is a %s, expected a tensor or a number", fname, what,
                           typename(v)))
      end
    end
    for _, key in ipairs(sorted_keys(cls.state_keys or {})) do
      local kind = cls.state_keys[key]
      local v = c[key]
      local what = string.format("state_dict.state[%s]", tostring(id))
      if v == nil then
        fail(string.format("%s: %s has no '%s'", fname, what, key))
      end
      local got = is_tensor(v) and "tensor" or type(v)
      if got ~= kind then
        fail(string.format("%s: %s.%s is a %s, expected a %s", fname, what, key, got, kind))
      end
    end
    new_state[p] = c
  end

  -- commit: keep the group tables (callers may hold them), replace contents
  for gi, group in ipairs(self.param_groups) do
    for k in pairs(group) do
      if k ~= "params" then group[k] = nil end
    end
    for k, v in pairs(new_groups[gi]) do group[k] = v end
  end
  self.state = new_state
end

local function value_str(v)
  if type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = tostring(x) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return tostring(v)
end

-- Prints like PyTorch: the class and each group's options.
function Optimizer.__tostring(self)
  local cls = getmetatable(self)
  local lines = {(cls.name or "Optimizer") .. " ("}
  for gi, group in ipairs(self.param_groups) do
    lines[#lines + 1] = string.format("Parameter Group %d", gi)
    local keys = {}
    for k in pairs(group) do
      if k ~= "params" then keys[#keys + 1] = k end
    end
    table.sort(keys)
    for _, k in ipairs(keys) do
      lines[#lines + 1] = string.format("    %s: %s", k, value_str(group[k]))
    end
  end
  lines[#lines + 1] = ")"
  return table.concat(lines, "\n")
end

return Optimizer
