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
local core = require "sgen.core"

local DataLoader = {}
DataLoader.__index = DataLoader
DataLoader.__name = "sgen.data.DataLoader"

local opt_keys = {batch_size = true, shuffle = true, drop_last = true, seed = true, transform = true}

local function fail(msg, level) error("sgen.data.DataLoader: " .. msg, level + 1) end

local function new(dataset, opts)
  if type(dataset) ~= "table" or type(dataset.len) ~= "function" then
    fail("argument 1 (dataset) expected a dataset with len() and get(i) or batch(index), got " ..
      type(dataset), 3)
  end
  if type(dataset.batch) ~= "function" and type(dataset.get) ~= "function" then
    fail("argument 1 (dataset) has neither batch(index) nor get(i)", 3)
  end
  opts = opts or {}
  if type(opts) ~= "table" then fail("argument 2 (opts) expected an options table, got " .. type(opts), 3) end
  for k in pairs(opts) do
    if not opt_keys[k] then
      fail("unknown option '" .. tostring(k) .. "' (expected batch_size, shuffle, drop_last, seed, transform)", 3)
    end
  end
  local bs = opts.batch_size or 1
  if math.type(bs) ~= "integer" then
    if type(bs) == "number" and bs == math.floor(bs) then bs = math.tointeger(bs) end
  end
  if math.type(bs) ~= "integer" or bs < 1 then
    fail("batch_size must be an integer >= 1, got " .. tostring(opts.batch_size), 3)
  end
  for _, k in ipairs({"shuffle", "drop_last"}) do
    if opts[k] ~= nil and type(opts[k]) ~= "boolean" then
      fail("option " .. k .. " expected a boolean, got " .. type(opts[k]), 3)
    end
  end
  local seed = opts.seed
  if seed ~= nil and math.type(seed) ~= "integer" then
    fail("option seed expected an integer, got " .. tostring(seed), 3)
  end
  if seed == nil then seed = core.initial_seed() end
  if opts.transform ~= nil and type(opts.transform) ~= "function" then
    fail("option transform expected a function(x, y) -> x, y, got " .. type(opts.transform), 3)
  end
  local n = dataset:len()
  if math.type(n) ~= "integer" or n < 0 then fail("dataset:len() returned " .. tostring(n), 3) end
  return setmetatable({dataset = dataset, batch_size = bs, shuffle = opts.shuffle or false,
                       drop_last = opts.drop_last or false, seed = seed, transform = opts.transform,
                       epoch = 0}, DataLoader)
end

-- Number of batches per epoch.
function DataLoader:len()
  local n = self.dataset:len()
  if self.drop_last then return n // self.batch_size end
  return (n + self.batch_size - 1) // self.batch_size
end
DataLoader.__len = DataLoader.len

-- The 1-based int64 sample order of epoch e (default: the next epoch).
function DataLoader:order(e)
  local n = self.dataset:len()
  if not self.shuffle then return core.arange(1, n + 1, {dtype = "int64"}) end
  e = e or (self.epoch + 1)
  local state = core.get_rng_state()
  local ok, perm = pcall(function()
    core.manual_seed(self.seed + e)
    return core.randperm(n)
  end)
  core.set_rng_state(state)
  if not ok then error(perm, 0) end
  return perm
end

-- Sets the number of epochs already done (resuming: the next iter() runs epoch e + 1).
function DataLoader:set_epoch(e)
  if math.type(e) ~= "integer" or e < 0 then
    fail("set_epoch: argument 1 (epoch) expected an integer >= 0, got " .. tostring(e), 2)
  end
  self.epoch = e
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
  local n = ds:len()
  local nb = self:len()
  local b = 0
  local fast = type(ds.batch) == "function"
  local transform = self.transform
  return function()
    if b >= nb then return nil end
    local start = b * bs + 1
    local len = math.min(bs, n - start + 1)
    b = b + 1
    local idx = order:narrow(1, start, len)
    local x, y
    if fast then x, y = ds:batch(idx) else x, y = stack_samples(ds, idx) end
    if transform then x, y = transform(x, y) end
    return x, y
  end
end

function DataLoader:__tostring()
  return string.format("DataLoader(%d samples, batch_size=%d, shuffle=%s, drop_last=%s, %d batches)",
    self.dataset:len(), self.batch_size, tostring(self.shuffle), tostring(self.drop_last), self:len())
end

return new
