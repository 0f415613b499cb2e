#!/usr/bin/env bash
# The sparse-GAN comparison of docs/results/gan.md, end to end:
#   1. sweep on seed 1 with the DCGAN loss: L0,inf k in K_SWEEP (kept channels
#      per needle) and the L1 weight in L1_SWEEP;
#   2. pick the k and the L1 weight of lowest FID (tools/gan_aggregate.lua --pick);
#   3. every cell of the comparison for every seed with that k / weight
#      (seed-1 runs of the sweep are reused, not rerun);
#   4. aggregate: DIR/table.md, DIR/fid_vs_nonzeros.svg, DIR/needle_density_*.png.
#
#   tools/gan_results.sh OUT_DIR [--seeds "1 2 3"] [--jobs 2] [--cells "..."] [--k K --l1 W] [--ngf 32] -- [gan_sparse options]
#
# --k skips the k sweep and --l1 the L1-weight sweep (both given: no sweep). --cells limits step 3 to some
# cells (default: all eight). Runs go to OUT_DIR/<cell>-k<k>|-w<w>/seed<s>/
# (SGEN_NUM_THREADS=1 per run, --jobs runs side by side: on 2 cores two
# single-threaded runs of these small networks beat one two-threaded run).
# A run whose summary.json exists is skipped and an interrupted one resumes
# from its last checkpoint, so the script can simply be started again.
# The options after -- go to every run (the scale: --iters, --ndf, ...);
# WGAN_OPTS (environment) go to the WGAN-GP runs only, after them.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
sgen="${SGEN_BIN:-$root/build/bin/sgen}"
out="${1:?usage: tools/gan_results.sh OUT_DIR [--seeds S] [--jobs N] [--cells C] [--k K --l1 W] [--ngf N] -- [gan_sparse options]}"
shift
seeds="1 2 3"
jobs=2
ngf=32
k=""
l1=""
k_sweep="${K_SWEEP:-2 4 8}"
l1_sweep="${L1_SWEEP:-0.001 0.01 0.1}"
cells="dcgan-none dcgan-l1 dcgan-l0 dcgan-l0inf dcgan-mlcsc wgan-none wgan-l0inf wgan-mlcsc"
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --cells) cells="$2"; shift 2 ;;
    --k) k="$2"; shift 2 ;;
    --l1) l1="$2"; shift 2 ;;
    --ngf) ngf="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "gan_results: unknown argument $1" >&2; exit 2 ;;
  esac
done
extra=("$@")
known="dcgan-none dcgan-l1 dcgan-l0 dcgan-l0inf dcgan-mlcsc wgan-none wgan-l0inf wgan-mlcsc"
for c in $cells; do
  case " $known " in *" $c "*) ;; *) echo "gan_results: unknown cell '$c' (known: $known)" >&2; exit 2 ;; esac
done
mkdir -p "$out"
echo "gan_results: commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown); ngf $ngf; options: ${extra[*]}; WGAN_OPTS: ${WGAN_OPTS:-}"

# Fields of a run line are separated by US (\x1f): tab is whitespace to read,
# which would merge empty fields.
US=$'\x1f'
export US
# cell type, k, l1 weight -> "dir<US>options"
cell() {
  local c="$1" kk="$2" w="$3" frac
  frac="$(awk -v k="$kk" -v n="$ngf" 'BEGIN { printf "%.10g", k / n }')"
  case "$c" in
    dcgan-none)  printf '%s\x1f%s' "dcgan-none" "--loss=dcgan --model=dcgan --variant=none" ;;
    dcgan-l1)    printf '%s\x1f%s' "dcgan-l1-w$w" "--loss=dcgan --model=dcgan --variant=l1 --l1-weight=$w" ;;
    dcgan-l0)    printf '%s\x1f%s' "dcgan-l0-k$kk" "--loss=dcgan --model=dcgan --variant=l0 --k=$frac" ;;
    dcgan-l0inf) printf '%s\x1f%s' "dcgan-l0inf-k$kk" "--loss=dcgan --model=dcgan --variant=l0inf --k=$kk" ;;
    dcgan-mlcsc) printf '%s\x1f%s' "dcgan-mlcsc-k$kk" "--loss=dcgan --model=mlcsc --variant=l0inf --k=$kk" ;;
    wgan-none)   printf '%s\x1f%s' "wgan-none" "--loss=wgan-gp --model=dcgan --variant=none" ;;
    wgan-l0inf)  printf '%s\x1f%s' "wgan-l0inf-k$kk" "--loss=wgan-gp --model=dcgan --variant=l0inf --k=$kk" ;;
    wgan-mlcsc)  printf '%s\x1f%s' "wgan-mlcsc-k$kk" "--loss=wgan-gp --model=mlcsc --variant=l0inf --k=$kk" ;;
    *) echo "gan_results: unknown cell $c" >&2; exit 2 ;;
  esac
}

run_one() {
  IFS="$US" read -r name cell_opts s dir <<< "$1"
  shift
  mkdir -p "$dir"
  local resume=() wgan=()
  if [ -f "$dir/checkpoints/latest.json" ]; then resume=(--resume="$dir"); fi
  case "$name" in wgan-*) read -r -a wgan <<< "${WGAN_OPTS:-}" ;; esac
  # shellcheck disable=SC2086
  if SGEN_NUM_THREADS=1 SGEN_PROGRESS=off "$sgen" run "$root/experiments/gan_sparse.lua" \
       $cell_opts --ngf="$ngf" --seed="$s" --out="$dir" "${resume[@]}" "$@" "${wgan[@]}" >> "$dir/log.txt" 2>&1; then
    echo "$(date -u +%T) done $name seed $s: $(grep -E '^done:' "$dir/log.txt" | tail -1)"
  else
    echo "$(date -u +%T) FAILED $name seed $s (see $dir/log.txt)" >&2
  fi
}
export -f run_one
export sgen root ngf

# runs "<cell type> <k> <w> <seed>" lines from stdin, --jobs at a time
run_list() {
  local list="$out/runs.txt"
  : > "$list"
  while read -r c kk w s; do
    IFS="$US" read -r name cell_opts <<< "$(cell "$c" "$kk" "$w")"
    dir="$out/$name/seed$s"
    if [ -f "$dir/summary.json" ]; then continue; fi
    printf '%s\x1f%s\x1f%s\x1f%s\n' "$name" "$cell_opts" "$s" "$dir" >> "$list"
  done
  echo "gan_results: $(wc -l < "$list") runs to do, $jobs at a time"
  (cd "$root" && tr '\n' '\0' < "$list" | xargs -0 -r -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} "${extra[@]}")
}

if [ -z "$k" ] || [ -z "$l1" ]; then
  sweep_seed="${seeds%% *}"
  {
    if [ -z "$k" ]; then for kk in $k_sweep; do echo "dcgan-l0inf $kk - $sweep_seed"; done; fi
    if [ -z "$l1" ]; then for w in $l1_sweep; do echo "dcgan-l1 - $w $sweep_seed"; done; fi
  } | run_list
  pick="$("$sgen" run "$root/tools/gan_aggregate.lua" --dir="$out" --pick)"
  echo "gan_results: sweep on seed $sweep_seed picks $pick"
  [ -n "$k" ] || k="$(sed -n 's/.*k=\([0-9]*\).*/\1/p' <<< "$pick")"
  [ -n "$l1" ] || l1="$(sed -n 's/.*l1=\([0-9.e-]*\).*/\1/p' <<< "$pick")"
fi
# seeds outermost: a partial sweep has whole seeds of every cell (paired comparisons)
for s in $seeds; do
  for c in $cells; do echo "$c $k $l1 $s"; done
done | run_list
"$sgen" run "$root/tools/gan_aggregate.lua" --dir="$out" --k="$k" --l1="$l1"
