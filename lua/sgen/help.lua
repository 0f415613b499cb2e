-- sgen.help: the REPL's help(), which prints the entry of docs/lua-api.md for a
-- function, a class or a name:
--
--   help(sg.conv2d)     help("conv2d")     help(nn.Linear)     help("x:sum")
--
-- `sgen` finds the reference next to its Lua library (a checkout's
-- docs/lua-api.md, an install's <prefix>/share/doc/sgen/lua-api.md; SGEN_DOCS
-- overrides) and passes its path to help.new.
local help = {}

-- Where a value is found: the tables searched for a function or class, with
-- the prefix the reference writes before its name.
local PLACES = {
  {"F"}, {"nn"}, {"optim"}, {"optim", "lr_scheduler"}, {"sparse"}, {"linalg"}, {"data"},
  {"image"}, {"util"}, {"plot"}, {"metrics"}, {"gan"}, {"train"}, {"cuda"}, {}, {"core"},
  {"core", "Tensor"},
}

local function name_of(sg, v)
  for _, place in ipairs(PLACES) do
    local ok, t = pcall(function()
      local x = sg
      for _, k in ipairs(place) do x = x[k] end
      return x
    end)
    if ok and type(t) == "table" then
      for k, x in pairs(t) do
        if rawequal(x, v) and type(k) == "string" then return k end
      end
    end
  end
  return nil
end

local function read_lines(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local lines = {}
  for l in f:lines() do lines[#lines + 1] = l end
  f:close()
  return lines
end

local function escape(s) return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")) end

-- Index of the first heading naming `name` (as "x.name", "x:name" or the
-- heading's first word), or nil.
local function find_heading(lines, name, qualified)
  local word = escape(name)
  local patterns = {}
  if qualified then patterns[#patterns + 1] = "%f[%w_]" .. escape(qualified) .. "%f[^%w_]" end
  patterns[#patterns + 1] = "[%.:]" .. word .. "%f[^%w_]"
  patterns[#patterns + 1] = "^#+%s+`?" .. word .. "%f[^%w_]"
  local in_code = false
  for _, pat in ipairs(patterns) do
    for i, l in ipairs(lines) do
      if l:match("^```") then in_code = not in_code end
      if not in_code and l:match("^#+%s") and l:match(pat) then return i end
    end
  end
  return nil
end

-- The entry starting at heading i: up to the next heading of the same or a
-- higher level.
local function entry(lines, i)
  local level = #lines[i]:match("^(#+)")
  local out = {lines[i]}
  local in_code = false
  for j = i + 1, #lines do
    local l = lines[j]
    if l:match("^```") then in_code = not in_code end
    local h = not in_code and l:match("^(#+)%s")
    if h and #h <= level then break end
    out[#out + 1] = l
  end
  while #out > 1 and out[#out]:match("^%s*$") do out[#out] = nil end
  return table.concat(out, "\n")
end

-- help.new(docs_path, [write]) -> the function help(x)
function help.new(docs_path, write)
  write = write or function(s) io.stdout:write(s) end
  return function(...)
    local n = select("#", ...)
    local x = ...
    if n == 0 then
      write("help(f) or help(\"name\") prints the entry of the API reference (" .. tostring(docs_path)
            .. ") for a function, a class or a name: help(sg.conv2d), help(\"conv2d\"), "
            .. "help(nn.Linear), help(\"x:sum\").\n")
      return
    end
    local name, qualified
    if type(x) == "string" then
      qualified = x:gsub("^sgen%.", "sg.")
      name = x:match("([%w_]+)%s*%(?%)?$") or x
      if qualified == name then qualified = nil end
    else
      local sg = require "sgen"
      name = name_of(sg, x)
      if name == nil then
        write("help: no sgen function or class is this " .. type(x)
              .. " (try help(\"name\"))\n")
        return
      end
    end
    local lines = read_lines(docs_path)
    if lines == nil then
      write("help: the API reference is not installed (no " .. tostring(docs_path) .. "); "
            .. "set SGEN_DOCS to a copy of docs/lua-api.md, or read it online in the sgen "
            .. "sources\n")
      return
    end
    local i = find_heading(lines, name, qualified)
    if i == nil then
      write("help: no entry for '" .. name .. "' in " .. docs_path .. "\n")
      return
    end
    write(entry(lines, i) .. "\n")
  end
end

return help
