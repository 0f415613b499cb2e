#!/bin/sh
# The engine's layering (docs/engine-internals.md, "Layers"), checked two ways:
#  - on the symbols the tensor core's object files use: no function of
#    engine/ops/ or engine/autograd/ (a core file must not call an op or
#    record a node, whatever header declared it);
#  - on the headers each file really includes (the compiler's -MM -MG list,
#    with every optional feature's macro defined, so indirect and #ifdef'd
#    includes count): no op or autograd header in engine/core/, no other
#    family's kernels header in engine/ops/<f>.c, no engine-internal or
#    backend header (engine/internal, cpu, cuda, dist) in bindings/.
# Usage: tools/check_layers.sh SOURCE_DIR BUILD_DIR [CC]. Exit 1 naming each
# breach.
src=${1:?usage: check_layers.sh SOURCE_DIR BUILD_DIR [CC]}
build=${2:?usage: check_layers.sh SOURCE_DIR BUILD_DIR [CC]}
cc=${3:-cc}
objdir="$build/CMakeFiles/sgen.dir/engine"
flags="-I$src/engine -I$src/engine/include -DSGEN_HAVE_OPENBLAS=1 -DSGEN_WITH_CUDA=1
  -DSGEN_WITH_ONEDNN=1 -DSGEN_WITH_MPI=1 -DSGEN_WITH_NCCL=1"
lua_flags=$(pkg-config --cflags lua5.4 2>/dev/null)
fail=0
breach() {
  echo "check_layers: $1"
  fail=1
}
# The headers a file includes, one per line, relative to the source tree,
# in $hdrs. Called in this shell (not in $(...)), so a file whose includes
# cannot be listed is a breach, never an empty list that passes.
hdrs=
deps() {
  hdrs=
  if ! out=$($cc -MM -MG $flags $lua_flags "$1" 2>&1); then
    breach "cannot list the includes of $1: $out"
    return
  fi
  hdrs=$(echo "$out" | tr ' \\' '\n\n' | grep '\.h$' | sed "s|^$src/||")
}
# the object of a source file (only those of sources that exist: a stale
# object of a deleted file is not the tree's)
obj() { echo "$objdir/$1/$(basename "$2").o"; }

# ---- symbols: the core calls nothing of the ops and autograd layers ----
upper=$(mktemp)
trap 'rm -f "$upper"' EXIT
n_obj=0
for layer in ops autograd; do
  for f in "$src"/engine/$layer/*.c; do
    o=$(obj $layer "$f")
    [ -f "$o" ] || { breach "no object $o for $f: build the tree first"; continue; }
    nm --defined-only "$o" | awk '$2 ~ /^[TDBR]$/ {print $3}' >> "$upper"
    n_obj=$((n_obj + 1))
  done
done
for f in "$src"/engine/core/*.c; do
  case "$(basename "$f")" in cuda_stub.c) continue ;; esac
  o=$(obj core "$f")
  [ -f "$o" ] || { breach "no object $o for $f: build the tree first"; continue; }
  n_obj=$((n_obj + 1))
  for s in $(nm -u "$o" | awk '{print $2}' | grep -Fxf "$upper"); do
    breach "engine/core/$(basename "$f") uses $s, which engine/ops or engine/autograd defines"
  done
done

# ---- includes ----
n=0
for f in "$src"/engine/core/*.c; do
  n=$((n + 1))
  deps "$f"
  for h in $(echo "$hdrs" | grep -E '^engine/include/sgen/(ops[a-z_]*|autograd)\.h$'); do
    breach "engine/core/$(basename "$f") includes $h (the core knows neither the ops nor autograd)"
  done
done
for f in "$src"/engine/ops/*.c; do
  n=$((n + 1))
  fam=$(basename "$f" .c)
  deps "$f"
  for h in $(echo "$hdrs" | grep -E '^engine/internal/kernels_[a-z]+\.h$'); do
    k=$(basename "$h" .h | sed 's/^kernels_//')
    case "$fam:$k" in
      "$k:$k" | matmul:blas | dropout:rng) ;; # named for what they compute (engine-internals.md)
      *) breach "engine/ops/$fam.c includes $h (an op file reaches its own family's kernels only)" ;;
    esac
  done
done
for f in "$src"/bindings/*.c; do
  n=$((n + 1))
  deps "$f"
  for h in $(echo "$hdrs" | grep -E '^engine/(internal|cpu|cuda|dist)/'); do
    breach "bindings/$(basename "$f") includes $h (bindings use the public headers only)"
  done
done
if [ "$n" -lt 40 ] || [ "$n_obj" -lt 20 ]; then
  echo "check_layers: only $n files and $n_obj objects found under $src and $build: wrong dirs?"
  exit 1
fi
[ $fail -eq 0 ] && echo "check_layers: $n files, $n_obj objects, no breach"
exit $fail
