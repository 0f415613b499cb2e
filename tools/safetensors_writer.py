"""The safetensors writer shared by the tools/make_*.py fixture scripts.

python3-safetensors is not packaged in Debian, so the scripts write the
format by hand: a u64 little-endian header length, a compact JSON header
({"__metadata__": {...}, name: {dtype, shape, data_offsets}, ...}, UTF-8,
padded with spaces to a multiple of 8), then the raw little-endian row-major
data of every tensor, back to back.

Tensors may be torch tensors (any device, any strides: written row-major) or
numpy arrays. This module imports numpy only; torch is looked up when a torch
tensor is written, so numpy-only scripts do not load it.

A script in tools/ imports it with

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from safetensors_writer import write_safetensors

The output is a function of the arguments only (same bytes on every run).
"""
import json
import os
import struct
import sys

import numpy as np

# safetensors' Dtype enum, narrowest first; the official writer orders the
# tensors of a file by dtype, widest first, then by name.
DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
               "I32", "U32", "F32", "F64", "I64", "U64"]

_NUMPY_DTYPES = {
    np.dtype(np.bool_): "BOOL", np.dtype(np.uint8): "U8", np.dtype(np.int8): "I8",
    np.dtype(np.int16): "I16", np.dtype(np.uint16): "U16", np.dtype(np.float16): "F16",
    np.dtype(np.int32): "I32", np.dtype(np.uint32): "U32", np.dtype(np.float32): "F32",
    np.dtype(np.float64): "F64", np.dtype(np.int64): "I64", np.dtype(np.uint64): "U64",
}


def _torch_dtypes(torch):
    return {
        torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16",
        torch.float16: "F16", torch.bfloat16: "BF16", torch.int32: "I32",
        torch.float32: "F32", torch.float64: "F64", torch.int64: "I64",
    }


def encode(name, t):
    """(safetensors dtype name, shape list, raw little-endian bytes) of a
    torch tensor or numpy array `t`; `name` is for the error message."""
    if sys.byteorder != "little":
        raise RuntimeError("this writer assumes a little-endian host")
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(t, torch.Tensor):
        t = t.detach().contiguous().cpu()
        st = _torch_dtypes(torch).get(t.dtype)
        if st is None:
            raise ValueError(f"{name}: unsupported dtype {t.dtype}")
        if t.numel() == 0:
            data = b""
        elif t.dtype == torch.bfloat16:  # numpy has no bfloat16: write the int16 bits
            data = t.view(torch.int16).numpy().tobytes()
        else:
            data = t.numpy().tobytes()
        return st, list(t.shape), data
    a = np.ascontiguousarray(t)
    st = _NUMPY_DTYPES.get(a.dtype.newbyteorder("="))
    if st is None:
        raise ValueError(f"{name}: unsupported dtype {a.dtype}")
    return st, list(a.shape), a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()


def write_safetensors(path, items, metadata=None, official_order=False):
    """Writes `items` (a list of (name, tensor) pairs, or a dict) to `path`.

    The tensors are written in the given order, or with official_order=True
    in the order of the official writer (dtype widest first, then name).
    `metadata` (a dict; keys and values written as str) becomes the
    "__metadata__" entry, first in the header; it is left out when empty.
    The file is written to path + ".tmp", then renamed. Returns the size of
    the file in bytes."""
    items = list(items.items()) if isinstance(items, dict) else list(items)
    encoded = [(name,) + encode(name, t) for name, t in items]
    if official_order:
        encoded.sort(key=lambda e: (-DTYPE_ORDER.index(e[1]), e[0]))
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name, st, shape, data in encoded:
        if name in header:
            raise ValueError(f"duplicate key {name}")
        header[name] = {"dtype": st, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, _, data in encoded:
            f.write(data)
    os.replace(tmp, path)
    return 8 + len(text) + offset
