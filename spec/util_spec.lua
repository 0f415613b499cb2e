-- sg.util: progress bar, metric logs, JSON, timers.
local sg = require "sgen"
local util = sg.util
local time = require "sgen.util.time"
local H = require "spec.helpers"

local tmpname, slurp = H.tmpname, H.slurp

local function lines_of(s)
  local t = {}
  for l in s:gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

-- Runs a Lua snippet in a child lua5.4 with our module paths; returns stdout.
local function run_child(env, code)
  local script = tmpname(".lua")
  local f = assert(io.open(script, "w"))
  f:write(code)
  f:close()
  local out = tmpname(".out")
  local cmd = string.format("%s LUA_PATH=%q LUA_CPATH=%q lua5.4 %s > %s 2>&1", env, package.path,
    package.cpath, script, out)
  local ok = os.execute(cmd)
  local s = slurp(out)
  os.remove(script)
  os.remove(out)
  return s, ok
end

-- A fake clock for deterministic rates and ETAs.
local real_clock = time.clock
local fake_now = 0
local function use_fake_clock() fake_now = 0; time.clock = function() return fake_now end end
local function restore_clock() time.clock = real_clock end

describe("sg.util.time", function()
  it("formats durations", function()
    assert.equal("00:00", util.format_duration(0))
    assert.equal("01:05", util.format_duration(65.2))
    assert.equal("1:01:01", util.format_duration(3661))
    assert.equal("--:--", util.format_duration(nil))
    assert.equal("--:--", util.format_duration(0 / 0))
    assert.equal("--:--", util.format_duration(math.huge))
  end)
  it("has a wall clock and a timer that counts it", function()
    assert.is_string(time.source)
    local t0 = util.clock()
    assert.is_number(t0)
    local t = util.timer()
    local e = t:elapsed()
    assert.is_true(e >= 0 and e < 5)
    assert.matches("^timer%(", tostring(t))
    use_fake_clock()
    local t2 = util.timer()
    fake_now = 2.5
    assert.equal(2.5, t2:elapsed())
    assert.equal(2.5, t2:reset())
    fake_now = 3
    assert.equal(0.5, t2:elapsed())
    restore_clock()
  end)
end)

describe("sg.util.progress", function()
  before_each(use_fake_clock)
  after_each(restore_clock)

  local function capture(fn)
    local path = tmpname(".txt")
    local f = assert(io.open(path, "w"))
    fn(f)
    f:close()
    local s = slurp(path)
    os.remove(path)
    return s
  end

  it("prints a plain line every `every` iterations with rate, elapsed, ETA and metrics", function()
    local s = capture(function(f)
      local p = util.progress.new(10, {desc = "train", every = 5, out = f, mode = "plain"})
      for i = 1, 10 do
        fake_now = i * 0.5 -- 2 it/s
        p:update(1, {loss = 1 / i, acc = sg.tensor(i / 10)})
      end
      p:close()
    end)
    local l = lines_of(s)
    assert.equal(2, #l)
    assert.equal("train 5/10 (50%) 2.00 it/s elapsed 00:03 eta 00:03 acc=0.5 loss=0.2", l[1])
    assert.equal("train 10/10 (100%) 2.00 it/s elapsed 00:05 eta 00:00 acc=1 loss=0.1", l[2])
  end)

  it("prints every `seconds` seconds too, and a last line at close", function()
    local s = capture(function(f)
      local p = util.progress.new(100, {every = 1000, seconds = 10, out = f, mode = "plain"})
      for i = 1, 7 do
        fake_now = i * 4
        p:update()
      end
      p:close()
      p:close() -- idempotent
    end)
    local l = lines_of(s)
    -- due at t=12 (3 iters) and t=24 (6 iters), then the final 7 at close
    assert.equal(3, #l)
    assert.matches("^3/100 %(3%%%) 0%.25 it/s elapsed 00:12 eta 06:28$", l[1])
    assert.matches("^6/100 ", l[2])
    assert.matches("^7/100 ", l[3])
  end)

  it("without a total shows the count and no ETA", function()
    local s = capture(function(f)
      local p = util.progress.new(nil, {every = 2, out = f, mode = "plain", unit = "img"})
      fake_now = 1
      p:update(4, {note = "x"})
      p:close()
    end)
    assert.equal("4 4.00 img/s elapsed 00:01 note=x\n", s)
  end)

  it("redraws one line in place in bar mode", function()
    local s = capture(function(f)
      local p = util.progress.new(4, {desc = "ep", out = f, mode = "bar", refresh = 0, width = 110})
      for i = 1, 4 do
        fake_now = i
        p:update(1, {loss = 0.25})
      end
      p:close()
    end)
    assert.equal(0, select(2, s:gsub("\n", "\n")) - 1)
    assert.equal("\n", s:sub(-1))
    local draws = {}
    for seg in s:gmatch("\r([^\r\n]*)") do draws[#draws + 1] = seg end
    assert.equal(5, #draws) -- 4 updates + close
    assert.equal("ep  25%|#######                       | 1/4 [00:01<00:03, 1.00it/s, loss=0.25]", draws[1])
    assert.matches("^ep 100%%|##############################| 4/4 %[00:04<00:00, 1%.00it/s, loss=0%.25%]", draws[5])
  end)

  it("throttles bar redraws to `refresh` seconds", function()
    local s = capture(function(f)
      local p = util.progress.new(1000, {out = f, mode = "bar", refresh = 1})
      for i = 1, 999 do
        fake_now = i * 0.01
        p:update()
      end
      p:close()
    end)
    local n = select(2, s:gsub("\r", ""))
    assert.is_true(n >= 9 and n <= 12, "redraws: " .. n)
  end)

  it("mode off prints nothing", function()
    local s = capture(function(f)
      local p = util.progress.new(3, {out = f, mode = "off"})
      p:update(3)
      p:close()
    end)
    assert.equal("", s)
  end)

  it("picks plain when stdout is not a terminal, and obeys SGEN_PROGRESS", function()
    local code = [[
      local p = require("sgen.util.progress").new(2, {every = 1, desc = "d"})
      io.write(p.mode, "\n")
      p:update(2)
      p:close()
    ]]
    local s = run_child("SGEN_PROGRESS=", code)
    assert.matches("^plain\nd 2/2 %(100%%%)", s)
    local b = run_child("SGEN_PROGRESS=bar", code)
    assert.matches("^bar\n\rd 100%%|", b)
    local o = run_child("SGEN_PROGRESS=off", code)
    assert.equal("off\n", o)
    local e = run_child("SGEN_PROGRESS=fancy", code)
    assert.matches("mode must be bar, plain or off, got 'fancy' %(from SGEN_PROGRESS%)", e)
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() util.progress.new(-1) end,
      "sgen.util.progress.new: argument 1 (total) must be >= 0, got -1")
    assert.has_error(function() util.progress.new(2.5) end,
      "sgen.util.progress.new: argument 1 (total) expected an integer, got 2.5")
    assert.has_error(function() util.progress.new("x") end,
      "sgen.util.progress.new: argument 1 (total) expected an integer, got string")
    assert.has_error(function() util.progress.new(10, {evry = 3}) end,
      "sgen.util.progress.new: unknown option 'evry' (expected desc, every, seconds, out, mode, width, refresh, unit)")
    assert.has_error(function() util.progress.new(10, {mode = "fancy"}) end,
      "sgen.util.progress.new: mode must be bar, plain or off, got 'fancy'")
    assert.has_error(function() util.progress.new(10, {every = 0}) end,
      "sgen.util.progress.new: option every must be >= 1, got 0")
    local p = util.progress.new(10, {mode = "off"})
    assert.has_error(function() p:update(-1) end, "sgen.util.progress.update: argument 1 (n) must be >= 0, got -1")
    assert.has_error(function() p:update(1, 5) end,
      "sgen.util.progress.update: argument 2 (metrics) expected a table, got number")
    p:close()
    assert.has_error(function() p:update() end, "sgen.util.progress.update: the progress bar is closed")
  end)
end)

describe("sg.util.log", function()
  it("writes CSV with a stable header and JSONL, flushed at every row", function()
    local csv, jsonl = tmpname(".csv"), tmpname(".jsonl")
    local log = util.log.new{csv = csv, jsonl = jsonl}
    log:write{zeta = 1, loss = 0.5, step = 1, acc = 0.25, epoch = 1}
    -- readable before close: flushed
    assert.equal("epoch,step,acc,loss,zeta\n1,1,0.25,0.5,1\n", slurp(csv))
    log:write{step = 2, loss = sg.tensor(0.125), acc = 0 / 0, epoch = 1, zeta = math.huge}
    log:write{step = 3, epoch = 2}
    log:close()
    log:close()
    assert.equal("epoch,step,acc,loss,zeta\n1,1,0.25,0.5,1\n1,2,nan,0.125,inf\n2,3,,,\n", slurp(csv))
    local l = lines_of(slurp(jsonl))
    assert.equal(3, #l)
    assert.equal('{"epoch":1,"step":1,"acc":0.25,"loss":0.5,"zeta":1}', l[1])
    assert.equal('{"epoch":1,"step":2,"acc":null,"loss":0.125,"zeta":null}', l[2])
    assert.equal('{"epoch":2,"step":3}', l[3])
    os.remove(csv)
    os.remove(jsonl)
  end)

  it("quotes strings that need it and reads its CSV back", function()
    local csv = tmpname(".csv")
    local log = util.log.new(csv)
    log:write{step = 1, note = 'a,"b"', ok = true, x = 1e-12}
    log:write{step = 2, note = "plain", ok = false, x = -1 / 0}
    log:close()
    assert.equal('step,note,ok,x\n1,"a,""b""",true,1e-12\n2,plain,false,-inf\n', slurp(csv))
    local t = util.log.read_csv(csv)
    assert.same({"step", "note", "ok", "x"}, t.columns)
    assert.equal('a,"b"', t.rows[1].note)
    assert.equal(1e-12, t.rows[1].x)
    assert.equal(-math.huge, t.rows[2].x)
    assert.equal(2, t.rows[2].step)
    os.remove(csv)
  end)

  it("refuses a key that is not a CSV column, unless declared with fields", function()
    local csv = tmpname(".csv")
    local log = util.log.new(csv)
    log:write{step = 1, loss = 1}
    assert.has_error(function() log:write{step = 2, loss = 1, test_acc = 0.5} end,
      "sgen.util.log.write: 'test_acc' not among the CSV columns (step, loss); declare every column with the fields option")
    log:close()
    local log2 = util.log.new(csv, {fields = {"step", "loss", "test_acc"}})
    log2:write{step = 1, loss = 1}
    log2:write{step = 2, loss = 0.5, test_acc = 0.75}
    log2:close()
    assert.equal("step,loss,test_acc\n1,1,\n2,0.5,0.75\n", slurp(csv))
    os.remove(csv)
  end)

  it("JSONL alone accepts new keys", function()
    local jsonl = tmpname(".jsonl")
    local log = util.log.new(jsonl)
    log:write{step = 1}
    log:write{step = 2, extra = "y"}
    log:close()
    assert.equal('{"step":1}\n{"step":2,"extra":"y"}\n', slurp(jsonl))
    os.remove(jsonl)
  end)

  it("appends to existing files and keeps their columns", function()
    local csv = tmpname(".csv")
    local log = util.log.new(csv)
    log:write{step = 1, loss = 2}
    log:close()
    local log2 = util.log.new(csv, {append = true})
    log2:write{loss = 1, step = 2}
    log2:close()
    assert.equal("step,loss\n1,2\n2,1\n", slurp(csv))
    assert.has_error(function() util.log.new(csv, {append = true, fields = {"a"}}) end,
      "sgen.util.log.new: " .. csv .. " has columns step,loss, expected a")
    os.remove(csv)
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() util.log.new("m.txt") end,
      "sgen.util.log.new: argument 1 (path) must end in .csv or .jsonl, got 'm.txt'")
    assert.has_error(function() util.log.new(3) end,
      "sgen.util.log.new: argument 1 expected a path or a table {csv=, jsonl=}, got number")
    assert.has_error(function() util.log.new{} end, "sgen.util.log.new: give a csv and/or a jsonl path")
    assert.has_error(function() util.log.new{cvs = "x.csv"} end,
      "sgen.util.log.new: unknown option 'cvs' (expected csv, jsonl, fields, append, report)")
    assert.has_error(function() util.log.new("/nonexistent-dir/m.csv") end,
      "sgen.util.log.new: cannot open /nonexistent-dir/m.csv: /nonexistent-dir/m.csv: No such file or directory")
    local csv = tmpname(".csv")
    local log = util.log.new(csv)
    assert.has_error(function() log:write(5) end, "sgen.util.log.write: argument 1 (row) expected a table, got number")
    assert.has_error(function() log:write{} end, "sgen.util.log.write: the first row is empty")
    assert.has_error(function() log:write{a = {}} end,
      "sgen.util.log.write: value of 'a' must be a number, string, boolean or one-element tensor, got table")
    assert.has_error(function() log:write{a = sg.zeros(2)} end,
      "sgen.util.log.write: value of 'a' is not a number, string, boolean or one-element tensor")
    assert.has_error(function() log:write{[1] = 2} end, "sgen.util.log.write: row keys must be strings, got number 1")
    log:close()
    assert.has_error(function() log:write{a = 1} end, "sgen.util.log.write: the logger is closed")
    assert.has_error(function() util.log.read_csv("/nonexistent.csv") end,
      "sgen.util.log.read_csv: cannot open /nonexistent.csv: /nonexistent.csv: No such file or directory")
    os.remove(csv)
  end)

  it("splits CSV lines by RFC 4180", function()
    assert.same({"a", "", "b"}, util.log.csv_split("a,,b"))
    assert.same({"a", ""}, util.log.csv_split("a,"))
    assert.same({'x,"y"', "z"}, util.log.csv_split('"x,""y""",z'))
    assert.has_error(function() util.log.csv_split('"abc') end,
      'sgen.util.log: unterminated quote in CSV line: "abc')
  end)
end)

describe("sg.util.json", function()
  local json = util.json
  it("encodes and decodes", function()
    assert.equal('{"a":1,"b":[1,2,3]}', json.encode({a = 1, b = {1, 2, 3}}, {keyorder = {"a", "b"}}))
    assert.equal("null", json.encode(0 / 0))
    assert.equal("[]", json.encode({}))
    assert.equal("{}", json.encode(json.object()))
    assert.equal("0.5", json.encode(sg.tensor(0.5)))
    assert.equal("[[1.0,2.0],[3.0,4.0]]", json.encode(sg.tensor({{1.0, 2}, {3, 4}})))
    assert.equal("[1,2]", json.encode(sg.tensor({1, 2}, {dtype = "int64"})))
    local v = json.decode('{"x": [1, null, "s"], "y": true}')
    assert.equal(1, v.x[1])
    assert.equal(json.null, v.x[2])
    assert.equal("s", v.x[3])
    assert.is_true(v.y)
  end)
  it("indents on request", function()
    assert.matches("\n", json.encode({a = 1, b = 2}, {indent = true}))
  end)
  it("reports malformed JSON with its position", function()
    assert.has_error(function() json.decode("[1,2") end,
      "sgen.util.json.decode: unterminated array at line 1, column 1")
    assert.has_error(function() json.decode("[1] x") end,
      "sgen.util.json.decode: unexpected text after the value at position 4")
    assert.has_error(function() json.decode(5) end, "sgen.util.json.decode: argument 1 (text) expected a string, got number")
    -- dkjson takes key: value members and plain values in {} and [] alike;
    -- such a mix is refused, not decoded to a table JSON cannot write back
    -- (found by fuzz/fuzz_json)
    assert.has_error(function() json.decode('{"model"true: "module", "opt": 1}') end,
      "sgen.util.json.decode: malformed JSON: an object holds a value without a key")
    assert.has_error(function() json.decode('{"a": {"b": 1, 2}}') end,
      "sgen.util.json.decode: malformed JSON: an object holds a value without a key")
    assert.has_error(function() json.decode('[1, "k": 2]') end,
      "sgen.util.json.decode: malformed JSON: an array holds a member with a key")
    assert.has_error(function() json.encode(1, {pretty = true}) end,
      "sgen.util.json.encode: unknown option 'pretty' (expected indent, keyorder)")
    assert.has_error(function() json.encode(function() end) end)
  end)
  it("writes and reads files", function()
    local p = tmpname(".json")
    json.write(p, {lr = 0.001, name = "run", layers = {64, 128}})
    local v = json.read(p)
    assert.same({lr = 0.001, name = "run", layers = {64, 128}}, v)
    local f = io.open(p .. ".tmp")
    assert.is_nil(f)
    local bad = tmpname(".json")
    local fb = io.open(bad, "w")
    fb:write("{oops")
    fb:close()
    assert.has_error(function() json.read(bad) end)
    local ok, err = pcall(json.read, bad)
    assert.is_false(ok)
    assert.matches("^sgen%.util%.json%.read: " .. bad:gsub("%p", "%%%0") .. ": ", err)
    assert.has_error(function() json.read("/nonexistent.json") end,
      "sgen.util.json.read: cannot open /nonexistent.json: /nonexistent.json: No such file or directory")
    assert.has_error(function() json.write("/nonexistent-dir/x.json", {}) end,
      "sgen.util.json.write: cannot write '/nonexistent-dir/x.json': cannot create a temp file next to it: No such file or directory")
    os.remove(p)
    os.remove(bad)
  end)
end)
