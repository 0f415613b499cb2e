-- sgen.util.tables: small table helpers the library shares.
--   tables.sorted_keys(t) -> the keys of t in a fixed order: numbers
--   ascending, then strings ascending, then other types grouped by type
--   name (so state dicts, checkpoints and reports list their entries the
--   same way on every run, whatever the hash order).
local M = {}

local function before(x, y)
  local tx, ty = type(x), type(y)
  if tx == ty and (tx == "number" or tx == "string") then return x < y end
  return tx < ty
end

function M.sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, before)
  return ks
end

return M
