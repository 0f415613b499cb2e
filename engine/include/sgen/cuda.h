/* CUDA devices, device memory and library versions.
 *
 * Every function exists in every build: in a build without CUDA
 * (engine/core/cuda_stub.c) they report "not available", so callers (the
 * Lua bindings, `sgen info`) never need #ifdef. Only device 0 is used by
 * the backend for now. */
#ifndef SGEN_CUDA_H
#define SGEN_CUDA_H

#include <stdbool.h>
#include <stddef.h>

#include "sgen/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* true when sgen was compiled with the CUDA backend. */
bool sg_cuda_built(void);
/* true when built with CUDA and at least one usable GPU is present. */
bool sg_cuda_is_available(void);
/* Why CUDA cannot be used ("sgen was built without CUDA", "no CUDA device
 * (cudaGetDeviceCount: ...)"); "" when it can. */
const char *sg_cuda_unavailable_reason(void);
/* Number of GPUs (0 when not available). */
int sg_cuda_device_count(void);
/* Name of GPU i ("NVIDIA H200"), or NULL with an error. The string stays
 * valid for the life of the process. */
const char *sg_cuda_device_name(int i);
/* Total memory of GPU i in bytes (0 when unknown). */
size_t sg_cuda_device_total_memory(int i);

/* Device memory of the caching allocator. allocated: bytes of live blocks
 * (rounded sizes); reserved: bytes obtained from cudaMalloc (allocated +
 * cached); the peaks of both; the number of cudaMalloc / cudaFree calls and
 * of allocations that failed even after emptying the cache. */
typedef struct sg_cuda_memstats {
  size_t allocated_bytes;
  size_t reserved_bytes;
  size_t peak_allocated_bytes;
  size_t peak_reserved_bytes;
  size_t requested_bytes; /* bytes asked for by live allocations (unrounded) */
  size_t num_device_allocs;
  size_t num_device_frees;
  size_t num_alloc_retries; /* cudaMalloc failures that emptied the cache */
  size_t num_ooms;          /* allocations that failed for good */
} sg_cuda_memstats;
sg_cuda_memstats sg_cuda_memory_stats(void);
/* Resets the peaks to the current values. */
void sg_cuda_reset_peak_stats(void);
/* Returns the cached, unused device memory to the driver. */
void sg_cuda_empty_cache(void);
/* Waits for all work queued on the GPU. SG_OK (also when CUDA is not
 * available: there is nothing to wait for). */
sg_status sg_cuda_synchronize(void);
/* Called when cudaMalloc fails, before the allocator empties its cache and
 * retries once: the Lua bindings run a full garbage collection there, so
 * that unreachable tensors return their blocks. NULL removes the hook. */
void sg_cuda_set_oom_hook(void (*hook)(void *ud), void *ud);

/* Versions as the libraries encode them (CUDA 13.0 -> 13000; cuDNN 9.13.0
 * -> 91300; cuBLAS 13.0.0 -> 130000); 0 when not available. */
int sg_cuda_runtime_version(void);
int sg_cuda_driver_version(void);
int sg_cudnn_version(void);
int sg_cublas_version(void);

/* TF32 tensor-core math for float32 matrix products (cuBLAS) and
 * convolutions (cuDNN): off by default, as PyTorch does for matmul; it
 * trades ~3 decimal digits of mantissa for speed on Ampere and newer. The
 * flag is kept in CPU-only builds too (it has no effect there). */
void sg_set_allow_tf32(bool allow);
bool sg_get_allow_tf32(void);

#ifdef __cplusplus
}
#endif
#endif
