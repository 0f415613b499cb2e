#!/usr/bin/python3
"""PyTorch fixtures for sgen's nn modules (spec/nn_spec.lua).

Set-up: `bash scripts/install-deps.sh --bench` installs what this needs (Debian's
python3-torch, python3-numpy, python3-pil; building and testing sgen do not need them).
Run with Debian's interpreter, which has torch (CPU):

    /usr/bin/python3 tools/make_nn_fixtures.py [OUT_DIR]

OUT_DIR defaults to spec/fixtures next to this script's parent. Each file
spec/fixtures/nn_<layer>.safetensors holds one or more cases, keyed
"<case>.<name>":

  <case>.sd.<param>     the module's PyTorch state_dict (float32; BatchNorm's
                        num_batches_tracked int64), as PyTorch names it
  <case>.x              the input (float32)
  <case>.r              a fixed random tensor shaped like the output
  <case>.out            the module's output
  <case>.grad_x         d sum(out * r) / d x
  <case>.grad.<param>   d sum(out * r) / d param
  <case>.after.<buffer> buffers after the forward (BatchNorm running stats)

The module, the input and r are float32; the references (out, grads, after.*)
are computed by a float64 copy of the module from those same float32 values
and stored as float64, so sgen can be checked in float32 (rounding on one
side) and in float64 (near-exact agreement). The constructor of each case is
written into the file's __metadata__ (as text) for documentation; the spec
states it too.

nn_net.safetensors holds the small network of the spec (class Net below):
its state_dict (sd.*), an input x, r, and for the train-mode forward then the
eval-mode forward (after the train step updated the running stats):
train.out, train.grad_x, train.grad.<param>, train.after.<name> (the whole
state_dict after the step), eval.out, eval.grad_x, eval.grad.<param>.

Deterministic: same bytes on every run (fixed seeds, float64 CPU arithmetic,
a safetensors writer with a fixed key order).
"""
import copy
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write_safetensors  # noqa: E402

F32 = torch.float32
F64 = torch.float64


class Fixture:
    def __init__(self, name):
        self.name = name
        self.items = []
        self.meta = {"generator": "tools/make_nn_fixtures.py",
                     "torch": torch.__version__.split("+")[0],
                     "convention": "module, x and r float32; references computed by a "
                                   "float64 copy of the module and stored as float64"}

    def add(self, key, t):
        self.items.append((key, t))

    def write(self, out_dir):
        path = os.path.join(out_dir, f"nn_{self.name}.safetensors")
        n = write_safetensors(path, self.items, self.meta)
        print(f"wrote {path} ({n} bytes, {len(self.items)} tensors)")


def gen(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def randn32(g, *shape, scale=1.0):
    return (torch.randn(tuple(shape), generator=g, dtype=F64) * scale).to(F32)


def randomize(m, g):
    """Non-trivial affine parameters for a norm layer (defaults are 1 and 0)."""
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("weight"):
                p.copy_(1 + 0.5 * randn32(g, *p.shape))
            elif name.endswith("bias"):
                p.copy_(0.5 * randn32(g, *p.shape))


def to64(m):
    """A float64 copy of m (int64 buffers stay int64, as Module.double())."""
    return copy.deepcopy(m).double()


def run_case(fx, case, ctor, module, x, g, train=True, store_sd=True):
    """Stores the state_dict of `module` (float32), x, r, and the float64
    references: out, grad_x, grad.<param>, after.<buffer>."""
    fx.meta[f"{case}.module"] = ctor
    fx.meta[f"{case}.mode"] = "train" if train else "eval"
    if store_sd:
        for k, v in module.state_dict().items():
            fx.add(f"{case}.sd.{k}", v)
    fx.add(f"{case}.x", x)
    m64 = to64(module)
    m64.train(train)
    x64 = x.to(F64).requires_grad_(True)
    out = m64(x64)
    r = randn32(g, *out.shape)
    fx.add(f"{case}.r", r)
    fx.add(f"{case}.out", out.detach())
    (out * r.to(F64)).sum().backward()
    fx.add(f"{case}.grad_x", x64.grad)
    for k, p in m64.named_parameters():
        fx.add(f"{case}.grad.{k}", p.grad)
    for k, b in m64.named_buffers():
        fx.add(f"{case}.after.{k}", b)
    return m64


def make_linear():
    fx = Fixture("linear")
    g = gen(1)
    torch.manual_seed(11)
    run_case(fx, "a", "Linear(5, 3)", nn.Linear(5, 3), randn32(g, 4, 5), g)
    run_case(fx, "nobias", "Linear(5, 3, bias=False)", nn.Linear(5, 3, bias=False),
             randn32(g, 2, 3, 5), g)
    return fx


def make_conv2d():
    fx = Fixture("conv2d")
    g = gen(2)
    torch.manual_seed(12)
    run_case(fx, "a", "Conv2d(3, 4, 3)", nn.Conv2d(3, 4, 3), randn32(g, 2, 3, 7, 7), g)
    run_case(fx, "strided", "Conv2d(4, 6, 3, stride=2, padding=1, groups=2)",
             nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), randn32(g, 2, 4, 8, 8), g)
    run_case(fx, "dilated",
             "Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(2, 1), dilation=2, bias=False)",
             nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(2, 1), dilation=2, bias=False),
             randn32(g, 1, 2, 9, 6), g)
    run_case(fx, "reflect", "Conv2d(2, 3, 3, padding=1, padding_mode='reflect')",
             nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), randn32(g, 2, 2, 5, 6), g)
    run_case(fx, "replicate", "Conv2d(2, 3, 3, padding=(2, 1), padding_mode='replicate')",
             nn.Conv2d(2, 3, 3, padding=(2, 1), padding_mode="replicate"),
             randn32(g, 1, 2, 4, 5), g)
    run_case(fx, "same", "Conv2d(2, 3, (4, 3), padding='same', dilation=(1, 2))",
             nn.Conv2d(2, 3, (4, 3), padding="same", dilation=(1, 2)), randn32(g, 1, 2, 7, 6), g)
    return fx


def make_conv_transpose2d():
    fx = Fixture("conv_transpose2d")
    g = gen(3)
    torch.manual_seed(13)
    run_case(fx, "a", "ConvTranspose2d(3, 2, 4, stride=2, padding=1)",
             nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1), randn32(g, 2, 3, 4, 5), g)
    run_case(fx, "groups",
             "ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)",
             nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
             randn32(g, 2, 4, 5, 5), g)
    return fx


def make_batch_norm():
    fx = Fixture("batch_norm")
    g = gen(4)
    bn = nn.BatchNorm2d(3)
    randomize(bn, g)
    x = randn32(g, 4, 3, 5, 5, scale=2.0) + 1.0
    trained = run_case(fx, "train", "BatchNorm2d(3)", bn, x, g, train=True)
    # eval mode with the running stats after one training step (float32 copy)
    ev = nn.BatchNorm2d(3)
    sd = {k: (v.to(F32) if v.is_floating_point() else v) for k, v in trained.state_dict().items()}
    ev.load_state_dict(sd)
    run_case(fx, "eval", "BatchNorm2d(3), after the train step", ev, randn32(g, 2, 3, 4, 4), g,
             train=False)
    # cumulative average (momentum=None): two training steps
    cm = nn.BatchNorm2d(2, momentum=None, eps=1e-3)
    randomize(cm, g)
    fx.meta["cumulative.module"] = "BatchNorm2d(2, momentum=None, eps=1e-3), two train steps"
    for k, v in cm.state_dict().items():
        fx.add(f"cumulative.sd.{k}", v)
    cm64 = to64(cm).train()
    for step in (1, 2):
        x = randn32(g, 3, 2, 4, 4) * step + step
        fx.add(f"cumulative.x{step}", x)
        out = cm64(x.to(F64))
        fx.add(f"cumulative.out{step}", out.detach())
    for k, b in cm64.named_buffers():
        fx.add(f"cumulative.after.{k}", b)
    # BatchNorm1d on N x C and N x C x L
    b1 = nn.BatchNorm1d(4)
    randomize(b1, g)
    run_case(fx, "bn1d_2d", "BatchNorm1d(4)", b1, randn32(g, 6, 4), g)
    run_case(fx, "bn1d_3d", "BatchNorm1d(4)", b1, randn32(g, 3, 4, 5), g)
    return fx


def make_instance_norm():
    fx = Fixture("instance_norm")
    g = gen(5)
    run_case(fx, "a", "InstanceNorm2d(3)", nn.InstanceNorm2d(3), randn32(g, 2, 3, 4, 5) + 0.5, g)
    m = nn.InstanceNorm2d(3, affine=True, eps=1e-3)
    randomize(m, g)
    run_case(fx, "affine", "InstanceNorm2d(3, affine=True, eps=1e-3)", m,
             randn32(g, 2, 3, 4, 5), g)
    # running statistics: one training step, then eval mode with them
    m = nn.InstanceNorm2d(3, affine=True, track_running_stats=True, momentum=0.3)
    randomize(m, g)
    trained = run_case(fx, "running",
                       "InstanceNorm2d(3, affine=True, track_running_stats=True, momentum=0.3)",
                       m, randn32(g, 2, 3, 4, 5) * 2 + 1, g, train=True)
    ev = nn.InstanceNorm2d(3, affine=True, track_running_stats=True, momentum=0.3)
    ev.load_state_dict({k: (v.to(F32) if v.is_floating_point() else v)
                        for k, v in trained.state_dict().items()})
    run_case(fx, "running_eval", "the same after the step, eval mode", ev,
             randn32(g, 2, 3, 4, 5), g, train=False)
    return fx


def make_layer_norm():
    fx = Fixture("layer_norm")
    g = gen(6)
    m = nn.LayerNorm([4, 5])
    randomize(m, g)
    run_case(fx, "a", "LayerNorm([4, 5])", m, randn32(g, 2, 3, 4, 5), g)
    m = nn.LayerNorm(6, eps=1e-3)
    randomize(m, g)
    run_case(fx, "b", "LayerNorm(6, eps=1e-3)", m, randn32(g, 3, 6) + 2, g)
    m = nn.LayerNorm(6, elementwise_affine=False)
    run_case(fx, "noaffine", "LayerNorm(6, elementwise_affine=False)", m, randn32(g, 3, 6), g)
    return fx


def make_upsample():
    fx = Fixture("upsample")
    g = gen(7)
    run_case(fx, "bilinear2", "Upsample(scale_factor=2, mode='bilinear')",
             nn.Upsample(scale_factor=2, mode="bilinear"), randn32(g, 2, 2, 3, 4), g)
    run_case(fx, "bilinear_size_ac", "Upsample(size=(5, 7), mode='bilinear', align_corners=True)",
             nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True),
             randn32(g, 1, 2, 3, 4), g)
    run_case(fx, "nearest2", "Upsample(scale_factor=2)", nn.Upsample(scale_factor=2),
             randn32(g, 1, 2, 3, 3), g)
    return fx


def make_pad():
    fx = Fixture("pad")
    g = gen(8)
    run_case(fx, "reflect2", "ReflectionPad2d(2)", nn.ReflectionPad2d(2), randn32(g, 2, 2, 4, 5), g)
    run_case(fx, "reflect1203", "ReflectionPad2d((1, 2, 0, 3))", nn.ReflectionPad2d((1, 2, 0, 3)),
             randn32(g, 1, 2, 4, 5), g)
    run_case(fx, "zero", "ZeroPad2d((1, 0, 2, 1))", nn.ZeroPad2d((1, 0, 2, 1)),
             randn32(g, 1, 2, 3, 3), g)
    return fx


def make_pool():
    fx = Fixture("pool")
    g = gen(9)
    run_case(fx, "max2", "MaxPool2d(2)", nn.MaxPool2d(2), randn32(g, 2, 3, 6, 6), g)
    run_case(fx, "max3s2p1", "MaxPool2d(3, stride=2, padding=1)",
             nn.MaxPool2d(3, stride=2, padding=1), randn32(g, 1, 2, 7, 7), g)
    run_case(fx, "avg2", "AvgPool2d(2)", nn.AvgPool2d(2), randn32(g, 2, 3, 6, 6), g)
    run_case(fx, "avg3s2p1", "AvgPool2d(3, stride=2, padding=1)",
             nn.AvgPool2d(3, stride=2, padding=1), randn32(g, 1, 2, 7, 7), g)
    run_case(fx, "adaptive", "AdaptiveAvgPool2d((2, 3))", nn.AdaptiveAvgPool2d((2, 3)),
             randn32(g, 1, 2, 7, 8), g)
    return fx


def make_activation():
    fx = Fixture("activation")
    g = gen(10)
    x = randn32(g, 3, 4)
    for case, ctor, m in [("relu", "ReLU()", nn.ReLU()),
                          ("leaky", "LeakyReLU(0.2)", nn.LeakyReLU(0.2)),
                          ("leaky_default", "LeakyReLU()", nn.LeakyReLU()),
                          ("tanh", "Tanh()", nn.Tanh()),
                          ("sigmoid", "Sigmoid()", nn.Sigmoid()),
                          ("softmax", "Softmax(dim=1)", nn.Softmax(dim=1)),
                          ("log_softmax", "LogSoftmax(dim=0)", nn.LogSoftmax(dim=0)),
                          ("flatten", "Flatten()", nn.Flatten())]:
        xx = randn32(g, 2, 3, 2, 2) if case == "flatten" else x
        run_case(fx, case, ctor, m, xx, g)
    return fx


class Net(nn.Module):
    """The spec's network; sgen's twin is written in spec/nn_spec.lua."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8),
                                      nn.LeakyReLU(0.2))
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(8 * 6 * 6, 10)

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


def make_net():
    fx = Fixture("net")
    g = gen(11)
    torch.manual_seed(21)
    net = Net()
    randomize(net.features[1], g)
    fx.meta["module"] = ("Net: features = Sequential(Conv2d(1, 8, 3, padding=1), BatchNorm2d(8), "
                         "LeakyReLU(0.2)), flatten = Flatten(), classifier = Linear(288, 10)")
    for k, v in net.state_dict().items():
        fx.add(f"sd.{k}", v)
    x = randn32(g, 4, 1, 6, 6)
    fx.add("x", x)
    r = randn32(g, 4, 10)
    fx.add("r", r)
    n64 = to64(net)
    for mode in ("train", "eval"):
        n64.train(mode == "train")
        n64.zero_grad(set_to_none=True)
        x64 = x.to(F64).requires_grad_(True)
        out = n64(x64)
        (out * r.to(F64)).sum().backward()
        fx.add(f"{mode}.out", out.detach())
        fx.add(f"{mode}.grad_x", x64.grad)
        for k, p in n64.named_parameters():
            fx.add(f"{mode}.grad.{k}", p.grad)
        if mode == "train":
            for k, v in n64.state_dict().items():
                fx.add(f"train.after.{k}", v)
    return fx


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "spec", "fixtures"))
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    for make in (make_linear, make_conv2d, make_conv_transpose2d, make_batch_norm,
                 make_instance_norm, make_layer_norm, make_upsample, make_pad, make_pool,
                 make_activation, make_net):
        make().write(out_dir)


if __name__ == "__main__":
    main()
