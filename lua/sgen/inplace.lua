-- In-place tensor methods: x:add_(y), x:mul_(2), x:exp_(), x:clamp_(0, 1), ...
-- Installed into the tensor methods when `sgen` loads (see init.lua).
--
-- Each computes its result with the out-of-place op (same kernels, same
-- gradient formula) and writes it into x through core.assign_, which
-- applies PyTorch's rules: a leaf that requires grad cannot be written
-- outside sg.no_grad; a recorded write gives x the op's place in the graph;
-- tensors saved for backward and then written in place make backward fail
-- (the version counter) instead of computing wrong gradients. When
-- autograd records the op, the result is computed from a clone of x so
-- that what the op saved is not the memory being overwritten.
local core = require "sgen.core"

local M = {}
local methods = core.Tensor -- the tensor method table

local check = require "sgen.util.check"
local is_tensor = check.is_tensor

local function needs_grad(v)
  return is_tensor(v) and v:needs_grad()
end

-- method(name, compute): x:name(...) = assign_(x, compute(src, ...)).
local function method(name, compute)
  return function(self, ...)
    if not is_tensor(self) then
      error(string.format("sgen.%s: expected a tensor as self, got %s", name, type(self)), 2)
    end
    -- the leaf rule before anything is computed (uniform_ would draw first)
    local okc, errc = pcall(core.check_inplace_, self, name)
    if not okc then error(errc, 2) end
    local recorded = core.is_grad_enabled() and (self:needs_grad() or needs_grad(...)
      or needs_grad(select(2, ...)) or needs_grad(select(3, ...)))
    local src = recorded and self:clone() or self
    local ok, r = pcall(compute, src, ...)
    if not ok then error((tostring(r):gsub("sgen%.(%w+):", "sgen." .. name .. ":", 1)), 2) end
    local ok2, err = pcall(core.assign_, self, r, name)
    if not ok2 then error(err, 2) end
    return self
  end
end

local function opts_value(name, opts, key, default)
  if opts == nil then return default end
  if type(opts) ~= "table" or is_tensor(opts) then
    error(string.format("sgen.%s: expected an options table {%s = ...}, got %s", name, key,
      is_tensor(opts) and "a tensor" or type(opts)), 3)
  end
  -- no position: method() re-raises at the caller's line
  check.options(opts, {key}, "sgen." .. name, 0)
  local v = opts[key]
  if v == nil then return default end
  if type(v) ~= "number" then
    error(string.format("sgen.%s: option '%s' expected a number, got %s", name, key, type(v)), 3)
  end
  return v
end

M.add_ = method("add_", function(x, y, opts)
  local alpha = opts_value("add_", opts, "alpha", 1)
  return x:add(alpha == 1 and y or y * alpha)
end)
M.sub_ = method("sub_", function(x, y, opts)
  local alpha = opts_value("sub_", opts, "alpha", 1)
  return x:sub(alpha == 1 and y or y * alpha)
end)
M.mul_ = method("mul_", function(x, y) return x:mul(y) end)
M.div_ = method("div_", function(x, y) return x:div(y) end)
M.neg_ = method("neg_", function(x) return x:neg() end)
M.abs_ = method("abs_", function(x) return x:abs() end)
M.sqrt_ = method("sqrt_", function(x) return x:sqrt() end)
M.exp_ = method("exp_", function(x) return x:exp() end)
M.clamp_ = method("clamp_", function(x, lo, hi) return x:clamp(lo, hi) end)
-- x:lerp_(end, weight): x + weight * (end - x); weight a number or a tensor.
M.lerp_ = method("lerp_", function(x, e, w)
  if w == nil then error("sgen.lerp_: argument 2 (weight) is missing", 0) end
  return x + (e - x) * w
end)
-- x:addcmul_(t1, t2, {value = 1}): x + value * t1 * t2
M.addcmul_ = method("addcmul_", function(x, t1, t2, opts)
  local v = opts_value("addcmul_", opts, "value", 1)
  local p = t1 * t2
  return x + (v == 1 and p or p * v)
end)
-- x:addcdiv_(t1, t2, {value = 1}): x + value * t1 / t2
M.addcdiv_ = method("addcdiv_", function(x, t1, t2, opts)
  local v = opts_value("addcdiv_", opts, "value", 1)
  local q = t1 / t2
  return x + (v == 1 and q or q * v)
end)
-- x:uniform_([a = 0, b = 1]), x:normal_([mean = 0, std = 1]): draws from the
-- global RNG, like sg.rand / sg.randn of x's shape, dtype and device.
M.uniform_ = method("uniform_", function(x, a, b)
  a, b = a or 0, b or 1
  local r = core.rand_like(x)
  if a == 0 and b == 1 then return r end
  return r * (b - a) + a
end)
M.normal_ = method("normal_", function(x, mean, std)
  mean, std = mean or 0, std or 1
  local r = core.randn_like(x)
  if mean == 0 and std == 1 then return r end
  return r * std + mean
end)

-- Installs the methods (once) into the tensor methods table.
function M.install()
  for name, f in pairs(M) do
    if name:sub(-1) == "_" and methods[name] == nil then methods[name] = f end
  end
end

return M
