"""One GAN training step in PyTorch eager, timed: the reference side of
bench/gpu_bench.sh (--step dcgan) and of bench/gan_step.sh (both steps, CPU).
sgen's side is bench/gpu_dcgan_step.lua: the same networks (models/dcgan.lua),
the same step, the same number of forward and backward passes, the same options.

Networks: PyTorch's DCGAN example one stride-2 stage shorter (32x32 images),
nz=100, ngf=ndf=64 by default (the sparse-GAN papers' Appendix A: --ngf 128
--ndf 64), bias-free 4x4 (transposed) convolutions, BatchNorm, ReLU /
LeakyReLU(0.2), Tanh; the example's weights_init (conv N(0, 0.02), BN weight
N(1, 0.02), BN bias 0). The discriminator ends in a logit (no Sigmoid): the
loss is binary_cross_entropy_with_logits. --sparsity l0inf --k 16 inserts,
before the generator's last ConvTranspose2d, the projection of Γ that
models/dcgan.lua's Generator({sparsity="l0inf"}) does (nn.L0InfProject): per
sample and spatial position keep the k channels of largest |value| (topk of
abs over dim 1, a scattered 0/1 mask, multiplied; the gradient is masked).

--step dcgan (default), as in the example (Adam lr 2e-4, betas 0.5/0.999):
  D: zero_grad; loss on a fixed real batch (label 1), backward; z ~ N(0, 1),
     fake = G(z), loss on fake.detach() (label 0), backward; D step
  G: zero_grad; loss of D(fake) against label 1, backward; G step
--step wgan-gp: one WGAN-GP critic step (what experiments/gan_sparse.lua's
d_step does), the critic = models/dcgan.lua's Critic (the discriminator
without BatchNorm, with conv biases, biases 0 at init), Adam lr 1e-4, betas
0/0.9 for D and G:
  z ~ N(0, 1), fake = G(z).detach() (G in train mode, grad mode on);
  loss = mean D(fake) - mean D(real) + 10 mean((||grad_xhat D(xhat)||_2 - 1)^2),
  xhat = eps real + (1 - eps) fake, eps ~ U(0, 1) per sample, the gradient by
  torch.autograd.grad(create_graph=True) (as sg.gan.gradient_penalty):
  3 critic forwards, one backward to xhat, one backward of the whole (double
  backward); D step. --full_iters N (default 0) also times N whole iterations:
  --n_critic (5) critic steps, then one G step (z ~ N(0, 1), loss
  -mean D(G(z)), backward, G step).

TF32 is off by default for matmul AND cuDNN convolutions (sgen's default is
full float32; PyTorch's own default leaves cuDNN's TF32 on): --tf32 turns both
on. --cudnn_benchmark sets torch.backends.cudnn.benchmark (PyTorch eager's
default is off).

    python3 bench/gpu_dcgan_step.py --device cuda [--batch 64 --iters 50 --warmup 5 --tf32 --cudnn_benchmark]
        [--step dcgan|wgan-gp --sparsity none|l0inf --k 16 --nc 3 --full_iters 0 --n_critic 5]
prints one line: `torch dcgan_step batch=64 ms_per_iter=... device=... params_G=... params_D=... peak_mib=...`
(`torch wgan_gp_step ...` for --step wgan-gp, with `ms_full_iter=...` where --full_iters > 0).
"""
import argparse
import math
import time

import torch
import torch.nn as nn


class L0InfProject(nn.Module):
    """Per sample and spatial position, keep the k channels (dim 1) of
    largest |value| and zero the others (sgen's nn.L0InfProject)."""

    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        idx = x.abs().topk(self.k, dim=1).indices
        mask = torch.zeros_like(x).scatter_(1, idx, 1.0)
        return x * mask


def generator(nz=100, ngf=64, nc=3, sparsity="none", k=16):
    proj = [L0InfProject(k)] if sparsity == "l0inf" else []
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        *proj,
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())


def discriminator(ndf=64, nc=3):
    return nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False))


def critic(ndf=64, nc=3):
    """models/dcgan.lua's Critic: no BatchNorm, conv biases (zeroed at init).
    LeakyReLU not in place (the double backward needs its input)."""
    return nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * 4, 1, 4, 1, 0))


class Wrap(nn.Module):
    """`main` holds the layers, so state_dict names are main.0.weight, ...
    as in models/dcgan.lua."""

    def __init__(self, main):
        super().__init__()
        self.main = main

    def forward(self, x):
        return self.main(x)


def weights_init(m):
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--nz", type=int, default=100)
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--ndf", type=int, default=64)
    ap.add_argument("--nc", type=int, default=3)
    ap.add_argument("--step", choices=["dcgan", "wgan-gp"], default="dcgan")
    ap.add_argument("--sparsity", choices=["none", "l0inf"], default="none")
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--full_iters", type=int, default=0)
    ap.add_argument("--n_critic", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--cudnn_benchmark", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.iters < 1 or args.warmup < 0 or args.batch < 1 or args.full_iters < 0 or args.n_critic < 1:
        ap.error("--iters, --batch, --n_critic must be >= 1; --warmup, --full_iters >= 0")
    if args.sparsity == "l0inf" and not 1 <= args.k <= args.ngf:
        ap.error(f"--k must be in 1..{args.ngf} for --sparsity l0inf")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    wgan = args.step == "wgan-gp"
    G = Wrap(generator(args.nz, args.ngf, args.nc, args.sparsity, args.k)).to(dev)
    D = Wrap((critic if wgan else discriminator)(args.ndf, args.nc)).to(dev)
    G.apply(weights_init)
    D.apply(weights_init)
    lr, betas = (1e-4, (0.0, 0.9)) if wgan else (2e-4, (0.5, 0.999))
    optD = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    optG = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    B = args.batch
    real = (torch.rand(B, args.nc, 32, 32) * 2 - 1).to(dev)
    ones = torch.ones(B, device=dev)
    zeros = torch.zeros(B, device=dev)
    bce = nn.functional.binary_cross_entropy_with_logits

    def dcgan_step():
        optD.zero_grad()
        errD_real = bce(D(real).view(-1), ones)
        errD_real.backward()
        z = torch.randn(B, args.nz, 1, 1, device=dev)
        fake = G(z)
        errD_fake = bce(D(fake.detach()).view(-1), zeros)
        errD_fake.backward()
        optD.step()

        optG.zero_grad()
        errG = bce(D(fake).view(-1), ones)
        errG.backward()
        optG.step()
        return errD_real, errD_fake, errG

    def gradient_penalty(real, fake, lam=10.0):
        # sg.gan.gradient_penalty: x̂ = eps real + (1 - eps) fake, eps ~ U(0, 1) per sample
        eps = torch.rand(B, 1, 1, 1, device=dev)
        xhat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
        out = D(xhat).view(-1)
        g = torch.autograd.grad(out.sum(), xhat, create_graph=True)[0]
        norms = g.reshape(B, -1).norm(2, dim=1)
        return ((norms - 1) ** 2).mean() * lam

    def critic_step():
        z = torch.randn(B, args.nz, 1, 1, device=dev)
        fake = G(z).detach()
        loss = D(fake).view(-1).mean() - D(real).view(-1).mean()
        gp = gradient_penalty(real, fake, 10.0)
        loss = loss + gp
        optD.zero_grad()
        loss.backward()
        optD.step()
        return loss, gp, None

    def wgan_g_step():
        z = torch.randn(B, args.nz, 1, 1, device=dev)
        errG = -D(G(z)).view(-1).mean()
        optG.zero_grad()
        errG.backward()
        optG.step()
        return errG

    step = critic_step if wgan else dcgan_step

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def finite(name, x):
        if not math.isfinite(x):
            raise SystemExit(f"torch: {args.step}: {name} is not finite ({x})")
        return x

    for _ in range(args.warmup):
        step()
    sync()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(args.iters):
        a, b, c = step()
    sync()
    ms = (time.perf_counter() - t0) * 1000 / args.iters
    pg = sum(p.numel() for p in G.parameters())
    pd = sum(p.numel() for p in D.parameters())
    peak = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else 0
    sparsity = f"sparsity=l0inf k={args.k}" if args.sparsity == "l0inf" else "sparsity=none"
    head = (f"batch={B} ms_per_iter={ms:.3f} device={args.device} "
            f"tf32={str(args.tf32).lower()} cudnn_benchmark={str(args.cudnn_benchmark).lower()} "
            f"params_G={pg} params_D={pd} peak_mib={peak:.0f}")
    if not wgan:
        lD, lG = finite("loss_D", a.item() + b.item()), finite("loss_G", c.item())
        print(f"torch dcgan_step {head} loss_D={lD:.4f} loss_G={lG:.4f} {sparsity}")
        return
    lD, gp = finite("loss_D", a.item()), finite("gp", b.item())
    full = ""
    if args.full_iters > 0:
        sync()
        t1 = time.perf_counter()
        for _ in range(args.full_iters):
            for _ in range(args.n_critic):
                critic_step()
            lG = wgan_g_step()
        sync()
        msf = (time.perf_counter() - t1) * 1000 / args.full_iters
        full = (f" ms_full_iter={msf:.3f} n_critic={args.n_critic} full_iters={args.full_iters} "
                f"loss_G={finite('loss_G', lG.item()):.4f}")
    print(f"torch wgan_gp_step {head} loss_D={lD:.4f} gp={gp:.4f} {sparsity}{full}")


if __name__ == "__main__":
    main()
