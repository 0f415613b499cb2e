/* Kernel table of the index family (see backend.h): index_select, gather,
 * scatter(_add), topk/sort and the sparsity masks / thresholds.
 *
 * Index tensors are int64 and 0-based. Kernels that read indices check them
 * (a device kernel can read its own memory, the op layer cannot) and fail
 * with "<op>: index 7 out of range for dim 1 of size 5". */
#ifndef SG_INTERNAL_KERNELS_INDEX_H
#define SG_INTERNAL_KERNELS_INDEX_H

#include <stdbool.h>

#include "sgen/tensor.h"

struct sg_index_kernels {
  /* out = x's slices index[0..L) along dim. x and out contiguous, same
   * dtype; out has x's shape with shape[dim] = L; index contiguous int64
   * with L entries. */
  sg_status (*index_select)(const char *op, sg_tensor *out, const sg_tensor *x, int dim,
                            const sg_tensor *index);
  /* out[pos] = x[pos with pos[dim] replaced by index[pos]] for every
   * position pos of index (out has index's shape, contiguous, x's dtype).
   * x and index any strides, same ndim (>= 1). */
  sg_status (*gather)(const char *op, sg_tensor *out, const sg_tensor *x, int dim,
                      const sg_tensor *index);
  /* out[pos with pos[dim] replaced by index[pos]] = src[pos] (or += when
   * accumulate) for every position of index. out is contiguous and holds
   * the base values; src has out's dtype, index and src any strides. Among
   * duplicate targets of a plain scatter, the last in row-major order wins. */
  sg_status (*scatter)(const char *op, sg_tensor *out, int dim, const sg_tensor *index,
                       const sg_tensor *src, bool accumulate);
  /* The k largest (or smallest) entries along dim of contiguous x, with
   * their indices; values (x's dtype) and indices (int64) are contiguous
   * with x's shape and shape[dim] = k. NaN is larger than everything; among
   * equal values the lower index comes first. sorted=false still returns a
   * deterministic order. */
  sg_status (*topk)(sg_tensor *values, sg_tensor *indices, const sg_tensor *x, int dim,
                    int64_t k, bool largest, bool sorted);
  /* Stable sort along dim (ties keep their order; NaN sorts as largest). */
  sg_status (*sort)(sg_tensor *values, sg_tensor *indices, const sg_tensor *x, int dim,
                    bool descending);
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

extern const struct sg_index_kernels sg_cpu_index_kernels;

#endif
