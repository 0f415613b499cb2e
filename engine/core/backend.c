/* Device -> backend lookup. */
#include <stddef.h>

#include "internal/backend.h"

#ifdef SGEN_WITH_CUDA
extern const sg_backend sg_cuda_backend;
#endif

const sg_backend *sg_backend_for(sg_device dev) {
  if (dev.type == SG_CPU) return &sg_cpu_backend;
#ifdef SGEN_WITH_CUDA
  if (dev.type == SG_CUDA) return &sg_cuda_backend;
#endif
  sg_error(SG_ERR_UNSUPPORTED, "device %s is not available in this build",
           sg_device_name(dev));
  return NULL;
}

const sg_backend *sg_backend_checked(const char *op, const sg_tensor *t, size_t slot_offset) {
  const sg_backend *be = sg_backend_for(t->storage->device);
  if (!be) return NULL;
  const void *slot = *(const void *const *)((const char *)be + slot_offset);
  if (!slot) {
    sg_error(SG_ERR_UNSUPPORTED, "%s: not implemented on %s", op,
             sg_device_name(t->storage->device));
    return NULL;
  }
  return be;
}
