-- The check function of the fuzz_json harness (fuzz/fuzz_json.c): the
-- input, as text, goes to each Lua-side JSON reader of outside bytes:
--   sgen.util.json.decode      config.json / summary.json / logs (dkjson)
--   sgen.optim.state_io.json_decode   safetensors metadata read by sg.load
--                              and by checkpoints (latest.json)
--   sgen.train.resume_options  --resume=DIR reading DIR/config.json (for
--                              the texts json.decode accepts and one in four
--                              of the others)
--
-- Accepted outcomes: a value, or the clean error each reader promises (its
-- own prefix naming the reader and what was wrong). A decoded value must
-- encode and decode again (a config read back can be written back). A
-- resumed option keeps its declared type. Anything else raises: a finding.
--
-- sgen.optim.state_io loads sgen.optim.optimizer, which requires the C
-- module sgen.core for its training steps only; the JSON decoder touches no
-- tensor, so a stand-in spares the harness the whole engine (is_tensor: the
-- argument checks of sgen.util.check ask it of every options table).
package.preload["sgen.core"] = function() return {is_tensor = function() return false end} end

local json = require "sgen.util.json"
local state_io = require "sgen.optim.state_io"
local options = require "sgen.train.options"

local dir = assert(FUZZ_SCRATCH, "FUZZ_SCRATCH not set")
local config = dir .. "/config.json"

local function expect_error(ok, err, prefix, what)
  if ok then return end
  if type(err) ~= "string" or err:sub(1, #prefix) ~= prefix then
    error(what .. " raised an error without its prefix '" .. prefix .. "': " .. tostring(err), 0)
  end
end

local DEFAULTS = {iters = 100, lr = 1e-3, out = "x", verbose = true, name = "run"}

return function(s)
  -- 1. sgen.util.json
  local ok, v = pcall(json.decode, s)
  expect_error(ok, v, "sgen.util.json.decode: ", "json.decode")
  if ok then
    local eok, s2 = pcall(json.encode, v)
    if not eok then error("json.encode of a decoded value failed: " .. tostring(s2), 0) end
    local dok, err = pcall(json.decode, s2)
    if not dok then error("json.decode of a re-encoded value failed: " .. tostring(err), 0) end
  end

  -- 2. the metadata decoder of sg.load and checkpoints
  local mok, mv = pcall(state_io.json_decode, s, "metadata 'x'", "sgen.load")
  expect_error(mok, mv, "sgen.load: metadata 'x' is not valid JSON (", "state_io.json_decode")

  -- 3. --resume reading a run's config.json: for the texts json.decode
  -- accepts and one in four of the others (the file write and two opens
  -- would otherwise cost more than the parsing; the error path only
  -- rewrites json.decode's message)
  if not ok and #s % 4 ~= 0 then return end
  local f = assert(io.open(config, "wb"))
  f:write(s)
  f:close()
  local opts, given = {}, {}
  for k, d in pairs(DEFAULTS) do opts[k] = d end
  local rok, saved = pcall(options.resume_options, opts, given, dir)
  expect_error(rok, saved, "sgen: --resume=" .. dir .. ": cannot read " .. config .. ": ",
               "resume_options")
  if rok then
    if type(saved) ~= "table" then error("resume_options returned a " .. type(saved), 0) end
    for k, d in pairs(DEFAULTS) do
      if math.type(opts[k]) ~= math.type(d) and type(opts[k]) ~= type(d) then
        error("resume_options set option " .. k .. " to a " .. type(opts[k]), 0)
      end
    end
  end
end
