/* CPU kernels of the sort family: topk and sort, and the top-k job that
 * the l0inf mask of the sparse family runs on (select_cpu.h).
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
#include "internal/kernels_sort.h"
#include "internal/tensor_internal.h"
#include "select_cpu.h"

#define TILE 64
#define SMALL_K 32

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

/* ======================= topk / sort ======================= */

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

sg_status sg_cpu_topk_run(topk_job *j, const sg_tensor *x, const char *op) {
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
  return sg_cpu_topk_run(&j, x, "topk");
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
  return sg_cpu_topk_run(&j, x, "sort");
}

const struct sg_sort_kernels sg_cpu_sort_kernels = {
    .topk = cpu_topk,
    .sort = cpu_sort,
};
