/* CPU reduction kernels over the middle dim of a contiguous [O, N, I]
 * block (see kernels_reduce.h): min/max with indices, var, norm,
 * logsumexp, and the take/put-along-dim pair.
 *
 * Three shapes of work:
 *  - rows (I == 1): each output reduces one contiguous row; threads split
 *    the rows, the row loop is an `omp simd` reduction;
 *  - one long row (O == I == 1): the row itself is split across threads;
 *  - columns (I > 1): blocks of LANES adjacent outputs are reduced together,
 *    streaming over n, so the inner loop is contiguous and vectorizes.
 * Sums of float32 accumulate in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/expf_cpu.h"
#include "internal/kernels_reduce.h"
#include "internal/tensor_internal.h"

#define PAR_MIN 32768 /* elements of work below which kernels stay serial */
#define LANES 64      /* outputs reduced together in the column layout */
#define MAX_CHUNKS 256

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

#define PRAGMA(x) _Pragma(#x)
#define FNAN(v) ((v) != (v))
#define INAN(v) 0

/* ------------------------------------------------------------------ */
/* min / max                                                            */
/* ------------------------------------------------------------------ */

/* CMP is > for max, < for min. */
#define DEFINE_MINMAX_DIR(SUF, T, ISNAN, DIR, CMP)                                        \
  /* value only: a vectorized reduction plus a NaN flag */                              \
  static T rowv_##DIR##_##SUF(const T *x, int64_t n) {                                  \
    T b = x[0];                                                                         \
    int nan = 0;                                                                        \
    PRAGMA(omp simd reduction(DIR : b) reduction(| : nan))                              \
    for (int64_t j = 0; j < n; j++) {                                                   \
      T v = x[j];                                                                       \
      b = v CMP b ? v : b;                                                              \
      nan |= ISNAN(v);                                                                  \
    }                                                                                   \
    if (nan)                                                                            \
      for (int64_t j = 0; j < n; j++)                                                   \
        if (ISNAN(x[j])) return x[j];                                                   \
    return b;                                                                           \
  }                                                                                     \
  /* value and index of the best element of a row: NaN wins, ties keep the first.     \
   * The value comes from the vectorized pass, then the first position holding it   \
   * is searched 64 elements at a time. */                                              \
  static void row_##DIR##_##SUF(const T *x, int64_t n, T *val, int64_t *idx) {          \
    T b = rowv_##DIR##_##SUF(x, n);                                                     \
    int bnan = ISNAN(b);                                                                \
    int64_t j = 0;                                                                      \
    for (; j + 64 <= n; j += 64) {                                                      \
      int hit = 0;                                                                      \
      PRAGMA(omp simd reduction(| : hit))                                               \
      for (int64_t l = 0; l < 64; l++) hit |= (x[j + l] == b) | (ISNAN(x[j + l]) & bnan); \
      if (hit) break;                                                                   \
    }                                                                                   \
    for (; j < n; j++)                                                                  \
      if (x[j] == b || (ISNAN(x[j]) && bnan)) break;                                    \
    *val = b;                                                                           \
    *idx = j < n ? j : 0;                                                               \
  }                                                                                     \
  /* a block of bl adjacent columns starting at column i0 */                            \
  static void col_##DIR##_##SUF(const T *x, int64_t N, int64_t I, int64_t i0, int64_t bl, \
                                T *val, int64_t *idx) {                                 \
    T b[LANES];                                                                         \
    int64_t bi[LANES];                                                                  \
    for (int64_t l = 0; l < bl; l++) {                                                  \
      b[l] = x[i0 + l];                                                                 \
      bi[l] = 0;                                                                        \
    }                                                                                   \
    for (int64_t n = 1; n < N; n++) {                                                   \
      const T *r = x + n * I + i0;                                                      \
      for (int64_t l = 0; l < bl; l++) {                                                \
        T v = r[l];                                                                     \
        int take = (v CMP b[l]) | (ISNAN(v) & !ISNAN(b[l]));                            \
        b[l] = take ? v : b[l];                                                         \
        bi[l] = take ? n : bi[l];                                                       \
      }                                                                                 \
    }                                                                                   \
    for (int64_t l = 0; l < bl; l++) val[i0 + l] = b[l];                                \
    if (idx)                                                                            \
      for (int64_t l = 0; l < bl; l++) idx[i0 + l] = bi[l];                             \
  }                                                                                     \
  /* one long row split across threads; chunks combine in order */                      \
  static void full_##DIR##_##SUF(const T *x, int64_t N, T *val, int64_t *idx) {         \
    int64_t nch = (N + PAR_MIN - 1) / PAR_MIN;                                          \
    if (nch > MAX_CHUNKS) nch = MAX_CHUNKS;                                             \
    if (nch <= 1) {                                                                     \
      if (idx) row_##DIR##_##SUF(x, N, val, idx);                                       \
      else *val = rowv_##DIR##_##SUF(x, N);                                             \
      return;                                                                           \
    }                                                                                   \
    int64_t chunk = (N + nch - 1) / nch;                                                \
    T cv[MAX_CHUNKS];                                                                   \
    int64_t ci[MAX_CHUNKS];                                                             \
    _Pragma("omp parallel for schedule(static)")                                        \
    for (int64_t c = 0; c < nch; c++) {                                                 \
      int64_t s = c * chunk, len = min64(chunk, N - s);                                 \
      if (len <= 0) {                                                                   \
        cv[c] = x[0];                                                                   \
        ci[c] = 0;                                                                      \
        continue;                                                                       \
      }                                                                                 \
      if (idx) {                                                                        \
        row_##DIR##_##SUF(x + s, len, &cv[c], &ci[c]);                                  \
        ci[c] += s;                                                                     \
      } else {                                                                          \
        cv[c] = rowv_##DIR##_##SUF(x + s, len);                                         \
        ci[c] = 0;                                                                      \
      }                                                                                 \
    }                                                                                   \
    T b = cv[0];                                                                        \
    int64_t bi = ci[0];                                                                 \
    for (int64_t c = 1; c < nch && !ISNAN(b); c++)                                      \
      if (cv[c] CMP b || ISNAN(cv[c])) {                                                \
        b = cv[c];                                                                      \
        bi = ci[c];                                                                     \
      }                                                                                 \
    *val = b;                                                                           \
    if (idx) *idx = bi;                                                                 \
  }                                                                                     \
  static void DIR##_##SUF(T *val, int64_t *idx, const T *x, int64_t O, int64_t N,       \
                          int64_t I) {                                                  \
    if (O * I == 1) {                                                                   \
      full_##DIR##_##SUF(x, N, val, idx);                                               \
      return;                                                                           \
    }                                                                                   \
    if (I == 1) {                                                                       \
      _Pragma("omp parallel for schedule(static) if (O * N > PAR_MIN && O > 1)")        \
      for (int64_t o = 0; o < O; o++) {                                                 \
        if (idx) row_##DIR##_##SUF(x + o * N, N, &val[o], &idx[o]);                     \
        else val[o] = rowv_##DIR##_##SUF(x + o * N, N);                                 \
      }                                                                                 \
      return;                                                                           \
    }                                                                                   \
    int64_t nb = (I + LANES - 1) / LANES;                                               \
    _Pragma("omp parallel for collapse(2) schedule(static) if (O * N * I > PAR_MIN)")   \
    for (int64_t o = 0; o < O; o++)                                                     \
      for (int64_t blk = 0; blk < nb; blk++)                                            \
        col_##DIR##_##SUF(x + o * N * I, N, I, blk * LANES, min64(LANES, I - blk * LANES), \
                          val + o * I, idx ? idx + o * I : NULL);                       \
  }

#define DEFINE_MINMAX(SUF, T, ISNAN)            \
  DEFINE_MINMAX_DIR(SUF, T, ISNAN, max, >)      \
  DEFINE_MINMAX_DIR(SUF, T, ISNAN, min, <)

DEFINE_MINMAX(f32, float, FNAN)
DEFINE_MINMAX(f64, double, FNAN)
DEFINE_MINMAX(i64, int64_t, INAN)
DEFINE_MINMAX(u8, uint8_t, INAN)

static sg_status cpu_minmax(sg_tensor *values, sg_tensor *indices, const sg_tensor *x,
                            int64_t O, int64_t N, int64_t I, bool is_max) {
  if (N < 1) return sg_error(SG_ERR_ARG, "max/min: reduction over an empty dim");
  if (O * I == 0) return SG_OK;
  int64_t *idx = indices ? sg_data_ptr(indices) : NULL;
  void *v = sg_data_ptr(values);
  const void *p = sg_data_ptr(x);
  switch (x->dtype) {
    case SG_FLOAT32:
      if (is_max) max_f32(v, idx, p, O, N, I); else min_f32(v, idx, p, O, N, I);
      return SG_OK;
    case SG_FLOAT64:
      if (is_max) max_f64(v, idx, p, O, N, I); else min_f64(v, idx, p, O, N, I);
      return SG_OK;
    case SG_INT64:
      if (is_max) max_i64(v, idx, p, O, N, I); else min_i64(v, idx, p, O, N, I);
      return SG_OK;
    case SG_UINT8:
    case SG_BOOL: /* one byte holding 0 or 1: ordered like uint8 */
      if (is_max) max_u8(v, idx, p, O, N, I); else min_u8(v, idx, p, O, N, I);
      return SG_OK;
    default:
      return sg_error(SG_ERR_ARG, "max/min: dtype %s not supported", sg_dtype_name(x->dtype));
  }
}

/* ------------------------------------------------------------------ */
/* var, norm, logsumexp (float32 / float64)                             */
/* ------------------------------------------------------------------ */

/* Each op defines NAME_row(x, n, ...) for one contiguous row (serial,
 * `omp simd`), NAME_full(x, n, ...) for one long row split across threads
 * (the same body under `omp parallel for simd`; a separate function so the
 * per-row calls carry no parallel-region overhead) and NAME_col(x, N, I,
 * i0, bl, out, ...) for a column block. DISPATCH runs them over [O, N, I]. */
#define SIMD simd
#define PARSIMD parallel for simd if (n > PAR_MIN)

#define DEFINE_DISPATCH(NAME, T, ARGS_DECL, ARGS)                                        \
  static void NAME(T *out, const T *x, int64_t O, int64_t N, int64_t I ARGS_DECL) {      \
    if (O * I == 0) return;                                                              \
    if (O * I == 1) {                                                                    \
      out[0] = NAME##_full(x, N ARGS);                                                   \
      return;                                                                            \
    }                                                                                    \
    if (I == 1) {                                                                        \
      _Pragma("omp parallel for schedule(static) if (O * N > PAR_MIN && O > 1)")         \
      for (int64_t o = 0; o < O; o++) out[o] = NAME##_row(x + o * N, N ARGS);            \
      return;                                                                            \
    }                                                                                    \
    int64_t nb = (I + LANES - 1) / LANES;                                                \
    _Pragma("omp parallel for collapse(2) schedule(static) if (O * N * I > PAR_MIN)")    \
    for (int64_t o = 0; o < O; o++)                                                      \
      for (int64_t blk = 0; blk < nb; blk++)                                             \
        NAME##_col(x + o * N * I, N, I, blk * LANES, min64(LANES, I - blk * LANES),      \
                   out + o * I ARGS);                                                    \
  }

#define COMMA ,

/* ---- var ---- */
#define DEFINE_VAR_ROW(NAME, T, MODE)                                                     \
  static T NAME(const T *x, int64_t n, double div) {                                      \
    double s = 0;                                                                         \
    PRAGMA(omp MODE reduction(+ : s))                                                     \
    for (int64_t j = 0; j < n; j++) s += (double)x[j];                                    \
    double mu = s / (double)n, q = 0;                                                     \
    PRAGMA(omp MODE reduction(+ : q))                                                     \
    for (int64_t j = 0; j < n; j++) {                                                     \
      double d = (double)x[j] - mu;                                                       \
      q += d * d;                                                                         \
    }                                                                                     \
    return (T)(q / div);                                                                  \
  }

#define DEFINE_VAR(SUF, T)                                                                \
  DEFINE_VAR_ROW(var_##SUF##_row, T, SIMD)                                                \
  DEFINE_VAR_ROW(var_##SUF##_full, T, PARSIMD)                                            \
  static void var_##SUF##_col(const T *x, int64_t N, int64_t I, int64_t i0, int64_t bl,   \
                              T *out, double div) {                                       \
    double s[LANES], q[LANES];                                                            \
    for (int64_t l = 0; l < bl; l++) s[l] = q[l] = 0;                                     \
    for (int64_t n = 0; n < N; n++) {                                                     \
      const T *r = x + n * I + i0;                                                        \
      for (int64_t l = 0; l < bl; l++) s[l] += (double)r[l];                              \
    }                                                                                     \
    for (int64_t l = 0; l < bl; l++) s[l] /= (double)N;                                   \
    for (int64_t n = 0; n < N; n++) {                                                     \
      const T *r = x + n * I + i0;                                                        \
      for (int64_t l = 0; l < bl; l++) {                                                  \
        double d = (double)r[l] - s[l];                                                   \
        q[l] += d * d;                                                                    \
      }                                                                                   \
    }                                                                                     \
    for (int64_t l = 0; l < bl; l++) out[i0 + l] = (T)(q[l] / div);                       \
  }                                                                                       \
  DEFINE_DISPATCH(var_##SUF, T, COMMA double div, COMMA div)

DEFINE_VAR(f32, float)
DEFINE_VAR(f64, double)

static sg_status cpu_var(sg_tensor *out, const sg_tensor *x, int64_t O, int64_t N, int64_t I,
                         double correction) {
  double div = (double)N - correction;
  if (div < 0) div = 0; /* PyTorch: max(0, N - correction); x / 0 gives inf or nan */
  switch (x->dtype) {
    case SG_FLOAT32: var_f32(sg_data_ptr(out), sg_data_ptr(x), O, N, I, div); return SG_OK;
    case SG_FLOAT64: var_f64(sg_data_ptr(out), sg_data_ptr(x), O, N, I, div); return SG_OK;
    default:
      return sg_error(SG_ERR_ARG, "var: dtype %s not supported", sg_dtype_name(x->dtype));
  }
}

/* ---- norm ---- */
enum { NORM_1, NORM_2, NORM_INF, NORM_P };

#define DEFINE_NORM_ROW(NAME, T, MODE)                                                     \
  static T NAME(const T *x, int64_t n, int kind, double p) {                               \
    double s = 0;                                                                          \
    if (kind == NORM_2) {                                                                  \
      PRAGMA(omp MODE reduction(+ : s))                                                    \
      for (int64_t j = 0; j < n; j++) s += (double)x[j] * (double)x[j];                    \
      return (T)sqrt(s);                                                                   \
    }                                                                                      \
    if (kind == NORM_1) {                                                                  \
      PRAGMA(omp MODE reduction(+ : s))                                                    \
      for (int64_t j = 0; j < n; j++) s += fabs((double)x[j]);                             \
      return (T)s;                                                                         \
    }                                                                                      \
    if (kind == NORM_INF) {                                                                \
      T m = 0;                                                                             \
      int nan = 0;                                                                         \
      PRAGMA(omp MODE reduction(max : m) reduction(| : nan))                               \
      for (int64_t j = 0; j < n; j++) {                                                    \
        T a = x[j] < 0 ? -x[j] : x[j];                                                     \
        m = a > m ? a : m;                                                                 \
        nan |= a != a;                                                                     \
      }                                                                                    \
      return nan ? (T)NAN : m;                                                             \
    }                                                                                      \
    PRAGMA(omp MODE reduction(+ : s))                                                      \
    for (int64_t j = 0; j < n; j++) s += pow(fabs((double)x[j]), p);                       \
    return (T)pow(s, 1.0 / p);                                                             \
  }

#define DEFINE_NORM(SUF, T)                                                                \
  DEFINE_NORM_ROW(norm_##SUF##_row, T, SIMD)                                               \
  DEFINE_NORM_ROW(norm_##SUF##_full, T, PARSIMD)                                           \
  static void norm_##SUF##_col(const T *x, int64_t N, int64_t I, int64_t i0, int64_t bl,   \
                               T *out, int kind, double p) {                               \
    double s[LANES];                                                                       \
    for (int64_t l = 0; l < bl; l++) s[l] = 0;                                             \
    for (int64_t n = 0; n < N; n++) {                                                      \
      const T *r = x + n * I + i0;                                                         \
      switch (kind) {                                                                      \
        case NORM_2:                                                                       \
          for (int64_t l = 0; l < bl; l++) s[l] += (double)r[l] * (double)r[l];            \
          break;                                                                           \
        case NORM_1:                                                                       \
          for (int64_t l = 0; l < bl; l++) s[l] += fabs((double)r[l]);                     \
          break;                                                                           \
        case NORM_INF:                                                                     \
          for (int64_t l = 0; l < bl; l++) {                                               \
            double a = fabs((double)r[l]);                                                 \
            s[l] = (s[l] != s[l] || a <= s[l]) ? s[l] : a; /* NaN sticks */                \
          }                                                                                \
          break;                                                                           \
        default:                                                                           \
          for (int64_t l = 0; l < bl; l++) s[l] += pow(fabs((double)r[l]), p);             \
      }                                                                                    \
    }                                                                                      \
    for (int64_t l = 0; l < bl; l++)                                                       \
      out[i0 + l] = (T)(kind == NORM_2   ? sqrt(s[l])                                      \
                        : kind == NORM_P ? pow(s[l], 1.0 / p)                              \
                                         : s[l]);                                          \
  }                                                                                        \
  DEFINE_DISPATCH(norm_##SUF, T, COMMA int kind COMMA double p, COMMA kind COMMA p)

DEFINE_NORM(f32, float)
DEFINE_NORM(f64, double)

static sg_status cpu_norm(sg_tensor *out, const sg_tensor *x, int64_t O, int64_t N, int64_t I,
                          double p) {
  int kind = p == 1 ? NORM_1 : p == 2 ? NORM_2 : isinf(p) ? NORM_INF : NORM_P;
  switch (x->dtype) {
    case SG_FLOAT32: norm_f32(sg_data_ptr(out), sg_data_ptr(x), O, N, I, kind, p); return SG_OK;
    case SG_FLOAT64: norm_f64(sg_data_ptr(out), sg_data_ptr(x), O, N, I, kind, p); return SG_OK;
    default:
      return sg_error(SG_ERR_ARG, "norm: dtype %s not supported", sg_dtype_name(x->dtype));
  }
}

/* ---- logsumexp ---- */
static inline float exp_f32(float v) { return sg_cpu_expf(v); }
static inline double exp_f64(double v) { return exp(v); }

#include "col_sumexp_cpu.h"

#define DEFINE_LSE_ROW(NAME, T, EXP, MODE)                                                 \
  static T NAME(const T *x, int64_t n) {                                                   \
    T m = -INFINITY;                                                                       \
    PRAGMA(omp MODE reduction(max : m))                                                    \
    for (int64_t j = 0; j < n; j++) m = x[j] > m ? x[j] : m;                               \
    if (isinf(m)) return m; /* all -inf (or empty): -inf; any +inf: +inf */                \
    double s = 0;                                                                          \
    PRAGMA(omp MODE reduction(+ : s))                                                      \
    for (int64_t j = 0; j < n; j++) s += (double)EXP(x[j] - m);                            \
    return (T)((double)m + log(s));                                                        \
  }

#define DEFINE_LSE(SUF, T)                                                                 \
  DEFINE_LSE_ROW(lse_##SUF##_row, T, exp_##SUF, SIMD)                                      \
  DEFINE_LSE_ROW(lse_##SUF##_full, T, exp_##SUF, PARSIMD)                                  \
  SG_DEFINE_COL_SUMEXP(SUF, T)                                                             \
  static void lse_##SUF##_col(const T *x, int64_t N, int64_t I, int64_t i0, int64_t bl,    \
                              T *out) {                                                    \
    T m[LANES];                                                                            \
    double s[LANES];                                                                       \
    col_sumexp_##SUF(x, N, I, i0, bl, m, s, NULL);                                         \
    for (int64_t l = 0; l < bl; l++)                                                       \
      out[i0 + l] = isinf(m[l]) ? m[l] : (T)((double)m[l] + log(s[l]));                    \
  }                                                                                        \
  DEFINE_DISPATCH(lse_##SUF, T, , )

DEFINE_LSE(f32, float)
DEFINE_LSE(f64, double)

static sg_status cpu_logsumexp(sg_tensor *out, const sg_tensor *x, int64_t O, int64_t N,
                               int64_t I) {
  switch (x->dtype) {
    case SG_FLOAT32: lse_f32(sg_data_ptr(out), sg_data_ptr(x), O, N, I); return SG_OK;
    case SG_FLOAT64: lse_f64(sg_data_ptr(out), sg_data_ptr(x), O, N, I); return SG_OK;
    default:
      return sg_error(SG_ERR_ARG, "logsumexp: dtype %s not supported", sg_dtype_name(x->dtype));
  }
}

/* ------------------------------------------------------------------ */
/* take / put along a dim                                               */
/* ------------------------------------------------------------------ */

#define DEFINE_ALONG(SUF, T)                                                               \
  static void take_##SUF(T *out, const T *x, const int64_t *idx, int64_t O, int64_t N,     \
                         int64_t I, int64_t K) {                                           \
    _Pragma("omp parallel for schedule(static) if (O * K * I > PAR_MIN && O > 1)")         \
    for (int64_t o = 0; o < O; o++)                                                        \
      for (int64_t k = 0; k < K; k++) {                                                    \
        const int64_t *ix = idx + (o * K + k) * I;                                         \
        T *dst = out + (o * K + k) * I;                                                    \
        const T *src = x + o * N * I;                                                      \
        for (int64_t i = 0; i < I; i++) dst[i] = src[ix[i] * I + i];                       \
      }                                                                                    \
  }                                                                                        \
  static void put_##SUF(T *out, const T *src, const int64_t *idx, int64_t O, int64_t N,    \
                        int64_t I, int64_t K) {                                            \
    _Pragma("omp parallel for schedule(static) if (O * N * I > PAR_MIN && O > 1)")         \
    for (int64_t o = 0; o < O; o++) {                                                      \
      T *dst = out + o * N * I;                                                            \
      memset(dst, 0, sizeof(T) * (size_t)(N * I));                                         \
      for (int64_t k = 0; k < K; k++) {                                                    \
        const int64_t *ix = idx + (o * K + k) * I;                                         \
        const T *s = src + (o * K + k) * I;                                                \
        for (int64_t i = 0; i < I; i++) dst[ix[i] * I + i] += s[i];                        \
      }                                                                                    \
    }                                                                                      \
  }

DEFINE_ALONG(f32, float)
DEFINE_ALONG(f64, double)

/* take (put == false) or put (put == true): the two kernels share a signature. */
static sg_status along(const char *op, bool put, sg_tensor *out, const sg_tensor *src,
                       const sg_tensor *idx, int64_t O, int64_t N, int64_t I, int64_t K) {
  switch (src->dtype) {
    case SG_FLOAT32:
      (put ? put_f32 : take_f32)(sg_data_ptr(out), sg_data_ptr(src), sg_data_ptr(idx), O, N, I,
                                 K);
      return SG_OK;
    case SG_FLOAT64:
      (put ? put_f64 : take_f64)(sg_data_ptr(out), sg_data_ptr(src), sg_data_ptr(idx), O, N, I,
                                 K);
      return SG_OK;
    default:
      return sg_error(SG_ERR_ARG, "%s: dtype %s not supported", op, sg_dtype_name(src->dtype));
  }
}

static sg_status cpu_take_along(sg_tensor *out, const sg_tensor *x, const sg_tensor *idx,
                                int64_t O, int64_t N, int64_t I, int64_t K) {
  return along("take_along", false, out, x, idx, O, N, I, K);
}

static sg_status cpu_put_along(sg_tensor *out, const sg_tensor *src, const sg_tensor *idx,
                               int64_t O, int64_t N, int64_t I, int64_t K) {
  return along("put_along", true, out, src, idx, O, N, I, K);
}

const struct sg_reduce_kernels sg_cpu_reduce_kernels = {
    .minmax = cpu_minmax,
    .var = cpu_var,
    .norm = cpu_norm,
    .logsumexp = cpu_logsumexp,
    .take_along = cpu_take_along,
    .put_along = cpu_put_along,
};
