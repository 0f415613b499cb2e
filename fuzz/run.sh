#!/usr/bin/env bash
# Builds the libFuzzer harnesses (a clang tree with -DSGEN_FUZZ=ON) and runs
# each on its seed corpus, failing when any finds a crash.
#
#   bash fuzz/run.sh [--build DIR] [--seconds N | --runs N] [--logs DIR] [--smoke] [HARNESS...]
#
#   --build DIR    the fuzz build tree (default build-fuzz)
#   --seconds N    run each harness N seconds (default 60; `make fuzz` FUZZ_SECONDS)
#   --runs N       run each harness for N executions instead
#   --logs DIR     keep each harness's libFuzzer output as DIR/<harness>.log
#   --smoke        the CI smoke (the fuzz.smoke test): exits 77 (skipped) when
#                  clang or its libFuzzer runtime is missing, instead of failing
#   HARNESS        safetensors png idx cifar10 cli json (default: all)
#
# New inputs go to a scratch directory listed first (libFuzzer writes there),
# so the committed corpus fuzz/corpus/<harness> is only read. Crash inputs
# are kept in DIR/artifacts/ for a look (and, once the reader is fixed, for
# fuzz/corpus as a regression input). libFuzzer's own exit status for a
# crash is 77 (-error_exitcode), ctest's "skipped": any failure here exits 1.
set -euo pipefail

src="$(cd "$(dirname "$0")/.." && pwd)"
build=build-fuzz
seconds=60
runs=""
logs=""
smoke=0
harnesses=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --logs) logs="$2"; shift 2 ;;
    --smoke) smoke=1; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz/run.sh: unknown option '$1'" >&2; exit 2 ;;
    *) harnesses+=("$1"); shift ;;
  esac
done
all=(safetensors png idx cifar10 cli json)
if [ ${#harnesses[@]} -eq 0 ]; then harnesses=("${all[@]}"); fi
for h in "${harnesses[@]}"; do
  case " ${all[*]} " in *" $h "*) ;; *) echo "fuzz/run.sh: unknown harness '$h' (expected: ${all[*]})" >&2; exit 2 ;; esac
done

# clang and libFuzzer: without them the smoke is skipped, `make fuzz` fails
cc="${FUZZ_CC:-clang}"
missing() {
  if [ "$smoke" -eq 1 ]; then
    echo "fuzz.smoke: skipped: $1 (bash scripts/install-deps.sh --fuzz installs clang and libFuzzer)"
    exit 77
  fi
  echo "fuzz/run.sh: $1: run bash scripts/install-deps.sh --fuzz" >&2
  exit 1
}
command -v "$cc" >/dev/null 2>&1 || missing "no C compiler '$cc' (clang) found"
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' > "$probe/p.c"
"$cc" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >/dev/null 2>&1 ||
  missing "'$cc' cannot link a libFuzzer harness (-fsanitize=fuzzer: libclang-rt-14-dev missing?)"

jobs="${JOBS:-$(nproc)}"
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
  -DSGEN_CUDA=OFF -DSGEN_FUZZ=ON -DBUILD_TESTING=OFF >"$probe/configure.log" 2>&1 ||
  { cat "$probe/configure.log" >&2; echo "fuzz/run.sh: configuring $build failed" >&2; exit 1; }
cmake --build "$build" -j "$jobs" --target fuzz_harnesses >"$probe/build.log" 2>&1 ||
  { tail -n 60 "$probe/build.log" >&2; echo "fuzz/run.sh: building $build failed" >&2; exit 1; }

artifacts="$build/artifacts"
mkdir -p "$artifacts"
if [ -n "$logs" ]; then mkdir -p "$logs"; fi
failed=()
for h in "${harnesses[@]}"; do
  scratch="$(mktemp -d)"
  args=(-print_final_stats=1 -timeout=10 -rss_limit_mb=2048 "-artifact_prefix=$artifacts/$h-")
  if [ -n "$runs" ]; then args+=("-runs=$runs"); else args+=("-max_total_time=$seconds"); fi
  if [ -f "$src/fuzz/$h.dict" ]; then args+=("-dict=$src/fuzz/$h.dict"); fi
  case "$h" in
    # the Lua harnesses: no leak re-runs (fuzz/fuzz_lua.h), and inputs the
    # size of real option lists and configs (cli.suggest's edit distance
    # makes a long unknown option cost more than the parse itself)
    cli) args+=(-detect_leaks=0 -max_len=256) ;;
    json) args+=(-detect_leaks=0 -max_len=512) ;;
  esac
  log="${logs:+$logs/$h.log}"
  log="${log:-$scratch.log}"
  if [ -n "$runs" ]; then echo "fuzz: $h ($runs runs)"; else echo "fuzz: $h ($seconds s)"; fi
  rc=0
  "$build/fuzz/fuzz_$h" "${args[@]}" "$scratch" "$src/fuzz/corpus/$h" >"$log" 2>&1 || rc=$?
  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' "$log" | sed 's/^/  /' || true
  if [ "$rc" -ne 0 ]; then
    failed+=("$h")
    echo "fuzz: $h FAILED (libFuzzer exit status $rc); the end of its output:" >&2
    tail -n 40 "$log" >&2
  fi
  rm -rf "$scratch"
  if [ -z "$logs" ]; then rm -f "$scratch.log"; fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: crashes in: ${failed[*]} (inputs in $artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${#harnesses[@]} harnesses ran without a crash"
