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
 * non-contiguous; they are written in row-major order. */
sg_status sg_safetensors_save(const char *path, const sg_tensor_dict *d);
sg_status sg_safetensors_load(const char *path, sg_tensor_dict *out);

/* PNG: read returns float32 C x H x W in [0,1] (C = 1, 2, 3 or 4; 16-bit
 * supported). Write takes C x H x W, C in {1,3,4}: float values in [0,1]
 * (clamped) or uint8. */
sg_tensor *sg_png_read(const char *path);
sg_status sg_png_write(const char *path, sg_tensor *img);

/* IDX (optionally gzip-compressed): returns a tensor of the file's dims with
 * dtype uint8 (ubyte/sbyte data as uint8/int64), int64 (int/short), float32
 * or float64. */
sg_tensor *sg_idx_read(const char *path);

/* CIFAR-10 binary batch: images uint8 N x 3 x 32 x 32, labels int64 N. */
sg_status sg_cifar10_read(const char *path, sg_tensor **images, sg_tensor **labels);

#ifdef __cplusplus
}
#endif
#endif
