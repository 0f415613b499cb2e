"""The PyTorch half of bench/csc_ctrl_step.sh --check: redoes, with
bench/csc_ctrl_step.py's model and step, the CSC-CTRL game step that
bench/csc_ctrl_step_check.lua ran in sgen, from the same state (the same
batch and dictionaries; each CSC layer's power iteration started from sgen's
start vector), and compares: both objectives, the min step's ΔR terms, each
layer's L and the forwards since it was computed (the refresh schedule), the
gradients of every parameter of f and g, and the dictionaries after both
Adam steps. Exits 1 when something differs by more than float32 rounding can
explain (see TOL).

    python3 bench/csc_ctrl_step_check.py FILE.json
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import csc_ctrl_step as M  # noqa: E402

TOL = {"objective": 1e-4, "L": 1e-4, "grad": 1e-3, "W_after": 1e-3}


def main():
    d = json.load(open(sys.argv[1]))
    torch.set_num_threads(1)
    s1 = d["strategy"] == 1
    c = int(math.floor(64 * d["width"] + 0.5))
    layers = M.layer_table(c)
    f = M.Encoder(layers, "csc", 0.01)
    g = M.Decoder(layers, "csc", f)
    cscs = [m for m in f.main if isinstance(m, M.CSC)]
    with torch.no_grad():
        for i, l in enumerate(cscs):
            l.weight.copy_(torch.tensor(d["W"][i]))
            l.power_start = torch.tensor(d["V"][i])
    X = torch.tensor(d["x"])
    opt_max = torch.optim.Adam(f.parameters(), lr=2e-4, betas=(0.0, 0.9), maximize=True)
    opt_min = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.0, 0.9))

    opt_max.zero_grad(set_to_none=True)
    Z = f(X)
    with torch.no_grad():
        Xh = g(Z.detach())
    Zh = f(Xh)
    total, _ = M.rate_reduction(Z, Zh)
    total.backward()
    opt_max.step()
    max_total = total.item()
    opt_min.zero_grad(set_to_none=True)
    Z = f(X, s1)
    Xh = g(Z.detach() if s1 else Z)
    Zh = f(Xh, s1)
    total, terms = M.rate_reduction(Z, Zh)
    total.backward()
    opt_min.step()
    mn = M.numbers(total, terms)

    bad = []

    def rel(a, b):
        return abs(a - b) / max(abs(a), 1e-12)

    def check(name, err, tol):
        ok = err <= tol
        print(f"  {name:<28} {err:.2e} {'ok' if ok else 'DIFFERS (tol %.0e)' % tol}")
        if not ok:
            bad.append(name)

    print(f"csc_ctrl_step_check strategy={d['strategy']} width={d['width']:g} batch={X.shape[0]}"
          f" (relative errors, sgen vs torch)")
    check("max_total", rel(d["max_total"], max_total), TOL["objective"])
    for k in ("total", "R_Z", "R_Zhat", "delta_R_pairs"):
        check(f"min {k}", rel(d["min"][k], mn[k]), TOL["objective"])
    for i, l in enumerate(cscs):
        check(f"L layer {i + 1}", rel(d["L"][i], l.L), TOL["L"])
    for i, l in enumerate(cscs):
        name = f"forwards since L, layer {i + 1}"
        ok = d["since"][i] == l.since
        print(f"  {name:<28} sgen {d['since'][i]}, torch {l.since} {'ok' if ok else 'DIFFERS'}")
        if not ok:
            bad.append(name)
    for side, mod in (("f", f), ("g", g)):
        for i, p in enumerate(mod.parameters()):
            gs = d["grads_" + side][i]
            name = f"grad {side} param {i + 1} {tuple(p.shape)}"
            if gs is None or p.grad is None:
                if (gs is None) != (p.grad is None):
                    print(f"  {name:<28} present on one side only")
                    bad.append(name)
                continue
            gs = torch.tensor(gs)
            check(name, ((gs - p.grad).norm() / gs.norm().clamp(min=1e-12)).item(), TOL["grad"])
    for i, l in enumerate(cscs):
        check(f"W_after layer {i + 1} (abs)", (torch.tensor(d["W_after"][i]) - l.weight.detach()).abs().max().item(),
              TOL["W_after"])
    if bad:
        print(f"csc_ctrl_step_check: the two sides differ: {', '.join(bad)}")
        sys.exit(1)
    print("csc_ctrl_step_check: sgen and the PyTorch twin agree")


if __name__ == "__main__":
    main()
