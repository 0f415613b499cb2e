-- System functions: threads, build description, version, sg.cuda.
local sg = require "sgen"

describe("sg.set_num_threads / sg.get_num_threads", function()
  it("set and read the CPU thread count", function()
    local before = sg.get_num_threads()
    assert.equal("integer", math.type(before))
    assert.is_true(before >= 1)
    sg.set_num_threads(1)
    assert.equal(1, sg.get_num_threads())
    sg.set_num_threads(3)
    assert.equal(3, sg.get_num_threads())
    -- results do not depend on the thread count
    local x = sg.tensor({{1, 2}, {3, 4}})
    local y3 = (x * x + 1):totable()
    sg.set_num_threads(1)
    assert.same(y3, (x * x + 1):totable())
    sg.set_num_threads(before)
    assert.equal(before, sg.get_num_threads())
  end)

  it("rejects bad counts", function()
    assert.has_error(function() sg.set_num_threads(0) end,
      "sgen.set_num_threads: argument 1 (n) must be in 1..4096, got 0")
    assert.has_error(function() sg.set_num_threads(1.5) end,
      "sgen.set_num_threads: argument 1 (n) expected an integer, got 1.5")
    assert.has_error(function() sg.set_num_threads() end,
      "sgen.set_num_threads: argument 1 (n) expected an integer, got no value")
  end)
end)

describe("sg.version / sg.build_info", function()
  it("give the version and the build options", function()
    assert.equal("0.1.0", sg.version)
    local info = sg.build_info()
    assert.equal("string", type(info))
    assert.truthy(info:find("0.1.0", 1, true), info)
    assert.truthy(info:find("BLAS", 1, true), info)
    assert.truthy(info:find("CUDA", 1, true), info)
  end)
end)

describe("sg.cuda", function()
  it("says no CUDA device in this build", function()
    assert.is_false(sg.cuda.is_available())
    assert.equal(0, sg.cuda.device_count())
    assert.has_error(function() sg.rand(2, {device = "cuda"}) end,
      "sgen.rand: device 'cuda' is not available: this sgen was built without CUDA (see `sgen info`)")
  end)
end)
