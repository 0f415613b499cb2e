-- One DCGAN training step (D step + G step, ngf = ndf = 64, 32x32x3) under
-- nn.DistributedDataParallel, timed; run by bench/ddp_step.sh through
-- `sgen launch -n N`. Rank 0 prints ms per step and the gradient bytes
-- each rank hands to the all-reduce per step.
--   --batch=64 (global: each rank takes batch / world_size) --iters=10 --warmup=2
local sg = require "sgen"
local cli = require "sgen.cli"
local dcgan = require "models.dcgan"
local nn, F, dist = sg.nn, sg.F, sg.dist
local opts = cli.options({batch = 64, iters = 10, warmup = 2, sync_bn = false})

dist.init()
local rank, world = dist.rank(), dist.world_size()
local B = opts.batch // world
sg.manual_seed(1)
local G, D = dcgan.Generator(), dcgan.Discriminator()
local mG = nn.DistributedDataParallel(G, {sync_bn = opts.sync_bn})
local mD = nn.DistributedDataParallel(D, {sync_bn = opts.sync_bn})
local optG = sg.optim.Adam(G:parameters(), {lr = 2e-4, betas = {0.5, 0.999}})
local optD = sg.optim.Adam(D:parameters(), {lr = 2e-4, betas = {0.5, 0.999}})
local real = sg.rand(B, 3, 32, 32) * 2.0 - 1.0

local function step()
  local z = sg.randn(B, 100, 1, 1)
  optD:zero_grad()
  local fake = mG(z)
  local lossD = F.binary_cross_entropy_with_logits(mD(real), sg.ones(B)) +
    F.binary_cross_entropy_with_logits(mD(fake:detach()), sg.zeros(B))
  mD:backward(lossD)
  optD:step()
  optG:zero_grad()
  mG:backward(F.binary_cross_entropy_with_logits(mD(fake), sg.ones(B)))
  optG:step()
end

for _ = 1, opts.warmup do step() end
dist.barrier()
local b0 = dist.bytes_communicated()
local start = sg.monotonic()
for _ = 1, opts.iters do step() end
dist.barrier()
local ms = (sg.monotonic() - start) * 1000 / opts.iters
local bytes = (dist.bytes_communicated() - b0) / opts.iters
if rank == 0 then
  print(string.format("world %d, batch %d per rank (global %d): %.1f ms/step, %.2f MB communicated per step per rank",
    world, B, B * world, ms, bytes / 1e6))
end
dist.destroy()
