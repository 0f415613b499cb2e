-- sgen.gan_penalties: the gradient penalty with a chosen centre and the
-- optimizer settings of Self-Sparse GAN and SPGAN. To be merged into sg.gan
-- (gradient_penalty gains option `center`, optimizer_settings the kinds
-- "self-sparse" and "spgan"); kept apart while sg.gan is frozen.
--
--   local P = require "sgen.gan_penalties"
--   local gp = P.gradient_penalty(D, real, fake, {lambda = 10, center = 0})  -- zero-centred
--   local gp = P.zero_centered_gradient_penalty(D, real, fake)              -- the same, λ = 10
--   local s = P.optimizer_settings("self-sparse")
--   -- {lr_g = 1e-4, lr_d = 3e-4, betas = {0.5, 0.999}, n_critic = 2, gp_lambda = 10, gp_center = 0}
--   local optG, optD = P.optimizers("self-sparse", G, D)
--
-- gradient_penalty(D, real, fake, {lambda = 10, eps =, center = 1}):
-- x̂ = eps·real + (1 − eps)·fake, eps ~ U(0, 1) per sample (or the given N
-- values), penalty λ·mean_n((‖∇_x̂ D(x̂)_n‖₂ − center)²). center = 1 is
-- WGAN-GP (Gulrajani et al., sg.gan.gradient_penalty); center = 0 is
-- λ·mean_n ‖∇_x̂ D(x̂)_n‖₂², the zero-centred penalty of Self-Sparse GAN's
-- Eq. 13 (taken on the same interpolates, subtracted from V(G, D) that D
-- maximises, hence added to D's loss). Returns penalty, norms (detached).
-- D's loss with it is sg.gan.d_loss("wgan-gp", ...) + penalty.
local core = require "sgen.core"

local P = {}

local TensorMT = getmetatable(core.zeros(0))

local function fail(fmt, ...) error(string.format("sgen.gan_penalties." .. fmt, ...), 0) end

local function check_tensor(fname, i, what, x)
  if getmetatable(x) ~= TensorMT then
    fail("%s: argument %d (%s) expected a tensor, got %s", fname, i, what, type(x))
  end
end

local function check_number(fname, name, v, default)
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v < 0 or v == math.huge then
    fail("%s: option '%s' must be a finite number >= 0, got %s", fname, name, tostring(v))
  end
  return v
end

function P.gradient_penalty(D, real, fake, opts)
  local fname = "gradient_penalty"
  if type(D) ~= "table" and type(D) ~= "function" and type(D) ~= "userdata" then
    fail("%s: argument 1 (D) expected a module or a function, got %s", fname, type(D))
  end
  check_tensor(fname, 2, "real", real)
  check_tensor(fname, 3, "fake", fake)
  if opts ~= nil and (type(opts) ~= "table" or getmetatable(opts) == TensorMT) then
    fail("%s: argument 4 (opts) expected a table, got %s", fname, type(opts))
  end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "lambda" and k ~= "eps" and k ~= "center" then
      fail("%s: unknown option '%s' (expected center, eps, lambda)", fname, tostring(k))
    end
  end
  local rs, fs = real:shape(), fake:shape()
  if table.concat(rs, "x") ~= table.concat(fs, "x") or #rs < 1 then
    fail("%s: real is %s and fake is %s, expected the same shape (N x ...)", fname,
      table.concat(rs, "x"), table.concat(fs, "x"))
  end
  local lambda = check_number(fname, "lambda", opts.lambda, 10)
  local center = check_number(fname, "center", opts.center, 1)
  local n = rs[1]
  local bshape = {n}
  for _ = 2, #rs do bshape[#bshape + 1] = 1 end
  local eps = opts.eps
  if eps == nil then
    eps = core.rand(bshape, {dtype = real:dtype(), device = real:device()})
  else
    check_tensor(fname, 4, "option eps", eps)
    if eps:numel() ~= n then
      fail("%s: option 'eps' has %d elements, expected %d (one per sample)", fname, eps:numel(), n)
    end
    eps = eps:detach():to(real:device()):reshape(bshape)
  end
  local xhat = (eps * real:detach() + (1 - eps) * fake:detach()):detach():requires_grad()
  local out = D(xhat)
  local g = core.grad({out:sum()}, {xhat}, {create_graph = true})[1]
  local flat = g:reshape(n, -1)
  local penalty
  if center == 0 then
    -- ‖g‖² without the square root (its gradient is finite at g = 0)
    penalty = (flat * flat):sum(2):mean() * lambda
    return penalty, (flat:detach() * flat:detach()):sum(2):sqrt()
  end
  local norms = flat:norm(2, 2)
  penalty = ((norms - center) ^ 2):mean() * lambda
  return penalty, norms:detach()
end

-- zero_centered_gradient_penalty(D, real, fake, {lambda = 10, eps =}):
-- gradient_penalty with center = 0.
function P.zero_centered_gradient_penalty(D, real, fake, opts)
  if opts ~= nil and (type(opts) ~= "table" or getmetatable(opts) == TensorMT) then
    fail("zero_centered_gradient_penalty: argument 4 (opts) expected a table, got %s", type(opts))
  end
  local o = {center = 0}
  for k, v in pairs(opts or {}) do
    if k == "center" then fail("zero_centered_gradient_penalty: option 'center' is fixed at 0") end
    o[k] = v
  end
  return P.gradient_penalty(D, real, fake, o)
end

-- optimizer_settings(kind) -> a new table {lr, lr_g, lr_d, betas, n_critic,
-- gp_lambda, gp_center}:
--   "self-sparse"  Adam, G 1e-4 and D 3e-4, betas (0.5, 0.999) (§4.2; the
--                  paper uses (0, 0.9) for CELEBA-HQ and LSUN), 2 D steps per
--                  G step, zero-centred penalty with λ = 10 (our choice: the
--                  paper does not give λ; docs/decisions.md)
--   "spgan"        WGAN-GP's settings (SPGAN trains with Improved WGAN and
--                  gives no values): Adam 1e-4, betas (0, 0.9), 5 critic
--                  steps, penalty centred at 1 with λ = 10
--   other kinds    sg.gan.optimizer_settings(kind), with lr_g = lr_d = lr and
--                  gp_center = 1
-- lr is nil where G and D differ.
function P.optimizer_settings(kind)
  if kind == "self-sparse" then
    return {lr_g = 1e-4, lr_d = 3e-4, betas = {0.5, 0.999}, n_critic = 2, gp_lambda = 10, gp_center = 0}
  end
  if kind == "spgan" then kind = "wgan-gp" end
  local ok, s = pcall(require("sgen.gan").optimizer_settings, kind)
  if not ok then
    fail("optimizer_settings: argument 1 (kind) must be \"self-sparse\", \"spgan\", \"dcgan\", \"wgan-gp\" or \"hinge\", got %s",
      type(kind) == "string" and ('"' .. kind .. '"') or tostring(kind))
  end
  s.lr_g, s.lr_d, s.gp_center = s.lr, s.lr, 1
  return s
end

-- optimizers(kind, G, D) -> optG, optD: Adam with optimizer_settings(kind).
function P.optimizers(kind, G, D)
  local s = P.optimizer_settings(kind)
  local optim = require("sgen").optim
  return optim.Adam(G:parameters(), {lr = s.lr_g, betas = s.betas}),
    optim.Adam(D:parameters(), {lr = s.lr_d, betas = s.betas})
end

return P
