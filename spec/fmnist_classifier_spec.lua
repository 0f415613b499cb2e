-- experiments/fmnist_classifier.lua end to end on a subset (the full
-- --quick run, >= 85 % in under 3 minutes, is measured in docs/results and
-- the issue note; here a 1-epoch run on 4,096 images keeps the suite fast).
local sg = require "sgen"
local json = require "dkjson"

local sgen_bin = os.getenv("SGEN_BIN") or "build/bin/sgen"

local function read_json(path)
  local f = assert(io.open(path))
  local v = json.decode(f:read("a"))
  f:close()
  return v
end

local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end

describe("experiments/fmnist_classifier.lua", function()
  local out = os.tmpname()
  os.remove(out)

  setup(function()
    local cmd = string.format("SGEN_PROGRESS=off %s run experiments/fmnist_classifier.lua --epochs=1 "
      .. "--train_limit=4096 --seed=3 --out=%s 2>&1", sgen_bin, out)
    local p = assert(io.popen(cmd))
    local text = p:read("a")
    local ok = p:close()
    assert(ok, "the experiment failed:\n" .. text)
  end)

  teardown(function() os.execute("rm -rf '" .. out .. "'") end)

  it("writes config, metrics, summary, curves and weights", function()
    for _, name in ipairs({"config.json", "metrics.csv", "metrics.jsonl", "summary.json",
                           "curves.svg", "weights.safetensors"}) do
      assert.is_true(exists(out .. "/" .. name), name)
    end
    local config = read_json(out .. "/config.json")
    assert.equal(3, config.seed)
  end)

  it("learns: test accuracy well above chance after one small epoch", function()
    -- measured 0.750-0.768 for seeds 1-3 on this subset (2026-11-29); chance is 0.10
    local s = read_json(out .. "/summary.json")
    assert.is_true(s.test_acc > 0.65, "test accuracy " .. s.test_acc)
  end)

  it("saves weights that load into the model and give 128 penultimate features", function()
    package.path = "./?.lua;" .. package.path
    local FmnistCNN = require "models.fmnist_cnn"
    local model = FmnistCNN()
    local sd, meta = sg.load(out .. "/weights.safetensors")
    model:load_state_dict(sd)
    model:eval()
    assert.equal("models/fmnist_cnn.lua", meta.model)
    local test = sg.data.fashion_mnist(nil, "test")
    local x, y = test:batch(sg.arange(1, 257))
    local correct = sg.no_grad(function()
      local feats = model:features(x)
      assert.same({256, 128}, feats:shape())
      return model(x):argmax(2):eq(y):sum():item()
    end)
    assert.is_true(correct / 256 > 0.6, "accuracy of the loaded weights " .. correct / 256)
  end)
end)
