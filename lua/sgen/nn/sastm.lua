-- nn.SASTM: the Self-Adaptive Sparse Transform Module of Self-Sparse GAN
-- (Qian, Xu, Zuo, Li, "Self Sparse Generative Adversarial Networks", §3.1,
-- Eqs. 1-5 and 15), placed after a (de)convolution of a generator:
--
--   e = ReLU(f(z))              shared layer f: Linear(z_dim, hidden) + ReLU
--   alpha = ReLU(g1(e))         channel sparsity (CSM), N x C       (Eq. 1)
--   beta  = ReLU(g2(e))         position sparsity (PSM), N x H x W  (Eq. 2)
--   x = alpha (.) h + beta (.) h     alpha over H, W; beta over C    (Eq. 3)
--
--   local sastm = nn.SASTM(64, 8, 8, 100, {hidden = 128})
--   local x = sastm(h, z)            -- h: N x 64 x 8 x 8, z: N x 100 (or N x 100 x 1 x 1)
--   local r = sastm:sparse_rates()   -- xi (per channel), xi_mean, zeta, ...
--
-- The paper does not give f's width or activation: hidden defaults to z_dim
-- and f is followed by a ReLU (docs/decisions.md). The ablations of its §4.4
-- set beta = 0 ("without PSM", psm = false) or alpha = 0 ("without CSM",
-- csm = false): the dropped head is not built at all.
-- Parameters (PyTorch Linear initialisation): f.weight, f.bias, g1.weight,
-- g1.bias (csm), g2.weight, g2.bias (psm; g2 has H*W outputs, row-major
-- positions).
--
-- Sparse rates of the last forward (Eqs. 4, 5, 15), per sample n:
--   xi[n][i] = #{(j, k) : x[n][i][j][k] == 0} / (H W)
-- (zeros of the output x, counting zeros of h too, as Eq. 4 does), and
-- sparse_rates() reports the batch means: xi[i] = mean_n xi[n][i],
-- xi_mean = mean_i xi[i] (this module's term of Eq. 15), zeta = mean_n of the
-- fraction of channels with xi[n][i] >= 2/3 (Eq. 5 per sample),
-- zeta_batch = the fraction of channels whose batch-mean xi[i] >= 2/3, and
-- alpha_zero / beta_zero = the fractions of zero alpha / beta entries.
-- nn.SASTM.average_position_sparsity(model_or_list) is Eq. 15 over the SASTM
-- modules of a model: (1/T) sum_t xi_mean^t.
local sg = require "sgen"
local U = require "sgen.nn.util"
local Module = require("sgen.nn.module").Module
local Linear = require("sgen.nn.linear").Linear

local NAME = "SASTM"

local SASTM = Module:extend("SASTM")

function SASTM:init(channels, height, width, z_dim, opts)
  local o = U.opts(NAME, opts, {"hidden", "csm", "psm", "dtype", "device"})
  self.channels = U.int(NAME, "channels", channels, 1)
  self.height = U.int(NAME, "height", height, 1)
  self.width = U.int(NAME, "width", width, 1)
  self.z_dim = U.int(NAME, "z_dim", z_dim, 1)
  self.hidden = o.hidden == nil and self.z_dim or U.int(NAME, "option 'hidden'", o.hidden, 1)
  self.csm = o.csm == nil and true or U.bool(NAME, "option 'csm'", o.csm)
  self.psm = o.psm == nil and true or U.bool(NAME, "option 'psm'", o.psm)
  if not self.csm and not self.psm then
    U.fail(NAME, "csm = false and psm = false leave no sparsity coefficient (x would be 0)")
  end
  local lo = {dtype = o.dtype, device = o.device}
  self.f = Linear(self.z_dim, self.hidden, lo)
  if self.csm then self.g1 = Linear(self.hidden, self.channels, lo) end
  if self.psm then self.g2 = Linear(self.hidden, self.height * self.width, lo) end
end

-- The coefficients for a batch of latents z (N x z_dim): alpha (N x C, nil
-- with csm = false) and beta (N x H x W, nil with psm = false).
function SASTM:coefficients(z)
  if not U.is_tensor(z) then U.fail(NAME, "argument z expected a tensor, got %s", U.typename(z)) end
  local s = z:shape()
  if #s == 4 and s[3] == 1 and s[4] == 1 then
    z = z:reshape(s[1], s[2])
    s = z:shape()
  end
  if #s ~= 2 or s[2] ~= self.z_dim then
    U.fail(NAME, "z has shape %s, expected N x %d (or N x %d x 1 x 1)", U.shape_str(z), self.z_dim, self.z_dim)
  end
  local e = self.f(z):relu()
  local alpha, beta
  if self.csm then alpha = self.g1(e):relu() end
  if self.psm then beta = self.g2(e):relu():view(s[1], self.height, self.width) end
  return alpha, beta
end

-- forward(h, z) -> x = alpha (.) h + beta (.) h, N x C x H x W.
function SASTM:forward(h, z)
  if not U.is_tensor(h) then U.fail(NAME, "argument h expected a tensor, got %s", U.typename(h)) end
  local hs = h:shape()
  if #hs ~= 4 or hs[2] ~= self.channels or hs[3] ~= self.height or hs[4] ~= self.width then
    U.fail(NAME, "h has shape %s, expected N x %d x %d x %d (N x C x H x W)", U.shape_str(h),
      self.channels, self.height, self.width)
  end
  if not U.is_tensor(z) then U.fail(NAME, "argument z expected a tensor, got %s", U.typename(z)) end
  if z:dim() < 1 or z:size(1) ~= hs[1] then
    U.fail(NAME, "z has shape %s but h has a batch of %d", U.shape_str(z), hs[1])
  end
  local n = hs[1]
  local alpha, beta = self:coefficients(z)
  local coef
  if alpha then coef = alpha:view(n, self.channels, 1, 1) end
  if beta then
    local b = beta:view(n, 1, self.height, self.width)
    coef = coef and (coef + b) or b
  end
  local x = h * coef
  -- diagnostics (no graph): the zero counts of x per (sample, channel), of
  -- alpha and of beta; sparse_rates() reads them
  sg.no_grad(function()
    self._last = {
      zeros = x:detach():eq(0):sum({3, 4}),
      alpha_zeros = alpha and alpha:detach():eq(0):sum() or nil,
      beta_zeros = beta and beta:detach():eq(0):sum() or nil,
      n = n,
    }
  end)
  return x
end

-- Plain Lua numbers and tables describing the last forward (see the header):
-- {xi = {C numbers}, xi_mean, zeta, zeta_batch, alpha_zero, beta_zero,
--  batch, channels, positions}.
function SASTM:sparse_rates()
  local last = self._last
  if not last then U.fail(NAME, "sparse_rates: no forward has run yet") end
  local C, HW, n = self.channels, self.height * self.width, last.n
  local counts = last.zeros:totable() -- n x C integers
  local xi, sparse_samples = {}, 0
  for i = 1, C do xi[i] = 0 end
  for s = 1, n do
    local sparse_here = 0
    for i = 1, C do
      local z = counts[s][i]
      xi[i] = xi[i] + z
      if 3 * z >= 2 * HW then sparse_here = sparse_here + 1 end -- xi >= 2/3, exactly
    end
    sparse_samples = sparse_samples + sparse_here / C
  end
  local total, sparse_batch = 0, 0
  for i = 1, C do
    if 3 * xi[i] >= 2 * HW * n then sparse_batch = sparse_batch + 1 end
    total = total + xi[i]
    xi[i] = n > 0 and xi[i] / (n * HW) or 0 / 0
  end
  return {
    xi = xi,
    xi_mean = n > 0 and total / (n * HW * C) or 0 / 0,
    zeta = n > 0 and sparse_samples / n or 0 / 0,
    zeta_batch = n > 0 and sparse_batch / C or 0 / 0,
    alpha_zero = last.alpha_zeros and last.alpha_zeros:item() / (n * C) or nil,
    beta_zero = last.beta_zeros and last.beta_zeros:item() / (n * HW) or nil,
    batch = n, channels = C, positions = HW,
  }
end

-- Eq. 15: the mean over the SASTM modules (of a model, or a list of modules)
-- of their xi_mean; nil when there is none.
function SASTM.average_position_sparsity(model)
  local list
  if U.is_module(model) then
    list = {}
    for _, m in ipairs(model:modules()) do
      if getmetatable(m) == SASTM then list[#list + 1] = m end
    end
  elseif type(model) == "table" then
    list = model
  else
    U.fail(NAME, "average_position_sparsity: expected a module or a list of SASTM modules, got %s",
      U.typename(model))
  end
  if #list == 0 then return nil end
  local s = 0
  for _, m in ipairs(list) do s = s + m:sparse_rates().xi_mean end
  return s / #list
end

function SASTM:extra_repr()
  return string.format("channels=%d, height=%d, width=%d, z_dim=%d, hidden=%d, csm=%s, psm=%s",
    self.channels, self.height, self.width, self.z_dim, self.hidden, U.py(self.csm), U.py(self.psm))
end

return {SASTM = SASTM}
