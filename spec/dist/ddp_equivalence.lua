-- Run by `sgen launch -n 2` (ctest dist.ddp_equivalence, tools/dist_test.sh):
-- STEPS optimizer steps of a small DIP U-Net and of a tiny DCGAN with world
-- size 2 and per-rank batch B (nn.DistributedDataParallel, sync_bn = true:
-- both networks have BatchNorm) give the parameters and running statistics
-- of one process with batch 2B, trained here on every rank without any
-- collective. Tolerance (docs/distributed.md): |ddp - ref| <= ATOL + RTOL * |ref|
-- elementwise, float32: the reductions are summed in another order.
-- A negative control (the same DDP run with gradient sync off) must miss
-- the reference by far more than the tolerance, so the check can fail.
local sg = require "sgen"
local nn, F = sg.nn, sg.F
local UNetDIP = require "models.unet_dip"
local dcgan = require "models.dcgan"

local ATOL, RTOL = 1e-6, 1e-5
local B, STEPS = 2, 3
-- --device=cuda with sgen launch --backend=nccl: the same check on GPUs (ctest dist.nccl_ddp)
local DEVICE = require("sgen.cli").options({device = "cpu"}).device

sg.set_num_threads(1)
sg.dist.init({debug = true})
local rank, world = sg.dist.rank(), sg.dist.world_size()
assert(world == 2, "run with sgen launch -n 2")

local function shard(t) return t:narrow(1, rank * B + 1, B) end
local function dev(t) return t:to(DEVICE) end

-- worst violation of the tolerance over a state_dict: max over entries of
-- |a - b| / (ATOL + RTOL |b|) (<= 1 passes), and its entry
local function compare(a, b)
  local worst, where = 0, "-"
  local sa, sb = a:state_dict(), b:state_dict()
  for k, vb in pairs(sb) do
    local va = sa[k]
    assert(va ~= nil, "missing entry " .. k)
    if vb:dtype() == "float32" then
      local r = ((va - vb):abs() / (vb:abs() * RTOL + ATOL)):max():item()
      if r > worst then worst, where = r, k end
    end
  end
  return worst, where
end

local function check(name, ddp_net, ref_net, control_net)
  local worst, where = compare(ddp_net, ref_net)
  local cworst = compare(control_net, ref_net)
  print(string.format("rank %d %s: worst |ddp-ref|/(atol+rtol|ref|) = %.3g at %s; without sync %.3g",
    rank, name, worst, where, cworst))
  if worst > 1 then error(name .. ": DDP parameters differ from the batch-2B reference at " .. where) end
  if cworst < 10 then error(name .. ": the negative control (no gradient sync) matched: the check cannot fail") end
end

-- ---- DIP: U-Net (BatchNorm in every level), MSE to a target, SGD + momentum
local function dip(mode)
  sg.manual_seed(1)
  local net = UNetDIP({in_channels = 4, out_channels = 3, channels = {4, 6}, skip = 2, scales = 2}):to(DEVICE)
  sg.manual_seed(2)
  local z, target = dev(sg.randn(2 * B, 4, 16, 16)), dev(sg.rand(2 * B, 3, 16, 16))
  local model = net
  if mode ~= "ref" then
    model = nn.DistributedDataParallel(net, {sync_bn = true})
    z, target = shard(z), shard(target)
  end
  local opt = sg.optim.SGD(net:parameters(), {lr = 0.05, momentum = 0.9})
  for _ = 1, STEPS do
    opt:zero_grad()
    local loss = F.mse_loss(model(z), target)
    if mode == "ddp" then model:backward(loss)
    elseif mode == "nosync" then model:no_sync(function() model:backward(loss) end)
    else loss:backward() end
    opt:step()
  end
  return net
end

-- ---- DCGAN: generator and discriminator (BatchNorm in both), the
-- non-saturating loss, Adam, one D step and one G step per iteration
local function gan(mode)
  sg.manual_seed(3)
  local G = dcgan.Generator({nz = 8, ngf = 4, nc = 1}):to(DEVICE)
  local D = dcgan.Discriminator({ndf = 4, nc = 1}):to(DEVICE)
  local mG, mD = G, D
  if mode ~= "ref" then
    mG = nn.DistributedDataParallel(G, {sync_bn = true})
    mD = nn.DistributedDataParallel(D, {sync_bn = true})
  end
  local optG = sg.optim.Adam(G:parameters(), {lr = 2e-4, betas = {0.5, 0.999}})
  local optD = sg.optim.Adam(D:parameters(), {lr = 2e-4, betas = {0.5, 0.999}})
  local function backward(m, loss)
    if mode == "ddp" then m:backward(loss)
    elseif mode == "nosync" then m:no_sync(function() m:backward(loss) end)
    else loss:backward() end
  end
  sg.manual_seed(4)
  for _ = 1, STEPS do
    local real = dev(sg.rand(2 * B, 1, 32, 32) * 2.0 - 1.0)
    local z = dev(sg.randn(2 * B, 8, 1, 1))
    if mode ~= "ref" then real, z = shard(real), shard(z) end
    local n = real:size(1)
    optD:zero_grad()
    local fake = mG(z)
    local ones, zeros = dev(sg.ones(n)), dev(sg.zeros(n))
    local lossD = F.binary_cross_entropy_with_logits(mD(real), ones) +
      F.binary_cross_entropy_with_logits(mD(fake:detach()), zeros)
    backward(mD, lossD)
    optD:step()
    optG:zero_grad()
    local lossG = F.binary_cross_entropy_with_logits(mD(fake), ones)
    backward(mG, lossG)
    optG:step()
  end
  return G, D
end

check("DIP U-Net", dip("ddp"), dip("ref"), dip("nosync"))
local G, D = gan("ddp")
local Gr, Dr = gan("ref")
local Gc, Dc = gan("nosync")
check("DCGAN generator", G, Gr, Gc)
check("DCGAN discriminator", D, Dr, Dc)
sg.dist.destroy()
