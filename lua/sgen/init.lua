-- sgen: tensors, autograd and sparse generative models from Lua.
local core = require "sgen.core"

local sg = {}
for k, v in pairs(core) do sg[k] = v end

return sg
