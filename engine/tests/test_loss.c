/* softmax, log_softmax and the losses: values against hand computation and
 * PyTorch 1.13 (float64, pasted as literals), the fused paths against naive
 * loops, gradients (first and second order) and errors. */
#include <stdlib.h>

#include "harness.h"

static sg_device cpu(void) { return sg_cpu_device(); }

static bool has_shape(const sg_tensor *t, int ndim, const int64_t *shape) {
  if (!t || t->ndim != ndim) return false;
  for (int i = 0; i < ndim; i++)
    if (t->shape[i] != shape[i]) return false;
  return true;
}

static sg_tensor *longs(const double *v, int ndim, const int64_t *shape) {
  return tt_from(SG_INT64, v, ndim, shape);
}

/* ---------------- softmax ---------------- */

static void softmax_values(void) {
  sg_tensor *x = tt_from(SG_FLOAT64, VALS(1, 2, 3, 1000, 1001, 999), 2, SHAPE(2, 3));
  sg_tensor *r = sg_softmax(x, 1);
  CHECK_VALUES(r,
               VALS(0.09003057317038045, 0.2447284710547976, 0.6652409557748218,
                    0.2447284710547976, 0.6652409557748218, 0.09003057317038045),
               6, 1e-15);
  sg_release(r);
  r = sg_log_softmax(x, -1);
  CHECK_VALUES(r,
               VALS(-2.4076059644443806, -1.4076059644443804, -0.4076059644443804,
                    -1.4076059644443804, -0.4076059644443804, -2.4076059644443806),
               6, 1e-14);
  sg_release(r);
  r = sg_softmax(x, 0); /* column layout; exp(-999) underflows to 0 */
  CHECK_VALUES(r, VALS(0, 0, 0, 1, 1, 1), 6, 1e-300);
  sg_release(r);
  sg_tensor *x32 = sg_to_dtype(x, SG_FLOAT32);
  r = sg_softmax(x32, 1);
  CHECK(r && r->dtype == SG_FLOAT32);
  CHECK_VALUES(r,
               VALS(0.09003057317038045, 0.2447284710547976, 0.6652409557748218,
                    0.2447284710547976, 0.6652409557748218, 0.09003057317038045),
               6, 2e-7);
  sg_release(r);
  r = sg_log_softmax(x32, 0);
  CHECK_VALUES(r, VALS(-999, -999, -996, 0, 0, 0), 6, 1e-4);
  sg_release(r);
  sg_release(x32);
  sg_release(x);
  /* a 0-dim input: softmax is 1, log_softmax 0 */
  sg_tensor *s = sg_scalar_tensor(3.0, SG_FLOAT32, cpu());
  r = sg_softmax(s, 0);
  CHECK(r && r->ndim == 0);
  CHECK_VALUES(r, VALS(1), 1, 0);
  sg_release(r);
  r = sg_log_softmax(s, -1);
  CHECK_VALUES(r, VALS(0), 1, 0);
  sg_release(r);
  sg_release(s);
  /* -inf entries get probability 0 */
  sg_tensor *m = tt_from(SG_FLOAT32, VALS(0, -INFINITY, 0), 1, SHAPE(3));
  r = sg_softmax(m, 0);
  CHECK_VALUES(r, VALS(0.5, 0, 0.5), 3, 1e-7);
  sg_release(r);
  sg_release(m);
}

/* Rows and column blocks (I > LANES, partial last block), float32 with the
 * vectorized exp, against a float64 reference. */
static void softmax_paths(void) {
  /* the last two spread wider than expf's range (exp(x - max) underflows) */
  const int64_t shapes[][3] = {{200, 301, 1}, {3, 37, 150}, {1, 70000, 1}, {2, 5, 1},
                               {4, 3000, 1}, {2, 300, 70}};
  const double spread[] = {30, 30, 30, 30, 100, 100};
  for (int k = 0; k < 6; k++) {
    int64_t O = shapes[k][0], N = shapes[k][1], I = shapes[k][2];
    sg_tensor *x = tt_uniform(20 + k, SG_FLOAT32, -spread[k], spread[k], 3, SHAPE(O, N, I));
    sg_tensor *y = sg_softmax(x, 1), *ly = sg_log_softmax(x, 1);
    CHECK(y && ly);
    if (!y || !ly) {
      sg_release(x);
      sg_release(y);
      sg_release(ly);
      continue;
    }
    const float *px = sg_data_ptr(x), *py = sg_data_ptr(y), *pl = sg_data_ptr(ly);
    double worst = 0, worst_log = 0, worst_sum = 0;
    for (int64_t o = 0; o < O; o++)
      for (int64_t i = 0; i < I; i++) {
        double mx = -INFINITY, s = 0, tot = 0;
        for (int64_t n = 0; n < N; n++) mx = fmax(mx, px[(o * N + n) * I + i]);
        for (int64_t n = 0; n < N; n++) s += exp(px[(o * N + n) * I + i] - mx);
        for (int64_t n = 0; n < N; n++) {
          int64_t at = (o * N + n) * I + i;
          double ref = exp(px[at] - mx) / s, lref = px[at] - mx - log(s);
          worst = fmax(worst, fabs(py[at] - ref) / fmax(ref, 1e-30) * (ref > 1e-30));
          worst_log = fmax(worst_log, fabs(pl[at] - lref) / fmax(1.0, fabs(lref)));
          tot += py[at];
        }
        worst_sum = fmax(worst_sum, fabs(tot - 1));
      }
    CHECK(worst < 1e-5);
    CHECK(worst_log < 1e-6);
    CHECK(worst_sum < 1e-5);
    if (!(worst < 1e-5 && worst_log < 1e-6 && worst_sum < 1e-5))
      printf("    shape %lldx%lldx%lld: rel %g log %g sum %g\n", (long long)O, (long long)N,
             (long long)I, worst, worst_log, worst_sum);
    sg_release(x);
    sg_release(y);
    sg_release(ly);
  }
}

typedef struct {
  int dim;
  int which;
  sg_reduction r;
  int64_t ignore;
  double ls;
  bool weighted;
} lctx;

static sg_tensor *f_softmax(sg_tensor **in, int n, void *c) {
  (void)n;
  lctx *k = c;
  return k->which ? sg_log_softmax(in[0], k->dim) : sg_softmax(in[0], k->dim);
}

/* The fused backward (no graph) and the op-built one (create_graph) agree. */
static void softmax_backward_paths(void) {
  for (int lg = 0; lg < 2; lg++)
    for (int dim = 0; dim < 3; dim++) {
      sg_tensor *x = tt_param(40 + dim, -3, 3, 3, SHAPE(4, 70, 5));
      sg_tensor *g = tt_uniform(50 + dim, SG_FLOAT64, -1, 1, 3, SHAPE(4, 70, 5));
      sg_tensor *y = lg ? sg_log_softmax(x, dim) : sg_softmax(x, dim);
      sg_tensor *g1 = NULL, *g2 = NULL;
      CHECK_OK(sg_grad(&y, &g, 1, &x, 1, &g1, true, false, false));
      CHECK_OK(sg_grad(&y, &g, 1, &x, 1, &g2, true, true, false));
      CHECK(g1 && g2 && g2->requires_grad);
      if (g1 && g2) CHECK_CLOSE(g1, g2, 1e-14, 1e-12);
      sg_release(g1);
      sg_release(g2);
      sg_release(y);
      sg_release(g);
      sg_release(x);
    }
}

static void softmax_gradients(void) {
  sg_tensor *x = tt_param(3, -2, 2, 3, SHAPE(2, 3, 4));
  for (int which = 0; which < 2; which++)
    for (int dim = -1; dim < 3; dim++) {
      lctx c = {dim, which, 0, 0, 0, false};
      CHECK_GRAD(f_softmax, &c, &x, 1);
      CHECK_GRADGRAD(f_softmax, &c, &x, 1);
    }
  sg_release(x);
}

/* ---------------- mse / l1 / bce ---------------- */

static const double INP[] = {0.5, -1.0, 2.0, -0.3, 0.8, -2.5};
static const double TGT[] = {1, 0, 1, 0, 1, 0.5};

static void pointwise_values(void) {
  sg_tensor *x = tt_from(SG_FLOAT64, INP, 2, SHAPE(2, 3));
  sg_tensor *t = tt_from(SG_FLOAT64, TGT, 2, SHAPE(2, 3));
  sg_tensor *r = sg_mse_loss(x, t, SG_REDUCTION_MEAN);
  CHECK(r && r->ndim == 0);
  CHECK_VALUES(r, VALS(1.8966666666666665), 1, 1e-14);
  sg_release(r);
  r = sg_mse_loss(x, t, SG_REDUCTION_SUM);
  CHECK_VALUES(r, VALS(11.38), 1, 1e-13);
  sg_release(r);
  r = sg_mse_loss(x, t, SG_REDUCTION_NONE);
  CHECK(has_shape(r, 2, SHAPE(2, 3)));
  CHECK_VALUES(r, VALS(0.25, 1, 1, 0.09, 0.04, 9), 6, 1e-14);
  sg_release(r);
  r = sg_l1_loss(x, t, SG_REDUCTION_MEAN);
  CHECK_VALUES(r, VALS(1.0), 1, 1e-14);
  sg_release(r);
  r = sg_l1_loss(x, t, SG_REDUCTION_SUM);
  CHECK_VALUES(r, VALS(6.0), 1, 1e-14);
  sg_release(r);
  r = sg_l1_loss(x, t, SG_REDUCTION_NONE);
  CHECK_VALUES(r, VALS(0.5, 1, 1, 0.3, 0.2, 3), 6, 1e-14);
  sg_release(r);
  /* float32 input with a float64 target computes in float64 (promotion) */
  sg_tensor *x32 = sg_to_dtype(x, SG_FLOAT32);
  r = sg_mse_loss(x32, t, SG_REDUCTION_SUM);
  CHECK(r && r->dtype == SG_FLOAT64);
  CHECK_VALUES(r, VALS(11.38), 1, 1e-6);
  sg_release(r);
  sg_release(x32);
  /* large: the parallel reduction */
  sg_tensor *a = tt_uniform(5, SG_FLOAT32, -1, 1, 1, SHAPE(100003));
  sg_tensor *b = tt_uniform(6, SG_FLOAT32, -1, 1, 1, SHAPE(100003));
  const float *pa = sg_data_ptr(a), *pb = sg_data_ptr(b);
  double s2 = 0, s1 = 0;
  for (int64_t j = 0; j < 100003; j++) {
    s2 += ((double)pa[j] - pb[j]) * ((double)pa[j] - pb[j]);
    s1 += fabs((double)pa[j] - pb[j]);
  }
  r = sg_mse_loss(a, b, SG_REDUCTION_MEAN);
  CHECK_VALUES(r, VALS(s2 / 100003), 1, 1e-6);
  sg_release(r);
  r = sg_l1_loss(a, b, SG_REDUCTION_SUM);
  CHECK_VALUES(r, VALS(s1), 1, 1e-2);
  sg_release(r);
  sg_release(a);
  sg_release(b);
  sg_release(x);
  sg_release(t);
}

static void bce_values(void) {
  sg_tensor *x = tt_from(SG_FLOAT64, INP, 2, SHAPE(2, 3));
  sg_tensor *t = tt_from(SG_FLOAT64, TGT, 2, SHAPE(2, 3));
  sg_tensor *w = tt_from(SG_FLOAT64, VALS(1, 2, 0.5), 1, SHAPE(3));
  sg_tensor *pw = tt_from(SG_FLOAT64, VALS(3, 1, 0.2), 1, SHAPE(3));
  sg_tensor *r = sg_bce_with_logits(x, t, NULL, NULL, SG_REDUCTION_MEAN);
  CHECK_VALUES(r, VALS(0.5281020545750261), 1, 1e-14);
  sg_release(r);
  r = sg_bce_with_logits(x, t, w, pw, SG_REDUCTION_NONE);
  CHECK(has_shape(r, 2, SHAPE(2, 3)));
  CHECK_VALUES(r,
               VALS(1.42223095254032, 0.6265233750364456, 0.012692801104297258,
                    0.5543552444685269, 0.7422013318955554, 0.14866692028776485),
               6, 1e-14);
  sg_release(r);
  r = sg_bce_with_logits(x, t, NULL, pw, SG_REDUCTION_SUM);
  CHECK_VALUES(r, VALS(2.9836679932589716), 1, 1e-14);
  sg_release(r);
  /* stable for large logits */
  sg_tensor *bx = tt_from(SG_FLOAT32, VALS(100, -100), 1, SHAPE(2));
  sg_tensor *bt = tt_from(SG_FLOAT32, VALS(0, 0.5), 1, SHAPE(2));
  r = sg_bce_with_logits(bx, bt, NULL, NULL, SG_REDUCTION_NONE);
  CHECK_VALUES(r, VALS(100, 50), 2, 1e-5);
  sg_release(r);
  sg_release(bx);
  sg_release(bt);
  sg_release(x);
  sg_release(t);
  sg_release(w);
  sg_release(pw);
}

static sg_tensor *f_mse(sg_tensor **in, int n, void *c) {
  (void)n;
  return sg_mse_loss(in[0], in[1], ((lctx *)c)->r);
}

static sg_tensor *f_l1(sg_tensor **in, int n, void *c) {
  (void)n;
  return sg_l1_loss(in[0], in[1], ((lctx *)c)->r);
}

static sg_tensor *f_bce(sg_tensor **in, int n, void *c) {
  (void)n;
  lctx *k = c;
  return sg_bce_with_logits(in[0], in[1], k->weighted ? in[2] : NULL,
                            k->weighted ? in[3] : NULL, k->r);
}

/* the fused mse/l1 backward (no graph) against the op-built one */
static void pointwise_backward_paths(void) {
  for (int kind = 0; kind < 2; kind++)
    for (int red = 0; red < 2; red++) {
      sg_tensor *in[2] = {tt_param(60, -1, 1, 2, SHAPE(300, 200)),
                          tt_param(61, -1, 1, 2, SHAPE(300, 200))};
      sg_tensor *l = kind ? sg_l1_loss(in[0], in[1], (sg_reduction)red)
                          : sg_mse_loss(in[0], in[1], (sg_reduction)red);
      sg_tensor *g1[2] = {0}, *g2[2] = {0};
      CHECK_OK(sg_grad(&l, NULL, 1, in, 2, g1, true, false, false));
      CHECK_OK(sg_grad(&l, NULL, 1, in, 2, g2, true, true, false));
      for (int k = 0; k < 2; k++)
        if (g1[k] && g2[k]) CHECK_CLOSE(g1[k], g2[k], 1e-15, 1e-12);
        else CHECK(false);
      sg_release_all(g1, 2);
      sg_release_all(g2, 2);
      sg_release(l);
      sg_release_all(in, 2);
    }
}

static void pointwise_gradients(void) {
  /* input and target both differentiable; |x - t| kept away from 0 for l1 */
  sg_tensor *in[4] = {tt_param(1, -1, 1, 2, SHAPE(3, 4)), tt_param(2, 1.5, 2.5, 2, SHAPE(3, 4)),
                      tt_param(3, 0.5, 2, 1, SHAPE(4)), tt_param(4, 0.5, 3, 2, SHAPE(1, 4))};
  for (int r = 0; r < 3; r++) {
    lctx c = {0, 0, (sg_reduction)r, 0, 0, false};
    CHECK_GRAD(f_mse, &c, in, 2);
    CHECK_GRADGRAD(f_mse, &c, in, 2);
    CHECK_GRAD(f_l1, &c, in, 2);
    CHECK_GRADGRAD(f_l1, &c, in, 2);
    CHECK_GRAD(f_bce, &c, in, 2);
    CHECK_GRADGRAD(f_bce, &c, in, 2);
    c.weighted = true; /* weight and pos_weight differentiable too */
    CHECK_GRAD(f_bce, &c, in, 4);
    CHECK_GRADGRAD(f_bce, &c, in, 4);
  }
  sg_release_all(in, 4);
}

/* ---------------- cross_entropy / nll_loss ---------------- */

static const double LOGITS[] = {0.2, -1.0, 1.5, 0.3, 1.0, 2.0, -0.5, 0.0, -0.7, 0.1, 0.4, 2.2};
static const double CW[] = {1.0, 0.5, 2.0, 1.5};

static void cross_entropy_values(void) {
  sg_tensor *x = tt_from(SG_FLOAT64, LOGITS, 2, SHAPE(3, 4));
  sg_tensor *t = longs(VALS(2, 0, 3), 1, SHAPE(3));
  sg_tensor *t2 = longs(VALS(2, -100, 3), 1, SHAPE(3));
  sg_tensor *cw = tt_from(SG_FLOAT64, CW, 1, SHAPE(4));
  sg_tensor *r = sg_cross_entropy(x, t, NULL, SG_REDUCTION_MEAN, -100, 0);
  CHECK(r && r->ndim == 0);
  CHECK_VALUES(r, VALS(0.7532684707364382), 1, 1e-14);
  sg_release(r);
  r = sg_cross_entropy(x, t, NULL, SG_REDUCTION_NONE, -100, 0);
  CHECK(has_shape(r, 1, SHAPE(3)));
  CHECK_VALUES(r, VALS(0.5042909211710234, 1.4607734891568511, 0.2947410018814406), 3, 1e-14);
  sg_release(r);
  r = sg_cross_entropy(x, t, cw, SG_REDUCTION_MEAN, -100, 0);
  CHECK_VALUES(r, VALS(0.6469926298491242), 1, 1e-14);
  sg_release(r);
  r = sg_cross_entropy(x, t2, NULL, SG_REDUCTION_MEAN, -100, 0);
  CHECK_VALUES(r, VALS(0.399515961526232), 1, 1e-14);
  sg_release(r);
  r = sg_cross_entropy(x, t2, NULL, SG_REDUCTION_NONE, -100, 0);
  CHECK_VALUES(r, VALS(0.5042909211710234, 0, 0.2947410018814406), 3, 1e-14);
  sg_release(r);
  r = sg_cross_entropy(x, t2, cw, SG_REDUCTION_MEAN, -100, 0.1);
  CHECK_VALUES(r, VALS(0.4865722860083843), 1, 1e-14);
  sg_release(r);
  r = sg_cross_entropy(x, t, NULL, SG_REDUCTION_SUM, -100, 0.2);
  CHECK_VALUES(r, VALS(2.924805412209315), 1, 1e-14);
  sg_release(r);
  r = sg_cross_entropy(x, t2, cw, SG_REDUCTION_NONE, -100, 0.3);
  CHECK_VALUES(r, VALS(1.2213663850785665, 0, 0.9862559276810529), 3, 1e-14);
  sg_release(r);
  sg_tensor *t3 = longs(VALS(1, 0, 3), 1, SHAPE(3));
  r = sg_cross_entropy(x, t3, NULL, SG_REDUCTION_MEAN, 1, 0); /* ignore_index = 1 */
  CHECK_VALUES(r, VALS(0.8777572455191458), 1, 1e-14);
  sg_release(r);
  /* every target ignored: mean is nan (0/0), as PyTorch */
  sg_tensor *all = longs(VALS(-100, -100, -100), 1, SHAPE(3));
  r = sg_cross_entropy(x, all, NULL, SG_REDUCTION_MEAN, -100, 0);
  CHECK_VALUES(r, VALS(NAN), 1, 0);
  sg_release(r);
  /* nll_loss on log-probabilities given directly */
  r = sg_nll_loss(x, t, cw, SG_REDUCTION_SUM, -100);
  CHECK_VALUES(r, VALS(-7.3), 1, 1e-14);
  sg_release(r);
  r = sg_nll_loss(x, t2, NULL, SG_REDUCTION_MEAN, -100); /* -(1.5 + 2.2) / 2 */
  CHECK_VALUES(r, VALS(-1.85), 1, 1e-14);
  sg_release(r);
  /* float32 logits */
  sg_tensor *x32 = sg_to_dtype(x, SG_FLOAT32);
  r = sg_cross_entropy(x32, t, NULL, SG_REDUCTION_MEAN, -100, 0);
  CHECK(r && r->dtype == SG_FLOAT32);
  CHECK_VALUES(r, VALS(0.7532684707364382), 1, 1e-6);
  sg_release(r);
  sg_release(x32);
  /* a single sample: (C) logits with a 0-dim target */
  sg_tensor *one = tt_from(SG_FLOAT64, VALS(0.5, 1.5, -0.2), 1, SHAPE(3));
  sg_tensor *t0 = sg_scalar_tensor(1, SG_INT64, cpu());
  r = sg_cross_entropy(one, t0, NULL, SG_REDUCTION_MEAN, -100, 0);
  CHECK_VALUES(r, VALS(0.4386180683592144), 1, 1e-14);
  sg_release(r);
  sg_release(one);
  sg_release(t0);
  sg_release(all);
  sg_release(t3);
  sg_release(x);
  sg_release(t);
  sg_release(t2);
  sg_release(cw);
}

static void cross_entropy_spatial(void) {
  /* N x C x H x W logits: 2sin(0..23) as 2x3x2x2 (PyTorch values) */
  sg_tensor *a = sg_arange(0, 24, 1, SG_FLOAT64, cpu());
  sg_tensor *s = sg_sin(a);
  sg_tensor *s2 = sg_mul_scalar(s, 2);
  sg_tensor *x = sg_reshape(s2, SHAPE(2, 3, 2, 2), 4);
  sg_tensor *t = longs(VALS(0, 2, 1, 1, 2, 0, -100, 1), 3, SHAPE(2, 2, 2));
  sg_tensor *w = tt_from(SG_FLOAT64, VALS(0.3, 1.0, 2.0), 1, SHAPE(3));
  sg_tensor *r = sg_cross_entropy(x, t, NULL, SG_REDUCTION_MEAN, -100, 0);
  CHECK_VALUES(r, VALS(1.2729354289603911), 1, 1e-14);
  sg_release(r);
  r = sg_cross_entropy(x, t, w, SG_REDUCTION_MEAN, -100, 0);
  CHECK_VALUES(r, VALS(1.043977741059799), 1, 1e-14);
  sg_release(r);
  r = sg_cross_entropy(x, t, NULL, SG_REDUCTION_NONE, -100, 0);
  CHECK(has_shape(r, 3, SHAPE(2, 2, 2)));
  CHECK_VALUES(r,
               VALS(2.1345885856492126, 1.2309666315939356, 2.514966509370452, 0.3312879835135946,
                    0.13596377559065803, 1.2129079541405894, 0.0, 1.3498665628642974),
               8, 1e-14);
  sg_release(r);
  sg_tensor *all[] = {a, s, s2, x, t, w};
  sg_release_all(all, 6);
}

static sg_tensor *g_target, *g_weight;

static sg_tensor *f_ce(sg_tensor **in, int n, void *c) {
  (void)n;
  lctx *k = c;
  return sg_cross_entropy(in[0], g_target, k->weighted ? g_weight : NULL, k->r, k->ignore,
                          k->ls);
}

static sg_tensor *f_nll(sg_tensor **in, int n, void *c) {
  (void)n;
  lctx *k = c;
  return sg_nll_loss(in[0], g_target, k->weighted ? g_weight : NULL, k->r, k->ignore);
}

static void cross_entropy_gradients(void) {
  sg_tensor *x = tt_param(7, -2, 2, 2, SHAPE(5, 4));
  g_target = longs(VALS(3, -1, 0, 2, 1), 1, SHAPE(5)); /* -1 is ignored below */
  g_weight = tt_from(SG_FLOAT64, CW, 1, SHAPE(4));
  for (int r = 0; r < 3; r++)
    for (int wgt = 0; wgt < 2; wgt++)
      for (int ls = 0; ls < 2; ls++) {
        lctx c = {0, 0, (sg_reduction)r, -1, ls ? 0.15 : 0, wgt};
        CHECK_GRAD(f_ce, &c, &x, 1);
        CHECK_GRADGRAD(f_ce, &c, &x, 1);
        CHECK_GRAD(f_nll, &c, &x, 1);
        CHECK_GRADGRAD(f_nll, &c, &x, 1);
      }
  sg_release(g_target);
  sg_release(g_weight);
  /* N x C x d */
  sg_tensor *x4 = tt_param(8, -2, 2, 3, SHAPE(2, 3, 4));
  g_target = longs(VALS(0, 2, 1, 1, 2, 0, 7, 1), 2, SHAPE(2, 4));
  g_weight = tt_from(SG_FLOAT64, VALS(0.3, 1.0, 2.0), 1, SHAPE(3));
  for (int r = 0; r < 3; r++) {
    lctx c = {0, 0, (sg_reduction)r, 7, 0.1, true};
    CHECK_GRAD(f_ce, &c, &x4, 1);
    CHECK_GRADGRAD(f_ce, &c, &x4, 1);
  }
  sg_release(g_target);
  sg_release(g_weight);
  sg_release(x4);
  sg_release(x);
}

/* an ignored target whose class-0 log-probability is -inf adds 0, not nan */
static void ignore_with_neg_inf(void) {
  sg_tensor *lp = tt_from(SG_FLOAT64, VALS(-INFINITY, 0, -1, -2), 2, SHAPE(2, 2));
  CHECK_OK(sg_set_requires_grad(lp, true));
  sg_tensor *t = longs(VALS(-100, 1), 1, SHAPE(2));
  sg_tensor *r = sg_nll_loss(lp, t, NULL, SG_REDUCTION_SUM, -100);
  CHECK_VALUES(r, VALS(2), 1, 0);
  CHECK_OK(sg_backward(&r, NULL, 1, false, false));
  CHECK_VALUES(lp->grad, VALS(0, 0, 0, -1), 4, 0);
  sg_release(r);
  sg_release(t);
  sg_release(lp);
}

/* Labels counted from 1 (what the Lua bindings pass): the same losses as
 * the 0-based labels, and errors that name the label as written, exactly
 * past 2^53. */
static void label_base(void) {
  sg_tensor *x = tt_from(SG_FLOAT64, VALS(0.5, -1, 2, 0, 1, 1, -2, 3, 0.25), 2, SHAPE(3, 3));
  sg_tensor *t0 = longs(VALS(2, 0, -7), 1, SHAPE(3));
  sg_tensor *t1 = longs(VALS(3, 1, -7), 1, SHAPE(3));
  sg_tensor *a = sg_cross_entropy(x, t0, NULL, SG_REDUCTION_NONE, -7, 0.1);
  sg_tensor *b = sg_cross_entropy_ex(x, t1, NULL, SG_REDUCTION_NONE, -7, 0.1, 1);
  CHECK(a && b && sg_get_flat(a, 0) == sg_get_flat(b, 0) && sg_get_flat(a, 1) == sg_get_flat(b, 1));
  CHECK(b && sg_get_flat(b, 2) == 0); /* ignored, in the callers' numbering */
  sg_tensor *c = sg_nll_loss(x, t0, NULL, SG_REDUCTION_SUM, -7);
  sg_tensor *d = sg_nll_loss_ex(x, t1, NULL, SG_REDUCTION_SUM, -7, 1);
  CHECK(c && d && sg_get_flat(c, 0) == sg_get_flat(d, 0));
  int64_t huge[3] = {1, INT64_MAX, 2};
  sg_tensor *th = sg_from_data(huge, SHAPE(3), 1, SG_INT64);
  CHECK_FAILS(sg_cross_entropy_ex(x, th, NULL, SG_REDUCTION_MEAN, -100, 0, 1),
              "cross_entropy: target label 9223372036854775807 (at flat index 2 of target 3) is "
              "out of range: expected 1..3 (class labels are 1-based) or ignore_index -100");
  CHECK_FAILS(sg_nll_loss_ex(x, t0, NULL, SG_REDUCTION_MEAN, -100, 1),
              "nll_loss: target label 0 (at flat index 2 of target 3) is out of range");
  sg_tensor *tf = sg_zeros(SHAPE(3), 1, SG_FLOAT32, cpu());
  CHECK_FAILS(sg_nll_loss_ex(x, tf, NULL, SG_REDUCTION_MEAN, -100, 1),
              "nll_loss: target has dtype float32, expected int64 class labels (1-based)");
  /* an ignore_index at the edge of int64 ignores the label equal to it
   * (compared before the shift to 0-based, exactly) */
  sg_tensor *e = sg_cross_entropy_ex(x, th, NULL, SG_REDUCTION_NONE, INT64_MAX, 0, 1);
  CHECK(e != NULL && sg_get_flat(e, 1) == 0);
  int64_t low[3] = {INT64_MIN, 1, 2};
  sg_tensor *tl = sg_from_data(low, SHAPE(3), 1, SG_INT64);
  sg_tensor *f = sg_nll_loss_ex(x, tl, NULL, SG_REDUCTION_SUM, INT64_MIN, 1);
  CHECK(f != NULL);
  CHECK_FAILS(sg_nll_loss_ex(x, tl, NULL, SG_REDUCTION_SUM, -100, 1),
              "target label -9223372036854775808 (at flat index 1 of target 3) is out of range");
  CHECK_FAILS(sg_cross_entropy_ex(x, t1, NULL, SG_REDUCTION_MEAN, -7, 0, 2),
              "cross_entropy: label_base 2, expected 0 or 1");
  sg_tensor *all[] = {x, t0, t1, a, b, c, d, th, tf, e, tl, f};
  sg_release_all(all, 12);
}

/* ---------------- errors ---------------- */

static void errors(void) {
  sg_tensor *x = sg_zeros(SHAPE(3, 4), 2, SG_FLOAT32, cpu());
  sg_tensor *y = sg_zeros(SHAPE(3), 1, SG_FLOAT32, cpu());
  sg_tensor *k = sg_zeros(SHAPE(3, 4), 2, SG_INT64, cpu());
  sg_tensor *t = longs(VALS(0, 3, 1), 1, SHAPE(3));
  sg_tensor *bad = longs(VALS(0, 4, 1), 1, SHAPE(3));
  sg_tensor *neg = longs(VALS(0, 1, -2), 1, SHAPE(3));
  sg_tensor *tf = sg_zeros(SHAPE(3), 1, SG_FLOAT32, cpu());
  sg_tensor *t2 = sg_zeros(SHAPE(3, 1), 2, SG_INT64, cpu());
  sg_tensor *w5 = sg_full(SHAPE(5), 1, 1.0, SG_FLOAT32, cpu());
  CHECK_FAILS(sg_softmax(k, 1), "softmax: `input` has dtype int64, expected float32 or float64");
  CHECK_FAILS(sg_log_softmax(x, 2), "log_softmax: dim 2 out of range for a tensor with 2 dims");
  CHECK_FAILS(sg_softmax(NULL, 0), "softmax: argument `input` is missing");
  CHECK_FAILS(sg_mse_loss(x, y, SG_REDUCTION_MEAN), "mse_loss: target has shape 3 but input has shape 3x4");
  CHECK_FAILS(sg_l1_loss(x, NULL, SG_REDUCTION_MEAN), "l1_loss: argument `target` is missing");
  CHECK_FAILS(sg_l1_loss(k, k, SG_REDUCTION_MEAN), "l1_loss: `input` has dtype int64");
  CHECK_FAILS(sg_mse_loss(x, x, (sg_reduction)7), "mse_loss: invalid reduction 7");
  CHECK_FAILS(sg_bce_with_logits(x, y, NULL, NULL, SG_REDUCTION_SUM), "bce_with_logits: target has shape 3 but input has shape 3x4");
  CHECK_FAILS(sg_bce_with_logits(x, x, NULL, y, SG_REDUCTION_SUM), "bce_with_logits: pos_weight of shape 3 does not broadcast to the input's shape 3x4");
  CHECK_FAILS(sg_bce_with_logits(x, x, w5, NULL, SG_REDUCTION_SUM), "bce_with_logits: weight of shape 5 does not broadcast");
  CHECK_FAILS(sg_cross_entropy(x, bad, NULL, SG_REDUCTION_MEAN, -100, 0), "cross_entropy: target 4 (at flat position 1 of target 3) is out of range: expected 0 <= target < 4");
  CHECK_FAILS(sg_cross_entropy(x, neg, NULL, SG_REDUCTION_MEAN, -100, 0), "cross_entropy: target -2 (at flat position 2");
  CHECK_FAILS(sg_nll_loss(x, bad, NULL, SG_REDUCTION_SUM, -100), "nll_loss: target 4");
  CHECK_FAILS(sg_cross_entropy(x, tf, NULL, SG_REDUCTION_MEAN, -100, 0), "cross_entropy: target has dtype float32, expected int64 class indices");
  CHECK_FAILS(sg_cross_entropy(x, t2, NULL, SG_REDUCTION_MEAN, -100, 0), "cross_entropy: target has shape 3x1, expected 3 for input 3x4");
  CHECK_FAILS(sg_cross_entropy(x, t, w5, SG_REDUCTION_MEAN, -100, 0), "cross_entropy: weight has shape 5, expected 4 (one per class)");
  CHECK_FAILS(sg_cross_entropy(x, t, NULL, SG_REDUCTION_MEAN, -100, 1.5), "cross_entropy: label_smoothing 1.5 is out of range");
  CHECK_FAILS(sg_cross_entropy(k, t, NULL, SG_REDUCTION_MEAN, -100, 0), "cross_entropy: `input` has dtype int64");
  sg_tensor *s = sg_scalar_tensor(1, SG_FLOAT32, cpu());
  CHECK_FAILS(sg_cross_entropy(s, t, NULL, SG_REDUCTION_MEAN, -100, 0), "cross_entropy: input is 0-dim");
  CHECK_FAILS(sg_nll_loss(y, t, NULL, SG_REDUCTION_MEAN, -100), "nll_loss: target has shape 3, expected scalar for input 3");
  sg_release(s);
  sg_tensor *all[] = {x, y, k, t, bad, neg, tf, t2, w5};
  sg_release_all(all, 9);
}

int main(void) {
  RUN(softmax_values);
  RUN(softmax_paths);
  RUN(softmax_backward_paths);
  RUN(softmax_gradients);
  RUN(pointwise_values);
  RUN(bce_values);
  RUN(pointwise_backward_paths);
  RUN(pointwise_gradients);
  RUN(cross_entropy_values);
  RUN(cross_entropy_spatial);
  RUN(cross_entropy_gradients);
  RUN(ignore_with_neg_inf);
  RUN(label_base);
  RUN(errors);
  return sg_test_finish();
}
