/* Joining, indexing and sorting: cat/stack/split, index_select, gather,
 * scatter(_add), topk and sort. Values by hand and against a naive
 * reference, gradients (first and second order) and error messages. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static sg_tensor *idx_from(const double *v, int ndim, const int64_t *shape) {
  return tt_from(SG_INT64, v, ndim, shape);
}

/* ---------------- cat / stack / split ---------------- */

static void cat_values(void) {
  sg_tensor *a = tt_from(SG_FLOAT32, VALS(1, 2, 3, 4), 2, SHAPE(2, 2));
  sg_tensor *b = tt_from(SG_FLOAT32, VALS(5, 6), 2, SHAPE(2, 1));
  sg_tensor *ab[2] = {a, b};
  sg_tensor *r = sg_cat(ab, 2, 1);
  CHECK(r && r->ndim == 2 && r->shape[0] == 2 && r->shape[1] == 3);
  CHECK_VALUES(r, VALS(1, 2, 5, 3, 4, 6), 6, 0);
  sg_release(r);
  r = sg_cat(ab, 2, -1);
  CHECK_VALUES(r, VALS(1, 2, 5, 3, 4, 6), 6, 0);
  sg_release(r);
  /* dim 0, a transposed (non-contiguous) piece */
  sg_tensor *at = sg_transpose(a, 0, 1);
  sg_tensor *aa[2] = {a, at};
  r = sg_cat(aa, 2, 0);
  CHECK(r && r->shape[0] == 4 && r->shape[1] == 2);
  CHECK_VALUES(r, VALS(1, 2, 3, 4, 1, 3, 2, 4), 8, 0);
  sg_release(r);
  /* promotion int64 + float32 -> float32, and a 1-D empty tensor skipped */
  sg_tensor *i = tt_from(SG_INT64, VALS(7, 8), 2, SHAPE(2, 1));
  sg_tensor *e = sg_zeros(SHAPE(0), 1, SG_FLOAT64, sg_cpu_device());
  sg_tensor *mix[3] = {i, e, b};
  r = sg_cat(mix, 3, 1);
  CHECK(r && r->dtype == SG_FLOAT64 && r->shape[1] == 2);
  CHECK_VALUES(r, VALS(7, 5, 8, 6), 4, 0);
  sg_release(r);
  sg_tensor *ii[2] = {i, i};
  r = sg_cat(ii, 2, 0);
  CHECK(r && r->dtype == SG_INT64);
  CHECK_VALUES(r, VALS(7, 8, 7, 8), 4, 0);
  sg_release(r);
  /* 12 pieces (more than a graph node holds) with gradient */
  sg_tensor *ps[12];
  for (int k = 0; k < 12; k++) ps[k] = tt_param(100 + k, -1, 1, 2, SHAPE(1, 2));
  r = sg_cat(ps, 12, 0);
  CHECK(r && r->shape[0] == 12);
  if (r) {
    CHECK_NEAR(sg_get_flat(r, 23), sg_get_flat(ps[11], 1), 0);
    sg_tensor *w = sg_arange(0, 24, 1, SG_FLOAT64, sg_cpu_device());
    sg_tensor *w2 = sg_reshape(w, SHAPE(12, 2), 2);
    sg_tensor *p = sg_mul(r, w2);
    sg_tensor *s = sg_sum(p, NULL, 0, false);
    CHECK_OK(sg_backward(&s, NULL, 1, false, false));
    CHECK(ps[7]->grad != NULL);
    if (ps[7]->grad) CHECK_VALUES(ps[7]->grad, VALS(14, 15), 2, 0);
    sg_tensor *all[] = {w, w2, p, s};
    sg_release_all(all, 4);
  }
  sg_release(r);
  sg_release_all(ps, 12);
  sg_release(at);
  sg_release(a);
  sg_release(b);
  sg_release(i);
  sg_release(e);
}

static void stack_split_values(void) {
  sg_tensor *a = tt_from(SG_FLOAT32, VALS(1, 2, 3), 1, SHAPE(3));
  sg_tensor *b = tt_from(SG_FLOAT32, VALS(4, 5, 6), 1, SHAPE(3));
  sg_tensor *ab[2] = {a, b};
  sg_tensor *r = sg_stack(ab, 2, 0);
  CHECK(r && r->ndim == 2 && r->shape[0] == 2 && r->shape[1] == 3);
  CHECK_VALUES(r, VALS(1, 2, 3, 4, 5, 6), 6, 0);
  sg_release(r);
  r = sg_stack(ab, 2, 1);
  CHECK(r && r->shape[0] == 3 && r->shape[1] == 2);
  CHECK_VALUES(r, VALS(1, 4, 2, 5, 3, 6), 6, 0);
  sg_release(r);
  r = sg_stack(ab, 2, -1);
  CHECK(r && r->shape[0] == 3 && r->shape[1] == 2);
  sg_release(r);

  sg_tensor *x = sg_arange(0, 10, 1, SG_FLOAT32, sg_cpu_device());
  sg_tensor *x2 = sg_reshape(x, SHAPE(2, 5), 2);
  sg_tensor *outs[4] = {0};
  int n = -1;
  CHECK_OK(sg_split(x2, 2, 1, outs, 4, &n));
  CHECK(n == 3);
  if (n == 3) {
    CHECK(outs[0]->shape[1] == 2 && outs[2]->shape[1] == 1);
    CHECK_VALUES(outs[1], VALS(2, 3, 7, 8), 4, 0);
    CHECK_VALUES(outs[2], VALS(4, 9), 2, 0);
    CHECK(outs[1]->storage == x2->storage); /* views */
    sg_release_all(outs, 3);
  }
  CHECK_STATUS_FAILS(sg_split(x2, 1, 1, outs, 4, &n), "5 pieces, more than max_out = 4");
  CHECK(n == 0);
  CHECK_STATUS_FAILS(sg_split(x2, 0, 0, outs, 4, &n), "split_size must be >= 1");
  CHECK_STATUS_FAILS(sg_split(x2, 1, 2, outs, 4, &n), "dim 2 out of range");
  sg_release(x);
  sg_release(x2);
  sg_release(a);
  sg_release(b);
}

static void join_errors(void) {
  sg_tensor *a = sg_zeros(SHAPE(2, 3), 2, SG_FLOAT32, sg_cpu_device());
  sg_tensor *b = sg_zeros(SHAPE(3, 3), 2, SG_FLOAT32, sg_cpu_device());
  sg_tensor *c = sg_zeros(SHAPE(2, 3, 1), 3, SG_FLOAT32, sg_cpu_device());
  sg_tensor *s = sg_scalar_tensor(1, SG_FLOAT32, sg_cpu_device());
  sg_tensor *ab[2] = {a, b}, *ac[2] = {a, c}, *an[2] = {a, NULL}, *ss[2] = {s, s};
  CHECK_FAILS(sg_cat(ab, 2, 1),
              "cat: tensor 1 has shape 3x3, expected the shape of tensor 0 (2x3) in every dim "
              "but dim 1");
  CHECK_FAILS(sg_cat(ac, 2, 0), "tensor 1 has shape 2x3x1");
  CHECK_FAILS(sg_cat(an, 2, 0), "cat: tensor 1 is missing");
  CHECK_FAILS(sg_cat(ab, 0, 0), "non-empty list");
  CHECK_FAILS(sg_cat(ab, 2, 2), "cat: dim 2 out of range");
  CHECK_FAILS(sg_cat(ss, 2, 0), "0-dim");
  CHECK_FAILS(sg_stack(ab, 2, 0), "stack: tensor 1 has shape 3x3, expected 2x3");
  CHECK_FAILS(sg_stack(ss, 2, 2), "stack: dim 2 out of range");
  sg_tensor *r = sg_stack(ss, 2, 0); /* 0-dim pieces stack fine */
  CHECK(r && r->ndim == 1 && r->shape[0] == 2);
  sg_release(r);
  sg_release(a);
  sg_release(b);
  sg_release(c);
  sg_release(s);
}

/* ---------------- index_select / gather / scatter ---------------- */

static void index_select_values(void) {
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(1, 2, 3, 4, 5, 6), 2, SHAPE(2, 3));
  sg_tensor *i = idx_from(VALS(2, 0, 2), 1, SHAPE(3));
  sg_tensor *r = sg_index_select(x, 1, i);
  CHECK(r && r->shape[0] == 2 && r->shape[1] == 3);
  CHECK_VALUES(r, VALS(3, 1, 3, 6, 4, 6), 6, 0);
  sg_release(r);
  sg_tensor *i0 = idx_from(VALS(1, 1), 1, SHAPE(2));
  r = sg_index_select(x, 0, i0);
  CHECK_VALUES(r, VALS(4, 5, 6, 4, 5, 6), 6, 0);
  sg_release(r);
  /* 3-D, middle dim, int64 data */
  sg_tensor *y = sg_arange(0, 24, 1, SG_INT64, sg_cpu_device());
  sg_tensor *y3 = sg_reshape(y, SHAPE(2, 3, 4), 3);
  sg_tensor *i1 = idx_from(VALS(2, 0), 1, SHAPE(2));
  r = sg_index_select(y3, 1, i1);
  CHECK(r && r->dtype == SG_INT64 && r->shape[1] == 2);
  CHECK_VALUES(r, VALS(8, 9, 10, 11, 0, 1, 2, 3, 20, 21, 22, 23, 12, 13, 14, 15), 16, 0);
  sg_release(r);
  sg_tensor *bad = idx_from(VALS(0, 3), 1, SHAPE(2));
  CHECK_FAILS(sg_index_select(x, 1, bad), "index_select: index 3 out of range for dim 1 of size 3");
  sg_tensor *neg = idx_from(VALS(-1), 1, SHAPE(1));
  CHECK_FAILS(sg_index_select(x, 0, neg), "index -1 out of range for dim 0 of size 2");
  sg_tensor *fi = tt_from(SG_FLOAT32, VALS(0), 1, SHAPE(1));
  CHECK_FAILS(sg_index_select(x, 0, fi), "index_select: index has dtype float32, expected int64");
  CHECK_FAILS(sg_index_select(x, 0, NULL), "index");
  sg_tensor *all[] = {x, i, i0, y, y3, i1, bad, neg, fi};
  sg_release_all(all, 9);
}

static void gather_scatter_values(void) {
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 2, SHAPE(2, 5));
  sg_tensor *i = idx_from(VALS(4, 0, 1, 1), 2, SHAPE(2, 2));
  sg_tensor *r = sg_gather(x, 1, i);
  CHECK(r && r->shape[0] == 2 && r->shape[1] == 2);
  CHECK_VALUES(r, VALS(5, 1, 7, 7), 4, 0);
  sg_release(r);
  sg_tensor *i0 = idx_from(VALS(1, 0, 1), 2, SHAPE(1, 3));
  r = sg_gather(x, 0, i0);
  CHECK_VALUES(r, VALS(6, 2, 8), 3, 0);
  sg_release(r);
  /* gather from a transposed view */
  sg_tensor *xt = sg_transpose(x, 0, 1); /* 5x2 */
  sg_tensor *it = idx_from(VALS(1, 0, 0), 2, SHAPE(3, 1));
  r = sg_gather(xt, 1, it);
  CHECK_VALUES(r, VALS(6, 2, 3), 3, 0);
  sg_release(r);

  sg_tensor *bad = idx_from(VALS(7, 0, 1, 1), 2, SHAPE(2, 2));
  CHECK_FAILS(sg_gather(x, 1, bad), "gather: index 7 out of range for dim 1 of size 5");
  sg_tensor *big = sg_zeros(SHAPE(3, 1), 2, SG_INT64, sg_cpu_device());
  CHECK_FAILS(sg_gather(x, 1, big), "larger than the input (2x5) in dim 0");
  sg_tensor *i1d = idx_from(VALS(0), 1, SHAPE(1));
  CHECK_FAILS(sg_gather(x, 1, i1d), "gather: index has 1 dims (1), expected 2");

  /* scatter: out of place, x unchanged */
  sg_tensor *src = tt_from(SG_FLOAT32, VALS(-1, -2, -3, -4), 2, SHAPE(2, 2));
  r = sg_scatter(x, 1, i, src);
  CHECK_VALUES(r, VALS(-2, 2, 3, 4, -1, 6, -4, 8, 9, 10), 10, 0); /* dup: last wins */
  CHECK_NEAR(sg_get_flat(x, 0), 1, 0);
  sg_release(r);
  r = sg_scatter_add(x, 1, i, src);
  CHECK_VALUES(r, VALS(-1, 2, 3, 4, 4, 6, 0, 8, 9, 10), 10, 0);
  sg_release(r);
  r = sg_scatter_add(x, 0, i0, src); /* index 1x3 into a 2x2 src: uses src[0, 0..2] */
  CHECK(r == NULL);                  /* index larger than src in dim 1 */
  sg_release(r);
  sg_tensor *src3 = tt_from(SG_FLOAT32, VALS(10, 20, 30), 2, SHAPE(1, 3));
  r = sg_scatter_add(x, 0, i0, src3);
  CHECK_VALUES(r, VALS(1, 22, 3, 4, 5, 16, 7, 38, 9, 10), 10, 0);
  sg_release(r);
  /* 1-D scatter_add with duplicates (the sequential path) */
  sg_tensor *z = sg_zeros(SHAPE(4), 1, SG_FLOAT64, sg_cpu_device());
  sg_tensor *id = idx_from(VALS(3, 1, 3, 3), 1, SHAPE(4));
  sg_tensor *ones = sg_full(SHAPE(4), 1, 1.0, SG_FLOAT64, sg_cpu_device());
  r = sg_scatter_add(z, 0, id, ones);
  CHECK_VALUES(r, VALS(0, 1, 0, 3), 4, 0);
  sg_release(r);
  CHECK_FAILS(sg_scatter(x, 1, bad, src), "scatter: index 7 out of range for dim 1 of size 5");
  CHECK_FAILS(sg_scatter_add(x, 1, i, NULL), "src");
  sg_tensor *all[] = {x, i, i0, xt, it, bad, big, i1d, src, src3, z, id, ones};
  sg_release_all(all, 13);
}

static void gather_large(void) {
  /* parallel path, 4-D, dim 1 (the topk-backward shape) */
  int64_t N = 2, C = 16, H = 32, W = 32;
  sg_tensor *x = tt_uniform(7, SG_FLOAT32, -1, 1, 4, SHAPE(N, C, H, W));
  sg_tensor *idx = sg_empty(SHAPE(N, 3, H, W), 4, SG_INT64, sg_cpu_device());
  int64_t *ip = sg_data_ptr(idx);
  for (int64_t q = 0; q < sg_numel(idx); q++) ip[q] = (q * 7919) % C;
  sg_tensor *g = sg_gather(x, 1, idx);
  CHECK(g != NULL);
  bool ok = true;
  const float *xp = sg_data_ptr(x);
  for (int64_t n = 0; g && n < N; n++)
    for (int64_t k = 0; k < 3; k++)
      for (int64_t p = 0; p < H * W; p++) {
        int64_t q = (n * 3 + k) * H * W + p;
        if (((float *)sg_data_ptr(g))[q] != xp[(n * C + ip[q]) * H * W + p]) ok = false;
      }
  CHECK(ok);
  /* scatter_add of the gathered values back: each (n, c, p) gets count * x */
  sg_tensor *z = sg_zeros_like(x);
  sg_tensor *s = g ? sg_scatter_add(z, 1, idx, g) : NULL;
  CHECK(s != NULL);
  ok = true;
  for (int64_t n = 0; s && n < N; n++)
    for (int64_t p = 0; p < H * W; p++)
      for (int64_t c = 0; c < C; c++) {
        int cnt = 0;
        for (int64_t k = 0; k < 3; k++) cnt += ip[(n * 3 + k) * H * W + p] == c;
        float want = (float)cnt * xp[(n * C + c) * H * W + p];
        float got = ((float *)sg_data_ptr(s))[(n * C + c) * H * W + p];
        if (fabsf(want - got) > 1e-6f) ok = false;
      }
  CHECK(ok);
  sg_release(x);
  sg_release(idx);
  sg_release(g);
  sg_release(z);
  sg_release(s);
}

/* ---------------- topk / sort ---------------- */

typedef struct {
  double v;
  int64_t i;
} vi;

static int cmp_desc(const void *a, const void *b) {
  const vi *x = a, *y = b;
  bool xn = isnan(x->v), yn = isnan(y->v);
  if (xn != yn) return xn ? -1 : 1;
  if (!xn && x->v != y->v) return x->v > y->v ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

static int cmp_asc(const void *a, const void *b) {
  const vi *x = a, *y = b;
  bool xn = isnan(x->v), yn = isnan(y->v);
  if (xn != yn) return xn ? 1 : -1;
  if (!xn && x->v != y->v) return x->v < y->v ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/* topk along dim of x vs a qsort reference (ties: lower index first). */
static bool topk_matches(sg_tensor *x, int dim, int64_t k, bool largest) {
  sg_tensor *v = NULL, *ix = NULL;
  if (sg_topk(x, k, dim, largest, true, &v, &ix) != SG_OK) return false;
  int64_t outer = 1, n = x->shape[dim], inner = 1;
  for (int d = 0; d < dim; d++) outer *= x->shape[d];
  for (int d = dim + 1; d < x->ndim; d++) inner *= x->shape[d];
  vi *buf = malloc(sizeof(vi) * (size_t)n);
  bool ok = v->shape[dim] == k && ix->dtype == SG_INT64;
  const int64_t *ip = sg_data_ptr(ix);
  for (int64_t o = 0; ok && o < outer; o++)
    for (int64_t p = 0; ok && p < inner; p++) {
      for (int64_t c = 0; c < n; c++) {
        buf[c].v = sg_get_flat(x, (o * n + c) * inner + p);
        buf[c].i = c;
      }
      qsort(buf, (size_t)n, sizeof(vi), largest ? cmp_desc : cmp_asc);
      for (int64_t q = 0; q < k; q++) {
        int64_t at = (o * k + q) * inner + p;
        double got = sg_get_flat(v, at);
        if (ip[at] != buf[q].i || !(got == buf[q].v || (isnan(got) && isnan(buf[q].v)))) {
          fprintf(stderr, "  topk mismatch at row (%lld,%lld) rank %lld: got %g@%lld want %g@%lld\n",
                  (long long)o, (long long)p, (long long)q, got, (long long)ip[at], buf[q].v,
                  (long long)buf[q].i);
          ok = false;
          break;
        }
      }
    }
  free(buf);
  sg_release(v);
  sg_release(ix);
  return ok;
}

static bool sort_matches(sg_tensor *x, int dim, bool desc) {
  sg_tensor *v = NULL, *ix = NULL;
  if (sg_sort(x, dim, desc, &v, &ix) != SG_OK) return false;
  int64_t outer = 1, n = x->shape[dim], inner = 1;
  for (int d = 0; d < dim; d++) outer *= x->shape[d];
  for (int d = dim + 1; d < x->ndim; d++) inner *= x->shape[d];
  vi *buf = malloc(sizeof(vi) * (size_t)n);
  bool ok = sg_same_shape(v, x);
  const int64_t *ip = sg_data_ptr(ix);
  for (int64_t o = 0; ok && o < outer; o++)
    for (int64_t p = 0; ok && p < inner; p++) {
      for (int64_t c = 0; c < n; c++) {
        buf[c].v = sg_get_flat(x, (o * n + c) * inner + p);
        buf[c].i = c;
      }
      qsort(buf, (size_t)n, sizeof(vi), desc ? cmp_desc : cmp_asc);
      for (int64_t q = 0; q < n && ok; q++) {
        int64_t at = (o * n + q) * inner + p;
        double got = sg_get_flat(v, at);
        ok = ip[at] == buf[q].i && (got == buf[q].v || (isnan(got) && isnan(buf[q].v)));
      }
    }
  free(buf);
  sg_release(v);
  sg_release(ix);
  return ok;
}

static void topk_values(void) {
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(1, 5, 3, 5, -2, NAN, 0, 3), 2, SHAPE(2, 4));
  sg_tensor *v = NULL, *i = NULL;
  CHECK_OK(sg_topk(x, 2, 1, true, true, &v, &i));
  /* row 0: 5@1, 5@3 (tie: lower index first); row 1: NaN is the largest */
  if (v && i) {
    CHECK_NEAR(sg_get_flat(v, 0), 5, 0);
    CHECK_NEAR(sg_get_flat(v, 1), 5, 0);
    CHECK_VALUES(i, VALS(1, 3, 1, 3), 4, 0);
    CHECK(isnan(sg_get_flat(v, 2)));
    CHECK_NEAR(sg_get_flat(v, 3), 3, 0);
  }
  sg_release(v);
  sg_release(i);
  CHECK_OK(sg_topk(x, 3, 1, false, true, &v, &i));
  CHECK_VALUES(v, VALS(1, 3, 5, -2, 0, 3), 6, 0);
  CHECK_VALUES(i, VALS(0, 2, 1, 0, 2, 3), 6, 0);
  sg_release(v);
  sg_release(i);
  CHECK_OK(sg_topk(x, 1, 0, true, true, &v, &i));
  CHECK(v && v->shape[0] == 1 && v->shape[1] == 4);
  CHECK_VALUES(i, VALS(0, 1, 0, 0), 4, 0); /* col 1: 5 vs NaN -> NaN@1; col 3: 5 vs 3 */
  sg_release(v);
  sg_release(i);
  CHECK_OK(sg_topk(x, 0, 1, true, true, &v, &i));
  CHECK(v && v->shape[1] == 0);
  sg_release(v);
  sg_release(i);
  CHECK_OK(sg_topk(x, 4, -1, true, false, &v, &i)); /* k = size */
  CHECK(v && v->shape[1] == 4);
  sg_release(v);
  sg_release(i);
  CHECK_STATUS_FAILS(sg_topk(x, 5, 1, true, true, &v, &i),
                     "topk: k = 5 out of range for dim 1 of size 4 (input 2x4)");
  CHECK(v == NULL && i == NULL);
  CHECK_STATUS_FAILS(sg_topk(x, -1, 1, true, true, &v, &i), "topk: k = -1 must be >= 0");
  CHECK_STATUS_FAILS(sg_topk(x, 1, 2, true, true, &v, &i), "topk: dim 2 out of range");
  CHECK_STATUS_FAILS(sg_topk(NULL, 1, 0, true, true, &v, &i), "topk");
  CHECK_STATUS_FAILS(sg_topk(x, 1, 0, true, true, NULL, &i), "output pointer is NULL");
  /* -0 and +0 are equal: the lower index wins */
  sg_tensor *z = tt_from(SG_FLOAT64, VALS(-0.0, 0.0, -1), 1, SHAPE(3));
  CHECK_OK(sg_topk(z, 1, 0, true, true, &v, &i));
  CHECK_VALUES(i, VALS(0), 1, 0);
  sg_release(v);
  sg_release(i);
  sg_release(z);
  sg_release(x);
}

static void topk_random(void) {
  /* N x C x H x W over channels: tile path (k <= 32) and row path (k > 32) */
  sg_tensor *x = tt_uniform(11, SG_FLOAT32, -1, 1, 4, SHAPE(2, 48, 9, 13));
  CHECK(topk_matches(x, 1, 1, true));
  CHECK(topk_matches(x, 1, 5, true));
  CHECK(topk_matches(x, 1, 5, false));
  CHECK(topk_matches(x, 1, 20, true));
  CHECK(topk_matches(x, 1, 40, true));
  CHECK(topk_matches(x, 3, 3, true));
  CHECK(topk_matches(x, 0, 2, false));
  sg_tensor *x100 = sg_mul_scalar(x, 100);
  sg_tensor *x8 = sg_abs(x100);
  sg_tensor *u8 = sg_to_dtype(x8, SG_UINT8);
  sg_release(x100);
  CHECK(topk_matches(u8, 1, 3, true));  /* many ties */
  CHECK(topk_matches(u8, 1, 3, false));
  CHECK(topk_matches(u8, 1, 12, true));
  CHECK(sort_matches(u8, 1, true));
  sg_release(x8);
  sg_release(u8);
  sg_release(x);
  /* quantized values: many ties, plus NaNs */
  sg_tensor *q = tt_uniform(12, SG_FLOAT64, -4, 4, 2, SHAPE(37, 200));
  double *qp = sg_data_ptr(q);
  for (int64_t t = 0; t < sg_numel(q); t++) qp[t] = t % 97 == 0 ? NAN : floor(qp[t]);
  CHECK(topk_matches(q, 1, 7, true));
  CHECK(topk_matches(q, 1, 7, false));
  CHECK(topk_matches(q, 1, 150, true));
  CHECK(topk_matches(q, 0, 20, false));
  sg_tensor *qf = sg_to_dtype(q, SG_FLOAT32);
  CHECK(topk_matches(qf, 1, 9, true));
  CHECK(topk_matches(qf, 1, 60, false));
  sg_tensor *qi = sg_clamp(q, -3, 3); /* NaN stays NaN: replace before int */
  sg_tensor *nn = sg_ne(q, q);
  sg_tensor *qz = sg_masked_fill(qi, nn, 0);
  sg_tensor *q64 = sg_to_dtype(qz, SG_INT64);
  CHECK(topk_matches(q64, 1, 11, true));
  CHECK(topk_matches(q64, 1, 50, false));
  CHECK(sort_matches(q, 1, false));
  CHECK(sort_matches(q, 1, true));
  CHECK(sort_matches(qf, 0, true));
  CHECK(sort_matches(q64, 1, false));
  sg_tensor *all[] = {q, qf, qi, nn, qz, q64};
  sg_release_all(all, 6);
  /* a long row (merge sort over many runs, quickselect) */
  sg_tensor *l = tt_uniform(13, SG_FLOAT32, -10, 10, 1, SHAPE(5000));
  float *lp = sg_data_ptr(l);
  for (int t = 0; t < 5000; t++) lp[t] = roundf(lp[t] * 10.0f); /* ties */
  CHECK(topk_matches(l, 0, 1000, true));
  CHECK(topk_matches(l, 0, 17, false));
  CHECK(sort_matches(l, 0, false));
  CHECK(sort_matches(l, 0, true));
  sg_release(l);
}

static void sort_values(void) {
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(3, 1, NAN, 1, -2, 3), 1, SHAPE(6));
  sg_tensor *v = NULL, *i = NULL;
  CHECK_OK(sg_sort(x, 0, false, &v, &i));
  if (v) {
    CHECK_VALUES(i, VALS(4, 1, 3, 0, 5, 2), 6, 0); /* stable; NaN last */
    CHECK(isnan(sg_get_flat(v, 5)));
    CHECK_NEAR(sg_get_flat(v, 0), -2, 0);
  }
  sg_release(v);
  sg_release(i);
  CHECK_OK(sg_sort(x, -1, true, &v, &i));
  if (v) {
    CHECK_VALUES(i, VALS(2, 0, 5, 1, 3, 4), 6, 0); /* stable descending; NaN first */
  }
  sg_release(v);
  sg_release(i);
  sg_tensor *s = sg_scalar_tensor(4, SG_FLOAT32, sg_cpu_device());
  CHECK_OK(sg_sort(s, 0, false, &v, &i));
  CHECK(v && v->ndim == 0 && sg_get_flat(i, 0) == 0);
  sg_release(v);
  sg_release(i);
  CHECK_STATUS_FAILS(sg_sort(x, 1, false, &v, &i), "sort: dim 1 out of range");
  sg_release(s);
  sg_release(x);
}


static void edge_cases(void) {
  sg_tensor *v = NULL, *i = NULL;
  /* 0-dim topk / gather */
  sg_tensor *s = sg_scalar_tensor(3, SG_FLOAT64, sg_cpu_device());
  CHECK_OK(sg_topk(s, 1, 0, true, true, &v, &i));
  CHECK(v && v->ndim == 0 && sg_get_flat(v, 0) == 3);
  sg_release(v);
  sg_release(i);
  CHECK_STATUS_FAILS(sg_topk(s, 0, 0, true, true, &v, &i), "k = 0 out of range");
  sg_tensor *i0 = sg_zeros(NULL, 0, SG_INT64, sg_cpu_device());
  sg_tensor *r = sg_gather(s, 0, i0);
  CHECK(r && r->ndim == 0 && sg_get_flat(r, 0) == 3);
  sg_release(r);
  /* empty tensors */
  sg_tensor *e = sg_zeros(SHAPE(0), 1, SG_FLOAT32, sg_cpu_device());
  CHECK_OK(sg_sort(e, 0, false, &v, &i));
  CHECK(v && v->shape[0] == 0);
  sg_release(v);
  sg_release(i);
  sg_tensor *e2 = sg_zeros(SHAPE(0, 5), 2, SG_FLOAT32, sg_cpu_device());
  CHECK_OK(sg_topk(e2, 2, 1, true, true, &v, &i));
  CHECK(v && v->shape[0] == 0 && v->shape[1] == 2);
  sg_release(v);
  sg_release(i);
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(1, 2, 3, 4), 2, SHAPE(2, 2));
  sg_tensor *none = sg_zeros(SHAPE(0), 1, SG_INT64, sg_cpu_device());
  r = sg_index_select(x, 1, none);
  CHECK(r && r->shape[0] == 2 && r->shape[1] == 0);
  sg_release(r);
  sg_tensor *ne = sg_zeros(SHAPE(2, 0), 2, SG_INT64, sg_cpu_device());
  r = sg_gather(x, 1, ne);
  CHECK(r && r->shape[1] == 0);
  sg_release(r);
  sg_tensor *ee[2] = {e, e};
  r = sg_cat(ee, 2, 0);
  CHECK(r && r->ndim == 1 && r->shape[0] == 0);
  sg_release(r);
  sg_tensor *outs[2];
  int n = 0;
  CHECK_OK(sg_split(e2, 2, 0, outs, 2, &n));
  CHECK(n == 1 && outs[0]->shape[0] == 0);
  if (n == 1) sg_release(outs[0]);
  sg_tensor *all[] = {s, i0, e, e2, x, none, ne};
  sg_release_all(all, 7);
}

/* ---------------- gradients ---------------- */

typedef struct {
  sg_tensor *index;
  int dim;
  int64_t k;
} gctx;

static sg_tensor *f_cat(sg_tensor **in, int n, void *ctx) {
  (void)ctx;
  return sg_cat(in, n, 1);
}

static sg_tensor *f_stack(sg_tensor **in, int n, void *ctx) {
  (void)ctx;
  sg_tensor *s = sg_stack(in, n, 1);
  /* square so that the second derivative is not zero */
  sg_tensor *r = s ? sg_mul(s, s) : NULL;
  sg_release(s);
  return r;
}

static sg_tensor *f_split(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  sg_tensor *outs[3];
  int m = 0;
  if (sg_split(in[0], 2, 1, outs, 3, &m) != SG_OK) return NULL;
  sg_tensor *a = sg_mul(outs[0], outs[1]);
  sg_tensor *r = sg_mul(a, outs[0]);
  sg_release(a);
  sg_release_all(outs, m);
  return r;
}

static sg_tensor *sq(sg_tensor *t) {
  sg_tensor *r = t ? sg_mul(t, t) : NULL;
  sg_release(t);
  return r;
}

static sg_tensor *f_index_select(sg_tensor **in, int n, void *ctx) {
  (void)n;
  gctx *c = ctx;
  return sq(sg_index_select(in[0], c->dim, c->index));
}

static sg_tensor *f_gather(sg_tensor **in, int n, void *ctx) {
  (void)n;
  gctx *c = ctx;
  return sq(sg_gather(in[0], c->dim, c->index));
}

static sg_tensor *f_scatter(sg_tensor **in, int n, void *ctx) {
  (void)n;
  gctx *c = ctx;
  return sq(sg_scatter(in[0], c->dim, c->index, in[1]));
}

static sg_tensor *f_scatter_add(sg_tensor **in, int n, void *ctx) {
  (void)n;
  gctx *c = ctx;
  return sq(sg_scatter_add(in[0], c->dim, c->index, in[1]));
}

static sg_tensor *f_topk(sg_tensor **in, int n, void *ctx) {
  (void)n;
  gctx *c = ctx;
  sg_tensor *v = NULL, *i = NULL;
  if (sg_topk(in[0], c->k, c->dim, true, true, &v, &i) != SG_OK) return NULL;
  sg_release(i);
  return sq(v);
}

static sg_tensor *f_sort(sg_tensor **in, int n, void *ctx) {
  (void)n;
  gctx *c = ctx;
  sg_tensor *v = NULL, *i = NULL;
  if (sg_sort(in[0], c->dim, true, &v, &i) != SG_OK) return NULL;
  sg_release(i);
  return sq(v);
}

static void gradients(void) {
  sg_tensor *ab[3] = {tt_param(1, -1, 1, 2, SHAPE(2, 3)), tt_param(2, -1, 1, 2, SHAPE(2, 1)),
                      tt_param(3, -1, 1, 2, SHAPE(2, 2))};
  CHECK_GRAD(f_cat, NULL, ab, 3);
  CHECK_GRADGRAD(f_cat, NULL, ab, 3);
  sg_release_all(ab, 3);
  sg_tensor *st[2] = {tt_param(4, -1, 1, 2, SHAPE(2, 3)), tt_param(5, -1, 1, 2, SHAPE(2, 3))};
  CHECK_GRAD(f_stack, NULL, st, 2);
  CHECK_GRADGRAD(f_stack, NULL, st, 2);
  sg_release_all(st, 2);
  sg_tensor *x = tt_param(6, -1, 1, 2, SHAPE(3, 5));
  CHECK_GRAD(f_split, NULL, &x, 1);
  CHECK_GRADGRAD(f_split, NULL, &x, 1);

  gctx c = {idx_from(VALS(4, 0, 4, 2), 1, SHAPE(4)), 1, 0};
  CHECK_GRAD(f_index_select, &c, &x, 1);
  CHECK_GRADGRAD(f_index_select, &c, &x, 1);
  sg_release(c.index);
  c.index = idx_from(VALS(2, 2, 0, 1, 4, 3), 2, SHAPE(3, 2));
  CHECK_GRAD(f_gather, &c, &x, 1);
  CHECK_GRADGRAD(f_gather, &c, &x, 1);
  sg_release(c.index);
  /* scatter: src larger than index in dim 1 (padded src gradient), duplicate
   * targets across rows of dim 0 */
  c.index = idx_from(VALS(1, 2, 0, 2), 2, SHAPE(2, 2));
  c.dim = 0;
  sg_tensor *xs[2] = {x, tt_param(7, -1, 1, 2, SHAPE(2, 3))};
  CHECK_GRAD(f_scatter_add, &c, xs, 2);
  CHECK_GRADGRAD(f_scatter_add, &c, xs, 2);
  sg_release(c.index);
  c.index = idx_from(VALS(1, 2, 0, 0), 2, SHAPE(2, 2)); /* distinct targets */
  CHECK_GRAD(f_scatter, &c, xs, 2);
  CHECK_GRADGRAD(f_scatter, &c, xs, 2);
  sg_release(c.index);
  sg_release(xs[1]);
  c.index = NULL;
  c.dim = 1;
  c.k = 2;
  CHECK_GRAD(f_topk, &c, &x, 1);
  CHECK_GRADGRAD(f_topk, &c, &x, 1);
  c.dim = 0;
  CHECK_GRAD(f_sort, &c, &x, 1);
  CHECK_GRADGRAD(f_sort, &c, &x, 1);
  sg_release(x);
  /* topk over channels of a 4-D tensor */
  sg_tensor *y = tt_param(8, -1, 1, 4, SHAPE(2, 6, 2, 3));
  c.dim = 1;
  c.k = 3;
  CHECK_GRAD(f_topk, &c, &y, 1);
  CHECK_GRADGRAD(f_topk, &c, &y, 1);
  sg_release(y);
}

int main(void) {
  RUN(cat_values);
  RUN(stack_split_values);
  RUN(join_errors);
  RUN(index_select_values);
  RUN(gather_scatter_values);
  RUN(gather_large);
  RUN(topk_values);
  RUN(topk_random);
  RUN(sort_values);
  RUN(edge_cases);
  RUN(gradients);
  return sg_test_finish();
}
