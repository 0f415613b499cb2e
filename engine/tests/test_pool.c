/* Pooling: max_pool2d (indices, ceil_mode, dilation, NaN), avg_pool2d
 * (count_include_pad, ceil_mode), adaptive_avg_pool2d against PyTorch 1.13
 * values; gradients of first and second order; errors. */
#include <math.h>

#include "harness.h"

static sg_pool_opts popts(int k0, int k1, int s0, int s1, int p0, int p1, int d0, int d1,
                          bool ceil, bool cip) {
  sg_pool_opts o = {{k0, k1}, {s0, s1}, {p0, p1}, {d0, d1}, ceil, cip};
  return o;
}

static void max_pool_values(void) {
  const sg_dtype dts[2] = {SG_FLOAT64, SG_FLOAT32};
  for (int k = 0; k < 2; k++) {
    double tol = k ? 1e-6 : 1e-8;
    sg_tensor *x = tt_wave(dts[k], 4, SHAPE(1, 2, 5, 5));
    sg_tensor *idx = NULL;
    sg_pool_opts o = popts(3, 3, 2, 2, 1, 1, 0, 0, false, true);
    sg_tensor *y = sg_max_pool2d(x, &o, &idx);
    CHECK(tt_has_shape(y, 4, SHAPE(1, 2, 3, 3)));
    CHECK_VALUES(y, VALS(3.73635013, 3.6331384, 3.8923942, 3.73635013, 3.17968865, 1.54172504,
                         2.31572721, 2.31572721, 1.55854691, -0.402633922, -1.54256716,
                         -0.785346957, 2.05742333, 2.4834792, 2.4834792, 2.05742333, 1.33615389,
                         -0.584385042),
                 18, tol);
    CHECK(idx && idx->dtype == SG_INT64);
    CHECK_VALUES(idx, VALS(5, 3, 4, 5, 6, 19, 21, 21, 23, 0, 1, 9, 15, 13, 13, 15, 16, 18), 18, 0);
    sg_release(y);
    sg_release(idx);
    /* ceil_mode, padding: the last window must start inside input + left pad */
    o = popts(2, 2, 2, 2, 1, 1, 0, 0, true, true);
    y = sg_max_pool2d(x, &o, &idx);
    CHECK(tt_has_shape(y, 4, SHAPE(1, 2, 3, 3)));
    CHECK_VALUES(y, VALS(1, 2.99876118, 3.8923942, 3.73635013, 3.17968865, 1.17893995, 2.10762317,
                         2.31572721, 1.55854691, -0.402633922, -1.54256716, -3.4122965,
                         0.363466444, 2.10591738, 2.4834792, 2.05742333, 1.33615389,
                         -0.584385042),
                 18, tol);
    CHECK_VALUES(idx, VALS(0, 2, 4, 5, 6, 8, 20, 21, 23, 0, 1, 3, 10, 12, 13, 15, 16, 18), 18, 0);
    sg_release(y);
    sg_release(idx);
    /* dilation */
    o = popts(2, 2, 1, 1, 0, 0, 2, 2, false, true);
    y = sg_max_pool2d(x, &o, &idx);
    CHECK(tt_has_shape(y, 4, SHAPE(1, 2, 3, 3)));
    CHECK_VALUES(y, VALS(2.99876118, 3.6331384, 3.8923942, 3.73635013, 3.17968865, 2.29004369,
                         2.1273699, 2.31572721, 2.1273699, 2.10591738, 2.4834792, 2.4623491,
                         2.05742333, 1.33615389, 0.40926628, 2.10591738, 2.4834792, 2.4623491),
                 18, tol);
    CHECK_VALUES(idx, VALS(2, 3, 4, 5, 6, 7, 22, 21, 22, 12, 13, 14, 15, 16, 17, 12, 13, 14), 18,
                 0);
    sg_release(y);
    sg_release(idx);
    sg_release(x);
    /* rectangular kernel on a 3-d (C x H x W) input, no indices requested */
    x = tt_wave(dts[k], 3, SHAPE(1, 4, 6));
    o = popts(2, 3, 2, 2, 1, 1, 0, 0, true, true);
    y = sg_max_pool2d(x, &o, NULL);
    CHECK(tt_has_shape(y, 3, SHAPE(1, 3, 4)));
    CHECK_VALUES(y, VALS(2.07880239, 3.6331384, 3.8923942, 3.73635013, 3.17968865, 2.29004369,
                         -0.01319413, -0.274315433, 1.54172504, 2.31572721, 2.31572721,
                         1.55854691),
                 12, tol);
    sg_release(y);
    sg_release(x);
  }
  /* NaN propagates (and wins the index), as PyTorch */
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(1, NAN, 3, 2), 4, SHAPE(1, 1, 2, 2));
  sg_pool_opts o = popts(2, 2, 0, 0, 0, 0, 0, 0, false, true);
  sg_tensor *idx = NULL;
  sg_tensor *y = sg_max_pool2d(x, &o, &idx);
  CHECK(y && isnan(sg_get_flat(y, 0)));
  CHECK(idx && sg_get_flat(idx, 0) == 1);
  sg_release(y);
  sg_release(idx);
  sg_release(x);
}

static void avg_pool_values(void) {
  sg_tensor *x = tt_wave(SG_FLOAT64, 4, SHAPE(1, 2, 5, 5));
  sg_pool_opts o = popts(3, 3, 2, 2, 1, 1, 0, 0, false, true);
  sg_tensor *y = sg_avg_pool2d(x, &o);
  CHECK(tt_has_shape(y, 4, SHAPE(1, 2, 3, 3)));
  CHECK_VALUES(y, VALS(1.11053791, 1.70659714, 0.965697602, 0.0433852837, -0.189896018,
                       -0.231007326, 0.120296933, 0.575499302, 0.498237927, -1.06102208,
                       -1.78125457, -1.11344497, -0.275274364, -0.151598547, 0.0166241592,
                       -0.150754, -0.673303662, -0.617002309),
               18, 1e-8);
  sg_release(y);
  o.count_include_pad = false;
  y = sg_avg_pool2d(x, &o);
  CHECK_VALUES(y, VALS(2.49871029, 2.55989571, 2.1728196, 0.0650779255, -0.189896018,
                       -0.346510989, 0.2706681, 0.863248954, 1.12103533, -2.38729969,
                       -2.67188185, -2.50525117, -0.412911546, -0.151598547, 0.0249362387,
                       -0.339196499, -1.00995549, -1.3882552),
               18, 1e-8);
  sg_release(y);
  /* ceil_mode: the last window is clipped; with count_include_pad its
   * divisor counts only up to input + padding */
  o = popts(2, 2, 2, 2, 1, 1, 0, 0, true, true);
  y = sg_avg_pool2d(x, &o);
  CHECK(tt_has_shape(y, 4, SHAPE(1, 2, 3, 3)));
  CHECK_VALUES(y, VALS(0.25, 1.26939089, 1.88138315, 0.650109457, 0.194883514, -1.08169841,
                       0.00519567739, 0.728736038, 1.12103533, -0.100658481, -1.03367281,
                       -1.82648772, -0.901917773, -0.7697986, 0.557693622, -0.0333670548,
                       -0.8384257, -1.3882552),
               18, 1e-8);
  sg_release(y);
  o.count_include_pad = false;
  y = sg_avg_pool2d(x, &o);
  CHECK_VALUES(y, VALS(1, 2.53878179, 3.7627663, 1.30021891, 0.194883514, -1.08169841,
                       0.0103913548, 0.728736038, 1.12103533, -0.402633922, -2.06734562,
                       -3.65297544, -1.80383555, -0.7697986, 0.557693622, -0.0667341096,
                       -0.8384257, -1.3882552),
               18, 1e-8);
  sg_release(y);
  sg_release(x);
  /* adaptive: windows [floor(i*in/out), ceil((i+1)*in/out)) */
  const sg_dtype dts[2] = {SG_FLOAT64, SG_FLOAT32};
  for (int k = 0; k < 2; k++) {
    x = tt_wave(dts[k], 4, SHAPE(1, 1, 5, 7));
    y = sg_adaptive_avg_pool2d(x, 3, 4);
    CHECK(tt_has_shape(y, 4, SHAPE(1, 1, 3, 4)));
    CHECK_VALUES(y, VALS(1.63694651, 1.45675592, 0.905962024, 0.357358392, 0.529681451,
                         0.0865137377, -0.56889252, -0.995324706, -0.715713445, -1.18897809,
                         -1.62527295, -1.71243626),
                 12, k ? 1e-6 : 1e-8);
    sg_release(y);
    /* global average pooling */
    y = sg_adaptive_avg_pool2d(x, 1, 1);
    sg_tensor *s = sg_sum(x, NULL, 0, false);
    CHECK(y && s && fabs(sg_get_flat(y, 0) - sg_get_flat(s, 0) / 35) < 1e-6);
    sg_release(s);
    sg_release(y);
    sg_release(x);
  }
}

/* ---- gradients ---- */

typedef struct {
  int kind; /* 0 max, 1 avg, 2 adaptive */
  sg_pool_opts o;
  bool square; /* f = op(x)^2, so the second derivative goes through the backward op */
} pctx;

static sg_tensor *f_pool(sg_tensor **in, int n, void *ctx) {
  (void)n;
  pctx *c = ctx;
  sg_tensor *y = c->kind == 0   ? sg_max_pool2d(in[0], &c->o, NULL)
                 : c->kind == 1 ? sg_avg_pool2d(in[0], &c->o)
                                : sg_adaptive_avg_pool2d(in[0], 3, 2);
  if (!y || !c->square) return y;
  sg_tensor *r = sg_mul(y, y);
  sg_release(y);
  return r;
}

static void pool_gradients(void) {
  const sg_pool_opts opts[4] = {popts(3, 3, 2, 2, 1, 1, 0, 0, false, true),
                                popts(2, 2, 2, 2, 1, 1, 0, 0, true, false),
                                popts(2, 3, 1, 2, 0, 1, 2, 1, true, true),
                                popts(2, 2, 1, 1, 0, 0, 0, 0, false, true)};
  for (int kind = 0; kind < 3; kind++) {
    for (int k = 0; k < 4; k++) {
      if (kind != 0 && opts[k].dilation[0] > 1) continue; /* dilation: max pool only */
      if (kind == 2 && k > 0) continue;
      sg_tensor *x = tt_param(500 + 10 * kind + k, -1, 1, 4, SHAPE(2, 2, 5, 6));
      pctx c = {kind, opts[k], false};
      CHECK_GRAD(f_pool, &c, &x, 1);
      c.square = true;
      CHECK_GRAD(f_pool, &c, &x, 1);
      CHECK_GRADGRAD(f_pool, &c, &x, 1);
      sg_release(x);
    }
  }
  /* 3-d input */
  sg_tensor *x = tt_param(600, -1, 1, 3, SHAPE(2, 4, 4));
  pctx c = {0, opts[0], true};
  CHECK_GRAD(f_pool, &c, &x, 1);
  CHECK_GRADGRAD(f_pool, &c, &x, 1);
  c.kind = 1;
  CHECK_GRAD(f_pool, &c, &x, 1);
  CHECK_GRADGRAD(f_pool, &c, &x, 1);
  sg_release(x);
}

/* Max pool: the gradient goes to the argmax, accumulating where windows
 * overlap; double backward gathers at the same indices. */
static void max_pool_gradient_values(void) {
  sg_tensor *x = tt_from(SG_FLOAT64, VALS(1, 5, 2, 0, 3, 4, 7, 6, 8), 4, SHAPE(1, 1, 3, 3));
  CHECK_OK(sg_set_requires_grad(x, true));
  sg_pool_opts o = popts(2, 2, 1, 1, 0, 0, 0, 0, false, true);
  sg_tensor *y = sg_max_pool2d(x, &o, NULL); /* windows' max: 5, 5, 7, 8 */
  CHECK_VALUES(y, VALS(5, 5, 7, 8), 4, 0);
  sg_tensor *gy = tt_from(SG_FLOAT64, VALS(1, 10, 100, 1000), 4, SHAPE(1, 1, 2, 2));
  CHECK_OK(sg_set_requires_grad(gy, true));
  sg_tensor *gx = NULL, *ggy = NULL, *gw = NULL, *s = NULL;
  CHECK_OK(sg_grad(&y, &gy, 1, &x, 1, &gx, true, true, false));
  CHECK_VALUES(gx, VALS(0, 11, 0, 0, 0, 0, 100, 0, 1000), 9, 0);
  /* d<gx, w>/d gy = w gathered at the argmax */
  sg_tensor *w = tt_from(SG_FLOAT64, VALS(1, 2, 3, 4, 5, 6, 7, 8, 9), 4, SHAPE(1, 1, 3, 3));
  gw = gx ? sg_mul(gx, w) : NULL;
  s = gw ? sg_sum(gw, NULL, 0, false) : NULL;
  if (CHECK(s != NULL)) {
    CHECK_OK(sg_grad(&s, NULL, 1, &gy, 1, &ggy, false, false, false));
    CHECK_VALUES(ggy, VALS(2, 2, 7, 9), 4, 0);
  }
  sg_tensor *all[] = {x, y, gy, gx, w, gw, s, ggy};
  sg_release_all(all, 8);
}

static void large_parallel(void) {
  /* big enough for the OpenMP paths; compare float32 with float64 */
  int64_t shape[4] = {2, 16, 40, 40};
  sg_tensor *x64 = tt_uniform(700, SG_FLOAT64, -1, 1, 4, shape);
  sg_tensor *x32 = sg_to_dtype(x64, SG_FLOAT32);
  sg_pool_opts o = popts(3, 3, 2, 2, 1, 1, 0, 0, true, false);
  for (int kind = 0; kind < 3; kind++) {
    pctx c = {kind, o, false};
    sg_tensor *a = f_pool(&x64, 1, &c), *b = f_pool(&x32, 1, &c);
    sg_tensor *b64 = b ? sg_to_dtype(b, SG_FLOAT64) : NULL;
    if (CHECK(a && b64)) CHECK_CLOSE(b64, a, 1e-5, 1e-5);
    sg_release(a);
    sg_release(b);
    sg_release(b64);
  }
  sg_release(x64);
  sg_release(x32);
}

static void errors(void) {
  sg_tensor *x = sg_zeros(SHAPE(1, 2, 5, 5), 4, SG_FLOAT32, sg_cpu_device());
  sg_tensor *x2 = sg_zeros(SHAPE(5, 5), 2, SG_FLOAT32, sg_cpu_device());
  sg_tensor *xi = sg_zeros(SHAPE(1, 1, 4, 4), 4, SG_INT64, sg_cpu_device());
  sg_pool_opts o = popts(2, 2, 0, 0, 0, 0, 0, 0, false, true);
  CHECK_FAILS(sg_max_pool2d(x2, &o, NULL),
              "max_pool2d: input has 2 dims (5x5), expected 3 or 4 (C x H x W or N x C x H x W)");
  CHECK_FAILS(sg_avg_pool2d(x2, &o), "avg_pool2d: input has 2 dims (5x5)");
  CHECK_FAILS(sg_max_pool2d(NULL, &o, NULL), "max_pool2d");
  CHECK_FAILS(sg_max_pool2d(x, NULL, NULL), "options are missing");
  CHECK_FAILS(sg_max_pool2d(xi, &o, NULL), "expected float32 or float64");
  sg_pool_opts bad = popts(0, 2, 0, 0, 0, 0, 0, 0, false, true);
  CHECK_FAILS(sg_max_pool2d(x, &bad, NULL), "kernel size must be positive, got 0x2");
  bad = popts(2, 2, -1, 1, 0, 0, 0, 0, false, true);
  CHECK_FAILS(sg_max_pool2d(x, &bad, NULL), "stride must be positive");
  bad = popts(3, 3, 1, 1, 2, 0, 0, 0, false, true);
  CHECK_FAILS(sg_max_pool2d(x, &bad, NULL), "padding 2x0 must be between 0 and half the kernel");
  bad = popts(6, 6, 1, 1, 0, 0, 0, 0, false, true);
  CHECK_FAILS(sg_max_pool2d(x, &bad, NULL),
              "max_pool2d: output size is too small: input 1x2x5x5 with kernel 6x6");
  bad = popts(3, 3, 1, 1, 0, 0, 3, 3, false, true);
  CHECK_FAILS(sg_max_pool2d(x, &bad, NULL), "gives -1x-1");
  bad = popts(2, 2, 1, 1, 0, 0, 2, 2, false, true);
  CHECK_FAILS(sg_avg_pool2d(x, &bad), "avg_pool2d: dilation is not supported");
  CHECK_FAILS(sg_adaptive_avg_pool2d(x, 0, 3), "adaptive_avg_pool2d: output size 0x3 must be positive");
  CHECK_FAILS(sg_adaptive_avg_pool2d(x2, 1, 1), "adaptive_avg_pool2d: input has 2 dims");
  sg_tensor *all[] = {x, x2, xi};
  sg_release_all(all, 3);
}

int main(void) {
  RUN(max_pool_values);
  RUN(avg_pool_values);
  RUN(pool_gradients);
  RUN(max_pool_gradient_values);
  RUN(large_parallel);
  RUN(errors);
  return sg_test_finish();
}
