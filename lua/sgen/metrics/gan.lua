-- sg.metrics GAN metrics for Fashion-MNIST: frechet_features, fid, kid,
-- inception_score, feature_network (merged into sg.metrics by
-- lua/sgen/metrics.lua; this file is sgen.metrics.gan).
--
-- !!! FID HERE IS NOT INCEPTION-FID !!!
-- "FID" in sgen means the Fréchet distance between Gaussians fitted to the
-- 128-d penultimate features of sgen's own Fashion-MNIST classifier
-- (models/fmnist_cnn.lua at 32x32, weights data/fmnist_features.safetensors,
-- trained by tools/train_feature_net.sh), not to Inception-v3 pool features.
-- KID and the "inception score" likewise use that classifier (its 128
-- features, its 10-class softmax). The numbers compare variants WITHIN sgen
-- measured with the same weights file; they are on another scale than
-- published Inception-FID/KID/IS values and must never be put next to them.
--
--   local sg = require "sgen"
--   local fa = sg.metrics.frechet_features(fake)     -- N x 1 x 32 x 32 in [-1,1] -> N x 128 float64
--   local fb = sg.metrics.frechet_features(real)
--   local d2 = sg.metrics.fid(fa, fb)                -- a number
--   local kid, kid_std = sg.metrics.kid(fa, fb, {subsets = 100, subset_size = 1000})
--   local is, is_std = sg.metrics.inception_score(fake, {splits = 10})
--
-- Images are in the layout of every GAN of sgen: 1 x 32 x 32 in [-1,1],
-- Fashion-MNIST padded by 2 with the background -1 (sg.data.fashion_mnist32).
--
-- fid(a, b): rows are samples (N x d), means and covariances with the N-1
-- denominator (as pytorch-fid, numpy's np.cov), all in float64:
--   d^2 = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))
-- with tr((S_a S_b)^(1/2)) = tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)) = sum sqrt(max(eig, 0))
-- of the symmetric S_a^(1/2) S_b S_a^(1/2), S_a^(1/2) = V diag(sqrt(max(lambda, 0))) V^T
-- from sg.linalg.eigh(S_a). (pytorch-fid uses scipy's general sqrtm of S_a S_b;
-- for covariance matrices the two agree to rounding.)
--
-- kid(a, b): the unbiased MMD^2 estimate with the polynomial kernel
-- k(x, y) = (gamma x.y + coef)^degree (gamma = 1/d, coef = 1, degree = 3:
-- the KID paper's and torch-fidelity's kernel), on `subsets` random subsets of
-- subset_size rows drawn without replacement from each set; returns the mean
-- and the standard deviation (population, as np.std) over the subsets. The
-- subsets come from sg.randperm after sg.manual_seed(seed) with the global RNG
-- state saved and restored: the caller's random stream is untouched.
--
-- inception_score(images or probs): exp(E_x KL(p(y|x) || p(y))) per split
-- (the OpenAI code's contiguous splits, p(y) the split's mean), mean and
-- population standard deviation over the splits; p(y|x) is the classifier's
-- softmax over the 10 Fashion-MNIST classes, so it lies in [1, 10].
local sg = require "sgen"

local M = {}

local C = require("sgen.util.check").new("sgen.metrics.")
local fail, is_tensor, typename, shape_str = C.fail, C.is_tensor, C.typename, C.shape_str
local check_opts, opt_int = C.check_opts, C.opt_int

-- opts[key]: a finite number, positive when asked.
local function opt_num(fname, opts, key, def, positive)
  return C.opt_number(fname, opts, key, def, positive and "positive" or nil)
end

local function check_tensor(fname, v, idx, name)
  if not is_tensor(v) then
    fail(fname, "argument %d (%s) expected a tensor, got %s", idx, name, typename(v))
  end
  if v:is_freed() then
    fail(fname, "argument %d (%s) is a freed tensor (t:free() was called on it)", idx, name)
  end
  local dt = v:dtype()
  if dt ~= "float32" and dt ~= "float64" then
    fail(fname, "%s has dtype %s, expected float32 or float64", name, dt)
  end
end

-- true when t (float) holds a NaN or an infinity
local function non_finite(t)
  local d = t:detach()
  local bad = d:ne(d):logical_or(d:abs():eq(math.huge)):sum():item()
  return bad > 0
end

---------------------------------------------------------------------------
-- The feature network
---------------------------------------------------------------------------

-- The repository root, from this file's path (lua/sgen/metrics/gan.lua).
local function source_root()
  local src = debug.getinfo(1, "S").source
  if src:sub(1, 1) == "@" then
    local root = src:sub(2):match("^(.*)/lua/sgen/metrics/gan%.lua$")
    if root then return root end
    if src:sub(2) == "lua/sgen/metrics/gan.lua" then return "." end
  end
  return os.getenv("SGEN_SOURCE_DIR") or "."
end

local ROOT = source_root()
--- The committed weights of the feature network (tools/train_feature_net.sh).
M.FEATURES_WEIGHTS = ROOT .. "/data/fmnist_features.safetensors"

local cache = {} -- weights path .. "|" .. device -> {model =, meta =}

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function load_network(fname, path, device)
  if type(path) ~= "string" then
    fail(fname, "option 'weights' expected a file path, got %s", typename(path))
  end
  local key = path .. "|" .. device
  local hit = cache[key]
  if hit then return hit.model, hit.meta end
  if not file_exists(path) then
    fail(fname, "feature network weights '%s' not found (the committed file is "
      .. "data/fmnist_features.safetensors; tools/train_feature_net.sh makes it)", path)
  end
  local okl, sd, meta = pcall(sg.load, path)
  if not okl then fail(fname, "cannot read the weights '%s': %s", path, tostring(sd)) end
  meta = meta or {}
  local size = tonumber(meta.size or "32")
  if size ~= 32 then
    fail(fname, "the weights '%s' are for %sx%s inputs; the GAN metrics need the 32x32 network",
      path, tostring(meta.size), tostring(meta.size))
  end
  local FmnistCNN
  local okr, mod = pcall(require, "models.fmnist_cnn")
  if okr then FmnistCNN = mod else
    local chunk, err = loadfile(ROOT .. "/models/fmnist_cnn.lua")
    if not chunk then fail(fname, "cannot load models/fmnist_cnn.lua: %s", tostring(err)) end
    FmnistCNN = chunk()
  end
  local model = FmnistCNN({size = 32})
  local okd, err = pcall(function() model:load_state_dict(sd) end)
  if not okd then fail(fname, "the weights '%s' do not fit models/fmnist_cnn.lua: %s", path, tostring(err)) end
  model:eval()
  if device ~= "cpu" then model:to(device) end
  for _, p in ipairs(model:parameters()) do p:requires_grad_(false) end
  cache[key] = {model = model, meta = meta}
  return model, meta
end

--- sg.metrics.feature_network([{weights =, device = "cpu"}]) -> model, metadata:
-- the cached classifier (eval mode) behind the GAN metrics and the metadata
-- of its weights file (test_acc, seed, command, commit, input, ...).
function M.feature_network(opts)
  local fname = "feature_network"
  opts = check_opts(fname, opts, 1, {"weights", "device"})
  return load_network(fname, opts.weights or M.FEATURES_WEIGHTS, opts.device or "cpu")
end

local function check_images(fname, x, idx)
  check_tensor(fname, x, idx, "images")
  if x:dim() ~= 4 or x:size(2) ~= 1 or x:size(3) ~= 32 or x:size(4) ~= 32 then
    fail(fname, "images are %s, expected Nx1x32x32 (Fashion-MNIST padded by 2, in [-1,1]; "
      .. "sg.data.fashion_mnist32 gives this layout)", shape_str(x))
  end
  if x:size(1) < 1 then fail(fname, "images are empty (%s)", shape_str(x)) end
  if non_finite(x) then fail(fname, "images contain NaN or inf") end
  local lo, hi = x:min():item(), x:max():item()
  if lo < -1.001 or hi > 1.001 then
    fail(fname, "pixels span [%g, %g], expected [-1,1] (map [0,1] images with x * 2 - 1)", lo, hi)
  end
end

-- Runs the network over images in batches: what(model, xb) -> a float tensor
-- per batch; returns the float64 CPU concatenation.
local function run_network(fname, x, opts, what)
  local bs = opt_int(fname, opts, "batch_size", 500, 1)
  local device = x:device()
  local model = load_network(fname, opts.weights or M.FEATURES_WEIGHTS, device)
  local n = x:size(1)
  local parts = {}
  sg.no_grad(function()
    for start = 1, n, bs do
      local len = math.min(bs, n - start + 1)
      local xb = x:narrow(1, start, len):detach()
      if xb:dtype() ~= "float32" then xb = xb:float() end
      parts[#parts + 1] = what(model, xb):double():cpu()
    end
  end)
  if #parts == 1 then return parts[1] end
  local out = sg.cat(parts, 1)
  for _, p in ipairs(parts) do p:free() end
  return out
end

--- sg.metrics.frechet_features(images, [{batch_size = 500, weights =}]) ->
-- N x 128 float64 (CPU): the penultimate features of the feature network
-- in eval mode, without autograd.
function M.frechet_features(images, opts)
  local fname = "frechet_features"
  check_images(fname, images, 1)
  opts = check_opts(fname, opts, 2, {"batch_size", "weights"})
  return run_network(fname, images, opts, function(model, xb) return model:features(xb) end)
end

---------------------------------------------------------------------------
-- Fréchet distance
---------------------------------------------------------------------------

local function check_features(fname, a, b)
  check_tensor(fname, a, 1, "feats_a")
  check_tensor(fname, b, 2, "feats_b")
  for _, p in ipairs({{a, "feats_a"}, {b, "feats_b"}}) do
    local t, name = p[1], p[2]
    if t:dim() ~= 2 then
      fail(fname, "%s has %d dims (%s), expected 2 (N x d, rows are samples)", name, t:dim(), shape_str(t))
    end
    if t:size(1) < 2 then
      fail(fname, "%s has %d sample(s) (%s), need at least 2", name, t:size(1), shape_str(t))
    end
    if t:size(2) < 1 then fail(fname, "%s has no feature columns (%s)", name, shape_str(t)) end
    if non_finite(t) then fail(fname, "%s contains NaN or inf", name) end
  end
  if a:size(2) ~= b:size(2) then
    fail(fname, "feats_a has %d features per sample and feats_b %d (%s and %s), expected the same d",
      a:size(2), b:size(2), shape_str(a), shape_str(b))
  end
end

-- mean (d) and covariance (d x d, N-1 denominator), sum of squared deviations / (N-1) = trace
local function stats(x)
  local n = x:size(1)
  local mu = x:mean(1)
  local xc = x - mu
  local cov = xc:t():matmul(xc) / (n - 1)
  xc:free()
  return mu, cov
end

-- sum of sqrt(max(eig, 0)) of the symmetric positive semi-definite s
local function trace_sqrt_psd(s)
  local ev = sg.linalg.eigh(s)
  local r = ev:clamp(0, nil):sqrt():sum():item()
  ev:free()
  return r
end

--- sg.metrics.frechet_distance(mu_a, sigma_a, mu_b, sigma_b) -> number: the
-- Fréchet distance of two Gaussians (float64 tensors: d means, d x d covariances).
function M.frechet_distance(mu_a, sa, mu_b, sb)
  if not (sg.linalg and sg.linalg.eigh) then
    fail("fid", "needs sg.linalg.eigh, which this build of sgen.core lacks (rebuild it)")
  end
  local fname = "frechet_distance"
  local names = {"mu_a", "sigma_a", "mu_b", "sigma_b"}
  for i, t in ipairs({mu_a, sa, mu_b, sb}) do check_tensor(fname, t, i, names[i]) end
  local d = mu_a:numel()
  for i, t in ipairs({mu_a, sa, mu_b, sb}) do
    local want = (i % 2 == 1) and tostring(d) or (d .. "x" .. d)
    if shape_str(t) ~= want then
      fail(fname, "%s is %s, expected %s (d means, d x d covariances)", names[i], shape_str(t), want)
    end
  end
  mu_a, sa, mu_b, sb = mu_a:double(), sa:double(), mu_b:double(), sb:double()
  local diff = mu_a - mu_b
  local mean_term = (diff * diff):sum():item()
  diff:free()
  local eye = sg.eye(sa:size(1), {dtype = "float64", device = sa:device()})
  local tr_a, tr_b = (sa * eye):sum():item(), (sb * eye):sum():item()
  eye:free()
  -- S_a^(1/2) = V diag(sqrt(max(lambda, 0))) V^T
  local lam, v = sg.linalg.eigh(sa)
  local vs = v * lam:clamp(0, nil):sqrt()                -- columns scaled
  local root_a = vs:matmul(v:t())
  local m = root_a:matmul(sb):matmul(root_a)
  local msym = (m + m:t()) * 0.5                          -- symmetric up to rounding: make it exact
  local tr_sqrt = trace_sqrt_psd(msym)
  for _, t in ipairs({lam, v, vs, root_a, m, msym}) do t:free() end
  return mean_term + tr_a + tr_b - 2 * tr_sqrt
end

--- sg.metrics.fid(feats_a, feats_b) -> number: the Fréchet distance of the
-- Gaussians fitted to two N x d feature sets (rows are samples), float64.
function M.fid(a, b)
  local fname = "fid"
  check_features(fname, a, b)
  local xa, xb = a:detach():double(), b:detach():double()
  if xb:device() ~= xa:device() then xb = xb:to(xa:device()) end
  local mu_a, sa = stats(xa)
  local mu_b, sb = stats(xb)
  local d2 = M.frechet_distance(mu_a, sa, mu_b, sb)
  for _, t in ipairs({mu_a, sa, mu_b, sb}) do t:free() end
  return d2
end

---------------------------------------------------------------------------
-- KID
---------------------------------------------------------------------------

-- unbiased MMD^2 of two m x d float64 sets with the polynomial kernel
local function mmd2_poly(x, y, gamma, coef, degree)
  local m = x:size(1)
  local function kernel(p, q) return (p:matmul(q:t()) * gamma + coef):pow(degree) end
  local function diag_sum(p) return ((p * p):sum(2) * gamma + coef):pow(degree):sum():item() end
  local kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
  local sxx = kxx:sum():item() - diag_sum(x)
  local syy = kyy:sum():item() - diag_sum(y)
  local sxy = kxy:sum():item()
  kxx:free(); kyy:free(); kxy:free()
  return (sxx + syy) / (m * (m - 1)) - 2 * sxy / (m * m)
end

--- sg.metrics.kid(feats_a, feats_b, [{subsets = 100, subset_size = 1000,
-- degree = 3, gamma = 1/d, coef = 1, seed = 2020}]) -> mean, std
function M.kid(a, b, opts)
  local fname = "kid"
  check_features(fname, a, b)
  opts = check_opts(fname, opts, 3, {"subsets", "subset_size", "degree", "gamma", "coef", "seed"})
  local d = a:size(2)
  local subsets = opt_int(fname, opts, "subsets", 100, 1)
  local m = opt_int(fname, opts, "subset_size", 1000, 2)
  local degree = opt_int(fname, opts, "degree", 3, 1)
  local gamma = opt_num(fname, opts, "gamma", 1 / d, true)
  local coef = opt_num(fname, opts, "coef", 1, false)
  local seed = opt_int(fname, opts, "seed", 2020, math.mininteger)
  local na, nb = a:size(1), b:size(1)
  if m > na or m > nb then
    fail(fname, "subset_size %d is larger than the feature sets (%d and %d samples); "
      .. "pass a smaller {subset_size = }", m, na, nb)
  end
  local xa, xb = a:detach():double(), b:detach():double()
  if xb:device() ~= xa:device() then xb = xb:to(xa:device()) end
  local vals = {}
  local state = sg.get_rng_state()
  local ok, err = pcall(function()
    sg.manual_seed(seed)
    for s = 1, subsets do
      -- the features' device: the same permutations there (one Philox stream for every device)
      local ia = sg.randperm(na, {device = xa:device()}):narrow(1, 1, m)
      local ib = sg.randperm(nb, {device = xa:device()}):narrow(1, 1, m)
      local x, y = xa:index_select(1, ia), xb:index_select(1, ib)
      vals[s] = mmd2_poly(x, y, gamma, coef, degree)
      x:free(); y:free()
    end
  end)
  sg.set_rng_state(state)
  if not ok then error(err, 0) end
  local mean = 0
  for _, v in ipairs(vals) do mean = mean + v end
  mean = mean / #vals
  local var = 0
  for _, v in ipairs(vals) do var = var + (v - mean) ^ 2 end
  return mean, math.sqrt(var / #vals)
end

---------------------------------------------------------------------------
-- Inception score (with the Fashion-MNIST classifier)
---------------------------------------------------------------------------

--- sg.metrics.inception_score(images | probs, [{splits = 10, batch_size = 500,
-- weights =}]) -> mean, std. images: N x 1 x 32 x 32 in [-1,1]; probs: N x K
-- class probabilities (rows summing to 1), e.g. from another classifier.
function M.inception_score(x, opts)
  local fname = "inception_score"
  opts = check_opts(fname, opts, 2, {"splits", "batch_size", "weights"})
  local splits = opt_int(fname, opts, "splits", 10, 1)
  check_tensor(fname, x, 1, "images or probs")
  local logp
  if x:dim() == 4 then
    check_images(fname, x, 1)
    logp = run_network(fname, x, opts, function(model, xb)
      return model(xb):double():log_softmax(2)
    end)
  elseif x:dim() == 2 then
    if non_finite(x) then fail(fname, "probs contain NaN or inf") end
    local p = x:detach():double():cpu()
    if p:min():item() < 0 then fail(fname, "probs has negative entries") end
    local dev = (p:sum(2) - 1):abs():max():item()
    if dev > 1e-3 then
      fail(fname, "the rows of probs must sum to 1 (off by up to %g); pass probabilities, "
        .. "not logits (x:softmax(2))", dev)
    end
    logp = p:clamp(1e-30, nil):log()
  else
    fail(fname, "argument 1 has %d dims (%s), expected Nx1x32x32 images or NxK probabilities",
      x:dim(), shape_str(x))
  end
  local n = logp:size(1)
  if n < splits then
    fail(fname, "%d samples are fewer than the %d splits (option 'splits')", n, splits)
  end
  local p = logp:exp()
  local scores = {}
  for k = 0, splits - 1 do
    local s, e = (k * n) // splits, ((k + 1) * n) // splits
    local pk, lk = p:narrow(1, s + 1, e - s), logp:narrow(1, s + 1, e - s)
    local py = pk:mean(1)
    local kl = (pk * (lk - py:clamp(1e-30, nil):log())):sum(2):mean():item()
    scores[#scores + 1] = math.exp(kl)
  end
  p:free(); logp:free()
  local mean = 0
  for _, v in ipairs(scores) do mean = mean + v end
  mean = mean / #scores
  local var = 0
  for _, v in ipairs(scores) do var = var + (v - mean) ^ 2 end
  return mean, math.sqrt(var / #scores)
end

return M
