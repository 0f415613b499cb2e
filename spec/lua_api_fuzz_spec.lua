-- tools/fuzz_lua_api.lua: every sgen function and tensor method called with
-- wrong arguments in worker processes. A short seeded run here (the committed
-- long runs: docs/reliability.md), and the fuzzer's own crash and hang
-- detection checked by making a worker die or block on purpose.
local H = require "spec.helpers"

local TOOL = H.SRC .. "/tools/fuzz_lua_api.lua"

local function fuzz(args)
  local cmd = {"run", TOOL}
  for _, a in ipairs(args) do cmd[#cmd + 1] = a end
  return H.sgen(cmd)
end

local function summary(out)
  local total, reached, all, errs, rets, crashes, hangs = out:match(
    "(%d+) calls reaching (%d+) of the (%d+) functions and methods, in [%d.]+ s: "
    .. "(%d+) clean errors, (%d+) returned, (%d+) crashes, (%d+) hangs")
  assert(total, "no summary line in: " .. out)
  return {total = tonumber(total), reached = tonumber(reached), all = tonumber(all),
          errors = tonumber(errs), returned = tonumber(rets), crashes = tonumber(crashes),
          hangs = tonumber(hangs)}
end

describe("the Lua API fuzzer", function()
  it("makes 3,000 wrong calls with no crash and no hang", function()
    local out, err, code = fuzz({"--calls=3000", "--seed=11", "--batch=1000"})
    assert.equal(0, code, err)
    local s = summary(out)
    assert.equal(3000, s.total)
    assert.equal(0, s.crashes)
    assert.equal(0, s.hangs)
    assert.equal(3000, s.errors + s.returned)
    assert.is_true(s.errors > s.total / 2, "most wrong calls raise errors")
    assert.is_true(s.all > 300, "the targets include sg, sg.F, sg.nn and tensor methods")
    assert.is_true(s.reached > 0.9 * s.all, "3,000 calls reach nearly every target")
  end)
  it("is seeded: the same seed makes the same calls with the same outcomes", function()
    local a = fuzz({"--calls=400", "--seed=5", "--batch=400"})
    local b = fuzz({"--calls=400", "--seed=5", "--batch=200"})
    assert.same(summary(a), summary(b))
  end)
  it("reports a worker killed by a signal as a crash, names the call and goes on", function()
    local out, err, code = fuzz({"--calls=300", "--seed=3", "--batch=100", "--self_test_crash_at=150"})
    assert.equal(1, code)
    local s = summary(out)
    assert.equal(1, s.crashes)
    assert.equal(300, s.total)
    assert.matches("crash at call 150: ", out)
    -- under make sanitize, ASan's own SIGSEGV handler reports and exits 1
    local how = os.getenv("ASAN_OPTIONS") and "%(exit 1%)" or "%(signal 11%)"
    assert.matches("crash at call 150: [^\n]-" .. how, err)
  end)
  it("reports a worker that outlives --timeout as a hang", function()
    local out, _, code = fuzz({"--calls=40", "--seed=3", "--batch=20", "--timeout=3",
                               "--self_test_hang_at=30"})
    assert.equal(1, code)
    local s = summary(out)
    assert.equal(1, s.hangs)
    assert.equal(0, s.crashes)
    assert.matches("hang at call 30: ", out)
  end)
end)
