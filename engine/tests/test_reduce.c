/* Reductions: mean, var, std, norm, logsumexp, max/min (dim and all),
 * argmax/argmin. Values against hand computation and PyTorch 1.13
 * (float64, pasted as literals), the parallel / column paths against naive
 * loops, gradients (first and second order) and errors. */
#include <stdlib.h>

#include "harness.h"

static sg_device cpu(void) { return sg_cpu_device(); }

/* sin(0..n-1) reshaped: the inputs the PyTorch literals were computed from */
static sg_tensor *sin_range(sg_dtype dt, int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  sg_tensor *a = sg_arange(0, (double)n, 1, SG_FLOAT64, cpu());
  sg_tensor *s = sg_sin(a);
  sg_tensor *r = sg_reshape(s, shape, ndim);
  sg_tensor *c = sg_to_dtype(r, dt);
  sg_release(a);
  sg_release(s);
  sg_release(r);
  return c;
}

static bool has_shape(const sg_tensor *t, int ndim, const int64_t *shape) {
  if (!t || t->ndim != ndim) return false;
  for (int i = 0; i < ndim; i++)
    if (t->shape[i] != shape[i]) return false;
  return true;
}

/* ---------------- values ---------------- */

static void mean_values(void) {
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(1, 2, 3, 4, 5, 6), 2, SHAPE(2, 3));
  sg_tensor *r = sg_mean(x, NULL, 0, false);
  CHECK(r && r->ndim == 0);
  CHECK_VALUES(r, VALS(3.5), 1, 1e-6);
  sg_release(r);
  r = sg_mean(x, (const int[]){0}, 1, false);
  CHECK(has_shape(r, 1, SHAPE(3)));
  CHECK_VALUES(r, VALS(2.5, 3.5, 4.5), 3, 1e-6);
  sg_release(r);
  r = sg_mean(x, (const int[]){-1}, 1, true);
  CHECK(has_shape(r, 2, SHAPE(2, 1)));
  CHECK_VALUES(r, VALS(2, 5), 2, 1e-6);
  sg_release(r);
  sg_tensor *e = sg_zeros(SHAPE(0, 3), 2, SG_FLOAT64, cpu());
  r = sg_mean(e, (const int[]){0}, 1, false); /* empty: nan, as PyTorch */
  CHECK_VALUES(r, VALS(NAN, NAN, NAN), 3, 0);
  sg_release(r);
  sg_release(e);
  sg_release(x);
}

static void var_std_values(void) {
  sg_tensor *x = tt_from(SG_FLOAT64, VALS(1, 2, 3, 4, 5, 6), 2, SHAPE(2, 3));
  sg_tensor *r = sg_var(x, NULL, 0, 1, false);
  CHECK_VALUES(r, VALS(3.5), 1, 1e-12);
  sg_release(r);
  r = sg_var(x, NULL, 0, 0, false);
  CHECK_VALUES(r, VALS(17.5 / 6), 1, 1e-12);
  sg_release(r);
  r = sg_var(x, (const int[]){1}, 1, 1, false);
  CHECK_VALUES(r, VALS(1, 1), 2, 1e-12);
  sg_release(r);
  r = sg_std(x, (const int[]){0}, 1, 0, true);
  CHECK(has_shape(r, 2, SHAPE(1, 3)));
  CHECK_VALUES(r, VALS(1.5, 1.5, 1.5), 3, 1e-12);
  sg_release(r);
  sg_release(x);
  /* non-block dims (0, 2) of 2x3x4 need the permuted copy; PyTorch values */
  sg_tensor *y = sin_range(SG_FLOAT64, 3, SHAPE(2, 3, 4));
  r = sg_var(y, (const int[]){0, 2}, 2, 1, false);
  CHECK_VALUES(r, VALS(0.28064050368165433, 0.3321055886065323, 0.6605075416862158), 3, 1e-12);
  sg_release(r);
  r = sg_var(y, (const int[]){2, 0}, 2, 0, true);
  CHECK(has_shape(r, 3, SHAPE(1, 3, 1)));
  CHECK_VALUES(r, VALS(0.24556044072144753, 0.29059239003071574, 0.5779440989754389), 3, 1e-12);
  sg_release(r);
  r = sg_std(y, (const int[]){1}, 1, 1, false); /* column layout (I = 4) */
  CHECK(has_shape(r, 2, SHAPE(2, 4)));
  CHECK_VALUES(r,
               VALS(0.8756575713645244, 0.9403478885229214, 0.7740789495107566,
                    0.8479212811780482, 0.7751318999488765, 0.9412029857342523,
                    0.8739598705562288, 0.7618134264984741),
               8, 1e-12);
  sg_release(r);
  /* float32 agrees */
  sg_tensor *y32 = sin_range(SG_FLOAT32, 3, SHAPE(2, 3, 4));
  r = sg_var(y32, (const int[]){0, 2}, 2, 1, false);
  CHECK(r && r->dtype == SG_FLOAT32);
  CHECK_VALUES(r, VALS(0.28064050368165433, 0.3321055886065323, 0.6605075416862158), 3, 1e-6);
  sg_release(r);
  sg_release(y32);
  sg_release(y);
  /* size-1 dims inside and outside the reduced block */
  sg_tensor *z = sin_range(SG_FLOAT64, 3, SHAPE(3, 1, 4));
  sg_tensor *za = sg_var(z, NULL, 0, 1, false);
  r = sg_var(z, (const int[]){0, 2}, 2, 1, false);
  CHECK(has_shape(r, 1, SHAPE(1)));
  if (r && za) CHECK_NEAR(sg_get_flat(r, 0), sg_get_flat(za, 0), 1e-15);
  sg_release(r);
  r = sg_var(z, (const int[]){1}, 1, 0, false); /* one element per output: 0 */
  CHECK(has_shape(r, 2, SHAPE(3, 4)));
  CHECK_VALUES(r, VALS(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 12, 0);
  sg_release(r);
  sg_release(za);
  sg_release(z);
  /* one element with correction 1: nan (PyTorch) */
  sg_tensor *one = tt_from(SG_FLOAT64, VALS(2), 1, SHAPE(1));
  r = sg_var(one, NULL, 0, 1, false);
  CHECK_VALUES(r, VALS(NAN), 1, 0);
  sg_release(r);
  sg_release(one);
}

static void norm_values(void) {
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(3, -4, 0, -12), 2, SHAPE(2, 2));
  sg_tensor *r = sg_norm(x, 2, NULL, 0, false);
  CHECK_VALUES(r, VALS(13), 1, 1e-5);
  sg_release(r);
  r = sg_norm(x, 1, (const int[]){1}, 1, false);
  CHECK_VALUES(r, VALS(7, 12), 2, 1e-6);
  sg_release(r);
  r = sg_norm(x, INFINITY, (const int[]){0}, 1, true);
  CHECK(has_shape(r, 2, SHAPE(1, 2)));
  CHECK_VALUES(r, VALS(3, 12), 2, 0);
  sg_release(r);
  sg_release(x);
  sg_tensor *y = sin_range(SG_FLOAT64, 3, SHAPE(2, 3, 4));
  r = sg_norm(y, 3, (const int[]){0, 2}, 2, false);
  CHECK_VALUES(r, VALS(1.413841923080906, 1.4358098656231884, 1.6072484791251926), 3, 1e-12);
  sg_release(r);
  r = sg_norm(y, INFINITY, (const int[]){1}, 1, false);
  CHECK_VALUES(r,
               VALS(0.9893582466233818, 0.9589242746631385, 0.9092974268256817,
                    0.9999902065507035, 0.9129452507276277, 0.9613974918795568,
                    0.9906073556948704, 0.8462204041751706),
               8, 1e-12);
  sg_release(r);
  r = sg_norm(y, 2, NULL, 0, false);
  CHECK_VALUES(r, VALS(3.422467907290142), 1, 1e-12);
  sg_release(r);
  r = sg_norm(y, 0.5, (const int[]){2}, 1, false);
  CHECK_VALUES(r,
               VALS(5.04697606890129, 10.165483389750811, 11.38524193032822, 10.127740855678535,
                    7.677388078591864, 8.31834597624823),
               6, 1e-10);
  sg_release(r);
  sg_release(y);
}

static void logsumexp_values(void) {
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(1, 2, 3, 1000, 1000, 1000), 2, SHAPE(2, 3));
  sg_tensor *r = sg_logsumexp(x, (const int[]){1}, 1, false);
  CHECK_VALUES(r, VALS(3.40760596444438, 1000 + 1.0986122886681098), 2, 1e-4);
  sg_release(r);
  sg_release(x);
  sg_tensor *m = tt_from(SG_FLOAT64, VALS(-INFINITY, -INFINITY, 1, -INFINITY), 2, SHAPE(2, 2));
  r = sg_logsumexp(m, (const int[]){1}, 1, false);
  CHECK_VALUES(r, VALS(-INFINITY, 1), 2, 1e-15);
  sg_release(r);
  sg_release(m);
  sg_tensor *y = sin_range(SG_FLOAT64, 3, SHAPE(2, 3, 4));
  r = sg_logsumexp(y, (const int[]){0, 2}, 2, false);
  CHECK_VALUES(r, VALS(2.6151922225483397, 1.8410970864011362, 2.430830414331407), 3, 1e-12);
  sg_release(r);
  sg_tensor *y10 = sg_mul_scalar(y, 10);
  r = sg_logsumexp(y10, (const int[]){1}, 1, true);
  CHECK(has_shape(r, 3, SHAPE(2, 1, 4)));
  CHECK_VALUES(r,
               VALS(9.893632988765509, 8.428274151265082, 9.092981634482312, 6.575598950720765,
                    9.129459106333293, 8.381968506762577, 9.906119229579408, 6.509566637807575),
               8, 1e-12);
  sg_release(r);
  sg_tensor *y32 = sg_to_dtype(y10, SG_FLOAT32);
  r = sg_logsumexp(y32, (const int[]){1}, 1, false);
  CHECK_VALUES(r,
               VALS(9.893632988765509, 8.428274151265082, 9.092981634482312, 6.575598950720765,
                    9.129459106333293, 8.381968506762577, 9.906119229579408, 6.509566637807575),
               8, 1e-5);
  sg_release(r);
  sg_release(y32);
  sg_release(y10);
  sg_release(y);
}

static void max_min_values(void) {
  /* ties keep the first index; NaN wins (PyTorch) */
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(1, 3, 3, 2, -1, 7, 7, 0), 2, SHAPE(2, 4));
  sg_tensor *v = NULL, *i = NULL;
  CHECK_OK(sg_max_dim(x, 1, false, &v, &i));
  CHECK(has_shape(v, 1, SHAPE(2)) && i && i->dtype == SG_INT64);
  CHECK_VALUES(v, VALS(3, 7), 2, 0);
  CHECK_VALUES(i, VALS(1, 1), 2, 0);
  sg_release(v);
  sg_release(i);
  CHECK_OK(sg_min_dim(x, -1, true, &v, &i));
  CHECK(has_shape(v, 2, SHAPE(2, 1)) && has_shape(i, 2, SHAPE(2, 1)));
  CHECK_VALUES(v, VALS(1, -1), 2, 0);
  CHECK_VALUES(i, VALS(0, 0), 2, 0);
  sg_release(v);
  sg_release(i);
  CHECK_OK(sg_max_dim(x, 0, false, &v, &i)); /* column layout */
  CHECK_VALUES(v, VALS(1, 7, 7, 2), 4, 0);
  CHECK_VALUES(i, VALS(0, 1, 1, 0), 4, 0);
  sg_release(v);
  sg_release(i);
  sg_release(x);
  sg_tensor *n = tt_from(SG_FLOAT64, VALS(1, NAN, 3, 2, 5, NAN), 2, SHAPE(2, 3));
  CHECK_OK(sg_max_dim(n, 1, false, &v, &i));
  CHECK_VALUES(v, VALS(NAN, NAN), 2, 0);
  CHECK_VALUES(i, VALS(1, 2), 2, 0);
  sg_release(v);
  sg_release(i);
  CHECK_OK(sg_min_dim(n, 0, false, &v, &i));
  CHECK_VALUES(v, VALS(1, NAN, NAN), 3, 0);
  CHECK_VALUES(i, VALS(0, 0, 1), 3, 0);
  sg_release(v);
  sg_release(i);
  sg_tensor *a = sg_argmax(n, SG_ALL_DIMS, false);
  CHECK(a && a->ndim == 0);
  CHECK_VALUES(a, VALS(1), 1, 0);
  sg_release(a);
  v = sg_max_all(n);
  CHECK_VALUES(v, VALS(NAN), 1, 0);
  sg_release(v);
  sg_release(n);
  /* integers, uint8, bool */
  sg_tensor *k = tt_from(SG_INT64, VALS(5, -2, 9, 9, 0, -7), 2, SHAPE(3, 2));
  CHECK_OK(sg_max_dim(k, 0, false, &v, &i));
  CHECK(v && v->dtype == SG_INT64);
  CHECK_VALUES(v, VALS(9, 9), 2, 0);
  CHECK_VALUES(i, VALS(1, 1), 2, 0);
  sg_release(v);
  sg_release(i);
  v = sg_min_all(k);
  CHECK(v && v->dtype == SG_INT64 && v->ndim == 0);
  CHECK_VALUES(v, VALS(-7), 1, 0);
  sg_release(v);
  a = sg_argmin(k, SG_ALL_DIMS, true);
  CHECK(has_shape(a, 2, SHAPE(1, 1)));
  CHECK_VALUES(a, VALS(5), 1, 0);
  sg_release(a);
  a = sg_argmax(k, 1, false);
  CHECK_VALUES(a, VALS(0, 0, 0), 3, 0);
  sg_release(a);
  sg_release(k);
  sg_tensor *u = tt_from(SG_UINT8, VALS(3, 200, 7, 1), 1, SHAPE(4));
  v = sg_max_all(u);
  CHECK(v && v->dtype == SG_UINT8);
  CHECK_VALUES(v, VALS(200), 1, 0);
  sg_release(v);
  sg_release(u);
  sg_tensor *b = tt_from(SG_BOOL, VALS(0, 0, 1, 0, 0, 0), 2, SHAPE(2, 3));
  a = sg_argmax(b, 1, false);
  CHECK_VALUES(a, VALS(2, 0), 2, 0);
  sg_release(a);
  v = sg_max_all(b);
  CHECK(v && v->dtype == SG_BOOL);
  CHECK_VALUES(v, VALS(1), 1, 0);
  sg_release(v);
  sg_release(b);
  /* a 0-dim input: max over dim 0 is the value, index 0 */
  sg_tensor *s = sg_scalar_tensor(4.5, SG_FLOAT32, cpu());
  CHECK_OK(sg_max_dim(s, 0, false, &v, &i));
  CHECK(v && v->ndim == 0 && i && i->ndim == 0);
  CHECK_VALUES(v, VALS(4.5), 1, 0);
  CHECK_VALUES(i, VALS(0), 1, 0);
  sg_release(v);
  sg_release(i);
  sg_release(s);
  /* a non-contiguous input (transposed) */
  sg_tensor *y = tt_from(SG_FLOAT64, VALS(1, 8, 3, 4, 5, 6), 2, SHAPE(2, 3));
  sg_tensor *t = sg_transpose(y, 0, 1); /* 3x2: [[1,4],[8,5],[3,6]] */
  CHECK_OK(sg_max_dim(t, 0, false, &v, &i));
  CHECK_VALUES(v, VALS(8, 6), 2, 0);
  CHECK_VALUES(i, VALS(1, 2), 2, 0);
  sg_release(v);
  sg_release(i);
  sg_release(t);
  sg_release(y);
}

/* Large inputs take the parallel row, long-row and column-block paths;
 * compare with naive loops. */
static void large_paths(void) {
  int64_t n = 300001;
  sg_tensor *x = tt_uniform(7, SG_FLOAT32, -1, 1, 1, SHAPE(n));
  float *p = sg_data_ptr(x);
  p[123457] = 5.0f;
  p[250000] = 5.0f; /* tie: the first index wins across chunks */
  p[777] = -3.0f;
  sg_tensor *r = sg_max_all(x);
  CHECK_VALUES(r, VALS(5), 1, 0);
  sg_release(r);
  r = sg_argmax(x, SG_ALL_DIMS, false);
  CHECK_VALUES(r, VALS(123457), 1, 0);
  sg_release(r);
  r = sg_argmin(x, 0, false);
  CHECK_VALUES(r, VALS(777), 1, 0);
  sg_release(r);
  double s = 0, q = 0, a2 = 0, amax = 0, m = -INFINITY;
  for (int64_t j = 0; j < n; j++) s += p[j];
  double mu = s / (double)n;
  for (int64_t j = 0; j < n; j++) {
    q += (p[j] - mu) * (p[j] - mu);
    a2 += (double)p[j] * p[j];
    amax = fabs(p[j]) > amax ? fabs(p[j]) : amax;
    m = p[j] > m ? p[j] : m;
  }
  double se = 0;
  for (int64_t j = 0; j < n; j++) se += exp(p[j] - m);
  r = sg_var(x, NULL, 0, 1, false);
  CHECK_VALUES(r, VALS(q / (double)(n - 1)), 1, 1e-6);
  sg_release(r);
  r = sg_norm(x, 2, NULL, 0, false);
  CHECK_VALUES(r, VALS(sqrt(a2)), 1, 1e-3);
  sg_release(r);
  r = sg_norm(x, INFINITY, NULL, 0, false);
  CHECK_VALUES(r, VALS(amax), 1, 0);
  sg_release(r);
  r = sg_logsumexp(x, NULL, 0, false);
  CHECK_VALUES(r, VALS(m + log(se)), 1, 1e-4);
  sg_release(r);
  r = sg_mean(x, NULL, 0, false);
  CHECK_VALUES(r, VALS(mu), 1, 1e-6);
  sg_release(r);
  sg_release(x);

  /* columns: 3 x 500 x 150 reduced over the middle dim (I = 150 spans
   * several LANES blocks, with a partial last one) */
  int64_t O = 3, N = 500, I = 150;
  sg_tensor *y = tt_uniform(9, SG_FLOAT64, -2, 2, 3, SHAPE(O, N, I));
  double *py = sg_data_ptr(y);
  sg_tensor *v = NULL, *ix = NULL;
  CHECK_OK(sg_min_dim(y, 1, false, &v, &ix));
  sg_tensor *sd = sg_std(y, (const int[]){1}, 1, 0, false);
  sg_tensor *ls = sg_logsumexp(y, (const int[]){1}, 1, false);
  sg_tensor *n3 = sg_norm(y, 3, (const int[]){1}, 1, false);
  bool ok = v && ix && sd && ls && n3;
  for (int64_t o = 0; ok && o < O; o++)
    for (int64_t i = 0; ok && i < I; i++) {
      double b = INFINITY, sm = 0, sq = 0, mx = -INFINITY, se2 = 0, s3 = 0;
      int64_t bi = 0;
      for (int64_t k = 0; k < N; k++) {
        double e = py[(o * N + k) * I + i];
        if (e < b) {
          b = e;
          bi = k;
        }
        sm += e;
        mx = e > mx ? e : mx;
        s3 += pow(fabs(e), 3);
      }
      for (int64_t k = 0; k < N; k++) {
        double e = py[(o * N + k) * I + i];
        sq += (e - sm / N) * (e - sm / N);
        se2 += exp(e - mx);
      }
      int64_t at = o * I + i;
      ok = ok && sg_get_flat(v, at) == b && sg_get_flat(ix, at) == (double)bi;
      ok = ok && fabs(sg_get_flat(sd, at) - sqrt(sq / N)) < 1e-12;
      ok = ok && fabs(sg_get_flat(ls, at) - (mx + log(se2))) < 1e-12;
      ok = ok && fabs(sg_get_flat(n3, at) - cbrt(s3)) < 1e-10;
    }
  CHECK(ok);
  sg_release(v);
  sg_release(ix);
  sg_release(sd);
  sg_release(ls);
  sg_release(n3);
  sg_release(y);
}

/* ---------------- gradients ---------------- */

typedef struct {
  int dims[4];
  int ndims;
  int correction;
  bool keepdim;
  double p;
  int which;
} rctx;

static sg_tensor *f_mean(sg_tensor **in, int n, void *c) {
  (void)n;
  rctx *k = c;
  return sg_mean(in[0], k->dims, k->ndims, k->keepdim);
}

static sg_tensor *f_var(sg_tensor **in, int n, void *c) {
  (void)n;
  rctx *k = c;
  return sg_var(in[0], k->dims, k->ndims, k->correction, k->keepdim);
}

static sg_tensor *f_std(sg_tensor **in, int n, void *c) {
  (void)n;
  rctx *k = c;
  return sg_std(in[0], k->dims, k->ndims, k->correction, k->keepdim);
}

static sg_tensor *f_norm(sg_tensor **in, int n, void *c) {
  (void)n;
  rctx *k = c;
  return sg_norm(in[0], k->p, k->dims, k->ndims, k->keepdim);
}

static sg_tensor *f_lse(sg_tensor **in, int n, void *c) {
  (void)n;
  rctx *k = c;
  return sg_logsumexp(in[0], k->dims, k->ndims, k->keepdim);
}

static sg_tensor *f_maxdim(sg_tensor **in, int n, void *c) {
  (void)n;
  rctx *k = c;
  sg_tensor *v = NULL, *i = NULL;
  sg_status st = k->which ? sg_min_dim(in[0], k->dims[0], k->keepdim, &v, &i)
                          : sg_max_dim(in[0], k->dims[0], k->keepdim, &v, &i);
  sg_release(i);
  return st == SG_OK ? v : NULL;
}

static sg_tensor *f_maxall(sg_tensor **in, int n, void *c) {
  (void)n;
  rctx *k = c;
  return k->which ? sg_min_all(in[0]) : sg_max_all(in[0]);
}

/* a reduction of a reduction, so the second derivative is not trivial */
static sg_tensor *f_square_of(sg_tensor *(*f)(sg_tensor **, int, void *), sg_tensor **in,
                              void *c) {
  sg_tensor *r = f(in, 1, c);
  sg_tensor *s = r ? sg_mul(r, r) : NULL;
  sg_release(r);
  return s;
}
static sg_tensor *f_mean_sq(sg_tensor **in, int n, void *c) { (void)n; return f_square_of(f_mean, in, c); }
static sg_tensor *f_maxdim_sq(sg_tensor **in, int n, void *c) { (void)n; return f_square_of(f_maxdim, in, c); }
static sg_tensor *f_maxall_sq(sg_tensor **in, int n, void *c) { (void)n; return f_square_of(f_maxall, in, c); }

static void reduce_gradients(void) {
  sg_tensor *x = tt_param(11, -1.5, 1.5, 3, SHAPE(2, 3, 4));
  const rctx cases[] = {
      {{0}, 0, 1, false, 2, 0},         /* all dims */
      {{1}, 1, 1, false, 2, 0},         /* column layout */
      {{-1}, 1, 0, true, 2, 0},         /* rows, keepdim */
      {{0, 2}, 2, 1, false, 3, 0},      /* non-block: permuted copy */
      {{2, 1}, 2, 0, true, 0.5, 0},     /* block of two dims */
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    rctx c = cases[k];
    CHECK_GRAD(f_mean, &c, &x, 1);
    CHECK_GRADGRAD(f_mean_sq, &c, &x, 1);
    CHECK_GRAD(f_var, &c, &x, 1);
    CHECK_GRADGRAD(f_var, &c, &x, 1);
    CHECK_GRAD(f_std, &c, &x, 1);
    CHECK_GRADGRAD(f_std, &c, &x, 1);
    CHECK_GRAD(f_lse, &c, &x, 1);
    CHECK_GRADGRAD(f_lse, &c, &x, 1);
    CHECK_GRAD(f_norm, &c, &x, 1); /* p = 2, 3 or 0.5 */
    c.p = 2;
    CHECK_GRADGRAD(f_norm, &c, &x, 1);
    c.p = 1;
    CHECK_GRAD(f_norm, &c, &x, 1);
    c.p = INFINITY;
    CHECK_GRAD(f_norm, &c, &x, 1);
    c.p = 3;
    CHECK_GRADGRAD(f_norm, &c, &x, 1);
  }
  for (int which = 0; which < 2; which++)
    for (int d = -1; d < 3; d++)
      for (int kd = 0; kd < 2; kd++) {
        rctx c = {{d}, 1, 0, kd, 0, which};
        CHECK_GRAD(f_maxdim, &c, &x, 1);
        CHECK_GRADGRAD(f_maxdim_sq, &c, &x, 1);
      }
  for (int which = 0; which < 2; which++) {
    rctx c = {{0}, 0, 0, false, 0, which};
    CHECK_GRAD(f_maxall, &c, &x, 1);
    CHECK_GRADGRAD(f_maxall_sq, &c, &x, 1);
  }
  sg_release(x);
}

/* ties: max_all / inf-norm share the gradient evenly, max_dim gives it to
 * the first index (PyTorch 1.13 values) */
static void tie_gradients(void) {
  sg_tensor *x = tt_from(SG_FLOAT64, VALS(1, 3, 3, 2), 1, SHAPE(4));
  CHECK_OK(sg_set_requires_grad(x, true));
  sg_tensor *m = sg_max_all(x);
  CHECK_OK(sg_backward(&m, NULL, 1, false, false));
  CHECK_VALUES(x->grad, VALS(0, 0.5, 0.5, 0), 4, 0);
  sg_release(m);
  sg_set_grad(x, NULL);
  sg_tensor *v = NULL, *i = NULL;
  CHECK_OK(sg_max_dim(x, 0, false, &v, &i));
  CHECK_OK(sg_backward(&v, NULL, 1, false, false));
  CHECK_VALUES(x->grad, VALS(0, 1, 0, 0), 4, 0);
  CHECK_VALUES(i, VALS(1), 1, 0);
  sg_release(v);
  sg_release(i);
  sg_release(x);
  sg_tensor *y = tt_from(SG_FLOAT64, VALS(1, -3, 3, 2), 1, SHAPE(4));
  CHECK_OK(sg_set_requires_grad(y, true));
  sg_tensor *nrm = sg_norm(y, INFINITY, NULL, 0, false);
  CHECK_OK(sg_backward(&nrm, NULL, 1, false, false));
  CHECK_VALUES(y->grad, VALS(0, -0.5, 0.5, 0), 4, 0);
  sg_release(nrm);
  sg_set_grad(y, NULL);
  /* norm(p=2) of zeros: gradient 0, not nan (PyTorch) */
  sg_tensor *z = sg_zeros(SHAPE(3), 1, SG_FLOAT64, cpu());
  CHECK_OK(sg_set_requires_grad(z, true));
  nrm = sg_norm(z, 2, NULL, 0, false);
  CHECK_OK(sg_backward(&nrm, NULL, 1, false, false));
  CHECK_VALUES(z->grad, VALS(0, 0, 0), 3, 0);
  sg_release(nrm);
  sg_release(z);
  sg_release(y);
}

/* ---------------- errors ---------------- */

static void errors(void) {
  sg_tensor *x = sg_zeros(SHAPE(2, 3), 2, SG_FLOAT32, cpu());
  sg_tensor *k = sg_zeros(SHAPE(2, 3), 2, SG_INT64, cpu());
  sg_tensor *e = sg_zeros(SHAPE(2, 0), 2, SG_FLOAT32, cpu());
  sg_tensor *v = NULL, *i = NULL;
  CHECK_FAILS(sg_mean(NULL, NULL, 0, false), "mean: argument `input` is missing");
  CHECK_FAILS(sg_mean(k, NULL, 0, false), "mean: expected a float tensor (float32 or float64), got int64");
  CHECK_FAILS(sg_var(k, NULL, 0, 1, false), "var: expected a float tensor");
  CHECK_FAILS(sg_std(k, NULL, 0, 1, false), "std: expected a float tensor");
  CHECK_FAILS(sg_logsumexp(k, NULL, 0, false), "logsumexp: expected a float tensor");
  CHECK_FAILS(sg_mean(x, (const int[]){2}, 1, false), "mean: dim 2 out of range for a tensor with 2 dims");
  CHECK_FAILS(sg_var(x, (const int[]){1, -1}, 2, 1, false), "var: dim -1 listed twice");
  CHECK_FAILS(sg_norm(x, 0, NULL, 0, false), "norm: p = 0 is not supported");
  CHECK_FAILS(sg_norm(x, -INFINITY, NULL, 0, false), "expected p > 0");
  CHECK_FAILS(sg_norm(e, INFINITY, (const int[]){1}, 1, false), "norm: the infinity norm over an empty reduction (input 2x0)");
  CHECK_FAILS(sg_logsumexp(x, (const int[]){-3}, 1, false), "logsumexp: dim -3 out of range");
  CHECK_STATUS_FAILS(sg_max_dim(x, 2, false, &v, &i), "max: dim 2 out of range");
  CHECK(v == NULL && i == NULL);
  CHECK_STATUS_FAILS(sg_min_dim(e, 1, false, &v, &i), "min: cannot reduce over dim 1 of size 0 (input 2x0)");
  CHECK_STATUS_FAILS(sg_max_dim(NULL, 0, false, &v, &i), "max: argument `input` is missing");
  CHECK_STATUS_FAILS(sg_max_dim(x, 0, false, NULL, NULL), "both output pointers");
  CHECK_FAILS(sg_max_all(e), "max: the input (2x0) is empty");
  CHECK_FAILS(sg_argmin(e, SG_ALL_DIMS, false), "argmin: the input (2x0) is empty");
  CHECK_FAILS(sg_argmax(x, 5, false), "argmax: dim 5 out of range");
  /* reductions that are fine on empty inputs */
  sg_tensor *r = sg_norm(e, 2, (const int[]){1}, 1, false);
  CHECK_VALUES(r, VALS(0, 0), 2, 0);
  sg_release(r);
  r = sg_logsumexp(e, (const int[]){1}, 1, false);
  CHECK_VALUES(r, VALS(-INFINITY, -INFINITY), 2, 0);
  sg_release(r);
  r = sg_max_all(x); /* integer-free control: works */
  CHECK_VALUES(r, VALS(0), 1, 0);
  sg_release(r);
  sg_release(x);
  sg_release(k);
  sg_release(e);
}

int main(void) {
  RUN(mean_values);
  RUN(var_std_values);
  RUN(norm_values);
  RUN(logsumexp_values);
  RUN(max_min_values);
  RUN(large_paths);
  RUN(reduce_gradients);
  RUN(tie_gradients);
  RUN(errors);
  return sg_test_finish();
}
