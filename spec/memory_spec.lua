-- Memory: garbage tensors must be collected at the pace they use memory,
-- without the script calling collectgarbage (lsg_push_tensor reports each
-- fresh storage's bytes to Lua's collector). Also sg.memory_stats and
-- sg.empty_cache.
local sg = require "sgen"

local MB = 1024 * 1024

describe("garbage tensors", function()
  it("are collected in a long loop without collectgarbage (live bytes bounded, not growing)",
    function()
      sg.manual_seed(0)
      local n = 2000
      local max_early, max_late = 0, 0 -- max live bytes over 500..1000 and 1500..2000
      for i = 1, n do
        -- 256x256 float32 = 256 KB each: about 1 MB of garbage per iteration
        local a = sg.randn(256, 256)
        local b = sg.rand(256, 256)
        local c = a * b + a
        if i % 10 == 0 then c = sg.matmul(a, c) end
        -- a small autograd graph
        local w = sg.randn(32, 32):requires_grad_()
        local loss = (w * w):sum() + (w * 2):exp():sum()
        loss:backward()
        local live = sg.memory_stats().live_bytes
        if i >= 500 and i <= 1000 and live > max_early then max_early = live end
        if i >= 1500 and live > max_late then max_late = live end
      end
      local st = sg.memory_stats()
      local msg = string.format("live after the loop %.1f MB, max live over iterations "
        .. "500..1000 %.1f MB, over 1500..2000 %.1f MB, Lua heap %.1f MB",
        st.live_bytes / MB, max_early / MB, max_late / MB, st.lua_bytes / MB)
      assert.is_true(st.live_bytes < 64 * MB, msg)
      assert.is_true(max_late < 96 * MB, msg)
      assert.is_true(max_late <= 1.25 * max_early + 16 * MB, msg)
      assert.is_true(st.lua_bytes < 16 * MB, msg)
    end)
end)

describe("sg.memory_stats", function()
  it("reports live, cached and peak tensor bytes and the Lua heap", function()
    collectgarbage()
    collectgarbage()
    local s0 = sg.memory_stats()
    for _, k in ipairs({"live_bytes", "cached_bytes", "peak_bytes", "lua_bytes"}) do
      assert.equal("integer", math.type(s0[k]), k)
      assert.is_true(s0[k] >= 0, k)
    end
    assert.is_true(s0.peak_bytes >= s0.live_bytes)
    local x = sg.zeros(1024, 1024) -- 4 MB
    local s1 = sg.memory_stats()
    assert.is_true(s1.live_bytes - s0.live_bytes >= 4 * MB)
    assert.is_true(s1.peak_bytes >= s1.live_bytes)
    x:free()
    local s2 = sg.memory_stats()
    assert.is_true(s2.live_bytes <= s1.live_bytes - 4 * MB)
    assert.is_true(s2.peak_bytes >= s1.live_bytes) -- the peak stays
    -- lua_bytes follows collectgarbage("count")
    assert.near(collectgarbage("count") * 1024, sg.memory_stats().lua_bytes, 64 * 1024)
  end)

  it("sg.empty_cache returns cached blocks to the system", function()
    for _ = 1, 4 do sg.zeros(1024, 1024):free() end
    sg.empty_cache()
    assert.equal(0, sg.memory_stats().cached_bytes)
    assert.has_no.errors(function() sg.empty_cache() end)
  end)
end)
