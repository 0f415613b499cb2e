-- Coding rates and the CTRL rate-reduction objective (sg.F.coding_rate,
-- sg.F.rate_reduction), from the LDR / CTRL code of Ma, Dai et al.:
--
--   R(Z)    = ½ logdet(I + d/(n·ε²) ZᵀZ)         Z: n x d, rows are samples
--   Rc(Z)   = Σ_j (n_j/n) R(Z_j)                  Z_j: the n_j rows of class j
--   ΔR(Z)   = R(Z) − Rc(Z)
--   ΔR(Z_j, Ẑ_j) = R(Z_j ∪ Ẑ_j) − ½(R(Z_j) + R(Ẑ_j))    (the union has 2·n_j rows)
--   total   = ΔR(Z) + ΔR(Ẑ) + Σ_j ΔR(Z_j, Ẑ_j)
--
-- (the CTRL code's ΔR(Z) + ΔR(Ẑ) + Σ_j R(Z_j ∪ Ẑ_j) − ¼Σ_j logdet_j(Z) − ¼Σ_j logdet_j(Ẑ)).
-- ε² is passed as is (the CTRL code's eps = 0.5). logdet(I + c ZᵀZ) =
-- logdet(I + c ZZᵀ), so the smaller Gram matrix (n x n or d x d) is used.
-- Differentiable (sg.linalg.logdet).
local sg = require "sgen"

local M = {}

local check = require "sgen.util.check"
local is_tensor = check.is_tensor

local function fail(fname, fmt, ...)
  error(string.format("sgen.F.%s: " .. fmt, fname, ...), 0)
end

local shape_str = check.shape_str

local function check_eps2(fname, eps2)
  if eps2 == nil then return 0.5 end
  if type(eps2) ~= "number" or not (eps2 > 0) or eps2 == math.huge then
    fail(fname, "eps2 must be a positive number, got %s",
      type(eps2) == "number" and tostring(eps2) or type(eps2))
  end
  return eps2
end

local function check_features(fname, what, Z, batched)
  if not is_tensor(Z) then
    fail(fname, "%s expected a tensor, got %s", what, type(Z))
  end
  local d = Z:dim()
  if d ~= 2 and not (batched and d > 2) then
    fail(fname, "%s has %d dims (%s), expected 2 (n x d, rows are samples)%s", what, d,
      d == 0 and "scalar" or shape_str(Z), batched and " or more (... x n x d)" or "")
  end
  local dt = Z:dtype()
  if dt ~= "float32" and dt ~= "float64" then
    fail(fname, "%s must be float32 or float64, got %s", what, dt)
  end
end

-- ½ logdet(I + d/(n·eps2) ZᵀZ) for Z (... x n x d), no argument checks.
local function rate(Z, eps2)
  local n, d = Z:size(-2), Z:size(-1)
  local c = d / (n * eps2)
  local G
  if n < d then
    G = Z:matmul(Z:transpose(-2, -1))
  else
    G = Z:transpose(-2, -1):matmul(Z)
  end
  local m = G:size(-1)
  local I = sg.eye(m, {dtype = Z:dtype(), device = Z:device()})
  return sg.linalg.logdet(G * c + I) * 0.5
end

-- F.coding_rate(Z, [eps2 = 0.5]): ½ logdet(I + d/(n·eps2) ZᵀZ) for Z n x d
-- (rows are samples; a batch ... x n x d gives a tensor of shape ...), a
-- 0-dim tensor.
function M.coding_rate(Z, eps2)
  check_features("coding_rate", "argument 1 (Z)", Z, true)
  eps2 = check_eps2("coding_rate", eps2)
  return rate(Z, eps2)
end

-- The rows of each class: labels (an integer tensor of n entries or a Lua
-- list of n integers) -> sorted class values and, per class, an int64 tensor
-- of 1-based row indices.
local function group(fname, labels, n, device)
  local list
  if is_tensor(labels) then
    if labels:numel() ~= n or labels:dim() > 1 then
      fail(fname, "labels has shape %s, expected %d entries (one per row)",
        labels:dim() == 0 and "scalar" or shape_str(labels), n)
    end
    list = labels:reshape(-1):totable()
  elseif type(labels) == "table" then
    list = labels
    if #list ~= n then fail(fname, "labels has %d entries, expected %d (one per row)", #list, n) end
  else
    fail(fname, "argument 3 (labels) expected a tensor or a list of integers, got %s", type(labels))
  end
  local rows, classes = {}, {}
  for i = 1, n do
    local y = list[i]
    if math.type(y) ~= "integer" then
      if type(y) == "number" and y == math.floor(y) then
        y = math.tointeger(y)
      else
        fail(fname, "labels must be integers, got %s at %d", tostring(y), i)
      end
    end
    if not rows[y] then
      rows[y] = {}
      classes[#classes + 1] = y
    end
    local r = rows[y]
    r[#r + 1] = i
  end
  table.sort(classes)
  local idx = {}
  for j, y in ipairs(classes) do
    idx[j] = sg.tensor(rows[y], {dtype = "int64", device = device})
  end
  return classes, idx
end

-- Z / ‖Z‖ row-wise (PyTorch's F.normalize with eps 1e-12).
local function normalize_rows(Z)
  return Z / Z:norm(2, -1, true):clamp(1e-12)
end

local RR_OPTS = {"normalize"}

-- F.rate_reduction(Z, Zhat, labels, [eps2 = 0.5], [{normalize = true}]) ->
-- total, terms. Z and Zhat: n x d features of the same samples (Ẑ = f(g(Z))),
-- labels: the n class labels (integers; absent classes do not count; nil:
-- one class). With normalize, each row of Z and Zhat is first scaled to unit
-- ℓ2 norm. total = ΔR(Z) + ΔR(Ẑ) + Σ_j ΔR(Z_j, Ẑ_j) (a 0-dim tensor, the
-- quantity the encoder maximizes and the decoder minimizes); terms: {R_Z,
-- Rc_Z, delta_R_Z, R_Zhat, Rc_Zhat, delta_R_Zhat, delta_R_pairs (the sum),
-- pairs (list, one per class), classes (sorted class values)}.
function M.rate_reduction(Z, Zhat, labels, eps2, opts)
  local fname = "rate_reduction"
  check_features(fname, "argument 1 (Z)", Z, false)
  check_features(fname, "argument 2 (Zhat)", Zhat, false)
  if shape_str(Z) ~= shape_str(Zhat) then
    fail(fname, "Z (%s) and Zhat (%s) must have the same shape", shape_str(Z), shape_str(Zhat))
  end
  if type(eps2) == "table" and opts == nil then eps2, opts = nil, eps2 end
  eps2 = check_eps2(fname, eps2)
  if opts ~= nil and type(opts) ~= "table" then
    fail(fname, "expected an options table, got %s", type(opts))
  end
  opts = opts or {}
  check.options(opts, RR_OPTS, "sgen.F." .. fname, 0)
  if opts.normalize ~= nil and type(opts.normalize) ~= "boolean" then
    fail(fname, "option 'normalize' must be a boolean, got %s", type(opts.normalize))
  end
  local n = Z:size(1)
  if opts.normalize ~= false then
    Z, Zhat = normalize_rows(Z), normalize_rows(Zhat)
  end
  local classes, idx
  if labels == nil then
    classes, idx = {1}, {nil}
  else
    classes, idx = group(fname, labels, n, Z:device())
  end
  local R_Z, R_Zh = rate(Z, eps2), rate(Zhat, eps2)
  local Rc_Z, Rc_Zh, pair_sum
  local pairs_list = {}
  for j = 1, #classes do
    local Zj, Zhj = Z, Zhat
    if idx[j] then Zj, Zhj = Z:index_select(1, idx[j]), Zhat:index_select(1, idx[j]) end
    local nj = Zj:size(1)
    local rj, rhj
    if idx[j] then
      rj, rhj = rate(Zj, eps2), rate(Zhj, eps2)
    else -- one class (no labels): Z_j = Z, Ẑ_j = Ẑ, whose rates are computed above
      rj, rhj = R_Z, R_Zh
    end
    local rc, rch = rj * (nj / n), rhj * (nj / n)
    local pair = rate(sg.cat({Zj, Zhj}, 1), eps2) - (rj + rhj) * 0.5
    pairs_list[j] = pair
    if j == 1 then
      Rc_Z, Rc_Zh, pair_sum = rc, rch, pair
    else
      Rc_Z, Rc_Zh, pair_sum = Rc_Z + rc, Rc_Zh + rch, pair_sum + pair
    end
  end
  local dZ, dZh = R_Z - Rc_Z, R_Zh - Rc_Zh
  local total = dZ + dZh + pair_sum
  return total, {
    R_Z = R_Z, Rc_Z = Rc_Z, delta_R_Z = dZ,
    R_Zhat = R_Zh, Rc_Zhat = Rc_Zh, delta_R_Zhat = dZh,
    delta_R_pairs = pair_sum, pairs = pairs_list, classes = classes,
  }
end

return M
