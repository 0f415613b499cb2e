-- CSC-CTRL (Dai et al., "Closed-Loop Transcription via Convolutional Sparse
-- Coding", paper 004) and its plain CTRL baseline: an encoder f (images ->
-- features on the unit sphere) and a decoder g (features -> images).
--
--   local csc_ctrl = require "models.csc_ctrl"
--   local net  = csc_ctrl.CSCCTRL({nc = 3, image_size = 32, width = 1})   -- CIFAR-10 (Tables 2/3)
--   local fm   = csc_ctrl.CSCCTRL({nc = 1})                               -- Fashion-MNIST padded to 32x32
--   local base = csc_ctrl.CTRL({nc = 3})                                  -- same shapes, conv / conv-transpose
--   local Z  = net.f(x)          -- N x nc x S x S -> N x nz, rows of unit l2 norm
--   local xh = net.g(Z)          -- N x nz (or N x nz x 1 x 1) -> N x nc x S x S in (-1, 1)
--   -- the game: require("sgen.ctrl").Game(net.f, net.g, {...})
--
-- Layers (4x4 kernels; c = round(64·width); S = 32):
--   f: CSC(nc -> c,   s2 p1)  32 -> 16   LeakyReLU(0.2)          (no BN, Table 3)
--      CSC(c -> 2c,   s2 p1)  16 -> 8    BN LeakyReLU(0.2)
--      CSC(2c -> 4c,  s2 p1)   8 -> 4    BN LeakyReLU(0.2)
--      CSC(4c -> nz,  s1 p0)   4 -> 1    (nz = 8c unless given) -> flatten -> unit rows
--   g: the same dictionaries in reverse order (nn.CSCDecoder: conv_transpose2d with
--      the encoder's very weight; Table 2):
--      CSC-inv(nz -> 4c) 1 -> 4  BN ReLU, CSC-inv(4c -> 2c) 4 -> 8  BN ReLU,
--      CSC-inv(2c -> c)  8 -> 16 BN ReLU, CSC-inv(c -> nc) 16 -> 32 Tanh
-- image_size = 64 (Tables 4/5, STL-10 / ImageNet): one more stride-2 stage
-- (c, 2c, 4c, 8c at 32, 16, 8, 4 pixels, then nz = 16c at 1x1, BN LeakyReLU
-- after every CSC but the first and the last). The printed tables do not
-- compose (stride 2 pad 0 on 8x8 gives 3x3, which a 4x4 stride-1 layer cannot
-- take; the decoder would make 80x80): the 4th layer is read as pad 1
-- (docs/decisions.md).
--
-- The features are normalized here, in f (CTRL's encoder does F.normalize):
-- g receives unit vectors, and the game calls F.rate_reduction with
-- normalize = false.
--
-- CTRL baseline: the same shapes with nn.Conv2d (f) and unshared
-- nn.ConvTranspose2d (g), bias-free, DCGAN's init (N(0, 0.02) weights, BN
-- weights N(1, 0.02)); the CSC layers keep their own init (PyTorch's conv
-- init, then unit-norm atoms) and BN PyTorch's defaults.
--
-- Both models: net.f, net.g (children; parameters() lists the shared
-- dictionaries once; state_dict names them under f and g both, like
-- PyTorch), f:forward(x, {detach_dictionary = true}) (CSC layers solve with
-- the detached dictionary: Strategy 1's min step; ignored by the baseline),
-- net:dictionaries() (CSCCTRL: the CSC layers' weights, first layer first),
-- net:set_lambda(l) (every CSC layer's λ, e.g. for denoising at inference,
-- Table 8), net.csc_layers.
local sg = require "sgen"
local nn = sg.nn
local dcgan = require "models.dcgan"

local M = {}

local function fail(fmt, ...) error(string.format("models.csc_ctrl: " .. fmt, ...), 0) end

local function shape_str(t) return table.concat(t:shape(), "x") end

local SPEC = {
  nc = "int", image_size = "size", width = "width", nz = "int",
  -- CSC layers only
  lambda = "lambda", iters = "int", algorithm = "algorithm", refresh_every = "int",
  power_iters = "int", normalize = "bool",
}
local CSC_ONLY = {lambda = true, iters = true, algorithm = true, refresh_every = true,
                  power_iters = true, normalize = true}

local function options(name, opts, csc)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then fail("%s: expected an options table, got %s", name, type(opts)) end
  local names = {}
  for k in pairs(SPEC) do if csc or not CSC_ONLY[k] then names[#names + 1] = k end end
  table.sort(names)
  for k, v in pairs(opts) do
    local kind = SPEC[k]
    if kind == nil or (CSC_ONLY[k] and not csc) then
      fail("%s: unknown option '%s' (expected %s)", name, tostring(k), table.concat(names, ", "))
    end
    local ok
    if kind == "int" then ok = math.type(v) == "integer" and v >= 1
    elseif kind == "size" then ok = v == 32 or v == 64
    elseif kind == "width" then ok = type(v) == "number" and v > 0 and v < math.huge
    elseif kind == "lambda" then ok = type(v) == "number" and v >= 0 and v < math.huge
    elseif kind == "algorithm" then ok = v == "fista" or v == "ista"
    elseif kind == "bool" then ok = type(v) == "boolean" end
    if not ok then
      local want = ({int = "a positive integer", size = "32 or 64", width = "a positive number",
        lambda = "a number >= 0", algorithm = '"fista" or "ista"', bool = "a boolean"})[kind]
      fail("%s: option '%s' must be %s, got %s", name, k, want,
        type(v) == "string" and ('"' .. v .. '"') or tostring(v))
    end
  end
  local c = math.floor(64 * (opts.width or 1) + 0.5)
  if c < 1 then fail("%s: option 'width' %s gives %d channels (64·width must round to >= 1)",
    name, tostring(opts.width), c) end
  local size = opts.image_size or 32
  local cfg = {
    nc = opts.nc or 3, image_size = size, width = opts.width or 1, base = c,
    lambda = opts.lambda == nil and 0.01 or opts.lambda, iters = opts.iters or 2,
    algorithm = opts.algorithm or "fista", refresh_every = opts.refresh_every or 2,
    power_iters = opts.power_iters or 50, normalize = opts.normalize ~= false,
  }
  -- the layers: {in, out, stride, padding, bn_after, act_after}
  local ch = size == 32 and {c, 2 * c, 4 * c} or {c, 2 * c, 4 * c, 8 * c}
  cfg.nz = opts.nz or 2 * ch[#ch]
  local layers, cin = {}, cfg.nc
  for i, co in ipairs(ch) do
    layers[i] = {cin, co, 2, 1, i > 1}
    cin = co
  end
  layers[#layers + 1] = {cin, cfg.nz, 1, 0, false}
  cfg.layers = layers
  return cfg
end

-- forward option {detach_dictionary = bool}
local function detach_opt(name, opts)
  if opts == nil then return nil end
  if type(opts) ~= "table" then
    fail("%s: forward: argument 2 expected an options table ({detach_dictionary = true}), got %s",
      name, type(opts))
  end
  for k in pairs(opts) do
    if k ~= "detach_dictionary" then
      fail("%s: forward: unknown option '%s' (expected detach_dictionary)", name, tostring(k))
    end
  end
  if opts.detach_dictionary ~= nil and type(opts.detach_dictionary) ~= "boolean" then
    fail("%s: forward: option 'detach_dictionary' must be a boolean, got %s", name,
      type(opts.detach_dictionary))
  end
  return opts.detach_dictionary and {detach_dictionary = true} or nil
end

local function normalize_rows(Z)
  return Z / Z:norm(2, -1, true):clamp(1e-12)
end

-- ---------------------------------------------------------------- encoder
-- main: the layers in order (CSC or Conv2d, then BN and LeakyReLU where the
-- table has them); forward flattens the 1x1 output and normalizes the rows.
local Encoder = nn.Module:extend("CTRLEncoder")

function Encoder:init(cfg, kind)
  self.nc, self.image_size, self.nz, self.kind = cfg.nc, cfg.image_size, cfg.nz, kind
  local mods = {}
  local n = #cfg.layers
  for i, L in ipairs(cfg.layers) do
    local cin, cout, s, p, bn = L[1], L[2], L[3], L[4], L[5]
    if kind == "csc" then
      mods[#mods + 1] = nn.CSC(cin, cout, 4, {stride = s, padding = p, lambda = cfg.lambda,
        iters = cfg.iters, algorithm = cfg.algorithm, refresh_every = cfg.refresh_every,
        power_iters = cfg.power_iters, normalize = cfg.normalize})
    else
      mods[#mods + 1] = nn.Conv2d(cin, cout, 4, {stride = s, padding = p, bias = false})
    end
    if i < n then
      if bn then mods[#mods + 1] = nn.BatchNorm2d(cout) end
      mods[#mods + 1] = nn.LeakyReLU(0.2)
    end
  end
  self.main = nn.Sequential(table.unpack(mods))
end

-- f(x, [{detach_dictionary = true}]) -> N x nz unit rows
function Encoder:forward(x, opts)
  local o = detach_opt("encoder", opts)
  local S = self.image_size
  if x:dim() ~= 4 or x:size(2) ~= self.nc or x:size(3) ~= S or x:size(4) ~= S then
    fail("encoder: input is %s, expected N x %d x %d x %d", shape_str(x), self.nc, S, S)
  end
  local h = x
  local m = self.main
  for i = 1, #m do
    local layer = m[i]
    if o and self.kind == "csc" and getmetatable(layer).__name == "CSC" then
      h = layer(h, o)
    else
      h = layer(h)
    end
  end
  return normalize_rows(h:flatten(2))
end

-- ---------------------------------------------------------------- decoder
local Decoder = nn.Module:extend("CTRLDecoder")

-- enc: the encoder (CSCCTRL: its CSC layers give the dictionaries)
function Decoder:init(cfg, kind, enc)
  self.nc, self.image_size, self.nz = cfg.nc, cfg.image_size, cfg.nz
  local mods = {}
  local n = #cfg.layers
  local csc = {}
  if kind == "csc" then
    for i = 1, #enc.main do
      local l = enc.main[i]
      if getmetatable(l).__name == "CSC" then csc[#csc + 1] = l end
    end
  end
  for i = n, 1, -1 do
    local L = cfg.layers[i]
    local cin, cout, s, p = L[1], L[2], L[3], L[4]
    if kind == "csc" then
      mods[#mods + 1] = nn.CSCDecoder(csc[i])
    else
      mods[#mods + 1] = nn.ConvTranspose2d(cout, cin, 4, {stride = s, padding = p, bias = false})
    end
    if i > 1 then
      mods[#mods + 1] = nn.BatchNorm2d(cin)
      mods[#mods + 1] = nn.ReLU()
    else
      mods[#mods + 1] = nn.Tanh()
    end
  end
  self.main = nn.Sequential(table.unpack(mods))
end

-- g(Z) -> N x nc x S x S; Z: N x nz or N x nz x 1 x 1
function Decoder:forward(z)
  if z:dim() == 2 then z = z:view(z:size(1), z:size(2), 1, 1) end
  if z:dim() ~= 4 or z:size(2) ~= self.nz or z:size(3) ~= 1 or z:size(4) ~= 1 then
    fail("decoder: input is %s, expected N x %d (or N x %d x 1 x 1)", shape_str(z), self.nz, self.nz)
  end
  return self.main(z)
end

-- ---------------------------------------------------------------- the models
local function make(cls_name, kind)
  local Net = nn.Module:extend(cls_name)
  function Net:init(opts)
    local cfg = options(cls_name, opts, kind == "csc")
    self.nc, self.image_size, self.nz, self.width = cfg.nc, cfg.image_size, cfg.nz, cfg.width
    self.kind = kind
    local f = Encoder(cfg, kind)
    self.f = f
    self.g = Decoder(cfg, kind, f)
    if kind == "conv" then self:apply(dcgan.init_weights) end
    local layers = {}
    if kind == "csc" then
      for i = 1, #f.main do
        if getmetatable(f.main[i]).__name == "CSC" then layers[#layers + 1] = f.main[i] end
      end
    end
    self.csc_layers = layers
  end
  -- net(x) -> Z, X̂ = g(Z), Ẑ = f(X̂)  (the closed loop; the game does its own passes)
  function Net:forward(x)
    local Z = self.f(x)
    local xh = self.g(Z)
    return Z, xh, self.f(xh)
  end
  function Net:encoder_parameters() return self.f:parameters() end
  function Net:decoder_parameters() return self.g:parameters() end
  function Net:dictionaries()
    local out = {}
    for i, l in ipairs(self.csc_layers) do out[i] = l.weight end
    return out
  end
  function Net:set_lambda(lambda)
    if kind ~= "csc" then fail("%s: set_lambda: the CTRL baseline has no CSC layers", cls_name) end
    if type(lambda) ~= "number" or not (lambda >= 0) then
      fail("%s: set_lambda: lambda must be a number >= 0, got %s", cls_name, tostring(lambda))
    end
    for _, l in ipairs(self.csc_layers) do l.lambda = lambda end
    return self
  end
  return Net
end

M.CSCCTRL = make("CSCCTRL", "csc")
M.CTRL = make("CTRL", "conv")
M.Encoder, M.Decoder = Encoder, Decoder

return M
