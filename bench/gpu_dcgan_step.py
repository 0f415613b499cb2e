"""One DCGAN training step in PyTorch eager, timed: the reference side of
bench/gpu_bench.sh (sgen's side is bench/gpu_dcgan_step.lua, the same networks:
models/dcgan.lua).

Networks: PyTorch's DCGAN example one stride-2 stage shorter (32x32 images),
nz=100, ngf=ndf=64, bias-free 4x4 (transposed) convolutions, BatchNorm,
ReLU / LeakyReLU(0.2), Tanh; the example's weights_init (conv N(0, 0.02), BN
weight N(1, 0.02), BN bias 0). The discriminator ends in a logit (no
Sigmoid): the loss is binary_cross_entropy_with_logits. One step, as in the
example (Adam lr 2e-4, betas 0.5/0.999):
  D: zero_grad; loss on a fixed real batch (label 1), backward; z ~ N(0, 1),
     fake = G(z), loss on fake.detach() (label 0), backward; D step
  G: zero_grad; loss of D(fake) against label 1, backward; G step

TF32 is off by default for matmul AND cuDNN convolutions (sgen's default is
full float32; PyTorch's own default leaves cuDNN's TF32 on): --tf32 turns both
on. --cudnn_benchmark sets torch.backends.cudnn.benchmark (PyTorch eager's
default is off).

    python3 bench/gpu_dcgan_step.py --device cuda [--batch 64 --iters 50 --warmup 5 --tf32 --cudnn_benchmark]
prints one line: `torch dcgan_step batch=64 ms_per_iter=... device=... params_G=... params_D=... peak_mib=...`.
"""
import argparse
import time

import torch
import torch.nn as nn


def generator(nz=100, ngf=64, nc=3):
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())


def discriminator(ndf=64, nc=3):
    return nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False))


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
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--cudnn_benchmark", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    G = Wrap(generator(args.nz, args.ngf)).to(dev)
    D = Wrap(discriminator(args.ndf)).to(dev)
    G.apply(weights_init)
    D.apply(weights_init)
    optD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    B = args.batch
    real = (torch.rand(B, 3, 32, 32) * 2 - 1).to(dev)
    ones = torch.ones(B, device=dev)
    zeros = torch.zeros(B, device=dev)
    bce = nn.functional.binary_cross_entropy_with_logits

    def step():
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

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        step()
    sync()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(args.iters):
        dr, df, g = step()
    sync()
    ms = (time.perf_counter() - t0) * 1000 / args.iters
    pg = sum(p.numel() for p in G.parameters())
    pd = sum(p.numel() for p in D.parameters())
    peak = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else 0
    print(f"torch dcgan_step batch={B} ms_per_iter={ms:.3f} device={args.device} "
          f"tf32={str(args.tf32).lower()} cudnn_benchmark={str(args.cudnn_benchmark).lower()} "
          f"params_G={pg} params_D={pd} peak_mib={peak:.0f} loss_D={dr.item() + df.item():.4f} loss_G={g.item():.4f}")


if __name__ == "__main__":
    main()
