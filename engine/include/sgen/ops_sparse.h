/* Sparsity projections (ARCHITECTURE.md §3). Forward zeros entries; the
 * gradient flows through the kept entries only (the projection's Jacobian),
 * written with differentiable ops so double backward works. */
#ifndef SGEN_OPS_SPARSE_H
#define SGEN_OPS_SPARSE_H

#include "sgen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per sample (dim 0 is the batch): keep the k largest |entries| of the
 * remaining dims. k >= 1 is a count; 0 < k < 1 a fraction of the entries
 * (rounded up, at least 1). */
sg_tensor *sg_l0_project(sg_tensor *x, double k);
/* Needle projection: for every position of the other dims, keep the k
 * largest |entries| along `dim` (the channel dim, 1 for N x C x H x W). */
sg_tensor *sg_l0inf_project(sg_tensor *x, int64_t k, int dim);
/* sign(x) * max(|x| - lambda, 0); lambda a number ... */
sg_tensor *sg_soft_threshold(sg_tensor *x, double lambda);
/* ... or a broadcastable tensor (differentiable w.r.t. lambda too). */
sg_tensor *sg_soft_threshold_t(sg_tensor *x, sg_tensor *lambda);
/* x * 1(|x| > lambda). */
sg_tensor *sg_hard_threshold(sg_tensor *x, double lambda);
sg_tensor *sg_hard_threshold_t(sg_tensor *x, sg_tensor *lambda);
/* Mask of kept entries for the projections above (bool, no gradient). */
sg_tensor *sg_l0_mask(sg_tensor *x, double k);
sg_tensor *sg_l0inf_mask(sg_tensor *x, int64_t k, int dim);

#ifdef __cplusplus
}
#endif
#endif
