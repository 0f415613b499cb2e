/* Device -> backend lookup. */
#include <stddef.h>
#include <string.h>

#include "internal/backend.h"
#include "internal/kernels_blas.h"
#include "internal/kernels_conv.h"
#include "internal/kernels_elementwise.h"
#include "internal/kernels_index.h"
#include "internal/kernels_linalg.h"
#include "internal/kernels_loss.h"
#include "internal/kernels_norm.h"
#include "internal/kernels_optim.h"
#include "internal/kernels_pool.h"
#include "internal/kernels_reduce.h"
#include "internal/kernels_resample.h"
#include "internal/kernels_rng.h"
#include "internal/kernels_softmax.h"
#include "internal/kernels_sort.h"
#include "internal/kernels_sparse.h"
#include "internal/kernels_sum.h"

#ifdef SGEN_WITH_CUDA
extern const sg_backend sg_cuda_backend;
/* engine/cuda/device_cuda.c: SG_OK when dev is a usable GPU. */
sg_status sg_cuda_check_device(const char *op, sg_device dev);
#endif

const sg_backend *sg_backend_for(sg_device dev) {
  if (dev.type == SG_CPU) return &sg_cpu_backend;
#ifdef SGEN_WITH_CUDA
  if (dev.type == SG_CUDA) {
    if (sg_cuda_check_device(NULL, dev) != SG_OK) return NULL;
    return &sg_cuda_backend;
  }
#endif
  sg_error(SG_ERR_UNSUPPORTED, "device %s is not available in this build",
           sg_device_name(dev));
  return NULL;
}

/* Size of the kernel table a family slot points at (0 if unknown). */
static size_t family_size(size_t slot_offset) {
  static const struct {
    size_t offset, size;
  } sizes[] = {
      {offsetof(sg_backend, elementwise), sizeof(struct sg_elementwise_kernels)},
      {offsetof(sg_backend, sum), sizeof(struct sg_sum_kernels)},
      {offsetof(sg_backend, reduce), sizeof(struct sg_reduce_kernels)},
      {offsetof(sg_backend, blas), sizeof(struct sg_blas_kernels)},
      {offsetof(sg_backend, conv), sizeof(struct sg_conv_kernels)},
      {offsetof(sg_backend, norm), sizeof(struct sg_norm_kernels)},
      {offsetof(sg_backend, pool), sizeof(struct sg_pool_kernels)},
      {offsetof(sg_backend, resample), sizeof(struct sg_resample_kernels)},
      {offsetof(sg_backend, softmax), sizeof(struct sg_softmax_kernels)},
      {offsetof(sg_backend, loss), sizeof(struct sg_loss_kernels)},
      {offsetof(sg_backend, index), sizeof(struct sg_index_kernels)},
      {offsetof(sg_backend, sort), sizeof(struct sg_sort_kernels)},
      {offsetof(sg_backend, sparse), sizeof(struct sg_sparse_kernels)},
      {offsetof(sg_backend, linalg), sizeof(struct sg_linalg_kernels)},
      {offsetof(sg_backend, rng), sizeof(struct sg_rng_kernels)},
      {offsetof(sg_backend, optim), sizeof(struct sg_optim_kernels)},
  };
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    if (sizes[i].offset == slot_offset) return sizes[i].size;
  return 0;
}

/* A family table whose kernels are all NULL (a backend's stub for a family
 * it does not implement yet) counts as absent. Kernel tables hold only
 * function pointers. */
static bool family_empty(const void *table, size_t size) {
  typedef void (*fn)(void);
  if (size == 0) return false; /* a family missing from family_size(): trust the pointer */
  const char *p = table;
  for (size_t o = 0; o + sizeof(fn) <= size; o += sizeof(fn)) {
    fn f;
    memcpy(&f, p + o, sizeof f);
    if (f) return false;
  }
  return true;
}

const sg_backend *sg_backend_checked(const char *op, const sg_tensor *t, size_t slot_offset) {
  const sg_backend *be = sg_backend_for(t->storage->device);
  if (!be) {
    sg_error_context("%s", op);
    return NULL;
  }
  const void *slot = *(const void *const *)((const char *)be + slot_offset);
  if (!slot || family_empty(slot, family_size(slot_offset))) {
    sg_error(SG_ERR_UNSUPPORTED, "%s: not implemented on %s", op,
             sg_device_name(t->storage->device));
    return NULL;
  }
  return be;
}

sg_status sg_device_memory_stats(sg_device dev, sg_memory_stats *out) {
  if (!out) return sg_error(SG_ERR_ARG, "memory_stats: out is NULL");
  const sg_backend *be = sg_backend_for(dev);
  if (!be) {
    sg_error_context("memory_stats");
    return sg_last_status();
  }
  *out = be->memory_stats();
  return SG_OK;
}

sg_status sg_device_empty_cache(sg_device dev) {
  const sg_backend *be = sg_backend_for(dev);
  if (!be) {
    sg_error_context("empty_cache");
    return sg_last_status();
  }
  be->empty_cache();
  return SG_OK;
}

/* Every backend compiled in, available or not: a GPU that cannot be used
 * holds no bytes, and asking must not set an error (sg_backend_for would). */
size_t sg_live_bytes(void) {
  size_t total = sg_cpu_backend.memory_stats().live_bytes;
#ifdef SGEN_WITH_CUDA
  total += sg_cuda_backend.memory_stats().live_bytes;
#endif
  return total;
}
