#!/bin/sh
# LeakSanitizer over a Lua run of each experiment's --quick preset (issue 18
# item 5): the sanitize build's sgen (ASan+UBSan, LSan at exit) runs
# `sgen run experiments/X.lua --quick --out=TMP [SHORTER]` for every
# experiments/*.lua.
# Usage: tools/lsan_experiments.sh [BUILD_DIR (build-sanitize-rel)] [LOG_DIR]
# (make lsan builds BUILD_DIR with the sanitize flags at -O2 and runs this)
# SHORTER: under ASan the quick presets take 5-10 min each on 2 shared cores,
# so LSAN_SHORT=1 (the default) also cuts the iteration counts; every phase of
# the preset (data, training, evaluation, checkpoints, outputs) still runs,
# and a leak per iteration still shows. LSAN_SHORT=0 runs the plain presets.
# Prints one line per experiment (exit status, leak summary, seconds) and
# writes each run's full output to LOG_DIR/lsan_<name>.log. Exit status 1 when
# any run failed or leaked.
set -u
build=${1:-build-sanitize-rel}
logs=${2:-bench/results/2026-12-07-reliability}
short=${LSAN_SHORT:-1}
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$logs"
status=0
ctrl_run=$(mktemp -d) # csc_ctrl's run, the model csc_ctrl_denoise evaluates
for exp in "$src"/experiments/*.lua; do
  name=$(basename "$exp" .lua)
  out=$(mktemp -d)
  extra=""
  case "$name" in
    csc_ctrl) out=$ctrl_run; [ "$short" = 1 ] && extra="--iters=20 --eval-every=10" ;;
    # no --quick: it evaluates a trained run; the one just made, on 50 images
    csc_ctrl_denoise) extra="--checkpoint=$ctrl_run --n=50" ;;
    dip_denoise) [ "$short" = 1 ] && extra="--iters=60" ;;
    # fid needs images to score: the training split (the code path matters here,
    # not the score)
    fid) extra="--fake=fmnist-train" ;;
    fmnist_classifier) [ "$short" = 1 ] && extra="--epochs=1" ;;
    *) [ "$short" = 1 ] && extra="--iters=20" ;;
  esac
  quick=--quick
  [ "$name" = csc_ctrl_denoise ] && quick=""
  start=$(date +%s)
  # detect_leaks: LSan at exit; suppressions: tools/lsan.supp (see there).
  ASAN_OPTIONS=detect_leaks=1:protect_shadow_gap=0 \
  LSAN_OPTIONS=suppressions=$src/tools/lsan.supp:print_suppressions=1 \
  UBSAN_OPTIONS=print_stacktrace=1 OMP_WAIT_POLICY=passive \
    "$build/bin/sgen" run "$exp" $quick --out="$out" $extra >"$logs/lsan_$name.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  leak=$(grep -E "^SUMMARY: AddressSanitizer: .* leaked" "$logs/lsan_$name.log" || echo "no leaks")
  supp=$(grep -A3 "^Suppressions used:" "$logs/lsan_$name.log" | grep -E "^ +[0-9]" | tr -s ' ' | tr '\n' ';')
  echo "$name: sgen run $quick $extra: exit $rc, $leak, ${secs}s${supp:+, suppressed: $supp}"
  [ $rc -ne 0 ] && status=1
  [ "$out" != "$ctrl_run" ] && rm -rf "$out"
done
rm -rf "$ctrl_run"
exit $status
