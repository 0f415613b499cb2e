-- Loss modules: MSELoss, L1Loss, BCEWithLogitsLoss, CrossEntropyLoss. Each
-- calls its sg.F function with the options given to the constructor
-- (PyTorch's names and defaults; the legacy size_average / reduce are not
-- taken). Tensors among the options (weight, pos_weight) are buffers, so
-- they follow :to() and appear in state_dict() as in PyTorch.
local sg = require "sgen"
local U = require "sgen.nn.util"
local M = require "sgen.nn.module"

local Module = M.Module

local function reduction_arg(name, r)
  if r == nil then return "mean" end
  if r ~= "mean" and r ~= "sum" and r ~= "none" then
    U.fail(name, "option 'reduction' must be \"mean\", \"sum\" or \"none\", got %s", tostring(r))
  end
  return r
end

local function tensor_opt(self, name, key, v)
  if v == nil then return end
  if not U.is_tensor(v) then
    U.fail(name, "option '%s' must be a tensor, got %s", key, U.typename(v))
  end
  self:register_buffer(key, v)
end

local function inputs(name, input, target)
  if not U.is_tensor(input) then U.fail(name, "expected a tensor input, got %s", U.typename(input)) end
  if not U.is_tensor(target) then U.fail(name, "expected a tensor target, got %s", U.typename(target)) end
end

-- nn.MSELoss({reduction="mean"}), nn.L1Loss({reduction="mean"})
local function pointwise(cname, fname)
  local C = Module:extend(cname)
  function C:init(opts)
    local o = U.opts(cname, opts, {"reduction"})
    self.reduction = reduction_arg(cname, o.reduction)
  end
  function C:forward(input, target)
    inputs(cname, input, target)
    return sg.F[fname](input, target, {reduction = self.reduction})
  end
  return C
end

local MSELoss = pointwise("MSELoss", "mse_loss")
local L1Loss = pointwise("L1Loss", "l1_loss")

-- nn.BCEWithLogitsLoss({weight=, reduction="mean", pos_weight=})
local BCEWithLogitsLoss = Module:extend("BCEWithLogitsLoss")

function BCEWithLogitsLoss:init(opts)
  local name = "BCEWithLogitsLoss"
  local o = U.opts(name, opts, {"weight", "reduction", "pos_weight"})
  self.reduction = reduction_arg(name, o.reduction)
  tensor_opt(self, name, "weight", o.weight)
  tensor_opt(self, name, "pos_weight", o.pos_weight)
end

function BCEWithLogitsLoss:forward(input, target)
  inputs("BCEWithLogitsLoss", input, target)
  return sg.F.binary_cross_entropy_with_logits(input, target,
    {weight = self.weight, pos_weight = self.pos_weight, reduction = self.reduction})
end

-- nn.CrossEntropyLoss({weight=, ignore_index=-100, reduction="mean",
--   label_smoothing=0}): targets are 1-based labels as in F.cross_entropy.
local CrossEntropyLoss = Module:extend("CrossEntropyLoss")

function CrossEntropyLoss:init(opts)
  local name = "CrossEntropyLoss"
  local o = U.opts(name, opts, {"weight", "ignore_index", "reduction", "label_smoothing"})
  self.reduction = reduction_arg(name, o.reduction)
  tensor_opt(self, name, "weight", o.weight)
  local ii = o.ignore_index == nil and -100 or o.ignore_index
  if not U.is_int(ii) then U.fail(name, "option 'ignore_index' must be an integer, got %s", tostring(ii)) end
  self.ignore_index = math.tointeger(ii)
  local ls = o.label_smoothing == nil and 0.0 or o.label_smoothing
  if type(ls) ~= "number" or ls < 0 or ls > 1 then
    U.fail(name, "option 'label_smoothing' must be a number in [0, 1], got %s", tostring(ls))
  end
  self.label_smoothing = ls
end

function CrossEntropyLoss:forward(input, target)
  inputs("CrossEntropyLoss", input, target)
  return sg.F.cross_entropy(input, target, {weight = self.weight, reduction = self.reduction,
    ignore_index = self.ignore_index, label_smoothing = self.label_smoothing})
end

return {MSELoss = MSELoss, L1Loss = L1Loss, BCEWithLogitsLoss = BCEWithLogitsLoss,
        CrossEntropyLoss = CrossEntropyLoss}
