#!/usr/bin/env bash
# The CPU-scale comparisons of docs/results/csc_ctrl.md, spgan.md and
# self_sparse.md, run as one queue so that two single-threaded runs share the
# 2 cores and every cell gets its seed 1 before any cell gets seed 2:
#
#   tools/paper_results.sh OUT_DIR [--seeds "1 2 3"] [--jobs 2] [--families "csc_ctrl spgan self_sparse"]
#
# Runs go to OUT_DIR/<family>/<cell>/seed<s>/. A run whose summary.json exists
# is skipped and an interrupted one resumes from its last checkpoint
# (bit-identically), so the script can simply be started again. The scale of
# each family is fixed here (the results pages quote this file); SCALE_*
# environment variables override it for a smaller trial:
#   SCALE_CSC_CTRL, SCALE_SPGAN, SCALE_SELF_SPARSE (options appended to every run of the family).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
sgen="${SGEN_BIN:-$root/build/bin/sgen}"
out="${1:?usage: tools/paper_results.sh OUT_DIR [--seeds S] [--jobs N] [--families F]}"
shift
seeds="1 2 3"
jobs=2
families="csc_ctrl spgan self_sparse"
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --families) families="$2"; shift 2 ;;
    *) echo "paper_results: unknown argument $1" >&2; exit 2 ;;
  esac
done

csc_scale="--width=0.25 --batch-size=128 --lr=1e-3 --iters=600 --eval-every=200 --eval-n=1000 --sample-every=200 --checkpoint-every=200 --log-every=10 ${SCALE_CSC_CTRL:-}"
spgan_scale="--ngf=32 --ndf=32 --iters=400 --fid-every=100 --fid-samples=2000 --sample-every=100 --checkpoint-every=100 --log-every=10 ${SCALE_SPGAN:-}"
self_scale="--size=32 --ngf=32 --ndf=32 --iters=600 --fid-every=200 --fid-samples=2000 --sample-every=200 --checkpoint-every=200 --log-every=20 ${SCALE_SELF_SPARSE:-}"

# One line per run: family|cell|experiment|options (cells in order of their
# cost, longest first, so that the two lanes finish together).
cells() {
  local f="$1"
  case "$f" in
    csc_ctrl)
      echo "csc_ctrl|csc-s2|csc_ctrl.lua|--model=csc --strategy=2 $csc_scale"
      echo "csc_ctrl|csc-s1|csc_ctrl.lua|--model=csc --strategy=1 $csc_scale"
      echo "csc_ctrl|ctrl|csc_ctrl.lua|--model=ctrl $csc_scale" ;;
    spgan)
      echo "spgan|spgan-recon|spgan.lua|--variant=spgan-recon $spgan_scale"
      echo "spgan|spgan|spgan.lua|--variant=spgan $spgan_scale"
      echo "spgan|wgan-gp|spgan.lua|--variant=wgan-gp $spgan_scale" ;;
    self_sparse)
      echo "self_sparse|self-sparse|self_sparse.lua|--variant=self-sparse $self_scale"
      echo "self_sparse|no-csm|self_sparse.lua|--variant=no-csm $self_scale"
      echo "self_sparse|no-psm|self_sparse.lua|--variant=no-psm $self_scale"
      echo "self_sparse|wgan|self_sparse.lua|--variant=wgan $self_scale" ;;
    *) echo "paper_results: unknown family '$f' (csc_ctrl, spgan, self_sparse)" >&2; exit 2 ;;
  esac
}

queue=()
for s in $seeds; do
  for f in $families; do
    while IFS= read -r line; do queue+=("$line|$s"); done < <(cells "$f")
  done
done

mkdir -p "$out"
echo "paper_results: commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown); ${#queue[@]} runs, $jobs at a time; $(date -u +%FT%TZ)"

run_one() {
  IFS='|' read -r family cell script options seed <<< "$1"
  local dir="$out/$family/$cell/seed$seed"
  if [ -f "$dir/summary.json" ]; then echo "skip $dir (done)"; return 0; fi
  mkdir -p "$dir"
  local args
  if [ -f "$dir/checkpoints/latest.json" ]; then
    args=(--resume="$dir")
  else
    # shellcheck disable=SC2206  # options are words by design
    args=($options --seed="$seed" --out="$dir")
  fi
  local t0=$SECONDS
  if SGEN_NUM_THREADS=1 OMP_WAIT_POLICY=passive "$sgen" run "$root/experiments/$script" "${args[@]}" \
      >> "$dir/log.txt" 2>&1; then
    echo "done $dir in $((SECONDS - t0)) s"
  else
    echo "FAILED $dir (see $dir/log.txt)"
  fi
}
export -f run_one
export out sgen root
printf '%s\0' "${queue[@]}" | xargs -0 -P "$jobs" -I{} bash -c 'run_one "$@"' _ {}
echo "paper_results: finished $(date -u +%FT%TZ)"
