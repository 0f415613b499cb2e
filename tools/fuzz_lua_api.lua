-- Fuzzes the Lua API surface with wrong arguments and counts what happens.
--
--   sgen run tools/fuzz_lua_api.lua [--calls=20000] [--seed=1] [--batch=500]
--                                   [--timeout=120] [--out=FILE.json]
--
-- Every function of sg, sg.F, sg.linalg, sg.sparse, sg.autograd, the sg.nn
-- constructors and the tensor methods is called with arguments drawn from a
-- pool of wrong and edge values: nil, wrong types, wrong shapes, negative and
-- huge sizes, NaN and inf, empty and 0-dim tensors, other dtypes, freed
-- tensors, options tables with unknown keys. The calls run in worker
-- processes (`sgen run` of this file with --worker) in batches; a worker that
-- dies by a signal is a crash, one that outlives --timeout a hang, and the
-- call it had announced is printed so that it can be replayed. Outcomes:
--   error     the call raised a Lua error (the expected outcome)
--   returned  the call returned (fine where the arguments happened to be valid)
--   crash     the process died (a bug)
--   hang      no answer in time (a bug)
-- Seeded: the same --seed and --calls make the same calls in the same order.
-- Exit status 0 when there was no crash and no hang.
local sg = require "sgen"
local cli = require "sgen.cli"

local opts = cli.options({
  calls = {type = "integer", default = 20000, help = "number of calls in all"},
  seed = {type = "integer", default = 1, help = "seed of the argument draws"},
  batch = {type = "integer", default = 500, help = "calls per worker process"},
  timeout = {type = "integer", default = 120, help = "seconds a worker process may run"},
  call_seconds = {type = "number", default = 10,
                  help = "seconds one call may run Lua code before it counts as a hang"},
  out = {type = "string", default = "", help = "also write the counts as JSON to this file"},
  worker = {type = "boolean", default = false,
            help = "internal: make calls first .. first + count - 1, reporting each"},
  first = {type = "integer", default = 1, help = "internal: first call (worker)"},
  count = {type = "integer", default = 0, help = "internal: number of calls (worker)"},
  self_test_crash_at = {type = "integer", default = 0,
                        help = "test of the fuzzer: the worker kills itself with SIGSEGV at this call"},
  self_test_hang_at = {type = "integer", default = 0,
                       help = "test of the fuzzer: the worker blocks past --timeout at this call"},
}, {help = "Calls every sgen Lua function and tensor method with wrong arguments in worker "
           .. "processes and counts clean errors, returns, crashes and hangs."})

-- ---------------------------------------------------------------- targets

-- {name, fn, kind}: kind "fn" (called as fn(args...)) or "method" (x:name(args...)).
local function targets()
  local list = {}
  local function add_table(prefix, t, kind)
    local names = {}
    for k, v in pairs(t) do
      if type(k) == "string" and type(v) == "function" then names[#names + 1] = k end
    end
    table.sort(names)
    for _, k in ipairs(names) do list[#list + 1] = {prefix .. k, t[k], kind} end
  end
  -- skipped: functions whose purpose is to end or block the process, or to
  -- change state the other calls rely on in ways that are not bugs
  local skip = {["sg.set_num_threads"] = true, ["sg.core"] = true}
  local raw = {}
  add_table("sg.", sg.core, "fn")
  for _, e in ipairs(list) do if not skip[e[1]] then raw[#raw + 1] = e end end
  list = raw
  add_table("sg.F.", sg.F, "fn")
  add_table("sg.linalg.", sg.linalg, "fn")
  add_table("sg.sparse.", sg.sparse, "fn")
  add_table("sg.autograd.", sg.autograd, "fn")
  local ctors = {}
  for k, v in pairs(sg.nn) do
    if type(k) == "string" and k:match("^%u") and (type(v) == "function" or type(v) == "table") then
      ctors[#ctors + 1] = k
    end
  end
  table.sort(ctors)
  for _, k in ipairs(ctors) do
    local c = sg.nn[k]
    list[#list + 1] = {"sg.nn." .. k, function(...) return c(...) end, "fn"}
  end
  add_table("x:", sg.core.Tensor, "method")
  return list
end

-- ---------------------------------------------------------------- arguments

-- Each maker returns a fresh value (tensors are made per call: a freed or
-- resized one must not leak into the next call).
local makers = {
  function() return nil end,
  function() return true end,
  function() return false end,
  function() return "float32" end,
  function() return "bogus" end,
  function() return "" end,
  function() return 0 end,
  function() return 1 end,
  function() return 2 end,
  function() return 3 end,
  function() return -1 end,
  function() return -7 end,
  function() return 0.5 end,
  function() return 2^62 end,
  function() return math.mininteger end,
  function() return math.maxinteger end,
  function() return 1e308 end,
  function() return math.huge end,
  function() return -math.huge end,
  function() return 0 / 0 end,
  function() return {} end,
  function() return {1, 2} end,
  function() return {2, 3, 4} end,
  function() return {-1, 2} end,
  function() return {2^40, 2^40} end,
  function() return {0, 3} end,
  function() return {{1, 2}, {3}} end,
  function() return {"a", "b"} end,
  function() return {bogus = 1} end,
  function() return {dtype = "int64"} end,
  function() return {dtype = "bogus"} end,
  function() return {device = "cuda"} end,
  function() return {stride = -1, padding = 2^40} end,
  function() return {dim = 0} end,
  function() return function() end end,
  function() return function() error("raised by an argument") end end,
  function() return coroutine.create(function() end) end,
  function() return io.stdout end,
  function() return setmetatable({}, {__index = function() error("trap") end}) end,
}
-- values a method is called on (self) are drawn from here; arguments from both lists
local tensor_makers = {
  function() return sg.zeros(0) end,
  function() return sg.zeros(3, 0) end,
  function() return sg.tensor(1.5) end,
  function() return sg.randn(3) end,
  function() return sg.randn(2, 3) end,
  function() return sg.randn(2, 3, 4, 5) end,
  function() return sg.randn(1, 1, 1, 1, 1, 1, 1) end,
  function() return sg.randn(4, 4, {dtype = "float64"}) end,
  function() return sg.randn(2, 3):t() end,
  function() return sg.randn(4, 4):expand(2, 4, 4) end,
  function() return sg.tensor({1, 2, 3}) end,
  function() return sg.tensor({{1, -2}, {3, 4}}) end,
  function() return sg.tensor({true, false}) end,
  function() return sg.tensor({0 / 0, math.huge, -math.huge}) end,
  function() return sg.ones(2, 2, {dtype = "uint8"}) end,
  function() return sg.randn(3):requires_grad_() end,
  function() return sg.randn(2, 3):requires_grad_() * 2 end,
  function() local t = sg.randn(3); t:free(); return t end,
  function() return sg.nn.Linear(3, 2) end,
}

local n_plain = #makers
for _, m in ipairs(tensor_makers) do makers[#makers + 1] = m end

-- Half the arguments are tensors, so that calls get past the first type
-- check to the shape, dtype and value checks behind it.
local function draw_args(rng)
  local n = rng(0, 4)
  local args = {}
  for i = 1, n do
    if rng(1, 2) == 1 then args[i] = makers[rng(n_plain + 1, #makers)]()
    else args[i] = makers[rng(1, #makers)]() end
  end
  return args, n
end

local TensorMT = getmetatable(sg.zeros(1))

local function describe_value(v)
  local ty = type(v)
  if ty == "string" then return string.format("%q", v) end
  if ty == "number" then
    if v ~= v then return "0/0" end
    if v == math.huge then return "math.huge" end
    if v == -math.huge then return "-math.huge" end
    return tostring(v)
  end
  if ty == "userdata" and getmetatable(v) == TensorMT then
    if v:is_freed() then return "<freed tensor>" end
    return string.format("<tensor %s %s>", table.concat(v:shape(), "x"), v:dtype())
  end
  if ty == "table" then
    local parts = {}
    for k, e in pairs(v) do
      if #parts > 6 then parts[#parts + 1] = "..." break end
      parts[#parts + 1] = (type(k) == "string" and k .. "=" or "") .. describe_value(e)
    end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return "<" .. ty .. ">"
end

local function describe_call(t, args, n, self)
  local parts = {}
  for i = 1, n do parts[i] = describe_value(args[i]) end
  if t[3] == "method" then
    return string.format("%s(%s) with x = %s", t[1], table.concat(parts, ", "), describe_value(self))
  end
  return string.format("%s(%s)", t[1], table.concat(parts, ", "))
end

-- The draw of call i depends only on (seed, i): a worker replays any range.
local function call_rng(seed, i)
  math.randomseed(seed, i)
  return math.random
end

-- ---------------------------------------------------------------- worker

local function worker()
  local list = targets()
  local scratch = os.tmpname()
  os.remove(scratch)
  assert(os.execute("mkdir -p " .. scratch))
  -- calls that write files (sg.save, png_write, ...) write here
  local out = io.stdout
  for i = opts.first, opts.first + opts.count - 1 do
    -- state an earlier call may have changed: each call starts the same
    -- whichever calls ran before it in this worker
    sg.set_grad_enabled(true)
    sg.manual_seed(i)
    local rng = call_rng(opts.seed, i)
    local t = list[rng(1, #list)]
    local args, n = draw_args(rng)
    local self = nil
    if t[3] == "method" then self = makers[rng(n_plain + 1, #makers)]() end
    out:write("C ", i, " ", describe_call(t, args, n, self), "\n")
    out:flush()
    if i == opts.self_test_crash_at then
      local stat = assert(io.open("/proc/self/stat")):read("l")
      os.execute("kill -SEGV " .. stat:match("^(%d+)"))
    end
    if i == opts.self_test_hang_at then os.execute("sleep " .. (opts.timeout + 2)) end
    local started = os.clock()
    debug.sethook(function()
      if os.clock() - started > opts.call_seconds then
        debug.sethook()
        error("fuzz: call ran longer than " .. opts.call_seconds .. " s", 2)
      end
    end, "", 100000)
    local ok, err
    if t[3] == "method" then
      ok, err = pcall(t[2], self, table.unpack(args, 1, n))
    else
      ok, err = pcall(t[2], table.unpack(args, 1, n))
    end
    debug.sethook()
    local outcome = ok and "returned" or "error"
    if not ok and type(err) == "string" and err:find("fuzz: call ran longer", 1, true) then
      outcome = "hang"
    end
    out:write("R ", i, " ", outcome, "\n")
    out:flush()
    if i % 50 == 0 then collectgarbage() end
  end
  os.execute("rm -rf " .. scratch)
end

if opts.worker then
  worker()
  return
end

-- ---------------------------------------------------------------- driver

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local exe = arg and arg[-2] or "sgen" -- sgen run sets arg[-2] to the executable
local self_path = arg and arg[0]
local tty = sg.core.isatty(2)
local counts = {error = 0, returned = 0, crash = 0, hang = 0}
local findings = {}
local per_target = {}
local started = sg.core.monotonic()
local next_call, last = 1, opts.calls
while next_call <= last do
  local count = math.min(opts.batch, last - next_call + 1)
  local cmd = string.format("cd /tmp && exec timeout %d %s run %s --worker --seed=%d --first=%d --count=%d "
    .. "--self_test_crash_at=%d --self_test_hang_at=%d 2>&1", opts.timeout, shell_quote(exe),
    shell_quote(self_path), opts.seed, next_call, count, opts.self_test_crash_at, opts.self_test_hang_at)
  local p = assert(io.popen(cmd))
  local announced, announced_desc, done_upto = nil, nil, next_call - 1
  local tail = {}
  for line in p:lines() do
    local i, desc = line:match("^C (%d+) (.*)$")
    if i then
      announced, announced_desc = tonumber(i), desc
    else
      local j, outcome = line:match("^R (%d+) (%a+)$")
      if j then
        j = tonumber(j)
        counts[outcome] = counts[outcome] + 1
        done_upto = j
        local fname = announced_desc and announced_desc:match("^([^(]+)")
        if fname then per_target[fname] = true end
        if outcome == "hang" then
          findings[#findings + 1] = {kind = "hang", call = j, what = announced_desc}
        end
      else
        tail[#tail + 1] = line
        if #tail > 20 then table.remove(tail, 1) end
      end
    end
  end
  local ok, how, code = p:close()
  if done_upto < next_call + count - 1 then
    -- the worker stopped before the end: the announced call crashed or hung
    local kind = (how == "exit" and code == 124) and "hang" or "crash"
    counts[kind] = counts[kind] + 1
    findings[#findings + 1] = {kind = kind, call = announced or done_upto + 1, what = announced_desc,
                               status = string.format("%s %s", tostring(how), tostring(code)),
                               output = table.concat(tail, "\n")}
    io.stderr:write(string.format("fuzz_lua_api: %s at call %d: %s (%s %s)\n%s\n", kind,
      announced or done_upto + 1, tostring(announced_desc), tostring(how), tostring(code),
      table.concat(tail, "\n")))
    next_call = (announced or done_upto + 1) + 1
  else
    next_call = next_call + count
    if not ok then
      io.stderr:write(string.format("fuzz_lua_api: worker ended with %s %s after its calls\n%s\n",
        tostring(how), tostring(code), table.concat(tail, "\n")))
      counts.crash = counts.crash + 1
    end
  end
  io.stderr:write(string.format("%sfuzz_lua_api: %d/%d calls  error %d  returned %d  crash %d  hang %d%s",
    tty and "\r" or "", next_call - 1, last, counts.error, counts.returned, counts.crash, counts.hang,
    tty and "" or "\n"))
end
if tty then io.stderr:write("\n") end
local ntargets = 0
for _ in pairs(per_target) do ntargets = ntargets + 1 end
local total = counts.error + counts.returned + counts.crash + counts.hang
local summary = string.format(
  "fuzz_lua_api: seed %d, %d calls reaching %d of the %d functions and methods, in %.0f s: %d clean errors, %d returned, %d crashes, %d hangs",
  opts.seed, total, ntargets, #targets(), sg.core.monotonic() - started, counts.error, counts.returned,
  counts.crash, counts.hang)
print(summary)
for _, f in ipairs(findings) do
  print(string.format("  %s at call %d: %s", f.kind, f.call, tostring(f.what)))
end
if opts.out ~= "" then
  local json = require "sgen.util.json"
  json.write(opts.out, {seed = opts.seed, calls = total, functions = ntargets, counts = counts,
                        findings = findings, version = sg.version})
end
if counts.crash > 0 or counts.hang > 0 then os.exit(1) end
