#!/bin/sh
# The engine's layering (docs/engine-internals.md, "Layers"), checked on the
# headers each file really includes (the compiler's -M list, so indirect
# includes count): a file may only call what its includes declare, since
# implicit declarations are errors (-Werror).
#   - engine/core/ includes no op header (sgen/ops*.h) and not sgen/autograd.h;
#   - engine/ops/<f>.c includes no other family's kernels header;
#   - bindings/ include no engine/cpu/ or engine/cuda/ header.
# Usage: tools/check_layers.sh SOURCE_DIR [CC]. Exit 1 naming each breach.
src=${1:?usage: check_layers.sh SOURCE_DIR [CC]}
cc=${2:-cc}
flags="-I$src/engine -I$src/engine/include -DSGEN_HAVE_OPENBLAS=1"
lua_flags=$(pkg-config --cflags lua5.4 2>/dev/null)
fail=0
deps() { # the headers a file includes, one per line, relative to the source tree
  if ! out=$($cc -MM $flags $lua_flags "$1" 2>&1); then
    echo "check_layers: cannot list the includes of $1: $out" >&2
    echo "engine/include/sgen/UNREADABLE.h"
    return
  fi
  echo "$out" | tr ' \\' '\n\n' | grep '\.h$' | sed "s|^$src/||"
}
breach() {
  echo "check_layers: $1"
  fail=1
}
n=0
unreadable() { # a file whose includes could not be listed fails the check
  if deps "$1" | grep -q UNREADABLE; then breach "$1: includes not listed"; fi
}
for f in "$src"/engine/core/*.c "$src"/engine/ops/*.c "$src"/bindings/*.c; do unreadable "$f"; done
for f in "$src"/engine/core/*.c; do
  [ "$(basename "$f")" = cuda_stub.c ] && continue
  n=$((n + 1))
  for h in $(deps "$f" | grep -E '^engine/include/sgen/(ops[a-z_]*|autograd)\.h$'); do
    breach "engine/core/$(basename "$f") includes $h (the core knows neither the ops nor autograd)"
  done
done
for f in "$src"/engine/ops/*.c; do
  n=$((n + 1))
  fam=$(basename "$f" .c)
  for h in $(deps "$f" | grep -E '^engine/internal/kernels_[a-z]+\.h$'); do
    k=$(basename "$h" .h | sed 's/^kernels_//')
    case "$fam:$k" in
      "$k:$k" | matmul:blas | dropout:rng) ;; # named for what they compute (engine-internals.md)
      *) breach "engine/ops/$fam.c includes $h (an op file reaches its own family's kernels only)" ;;
    esac
  done
done
for f in "$src"/bindings/*.c; do
  n=$((n + 1))
  for h in $(deps "$f" | grep -E '^engine/(cpu|cuda)/'); do
    breach "bindings/$(basename "$f") includes $h (bindings reach backends through the backend table)"
  done
done
if [ "$n" -lt 40 ]; then
  echo "check_layers: only $n files found under $src: wrong source dir?"
  exit 1
fi
[ $fail -eq 0 ] && echo "check_layers: $n files, no breach"
exit $fail
