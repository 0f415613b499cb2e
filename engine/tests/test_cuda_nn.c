/* The CUDA backend's blas, conv, norm and linalg families against the CPU
 * (linalg: cholesky, inv, logdet, slogdet, solve, eigh, diagonal, trace).
 *
 * Two levels:
 *  - kernel slots called directly through both backends' tables on the same
 *    random inputs (depends on nothing but copies), every slot of the four
 *    families;
 *  - the public ops on both devices: forward, gradients (sg_grad with a
 *    random output gradient) and, for the convolutions, double backward;
 *    these also need the elementwise / reduction families on CUDA.
 * Odd shapes, strides, padding, dilation, groups, output_padding, strided
 * and broadcast matmul operands, the im2col + cuBLAS fallback of the
 * convolutions, TF32 off by default, flat memory over repeated calls.
 * Tolerances: float32 1e-4 relative (convolutions 1e-3: cuDNN may use
 * Winograd / FFT), float64 ~1e-10.
 *
 * Without a usable GPU (CPU-only build, no driver, no device) it prints
 * "SKIPPED: no CUDA device ..." and exits with 77, which CMake's
 * SKIP_RETURN_CODE makes ctest report as skipped, never as passed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal/backend.h"
#include "internal/kernels_blas.h"
#include "internal/kernels_conv.h"
#include "internal/kernels_linalg.h"
#include "internal/kernels_norm.h"
#include "sgen/cuda.h"
#ifdef SGEN_WITH_CUDA
#include "cuda/nn_kernels_cuda.h"
#endif

#define SKIP_CODE 77

/* The device under test: cuda:0, or the CPU in self-test mode
 * (SGEN_CUDA_NN_SELFTEST=1 runs every comparison CPU against CPU, which
 * validates the test itself on a machine without a GPU). */
static sg_device GPU = {SG_CUDA, 0};

/* ---------------- helpers ---------------- */

static bool selftest;

/* A copy of t on the device under test (in self-test mode a separate CPU
 * copy, so that in-place updates stay apart). */
static sg_tensor *to_gpu(sg_tensor *t) {
  if (!t) return NULL;
  if (!selftest) return sg_to_device(t, GPU);
  sg_tensor *c = sg_clone(t);
  sg_tensor *d = c ? sg_detach(c) : NULL;
  sg_release(c);
  return d;
}
static sg_tensor *to_cpu(sg_tensor *t) { return t ? sg_to_device(t, sg_cpu_device()) : NULL; }

/* Uniform values in [-1, 1) on the CPU. */
static sg_tensor *rnd(uint64_t seed, sg_dtype dt, int nd, const int64_t *shape) {
  return tt_uniform(seed, dt, -1, 1, nd, shape);
}

static double tol32(sg_dtype dt, double f32) { return dt == SG_FLOAT64 ? 1e-10 : f32; }

/* c (CPU) and g (either device) equal in shape, dtype and values within
 * atol + rtol |c|; NaN matches NaN, infinities match themselves. Consumes
 * neither. */
static bool close_dev(const sg_tensor *c, const sg_tensor *g, double atol, double rtol,
                      const char *what, const char *file, int line) {
  char msg[512];
  if (!c || !g) {
    snprintf(msg, sizeof msg, "%s: %s result is NULL (%s)", what, c ? "GPU" : "CPU",
             sg_last_error());
    return sg_test_check(false, msg, file, line);
  }
  sg_tensor *h = to_cpu((sg_tensor *)g);
  sg_tensor *cc = to_cpu((sg_tensor *)c);
  bool ok = h && cc;
  if (ok && (!sg_same_shape(cc, h) || cc->dtype != h->dtype)) {
    char s1[128], s2[128];
    snprintf(msg, sizeof msg, "%s: CPU %s %s vs GPU %s %s", what, sg_shape_str(cc, s1, sizeof s1),
             sg_dtype_name(cc->dtype), sg_shape_str(h, s2, sizeof s2), sg_dtype_name(h->dtype));
    ok = false;
  } else if (ok) {
    int64_t n = sg_numel(cc), worst = -1;
    double worst_excess = 0;
    for (int64_t i = 0; i < n; i++) {
      double x = sg_get_flat(cc, i), y = sg_get_flat(h, i);
      if ((isnan(x) && isnan(y)) || (isinf(x) && x == y)) continue;
      double e = fabs(x - y) - (atol + rtol * fabs(x));
      if (isnan(e)) e = INFINITY;
      if (e > worst_excess) {
        worst_excess = e;
        worst = i;
      }
    }
    if (worst >= 0) {
      snprintf(msg, sizeof msg, "%s: element %lld: CPU %.12g vs GPU %.12g (atol %g, rtol %g)",
               what, (long long)worst, sg_get_flat(cc, worst), sg_get_flat(h, worst), atol, rtol);
      ok = false;
    }
  } else {
    snprintf(msg, sizeof msg, "%s: copy to the CPU failed: %s", what, sg_last_error());
  }
  sg_release(h);
  sg_release(cc);
  return ok ? true : sg_test_check(false, msg, file, line);
}
#define CLOSE(c, g, atol, rtol, what) close_dev((c), (g), (atol), (rtol), (what), __FILE__, __LINE__)

/* Both NULL with the same message (an argument both devices reject). */
static bool fail_alike(sg_tensor *c, sg_tensor *g, const char *ec, const char *eg,
                       const char *what, const char *file, int line) {
  if (c || g) return false;
  char msg[1400];
  snprintf(msg, sizeof msg, "%s: both fail alike (cpu: %s | cuda: %s)", what, ec, eg);
  sg_test_check(strcmp(ec, eg) == 0, msg, file, line);
  return true;
}

/* ---------------- public-op parity with gradients ---------------- */

typedef sg_tensor *(*opfn)(sg_tensor **in, void *ctx);

/* Runs f on the CPU inputs and on their GPU copies; compares the outputs,
 * the gradients of the inputs marked in `grad` (sg_grad with a random
 * output gradient) and, when gradgrad, the gradients of the first marked
 * input's gradient (with another random weight) w.r.t. all marked inputs. */
static void parity(const char *what, opfn f, void *ctx, sg_tensor **in, int n, const bool *grad,
                   bool gradgrad, double atol, double rtol, const char *file, int line) {
  enum { MAXIN = 6 };
  sg_tensor *ic[MAXIN] = {0}, *ig[MAXIN] = {0}, *wrt_c[MAXIN], *wrt_g[MAXIN];
  int nw = 0;
  for (int i = 0; i < n; i++) {
    if (!in[i]) continue;
    ic[i] = sg_detach(in[i]);
    sg_tensor *t = to_gpu(in[i]);
    ig[i] = t ? sg_detach(t) : NULL;
    sg_release(t);
    if (grad && grad[i] && ic[i] && ig[i]) {
      sg_set_requires_grad(ic[i], true);
      sg_set_requires_grad(ig[i], true);
      wrt_c[nw] = ic[i];
      wrt_g[nw] = ig[i];
      nw++;
    }
  }
  char ec[512], eg[512], msg[256];
  sg_clear_error();
  sg_tensor *yc = f(ic, ctx);
  snprintf(ec, sizeof ec, "%s", sg_last_error());
  sg_clear_error();
  sg_tensor *yg = f(ig, ctx);
  snprintf(eg, sizeof eg, "%s", sg_last_error());
  snprintf(msg, sizeof msg, "%s forward", what);
  if (!fail_alike(yc, yg, ec, eg, msg, file, line) && close_dev(yc, yg, atol, rtol, msg, file, line) &&
      nw > 0) {
    sg_tensor *r = rnd(901, yc->dtype, yc->ndim, yc->shape), *rg = to_gpu(r);
    sg_tensor *gc[MAXIN] = {0}, *gg[MAXIN] = {0};
    snprintf(msg, sizeof msg, "%s gradient", what);
    bool okc = sg_test_check_ok(sg_grad(&yc, &r, 1, wrt_c, nw, gc, true, gradgrad, true), msg,
                                file, line);
    bool okg = sg_test_check_ok(sg_grad(&yg, &rg, 1, wrt_g, nw, gg, true, gradgrad, true), msg,
                                file, line);
    if (okc && okg)
      for (int k = 0; k < nw; k++) {
        snprintf(msg, sizeof msg, "%s gradient %d", what, k);
        if (gc[k] || gg[k]) close_dev(gc[k], gg[k], atol * 10, rtol * 10, msg, file, line);
      }
    if (okc && okg && gradgrad && gc[0] && gg[0]) {
      sg_tensor *r2 = rnd(902, gc[0]->dtype, gc[0]->ndim, gc[0]->shape), *r2g = to_gpu(r2);
      sg_tensor *hc[MAXIN] = {0}, *hg[MAXIN] = {0};
      snprintf(msg, sizeof msg, "%s double backward", what);
      okc = sg_test_check_ok(sg_grad(&gc[0], &r2, 1, wrt_c, nw, hc, false, false, true), msg, file,
                             line);
      okg = sg_test_check_ok(sg_grad(&gg[0], &r2g, 1, wrt_g, nw, hg, false, false, true), msg,
                             file, line);
      if (okc && okg)
        for (int k = 0; k < nw; k++) {
          snprintf(msg, sizeof msg, "%s double backward %d", what, k);
          sg_test_check((hc[k] == NULL) == (hg[k] == NULL), msg, file, line);
          if (hc[k] && hg[k]) close_dev(hc[k], hg[k], atol * 100, rtol * 100, msg, file, line);
        }
      sg_release_all(hc, nw);
      sg_release_all(hg, nw);
      sg_release(r2);
      sg_release(r2g);
    }
    sg_release_all(gc, nw);
    sg_release_all(gg, nw);
    sg_release(r);
    sg_release(rg);
  }
  sg_release(yc);
  sg_release(yg);
  sg_release_all(ic, n);
  sg_release_all(ig, n);
}
#define PARITY(what, f, ctx, in, n, grad, gg, atol, rtol) \
  parity((what), (f), (ctx), (in), (n), (grad), (gg), (atol), (rtol), __FILE__, __LINE__)

static const sg_backend *gpu_backend(void) { return sg_backend_for(GPU); }

static bool on_device_under_test(const sg_tensor *t) {
  return t->storage->device.type == GPU.type;
}

/* ================= blas ================= */

/* matmul of views: op(a) @ op(b) with transposes / expands made on each
 * device, so the kernel sees the same strides on both. */
typedef struct {
  bool ta, tb;         /* transpose the last two dims */
  int64_t expand_a[4]; /* expand a to this shape (ndim ea) first, if ea > 0 */
  int ea;
  bool narrow_b; /* take every other column of b (stride 2) */
} mm_ctx;

static sg_tensor *mm_view(sg_tensor *t, bool tr) {
  return tr ? sg_transpose(t, -1, -2) : sg_retain(t);
}

static sg_tensor *mm_fn(sg_tensor **in, void *vctx) {
  mm_ctx *c = vctx;
  sg_tensor *a = mm_view(in[0], c->ta), *b = mm_view(in[1], c->tb);
  if (a && c->ea > 0) {
    sg_tensor *e = sg_expand(a, c->expand_a, c->ea);
    sg_release(a);
    a = e;
  }
  if (b && c->narrow_b) {
    /* columns 0, 2, 4, ...: a strided view through a reshape of the last dim */
    int64_t n = b->shape[b->ndim - 1];
    sg_tensor *nb = sg_narrow(b, b->ndim - 1, 0, n - n % 2);
    int64_t shp[SG_MAX_DIMS];
    for (int i = 0; i < b->ndim - 1; i++) shp[i] = b->shape[i];
    shp[b->ndim - 1] = (n - n % 2) / 2;
    shp[b->ndim] = 2;
    sg_tensor *r = nb ? sg_reshape(nb, shp, b->ndim + 1) : NULL;
    sg_tensor *s = r ? sg_select(r, b->ndim, 0) : NULL;
    sg_release(nb);
    sg_release(r);
    sg_release(b);
    b = s;
  }
  sg_tensor *y = a && b ? sg_matmul(a, b) : NULL;
  sg_release(a);
  sg_release(b);
  return y;
}

static void check_mm(sg_dtype dt, int nda, const int64_t *sa, int ndb, const int64_t *sb,
                     mm_ctx c, const char *what) {
  sg_tensor *in[2];
  if (dt == SG_INT64) {
    sg_tensor *a = tt_uniform(11, SG_FLOAT64, -50, 50, nda, sa);
    sg_tensor *b = tt_uniform(12, SG_FLOAT64, -50, 50, ndb, sb);
    in[0] = sg_to_dtype(a, SG_INT64);
    in[1] = sg_to_dtype(b, SG_INT64);
    sg_release(a);
    sg_release(b);
  } else {
    in[0] = rnd(11, dt, nda, sa);
    in[1] = rnd(12, dt, ndb, sb);
  }
  bool grad[2] = {dt != SG_INT64, dt != SG_INT64};
  double tol = dt == SG_INT64 ? 0 : tol32(dt, 1e-4);
  char name[160];
  snprintf(name, sizeof name, "matmul %s %s", what, sg_dtype_name(dt));
  PARITY(name, mm_fn, &c, in, 2, grad, false, tol, tol);
  sg_release_all(in, 2);
}

static void matmul_parity(void) {
  const sg_dtype dts[3] = {SG_FLOAT32, SG_FLOAT64, SG_INT64};
  for (int k = 0; k < 3; k++) {
    sg_dtype dt = dts[k];
    mm_ctx plain = {0};
    check_mm(dt, 2, SHAPE(7, 13), 2, SHAPE(13, 5), plain, "7x13 @ 13x5");
    check_mm(dt, 2, SHAPE(1, 9), 2, SHAPE(9, 6), plain, "row vector");
    check_mm(dt, 2, SHAPE(6, 9), 2, SHAPE(9, 1), plain, "column vector");
    check_mm(dt, 1, SHAPE(9), 1, SHAPE(9), plain, "dot");
    check_mm(dt, 3, SHAPE(4, 5, 7), 3, SHAPE(4, 7, 3), plain, "batched");
    check_mm(dt, 4, SHAPE(2, 3, 5, 7), 2, SHAPE(7, 3), plain, "N-D @ 2-D");
    check_mm(dt, 2, SHAPE(5, 7), 3, SHAPE(3, 7, 4), plain, "2-D @ batched (broadcast a)");
    check_mm(dt, 4, SHAPE(2, 1, 5, 7), 3, SHAPE(3, 7, 4), plain, "broadcast batch dims");
    mm_ctx t = {.ta = true, .tb = true};
    check_mm(dt, 3, SHAPE(3, 7, 5), 3, SHAPE(3, 4, 7), t, "both transposed");
    mm_ctx ta = {.ta = true};
    check_mm(dt, 2, SHAPE(9, 6), 2, SHAPE(9, 5), ta, "a transposed");
    mm_ctx e = {.expand_a = {3, 4, 5, 6}, .ea = 4};
    check_mm(dt, 2, SHAPE(5, 6), 3, SHAPE(4, 6, 2), e, "expanded a (stride-0 batch)");
    mm_ctx nb = {.narrow_b = true};
    check_mm(dt, 3, SHAPE(2, 5, 6), 3, SHAPE(2, 6, 8), nb, "b with column stride 2 (packed)");
    check_mm(dt, 2, SHAPE(4, 0), 2, SHAPE(0, 3), plain, "K = 0");
    check_mm(dt, 2, SHAPE(0, 4), 2, SHAPE(4, 3), plain, "M = 0");
  }
  /* a bigger float32 product, above the vector paths */
  mm_ctx plain = {0};
  check_mm(SG_FLOAT32, 3, SHAPE(3, 67, 129), 3, SHAPE(3, 129, 45), plain, "3x67x129 @ 3x129x45");
}

/* Kernel slot with a permuted batch (dims that do not merge): looped. */
static void matmul_slot_permuted_batch(void) {
  sg_tensor *a = rnd(21, SG_FLOAT64, 4, SHAPE(3, 2, 4, 5)); /* viewed as 2 x 3 x 4 x 5 */
  sg_tensor *b = rnd(22, SG_FLOAT64, 4, SHAPE(2, 3, 5, 6));
  sg_tensor *ag = to_gpu(a), *bg = to_gpu(b);
  sg_tensor *av = sg_transpose(a, 0, 1), *agv = ag ? sg_transpose(ag, 0, 1) : NULL;
  sg_tensor *oc = sg_empty(SHAPE(2, 3, 4, 6), 4, SG_FLOAT64, sg_cpu_device());
  sg_tensor *og = sg_empty(SHAPE(2, 3, 4, 6), 4, SG_FLOAT64, GPU);
  const sg_backend *gb = gpu_backend();
  if (CHECK(gb && gb->blas && gb->blas->matmul && agv && og)) {
    CHECK_OK(sg_cpu_backend.blas->matmul(oc, av, b));
    CHECK_OK(gb->blas->matmul(og, agv, bg));
    CLOSE(oc, og, 1e-12, 1e-12, "matmul slot, permuted batch");
  }
  sg_release_all((sg_tensor *[]){a, b, ag, bg, av, agv, oc, og}, 8);
}

/* float32 against a float64 reference (relative to the largest value):
 * TF32 (10-bit mantissa) gives ~1e-4 on these sizes, IEEE float32 ~1e-7. */
static double max_rel_err(const sg_tensor *t, const sg_tensor *ref) {
  sg_tensor *h = to_cpu((sg_tensor *)t);
  double m = 0, scale = 0;
  int64_t n = sg_numel(ref);
  for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(sg_get_flat(ref, i)));
  for (int64_t i = 0; h && i < n; i++)
    m = fmax(m, fabs(sg_get_flat(h, i) - sg_get_flat(ref, i)));
  sg_release(h);
  return h ? m / (scale > 0 ? scale : 1) : INFINITY;
}

static void tf32_off_by_default(void) {
  CHECK(!sg_get_allow_tf32());
  sg_tensor *a64 = rnd(31, SG_FLOAT64, 2, SHAPE(128, 1024));
  sg_tensor *b64 = rnd(32, SG_FLOAT64, 2, SHAPE(1024, 96));
  sg_tensor *a32 = sg_to_dtype(a64, SG_FLOAT32), *b32 = sg_to_dtype(b64, SG_FLOAT32);
  /* reference from the float32-rounded inputs, in float64 */
  sg_tensor *a32d = sg_to_dtype(a32, SG_FLOAT64), *b32d = sg_to_dtype(b32, SG_FLOAT64);
  sg_tensor *ref = sg_matmul(a32d, b32d);
  sg_tensor *ag = to_gpu(a32), *bg = to_gpu(b32);
  sg_tensor *y = ag && bg ? sg_matmul(ag, bg) : NULL;
  sg_tensor *y64 = y ? sg_to_dtype(y, SG_FLOAT64) : NULL;
  double e = y64 ? max_rel_err(y64, ref) : INFINITY;
  printf("  matmul float32 vs float64 reference, TF32 off: max rel err %.3g\n", e);
  CHECK(e < 1e-5);
  /* conv2d too (cuDNN in FMA math) */
  sg_tensor *x64 = rnd(33, SG_FLOAT64, 4, SHAPE(2, 64, 12, 12));
  sg_tensor *w64 = rnd(34, SG_FLOAT64, 4, SHAPE(32, 64, 3, 3));
  sg_tensor *x32 = sg_to_dtype(x64, SG_FLOAT32), *w32 = sg_to_dtype(w64, SG_FLOAT32);
  sg_tensor *x32d = sg_to_dtype(x32, SG_FLOAT64), *w32d = sg_to_dtype(w32, SG_FLOAT64);
  sg_conv_opts o = {{1, 1}, {1, 1}, {1, 1}, {0, 0}, 1};
  sg_tensor *cref = sg_conv2d(x32d, w32d, NULL, &o);
  sg_tensor *xg = to_gpu(x32), *wg = to_gpu(w32);
  sg_tensor *cy = xg && wg ? sg_conv2d(xg, wg, NULL, &o) : NULL;
  sg_tensor *cy64 = cy ? sg_to_dtype(cy, SG_FLOAT64) : NULL;
  double ce = cy64 ? max_rel_err(cy64, cref) : INFINITY;
  printf("  conv2d float32 vs float64 reference, TF32 off: max rel err %.3g\n", ce);
  /* TF32 would be ~2e-4 here; FMA Winograd / FFT stay near 1e-6 */
  CHECK(ce < 5e-5);
  /* with TF32 allowed the products still run (and stay within TF32's error) */
  sg_set_allow_tf32(true);
  sg_tensor *yt = ag && bg ? sg_matmul(ag, bg) : NULL;
  sg_tensor *yt64 = yt ? sg_to_dtype(yt, SG_FLOAT64) : NULL;
  double et = yt64 ? max_rel_err(yt64, ref) : INFINITY;
  sg_tensor *ct = xg && wg ? sg_conv2d(xg, wg, NULL, &o) : NULL;
  sg_tensor *ct64 = ct ? sg_to_dtype(ct, SG_FLOAT64) : NULL;
  double cet = ct64 ? max_rel_err(ct64, cref) : INFINITY;
  sg_set_allow_tf32(false);
  printf("  TF32 allowed: matmul max rel err %.3g, conv2d %.3g\n", et, cet);
  CHECK(et < 1e-2);
  CHECK(cet < 1e-2);
  sg_release_all((sg_tensor *[]){a64, b64, a32, b32, a32d, b32d, ref, ag, bg, y, y64, yt, yt64},
                 13);
  sg_release_all((sg_tensor *[]){x64, w64, x32, w32, x32d, w32d, cref, xg, wg, cy, cy64, ct, ct64},
                 13);
}

/* ================= conv ================= */

typedef struct {
  int64_t N, C, H, W, K, kh, kw;
  int sh, sw, ph, pw, dh, dw, groups, oph, opw;
} conv_case;

static const conv_case conv_cases[] = {
    /* N  C   H   W   K  kh kw  sh sw ph pw dh dw  g oph opw */
    {2, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0},     /* odd sizes, same padding */
    {3, 4, 11, 8, 6, 3, 2, 2, 1, 1, 0, 1, 1, 2, 1, 0},    /* stride 2x1, groups 2 */
    {1, 6, 10, 10, 6, 3, 3, 2, 2, 2, 2, 2, 2, 3, 1, 1},   /* dilation 2, groups 3 */
    {2, 4, 5, 6, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0},     /* 1x1 */
    {1, 2, 9, 7, 3, 5, 3, 3, 2, 2, 1, 1, 2, 1, 2, 1},     /* 5x3, stride 3x2, dilation 1x2 */
    {2, 8, 12, 12, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8, 0, 0},   /* depthwise */
    {1, 2, 4, 4, 2, 2, 2, 1, 1, 3, 3, 1, 1, 1, 0, 0},     /* padding larger than the kernel */
    {4, 16, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0}, /* a GAN-sized layer */
    {5, 3, 17, 13, 7, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 1},   /* DCGAN-style 4x4 stride 2 */
};
#define N_CONV_CASES ((int)(sizeof conv_cases / sizeof conv_cases[0]))

static sg_conv_opts case_opts(const conv_case *c, bool transposed) {
  sg_conv_opts o = {{c->sh, c->sw}, {c->ph, c->pw}, {c->dh, c->dw},
                    {transposed ? c->oph : 0, transposed ? c->opw : 0}, c->groups};
  return o;
}

static sg_tensor *conv2d_fn(sg_tensor **in, void *ctx) {
  return sg_conv2d(in[0], in[1], in[2], (const sg_conv_opts *)ctx);
}

static sg_tensor *convt_fn(sg_tensor **in, void *ctx) {
  return sg_conv_transpose2d(in[0], in[1], in[2], (const sg_conv_opts *)ctx);
}

typedef struct {
  sg_conv_opts o;
  int64_t wshape[4];
} convw_ctx;

static sg_tensor *convw_fn(sg_tensor **in, void *ctx) {
  convw_ctx *c = ctx;
  return sg_conv2d_weight(in[0], in[1], c->wshape, &c->o);
}

static int64_t out_size(int64_t in, int64_t k, int s, int p, int d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

static void conv_case_parity(const conv_case *c, sg_dtype dt, bool gradgrad, const char *tag) {
  char name[200];
  const double tol = tol32(dt, 1e-3);
  const int64_t Ho = out_size(c->H, c->kh, c->sh, c->ph, c->dh);
  const int64_t Wo = out_size(c->W, c->kw, c->sw, c->pw, c->dw);
  bool g3[3] = {true, true, true};
  /* conv2d with bias */
  {
    sg_conv_opts o = case_opts(c, false);
    sg_tensor *in[3] = {rnd(41, dt, 4, SHAPE(c->N, c->C, c->H, c->W)),
                        rnd(42, dt, 4, SHAPE(c->K, c->C / c->groups, c->kh, c->kw)),
                        rnd(43, dt, 1, SHAPE(c->K))};
    snprintf(name, sizeof name, "%sconv2d %lldx%lldx%lldx%lld k%lld %s", tag, (long long)c->N,
             (long long)c->C, (long long)c->H, (long long)c->W, (long long)c->K,
             sg_dtype_name(dt));
    PARITY(name, conv2d_fn, &o, in, 3, g3, gradgrad, tol, tol);
    /* and without bias */
    sg_tensor *in2[3] = {in[0], in[1], NULL};
    snprintf(name, sizeof name, "%sconv2d (no bias) %lldx%lld %s", tag, (long long)c->H,
             (long long)c->W, sg_dtype_name(dt));
    PARITY(name, conv2d_fn, &o, in2, 3, g3, false, tol, tol);
    sg_release_all(in, 3);
  }
  /* conv_transpose2d: input N x C x Ho x Wo, weight C x K/g x kh x kw */
  {
    sg_conv_opts o = case_opts(c, true);
    if (c->oph >= c->sh || c->opw >= c->sw) o.output_padding[0] = o.output_padding[1] = 0;
    sg_tensor *in[3] = {rnd(44, dt, 4, SHAPE(c->N, c->C, Ho, Wo)),
                        rnd(45, dt, 4, SHAPE(c->C, c->K / c->groups, c->kh, c->kw)),
                        rnd(46, dt, 1, SHAPE(c->K))};
    snprintf(name, sizeof name, "%sconv_transpose2d %lldx%lldx%lldx%lld op %dx%d %s", tag,
             (long long)c->N, (long long)c->C, (long long)Ho, (long long)Wo,
             o.output_padding[0], o.output_padding[1], sg_dtype_name(dt));
    PARITY(name, convt_fn, &o, in, 3, g3, gradgrad, tol, tol);
    sg_release_all(in, 3);
  }
  /* conv2d_weight */
  {
    convw_ctx w = {case_opts(c, false), {c->K, c->C / c->groups, c->kh, c->kw}};
    sg_tensor *in[2] = {rnd(47, dt, 4, SHAPE(c->N, c->C, c->H, c->W)),
                        rnd(48, dt, 4, SHAPE(c->N, c->K, Ho, Wo))};
    snprintf(name, sizeof name, "%sconv2d_weight %lldx%lld %s", tag, (long long)c->H,
             (long long)c->W, sg_dtype_name(dt));
    PARITY(name, convw_fn, &w, in, 2, g3, false, tol, tol);
    sg_release_all(in, 2);
  }
}

static void conv_parity(void) {
  for (int i = 0; i < N_CONV_CASES; i++) {
    conv_case_parity(&conv_cases[i], SG_FLOAT32, i < 3, "");
    conv_case_parity(&conv_cases[i], SG_FLOAT64, i < 3, "");
  }
}

/* The same through the im2col + cuBLAS fallback. */
static void conv_fallback_parity(void) {
#ifdef SGEN_WITH_CUDA
  if (selftest) return;
  sg_cuda_conv_force_fallback(true);
  for (int i = 0; i < N_CONV_CASES; i++) {
    conv_case_parity(&conv_cases[i], SG_FLOAT32, i == 1, "fallback ");
    conv_case_parity(&conv_cases[i], SG_FLOAT64, false, "fallback ");
  }
  sg_cuda_conv_force_fallback(false);
#endif
}

/* Edge cases of the slots: no input channels (the output is the bias), a
 * weight gradient from an empty batch (zeros). */
static void conv_slot_edges(void) {
  const sg_backend *gb = gpu_backend();
  if (!CHECK(gb && gb->conv && gb->conv->conv2d)) return;
  /* N C H W K Ho Wo kh kw sh sw ph pw dh dw groups */
  sg_conv_geom g = {2, 0, 5, 5, 3, 3, 3, 3, 3, 1, 1, 0, 0, 1, 1, 1};
  sg_tensor *x = sg_empty(SHAPE(2, 0, 5, 5), 4, SG_FLOAT32, GPU);
  sg_tensor *w = sg_empty(SHAPE(3, 0, 3, 3), 4, SG_FLOAT32, GPU);
  sg_tensor *bc = rnd(51, SG_FLOAT32, 1, SHAPE(3)), *bg = to_gpu(bc);
  sg_tensor *out = sg_full(SHAPE(2, 3, 3, 3), 4, 7.0, SG_FLOAT32, GPU);
  if (CHECK(x && w && bg && out)) {
    CHECK_OK(gb->conv->conv2d(out, x, w, bg, &g));
    sg_tensor *zeros = sg_zeros(SHAPE(2, 3, 3, 3), 4, SG_FLOAT32, sg_cpu_device());
    sg_tensor *b4 = sg_reshape(bc, SHAPE(1, 3, 1, 1), 4);
    sg_tensor *expect = zeros && b4 ? sg_add(zeros, b4) : NULL;
    CLOSE(expect, out, 0, 0, "conv2d with no input channels = bias");
    sg_release_all((sg_tensor *[]){zeros, b4, expect}, 3);
  }
  sg_conv_geom g0 = {0, 2, 5, 5, 3, 3, 3, 3, 3, 1, 1, 0, 0, 1, 1, 1};
  sg_tensor *x0 = sg_empty(SHAPE(0, 2, 5, 5), 4, SG_FLOAT64, GPU);
  sg_tensor *go0 = sg_empty(SHAPE(0, 3, 3, 3), 4, SG_FLOAT64, GPU);
  sg_tensor *gw = sg_full(SHAPE(3, 2, 3, 3), 4, 5.0, SG_FLOAT64, GPU);
  sg_tensor *z = sg_zeros(SHAPE(3, 2, 3, 3), 4, SG_FLOAT64, sg_cpu_device());
  if (CHECK(x0 && go0 && gw)) {
    CHECK_OK(gb->conv->conv2d_weight(gw, x0, go0, &g0));
    CLOSE(z, gw, 0, 0, "conv2d_weight of an empty batch = 0");
  }
  sg_release_all((sg_tensor *[]){x, w, bc, bg, out, x0, go0, gw, z}, 9);
}

typedef struct {
  sg_unfold_opts o;
  int64_t H, W;
} unf_ctx;

static sg_tensor *unfold_fn(sg_tensor **in, void *ctx) {
  return sg_unfold(in[0], &((unf_ctx *)ctx)->o);
}

static sg_tensor *fold_fn(sg_tensor **in, void *ctx) {
  unf_ctx *c = ctx;
  return sg_fold(in[0], c->H, c->W, &c->o);
}

static void unfold_fold_parity(void) {
  const struct {
    int64_t N, C, H, W;
    sg_unfold_opts o;
  } cases[] = {
      {2, 3, 7, 9, {{3, 3}, {1, 1}, {1, 1}, {1, 1}}},
      {1, 2, 10, 11, {{2, 3}, {2, 1}, {1, 0}, {2, 3}}},
      {3, 1, 5, 5, {{5, 5}, {1, 1}, {0, 0}, {1, 1}}},
      {2, 4, 8, 6, {{3, 2}, {1, 2}, {2, 1}, {3, 1}}},
  };
  const sg_dtype dts[2] = {SG_FLOAT32, SG_FLOAT64};
  bool g1[1] = {true};
  char name[160];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (int k = 0; k < 2; k++) {
      sg_dtype dt = dts[k];
      unf_ctx c = {cases[i].o, cases[i].H, cases[i].W};
      sg_tensor *x = rnd(61, dt, 4, SHAPE(cases[i].N, cases[i].C, cases[i].H, cases[i].W));
      snprintf(name, sizeof name, "unfold case %zu %s", i, sg_dtype_name(dt));
      /* a copy: exact */
      PARITY(name, unfold_fn, &c, &x, 1, g1, false, 0, 0);
      sg_tensor *u = sg_unfold(x, &c.o);
      if (CHECK(u)) {
        sg_tensor *cols = rnd(62, dt, 3, u->shape);
        snprintf(name, sizeof name, "fold case %zu %s", i, sg_dtype_name(dt));
        /* sums in the CPU's order: exact too, up to contraction */
        PARITY(name, fold_fn, &c, &cols, 1, g1, false, tol32(dt, 1e-6), tol32(dt, 1e-6));
        sg_release(cols);
      }
      sg_release(u);
      sg_release(x);
    }
}

/* Repeated convolutions leave the allocator where it was (workspaces and
 * column buffers are returned). */
static void conv_memory_flat(void) {
  if (selftest) return;
  sg_tensor *x = to_gpu(rnd(71, SG_FLOAT32, 4, SHAPE(4, 16, 24, 24)));
  sg_tensor *w = to_gpu(rnd(72, SG_FLOAT32, 4, SHAPE(16, 16, 3, 3)));
  sg_conv_opts o = {{1, 1}, {1, 1}, {1, 1}, {0, 0}, 1};
  if (!CHECK(x && w)) goto done;
  for (int round = 0; round < 2; round++) {
    CHECK_OK(sg_cuda_synchronize());
    size_t before = sg_cuda_memory_stats().allocated_bytes;
    for (int i = 0; i < 5; i++) {
      sg_tensor *y = sg_conv2d(x, w, NULL, &o);
      sg_tensor *t = y ? sg_conv_transpose2d(y, w, NULL, &o) : NULL;
      sg_tensor *gw = y ? sg_conv2d_weight(x, y, w->shape, &o) : NULL;
      CHECK(y && t && gw);
      sg_release(y);
      sg_release(t);
      sg_release(gw);
    }
    CHECK_OK(sg_cuda_synchronize());
    size_t after = sg_cuda_memory_stats().allocated_bytes;
    char msg[128];
    snprintf(msg, sizeof msg, "allocated bytes flat over convolutions (%zu -> %zu)", before,
             after);
    sg_test_check(before == after, msg, __FILE__, __LINE__);
  }
done:
  sg_release(x);
  sg_release(w);
}

/* ================= norm: the slots ================= */

/* Compares the norm slots on x viewed as [A, G, B] (weights of C values). */
static void norm_slots_case(sg_dtype dt, int64_t A, int64_t G, int64_t B, int64_t C, bool affine) {
  const sg_backend *gb = gpu_backend();
  if (!CHECK(gb && gb->norm && gb->norm->moments)) return;
  const struct sg_norm_kernels *kc = sg_cpu_backend.norm, *kg = gb->norm;
  const double tol = tol32(dt, 1e-5);
  char name[200];
  snprintf(name, sizeof name, "norm slots A=%lld G=%lld B=%lld C=%lld %s%s", (long long)A,
           (long long)G, (long long)B, (long long)C, sg_dtype_name(dt), affine ? " affine" : "");
  const int64_t *xs = SHAPE(A, G, B), *gs = SHAPE(G), *cs = SHAPE(C);
  sg_tensor *x = tt_uniform(81, dt, -2, 3, 3, xs), *dy = rnd(82, dt, 3, xs);
  sg_tensor *w = affine ? tt_uniform(83, dt, 0.5, 1.5, 1, cs) : NULL;
  sg_tensor *b = affine ? rnd(84, dt, 1, cs) : NULL;
  sg_tensor *xg = to_gpu(x), *dyg = to_gpu(dy), *wg = to_gpu(w), *bg = to_gpu(b);
  sg_tensor *mc = sg_empty(gs, 1, dt, sg_cpu_device()), *vc = sg_empty(gs, 1, dt, sg_cpu_device());
  sg_tensor *mg = sg_empty(gs, 1, dt, GPU), *vg = sg_empty(gs, 1, dt, GPU);
  char what[260];
  if (!CHECK(xg && dyg && mg && vg && (!affine || (wg && bg)))) goto done;
  CHECK_OK(kc->moments(mc, vc, x, A, G, B));
  CHECK_OK(kg->moments(mg, vg, xg, A, G, B));
  snprintf(what, sizeof what, "%s: mean", name);
  CLOSE(mc, mg, tol, tol, what);
  snprintf(what, sizeof what, "%s: var", name);
  CLOSE(vc, vg, tol, tol, what);
  {
    /* normalize and backward with the CPU's statistics on both devices */
    sg_tensor *is = tt_uniform(85, dt, 0.5, 2, 1, gs), *isg = to_gpu(is), *mcg = to_gpu(mc);
    sg_tensor *yc = sg_empty(xs, 3, dt, sg_cpu_device()), *yg = sg_empty(xs, 3, dt, GPU);
    CHECK_OK(kc->normalize(yc, x, A, G, B, mc, is, w, b, C));
    CHECK_OK(kg->normalize(yg, xg, A, G, B, mcg, isg, wg, bg, C));
    snprintf(what, sizeof what, "%s: normalize", name);
    CLOSE(yc, yg, tol, tol, what);
    /* in place (y aliases x) */
    sg_tensor *xg2 = sg_clone(xg);
    if (CHECK(xg2)) {
      CHECK_OK(kg->normalize(xg2, xg2, A, G, B, mcg, isg, wg, bg, C));
      snprintf(what, sizeof what, "%s: normalize in place", name);
      CLOSE(yc, xg2, tol, tol, what);
    }
    sg_tensor *dxc = sg_empty(xs, 3, dt, sg_cpu_device()), *dxg = sg_empty(xs, 3, dt, GPU);
    sg_tensor *s1c = sg_empty(gs, 1, dt, sg_cpu_device()), *s2c = sg_empty(gs, 1, dt, sg_cpu_device());
    sg_tensor *s1g = sg_empty(gs, 1, dt, GPU), *s2g = sg_empty(gs, 1, dt, GPU);
    CHECK_OK(kc->normalize_backward(dxc, s1c, s2c, dy, x, A, G, B, mc, is, w, C));
    CHECK_OK(kg->normalize_backward(dxg, s1g, s2g, dyg, xg, A, G, B, mcg, isg, wg, C));
    snprintf(what, sizeof what, "%s: backward dx", name);
    CLOSE(dxc, dxg, tol * 10, tol * 10, what);
    snprintf(what, sizeof what, "%s: backward sum dy", name);
    CLOSE(s1c, s1g, tol * 10, tol * 10, what);
    snprintf(what, sizeof what, "%s: backward sum dy xhat", name);
    CLOSE(s2c, s2g, tol * 10, tol * 10, what);
    /* without dx */
    sg_tensor *s1g2 = sg_empty(gs, 1, dt, GPU), *s2g2 = sg_empty(gs, 1, dt, GPU);
    CHECK_OK(kg->normalize_backward(NULL, s1g2, s2g2, dyg, xg, A, G, B, mcg, isg, wg, C));
    snprintf(what, sizeof what, "%s: backward sums without dx", name);
    CLOSE(s2c, s2g2, tol * 10, tol * 10, what);
    sg_release_all((sg_tensor *[]){is, isg, mcg, yc, yg, xg2, dxc, dxg, s1c, s2c, s1g, s2g, s1g2,
                                   s2g2},
                   14);
  }
done:
  sg_release_all((sg_tensor *[]){x, dy, w, b, xg, dyg, wg, bg, mc, vc, mg, vg}, 12);
}

static void layer_norm_slots_case(sg_dtype dt, int64_t R, int64_t D, bool affine) {
  const sg_backend *gb = gpu_backend();
  if (!CHECK(gb && gb->norm && gb->norm->layer_norm)) return;
  const struct sg_norm_kernels *kc = sg_cpu_backend.norm, *kg = gb->norm;
  const double tol = tol32(dt, 1e-5);
  char name[160], what[260];
  snprintf(name, sizeof name, "layer_norm slots R=%lld D=%lld %s%s", (long long)R, (long long)D,
           sg_dtype_name(dt), affine ? " affine" : "");
  const int64_t *xs = SHAPE(R, D), *rs = SHAPE(R), *ds = SHAPE(D);
  sg_tensor *x = tt_uniform(91, dt, -2, 3, 2, xs), *dy = rnd(92, dt, 2, xs);
  sg_tensor *w = affine ? tt_uniform(93, dt, 0.5, 1.5, 1, ds) : NULL;
  sg_tensor *b = affine ? rnd(94, dt, 1, ds) : NULL;
  sg_tensor *xg = to_gpu(x), *dyg = to_gpu(dy), *wg = to_gpu(w), *bg = to_gpu(b);
  sg_tensor *yc = sg_empty(xs, 2, dt, sg_cpu_device()), *yg = sg_empty(xs, 2, dt, GPU);
  sg_tensor *mc = sg_empty(rs, 1, dt, sg_cpu_device()), *ic = sg_empty(rs, 1, dt, sg_cpu_device());
  sg_tensor *mg = sg_empty(rs, 1, dt, GPU), *ig = sg_empty(rs, 1, dt, GPU);
  sg_tensor *dxc = sg_empty(xs, 2, dt, sg_cpu_device()), *dxg = sg_empty(xs, 2, dt, GPU);
  sg_tensor *dwc = sg_empty(ds, 1, dt, sg_cpu_device()), *dwg = sg_empty(ds, 1, dt, GPU);
  sg_tensor *dbc = sg_empty(ds, 1, dt, sg_cpu_device()), *dbg = sg_empty(ds, 1, dt, GPU);
  sg_tensor *mcg = NULL, *icg = NULL;
  if (!CHECK(xg && dyg && yg && mg && ig && dxg && dwg && dbg)) goto done;
  CHECK_OK(kc->layer_norm(yc, mc, ic, x, R, D, w, b, 1e-5));
  CHECK_OK(kg->layer_norm(yg, mg, ig, xg, R, D, wg, bg, 1e-5));
  snprintf(what, sizeof what, "%s: y", name);
  CLOSE(yc, yg, tol, tol, what);
  snprintf(what, sizeof what, "%s: mean", name);
  CLOSE(mc, mg, tol, tol, what);
  snprintf(what, sizeof what, "%s: invstd", name);
  CLOSE(ic, ig, tol, tol, what);
  /* backward from the CPU's statistics */
  mcg = to_gpu(mc);
  icg = to_gpu(ic);
  CHECK_OK(kc->layer_norm_backward(dxc, dwc, dbc, dy, x, mc, ic, w, R, D));
  CHECK_OK(kg->layer_norm_backward(dxg, dwg, dbg, dyg, xg, mcg, icg, wg, R, D));
  snprintf(what, sizeof what, "%s: dx", name);
  CLOSE(dxc, dxg, tol * 10, tol * 10, what);
  snprintf(what, sizeof what, "%s: dw", name);
  CLOSE(dwc, dwg, tol * 10, tol * 10, what);
  snprintf(what, sizeof what, "%s: db", name);
  CLOSE(dbc, dbg, tol * 10, tol * 10, what);
  /* only dx; only dw */
  CHECK_OK(kg->layer_norm_backward(dxg, NULL, NULL, dyg, xg, mcg, icg, wg, R, D));
  snprintf(what, sizeof what, "%s: dx alone", name);
  CLOSE(dxc, dxg, tol * 10, tol * 10, what);
  CHECK_OK(kg->layer_norm_backward(NULL, dwg, NULL, dyg, xg, mcg, icg, wg, R, D));
  snprintf(what, sizeof what, "%s: dw alone", name);
  CLOSE(dwc, dwg, tol * 10, tol * 10, what);
done:
  sg_release_all((sg_tensor *[]){x, dy, w, b, xg, dyg, wg, bg, yc, yg, mc, ic, mg, ig}, 14);
  sg_release_all((sg_tensor *[]){dxc, dxg, dwc, dwg, dbc, dbg, mcg, icg}, 8);
}

static void norm_slots(void) {
  const sg_dtype dts[2] = {SG_FLOAT32, SG_FLOAT64};
  for (int k = 0; k < 2; k++) {
    sg_dtype dt = dts[k];
    norm_slots_case(dt, 4, 3, 17, 3, true);       /* batch norm 2d */
    norm_slots_case(dt, 8, 5, 1, 5, false);       /* batch norm 1d (B = 1) */
    norm_slots_case(dt, 1, 6, 50, 3, true);       /* instance norm: G = N*C, C = 3 */
    norm_slots_case(dt, 3, 2, 70001, 2, true);    /* large groups: many chunks each */
    norm_slots_case(dt, 2, 1, 5, 1, false);       /* one group */
    layer_norm_slots_case(dt, 5, 7, true);
    layer_norm_slots_case(dt, 3, 1000, false);
    layer_norm_slots_case(dt, 700, 33, true);     /* many rows: dw/db split over chunks */
    layer_norm_slots_case(dt, 1, 1, true);
  }
  /* error cases, as the CPU */
  const sg_backend *gb = gpu_backend();
  sg_tensor *e = sg_empty(SHAPE(0, 3, 4), 3, SG_FLOAT32, GPU), *m = sg_empty(SHAPE(3), 1, SG_FLOAT32, GPU);
  if (CHECK(gb && e && m)) {
    CHECK_STATUS_FAILS(gb->norm->moments(m, m, e, 0, 3, 4), "norm moments: empty groups");
    CHECK_STATUS_FAILS(gb->norm->layer_norm(e, m, m, e, 3, 0, NULL, NULL, 1e-5),
                       "layer_norm: empty rows");
  }
  sg_release(e);
  sg_release(m);
}

/* ================= norm: public ops ================= */

typedef struct {
  bool training;
  int64_t nshape[3];
  int nn;
  sg_tensor *rm_c, *rv_c, *rm_g, *rv_g; /* running stats per device (may be NULL) */
  bool ran_cpu;                         /* self-test: which run is the "device" one */
} bn_ctx;

static sg_tensor *bn_fn(sg_tensor **in, void *vctx) {
  bn_ctx *c = vctx;
  /* the CPU run comes first (parity), then the device under test */
  bool gpu = selftest ? c->ran_cpu : on_device_under_test(in[0]);
  if (!gpu) c->ran_cpu = true;
  return sg_batch_norm(in[0], gpu ? c->rm_g : c->rm_c, gpu ? c->rv_g : c->rv_c, in[1], in[2],
                       c->training, 0.1, 1e-5);
}

static sg_tensor *in_fn(sg_tensor **in, void *vctx) {
  (void)vctx;
  return sg_instance_norm(in[0], NULL, NULL, in[1], in[2], true, 0.1, 1e-5);
}

static sg_tensor *ln_fn(sg_tensor **in, void *vctx) {
  bn_ctx *c = vctx;
  return sg_layer_norm(in[0], c->nshape, c->nn, in[1], in[2], 1e-5);
}

static void norm_ops(void) {
  const sg_dtype dts[2] = {SG_FLOAT32, SG_FLOAT64};
  bool g3[3] = {true, true, true};
  for (int k = 0; k < 2; k++) {
    sg_dtype dt = dts[k];
    const double tol = tol32(dt, 1e-4);
    char name[160];
    /* batch norm, training, with running statistics (updated alike) */
    for (int four = 0; four < 2; four++) {
      const int64_t *xs = four ? SHAPE(3, 4, 5, 7) : SHAPE(6, 4);
      int nd = four ? 4 : 2;
      sg_tensor *in[3] = {tt_uniform(101, dt, -2, 3, nd, xs), tt_uniform(102, dt, 0.5, 1.5, 1, SHAPE(4)),
                          rnd(103, dt, 1, SHAPE(4))};
      bn_ctx c = {.training = true};
      c.rm_c = rnd(104, dt, 1, SHAPE(4));
      c.rv_c = tt_uniform(105, dt, 0.5, 2, 1, SHAPE(4));
      c.rm_g = to_gpu(c.rm_c);
      c.rv_g = to_gpu(c.rv_c);
      snprintf(name, sizeof name, "batch_norm training %dd %s", nd, sg_dtype_name(dt));
      PARITY(name, bn_fn, &c, in, 3, g3, true, tol, tol);
      /* PARITY ran the forward once per device: same running statistics,
       * with PyTorch's unbiased variance in the update */
      snprintf(name, sizeof name, "batch_norm running mean %dd %s", nd, sg_dtype_name(dt));
      CLOSE(c.rm_c, c.rm_g, tol, tol, name);
      snprintf(name, sizeof name, "batch_norm running var %dd %s", nd, sg_dtype_name(dt));
      CLOSE(c.rv_c, c.rv_g, tol, tol, name);
      /* eval mode with the running statistics */
      c.training = false;
      c.ran_cpu = false;
      snprintf(name, sizeof name, "batch_norm eval %dd %s", nd, sg_dtype_name(dt));
      PARITY(name, bn_fn, &c, in, 3, g3, false, tol, tol);
      sg_release_all((sg_tensor *[]){c.rm_c, c.rv_c, c.rm_g, c.rv_g}, 4);
      sg_release_all(in, 3);
    }
    {
      sg_tensor *in[3] = {tt_uniform(106, dt, -2, 3, 4, SHAPE(2, 3, 6, 5)),
                          tt_uniform(107, dt, 0.5, 1.5, 1, SHAPE(3)), rnd(108, dt, 1, SHAPE(3))};
      snprintf(name, sizeof name, "instance_norm %s", sg_dtype_name(dt));
      PARITY(name, in_fn, NULL, in, 3, g3, true, tol, tol);
      sg_release_all(in, 3);
    }
    {
      bn_ctx c = {.nshape = {5, 6}, .nn = 2};
      sg_tensor *in[3] = {tt_uniform(109, dt, -2, 3, 3, SHAPE(4, 5, 6)),
                          tt_uniform(110, dt, 0.5, 1.5, 2, SHAPE(5, 6)), rnd(111, dt, 2, SHAPE(5, 6))};
      snprintf(name, sizeof name, "layer_norm %s", sg_dtype_name(dt));
      PARITY(name, ln_fn, &c, in, 3, g3, true, tol, tol);
      sg_tensor *in2[3] = {in[0], NULL, NULL};
      snprintf(name, sizeof name, "layer_norm no affine %s", sg_dtype_name(dt));
      PARITY(name, ln_fn, &c, in2, 3, g3, false, tol, tol);
      sg_release_all(in, 3);
    }
  }
}

/* ================= linalg ================= */

/* batch x n x n symmetric positive definite: M M^T + n I. */
static sg_tensor *spd(uint64_t seed, sg_dtype dt, int64_t batch, int64_t n) {
  sg_tensor *m = rnd(seed, SG_FLOAT64, 3, SHAPE(batch, n, n));
  sg_tensor *mt = sg_transpose(m, -1, -2);
  sg_tensor *p = sg_matmul(m, mt);
  sg_tensor *e = sg_eye(n, n, SG_FLOAT64, sg_cpu_device());
  sg_tensor *en = e ? sg_mul_scalar(e, (double)n) : NULL;
  sg_tensor *s = p && en ? sg_add(p, en) : NULL;
  sg_tensor *r = s ? sg_to_dtype(s, dt) : NULL;
  sg_release_all((sg_tensor *[]){m, mt, p, e, en, s}, 6);
  return r;
}

static sg_tensor *chol_lower_fn(sg_tensor **in, void *c) {
  (void)c;
  return sg_cholesky(in[0], false);
}
static sg_tensor *chol_upper_fn(sg_tensor **in, void *c) {
  (void)c;
  return sg_cholesky(in[0], true);
}
static sg_tensor *inv_fn(sg_tensor **in, void *c) {
  (void)c;
  return sg_inv(in[0]);
}
static sg_tensor *logdet_fn(sg_tensor **in, void *c) {
  (void)c;
  return sg_logdet(in[0]);
}
static sg_tensor *solve_fn(sg_tensor **in, void *c) {
  (void)c;
  return sg_solve(in[0], in[1]);
}

/* eigh of the symmetric part (X + X^T) / 2: the eigenvalues, and the
 * squared eigenvectors (invariant under the sign of each column, which
 * cuSOLVER and LAPACK may choose differently). */
static sg_tensor *eigh_sym(sg_tensor *x, bool vectors) {
  sg_tensor *xt = sg_transpose(x, -1, -2);
  sg_tensor *s = xt ? sg_add(x, xt) : NULL;
  sg_tensor *a = s ? sg_mul_scalar(s, 0.5) : NULL;
  sg_tensor *L = NULL, *V = NULL;
  if (a) sg_eigh(a, &L, &V);
  sg_tensor *r = vectors ? (V ? sg_mul(V, V) : NULL) : sg_retain(L);
  sg_release_all((sg_tensor *[]){xt, s, a, L, V}, 5);
  return r;
}
static sg_tensor *eigh_vals_fn(sg_tensor **in, void *c) {
  (void)c;
  return eigh_sym(in[0], false);
}
static sg_tensor *eigh_vecs_fn(sg_tensor **in, void *c) {
  (void)c;
  return eigh_sym(in[0], true);
}
static sg_tensor *slogdet_fn(sg_tensor **in, void *c) {
  sg_tensor *s = NULL, *l = NULL;
  sg_slogdet(in[0], &s, &l);
  bool want_sign = c != NULL;
  sg_release(want_sign ? l : s);
  return want_sign ? s : l;
}
static sg_tensor *diagonal_fn(sg_tensor **in, void *c) {
  return sg_diagonal(in[0], *(const int64_t *)c);
}
static sg_tensor *trace_fn(sg_tensor **in, void *c) {
  (void)c;
  return sg_trace(in[0]);
}

static void linalg_parity(void) {
  const sg_dtype dts[2] = {SG_FLOAT32, SG_FLOAT64};
  bool g2[2] = {true, true};
  for (int k = 0; k < 2; k++) {
    sg_dtype dt = dts[k];
    const double tol = tol32(dt, 1e-4);
    char name[160];
    const int64_t sizes[3] = {1, 5, 33};
    for (int s = 0; s < 3; s++) {
      int64_t n = sizes[s];
      sg_tensor *a = spd(121 + (uint64_t)s, dt, 3, n);
      snprintf(name, sizeof name, "cholesky lower n=%lld %s", (long long)n, sg_dtype_name(dt));
      PARITY(name, chol_lower_fn, NULL, &a, 1, g2, false, tol, tol);
      snprintf(name, sizeof name, "cholesky upper n=%lld %s", (long long)n, sg_dtype_name(dt));
      PARITY(name, chol_upper_fn, NULL, &a, 1, g2, false, tol, tol);
      snprintf(name, sizeof name, "logdet spd n=%lld %s", (long long)n, sg_dtype_name(dt));
      PARITY(name, logdet_fn, NULL, &a, 1, g2, false, tol, tol);
      sg_tensor *g = rnd(131 + (uint64_t)s, dt, 3, SHAPE(2, n, n));
      sg_tensor *e = sg_eye(n, n, dt, sg_cpu_device());
      sg_tensor *e3 = e ? sg_mul_scalar(e, (double)(n + 2)) : NULL;
      sg_tensor *gen = g && e3 ? sg_add(g, e3) : NULL; /* general, well conditioned */
      snprintf(name, sizeof name, "inv n=%lld %s", (long long)n, sg_dtype_name(dt));
      PARITY(name, inv_fn, NULL, &gen, 1, g2, false, tol, tol);
      snprintf(name, sizeof name, "logdet general n=%lld %s", (long long)n, sg_dtype_name(dt));
      PARITY(name, logdet_fn, NULL, &gen, 1, g2, false, tol, tol);
      /* solve: k = 1 (vector), k = 4, a broadcast over b's batch */
      sg_tensor *bv[2] = {gen, rnd(141, dt, 2, SHAPE(2, n))};
      snprintf(name, sizeof name, "solve vector rhs n=%lld %s", (long long)n, sg_dtype_name(dt));
      PARITY(name, solve_fn, NULL, bv, 2, g2, false, tol, tol);
      sg_tensor *bm[2] = {gen, rnd(142, dt, 3, SHAPE(2, n, 4))};
      snprintf(name, sizeof name, "solve n=%lld k=4 %s", (long long)n, sg_dtype_name(dt));
      PARITY(name, solve_fn, NULL, bm, 2, g2, false, tol, tol);
      sg_tensor *a1 = sg_select(gen, 0, 1);
      sg_tensor *bb[2] = {a1, rnd(143, dt, 4, SHAPE(3, 2, n, 3))};
      snprintf(name, sizeof name, "solve broadcast a n=%lld %s", (long long)n, sg_dtype_name(dt));
      PARITY(name, solve_fn, NULL, bb, 2, g2, false, tol, tol);
      /* slogdet: log |det| with its gradient, the sign (no gradient) */
      snprintf(name, sizeof name, "slogdet n=%lld %s", (long long)n, sg_dtype_name(dt));
      PARITY(name, slogdet_fn, NULL, &gen, 1, g2, false, tol, tol);
      static const bool nograd[1] = {false};
      snprintf(name, sizeof name, "slogdet sign n=%lld %s", (long long)n, sg_dtype_name(dt));
      PARITY(name, slogdet_fn, (void *)nograd, &gen, 1, nograd, false, 0, 0);
      /* eigh: values and squared vectors with gradients (float32 vector
       * gradients only for small n: they scale with 1 / (L[i] - L[j])) */
      sg_tensor *x = rnd(151 + (uint64_t)s, dt, 3, SHAPE(3, n, n));
      bool ge[1] = {dt == SG_FLOAT64 || n <= 5};
      snprintf(name, sizeof name, "eigh values n=%lld %s", (long long)n, sg_dtype_name(dt));
      PARITY(name, eigh_vals_fn, NULL, &x, 1, g2, false, tol, tol);
      snprintf(name, sizeof name, "eigh vectors^2 n=%lld %s", (long long)n, sg_dtype_name(dt));
      PARITY(name, eigh_vecs_fn, NULL, &x, 1, ge, false, dt == SG_FLOAT64 ? 1e-8 : 1e-3,
             dt == SG_FLOAT64 ? 1e-8 : 1e-3);
      /* diagonal (a view) and trace: composite, through the CUDA ops */
      sg_tensor *r3 = rnd(161 + (uint64_t)s, dt, 3, SHAPE(2, n, n + 2));
      const int64_t offs[3] = {0, 2, -1};
      for (int o = 0; o < 3; o++) {
        snprintf(name, sizeof name, "diagonal offset %lld n=%lld %s", (long long)offs[o],
                 (long long)n, sg_dtype_name(dt));
        PARITY(name, diagonal_fn, (void *)&offs[o], &r3, 1, g2, false, tol, tol);
      }
      snprintf(name, sizeof name, "trace n=%lld %s", (long long)n, sg_dtype_name(dt));
      PARITY(name, trace_fn, NULL, &r3, 1, g2, false, tol, tol);
      sg_release_all((sg_tensor *[]){a, g, e, e3, gen, bv[1], bm[1], a1, bb[1], x, r3}, 11);
    }
    /* eigh rejects NaN / Inf alike on both devices */
    {
      sg_tensor *m = tt_from(dt, VALS(1, 0, 0, 1, 1, NAN, 0, 1), 3, SHAPE(2, 2, 2));
      sg_tensor *mg = to_gpu(m);
      sg_tensor *L = NULL, *V = NULL;
      sg_clear_error();
      CHECK(sg_eigh(m, &L, &V) != SG_OK);
      char ec[512];
      snprintf(ec, sizeof ec, "%s", sg_last_error());
      sg_clear_error();
      CHECK(mg && sg_eigh(mg, &L, &V) != SG_OK);
      CHECK(strcmp(ec, sg_last_error()) == 0);
      CHECK(strstr(ec, "eigh: input contains NaN or Inf (batch element 1)") != NULL);
      sg_release_all((sg_tensor *[]){m, mg, L, V}, 4);
    }
    /* determinants with a sign and zero: NaN and -inf as the CPU */
    {
      sg_tensor *m = tt_from(dt, VALS(0, 1, 1, 0, /* det -1 */ 1, 2, 2, 4, /* det 0 */ 2, 1, 1, 3),
                             3, SHAPE(3, 2, 2));
      sg_tensor *mg = to_gpu(m);
      sg_tensor *lc = sg_logdet(m), *lg = mg ? sg_logdet(mg) : NULL;
      snprintf(name, sizeof name, "logdet signs %s", sg_dtype_name(dt));
      CLOSE(lc, lg, tol, tol, name);
      /* singular and non positive definite matrices fail alike */
      sg_tensor *sing = sg_narrow(m, 0, 1, 1), *singg = mg ? sg_narrow(mg, 0, 1, 1) : NULL;
      sg_clear_error();
      sg_tensor *ic = sg_inv(sing);
      char ec[512];
      snprintf(ec, sizeof ec, "%s", sg_last_error());
      sg_clear_error();
      sg_tensor *ig = singg ? sg_inv(singg) : NULL;
      CHECK(!ic && !ig);
      CHECK(strcmp(ec, sg_last_error()) == 0);
      sg_clear_error();
      sg_tensor *cc = sg_cholesky(m, false);
      snprintf(ec, sizeof ec, "%s", sg_last_error());
      sg_clear_error();
      sg_tensor *cg = mg ? sg_cholesky(mg, false) : NULL;
      CHECK(!cc && !cg);
      if (strcmp(ec, sg_last_error()) != 0)
        printf("  cholesky errors differ: cpu '%s' vs cuda '%s'\n", ec, sg_last_error());
      CHECK(strcmp(ec, sg_last_error()) == 0);
      sg_release_all((sg_tensor *[]){m, mg, lc, lg, sing, singg, ic, ig, cc, cg}, 10);
    }
  }
}

int main(void) {
  const char *st = getenv("SGEN_CUDA_NN_SELFTEST");
  if (st && strcmp(st, "1") == 0) {
    selftest = true;
    GPU = sg_cpu_device();
    printf("SELF-TEST: every comparison runs CPU against CPU\n");
  } else if (!sg_cuda_built()) {
    printf("SKIPPED: no CUDA device (sgen was built without CUDA)\n");
    return SKIP_CODE;
  } else if (!sg_cuda_is_available()) {
    printf("SKIPPED: no CUDA device: %s\n", sg_cuda_unavailable_reason());
    return SKIP_CODE;
  } else {
    printf("GPU: %s\n", sg_cuda_device_name(0));
  }
  RUN(matmul_parity);
  RUN(matmul_slot_permuted_batch);
  RUN(tf32_off_by_default);
  RUN(conv_parity);
  RUN(conv_fallback_parity);
  RUN(conv_slot_edges);
  RUN(unfold_fold_parity);
  RUN(conv_memory_flat);
  RUN(norm_slots);
  RUN(norm_ops);
  RUN(linalg_parity);
  return sg_test_finish();
}
