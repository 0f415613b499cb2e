/* Kernel table of the reduce family (see backend.h).
 *
 * Every reduction kernel sees its input as a contiguous [O, N, I] block and
 * reduces the middle dim: out[o, i] = reduce over n of x[o, n, i]. The op
 * layer (ops/reduce.c) arranges that layout, permuting and copying only when
 * the reduced dims are not one block. Outputs are contiguous [O, I]. */
#ifndef SG_INTERNAL_KERNELS_REDUCE_H
#define SG_INTERNAL_KERNELS_REDUCE_H

#include <stdint.h>
#include <string.h>

#include "sgen/tensor.h"

struct sg_reduce_kernels {
  /* max (is_max) or min of x over n: values (x's dtype, required) and
   * indices (int64, may be NULL). NaN wins over numbers, ties keep the
   * first index (PyTorch). N >= 1. dtypes: float32/64, int64, uint8, bool. */
  sg_status (*minmax)(sg_tensor *values, sg_tensor *indices, const sg_tensor *x, int64_t O,
                      int64_t N, int64_t I, bool is_max);
  /* out = sum_n (x - mean)^2 / max(N - correction, 0) (float32/64). */
  sg_status (*var)(sg_tensor *out, const sg_tensor *x, int64_t O, int64_t N, int64_t I,
                   double correction);
  /* out = (sum_n |x|^p)^(1/p); p == INFINITY: max |x| (NaN propagates). */
  sg_status (*norm)(sg_tensor *out, const sg_tensor *x, int64_t O, int64_t N, int64_t I,
                    double p);
  /* out = log(sum_n exp(x)), with max subtraction. */
  sg_status (*logsumexp)(sg_tensor *out, const sg_tensor *x, int64_t O, int64_t N, int64_t I);
  /* out[o,k,i] = x[o, idx[o,k,i], i]; x [O,N,I], idx (int64) and out [O,K,I].
   * Indices are trusted (validated by the caller). */
  sg_status (*take_along)(sg_tensor *out, const sg_tensor *x, const sg_tensor *idx, int64_t O,
                          int64_t N, int64_t I, int64_t K);
  /* out = 0, then out[o, idx[o,k,i], i] += src[o,k,i]; the adjoint of take_along. */
  sg_status (*put_along)(sg_tensor *out, const sg_tensor *src, const sg_tensor *idx, int64_t O,
                         int64_t N, int64_t I, int64_t K);
};

extern const struct sg_reduce_kernels sg_cpu_reduce_kernels;

#endif
