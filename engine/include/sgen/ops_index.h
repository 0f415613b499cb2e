/* Joining, splitting, sorting and indexing. Indices are int64, 0-based. */
#ifndef SGEN_OPS_INDEX_H
#define SGEN_OPS_INDEX_H

#include "sgen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

sg_tensor *sg_cat(sg_tensor *const *ts, int n, int dim);
sg_tensor *sg_stack(sg_tensor *const *ts, int n, int dim);
/* Splits into pieces of split_size along dim (the last may be smaller).
 * Writes up to max_out views into outs and their count into *n_out. */
sg_status sg_split(sg_tensor *x, int64_t split_size, int dim, sg_tensor **outs, int max_out,
                   int *n_out);
sg_tensor *sg_index_select(sg_tensor *x, int dim, sg_tensor *index);
sg_tensor *sg_gather(sg_tensor *x, int dim, sg_tensor *index);
/* Out of place: a copy of x with src scattered at index along dim. */
sg_tensor *sg_scatter(sg_tensor *x, int dim, sg_tensor *index, sg_tensor *src);
sg_tensor *sg_scatter_add(sg_tensor *x, int dim, sg_tensor *index, sg_tensor *src);
sg_status sg_topk(sg_tensor *x, int64_t k, int dim, bool largest, bool sorted,
                  sg_tensor **values, sg_tensor **indices);
/* Stable sort. */
sg_status sg_sort(sg_tensor *x, int dim, bool descending, sg_tensor **values,
                  sg_tensor **indices);

#ifdef __cplusplus
}
#endif
#endif
