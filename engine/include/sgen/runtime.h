/* The runtime around the ops: CPU threads, device memory, build facts. */
#ifndef SGEN_RUNTIME_H
#define SGEN_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sgen/error.h"
#include "sgen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Threads used by CPU kernels and BLAS (one OpenMP pool for both). */
void sg_set_num_threads(int n);
int sg_get_num_threads(void);
/* A device's allocator: bytes held by live tensors, bytes kept in its cache
 * of freed blocks for reuse, and the peak of the live bytes. Each backend
 * reports its own (engine/<device>/allocator_<device>.c); sgen/cuda.h has
 * the CUDA allocator's detailed counters. */
typedef struct sg_memory_stats {
  size_t live_bytes;
  size_t cached_bytes;
  size_t peak_bytes;
} sg_memory_stats;
/* SG_OK and *out filled, or an error if dev is not available. */
sg_status sg_device_memory_stats(sg_device dev, sg_memory_stats *out);
/* Returns dev's cached blocks to the system (or the driver). */
sg_status sg_device_empty_cache(sg_device dev);
/* Bytes held by live tensors on every device compiled in (host and GPUs):
 * what the Lua bindings pace garbage collection by. */
size_t sg_live_bytes(void);

/* CPU convolutions through oneDNN (float32; SGEN_CONV=im2col turns them
 * off): calls it computed, calls it declined (no implementation for the
 * geometry), calls left to im2col + GEMM by rule (geometries where that
 * path is faster, engine/cpu/conv_onednn.c), and primitives in its cache.
 * All zero in a build without oneDNN (compiled_in false). */
typedef struct sg_onednn_stats {
  bool compiled_in;
  int64_t calls, declined, by_rule, primitives;
} sg_onednn_stats;
sg_onednn_stats sg_onednn_conv_stats(void);

#define SGEN_VERSION "0.1.0"

/* Build description: BLAS, OpenMP, oneDNN, CUDA. */
const char *sg_build_info(void);

#ifdef __cplusplus
}
#endif
#endif
