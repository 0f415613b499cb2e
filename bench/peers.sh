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

# Summary tables shared by the drivers. A row holds sgen's time, each peer's
# two runs (threads N; OPENBLAS_NUM_THREADS=1) with the ratio sgen / that run,
# then the best (fastest) torch run, the ratio sgen / best and which run it
# was. Rows are |-separated; bench_table aligns.
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
# shellcheck disable=SC2120  # N is optional
bench_table() {  # [N] stdin: |-separated rows; the first N columns (default 1) left-aligned, the others right-aligned
  awk -F'|' -v left="${1:-1}" '
    { for (j = 1; j <= NF; j++) { cell[NR, j] = $j; if (length($j) > w[j]) w[j] = length($j) } if (NF > n) n = NF; r = NR }
    END { for (i = 1; i <= r; i++) { line = ""
            for (j = 1; j <= n; j++) line = line (j > 1 ? "  " : "") sprintf("%" (j <= left ? "-" : "") w[j] "s", cell[i, j])
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

# ---- The drivers' shared plumbing. A driver sources this file, calls
# bench_paths, sets its defaults, parses its options with bench_parse_args (the
# driver's usage function is called on an unknown option or a missing value),
# calls bench_prepare, defines run and ends with bench_main NAME "$save" run "$@".
# The functions read and set the globals here, root, build_arg, build, tmp,
# threads and bench_script.
bench_paths() {  # here (bench/), root, build_arg (BUILD, default build), build (its absolute path), bench_script (the driver's name)
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  root="$(cd "$here/.." && pwd)"
  build_arg="${BUILD:-build}"
  build="$build_arg"
  case "$build" in /*) ;; *) build="$root/$build" ;; esac
  bench_script="$(basename "$0" .sh)"
}
bench_parse_args() {  # SPEC ARGS...: SPEC lists the options: "name" (--name VALUE sets $name, - read as _), "name:var" (sets $var), "name!" (the flag --name sets $name=1)
  local _spec="$1" _s _opt _var _flag _found
  shift
  while [ $# -gt 0 ]; do
    _found=0
    for _s in $_spec; do
      _flag=0
      case "$_s" in *!) _flag=1; _s="${_s%!}" ;; esac
      _opt="${_s%%:*}"
      _var="${_opt//-/_}"
      case "$_s" in *:*) _var="${_s#*:}" ;; esac
      [ "$1" = "--$_opt" ] || continue
      if [ "$_flag" = 1 ]; then
        printf -v "$_var" 1
        shift
      else
        [ $# -ge 2 ] || usage
        printf -v "$_var" '%s' "$2"
        shift 2
      fi
      _found=1
      break
    done
    [ "$_found" = 1 ] || usage
  done
}
bench_need_uints() {  # VALUE...: exits 2 unless every VALUE is a non-negative integer
  local v
  for v in "$@"; do
    case "$v" in ''|*[!0-9]*) echo "$bench_script: '$v' is not a non-negative integer" >&2; exit 2 ;; esac
  done
}
bench_prepare() {  # TARGET FILE: the peers (bench_peers_init); $build/FILE, built (CMake target TARGET) when missing; $tmp, removed at exit
  bench_peers_init "$root" || exit 1
  if [ ! -x "$build/$2" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j "$(nproc)" --target "$1"
  fi
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
}

# One comparison: bench_sgen_run, bench_torch_runs, bench_check_params, then
# bench_summary_of in the summary. KEY names the outputs: $tmp/sgen-KEY.txt,
# $tmp/torchI-KEY.txt and $tmp/torchI-ob1-KEY.txt (peer I, both runs).
bench_field() {  # FILE KEY: the value of " KEY=..." on the last line of FILE that has one
  sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1" | tail -1
}
# shellcheck disable=SC2154  # threads: the driver's
bench_sgen_run() {  # KEY SCRIPT ARG...: OMP_NUM_THREADS=$threads bin/sgen run bench/SCRIPT ARG... in $root, the command echoed first
  local key="$1" script="$2"
  shift 2
  echo "\$ OMP_NUM_THREADS=$threads $build_arg/bin/sgen run bench/$script $*"
  (cd "$root" && OMP_NUM_THREADS=$threads "$build/bin/sgen" run "bench/$script" "$@") | tee "$tmp/sgen-$key.txt"
}
# shellcheck disable=SC2154  # threads: the driver's
bench_torch_runs() {  # KEY SCRIPT ARG...: every peer runs bench/SCRIPT ARG... with OMP_NUM_THREADS=$threads, then with OPENBLAS_NUM_THREADS=1 too, each command echoed first
  local key="$1" script="$2" i py
  shift 2
  for i in "${!PEER_PYTHONS[@]}"; do
    py="${PEER_PYTHONS[$i]}"
    echo "\$ OMP_NUM_THREADS=$threads $py bench/$script $*    # ${PEER_LABELS[$i]}"
    OMP_NUM_THREADS=$threads "$py" "$here/$script" "$@" | tee "$tmp/torch$i-$key.txt"
    echo "\$ OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads $py bench/$script $*    # ${PEER_LABELS[$i]}"
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads "$py" "$here/$script" "$@" | tee "$tmp/torch$i-ob1-$key.txt"
  done
}
bench_check_params() {  # KEY NAME PARAM...: each PARAM=... of sgen's run against every torch run; a difference is reported (NAME: the row) and touches $tmp/mismatch
  local key="$1" name="$2" i f p a b
  shift 2
  for i in "${!PEER_PYTHONS[@]}"; do
    for f in "$tmp/torch$i-$key.txt" "$tmp/torch$i-ob1-$key.txt"; do
      for p in "$@"; do
        a="$(bench_field "$tmp/sgen-$key.txt" "$p")"
        b="$(bench_field "$f" "$p")"
        if [ "$a" != "$b" ]; then
          echo "$bench_script: $name: $p differs: sgen $a, ${PEER_LABELS[$i]} $b" >&2
          touch "$tmp/mismatch"
        fi
      done
    done
  done
}
bench_summary_of() {  # ROW PRINTF_FORMAT KEY FIELD: bench_summary_row of FIELD=... in the outputs of KEY
  local i vals=()
  for i in "${!PEER_PYTHONS[@]}"; do
    vals+=("$(bench_field "$tmp/torch$i-$3.txt" "$4")" "$(bench_field "$tmp/torch$i-ob1-$3.txt" "$4")")
  done
  bench_summary_row "$1" "$2" "$(bench_field "$tmp/sgen-$3.txt" "$4")" "${vals[@]}"
}

# --save
bench_save_header() {  # NAME COMMAND: the header of a saved run (date, git, command, machine, sgen, peers, environment, load)
  echo "# $1, $(date -u '+%F %T UTC'), git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "# command: $2"
  echo "# machine:"
  echo "#   model: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  lscpu | grep -E '^(Architecture|CPU\(s\)|Thread\(s\) per core|Core\(s\) per socket|Socket\(s\)|L2 cache|L3 cache)' \
    | sed 's/^/#   /'
  echo "#   nproc: $(nproc)"
  echo "#   memory: $(free -h | awk '/^Mem:/ {print $2}') total"
  if [ -x "$build/bin/sgen" ]; then
    echo "#   sgen: $("$build/bin/sgen" info 2>/dev/null | grep -E 'BLAS|oneDNN|build type' | sed 's/^ *//; s/  */ /g' | paste -sd ';' -)"
  fi
  bench_peers_describe
  echo "#   environment: $(env | grep -E '^(OMP_|OPENBLAS_|GOMP_|MKL_|SGEN_NUM_THREADS|BENCH_PEERS)' | sort | paste -sd ' ' - || true)"
  echo "#   load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
}
bench_run_saved() {  # NAME COMMAND FN: FN's output (stdout and stderr), after bench_save_header and with the load average after it, also into bench/results/<date>-NAME.txt
  local out
  mkdir -p "$here/results"
  out="$here/results/$(date +%F)-$1.txt"
  {
    bench_save_header "$1" "$2"
    echo
    "$3"
    echo
    echo "# load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  } 2>&1 | tee "$out"
  echo "$bench_script: wrote $out"
}
bench_main() {  # NAME SAVE FN ARGS...: FN; with SAVE=1 through bench_run_saved (ARGS: the driver's arguments, for the header's command line)
  local name="$1" save="$2" fn="$3"
  shift 3
  if [ "$save" = 1 ]; then
    bench_run_saved "$name" "BUILD=$build_arg bash bench/$bench_script.sh $*" "$fn"
  else
    "$fn"
  fi
}
