/* Kernel table of the linalg family (see backend.h): batched dense
 * factorizations on contiguous row-major float32/float64 stacks of square
 * matrices. The op layer (ops/linalg.c) checks arguments, makes the inputs
 * contiguous, and turns the `info` codes into error messages. */
#ifndef SG_INTERNAL_KERNELS_LINALG_H
#define SG_INTERNAL_KERNELS_LINALG_H

#include "sgen/tensor.h"

struct sg_linalg_kernels {
  /* a: contiguous (batch x n x n), overwritten with its Cholesky factor: L
   * (lower, reading the lower triangle of the input) or U = L^T (upper,
   * reading the upper triangle); the other triangle is zeroed. info[b]
   * (batch entries) is 0, or the order of the first leading minor that is
   * not positive. */
  sg_status (*cholesky)(sg_tensor *a, bool upper, int64_t *info);
  /* out (batch entries, contiguous) <- log det a, NaN where det < 0, -inf
   * where det == 0. a: contiguous (batch x n x n), not modified. */
  sg_status (*logdet)(sg_tensor *out, const sg_tensor *a);
  /* a: contiguous (batch x n x n), overwritten with its inverse. info[b] is
   * 0, or i (1-based) when U[i,i] of the LU factorization is exactly zero. */
  sg_status (*inv)(sg_tensor *a, int64_t *info);
  /* x: contiguous (batch x n x k), holds b on entry and a^-1 b on exit.
   * a: contiguous (abatch x n x n), not modified; a_index[i] (batch entries)
   * is the matrix of a used for batch element i. info[j] (abatch entries)
   * as for inv; elements whose matrix is singular are left unchanged. */
  sg_status (*solve)(sg_tensor *x, const sg_tensor *a, const int64_t *a_index, int64_t *info);
  /* Symmetric eigendecomposition. a: contiguous (batch x n x n), of which
   * only the lower triangle (diagonal included) is read; overwritten with
   * the eigenvectors as columns (a[b][i][k] is entry i of eigenvector k).
   * w: contiguous (batch x n), a's dtype, <- the eigenvalues in ascending
   * order. info[b] (batch entries) is 0, or > 0 when the algorithm failed
   * to converge for matrix b (LAPACK's / cuSOLVER's info); the entries of
   * such a matrix are then unspecified. */
  sg_status (*eigh)(sg_tensor *a, sg_tensor *w, int64_t *info);
  /* sign, logabs (batch entries each, contiguous, a's dtype) <- sign(det a)
   * (-1, 0 or 1) and log |det a| (-inf where det == 0; both NaN where the
   * LU factors hold a NaN). a: contiguous (batch x n x n), not modified. */
  sg_status (*slogdet)(sg_tensor *sign, sg_tensor *logabs, const sg_tensor *a);
};

extern const struct sg_linalg_kernels sg_cpu_linalg_kernels;

#endif
