/* CPU sum over a set of dims. The common layouts are reduced in place as
 * out[k] = sum over (a, r) of x[a][k][r] (outer reduced block A, kept block
 * K, inner reduced block R): row sums, column sums and the N,H,W -> C sum of
 * bias gradients. Other layouts are permuted into that form first.
 * float32 accumulates in double. */
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "internal/kernels_sum.h"
#include "internal/tensor_internal.h"

#define COL_BLOCK 256

#define DEFINE_AKR(NAME, T, ACC)                                                      \
  static void NAME(T *out, const T *x, int64_t A, int64_t K, int64_t R) {             \
    if (R == 1) {                                                                     \
      /* column sums: stream rows, accumulate a block of columns */                   \
      int64_t nblocks = (K + COL_BLOCK - 1) / COL_BLOCK;                              \
      _Pragma("omp parallel for schedule(static) if (A * K > 32768 && nblocks > 1)")  \
      for (int64_t blk = 0; blk < nblocks; blk++) {                                   \
        ACC acc[COL_BLOCK];                                                           \
        int64_t k0 = blk * COL_BLOCK, kn = K - k0 < COL_BLOCK ? K - k0 : COL_BLOCK;   \
        for (int64_t j = 0; j < kn; j++) acc[j] = 0;                                  \
        for (int64_t a = 0; a < A; a++) {                                             \
          const T *row = x + a * K + k0;                                              \
          for (int64_t j = 0; j < kn; j++) acc[j] += (ACC)row[j];                     \
        }                                                                             \
        for (int64_t j = 0; j < kn; j++) out[k0 + j] = (T)acc[j];                     \
      }                                                                               \
      return;                                                                         \
    }                                                                                 \
    _Pragma("omp parallel for schedule(static) if (A * K * R > 32768 && K > 1)")      \
    for (int64_t k = 0; k < K; k++) {                                                 \
      ACC acc = 0;                                                                    \
      for (int64_t a = 0; a < A; a++) {                                               \
        const T *row = x + (a * K + k) * R;                                           \
        ACC racc = 0;                                                                 \
        _Pragma("omp simd reduction(+ : racc)")                                       \
        for (int64_t r = 0; r < R; r++) racc += (ACC)row[r];                          \
        acc += racc;                                                                  \
      }                                                                               \
      out[k] = (T)acc;                                                                \
    }                                                                                 \
  }

DEFINE_AKR(akr_f32, float, double)
DEFINE_AKR(akr_f64, double, double)
/* int64 sums wrap on overflow (through uint64: defined behaviour), as PyTorch's do */
DEFINE_AKR(akr_i64, int64_t, uint64_t)

/* One long row (K == 1): split it across threads. */
#define DEFINE_FULL(NAME, T, ACC)                                              \
  static T NAME(const T *x, int64_t n) {                                       \
    ACC acc = 0;                                                               \
    _Pragma("omp parallel for simd reduction(+ : acc) if (n > 32768)")         \
    for (int64_t i = 0; i < n; i++) acc += (ACC)x[i];                          \
    return (T)acc;                                                             \
  }
DEFINE_FULL(full_f32, float, double)
DEFINE_FULL(full_f64, double, double)
DEFINE_FULL(full_i64, int64_t, uint64_t)

static void sum_akr(sg_dtype dt, void *out, const void *x, int64_t A, int64_t K, int64_t R) {
  if (K == 1) {
    switch (dt) {
      case SG_FLOAT32: *(float *)out = full_f32(x, A * R); return;
      case SG_FLOAT64: *(double *)out = full_f64(x, A * R); return;
      default: *(int64_t *)out = full_i64(x, A * R); return;
    }
  }
  switch (dt) {
    case SG_FLOAT32: akr_f32(out, x, A, K, R); return;
    case SG_FLOAT64: akr_f64(out, x, A, K, R); return;
    default: akr_i64(out, x, A, K, R); return;
  }
}

static sg_status cpu_sum(sg_tensor *out, const sg_tensor *x, const bool *reduce) {
  if (x->dtype != SG_FLOAT32 && x->dtype != SG_FLOAT64 && x->dtype != SG_INT64)
    return sg_error(SG_ERR_ARG, "sum: dtype %s not supported by the kernel",
                    sg_dtype_name(x->dtype));
  int nd = x->ndim;
  /* Find the pattern reduced* kept* reduced*. */
  int d = 0;
  int64_t A = 1, K = 1, R = 1;
  while (d < nd && reduce[d]) A *= x->shape[d++];
  while (d < nd && !reduce[d]) K *= x->shape[d++];
  while (d < nd && reduce[d]) R *= x->shape[d++];
  if (d == nd) {
    if (sg_numel(x) == 0) return sg_fill_(out, 0.0);
    sum_akr(x->dtype, sg_data_ptr(out), sg_data_ptr(x), A, K, R);
    return SG_OK;
  }
  /* General layout: permute kept dims first, reduced last, and copy. */
  int perm[SG_MAX_DIMS], k = 0;
  for (int i = 0; i < nd; i++)
    if (!reduce[i]) perm[k++] = i;
  for (int i = 0; i < nd; i++)
    if (reduce[i]) perm[k++] = i;
  int64_t sh[SG_MAX_DIMS], st[SG_MAX_DIMS];
  K = 1;
  R = 1;
  for (int i = 0; i < nd; i++) {
    sh[i] = x->shape[perm[i]];
    st[i] = x->strides[perm[i]];
    if (reduce[perm[i]]) R *= sh[i]; else K *= sh[i];
  }
  sg_tensor *pv = sg_alias(x, sh, st, nd, x->offset);
  if (!pv) return sg_last_status();
  sg_tensor *c = sg_as_contiguous_dtype(pv, x->dtype);
  sg_release(pv);
  if (!c) return sg_last_status();
  sum_akr(x->dtype, sg_data_ptr(out), sg_data_ptr(c), 1, K, R);
  sg_release(c);
  return SG_OK;
}

const struct sg_sum_kernels sg_cpu_sum_kernels = {
    .sum = cpu_sum,
};
