-- Run by `sgen launch -n 2 --backend=nccl` (ctest dist.nccl, skipped without
-- NCCL or with fewer than 2 GPUs): the collectives on CUDA tensors against
-- hand-computed values, and the device error.
local sg = require "sgen"
local dist = sg.dist

local function same(expected, t, what)
  local got = t:cpu():view(-1):totable()
  for i, e in ipairs(expected) do
    if math.abs(got[i] - e) > 1e-6 * math.max(1, math.abs(e)) then
      error(string.format("rank %d: %s: element %d is %s, expected %s", dist.rank(), what, i,
        tostring(got[i]), tostring(e)))
    end
  end
end

assert(require("sgen.cli").options({device = "cuda"}).device == "cuda")
dist.init({backend = "nccl"})
local r = dist.rank()
assert(dist.world_size() == 2 and dist.backend() == "nccl")
local base = sg.tensor({1.0, 2.0, 3.0}):cuda()
same({3, 6, 9}, dist.all_reduce(base * (r + 1)), "sum")
same({1.5, 3, 4.5}, dist.all_reduce(base * (r + 1), {op = "mean"}), "mean")
same({2, 4, 6}, dist.all_reduce(base * (r + 1), {op = "max"}), "max")
same({1, 1}, dist.broadcast(sg.full({2}, r * 1.0):cuda(), 1), "broadcast")
same({0, 1}, dist.all_gather(sg.full({1}, r * 1.0):cuda()), "all_gather")
same(r == 0 and {3, 6} or {9, 12}, dist.reduce_scatter((sg.arange(1, 5):float() * (r + 1)):cuda()),
  "reduce_scatter")
local tv = sg.arange(1, 7):float():view(2, 3):cuda()
dist.all_reduce(tv:t())
same({2, 4, 6, 8, 10, 12}, tv, "strided")
local ok, err = pcall(dist.all_reduce, sg.zeros(2))
assert(not ok and tostring(err):find("the nccl backend takes CUDA tensors, got a tensor on cpu", 1, true),
  tostring(err))
dist.barrier()
dist.destroy()
print(string.format("rank %d: nccl collectives ok", r))
