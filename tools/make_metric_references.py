#!/usr/bin/python3
"""Reference values for sg.metrics.psnr and sg.metrics.ssim (spec/metrics_spec.lua).

Set-up: `bash scripts/install-deps.sh --bench` installs what this needs (Debian's
python3-torch, python3-numpy, python3-pil; building and testing sgen do not need them).
Run with Debian's interpreter (numpy only; scikit-image and scipy are not
installed here, so both metrics are re-implemented below in numpy):

    /usr/bin/python3 tools/make_metric_references.py [OUT_FILE]

OUT_FILE defaults to spec/fixtures/metrics_ref.safetensors next to this
script's repository. The output is deterministic (fixed seed, float64
arithmetic, fixed key order).

Images (float32, values in [0, 1], odd sizes 37x41):

  gray.clean  1x37x41  a smooth pattern (sums of sines and a radial bump)
  gray.noisy1..3       clean + Gaussian noise, std 0.02 / 0.1 / 0.3, clipped to [0, 1]
  rgb.clean   3x37x41  three differently phased smooth patterns
  rgb.noisy1..3        as for gray

References (float64, shape [1]), computed in float64 from the float32
images above, for i = 1, 2, 3 and kind = gray, rgb:

  <kind>.psnr<i>          PSNR(clean, noisy<i>), data_range = 1
  <kind>.ssim<i>          SSIM(clean, noisy<i>), default settings (below)
  rgb.psnr<i>_range2      PSNR with data_range = 2
  rgb.ssim<i>_range2      SSIM with data_range = 2
  rgb.ssim<i>_sigma1      SSIM with sigma = 1.0 and win_size = 9

PSNR = 10 * log10(data_range^2 / MSE), MSE the mean of (x - y)^2 over all
elements of one image (+inf when MSE = 0).

SSIM: the algorithm of scikit-image's skimage.metrics.structural_similarity
called as

    structural_similarity(x, y, data_range=R, channel_axis=0,
                          gaussian_weights=True, sigma=sigma,
                          use_sample_covariance=False, K1=k1, K2=k2)

i.e. Wang et al. (2004) with a Gaussian window. Exactly:

  1. Window: the 1-D Gaussian of scipy.ndimage with truncate = 3.5:
     radius r = int(3.5 * sigma + 0.5) (r = 5 for sigma = 1.5, r = 4 for
     sigma = 1.0), taps g[i] = exp(-i^2 / (2 sigma^2)) for i = -r..r,
     normalised to sum 1. win_size = 2r + 1 (11 for sigma 1.5).
  2. For every channel c separately (channel_axis: mean over channels at
     the end), filter x, y, x*x, y*y and x*y with the separable 2-D window
     (the 1-D filter along rows, then along columns) in scipy's 'reflect'
     mode (half-sample symmetric: d c b a | a b c d | d c b a), giving
     ux, uy, uxx, uyy, uxy of the image's size. (Recent scikit-image
     versions filter with their gaussian's default mode instead when
     padding_mode is None; the crop of step 5 makes this irrelevant.)
  3. Population (co)variances (use_sample_covariance=False, so no
     NP/(NP-1) factor): vx = uxx - ux^2, vy = uyy - uy^2, vxy = uxy - ux*uy.
  4. C1 = (k1 R)^2, C2 = (k2 R)^2 (k1 = 0.01, k2 = 0.03) and the map
     S = (2 ux uy + C1)(2 vxy + C2) / ((ux^2 + uy^2 + C1)(vx + vy + C2)).
  5. Crop pad = (win_size - 1) / 2 pixels from each side of S and take the
     mean of the rest (float64). Because pad = r, no pixel of the cropped
     map depends on the border mode: it equals the 'valid' correlation of
     the image with the window, which is what sg.metrics.ssim computes.
  6. The image's SSIM is the mean over channels of the per-channel values.

Self-checks run before anything is written (the script fails otherwise):
  * identical images give SSIM 1 (closed form; exact up to rounding), and
    constant images x = a, y = b give (2ab + C1) / (a^2 + b^2 + C1)
    (variances vanish, so the contrast/structure factor is C2 / C2 = 1);
  * PSNR of x = 0 against y = 0.1 everywhere is 20 dB;
  * the separable, reflect-padded filtering of step 2 followed by the crop
    of step 5 agrees to 1e-12 with a direct (non-separable) weighted sum
    over every 2r+1 x 2r+1 window of the interior.
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write_safetensors  # noqa: E402

TRUNCATE = 3.5


def gaussian_taps(sigma):
    """scipy.ndimage._gaussian_kernel1d(sigma, 0, radius), radius as in
    scipy.ndimage.gaussian_filter1d with truncate = 3.5."""
    r = int(TRUNCATE * float(sigma) + 0.5)
    i = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-0.5 / (sigma * sigma) * i * i)
    return g / g.sum()


def filter_reflect(img, taps):
    """Separable filtering of a 2-D float64 image with scipy's 'reflect'
    border mode (numpy's 'symmetric' padding), same output size."""
    r = (len(taps) - 1) // 2
    h, w = img.shape
    p = np.pad(img, r, mode="symmetric")
    # along axis 0 (rows of the output), then axis 1, as gaussian_filter does
    tmp = np.zeros((h, w + 2 * r))
    for k, t in enumerate(taps):
        tmp += t * p[k:k + h, :]
    out = np.zeros((h, w))
    for k, t in enumerate(taps):
        out += t * tmp[:, k:k + w]
    return out


def ssim_channel(x, y, data_range, sigma, k1, k2):
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    taps = gaussian_taps(sigma)
    win_size = len(taps)
    if min(x.shape) < win_size:
        raise ValueError("win_size exceeds image extent")
    ux = filter_reflect(x, taps)
    uy = filter_reflect(y, taps)
    uxx = filter_reflect(x * x, taps)
    uyy = filter_reflect(y * y, taps)
    uxy = filter_reflect(x * y, taps)
    vx = uxx - ux * ux
    vy = uyy - uy * uy
    vxy = uxy - ux * uy
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    a1 = 2 * ux * uy + c1
    a2 = 2 * vxy + c2
    b1 = ux ** 2 + uy ** 2 + c1
    b2 = vx + vy + c2
    s = (a1 * a2) / (b1 * b2)
    pad = (win_size - 1) // 2
    return s[pad:s.shape[0] - pad, pad:s.shape[1] - pad].mean(dtype=np.float64)


def ssim(x, y, data_range=1.0, sigma=1.5, k1=0.01, k2=0.03):
    """x, y: C x H x W. Mean over channels of the per-channel SSIM."""
    assert x.shape == y.shape and x.ndim == 3
    vals = [ssim_channel(x[c], y[c], data_range, sigma, k1, k2) for c in range(x.shape[0])]
    return float(np.mean(np.array(vals, dtype=np.float64)))


def psnr(x, y, data_range=1.0):
    mse = np.mean((x.astype(np.float64) - y.astype(np.float64)) ** 2)
    if mse == 0:
        return math.inf
    return float(10.0 * np.log10(data_range ** 2 / mse))


def ssim_direct_channel(x, y, data_range, sigma, k1, k2):
    """Brute force over the interior: explicit 2-D window sums."""
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    g = gaussian_taps(sigma)
    w2 = np.outer(g, g)
    r = (len(g) - 1) // 2
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    h, w = x.shape
    vals = []
    for i in range(r, h - r):
        for j in range(r, w - r):
            px = x[i - r:i + r + 1, j - r:j + r + 1]
            py = y[i - r:i + r + 1, j - r:j + r + 1]
            ux = (w2 * px).sum()
            uy = (w2 * py).sum()
            vx = (w2 * px * px).sum() - ux * ux
            vy = (w2 * py * py).sum() - uy * uy
            vxy = (w2 * px * py).sum() - ux * uy
            vals.append((2 * ux * uy + c1) * (2 * vxy + c2) /
                        ((ux * ux + uy * uy + c1) * (vx + vy + c2)))
    return float(np.mean(vals))


def self_check(images):
    x = images["rgb.clean"]
    y = images["rgb.noisy2"]
    s = ssim(x, x)
    assert abs(s - 1.0) < 1e-12, s
    a, b = 0.3, 0.7
    cx = np.full((1, 15, 17), a)
    cy = np.full((1, 15, 17), b)
    c1 = (0.01 * 1.0) ** 2
    want = (2 * a * b + c1) / (a * a + b * b + c1)
    got = ssim(cx, cy)
    assert abs(got - want) < 1e-12, (got, want)
    got = psnr(np.zeros((1, 5, 5)), np.full((1, 5, 5), 0.1))
    assert abs(got - 20.0) < 1e-9, got
    for sigma in (1.5, 1.0):
        want = np.mean([ssim_direct_channel(x[c], y[c], 1.0, sigma, 0.01, 0.03)
                        for c in range(3)])
        got = ssim(x, y, sigma=sigma)
        assert abs(got - want) < 1e-12, (sigma, got, want)


def smooth(h, w, phase):
    i = np.arange(h, dtype=np.float64)[:, None]
    j = np.arange(w, dtype=np.float64)[None, :]
    v = (0.5 + 0.25 * np.sin(0.21 * i + phase) * np.cos(0.17 * j - 0.5 * phase)
         + 0.15 * np.sin(0.05 * (i + 2 * j) + 2 * phase)
         + 0.1 * np.exp(-((i - 0.4 * h) ** 2 + (j - 0.6 * w) ** 2) / (2 * 6.0 ** 2)))
    return np.clip(v, 0.0, 1.0)


def make_images():
    rng = np.random.default_rng(20240611)
    h, w = 37, 41
    images = {}
    clean = {
        "gray": smooth(h, w, 0.0)[None],
        "rgb": np.stack([smooth(h, w, p) for p in (0.3, 1.4, 2.9)]),
    }
    for kind in ("gray", "rgb"):
        c = clean[kind].astype(np.float32)
        images[f"{kind}.clean"] = c
        for i, std in enumerate((0.02, 0.1, 0.3), start=1):
            n = c.astype(np.float64) + std * rng.standard_normal(c.shape)
            images[f"{kind}.noisy{i}"] = np.clip(n, 0.0, 1.0).astype(np.float32)
    return images


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        root, "spec", "fixtures", "metrics_ref.safetensors")
    images = make_images()
    self_check(images)
    items = list(images.items())
    refs = []
    for kind in ("gray", "rgb"):
        c = images[f"{kind}.clean"]
        for i in (1, 2, 3):
            n = images[f"{kind}.noisy{i}"]
            refs.append((f"{kind}.psnr{i}", psnr(c, n)))
            refs.append((f"{kind}.ssim{i}", ssim(c, n)))
            if kind == "rgb":
                refs.append((f"rgb.psnr{i}_range2", psnr(c, n, data_range=2.0)))
                refs.append((f"rgb.ssim{i}_range2", ssim(c, n, data_range=2.0)))
                refs.append((f"rgb.ssim{i}_sigma1", ssim(c, n, sigma=1.0)))
    items += [(k, np.array([v], dtype=np.float64)) for k, v in refs]
    meta = {"generator": "tools/make_metric_references.py",
            "numpy": np.__version__,
            "ssim": "skimage structural_similarity, gaussian_weights=True, "
                    "use_sample_covariance=False, channel_axis=0; see the script"}
    n = write_safetensors(out, items, meta)
    print(f"wrote {out} ({n} bytes)")
    for k, v in refs:
        print(f"  {k:18s} {v:.10f}")


if __name__ == "__main__":
    main()
