#!/usr/bin/env bash
# The step table of issue 15: one training step of every system sgen is
# built for, in sgen and in each PyTorch peer (bench/peers.sh: Debian's
# torch and the newest PyPI wheel, each at the default threads and with
# OPENBLAS_NUM_THREADS=1), same networks, same run, one table:
#
#   dip-128, dip-256   a Deep Image Prior iteration (bench/dip_step.*), with the
#                      convolutions' GFLOP/s against the sgemm peak measured here
#   dcgan              a DCGAN step, D + G, batch 64 (bench/gpu_dcgan_step.*)
#   wgan-gp            a WGAN-GP critic step with its gradient penalty
#   spgan              an SPGAN iteration: 5 critic steps + 1 G step (bench/paper_gan_step.*)
#   self-sparse        a Self-Sparse GAN iteration, 2 + 1, 32x32
#   csc-ctrl, ctrl     a CSC-CTRL / CTRL max+min game step, batch 128 (bench/csc_ctrl_step.*)
#
# Each row's sgen and torch scripts are the ones the per-system drivers
# (dip_step.sh, gan_step.sh, paper_gan_step.sh, csc_ctrl_step.sh) run, with
# their default settings; those drivers add checks and breakdowns.
#
#   bash bench/step_table.sh [--threads N] [--iters N] [--warmup N] [--rows "dip-128 dcgan ..."] [--save]
#
# The target (issue 15): every step at <= 0.75 x the best torch time; the
# last column says whether it is met. No timing here is ever asserted.
set -euo pipefail

# shellcheck source=bench/peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"
bench_paths
all_rows="dip-128 dip-256 dcgan wgan-gp spgan self-sparse csc-ctrl ctrl"
threads=2 iters=5 warmup=2 rows="$all_rows" save=0
usage() {
  echo "usage: $0 [--threads N] [--iters N] [--warmup N] [--rows \"$all_rows\"] [--save]" >&2
  exit 2
}
bench_parse_args "threads iters warmup rows save!" "$@"
bench_need_uints "$threads" "$iters" "$warmup"
[ "$iters" -ge 1 ] || { echo "step_table: --iters must be >= 1" >&2; exit 2; }
[ -n "$rows" ] || { echo "step_table: --rows is empty" >&2; exit 2; }
for r in $rows; do
  case " $all_rows " in *" $r "*) ;; *) echo "step_table: unknown row '$r' (rows: $all_rows)" >&2; exit 2 ;; esac
done
bench_prepare sgen_exe bin/sgen

# "SCRIPT ARGS" of a row (the torch form: --name value); the sgen script is
# SCRIPT.lua with --name=value, the torch one SCRIPT.py.
row_args() {
  local t="--iters $iters --warmup $warmup --threads $threads"
  case "$1" in
    dip-128) echo "dip_step --size 128 $t" ;;
    dip-256) echo "dip_step --size 256 $t" ;;
    dcgan) echo "gpu_dcgan_step --device cpu --batch 64 --nz 100 --ngf 128 --ndf 64 --nc 3 --step dcgan --sparsity none $t" ;;
    wgan-gp) echo "gpu_dcgan_step --device cpu --batch 64 --nz 100 --ngf 128 --ndf 64 --nc 3 --step wgan-gp --sparsity none $t" ;;
    spgan) echo "paper_gan_step --model spgan --variant spgan --batch 64 --ngf 64 --ndf 64 $t" ;;
    self-sparse) echo "paper_gan_step --model self-sparse --variant self-sparse --batch 64 --ngf 64 --ndf 64 --size 32 $t" ;;
    csc-ctrl) echo "csc_ctrl_step --model csc --strategy 2 --batch 128 --width 1 $t" ;;
    ctrl) echo "csc_ctrl_step --model ctrl --strategy 2 --batch 128 --width 1 $t" ;;
  esac
}

# sgemm peak: bench_ops' sgemm_1024 in GFLOP/s at its fastest of 20 runs
# (a peak, so the minimum time; built when missing)
sgemm_peak() {
  [ -x "$build/bench_ops" ] || cmake --build "$build" -j "$(nproc)" --target bench_ops >/dev/null
  OMP_NUM_THREADS=$threads "$build/bench_ops" --threads "$threads" --reps 20 --only sgemm_1024 |
    sed -n 's/^sgemm_1024 .*(min *\([0-9.]*\)).*/\1/p' | awk '{ printf "%.1f\n", 2 * 1024 ^ 3 / ($1 * 1e6) }'
}

run() {
  local r args script rest peak
  peak="$(sgemm_peak)"
  echo "== sgemm 1024x1024 (bench_ops --reps 20, $threads threads, fastest run): $peak GFLOP/s, the practical peak below"
  echo
  for r in $rows; do
    args="$(row_args "$r")"
    script="${args%% *}"
    rest="${args#* }"
    echo "== $r"
    # shellcheck disable=SC2086
    bench_sgen_run "$r" "$script.lua" $(echo "$rest" | sed 's/--\([a-z_]*\) \([0-9a-z.-]*\)/--\1=\2/g')
    # shellcheck disable=SC2086
    bench_torch_runs "$r" "$script.py" $rest
    echo
  done

  echo "== step table ($threads threads; ms per step as each row above defines it, mean of $iters after $warmup"
  echo "   warm-up; ratio = sgen / torch, <= 1.0 means sgen is as fast or faster; OB=1: OPENBLAS_NUM_THREADS=1;"
  echo "   best: the fastest torch run; target: <= 0.75 x the best torch time)"
  {
    bench_summary_header step ms | sed 's/$/|target/'
    for r in $rows; do
      bench_summary_of "$r" "%.1f" "$r" ms_per_iter | awk -F'|' '{
        t = $(NF - 1); m = (t == "n/a") ? "n/a" : (t + 0 <= 0.75 ? "met" : "not met"); print $0 "|" m }'
    done
  } | bench_table

  local s f
  echo
  echo "== DIP: the convolutions' GFLOP per iteration (forward, input and weight gradients) over the"
  echo "   measured time, against the sgemm peak ($peak GFLOP/s); target at 256x256: >= 50 %"
  for s in 128 256; do
    f="$tmp/sgen-dip-$s.txt"
    [ -f "$f" ] || continue
    awk -v s="$s" -v g="$(bench_field "$f" conv_gflop)" -v r="$(bench_field "$f" conv_gflops)" -v p="$peak" \
      'BEGIN { printf "dip-%s  %.1f GFLOP/iteration  %.1f GFLOP/s  %.0f %% of sgemm\n", s, g, r, (p > 0 ? 100 * r / p : 0) }'
  done
}

bench_main step_table "$save" run "$@"
