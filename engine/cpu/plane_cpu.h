/* Helpers shared by the CPU kernels over image planes (pool_cpu.c,
 * resample_cpu.c). */
#ifndef SG_CPU_PLANE_CPU_H
#define SG_CPU_PLANE_CPU_H

#include <stdint.h>

#include "sgen/error.h"
#include "sgen/tensor.h"

static inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

static inline sg_status float_only(const char *op, const sg_tensor *t) {
  if (t->dtype == SG_FLOAT32 || t->dtype == SG_FLOAT64) return SG_OK;
  return sg_error(SG_ERR_ARG, "%s: dtype %s is not supported by the CPU kernel (float32/float64)",
                  op, sg_dtype_name(t->dtype));
}

#endif
