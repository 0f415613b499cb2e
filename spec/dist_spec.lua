-- sg.dist, nn.DistributedDataParallel, data.DistributedSampler and `sgen
-- launch` in one process (world size 1, or samplers given num_replicas and
-- rank). The 2-rank checks are the ctest entries dist.* (spec/dist/*.lua).
local sg = require "sgen"
local H = require "spec.helpers"
local nn, data = sg.nn, sg.data
local dist = sg.dist

local MPI = dist.is_available("mpi")

local function range_ds(n)
  return data.TensorDataset(sg.arange(1, n + 1):view(n, 1), nil)
end

describe("sg.dist before init", function()
  it("names sg.dist.init in every call", function()
    for _, f in ipairs({"rank", "world_size", "local_rank", "barrier", "destroy", "bytes_communicated"}) do
      local ok, err = pcall(dist[f])
      assert.is_false(ok)
      assert.matches("sgen.dist." .. f .. ": sg.dist.init%(%) was not called", err)
    end
    -- the error names the caller's line, not sgen's
    local ok, err = pcall(function() dist.all_reduce(sg.zeros(2)) end)
    assert.is_false(ok)
    assert.matches("^[^\n]*dist_spec%.lua:%d+: sgen%.dist%.all_reduce: sg%.dist%.init%(%) was not called", err)
    assert.is_false(dist.is_initialized())
  end)

  it("rejects unknown backends and options", function()
    assert.has_error(function() dist.init({backend = "gloo"}) end)
    local ok, err = pcall(dist.init, {backend = "gloo"})
    assert.is_false(ok)
    assert.matches("unknown backend 'gloo' %(expected mpi or nccl%)", err)
    ok, err = pcall(dist.init, {backnd = "mpi"})
    assert.matches("unknown option 'backnd'", err)
    ok, err = pcall(dist.is_available, "tcp")
    assert.matches("unknown backend 'tcp'", err)
  end)

  it("says NCCL is not built here when it is not", function()
    if dist.is_available("nccl") then return end
    local ok, err = pcall(dist.init, {backend = "nccl"})
    assert.is_false(ok)
    assert.matches("sgen.dist.init: sgen was built without NCCL", err)
    assert.is_false(dist.is_initialized())
  end)

  it("nn.DistributedDataParallel needs init", function()
    local ok, err = pcall(nn.DistributedDataParallel, nn.Linear(2, 2))
    assert.is_false(ok)
    assert.matches("sg.dist.init%(%) was not called", err)
  end)

  it("sg.dist.save is sg.save", function()
    local path = H.tmpname(".safetensors")
    dist.save(path, {net = nn.Linear(2, 3)})
    assert.same({3, 2}, sg.load(path).net.weight:shape())
    os.remove(path)
  end)
end)

describe("sg.dist in a world of one process", function()
  if not MPI then pending("sgen was built without MPI") return end

  it("is rank 0 of 1 and its collectives leave tensors as they are", function()
    dist.init()
    finally(function() if dist.is_initialized() then dist.destroy() end end)
    assert.equal(0, dist.rank())
    assert.equal(1, dist.world_size())
    assert.equal(0, dist.local_rank())
    assert.equal("mpi", dist.backend())
    assert.is_true(dist.is_main())
    local t = sg.tensor({1.0, 2.5})
    assert.equal(t, dist.all_reduce(t, {op = "mean"}))
    assert.same({1.0, 2.5}, t:totable())
    assert.same({{1.0, 2.5}}, dist.all_gather(t):totable())
    assert.same({1.0, 2.5}, dist.broadcast(t, 0):totable())
    assert.same({1.0, 2.5}, dist.reduce_scatter(t):totable())
    local ok, err = pcall(dist.broadcast, t, 1)
    assert.matches("root 1 is not a rank %(0 to 0%)", err)
    ok, err = pcall(dist.broadcast, t, 1.5)
    assert.matches("argument 2 %(root%) expected a rank", err)
    ok, err = pcall(dist.all_reduce, sg.tensor({true}))
    assert.matches("op sum is not defined for bool tensors", err)
    dist.barrier()
    assert.is_true(dist.bytes_communicated() >= 24)
    dist.destroy()
    assert.is_false(dist.is_initialized())
  end)

  it("wraps a module: forward delegates, gradients are those of the module", function()
    dist.init()
    finally(function() dist.destroy() end)
    sg.manual_seed(0)
    local net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    local ref = net:clone()
    local ddp = nn.DistributedDataParallel(net, {bucket_mb = 0.0001, sync_bn = true})
    local x = sg.randn(5, 3)
    local y = ddp(x)
    H.assert_close(y, ref(x), 1e-6)
    ddp:backward(y:sum())
    ref(x):sum():backward()
    for i, p in ipairs(net:parameters()) do H.assert_close(p.grad, ref:parameters()[i].grad, 1e-6) end
    -- PyTorch's names: the wrapped module is `module`
    assert.is_not_nil(ddp:state_dict()["module.1.weight"])
    -- several buckets at this size, reverse order of registration
    local buckets = ddp:_buckets()
    assert.is_true(#buckets > 1)
    assert.equal(net[4].bias, buckets[1].params[1])
    assert.same({7, 8}, {ddp:no_sync(function(a, b) return a, b end, 7, 8)})
    assert.is_true(ddp.require_sync)
    local ok, err = pcall(nn.DistributedDataParallel, net, {bucket = 1})
    assert.matches("unknown option 'bucket' %(expected bucket_mb, sync_bn%)", err)
    ok, err = pcall(nn.DistributedDataParallel, net, {bucket_mb = 0})
    assert.matches("option bucket_mb expected a number > 0", err)
    ok, err = pcall(nn.DistributedDataParallel, 3)
    assert.matches("argument 1 %(module%) expected a module, got number", err)
    ok, err = pcall(function() ddp:no_sync(function() error("inside") end) end)
    assert.matches("inside", err)
    assert.is_true(ddp.require_sync)
  end)
end)

describe("data.DistributedSampler", function()
  it("splits an epoch into disjoint equal shares, padded to a multiple", function()
    local ds = range_ds(5)
    local a = data.DistributedSampler(ds, {num_replicas = 2, rank = 0, shuffle = false})
    local b = data.DistributedSampler(ds, {num_replicas = 2, rank = 1, shuffle = false})
    assert.equal(3, a:len())
    assert.same({1, 3, 5}, a:indices():totable())
    assert.same({2, 4, 1}, b:indices():totable()) -- padded with the first index, as PyTorch
    local c = data.DistributedSampler(ds, {num_replicas = 2, rank = 1, shuffle = false, drop_last = true})
    assert.equal(2, c:len())
    assert.same({2, 4}, c:indices():totable())
  end)

  it("shuffles by (seed, epoch), the same permutation on every rank", function()
    local ds = range_ds(10)
    local function share(rank, seed, epoch)
      local s = data.DistributedSampler(ds, {num_replicas = 2, rank = rank, seed = seed})
      if epoch then s:set_epoch(epoch) end
      return s:indices():totable()
    end
    local all = {}
    for _, i in ipairs(share(0, 7, 3)) do all[#all + 1] = i end
    for _, i in ipairs(share(1, 7, 3)) do all[#all + 1] = i end
    table.sort(all)
    assert.same({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, all)
    assert.same(share(0, 7, 3), share(0, 7, 3))
    assert.are_not.same(share(0, 7, 3), share(0, 7, 4))
    assert.are_not.same(share(0, 7, 3), share(0, 8, 3))
    -- the global RNG stream is untouched
    sg.manual_seed(5)
    local before = sg.rand(1):item()
    sg.manual_seed(5)
    share(0, 1, 1)
    assert.equal(before, sg.rand(1):item())
  end)

  it("feeds a DataLoader: this rank's samples in batches, a new order each epoch", function()
    local ds = range_ds(8)
    local s = data.DistributedSampler(ds, {num_replicas = 2, rank = 1, seed = 3})
    local loader = data.DataLoader(ds, {batch_size = 3, sampler = s})
    assert.equal(2, loader:len())
    local function epoch()
      local got = {}
      for x in loader:iter() do for _, v in ipairs(x:view(-1):totable()) do got[#got + 1] = v end end
      return got
    end
    local e1, e2 = epoch(), epoch()
    assert.same(s:indices(1):totable(), e1)
    assert.same(s:indices(2):totable(), e2)
    assert.are_not.same(e1, e2)
    s:set_epoch(1) -- set_epoch wins over the loader's count
    assert.same(e1, epoch())
    local ok, err = pcall(data.DataLoader, ds, {sampler = s, shuffle = true})
    assert.matches("options sampler and shuffle exclude each other", err)
  end)

  it("checks its arguments", function()
    local ds = range_ds(4)
    local ok, err = pcall(data.DistributedSampler, ds, {num_replicas = 2, rank = 2})
    assert.matches("rank expected an integer from 0 to 1, got 2", err)
    ok, err = pcall(data.DistributedSampler, ds, {num_replicas = 2, rank = 0, shufle = true})
    assert.matches("unknown option 'shufle'", err)
    ok, err = pcall(data.DistributedSampler, ds)
    assert.matches("sg.dist.init%(%) was not called %(or give num_replicas and rank%)", err)
    ok, err = pcall(data.DistributedSampler, 3)
    assert.matches("argument 1 %(dataset%) expected a dataset", err)
  end)
end)

describe("sgen launch", function()
  if not H.BIN then pending("needs SGEN_BIN (run through ctest)") return end
  local function launch(args)
    return H.sh(H.shell_quote(H.BIN) .. " launch " .. args)
  end

  it("runs mpirun with the script and its options (--dry-run)", function()
    if not MPI then pending("sgen was built without MPI") return end
    local out, err, code = launch("-n 3 --backend=mpi --dry-run train.lua --lr=0.1 --quick")
    assert.equal(0, code, err)
    assert.matches("mpi", out)
    assert.matches(" %-%-oversubscribe %-%-bind%-to none %-n 3 ", out)
    assert.matches(" run train%.lua %-%-lr=0%.1 %-%-quick\n$", out)
    assert.matches("%-x SGEN_DIST_BACKEND", out)
    local uid = H.sh("id -u")
    if uid:match("^0") then assert.matches("%-%-allow%-run%-as%-root", out) end
  end)

  it("rejects a bad command line with status 2", function()
    for args, msg in pairs({["train.lua"] = "missing %-n N",
                            ["-n 0 train.lua"] = "%-n expects a number of ranks from 1, got '0'",
                            ["-n 2 --backend=gloo train.lua"] = "unknown backend 'gloo'",
                            ["-n 2 --hosts=a train.lua"] = "unknown option '%-%-hosts=a'",
                            ["-n 2"] = "missing script"}) do
      local _, err, code = launch(args)
      assert.equal(2, code, args)
      assert.matches(msg, err)
    end
  end)

  it("is in sgen help", function()
    local out = H.sh(H.shell_quote(H.BIN) .. " help")
    assert.matches("sgen launch %-n N", out)
  end)
end)
