/* libsgen: everything. */
#ifndef SGEN_SGEN_H
#define SGEN_SGEN_H

#include "sgen/error.h"
#include "sgen/tensor.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"
#include "sgen/rng.h"
#include "sgen/io.h"

#define SGEN_VERSION "0.1.0"

/* Threads used by CPU kernels and BLAS (one OpenMP pool for both). */
void sg_set_num_threads(int n);
int sg_get_num_threads(void);
/* Host memory: bytes held by live tensors, bytes kept in the allocator's
 * cache of large blocks for reuse, and the peak of the live bytes. */
typedef struct sg_memory_stats {
  size_t live_bytes;
  size_t cached_bytes;
  size_t peak_bytes;
} sg_memory_stats;
sg_memory_stats sg_cpu_memory_stats(void);
/* Returns the cached blocks to the system. */
void sg_cpu_empty_cache(void);

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

/* Build description: BLAS, OpenMP, oneDNN, CUDA. */
const char *sg_build_info(void);

#endif
