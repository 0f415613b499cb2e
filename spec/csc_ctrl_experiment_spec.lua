-- experiments/csc_ctrl.lua and csc_ctrl_denoise.lua end to end through
-- `$SGEN_BIN run`: the --quick preset trains CSC-CTRL, writes every output and
-- its reconstructions get better (PSNR at the end > at iteration 0); 3
-- iterations + --resume to 6 equal 6 straight bit for bit (with evaluations
-- in the straight run, which must not disturb training); the denoise script
-- on a tiny trained run with a CTRL baseline; bad options are refused.
-- About 1.5 min on 2 idle cores (one ~1 min --quick run, the rest tiny).
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

-- Runs a script; returns out dir, stdout (+ stderr when expect_fail).
local function run(script, args, out, expect_fail)
  local argv = {"run", "experiments/" .. script}
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  if out then argv[#argv + 1] = "--out=" .. out end
  local stdout, stderr, code = H.sh("cd " .. H.shell_quote(H.SRC) .. " && SGEN_PROGRESS=off " .. H.sgen_cmdline(argv))
  if expect_fail then
    assert(code ~= 0, script .. " " .. table.concat(args, " ") .. " should have failed:\n" .. stdout)
    return out, stdout .. stderr
  end
  assert(code == 0, string.format("%s %s failed (exit %s):\n%s\n%s", script, table.concat(args, " "),
    tostring(code), stdout, stderr))
  return out, stdout
end

local function run_ctrl(args, out, expect_fail)
  out = out or tmpdir()
  local _, stdout = run("csc_ctrl.lua", args, out, expect_fail)
  if expect_fail then return out, stdout end
  return out, stdout, assert(json.decode(assert(H.read_file(out .. "/summary.json"))))
end

local function csv(path) return require("sgen.util.log").read_csv(path) end

local TINY = {"--width=0.0625", "--batch-size=8", "--eval-n=16", "--sample-every=0", "--log-every=1"}
local function tiny(extra)
  local args = {}
  for _, a in ipairs(TINY) do args[#args + 1] = a end
  for _, a in ipairs(extra) do args[#args + 1] = a end
  return args
end

describe("csc_ctrl --quick", function()
  it("trains CSC-CTRL: outputs written, reconstruction PSNR higher at the end than at the start", function()
    local out, stdout, s = run_ctrl({"--quick"})
    for _, f in ipairs({"config.json", "metrics.csv", "summary.json", "recon_final.png", "atoms.png",
                        "objective.svg", "terms.svg", "quality.svg", "fid.svg", "model_final.safetensors",
                        "recon/iter_000000.png", "recon/iter_000100.png", "recon/iter_000200.png",
                        "checkpoints/latest.json", "checkpoints/step_00000200.safetensors"}) do
      assert.is_true(exists(out .. "/" .. f), "missing " .. f)
    end
    assert.equal(200, s.iters)
    assert.equal("csc", s.model)
    assert.equal(2, s.strategy)
    assert.truthy(stdout:find("not Inception", 1, true))
    assert.truthy(s.metric_note:find("[0,1]", 1, true))
    assert.is_true(s.psnr > s.psnr_start + 1, string.format("PSNR %.2f dB at the end, %.2f at the start",
      s.psnr, s.psnr_start))
    assert.is_true(s.ssim > 0 and s.ssim <= 1)
    assert.is_true(s.fid == s.fid and s.fid > 0)
    assert.equal(4, #s.code_zeros_percent)
    for _, z in ipairs(s.code_zeros_percent) do assert.is_true(z > 0 and z < 100) end
    local t = csv(out .. "/metrics.csv")
    local steps, evals = 0, 0
    for _, r in ipairs(t.rows) do
      if r.min_total then
        steps = steps + 1
        assert.is_true(r.R_Z > 0 and r.R_Zhat > 0)
        assert.is_true(math.abs(r.min_total - r.delta_R_pairs) < 1e-6 * math.max(1, math.abs(r.min_total)))
      end
      if r.psnr then evals = evals + 1 end
    end
    assert.equal(200, steps) -- ΔR terms every step
    assert.equal(5, evals)   -- iterations 0, 50, 100, 150, 200
  end)
end)

describe("csc_ctrl resume", function()
  it("3 iterations + --resume to 6 equal 6 straight, bit for bit (strategy 1, labels)", function()
    local base = tiny({"--strategy=1", "--labels", "--seed=7", "--lambda=0.05"})
    local function with(extra)
      local a = {}
      for _, v in ipairs(base) do a[#a + 1] = v end
      for _, v in ipairs(extra) do a[#a + 1] = v end
      return a
    end
    -- the straight run evaluates at 2 and 4: evaluation must not change training
    local straight = run_ctrl(with({"--iters=6", "--eval-every=2"}))
    local split = run_ctrl(with({"--iters=3", "--eval-every=0"}))
    local _, stdout, s = run_ctrl({"--resume=" .. split, "--iters=6"}, split)
    assert.truthy(stdout:find("resumed .* at iteration 3 of 6"))
    assert.equal(3, s.resumed_from)
    assert.equal(0.05, s.lambda)
    local a = sg.load(straight .. "/checkpoints/step_00000006.safetensors")
    local b = sg.load(split .. "/checkpoints/step_00000006.safetensors")
    local n, power = 0, 0
    for name, t in pairs(a) do
      assert.is_not_nil(b[name], "resumed checkpoint lacks " .. name)
      H.assert_equal_tensors(b[name], t, name)
      n = n + 1
      if name:find("power_", 1, true) then power = power + 1 end
    end
    assert.is_true(n > 40)
    assert.is_true(power >= 8) -- the CSC layers' cached step constants travel
    -- metrics.csv: steps 1..6 once each
    local seen = {}
    for _, r in ipairs(csv(split .. "/metrics.csv").rows) do
      if r.min_total then
        assert.is_nil(seen[r.iter], "step " .. r.iter .. " logged twice")
        seen[r.iter] = true
      end
    end
    for i = 1, 6 do assert.is_true(seen[i], "step " .. i .. " missing") end
  end)
end)

describe("csc_ctrl_denoise", function()
  it("scores every λ and the CTRL baseline on a tiny trained run", function()
    local run_dir = run_ctrl(tiny({"--iters=3"}))
    local base_dir = run_ctrl(tiny({"--iters=3", "--model=ctrl"}))
    local out = tmpdir()
    local _, stdout = run("csc_ctrl_denoise.lua", {"--checkpoint=" .. run_dir, "--baseline=" .. base_dir,
      "--lambdas=0.01,0.5", "--n=16", "--sigma=0.5"}, out)
    assert.truthy(stdout:find("baseline (ctrl)", 1, true))
    for _, f in ipairs({"table.md", "results.json", "denoise.svg", "strip.png"}) do
      assert.is_true(exists(out .. "/" .. f), "missing " .. f)
    end
    local r = assert(json.decode(assert(H.read_file(out .. "/results.json"))))
    assert.equal(2, #r.lambdas)
    assert.equal(0.5, r.lambdas[2].lambda)
    for _, row in ipairs(r.lambdas) do
      assert.is_true(row.psnr > 0 and row.mse > 0 and row.ssim <= 1)
      assert.is_true(math.abs(row.psnr - 10 * math.log(1 / row.mse, 10)) < 1.5) -- mean of per-image PSNRs vs pooled MSE
    end
    assert.is_true(r.baseline_result.psnr > 0)
    local md = assert(H.read_file(out .. "/table.md"))
    assert.truthy(md:find("[-1, 1]", 1, true))
    assert.truthy(md:find("| CSC-CTRL | 0.5 |", 1, true))
    -- the default output directory sits in the run
    run("csc_ctrl_denoise.lua", {"--checkpoint=" .. run_dir, "--lambdas=0.1", "--n=4", "--sigma=0.2"})
    assert.is_true(exists(run_dir .. "/denoise_sigma0.2/table.md"))
    -- a CTRL run has no λ to set
    local _, msg = run("csc_ctrl_denoise.lua", {"--checkpoint=" .. base_dir}, nil, true)
    assert.truthy(msg:find("give it as --baseline", 1, true))
  end)
end)

describe("csc_ctrl options", function()
  local cases = {
    {{"--model=vae"}, "--model must be csc, ctrl"},
    {{"--strategy=3"}, "--strategy must be 1, 2"},
    {{"--data=mnist"}, "--data must be fmnist, cifar10"},
    {{"--data=cifar10"}, "needs --data-dir"},
    {{"--batch-size=1"}, "at least 2"},
    {{"--width=0.001"}, "--width must be positive"},
    {{"--lambda=-1"}, "--lambda must be a number >= 0"},
    {{"--model=ctrl", "--lambda=0.1"}, "--lambda applies to --model=csc only"},
    {{"--eval-every=-1"}, "--eval-every must be >= 0"},
    {{"--bogus=1"}, "bogus"},
  }
  for _, c in ipairs(cases) do
    it("refuses " .. table.concat(c[1], " "), function()
      local _, msg = run_ctrl(c[1], nil, true)
      assert.truthy(msg:find(c[2], 1, true), msg)
    end)
  end
  it("refuses --resume without a checkpoint and denoise without --checkpoint or with bad λ", function()
    local dir = tmpdir()
    os.execute("mkdir -p " .. H.shell_quote(dir))
    local f = assert(io.open(dir .. "/config.json", "w"))
    f:write('{"model": "csc"}')
    f:close()
    local _, msg = run_ctrl({"--resume=" .. dir}, nil, true)
    assert.truthy(msg:find("no checkpoint", 1, true), msg)
    _, msg = run("csc_ctrl_denoise.lua", {}, nil, true)
    assert.truthy(msg:find("--checkpoint=DIR is required", 1, true), msg)
    _, msg = run("csc_ctrl_denoise.lua", {"--checkpoint=" .. dir, "--lambdas=0.1,x"}, nil, true)
    assert.truthy(msg:find("comma-separated list", 1, true), msg)
    _, msg = run("csc_ctrl_denoise.lua", {"--checkpoint=" .. dir .. "/nope"}, nil, true)
    assert.truthy(msg:find("not found", 1, true), msg)
  end)
end)
