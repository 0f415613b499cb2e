/* CPU kernels of the loss family: fused, numerically stable softmax and
 * log_softmax (max subtraction) with their fused backward, the MSE / L1
 * fused reductions, and class-target checking for nll_loss.
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

#include "internal/kernels_loss.h"
#include "internal/kernels_reduce.h" /* sg_cpu_expf */
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

/* ------------------------------------------------------------------ */
/* MSE / L1                                                             */
/* ------------------------------------------------------------------ */

#define DEFINE_POINTWISE(SUF, T)                                                          \
  static double pw_sum_##SUF(sg_pointwise_loss kind, const T *x, const T *t, int64_t n) { \
    double s = 0;                                                                         \
    if (kind == SG_LOSS_MSE) {                                                            \
      _Pragma("omp parallel for simd reduction(+ : s) if (n > PAR_MIN)")                  \
      for (int64_t j = 0; j < n; j++) {                                                   \
        double d = (double)x[j] - (double)t[j];                                           \
        s += d * d;                                                                       \
      }                                                                                   \
    } else {                                                                              \
      _Pragma("omp parallel for simd reduction(+ : s) if (n > PAR_MIN)")                  \
      for (int64_t j = 0; j < n; j++) s += fabs((double)x[j] - (double)t[j]);             \
    }                                                                                     \
    return s;                                                                             \
  }                                                                                       \
  static void pw_grad_##SUF(sg_pointwise_loss kind, T *gx, const T *x, const T *t,        \
                            int64_t n, double scale) {                                    \
    if (kind == SG_LOSS_MSE) {                                                            \
      T c = (T)(2.0 * scale);                                                             \
      _Pragma("omp parallel for simd if (n > PAR_MIN)")                                   \
      for (int64_t j = 0; j < n; j++) gx[j] = c * (x[j] - t[j]);                          \
    } else {                                                                              \
      T c = (T)scale;                                                                     \
      _Pragma("omp parallel for simd if (n > PAR_MIN)")                                   \
      for (int64_t j = 0; j < n; j++) {                                                   \
        T d = x[j] - t[j];                                                                \
        gx[j] = c * (T)((d > 0) - (d < 0));                                               \
      }                                                                                   \
    }                                                                                     \
  }

DEFINE_POINTWISE(f32, float)
DEFINE_POINTWISE(f64, double)

static sg_status cpu_pointwise_sum(sg_pointwise_loss kind, const sg_tensor *x,
                                   const sg_tensor *t, double *out) {
  int64_t n = sg_numel(x);
  switch (x->dtype) {
    case SG_FLOAT32: *out = pw_sum_f32(kind, sg_data_ptr(x), sg_data_ptr(t), n); return SG_OK;
    case SG_FLOAT64: *out = pw_sum_f64(kind, sg_data_ptr(x), sg_data_ptr(t), n); return SG_OK;
    default:
      return sg_error(SG_ERR_ARG, "loss: dtype %s not supported", sg_dtype_name(x->dtype));
  }
}

static sg_status cpu_pointwise_grad(sg_pointwise_loss kind, sg_tensor *gx, const sg_tensor *x,
                                    const sg_tensor *t, double scale) {
  int64_t n = sg_numel(x);
  switch (x->dtype) {
    case SG_FLOAT32:
      pw_grad_f32(kind, sg_data_ptr(gx), sg_data_ptr(x), sg_data_ptr(t), n, scale);
      return SG_OK;
    case SG_FLOAT64:
      pw_grad_f64(kind, sg_data_ptr(gx), sg_data_ptr(x), sg_data_ptr(t), n, scale);
      return SG_OK;
    default:
      return sg_error(SG_ERR_ARG, "loss backward: dtype %s not supported",
                      sg_dtype_name(x->dtype));
  }
}

/* ------------------------------------------------------------------ */
/* nll_loss targets                                                     */
/* ------------------------------------------------------------------ */

#define DEFINE_NLL_PREP(SUF, T)                                                            \
  static void nll_prep_##SUF(int64_t *safe, T *w, const int64_t *tg, const T *weight,      \
                             int64_t M, int64_t C, int64_t ignore, int64_t *bad,           \
                             double *wsum, int64_t *nign) {                                \
    int64_t first_bad = INT64_MAX, ni = 0;                                                 \
    double ws = 0;                                                                         \
    _Pragma("omp parallel for reduction(min : first_bad) reduction(+ : ws, ni) if (M > PAR_MIN)") \
    for (int64_t m = 0; m < M; m++) {                                                      \
      int64_t v = tg[m];                                                                   \
      if (v == ignore) {                                                                   \
        safe[m] = 0;                                                                       \
        w[m] = 0;                                                                          \
        ni++;                                                                              \
      } else if (v < 0 || v >= C) {                                                        \
        safe[m] = 0;                                                                       \
        w[m] = 0;                                                                          \
        first_bad = m < first_bad ? m : first_bad;                                         \
      } else {                                                                             \
        T wv = weight ? weight[v] : (T)1;                                                  \
        safe[m] = v;                                                                       \
        w[m] = wv;                                                                         \
        ws += (double)wv;                                                                  \
      }                                                                                    \
    }                                                                                      \
    *bad = first_bad == INT64_MAX ? -1 : first_bad;                                        \
    *wsum = ws;                                                                            \
    *nign = ni;                                                                            \
  }

DEFINE_NLL_PREP(f32, float)
DEFINE_NLL_PREP(f64, double)

static sg_status cpu_nll_prepare(sg_tensor *safe_idx, sg_tensor *w, const sg_tensor *target,
                                 const sg_tensor *weight, int64_t C, int64_t ignore_index,
                                 int64_t *bad, double *wsum, int64_t *n_ignored) {
  int64_t M = sg_numel(target);
  const void *wp = weight ? sg_data_ptr(weight) : NULL;
  switch (w->dtype) {
    case SG_FLOAT32:
      nll_prep_f32(sg_data_ptr(safe_idx), sg_data_ptr(w), sg_data_ptr(target), wp, M, C,
                   ignore_index, bad, wsum, n_ignored);
      return SG_OK;
    case SG_FLOAT64:
      nll_prep_f64(sg_data_ptr(safe_idx), sg_data_ptr(w), sg_data_ptr(target), wp, M, C,
                   ignore_index, bad, wsum, n_ignored);
      return SG_OK;
    default:
      return sg_error(SG_ERR_ARG, "nll_loss: dtype %s not supported", sg_dtype_name(w->dtype));
  }
}

const struct sg_loss_kernels sg_cpu_loss_kernels = {
    .softmax = cpu_softmax,
    .softmax_backward = cpu_softmax_backward,
    .pointwise_sum = cpu_pointwise_sum,
    .pointwise_grad = cpu_pointwise_grad,
    .nll_prepare = cpu_nll_prepare,
};
