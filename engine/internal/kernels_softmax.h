/* Kernel table of the softmax family (see backend.h): softmax and
 * log_softmax (ops/softmax.c). The kernels see a contiguous [O, N, I] block
 * and normalize along the middle dim (the softmax dim). */
#ifndef SG_INTERNAL_KERNELS_SOFTMAX_H
#define SG_INTERNAL_KERNELS_SOFTMAX_H

#include <stdbool.h>
#include <stdint.h>

#include "sgen/tensor.h"

struct sg_softmax_kernels {
  /* y = softmax(x) (or log_softmax when log) along n; x, y contiguous,
   * same float dtype; max subtraction for stability. */
  sg_status (*softmax)(sg_tensor *y, const sg_tensor *x, int64_t O, int64_t N, int64_t I,
                       bool log);
  /* gx from the output y and its gradient g (all contiguous, same dtype):
   * softmax: gx = y * (g - sum_n g*y); log_softmax: gx = g - exp(y) * sum_n g. */
  sg_status (*softmax_backward)(sg_tensor *gx, const sg_tensor *g, const sg_tensor *y,
                                int64_t O, int64_t N, int64_t I, bool log);
};

extern const struct sg_softmax_kernels sg_cpu_softmax_kernels;

#endif
