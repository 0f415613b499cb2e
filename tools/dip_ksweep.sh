#!/usr/bin/env bash
# The sweep that chose k for docs/results/dip.md: one image, one seed,
# vanilla once and L0 / L0,inf for each k, at the CPU results scale.
#   tools/dip_ksweep.sh OUT_DIR [IMAGE] [K values]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:?usage: tools/dip_ksweep.sh OUT_DIR [IMAGE] [\"2 4 8 16\"]}"
image="${2:-$here/../data/images/astronaut_256.png}"
ks="${3:-2 4 8 16}"
scale=(--crop=96 --channels=32 --scales=4 --iters=3000)
"$here/dip_results.sh" "$out/vanilla" --seeds 1 --images "$image" --variants none -- "${scale[@]}"
for k in $ks; do
  "$here/dip_results.sh" "$out/k$k" --seeds 1 --images "$image" --variants "l0 l0inf" -- "${scale[@]}" --k="$k"
done
for k in $ks; do
  echo "== k = $k"
  grep -h "best single" "$out"/k"$k"/*/*/seed1/log.txt
done
grep -h "best single" "$out"/vanilla/*/*/seed1/log.txt
