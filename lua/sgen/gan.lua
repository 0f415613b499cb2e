-- sg.gan: adversarial losses, the WGAN-GP gradient penalty and the usual
-- optimizer settings, for the GANs of models/dcgan.lua.
--
--   local gan = require("sgen").gan
--   local lossD = gan.d_loss("hinge", D(real), D(fake:detach()))
--   local lossG = gan.g_loss("hinge", D(fake))
--   local gp = gan.gradient_penalty(D, real, fake, {lambda = 10})   -- wgan-gp
--   local zc = gan.zero_centered_gradient_penalty(D, real, fake)      -- Self-Sparse GAN's Eq. 13
--   local s = gan.optimizer_settings("wgan-gp")
--   -- {lr=1e-4, lr_g=1e-4, lr_d=1e-4, betas={0, 0.9}, n_critic=5, gp_lambda=10, gp_center=1}
--
-- The outputs of D are raw scores (logits for "dcgan"), any shape (one per
-- sample in practice); losses are means over them, as 0-dim tensors.
--   "dcgan"    D: BCE(real, 1) + BCE(fake, 0)   G: BCE(fake, 1) (non-saturating), with logits
--   "wgan-gp"  D: mean fake - mean real          G: -mean fake   (add gradient_penalty to D's loss)
--   "hinge"    D: mean relu(1 - real) + mean relu(1 + fake)   G: -mean fake
local core = require "sgen.core"

local gan = {}

local check = require "sgen.util.check"
local is_tensor = check.is_tensor

local function fail(fmt, ...) error(string.format("sgen.gan." .. fmt, ...), 0) end

local KINDS = {dcgan = true, ["wgan-gp"] = true, hinge = true}

local function check_kind(fname, kind)
  if not KINDS[kind] then
    fail("%s: argument 1 (kind) must be \"dcgan\", \"wgan-gp\" or \"hinge\", got %s", fname,
      type(kind) == "string" and ('"' .. kind .. '"') or tostring(kind))
  end
end

local function check_tensor(fname, i, what, x)
  if not is_tensor(x) then
    fail("%s: argument %d (%s) expected a tensor, got %s", fname, i, what, type(x))
  end
end

local function bce(logits, target)
  local F = require("sgen").F
  return F.binary_cross_entropy_with_logits(logits, core.full_like(logits, target))
end

-- d_loss(kind, real_out, fake_out): the loss that D (the critic) minimizes,
-- from its outputs on real and on generated samples.
function gan.d_loss(kind, real_out, fake_out)
  check_kind("d_loss", kind)
  check_tensor("d_loss", 2, "real_out", real_out)
  check_tensor("d_loss", 3, "fake_out", fake_out)
  if kind == "dcgan" then return bce(real_out, 1) + bce(fake_out, 0) end
  if kind == "wgan-gp" then return fake_out:mean() - real_out:mean() end
  return (1 - real_out):relu():mean() + (1 + fake_out):relu():mean()
end

-- g_loss(kind, fake_out): the loss that G minimizes, from D's outputs on
-- generated samples.
function gan.g_loss(kind, fake_out)
  check_kind("g_loss", kind)
  check_tensor("g_loss", 2, "fake_out", fake_out)
  if kind == "dcgan" then return bce(fake_out, 1) end
  return -fake_out:mean()
end

-- gradient_penalty(D, real, fake, {lambda = 10, eps =, center = 1}) -> penalty, norms
-- Gulrajani et al.: x̂ = eps·real + (1 − eps)·fake with eps ~ U(0, 1) per
-- sample (or the given eps: N values, any shape of N elements), penalty
-- λ·mean_n((‖∇_x̂ D(x̂)_n‖₂ − center)²). center = 0 is the zero-centred
-- penalty of Self-Sparse GAN's Eq. 13, λ·mean_n ‖∇_x̂ D(x̂)_n‖₂², computed
-- without the square root (its gradient is finite at ∇ = 0). The gradient is
-- taken with create_graph = true, so the penalty differentiates to D's
-- parameters (real and fake are detached: no gradient reaches G). norms: the
-- N gradient norms, detached (a diagnostic).
function gan.gradient_penalty(D, real, fake, opts)
  if type(D) ~= "table" and type(D) ~= "function" and type(D) ~= "userdata" then
    fail("gradient_penalty: argument 1 (D) expected a module or a function, got %s", type(D))
  end
  check_tensor("gradient_penalty", 2, "real", real)
  check_tensor("gradient_penalty", 3, "fake", fake)
  if opts ~= nil and (type(opts) ~= "table" or is_tensor(opts)) then
    fail("gradient_penalty: argument 4 (opts) expected a table, got %s", type(opts))
  end
  opts = opts or {}
  check.options(opts, {"center", "eps", "lambda"}, "sgen.gan.gradient_penalty", 0)
  local rs, fs = real:shape(), fake:shape()
  if table.concat(rs, "x") ~= table.concat(fs, "x") or #rs < 1 then
    fail("gradient_penalty: real is %s and fake is %s, expected the same shape (N x ...)",
      table.concat(rs, "x"), table.concat(fs, "x"))
  end
  local lambda = opts.lambda == nil and 10 or opts.lambda
  if type(lambda) ~= "number" or lambda ~= lambda or lambda < 0 then
    fail("gradient_penalty: option 'lambda' must be a number >= 0, got %s", tostring(lambda))
  end
  local center = opts.center == nil and 1 or opts.center
  if type(center) ~= "number" or center ~= center or center < 0 or center == math.huge then
    fail("gradient_penalty: option 'center' must be a finite number >= 0, got %s", tostring(center))
  end
  local n = rs[1]
  local bshape = {n}
  for _ = 2, #rs do bshape[#bshape + 1] = 1 end
  local eps = opts.eps
  if eps == nil then
    eps = core.rand(bshape, {dtype = real:dtype(), device = real:device()})
  else
    check_tensor("gradient_penalty", 4, "option eps", eps)
    if eps:numel() ~= n then
      fail("gradient_penalty: option 'eps' has %d elements, expected %d (one per sample)", eps:numel(), n)
    end
    eps = eps:detach():to(real:device()):reshape(bshape)
  end
  local xhat = (eps * real + (1 - eps) * fake):detach():requires_grad_()
  local out = D(xhat)
  local g = core.grad({out:sum()}, {xhat}, {create_graph = true})[1]
  if center == 0 then
    local flat = g:reshape(n, -1)
    local sq = (flat * flat):sum(2)
    return sq:mean() * lambda, sq:detach():sqrt()
  end
  local norms = g:reshape(n, -1):norm(2, 2)
  local penalty = ((norms - center) ^ 2):mean() * lambda
  return penalty, norms:detach()
end

-- zero_centered_gradient_penalty(D, real, fake, {lambda = 10, eps =}):
-- gradient_penalty with center = 0 (Self-Sparse GAN, Eq. 13).
function gan.zero_centered_gradient_penalty(D, real, fake, opts)
  if opts ~= nil and (type(opts) ~= "table" or is_tensor(opts)) then
    fail("zero_centered_gradient_penalty: argument 4 (opts) expected a table, got %s", type(opts))
  end
  local o = {center = 0}
  for k, v in pairs(opts or {}) do
    if k == "center" then fail("zero_centered_gradient_penalty: option 'center' is fixed at 0") end
    o[k] = v
  end
  return gan.gradient_penalty(D, real, fake, o)
end

-- optimizer_settings(kind) -> a new table {lr, lr_g, lr_d, betas, n_critic,
-- gp_lambda, gp_center}; lr is nil where G and D differ:
--   "dcgan", "hinge"  Adam 2e-4, betas (0.5, 0.999), one D step per G step
--                     (Radford et al.), no penalty (gp_lambda 0)
--   "wgan-gp"         Adam 1e-4, betas (0, 0.9), 5 critic steps per G step,
--                     penalty centred at 1 with λ = 10 (Gulrajani et al.)
--   "spgan"           WGAN-GP's settings (SPGAN trains an Improved WGAN and
--                     gives no values)
--   "self-sparse"     Adam, G 1e-4 and D 3e-4, betas (0.5, 0.999) (§4.2), 2 D
--                     steps per G step, zero-centred penalty with λ = 10 (the
--                     paper gives no λ: docs/decisions.md)
-- Use: sg.optim.Adam(G:parameters(), {lr = s.lr_g, betas = s.betas}).
local SETTINGS_KINDS = {dcgan = true, ["wgan-gp"] = true, hinge = true, spgan = true, ["self-sparse"] = true}

function gan.optimizer_settings(kind)
  if not SETTINGS_KINDS[kind] then
    fail("optimizer_settings: argument 1 (kind) must be \"dcgan\", \"wgan-gp\", \"hinge\", \"spgan\" or "
      .. "\"self-sparse\", got %s", type(kind) == "string" and ('"' .. kind .. '"') or tostring(kind))
  end
  if kind == "self-sparse" then
    return {lr_g = 1e-4, lr_d = 3e-4, betas = {0.5, 0.999}, n_critic = 2, gp_lambda = 10, gp_center = 0}
  end
  if kind == "wgan-gp" or kind == "spgan" then
    return {lr = 1e-4, lr_g = 1e-4, lr_d = 1e-4, betas = {0, 0.9}, n_critic = 5, gp_lambda = 10, gp_center = 1}
  end
  return {lr = 2e-4, lr_g = 2e-4, lr_d = 2e-4, betas = {0.5, 0.999}, n_critic = 1, gp_lambda = 0, gp_center = 1}
end

-- optimizers(kind, G, D) -> optG, optD: Adam with optimizer_settings(kind).
function gan.optimizers(kind, G, D)
  local s = gan.optimizer_settings(kind)
  local optim = require("sgen").optim
  return optim.Adam(G:parameters(), {lr = s.lr_g, betas = s.betas}),
    optim.Adam(D:parameters(), {lr = s.lr_d, betas = s.betas})
end

return gan
