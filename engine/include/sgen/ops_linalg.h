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
/* sign(det a) (-1, 0, 1; no gradient) and log |det a| (-inf where det == 0;
 * gradient g a^-T), each of shape (...). */
sg_status sg_slogdet(sg_tensor *a, sg_tensor **sign, sg_tensor **logabsdet);
/* Symmetric eigendecomposition of (..., n, n), reading the lower triangle:
 * eigenvalues (..., n) ascending, eigenvectors (..., n, n) as columns
 * (orthonormal; each column's sign is unspecified). Errors on NaN/Inf
 * entries and on failure to converge. Gradient as PyTorch's (first order
 * only: a double backward through it raises an error). */
sg_status sg_eigh(sg_tensor *a, sg_tensor **eigenvalues, sg_tensor **eigenvectors);
/* Batched (..., n, m), any dtype. The diagonal of the last two dims as a
 * view (..., len): offset > 0 above the main diagonal, < 0 below. */
sg_tensor *sg_diagonal(sg_tensor *a, int64_t offset);
/* Sum of the main diagonal of the last two dims: shape (...). */
sg_tensor *sg_trace(sg_tensor *a);

#ifdef __cplusplus
}
#endif
#endif
