-- Convolutional sparse coding layers (SDNet / CSC-CTRL):
--   nn.CSC(in_channels, atoms, kernel_size, {stride=1, padding=0, lambda=0.1,
--          iters=2, algorithm="fista"|"ista", nonneg=true, normalize=true,
--          power_iters=50, power_tol=1e-5, refresh_every=50, dtype=, device=})
--   nn.CSCDecoder(csc, {output_padding=0 | output_size={H, W}, normalize=})
--
-- The dictionary `weight` is atoms x in_channels x k x k, conv_transpose2d's
-- weight layout:
--   A(z)  = conv_transpose2d(z, W, {stride, padding, output_padding})   codes -> images
--   Aᵀ(x) = conv2d(x, W, {stride, padding})                             images -> codes
-- CSC:forward(x) returns z ≈ argmin_z λ‖z‖₁ + ½‖x − A(z)‖² by `iters` unrolled
-- FISTA (or ISTA) steps from z = 0, differentiable through every step (conv
-- ops only, so double backward works too):
--   z₁ = prox(step·Aᵀx),  z_{k+1} = prox(y_k + step·Aᵀ(x − A y_k)),
--   FISTA: t₁ = 1, t_{k+1} = (1 + √(1 + 4t_k²))/2, y_{k+1} = z_{k+1} + (t_k − 1)/t_{k+1}·(z_{k+1} − z_k)
--   (y₁ = z₁, so the first momentum is (t₂ − 1)/t₃ with t₂ = (1+√5)/2); ISTA: y_k = z_k.
--   prox(v) = soft_threshold(v, λ·step), then ReLU when nonneg (= relu(v − λ·step)).
-- step = 0.9 / L with L = ‖A‖² = λ_max(AᵀA) by power iteration on the layer's
-- geometry for x's code shape (deterministic start: a fixed-seed uniform code
-- map; the global RNG stream is left untouched), computed without gradient
-- and cached. It is recomputed when the code shape, dtype or device
-- changes, after every `refresh_every` forwards in training mode, and at the
-- first eval-mode forward after training forwards (so inference uses the
-- current dictionary's L). After editing the weight in place by hand, call
-- layer:refresh(x) or layer:invalidate().
-- The cache is part of the state (exact resume): two persistent buffers,
--   power_L      float64, 0-dim: L (0 until computed)
--   power_state  int64 {7}: training forwards since L was computed, then the
--                code shape {atoms, h, w}, A's output_padding {op1, op2} and
--                the weight's dtype code (1 float32, 2 float64, 3 float16,
--                4 bfloat16) it was computed for (atoms = 0: none)
-- so save -> load_state_dict restores L and the refresh schedule exactly and
-- the next forwards are bitwise those of the saved layer. The buffers are the
-- truth (forward reads them: one host read each); `layer.L` is a read-only
-- mirror (a number) set by every forward and refresh. A loaded L is trusted
-- on whatever device the layer is on; moving a layer (to) whose L was
-- computed on another device recomputes it. A power_L cast to another dtype
-- (module:to(dtype)) is recomputed.
-- forward(x, {detach_dictionary = true}) solves with the weight detached (the
-- same values and L, no gradient to the dictionary through this layer; CTRL's
-- Strategy 1 min step).
-- With normalize = true, forward (and CSCDecoder's forward) first rescales
-- every atom to unit ℓ2 norm (over C·k·k) in place under no_grad, skipping
-- the write when every atom is already of unit norm (within 1e-6; 1e-12 in
-- float64), so that a second forward within one graph (CTRL's Ẑ = f(g(f(X))))
-- does not rewrite a tensor the first one saved.
local sg = require "sgen"
local core = require "sgen.core"
local U = require "sgen.nn.util"
local M = require "sgen.nn.module"
local LIN = require("sgen.nn.linear")._helpers

local Module = M.Module

local POWER_SEED = 20240607 -- the power iteration's start vector

local function pyfloat(v) return U.pyfloat(v + 0.0) end

-- ---------------------------------------------------------------- the operators
local function op_A(z, W, stride, padding, output_padding)
  return core.conv_transpose2d(z, W, nil, {stride = stride, padding = padding,
                                           output_padding = output_padding})
end

local function op_At(x, W, stride, padding)
  return core.conv2d(x, W, nil, {stride = stride, padding = padding})
end

-- The code map's spatial size {h, w} for an image of spatial size {H, W},
-- and the output_padding that makes A(z) H x W again.
local function code_geometry(name, HW, k, s, p)
  local hw, op = {}, {}
  for i = 1, 2 do
    local span = HW[i] + 2 * p[i] - k[i]
    if span < 0 then
      U.fail(name, "input of spatial size %dx%d is smaller than the kernel %dx%d with padding %d",
        HW[1], HW[2], k[1], k[2], p[i])
    end
    hw[i] = span // s[i] + 1
    op[i] = span % s[i]
  end
  return hw, op
end

-- ---------------------------------------------------------------- nn.CSC
local CSC = Module:extend("CSC")

local CSC_OPTS = {"stride", "padding", "lambda", "iters", "algorithm", "nonneg", "normalize",
                  "power_iters", "power_tol", "refresh_every", "dtype", "device"}

function CSC:init(in_channels, atoms, kernel_size, opts)
  local name = "CSC"
  local o = U.opts(name, opts, CSC_OPTS)
  self.in_channels = U.int(name, "in_channels", in_channels, 1)
  self.atoms = U.int(name, "atoms", atoms, 1)
  self.kernel_size = U.pair(name, "kernel_size", kernel_size, 1)
  self.stride = U.pair(name, "option 'stride'", o.stride == nil and 1 or o.stride, 1)
  self.padding = U.pair(name, "option 'padding'", o.padding == nil and 0 or o.padding, 0)
  self.lambda = U.num(name, "option 'lambda'", o.lambda == nil and 0.1 or o.lambda, 0)
  self.iters = U.int(name, "option 'iters'", o.iters == nil and 2 or o.iters, 1)
  local alg = o.algorithm == nil and "fista" or o.algorithm
  if alg ~= "fista" and alg ~= "ista" then
    U.fail(name, "option 'algorithm' must be \"fista\" or \"ista\", got %s",
      type(alg) == "string" and ('"' .. alg .. '"') or U.typename(alg))
  end
  self.algorithm = alg
  self.nonneg = o.nonneg == nil and true or U.bool(name, "option 'nonneg'", o.nonneg)
  self.normalize = o.normalize == nil and true or U.bool(name, "option 'normalize'", o.normalize)
  self.power_iters = U.int(name, "option 'power_iters'", o.power_iters == nil and 50 or o.power_iters, 1)
  local tol = o.power_tol == nil and 1e-5 or o.power_tol
  if type(tol) ~= "number" or not (tol > 0) then
    U.fail(name, "option 'power_tol' must be a positive number, got %s",
      type(tol) == "number" and tostring(tol) or U.typename(tol))
  end
  self.power_tol = tol
  self.refresh_every = U.int(name, "option 'refresh_every'",
    o.refresh_every == nil and 50 or o.refresh_every, 1)
  local k = self.kernel_size
  self.weight = LIN.new_param({self.atoms, self.in_channels, k[1], k[2]}, o)
  local dev = o.device and {device = o.device} or nil
  self:register_buffer("power_L", sg.zeros({}, {dtype = "float64", device = dev and dev.device}))
  self:register_buffer("power_state", sg.zeros({7}, {dtype = "int64", device = dev and dev.device}))
  self:reset_parameters()
end

local DTYPE_CODE = {float32 = 1, float64 = 2, float16 = 3, bfloat16 = 4}

-- Forgets the cached L (the next forward recomputes it). Returns self.
function CSC:invalidate()
  sg.no_grad(function()
    self.power_L:zero_()
    self.power_state:zero_()
  end)
  self.L = nil
  self._L_device = nil
  return self
end

-- PyTorch's conv init (kaiming_uniform_, a = √5), then unit-norm atoms when
-- normalize is on.
function CSC:reset_parameters()
  LIN.reset_linear_like(self.weight, nil)
  if self.normalize then self:normalize_atoms() end
  self:invalidate()
end

-- Rescales every atom (weight[a], C x k x k) to unit ℓ2 norm, in place, under
-- no_grad; atoms of norm 0 stay 0. Returns self.
function CSC:normalize_atoms()
  local W = self.weight
  local tol = W:dtype() == "float64" and 1e-12 or 1e-6
  sg.no_grad(function()
    local n = W:norm(2, {2, 3, 4}, true)
    if (n - 1):abs():max():item() > tol then
      W:copy_(W / n:clamp(1e-12))
    end
  end)
  return self
end

local function check_input(self, name, x)
  if not U.is_tensor(x) then U.fail(name, "expected a tensor input, got %s", U.typename(x)) end
  local d = x:dim()
  if d ~= 3 and d ~= 4 then
    U.fail(name, "input has %d dims (%s), expected 3 (CxHxW) or 4 (NxCxHxW)", d, U.shape_str(x))
  end
  local c = x:size(d - 2)
  if c ~= self.in_channels then
    U.fail(name, "input has %d channels (%s), expected in_channels = %d", c, U.shape_str(x),
      self.in_channels)
  end
  return d == 3
end

-- The code map's shape {atoms, h, w} and the decoder's output_padding for an
-- image x (C x H x W or N x C x H x W).
function CSC:code_shape(x)
  local d = x:dim()
  local hw, op = code_geometry("CSC", {x:size(d - 1), x:size(d)}, self.kernel_size,
    self.stride, self.padding)
  return {self.atoms, hw[1], hw[2]}, op
end

-- λ_max(AᵀA) for codes of shape {atoms, h, w} and A's output_padding (A
-- depends on it when padding > 0), with dictionary W (default
-- self.weight): power iteration from a fixed-seed uniform code map, at most
-- power_iters steps, stopping when the unit iterate moves less than
-- power_tol; the value is the Rayleigh quotient ⟨v, AᵀA v⟩ of the last unit
-- iterate. Without gradient; does not cache.
-- Each step's norm ‖AᵀA v‖ and move ‖v' − v‖ are read back every
-- `power_read_every` steps (a class field, overridable per layer; default:
-- every step on the CPU, where a read costs nothing, every 8 steps elsewhere,
-- where each read waits for the device); the steps taken past a stop are
-- discarded, so the result and the step count do not depend on it.
CSC.power_read_every = nil -- nil: 1 on the CPU, 8 on other devices

function CSC:power_iteration(shape, output_padding, W)
  W = W or self.weight
  local s, p, op = self.stride, self.padding, output_padding or {0, 0}
  local tol, steps = self.power_tol, self.power_iters
  local every = self.power_read_every or (W:device() == "cpu" and 1 or 8)
  local function AtA(v) return op_At(op_A(v, W, s, p, op), W, s, p) end
  return sg.no_grad(function()
    local st = sg.get_rng_state()
    sg.manual_seed(POWER_SEED)
    local v = sg.rand({1, shape[1], shape[2], shape[3]}, {dtype = W:dtype()})
    sg.set_rng_state(st)
    v = v:to({device = W:device()})
    v = v / v:norm()
    local done = 0
    while done < steps do
      local m = math.min(every, steps - done)
      local vs, norms, moves = {}, {}, {}
      for j = 1, m do
        local u = AtA(v)
        local nu = u:norm()
        local vn = u / nu -- = u / nu:item(): the same float32 division
        moves[j], norms[j], vs[j] = (vn - v):norm(), nu, vn
        v = vn
      end
      done = done + m
      for j = 1, m do
        if norms[j]:item() == 0 then return 0 end
        if moves[j]:item() < tol then
          v, done = vs[j], steps
          break
        end
      end
    end
    return (AtA(v) * v):sum():item()
  end)
end

-- The cache's key for codes of `shape`, output_padding `op` and weight W:
-- {atoms, h, w, op1, op2, dtype code} (power_state[2..7]).
local function cache_key(shape, op, W)
  return {shape[1], shape[2], shape[3], op[1], op[2], DTYPE_CODE[W:dtype()] or 0}
end

-- Writes L (a number) and power_state = {since, key...} into the buffers.
local function store(self, L, since, key)
  sg.no_grad(function()
    self.power_L:fill_(L)
    local st = {since}
    for i = 1, 6 do st[i + 1] = key[i] end
    self.power_state:copy_(sg.tensor(st, {dtype = "int64"}):to({device = self.power_state:device()}))
  end)
  self.L = L
end

-- The cached L and forwards since it was computed if the cache holds L for
-- `key` (on W's device), else nil.
local function cached(self, key)
  local st = self.power_state:totable()
  if st[2] == 0 or self.power_L:dtype() ~= "float64" then return nil end
  for i = 1, 6 do
    if st[i + 1] ~= key[i] then return nil end
  end
  if self._L_device ~= nil and self._L_device ~= self.weight:device() then return nil end
  local L = self.power_L:item()
  self.L = L
  return L, st[1]
end

-- Computes and caches L for x's geometry (and the current weight); returns it.
function CSC:refresh(x)
  local shape, op = self:code_shape(x)
  local L = self:power_iteration(shape, op)
  if self.power_L:dtype() ~= "float64" then -- cast by module:to(dtype)
    self.power_L = sg.zeros({}, {dtype = "float64", device = self.power_L:device()})
  end
  store(self, L, 0, cache_key(shape, op, self.weight))
  self._L_device = self.weight:device()
  return L
end

-- The unrolled iterations with dictionary W (default self.weight) and the
-- cached L (computed when missing or of another geometry; for another W, its
-- own L, not cached; no normalization, no refresh schedule): `iters` steps of FISTA/ISTA on a batch N x C x H x W.
-- Options override the layer's {lambda=, iters=, algorithm=, L=}.
function CSC:solve(x, W, opts)
  W = W or self.weight
  opts = opts or {}
  local lambda = opts.lambda == nil and self.lambda or opts.lambda
  if type(lambda) ~= "number" or not (lambda >= 0) then
    U.fail("CSC", "lambda must be a number >= 0, got %s",
      type(lambda) == "number" and tostring(lambda) or U.typename(lambda))
  end
  local iters = opts.iters or self.iters
  local fista = (opts.algorithm or self.algorithm) == "fista"
  local shape, op = self:code_shape(x)
  local L = opts.L
  if L == nil then
    if rawequal(W, self.weight) then
      L = cached(self, cache_key(shape, op, W))
      if L == nil then L = self:refresh(x) end
    else
      L = self:power_iteration(shape, op, W)
    end
  end
  if not (L > 0) then
    U.fail("CSC", "the dictionary's operator norm is 0 (all atoms are zero)")
  end
  local step = 0.9 / L
  local thr = lambda * step
  local s, p = self.stride, self.padding
  local prox
  if self.nonneg then
    prox = function(v) return core.relu(v - thr) end
  else
    prox = function(v) return core.soft_threshold(v, thr) end
  end
  local z = prox(op_At(x, W, s, p) * step)
  local y, t = z, 1
  for k = 2, iters do
    local r = x - op_A(y, W, s, p, op)
    local znew = prox(y + op_At(r, W, s, p) * step)
    -- the next iterate's extrapolation point (not after the last iteration:
    -- nothing would read it)
    if k == iters then return znew end
    if fista then
      local tn = (1 + math.sqrt(1 + 4 * t * t)) / 2
      y = znew + (znew - z) * ((t - 1) / tn)
      t = tn
    else
      y = znew
    end
    z = znew
  end
  return z
end

-- forward(x, [{detach_dictionary = false}])
function CSC:forward(x, opts)
  local unbatched = check_input(self, "CSC", x)
  local detach = false
  if opts ~= nil then
    local o = U.opts("CSC:forward", opts, {"detach_dictionary"})
    if o.detach_dictionary ~= nil then
      detach = U.bool("CSC", "forward option 'detach_dictionary'", o.detach_dictionary)
    end
  end
  if unbatched then x = x:unsqueeze(1) end
  if self.normalize then self:normalize_atoms() end
  local shape, op = self:code_shape(x)
  local key = cache_key(shape, op, self.weight)
  local L, since = cached(self, key)
  if L == nil or (self.training and since >= self.refresh_every)
      or (not self.training and since > 0) then
    L, since = self:refresh(x), 0
  end
  if self.training then store(self, L, since + 1, key) end
  local z = self:solve(x, detach and self.weight:detach() or nil, {L = L})
  if unbatched then z = z:squeeze(1) end
  return z
end

-- A(z) with this layer's dictionary: N x atoms x h x w -> N x C x H x W;
-- output_padding (default 0) picks H, W for strided layers.
function CSC:decode(z, output_padding)
  return op_A(z, self.weight, self.stride, self.padding, output_padding or {0, 0})
end

-- The LASSO objective λ‖z‖₁ + ½‖x − A(z)‖² summed over the batch (a 0-dim
-- tensor, differentiable), with the layer's λ unless given.
function CSC:objective(x, z, lambda)
  if x:dim() == 3 then x, z = x:unsqueeze(1), z:unsqueeze(1) end
  local _, op = self:code_shape(x)
  local r = x - op_A(z, self.weight, self.stride, self.padding, op)
  return z:abs():sum() * (lambda or self.lambda) + (r * r):sum() * 0.5
end

function CSC:extra_repr()
  local s = string.format("%d, %d, kernel_size=%s, stride=%s", self.in_channels, self.atoms,
    U.py(self.kernel_size), U.py(self.stride))
  if self.padding[1] ~= 0 or self.padding[2] ~= 0 then s = s .. ", padding=" .. U.py(self.padding) end
  s = s .. string.format(", lambda=%s, iters=%d, algorithm=%s", pyfloat(self.lambda), self.iters,
    self.algorithm)
  if not self.nonneg then s = s .. ", nonneg=False" end
  if not self.normalize then s = s .. ", normalize=False" end
  return s
end

-- ---------------------------------------------------------------- nn.CSCDecoder
-- nn.CSCDecoder(csc, {output_padding = 0 | output_size = {H, W}, normalize = csc.normalize}):
-- A(z) = conv_transpose2d(z, csc.weight, {stride, padding, output_padding})
-- with the encoder's very dictionary: the CSC layer is this module's child
-- `csc` (state_dict name csc.weight), so parameters() holds that one tensor
-- and a model holding both lists it once. forward(z, [output_size]) with
-- output_size {H, W} (or a longer shape, whose last two entries count)
-- overrides the constructor's choice.
local CSCDecoder = Module:extend("CSCDecoder")

local function is_csc(m)
  if not U.is_module(m) then return false end
  local cls = getmetatable(m)
  while cls do
    if cls == CSC then return true end
    cls = rawget(cls, "super")
  end
  return false
end

local function output_padding_for(name, csc, hw, size)
  if type(size) ~= "table" or U.is_tensor(size) or #size < 2 then
    U.fail(name, "output_size must be a table {H, W}, got %s", U.typename(size))
  end
  local HW = {size[#size - 1], size[#size]}
  local op = {}
  for i = 1, 2 do
    if not U.is_int(HW[i]) then U.fail(name, "output_size must hold integers") end
    local base = (hw[i] - 1) * csc.stride[i] - 2 * csc.padding[i] + csc.kernel_size[i]
    op[i] = HW[i] - base
    if op[i] < 0 or op[i] >= csc.stride[i] then
      U.fail(name, "output_size %dx%d is not reachable from codes of size %dx%d (sizes %d to %d "
        .. "in dim %d with stride %d, padding %d, kernel %d)", HW[1], HW[2], hw[1], hw[2], base,
        base + csc.stride[i] - 1, i, csc.stride[i], csc.padding[i], csc.kernel_size[i])
    end
  end
  return op
end

function CSCDecoder:init(csc, opts)
  local name = "CSCDecoder"
  if not is_csc(csc) then
    U.fail(name, "argument 1 expected an nn.CSC layer, got %s", U.typename(csc))
  end
  local o = U.opts(name, opts, {"output_padding", "output_size", "normalize"})
  if o.output_padding ~= nil and o.output_size ~= nil then
    U.fail(name, "give option 'output_padding' or 'output_size', not both")
  end
  self.csc = csc
  self.output_padding = U.pair(name, "option 'output_padding'",
    o.output_padding == nil and 0 or o.output_padding, 0)
  for i = 1, 2 do
    if self.output_padding[i] >= csc.stride[i] then
      U.fail(name, "output_padding (%d) must be smaller than the stride (%d)",
        self.output_padding[i], csc.stride[i])
    end
  end
  if o.output_size ~= nil then
    if type(o.output_size) ~= "table" or #o.output_size ~= 2 then
      U.fail(name, "option 'output_size' must be a pair {H, W}")
    end
    self.output_size = {o.output_size[1], o.output_size[2]}
  end
  if o.normalize == nil then
    self.normalize = csc.normalize
  else
    self.normalize = U.bool(name, "option 'normalize'", o.normalize)
  end
end

function CSCDecoder:forward(z, output_size)
  local name = "CSCDecoder"
  local csc = self.csc
  if not U.is_tensor(z) then U.fail(name, "expected a tensor input, got %s", U.typename(z)) end
  local d = z:dim()
  if d ~= 3 and d ~= 4 then
    U.fail(name, "input has %d dims (%s), expected 3 (atoms x h x w) or 4 (N x atoms x h x w)",
      d, U.shape_str(z))
  end
  if z:size(d - 2) ~= csc.atoms then
    U.fail(name, "input has %d channels (%s), expected the %d atoms of the CSC layer",
      z:size(d - 2), U.shape_str(z), csc.atoms)
  end
  local unbatched = d == 3
  if unbatched then z = z:unsqueeze(1) end
  local size = output_size or self.output_size
  local op = self.output_padding
  if size ~= nil then op = output_padding_for(name, csc, {z:size(3), z:size(4)}, size) end
  if self.normalize then csc:normalize_atoms() end
  local x = op_A(z, csc.weight, csc.stride, csc.padding, op)
  if unbatched then x = x:squeeze(1) end
  return x
end

function CSCDecoder:extra_repr()
  local s = ""
  if self.output_size then
    s = "output_size=" .. U.py(self.output_size)
  elseif self.output_padding[1] ~= 0 or self.output_padding[2] ~= 0 then
    s = "output_padding=" .. U.py(self.output_padding)
  end
  return s
end

return {CSC = CSC, CSCDecoder = CSCDecoder}
