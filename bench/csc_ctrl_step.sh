#!/usr/bin/env bash
# Times one CSC-CTRL training step (one max step of the encoder f, then one
# min step of the decoder g: one iteration of experiments/csc_ctrl.lua) in sgen
# (bench/csc_ctrl_step.lua: models/csc_ctrl.lua + sgen.ctrl.Game) and in
# PyTorch (bench/csc_ctrl_step.py: the same model and step written out), on
# the CPU, with the same thread count, at the Fashion-MNIST size: batch 128 of
# 1 x 32 x 32 in [-1, 1] (a fixed random batch: no data loading is timed),
# width 1 (c = 64, nz = 512), Adam 2e-4 (0, 0.9), Strategy 2. Rows:
#   csc   CSCCTRL: 4 CSC layers (4x4 atoms, λ 0.01, 2 unrolled FISTA iterations,
#         ReLU prox, unit-norm atoms, L by power iteration (<= 50 steps) cached
#         and refreshed every 2 training forwards), the same dictionaries in g
#   ctrl  the CTRL baseline: Conv2d / unshared ConvTranspose2d of the same shapes
# Every PyTorch build of bench/peers.sh (Debian's python3-torch; the PyPI
# wheel once .venv-bench exists) runs twice: with the thread count, and with
# OPENBLAS_NUM_THREADS=1 as well. Prints ms per step (mean of --iters after
# --warmup), per peer both timings and the ratios sgen / torch, then the best
# torch time and sgen / best (<= 1.0: sgen as fast or faster; issue 12's
# target for csc is <= 0.75).
#
#   bash bench/csc_ctrl_step.sh [--threads N] [--iters N] [--warmup N] [--batch 128]
#                               [--width 1] [--model csc|ctrl] [--strategy 1|2] [--check] [--save]
#
# Both sides do identical work (see the headers of the two drivers): the same
# shapes, passes (per step: 4 f passes and 2 g passes, one of them without
# gradient; 2 backward passes; 2 Adam steps), CSC solver steps, power
# iterations, logdets (three per objective, as sgen.F_rate computes them) and
# host reads of the ΔR terms. The parameter counts they print are compared (a
# mismatch is reported and makes the script exit 1). Differences that remain:
# different RNGs (the initial weights differ: the losses agree in magnitude
# only; the power iteration's fixed start vector differs too, but both take
# all 50 steps on these dictionaries: power_iters= in the output); sgen keeps
# the CSC layers' cached L in tensors (exact resume: a few tiny host reads /
# writes per CSC forward), the PyTorch twin in Python attributes; the ΔR
# terms are summed in the same order but by each library's own kernels (the
# PyPI and Debian builds differ in the 4th digit after a few steps).
# --check first verifies that the twins compute the same thing: one game step
# (Strategies 1 and 2) of a small CSC-CTRL (width 0.25, batch 6) from the same
# state on both sides (bench/csc_ctrl_step_check.lua dumps sgen's,
# bench/csc_ctrl_step_check.py redoes the step with bench/csc_ctrl_step.py's
# model, for every peer): objectives, ΔR terms, each layer's L and refresh
# count, every parameter's gradient and the dictionaries after both Adam
# steps must agree to float32 rounding, else the script exits 1.
#
# BUILD (default: build) is the CMake build dir holding bin/sgen; it is built
# there (target sgen_exe) when missing. --save also writes the whole output,
# with the machine description, the date and the command, to
# bench/results/<date>-csc_ctrl_step.txt.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=bench/peers.sh
. "$here/peers.sh"
build_arg="${BUILD:-build}"
build="$build_arg"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
threads=2
iters=5
warmup=2
batch=128
width=1
models="csc ctrl"
strategy=2
check=0
save=0
args=("$@")
usage() {
  echo "usage: $0 [--threads N] [--iters N] [--warmup N] [--batch N] [--width W] [--model csc|ctrl] [--strategy 1|2] [--check] [--save]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) [ $# -ge 2 ] || usage; threads="$2"; shift 2 ;;
    --iters) [ $# -ge 2 ] || usage; iters="$2"; shift 2 ;;
    --warmup) [ $# -ge 2 ] || usage; warmup="$2"; shift 2 ;;
    --batch) [ $# -ge 2 ] || usage; batch="$2"; shift 2 ;;
    --width) [ $# -ge 2 ] || usage; width="$2"; shift 2 ;;
    --model) [ $# -ge 2 ] || usage; models="$2"; shift 2 ;;
    --strategy) [ $# -ge 2 ] || usage; strategy="$2"; shift 2 ;;
    --check) check=1; shift ;;
    --save) save=1; shift ;;
    *) usage ;;
  esac
done
for v in "$threads" "$iters" "$warmup" "$batch"; do
  case "$v" in ''|*[!0-9]*) echo "csc_ctrl_step: '$v' is not a non-negative integer" >&2; exit 2 ;; esac
done
if [ "$threads" -lt 1 ] || [ "$iters" -lt 1 ] || [ "$batch" -lt 2 ]; then
  echo "csc_ctrl_step: --threads and --iters must be >= 1, --batch >= 2" >&2
  exit 2
fi
[[ "$width" =~ ^[0-9]*\.?[0-9]+$ ]] || { echo "csc_ctrl_step: --width '$width' is not a positive number" >&2; exit 2; }
case "$models" in csc|ctrl|"csc ctrl") ;; *) echo "csc_ctrl_step: --model must be csc or ctrl" >&2; exit 2 ;; esac
case "$strategy" in 1|2) ;; *) echo "csc_ctrl_step: --strategy must be 1 or 2" >&2; exit 2 ;; esac

bench_peers_init "$root"
if [ ! -x "$build/bin/sgen" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target sgen_exe
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

common_lua=(--strategy="$strategy" --batch="$batch" --width="$width" --iters="$iters" --warmup="$warmup" --threads="$threads")
common_py=(--strategy "$strategy" --batch "$batch" --width "$width" --iters "$iters" --warmup "$warmup" --threads "$threads")

# key=... of a result line
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1" | tail -1; }

# The twin check (--check): exits 1 when sgen and a peer disagree.
check_twins() {
  local s i
  for s in 2 1; do
    echo "== check: one game step, strategy $s, width 0.25, batch 6, same state on both sides"
    echo "\$ $build_arg/bin/sgen run bench/csc_ctrl_step_check.lua --strategy=$s --out=\$tmp/check-s$s.json"
    (cd "$root" && OMP_NUM_THREADS=1 "$build/bin/sgen" run bench/csc_ctrl_step_check.lua --strategy="$s" \
      --out="$tmp/check-s$s.json" --threads=1)
    for i in "${!PEER_PYTHONS[@]}"; do
      echo "\$ ${PEER_PYTHONS[$i]} bench/csc_ctrl_step_check.py \$tmp/check-s$s.json    # ${PEER_LABELS[$i]}"
      if ! OMP_NUM_THREADS=1 "${PEER_PYTHONS[$i]}" "$here/csc_ctrl_step_check.py" "$tmp/check-s$s.json"; then
        echo "csc_ctrl_step: --check failed: sgen and ${PEER_LABELS[$i]} disagree (strategy $s)" >&2
        return 1
      fi
    done
    echo
  done
}

run() {
  local m i py
  if [ "$check" = 1 ] && ! check_twins; then
    touch "$tmp/checkfail"
    return 0
  fi
  for m in $models; do
    echo "== $m (strategy $strategy)"
    echo "\$ OMP_NUM_THREADS=$threads $build_arg/bin/sgen run bench/csc_ctrl_step.lua --model=$m ${common_lua[*]}"
    (cd "$root" && OMP_NUM_THREADS=$threads "$build/bin/sgen" run bench/csc_ctrl_step.lua --model="$m" \
      "${common_lua[@]}") | tee "$tmp/sgen-$m.txt"
    for i in "${!PEER_PYTHONS[@]}"; do
      py="${PEER_PYTHONS[$i]}"
      echo "\$ OMP_NUM_THREADS=$threads $py bench/csc_ctrl_step.py --model $m ${common_py[*]}    # ${PEER_LABELS[$i]}"
      OMP_NUM_THREADS=$threads "$py" "$here/csc_ctrl_step.py" --model "$m" "${common_py[@]}" | tee "$tmp/torch$i-$m.txt"
      echo "\$ OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads $py bench/csc_ctrl_step.py --model $m ${common_py[*]}    # ${PEER_LABELS[$i]}"
      OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads "$py" "$here/csc_ctrl_step.py" --model "$m" "${common_py[@]}" \
        | tee "$tmp/torch$i-ob1-$m.txt"
      local p f
      for f in "$tmp/torch$i-$m.txt" "$tmp/torch$i-ob1-$m.txt"; do
        for p in params params_f params_g; do
          if [ "$(field "$tmp/sgen-$m.txt" $p)" != "$(field "$f" $p)" ]; then
            echo "csc_ctrl_step: $m: $p differs: sgen $(field "$tmp/sgen-$m.txt" $p), ${PEER_LABELS[$i]} $(field "$f" $p)" >&2
            touch "$tmp/mismatch"
          fi
        done
      done
    done
    echo
  done

  echo "== summary ($threads threads, batch $batch, width $width, strategy $strategy; ms per max+min step,"
  echo "   mean of $iters steps after $warmup warm-up; ratio = sgen / torch, <= 1.0 means sgen is as fast or"
  echo "   faster; OB=1: OPENBLAS_NUM_THREADS=1; target for csc: <= 0.75 x the best torch)"
  local header="model|sgen ms"
  for i in "${!PEER_PYTHONS[@]}"; do
    header="$header|${PEER_LABELS[$i]} ms|ratio|OB=1 ms|ratio"
  done
  header="$header|best torch ms|ratio|best run"
  local rows=("$header") row a b best bestrun
  for m in $models; do
    a="$(field "$tmp/sgen-$m.txt" ms_per_iter)"
    row="$m|$(awk -v x="$a" 'BEGIN { print x == "" ? "n/a" : sprintf("%.1f", x) }')"
    best=""
    bestrun="n/a"
    for i in "${!PEER_PYTHONS[@]}"; do
      for f in "$tmp/torch$i-$m.txt" "$tmp/torch$i-ob1-$m.txt"; do
        b="$(field "$f" ms_per_iter)"
        row="$row|$(awk -v x="$a" -v y="$b" 'BEGIN {
          printf "%s|%s", (y == "" ? "n/a" : sprintf("%.1f", y)),
            ((x == "" || y == "" || y + 0 == 0) ? "n/a" : sprintf("%.2f", x / y)) }')"
        if [ -n "$b" ] && { [ -z "$best" ] || awk -v y="$b" -v z="$best" 'BEGIN { exit !(y + 0 < z + 0) }'; }; then
          best="$b"
          bestrun="${PEER_LABELS[$i]%% *}"
          case "$f" in *-ob1-*) bestrun="$bestrun OB=1" ;; esac
        fi
      done
    done
    row="$row|$(awk -v x="$a" -v y="$best" 'BEGIN {
      printf "%s|%s", (y == "" ? "n/a" : sprintf("%.1f", y)),
        ((x == "" || y == "" || y + 0 == 0) ? "n/a" : sprintf("%.2f", x / y)) }')|$bestrun"
    rows+=("$row")
  done
  printf '%s\n' "${rows[@]}" | awk -F'|' '
    { for (j = 1; j <= NF; j++) { cell[NR, j] = $j; if (length($j) > w[j]) w[j] = length($j) } n = NF; r = NR }
    END { for (i = 1; i <= r; i++) { line = sprintf("%-" w[1] "s", cell[i, 1])
            for (j = 2; j <= n; j++) line = line sprintf("  %" w[j] "s", cell[i, j])
            print line } }'

  echo
  echo "== the last step's objective (min step; max_total: the max step's), sgen and each torch run"
  local terms="max_total min_total R_Z R_Zhat delta_R_pairs power_iters" t
  rows=("model|side|${terms// /|}")
  for m in $models; do
    local files=("$tmp/sgen-$m.txt") names=("sgen")
    for i in "${!PEER_PYTHONS[@]}"; do
      files+=("$tmp/torch$i-$m.txt" "$tmp/torch$i-ob1-$m.txt")
      names+=("${PEER_LABELS[$i]}" "${PEER_LABELS[$i]} OB=1")
    done
    for i in "${!files[@]}"; do
      row="$m|${names[$i]}"
      for t in $terms; do row="$row|$(field "${files[$i]}" "$t")"; done
      rows+=("$row")
    done
  done
  printf '%s\n' "${rows[@]}" | awk -F'|' '
    { for (j = 1; j <= NF; j++) { cell[NR, j] = $j; if (length($j) > w[j]) w[j] = length($j) } n = NF; r = NR }
    END { for (i = 1; i <= r; i++) { line = sprintf("%-" w[1] "s  %-" w[2] "s", cell[i, 1], cell[i, 2])
            for (j = 3; j <= n; j++) line = line sprintf("  %" w[j] "s", cell[i, j])
            print line } }'
  if [ -f "$tmp/mismatch" ]; then
    echo "csc_ctrl_step: the parameter counts of sgen and torch differ (see above): the models are not the same" >&2
  fi
}

if [ "$save" = 1 ]; then
  mkdir -p "$here/results"
  out="$here/results/$(date +%F)-csc_ctrl_step.txt"
  {
    echo "# csc_ctrl_step, $(date -u '+%F %T UTC'), git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "# command: BUILD=$build_arg bash bench/csc_ctrl_step.sh ${args[*]:-}"
    echo "# machine:"
    echo "#   model: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    lscpu | grep -E '^(Architecture|CPU\(s\)|Thread\(s\) per core|Core\(s\) per socket|Socket\(s\)|L2 cache|L3 cache)' \
      | sed 's/^/#   /'
    echo "#   nproc: $(nproc)"
    echo "#   memory: $(free -h | awk '/^Mem:/ {print $2}') total"
    echo "#   sgen: $("$build/bin/sgen" info 2>/dev/null | grep -E 'BLAS|build type' | sed 's/^ *//; s/  */ /g' | paste -sd ';' -)"
    for i in "${!PEER_PYTHONS[@]}"; do
      echo "#   peer ${PEER_LABELS[$i]}: ${PEER_PYTHONS[$i]}, torch $("${PEER_PYTHONS[$i]}" -c 'import torch; print(torch.__version__)' 2>/dev/null)"
    done
    echo "#   environment: $(env | grep -E '^(OMP_|OPENBLAS_|GOMP_|MKL_|SGEN_NUM_THREADS|BENCH_PEERS)' | sort | paste -sd ' ' - || true)"
    echo "#   load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    run
    echo
    echo "# load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  } 2>&1 | tee "$out"
  echo "csc_ctrl_step: wrote $out"
else
  run
fi
[ ! -f "$tmp/mismatch" ] && [ ! -f "$tmp/checkfail" ] || exit 1
