# Sourced by the bench/*.sh scripts: the PyTorch builds sgen is compared with.
#   PEER_LABELS[i]   a short name for tables ("torch-deb", "torch-pypi")
#   PEER_PYTHONS[i]  the interpreter that imports that torch
# Debian's python3-torch (/usr/bin/python3) is always a peer. The newest
# PyTorch wheel from PyPI is one too once bench/peer_venv.sh has made
# .venv-bench/ (make bench does; it is never a dependency of sgen).
# BENCH_PEERS=deb limits the comparison to Debian's build.
# Every peer runs twice: with the script's thread count, and again with
# OPENBLAS_NUM_THREADS=1 (Debian's torch calls the pthread build of OpenBLAS,
# whose threads can fight torch's OpenMP threads); tables show both.
PEER_LABELS=()
PEER_PYTHONS=()
bench_peers_init() {
  local root="$1"
  if /usr/bin/python3 -c "import torch" 2>/dev/null; then
    PEER_LABELS+=("torch-deb $(/usr/bin/python3 -c 'import torch; print(torch.__version__.split("+")[0])')")
    PEER_PYTHONS+=(/usr/bin/python3)
  fi
  local venv="$root/.venv-bench/bin/python"
  if [ "${BENCH_PEERS:-all}" != deb ] && [ -x "$venv" ] && "$venv" -c "import torch" 2>/dev/null; then
    PEER_LABELS+=("torch-pypi $("$venv" -c 'import torch; print(torch.__version__.split("+")[0])')")
    PEER_PYTHONS+=("$venv")
  fi
  if [ ${#PEER_PYTHONS[@]} -eq 0 ]; then
    echo "bench: no python imports torch (apt-get install python3-torch, or bash bench/peer_venv.sh)" >&2
    return 1
  fi
}
