#!/usr/bin/env bash
# Times one Deep Image Prior iteration (input perturbation, forward, MSE,
# backward, Adam step) of the same network in sgen (bench/dip_step.lua,
# models/unet_dip.lua) and in PyTorch (bench/dip_step.py), with the same
# thread count, at each size, for every PyTorch build of bench/peers.sh
# (Debian's python3-torch; the newest PyPI wheel once bench/peer_venv.sh has
# made .venv-bench/), each twice: as is and with OPENBLAS_NUM_THREADS=1
# (Debian's torch calls the pthread build of OpenBLAS, whose threads can fight
# torch's OpenMP threads). Prints ms per iteration, the ratio sgen / torch
# (<= 1.0: sgen is as fast or faster) per torch run, and the best torch run.
#
#   bash bench/dip_step.sh [--threads N] [--iters N] [--warmup N] [--sizes "128 256"] [--save]
#
# BUILD (default: build) is the CMake build dir holding bin/sgen; it is built
# there when missing. --save also writes the whole output, with the machine
# description, every peer's torch version, the date and the command, to
# bench/results/<date>-dip_step.txt. BENCH_PEERS=deb: Debian's torch only.
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

# shellcheck source=bench/peers.sh
. "$here/peers.sh"
bench_peers_init "$root" || exit 1
if [ ! -x "$build/bin/sgen" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target sgen
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# ms_per_iter=... of a result line
ms_of() { sed -n 's/.*ms_per_iter=\([0-9.]*\).*/\1/p' "$1" | tail -1; }

run() {
  local common="--iters $iters --warmup $warmup" s i py
  for s in $sizes; do
    echo "== size ${s}x${s}"
    echo "\$ OMP_NUM_THREADS=$threads $build_arg/bin/sgen run bench/dip_step.lua --size=$s --iters=$iters --warmup=$warmup --threads=$threads"
    (cd "$root" && OMP_NUM_THREADS=$threads "$build/bin/sgen" run bench/dip_step.lua --size="$s" \
      --iters="$iters" --warmup="$warmup" --threads="$threads") | tee "$tmp/sgen-$s.txt"
    for i in "${!PEER_PYTHONS[@]}"; do
      py="${PEER_PYTHONS[$i]}"
      echo "\$ OMP_NUM_THREADS=$threads $py bench/dip_step.py --size $s $common --threads $threads    # ${PEER_LABELS[$i]}"
      OMP_NUM_THREADS=$threads "$py" "$here/dip_step.py" --size "$s" --iters "$iters" \
        --warmup "$warmup" --threads "$threads" | tee "$tmp/torch$i-$s.txt"
      echo "\$ OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads $py bench/dip_step.py --size $s $common --threads $threads    # ${PEER_LABELS[$i]}"
      OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads "$py" "$here/dip_step.py" --size "$s" \
        --iters "$iters" --warmup "$warmup" --threads "$threads" | tee "$tmp/torch$i-ob1-$s.txt"
    done
    echo
  done
  echo "== summary ($threads threads, mean of $iters iterations after $warmup warm-up; ratio = sgen / torch, <= 1.0 means"
  echo "   sgen is as fast or faster; OB=1: OPENBLAS_NUM_THREADS=1; best: the fastest torch run)"
  local vals
  {
    bench_summary_header size ms/it
    for s in $sizes; do
      vals=()
      for i in "${!PEER_PYTHONS[@]}"; do
        vals+=("$(ms_of "$tmp/torch$i-$s.txt")" "$(ms_of "$tmp/torch$i-ob1-$s.txt")")
      done
      bench_summary_row "${s}x${s}" "%.1f" "$(ms_of "$tmp/sgen-$s.txt")" "${vals[@]}"
    done
  } | bench_table
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
    bench_peers_describe
    echo "#   environment: $(env | grep -E '^(OMP_|OPENBLAS_|GOMP_|MKL_|SGEN_NUM_THREADS|BENCH_PEERS)' | sort | paste -sd ' ' - || true)"
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
