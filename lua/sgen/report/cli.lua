-- sgen.report.cli: the `sgen report` command line.
--
--   sgen report RUN_DIR... [--out FILE] [--images embed|link|none] [--title TEXT]
--
-- main(args) -> exit status: 0, 1 (a folder or file that cannot be reported:
-- the message names it), 2 (a bad command line). Messages go to stderr.
local report = require "sgen.report"

local M = {}

M.USAGE = [[
usage: sgen report RUN_DIR... [--out FILE] [--images embed|link|none] [--title TEXT]

  One HTML page of a run folder (config, summary, metric curves, images), or,
  for a folder of runs or several folders, a comparison: a sortable table of
  the runs grouped by the options that differ, mean ± std per group, overlaid
  curves per metric, image strips side by side.

  --out FILE      the page (default: RUN_DIR/report.html for one folder,
                  ./report.html for several)
  --images MODE   embed (default: data: URIs, the page stands alone), link
                  (relative links from the page's folder) or none
  --title TEXT    the page's heading
]]

local function usage_error(msg)
  io.stderr:write("sgen report: ", msg, "\n\n", M.USAGE)
  return 2
end

-- parse(args) -> dirs, opts, out | nil, message
function M.parse(args)
  local dirs, opts, out = {}, {}, nil
  local i = 1
  while i <= #args do
    local a = args[i]
    local key, val = a:match("^%-%-([%w-]+)=(.*)$")
    if not key and a:match("^%-%-[%w-]+$") then
      key = a:sub(3)
      if key ~= "help" then
        i = i + 1
        val = args[i]
        if val == nil then return nil, "option --" .. key .. " needs a value" end
      end
    end
    if key == "help" then return nil, nil
    elseif key == "out" then out = val
    elseif key == "images" then
      if val ~= "embed" and val ~= "link" and val ~= "none" then
        return nil, "--images must be embed, link or none, got '" .. val .. "'"
      end
      opts.images = val
    elseif key == "title" then opts.title = val
    elseif key then return nil, "unknown option --" .. key .. " (expected --out, --images, --title)"
    elseif a == "-h" then return nil, nil
    elseif a:sub(1, 1) == "-" and a ~= "-" then return nil, "unknown option " .. a
    else dirs[#dirs + 1] = a end
    i = i + 1
  end
  if #dirs == 0 then return nil, "give at least one run folder" end
  if out == "" then return nil, "--out needs a file name" end
  out = out or (#dirs == 1 and (dirs[1]:gsub("/+$", "") .. "/report.html") or "report.html")
  return dirs, opts, out
end

function M.main(args)
  local dirs, opts, out = M.parse(args)
  if not dirs then
    if opts == nil then
      io.stdout:write(M.USAGE)
      return 0
    end
    return usage_error(opts)
  end
  local ok, err = pcall(function()
    local _, runs = report.write(out, dirs, opts)
    print(string.format("sgen report: %s (%d run%s)", out, #runs, #runs == 1 and "" or "s"))
  end)
  if not ok then
    local msg = tostring(err)
    if not msg:match("^sgen report: ") then msg = "sgen report: " .. msg end
    io.stderr:write(msg, "\n")
    return 1
  end
  return 0
end

return M
