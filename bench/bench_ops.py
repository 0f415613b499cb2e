#!/usr/bin/python3
"""PyTorch side of bench/bench_ops.c: the same ops, shapes and timing method
(warm-up, then the median of N runs). Run with Debian's interpreter (its
python3-torch: `bash scripts/install-deps.sh --bench`):

    /usr/bin/python3 bench/bench_ops.py [--threads N] [--reps N] [--only NAME]

Prints "RESULT <name> <median ms>" lines for bench/run_bench.sh.
"""
import argparse
import math
import time

import torch
import torch.nn.functional as F


def time_median(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    ts.sort()
    n = len(ts)
    med = ts[n // 2] if n % 2 else 0.5 * (ts[n // 2 - 1] + ts[n // 2])
    return med, ts[0]


def report(name, ms, mn, extra=""):
    print(f"{name:<22} median {ms:9.3f} ms  (min {mn:9.3f})  {extra}")
    print(f"RESULT {name} {ms:.4f}", flush=True)


def filled(*shape):
    g = torch.Generator()
    g.manual_seed(sum(shape))
    return torch.rand(*shape, generator=g) * 2 - 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=0)
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    def reps(n):
        return args.reps if args.reps > 0 else n

    def selected(name):
        return args.only is None or args.only in name or name in args.only

    print(f"torch bench_ops: {torch.get_num_threads()} threads; torch {torch.__version__}")

    if selected("sgemm_1024"):
        a, b = filled(1024, 1024), filled(1024, 1024)
        ms, mn = time_median(lambda: torch.mm(a, b), 2, reps(10))
        report("sgemm_1024", ms, mn, f"{2 * 1024**3 / (ms * 1e6):.1f} GFLOP/s")

    if selected("conv2d_3x3_128"):
        x = filled(8, 128, 64, 64)
        w = filled(128, 128, 3, 3) / math.sqrt(128 * 9)
        g = filled(8, 128, 64, 64)
        flops = 2.0 * 8 * 128 * 128 * 9 * 64 * 64
        if selected("conv2d_3x3_128_fwd"):
            def fwd():
                with torch.no_grad():
                    return F.conv2d(x, w, None, padding=1)
            ms, mn = time_median(fwd, 1, reps(5))
            report("conv2d_3x3_128_fwd", ms, mn, f"{flops / (ms * 1e6):.1f} GFLOP/s")
        if selected("conv2d_3x3_128_fwd_bwd"):
            x.requires_grad_(True)
            w.requires_grad_(True)

            def fwd_bwd():
                y = F.conv2d(x, w, None, padding=1)
                y.backward(g)
                x.grad = None
                w.grad = None
            ms, mn = time_median(fwd_bwd, 1, reps(5))
            report("conv2d_3x3_128_fwd_bwd", ms, mn,
                   f"{3 * flops / (ms * 1e6):.1f} GFLOP/s (3 convs' worth)")

    if selected("add_16M"):
        n = 16 << 20
        a, b = filled(n), filled(n)
        ms, mn = time_median(lambda: a + b, 3, reps(20))
        report("add_16M", ms, mn, f"{12.0 * n / (ms * 1e6):.2f} GB/s (3 x 4 B x 16M)")

    if selected("upsample_bilinear2x"):
        x = filled(8, 128, 64, 64)
        g = filled(8, 128, 128, 128)
        if selected("upsample_bilinear2x_fwd"):
            def up():
                with torch.no_grad():
                    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            ms, mn = time_median(up, 2, reps(10))
            report("upsample_bilinear2x_fwd", ms, mn)
        if selected("upsample_bilinear2x_fwd_bwd"):
            x.requires_grad_(True)

            def up_bwd():
                y = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
                y.backward(g)
                x.grad = None
            ms, mn = time_median(up_bwd, 2, reps(10))
            report("upsample_bilinear2x_fwd_bwd", ms, mn)


if __name__ == "__main__":
    main()
