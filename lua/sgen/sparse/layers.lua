-- Sparsity layers (nn modules) over the projections of sg.sparse:
--   nn.L0Project(k)                 per sample keep the k largest |entries|
--   nn.L0InfProject(k, {dim=2})     per needle (sample, position) keep k channels
--   nn.SoftThreshold(lambda, {learnable=false, channels=nil})
-- They have no state besides SoftThreshold's optional learnable threshold,
-- whose state_dict name is "lambda" (a 1-element tensor, or C x 1 x 1 with
-- `channels = C`, one threshold per channel).
local sg = require "sgen"
local core = require "sgen.core"
local Module = require("sgen.nn.module").Module
local check = require "sgen.util.check"

local M = {}

local function fail(name, fmt, ...)
  error(string.format("sgen.nn.%s: " .. fmt, name, ...), 0)
end

local function check_k(name, k, allow_fraction)
  if type(k) ~= "number" or k ~= k then
    fail(name, "argument 1 (k) expected a number, got %s", type(k) == "number" and "nan" or type(k))
  end
  if math.type(k) == "integer" or k == math.floor(k) then
    if k < 1 then fail(name, "argument 1 (k) must be at least 1, got %s", tostring(k)) end
  elseif not allow_fraction or k <= 0 or k > 1 then
    fail(name, "argument 1 (k) must be a positive integer%s, got %s",
      allow_fraction and " or a fraction in (0, 1]" or "", tostring(k))
  end
end

local function check_opts(name, opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" then fail(name, "argument 2 (opts) expected a table, got %s", type(opts)) end
  return check.options(opts, allowed, "sgen.nn." .. name, 0)
end

-- L0Project(k): per sample (dim 1 is the batch) keep the k largest |entries|
-- of the other dims; k a count (integer) or a fraction in (0, 1] of them.
local L0Project = Module:extend("L0Project")
function L0Project:init(k)
  check_k("L0Project", k, true)
  self.k = k
end
function L0Project:forward(x) return core.l0_project(x, self.k) end
function L0Project:extra_repr() return "k=" .. tostring(self.k) end
M.L0Project = L0Project

-- L0InfProject(k, {dim=2}): for every sample and position of the other
-- dims, keep the k largest |entries| along dim (the channels).
local L0InfProject = Module:extend("L0InfProject")
function L0InfProject:init(k, opts)
  check_k("L0InfProject", k, false)
  opts = check_opts("L0InfProject", opts, {dim = true})
  self.k = math.tointeger(k) or k
  self.dim = opts.dim or 2
end
function L0InfProject:forward(x) return core.l0inf_project(x, self.k, {dim = self.dim}) end
function L0InfProject:extra_repr() return string.format("k=%d, dim=%d", self.k, self.dim) end
M.L0InfProject = L0InfProject

-- SoftThreshold(lambda, {learnable=false, channels=C}):
-- sign(x) * max(|x| - lambda, 0). With learnable = true, lambda is a
-- parameter (one value, or one per channel of N x C x H x W inputs).
local SoftThreshold = Module:extend("SoftThreshold")
function SoftThreshold:init(lambda, opts)
  if type(lambda) ~= "number" or lambda ~= lambda or lambda < 0 then
    fail("SoftThreshold", "argument 1 (lambda) expected a non-negative number, got %s",
      type(lambda) ~= "number" and type(lambda) or (lambda ~= lambda and "nan" or tostring(lambda)))
  end
  opts = check_opts("SoftThreshold", opts, {learnable = true, channels = true})
  if opts.channels ~= nil and (math.type(opts.channels) ~= "integer" or opts.channels < 1) then
    fail("SoftThreshold", "option 'channels' expected a positive integer, got %s", tostring(opts.channels))
  end
  self.learnable = opts.learnable == true
  self.channels = opts.channels
  if self.learnable then
    local shape = self.channels and {self.channels, 1, 1} or {1}
    self.lambda = sg.full(shape, lambda):requires_grad_()
  else
    self.value = lambda
  end
end
function SoftThreshold:forward(x)
  if self.learnable then return core.soft_threshold(x, self.lambda) end
  return core.soft_threshold(x, self.value)
end
function SoftThreshold:extra_repr()
  if self.learnable then
    return string.format("learnable=true%s", self.channels and (", channels=" .. self.channels) or "")
  end
  return "lambda=" .. tostring(self.value)
end
M.SoftThreshold = SoftThreshold

return M
