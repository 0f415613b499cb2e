-- sg.train checkpoints: 20 iterations straight equal, bit for bit, 10 + save
-- + a fresh state (new objects, another random stream) + load + 10; clear
-- errors for damaged files and mismatched models; keep / latest.json; Ctrl-C
-- under `sgen run` writes a last checkpoint and ends by SIGINT (status 130).
local sg = require "sgen"
local H = require "spec.helpers"
local nn = sg.nn

local tmpdirs = {}
local function tmpdir()
  local d = H.tmpname()
  tmpdirs[#tmpdirs + 1] = d
  assert(os.execute("mkdir -p " .. H.shell_quote(d)))
  return d
end
teardown(function()
  for _, d in ipairs(tmpdirs) do H.rmdir(d) end
end)

-- A small conv net with BatchNorm (buffers) and Dropout (randomness).
local function make_net(width)
  width = width or 4
  return nn.Sequential(
    nn.Conv2d(1, width, 3, {padding = 1}), nn.BatchNorm2d(width), nn.ReLU(), nn.Dropout(0.3),
    nn.Flatten(), nn.Linear(width * 6 * 6, 3))
end

local function make_setup(init_seed)
  sg.manual_seed(0)
  local ds = sg.data.TensorDataset(sg.randn(23, 1, 6, 6), sg.randint(1, 4, {23}))
  sg.manual_seed(init_seed)
  local net = make_net()
  local opt = sg.optim.Adam(net:parameters(), {lr = 1e-2})
  local sched = sg.optim.lr_scheduler.StepLR(opt, 7, {gamma = 0.5})
  local loader = sg.data.DataLoader(ds, {batch_size = 5, shuffle = true, seed = 3})
  local counters = {loss_sum = 0}
  local state = {models = {net = net}, optimizers = {adam = opt}, schedulers = {step = sched},
                 loaders = {train = loader}, extra = function() return counters end}
  local function step()
    local x, y = loader:next()
    x = x + sg.randn_like(x) * 0.1 -- randomness drawn each step
    local loss = sg.F.cross_entropy(net(x), y)
    opt:zero_grad()
    loss:backward()
    opt:step()
    sched:step()
    counters.loss_sum = counters.loss_sum + loss:item()
  end
  return state, step, counters
end

local function assert_same_state(a, b)
  local sa, sb = a.models.net:state_dict(), b.models.net:state_dict()
  local n = 0
  for k, t in pairs(sa) do
    assert(sb[k], "missing " .. k)
    assert.same(H.flat(t), H.flat(sb[k]), "model " .. k)
    n = n + 1
  end
  assert.equal(9, n) -- conv and linear weight and bias, batch norm 2 + 3 buffers
  local oa, ob = a.optimizers.adam:state_dict(), b.optimizers.adam:state_dict()
  for id, s in pairs(oa.state) do
    for k, v in pairs(s) do
      if type(v) == "userdata" then
        assert.same(H.flat(v), H.flat(ob.state[id][k]), "optimizer state " .. id .. "." .. k)
      else
        assert.equal(v, ob.state[id][k])
      end
    end
  end
  assert.same(oa.param_groups, ob.param_groups)
  assert.same(a.schedulers.step:state_dict(), b.schedulers.step:state_dict())
  assert.same(a.loaders.train:state_dict(), b.loaders.train:state_dict())
end

describe("sg.train checkpoints", function()
  it("resume is bit-identical to training straight through", function()
    local straight, step = make_setup(1)
    for _ = 1, 20 do step() end
    local rng_straight = sg.get_rng_state()

    local dir = tmpdir() .. "/ck"
    local first, step1 = make_setup(1)
    local ckpt = sg.train.Checkpointer(dir, {every = 5, keep = 2})
    for it = 1, 10 do
      step1()
      ckpt:maybe_save(it, first)
    end
    -- a fresh process state: new objects from another init, another stream
    local resumed, step2, counters = make_setup(77)
    sg.manual_seed(12345)
    sg.randn(100)
    local start, extra, _, file = sg.train.Checkpointer(dir):load(dir, resumed)
    assert.equal(10, start)
    assert.matches("step_00000010%.safetensors$", file)
    counters.loss_sum = extra.loss_sum
    for _ = start + 1, 20 do step2() end
    assert_same_state(straight, resumed)
    assert.same(rng_straight, sg.get_rng_state())
    -- keep = 2: steps 5 and 10 remain
    assert.is_nil(io.open(dir .. "/step_00000000.safetensors"))
    assert.is_truthy(H.read_file(dir .. "/step_00000005.safetensors"))
    assert.matches('"file":"step_00000010.safetensors"', H.read_file(dir .. "/latest.json"))
  end)

  it("runs a loop with checkpoints every N steps and at the end", function()
    local dir = tmpdir()
    local state, step = make_setup(1)
    local ckpt = sg.train.Checkpointer(dir .. "/checkpoints", {every = 4, keep = 0})
    local seen = {}
    ckpt:loop(0, 10, state, function(it) step(); seen[#seen + 1] = it end)
    assert.equal(10, #seen)
    for _, s in ipairs({4, 8, 10}) do
      assert.is_truthy(H.read_file(string.format("%s/checkpoints/step_%08d.safetensors", dir, s)))
    end
    -- the run directory finds its checkpoints/ and the newest one
    assert.matches("step_00000010%.safetensors$", sg.train.find_checkpoint(dir))
    local fresh = make_setup(5)
    assert.equal(10, (sg.train.load_checkpoint(dir, fresh)))
    assert_same_state(state, fresh)
  end)

  it("raises clear errors", function()
    local dir = tmpdir()
    local state = make_setup(1)
    local path = sg.train.save_checkpoint(dir .. "/a.safetensors", 3, state)
    local bytes = H.slurp(path)
    H.write_file(dir .. "/trunc.safetensors", bytes:sub(1, #bytes - 100))
    H.write_file(dir .. "/garbage.safetensors", "not a checkpoint at all")
    assert.matches("sgen.train.load_checkpoint: cannot read the checkpoint '.*trunc.safetensors'",
      H.error_message(sg.train.load_checkpoint, dir .. "/trunc.safetensors", state))
    assert.matches("cannot read the checkpoint",
      H.error_message(sg.train.load_checkpoint, dir .. "/garbage.safetensors", state))
    assert.matches("'" .. dir .. "/nope' does not exist",
      H.error_message(sg.train.load_checkpoint, dir .. "/nope", state))
    local empty = tmpdir()
    assert.matches("no checkpoint in '" .. empty .. "'",
      H.error_message(sg.train.load_checkpoint, empty, state))
    sg.save(dir .. "/plain.safetensors", {w = sg.zeros(2)})
    assert.matches("is not an sgen checkpoint",
      H.error_message(sg.train.load_checkpoint, dir .. "/plain.safetensors", state))

    -- mismatched models: a shape, a missing key, a missing model
    local wide = {models = {net = make_net(5)}}
    assert.matches("model 'net' does not match the checkpoint: size mismatch for 0.weight: the "
      .. "checkpoint has shape 4x1x3x3, the model 5x1x3x3",
      H.error_message(sg.train.load_checkpoint, path, wide))
    local longer = make_net()
    longer:add_module("6", nn.Linear(3, 2))
    assert.matches("missing keys: 6.bias, 6.weight",
      H.error_message(sg.train.load_checkpoint, path, {models = {net = longer}}))
    assert.matches("has no model 'G' %(it has: net%)",
      H.error_message(sg.train.load_checkpoint, path, {models = {G = make_net()}}))
    -- nothing changed by a failed load
    local before = H.flat(state.models.net:state_dict()["1.weight"])
    pcall(sg.train.load_checkpoint, path, {models = {net = state.models.net, G = make_net()}})
    assert.same(before, H.flat(state.models.net:state_dict()["1.weight"]))
    assert.matches("unknown state field 'model'",
      H.error_message(sg.train.save_checkpoint, dir .. "/b.safetensors", 1, {model = {}}))
  end)

  it("saves a last checkpoint on Ctrl-C and ends by SIGINT (status 130)", function()
    if not H.BIN then pending("needs SGEN_BIN (run through ctest)") return end
    local dir = tmpdir()
    local script = dir .. "/train.lua"
    -- Ctrl-C reaches the script and the shell loop running it: the loop must
    -- stop after this one run (sgen dies by SIGINT, not exit(130))
    H.write_file(script, H.CTRL_C_LUA .. [[
      io.open(opts.dir .. "/starts", "a"):write("run\n"):close()
      local sg = require "sgen"
      sg.manual_seed(1)
      local net = sg.nn.Sequential(sg.nn.Linear(4, 8), sg.nn.BatchNorm1d(8), sg.nn.Linear(8, 1))
      local opt = sg.optim.Adam(net:parameters(), {lr = 1e-3})
      local state = {models = {net = net}, optimizers = {opt = opt}, extra = {what = "sigint"}}
      local ckpt = sg.train.Checkpointer(opts.dir .. "/checkpoints", {every = 0})
      ckpt:loop(0, 100000000, state, function(it)
        local x = sg.randn(16, 4)
        local loss = net(x):pow(2):mean()
        opt:zero_grad(); loss:backward(); opt:step()
        if it == 3 then ctrl_c() end
      end)
    ]])
    local runs, err = H.sgen_loop({"run", script, "--dir=" .. dir}, dir .. "/starts")
    assert.equal(1, runs, err)
    assert.matches("^sgen: interrupted! %(checkpoint of step %d+: .*step_%d+%.safetensors%)\nstack traceback:", err)
    sg.manual_seed(9)
    local net = sg.nn.Sequential(sg.nn.Linear(4, 8), sg.nn.BatchNorm1d(8), sg.nn.Linear(8, 1))
    local opt = sg.optim.Adam(net:parameters(), {lr = 1e-3})
    local step, extra = sg.train.load_checkpoint(dir, {models = {net = net}, optimizers = {opt = opt}})
    assert.is_true(step >= 3)
    assert.equal("sigint", extra.what)
    assert.equal(step, opt:state_dict().state[1].step)
    assert.equal(step, net:state_dict()["1.num_batches_tracked"]:item())
  end)
end)

describe("DataLoader positions", function()
  it("a loaded position yields exactly the remaining batches, then the next epochs", function()
    local ds = sg.data.TensorDataset(sg.arange(1, 12), sg.arange(1, 12))
    local function batches(loader, n)
      local out = {}
      for i = 1, n do out[i] = table.concat(loader:next():totable(), ",") end
      return out
    end
    local ref = batches(sg.data.DataLoader(ds, {batch_size = 3, shuffle = true, seed = 4}), 12)
    for done = 0, 8 do
      local a = sg.data.DataLoader(ds, {batch_size = 3, shuffle = true, seed = 4})
      batches(a, done)
      local b = sg.data.DataLoader(ds, {batch_size = 3, shuffle = true, seed = 4})
      b:load_state_dict(a:state_dict())
      local rest = batches(b, 12 - done)
      for i = 1, 12 - done do assert.equal(ref[done + i], rest[i], "after " .. done) end
    end
    -- for-loops over iter() continue the same way
    local a = sg.data.DataLoader(ds, {batch_size = 3, shuffle = true, seed = 4})
    for _ in a:iter() do break end
    local b = sg.data.DataLoader(ds, {batch_size = 3, shuffle = true, seed = 4})
    b:load_state_dict(a:state_dict())
    local got = {}
    for x in b:iter() do got[#got + 1] = table.concat(x:totable(), ",") end
    assert.same({ref[2], ref[3], ref[4]}, got)
    assert.matches("the saved loader had batch_size 3, this one has 2", H.error_message(function()
      sg.data.DataLoader(ds, {batch_size = 2}):load_state_dict(a:state_dict())
    end))
  end)
end)
