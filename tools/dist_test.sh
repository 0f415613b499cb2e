#!/bin/sh
# ctest's dist.* entries: runs a spec/dist/ script as 2 ranks through
# `sgen launch -n 2`, one OpenMP thread per rank (a 2-core machine).
#   dist_test.sh SGEN SCRIPT          the job must succeed
#   dist_test.sh SGEN SCRIPT --fails  the job must fail with the script's
#                                     error, non-zero, within 20 s
#   dist_test.sh SGEN SCRIPT --nccl   2 ranks on 2 GPUs (--backend=nccl, the
#                                     script gets --device=cuda)
# Exits 77 (skipped) when this sgen was built without MPI, or for --nccl
# without NCCL or with fewer than 2 usable GPUs.
sgen=$1
script=$2
mode=${3:-}
"$sgen" -e 'os.exit(sg.dist.is_available("mpi") and 0 or 77)'
st=$?
if [ "$st" -eq 77 ]; then echo "sgen was built without MPI: skipped"; exit 77; fi
if [ "$st" -ne 0 ]; then echo "sgen does not start (status $st)"; exit 1; fi
export OMP_NUM_THREADS=1
if [ "$mode" = "--nccl" ]; then
  "$sgen" -e 'os.exit(sg.dist.is_available("nccl") and sg.cuda.is_available() and sg.cuda.device_count() >= 2 and 0 or 77)'
  st=$?
  if [ "$st" -eq 77 ]; then echo "no NCCL build or fewer than 2 GPUs: skipped"; exit 77; fi
  if [ "$st" -ne 0 ]; then echo "sgen does not start (status $st)"; exit 1; fi
  exec timeout 300 "$sgen" launch -n 2 --backend=nccl "$script" --device=cuda
fi
if [ "$mode" != "--fails" ]; then
  exec timeout 300 "$sgen" launch -n 2 "$script"
fi
start=$(date +%s)
out=$(timeout 60 "$sgen" launch -n 2 "$script" 2>&1)
rc=$?
took=$(( $(date +%s) - start ))
printf '%s\n' "$out"
echo "dist_test: status $rc after ${took}s"
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then echo "dist_test: expected the job to fail (status $rc)"; exit 1; fi
if ! printf '%s\n' "$out" | grep -q "rank 1 fails on purpose"; then echo "dist_test: the failing rank's error is missing"; exit 1; fi
if printf '%s\n' "$out" | grep -q "passed the barrier"; then echo "dist_test: rank 0 went on"; exit 1; fi
if [ "$took" -gt 20 ]; then echo "dist_test: took ${took}s (more than 20)"; exit 1; fi
exit 0
