/* Normalization: batch_norm (training, eval, running statistics),
 * instance_norm and layer_norm against PyTorch 1.13 values; first and
 * second order gradient checks; fused vs composite backward; errors. */
#include <math.h>

#include "harness.h"

/* x[i] = 2 sin(0.7 i + 0.3) + 0.05 i, shape 2x3x2x2 (also used as 4x2x3) */
static sg_tensor *input24(sg_dtype dt) {
  double v[24];
  for (int i = 0; i < 24; i++) v[i] = sin(0.7 * i + 0.3) * 2 + 0.05 * i;
  return tt_from(dt, v, 4, SHAPE(2, 3, 2, 2));
}

static void batch_norm_values(void) {
  const sg_dtype dts[2] = {SG_FLOAT64, SG_FLOAT32};
  for (int k = 0; k < 2; k++) {
    sg_dtype dt = dts[k];
    double tol = dt == SG_FLOAT64 ? 1e-7 : 2e-5;
    sg_tensor *x = input24(dt);
    sg_tensor *w = tt_from(dt, VALS(1.5, -0.5, 2.0), 1, SHAPE(3));
    sg_tensor *b = tt_from(dt, VALS(0.1, 0.2, -0.3), 1, SHAPE(3));
    sg_tensor *rm = tt_from(dt, VALS(0.5, -1.0, 0.0), 1, SHAPE(3));
    sg_tensor *rv = tt_from(dt, VALS(2.0, 0.5, 1.0), 1, SHAPE(3));
    sg_tensor *y = sg_batch_norm(x, rm, rv, w, b, false, 0.1, 1e-5);
    CHECK_VALUES(y, VALS(0.196562699, 1.40772917, 1.77937047, 1.16164007, -0.707323001,
                         0.181414437, 0.663192903, 0.494796453, -0.995503182, 1.84615472,
                         4.10172447, 4.7574077, 1.61243235, 0.311655111, -1.01384026, -1.7157104,
                         0.16528448, -0.601526821, -1.60660361, -2.39387058, 5.64705812,
                         4.40112786, 1.93184158, -0.552425467),
                 24, tol);
    sg_release(y);
    /* training: batch statistics, running stats move with momentum 0.1 and
     * the unbiased variance */
    y = sg_batch_norm(x, rm, rv, w, b, true, 0.1, 1e-5);
    CHECK_VALUES(y, VALS(-0.239586726, 1.27857474, 1.74441615, 0.970109309, 0.0849127822,
                         0.526272752, 0.765530962, 0.68190283, -3.4270354, -0.984276927,
                         0.954665866, 1.51830717, 1.53516414, -0.0953217812, -1.75679116,
                         -2.63656468, 0.51826238, 0.137452708, -0.361683081, -0.752651333,
                         2.28307238, 1.21204032, -0.910618417, -3.04615498),
                 24, tol);
    CHECK_VALUES(rm, VALS(0.534646424, -0.90445768, 0.147109397), 3, tol);
    CHECK_VALUES(rv, VALS(1.94547637, 0.681701883, 1.05465915), 3, tol);
    sg_release(y);
    /* training without running stats nor affine parameters: zero mean, unit
     * (biased) variance per channel */
    y = sg_batch_norm(x, NULL, NULL, NULL, NULL, true, 0.1, 0);
    if (CHECK(y != NULL)) {
      sg_tensor *m = sg_sum(y, (const int[]){0, 2, 3}, 3, false);
      sg_tensor *y2 = sg_mul(y, y);
      sg_tensor *v = sg_sum(y2, (const int[]){0, 2, 3}, 3, false);
      CHECK_VALUES(m, VALS(0, 0, 0), 3, 1e-5);
      CHECK_VALUES(v, VALS(8, 8, 8), 3, 1e-4);
      sg_tensor *all[] = {m, y2, v};
      sg_release_all(all, 3);
    }
    sg_release(y);
    sg_tensor *all[] = {x, w, b, rm, rv};
    sg_release_all(all, 5);
  }
}

static void batch_norm_2d_input(void) {
  /* N x C input (BatchNorm1d): statistics over the batch only */
  sg_tensor *x = tt_from(SG_FLOAT64, VALS(1, 10, 3, 20, 5, 60), 2, SHAPE(3, 2));
  sg_tensor *y = sg_batch_norm(x, NULL, NULL, NULL, NULL, true, 0.1, 0);
  /* column 0: mean 3, var 8/3; column 1: mean 30, var 1400/3 */
  double s0 = sqrt(8.0 / 3), s1 = sqrt(1400.0 / 3);
  CHECK_VALUES(y, VALS(-2 / s0, -20 / s1, 0, -10 / s1, 2 / s0, 30 / s1), 6, 1e-12);
  sg_release(y);
  /* non-contiguous input: a transposed view */
  sg_tensor *t = sg_transpose(x, 0, 1); /* 2x3: C = 3 */
  y = sg_batch_norm(t, NULL, NULL, NULL, NULL, true, 0.1, 0);
  /* channels (1,10), (3,20), (5,60) */
  CHECK_VALUES(y, VALS(-1, -1, -1, 1, 1, 1), 6, 1e-9);
  sg_release(y);
  sg_release(t);
  sg_release(x);
}

static void instance_norm_values(void) {
  sg_tensor *x = input24(SG_FLOAT64);
  sg_tensor *w = tt_from(SG_FLOAT64, VALS(1.5, -0.5, 2.0), 1, SHAPE(3));
  sg_tensor *b = tt_from(SG_FLOAT64, VALS(0.1, 0.2, -0.3), 1, SHAPE(3));
  sg_tensor *rm = tt_from(SG_FLOAT64, VALS(0.5, -1.0, 0.0), 1, SHAPE(3));
  sg_tensor *rv = tt_from(SG_FLOAT64, VALS(2.0, 0.5, 1.0), 1, SHAPE(3));
  sg_tensor *y = sg_instance_norm(x, rm, rv, w, b, true, 0.1, 1e-5);
  CHECK_VALUES(y, VALS(-2.30779639, 0.795371705, 1.74756568, 0.164859005, -0.6184021,
                       0.222125203, 0.677769286, 0.518507611, -3.33987773, -0.816237353,
                       1.18690556, 1.76920952, 2.23323178, 0.703370617, -0.855561865,
                       -1.68104053, 0.855526218, 0.4611133, -0.055852568, -0.460786951,
                       2.04511457, 0.997915936, -1.07750777, -3.16552273),
               24, 1e-7);
  CHECK_VALUES(rm, VALS(0.534646424, -0.90445768, 0.147109397), 3, 1e-8);
  CHECK_VALUES(rv, VALS(1.91670236, 0.61326378, 1.07889873), 3, 1e-8);
  sg_release(y);
  /* use_input_stats = false: the running statistics, like batch_norm eval */
  y = sg_instance_norm(x, rm, rv, w, b, false, 0.1, 1e-5);
  sg_tensor *e = sg_batch_norm(x, rm, rv, w, b, false, 0.1, 1e-5);
  CHECK_CLOSE(y, e, 1e-12, 0);
  sg_release(y);
  sg_release(e);
  sg_tensor *all[] = {x, w, b, rm, rv};
  sg_release_all(all, 5);
}

static void layer_norm_values(void) {
  const sg_dtype dts[2] = {SG_FLOAT64, SG_FLOAT32};
  for (int k = 0; k < 2; k++) {
    sg_dtype dt = dts[k];
    double tol = dt == SG_FLOAT64 ? 1e-7 : 2e-5;
    sg_tensor *x4 = input24(dt);
    sg_tensor *x = sg_reshape(x4, SHAPE(4, 2, 3), 3);
    sg_tensor *w = tt_from(dt, VALS(1.0, 0.5, -1.0, 2.0, 0.0, 1.0), 2, SHAPE(2, 3));
    sg_tensor *b = tt_from(dt, VALS(0.0, 0.1, 0.2, 0.3, 0.4, 0.5), 2, SHAPE(2, 3));
    sg_tensor *y = sg_layer_norm(x, SHAPE(2, 3), 2, w, b, 1e-5);
    CHECK(y && y->ndim == 3 && y->shape[0] == 4 && y->shape[2] == 3);
    CHECK_VALUES(y, VALS(-0.268962858, 0.516771701, -0.971842775, 1.51906454, 0.4, -1.27973539,
                         -1.24467596, -0.450118398, 0.651790858, 1.11989996, 0.4, 1.79279572,
                         1.78986237, 0.422779073, 0.720490818, -1.97586326, 0.4, 0.617432324,
                         -0.190987318, 0.532844184, -0.955365199, 1.42824373, 0.4, -1.28653569),
                 24, tol);
    sg_release(y);
    y = sg_layer_norm(x, SHAPE(3), 1, NULL, NULL, 1e-5);
    CHECK_VALUES(y, VALS(-1.37809492, 0.414085914, 0.964009003, 1.21823576, 0.012904244,
                         -1.23114001, -0.906126647, -0.487231559, 1.39335821, -1.38122352,
                         0.427690481, 0.95353304, 1.22087849, 0.00768460817, -1.2285631,
                         -0.919155593, -0.471185625, 1.39034122, -1.38434163, 0.441854342,
                         0.942487286, 1.22350238, 0.00246927073, -1.22597165),
                 24, tol);
    sg_release(y);
    sg_tensor *all[] = {x4, x, w, b};
    sg_release_all(all, 4);
  }
  /* numerically sound: a large offset does not destroy the result */
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(10000.0, 10000.5, 10001.0), 2, SHAPE(1, 3));
  sg_tensor *y = sg_layer_norm(x, SHAPE(3), 1, NULL, NULL, 0);
  CHECK_VALUES(y, VALS(-1.22474487, 0, 1.22474487), 3, 1e-4);
  sg_release(y);
  sg_release(x);
}

/* ---- gradient checks ---- */

typedef struct {
  int kind; /* 0 bn train, 1 bn eval, 2 instance, 3 layer norm (2 dims), 4 ln no affine */
  sg_tensor *rm, *rv;
} nctx;

static sg_tensor *f_norm(sg_tensor **in, int n, void *ctx) {
  nctx *c = ctx;
  sg_tensor *w = n > 1 ? in[1] : NULL, *b = n > 2 ? in[2] : NULL;
  switch (c->kind) {
    case 0: return sg_batch_norm(in[0], NULL, NULL, w, b, true, 0.1, 1e-5);
    case 1: return sg_batch_norm(in[0], c->rm, c->rv, w, b, false, 0.1, 1e-5);
    case 2: return sg_instance_norm(in[0], NULL, NULL, w, b, true, 0.1, 1e-5);
    case 3: return sg_layer_norm(in[0], SHAPE(2, 3), 2, w, b, 1e-5);
    default: return sg_layer_norm(in[0], SHAPE(3), 1, NULL, NULL, 1e-5);
  }
}

/* Gradients of f with and without create_graph agree (float64). The first
 * runs the fused kernels (checked against finite differences by
 * CHECK_GRAD); the second the composite formula that double backward
 * differentiates, which gradgradcheck alone cannot validate (it only checks
 * that formula against its own finite differences). */
static void check_paths_agree(sg_fn f, void *ctx, sg_tensor **in, int n) {
  sg_tensor *y = f(in, n, ctx);
  if (!CHECK(y != NULL)) return;
  sg_tensor *gy = tt_uniform(77, SG_FLOAT64, -1, 1, y->ndim, y->shape);
  sg_tensor *req[3];
  int nr = 0;
  for (int k = 0; k < n; k++)
    if (in[k]->requires_grad) req[nr++] = in[k];
  sg_tensor *g1[3] = {0}, *g2[3] = {0};
  CHECK_OK(sg_grad(&y, &gy, 1, req, nr, g1, true, false, false));
  CHECK_OK(sg_grad(&y, &gy, 1, req, nr, g2, true, true, false));
  for (int k = 0; k < nr; k++)
    if (CHECK(g1[k] && g2[k])) CHECK_CLOSE(g1[k], g2[k], 1e-10, 1e-10);
  sg_release_all(g1, nr);
  sg_release_all(g2, nr);
  sg_release(gy);
  sg_release(y);
}

static void norm_gradients(void) {
  sg_tensor *rm = tt_from(SG_FLOAT64, VALS(0.5, -1.0, 0.0), 1, SHAPE(3));
  sg_tensor *rv = tt_from(SG_FLOAT64, VALS(2.0, 0.5, 1.0), 1, SHAPE(3));
  for (int kind = 0; kind < 3; kind++) {
    sg_tensor *in[3] = {tt_param(100 + kind, -1, 1, 4, SHAPE(2, 3, 2, 2)),
                        tt_param(110 + kind, 0.5, 1.5, 1, SHAPE(3)),
                        tt_param(120 + kind, -1, 1, 1, SHAPE(3))};
    nctx c = {kind, rm, rv};
    CHECK_GRAD(f_norm, &c, in, 3);
    CHECK_GRADGRAD(f_norm, &c, in, 3);
    /* long groups (B >= 16: the per-group kernels; short ones take the
     * column kernels) */
    sg_tensor *xl = tt_param(150 + kind, -1, 1, 4, SHAPE(2, 3, 4, 5));
    sg_tensor *inl[3] = {xl, in[1], in[2]};
    CHECK_GRAD(f_norm, &c, inl, 3);
    CHECK_GRADGRAD(f_norm, &c, inl, 3);
    check_paths_agree(f_norm, &c, inl, 3);
    sg_release(xl);
    /* without affine parameters; 3-d input */
    sg_tensor *x3 = tt_param(130 + kind, -1, 1, 3, SHAPE(2, 3, 3));
    CHECK_GRAD(f_norm, &c, &x3, 1);
    CHECK_GRADGRAD(f_norm, &c, &x3, 1);
    sg_release(x3);
    sg_release_all(in, 3);
  }
  sg_tensor *in[3] = {tt_param(140, -1, 1, 3, SHAPE(2, 2, 3)), tt_param(141, 0.5, 1.5, 2, SHAPE(2, 3)),
                      tt_param(142, -1, 1, 2, SHAPE(2, 3))};
  nctx c = {3, NULL, NULL};
  CHECK_GRAD(f_norm, &c, in, 3);
  CHECK_GRADGRAD(f_norm, &c, in, 3);
  /* weight only (bias not requiring grad is still used) */
  CHECK_OK(sg_set_requires_grad(in[2], false));
  CHECK_GRAD(f_norm, &c, in, 3);
  CHECK_GRADGRAD(f_norm, &c, in, 3);
  c.kind = 4;
  CHECK_GRAD(f_norm, &c, in, 1);
  CHECK_GRADGRAD(f_norm, &c, in, 1);
  sg_release_all(in, 3);
  sg_release(rm);
  sg_release(rv);
}

/* The first-order fused backward and the composite (create_graph) formula
 * agree on a float32 input large enough for the parallel kernels. */
static void fused_matches_composite(void) {
  for (int kind = 0; kind < 4; kind++) {
    int64_t shape[4] = {4, 16, 24, 24};
    sg_tensor *x = tt_uniform(200 + kind, SG_FLOAT32, -2, 3, 4, shape);
    sg_tensor *w = kind == 3 ? tt_uniform(201, SG_FLOAT32, 0.5, 1.5, 2, SHAPE(24, 24))
                             : tt_uniform(201, SG_FLOAT32, 0.5, 1.5, 1, SHAPE(16));
    sg_tensor *b = kind == 3 ? tt_uniform(202, SG_FLOAT32, -1, 1, 2, SHAPE(24, 24))
                             : tt_uniform(202, SG_FLOAT32, -1, 1, 1, SHAPE(16));
    sg_tensor *rm = tt_uniform(203, SG_FLOAT32, -1, 1, 1, SHAPE(16));
    sg_tensor *rv = tt_uniform(204, SG_FLOAT32, 0.5, 2, 1, SHAPE(16));
    sg_tensor *gy = tt_uniform(205, SG_FLOAT32, -1, 1, 4, shape);
    CHECK_OK(sg_set_requires_grad(x, true));
    CHECK_OK(sg_set_requires_grad(w, true));
    CHECK_OK(sg_set_requires_grad(b, true));
    sg_tensor *y = NULL;
    switch (kind) {
      case 0: y = sg_batch_norm(x, rm, rv, w, b, true, 0.1, 1e-5); break;
      case 1: y = sg_batch_norm(x, rm, rv, w, b, false, 0.1, 1e-5); break;
      case 2: y = sg_instance_norm(x, NULL, NULL, w, b, true, 0.1, 1e-5); break;
      default: y = sg_layer_norm(x, SHAPE(24, 24), 2, w, b, 1e-5); break;
    }
    sg_tensor *ins[3] = {x, w, b}, *g1[3] = {0}, *g2[3] = {0};
    if (CHECK(y != NULL)) {
      CHECK_OK(sg_grad(&y, &gy, 1, ins, 3, g1, true, false, false));
      CHECK_OK(sg_grad(&y, &gy, 1, ins, 3, g2, true, true, false));
      for (int k = 0; k < 3; k++)
        if (CHECK(g1[k] && g2[k])) CHECK_CLOSE(g1[k], g2[k], 2e-3, 1e-3);
    }
    sg_release_all(g1, 3);
    sg_release_all(g2, 3);
    sg_tensor *all[] = {x, w, b, rm, rv, gy, y};
    sg_release_all(all, 7);
  }
}

static void fused_matches_composite_f64(void) {
  sg_tensor *rm = tt_from(SG_FLOAT64, VALS(0.5, -1.0, 0.0), 1, SHAPE(3));
  sg_tensor *rv = tt_from(SG_FLOAT64, VALS(2.0, 0.5, 1.0), 1, SHAPE(3));
  for (int kind = 0; kind < 3; kind++) {
    sg_tensor *in[3] = {tt_param(400 + kind, -1, 1, 4, SHAPE(2, 3, 2, 2)),
                        tt_param(410 + kind, 0.5, 1.5, 1, SHAPE(3)),
                        tt_param(420 + kind, -1, 1, 1, SHAPE(3))};
    nctx c = {kind, rm, rv};
    check_paths_agree(f_norm, &c, in, 3);
    check_paths_agree(f_norm, &c, in, 1);
    sg_release_all(in, 3);
  }
  sg_tensor *in[3] = {tt_param(430, -1, 1, 3, SHAPE(2, 2, 3)), tt_param(431, 0.5, 1.5, 2, SHAPE(2, 3)),
                      tt_param(432, -1, 1, 2, SHAPE(2, 3))};
  nctx c = {3, NULL, NULL};
  check_paths_agree(f_norm, &c, in, 3);
  c.kind = 4;
  check_paths_agree(f_norm, &c, in, 1);
  sg_release_all(in, 3);
  sg_release(rm);
  sg_release(rv);
}

/* ---- batch norm fused with an activation ---- */

typedef struct {
  sg_activation act;
  double slope;
  bool training;
  sg_tensor *rm, *rv;
} actx;

static sg_tensor *f_bn_act(sg_tensor **in, int n, void *ctx) {
  actx *c = ctx;
  return sg_batch_norm_act(in[0], c->rm, c->rv, n > 1 ? in[1] : NULL, n > 2 ? in[2] : NULL,
                           c->training, 0.1, 1e-5, c->act, c->slope);
}

static sg_tensor *f_bn_then_act(sg_tensor **in, int n, void *ctx) {
  actx *c = ctx;
  sg_tensor *z = sg_batch_norm(in[0], c->rm, c->rv, n > 1 ? in[1] : NULL, n > 2 ? in[2] : NULL,
                               c->training, 0.1, 1e-5);
  if (!z || c->act == SG_ACT_NONE) return z;
  sg_tensor *y = c->act == SG_ACT_RELU ? sg_relu(z) : sg_leaky_relu(z, c->slope);
  sg_release(z);
  return y;
}

/* The fused op against batch_norm then relu / leaky_relu: outputs and the
 * running statistics equal bit for bit, the first-order gradients of x, w
 * and b to rounding, for the per-group kernels (long groups) and the column kernels
 * (short groups, B < 16), float32 and float64, training and eval mode, and
 * a negative slope (not fused: the two ops in turn). */
static void batch_norm_act_matches_unfused(void) {
  const struct {
    sg_activation act;
    double slope;
    bool training;
  } modes[] = {{SG_ACT_RELU, 0, true},         {SG_ACT_LEAKY_RELU, 0.2, true},
               {SG_ACT_LEAKY_RELU, 0.0, true},  {SG_ACT_LEAKY_RELU, 0.01, true},
               {SG_ACT_LEAKY_RELU, 0.2, false}, {SG_ACT_LEAKY_RELU, -0.5, true},
               {SG_ACT_NONE, 0, true}};
  const int64_t shapes[2][4] = {{4, 16, 24, 24}, {64, 16, 2, 2}};
  sg_dtype dts[2] = {SG_FLOAT32, SG_FLOAT64};
  for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
    for (int sh = 0; sh < 2; sh++)
      for (int d = 0; d < 2; d++) {
        sg_dtype dt = dts[d];
        uint64_t seed = 500 + 10 * m + 3 * (uint64_t)sh + (uint64_t)d;
        sg_tensor *x = tt_uniform(seed, dt, -2, 3, 4, shapes[sh]);
        sg_tensor *w = tt_uniform(seed + 1, dt, 0.5, 1.5, 1, SHAPE(16));
        sg_tensor *b = tt_uniform(seed + 2, dt, -1, 1, 1, SHAPE(16));
        sg_tensor *gy = tt_uniform(seed + 3, dt, -1, 1, 4, shapes[sh]);
        CHECK_OK(sg_set_requires_grad(x, true));
        CHECK_OK(sg_set_requires_grad(w, true));
        CHECK_OK(sg_set_requires_grad(b, true));
        sg_tensor *out[2] = {0}, *g[2][3] = {{0}}, *rm[2], *rv[2];
        for (int k = 0; k < 2; k++) {
          rm[k] = tt_uniform(seed + 4, dt, -1, 1, 1, SHAPE(16));
          rv[k] = tt_uniform(seed + 5, dt, 0.5, 2, 1, SHAPE(16));
          actx c = {modes[m].act, modes[m].slope, modes[m].training, rm[k], rv[k]};
          sg_tensor *in[3] = {x, w, b};
          out[k] = k == 0 ? f_bn_act(in, 3, &c) : f_bn_then_act(in, 3, &c);
          if (CHECK(out[k] != NULL))
            CHECK_OK(sg_grad(&out[k], &gy, 1, in, 3, g[k], true, false, false));
        }
        if (out[0] && out[1]) CHECK_CLOSE(out[0], out[1], 0, 0);
        CHECK_CLOSE(rm[0], rm[1], 0, 0);
        CHECK_CLOSE(rv[0], rv[1], 0, 0);
        /* the gradients' group sums may round differently (the compiler
         * vectorizes the two reductions differently) */
        const double tol = dt == SG_FLOAT32 ? 1e-5 : 1e-12;
        for (int k = 0; k < 3; k++)
          if (CHECK(g[0][k] && g[1][k])) CHECK_CLOSE(g[0][k], g[1][k], tol, tol);
        sg_release_all(out, 2);
        sg_release_all(g[0], 3);
        sg_release_all(g[1], 3);
        sg_release_all(rm, 2);
        sg_release_all(rv, 2);
        sg_release_all((sg_tensor *[]){x, w, b, gy}, 4);
      }
}

/* float64 gradients against finite differences, second order through the
 * composite path, and the fused first-order gradients against it. */
static void batch_norm_act_gradients(void) {
  const sg_activation acts[2] = {SG_ACT_RELU, SG_ACT_LEAKY_RELU};
  for (int a = 0; a < 2; a++) {
    actx c = {acts[a], 0.2, true, NULL, NULL};
    /* long groups (B = 20) and short ones (B = 2) */
    const int64_t shapes[2][4] = {{2, 3, 4, 5}, {4, 3, 1, 2}};
    for (int sh = 0; sh < 2; sh++) {
      sg_tensor *in[3] = {tt_param(600 + 10 * a + sh, -1, 1, 4, shapes[sh]),
                          tt_param(610 + 10 * a + sh, 0.5, 1.5, 1, SHAPE(3)),
                          tt_param(620 + 10 * a + sh, -1, 1, 1, SHAPE(3))};
      CHECK_GRAD(f_bn_act, &c, in, 3);
      CHECK_GRADGRAD(f_bn_act, &c, in, 3);
      check_paths_agree(f_bn_act, &c, in, 3);
      sg_release_all(in, 3);
    }
  }
}

static void large_statistics(void) {
  /* float32 with a large offset: per-channel mean 0 and variance 1 after
   * batch norm (two-pass statistics in double) */
  int64_t shape[4] = {2, 8, 64, 64};
  sg_tensor *u = tt_uniform(300, SG_FLOAT32, -1, 1, 4, shape);
  sg_tensor *x = sg_add_scalar(u, 1000.0);
  sg_tensor *y = sg_batch_norm(x, NULL, NULL, NULL, NULL, true, 0.1, 0);
  if (CHECK(y != NULL)) {
    sg_tensor *m = sg_sum(y, (const int[]){0, 2, 3}, 3, false);
    sg_tensor *y2 = sg_mul(y, y);
    sg_tensor *v = sg_sum(y2, (const int[]){0, 2, 3}, 3, false);
    double n = 2.0 * 64 * 64;
    for (int c = 0; c < 8; c++) {
      CHECK_NEAR(sg_get_flat(m, c) / n, 0, 1e-4);
      CHECK_NEAR(sg_get_flat(v, c) / n, 1, 2e-3);
    }
    sg_tensor *all[] = {m, y2, v};
    sg_release_all(all, 3);
  }
  sg_release(y);
  sg_release(x);
  sg_release(u);
}

static void errors(void) {
  sg_tensor *x = sg_zeros(SHAPE(2, 3, 4, 4), 4, SG_FLOAT32, sg_cpu_device());
  sg_tensor *x1 = sg_zeros(SHAPE(3), 1, SG_FLOAT32, sg_cpu_device());
  sg_tensor *w4 = sg_zeros(SHAPE(4), 1, SG_FLOAT32, sg_cpu_device());
  sg_tensor *w3d = sg_zeros(SHAPE(3), 1, SG_FLOAT64, sg_cpu_device());
  sg_tensor *r3 = sg_zeros(SHAPE(3), 1, SG_FLOAT32, sg_cpu_device());
  sg_tensor *xi = sg_zeros(SHAPE(2, 3), 2, SG_INT64, sg_cpu_device());
  sg_tensor *one = sg_zeros(SHAPE(1, 3, 1, 1), 4, SG_FLOAT32, sg_cpu_device());
  CHECK_FAILS(sg_batch_norm(NULL, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), "batch_norm");
  CHECK_FAILS(sg_batch_norm(x1, NULL, NULL, NULL, NULL, true, 0.1, 1e-5),
              "batch_norm: input has 1 dims (3), expected at least 2");
  CHECK_FAILS(sg_batch_norm(x, NULL, NULL, w4, NULL, true, 0.1, 1e-5),
              "batch_norm: weight has shape 4, expected 3 (the channels of input 2x3x4x4)");
  CHECK_FAILS(sg_batch_norm(x, NULL, NULL, NULL, w4, true, 0.1, 1e-5), "bias has shape 4");
  CHECK_FAILS(sg_batch_norm(x, w4, r3, NULL, NULL, true, 0.1, 1e-5), "running_mean has shape 4");
  CHECK_FAILS(sg_batch_norm(x, NULL, NULL, w3d, NULL, true, 0.1, 1e-5),
              "weight has dtype float64, expected float32");
  CHECK_FAILS(sg_batch_norm(x, NULL, NULL, NULL, NULL, false, 0.1, 1e-5),
              "required in eval mode");
  CHECK_FAILS(sg_batch_norm(x, r3, NULL, NULL, NULL, true, 0.1, 1e-5), "given together");
  CHECK_FAILS(sg_batch_norm(one, NULL, NULL, NULL, NULL, true, 0.1, 1e-5),
              "expected more than 1 value per channel when training, got input of shape 1x3x1x1");
  CHECK_FAILS(sg_batch_norm(xi, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), "expected float32");
  CHECK_FAILS(sg_instance_norm(one, NULL, NULL, NULL, NULL, true, 0.1, 1e-5),
              "instance_norm: expected more than 1 spatial element");
  CHECK_FAILS(sg_instance_norm(x, NULL, NULL, w4, NULL, true, 0.1, 1e-5),
              "instance_norm: weight has shape 4, expected 3");
  CHECK_FAILS(sg_instance_norm(x, NULL, NULL, NULL, NULL, false, 0.1, 1e-5),
              "required when use_input_stats is false");
  CHECK_FAILS(sg_layer_norm(x, SHAPE(4, 5), 2, NULL, NULL, 1e-5),
              "layer_norm: input of shape 2x3x4x4 does not end with normalized_shape 4x5");
  CHECK_FAILS(sg_layer_norm(x, SHAPE(4), 1, w4, r3, 1e-5),
              "layer_norm: bias has shape 3, expected normalized_shape 4");
  CHECK_FAILS(sg_layer_norm(x, SHAPE(4), 0, NULL, NULL, 1e-5), "normalized_shape has 0 dims");
  CHECK_FAILS(sg_layer_norm(x, SHAPE(4), 1, NULL, NULL, -1), "eps");
  sg_tensor *all[] = {x, x1, w4, w3d, r3, xi, one};
  sg_release_all(all, 7);
}

int main(void) {
  RUN(batch_norm_values);
  RUN(batch_norm_2d_input);
  RUN(instance_norm_values);
  RUN(layer_norm_values);
  RUN(norm_gradients);
  RUN(fused_matches_composite);
  RUN(fused_matches_composite_f64);
  RUN(batch_norm_act_matches_unfused);
  RUN(batch_norm_act_gradients);
  RUN(large_statistics);
  RUN(errors);
  return sg_test_finish();
}
