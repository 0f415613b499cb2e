-- sgen.nn.Module: the base class of every layer and model.
--
-- Classes: `local Net = nn.Module:extend("Net")`, `function Net:init(...)`,
-- `function Net:forward(x)`, `local net = Net(...)`; `net(x)` calls forward.
--
-- Registration happens on assignment (PyTorch's __setattr__ rules):
--   * a module assigned to a field becomes a child (`self.conv1 = nn.Conv2d(...)`);
--   * a leaf tensor that requires grad becomes a parameter
--     (`self.w = nn.Parameter(sg.randn(3))`);
--   * buffers are declared explicitly: `self:register_buffer("running_mean", t)`;
--     later assignments of a tensor to that name replace the buffer;
--   * assigning nil removes a registered name; anything else is a plain attribute.
-- Names keep their order of first registration; parameters(), state_dict()
-- and friends walk modules depth first (the module's own parameters, then its
-- buffers, then each child), which gives PyTorch's names and order
-- (`features.0.weight`).
--
-- An instance's raw table holds only _parameters, _buffers, _modules (ordered
-- dictionaries), _attrs (plain attributes) and _nonpersistent, so that every
-- field assignment reaches __newindex.
local sg = require "sgen"
local U = require "sgen.nn.util"
local class = require "sgen.util.class"

local is_tensor, is_module, fail = U.is_tensor, U.is_module, U.fail

-- ---------------------------------------------------------------- ordered dict
local function od_new() return {keys = {}, map = {}} end

local function od_set(d, k, v)
  if d.map[k] == nil then d.keys[#d.keys + 1] = k end
  d.map[k] = v
end

local function od_del(d, k)
  if d.map[k] == nil then return end
  d.map[k] = nil
  for i, name in ipairs(d.keys) do
    if name == k then table.remove(d.keys, i) break end
  end
end

-- ---------------------------------------------------------------- class machinery
-- Module is made with sgen.util.class, which copies the metamethods below
-- (__index, __newindex, __call, __tostring, __len, __pairs) into each class
-- that extend() makes.
local Module = class("Module")
Module.__is_module = true

local function class_name(self)
  return getmetatable(self).__name or "Module"
end

local function module_class_tostring(cls) return "sgen.nn." .. cls.__name .. " (class)" end
getmetatable(Module).__tostring = module_class_tostring

-- An instance's raw table: registration goes through __newindex.
function Module.__alloc()
  return {
    _parameters = od_new(),
    _buffers = od_new(),
    _modules = od_new(),
    _attrs = {training = true},
    _nonpersistent = {},
  }
end

-- Module:extend(name) -> a new class inheriting from Module (or from the
-- class it is called on). Call the class to make an instance.
function Module:extend(name)
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
    error("sgen.nn.Module:extend: expected a class name (an identifier), got " .. U.typename(name), 2)
  end
  local cls = class(name, self)
  cls.__is_module = true
  getmetatable(cls).__tostring = module_class_tostring
  return cls
end

-- ---------------------------------------------------------------- field access
function Module.__index(self, k)
  local v = self._parameters.map[k]
  if v ~= nil then return v end
  v = self._buffers.map[k]
  if v ~= nil then return v end
  v = self._modules.map[k]
  if v ~= nil then return v end
  v = self._attrs[k]
  if v ~= nil then return v end
  local cls = getmetatable(self)
  if type(k) == "number" then
    local f = cls.__index_number
    if f then return f(self, k) end
    return nil
  end
  return cls[k]
end

local function remove_everywhere(self, k)
  od_del(self._parameters, k)
  od_del(self._buffers, k)
  od_del(self._modules, k)
  self._attrs[k] = nil
  self._nonpersistent[k] = nil
end

local function is_parameter_like(v)
  return is_tensor(v) and v.is_leaf and v:needs_grad()
end

local function check_name(self, what, name)
  if type(name) ~= "string" or name == "" or name:find(".", 1, true) then
    fail(class_name(self), "%s name must be a non-empty string without '.', got %s", what,
      type(name) == "string" and ("'" .. name .. "'") or U.typename(name))
  end
end

function Module.__newindex(self, k, v)
  if type(k) ~= "string" then
    fail(class_name(self), "field names must be strings, got %s (use add_module for containers)",
      U.typename(k))
  end
  if v == nil then
    remove_everywhere(self, k)
    return
  end
  if is_module(v) then
    local keep = self._modules.map[k] ~= nil
    if not keep then remove_everywhere(self, k) end
    od_set(self._modules, k, v)
  elseif self._buffers.map[k] ~= nil and is_tensor(v) then
    self._buffers.map[k] = v
  elseif is_parameter_like(v) then
    local keep = self._parameters.map[k] ~= nil
    if not keep then remove_everywhere(self, k) end
    od_set(self._parameters, k, v)
  elseif self._parameters.map[k] ~= nil then
    fail(class_name(self), "cannot assign a %s to parameter '%s' (expected a leaf tensor that "
      .. "requires grad, e.g. nn.Parameter(t), or nil)",
      is_tensor(v) and "tensor that does not require grad" or U.typename(v), k)
  elseif self._modules.map[k] ~= nil then
    fail(class_name(self), "cannot assign a %s to child module '%s' (expected a module or nil)",
      U.typename(v), k)
  elseif self._buffers.map[k] ~= nil then
    fail(class_name(self), "cannot assign a %s to buffer '%s' (expected a tensor or nil)",
      U.typename(v), k)
  else
    self._attrs[k] = v
  end
end

-- ---------------------------------------------------------------- registration
function Module:init() end

function Module:forward()
  fail(class_name(self), "forward is not implemented (define function %s:forward(x))",
    class_name(self))
end

function Module.__call(self, ...)
  return self:forward(...)
end

-- register_parameter(name, t): t a tensor (made a leaf requiring grad if it is
-- not one already, like nn.Parameter) or nil (declares nothing).
function Module:register_parameter(name, t)
  check_name(self, "parameter", name)
  if t == nil then
    od_del(self._parameters, name)
    return self
  end
  if not is_tensor(t) then
    fail(class_name(self), "register_parameter: '%s' expected a tensor or nil, got %s", name,
      U.typename(t))
  end
  if self._parameters.map[name] == nil and (self._buffers.map[name] ~= nil or
      self._modules.map[name] ~= nil or self._attrs[name] ~= nil) then
    fail(class_name(self), "register_parameter: attribute '%s' already exists", name)
  end
  local p = t
  if not is_parameter_like(t) then p = t.is_leaf and t:requires_grad_(true) or t:detach():requires_grad_(true) end
  od_set(self._parameters, name, p)
  return self
end

-- register_buffer(name, t, persistent): t a tensor or nil; persistent = false
-- keeps it out of state_dict.
function Module:register_buffer(name, t, persistent)
  check_name(self, "buffer", name)
  if t ~= nil and not is_tensor(t) then
    fail(class_name(self), "register_buffer: '%s' expected a tensor or nil, got %s", name,
      U.typename(t))
  end
  if self._buffers.map[name] == nil and (self._parameters.map[name] ~= nil or
      self._modules.map[name] ~= nil or self._attrs[name] ~= nil) then
    fail(class_name(self), "register_buffer: attribute '%s' already exists", name)
  end
  if t == nil then
    od_del(self._buffers, name)
    self._nonpersistent[name] = nil
    return self
  end
  od_set(self._buffers, name, t)
  self._nonpersistent[name] = (persistent == false) or nil
  return self
end

-- add_module(name, m) / register_module: a child under an explicit name
-- (used by containers: "0", "1", ...).
function Module:add_module(name, m)
  check_name(self, "module", name)
  if not is_module(m) then
    fail(class_name(self), "add_module: '%s' expected a module, got %s", name, U.typename(m))
  end
  if self._modules.map[name] == nil and (self._parameters.map[name] ~= nil or
      self._buffers.map[name] ~= nil or self._attrs[name] ~= nil) then
    fail(class_name(self), "add_module: attribute '%s' already exists", name)
  end
  od_set(self._modules, name, m)
  return self
end
Module.register_module = Module.add_module

-- ---------------------------------------------------------------- traversal
-- Pre-order walk: calls f(prefix, module) for self and every descendant,
-- each module once (shared modules are visited at their first name).
local function walk(self, f)
  local seen = {}
  local function rec(m, prefix)
    if seen[m] then return end
    seen[m] = true
    f(prefix, m)
    for _, name in ipairs(m._modules.keys) do
      rec(m._modules.map[name], prefix == "" and name or (prefix .. "." .. name))
    end
  end
  rec(self, "")
end

local function join(prefix, name)
  if prefix == "" then return name end
  return prefix .. "." .. name
end

local function list_iter(list)
  local i = 0
  return function()
    i = i + 1
    local e = list[i]
    if e then return e[1], e[2] end
  end
end

local function named_members(self, field, recurse)
  local out, seen = {}, {}
  local function add(prefix, m)
    local d = m[field]
    for _, name in ipairs(d.keys) do
      local v = d.map[name]
      if not seen[v] then
        seen[v] = true
        out[#out + 1] = {join(prefix, name), v}
      end
    end
  end
  if recurse == false then add("", self) else walk(self, add) end
  return out
end

-- for name, p in m:named_parameters() do ... end   (PyTorch's order)
function Module:named_parameters(recurse)
  return list_iter(named_members(self, "_parameters", recurse))
end

-- A list of the parameter tensors (each once), e.g. for an optimizer.
function Module:parameters(recurse)
  local out = {}
  for i, e in ipairs(named_members(self, "_parameters", recurse)) do out[i] = e[2] end
  return out
end

function Module:named_buffers(recurse)
  return list_iter(named_members(self, "_buffers", recurse))
end

function Module:buffers(recurse)
  local out = {}
  for i, e in ipairs(named_members(self, "_buffers", recurse)) do out[i] = e[2] end
  return out
end

function Module:named_children()
  local list, seen = {}, {}
  for _, name in ipairs(self._modules.keys) do
    local m = self._modules.map[name]
    if not seen[m] then
      seen[m] = true
      list[#list + 1] = {name, m}
    end
  end
  return list_iter(list)
end

function Module:children()
  local out = {}
  for _, m in self:named_children() do out[#out + 1] = m end
  return out
end

-- Pre-order, self first (name ""), each module once.
function Module:named_modules()
  local list = {}
  walk(self, function(prefix, m) list[#list + 1] = {prefix, m} end)
  return list_iter(list)
end

function Module:modules()
  local out = {}
  walk(self, function(_, m) out[#out + 1] = m end)
  return out
end

-- apply(fn): fn(m) on every child (recursively) and then on self; returns self.
function Module:apply(fn)
  if type(fn) ~= "function" then
    fail(class_name(self), "apply: expected a function, got %s", U.typename(fn))
  end
  for _, m in ipairs(self:children()) do m:apply(fn) end
  fn(self)
  return self
end

function Module:train(mode)
  if mode == nil then mode = true end
  if type(mode) ~= "boolean" then
    fail(class_name(self), "train: mode must be a boolean, got %s", U.typename(mode))
  end
  self._attrs.training = mode
  for _, m in ipairs(self:children()) do m:train(mode) end
  return self
end

function Module:eval()
  return self:train(false)
end

-- zero_grad(): sets every parameter's .grad to nil (PyTorch's default
-- set_to_none=True); zero_grad({set_to_none=false}) zeroes them in place.
function Module:zero_grad(opts)
  opts = U.opts(class_name(self) .. ":zero_grad", opts, {"set_to_none"})
  local to_none = opts.set_to_none ~= false
  for _, p in ipairs(self:parameters()) do
    if to_none then
      p.grad = nil
    else
      local g = p.grad
      if g then g:zero_() end
    end
  end
  return self
end

-- to(device | dtype | {dtype=, device=}): converts parameters and buffers in
-- place (the module keeps the same identity; a tensor already of that dtype
-- and device is kept as is). Integer buffers keep their dtype and only move.
-- Gradients move with their parameters. Returns self.
local FLOAT_DTYPES = {float32 = true, float64 = true, float16 = true, bfloat16 = true}

local function parse_to_args(self, a, b)
  local dtype, device
  local function take(s)
    if FLOAT_DTYPES[s] or s == "float" or s == "double" then
      dtype = (s == "float") and "float32" or (s == "double") and "float64" or s
    elseif type(s) == "string" and (s == "cpu" or s:match("^cuda")) then
      device = s
    else
      fail(class_name(self), "to: expected a floating dtype (float32, float64) or a device "
        .. "(cpu, cuda, cuda:N), got %s", type(s) == "string" and ("'" .. s .. "'") or U.typename(s))
    end
  end
  if type(a) == "table" and not is_tensor(a) then
    U.opts(class_name(self) .. ":to", a, {"dtype", "device"})
    if a.dtype ~= nil then take(a.dtype) end
    if a.device ~= nil then take(a.device) end
  elseif is_tensor(a) then
    dtype, device = a:dtype(), a:device()
    if not FLOAT_DTYPES[dtype] then dtype = nil end
  else
    take(a)
    if b ~= nil then take(b) end
  end
  return dtype, device
end

local function convert(t, dtype, device)
  local target = {}
  if dtype and FLOAT_DTYPES[t:dtype()] then target.dtype = dtype end
  if device then target.device = device end
  if next(target) == nil then return t end
  local r = t:to(target)
  if r:dtype() == t:dtype() and r:device() == t:device() and r:data_ptr() == t:data_ptr() then
    return t
  end
  return r
end

function Module:to(a, b)
  local dtype, device = parse_to_args(self, a, b)
  U.no_grad(function()
    for _, m in ipairs(self:modules()) do
      for _, name in ipairs(m._parameters.keys) do
        local p = m._parameters.map[name]
        local q = convert(p, dtype, device)
        if q ~= p then
          q = q:detach():requires_grad_(p:needs_grad())
          local g = p.grad
          if g then q.grad = convert(g, dtype, device) end
          m._parameters.map[name] = q
        end
      end
      for _, name in ipairs(m._buffers.keys) do
        local t = m._buffers.map[name]
        m._buffers.map[name] = convert(t, dtype, device)
      end
    end
  end)
  return self
end

function Module:float() return self:to("float32") end
function Module:double() return self:to("float64") end
function Module:cpu() return self:to("cpu") end
function Module:cuda() return self:to("cuda") end

-- ---------------------------------------------------------------- state_dict
-- Like PyTorch's state_dict, a module reached under two names (a shared
-- child) appears under both; parameters() lists its tensors once.
local function state_entries(self)
  local out = {}
  local active = {}
  local function rec(m, prefix)
    if active[m] then
      fail(class_name(self), "state_dict: module '%s' contains itself", prefix)
    end
    active[m] = true
    for _, name in ipairs(m._parameters.keys) do
      out[#out + 1] = {join(prefix, name), m._parameters.map[name], "parameter"}
    end
    for _, name in ipairs(m._buffers.keys) do
      if not m._nonpersistent[name] then
        out[#out + 1] = {join(prefix, name), m._buffers.map[name], "buffer"}
      end
    end
    for _, name in ipairs(m._modules.keys) do
      rec(m._modules.map[name], join(prefix, name))
    end
    active[m] = nil
  end
  rec(self, "")
  return out
end

-- The ordered names of state_dict() (parameters and persistent buffers).
function Module:state_dict_keys()
  local out = {}
  for i, e in ipairs(state_entries(self)) do out[i] = e[1] end
  return out
end

-- state_dict({keep_vars=false}) -> {name = tensor}: detached tensors that
-- share memory with the parameters and buffers, named as PyTorch names them.
-- pairs() on the result walks it in PyTorch's order.
function Module:state_dict(opts)
  opts = U.opts(class_name(self) .. ":state_dict", opts, {"keep_vars"})
  local keep = opts.keep_vars == true
  local sd, order, in_order = {}, {}, {}
  for _, e in ipairs(state_entries(self)) do
    if sd[e[1]] == nil then
      order[#order + 1] = e[1]
      in_order[e[1]] = true
    end
    sd[e[1]] = keep and e[2] or e[2]:detach()
  end
  -- pairs(): the module's names in order (those still present), then any
  -- key added later (in next() order)
  return setmetatable(sd, {
    __pairs = function(t)
      local i, k = 0, nil
      return function()
        while i < #order do
          i = i + 1
          local v = rawget(t, order[i])
          if v ~= nil then return order[i], v end
        end
        repeat
          local v
          k, v = next(t, k)
          if k == nil then return nil end
          if not in_order[k] then return k, v end
        until false
      end, t, nil
    end,
  })
end

local sorted_keys = require("sgen.util.tables").sorted_keys

-- load_state_dict(sd, {strict=true}): copies each value into the parameter
-- or buffer of the same name, in place (dtype converted). Every check runs
-- before anything is copied: size mismatches and non-tensor values are
-- always errors; with strict (the default) missing and unexpected keys are
-- too. Returns {missing_keys = {...}, unexpected_keys = {...}}.
-- True for the metadata table sg.load returns second (string keys and
-- values, none of them an option), so `net:load_state_dict(sg.load(path))`
-- works as it reads.
local function is_safetensors_metadata(t)
  if type(t) ~= "table" or getmetatable(t) ~= nil or rawget(t, "strict") ~= nil then return false end
  for k, v in pairs(t) do
    if type(k) ~= "string" or type(v) ~= "string" then return false end
  end
  return true
end

function Module:load_state_dict(sd, opts)
  local cname = class_name(self)
  if is_safetensors_metadata(opts) then opts = nil end
  opts = U.opts(cname .. ":load_state_dict", opts, {"strict"})
  local strict = opts.strict ~= false
  if type(sd) ~= "table" or is_module(sd) then
    fail(cname, "load_state_dict: expected a table {name = tensor}, got %s", U.typename(sd))
  end
  local entries = state_entries(self)
  local expected, missing, unexpected, problems = {}, {}, {}, {}
  for _, e in ipairs(entries) do
    local name, t = e[1], e[2]
    expected[name] = true
    local v = rawget(sd, name)
    if v == nil then
      missing[#missing + 1] = name
    elseif not is_tensor(v) then
      problems[#problems + 1] = string.format("'%s' is a %s, expected a tensor", name, U.typename(v))
    elseif v:is_freed() then
      problems[#problems + 1] = string.format("'%s' is a freed tensor", name)
    else
      local a, b = v:shape(), t:shape()
      local same = #a == #b
      for i = 1, #a do same = same and a[i] == b[i] end
      if not same then
        problems[#problems + 1] = string.format(
          "size mismatch for %s: the checkpoint has shape %s, the model %s", name,
          U.shape_str(v), U.shape_str(t))
      end
    end
  end
  for _, k in ipairs(sorted_keys(sd)) do
    if not expected[k] then unexpected[#unexpected + 1] = tostring(k) end
  end
  local msgs = {}
  if strict and #missing > 0 then
    msgs[#msgs + 1] = "missing keys: " .. table.concat(missing, ", ")
  end
  if strict and #unexpected > 0 then
    msgs[#msgs + 1] = "unexpected keys: " .. table.concat(unexpected, ", ")
  end
  for _, p in ipairs(problems) do msgs[#msgs + 1] = p end
  if #msgs > 0 then
    fail(cname, "load_state_dict: %s", table.concat(msgs, "; "))
  end
  U.no_grad(function()
    for _, e in ipairs(entries) do
      local v = rawget(sd, e[1])
      if v ~= nil and not rawequal(v, e[2]) then e[2]:copy_(v) end
    end
  end)
  return {missing_keys = missing, unexpected_keys = unexpected}
end

-- ---------------------------------------------------------------- printing
-- extra_repr(): the text inside the parentheses (override in subclasses).
function Module:extra_repr() return "" end

local function add_indent(s, n)
  local pad = string.rep(" ", n)
  local first, rest = s:match("^([^\n]*)(.*)$")
  if rest == "" then return s end
  return first .. rest:gsub("\n", "\n" .. pad)
end

function Module:__repr()
  local extra = self:extra_repr()
  local lines = {}
  local nextra = 0
  if extra ~= nil and extra ~= "" then
    for line in (extra .. "\n"):gmatch("([^\n]*)\n") do
      lines[#lines + 1] = line
      nextra = nextra + 1
    end
  end
  local nchild = 0
  -- containers indexed by position (Sequential, ModuleList) show the
  -- 1-based position that seq[i] takes; their state_dict names keep
  -- PyTorch's 0-based "0", "1", ... for interchange
  local positional = getmetatable(self).__index_number ~= nil
  for i, name in ipairs(self._modules.keys) do
    local child = self._modules.map[name]
    local label = positional and tostring(i) or name
    lines[#lines + 1] = "(" .. label .. "): " .. add_indent(child:__repr(), 2)
    nchild = nchild + 1
  end
  local s = class_name(self) .. "("
  if #lines > 0 then
    if nextra == 1 and nchild == 0 then
      s = s .. lines[1]
    else
      s = s .. "\n  " .. table.concat(lines, "\n  ") .. "\n"
    end
  end
  return s .. ")"
end

function Module.__tostring(self)
  return self:__repr()
end

-- ---------------------------------------------------------------- clone
-- clone() -> a deep copy (copy.deepcopy of PyTorch): parameters (with
-- their requires_grad and .grad), buffers, submodules and plain attributes
-- (tables copied, tensors cloned; functions shared), training flags, in
-- fresh storage. A module or tensor reached twice is copied once, so sharing
-- inside the module is kept.
function Module:clone()
  local memo = {}
  local function copy_tensor(t)
    if memo[t] then return memo[t] end
    local c = U.no_grad(function()
      local r = t:detach():clone()
      if t.is_leaf and t:needs_grad() then r = r:requires_grad_(true) end
      local g = t.grad
      if g then r.grad = g:detach():clone() end
      return r
    end)
    memo[t] = c
    return c
  end
  local copy
  local function copy_plain(v)
    if is_tensor(v) then return copy_tensor(v) end
    if is_module(v) then return copy(v) end
    if type(v) ~= "table" then return v end
    if memo[v] then return memo[v] end
    local c = {}
    memo[v] = c
    for k, x in pairs(v) do c[copy_plain(k)] = copy_plain(x) end
    return setmetatable(c, getmetatable(v))
  end
  local function copy_od(d, f)
    local c = od_new()
    for _, k in ipairs(d.keys) do od_set(c, k, f(d.map[k])) end
    return c
  end
  copy = function(m)
    if memo[m] then return memo[m] end
    local c = setmetatable({}, getmetatable(m))
    memo[m] = c
    rawset(c, "_parameters", copy_od(m._parameters, copy_tensor))
    rawset(c, "_buffers", copy_od(m._buffers, copy_tensor))
    rawset(c, "_modules", copy_od(m._modules, copy))
    rawset(c, "_attrs", copy_plain(m._attrs))
    rawset(c, "_nonpersistent", copy_plain(m._nonpersistent))
    for k, v in pairs(m) do -- any other raw field a subclass keeps
      if rawget(c, k) == nil then rawset(c, k, copy_plain(v)) end
    end
    return c
  end
  return copy(self)
end

-- ---------------------------------------------------------------- misc
-- nn.Parameter(t): t as a leaf that requires grad (t itself when it is a
-- leaf, else a detached alias sharing its memory).
local function Parameter(t, requires_grad)
  if not is_tensor(t) then
    error("sgen.nn.Parameter: expected a tensor, got " .. U.typename(t), 0)
  end
  local p = t.is_leaf and t or t:detach()
  return p:requires_grad_(requires_grad ~= false)
end

-- The number of elements of all parameters (each counted once).
function Module:num_parameters()
  local n = 0
  for _, p in ipairs(self:parameters()) do n = n + p:numel() end
  return n
end

Module._od_set = od_set
Module._od_new = od_new

return {Module = Module, Parameter = Parameter, class_name = class_name}
