#!/bin/sh
# Data-parallel scaling of a DCGAN step (bench/ddp_step.lua): 1 and 2 MPI
# ranks through `sgen launch`, one OpenMP thread per rank, the same global
# batch (strong scaling), and the gradient bytes each rank all-reduces per
# step. Run it on a quiet machine only (`uptime` load well under the cores):
# it refuses to when the 1-minute load is 3 or more, unless FORCE=1.
#   bash bench/ddp_step.sh [--batch=64] [--iters=10]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
sgen=${SGEN:-$here/${BUILD:-build}/bin/sgen}
load=$(cut -d' ' -f1 /proc/loadavg)
if [ "${FORCE:-0}" != 1 ] && awk "BEGIN{exit !($load >= 3)}"; then
  echo "ddp_step: the 1-minute load is $load (>= 3): timings would mean nothing; FORCE=1 to run anyway" >&2
  exit 1
fi
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -n), $(nproc) cores, load $load; OMP_NUM_THREADS=1 per rank"
for n in 1 2; do
  OMP_NUM_THREADS=1 "$sgen" launch -n "$n" "$here/bench/ddp_step.lua" "$@"
done
