#!/usr/bin/python3
"""PyTorch fixture for sg.F.coding_rate and sg.F.rate_reduction
(lua/sgen/F_rate.lua, spec/rate_reduction_spec.lua).

Set-up: `bash scripts/install-deps.sh --bench` installs what this needs (Debian's
python3-torch, python3-numpy, python3-pil; building and testing sgen do not need them).
Run with Debian's interpreter, which has torch (CPU):

    /usr/bin/python3 tools/make_rate_fixture.py [OUT_DIR]

writes OUT_DIR/rate_reduction.safetensors (default spec/fixtures) with, all
float64 except the labels:

  Z, Zhat             12 x 5 features (rows are samples), Zhat = Z + noise
  labels              int64, 1-based classes 1, 2, 4 (class 3 absent), 5/4/3 rows
  Zw                  4 x 9 (n < d: the Gram form flips)
  cr.Z, cr.Zw         coding_rate(Z, 0.5), coding_rate(Zw, 0.5)
  cr.Z.eps1           coding_rate(Z, 1.0)
  cr.grad.Z           d coding_rate(Z, 0.5) / d Z
  rr.<mode>.<term>    rate_reduction(Z, Zhat, labels, 0.5, normalize = mode == "norm")
                      for mode norm / raw, term total, R_Z, Rc_Z, delta_R_Z, R_Zhat,
                      Rc_Zhat, delta_R_Zhat, delta_R_pairs, pairs (one per class)
  rr.<mode>.grad.Z, rr.<mode>.grad.Zhat    d total / d Z, d Zhat

The formulas follow the LDR / CTRL code (MCRGANloss): the d x d form
logdet(I + d/(n eps) Z^T Z) with eps = eps^2 passed directly, compression
sum_j (n_j / 2n) logdet(I + d/(n_j eps) Z_j^T Z_j), the multi-class CTRL
objective dR(Z) + dR(Zhat) + sum_j [R(Z_j u Zhat_j) - 1/4 logdet_j(Z) -
1/4 logdet_j(Zhat)]. Deterministic: the same bytes on every run.
"""
import os
import sys

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from safetensors_writer import write_safetensors  # noqa: E402


def discrimn(Z, eps):
    """The CTRL code's compute_discrimn_loss on Z (n x d, rows samples): d x d form."""
    n, d = Z.shape
    I = torch.eye(d, dtype=Z.dtype)
    return torch.logdet(I + d / (n * eps) * Z.T @ Z) / 2.0


def compress(Z, labels, classes, eps):
    """compute_compress_loss: raw logdets per class and their scalars n_j / 2n."""
    n, d = Z.shape
    I = torch.eye(d, dtype=Z.dtype)
    losses, scalars = [], []
    for j in classes:
        Zj = Z[labels == j]
        nj = Zj.shape[0]
        losses.append(torch.logdet(I + d / (nj * eps) * Zj.T @ Zj))
        scalars.append(nj / (2.0 * n))
    return losses, scalars


def rate_reduction(Z, Zhat, labels, eps, normalize):
    if normalize:
        Z, Zhat = F.normalize(Z, dim=1), F.normalize(Zhat, dim=1)
    classes = sorted(set(labels.tolist()))
    out = {}
    for name, X in (("Z", Z), ("Zhat", Zhat)):
        R = discrimn(X, eps)
        losses, scalars = compress(X, labels, classes, eps)
        Rc = sum(s * l for s, l in zip(scalars, losses))
        out["R_" + name], out["Rc_" + name], out["delta_R_" + name] = R, Rc, R - Rc
        out["logdets_" + name] = losses
    pairs = []
    for k, j in enumerate(classes):
        union = torch.cat((Z[labels == j], Zhat[labels == j]), 0)
        pairs.append(discrimn(union, eps) - 0.25 * out["logdets_Z"][k] - 0.25 * out["logdets_Zhat"][k])
    out["pairs"] = torch.stack(pairs)
    out["delta_R_pairs"] = sum(pairs)
    out["total"] = out["delta_R_Z"] + out["delta_R_Zhat"] + out["delta_R_pairs"]
    return out


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "spec", "fixtures")
    torch.manual_seed(0)
    dt = torch.float64
    labels = torch.tensor([1, 2, 4, 1, 1, 2, 4, 1, 2, 4, 2, 1], dtype=torch.int64)
    Z = torch.randn(12, 5, dtype=dt)
    Zhat = Z + 0.3 * torch.randn(12, 5, dtype=dt)
    Zw = torch.randn(4, 9, dtype=dt)
    items = [("Z", Z), ("Zhat", Zhat), ("labels", labels), ("Zw", Zw)]

    Zg = Z.clone().requires_grad_()
    cr = discrimn(Zg, 0.5)
    cr.backward()
    items += [("cr.Z", cr.detach()), ("cr.Zw", discrimn(Zw, 0.5)), ("cr.Z.eps1", discrimn(Z, 1.0)),
              ("cr.grad.Z", Zg.grad)]

    for mode, normalize in (("norm", True), ("raw", False)):
        Zg = Z.clone().requires_grad_()
        Zhg = Zhat.clone().requires_grad_()
        r = rate_reduction(Zg, Zhg, labels, 0.5, normalize)
        r["total"].backward()
        for term in ("total", "R_Z", "Rc_Z", "delta_R_Z", "R_Zhat", "Rc_Zhat", "delta_R_Zhat",
                     "delta_R_pairs", "pairs"):
            items.append((f"rr.{mode}.{term}", r[term].detach()))
        items += [(f"rr.{mode}.grad.Z", Zg.grad), (f"rr.{mode}.grad.Zhat", Zhg.grad)]

    meta = {"generator": "tools/make_rate_fixture.py", "torch": torch.__version__.split("+")[0]}
    path = os.path.join(out_dir, "rate_reduction.safetensors")
    size = write_safetensors(path, items, meta)
    print(f"wrote {path} ({size} bytes, {len(items)} tensors)")


if __name__ == "__main__":
    main()
