/* Differentiable ops that op files share without making them public: their
 * definitions live in the op file of their family (named below). */
#ifndef SG_INTERNAL_OPS_INTERNAL_H
#define SG_INTERNAL_OPS_INTERNAL_H

#include <stdint.h>

#include "sgen/tensor.h"

/* ---- ops/reduce.c: used by the backward
 * formulas of max/min and by nll_loss. idx is int64 with x's ndim and x's
 * shape except along dim; its values must lie in [0, x->shape[dim]). ---- */
/* out = x gathered along dim at idx (shape of idx). Backward: put_along. */
sg_tensor *sg_internal_take_along(sg_tensor *x, sg_tensor *idx, int dim);
/* out (src's shape with dim of size n) = zeros with src added at idx along
 * dim. Backward: take_along. */
sg_tensor *sg_internal_put_along(sg_tensor *src, sg_tensor *idx, int dim, int64_t n);

#endif
