-- Crash-safe writes (issue 18 item 6): a writer process (sgen run) rewrites
-- a safetensors file, a PNG and a JSON file and appends to a CSV log in a
-- loop; it is killed with SIGKILL after a random delay, ~100 times. After
-- each kill every target must be byte for byte the old or the new version
-- (and load), and metrics.csv must hold complete rows only: the next writer
-- continues it, and at the end its rows are 1..n with nothing lost between.
local sg = require "sgen"
local H = require "spec.helpers"
local log = require "sgen.util.log"

local KILLS = tonumber(os.getenv("SGEN_CRASH_KILLS") or "100")

-- arg[1]: directory; arg[2]: "ref" writes version 1 and 2 of each file to
-- ref1.* / ref2.* and exits; otherwise loops over the targets forever.
local WRITER = [[
local sg = sgen
local dir, mode = arg[1], arg[2]
local function version(v)
  sg.manual_seed(v)
  return {x = sg.randn(256, 1024), step = sg.tensor({v})}, -- 1 MiB of float32
         sg.rand(3, 192, 192), -- noise: the PNG barely compresses (~110 KB)
         {version = v, pad = string.rep("sgen", 25000)}
end
local function write(v, st, png, js)
  local t, img, obj = version(v)
  sg.save(st, t)
  sg.core.png_write(png, img)
  sg.util.json.write(js, obj, {keyorder = {"version", "pad"}})
end
if mode == "ref" then
  for v = 1, 2 do
    write(v, dir .. "/ref" .. v .. ".safetensors", dir .. "/ref" .. v .. ".png",
          dir .. "/ref" .. v .. ".json")
  end
  return
end
local csv = dir .. "/metrics.csv"
local logger = sg.util.log.new({csv = csv, append = true, fields = {"iter", "half", "tag"}})
local iter = 0
local ok, old = pcall(sg.util.log.read_csv, csv) -- none yet, or only cut
for _, row in ipairs(ok and old.rows or {}) do iter = row.iter end
local v = 2
while true do
  write(v, dir .. "/m.safetensors", dir .. "/img.png", dir .. "/s.json")
  iter = iter + 1
  logger:write({iter = iter, half = iter / 2, tag = string.rep("r", 200)})
  v = 3 - v
end
]]

describe("crash-safe writes", function()
  it("leaves every file old or new when the writer is killed at random points", function()
    if not H.BIN then return pending("SGEN_BIN not set") end
    local dir = H.tmpdir()
    local script = dir .. "/writer.lua"
    H.write_file(script, WRITER)
    -- the kill delays scale with how long a writer takes to start and write
    -- here (a sanitized build or a loaded CI machine is several times slower)
    local t0 = sg.core.monotonic()
    local _, err, code = H.sgen({"run", script, dir, "ref"})
    local t_ref = sg.core.monotonic() - t0
    assert.equal(0, code, err)
    local ref = {}
    for _, ext in ipairs({"safetensors", "png", "json"}) do
      ref[ext] = {H.slurp(dir .. "/ref1." .. ext), H.slurp(dir .. "/ref2." .. ext)}
    end
    -- the "old" files before the first writer starts: version 1
    local targets = {safetensors = dir .. "/m.safetensors", png = dir .. "/img.png",
                     json = dir .. "/s.json"}
    for ext, path in pairs(targets) do H.write_file(path, ref[ext][1]) end

    math.randomseed(18)
    local mid_write, cut_rows, versions_seen = 0, 0, {0, 0}
    local cmd = H.sgen_cmdline({"run", script, dir})
    -- KILLS kills, then more (up to 3 x KILLS) until a quarter of them landed
    -- inside a write: the test must exercise kills mid-write to prove anything
    local k = 0
    while k < KILLS or (mid_write < KILLS // 4 and k < 3 * KILLS) do
      k = k + 1
      local delay = t_ref * (0.5 + 1.5 * math.random())
      H.sh(string.format("%s </dev/null >/dev/null 2>&1 & pid=$!; sleep %.3f; kill -9 $pid; " ..
                         "wait $pid 2>/dev/null; true", cmd, delay))
      for ext, path in pairs(targets) do
        local bytes = H.slurp(path)
        local which = bytes == ref[ext][1] and 1 or bytes == ref[ext][2] and 2 or nil
        assert(which, string.format("kill %d (after %.3f s): %s is neither version (%d bytes)",
                                    k, delay, path, #bytes))
        versions_seen[which] = versions_seen[which] + 1
      end
      -- and they load
      local t = sg.load(targets.safetensors)
      assert.equal(2, t.x:dim())
      assert.same({3, 192, 192}, sg.core.png_read(targets.png):shape())
      assert.is_table(sg.util.json.read(targets.json))
      -- a kill inside a write leaves its temp file (never the target) behind
      local p = io.popen("ls " .. H.shell_quote(dir) .. " | grep -c '\\.tmp\\.' ; " ..
                         "rm -f " .. H.shell_quote(dir) .. "/*.tmp.*")
      local n = tonumber(p:read("a"):match("%d+")) or 0
      p:close()
      if n > 0 then mid_write = mid_write + 1 end
      local text = H.slurp(dir .. "/metrics.csv")
      if text:sub(-1) ~= "\n" then cut_rows = cut_rows + 1 end
    end
    -- metrics.csv: every complete row, in order, none lost or garbled (a cut
    -- last row is dropped by the next writer, which rewrites it)
    local text = H.slurp(dir .. "/metrics.csv")
    if text:sub(-1) ~= "\n" then text = text:match("^(.*\n)") end
    H.write_file(dir .. "/metrics.csv", text)
    local rows = log.read_csv(dir .. "/metrics.csv").rows
    assert.is_true(#rows > 0)
    for i, r in ipairs(rows) do
      assert.equal(i, r.iter, "row " .. i)
      assert.equal(i / 2, r.half, "row " .. i)
      assert.equal(string.rep("r", 200), r.tag, "row " .. i)
    end
    local msg = string.format("crash_safe: %d kills (delays %.2f-%.2f s), %d landed inside a write " ..
      "(temp file left), %d cut the CSV's last row; 0 targets corrupt; %d CSV rows complete; " ..
      "versions seen %d/%d", k, 0.5 * t_ref, 2 * t_ref, mid_write, cut_rows, #rows, versions_seen[1],
      versions_seen[2])
    print(msg)
    local out = os.getenv("SGEN_CRASH_REPORT")
    if out then H.write_file(out, msg .. "\n") end
    -- the test must have exercised kills inside writes, or it proves nothing
    assert.is_true(mid_write >= KILLS // 4, msg)
    H.rmdir(dir)
  end)

  it("an appending log drops a row cut by a kill; a resume ignores it", function()
    local path = H.tmpname(".csv")
    H.write_file(path, "iter,loss\n1,0.5\n2,0.25\n12")    -- "12" of "125,0.1": cut
    local l = log.new({csv = path, append = true})
    l:write({iter = 3, loss = 0.125})
    l:close()
    assert.equal("iter,loss\n1,0.5\n2,0.25\n3,0.125\n", H.slurp(path))
    H.write_file(path, "iter,loss\n1,0.5\n2,0.25\n1")
    assert.is_true(log.truncate_csv(path, 130))
    assert.equal("iter,loss\n1,0.5\n2,0.25\n", H.slurp(path))
    os.remove(path)
  end)

  it("sg.core.write_file writes whole files or raises", function()
    local dir = H.tmpdir()
    sg.core.write_file(dir .. "/a.txt", "hello\n")
    assert.equal("hello\n", H.slurp(dir .. "/a.txt"))
    assert.matches("sgen.write_file: cannot write '" .. dir:gsub("%p", "%%%0") .. "/no/b.txt': " ..
                   "cannot create a temp file next to it: No such file or directory",
                   H.error_of(sg.core.write_file, dir .. "/no/b.txt", "x"))
    assert.matches("argument 2 %(data%) expected a string, got no value",
                   H.error_of(sg.core.write_file, dir .. "/c.txt"))
    assert.matches("sgen.util.json.write: cannot write",
                   H.error_of(sg.util.json.write, dir .. "/no/c.json", {1}))
    H.rmdir(dir)
  end)
end)
