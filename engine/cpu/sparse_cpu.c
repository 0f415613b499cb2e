/* CPU kernels of the sparse family: the sparsity masks (l0 per sample by a
 * radix select on the |x| keys; l0inf per needle through the top-k job of
 * sort_cpu.c) and the hard / soft thresholds. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal/backend.h"
#include "internal/iter.h"
#include "internal/kernels_sparse.h"
#include "internal/tensor_internal.h"
#include "select_cpu.h"

/* ======================= l0inf ======================= */

static void mask_ptrs(topk_job *j, sg_tensor *mask, sg_tensor *out) {
  if (mask && (mask->dtype == SG_BOOL || mask->dtype == SG_UINT8)) j->mask8 = sg_data_ptr(mask);
  else if (mask) j->maskT = sg_data_ptr(mask);
  j->out = out ? sg_data_ptr(out) : NULL;
}

static sg_status cpu_l0inf_mask(sg_tensor *mask, sg_tensor *out, const sg_tensor *x, int64_t k,
                                int dim) {
  topk_job j = {0};
  dim_split(x, dim, &j.outer, &j.n, &j.inner);
  j.k = k;
  j.mode = KM_ABS;
  j.mask_mode = true;
  mask_ptrs(&j, mask, out);
  return sg_cpu_topk_run(&j, x, "l0inf_mask");
}

/* ======================= l0: per-sample radix select ======================= */

#define L0_BINS_LOG 12
#define L0_REFINE_LOG 11

/* One sample of M entries: find T, the k-th largest |x| key, how many keys
 * are above it (gt) and how many equal to T are kept (need, the first in
 * index order); then write mask / out. nch chunks run in parallel. */
#define DEFINE_L0(SUF, T, UK, KEYF, TOTBITS)                                                  \
  static sg_status l0_sample_##SUF(const T *x, int64_t M, int64_t k, uint8_t *m8, T *mT,      \
                                   T *out, int nch) {                                         \
    const int B1 = 1 << L0_BINS_LOG;                                                          \
    const int s1 = TOTBITS - L0_BINS_LOG;                                                     \
    int64_t *hist = calloc((size_t)nch * (size_t)B1 + 3 * (size_t)nch + 3, sizeof(int64_t));  \
    if (!hist) return sg_error(SG_ERR_MEM, "l0_mask: out of memory");                         \
    int64_t *coff = hist + (size_t)nch * B1;   /* candidate offsets per chunk (nch+1) */      \
    int64_t *ceq = coff + nch + 1;             /* candidates equal to T per chunk (nch+1) */  \
    int64_t *cstart = ceq + nch + 1;           /* compacted sizes (nch) */                    \
    int64_t chunk = (M + nch - 1) / nch;                                                      \
    _Pragma("omp parallel for schedule(static) if (nch > 1)")                                 \
    for (int c = 0; c < nch; c++) {                                                           \
      int64_t lo = c * chunk, hi = lo + chunk < M ? lo + chunk : M;                           \
      int64_t *h = hist + (size_t)c * B1;                                                     \
      for (int64_t i = lo; i < hi; i++) h[KEYF(x[i], KM_ABS) >> s1]++;                        \
    }                                                                                         \
    int64_t acc = 0, b = B1 - 1;                                                              \
    for (;; b--) {                                                                            \
      int64_t hb = 0;                                                                         \
      for (int c = 0; c < nch; c++) hb += hist[(size_t)c * B1 + b];                           \
      if (acc + hb >= k || b == 0) break;                                                     \
      acc += hb;                                                                              \
    }                                                                                         \
    int64_t gt = acc, need = k - acc;                                                         \
    coff[0] = 0;                                                                              \
    for (int c = 0; c < nch; c++) coff[c + 1] = coff[c] + hist[(size_t)c * B1 + b];           \
    UK *cand = malloc(sizeof(UK) * (size_t)(coff[nch] > 0 ? coff[nch] : 1));                  \
    if (!cand) {                                                                              \
      free(hist);                                                                             \
      return sg_error(SG_ERR_MEM, "l0_mask: out of memory");                                  \
    }                                                                                         \
    _Pragma("omp parallel for schedule(static) if (nch > 1)")                                 \
    for (int c = 0; c < nch; c++) {                                                           \
      int64_t lo = c * chunk, hi = lo + chunk < M ? lo + chunk : M, w = coff[c];              \
      for (int64_t i = lo; i < hi; i++) {                                                     \
        UK key = KEYF(x[i], KM_ABS);                                                          \
        if ((int64_t)(key >> s1) == b) cand[w++] = key;                                       \
      }                                                                                       \
    }                                                                                         \
    /* refine the remaining bits on the candidates (kept in chunk order) */                   \
    UK prefix = (UK)b;                                                                        \
    int rem = s1;                                                                             \
    int64_t h2[1 << L0_REFINE_LOG];                                                           \
    for (int c = 0; c < nch; c++) cstart[c] = coff[c + 1] - coff[c];                          \
    while (rem > 0) {                                                                         \
      int wbits = rem < L0_REFINE_LOG ? rem : L0_REFINE_LOG, s = rem - wbits;                 \
      int nb = 1 << wbits;                                                                    \
      memset(h2, 0, sizeof(int64_t) * (size_t)nb);                                            \
      for (int c = 0; c < nch; c++)                                                           \
        for (int64_t i = coff[c]; i < coff[c] + cstart[c]; i++)                               \
          h2[(cand[i] >> s) & (UK)(nb - 1)]++;                                                \
      int64_t a2 = 0, d = nb - 1;                                                             \
      for (; d > 0 && a2 + h2[d] < need; d--) a2 += h2[d];                                    \
      gt += a2;                                                                               \
      need -= a2;                                                                             \
      prefix = (UK)((prefix << wbits) | (UK)d);                                               \
      for (int c = 0; c < nch; c++) { /* compact in place, per chunk */                       \
        int64_t w = coff[c];                                                                  \
        for (int64_t i = coff[c]; i < coff[c] + cstart[c]; i++)                               \
          if ((cand[i] >> s) == prefix) cand[w++] = cand[i];                                  \
        cstart[c] = w - coff[c];                                                              \
      }                                                                                       \
      rem = s;                                                                                \
    }                                                                                         \
    const UK thr = prefix;                                                                    \
    /* candidates now all equal thr: ranks of the equal keys per chunk */                     \
    ceq[0] = 0;                                                                               \
    for (int c = 0; c < nch; c++) ceq[c + 1] = ceq[c] + cstart[c];                            \
    bool all_eq = need == ceq[nch];                                                           \
    free(cand);                                                                               \
    _Pragma("omp parallel for schedule(static) if (nch > 1)")                                 \
    for (int c = 0; c < nch; c++) {                                                           \
      int64_t lo = c * chunk, hi = lo + chunk < M ? lo + chunk : M;                           \
      if (all_eq) {                                                                           \
        if (m8)                                                                               \
          for (int64_t i = lo; i < hi; i++) m8[i] = KEYF(x[i], KM_ABS) >= thr;                \
        if (mT)                                                                               \
          for (int64_t i = lo; i < hi; i++) mT[i] = (T)(KEYF(x[i], KM_ABS) >= thr);           \
        if (out)                                                                              \
          for (int64_t i = lo; i < hi; i++) out[i] = KEYF(x[i], KM_ABS) >= thr ? x[i] : (T)0; \
      } else {                                                                                \
        int64_t rank = ceq[c];                                                                \
        for (int64_t i = lo; i < hi; i++) {                                                   \
          UK key = KEYF(x[i], KM_ABS);                                                        \
          bool keep = key > thr || (key == thr && rank < need);                               \
          rank += key == thr;                                                                 \
          if (m8) m8[i] = keep;                                                               \
          if (mT) mT[i] = (T)keep;                                                            \
          if (out) out[i] = keep ? x[i] : (T)0;                                               \
        }                                                                                     \
      }                                                                                       \
    }                                                                                         \
    (void)gt;                                                                                 \
    free(hist);                                                                               \
    return SG_OK;                                                                             \
  }

DEFINE_L0(f32, float, uint32_t, key_f32, 31)
DEFINE_L0(f64, double, uint64_t, key_f64, 63)

static sg_status cpu_l0_mask(sg_tensor *mask, sg_tensor *out, const sg_tensor *x, int64_t k) {
  int64_t N = x->shape[0], M = N ? sg_numel(x) / N : 0;
  if (M == 0 || N == 0) return SG_OK;
  uint8_t *m8 = NULL;
  void *mT = NULL;
  if (mask && (mask->dtype == SG_BOOL || mask->dtype == SG_UINT8)) m8 = sg_data_ptr(mask);
  else if (mask) mT = sg_data_ptr(mask);
  void *o = out ? sg_data_ptr(out) : NULL;
  const void *xp = sg_data_ptr(x);
  bool f32 = x->dtype == SG_FLOAT32;
  int nt = omp_get_max_threads();
  if (M >= 4 * GRAIN && N < nt && nt > 1 && !omp_in_parallel()) {
    /* few big samples: one at a time, chunks in parallel */
    int nch = (int)(M / GRAIN < nt ? M / GRAIN : nt);
    for (int64_t s = 0; s < N; s++) {
      size_t off = (size_t)(s * M);
      sg_status st =
          f32 ? l0_sample_f32((const float *)xp + off, M, k, m8 ? m8 + off : NULL,
                              mT ? (float *)mT + off : NULL, o ? (float *)o + off : NULL, nch)
              : l0_sample_f64((const double *)xp + off, M, k, m8 ? m8 + off : NULL,
                              mT ? (double *)mT + off : NULL, o ? (double *)o + off : NULL, nch);
      if (st != SG_OK) return st;
    }
    return SG_OK;
  }
  int failed = 0;
  bool par = parallel_ok(N * M, N);
#pragma omp parallel for schedule(dynamic, 1) if (par)
  for (int64_t s = 0; s < N; s++) {
    size_t off = (size_t)(s * M);
    sg_status st =
        f32 ? l0_sample_f32((const float *)xp + off, M, k, m8 ? m8 + off : NULL,
                            mT ? (float *)mT + off : NULL, o ? (float *)o + off : NULL, 1)
            : l0_sample_f64((const double *)xp + off, M, k, m8 ? m8 + off : NULL,
                            mT ? (double *)mT + off : NULL, o ? (double *)o + off : NULL, 1);
    if (st != SG_OK) {
#pragma omp atomic write
      failed = 1;
    }
  }
  return failed ? sg_error(SG_ERR_MEM, "l0_mask: out of memory") : SG_OK;
}

/* ======================= thresholds ======================= */

/* Branch-free selects (no arithmetic under a condition) so the loops
 * vectorize; a NaN fails every compare and passes through. */
#define DEFINE_THRESHOLD(SUF, T, ABS)                                                        \
  static void threshold_##SUF(T *out, T *mask, const T *x, int64_t n, T lam, bool soft) {    \
    bool par = parallel_ok(n, 2);                                                            \
    if (soft) {                                                                              \
      _Pragma("omp parallel for schedule(static) if (par)")                                  \
      for (int64_t i = 0; i < n; i++) {                                                      \
        T v = x[i];                                                                          \
        T c = v < -lam ? -lam : v;                                                           \
        c = c > lam ? lam : c;                                                               \
        out[i] = v - c;                                                                      \
      }                                                                                      \
    } else {                                                                                 \
      _Pragma("omp parallel for schedule(static) if (par)")                                  \
      for (int64_t i = 0; i < n; i++) {                                                      \
        T v = x[i];                                                                          \
        out[i] = ABS(v) <= lam ? (T)0 : v;                                                   \
      }                                                                                      \
    }                                                                                        \
    if (mask) {                                                                              \
      _Pragma("omp parallel for schedule(static) if (par)")                                  \
      for (int64_t i = 0; i < n; i++) mask[i] = ABS(x[i]) > lam ? (T)1 : (T)0;               \
    }                                                                                        \
  }
DEFINE_THRESHOLD(f32, float, fabsf)
DEFINE_THRESHOLD(f64, double, fabs)

static sg_status cpu_threshold(sg_tensor *out, sg_tensor *mask, const sg_tensor *x,
                               double lambda, bool soft) {
  int64_t n = sg_numel(x);
  if (x->dtype == SG_FLOAT32)
    threshold_f32(sg_data_ptr(out), mask ? sg_data_ptr(mask) : NULL, sg_data_ptr(x), n,
                  (float)lambda, soft);
  else
    threshold_f64(sg_data_ptr(out), mask ? sg_data_ptr(mask) : NULL, sg_data_ptr(x), n, lambda,
                  soft);
  return SG_OK;
}

/* Operands: out, x, lambda[, sgn]. Selects are branch-free: vectorizes
 * for contiguous x with a broadcast (stride 0) or contiguous lambda. */
#define DEFINE_SOFT_T(SUF, T)                                                                \
  static void soft_t_##SUF(char **p, const int64_t *s, int64_t n, void *ctx) {               \
    bool has_s = *(const bool *)ctx;                                                          \
    T *o = (T *)p[0];                                                                        \
    const T *x = (const T *)p[1], *l = (const T *)p[2];                                      \
    T *sg = has_s ? (T *)p[3] : NULL;                                                        \
    int64_t so = s[0], sx = s[1], sl = s[2], ss = has_s ? s[3] : 0;                          \
    for (int64_t i = 0; i < n; i++) {                                                        \
      T v = x[i * sx], lam = l[i * sl];                                                      \
      T sgn = (T)((v > 0) - (v < 0));                                                        \
      T a = v < 0 ? -v : v;                                                                  \
      T shrunk = v - sgn * lam;                                                              \
      o[i * so] = a > lam ? shrunk : (a <= lam ? (T)0 : v);                                  \
      if (sg) sg[i * ss] = a > lam ? sgn : (T)0;                                             \
    }                                                                                        \
  }
DEFINE_SOFT_T(f32, float)
DEFINE_SOFT_T(f64, double)

static sg_status cpu_soft_threshold_t(sg_tensor *out, sg_tensor *sgn, const sg_tensor *x,
                                      const sg_tensor *lambda) {
  sg_tensor *const ts[4] = {out, (sg_tensor *)x, (sg_tensor *)lambda, sgn};
  int nops = sgn ? 4 : 3;
  char *data[4];
  size_t elsize[4];
  int64_t strides[4][SG_MAX_DIMS];
  for (int k = 0; k < nops; k++) {
    data[k] = sg_data_ptr(ts[k]);
    elsize[k] = sg_dtype_size(ts[k]->dtype);
    sg_broadcast_strides(ts[k], out->shape, out->ndim, strides[k]);
  }
  sg_iter it;
  sg_iter_init(&it, nops, out->shape, out->ndim, data, elsize, strides);
  bool has_s = sgn != NULL;
  sg_iter_run(&it, x->dtype == SG_FLOAT32 ? soft_t_f32 : soft_t_f64, &has_s);
  return SG_OK;
}

const struct sg_sparse_kernels sg_cpu_sparse_kernels = {
    .l0_mask = cpu_l0_mask,
    .l0inf_mask = cpu_l0inf_mask,
    .threshold = cpu_threshold,
    .soft_threshold_t = cpu_soft_threshold_t,
};
