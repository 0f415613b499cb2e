#!/usr/bin/python3
"""PyTorch fixtures for sgen's functional ops (spec/functional_spec.lua).

Set-up: `bash scripts/install-deps.sh --bench` installs what this needs (Debian's
python3-torch, python3-numpy, python3-pil; building and testing sgen do not need them).
Run with Debian's interpreter, which has torch (CPU):

    /usr/bin/python3 tools/make_functional_fixtures.py [OUT]

OUT defaults to spec/fixtures/functional.safetensors. Keys are
"<case>.<name>":

  <case>.x, <case>.w, <case>.b, ...  inputs (float32)
  <case>.r                           a fixed random tensor shaped like the output
  <case>.out                         F.<op>(inputs) (float64)
  <case>.grad_<input>                d sum(out * r) / d input (float64)

The inputs are float32; the references are computed in float64 from those
same float32 values, so sgen can be checked in float32 (rounding on one side)
and in float64 (near-exact agreement). Class labels of the cross_entropy case
are stored 1-based (ce.target), as sgen's Lua API takes them. Max-pool indices
(maxpool.indices) are stored 1-based too. The call of each case is written
into the file's __metadata__.

Deterministic: fixed seed, float64 CPU arithmetic, a safetensors writer with
a fixed key order.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write_safetensors  # noqa: E402

F32 = torch.float32
F64 = torch.float64


def case(items, meta, name, call, fn, inputs, grads=True):
    """inputs: ordered dict name -> float32 tensor (or int64, no grad).
    Records inputs, r, out and the grads of sum(out * r) in float64."""
    meta[name] = call
    for k, v in inputs.items():
        items.append((f"{name}.{k}", v))
    ins64 = {}
    for k, v in inputs.items():
        if v.dtype == F32:
            ins64[k] = v.to(F64).requires_grad_(grads)
        else:
            ins64[k] = v
    out = fn(**ins64)
    r = torch.randn(out.shape, dtype=F32)
    items.append((f"{name}.r", r))
    items.append((f"{name}.out", out.detach()))
    if grads:
        diff = [k for k, v in ins64.items() if v.dtype == F64]
        gs = torch.autograd.grad((out * r.to(F64)).sum(), [ins64[k] for k in diff])
        for k, g in zip(diff, gs):
            items.append((f"{name}.grad_{k}", g))
    return out


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "spec", "fixtures",
        "functional.safetensors")
    torch.manual_seed(0)
    items, meta = [], {}

    case(items, meta, "conv2d", "F.conv2d(x, w, b, {stride=2, padding=1})",
         lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
         {"x": torch.randn(2, 3, 5, 5), "w": torch.randn(4, 3, 3, 3),
          "b": torch.randn(4)})

    case(items, meta, "conv2d_g",
         "F.conv2d(x, w, nil, {padding={1, 0}, dilation=2, groups=2})",
         lambda x, w: F.conv2d(x, w, None, padding=(1, 0), dilation=2, groups=2),
         {"x": torch.randn(1, 4, 6, 5), "w": torch.randn(6, 2, 2, 2)})

    case(items, meta, "convt",
         "F.conv_transpose2d(x, w, b, {stride=2, padding=1, output_padding=1})",
         lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                            output_padding=1),
         {"x": torch.randn(2, 4, 3, 3), "w": torch.randn(4, 2, 3, 3),
          "b": torch.randn(2)})

    # batch_norm in training mode: output and the updated running stats
    rm, rv = torch.randn(3), torch.rand(3) + 0.5
    meta["bn"] = ("F.batch_norm(x, rm, rv, w, b, {training=true, momentum=0.2, "
                  "eps=1e-3}); bn.rm_after / bn.rv_after: running stats after it")
    items += [("bn.rm", rm), ("bn.rv", rv)]
    rm64, rv64 = rm.to(F64), rv.to(F64)
    case(items, meta, "bn", meta["bn"],
         lambda x, w, b: F.batch_norm(x, rm64, rv64, w, b, training=True,
                                      momentum=0.2, eps=1e-3),
         {"x": torch.randn(4, 3, 2, 2), "w": torch.randn(3), "b": torch.randn(3)})
    items += [("bn.rm_after", rm64), ("bn.rv_after", rv64)]

    x = torch.randn(2, 2, 5, 5)
    _, idx = F.max_pool2d(x.to(F64), 3, stride=2, padding=1, return_indices=True)
    case(items, meta, "maxpool",
         "F.max_pool2d(x, 3, {stride=2, padding=1, return_indices=true})",
         lambda x: F.max_pool2d(x, 3, stride=2, padding=1), {"x": x})
    items.append(("maxpool.indices", idx + 1))

    case(items, meta, "bilinear",
         "F.interpolate(x, {size={5, 7}, mode=\"bilinear\"})",
         lambda x: F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=False),
         {"x": torch.randn(1, 2, 3, 4)})

    case(items, meta, "bilinear_ac",
         "F.interpolate(x, {scale_factor=2, mode=\"bilinear\", align_corners=true})",
         lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True),
         {"x": torch.randn(1, 2, 3, 4)})

    case(items, meta, "reflect",
         "F.pad(x, {2, 1, 1, 2}, {mode=\"reflect\"})",
         lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect"),
         {"x": torch.randn(1, 2, 3, 4)})

    # cross entropy: 1-based labels in the file, 0-based for torch
    target = torch.tensor([2, 0, 3, 1, 3])
    cw = torch.rand(4) + 0.5
    meta["ce"] = ("F.cross_entropy(x, target, {weight=weight, label_smoothing=0.1}); "
                  "target holds 1-based labels")
    items.append(("ce.target", target + 1))
    items.append(("ce.weight", cw))
    cw64 = cw.to(F64)
    case(items, meta, "ce", meta["ce"],
         lambda x: F.cross_entropy(x, target, weight=cw64, label_smoothing=0.1),
         {"x": torch.randn(5, 4)})
    meta["ce_none"] = "F.cross_entropy(x, ce.target, {reduction=\"none\", ignore_index=3})"
    case(items, meta, "ce_none", meta["ce_none"],
         lambda x: F.cross_entropy(x, target, reduction="none", ignore_index=2),
         {"x": torch.randn(5, 4)})

    write_safetensors(os.path.normpath(out_path), items, meta)
    print(f"wrote {os.path.normpath(out_path)}: {len(items)} tensors")


if __name__ == "__main__":
    main()
