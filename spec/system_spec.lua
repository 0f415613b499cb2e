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
    local x = sg.tensor({{1.0, 2}, {3, 4}})
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
  local stat_keys = {"allocated_bytes", "reserved_bytes", "peak_allocated_bytes",
    "peak_reserved_bytes", "requested_bytes", "num_device_allocs", "num_device_frees",
    "num_alloc_retries", "num_ooms"}

  it("has the device functions in every build", function()
    for _, name in ipairs({"is_available", "device_count", "device_name", "unavailable_reason",
                           "memory_stats", "reset_peak_memory_stats", "empty_cache",
                           "synchronize", "versions"}) do
      assert.equal("function", type(sg.cuda[name]), name)
    end
    assert.equal("boolean", type(sg.cuda.built))
    local m = sg.cuda.memory_stats()
    for _, k in ipairs(stat_keys) do assert.equal("integer", math.type(m[k]), k) end
    local v = sg.cuda.versions()
    for _, k in ipairs({"runtime", "driver", "cudnn", "cublas"}) do
      assert.equal("integer", math.type(v[k]), k)
    end
    sg.cuda.empty_cache()
    sg.cuda.reset_peak_memory_stats()
    sg.cuda.synchronize()
  end)

  it("says why CUDA cannot be used, and device='cuda' fails with that reason", function()
    if sg.cuda.is_available() then return end
    assert.equal(0, sg.cuda.device_count())
    local reason = sg.cuda.unavailable_reason()
    assert.is_true(#reason > 0)
    if not sg.cuda.built then
      assert.has_error(function() sg.rand(2, {device = "cuda"}) end,
        "sgen.rand: device 'cuda' is not available: this sgen was built without CUDA (see `sgen info`)")
      assert.has_error(function() sg.zeros(2, {device = "cuda:1"}) end,
        "sgen.zeros: device 'cuda:1' is not available: this sgen was built without CUDA (see `sgen info`)")
    else
      assert.has_error(function() sg.rand(2, {device = "cuda"}) end,
        "sgen.rand: device 'cuda' is not available: " .. reason)
    end
    local ok, err = pcall(sg.cuda.device_name, 0)
    assert.is_false(ok)
    assert.matches("^sgen%.cuda%.device_name: no CUDA device", err)
    local m = sg.cuda.memory_stats()
    for _, k in ipairs(stat_keys) do assert.equal(0, m[k], k) end
  end)

  it("says 'no CUDA driver / no GPU found' in a CUDA build on a machine without a driver", function()
    -- regression: the runtime's "CUDA driver version is insufficient for CUDA
    -- runtime version" sent people to update a driver they did not have
    if not sg.cuda.built or sg.cuda.is_available() or sg.cuda.versions().driver ~= 0 then
      pending("needs a CUDA build on a machine without a CUDA driver")
      return
    end
    assert.equal("no CUDA driver / no GPU found", sg.cuda.unavailable_reason())
    assert.has_error(function() sg.zeros(2, {device = "cuda"}) end,
      "sgen.zeros: device 'cuda' is not available: no CUDA driver / no GPU found")
  end)

  it("rejects device names that are not cpu, cuda or cuda:N", function()
    for _, name in ipairs({"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda0", "CUDA"}) do
      assert.has_error(function() sg.zeros(2, {device = name}) end,
        "sgen.zeros: unknown device '" .. name .. "' (expected \"cpu\", \"cuda\" or \"cuda:N\")")
    end
  end)
end)

describe("sg.backends.allow_tf32", function()
  it("is off by default and can be switched", function()
    assert.is_false(sg.backends.allow_tf32)
    sg.backends.allow_tf32 = true
    assert.is_true(sg.backends.allow_tf32)
    sg.backends.allow_tf32 = false
    assert.is_false(sg.backends.allow_tf32)
  end)

  it("rejects other values and unknown settings", function()
    assert.has_error(function() sg.backends.allow_tf32 = 1 end,
      "sgen.backends.allow_tf32: expected a boolean, got number")
    assert.has_error(function() sg.backends.allow_tf32 = nil end,
      "sgen.backends.allow_tf32: expected a boolean, got nil")
    assert.has_error(function() sg.backends.allow_fp16 = true end,
      "sgen.backends: unknown setting 'allow_fp16' (expected allow_tf32)")
    assert.is_nil(sg.backends.allow_fp16)
    assert.is_false(sg.backends.allow_tf32)
  end)
end)

-- Run on a machine with a GPU: busted --tags=gpu spec/system_spec.lua
describe("sg.cuda on a GPU #gpu", function()
  it("reports a device", function()
    assert.is_true(sg.cuda.is_available())
    assert.is_true(sg.cuda.device_count() >= 1)
    assert.equal("string", type(sg.cuda.device_name(0)))
    assert.equal("", sg.cuda.unavailable_reason())
    assert.is_true(sg.cuda.versions().runtime >= 12000)
  end)

  it("moves tensors to the device and back", function()
    local x = sg.tensor({{1.0, 2, 3}, {4, 5, 6}})
    local g = x:to("cuda")
    assert.equal("cuda:0", g:device())
    assert.same(x:totable(), g:to("cpu"):totable())
    assert.same(((x * 2 + 1):sum()):item(), ((g * 2 + 1):sum()):item())
    assert.has_error(function() sg.zeros(2, {device = "cuda:1"}) end)
  end)

  it("counts device memory and returns it to the cache", function()
    collectgarbage()
    sg.cuda.empty_cache()
    local before = sg.cuda.memory_stats()
    do
      local t <close> = sg.zeros(1024, 1024, {device = "cuda"}) -- 4 MB
      local m = sg.cuda.memory_stats()
      assert.is_true(m.allocated_bytes >= before.allocated_bytes + 4 * 1024 * 1024)
      assert.is_true(m.reserved_bytes >= m.allocated_bytes)
    end
    local after = sg.cuda.memory_stats()
    assert.equal(before.allocated_bytes, after.allocated_bytes)
    assert.is_true(after.reserved_bytes > after.allocated_bytes) -- cached
    sg.cuda.empty_cache()
    assert.equal(sg.cuda.memory_stats().allocated_bytes, sg.cuda.memory_stats().reserved_bytes)
  end)

  it("keeps device memory flat in a loop without collectgarbage", function()
    collectgarbage()
    local base = sg.cuda.memory_stats().allocated_bytes
    local peak = base
    for _ = 1, 2000 do
      local x = sg.ones(256, 256, {device = "cuda"}) * 0.5 -- 256 KB each, never freed by hand
      local y = (x * x + 1):sum()
      peak = math.max(peak, sg.cuda.memory_stats().allocated_bytes)
      assert.is_true(y:item() > 0)
    end
    -- garbage is collected at the pace of the device bytes
    assert.is_true(peak - base < 256 * 1024 * 1024, "peak " .. peak)
  end)

  it("raises an out-of-memory error naming the request, and recovers", function()
    local ok, err = pcall(sg.empty, 1 << 44, {device = "cuda"}) -- 64 TiB
    assert.is_false(ok)
    assert.matches("^sgen%.cuda: out of memory: tried to allocate 64%.00 TiB %(70368744177664 bytes", err)
    assert.matches("sgen holds", err)
    assert.is_true(sg.cuda.memory_stats().num_ooms >= 1)
    assert.equal(6, sg.ones(2, 3, {device = "cuda"}):sum():item())
  end)
end)
