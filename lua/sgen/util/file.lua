-- sgen.util.file: crash-safe whole-file writes for the Lua library (JSON,
-- SVG, rewritten CSV). file.write(path, text, fname) writes through the
-- engine's sg_write_file_atomic: a temp file next to path, fsync, rename,
-- so a kill at any moment leaves the old or the new file, never a cut one,
-- and a full disk is an error instead of a truncated file. Errors name
-- `fname` (the public function writing, e.g. "sgen.util.json.write").
local core = require "sgen.core"

local M = {}

function M.write(path, text, fname, level)
  local ok, err = pcall(core.write_file, path, text)
  if not ok then
    err = tostring(err):gsub("^sgen%.write_file: ", "")
    error((fname or "sgen.util.file.write") .. ": " .. err, (level or 1) + 1)
  end
  return path
end

return M
