#!/usr/bin/env bash
# Times one whole training iteration of SPGAN (paper 002) and of Self-Sparse
# GAN (paper 003) in sgen (bench/paper_gan_step.lua: models/spgan.lua,
# models/self_sparse.lua, models/dcgan.lua with the loop bodies of
# experiments/spgan.lua and experiments/self_sparse.lua) and in PyTorch
# (bench/paper_gan_step.py: the same networks and iteration), on the CPU, in
# the same run. Every PyTorch build of bench/peers.sh (Debian's
# /usr/bin/python3; the PyPI wheel of .venv-bench/ when it exists) runs twice:
# with --threads N, and again with OPENBLAS_NUM_THREADS=1 (Debian's torch
# calls the pthread build of OpenBLAS, whose threads can fight torch's OpenMP
# threads). Prints ms per iteration, the ratio sgen / torch for every peer
# run (<= 1.0: sgen is as fast or faster), the best PyTorch time and the
# ratio against it (issue 13's target: <= 0.75).
#
#   bash bench/paper_gan_step.sh [--model spgan|self-sparse|both] [--variant V|all]
#                                [--threads N] [--iters N] [--warmup N] [--batch N]
#                                [--ngf N] [--ndf N] [--size N] [--save]
#
# Models (the experiments' defaults: nz 100, ngf = ndf = 64, batch 64,
# Fashion-MNIST 32x32, 1 channel):
#   spgan        variants spgan (default: DCGAN trunk -> 36 codes per pixel
#                -> soft threshold with a learnable λ per atom -> fixed random
#                unit-norm Ω (9 x 36) by transposed conv / overlap count) and
#                wgan-gp (the DCGAN generator); critic without BN; Adam 1e-4
#                (0, 0.9); one iteration = 5 critic steps with the centre-1
#                gradient penalty + 1 G step + the λ projection
#   self-sparse  variants self-sparse (default: an nn.SASTM after every
#                transposed convolution) and wgan (the same generator without
#                SASTMs); critic without BN; Adam G 1e-4, D 3e-4 (0.5, 0.999);
#                one iteration = 2 critic steps with the zero-centred penalty
#                + 1 G step; --size 32 (default, the CPU-scale runs of
#                tools/paper_results.sh; the experiment's own default is 64)
# --variant all runs both variants of each model; a named variant needs
# --model. The real batches are fixed random tensors (no data loading is
# timed); no dictionary learning is timed. --warmup untimed iterations
# (default 2), then the mean of --iters (default 5).
# Both sides do the same work (see the headers of the .lua and .py files,
# which list what differs); the parameter counts they print are compared (a
# mismatch is reported and makes the script exit 1). Different RNGs: the
# losses agree in magnitude only.
#
# BUILD (default: build) is the CMake build dir holding bin/sgen; it is built
# there (target sgen_exe) when missing. --save also writes the whole output,
# with the machine description, the date and the command, to
# bench/results/<date>-paper_gan_step.txt.
set -euo pipefail

# shellcheck source=bench/peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"
bench_paths
model=both variant='' threads=2 iters=5 warmup=2 batch=64 ngf=64 ndf=64 size=32 save=0
usage() {
  echo "usage: $0 [--model spgan|self-sparse|both] [--variant V|all] [--threads N] [--iters N] [--warmup N]" \
    "[--batch N] [--ngf N] [--ndf N] [--size 32|64|128] [--save]" >&2
  exit 2
}
bench_parse_args "model variant threads iters warmup batch ngf ndf size save!" "$@"
bench_need_uints "$threads" "$iters" "$warmup" "$batch" "$ngf" "$ndf" "$size"
for v in "$threads" "$iters" "$batch" "$ngf" "$ndf"; do
  [ "$v" -ge 1 ] || { echo "paper_gan_step: --threads, --iters, --batch, --ngf, --ndf must be >= 1" >&2; exit 2; }
done
case "$size" in 32|64|128) ;; *) echo "paper_gan_step: --size must be 32, 64 or 128" >&2; exit 2 ;; esac
case "$model" in
  both) models="spgan self-sparse" ;;
  spgan|self-sparse) models="$model" ;;
  *) echo "paper_gan_step: --model must be spgan, self-sparse or both, got '$model'" >&2; exit 2 ;;
esac
variants_of() { case "$1" in spgan) echo "spgan wgan-gp" ;; self-sparse) echo "self-sparse wgan" ;; esac; }
# the (model, variant) rows, "model:variant"
rows=()
for m in $models; do
  case "$variant" in
    '') rows+=("$m:$(variants_of "$m" | cut -d' ' -f1)") ;;
    all) for v in $(variants_of "$m"); do rows+=("$m:$v"); done ;;
    *)
      [ "$model" != both ] || { echo "paper_gan_step: --variant $variant needs --model (or use --variant all)" >&2; exit 2; }
      case " $(variants_of "$m") " in
        *" $variant "*) rows+=("$m:$variant") ;;
        *) echo "paper_gan_step: --variant for --model $m must be one of: $(variants_of "$m") (or all)" >&2; exit 2 ;;
      esac ;;
  esac
done

bench_prepare sgen_exe bin/sgen

common="--batch $batch --ngf $ngf --ndf $ndf --iters $iters --warmup $warmup --threads $threads"

run() {
  local row m v opts opts_lua i f x best bestf who
  for row in "${rows[@]}"; do
    m="${row%%:*}"
    v="${row#*:}"
    opts="--model $m --variant $v $common"
    [ "$m" = self-sparse ] && opts="$opts --size $size"
    opts_lua="$(echo "$opts" | sed 's/--\([a-z_]*\) \([0-9a-z-]*\)/--\1=\2/g')"
    echo "== $m/$v"
    # shellcheck disable=SC2086
    bench_sgen_run "$m-$v" paper_gan_step.lua $opts_lua
    # shellcheck disable=SC2086
    bench_torch_runs "$m-$v" paper_gan_step.py $opts
    bench_check_params "$m-$v" "$m/$v" params_G params_D
    echo
  done

  echo "== summary ($threads threads, batch $batch, ngf $ngf, ndf $ndf, self-sparse size $size; ms per whole"
  echo "   iteration (spgan: 5 critic steps + 1 G step; self-sparse: 2 + 1), mean of $iters after $warmup warm-up;"
  echo "   ratio = sgen / torch, <= 1.0 means sgen is as fast or faster; OB=1: OPENBLAS_NUM_THREADS=1;"
  echo "   best: the fastest torch run)"
  {
    bench_summary_header model/variant ms
    for row in "${rows[@]}"; do bench_summary_of "${row/:/\/}" "%.1f" "${row/:/-}" ms_per_iter; done
  } | bench_table
  echo
  echo "   breakdown: ms per critic step and per G step (with its projection), sgen and the best torch run above"
  {
    echo "model/variant|sgen D|sgen G|torch run|D|ratio|G|ratio"
    for row in "${rows[@]}"; do
      m="${row%%:*}"
      v="${row#*:}"
      best=""
      bestf=""
      who="n/a"
      for i in "${!PEER_PYTHONS[@]}"; do
        for f in "$tmp/torch$i-$m-$v.txt" "$tmp/torch$i-ob1-$m-$v.txt"; do
          x="$(bench_field "$f" ms_per_iter)"
          if [ -n "$x" ] && { [ -z "$best" ] || awk -v a="$x" -v b="$best" 'BEGIN { exit !(a + 0 < b + 0) }'; }; then
            best="$x"
            bestf="$f"
            who="${PEER_LABELS[$i]%% *}"
            case "$f" in *-ob1-*) who="$who OB=1" ;; esac
          fi
        done
      done
      awk -v name="$m/$v" -v who="$who" \
        -v sd="$(bench_field "$tmp/sgen-$m-$v.txt" ms_critic_step)" -v sgg="$(bench_field "$tmp/sgen-$m-$v.txt" ms_g_step)" \
        -v td="$([ -n "$bestf" ] && bench_field "$bestf" ms_critic_step)" \
        -v tg="$([ -n "$bestf" ] && bench_field "$bestf" ms_g_step)" '
        function ratio(x, y) { return (x == "" || y == "" || y + 0 == 0) ? "n/a" : sprintf("%.2f", x / y) }
        function ms(x) { return x == "" ? "n/a" : sprintf("%.1f", x) }
        BEGIN { print name "|" ms(sd) "|" ms(sgg) "|" who "|" ms(td) "|" ratio(sd, td) "|" ms(tg) "|" ratio(sgg, tg) }'
    done
  } | bench_table
  if [ -f "$tmp/mismatch" ]; then
    echo "paper_gan_step: the parameter counts of sgen and torch differ (see above): the networks are not the same" >&2
  fi
}

bench_main paper_gan_step "$save" run "$@"
[ ! -f "$tmp/mismatch" ] || exit 1
