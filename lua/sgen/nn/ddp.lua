-- nn.DistributedDataParallel and nn.SyncBatchNorm's forward (docs/distributed.md).
--
--   sg.dist.init()
--   local ddp = nn.DistributedDataParallel(net, {bucket_mb = 25, sync_bn = false})
--   local loss = F.cross_entropy(ddp(x), y)
--   ddp:backward(loss)       -- loss:backward(), then the gradients averaged over ranks
--   opt:step()
--
-- The engine has no per-parameter gradient hooks, so the all-reduce cannot
-- start while backward still runs (PyTorch overlaps the two): ddp:backward
-- runs backward, then all-reduces the gradients in contiguous flat buckets
-- of about bucket_mb MB (parameters in reverse order of registration, as
-- PyTorch fills its buckets), one collective per bucket. A loop that calls
-- loss:backward() itself calls ddp:sync_gradients() before the step.
local sg = require "sgen"
local dist = require "sgen.dist"
local M = require "sgen.nn.module"
local U = require "sgen.nn.util"
local check = require "sgen.util.check"

local Module = M.Module
local NAME = "DistributedDataParallel"
local ELEMENT_SIZE = {float32 = 4, float64 = 8, int64 = 8, uint8 = 1, bool = 1}

local function fail(fmt, ...) U.fail(NAME, fmt, ...) end

-- ---------------------------------------------------------------- SyncBatchNorm
-- A BatchNorm's training forward with the batch statistics of all ranks
-- (two-pass mean and biased variance through sg.dist.nn.all_reduce, so the
-- gradients also flow across ranks): the same output and gradients as one
-- process holding the whole global batch. Evaluation uses the running
-- statistics, like the plain BatchNorm.
local function sync_bn_forward(self, x)
  local cls = getmetatable(self)
  if not self.training or dist.world_size() == 1 then return cls.forward(self, x) end
  if not U.is_tensor(x) or x:dim() < 2 or x:size(2) ~= self.num_features then
    return cls.forward(self, x) -- the plain forward raises its usual error
  end
  local C = self.num_features
  local shape = x:shape()
  local tshape = {shape[2], shape[1]}
  for i = 3, #shape do tshape[i] = shape[i] end
  local xc = x:transpose(1, 2):reshape(C, -1)
  local count = sg.tensor({xc:size(2) * 1.0}, {dtype = "float64", device = x:device()})
  dist.all_reduce(count)
  local n = count:item()
  local mean = dist.nn.all_reduce(xc:sum(2)) / n
  local d = xc - mean:view(C, 1)
  local var = dist.nn.all_reduce((d * d):sum(2)) / n
  local y = d / (var + self.eps):sqrt():view(C, 1)
  if self.weight ~= nil then y = y * self.weight:view(C, 1) + self.bias:view(C, 1) end
  if self.track_running_stats then
    local eaf = self:_average_factor()
    U.no_grad(function()
      local rm, rv = self.running_mean, self.running_var
      rm:copy_(rm * (1 - eaf) + mean:detach() * eaf)
      rv:copy_(rv * (1 - eaf) + var:detach() * (eaf * n / math.max(n - 1, 1)))
    end)
  end
  return y:reshape(tshape):transpose(1, 2)
end

local BN_CLASSES = {BatchNorm1d = true, BatchNorm2d = true}

-- Every BatchNorm of m takes the synchronized forward (in place: the
-- module keeps its parameters, buffers and state_dict names). Returns m.
local function convert_sync_batchnorm(m)
  for _, mod in ipairs(m:modules()) do
    if BN_CLASSES[getmetatable(mod).__name] then mod.forward = sync_bn_forward end
  end
  return m
end

-- ---------------------------------------------------------------- DDP
local DDP = Module:extend(NAME)

local OPT_KEYS = {"bucket_mb", "sync_bn"}

function DDP:init(module, opts)
  if not U.is_module(module) then fail("argument 1 (module) expected a module, got %s", U.typename(module)) end
  opts = opts or {}
  if type(opts) ~= "table" then fail("argument 2 (opts) expected an options table, got %s", type(opts)) end
  check.options(opts, OPT_KEYS, "sgen.nn." .. NAME, 0) -- level 0: sg.nn's messages carry no position
  local mb = opts.bucket_mb == nil and 25 or opts.bucket_mb
  if type(mb) ~= "number" or not (mb > 0) then fail("option bucket_mb expected a number > 0, got %s", tostring(mb)) end
  if opts.sync_bn ~= nil and type(opts.sync_bn) ~= "boolean" then
    fail("option sync_bn expected a boolean, got %s", type(opts.sync_bn))
  end
  if not dist.is_initialized() then
    fail("sg.dist.init() was not called (it must come before wrapping the model)")
  end
  self.module = module
  self.bucket_bytes = math.max(1, math.floor(mb * 1024 * 1024))
  self.sync_bn = opts.sync_bn or false
  self.require_sync = true
  self._flat = {} -- bucket k -> its flat buffer, reused while the layout holds
  if self.sync_bn then convert_sync_batchnorm(module) end
  -- every rank starts from rank 0's parameters and buffers
  U.no_grad(function()
    for _, p in ipairs(module:parameters()) do dist.broadcast(p, 0) end
    for _, b in ipairs(module:buffers()) do dist.broadcast(b, 0) end
  end)
end

function DDP:forward(...) return self.module(...) end

-- The trainable parameters in reverse registration order, cut into buckets
-- of one dtype and device and at most bucket_bytes (a larger parameter is a
-- bucket alone).
function DDP:_buckets()
  local params = {}
  for _, p in ipairs(self.module:parameters()) do
    if p.requires_grad then table.insert(params, 1, p) end
  end
  local buckets, cur = {}, nil
  for _, p in ipairs(params) do
    local dtype, device = p:dtype(), p:device()
    local bytes = p:numel() * (ELEMENT_SIZE[dtype] or 8)
    if cur == nil or cur.dtype ~= dtype or cur.device ~= device or
        (cur.bytes + bytes > self.bucket_bytes and #cur.params > 0) then
      cur = {dtype = dtype, device = device, params = {}, numel = 0, bytes = 0}
      buckets[#buckets + 1] = cur
    end
    cur.params[#cur.params + 1] = p
    cur.numel = cur.numel + p:numel()
    cur.bytes = cur.bytes + bytes
  end
  return buckets, params
end

function DDP:_flat_buffer(k, b)
  local f = self._flat[k]
  if f == nil or f:numel() ~= b.numel or f:dtype() ~= b.dtype or f:device() ~= b.device then
    f = sg.empty({b.numel}, {dtype = b.dtype, device = b.device})
    self._flat[k] = f
  end
  return f
end

--- ddp:sync_gradients(): averages the parameters' gradients over the ranks
-- (no-op inside no_sync). A parameter without a gradient on some ranks
-- counts as zero there; one without a gradient on every rank keeps none.
function DDP:sync_gradients()
  if not self.require_sync or dist.world_size() == 1 then return end
  local buckets, params = self:_buckets()
  if #params == 0 then return end
  local has = {}
  for i, p in ipairs(params) do has[i] = p.grad ~= nil and 1.0 or 0.0 end
  local present = dist.all_reduce(sg.tensor(has, {dtype = "float64"})):totable()
  local pos = 0
  U.no_grad(function()
    for k, b in ipairs(buckets) do
      local flat = self:_flat_buffer(k, b)
      local off = 1
      for _, p in ipairs(b.params) do
        local n, g = p:numel(), p.grad
        local slot = flat:narrow(1, off, n)
        if g ~= nil then slot:copy_(g:reshape(-1)) else slot:zero_() end
        off = off + n
      end
      dist.all_reduce(flat, {op = "mean"})
      off = 1
      for _, p in ipairs(b.params) do
        pos = pos + 1
        local n = p:numel()
        if present[pos] > 0 then
          local avg = flat:narrow(1, off, n):view(p:shape())
          if p.grad ~= nil then p.grad:copy_(avg) else p.grad = avg:clone() end
        end
        off = off + n
      end
    end
  end)
end

--- ddp:backward(loss, opts): loss:backward(opts), then sync_gradients()
function DDP:backward(loss, opts)
  if not U.is_tensor(loss) then fail("backward: argument 1 (loss) expected a tensor, got %s", U.typename(loss)) end
  loss:backward(opts)
  self:sync_gradients()
end

--- ddp:no_sync(fn, ...): runs fn(...) with gradient synchronization off
-- (gradient accumulation: the next synchronized backward averages the sum)
function DDP:no_sync(fn, ...)
  if type(fn) ~= "function" then fail("no_sync: argument 1 expected a function, got %s", type(fn)) end
  local prev = self.require_sync
  self.require_sync = false
  local res = table.pack(pcall(fn, ...))
  self.require_sync = prev
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

function DDP:extra_repr()
  return string.format("world_size=%d, bucket_mb=%s, sync_bn=%s", dist.world_size(),
    U.pyfloat(self.bucket_bytes / 1048576), U.py(self.sync_bn))
end

-- nn.SyncBatchNorm.convert_sync_batchnorm(m), PyTorch's name (DDP's sync_bn = true does it);
-- there is no SyncBatchNorm layer of its own: BatchNorm modules are converted in place.
local SyncBatchNorm = setmetatable({convert_sync_batchnorm = convert_sync_batchnorm}, {
  __call = function()
    U.fail("SyncBatchNorm", "build a BatchNorm1d/2d and convert it: nn.SyncBatchNorm.convert_sync_batchnorm(module), "
      .. "or nn.DistributedDataParallel(module, {sync_bn = true})")
  end,
})

return {DistributedDataParallel = DDP, SyncBatchNorm = SyncBatchNorm}
