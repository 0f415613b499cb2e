#!/usr/bin/python3
"""PyTorch fixture for models/dcgan.lua (spec/dcgan_spec.lua): the networks of
bench/gpu_dcgan_step.py (the PyTorch side of the GPU benchmark), so the spec
checks that sgen's DCGAN and the benchmark's PyTorch DCGAN are the same
networks.

Set-up: `bash scripts/install-deps.sh --bench` installs what this needs (Debian's
python3-torch, python3-numpy, python3-pil; building and testing sgen do not need them).
Run with Debian's interpreter, which has torch (CPU):

    /usr/bin/python3 tools/make_dcgan_fixture.py [OUT_DIR]

writes OUT_DIR/dcgan.safetensors (default spec/fixtures) with, for a small
configuration (nz=16, ngf=ndf=4, so that the file stays small; the layer
structure is the full one), batch 2, in train mode:

  G.sd.<name>, D.sd.<name>  the state_dicts (float32; num_batches_tracked int64)
  z                         N x nz x 1 x 1 (float32)
  fake                      G(z)
  logits                    D(G(z)), N
  r                         a fixed random tensor of N
  G.grad.<p>, D.grad.<p>    d sum(D(G(z)) * r) / d p
  G.after.<b>, D.after.<b>  the buffers after the forward (running stats)
  default.G_params, default.D_params   parameter counts of the default
                            networks (nz=100, ngf=ndf=64), int64

References are computed by float64 copies of the float32 networks and
stored rounded to float32 (the spec compares in float32).
Deterministic: the same bytes on every run.
"""
import copy
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "bench"))
from safetensors_writer import write_safetensors  # noqa: E402
import gpu_dcgan_step as dc  # noqa: E402


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "spec", "fixtures")
    torch.manual_seed(7)
    nz, ngf, ndf, n = 16, 4, 4, 2
    G = dc.Wrap(dc.generator(nz, ngf))
    D = dc.Wrap(dc.discriminator(ndf))
    G.apply(dc.weights_init)
    D.apply(dc.weights_init)
    items = []
    for k, v in G.state_dict().items():
        items.append((f"G.sd.{k}", v))
    for k, v in D.state_dict().items():
        items.append((f"D.sd.{k}", v))
    z = torch.randn(n, nz, 1, 1)
    r = torch.randn(n)
    items += [("z", z), ("r", r)]
    G64, D64 = copy.deepcopy(G).double(), copy.deepcopy(D).double()
    G64.train()
    D64.train()
    fake = G64(z.double())
    logits = D64(fake).view(-1)
    (logits * r.double()).sum().backward()
    f32 = lambda t: t.detach().float() if t.is_floating_point() else t  # noqa: E731
    items += [("fake", f32(fake)), ("logits", f32(logits))]
    for prefix, m in (("G", G64), ("D", D64)):
        for k, p in m.named_parameters():
            items.append((f"{prefix}.grad.{k}", f32(p.grad)))
        for k, b in m.named_buffers():
            items.append((f"{prefix}.after.{k}", f32(b)))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    items.append(("default.G_params", torch.tensor([count(dc.generator())], dtype=torch.int64)))
    items.append(("default.D_params", torch.tensor([count(dc.discriminator())], dtype=torch.int64)))
    meta = {"generator": "tools/make_dcgan_fixture.py",
            "torch": torch.__version__.split("+")[0],
            "networks": f"bench/gpu_dcgan_step.py generator(nz={nz}, ngf={ngf}), "
                        f"discriminator(ndf={ndf}), weights_init, train mode, batch {n}"}
    path = os.path.join(out_dir, "dcgan.safetensors")
    size = write_safetensors(path, items, meta)
    print(f"wrote {path} ({size} bytes, {len(items)} tensors)")


if __name__ == "__main__":
    main()
