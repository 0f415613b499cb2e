#!/usr/bin/env bash
# Installs the Debian packages sgen needs, only those missing. Idempotent:
# when everything is present it prints one line and changes nothing.
#
#   bash scripts/install-deps.sh           building, `make demo` and `make test`
#   bash scripts/install-deps.sh --bench   also PyTorch, numpy and python3-venv (the PyPI torch peer), for `make bench`
#                                          and the fixture scripts tools/make_*.py
#   bash scripts/install-deps.sh --browser also headless Chromium, for the `sgen report` browser tests
#                                          (spec/report_spec.lua; `make test` asks for it)
#   bash scripts/install-deps.sh --fuzz    also clang, its libFuzzer runtime and OpenMP, for `make fuzz`
#                                          and the fuzz.smoke test (`make test` asks for it; skipped without)
#   ... --list                             print the packages, install nothing
#
# Chromium (several hundred MB) is likewise only for the report's browser
# tests; `make demo` and `sgen report` itself need no browser.
# PyTorch (python3-torch and its dependencies, several hundred MB) is kept out
# of the default set: the tests read committed fixtures and need no Python.
set -euo pipefail

usage() {
  echo "usage: bash scripts/install-deps.sh [--bench] [--browser] [--fuzz] [--list]"
  echo "  --bench    also PyTorch and numpy (make bench, tools/make_*.py fixture scripts)"
  echo "  --browser  also headless Chromium (the sgen report browser tests, make test)"
  echo "  --fuzz     also clang and libFuzzer (make fuzz, the fuzz.smoke test of make test)"
  echo "  --list     print the packages, one a line, and install nothing"
}

# building, the demo and the tests (OpenMPI: sg.dist, `sgen launch` and the
# data-parallel equivalence test, docs/distributed.md)
packages=(
  build-essential cmake pkg-config
  liblua5.4-dev lua5.4 lua-busted lua-dkjson lua-filesystem
  libpng-dev zlib1g-dev libcjson-dev libedit-dev
  libopenblas-openmp-dev libdnnl-dev
  libopenmpi-dev openmpi-bin
  dataset-fashion-mnist
)
# the benchmarks' PyTorch side and the scripts that make the fixtures
bench_packages=(
  python3 python3-torch python3-numpy python3-pil python3-venv
)
# the libFuzzer harnesses (make fuzz): Debian 12's clang 14 finds
# -fsanitize=fuzzer's runtime (libclang_rt.fuzzer) in libclang-rt-14-dev,
# and OpenMP for clang (libomp) in libomp-14-dev
fuzz_packages=(
  clang libclang-rt-14-dev libomp-14-dev
)

# the browser tests of `sgen report` (headless Chromium)
browser_packages=(
  chromium
)

bench=0
browser=0
fuzz=0
list=0
for arg in "$@"; do
  case "$arg" in
    --bench) bench=1 ;;
    --browser) browser=1 ;;
    --fuzz) fuzz=1 ;;
    --list) list=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install-deps: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done
if [ "$bench" -eq 1 ]; then packages+=("${bench_packages[@]}"); fi
if [ "$browser" -eq 1 ]; then packages+=("${browser_packages[@]}"); fi
if [ "$fuzz" -eq 1 ]; then packages+=("${fuzz_packages[@]}"); fi

if [ "$list" -eq 1 ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
