# shellcheck shell=bash
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

# Summary tables shared by run_bench.sh, dip_step.sh and gan_step.sh. A row
# holds sgen's time, each peer's two runs (threads N; OPENBLAS_NUM_THREADS=1)
# with the ratio sgen / that run, then the best (fastest) torch run, the ratio
# sgen / best and which run it was. Rows are |-separated; bench_table aligns.
bench_summary_header() {  # FIRST_COLUMN UNIT
  local h="$1|sgen $2" i
  for i in "${!PEER_LABELS[@]}"; do h="$h|${PEER_LABELS[$i]} $2|ratio|OB=1 $2|ratio"; done
  echo "$h|best torch $2|ratio|best run"
}
bench_summary_row() {  # NAME PRINTF_FORMAT SGEN_VALUE then per peer: VALUE VALUE_OB1 ("" or nan: missing)
  local name="$1" fmt="$2" sgen="$3" i names=()
  shift 3
  for i in "${!PEER_LABELS[@]}"; do names+=("${PEER_LABELS[$i]%% *}" "${PEER_LABELS[$i]%% *} OB=1"); done
  awk -v name="$name" -v fmt="$fmt" -v a="$sgen" -v vals="$(IFS='|'; echo "$*")" \
    -v names="$(IFS='|'; echo "${names[*]}")" '
    function ok(x) { return x != "" && x != "nan" && x + 0 > 0 }
    function ms(x) { return ok(x) ? sprintf(fmt, x) : "n/a" }
    function ratio(x, y) { return ok(x) && ok(y) ? sprintf("%.2f", x / y) : "n/a" }
    BEGIN {
      n = split(vals, v, "|"); split(names, who, "|")
      row = name "|" ms(a); best = ""; bi = 0
      for (i = 1; i <= n; i++) {
        row = row "|" ms(v[i]) "|" ratio(a, v[i])
        if (ok(v[i]) && (best == "" || v[i] + 0 < best + 0)) { best = v[i]; bi = i }
      }
      print row "|" ms(best) "|" ratio(a, best) "|" (bi ? who[bi] : "n/a")
    }'
}
bench_table() {  # stdin: |-separated rows; the first column left-aligned, the others right-aligned
  awk -F'|' '
    { for (j = 1; j <= NF; j++) { cell[NR, j] = $j; if (length($j) > w[j]) w[j] = length($j) } if (NF > n) n = NF; r = NR }
    END { for (i = 1; i <= r; i++) { line = sprintf("%-" w[1] "s", cell[i, 1])
            for (j = 2; j <= n; j++) line = line sprintf("  %" w[j] "s", cell[i, j])
            print line } }'
}
bench_peers_describe() {  # one "#   peer ..." line per peer, for the --save headers
  local i
  for i in "${!PEER_PYTHONS[@]}"; do
    echo "#   peer ${PEER_LABELS[$i]}: ${PEER_PYTHONS[$i]}, torch $("${PEER_PYTHONS[$i]}" -c '
import re, torch
m = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
print(torch.__version__ + (", BLAS_INFO=" + m.group(1) if m else ""))' 2>/dev/null)"
  done
}
