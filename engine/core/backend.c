/* Device -> backend lookup. */
#include <stddef.h>

#include "internal/backend.h"

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

const sg_backend *sg_backend_checked(const char *op, const sg_tensor *t, size_t slot_offset) {
  const sg_backend *be = sg_backend_for(t->storage->device);
  if (!be) {
    sg_error_context("%s", op);
    return NULL;
  }
  const void *slot = *(const void *const *)((const char *)be + slot_offset);
  if (!slot) {
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
