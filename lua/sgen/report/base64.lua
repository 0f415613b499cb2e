-- sgen.report.base64: base64 of a string, for images embedded as data: URIs.
-- (Debian's lua-basexx ships for Lua 5.1/5.2 only, not for 5.4.)
local M = {}

local ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local CHARS = {}
for i = 1, 64 do CHARS[i - 1] = ALPHABET:sub(i, i) end

function M.encode(s)
  local out, n = {}, #s
  for i = 1, n - 2, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a << 16 | b << 8 | c
    out[#out + 1] = CHARS[v >> 18] .. CHARS[v >> 12 & 63] .. CHARS[v >> 6 & 63] .. CHARS[v & 63]
  end
  local rest = n % 3
  if rest == 1 then
    local v = s:byte(n) << 16
    out[#out + 1] = CHARS[v >> 18] .. CHARS[v >> 12 & 63] .. "=="
  elseif rest == 2 then
    local a, b = s:byte(n - 1, n)
    local v = a << 16 | b << 8
    out[#out + 1] = CHARS[v >> 18] .. CHARS[v >> 12 & 63] .. CHARS[v >> 6 & 63] .. "="
  end
  return table.concat(out)
end

return M
