-- The seeds of the fuzz corpora that sgen itself writes (the rest come from
-- fuzz/make_corpus.py): the shipped images, downscaled to 16x16 by sgen's
-- PNG writer (RGB, gray, and RGBA with a made-up alpha), and a checkpoint-like
-- file from sg.save (its metadata holds the JSON entries sg.load decodes).
--
--   build/bin/sgen run fuzz/make_corpus.lua      (from the project root)
local sg = require "sgen"
local F = sg.F

local images = "/work/shared/data/images"
local out = "fuzz/corpus/"

for _, name in ipairs({"astronaut", "baboon", "chelsea", "coffee"}) do
  local img = sg.image.read(images .. "/" .. name .. "_256.png")
  local small = F.interpolate(img:unsqueeze(1), {size = {16, 16}, mode = "bilinear"})[1]
  if name == "astronaut" then
    sg.image.write(out .. "png/shipped_" .. name .. "_gray16x16.png", small:mean(1, true))
  elseif name == "baboon" then
    local alpha = sg.linspace(0, 1, 256):reshape({1, 16, 16})
    sg.image.write(out .. "png/shipped_" .. name .. "_rgba16x16.png", sg.cat({small, alpha}, 1))
  else
    sg.image.write(out .. "png/shipped_" .. name .. "_16x16.png", small)
  end
end

sg.manual_seed(0)
local net = sg.nn.Sequential(sg.nn.Linear(3, 2), sg.nn.ReLU())
local opt = sg.optim.Adam(net:parameters(), {lr = 1e-3})
sg.save(out .. "safetensors/sg_save_checkpoint.safetensors",
        {model = net, opt = opt, step = 7, note = "seed"})
