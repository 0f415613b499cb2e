#!/usr/bin/env bash
# sgen against PyTorch eager on the same GPU, in the same command: one Deep
# Image Prior iteration at 256x256 and 512x512 (bench/dip_step.lua against
# bench/dip_step.py, models/unet_dip.lua's network) and one DCGAN training
# step, batch 64, 32x32 (bench/gpu_dcgan_step.lua against
# bench/gpu_dcgan_step.py, models/dcgan.lua). Prints the GPU (nvidia-smi), the
# date, the command, both sides' versions, every raw result line, then ms per
# iteration and the ratio sgen / torch (<= 1.0: sgen as fast or faster).
#
# Both sides compute in full float32: TF32 off for matmul AND convolutions
# (sgen's default; PyTorch's default leaves cuDNN convolutions in TF32, so
# torch runs with torch.backends.cudnn.allow_tf32 = False here); --tf32 turns
# it on for both. PyTorch runs twice: eager as it comes (cudnn.benchmark off)
# and with cudnn.benchmark on (an algorithm search per shape, as sgen's cached
# cuDNN choice); the target ratio is against the first.
#
#   bash bench/gpu_bench.sh [--sgen PATH] [--python PY] [--device cuda|cpu]
#        [--sizes "256 512"] [--dip-iters N] [--dcgan-iters N] [--warmup N]
#        [--tf32] [--no-torch-benchmark] [--tiny] [--out FILE]
#
# --sgen: the sgen executable (default $SGEN_BIN, else $BUILD/bin/sgen with
# BUILD=build). --python: the Python with torch (default $PYTHON, else
# python3). --tiny: small networks and sizes, for checking the script on a CPU
# (--device cpu --tiny). --out FILE: also write everything to FILE.
# Environment for the sgen runs only: SGEN_LD_LIBRARY_PATH (prepended to
# LD_LIBRARY_PATH; the Python runs keep the environment they were given).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cmdline="bash bench/gpu_bench.sh $*"
sgen="${SGEN_BIN:-}"
python="${PYTHON:-python3}"
device=cuda
sizes="256 512"
dip_iters=""
dcgan_iters=50
warmup=""
tf32=0
torch_bench=1
tiny=0
out=""
usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --sgen) [ $# -ge 2 ] || usage; sgen="$2"; shift 2 ;;
    --python) [ $# -ge 2 ] || usage; python="$2"; shift 2 ;;
    --device) [ $# -ge 2 ] || usage; device="$2"; shift 2 ;;
    --sizes) [ $# -ge 2 ] || usage; sizes="$2"; shift 2 ;;
    --dip-iters) [ $# -ge 2 ] || usage; dip_iters="$2"; shift 2 ;;
    --dcgan-iters) [ $# -ge 2 ] || usage; dcgan_iters="$2"; shift 2 ;;
    --warmup) [ $# -ge 2 ] || usage; warmup="$2"; shift 2 ;;
    --tf32) tf32=1; shift ;;
    --no-torch-benchmark) torch_bench=0; shift ;;
    --tiny) tiny=1; shift ;;
    --out) [ $# -ge 2 ] || usage; out="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "gpu_bench: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$device" in cpu|cuda) ;; *) echo "gpu_bench: --device must be cpu or cuda" >&2; exit 2 ;; esac
for v in $sizes $dip_iters $dcgan_iters $warmup; do
  case "$v" in ''|*[!0-9]*) echo "gpu_bench: '$v' is not a non-negative integer" >&2; exit 2 ;; esac
done
if [ -z "$sgen" ]; then
  b="${BUILD:-build}"
  case "$b" in /*) ;; *) b="$root/$b" ;; esac
  sgen="$b/bin/sgen"
fi
if [ ! -x "$sgen" ]; then
  echo "gpu_bench: no sgen executable at $sgen (build it, or give --sgen PATH / SGEN_BIN)" >&2
  exit 1
fi
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "gpu_bench: $python cannot import torch (give --python PY)" >&2
  exit 1
fi

# Network sizes: the benchmark's, or tiny ones for a CPU check.
if [ "$tiny" = 1 ]; then
  dip_net="--channels 8 --scales 3"
  dcgan_net="--batch 4 --ngf 8 --ndf 8"
  [ "$sizes" = "256 512" ] && sizes="40"
  : "${dip_iters:=2}" "${warmup:=1}"
  [ "$dcgan_iters" = 50 ] && dcgan_iters=2
else
  dip_net="--channels 128 --scales 5"
  dcgan_net="--batch 64 --ngf 64 --ndf 64"
fi
# the same settings as sgen options (--key=value)
dip_net_lua="$(echo "$dip_net" | sed 's/--\([a-z]*\) \([0-9]*\)/--\1=\2/g')"
dcgan_net_lua="$(echo "$dcgan_net" | sed 's/--\([a-z]*\) \([0-9]*\)/--\1=\2/g')"
dcgan_warmup="${warmup:-5}"
warmup="${warmup:-3}"
tf32_lua=""; tf32_py=""; tf32_flag=False
if [ "$tf32" = 1 ]; then tf32_lua="--tf32"; tf32_py="--tf32"; tf32_flag=True; fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# sgen with its libraries; Python with the environment it came with.
run_sgen() { (cd "$root" && LD_LIBRARY_PATH="${SGEN_LD_LIBRARY_PATH:+$SGEN_LD_LIBRARY_PATH:}${LD_LIBRARY_PATH:-}" "$sgen" run "$@"); }
run_py() { (cd "$root" && PYTHONUNBUFFERED=1 "$python" "$@"); }

# dip_step.py with the TF32 and cudnn.benchmark settings made first
# (dip_step.py itself leaves PyTorch's defaults).
py_dip() {
  local bench_flag="$1"; shift
  run_py -c "
import runpy, sys, torch
torch.backends.cuda.matmul.allow_tf32 = $tf32_flag
torch.backends.cudnn.allow_tf32 = $tf32_flag
torch.backends.cudnn.benchmark = $bench_flag
sys.argv = ['bench/dip_step.py'] + sys.argv[1:]
runpy.run_path('bench/dip_step.py', run_name='__main__')
" "$@"
}

# ms_per_iter=... of a result line
ms_of() { [ -f "$1" ] && sed -n 's/.*ms_per_iter=\([0-9.]*\).*/\1/p' "$1" | tail -1 || true; }

# Runs "$@" printing the command first; its output goes to the screen and
# to $tmp/$name. A failure is reported and the benchmark goes on.
step() {
  local name="$1" shown="$2"; shift 2
  echo "\$ $shown"
  if ! "$@" > "$tmp/$name" 2>&1; then
    echo "FAILED (exit status $?): $shown" >> "$tmp/$name"
  fi
  cat "$tmp/$name"
}

header() {
  echo "# gpu_bench, $(date -u '+%F %T UTC')"
  echo "# command: $cmdline"
  echo "# directory: $root (git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo 'n/a'))"
  echo "# host: $(uname -nm), $(nproc --all) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
  if command -v nvidia-smi >/dev/null 2>&1; then
    echo "# nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv,noheader 2>&1 | paste -sd ';' -)"
  else
    echo "# nvidia-smi: not found"
  fi
  echo "# sgen: $sgen"
  LD_LIBRARY_PATH="${SGEN_LD_LIBRARY_PATH:+$SGEN_LD_LIBRARY_PATH:}${LD_LIBRARY_PATH:-}" "$sgen" info 2>&1 | sed 's/^/#   /'
  echo "# torch: $("$python" -c '
import torch
cuda = torch.cuda.is_available()
print(torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version(),
      "device", torch.cuda.get_device_name(0) if cuda else "none")' 2>&1 | tail -1)"
  echo "# device=$device tf32=$tf32 (both sides); warm-up then mean of the timed iterations"
  echo
}

run_all() {
  header
  local s it
  for s in $sizes; do
    it="${dip_iters:-$([ "$s" -ge 512 ] && echo 10 || echo 20)}"
    echo "== DIP iteration ${s}x${s}"
    step "sgen-dip-$s" "sgen run bench/dip_step.lua --device=$device --size=$s --iters=$it --warmup=$warmup $tf32_lua $dip_net_lua" \
      run_sgen bench/dip_step.lua --device="$device" --size="$s" --iters="$it" --warmup="$warmup" $tf32_lua $dip_net_lua
    step "torch-dip-$s" "$python bench/dip_step.py --device $device --size $s --iters $it --warmup $warmup $dip_net (cudnn.allow_tf32=$tf32_flag, cudnn.benchmark=False)" \
      py_dip False --device "$device" --size "$s" --iters "$it" --warmup "$warmup" $dip_net
    if [ "$torch_bench" = 1 ]; then
      step "torchb-dip-$s" "$python bench/dip_step.py --device $device --size $s --iters $it --warmup $warmup $dip_net (cudnn.allow_tf32=$tf32_flag, cudnn.benchmark=True)" \
        py_dip True --device "$device" --size "$s" --iters "$it" --warmup "$warmup" $dip_net
    fi
    echo
  done
  echo "== DCGAN training step (32x32)"
  step "sgen-dcgan" "sgen run bench/gpu_dcgan_step.lua --device=$device --iters=$dcgan_iters --warmup=$dcgan_warmup $tf32_lua $dcgan_net_lua" \
    run_sgen bench/gpu_dcgan_step.lua --device="$device" --iters="$dcgan_iters" --warmup="$dcgan_warmup" $tf32_lua $dcgan_net_lua
  step "torch-dcgan" "$python bench/gpu_dcgan_step.py --device $device --iters $dcgan_iters --warmup $dcgan_warmup $tf32_py $dcgan_net" \
    run_py bench/gpu_dcgan_step.py --device "$device" --iters "$dcgan_iters" --warmup "$dcgan_warmup" $tf32_py $dcgan_net
  if [ "$torch_bench" = 1 ]; then
    step "torchb-dcgan" "$python bench/gpu_dcgan_step.py --device $device --iters $dcgan_iters --warmup $dcgan_warmup $tf32_py $dcgan_net --cudnn_benchmark" \
      run_py bench/gpu_dcgan_step.py --device "$device" --iters "$dcgan_iters" --warmup "$dcgan_warmup" $tf32_py $dcgan_net --cudnn_benchmark
  fi
  echo
  echo "== summary (ms per iteration; ratio = sgen / torch, <= 1.0: sgen as fast or faster)"
  printf "%-14s %12s %12s %8s   %16s %8s\n" "benchmark" "sgen" "torch eager" "ratio" "torch cudnn.bm" "ratio"
  local name
  for name in $(for s in $sizes; do echo "dip-$s"; done) dcgan; do
    awk -v name="$name" -v a="$(ms_of "$tmp/sgen-$name")" -v b="$(ms_of "$tmp/torch-$name")" \
      -v c="$(ms_of "$tmp/torchb-$name")" '
      function ratio(x, y) { return (x == "" || y == "" || y + 0 == 0) ? "n/a" : sprintf("%.2f", x / y) }
      function ms(x) { return x == "" ? "n/a" : sprintf("%.2f", x) }
      BEGIN { printf "%-14s %12s %12s %8s   %16s %8s\n", name, ms(a), ms(b), ratio(a, b), ms(c), ratio(a, c) }'
  done
  echo "# finished $(date -u '+%F %T UTC')"
}

if [ -n "$out" ]; then
  mkdir -p "$(dirname "$out")"
  run_all 2>&1 | tee "$out"
else
  run_all
fi
