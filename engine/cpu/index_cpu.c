/* CPU kernels of the index family: index_select, gather and
 * scatter(_add). */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal/backend.h"
#include "internal/iter.h"
#include "internal/kernels_index.h"
#include "internal/tensor_internal.h"
#include "select_cpu.h"

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

const struct sg_index_kernels sg_cpu_index_kernels = {
    .index_select = cpu_index_select,
    .gather = cpu_gather,
    .scatter = cpu_scatter,
};
