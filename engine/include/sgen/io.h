/* File formats: safetensors, PNG (libpng), IDX (MNIST family, gzip or not),
 * CIFAR-10 binary batches. Corrupt or truncated files give SG_ERR_IO with a
 * message naming the file and what was wrong; never a crash or a huge
 * allocation. */
#ifndef SGEN_IO_H
#define SGEN_IO_H

#include "sgen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A name -> tensor list plus string metadata, as stored in safetensors. */
typedef struct sg_tensor_dict {
  int n;
  char **names;
  sg_tensor **tensors;
  int n_meta;
  char **meta_keys;
  char **meta_values;
} sg_tensor_dict;

void sg_tensor_dict_free(sg_tensor_dict *d); /* frees contents, not d itself */
/* Writes atomically (temp file in the same dir + rename). Tensors may be
 * non-contiguous; they are written in row-major order. Names must be unique,
 * valid UTF-8 and not "__metadata__". */
sg_status sg_safetensors_save(const char *path, const sg_tensor_dict *d);
/* Fills *out (overwritten; empty on failure; free with sg_tensor_dict_free).
 * F32 F64 I64 U8 BOOL load as float32 float64 int64 uint8 bool; other dtypes
 * are converted exactly: F16 and BF16 -> float32; I32 I16 I8 U32 U16 -> int64;
 * U64 -> int64 (error above 2^63-1). F8 types are refused. Tensors come in
 * data-offset order. */
sg_status sg_safetensors_load(const char *path, sg_tensor_dict *out);

/* PNG: read returns float32 C x H x W in [0,1] (C = 1 gray, 2 gray+alpha,
 * 3 RGB, 4 RGBA; palettes expanded, tRNS becomes alpha; 8-bit / 255, 16-bit
 * / 65535). Write takes C x H x W, C in {1,2,3,4}: float32/float64 values in
 * [0,1] (clamped, NaN -> 0, round(v*255)) or uint8; 8-bit, atomic. */
sg_tensor *sg_png_read(const char *path);
sg_status sg_png_write(const char *path, sg_tensor *img);

/* Writes n bytes to path the way the writers above do: into a temp file
 * next to it, fsync, rename over path, fsync the directory. A kill at any
 * moment leaves path old or new, never cut (a temp file may stay behind).
 * `op` names the caller in errors. */
sg_status sg_write_file_atomic(const char *op, const char *path, const void *buf, size_t n);

/* IDX (optionally gzip-compressed): returns a tensor of the file's dims with
 * dtype uint8 (ubyte), int64 (sbyte, short, int), float32 (float) or float64
 * (double). */
sg_tensor *sg_idx_read(const char *path);

/* CIFAR-10 binary batch (records of 1 label byte + R, G, B 32x32 planes):
 * images uint8 N x 3 x 32 x 32, labels int64 N. The file size must be a
 * positive multiple of 3073 and labels < 10; on failure both outputs are
 * NULL. */
sg_status sg_cifar10_read(const char *path, sg_tensor **images, sg_tensor **labels);

#ifdef __cplusplus
}
#endif
#endif
