-- One-call checkpoints (issue 16, item 9): sg.save(path, {G = G, D = D, optG = optG,
-- rng = sg.get_rng_state(), step = n}) and sg.load(path, into). A small GAN resumed
-- from the file continues bit for bit like training straight through; the file is a
-- plain safetensors file (tensor names and JSON metadata checked, and read by Python's
-- safetensors when it is installed); clear errors for missing, truncated and damaged
-- files, modules and optimizers that do not match; tables of tensors unchanged.
local sg = require "sgen"
local H = require "spec.helpers"
local nn = sg.nn

local paths = {}
local function tmp()
  local p = H.tmpname(".safetensors")
  paths[#paths + 1] = p
  return p
end
teardown(function()
  for _, p in ipairs(paths) do os.remove(p) end
end)

-- A GAN on 2-d points: BatchNorm in D (buffers), fresh noise every step (the stream).
local function make_gan(seed, lr)
  sg.manual_seed(seed)
  local G = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
  local D = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
  local optG = sg.optim.Adam(G:parameters(), {lr = lr, betas = {0.5, 0.999}})
  local optD = sg.optim.Adam(D:parameters(), {lr = lr, betas = {0.5, 0.999}})
  return {G = G, D = D, optG = optG, optD = optD}
end

local function train_step(m)
  local real = sg.randn(16, 2) * 0.5 + 1
  local fake = m.G(sg.randn(16, 2))
  local lossD = sg.gan.d_loss("hinge", m.D(real), m.D(fake:detach()))
  m.optD:zero_grad(); lossD:backward(); m.optD:step()
  local lossG = sg.gan.g_loss("hinge", m.D(fake))
  m.optG:zero_grad(); lossG:backward(); m.optG:step()
  return lossG:item()
end

local function assert_same_gan(a, b)
  for _, name in ipairs({"G", "D"}) do
    local sa, sb = a[name]:state_dict(), b[name]:state_dict()
    for k, t in pairs(sa) do
      assert(sb[k], name .. " lacks " .. k)
      assert.same(H.flat(t), H.flat(sb[k]), name .. "." .. k)
    end
  end
  for _, name in ipairs({"optG", "optD"}) do
    local oa, ob = a[name]:state_dict(), b[name]:state_dict()
    assert.same(oa.param_groups, ob.param_groups, name .. " groups")
    local n = 0
    for id, s in pairs(oa.state) do
      for k, v in pairs(s) do
        if type(v) == "userdata" then
          assert.same(H.flat(v), H.flat(ob.state[id][k]), name .. ".state." .. id .. "." .. k)
        else
          assert.equal(v, ob.state[id][k], name .. ".state." .. id .. "." .. k)
        end
        n = n + 1
      end
    end
    assert.is_true(n > 0, name .. " has no state")
  end
end

describe("sg.save / sg.load of modules, optimizers and values", function()
  it("a GAN resumed from the file trains on bit for bit", function()
    -- straight: 12 steps
    local straight = make_gan(7, 2e-3)
    local losses = {}
    for i = 1, 12 do losses[i] = train_step(straight) end
    local rng_straight = sg.get_rng_state()

    -- 5 steps, save
    local first = make_gan(7, 2e-3)
    local history = {}
    for i = 1, 5 do history[i] = train_step(first) end
    local path = tmp()
    sg.save(path, {G = first.G, D = first.D, optG = first.optG, optD = first.optD,
                   rng = sg.get_rng_state(), step = 5, history = history, note = "run a",
                   done = false, cfg = {lr = 2e-3, sizes = {2, 8}}})

    -- a fresh state: other weights, other learning rates, another random stream
    local resumed = make_gan(99, 0.5)
    sg.rand(1000)
    local into = {G = resumed.G, D = resumed.D, optG = resumed.optG, optD = resumed.optD,
                  rng = false, step = 0}
    local back, meta = sg.load(path, into)
    assert.equal(into, back)
    assert.equal("sgen.save/1", meta["sgen.format"])
    assert.equal(5, into.step)
    assert.equal("integer", math.type(into.step))
    assert.same(history, into.history) -- floats keep their bits
    assert.equal("run a", into.note)
    assert.is_false(into.done)
    assert.same({lr = 2e-3, sizes = {2, 8}}, into.cfg)
    assert.equal(0.002, resumed.optG.param_groups[1].lr)
    assert.same({0.5, 0.999}, resumed.optD.param_groups[1].betas)
    assert.same(into.rng, sg.get_rng_state()) -- the stream restored

    for i = 6, 12 do
      assert.equal(losses[i], train_step(resumed), "loss of step " .. i)
    end
    assert_same_gan(straight, resumed)
    assert.same(rng_straight, sg.get_rng_state())
  end)

  it("writes documented tensor names and JSON metadata; sg.load(path) gives plain tables", function()
    local m = make_gan(1, 1e-3)
    train_step(m)
    local z = sg.randn(3, 2)
    local path = tmp()
    sg.save(path, {G = m.G, optG = m.optG, z = z, rng = {seed = 3, offset = 9}, step = 1200},
            {metadata = {author = "me"}})
    local tensors, meta = sg.core.load(path)
    local names = {}
    for k in pairs(tensors) do names[#names + 1] = k end
    table.sort(names)
    assert.same({"G.0.bias", "G.0.weight", "G.2.bias", "G.2.weight",
                 "optG.state.1.exp_avg", "optG.state.1.exp_avg_sq",
                 "optG.state.2.exp_avg", "optG.state.2.exp_avg_sq",
                 "optG.state.3.exp_avg", "optG.state.3.exp_avg_sq",
                 "optG.state.4.exp_avg", "optG.state.4.exp_avg_sq", "z"}, names)
    assert.equal("sgen.save/1", meta["sgen.format"])
    assert.equal('{"G":"module","optG":"optimizer","rng":"rng","step":"value","z":"tensor"}',
                 meta["sgen.entries"])
    assert.equal("1200", meta.step)
    assert.equal('{"offset":9,"seed":3}', meta.rng)
    assert.equal("me", meta.author)
    assert.equal("sgen.optim.state/1", meta["optG.format"])

    local ck, meta2 = sg.load(path) -- no `into`: plain tables
    assert.equal("me", meta2.author)
    assert.same({seed = 3, offset = 9}, ck.rng)
    assert.equal(1200, ck.step)
    assert.same(H.flat(z), H.flat(ck.z))
    assert.same(H.flat(m.G[1].weight), H.flat(ck.G["0.weight"]))
    local G2 = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    G2:load_state_dict(ck.G)
    assert.same(H.flat(m.G[3].bias), H.flat(G2[3].bias))
    local opt2 = sg.optim.Adam(G2:parameters())
    opt2:load_state_dict(ck.optG)
    assert.equal(1, opt2.state[G2[1].weight].step)
    -- loading an rng entry without `into` leaves the stream alone
    sg.manual_seed(5)
    sg.load(path)
    assert.same({seed = 5, offset = 0}, sg.get_rng_state())
    -- into: tensors are copied in place, missing entries of `into` are filled
    local zt = sg.zeros(3, 2)
    local into = {z = zt}
    sg.load(path, into)
    assert.equal(zt, into.z)
    assert.same(H.flat(z), H.flat(zt))
    assert.same({"0.bias", "0.weight", "2.bias", "2.weight"},
                (function() local k = {} for n in pairs(into.G) do k[#k + 1] = n end table.sort(k) return k end)())
    assert.same({seed = 3, offset = 9}, sg.get_rng_state())
  end)

  it("keeps tables of tensors as they were; {checkpoint = true} for values alone", function()
    local path = tmp()
    sg.save(path, {["fc.weight"] = sg.ones(2)}, {metadata = {k = "v"}})
    local t, meta = sg.load(path)
    assert.same({k = "v"}, meta) -- no layout keys added
    assert.same({1, 1}, H.flat(t["fc.weight"]))
    assert.equal("sgen.save: entry 'a' is number, expected a tensor",
                 H.error_of(sg.save, path, {a = 3}))
    assert.equal("sgen.save: entry 'a' is number, expected a tensor",
                 H.error_of(sg.save, path, {a = 3}, {checkpoint = false}))
    sg.save(path, {step = 3, name = "x", w = sg.ones(1)}, {checkpoint = true})
    local v = sg.load(path)
    assert.equal(3, v.step)
    assert.equal("x", v.name)
    assert.same({1}, H.flat(v.w))
    -- errors keep the caller's position, not the wrapper's
    local ok, e = pcall(function() sg.save(path, {a = 3}) end)
    assert.is_false(ok)
    assert.truthy(e:find("save_load_spec.lua:%d+: sgen.save: entry 'a'"), e)
  end)

  it("holds an object whose state_dict is tensors (sg.optim.EMA) like a module", function()
    sg.manual_seed(4)
    local net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    local ema = sg.optim.EMA(net, {decay = 0.5})
    sg.no_grad(function() for _, p in ipairs(net:parameters()) do p:add_(1) end end)
    ema:update()
    local path = tmp()
    sg.save(path, {net = net, ema = ema, step = 7})
    local net2 = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    local into = {net = net2, ema = sg.optim.EMA(net2, {decay = 0.5})}
    sg.load(path, into)
    assert.equal(7, into.step)
    local a, b = ema:state_dict(), into.ema:state_dict()
    for k, v in pairs(a) do H.assert_equal_tensors(b[k], v, "ema " .. k) end
    local plain = sg.load(path)
    assert.is_not_nil(plain.ema["0.weight"])
  end)

  it("reports missing, truncated and damaged files", function()
    local missing = H.tmpname(".safetensors")
    assert.equal("sgen.load: safetensors: cannot open '" .. missing .. "': No such file or directory",
                 H.error_of(sg.load, missing, {}))
    local m = make_gan(1, 1e-3)
    local path = tmp()
    sg.save(path, {G = m.G, step = 1})
    local bytes = H.slurp(path)
    local cut = H.write_file(tmp(), bytes:sub(1, #bytes - 40))
    local e = H.error_of(sg.load, cut, {G = m.G})
    assert.truthy(e:find("sgen.load: safetensors: '" .. cut .. "'", 1, true), e)
    assert.truthy(H.error_of(sg.load, cut):find(cut, 1, true))
    -- a layout whose entries are not valid JSON
    local bad = tmp()
    sg.core.save(bad, {x = sg.ones(1)}, {metadata = {["sgen.format"] = "sgen.save/1",
                                                       ["sgen.entries"] = "{\"x\":"}})
    e = H.error_of(sg.load, bad)
    assert.truthy(e:find("sgen.load: '" .. bad .. "' is damaged: ", 1, true), e)
    sg.core.save(bad, {}, {metadata = {["sgen.format"] = "sgen.save/1",
                                       ["sgen.entries"] = '{"w":"tensor"}'}})
    assert.equal("sgen.load: '" .. bad .. "' is damaged: it lists the tensor 'w' but does not hold it",
                 H.error_of(sg.load, bad, {}))
    sg.core.save(bad, {w = sg.ones(1)})
    assert.equal("sgen.load: '" .. bad .. "' holds plain tensors, not entries saved by sg.save of "
                 .. "modules, optimizers and values (no metadata 'sgen.format'): load it without "
                 .. "a second argument", H.error_of(sg.load, bad, {w = sg.ones(1)}))
  end)

  it("refuses modules and optimizers that do not match, changing nothing", function()
    local m = make_gan(1, 1e-3)
    train_step(m)
    local path = tmp()
    sg.save(path, {G = m.G, D = m.D, optG = m.optG, step = 1})

    local other = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
    local before = H.flat(other[1].weight)
    assert.equal("sgen.load: module 'G' does not match the file: size mismatch for 2.weight: "
                 .. "the file has shape 2x8, the model 3x8; size mismatch for 2.bias: the file has "
                 .. "shape 2, the model 3 ('" .. path .. "')", H.error_of(sg.load, path, {G = other}))
    assert.same(before, H.flat(other[1].weight))
    assert.equal("sgen.load: module 'G' does not match the file: missing keys: bias, weight; "
                 .. "unexpected keys: 0.bias, 0.weight, 2.bias, 2.weight ('" .. path .. "')",
                 H.error_of(sg.load, path, {G = nn.Linear(2, 2)}))
    assert.equal("sgen.load: '" .. path .. "' has no entry 'E' to load the module into (it has: "
                 .. "D, G, optG, step)", H.error_of(sg.load, path, {E = nn.Linear(2, 2)}))
    assert.equal("sgen.load: entry 'optG' of '" .. path .. "' is a optimizer, not a module like "
                 .. "into.optG", H.error_of(sg.load, path, {optG = nn.Linear(2, 2)}))

    -- an optimizer over other parameters: other counts, other shapes
    local fresh = make_gan(2, 1e-3)
    assert.equal("sgen.load: optimizer 'optG' does not match '" .. path .. "': parameter group 1 "
                 .. "has 4 parameters in the file, 6 in the optimizer",
                 H.error_of(sg.load, path, {optG = fresh.optD}))
    local wide = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
    local optW = sg.optim.Adam(wide:parameters())
    assert.equal("sgen.load: optimizer 'optG' does not match '" .. path .. "': it holds other "
                 .. "parameters (parameter 1: state.1.exp_avg has shape 8x2, the parameter 8x3)",
                 H.error_of(sg.load, path, {optG = optW}))
    -- nothing changed: the modules named beside the failing optimizer kept their weights
    local g_before = H.flat(fresh.G[1].weight)
    H.error_of(sg.load, path, {G = fresh.G, optG = optW})
    assert.same(g_before, H.flat(fresh.G[1].weight))
    assert.same({}, optW.state)
    -- an optimizer of another class: its own check, and the others are undone
    local sgd = sg.optim.SGD(fresh.G:parameters(), {lr = 0.1})
    local e = H.error_of(sg.load, path, {G = fresh.G, optG = sgd})
    assert.truthy(e:find("sgen.load: optimizer 'optG' does not match '" .. path .. "': ", 1, true), e)
    assert.equal(0.1, sgd.param_groups[1].lr)
    assert.same(g_before, H.flat(fresh.G[1].weight))
  end)

  it("checks its arguments", function()
    local m = make_gan(1, 1e-3)
    local path = tmp()
    assert.equal("sgen.save: entry 'f' is a function, expected a tensor, a module, an optimizer, "
                 .. "an object with state_dict() or a plain value (number, string, boolean, table "
                 .. "of them)", H.error_of(sg.save, path, {G = m.G, f = print}))
    assert.equal("sgen.save: entry name 'a.b' contains '.', which separates the parts of the "
                 .. "tensor names in the file (G.fc.weight): use another name",
                 H.error_of(sg.save, path, {G = m.G, ["a.b"] = 1}))
    assert.equal("sgen.save: entry 'x'.y is a tensor, which JSON metadata cannot hold",
                 H.error_of(sg.save, path, {G = m.G, x = {y = sg.ones(1)}}))
    assert.equal("sgen.save: argument 2 is a module: save a table naming it (sg.save(path, "
                 .. "{net = net})) or its state_dict() (sg.save(path, net:state_dict()))",
                 H.error_of(sg.save, path, m.G))
    assert.equal("sgen.save: metadata key 'step' is used by the file's layout (an entry of that "
                 .. "name, or sgen.format / sgen.entries): choose another key",
                 H.error_of(sg.save, path, {G = m.G, step = 1}, {metadata = {step = "2"}}))
    assert.equal("sgen.save: unknown option 'meta' (expected metadata, checkpoint)",
                 H.error_of(sg.save, path, {G = m.G}, {meta = {}}))
    assert.equal("sgen.save: option 'checkpoint' expected a boolean, got string",
                 H.error_of(sg.save, path, {}, {checkpoint = "yes"}))
    assert.equal("sgen.save: option 'metadata' expected a table {key = \"value\"}, got string",
                 H.error_of(sg.save, path, {G = m.G}, {metadata = "x"}))
    assert.equal("sgen.save: metadata 'n' is number, expected a string (safetensors metadata "
                 .. "holds strings only; convert with tostring)",
                 H.error_of(sg.save, path, {G = m.G}, {metadata = {n = 1}}))
    assert.is_nil(io.open(path, "rb")) -- nothing written by the failed saves
    sg.save(path, {G = m.G})
    assert.equal("sgen.load: argument 2 (into) expected a table {name = module, optimizer, tensor "
                 .. "or value}, got module", H.error_of(sg.load, path, m.G))
  end)

  it("writes files that Python's safetensors reads", function()
    local python
    for _, exe in ipairs({"/usr/bin/python3", "/work/main/.venv-bench/bin/python", os.getenv("SGEN_TEST_PYTHON")}) do
      local _, _, code = H.sh(H.shell_quote(exe) .. " -c 'import safetensors, numpy'")
      if code == 0 then python = exe break end
    end
    if not python then
      local msg = "Python check skipped: the module safetensors (with numpy) is not importable by "
                  .. "/usr/bin/python3, /work/main/.venv-bench/bin/python or $SGEN_TEST_PYTHON"
      io.stderr:write("\n" .. msg .. "\n")
      pending(msg)
      return
    end
    local m = make_gan(1, 1e-3)
    train_step(m)
    local path = tmp()
    sg.save(path, {G = m.G, optG = m.optG, rng = sg.get_rng_state(), step = 1200})
    local script = [[
import json, sys
from safetensors import safe_open
with safe_open(sys.argv[1], framework="np") as f:
    meta = f.metadata()
    w = f.get_tensor("G.0.weight")
    m = f.get_tensor("optG.state.3.exp_avg")
    print(sorted(f.keys())[0], w.shape, m.shape, json.loads(meta["step"]), json.loads(meta["rng"])["seed"])
]]
    local out, err, code = H.sh(H.shell_quote(python) .. " - " .. H.shell_quote(path), script)
    assert.equal(0, code, err)
    assert.equal("G.0.bias (8, 2) (2, 8) 1200 1\n", out)
  end)
end)
