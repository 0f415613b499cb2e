"""One Deep Image Prior training iteration in PyTorch: the reference side of
bench/dip_step.sh (sgen's side is bench/dip_step.lua, the same network).

The network is DIP's "skip" hourglass (docs: ../shared/docs/REFERENCE-NOTES.md):
per scale a skip branch Conv1x1(in->skip)-BN-LReLU, a deeper branch
Conv3x3/2(in->ch)-BN-LReLU-Conv3x3(ch->ch)-BN-LReLU-[next]-Upsample x2, and a
merge BN(concat)-Conv3x3-BN-LReLU-Conv1x1-BN-LReLU; reflection padding before
every conv; head Conv1x1(ch->3)-Sigmoid. One iteration = input perturbation,
forward, MSE loss, backward, Adam step, as in dip_denoise.

    python3 bench/dip_step.py --size 128 --iters 5 [--channels 128 --scales 5]
prints one line: `torch dip_step size=128 ms_per_iter=... threads=...`.
"""
import argparse
import time

import torch
import torch.nn as nn


def conv(cin, cout, k, stride=1):
    layers = []
    pad = (k - 1) // 2
    if pad > 0:
        layers.append(nn.ReflectionPad2d(pad))
    layers.append(nn.Conv2d(cin, cout, k, stride=stride, padding=0, bias=True))
    return layers


def bn_act(c):
    return [nn.BatchNorm2d(c), nn.LeakyReLU(0.2)]


class Concat(nn.Module):
    def __init__(self, a, b):
        super().__init__()
        self.a, self.b = a, b

    def forward(self, x):
        ya, yb = self.a(x), self.b(x)
        h = min(ya.shape[2], yb.shape[2])
        w = min(ya.shape[3], yb.shape[3])

        def crop(y):
            dh, dw = (y.shape[2] - h) // 2, (y.shape[3] - w) // 2
            return y[:, :, dh:dh + h, dw:dw + w]

        return torch.cat([crop(ya), crop(yb)], 1)


def skip_net(cin=32, cout=3, ch=128, skip=4, scales=5):
    def level(i, cin_level):
        deeper = nn.Sequential(*conv(cin_level, ch, 3, 2), *bn_act(ch), *conv(ch, ch, 3), *bn_act(ch))
        if i + 1 < scales:
            deeper.add_module("next", level(i + 1, ch))
            deeper_out = ch
        else:
            deeper_out = ch
        deeper.add_module("up", nn.Upsample(scale_factor=2, mode="bilinear"))
        skip_branch = nn.Sequential(*conv(cin_level, skip, 1), *bn_act(skip))
        return nn.Sequential(
            Concat(skip_branch, deeper),
            nn.BatchNorm2d(skip + deeper_out),
            *conv(skip + deeper_out, ch, 3), *bn_act(ch),
            *conv(ch, ch, 1), *bn_act(ch))

    return nn.Sequential(level(0, cin), *conv(ch, cout, 1), nn.Sigmoid())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--channels", type=int, default=128)
    ap.add_argument("--scales", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    net = skip_net(ch=args.channels, scales=args.scales).to(dev)
    s = args.size
    inp = (torch.rand(1, 32, s, s) * 0.1).to(dev)
    target = torch.rand(1, 3, s, s).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)

    def step():
        x = inp + torch.randn_like(inp) / 30
        out = net(x)
        loss = torch.nn.functional.mse_loss(out, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.iters):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    ms = (time.perf_counter() - t0) * 1000 / args.iters
    params = sum(p.numel() for p in net.parameters())
    print(f"torch dip_step size={s} ms_per_iter={ms:.1f} threads={args.threads} params={params}")


if __name__ == "__main__":
    main()
