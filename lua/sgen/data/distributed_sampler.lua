-- DistributedSampler: this rank's share of a dataset (docs/distributed.md),
-- PyTorch's torch.utils.data.DistributedSampler.
--
--   local sampler = data.DistributedSampler(ds, {shuffle = true, seed = 0})
--   local loader = data.DataLoader(ds, {batch_size = 64, sampler = sampler})
--
-- Epoch e orders the dataset by sg.randperm(n) drawn after
-- sg.manual_seed(seed + e) (the global RNG state saved and restored, as the
-- DataLoader does), the same permutation on every rank; without drop_last
-- the order is padded with its first indices up to a multiple of the world
-- size, with drop_last cut down to one; rank r (0-based) takes positions
-- r + 1, r + 1 + R, r + 1 + 2R, ... Ranks get disjoint, equal shares.
-- The epoch is the one given to set_epoch(e); while set_epoch was never
-- called, a DataLoader passes its own epoch count (1 for the first iter()).
local core = require "sgen.core"
local dist = require "sgen.dist"
local check = require "sgen.util.check"
local perm = require "sgen.data.perm"

local Sampler = {}
Sampler.__index = Sampler
Sampler.__name = "sgen.data.DistributedSampler"

local function fail(msg, level) error("sgen.data.DistributedSampler: " .. msg, level + 1) end

local OPT_KEYS = {"num_replicas", "rank", "shuffle", "seed", "drop_last"}

local function new(dataset, opts)
  if type(dataset) ~= "table" or type(dataset.len) ~= "function" then
    fail("argument 1 (dataset) expected a dataset with len(), got " .. type(dataset), 3)
  end
  opts = opts or {}
  if type(opts) ~= "table" then fail("argument 2 (opts) expected an options table, got " .. type(opts), 3) end
  check.options(opts, OPT_KEYS, "sgen.data.DistributedSampler")
  for _, k in ipairs({"shuffle", "drop_last"}) do
    if opts[k] ~= nil and type(opts[k]) ~= "boolean" then
      fail("option " .. k .. " expected a boolean, got " .. type(opts[k]), 3)
    end
  end
  local R, r = opts.num_replicas, opts.rank
  if R == nil or r == nil then
    if not dist.is_initialized() then
      fail("sg.dist.init() was not called (or give num_replicas and rank)", 3)
    end
    R = R or dist.world_size()
    r = r or dist.rank()
  end
  if math.type(R) ~= "integer" or R < 1 then fail("num_replicas expected an integer >= 1, got " .. tostring(R), 3) end
  if math.type(r) ~= "integer" or r < 0 or r >= R then
    fail(string.format("rank expected an integer from 0 to %d, got %s", R - 1, tostring(r)), 3)
  end
  local seed = opts.seed or 0
  if math.type(seed) ~= "integer" then fail("option seed expected an integer, got " .. tostring(seed), 3) end
  local n = dataset:len()
  local drop = opts.drop_last or false
  local per
  if drop and n % R ~= 0 then per = n // R else per = (n + R - 1) // R end
  local shuffle = opts.shuffle
  if shuffle == nil then shuffle = true end
  return setmetatable({dataset = dataset, num_replicas = R, rank = r, shuffle = shuffle,
                       seed = seed, drop_last = drop, num_samples = per, total_size = per * R,
                       epoch = 0, epoch_set = false}, Sampler)
end

--- sampler:set_epoch(e): the epoch whose order the next indices() gives
function Sampler:set_epoch(e)
  if math.type(e) ~= "integer" or e < 0 then
    fail("set_epoch: argument 1 (epoch) expected an integer >= 0, got " .. tostring(e), 2)
  end
  self.epoch, self.epoch_set = e, true
end

--- sampler:len() -> the number of samples of this rank per epoch
function Sampler:len() return self.num_samples end
Sampler.__len = Sampler.len

--- sampler:indices([epoch]) -> 1-based int64 indices of this rank's samples
function Sampler:indices(e)
  e = e or self.epoch
  local n = self.dataset:len()
  local order
  if self.shuffle then
    order = perm.seeded(n, self.seed + e):totable()
  else
    order = {}
    for i = 1, n do order[i] = i end
  end
  local total = self.total_size
  local k = #order
  local i = 1
  while #order < total and k > 0 do -- pad by repeating the order from its start
    order[#order + 1] = order[i]
    i = i % k + 1
  end
  local mine = {}
  for pos = self.rank + 1, total, self.num_replicas do mine[#mine + 1] = order[pos] end
  return core.tensor(mine, {dtype = "int64"})
end

function Sampler:__tostring()
  return string.format("DistributedSampler(%d samples, rank %d of %d, %d per rank, shuffle=%s, drop_last=%s)",
    self.dataset:len(), self.rank, self.num_replicas, self.num_samples, tostring(self.shuffle),
    tostring(self.drop_last))
end

return new
