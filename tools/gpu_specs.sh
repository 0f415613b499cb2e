#!/bin/sh
# The GPU specs: busted --tags=gpu over spec/ (spec/gpu_spec.lua and the #gpu
# blocks of the other spec files), run from the source tree. Exits 77 when
# the given sgen cannot use a GPU (built without CUDA, no device, driver too
# old), which ctest's lua.gpu entry reports as skipped (SKIP_RETURN_CODE 77).
#
#   sh tools/gpu_specs.sh BUSTED SGEN [BUSTED ARGS...]
#
# BUSTED: the busted command (the system's, or the bundle's bin/busted that
# runs busted inside sgen, docs/gpu.md); SGEN: the sgen executable that
# decides (the specs themselves use sgen.core through BUSTED's Lua).
# BUSTED ARGS replace the default `-o utfTerminal spec`.
set -u
if [ $# -lt 2 ]; then
  echo "usage: sh tools/gpu_specs.sh BUSTED SGEN [BUSTED ARGS...]" >&2
  exit 2
fi
busted="$1"
sgen="$2"
shift 2
reason="$(printf '%s\n' 'local sg = require "sgen"' \
  'io.write(sg.cuda.is_available() and "" or sg.cuda.unavailable_reason())' | "$sgen" run - 2>&1)"
status=$?
if [ $status -ne 0 ]; then
  echo "gpu_specs: $sgen could not tell whether a GPU is usable (exit status $status): $reason" >&2
  exit 1
fi
if [ -n "$reason" ]; then
  echo "SKIP: the GPU specs need a usable CUDA device: $reason"
  exit 77
fi
echo "gpu_specs: $("$sgen" run - <<'EOF'
local sg = require "sgen"
io.write(sg.cuda.device_name(0))
EOF
), running busted --tags=gpu"
if [ $# -eq 0 ]; then
  set -- -o utfTerminal spec
fi
exec "$busted" --lua=lua5.4 --tags=gpu "$@"
