-- sgen.report.live: the report.html of a run folder kept up to date while
-- the run trains. sgen.util.log calls update(dir) after each row it writes
-- to a metrics.csv; `sgen run` calls finish_all(status) when the script ends
-- (the page loses its refresh and shows "done", "interrupted" or "stopped by
-- an error").
--
--   live.update("runs/x")        -- rewrites runs/x/report.html if it is time
--   live.finish_all("done")      -- every folder updated so far, final page
--
-- When: at the first row, then once at least max(MIN_INTERVAL, COST_RATIO x
-- the last rewrite's own duration) seconds have passed: the rewrites cost at
-- most 1 / COST_RATIO = 1 % of the run's wall time, whatever the iteration
-- time or the size of the folder. Images are linked (the page sits in the
-- run folder), not embedded, so a rewrite reads no image. The page is
-- written atomically (sgen.report.write: a temporary file renamed), with a
-- <meta refresh>. A failure to write it warns once on stderr and never stops
-- the training. SGEN_LIVE_REPORT=0 turns it off.
--
-- The folders seen so far are kept in this module (a table per Lua state):
-- finish_all needs them, and the training code owns no object that lives
-- until the script's end.
local report = require "sgen.report"
local time = require "sgen.util.time"

local M = {}

M.MIN_INTERVAL = 5   -- seconds between rewrites at the least
M.COST_RATIO = 100   -- seconds of training per second of rewriting, at the least
M.REFRESH = 10       -- the page's own reload period (seconds) while running

local folders = {}   -- dir -> {last = clock at the last rewrite, cost = its seconds}
local order = {}     -- dirs in the order first seen
local warned = false

function M.enabled() return os.getenv("SGEN_LIVE_REPORT") ~= "0" end

local function rewrite(dir, status)
  local st = folders[dir]
  local t0 = time.clock()
  local ok, err = pcall(report.write, dir .. "/report.html", {dir}, {images = "link", lenient = true,
    refresh = status == nil and M.REFRESH or nil, status = status})
  local t1 = time.clock()
  st.last, st.cost = t1, t1 - t0
  st.rewrites = (st.rewrites or 0) + 1
  st.seconds = (st.seconds or 0) + (t1 - t0)
  if not ok and not warned then
    warned = true
    io.stderr:write("sgen: warning: cannot write the live report ", dir, "/report.html: ", tostring(err), "\n")
  end
  return ok
end

-- update(dir) -> true when the page was rewritten now.
function M.update(dir)
  if not M.enabled() then return false end
  local st = folders[dir]
  if not st then
    st = {}
    folders[dir] = st
    order[#order + 1] = dir
    return rewrite(dir, nil)
  end
  if time.clock() - st.last < math.max(M.MIN_INTERVAL, M.COST_RATIO * st.cost) then return false end
  return rewrite(dir, nil)
end

-- finish_all(status): the final page of every folder updated so far (no
-- refresh); status is shown for a run without summary.json.
function M.finish_all(status)
  for _, dir in ipairs(order) do rewrite(dir, status or "done") end
  folders, order = {}, {}
end

-- stats(dir) -> {rewrites =, seconds =} for the overhead check.
function M.stats(dir)
  local st = folders[dir]
  return st and {rewrites = st.rewrites or 0, seconds = st.seconds or 0} or nil
end

return M
