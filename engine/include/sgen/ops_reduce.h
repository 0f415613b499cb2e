/* Reductions. `dims`/`ndims`: the dims to reduce (0-based, negative from the
 * end); ndims == 0 reduces over all dims. */
#ifndef SGEN_OPS_REDUCE_H
#define SGEN_OPS_REDUCE_H

#include "sgen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

sg_tensor *sg_sum(sg_tensor *x, const int *dims, int ndims, bool keepdim);
sg_tensor *sg_mean(sg_tensor *x, const int *dims, int ndims, bool keepdim);
/* correction: 1 for the unbiased estimator (PyTorch's default), 0 biased. */
sg_tensor *sg_var(sg_tensor *x, const int *dims, int ndims, int correction, bool keepdim);
sg_tensor *sg_std(sg_tensor *x, const int *dims, int ndims, int correction, bool keepdim);
/* p-norm (p = 2 default; p = INFINITY for max |x|). */
sg_tensor *sg_norm(sg_tensor *x, double p, const int *dims, int ndims, bool keepdim);
sg_tensor *sg_logsumexp(sg_tensor *x, const int *dims, int ndims, bool keepdim);
/* max/min along one dim: values (differentiable) and int64 indices (0-based). */
sg_status sg_max_dim(sg_tensor *x, int dim, bool keepdim, sg_tensor **values, sg_tensor **indices);
sg_status sg_min_dim(sg_tensor *x, int dim, bool keepdim, sg_tensor **values, sg_tensor **indices);
/* max/min over all elements (0-dim result, differentiable). */
sg_tensor *sg_max_all(sg_tensor *x);
sg_tensor *sg_min_all(sg_tensor *x);
/* argmax/argmin along dim, or over the flattened tensor if dim == SG_ALL_DIMS. */
sg_tensor *sg_argmax(sg_tensor *x, int dim, bool keepdim);
sg_tensor *sg_argmin(sg_tensor *x, int dim, bool keepdim);
/* Sums x down to `shape` (the reverse of broadcasting); used by backward formulas. */
sg_tensor *sg_sum_to_shape(sg_tensor *x, const int64_t *shape, int ndim);

#ifdef __cplusplus
}
#endif
#endif
