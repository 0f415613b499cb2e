-- Runs the Lua examples of a Markdown file and checks the values they claim.
--
--   cd "$(mktemp -d)" && sgen run /path/to/tools/check_doc_examples.lua /path/to/docs/lua-api.md
--
-- Run it from an empty scratch directory: the examples write files (checkpoints,
-- PNGs, logs) into the current directory.
--
-- What it runs: every ```lua block, in order, in one shared environment
-- (top-level `local` declarations become globals so that later blocks see
-- them), and hidden set-up code written as an HTML comment
-- `<!-- run ... -->` (invisible on the rendered page). A block preceded by
-- the line `<!-- norun -->` is skipped.
--
-- What it checks, per line of code:
--   expr                --> value     the value(s) of expr
--   local a, b = expr   --> value     the values of a, b after the assignment
--   print(args)         --> text      what print would show
--   expr                --> error: text   expr raises an error containing text
-- `value` is compared token by token with the actual value: numbers within
-- half a unit of the last digit shown (exactly for integers), words exactly,
-- punctuation ignored; `...` ends the comparison (the rest is elided). A
-- tensor's value is its nested table of elements (0-dim: the element).
-- Anything after " -- " on the `-->` side is a remark and is not compared.
-- A ```text block right after a lua block (blank lines between) is the exact
-- output of that block's print calls.
--
-- Exit status 0 when every block ran and every claim held.
local sg = require "sgen"

local path = arg and arg[1]
if not path then
  io.stderr:write("usage: sgen run tools/check_doc_examples.lua FILE.md\n")
  os.exit(2)
end
local f = assert(io.open(path))
local lines = {}
for l in f:lines() do lines[#lines + 1] = l end
f:close()

local TensorMT = getmetatable(sg.zeros(1))
local function is_tensor(v) return getmetatable(v) == TensorMT end

-- ---- formatting actual values ----
local function fmt_num(v)
  if math.type(v) == "integer" then return tostring(v) end
  if v ~= v then return "nan" end
  if v == math.huge then return "inf" end
  if v == -math.huge then return "-inf" end
  return string.format("%.10g", v)
end

local function fmt(v, depth)
  depth = depth or 0
  if is_tensor(v) then
    if v:is_freed() then return "tensor(<freed>)" end
    if v:dim() == 0 then return fmt(v:item(), depth) end
    return fmt(v:totable(), depth)
  end
  local t = type(v)
  if t == "number" then return fmt_num(v) end
  if t == "string" then return depth == 0 and v or string.format("%q", v) end
  if t == "table" and getmetatable(v) == nil and depth < 6 then
    local parts, n = {}, #v
    for i = 1, n do parts[#parts + 1] = fmt(v[i], depth + 1) end
    local keys = {}
    for k in pairs(v) do
      if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
    end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. " = " .. fmt(v[k], depth + 1) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return tostring(v)
end

-- ---- tokens ----
local num_patterns = {
  "^%-?%d+%.?%d*[eE][%-+]?%d+", "^%-?%d*%.%d+[eE][%-+]?%d+", "^%-?%d+%.%d*", "^%-?%.%d+", "^%-?%d+",
}
local function tokens(s)
  local out, i, n = {}, 1, #s
  while i <= n do
    if s:sub(i, i + 2) == "..." then
      out[#out + 1] = {kind = "elide"}
      i = i + 3
    else
      local matched
      local c = s:sub(i, i)
      if c:match("[%d%-%.]") then
        for _, p in ipairs(num_patterns) do
          local m = s:match(p, i)
          if m and m ~= "-" and m ~= "." then matched = m break end
        end
      end
      if matched then
        out[#out + 1] = {kind = "num", text = matched, value = tonumber(matched)}
        i = i + #matched
      else
        local w = s:match("^[%a_][%w_]*", i)
        if w then
          local neg = s:sub(i - 1, i - 1) == "-"
          if w == "inf" or w == "nan" then
            out[#out + 1] = {kind = "num", text = w, value = w == "nan" and 0 / 0 or (neg and -math.huge or math.huge)}
          else
            out[#out + 1] = {kind = "word", text = w}
          end
          i = i + #w
        else
          i = i + 1
        end
      end
    end
  end
  return out
end

local function tolerance(text, value)
  local mant, ex = text:match("^%-?([%d%.]*)[eE]([%-+]?%d+)$")
  mant = mant or text
  local dec = mant:match("%.(%d*)$")
  local scale = ex and 10 ^ tonumber(ex) or 1
  if dec and #dec > 0 then return 0.5 * 10 ^ (-#dec) * scale + 1e-12 end
  if ex then return 1e-9 * math.abs(value) end
  return 1e-6 * math.max(1, math.abs(value))
end

local function same(expected, actual)
  local e, a = tokens(expected), tokens(actual)
  for i = 1, #e do
    local te, ta = e[i], a[i]
    if te.kind == "elide" then return true end
    if not ta then return false end
    if te.kind == "num" then
      if ta.kind ~= "num" then return false end
      local ve, va = te.value, ta.value
      if ve ~= ve then
        if va == va then return false end
      elseif ve == math.huge or ve == -math.huge then
        if va ~= ve then return false end
      elseif math.abs(ve - va) > tolerance(te.text, ve) then
        return false
      end
    elseif ta.kind ~= "word" or ta.text ~= te.text then
      return false
    end
  end
  return #a == #e
end

-- ---- the environment shared by all blocks ----
local env = setmetatable({}, {__index = _G})
env.sg, env.sgen = sg, sg
local failures, checks = 0, 0
local captured = nil
env.print = function(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
  local s = table.concat(parts, "\t")
  if captured then captured[#captured + 1] = s end
  io.write(s, "\n")
end

local function report(line, expected, actual, what)
  failures = failures + 1
  io.write(string.format("\n*** %s:%d: %s\n    expected: %s\n    actual:   %s\n", path, line,
    what or "value differs", expected, actual))
end

env.__check = function(line, expected, mode, ...)
  checks = checks + 1
  local actual
  if mode == "print" then
    local parts = {}
    for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
    actual = table.concat(parts, "\t")
    env.print(...)
  else
    local parts = {}
    for i = 1, select("#", ...) do parts[#parts + 1] = fmt((select(i, ...))) end
    actual = table.concat(parts, ", ")
  end
  if not same(expected, actual) then report(line, expected, actual) end
end

env.__check_error = function(line, expected, fn)
  checks = checks + 1
  local ok, err = pcall(fn)
  if ok then
    report(line, "error: " .. expected, "no error", "expected an error")
  elseif not tostring(err):find(expected, 1, true) then
    report(line, "error: " .. expected, tostring(err), "error message differs")
  end
end

-- ---- transforming a block ----
local function transform(code_line, lineno)
  local indent, code, expected = code_line:match("^(%s*)(.-)%s*%-%->%s*(.-)%s*$")
  if not code or code == "" or code:match("^%-%-") then return code_line end
  expected = expected:gsub("%s+%-%-%s.*$", "")
  local toplevel = indent == ""
  code = code:gsub(";$", "")
  local err = expected:match("^error:%s*(.*)$")
  if err then
    local body = load("return " .. code) and ("return " .. code) or code
    return string.format("%s__check_error(%d, %q, function() %s end)", indent, lineno, err, body)
  end
  local args = code:match("^print(%b())$")
  if args then
    return string.format("%s__check(%d, %q, 'print', %s)", indent, lineno, expected, args:sub(2, -2))
  end
  local names, rhs = code:match("^local%s+([%w_,%s]+)=%s*(.+)$")
  if not names then names, rhs = code:match("^([%w_.,%s%[%]]+)=%s*([^=].*)$") end
  if names then
    local decl = (code:match("^local%s") and not toplevel) and "local " or ""
    return string.format("%s%s%s = %s; __check(%d, %q, 'value', %s)", indent, decl, names, rhs,
      lineno, expected, names)
  end
  return string.format("%s__check(%d, %q, 'value', %s)", indent, lineno, expected, code)
end

local function run_block(first, last, output_block)
  local out = {}
  for i = first, last do
    local l = lines[i]
    l = transform(l, i)
    -- top-level locals become globals of the shared environment
    l = l:gsub("^local function%s", "function ")
    l = l:gsub("^local%s+([%w_,%s]+=)", "%1")
    l = l:gsub("^local%s+([%w_]+)%s*$", "%1 = nil")
    out[#out + 1] = l
  end
  local chunk = string.rep("\n", first - 1) .. table.concat(out, "\n")
  local fn, lerr = load(chunk, "@" .. path, "t", env)
  if not fn then
    failures = failures + 1
    io.write(string.format("\n*** %s:%d: block does not compile: %s\n", path, first, lerr))
    return
  end
  captured = output_block and {} or nil
  local ok, rerr = xpcall(fn, debug.traceback)
  local got = captured
  captured = nil
  if not ok then
    failures = failures + 1
    io.write(string.format("\n*** %s:%d: block raised: %s\n", path, first, rerr))
    return
  end
  if output_block then
    checks = checks + 1
    local want = {}
    for i = output_block[1], output_block[2] do want[#want + 1] = (lines[i]:gsub("%s+$", "")) end
    local have = {}
    for _, s in ipairs(got) do
      for l in (s .. "\n"):gmatch("(.-)\n") do have[#have + 1] = (l:gsub("%s+$", "")) end
    end
    local a, b = table.concat(want, "\n"), table.concat(have, "\n")
    if a ~= b then report(output_block[1], "\n" .. a, "\n" .. b, "printed output differs") end
  end
end

-- ---- walk the file ----
local i, blocks = 1, 0
while i <= #lines do
  local l = lines[i]
  if l:match("^<!%-%- run%s*$") then
    local j = i + 1
    while not lines[j]:match("^%-%->%s*$") do j = j + 1 end
    io.write(string.format("-- %s:%d (hidden)\n", path, i))
    run_block(i + 1, j - 1)
    blocks = blocks + 1
    i = j + 1
  elseif l:match("^```lua%s*$") then
    local j = i + 1
    while not lines[j]:match("^```%s*$") do j = j + 1 end
    local skip = i > 1 and lines[i - 1]:match("^<!%-%- norun %-%->")
    -- an output block right after?
    local k = j + 1
    while lines[k] and lines[k]:match("^%s*$") do k = k + 1 end
    local output
    if lines[k] and lines[k]:match("^```text%s*$") then
      local m = k + 1
      while not lines[m]:match("^```%s*$") do m = m + 1 end
      output = {k + 1, m - 1}
    end
    if not skip then
      io.write(string.format("-- %s:%d\n", path, i))
      run_block(i + 1, j - 1, output)
      blocks = blocks + 1
    end
    i = (output and output[2] + 2) or (j + 1)
  else
    i = i + 1
  end
end

io.write(string.format("\n%d blocks, %d checks, %d failures\n", blocks, checks, failures))
os.exit(failures == 0 and 0 or 1)
