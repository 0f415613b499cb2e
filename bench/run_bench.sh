#!/usr/bin/env bash
# Runs the op benchmark in sgen (bench/bench_ops.c) and in PyTorch
# (bench/bench_ops.py, Debian's /usr/bin/python3) with the same thread count,
# once more in PyTorch with OPENBLAS_NUM_THREADS=1, and prints a table:
# op, sgen ms, torch ms, sgen/torch (<= 1.0: sgen is as fast or faster).
#
#   bash bench/run_bench.sh [--threads N] [--reps N] [--save]
#
# BUILD (default: build) is the CMake build dir holding bench_ops; it is
# built there when missing. --save also writes the whole output, with the
# machine description and the command, to bench/results/<date>.txt.
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

python=/usr/bin/python3
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "run_bench: $python cannot import torch (apt-get install python3-torch)" >&2
  exit 1
fi
if [ ! -x "$build/bench_ops" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target bench_ops
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

run() {
  echo "== sgen: OMP_NUM_THREADS=$threads $build_arg/bench_ops --threads $threads ${reps[*]}"
  OMP_NUM_THREADS=$threads "$build/bench_ops" --threads "$threads" "${reps[@]}" | tee "$tmp/sgen.txt"
  echo
  echo "== torch: OMP_NUM_THREADS=$threads $python bench/bench_ops.py --threads $threads ${reps[*]}"
  OMP_NUM_THREADS=$threads "$python" "$here/bench_ops.py" --threads "$threads" "${reps[@]}" \
    | tee "$tmp/torch.txt"
  echo
  echo "== torch: OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads $python bench/bench_ops.py --threads $threads ${reps[*]}"
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads "$python" "$here/bench_ops.py" \
    --threads "$threads" "${reps[@]}" | tee "$tmp/torch1.txt"
  echo
  echo "== summary ($threads threads; median ms; ratio = sgen / torch, <= 1.0 means sgen is as fast or faster)"
  awk '
    FNR == 1 { f++ }
    $1 == "RESULT" { v[f, $2] = $3; if (f == 1 && !($2 in seen)) { seen[$2] = 1; order[n++] = $2 } }
    $1 == "INFO" && $2 == "add_bandwidth_ratio" { bw = $3 }
    function ratio(a, b) { return (a == "" || b == "" || a == "nan" || b == "nan" || b + 0 == 0) ? "n/a" : sprintf("%.2f", a / b) }
    function ms(a) { return (a == "" || a == "nan") ? "n/a" : sprintf("%.2f", a) }
    END {
      printf "%-28s %10s %10s %8s   %14s %8s\n", "op", "sgen ms", "torch ms", "ratio", "torch(OB=1) ms", "ratio"
      for (i = 0; i < n; i++) {
        k = order[i]
        if (k == "memcpy_16M") continue
        printf "%-28s %10s %10s %8s   %14s %8s\n", k, ms(v[1, k]), ms(v[2, k]), ratio(v[1, k], v[2, k]), ms(v[3, k]), ratio(v[1, k], v[3, k])
      }
      if (bw != "") printf "add_16M bandwidth: sgen achieves %s of the memcpy bandwidth measured by bench_ops\n", bw
    }' "$tmp/sgen.txt" "$tmp/torch.txt" "$tmp/torch1.txt"
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
