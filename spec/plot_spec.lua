-- sg.plot: SVG line plots.
local sg = require "sgen"
local plot = sg.plot
local H = require "spec.helpers"

local tmpname, slurp = H.tmpname, H.slurp

-- A structural XML check: one root, balanced tags, quoted attributes, no raw
-- '<' or stray '&' in text. Returns the list of element names (in order) or
-- raises with the reason.
local function check_xml(s)
  s = s:gsub("^<%?xml[^>]*%?>%s*", "")
  local stack, names, pos, roots = {}, {}, 1, 0
  while true do
    local a, b, close, name, attrs = s:find("<(/?)([%a_][%w:_%-]*)(.-)>", pos)
    local text = s:sub(pos, (a or #s + 1) - 1)
    assert(not text:find("<"), "raw '<' in text: " .. text)
    for amp in text:gmatch("&[^;%s]*;?") do
      assert(amp:match("^&%a+;$") or amp:match("^&#%d+;$"), "bad entity " .. amp)
    end
    if not a then break end
    if close == "/" then
      local top = table.remove(stack)
      assert(top == name, "closing </" .. name .. "> but open <" .. tostring(top) .. ">")
    else
      if #stack == 0 then roots = roots + 1 end
      names[#names + 1] = name
      local selfclose = attrs:sub(-1) == "/"
      local rest = selfclose and attrs:sub(1, -2) or attrs
      rest = rest:gsub('%s+[%a_][%w:_%-]*="[^"<]*"', "")
      assert(rest:match("^%s*$"), "malformed attributes in <" .. name .. ">: " .. rest)
      if not selfclose then stack[#stack + 1] = name end
    end
    pos = b + 1
  end
  assert(#stack == 0, "unclosed <" .. tostring(stack[#stack]) .. ">")
  assert(roots == 1, "expected one root element, got " .. roots)
  return names
end

local function count(s, pat) return select(2, s:gsub(pat, "")) end

describe("sg.plot.lines", function()
  it("writes a well-formed SVG with axes, ticks, legend and every series", function()
    local p = tmpname(".svg")
    local x, y1, y2 = {}, {}, {}
    for i = 1, 50 do x[i] = i * 10; y1[i] = 2 * math.exp(-i / 10); y2[i] = 1 + math.sin(i / 5) end
    assert.equal(p, plot.lines(p, {series = {{name = "train <loss>", x = x, y = y1}, {name = "test & val", x = x, y = y2}},
      title = "Loss", xlabel = "step", ylabel = "loss"}))
    local s = slurp(p)
    local names = check_xml(s)
    assert.equal("svg", names[1])
    assert.matches("train &lt;loss&gt;", s, 1, true)
    assert.matches("test &amp; val", s, 1, true)
    assert.matches(">Loss</text>", s, 1, true)
    assert.matches(">step</text>", s, 1, true)
    assert.matches(">loss</text>", s, 1, true)
    assert.equal(2, count(s, "<polyline"))
    assert.matches('stroke="#1f77b4"', s, 1, true)
    assert.matches('stroke="#ff7f0e"', s, 1, true)
    -- x ticks are round: 0, 100, ..., 500
    for _, t in ipairs({"0", "100", "200", "300", "400", "500"}) do
      assert.matches(">" .. t .. "</text>", s, 1, true)
    end
    os.remove(p)
  end)

  it("maps data to the plot frame", function()
    local s = plot.svg({series = {{name = "a", x = {0, 1}, y = {0, 1}}}})
    check_xml(s)
    -- no title: frame from (70, 20) to (620, 350) in a 640 x 400 picture
    assert.matches('points="70.00,350.00 620.00,20.00"', s, 1, true)
    assert.matches('<rect x="70" y="20" width="550" height="330" fill="none" stroke="black"/>', s, 1, true)
  end)

  it("defaults x to 1..n, accepts tensors, and breaks lines at NaN", function()
    local s = plot.svg({series = {{name = "t", y = sg.tensor({1, 2, 0 / 0, 4, 5})},
                                  {name = "u", x = sg.arange(1, 4), y = {3, 2, 1}}}, width = 300, height = 200})
    check_xml(s)
    assert.equal(3, count(s, "<polyline"))
    assert.matches('width="300" height="200"', s, 1, true)
  end)

  it("draws isolated points as dots", function()
    local s = plot.svg({series = {{name = "p", y = {1, 0 / 0, 3}}}})
    assert.equal(0, count(s, "<polyline"))
    assert.equal(2, count(s, "<circle"))
  end)

  it("draws log axes with power-of-ten ticks and skips values <= 0", function()
    local s = plot.svg({series = {{name = "l", y = {100, 10, 1, 0.1, 0, -1, 0.01}}}, logy = true})
    check_xml(s)
    for _, t in ipairs({"0.01", "0.1", "1", "10", "100"}) do
      assert.matches(">" .. t .. "</text>", s, 1, true)
    end
    assert.equal(1, count(s, "<polyline")) -- 100 .. 0.1
    assert.equal(1, count(s, "<circle"))   -- 0.01 alone after the gap
  end)

  it("computes nice ticks", function()
    local function ticks(lo, hi)
      local a, b, t, step = plot.nice_ticks(lo, hi, 5)
      local l = {}
      for i, v in ipairs(t) do l[i] = plot.tick_label(v, step) end
      return table.concat(l, " "), a, b
    end
    assert.equal("0 0.1 0.2 0.3 0.4", ticks(0, 0.37))
    assert.equal("-5 0 5 10 15 20", ticks(-3.2, 17))
    assert.equal("0 0.05 0.1 0.15 0.2 0.25 0.3", ticks(0, 0.3))
    assert.equal("0 20000 40000 60000 80000 100000", ticks(1234, 98765))
    local lbl, a, b = ticks(3, 3)
    assert.is_true(a < 3 and b > 3, lbl)
    assert.equal("1e-5", plot.tick_label(1e-5, 1e-5))
    local _, _, lt = plot.log_ticks(0.5, 30)
    assert.same({0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100}, lt)
  end)

  it("honours xlim/ylim and markers", function()
    local s = plot.svg({series = {{name = "a", x = {0, 1}, y = {0, 1}}}, xlim = {0, 2}, ylim = {0, 2}, markers = true})
    assert.matches('points="70.00,350.00 345.00,185.00"', s, 1, true)
    assert.equal(2, count(s, "<circle"))
  end)

  it("rejects bad input", function()
    assert.has_error(function() plot.lines(1, {}) end, "sgen.plot.lines: argument 1 (path) expected a string, got number")
    assert.has_error(function() plot.lines("x.svg") end, "sgen.plot.lines: argument 2 (opts) expected a table, got nil")
    assert.has_error(function() plot.lines("x.svg", {series = {}}) end,
      "sgen.plot.lines: option series expected a non-empty list of {name=, x=, y=}")
    assert.has_error(function() plot.lines("x.svg", {series = {{name = "a", y = {1}}}, color = "red"}) end,
      "sgen.plot.lines: unknown option 'color' (expected series, title, xlabel, ylabel, logy, logx, width, height, xlim, ylim, markers)")
    assert.has_error(function() plot.lines("x.svg", {series = {{name = "a", x = {1, 2}, y = {1}}}}) end,
      "sgen.plot.lines: series[1] has 2 x values and 1 y values")
    assert.has_error(function() plot.lines("x.svg", {series = {{name = "a"}}}) end,
      "sgen.plot.lines: series[1] has no y values")
    assert.has_error(function() plot.lines("x.svg", {series = {{name = "a", y = {1, "b"}}}}) end,
      "sgen.plot.lines: series[1].y[2] is a string, expected a number")
    assert.has_error(function() plot.lines("x.svg", {series = {{name = "a", y = sg.zeros(2, 2)}}}) end,
      "sgen.plot.lines: series[1].y must be a list or a 1-D tensor, got a 2-D tensor")
    assert.has_error(function() plot.lines("x.svg", {series = {{y = {1}}}, ylim = {1, 0}}) end,
      "sgen.plot.lines: option ylim expected {lo, hi} with lo < hi")
    assert.has_error(function() plot.lines("/nonexistent-dir/x.svg", {series = {{y = {1, 2}}}}) end,
      "sgen.plot.lines: cannot write '/nonexistent-dir/x.svg': cannot create a temp file next to it: No such file or directory")
  end)
end)

describe("sg.plot.from_csv", function()
  it("plots CSV columns written by sg.util.log", function()
    local csv, svg = tmpname(".csv"), tmpname(".svg")
    local log = sg.util.log.new(csv, {fields = {"step", "loss", "acc", "tag"}})
    for i = 1, 20 do log:write{step = i, loss = 1 / i, acc = i % 5 == 0 and i / 20 or nil, tag = "r"} end
    log:close()
    plot.from_csv(svg, csv, {title = "metrics"})
    local s = slurp(svg)
    check_xml(s)
    assert.matches(">loss</text>", s, 1, true)
    assert.matches(">acc</text>", s, 1, true)
    assert.not_matches(">tag</text>", s, 1, true)
    assert.matches(">step</text>", s, 1, true) -- xlabel from the x column
    assert.equal(2, count(s, "<polyline"))
    plot.from_csv(svg, csv, {x = "step", y = "acc", logy = true})
    s = slurp(svg)
    check_xml(s)
    assert.equal(1, count(s, "<polyline"))
    assert.has_error(function() plot.from_csv(svg, csv, {y = {"los"}}) end,
      "sgen.plot.from_csv: no column 'los' in " .. csv .. " (columns: step, loss, acc, tag)")
    assert.has_error(function() plot.from_csv(svg, csv, {x = "time"}) end,
      "sgen.plot.from_csv: no column 'time' in " .. csv .. " (columns: step, loss, acc, tag)")
    assert.has_error(function() plot.from_csv(svg, "/nonexistent.csv") end,
      "sgen.plot.from_csv: cannot open /nonexistent.csv: /nonexistent.csv: No such file or directory")
    assert.has_error(function() plot.from_csv(svg, csv, 3) end,
      "sgen.plot.from_csv: argument 3 (opts) expected a table, got number")
    os.remove(csv)
    os.remove(svg)
  end)
end)
