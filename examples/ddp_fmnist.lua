-- Data-parallel training of the Fashion-MNIST CNN (models/fmnist_cnn.lua):
--
--   sgen launch -n 2 examples/ddp_fmnist.lua --quick               -- 2 ranks, batch 64 each
--   sgen run examples/ddp_fmnist.lua --quick --batch_size=128       -- 1 process, the same global batch
--
-- Every rank builds the same network (DistributedDataParallel broadcasts
-- rank 0's weights anyway), reads its share of each epoch through
-- data.DistributedSampler and averages gradients with the other ranks; with
-- sync_bn the BatchNorm statistics are those of the global batch, so N ranks
-- with batch B train the same network as one process with batch N*B (the
-- sampler's global batch k holds the samples of the single process's batch
-- k). The test set is split across ranks and the correct answers summed
-- with sg.dist.all_reduce. Rank 0 prints and writes the weights.
local root = (arg and arg[0] or ""):match("^(.*)/examples/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local sg = require "sgen"
local cli = require "sgen.cli"
local FmnistCNN = require "models.fmnist_cnn"
local nn, F, dist = sg.nn, sg.F, sg.dist

local opts, given = cli.options({
  epochs = 3,
  batch_size = 64,     -- per rank: the global batch is world_size * batch_size
  lr = 2e-3,
  seed = 1,
  train_limit = 0,     -- the first N training images only (0: all 60,000)
  sync_bn = true,      -- BatchNorm statistics over the global batch
  data = sg.data.FASHION_MNIST_DIR or "/usr/share/datasets/fashion-mnist",
  out = "",            -- write the weights here (rank 0, sg.dist.save)
  quick = false,       -- 1 epoch on 12,000 images
}, {help = "Train the Fashion-MNIST CNN data-parallel (sgen launch -n N)."})
if opts.quick then
  if not given.epochs then opts.epochs = 1 end
  if not given.train_limit then opts.train_limit = 12000 end
end

dist.init()
local rank, world = dist.rank(), dist.world_size()
local function say(fmt, ...) if rank == 0 then print(string.format(fmt, ...)) end end

sg.manual_seed(opts.seed)
local train = sg.data.fashion_mnist(opts.data, "train")
local test = sg.data.fashion_mnist(opts.data, "test")
if opts.train_limit > 0 and opts.train_limit < train:len() then
  local x, y = train:batch(sg.arange(1, opts.train_limit + 1))
  train = sg.data.TensorDataset(x, y)
end
local net = FmnistCNN()
local model = nn.DistributedDataParallel(net, {sync_bn = opts.sync_bn})
local opt = sg.optim.Adam(net:parameters(), {lr = opts.lr})
local sampler = sg.data.DistributedSampler(train, {seed = opts.seed})
local loader = sg.data.DataLoader(train, {batch_size = opts.batch_size, sampler = sampler})
say("%d rank%s x batch %d = global batch %d, %d training images, %d epoch%s",
  world, world == 1 and "" or "s", opts.batch_size, world * opts.batch_size, train:len(),
  opts.epochs, opts.epochs == 1 and "" or "s")

-- accuracy on the test set, each rank scoring its share
local function accuracy()
  net:eval()
  local shard = sg.data.DistributedSampler(test, {shuffle = false}):indices()
  local correct = sg.no_grad(function()
    local n = 0
    for s = 1, shard:size(1), 500 do
      local idx = shard:narrow(1, s, math.min(500, shard:size(1) - s + 1))
      local x, y = test:batch(idx)
      n = n + net(x):argmax(2):eq(y):sum():item()
    end
    return n
  end)
  net:train()
  -- padded shares count a few images twice when world does not divide 10,000
  local total = dist.all_reduce(sg.tensor({correct * 1.0, shard:size(1) * 1.0}, {dtype = "float64"}))
  return total[1]:item() / total[2]:item()
end

local t0 = os.clock()
for epoch = 1, opts.epochs do
  local loss_sum, steps = 0, 0
  for x, y in loader:iter() do
    opt:zero_grad()
    local loss = F.cross_entropy(model(x), y)
    model:backward(loss)
    opt:step()
    loss_sum, steps = loss_sum + loss:item(), steps + 1
  end
  local mean_loss = dist.all_reduce(sg.tensor({loss_sum / steps}, {dtype = "float64"}), {op = "mean"})
  say("epoch %d: train loss %.4f, test accuracy %.2f %%", epoch, mean_loss:item(),
    100 * accuracy())
end
say("CPU time of rank 0: %.1f s; %.1f MB communicated by rank 0", os.clock() - t0,
  dist.bytes_communicated() / 1e6)
if opts.out ~= "" then
  dist.save(opts.out, {net = net}) -- the unwrapped network: loads at any world size
  say("weights: %s", opts.out)
end
dist.destroy()
