-- Fashion-MNIST classifier: a small CNN trained with Adam, test accuracy
-- reported per epoch, weights saved as safetensors.
--
--   sgen run experiments/fmnist_classifier.lua            -- 8 epochs, full data
--   sgen run experiments/fmnist_classifier.lua --quick    -- >= 85 % in under 3 min on 2 cores
--   sgen run experiments/fmnist_classifier.lua --size=32 --range=pm1
--       -- the 32x32 [-1,1] layout of the GAN work (sg.data.fashion_mnist32);
--          tools/train_feature_net.sh trains data/fmnist_features.safetensors so
--
-- The network's penultimate layer (the 128 features before the classifier,
-- `model:features(x)`) is the feature space that the GAN work uses for a
-- Fréchet distance on Fashion-MNIST; models/fmnist_cnn.lua builds it and
-- loads the saved weights.
--
-- Outputs under runs/fmnist_classifier/<timestamp>/: config.json,
-- metrics.csv, summary.json, weights.safetensors, curves.svg, checkpoints/
-- (sg.train). --resume=DIR continues a stopped run in DIR (or in --out)
-- exactly where its newest checkpoint left it, even mid-epoch.
-- Run from anywhere: models/ and data/ are found next to experiments/.
local root = (arg and arg[0] or ""):match("^(.*)/experiments/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local sg = require "sgen"
local cli = require "sgen.cli"
local util = require "sgen.util"
local FmnistCNN = require "models.fmnist_cnn"

local opts, given = cli.options({
  epochs = 8,
  batch_size = 128,
  lr = 2e-3,
  seed = 1,
  train_limit = 0,   -- use only the first N training images (0: all 60,000)
  data = sg.data.FASHION_MNIST_DIR or "/usr/share/datasets/fashion-mnist",
  device = "auto",
  out = "",
  quick = false,
  size = 28,         -- 28 (the IDX images) or 32 (padded by 2, needs --range=pm1)
  range = "01",      -- "01": pixels in [0,1]; "pm1": in [-1,1] (x * 2 - 1)
  checkpoint_every = 0, -- steps between checkpoints in <out>/checkpoints (0: the final one and on Ctrl-C)
  resume = "",       -- continue the run in this output directory from its newest checkpoint
}, {help = "Train a small CNN on Fashion-MNIST and report its test accuracy."})

-- --resume: the options the run was started with, unless given again
if opts.resume ~= "" then sg.train.resume_options(opts, given, opts.resume) end

-- --quick: 2 epochs unless --epochs was given too.
if opts.quick and not given.epochs then
  opts.epochs = 2
end
if opts.epochs < 1 then error("sgen: --epochs must be at least 1, got " .. opts.epochs, 0) end
if opts.batch_size < 1 then error("sgen: --batch_size must be at least 1, got " .. opts.batch_size, 0) end

if opts.size ~= 28 and opts.size ~= 32 then
  error("sgen: --size must be 28 or 32, got " .. tostring(opts.size), 0)
end
if opts.range ~= "01" and opts.range ~= "pm1" then
  error("sgen: --range must be 01 or pm1, got '" .. tostring(opts.range) .. "'", 0)
end
if opts.size == 32 and opts.range ~= "pm1" then
  error("sgen: --size=32 is the GAN layout (sg.data.fashion_mnist32), which is in [-1,1]: "
    .. "add --range=pm1", 0)
end

local device = opts.device
if device == "auto" then device = sg.cuda.is_available() and "cuda" or "cpu" end
if device ~= "cpu" and device ~= "cuda" then
  error("sgen: --device must be auto, cpu or cuda, got '" .. device .. "'", 0)
end

sg.manual_seed(opts.seed)
if opts.checkpoint_every < 0 then
  error("sgen: --checkpoint_every must be >= 0, got " .. opts.checkpoint_every, 0)
end
local out_dir = opts.out ~= "" and opts.out or (opts.resume ~= "" and opts.resume)
  or ("runs/fmnist_classifier/" .. os.date("!%Y%m%d-%H%M%S"))
assert(os.execute("mkdir -p '" .. out_dir:gsub("'", "'\\''") .. "'"),
  "cannot create output directory " .. out_dir)

local config = {}
for k, v in pairs(opts) do config[k] = v end
config.device_used = device
config.sgen_version = sg.version
if opts.resume == "" or out_dir ~= opts.resume then util.json.write(out_dir .. "/config.json", config) end

local load = opts.size == 32 and sg.data.fashion_mnist32 or sg.data.fashion_mnist
local train = load(opts.data, "train")
local test = load(opts.data, "test")
-- 28x28 with --range=pm1: the [0,1] pixels mapped by x * 2 - 1 (the uint8
-- storage then converts with v / 127.5 - 1)
if opts.range == "pm1" and train.range ~= "pm1" then
  train = sg.data.TensorDataset(train.images, train.labels, {name = train.name, range = "pm1"})
  test = sg.data.TensorDataset(test.images, test.labels, {name = test.name, range = "pm1"})
end
if opts.train_limit > 0 and opts.train_limit < train:len() then
  train = sg.data.TensorDataset(train.images:narrow(1, 1, opts.train_limit),
    train.labels:narrow(1, 1, opts.train_limit), {name = "FashionMNIST(train subset)",
    range = train.range})
end
if train:len() < opts.batch_size then
  error(string.format("sgen: %d training images are fewer than one batch (--batch_size=%d); "
    .. "raise --train_limit or lower --batch_size", train:len(), opts.batch_size), 0)
end
local layout = opts.size == 32 and "32x32, [-1,1], Fashion-MNIST padded by 2"
  or ("28x28, " .. (opts.range == "pm1" and "[-1,1]" or "[0,1]") .. ", Fashion-MNIST")
print(string.format("fmnist_classifier: seed %d, %d train / %d test images (%s), %d epochs, device %s, out %s",
  opts.seed, train:len(), test:len(), layout, opts.epochs, device, out_dir))

local model = FmnistCNN({size = opts.size}):to(device)
local optimizer = sg.optim.Adam(model:parameters(), {lr = opts.lr})
local steps_per_epoch = math.floor(train:len() / opts.batch_size)
local scheduler = sg.optim.lr_scheduler.CosineAnnealingLR(optimizer, opts.epochs * steps_per_epoch)
local loader = sg.data.DataLoader(train, {batch_size = opts.batch_size, shuffle = true,
  drop_last = true, seed = opts.seed})
local test_loader = sg.data.DataLoader(test, {batch_size = 1000})

local function evaluate()
  model:eval()
  local correct, total, loss_sum = 0, 0, 0
  sg.no_grad(function()
    for x, y in test_loader:iter() do
      x, y = x:to(device), y:to(device)
      local logits = model(x)
      loss_sum = loss_sum + sg.F.cross_entropy(logits, y, {reduction = "sum"}):item()
      correct = correct + logits:argmax(2):eq(y):sum():item()
      total = total + y:numel()
    end
  end)
  model:train()
  return correct / total, loss_sum / total
end

local clock = util.clock
local t_start = clock()
local best_acc, last_acc = 0, 0
local epoch_rows = {}
-- one step per batch; what an epoch accumulates is carried by the checkpoints
local total_steps = opts.epochs * steps_per_epoch
local seen, correct, loss_sum = 0, 0, 0
local state = {models = {model = model}, optimizers = {adam = optimizer},
  schedulers = {cosine = scheduler}, loaders = {train = loader},
  extra = function()
    return {seen = seen, correct = correct, loss_sum = loss_sum, best_acc = best_acc, last_acc = last_acc,
      epoch_rows = epoch_rows, seconds = clock() - t_start}
  end}
local ckpt = sg.train.Checkpointer(out_dir .. "/checkpoints", {every = opts.checkpoint_every, keep = 2})
local start = 0
if opts.resume ~= "" then
  local extra
  start, extra = ckpt:load(opts.resume, state)
  seen, correct, loss_sum = extra.seen, extra.correct, extra.loss_sum
  best_acc, last_acc, epoch_rows = extra.best_acc, extra.last_acc, extra.epoch_rows
  t_start = clock() - extra.seconds
  print(string.format("resumed at step %d of %d (epoch %d)", start, total_steps, start // steps_per_epoch + 1))
end
-- the logs restart from the epochs the checkpoint holds
local log = util.log.new({csv = out_dir .. "/metrics.csv", jsonl = out_dir .. "/metrics.jsonl"})
for _, row in ipairs(epoch_rows) do log:write(row) end
local bar
ckpt:loop(start, total_steps, state, function(step)
  local epoch = (step - 1) // steps_per_epoch + 1
  local b = step - (epoch - 1) * steps_per_epoch
  if bar == nil then
    bar = util.progress.new(steps_per_epoch - b + 1, {desc = string.format("epoch %d/%d", epoch, opts.epochs),
      every = 100})
  end
  if b == 1 then seen, correct, loss_sum = 0, 0, 0 end
  local x, y = loader:next()
  x, y = x:to(device), y:to(device)
  local logits = model(x)
  local loss = sg.F.cross_entropy(logits, y)
  optimizer:zero_grad()
  loss:backward()
  optimizer:step()
  scheduler:step()
  local l = loss:item()
  loss_sum = loss_sum + l * y:numel()
  correct = correct + logits:argmax(2):eq(y):sum():item()
  seen = seen + y:numel()
  bar:update(1, {loss = l, acc = correct / seen})
  if b == steps_per_epoch then
    bar:close()
    bar = nil
    local acc, test_loss = evaluate()
    last_acc = acc
    if acc > best_acc then best_acc = acc end
    local row = {epoch = epoch, train_loss = loss_sum / seen, train_acc = correct / seen,
      test_loss = test_loss, test_acc = acc, seconds = clock() - t_start}
    log:write(row)
    epoch_rows[#epoch_rows + 1] = row
    print(string.format("epoch %d: train loss %.4f acc %.4f | test loss %.4f acc %.4f | %.1f s",
      epoch, row.train_loss, row.train_acc, test_loss, acc, row.seconds))
  end
end)
log:close()

local weights = out_dir .. "/weights.safetensors"
local sd = {}
for name, t in pairs(model:state_dict()) do sd[name] = t:cpu() end
-- The command that reproduces the run (the options given, sorted) and the
-- commit it ran on ("unknown" outside a git checkout; "+dirty" when the Lua files
-- the run depends on had uncommitted changes).
local args = {}
for k in pairs(given) do
  if k ~= "out" then args[#args + 1] = "--" .. k .. "=" .. tostring(opts[k]) end
end
table.sort(args)
local command = "sgen run experiments/fmnist_classifier.lua" .. (#args > 0 and (" " .. table.concat(args, " ")) or "")
local function git(cmd)
  local p = io.popen("cd '" .. root:gsub("'", "'\\''") .. "' && git " .. cmd .. " 2>/dev/null")
  if not p then return "" end
  local text = p:read("a") or ""
  p:close()
  return (text:gsub("%s+$", ""))
end
local commit = git("rev-parse HEAD")
if commit == "" then commit = "unknown"
elseif git("status --porcelain -- experiments/fmnist_classifier.lua models/fmnist_cnn.lua lua/sgen/data lua/sgen/nn lua/sgen/optim") ~= "" then
  commit = commit .. "+dirty"
end
sg.save(weights, sd, {metadata = {model = "models/fmnist_cnn.lua", seed = tostring(opts.seed),
  test_acc = string.format("%.4f", last_acc), size = tostring(opts.size), range = opts.range,
  input = layout, epochs = tostring(opts.epochs), command = command, commit = commit,
  test_images = tostring(test:len()), train_images = tostring(train:len())}})

local xs, acc_series, loss_series = {}, {}, {}
for i, r in ipairs(epoch_rows) do
  xs[i], acc_series[i], loss_series[i] = r.epoch, r.test_acc, r.train_loss
end
sg.plot.lines(out_dir .. "/curves.svg", {title = "Fashion-MNIST classifier", xlabel = "epoch",
  series = {{name = "test accuracy", x = xs, y = acc_series},
            {name = "train loss", x = xs, y = loss_series}}})

local summary = {test_acc = last_acc, best_test_acc = best_acc, epochs = opts.epochs,
  seconds = clock() - t_start, seed = opts.seed, weights = weights}
util.json.write(out_dir .. "/summary.json", summary)
print(string.format("test accuracy %.2f %% (best %.2f %%) after %d epochs in %.1f s; seed %d",
  100 * last_acc, 100 * best_acc, opts.epochs, summary.seconds, opts.seed))
print("weights: " .. weights)
return summary
