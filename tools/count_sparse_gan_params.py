# PyTorch twins of models/spgan.lua and models/self_sparse.lua (default widths), parameter counts only:
# /usr/bin/python3 tools/count_sparse_gan_params.py ; the numbers are in docs/models.md.
import torch.nn as nn, math
def n(m): return sum(p.numel() for p in m.parameters())
class SASTM(nn.Module):
    def __init__(s, C, H, W, nz, hidden=None):
        super().__init__(); h = hidden or nz
        s.f = nn.Linear(nz, h); s.g1 = nn.Linear(h, C); s.g2 = nn.Linear(h, H * W)
def ss_gen(nz, ngf, nc, size):
    T = int(math.log2(size)) - 1; L = []; cin = nz; hw = 1
    for t in range(1, T + 1):
        cout = nc if t == T else ngf * 2 ** (T - 1 - t)
        L.append(nn.ConvTranspose2d(cin, cout, 4, 1 if t == 1 else 2, 0 if t == 1 else 1, bias=False))
        hw = 4 if t == 1 else hw * 2
        L.append(SASTM(cout, hw, hw, nz))
        L += [nn.Tanh()] if t == T else [nn.BatchNorm2d(cout), nn.ReLU()]
        cin = cout
    return nn.Sequential(*L)
def critic(ndf, nc, size):
    L = []; cin = nc; w = ndf; s = size
    while s > 4:
        L += [nn.Conv2d(cin, w, 4, 2, 1), nn.LeakyReLU(0.2)]; cin, w, s = w, w * 2, s // 2
    L.append(nn.Conv2d(cin, 1, 4, 1, 0)); return nn.Sequential(*L)
def spgan_gen(nz, ngf, nc, atoms):
    g = ngf
    return nn.Sequential(nn.ConvTranspose2d(nz, 4*g, 4, 1, 0, bias=False), nn.BatchNorm2d(4*g), nn.ReLU(),
        nn.ConvTranspose2d(4*g, 2*g, 4, 2, 1, bias=False), nn.BatchNorm2d(2*g), nn.ReLU(),
        nn.ConvTranspose2d(2*g, g, 4, 2, 1, bias=False), nn.BatchNorm2d(g), nn.ReLU(),
        nn.ConvTranspose2d(g, atoms, 4, 2, 1, bias=False))
def recon(nc, nz, d):
    return nn.Sequential(nn.Conv2d(nc, d, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(d, 2*d, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(2*d, 4*d, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(4*d*16, nz))
for size in (32, 64, 128):
    for nc in (1, 3):
        print("self-sparse", size, nc, n(ss_gen(100, 64, nc, size)), n(critic(64, nc, size)))
for nc, atoms in ((3, 100), (1, 36)):
    print("spgan", nc, atoms, n(spgan_gen(100, 64, nc, atoms)) + atoms, n(recon(nc, 100, 64)))
