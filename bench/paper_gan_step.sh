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

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build_arg="${BUILD:-build}"
build="$build_arg"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
# shellcheck source=bench/peers.sh
. "$here/peers.sh"
model=both
variant=
threads=2
iters=5
warmup=2
batch=64
ngf=64
ndf=64
size=32
save=0
args=("$@")
usage() {
  echo "usage: $0 [--model spgan|self-sparse|both] [--variant V|all] [--threads N] [--iters N] [--warmup N]" \
    "[--batch N] [--ngf N] [--ndf N] [--size 32|64|128] [--save]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --model) [ $# -ge 2 ] || usage; model="$2"; shift 2 ;;
    --variant) [ $# -ge 2 ] || usage; variant="$2"; shift 2 ;;
    --threads) [ $# -ge 2 ] || usage; threads="$2"; shift 2 ;;
    --iters) [ $# -ge 2 ] || usage; iters="$2"; shift 2 ;;
    --warmup) [ $# -ge 2 ] || usage; warmup="$2"; shift 2 ;;
    --batch) [ $# -ge 2 ] || usage; batch="$2"; shift 2 ;;
    --ngf) [ $# -ge 2 ] || usage; ngf="$2"; shift 2 ;;
    --ndf) [ $# -ge 2 ] || usage; ndf="$2"; shift 2 ;;
    --size) [ $# -ge 2 ] || usage; size="$2"; shift 2 ;;
    --save) save=1; shift ;;
    *) usage ;;
  esac
done
for v in "$threads" "$iters" "$warmup" "$batch" "$ngf" "$ndf" "$size"; do
  case "$v" in ''|*[!0-9]*) echo "paper_gan_step: '$v' is not a non-negative integer" >&2; exit 2 ;; esac
done
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

bench_peers_init "$root" || exit 1
npeers=${#PEER_PYTHONS[@]}
if [ ! -x "$build/bin/sgen" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target sgen_exe
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

common="--batch $batch --ngf $ngf --ndf $ndf --iters $iters --warmup $warmup --threads $threads"

# key=... of a result line
field() { sed -n "s/.* $2=\([0-9.-]*\).*/\1/p" "$1" | tail -1; }

run() {
  local row m v name opts opts_lua i k f p
  for row in "${rows[@]}"; do
    m="${row%%:*}"
    v="${row#*:}"
    name="$m/$v"
    opts="--model $m --variant $v $common"
    [ "$m" = self-sparse ] && opts="$opts --size $size"
    opts_lua="$(echo "$opts" | sed 's/--\([a-z_]*\) \([0-9a-z-]*\)/--\1=\2/g')"
    echo "== $name"
    echo "\$ OMP_NUM_THREADS=$threads $build_arg/bin/sgen run bench/paper_gan_step.lua $opts_lua"
    (cd "$root" && OMP_NUM_THREADS=$threads "$build/bin/sgen" run bench/paper_gan_step.lua $opts_lua) \
      | tee "$tmp/sgen-$m-$v.txt"
    for ((i = 0; i < npeers; i++)); do
      echo "\$ OMP_NUM_THREADS=$threads ${PEER_PYTHONS[$i]} bench/paper_gan_step.py $opts    # ${PEER_LABELS[$i]}"
      OMP_NUM_THREADS=$threads "${PEER_PYTHONS[$i]}" "$here/paper_gan_step.py" $opts | tee "$tmp/t$i-$m-$v.txt"
      echo "\$ OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads ${PEER_PYTHONS[$i]} bench/paper_gan_step.py $opts    # ${PEER_LABELS[$i]}"
      OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads "${PEER_PYTHONS[$i]}" "$here/paper_gan_step.py" $opts \
        | tee "$tmp/t${i}ob1-$m-$v.txt"
      for k in "t$i" "t${i}ob1"; do
        f="$tmp/$k-$m-$v.txt"
        for p in params_G params_D; do
          if [ "$(field "$tmp/sgen-$m-$v.txt" $p)" != "$(field "$f" $p)" ]; then
            echo "paper_gan_step: $name: $p differs: sgen $(field "$tmp/sgen-$m-$v.txt" $p), ${PEER_LABELS[$i]} $(field "$f" $p)" >&2
            touch "$tmp/mismatch"
          fi
        done
      done
    done
    echo
  done

  echo "== summary ($threads threads, batch $batch, ngf $ngf, ndf $ndf, self-sparse size $size; ms per whole"
  echo "   iteration (spgan: 5 critic steps + 1 G step; self-sparse: 2 + 1), mean of $iters after $warmup warm-up;"
  echo "   ratio = sgen / torch, <= 1.0 means sgen is as fast or faster; OB1: OPENBLAS_NUM_THREADS=1)"
  for ((i = 0; i < npeers; i++)); do
    echo "   t$((i + 1)) = ${PEER_LABELS[$i]} (${PEER_PYTHONS[$i]})"
  done
  local fmt="%-24s %10s"
  local cols=("model/variant" "sgen ms")
  for ((i = 0; i < npeers; i++)); do
    cols+=("t$((i + 1)) ms" "ratio" "t$((i + 1))/OB1 ms" "ratio")
    fmt="$fmt %10s %6s %12s %6s"
  done
  cols+=("best torch" "ms" "ratio")
  fmt="$fmt   %-10s %10s %6s\n"
  # shellcheck disable=SC2059
  printf "$fmt" "${cols[@]}"
  for row in "${rows[@]}"; do
    m="${row%%:*}"
    v="${row#*:}"
    local vals=""
    for ((i = 0; i < npeers; i++)); do
      vals="$vals t$((i + 1))=$(field "$tmp/t$i-$m-$v.txt" ms_per_iter) t$((i + 1))/OB1=$(field "$tmp/t${i}ob1-$m-$v.txt" ms_per_iter)"
    done
    awk -v name="$m/$v" -v a="$(field "$tmp/sgen-$m-$v.txt" ms_per_iter)" -v vals="$vals" -v fmt="$fmt" '
      function ratio(x, y) { return (x == "" || y == "" || y + 0 == 0) ? "n/a" : sprintf("%.2f", x / y) }
      function ms(x) { return x == "" ? "n/a" : sprintf("%.1f", x) }
      BEGIN {
        n = split(vals, kv, " ")
        line = sprintf("%-24s %10s", name, ms(a))
        best = ""; who = "n/a"
        for (j = 1; j <= n; j++) {
          split(kv[j], p, "=")
          w = (p[1] ~ /OB1$/) ? " %12s %6s" : " %10s %6s"
          line = line sprintf(w, ms(p[2]), ratio(a, p[2]))
          if (p[2] != "" && (best == "" || p[2] + 0 < best + 0)) { best = p[2]; who = p[1] }
        }
        printf "%s   %-10s %10s %6s\n", line, who, ms(best), ratio(a, best)
      }'
  done
  echo
  echo "   breakdown: ms per critic step and per G step (with its projection), sgen and the best torch run above"
  printf "%-24s %10s %10s   %-10s %10s %6s %10s %6s\n" "model/variant" "sgen D" "sgen G" "torch run" "D" "ratio" "G" "ratio"
  for row in "${rows[@]}"; do
    m="${row%%:*}"
    v="${row#*:}"
    local sg="$tmp/sgen-$m-$v.txt" bestf="" bestms="" who="n/a" x
    for ((i = 0; i < npeers; i++)); do
      for k in "t$i" "t${i}ob1"; do
        x="$(field "$tmp/$k-$m-$v.txt" ms_per_iter)"
        if [ -n "$x" ] && { [ -z "$bestms" ] || awk -v a="$x" -v b="$bestms" 'BEGIN { exit !(a + 0 < b + 0) }'; }; then
          bestms="$x"
          bestf="$tmp/$k-$m-$v.txt"
          who="t$((i + 1))"
          [ "$k" = "t$i" ] || who="$who/OB1"
        fi
      done
    done
    awk -v name="$m/$v" -v who="$who" -v sd="$(field "$sg" ms_critic_step)" -v sgg="$(field "$sg" ms_g_step)" \
      -v td="$([ -n "$bestf" ] && field "$bestf" ms_critic_step)" -v tg="$([ -n "$bestf" ] && field "$bestf" ms_g_step)" '
      function ratio(x, y) { return (x == "" || y == "" || y + 0 == 0) ? "n/a" : sprintf("%.2f", x / y) }
      function ms(x) { return x == "" ? "n/a" : sprintf("%.1f", x) }
      BEGIN { printf "%-24s %10s %10s   %-10s %10s %6s %10s %6s\n", name, ms(sd), ms(sgg), who, ms(td), ratio(sd, td),
                ms(tg), ratio(sgg, tg) }'
  done
  if [ -f "$tmp/mismatch" ]; then
    echo "paper_gan_step: the parameter counts of sgen and torch differ (see above): the networks are not the same" >&2
  fi
}

if [ "$save" = 1 ]; then
  mkdir -p "$here/results"
  out="$here/results/$(date +%F)-paper_gan_step.txt"
  {
    echo "# paper_gan_step, $(date -u '+%F %T UTC'), git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "# command: BUILD=$build_arg bash bench/paper_gan_step.sh ${args[*]:-}"
    echo "# machine:"
    echo "#   model: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    lscpu | grep -E '^(Architecture|CPU\(s\)|Thread\(s\) per core|Core\(s\) per socket|Socket\(s\)|L2 cache|L3 cache)' \
      | sed 's/^/#   /'
    echo "#   nproc: $(nproc)"
    echo "#   memory: $(free -h | awk '/^Mem:/ {print $2}') total"
    echo "#   sgen: $("$build/bin/sgen" info 2>/dev/null | grep -E 'BLAS|build type' | sed 's/^ *//; s/  */ /g' | paste -sd ';' -)"
    for ((i = 0; i < npeers; i++)); do
      echo "#   peer t$((i + 1)): ${PEER_LABELS[$i]}: ${PEER_PYTHONS[$i]}, torch $("${PEER_PYTHONS[$i]}" -c 'import torch; print(torch.__version__)' 2>/dev/null)"
    done
    echo "#   environment: $(env | grep -E '^(OMP_|OPENBLAS_|GOMP_|SGEN_NUM_THREADS)' | sort | paste -sd ' ' - || true)"
    echo "#   load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    run
    echo
    echo "# load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  } 2>&1 | tee "$out"
  echo "paper_gan_step: wrote $out"
else
  run
fi
[ ! -f "$tmp/mismatch" ] || exit 1
