#!/usr/bin/python3
"""PyTorch fixture for the sparsity-regularized GAN models of models/dcgan.lua
(Generator with sparsity, MLCSCGenerator, Critic) and for sg.gan's losses
and gradient penalty (spec/gan_models_spec.lua).

Set-up: `bash scripts/install-deps.sh --bench` installs what this needs (Debian's
python3-torch, python3-numpy, python3-pil; building and testing sgen do not need them).
Run with Debian's interpreter, which has torch (CPU):

    /usr/bin/python3 tools/make_gan_fixture.py [OUT_DIR]

writes OUT_DIR/gan.safetensors (default spec/fixtures) with:

  params.<net>             parameter counts (int64) of
                           G128c3 / G64c1      Generator (ngf 128, nc 3 / ngf 64, nc 1; nz 100)
                           M128c3 / M64c1      MLCSCGenerator (same widths)
                           C64c3 / C64c1       Critic (ndf 64)
  G.sd.<name>, G.z, G.r    small Generator (nz 8, ngf 4, nc 3, sparsity l0inf, k 2):
  G.x, G.gamma1            state_dict, z (batch 2), G(z) and Γ in train mode
  G.grad.<p>               d sum(G(z) * r) / d p
  M.*                      the same for a small MLCSCGenerator (nz 8, ngf 4,
  M.gamma1, M.gamma2       nc 1, sparsity l0inf, k1 1, k2 2)
  C.sd.<name>              a small Critic (ndf 4, nc 1), PyTorch's init x 2, random biases,
  C.real, C.fake, C.eps    batch 2, eps one per sample,
  C.gp, C.norms            gradient_penalty (lambda 10) and the gradient norms,
  C.grad.<p>               d gp / d p (through the double backward)
  L.real, L.fake           fixed scores (6 values each) and
  L.<kind>.d, L.<kind>.g   d_loss / g_loss for kind dcgan, wgan-gp, hinge

The l0inf projection is topk of |Γ| along the channels of each needle
(ties: only among exact zeros after ReLU, where the choice changes neither
values nor gradients). References are computed by float64 copies of the
float32 networks and stored rounded to float32 (the spec compares in
float32). Deterministic: the same bytes on every run.
"""
import copy
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from safetensors_writer import write_safetensors  # noqa: E402


def weights_init(m):  # the DCGAN example's
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class L0Inf(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        idx = x.abs().topk(self.k, dim=1).indices
        mask = torch.zeros_like(x).scatter(1, idx, 1.0)
        return x * mask


def gs(nz, ngf):
    return [nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU()]


class Generator(nn.Module):
    """models/dcgan.lua Generator: main.0..8 G_S, projection of Γ, main.9 ConvT, Tanh."""

    def __init__(self, nz=100, ngf=64, nc=3, k=None):
        super().__init__()
        self.main = nn.Sequential(*gs(nz, ngf), nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
        self.project = L0Inf(k) if k else nn.Identity()

    def forward(self, z):
        h = self.main[:9](z)
        g = self.project(h)
        return self.main[10](self.main[9](g)), [g]


class MLCSC(nn.Module):
    """models/dcgan.lua MLCSCGenerator: G_S, proj, D2 (main.9), proj, D1 (main.10), Tanh."""

    def __init__(self, nz=100, ngf=64, nc=3, k1=None, k2=None):
        super().__init__()
        self.main = nn.Sequential(*gs(nz, ngf), nn.ConvTranspose2d(ngf, ngf, 3, 1, 1, bias=False),
                                  nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
        self.p1 = L0Inf(k1) if k1 else nn.Identity()
        self.p2 = L0Inf(k2) if k2 else nn.Identity()

    def forward(self, z):
        g2 = self.p2(self.main[:9](z))
        g1 = self.p1(self.main[9](g2))
        return self.main[11](self.main[10](g1)), [g1, g2]


class Critic(nn.Module):
    """models/dcgan.lua Critic: main.0, 2, 4, 6 convolutions with biases."""

    def __init__(self, ndf=64, nc=3):
        super().__init__()
        self.main = critic_layers(ndf, nc)

    def forward(self, x):
        return self.main(x).view(-1)


def critic_layers(ndf, nc):
    return nn.Sequential(nn.Conv2d(nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2),
                         nn.Conv2d(ndf, ndf * 2, 4, 2, 1), nn.LeakyReLU(0.2),
                         nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1), nn.LeakyReLU(0.2),
                         nn.Conv2d(ndf * 4, 1, 4, 1, 0))


def f32(t):
    return t.detach().float() if t.is_floating_point() else t


def count(m):
    return torch.tensor([sum(p.numel() for p in m.parameters())], dtype=torch.int64)


def gen_items(prefix, net, nz, n):
    net.apply(weights_init)
    items = [(f"{prefix}.sd.{k}", v) for k, v in net.state_dict().items()]
    z = torch.randn(n, nz, 1, 1)
    x32 = net(z)[0]
    r = torch.randn(x32.shape)
    items += [(f"{prefix}.z", z), (f"{prefix}.r", r)]
    net64 = copy.deepcopy(net).double()
    net64.train()
    x, gammas = net64(z.double())
    (x * r.double()).sum().backward()
    items.append((f"{prefix}.x", f32(x)))
    for i, g in enumerate(gammas):
        items.append((f"{prefix}.gamma{i + 1}", f32(g)))
    for k, p in net64.named_parameters():
        items.append((f"{prefix}.grad.{k}", f32(p.grad)))
    return items


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "spec", "fixtures")
    torch.manual_seed(11)
    items = []
    for name, m in (("G128c3", Generator(100, 128, 3)), ("G64c1", Generator(100, 64, 1)),
                    ("M128c3", MLCSC(100, 128, 3)), ("M64c1", MLCSC(100, 64, 1)),
                    ("C64c3", Critic(64, 3)), ("C64c1", Critic(64, 1))):
        items.append((f"params.{name}", count(m)))

    items += gen_items("G", Generator(8, 4, 3, k=2), 8, 2)
    items += gen_items("M", MLCSC(8, 4, 1, k1=1, k2=2), 8, 2)

    C = Critic(4, 1)  # PyTorch's default initialization: gradient norms near 1
    with torch.no_grad():
        for m in C.main:
            if isinstance(m, nn.Conv2d):
                m.weight.mul_(2)
                m.bias.normal_(0, 0.1)
    items += [(f"C.sd.{k}", v) for k, v in C.state_dict().items()]
    real, fake, eps = torch.randn(2, 1, 32, 32), torch.randn(2, 1, 32, 32), torch.rand(2)
    items += [("C.real", real), ("C.fake", fake), ("C.eps", eps)]
    C64 = copy.deepcopy(C).double()
    e = eps.double().view(2, 1, 1, 1)
    xhat = (e * real.double() + (1 - e) * fake.double()).requires_grad_(True)
    out = C64(xhat).view(-1)
    g = torch.autograd.grad(out.sum(), xhat, create_graph=True)[0]
    norms = g.reshape(2, -1).norm(2, dim=1)
    gp = 10 * ((norms - 1) ** 2).mean()
    gp.backward()
    items += [("C.gp", f32(gp)), ("C.norms", f32(norms))]
    for k, p in C64.named_parameters():
        items.append((f"C.grad.{k}", f32(p.grad if p.grad is not None else torch.zeros_like(p))))

    lr, lf = torch.randn(6) * 2, torch.randn(6) * 2
    items += [("L.real", lr), ("L.fake", lf)]
    r64, f64 = lr.double(), lf.double()
    bce = F.binary_cross_entropy_with_logits
    losses = {
        "dcgan": (bce(r64, torch.ones_like(r64)) + bce(f64, torch.zeros_like(f64)),
                  bce(f64, torch.ones_like(f64))),
        "wgan-gp": (f64.mean() - r64.mean(), -f64.mean()),
        "hinge": (F.relu(1 - r64).mean() + F.relu(1 + f64).mean(), -f64.mean()),
    }
    for kind, (d, gl) in losses.items():
        items += [(f"L.{kind}.d", f32(d)), (f"L.{kind}.g", f32(gl))]

    meta = {"generator": "tools/make_gan_fixture.py", "torch": torch.__version__.split("+")[0]}
    path = os.path.join(out_dir, "gan.safetensors")
    size = write_safetensors(path, items, meta)
    print(f"wrote {path} ({size} bytes, {len(items)} tensors)")


if __name__ == "__main__":
    main()
