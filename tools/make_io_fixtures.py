#!/usr/bin/python3
"""Writes spec/fixtures/io_torch.safetensors for spec/io_spec.lua.

Run with Debian's interpreter (it has torch):

    /usr/bin/python3 tools/make_io_fixtures.py [OUT_DIR]

python3-safetensors is not packaged in Debian, so the file is written by hand
in the layout of the official writer: u64 little-endian header length, compact
JSON header ("__metadata__" first, tensors ordered by dtype, widest first, then
by name), padded with spaces to a multiple of 8, then the raw little-endian
row-major data.

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
import json
import os
import struct
import sys

import torch

DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
               "I32", "U32", "F32", "F64", "I64", "U64"]
TORCH_TO_ST = {
    torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16",
    torch.float16: "F16", torch.bfloat16: "BF16", torch.int32: "I32",
    torch.float32: "F32", torch.float64: "F64", torch.int64: "I64",
}


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.numel() == 0:
        return b""
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: go through the int16 bits
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().newbyteorder("<").tobytes()


def save_safetensors(path, tensors, metadata):
    if sys.byteorder != "little":
        raise RuntimeError("this writer assumes a little-endian host")
    items = sorted(tensors.items(),
                   key=lambda kv: (-DTYPE_ORDER.index(TORCH_TO_ST[kv[1].dtype]), kv[0]))
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, t in items:
        b = tensor_bytes(t)
        header[name] = {"dtype": TORCH_TO_ST[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


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
    save_safetensors(path, t, {"format": "pt", "producer": "tools/make_io_fixtures.py"})
    print("wrote", path)


if __name__ == "__main__":
    main()
