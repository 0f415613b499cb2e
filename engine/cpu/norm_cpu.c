/* CPU kernels of the norm family (see kernels_norm.h for the layouts).
 * Statistics are two-pass (mean, then the sum of squared deviations) and
 * accumulate in double; OpenMP splits groups (batch / instance norm) or rows
 * (layer norm); inner loops run over contiguous memory with simd reductions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "internal/kernels_norm.h"
#include "internal/tensor_internal.h"

/* Below this many elements a kernel runs on one thread. */
#define NORM_PAR_GRAIN 32768

static int max_threads(void) {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

static int thread_num(void) {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

/* ---------------- group statistics ---------------- */

#define DEFINE_MOMENTS(SUF, T)                                                           \
  static void moments_##SUF(T *mean, T *var, const T *x, int64_t A, int64_t G,          \
                            int64_t B) {                                                 \
    const double inv_m = 1.0 / (double)(A * B);                                          \
    _Pragma("omp parallel for schedule(static) if (A * G * B > NORM_PAR_GRAIN && G > 1)") \
    for (int64_t g = 0; g < G; g++) {                                                    \
      double s = 0;                                                                      \
      for (int64_t a = 0; a < A; a++) {                                                  \
        const T *p = x + (a * G + g) * B;                                                \
        _Pragma("omp simd reduction(+ : s)") for (int64_t b = 0; b < B; b++) s += p[b]; \
      }                                                                                  \
      const double m = s * inv_m;                                                        \
      double q = 0;                                                                      \
      for (int64_t a = 0; a < A; a++) {                                                  \
        const T *p = x + (a * G + g) * B;                                                \
        _Pragma("omp simd reduction(+ : q)") for (int64_t b = 0; b < B; b++) {          \
          double d = (double)p[b] - m;                                                   \
          q += d * d;                                                                    \
        }                                                                                \
      }                                                                                  \
      mean[g] = (T)m;                                                                    \
      var[g] = (T)(q * inv_m);                                                           \
    }                                                                                    \
  }
DEFINE_MOMENTS(f32, float)
DEFINE_MOMENTS(f64, double)

/* ---------------- short groups: column kernels ----------------
 * When each group's inner extent B is short (BatchNorm1d on N x C has
 * B = 1), the per-group loops above stride through memory. These kernels
 * instead stream x as [A, K = G * B] rows, accumulating per-column sums
 * (per-thread partials over rows, combined afterwards), then fold the B
 * columns of each group. */
#define NORM_COL_B 16

/* The activation fused after normalize (kernels_norm.h): the same
 * expressions as the relu / leaky_relu kernels (the output is bit for bit
 * the unfused one), and for the gradient the same mask values as their
 * backward (relu: 1 or 0; leaky_relu: slope + (1 - slope) * (z > 0),
 * computed in T). The forward writes the mask z > 0 (one byte an element)
 * for the backward, which reads it instead of the output: saving the
 * output would make it read-only for in-place ops, as the unfused
 * activation's output is not. */
#define ACT_FWD(T, z, act, sl) \
  ((act) == SG_ACT_RELU ? ((z) < 0 ? (T)0 : (z)) \
                             : (act) == SG_ACT_LEAKY_RELU ? ((z) > 0 ? (z) : (z) * (sl)) : (z))
#define ACT_GRAD(g, m, pos, neg) ((g) * ((m) ? (pos) : (neg)))
#define ACT_MASKS(T, act, slope, pos, neg)                              \
  const T pos = (act) == SG_ACT_LEAKY_RELU ? (T)((T)(1.0 - (slope)) + (T)(slope)) : (T)1; \
  const T neg = (act) == SG_ACT_LEAKY_RELU ? (T)(slope) : (T)0

#define DEFINE_COLS(SUF, T)                                                                   \
  static void cols_combine_##SUF(double *acc, int nt, int64_t K) {                           \
    for (int t = 1; t < nt; t++)                                                             \
      for (int64_t k = 0; k < K; k++) acc[k] += acc[(size_t)t * (size_t)K + (size_t)k];      \
  }                                                                                          \
  static int cols_moments_##SUF(T *mean, T *var, const T *x, int64_t A, int64_t G,          \
                                int64_t B) {                                                 \
    const int64_t K = G * B;                                                                 \
    const double inv_m = 1.0 / (double)(A * B);                                              \
    const bool par = A * K > NORM_PAR_GRAIN && A > 1;                                        \
    const int nt = par ? max_threads() : 1;                                                  \
    double *acc = calloc((size_t)(nt + 1) * (size_t)K, sizeof(double));                      \
    if (!acc) return -1;                                                                     \
    double *mc = acc + (size_t)nt * (size_t)K;                                               \
    _Pragma("omp parallel if (par)") {                                                       \
      double *s = acc + (size_t)thread_num() * (size_t)K;                                    \
      _Pragma("omp for schedule(static)") for (int64_t a = 0; a < A; a++) {                  \
        const T *r = x + a * K;                                                              \
        for (int64_t k = 0; k < K; k++) s[k] += r[k];                                        \
      }                                                                                      \
    }                                                                                        \
    cols_combine_##SUF(acc, nt, K);                                                          \
    for (int64_t g = 0; g < G; g++) {                                                        \
      double sum = 0;                                                                        \
      for (int64_t b = 0; b < B; b++) sum += acc[g * B + b];                                 \
      mean[g] = (T)(sum * inv_m);                                                            \
      for (int64_t b = 0; b < B; b++) mc[g * B + b] = sum * inv_m;                           \
    }                                                                                        \
    memset(acc, 0, sizeof(double) * (size_t)nt * (size_t)K);                                 \
    _Pragma("omp parallel if (par)") {                                                       \
      double *s = acc + (size_t)thread_num() * (size_t)K;                                    \
      _Pragma("omp for schedule(static)") for (int64_t a = 0; a < A; a++) {                  \
        const T *r = x + a * K;                                                              \
        for (int64_t k = 0; k < K; k++) {                                                    \
          double d = (double)r[k] - mc[k];                                                   \
          s[k] += d * d;                                                                     \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
    cols_combine_##SUF(acc, nt, K);                                                          \
    for (int64_t g = 0; g < G; g++) {                                                        \
      double q = 0;                                                                          \
      for (int64_t b = 0; b < B; b++) q += acc[g * B + b];                                   \
      var[g] = (T)(q * inv_m);                                                               \
    }                                                                                        \
    free(acc);                                                                               \
    return 0;                                                                                \
  }                                                                                          \
  /* y = (x - mc[k]) * sc[k] + sh[k] with per-column tables */                               \
  static int cols_normalize_##SUF(T *y, const T *x, int64_t A, int64_t G, int64_t B,        \
                                  const T *mean, const T *invstd, const T *w, const T *bias, \
                                  int64_t C, sg_activation act, double slope, bool *mask) {    \
    const T sl = (T)slope;                                                                   \
    const int64_t K = G * B;                                                                 \
    T *tab = malloc(sizeof(T) * 3 * (size_t)K);                                              \
    if (!tab) return -1;                                                                     \
    T *mc = tab, *sc = tab + K, *sh = tab + 2 * K;                                           \
    for (int64_t g = 0; g < G; g++)                                                          \
      for (int64_t b = 0; b < B; b++) {                                                      \
        mc[g * B + b] = mean[g];                                                             \
        sc[g * B + b] = invstd[g] * (w ? w[g % C] : (T)1);                                   \
        sh[g * B + b] = bias ? bias[g % C] : (T)0;                                           \
      }                                                                                      \
    _Pragma("omp parallel for schedule(static) if (A * K > NORM_PAR_GRAIN && A > 1)")        \
    for (int64_t a = 0; a < A; a++) {                                                        \
      const T *r = x + a * K;                                                                \
      T *q = y + a * K;                                                                      \
      for (int64_t k = 0; k < K; k++) {                                                      \
        T z = (r[k] - mc[k]) * sc[k] + sh[k];                                                \
        q[k] = ACT_FWD(T, z, act, sl);                                                       \
        if (mask) mask[a * K + k] = z > 0;                                                   \
      }                                                                                      \
    }                                                                                        \
    free(tab);                                                                               \
    return 0;                                                                                \
  }                                                                                          \
  static int cols_bwd_##SUF(T *dx, T *sdy, T *sdyx, const T *dy, const T *x, int64_t A,     \
                            int64_t G, int64_t B, const T *mean, const T *invstd,           \
                            const T *w, int64_t C, const bool *y, sg_activation act,          \
                            double slope) {                                                  \
    ACT_MASKS(T, act, slope, pos, neg);                                                      \
    const int64_t K = G * B;                                                                 \
    const double inv_m = 1.0 / (double)(A * B);                                              \
    const bool par = A * K > NORM_PAR_GRAIN && A > 1;                                        \
    const int nt = par ? max_threads() : 1;                                                  \
    double *acc = calloc((size_t)nt * 2 * (size_t)K, sizeof(double));                        \
    T *tab = malloc(sizeof(T) * 4 * (size_t)K);                                              \
    if (!acc || !tab) {                                                                      \
      free(acc);                                                                             \
      free(tab);                                                                             \
      return -1;                                                                             \
    }                                                                                        \
    T *mc = tab, *cdy = tab + K, *cx = tab + 2 * K, *c0 = tab + 3 * K;                       \
    for (int64_t g = 0; g < G; g++)                                                          \
      for (int64_t b = 0; b < B; b++) mc[g * B + b] = mean[g];                               \
    _Pragma("omp parallel if (par)") {                                                       \
      double *s1 = acc + (size_t)thread_num() * 2 * (size_t)K, *s2 = s1 + K;                 \
      _Pragma("omp for schedule(static)") for (int64_t a = 0; a < A; a++) {                  \
        const T *pg = dy + a * K, *px = x + a * K;                                           \
        const bool *py = y ? y + a * K : NULL;                                               \
        if (py) {                                                                            \
          for (int64_t k = 0; k < K; k++) {                                                  \
            const T gk = ACT_GRAD(pg[k], py[k], pos, neg);                                   \
            s1[k] += gk;                                                                     \
            s2[k] += (double)gk * (double)(px[k] - mc[k]);                                   \
          }                                                                                  \
        } else {                                                                             \
          for (int64_t k = 0; k < K; k++) {                                                  \
            s1[k] += pg[k];                                                                  \
            s2[k] += (double)pg[k] * (double)(px[k] - mc[k]);                                \
          }                                                                                  \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
    cols_combine_##SUF(acc, nt, 2 * K);                                                      \
    for (int64_t g = 0; g < G; g++) {                                                        \
      double S1 = 0, S2 = 0;                                                                 \
      for (int64_t b = 0; b < B; b++) {                                                      \
        S1 += acc[g * B + b];                                                                \
        S2 += acc[K + g * B + b];                                                            \
      }                                                                                      \
      const double is = invstd[g];                                                           \
      sdy[g] = (T)S1;                                                                        \
      sdyx[g] = (T)(S2 * is);                                                                \
      const double kk = is * (w ? (double)w[g % C] : 1.0);                                   \
      for (int64_t b = 0; b < B; b++) {                                                      \
        cdy[g * B + b] = (T)kk;                                                              \
        cx[g * B + b] = (T)(kk * is * is * S2 * inv_m);                                      \
        c0[g * B + b] = (T)(kk * S1 * inv_m);                                                \
      }                                                                                      \
    }                                                                                        \
    if (dx) {                                                                                \
      _Pragma("omp parallel for schedule(static) if (par)")                                  \
      for (int64_t a = 0; a < A; a++) {                                                      \
        const T *pg = dy + a * K, *px = x + a * K;                                           \
        const bool *py = y ? y + a * K : NULL;                                               \
        T *q = dx + a * K;                                                                   \
        if (py) {                                                                            \
          for (int64_t k = 0; k < K; k++)                                                    \
            q[k] = cdy[k] * ACT_GRAD(pg[k], py[k], pos, neg) - cx[k] * (px[k] - mc[k]) - c0[k]; \
        } else {                                                                             \
          for (int64_t k = 0; k < K; k++)                                                    \
            q[k] = cdy[k] * pg[k] - cx[k] * (px[k] - mc[k]) - c0[k];                         \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
    free(acc);                                                                               \
    free(tab);                                                                               \
    return 0;                                                                                \
  }
DEFINE_COLS(f32, float)
DEFINE_COLS(f64, double)

static bool use_cols(int64_t A, int64_t B) { return B < NORM_COL_B && A > 1; }

static sg_status cols_oom(void) {
  return sg_error(SG_ERR_MEM, "batch_norm: out of memory for column accumulators");
}

static sg_status cpu_moments(sg_tensor *mean, sg_tensor *var, const sg_tensor *x, int64_t A,
                             int64_t G, int64_t B) {
  if (A * B == 0 || G == 0) return sg_error(SG_ERR_ARG, "norm moments: empty groups");
  if (use_cols(A, B)) {
    int rc = x->dtype == SG_FLOAT32
                 ? cols_moments_f32(sg_data_ptr(mean), sg_data_ptr(var), sg_data_ptr(x), A, G, B)
                 : cols_moments_f64(sg_data_ptr(mean), sg_data_ptr(var), sg_data_ptr(x), A, G, B);
    return rc ? cols_oom() : SG_OK;
  }
  if (x->dtype == SG_FLOAT32)
    moments_f32(sg_data_ptr(mean), sg_data_ptr(var), sg_data_ptr(x), A, G, B);
  else
    moments_f64(sg_data_ptr(mean), sg_data_ptr(var), sg_data_ptr(x), A, G, B);
  return SG_OK;
}

/* ---------------- normalize with given statistics ---------------- */

#define DEFINE_NORMALIZE(SUF, T)                                                          \
  static void normalize_##SUF(T *y, const T *x, int64_t A, int64_t G, int64_t B,         \
                              const T *mean, const T *invstd, const T *w, const T *bias, \
                              int64_t C, sg_activation act, double slope, bool *mask) {     \
    const T sl = (T)slope;                                                                \
    _Pragma("omp parallel for collapse(2) schedule(static) if (A * G * B > NORM_PAR_GRAIN)") \
    for (int64_t a = 0; a < A; a++) {                                                     \
      for (int64_t g = 0; g < G; g++) {                                                   \
        const T m = mean[g];                                                              \
        const T s = invstd[g] * (w ? w[g % C] : (T)1);                                    \
        const T sh = bias ? bias[g % C] : (T)0;                                           \
        const T *p = x + (a * G + g) * B;                                                 \
        T *q = y + (a * G + g) * B;                                                       \
        for (int64_t b = 0; b < B; b++) {                                                 \
          T z = (p[b] - m) * s + sh;                                                      \
          q[b] = ACT_FWD(T, z, act, sl);                                                  \
          if (mask) mask[(a * G + g) * B + b] = z > 0;                                    \
        }                                                                                 \
      }                                                                                   \
    }                                                                                     \
  }
DEFINE_NORMALIZE(f32, float)
DEFINE_NORMALIZE(f64, double)

static const void *opt_ptr(const sg_tensor *t) { return t ? sg_data_ptr(t) : NULL; }

static sg_status cpu_normalize_act(sg_tensor *y, sg_tensor *mask, const sg_tensor *x, int64_t A,
                                   int64_t G, int64_t B, const sg_tensor *mean,
                                   const sg_tensor *invstd, const sg_tensor *w, const sg_tensor *b,
                                   int64_t C, sg_activation act, double slope) {
  bool *pm = mask ? sg_data_ptr(mask) : NULL;
  if (C <= 0) C = G;
  if (use_cols(A, B)) {
    int rc = x->dtype == SG_FLOAT32
                 ? cols_normalize_f32(sg_data_ptr(y), sg_data_ptr(x), A, G, B, sg_data_ptr(mean),
                                      sg_data_ptr(invstd), opt_ptr(w), opt_ptr(b), C, act, slope, pm)
                 : cols_normalize_f64(sg_data_ptr(y), sg_data_ptr(x), A, G, B, sg_data_ptr(mean),
                                      sg_data_ptr(invstd), opt_ptr(w), opt_ptr(b), C, act, slope, pm);
    return rc ? cols_oom() : SG_OK;
  }
  if (x->dtype == SG_FLOAT32)
    normalize_f32(sg_data_ptr(y), sg_data_ptr(x), A, G, B, sg_data_ptr(mean),
                  sg_data_ptr(invstd), opt_ptr(w), opt_ptr(b), C, act, slope, pm);
  else
    normalize_f64(sg_data_ptr(y), sg_data_ptr(x), A, G, B, sg_data_ptr(mean),
                  sg_data_ptr(invstd), opt_ptr(w), opt_ptr(b), C, act, slope, pm);
  return SG_OK;
}

static sg_status cpu_normalize(sg_tensor *y, const sg_tensor *x, int64_t A, int64_t G,
                               int64_t B, const sg_tensor *mean, const sg_tensor *invstd,
                               const sg_tensor *w, const sg_tensor *b, int64_t C) {
  return cpu_normalize_act(y, NULL, x, A, G, B, mean, invstd, w, b, C, SG_ACT_NONE, 0.0);
}

/* ---------------- backward with batch statistics ---------------- */

#define DEFINE_NORM_BWD(SUF, T)                                                             \
  static void norm_bwd_##SUF(T *dx, T *sdy, T *sdyx, const T *dy, const T *x, int64_t A,   \
                             int64_t G, int64_t B, const T *mean, const T *invstd,         \
                             const T *w, int64_t C, const bool *y, sg_activation act,        \
                             double slope) {                                                \
    const double inv_m = 1.0 / (double)(A * B);                                             \
    ACT_MASKS(T, act, slope, pos, neg);                                                     \
    _Pragma("omp parallel for schedule(static) if (A * G * B > NORM_PAR_GRAIN && G > 1)")   \
    for (int64_t g = 0; g < G; g++) {                                                       \
      const T m = mean[g];                                                                  \
      double s1 = 0, s2 = 0;                                                                \
      for (int64_t a = 0; a < A; a++) {                                                     \
        const T *pg = dy + (a * G + g) * B, *px = x + (a * G + g) * B;                      \
        const bool *py = y ? y + (a * G + g) * B : NULL;                                    \
        if (py) {                                                                           \
          _Pragma("omp simd reduction(+ : s1, s2)") for (int64_t b = 0; b < B; b++) {      \
            const T gb = ACT_GRAD(pg[b], py[b], pos, neg);                                  \
            s1 += gb;                                                                       \
            s2 += (double)gb * (double)(px[b] - m);                                         \
          }                                                                                 \
        } else {                                                                            \
          _Pragma("omp simd reduction(+ : s1, s2)") for (int64_t b = 0; b < B; b++) {      \
            s1 += pg[b];                                                                    \
            s2 += (double)pg[b] * (double)(px[b] - m);                                      \
          }                                                                                 \
        }                                                                                   \
      }                                                                                     \
      const double is = invstd[g];                                                          \
      sdy[g] = (T)s1;                                                                       \
      sdyx[g] = (T)(s2 * is);                                                               \
      if (!dx) continue;                                                                    \
      /* dx = k * (dy - s1/M - (x - m) * is * (s2 * is)/M) */                               \
      const double k = is * (w ? (double)w[g % C] : 1.0);                                   \
      const T c_dy = (T)k;                                                                  \
      const T c_x = (T)(k * is * is * s2 * inv_m);                                          \
      const T c_0 = (T)(k * s1 * inv_m);                                                    \
      for (int64_t a = 0; a < A; a++) {                                                     \
        const T *pg = dy + (a * G + g) * B, *px = x + (a * G + g) * B;                      \
        const bool *py = y ? y + (a * G + g) * B : NULL;                                    \
        T *q = dx + (a * G + g) * B;                                                        \
        if (py) {                                                                           \
          for (int64_t b = 0; b < B; b++)                                                   \
            q[b] = c_dy * ACT_GRAD(pg[b], py[b], pos, neg) - c_x * (px[b] - m) - c_0;       \
        } else {                                                                            \
          for (int64_t b = 0; b < B; b++) q[b] = c_dy * pg[b] - c_x * (px[b] - m) - c_0;    \
        }                                                                                   \
      }                                                                                     \
    }                                                                                       \
  }
DEFINE_NORM_BWD(f32, float)
DEFINE_NORM_BWD(f64, double)

static sg_status cpu_normalize_act_backward(sg_tensor *dx, sg_tensor *sum_dy,
                                            sg_tensor *sum_dy_xhat, const sg_tensor *dy,
                                            const sg_tensor *mask, const sg_tensor *x, int64_t A,
                                            int64_t G, int64_t B, const sg_tensor *mean,
                                            const sg_tensor *invstd, const sg_tensor *w,
                                            int64_t C, sg_activation act, double slope) {
  if (A * B == 0 || G == 0) return sg_error(SG_ERR_ARG, "norm backward: empty groups");
  if (act != SG_ACT_NONE && (!mask || mask->dtype != SG_BOOL))
    return sg_error(SG_ERR_ARG, "norm backward: the activation's mask is missing");
  if (C <= 0) C = G;
  const bool f32 = x->dtype == SG_FLOAT32;
  void *pdx = dx ? sg_data_ptr(dx) : NULL;
  const bool *py = act != SG_ACT_NONE ? sg_data_ptr(mask) : NULL;
  if (use_cols(A, B)) {
    int rc = f32 ? cols_bwd_f32(pdx, sg_data_ptr(sum_dy), sg_data_ptr(sum_dy_xhat),
                                sg_data_ptr(dy), sg_data_ptr(x), A, G, B, sg_data_ptr(mean),
                                sg_data_ptr(invstd), opt_ptr(w), C, py, act, slope)
                 : cols_bwd_f64(pdx, sg_data_ptr(sum_dy), sg_data_ptr(sum_dy_xhat),
                                sg_data_ptr(dy), sg_data_ptr(x), A, G, B, sg_data_ptr(mean),
                                sg_data_ptr(invstd), opt_ptr(w), C, py, act, slope);
    return rc ? cols_oom() : SG_OK;
  }
  if (f32)
    norm_bwd_f32(pdx, sg_data_ptr(sum_dy), sg_data_ptr(sum_dy_xhat), sg_data_ptr(dy),
                 sg_data_ptr(x), A, G, B, sg_data_ptr(mean), sg_data_ptr(invstd), opt_ptr(w), C,
                 py, act, slope);
  else
    norm_bwd_f64(pdx, sg_data_ptr(sum_dy), sg_data_ptr(sum_dy_xhat), sg_data_ptr(dy),
                 sg_data_ptr(x), A, G, B, sg_data_ptr(mean), sg_data_ptr(invstd), opt_ptr(w), C,
                 py, act, slope);
  return SG_OK;
}

static sg_status cpu_normalize_backward(sg_tensor *dx, sg_tensor *sum_dy, sg_tensor *sum_dy_xhat,
                                        const sg_tensor *dy, const sg_tensor *x, int64_t A,
                                        int64_t G, int64_t B, const sg_tensor *mean,
                                        const sg_tensor *invstd, const sg_tensor *w, int64_t C) {
  return cpu_normalize_act_backward(dx, sum_dy, sum_dy_xhat, dy, NULL, x, A, G, B, mean, invstd,
                                    w, C, SG_ACT_NONE, 0.0);
}

/* ---------------- layer norm ---------------- */

#define DEFINE_LN(SUF, T)                                                                 \
  static void ln_##SUF(T *y, T *mean, T *invstd, const T *x, int64_t R, int64_t D,       \
                       const T *w, const T *bias, double eps) {                           \
    const double inv_d = 1.0 / (double)D;                                                 \
    _Pragma("omp parallel for schedule(static) if (R * D > NORM_PAR_GRAIN && R > 1)")     \
    for (int64_t r = 0; r < R; r++) {                                                     \
      const T *p = x + r * D;                                                             \
      T *q = y + r * D;                                                                   \
      double s = 0;                                                                       \
      _Pragma("omp simd reduction(+ : s)") for (int64_t d = 0; d < D; d++) s += p[d];    \
      const double m = s * inv_d;                                                         \
      double v = 0;                                                                       \
      _Pragma("omp simd reduction(+ : v)") for (int64_t d = 0; d < D; d++) {             \
        double e = (double)p[d] - m;                                                      \
        v += e * e;                                                                       \
      }                                                                                   \
      const double is = 1.0 / sqrt(v * inv_d + eps);                                      \
      mean[r] = (T)m;                                                                     \
      invstd[r] = (T)is;                                                                  \
      const T mt = (T)m, it = (T)is;                                                      \
      if (w && bias)                                                                      \
        for (int64_t d = 0; d < D; d++) q[d] = (p[d] - mt) * it * w[d] + bias[d];         \
      else if (w)                                                                         \
        for (int64_t d = 0; d < D; d++) q[d] = (p[d] - mt) * it * w[d];                   \
      else if (bias)                                                                      \
        for (int64_t d = 0; d < D; d++) q[d] = (p[d] - mt) * it + bias[d];                \
      else                                                                                \
        for (int64_t d = 0; d < D; d++) q[d] = (p[d] - mt) * it;                          \
    }                                                                                     \
  }
DEFINE_LN(f32, float)
DEFINE_LN(f64, double)

static sg_status cpu_layer_norm(sg_tensor *y, sg_tensor *mean, sg_tensor *invstd,
                                const sg_tensor *x, int64_t R, int64_t D, const sg_tensor *w,
                                const sg_tensor *b, double eps) {
  if (R == 0) return SG_OK;
  if (D == 0) return sg_error(SG_ERR_ARG, "layer_norm: empty rows");
  if (x->dtype == SG_FLOAT32)
    ln_f32(sg_data_ptr(y), sg_data_ptr(mean), sg_data_ptr(invstd), sg_data_ptr(x), R, D,
           opt_ptr(w), opt_ptr(b), eps);
  else
    ln_f64(sg_data_ptr(y), sg_data_ptr(mean), sg_data_ptr(invstd), sg_data_ptr(x), R, D,
           opt_ptr(w), opt_ptr(b), eps);
  return SG_OK;
}

/* dx per row; dw/db accumulate per thread in acc (nt x 2 x D doubles). */
#define DEFINE_LN_BWD(SUF, T)                                                               \
  static void ln_bwd_##SUF(T *dx, double *acc, bool want_w, bool want_b, const T *dy,      \
                           const T *x, const T *mean, const T *invstd, const T *w, int64_t R, \
                           int64_t D, bool par) {                                           \
    const double inv_d = 1.0 / (double)D;                                                   \
    _Pragma("omp parallel if (par)") {                                                      \
      double *pw = acc + (size_t)thread_num() * 2 * (size_t)D, *pb = pw + D;               \
      _Pragma("omp for schedule(static)") for (int64_t r = 0; r < R; r++) {                 \
        const T *g = dy + r * D, *p = x + r * D;                                            \
        const T m = mean[r], is = invstd[r];                                                \
        if (dx) {                                                                           \
          double c1 = 0, c2 = 0;                                                            \
          if (w) {                                                                          \
            _Pragma("omp simd reduction(+ : c1, c2)") for (int64_t d = 0; d < D; d++) {    \
              double gw = (double)g[d] * (double)w[d];                                      \
              c1 += gw;                                                                     \
              c2 += gw * (double)(p[d] - m);                                                \
            }                                                                               \
          } else {                                                                          \
            _Pragma("omp simd reduction(+ : c1, c2)") for (int64_t d = 0; d < D; d++) {    \
              c1 += g[d];                                                                   \
              c2 += (double)g[d] * (double)(p[d] - m);                                      \
            }                                                                               \
          }                                                                                 \
          /* dx = is * (g*w - c1/D - (x - m) * is * (c2 * is)/D) */                         \
          const T k1 = (T)(c1 * inv_d), k2 = (T)(c2 * (double)is * (double)is * inv_d);    \
          T *q = dx + r * D;                                                                \
          if (w)                                                                            \
            for (int64_t d = 0; d < D; d++) q[d] = is * (g[d] * w[d] - k1 - (p[d] - m) * k2); \
          else                                                                              \
            for (int64_t d = 0; d < D; d++) q[d] = is * (g[d] - k1 - (p[d] - m) * k2);      \
        }                                                                                   \
        if (want_w)                                                                         \
          for (int64_t d = 0; d < D; d++) pw[d] += (double)g[d] * (double)((p[d] - m) * is); \
        if (want_b)                                                                         \
          for (int64_t d = 0; d < D; d++) pb[d] += g[d];                                    \
      }                                                                                     \
    }                                                                                       \
  }
DEFINE_LN_BWD(f32, float)
DEFINE_LN_BWD(f64, double)

static sg_status cpu_layer_norm_backward(sg_tensor *dx, sg_tensor *dw, sg_tensor *db,
                                         const sg_tensor *dy, const sg_tensor *x,
                                         const sg_tensor *mean, const sg_tensor *invstd,
                                         const sg_tensor *w, int64_t R, int64_t D) {
  if (D == 0) return sg_error(SG_ERR_ARG, "layer_norm backward: empty rows");
  bool par = R * D > NORM_PAR_GRAIN && R > 1;
  int nt = par ? max_threads() : 1;
  bool want_w = dw != NULL, want_b = db != NULL;
  /* per-thread partial sums of dw and db (the kernel indexes them by thread) */
  double *buf = calloc((size_t)nt * 2 * (size_t)D, sizeof(double));
  if (!buf) return sg_error(SG_ERR_MEM, "layer_norm backward: out of memory");
  if (x->dtype == SG_FLOAT32)
    ln_bwd_f32(dx ? sg_data_ptr(dx) : NULL, buf, want_w, want_b, sg_data_ptr(dy), sg_data_ptr(x),
               sg_data_ptr(mean), sg_data_ptr(invstd), opt_ptr(w), R, D, par);
  else
    ln_bwd_f64(dx ? sg_data_ptr(dx) : NULL, buf, want_w, want_b, sg_data_ptr(dy), sg_data_ptr(x),
               sg_data_ptr(mean), sg_data_ptr(invstd), opt_ptr(w), R, D, par);
  /* sum the per-thread partials */
  for (int t = 1; t < nt; t++) {
    double *src = buf + (size_t)t * 2 * (size_t)D;
    for (int64_t d = 0; d < 2 * D; d++) buf[d] += src[d];
  }
  for (int64_t d = 0; d < D; d++) {
    if (want_w) {
      if (dw->dtype == SG_FLOAT32) ((float *)sg_data_ptr(dw))[d] = (float)buf[d];
      else ((double *)sg_data_ptr(dw))[d] = buf[d];
    }
    if (want_b) {
      if (db->dtype == SG_FLOAT32) ((float *)sg_data_ptr(db))[d] = (float)buf[D + d];
      else ((double *)sg_data_ptr(db))[d] = buf[D + d];
    }
  }
  free(buf);
  return SG_OK;
}

const struct sg_norm_kernels sg_cpu_norm_kernels = {
    .moments = cpu_moments,
    .normalize = cpu_normalize,
    .normalize_backward = cpu_normalize_backward,
    .normalize_act = cpu_normalize_act,
    .normalize_act_backward = cpu_normalize_act_backward,
    .layer_norm = cpu_layer_norm,
    .layer_norm_backward = cpu_layer_norm_backward,
};
