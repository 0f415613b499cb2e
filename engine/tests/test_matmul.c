/* Matrix products: matmul in all its forms, mm, bmm, outer, linear: values,
 * strided operands, gradients (first and second order) and errors. */
#include "harness.h"

#include <stdlib.h>

/* Reference product of a (M x K) and b (K x N), any layout, in double. */
static double *ref_mm(const sg_tensor *a, const sg_tensor *b) {
  int64_t M = a->shape[0], K = a->shape[1], N = b->shape[1];
  sg_tensor *ca = sg_contiguous((sg_tensor *)a), *cb = sg_contiguous((sg_tensor *)b);
  double *r = calloc((size_t)(M * N + 1), sizeof(double));
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = 0;
      for (int64_t k = 0; k < K; k++) s += sg_get_flat(ca, i * K + k) * sg_get_flat(cb, k * N + j);
      r[i * N + j] = s;
    }
  sg_release(ca);
  sg_release(cb);
  return r;
}

static void values_2d(void) {
  sg_dtype dts[] = {SG_FLOAT32, SG_FLOAT64, SG_INT64};
  for (int d = 0; d < 3; d++) {
    sg_tensor *a = tt_from(dts[d], VALS(1, 2, 3, 4, 5, 6), 2, SHAPE(2, 3));
    sg_tensor *b = tt_from(dts[d], VALS(7, 8, 9, 10, 11, 12), 2, SHAPE(3, 2));
    sg_tensor *r = sg_matmul(a, b);
    CHECK(r && r->dtype == dts[d] && r->ndim == 2 && r->shape[0] == 2 && r->shape[1] == 2);
    CHECK_VALUES(r, VALS(58, 64, 139, 154), 4, 0);
    sg_release(r);
    r = sg_mm(b, a); /* 3x2 @ 2x3 */
    CHECK_VALUES(r, VALS(39, 54, 69, 49, 68, 87, 59, 82, 105), 9, 0);
    sg_release(r);
    sg_release(a);
    sg_release(b);
  }
}

static void values_vectors(void) {
  sg_tensor *v = tt_from(SG_FLOAT32, VALS(1, 2, 3), 1, SHAPE(3));
  sg_tensor *u = tt_from(SG_FLOAT32, VALS(4, 5, 6), 1, SHAPE(3));
  sg_tensor *m = tt_from(SG_FLOAT32, VALS(1, 0, 2, -1, 3, 1), 2, SHAPE(3, 2));
  sg_tensor *mt = tt_from(SG_FLOAT32, VALS(1, -1, 0, 3, 2, 1), 2, SHAPE(2, 3));
  sg_tensor *r = sg_matmul(v, u); /* dot */
  CHECK(r && r->ndim == 0);
  CHECK_VALUES(r, VALS(32), 1, 0);
  sg_release(r);
  r = sg_matmul(v, m); /* 1-D @ 2-D */
  CHECK(r && r->ndim == 1 && r->shape[0] == 2);
  CHECK_VALUES(r, VALS(14, 1), 2, 0);
  sg_release(r);
  r = sg_matmul(mt, v); /* 2-D @ 1-D */
  CHECK(r && r->ndim == 1 && r->shape[0] == 2);
  CHECK_VALUES(r, VALS(-1, 10), 2, 0);
  sg_release(r);
  r = sg_outer(v, u);
  CHECK(r && r->ndim == 2 && r->shape[0] == 3 && r->shape[1] == 3);
  CHECK_VALUES(r, VALS(4, 5, 6, 8, 10, 12, 12, 15, 18), 9, 0);
  sg_release(r);
  /* 1-D @ batched: (3) @ (2x3x2) -> 2x2 */
  sg_tensor *bm = tt_from(SG_FLOAT32, VALS(1, 0, 2, -1, 3, 1, 0, 1, 1, 0, 1, 1), 3, SHAPE(2, 3, 2));
  r = sg_matmul(v, bm);
  CHECK(r && r->ndim == 2 && r->shape[0] == 2 && r->shape[1] == 2);
  CHECK_VALUES(r, VALS(14, 1, 5, 4), 4, 0);
  sg_release(r);
  /* batched @ 1-D: (2x3x2)^T... use (2x2x3) @ (3) */
  sg_tensor *bt = sg_transpose(bm, 1, 2);
  r = sg_matmul(bt, v);
  CHECK(r && r->ndim == 2 && r->shape[0] == 2 && r->shape[1] == 2);
  CHECK_VALUES(r, VALS(14, 1, 5, 4), 4, 0);
  sg_release(r);
  sg_release(bt);
  sg_release(bm);
  sg_release(v);
  sg_release(u);
  sg_release(m);
  sg_release(mt);
}

/* Transposed, sliced, expanded (stride 0) operands, checked against a
 * reference product; covers the BLAS transpose flags and the packing path. */
static void strided_operands(void) {
  sg_dtype dts[] = {SG_FLOAT32, SG_FLOAT64, SG_INT64};
  for (int d = 0; d < 3; d++) {
    sg_tensor *base = tt_uniform(1, SG_FLOAT64, -2, 2, 3, SHAPE(5, 7, 2));
    sg_tensor *base_r = sg_mul_scalar(base, 3.0); /* integers after rounding */
    sg_tensor *rounded = sg_unary(SG_ROUND, base_r);
    sg_tensor *bt = sg_to_dtype(rounded, dts[d]);
    sg_tensor *a = sg_select(bt, 2, 0);   /* 5x7, strides (14, 2): packed */
    sg_tensor *at = sg_transpose(a, 0, 1); /* 7x5 */
    sg_tensor *b0 = sg_select(bt, 2, 1);
    sg_tensor *bc = sg_contiguous(b0);     /* 5x7 contiguous */
    sg_tensor *bct = sg_transpose(bc, 0, 1); /* 7x5 transposed: CblasTrans */
    sg_tensor *col = sg_narrow(bc, 1, 2, 1);  /* 5x1 column */
    sg_tensor *ex = sg_expand(col, SHAPE(5, 4), 2); /* 5x4, stride 0 columns */
    const sg_tensor *pairs[][2] = {{a, bct}, {bct, a}, {at, bc}, {bc, at}, {at, ex}, {bct, ex}};
    for (int p = 0; p < 6; p++) {
      sg_tensor *r = sg_matmul((sg_tensor *)pairs[p][0], (sg_tensor *)pairs[p][1]);
      CHECK(r && r->dtype == dts[d]);
      double *e = ref_mm(pairs[p][0], pairs[p][1]);
      if (r) CHECK_VALUES(r, e, sg_numel(r), d == 0 ? 1e-4 : 1e-10);
      free(e);
      sg_release(r);
    }
    /* Vector forms with strided vectors. */
    sg_tensor *vc = sg_select(bc, 1, 3); /* stride 7 vector of 5 */
    sg_tensor *r = sg_matmul(at, vc);
    sg_tensor *vc2 = sg_reshape(vc, SHAPE(5, 1), 2);
    double *e = ref_mm(at, vc2);
    CHECK_VALUES(r, e, 7, d == 0 ? 1e-4 : 1e-10);
    free(e);
    sg_release(r);
    sg_release(vc2);
    r = sg_matmul(vc, a);
    sg_tensor *vr = sg_reshape(vc, SHAPE(1, 5), 2);
    e = ref_mm(vr, a);
    CHECK_VALUES(r, e, 7, d == 0 ? 1e-4 : 1e-10);
    free(e);
    sg_release(r);
    sg_release(vr);
    sg_release(vc);
    sg_release_all((sg_tensor *[]){base, base_r, rounded, bt, a, at, b0, bc, bct, col, ex}, 11);
  }
}

/* Broadcast batches against per-matrix products; also large enough to go
 * through threaded BLAS and the batch-parallel path. */
static void batched(void) {
  int64_t sizes[][3] = {{3, 4, 2}, {40, 50, 30}, {130, 110, 120}};
  for (int s = 0; s < 3; s++) {
    int64_t M = sizes[s][0], K = sizes[s][1], N = sizes[s][2];
    sg_tensor *a = tt_uniform(2, SG_FLOAT32, -1, 1, 4, SHAPE(2, 1, M, K));
    sg_tensor *b = tt_uniform(3, SG_FLOAT32, -1, 1, 3, SHAPE(3, K, N));
    sg_tensor *r = sg_matmul(a, b);
    CHECK(r && r->ndim == 4 && r->shape[0] == 2 && r->shape[1] == 3 && r->shape[2] == M &&
          r->shape[3] == N);
    for (int i = 0; r && i < 2; i++)
      for (int j = 0; j < 3; j++) {
        sg_tensor *ai = sg_select(a, 0, i), *ai2 = sg_select(ai, 0, 0);
        sg_tensor *bj = sg_select(b, 0, j);
        sg_tensor *ri = sg_select(r, 0, i), *rij = sg_select(ri, 0, j);
        double *e = ref_mm(ai2, bj);
        CHECK_VALUES(rij, e, M * N, 1e-4);
        free(e);
        sg_release_all((sg_tensor *[]){ai, ai2, bj, ri, rij}, 5);
      }
    sg_release(r);
    /* bmm agrees with matmul */
    sg_tensor *a3 = sg_reshape(a, SHAPE(2, M, K), 3);
    sg_tensor *b3 = sg_narrow(b, 0, 0, 2);
    sg_tensor *r1 = sg_bmm(a3, b3), *r2 = sg_matmul(a3, b3);
    CHECK(r1 && r2);
    if (r1 && r2) CHECK_CLOSE(r1, r2, 0, 0);
    /* 3-D @ 2-D folds into one GEMM: compare with broadcast batch of 1 */
    sg_tensor *b2 = sg_select(b, 0, 1), *b21 = sg_unsqueeze(b2, 0);
    sg_tensor *f1 = sg_matmul(a3, b2), *f2 = sg_matmul(a3, b21);
    CHECK(f1 && f2);
    if (f1 && f2) CHECK_CLOSE(f1, f2, 1e-5, 1e-5);
    sg_release_all((sg_tensor *[]){a, b, a3, b3, r1, r2, b2, b21, f1, f2}, 10);
  }
  /* Many small matrices (batch-parallel path) with a transposed operand. */
  sg_tensor *a = tt_uniform(4, SG_FLOAT64, -1, 1, 3, SHAPE(37, 6, 5));
  sg_tensor *b = tt_uniform(5, SG_FLOAT64, -1, 1, 3, SHAPE(37, 4, 5));
  sg_tensor *btr = sg_transpose(b, 1, 2);
  sg_tensor *r = sg_bmm(a, btr);
  for (int i = 0; r && i < 37; i += 6) {
    sg_tensor *ai = sg_select(a, 0, i), *bi = sg_select(btr, 0, i), *ri = sg_select(r, 0, i);
    double *e = ref_mm(ai, bi);
    CHECK_VALUES(ri, e, 24, 1e-12);
    free(e);
    sg_release_all((sg_tensor *[]){ai, bi, ri}, 3);
  }
  sg_release_all((sg_tensor *[]){a, b, btr, r}, 4);
}

static void empty_dims(void) {
  sg_tensor *a = sg_zeros(SHAPE(3, 0), 2, SG_FLOAT32, sg_cpu_device());
  sg_tensor *b = sg_zeros(SHAPE(0, 2), 2, SG_FLOAT32, sg_cpu_device());
  sg_tensor *r = sg_matmul(a, b);
  CHECK(r && r->shape[0] == 3 && r->shape[1] == 2);
  CHECK_VALUES(r, VALS(0, 0, 0, 0, 0, 0), 6, 0);
  sg_release(r);
  sg_tensor *c = sg_zeros(SHAPE(2, 3), 2, SG_FLOAT32, sg_cpu_device());
  r = sg_matmul(b, c);
  CHECK(r && r->shape[0] == 0 && r->shape[1] == 3);
  sg_release_all((sg_tensor *[]){a, b, c, r}, 4);
}

static void linear_values(void) {
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(1, 2, 3, 4, 5, 6), 2, SHAPE(2, 3));
  sg_tensor *w = tt_from(SG_FLOAT32, VALS(1, 0, -1, 2, 1, 0), 2, SHAPE(2, 3));
  sg_tensor *b = tt_from(SG_FLOAT32, VALS(10, 20), 1, SHAPE(2));
  sg_tensor *r = sg_linear(x, w, b);
  CHECK(r && r->shape[0] == 2 && r->shape[1] == 2);
  CHECK_VALUES(r, VALS(8, 24, 8, 33), 4, 0);
  sg_release(r);
  r = sg_linear(x, w, NULL);
  CHECK_VALUES(r, VALS(-2, 4, -2, 13), 4, 0);
  sg_release(r);
  sg_tensor *x1 = sg_select(x, 0, 1);
  r = sg_linear(x1, w, b);
  CHECK(r && r->ndim == 1);
  CHECK_VALUES(r, VALS(8, 33), 2, 0);
  sg_release(r);
  sg_tensor *x3 = sg_reshape(x, SHAPE(2, 1, 3), 3);
  r = sg_linear(x3, w, b);
  CHECK(r && r->ndim == 3 && r->shape[0] == 2 && r->shape[1] == 1 && r->shape[2] == 2);
  CHECK_VALUES(r, VALS(8, 24, 8, 33), 4, 0);
  sg_release(r);
  sg_release_all((sg_tensor *[]){x, w, b, x1, x3}, 5);
}

/* ---- gradients ---- */
static sg_tensor *f_matmul(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  return sg_matmul(in[0], in[1]);
}
static sg_tensor *f_matmul_tb(sg_tensor **in, int n, void *ctx) { /* a @ b^T */
  (void)n;
  (void)ctx;
  sg_tensor *bt = sg_transpose(in[1], -1, -2);
  sg_tensor *r = sg_matmul(in[0], bt);
  sg_release(bt);
  return r;
}
static sg_tensor *f_bmm(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  return sg_bmm(in[0], in[1]);
}
static sg_tensor *f_mm(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  return sg_mm(in[0], in[1]);
}
static sg_tensor *f_outer(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  return sg_outer(in[0], in[1]);
}
static sg_tensor *f_linear(sg_tensor **in, int n, void *ctx) {
  (void)ctx;
  return sg_linear(in[0], in[1], n > 2 ? in[2] : NULL);
}

static void grad_pair(sg_fn f, int na, const int64_t *sa, int nb, const int64_t *sb) {
  sg_tensor *in[2] = {tt_param(11, -1, 1, na, sa), tt_param(12, -1, 1, nb, sb)};
  CHECK_GRAD(f, NULL, in, 2);
  CHECK_GRADGRAD(f, NULL, in, 2);
  sg_release_all(in, 2);
}

static void gradients(void) {
  grad_pair(f_matmul, 2, SHAPE(3, 4), 2, SHAPE(4, 2));
  grad_pair(f_matmul, 1, SHAPE(4), 1, SHAPE(4));
  grad_pair(f_matmul, 1, SHAPE(4), 2, SHAPE(4, 3));
  grad_pair(f_matmul, 2, SHAPE(3, 4), 1, SHAPE(4));
  grad_pair(f_matmul, 4, SHAPE(2, 1, 3, 4), 3, SHAPE(3, 4, 2)); /* broadcast batch */
  grad_pair(f_matmul, 3, SHAPE(2, 3, 4), 2, SHAPE(4, 2));       /* folded */
  grad_pair(f_matmul, 2, SHAPE(3, 4), 3, SHAPE(2, 4, 2));       /* 2-D @ batch */
  grad_pair(f_matmul, 1, SHAPE(4), 3, SHAPE(2, 4, 3));
  grad_pair(f_matmul, 3, SHAPE(2, 3, 4), 1, SHAPE(4));
  grad_pair(f_matmul_tb, 3, SHAPE(2, 3, 4), 3, SHAPE(2, 5, 4)); /* transposed operand */
  grad_pair(f_mm, 2, SHAPE(2, 3), 2, SHAPE(3, 5));
  grad_pair(f_bmm, 3, SHAPE(2, 2, 3), 3, SHAPE(2, 3, 2));
  grad_pair(f_outer, 1, SHAPE(3), 1, SHAPE(2));
  sg_tensor *in[3] = {tt_param(21, -1, 1, 3, SHAPE(2, 2, 3)), tt_param(22, -1, 1, 2, SHAPE(4, 3)),
                      tt_param(23, -1, 1, 1, SHAPE(4))};
  CHECK_GRAD(f_linear, NULL, in, 3);
  CHECK_GRADGRAD(f_linear, NULL, in, 3);
  CHECK_GRAD(f_linear, NULL, in, 2);
  CHECK_GRADGRAD(f_linear, NULL, in, 2);
  sg_release_all(in, 3);
}

/* Gradient values by hand: d/dA sum(A @ B) = 1 B^T, d/dB = A^T 1. */
static void gradient_values(void) {
  sg_tensor *a = tt_from(SG_FLOAT64, VALS(1, 2, 3, 4), 2, SHAPE(2, 2));
  sg_tensor *b = tt_from(SG_FLOAT64, VALS(5, 6, 7, 8), 2, SHAPE(2, 2));
  sg_set_requires_grad(a, true);
  sg_set_requires_grad(b, true);
  sg_tensor *r = sg_matmul(a, b);
  sg_tensor *s = sg_sum(r, NULL, 0, false);
  CHECK_OK(sg_backward(&s, NULL, 1, false, false));
  CHECK_VALUES(a->grad, VALS(11, 15, 11, 15), 4, 1e-12);
  CHECK_VALUES(b->grad, VALS(4, 4, 6, 6), 4, 1e-12);
  sg_release_all((sg_tensor *[]){a, b, r, s}, 4);
}

static void errors(void) {
  sg_tensor *a = tt_uniform(1, SG_FLOAT32, 0, 1, 2, SHAPE(2, 3));
  sg_tensor *b = tt_uniform(1, SG_FLOAT32, 0, 1, 2, SHAPE(4, 5));
  sg_tensor *v = tt_uniform(1, SG_FLOAT32, 0, 1, 1, SHAPE(4));
  sg_tensor *s = sg_scalar_tensor(1, SG_FLOAT32, sg_cpu_device());
  sg_tensor *b3 = tt_uniform(1, SG_FLOAT32, 0, 1, 3, SHAPE(2, 3, 4));
  sg_tensor *c3 = tt_uniform(1, SG_FLOAT32, 0, 1, 3, SHAPE(3, 4, 2));
  sg_tensor *bo = sg_zeros(SHAPE(2, 2), 2, SG_BOOL, sg_cpu_device());
  CHECK_FAILS(sg_matmul(a, b), "matmul: shapes 2x3 and 4x5 cannot be multiplied (3 != 4)");
  CHECK_FAILS(sg_matmul(a, v), "matmul: shapes 2x3 and 4 cannot be multiplied");
  CHECK_FAILS(sg_matmul(s, a), "matmul: both arguments need at least 1 dim");
  CHECK_FAILS(sg_matmul(NULL, a), "matmul: argument `a` is missing");
  CHECK_FAILS(sg_matmul(b3, c3), "matmul: batch dims of 2x3x4 and 3x4x2 do not broadcast");
  CHECK_FAILS(sg_matmul(bo, bo), "matmul: dtype bool is not supported");
  CHECK_FAILS(sg_mm(b3, a), "mm: expected two 2-D tensors, got 2x3x4 and 2x3");
  CHECK_FAILS(sg_mm(a, b), "mm: shapes 2x3 and 4x5 cannot be multiplied");
  CHECK_FAILS(sg_bmm(a, b3), "bmm: expected two 3-D tensors");
  CHECK_FAILS(sg_bmm(b3, c3), "bmm: batch sizes differ (2x3x4 and 3x4x2)");
  CHECK_FAILS(sg_outer(a, v), "outer: expected two 1-D tensors, got 2x3 and 4");
  CHECK_FAILS(sg_linear(a, b, NULL), "linear: input 2x3 does not match weight 4x5");
  CHECK_FAILS(sg_linear(a, b3, NULL), "linear: weight has 3 dims (2x3x4)");
  CHECK_FAILS(sg_linear(b, a, v), "linear: input 4x5 does not match weight 2x3");
  sg_tensor *w = tt_uniform(1, SG_FLOAT32, 0, 1, 2, SHAPE(4, 3));
  CHECK_FAILS(sg_linear(a, w, a), "linear: bias 2x3 does not match weight 4x3");
  CHECK_FAILS(sg_linear(a, NULL, NULL), "linear: argument `weight` is missing");
  sg_release_all((sg_tensor *[]){a, b, v, s, b3, c3, bo, w}, 8);
}

/* Operands must share a dtype, as in PyTorch (see docs/decisions.md). */
static void mixed_dtypes(void) {
  sg_tensor *a = tt_from(SG_INT64, VALS(1, 2, 3, 4), 2, SHAPE(2, 2));
  sg_tensor *b = tt_from(SG_FLOAT32, VALS(0.5, 0, 0, 0.5), 2, SHAPE(2, 2));
  CHECK_FAILS(sg_matmul(a, b), "matmul: expected both operands to have the same dtype, got int64 and float32");
  sg_tensor *c = tt_from(SG_INT64, VALS(1, 0, 0, 1), 2, SHAPE(2, 2));
  sg_tensor *r = sg_matmul(a, c);
  CHECK(r && r->dtype == SG_INT64);
  CHECK_VALUES(r, VALS(1, 2, 3, 4), 4, 0);
  sg_release_all((sg_tensor *[]){a, b, c, r}, 4);
}

int main(void) {
  RUN(values_2d);
  RUN(values_vectors);
  RUN(strided_operands);
  RUN(batched);
  RUN(empty_dims);
  RUN(linear_values);
  RUN(gradients);
  RUN(gradient_values);
  RUN(errors);
  RUN(mixed_dtypes);
  return sg_test_finish();
}
