/* CPU kernels of the index family: index_select, gather, scatter(_add),
 * topk / sort and the sparsity masks.
 *
 * Selection (topk, masks) works on integer keys: each value becomes an
 * unsigned key whose integer order is the wanted order (NaN above +inf,
 * -0 == +0), fused with the inverted element index so that every key is
 * unique and, among equal values, the lower index ranks first. That gives
 * deterministic ties for free and lets plain integer compares do the work:
 *   - float32 / uint8 / bool: one uint64 = key32 << 32 | ~idx32;
 *   - float64 / int64: a pair {key64, ~idx64}.
 * Small k (<= SMALL_K) scans the data once keeping a sorted list of k keys
 * per position, over tiles of TILE positions so that the reads along a
 * strided dim (channels of N x C x H x W) stay contiguous; larger k copies
 * the keys of a row and runs a quickselect. The per-sample l0 mask is a
 * radix select on the |x| keys: a parallel histogram of the top bits finds
 * the bucket of the k-th largest, the few candidates in it are refined
 * sequentially, and a parallel pass writes the mask. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal/backend.h"
#include "internal/iter.h"
#include "internal/kernels_index.h"
#include "internal/tensor_internal.h"

#define GRAIN 32768
#define TILE 64
#define SMALL_K 32

static bool parallel_ok(int64_t work, int64_t units) {
  return work >= GRAIN && units > 1 && omp_get_max_threads() > 1 && !omp_in_parallel();
}

/* [outer, n, inner] view of a tensor around dim (0-dim counts as [1,1,1]). */
static void dim_split(const sg_tensor *t, int dim, int64_t *outer, int64_t *n, int64_t *inner) {
  *outer = 1;
  *inner = 1;
  *n = t->ndim ? t->shape[dim] : 1;
  for (int d = 0; d < dim && d < t->ndim; d++) *outer *= t->shape[d];
  for (int d = dim + 1; d < t->ndim; d++) *inner *= t->shape[d];
}

static sg_status range_error(const char *op, int64_t v, int dim, int64_t n) {
  return sg_error(SG_ERR_ARG, "%s: index %lld out of range for dim %d of size %lld", op,
                  (long long)v, dim, (long long)n);
}

/* ======================= index_select ======================= */

static sg_status cpu_index_select(const char *op, sg_tensor *out, const sg_tensor *x, int dim,
                                  const sg_tensor *index) {
  int64_t outer, n, inner;
  dim_split(x, dim, &outer, &n, &inner);
  int64_t L = sg_numel(index);
  const int64_t *ix = sg_data_ptr(index);
  for (int64_t j = 0; j < L; j++)
    if (ix[j] < 0 || ix[j] >= n) return range_error(op, ix[j], dim, n);
  size_t es = sg_dtype_size(x->dtype);
  const char *src = sg_data_ptr(x);
  char *dst = sg_data_ptr(out);
  int64_t rows = outer * L;
  if (rows == 0 || inner == 0) return SG_OK;
  bool par = parallel_ok(rows * inner, rows);
  if (inner == 1) {
#define SELECT_ELEMS(T)                                                    \
  do {                                                                     \
    const T *s_ = (const T *)src;                                          \
    T *d_ = (T *)dst;                                                      \
    _Pragma("omp parallel for schedule(static) if (par)")                  \
    for (int64_t o = 0; o < outer; o++)                                    \
      for (int64_t j = 0; j < L; j++) d_[o * L + j] = s_[o * n + ix[j]];   \
  } while (0)
    switch (es) {
      case 1: SELECT_ELEMS(uint8_t); break;
      case 4: SELECT_ELEMS(uint32_t); break;
      default: SELECT_ELEMS(uint64_t); break;
    }
#undef SELECT_ELEMS
    return SG_OK;
  }
  size_t rowb = (size_t)inner * es;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t r = 0; r < rows; r++) {
    int64_t o = r / L, j = r % L;
    memcpy(dst + (size_t)r * rowb, src + (size_t)(o * n + ix[j]) * rowb, rowb);
  }
  return SG_OK;
}

/* ======================= gather / scatter ======================= */

/* Walk over the positions of an index tensor. Dims are reordered so that
 * dim 0 of the walk is the one split across threads (for scatter, never the
 * scattered dim, so threads never write the same element); the last dim
 * is walked by typed row functions. */
typedef struct walk {
  int nd;
  int64_t sh[SG_MAX_DIMS];
  int64_t si[SG_MAX_DIMS]; /* index strides */
  int64_t sa[SG_MAX_DIMS]; /* direct operand: out of gather, src of scatter */
  int64_t sb[SG_MAX_DIMS]; /* indexed operand: 0 along the indexed dim */
  bool par;
} walk;

static void walk_init(walk *w, const sg_tensor *index, const int64_t *sa, const sg_tensor *b,
                      int dim, bool scatter) {
  int nd = index->ndim;
  if (nd == 0) {
    w->nd = 2;
    w->sh[0] = w->sh[1] = 1;
    for (int k = 0; k < 2; k++) w->si[k] = w->sa[k] = w->sb[k] = 0;
    w->par = false;
    return;
  }
  /* parallel dim: the largest one (scatter: other than dim) */
  int p = -1;
  for (int d = 0; d < nd; d++) {
    if (scatter && d == dim) continue;
    if (p < 0 || index->shape[d] > index->shape[p]) p = d;
  }
  int order[SG_MAX_DIMS + 1], m = 0;
  if (p < 0) order[m++] = -1; /* 1-D scatter: a size-1 outer dim */
  else order[m++] = p;
  for (int d = 0; d < nd; d++)
    if (d != p) order[m++] = d;
  w->nd = m;
  for (int k = 0; k < m; k++) {
    int d = order[k];
    if (d < 0) {
      w->sh[k] = 1;
      w->si[k] = w->sa[k] = w->sb[k] = 0;
      continue;
    }
    w->sh[k] = index->shape[d];
    w->si[k] = index->strides[d];
    w->sa[k] = sa[d];
    w->sb[k] = d == dim ? 0 : b->strides[d];
  }
  if (m == 1) { /* 1-D gather: walk it as [1, L] */
    w->nd = 2;
    w->sh[1] = w->sh[0];
    w->si[1] = w->si[0];
    w->sa[1] = w->sa[0];
    w->sb[1] = w->sb[0];
    w->sh[0] = 1;
    w->si[0] = w->sa[0] = w->sb[0] = 0;
  }
  w->par = p >= 0;
}

/* A row: len positions; returns false (setting *bad) on an index outside [0, n). */
typedef bool (*walk_row_fn)(const int64_t *ix, int64_t is, char *a, int64_t as, char *b,
                            int64_t bs, int64_t bd, int64_t len, int64_t n, int64_t *bad);

#define GATHER_ROW(NAME, T)                                                                  \
  static bool NAME(const int64_t *ix, int64_t is, char *a_, int64_t as, char *b_, int64_t bs, \
                   int64_t bd, int64_t len, int64_t n, int64_t *bad) {                        \
    T *a = (T *)a_;                                                                          \
    const T *b = (const T *)b_;                                                              \
    for (int64_t i = 0; i < len; i++) {                                                      \
      int64_t v = ix[i * is];                                                                \
      if ((uint64_t)v >= (uint64_t)n) {                                                      \
        *bad = v;                                                                            \
        return false;                                                                        \
      }                                                                                      \
      a[i * as] = b[i * bs + v * bd];                                                        \
    }                                                                                        \
    return true;                                                                             \
  }
GATHER_ROW(gather_row_1, uint8_t)
GATHER_ROW(gather_row_4, uint32_t)
GATHER_ROW(gather_row_8, uint64_t)

#define SCATTER_ROW(NAME, T, OP)                                                               \
  static bool NAME(const int64_t *ix, int64_t is, char *a_, int64_t as, char *b_, int64_t bs,   \
                   int64_t bd, int64_t len, int64_t n, int64_t *bad) {                          \
    const T *a = (const T *)a_;                                                                \
    T *b = (T *)b_;                                                                            \
    for (int64_t i = 0; i < len; i++) {                                                        \
      int64_t v = ix[i * is];                                                                  \
      if ((uint64_t)v >= (uint64_t)n) {                                                        \
        *bad = v;                                                                              \
        return false;                                                                          \
      }                                                                                        \
      OP(b[i * bs + v * bd], a[i * as]);                                                       \
    }                                                                                          \
    return true;                                                                               \
  }
#define SET(d, s) ((d) = (s))
#define ACC(d, s) ((d) += (s))
#define ACC_OR(d, s) ((d) = (uint8_t)((d) | ((s) != 0)))
SCATTER_ROW(scatter_row_1, uint8_t, SET)
SCATTER_ROW(scatter_row_4, uint32_t, SET)
SCATTER_ROW(scatter_row_8, uint64_t, SET)
SCATTER_ROW(scatter_add_f32, float, ACC)
SCATTER_ROW(scatter_add_f64, double, ACC)
SCATTER_ROW(scatter_add_i64, int64_t, ACC)
SCATTER_ROW(scatter_add_u8, uint8_t, ACC)
SCATTER_ROW(scatter_add_b, uint8_t, ACC_OR)

static sg_status walk_run(const char *op, const walk *w, walk_row_fn fn, const int64_t *ix,
                          char *a, size_t ea, char *b, size_t eb, int64_t bd, int64_t n, int dim) {
  int nd = w->nd;
  int64_t P = w->sh[0], len = w->sh[nd - 1];
  int64_t nrows = 1;
  for (int d = 1; d < nd - 1; d++) nrows *= w->sh[d];
  int64_t total = P * nrows * len;
  if (total == 0) return SG_OK;
  int failed = 0;
  int64_t bad_value = 0;
  bool par = w->par && parallel_ok(total, P);
#pragma omp parallel for schedule(static) if (par)
  for (int64_t p = 0; p < P; p++) {
    int f;
#pragma omp atomic read
    f = failed;
    if (f) continue;
    int64_t ctr[SG_MAX_DIMS] = {0};
    for (int64_t r = 0; r < nrows; r++) {
      int64_t oi = p * w->si[0], oa = p * w->sa[0], ob = p * w->sb[0];
      for (int d = 1; d < nd - 1; d++) {
        oi += ctr[d] * w->si[d];
        oa += ctr[d] * w->sa[d];
        ob += ctr[d] * w->sb[d];
      }
      int64_t bad;
      if (!fn(ix + oi, w->si[nd - 1], a + (size_t)oa * ea, w->sa[nd - 1], b + (size_t)ob * eb,
              w->sb[nd - 1], bd, len, n, &bad)) {
#pragma omp critical(sg_index_walk_bad)
        {
          if (!failed) bad_value = bad;
#pragma omp atomic write
          failed = 1;
        }
        break;
      }
      for (int d = nd - 2; d >= 1; d--) {
        if (++ctr[d] < w->sh[d]) break;
        ctr[d] = 0;
      }
    }
  }
  return failed ? range_error(op, bad_value, dim, n) : SG_OK;
}

static sg_status cpu_gather(const char *op, sg_tensor *out, const sg_tensor *x, int dim,
                            const sg_tensor *index) {
  walk w;
  walk_init(&w, index, out->strides, x, dim, false);
  size_t es = sg_dtype_size(x->dtype);
  walk_row_fn fn = es == 1 ? gather_row_1 : es == 4 ? gather_row_4 : gather_row_8;
  int64_t n = x->ndim ? x->shape[dim] : 1;
  int64_t bd = x->ndim ? x->strides[dim] : 0;
  return walk_run(op, &w, fn, sg_data_ptr(index), sg_data_ptr(out), es, sg_data_ptr(x), es, bd,
                  n, dim);
}

static sg_status cpu_scatter(const char *op, sg_tensor *out, int dim, const sg_tensor *index,
                             const sg_tensor *src, bool accumulate) {
  walk w;
  walk_init(&w, index, src->strides, out, dim, true);
  size_t es = sg_dtype_size(out->dtype);
  walk_row_fn fn;
  if (!accumulate) {
    fn = es == 1 ? scatter_row_1 : es == 4 ? scatter_row_4 : scatter_row_8;
  } else {
    switch (out->dtype) {
      case SG_FLOAT32: fn = scatter_add_f32; break;
      case SG_FLOAT64: fn = scatter_add_f64; break;
      case SG_INT64: fn = scatter_add_i64; break;
      case SG_UINT8: fn = scatter_add_u8; break;
      default: fn = scatter_add_b; break;
    }
  }
  int64_t n = out->ndim ? out->shape[dim] : 1;
  int64_t bd = out->ndim ? out->strides[dim] : 0;
  return walk_run(op, &w, fn, sg_data_ptr(index), sg_data_ptr(src), es, sg_data_ptr(out), es,
                  bd, n, dim);
}

/* ======================= keys ======================= */

enum { KM_LARGEST = 0, KM_SMALLEST = 1, KM_ABS = 2 };

static inline uint32_t key_f32(float v, int mode) {
  uint32_t b;
  if (mode == KM_ABS) {
    memcpy(&b, &v, sizeof b);
    b &= 0x7fffffffu;
    return b > 0x7f800000u ? 0x7f800001u : b; /* every NaN just above inf */
  }
  float w = v + 0.0f; /* -0 -> +0 */
  memcpy(&b, &w, sizeof b);
  b ^= (uint32_t)((int32_t)b >> 31) | 0x80000000u;
  b = v != v ? 0xffffffffu : b;
  return mode == KM_SMALLEST ? ~b : b;
}

static inline uint32_t key_u8(uint8_t v, int mode) {
  return mode == KM_SMALLEST ? ~(uint32_t)v : (uint32_t)v;
}

static inline uint64_t key_f64(double v, int mode) {
  uint64_t b;
  if (mode == KM_ABS) {
    memcpy(&b, &v, sizeof b);
    b &= 0x7fffffffffffffffull;
    return b > 0x7ff0000000000000ull ? 0x7ff0000000000001ull : b;
  }
  double w = v + 0.0;
  memcpy(&b, &w, sizeof b);
  b ^= (uint64_t)((int64_t)b >> 63) | 0x8000000000000000ull;
  b = v != v ? ~0ull : b;
  return mode == KM_SMALLEST ? ~b : b;
}

static inline uint64_t key_i64(int64_t v, int mode) {
  if (mode == KM_ABS) return v < 0 ? 0ull - (uint64_t)v : (uint64_t)v;
  uint64_t b = (uint64_t)v ^ 0x8000000000000000ull;
  return mode == KM_SMALLEST ? ~b : b;
}

/* K32: key32 << 32 | ~idx (unique when n < 2^32 - 1); zero ranks below all. */
typedef uint64_t k32;
#define K32_GT(a, b) ((a) > (b))
#define K32_IDX(a) ((int64_t)(uint32_t) ~(uint32_t)(a))
#define K32_MAKE(key, i, flip) \
  ((flip) ? ~(((uint64_t)(key) << 32) | (uint32_t) ~(uint32_t)(i)) \
          : (((uint64_t)(key) << 32) | (uint32_t) ~(uint32_t)(i)))
#define K32_MAKEK(kf, i, flip) \
  (((uint64_t)(kf) << 32) | ((flip) ? (uint32_t)(i) : (uint32_t) ~(uint32_t)(i)))
#define K32_KEYOF(a) ((uint32_t)((a) >> 32))
#define K32_UNFLIP(a, flip) ((flip) ? ~(a) : (a))

typedef struct k64 {
  uint64_t k, i; /* i = ~idx */
} k64;
#define K64_GT(a, b) ((a).k > (b).k || ((a).k == (b).k && (a).i > (b).i))
#define K64_IDX(a) ((int64_t) ~(a).i)
static inline k64 k64_make(uint64_t key, int64_t i, bool flip) {
  k64 r = {key, ~(uint64_t)i};
  if (flip) {
    r.k = ~r.k;
    r.i = ~r.i;
  }
  return r;
}
#define K64_MAKE(key, i, flip) k64_make((key), (i), (flip))
static inline k64 k64_unflip(k64 a, bool flip) {
  if (flip) {
    a.k = ~a.k;
    a.i = ~a.i;
  }
  return a;
}
#define K64_UNFLIP(a, flip) k64_unflip((a), (flip))
static inline k64 k64_makek(uint64_t kf, int64_t i, bool flip) {
  k64 r = {kf, flip ? (uint64_t)i : ~(uint64_t)i};
  return r;
}
#define K64_MAKEK(kf, i, flip) k64_makek((kf), (i), (flip))
#define K64_KEYOF(a) ((a).k)

/* Sorting and selection, descending, on unique keys. */
#define DEFINE_SELECT(KS, KT, GT)                                                   \
  static void isort_##KS(KT *a, int64_t n) {                                        \
    for (int64_t i = 1; i < n; i++) {                                               \
      KT v = a[i];                                                                  \
      int64_t j = i;                                                                \
      while (j > 0 && GT(v, a[j - 1])) {                                            \
        a[j] = a[j - 1];                                                            \
        j--;                                                                        \
      }                                                                             \
      a[j] = v;                                                                     \
    }                                                                               \
  }                                                                                 \
  /* merge sort; tmp holds n keys */                                                \
  static void msort_##KS(KT *a, KT *tmp, int64_t n) {                              \
    const int64_t RUN = 16;                                                         \
    for (int64_t s = 0; s < n; s += RUN) isort_##KS(a + s, n - s < RUN ? n - s : RUN); \
    KT *src = a, *dst = tmp;                                                        \
    for (int64_t w = RUN; w < n; w *= 2) {                                          \
      for (int64_t lo = 0; lo < n; lo += 2 * w) {                                   \
        int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n; \
        int64_t i = lo, j = mid, o = lo;                                            \
        while (i < mid && j < hi) dst[o++] = GT(src[j], src[i]) ? src[j++] : src[i++]; \
        while (i < mid) dst[o++] = src[i++];                                        \
        while (j < hi) dst[o++] = src[j++];                                         \
      }                                                                             \
      KT *t = src;                                                                  \
      src = dst;                                                                    \
      dst = t;                                                                      \
    }                                                                               \
    if (src != a) memcpy(a, src, sizeof(KT) * (size_t)n);                           \
  }                                                                                 \
  /* rearranges a so that a[0..k) are the k largest (in no particular order) */    \
  static void select_##KS(KT *a, int64_t n, int64_t k, KT *tmp) {                  \
    int64_t lo = 0, hi = n;                                                         \
    int depth = 0;                                                                  \
    while (hi - lo > 16) {                                                          \
      if (++depth > 80) {                                                           \
        msort_##KS(a + lo, tmp, hi - lo);                                           \
        return;                                                                     \
      }                                                                             \
      int64_t mid = lo + (hi - lo) / 2;                                             \
      KT x = a[lo], y = a[mid], z = a[hi - 1], t;                                   \
      /* median of three to a[hi-1] */                                              \
      int64_t m;                                                                    \
      if (GT(x, y)) m = GT(y, z) ? mid : (GT(x, z) ? hi - 1 : lo);                  \
      else m = GT(x, z) ? lo : (GT(y, z) ? hi - 1 : mid);                           \
      t = a[m];                                                                     \
      a[m] = a[hi - 1];                                                             \
      a[hi - 1] = t;                                                                \
      KT piv = t;                                                                   \
      int64_t s = lo;                                                               \
      for (int64_t i = lo; i < hi - 1; i++) {                                       \
        if (GT(a[i], piv)) {                                                        \
          KT u = a[i];                                                              \
          a[i] = a[s];                                                              \
          a[s] = u;                                                                 \
          s++;                                                                      \
        }                                                                           \
      }                                                                             \
      a[hi - 1] = a[s];                                                             \
      a[s] = piv;                                                                   \
      /* a[lo..s) > piv = a[s] > a(s..hi) */                                        \
      if (k == s || k == s + 1) return;                                             \
      if (k < s) hi = s;                                                            \
      else lo = s + 1;                                                              \
    }                                                                               \
    isort_##KS(a + lo, hi - lo);                                                    \
  }

DEFINE_SELECT(k32, k32, K32_GT)
DEFINE_SELECT(k64, k64, K64_GT)

/* ======================= topk / sort / l0inf ======================= */

/* One job over contiguous [outer, n, inner] data: either top-k values and
 * indices ([outer, k, inner]; vals may be NULL), or a mask ([outer, n,
 * inner], u8 or T, and/or out = x * mask). */
typedef struct topk_job {
  int64_t outer, n, inner, k;
  int mode;
  bool sorted;
  void *vals;
  int64_t *idx;
  bool mask_mode;
  uint8_t *mask8;
  void *maskT;
  void *out;
  int failed; /* out of memory in a worker */
} topk_job;

/* Fills the mask / out entries of the positions [p0, p0+T) of sample o
 * with the "not selected" state: dropped (0) or, when the selection lists
 * the entries to drop, kept (1 / x). */
#define SCAN_LOOP(KEYT, KEXPR, CMP)            \
  for (int64_t t = 0; t < cnt; t++) {          \
    KEYT kv_ = KEXPR;                          \
    uint8_t h_ = kv_ CMP thr[t];               \
    kb[t] = kv_;                               \
    hit[t] = h_;                               \
    any |= h_;                                 \
  }

#define DEFINE_TOPK(SUF, T, KS, KT, KEYT, KEYF, MAKE, MAKEK, KEYOF, GT, IDX, UNFLIP)                             \
  static void mask_init_##SUF(const topk_job *j, const T *x, int64_t o, int64_t p0,          \
                              int64_t cnt, int64_t step, bool keep) {                        \
    for (int64_t c = 0; c < j->n; c++) {                                                     \
      int64_t base = (o * j->n + c) * j->inner + p0;                                         \
      if (j->mask8)                                                                          \
        for (int64_t t = 0; t < cnt; t++) j->mask8[base + t * step] = keep;                  \
      if (j->maskT)                                                                          \
        for (int64_t t = 0; t < cnt; t++) ((T *)j->maskT)[base + t * step] = (T)keep;        \
      if (j->out) {                                                                          \
        T *ot = (T *)j->out;                                                                 \
        if (keep)                                                                            \
          for (int64_t t = 0; t < cnt; t++) ot[base + t * step] = x[base + t * step];        \
        else                                                                                 \
          for (int64_t t = 0; t < cnt; t++) ot[base + t * step] = (T)0;                      \
      }                                                                                      \
    }                                                                                        \
  }                                                                                          \
  static inline void mask_set_##SUF(const topk_job *j, const T *x, int64_t pos, bool keep) { \
    if (j->mask8) j->mask8[pos] = keep;                                                      \
    if (j->maskT) ((T *)j->maskT)[pos] = (T)keep;                                            \
    if (j->out) ((T *)j->out)[pos] = keep ? x[pos] : (T)0;                                   \
  }                                                                                          \
  /* writes the kk selected of positions [p0, p0+cnt) of sample o; entry   \
   * (t, q) of the selection is L[t * st + q * sq] */                           \
  static void emit_##SUF(topk_job *j, const T *x, int64_t o, int64_t p0, int64_t cnt,        \
                         int64_t kk, bool flip, const KT *L, int64_t st, int64_t sq) {       \
    int64_t n = j->n, inner = j->inner;                                                      \
    if (j->mask_mode) {                                                                      \
      mask_init_##SUF(j, x, o, p0, cnt, 1, flip);                                            \
      for (int64_t t = 0; t < cnt; t++)                                                      \
        for (int64_t q = 0; q < kk; q++)                                                     \
          mask_set_##SUF(j, x, (o * n + IDX(UNFLIP(L[t * st + q * sq], flip))) * inner + p0 + t, \
                         !flip);                                                             \
      return;                                                                                \
    }                                                                                        \
    for (int64_t t = 0; t < cnt; t++)                                                        \
      for (int64_t q = 0; q < kk; q++) {                                                     \
        int64_t c = IDX(L[t * st + q * sq]);                                                 \
        int64_t dst = (o * kk + q) * inner + p0 + t;                                         \
        j->idx[dst] = c;                                                                     \
        if (j->vals) ((T *)j->vals)[dst] = x[(o * n + c) * inner + p0 + t];                  \
      }                                                                                      \
  }                                                                                          \
  /* keys of row[0..cnt) (flipped when listing drops) into kb; whether any    \
   * passes its position's threshold. Branch-free per mode: vectorizes. */      \
  static int scan_##SUF(const T *row, int64_t cnt, KEYT *kb, uint8_t *hit, const KEYT *thr, \
                        int mode, bool flip) {                                               \
    int any = 0;                                                                             \
    switch (mode * 2 + (int)flip) {                                                          \
      case 0: SCAN_LOOP(KEYT, KEYF(row[t], KM_LARGEST), >) break;                                  \
      case 1: SCAN_LOOP(KEYT, ~KEYF(row[t], KM_LARGEST), >=) break;                                \
      case 2: SCAN_LOOP(KEYT, KEYF(row[t], KM_SMALLEST), >) break;                                 \
      case 3: SCAN_LOOP(KEYT, ~KEYF(row[t], KM_SMALLEST), >=) break;                               \
      case 4: SCAN_LOOP(KEYT, KEYF(row[t], KM_ABS), >) break;                                      \
      default: SCAN_LOOP(KEYT, ~KEYF(row[t], KM_ABS), >=) break;                                   \
    }                                                                                        \
    return any;                                                                              \
  }                                                                                          \
  static inline void insert_##SUF(KT *l, int64_t len, KT key) {                              \
    int64_t q = len;                                                                         \
    while (q > 0 && GT(key, l[q - 1])) {                                                     \
      l[q] = l[q - 1];                                                                       \
      q--;                                                                                   \
    }                                                                                        \
    l[q] = key;                                                                              \
  }                                                                                          \
  /* small k: one pass keeping a sorted list of kk keys per position, TILE     \
   * positions at a time (inner == 1: one row, read in blocks of TILE) */       \
  static void topk_tiles_##SUF(topk_job *j, const T *x, int64_t kk, bool flip) {             \
    int64_t n = j->n, inner = j->inner;                                                      \
    int mode = j->mode;                                                                      \
    bool rowwise = inner == 1;                                                               \
    int64_t tiles = (inner + TILE - 1) / TILE, units = j->outer * tiles;                     \
    bool par = parallel_ok(j->outer * n * inner, units);                                     \
    _Pragma("omp parallel if (par)") {                                                       \
      KT *lst = malloc(sizeof(KT) * (size_t)(TILE * kk));                                    \
      if (!lst) {                                                                            \
        _Pragma("omp atomic write") j->failed = 1;                                           \
      } else {                                                                               \
        KEYT kb[TILE], thr[TILE];                                                            \
        uint8_t hit[TILE];                                                                   \
        memset(hit, 0, sizeof hit);                                                          \
        _Pragma("omp for schedule(static)") for (int64_t u = 0; u < units; u++) {            \
          int64_t o = u / tiles, p0 = (u % tiles) * TILE;                                    \
          int64_t cnt = inner - p0 < TILE ? inner - p0 : TILE;                               \
          const T *base = x + o * n * inner + p0;                                            \
          if (cnt < TILE) memset(hit + cnt, 0, (size_t)(TILE - cnt));                        \
          for (int64_t c = 0; c < kk; c++)                                                   \
            for (int64_t t = 0; t < cnt; t++) {                                              \
              KEYT kf = KEYF(base[c * inner + t], mode);                                     \
              insert_##SUF(lst + t * kk, c, MAKEK(flip ? ~kf : kf, c, flip));                \
            }                                                                                \
          for (int64_t t = 0; t < cnt; t++) thr[t] = KEYOF(lst[t * kk + kk - 1]);            \
          if (!rowwise) {                                                                    \
            for (int64_t c = kk; c < n; c++) {                                               \
              if (!scan_##SUF(base + c * inner, cnt, kb, hit, thr, mode, flip)) continue;    \
              /* hits are 0/1 bytes: test 8 positions per word */                           \
              for (int64_t t0 = 0; t0 < cnt; t0 += 8) {                                      \
                uint64_t w;                                                                  \
                memcpy(&w, hit + t0, sizeof w);                                              \
                while (w) {                                                                  \
                  int64_t t = t0 + (__builtin_ctzll(w) >> 3);                                \
                  w &= w - 1;                                                                \
                  KT *l = lst + t * kk;                                                      \
                  insert_##SUF(l, kk - 1, MAKEK(kb[t], c, flip));                            \
                  thr[t] = KEYOF(l[kk - 1]);                                                 \
                }                                                                            \
              }                                                                              \
            }                                                                                \
          } else {                                                                           \
            KEYT th[TILE];                                                                   \
            for (int64_t c0 = kk; c0 < n; c0 += TILE) {                                      \
              int64_t m = n - c0 < TILE ? n - c0 : TILE;                                     \
              for (int64_t t = 0; t < m; t++) th[t] = thr[0];                                \
              if (!scan_##SUF(base + c0, m, kb, hit, th, mode, flip)) continue;              \
              for (int64_t t = 0; t < m; t++)                                                \
                if (flip ? kb[t] >= thr[0] : kb[t] > thr[0]) {                               \
                  insert_##SUF(lst, kk - 1, MAKEK(kb[t], c0 + t, flip));                     \
                  thr[0] = KEYOF(lst[kk - 1]);                                               \
                }                                                                            \
            }                                                                                \
          }                                                                                  \
          emit_##SUF(j, x, o, p0, cnt, kk, flip, lst, kk, 1);                                \
        }                                                                                    \
        free(lst);                                                                           \
      }                                                                                      \
    }                                                                                        \
  }                                                                                          \
  /* any k: copy the keys of each row, select, sort */                                       \
  static void topk_rows_##SUF(topk_job *j, const T *x, int64_t kk, bool flip) {              \
    int64_t n = j->n, inner = j->inner, mode = j->mode, rows = j->outer * inner;             \
    bool par = parallel_ok(rows * n, rows);                                                  \
    _Pragma("omp parallel if (par)") {                                                       \
      KT *buf = malloc(sizeof(KT) * (size_t)(2 * n));                                        \
      if (!buf) {                                                                            \
        _Pragma("omp atomic write") j->failed = 1;                                           \
      } else {                                                                               \
        KT *tmp = buf + n;                                                                   \
        _Pragma("omp for schedule(static)") for (int64_t r = 0; r < rows; r++) {             \
          int64_t o = r / inner, p = r % inner;                                              \
          const T *col = x + o * n * inner + p;                                              \
          for (int64_t c = 0; c < n; c++) buf[c] = MAKE(KEYF(col[c * inner], (int)mode), c, flip); \
          if (kk < n) select_##KS(buf, n, kk, tmp);                                          \
          if (j->mask_mode) {                                                                \
            mask_init_##SUF(j, x, o, p, 1, 1, flip);                                         \
            for (int64_t q = 0; q < kk; q++)                                                 \
              mask_set_##SUF(j, x, (o * n + IDX(UNFLIP(buf[q], flip))) * inner + p, !flip);                \
            continue;                                                                        \
          }                                                                                  \
          if (j->sorted) msort_##KS(buf, tmp, kk);                                           \
          for (int64_t q = 0; q < kk; q++) {                                                 \
            int64_t c = IDX(buf[q]), dst = (o * kk + q) * inner + p;                         \
            j->idx[dst] = c;                                                                 \
            if (j->vals) ((T *)j->vals)[dst] = col[c * inner];                               \
          }                                                                                  \
        }                                                                                    \
        free(buf);                                                                           \
      }                                                                                      \
    }                                                                                        \
  }

DEFINE_TOPK(f32, float, k32, k32, uint32_t, key_f32, K32_MAKE, K32_MAKEK, K32_KEYOF, K32_GT, K32_IDX, K32_UNFLIP)
DEFINE_TOPK(u8, uint8_t, k32, k32, uint32_t, key_u8, K32_MAKE, K32_MAKEK, K32_KEYOF, K32_GT, K32_IDX, K32_UNFLIP)
DEFINE_TOPK(f64, double, k64, k64, uint64_t, key_f64, K64_MAKE, K64_MAKEK, K64_KEYOF, K64_GT, K64_IDX, K64_UNFLIP)
DEFINE_TOPK(i64, int64_t, k64, k64, uint64_t, key_i64, K64_MAKE, K64_MAKEK, K64_KEYOF, K64_GT, K64_IDX, K64_UNFLIP)

/* float32 / uint8 with k <= NET_K over a strided dim: per tile of positions
 * keep the k best composite keys in k lanes-arrays, merging every new row
 * with a branch-free max/min chain (vectorizes; no mispredicted inserts). */
#define NET_K 64
#define NET_KEYS(KEXPR, CMP_FLIP)                                   \
  for (int64_t t = 0; t < cnt; t++) {                               \
    uint64_t v_ = ((uint64_t)(KEXPR) << 32) | lo;                   \
    vb[t] = v_;                                                     \
    any |= v_ > last[t];                                            \
  }
#define NET_MASK(T, KEXPR, CMP)                                     \
  for (int64_t t = 0; t < cnt; t++) {                               \
    uint64_t v_ = ((uint64_t)(KEXPR) << 32) | lo;                   \
    bool keep_ = v_ CMP last[t];                                    \
    if (m8) m8[t] = keep_;                                          \
    if (mt) mt[t] = (T)keep_;                                       \
    if (ot) ot[t] = keep_ ? row[t] : (T)0;                          \
  }
#define DEFINE_NET(SUF, T, KEYF)                                                             \
  static bool net_##SUF(topk_job *j, const T *x, int64_t kk, bool flip) {                    \
    int64_t n = j->n, inner = j->inner;                                                      \
    int mode = j->mode;                                                                      \
    int64_t tiles = (inner + TILE - 1) / TILE, units = j->outer * tiles;                     \
    bool par = parallel_ok(j->outer * n * inner, units);                                     \
    _Pragma("omp parallel for schedule(static) if (par)")                                    \
    for (int64_t u = 0; u < units; u++) {                                                    \
      uint64_t L[NET_K * TILE], vb[TILE];                                                    \
      int64_t o = u / tiles, p0 = (u % tiles) * TILE;                                        \
      int64_t cnt = inner - p0 < TILE ? inner - p0 : TILE;                                   \
      const T *base = x + o * n * inner + p0;                                                \
      const uint64_t *last = L + (kk - 1) * TILE;                                            \
      memset(L, 0, sizeof(uint64_t) * (size_t)(kk * TILE));                                 \
      for (int64_t c = 0; c < n; c++) {                                                      \
        const T *row = base + c * inner;                                                     \
        uint64_t lo = flip ? (uint32_t)c : (uint32_t) ~(uint32_t)c;                          \
        int any = 0;                                                                         \
        switch (mode * 2 + (int)flip) {                                                      \
          case 0: NET_KEYS(KEYF(row[t], KM_LARGEST), 0) break;                               \
          case 1: NET_KEYS(~KEYF(row[t], KM_LARGEST), 1) break;                              \
          case 2: NET_KEYS(KEYF(row[t], KM_SMALLEST), 0) break;                              \
          case 3: NET_KEYS(~KEYF(row[t], KM_SMALLEST), 1) break;                             \
          case 4: NET_KEYS(KEYF(row[t], KM_ABS), 0) break;                                   \
          default: NET_KEYS(~KEYF(row[t], KM_ABS), 1) break;                                 \
        }                                                                                    \
        if (!any) continue;                                                                  \
        for (int64_t q = 0; q < kk; q++) {                                                   \
          uint64_t *Lq = L + q * TILE;                                                       \
          for (int64_t t = 0; t < cnt; t++) {                                                \
            uint64_t a = Lq[t], b = vb[t];                                                   \
            Lq[t] = a > b ? a : b;                                                           \
            vb[t] = a > b ? b : a;                                                           \
          }                                                                                  \
        }                                                                                    \
      }                                                                                      \
      if (!j->mask_mode) {                                                                   \
        emit_##SUF(j, x, o, p0, cnt, kk, flip, L, 1, TILE);                                  \
        continue;                                                                            \
      }                                                                                      \
      /* mask pass: kept iff the key ranks in the top k (>= the k-th best; the \
       * k-th best to drop when flipped) */                                    \
      for (int64_t c = 0; c < n; c++) {                                                      \
        int64_t at = (o * n + c) * inner + p0;                                               \
        const T *row = x + at;                                                               \
        uint64_t lo = flip ? (uint32_t)c : (uint32_t) ~(uint32_t)c;                          \
        uint8_t *m8 = j->mask8 ? j->mask8 + at : NULL;                                       \
        T *mt = j->maskT ? (T *)j->maskT + at : NULL;                                        \
        T *ot = j->out ? (T *)j->out + at : NULL;                                            \
        if (flip) NET_MASK(T, ~KEYF(row[t], KM_ABS), <)                                       \
        else NET_MASK(T, KEYF(row[t], KM_ABS), >=)                                            \
      }                                                                                      \
    }                                                                                        \
    return true;                                                                             \
  }
#define DEFINE_NO_NET(SUF, T)                                                               \
  static bool net_##SUF(topk_job *j, const T *x, int64_t kk, bool flip) {                    \
    (void)j, (void)x, (void)kk, (void)flip;                                                  \
    return false;                                                                            \
  }
#define DEFINE_TOPK_RUN(SUF, T) \
  static sg_status topk_run_##SUF(topk_job *j, const T *x) {                                 \
    int64_t kk = j->k;                                                                       \
    bool flip = false;                                                                       \
    if (j->mask_mode && j->k > j->n - j->k) { /* list the entries to drop */                 \
      kk = j->n - j->k;                                                                      \
      flip = true;                                                                           \
    }                                                                                        \
    if (j->outer * j->inner == 0) return SG_OK;                                              \
    if (kk == 0) {                                                                           \
      if (j->mask_mode)                                                                      \
        for (int64_t o = 0; o < j->outer; o++) mask_init_##SUF(j, x, o, 0, j->inner, 1, flip); \
      return SG_OK;                                                                          \
    }                                                                                        \
    if (kk <= NET_K && kk < j->n && j->inner >= 4 && net_##SUF(j, x, kk, flip)) {           \
    } else if (kk <= SMALL_K && kk < j->n) {                                                 \
      topk_tiles_##SUF(j, x, kk, flip);                                                      \
    } else {                                                                                 \
      topk_rows_##SUF(j, x, kk, flip);                                                       \
    }                                                                                        \
    return j->failed ? sg_error(SG_ERR_MEM, "topk: out of memory for selection buffers")    \
                     : SG_OK;                                                                \
  }

DEFINE_NET(f32, float, key_f32)
DEFINE_NET(u8, uint8_t, key_u8)
DEFINE_NO_NET(f64, double)
DEFINE_NO_NET(i64, int64_t)
DEFINE_TOPK_RUN(f32, float)
DEFINE_TOPK_RUN(u8, uint8_t)
DEFINE_TOPK_RUN(f64, double)
DEFINE_TOPK_RUN(i64, int64_t)

static sg_status topk_dispatch(topk_job *j, const sg_tensor *x, const char *op) {
  if ((x->dtype == SG_FLOAT32 || x->dtype == SG_UINT8 || x->dtype == SG_BOOL) &&
      j->n >= (int64_t)0xffffffff)
    return sg_error(SG_ERR_UNSUPPORTED, "%s: dim of size %lld is too long (at most 2^32 - 2)",
                    op, (long long)j->n);
  const void *p = sg_data_ptr(x);
  switch (x->dtype) {
    case SG_FLOAT32: return topk_run_f32(j, p);
    case SG_FLOAT64: return topk_run_f64(j, p);
    case SG_INT64: return topk_run_i64(j, p);
    case SG_UINT8:
    case SG_BOOL: return topk_run_u8(j, p);
    default: return sg_error(SG_ERR_ARG, "%s: unsupported dtype", op);
  }
}

static sg_status cpu_topk(sg_tensor *values, sg_tensor *indices, const sg_tensor *x, int dim,
                          int64_t k, bool largest, bool sorted) {
  topk_job j = {0};
  dim_split(x, dim, &j.outer, &j.n, &j.inner);
  j.k = k;
  j.mode = largest ? KM_LARGEST : KM_SMALLEST;
  j.sorted = sorted;
  j.vals = values ? sg_data_ptr(values) : NULL;
  j.idx = sg_data_ptr(indices);
  return topk_dispatch(&j, x, "topk");
}

static sg_status cpu_sort(sg_tensor *values, sg_tensor *indices, const sg_tensor *x, int dim,
                          bool descending) {
  topk_job j = {0};
  dim_split(x, dim, &j.outer, &j.n, &j.inner);
  j.k = j.n;
  j.mode = descending ? KM_LARGEST : KM_SMALLEST;
  j.sorted = true;
  j.vals = values ? sg_data_ptr(values) : NULL;
  j.idx = sg_data_ptr(indices);
  return topk_dispatch(&j, x, "sort");
}

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
  return topk_dispatch(&j, x, "l0inf_mask");
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

const struct sg_index_kernels sg_cpu_index_kernels = {
    .index_select = cpu_index_select,
    .gather = cpu_gather,
    .scatter = cpu_scatter,
    .topk = cpu_topk,
    .sort = cpu_sort,
    .l0_mask = cpu_l0_mask,
    .l0inf_mask = cpu_l0inf_mask,
    .threshold = cpu_threshold,
    .soft_threshold_t = cpu_soft_threshold_t,
};
