-- experiments/gan_sparse.lua end to end through `$SGEN_BIN run`: the --quick
-- preset of each loss trains, scores and writes every output; the sparsity of
-- Γ is what the variant promises; 3 iterations + --resume to 6 equal 6
-- straight bit for bit (WGAN-GP with the ML-CSC generator: n_critic,
-- gradient penalty, two projections); bad options are refused. About 2 min
-- on 2 cores (three ~40 s --quick runs).
local sg = require "sgen"
local json = require "dkjson"
local H = require "spec.helpers"

local tmpdirs = {}
local function tmpdir()
  local dir = H.tmpname()
  tmpdirs[#tmpdirs + 1] = dir
  return dir
end
teardown(function()
  for _, d in ipairs(tmpdirs) do H.rmdir(d) end
end)

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- Runs the experiment; returns out dir, stdout, summary (nil if expect_fail).
local function run_gan(args, out, expect_fail)
  out = out or tmpdir()
  local argv = {"run", "experiments/gan_sparse.lua"}
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  argv[#argv + 1] = "--out=" .. out
  local stdout, stderr, code = H.sh("cd " .. H.shell_quote(H.SRC) .. " && SGEN_PROGRESS=off " .. H.sgen_cmdline(argv))
  if expect_fail then
    assert(code ~= 0, "gan_sparse " .. table.concat(args, " ") .. " should have failed:\n" .. stdout)
    return out, stdout .. stderr
  end
  assert(code == 0, string.format("gan_sparse %s failed (exit %s):\n%s\n%s", table.concat(args, " "),
    tostring(code), stdout, stderr))
  local summary = assert(json.decode(assert(H.read_file(out .. "/summary.json"))))
  return out, stdout, summary
end

local function csv(path)
  local log = require "sgen.util.log"
  return log.read_csv(path)
end

-- A tiny configuration for the fast tests (seconds per run).
local TINY = {"--ngf=8", "--ndf=8", "--nz=16", "--batch-size=16", "--fid-samples=64", "--sample-every=0",
  "--log-every=1"}
local function tiny(extra)
  local args = {}
  for _, a in ipairs(TINY) do args[#args + 1] = a end
  for _, a in ipairs(extra) do args[#args + 1] = a end
  return args
end

describe("gan_sparse --quick", function()
  local untrained
  local function untrained_fid()
    if not untrained then
      local _, _, s = run_gan({"--quick", "--iters=1"})
      untrained = s.fid
    end
    return untrained
  end

  it("trains the L0,inf DCGAN and writes samples, FID, needle densities, curves, checkpoints", function()
    local out, stdout, s = run_gan({"--quick", "--variant=l0inf"})
    for _, f in ipairs({"config.json", "metrics.csv", "summary.json", "samples_final.png", "needle_density.png",
                        "losses.svg", "fid.svg", "samples/iter_000100.png", "samples/iter_000300.png",
                        "checkpoints/latest.json", "checkpoints/step_00000300.safetensors"}) do
      assert.is_true(exists(out .. "/" .. f), "missing " .. f)
    end
    assert.equal(300, s.iters)
    assert.equal(1, s.seed)
    -- ngf 32, k = ngf/8 = 4 kept channels per needle: at most 12.5 % non-zeros
    -- at every position (fewer where a needle has under 4 non-zeros after ReLU)
    assert.equal(4, s.k)
    assert.is_true(s.nonzero_percent.gamma <= 12.5 and s.nonzero_percent.gamma > 12)
    assert.is_true(s.needle_density.gamma.max <= 0.125 and s.needle_density.gamma.min > 0.1)
    assert.truthy(stdout:find("not Inception", 1, true))
    assert.truthy(s.fid_note:find("not comparable to Inception", 1, true))
    -- the generator learned something: its FID is well below the untrained one's
    assert.is_true(s.fid == s.fid and s.fid > 0)
    assert.is_true(s.fid < 0.95 * untrained_fid(), string.format("FID %.1f after 300 iterations, %.1f untrained",
      s.fid, untrained_fid()))
    assert.is_true(s.is >= 1 and s.is <= 10)
    local t = csv(out .. "/metrics.csv")
    local last = t.rows[#t.rows]
    assert.equal(300, last.iter)
    assert.is_true(math.abs(s.fid - last.fid) <= 1e-8 * s.fid) -- the CSV keeps 10 digits
  end)

  it("trains WGAN-GP with the ML-CSC generator: penalty logged, both Γ projected", function()
    local out, _, s = run_gan({"--quick", "--loss=wgan-gp", "--model=mlcsc", "--variant=l0inf"})
    assert.equal(60, s.iters)
    assert.equal(5, s.n_critic)
    for _, g in ipairs({"gamma1", "gamma2"}) do
      assert.is_true(s.nonzero_percent[g] <= 12.5 and s.nonzero_percent[g] > 12, g)
    end
    assert.is_true(exists(out .. "/needle_density_gamma1.png"))
    assert.is_true(exists(out .. "/needle_density_gamma2.png"))
    local t = csv(out .. "/metrics.csv")
    local gps = 0
    for _, r in ipairs(t.rows) do
      if r.gp then
        gps = gps + 1
        assert.is_true(r.gp >= 0)
      end
    end
    assert.is_true(gps >= 6)
    assert.is_true(s.fid < untrained_fid(), string.format("FID %.1f, untrained %.1f", s.fid, untrained_fid()))
  end)

  it("trains the hinge loss with the L1 penalty on Γ", function()
    local out, _, s = run_gan({"--quick", "--loss=hinge", "--variant=l1", "--l1-weight=0.05"})
    assert.equal(0.05, s.l1_weight)
    local t = csv(out .. "/metrics.csv")
    for _, r in ipairs(t.rows) do
      if r.sparsity_loss then assert.is_true(r.sparsity_loss > 0) end
    end
    assert.is_true(s.nonzero_percent.gamma > 0 and s.nonzero_percent.gamma <= 100)
    assert.is_true(s.fid < 0.95 * untrained_fid(), string.format("FID %.1f, untrained %.1f", s.fid, untrained_fid()))
  end)
end)

describe("gan_sparse resume", function()
  it("3 iterations + --resume to 6 equal 6 straight, bit for bit (WGAN-GP, ML-CSC, L0)", function()
    local opts = tiny({"--loss=wgan-gp", "--model=mlcsc", "--variant=l0", "--k=0.25", "--seed=7"})
    local function with(extra)
      local a = {}
      for _, v in ipairs(opts) do a[#a + 1] = v end
      for _, v in ipairs(extra) do a[#a + 1] = v end
      return a
    end
    local straight = run_gan(with({"--iters=6"}))
    local split = run_gan(with({"--iters=3"}))
    local _, stdout = run_gan({"--resume=" .. split, "--iters=6"}, split)
    assert.truthy(stdout:find("resumed .* at iteration 3 of 6"))
    local a = sg.load(straight .. "/checkpoints/step_00000006.safetensors")
    local b = sg.load(split .. "/checkpoints/step_00000006.safetensors")
    local n = 0
    for name, t in pairs(a) do
      assert.is_not_nil(b[name], "resumed checkpoint lacks " .. name)
      H.assert_equal_tensors(b[name], t, name)
      n = n + 1
    end
    assert.is_true(n > 40)
    -- the logged losses are the same numbers too (the split run also keeps
    -- the evaluation made at the end of its first part, iteration 3)
    local function loss_rows(path)
      local rows = {}
      for _, r in ipairs(csv(path).rows) do if r.loss_d then rows[#rows + 1] = r end end
      return rows
    end
    local ta, tb = loss_rows(straight .. "/metrics.csv"), loss_rows(split .. "/metrics.csv")
    assert.equal(6, #ta)
    assert.equal(#ta, #tb)
    for i, r in ipairs(ta) do
      for _, col in ipairs({"iter", "loss_d", "loss_g", "gp"}) do
        assert.equal(r[col], tb[i][col], string.format("row %d column %s", i, col))
      end
    end
    local sa = json.decode(H.read_file(straight .. "/summary.json"))
    local sb = json.decode(H.read_file(split .. "/summary.json"))
    assert.equal(sa.fid, sb.fid)
    assert.equal(3, sb.resumed_from)
  end)

  it("a different seed gives different weights", function()
    local a = run_gan(tiny({"--iters=2", "--seed=1"}))
    local b = run_gan(tiny({"--iters=2", "--seed=2"}))
    local wa = sg.load(a .. "/checkpoints/step_00000002.safetensors")
    local wb = sg.load(b .. "/checkpoints/step_00000002.safetensors")
    assert.are_not.same(wa["models.G.main.0.weight"]:totable(), wb["models.G.main.0.weight"]:totable())
  end)
end)

describe("gan_sparse on CIFAR-10's binary batches", function()
  it("trains and scores from a --data-dir holding data_batch_1..5.bin and test_batch.bin", function()
    -- a stand-in for the real files (not on these machines): 8 random records per file
    local dir = tmpdir()
    os.execute("mkdir -p " .. H.shell_quote(dir))
    local seed = 12345
    local function byte()
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % 256
    end
    for _, name in ipairs({"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                           "test_batch"}) do
      local parts = {}
      for r = 1, 8 do
        local rec = {string.char((r - 1) % 10)}
        for _ = 1, 3072 do rec[#rec + 1] = string.char(byte()) end
        parts[#parts + 1] = table.concat(rec)
      end
      H.write_file(dir .. "/" .. name .. ".bin", table.concat(parts))
    end
    local out, stdout, s = run_gan(tiny({"--data=cifar10", "--data-dir=" .. dir, "--batch-size=8", "--iters=2",
      "--fid-samples=16", "--variant=l0inf", "--k=2"}))
    assert.equal("cifar10", s.data)
    assert.truthy(stdout:find("CIFAR-10", 1, true))
    assert.is_true(s.fid == s.fid and s.fid > 0)
    assert.is_true(exists(out .. "/samples_final.png"))
    local img = sg.image.read(out .. "/samples_final.png")
    assert.equal(3, img:size(1)) -- RGB samples
  end)
end)

describe("gan_sparse options", function()
  local cases = {
    {{"--variant=l2"}, "--variant must be none, l1, l0, l0inf, got 'l2'"},
    {{"--loss=wgan"}, "--loss must be dcgan, wgan-gp, hinge, got 'wgan'"},
    {{"--variant=none", "--k=4"}, "--k applies to --variant=l0 and l0inf only"},
    {{"--variant=l0inf", "--k=40"}, "--k must be an integer in 1..8"},
    {{"--variant=l0", "--k=1.5"}, "--k for l0 must be a count"},
    {{"--data=cifar10"}, "--data=cifar10 needs --data-dir=DIR"},
    {{"--iters=0"}, "--iters must be at least 1"},
    {{"--resume=/nonexistent/run"}, "/nonexistent/run/config.json not found"},
  }
  for _, c in ipairs(cases) do
    it("refuses " .. table.concat(c[1], " "), function()
      local _, text = run_gan(tiny(c[1]), nil, true)
      assert.truthy(text:find(c[2], 1, true), "expected '" .. c[2] .. "' in:\n" .. text)
    end)
  end
end)
