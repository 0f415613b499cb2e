/* Kernel table of the sparse family (see backend.h): the sparsity masks
 * and thresholds of ops/sparse.c. */
#ifndef SG_INTERNAL_KERNELS_SPARSE_H
#define SG_INTERNAL_KERNELS_SPARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "sgen/tensor.h"

struct sg_sparse_kernels {
  /* Sparsity masks of contiguous float x (1 <= k <= entries; the op layer
   * handles k = all). Ties: among equal |x| the lower (row-major) index is
   * kept. mask (optional, contiguous, bool or x's dtype) gets 1 at kept
   * entries and 0 elsewhere; out (optional, contiguous, x's dtype) gets x at
   * kept entries and 0 elsewhere.
   * l0: per sample (dim 0), the k largest |x| over the remaining dims. */
  sg_status (*l0_mask)(sg_tensor *mask, sg_tensor *out, const sg_tensor *x, int64_t k);
  /* l0inf (needles): for every position of the other dims, the k largest
   * |x| along dim. */
  sg_status (*l0inf_mask)(sg_tensor *mask, sg_tensor *out, const sg_tensor *x, int64_t k,
                          int dim);
  /* out = soft ? sign(x) * max(|x| - lambda, 0) : x * 1(|x| > lambda);
   * mask (optional, x's dtype) = 1(|x| > lambda). x contiguous float,
   * lambda >= 0; NaN propagates to out. */
  sg_status (*threshold)(sg_tensor *out, sg_tensor *mask, const sg_tensor *x, double lambda,
                         bool soft);
  /* out = sign(x) * max(|x| - lambda, 0) with lambda (x's dtype) already
   * broadcast to x's shape (strides may be 0); sgn (optional) = sign(x) *
   * 1(|x| > lambda), the derivative w.r.t. -lambda. out, sgn contiguous. */
  sg_status (*soft_threshold_t)(sg_tensor *out, sg_tensor *sgn, const sg_tensor *x,
                                const sg_tensor *lambda);
};

extern const struct sg_sparse_kernels sg_cpu_sparse_kernels;

#endif
