-- Deep Image Prior's "skip" hourglass (Ulyanov et al., denoising setup), with
-- the sparsity constraints of Ganz & Elad (paper 000, §4 and Figure 5) on
-- every encoder representation Γ1..ΓK.
--
--   local UNetDIP = require "models.unet_dip"
--   local net = UNetDIP({sparsity = {kind = "l0inf", k = 16}})
--   local out = net(z)                 -- N x 3 x H x W in (0, 1), H, W >= (kernel // 2) * 2^scales + 1
--   local out, codes = net(z, {})      -- codes[i] = Γi (after the projection)
--
-- Per scale i (input x with c_in channels, H x W):
--   skip   = Conv1x1(c_in -> skip) - BN - LReLU
--   Γi     = project( Conv3x3/2(c_in -> ch) - BN - LReLU - Conv3x3(ch -> ch) - BN - LReLU )
--   deeper = Upsample x2 (bilinear) of [scale i+1 applied to Γi]   (or of Γi at the last scale)
--   out    = BN(concat(skip, deeper)) - Conv3x3(skip+ch -> ch) - BN - LReLU - Conv1x1(ch -> ch) - BN - LReLU
-- then a head Conv1x1(ch -> out_channels) - Sigmoid. Reflection padding
-- precedes every 3x3 conv (the convs themselves pad nothing), as in DIP.
-- Odd sizes: the stride-2 conv gives ceil(H/2); the upsampled tensor is
-- centre-cropped to the skip's size before the concat.
--
-- Options (all sizes configurable): in_channels = 32, out_channels = 3,
-- channels = 128 (a number, or a list with one entry per scale), skip = 4,
-- scales = 5, kernel = 3, slope = 0.2 (LeakyReLU), upsample = "bilinear",
-- sparsity = {kind = "none" | "l0" | "l0inf", k = 16}.
-- The projection: "l0inf" keeps k channels per needle (sample and position)
-- of Γi; "l0" keeps per sample the same number of entries, k·H·W of Γi's
-- C·H·W (a fraction k/C), placed freely — the same budget as l0inf, so the
-- two compare at equal sparsity.
local sg = require "sgen"
local nn = sg.nn

local function fail(fmt, ...) error(string.format("models.unet_dip: " .. fmt, ...), 0) end

local function conv(cin, cout, k, stride)
  local pad = (k - 1) // 2
  local conv_layer = nn.Conv2d(cin, cout, k, {stride = stride or 1, padding = 0})
  if pad == 0 then return {conv_layer} end
  return {nn.ReflectionPad2d(pad), conv_layer}
end

local function seq(...)
  local mods = {}
  for _, group in ipairs({...}) do
    for _, m in ipairs(group) do mods[#mods + 1] = m end
  end
  return nn.Sequential(table.unpack(mods))
end

local function bn_act(c, slope)
  return {nn.BatchNorm2d(c), nn.LeakyReLU(slope)}
end

local function projection(cfg, channels)
  if type(cfg) ~= "table" then
    fail("sparsity must be a table {kind = ..., k = ...}, got %s", type(cfg))
  end
  for key in pairs(cfg) do
    if key ~= "kind" and key ~= "k" then
      fail("unknown sparsity option '%s' (expected k, kind)", tostring(key))
    end
  end
  local kind = cfg.kind or "none"
  if kind ~= "none" and kind ~= "l0" and kind ~= "l0inf" then
    fail("sparsity.kind must be \"none\", \"l0\" or \"l0inf\", got %s", tostring(kind))
  end
  if kind == "none" then return nn.Identity() end
  local k = cfg.k
  if math.type(k) ~= "integer" or k < 1 or k > channels then
    fail("sparsity.k must be an integer in 1..%d (the channels of Γ), got %s", channels, tostring(k))
  end
  if kind == "l0inf" then return sg.sparse.L0InfProject(k) end
  return sg.sparse.L0Project(k / channels)
end

-- One scale of the hourglass; holds the next scale as a child.
local Level = nn.Module:extend("DIPLevel")

function Level:init(cin, cfg, i)
  local ch, k, slope = cfg.channels[i], cfg.kernel, cfg.slope
  self.skip = seq(conv(cin, cfg.skip, 1), bn_act(cfg.skip, slope))
  self.down = seq(conv(cin, ch, k, 2), bn_act(ch, slope), conv(ch, ch, k), bn_act(ch, slope))
  self.project = projection(cfg.sparsity, ch)
  local deeper_ch = ch
  if i < cfg.scales then
    self.inner = Level(ch, cfg, i + 1)
    deeper_ch = cfg.channels[i + 1]
  end
  self.up = nn.Upsample({scale_factor = 2, mode = cfg.upsample})
  self.merge = seq({nn.BatchNorm2d(cfg.skip + deeper_ch)}, conv(cfg.skip + deeper_ch, ch, k),
    bn_act(ch, slope), conv(ch, ch, 1), bn_act(ch, slope))
end

local function centre_crop(t, h, w)
  local th, tw = t:size(3), t:size(4)
  if th == h and tw == w then return t end
  return t:narrow(3, (th - h) // 2 + 1, h):narrow(4, (tw - w) // 2 + 1, w)
end

function Level:forward(x, codes)
  local s = self.skip(x)
  local g = self.project(self.down(x))
  if codes then codes[#codes + 1] = g end
  local d = g
  if self.inner then d = self.inner(g, codes) end
  d = self.up(d)
  local h, w = s:size(3), s:size(4)
  if d:size(3) < h or d:size(4) < w then
    fail("internal: upsampled %dx%d smaller than the skip %dx%d", d:size(3), d:size(4), h, w)
  end
  return self.merge(sg.cat({s, centre_crop(d, h, w)}, 2))
end

local UNetDIP = nn.Module:extend("UNetDIP")

local defaults = {in_channels = 32, out_channels = 3, channels = 128, skip = 4, scales = 5,
  kernel = 3, slope = 0.2, upsample = "bilinear", sparsity = {kind = "none"}}

function UNetDIP:init(opts)
  opts = opts or {}
  if type(opts) ~= "table" then fail("expected an options table, got %s", type(opts)) end
  local cfg = {}
  for key, v in pairs(defaults) do cfg[key] = v end
  for key, v in pairs(opts) do
    if defaults[key] == nil then
      local names = {}
      for n in pairs(defaults) do names[#names + 1] = n end
      table.sort(names)
      fail("unknown option '%s' (expected %s)", tostring(key), table.concat(names, ", "))
    end
    cfg[key] = v
  end
  if math.type(cfg.scales) ~= "integer" or cfg.scales < 1 then
    fail("scales must be a positive integer, got %s", tostring(cfg.scales))
  end
  if type(cfg.channels) == "number" then
    local c = {}
    for i = 1, cfg.scales do c[i] = cfg.channels end
    cfg.channels = c
  elseif type(cfg.channels) ~= "table" or #cfg.channels ~= cfg.scales then
    fail("channels must be a number or a list of %d numbers (one per scale)", cfg.scales)
  end
  if math.type(cfg.kernel) ~= "integer" or cfg.kernel < 1 or cfg.kernel % 2 ~= 1 then
    fail("kernel must be an odd positive integer, got %s", tostring(cfg.kernel))
  end
  self.config = cfg
  self.body = Level(cfg.in_channels, cfg, 1)
  self.head = seq(conv(cfg.channels[1], cfg.out_channels, 1), {nn.Sigmoid()})
end

-- net(z) -> image; net(z, codes) also appends Γ1..ΓK to the list `codes`.
function UNetDIP:forward(z, codes)
  if z:dim() ~= 4 then
    fail("input has %d dims (%s), expected 4 (N x C x H x W)", z:dim(), table.concat(z:shape(), "x"))
  end
  if z:size(2) ~= self.config.in_channels then
    fail("input has %d channels, expected %d (in_channels)", z:size(2), self.config.in_channels)
  end
  -- Reflection padding p needs every 3x3 conv's input larger than p; the
  -- smallest is the last scale's, ceil(H / 2^scales).
  local pad, scales = (self.config.kernel - 1) // 2, self.config.scales
  local min_size = pad * (1 << scales) + 1
  if z:size(3) < min_size or z:size(4) < min_size then
    fail("input is %s, too small for %d scale%s with %dx%d kernels: height and width must be at "
      .. "least %d (reflection padding)", table.concat(z:shape(), "x"), scales,
      scales == 1 and "" or "s", self.config.kernel, self.config.kernel, min_size)
  end
  return self.head(self.body(z, codes))
end

function UNetDIP:extra_repr()
  local c = self.config
  return string.format("scales=%d, channels=%s, skip=%d, sparsity=%s%s", c.scales,
    table.concat(c.channels, "/"), c.skip, c.sparsity.kind or "none",
    c.sparsity.k and ("(k=" .. c.sparsity.k .. ")") or "")
end

return UNetDIP
