#!/usr/bin/env bash
# Data-parallel Fashion-MNIST (examples/ddp_fmnist.lua --quick) with 2 MPI
# ranks against 1 process with the doubled batch, over seeds: the accuracy
# claim of issue 20 as mean +- std and paired differences.
#   bash tools/ddp_fmnist_seeds.sh [SEEDS...]     (default 1 2 3)
set -euo pipefail
cd "$(dirname "$0")/.."
SGEN=${SGEN:-build/bin/sgen}
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)
echo "# ddp_fmnist --quick, $(git rev-parse --short HEAD), $(date -u +%FT%TZ), $(nproc) cores"
for s in "${seeds[@]}"; do
  two=$("$SGEN" launch -n 2 examples/ddp_fmnist.lua --quick --seed="$s" 2>&1 | grep -Eo 'test accuracy[^%]*%' | tail -1)
  one=$("$SGEN" run examples/ddp_fmnist.lua --quick --batch_size=128 --seed="$s" 2>&1 | grep -Eo 'test accuracy[^%]*%' | tail -1)
  echo "seed $s  2 ranks x 64: $two   1 process x 128: $one"
done
