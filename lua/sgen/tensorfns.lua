-- Tensor functions a PyTorch user reaches for, composed in Lua from the
-- core's differentiable ops (so gradients and double backward come from
-- theirs, and every device that runs those ops runs these):
--   isnan isfinite all any cumsum prod flip roll repeat_tensor tile lerp
--   diag tril triu einsum
-- init.lua installs each as sg.<name> and, except einsum, as the tensor
-- method x:<name>(...); `repeat` (a Lua keyword) is also the method
-- x["repeat"]. Conventions as the C bindings: 1-based dims, negative dims
-- from the end, trailing options tables, errors "sgen.<name>: ...".
local core = require "sgen.core"

local M = {}

local function fail(name, fmt, ...)
  error("sgen." .. name .. ": " .. string.format(fmt, ...), 0)
end

local check = require "sgen.util.check"
local is_tensor = check.is_tensor

local function typename(v)
  if is_tensor(v) then return "tensor" end
  if math.type(v) == "float" then return "number " .. tostring(v) end
  return type(v)
end

local function check_tensor(name, v, i, argname)
  if not is_tensor(v) then
    fail(name, "argument %d (%s) expected a tensor, got %s", i, argname, typename(v))
  end
  if v:is_freed() then fail(name, "argument %d (%s) is a freed tensor", i, argname) end
  return v
end

local shape_str = check.shape_str

local function check_int(name, v, what)
  if math.type(v) ~= "integer" then
    if math.type(v) == "float" and v == math.floor(v) and v > -2^53 and v < 2^53 then
      return math.tointeger(v)
    end
    fail(name, "%s expected an integer, got %s", what, typename(v))
  end
  return v
end

-- A 1-based dim (negative from the end) of a tensor with ndim dims, to a
-- positive 1-based dim; a 0-dim tensor accepts 1 and -1 (as PyTorch 0, -1).
local function wrap_dim(name, d, ndim, what)
  d = check_int(name, d, what or "dim")
  local n = ndim == 0 and 1 or ndim
  if d == 0 or d > n or d < -n then
    fail(name, "%s %d out of range for a tensor with %d dims (expected 1..%d or -%d..-1; "
      .. "dims are 1-based)", what or "dim", d, ndim, n, n)
  end
  return d > 0 and d or d + n + 1
end

-- A table that is not a tensor and has no list part.
local function is_opts(v)
  return type(v) == "table" and not is_tensor(v) and rawlen(v) == 0
end

local function check_opts(name, opts, allowed)
  check.options(opts, allowed, "sgen." .. name, 0)
end

local function opt_bool(name, opts, key, def)
  local v = opts[key]
  if v == nil then return def end
  if type(v) ~= "boolean" then fail(name, "option '%s' expected a boolean, got %s", key, typename(v)) end
  return v
end

local function is_float(t)
  local d = t:dtype()
  return d == "float32" or d == "float64"
end

-- Integer and bool inputs accumulate in int64, as PyTorch's sum/cumsum/prod.
local function accum_dtype(t)
  if is_float(t) then return t end
  return t:long()
end

local function zeros(shape, like)
  return core.zeros(shape, {dtype = like:dtype(), device = like:device()})
end

-- Lists of integers given as varargs (x:flip(1, 2)) or as one table.
local function int_list(name, what, ...)
  local first = ...
  local list
  if type(first) == "table" and not is_tensor(first) then
    if select("#", ...) > 1 then fail(name, "%s: give one table or integers, not both", what) end
    list = first
  else
    list = table.pack(...)
    list.n = nil
  end
  local out = {}
  for i = 1, #list do out[i] = check_int(name, list[i], what .. "[" .. i .. "]") end
  return out
end

-- ---------------------------------------------------------------- tests

-- isnan(x): bool tensor, true where x is NaN (never for integer dtypes).
function M.isnan(x)
  check_tensor("isnan", x, 1, "input")
  return x:detach():ne(x:detach())
end

-- isfinite(x): true where x is neither NaN nor +-inf (always for integers).
function M.isfinite(x)
  check_tensor("isfinite", x, 1, "input")
  x = x:detach()
  if is_float(x) then return x:abs():lt(math.huge) end
  return x:eq(x)
end

-- Dims and keepdim of all/any/prod: ([dim | {dims}], [keepdim | {keepdim=}]).
local function reduce_args(name, x, a, b, allow_list)
  local dims, opts, keepdim = nil, nil, false
  if is_opts(a) and b == nil then
    opts = a
  elseif a ~= nil then
    if type(a) == "table" and not is_tensor(a) then
      if not allow_list then fail(name, "argument 2 (dim) expected an integer, got a table "
        .. "(%s reduces one dim)", name) end
      dims = {}
      local seen = {}
      for i = 1, #a do
        local d = wrap_dim(name, a[i], x:dim())
        if seen[d] then fail(name, "dim %s listed twice", tostring(a[i])) end
        seen[d] = true
        dims[i] = d
      end
    elseif type(a) == "number" then
      dims = {wrap_dim(name, a, x:dim())}
    else
      fail(name, "argument 2 (dim) expected an integer%s, got %s",
        allow_list and " or a table of integers" or "", typename(a))
    end
    if type(b) == "boolean" then
      keepdim = b
    elseif is_opts(b) then
      opts = b
    elseif b ~= nil then
      fail(name, "argument 3 expected a boolean (keepdim) or an options table, got %s", typename(b))
    end
  end
  if opts then
    check_opts(name, opts, {"keepdim"})
    keepdim = opt_bool(name, opts, "keepdim", keepdim)
  end
  if keepdim and dims == nil then
    -- PyTorch's all()/any()/prod() without a dim take no keepdim; with every
    -- dim listed the result keeps them as size 1.
    dims = {}
    for d = 1, x:dim() do dims[d] = d end
  end
  return dims, keepdim
end

local function all_any(name, x, a, b)
  check_tensor(name, x, 1, "input")
  local dims, keepdim = reduce_args(name, x, a, b, true)
  x = x:detach()
  local hits = (name == "all" and x:eq(0) or x:ne(0)):long()
  local n
  if dims == nil or x:dim() == 0 then n = hits:sum() else n = hits:sum(dims, keepdim) end
  if name == "all" then return n:eq(0) end
  return n:gt(0)
end

-- all(x, [dim | {dims}], [keepdim]): true where every entry is non-zero.
function M.all(x, dim, keepdim) return all_any("all", x, dim, keepdim) end
-- any(x, [dim | {dims}], [keepdim]): true where some entry is non-zero.
function M.any(x, dim, keepdim) return all_any("any", x, dim, keepdim) end

-- ---------------------------------------------------------------- scans and products

-- cumsum(x, dim): running sums along dim. A Hillis-Steele scan of
-- ceil(log2 n) narrow + add + cat steps, each differentiable.
function M.cumsum(x, dim, opts)
  local name = "cumsum"
  check_tensor(name, x, 1, "input")
  if dim == nil then fail(name, "argument 2 (dim) is required (as in PyTorch)") end
  if type(dim) ~= "number" then
    fail(name, "argument 2 (dim) expected an integer, got %s", typename(dim))
  end
  local d = wrap_dim(name, dim, x:dim())
  if opts ~= nil then
    if not is_opts(opts) then fail(name, "argument 3 expected an options table, got %s", typename(opts)) end
    check_opts(name, opts, {})
  end
  local y = accum_dtype(x)
  if x:dim() == 0 then return rawequal(y, x) and x:clone() or y end
  local n = x:size(d)
  local copied = not rawequal(y, x)
  local s = 1
  while s < n do
    y = core.cat({y:narrow(d, 1, s), y:narrow(d, s + 1, n - s) + y:narrow(d, 1, n - s)}, d)
    copied = true
    s = s * 2
  end
  if not copied then y = y:clone() end
  return y
end

-- Product along dim d (1-based) of y, the dim kept with size 1: a pairwise
-- tree of multiplications, exact for gradients with zeros in y.
local function prod_dim(y, d)
  local n = y:size(d)
  if n == 0 then
    local shape = y:shape()
    shape[d] = 1
    return core.ones(shape, {dtype = y:dtype(), device = y:device()})
  end
  if n == 1 then return y:clone() end
  while n > 1 do
    local h = n // 2
    local p = y:narrow(d, 1, h) * y:narrow(d, h + 1, h)
    if n % 2 == 1 then p = core.cat({p, y:narrow(d, n, 1)}, d) end
    y, n = p, h + n % 2
  end
  return y
end

-- prod(x, [dim], [keepdim | {keepdim =}]): product of all entries (0-dim),
-- or along one dim.
function M.prod(x, dim, keepdim)
  local name = "prod"
  check_tensor(name, x, 1, "input")
  local dims, kd = reduce_args(name, x, dim, keepdim, false)
  local y = accum_dtype(x)
  if x:dim() == 0 then return rawequal(y, x) and x:clone() or y end
  if dims == nil then
    return prod_dim(y:reshape(-1), 1):reshape({})
  end
  if #dims > 1 then -- keepdim without a dim: every dim, kept
    local r = prod_dim(y:reshape(-1), 1)
    local ones = {}
    for i = 1, x:dim() do ones[i] = 1 end
    return r:reshape(ones)
  end
  local r = prod_dim(y, dims[1])
  if not kd then r = r:squeeze(dims[1]) end
  return r
end

-- ---------------------------------------------------------------- rearranging

-- flip(x, dims): reverses the order of the entries along each listed dim.
function M.flip(x, ...)
  local name = "flip"
  check_tensor(name, x, 1, "input")
  if select("#", ...) == 0 then fail(name, "no dims given (expected x:flip({1, 2}) or x:flip(1))") end
  local list = int_list(name, "dims", ...)
  local seen = {}
  local y = x
  for _, v in ipairs(list) do
    local d = wrap_dim(name, v, x:dim())
    if seen[d] then fail(name, "dim %d listed twice", v) end
    seen[d] = true
    if x:dim() > 0 then
      local n = x:size(d)
      if n > 1 then
        y = y:index_select(d, core.arange(n, 0, -1, {device = x:device()}))
      end
    end
  end
  if rawequal(y, x) then y = x:clone() end
  return y
end

-- roll(x, shifts, [dims]): entries shifted (circularly) by shifts[i] along
-- dims[i]; without dims, over the flattened tensor, shape kept.
function M.roll(x, shifts, dims)
  local name = "roll"
  check_tensor(name, x, 1, "input")
  local sh = type(shifts) == "table" and shifts or {shifts}
  local sl = {}
  for i = 1, #sh do sl[i] = check_int(name, sh[i], "shifts" .. (type(shifts) == "table" and "[" .. i .. "]" or "")) end
  if #sl == 0 then fail(name, "shifts is empty") end
  if dims == nil then
    if #sl ~= 1 then
      fail(name, "%d shifts given without dims (expected one shift for the flattened tensor, "
        .. "or as many dims as shifts)", #sl)
    end
    return M.roll(x:reshape(-1), sl[1], 1):view(x:shape())
  end
  local dl = type(dims) == "table" and dims or {dims}
  if #dl ~= #sl then fail(name, "%d shifts and %d dims given (expected as many)", #sl, #dl) end
  local y = x
  for i = 1, #dl do
    local d = wrap_dim(name, dl[i], x:dim())
    local n = x:dim() == 0 and 1 or x:size(d)
    local s = n > 0 and sl[i] % n or 0
    if s ~= 0 then
      y = core.cat({y:narrow(d, n - s + 1, s), y:narrow(d, 1, n - s)}, d)
    end
  end
  if rawequal(y, x) then y = x:clone() end
  return y
end

-- Torch7's repeatTensor / PyTorch's Tensor.repeat: the tensor tiled reps[i]
-- times along dim i; #reps >= x:dim() (x is given leading dims of size 1).
local function repeat_impl(name, x, reps)
  if #reps < x:dim() then
    fail(name, "%d repeats given for a %d-d tensor (%s); expected at least %d (one per dim)",
      #reps, x:dim(), shape_str(x), x:dim())
  end
  if #reps > 8 then fail(name, "%d repeats given; a tensor has at most 8 dims", #reps) end
  for i, r in ipairs(reps) do
    if r < 0 then fail(name, "repeats[%d] = %d is negative", i, r) end
  end
  local shape = x:shape()
  local lead = #reps - #shape
  local full = {}
  for i = 1, #reps do full[i] = i <= lead and 1 or shape[i - lead] end
  local y = x:reshape(full)
  local copied = false
  for i = 1, #reps do
    local r = reps[i]
    if r ~= 1 then
      local s = y:shape()
      local e = {}
      for k = 1, #s do e[k] = s[k] end
      table.insert(e, i, r) -- a new dim of size r before dim i
      local merged = {}
      for k = 1, #s do merged[k] = s[k] end
      merged[i] = r * s[i]
      y = y:unsqueeze(i):expand(e):reshape(merged)
      copied = true
    end
  end
  if not copied then y = y:clone() end
  return y
end

-- repeat_tensor(x, ...reps) (also x["repeat"](x, ...)): PyTorch's repeat.
function M.repeat_tensor(x, ...)
  local name = "repeat_tensor"
  check_tensor(name, x, 1, "input")
  local reps = int_list(name, "repeats", ...)
  if #reps == 0 then fail(name, "no repeats given (expected one per dim, e.g. x:repeat_tensor(2, 3))") end
  return repeat_impl(name, x, reps)
end

-- tile(x, reps): as repeat, but fewer reps than dims are padded with 1s in front.
function M.tile(x, ...)
  local name = "tile"
  check_tensor(name, x, 1, "input")
  local reps = int_list(name, "dims", ...)
  if #reps == 0 then fail(name, "no repeats given (expected e.g. x:tile({2, 3}))") end
  while #reps < x:dim() do table.insert(reps, 1, 1) end
  return repeat_impl(name, x, reps)
end

-- ---------------------------------------------------------------- interpolation

-- lerp(start, end, weight): start + weight * (end - start); weight a number
-- or a tensor, all broadcast.
function M.lerp(start, stop, weight)
  local name = "lerp"
  check_tensor(name, start, 1, "input")
  check_tensor(name, stop, 2, "end")
  if not is_float(start) or not is_float(stop) then
    fail(name, "expected float tensors, got %s and %s", start:dtype(), stop:dtype())
  end
  if start:dtype() ~= stop:dtype() then
    fail(name, "input and end have dtypes %s and %s (expected the same)", start:dtype(), stop:dtype())
  end
  if type(weight) ~= "number" then
    check_tensor(name, weight, 3, "weight")
    if weight:dtype() ~= start:dtype() then
      fail(name, "weight has dtype %s, expected %s as input", weight:dtype(), start:dtype())
    end
  end
  local ok, r = pcall(function() return start + (stop - start) * weight end)
  if not ok then
    fail(name, "shapes %s, %s and %s cannot be broadcast", shape_str(start), shape_str(stop),
      type(weight) == "number" and "scalar" or shape_str(weight))
  end
  return r
end

-- ---------------------------------------------------------------- triangles and diagonals

local function opt_diagonal(name, k, i)
  if k == nil then return 0 end
  return check_int(name, k, "argument " .. i .. " (diagonal)")
end

-- diag(x, [diagonal = 0]): a 1-D x gives the square matrix with x on that
-- diagonal; a 2-D x gives (a copy of) its diagonal.
function M.diag(x, k)
  local name = "diag"
  check_tensor(name, x, 1, "input")
  k = opt_diagonal(name, k, 2)
  if x:dim() == 2 then
    return core.linalg.diagonal(x, {offset = k}):clone()
  end
  if x:dim() ~= 1 then
    fail(name, "expected a 1-d or 2-d tensor, got %d-d (%s)", x:dim(), shape_str(x))
  end
  local n = x:size(1)
  local a = k < 0 and -k or k
  local ar = core.arange(n, {device = x:device()})
  local mask = ar:view(n, 1):eq(ar:view(1, n))
  local m = core.where(mask, x:view(1, n), 0)
  if a == 0 then return m end
  local side, cap = zeros({n, a}, x), zeros({a, n + a}, x)
  if k > 0 then
    return core.cat({core.cat({side, m}, 2), cap}, 1)
  end
  return core.cat({cap, core.cat({m, side}, 2)}, 1)
end

local function tri(name, x, k, lower)
  check_tensor(name, x, 1, "input")
  k = opt_diagonal(name, k, 2)
  if x:dim() < 2 then
    fail(name, "expected a tensor with at least 2 dims (...xnxm), got %d-d (%s)", x:dim(), shape_str(x))
  end
  local n, m = x:size(-2), x:size(-1)
  local rows = core.arange(n, {device = x:device()}):view(n, 1)
  local cols = core.arange(m, {device = x:device()}):view(1, m)
  local off = cols - rows -- j - i
  local drop = lower and off:gt(k) or off:lt(k)
  return x:masked_fill(drop, 0)
end

-- tril(x, [diagonal = 0]) / triu: the lower / upper triangle of the last two
-- dims (entries with j - i <= diagonal / >= diagonal kept), zeros elsewhere.
function M.tril(x, k) return tri("tril", x, k, true) end
function M.triu(x, k) return tri("triu", x, k, false) end

-- ---------------------------------------------------------------- einsum

local function letters_of(name, term, i)
  local out = {}
  for c in term:gmatch(".") do
    if not c:match("%a") then
      fail(name, "subscript '%s' in term %d ('%s') is not a letter (expected a-z, A-Z)", c, i, term)
    end
    out[#out + 1] = c
  end
  return out
end

local function index_of(list, v)
  for i, x in ipairs(list) do if x == v then return i end end
  return nil
end

-- Operand t with subscripts `subs` -> (tensor, subs) with each subscript
-- once: a repeated subscript takes the diagonal of its two dims (put last).
local function take_diagonals(name, t, subs, i)
  while true do
    local a, b
    for p = 1, #subs do
      for q = p + 1, #subs do
        if subs[p] == subs[q] and not a then a, b = p, q end
      end
    end
    if not a then return t, subs end
    for q = b + 1, #subs do
      if subs[q] == subs[a] then
        fail(name, "subscript '%s' appears 3 times in operand %d (at most twice: a diagonal)", subs[a], i)
      end
    end
    local perm, rest = {}, {}
    for p = 1, #subs do if p ~= a and p ~= b then perm[#perm + 1] = p; rest[#rest + 1] = subs[p] end end
    perm[#perm + 1] = a
    perm[#perm + 1] = b
    local c = subs[a]
    t = core.linalg.diagonal(t:permute(perm))
    rest[#rest + 1] = c
    subs = rest
  end
end

local function prod_of(list)
  local p = 1
  for _, v in ipairs(list) do p = p * v end
  return p
end

-- einsum(equation, a, [b]) or einsum(equation, {a, b}): see docs/lua-api.md
-- for the supported forms (one or two operands, letters, no ellipsis).
function M.einsum(eq, ...)
  local name = "einsum"
  if type(eq) ~= "string" then
    fail(name, "argument 1 (equation) expected a string such as \"ij,jk->ik\", got %s", typename(eq))
  end
  local ops = table.pack(...)
  if ops.n == 1 and type(ops[1]) == "table" and not is_tensor(ops[1]) then
    local l = ops[1]
    ops = {n = #l}
    for i = 1, #l do ops[i] = l[i] end
  end
  for i = 1, ops.n do check_tensor(name, ops[i], i + 1, "operand " .. i) end
  local s = eq:gsub("%s", "")
  if s:find("%.%.%.") or s:find("%.") then
    fail(name, "'%s': ellipsis ('...') is not supported (name every dim with a letter)", eq)
  end
  local lhs, rhs = s, nil
  local arrow = s:find("->", 1, true)
  if arrow then lhs, rhs = s:sub(1, arrow - 1), s:sub(arrow + 2) end
  if rhs and rhs:find("->", 1, true) then fail(name, "'%s': more than one '->'", eq) end
  local terms = {}
  for term in (lhs .. ","):gmatch("([^,]*),") do terms[#terms + 1] = term end
  if #terms ~= ops.n then
    fail(name, "'%s' has %d input term%s but %d operand%s were given", eq, #terms,
      #terms == 1 and "" or "s", ops.n, ops.n == 1 and "" or "s")
  end
  if ops.n < 1 or ops.n > 2 then
    fail(name, "'%s': %d operands given; one or two are supported (chain einsum calls for more)",
      eq, ops.n)
  end
  local subs, size = {}, {}
  local count = {}
  for i = 1, ops.n do
    subs[i] = letters_of(name, terms[i], i)
    local t = ops[i]
    if #subs[i] ~= t:dim() then
      fail(name, "term %d ('%s') has %d subscripts but operand %d has %d dims (%s)", i,
        terms[i], #subs[i], i, t:dim(), shape_str(t))
    end
    for p, c in ipairs(subs[i]) do
      local n = t:size(p)
      if size[c] and size[c] ~= n then
        fail(name, "subscript '%s' has sizes %d and %d (expected equal sizes)", c, size[c], n)
      end
      size[c] = n
      count[c] = (count[c] or 0) + 1
    end
  end
  local out
  if rhs then
    out = letters_of(name, rhs, "->")
    local seen = {}
    for _, c in ipairs(out) do
      if seen[c] then fail(name, "output subscript '%s' appears twice in '%s'", c, eq) end
      if not size[c] then fail(name, "output subscript '%s' does not appear in the inputs of '%s'", c, eq) end
      seen[c] = true
    end
  else -- implicit output: the subscripts seen once, in alphabetical order
    out = {}
    for c, k in pairs(count) do if k == 1 then out[#out + 1] = c end end
    table.sort(out)
  end
  local in_out = {}
  for _, c in ipairs(out) do in_out[c] = true end
  -- per operand: diagonals, then sums over subscripts used nowhere else
  local ts, summed = {}, false
  for i = 1, ops.n do
    local t, sb = take_diagonals(name, ops[i], subs[i], i)
    local other = subs[3 - i] or {}
    local sum_dims, keep = {}, {}
    for p, c in ipairs(sb) do
      if not in_out[c] and not index_of(other, c) then sum_dims[#sum_dims + 1] = p
      else keep[#keep + 1] = c end
    end
    if #sum_dims > 0 then t = t:sum(sum_dims); summed = true end
    ts[i], subs[i] = t, keep
  end
  local function permute_to(t, from, to)
    if #to == 0 then return t end
    local perm, id = {}, true
    for k, c in ipairs(to) do perm[k] = index_of(from, c); if perm[k] ~= k then id = false end end
    if id then return t end
    return t:permute(perm)
  end
  if ops.n == 1 then
    local r = permute_to(ts[1], subs[1], out)
    if not summed then r = r:clone() end -- a permute or diagonal is a view
    return r
  end
  local a, b = ts[1], ts[2]
  if a:dtype() ~= b:dtype() or not is_float(a) then
    fail(name, "operands have dtypes %s and %s (expected two float32 or two float64 tensors)",
      a:dtype(), b:dtype())
  end
  local batch, con, aonly, bonly = {}, {}, {}, {}
  for _, c in ipairs(subs[1]) do
    if index_of(subs[2], c) then
      if in_out[c] then batch[#batch + 1] = c else con[#con + 1] = c end
    else
      aonly[#aonly + 1] = c
    end
  end
  for _, c in ipairs(subs[2]) do
    if not index_of(subs[1], c) then bonly[#bonly + 1] = c end
  end
  local function sizes(list)
    local r = {}
    for k, c in ipairs(list) do r[k] = size[c] end
    return r
  end
  local function concat(...)
    local r = {}
    for _, l in ipairs({...}) do for _, c in ipairs(l) do r[#r + 1] = c end end
    return r
  end
  local nb, nm, nk, nn = prod_of(sizes(batch)), prod_of(sizes(aonly)), prod_of(sizes(con)),
    prod_of(sizes(bonly))
  local am = permute_to(a, subs[1], concat(batch, aonly, con)):reshape(nb, nm, nk)
  local bm = permute_to(b, subs[2], concat(batch, con, bonly)):reshape(nb, nk, nn)
  local order = concat(batch, aonly, bonly)
  local r = am:bmm(bm):reshape(sizes(order))
  return permute_to(r, order, out)
end

return M
