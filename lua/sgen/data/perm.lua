-- sgen.data.perm: the sample order of an epoch. seeded(n, seed) is the
-- 1-based int64 permutation of 1..n drawn from the global RNG reseeded with
-- `seed`, leaving the global RNG state as it was (a shuffled epoch does not
-- change what the training loop draws next). DataLoader and
-- DistributedSampler both use it, so one seed gives one order in both.
local core = require "sgen.core"

local M = {}

function M.seeded(n, seed)
  local state = core.get_rng_state()
  local ok, order = pcall(function()
    core.manual_seed(seed)
    return core.randperm(n)
  end)
  core.set_rng_state(state)
  if not ok then error(order, 0) end
  return order
end

return M
