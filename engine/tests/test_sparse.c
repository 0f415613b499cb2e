/* Sparsity projections and thresholds: values by hand (ties, negatives,
 * k = all, fractions), invariants on random inputs (exactly k kept per
 * sample / needle, the kept are the largest, ties to the lower index),
 * gradients (first and second order) and error messages. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void l0_values(void) {
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(3, -1, 2, -5, 0.5, 0.5, -0.5, 0.1), 2, SHAPE(2, 4));
  sg_tensor *r = sg_l0_project(x, 2);
  /* row 1: three entries of |0.5|; the two with the lower indices stay */
  CHECK_VALUES(r, VALS(3, 0, 0, -5, 0.5, 0.5, 0, 0), 8, 0);
  sg_release(r);
  sg_tensor *m = sg_l0_mask(x, 2);
  CHECK(m && m->dtype == SG_BOOL);
  CHECK_VALUES(m, VALS(1, 0, 0, 1, 1, 1, 0, 0), 8, 0);
  sg_release(m);
  r = sg_l0_project(x, 0.5); /* ceil(0.5 * 4) = 2 */
  CHECK_VALUES(r, VALS(3, 0, 0, -5, 0.5, 0.5, 0, 0), 8, 0);
  sg_release(r);
  r = sg_l0_project(x, 0.3); /* ceil(1.2) = 2 */
  CHECK_VALUES(r, VALS(3, 0, 0, -5, 0.5, 0.5, 0, 0), 8, 0);
  sg_release(r);
  r = sg_l0_project(x, 0.1); /* ceil(0.4) = 1 */
  CHECK_VALUES(r, VALS(0, 0, 0, -5, 0.5, 0, 0, 0), 8, 0);
  sg_release(r);
  r = sg_l0_project(x, 0.75); /* exactly 3 (no rounding up past it) */
  CHECK_VALUES(r, VALS(3, 0, 2, -5, 0.5, 0.5, -0.5, 0), 8, 0);
  sg_release(r);
  r = sg_l0_project(x, 4); /* k = size keeps everything */
  CHECK_VALUES(r, VALS(3, -1, 2, -5, 0.5, 0.5, -0.5, 0.1), 8, 1e-7);
  sg_release(r);
  m = sg_l0_mask(x, 4);
  CHECK_VALUES(m, VALS(1, 1, 1, 1, 1, 1, 1, 1), 8, 0);
  sg_release(m);
  /* 3-D: per sample over both remaining dims; NaN counts as largest */
  sg_tensor *y = tt_from(SG_FLOAT64, VALS(1, -4, 2, 3, NAN, -1, 0, 7), 3, SHAPE(2, 2, 2));
  r = sg_l0_project(y, 1);
  CHECK(r != NULL);
  if (r) {
    CHECK_NEAR(sg_get_flat(r, 1), -4, 0);
    CHECK_NEAR(sg_get_flat(r, 0) + sg_get_flat(r, 2) + sg_get_flat(r, 3), 0, 0);
    CHECK(isnan(sg_get_flat(r, 4)));
    CHECK_NEAR(sg_get_flat(r, 7), 0, 0);
  }
  sg_release(r);
  sg_release(y);
  sg_release(x);
}

static void l0inf_values(void) {
  /* N=1, C=3, H=1, W=3: needles are columns */
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(1, -7, 2,   /* c0 */
                                         -3, 2, 2,    /* c1 */
                                         2, 0, -2),   /* c2 */
                         4, SHAPE(1, 3, 1, 3));
  sg_tensor *r = sg_l0inf_project(x, 1, 1);
  /* col0: |-3| wins; col1: |-7|; col2: three 2s -> c0 (lowest index) */
  CHECK_VALUES(r, VALS(0, -7, 2, -3, 0, 0, 0, 0, 0), 9, 0);
  sg_release(r);
  r = sg_l0inf_project(x, 2, 1);
  CHECK_VALUES(r, VALS(0, -7, 2, -3, 2, 2, 2, 0, 0), 9, 0);
  sg_release(r);
  sg_tensor *m = sg_l0inf_mask(x, 2, -3);
  CHECK(m && m->dtype == SG_BOOL);
  CHECK_VALUES(m, VALS(0, 1, 1, 1, 1, 1, 1, 0, 0), 9, 0);
  sg_release(m);
  r = sg_l0inf_project(x, 3, 1); /* k = C keeps everything */
  CHECK_VALUES(r, VALS(1, -7, 2, -3, 2, 2, 2, 0, -2), 9, 0);
  sg_release(r);
  /* along the last dim */
  r = sg_l0inf_project(x, 1, 3);
  CHECK_VALUES(r, VALS(0, -7, 0, -3, 0, 0, 2, 0, 0), 9, 0);
  sg_release(r);
  sg_release(x);
}

/* Checks the invariants of a mask over [outer, n, inner] groups: exactly k
 * kept per group, every kept |x| >= every dropped |x|, and among entries
 * equal to the smallest kept magnitude the kept ones come first. */
static bool mask_ok(const sg_tensor *x, const sg_tensor *mask, const sg_tensor *proj,
                    int64_t outer, int64_t n, int64_t inner, int64_t k) {
  const uint8_t *mp = sg_data_ptr(mask);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t p = 0; p < inner; p++) {
      int64_t cnt = 0, nz = 0;
      double min_kept = INFINITY, max_drop = -1;
      for (int64_t c = 0; c < n; c++) {
        int64_t at = (o * n + c) * inner + p;
        double a = fabs(sg_get_flat(x, at));
        if (mp[at]) {
          cnt++;
          if (a < min_kept) min_kept = a;
        } else if (a > max_drop) {
          max_drop = a;
        }
        double pv = sg_get_flat(proj, at);
        if (pv != 0) nz++;
        if (pv != (mp[at] ? sg_get_flat(x, at) : 0)) return false;
      }
      if (cnt != k || nz > k || min_kept < max_drop) {
        fprintf(stderr, "  group (%lld,%lld): kept %lld (nz %lld), want %lld; min kept %g, max "
                "dropped %g\n", (long long)o, (long long)p, (long long)cnt, (long long)nz,
                (long long)k, min_kept, max_drop);
        return false;
      }
      bool seen_drop = false; /* ties: kept before dropped in index order */
      for (int64_t c = 0; c < n; c++) {
        int64_t at = (o * n + c) * inner + p;
        if (fabs(sg_get_flat(x, at)) != min_kept) continue;
        if (!mp[at]) seen_drop = true;
        else if (seen_drop) return false;
      }
    }
  return true;
}

static sg_tensor *quantized(uint64_t seed, sg_dtype dt, int ndim, const int64_t *shape,
                            double step) {
  sg_tensor *t = tt_uniform(seed, SG_FLOAT64, -1, 1, ndim, shape);
  double *p = sg_data_ptr(t);
  for (int64_t i = 0; i < sg_numel(t); i++) p[i] = round(p[i] / step) * step;
  sg_tensor *r = sg_to_dtype(t, dt);
  sg_release(t);
  return r;
}

static void l0_random(void) {
  const sg_dtype dts[2] = {SG_FLOAT32, SG_FLOAT64};
  for (int q = 0; q < 2; q++) {
    /* small samples (parallel over samples), continuous and tied values */
    for (int tie = 0; tie < 2; tie++) {
      sg_tensor *x = tie ? quantized(21, dts[q], 4, SHAPE(3, 16, 8, 8), 0.125)
                         : tt_uniform(22, dts[q], -1, 1, 4, SHAPE(3, 16, 8, 8));
      const int64_t ks[] = {1, 17, 500, 1023, 1024};
      for (int j = 0; j < 5; j++) {
        sg_tensor *m = sg_l0_mask(x, (double)ks[j]);
        sg_tensor *p = sg_l0_project(x, (double)ks[j]);
        CHECK(m && p && mask_ok(x, m, p, 3, 1024, 1, ks[j]));
        sg_release(m);
        sg_release(p);
      }
      sg_release(x);
    }
    /* big samples, many ties and zeros: one sample (chunks of it in
     * parallel) and two (samples in parallel) */
    for (int64_t N = 1; N <= 2; N++) {
      sg_tensor *x = quantized(23, dts[q], 4, SHAPE(N, 8, 128, 130), 0.01);
      const double ks[] = {1, 0.1, 77777, 0.5, 0.999};
      const int64_t kk[] = {1, 13312, 77777, 66560, 132987};
      for (int j = 0; j < 5; j++) {
        sg_tensor *m = sg_l0_mask(x, ks[j]);
        sg_tensor *p = sg_l0_project(x, ks[j]);
        CHECK(m && p && mask_ok(x, m, p, N, 8 * 128 * 130, 1, kk[j]));
        sg_release(m);
        sg_release(p);
      }
      sg_release(x);
    }
  }
}

static void l0inf_random(void) {
  const sg_dtype dts[2] = {SG_FLOAT32, SG_FLOAT64};
  for (int q = 0; q < 2; q++)
    for (int tie = 0; tie < 2; tie++) {
      int64_t C = 80;
      sg_tensor *x = tie ? quantized(31, dts[q], 4, SHAPE(2, C, 10, 7), 0.25)
                         : tt_uniform(32, dts[q], -1, 1, 4, SHAPE(2, C, 10, 7));
      /* tile path (small k and k close to C) and row path (k > 32) */
      const int64_t ks[] = {1, 3, 32, 40, 60, 79, 80};
      for (int j = 0; j < 7; j++) {
        sg_tensor *m = sg_l0inf_mask(x, ks[j], 1);
        sg_tensor *p = sg_l0inf_project(x, ks[j], 1);
        CHECK(m && p && mask_ok(x, m, p, 2, C, 70, ks[j]));
        sg_release(m);
        sg_release(p);
      }
      /* last dim (inner = 1) */
      sg_tensor *m = sg_l0inf_mask(x, 2, -1);
      sg_tensor *p = sg_l0inf_project(x, 2, -1);
      CHECK(m && p && mask_ok(x, m, p, 2 * C * 10, 7, 1, 2));
      sg_release(m);
      sg_release(p);
      sg_release(x);
    }
  /* a DIP-sized layer: 1 x 64 x 64 x 64, needles of 4 (parallel tiles) */
  sg_tensor *x = tt_uniform(33, SG_FLOAT32, -1, 1, 4, SHAPE(1, 64, 64, 64));
  sg_tensor *m = sg_l0inf_mask(x, 4, 1);
  sg_tensor *p = sg_l0inf_project(x, 4, 1);
  CHECK(m && p && mask_ok(x, m, p, 1, 64, 64 * 64, 4));
  sg_release(m);
  sg_release(p);
  /* a non-contiguous input */
  sg_tensor *t = sg_transpose(x, 2, 3);
  p = sg_l0inf_project(t, 4, 1);
  sg_tensor *tc = sg_contiguous(t);
  m = sg_l0inf_mask(tc, 4, 1);
  sg_tensor *pc = sg_l0inf_project(tc, 4, 1);
  CHECK(p && pc);
  if (p && pc) CHECK_CLOSE(p, pc, 0, 0);
  sg_release(t);
  sg_release(tc);
  sg_release(p);
  sg_release(pc);
  sg_release(m);
  sg_release(x);
}

static void thresholds(void) {
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(-3, -1, -0.5, 0, 0.5, 1, 2), 1, SHAPE(7));
  sg_tensor *r = sg_soft_threshold(x, 1);
  CHECK_VALUES(r, VALS(-2, 0, 0, 0, 0, 0, 1), 7, 0);
  sg_release(r);
  r = sg_hard_threshold(x, 1);
  CHECK_VALUES(r, VALS(-3, 0, 0, 0, 0, 0, 2), 7, 0);
  sg_release(r);
  r = sg_soft_threshold(x, 0);
  CHECK_VALUES(r, VALS(-3, -1, -0.5, 0, 0.5, 1, 2), 7, 0);
  sg_release(r);
  /* per-channel lambda on 1 x 2 x 3 */
  sg_tensor *y = tt_from(SG_FLOAT64, VALS(1, -2, 3, 1, -2, 3), 3, SHAPE(1, 2, 3));
  sg_tensor *lam = tt_from(SG_FLOAT64, VALS(0.5, 2.5), 3, SHAPE(1, 2, 1));
  r = sg_soft_threshold_t(y, lam);
  CHECK_VALUES(r, VALS(0.5, -1.5, 2.5, 0, 0, 0.5), 6, 1e-15);
  sg_release(r);
  r = sg_hard_threshold_t(y, lam);
  CHECK_VALUES(r, VALS(1, -2, 3, 0, 0, 3), 6, 0);
  sg_release(r);
  /* 0-dim lambda tensor on a transposed input == the scalar form */
  sg_tensor *big = tt_uniform(51, SG_FLOAT32, -2, 2, 2, SHAPE(40, 30));
  sg_tensor *bt = sg_transpose(big, 0, 1);
  sg_tensor *l1 = sg_scalar_tensor(0.7, SG_FLOAT32, sg_cpu_device());
  sg_tensor *ra = sg_soft_threshold_t(bt, l1), *rb = sg_soft_threshold(bt, 0.7);
  CHECK(ra && rb && ra->shape[0] == 30);
  if (ra && rb) CHECK_CLOSE(ra, rb, 1e-7, 0);
  sg_release(ra);
  sg_release(rb);
  ra = sg_hard_threshold_t(bt, l1);
  rb = sg_hard_threshold(bt, 0.7);
  if (ra && rb) CHECK_CLOSE(ra, rb, 0, 0);
  sg_release(ra);
  sg_release(rb);
  sg_release(big);
  sg_release(bt);
  sg_release(l1);
  sg_tensor *nan = tt_from(SG_FLOAT32, VALS(NAN), 1, SHAPE(1));
  r = sg_soft_threshold(nan, 1);
  CHECK(r && isnan(sg_get_flat(r, 0)));
  sg_release(r);
  sg_release(nan);
  sg_release(y);
  sg_release(lam);
  sg_release(x);
}

static void errors(void) {
  sg_tensor *x = sg_zeros(SHAPE(2, 3, 4, 4), 4, SG_FLOAT32, sg_cpu_device());
  sg_tensor *v = sg_zeros(SHAPE(5), 1, SG_FLOAT32, sg_cpu_device());
  sg_tensor *i = sg_zeros(SHAPE(2, 3), 2, SG_INT64, sg_cpu_device());
  CHECK_FAILS(sg_l0_project(x, 0), "l0_project: k = 0 must be a count >= 1 or a fraction in (0, 1)");
  CHECK_FAILS(sg_l0_project(x, -2), "k = -2 must be");
  CHECK_FAILS(sg_l0_project(x, NAN), "k = nan must be");
  CHECK_FAILS(sg_l0_project(x, 2.5), "l0_project: k = 2.5 must be a whole count");
  CHECK_FAILS(sg_l0_project(x, 49),
              "l0_project: k = 49 is more than the 48 entries per sample (input 2x3x4x4)");
  CHECK_FAILS(sg_l0_mask(x, 100), "l0_mask: k = 100 is more than the 48 entries");
  CHECK_FAILS(sg_l0_project(v, 1), "l0_project: input has 1 dims (5), expected at least 2");
  CHECK_FAILS(sg_l0_project(i, 1), "l0_project");
  CHECK_FAILS(sg_l0_project(NULL, 1), "l0_project");
  CHECK_FAILS(sg_l0inf_project(x, 4, 1),
              "l0inf_project: k = 4 out of range [1, 3] for dim 1 of input 2x3x4x4");
  CHECK_FAILS(sg_l0inf_project(x, 0, 1), "k = 0 out of range [1, 3]");
  CHECK_FAILS(sg_l0inf_mask(x, 1, 4), "l0inf_mask: dim 4 out of range");
  CHECK_FAILS(sg_l0inf_project(v, 1, 0), "expected at least 2");
  CHECK_FAILS(sg_soft_threshold(x, -1), "soft_threshold: lambda = -1, expected a number >= 0");
  CHECK_FAILS(sg_hard_threshold(x, NAN), "hard_threshold: lambda = nan");
  CHECK_FAILS(sg_soft_threshold(i, 1), "soft_threshold");
  /* empty input: nothing to keep, any valid k */
  sg_tensor *e = sg_zeros(SHAPE(0, 3), 2, SG_FLOAT32, sg_cpu_device());
  sg_tensor *er = sg_l0_project(e, 2);
  CHECK(er && er->shape[0] == 0);
  sg_release(er);
  er = sg_l0inf_mask(e, 2, 1);
  CHECK(er && er->shape[0] == 0 && er->dtype == SG_BOOL);
  sg_release(er);
  sg_release(e);
  sg_tensor *lam = sg_zeros(SHAPE(1, 2, 1, 1), 4, SG_FLOAT32, sg_cpu_device());
  CHECK_FAILS(sg_soft_threshold_t(x, lam),
              "soft_threshold: lambda of shape 1x2x1x1 does not broadcast to the input's 2x3x4x4");
  CHECK_FAILS(sg_hard_threshold_t(x, NULL), "hard_threshold");
  sg_release(lam);
  sg_release(x);
  sg_release(v);
  sg_release(i);
}

/* ---------------- gradients ---------------- */

typedef struct {
  double k;
  int dim;
  double lam;
} sctx;

static sg_tensor *sq(sg_tensor *t) {
  sg_tensor *r = t ? sg_mul(t, t) : NULL;
  sg_release(t);
  return r;
}

static sg_tensor *f_l0(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sq(sg_l0_project(in[0], ((sctx *)ctx)->k));
}

static sg_tensor *f_l0inf(sg_tensor **in, int n, void *ctx) {
  (void)n;
  sctx *c = ctx;
  return sq(sg_l0inf_project(in[0], (int64_t)c->k, c->dim));
}

static sg_tensor *f_soft(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sq(sg_soft_threshold(in[0], ((sctx *)ctx)->lam));
}

static sg_tensor *f_hard(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sq(sg_hard_threshold(in[0], ((sctx *)ctx)->lam));
}

static sg_tensor *f_soft_t(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  return sq(sg_soft_threshold_t(in[0], in[1]));
}

static sg_tensor *f_hard_t(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  return sq(sg_hard_threshold_t(in[0], in[1]));
}

static void gradients(void) {
  sg_tensor *x = tt_param(41, -1, 1, 4, SHAPE(2, 6, 2, 3));
  sctx c = {5, 1, 0.4};
  CHECK_GRAD(f_l0, &c, &x, 1);
  CHECK_GRADGRAD(f_l0, &c, &x, 1);
  c.k = 0.25;
  CHECK_GRAD(f_l0, &c, &x, 1);
  CHECK_GRADGRAD(f_l0, &c, &x, 1);
  c.k = 2;
  CHECK_GRAD(f_l0inf, &c, &x, 1);
  CHECK_GRADGRAD(f_l0inf, &c, &x, 1);
  c.k = 5;
  CHECK_GRAD(f_l0inf, &c, &x, 1);
  CHECK_GRADGRAD(f_l0inf, &c, &x, 1);
  CHECK_GRAD(f_soft, &c, &x, 1);
  CHECK_GRADGRAD(f_soft, &c, &x, 1);
  CHECK_GRAD(f_hard, &c, &x, 1);
  CHECK_GRADGRAD(f_hard, &c, &x, 1);
  /* learnable per-channel lambda; keep |x| away from lambda for the
   * finite differences */
  sg_tensor *xl[2] = {x, tt_param(42, 0.2, 0.3, 4, SHAPE(1, 6, 1, 1))};
  double *xp = sg_data_ptr(x);
  for (int64_t q = 0; q < sg_numel(x); q++)
    if (fabs(fabs(xp[q]) - 0.25) < 0.1) xp[q] = xp[q] > 0 ? 0.6 : -0.6;
  CHECK_GRAD(f_soft_t, NULL, xl, 2);
  CHECK_GRADGRAD(f_soft_t, NULL, xl, 2);
  CHECK_GRAD(f_hard_t, NULL, xl, 2);
  CHECK_GRADGRAD(f_hard_t, NULL, xl, 2);

  /* the Jacobian is the mask: d sum(l0_project(x)) / dx = mask */
  sg_tensor *p = sg_l0_project(x, 7);
  sg_tensor *s = p ? sg_sum(p, NULL, 0, false) : NULL;
  CHECK(s != NULL);
  sg_set_grad(x, NULL);
  if (s) CHECK_OK(sg_backward(&s, NULL, 1, false, false));
  sg_tensor *m = sg_l0_mask(x, 7);
  sg_tensor *mf = m ? sg_to_dtype(m, SG_FLOAT64) : NULL;
  CHECK(x->grad && mf);
  if (x->grad && mf) CHECK_CLOSE(x->grad, mf, 0, 0);
  sg_release(p);
  sg_release(s);
  sg_release(m);
  sg_release(mf);
  sg_release(xl[1]);
  sg_release(x);
}

int main(void) {
  RUN(l0_values);
  RUN(l0inf_values);
  RUN(l0_random);
  RUN(l0inf_random);
  RUN(thresholds);
  RUN(errors);
  RUN(gradients);
  return sg_test_finish();
}
