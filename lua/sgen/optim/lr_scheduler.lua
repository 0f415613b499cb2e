-- Learning-rate schedulers: PyTorch 1.13's torch.optim.lr_scheduler StepLR,
-- MultiStepLR, ExponentialLR and CosineAnnealingLR, with PyTorch's (chainable,
-- recursive) formulas so that the sequence of learning rates is PyTorch's.
--
-- A scheduler writes `optimizer.param_groups[i].lr`. Building one records
-- each group's `initial_lr` (when last_epoch = -1) and performs the initial
-- step (last_epoch becomes 0). Call scheduler:step() after optimizer:step(),
-- usually once per epoch.
local Optimizer = require "sgen.optim.optimizer"
local check = require "sgen.util.check"
local class = require "sgen.util.class"

local fail, typename = Optimizer.fail, Optimizer.typename

local M = {}

local LRScheduler = class("sgen.optim.lr_scheduler.LRScheduler")
M.LRScheduler = LRScheduler

local function is_optimizer(o)
  return type(o) == "table" and type(rawget(o, "param_groups")) == "table"
         and type(o.step) == "function"
end

local function check_opts(fname, opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" or Optimizer.is_tensor(opts) then
    fail(string.format("%s: the options argument expected a table, got %s", fname,
                       typename(opts)))
  end
  return check.options(opts, allowed, fname, 0)
end

local function check_number(fname, what, v)
  if type(v) ~= "number" or v ~= v then
    fail(string.format("%s: %s must be a number, got %s", fname, what,
                       type(v) == "number" and tostring(v) or typename(v)))
  end
  return v
end

local function check_integer(fname, what, v, lo)
  if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v)
                                        and v > -2^53 and v < 2^53) then
    fail(string.format("%s: %s must be an integer, got %s", fname, what,
                       type(v) == "number" and tostring(v) or typename(v)))
  end
  v = math.tointeger(v)
  if v < lo then
    fail(string.format("%s: %s must be >= %d, got %d", fname, what, lo, v))
  end
  return v
end

function LRScheduler.init()
  fail("sgen.optim.lr_scheduler.LRScheduler: a base class; use StepLR, MultiStepLR, "
       .. "ExponentialLR or CosineAnnealingLR")
end

-- Prints "StepLR(last_epoch=3, lr=0.01)".
function LRScheduler:__tostring()
  return string.format("%s(last_epoch=%d, lr=%s)", getmetatable(self).name, self.last_epoch,
                       table.concat(self:get_last_lr(), ", "))
end

-- Defines a scheduler class: Class(optimizer, ...) calls setup(self, ...)
-- which checks and stores its settings and returns last_epoch.
local function define(name, setup)
  local cls = class("sgen.optim.lr_scheduler." .. name, LRScheduler)
  cls.name = name
  cls.fname = cls.__name
  function cls:init(optimizer, ...)
    if not is_optimizer(optimizer) then
      fail(string.format("%s: argument 1 (optimizer) expected an optimizer, got %s", cls.fname,
                         typename(optimizer)))
    end
    self.optimizer = optimizer
    local last_epoch = setup(self, ...)
    last_epoch = check_integer(cls.fname, "last_epoch", last_epoch, -1)
    local groups = optimizer.param_groups
    if last_epoch == -1 then
      for _, g in ipairs(groups) do
        if g.initial_lr == nil then g.initial_lr = g.lr end
      end
    else
      for i, g in ipairs(groups) do
        if g.initial_lr == nil then
          fail(string.format("%s: param_groups[%d] has no initial_lr, needed to resume with "
                             .. "last_epoch = %d (load the optimizer's state_dict first)",
                             cls.fname, i, last_epoch))
        end
      end
    end
    self.base_lrs = {}
    for i, g in ipairs(groups) do self.base_lrs[i] = g.initial_lr end
    self.last_epoch = last_epoch
    self._step_count = 0
    self:step()
  end
  return cls
end

local function check_self(self, method)
  if type(self) ~= "table" or type(rawget(self, "optimizer")) ~= "table" then
    fail(string.format("sgen.optim.lr_scheduler.%s: call it as a method, sched:%s(...)",
                       method, method))
  end
end

-- sched:step([epoch]): advances one epoch (or, deprecated in PyTorch, jumps to
-- `epoch` with the closed form) and writes the new learning rates.
function LRScheduler:step(epoch)
  check_self(self, "step")
  local cls = getmetatable(self)
  self._step_count = self._step_count + 1
  local values
  if epoch == nil then
    self.last_epoch = self.last_epoch + 1
    values = self:get_lr()
  else
    self.last_epoch = check_integer(cls.fname .. ".step", "epoch", epoch, 0)
    values = self:closed_form_lr()
  end
  local groups = self.optimizer.param_groups
  for i, g in ipairs(groups) do g.lr = values[i] end
  self._last_lr = {}
  for i, g in ipairs(groups) do self._last_lr[i] = g.lr end
end

-- sched:get_last_lr() -> {lr of group 1, ...} as of the last step.
function LRScheduler:get_last_lr()
  check_self(self, "get_last_lr")
  local r = {}
  for i, v in ipairs(self._last_lr) do r[i] = v end
  return r
end

-- The current learning rates of the groups (PyTorch's group['lr']).
local function current(self)
  local r = {}
  for i, g in ipairs(self.optimizer.param_groups) do r[i] = g.lr end
  return r
end

-- Names of the fields saved by state_dict, per class (besides the common ones).
local COMMON = {"last_epoch", "base_lrs", "_step_count", "_last_lr"}

-- sched:state_dict() -> a table of plain values (numbers and lists).
function LRScheduler:state_dict()
  check_self(self, "state_dict")
  local cls = getmetatable(self)
  local sd = {}
  for _, k in ipairs(COMMON) do sd[k] = Optimizer.copy_value(self[k]) end
  for _, k in ipairs(cls.fields) do sd[k] = Optimizer.copy_value(self[k]) end
  return sd
end

-- sched:load_state_dict(sd): restores what state_dict returned.
function LRScheduler:load_state_dict(sd)
  check_self(self, "load_state_dict")
  local cls = getmetatable(self)
  local fname = cls.fname .. ".load_state_dict"
  if type(sd) ~= "table" then
    fail(string.format("%s: argument 1 (state_dict) expected a table, got %s", fname,
                       typename(sd)))
  end
  local allowed = {}
  for _, k in ipairs(COMMON) do allowed[k] = true end
  for _, k in ipairs(cls.fields) do allowed[k] = true end
  for k in pairs(sd) do
    if not allowed[k] then
      fail(string.format("%s: unexpected key '%s' (a state_dict of another scheduler?)", fname,
                         tostring(k)))
    end
  end
  for _, k in ipairs(COMMON) do
    if sd[k] == nil then fail(string.format("%s: the state_dict has no '%s'", fname, k)) end
  end
  for k, v in pairs(sd) do self[k] = Optimizer.copy_value(v) end
end

-- ---- StepLR(optimizer, step_size, {gamma = 0.1, last_epoch = -1}) ----
-- lr = initial_lr * gamma ^ floor(epoch / step_size)
M.StepLR = define("StepLR", function(self, step_size, opts)
  local fname = "sgen.optim.lr_scheduler.StepLR"
  self.step_size = check_integer(fname, "argument 2 (step_size)", step_size, 1)
  opts = check_opts(fname, opts, {"gamma", "last_epoch"})
  self.gamma = check_number(fname, "gamma", opts.gamma == nil and 0.1 or opts.gamma)
  return opts.last_epoch == nil and -1 or opts.last_epoch
end)
M.StepLR.fields = {"step_size", "gamma"}

function M.StepLR:get_lr()
  local lrs = current(self)
  if self.last_epoch == 0 or self.last_epoch % self.step_size ~= 0 then return lrs end
  for i, lr in ipairs(lrs) do lrs[i] = lr * self.gamma end
  return lrs
end

function M.StepLR:closed_form_lr()
  local r = {}
  for i, base in ipairs(self.base_lrs) do
    r[i] = base * self.gamma ^ (self.last_epoch // self.step_size)
  end
  return r
end

-- ---- MultiStepLR(optimizer, milestones, {gamma = 0.1, last_epoch = -1}) ----
-- lr is multiplied by gamma at each milestone (twice for a repeated one).
M.MultiStepLR = define("MultiStepLR", function(self, milestones, opts)
  local fname = "sgen.optim.lr_scheduler.MultiStepLR"
  if type(milestones) ~= "table" or not Optimizer.is_list(milestones) then
    fail(string.format("%s: argument 2 (milestones) expected a list of epochs, got %s", fname,
                       typename(milestones)))
  end
  local list = {}
  for i, m in ipairs(milestones) do
    list[i] = check_integer(fname, string.format("milestones[%d]", i), m, 0)
  end
  table.sort(list)
  self.milestones = list
  opts = check_opts(fname, opts, {"gamma", "last_epoch"})
  self.gamma = check_number(fname, "gamma", opts.gamma == nil and 0.1 or opts.gamma)
  return opts.last_epoch == nil and -1 or opts.last_epoch
end)
M.MultiStepLR.fields = {"milestones", "gamma"}

function M.MultiStepLR:get_lr()
  local lrs = current(self)
  local count = 0
  for _, m in ipairs(self.milestones) do
    if m == self.last_epoch then count = count + 1 end
  end
  if count == 0 then return lrs end
  for i, lr in ipairs(lrs) do lrs[i] = lr * self.gamma ^ count end
  return lrs
end

function M.MultiStepLR:closed_form_lr()
  local passed = 0
  for _, m in ipairs(self.milestones) do
    if m <= self.last_epoch then passed = passed + 1 end
  end
  local r = {}
  for i, base in ipairs(self.base_lrs) do r[i] = base * self.gamma ^ passed end
  return r
end

-- ---- ExponentialLR(optimizer, gamma, {last_epoch = -1}) ----
-- lr = initial_lr * gamma ^ epoch
M.ExponentialLR = define("ExponentialLR", function(self, gamma, opts)
  local fname = "sgen.optim.lr_scheduler.ExponentialLR"
  self.gamma = check_number(fname, "argument 2 (gamma)", gamma)
  opts = check_opts(fname, opts, {"last_epoch"})
  return opts.last_epoch == nil and -1 or opts.last_epoch
end)
M.ExponentialLR.fields = {"gamma"}

function M.ExponentialLR:get_lr()
  local lrs = current(self)
  if self.last_epoch == 0 then return lrs end
  for i, lr in ipairs(lrs) do lrs[i] = lr * self.gamma end
  return lrs
end

function M.ExponentialLR:closed_form_lr()
  local r = {}
  for i, base in ipairs(self.base_lrs) do r[i] = base * self.gamma ^ self.last_epoch end
  return r
end

-- ---- CosineAnnealingLR(optimizer, T_max, {eta_min = 0, last_epoch = -1}) ----
-- lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2,
-- computed recursively as PyTorch does (it continues as a cosine of period
-- 2 T_max after T_max, without restarts).
M.CosineAnnealingLR = define("CosineAnnealingLR", function(self, T_max, opts)
  local fname = "sgen.optim.lr_scheduler.CosineAnnealingLR"
  self.T_max = check_integer(fname, "argument 2 (T_max)", T_max, 1)
  opts = check_opts(fname, opts, {"eta_min", "last_epoch"})
  self.eta_min = check_number(fname, "eta_min", opts.eta_min == nil and 0 or opts.eta_min)
  return opts.last_epoch == nil and -1 or opts.last_epoch
end)
M.CosineAnnealingLR.fields = {"T_max", "eta_min"}

function M.CosineAnnealingLR:get_lr()
  local e, T, eta = self.last_epoch, self.T_max, self.eta_min
  local lrs = current(self)
  if e == 0 then return lrs end
  local pi, cos = math.pi, math.cos
  if self._step_count == 1 and e > 0 then
    for i, base in ipairs(self.base_lrs) do
      lrs[i] = eta + (base - eta) * (1 + cos(e * pi / T)) / 2
    end
  elseif (e - 1 - T) % (2 * T) == 0 then
    for i, base in ipairs(self.base_lrs) do
      lrs[i] = lrs[i] + (base - eta) * (1 - cos(pi / T)) / 2
    end
  else
    for i, lr in ipairs(lrs) do
      lrs[i] = (1 + cos(pi * e / T)) / (1 + cos(pi * (e - 1) / T)) * (lr - eta) + eta
    end
  end
  return lrs
end

function M.CosineAnnealingLR:closed_form_lr()
  local r = {}
  local e, T, eta = self.last_epoch, self.T_max, self.eta_min
  for i, base in ipairs(self.base_lrs) do
    r[i] = eta + (base - eta) * (1 + math.cos(math.pi * e / T)) / 2
  end
  return r
end

return M
