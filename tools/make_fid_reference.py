#!/usr/bin/python3
"""Reference values for sg.metrics.fid / kid / inception_score (spec/gan_metrics_spec.lua).

Set-up: `bash scripts/install-deps.sh --bench` installs what this needs (Debian's
python3-torch, python3-numpy, python3-pil; building and testing sgen do not need them).

Writes spec/fixtures/fid_ref.safetensors:
  a, b        two fixed 200 x 16 float64 feature sets (rows are samples) from a
              seeded numpy RNG: a is a correlated Gaussian, b a shifted, rescaled
              and skewed ("Gaussian-ish") one, so that the means, the variances
              and the shapes of the covariances all differ
  probs       a fixed 50 x 10 float64 matrix of class probabilities (rows sum to 1)
  fid         the Frechet distance of a and b, as pytorch-fid computes it:
              np.mean / np.cov (N-1 denominator) and
              |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr sqrtm(S_a S_b);
              scipy is not installed here, so tr sqrtm(S_a S_b) is computed twice
              without it and the two must agree to 1e-10 relative:
              (1) sum sqrt(eigenvalues of S_a S_b) (np.linalg.eigvals; the
                  eigenvalues of a product of two PSD matrices are real, >= 0)
              (2) sum sqrt(eigh(S_a^1/2 S_b S_a^1/2)) with S_a^1/2 from eigh(S_a)
  kid         the unbiased MMD^2 of a and b with the polynomial kernel
              (x.y / d + 1)^3, on one "subset" of all 200 rows (subsets=1,
              subset_size=200: no randomness; the formula of torch-fidelity's
              mmd2 / the KID paper's polynomial_mmd)
  kid_g2c0d2  the same with gamma = 0.5, coef = 0, degree = 2
  is_mean, is_std   the inception score of probs with splits = 5:
              exp(mean_x KL(p(y|x) || p(y))) per contiguous split (the OpenAI
              code's splits), np.mean / np.std (population) over the splits

Run:  python3 tools/make_fid_reference.py   (needs python3-numpy only; the
output is a function of this script: same bytes on every run)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "spec", "fixtures",
                   "fid_ref.safetensors")


def feature_sets():
    rng = np.random.default_rng(20261207)
    n, d = 200, 16
    mix_a = rng.standard_normal((d, d)) / np.sqrt(d)
    a = rng.standard_normal((n, d)) @ mix_a + rng.standard_normal(d) * 0.5
    mix_b = rng.standard_normal((d, d)) / np.sqrt(d) + 0.3 * np.eye(d)
    z = rng.standard_normal((n, d))
    z = z + 0.3 * (z ** 2 - 1)  # skewed marginals
    b = 1.3 * (z @ mix_b) + rng.standard_normal(d) * 0.5 + 0.2
    return a, b


def stats(x):
    return x.mean(axis=0), np.cov(x, rowvar=False)


def trace_sqrt_product_eigvals(s1, s2):
    ev = np.linalg.eigvals(s1 @ s2)
    assert np.max(np.abs(ev.imag)) < 1e-9 * np.max(np.abs(ev.real)), ev
    return np.sum(np.sqrt(np.maximum(ev.real, 0)))


def trace_sqrt_product_eigh(s1, s2):
    lam, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(np.maximum(lam, 0))) @ v.T
    m = root @ s2 @ root
    ev = np.linalg.eigvalsh((m + m.T) / 2)
    return np.sum(np.sqrt(np.maximum(ev, 0)))


def fid(a, b):
    mu1, s1 = stats(a)
    mu2, s2 = stats(b)
    t1 = trace_sqrt_product_eigvals(s1, s2)
    t2 = trace_sqrt_product_eigh(s1, s2)
    assert abs(t1 - t2) <= 1e-10 * abs(t1), (t1, t2)
    diff = mu1 - mu2
    return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * t2


def mmd2_unbiased(x, y, gamma, coef, degree):
    m = x.shape[0]
    kxx = (gamma * x @ x.T + coef) ** degree
    kyy = (gamma * y @ y.T + coef) ** degree
    kxy = (gamma * x @ y.T + coef) ** degree
    sxx = kxx.sum() - np.trace(kxx)
    syy = kyy.sum() - np.trace(kyy)
    return (sxx + syy) / (m * (m - 1)) - 2 * kxy.sum() / (m * m)


def inception_score(p, splits):
    n = p.shape[0]
    scores = []
    for k in range(splits):
        part = p[(k * n) // splits:((k + 1) * n) // splits]
        py = part.mean(axis=0, keepdims=True)
        kl = (part * (np.log(part) - np.log(py))).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return np.mean(scores), np.std(scores)


def main():
    a, b = feature_sets()
    d = a.shape[1]
    rng = np.random.default_rng(7)
    logits = rng.standard_normal((50, 10)) * 2.0
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    is_mean, is_std = inception_score(probs, 5)
    items = [
        ("a", a), ("b", b), ("probs", probs),
        ("fid", np.array([fid(a, b)])),
        ("fid_aa", np.array([fid(a, a)])),
        ("kid", np.array([mmd2_unbiased(a, b, 1.0 / d, 1.0, 3)])),
        ("kid_g2c0d2", np.array([mmd2_unbiased(a, b, 0.5, 0.0, 2)])),
        ("is_mean", np.array([is_mean])), ("is_std", np.array([is_std])),
    ]
    write_safetensors(OUT, items, metadata={"generator": "tools/make_fid_reference.py"})
    for name, t in items[3:]:
        print(f"{name} = {t[0]:.12g}")


if __name__ == "__main__":
    main()
