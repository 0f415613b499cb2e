/* The column-matrix helpers of the CPU convolutions (conv_cpu.c), shared
 * with the batched schedule for small output maps (conv_cpu_batch.c). */
#ifndef SGEN_CPU_CONV_COLS_H
#define SGEN_CPU_CONV_COLS_H

#include <stdbool.h>
#include <stdint.h>

#include "internal/kernels_conv.h"
#include "sgen/tensor.h"

/* col[r0..r1) x output rows [oh0, oh1) of one image (C x H x W): row r of
 * the column matrix (channel, ki, kj) at col + r * ld, (oh1 - oh0) * Wo
 * columns. */
void sg_cpu_conv_im2col(sg_dtype dt, const sg_conv_geom *g, const void *img, void *col, int64_t ld,
                        int64_t oh0, int64_t oh1, int64_t r0, int64_t r1);
/* img channels [c0, c1) += the patches of col (rows of those channels). */
void sg_cpu_conv_col2im(sg_dtype dt, const sg_conv_geom *g, const void *col, int64_t ld, void *img,
                        int64_t oh0, int64_t oh1, int64_t c0, int64_t c1);
/* out[r][j] += b[r] for rows x cols at row stride ld. */
void sg_cpu_conv_add_bias(sg_dtype dt, void *out, int64_t ld, int64_t rows, int64_t cols,
                          const void *b);
/* C = op(A) op(B) + beta C, row-major, float32 or float64. */
void sg_cpu_conv_gemm(sg_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double beta,
                      const void *A, int64_t lda, const void *B, int64_t ldb, void *C, int64_t ldc);

/* Batched schedule (conv_cpu_batch.c): whether it serves this geometry, and
 * the three convolutions on raw contiguous data. */
bool sg_cpu_conv_use_batched(const sg_conv_geom *g);
sg_status sg_cpu_conv2d_batched(sg_dtype dt, char *O, const char *X, const char *Wt, const char *B,
                                const sg_conv_geom *g, const char *op);
sg_status sg_cpu_conv_transpose2d_batched(sg_dtype dt, char *O, const char *X, const char *Wt,
                                          const char *B, const sg_conv_geom *g);
sg_status sg_cpu_conv2d_weight_batched(sg_dtype dt, char *GW, const char *X, const char *GO,
                                       const sg_conv_geom *g);

/* Kernel covering the whole unpadded image, one output position
 * (conv_cpu_dense.c): each convolution is one GEMM. */
bool sg_cpu_conv_is_dense(const sg_conv_geom *g);
void sg_cpu_conv2d_dense(sg_dtype dt, char *O, const char *X, const char *Wt, const char *B,
                         const sg_conv_geom *g);
void sg_cpu_conv_transpose2d_dense(sg_dtype dt, char *O, const char *X, const char *Wt,
                                   const char *B, const sg_conv_geom *g);
void sg_cpu_conv2d_weight_dense(sg_dtype dt, char *GW, const char *X, const char *GO,
                                const sg_conv_geom *g);

#endif
