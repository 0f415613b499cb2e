-- Soak: a long training loop keeps the process's resident memory flat.
-- 2,000 Deep Image Prior steps (models/unet_dip.lua, small: 16 channels,
-- 3 scales, 32x32) in a fresh `sgen run`; VmRSS after 200 steps (caches
-- warm: the allocator's blocks, oneDNN's primitives, Lua's heap) against
-- VmRSS after 1,000 and 2,000 steps must stay within 5 %. A leak of one
-- small tensor per step (1 KB x 1,800 steps) would not show, so the
-- allocator's own live-byte count must come back to where it was too.
local H = require "spec.helpers"

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

describe("a 2,000-step DIP training loop", function()
  it("keeps RSS within 5 % and live tensor bytes unchanged from step 200 on", function()
    local path = os.tmpname() .. ".lua"
    local f = assert(io.open(path, "w"))
    f:write([[
      local sg = require "sgen"
      local UNetDIP = require "models.unet_dip"
      local function rss_kb()
        for l in io.lines("/proc/self/status") do
          local v = l:match("^VmRSS:%s+(%d+)")
          if v then return tonumber(v) end
        end
      end
      sg.manual_seed(3)
      local net = UNetDIP({channels = 16, scales = 3})
      local input = sg.rand(1, 32, 32, 32) * 0.1
      local target = sg.rand(1, 3, 32, 32)
      local opt = sg.optim.Adam(net:parameters(), {lr = 0.01})
      local marks = {[200] = true, [1000] = true, [2000] = true}
      for step = 1, 2000 do
        local out = net(input + sg.randn_like(input) / 30)
        local loss = sg.F.mse_loss(out, target)
        opt:zero_grad()
        loss:backward()
        opt:step()
        if marks[step] then
          collectgarbage()
          collectgarbage()
          print(string.format("step=%d rss_kb=%d live=%d loss=%.6f", step, rss_kb(),
            sg.memory_stats().live_bytes, loss:item()))
        end
      end
    ]])
    f:close()
    -- (under AddressSanitizer freed blocks would sit in its quarantine)
    local cmd = 'ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" '
      .. shell_quote(assert(H.BIN, "SGEN_BIN is not set (run through ctest)")) .. " run " .. shell_quote(path) .. " 2>&1"
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    p:close()
    os.remove(path)
    local rss, live = {}, {}
    for step, r, l in out:gmatch("step=(%d+) rss_kb=(%d+) live=(%d+)") do
      rss[tonumber(step)], live[tonumber(step)] = tonumber(r), tonumber(l)
    end
    assert.is_not_nil(rss[2000], out)
    local msg = string.format("VmRSS after 200 / 1,000 / 2,000 steps: %d / %d / %d KB; "
      .. "live tensor bytes %d / %d / %d", rss[200], rss[1000], rss[2000],
      live[200], live[1000], live[2000])
    print(msg)
    for _, s in ipairs({1000, 2000}) do
      assert.is_true(math.abs(rss[s] - rss[200]) <= 0.05 * rss[200], msg)
      assert.equal(live[200], live[s], msg)
    end
  end)
end)
