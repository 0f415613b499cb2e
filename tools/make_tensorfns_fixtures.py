#!/usr/bin/python3
"""PyTorch references for sgen's tensor functions (spec/tensorfns_spec.lua):
cumsum prod flip roll repeat tile lerp diag tril triu einsum isnan isfinite
all any.

Set-up: `bash scripts/install-deps.sh --bench` installs what this needs (Debian's
python3-torch; building and testing sgen do not need it). Run with Debian's
interpreter, which has torch (CPU):

    /usr/bin/python3 tools/make_tensorfns_fixtures.py [OUT]

OUT defaults to spec/fixtures/tensorfns.safetensors. Keys are "<case>.<name>":

  <case>.<input>       the inputs (float64; those of isnan, isfinite, all and
                       any hold 0, NaN and +-inf entries)
  <case>.r             a fixed random tensor shaped like the output (not for
                       the bool-valued cases)
  <case>.out           the PyTorch result (float64, or bool)
  <case>.grad_<input>  d sum(out * r) / d input (float64)

The PyTorch call of each case (0-based dims, as PyTorch writes them) is in the
file's __metadata__; spec/tensorfns_spec.lua holds the same calls in sgen's
1-based form. Deterministic: fixed seed, float64 CPU arithmetic, a
safetensors writer with a fixed key order.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write_safetensors  # noqa: E402

F64 = torch.float64


def case(items, meta, name, call, fn, inputs, grads=True):
    """inputs: list of (name, float64 tensor). Records the inputs, out, r and
    the gradients of sum(out * r)."""
    meta[name] = call
    ins = []
    for k, v in inputs:
        items.append((f"{name}.{k}", v))
        ins.append(v.clone().requires_grad_(grads))
    out = fn(*ins)
    items.append((f"{name}.out", out.detach()))
    if not grads:
        return
    r = torch.randn(out.shape, dtype=F64)
    items.append((f"{name}.r", r))
    gs = torch.autograd.grad((out * r).sum(), ins)
    for (k, _), g in zip(inputs, gs):
        items.append((f"{name}.grad_{k}", g))


def make_items():
    torch.manual_seed(20260516)
    items, meta = [], {}

    def rn(*shape):
        return torch.randn(*shape, dtype=F64)

    case(items, meta, "cumsum", "torch.cumsum(x, 1)", lambda x: torch.cumsum(x, 1), [("x", rn(3, 5))])
    case(items, meta, "cumsum0", "torch.cumsum(x, 0)", lambda x: torch.cumsum(x, 0), [("x", rn(7, 2))])
    case(items, meta, "prod_all", "torch.prod(x)", lambda x: torch.prod(x), [("x", rn(2, 3))])
    z = rn(3, 4)
    z[1, 2] = 0.0            # one zero in row 1
    z[2, 0] = z[2, 3] = 0.0  # two zeros in row 2
    case(items, meta, "prod_zeros", "torch.prod(x, 1)", lambda x: torch.prod(x, 1), [("x", z)])
    case(items, meta, "prod_keep", "torch.prod(x, 0, keepdim=True)",
         lambda x: torch.prod(x, 0, keepdim=True), [("x", rn(5, 2))])
    case(items, meta, "flip", "torch.flip(x, (0, 2))", lambda x: torch.flip(x, (0, 2)), [("x", rn(2, 3, 4))])
    case(items, meta, "roll", "torch.roll(x, (1, -2), (0, 1))",
         lambda x: torch.roll(x, (1, -2), (0, 1)), [("x", rn(3, 4))])
    case(items, meta, "roll_flat", "torch.roll(x, 2)", lambda x: torch.roll(x, 2), [("x", rn(2, 3))])
    case(items, meta, "repeat", "x.repeat(2, 1, 2)", lambda x: x.repeat(2, 1, 2), [("x", rn(2, 3))])
    case(items, meta, "tile", "torch.tile(x, (2,))", lambda x: torch.tile(x, (2,)), [("x", rn(2, 3))])
    case(items, meta, "lerp", "torch.lerp(a, b, w)", lambda a, b, w: torch.lerp(a, b, w),
         [("a", rn(2, 3)), ("b", rn(2, 3)), ("w", torch.rand(3, dtype=F64))])
    case(items, meta, "lerp_scalar", "torch.lerp(a, b, 0.3)", lambda a, b: torch.lerp(a, b, 0.3),
         [("a", rn(4)), ("b", rn(4))])
    case(items, meta, "diag_vec", "torch.diag(x, 1)", lambda x: torch.diag(x, 1), [("x", rn(3))])
    case(items, meta, "diag_mat", "torch.diag(x, -1)", lambda x: torch.diag(x, -1), [("x", rn(3, 4))])
    case(items, meta, "tril", "torch.tril(x, -1)", lambda x: torch.tril(x, -1), [("x", rn(2, 3, 4))])
    case(items, meta, "triu", "torch.triu(x, 1)", lambda x: torch.triu(x, 1), [("x", rn(4, 3))])
    ein = [
        ("ein_mm", "ij,jk->ik", [(2, 3), (3, 4)]),
        ("ein_bmm", "bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
        ("ein_implicit", "ij,jk", [(2, 3), (3, 4)]),
        ("ein_trace", "ii->", [(3, 3)]),
        ("ein_diag", "ii->i", [(3, 3)]),
        ("ein_t", "ij->ji", [(2, 3)]),
        ("ein_outer", "i,j->ij", [(2,), (3,)]),
        ("ein_sum", "ijk->kj", [(2, 3, 4)]),
        ("ein_inner", "ij,ij->", [(2, 3), (2, 3)]),
        ("ein_mix", "bij,jk->bki", [(2, 3, 4), (4, 5)]),
    ]
    for name, eq, shapes in ein:
        ins = [(f"x{i + 1}", rn(*s)) for i, s in enumerate(shapes)]
        case(items, meta, name, f"torch.einsum('{eq}', ...)",
             lambda *ts, eq=eq: torch.einsum(eq, *ts), ins)
    t = torch.tensor([[0.0, 1.0, float("nan")], [2.0, float("inf"), -float("inf")], [3.0, -1.0, 0.5]], dtype=F64)
    case(items, meta, "isnan", "torch.isnan(x)", torch.isnan, [("x", t)], grads=False)
    case(items, meta, "isfinite", "torch.isfinite(x)", torch.isfinite, [("x", t)], grads=False)
    case(items, meta, "all_dim", "torch.all(x, 1)", lambda x: torch.all(x, 1), [("x", t)], grads=False)
    case(items, meta, "any_dim", "torch.any(x != 1, 0, keepdim=True)",
         lambda x: torch.any(x != 1, 0, keepdim=True), [("x", t)], grads=False)
    case(items, meta, "all", "torch.all(x)", torch.all, [("x", t)], grads=False)
    return items, meta


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "spec", "fixtures",
                                                            "tensorfns.safetensors")
    items, meta = make_items()
    n = write_safetensors(out, items, meta)
    print(f"wrote {out} ({n} bytes, {len(items)} tensors)")


if __name__ == "__main__":
    main()
