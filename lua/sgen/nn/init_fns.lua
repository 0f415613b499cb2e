-- sgen.nn.init: in-place initializers with PyTorch's formulas. Each fills
-- its tensor in place without recording autograd and returns it.
local sg = require "sgen"
local U = require "sgen.nn.util"
local check = require "sgen.util.check"

local init = {}

local function check_tensor(fname, t)
  if not U.is_tensor(t) then
    error(string.format("sgen.nn.init.%s: argument 1 expected a tensor, got %s", fname,
      U.typename(t)), 0)
  end
  if t:is_freed() then
    error(string.format("sgen.nn.init.%s: argument 1 is a freed tensor", fname), 0)
  end
end

local function check_float(fname, t)
  check_tensor(fname, t)
  local dt = t:dtype()
  if dt ~= "float32" and dt ~= "float64" then
    error(string.format("sgen.nn.init.%s: expected a float32 or float64 tensor, got %s", fname, dt), 0)
  end
end

local function ferr(fname, fmt, ...)
  error("sgen.nn.init." .. fname .. ": " .. string.format(fmt, ...), 0)
end

local function num(fname, what, v, def)
  if v == nil then return def end
  if type(v) ~= "number" or v ~= v then ferr(fname, "%s must be a number, got %s", what, U.typename(v)) end
  return v
end

local function like(t) return {dtype = t:dtype(), device = t:device()} end

local function fill_from(t, src)
  U.no_grad(function() t:copy_(src) end)
  return t
end

-- calculate_gain(nonlinearity, param): PyTorch's recommended gains.
function init.calculate_gain(nonlinearity, param)
  local linear = {linear = true, conv1d = true, conv2d = true, conv3d = true,
                  conv_transpose1d = true, conv_transpose2d = true, conv_transpose3d = true,
                  sigmoid = true}
  if linear[nonlinearity] then return 1 end
  if nonlinearity == "tanh" then return 5.0 / 3 end
  if nonlinearity == "relu" then return math.sqrt(2.0) end
  if nonlinearity == "leaky_relu" then
    local slope = 0.01
    if param ~= nil then
      if type(param) ~= "number" then
        ferr("calculate_gain", "negative_slope %s not a valid number", tostring(param))
      end
      slope = param
    end
    return math.sqrt(2.0 / (1 + slope * slope))
  end
  if nonlinearity == "selu" then return 3.0 / 4 end
  ferr("calculate_gain", "unsupported nonlinearity %s (expected linear, conv2d, sigmoid, tanh, "
    .. "relu, leaky_relu or selu)", tostring(nonlinearity))
end

-- fan_in, fan_out of a weight as PyTorch computes them: dim 2 times the
-- receptive field, dim 1 times the receptive field.
function init.calculate_fan_in_and_fan_out(t, fname)
  fname = fname or "calculate_fan_in_and_fan_out"
  check_tensor(fname, t)
  local s = t:shape()
  if #s < 2 then
    ferr(fname, "fan in and fan out can not be computed for a tensor with fewer than 2 dims "
      .. "(got %s)", U.shape_str(t))
  end
  local rf = 1
  for i = 3, #s do rf = rf * s[i] end
  return s[2] * rf, s[1] * rf
end

local function fan(t, mode, fname)
  local fin, fout = init.calculate_fan_in_and_fan_out(t, fname)
  if mode == "fan_in" then return fin end
  if mode == "fan_out" then return fout end
  ferr(fname, "mode %s not supported, please use one of fan_in, fan_out", tostring(mode))
end

-- uniform_(t, a = 0, b = 1)
function init.uniform_(t, a, b)
  check_float("uniform_", t)
  a = num("uniform_", "a", a, 0)
  b = num("uniform_", "b", b, 1)
  return fill_from(t, sg.rand(t:shape(), like(t)) * (b - a) + a)
end

-- normal_(t, mean = 0, std = 1)
function init.normal_(t, mean, std)
  check_float("normal_", t)
  mean = num("normal_", "mean", mean, 0)
  std = num("normal_", "std", std, 1)
  return fill_from(t, sg.randn(t:shape(), like(t)) * std + mean)
end

-- constant_(t, val)
function init.constant_(t, val)
  check_tensor("constant_", t)
  if type(val) ~= "number" and type(val) ~= "boolean" then
    ferr("constant_", "val must be a number, got %s", U.typename(val))
  end
  U.no_grad(function() t:fill_(val) end)
  return t
end

function init.zeros_(t)
  check_tensor("zeros_", t)
  U.no_grad(function() t:fill_(0) end)
  return t
end

function init.ones_(t)
  check_tensor("ones_", t)
  U.no_grad(function() t:fill_(1) end)
  return t
end

-- xavier_uniform_(t, gain = 1): U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))
function init.xavier_uniform_(t, gain)
  check_float("xavier_uniform_", t)
  gain = num("xavier_uniform_", "gain", gain, 1)
  local fin, fout = init.calculate_fan_in_and_fan_out(t, "xavier_uniform_")
  local a = gain * math.sqrt(6.0 / (fin + fout))
  return fill_from(t, sg.rand(t:shape(), like(t)) * (2 * a) - a)
end

-- xavier_normal_(t, gain = 1): N(0, std), std = gain * sqrt(2 / (fan_in + fan_out))
function init.xavier_normal_(t, gain)
  check_float("xavier_normal_", t)
  gain = num("xavier_normal_", "gain", gain, 1)
  local fin, fout = init.calculate_fan_in_and_fan_out(t, "xavier_normal_")
  local std = gain * math.sqrt(2.0 / (fin + fout))
  return fill_from(t, sg.randn(t:shape(), like(t)) * std)
end

local function kaiming_args(fname, a, opts)
  -- kaiming_*_(t, a) or kaiming_*_(t, {a=, mode=, nonlinearity=})
  if type(a) == "table" then
    opts = a
    a = nil
  end
  opts = opts or {}
  if type(opts) ~= "table" then ferr(fname, "expected an options table, got %s", U.typename(opts)) end
  check.options(opts, {"a", "mode", "nonlinearity"}, "sgen.nn.init." .. fname, 0)
  a = num(fname, "a", a ~= nil and a or opts.a, 0)
  return a, opts.mode or "fan_in", opts.nonlinearity or "leaky_relu"
end

-- kaiming_uniform_(t, {a = 0, mode = "fan_in", nonlinearity = "leaky_relu"}):
-- U(-b, b), b = gain(nonlinearity, a) * sqrt(3 / fan).
function init.kaiming_uniform_(t, a, opts)
  check_float("kaiming_uniform_", t)
  local slope, mode, nl = kaiming_args("kaiming_uniform_", a, opts)
  local f = fan(t, mode, "kaiming_uniform_")
  local gain = init.calculate_gain(nl, slope)
  local bound = math.sqrt(3.0) * gain / math.sqrt(f)
  return fill_from(t, sg.rand(t:shape(), like(t)) * (2 * bound) - bound)
end

-- kaiming_normal_(t, {a = 0, mode = "fan_in", nonlinearity = "leaky_relu"}):
-- N(0, std), std = gain(nonlinearity, a) / sqrt(fan).
function init.kaiming_normal_(t, a, opts)
  check_float("kaiming_normal_", t)
  local slope, mode, nl = kaiming_args("kaiming_normal_", a, opts)
  local f = fan(t, mode, "kaiming_normal_")
  local std = init.calculate_gain(nl, slope) / math.sqrt(f)
  return fill_from(t, sg.randn(t:shape(), like(t)) * std)
end

-- orthogonal_(t, gain = 1): t viewed as rows = size(1) by cols = numel/rows
-- gets (semi-)orthogonal rows or columns: Q of the QR of a Gaussian matrix
-- with R's diagonal made positive (PyTorch's recipe; QR by modified
-- Gram-Schmidt in Lua, so meant for layer-sized matrices).
function init.orthogonal_(t, gain)
  check_float("orthogonal_", t)
  gain = num("orthogonal_", "gain", gain, 1)
  local s = t:shape()
  if #s < 2 then ferr("orthogonal_", "only tensors with 2 or more dims are supported (got %s)",
    U.shape_str(t)) end
  local rows = s[1]
  local cols = t:numel() // rows
  if t:numel() == 0 then return t end
  local n, m = math.max(rows, cols), math.min(rows, cols)
  -- A: n x m Gaussian (the transpose when rows < cols)
  local g = sg.randn({n, m}, {dtype = "float64"}):totable()
  -- columns of A orthonormalized in turn (modified Gram-Schmidt)
  for j = 1, m do
    for k = 1, j - 1 do
      local d = 0
      for i = 1, n do d = d + g[i][k] * g[i][j] end
      for i = 1, n do g[i][j] = g[i][j] - d * g[i][k] end
    end
    local nrm = 0
    for i = 1, n do nrm = nrm + g[i][j] * g[i][j] end
    nrm = math.sqrt(nrm)
    if nrm == 0 then ferr("orthogonal_", "degenerate random matrix (try again)") end
    for i = 1, n do g[i][j] = g[i][j] / nrm end
  end
  local q = {}
  if rows >= cols then
    for i = 1, rows do
      q[i] = {}
      for j = 1, cols do q[i][j] = g[i][j] * gain end
    end
  else
    for i = 1, rows do
      q[i] = {}
      for j = 1, cols do q[i][j] = g[j][i] * gain end
    end
  end
  local src = sg.tensor(q, {dtype = "float64"})
  return fill_from(t, src:to(like(t)):reshape(s))
end

-- eye_(t): the identity for a 2-D tensor.
function init.eye_(t)
  check_float("eye_", t)
  local s = t:shape()
  if #s ~= 2 then ferr("eye_", "only 2-dim tensors are supported (got %s)", U.shape_str(t)) end
  return fill_from(t, sg.eye(s[1], s[2], like(t)))
end

return init
