/* The CUDA kernels of the pool, loss, index and rng families against the
 * CPU, through the public ops: forward values, gradients (sg_grad) and
 * double backward on random inputs; indices, masks and sort orders exactly
 * equal; the Philox streams bitwise equal on both devices for the same
 * seed (uniform, normal, randint, bernoulli, dropout, randperm) and the
 * generator advanced alike; the same error messages for bad indices,
 * targets and probabilities; deterministic (bitwise repeatable) scatter-adds
 * and loss sums on the GPU.
 *
 * Before anything else, in every CUDA build: every slot of the four
 * families' CUDA kernel tables is filled (no GPU needed). Then, without a
 * usable GPU, it prints "SKIPPED: no CUDA device" and exits with 77, which
 * CMake's SKIP_RETURN_CODE makes ctest report as skipped, never as passed. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sgen/cuda.h"

#ifdef SGEN_WITH_CUDA
#include "internal/backend.h"
#include "internal/kernels_index.h"
#include "internal/kernels_loss.h"
#include "internal/kernels_pool.h"
#include "internal/kernels_resample.h"
#include "internal/kernels_rng.h"
#include "internal/kernels_softmax.h"
#include "internal/kernels_sort.h"
#include "internal/kernels_sparse.h"
extern const sg_backend sg_cuda_backend;
#endif

#define SKIP_CODE 77

/* The device under test. SGEN_CUDA_OPS_SELFTEST=1 runs every check with
 * the CPU in place of the GPU (CPU against CPU): it validates the test
 * itself on a machine without a GPU. */
static sg_device GPU = {SG_CUDA, 0};
static bool selftest = false;

/* ---------------- helpers ---------------- */

static sg_tensor *to_gpu(sg_tensor *t) { return t ? sg_to_device(t, GPU) : NULL; }
static sg_tensor *to_cpu(sg_tensor *t) { return t ? sg_to_device(t, sg_cpu_device()) : NULL; }

/* CPU result c against GPU result g within tolerance (exact when both are
 * 0); consumes neither. */
static bool close_dev(const sg_tensor *c, const sg_tensor *g, double atol, double rtol,
                      const char *what, const char *file, int line) {
  if (!c || !g) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %s result is NULL (%s)", what, c ? "GPU" : "CPU",
             sg_last_error());
    return sg_test_check(false, msg, file, line);
  }
  bool ok = sg_test_check(c->storage->device.type == SG_CPU, "CPU result on the CPU", file, line);
  ok = sg_test_check(g->storage->device.type == GPU.type, "GPU result on the GPU", file, line) &&
       ok;
  ok = sg_test_check(c->dtype == g->dtype, what, file, line) && ok;
  sg_tensor *h = to_cpu((sg_tensor *)g);
  ok = sg_test_check_close(h, c, atol, rtol, what, file, line) && ok;
  sg_release(h);
  return ok;
}
#define CLOSE_DEV(c, g, atol, rtol, what) \
  close_dev((c), (g), (atol), (rtol), (what), __FILE__, __LINE__)
#define SAME_DEV(c, g, what) close_dev((c), (g), 0, 0, (what), __FILE__, __LINE__)

/* Bitwise equality of a CPU and a GPU tensor (same dtype and shape). */
static bool bits_equal(const sg_tensor *c, const sg_tensor *g, const char *what, const char *file,
                       int line) {
  if (!c || !g) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %s result is NULL (%s)", what, c ? "GPU" : "CPU",
             sg_last_error());
    return sg_test_check(false, msg, file, line);
  }
  sg_tensor *h = to_cpu((sg_tensor *)g);
  sg_tensor *hc = h ? sg_contiguous(h) : NULL;
  sg_tensor *cc = sg_contiguous((sg_tensor *)c);
  bool ok = hc && cc && hc->dtype == cc->dtype && sg_same_shape(hc, cc) &&
            memcmp(sg_data_ptr(hc), sg_data_ptr(cc), (size_t)sg_numel(cc) * sg_dtype_size(cc->dtype)) == 0;
  if (!ok && hc && cc && sg_same_shape(hc, cc)) {
    for (int64_t i = 0; i < sg_numel(cc); i++)
      if (memcmp((char *)sg_data_ptr(hc) + i * sg_dtype_size(cc->dtype),
                 (char *)sg_data_ptr(cc) + i * sg_dtype_size(cc->dtype), sg_dtype_size(cc->dtype))) {
        printf("  first difference at %lld: cpu %.17g gpu %.17g\n", (long long)i,
               sg_get_flat(cc, i), sg_get_flat(hc, i));
        break;
      }
  }
  sg_release(hc);
  sg_release(cc);
  sg_release(h);
  return sg_test_check(ok, what, file, line);
}
#define BITS_EQUAL(c, g, what) bits_equal((c), (g), (what), __FILE__, __LINE__)

static double tol_for(sg_dtype dt) { return dt == SG_FLOAT64 ? 1e-11 : 3e-5; }

/* Values in [-levels/2, levels/2) with many ties (small integers), and a
 * few -0.0, +0.0 and NaN (when nan) at fixed places. */
static sg_tensor *tie_data(uint64_t seed, sg_dtype dt, int levels, bool nan, int ndim,
                           const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
  uint64_t s = seed * 2654435761u + 7;
  for (int64_t i = 0; i < n; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    v[i] = (double)((int64_t)((s >> 33) % (uint64_t)levels) - levels / 2);
    if (dt == SG_FLOAT32 || dt == SG_FLOAT64) {
      if (i % 13 == 5) v[i] = -0.0;
      if (i % 17 == 3) v[i] = 0.0;
      if (nan && i % 29 == 11) v[i] = NAN;
    } else if (dt == SG_UINT8 || dt == SG_BOOL) {
      v[i] = dt == SG_BOOL ? (double)((s >> 40) & 1) : (double)((s >> 40) % 7);
    }
  }
  sg_tensor *t = tt_from(dt, v, ndim, shape);
  free(v);
  return t;
}

/* ---------------- forward / gradient parity ---------------- */

typedef sg_tensor *(*op_fn)(sg_tensor **in, int n, void *ctx);

/* Runs f on CPU inputs and on GPU copies of them and compares the outputs;
 * order >= 1: the gradients w.r.t. the inputs in grad_mask (bit i: input
 * i) for the same random output gradient go; order >= 2: the gradients of
 * sum(grad_i * v_i) w.r.t. those inputs and go (double backward). */
static void parity_(const char *what, op_fn f, void *ctx, sg_tensor **in, int n,
                    unsigned grad_mask, int order, double atol, double rtol, const char *file,
                    int line) {
  sg_tensor *ci[8] = {0}, *gi[8] = {0}, *rc[9] = {0}, *rg[9] = {0};
  int m = 0;
  for (int i = 0; i < n; i++) {
    ci[i] = sg_detach(in[i]);
    gi[i] = to_gpu(in[i]);
    if (!ci[i] || !gi[i]) {
      sg_test_check(false, "inputs moved to the GPU", file, line);
      goto done_inputs;
    }
    if (order >= 1 && (grad_mask >> i & 1) && sg_dtype_is_float(in[i]->dtype)) {
      sg_set_requires_grad(ci[i], true);
      sg_set_requires_grad(gi[i], true);
      rc[m] = ci[i];
      rg[m] = gi[i];
      m++;
    }
  }
  sg_tensor *yc = f(ci, n, ctx);
  sg_tensor *yg = f(gi, n, ctx);
  char msg[256];
  snprintf(msg, sizeof msg, "%s: forward", what);
  close_dev(yc, yg, atol, rtol, msg, file, line);
  if (order >= 1 && m > 0 && yc && yg && sg_dtype_is_float(yc->dtype)) {
    sg_tensor *go = tt_uniform(99, yc->dtype, -1, 1, yc->ndim, yc->shape);
    sg_tensor *gog = to_gpu(go);
    sg_tensor *gc[9] = {0}, *gg[9] = {0};
    bool dbl = order >= 2;
    if (dbl) {
      sg_set_requires_grad(go, true);
      sg_set_requires_grad(gog, true);
    }
    sg_status sc = sg_grad(&yc, &go, 1, rc, m, gc, dbl, dbl, true);
    sg_test_check_ok(sc, "CPU backward", file, line);
    sg_status sgs = sg_grad(&yg, &gog, 1, rg, m, gg, dbl, dbl, true);
    sg_test_check_ok(sgs, "GPU backward", file, line);
    for (int j = 0; j < m && sc == SG_OK && sgs == SG_OK; j++) {
      snprintf(msg, sizeof msg, "%s: gradient of input %d", what, j);
      if (gc[j] || gg[j]) close_dev(gc[j], gg[j], atol, rtol, msg, file, line);
    }
    if (dbl && sc == SG_OK && sgs == SG_OK) {
      rc[m] = go;
      rg[m] = gog;
      for (int j = 0; j < m; j++) {
        if (!gc[j] || !gg[j] || !gc[j]->requires_grad) continue;
        sg_tensor *v = tt_uniform(7 + (uint64_t)j, gc[j]->dtype, -1, 1, gc[j]->ndim, gc[j]->shape);
        sg_tensor *vg = to_gpu(v);
        sg_tensor *pc = sg_mul(gc[j], v), *pg = sg_mul(gg[j], vg);
        sg_tensor *s_c = pc ? sg_sum(pc, NULL, 0, false) : NULL;
        sg_tensor *s_g = pg ? sg_sum(pg, NULL, 0, false) : NULL;
        sg_tensor *hc[9] = {0}, *hg[9] = {0};
        if (s_c && s_g && sg_grad(&s_c, NULL, 1, rc, m + 1, hc, true, false, true) == SG_OK &&
            sg_grad(&s_g, NULL, 1, rg, m + 1, hg, true, false, true) == SG_OK) {
          for (int q = 0; q <= m; q++) {
            snprintf(msg, sizeof msg, "%s: double backward d(grad %d)/d(%s %d)", what, j,
                     q < m ? "input" : "grad_output", q);
            if (hc[q] || hg[q]) close_dev(hc[q], hg[q], atol, rtol, msg, file, line);
          }
        } else {
          snprintf(msg, sizeof msg, "%s: double backward ran (%s)", what, sg_last_error());
          sg_test_check(false, msg, file, line);
        }
        sg_release_all(hc, m + 1);
        sg_release_all(hg, m + 1);
        sg_release(s_c);
        sg_release(s_g);
        sg_release(pc);
        sg_release(pg);
        sg_release(v);
        sg_release(vg);
      }
    }
    sg_release_all(gc, m);
    sg_release_all(gg, m);
    sg_release(go);
    sg_release(gog);
  }
  sg_release(yc);
  sg_release(yg);
done_inputs:
  sg_release_all(ci, n);
  sg_release_all(gi, n);
}
#define PARITY(what, f, ctx, in, n, mask, order, atol, rtol) \
  parity_((what), (f), (ctx), (in), (n), (mask), (order), (atol), (rtol), __FILE__, __LINE__)

/* Both devices fail with the same message. */
static void same_error_(const char *what, op_fn f, void *ctx, sg_tensor **in, int n,
                        const char *needle, const char *file, int line) {
  sg_tensor *gi[8] = {0};
  for (int i = 0; i < n; i++) gi[i] = to_gpu(in[i]);
  sg_clear_error();
  sg_tensor *yc = f(in, n, ctx);
  char ec[512];
  snprintf(ec, sizeof ec, "%s", sg_last_error());
  sg_clear_error();
  sg_tensor *yg = f(gi, n, ctx);
  char eg[512];
  snprintf(eg, sizeof eg, "%s", sg_last_error());
  char msg[1400];
  snprintf(msg, sizeof msg, "%s: both fail with the same message (cpu '%s', gpu '%s')", what, ec,
           eg);
  sg_test_check(!yc && !yg && strcmp(ec, eg) == 0 && strstr(ec, needle) != NULL, msg, file, line);
  sg_release(yc);
  sg_release(yg);
  sg_release_all(gi, n);
}
#define SAME_ERROR(what, f, ctx, in, n, needle) \
  same_error_((what), (f), (ctx), (in), (n), (needle), __FILE__, __LINE__)

/* ======================= slot coverage (no GPU needed) ======================= */

#ifdef SGEN_WITH_CUDA
static bool all_slots(const void *table, size_t size, const char *family) {
  void (*const *slot)(void) = table;
  bool ok = true;
  for (size_t k = 0; k < size / sizeof(void (*)(void)); k++)
    if (!slot[k]) {
      printf("  cuda %s kernel table: slot %zu is NULL\n", family, k);
      ok = false;
    }
  return ok;
}
#endif

static void slots_filled(void) {
#ifdef SGEN_WITH_CUDA
  const sg_backend *be = &sg_cuda_backend;
  CHECK(all_slots(be->pool, sizeof(struct sg_pool_kernels), "pool"));
  CHECK(all_slots(be->loss, sizeof(struct sg_loss_kernels), "loss"));
  CHECK(all_slots(be->index, sizeof(struct sg_index_kernels), "index"));
  CHECK(all_slots(be->rng, sizeof(struct sg_rng_kernels), "rng"));
  /* the families split off pool, loss and index (issue 17) */
  CHECK(all_slots(be->resample, sizeof(struct sg_resample_kernels), "resample"));
  CHECK(all_slots(be->softmax, sizeof(struct sg_softmax_kernels), "softmax"));
  CHECK(all_slots(be->sort, sizeof(struct sg_sort_kernels), "sort"));
  CHECK(all_slots(be->sparse, sizeof(struct sg_sparse_kernels), "sparse"));
#endif
}

/* ======================= pool family ======================= */

static sg_pool_opts popts(int k0, int k1, int s0, int s1, int p0, int p1, int d0, int d1,
                          bool ceil, bool cip) {
  sg_pool_opts o = {{k0, k1}, {s0, s1}, {p0, p1}, {d0, d1}, ceil, cip};
  return o;
}

static sg_tensor *f_max_pool(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_max_pool2d(in[0], ctx, NULL);
}
static sg_tensor *f_max_pool_idx(sg_tensor **in, int n, void *ctx) {
  (void)n;
  sg_tensor *idx = NULL, *y = sg_max_pool2d(in[0], ctx, &idx);
  sg_release(y);
  return idx;
}
static sg_tensor *f_avg_pool(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_avg_pool2d(in[0], ctx);
}
static sg_tensor *f_adaptive(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const int64_t *o = ctx;
  return sg_adaptive_avg_pool2d(in[0], o[0], o[1]);
}

static void pool_parity(void) {
  const sg_pool_opts opts[] = {
      popts(3, 3, 2, 2, 1, 1, 0, 0, false, true), popts(2, 2, 2, 2, 1, 1, 0, 0, true, true),
      popts(2, 2, 1, 1, 0, 0, 2, 2, false, true), popts(3, 2, 1, 2, 1, 0, 1, 1, true, false),
      popts(3, 3, 3, 3, 0, 0, 0, 0, false, false)};
  const sg_dtype dts[2] = {SG_FLOAT64, SG_FLOAT32};
  for (int k = 0; k < 2; k++) {
    /* distinct values (no ties) for max pool gradients; ties and NaN for indices */
    sg_tensor *x = tt_uniform(1 + (uint64_t)k, dts[k], -2, 2, 4, SHAPE(2, 3, 9, 11));
    sg_tensor *xt = tie_data(5, dts[k], 4, true, 4, SHAPE(2, 3, 9, 11));
    for (size_t q = 0; q < sizeof opts / sizeof opts[0]; q++) {
      sg_pool_opts o = opts[q];
      PARITY("max_pool2d", f_max_pool, &o, &x, 1, 1, 2, tol_for(dts[k]), 0);
      PARITY("max_pool2d indices (ties, NaN)", f_max_pool_idx, &o, &xt, 1, 0, 0, 0, 0);
      PARITY("max_pool2d (ties, NaN)", f_max_pool, &o, &xt, 1, 1, 1, tol_for(dts[k]), 0);
      if (o.dilation[0] <= 1 && o.dilation[1] <= 1 && o.padding[0] * 2 <= o.kernel[0] &&
          o.padding[1] * 2 <= o.kernel[1])
        PARITY("avg_pool2d", f_avg_pool, &o, &x, 1, 1, 2, tol_for(dts[k]), tol_for(dts[k]));
    }
    const int64_t outs[][2] = {{3, 4}, {1, 1}, {9, 11}, {13, 17}, {4, 11}};
    for (size_t q = 0; q < sizeof outs / sizeof outs[0]; q++)
      PARITY("adaptive_avg_pool2d", f_adaptive, (void *)outs[q], &x, 1, 1, 2, tol_for(dts[k]),
             tol_for(dts[k]));
    sg_release(x);
    sg_release(xt);
  }
  /* a large plane with overlapping windows: the sorted scatter of the
   * gradient, many planes */
  sg_tensor *x = tt_uniform(3, SG_FLOAT32, -1, 1, 4, SHAPE(4, 16, 64, 48));
  sg_pool_opts o = popts(3, 3, 1, 1, 1, 1, 0, 0, false, true);
  PARITY("max_pool2d large", f_max_pool, &o, &x, 1, 1, 1, 1e-6, 0);
  sg_release(x);
}

typedef struct interp_ctx {
  int64_t oh, ow;
  sg_interp_mode mode;
  bool ac;
  double sh, sw;
} interp_ctx;

static sg_tensor *f_interp(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const interp_ctx *c = ctx;
  return sg_interpolate(in[0], c->oh, c->ow, c->mode, c->ac, c->sh, c->sw);
}

static void interpolate_parity(void) {
  const interp_ctx cs[] = {
      {13, 9, SG_INTERP_NEAREST, false, 0, 0},   {14, 10, SG_INTERP_NEAREST, false, 0, 0},
      {3, 2, SG_INTERP_NEAREST, false, 0, 0},    {11, 8, SG_INTERP_NEAREST, false, 1.7, 1.6},
      {13, 9, SG_INTERP_BILINEAR, false, 0, 0},  {13, 9, SG_INTERP_BILINEAR, true, 0, 0},
      {3, 2, SG_INTERP_BILINEAR, false, 0, 0},   {3, 2, SG_INTERP_BILINEAR, true, 0, 0},
      {14, 10, SG_INTERP_BILINEAR, false, 2, 2}, {11, 8, SG_INTERP_BILINEAR, false, 1.7, 1.6},
      {7, 5, SG_INTERP_BILINEAR, true, 0, 0},    {1, 1, SG_INTERP_BILINEAR, true, 0, 0}};
  const sg_dtype dts[2] = {SG_FLOAT64, SG_FLOAT32};
  for (int k = 0; k < 2; k++) {
    sg_tensor *x = tt_uniform(11, dts[k], -1, 1, 4, SHAPE(2, 3, 7, 5));
    for (size_t q = 0; q < sizeof cs / sizeof cs[0]; q++) {
      char what[96];
      snprintf(what, sizeof what, "interpolate case %zu (%s)", q, sg_dtype_name(dts[k]));
      interp_ctx c = cs[q];
      PARITY(what, f_interp, &c, &x, 1, 1, 2, tol_for(dts[k]), tol_for(dts[k]));
    }
    sg_release(x);
  }
  /* DIP-sized bilinear upsampling x2 */
  sg_tensor *x = tt_uniform(12, SG_FLOAT32, -1, 1, 4, SHAPE(1, 8, 64, 64));
  interp_ctx c = {128, 128, SG_INTERP_BILINEAR, false, 2, 2};
  PARITY("interpolate bilinear x2 large", f_interp, &c, &x, 1, 1, 1, 1e-5, 1e-5);
  sg_release(x);
}

typedef struct pad_ctx {
  int64_t pads[6];
  int npads;
  sg_pad_mode mode;
} pad_ctx;

static sg_tensor *f_pad(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const pad_ctx *c = ctx;
  return sg_pad(in[0], c->pads, c->npads, c->mode, 0.0);
}

static void pad_parity(void) {
  const pad_ctx cs[] = {{{1, 2, 2, 1}, 4, SG_PAD_REFLECT},
                        {{3, 3, 3, 3}, 4, SG_PAD_REFLECT},
                        {{3, 0, 4, 2}, 4, SG_PAD_REPLICATE},
                        {{2, 1}, 2, SG_PAD_REFLECT},
                        {{5, 4}, 2, SG_PAD_REPLICATE},
                        {{1, 1, 2, 0, 1, 2}, 6, SG_PAD_REPLICATE},
                        {{-1, 2, 1, -2}, 4, SG_PAD_REPLICATE}};
  const sg_dtype dts[2] = {SG_FLOAT64, SG_FLOAT32};
  for (int k = 0; k < 2; k++) {
    sg_tensor *x = tt_uniform(21, dts[k], -1, 1, 5, SHAPE(2, 3, 4, 5, 6));
    for (size_t q = 0; q < sizeof cs / sizeof cs[0]; q++) {
      pad_ctx c = cs[q];
      char what[64];
      snprintf(what, sizeof what, "pad case %zu", q);
      sg_clear_error();
      sg_tensor *probe = sg_pad(x, c.pads, c.npads, c.mode, 0.0);
      if (!probe) { /* a geometry the op refuses (e.g. negative pads): same error on both */
        SAME_ERROR(what, f_pad, &c, &x, 1, "pad");
        continue;
      }
      sg_release(probe);
      PARITY(what, f_pad, &c, &x, 1, 1, 2, tol_for(dts[k]), 0);
    }
    sg_release(x);
  }
  /* any dtype forward */
  const sg_dtype its[3] = {SG_INT64, SG_UINT8, SG_BOOL};
  for (int k = 0; k < 3; k++) {
    sg_tensor *x = tie_data(22, its[k], 50, false, 4, SHAPE(2, 2, 5, 6));
    pad_ctx c = {{2, 1, 1, 3}, 4, SG_PAD_REFLECT};
    PARITY("pad integer reflect", f_pad, &c, &x, 1, 0, 0, 0, 0);
    c.mode = SG_PAD_REPLICATE;
    PARITY("pad integer replicate", f_pad, &c, &x, 1, 0, 0, 0, 0);
    sg_release(x);
  }
}

/* ======================= loss family ======================= */

static sg_tensor *f_softmax(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_softmax(in[0], *(int *)ctx);
}
static sg_tensor *f_log_softmax(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_log_softmax(in[0], *(int *)ctx);
}

static void softmax_parity(void) {
  const sg_dtype dts[2] = {SG_FLOAT64, SG_FLOAT32};
  for (int k = 0; k < 2; k++) {
    double tol = tol_for(dts[k]);
    struct {
      int ndim;
      int64_t shape[4];
      int dim;
    } cs[] = {{2, {4, 10}, -1}, {4, {2, 5, 3, 4}, 1}, {2, {3, 2000}, 1}, {3, {2, 300, 3}, 1},
              {1, {7}, 0},      {3, {5, 1, 4}, 1}};
    for (size_t q = 0; q < sizeof cs / sizeof cs[0]; q++) {
      sg_tensor *x = tt_uniform(31 + q, dts[k], -4, 4, cs[q].ndim, cs[q].shape);
      int dim = cs[q].dim;
      PARITY("softmax", f_softmax, &dim, &x, 1, 1, 2, tol, tol);
      PARITY("log_softmax", f_log_softmax, &dim, &x, 1, 1, 2, tol, tol);
      sg_release(x);
    }
  }
  /* large logits: the max subtraction keeps it finite */
  sg_tensor *x = tt_uniform(39, SG_FLOAT32, 80, 120, 2, SHAPE(3, 50));
  int dim = 1;
  PARITY("softmax large logits", f_softmax, &dim, &x, 1, 1, 1, 1e-5, 1e-4);
  PARITY("log_softmax large logits", f_log_softmax, &dim, &x, 1, 1, 1, 1e-4, 1e-5);
  sg_release(x);
}

static sg_tensor *f_mse(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_mse_loss(in[0], in[1], *(sg_reduction *)ctx);
}
static sg_tensor *f_l1(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_l1_loss(in[0], in[1], *(sg_reduction *)ctx);
}
static sg_tensor *f_bce(sg_tensor **in, int n, void *ctx) {
  return sg_bce_with_logits(in[0], in[1], n > 2 ? in[2] : NULL, n > 3 ? in[3] : NULL,
                            *(sg_reduction *)ctx);
}

typedef struct ce_ctx {
  sg_reduction r;
  int64_t ignore;
  double smoothing;
  bool weight;
} ce_ctx;

static sg_tensor *f_ce(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const ce_ctx *c = ctx;
  return sg_cross_entropy(in[0], in[1], c->weight ? in[2] : NULL, c->r, c->ignore, c->smoothing);
}
static sg_tensor *f_nll(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const ce_ctx *c = ctx;
  return sg_nll_loss(in[0], in[1], c->weight ? in[2] : NULL, c->r, c->ignore);
}

static void loss_parity(void) {
  const sg_dtype dts[2] = {SG_FLOAT64, SG_FLOAT32};
  const sg_reduction rs[3] = {SG_REDUCTION_MEAN, SG_REDUCTION_SUM, SG_REDUCTION_NONE};
  for (int k = 0; k < 2; k++) {
    double tol = tol_for(dts[k]);
    sg_tensor *in[4];
    in[0] = tt_uniform(41, dts[k], -2, 2, 3, SHAPE(4, 5, 300));
    in[1] = tt_uniform(42, dts[k], -2, 2, 3, SHAPE(4, 5, 300));
    for (int q = 0; q < 3; q++) {
      sg_reduction r = rs[q];
      PARITY("mse_loss", f_mse, &r, in, 2, 3, 2, tol, tol);
      PARITY("l1_loss", f_l1, &r, in, 2, 3, 1, tol, tol);
    }
    sg_release(in[1]);
    in[1] = tt_uniform(43, dts[k], 0, 1, 3, SHAPE(4, 5, 300));
    in[2] = tt_uniform(44, dts[k], 0.5, 2, 3, SHAPE(4, 5, 300));
    in[3] = tt_uniform(45, dts[k], 0.5, 3, 1, SHAPE(300));
    for (int q = 0; q < 3; q++) {
      sg_reduction r = rs[q];
      PARITY("bce_with_logits", f_bce, &r, in, 2, 3, 2, tol, tol);
      PARITY("bce_with_logits weight pos_weight", f_bce, &r, in, 4, 15, 1, tol, tol);
    }
    sg_release_all(in, 4);
    /* cross entropy / nll: weights, ignore_index, label smoothing, N x C x d */
    const double tg[] = {0, 4, 2, 2, -100, 1, 3, 0, 4, 4, 1, -100};
    in[0] = tt_uniform(46, dts[k], -3, 3, 2, SHAPE(12, 5));
    in[1] = tt_from(SG_INT64, tg, 1, SHAPE(12));
    in[2] = tt_uniform(47, dts[k], 0.2, 2, 1, SHAPE(5));
    const ce_ctx cs[] = {{SG_REDUCTION_MEAN, -100, 0, false}, {SG_REDUCTION_MEAN, -100, 0, true},
                         {SG_REDUCTION_SUM, -100, 0.1, true}, {SG_REDUCTION_NONE, -100, 0, true},
                         {SG_REDUCTION_MEAN, -100, 0.2, false}, {SG_REDUCTION_MEAN, 4, 0, true}};
    for (size_t q = 0; q < sizeof cs / sizeof cs[0]; q++) {
      ce_ctx c = cs[q];
      char what[64];
      snprintf(what, sizeof what, "cross_entropy case %zu", q);
      if (c.ignore == 4) { /* ignore a real class: -100 is then invalid */
        sg_release(in[1]);
        const double tg2[] = {0, 4, 2, 2, 3, 1, 3, 0, 4, 4, 1, 0};
        in[1] = tt_from(SG_INT64, tg2, 1, SHAPE(12));
      }
      PARITY(what, f_ce, &c, in, 3, 1, 2, tol, tol);
      snprintf(what, sizeof what, "nll_loss case %zu", q);
      PARITY(what, f_nll, &c, in, 3, 1, 2, tol, tol);
    }
    sg_release_all(in, 3);
    in[0] = tt_uniform(48, dts[k], -3, 3, 4, SHAPE(2, 4, 3, 5));
    in[1] = tie_data(49, SG_INT64, 4, false, 3, SHAPE(2, 3, 5));
    sg_tensor *shifted = sg_add_scalar(in[1], 2.0); /* classes 0..3 */
    sg_release(in[1]);
    in[1] = shifted;
    in[2] = tt_uniform(50, dts[k], 0.2, 2, 1, SHAPE(4));
    ce_ctx c = {SG_REDUCTION_MEAN, -100, 0.1, true};
    PARITY("cross_entropy N x C x H x W", f_ce, &c, in, 3, 1, 2, tol, tol);
    sg_release_all(in, 3);
    /* a target out of range: the same error on both devices */
    const double bad[] = {0, 1, 7, 2};
    in[0] = tt_uniform(51, dts[k], -3, 3, 2, SHAPE(4, 5));
    in[1] = tt_from(SG_INT64, bad, 1, SHAPE(4));
    c = (ce_ctx){SG_REDUCTION_MEAN, -100, 0, false};
    SAME_ERROR("cross_entropy bad target", f_ce, &c, in, 2, "out of range");
    sg_release_all(in, 2);
  }
}

/* ======================= index family ======================= */

static sg_tensor *f_index_select(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_index_select(in[0], *(int *)ctx, in[1]);
}
static sg_tensor *f_gather(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_gather(in[0], *(int *)ctx, in[1]);
}
static sg_tensor *f_gather_t(sg_tensor **in, int n, void *ctx) { /* x transposed: strided */
  (void)n;
  sg_tensor *xt = sg_transpose(in[0], 0, 1);
  sg_tensor *y = xt ? sg_gather(xt, *(int *)ctx, in[1]) : NULL;
  sg_release(xt);
  return y;
}
static sg_tensor *f_scatter(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_scatter(in[0], *(int *)ctx, in[1], in[2]);
}
static sg_tensor *f_scatter_add(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_scatter_add(in[0], *(int *)ctx, in[1], in[2]);
}

/* int64 indices in [0, hi) */
static sg_tensor *rand_index(uint64_t seed, int64_t hi, int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
  uint64_t s = seed * 2654435761u + 3;
  for (int64_t i = 0; i < n; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    v[i] = (double)((s >> 33) % (uint64_t)hi);
  }
  sg_tensor *t = tt_from(SG_INT64, v, ndim, shape);
  free(v);
  return t;
}

static void index_parity(void) {
  const sg_dtype all[5] = {SG_FLOAT64, SG_FLOAT32, SG_INT64, SG_UINT8, SG_BOOL};
  for (int k = 0; k < 5; k++) {
    sg_tensor *in[3];
    in[0] = all[k] <= SG_FLOAT32 ? tt_uniform(61, all[k], -1, 1, 3, SHAPE(4, 6, 5))
                                 : tie_data(61, all[k], 40, false, 3, SHAPE(4, 6, 5));
    for (int dim = 0; dim < 3; dim++) {
      in[1] = rand_index(62 + (uint64_t)dim, in[0]->shape[dim], 1, SHAPE(9));
      PARITY("index_select", f_index_select, &dim, in, 2, 1, 2, 1e-12, 0);
      sg_release(in[1]);
      int64_t ish[3] = {3, 4, 4};
      ish[dim] = 7;
      in[1] = rand_index(65 + (uint64_t)dim, in[0]->shape[dim], 3, ish);
      PARITY("gather", f_gather, &dim, in, 2, 1, 2, 1e-12, 0);
      in[2] = all[k] <= SG_FLOAT32 ? tt_uniform(68, all[k], -1, 1, 3, ish)
                                   : tie_data(68, all[k], 40, false, 3, ish);
      PARITY("scatter", f_scatter, &dim, in, 3, 5, 2, 1e-12, 0);
      PARITY("scatter_add", f_scatter_add, &dim, in, 3, 5, 2, 1e-12, 0);
      sg_release(in[1]);
      sg_release(in[2]);
    }
    /* gather from a strided (transposed) input */
    int dim = 1;
    in[1] = rand_index(69, 4, 3, SHAPE(6, 3, 5));
    PARITY("gather strided", f_gather_t, &dim, in, 2, 1, 1, 1e-12, 0);
    sg_release(in[1]);
    sg_release(in[0]);
  }
  /* scatter_add over few long lines (the sorted path) and many short ones
   * (the line path), with heavy duplication: the sums in the same order
   * as the CPU give the same bits */
  for (int path = 0; path < 2; path++) {
    sg_tensor *in[3];
    int dim = path == 0 ? 0 : 1;
    const int64_t xs[2][2] = {{50, 3}, {3000, 40}};
    const int64_t is[2][2] = {{5000, 3}, {3000, 32}};
    in[0] = tt_uniform(70, SG_FLOAT32, -1, 1, 2, xs[path]);
    in[1] = rand_index(71, xs[path][dim], 2, is[path]);
    in[2] = tt_uniform(72, SG_FLOAT32, -1, 1, 2, is[path]);
    PARITY("scatter_add duplicates", f_scatter_add, &dim, in, 3, 5, 1, 0, 0);
    PARITY("scatter duplicates (last wins)", f_scatter, &dim, in, 3, 5, 1, 0, 0);
    sg_release(in[1]);
    in[1] = rand_index(75, xs[path][dim], 1, SHAPE(5000));
    PARITY("index_select many", f_index_select, &dim, in, 2, 1, 1, 0, 0);
    sg_release_all(in, 3);
  }
  /* out-of-range indices: the same error */
  sg_tensor *in[3];
  in[0] = tt_uniform(73, SG_FLOAT32, -1, 1, 2, SHAPE(4, 5));
  const double bad[] = {0, 2, 5, 1};
  in[1] = tt_from(SG_INT64, bad, 1, SHAPE(4));
  int dim = 1;
  SAME_ERROR("index_select bad index", f_index_select, &dim, in, 2, "index 5 out of range");
  sg_release(in[1]);
  const double bad2[] = {0, 2, 1, -1, 3, 0};
  in[1] = tt_from(SG_INT64, bad2, 2, SHAPE(2, 3));
  in[2] = tt_uniform(74, SG_FLOAT32, -1, 1, 2, SHAPE(2, 3));
  SAME_ERROR("gather bad index", f_gather, &dim, in, 2, "index -1 out of range");
  SAME_ERROR("scatter bad index", f_scatter, &dim, in, 3, "index -1 out of range");
  SAME_ERROR("scatter_add bad index", f_scatter_add, &dim, in, 3, "index -1 out of range");
  sg_release_all(in, 3);
}

/* determinism: the sorted scatter-add and the loss sums repeat bit for bit */
static void gpu_determinism(void) {
  sg_tensor *x = sg_zeros(SHAPE(64), 1, SG_FLOAT32, GPU);
  sg_tensor *ic = rand_index(81, 64, 1, SHAPE(200000));
  sg_tensor *sc = tt_uniform(82, SG_FLOAT32, -1, 1, 1, SHAPE(200000));
  sg_tensor *i = to_gpu(ic), *s = to_gpu(sc);
  sg_tensor *a = sg_scatter_add(x, 0, i, s), *b = sg_scatter_add(x, 0, i, s);
  sg_tensor *ah = to_cpu(a);
  BITS_EQUAL(ah, b, "scatter_add twice");
  sg_tensor *t = tt_uniform(83, SG_FLOAT32, -1, 1, 1, SHAPE(200000));
  sg_tensor *tg = to_gpu(t);
  sg_tensor *l1 = sg_mse_loss(s, tg, SG_REDUCTION_SUM), *l2 = sg_mse_loss(s, tg, SG_REDUCTION_SUM);
  sg_tensor *l1h = to_cpu(l1);
  BITS_EQUAL(l1h, l2, "mse_loss sum twice");
  sg_release_all((sg_tensor *[]){x, ic, sc, i, s, a, b, ah, t, tg, l1, l2, l1h}, 13);
}

typedef struct sel_ctx {
  int64_t k;
  int dim;
  bool largest;
  bool values;
} sel_ctx;

static sg_tensor *f_topk(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const sel_ctx *c = ctx;
  sg_tensor *v = NULL, *i = NULL;
  if (sg_topk(in[0], c->k, c->dim, c->largest, true, &v, &i) != SG_OK) return NULL;
  if (c->values) {
    sg_release(i);
    return v;
  }
  sg_release(v);
  return i;
}
static sg_tensor *f_sort(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const sel_ctx *c = ctx;
  sg_tensor *v = NULL, *i = NULL;
  if (sg_sort(in[0], c->dim, c->largest, &v, &i) != SG_OK) return NULL;
  if (c->values) {
    sg_release(i);
    return v;
  }
  sg_release(v);
  return i;
}

static void sort_topk_parity(void) {
  const sg_dtype all[4] = {SG_FLOAT32, SG_FLOAT64, SG_INT64, SG_UINT8};
  for (int k = 0; k < 4; k++) {
    /* ties, +-0 and NaN: orders and indices must be exactly the CPU's */
    sg_tensor *x = tie_data(91, all[k], 7, true, 3, SHAPE(5, 37, 6));
    for (int dim = 0; dim < 3; dim++)
      for (int lg = 0; lg < 2; lg++) {
        sel_ctx c = {0, dim, lg == 1, false};
        PARITY("sort indices", f_sort, &c, &x, 1, 0, 0, 0, 0);
        c.values = true;
        PARITY("sort values", f_sort, &c, &x, 1, 1, 1, 0, 0);
        const int64_t ks[3] = {1, 3, x->shape[dim]};
        for (int q = 0; q < 3; q++) {
          c.k = ks[q];
          c.values = false;
          PARITY("topk indices", f_topk, &c, &x, 1, 0, 0, 0, 0);
          c.values = true;
          PARITY("topk values", f_topk, &c, &x, 1, 1, 1, 0, 0);
        }
      }
    sg_release(x);
  }
  /* long rows (64-bit keys: two sort passes), many rows (composite keys) */
  sg_tensor *x = tie_data(92, SG_FLOAT64, 1000, true, 2, SHAPE(3, 5000));
  sel_ctx c = {100, 1, true, false};
  PARITY("topk long rows f64", f_topk, &c, &x, 1, 0, 0, 0, 0);
  c.dim = 0;
  c.k = 2;
  PARITY("topk many rows f64", f_topk, &c, &x, 1, 0, 0, 0, 0);
  sg_release(x);
  x = tie_data(93, SG_FLOAT32, 1000, true, 2, SHAPE(4000, 17));
  c = (sel_ctx){5, 1, false, false};
  PARITY("topk many rows f32", f_topk, &c, &x, 1, 0, 0, 0, 0);
  PARITY("sort many rows f32", f_sort, &c, &x, 1, 0, 0, 0, 0);
  sg_release(x);
}

/* ---------------- sparsity projections ---------------- */

typedef struct proj_ctx {
  double k;
  int dim;
} proj_ctx;

static sg_tensor *f_l0_mask(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_l0_mask(in[0], ((proj_ctx *)ctx)->k);
}
static sg_tensor *f_l0_project(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_l0_project(in[0], ((proj_ctx *)ctx)->k);
}
static sg_tensor *f_l0inf_mask(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const proj_ctx *c = ctx;
  return sg_l0inf_mask(in[0], (int64_t)c->k, c->dim);
}
static sg_tensor *f_l0inf_project(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const proj_ctx *c = ctx;
  return sg_l0inf_project(in[0], (int64_t)c->k, c->dim);
}
static sg_tensor *f_soft(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_soft_threshold(in[0], *(double *)ctx);
}
static sg_tensor *f_hard(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_hard_threshold(in[0], *(double *)ctx);
}
static sg_tensor *f_soft_t(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  return sg_soft_threshold_t(in[0], in[1]);
}
static sg_tensor *f_soft_t_strided(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  sg_tensor *xt = sg_transpose(in[0], 2, 3);
  sg_tensor *y = xt ? sg_soft_threshold_t(xt, in[1]) : NULL;
  sg_release(xt);
  return y;
}

static void sparsity_parity(void) {
  const sg_dtype dts[2] = {SG_FLOAT32, SG_FLOAT64};
  for (int q = 0; q < 2; q++) {
    sg_dtype dt = dts[q];
    /* ties among |x| (+-v, +-0, NaN): the kept set must be the CPU's */
    sg_tensor *xt = tie_data(101, dt, 9, true, 4, SHAPE(3, 16, 7, 9));
    sg_tensor *xs = tt_uniform(102, dt, -1, 1, 4, SHAPE(3, 16, 7, 9));
    const double l0k[] = {1, 5, 0.1, 0.5, 1007};
    for (size_t j = 0; j < sizeof l0k / sizeof l0k[0]; j++) {
      proj_ctx c = {l0k[j], 0};
      PARITY("l0_mask (ties)", f_l0_mask, &c, &xt, 1, 0, 0, 0, 0);
      PARITY("l0_project (ties)", f_l0_project, &c, &xt, 1, 1, 1, 0, 0);
      PARITY("l0_project", f_l0_project, &c, &xs, 1, 1, 2, 0, 0);
    }
    for (int dim = -4; dim < 4; dim++) {
      const int64_t ks[3] = {1, 3, xt->shape[dim < 0 ? dim + 4 : dim] - 1};
      for (int j = 0; j < 3; j++) {
        if (ks[j] < 1) continue;
        proj_ctx c = {(double)ks[j], dim};
        PARITY("l0inf_mask (ties)", f_l0inf_mask, &c, &xt, 1, 0, 0, 0, 0);
        PARITY("l0inf_project (ties)", f_l0inf_project, &c, &xt, 1, 1, 1, 0, 0);
        PARITY("l0inf_project", f_l0inf_project, &c, &xs, 1, 1, 2, 0, 0);
      }
    }
    sg_release(xt);
    sg_release(xs);
    /* many channels: the needles' keys no longer fit in shared memory (the
     * kernel reads x directly); more than 32 channels per needle */
    xt = tie_data(103, dt, 50, true, 4, SHAPE(2, 420, 3, 5));
    const int64_t ks[4] = {1, 31, 33, 419};
    for (int j = 0; j < 4; j++) {
      proj_ctx c = {(double)ks[j], 1};
      PARITY("l0inf_mask many channels", f_l0inf_mask, &c, &xt, 1, 0, 0, 0, 0);
    }
    sg_release(xt);
    xt = tie_data(104, dt, 20, true, 4, SHAPE(2, 100, 33, 35));
    proj_ctx c = {7, 1};
    PARITY("l0inf_mask DIP-like", f_l0inf_mask, &c, &xt, 1, 0, 0, 0, 0);
    c.k = 1000;
    PARITY("l0_mask DIP-like", f_l0_mask, &c, &xt, 1, 0, 0, 0, 0);
    sg_release(xt);
    /* thresholds */
    sg_tensor *x = tie_data(105, dt, 9, true, 3, SHAPE(4, 5, 6));
    sg_tensor *xu = tt_uniform(106, dt, -2, 2, 3, SHAPE(4, 5, 6));
    const double lams[3] = {0, 0.5, 2};
    for (int j = 0; j < 3; j++) {
      double lam = lams[j];
      PARITY("soft_threshold (ties)", f_soft, &lam, &x, 1, 1, 1, 0, 0);
      PARITY("hard_threshold (ties)", f_hard, &lam, &x, 1, 1, 1, 0, 0);
      PARITY("soft_threshold", f_soft, &lam, &xu, 1, 1, 2, tol_for(dt), 0);
      PARITY("hard_threshold", f_hard, &lam, &xu, 1, 1, 2, tol_for(dt), 0);
    }
    sg_tensor *in[2] = {tt_uniform(107, dt, -2, 2, 4, SHAPE(2, 3, 4, 5)),
                        tt_uniform(108, dt, 0, 1, 3, SHAPE(3, 1, 1))};
    PARITY("soft_threshold_t", f_soft_t, NULL, in, 2, 3, 2, tol_for(dt), tol_for(dt));
    PARITY("soft_threshold_t strided", f_soft_t_strided, NULL, in, 2, 3, 1, tol_for(dt),
           tol_for(dt));
    sg_release_all(in, 2);
    sg_release(x);
    sg_release(xu);
  }
}

/* ======================= rng family ======================= */

typedef sg_tensor *(*draw_fn)(sg_device dev, void *ctx);

/* The same seed on both devices gives the same bits and advances the
 * generator alike. */
static void same_stream_(const char *what, draw_fn f, void *ctx, const char *file, int line) {
  const uint64_t seeds[3] = {0, 67280421310721ull, 0x123456789abcdef0ull};
  for (int s = 0; s < 3; s++) {
    sg_manual_seed(seeds[s]);
    sg_tensor *skip = sg_rand(SHAPE(5), 1, SG_FLOAT32, sg_cpu_device()); /* offset != 0 */
    sg_release(skip);
    sg_tensor *c = f(sg_cpu_device(), ctx);
    sg_rng_state sc = sg_rng_get_state();
    sg_manual_seed(seeds[s]);
    skip = sg_rand(SHAPE(5), 1, SG_FLOAT32, GPU);
    sg_release(skip);
    sg_tensor *g = f(GPU, ctx);
    sg_rng_state sgs = sg_rng_get_state();
    char msg[160];
    snprintf(msg, sizeof msg, "%s (seed %d): same bits", what, s);
    bits_equal(c, g, msg, file, line);
    snprintf(msg, sizeof msg, "%s (seed %d): same generator state after", what, s);
    sg_test_check(sc.seed == sgs.seed && sc.offset == sgs.offset, msg, file, line);
    sg_release(c);
    sg_release(g);
  }
}
#define SAME_STREAM(what, f, ctx) same_stream_((what), (f), (ctx), __FILE__, __LINE__)

typedef struct draw_ctx {
  int64_t n;
  sg_dtype dt;
  double a, b; /* mean/std, low/high, p */
} draw_ctx;

static sg_tensor *d_rand(sg_device dev, void *ctx) {
  draw_ctx *c = ctx;
  return sg_rand(&c->n, 1, c->dt, dev);
}
static sg_tensor *d_randn(sg_device dev, void *ctx) {
  draw_ctx *c = ctx;
  return sg_randn(&c->n, 1, c->dt, dev);
}
static sg_tensor *d_normal(sg_device dev, void *ctx) {
  draw_ctx *c = ctx;
  return sg_normal(c->a, c->b, &c->n, 1, c->dt, dev);
}
static sg_tensor *d_randint(sg_device dev, void *ctx) {
  draw_ctx *c = ctx;
  return sg_randint((int64_t)c->a, (int64_t)c->b, &c->n, 1, c->dt, dev);
}
static sg_tensor *d_bernoulli_scalar(sg_device dev, void *ctx) {
  draw_ctx *c = ctx;
  return sg_bernoulli_scalar(c->a, &c->n, 1, c->dt, dev);
}
static sg_tensor *d_bernoulli(sg_device dev, void *ctx) {
  draw_ctx *c = ctx;
  sg_tensor *p = tt_uniform(111, c->dt, 0, 1, 1, &c->n);
  sg_tensor *pd = sg_to_device(p, dev);
  sg_tensor *r = pd ? sg_bernoulli(pd) : NULL;
  sg_release(p);
  sg_release(pd);
  return r;
}
static sg_tensor *d_randperm(sg_device dev, void *ctx) {
  draw_ctx *c = ctx;
  return sg_randperm(c->n, dev);
}
static sg_tensor *d_dropout(sg_device dev, void *ctx) {
  draw_ctx *c = ctx;
  sg_tensor *x = tt_uniform(112, c->dt, -1, 1, 1, &c->n);
  sg_tensor *xd = sg_to_device(x, dev);
  sg_tensor *r = xd ? sg_dropout(xd, c->a, true) : NULL;
  sg_release(x);
  sg_release(xd);
  return r;
}

static void rng_streams(void) {
  const int64_t ns[4] = {1, 1001, 4096, 100003};
  const sg_dtype fl[2] = {SG_FLOAT32, SG_FLOAT64};
  for (int q = 0; q < 4; q++) {
    for (int k = 0; k < 2; k++) {
      draw_ctx c = {ns[q], fl[k], 0, 1};
      SAME_STREAM("rand", d_rand, &c);
      SAME_STREAM("randn", d_randn, &c);
      c.a = -1.5;
      c.b = 0.3;
      SAME_STREAM("normal", d_normal, &c);
      c.a = 0.3;
      SAME_STREAM("bernoulli scalar", d_bernoulli_scalar, &c);
      SAME_STREAM("bernoulli", d_bernoulli, &c);
      c.a = 0.35;
      SAME_STREAM("dropout", d_dropout, &c);
    }
    const sg_dtype all[5] = {SG_INT64, SG_FLOAT64, SG_FLOAT32, SG_UINT8, SG_BOOL};
    const double ranges[5][2] = {{-1000000007, 3000000000000.0}, {-5, 1e9}, {-7, 100}, {3, 200},
                                 {0, 2}};
    for (int k = 0; k < 5; k++) {
      draw_ctx c = {ns[q], all[k], ranges[k][0], ranges[k][1]};
      SAME_STREAM("randint", d_randint, &c);
      c.a = 0.6;
      SAME_STREAM("bernoulli scalar any dtype", d_bernoulli_scalar, &c);
    }
    draw_ctx c = {ns[q], SG_INT64, 0, 0};
    SAME_STREAM("randperm", d_randperm, &c);
  }
  /* randint over the whole int64 range */
  draw_ctx c = {777, SG_INT64, (double)INT64_MIN, 9.2e18};
  SAME_STREAM("randint wide", d_randint, &c);
  /* a probability out of range: the same error */
  const double p[] = {0.5, 1.5, 0.2};
  sg_tensor *pc = tt_from(SG_FLOAT32, p, 1, SHAPE(3));
  sg_tensor *pg = to_gpu(pc);
  sg_clear_error();
  sg_tensor *rc = sg_bernoulli(pc);
  char ec[512];
  snprintf(ec, sizeof ec, "%s", sg_last_error());
  sg_clear_error();
  sg_tensor *rg = sg_bernoulli(pg);
  CHECK(!rc && !rg);
  CHECK(strcmp(ec, sg_last_error()) == 0);
  CHECK(strstr(ec, "flat index 1") != NULL);
  sg_release_all((sg_tensor *[]){pc, pg, rc, rg}, 4);
}

/* dropout's gradient on the GPU is the mask drawn from the same stream */
static sg_tensor *f_dropout(sg_tensor **in, int n, void *ctx) {
  (void)n;
  sg_manual_seed(2024);
  return sg_dropout(in[0], *(double *)ctx, true);
}

static void dropout_gradients(void) {
  const sg_dtype fl[2] = {SG_FLOAT32, SG_FLOAT64};
  for (int k = 0; k < 2; k++) {
    sg_tensor *x = tt_uniform(113, fl[k], -1, 1, 3, SHAPE(3, 7, 11));
    double p = 0.4;
    PARITY("dropout", f_dropout, &p, &x, 1, 1, 2, 0, 0);
    sg_release(x);
  }
}

int main(void) {
  RUN(slots_filled);
  if (sg_test_finish() != 0) return 1;
  const char *st = getenv("SGEN_CUDA_OPS_SELFTEST");
  if (st && strcmp(st, "1") == 0) {
    selftest = true;
    GPU = sg_cpu_device();
    printf("SELFTEST: the CPU stands in for the GPU\n");
  } else if (!sg_cuda_built()) {
    printf("SKIPPED: no CUDA device (sgen was built without CUDA)\n");
    return SKIP_CODE;
  }
  if (!selftest && !sg_cuda_is_available()) {
    printf("SKIPPED: no CUDA device\n  (%s)\n", sg_cuda_unavailable_reason());
    return SKIP_CODE;
  }
  if (!selftest) printf("GPU: %s\n", sg_cuda_device_name(0));
  RUN(pool_parity);
  RUN(interpolate_parity);
  RUN(pad_parity);
  RUN(softmax_parity);
  RUN(loss_parity);
  RUN(index_parity);
  RUN(gpu_determinism);
  RUN(sort_topk_parity);
  RUN(sparsity_parity);
  RUN(rng_streams);
  RUN(dropout_gradients);
  return sg_test_finish();
}
