-- Online dictionary learning (Mairal, Bach, Ponce, Sapiro 2009, "Online
-- dictionary learning for sparse coding", Algorithms 1 and 2 with the
-- mini-batch extension of their §3.4), the dictionary SPGAN pre-trains
-- (Mahdizadehaghdam et al., Eq. 5):
--
--   min_{D, R}  1/2 ||X - D R||_F^2 + lambda ||R||_1,  D in C (unit-norm columns)
--
--   local D, info = sg.sparse.learn_dictionary(patches, {atoms = 100, lambda = 0.1})
--   sg.save("omega.safetensors", {omega = D}, {metadata = {lambda = "0.1"}})
--   sg.image.write("atoms.png", sg.sparse.dictionary_atoms_image(D, {patch = {3, 3, 3}}))
--
-- Conventions: `patches` is N x m (one vectorised patch per row; N x C x p x p
-- is flattened to N x (C*p*p)); D comes back m x atoms, one atom per column,
-- every column of unit L2 norm. Computation is float64 on the patches'
-- device; D is returned in the patches' dtype (float32 or float64).
--
-- Per iteration t (a mini-batch X_t of eta rows, drawn without replacement
-- through successive random permutations of the rows):
--   * sparse codes: FISTA on the lasso  min_a 1/2 ||x - D a||^2 + lambda ||a||_1
--     (`code_iters` iterations from a = 0, step 1/L with L = the largest
--     eigenvalue of D^T D from sg.linalg.eigh; `nonneg = true` projects on
--     a >= 0 as well);
--   * statistics: A <- beta A + sum a a^T, B <- beta B + sum x a^T with the
--     §3.4 forgetting factor beta = (theta + 1 - eta) / (theta + 1),
--     theta = t*eta if t < eta else eta^2 + t - eta (`forget = false`: plain
--     sums, beta = 1);
--   * dictionary: `dict_iters` passes of block-coordinate descent over the
--     columns (Algorithm 2): u_j = (b_j - D a_j) / A_jj + d_j,
--     d_j = u_j / max(||u_j||, 1), warm-started from the previous D. An atom
--     with A_jj = 0 (never used so far) is replaced by a random patch of the
--     batch, normalised (§3.4, "purging the dictionary from unused atoms").
-- At the end every column is rescaled to unit norm (Algorithm 2 keeps
-- ||d_j|| <= 1; SPGAN's Omega has unit-norm columns).
--
-- The random draws (initial atoms, batch order, purges) come from
-- sg.manual_seed(seed) inside a saved/restored global RNG state: the caller's
-- stream is untouched and equal seeds give equal dictionaries.
local core = require "sgen.core"

local M = {}

local C = require("sgen.util.check").new("sgen.sparse.")
local is_tensor, fail, shape_str = C.is_tensor, C.fail, C.shape_str
local function check_opts(fname, opts, allowed) return C.check_opts(fname, opts, 2, allowed) end

local function pos_int(fname, name, v, default)
  if v == nil then return default end
  if math.type(v) ~= "integer" or v < 1 then
    fail(fname, "option '%s' expected a positive integer, got %s", name, tostring(v))
  end
  return v
end

-- ---------------------------------------------------------------- pieces

-- The largest eigenvalue of the Gram matrix G = D^T D (k x k), i.e. ||D||_2^2.
local function lipschitz(G)
  local L = core.linalg.eigh(G)
  local v = L[L:size(1)]:item()
  return v
end

-- FISTA for the rows of X (n x m) on D (m x k): the n x k codes minimising
-- 1/2 ||x - D a||^2 + lambda ||a||_1 (a >= 0 with nonneg). G = D^T D, L its
-- largest eigenvalue.
local function fista(X, D, G, L, lambda, iters, nonneg)
  local C = X:matmul(D)                          -- n x k: D^T x per row
  local k = D:size(2)
  local S = core.zeros({X:size(1), k}, {dtype = "float64", device = X:device()})
  if L <= 0 then return S end                    -- D = 0: the codes are 0
  local Y, t = S, 1.0
  local step, thr = 1.0 / L, lambda / L
  for _ = 1, iters do
    local V = Y - (Y:matmul(G) - C) * step
    local Snew
    if nonneg then Snew = (V - thr):relu() else Snew = core.soft_threshold(V, thr) end
    local tnew = (1 + math.sqrt(1 + 4 * t * t)) / 2
    Y = Snew + (Snew - S) * ((t - 1) / tnew)
    S, t = Snew, tnew
  end
  return S
end

-- Mean over the rows of 1/2 ||x - D a||^2 + lambda ||a||_1.
local function objective(X, D, S, lambda)
  local R = X - S:matmul(D:t())
  return (0.5 * (R * R):sum():item() + lambda * S:abs():sum():item()) / X:size(1)
end

-- Full-data objective, coding the rows in chunks.
local function full_objective(X, D, lambda, iters, nonneg)
  local G = D:t():matmul(D)
  local L = lipschitz(G)
  local n, chunk, total = X:size(1), 4096, 0
  for s = 1, n, chunk do
    local len = math.min(chunk, n - s + 1)
    local Xc = X:narrow(1, s, len)
    local S = fista(Xc, D, G, L, lambda, iters, nonneg)
    total = total + objective(Xc, D, S, lambda) * len
  end
  return total / n
end

-- Columns with norm below tiny get a random Gaussian direction; then every
-- column is divided by max(norm, 1) (ball = true) or by its norm.
local function normalise_columns(D, ball)
  local norms = D:norm(2, 1, true)               -- 1 x k
  local nt = norms:totable()[1]
  for j, v in ipairs(nt) do
    if not (v > 1e-12) then
      local r = core.randn(D:size(1), 1, {dtype = "float64", device = D:device()})
      D:narrow(2, j, 1):copy_(r / r:norm():item())
      nt[j] = 1
    end
  end
  local scale = core.tensor({nt}, {dtype = "float64", device = D:device()})
  if ball then scale = scale:clamp(1) end
  return D / scale
end

-- ---------------------------------------------------------------- learn_dictionary

local LEARN_OPTS = {"atoms", "lambda", "iters", "batch_size", "seed", "code_iters", "dict_iters",
  "nonneg", "init", "forget", "full_objective", "verbose"}

-- learn_dictionary(patches, opts) -> D (m x atoms), info. See the header.
-- info: objective (list, per iteration: the mini-batch objective of the
-- codes just computed, before that iteration's dictionary update),
-- objective_init / objective_final (full data, initial and final D; absent
-- with full_objective = false), replaced (atoms purged), lambda, atoms,
-- patch_shape (C, p, p for 4-dim input, else nil), iters, batch_size, seed.
function M.learn_dictionary(patches, opts)
  local fname = "learn_dictionary"
  if not is_tensor(patches) then
    fail(fname, "argument 1 (patches) expected a tensor, got %s", type(patches))
  end
  if patches:is_freed() then fail(fname, "argument 1 (patches) is a freed tensor") end
  opts = check_opts(fname, opts, LEARN_OPTS)
  local dt = patches:dtype()
  if dt ~= "float32" and dt ~= "float64" then
    fail(fname, "argument 1 (patches) has dtype %s, expected float32 or float64", dt)
  end
  local patch_shape
  local X = patches
  if X:dim() == 4 then
    patch_shape = {X:size(2), X:size(3), X:size(4)}
    X = X:reshape(X:size(1), -1)
  elseif X:dim() ~= 2 then
    fail(fname, "argument 1 (patches) has %d dims (%s), expected 2 (N x m) or 4 (N x C x p x p)",
      X:dim(), shape_str(X))
  end
  local N, m = X:size(1), X:size(2)
  if N < 1 or m < 1 then fail(fname, "argument 1 (patches) is empty (%s)", shape_str(patches)) end
  if opts.atoms == nil then fail(fname, "option 'atoms' (the number of atoms) is required") end
  local k = pos_int(fname, "atoms", opts.atoms)
  local lambda = opts.lambda
  if lambda == nil then lambda = 1.2 / math.sqrt(m) end
  if type(lambda) ~= "number" or lambda ~= lambda or lambda < 0 or lambda == math.huge then
    fail(fname, "option 'lambda' expected a finite number >= 0, got %s", tostring(lambda))
  end
  local iters = pos_int(fname, "iters", opts.iters, 1000)
  local bs = math.min(pos_int(fname, "batch_size", opts.batch_size, 256), N)
  local code_iters = pos_int(fname, "code_iters", opts.code_iters, 100)
  local dict_iters = pos_int(fname, "dict_iters", opts.dict_iters, 1)
  local init = opts.init or "data"
  if init ~= "data" and init ~= "random" then
    fail(fname, "option 'init' expected \"data\" or \"random\", got %s", tostring(init))
  end
  if init == "data" and N < k then
    fail(fname, "init = \"data\" takes %d distinct patches as the initial atoms, but there are only %d " ..
      "(use init = \"random\" or fewer atoms)", k, N)
  end
  for _, name in ipairs({"nonneg", "forget", "full_objective", "verbose"}) do
    if opts[name] ~= nil and type(opts[name]) ~= "boolean" then
      fail(fname, "option '%s' expected a boolean, got %s", name, type(opts[name]))
    end
  end
  local nonneg = opts.nonneg == true
  local forget = opts.forget ~= false
  local want_full = opts.full_objective ~= false
  local verbose = opts.verbose == true
  local seed = opts.seed
  if seed == nil then seed = core.initial_seed() end
  if math.type(seed) ~= "integer" then
    fail(fname, "option 'seed' expected an integer, got %s", tostring(seed))
  end

  local function body()
    X = X:detach():to("float64")
    if (X - X):ne(0):sum():item() > 0 then
      fail(fname, "argument 1 (patches) contains NaN or Inf")
    end
    core.manual_seed(seed)
    local dev = X:device()
    local f64 = {dtype = "float64", device = dev}
    -- initial dictionary
    local D
    if init == "data" then
      local idx = core.randperm(N):narrow(1, 1, k)
      if dev ~= "cpu" then idx = idx:to(dev) end
      D = X:index_select(1, idx):t():contiguous()
    else
      D = core.randn({m, k}, f64)
    end
    D = normalise_columns(D, false):contiguous()
    local info = {objective = {}, replaced = 0, lambda = lambda, atoms = k, iters = iters,
      batch_size = bs, seed = seed, patch_shape = patch_shape, forget = forget}
    if want_full then info.objective_init = full_objective(X, D, lambda, code_iters, nonneg) end
    local A = core.zeros({k, k}, f64)
    local B = core.zeros({m, k}, f64)
    local perm, pos = nil, N + 1
    local report = math.max(1, iters // 10)
    for t = 1, iters do
      if pos + bs - 1 > N then perm, pos = core.randperm(N), 1 end
      local idx = perm:narrow(1, pos, bs)
      if dev ~= "cpu" then idx = idx:to(dev) end
      pos = pos + bs
      local Xb = X:index_select(1, idx)
      local G = D:t():matmul(D)
      local S = fista(Xb, D, G, lipschitz(G), lambda, code_iters, nonneg)
      info.objective[t] = objective(Xb, D, S, lambda)
      local beta = 1
      if forget then
        local theta = (t < bs) and (t * bs) or (bs * bs + t - bs)
        beta = (theta + 1 - bs) / (theta + 1)
      end
      A = A * beta + S:t():matmul(S)
      B = B * beta + Xb:t():matmul(S)
      -- Algorithm 2: block-coordinate descent over the columns
      local diagA = core.linalg.diagonal(A):totable()
      local amax = 0
      for _, v in ipairs(diagA) do if v > amax then amax = v end end
      for _ = 1, dict_iters do
        for j = 1, k do
          local dj = D:narrow(2, j, 1)
          if not (diagA[j] > 1e-12 * amax) or amax == 0 then
            -- unused atom: a random patch of this batch, normalised
            local r = Xb[core.randint(1, bs + 1, {1}):item()]:reshape(m, 1)
            local nr = r:norm():item()
            if not (nr > 1e-12) then
              r = core.randn({m, 1}, f64)
              nr = r:norm():item()
            end
            dj:copy_(r / nr)
            info.replaced = info.replaced + 1
          else
            local u = (B:narrow(2, j, 1) - D:matmul(A:narrow(2, j, 1))) / diagA[j] + dj
            local nu = u:norm():item()
            dj:copy_(u / math.max(nu, 1))
          end
        end
      end
      if verbose and (t % report == 0 or t == 1 or t == iters) then
        print(string.format("learn_dictionary: iter %d/%d  batch objective %.6g", t, iters, info.objective[t]))
      end
    end
    D = normalise_columns(D, false):contiguous()
    if want_full then
      info.objective_final = full_objective(X, D, lambda, code_iters, nonneg)
      if verbose then
        print(string.format("learn_dictionary: full-data objective %.6g (initial %.6g)",
          info.objective_final, info.objective_init))
      end
    end
    return D:to(dt), info
  end

  local state = core.get_rng_state()
  local res = table.pack(pcall(core.no_grad, body))
  core.set_rng_state(state)
  if not res[1] then error(res[2], 0) end
  return res[2], res[3]
end

-- ---------------------------------------------------------------- atoms image

-- dictionary_atoms_image(D, {patch = {C, p, q}, nrow = 10, padding = 1,
-- scale_each = true}) -> C x H' x W' float32 grid of the atoms (the columns
-- of D reshaped to C x p x q), each atom mapped to [0, 1] by its own min/max
-- (scale_each = false: one min/max for all), through sg.image.grid.
-- `patch` defaults to {1, s, s} when m = s^2 is a square.
function M.dictionary_atoms_image(D, opts)
  local fname = "dictionary_atoms_image"
  if not is_tensor(D) then fail(fname, "argument 1 (D) expected a tensor, got %s", type(D)) end
  if D:dim() ~= 2 then
    fail(fname, "argument 1 (D) has %d dims (%s), expected 2 (m x atoms)", D:dim(), shape_str(D))
  end
  opts = check_opts(fname, opts, {"patch", "nrow", "padding", "scale_each"})
  local m, k = D:size(1), D:size(2)
  local patch = opts.patch
  if patch == nil then
    local s = math.floor(math.sqrt(m) + 0.5)
    if s * s ~= m then
      fail(fname, "option 'patch' ({C, p, q}) is required: m = %d is not a square", m)
    end
    patch = {1, s, s}
  end
  if type(patch) ~= "table" or #patch ~= 3 then
    fail(fname, "option 'patch' expected {C, p, q}, got %s", type(patch))
  end
  for _, v in ipairs(patch) do
    if math.type(v) ~= "integer" or v < 1 then
      fail(fname, "option 'patch' expected positive integers {C, p, q}, got %s", tostring(v))
    end
  end
  if patch[1] * patch[2] * patch[3] ~= m then
    fail(fname, "option 'patch' {%d, %d, %d} has %d entries, but the atoms have m = %d",
      patch[1], patch[2], patch[3], patch[1] * patch[2] * patch[3], m)
  end
  local image = require "sgen.image"
  local atoms = D:detach():t():contiguous():reshape(k, patch[1], patch[2], patch[3]):float()
  return image.grid(atoms, {nrow = opts.nrow or math.max(1, math.ceil(math.sqrt(k))),
    padding = opts.padding or 1, normalize = true, scale_each = opts.scale_each ~= false,
    pad_value = 0})
end

return M
