-- sgen: tensors, autograd and sparse generative models from Lua.
--   local sg = require "sgen"
-- The C core (sgen.core) provides tensors and ops; the Lua submodules
-- (sg.nn, sg.optim, sg.data, ...) load on first use so that `sgen` and
-- `require "sgen"` start fast.
local core = require "sgen.core"

local sg = {}
for k, v in pairs(core) do sg[k] = v end
sg.core = core
-- x:add_(y), x:mul_(2), x:exp_(), ... (autograd-aware in-place methods)
require("sgen.inplace").install()
-- sg.save / sg.load also take modules, optimizers and plain values (sgen.io);
-- tables of tensors go straight to sgen.core.save / load as before
local sgio = require "sgen.io"
sg.save, sg.load = sgio.save, sgio.load

-- Tensor functions written in Lua on top of the core's ops (sgen.tensorfns):
-- module functions sg.<name> and tensor methods x:<name>(...).
do
  local fns = require "sgen.tensorfns"
  local methods = core.Tensor
  for name, f in pairs(fns) do
    sg[name] = f
    if name ~= "einsum" then methods[name] = f end
  end
  methods["repeat"] = fns.repeat_tensor -- x["repeat"](x, 2, 3): `repeat` is a Lua keyword
end

-- name in `sg` -> module to require on first access
local lazy = {
  F = "sgen.F",
  autograd = "sgen.autograd",
  nn = "sgen.nn",
  optim = "sgen.optim",
  data = "sgen.data",
  image = "sgen.image",
  plot = "sgen.plot",
  util = "sgen.util",
  sparse = "sgen.sparse",
  metrics = "sgen.metrics",
  train = "sgen.train",
  gan = "sgen.gan",
  ctrl = "sgen.ctrl",
  dist = "sgen.dist",
}

return setmetatable(sg, {
  __index = function(t, k)
    local name = lazy[k]
    if name == nil then return nil end
    local m = require(name)
    rawset(t, k, m)
    return m
  end,
})
