#!/usr/bin/env bash
# Packs into one folder what sgen's GPU checks need on a GPU machine that has
# CUDA (nvcc), cmake, a C compiler and a Python with PyTorch (whose pip
# packages carry cuDNN and cuBLAS), but no Lua, no apt and no network
# (docs/gpu.md, "The GPU bundle", says why it is made this way):
#
#   bash tools/gpu-bundle.sh OUT_DIR
#
# OUT_DIR then holds
#   run_gpu_checks.sh  the one command: builds if needed, runs the GPU C tests
#                      (c.test_backend_ops, c.test_cuda_runtime), the GPU specs (busted --tags=gpu) and the
#                      GPU benchmark (bench/gpu_bench.sh), output under $OUT,
#                      or --out DIR, or ./gpu-results
#   build.sh           configures and builds sgen there with the machine's nvcc
#                      and cmake against the libraries of deps/ only
#   src/               sgen's sources: CMakeLists.txt, engine/, bindings/, lua/,
#                      models/, experiments/, spec/, bench/, tools/, docs/,
#                      data/images/ (this working tree, committed or not)
#   deps/              Debian 12's build inputs that such a machine may lack:
#                      headers; static Lua 5.4, libpng, zlib, libedit (+ tinfo,
#                      bsd, md); shared OpenBLAS (OpenMP build, xz-compressed)
#                      with libgfortran and libquadmath; shared cJSON; pkgconf;
#                      a fallback libgomp; .pc files naming only these
#   lua/, clib/        busted 2.1 and its Lua dependencies (luassert, say,
#                      penlight, cliargs, mediator, term, system, dkjson) and
#                      the C modules it loads (lfs, term.core, system.core)
#   bin/busted         busted run inside the sgen executable (no lua5.4 there)
#   README.md, MANIFEST.txt
# The folder is checked to stay under 64 MiB (what the GPU machine takes).
set -euo pipefail

if [ $# -ne 1 ] || [ "${1#-}" != "$1" ]; then
  echo "usage: bash tools/gpu-bundle.sh OUT_DIR" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="$1"
limit=$((64 * 1024 * 1024))
multiarch="${MULTIARCH:-x86_64-linux-gnu}"
usrlib="/usr/lib/$multiarch"

fail() { echo "gpu-bundle: $*" >&2; exit 1; }
need() { [ -e "$1" ] || fail "missing $1 (${2:-install the Debian package that has it: scripts/install-deps.sh})"; }

if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  [ -f "$out/run_gpu_checks.sh" ] || fail "$out exists, is not empty and is no GPU bundle: give a new folder"
  rm -rf "$out"
fi
mkdir -p "$out"
out="$(cd "$out" && pwd)"
case "$out/" in "$root"/src/*|"$root"/deps/*) fail "OUT_DIR must not be inside the sources it copies" ;; esac

# ---------------------------------------------------------------- sources
# The tracked and untracked-but-not-ignored files of this working tree, in
# the folders the build, the specs and the benchmarks read.
echo "gpu-bundle: sources"
mkdir -p "$out/src"
(
  cd "$root"
  git ls-files -z --cached --others --exclude-standard -- \
    CMakeLists.txt engine bindings lua models experiments spec bench tools docs data/images \
    | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - \
    | tar -xf - -C "$out/src"
)
[ -f "$out/src/CMakeLists.txt" ] || fail "no sources copied from $root"
# the results and fixtures the GPU checks never read stay behind
rm -rf "$out/src/bench/results" "$out/src/docs/results"

# ---------------------------------------------------------------- deps
echo "gpu-bundle: libraries and headers"
deps="$out/deps"
mkdir -p "$deps/include/lua5.4" "$deps/include/openblas" "$deps/include/cjson" \
  "$deps/include/editline" "$deps/lib/pkgconfig" "$deps/bin" "$deps/fallback"
for h in lua.h luaconf.h lualib.h lauxlib.h lua.hpp; do
  need "/usr/include/lua5.4/$h" && cp "/usr/include/lua5.4/$h" "$deps/include/lua5.4/"
done
for h in png.h pngconf.h pnglibconf.h; do
  need "/usr/include/libpng16/$h" && cp "/usr/include/libpng16/$h" "$deps/include/"
done
for h in zlib.h zconf.h histedit.h; do need "/usr/include/$h" && cp "/usr/include/$h" "$deps/include/"; done
need /usr/include/cjson/cJSON.h && cp /usr/include/cjson/cJSON.h "$deps/include/cjson/"
need /usr/include/editline/readline.h && cp /usr/include/editline/readline.h "$deps/include/editline/"
obinc="/usr/include/$multiarch/openblas-openmp"
need "$obinc/cblas.h" && cp "$obinc"/*.h "$deps/include/openblas/"

# static archives (position-independent: they link into PIE executables)
for a in liblua5.4.a libpng16.a libz.a libedit.a libtinfo.a libbsd.a libmd.a; do
  need "$usrlib/$a" && cp "$usrlib/$a" "$deps/lib/"
done
# shared: OpenBLAS (OpenMP build; xz-compressed, unpacked by build.sh) and
# what it needs beyond glibc; cJSON (no static archive in Debian)
oblib="$(readlink -f "$usrlib/openblas-openmp/libopenblas.so.0")"
need "$oblib" "the OpenMP build of OpenBLAS (libopenblas0-openmp)"
xz -T2 -6 -c "$oblib" > "$deps/lib/libopenblas.so.0.xz"
for l in libgfortran.so.5 libquadmath.so.0 libcjson.so.1 libpkgconf.so.3; do
  need "$usrlib/$l" && cp "$(readlink -f "$usrlib/$l")" "$deps/lib/$l"
done
need "$usrlib/libgomp.so.1" && cp "$(readlink -f "$usrlib/libgomp.so.1")" "$deps/fallback/libgomp.so.1"
need /usr/bin/pkgconf "pkgconf" && cp /usr/bin/pkgconf "$deps/bin/pkgconf.bin"
cat > "$deps/bin/pkg-config" <<'EOF'
#!/bin/sh
# Debian 12's pkgconf with its library from the bundle.
d="$(cd "$(dirname "$0")/.." && pwd)"
LD_LIBRARY_PATH="$d/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$d/bin/pkgconf.bin" "$@"
EOF
chmod +x "$deps/bin/pkg-config" "$deps/bin/pkgconf.bin"
luarel="$(sed -n 's/^#define LUA_VERSION_RELEASE[[:space:]]*"\([0-9]*\)".*/\1/p' /usr/include/lua5.4/lua.h)"
lua_release="$(dpkg-query -W -f='${Version}' liblua5.4-dev 2>/dev/null || echo 5.4)"
cat > "$deps/lib/pkgconfig/lua5.4.pc" <<EOF
prefix=\${pcfiledir}/../..
includedir=\${prefix}/include/lua5.4
libdir=\${prefix}/lib
Name: Lua
Description: Lua 5.4, static (Debian liblua5.4-dev $lua_release)
Version: 5.4.${luarel:-0}
Libs: -L\${libdir} -llua5.4 -lm
Cflags: -I\${includedir}
EOF
cat > "$deps/lib/pkgconfig/libedit.pc" <<'EOF'
prefix=${pcfiledir}/../..
includedir=${prefix}/include
libdir=${prefix}/lib
Name: libedit
Description: line editing, static, with its libraries (Debian libedit-dev)
Version: 3.1
Libs: -L${libdir} -ledit -ltinfo -lbsd -lmd
Cflags: -I${includedir} -I${includedir}/editline
EOF
cat > "$deps/lib/pkgconfig/libcjson.pc" <<'EOF'
prefix=${pcfiledir}/../..
includedir=${prefix}/include
libdir=${prefix}/lib
Name: libcjson
Description: cJSON, shared (Debian libcjson-dev)
Version: 1.7.15
Libs: -L${libdir} -lcjson
Cflags: -I${includedir} -I${includedir}/cjson
EOF

# ---------------------------------------------------------------- busted
echo "gpu-bundle: busted"
lshare=/usr/share/lua/5.4
lcdir="$usrlib/lua/5.4"
mkdir -p "$out/lua" "$out/clib/term" "$out/clib/system" "$out/bin"
for m in busted busted.lua luassert say pl cliargs cliargs.lua mediator.lua term system dkjson.lua; do
  need "$lshare/$m" "lua-busted and its dependencies, lua-dkjson"
  cp -rL "$lshare/$m" "$out/lua/"
done
need "$lcdir/lfs.so" "lua-filesystem" && cp -L "$lcdir/lfs.so" "$out/clib/"
need "$lcdir/term/core.so" "lua-term" && cp -L "$lcdir/term/core.so" "$out/clib/term/"
need "$lcdir/system/core.so" "lua-system" && cp -L "$lcdir/system/core.so" "$out/clib/system/"
cat > "$out/lua/busted_main.lua" <<'EOF'
-- busted's command-line runner (Debian's /usr/bin/busted), for `sgen run`:
--   sgen run busted_main.lua -- [busted arguments]
require "busted.runner"({standalone = false})
EOF
cat > "$out/bin/busted" <<'EOF'
#!/bin/sh
# busted without Lua: busted's runner inside the sgen executable, with the
# bundle's Lua modules and C modules. The sgen executable: $SGEN_BIN (ctest
# sets it), else build/bin/sgen of this bundle. --lua=... (run busted under
# another interpreter) is dropped: there is none.
here="$(cd "$(dirname "$0")/.." && pwd)"
sgen="${SGEN_BIN:-$here/build/bin/sgen}"
n=$#
skip=0
while [ "$n" -gt 0 ]; do
  a="$1"
  shift
  n=$((n - 1))
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  case "$a" in
    --lua=*) ;;
    --lua) skip=1 ;;
    *) set -- "$@" "$a" ;;
  esac
done
export LUA_PATH="$here/lua/?.lua;$here/lua/?/init.lua;${LUA_PATH:-;}"
export LUA_CPATH="$here/clib/?.so;${LUA_CPATH:-;}"
exec "$sgen" run "$here/lua/busted_main.lua" -- "$@"
EOF
chmod +x "$out/bin/busted"

# ---------------------------------------------------------------- build.sh
cat > "$out/build.sh" <<'EOF'
#!/usr/bin/env bash
# Builds sgen with CUDA from src/ into build/ (or $BUILD_DIR) with this
# machine's nvcc and cmake, against the libraries of deps/ only: the sgen
# executable and the GPU C tests. Environment: JOBS (default nproc),
# CUDA_ARCHS (default: the GPU's compute capability from nvidia-smi, e.g.
# 90-real; 90-real when there is no nvidia-smi), PYTHON (default python3: its
# pip packages nvidia.* give cuDNN, the one PyTorch uses, and cuBLAS when the
# toolkit has none), CUDNN_ROOT (a cuDNN folder to use instead).
# Writes build/sgen-env.sh: SGEN_LD_LIBRARY_PATH for running what it built.
set -euo pipefail
B="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${BUILD_DIR:-$B/build}"
deps="$B/deps"
jobs="${JOBS:-$(nproc)}"
python="${PYTHON:-python3}"
say() { echo "build.sh: $*"; }

# unpack and link the shared libraries
if [ ! -f "$deps/lib/libopenblas.so.0" ]; then
  say "unpacking OpenBLAS"
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$deps/lib/libopenblas.so.0.xz" > "$deps/lib/libopenblas.so.0.tmp"
  else
    "$python" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
      "$deps/lib/libopenblas.so.0.xz" "$deps/lib/libopenblas.so.0.tmp"
  fi
  mv "$deps/lib/libopenblas.so.0.tmp" "$deps/lib/libopenblas.so.0"
fi
ln -sf libopenblas.so.0 "$deps/lib/libopenblas.so"
ln -sf libcjson.so.1 "$deps/lib/libcjson.so"
ldpath="$deps/lib"
add_ld() { case ":$ldpath:" in *":$1:"*) ;; *) ldpath="$ldpath:$1" ;; esac; }
# libgomp: the system's (the compiler's OpenMP), else the bundle's
# (grep -c reads all of ldconfig's output: no SIGPIPE under pipefail)
if ! { ldconfig -p 2>/dev/null | grep -c 'libgomp\.so\.1 ' >/dev/null; } \
   && [ ! -e "$(gcc -print-file-name=libgomp.so.1 2>/dev/null)" ]; then
  say "no libgomp.so.1 on this machine: using the bundle's"
  add_ld "$deps/fallback"
fi

# pkg-config: the bundle's pkgconf, else the machine's; it sees deps/ only
pkgconfig="$deps/bin/pkg-config"
if ! "$pkgconfig" --version >/dev/null 2>&1; then
  pkgconfig="$(command -v pkg-config || command -v pkgconf || true)"
  [ -n "$pkgconfig" ] || { say "no working pkg-config (the bundle's does not run here)"; exit 1; }
fi
export PKG_CONFIG="$pkgconfig" PKG_CONFIG_LIBDIR="$deps/lib/pkgconfig"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

# CUDA: architectures, cuDNN, cuBLAS
archs="${CUDA_ARCHS:-}"
if [ -z "$archs" ]; then
  cc="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .' || true)"
  case "$cc" in ''|*[!0-9]*) archs="90-real" ;; *) archs="${cc}-real" ;; esac
fi
nvidia_dirs="$("$python" -c 'import nvidia; print("\n".join(nvidia.__path__))' 2>/dev/null || true)"
cudnn_root="${CUDNN_ROOT:-}"
if [ -z "$cudnn_root" ]; then
  for d in $nvidia_dirs; do
    if [ -f "$d/cudnn/include/cudnn.h" ] && ls "$d"/cudnn/lib/libcudnn.so* >/dev/null 2>&1; then
      cudnn_root="$d/cudnn"
      break
    fi
  done
fi
extra=()
cuda_flags=""
if [ -n "$cudnn_root" ]; then
  say "cuDNN from $cudnn_root"
  cudnn_lib="$(ls "$cudnn_root"/lib/libcudnn.so "$cudnn_root"/lib/libcudnn.so.[0-9]* 2>/dev/null | head -1 || true)"
  extra+=("-DCUDNN_ROOT=$cudnn_root" "-DCUDNN_INCLUDE_DIR=$cudnn_root/include" "-DCUDNN_LIBRARY=$cudnn_lib")
  add_ld "$cudnn_root/lib"
fi
nvcc="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
cuda_home="$(cd "$(dirname "$(readlink -f "$nvcc")")/.." && pwd)"
if ! ls "$cuda_home"/lib64/libcublas.so* "$cuda_home"/lib/libcublas.so* "$cuda_home"/targets/*/lib/libcublas.so* >/dev/null 2>&1; then
  # the toolkit has no cuBLAS/cuSOLVER: the pip packages' (nvidia/cu13 or nvidia/cublas, ...)
  for lib in cublas cublasLt cusolver cusparse nvJitLink; do
    f="$(for d in $nvidia_dirs; do ls "$d"/*/lib/lib$lib.so.* 2>/dev/null || true; done | head -1)"
    if [ -z "$f" ]; then
      case "$lib" in cusparse|nvJitLink) continue ;; esac
      say "no lib$lib in the CUDA toolkit ($cuda_home) nor in $python's nvidia packages"
      exit 1
    fi
    say "$lib from $f"
    extra+=("-DCUDA_${lib}_LIBRARY=$f")
    add_ld "$(dirname "$f")"
    inc="$(dirname "$(dirname "$f")")/include"
    [ -d "$inc" ] && cuda_flags="$cuda_flags -I$inc"
  done
fi

for d in "$cuda_home/lib64" "$cuda_home/lib"; do if [ -d "$d" ]; then add_ld "$d"; fi; done

gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  say "configuring $build (CUDA architectures $archs)"
  cmake -S "$B/src" -B "$build" "${gen[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DSGEN_CUDA=ON -DSGEN_WERROR=OFF \
    -DCMAKE_CUDA_ARCHITECTURES="$archs" \
    -DPKG_CONFIG_EXECUTABLE="$pkgconfig" \
    -DOPENBLAS_LIB="$deps/lib/libopenblas.so" -DOPENBLAS_INCLUDE="$deps/include/openblas" \
    -DPNG_PNG_INCLUDE_DIR="$deps/include" -DPNG_LIBRARY="$deps/lib/libpng16.a" \
    -DZLIB_INCLUDE_DIR="$deps/include" -DZLIB_LIBRARY="$deps/lib/libz.a" \
    -DBUSTED="$B/bin/busted" \
    -DCMAKE_C_FLAGS="$cuda_flags" -DCMAKE_CUDA_FLAGS="$cuda_flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-Wl,--export-dynamic -Wl,--disable-new-dtags -Wl,-rpath-link,$deps/lib" \
    "${extra[@]}"
fi
say "building with $jobs jobs"
cmake --build "$build" -j "$jobs" --target sgen_exe test_backend_ops test_cuda_runtime
echo "export SGEN_LD_LIBRARY_PATH='$ldpath'" > "$build/sgen-env.sh"
say "done: $build/bin/sgen"
EOF
chmod +x "$out/build.sh"

# ---------------------------------------------------------------- run_gpu_checks.sh
cat > "$out/run_gpu_checks.sh" <<'EOF'
#!/usr/bin/env bash
# The GPU checks of sgen, in one command (docs/gpu.md):
#
#   bash run_gpu_checks.sh [--out DIR] [--rebuild] [--skip c,specs,bench] [--quick] [-- GPU_BENCH ARGS]
#
# 1. builds sgen (build.sh) unless build/bin/sgen is there (--rebuild: again);
# 2. runs the GPU C tests (ctest c.test_backend_ops, c.test_cuda_runtime);
# 3. runs the GPU specs (busted --tags=gpu over src/spec, through
#    src/tools/gpu_specs.sh as ctest's lua.gpu does);
# 4. runs the GPU benchmark (src/bench/gpu_bench.sh: sgen vs PyTorch eager,
#    DIP 256/512 and DCGAN; --quick: fewer iterations).
# Everything goes to DIR (default $OUT, else ./gpu-results): 00-env.txt,
# 01-build.log, 02-c-tests.log, 03-gpu-specs.log, 04-bench.txt, summary.txt.
# Exit status 0 when every step that ran passed.
set -uo pipefail
B="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cmdline="bash run_gpu_checks.sh $*"
out="${OUT:-$PWD/gpu-results}"
rebuild=0
skip=","
quick=0
bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    --skip) skip=",$2,"; shift 2 ;;
    --quick) quick=1; shift ;;
    --) shift; bench_args=("$@"); break ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "run_gpu_checks: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
export BUILD_DIR="${BUILD_DIR:-$B/build}"
build="$BUILD_DIR"
python="${PYTHON:-python3}"
summary="$out/summary.txt"
: > "$summary"
status=0
t_start=$(date +%s)
note() { echo "$*" | tee -a "$summary"; }
step_result() { # name, exit status, seconds
  if [ "$2" = 0 ]; then note "PASS  $1 ($3 s)"; elif [ "$2" = 77 ]; then note "SKIP  $1 ($3 s)"; else note "FAIL  $1 (exit status $2, $3 s)"; status=1; fi
}

{
  echo "# sgen GPU checks, $(date -u '+%F %T UTC')"
  echo "# command: $cmdline"
  echo "# bundle: $B"
  sed -n '1,12p' "$B/MANIFEST.txt"
  echo "# host: $(uname -srm), $(nproc --all) CPUs, glibc $(ldd --version 2>&1 | head -1 | awk '{print $NF}')"
  echo "# nvidia-smi:"
  nvidia-smi 2>&1 | sed 's/^/#   /' | head -20
  echo "# nvcc: $(nvcc --version 2>&1 | tail -2 | head -1)"
  echo "# cmake: $(cmake --version 2>&1 | head -1)   cc: $(cc --version 2>&1 | head -1)"
  echo "# python: $(command -v "$python") $("$python" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())' 2>&1 | tail -1)"
} > "$out/00-env.txt" 2>&1
cat "$out/00-env.txt"

# 1. build
t0=$(date +%s)
if [ "$rebuild" = 1 ] || [ ! -x "$build/bin/sgen" ] || [ ! -f "$build/sgen-env.sh" ]; then
  [ "$rebuild" = 1 ] && rm -rf "$build"
  bash "$B/build.sh" > "$out/01-build.log" 2>&1
  rc=$?
  tail -5 "$out/01-build.log"
else
  echo "build.sh: $build/bin/sgen is there (--rebuild to build again)" > "$out/01-build.log"
  rc=0
fi
step_result build $rc $(( $(date +%s) - t0 ))
if [ $rc != 0 ]; then
  note "the build failed: see 01-build.log"
  tail -40 "$out/01-build.log"
  exit 1
fi
# shellcheck disable=SC1091
. "$build/sgen-env.sh"
export SGEN_LD_LIBRARY_PATH
sgen_env() { env LD_LIBRARY_PATH="$SGEN_LD_LIBRARY_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; }
sgen_env "$build/bin/sgen" info >> "$out/00-env.txt" 2>&1
tail -12 "$out/00-env.txt"
gpu_reason="$(echo 'io.write(sgen.cuda.is_available() and "" or sgen.cuda.unavailable_reason())' \
  | sgen_env "$build/bin/sgen" run - 2>&1)"
[ -n "$gpu_reason" ] && note "no usable GPU: $gpu_reason"

# 2. GPU C tests
if [ "${skip#*,c,}" = "$skip" ]; then
  t0=$(date +%s)
  if command -v ctest >/dev/null 2>&1; then
    (cd "$build" && sgen_env ctest -R '^c\.test_(backend_ops|cuda_runtime)$' --output-on-failure --timeout 1200) \
      > "$out/02-c-tests.log" 2>&1
    rc=$?
  else # no ctest: the two executables as ctest runs them (77: skipped)
    rc=0
    for t in test_backend_ops test_cuda_runtime; do
      echo "== $t" >> "$out/02-c-tests.log"
      (cd "$build" && sgen_env env SGEN_FIXTURES="$B/src/engine/tests/fixtures" SGEN_SOURCE_DIR="$B/src" \
        "./$t") >> "$out/02-c-tests.log" 2>&1
      r=$?
      echo "== $t: exit status $r" >> "$out/02-c-tests.log"
      if [ $r = 77 ]; then echo "(Skipped) $t" >> "$out/02-c-tests.log"; elif [ $r != 0 ]; then rc=$r; fi
    done
  fi
  tail -8 "$out/02-c-tests.log"
  grep -q "(Skipped)" "$out/02-c-tests.log" && [ $rc = 0 ] && rc=77
  step_result "GPU C tests (c.test_backend_ops, c.test_cuda_runtime)" $rc $(( $(date +%s) - t0 ))
fi

# 3. GPU specs
if [ "${skip#*,specs,}" = "$skip" ]; then
  t0=$(date +%s)
  (cd "$B/src" && sgen_env env \
     LUA_PATH="$B/src/lua/?.lua;$B/src/lua/?/init.lua;$B/src/?.lua;;" \
     SGEN_BIN="$build/bin/sgen" SGEN_SOURCE_DIR="$B/src" \
     sh tools/gpu_specs.sh "$B/bin/busted" "$build/bin/sgen" -o TAP spec) > "$out/03-gpu-specs.log" 2>&1
  rc=$?
  grep -E '^(not ok|1\.\.)|SKIP:|^# (Failure|Error)' "$out/03-gpu-specs.log" | head -40
  echo "$(grep -c '^ok' "$out/03-gpu-specs.log") ok, $(grep -c '^not ok' "$out/03-gpu-specs.log") not ok" \
    | tee -a "$out/03-gpu-specs.log"
  step_result "GPU specs (busted --tags=gpu)" $rc $(( $(date +%s) - t0 ))
fi

# 4. GPU benchmark
if [ "${skip#*,bench,}" = "$skip" ] && [ -n "$gpu_reason" ] && [[ " ${bench_args[*]:-} " != *" cpu "* ]]; then
  note "SKIP  GPU benchmark (no usable GPU; -- --device cpu --tiny runs it on the CPU)"
elif [ "${skip#*,bench,}" = "$skip" ]; then
  t0=$(date +%s)
  args=()
  [ "$quick" = 1 ] && args+=(--dip-iters 5 --dcgan-iters 20 --no-torch-benchmark)
  (cd "$B/src" && bash bench/gpu_bench.sh --sgen "$build/bin/sgen" --python "$python" \
     --out "$out/04-bench.txt" "${args[@]}" "${bench_args[@]}") > /dev/null 2>&1
  rc=$?
  sed -n '/^== summary/,$p' "$out/04-bench.txt" 2>/dev/null
  step_result "GPU benchmark (bench/gpu_bench.sh)" $rc $(( $(date +%s) - t0 ))
fi
note "total $(( $(date +%s) - t_start )) s; output in $out"
exit $status
EOF
chmod +x "$out/run_gpu_checks.sh"

# ---------------------------------------------------------------- README, MANIFEST
cat > "$out/README.md" <<'EOF'
# sgen GPU bundle

Made by `tools/gpu-bundle.sh` (docs/gpu.md). On a GPU machine with CUDA (nvcc), cmake, a C
compiler and a Python with PyTorch, and no Lua, no apt, no network:

    bash run_gpu_checks.sh              # build, GPU C tests, GPU specs, GPU benchmark
    bash run_gpu_checks.sh --out DIR    # output elsewhere than $OUT / ./gpu-results
    bash run_gpu_checks.sh --quick      # shorter benchmark
    bash run_gpu_checks.sh --skip bench # or c, specs (comma-separated)

`build.sh` alone builds into `build/`; `bin/busted` runs busted inside `build/bin/sgen`.
See MANIFEST.txt for what is in here and where it came from.
EOF
{
  echo "# sgen GPU bundle, made $(date -u '+%F %T UTC') on $(uname -nm)"
  echo "# from: $root, git $(git -C "$root" rev-parse HEAD 2>/dev/null || echo 'n/a')$(git -C "$root" diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "# build host: $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"'), glibc $(ldd --version | head -1 | awk '{print $NF}'), gcc $(gcc -dumpfullversion)"
  echo "# deps: Lua $(dpkg-query -W -f='${Version}' liblua5.4-dev 2>/dev/null), libpng $(dpkg-query -W -f='${Version}' libpng-dev 2>/dev/null), zlib $(dpkg-query -W -f='${Version}' zlib1g-dev 2>/dev/null), libedit $(dpkg-query -W -f='${Version}' libedit-dev 2>/dev/null), cJSON $(dpkg-query -W -f='${Version}' libcjson-dev 2>/dev/null), OpenBLAS $(dpkg-query -W -f='${Version}' libopenblas0-openmp 2>/dev/null) (openmp), pkgconf $(dpkg-query -W -f='${Version}' pkgconf 2>/dev/null)"
  echo "# busted $(dpkg-query -W -f='${Version}' lua-busted 2>/dev/null), luassert $(dpkg-query -W -f='${Version}' lua-luassert 2>/dev/null), penlight $(dpkg-query -W -f='${Version}' lua-penlight 2>/dev/null), lfs $(dpkg-query -W -f='${Version}' lua-filesystem 2>/dev/null), lua-term $(dpkg-query -W -f='${Version}' lua-term 2>/dev/null), lua-system $(dpkg-query -W -f='${Version}' lua-system 2>/dev/null), dkjson $(dpkg-query -W -f='${Version}' lua-dkjson 2>/dev/null)"
  echo "# shared libraries shipped, and the newest glibc symbol version each needs:"
  for f in "$deps"/lib/*.so.* "$deps"/fallback/*.so.* "$out"/clib/*.so "$out"/clib/*/*.so "$deps/bin/pkgconf.bin"; do
    case "$f" in *.xz) continue ;; esac
    echo "#   ${f#"$out"/}: $(objdump -T "$f" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
  done
  echo "#   deps/lib/libopenblas.so.0: $(objdump -T "$oblib" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
  echo
  (cd "$out" && find . -type f ! -name MANIFEST.txt | sort | while IFS= read -r f; do
    printf '%10d  %s\n' "$(stat -c %s "$f")" "${f#./}"
  done)
} > "$out/MANIFEST.txt"

size="$(du -sb "$out" | cut -f1)"
echo "gpu-bundle: $out: $(find "$out" -type f | wc -l) files, $((size / 1024)) KiB"
if [ "$size" -gt "$limit" ]; then
  fail "the bundle is $size bytes, over the 64 MiB the GPU machine takes"
fi
