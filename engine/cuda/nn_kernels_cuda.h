/* Launchers of the CUDA kernels behind the blas, conv, norm and linalg
 * families (engine/cuda/blas_int_cuda.cu, conv_im2col_cuda.cu,
 * norm_kernels_cuda.cu, linalg_kernels_cuda.cu), called from the families'
 * C files. All take raw device pointers of one float dtype `dt` (float32 or
 * float64) unless said otherwise, queue their work on sg_cuda_stream(), and
 * return SG_OK or the launch error (recorded with sg_error). */
#ifndef SG_CUDA_NN_KERNELS_H
#define SG_CUDA_NN_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#include "sgen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- blas ---- */
/* Column-major strided batched GEMM through cuBLAS (blas_cuda.c):
 * C_i = op(A_i) op(B_i) + beta C_i for i < batch, C_i m x n, with TF32
 * only when sg_get_allow_tf32() is on. Sizes and leading dims must fit in
 * int (checked). */
sg_status sg_cuda_gemm(sg_dtype dt, bool transa, bool transb, int64_t m, int64_t n, int64_t k,
                       const void *A, int64_t lda, int64_t strideA, const void *B, int64_t ldb,
                       int64_t strideB, double beta, void *C, int64_t ldc, int64_t strideC,
                       int64_t batch);
/* (blas_int_cuda.cu) */
/* Batched int64 product c (nb x M x N, contiguous) = a @ b with element
 * strides (sam, sak) / (sbk, sbn) for the matrix dims and per-batch-dim
 * strides bsa / bsb over the nbd batch dims of shape bshape. */
sg_status sg_cuda_matmul_int64(int64_t *c, const int64_t *a, const int64_t *b, int64_t M,
                               int64_t N, int64_t K, int64_t sam, int64_t sak, int64_t sbk,
                               int64_t sbn, int nbd, const int64_t *bshape, const int64_t *bsa,
                               const int64_t *bsb);

/* ---- conv (conv_im2col_cuda.cu) ----
 * Geometry as sg_conv_geom (kernels_conv.h) in conv2d terms: the image is
 * n x C x H x W, the column matrix of one image (C*kh*kw) x (Ho*Wo). */
typedef struct sg_cuda_im2col_geom {
  int64_t C, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw;
} sg_cuda_im2col_geom;
/* cols (n images x C*kh*kw x Ho*Wo) <- the patches of img (n x C x H x W). */
sg_status sg_cuda_im2col(sg_dtype dt, const sg_cuda_im2col_geom *g, int64_t n, const void *img,
                         void *cols);
/* img (n x C x H x W) <- the sum of the patches of cols (overwrites img). */
sg_status sg_cuda_col2im(sg_dtype dt, const sg_cuda_im2col_geom *g, int64_t n, const void *cols,
                         void *img);
/* Tests only: when on, conv2d / conv_transpose2d / conv2d_weight skip
 * cuDNN and use the im2col + cuBLAS fallback (conv_cuda.c). */
void sg_cuda_conv_force_fallback(bool on);
/* out (n x C x HW) += b[c] */
sg_status sg_cuda_add_channel_bias(sg_dtype dt, void *out, int64_t n, int64_t C, int64_t HW,
                                   const void *b);

/* ---- norm (norm_kernels_cuda.cu); layouts as kernels_norm.h; w, b may be
 * NULL; C > 0 ---- */
sg_status sg_cuda_norm_moments(sg_dtype dt, void *mean, void *var, const void *x, int64_t A,
                               int64_t G, int64_t B);
sg_status sg_cuda_norm_normalize(sg_dtype dt, void *y, const void *x, int64_t A, int64_t G,
                                 int64_t B, const void *mean, const void *invstd, const void *w,
                                 const void *b, int64_t C);
sg_status sg_cuda_norm_backward(sg_dtype dt, void *dx, void *sum_dy, void *sum_dy_xhat,
                                const void *dy, const void *x, int64_t A, int64_t G, int64_t B,
                                const void *mean, const void *invstd, const void *w, int64_t C);
sg_status sg_cuda_layer_norm(sg_dtype dt, void *y, void *mean, void *invstd, const void *x,
                             int64_t R, int64_t D, const void *w, const void *b, double eps);
sg_status sg_cuda_layer_norm_backward(sg_dtype dt, void *dx, void *dw, void *db, const void *dy,
                                      const void *x, const void *mean, const void *invstd,
                                      const void *w, int64_t R, int64_t D);

/* ---- linalg (linalg_kernels_cuda.cu): stacks of `batch` n x n matrices ---- */
/* Zeroes the strict lower (upper = true) or strict upper triangle of each
 * row-major matrix. */
sg_status sg_cuda_tri_zero(sg_dtype dt, void *a, int64_t batch, int64_t n, bool upper);
/* dst[b] (c x r) <- src[b] (r x c)^T, row-major, for b < batch. */
sg_status sg_cuda_batch_transpose(sg_dtype dt, void *dst, const void *src, int64_t batch,
                                  int64_t r, int64_t c);
/* Each matrix <- the identity. */
sg_status sg_cuda_set_identity(sg_dtype dt, void *a, int64_t batch, int64_t n);
/* out[b] <- log det from the LU factors lu (getrf output: pivots ipiv
 * (1-based int, n per matrix), info per matrix), CPU rules: -inf when
 * info > 0, NaN when the determinant is negative. */
sg_status sg_cuda_lu_logdet(sg_dtype dt, void *out, const void *lu, const int *ipiv,
                            const int *info, int64_t batch, int64_t n);
/* sign[b], logabs[b] <- sign and log |det| from the same LU factors, CPU
 * rules (linalg_cpu.c's slogdet): 0 and -inf when info > 0, NaN sign when
 * the sum of logs is NaN. */
sg_status sg_cuda_lu_slogdet(sg_dtype dt, void *sign, void *logabs, const void *lu,
                             const int *ipiv, const int *info, int64_t batch, int64_t n);

#ifdef __cplusplus
}
#endif

#endif
