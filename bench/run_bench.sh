#!/usr/bin/env bash
# Runs the op benchmark in sgen (bench/bench_ops.c) and in PyTorch
# (bench/bench_ops.py) with the same thread count, for every PyTorch build of
# bench/peers.sh (Debian's python3-torch; the newest PyPI wheel once
# bench/peer_venv.sh has made .venv-bench/), each twice: as is and with
# OPENBLAS_NUM_THREADS=1. Prints a table: op, sgen ms, per torch run its ms
# and sgen/torch (<= 1.0: sgen is as fast or faster), then the best torch run
# and sgen/best.
#
#   bash bench/run_bench.sh [--threads N] [--reps N] [--save]
#
# BUILD (default: build) is the CMake build dir holding bench_ops; it is
# built there when missing. --save also writes the whole output, with the
# machine description, every peer's torch version and the command, to
# bench/results/<date>-bench_ops.txt. BENCH_PEERS=deb: Debian's torch only.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build_arg="${BUILD:-build}"
build="$build_arg"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
threads=2
reps=()
save=0
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --reps) reps=(--reps "$2"); shift 2 ;;
    --save) save=1; shift ;;
    *) echo "usage: $0 [--threads N] [--reps N] [--save]" >&2; exit 2 ;;
  esac
done

# shellcheck source=bench/peers.sh
. "$here/peers.sh"
bench_peers_init "$root" || exit 1
if [ ! -x "$build/bench_ops" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target bench_ops
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# the median ms of op $2 in the bench_ops output $1
result() { awk -v k="$2" '$1 == "RESULT" && $2 == k { v = $3 } END { print v }' "$1"; }

run() {
  local i py
  echo "== sgen: OMP_NUM_THREADS=$threads $build_arg/bench_ops --threads $threads ${reps[*]}"
  OMP_NUM_THREADS=$threads "$build/bench_ops" --threads "$threads" "${reps[@]}" | tee "$tmp/sgen.txt"
  echo
  for i in "${!PEER_PYTHONS[@]}"; do
    py="${PEER_PYTHONS[$i]}"
    echo "== ${PEER_LABELS[$i]}: OMP_NUM_THREADS=$threads $py bench/bench_ops.py --threads $threads ${reps[*]}"
    OMP_NUM_THREADS=$threads "$py" "$here/bench_ops.py" --threads "$threads" "${reps[@]}" | tee "$tmp/torch$i.txt"
    echo
    echo "== ${PEER_LABELS[$i]}: OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads $py bench/bench_ops.py --threads $threads ${reps[*]}"
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads "$py" "$here/bench_ops.py" --threads "$threads" "${reps[@]}" \
      | tee "$tmp/torch$i-ob1.txt"
    echo
  done
  echo "== summary ($threads threads; median ms; ratio = sgen / torch, <= 1.0 means sgen is as fast or faster;"
  echo "   OB=1: OPENBLAS_NUM_THREADS=1; best: the fastest torch run)"
  local k vals
  {
    bench_summary_header op ms
    for k in $(awk '$1 == "RESULT" && $2 != "memcpy_16M" && !seen[$2]++ { print $2 }' "$tmp/sgen.txt"); do
      vals=()
      for i in "${!PEER_PYTHONS[@]}"; do
        vals+=("$(result "$tmp/torch$i.txt" "$k")" "$(result "$tmp/torch$i-ob1.txt" "$k")")
      done
      bench_summary_row "$k" "%.2f" "$(result "$tmp/sgen.txt" "$k")" "${vals[@]}"
    done
  } | bench_table
  awk '$1 == "INFO" && $2 == "add_bandwidth_ratio" { bw = $3 }
    END { if (bw != "") printf "add_16M bandwidth: sgen achieves %s of the memcpy bandwidth measured by bench_ops\n", bw }' \
    "$tmp/sgen.txt"
}

if [ "$save" = 1 ]; then
  mkdir -p "$here/results"
  out="$here/results/$(date +%F)-bench_ops.txt"
  {
    echo "# bench_ops, $(date -u '+%F %T UTC'), git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "# command: BUILD=$build_arg bash bench/run_bench.sh --threads $threads ${reps[*]:+${reps[*]} }--save"
    echo "# machine:"
    lscpu | head -20 | sed 's/^/#   /'
    echo "#   nproc: $(nproc)"
    echo "#   memory: $(free -h | awk '/^Mem:/ {print $2}') total"
    bench_peers_describe
    echo "#   load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    run
    echo
    echo "# load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  } 2>&1 | tee "$out"
  echo "run_bench: wrote $out"
else
  run
fi
