/* CPU kernels of the loss family: the MSE / L1 fused reductions and
 * class-target checking for nll_loss. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal/kernels_loss.h"
#include "internal/tensor_internal.h"

#define PAR_MIN 32768

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
                             int64_t M, int64_t C, int64_t ignore, int64_t base,           \
                             int64_t *bad, double *wsum, int64_t *nign) {                  \
    int64_t first_bad = INT64_MAX, ni = 0;                                                 \
    double ws = 0;                                                                         \
    _Pragma("omp parallel for reduction(min : first_bad) reduction(+ : ws, ni) if (M > PAR_MIN)") \
    for (int64_t m = 0; m < M; m++) {                                                      \
      int64_t v = tg[m];                                                                   \
      if (v == ignore) {                                                                   \
        safe[m] = 0;                                                                       \
        w[m] = 0;                                                                          \
        ni++;                                                                              \
      } else if (v < base || (uint64_t)v - (uint64_t)base >= (uint64_t)C) {                \
        safe[m] = 0; /* the unsigned difference: v - base overflows no int64 */           \
        w[m] = 0;                                                                          \
        first_bad = m < first_bad ? m : first_bad;                                         \
      } else {                                                                             \
        int64_t c = (int64_t)((uint64_t)v - (uint64_t)base);                               \
        T wv = weight ? weight[c] : (T)1;                                                  \
        safe[m] = c;                                                                       \
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
                                 int64_t label_base, int64_t *bad, double *wsum,
                                 int64_t *n_ignored) {
  int64_t M = sg_numel(target);
  const void *wp = weight ? sg_data_ptr(weight) : NULL;
  switch (w->dtype) {
    case SG_FLOAT32:
      nll_prep_f32(sg_data_ptr(safe_idx), sg_data_ptr(w), sg_data_ptr(target), wp, M, C,
                   ignore_index, label_base, bad, wsum, n_ignored);
      return SG_OK;
    case SG_FLOAT64:
      nll_prep_f64(sg_data_ptr(safe_idx), sg_data_ptr(w), sg_data_ptr(target), wp, M, C,
                   ignore_index, label_base, bad, wsum, n_ignored);
      return SG_OK;
    default:
      return sg_error(SG_ERR_ARG, "nll_loss: dtype %s not supported", sg_dtype_name(w->dtype));
  }
}

const struct sg_loss_kernels sg_cpu_loss_kernels = {
    .pointwise_sum = cpu_pointwise_sum,
    .pointwise_grad = cpu_pointwise_grad,
    .nll_prepare = cpu_nll_prepare,
};
