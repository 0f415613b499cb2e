"""One CSC-CTRL training step (one max step of the encoder, then one min step
of the decoder) in PyTorch eager, timed: the reference side of
bench/csc_ctrl_step.sh. sgen's side is bench/csc_ctrl_step.lua
(models/csc_ctrl.lua driven by sgen.ctrl.Game, as experiments/csc_ctrl.lua
does); this file writes the same model and step out in PyTorch, op for op.

Model (Fashion-MNIST: nc = 1, 32x32; c = round(64 width), nz = 8c):
  f: CSC(1 -> c, s2 p1) LeakyReLU(0.2), CSC(c -> 2c, s2 p1) BN LeakyReLU(0.2),
     CSC(2c -> 4c, s2 p1) BN LeakyReLU(0.2), CSC(4c -> nz, s1 p0), flatten,
     rows scaled to unit l2 norm (Z / max(||Z||, 1e-12))
  g: CSCDecoder(layer 4) BN ReLU, CSCDecoder(3) BN ReLU, CSCDecoder(2) BN ReLU,
     CSCDecoder(1) Tanh: conv_transpose2d with the encoder's very dictionary
     (shared parameters: each optimizer holds them, with its own moments)
CSC layer (sgen's nn.CSC with the model's options): 4x4 atoms, lambda 0.01,
2 unrolled FISTA iterations from z = 0, prox = relu(v - lambda step), step =
0.9 / L; every forward first rescales the atoms to unit norm (in place, under
no_grad, skipped when every norm is within 1e-6 of 1: one host read);
L = lambda_max(A^T A) by power iteration on one code map of the layer's code
shape (a fixed-seed uniform start from its own generator, at most 50 steps,
stop when the unit iterate moves less than 1e-5, two host reads per step (the
norm and the move) as sgen on the CPU, then the Rayleigh quotient), cached
and recomputed at the first forward and then when 2 training forwards have
used it (refresh_every = 2: once per player step, at its first f pass). As in
sgen, the last FISTA iteration returns its iterate without computing the next
extrapolation point (which nothing reads). Strategy 1 solves f's codes with
the detached dictionary.
--model ctrl: the CTRL baseline of models/csc_ctrl.lua: Conv2d / unshared
ConvTranspose2d of the same shapes, bias-free, DCGAN init (weights N(0, 0.02),
BN weights N(1, 0.02), biases 0).
BatchNorm2d: eps 1e-5, momentum 0.1; activations not in place (as sgen).

Objective (sgen.F_rate.rate_reduction, no labels: one class, normalize off):
R(Z) = 1/2 logdet(I + d/(n eps2) Gram), Gram = Z Z^T when n < d else Z^T Z,
eps2 = 0.5, torch.logdet; the same three logdets as sgen (R(Z), R(Zh), used
for the class term too, and R(Z u Zh)); total = dR(Z) + dR(Zh) + dR(Z, Zh). The ΔR terms are read back as numbers after each player step.
Step (sgen.ctrl.Game, strategy 2 by default), Adam lr 2e-4, betas (0, 0.9),
zero_grad(set_to_none=True) (sgen's default):
  max: Z = f(X), Xh = g(Z.detach()) under no_grad, Zh = f(Xh); backward;
       Adam(maximize=True) step on f's parameters
  min: Z = f(X), Xh = g(Z), Zh = f(Xh) (strategy 1: f with the detached
       dictionaries, Xh = g(Z.detach())); backward; Adam step on g's
X is a fixed random batch in [-1, 1] (no data loading is timed).

    python3 bench/csc_ctrl_step.py [--model csc|ctrl --strategy 2 --batch 128 --width 1
                                    --iters 5 --warmup 2 --threads 2]
prints one line: `torch csc_ctrl_step model=csc strategy=2 batch=128 width=1 ms_per_iter=...
threads=... params=... params_f=... params_g=... max_total=... min_total=... R_Z=...
R_Zhat=... delta_R_pairs=... power_iters=a/b/c/d` (as bench/csc_ctrl_step.lua).
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

POWER_SEED = 20240607


def code_geometry(hw, k, s, p):
    span = hw + 2 * p - k
    return span // s + 1, span % s


class CSC(nn.Module):
    """sgen's nn.CSC (lua/sgen/nn/csc.lua) with nonneg = true, normalize = true."""

    def __init__(self, cin, atoms, k, stride, padding, lam=0.01, iters=2, refresh_every=2,
                 power_iters=50, power_tol=1e-5):
        super().__init__()
        self.cin, self.atoms, self.k = cin, atoms, k
        self.stride, self.padding = stride, padding
        self.lam, self.iters = lam, iters
        self.refresh_every, self.power_iters, self.power_tol = refresh_every, power_iters, power_tol
        self.weight = nn.Parameter(torch.empty(atoms, cin, k, k))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # PyTorch's conv init
        self.normalize_atoms()
        self.L, self.since, self.key = None, 0, None
        self.last_power_steps = 0
        self.power_start = None  # bench/csc_ctrl_step_check.py: sgen's start vector

    def normalize_atoms(self):
        W = self.weight
        with torch.no_grad():
            n = W.norm(2, dim=(1, 2, 3), keepdim=True)
            if (n - 1).abs().max().item() > 1e-6:
                W.copy_(W / n.clamp(min=1e-12))

    def A(self, z, W, op):
        return F.conv_transpose2d(z, W, stride=self.stride, padding=self.padding, output_padding=op)

    def At(self, x, W):
        return F.conv2d(x, W, stride=self.stride, padding=self.padding)

    def code_shape(self, x):
        h, oph = code_geometry(x.shape[-2], self.k, self.stride, self.padding)
        w, opw = code_geometry(x.shape[-1], self.k, self.stride, self.padding)
        return (self.atoms, h, w), (oph, opw)

    def power_iteration(self, shape, op):
        W = self.weight
        with torch.no_grad():
            if self.power_start is not None:
                v = self.power_start.clone()
            else:
                gen = torch.Generator().manual_seed(POWER_SEED)
                v = torch.rand(1, *shape, generator=gen, dtype=W.dtype)
            v = v / v.norm()
            steps = 0
            for _ in range(self.power_iters):
                steps += 1
                u = self.At(self.A(v, W, op), W)
                nu = u.norm().item()
                if nu == 0:
                    return 0.0
                vn = u / nu
                moved = (vn - v).norm().item()
                v = vn
                if moved < self.power_tol:
                    break
            self.last_power_steps = steps
            return (self.At(self.A(v, W, op), W) * v).sum().item()

    def forward(self, x, detach_dictionary=False):
        self.normalize_atoms()
        shape, op = self.code_shape(x)
        key = (shape, op)
        if (self.L is None or key != self.key or (self.training and self.since >= self.refresh_every)
                or (not self.training and self.since > 0)):
            self.L, self.since, self.key = self.power_iteration(shape, op), 0, key
        if self.training:
            self.since += 1
        W = self.weight.detach() if detach_dictionary else self.weight
        step = 0.9 / self.L
        thr = self.lam * step
        z = torch.relu(self.At(x, W) * step - thr)
        y, t = z, 1.0
        for k in range(2, self.iters + 1):
            r = x - self.A(y, W, op)
            znew = torch.relu(y + self.At(r, W) * step - thr)
            if k == self.iters:  # no extrapolation after the last iteration (as sgen)
                return znew
            tn = (1 + math.sqrt(1 + 4 * t * t)) / 2
            y = znew + (znew - z) * ((t - 1) / tn)
            t = tn
            z = znew
        return z


class CSCDecoder(nn.Module):
    """sgen's nn.CSCDecoder: A(z) with the CSC layer's own weight (output_padding 0)."""

    def __init__(self, csc):
        super().__init__()
        self.csc = csc

    def forward(self, z):
        self.csc.normalize_atoms()
        return F.conv_transpose2d(z, self.csc.weight, stride=self.csc.stride, padding=self.csc.padding)


def layer_table(c, nc=1):
    """{in, out, stride, padding, bn_after} of the encoder, as models/csc_ctrl.lua (32x32)."""
    ch = [c, 2 * c, 4 * c]
    layers, cin = [], nc
    for i, co in enumerate(ch):
        layers.append((cin, co, 2, 1, i > 0))
        cin = co
    layers.append((cin, 2 * ch[-1], 1, 0, False))
    return layers


class Encoder(nn.Module):
    def __init__(self, layers, kind, lam):
        super().__init__()
        mods = []
        for i, (cin, cout, s, p, bn) in enumerate(layers):
            if kind == "csc":
                mods.append(CSC(cin, cout, 4, s, p, lam=lam))
            else:
                mods.append(nn.Conv2d(cin, cout, 4, s, p, bias=False))
            if i < len(layers) - 1:
                if bn:
                    mods.append(nn.BatchNorm2d(cout))
                mods.append(nn.LeakyReLU(0.2))
        self.main = nn.Sequential(*mods)

    def forward(self, x, detach_dictionary=False):
        h = x
        for layer in self.main:
            h = layer(h, detach_dictionary) if isinstance(layer, CSC) else layer(h)
        Z = h.flatten(1)
        return Z / Z.norm(2, dim=-1, keepdim=True).clamp(min=1e-12)


class Decoder(nn.Module):
    def __init__(self, layers, kind, enc):
        super().__init__()
        csc = [m for m in enc.main if isinstance(m, CSC)]
        mods = []
        for i in range(len(layers) - 1, -1, -1):
            cin, cout, s, p, _ = layers[i]
            if kind == "csc":
                mods.append(CSCDecoder(csc[i]))
            else:
                mods.append(nn.ConvTranspose2d(cout, cin, 4, s, p, bias=False))
            if i > 0:
                mods += [nn.BatchNorm2d(cin), nn.ReLU()]
            else:
                mods.append(nn.Tanh())
        self.main = nn.Sequential(*mods)

    def forward(self, z):
        return self.main(z.view(z.shape[0], z.shape[1], 1, 1))


def dcgan_init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def rate(Z, eps2):
    n, d = Z.shape[-2], Z.shape[-1]
    c = d / (n * eps2)
    G = Z @ Z.transpose(-2, -1) if n < d else Z.transpose(-2, -1) @ Z
    I = torch.eye(G.shape[-1], dtype=Z.dtype, device=Z.device)
    return torch.logdet(G * c + I) * 0.5


def rate_reduction(Z, Zh, eps2=0.5):
    """sgen.F_rate.rate_reduction(Z, Zh, nil, eps2, {normalize = false}): one class."""
    R_Z, R_Zh = rate(Z, eps2), rate(Zh, eps2)
    rj, rhj = R_Z, R_Zh  # the one class is all of Z (Zh): its rates are R(Z), R(Zh)
    rc, rch = rj * 1.0, rhj * 1.0
    pair = rate(torch.cat([Z, Zh], 0), eps2) - (rj + rhj) * 0.5
    dZ, dZh = R_Z - rc, R_Zh - rch
    total = dZ + dZh + pair
    return total, {"R_Z": R_Z, "Rc_Z": rc, "delta_R_Z": dZ, "R_Zhat": R_Zh, "Rc_Zhat": rch,
                   "delta_R_Zhat": dZh, "delta_R_pairs": pair}


def numbers(total, terms):
    out = {"total": total.item()}
    for k, v in terms.items():
        out[k] = v.item()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["csc", "ctrl"], default="csc")
    ap.add_argument("--strategy", type=int, choices=[1, 2], default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.iters < 1 or args.warmup < 0 or args.batch < 2:
        ap.error("--iters must be >= 1, --warmup >= 0, --batch >= 2")
    c = int(math.floor(64 * args.width + 0.5))
    if c < 1:
        ap.error("--width must be positive")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    layers = layer_table(c)
    f = Encoder(layers, args.model, 0.01)
    g = Decoder(layers, args.model, f)
    net = nn.ModuleDict({"f": f, "g": g})
    if args.model == "ctrl":
        net.apply(dcgan_init)
    betas = (0.0, 0.9)
    opt_max = torch.optim.Adam(f.parameters(), lr=2e-4, betas=betas, maximize=True)
    opt_min = torch.optim.Adam(g.parameters(), lr=2e-4, betas=betas)
    X = torch.rand(args.batch, 1, 32, 32) * 2 - 1
    s1 = args.strategy == 1

    def max_step():
        opt_max.zero_grad(set_to_none=True)
        Z = f(X)
        with torch.no_grad():
            Xh = g(Z.detach())
        Zh = f(Xh)
        total, terms = rate_reduction(Z, Zh)
        total.backward()
        opt_max.step()
        return numbers(total, terms)

    def min_step():
        opt_min.zero_grad(set_to_none=True)
        Z = f(X, s1)
        Xh = g(Z.detach() if s1 else Z)
        Zh = f(Xh, s1)
        total, terms = rate_reduction(Z, Zh)
        total.backward()
        opt_min.step()
        return numbers(total, terms)

    def step():
        return max_step(), min_step()

    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(args.iters):
        mx, mn = step()
    ms = (time.perf_counter() - t0) * 1000 / args.iters

    for name in ("total", "delta_R_pairs"):
        for side, d in (("max", mx), ("min", mn)):
            if not math.isfinite(d[name]):
                raise SystemExit(f"torch: csc_ctrl_step: {side} {name} is not finite ({d[name]})")
    pi = "-"
    if args.model == "csc":
        # recount on the final dictionaries, as the sgen side does
        steps, size = [], 32
        for m in f.main:
            if isinstance(m, CSC):
                shape, op = m.code_shape(torch.zeros(1, m.cin, size, size))
                m.power_iteration(shape, op)
                steps.append(str(m.last_power_steps))
                size = shape[1]
        pi = "/".join(steps)

    def count(ps):
        return sum(p.numel() for p in ps)

    print(f"torch csc_ctrl_step model={args.model} strategy={args.strategy} batch={args.batch} "
          f"width={args.width:g} ms_per_iter={ms:.3f} threads={torch.get_num_threads()} "
          f"params={count(net.parameters())} params_f={count(f.parameters())} "
          f"params_g={count(g.parameters())} max_total={mx['total']:.4f} min_total={mn['total']:.4f} "
          f"R_Z={mn['R_Z']:.4f} R_Zhat={mn['R_Zhat']:.4f} delta_R_pairs={mn['delta_R_pairs']:.4f} "
          f"power_iters={pi}")


if __name__ == "__main__":
    main()
