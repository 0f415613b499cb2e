#!/usr/bin/env bash
# Times the sparse-GAN training steps of the same networks in sgen
# (bench/gpu_dcgan_step.lua, models/dcgan.lua) and in PyTorch
# (bench/gpu_dcgan_step.py), on the CPU, with the same thread count, for every
# PyTorch build of bench/peers.sh (Debian's python3-torch; the newest PyPI
# wheel once bench/peer_venv.sh has made .venv-bench/), each twice: as is and
# with OPENBLAS_NUM_THREADS=1 (Debian's torch calls the pthread build of
# OpenBLAS, whose threads can fight torch's OpenMP threads). Prints ms per
# step, the ratio sgen / torch (<= 1.0: sgen is as fast or faster) per torch
# run, and the best torch run.
#
#   bash bench/gan_step.sh [--threads N] [--iters N] [--warmup N] [--sparsities "none l0inf"]
#                          [--k 16] [--batch 64] [--full-iters N] [--save]
#
# Networks (the sparse-GAN papers' Appendix A): batch 64, 32x32, nc=3, nz=100,
# generator ngf=128 (its last layer: 128 atoms of 4x4x3), discriminator /
# critic ndf=64 (PyTorch's DCGAN example). For each sparsity of the
# generator ("none", "l0inf": the projection of Γ, the input of G's last
# layer, keeping k=16 channels per needle):
#   dcgan    one DCGAN step: D on real + fake, then G; BCE with logits
#            (non-saturating), Adam 2e-4 (0.5, 0.999)
#   wgan-gp  one WGAN-GP critic step: fake = G(z) detached, critic (no BN) on
#            real and fake, gradient penalty (lambda 10, gradient by
#            create_graph, then the double backward), Adam 1e-4 (0, 0.9) step
#            (the dominant cost of WGAN-GP training: 5 critic steps per G step)
# --full-iters N (default 0: off) also times N whole WGAN-GP iterations
# (5 critic steps + 1 G step): rows "wgan-gp-full".
# Both sides do identical work: the same shapes, losses, number of forward and
# backward passes and optimizer steps (see the headers of the two drivers);
# the parameter counts they print are compared, for every torch run (a
# mismatch is reported and makes the script exit 1). Different RNGs: the
# losses are not comparable bitwise, only in magnitude.
#
# BUILD (default: build) is the CMake build dir holding bin/sgen; it is built
# there (target sgen_exe) when missing. --save also writes the whole output,
# with the machine description, every peer's torch version, the date and the
# command, to bench/results/<date>-gan_step.txt. BENCH_PEERS=deb: Debian's
# torch only.
set -euo pipefail

# shellcheck source=bench/peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"
bench_paths
threads=2 iters=5 warmup=2 sparsities="none l0inf" k=16 batch=64 full_iters=0 save=0
usage() {
  echo "usage: $0 [--threads N] [--iters N] [--warmup N] [--sparsities \"none l0inf\"] [--k N] [--batch N] [--full-iters N] [--save]" >&2
  exit 2
}
bench_parse_args "threads iters warmup sparsities k batch full-iters save!" "$@"
bench_need_uints "$threads" "$iters" "$warmup" "$k" "$batch" "$full_iters"
for s in $sparsities; do
  case "$s" in none|l0inf) ;; *) echo "gan_step: sparsity '$s' is not none or l0inf" >&2; exit 2 ;; esac
done
[ -n "$sparsities" ] || { echo "gan_step: --sparsities is empty" >&2; exit 2; }
bench_prepare sgen_exe bin/sgen

# The networks, identical on both sides (Appendix A widths).
net="--batch $batch --nz 100 --ngf 128 --ndf 64 --nc 3"
net_lua="$(echo "$net" | sed 's/--\([a-z_]*\) \([0-9]*\)/--\1=\2/g')"

run() {
  local step s name extra extra_lua key
  for step in dcgan wgan-gp; do
    for s in $sparsities; do
      name="$step-$s"
      extra="--step $step --sparsity $s"
      [ "$s" = l0inf ] && extra="$extra --k $k"
      [ "$step" = wgan-gp ] && [ "$full_iters" -gt 0 ] && extra="$extra --full_iters $full_iters"
      extra_lua="$(echo "$extra" | sed 's/--\([a-z_]*\) \([0-9a-z-]*\)/--\1=\2/g')"
      echo "== $name"
      # shellcheck disable=SC2086
      bench_sgen_run "$name" gpu_dcgan_step.lua --device=cpu $net_lua $extra_lua --iters="$iters" --warmup="$warmup" \
        --threads="$threads"
      # shellcheck disable=SC2086
      bench_torch_runs "$name" gpu_dcgan_step.py --device cpu $net $extra --iters "$iters" --warmup "$warmup" \
        --threads "$threads"
      bench_check_params "$name" "$name" params_G params_D
      echo
    done
  done
  echo "== summary ($threads threads, batch $batch, ngf 128, ndf 64, k $k; mean of $iters steps after $warmup warm-up;"
  echo "   ratio = sgen / torch, <= 1.0 means sgen is as fast or faster; wgan-gp: one critic step;"
  echo "   OB=1: OPENBLAS_NUM_THREADS=1; best: the fastest torch run)"
  {
    bench_summary_header step ms
    for step in dcgan wgan-gp wgan-gp-full; do
      [ "$step" = wgan-gp-full ] && [ "$full_iters" = 0 ] && continue
      key=ms_per_iter
      [ "$step" = wgan-gp-full ] && key=ms_full_iter
      for s in $sparsities; do bench_summary_of "$step-$s" "%.1f" "${step%-full}-$s" "$key"; done
    done
  } | bench_table
  [ "$full_iters" = 0 ] || echo "(wgan-gp-full: one whole WGAN-GP iteration, 5 critic steps + 1 G step, mean of $full_iters)"
  if [ -f "$tmp/mismatch" ]; then
    echo "gan_step: the parameter counts of sgen and torch differ (see above): the networks are not the same" >&2
  fi
}

bench_main gan_step "$save" run "$@"
[ ! -f "$tmp/mismatch" ] || exit 1
