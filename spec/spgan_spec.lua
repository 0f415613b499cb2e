-- experiments/spgan.lua end to end through `$SGEN_BIN run`: the --quick
-- preset of spgan-recon learns Ω, trains G, D and E and writes every output;
-- the wgan-gp baseline and --dictionary=FILE with tiny settings; 3 iterations
-- + --resume to 6 equal 6 straight bit for bit (Ω and E included); bad
-- options are refused. About 2 min on 2 cores (one ~80 s --quick run).
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
  local argv = {"run", "experiments/spgan.lua"}
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  argv[#argv + 1] = "--out=" .. out
  local stdout, stderr, code = H.sh("cd " .. H.shell_quote(H.SRC) .. " && SGEN_PROGRESS=off " .. H.sgen_cmdline(argv))
  if expect_fail then
    assert(code ~= 0, "spgan " .. table.concat(args, " ") .. " should have failed:\n" .. stdout)
    return out, stdout .. stderr
  end
  assert(code == 0, string.format("spgan %s failed (exit %s):\n%s\n%s", table.concat(args, " "),
    tostring(code), stdout, stderr))
  local summary = assert(json.decode(assert(H.read_file(out .. "/summary.json"))))
  return out, stdout, summary
end

local function csv(path) return require("sgen.util.log").read_csv(path) end

local TINY = {"--ngf=8", "--ndf=8", "--nz=16", "--batch-size=16", "--fid-samples=64", "--sample-every=0",
  "--log-every=1", "--dict-patches=500", "--dict-iters=20"}
local function tiny(extra)
  local args = {}
  for _, a in ipairs(TINY) do args[#args + 1] = a end
  for _, a in ipairs(extra) do args[#args + 1] = a end
  return args
end

describe("spgan --quick", function()
  it("learns Ω, trains SPGAN with the reconstructor and writes every output", function()
    local out, stdout, s = run_exp({"--quick", "--variant=spgan-recon"})
    for _, f in ipairs({"config.json", "omega.safetensors", "omega.png", "metrics.csv", "summary.json",
                        "samples_final.png", "samples/iter_000020.png", "samples/iter_000040.png", "losses.svg",
                        "fid.svg", "classes.svg", "checkpoints/latest.json", "checkpoints/step_00000040.safetensors"}) do
      assert.is_true(exists(out .. "/" .. f), "missing " .. f)
    end
    assert.truthy(stdout:find("not Inception", 1, true))
    assert.equal(40, s.iters)
    assert.equal(36, s.atoms)
    assert.equal(4, s.recon_start)       -- iters / 10
    assert.equal(5, s.n_critic)
    assert.equal("learned", s.dictionary.source)
    assert.is_true(s.fid == s.fid and s.fid > 0 and s.best_fid <= s.fid)
    assert.is_true(s.nonzero_percent > 0 and s.nonzero_percent < 100)
    assert.is_true(s.lambda_mean >= 0)
    -- the class histogram covers every generated sample
    local n = 0
    for _, c in ipairs(s.classes) do n = n + c.count end
    assert.equal(1000, n)
    assert.equal(10, #s.classes)
    assert.is_true(s.max_class_percent >= 10 and s.max_class_percent <= 100)
    -- Ω: 9 x 36, unit-norm columns; the generator in the checkpoint holds it
    local omega = sg.load(out .. "/omega.safetensors").omega
    assert.same({9, 36}, omega:shape())
    assert.is_true((omega:norm(2, 1) - 1):abs():max():item() < 1e-4)
    local ck = sg.load(out .. "/checkpoints/step_00000040.safetensors")
    H.assert_equal_tensors(ck["models.G.omega"], omega, "Ω in the checkpoint")
    assert.is_not_nil(ck["models.E.main.0.weight"])
    -- λ stayed >= 0; E and L_R are logged, L_R only after recon_start
    assert.is_true(ck["models.G.threshold.lambda"]:min():item() >= 0)
    for _, r in ipairs(csv(out .. "/metrics.csv").rows) do
      if r.loss_d then
        assert.is_true(r.loss_e ~= nil)
        assert.equal(r.iter > 4, r.loss_r ~= nil, "loss_r at " .. r.iter)
        assert.is_true(r.lambda_mean >= 0)
      end
    end
  end)
end)

describe("spgan tiny runs", function()
  it("the wgan-gp baseline: the plain DCGAN generator, no Ω", function()
    local out, _, s = run_exp(tiny({"--variant=wgan-gp", "--iters=2"}))
    assert.equal("wgan-gp", s.variant)
    assert.is_nil(s.atoms)
    assert.is_false(exists(out .. "/omega.safetensors"))
    assert.is_true(exists(out .. "/classes.svg"))
    local ck = sg.load(out .. "/checkpoints/step_00000002.safetensors")
    assert.is_nil(ck["models.G.omega"])
    assert.is_nil(ck["models.E.main.0.weight"])
  end)

  it("--dictionary=FILE uses the saved Ω instead of learning one", function()
    local a = run_exp(tiny({"--iters=1", "--seed=3"}))
    local dict = a .. "/omega.safetensors"
    local b, stdout, s = run_exp(tiny({"--iters=1", "--seed=4", "--dictionary=" .. dict}))
    assert.is_nil(stdout:find("Ω learned", 1, true))
    assert.equal(dict, s.dictionary.source)
    H.assert_equal_tensors(sg.load(b .. "/omega.safetensors").omega, sg.load(dict).omega, "Ω")
  end)
end)

describe("spgan resume", function()
  it("3 iterations + --resume to 6 equal 6 straight, bit for bit (spgan-recon: Ω, E, λ)", function()
    local opts = tiny({"--variant=spgan-recon", "--recon-start=1", "--seed=7"})
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
    assert.is_not_nil(a["models.E.main.0.weight"])
    local function loss_rows(path)
      local rows = {}
      for _, r in ipairs(csv(path).rows) do if r.loss_d then rows[#rows + 1] = r end end
      return rows
    end
    local ta, tb = loss_rows(straight .. "/metrics.csv"), loss_rows(split .. "/metrics.csv")
    assert.equal(6, #ta)
    assert.equal(#ta, #tb)
    for i, r in ipairs(ta) do
      for _, col in ipairs({"iter", "loss_d", "loss_g", "gp", "loss_e", "loss_r", "nonzero_gamma"}) do
        assert.equal(r[col], tb[i][col], string.format("row %d column %s", i, col))
      end
    end
    local sa = json.decode(H.read_file(straight .. "/summary.json"))
    local sb = json.decode(H.read_file(split .. "/summary.json"))
    assert.equal(sa.fid, sb.fid)
    assert.equal(3, sb.resumed_from)
  end)
end)

describe("spgan options", function()
  local cases = {
    {{"--variant=spgan2"}, "--variant must be wgan-gp, spgan, spgan-recon, got 'spgan2'"},
    {{"--patch=4"}, "--patch must be odd"},
    {{"--lambda=-1"}, "--lambda must be >= 0"},
    {{"--recon-weight=-0.5"}, "--recon-weight must be >= 0"},
    {{"--data=cifar10"}, "--data=cifar10 needs --data-dir=DIR"},
    {{"--variant=wgan-gp", "--dictionary=x.safetensors"}, "--dictionary applies to the spgan variants only"},
    {{"--iters=0"}, "--iters must be at least 1"},
    {{"--resume=/nonexistent/run"}, "/nonexistent/run/config.json not found"},
  }
  for _, c in ipairs(cases) do
    it("refuses " .. table.concat(c[1], " "), function()
      local _, text = run_exp(tiny(c[1]), nil, true)
      assert.truthy(text:find(c[2], 1, true), "expected '" .. c[2] .. "' in:\n" .. text)
    end)
  end
end)
