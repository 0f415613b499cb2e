#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer harnesses, fuzz/corpus/<harness>/.

Run from the project root: python3 fuzz/make_corpus.py. Standard library
only; the output is the same bytes on every run. The seeds made by sgen
itself (its safetensors writer, the shipped images downscaled by its PNG
writer) come from fuzz/make_corpus.lua (`sgen run fuzz/make_corpus.lua`).

Seeds are small on purpose: libFuzzer mutates small inputs faster, and the
whole corpus stays far below 1 MB in the repository.
"""
import gzip
import json
import os
import shutil
import struct
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
FASHION = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist


def corpus_dir(harness):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    return d


def out(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- safetensors ----

def safetensors(tensors, metadata=None, pad_to=8):
    """tensors: [(name, dtype, shape, raw little-endian bytes)] in file order."""
    header, off = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % pad_to)
    return struct.pack("<Q", len(h)) + h + b"".join(t[3] for t in tensors)


def make_safetensors():
    out("safetensors", "f32_meta.safetensors",
        safetensors([("w", "F32", [2, 3], struct.pack("<6f", 1, -2, 0.5, 3.25, 0, -0.0))],
                    {"format": "pt", "note": "caf\u00e9"}))
    out("safetensors", "all_dtypes.safetensors", safetensors([
        ("f64", "F64", [2], struct.pack("<2d", 1.5, -2.0)),
        ("i64", "I64", [2], struct.pack("<2q", -7, 2**40)),
        ("u64", "U64", [2], struct.pack("<2Q", 3, 2**62)),
        ("f32", "F32", [1, 2], struct.pack("<2f", 0.25, 8)),
        ("i32", "I32", [2], struct.pack("<2i", -5, 2**31 - 1)),
        ("u32", "U32", [2], struct.pack("<2I", 5, 2**32 - 1)),
        ("f16", "F16", [3], struct.pack("<3H", 0x3C00, 0x8001, 0x7C00)),
        ("bf16", "BF16", [2], struct.pack("<2H", 0x3F80, 0xFF80)),
        ("i16", "I16", [2], struct.pack("<2h", -300, 300)),
        ("u16", "U16", [2], struct.pack("<2H", 1, 65535)),
        ("i8", "I8", [2], struct.pack("<2b", -128, 127)),
        ("u8", "U8", [2, 2], bytes([0, 1, 128, 255])),
        ("bool", "BOOL", [3], bytes([0, 1, 1])),
    ]))
    out("safetensors", "scalar_empty.safetensors", safetensors([
        ("s", "F32", [], struct.pack("<f", 42)),
        ("e", "F32", [0, 3], b""),
        ("z", "I64", [2, 0, 4], b""),
    ]))
    out("safetensors", "no_tensors.safetensors", safetensors([], {"k": "v"}))
    # the F8 dtypes are refused: their message path
    out("safetensors", "f8.safetensors", safetensors([("q", "F8_E4M3", [2], b"\x01\x02")]))
    src = os.path.join(ROOT, "engine", "tests", "data", "torch_sample.safetensors")
    shutil.copyfile(src, os.path.join(corpus_dir("safetensors"), "torch_sample.safetensors"))


# ---- PNG ----

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width, height, bit_depth, color_type, rows, interlace=0, extra=b""):
    """rows: raw scanlines (without filter bytes) of the whole image, or of
    each Adam7 pass in order when interlaced (already split)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    raw = b"".join(b"\x00" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + extra +
            png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def adam7_rows(pixels, width, height, bpp):
    """pixels[y][x] are byte strings of bpp bytes; returns the scanlines of
    the seven passes (empty passes contribute none)."""
    rows = []
    for x0, y0, dx, dy in ADAM7:
        xs = range(x0, width, dx)
        for y in range(y0, height, dy):
            if len(xs):
                rows.append(b"".join(pixels[y][x] for x in xs))
    return rows


def make_png():
    data = os.path.join(ROOT, "engine", "tests", "data")
    for f in sorted(os.listdir(data)):
        if f.endswith(".png"):
            shutil.copyfile(os.path.join(data, f), os.path.join(corpus_dir("png"), f))
    w, h = 7, 5
    gray = [[bytes([(x * 37 + y * 11) % 256]) for x in range(w)] for y in range(h)]
    out("png", "interlaced_gray8.png", png(w, h, 8, 0, adam7_rows(gray, w, h, 1), interlace=1))
    rgba16 = [[struct.pack(">4H", x * 9000, y * 12000, (x * y * 977) % 65536, 65535 - x * 5000)
               for x in range(w)] for y in range(h)]
    out("png", "interlaced_rgba16.png", png(w, h, 16, 6, adam7_rows(rgba16, w, h, 8), interlace=1))
    # gray with a tRNS chunk (becomes gray + alpha) and a 2-bit palette
    trns = png_chunk(b"tRNS", struct.pack(">H", 0))
    out("png", "gray_trns.png", png(4, 2, 8, 0, [bytes([0, 50, 100, 0]), bytes([0, 0, 9, 255])],
                                    extra=trns))
    # regression input: a 74-byte file whose IHDR announces 16384x16384 RGBA
    # 16-bit made the reader allocate 2 GiB (fixed: the header is checked
    # against the file size first)
    out("png", "huge_ihdr.png", b"\x89PNG\r\n\x1a\n" +
        png_chunk(b"IHDR", struct.pack(">IIBBBBB", 16384, 16384, 16, 6, 0, 0, 0)) +
        png_chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + png_chunk(b"IEND", b""))
    # regression input: a 65-byte file whose sPLT chunk claims 1.9 GB made
    # libpng allocate and touch that much (fixed: the reader has libpng skip
    # the ancillary chunks it does not use); as libFuzzer wrote it, CRCs
    # unfixed (the harness fixes them: the size is not a multiple of 8)
    out("png", "huge_splt.png", bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000080000000202030000"
        "00ed892f70726f632f73504c5445ff000000ff000000ff0909090000"
        "0049454e44ae426082"))
    plte = png_chunk(b"PLTE", bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]))
    out("png", "palette2.png", png(5, 2, 2, 3, [bytes([0b00011011, 0b00000000]),
                                                 bytes([0b11100100, 0b11000000])], extra=plte))


# ---- IDX (plain and gzip) ----

def make_idx():
    with gzip.open(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        head = f.read(16 + 2 * 784)
    magic, n, rows, cols = struct.unpack(">IIII", head[:16])
    images = struct.pack(">IIII", magic, 2, rows, cols) + head[16:]
    out("idx", "fashion_images_2.idx", images)
    out("idx", "fashion_images_2.idx.gz", gzip.compress(images, 9, mtime=0))
    with gzip.open(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz"), "rb") as f:
        head = f.read(8 + 8)
    labels = struct.pack(">II", struct.unpack(">I", head[:4])[0], 8) + head[8:]
    out("idx", "fashion_labels_8.idx", labels)
    out("idx", "fashion_labels_8.idx.gz", gzip.compress(labels, 9, mtime=0))
    # one file per other type code: 0x09 sbyte, 0x0B short, 0x0C int,
    # 0x0D float, 0x0E double (big-endian)
    out("idx", "sbyte.idx", bytes([0, 0, 0x09, 1]) + struct.pack(">I", 4) + bytes([0, 1, 0x80, 0xFF]))
    out("idx", "short.idx", bytes([0, 0, 0x0B, 2]) + struct.pack(">II", 2, 2) + struct.pack(">4h", -1, 2, 300, -32768))
    out("idx", "int.idx", bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 3) + struct.pack(">3i", -7, 0, 2**31 - 1))
    out("idx", "float.idx", bytes([0, 0, 0x0D, 2]) + struct.pack(">II", 2, 3) + struct.pack(">6f", 1, 2, 3, -0.5, 1e30, 0))
    out("idx", "double.idx.gz", gzip.compress(bytes([0, 0, 0x0E, 1]) + struct.pack(">I", 2) +
                                              struct.pack(">2d", 3.5, -1e300), 9, mtime=0))
    # regression inputs found by fuzz_idx: empty tensors (a size-0 dim)
    # whose other sizes overflowed their strides (now refused as absurd)
    out("idx", "regress_empty_huge_dims.idx",
        bytes.fromhex("000008082f0b00000000000000000b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b080b0b0b2f"))
    out("idx", "regress_empty_huge_dims2.idx", bytes.fromhex("0000080500000308000000000500000007e1e1e1e3000007"))
    out("idx", "empty_dim.idx", bytes([0, 0, 0x08, 3]) + struct.pack(">III", 5, 0, 7))


# ---- CIFAR-10 binary ----

def make_cifar10():
    recs = []
    for label, seed in ((3, 1), (9, 7)):
        px = bytes((i * seed + (i // 1024) * 85) % 256 for i in range(3072))
        recs.append(bytes([label]) + px)
    out("cifar10", "two_records.bin", b"".join(recs))


# ---- `sgen run` options (arguments separated by NUL bytes) ----

def make_cli():
    seeds = {
        "typical": ["--iters=500", "--lr=1e-3", "--no-verbose", "--", "extra", "--not-an-option"],
        "help": ["--help"],
        "typed": ["--seed=7", "--name=abc", "pos1", "--ratio=2", "--learning-rate=0.5"],
        "typo": ["--itres=5"],
        "negated": ["--no-cache", "--no-iters", "--cache=yes"],
        "bare_value": ["--out", "--verbose=maybe", "--seed=1.5", "--seed=0x10"],
        "bad": ["-x", "--=3", "--1abc", "--a.b=c"],
        "numbers": ["--lr=inf", "--lr=-0", "--iters=9223372036854775807", "--iters=1e400"],
    }
    for name, args in seeds.items():
        out("cli", name, "\0".join(args).encode())


# ---- JSON (configs, summaries, safetensors metadata, latest.json) ----

def make_json():
    seeds = {
        "config.json": {"iters": 100, "lr": 0.001, "out": "runs/x", "verbose": True,
                        "device_used": "cpu", "sgen_version": "0.1.0", "name": None},
        "summary.json": {"best": {"psnr": 28.5, "iter": 1200}, "psnr": [10.5, 20.25, -1e-3],
                         "variants": ["vanilla", "L0", "L0,inf"], "ok": False, "text": "\u00e9\n\"q\""},
        "param_groups.json": [{"lr": 0.001, "betas": [0.9, 0.999], "params": [1, 2], "eps": 1e-08}],
        "state.json": {"1": {"step": 10}, "2": {"step": 10}},
        "latest.json": {"file": "step_000100.safetensors", "step": 100, "files": ["a", "b"]},
        "entries.json": {"model": "module", "opt": "optimizer", "step": "value"},
    }
    for name, v in seeds.items():
        out("json", name, json.dumps(v, indent=2).encode())
    out("json", "escapes.json", b'["\\u00e9\\ud83d\\ude00\\/\\b\\f\\t", -0, 1E+2, 1.5e-3, {}, [], null]')
    out("json", "deep.json", b"[" * 40 + b"1" + b"]" * 40)
    # regression input found by fuzz_json: dkjson read this damaged text
    # into a table with a boolean key (now refused by json.decode)
    out("json", "regress_mixed_members.json",
        b'{\n  "model"true: "module\\u",\n  "opt": "optim{\n izer",\n  "stfalseep": "'
        + bytes([0xff] * 28) + bytes(14) + b'value"\n}')


if __name__ == "__main__":
    make_safetensors()
    make_png()
    make_idx()
    make_cifar10()
    make_cli()
    make_json()
