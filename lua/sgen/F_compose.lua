-- sg.F ops composed in Lua from differentiable core ops (so their gradients
-- and double backward come from the core's): one_hot, gelu,
-- binary_cross_entropy, normalize, cosine_similarity, embedding, group_norm.
-- Names, defaults and formulas are PyTorch 1.13's; dims, labels and indices
-- are 1-based. Checked against PyTorch in spec/nnfns_spec.lua
-- (tools/make_nnfns_fixtures.py).
local core = require "sgen.core"

local M = {}

local check = require "sgen.util.check"
local is_tensor, typename, shape_str = check.is_tensor, check.typename, check.shape_str

local function fail(fname, fmt, ...)
  error(string.format("sgen.%s: " .. fmt, fname, ...), 0)
end

local function check_tensor(fname, i, what, x)
  if not is_tensor(x) then
    fail(fname, "argument %d (%s) expected a tensor, got %s", i, what, typename(x))
  end
  return x
end

local function opts(fname, o, allowed)
  if o == nil then return {} end
  if type(o) ~= "table" then fail(fname, "expected an options table, got %s", typename(o)) end
  return check.options(o, allowed, "sgen." .. fname, 0)
end

local function is_int(v)
  return math.type(v) == "integer" or (type(v) == "number" and v == math.floor(v) and
    v > -math.huge and v < math.huge)
end

-- A 1-based dim option (negative from the end) for a tensor of nd dims.
local function dim_opt(fname, v, nd)
  if not is_int(v) or v == 0 or v > nd or v < -nd then
    fail(fname, "option 'dim' must be a non-zero integer in [-%d, %d], got %s", nd, nd, tostring(v))
  end
  return math.tointeger(v)
end

-- A non-negative eps option, `default` when absent.
local function eps_opt(fname, v, default)
  if v == nil then return default end
  if type(v) ~= "number" or v < 0 then
    fail(fname, "option 'eps' must be a number >= 0, got %s", tostring(v))
  end
  return v
end

local function reduction_opt(fname, r)
  if r == nil then return "mean" end
  if r ~= "mean" and r ~= "sum" and r ~= "none" then
    fail(fname, 'option \'reduction\' expected "mean", "sum" or "none", got %s',
      type(r) == "string" and ('"' .. r .. '"') or typename(r))
  end
  return r
end

local function reduce(loss, r)
  if r == "mean" then return loss:mean() end
  if r == "sum" then return loss:sum() end
  return loss
end

-- one_hot(labels, [num_classes]): int64 labels (1-based) -> int64 tensor of
-- shape labels.shape .. {num_classes}, 1 at each label's position.
-- num_classes defaults to the largest label.
function M.one_hot(labels, num_classes)
  local fname = "one_hot"
  check_tensor(fname, 1, "input", labels)
  if labels:dtype() ~= "int64" then
    fail(fname, "argument 1 (input) expected an int64 tensor of 1-based class labels, got %s",
      labels:dtype())
  end
  if num_classes ~= nil and num_classes ~= -1 and (not is_int(num_classes) or num_classes < 1) then
    fail(fname, "argument 2 (num_classes) expected a positive integer, got %s", tostring(num_classes))
  end
  local n = labels:numel()
  local lo = n > 0 and labels:min():item() or 1
  local hi = n > 0 and labels:max():item() or 0
  if num_classes == nil or num_classes == -1 then
    if n == 0 then fail(fname, "cannot infer num_classes from an empty tensor") end
    num_classes = hi
  end
  num_classes = math.tointeger(num_classes)
  if lo < 1 or hi > num_classes then
    fail(fname, "class labels must be in 1..%d (1-based), got %s", num_classes,
      lo < 1 and tostring(lo) or tostring(hi))
  end
  local classes = core.arange(1, num_classes + 1, {device = labels:device()})
  return core.eq(labels:unsqueeze(-1), classes):long()
end

-- gelu(x, {approximate = "none" | "tanh"}):
--   "none": x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2));
--   "tanh": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
function M.gelu(x, o)
  local fname = "gelu"
  check_tensor(fname, 1, "input", x)
  o = opts(fname, o, {"approximate"})
  local a = o.approximate or "none"
  if a == "none" then
    return core.mul(core.mul(x, 0.5), core.add(core.erf(core.mul(x, 0.70710678118654752)), 1))
  elseif a == "tanh" then
    local inner = core.mul(core.add(x, core.mul(core.mul(core.mul(x, x), x), 0.044715)),
      0.79788456080286536)
    return core.mul(core.mul(x, 0.5), core.add(core.tanh(inner), 1))
  end
  fail(fname, "option 'approximate' expected \"none\" or \"tanh\", got %s",
    type(a) == "string" and ('"' .. a .. '"') or typename(a))
end

-- binary_cross_entropy(input, target, {weight =, reduction = "mean"}):
-- -w (t log p + (1 - t) log(1 - p)) with each log clamped to >= -100 as
-- PyTorch does; input holds probabilities in [0, 1], target its shape.
function M.binary_cross_entropy(input, target, o)
  local fname = "binary_cross_entropy"
  check_tensor(fname, 1, "input", input)
  check_tensor(fname, 2, "target", target)
  o = opts(fname, o, {"weight", "reduction"})
  local r = reduction_opt(fname, o.reduction)
  if shape_str(input) ~= shape_str(target) then
    fail(fname, "target has shape %s but input has shape %s; expected the same shape",
      shape_str(target), shape_str(input))
  end
  if input:numel() > 0 then
    local lo, hi = input:min():item(), input:max():item()
    if not (lo >= 0 and hi <= 1) then
      fail(fname, "all elements of input should be between 0 and 1, got values in [%g, %g]", lo, hi)
    end
  end
  local logp = core.clamp(core.log(input), -100, nil)
  local log1mp = core.clamp(core.log(core.sub(1, input)), -100, nil)
  local loss = core.neg(core.add(core.mul(target, logp), core.mul(core.sub(1, target), log1mp)))
  if o.weight ~= nil then
    check_tensor(fname, 3, "option weight", o.weight)
    loss = core.mul(loss, o.weight)
  end
  return reduce(loss, r)
end

-- normalize(x, {p = 2, dim = 2, eps = 1e-12}): x / max(||x||_p along dim, eps).
function M.normalize(x, o)
  local fname = "normalize"
  check_tensor(fname, 1, "input", x)
  o = opts(fname, o, {"p", "dim", "eps"})
  local p = o.p == nil and 2 or o.p
  if type(p) ~= "number" then fail(fname, "option 'p' must be a number, got %s", typename(p)) end
  local eps = eps_opt(fname, o.eps, 1e-12)
  local dim = dim_opt(fname, o.dim == nil and 2 or o.dim, math.max(x:dim(), 1))
  local n = core.clamp(x:norm(p, dim, true), eps, nil)
  return core.div(x, n)
end

-- cosine_similarity(x1, x2, {dim = 2, eps = 1e-8}): sum(x1 x2) /
-- sqrt(max(sum(x1^2) sum(x2^2), eps^2)) along dim (PyTorch 1.13's formula);
-- x1 and x2 broadcast.
function M.cosine_similarity(x1, x2, o)
  local fname = "cosine_similarity"
  check_tensor(fname, 1, "x1", x1)
  check_tensor(fname, 2, "x2", x2)
  o = opts(fname, o, {"dim", "eps"})
  local eps = eps_opt(fname, o.eps, 1e-8)
  local nd = math.max(x1:dim(), x2:dim(), 1)
  local dim = dim_opt(fname, o.dim == nil and 2 or o.dim, nd)
  local ok, prod = pcall(core.mul, x1, x2)
  if not ok then
    fail(fname, "x1 (%s) and x2 (%s) do not broadcast", shape_str(x1), shape_str(x2))
  end
  local w12 = prod:sum(dim)
  local w1 = core.mul(x1, x1):expand_as(prod):sum(dim)
  local w2 = core.mul(x2, x2):expand_as(prod):sum(dim)
  local n12 = core.sqrt(core.clamp(core.mul(w1, w2), eps * eps, nil))
  return core.div(w12, n12)
end

-- embedding(input, weight, {padding_idx =}): rows of weight (num x dim) at
-- the 1-based int64 indices of input -> input.shape .. {dim}. The rows
-- looked up at padding_idx (1-based, negative from the end) get no gradient.
function M.embedding(input, weight, o)
  local fname = "embedding"
  check_tensor(fname, 1, "input", input)
  check_tensor(fname, 2, "weight", weight)
  o = opts(fname, o, {"padding_idx"})
  if input:dtype() ~= "int64" then
    fail(fname, "argument 1 (input) expected an int64 tensor of 1-based indices, got %s",
      input:dtype())
  end
  if weight:dim() ~= 2 then
    fail(fname, "weight has %d dims (%s), expected 2 (num_embeddings x embedding_dim)",
      weight:dim(), shape_str(weight))
  end
  local num, d = weight:size(1), weight:size(2)
  local shape = input:shape()
  local out = weight:index_select(1, input:reshape(-1))
  shape[#shape + 1] = d
  out = out:reshape(shape)
  if o.padding_idx ~= nil then
    local pi = o.padding_idx
    if not is_int(pi) or pi == 0 or pi > num or pi < -num then
      fail(fname, "option 'padding_idx' must be within 1..%d or -%d..-1, got %s", num, num,
        tostring(pi))
    end
    if pi < 0 then pi = pi + num + 1 end
    local mask = core.eq(input, math.tointeger(pi)):unsqueeze(-1)
    out = core.where(mask, out:detach(), out)
  end
  return out
end

-- group_norm(x, num_groups, [weight], [bias], {eps = 1e-5}): x (N x C x ...)
-- normalized over each group of C / num_groups channels and the remaining
-- dims (biased variance), then weight and bias (C) per channel.
function M.group_norm(x, num_groups, weight, bias, o)
  local fname = "group_norm"
  check_tensor(fname, 1, "input", x)
  if not is_int(num_groups) or num_groups < 1 then
    fail(fname, "argument 2 (num_groups) expected a positive integer, got %s", tostring(num_groups))
  end
  if weight ~= nil then check_tensor(fname, 3, "weight", weight) end
  if bias ~= nil then check_tensor(fname, 4, "bias", bias) end
  o = opts(fname, o, {"eps"})
  local eps = eps_opt(fname, o.eps, 1e-5)
  if x:dim() < 2 then
    fail(fname, "input has %d dims (%s), expected at least 2 (N x C x ...)", x:dim(), shape_str(x))
  end
  local shape = x:shape()
  local n, c = shape[1], shape[2]
  if c % num_groups ~= 0 then
    fail(fname, "input has %d channels (%s), not divisible by num_groups = %d", c, shape_str(x),
      num_groups)
  end
  for i, t in ipairs({weight, bias}) do
    if t ~= nil and (t:dim() ~= 1 or t:size(1) ~= c) then
      fail(fname, "%s has shape %s, expected %d (the channels)", i == 1 and "weight" or "bias",
        shape_str(t), c)
    end
  end
  local g = x:reshape(n, math.tointeger(num_groups), -1)
  local mean = g:mean(3, true)
  local var = g:var(3, {unbiased = false, keepdim = true})
  local y = core.mul(core.sub(g, mean), core.rsqrt(core.add(var, eps))):reshape(shape)
  local bshape = {1, c}
  for _ = 3, #shape do bshape[#bshape + 1] = 1 end
  if weight ~= nil then y = core.mul(y, weight:reshape(bshape)) end
  if bias ~= nil then y = core.add(y, bias:reshape(bshape)) end
  return y
end

return M
