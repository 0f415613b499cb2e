-- Run by `sgen launch -n 2` (ctest dist.failing_rank): rank 1 raises an
-- error while rank 0 waits in a collective; the launcher must end the job
-- with rank 1's error and a non-zero status within seconds, not hang.
local sg = require "sgen"
sg.dist.init()
if sg.dist.rank() == 1 then error("rank 1 fails on purpose") end
sg.dist.all_reduce(sg.ones(4))
sg.dist.barrier()
print("rank 0 passed the barrier: the failing rank did not stop the job")
