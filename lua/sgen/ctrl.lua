-- sgen.ctrl: the closed-loop transcription (CTRL) max/min game of an encoder f
-- and a decoder g on the rate-reduction objective (Dai et al., CTRL and
-- CSC-CTRL, paper 004 §3.2 and Appendix B).
--
--   local ctrl = require "sgen.ctrl"
--   local game = ctrl.Game(net.f, net.g, {strategy = 2})     -- the paper's defaults below
--   for it = 1, iters do
--     local terms = game:step(x, labels)                      -- n_max max steps, then one min step
--     -- terms.max[i], terms.min: {total, R_Z, Rc_Z, delta_R_Z, R_Zhat, Rc_Zhat, delta_R_Zhat,
--     --   delta_R_pairs} (numbers, the objective before that step's update)
--   end
--   -- checkpoints: optimizers = {opt_max = game.opt_max, opt_min = game.opt_min}
--
-- Objective (F.rate_reduction): with Z = f(X), X̂ = g(Z), Ẑ = f(X̂),
--   ΔR(Z) + ΔR(Ẑ) + Σ_j ΔR(Z_j, Ẑ_j),  R(Z) = ½ logdet(I + d/(n·ε²) ZᵀZ)
-- over the classes j of `labels`; labels = nil is one class, where ΔR(Z) =
-- ΔR(Ẑ) = 0 and the objective is the paper's eq. (8), ΔR(Z, Ẑ) = R(Z ∪ Ẑ) −
-- ½(R(Z) + R(Ẑ)) (CSC-CTRL uses no labels, §4.2).
-- The max step (the encoder's: eq. 11/13/15) ascends it in f's parameters with
-- X̂ = g(Z) computed without gradient (the gradient reaches the dictionaries
-- through f's uses only). The min step descends it in g's parameters:
--   strategy 2 (default, eq. 12/16): the total derivative through f and g
--     (Z = f(X) is not detached; the shared dictionaries get the gradient of
--     all their uses);
--   strategy 1 (eq. 14, Table 6's ablation; original CTRL): through g only:
--     Z detached and f run with {detach_dictionary = true}, so the shared
--     dictionaries get only the gradient of their uses in g.
-- For a CTRL with separate encoder and decoder parameters both strategies give
-- the same gradients to g.
--
-- Options (defaults: CSC-CTRL's CIFAR-10 settings, Appendix A.2):
--   strategy   1 | 2 (2)
--   lr         2e-4 (both players; lr_max, lr_min override each)
--   betas      {0, 0.9}           Adam's (both players)
--   eps2       0.5                ε² of the coding rate (passed as is)
--   n_max      1                  max (encoder) steps per min (decoder) step: the
--                                 paper takes one of each per batch (§3.2); the
--                                 CTRL code takes 2 (REFERENCE-NOTES)
--   normalize  false              normalize Z, Ẑ in the loss (the models already
--                                 return unit rows)
--   params_max, params_min        the players' parameters (default f:parameters(),
--                                 g:parameters(); with shared dictionaries both hold them)
-- Each player has its own Adam (opt_max with maximize = true, opt_min); with
-- shared dictionaries each keeps its own moments for them.
local sg = require "sgen"
local F_rate = require "sgen.F_rate"
local check = require "sgen.util.check"
local is_tensor = check.is_tensor

local M = {}

local function fail(fmt, ...) error("sgen.ctrl: " .. string.format(fmt, ...), 0) end

local function is_module(m) return type(m) == "table" and m.__is_module == true end

local OPTS = {"strategy", "lr", "lr_max", "lr_min", "betas", "eps2", "n_max", "normalize",
              "params_max", "params_min"}

local TERMS = {"R_Z", "Rc_Z", "delta_R_Z", "R_Zhat", "Rc_Zhat", "delta_R_Zhat", "delta_R_pairs"}

local Game = {}
Game.__index = Game

local function positive(name, v)
  if type(v) ~= "number" or not (v > 0) or v == math.huge then
    fail("Game: option '%s' must be a positive number, got %s", name,
      type(v) == "string" and ('"' .. v .. '"') or tostring(v))
  end
  return v
end

local function param_list(name, v)
  if type(v) ~= "table" or #v == 0 then
    fail("Game: option '%s' must be a non-empty list of parameters, got %s", name, type(v))
  end
  return v
end

-- ctrl.Game(f, g, [opts]) -> game
function M.Game(f, g, opts)
  if not is_module(f) then fail("Game: argument 1 (f) expected an nn module, got %s", type(f)) end
  if not is_module(g) then fail("Game: argument 2 (g) expected an nn module, got %s", type(g)) end
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then fail("Game: expected an options table, got %s", type(opts)) end
  check.options(opts, OPTS, "sgen.ctrl: Game", 0)
  local strategy = opts.strategy == nil and 2 or opts.strategy
  if strategy ~= 1 and strategy ~= 2 then
    fail("Game: option 'strategy' must be 1 or 2, got %s", tostring(strategy))
  end
  local lr = positive("lr", opts.lr == nil and 2e-4 or opts.lr)
  local lr_max = opts.lr_max == nil and lr or positive("lr_max", opts.lr_max)
  local lr_min = opts.lr_min == nil and lr or positive("lr_min", opts.lr_min)
  local betas = opts.betas == nil and {0, 0.9} or opts.betas
  if type(betas) ~= "table" or #betas ~= 2 then
    fail("Game: option 'betas' must be a pair {beta1, beta2}, got %s", type(betas))
  end
  local eps2 = positive("eps2", opts.eps2 == nil and 0.5 or opts.eps2)
  local n_max = opts.n_max == nil and 1 or opts.n_max
  if math.type(n_max) ~= "integer" or n_max < 1 then
    fail("Game: option 'n_max' must be a positive integer, got %s", tostring(n_max))
  end
  if opts.normalize ~= nil and type(opts.normalize) ~= "boolean" then
    fail("Game: option 'normalize' must be a boolean, got %s", type(opts.normalize))
  end
  local pmax = opts.params_max and param_list("params_max", opts.params_max) or f:parameters()
  local pmin = opts.params_min and param_list("params_min", opts.params_min) or g:parameters()
  local self = setmetatable({
    f = f, g = g, strategy = strategy, eps2 = eps2, n_max = n_max,
    normalize = opts.normalize == true, lr_max = lr_max, lr_min = lr_min,
    betas = {betas[1], betas[2]},
  }, Game)
  self.opt_max = sg.optim.Adam(pmax, {lr = lr_max, betas = self.betas, maximize = true})
  self.opt_min = sg.optim.Adam(pmin, {lr = lr_min, betas = self.betas})
  return self
end

-- The objective of (Z, Ẑ): total (a 0-dim tensor), terms (tensors).
function Game:rate_reduction(Z, Zh, labels)
  return F_rate.rate_reduction(Z, Zh, labels, self.eps2, {normalize = self.normalize})
end

local function numbers(total, terms)
  local out = {total = total:item()}
  for _, k in ipairs(TERMS) do out[k] = terms[k]:item() end
  return out
end

-- The passes of one player's step on X: mode "max" (X̂ without gradient),
-- "min" (strategy 1: Z detached and f with detached dictionaries; strategy 2:
-- everything differentiable) or "none" (no gradient at all). Returns total,
-- terms (tensors), Z, X̂, Ẑ.
function Game:objective(X, labels, mode)
  mode = mode or "none"
  local f, g = self.f, self.g
  if mode == "none" then
    return sg.no_grad(function()
      local Z = f(X)
      local Xh = g(Z)
      local Zh = f(Xh)
      local total, terms = self:rate_reduction(Z, Zh, labels)
      return total, terms, Z, Xh, Zh
    end)
  elseif mode == "max" then
    local Z = f(X)
    local Xh = sg.no_grad(function() return g(Z:detach()) end)
    local Zh = f(Xh)
    local total, terms = self:rate_reduction(Z, Zh, labels)
    return total, terms, Z, Xh, Zh
  elseif mode == "min" then
    local fo = self.strategy == 1 and {detach_dictionary = true} or nil
    local Z = f(X, fo)
    local Xh = g(self.strategy == 1 and Z:detach() or Z)
    local Zh = f(Xh, fo)
    local total, terms = self:rate_reduction(Z, Zh, labels)
    return total, terms, Z, Xh, Zh
  end
  fail("objective: mode must be \"max\", \"min\" or \"none\", got %s", tostring(mode))
end

local function check_batch(X, labels)
  if not is_tensor(X) or X:dim() ~= 4 then
    fail("step: X must be a batch of images N x C x H x W, got %s",
      is_tensor(X) and (X:dim() .. " dims") or type(X))
  end
  if X:size(1) < 2 then fail("step: the batch needs at least 2 samples, got %d", X:size(1)) end
  if labels ~= nil and type(labels) ~= "table" and type(labels) ~= "userdata" then
    fail("step: labels must be a tensor, a list of integers or nil, got %s", type(labels))
  end
end

-- One max (encoder) step on X: ascend the objective in opt_max's parameters.
-- Returns the terms (numbers) before the update.
function Game:max_step(X, labels)
  check_batch(X, labels)
  self.opt_max:zero_grad()
  local total, terms = self:objective(X, labels, "max")
  total:backward()
  self.opt_max:step()
  return numbers(total, terms)
end

-- One min (decoder) step on X: descend the objective in opt_min's parameters
-- (strategy 2: the total derivative). Returns the terms before the update.
function Game:min_step(X, labels)
  check_batch(X, labels)
  self.opt_min:zero_grad()
  local total, terms = self:objective(X, labels, "min")
  total:backward()
  self.opt_min:step()
  return numbers(total, terms)
end

-- One round on the batch X: n_max max steps, then one min step.
-- Returns {max = {terms of each max step}, min = terms}.
function Game:step(X, labels)
  local out = {max = {}}
  for i = 1, self.n_max do out.max[i] = self:max_step(X, labels) end
  out.min = self:min_step(X, labels)
  return out
end

M.TERMS = TERMS

return M
