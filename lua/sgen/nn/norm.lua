-- BatchNorm1d, BatchNorm2d, InstanceNorm2d, LayerNorm, GroupNorm.
local sg = require "sgen"
local U = require "sgen.nn.util"
local M = require "sgen.nn.module"
local init = require "sgen.nn.init_fns"

local Module = M.Module

local function factory(o)
  return {dtype = o.dtype or "float32", device = o.device or "cpu"}
end

-- momentum: a number in [0, 1], or false for PyTorch's momentum=None (a
-- cumulative moving average: factor 1/num_batches_tracked).
local function momentum_arg(name, v)
  if v == nil then return 0.1 end
  if v == false then return false end
  return U.num(name, "option 'momentum'", v, 0)
end

-- ---------------------------------------------------------------- _NormBase
local NormBase = Module:extend("_NormBase")

function NormBase:_setup(name, num_features, opts, defaults)
  local o = U.opts(name, opts, {"eps", "momentum", "affine", "track_running_stats", "dtype",
                                "device"})
  self.num_features = U.int(name, "num_features", num_features, 1)
  self.eps = U.num(name, "option 'eps'", o.eps == nil and 1e-5 or o.eps, 0)
  self.momentum = momentum_arg(name, o.momentum)
  local affine = o.affine
  if affine == nil then affine = defaults.affine end
  self.affine = U.bool(name, "option 'affine'", affine)
  local trs = o.track_running_stats
  if trs == nil then trs = defaults.track_running_stats end
  self.track_running_stats = U.bool(name, "option 'track_running_stats'", trs)
  local f = factory(o)
  if self.affine then
    self.weight = sg.ones({self.num_features}, f):requires_grad_()
    self.bias = sg.zeros({self.num_features}, f):requires_grad_()
  end
  if self.track_running_stats then
    self:register_buffer("running_mean", sg.zeros({self.num_features}, f))
    self:register_buffer("running_var", sg.ones({self.num_features}, f))
    self:register_buffer("num_batches_tracked",
      sg.zeros({}, {dtype = "int64", device = f.device}))
  end
end

function NormBase:reset_running_stats()
  if self.track_running_stats then
    U.no_grad(function()
      self.running_mean:zero_()
      self.running_var:fill_(1)
      self.num_batches_tracked:zero_()
    end)
  end
end

function NormBase:reset_parameters()
  self:reset_running_stats()
  if self.affine then
    init.ones_(self.weight)
    init.zeros_(self.bias)
  end
end

function NormBase:extra_repr()
  return string.format("%d, eps=%s, momentum=%s, affine=%s, track_running_stats=%s",
    self.num_features, U.pyfloat(self.eps),
    self.momentum == false and "None" or U.pyfloat(self.momentum),
    U.py(self.affine), U.py(self.track_running_stats))
end

-- In training mode with running stats: counts the batch and returns the
-- factor of the running average (momentum, or 1/count for momentum=false).
function NormBase:_average_factor()
  local eaf = self.momentum == false and 0 or self.momentum
  if self.training and self.track_running_stats then
    local nbt = self.num_batches_tracked
    local n = nbt:item() + 1
    U.no_grad(function() nbt:fill_(n) end)
    if self.momentum == false then eaf = 1 / n end
  end
  return eaf
end

-- ---------------------------------------------------------------- BatchNorm
local BatchNorm = NormBase:extend("_BatchNorm")

function BatchNorm:init(num_features, opts)
  self:_setup(self.__name, num_features, opts, {affine = true, track_running_stats = true})
end

function BatchNorm:forward(x) return self:_forward_act(x) end

-- The forward followed by an activation ("relu" or "leaky_relu", with its
-- negative slope) in one fused op (F.batch_norm's `activation` option):
-- nn.Sequential runs a BatchNorm and the plain nn.ReLU / nn.LeakyReLU after
-- it this way. The output is bit for bit that of the two modules in turn,
-- the gradients agree to rounding.
function BatchNorm:_forward_act(x, activation, negative_slope)
  local name = getmetatable(self).__name
  if not U.is_tensor(x) then U.fail(name, "expected a tensor input, got %s", U.typename(x)) end
  self:_check_input_dim(x)
  if x:size(2) ~= self.num_features then
    U.fail(name, "input has %d channels (%s), expected num_features = %d", x:size(2),
      U.shape_str(x), self.num_features)
  end
  local eaf = self:_average_factor()
  local bn_training = self.training or (self.running_mean == nil and self.running_var == nil)
  local use_stats = not self.training or self.track_running_stats
  return sg.F.batch_norm(x, use_stats and self.running_mean or nil,
    use_stats and self.running_var or nil, self.weight, self.bias,
    {training = bn_training, momentum = eaf, eps = self.eps, activation = activation,
     negative_slope = negative_slope})
end

-- What nn.Sequential fuses after this module: the activation name and slope
-- when `next_module` is a plain nn.ReLU / nn.LeakyReLU (neither this module
-- nor it with an overridden forward); nil otherwise.
function BatchNorm:_fusable_activation(next_module)
  if self.forward ~= BatchNorm.forward then return nil end
  local A = require "sgen.nn.activation"
  local cls = getmetatable(next_module)
  if cls == A.ReLU and next_module.forward == A.ReLU.forward then return "relu", 0 end
  if cls == A.LeakyReLU and next_module.forward == A.LeakyReLU.forward then
    return "leaky_relu", next_module.negative_slope
  end
  return nil
end

-- nn.BatchNorm2d(num_features, {eps=1e-5, momentum=0.1 (false: cumulative
--   average), affine=true, track_running_stats=true, dtype=, device=})
local BatchNorm2d = BatchNorm:extend("BatchNorm2d")

function BatchNorm2d:_check_input_dim(x)
  if x:dim() ~= 4 then
    U.fail("BatchNorm2d", "input has %d dims (%s), expected 4 (NxCxHxW)", x:dim(), U.shape_str(x))
  end
end

-- nn.BatchNorm1d(num_features, {...}): input N x C or N x C x L.
local BatchNorm1d = BatchNorm:extend("BatchNorm1d")

function BatchNorm1d:_check_input_dim(x)
  if x:dim() ~= 2 and x:dim() ~= 3 then
    U.fail("BatchNorm1d", "input has %d dims (%s), expected 2 (NxC) or 3 (NxCxL)", x:dim(),
      U.shape_str(x))
  end
end

-- ---------------------------------------------------------------- InstanceNorm2d
-- nn.InstanceNorm2d(num_features, {eps=1e-5, momentum=0.1, affine=false,
--   track_running_stats=false, dtype=, device=}): input N x C x H x W or C x H x W.
local InstanceNorm2d = NormBase:extend("InstanceNorm2d")

function InstanceNorm2d:init(num_features, opts)
  self:_setup("InstanceNorm2d", num_features, opts, {affine = false, track_running_stats = false})
end

function InstanceNorm2d:forward(x)
  local name = "InstanceNorm2d"
  if not U.is_tensor(x) then U.fail(name, "expected a tensor input, got %s", U.typename(x)) end
  local d = x:dim()
  if d ~= 3 and d ~= 4 then
    U.fail(name, "input has %d dims (%s), expected 3 (CxHxW) or 4 (NxCxHxW)", d, U.shape_str(x))
  end
  local c = x:size(d - 2)
  if c ~= self.num_features and self.affine then
    U.fail(name, "input has %d channels (%s), expected num_features = %d", c, U.shape_str(x),
      self.num_features)
  end
  local unbatched = d == 3
  if unbatched then x = x:unsqueeze(1) end
  -- as PyTorch's InstanceNorm: no batch counting, the momentum as given
  local eaf = self.momentum
  if eaf == false then
    if self.training and self.track_running_stats then
      U.fail(name, "momentum=false (a cumulative average) is not supported with running stats")
    end
    eaf = 0
  end
  local y = sg.F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
    {use_input_stats = self.training or not self.track_running_stats,
     momentum = eaf, eps = self.eps})
  if unbatched then y = y:squeeze(1) end
  return y
end

-- ---------------------------------------------------------------- LayerNorm
-- nn.LayerNorm(normalized_shape, {eps=1e-5, elementwise_affine=true, dtype=, device=}):
-- normalizes over the last #normalized_shape dims (a number is {n}).
local LayerNorm = Module:extend("LayerNorm")

function LayerNorm:init(normalized_shape, opts)
  local name = "LayerNorm"
  local o = U.opts(name, opts, {"eps", "elementwise_affine", "dtype", "device"})
  local shape
  if type(normalized_shape) == "number" then
    shape = {U.int(name, "normalized_shape", normalized_shape, 1)}
  elseif type(normalized_shape) == "table" and not U.is_tensor(normalized_shape) and
      #normalized_shape > 0 then
    shape = {}
    for i, n in ipairs(normalized_shape) do shape[i] = U.int(name, "normalized_shape", n, 1) end
  else
    U.fail(name, "normalized_shape must be an integer or a non-empty table of integers, got %s",
      U.typename(normalized_shape))
  end
  self.normalized_shape = shape
  self.eps = U.num(name, "option 'eps'", o.eps == nil and 1e-5 or o.eps, 0)
  local ea = o.elementwise_affine
  if ea == nil then ea = true end
  self.elementwise_affine = U.bool(name, "option 'elementwise_affine'", ea)
  if self.elementwise_affine then
    local f = factory(o)
    self.weight = sg.ones(shape, f):requires_grad_()
    self.bias = sg.zeros(shape, f):requires_grad_()
  end
end

function LayerNorm:reset_parameters()
  if self.elementwise_affine then
    init.ones_(self.weight)
    init.zeros_(self.bias)
  end
end

function LayerNorm:forward(x)
  local name = "LayerNorm"
  if not U.is_tensor(x) then U.fail(name, "expected a tensor input, got %s", U.typename(x)) end
  local s, ns = x:shape(), self.normalized_shape
  local ok = #s >= #ns
  for i = 1, #ns do ok = ok and s[#s - #ns + i] == ns[i] end
  if not ok then
    U.fail(name, "input of shape %s does not end with normalized_shape %s", U.shape_str(x),
      table.concat(ns, "x"))
  end
  return sg.F.layer_norm(x, ns, self.weight, self.bias, {eps = self.eps})
end

function LayerNorm:extra_repr()
  return string.format("%s, eps=%s, elementwise_affine=%s", U.py(self.normalized_shape),
    U.pyfloat(self.eps), U.py(self.elementwise_affine))
end

-- ---------------------------------------------------------------- GroupNorm
-- nn.GroupNorm(num_groups, num_channels, {eps=1e-5, affine=true, dtype=, device=}):
-- F.group_norm with per-channel weight (ones) and bias (zeros).
local GroupNorm = Module:extend("GroupNorm")

function GroupNorm:init(num_groups, num_channels, opts)
  local name = "GroupNorm"
  local o = U.opts(name, opts, {"eps", "affine", "dtype", "device"})
  self.num_groups = U.int(name, "num_groups", num_groups, 1)
  self.num_channels = U.int(name, "num_channels", num_channels, 1)
  if self.num_channels % self.num_groups ~= 0 then
    U.fail(name, "num_channels (%d) must be divisible by num_groups (%d)", self.num_channels,
      self.num_groups)
  end
  self.eps = U.num(name, "option 'eps'", o.eps == nil and 1e-5 or o.eps, 0)
  local affine = o.affine
  if affine == nil then affine = true end
  self.affine = U.bool(name, "option 'affine'", affine)
  if self.affine then
    local f = factory(o)
    self.weight = sg.ones({self.num_channels}, f):requires_grad_()
    self.bias = sg.zeros({self.num_channels}, f):requires_grad_()
  end
end

function GroupNorm:reset_parameters()
  if self.affine then
    init.ones_(self.weight)
    init.zeros_(self.bias)
  end
end

function GroupNorm:forward(x)
  local name = "GroupNorm"
  if not U.is_tensor(x) then U.fail(name, "expected a tensor input, got %s", U.typename(x)) end
  if x:dim() < 2 or x:size(2) ~= self.num_channels then
    U.fail(name, "input of shape %s, expected N x %d x ... (num_channels = %d)", U.shape_str(x),
      self.num_channels, self.num_channels)
  end
  return sg.F.group_norm(x, self.num_groups, self.weight, self.bias, {eps = self.eps})
end

function GroupNorm:extra_repr()
  return string.format("%d, %d, eps=%s, affine=%s", self.num_groups, self.num_channels,
    U.pyfloat(self.eps), U.py(self.affine))
end

return {BatchNorm1d = BatchNorm1d, BatchNorm2d = BatchNorm2d, InstanceNorm2d = InstanceNorm2d,
        LayerNorm = LayerNorm, GroupNorm = GroupNorm}
