#!/usr/bin/python3
"""Writes spec/fixtures/io_torch.safetensors for spec/io_spec.lua.

Set-up: `bash scripts/install-deps.sh --bench` installs what this needs (Debian's
python3-torch, python3-numpy, python3-pil; building and testing sgen do not need them).
Run with Debian's interpreter (it has torch):

    /usr/bin/python3 tools/make_io_fixtures.py [OUT_DIR]

python3-safetensors is not packaged in Debian, so the file is written by
tools/safetensors_writer.py (official_order=True) in the layout of the
official writer: u64 little-endian header length, compact JSON header
("__metadata__" first, tensors ordered by dtype, widest first, then by name),
padded with spaces to a multiple of 8, then the raw little-endian row-major
data.

Tensors (the spec repeats the expected values by hand, or recomputes them):

  f32     float32 2x3   arange(6) / 4 - 0.5
  f64     float64 7     linspace(-1, 1, 7)
  sin     float64 7     torch.sin(f64): the spec compares with math.sin
  i64     int64   2x2   [[2^40 + 1, -5], [0, 2^53 + 1]]
  u8      uint8   3     [0, 7, 255]
  flags   bool    4     [true, false, true, true]
  f16     float16 3     [0.1, -2.25, 65504]  -> float32 0.0999755859375, ...
  bf16    bfloat16 2    [0.1, -3.5]          -> float32 0.10009765625, -3.5
  i32     int32   2     [-2147483648, 2147483647] -> int64
  i16     int16   2     [-32768, 32767]           -> int64
  i8      int8    2     [-128, 127]               -> int64
  scalar  float32 0-dim 4.5
  empty   float32 0x3
  w.t     float32 3x2   arange(6).reshape(2, 3).t() (written row-major)

Metadata: {"format": "pt", "producer": "tools/make_io_fixtures.py"}.
Deterministic: the same bytes on every run.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write_safetensors  # noqa: E402


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "spec", "fixtures")
    os.makedirs(out, exist_ok=True)
    f64 = torch.linspace(-1, 1, 7, dtype=torch.float64)
    t = {
        "f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4 - 0.5,
        "f64": f64,
        "sin": torch.sin(f64),
        "i64": torch.tensor([[2**40 + 1, -5], [0, 2**53 + 1]], dtype=torch.int64),
        "u8": torch.tensor([0, 7, 255], dtype=torch.uint8),
        "flags": torch.tensor([True, False, True, True]),
        "f16": torch.tensor([0.1, -2.25, 65504.0], dtype=torch.float16),
        "bf16": torch.tensor([0.1, -3.5], dtype=torch.bfloat16),
        "i32": torch.tensor([-2147483648, 2147483647], dtype=torch.int32),
        "i16": torch.tensor([-32768, 32767], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "scalar": torch.tensor(4.5, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
        "w.t": torch.arange(6, dtype=torch.float32).reshape(2, 3).t(),
    }
    # the converted values the spec expects
    assert t["f16"].float().tolist() == [0.0999755859375, -2.25, 65504.0]
    assert t["bf16"].float().tolist() == [0.10009765625, -3.5]
    path = os.path.join(out, "io_torch.safetensors")
    write_safetensors(path, t, {"format": "pt", "producer": "tools/make_io_fixtures.py"},
                      official_order=True)
    print("wrote", path)


if __name__ == "__main__":
    main()
