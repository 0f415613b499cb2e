-- sgen.plot: SVG line plots of metrics, readable in any browser or image
-- viewer (no other software needed).
--
--   plot.lines("loss.svg", {
--     series = {{name = "train", x = {1, 2, 3}, y = {0.9, 0.5, 0.3}},
--               {name = "test", y = {1.0, 0.7, 0.6}}},      -- x defaults to 1..#y
--     title = "Loss", xlabel = "epoch", ylabel = "loss", logy = false})
--   plot.from_csv("loss.svg", "metrics.csv", {x = "step", y = {"loss", "acc"}})
--
-- x and y may be Lua lists or 1-D tensors. Points whose x or y is NaN or
-- infinite (or <= 0 on a log axis) are skipped and break the line. Ticks fall
-- on round numbers (1, 2, 5 x 10^k); log axes tick at powers of ten.
local check = require "sgen.util.check"

local M = {}

local palette = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}
M.palette = palette

local function esc(s)
  return (tostring(s):gsub("[&<>\"']", {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
    ['"'] = "&quot;", ["'"] = "&apos;"}))
end
M.escape = esc

local function finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

local function tolist(v, what)
  if type(v) == "table" then return v end
  if type(v) == "userdata" and v.totable then
    if v:dim() ~= 1 then
      error(string.format("sgen.plot.lines: %s must be a list or a 1-D tensor, got a %d-D tensor",
        what, v:dim()), 4)
    end
    return v:totable()
  end
  error("sgen.plot.lines: " .. what .. " must be a list or a 1-D tensor, got " .. type(v), 4)
end

-- A round step (1, 2 or 5 x 10^k) giving about n intervals over span.
local function nice_step(span, n)
  local raw = span / n
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local f = raw / mag
  local nf
  if f < 1.5 then nf = 1 elseif f < 3 then nf = 2 elseif f < 7 then nf = 5 else nf = 10 end
  return nf * mag
end

-- Linear ticks: {lo, hi} widened to multiples of a nice step; returns lo, hi, ticks, step.
function M.nice_ticks(lo, hi, n)
  n = n or 5
  if hi < lo then lo, hi = hi, lo end
  if hi == lo then
    local d = lo == 0 and 1 or math.abs(lo) * 0.1
    lo, hi = lo - d, hi + d
  end
  local step = nice_step(hi - lo, n)
  local a, b = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
  local ticks = {}
  local k = 0
  while true do
    local t = a + k * step
    if t > b + step * 1e-9 then break end
    if math.abs(t) < step * 1e-9 then t = 0 end
    ticks[#ticks + 1] = t
    k = k + 1
  end
  return a, b, ticks, step
end

-- Tick label: enough decimals for the step, no float noise.
function M.tick_label(v, step)
  if v == 0 then return "0" end
  local av = math.abs(v)
  if av >= 1e6 or av < 1e-4 then
    return (string.format("%.3g", v):gsub("e%+?(%-?)0*(%d)", "e%1%2"))
  end
  local dec = step and math.max(0, -math.floor(math.log(step, 10) + 1e-9)) or 6
  local s = string.format("%." .. dec .. "f", v)
  if s:find("%.") then s = s:gsub("0+$", ""):gsub("%.$", "") end
  return s
end

-- Log ticks over [lo, hi] (both > 0): powers of ten (plus 2 and 5 when the
-- range spans fewer than two decades).
function M.log_ticks(lo, hi)
  local a, b = math.floor(math.log(lo, 10) + 1e-9), math.ceil(math.log(hi, 10) - 1e-9)
  if a == b then a, b = a - 1, b + 1 end
  local ticks = {}
  local mult = (math.log(hi, 10) - math.log(lo, 10)) <= 2 and {1, 2, 5} or {1}
  for e = a, b do
    for _, m in ipairs(mult) do
      local t = m * 10 ^ e
      if t <= 10 ^ b * (1 + 1e-9) then ticks[#ticks + 1] = t end
    end
  end
  return 10 ^ a, 10 ^ b, ticks
end

local function log_label(v)
  local s = string.format("%g", v)
  return (s:gsub("e%+?(%-?)0*(%d)", "e%1%2"))
end

local OPT_KEYS = {"series", "title", "xlabel", "ylabel", "logy", "logx", "width", "height",
                  "xlim", "ylim", "markers"}

local function check_lim(v, name)
  if v == nil then return nil end
  if type(v) ~= "table" or not finite(v[1]) or not finite(v[2]) or v[1] >= v[2] then
    error("sgen.plot.lines: option " .. name .. " expected {lo, hi} with lo < hi", 4)
  end
  return v
end

-- Builds the SVG text of a plot (see plot.lines for the options).
function M.svg(opts)
  if type(opts) ~= "table" then
    error("sgen.plot.svg: argument 1 (opts) expected a table, got " .. type(opts), 3)
  end
  check.options(opts, OPT_KEYS, "sgen.plot.lines")
  local series = opts.series
  if type(series) ~= "table" or #series == 0 then
    error("sgen.plot.lines: option series expected a non-empty list of {name=, x=, y=}", 3)
  end
  local W, H = opts.width or 640, opts.height or 400
  if not finite(W) or not finite(H) or W < 200 or H < 150 then
    error("sgen.plot.lines: width and height must be at least 200 and 150", 3)
  end
  local logx, logy = opts.logx and true or false, opts.logy and true or false
  local xlim, ylim = check_lim(opts.xlim, "xlim"), check_lim(opts.ylim, "ylim")

  -- gather the points
  local data = {}
  local xmin, xmax, ymin, ymax = math.huge, -math.huge, math.huge, -math.huge
  for i, s in ipairs(series) do
    if type(s) ~= "table" then
      error("sgen.plot.lines: series[" .. i .. "] expected a table {name=, x=, y=}, got " .. type(s), 3)
    end
    if s.y == nil then error("sgen.plot.lines: series[" .. i .. "] has no y values", 3) end
    local y = tolist(s.y, "series[" .. i .. "].y")
    local x
    if s.x ~= nil then
      x = tolist(s.x, "series[" .. i .. "].x")
      if #x ~= #y then
        error(string.format("sgen.plot.lines: series[%d] has %d x values and %d y values", i, #x, #y), 3)
      end
    else
      x = {}
      for j = 1, #y do x[j] = j end
    end
    local pts = {}
    for j = 1, #y do
      local xv, yv = x[j], y[j]
      if xv ~= nil and type(xv) ~= "number" then
        error(string.format("sgen.plot.lines: series[%d].x[%d] is a %s, expected a number", i, j, type(xv)), 3)
      end
      if yv ~= nil and type(yv) ~= "number" then
        error(string.format("sgen.plot.lines: series[%d].y[%d] is a %s, expected a number", i, j, type(yv)), 3)
      end
      local ok = finite(xv) and finite(yv) and not (logx and xv <= 0) and not (logy and yv <= 0)
      if ok then
        pts[#pts + 1] = {xv, yv}
        if xv < xmin then xmin = xv end
        if xv > xmax then xmax = xv end
        if yv < ymin then ymin = yv end
        if yv > ymax then ymax = yv end
      else
        pts[#pts + 1] = false -- a gap
      end
    end
    data[i] = {name = s.name ~= nil and tostring(s.name) or ("series " .. i),
               color = s.color or palette[(i - 1) % #palette + 1], dash = s.dash, pts = pts}
  end
  if xmin > xmax then xmin, xmax = logx and 1 or 0, logx and 10 or 1 end
  if ymin > ymax then ymin, ymax = logy and 1 or 0, logy and 10 or 1 end
  if xlim then xmin, xmax = xlim[1], xlim[2] end
  if ylim then ymin, ymax = ylim[1], ylim[2] end
  if (logx and xmin <= 0) or (logy and ymin <= 0) then
    error("sgen.plot.lines: a log axis needs limits > 0", 3)
  end

  local xticks, yticks, xstep, ystep
  if logx then xmin, xmax, xticks = M.log_ticks(xmin, xmax)
  else xmin, xmax, xticks, xstep = M.nice_ticks(xmin, xmax, 6) end
  if logy then ymin, ymax, yticks = M.log_ticks(ymin, ymax)
  else ymin, ymax, yticks, ystep = M.nice_ticks(ymin, ymax, 5) end

  -- layout
  local left, right, top, bottom = 70, 20, opts.title and 40 or 20, 50
  local pw, ph = W - left - right, H - top - bottom
  local function tx(v)
    local f = logx and (math.log(v, 10) - math.log(xmin, 10)) / (math.log(xmax, 10) - math.log(xmin, 10))
      or (v - xmin) / (xmax - xmin)
    return left + f * pw
  end
  local function ty(v)
    local f = logy and (math.log(v, 10) - math.log(ymin, 10)) / (math.log(ymax, 10) - math.log(ymin, 10))
      or (v - ymin) / (ymax - ymin)
    return top + (1 - f) * ph
  end
  local function n2(v) return string.format("%.2f", v) end

  local o = {}
  local function add(...) o[#o + 1] = table.concat({...}) end
  add('<?xml version="1.0" encoding="UTF-8"?>')
  add('<svg xmlns="http://www.w3.org/2000/svg" width="', W, '" height="', H,
      '" viewBox="0 0 ', W, ' ', H, '" font-family="sans-serif" font-size="12">')
  add('<rect x="0" y="0" width="', W, '" height="', H, '" fill="white"/>')
  if opts.title then
    add('<text x="', n2(left + pw / 2), '" y="24" text-anchor="middle" font-size="15">', esc(opts.title), '</text>')
  end
  -- grid and ticks
  add('<g class="grid" stroke="#e0e0e0" stroke-width="1">')
  for _, t in ipairs(xticks) do
    add('<line x1="', n2(tx(t)), '" y1="', top, '" x2="', n2(tx(t)), '" y2="', top + ph, '"/>')
  end
  for _, t in ipairs(yticks) do
    add('<line x1="', left, '" y1="', n2(ty(t)), '" x2="', left + pw, '" y2="', n2(ty(t)), '"/>')
  end
  add('</g>')
  add('<rect x="', left, '" y="', top, '" width="', pw, '" height="', ph, '" fill="none" stroke="black"/>')
  add('<g class="xticks" text-anchor="middle">')
  for _, t in ipairs(xticks) do
    local lbl = logx and log_label(t) or M.tick_label(t, xstep)
    add('<line x1="', n2(tx(t)), '" y1="', top + ph, '" x2="', n2(tx(t)), '" y2="', top + ph + 5, '" stroke="black"/>')
    add('<text x="', n2(tx(t)), '" y="', top + ph + 18, '">', esc(lbl), '</text>')
  end
  add('</g>')
  add('<g class="yticks" text-anchor="end">')
  for _, t in ipairs(yticks) do
    local lbl = logy and log_label(t) or M.tick_label(t, ystep)
    add('<line x1="', left - 5, '" y1="', n2(ty(t)), '" x2="', left, '" y2="', n2(ty(t)), '" stroke="black"/>')
    add('<text x="', left - 8, '" y="', n2(ty(t) + 4), '">', esc(lbl), '</text>')
  end
  add('</g>')
  if opts.xlabel then
    add('<text x="', n2(left + pw / 2), '" y="', H - 10, '" text-anchor="middle">', esc(opts.xlabel), '</text>')
  end
  if opts.ylabel then
    add('<text x="16" y="', n2(top + ph / 2), '" text-anchor="middle" transform="rotate(-90 16 ',
        n2(top + ph / 2), ')">', esc(opts.ylabel), '</text>')
  end
  -- series, clipped to the plot area
  add('<defs><clipPath id="plotarea"><rect x="', left, '" y="', top, '" width="', pw, '" height="', ph,
      '"/></clipPath></defs>')
  add('<g class="series" clip-path="url(#plotarea)" fill="none" stroke-width="1.5">')
  for _, d in ipairs(data) do
    local seg, singles = {}, {}
    local function flush()
      if #seg >= 2 then
        add('<polyline stroke="', esc(d.color), '"', d.dash and (' stroke-dasharray="' .. esc(d.dash) .. '"') or '',
            ' points="', table.concat(seg, " "), '"/>')
      elseif #seg == 1 then
        singles[#singles + 1] = seg[1]
      end
      seg = {}
    end
    for _, p in ipairs(d.pts) do
      if p then seg[#seg + 1] = n2(tx(p[1])) .. "," .. n2(ty(p[2])) else flush() end
    end
    flush()
    if opts.markers then
      for _, p in ipairs(d.pts) do
        if p then singles[#singles + 1] = n2(tx(p[1])) .. "," .. n2(ty(p[2])) end
      end
    end
    for _, s in ipairs(singles) do
      local cx, cy = s:match("([^,]+),([^,]+)")
      add('<circle cx="', cx, '" cy="', cy, '" r="2.5" fill="', esc(d.color), '" stroke="none"/>')
    end
  end
  add('</g>')
  -- legend (top right inside the plot)
  local maxlen = 0
  for _, d in ipairs(data) do maxlen = math.max(maxlen, utf8.len(d.name) or #d.name) end
  local lw, lh = 36 + 7 * maxlen, 8 + 18 * #data
  local lx, ly = left + pw - lw - 8, top + 8
  add('<g class="legend">')
  add('<rect x="', lx, '" y="', ly, '" width="', lw, '" height="', lh,
      '" fill="white" fill-opacity="0.85" stroke="#999999"/>')
  for i, d in ipairs(data) do
    local yy = ly + 4 + 18 * (i - 1) + 9
    add('<line x1="', lx + 6, '" y1="', yy, '" x2="', lx + 26, '" y2="', yy, '" stroke="', esc(d.color),
        '" stroke-width="2"', d.dash and (' stroke-dasharray="' .. esc(d.dash) .. '"') or '', '/>')
    add('<text x="', lx + 31, '" y="', yy + 4, '">', esc(d.name), '</text>')
  end
  add('</g>')
  add('</svg>')
  return table.concat(o, "\n") .. "\n"
end

local function write_file(path, text, fname)
  require("sgen.util.file").write(path, text, "sgen.plot." .. fname, 3)
end

-- plot.lines(path, opts): writes an SVG line plot. Options: series (list of
-- {name=, x=, y=, color=, dash=}), title, xlabel, ylabel, logx, logy, xlim,
-- ylim ({lo, hi}), width, height (pixels; 640x400), markers (dots at points).
function M.lines(path, opts)
  if type(path) ~= "string" then
    error("sgen.plot.lines: argument 1 (path) expected a string, got " .. type(path), 2)
  end
  if type(opts) ~= "table" then
    error("sgen.plot.lines: argument 2 (opts) expected a table, got " .. type(opts), 2)
  end
  write_file(path, M.svg(opts), "lines")
  return path
end

-- plot.from_csv(svg_path, csv_path, {x=, y={...}, ...}): plots columns of a CSV
-- (as written by sgen.util.log). x defaults to the first column, y to every
-- other column holding a number; other options go to plot.lines (xlabel
-- defaults to the x column). Rows where a column is empty are skipped for it.
function M.from_csv(svg_path, csv_path, opts)
  if type(svg_path) ~= "string" then
    error("sgen.plot.from_csv: argument 1 (svg_path) expected a string, got " .. type(svg_path), 2)
  end
  if type(csv_path) ~= "string" then
    error("sgen.plot.from_csv: argument 2 (csv_path) expected a string, got " .. type(csv_path), 2)
  end
  opts = opts or {}
  if type(opts) ~= "table" then
    error("sgen.plot.from_csv: argument 3 (opts) expected a table, got " .. type(opts), 2)
  end
  local log = require "sgen.util.log"
  local ok, t = pcall(log.read_csv, csv_path)
  if not ok then error((tostring(t):gsub("^.-sgen%.util%.log%.read_csv", "sgen.plot.from_csv")), 2) end
  local has = {}
  for _, c in ipairs(t.columns) do has[c] = true end
  local xcol = opts.x or t.columns[1]
  if not has[xcol] then
    error("sgen.plot.from_csv: no column '" .. tostring(xcol) .. "' in " .. csv_path ..
      " (columns: " .. table.concat(t.columns, ", ") .. ")", 2)
  end
  local ycols = opts.y
  if type(ycols) == "string" then ycols = {ycols} end
  if ycols == nil then
    ycols = {}
    for _, c in ipairs(t.columns) do
      if c ~= xcol then
        for _, r in ipairs(t.rows) do
          if r[c] ~= nil then
            if type(r[c]) == "number" then ycols[#ycols + 1] = c end
            break
          end
        end
      end
    end
    if #ycols == 0 then error("sgen.plot.from_csv: no numeric column to plot in " .. csv_path, 2) end
  end
  local series = {}
  for _, c in ipairs(ycols) do
    if not has[c] then
      error("sgen.plot.from_csv: no column '" .. tostring(c) .. "' in " .. csv_path ..
        " (columns: " .. table.concat(t.columns, ", ") .. ")", 2)
    end
    local xs, ys = {}, {}
    for _, r in ipairs(t.rows) do
      local xv, yv = r[xcol], r[c]
      if type(xv) == "number" and type(yv) == "number" then
        xs[#xs + 1], ys[#ys + 1] = xv, yv
      end
    end
    series[#series + 1] = {name = c, x = xs, y = ys}
  end
  local po = {series = series, xlabel = xcol}
  for k, v in pairs(opts) do if k ~= "x" and k ~= "y" then po[k] = v end end
  write_file(svg_path, M.svg(po), "from_csv")
  return svg_path
end

return M
