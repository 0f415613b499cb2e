/* CPU kernels of the softmax family: fused, numerically stable softmax and
 * log_softmax (max subtraction) with their fused backward.
 *
 * Softmax over a contiguous [O, N, I] block: when I == 1 each row is
 * contiguous (threads split the rows, the row loops are `omp simd`); when
 * I > 1 (softmax over the channels of N x C x H x W) blocks of LANES
 * adjacent columns are processed together so inner loops stay contiguous.
 * float32 uses a vectorizable exp (sg_cpu_expf); sums accumulate in double. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal/kernels_softmax.h"
#include "cpu/expf_cpu.h"
#include "internal/tensor_internal.h"

#define PAR_MIN 32768
#define LANES 64

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline float exp_f32(float v) { return sg_cpu_expf(v); }
static inline double exp_f64(double v) { return exp(v); }

#include "col_sumexp_cpu.h"

/* ------------------------------------------------------------------ */
/* softmax / log_softmax                                                */
/* ------------------------------------------------------------------ */

#define DEFINE_SOFTMAX(SUF, T)                                                              \
  SG_DEFINE_COL_SUMEXP(SUF, T)                                                              \
  static void sm_row_##SUF(T *y, const T *x, int64_t n, bool lg) {                          \
    T m = -INFINITY;                                                                        \
    _Pragma("omp simd reduction(max : m)")                                                  \
    for (int64_t j = 0; j < n; j++) m = x[j] > m ? x[j] : m;                                \
    double s = 0;                                                                           \
    if (lg) {                                                                               \
      _Pragma("omp simd reduction(+ : s)")                                                  \
      for (int64_t j = 0; j < n; j++) s += (double)exp_##SUF(x[j] - m);                     \
      T ls = (T)log(s);                                                                     \
      _Pragma("omp simd")                                                                   \
      for (int64_t j = 0; j < n; j++) y[j] = (x[j] - m) - ls;                               \
    } else {                                                                                \
      _Pragma("omp simd reduction(+ : s)")                                                  \
      for (int64_t j = 0; j < n; j++) {                                                     \
        T e = exp_##SUF(x[j] - m);                                                          \
        y[j] = e;                                                                           \
        s += (double)e;                                                                     \
      }                                                                                     \
      T inv = (T)(1.0 / s);                                                                 \
      _Pragma("omp simd")                                                                   \
      for (int64_t j = 0; j < n; j++) y[j] *= inv;                                          \
    }                                                                                       \
  }                                                                                         \
  static void sm_col_##SUF(T *y, const T *x, int64_t N, int64_t I, int64_t i0, int64_t bl,  \
                           bool lg) {                                                       \
    T m[LANES], f[LANES];                                                                   \
    double s[LANES];                                                                        \
    col_sumexp_##SUF(x, N, I, i0, bl, m, s, lg ? NULL : y);                                 \
    for (int64_t l = 0; l < bl; l++) f[l] = (T)(lg ? log(s[l]) : 1.0 / s[l]);               \
    for (int64_t n = 0; n < N; n++) {                                                       \
      const T *r = x + n * I + i0;                                                          \
      T *w = y + n * I + i0;                                                                \
      if (lg)                                                                               \
        for (int64_t l = 0; l < bl; l++) w[l] = (r[l] - m[l]) - f[l];                       \
      else                                                                                  \
        for (int64_t l = 0; l < bl; l++) w[l] *= f[l];                                      \
    }                                                                                       \
  }                                                                                         \
  /* softmax: gx = y (g - sum g y); log_softmax: gx = g - exp(y) sum g */                   \
  static void smb_row_##SUF(T *gx, const T *g, const T *y, int64_t n, bool lg) {            \
    double s = 0;                                                                           \
    if (lg) {                                                                               \
      _Pragma("omp simd reduction(+ : s)")                                                  \
      for (int64_t j = 0; j < n; j++) s += (double)g[j];                                    \
      T st = (T)s;                                                                          \
      _Pragma("omp simd")                                                                   \
      for (int64_t j = 0; j < n; j++) gx[j] = g[j] - exp_##SUF(y[j]) * st;                  \
    } else {                                                                                \
      _Pragma("omp simd reduction(+ : s)")                                                  \
      for (int64_t j = 0; j < n; j++) s += (double)g[j] * (double)y[j];                     \
      T st = (T)s;                                                                          \
      _Pragma("omp simd")                                                                   \
      for (int64_t j = 0; j < n; j++) gx[j] = y[j] * (g[j] - st);                           \
    }                                                                                       \
  }                                                                                         \
  static void smb_col_##SUF(T *gx, const T *g, const T *y, int64_t N, int64_t I,            \
                            int64_t i0, int64_t bl, bool lg) {                              \
    double s[LANES];                                                                        \
    T st[LANES];                                                                            \
    for (int64_t l = 0; l < bl; l++) s[l] = 0;                                              \
    for (int64_t n = 0; n < N; n++) {                                                       \
      const T *gr = g + n * I + i0, *yr = y + n * I + i0;                                   \
      if (lg)                                                                               \
        for (int64_t l = 0; l < bl; l++) s[l] += (double)gr[l];                             \
      else                                                                                  \
        for (int64_t l = 0; l < bl; l++) s[l] += (double)gr[l] * (double)yr[l];             \
    }                                                                                       \
    for (int64_t l = 0; l < bl; l++) st[l] = (T)s[l];                                       \
    for (int64_t n = 0; n < N; n++) {                                                       \
      const T *gr = g + n * I + i0, *yr = y + n * I + i0;                                   \
      T *w = gx + n * I + i0;                                                               \
      if (lg)                                                                               \
        for (int64_t l = 0; l < bl; l++) w[l] = gr[l] - exp_##SUF(yr[l]) * st[l];           \
      else                                                                                  \
        for (int64_t l = 0; l < bl; l++) w[l] = yr[l] * (gr[l] - st[l]);                    \
    }                                                                                       \
  }                                                                                         \
  static void sm_##SUF(T *y, const T *x, int64_t O, int64_t N, int64_t I, bool lg) {        \
    if (I == 1) {                                                                           \
      _Pragma("omp parallel for schedule(static) if (O * N > PAR_MIN && O > 1)")            \
      for (int64_t o = 0; o < O; o++) sm_row_##SUF(y + o * N, x + o * N, N, lg);            \
      return;                                                                               \
    }                                                                                       \
    int64_t nb = (I + LANES - 1) / LANES;                                                   \
    _Pragma("omp parallel for collapse(2) schedule(static) if (O * N * I > PAR_MIN)")       \
    for (int64_t o = 0; o < O; o++)                                                         \
      for (int64_t b = 0; b < nb; b++)                                                      \
        sm_col_##SUF(y + o * N * I, x + o * N * I, N, I, b * LANES,                         \
                     min64(LANES, I - b * LANES), lg);                                      \
  }                                                                                         \
  static void smb_##SUF(T *gx, const T *g, const T *y, int64_t O, int64_t N, int64_t I,     \
                        bool lg) {                                                          \
    if (I == 1) {                                                                           \
      _Pragma("omp parallel for schedule(static) if (O * N > PAR_MIN && O > 1)")            \
      for (int64_t o = 0; o < O; o++) smb_row_##SUF(gx + o * N, g + o * N, y + o * N, N, lg); \
      return;                                                                               \
    }                                                                                       \
    int64_t nb = (I + LANES - 1) / LANES;                                                   \
    _Pragma("omp parallel for collapse(2) schedule(static) if (O * N * I > PAR_MIN)")       \
    for (int64_t o = 0; o < O; o++)                                                         \
      for (int64_t b = 0; b < nb; b++)                                                      \
        smb_col_##SUF(gx + o * N * I, g + o * N * I, y + o * N * I, N, I, b * LANES,        \
                      min64(LANES, I - b * LANES), lg);                                     \
  }

DEFINE_SOFTMAX(f32, float)
DEFINE_SOFTMAX(f64, double)

static sg_status cpu_softmax(sg_tensor *y, const sg_tensor *x, int64_t O, int64_t N, int64_t I,
                             bool lg) {
  if (O * N * I == 0) return SG_OK;
  switch (x->dtype) {
    case SG_FLOAT32: sm_f32(sg_data_ptr(y), sg_data_ptr(x), O, N, I, lg); return SG_OK;
    case SG_FLOAT64: sm_f64(sg_data_ptr(y), sg_data_ptr(x), O, N, I, lg); return SG_OK;
    default:
      return sg_error(SG_ERR_ARG, "softmax: dtype %s not supported", sg_dtype_name(x->dtype));
  }
}

static sg_status cpu_softmax_backward(sg_tensor *gx, const sg_tensor *g, const sg_tensor *y,
                                      int64_t O, int64_t N, int64_t I, bool lg) {
  if (O * N * I == 0) return SG_OK;
  switch (y->dtype) {
    case SG_FLOAT32:
      smb_f32(sg_data_ptr(gx), sg_data_ptr(g), sg_data_ptr(y), O, N, I, lg);
      return SG_OK;
    case SG_FLOAT64:
      smb_f64(sg_data_ptr(gx), sg_data_ptr(g), sg_data_ptr(y), O, N, I, lg);
      return SG_OK;
    default:
      return sg_error(SG_ERR_ARG, "softmax backward: dtype %s not supported",
                      sg_dtype_name(y->dtype));
  }
}

const struct sg_softmax_kernels sg_cpu_softmax_kernels = {
    .softmax = cpu_softmax,
    .softmax_backward = cpu_softmax_backward,
};
