#!/usr/bin/python3
"""Writes the small I/O samples committed under engine/tests/data/.

Set-up: `bash scripts/install-deps.sh --bench` installs what this needs (Debian's
python3-torch, python3-numpy, python3-pil; building and testing sgen do not need them).
Run with Debian's python (it has torch and PIL):  /usr/bin/python3 tools/make_io_samples.py

* torch_sample.safetensors: tensors made by PyTorch, written by
  tools/safetensors_writer.py (python3-safetensors is not packaged in Debian
  bookworm) in the exact layout of the official safetensors writer: 8-byte
  little-endian header length, compact JSON header with "__metadata__" first
  and the tensors ordered by dtype (widest first) then name, header padded
  with spaces to a multiple of 8, then the raw little-endian data.
* png_*.png: tiny images written by PIL (an encoder independent of libpng's
  writer used by sgen), plus a 16-bit RGB one written by hand (PIL cannot).
The expected values are repeated by hand in engine/tests/test_io.c.
"""
import os
import struct
import sys
import zlib

import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "engine", "tests", "data")


def make_safetensors():
    t = {
        "f32": torch.tensor([[1.5, -2.0, 3.25], [0.0, 1e-3, -7.5]], dtype=torch.float32),
        "f64": torch.tensor([0.1, -1e300, 2.5], dtype=torch.float64),
        "i64": torch.tensor([[2**40 + 1, -5], [0, 9007199254740993]], dtype=torch.int64),
        "u8": torch.tensor([0, 7, 255], dtype=torch.uint8),
        "flags": torch.tensor([True, False, True, True]),
        "f16": torch.tensor([0.0, -0.0, 1.5, -2.25, 65504.0, 2.0**-14, 2.0**-24,
                             float("inf"), float("-inf"), float("nan")], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -3.5, 3.3895313892515355e38, 2.0**-133, float("inf"),
                              float("nan")], dtype=torch.bfloat16),
        "i32": torch.tensor([-2147483648, 2147483647, 3], dtype=torch.int32),
        "i16": torch.tensor([[-32768, 32767], [1, -1]], dtype=torch.int16),
        "i8": torch.tensor([-128, 127, 0], dtype=torch.int8),
        "scalar": torch.tensor(4.5, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
        # a transposed (non-contiguous) tensor is written row-major
        "w.t": torch.arange(6, dtype=torch.float32).reshape(2, 3).t(),
    }
    write_safetensors(os.path.join(OUT, "torch_sample.safetensors"), t,
                      {"format": "pt", "note": "quote \" and \u00fc"}, official_order=True)


def png_chunk(tag, data):
    return (struct.pack(">I", len(data)) + tag + data +
            struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))


def write_png16_rgb(path, rows):
    h, w = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + b"".join(struct.pack(">HHH", *px) for px in row) for row in rows)
    data = (b"\x89PNG\r\n\x1a\n" +
            png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)) +
            png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(data)


def make_pngs():
    # 2 rows x 3 columns each
    g = Image.new("L", (3, 2))
    g.putdata([0, 51, 102, 153, 204, 255])
    g.save(os.path.join(OUT, "png_gray.png"))
    la = Image.new("LA", (3, 2))
    la.putdata([(0, 255), (51, 0), (102, 128), (153, 1), (204, 2), (255, 3)])
    la.save(os.path.join(OUT, "png_gray_alpha.png"))
    rgb = Image.new("RGB", (3, 2))
    rgb.putdata([(255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 20, 30), (40, 50, 60), (70, 80, 90)])
    rgb.save(os.path.join(OUT, "png_rgb.png"))
    rgba = Image.new("RGBA", (3, 2))
    rgba.putdata([(255, 0, 0, 255), (0, 255, 0, 128), (0, 0, 255, 0),
                  (10, 20, 30, 40), (50, 60, 70, 80), (90, 100, 110, 120)])
    rgba.save(os.path.join(OUT, "png_rgba.png"))
    p = Image.new("P", (3, 2))
    p.putpalette([255, 0, 0, 0, 128, 0, 0, 0, 255])
    p.putdata([0, 1, 2, 2, 1, 0])
    p.save(os.path.join(OUT, "png_palette.png"))
    p.save(os.path.join(OUT, "png_palette_trns.png"), transparency=bytes([255, 64, 0]))
    g16 = Image.new("I;16", (3, 2))
    g16.putdata([0, 1, 257, 32768, 65534, 65535])
    g16.save(os.path.join(OUT, "png_gray16.png"))
    bw = Image.new("1", (3, 2))
    bw.putdata([0, 255, 0, 255, 255, 0])
    bw.save(os.path.join(OUT, "png_gray1.png"))
    write_png16_rgb(os.path.join(OUT, "png_rgb16.png"),
                    [[(65535, 0, 1), (2, 3, 4), (5, 6, 7)],
                     [(8, 9, 10), (11, 12, 13), (65535, 65535, 65535)]])


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    make_safetensors()
    make_pngs()
