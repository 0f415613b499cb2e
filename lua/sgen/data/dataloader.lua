-- DataLoader: batches over a dataset, optionally shuffled and reproducible.
--
--   local loader = data.DataLoader(ds, {batch_size = 128, shuffle = true, seed = 1})
--   for epoch = 1, 10 do
--     for x, y in loader:iter() do ... end     -- each iter() is a new epoch
--   end
--
-- Shuffling: epoch e (1 for the first call of iter()) uses the permutation
-- sg.randperm(n) drawn right after sg.manual_seed(seed + e), with the global
-- RNG state saved before and restored after, so the order depends only on
-- (seed, epoch) and the loader neither consumes nor disturbs the global
-- random stream (model initialisation, dropout). seed defaults to
-- sg.initial_seed() at construction (the last manual_seed).
-- The dataset needs len() and either batch(index) (fast path: one
-- index_select) or get(i) (the samples are stacked).
--
-- Resuming (sg.train checkpoints): loader:state_dict() -> {epoch =, batch =}
-- (the epoch of the last iter() and the batches it has yielded);
-- loader:load_state_dict(s) makes the next iter() yield exactly the remaining
-- batches of that epoch (same order), and the following ones the next
-- epochs. loader:next() -> x, y walks the epochs one batch at a time (for
-- loops counted in iterations rather than epochs).
local core = require "sgen.core"
local check = require "sgen.util.check"
local perm = require "sgen.data.perm"

local class = require "sgen.util.class"

local DataLoader = class("sgen.data.DataLoader")

local OPT_KEYS = {"batch_size", "shuffle", "drop_last", "seed", "transform", "sampler"}

-- Raised at the user's line, however the loader was reached (data.DataLoader(),
-- a training loop of sg.train).
local function fail(msg) check.error("sgen.data.DataLoader: " .. msg) end

-- data.DataLoader(dataset, opts)
function DataLoader:init(dataset, opts)
  if type(dataset) ~= "table" or type(dataset.len) ~= "function" then
    fail("argument 1 (dataset) expected a dataset with len() and get(i) or batch(index), got " ..
      type(dataset))
  end
  if type(dataset.batch) ~= "function" and type(dataset.get) ~= "function" then
    fail("argument 1 (dataset) has neither batch(index) nor get(i)")
  end
  opts = opts or {}
  if type(opts) ~= "table" then fail("argument 2 (opts) expected an options table, got " .. type(opts)) end
  check.options(opts, OPT_KEYS, "sgen.data.DataLoader")
  local bs = opts.batch_size or 1
  if math.type(bs) ~= "integer" then
    if type(bs) == "number" and bs == math.floor(bs) then bs = math.tointeger(bs) end
  end
  if math.type(bs) ~= "integer" or bs < 1 then
    fail("batch_size must be an integer >= 1, got " .. tostring(opts.batch_size))
  end
  for _, k in ipairs({"shuffle", "drop_last"}) do
    if opts[k] ~= nil and type(opts[k]) ~= "boolean" then
      fail("option " .. k .. " expected a boolean, got " .. type(opts[k]))
    end
  end
  local seed = opts.seed
  if seed ~= nil and math.type(seed) ~= "integer" then
    fail("option seed expected an integer, got " .. tostring(seed))
  end
  if seed == nil then seed = core.initial_seed() end
  if opts.transform ~= nil and type(opts.transform) ~= "function" then
    fail("option transform expected a function(x, y) -> x, y, got " .. type(opts.transform))
  end
  local n = dataset:len()
  if math.type(n) ~= "integer" or n < 0 then fail("dataset:len() returned " .. tostring(n)) end
  local sampler = opts.sampler
  if sampler ~= nil then
    if type(sampler) ~= "table" or type(sampler.indices) ~= "function" or type(sampler.len) ~= "function" then
      fail("option sampler expected a sampler with len() and indices(epoch) (data.DistributedSampler), got "
        .. type(sampler))
    end
    if opts.shuffle then fail("options sampler and shuffle exclude each other (the sampler shuffles)") end
  end
  self.dataset, self.batch_size, self.seed, self.transform = dataset, bs, seed, opts.transform
  self.shuffle, self.drop_last = opts.shuffle or false, opts.drop_last or false
  self.sampler = sampler
  self.epoch, self.batch = 0, 0
end

-- Samples per epoch: the sampler's share, else the dataset.
local function samples(self)
  if self.sampler then return self.sampler:len() end
  return self.dataset:len()
end

-- Number of batches per epoch.
function DataLoader:len()
  local n = samples(self)
  if self.drop_last then return n // self.batch_size end
  return (n + self.batch_size - 1) // self.batch_size
end
DataLoader.__len = DataLoader.len

-- The 1-based int64 sample order of epoch e (default: the next epoch).
function DataLoader:order(e)
  local n = self.dataset:len()
  if self.sampler then
    -- the sampler's own epoch once set_epoch was called on it, else this loader's
    if self.sampler.epoch_set then return self.sampler:indices() end
    return self.sampler:indices(e or (self.epoch + 1))
  end
  if not self.shuffle then return core.arange(1, n + 1, {dtype = "int64"}) end
  e = e or (self.epoch + 1)
  return perm.seeded(n, self.seed + e)
end

-- Sets the number of epochs already done (resuming: the next iter() runs epoch e + 1).
function DataLoader:set_epoch(e)
  if math.type(e) ~= "integer" or e < 0 then
    fail("set_epoch: argument 1 (epoch) expected an integer >= 0, got " .. tostring(e))
  end
  self.epoch = e
  self.batch = self:len()
  self._skip, self._it = nil, nil
end

-- loader:state_dict() -> {epoch = e, batch = b, batch_size =, samples =}:
-- where the loader is (b batches of epoch e yielded), plain numbers.
function DataLoader:state_dict()
  return {epoch = self.epoch, batch = self.batch, batch_size = self.batch_size,
          samples = self.dataset:len()}
end

-- loader:load_state_dict(s): the next iter() continues epoch s.epoch after
-- its s.batch-th batch (or starts epoch s.epoch + 1 when that one was done).
-- The batch size and the dataset's length must be those of the saved loader.
function DataLoader:load_state_dict(s)
  local function bad(msg) fail("load_state_dict: " .. msg) end
  if type(s) ~= "table" then bad("argument 1 (state) expected a table {epoch =, batch =}, got " .. type(s)) end
  for _, k in ipairs({"epoch", "batch"}) do
    local v = s[k]
    if math.type(v) ~= "integer" and type(v) == "number" and v == math.floor(v) then v = math.tointeger(v) end
    if math.type(v) ~= "integer" or v < 0 then
      bad("state." .. k .. " expected an integer >= 0, got " .. tostring(s[k]))
    end
  end
  if s.batch_size ~= nil and s.batch_size ~= self.batch_size then
    bad(string.format("the saved loader had batch_size %s, this one has %d", tostring(s.batch_size),
                      self.batch_size))
  end
  if s.samples ~= nil and s.samples ~= self.dataset:len() then
    bad(string.format("the saved loader's dataset had %s samples, this one has %d",
                      tostring(s.samples), self.dataset:len()))
  end
  local e, b = math.tointeger(s.epoch), math.tointeger(s.batch)
  local nb = self:len()
  if b > nb then bad(string.format("state.batch is %d, an epoch has %d batches", b, nb)) end
  if e == 0 or b == nb then
    self.epoch, self.batch, self._skip = e, nb, nil
  else
    self.epoch, self.batch, self._skip = e - 1, nb, b
  end
  self._it = nil
end

local function stack_samples(ds, idx)
  local xs, ys = {}, {}
  local list = idx:totable()
  local numeric = true
  for k, i in ipairs(list) do
    local x, y = ds:get(i)
    xs[k], ys[k] = x, y
    if type(y) ~= "number" then numeric = false end
  end
  local X = core.stack(xs, 1)
  local Y
  if #ys == #list and #list > 0 then
    if numeric then
      local allint = true
      for _, y in ipairs(ys) do if math.type(y) ~= "integer" then allint = false break end end
      Y = core.tensor(ys, allint and {dtype = "int64"} or nil)
    else
      Y = core.stack(ys, 1)
    end
  end
  return X, Y
end

-- loader:iter() -> an iterator over (x, y) batches of the next epoch.
function DataLoader:iter()
  self.epoch = self.epoch + 1
  local order = self:order(self.epoch)
  local ds, bs = self.dataset, self.batch_size
  local n = samples(self)
  local nb = self:len()
  local b = self._skip or 0 -- batches already yielded (a resumed epoch)
  self._skip = nil
  self.batch = b
  local fast = type(ds.batch) == "function"
  local transform = self.transform
  local it
  it = function()
    if b >= nb then return nil end
    local start = b * bs + 1
    local len = math.min(bs, n - start + 1)
    b = b + 1
    local idx = order:narrow(1, start, len)
    local x, y
    if fast then x, y = ds:batch(idx) else x, y = stack_samples(ds, idx) end
    if transform then x, y = transform(x, y) end
    if self._it == it then self.batch = b end
    return x, y
  end
  self._it = it
  return it
end

-- loader:next() -> x, y: the next batch, starting the next epoch when the
-- current one is done (iteration-counted loops: `for it = 1, n do local x, y =
-- loader:next() ... end`). Continues the epoch of the last iter().
function DataLoader:next()
  if self:len() == 0 then fail("next: the loader yields no batch (dataset smaller than a batch)") end
  if self._it == nil or self.batch >= self:len() then self:iter() end
  return self._it()
end

function DataLoader:__tostring()
  return string.format("DataLoader(%d samples, batch_size=%d, shuffle=%s, drop_last=%s, %d batches)",
    self.dataset:len(), self.batch_size, tostring(self.shuffle), tostring(self.drop_last), self:len())
end

return DataLoader
