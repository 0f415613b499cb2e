/* Elementwise ops: values, broadcasting, promotion, gradients (first and
 * second order) and errors. */
#include "harness.h"

static void binary_values(void) {
  sg_tensor *a = tt_from(SG_FLOAT32, VALS(1, 2, 3, 4, 5, 6), 2, SHAPE(2, 3));
  sg_tensor *b = tt_from(SG_FLOAT32, VALS(10, 20, 30), 1, SHAPE(3));
  sg_tensor *c = tt_from(SG_FLOAT32, VALS(2, 4), 2, SHAPE(2, 1));
  sg_tensor *r = sg_add(a, b);
  CHECK_VALUES(r, VALS(11, 22, 33, 14, 25, 36), 6, 0);
  sg_release(r);
  r = sg_sub(a, c);
  CHECK_VALUES(r, VALS(-1, 0, 1, 0, 1, 2), 6, 0);
  sg_release(r);
  r = sg_mul(c, b);
  CHECK(r && r->shape[0] == 2 && r->shape[1] == 3);
  CHECK_VALUES(r, VALS(20, 40, 60, 40, 80, 120), 6, 0);
  sg_release(r);
  r = sg_div(a, c);
  CHECK_VALUES(r, VALS(0.5, 1, 1.5, 1, 1.25, 1.5), 6, 1e-7);
  sg_release(r);
  r = sg_pow(c, c);
  CHECK_VALUES(r, VALS(4, 256), 2, 1e-4);
  sg_release(r);
  sg_tensor *k = sg_scalar_tensor(3.5, SG_FLOAT32, sg_cpu_device());
  r = sg_maximum(a, k);
  CHECK_VALUES(r, VALS(3.5, 3.5, 3.5, 4, 5, 6), 6, 0);
  sg_release(r);
  sg_release(k);
  r = sg_cmp_scalar(SG_GT, a, 3);
  CHECK(r && r->dtype == SG_BOOL);
  CHECK_VALUES(r, VALS(0, 0, 0, 1, 1, 1), 6, 0);
  sg_release(r);
  r = sg_rsub_scalar(1, a);
  CHECK_VALUES(r, VALS(0, -1, -2, -3, -4, -5), 6, 0);
  sg_release(r);
  r = sg_rdiv_scalar(6, a);
  CHECK_VALUES(r, VALS(6, 3, 2, 1.5, 1.2, 1), 6, 1e-6);
  sg_release(r);
  r = sg_pow_scalar(a, 0.5);
  CHECK_VALUES(r, VALS(1, 1.41421356, 1.73205081, 2, 2.23606798, 2.44948974), 6, 1e-6);
  sg_release(r);
  sg_release(a);
  sg_release(b);
  sg_release(c);
}

static void promotion(void) {
  sg_tensor *i = tt_from(SG_INT64, VALS(1, 2, 3), 1, SHAPE(3));
  sg_tensor *f = tt_from(SG_FLOAT32, VALS(0.5, 0.5, 0.5), 1, SHAPE(3));
  sg_tensor *r = sg_add(i, f);
  CHECK(r && r->dtype == SG_FLOAT32);
  CHECK_VALUES(r, VALS(1.5, 2.5, 3.5), 3, 0);
  sg_release(r);
  r = sg_div(i, i);
  CHECK(r && r->dtype == SG_FLOAT32);
  sg_release(r);
  r = sg_mul_scalar(i, 2);
  CHECK(r && r->dtype == SG_INT64);
  CHECK_VALUES(r, VALS(2, 4, 6), 3, 0);
  sg_release(r);
  r = sg_mul_scalar(i, 0.5);
  CHECK(r && r->dtype == SG_FLOAT32);
  sg_release(r);
  r = sg_exp(i);
  CHECK(r && r->dtype == SG_FLOAT32);
  sg_release(r);
  sg_release(i);
  sg_release(f);
}

static void unary_values(void) {
  sg_tensor *x = tt_from(SG_FLOAT64, VALS(-2, -0.5, 0, 0.5, 2), 1, SHAPE(5));
  sg_tensor *r = sg_relu(x);
  CHECK_VALUES(r, VALS(0, 0, 0, 0.5, 2), 5, 0);
  sg_release(r);
  r = sg_leaky_relu(x, 0.2);
  CHECK_VALUES(r, VALS(-0.4, -0.1, 0, 0.5, 2), 5, 1e-12);
  sg_release(r);
  r = sg_sigmoid(x);
  CHECK_VALUES(r, VALS(0.11920292202, 0.37754066880, 0.5, 0.62245933120, 0.88079707798), 5, 1e-10);
  sg_release(r);
  r = sg_softplus(x);
  CHECK_VALUES(r, VALS(0.12692801104, 0.47407698418, 0.69314718056, 0.97407698418, 2.12692801104), 5, 1e-10);
  sg_release(r);
  r = sg_erf(x); /* torch.erf */
  CHECK_VALUES(r, VALS(-0.9953222650189527, -0.5204998778130465, 0, 0.5204998778130465, 0.9953222650189527), 5, 1e-14);
  sg_release(r);
  r = sg_clamp(x, -1, NAN);
  CHECK_VALUES(r, VALS(-1, -0.5, 0, 0.5, 2), 5, 0);
  sg_release(r);
  r = sg_sign(x);
  CHECK_VALUES(r, VALS(-1, -1, 0, 1, 1), 5, 0);
  sg_release(r);
  sg_tensor *m = sg_cmp_scalar(SG_LT, x, 0);
  r = sg_masked_fill(x, m, 7);
  CHECK_VALUES(r, VALS(7, 7, 0, 0.5, 2), 5, 0);
  sg_release(r);
  sg_tensor *y = sg_neg(x);
  r = sg_where(m, x, y);
  CHECK_VALUES(r, VALS(-2, -0.5, -0, -0.5, -2), 5, 0);
  sg_release(r);
  sg_release(y);
  sg_release(m);
  sg_release(x);
}

static void large_parallel(void) {
  /* enough elements to take the OpenMP path, with a broadcast operand */
  int64_t n = 1 << 18;
  sg_tensor *a = sg_full(SHAPE(n / 64, 64), 2, 1.5, SG_FLOAT32, sg_cpu_device());
  sg_tensor *b = sg_arange(0, 64, 1, SG_FLOAT32, sg_cpu_device());
  sg_tensor *r = sg_mul(a, b);
  CHECK(r != NULL);
  if (r) {
    CHECK_NEAR(sg_get_flat(r, n - 1), 1.5 * 63, 0);
    CHECK_NEAR(sg_get_flat(r, 12345), 1.5 * (12345 % 64), 0);
    sg_tensor *s = sg_sum(r, NULL, 0, false);
    CHECK_NEAR(sg_get_flat(s, 0), 1.5 * (n / 64) * (63 * 64 / 2), 1);
    sg_release(s);
  }
  sg_release(a);
  sg_release(b);
  sg_release(r);
}

static void errors(void) {
  sg_tensor *a = sg_zeros(SHAPE(2, 3), 2, SG_FLOAT32, sg_cpu_device());
  sg_tensor *b = sg_zeros(SHAPE(4), 1, SG_FLOAT32, sg_cpu_device());
  CHECK_FAILS(sg_add(a, b), "add: shapes 2x3 and 4 cannot be broadcast");
  /* the dim is named counted from the end, which reads the same 0- or 1-based */
  CHECK_FAILS(sg_add(a, b), "(sizes 3 vs 4 at dim -1, counted from the end)");
  CHECK_FAILS(sg_add(a, NULL), "missing");
  CHECK_FAILS(sg_clamp(a, 2, 1), "greater than max");
  CHECK_FAILS(sg_masked_fill(a, a, 0), "expected bool");
  sg_tensor *i = sg_zeros(SHAPE(2), 1, SG_INT64, sg_cpu_device());
  CHECK_FAILS(sg_leaky_relu(i, 0.1), "expected float32 or float64");
  CHECK_STATUS_FAILS(sg_set_requires_grad(i, true), "only float tensors");
  sg_release(a);
  sg_release(b);
  sg_release(i);
}

/* ---- gradient checks ---- */

typedef struct {
  int op;
  double s;
} opctx;

static sg_tensor *f_unary(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_unary((sg_unary_op)((opctx *)ctx)->op, in[0]);
}

static sg_tensor *f_binary(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_binary((sg_binary_op)((opctx *)ctx)->op, in[0], in[1]);
}

static void unary_gradients(void) {
  const sg_unary_op ops[] = {SG_NEG,  SG_ABS,     SG_EXP,    SG_LOG,   SG_SQRT,
                             SG_RSQRT, SG_SIN,    SG_COS,    SG_TANH,  SG_SIGMOID,
                             SG_RELU, SG_RECIPROCAL, SG_SQUARE, SG_LOG1P, SG_EXPM1,
                             SG_SOFTPLUS, SG_ERF};
  for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
    /* positive inputs away from kinks keep log/sqrt/abs/relu smooth */
    sg_tensor *x = tt_param(k + 1, 0.2, 1.5, 2, SHAPE(2, 3));
    opctx c = {ops[k], 0};
    CHECK_GRAD(f_unary, &c, &x, 1);
    CHECK_GRADGRAD(f_unary, &c, &x, 1);
    sg_release(x);
  }
  /* negative side for the sign-dependent ones */
  const sg_unary_op neg_ops[] = {SG_ABS, SG_RELU, SG_SOFTPLUS, SG_TANH, SG_ERF};
  for (size_t k = 0; k < sizeof neg_ops / sizeof neg_ops[0]; k++) {
    sg_tensor *x = tt_param(k + 40, -1.5, -0.2, 1, SHAPE(4));
    opctx c = {neg_ops[k], 0};
    CHECK_GRAD(f_unary, &c, &x, 1);
    CHECK_GRADGRAD(f_unary, &c, &x, 1);
    sg_release(x);
  }
}

static void binary_gradients(void) {
  const sg_binary_op ops[] = {SG_ADD, SG_SUB, SG_MUL, SG_DIV, SG_POW, SG_MAXIMUM, SG_MINIMUM};
  for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
    /* broadcasting in both operands */
    sg_tensor *in[2] = {tt_param(10 + k, 0.3, 1.7, 2, SHAPE(2, 3)),
                        tt_param(20 + k, 0.3, 1.7, 2, SHAPE(1, 3))};
    opctx c = {ops[k], 0};
    CHECK_GRAD(f_binary, &c, in, 2);
    CHECK_GRADGRAD(f_binary, &c, in, 2);
    sg_release_all(in, 2);
  }
}

static sg_tensor *f_leaky(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  return sg_leaky_relu(in[0], 0.2);
}

static sg_tensor *f_clamp(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  return sg_clamp(in[0], -0.5, 0.5);
}

static sg_tensor *f_where(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  sg_tensor *m = sg_cmp_scalar(SG_GT, in[0], 0);
  sg_tensor *r = sg_where(m, in[0], in[1]);
  sg_release(m);
  return r;
}

static sg_tensor *f_scalar_ops(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  sg_tensor *a = sg_mul_scalar(in[0], 3);
  sg_tensor *b = sg_rdiv_scalar(2, in[0]);
  sg_tensor *c = sg_pow_scalar(in[0], 2.5);
  sg_tensor *d = sg_rpow_scalar(1.7, in[0]);
  sg_tensor *ab = sg_add(a, b), *cd = sg_sub(c, d);
  sg_tensor *r = sg_mul(ab, cd);
  sg_tensor *all[] = {a, b, c, d, ab, cd};
  sg_release_all(all, 6);
  return r;
}

static sg_tensor *f_views(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  /* transpose, narrow, select, expand, reshape, and a sum with keepdim */
  sg_tensor *t = sg_transpose(in[0], 0, 1);            /* 4x3 */
  sg_tensor *nr = sg_narrow(t, 0, 1, 2);               /* 2x3 */
  sg_tensor *s = sg_select(in[0], 1, 2);               /* 3 */
  sg_tensor *e = sg_expand(s, SHAPE(2, 3), 2);
  sg_tensor *p = sg_mul(nr, e);
  sg_tensor *r = sg_reshape(p, SHAPE(3, 2), 2);
  sg_tensor *q = sg_sum(r, (const int[]){1}, 1, true);
  sg_tensor *all[] = {t, nr, s, e, p, r};
  sg_release_all(all, 6);
  return q;
}

static void other_gradients(void) {
  sg_tensor *x = tt_param(3, -1, 1, 2, SHAPE(3, 4));
  sg_tensor *y = tt_param(4, -1, 1, 2, SHAPE(3, 4));
  CHECK_GRAD(f_leaky, NULL, &x, 1);
  CHECK_GRADGRAD(f_leaky, NULL, &x, 1);
  CHECK_GRAD(f_clamp, NULL, &x, 1);
  CHECK_GRADGRAD(f_clamp, NULL, &x, 1);
  sg_tensor *xy[2] = {x, y};
  CHECK_GRAD(f_where, NULL, xy, 2);
  CHECK_GRADGRAD(f_where, NULL, xy, 2);
  CHECK_GRAD(f_views, NULL, &x, 1);
  CHECK_GRADGRAD(f_views, NULL, &x, 1);
  sg_tensor *p = tt_param(5, 0.5, 2, 1, SHAPE(5));
  CHECK_GRAD(f_scalar_ops, NULL, &p, 1);
  CHECK_GRADGRAD(f_scalar_ops, NULL, &p, 1);
  sg_release(x);
  sg_release(y);
  sg_release(p);
}

/* The one-pass first-order gradient of relu / leaky_relu (used when no
 * graph is built) equals the composed one (create_graph) bit for bit, on
 * contiguous and strided inputs, float32 and float64, zeros included. */
static void activation_backward_fused(void) {
  sg_dtype dts[2] = {SG_FLOAT32, SG_FLOAT64};
  const double slopes[4] = {0.2, 0.01, 0.0, -1.0}; /* -1: relu */
  for (int d = 0; d < 2; d++)
    for (int k = 0; k < 4; k++)
      for (int strided = 0; strided < 2; strided++) {
        sg_tensor *base = tt_uniform(700 + 8 * (uint64_t)d + 2 * (uint64_t)k + (uint64_t)strided,
                                     dts[d], -1, 1, 2, SHAPE(37, 29));
        /* exact zeros: the kink */
        sg_tensor *z = sg_narrow(base, 0, 0, 3);
        CHECK_OK(sg_fill_(z, 0.0));
        sg_release(z);
        sg_tensor *x = strided ? sg_transpose(base, 0, 1) : sg_retain(base);
        sg_tensor *xl = sg_detach(x);
        CHECK_OK(sg_set_requires_grad(xl, true));
        sg_tensor *y = slopes[k] < 0 ? sg_relu(xl) : sg_leaky_relu(xl, slopes[k]);
        sg_tensor *gy = tt_uniform(800, dts[d], -1, 1, y->ndim, y->shape);
        sg_tensor *g1 = NULL, *g2 = NULL;
        CHECK_OK(sg_grad(&y, &gy, 1, &xl, 1, &g1, true, false, false));
        CHECK_OK(sg_grad(&y, &gy, 1, &xl, 1, &g2, true, true, false));
        if (CHECK(g1 && g2)) CHECK_CLOSE(g1, g2, 0, 0);
        sg_release_all((sg_tensor *[]){base, x, xl, y, gy, g1, g2}, 7);
      }
}

/* int64 at its edges, where C leaves overflow undefined: + - * neg abs pow
 * and sums wrap (through uint64), clamp bounds and float -> int64
 * conversions and fills saturate, NaN -> 0 (elementwise_cpu.c); the CUDA
 * kernels follow the same rules (test_backend_ops' "int64 wrap and
 * saturation" case compares them). */
static void int64_edges(void) {
  const int64_t v[3] = {INT64_MAX, INT64_MIN, -7};
  sg_tensor *x = sg_from_data(v, SHAPE(3), 1, SG_INT64);
  sg_tensor *e = sg_full(SHAPE(3), 1, 39, SG_INT64, sg_cpu_device());
  sg_tensor *r[9] = {sg_add(x, x), sg_neg(x), sg_abs(x), sg_mul(x, x), sg_pow(x, e),
                     sg_sum(x, NULL, 0, false), sg_clamp(x, -1e30, 1e30), sg_clamp(x, 1e30, NAN),
                     sg_full(SHAPE(1), 1, NAN, SG_INT64, sg_cpu_device())};
  const int64_t want[9][3] = {
      {-2, 0, -14},                                   /* wrapped sums */
      {INT64_MIN + 1, INT64_MIN, 7},                  /* -INT64_MIN is INT64_MIN */
      {INT64_MAX, INT64_MIN, 7},
      {1, 0, 49},                                     /* (2^63 - 1)^2 mod 2^64 = 1 */
      {INT64_MAX, 0, 0},                              /* (-7)^39: below */
      {-8},                                           /* INT64_MAX + INT64_MIN - 7 */
      {INT64_MAX, INT64_MIN, -7},                     /* bounds past int64 saturate */
      {INT64_MAX, INT64_MAX, INT64_MAX},
      {0}};                                           /* NaN fills 0 */
  const int n[9] = {3, 3, 3, 3, 3, 1, 3, 3, 1};
  for (int k = 0; k < 9; k++) {
    CHECK(r[k] != NULL && r[k]->dtype == SG_INT64 && sg_numel(r[k]) == n[k]);
    for (int i = 0; r[k] && i < n[k] && i < sg_numel(r[k]); i++) {
      int64_t got = ((const int64_t *)sg_data_ptr(r[k]))[i];
      if (k == 4 && i == 2) continue; /* (-7)^39 overflows: checked below */
      if (got != want[k][i]) {
        char msg[160];
        snprintf(msg, sizeof msg, "int64 edge result %d element %d: %lld, expected %lld", k, i,
                 (long long)got, (long long)want[k][i]);
        CHECK(sg_test_check(false, msg, __FILE__, __LINE__));
      }
    }
  }
  /* (-7)^39 wraps like 39 wrapping products */
  uint64_t p = 1;
  for (int i = 0; i < 39; i++) p *= (uint64_t)(int64_t)-7;
  CHECK(r[4] && ((const int64_t *)sg_data_ptr(r[4]))[2] == (int64_t)p);
  /* floats to int64 saturate, NaN -> 0, fractions truncate */
  sg_tensor *f = tt_from(SG_FLOAT64, VALS(1e30, -1e30, NAN, -2.7), 1, SHAPE(4));
  sg_tensor *fi = sg_to_dtype(f, SG_INT64);
  const int64_t wf[4] = {INT64_MAX, INT64_MIN, 0, -2};
  for (int i = 0; fi && i < 4; i++) CHECK(((const int64_t *)sg_data_ptr(fi))[i] == wf[i]);
  /* uint8 clamp bounds saturate to 0..255 instead of wrapping */
  sg_tensor *u = tt_from(SG_UINT8, VALS(0, 7, 255), 1, SHAPE(3));
  sg_tensor *uc = sg_clamp(u, -5, 300);
  CHECK_VALUES(uc, VALS(0, 7, 255), 3, 0);
  sg_release_all(r, 9);
  sg_tensor *rest[6] = {x, e, f, fi, u, uc};
  sg_release_all(rest, 6);
}

int main(void) {
  RUN(binary_values);
  RUN(promotion);
  RUN(unary_values);
  RUN(large_parallel);
  RUN(errors);
  RUN(unary_gradients);
  RUN(binary_gradients);
  RUN(other_gradients);
  RUN(activation_backward_fused);
  RUN(int64_edges);
  return sg_test_finish();
}
