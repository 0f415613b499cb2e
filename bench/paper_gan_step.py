"""One whole training iteration of SPGAN (paper 002) or of Self-Sparse GAN
(paper 003) in PyTorch eager, timed: the reference side of
bench/paper_gan_step.sh. sgen's side is bench/paper_gan_step.lua (which runs
models/spgan.lua, models/self_sparse.lua, models/dcgan.lua with the loop
bodies of experiments/spgan.lua and experiments/self_sparse.lua): the same
networks, the same iteration, the same forward and backward passes, the same
optimizers, the same options.

--model spgan (nc = 1, 36 atoms of 1x3x3, lambda0 = 0.1 learnable per atom;
Adam 1e-4, betas (0, 0.9) for G and D, 5 critic steps, penalty centred at 1
with weight 10):
  --variant spgan (default): the DCGAN trunk (ConvT(nz -> 4 ngf) 1 -> 4, BN,
    ReLU, -> 2 ngf 8x8, BN, ReLU, -> ngf 16x16, BN, ReLU), ConvT(ngf -> 36)
    16 -> 32 (bias-free, no BN, no activation), the soft threshold
    sign(a) relu(|a| - lambda) with one learnable lambda per atom
    (threshold.lambda, 36 x 1 x 1), then x = conv_transpose2d(Gamma, W,
    padding 1) / overlap, W = Omega^T reshaped to 36 x 1 x 3 x 3 (each
    forward, as models/spgan.lua), Omega a fixed random 9 x 36 buffer of
    unit-norm N(0, 1) columns, overlap = conv_transpose2d(1, 1_{3x3}) a
    buffer; no Tanh. After G's Adam step lambda is clamped to >= 0 under
    no_grad (G:project_lambda()); the non-zero share of Gamma is read.
  --variant wgan-gp: the DCGAN generator (last ConvT(ngf -> nc), Tanh).
  D: models/dcgan.lua's Critic: Conv(nc -> ndf, 4x4 s2 p1) LReLU(0.2),
    Conv(-> 2 ndf) LReLU, Conv(-> 4 ndf) LReLU, Conv(-> 1, 4x4 s1 p0), with
    biases (zeroed at init), no BN; output viewed as N scores.
--model self-sparse (--size 32 by default; nc = 1; Adam G 1e-4, D 3e-4,
betas (0.5, 0.999), 2 critic steps, zero-centred penalty with weight 10):
  --variant self-sparse (default): T = log2(size) - 1 stages; stage t:
    ConvT (stage 1: nz -> , s1 p0; then s2 p1; widths ngf * 2^(T-1-t), the
    last nc) -> SASTM -> BN -> ReLU, the last stage ConvT -> SASTM -> Tanh.
    SASTM(C, H, W): e = relu(f(z)), f = Linear(nz, nz); alpha = relu(g1(e))
    (N x C); beta = relu(g2(e)) (N x H x W); x = h * (alpha + beta) (one
    product with the broadcast sum of the two coefficients, as nn.SASTM),
    then, under no_grad, the zero counts of x per (sample, channel), of alpha
    and of beta (nn.SASTM computes them in every forward for sparse_rates()).
  --variant wgan: the same generator without SASTMs.
  D: models/self_sparse.lua's Critic (at size 32 the one above).
Initialisation: DCGAN's (conv and transposed conv weights N(0, 0.02), BN
weights N(1, 0.02), BN biases 0, critic biases 0); Linear layers PyTorch's.

One iteration, as experiments/*.lua's loop body:
  n_critic x d_step: with no_grad: fake = G(z) (G in train mode: batch
    statistics, running statistics updated); loss = mean D(fake) - mean
    D(real) + penalty, penalty = 10 mean((||g||_2 - 1)^2) (spgan) or
    10 mean(||g||_2^2) (self-sparse, without the square root, as
    sg.gan.gradient_penalty with center 0, which also takes the detached
    norms as a diagnostic), g = torch.autograd.grad(D(xhat).sum(), xhat,
    create_graph=True), xhat = eps real + (1 - eps) fake, eps ~ U(0, 1) per
    sample; zero_grad (set_to_none), backward (the double backward), Adam
    step; loss and penalty read with .item()
  g_step: z ~ N(0, 1), loss -mean D(G(z)), zero_grad, backward, Adam step
    (spgan: then the lambda projection and the non-zero share of Gamma);
    loss read with .item()
The real batches are n_critic fixed random tensors in [-1, 1] (no data
loading is timed). --warmup untimed iterations, then the mean (and the
fastest) of --iters timed ones (time.perf_counter, after
torch.cuda.synchronize() on a GPU); ms_critic_step (mean of one critic step)
and ms_g_step (the G step with its projection) break the iteration down.

Differences from the sgen side that remain: different RNGs (the losses agree
in magnitude only); PyTorch's own kernels and autograd (e.g. the soft
threshold is five autograd ops here (sign, abs, sub, relu, mul), one fused op in sgen; Adam is
torch.optim.Adam with the installed version's default implementation on the
CPU, sgen's a fused step). zero_grad(set_to_none=True) on both sides (sgen's
default and PyTorch 2.x's; 1.13's default would zero-fill).

    python3 bench/paper_gan_step.py --model spgan [--variant spgan|wgan-gp] [--iters 5 --warmup 2
        --batch 64 --ngf 64 --ndf 64 --nz 100 --threads 2 --device cpu]
    python3 bench/paper_gan_step.py --model self-sparse [--variant self-sparse|wgan --size 32]
prints one line: `torch paper_gan_step model=... variant=... batch=... ms_per_iter=... ms_min=...
ms_critic_step=... ms_g_step=... params_G=... params_D=... loss_D=... gp=... loss_G=...`.
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SETTINGS = {
    # sg.gan.optimizer_settings("spgan") / ("self-sparse")
    "spgan": dict(lr_g=1e-4, lr_d=1e-4, betas=(0.0, 0.9), n_critic=5, gp_lambda=10.0, gp_center=1.0),
    "self-sparse": dict(lr_g=1e-4, lr_d=3e-4, betas=(0.5, 0.999), n_critic=2, gp_lambda=10.0, gp_center=0.0),
}
STAGES = {32: 4, 64: 5, 128: 6}


def weights_init(m):
    """models/dcgan.lua's init_weights (PyTorch's DCGAN example)."""
    name = m.__class__.__name__
    if name in ("Conv2d", "ConvTranspose2d"):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif name == "BatchNorm2d":
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def up(cin, cout, first):
    return nn.ConvTranspose2d(cin, cout, 4, 1 if first else 2, 0 if first else 1, bias=False)


def dcgan_trunk(nz, ngf):
    return [up(nz, ngf * 4, True), nn.BatchNorm2d(ngf * 4), nn.ReLU(),
            up(ngf * 4, ngf * 2, False), nn.BatchNorm2d(ngf * 2), nn.ReLU(),
            up(ngf * 2, ngf, False), nn.BatchNorm2d(ngf), nn.ReLU()]


class PlainGenerator(nn.Module):
    """models/dcgan.lua's Generator at size 32; experiments/self_sparse.lua's
    PlainGenerator at any size (ConvT BN ReLU per stage, ConvT Tanh last)."""

    def __init__(self, nz, ngf, nc, size=32):
        super().__init__()
        T = STAGES[size]
        layers, cin = [], nz
        for t in range(1, T + 1):
            last = t == T
            cout = nc if last else ngf * 2 ** (T - 1 - t)
            layers.append(up(cin, cout, t == 1))
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(cout), nn.ReLU()]
            cin = cout
        self.main = nn.Sequential(*layers)
        self.apply(weights_init)

    def forward(self, z):
        return self.main(z)


class SoftThreshold(nn.Module):
    """sgen's nn.SoftThreshold(lambda, {learnable = true, channels = C}):
    sign(x) max(|x| - lambda, 0), one learnable lambda per channel."""

    def __init__(self, lam, channels):
        super().__init__()
        self.register_parameter("lambda", nn.Parameter(torch.full((channels, 1, 1), float(lam))))

    def forward(self, x):
        return torch.sign(x) * torch.relu(x.abs() - getattr(self, "lambda"))


class SPGANGenerator(nn.Module):
    """models/spgan.lua's Generator (state_dict names main.0 ... main.9,
    threshold.lambda, omega)."""

    def __init__(self, nz, ngf, nc, atoms, patch, lam=0.1):
        super().__init__()
        self.nc, self.atoms, self.patch, self.pad = nc, atoms, patch, (patch - 1) // 2
        self.main = nn.Sequential(*dcgan_trunk(nz, ngf), up(ngf, atoms, False))
        self.main.apply(weights_init)
        self.threshold = SoftThreshold(lam, atoms)
        m = nc * patch * patch
        omega = torch.randn(m, atoms)
        self.register_buffer("omega", omega / omega.norm(2, 0, keepdim=True))
        count = F.conv_transpose2d(torch.ones(1, 1, 32, 32), torch.ones(1, 1, patch, patch), padding=self.pad)
        self.register_buffer("overlap", count, persistent=False)

    def forward(self, z):
        gamma = self.threshold(self.main(z))
        w = self.omega.t().reshape(self.atoms, self.nc, self.patch, self.patch)
        return F.conv_transpose2d(gamma, w, padding=self.pad) / self.overlap, gamma

    def project_lambda(self):
        lam = getattr(self.threshold, "lambda")
        with torch.no_grad():
            lam.copy_(lam.clamp(0, math.inf))


class SASTM(nn.Module):
    """sgen's nn.SASTM(C, H, W, z_dim) (hidden = z_dim, csm and psm)."""

    def __init__(self, channels, height, width, z_dim):
        super().__init__()
        self.c, self.h, self.w = channels, height, width
        self.f = nn.Linear(z_dim, z_dim)
        self.g1 = nn.Linear(z_dim, channels)
        self.g2 = nn.Linear(z_dim, height * width)
        self.last = None

    def forward(self, h, z):
        n = h.shape[0]
        e = self.f(z).relu()
        alpha = self.g1(e).relu()
        beta = self.g2(e).relu().view(n, self.h, self.w)
        x = h * (alpha.view(n, self.c, 1, 1) + beta.view(n, 1, self.h, self.w))
        with torch.no_grad():  # the diagnostics nn.SASTM keeps for sparse_rates()
            self.last = ((x.detach() == 0).sum((2, 3)), (alpha.detach() == 0).sum(), (beta.detach() == 0).sum())
        return x


class SelfSparseGenerator(nn.Module):
    """models/self_sparse.lua's Generator (csm and psm, hidden = nz)."""

    def __init__(self, nz, ngf, nc, size=32):
        super().__init__()
        T = STAGES[size]
        self.nz = nz
        layers, cin, hw = [], nz, 1
        for t in range(1, T + 1):
            last = t == T
            cout = nc if last else ngf * 2 ** (T - 1 - t)
            layers.append(up(cin, cout, t == 1))
            hw = 4 if t == 1 else hw * 2
            layers.append(SASTM(cout, hw, hw, nz))
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(cout), nn.ReLU()]
            cin = cout
        self.main = nn.Sequential(*layers)
        self.apply(weights_init)

    def forward(self, z):
        zf = z.reshape(z.shape[0], self.nz)
        h = z
        for m in self.main:
            h = m(h, zf) if isinstance(m, SASTM) else m(h)
        return h


class Critic(nn.Module):
    """models/self_sparse.lua's Critic (= models/dcgan.lua's at size 32).
    LeakyReLU not in place (the double backward needs its input)."""

    def __init__(self, ndf, nc, size=32):
        super().__init__()
        layers, cin, w, s = [], nc, ndf, size
        while s > 4:
            layers += [nn.Conv2d(cin, w, 4, 2, 1), nn.LeakyReLU(0.2)]
            cin, w, s = w, w * 2, s // 2
        layers.append(nn.Conv2d(cin, 1, 4, 1, 0))
        self.main = nn.Sequential(*layers)
        self.apply(weights_init)
        for name, p in self.named_parameters():
            if name.endswith(".bias"):
                nn.init.zeros_(p)

    def forward(self, x):
        return self.main(x).view(-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["spgan", "self-sparse"], default="spgan")
    ap.add_argument("--variant", default="")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--nz", type=int, default=100)
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--ndf", type=int, default=64)
    ap.add_argument("--nc", type=int, default=1)
    ap.add_argument("--atoms", type=int, default=36)
    ap.add_argument("--patch", type=int, default=3)
    ap.add_argument("--size", type=int, default=32, choices=[32, 64, 128])
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.iters < 1 or args.warmup < 0 or min(args.batch, args.nz, args.ngf, args.ndf, args.nc, args.atoms,
                                                 args.patch) < 1:
        ap.error("--iters, --batch, --nz, --ngf, --ndf, --nc, --atoms, --patch must be >= 1; --warmup >= 0")
    variants = {"spgan": ("spgan", "wgan-gp"), "self-sparse": ("self-sparse", "wgan")}[args.model]
    variant = args.variant or variants[0]
    if variant not in variants:
        ap.error(f"--variant for --model {args.model} must be {variants[0]} or {variants[1]}, got '{variant}'")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    s = SETTINGS[args.model]
    B, nc, nz = args.batch, args.nc, args.nz
    S = args.size if args.model == "self-sparse" else 32
    sparse_g = variant == "spgan"
    if args.model == "spgan":
        G = SPGANGenerator(nz, args.ngf, nc, args.atoms, args.patch, 0.1) if sparse_g else PlainGenerator(nz, args.ngf, nc)
        D = Critic(args.ndf, nc)
    else:
        G = SelfSparseGenerator(nz, args.ngf, nc, S) if variant == "self-sparse" else PlainGenerator(nz, args.ngf, nc, S)
        D = Critic(args.ndf, nc, S)
    G, D = G.to(dev), D.to(dev)
    optG = torch.optim.Adam(G.parameters(), lr=s["lr_g"], betas=s["betas"])
    optD = torch.optim.Adam(D.parameters(), lr=s["lr_d"], betas=s["betas"])
    n_critic, gp_lambda, center = s["n_critic"], s["gp_lambda"], s["gp_center"]
    reals = [(torch.rand(B, nc, S, S) * 2 - 1).to(dev) for _ in range(n_critic)]

    def randz():
        return torch.randn(B, nz, 1, 1, device=dev)

    def gradient_penalty(real, fake):
        # sg.gan.gradient_penalty(D, real, fake, {lambda = 10, center = center})
        eps = torch.rand(B, 1, 1, 1, device=dev)
        xhat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
        out = D(xhat)
        g = torch.autograd.grad(out.sum(), xhat, create_graph=True)[0]
        flat = g.reshape(B, -1)
        if center == 0:
            sq = (flat * flat).sum(1)
            return sq.mean() * gp_lambda, sq.detach().sqrt()
        norms = flat.norm(2, dim=1)
        return ((norms - center) ** 2).mean() * gp_lambda, norms.detach()

    def g_forward(z):
        if sparse_g:
            return G(z)
        return G(z), None

    def d_step(real):
        with torch.no_grad():
            fake, _ = g_forward(randz())
        loss_d = D(fake).mean() - D(real).mean()
        gp, _ = gradient_penalty(real, fake)
        total = loss_d + gp
        optD.zero_grad(set_to_none=True)
        total.backward()
        optD.step()
        return total.item(), gp.item()

    def g_step():
        fake, gamma = g_forward(randz())
        loss_g = -D(fake).mean()
        optG.zero_grad(set_to_none=True)
        loss_g.backward()
        optG.step()
        if sparse_g:
            G.project_lambda()
        nzp = None
        if gamma is not None:  # sg.sparse.sparsity: share of non-zero entries
            g = gamma.detach()
            nzp = 100 * (g != 0).sum().item() / g.numel()
        return loss_g.item(), nzp

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    phase = {"d": 0.0, "g": 0.0}  # time of the critic steps / of the G step (a breakdown)

    def iteration():
        t0 = time.perf_counter()
        for i in range(n_critic):
            ld, gp = d_step(reals[i])
        sync()
        t1 = time.perf_counter()
        lg, nzp = g_step()
        sync()
        phase["d"] += t1 - t0
        phase["g"] += time.perf_counter() - t1
        return ld, gp, lg, nzp

    def finite(name, x):
        if not math.isfinite(x):
            raise SystemExit(f"torch: {args.model} {variant}: {name} is not finite ({x})")
        return x

    for _ in range(args.warmup):
        iteration()
    sync()
    phase["d"] = phase["g"] = 0.0
    total, best = 0.0, math.inf
    for _ in range(args.iters):
        t0 = time.perf_counter()
        ld, gp, lg, nzp = iteration()
        sync()
        dt = time.perf_counter() - t0
        total += dt
        best = min(best, dt)
    pg = sum(p.numel() for p in G.parameters())
    pd = sum(p.numel() for p in D.parameters())
    extra = f" size={S}" if args.model == "self-sparse" else ""
    if nzp is not None:
        extra += f" nonzero_gamma={nzp:.2f}"
    print(f"torch paper_gan_step model={args.model} variant={variant} batch={B} ms_per_iter={total * 1000 / args.iters:.3f} "
          f"ms_min={best * 1000:.3f} ms_critic_step={phase['d'] * 1000 / (args.iters * n_critic):.3f} "
          f"ms_g_step={phase['g'] * 1000 / args.iters:.3f} device={args.device} threads={torch.get_num_threads()} n_critic={n_critic} "
          f"params_G={pg} params_D={pd} loss_D={finite('loss_D', ld):.4f} gp={finite('gp', gp):.4f} "
          f"loss_G={finite('loss_G', lg):.4f}{extra} torch={torch.__version__}")


if __name__ == "__main__":
    main()
