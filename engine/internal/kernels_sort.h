/* Kernel table of the sort family (see backend.h): topk and sort
 * (ops/sort.c). Indices are int64 and 0-based. */
#ifndef SG_INTERNAL_KERNELS_SORT_H
#define SG_INTERNAL_KERNELS_SORT_H

#include <stdbool.h>
#include <stdint.h>

#include "sgen/tensor.h"

struct sg_sort_kernels {
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
};

extern const struct sg_sort_kernels sg_cpu_sort_kernels;

#endif
