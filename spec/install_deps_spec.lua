-- scripts/install-deps.sh: what `make demo` / `make test` install (building,
-- the demo and the tests) and what --bench adds (PyTorch, for `make bench` and
-- the fixture scripts tools/make_*.py). Only --list is run: it installs nothing.
local H = require "spec.helpers"

local SCRIPT = H.SRC .. "/scripts/install-deps.sh"

local function list(args)
  local out, err, code = H.sh("bash " .. H.shell_quote(SCRIPT) .. " --list " .. (args or ""))
  assert.equal(0, code, err)
  local set, n = {}, 0
  for p in out:gmatch("%S+") do
    set[p] = true
    n = n + 1
  end
  return set, n
end

describe("scripts/install-deps.sh", function()
  it("installs no PyTorch for building, the demo and the tests", function()
    -- regression: every `make test` user got Debian's python3-torch (hundreds of MB)
    local base = list()
    for _, p in ipairs({"cmake", "liblua5.4-dev", "lua5.4", "lua-busted", "libedit-dev",
                        "libopenblas-openmp-dev", "libdnnl-dev", "dataset-fashion-mnist",
                        -- sg.dist and `sgen launch`: the data-parallel tests run in make test
                        "libopenmpi-dev", "openmpi-bin"}) do
      assert.is_true(base[p], p)
    end
    for _, p in ipairs({"python3-torch", "python3-numpy", "python3"}) do
      assert.is_nil(base[p], p)
    end
  end)

  it("adds PyTorch and numpy with --bench", function()
    local base, nbase = list()
    local bench, nbench = list("--bench")
    for p in pairs(base) do assert.is_true(bench[p], p) end
    for _, p in ipairs({"python3", "python3-torch", "python3-numpy"}) do
      assert.is_true(bench[p], p)
    end
    assert.is_true(nbench > nbase)
  end)

  it("adds headless Chromium only with --browser (the report's browser tests)", function()
    local base, nbase = list()
    assert.is_nil(base.chromium)
    assert.is_true(base["lua-filesystem"])   -- sgen report lists folders with it
    local browser, nbrowser = list("--browser")
    for p in pairs(base) do assert.is_true(browser[p], p) end
    assert.is_true(browser.chromium)
    assert.equal(nbase + 1, nbrowser)
  end)

  it("adds clang and libFuzzer only with --fuzz (make fuzz, the fuzz.smoke test)", function()
    local base, nbase = list()
    assert.is_nil(base.clang)
    local fuzz, nfuzz = list("--fuzz")
    for p in pairs(base) do assert.is_true(fuzz[p], p) end
    assert.is_true(fuzz.clang)
    assert.is_true(fuzz["libclang-rt-14-dev"])
    assert.is_true(nfuzz > nbase)
    local both = list("--browser --fuzz")
    assert.is_true(both.chromium and both.clang)
  end)

  it("rejects unknown arguments", function()
    local _, err, code = H.sh("bash " .. H.shell_quote(SCRIPT) .. " --benchh")
    assert.equal(2, code)
    assert.matches("unknown argument '%-%-benchh'", err)
  end)
end)
