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

# shellcheck source=bench/peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"
bench_paths
threads=2 reps_n='' save=0
usage() {
  echo "usage: $0 [--threads N] [--reps N] [--save]" >&2
  exit 2
}
bench_parse_args "threads reps:reps_n save!" "$@"
reps=()
[ -z "$reps_n" ] || reps=(--reps "$reps_n")
bench_prepare bench_ops bench_ops

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

bench_main bench_ops "$save" run "$@"
