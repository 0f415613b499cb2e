-- Headless Chromium for the report specs (spec/report_spec.lua): loads a page
-- with ?selftest, which makes the page's own script append a
-- <pre id="selftest"> of JSON (every image's natural size, the errors seen,
-- a sort of the first sortable table), and reads the DOM back with
-- --dump-dom. Not a spec itself. scripts/install-deps.sh --browser installs
-- chromium (Debian's package).
local json = require "dkjson"
local H = require "spec.helpers"

local B = {}

local CANDIDATES = {"chromium", "chromium-browser", "google-chrome"}

local function flags(profile)
  return "--headless --disable-gpu --no-sandbox --no-first-run --disable-extensions "
    .. "--disable-dev-shm-usage --hide-scrollbars --user-data-dir=" .. H.shell_quote(profile)
end

-- find() -> the browser command, or nil and why it cannot start.
-- SGEN_CHROMIUM names the browser to use (else the first of CANDIDATES on PATH).
function B.find()
  local chosen = os.getenv("SGEN_CHROMIUM")
  for _, name in ipairs(chosen and {chosen} or CANDIDATES) do
    local path = H.sh("command -v " .. name .. " 2>/dev/null || true"):gsub("%s+$", "")
    if path ~= "" then
      local profile = H.tmpdir()
      local out, err, code = H.sh("timeout 60 " .. H.shell_quote(path) .. " " .. flags(profile)
        .. " --dump-dom about:blank")
      H.rmdir(profile)
      if code == 0 and out:match("<html") then return path end
      return nil, string.format("%s does not start headless (exit %s): %s", path, tostring(code),
        (err:match("[^\n]*ERROR[^\n]*") or err:sub(1, 200)))
    end
  end
  return nil, chosen and ("SGEN_CHROMIUM=" .. chosen .. " is not found") or "no chromium on PATH"
end

-- dump(browser, file, query) -> the DOM after load, as text.
function B.dump(browser, file, query)
  local profile = H.tmpdir()
  local url = "file://" .. file .. (query or "")
  local out, err, code = H.sh("timeout 120 " .. H.shell_quote(browser) .. " " .. flags(profile)
    .. " --virtual-time-budget=10000 --dump-dom " .. H.shell_quote(url))
  H.rmdir(profile)
  assert(code == 0, "chromium --dump-dom " .. url .. " failed (exit " .. tostring(code) .. "): " .. err)
  return out
end

-- selftest(browser, file) -> the decoded JSON of <pre id="selftest">, and the DOM.
function B.selftest(browser, file)
  local dom = B.dump(browser, file, "?selftest")
  local text = dom:match('<pre id="selftest">(.-)</pre>')
  assert(text, "no <pre id=selftest> in the DOM of " .. file .. " (did the page's script run?)")
  text = text:gsub("&quot;", '"'):gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&amp;", "&")
  local r, _, err = json.decode(text)
  assert(r, "selftest JSON: " .. tostring(err))
  return r, dom
end

-- screenshot(browser, file, png, width, height)
function B.screenshot(browser, file, png, width, height)
  local profile = H.tmpdir()
  local _, err, code = H.sh("timeout 120 " .. H.shell_quote(browser) .. " " .. flags(profile)
    .. string.format(" --window-size=%d,%d", width, height)
    .. " --screenshot=" .. H.shell_quote(png) .. " " .. H.shell_quote("file://" .. file))
  H.rmdir(profile)
  assert(code == 0, "chromium --screenshot failed (exit " .. tostring(code) .. "): " .. err)
end

-- png_size(path) -> width, height from the IHDR chunk.
function B.png_size(path)
  local s = H.slurp(path)
  assert(s:sub(1, 8) == "\137PNG\r\n\26\n", path .. " is not a PNG")
  return (">I4"):unpack(s, 17), (">I4"):unpack(s, 21)
end

-- The cells of the table with this id: a list of rows, each {[data-key] =
-- text, [data-key .. "#v"] = the number of its data-v}.
function B.table_rows(dom, id)
  local t = dom:match('<table id="' .. id .. '".-</table>')
  assert(t, "no table#" .. id .. " in the DOM")
  local rows = {}
  for body in t:match("<tbody>(.-)</tbody>"):gmatch("<tr>(.-)</tr>") do
    local row = {}
    for key, attrs, text in body:gmatch('<td data%-key="([^"]*)"([^>]*)>(.-)</td>') do
      row[key] = text:gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&amp;", "&")
      row[key .. "#v"] = tonumber(attrs:match('data%-v="([^"]*)"'))
    end
    rows[#rows + 1] = row
  end
  return rows
end

return B
