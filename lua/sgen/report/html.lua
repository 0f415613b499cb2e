-- sgen.report.html: small HTML building blocks of the report: escaping,
-- number formatting, tables, images (embedded or linked), inline plots, and
-- the page shell with its CSS and the few lines of JavaScript (table sorting
-- and the ?selftest check the browser tests read back).
local plot = require "sgen.plot"

local M = {}

local esc = plot.escape
M.esc = esc

-- fmt(v) -> text of a value: integers as they are, other numbers with 4
-- significant digits (the tables are for reading; data-v keeps them whole).
function M.fmt(v)
  if type(v) == "number" then
    if v ~= v then return "nan" end
    if v == math.huge then return "inf" end
    if v == -math.huge then return "-inf" end
    if math.type(v) == "integer" or (v == math.floor(v) and math.abs(v) < 1e15) then
      return string.format("%d", math.tointeger(v) or v)
    end
    return string.format("%.4g", v)
  end
  if v == nil then return "" end
  return tostring(v)
end

-- Fréchet distance columns: fid, best_fid, fid_mean ..., not the settings
-- around it (fid_samples, fid_every, fid_note) nor best_fid_iter.
function M.is_fid(key)
  local k = key:lower()
  if not (k:match("fid") or k:match("frechet")) then return false end
  return not (k:match("samples") or k:match("every") or k:match("note") or k:match("iter$") or k:match("title"))
end

M.FID_NOTE = "† Fréchet distance in the 128-d features of sgen's own Fashion-MNIST classifier "
  .. "(sg.metrics.frechet_features), not Inception FID: not comparable to published FID numbers."

-- table(columns, rows, opts): columns {{key =, label =, numeric =}},
-- rows {{[key] = value}}; opts.id, opts.sortable, opts.class.
function M.table(columns, rows, opts)
  opts = opts or {}
  local o = {string.format('<table%s class="%s%s">', opts.id and (' id="' .. esc(opts.id) .. '"') or "",
    opts.sortable and "sortable" or "", opts.class and (" " .. opts.class) or "")}
  o[#o + 1] = "<thead><tr>"
  for _, c in ipairs(columns) do
    local label = esc(c.label or c.key)
    if c.fid then label = label .. "&nbsp;†" end
    o[#o + 1] = string.format('<th data-key="%s"%s>%s</th>', esc(c.key), c.numeric and ' class="num"' or "", label)
  end
  o[#o + 1] = "</tr></thead><tbody>"
  for _, r in ipairs(rows) do
    o[#o + 1] = "<tr>"
    for _, c in ipairs(columns) do
      local v = r[c.key]
      local sortv = r[c.key .. "\0sort"] or v
      local attr = ""
      if type(sortv) == "number" and sortv == sortv then attr = string.format(' data-v="%.17g"', sortv) end
      local text = r[c.key .. "\0text"] or M.fmt(v)
      o[#o + 1] = string.format('<td data-key="%s"%s%s>%s</td>', esc(c.key), attr,
        type(sortv) == "number" and ' class="num"' or "", esc(text))
    end
    o[#o + 1] = "</tr>"
  end
  o[#o + 1] = "</tbody></table>"
  return table.concat(o)
end

-- key/value table of a flat table (sorted keys).
function M.kv_table(t, opts)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  local rows = {}
  for _, k in ipairs(keys) do rows[#rows + 1] = {key = k .. (M.is_fid(k) and " †" or ""), value = t[k] or t[tonumber(k)]} end
  return M.table({{key = "key", label = "key"}, {key = "value", label = "value"}}, rows, opts)
end

local function read_all(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  return data
end

-- relpath(from_dir, to) for linking images: both absolute or both relative
-- to the same current folder.
local function split(p)
  local parts = {}
  for s in p:gmatch("[^/]+") do
    if s == ".." and #parts > 0 and parts[#parts] ~= ".." then parts[#parts] = nil
    elseif s ~= "." then parts[#parts + 1] = s end
  end
  return parts
end

function M.abspath(p)
  if p:sub(1, 1) ~= "/" then
    local lfs = require "lfs"
    p = lfs.currentdir() .. "/" .. p
  end
  return "/" .. table.concat(split(p), "/")
end

function M.relpath(from_dir, to)
  local a, b = split(M.abspath(from_dir)), split(M.abspath(to))
  local i = 1
  while i <= #a and i <= #b and a[i] == b[i] do i = i + 1 end
  local parts = {}
  for _ = i, #a do parts[#parts + 1] = ".." end
  for j = i, #b do parts[#parts + 1] = b[j] end
  return table.concat(parts, "/")
end

-- img(image, ctx) -> <img> with the file embedded as a data: URI
-- (ctx.images == "embed") or linked relative to ctx.out_dir ("link").
function M.img(image, ctx)
  local src
  if ctx.images == "link" then
    src = M.relpath(ctx.out_dir, image.path):gsub("[ #?%%\"]", function(c) return string.format("%%%02X", c:byte()) end)
  else
    local base64 = require "sgen.report.base64"
    local mime = image.path:match("%.svg$") and "image/svg+xml" or "image/png"
    src = "data:" .. mime .. ";base64," .. base64.encode(read_all(image.path))
  end
  return string.format('<img src="%s" alt="%s" data-name="%s">', src, esc(image.name), esc(image.name))
end

-- inline_plot(opts, ctx) -> an <svg> of sgen.plot (the experiments' own
-- plotting code), its clip-path id made unique (ctx.plots counts them):
-- several inline SVGs share one id space.
function M.inline_plot(opts, ctx)
  ctx.plots = (ctx.plots or 0) + 1
  local id = "plotarea" .. ctx.plots
  local svg = plot.svg(opts)
  svg = svg:gsub("^<%?xml[^>]*>%s*", ""):gsub('id="plotarea"', 'id="' .. id .. '"'):gsub("url%(#plotarea%)",
    "url(#" .. id .. ")")
  return '<div class="plot">' .. svg .. "</div>"
end

local CSS = [[
body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1600px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer;background:#f3f3f3}
table.sortable th.asc:after{content:" ▲"}table.sortable th.desc:after{content:" ▼"}
.plots,.strip{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.plot svg{width:480px;height:auto}
figure{margin:0;text-align:center;font-size:.85em}
figure img{max-width:360px;min-width:96px;image-rendering:pixelated;border:1px solid #ddd}
.note{font-size:.85em;color:#555}.status{font-weight:bold}
.running{color:#b35900}.done{color:#2a7d2a}.stopped{color:#b00}
details{margin:.4em 0}
]]

-- Collects errors before anything else runs: the ?selftest report lists
-- them (window.onerror, failed resource loads, console.error).
local HEAD_JS = [[
window.sgenErrors=[];
window.addEventListener('error',function(e){var t=e.target;
window.sgenErrors.push(t&&t!==window&&t.tagName?'cannot load '+t.tagName+' '+(t.getAttribute('data-name')||t.src||''):String(e.message));},true);
(function(){var ce=console.error;console.error=function(){window.sgenErrors.push(Array.prototype.join.call(arguments,' '));ce.apply(console,arguments);};})();
]]

-- Click a header to sort by it (numbers by data-v, text otherwise); and with
-- ?selftest in the URL, a <pre id=selftest> of JSON: every image's natural
-- size, the errors seen, and the first sortable table's first column after
-- sorting it by its last column (proves the sorting runs).
local BODY_JS = [[
function sgenSort(th){var table=th.closest('table'),i=Array.prototype.indexOf.call(th.parentNode.children,th);
var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);var asc=!th.classList.contains('asc');
th.parentNode.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc');});th.classList.add(asc?'asc':'desc');
function key(r){var c=r.cells[i];if(!c)return '';var v=c.getAttribute('data-v');return v===null?c.textContent:parseFloat(v);}
rows.sort(function(a,b){var x=key(a),y=key(b);var r=(typeof x==='number'&&typeof y==='number')?x-y:String(x).localeCompare(String(y));return asc?r:-r;});
rows.forEach(function(r){body.appendChild(r);});}
document.querySelectorAll('table.sortable th').forEach(function(th){th.addEventListener('click',function(){sgenSort(th);});});
window.addEventListener('load',function(){if(location.search.indexOf('selftest')<0)return;
var r={errors:window.sgenErrors,images:[],tables:document.querySelectorAll('table').length,svgs:document.querySelectorAll('svg').length};
document.querySelectorAll('img').forEach(function(im){r.images.push({name:im.getAttribute('data-name'),complete:im.complete,width:im.naturalWidth,height:im.naturalHeight});});
var t=document.querySelector('table.sortable');if(t){var ths=t.tHead.rows[0].cells;var th=ths[ths.length-1];sgenSort(th);
r.sorted_by=th.getAttribute('data-key');r.sorted_first_column=Array.prototype.map.call(t.tBodies[0].rows,function(row){return row.cells[0].textContent;});}
var pre=document.createElement('pre');pre.id='selftest';pre.textContent=JSON.stringify(r);document.body.appendChild(pre);});
]]

-- page(title, body, {refresh = seconds}) -> the whole document.
function M.page(title, body, opts)
  opts = opts or {}
  local refresh = opts.refresh and string.format('<meta http-equiv="refresh" content="%d">\n', opts.refresh) or ""
  return table.concat({
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n", refresh,
    "<title>", esc(title), "</title>\n<style>", CSS, "</style>\n<script>", HEAD_JS, "</script></head>\n<body>\n",
    body, "\n<script>", BODY_JS, "</script>\n</body></html>\n"})
end

return M
