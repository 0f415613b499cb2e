/* Kernel table of the index family (see backend.h): index_select, gather
 * and scatter(_add).
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
};

extern const struct sg_index_kernels sg_cpu_index_kernels;

#endif
