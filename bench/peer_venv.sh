#!/usr/bin/env bash
# Creates (or updates) .venv-bench/ in the repository root with the newest
# PyTorch wheel on PyPI: the second peer of the benchmarks (bench/peers.sh),
# beside Debian's python3-torch. The peer a user would pick today is
# `pip install torch`; it is never a dependency of sgen. `make bench` runs
# this first and goes on with Debian's peer alone when it fails.
#
#   bash bench/peer_venv.sh            # prints "peer_venv: torch X in .venv-bench ..."
#
#   PEER_TORCH_VERSION=2.14.1  pins a version (default: the newest on PyPI for
#                              this python, from `pip index versions torch`)
#   PEER_TORCH_DEPS=stubs      (default) or full: see below
#   PEER_WHEEL_DIR=/tmp/whl    also looks for wheels there (pip --find-links), e.g.
#                              a copy downloaded before: a torch-<version>-*.whl
#                              there is installed without downloading
#   PEER_VENV=path             the venv (default: <repo>/.venv-bench)
#
# Exit status 0: the venv's torch imports and is the wanted version (a no-op
# of a few seconds when it already was: one PyPI query, one import). PyPI
# unreachable: a warning and exit 0 while the venv holds a working torch,
# an error and exit 1 when there is none (the benchmarks then compare with
# Debian's torch only).
#
# Why stubs (PEER_TORCH_DEPS=stubs): PyPI's Linux x86_64 torch wheel (about
# 540 MB) is the CUDA build. Its metadata requires cuda-toolkit, nvidia-cudnn,
# -nccl, -nvshmem, -cusparselt, cuda-bindings and triton: about 2.5 GB more to
# download (measured for torch 2.15.0), none of which a CPU benchmark uses.
# The CPU-only build lives on download.pytorch.org/whl/cpu, which a machine
# may not reach (this one resolves pypi.org only). Installed with --no-deps,
# the wheel does NOT import: torch._C -> libtorch_cuda.so and even
# libtorch_cpu.so DT_NEED libcudart, libcupti, libcublas, libcudnn, libcufft,
# libcufile, libcusparse(Lt), libnccl, libnvrtc, libnvshmem_host ("ImportError:
# libcufile.so.0: cannot open shared object file"). The CPU kernels (ATen with
# MKL and oneDNN linked in, OpenMP) are all in libtorch_cpu.so and never call
# CUDA on CPU tensors; the loader only needs the names. So this installs the
# wheel with --no-deps, its declared pure-python dependencies (filelock,
# typing-extensions, sympy + mpmath, networkx, jinja2 + markupsafe, fsspec,
# setuptools; import itself needs only typing-extensions, torch.optim needs
# sympy) plus numpy (torch warns at import without it), and then
# bench/peer_cuda_stubs.py writes a few-KB stub for each missing CUDA
# library into torch/lib (C compiler needed). Checked at install:
# `LD_BIND_NOW=1` import (every symbol resolves), torch.cuda.is_available()
# False, a conv2d and a matmul against float64. The stubs take precedence over
# any CUDA toolkit of the machine (torch's RPATH), so the peer is the same CPU
# torch everywhere. PEER_TORCH_DEPS=full instead installs the wheel with all
# its dependencies, as plain `pip install torch` does (about 3 GB, 5+ GB on
# disk); same CPU code.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${PEER_VENV:-$root/.venv-bench}"
deps="${PEER_TORCH_DEPS:-stubs}"
want="${PEER_TORCH_VERSION:-}"
python=/usr/bin/python3
name="${venv#"$root"/}"

die() { echo "peer_venv: $*" >&2; exit 1; }
case "$deps" in stubs|full) ;; *) die "PEER_TORCH_DEPS must be stubs or full, not '$deps'" ;; esac
[ -x "$python" ] || die "$python not found (apt-get install python3)"
"$python" -c 'import venv, ensurepip' 2>/dev/null \
  || die "$python cannot create a virtual environment (apt-get install python3-venv)"
if [ "$deps" = stubs ]; then
  for t in "${CC:-cc}" readelf nm ldd; do
    command -v "$t" >/dev/null || die "'$t' not found: needed for the CUDA stubs (apt-get install build-essential binutils), or PEER_TORCH_DEPS=full"
  done
fi

vpy="$venv/bin/python"
marker="$venv/sgen-peer.txt"
pip_opts=(--disable-pip-version-check --no-input)
[ -n "${PEER_WHEEL_DIR:-}" ] && pip_opts+=(--find-links "$PEER_WHEEL_DIR")

have_version() {  # the venv's torch version without +local, or nothing
  if [ -x "$vpy" ]; then
    "$vpy" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true
  fi
}

[ -x "$vpy" ] || "$python" -m venv "$venv" || die "python3 -m venv $venv failed"
have="$(have_version)"

if [ -z "$want" ]; then
  # newest torch with a wheel for this python and platform
  index="$("$vpy" -m pip index versions torch "${pip_opts[@]}" 2>&1)" || true
  want="$(printf '%s\n' "$index" | sed -n 's/^torch (\([^)]*\)).*/\1/p' | head -1)"
  if [ -z "$want" ]; then
    printf '%s\n' "$index" | grep -v '^WARNING: pip index is currently' | tail -3 | sed 's/^/peer_venv: pip: /' >&2
    if [ -n "$have" ]; then
      echo "peer_venv: warning: PyPI unreachable (pip index versions torch failed); keeping torch $have in $name" >&2
      exit 0
    fi
    die "PyPI unreachable (pip index versions torch failed) and $name has no torch: the benchmarks compare with Debian's torch only"
  fi
fi

if [ "$have" = "$want" ] && [ "$(cat "$marker" 2>/dev/null)" = "torch=$want deps=$deps" ]; then
  echo "peer_venv: torch $have in $name (current)"
  exit 0
fi

echo "peer_venv: installing torch $want in $name (deps: $deps)${have:+, replacing torch $have}"
rm -f "$marker"
if [ -n "$have" ]; then
  "$python" -m venv --clear "$venv" || die "python3 -m venv --clear $venv failed"
fi
# safetensors too: spec/save_load_spec.lua checks with it that Python reads sgen's
# checkpoint files (the check is skipped where no interpreter has it)
if [ "$deps" = full ]; then
  "$vpy" -m pip install "${pip_opts[@]}" "torch==$want" numpy safetensors \
    || die "pip install torch==$want failed (PyPI unreachable?)"
else
  torch_opts=()  # a wheel of PEER_WHEEL_DIR rather than a download (pip prefers the index's copy)
  if [ -n "${PEER_WHEEL_DIR:-}" ] && compgen -G "$PEER_WHEEL_DIR/torch-$want-*.whl" >/dev/null; then
    torch_opts=(--no-index)
  fi
  "$vpy" -m pip install "${pip_opts[@]}" "${torch_opts[@]}" --no-deps "torch==$want" \
    || die "pip install --no-deps torch==$want failed (PyPI unreachable?)"
  # the declared dependencies but the CUDA ones (nvidia-*, cuda-*, triton) and the extras
  mapfile -t reqs < <("$vpy" - <<'EOF'
import re
from importlib.metadata import requires
for r in requires("torch") or []:
    name = re.match(r"[A-Za-z0-9._-]+", r).group(0).lower()
    if "extra ==" in r or re.match(r"(nvidia|cuda|triton)", name):
        continue
    print(r)
EOF
  )
  "$vpy" -m pip install "${pip_opts[@]}" --no-warn-conflicts "${reqs[@]}" numpy safetensors \
    || die "pip install of torch's dependencies failed (${reqs[*]} numpy safetensors)"
  site="$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')"
  "$vpy" "$here/peer_cuda_stubs.py" "$site/torch" || die "bench/peer_cuda_stubs.py failed"
fi

# every symbol resolves, CUDA is absent, the CPU kernels compute
LD_BIND_NOW=1 "$vpy" - <<'EOF' || die "the new torch does not work (see above); remove $name and retry"
import torch
assert not torch.cuda.is_available(), "CUDA should be unavailable"
g = torch.Generator().manual_seed(0)
x, w = torch.rand(2, 8, 12, 12, generator=g), torch.rand(16, 8, 3, 3, generator=g)
y = torch.nn.functional.conv2d(x, w, padding=1)
ref = torch.nn.functional.conv2d(x.double(), w.double(), padding=1)
assert (y.double() - ref).abs().max() < 1e-4, "conv2d"
a, b = torch.rand(64, 64, generator=g), torch.rand(64, 64, generator=g)
assert ((a @ b).double() - a.double() @ b.double()).abs().max() < 1e-3, "matmul"
EOF
echo "torch=$want deps=$deps" > "$marker"
echo "peer_venv: torch $("$vpy" -c 'import torch; print(torch.__version__)' 2>/dev/null) in $name ($(du -sh "$venv" | cut -f1))"
