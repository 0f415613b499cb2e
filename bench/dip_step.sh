#!/usr/bin/env bash
# Times one Deep Image Prior iteration (input perturbation, forward, MSE,
# backward, Adam step) of the same network in sgen (bench/dip_step.lua,
# models/unet_dip.lua) and in PyTorch (bench/dip_step.py, Debian's
# /usr/bin/python3), with the same thread count, at each size; PyTorch once
# more with OPENBLAS_NUM_THREADS=1 (Debian's torch calls the pthread build of
# OpenBLAS, whose threads can fight torch's OpenMP threads). Prints ms per
# iteration and the ratio sgen / torch (<= 1.0: sgen is as fast or faster).
#
#   bash bench/dip_step.sh [--threads N] [--iters N] [--warmup N] [--sizes "128 256"] [--save]
#
# BUILD (default: build) is the CMake build dir holding bin/sgen; it is built
# there when missing. --save also writes the whole output, with the machine
# description, the date and the command, to bench/results/<date>-dip_step.txt.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build_arg="${BUILD:-build}"
build="$build_arg"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
threads=2
iters=5
warmup=2
sizes="128 256"
save=0
args=("$@")
usage() {
  echo "usage: $0 [--threads N] [--iters N] [--warmup N] [--sizes \"128 256\"] [--save]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) [ $# -ge 2 ] || usage; threads="$2"; shift 2 ;;
    --iters) [ $# -ge 2 ] || usage; iters="$2"; shift 2 ;;
    --warmup) [ $# -ge 2 ] || usage; warmup="$2"; shift 2 ;;
    --sizes) [ $# -ge 2 ] || usage; sizes="$2"; shift 2 ;;
    --save) save=1; shift ;;
    *) usage ;;
  esac
done
for v in "$threads" "$iters" "$warmup" $sizes; do
  case "$v" in ''|*[!0-9]*) echo "dip_step: '$v' is not a non-negative integer" >&2; exit 2 ;; esac
done

python=/usr/bin/python3
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "dip_step: $python cannot import torch (apt-get install python3-torch)" >&2
  exit 1
fi
if [ ! -x "$build/bin/sgen" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target sgen
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# ms_per_iter=... of a result line
ms_of() { sed -n 's/.*ms_per_iter=\([0-9.]*\).*/\1/p' "$1" | tail -1; }

run() {
  local common="--iters $iters --warmup $warmup"
  for s in $sizes; do
    echo "== size ${s}x${s}"
    echo "\$ OMP_NUM_THREADS=$threads $build_arg/bin/sgen run bench/dip_step.lua --size=$s --iters=$iters --warmup=$warmup --threads=$threads"
    (cd "$root" && OMP_NUM_THREADS=$threads "$build/bin/sgen" run bench/dip_step.lua --size="$s" \
      --iters="$iters" --warmup="$warmup" --threads="$threads") | tee "$tmp/sgen-$s.txt"
    echo "\$ OMP_NUM_THREADS=$threads $python bench/dip_step.py --size $s $common --threads $threads"
    OMP_NUM_THREADS=$threads "$python" "$here/dip_step.py" --size "$s" --iters "$iters" \
      --warmup "$warmup" --threads "$threads" | tee "$tmp/torch-$s.txt"
    echo "\$ OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads $python bench/dip_step.py --size $s $common --threads $threads"
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads "$python" "$here/dip_step.py" --size "$s" \
      --iters "$iters" --warmup "$warmup" --threads "$threads" | tee "$tmp/torch1-$s.txt"
    echo
  done
  echo "== summary ($threads threads, mean of $iters iterations after $warmup warm-up; ratio = sgen / torch, <= 1.0 means sgen is as fast or faster)"
  printf "%-10s %12s %12s %8s   %18s %8s\n" "size" "sgen ms/it" "torch ms/it" "ratio" "torch(OB=1) ms/it" "ratio"
  for s in $sizes; do
    awk -v size="${s}x${s}" -v a="$(ms_of "$tmp/sgen-$s.txt")" -v b="$(ms_of "$tmp/torch-$s.txt")" \
      -v c="$(ms_of "$tmp/torch1-$s.txt")" '
      function ratio(x, y) { return (x == "" || y == "" || y + 0 == 0) ? "n/a" : sprintf("%.2f", x / y) }
      function ms(x) { return x == "" ? "n/a" : sprintf("%.1f", x) }
      BEGIN { printf "%-10s %12s %12s %8s   %18s %8s\n", size, ms(a), ms(b), ratio(a, b), ms(c), ratio(a, c) }'
  done
}

if [ "$save" = 1 ]; then
  mkdir -p "$here/results"
  out="$here/results/$(date +%F)-dip_step.txt"
  {
    echo "# dip_step, $(date -u '+%F %T UTC'), git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "# command: BUILD=$build_arg bash bench/dip_step.sh ${args[*]:-}"
    echo "# machine:"
    echo "#   model: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    lscpu | grep -E '^(Architecture|CPU\(s\)|Thread\(s\) per core|Core\(s\) per socket|Socket\(s\)|L2 cache|L3 cache)' \
      | sed 's/^/#   /'
    echo "#   nproc: $(nproc)"
    echo "#   memory: $(free -h | awk '/^Mem:/ {print $2}') total"
    echo "#   sgen: $("$build/bin/sgen" info 2>/dev/null | grep -E 'BLAS|build type' | sed 's/^ *//; s/  */ /g' | paste -sd ';' -)"
    echo "#   torch: $("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null)"
    echo "#   environment: $(env | grep -E '^(OMP_|OPENBLAS_|GOMP_|SGEN_NUM_THREADS)' | sort | paste -sd ' ' - || true)"
    echo "#   load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    run
    echo
    echo "# load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  } 2>&1 | tee "$out"
  echo "dip_step: wrote $out"
else
  run
fi
