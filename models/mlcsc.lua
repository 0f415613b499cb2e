-- The ML-CSC generator of Ganz & Elad (two dictionaries as the last layers:
-- D2 = ConvT 3x3 ngf -> ngf, D1 = ConvT 4x4 stride 2 ngf -> nc, effective
-- atoms D1 D2 of nc x 8 x 8). It lives in models/dcgan.lua, whose G_S it
-- shares; this module is the name docs/ARCHITECTURE.md lists:
--   local G = require("models.mlcsc").Generator({ngf = 128, sparsity = "l0inf", k = 8})
local dcgan = require "models.dcgan"
return {Generator = dcgan.MLCSCGenerator}
