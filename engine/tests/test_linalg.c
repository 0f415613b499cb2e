/* Batched dense linear algebra: cholesky, logdet, solve, inv (eigh, slogdet,
 * diagonal, trace at the end: hand-computed values). Values against
 * PyTorch 1.13 (torch.linalg), batching and broadcasting, the parallel batch
 * path, gradients (first and second order) and errors. */
#include "harness.h"

#include <stdlib.h>

static sg_device cpu(void) { return sg_cpu_device(); }

static sg_tensor *t_ones(const int64_t *shape, int ndim, sg_dtype dt) {
  return sg_full(shape, ndim, 1.0, dt, sg_cpu_device());
}

/* max |t - u| over all elements (same shape), or INFINITY on mismatch. */
static double max_diff(const sg_tensor *t, const sg_tensor *u) {
  if (!t || !u || sg_numel(t) != sg_numel(u)) return INFINITY;
  double m = 0;
  for (int64_t i = 0; i < sg_numel(t); i++) {
    double d = fabs(sg_get_flat(t, i) - sg_get_flat(u, i));
    if (!(d <= m)) m = d; /* NaN propagates */
  }
  return m;
}

/* x + c I (broadcast over the batch) */
static sg_tensor *add_eye(sg_tensor *x, double c) {
  int64_t n = x->shape[x->ndim - 1];
  sg_tensor *e = sg_eye(n, n, x->dtype, cpu());
  sg_tensor *ce = e ? sg_mul_scalar(e, c) : NULL;
  sg_tensor *r = ce ? sg_add(x, ce) : NULL;
  sg_release(e);
  sg_release(ce);
  return r;
}

/* Random symmetric positive definite stack: X X^T / n + I, float64. */
static sg_tensor *random_spd(uint64_t seed, int64_t batch, int64_t n) {
  sg_tensor *x = tt_uniform(seed, SG_FLOAT64, -1, 1, 3, SHAPE(batch, n, n));
  sg_tensor *xt = sg_transpose(x, 1, 2);
  sg_tensor *p = sg_matmul(x, xt);
  sg_tensor *q = p ? sg_mul_scalar(p, 1.0 / (double)n) : NULL;
  sg_tensor *r = q ? add_eye(q, 1.0) : NULL;
  sg_release(x);
  sg_release(xt);
  sg_release(p);
  sg_release(q);
  return r;
}

/* ---------------- cholesky ---------------- */

static void cholesky_values(void) {
  const double a[] = {4, 2, -2, 2, 10, 2, -2, 2, 5};
  const double L[] = {2, 0, 0, 1, 3, 0, -1, 1, 1.7320508075688772};
  const double U[] = {2, 1, -1, 0, 3, 1, 0, 0, 1.7320508075688772};
  sg_dtype dts[] = {SG_FLOAT64, SG_FLOAT32};
  for (int d = 0; d < 2; d++) {
    sg_tensor *A = tt_from(dts[d], a, 2, SHAPE(3, 3));
    sg_tensor *r = sg_cholesky(A, false);
    CHECK(r && r->dtype == dts[d] && r->ndim == 2 && r->shape[0] == 3 && r->shape[1] == 3);
    CHECK_VALUES(r, L, 9, d ? 1e-6 : 1e-14);
    sg_release(r);
    r = sg_cholesky(A, true);
    CHECK_VALUES(r, U, 9, d ? 1e-6 : 1e-14);
    sg_release(r);
    sg_release(A);
  }
  /* only the lower (upper) triangle is read, as PyTorch */
  sg_tensor *A = tt_from(SG_FLOAT64, VALS(4, 99, -7, 2, 10, 55, -2, 2, 5), 2, SHAPE(3, 3));
  sg_tensor *r = sg_cholesky(A, false);
  CHECK_VALUES(r, L, 9, 1e-14);
  sg_release(r);
  sg_release(A);
  A = tt_from(SG_FLOAT64, VALS(4, 2, -2, 99, 10, 2, -7, 55, 5), 2, SHAPE(3, 3));
  r = sg_cholesky(A, true);
  CHECK_VALUES(r, U, 9, 1e-14);
  sg_release(r);
  sg_release(A);
  /* batched, and non-contiguous (the batch dim moved last) */
  sg_tensor *B = tt_from(SG_FLOAT64, VALS(2, 1, 1, 3, 9, 3, 3, 5), 3, SHAPE(2, 2, 2));
  const double LB[] = {1.4142135623730951, 0, 0.7071067811865475, 1.5811388300841898, 3, 0, 1, 2};
  r = sg_cholesky(B, false);
  CHECK(r && r->ndim == 3 && r->shape[0] == 2);
  CHECK_VALUES(r, LB, 8, 1e-14);
  sg_release(r);
  sg_tensor *Bp = sg_permute(B, (const int[]){1, 2, 0}, 3);
  sg_tensor *Bpc = sg_contiguous(Bp);
  sg_tensor *Bnc = sg_permute(Bpc, (const int[]){2, 0, 1}, 3); /* 2x2x2 view, non-contiguous */
  CHECK(Bnc && !sg_is_contiguous(Bnc));
  r = sg_cholesky(Bnc, false);
  CHECK_VALUES(r, LB, 8, 1e-14);
  sg_release(r);
  sg_release(Bp);
  sg_release(Bpc);
  sg_release(Bnc);
  sg_release(B);
  /* empty batch and 0x0 matrices */
  sg_tensor *E = sg_zeros(SHAPE(0, 3, 3), 3, SG_FLOAT32, cpu());
  r = sg_cholesky(E, false);
  CHECK(r && r->shape[0] == 0 && r->shape[1] == 3);
  sg_release(r);
  sg_release(E);
  E = sg_zeros(SHAPE(2, 0, 0), 3, SG_FLOAT64, cpu());
  r = sg_cholesky(E, false);
  CHECK(r && r->shape[0] == 2 && r->shape[1] == 0);
  sg_release(r);
  sg_release(E);
}

/* Many small matrices (the OpenMP batch path) and one large one: L L^T = A. */
static void cholesky_reconstruct(void) {
  const int64_t cases[][2] = {{300, 8}, {1, 200}, {6, 64}};
  for (int c = 0; c < 3; c++) {
    sg_tensor *A = random_spd(70 + c, cases[c][0], cases[c][1]);
    sg_tensor *L = sg_cholesky(A, false);
    sg_tensor *Lt = L ? sg_transpose(L, 1, 2) : NULL;
    sg_tensor *LLt = Lt ? sg_matmul(L, Lt) : NULL;
    CHECK(LLt != NULL);
    CHECK(max_diff(LLt, A) < 1e-12);
    /* L is lower triangular with a positive diagonal */
    bool tri = L != NULL;
    int64_t n = cases[c][1];
    for (int64_t b = 0; tri && b < cases[c][0]; b++)
      for (int64_t i = 0; i < n; i++)
        for (int64_t j = i; j < n; j++) {
          double v = sg_get_flat(L, (b * n + i) * n + j);
          if (j > i ? v != 0 : !(v > 0)) tri = false;
        }
    CHECK(tri);
    /* float32 agrees */
    sg_tensor *A32 = sg_to_dtype(A, SG_FLOAT32);
    sg_tensor *L32 = sg_cholesky(A32, false);
    CHECK(max_diff(L32, L) < 1e-4);
    sg_release(A32);
    sg_release(L32);
    sg_release(A);
    sg_release(L);
    sg_release(Lt);
    sg_release(LLt);
  }
}

static void cholesky_errors(void) {
  /* batch element 1 has leading minor of order 2 = 1*1 - 2*2 < 0 */
  sg_tensor *A = tt_from(SG_FLOAT64, VALS(2, 1, 1, 3, 1, 2, 2, 1), 3, SHAPE(2, 2, 2));
  CHECK_FAILS(sg_cholesky(A, false),
              "cholesky: the input (batch element 1) is not positive definite: leading minor of "
              "order 2 is not positive");
  sg_release(A);
  A = tt_from(SG_FLOAT32, VALS(-1, 0, 0, 1), 2, SHAPE(2, 2));
  CHECK_FAILS(sg_cholesky(A, true),
              "cholesky: the input is not positive definite: leading minor of order 1");
  sg_release(A);
  /* NaN is not an error (as PyTorch): it propagates */
  A = tt_from(SG_FLOAT64, VALS(1, 0, 0, NAN), 2, SHAPE(2, 2));
  sg_tensor *r = sg_cholesky(A, false);
  CHECK(r && sg_get_flat(r, 0) == 1 && isnan(sg_get_flat(r, 3)));
  sg_release(r);
  sg_release(A);
  A = sg_zeros(SHAPE(2, 3, 4), 3, SG_FLOAT32, cpu());
  CHECK_FAILS(sg_cholesky(A, false), "cholesky: `input` has shape 2x3x4, expected square");
  sg_release(A);
  A = sg_zeros(SHAPE(3), 1, SG_FLOAT32, cpu());
  CHECK_FAILS(sg_cholesky(A, false), "cholesky: `input` has 1 dims (3), expected at least 2");
  sg_release(A);
  A = sg_zeros(SHAPE(2, 2), 2, SG_INT64, cpu());
  CHECK_FAILS(sg_cholesky(A, false), "cholesky: `input` has dtype int64, expected float32 or float64");
  sg_release(A);
  CHECK_FAILS(sg_cholesky(NULL, false), "cholesky");
}

/* ---------------- logdet ---------------- */

static void logdet_values(void) {
  /* det 5, -1 (NaN), 0 (-inf), 1.875 */
  const double m[] = {2, 1, 1, 3, 0, 1, 1, 0, 1, 2, 2, 4, -1, 0.5, 0.25, -2};
  sg_dtype dts[] = {SG_FLOAT64, SG_FLOAT32};
  for (int d = 0; d < 2; d++) {
    sg_tensor *M = tt_from(dts[d], m, 3, SHAPE(4, 2, 2));
    sg_tensor *r = sg_logdet(M);
    CHECK(r && r->dtype == dts[d] && r->ndim == 1 && r->shape[0] == 4);
    if (r) {
      CHECK_NEAR(sg_get_flat(r, 0), 1.6094379124341005, d ? 1e-6 : 1e-14);
      CHECK(isnan(sg_get_flat(r, 1)));
      CHECK(isinf(sg_get_flat(r, 2)) && sg_get_flat(r, 2) < 0);
      CHECK_NEAR(sg_get_flat(r, 3), 0.6286086594223741, d ? 1e-6 : 1e-14);
    }
    sg_release(r);
    sg_release(M);
  }
  /* 3x3 with a row swap in the LU and det = 81 */
  sg_tensor *C = tt_from(SG_FLOAT64, VALS(3, 1, 2, 1, 4, 0.5, 2, 1, 5), 2, SHAPE(3, 3));
  sg_tensor *r = sg_logdet(C);
  CHECK(r && r->ndim == 0);
  CHECK_VALUES(r, VALS(3.7013019741124937), 1, 1e-14);
  sg_release(r);
  sg_release(C);
  /* negative det (-47.5) through pivoting: NaN */
  C = tt_from(SG_FLOAT64, VALS(3, 1, 2, 1, -4, 0.5, 2, 1, 5), 2, SHAPE(3, 3));
  r = sg_logdet(C);
  CHECK(r && isnan(sg_get_flat(r, 0)));
  sg_release(r);
  sg_release(C);
  /* permutation with an even number of swaps: det +1 */
  C = tt_from(SG_FLOAT64, VALS(0, 1, 0, 0, 0, 1, 1, 0, 0), 2, SHAPE(3, 3));
  r = sg_logdet(C);
  CHECK_VALUES(r, VALS(0), 1, 1e-15);
  sg_release(r);
  sg_release(C);
  /* 0x0: det 1 */
  sg_tensor *E = sg_zeros(SHAPE(2, 0, 0), 3, SG_FLOAT64, cpu());
  r = sg_logdet(E);
  CHECK(r && r->ndim == 1 && r->shape[0] == 2);
  CHECK_VALUES(r, VALS(0, 0), 2, 0);
  sg_release(r);
  sg_release(E);
}

/* logdet(A) = 2 sum log diag(chol(A)), batched and large. */
static void logdet_vs_cholesky(void) {
  const int64_t cases[][2] = {{500, 6}, {1, 150}, {3, 40}};
  for (int c = 0; c < 3; c++) {
    int64_t b = cases[c][0], n = cases[c][1];
    sg_tensor *A = random_spd(90 + c, b, n);
    sg_tensor *L = sg_cholesky(A, false);
    sg_tensor *ld = sg_logdet(A);
    CHECK(L && ld && ld->ndim == 1 && ld->shape[0] == b);
    bool ok = L && ld;
    for (int64_t k = 0; ok && k < b; k++) {
      double s = 0;
      for (int64_t i = 0; i < n; i++) s += 2 * log(sg_get_flat(L, (k * n + i) * n + i));
      if (!(fabs(s - sg_get_flat(ld, k)) < 1e-10 * (1 + fabs(s)))) ok = false;
    }
    CHECK(ok);
    sg_release(A);
    sg_release(L);
    sg_release(ld);
  }
}

static void logdet_errors(void) {
  sg_tensor *A = sg_zeros(SHAPE(4, 3), 2, SG_FLOAT64, cpu());
  CHECK_FAILS(sg_logdet(A), "logdet: `input` has shape 4x3, expected square matrices");
  sg_release(A);
  A = sg_zeros(SHAPE(2, 2), 2, SG_UINT8, cpu());
  CHECK_FAILS(sg_logdet(A), "logdet: `input` has dtype uint8, expected float32 or float64");
  sg_release(A);
  A = sg_scalar_tensor(2, SG_FLOAT32, cpu());
  CHECK_FAILS(sg_logdet(A), "logdet: `input` has 0 dims (scalar), expected at least 2");
  sg_release(A);
  CHECK_FAILS(sg_logdet(NULL), "logdet");
}

/* ---------------- inv ---------------- */

static const double Cv[] = {3, 1, 2, 1, -4, 0.5, 2, 1, 5};
static const double Cinv[] = {0.43157894736842106,  0.06315789473684211,  -0.17894736842105258,
                              0.08421052631578947,  -0.23157894736842108, -0.010526315789473682,
                              -0.1894736842105263,  0.02105263157894737,  0.27368421052631575};

static void inv_values(void) {
  sg_dtype dts[] = {SG_FLOAT64, SG_FLOAT32};
  for (int d = 0; d < 2; d++) {
    sg_tensor *C = tt_from(dts[d], Cv, 2, SHAPE(3, 3));
    sg_tensor *r = sg_inv(C);
    CHECK(r && r->dtype == dts[d] && r->ndim == 2);
    CHECK_VALUES(r, Cinv, 9, d ? 1e-6 : 1e-14);
    sg_release(r);
    /* the transpose (a non-contiguous view) inverts to the transpose */
    sg_tensor *Ct = sg_transpose(C, 0, 1);
    r = sg_inv(Ct);
    sg_tensor *rt = r ? sg_transpose(r, 0, 1) : NULL;
    CHECK_VALUES(rt, Cinv, 9, d ? 1e-6 : 1e-14);
    sg_release(rt);
    sg_release(r);
    sg_release(Ct);
    sg_release(C);
  }
  sg_tensor *A = tt_from(SG_FLOAT64, VALS(4, 7, 2, 6, 2, 0, 0, 0.5), 3, SHAPE(2, 2, 2));
  sg_tensor *r = sg_inv(A);
  CHECK_VALUES(r, VALS(0.6, -0.7, -0.2, 0.4, 0.5, 0, 0, 2), 8, 1e-14);
  sg_release(r);
  sg_release(A);
  /* many (parallel path) and large: A A^-1 = I */
  const int64_t cases[][2] = {{400, 7}, {1, 180}};
  for (int c = 0; c < 2; c++) {
    int64_t b = cases[c][0], n = cases[c][1];
    sg_tensor *x = tt_uniform(30 + c, SG_FLOAT64, -1, 1, 3, SHAPE(b, n, n));
    sg_tensor *M = add_eye(x, (double)n); /* well conditioned, not symmetric */
    sg_tensor *Mi = sg_inv(M);
    sg_tensor *P = Mi ? sg_matmul(M, Mi) : NULL;
    sg_tensor *I = sg_eye(n, n, SG_FLOAT64, cpu());
    sg_tensor *Ib = sg_expand(I, SHAPE(b, n, n), 3);
    CHECK(P != NULL);
    CHECK(max_diff(P, Ib) < 1e-12);
    sg_release(x);
    sg_release(M);
    sg_release(Mi);
    sg_release(P);
    sg_release(I);
    sg_release(Ib);
  }
}

static void inv_errors(void) {
  sg_tensor *A = tt_from(SG_FLOAT64, VALS(1, 0, 0, 1, 1, 2, 2, 4), 3, SHAPE(2, 2, 2));
  CHECK_FAILS(sg_inv(A), "inv: the input (batch element 1) is singular: diagonal element 2 of its LU "
                        "factorization is zero");
  sg_release(A);
  A = sg_zeros(SHAPE(3, 3), 2, SG_FLOAT32, cpu());
  CHECK_FAILS(sg_inv(A), "inv: the input is singular: diagonal element 1");
  sg_release(A);
  A = sg_zeros(SHAPE(2, 3), 2, SG_FLOAT32, cpu());
  CHECK_FAILS(sg_inv(A), "inv: `input` has shape 2x3, expected square matrices");
  sg_release(A);
  A = sg_zeros(SHAPE(2, 2), 2, SG_BOOL, cpu());
  CHECK_FAILS(sg_inv(A), "inv: `input` has dtype bool, expected float32 or float64");
  sg_release(A);
  CHECK_FAILS(sg_inv(NULL), "inv");
}

/* ---------------- solve ---------------- */

static void solve_values(void) {
  sg_tensor *C = tt_from(SG_FLOAT64, Cv, 2, SHAPE(3, 3));
  /* vector right-hand side */
  sg_tensor *b = tt_from(SG_FLOAT64, VALS(1, 2, 3), 1, SHAPE(3));
  sg_tensor *r = sg_solve(C, b);
  CHECK(r && r->ndim == 1 && r->shape[0] == 3);
  CHECK_VALUES(r, VALS(0.02105263157894738, -0.4105263157894737, 0.6736842105263158), 3, 1e-14);
  sg_release(r);
  /* matrix right-hand side */
  sg_tensor *B = tt_from(SG_FLOAT64, VALS(1, 0, 2, 1, 3, -1), 2, SHAPE(3, 2));
  const double X[] = {0.02105263157894739, 0.2421052631578947,  -0.4105263157894737,
                      -0.2210526315789474, 0.6736842105263158, -0.2526315789473684};
  r = sg_solve(C, B);
  CHECK(r && r->ndim == 2 && r->shape[0] == 3 && r->shape[1] == 2);
  CHECK_VALUES(r, X, 6, 1e-14);
  sg_release(r);
  /* float32, and mixed float32/float64 promotes */
  sg_tensor *C32 = sg_to_dtype(C, SG_FLOAT32);
  sg_tensor *B32 = sg_to_dtype(B, SG_FLOAT32);
  r = sg_solve(C32, B32);
  CHECK(r && r->dtype == SG_FLOAT32);
  CHECK_VALUES(r, X, 6, 1e-6);
  sg_release(r);
  r = sg_solve(C32, B);
  CHECK(r && r->dtype == SG_FLOAT64);
  CHECK_VALUES(r, X, 6, 1e-6);
  sg_release(r);
  sg_release(C32);
  sg_release(B32);
  /* a batch: [C, C^T + I] */
  sg_tensor *A2 = tt_from(SG_FLOAT64,
                          VALS(3, 1, 2, 1, -4, 0.5, 2, 1, 5, /* C */
                               4, 1, 2, 1, -3, 1, 2, 0.5, 6 /* C^T + I */),
                          3, SHAPE(2, 3, 3));
  /* a batch of vectors: b of shape a.shape[:-1] (2x3) */
  sg_tensor *Bt = sg_transpose(B, 0, 1);
  r = sg_solve(A2, Bt);
  CHECK(r && r->ndim == 2 && r->shape[0] == 2 && r->shape[1] == 3);
  CHECK_VALUES(r,
               VALS(0.02105263157894738, -0.4105263157894737, 0.6736842105263158,
                    0.18461538461538463, -0.3384615384615385, -0.2),
               6, 1e-14);
  sg_release(r);
  /* a 1-D b broadcasts over a's batch */
  r = sg_solve(A2, b);
  CHECK(r && r->ndim == 2 && r->shape[0] == 2 && r->shape[1] == 3);
  CHECK(r && fabs(sg_get_flat(r, 0) - 0.02105263157894738) < 1e-14);
  sg_release(r);
  /* b (3x2) broadcast over a's batch */
  r = sg_solve(A2, B);
  CHECK(r && r->ndim == 3 && r->shape[0] == 2);
  CHECK_VALUES(r,
               VALS(0.02105263157894739, 0.2421052631578947, -0.4105263157894737,
                    -0.2210526315789474, 0.6736842105263158, -0.2526315789473684,
                    0.1153846153846154, 0.18461538461538463, -0.4615384615384616,
                    -0.3384615384615385, 0.5, -0.2),
               12, 1e-14);
  sg_release(r);
  /* both broadcast: a 2x3x3, b 2x1x3x2 -> 2x2x3x2 */
  sg_tensor *B3 = sg_arange(0, 12, 1, SG_FLOAT64, cpu());
  sg_tensor *B3r = sg_reshape(B3, SHAPE(2, 1, 3, 2), 4);
  r = sg_solve(A2, B3r);
  CHECK(r && r->ndim == 4 && r->shape[0] == 2 && r->shape[1] == 2 && r->shape[2] == 3 &&
        r->shape[3] == 2);
  CHECK_VALUES(r,
               VALS(-0.5894736842105263, -0.2736842105263157, -0.5052631578947369,
                    -0.6631578947368422, 1.1368421052631579, 1.2421052631578946,
                    -0.27692307692307694, -0.02307692307692305, -0.49230769230769234,
                    -0.7076923076923078, 0.8, 0.9, 1.3052631578947371, 1.6210526315789473,
                    -1.4526315789473683, -1.6105263157894738, 1.7684210526315787,
                    1.8736842105263156, 1.2461538461538462, 1.5, -1.7846153846153845, -2.0,
                    1.4000000000000001, 1.5),
               24, 1e-13);
  sg_release(r);
  /* k = 0 columns */
  sg_tensor *Z = sg_zeros(SHAPE(3, 0), 2, SG_FLOAT64, cpu());
  r = sg_solve(C, Z);
  CHECK(r && r->ndim == 2 && r->shape[0] == 3 && r->shape[1] == 0);
  sg_release(r);
  sg_release(Z);
  sg_release(B3);
  sg_release(B3r);
  sg_release(Bt);
  sg_release(A2);
  sg_release(B);
  sg_release(b);
  sg_release(C);
}

/* A X = B for many small systems sharing one A, and for a large system. */
static void solve_residual(void) {
  const int64_t cases[][4] = {/* abatch, batch, n, k */ {1, 500, 6, 3}, {300, 300, 5, 1},
                              {1, 1, 160, 20}, {4, 4, 50, 50}};
  for (int c = 0; c < 4; c++) {
    int64_t ab = cases[c][0], bb = cases[c][1], n = cases[c][2], k = cases[c][3];
    sg_tensor *x = tt_uniform(50 + c, SG_FLOAT64, -1, 1, 3, SHAPE(ab, n, n));
    sg_tensor *A = add_eye(x, (double)n);
    sg_tensor *B = tt_uniform(60 + c, SG_FLOAT64, -1, 1, 3, SHAPE(bb, n, k));
    sg_tensor *X = sg_solve(A, B);
    sg_tensor *AX = X ? sg_matmul(A, X) : NULL;
    CHECK(AX != NULL);
    CHECK(max_diff(AX, B) < 1e-12);
    sg_release(x);
    sg_release(A);
    sg_release(B);
    sg_release(X);
    sg_release(AX);
  }
}

static void solve_errors(void) {
  sg_tensor *A = sg_eye(3, 3, SG_FLOAT64, cpu());
  sg_tensor *b = sg_zeros(SHAPE(4), 1, SG_FLOAT64, cpu());
  CHECK_FAILS(sg_solve(A, b),
              "solve: a has shape 3x3 and b has shape 4: expected b of shape (...x3xk) or (...x3)");
  sg_release(b);
  b = sg_zeros(SHAPE(2, 4, 1), 3, SG_FLOAT64, cpu());
  CHECK_FAILS(sg_solve(A, b), "solve: a has shape 3x3 and b has shape 2x4x1");
  sg_release(b);
  b = sg_zeros(SHAPE(3, 2), 2, SG_INT64, cpu());
  CHECK_FAILS(sg_solve(A, b), "solve: `b` has dtype int64, expected float32 or float64");
  sg_release(b);
  CHECK_FAILS(sg_solve(A, NULL), "solve: argument `b`");
  sg_release(A);
  A = sg_zeros(SHAPE(3, 2, 2), 3, SG_FLOAT64, cpu());
  b = sg_zeros(SHAPE(4, 2, 1), 3, SG_FLOAT64, cpu());
  CHECK_FAILS(sg_solve(A, b),
              "solve: the batch dims of a (3x2x2) and b (4x2x1) cannot be broadcast together");
  sg_release(b);
  sg_release(A);
  A = tt_from(SG_FLOAT64, VALS(1, 0, 0, 1, 1, 2, 2, 4, 3, 0, 0, 3), 3, SHAPE(3, 2, 2));
  b = t_ones(SHAPE(2, 1), 2, SG_FLOAT64);
  CHECK_FAILS(sg_solve(A, b),
              "solve: the matrix a (batch element 1) is singular: diagonal element 2");
  sg_release(b);
  sg_release(A);
}

/* ---------------- gradients ---------------- */

typedef struct {
  bool upper;
  double shift;
} gctx;

static sg_tensor *f_cholesky(sg_tensor **in, int n, void *ctx) {
  (void)n;
  gctx *c = ctx;
  /* symmetric positive definite input: X + X^T + shift I */
  sg_tensor *xt = sg_transpose(in[0], -2, -1);
  sg_tensor *s = xt ? sg_add(in[0], xt) : NULL;
  sg_tensor *a = s ? add_eye(s, c->shift) : NULL;
  sg_tensor *r = a ? sg_cholesky(a, c->upper) : NULL;
  sg_release(xt);
  sg_release(s);
  sg_release(a);
  return r;
}

static sg_tensor *f_logdet(sg_tensor **in, int n, void *ctx) {
  (void)n;
  sg_tensor *a = add_eye(in[0], ((gctx *)ctx)->shift);
  sg_tensor *r = a ? sg_logdet(a) : NULL;
  sg_release(a);
  return r;
}

/* The rate-reduction term of CSC-CTRL: logdet(I + c Z Z^T). */
static sg_tensor *f_rate(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  sg_tensor *zt = sg_transpose(in[0], -2, -1);
  sg_tensor *zz = zt ? sg_matmul(in[0], zt) : NULL;
  sg_tensor *czz = zz ? sg_mul_scalar(zz, 0.7) : NULL;
  sg_tensor *a = czz ? add_eye(czz, 1.0) : NULL;
  sg_tensor *r = a ? sg_logdet(a) : NULL;
  sg_release(zt);
  sg_release(zz);
  sg_release(czz);
  sg_release(a);
  return r;
}

static sg_tensor *f_inv(sg_tensor **in, int n, void *ctx) {
  (void)n;
  sg_tensor *a = add_eye(in[0], ((gctx *)ctx)->shift);
  sg_tensor *r = a ? sg_inv(a) : NULL;
  sg_release(a);
  return r;
}

static sg_tensor *f_solve(sg_tensor **in, int n, void *ctx) {
  (void)n;
  sg_tensor *a = add_eye(in[0], ((gctx *)ctx)->shift);
  sg_tensor *r = a ? sg_solve(a, in[1]) : NULL;
  sg_release(a);
  return r;
}

/* Gradients at fixed points against PyTorch (symmetric cholesky convention). */
static void gradient_values(void) {
  sg_tensor *w = sg_arange(1, 10, 1, SG_FLOAT64, cpu());
  sg_tensor *W = sg_reshape(w, SHAPE(3, 3), 2);
  const double a[] = {4, 2, -2, 2, 10, 2, -2, 2, 5};
  const double expect[2][9] = {
      {1.2102560939348073, 0.8948719530325964, 2.8153841409022107, 0.8948719530325965,
       0.6775640234837017, 0.46730792954889466, 2.815384140902211, 0.4673079295488945,
       2.5980762113533165},
      {1.1547005383792517, 0.17264973081037419, 1.9820508075688774, 0.17264973081037432,
       0.7886751345948128, 0.1339745962155614, 1.9820508075688779, 0.13397459621556132,
       2.5980762113533165}};
  for (int u = 0; u < 2; u++) {
    sg_tensor *A = tt_from(SG_FLOAT64, a, 2, SHAPE(3, 3));
    sg_set_requires_grad(A, true);
    sg_tensor *L = sg_cholesky(A, u == 1);
    sg_tensor *p = L ? sg_mul(L, W) : NULL;
    sg_tensor *s = p ? sg_sum(p, NULL, 0, false) : NULL;
    CHECK(s != NULL);
    if (s) CHECK_OK(sg_backward(&s, NULL, 1, false, false));
    CHECK_VALUES(A->grad, expect[u], 9, 1e-12);
    sg_release(A);
    sg_release(L);
    sg_release(p);
    sg_release(s);
  }
  /* logdet: grad = A^-T */
  sg_tensor *C = tt_from(SG_FLOAT64, VALS(3, 1, 2, 1, 4, 0.5, 2, 1, 5), 2, SHAPE(3, 3));
  sg_set_requires_grad(C, true);
  sg_tensor *ld = sg_logdet(C);
  if (ld) CHECK_OK(sg_backward(&ld, NULL, 1, false, false));
  CHECK_VALUES(C->grad,
               VALS(0.48148148148148145, -0.09876543209876544, -0.1728395061728395,
                    -0.07407407407407408, 0.271604938271605, -0.024691358024691364,
                    -0.18518518518518517, 0.012345679012345677, 0.2716049382716049),
               9, 1e-14);
  sg_release(ld);
  sg_set_grad(C, NULL);
  /* inv */
  sg_tensor *Ci = sg_inv(C);
  sg_tensor *p = Ci ? sg_mul(Ci, W) : NULL;
  sg_tensor *s = p ? sg_sum(p, NULL, 0, false) : NULL;
  if (s) CHECK_OK(sg_backward(&s, NULL, 1, false, false));
  CHECK_VALUES(C->grad,
               VALS(0.3429355281207133, 0.1458619112940101, -0.025605852766346613,
                    -0.10973936899862823, -0.2066758116140833, -0.15180612711476912,
                    -0.3484224965706447, -0.3561957018747143, -0.18198445358939178),
               9, 1e-14);
  sg_release(Ci);
  sg_release(p);
  sg_release(s);
  sg_set_grad(C, NULL);
  /* solve with a vector b */
  sg_tensor *b = tt_from(SG_FLOAT64, VALS(1, 2, 3), 1, SHAPE(3));
  sg_set_requires_grad(b, true);
  sg_tensor *v = tt_from(SG_FLOAT64, VALS(1, -1, 2), 1, SHAPE(3));
  sg_tensor *x = sg_solve(C, b);
  p = x ? sg_mul(x, v) : NULL;
  s = p ? sg_sum(p, NULL, 0, false) : NULL;
  if (s) CHECK_OK(sg_backward(&s, NULL, 1, false, false));
  CHECK_VALUES(C->grad,
               VALS(0.05212620027434839, -0.11294010059442156, -0.13900320073159575,
                    -0.08779149519890259, 0.190214906264289, 0.2341106538637403,
                    0.07681755829903977, -0.16643804298125292, -0.2048468221307728),
               9, 1e-14);
  CHECK_VALUES(b->grad, VALS(0.23456790123456783, -0.39506172839506176, 0.3456790123456791), 3,
               1e-14);
  sg_release(x);
  sg_release(p);
  sg_release(s);
  sg_release(b);
  sg_release(v);
  sg_release(C);
  sg_release(w);
  sg_release(W);
}

static void gradients(void) {
  gctx c = {false, 4.0};
  sg_tensor *x = tt_param(1, -0.5, 0.5, 3, SHAPE(2, 3, 3));
  CHECK_GRAD(f_cholesky, &c, &x, 1);
  CHECK_GRADGRAD(f_cholesky, &c, &x, 1);
  c.upper = true;
  CHECK_GRAD(f_cholesky, &c, &x, 1);
  CHECK_GRADGRAD(f_cholesky, &c, &x, 1);
  sg_release(x);

  c.shift = 3.0;
  x = tt_param(2, -0.5, 0.5, 3, SHAPE(2, 3, 3));
  CHECK_GRAD(f_logdet, &c, &x, 1);
  CHECK_GRADGRAD(f_logdet, &c, &x, 1);
  CHECK_GRAD(f_inv, &c, &x, 1);
  CHECK_GRADGRAD(f_inv, &c, &x, 1);
  sg_release(x);
  /* unbatched */
  x = tt_param(3, -0.5, 0.5, 2, SHAPE(4, 4));
  CHECK_GRAD(f_logdet, &c, &x, 1);
  CHECK_GRAD(f_inv, &c, &x, 1);
  sg_release(x);

  sg_tensor *z = tt_param(4, -1, 1, 3, SHAPE(2, 3, 5));
  CHECK_GRAD(f_rate, NULL, &z, 1);
  CHECK_GRADGRAD(f_rate, NULL, &z, 1);
  sg_release(z);

  /* solve: matrix b broadcast over a's batch, and a broadcast over b's */
  sg_tensor *in[2] = {tt_param(5, -0.5, 0.5, 3, SHAPE(2, 3, 3)),
                      tt_param(6, -1, 1, 2, SHAPE(3, 2))};
  CHECK_GRAD(f_solve, &c, in, 2);
  CHECK_GRADGRAD(f_solve, &c, in, 2);
  sg_release_all(in, 2);
  in[0] = tt_param(7, -0.5, 0.5, 4, SHAPE(2, 1, 3, 3));
  in[1] = tt_param(8, -1, 1, 3, SHAPE(2, 3, 1));
  CHECK_GRAD(f_solve, &c, in, 2);
  CHECK_GRADGRAD(f_solve, &c, in, 2);
  sg_release_all(in, 2);
  /* vector b, batched */
  in[0] = tt_param(9, -0.5, 0.5, 3, SHAPE(2, 3, 3));
  in[1] = tt_param(10, -1, 1, 2, SHAPE(2, 3));
  CHECK_GRAD(f_solve, &c, in, 2);
  CHECK_GRADGRAD(f_solve, &c, in, 2);
  sg_release_all(in, 2);
  /* only one of a, b requires grad */
  in[0] = tt_param(11, -0.5, 0.5, 2, SHAPE(3, 3));
  in[1] = tt_uniform(12, SG_FLOAT64, -1, 1, 1, SHAPE(3));
  CHECK_GRAD(f_solve, &c, in, 2);
  sg_release_all(in, 2);
  in[0] = tt_uniform(13, SG_FLOAT64, -0.5, 0.5, 2, SHAPE(3, 3));
  in[1] = tt_param(14, -1, 1, 2, SHAPE(3, 2));
  CHECK_GRAD(f_solve, &c, in, 2);
  sg_release_all(in, 2);
}

/* ---------------- eigh, slogdet, diagonal, trace ---------------- */

/* eigh of hand-computed matrices: eigenvalues ascending, A V = V diag(L),
 * V^T V = I, only the lower triangle read (the upper one holds junk). */
static void eigh_values(void) {
  const double r2 = 1.4142135623730951;
  /* tridiagonal (2, -1): eigenvalues 2 - sqrt2, 2, 2 + sqrt2; the upper
   * triangle is junk, the lower one is read */
  const double m[] = {2, 7, 9, -1, 2, 8, 0, -1, 2,
                      /* diag(3, -1, 2) */ 3, 5, 5, 0, -1, 5, 0, 0, 2};
  const double sym[] = {2, -1, 0, -1, 2, -1, 0, -1, 2, 3, 0, 0, 0, -1, 0, 0, 0, 2};
  sg_dtype dts[] = {SG_FLOAT64, SG_FLOAT32};
  for (int d = 0; d < 2; d++) {
    double tol = d ? 1e-5 : 1e-13;
    sg_tensor *A = tt_from(dts[d], m, 3, SHAPE(2, 3, 3));
    sg_tensor *S = tt_from(dts[d], sym, 3, SHAPE(2, 3, 3));
    sg_tensor *L = NULL, *V = NULL;
    CHECK_OK(sg_eigh(A, &L, &V));
    CHECK(L && L->dtype == dts[d] && L->ndim == 2 && L->shape[0] == 2 && L->shape[1] == 3);
    CHECK(V && V->dtype == dts[d] && sg_same_shape(V, A));
    if (L && V) {
      CHECK_VALUES(L, VALS(2 - r2, 2, 2 + r2, -1, 2, 3), 6, tol);
      /* S V - V diag(L) = 0 and V^T V = I */
      sg_tensor *l2 = sg_unsqueeze(L, -2);
      sg_tensor *vl = sg_mul(V, l2);
      sg_tensor *sv = sg_matmul(S, V);
      sg_tensor *res = sg_sub(sv, vl);
      sg_tensor *z = sg_zeros(SHAPE(2, 3, 3), 3, dts[d], cpu());
      CHECK_CLOSE(res, z, tol * 10, 0);
      sg_tensor *vt = sg_transpose(V, -2, -1);
      sg_tensor *vtv = sg_matmul(vt, V);
      sg_tensor *e = sg_eye(3, 3, dts[d], cpu());
      sg_tensor *e2 = sg_expand(e, SHAPE(2, 3, 3), 3);
      CHECK_CLOSE(vtv, e2, tol * 10, 0);
      /* the middle eigenvector of the tridiagonal one is +-(1, 0, -1)/sqrt2 */
      CHECK_NEAR(fabs(sg_get_flat(V, 1)), 1 / r2, tol);
      CHECK_NEAR(fabs(sg_get_flat(V, 4)), 0, tol);
      CHECK_NEAR(sg_get_flat(V, 1) + sg_get_flat(V, 7), 0, tol);
      sg_release_all((sg_tensor *[]){l2, vl, sv, res, z, vt, vtv, e, e2}, 9);
    }
    /* deterministic: the same bits again */
    sg_tensor *L2 = NULL, *V2 = NULL;
    CHECK_OK(sg_eigh(A, &L2, &V2));
    CHECK(max_diff(L, L2) == 0 && max_diff(V, V2) == 0);
    sg_release_all((sg_tensor *[]){A, S, L, V, L2, V2}, 6);
  }
}

static void eigh_errors(void) {
  sg_tensor *L = NULL, *V = NULL;
  sg_tensor *a = sg_zeros(SHAPE(2, 3), 2, SG_FLOAT64, cpu());
  CHECK_STATUS_FAILS(sg_eigh(a, &L, &V), "eigh: `input` has shape 2x3, expected square");
  CHECK(!L && !V);
  sg_release(a);
  a = sg_zeros(SHAPE(3), 1, SG_FLOAT64, cpu());
  CHECK_STATUS_FAILS(sg_eigh(a, &L, &V), "eigh: `input` has 1 dims (3), expected at least 2");
  sg_release(a);
  a = sg_zeros(SHAPE(2, 2), 2, SG_INT64, cpu());
  CHECK_STATUS_FAILS(sg_eigh(a, &L, &V), "eigh: `input` has dtype int64, expected float32");
  sg_release(a);
  a = tt_from(SG_FLOAT32, VALS(1, 0, 0, 1, 1, 0, NAN, 1, 1, INFINITY, 0, 1), 3, SHAPE(3, 2, 2));
  CHECK_STATUS_FAILS(sg_eigh(a, &L, &V), "eigh: input contains NaN or Inf (batch element 1)");
  CHECK(!L && !V);
  sg_release(a);
  a = tt_from(SG_FLOAT64, VALS(1, 0, -INFINITY, 1), 2, SHAPE(2, 2));
  CHECK_STATUS_FAILS(sg_eigh(a, &L, &V), "eigh: input contains NaN or Inf");
  sg_release(a);
  CHECK_STATUS_FAILS(sg_eigh(NULL, &L, &V), "eigh: argument `input` is missing (NULL)");
}

static void slogdet_values(void) {
  /* det 5, -1, 0, 1.875 */
  const double m[] = {2, 1, 1, 3, 0, 1, 1, 0, 1, 2, 2, 4, -1, 0.5, 0.25, -2};
  sg_dtype dts[] = {SG_FLOAT64, SG_FLOAT32};
  for (int d = 0; d < 2; d++) {
    sg_tensor *M = tt_from(dts[d], m, 3, SHAPE(4, 2, 2));
    sg_tensor *s = NULL, *l = NULL;
    CHECK_OK(sg_slogdet(M, &s, &l));
    CHECK(s && l && s->dtype == dts[d] && l->ndim == 1 && l->shape[0] == 4);
    if (s && l) {
      CHECK_VALUES(s, VALS(1, -1, 0, 1), 4, 0);
      CHECK_NEAR(sg_get_flat(l, 0), 1.6094379124341005, d ? 1e-6 : 1e-14);
      CHECK_NEAR(sg_get_flat(l, 1), 0, d ? 1e-6 : 1e-14);
      CHECK(isinf(sg_get_flat(l, 2)) && sg_get_flat(l, 2) < 0);
      CHECK_NEAR(sg_get_flat(l, 3), 0.6286086594223741, d ? 1e-6 : 1e-14);
    }
    sg_release_all((sg_tensor *[]){M, s, l}, 3);
  }
  /* 3x3, det -47.5 through pivoting */
  sg_tensor *C = tt_from(SG_FLOAT64, VALS(3, 1, 2, 1, -4, 0.5, 2, 1, 5), 2, SHAPE(3, 3));
  sg_tensor *s = NULL, *l = NULL;
  CHECK_OK(sg_slogdet(C, &s, &l));
  CHECK(s && s->ndim == 0 && l && l->ndim == 0);
  CHECK_VALUES(s, VALS(-1), 1, 0);
  CHECK_VALUES(l, VALS(3.8607297110405954), 1, 1e-14);
  sg_release_all((sg_tensor *[]){C, s, l}, 3);
}

static void diagonal_trace_values(void) {
  sg_tensor *a = sg_arange(0, 24, 1, SG_FLOAT64, cpu());
  sg_tensor *b = sg_reshape(a, SHAPE(2, 3, 4), 3);
  sg_tensor *d0 = sg_diagonal(b, 0), *d1 = sg_diagonal(b, 1), *dm = sg_diagonal(b, -1);
  sg_tensor *d9 = sg_diagonal(b, 9), *t = sg_trace(b);
  CHECK(d0 && d0->ndim == 2 && d0->shape[1] == 3);
  CHECK_VALUES(d0, VALS(0, 5, 10, 12, 17, 22), 6, 0);
  CHECK_VALUES(d1, VALS(1, 6, 11, 13, 18, 23), 6, 0);
  CHECK_VALUES(dm, VALS(4, 9, 16, 21), 4, 0);
  CHECK(d9 && d9->ndim == 2 && d9->shape[0] == 2 && d9->shape[1] == 0);
  CHECK_VALUES(t, VALS(15, 51), 2, 0);
  CHECK(d0 && d0->storage == b->storage); /* a view */
  CHECK_FAILS(sg_diagonal(a, 0), "diagonal: `input` has 1 dims (24), expected at least 2");
  CHECK_FAILS(sg_trace(a), "trace: `input` has 1 dims (24), expected at least 2");
  sg_release_all((sg_tensor *[]){a, b, d0, d1, dm, d9, t}, 7);
}

/* eigh of the symmetric part: the eigenvalues and, sign-invariant, the
 * squared entries of the eigenvectors (3x weighted). */
static sg_tensor *f_eigh(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  sg_tensor *xt = sg_transpose(in[0], -2, -1);
  sg_tensor *s = xt ? sg_add(in[0], xt) : NULL;
  sg_tensor *a = s ? sg_mul_scalar(s, 0.5) : NULL;
  sg_tensor *L = NULL, *V = NULL;
  if (a) sg_eigh(a, &L, &V);
  sg_tensor *vv = V ? sg_mul(V, V) : NULL;
  sg_tensor *vv3 = vv ? sg_mul_scalar(vv, 3) : NULL;
  sg_tensor *l1 = vv3 ? sg_unsqueeze(L, -2) : NULL; /* (..., 1, n) */
  sg_tensor *parts[2] = {l1, vv3};
  sg_tensor *r = l1 ? sg_cat(parts, 2, -2) : NULL; /* (..., n + 1, n) */
  sg_release_all((sg_tensor *[]){xt, s, a, L, V, vv, vv3, l1}, 8);
  return r;
}

static sg_tensor *f_slogdet(sg_tensor **in, int n, void *ctx) {
  (void)n;
  sg_tensor *a = add_eye(in[0], ((gctx *)ctx)->shift);
  sg_tensor *s = NULL, *l = NULL;
  if (a) sg_slogdet(a, &s, &l);
  sg_release(a);
  sg_release(s);
  return l;
}

static sg_tensor *f_diag_sq(sg_tensor **in, int n, void *ctx) {
  (void)n;
  sg_tensor *d = sg_diagonal(in[0], *(int64_t *)ctx);
  sg_tensor *r = d ? sg_mul(d, d) : NULL;
  sg_release(d);
  return r;
}

static sg_tensor *f_trace(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  return sg_trace(in[0]);
}

static void eigh_slogdet_gradients(void) {
  sg_tensor *x = tt_param(21, -1, 1, 3, SHAPE(2, 4, 4));
  CHECK_GRAD(f_eigh, NULL, &x, 1);
  sg_release(x);
  x = tt_param(22, -1, 1, 2, SHAPE(3, 3));
  CHECK_GRAD(f_eigh, NULL, &x, 1);
  /* first order only: a clear error under create_graph */
  sg_tensor *L = NULL, *V = NULL;
  CHECK_OK(sg_eigh(x, &L, &V));
  sg_tensor *g = NULL;
  if (L) {
    sg_tensor *o = sg_full_like(L, 1.0);
    CHECK_STATUS_FAILS(sg_grad(&L, &o, 1, &x, 1, &g, false, true, false),
                       "eigh: this op's backward is not differentiable");
    sg_release(o);
  }
  sg_release_all((sg_tensor *[]){x, L, V, g}, 4);

  gctx c = {false, 2.0};
  x = tt_param(23, -1, 1, 3, SHAPE(3, 3, 3)); /* some determinants negative */
  CHECK_GRAD(f_slogdet, &c, &x, 1);
  CHECK_GRADGRAD(f_slogdet, &c, &x, 1);
  sg_release(x);

  x = tt_param(24, -1, 1, 3, SHAPE(2, 3, 4));
  int64_t offs[] = {0, 2, -1, 7};
  for (int i = 0; i < 4; i++) {
    CHECK_GRAD(f_diag_sq, &offs[i], &x, 1);
    CHECK_GRADGRAD(f_diag_sq, &offs[i], &x, 1);
  }
  CHECK_GRAD(f_trace, NULL, &x, 1);
  sg_release(x);
}

int main(void) {
  RUN(cholesky_values);
  RUN(cholesky_reconstruct);
  RUN(cholesky_errors);
  RUN(logdet_values);
  RUN(logdet_vs_cholesky);
  RUN(logdet_errors);
  RUN(inv_values);
  RUN(inv_errors);
  RUN(solve_values);
  RUN(solve_residual);
  RUN(solve_errors);
  RUN(gradient_values);
  RUN(gradients);
  RUN(eigh_values);
  RUN(eigh_errors);
  RUN(slogdet_values);
  RUN(diagonal_trace_values);
  RUN(eigh_slogdet_gradients);
  return sg_test_finish();
}
