-- sgen report (lua/sgen/report): the page of one run and the comparison of
-- several, built from small run folders made here; the errors for missing,
-- empty and corrupt folders and files; the live report.html that a metrics
-- log keeps up to date; and, in headless Chromium, the reports of a real
-- dip_denoise --quick run and of a 3-run comparison (DOM numbers, every image
-- loaded, no errors, screenshots). The browser part is skipped, with the
-- reason, where chromium cannot start (scripts/install-deps.sh --browser).
-- About 40 s on 2 cores, most of it the two dip_denoise runs.
local sg = require "sgen"
local json = require "dkjson"
local H = require "spec.helpers"
local B = require "spec.report_browser"
local report = require "sgen.report"
local html = require "sgen.report.html"
local live = require "sgen.report.live"
local util = require "sgen.util"

local tmpdirs = {}
local function tmpdir()
  local d = H.tmpdir()
  tmpdirs[#tmpdirs + 1] = d
  return d
end
teardown(function()
  for _, d in ipairs(tmpdirs) do H.rmdir(d) end
end)

local function mkdir(p) assert(os.execute("mkdir -p " .. H.shell_quote(p))) end

-- A run folder: config.json, summary.json, metrics.csv (rows), an image.
local function make_run(dir, t)
  mkdir(dir)
  if t.config then util.json.write(dir .. "/config.json", t.config) end
  if t.summary then util.json.write(dir .. "/summary.json", t.summary) end
  if t.rows then
    local log = util.log.new(dir .. "/metrics.csv", {report = false})
    for _, r in ipairs(t.rows) do log:write(r) end
    log:close()
  end
  if t.image ~= false then
    sg.image.write(dir .. "/samples.png", sg.full({3, 8, 12}, t.shade or 0.5))
  end
  return dir
end

local function count(s, pat)
  local n = 0
  for _ in s:gmatch(pat) do n = n + 1 end
  return n
end

local function report_error(dirs)
  local ok, err = pcall(report.render, dirs)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

describe("sgen report: one run", function()
  it("shows the summary, one curve per metric, the images embedded and the config", function()
    local dir = make_run(tmpdir() .. "/run1", {config = {lr = 0.001, variant = "l0", iters = 20},
      summary = {best_psnr = 27.53125, fid = 41.5, iters = 20},
      rows = {{iter = 1, loss = 0.9, psnr = 20.5}, {iter = 10, loss = 0.5, psnr = 25}, {iter = 20, loss = 0.3, psnr = 27}}})
    local page, runs = report.render({dir})
    assert.equal(1, #runs)
    assert.matches('<table id="summary"', page, 1, true)
    assert.matches(">27.53<", page, 1, true)             -- 4 significant digits
    assert.matches('<table id="config"', page, 1, true)
    assert.equal(2, count(page, "<svg"))                    -- loss, psnr (iter is the x axis)
    assert.matches('src="data:image/png;base64,iVBORw0KGgo', page, 1, true)
    assert.matches("not Inception FID", page, 1, true)      -- the fid column's note
    assert.is_nil(page:find("http-equiv", 1, true))
    assert.is_nil(page:find('src="http', 1, true))          -- nothing fetched from a network
    assert.is_nil(page:find('href="http', 1, true))
  end)

  it("links the images relative to the page, or leaves them out", function()
    local root = tmpdir()
    local dir = make_run(root .. "/a/run", {summary = {x = 1}})
    local out = root .. "/pages/r.html"
    mkdir(root .. "/pages")
    report.write(out, {dir}, {images = "link"})
    assert.matches('src="../a/run/samples.png"', H.slurp(out), 1, true)
    local page = report.render({dir}, {images = "none"})
    assert.is_nil(page:find("<img", 1, true))
    assert.matches("option images must be embed, link or none, got 'inline'",
      H.error_message(report.render, {dir}, {images = "inline"}), 1, true)
  end)
end)

describe("sgen report: several runs", function()
  local root
  setup(function()
    root = tmpdir() .. "/results"
    local fids = {a = {10, 14}, b = {20, 22}}
    for _, v in ipairs({"a", "b"}) do
      for seed = 1, 2 do
        make_run(string.format("%s/%s/seed%d", root, v, seed), {
          config = {variant = v, seed = seed, out = "x" .. v .. seed, lr = 0.1},
          summary = {fid = fids[v][seed], acc = seed / 10},
          rows = {{iter = 1, loss = 1 + seed}, {iter = 2, loss = 0.5 * seed}}, shade = seed / 3})
      end
    end
  end)

  it("groups the runs by the options that differ and averages over seeds", function()
    local page, runs = report.render({root})
    assert.equal(4, #runs)
    assert.equal("a/seed1", runs[1].label)
    -- variant and seed differ; out differs too but never tells runs apart; lr is the same
    assert.matches('<th data-key="opt:variant"', page, 1, true)
    assert.matches('<th data-key="opt:seed"', page, 1, true)
    assert.is_nil(page:find('data-key="opt:out"', 1, true))
    assert.is_nil(page:find('data-key="opt:lr"', 1, true))
    -- two groups (seed is a replicate), mean ± sample std: 12 ± 2.828, 21 ± 1.414
    assert.matches("4 runs in 2 groups (by variant)", page, 1, true)
    assert.matches(">12 ± 2.828<", page, 1, true)
    assert.matches(">21 ± 1.414<", page, 1, true)
    assert.matches("fid&nbsp;†", page, 1, true)
    assert.matches("not Inception FID", page, 1, true)
    -- one overlaid plot per metrics.csv column, a line per group
    assert.equal(1, count(page, "<svg"))
    assert.matches("g1: variant=a (mean of 2)", page, 1, true)
    -- one image strip: the 4 runs' samples.png side by side
    assert.equal(4, count(page, "<img "))
    assert.matches('<table id="runs" class="sortable"', page, 1, true)
  end)

  it("takes several folders and shows a container's own images as shared", function()
    local r2 = tmpdir()
    make_run(r2 .. "/dip", {config = {variant = "all", k = 4}, image = true})
    for _, v in ipairs({"none", "l0"}) do
      make_run(r2 .. "/dip/" .. v, {summary = {variant = v, psnr = v == "l0" and 26 or 25}})
    end
    local page, runs = report.render({r2 .. "/dip", root .. "/a/seed1"})
    assert.equal(3, #runs)
    assert.same({"dip/l0", "dip/none", root .. "/a/seed1"}, {runs[1].label, runs[2].label, runs[3].label})
    assert.equal("l0", runs[1].options.variant)   -- the summary's variant, not the config's "all"
    assert.matches("dip (shared)", page, 1, true)
  end)
end)

describe("sgen report: errors name what is wrong", function()
  it("for folders", function()
    local root = tmpdir()
    assert.matches(root .. "/nope: no such folder", report_error({root .. "/nope"}), 1, true)
    H.write_file(root .. "/file.txt", "x")
    assert.matches("file.txt is not a folder", report_error({root .. "/file.txt"}), 1, true)
    mkdir(root .. "/empty")
    assert.matches("empty is empty (no run in it)", report_error({root .. "/empty"}), 1, true)
    mkdir(root .. "/other/sub")
    H.write_file(root .. "/other/notes.txt", "x")
    assert.matches("other holds no run: no metrics.csv or summary.json", report_error({root .. "/other"}), 1, true)
    assert.matches("give at least one run folder", report_error({}), 1, true)
  end)

  it("for files", function()
    local root = tmpdir()
    local function case(name, file, bytes, expect)
      local dir = make_run(root .. "/" .. name, {summary = {x = 1}, image = false})
      H.write_file(dir .. "/" .. file, bytes)
      local msg = report_error({dir})
      assert.matches("^sgen report: ", msg)
      assert.matches(dir .. "/" .. file .. expect, msg, 1, true)
    end
    case("badjson", "summary.json", "{\"x\": 1,", " is not valid JSON")
    case("emptyjson", "summary.json", "", " is empty")
    case("arrayjson", "config.json", "[1, 2]", " holds a JSON array, expected a JSON object")
    case("emptycsv", "metrics.csv", "", " is empty (no header line)")
    case("badcsv", "metrics.csv", "iter,loss\n1,\"0.5\n", " cannot be read: unterminated quote")
    case("badpng", "samples.png", "GIF89a....", " is not a PNG file (bad signature)")
    case("emptypng", "x.png", "", " is empty")
  end)

  it("from the command line: exit 2 for usage, 1 for a bad folder, no traceback", function()
    local _, err, code = H.sgen({"report"})
    assert.equal(2, code)
    assert.matches("give at least one run folder", err, 1, true)
    _, err, code = H.sgen({"report", "x", "--images", "inline"})
    assert.equal(2, code)
    assert.matches("--images must be embed, link or none, got 'inline'", err, 1, true)
    _, err, code = H.sgen({"report", "x", "--bogus=1"})
    assert.equal(2, code)
    local root = tmpdir()
    _, err, code = H.sgen({"report", root .. "/missing"})
    assert.equal(1, code)
    assert.equal("sgen report: " .. root .. "/missing: no such folder\n", err)
    local dir = make_run(root .. "/ok", {summary = {x = 1}})
    local out
    out, err, code = H.sgen({"report", dir})
    assert.equal(0, code, err)
    assert.equal("sgen report: " .. dir .. "/report.html (1 run)\n", out)
    assert.matches("<!DOCTYPE html>", H.slurp(dir .. "/report.html"), 1, true)
  end)
end)

describe("the live report.html", function()
  after_each(function() live.finish_all("done") end)

  it("is written at a metrics.csv's first row with a refresh, and final without one", function()
    local dir = tmpdir()
    local log = util.log.new(dir .. "/metrics.csv")
    log:write({iter = 1, loss = 1})
    local page = H.slurp(dir .. "/report.html")
    assert.matches('<meta http-equiv="refresh" content="10">', page, 1, true)
    assert.matches('class="status running"', page, 1, true)
    log:close()
    live.finish_all("done")
    page = H.slurp(dir .. "/report.html")
    assert.is_nil(page:find("http-equiv", 1, true))
    assert.matches('class="status done"', page, 1, true)
    assert.is_nil(H.read_file(dir .. "/report.html.tmp"))   -- renamed, not left behind
  end)

  it("is rewritten only after max(MIN_INTERVAL, 100 x its own cost)", function()
    local dir = tmpdir()
    local log = util.log.new(dir .. "/metrics.csv")
    for i = 1, 50 do log:write({iter = i, loss = 1 / i}) end
    log:close()
    -- 50 rows within far less than MIN_INTERVAL (5 s): the first row's page only
    local st = live.stats(dir)
    assert.equal(1, st.rewrites)
    assert.is_false(live.update(dir))
    local saved = live.MIN_INTERVAL
    live.MIN_INTERVAL = 0
    local ok = pcall(function()
      -- not before 100 x the last rewrite's cost
      assert.is_true(st.seconds > 0)
      local t0 = require("sgen.util.time").clock()
      while require("sgen.util.time").clock() - t0 < 100 * st.seconds + 0.02 do end
      assert.is_true(live.update(dir))
    end)
    live.MIN_INTERVAL = saved
    assert.is_true(ok)
  end)

  it("is left alone with report = false or for another CSV name", function()
    local dir = tmpdir()
    local log = util.log.new(dir .. "/metrics.csv", {report = false})
    log:write({iter = 1, loss = 1})
    log:close()
    log = util.log.new(dir .. "/losses.csv")
    log:write({iter = 1, loss = 1})
    log:close()
    assert.is_nil(H.read_file(dir .. "/report.html"))
    assert.matches("option report expected a boolean, got string",
      H.error_message(util.log.new, dir .. "/metrics.csv", {report = "yes"}), 1, true)
  end)

  it("is finished by sgen run: done, or stopped by an error", function()
    local dir = tmpdir()
    local script = H.write_file(dir .. "/train.lua", [[
      local util = require "sgen.util"
      local log = util.log.new(arg[1] .. "/metrics.csv")
      for i = 1, 3 do log:write({iter = i, loss = 1 / i}) end
      log:close()
      if arg[2] == "fail" then error("boom") end
    ]])
    local _, err, code = H.sgen({"run", script, "--", dir})
    assert.equal(0, code, err)
    local page = H.slurp(dir .. "/report.html")
    assert.is_nil(page:find("http-equiv", 1, true))
    assert.matches(">done, last iter 3<", page, 1, true)
    _, err, code = H.sgen({"run", script, "--", dir, "fail"})
    assert.equal(1, code)
    page = H.slurp(dir .. "/report.html")
    assert.is_nil(page:find("http-equiv", 1, true))
    assert.matches(">stopped by an error, last iter 3<", page, 1, true)
  end)
end)

-- ---------------------------------------------------------------- browser

local browser, why = B.find()
if not browser then
  io.stderr:write("report_spec: headless Chromium cannot start (" .. why .. "): the browser tests are "
    .. "skipped; install it with `bash scripts/install-deps.sh --browser`\n")
  pending("in headless Chromium: skipped, " .. why .. " (bash scripts/install-deps.sh --browser)")
  return
end

-- Where the screenshots also go when SGEN_REPORT_SCREENSHOTS names a folder
-- (docs/images: the README's example).
local SHOTS = os.getenv("SGEN_REPORT_SCREENSHOTS")

local function run_dip(out, args)
  local argv = {"run", "experiments/dip_denoise.lua", "--out=" .. out}
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local stdout, stderr, code = H.sh("cd " .. H.shell_quote(H.SRC) .. " && " .. H.sgen_cmdline(argv))
  assert(code == 0, "dip_denoise failed:\n" .. stdout .. stderr)
end

local function images_in(dir)
  local n = 0
  for _, name in ipairs(require("sgen.report.scan").list(dir)) do
    if name:match("%.png$") or name:match("%.svg$") then n = n + 1 end
  end
  return n
end

local function check_selftest(r, n_images)
  assert.same({}, r.errors)
  assert.equal(n_images, #r.images)
  for _, im in ipairs(r.images) do
    assert.is_true(im.complete, im.name)
    assert.is_true(im.width > 0 and im.height > 0, im.name .. " has no natural size")
  end
end

local function shot(file, name, w, h)
  local png = H.tmpname(".png")
  B.screenshot(browser, file, png, w, h)
  local pw, ph = B.png_size(png)
  assert.same({w, h}, {pw, ph})
  assert.is_true(#H.slurp(png) > 20000, "a blank screenshot")   -- a page of tables, plots and images
  if SHOTS then os.execute("cp " .. H.shell_quote(png) .. " " .. H.shell_quote(SHOTS .. "/" .. name)) end
  os.remove(png)
end

describe("in headless Chromium", function()
  local single, multi
  setup(function()
    single = tmpdir() .. "/quick"
    run_dip(single, {"--quick", "--variant=l0inf"})
    multi = tmpdir() .. "/three"
    run_dip(multi, {"--quick", "--variant=all", "--iters=30"})
  end)

  it("the live report of a --quick run, finished: every image loads, no errors", function()
    local page = H.slurp(single .. "/report.html")
    assert.is_nil(page:find("http-equiv", 1, true))
    local r, dom = B.selftest(browser, single .. "/report.html")
    check_selftest(r, images_in(single))
    assert.matches('class="status done"', dom, 1, true)
  end)

  it("the report of a --quick run: the summary's numbers, curves, images", function()
    local out = single .. "/full.html"
    local _, err, code = H.sgen({"report", single, "--out", out})
    assert.equal(0, code, err)
    local summary = json.decode(H.slurp(single .. "/summary.json"))
    local r, dom = B.selftest(browser, out)
    check_selftest(r, images_in(single))
    local rows = {}
    for _, row in ipairs(B.table_rows(dom, "summary")) do rows[row.key] = row.value end
    for _, k in ipairs({"best_single", "best_average", "final_single", "noisy_psnr", "best_single_iter"}) do
      assert.equal(html.fmt(summary[k]), rows[k], k)
    end
    assert.equal(5, r.svgs)   -- loss, psnr_noisy, psnr_single, psnr_average, seconds (iter: the x axis)
    shot(out, "report-run.png", 1200, 1500)
  end)

  it("the comparison of 3 runs: table numbers, sorting, image strips", function()
    local out = multi .. "/report.html"
    local _, err, code = H.sgen({"report", multi, "--out", out})
    assert.equal(0, code, err)
    local r, dom = B.selftest(browser, out)
    local n = images_in(multi)
    for _, v in ipairs({"none", "l0", "l0inf"}) do n = n + images_in(multi .. "/" .. v) end
    check_selftest(r, n)
    local rows = B.table_rows(dom, "runs")
    assert.equal(3, #rows)
    for _, row in ipairs(rows) do
      local summary = json.decode(H.slurp(multi .. "/" .. row.run .. "/summary.json"))
      assert.equal(row.run, row["opt:variant"])
      for _, k in ipairs({"best_single", "best_average", "final_average"}) do
        assert.equal(html.fmt(summary[k]), row["m:" .. k], row.run .. " " .. k)
        assert.is_true(math.abs(summary[k] - row["m:" .. k .. "#v"]) < 1e-9)
      end
    end
    assert.equal(3, #B.table_rows(dom, "groups"))
    -- the page's sort by the last column, ascending
    local key = r.sorted_by
    table.sort(rows, function(a, b) return a[key .. "#v"] < b[key .. "#v"] end)
    assert.same({rows[1].run, rows[2].run, rows[3].run}, r.sorted_first_column)
    shot(out, "report-comparison.png", 1200, 1800)
  end)

  it("notices an image that does not load (the check can fail)", function()
    local dir = tmpdir() .. "/broken"
    make_run(dir, {summary = {x = 1}})
    report.write(dir .. "/r.html", {dir}, {images = "link"})
    os.remove(dir .. "/samples.png")
    local r = B.selftest(browser, dir .. "/r.html")
    assert.equal(1, #r.images)
    assert.equal(0, r.images[1].width)
    assert.matches("cannot load IMG samples.png", r.errors[1], 1, true)
  end)
end)
