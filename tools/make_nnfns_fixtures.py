#!/usr/bin/python3
"""PyTorch fixtures for the neural-network names of spec/nnfns_spec.lua (issue 16,
item 8): F.gelu, F.binary_cross_entropy, F.normalize, F.cosine_similarity,
F.embedding, F.group_norm, nn.utils.clip_grad_norm_ and nn.utils.spectral_norm.

Run with Debian's interpreter, which has torch (CPU):

    /usr/bin/python3 tools/make_nnfns_fixtures.py [OUT]

OUT defaults to spec/fixtures/nnfns.safetensors. Keys are "<case>.<name>":

  <case>.x, <case>.w, ...   inputs (float32; index tensors int64, stored 1-based)
  <case>.r                  a fixed random tensor shaped like the output
  <case>.out                the op on the inputs (float64)
  <case>.grad_<input>       d sum(out * r) / d input (float64)

As in make_functional_fixtures.py the references are computed in float64 from the
float32 inputs. Dims in the calls written to __metadata__ are sgen's (1-based).
Deterministic: fixed seed, a safetensors writer with a fixed key order.
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
    meta[name] = call
    for k, v in inputs.items():
        items.append((f"{name}.{k}", v))
    ins64 = {}
    for k, v in inputs.items():
        ins64[k] = v.to(F64).requires_grad_(grads) if v.dtype == F32 else v
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
        "nnfns.safetensors")
    torch.manual_seed(0)
    items, meta = [], {}

    x = torch.randn(3, 5) * 2
    case(items, meta, "gelu", "F.gelu(x)", lambda x: F.gelu(x), {"x": x})
    case(items, meta, "gelu_tanh", "F.gelu(x, {approximate=\"tanh\"})",
         lambda x: F.gelu(x, approximate="tanh"), {"x": x})

    p = torch.rand(3, 4) * 0.9 + 0.05
    t = torch.rand(3, 4)
    w = torch.rand(4) + 0.5
    items.append(("bce.t", t))
    t64 = t.to(F64)
    case(items, meta, "bce", "F.binary_cross_entropy(x, bce.t)",
         lambda x: F.binary_cross_entropy(x, t64), {"x": p})
    items.append(("bce_w.w", w))
    w64 = w.to(F64)
    case(items, meta, "bce_w",
         "F.binary_cross_entropy(x, bce.t, {weight=bce_w.w, reduction=\"none\"})",
         lambda x: F.binary_cross_entropy(x, t64, weight=w64.expand(3, 4),
                                          reduction="none"),
         {"x": p})

    x = torch.randn(3, 4)
    case(items, meta, "normalize", "F.normalize(x)", lambda x: F.normalize(x), {"x": x})
    case(items, meta, "normalize_p1", "F.normalize(x, {p=1, dim=1})",
         lambda x: F.normalize(x, p=1.0, dim=0), {"x": x})

    case(items, meta, "cos", "F.cosine_similarity(a, b)",
         lambda a, b: F.cosine_similarity(a, b), {"a": torch.randn(3, 4), "b": torch.randn(3, 4)})
    case(items, meta, "cos_bc", "F.cosine_similarity(a, b, {dim=-1})  -- b broadcasts",
         lambda a, b: F.cosine_similarity(a, b, dim=-1),
         {"a": torch.randn(2, 3, 4), "b": torch.randn(1, 4)})

    idx = torch.tensor([[0, 2, 1], [4, 1, 3]])
    items.append(("emb.idx", idx + 1))
    case(items, meta, "emb", "F.embedding(emb.idx, w)  -- emb.idx 1-based",
         lambda w: F.embedding(idx, w), {"w": torch.randn(5, 3)})
    case(items, meta, "emb_pad", "F.embedding(emb.idx, w, {padding_idx=2})",
         lambda w: F.embedding(idx, w, padding_idx=1), {"w": torch.randn(5, 3)})

    case(items, meta, "gn", "F.group_norm(x, 2, w, b, {eps=1e-3})",
         lambda x, w, b: F.group_norm(x, 2, w, b, eps=1e-3),
         {"x": torch.randn(2, 4, 3, 3), "w": torch.randn(4), "b": torch.randn(4)})

    # clip_grad_norm_: two gradients, total norm and the clipped gradients
    g1, g2 = torch.randn(3, 3), torch.randn(4)
    items += [("clip.g1", g1), ("clip.g2", g2)]
    meta["clip"] = ("nn.utils.clip_grad_norm_({p1, p2}, 1.0) with p1.grad = g1, p2.grad = g2; "
                    "also norm_type=math.huge with max_norm 0.5")
    for tag, max_norm, nt in (("2", 1.0, 2.0), ("inf", 0.5, float("inf"))):
        p1 = torch.zeros(3, 3, dtype=F64, requires_grad=True)
        p2 = torch.zeros(4, dtype=F64, requires_grad=True)
        p1.grad, p2.grad = g1.to(F64).clone(), g2.to(F64).clone()
        total = torch.nn.utils.clip_grad_norm_([p1, p2], max_norm, norm_type=nt)
        items += [(f"clip_{tag}.total", total.reshape(())), (f"clip_{tag}.g1", p1.grad),
                  (f"clip_{tag}.g2", p2.grad)]

    # spectral_norm on a Linear(4, 3): state before, one training forward and
    # one eval forward; the weight's gradient through sigma
    lin = torch.nn.utils.spectral_norm(torch.nn.Linear(4, 3)).double()
    sd0 = {k: v.clone() for k, v in lin.state_dict().items()}
    for k in ("weight_orig", "bias", "weight_u", "weight_v"):
        items.append((f"sn.{k}", sd0[k]))
    xin = torch.randn(2, 4, dtype=F64)
    items.append(("sn.x", xin))
    meta["sn"] = ("lin = nn.utils.spectral_norm(nn.Linear(4, 3)) loaded with sn.{weight_orig, "
                  "bias, weight_u, weight_v}; y = lin(sn.x) in training mode -> sn.y, sn.u1, "
                  "sn.v1, sn.weight; grad of y.sum() wrt weight_orig -> sn.grad_weight_orig; "
                  "then eval: lin(sn.x) -> sn.y_eval (u, v unchanged)")
    y = lin(xin)
    y.sum().backward()
    items += [("sn.y", y.detach()), ("sn.u1", lin.weight_u.clone()),
              ("sn.v1", lin.weight_v.clone()), ("sn.weight", lin.weight.detach().clone()),
              ("sn.grad_weight_orig", lin.weight_orig.grad.clone())]
    lin.eval()
    items.append(("sn.y_eval", lin(xin).detach()))
    # a conv, whose weight is reshaped to out x (in*k*k), with 3 power iterations
    conv = torch.nn.utils.spectral_norm(torch.nn.Conv2d(2, 3, 2), n_power_iterations=3).double()
    sdc = {k: v.clone() for k, v in conv.state_dict().items()}
    for k in ("weight_orig", "bias", "weight_u", "weight_v"):
        items.append((f"snc.{k}", sdc[k]))
    xc = torch.randn(1, 2, 3, 3, dtype=F64)
    items.append(("snc.x", xc))
    meta["snc"] = ("nn.utils.spectral_norm(nn.Conv2d(2, 3, 2), {n_power_iterations=3}) "
                   "loaded with snc.*; training forward -> snc.y, snc.u1, snc.v1")
    items += [("snc.y", conv(xc).detach()), ("snc.u1", conv.weight_u.clone()),
              ("snc.v1", conv.weight_v.clone())]
    meta["sn_keys"] = ",".join(sd0.keys())

    write_safetensors(os.path.normpath(out_path), items, meta)
    print(f"wrote {os.path.normpath(out_path)}: {len(items)} tensors")


if __name__ == "__main__":
    main()
