/* Kernel table of the blas family (see backend.h). */
#ifndef SG_INTERNAL_KERNELS_BLAS_H
#define SG_INTERNAL_KERNELS_BLAS_H

#include "sgen/tensor.h"

struct sg_blas_kernels {
  /* Batched matrix product out = a @ b.
   * a: B... x M x K, b: B... x K x N, out: B... x M x N (contiguous), all with
   * the same ndim >= 2 and the same batch dims B...; a and b may have any
   * non-negative strides (0 on broadcast batch dims). The three share one
   * dtype: float32, float64 or int64. */
  sg_status (*matmul)(sg_tensor *out, const sg_tensor *a, const sg_tensor *b);
};

extern const struct sg_blas_kernels sg_cpu_blas_kernels;

#endif
