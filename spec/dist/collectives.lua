-- Run by `sgen launch -n 2` (ctest dist.collectives): every collective of
-- sg.dist against values computed by hand, in each dtype, on strided
-- tensors, and the errors every rank must see at once (debug mode).
local sg = require "sgen"
local dist = sg.dist

local function fail(msg) error(string.format("rank %d: %s", dist.rank(), msg), 2) end
local function same(expected, t, what)
  local got = t:totable()
  local function walk(e, g, path)
    if type(e) == "table" then
      if type(g) ~= "table" or #g ~= #e then fail(what .. ": shape differs at " .. path) end
      for i = 1, #e do walk(e[i], g[i], path .. "[" .. i .. "]") end
    elseif math.abs(e - g) > 1e-6 * math.max(1, math.abs(e)) then
      fail(string.format("%s: %s is %s, expected %s", what, path, tostring(g), tostring(e)))
    end
  end
  walk(expected, got, "")
end
local function raises(needle, f, ...)
  local ok, err = pcall(f, ...)
  if ok then fail("expected an error containing '" .. needle .. "'") end
  if not tostring(err):find(needle, 1, true) then fail("error '" .. tostring(err) .. "' lacks '" .. needle .. "'") end
end

dist.init()
local r, W = dist.rank(), dist.world_size()
assert(W == 2, "run with sgen launch -n 2")
assert(dist.local_rank() == r, "one node: local rank = rank")
assert(os.getenv("RANK") == tostring(r) and os.getenv("WORLD_SIZE") == "2", "RANK / WORLD_SIZE")
assert(dist.backend() == "mpi")

-- all_reduce: rank r holds (r + 1) * {1, 2, 3}: sum 3 * {1, 2, 3}, mean 1.5 *, max 2 *
for _, dt in ipairs({"float32", "float64"}) do
  local base = sg.tensor({1.0, 2.0, 3.0}, {dtype = dt})
  same({3, 6, 9}, dist.all_reduce(base * (r + 1)), "sum " .. dt)
  same({1.5, 3, 4.5}, dist.all_reduce(base * (r + 1), {op = "mean"}), "mean " .. dt)
  same({2, 4, 6}, dist.all_reduce(base * (r + 1), {op = "max"}), "max " .. dt)
end
same({11, -1}, dist.all_reduce(sg.tensor({5 + r, r == 0 and -1 or 0})), "sum int64")
same({6, 0}, dist.all_reduce(sg.tensor({5 + r, r == 0 and -1 or 0}), {op = "max"}), "max int64")
-- returns its argument, reduced in place
local x = sg.zeros(2)
assert(rawequal(dist.all_reduce(x), x), "all_reduce returns its argument")
-- strided (a transposed view): written back through the view into its base
local base = sg.arange(1, 7):float():view(2, 3)
local tv = base:t()
dist.all_reduce(tv, {op = "sum"})
same({{2, 4, 6}, {8, 10, 12}}, base, "strided all_reduce")

-- broadcast from each root: rank r holds {r, r}
for root = 0, W - 1 do
  same({root, root}, dist.broadcast(sg.full({2}, r * 1.0), root), "broadcast root " .. root)
end
local bv = sg.zeros(3, 2)
local col = bv:select(2, 2) -- strided column
if r == 1 then col:copy_(sg.tensor({7.0, 8.0, 9.0})) end
dist.broadcast(col, 1)
same({{0, 7}, {0, 8}, {0, 9}}, bv, "strided broadcast")
same({1, 0, 1}, dist.broadcast(sg.tensor({r == 1, false, r == 1}):to("uint8"), 1), "broadcast uint8")

-- all_gather: {W, shape}
same({{{0, 10}}, {{1, 11}}}, dist.all_gather(sg.tensor({{r * 1.0, 10.0 + r}})), "all_gather")
same({{0, 0}, {1, 1}}, dist.all_gather(sg.full({2}, r, {dtype = "int64"})), "all_gather int64")

-- reduce_scatter: rank r holds {1..4} * (r + 1); the sum {3, 6, 9, 12}; rank r keeps block r
local rs = dist.reduce_scatter(sg.arange(1, 5):float() * (r + 1))
same(r == 0 and {3, 6} or {9, 12}, rs, "reduce_scatter sum")
local rsm = dist.reduce_scatter((sg.arange(1, 5):float() * (r + 1)):view(4, 1), {op = "mean"})
same(r == 0 and {{1.5}, {3}} or {{4.5}, {6}}, rsm, "reduce_scatter mean")

-- the differentiable sum: forward sums, backward sums the gradients
local a = sg.tensor({1.0, 2.0}):requires_grad_()
local s = dist.nn.all_reduce(a * (r + 1))
same({3, 6}, s, "nn.all_reduce forward")
;(s * sg.tensor({1.0, 10.0}) * (r + 1)):sum():backward()
-- d/da of sum_ranks(w_r * sum_q (q+1) a) where w_r = (r+1) * {1, 10}: (r+1) * (1 + 2) * {1, 10}
same({3 * (r + 1), 30 * (r + 1)}, a.grad, "nn.all_reduce backward")

dist.barrier()
assert(dist.bytes_communicated() > 0)

-- errors raised alike on every rank (nothing left waiting)
raises("op mean needs a float tensor", dist.all_reduce, sg.tensor({1, 2}), {op = "mean"})
raises("unknown op 'min'", dist.all_reduce, sg.zeros(2), {op = "min"})
raises("unknown option 'ops'", dist.all_reduce, sg.zeros(2), {ops = "sum"})
raises("root 5 is not a rank (0 to 1)", dist.broadcast, sg.zeros(2), 5)
raises("multiple of the world size 2", dist.reduce_scatter, sg.zeros(3))
raises("already initialized", dist.init)

-- debug mode: mismatched shapes, dtypes or collectives are an error on both ranks
dist.destroy()
dist.init({debug = true})
raises("ranks disagree (SGEN_DIST_DEBUG): rank 0 has a float32 2 tensor, rank 1 a float32 3 tensor",
  dist.all_reduce, sg.zeros(2 + r))
raises("rank 0 has a float32 2 tensor, rank 1 a float64 2 tensor",
  dist.broadcast, sg.zeros(2, {dtype = r == 0 and "float32" or "float64"}), 0)
raises("rank 0 called all_reduce, rank 1 called all_gather", function()
  if r == 0 then dist.all_reduce(sg.zeros(2)) else dist.all_gather(sg.zeros(2)) end
end)
raises("rank 0 passed op sum root 0, rank 1 op max root 0", dist.all_reduce, sg.zeros(2),
  {op = r == 0 and "sum" or "max"})
-- and the communicator still works after
same({1, 1}, dist.all_reduce(sg.full({2}, 0.5)), "after the debug errors")
dist.destroy()
raises("sg.dist.init() was not called", dist.rank)
print(string.format("rank %d: collectives ok", r))
