-- The `sgen` executable (run, REPL, info, --version, help) and sgen.cli
-- (option parsing for scripts, REPL value printing). The executable is
-- $SGEN_BIN (set by ctest: build/bin/sgen).
local cli = require "sgen.cli"
local H = require "spec.helpers"

local BIN = H.BIN
local shell_quote, write_file, read_file = H.shell_quote, H.write_file, H.read_file

-- Runs a shell command line; returns stdout, stderr and the exit status.
local sh = H.sh

-- Runs sgen with arguments (a list of strings).
local sgen = H.sgen

-- A script in a fresh temporary directory, outside the repository.
local tmpdirs = {}
local function script(text)
  local dir = H.tmpdir()
  tmpdirs[#tmpdirs + 1] = dir
  local path = dir .. "/script.lua"
  write_file(path, text)
  return path, dir
end

teardown(function()
  for _, d in ipairs(tmpdirs) do H.rmdir(d) end
end)

-- ---------------------------------------------------------------------------

describe("sgen.cli.guess", function()
  it("types command-line strings", function()
    assert.equal(10, cli.guess("10"))
    assert.equal("integer", math.type(cli.guess("10")))
    assert.equal(1e-3, cli.guess("1e-3"))
    assert.equal(-2.5, cli.guess("-2.5"))
    assert.equal(true, cli.guess("true"))
    assert.equal(false, cli.guess("false"))
    assert.equal("abc", cli.guess("abc"))
    assert.equal("", cli.guess(""))
    assert.equal("True", cli.guess("True"))
  end)
end)

describe("sgen.cli.parse", function()
  it("splits --key=value, --flag, --no-flag, positional arguments and --", function()
    local opts, pos, entries = cli.parse({"--iters=10", "a.png", "--lr=1e-3", "--verbose",
                                          "--no-cache", "--name=bob", "--learning-rate=0.5",
                                          "-3", "--", "--not-an-option", "b"})
    assert.same({iters = 10, lr = 1e-3, verbose = true, cache = false, name = "bob",
                 learning_rate = 0.5}, opts)
    assert.same({"a.png", "-3", "--not-an-option", "b"}, pos)
    assert.equal(6, #entries)
    assert.same({key = "no_cache", negated = true, text = "--no-cache"}, entries[4])
    assert.same({key = "iters", value = "10", negated = false, text = "--iters=10"}, entries[1])
  end)
  it("keeps the last of repeated options and empty values", function()
    local opts = cli.parse({"--n=1", "--n=2", "--s="})
    assert.same({n = 2, s = ""}, opts)
  end)
  it("rejects malformed options", function()
    local ok, err = pcall(cli.parse, {"--=3"})
    assert.is_false(ok)
    assert.equal("sgen: bad option '--=3' (expected --key=value, --flag or --no-flag)", err)
    ok, err = pcall(cli.parse, {"--9lives"})
    assert.is_false(ok)
    assert.matches("bad option '%-%-9lives'", err)
    assert.has_error(function() cli.parse({1}) end,
      "sgen.cli.parse: argument 1 is a number, expected a string")
  end)
end)

describe("sgen.cli.suggest", function()
  it("finds close names and nothing for distant ones", function()
    local names = {"iters", "lr", "out", "verbose"}
    assert.equal("iters", cli.suggest("iter", names))
    assert.equal("iters", cli.suggest("itres", names))
    assert.equal("verbose", cli.suggest("verbos", names))
    assert.equal("lr", cli.suggest("l", names))
    assert.is_nil(cli.suggest("batch_size", names))
  end)
end)

describe("sgen.cli.options", function()
  local defaults = {iters = 100, lr = 1e-3, out = "out.png", verbose = false,
                    seed = {type = "integer", help = "random seed"},
                    scale = {type = "number", default = 1}}
  local function parse(args)
    return cli.options(defaults, {args = args})
  end
  local function err_of(args)
    local ok, err = pcall(parse, args)
    assert.is_false(ok)
    return err
  end

  it("returns the defaults when no option is given", function()
    assert.same({iters = 100, lr = 1e-3, out = "out.png", verbose = false, scale = 1}, parse({}))
  end)
  it("converts values to the declared types", function()
    local o = parse({"--iters=5", "--lr=1", "--out=x.png", "--verbose", "--seed=7",
                     "--scale=2"})
    assert.same({iters = 5, lr = 1.0, out = "x.png", verbose = true, seed = 7, scale = 2}, o)
    assert.equal("integer", math.type(o.iters))
    assert.equal("float", math.type(o.lr))
    assert.equal("float", math.type(o.scale))
    assert.equal("integer", math.type(parse({"--iters=1e3"}).iters))
    assert.equal("123", cli.options({name = "x"}, {args = {"--name=123"}}).name)
  end)
  it("takes --flag, --no-flag and --flag=true/false for booleans", function()
    assert.is_true(parse({"--verbose"}).verbose)
    assert.is_false(parse({"--verbose", "--no-verbose"}).verbose)
    assert.is_true(cli.options({v = true}, {args = {"--v=yes"}}).v)
    assert.is_false(cli.options({v = true}, {args = {"--v=false"}}).v)
    assert.is_false(cli.options({v = true}, {args = {"--v=0"}}).v)
  end)
  it("returns, second, the set of options given on the command line", function()
    local o, given = cli.options({iters = 10, quick = false, log_every = 5},
      {args = {"--no-quick", "--log-every=2"}})
    assert.same({quick = true, log_every = true}, given)
    assert.equal(10, o.iters)
    assert.is_false(o.quick)
  end)
  it("treats dashes in names as underscores", function()
    local o = cli.options({batch_size = 32}, {args = {"--batch-size=8"}})
    assert.equal(8, o.batch_size)
  end)
  it("handles an option whose name starts with no_", function()
    local o = cli.options({no_cache = false}, {args = {"--no-cache"}})
    assert.is_true(o.no_cache)
  end)
  it("rejects unknown options, naming them, the valid ones and a suggestion", function()
    assert.equal("sgen: unknown option --iter; did you mean --iters? (valid options: --iters, "
                 .. "--lr, --out, --scale, --seed, --verbose, --help)", err_of({"--iter=3"}))
    assert.equal("sgen: unknown option --batch (valid options: --iters, --lr, --out, --scale, "
                 .. "--seed, --verbose, --help)", err_of({"--batch=3"}))
    assert.matches("unknown option %-%-no%-verbos; did you mean %-%-no%-verbose%?",
                   err_of({"--no-verbos"}))
  end)
  it("rejects badly typed values", function()
    assert.equal("sgen: option --iters expects an integer, got 'abc'", err_of({"--iters=abc"}))
    assert.equal("sgen: option --lr expects a number, got 'fast'", err_of({"--lr=fast"}))
    assert.equal("sgen: option --iters expects an integer, got '2.5'; its default 100 is an "
                 .. "integer: write it as 100.0 in the script to accept any number",
                 err_of({"--iters=2.5"}))
    assert.equal("sgen: option --seed expects an integer, got '0.5'", err_of({"--seed=0.5"}))
    assert.equal("sgen: option --verbose expects true or false, got 'maybe'",
                 err_of({"--verbose=maybe"}))
    assert.equal("sgen: option --out expects a string value (--out=...)", err_of({"--out"}))
    assert.equal("sgen: option --iters expects an integer value (--iters=...)",
                 err_of({"--iters"}))
    assert.equal("sgen: --no-lr: option --lr takes a number, it is not a flag (give --lr=...)",
                 err_of({"--no-lr"}))
  end)
  it("marks its errors as usage errors", function()
    local err = err_of({"--iter=3"})
    assert.equal(err, cli._usage_error)
  end)
  it("checks its own arguments", function()
    assert.has_error(function() cli.options(nil) end,
      "sgen.cli.options: argument 1 (defaults) expected a table, got nil")
    assert.has_error(function() cli.options({}, "x") end,
      "sgen.cli.options: argument 2 (spec) expected a table, got string")
    assert.has_error(function() cli.options({}, {hepl = "x"}) end,
      "sgen.cli.options: unknown field 'hepl' in argument 2 (expected help, usage, "
      .. "positional, args, script)")
    assert.has_error(function() cli.options({f = print}, {args = {}}) end,
      "sgen.cli.options: option 'f' has a function default; expected a number, boolean, "
      .. "string or a table {type=, default=, help=}")
    assert.has_error(function() cli.options({f = {help = "x"}}, {args = {}}) end,
      "sgen.cli.options: option 'f' needs a type (number, integer, boolean or string) or a "
      .. "default, got type nil")
    assert.has_error(function() cli.options({f = {type = "number", dflt = 1}}, {args = {}}) end,
      "sgen.cli.options: option 'f': unknown field 'dflt' (expected type, default, help)")
    assert.has_error(function() cli.options({a_b = 1, ["a-b"] = 2}, {args = {}}) end)
  end)
  it("writes a help text listing every option with its type and default", function()
    local h = cli.help_text(defaults, {help = "Trains a model.", script = "train.lua"})
    assert.equal(table.concat({
      "usage: sgen run train.lua [--option=value ...]",
      "",
      "Trains a model.",
      "",
      "options:",
      "  --iters=INTEGER  (integer, default 100)",
      "  --lr=NUMBER      (number, default 0.001)",
      "  --out=STRING     (string, default \"out.png\")",
      "  --scale=NUMBER   (number, default 1)",
      "  --seed=INTEGER   random seed (integer)",
      "  --[no-]verbose   (boolean, default false)",
      "  --help           show this help and exit",
    }, "\n") .. "\n", h)
  end)
end)

describe("sgen.cli.repr", function()
  it("shows tables, nested values and cycles", function()
    assert.equal("{1, 2, a = \"b\", n = {3}}", cli.repr({1, 2, a = "b", n = {3}}))
    assert.equal("plain", cli.repr("plain"))
    assert.equal("{\"quoted\"}", cli.repr({"quoted"}))
    local t = {}
    t.self = t
    assert.equal("{self = <cycle>}", cli.repr(t))
    assert.equal("{[1.5] = true}", cli.repr({[1.5] = true}))
    assert.equal("{a = {b = {c = {...}}}}", cli.repr({a = {b = {c = {d = 1}}}}))
  end)
  it("elides long tables", function()
    local big = {}
    for i = 1, 60 do big[i] = i end
    local s = cli.repr(big)
    assert.matches("^{1, 2, 3, .*, 50, %.%.%. %(60 entries%)}$", s)
  end)
  it("summarizes tensors inside tables", function()
    local sg = require "sgen"
    assert.equal("{tensor(2x3, float32, cpu)}", cli.repr({sg.zeros(2, 3)}))
  end)
end)

-- ---------------------------------------------------------------------------

describe("sgen run", function()
  it("passes typed options in `opts` and positional arguments in `arg` and ...", function()
    local path = script([[
      local n = select("#", ...)
      print(math.type(opts.iters), opts.iters, opts.lr, opts.verbose, opts.cache, opts.name)
      print(arg[0] == (...) , #arg, arg[1], arg[2], arg[3], n)
      print(type(sgen), sgen == require("sgen"))
    ]])
    local out, err, code = sgen({"run", path, "--iters=10", "--lr=1e-3", "--verbose",
                                 "--no-cache", "--name=bob", "pos1", "--", "--x"})
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal("integer\t10\t0.001\ttrue\tfalse\tbob\n"
                 .. "false\t2\tpos1\t--x\tnil\t2\n"
                 .. "table\ttrue\n", out)
  end)
  it("warns about --options a script without cli.options never read (a typo)", function()
    local path = script("print(opts.lr)")
    local out, err, code = sgen({"run", path, "--lr=3", "--lrr=2", "--batch_size=5"})
    assert.equal(0, code)
    assert.equal("3\n", out)
    assert.equal("sgen: warning: --batch-size, --lrr given but never read by the script (it "
      .. "declares no options with sgen.cli.options and never looked them up in opts); "
      .. "misspelled?\n", err)
    -- read, iterated, or declared: no warning
    out, err = sgen({"run", path, "--lr=3"})
    assert.equal("", err)
    _, err = sgen({"run", script("for _ in pairs(opts) do end"), "--a=1", "--b=2"})
    assert.equal("", err)
    _, err = sgen({"run", script("require('sgen.cli').options({lr = 1})"), "--lr=2"})
    assert.equal("", err)
  end)
  it("runs a script given directly as sgen FILE.lua, and one from stdin with -", function()
    local path = script("print(opts.k, arg[1])")
    local out, _, code = sgen({path, "--k=3", "p"})
    assert.equal(0, code)
    assert.equal("3\tp\n", out)
    out, _, code = sgen({"run", "-", "--k=x"}, "print(opts.k, sgen.ones(2):sum():item())")
    assert.equal(0, code)
    assert.equal("x\t2.0\n", out)
  end)
  it("finds modules next to the script", function()
    local path, dir = script("print(require('helper_mod').value)")
    write_file(dir .. "/helper_mod.lua", "return {value = 42}")
    local out, _, code = sgen({"run", path})
    assert.equal(0, code)
    assert.equal("42\n", out)
  end)
  it("checks declared options: types, --flag, --no-flag", function()
    local path = script([[
      local o = require("sgen.cli").options({iters = 100, lr = 1e-3, out = "o.png",
                                             verbose = true}, {help = "A test script."})
      print(o.iters, o.lr, o.out, o.verbose, opts == o)
    ]])
    local out, err, code = sgen({"run", path, "--iters=7", "--lr=2", "--out=a b.png",
                                 "--no-verbose"})
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal("7\t2.0\ta b.png\tfalse\ttrue\n", out)
    out, err, code = sgen({"run", path})
    assert.equal(0, code)
    assert.equal("100\t0.001\to.png\ttrue\ttrue\n", out)
  end)
  it("exits with status 2 and no traceback on an unknown or badly typed option", function()
    local path = script([[
      local o = require("sgen.cli").options({iters = 100, lr = 1e-3})
      print("not reached")
    ]])
    local out, err, code = sgen({"run", path, "--iter=3"})
    assert.equal(2, code)
    assert.equal("", out)
    assert.equal("sgen: unknown option --iter; did you mean --iters? (valid options: "
                 .. "--iters, --lr, --help)\n", err)
    out, err, code = sgen({"run", path, "--iters=abc"})
    assert.equal(2, code)
    assert.equal("sgen: option --iters expects an integer, got 'abc'\n", err)
  end)
  it("leaves undeclared options unchecked", function()
    local path = script("print(opts.anything, opts.help)")
    local out, _, code = sgen({"run", path, "--anything=1.5", "--help"})
    assert.equal(0, code)
    assert.equal("1.5\ttrue\n", out)
  end)
  it("prints the help of declared options for --help and exits 0", function()
    local path = script([[
      require("sgen.cli").options({iters = {default = 100, help = "steps"}, fast = false},
                                  {help = "Does things."})
      print("not reached")
    ]])
    local out, err, code = sgen({"run", path, "--help"})
    assert.equal(0, code)
    assert.equal("", err)
    assert.equal("usage: sgen run " .. path .. " [--option=value ...]\n\nDoes things.\n\n"
                 .. "options:\n"
                 .. "  --[no-]fast      (boolean, default false)\n"
                 .. "  --iters=INTEGER  steps (integer, default 100)\n"
                 .. "  --help           show this help and exit\n", out)
  end)
  it("prints a traceback and exits 1 when the script fails", function()
    local path = script("local function inner(x)\n  error('boom ' .. x)\nend\n"
                        .. "local function outer() inner(3) end\nprint('before')\nouter()\n")
    local out, err, code = sgen({"run", path})
    assert.equal(1, code)
    assert.equal("before\n", out)
    assert.matches("^sgen: " .. path:gsub("%p", "%%%0") .. ":2: boom 3\nstack traceback:\n", err)
    assert.matches("in %a+ 'inner'", err)
    assert.matches("in local 'outer'", err)
    assert.matches(":6: in main chunk", err)
  end)
  it("reports engine errors with the function's message", function()
    local path = script("local x = sgen.ones(2, 3)\nlocal y = sgen.ones(4)\nprint(x + y)\n")
    local _, err, code = sgen({"run", path})
    assert.equal(1, code)
    assert.matches("^sgen: [^\n]*:3: sgen%.", err)
    assert.matches("stack traceback:", err)
  end)
  it("names a function one way in scripts, -e and the REPL, whatever is loaded", function()
    -- sgen.add is also sgen.core.add, sgen.conv2d also sgen.F.conv2d: Lua's own
    -- traceback picked whichever module table came first in package.loaded
    local err_add = "sg.zeros(2) + sg.zeros(3)"
    local err_conv = "sg.F.conv2d(sg.zeros(2), sg.zeros(3))"
    local loads = {"", "local _ = sg.nn, sg.optim, sg.data, sg.image, sg.util, sg.metrics\n"}
    for _, pre in ipairs(loads) do
      for _, code in ipairs({err_add, err_conv}) do
        local want = code == err_add and "sgen%.add" or "sgen%.conv2d"
        local path = script("local sg = require 'sgen'\n" .. pre .. "local _ = " .. code .. "\n")
        local _, e1, c1 = sgen({"run", path})
        local _, e2, c2 = sgen({"-e", pre .. "local _ = " .. code})
        local _, e3, c3 = sgen({}, pre:gsub("local _ = ", "_ = ") .. code .. "\n")
        for _, r in ipairs({{e1, c1}, {e2, c2}, {e3, c3}}) do
          assert.equal(1, r[2])
          assert.matches("\n%s*%[C%]: in function '" .. want .. "'\n", r[1])
          assert.not_matches("sgen%.core%.", r[1])
          assert.not_matches("sgen%.F%.", r[1])
        end
      end
    end
    -- sg.traceback is the same traceback, for xpcall
    local out, e4, c4 = sgen({"-e", "print(select(2, xpcall(function() return " .. err_add
                                    .. " end, sg.traceback)))"})
    assert.equal(0, c4, e4)
    assert.matches("cannot be broadcast[^\n]*\nstack traceback:\n%s*%[C%]: in function 'sgen%.add'", out)
  end)
  it("reports non-string error objects", function()
    local path = script("error(setmetatable({}, {__tostring = function() return 'custom' end}))")
    local _, err, code = sgen({"run", path})
    assert.equal(1, code)
    assert.equal("sgen: custom\n", err)
    path = script("error({})")
    _, err, code = sgen({"run", path})
    assert.equal(1, code)
    assert.matches("^sgen: %(error object is a table value%)\nstack traceback:", err)
  end)
  it("reports syntax errors and exits 1", function()
    local path = script("x = = 1\n")
    local _, err, code = sgen({"run", path})
    assert.equal(1, code)
    assert.matches("^sgen: [^\n]*script%.lua:1: unexpected symbol near '='\n$", err)
  end)
  it("reports a missing file clearly", function()
    local out, err, code = sgen({"run", "/nonexistent/dir/missing.lua"})
    assert.equal(1, code)
    assert.equal("", out)
    assert.equal("sgen: cannot open /nonexistent/dir/missing.lua: No such file or directory\n",
                 err)
  end)
  it("reports a missing script argument and options before the script", function()
    local _, err, code = sgen({"run"})
    assert.equal(2, code)
    assert.matches("^sgen run: missing script", err)
    _, err, code = sgen({"run", "--iters=3", "x.lua"})
    assert.equal(2, code)
    assert.matches("unexpected option '%-%-iters=3' before the script", err)
  end)
  it("reports malformed options with status 2", function()
    local path = script("print(1)")
    local _, err, code = sgen({"run", path, "--=3"})
    assert.equal(2, code)
    assert.equal("sgen: bad option '--=3' (expected --key=value, --flag or --no-flag)\n", err)
  end)
  it("turns Ctrl-C into an error with a traceback, then ends by SIGINT (status 130)", function()
    local path, dir = script("")
    local marker = dir .. "/started"
    write_file(path, "io.open(" .. string.format("%q", marker) .. ", 'w'):close()\n"
                     .. "local i = 0\nwhile true do i = i + 1 end\n")
    -- one SIGINT, sent once the script runs (a second one kills, as in lua.c)
    local out, err, code = sh(shell_quote(BIN) .. " run " .. shell_quote(path) .. " & pid=$!; "
                              .. "for i in $(seq 100); do [ -e " .. shell_quote(marker)
                              .. " ] && break; sleep 0.1; done; kill -INT $pid; wait $pid")
    assert.equal("", out)
    assert.matches("^sgen: interrupted!\nstack traceback:\n", err)
    assert.matches("script%.lua:3: in main chunk", err)
    assert.equal(130, code)
  end)
  it("dies by SIGINT after Ctrl-C, so that a shell loop over sgen run stops", function()
    -- exit(130) would look the same to `$?` but let `for ...; do sgen run; done` go on
    local path, dir = script("")
    local starts = dir .. "/starts"
    write_file(path, H.CTRL_C_LUA .. "io.open(" .. string.format("%q", starts)
                     .. ", 'a'):write('run\\n'):close()\nctrl_c()\nwhile true do end\n")
    local runs, err = H.sgen_loop({"run", path}, starts)
    assert.equal(1, runs, err)
    assert.matches("^sgen: .*interrupted!\nstack traceback:\n", err)
  end)
  it("dies by SIGINT also when the script polled sg.interrupted() and returned", function()
    local path, dir = script("")
    local starts, done = dir .. "/starts", dir .. "/cleaned"
    write_file(path, H.CTRL_C_LUA .. "io.open(" .. string.format("%q", starts)
                     .. ", 'a'):write('run\\n'):close()\n"
                     .. "sgen.defer_interrupt(true)\nctrl_c()\n"
                     .. "while not sgen.interrupted() do end\n"
                     .. "io.open(" .. string.format("%q", done) .. ", 'a'):write('ok\\n'):close()\n")
    local runs, err = H.sgen_loop({"run", path}, starts)
    assert.equal(1, runs, err)
    assert.equal("", err)
    assert.equal("ok\n", read_file(done))
  end)
  it("keeps memory flat in a loop that allocates tensors", function()
    -- the executable keeps Lua's incremental collector, which the bindings
    -- pace with the tensors' bytes
    local path = script([[
      local function rss()
        for l in io.lines("/proc/self/status") do
          local v = l:match("^VmRSS:%s+(%d+)")
          if v then return tonumber(v) end
        end
      end
      local x = sgen.randn(128, 128)
      local r100
      for i = 1, 1000 do
        local y = (x * 2 + 1):relu()
        if i == 100 then r100 = rss() end
      end
      print(rss() - r100)
    ]])
    -- (under AddressSanitizer freed blocks would sit in its quarantine)
    local out, err, code = sh('ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" '
                              .. shell_quote(BIN) .. " run " .. shell_quote(path))
    assert.equal("", err)
    assert.equal(0, code)
    -- 900 iterations x 3 tensors x 64 KB = 170 MB if nothing were collected
    assert.is_true(tonumber(out) < 20000, "RSS grew by " .. out .. " KB")
  end)
  it("keeps LUA_PATH from the environment", function()
    local path, dir = script("print(require('from_env_path').v)")
    assert(os.execute("mkdir -p " .. shell_quote(dir .. "/lib")))
    write_file(dir .. "/lib/from_env_path.lua", "return {v = 'found'}")
    local out, err, code = sh("LUA_PATH=" .. shell_quote(dir .. "/lib/?.lua;;") .. " "
                              .. shell_quote(BIN) .. " run " .. shell_quote(path))
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal("found\n", out)
  end)
  it("honours os.exit", function()
    local path = script("io.write('x')\nos.exit(3)\n")
    local out, _, code = sgen({"run", path})
    assert.equal(3, code)
    assert.equal("x", out)
  end)
end)

describe("the REPL through a pipe", function()
  it("prints the values of expressions", function()
    local out, err, code = sgen({}, "x = sgen.ones(2)\nx + 1\n1 + 1, 'a', nil\nx:shape()\n"
                                    .. "{1, k = 'v'}\nprint('printed')\n")
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal("tensor([2., 2.], size=2, dtype=float32)\n"
                 .. "2\ta\tnil\n"
                 .. "{2}\n"
                 .. "{1, k = \"v\"}\n"
                 .. "printed\n", out)
  end)
  it("shows a tensor like tostring does", function()
    local out = sgen({}, "sgen.manual_seed(0)\nsgen.randn(2, 2)\n")
    local expected = sgen({"run", "-"}, "sgen.manual_seed(0)\nprint(sgen.randn(2, 2))\n")
    assert.matches("^tensor%(", out)
    assert.equal(expected, out)
  end)
  it("accepts multi-line input", function()
    local out, err, code = sgen({}, "local function twice(a)\n  return a * 2\nend\n"
                                    .. "function thrice(a)\n  return a * 3\nend\n"
                                    .. "thrice(2)\n"
                                    .. "for i = 1, 2 do\n  print(i)\nend\n"
                                    .. "t = {\n  a = 1,\n}\nt.a\n")
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal("6\n1\n2\n1\n", out)
  end)
  it("shows errors and continues; the exit status counts them", function()
    local out, err, code = sgen({}, "error('oops')\nsgen.ones(2) + sgen.ones(3)\n"
                                    .. "x = = 2\n40 + 2\n")
    assert.equal("42\n", out)
    assert.matches("^sgen: stdin:1: oops\nstack traceback:", err)
    assert.matches("\nsgen: stdin:1: sgen%.", err)
    assert.matches("\nsgen: stdin:1: unexpected symbol near '='\n", err)
    assert.equal(1, code)
  end)
  it("reports a chunk left incomplete at the end of input", function()
    local out, err, code = sgen({}, "1\nfunction f(\n")
    assert.equal("1\n", out)
    assert.matches("^sgen: stdin:%d+: .*near <eof>\n$", err)
    assert.equal(1, code)
  end)
  it("exits cleanly on empty input and blank lines", function()
    local out, err, code = sgen({}, "")
    assert.equal("", out)
    assert.equal("", err)
    assert.equal(0, code)
    out, err, code = sgen({}, "\n\n")
    assert.equal("", out)
    assert.equal("", err)
    assert.equal(0, code)
  end)
  it("sets arg and keeps globals between lines", function()
    local out = sgen({}, "y = 5\ny * 2\ntype(arg)\n")
    assert.equal("10\ntable\n", out)
  end)
end)

describe("the REPL on a terminal", function()
  it("edits lines with libedit, prints values and saves the history", function()
    local has_script = os.execute("command -v script >/dev/null 2>&1")
    if not has_script then
      pending("util-linux `script` is not installed: no pseudo-terminal to test with")
      return
    end
    local _, dir = script("")
    local hist = dir .. "/history"
    -- Tab completes methods (x:su -> x:sub x:sub_ x:sum); completing through an
    -- __index that raises (bad.k.) must not bring the REPL down
    local cmd = "(sleep 1; printf 'x = sgen.ones(2)\\r'; sleep 0.5; printf 'x * 3\\r'; "
                .. "sleep 0.5; printf 'for i = 1, 1 do\\r'; sleep 0.3; printf 'end\\r'; "
                .. "sleep 0.3; printf 'x:su\\t\\t'; sleep 0.5; printf 'm()\\r'; "
                .. "sleep 0.3; printf 'bad = setmetatable({}, {__index = error})\\r'; "
                .. "sleep 0.3; printf 'bad.k.\\t'; sleep 0.5; printf '\\025\\r'; "
                .. "sleep 0.3; printf '40 + 2\\r'; "
                .. "sleep 1; printf '\\004'; sleep 1) | SGEN_HISTORY=" .. shell_quote(hist)
                .. " timeout 30 script -qec " .. shell_quote(shell_quote(BIN)) .. " /dev/null"
    local out, _, code = sh(cmd)
    assert.equal(0, code)
    assert.matches("sgen 0%.1%.0 %(Lua 5%.4", out)
    assert.matches("> x %* 3", out)
    assert.matches("tensor%(%[3%., 3%.%], size=2, dtype=float32%)", out)
    assert.matches(">> end", out)
    assert.matches("x:sub%s+x:sub_%s+x:sum", out) -- the in-place x:sub_ too
    assert.matches("tensor%(2%., dtype=float32%)", out)
    assert.matches("\n42\r?\n", out)
    local h = read_file(hist)
    assert.is_not_nil(h)
    assert.matches("x\\040%*\\0403", h)
    assert.matches("for\\040i\\040=\\0401,\\0401\\040do\\012end", h)
  end)
  it("cancels the line or the block on Ctrl-C and goes on; Ctrl-D exits and saves the history",
     function()
    -- regression: Ctrl-C at the prompt killed the REPL (status 130) and lost the history
    if not os.execute("command -v script >/dev/null 2>&1") then
      pending("util-linux `script` is not installed: no pseudo-terminal to test with")
      return
    end
    local _, dir = script("")
    local hist, log = dir .. "/history", dir .. "/tty.out"
    -- keys are typed once the banner is shown (start-up time varies with the
    -- load); \003 is Ctrl-C, which the terminal turns into SIGINT
    local cmd = "(for i in $(seq 300); do grep -q 'Ctrl-D exits' " .. shell_quote(log)
                .. " 2>/dev/null && break; sleep 0.1; done; sleep 0.3; "
                .. "printf 'x = 41\\r'; sleep 0.5; printf 'oops(1, '; sleep 0.3; printf '\\003'; "
                .. "sleep 0.5; printf 'for i = 1, 2 do\\r'; sleep 0.3; printf 'x = 0\\r'; "
                .. "sleep 0.3; printf '\\003'; sleep 0.5; printf 'x + 1\\r'; "
                .. "sleep 0.5; printf '\\004'; sleep 1) | SGEN_HISTORY=" .. shell_quote(hist)
                .. " timeout 60 script -qec " .. shell_quote("exec " .. shell_quote(BIN))
                .. " /dev/null > " .. shell_quote(log)
    local _, _, code = sh(cmd)
    local out = read_file(log) or ""
    assert.equal(0, code, out)
    -- the cancelled line and block did not run: x is still 41
    assert.matches("\n42\r?\n", out)
    assert.not_matches("global 'oops'", out)
    local h = read_file(hist)
    assert.is_not_nil(h, "no history file")
    assert.matches("x\\040=\\04041", h)
    assert.matches("x\\040%+\\0401", h)
    assert.not_matches("oops", h)
    assert.not_matches("for\\040i", h)
  end)
end)

-- ---------------------------------------------------------------------------

describe("plain lua5.4 with require 'sgen'", function()
  it("exits cleanly after OpenMP threads ran (sgen.core is never unloaded)", function()
    -- regression: lua_close() dlclosed core.so under live OpenMP workers (this
    -- loop crashed 5 runs out of 5 before core.so was linked with -z nodelete)
    local out, err, code = sh("OMP_NUM_THREADS=2 lua5.4 -e " .. shell_quote(
      "local sg = require 'sgen'; local x = sg.randn(256, 256); "
      .. "for i = 1, 2000 do local y = (x * 2 + 1):relu() end; print('done')"))
    assert.equal("done\n", out)
    assert.equal("", err)
    assert.equal(0, code)
  end)
end)

describe("cmake --install", function()
  it("installs a relocatable sgen and a library plain lua5.4 can require", function()
    local builddir = BIN:match("^(.*)/bin/sgen$")
    if builddir == nil or not read_file(builddir .. "/cmake_install.cmake") then
      pending("SGEN_BIN is not build/bin/sgen of a CMake build tree")
      return
    end
    local _, dir = script("")
    local prefix = dir .. "/prefix"
    local _, err, code = sh("cmake --install " .. shell_quote(builddir) .. " --prefix "
                            .. shell_quote(prefix) .. " >/dev/null")
    assert.equal(0, code, err)
    assert.is_not_nil(read_file(prefix .. "/share/lua/5.4/sgen/init.lua"))
    assert.is_not_nil(read_file(prefix .. "/share/lua/5.4/sgen/cli.lua"))
    assert.is_not_nil(read_file(prefix .. "/lib/lua/5.4/sgen/core.so"))
    -- the installed executable uses the installed library, not the checkout's
    local out
    out, err, code = sh("env -u LUA_PATH -u LUA_CPATH " .. shell_quote(prefix .. "/bin/sgen")
                        .. " info")
    assert.equal(0, code, err)
    assert.matches("library " .. prefix:gsub("%p", "%%%0") .. "/share/lua/5.4 %(install%)", out)
    local path = dir .. "/outside.lua"
    write_file(path, "print(package.searchpath('sgen.cli', package.path), opts.n, "
                     .. "sgen.ones(opts.n):sum():item())")
    out, err, code = sh("cd / && env -u LUA_PATH -u LUA_CPATH "
                        .. shell_quote(prefix .. "/bin/sgen") .. " run " .. shell_quote(path)
                        .. " --n=3")
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal(prefix .. "/share/lua/5.4/sgen/cli.lua\t3\t3.0\n", out)
    local lp = prefix .. "/share/lua/5.4/?.lua;" .. prefix .. "/share/lua/5.4/?/init.lua;;"
    local cp = prefix .. "/lib/lua/5.4/?.so;;"
    out, err, code = sh("cd / && LUA_PATH=" .. shell_quote(lp) .. " LUA_CPATH=" .. shell_quote(cp)
                        .. " lua5.4 -e " .. shell_quote(
                          "print(package.searchpath('sgen', package.path)); "
                          .. "print(require('sgen').ones(2):sum():item())"))
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal(prefix .. "/share/lua/5.4/sgen/init.lua\n2.0\n", out)
    -- help() in the installed REPL reads the installed reference
    assert.is_not_nil(read_file(prefix .. "/share/doc/sgen/lua-api.md"))
    out, err, code = sh("cd / && env -u LUA_PATH -u LUA_CPATH -u SGEN_DOCS "
                        .. shell_quote(prefix .. "/bin/sgen") .. " -e " .. shell_quote("help('conv2d')"))
    assert.equal(0, code, err)
    assert.matches("^#### F%.conv2d%(x, w, b,", out)
  end)
end)

describe("sgen test", function()
  it("runs busted with the library, sgen.core and SGEN_BIN set up", function()
    local _, dir = script("")
    local spec = dir .. "/tiny_spec.lua"
    write_file(spec, [[
      describe("tiny", function()
        it("sees sgen", function()
          assert.equal(2, require("sgen").ones(2):sum():item())
          assert.is_truthy(os.getenv("SGEN_BIN"))
        end)
      end)
    ]])
    local out, _, code = sh("env -u LUA_PATH -u LUA_CPATH " .. shell_quote(BIN) .. " test "
                            .. shell_quote(spec))
    assert.equal(0, code)
    assert.matches("1 success / 0 failures / 0 errors", out)
  end)
end)

describe("sgen info, --version and help", function()
  it("prints the version", function()
    local out, _, code = sgen({"--version"})
    assert.equal(0, code)
    assert.matches("^sgen 0%.1%.0 %(Lua 5%.4%.%d+%)\n$", out)
    local out2 = sgen({"-v"})
    assert.equal(out, out2)
  end)
  it("describes the build", function()
    local out, err, code = sgen({"info"})
    assert.equal(0, code)
    assert.equal("", err)
    assert.matches("^sgen 0%.1%.0\n", out)
    assert.matches("\n  build type:  %a+\n", out)
    assert.matches("\n  options:     SGEN_NATIVE=%S+ SGEN_SANITIZE=%S+ SGEN_CUDA=%S+", out)
    assert.matches("\n  BLAS:        OpenBLAS", out)
    assert.matches("\n  OpenMP:      yes\n", out)
    if out:find("SGEN_WITH_ONEDNN=ON", 1, true) then
      assert.matches("\n  oneDNN:      %d+%.%d+%.%d+ %(float32 convolutions%)\n", out)
    else
      assert.matches("\n  oneDNN:      not built %(convolutions: im2col %+ GEMM%)\n", out)
    end
    assert.matches("\n  threads:     %d+\n", out)
    if out:find("SGEN_WITH_CUDA=ON", 1, true) then
      assert.matches("\n  CUDA:        runtime %d+%.%d+, [^\n]*cuBLAS %d+%.%d+%.%d+, TF32 off\n", out)
      assert.matches("\n  cuDNN:       %d+%.%d+%.%d+\n", out)
      assert.matches("\n  GPUs:        [^\n]+\n", out)
    else
      assert.matches("\n  CUDA:        not built\n", out)
      assert.matches("\n  cuDNN:       not built\n", out)
      assert.matches("\n  GPUs:        none %(CUDA not built%)\n", out)
    end
    assert.matches("\n  Lua:         Lua 5%.4%.%d+, library /", out)
  end)
  it("reports the thread count set by SGEN_NUM_THREADS", function()
    local out = sh("SGEN_NUM_THREADS=3 " .. shell_quote(BIN) .. " info")
    assert.matches("\n  threads:     3\n", out)
  end)
  it("prints the usage of every subcommand for help, -h and --help", function()
    local out, _, code = sgen({"help"})
    assert.equal(0, code)
    for _, cmd in ipairs({"sgen run FILE.lua", "sgen info", "sgen test", "sgen --version",
                          "sgen help"}) do
      assert.is_truthy(out:find(cmd, 1, true), cmd)
    end
    assert.equal(out, (sgen({"-h"})))
    assert.equal(out, (sgen({"--help"})))
  end)
  it("rejects unknown commands with status 2", function()
    local out, err, code = sgen({"frobnicate"})
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("^sgen: unknown command 'frobnicate'\n\nusage: sgen", err)
    _, err, code = sgen({"info", "extra"})
    assert.equal(2, code)
    assert.matches("unexpected argument 'extra'", err)
  end)
end)

-- issue 16, item 10: REPL comfort, sgen -e, the project root on package.path
describe("REPL comfort", function()
  it("predefines sg, nn and F and keeps top-level locals", function()
    local out, err, code = sgen({}, "sg == sgen, nn == sgen.nn, F == sgen.F\n"
      .. "local x = sg.ones(2)\nx:sum():item()\nlocal a, b = 1, 2\na + b\n"
      .. "local function twice(v) return v * 2 end\ntwice(21)\nlocal u\nu == nil\n"
      .. "local t = {\n 5 }\nt[1]\nlocal k <const> = 3\nk\n")
    assert.equal(0, code, err)
    assert.equal("true\ttrue\ttrue\n2.0\n3\n42\ntrue\n5\nnil\n", out)
  end)

  it("rewrites only plain top-level locals", function()
    assert.equal("x = 1", cli._repl_rewrite("local x = 1"))
    assert.equal("  a, b = 1, 2", cli._repl_rewrite("  local a, b = 1, 2"))
    assert.equal("function f(x) return x end", cli._repl_rewrite("local function f(x) return x end"))
    assert.equal("x = nil", cli._repl_rewrite("local x"))
    assert.is_nil(cli._repl_rewrite("local x <close> = t"))
    assert.is_nil(cli._repl_rewrite("x = 1"))
    assert.is_nil(cli._repl_rewrite("localx = 1"))
    assert.is_nil(cli._repl_rewrite("do local x = 1 end"))
  end)

  it("help() prints the entry of docs/lua-api.md, or says why not", function()
    local out, err, code = sgen({}, "help(sg.conv2d)\nhelp(\"conv2d\")\nhelp(nn.Linear)\n"
      .. "help(\"x:sum\")\nhelp(\"nosuch\")\nhelp(print)\n")
    assert.equal(0, code, err)
    local conv = "#### F.conv2d(x, w, b, {stride = 1, padding = 0, dilation = 1, groups = 1})\n\n"
      .. "2-D convolution (cross-correlation, as PyTorch)"
    local first = out:find(conv, 1, true)
    assert.truthy(first, out)
    assert.truthy(out:find(conv, first + 1, true), "help(\"conv2d\") too")
    assert.truthy(out:find("F.conv2d(sg.ones(1, 1, 3, 3), sg.ones(1, 1, 2, 2))", 1, true))
    assert.truthy(out:find("\n#### nn.Linear(in_features, out_features, {bias = true})\n", 1, true))
    assert.truthy(out:find("\n### x:sum([dims], [keepdim]) / x:mean([dims], [keepdim])\n", 1, true))
    assert.falsy(out:find("#### F.conv_transpose2d", 1, true)) -- one entry, not the next
    assert.truthy(out:find("help: no entry for 'nosuch' in " .. H.SRC, 1, true), out)
    assert.truthy(out:find("help: no sgen function or class is this function", 1, true))
    out = H.sh("SGEN_DOCS=/nonexistent/lua-api.md " .. H.sgen_cmdline({}), "help(sg.conv2d)\n")
    assert.equal("help: the API reference is not installed (no /nonexistent/lua-api.md); set "
      .. "SGEN_DOCS to a copy of docs/lua-api.md, or read it online in the sgen sources\n", out)
  end)

  it("runs a chunk with sgen -e, exit statuses as sgen run", function()
    local out, err, code = sgen({"-e", "print(sg.ones(2):sum():item(), nn ~= nil, F ~= nil, ...)", "a", "b"})
    assert.equal(0, code, err)
    assert.equal("2.0\ttrue\ttrue\ta\tb\n", out)
    out, err, code = sgen({"-e", "error('boom')"})
    assert.equal(1, code)
    assert.matches("^sgen: %(command line%):1: boom\nstack traceback:", err)
    _, err, code = sgen({"-e", "x ="})
    assert.equal(1, code)
    assert.matches("sgen: %(command line%):1: unexpected symbol near <eof>", err)
    _, err, code = sgen({"-e", "require('sgen.cli').options({n = 1}, {args = {'--m=2'}})"})
    assert.equal(2, code)
    assert.matches("unknown option %-%-m", err)
    _, err, code = sgen({"-e"})
    assert.equal(2, code)
    assert.matches("sgen %-e: missing code", err)
    _, _, code = sgen({"-e", "os.exit(4)"})
    assert.equal(4, code)
  end)

  it("puts the project root on package.path for sgen run, the REPL and -e", function()
    local dir = H.tmpdir()
    tmpdirs[#tmpdirs + 1] = dir
    -- a project of one's own: its models/ wins, from a script two levels down
    assert(os.execute("mkdir -p " .. shell_quote(dir .. "/proj/models") .. " "
      .. shell_quote(dir .. "/proj/lua") .. " " .. shell_quote(dir .. "/proj/experiments/deep")))
    write_file(dir .. "/proj/models/mine.lua", "return {name = 'mine'}\n")
    write_file(dir .. "/proj/experiments/deep/s.lua", "print(require('models.mine').name)\n")
    local out, err, code = sh("cd / && " .. H.sgen_cmdline({"run", dir .. "/proj/experiments/deep/s.lua"}))
    assert.equal(0, code, err)
    assert.equal("mine\n", out)
    -- outside any project: the sgen source tree's models/
    write_file(dir .. "/alone.lua", "print(type(require('models.dcgan')))\n")
    out, err, code = sh("cd / && " .. H.sgen_cmdline({"run", dir .. "/alone.lua"}))
    assert.equal(0, code, err)
    assert.equal("table\n", out)
    out, err, code = sh("cd " .. shell_quote(dir .. "/proj") .. " && "
      .. H.sgen_cmdline({"-e", "print(require('models.mine').name)"}))
    assert.equal(0, code, err)
    assert.equal("mine\n", out)
    out, err, code = sh("cd " .. shell_quote(dir .. "/proj/models") .. " && " .. H.sgen_cmdline({}),
      "require('models.mine').name\n")
    assert.equal(0, code, err)
    assert.equal("mine\n", out)
  end)

  it("completes globals, fields and tensor methods with Tab on a terminal", function()
    if not os.execute("command -v script >/dev/null 2>&1") then
      pending("util-linux `script` is not installed: no pseudo-terminal to test with")
      return
    end
    local dir = H.tmpdir()
    tmpdirs[#tmpdirs + 1] = dir
    local cmd = "(sleep 1; printf 'local y = sg.ones(2)\\r'; sleep 0.5; printf 'y:res\\t'; "
                .. "sleep 0.5; printf '(2)\\r'; sleep 0.5; printf 'nn.Linea\\t'; sleep 0.5; "
                .. "printf ' == nil\\r'; sleep 0.5; printf 'sg.zeros_l\\t'; sleep 0.5; printf '\\025\\r'; "
                .. "sleep 0.5; printf 'y.nd\\t'; sleep 0.5; printf ' + 40\\r'; "
                .. "sleep 0.5; printf '\\004'; sleep 1) | SGEN_HISTORY= timeout 30 script -qec "
                .. shell_quote(shell_quote(BIN)) .. " /dev/null"
    local out, _, code = sh(cmd)
    assert.equal(0, code)
    assert.matches("`sg` %(= sgen%), `nn` and `F` are loaded", out)
    -- libedit redraws the completed word: "y:res" then the rest "hape "
    assert.matches("y:res[^\n]-hape %(2%)", out)
    assert.matches("tensor%(%[1%., 1%.%], size=2", out)
    assert.matches("nn%.Linea[^\n]-r  == nil", out)
    assert.matches("\nfalse\r?\n", out)
    assert.matches("sg%.zeros_l[^\n]-ike", out)
    -- tensor properties (x.ndim, x.shape, ...) complete after a dot
    assert.matches("y%.nd[^\n]-im +%+ 40", out)
    assert.matches("\n41\r?\n", out)
  end)
end)
