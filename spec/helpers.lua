-- Helpers shared by the busted specs: `local H = require "spec.helpers"`
-- (ctest's LUA_PATH holds the repository root's ?.lua; busted run from the
-- repository root finds it through ./?.lua). Not a spec itself: its name
-- does not end in _spec.lua.
local sg = require "sgen"
-- busted's assert (the global one in a spec file; plain Lua's here)
local assert = require "luassert"

local H = {}

-- The source tree (ctest sets SGEN_SOURCE_DIR) and the sgen executable
-- (ctest sets SGEN_BIN to build/bin/sgen; nil when not run by ctest).
H.SRC = os.getenv("SGEN_SOURCE_DIR") or "."
H.BIN = os.getenv("SGEN_BIN")

-- ---------------------------------------------------------------- tensors

function H.f64(data) return sg.tensor(data, {dtype = "float64"}) end

-- "2x3x4"
function H.shape_str(t) return table.concat(t:shape(), "x") end

-- The elements of a tensor (through :totable()), a nested table or a number,
-- as one flat list in row-major order.
function H.flat(v)
  local out = {}
  local function walk(x)
    if type(x) == "table" then
      for _, e in ipairs(x) do walk(e) end
    else
      out[#out + 1] = x
    end
  end
  if type(v) == "userdata" then v = v:totable() end
  walk(v)
  return out
end

-- actual: tensor, nested table or number; expected: the same, or a flat list
-- of actual's elements. The element counts agree (and the shapes, when both
-- are tensors) and every |actual - expected| <= tol (a NaN on either side
-- fails). `what` names the value in the message.
function H.assert_close(actual, expected, tol, what)
  if type(expected) == "userdata" and type(actual) == "userdata" then
    assert.same(expected:shape(), actual:shape(), what)
  end
  local fa, fe = H.flat(actual), H.flat(expected)
  assert.equal(#fe, #fa, (what or "") .. ": element count")
  local worst, at = 0, nil
  for i = 1, #fa do
    local d = math.abs(fa[i] - fe[i])
    if d ~= d then d = math.huge end
    if d > worst then worst, at = d, i end
  end
  if not (worst <= tol) then
    error(string.format("%s: max |diff| %g at element %s (got %s, expected %s), tol %g",
      what or "values", worst, tostring(at), tostring(at and fa[at]), tostring(at and fe[at]), tol), 2)
  end
end

-- Same shape and exactly the same values.
function H.assert_equal_tensors(actual, expected, what)
  assert.same(expected:shape(), actual:shape(), (what or "") .. ": shape")
  assert.same(expected:totable(), actual:totable(), what)
end

-- float64 finite differences through sg.gradcheck (the inputs are made to
-- require grad); nothing when the build has no sg.gradcheck.
function H.gradcheck(f, inputs)
  if not sg.gradcheck then return end
  for _, t in ipairs(inputs) do t:requires_grad_() end
  assert.is_true(sg.gradcheck(f, inputs, {eps = 1e-6, atol = 1e-6}))
end

-- ---------------------------------------------------------------- errors

-- The error value of f(...), which must fail.
function H.error_of(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return e
end

-- The same, without the "file:line: " that error()/luaL_error put in front
-- of a message (assert.has_error strips it too).
function H.error_message(f, ...)
  local e = H.error_of(f, ...)
  if type(e) == "string" then e = e:gsub("^[^%s:]+:%d+: ", "", 1) end
  return e
end

-- ---------------------------------------------------------------- fixtures

-- spec/fixtures/<name>.safetensors of the source tree.
function H.fixture_path(name)
  return H.SRC .. "/spec/fixtures/" .. name .. ".safetensors"
end

-- Its tensors ({name = tensor}), loaded once.
local fixtures = {}
function H.fixture(name)
  if not fixtures[name] then fixtures[name] = sg.load(H.fixture_path(name)) end
  return fixtures[name]
end

-- ---------------------------------------------------------------- files

-- A fresh temporary path (nothing there) ending in `suffix`.
function H.tmpname(suffix)
  local p = os.tmpname()
  os.remove(p)
  return p .. (suffix or "")
end

function H.shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- A fresh empty temporary directory; remove it with H.rmdir.
function H.tmpdir()
  local p = H.tmpname()
  assert(os.execute("mkdir -p " .. H.shell_quote(p)))
  return p
end

function H.rmdir(p) os.execute("rm -rf " .. H.shell_quote(p)) end

local function read_all(f)
  local s = f:read("a")
  f:close()
  return s
end

-- The bytes of a file, or nil when it cannot be opened.
function H.read_file(path)
  local f = io.open(path, "rb")
  return f and read_all(f)
end

-- The bytes of a file that must exist (else io.open's message).
function H.slurp(path) return read_all(assert(io.open(path, "rb"))) end

-- Writes bytes to path; returns path.
function H.write_file(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
  return path
end

-- ---------------------------------------------------------------- processes

-- Runs a shell command line (stdin: text fed to it, or nil); returns stdout,
-- stderr and the exit status. Fails when a signal killed it.
function H.sh(cmdline, stdin)
  local errfile = os.tmpname()
  cmdline = "{ " .. cmdline .. "; }"
  local infile
  if stdin ~= nil then
    infile = os.tmpname()
    H.write_file(infile, stdin)
    cmdline = cmdline .. " < " .. H.shell_quote(infile)
  end
  local p = assert(io.popen(cmdline .. " 2> " .. H.shell_quote(errfile), "r"))
  local out = p:read("a")
  local _, how, code = p:close()
  local err = H.read_file(errfile) or ""
  os.remove(errfile)
  if infile then os.remove(infile) end
  assert(how == "exit", "killed by a signal: " .. tostring(code) .. "\n" .. err)
  return out, err, code
end

-- The command line running the sgen executable with arguments (a list of
-- strings, each quoted).
function H.sgen_cmdline(args)
  assert(H.BIN, "SGEN_BIN is not set (ctest sets it to build/bin/sgen)")
  local parts = {H.shell_quote(H.BIN)}
  for _, a in ipairs(args or {}) do parts[#parts + 1] = H.shell_quote(a) end
  return table.concat(parts, " ")
end

-- Runs sgen with arguments; returns stdout, stderr and the exit status.
function H.sgen(args, stdin)
  return H.sh(H.sgen_cmdline(args), stdin)
end

-- ------------------------------------------------------------ Ctrl-C, for real

-- Lua code for a script run by H.sgen_loop: Ctrl-C as a terminal sends it,
-- SIGINT to every process of the foreground group (the shell loop too).
H.CTRL_C_LUA = [[
local function ctrl_c()
  local f = assert(io.open("/proc/self/stat"))
  local pgrp = f:read("a"):match("^%d+ %b() %S+ %d+ (%d+)")
  f:close()
  io.popen("kill -s INT -- -" .. pgrp):close()
end
]]

-- Runs `for i in 1 2 3; do sgen ARGS; done` in bash, in a new session (its
-- own process group, as a terminal's foreground job), where the script
-- calls ctrl_c() (H.CTRL_C_LUA) and appends a line to `starts` each run.
-- bash stops the loop only when sgen died by SIGINT; a process that exits
-- with status 130 instead makes it go on (bash's "wait and cooperative
-- exit"). Returns the number of runs started and sgen's stderr.
function H.sgen_loop(args, starts)
  local errfile = H.tmpname()
  local loop = "for i in 1 2 3; do " .. H.sgen_cmdline(args) .. " 2>>" .. H.shell_quote(errfile)
               .. "; done"
  os.execute("timeout 120 setsid -w bash -c " .. H.shell_quote(loop) .. " </dev/null >/dev/null 2>&1")
  local err = H.read_file(errfile) or ""
  os.remove(errfile)
  local n = 0
  for _ in (H.read_file(starts) or ""):gmatch("[^\n]+") do n = n + 1 end
  return n, err
end

return H
