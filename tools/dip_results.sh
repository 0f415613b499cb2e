#!/usr/bin/env bash
# Runs the DIP denoising protocol (experiments/dip_denoise.lua) for every
# shipped image, the variants none / l0 / l0inf and several seeds, then
# aggregates the summaries into a Markdown table (tools/dip_aggregate.lua).
#
#   tools/dip_results.sh OUT_DIR [--seeds "1 2 3"] [--jobs 2] [--images "data/images/*.png"] -- [dip_denoise options]
#
# Runs go to OUT_DIR/<image>/<variant>/seed<s>/ (one dip_denoise run each,
# SGEN_NUM_THREADS=1 per run and --jobs runs side by side: on 2 cores two
# single-threaded runs beat one two-threaded run for these small networks).
# Example (the CPU scale used for docs/results/dip.md):
#   tools/dip_results.sh runs/dip_results -- --crop=96 --channels=32 --scales=4 --iters=1500 --k=4
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
sgen="${SGEN_BIN:-$root/build/bin/sgen}"
out="${1:?usage: tools/dip_results.sh OUT_DIR [--seeds S] [--jobs N] [--images GLOB] [--variants V] -- [options]}"
shift
seeds="1 2 3"
jobs=2
images="$root/data/images/*.png"
variants="none l0 l0inf"
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --images) images="$2"; shift 2 ;;
    --variants) variants="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "dip_results: unknown argument $1" >&2; exit 2 ;;
  esac
done
extra=("$@")
mkdir -p "$out"
list="$out/runs.txt"
: > "$list"
for img in $images; do
  name="$(basename "$img" .png)"
  for v in $variants; do
    for s in $seeds; do
      dir="$out/$name/$v/seed$s"
      if [ -f "$dir/summary.json" ]; then continue; fi   # resumable
      printf '%s\t%s\t%s\t%s\n' "$img" "$v" "$s" "$dir" >> "$list"
    done
  done
done
echo "dip_results: $(wc -l < "$list") runs to do, $jobs at a time; options: ${extra[*]}"
run_one() {
  IFS=$'\t' read -r img v s dir <<< "$1"
  shift
  mkdir -p "$dir"
  if SGEN_NUM_THREADS=1 SGEN_PROGRESS=off "$sgen" run "$root/experiments/dip_denoise.lua" \
       --image="$img" --variant="$v" --seed="$s" --out="$dir" "$@" > "$dir/log.txt" 2>&1; then
    echo "done $(basename "$img") $v seed $s: $(grep -E 'best single' "$dir/log.txt" | head -1)"
  else
    echo "FAILED $img $v seed $s (see $dir/log.txt)" >&2
  fi
}
export -f run_one
export sgen root
cd "$root"
tr '\n' '\0' < "$list" | xargs -0 -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} "${extra[@]}"
"$sgen" run "$root/tools/dip_aggregate.lua" --dir="$out"
