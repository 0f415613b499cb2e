-- sgen.dist: collectives for data-parallel training (docs/distributed.md),
-- the counterpart of torch.distributed over MPI (CPU tensors) or NCCL (CUDA
-- tensors).
--
--   sg.dist.init()                      -- joins the job `sgen launch -n N` started
--   sg.dist.all_reduce(t, {op = "mean"}) -- in place, returns t
--
-- Ranks are 0-based (rank 0 is the first process), as RANK, mpirun and
-- torch.distributed number them: they are process ids, not tensor indices.
-- Without a launcher a script is a world of one process (rank 0 of 1).
-- The module keeps the one communicator of the Lua state.
local core = require "sgen.core"
local check = require "sgen.util.check"

local M = {}
local state = {comm = nil}

-- Errors name the caller's line: level 3 from a function of M, 4 from a helper.
local function fail_at(level, fn, fmt, ...)
  error(string.format("sgen.dist." .. fn .. ": " .. fmt, ...), level)
end
local function fail(fn, fmt, ...) fail_at(3, fn, fmt, ...) end

local function comm(fn)
  if state.comm == nil then
    fail_at(4, fn, "sg.dist.init() was not called (sgen launch -n N script.lua starts the ranks; "
            .. "the script calls sg.dist.init() first)")
  end
  return state.comm
end

-- Calls a communicator method; its errors (raised without a position)
-- are re-raised at the line of the caller of M's function.
local function call(c, method, ...)
  local ok, a = pcall(c[method], c, ...)
  if not ok then error(a, 3) end
  return a
end

local function check_opts(fn, opts, allowed)
  return check.options(opts, allowed, "sgen.dist." .. fn)
end

local function env_flag(name)
  local v = os.getenv(name)
  return v ~= nil and v ~= "" and v ~= "0"
end

--- sg.dist.is_available(backend) -> whether this build has backend "mpi" or "nccl"
function M.is_available(backend)
  backend = backend or "mpi"
  if backend ~= "mpi" and backend ~= "nccl" then
    fail("is_available", "unknown backend '%s' (expected mpi or nccl)", tostring(backend))
  end
  return core.dist_built(backend)
end

--- sg.dist.init({backend = "mpi" | "nccl", debug = false})
-- backend defaults to SGEN_DIST_BACKEND (set by `sgen launch --backend=`), else mpi;
-- debug (or SGEN_DIST_DEBUG=1) checks before every collective that all ranks
-- pass the same shape, dtype and op: a mismatch is an error on every rank.
function M.init(opts)
  opts = check_opts("init", opts, {backend = true, debug = true})
  if state.comm ~= nil then fail("init", "already initialized (call sg.dist.destroy() first)") end
  local backend = opts.backend or os.getenv("SGEN_DIST_BACKEND") or "mpi"
  if backend == "" then backend = "mpi" end
  if backend ~= "mpi" and backend ~= "nccl" then
    fail("init", "unknown backend '%s' (expected mpi or nccl)", tostring(backend))
  end
  if opts.debug ~= nil and type(opts.debug) ~= "boolean" then
    fail("init", "option debug expected a boolean, got %s", type(opts.debug))
  end
  local debug = opts.debug
  if debug == nil then debug = env_flag("SGEN_DIST_DEBUG") end
  local ok, c = pcall(core.dist_init, backend, debug)
  if not ok then error(c, 2) end
  state.comm = c
end

--- sg.dist.is_initialized()
function M.is_initialized() return state.comm ~= nil end

--- sg.dist.destroy(): leaves the job; init may be called again.
function M.destroy()
  local c = comm("destroy")
  state.comm = nil
  c:destroy()
end

function M.rank() return comm("rank"):info().rank end
function M.world_size() return comm("world_size"):info().world_size end
function M.local_rank() return comm("local_rank"):info().local_rank end
function M.backend() return comm("backend"):info().backend end
--- sg.dist.is_main(): true on rank 0 (the one that logs and writes checkpoints)
function M.is_main() return comm("is_main"):info().rank == 0 end

local reduce_keys = {op = true}

--- sg.dist.all_reduce(t, {op = "sum" | "mean" | "max"}) -> t, reduced in place over all ranks
function M.all_reduce(t, opts)
  local c = comm("all_reduce")
  opts = check_opts("all_reduce", opts, reduce_keys)
  return call(c, "all_reduce", t, opts.op)
end

--- sg.dist.broadcast(t, root) -> t, overwritten in place with rank root's t (root 0-based)
function M.broadcast(t, root)
  local c = comm("broadcast")
  if math.type(root) ~= "integer" then
    fail("broadcast", "argument 2 (root) expected a rank (an integer from 0), got %s",
         tostring(root))
  end
  return call(c, "broadcast", t, root)
end

--- sg.dist.all_gather(t) -> a tensor of shape {world_size, t's shape}: out[r + 1] is rank r's t
function M.all_gather(t)
  return call(comm("all_gather"), "all_gather", t)
end

--- sg.dist.reduce_scatter(t, {op =}) -> this rank's block (dim 1 split into world_size blocks) of the reduction
function M.reduce_scatter(t, opts)
  local c = comm("reduce_scatter")
  opts = check_opts("reduce_scatter", opts, reduce_keys)
  return call(c, "reduce_scatter", t, opts.op)
end

--- sg.dist.nn.all_reduce(t) -> a new tensor, the sum over ranks of t, recorded by
-- autograd (its backward sums the gradients over ranks): torch.distributed.nn.all_reduce
M.nn = {}
function M.nn.all_reduce(t)
  return call(comm("nn.all_reduce"), "all_reduce_autograd", t)
end

function M.barrier() call(comm("barrier"), "barrier") end

--- sg.dist.bytes_communicated() -> payload bytes handed to the collectives so far
function M.bytes_communicated() return comm("bytes_communicated"):bytes_communicated() end

--- sg.dist.save(path, obj, opts): sg.save on rank 0 only, then a barrier so that no
-- rank reads the file before it is complete; call it on every rank. Save the
-- unwrapped module (ddp.module): the checkpoint then loads at any world size.
-- Before init (one process) it is sg.save.
function M.save(path, obj, opts)
  if state.comm == nil or state.comm:info().rank == 0 then
    local ok, err = pcall(require("sgen.io").save, path, obj, opts)
    if not ok then error(err, 2) end
  end
  if state.comm ~= nil then call(state.comm, "barrier") end
end

return M
