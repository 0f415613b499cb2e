#!/usr/bin/python3
"""PyTorch fixtures for sgen's optimizers and learning-rate schedulers
(spec/optim_spec.lua).

Set-up: `bash scripts/install-deps.sh --bench` installs what this needs (Debian's
python3-torch, python3-numpy, python3-pil; building and testing sgen do not need them).
Run with Debian's interpreter, which has torch 1.13 (CPU):

    /usr/bin/python3 tools/make_optim_fixtures.py [OUT_DIR]

OUT_DIR defaults to spec/fixtures. Files:

optim_sgd / optim_adam / optim_adamw / optim_rmsprop .safetensors
  init.p1, init.p2        the two float64 parameters before the first step
                          (3x4 and 5)
  target.p1, target.p2    fixed targets of the loss
  <case>.p1, <case>.p2    the parameters after each of the 10 steps
                          (10x3x4 and 10x5; row k is after step k)
  The loss is sum(c1 * (p1 - t1)^2) + sum(sin(p1)) + the same for p2 with c2,
  C1 = 0.7 and C2 = 1.3 below. Its gradient 2 c (p - t) + cos(p) changes at
  every step; it is set explicitly as p.grad (same float64 operations in
  sgen's spec) so that the comparison isolates the optimizer's update.
  Every case runs PyTorch's single-tensor code path (foreach=False). The
  options of each case are in the file's __metadata__ as JSON.

optim_lr_scheduler.safetensors
  <case>.lr   (STEPS + 1) x 2: the learning rates of an SGD with two
              parameter groups (initial lr 0.1 and 0.05) right after the
              scheduler is built (row 1) and after each scheduler.step()
              (each preceded by an optimizer.step()).

Deterministic: same bytes on every run.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write_safetensors  # noqa: E402

F64 = torch.float64
C1, C2 = 0.7, 1.3
STEPS = 10
SCHED_STEPS = 15


def write(path, items, meta):
    n = write_safetensors(path, items, meta)
    print(f"wrote {path} ({n} bytes, {len(items)} tensors)")


# ---- optimizers ----

OPTIMIZERS = {
    "sgd": [
        ("sgd_plain", "SGD", {"lr": 0.1}),
        ("sgd_momentum", "SGD", {"lr": 0.05, "momentum": 0.9}),
        ("sgd_nesterov_wd", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True,
                                    "weight_decay": 0.01}),
        ("sgd_dampening", "SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3}),
        ("sgd_maximize", "SGD", {"lr": 0.02, "momentum": 0.5, "maximize": True}),
        # two parameter groups: p1 with its own lr, p2 with its own momentum
        ("sgd_groups", "SGD", {"lr": 0.03, "momentum": 0.9,
                               "groups": [{"lr": 0.1}, {"momentum": 0.5}]}),
    ],
    "adam": [
        ("adam_plain", "Adam", {"lr": 0.1}),
        ("adam_wd", "Adam", {"lr": 0.05, "betas": [0.8, 0.95], "weight_decay": 0.1}),
        ("adam_amsgrad", "Adam", {"lr": 0.05, "amsgrad": True}),
        ("adam_maximize", "Adam", {"lr": 0.01, "eps": 1e-6, "maximize": True}),
    ],
    "adamw": [
        ("adamw_plain", "AdamW", {"lr": 0.05}),
        ("adamw_amsgrad_wd", "AdamW", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}),
    ],
    "rmsprop": [
        ("rmsprop_plain", "RMSprop", {"lr": 0.01}),
        ("rmsprop_centered_momentum", "RMSprop", {"lr": 0.01, "centered": True,
                                                  "momentum": 0.9}),
        ("rmsprop_wd", "RMSprop", {"lr": 0.01, "alpha": 0.9, "weight_decay": 0.1}),
    ],
}


def initial():
    g = torch.Generator().manual_seed(1234)
    p1 = torch.randn(3, 4, generator=g, dtype=F64)
    p2 = torch.randn(5, generator=g, dtype=F64)
    t1 = torch.randn(3, 4, generator=g, dtype=F64)
    t2 = torch.randn(5, generator=g, dtype=F64)
    return p1, p2, t1, t2


def grad(p, t, c):
    # the same float64 operations as the spec: (p - t) * (2 c) + cos(p)
    return (p - t) * (2 * c) + torch.cos(p)


def run_case(cls_name, opts):
    p1, p2, t1, t2 = initial()
    p1.requires_grad_(True)
    p2.requires_grad_(True)
    opts = dict(opts)
    groups = opts.pop("groups", None)
    if "betas" in opts:
        opts["betas"] = tuple(opts["betas"])
    cls = getattr(torch.optim, cls_name)
    if groups:
        params = [dict(groups[0], params=[p1]), dict(groups[1], params=[p2])]
    else:
        params = [p1, p2]
    opt = cls(params, foreach=False, **opts)
    h1, h2 = [], []
    for _ in range(STEPS):
        with torch.no_grad():
            p1.grad = grad(p1, t1, C1)
            p2.grad = grad(p2, t2, C2)
        opt.step()
        h1.append(p1.detach().clone())
        h2.append(p2.detach().clone())
    return torch.stack(h1), torch.stack(h2)


def optimizer_fixtures(out_dir):
    p1, p2, t1, t2 = initial()
    for fname, cases in OPTIMIZERS.items():
        items = [("init.p1", p1), ("init.p2", p2), ("target.p1", t1), ("target.p2", t2)]
        meta = {"generator": "tools/make_optim_fixtures.py",
                "torch": torch.__version__.split("+")[0],
                "loss": f"sum({C1}*(p1-t1)^2)+sum(sin(p1))+sum({C2}*(p2-t2)^2)+sum(sin(p2)); "
                        "grad set as (p-t)*(2c)+cos(p)",
                "steps": str(STEPS)}
        for case, cls_name, opts in cases:
            h1, h2 = run_case(cls_name, opts)
            items.append((f"{case}.p1", h1))
            items.append((f"{case}.p2", h2))
            meta[f"case.{case}"] = json.dumps({"optimizer": cls_name, "options": opts},
                                              sort_keys=True)
        write(os.path.join(out_dir, f"optim_{fname}.safetensors"), items, meta)


# ---- learning-rate schedulers ----

SCHEDULERS = [
    ("steplr", "StepLR", {"step_size": 3, "gamma": 0.5}),
    ("multisteplr", "MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.1}),
    ("exponentiallr", "ExponentialLR", {"gamma": 0.9}),
    ("cosineannealinglr", "CosineAnnealingLR", {"T_max": 5, "eta_min": 0.001}),
    ("cosineannealinglr_default", "CosineAnnealingLR", {"T_max": 4}),
]


def scheduler_fixtures(out_dir):
    import warnings
    warnings.simplefilter("ignore")
    items = []
    meta = {"generator": "tools/make_optim_fixtures.py",
            "torch": torch.__version__.split("+")[0],
            "setup": "SGD with two groups, lr 0.1 and 0.05; row 1 after construction, "
                     "then after each optimizer.step(); scheduler.step()",
            "steps": str(SCHED_STEPS)}
    for case, cls_name, opts in SCHEDULERS:
        a = torch.zeros(2, dtype=F64, requires_grad=True)
        b = torch.zeros(2, dtype=F64, requires_grad=True)
        opt = torch.optim.SGD([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.05}], lr=0.1)
        sched = getattr(torch.optim.lr_scheduler, cls_name)(opt, **opts)
        rows = [[g["lr"] for g in opt.param_groups]]
        for _ in range(SCHED_STEPS):
            opt.step()
            sched.step()
            rows.append([g["lr"] for g in opt.param_groups])
        items.append((f"{case}.lr", torch.tensor(rows, dtype=F64)))
        meta[f"case.{case}"] = json.dumps({"scheduler": cls_name, "options": opts},
                                          sort_keys=True)
    write(os.path.join(out_dir, "optim_lr_scheduler.safetensors"), items, meta)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "spec", "fixtures")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    optimizer_fixtures(out_dir)
    scheduler_fixtures(out_dir)


if __name__ == "__main__":
    main()
