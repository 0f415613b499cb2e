-- experiments/self_sparse.lua end to end through `$SGEN_BIN run`: the --quick
-- preset (Self-Sparse GAN at 32x32) trains, scores and logs ξ̄ and ζ per
-- stage; the wgan baseline at 64x64 (FID still at 32x32) and the ablations
-- with tiny settings; 3 iterations + --resume to 6 equal 6 straight bit for
-- bit; bad options are refused. About 2 min on 2 cores (one ~1 min --quick run).
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

local function run_exp(args, out, expect_fail)
  out = out or tmpdir()
  local argv = {"run", "experiments/self_sparse.lua"}
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  argv[#argv + 1] = "--out=" .. out
  local stdout, stderr, code = H.sh("cd " .. H.shell_quote(H.SRC) .. " && SGEN_PROGRESS=off " .. H.sgen_cmdline(argv))
  if expect_fail then
    assert(code ~= 0, "self_sparse " .. table.concat(args, " ") .. " should have failed:\n" .. stdout)
    return out, stdout .. stderr
  end
  assert(code == 0, string.format("self_sparse %s failed (exit %s):\n%s\n%s", table.concat(args, " "),
    tostring(code), stdout, stderr))
  local summary = assert(json.decode(assert(H.read_file(out .. "/summary.json"))))
  return out, stdout, summary
end

local function csv(path) return require("sgen.util.log").read_csv(path) end

local TINY = {"--ngf=8", "--ndf=8", "--nz=16", "--batch-size=16", "--fid-samples=64", "--sample-every=0",
  "--log-every=1", "--size=32"}
local function tiny(extra)
  local args = {}
  for _, a in ipairs(TINY) do args[#args + 1] = a end
  for _, a in ipairs(extra) do args[#args + 1] = a end
  return args
end

describe("self_sparse --quick", function()
  it("trains Self-Sparse GAN at 32x32, logs ξ̄ and ζ per stage and writes every output", function()
    local out, stdout, s = run_exp({"--quick"})
    for _, f in ipairs({"config.json", "metrics.csv", "summary.json", "samples_final.png", "samples/iter_000040.png",
                        "samples/iter_000080.png", "losses.svg", "fid.svg", "sparsity.svg", "classes.svg",
                        "checkpoints/latest.json", "checkpoints/step_00000080.safetensors"}) do
      assert.is_true(exists(out .. "/" .. f), "missing " .. f)
    end
    assert.truthy(stdout:find("not Inception", 1, true))
    assert.equal("self-sparse", s.variant)
    assert.equal(32, s.size)
    assert.equal(4, s.stages)
    assert.equal(80, s.iters)
    assert.equal(2, s.n_critic)
    assert.equal(0, s.gp_center)
    assert.is_true(s.fid == s.fid and s.fid > 0 and s.best_fid <= s.fid)
    assert.is_true(s.xi_bar >= 0 and s.xi_bar <= 1)
    assert.equal(4, #s.sparse_rates)
    local n = 0
    for _, c in ipairs(s.classes) do n = n + c.count end
    assert.equal(1000, n)
    local rows = 0
    for _, r in ipairs(csv(out .. "/metrics.csv").rows) do
      if r.loss_d then
        rows = rows + 1
        for t = 1, 4 do
          assert.is_true(r["xi_" .. t] >= 0 and r["xi_" .. t] <= 1, "xi_" .. t)
          assert.is_true(r["zeta_" .. t] >= 0 and r["zeta_" .. t] <= 1, "zeta_" .. t)
        end
        assert.is_nil(r.xi_5)
        assert.is_true(r.gp >= 0)
      end
    end
    assert.equal(17, rows) -- iteration 1 and every 5th
  end)
end)

describe("self_sparse tiny runs", function()
  it("the wgan baseline at 64x64: no SASTM, no rates, FID at 32x32", function()
    local out, stdout, s = run_exp(tiny({"--variant=wgan", "--size=64", "--iters=2"}))
    assert.equal(64, s.size)
    assert.equal(32, s.fid_resolution)
    assert.equal("avg_pool2d 2x2", s.fid_downsampling)
    assert.is_nil(s.xi_bar)
    assert.truthy(stdout:find("64x64 (FID at 32x32)", 1, true))
    assert.is_false(exists(out .. "/sparsity.svg"))
    local img = sg.image.read(out .. "/samples_final.png")
    assert.is_true(img:size(2) > 8 * 64)
    local ck = sg.load(out .. "/checkpoints/step_00000002.safetensors")
    for name in pairs(ck) do assert.is_nil(name:find("%.g1%.") or name:find("%.g2%."), name) end
  end)

  it("the ablations drop one module: no-csm has no g1, no-psm no g2", function()
    local a = run_exp(tiny({"--variant=no-csm", "--iters=1"}))
    local b = run_exp(tiny({"--variant=no-psm", "--iters=1"}))
    local ca = sg.load(a .. "/checkpoints/step_00000001.safetensors")
    local cb = sg.load(b .. "/checkpoints/step_00000001.safetensors")
    assert.is_nil(ca["models.G.main.1.g1.weight"])
    assert.is_not_nil(ca["models.G.main.1.g2.weight"])
    assert.is_not_nil(cb["models.G.main.1.g1.weight"])
    assert.is_nil(cb["models.G.main.1.g2.weight"])
  end)
end)

describe("self_sparse resume", function()
  it("3 iterations + --resume to 6 equal 6 straight, bit for bit", function()
    local opts = tiny({"--seed=5"})
    local function with(extra)
      local a = {}
      for _, v in ipairs(opts) do a[#a + 1] = v end
      for _, v in ipairs(extra) do a[#a + 1] = v end
      return a
    end
    local straight = run_exp(with({"--iters=6"}))
    local split = run_exp(with({"--iters=3"}))
    local _, stdout = run_exp({"--resume=" .. split, "--iters=6"}, split)
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
    local function loss_rows(path)
      local rows = {}
      for _, r in ipairs(csv(path).rows) do if r.loss_d then rows[#rows + 1] = r end end
      return rows
    end
    local ta, tb = loss_rows(straight .. "/metrics.csv"), loss_rows(split .. "/metrics.csv")
    assert.equal(6, #ta)
    assert.equal(#ta, #tb)
    for i, r in ipairs(ta) do
      for _, col in ipairs({"iter", "loss_d", "loss_g", "gp", "xi_bar", "zeta_mean", "xi_4"}) do
        assert.equal(r[col], tb[i][col], string.format("row %d column %s", i, col))
      end
    end
    local sa = json.decode(H.read_file(straight .. "/summary.json"))
    local sb = json.decode(H.read_file(split .. "/summary.json"))
    assert.equal(sa.fid, sb.fid)
    assert.equal(sa.xi_bar, sb.xi_bar)
    assert.equal(3, sb.resumed_from)
  end)
end)

describe("self_sparse options", function()
  local cases = {
    {{"--variant=wgan-gp"}, "--variant must be self-sparse, wgan, no-csm, no-psm, got 'wgan-gp'"},
    {{"--size=48"}, "--size must be 32, 64 or 128, got 48"},
    {{"--data=cifar10"}, "--data must be fmnist, got 'cifar10'"},
    {{"--gp-lambda=-1"}, "--gp-lambda must be >= 0"},
    {{"--iters=0"}, "--iters must be at least 1"},
    {{"--fid-samples=1"}, "--fid-samples must be at least 2"},
    {{"--resume=/nonexistent/run"}, "/nonexistent/run/config.json not found"},
  }
  for _, c in ipairs(cases) do
    it("refuses " .. table.concat(c[1], " "), function()
      local _, text = run_exp(tiny(c[1]), nil, true)
      assert.truthy(text:find(c[2], 1, true), "expected '" .. c[2] .. "' in:\n" .. text)
    end)
  end
end)
