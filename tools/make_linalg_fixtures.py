#!/usr/bin/python3
"""Reference values for sg.linalg.eigh, slogdet and trace (spec/linalg_eigh_spec.lua).

Set-up: `bash scripts/install-deps.sh --bench` installs what this needs (Debian's
python3-torch, python3-numpy, python3-pil; building and testing sgen do not need them).
Run with Debian's interpreter (numpy only):

    /usr/bin/python3 tools/make_linalg_fixtures.py [OUT_FILE]

OUT_FILE defaults to spec/fixtures/linalg_eigh.safetensors next to this
script's repository. The output is deterministic (fixed seed, float64,
fixed key order). Every tensor is float64:

  eigh.a1     5x5     a random symmetric matrix (X + X^T) / 2, X uniform in [-1, 1)
  eigh.w1     5       its eigenvalues, numpy.linalg.eigh (ascending)
  eigh.ab     3x4x4   a batch of such matrices
  eigh.wb     3x4     their eigenvalues
  eigh.deg    5x5     Q diag(-1, 2, 2, 2 + 1e-8, 7) Q^T, Q a random orthogonal
                      matrix (QR of a Gaussian matrix): a repeated and a
                      near-degenerate eigenvalue (eigenvalues only: the
                      eigenvectors of a repeated eigenvalue are not unique)
  eigh.wdeg   5       its eigenvalues, numpy.linalg.eigh
  slogdet.a     4x3x3 random non-singular matrices (uniform in [-1, 1) + 2 I),
                      rows 1 and 2 of elements 1 and 3 (0-based) swapped so
                      that both signs of the determinant occur
  slogdet.sign  4     numpy.linalg.slogdet's sign
  slogdet.logabs 4    numpy.linalg.slogdet's logabsdet
  trace.a     2x3x4   uniform in [-1, 1) (not square)
  trace.t     2       numpy.trace(a, axis1=-2, axis2=-1)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write_safetensors  # noqa: E402


def symmetric(rng, shape):
    x = rng.uniform(-1.0, 1.0, size=shape)
    return (x + np.swapaxes(x, -1, -2)) / 2.0


def make_items():
    rng = np.random.default_rng(20240917)
    items = []
    a1 = symmetric(rng, (5, 5))
    items += [("eigh.a1", a1), ("eigh.w1", np.linalg.eigh(a1)[0])]
    ab = symmetric(rng, (3, 4, 4))
    items += [("eigh.ab", ab), ("eigh.wb", np.linalg.eigh(ab)[0])]
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    deg = q @ np.diag([-1.0, 2.0, 2.0, 2.0 + 1e-8, 7.0]) @ q.T
    deg = (deg + deg.T) / 2.0  # exactly symmetric
    items += [("eigh.deg", deg), ("eigh.wdeg", np.linalg.eigh(deg)[0])]
    s = rng.uniform(-1.0, 1.0, size=(4, 3, 3)) + 2.0 * np.eye(3)
    s[[1, 3]] = s[[1, 3]][:, [1, 0, 2], :]  # one row swap: the sign flips
    sign, logabs = np.linalg.slogdet(s)
    assert set(sign.tolist()) == {-1.0, 1.0}, sign
    items += [("slogdet.a", s), ("slogdet.sign", sign), ("slogdet.logabs", logabs)]
    t = rng.uniform(-1.0, 1.0, size=(2, 3, 4))
    items += [("trace.a", t), ("trace.t", np.trace(t, axis1=-2, axis2=-1))]
    return [(k, np.ascontiguousarray(v, dtype=np.float64)) for k, v in items]


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        root, "spec", "fixtures", "linalg_eigh.safetensors")
    items = make_items()
    n = write_safetensors(out, items, {"generator": "tools/make_linalg_fixtures.py",
                                       "numpy": np.__version__})
    print(f"wrote {out} ({n} bytes)")
    for k, v in items:
        if v.ndim <= 1:
            print(f"  {k}: {np.array2string(v, precision=12)}")


if __name__ == "__main__":
    main()
