/* Matrix products (OpenBLAS on the CPU) and batched dense linear algebra. */
#ifndef SGEN_OPS_LINALG_H
#define SGEN_OPS_LINALG_H

#include "sgen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* numpy/PyTorch matmul semantics: 1-D, 2-D, and broadcast batched. */
sg_tensor *sg_matmul(sg_tensor *a, sg_tensor *b);
sg_tensor *sg_mm(sg_tensor *a, sg_tensor *b);   /* 2-D only */
sg_tensor *sg_bmm(sg_tensor *a, sg_tensor *b);  /* 3-D only, same batch */
sg_tensor *sg_outer(sg_tensor *a, sg_tensor *b);
/* y = x w^T + b, w: out x in, b optional. */
sg_tensor *sg_linear(sg_tensor *x, sg_tensor *w, sg_tensor *b);

/* Batched (..., n, n). All differentiable. */
sg_tensor *sg_cholesky(sg_tensor *a, bool upper);
sg_tensor *sg_logdet(sg_tensor *a);          /* NaN where det < 0, -inf where 0, as PyTorch */
sg_tensor *sg_solve(sg_tensor *a, sg_tensor *b); /* a x = b, b (..., n, k) or (..., n) */
sg_tensor *sg_inv(sg_tensor *a);

#ifdef __cplusplus
}
#endif
#endif
