-- sgen.nn: modules with PyTorch's layers, default initializations and
-- state_dict names. See docs/lua-api.md, section sg.nn.
--   local nn = require("sgen").nn
--   local Net = nn.Module:extend("Net")
local M = require "sgen.nn.module"

local nn = {
  Module = M.Module,
  Parameter = M.Parameter,
  init = require "sgen.nn.init_fns",
  utils = require "sgen.nn.utils", -- clip_grad_norm_, spectral_norm, ...
}

for _, file in ipairs({"linear", "conv", "norm", "activation", "pooling", "misc", "container",
                       "embedding", "loss", "ddp"}) do
  for k, v in pairs(require("sgen.nn." .. file)) do
    if k:sub(1, 1) ~= "_" then nn[k] = v end
  end
end

-- The sparsity layers live with the projections (lua/sgen/sparse/layers.lua).
for k, v in pairs(require "sgen.sparse.layers") do nn[k] = v end
for k, v in pairs(require "sgen.nn.csc") do nn[k] = v end -- nn.CSC, nn.CSCDecoder
for k, v in pairs(require "sgen.nn.sastm") do nn[k] = v end -- nn.SASTM (Self-Sparse GAN)

return nn
