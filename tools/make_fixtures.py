#!/usr/bin/python3
"""PyTorch oracle fixtures for the sgen engine's C test (engine/tests/test_oracle.c).

Set-up: `bash scripts/install-deps.sh --bench` installs what this needs (Debian's
python3-torch, python3-numpy, python3-pil; building and testing sgen do not need them).
Run with Debian's interpreter, which has torch (CPU):

    /usr/bin/python3 tools/make_fixtures.py [OUT_DIR]

OUT_DIR defaults to engine/tests/fixtures next to this script. One
.safetensors file per op; each file holds one or more cases, keyed
"<case>.<name>":

  <case>.x, <case>.w, ...      inputs (float32; int64 class indices, 0-based)
  <case>.out                   forward output
  <case>.gout                  a random upstream gradient (float32)
  <case>.grad_x, .grad_w, ...  d sum(out * gout) / d input, by torch.autograd

Inputs are float32. References (outputs and gradients) are computed by
torch in float64 from those same float32 values and stored as float64, so
a test can check sgen in float32 (rounding of one side only) and in float64
(near-exact agreement). Op parameters are written into the file's
__metadata__ (as JSON text) for documentation; the C test states them too.

The sparsity projections have no PyTorch op: they are implemented below as
reference code with the semantics of ARCHITECTURE.md §3 (gradient through
the kept entries only). Their inputs have no ties in |x| and no |x| close
to a threshold.

The output is deterministic: same bytes on every run (fixed seeds, float64
CPU arithmetic, a safetensors writer with a fixed key order).
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write_safetensors  # noqa: E402

F32 = torch.float32
F64 = torch.float64


class Fixture:
    """Collects the cases of one op and writes them to one file."""

    def __init__(self, op):
        self.op = op
        self.items = []
        self.meta = {"op": op, "generator": "tools/make_fixtures.py",
                     "torch": torch.__version__.split("+")[0],
                     "convention": "inputs float32 (int64 indices 0-based); references "
                                   "computed by torch in float64 from the float32 inputs"}

    def add(self, case, name, t):
        self.items.append((f"{case}.{name}", t))

    def params(self, case, **kw):
        self.meta[f"{case}.params"] = json.dumps(kw, sort_keys=True)

    def write(self, out_dir):
        path = os.path.join(out_dir, self.op + ".safetensors")
        n = write_safetensors(path, self.items, self.meta)
        names = ", ".join(f"{k}{list(t.shape)}" for k, t in self.items)
        print(f"wrote {path} ({n} bytes): {names}")
        return n


def gen(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def randn32(g, *shape, scale=1.0):
    return (torch.randn(tuple(shape), generator=g, dtype=F64) * scale).to(F32)


def uniform32(g, lo, hi, *shape):
    return (lo + (hi - lo) * torch.rand(tuple(shape), generator=g, dtype=F64)).to(F32)


def run_case(fx, case, fn, inputs, grad_names, g, extra_outputs=None):
    """inputs: list of (name, float32 tensor, requires_grad). Stores the inputs,
    out = fn(*inputs in float64), gout and the gradients of the inputs that
    require grad. Returns the float64 output."""
    xs = []
    for name, t, rg in inputs:
        fx.add(case, name, t)
        x = t.to(F64) if t.is_floating_point() else t.clone()
        if rg:
            x.requires_grad_(True)
        xs.append(x)
    out = fn(*xs)
    fx.add(case, "out", out.detach())
    gout = randn32(g, *out.shape)
    fx.add(case, "gout", gout)
    wrt = [x for (name, t, rg), x in zip(inputs, xs) if rg]
    grads = torch.autograd.grad(out, wrt, gout.to(F64))
    for name, gr in zip(grad_names, grads):
        fx.add(case, name, gr.detach())
    if extra_outputs:
        for name, t in extra_outputs():
            fx.add(case, name, t.detach())
    return out


# ---------------------------------------------------------------- conv2d
def make_conv2d():
    fx = Fixture("conv2d")
    g = gen(101)
    # a: stride 2, padding 1, dilation 2, groups 2, bias
    x = randn32(g, 2, 4, 9, 8)
    w = randn32(g, 6, 2, 3, 3, scale=0.5)
    b = randn32(g, 6)
    fx.params("a", stride=[2, 2], padding=[1, 1], dilation=[2, 2], groups=2, bias=True)
    run_case(fx, "a", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=2, groups=2),
             [("x", x, True), ("w", w, True), ("b", b, True)], ["grad_x", "grad_w", "grad_b"], g)
    # b: non-square kernel, stride (1,2), padding (1,0), no bias
    x = randn32(g, 2, 3, 6, 7)
    w = randn32(g, 5, 3, 3, 2, scale=0.5)
    fx.params("b", stride=[1, 2], padding=[1, 0], dilation=[1, 1], groups=1, bias=False)
    run_case(fx, "b", lambda x, w: F.conv2d(x, w, None, stride=(1, 2), padding=(1, 0)),
             [("x", x, True), ("w", w, True)], ["grad_x", "grad_w"], g)
    # c: double backward (what WGAN-GP needs). With case a's options:
    # gx = d sum(conv(x,w,b) * gout)/dx; then gradients of sum(gx * v) w.r.t. x and w.
    x = randn32(g, 1, 4, 6, 6)
    w = randn32(g, 4, 2, 3, 3, scale=0.5)
    b = randn32(g, 4)
    fx.params("c", stride=[2, 2], padding=[1, 1], dilation=[1, 1], groups=2, bias=True,
              note="gg_x, gg_w: d sum(grad_x * v) / d (x, w) where grad_x = d sum(out*gout)/dx")
    x64 = x.to(F64).requires_grad_(True)
    w64 = w.to(F64).requires_grad_(True)
    b64 = b.to(F64).requires_grad_(True)
    out = F.conv2d(x64, w64, b64, stride=2, padding=1, groups=2)
    gout = randn32(g, *out.shape)
    gx, = torch.autograd.grad(out, x64, gout.to(F64), create_graph=True)
    v = randn32(g, *gx.shape)
    ggx, ggw = torch.autograd.grad(gx, [x64, w64], v.to(F64), allow_unused=True)
    if ggx is None:  # conv is linear in x: d grad_x / d x = 0
        ggx = torch.zeros_like(x64)
    for k, t in [("x", x), ("w", w), ("b", b), ("out", out), ("gout", gout), ("grad_x", gx),
                 ("v", v), ("gg_x", ggx), ("gg_w", ggw)]:
        fx.add("c", k, t.detach())
    return fx


def make_conv_transpose2d():
    fx = Fixture("conv_transpose2d")
    g = gen(102)
    # a: stride 2, padding 1, output_padding 1, groups 2, bias
    x = randn32(g, 2, 4, 5, 4)
    w = randn32(g, 4, 3, 3, 3, scale=0.5)  # Cin x Cout/groups x kh x kw -> Cout = 6
    b = randn32(g, 6)
    fx.params("a", stride=[2, 2], padding=[1, 1], output_padding=[1, 1], dilation=[1, 1],
              groups=2, bias=True)
    run_case(fx, "a", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                         output_padding=1, groups=2),
             [("x", x, True), ("w", w, True), ("b", b, True)], ["grad_x", "grad_w", "grad_b"], g)
    # b: stride 2, padding (0,1), output_padding (1,0), dilation 2, kernel 4x3, no bias
    x = randn32(g, 1, 3, 4, 5)
    w = randn32(g, 3, 2, 4, 3, scale=0.5)
    fx.params("b", stride=[2, 2], padding=[0, 1], output_padding=[1, 0], dilation=[2, 2],
              groups=1, bias=False)
    run_case(fx, "b", lambda x, w: F.conv_transpose2d(x, w, None, stride=2, padding=(0, 1),
                                                      output_padding=(1, 0), dilation=2),
             [("x", x, True), ("w", w, True)], ["grad_x", "grad_w"], g)
    return fx


# ------------------------------------------------------------ batch_norm
def make_batch_norm():
    fx = Fixture("batch_norm")
    g = gen(103)
    x = randn32(g, 4, 3, 5, 5, scale=2.0) + torch.tensor([0.5, -1.0, 3.0]).view(1, 3, 1, 1)
    w = uniform32(g, 0.5, 1.5, 3)
    b = randn32(g, 3)
    rm = randn32(g, 3, scale=0.1)
    rv = uniform32(g, 0.5, 2.0, 3)
    # train: batch statistics, running stats updated in place (unbiased var)
    fx.params("train", training=True, momentum=0.1, eps=1e-5,
              note="rm/rv are the running stats before; rm_after/rv_after after the update")
    rm64, rv64 = rm.to(F64), rv.to(F64)
    run_case(fx, "train",
             lambda x, w, b: F.batch_norm(x, rm64, rv64, w, b, training=True, momentum=0.1,
                                          eps=1e-5),
             [("x", x, True), ("w", w, True), ("b", b, True)], ["grad_x", "grad_w", "grad_b"], g,
             extra_outputs=lambda: [("rm", rm), ("rv", rv), ("rm_after", rm64),
                                    ("rv_after", rv64)])
    # eval: running statistics
    fx.params("eval", training=False, momentum=0.1, eps=1e-5)
    rm64, rv64 = rm.to(F64), rv.to(F64)
    run_case(fx, "eval",
             lambda x, w, b: F.batch_norm(x, rm64, rv64, w, b, training=False, momentum=0.1,
                                          eps=1e-5),
             [("x", x, True), ("w", w, True), ("b", b, True)], ["grad_x", "grad_w", "grad_b"], g,
             extra_outputs=lambda: [("rm", rm), ("rv", rv)])
    return fx


# ----------------------------------------------------------- interpolate
def make_interpolate():
    fx = Fixture("interpolate_bilinear")
    g = gen(104)
    x = randn32(g, 2, 3, 4, 5)
    cases = [
        # name, kwargs, (out_h, out_w), scale passed to sgen (0 = from sizes)
        ("up2", dict(scale_factor=2, align_corners=False), (8, 10), 2.0),
        ("up2_ac", dict(scale_factor=2, align_corners=True), (8, 10), 2.0),
        ("size", dict(size=(7, 9), align_corners=False), (7, 9), 0.0),
        ("size_ac", dict(size=(7, 9), align_corners=True), (7, 9), 0.0),
        ("down", dict(size=(3, 3), align_corners=False), (3, 3), 0.0),
        ("scale17", dict(scale_factor=1.7, align_corners=False), (6, 8), 1.7),
    ]
    for name, kw, size, scale in cases:
        fx.params(name, mode="bilinear", out_h=size[0], out_w=size[1],
                  align_corners=kw["align_corners"], scale=scale, torch_kwargs=str(kw))
        out = run_case(fx, name, lambda x, kw=kw: F.interpolate(x, mode="bilinear", **kw),
                       [("x", x, True)], ["grad_x"], g)
        assert tuple(out.shape[2:]) == size, (name, out.shape)
    return fx


# ------------------------------------------------------------------- pad
def make_pad():
    fx = Fixture("pad_reflect")
    g = gen(105)
    x = randn32(g, 2, 3, 5, 6)
    # PyTorch order: (left, right, top, bottom)
    for name, pads in [("a", (2, 1, 1, 3)), ("b", (0, 5, 4, 0))]:
        fx.params(name, mode="reflect", pads=list(pads))
        run_case(fx, name, lambda x, pads=pads: F.pad(x, pads, mode="reflect"),
                 [("x", x, True)], ["grad_x"], g)
    return fx


# ---------------------------------------------------------------- matmul
def make_matmul():
    fx = Fixture("matmul")
    g = gen(106)
    shapes = [("mm", (5, 7), (7, 4)),
              ("bcast", (2, 1, 3, 5), (4, 5, 6)),
              ("mv", (3, 5), (5,)),
              ("vm", (5,), (2, 5, 3))]
    for name, sa, sb in shapes:
        a = randn32(g, *sa)
        b = randn32(g, *sb)
        fx.params(name, a=list(sa), b=list(sb))
        run_case(fx, name, torch.matmul, [("a", a, True), ("b", b, True)],
                 ["grad_a", "grad_b"], g)
    return fx


# --------------------------------------------------------- cross_entropy
def make_cross_entropy():
    fx = Fixture("cross_entropy")
    g = gen(107)
    # a: N x C, class weights, ignore_index 2, mean
    logits = randn32(g, 8, 5, scale=2.0)
    target = torch.tensor([0, 2, 4, 1, 2, 3, 4, 0], dtype=torch.int64)
    weight = uniform32(g, 0.5, 2.0, 5)
    fx.params("a", reduction="mean", ignore_index=2, label_smoothing=0.0, weight=True)
    fx.add("a", "target", target)
    fx.add("a", "weight", weight)
    run_case(fx, "a", lambda x: F.cross_entropy(x, target, weight.to(F64), ignore_index=2,
                                                reduction="mean"),
             [("logits", logits, True)], ["grad_logits"], g)
    # b: N x C x H x W, weight, default ignore_index (-100, one entry), sum
    logits = randn32(g, 2, 4, 3, 3, scale=2.0)
    target = torch.randint(0, 4, (2, 3, 3), generator=g, dtype=torch.int64)
    target[1, 2, 0] = -100
    weight = uniform32(g, 0.5, 2.0, 4)
    fx.params("b", reduction="sum", ignore_index=-100, label_smoothing=0.0, weight=True)
    fx.add("b", "target", target)
    fx.add("b", "weight", weight)
    run_case(fx, "b", lambda x: F.cross_entropy(x, target, weight.to(F64), reduction="sum"),
             [("logits", logits, True)], ["grad_logits"], g)
    # c: N x C, no weight, reduction none
    logits = randn32(g, 6, 3, scale=2.0)
    target = torch.tensor([2, 0, 1, 1, 0, 2], dtype=torch.int64)
    fx.params("c", reduction="none", ignore_index=-100, label_smoothing=0.0, weight=False)
    fx.add("c", "target", target)
    run_case(fx, "c", lambda x: F.cross_entropy(x, target, reduction="none"),
             [("logits", logits, True)], ["grad_logits"], g)
    # d: label smoothing 0.1 with weight and ignore_index 1, mean
    logits = randn32(g, 7, 4, scale=2.0)
    target = torch.tensor([3, 1, 0, 2, 1, 0, 3], dtype=torch.int64)
    weight = uniform32(g, 0.5, 2.0, 4)
    fx.params("d", reduction="mean", ignore_index=1, label_smoothing=0.1, weight=True)
    fx.add("d", "target", target)
    fx.add("d", "weight", weight)
    run_case(fx, "d", lambda x: F.cross_entropy(x, target, weight.to(F64), ignore_index=1,
                                                reduction="mean", label_smoothing=0.1),
             [("logits", logits, True)], ["grad_logits"], g)
    return fx


# ---------------------------------------------------------------- logdet
def make_logdet():
    fx = Fixture("logdet")
    g = gen(108)
    for name, batch, n in [("a", (3,), 4), ("b", (2, 2), 3), ("c", (), 5)]:
        m = torch.randn(*batch, n, n, generator=g, dtype=F64)
        a = (m @ m.transpose(-1, -2) + 0.5 * n * torch.eye(n, dtype=F64)).to(F32)
        a = ((a + a.transpose(-1, -2)) / 2).to(F32)  # exactly symmetric in float32
        assert torch.equal(a, a.transpose(-1, -2))
        fx.params(name, shape=list(a.shape), note="symmetric positive definite")
        run_case(fx, name, torch.logdet, [("a", a, True)], ["grad_a"], g)
    return fx


# ------------------------------------------------- sparsity projections
def no_tie_input(g, shape, lo=0.05, hi=3.0, avoid=()):
    """float32 values with distinct |x| (a shuffled grid of magnitudes),
    random signs, and no |x| within 0.02 of a value in `avoid`."""
    n = math.prod(shape)
    mags = torch.linspace(lo, hi, 4 * n, dtype=F64)
    keep = torch.ones_like(mags, dtype=torch.bool)
    for a in avoid:
        keep &= (mags - a).abs() > 0.02
    mags = mags[keep]
    pick = torch.randperm(mags.numel(), generator=g)[:n]
    m = mags[pick]
    sign = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).to(F64)
    x = (m * sign).to(F32).view(*shape)
    assert torch.unique(x.abs()).numel() == n
    return x


def ref_l0_mask(x, k):
    """Per sample (dim 0): keep the k largest |x| over all other dims; k >= 1 a
    count, 0 < k < 1 a fraction (rounded up, at least 1)."""
    flat = x.reshape(x.shape[0], -1)
    m = flat.shape[1]
    kk = int(k) if k >= 1 else max(1, math.ceil(k * m))
    idx = flat.abs().topk(kk, dim=1).indices
    mask = torch.zeros_like(flat, dtype=torch.bool).scatter(1, idx, True)
    return mask.view(x.shape)


def ref_l0inf_mask(x, k, dim):
    idx = x.abs().topk(k, dim=dim).indices
    return torch.zeros_like(x, dtype=torch.bool).scatter(dim, idx, True)


def make_sparse():
    fx = Fixture("sparse")
    g = gen(109)
    # l0_project, count k = 7 and fraction k = 0.1 (-> ceil(0.1 * 100) = 10)
    x = no_tie_input(g, (3, 4, 5, 5))
    for name, k in [("l0", 7.0), ("l0_frac", 0.1)]:
        mask = ref_l0_mask(x, k)
        fx.params(name, op="l0_project", k=k)
        run_case(fx, name, lambda x, mask=mask: x * mask, [("x", x, True)], ["grad_x"], g,
                 extra_outputs=lambda mask=mask: [("mask", mask)])
    # l0inf_project along channels (dim 1), k = 2; and along dim 2 (k = 3)
    x = no_tie_input(g, (2, 6, 4, 4))
    for name, k, dim in [("l0inf", 2, 1), ("l0inf_d2", 3, 2)]:
        mask = ref_l0inf_mask(x, k, dim)
        fx.params(name, op="l0inf_project", k=k, dim=dim)
        run_case(fx, name, lambda x, mask=mask: x * mask, [("x", x, True)], ["grad_x"], g,
                 extra_outputs=lambda mask=mask: [("mask", mask)])
    # soft / hard threshold with a scalar lambda = 0.75 (exact in float32)
    lam = 0.75
    x = no_tie_input(g, (2, 3, 4, 4), avoid=(lam,))
    fx.params("soft", op="soft_threshold", lam=lam)
    run_case(fx, "soft", lambda x: torch.sign(x) * torch.clamp(x.abs() - lam, min=0),
             [("x", x, True)], ["grad_x"], g)
    fx.params("hard", op="hard_threshold", lam=lam)
    run_case(fx, "hard", lambda x: x * (x.abs() > lam), [("x", x, True)], ["grad_x"], g)
    # soft threshold with a learnable per-channel lambda (1 x C x 1 x 1)
    lam_t = torch.tensor([0.25, 0.75, 1.5], dtype=F32).view(1, 3, 1, 1)
    x = no_tie_input(g, (2, 3, 4, 4), avoid=(0.25, 0.75, 1.5))
    fx.params("soft_t", op="soft_threshold_t", lam_shape=[1, 3, 1, 1])
    run_case(fx, "soft_t", lambda x, l: torch.sign(x) * torch.clamp(x.abs() - l, min=0),
             [("x", x, True), ("lam", lam_t, True)], ["grad_x", "grad_lam"], g)
    fx.params("hard_t", op="hard_threshold_t", lam_shape=[1, 3, 1, 1],
              note="gradient w.r.t. x only")
    run_case(fx, "hard_t", lambda x, l: x * (x.abs() > l),
             [("x", x, True), ("lam", lam_t, False)], ["grad_x"], g)
    return fx


# ------------------------------------------------- more ops (beyond the main list)
def make_pool():
    fx = Fixture("pool")
    g = gen(110)
    x = randn32(g, 2, 3, 7, 8)
    # max: kernel 3, stride 2, padding 1, ceil_mode; indices are flat in each H x W plane
    fx.params("max_a", kernel=[3, 3], stride=[2, 2], padding=[1, 1], dilation=[1, 1], ceil_mode=True)
    run_case(fx, "max_a", lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), [("x", x, True)],
             ["grad_x"], g,
             extra_outputs=lambda: [("indices", F.max_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                             return_indices=True)[1])])
    # max: kernel (2,3), stride (2,1), padding (1,1), dilation 2
    kw = dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 1), dilation=2)
    fx.params("max_b", kernel=[2, 3], stride=[2, 1], padding=[1, 1], dilation=[2, 2],
              ceil_mode=False)
    run_case(fx, "max_b", lambda x: F.max_pool2d(x, **kw), [("x", x, True)], ["grad_x"], g,
             extra_outputs=lambda: [("indices", F.max_pool2d(x, return_indices=True, **kw)[1])])
    # avg: kernel 3, stride 2, padding 1, ceil_mode, count_include_pad False
    fx.params("avg_a", kernel=[3, 3], stride=[2, 2], padding=[1, 1], ceil_mode=True,
              count_include_pad=False)
    run_case(fx, "avg_a", lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                 count_include_pad=False),
             [("x", x, True)], ["grad_x"], g)
    # avg: kernel (2,2), stride default, padding (1,0), count_include_pad True
    fx.params("avg_b", kernel=[2, 2], stride=[2, 2], padding=[1, 0], ceil_mode=False,
              count_include_pad=True)
    run_case(fx, "avg_b", lambda x: F.avg_pool2d(x, 2, padding=(1, 0)), [("x", x, True)],
             ["grad_x"], g)
    # adaptive average to 3 x 5 (windows overlap: 7 -> 3, 8 -> 5)
    fx.params("adaptive", out=[3, 5])
    run_case(fx, "adaptive", lambda x: F.adaptive_avg_pool2d(x, (3, 5)), [("x", x, True)],
             ["grad_x"], g)
    return fx


def make_norms():
    fx = Fixture("norms")
    g = gen(111)
    x = randn32(g, 4, 5, 6, scale=2.0) + 0.5
    w = uniform32(g, 0.5, 1.5, 5, 6)
    b = randn32(g, 5, 6)
    fx.params("layer", normalized_shape=[5, 6], eps=1e-5)
    run_case(fx, "layer", lambda x, w, b: F.layer_norm(x, (5, 6), w, b, eps=1e-5),
             [("x", x, True), ("w", w, True), ("b", b, True)], ["grad_x", "grad_w", "grad_b"], g)
    x = randn32(g, 2, 3, 5, 4, scale=2.0) + 1.0
    w = uniform32(g, 0.5, 1.5, 3)
    b = randn32(g, 3)
    rm = randn32(g, 3, scale=0.1)
    rv = uniform32(g, 0.5, 2.0, 3)
    rm64, rv64 = rm.to(F64), rv.to(F64)
    fx.params("instance", use_input_stats=True, momentum=0.1, eps=1e-5,
              note="running stats updated with the batch mean of the per-instance stats")
    run_case(fx, "instance",
             lambda x, w, b: F.instance_norm(x, rm64, rv64, w, b, use_input_stats=True,
                                             momentum=0.1, eps=1e-5),
             [("x", x, True), ("w", w, True), ("b", b, True)], ["grad_x", "grad_w", "grad_b"], g,
             extra_outputs=lambda: [("rm", rm), ("rv", rv), ("rm_after", rm64),
                                    ("rv_after", rv64)])
    return fx


def make_resample_extra():
    fx = Fixture("resample_extra")
    g = gen(112)
    x = randn32(g, 2, 3, 4, 5)
    fx.params("nearest_size", mode="nearest", out_h=7, out_w=9, scale=0.0)
    run_case(fx, "nearest_size", lambda x: F.interpolate(x, size=(7, 9), mode="nearest"),
             [("x", x, True)], ["grad_x"], g)
    fx.params("nearest_down", mode="nearest", out_h=3, out_w=2, scale=0.0)
    run_case(fx, "nearest_down", lambda x: F.interpolate(x, size=(3, 2), mode="nearest"),
             [("x", x, True)], ["grad_x"], g)
    fx.params("nearest_x2", mode="nearest", out_h=8, out_w=10, scale=2.0)
    run_case(fx, "nearest_x2", lambda x: F.interpolate(x, scale_factor=2, mode="nearest"),
             [("x", x, True)], ["grad_x"], g)
    fx.params("replicate", mode="replicate", pads=[2, 1, 1, 3])
    run_case(fx, "replicate", lambda x: F.pad(x, (2, 1, 1, 3), mode="replicate"),
             [("x", x, True)], ["grad_x"], g)
    fx.params("constant_crop", mode="constant", pads=[1, -1, 2, 0], value=0.5)
    run_case(fx, "constant_crop", lambda x: F.pad(x, (1, -1, 2, 0), mode="constant", value=0.5),
             [("x", x, True)], ["grad_x"], g)
    fx.params("pixel_shuffle", upscale=2)
    xs = randn32(g, 2, 8, 3, 2)
    run_case(fx, "pixel_shuffle", lambda x: F.pixel_shuffle(x, 2), [("x", xs, True)], ["grad_x"], g)
    return fx


def make_losses_extra():
    fx = Fixture("losses_extra")
    g = gen(113)
    x = randn32(g, 4, 3, scale=2.0)
    t = uniform32(g, 0.0, 1.0, 4, 3)
    w = uniform32(g, 0.5, 1.5, 3)
    pw = uniform32(g, 0.5, 3.0, 3)
    fx.params("bce", reduction="mean", weight=True, pos_weight=True)
    fx.add("bce", "target", t)
    fx.add("bce", "weight", w)
    fx.add("bce", "pos_weight", pw)
    run_case(fx, "bce", lambda x: F.binary_cross_entropy_with_logits(
        x, t.to(F64), w.to(F64), pos_weight=pw.to(F64)), [("x", x, True)], ["grad_x"], g)
    x = randn32(g, 3, 4, 5, scale=3.0)
    fx.params("log_softmax", dim=1)
    run_case(fx, "log_softmax", lambda x: F.log_softmax(x, dim=1), [("x", x, True)], ["grad_x"], g)
    fx.params("softmax", dim=-1)
    run_case(fx, "softmax", lambda x: F.softmax(x, dim=-1), [("x", x, True)], ["grad_x"], g)
    y = randn32(g, 3, 4, 5)
    fx.params("mse", reduction="mean")
    run_case(fx, "mse", lambda x, y: F.mse_loss(x, y), [("x", x, True), ("y", y, True)],
             ["grad_x", "grad_y"], g)
    fx.params("l1", reduction="sum")
    run_case(fx, "l1", lambda x, y: F.l1_loss(x, y, reduction="sum"),
             [("x", x, True), ("y", y, True)], ["grad_x", "grad_y"], g)
    return fx


def make_linalg_extra():
    fx = Fixture("linalg_extra")
    g = gen(114)
    m = torch.randn(2, 4, 4, generator=g, dtype=F64)
    a = (m @ m.transpose(-1, -2) + 2.0 * torch.eye(4, dtype=F64)).to(F32)
    a = ((a + a.transpose(-1, -2)) / 2).to(F32)
    # cholesky: torch's gradient assumes a symmetric input and returns a
    # symmetric gradient; feed the op sym(A) so any convention agrees.
    fx.params("cholesky", upper=False, note="input symmetrized inside: L = chol((A + A^T)/2)")
    run_case(fx, "cholesky", lambda a: torch.linalg.cholesky((a + a.transpose(-1, -2)) / 2),
             [("a", a, True)], ["grad_a"], g)
    a = (torch.randn(2, 3, 3, generator=g, dtype=F64) + 3.0 * torch.eye(3, dtype=F64)).to(F32)
    b = randn32(g, 2, 3, 2)
    fx.params("solve", a=[2, 3, 3], b=[2, 3, 2])
    run_case(fx, "solve", torch.linalg.solve, [("a", a, True), ("b", b, True)],
             ["grad_a", "grad_b"], g)
    fx.params("inv", a=[2, 3, 3])
    run_case(fx, "inv", torch.linalg.inv, [("a", a, True)], ["grad_a"], g)
    return fx


# ------------------------------------------ large cases (parallel / vectorized paths)
# Tiny fixtures only reach the kernels' serial paths (OpenMP thresholds are
# around 32K elements). The large cases use inputs defined by a formula that
# engine/tests/test_oracle.c reproduces bit for bit (formula_input), so only
# the references are stored, and of those only every SAMPLE-th element of the
# flattened tensor (as float64; whole when it has at most SAMPLE_MIN elements):
# enough to catch a wrong chunk, row or plane.
SAMPLE = 23
SAMPLE_MIN = 2048  # tensors up to this many elements are stored whole


def formula_input(seed, shape, scale=1.0):
    """splitmix64-style hash of (seed, flat index) -> odd multiples of 2^-24 in
    (-1, 1), exact in float32, never 0; times scale (a power of two)."""
    import numpy as np
    n = math.prod(shape)
    with np.errstate(over="ignore"):
        i = np.arange(n, dtype=np.uint64)
        z = (np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + i * np.uint64(0xBF58476D1CE4E5B9)
             + np.uint64(0x94D049BB133111EB))
        z ^= z >> np.uint64(31)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(29)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(32)
    m = (z >> np.uint64(40)).astype(np.float64)
    v = ((2.0 * m + 1.0) / 16777216.0 - 1.0) * scale
    return torch.from_numpy(v).to(F32).reshape(tuple(shape))


def formula_target(seed, shape, classes):
    x = formula_input(seed, shape).to(F64)
    return ((x + 1.0) * 0.5 * classes).floor().clamp(0, classes - 1).to(torch.int64)


def run_large(fx, case, fn, inputs, grad_names, gout_seed):
    """inputs: list of (name, seed, shape, scale, requires_grad). Stores
    samples of out and of the gradients; the inputs are not stored."""
    xs = []
    for name, seed, shape, scale, rg in inputs:
        x = formula_input(seed, shape, scale).to(F64)
        if rg:
            x.requires_grad_(True)
        xs.append(x)
    out = fn(*xs)
    gout = formula_input(gout_seed, tuple(out.shape)).to(F64)
    wrt = [x for (name, seed, shape, scale, rg), x in zip(inputs, xs) if rg]
    grads = torch.autograd.grad(out, wrt, gout) if wrt else []
    def sample(t):
        t = t.detach()
        return t.clone() if t.numel() <= SAMPLE_MIN else t.reshape(-1)[::SAMPLE].clone()
    fx.add(case, "out", sample(out))
    for name, gr in zip(grad_names, grads):
        fx.add(case, name, sample(gr))
    return xs, out


def check_no_tie_at_k(x, k, dim):
    """The k-th and (k+1)-th largest |x| along dim differ everywhere."""
    v = x.detach().abs().topk(k + 1, dim=dim).values
    assert bool((v.narrow(dim, k - 1, 1) != v.narrow(dim, k, 1)).all()), "tie at the k-th entry"


def make_large():
    fx = Fixture("large")
    fx.meta["sample"] = str(SAMPLE)
    fx.meta["sample_min"] = str(SAMPLE_MIN)
    fx.meta["note"] = ("inputs: formula_input(seed, shape, scale) (tools/make_fixtures.py, "
                       "test_oracle.c); stored: every %d-th flat element of out and the "
                       "gradients (whole up to %d elements), float64" % (SAMPLE, SAMPLE_MIN))
    fx.params("conv2d", x=[1, [2, 16, 24, 24], 1], w=[2, [32, 16, 3, 3], 0.125], b=[3, [32], 0.5],
              gout=4, stride=1, padding=1)
    run_large(fx, "conv2d", lambda x, w, b: F.conv2d(x, w, b, padding=1),
              [("x", 1, (2, 16, 24, 24), 1.0, True), ("w", 2, (32, 16, 3, 3), 0.125, True),
               ("b", 3, (32,), 0.5, True)], ["grad_x", "grad_w", "grad_b"], 4)
    fx.params("conv_transpose2d", x=[5, [2, 32, 12, 12], 1], w=[6, [32, 16, 4, 4], 0.125],
              gout=7, stride=2, padding=1)
    run_large(fx, "conv_transpose2d",
              lambda x, w: F.conv_transpose2d(x, w, None, stride=2, padding=1),
              [("x", 5, (2, 32, 12, 12), 1.0, True), ("w", 6, (32, 16, 4, 4), 0.125, True)],
              ["grad_x", "grad_w"], 7)
    fx.params("batch_norm", x=[8, [8, 16, 24, 24], 2], w=[9, [16], 1], b=[10, [16], 1], gout=11,
              training=True, momentum=0.1, eps=1e-5, running="zeros and ones before")
    rm = torch.zeros(16, dtype=F64)
    rv = torch.ones(16, dtype=F64)
    run_large(fx, "batch_norm",
              lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1,
                                           eps=1e-5),
              [("x", 8, (8, 16, 24, 24), 2.0, True), ("w", 9, (16,), 1.0, True),
               ("b", 10, (16,), 1.0, True)], ["grad_x", "grad_w", "grad_b"], 11)
    fx.add("batch_norm", "rm_after", rm)
    fx.add("batch_norm", "rv_after", rv)
    fx.params("bilinear2x", x=[12, [2, 16, 24, 24], 1], gout=13, align_corners=False, scale=2)
    run_large(fx, "bilinear2x",
              lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
              [("x", 12, (2, 16, 24, 24), 1.0, True)], ["grad_x"], 13)
    fx.params("max_pool2d", x=[14, [2, 16, 48, 48], 1], gout=15, kernel=3, stride=2, padding=1)
    xs, _ = run_large(fx, "max_pool2d", lambda x: F.max_pool2d(x, 3, 2, 1),
                      [("x", 14, (2, 16, 48, 48), 1.0, True)], ["grad_x"], 15)
    win = F.unfold(F.pad(xs[0].detach().view(-1, 1, 48, 48), (1, 1, 1, 1), value=-math.inf), 3,
                   stride=2).topk(2, dim=1).values
    assert bool((win[:, 0] != win[:, 1]).all()), "tie for a window's max"
    fx.params("l0_project", x=[16, [4, 16, 24, 24], 1], gout=17, k=0.05)
    xs, _ = run_large(fx, "l0_project", lambda x: x * ref_l0_mask(x.detach(), 0.05),
                      [("x", 16, (4, 16, 24, 24), 1.0, True)], ["grad_x"], 17)
    check_no_tie_at_k(xs[0].reshape(4, -1), math.ceil(0.05 * 16 * 24 * 24), 1)
    fx.params("l0inf_project", x=[18, [2, 64, 24, 24], 1], gout=19, k=4, dim=1)
    xs, _ = run_large(fx, "l0inf_project", lambda x: x * ref_l0inf_mask(x.detach(), 4, 1),
                      [("x", 18, (2, 64, 24, 24), 1.0, True)], ["grad_x"], 19)
    check_no_tie_at_k(xs[0], 4, 1)
    fx.params("soft_threshold", x=[20, [4, 16, 24, 24], 1], gout=21, lam=0.5)
    xs, _ = run_large(fx, "soft_threshold",
                      lambda x: torch.sign(x) * torch.clamp(x.abs() - 0.5, min=0),
                      [("x", 20, (4, 16, 24, 24), 1.0, True)], ["grad_x"], 21)
    assert bool((xs[0].detach().abs() != 0.5).all())
    fx.params("cross_entropy", logits=[22, [4096, 10], 4], target=[23, [4096], 10],
              weight=[24, [10], 1, "abs + 0.5"], gout=25, ignore_index=3, reduction="mean")
    target = formula_target(23, (4096,), 10)
    weight = (formula_input(24, (10,)).abs() + 0.5).to(F64)
    run_large(fx, "cross_entropy",
              lambda x: F.cross_entropy(x, target, weight, ignore_index=3),
              [("logits", 22, (4096, 10), 4.0, True)], ["grad_logits"], 25)
    fx.add("cross_entropy", "target_check", target[:SAMPLE * 4])  # the formula, spot-checked
    fx.params("log_softmax", x=[26, [128, 300], 8], gout=27, dim=1)
    run_large(fx, "log_softmax", lambda x: F.log_softmax(x, dim=1),
              [("x", 26, (128, 300), 8.0, True)], ["grad_x"], 27)
    fx.params("layer_norm", x=[28, [64, 600], 2], w=[29, [600], 1], b=[30, [600], 1], gout=31)
    run_large(fx, "layer_norm", lambda x, w, b: F.layer_norm(x, (600,), w, b),
              [("x", 28, (64, 600), 2.0, True), ("w", 29, (600,), 1.0, True),
               ("b", 30, (600,), 1.0, True)], ["grad_x", "grad_w", "grad_b"], 31)
    fx.add("formula", "check", formula_input(99, (16,), 1.0))  # spot check of the generator
    return fx


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "engine", "tests",
                                                                 "fixtures")
    out_dir = os.path.normpath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)  # float64 sums in a fixed order
    total = 0
    for make in [make_conv2d, make_conv_transpose2d, make_batch_norm, make_interpolate, make_pad,
                 make_matmul, make_cross_entropy, make_logdet, make_sparse, make_pool,
                 make_norms, make_resample_extra, make_losses_extra, make_linalg_extra,
                 make_large]:
        total += make().write(out_dir)
    print(f"total {total} bytes in {out_dir}")


if __name__ == "__main__":
    main()
