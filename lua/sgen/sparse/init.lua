-- sg.sparse: sparsity projections, penalties and diagnostics
-- (ARCHITECTURE.md §3, "the heart of the project").
--   local sparse = require("sgen").sparse
--   local g = sparse.l0inf_project(h, 4)          -- keep 4 channels per position
-- The projections are C (bindings/lsg_sparse.c): forward zeros entries, the
-- gradient flows through the kept entries only. The penalty and diagnostics
-- below are Lua compositions of core ops.
--
-- This is a plain table: other files of lua/sgen/sparse/ (e.g. the sparsity
-- layers) extend it with `local sparse = require "sgen.sparse"` and assign
-- their fields.
local core = require "sgen.core"

local sparse = {}

for _, name in ipairs({ "l0_project", "l0inf_project", "soft_threshold", "hard_threshold",
                        "l0_mask", "l0inf_mask" }) do
  sparse[name] = assert(core[name], "sgen.core lacks " .. name)
end

local check = require "sgen.util.check"
local is_tensor = check.is_tensor

local function fail(fmt, ...) error(string.format(fmt, ...), 0) end

local function check_tensor(fname, x)
  if not is_tensor(x) then
    fail("sgen.%s: argument 1 (input) expected a tensor, got %s", fname, type(x))
  end
  if x:is_freed() then
    fail("sgen.%s: argument 1 (input) is a freed tensor (t:free() was called on it)", fname)
  end
end

local shape_str = check.shape_str

local function check_opts(fname, opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" or is_tensor(opts) then
    fail("sgen.%s: argument 2 expected an options table, got %s", fname, check.typename(opts))
  end
  return check.options(opts, allowed, "sgen." .. fname, 0)
end

-- l1_penalty(x): mean over the batch (dim 1) of the L1 norm of each sample,
-- i.e. sum(|x|) / N. Differentiable (a loss term).
function sparse.l1_penalty(x)
  check_tensor("l1_penalty", x)
  if x:dim() < 1 then
    fail("sgen.l1_penalty: input has 0 dims (scalar), expected at least 1 (dim 1 is the batch)")
  end
  return x:abs():sum() / x:size(1)
end

-- sparsity(x) -> fraction of non-zero entries of x (a Lua number, no grad).
-- sparsity(x, {dim = d}) -> fraction of non-zero slices along dim d: the
-- slice (n, i) holds the entries of sample n (dim 1) with index i along d; it
-- counts as non-zero when any of its entries is. For N x C x H x W and dim 2
-- this is the fraction of active channels (1 - the channel sparse rate).
-- Empty tensors give nan (0 / 0).
function sparse.sparsity(x, opts)
  check_tensor("sparsity", x)
  opts = check_opts("sparsity", opts, { "dim" })
  local nz = x:ne(0)
  if opts.dim == nil then
    return nz:sum():item() / x:numel()
  end
  local d = opts.dim
  local nd = x:dim()
  local n = nd == 0 and 1 or nd
  if math.type(d) ~= "integer" then
    fail("sgen.sparsity: option 'dim' expected an integer, got %s",
      type(d) == "number" and tostring(d) or type(d))
  end
  if d == 0 or d > n or d < -n then
    fail("sgen.sparsity: option 'dim' %d out of range for a tensor with %d dims " ..
      "(expected 1..%d or -%d..-1; dims are 1-based)", d, nd, n, n)
  end
  if d < 0 then d = d + n + 1 end
  local others = {}
  for i = 2, nd do
    if i ~= d then others[#others + 1] = i end
  end
  local active = nz
  if #others > 0 then active = nz:sum(others):gt(0) end
  return active:sum():item() / active:numel()
end

-- needle_density(x): for x of shape N x C x H x W, an H x W float32 tensor:
-- at every position, the fraction of non-zero channels, averaged over the
-- batch (the map of an L0,inf "needle" projection is k / C everywhere).
function sparse.needle_density(x)
  check_tensor("needle_density", x)
  if x:dim() ~= 4 then
    fail("sgen.needle_density: input has %d dims (%s), expected 4 (NxCxHxW)", x:dim(),
      shape_str(x))
  end
  local s = x:shape()
  local count = s[1] * s[2]
  return x:ne(0):sum({ 1, 2 }):float() / (count > 0 and count or 0 / 0)
end

-- The sparsity layers (nn modules), also reachable as sg.nn.L0Project etc.
for name, cls in pairs(require "sgen.sparse.layers") do sparse[name] = cls end
-- Online dictionary learning (learn_dictionary, dictionary_atoms_image).
for name, f in pairs(require "sgen.sparse.dictionary") do sparse[name] = f end

return sparse
