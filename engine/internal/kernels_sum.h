/* Kernel table of the sum family (see backend.h): the sum over dims that
 * every broadcasting backward needs (ops/sum.c). */
#ifndef SG_INTERNAL_KERNELS_SUM_H
#define SG_INTERNAL_KERNELS_SUM_H

#include <stdbool.h>

#include "sgen/tensor.h"

struct sg_sum_kernels {
  /* out[kept] = sum of x over the reduced dims. x is contiguous with ndim
   * dims; reduce[d] says whether dim d is reduced; out is contiguous with
   * the kept dims (in order). */
  sg_status (*sum)(sg_tensor *out, const sg_tensor *x, const bool *reduce);
};

extern const struct sg_sum_kernels sg_cpu_sum_kernels;

#endif
