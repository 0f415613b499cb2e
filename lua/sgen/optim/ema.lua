-- sg.optim.EMA(model, {decay = 0.999}): an exponential moving average of a
-- model's weights, as timm's ModelEmaV2 (see docs/decisions.md):
--   ema.module           a deep copy of the model (model:clone()) in eval mode
--                        whose parameters do not require grad; call it to evaluate
--   ema:update([model])  every floating entry of the state_dict (parameters and
--                        buffers such as BatchNorm's running stats):
--                        e <- e + (1 - decay) (p - e); integer buffers copied
--   ema:copy_to(model)   loads the averaged weights into model
--   ema:state_dict()     the averaged weights, PyTorch names (loadable into the
--                        model); ema:load_state_dict(sd) restores them
local U = require "sgen.nn.util"

local EMA = {}
EMA.__index = EMA
EMA.__name = "EMA"

local NAME = "optim.EMA"

local function check_model(what, m)
  if not U.is_module(m) then U.fail(NAME, "%s expected a module, got %s", what, U.typename(m)) end
  return m
end

local FLOAT = {float32 = true, float64 = true, float16 = true, bfloat16 = true}

local function new(model, opts)
  check_model("model", model)
  local o = U.opts(NAME, opts, {"decay"})
  local decay = o.decay == nil and 0.999 or o.decay
  if type(decay) ~= "number" or decay < 0 or decay > 1 then
    U.fail(NAME, "option 'decay' must be a number in [0, 1], got %s", tostring(decay))
  end
  local m = model:clone():eval()
  for _, p in ipairs(m:parameters()) do
    p.grad = nil
    p:requires_grad_(false)
  end
  return setmetatable({module = m, decay = decay, model = model, num_updates = 0}, EMA)
end

-- The (averaged, source) state_dict pairs, checked to have the same names.
local function pairs_of(self, model, what)
  local a, b = self.module:state_dict(), model:state_dict()
  local out = {}
  for k, e in pairs(a) do
    local p = b[k]
    if p == nil then U.fail(NAME, "%s: the model has no entry '%s'", what, k) end
    out[#out + 1] = {e, p}
  end
  return out
end

function EMA:update(model)
  model = check_model("update: model", model or self.model)
  local d = self.decay
  U.no_grad(function()
    for _, e in ipairs(pairs_of(self, model, "update")) do
      local avg, p = e[1], e[2]
      if FLOAT[avg:dtype()] then
        avg:copy_(avg + (p:to({dtype = avg:dtype(), device = avg:device()}) - avg) * (1 - d))
      else
        avg:copy_(p)
      end
    end
  end)
  self.num_updates = self.num_updates + 1
  return self
end

function EMA:copy_to(model)
  check_model("copy_to: model", model)
  model:load_state_dict(self.module:state_dict())
  return model
end

function EMA:state_dict() return self.module:state_dict() end

function EMA:load_state_dict(sd)
  self.module:load_state_dict(sd)
  return self
end

function EMA:__tostring()
  return string.format("EMA(decay=%s, updates=%d)", U.pyfloat(self.decay), self.num_updates)
end

return setmetatable(EMA, {__call = function(_, model, opts) return new(model, opts) end})
