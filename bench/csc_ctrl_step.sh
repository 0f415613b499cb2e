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

# shellcheck source=bench/peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"
bench_paths
threads=2 iters=5 warmup=2 batch=128 width=1 models="csc ctrl" strategy=2 check=0 save=0
usage() {
  echo "usage: $0 [--threads N] [--iters N] [--warmup N] [--batch N] [--width W] [--model csc|ctrl] [--strategy 1|2] [--check] [--save]" >&2
  exit 2
}
bench_parse_args "threads iters warmup batch width model:models strategy check! save!" "$@"
bench_need_uints "$threads" "$iters" "$warmup" "$batch"
if [ "$threads" -lt 1 ] || [ "$iters" -lt 1 ] || [ "$batch" -lt 2 ]; then
  echo "csc_ctrl_step: --threads and --iters must be >= 1, --batch >= 2" >&2
  exit 2
fi
[[ "$width" =~ ^[0-9]*\.?[0-9]+$ ]] || { echo "csc_ctrl_step: --width '$width' is not a positive number" >&2; exit 2; }
case "$models" in csc|ctrl|"csc ctrl") ;; *) echo "csc_ctrl_step: --model must be csc or ctrl" >&2; exit 2 ;; esac
case "$strategy" in 1|2) ;; *) echo "csc_ctrl_step: --strategy must be 1 or 2" >&2; exit 2 ;; esac
bench_prepare sgen_exe bin/sgen

common_lua=(--strategy="$strategy" --batch="$batch" --width="$width" --iters="$iters" --warmup="$warmup" --threads="$threads")
common_py=(--strategy "$strategy" --batch "$batch" --width "$width" --iters "$iters" --warmup "$warmup" --threads "$threads")

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
  local m i t row
  if [ "$check" = 1 ] && ! check_twins; then
    touch "$tmp/checkfail"
    return 0
  fi
  for m in $models; do
    echo "== $m (strategy $strategy)"
    bench_sgen_run "$m" csc_ctrl_step.lua --model="$m" "${common_lua[@]}"
    bench_torch_runs "$m" csc_ctrl_step.py --model "$m" "${common_py[@]}"
    bench_check_params "$m" "$m" params params_f params_g
    echo
  done

  echo "== summary ($threads threads, batch $batch, width $width, strategy $strategy; ms per max+min step,"
  echo "   mean of $iters steps after $warmup warm-up; ratio = sgen / torch, <= 1.0 means sgen is as fast or"
  echo "   faster; OB=1: OPENBLAS_NUM_THREADS=1; target for csc: <= 0.75 x the best torch)"
  {
    bench_summary_header model ms
    for m in $models; do bench_summary_of "$m" "%.1f" "$m" ms_per_iter; done
  } | bench_table

  echo
  echo "== the last step's objective (min step; max_total: the max step's), sgen and each torch run"
  local terms="max_total min_total R_Z R_Zhat delta_R_pairs power_iters"
  {
    echo "model|side|${terms// /|}"
    for m in $models; do
      local files=("$tmp/sgen-$m.txt") names=("sgen")
      for i in "${!PEER_PYTHONS[@]}"; do
        files+=("$tmp/torch$i-$m.txt" "$tmp/torch$i-ob1-$m.txt")
        names+=("${PEER_LABELS[$i]}" "${PEER_LABELS[$i]} OB=1")
      done
      for i in "${!files[@]}"; do
        row="$m|${names[$i]}"
        for t in $terms; do row="$row|$(bench_field "${files[$i]}" "$t")"; done
        echo "$row"
      done
    done
  } | bench_table 2
  if [ -f "$tmp/mismatch" ]; then
    echo "csc_ctrl_step: the parameter counts of sgen and torch differ (see above): the models are not the same" >&2
  fi
}

bench_main csc_ctrl_step "$save" run "$@"
[ ! -f "$tmp/mismatch" ] && [ ! -f "$tmp/checkfail" ] || exit 1
