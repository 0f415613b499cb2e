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

# shellcheck source=bench/peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"
bench_paths
threads=2 iters=5 warmup=2 sizes="128 256" save=0
usage() {
  echo "usage: $0 [--threads N] [--iters N] [--warmup N] [--sizes \"128 256\"] [--save]" >&2
  exit 2
}
bench_parse_args "threads iters warmup sizes save!" "$@"
# shellcheck disable=SC2086  # one value per size
bench_need_uints "$threads" "$iters" "$warmup" $sizes
bench_prepare sgen_exe bin/sgen

run() {
  local s
  for s in $sizes; do
    echo "== size ${s}x${s}"
    bench_sgen_run "$s" dip_step.lua --size="$s" --iters="$iters" --warmup="$warmup" --threads="$threads"
    bench_torch_runs "$s" dip_step.py --size "$s" --iters "$iters" --warmup "$warmup" --threads "$threads"
    echo
  done
  echo "== summary ($threads threads, mean of $iters iterations after $warmup warm-up; ratio = sgen / torch, <= 1.0 means"
  echo "   sgen is as fast or faster; OB=1: OPENBLAS_NUM_THREADS=1; best: the fastest torch run)"
  {
    bench_summary_header size ms/it
    for s in $sizes; do bench_summary_of "${s}x${s}" "%.1f" "$s" ms_per_iter; done
  } | bench_table
}

bench_main dip_step "$save" run "$@"
