/* Cases of the pool, resample, softmax, loss, index, sort and sparse
 * families (from the former test_cuda_ops.c). Indices, masks and sort
 * orders compare exactly; ties, +-0 and NaN inputs check the orders. */
#include <string.h>

#include "backend_ops.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const sg_dtype F64_F32[2] = {SG_FLOAT64, SG_FLOAT32};

/* a case with the test_cuda_ops tolerances: one tolerance for every stage */
static bo_case *op_case(const char *name, sg_fn fn, int level, double atol, double rtol) {
  bo_case *c = bo_new(name, fn, level);
  bo_tol(c, atol, rtol, 1, 1);
  c->exact = atol == 0 && rtol == 0;
  return c;
}

static bo_input *ties(bo_case *c, uint64_t seed, sg_dtype dt, int levels, bool nan, int nd,
                      const int64_t *shape) {
  bo_input *in = bo_in(c, BO_TIES, dt, nd, shape);
  in->seed = seed;
  in->levels = levels;
  in->nan = nan;
  return in;
}

static bo_input *index_in(bo_case *c, uint64_t seed, int64_t hi, int nd, const int64_t *shape) {
  bo_input *in = bo_in(c, BO_INDEX, SG_INT64, nd, shape);
  in->seed = seed;
  in->levels = (int)hi;
  return in;
}

/* ======================= pool ======================= */

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

static void register_pool(void) {
  const sg_pool_opts opts[] = {
      popts(3, 3, 2, 2, 1, 1, 0, 0, false, true), popts(2, 2, 2, 2, 1, 1, 0, 0, true, true),
      popts(2, 2, 1, 1, 0, 0, 2, 2, false, true), popts(3, 2, 1, 2, 1, 0, 1, 1, true, false),
      popts(3, 3, 3, 3, 0, 0, 0, 0, false, false)};
  char name[120];
  for (int k = 0; k < 2; k++) {
    sg_dtype dt = F64_F32[k];
    double tol = bo_tol_for(dt);
    const int64_t *xs = SHAPE(2, 3, 9, 11);
    for (size_t q = 0; q < N_OF(opts); q++) {
      sg_pool_opts o = opts[q];
      /* distinct values (no ties) for the gradients; ties and NaN for indices */
      snprintf(name, sizeof name, "max_pool2d %s opts %zu", sg_dtype_name(dt), q);
      bo_case *c = op_case(name, f_max_pool, 2, tol, 0);
      BO_CTX(c, o);
      bo_uniform(c, 1 + (uint64_t)k, dt, -2, 2, 4, xs);
      BO_SLOTS(c, SLOT(pool, max_pool2d), SLOT(pool, index_scatter_add), SLOT(pool, index_gather));
      snprintf(name, sizeof name, "max_pool2d indices (ties, NaN) %s opts %zu", sg_dtype_name(dt), q);
      c = op_case(name, f_max_pool_idx, 0, 0, 0);
      BO_CTX(c, o);
      ties(c, 5, dt, 4, true, 4, xs);
      BO_SLOTS(c, SLOT(pool, max_pool2d));
      snprintf(name, sizeof name, "max_pool2d (ties, NaN) %s opts %zu", sg_dtype_name(dt), q);
      c = op_case(name, f_max_pool, 1, tol, 0);
      BO_CTX(c, o);
      ties(c, 5, dt, 4, true, 4, xs);
      BO_SLOTS(c, SLOT(pool, max_pool2d), SLOT(pool, index_scatter_add));
      if (o.dilation[0] <= 1 && o.dilation[1] <= 1 && o.padding[0] * 2 <= o.kernel[0] &&
          o.padding[1] * 2 <= o.kernel[1]) {
        snprintf(name, sizeof name, "avg_pool2d %s opts %zu", sg_dtype_name(dt), q);
        c = op_case(name, f_avg_pool, 2, tol, tol);
        BO_CTX(c, o);
        bo_uniform(c, 1 + (uint64_t)k, dt, -2, 2, 4, xs);
        BO_SLOTS(c, SLOT(pool, avg_pool2d), SLOT(pool, avg_pool2d_backward));
      }
    }
    static const int64_t outs[][2] = {{3, 4}, {1, 1}, {9, 11}, {13, 17}, {4, 11}};
    for (size_t q = 0; q < N_OF(outs); q++) {
      snprintf(name, sizeof name, "adaptive_avg_pool2d %lldx%lld %s", (long long)outs[q][0],
               (long long)outs[q][1], sg_dtype_name(dt));
      bo_case *c = op_case(name, f_adaptive, 2, tol, tol);
      BO_CTX(c, outs[q]);
      bo_uniform(c, 1 + (uint64_t)k, dt, -2, 2, 4, xs);
      BO_SLOTS(c, SLOT(pool, adaptive_avg_pool2d), SLOT(pool, adaptive_avg_pool2d_backward));
    }
  }
  /* a large plane with overlapping windows: the sorted scatter of the
   * gradient, many planes */
  bo_case *c = op_case("max_pool2d large", f_max_pool, 1, 1e-6, 0);
  sg_pool_opts o = popts(3, 3, 1, 1, 1, 1, 0, 0, false, true);
  BO_CTX(c, o);
  bo_uniform(c, 3, SG_FLOAT32, -1, 1, 4, SHAPE(4, 16, 64, 48));
  BO_SLOTS(c, SLOT(pool, max_pool2d), SLOT(pool, index_scatter_add));
}

/* ======================= resample ======================= */

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

static void register_resample(void) {
  static const interp_ctx cs[] = {
      {13, 9, SG_INTERP_NEAREST, false, 0, 0},   {14, 10, SG_INTERP_NEAREST, false, 0, 0},
      {3, 2, SG_INTERP_NEAREST, false, 0, 0},    {11, 8, SG_INTERP_NEAREST, false, 1.7, 1.6},
      {13, 9, SG_INTERP_BILINEAR, false, 0, 0},  {13, 9, SG_INTERP_BILINEAR, true, 0, 0},
      {3, 2, SG_INTERP_BILINEAR, false, 0, 0},   {3, 2, SG_INTERP_BILINEAR, true, 0, 0},
      {14, 10, SG_INTERP_BILINEAR, false, 2, 2}, {11, 8, SG_INTERP_BILINEAR, false, 1.7, 1.6},
      {7, 5, SG_INTERP_BILINEAR, true, 0, 0},    {1, 1, SG_INTERP_BILINEAR, true, 0, 0}};
  char name[120];
  for (int k = 0; k < 2; k++) {
    sg_dtype dt = F64_F32[k];
    for (size_t q = 0; q < N_OF(cs); q++) {
      snprintf(name, sizeof name, "interpolate case %zu %s", q, sg_dtype_name(dt));
      bo_case *c = op_case(name, f_interp, 2, bo_tol_for(dt), bo_tol_for(dt));
      BO_CTX(c, cs[q]);
      bo_uniform(c, 11, dt, -1, 1, 4, SHAPE(2, 3, 7, 5));
      BO_SLOTS(c, SLOT(resample, interpolate), SLOT(resample, interpolate_backward));
    }
  }
  /* DIP-sized bilinear upsampling x2 */
  bo_case *c = op_case("interpolate bilinear x2 large", f_interp, 1, 1e-5, 1e-5);
  interp_ctx big = {128, 128, SG_INTERP_BILINEAR, false, 2, 2};
  BO_CTX(c, big);
  bo_uniform(c, 12, SG_FLOAT32, -1, 1, 4, SHAPE(1, 8, 64, 64));
  BO_SLOTS(c, SLOT(resample, interpolate), SLOT(resample, interpolate_backward));

  static const pad_ctx ps[] = {{{1, 2, 2, 1}, 4, SG_PAD_REFLECT},
                               {{3, 3, 3, 3}, 4, SG_PAD_REFLECT},
                               {{3, 0, 4, 2}, 4, SG_PAD_REPLICATE},
                               {{2, 1}, 2, SG_PAD_REFLECT},
                               {{5, 4}, 2, SG_PAD_REPLICATE},
                               {{1, 1, 2, 0, 1, 2}, 6, SG_PAD_REPLICATE},
                               {{-1, 2, 1, -2}, 4, SG_PAD_REPLICATE}};
  for (int k = 0; k < 2; k++) {
    sg_dtype dt = F64_F32[k];
    const int64_t *xs = SHAPE(2, 3, 4, 5, 6);
    for (size_t q = 0; q < N_OF(ps); q++) {
      snprintf(name, sizeof name, "pad case %zu %s", q, sg_dtype_name(dt));
      /* a geometry the op refuses (e.g. negative pads): the same error on both */
      sg_tensor *x = tt_uniform(21, dt, -1, 1, 5, xs);
      sg_clear_error();
      sg_tensor *probe = x ? sg_pad(x, ps[q].pads, ps[q].npads, ps[q].mode, 0.0) : NULL;
      bool refused = x && !probe;
      sg_release(probe);
      sg_release(x);
      c = op_case(name, f_pad, refused ? 0 : 2, bo_tol_for(dt), 0);
      BO_CTX(c, ps[q]);
      bo_uniform(c, 21, dt, -1, 1, 5, xs);
      if (refused) c->error = "pad";
      BO_SLOTS(c, SLOT(resample, pad), SLOT(resample, pad_backward));
    }
  }
  /* any dtype forward */
  static const sg_dtype its[3] = {SG_INT64, SG_UINT8, SG_BOOL};
  for (int k = 0; k < 3; k++)
    for (int m = 0; m < 2; m++) {
      pad_ctx p = {{2, 1, 1, 3}, 4, m ? SG_PAD_REPLICATE : SG_PAD_REFLECT};
      snprintf(name, sizeof name, "pad %s %s", sg_dtype_name(its[k]), m ? "replicate" : "reflect");
      c = op_case(name, f_pad, 0, 0, 0);
      BO_CTX(c, p);
      ties(c, 22, its[k], 50, false, 4, SHAPE(2, 2, 5, 6));
      BO_SLOTS(c, SLOT(resample, pad));
    }
}

/* ======================= softmax ======================= */

static sg_tensor *f_softmax(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const int *c = ctx; /* dim, log */
  return c[1] ? sg_log_softmax(in[0], c[0]) : sg_softmax(in[0], c[0]);
}

static void register_softmax(void) {
  static const struct {
    int ndim;
    int64_t shape[4];
    int dim;
  } cs[] = {{2, {4, 10}, -1}, {4, {2, 5, 3, 4}, 1}, {2, {3, 2000}, 1}, {3, {2, 300, 3}, 1},
            {1, {7}, 0},      {3, {5, 1, 4}, 1}};
  char name[120];
  for (int k = 0; k < 2; k++) {
    sg_dtype dt = F64_F32[k];
    double tol = bo_tol_for(dt);
    for (size_t q = 0; q < N_OF(cs); q++)
      for (int lg = 0; lg < 2; lg++) {
        int ctx[2] = {cs[q].dim, lg};
        snprintf(name, sizeof name, "%s case %zu %s", lg ? "log_softmax" : "softmax", q,
                 sg_dtype_name(dt));
        bo_case *c = op_case(name, f_softmax, 2, tol, tol);
        BO_CTX(c, ctx);
        bo_uniform(c, 31 + q, dt, -4, 4, cs[q].ndim, cs[q].shape);
        BO_SLOTS(c, SLOT(softmax, softmax), SLOT(softmax, softmax_backward));
      }
  }
  /* large logits: the max subtraction keeps it finite */
  for (int lg = 0; lg < 2; lg++) {
    int ctx[2] = {1, lg};
    bo_case *c = op_case(lg ? "log_softmax large logits" : "softmax large logits", f_softmax, 1,
                         lg ? 1e-4 : 1e-5, lg ? 1e-5 : 1e-4);
    BO_CTX(c, ctx);
    bo_uniform(c, 39, SG_FLOAT32, 80, 120, 2, SHAPE(3, 50));
    BO_SLOTS(c, SLOT(softmax, softmax), SLOT(softmax, softmax_backward));
  }
}

/* ======================= loss ======================= */

static sg_tensor *f_mse(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_mse_loss(in[0], in[1], *(const sg_reduction *)ctx);
}
static sg_tensor *f_l1(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_l1_loss(in[0], in[1], *(const sg_reduction *)ctx);
}
static sg_tensor *f_bce(sg_tensor **in, int n, void *ctx) {
  return sg_bce_with_logits(in[0], in[1], n > 2 ? in[2] : NULL, n > 3 ? in[3] : NULL,
                            *(const sg_reduction *)ctx);
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

/* Lua's numbering: 1-based labels, ignore_index at the top of int64 (the
 * kernel compares it before shifting, exactly). */
static sg_tensor *f_ce_base1(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  return sg_cross_entropy_ex(in[0], in[1], NULL, SG_REDUCTION_MEAN, INT64_MAX, 0.1, 1);
}
static sg_tensor *build_ce_base1(const bo_case *c, int k) {
  static const int64_t t[4] = {1, 5, INT64_MAX, 3};
  if (k == 1) return sg_from_data(t, SHAPE(4), 1, SG_INT64);
  return tt_uniform(52, c->in[0].dtype, -3, 3, 2, SHAPE(4, 5));
}

static void register_loss(void) {
  static const sg_reduction rs[3] = {SG_REDUCTION_MEAN, SG_REDUCTION_SUM, SG_REDUCTION_NONE};
  static const char *rn[3] = {"mean", "sum", "none"};
  static const double tg[] = {0, 4, 2, 2, -100, 1, 3, 0, 4, 4, 1, -100};
  static const double tg2[] = {0, 4, 2, 2, 3, 1, 3, 0, 4, 4, 1, 0};
  static const double bad[] = {0, 1, 7, 2};
  char name[120];
  for (int k = 0; k < 2; k++) {
    sg_dtype dt = F64_F32[k];
    double tol = bo_tol_for(dt);
    const int64_t *xs = SHAPE(4, 5, 300);
    for (int q = 0; q < 3; q++) {
      snprintf(name, sizeof name, "mse_loss %s %s", rn[q], sg_dtype_name(dt));
      bo_case *c = op_case(name, f_mse, 2, tol, tol);
      BO_CTX(c, rs[q]);
      bo_uniform(c, 41, dt, -2, 2, 3, xs);
      bo_uniform(c, 42, dt, -2, 2, 3, xs);
      BO_SLOTS(c, SLOT(loss, pointwise_sum), SLOT(loss, pointwise_grad));
      snprintf(name, sizeof name, "l1_loss %s %s", rn[q], sg_dtype_name(dt));
      c = op_case(name, f_l1, 1, tol, tol);
      BO_CTX(c, rs[q]);
      bo_uniform(c, 41, dt, -2, 2, 3, xs);
      bo_uniform(c, 42, dt, -2, 2, 3, xs);
      BO_SLOTS(c, SLOT(loss, pointwise_sum), SLOT(loss, pointwise_grad));
      for (int w = 0; w < 2; w++) {
        snprintf(name, sizeof name, "bce_with_logits%s %s %s", w ? " weight pos_weight" : "",
                 rn[q], sg_dtype_name(dt));
        c = op_case(name, f_bce, w ? 1 : 2, tol, tol);
        BO_CTX(c, rs[q]);
        bo_uniform(c, 41, dt, -2, 2, 3, xs);
        bo_uniform(c, 43, dt, 0, 1, 3, xs);
        if (w) {
          bo_uniform(c, 44, dt, 0.5, 2, 3, xs);
          bo_uniform(c, 45, dt, 0.5, 3, 1, SHAPE(300));
        }
        BO_SLOTS(c, SLOT(elementwise, binary));
      }
    }
    /* cross entropy / nll: weights, ignore_index, label smoothing, N x C x d */
    static const ce_ctx cs[] = {{SG_REDUCTION_MEAN, -100, 0, false},
                                {SG_REDUCTION_MEAN, -100, 0, true},
                                {SG_REDUCTION_SUM, -100, 0.1, true},
                                {SG_REDUCTION_NONE, -100, 0, true},
                                {SG_REDUCTION_MEAN, -100, 0.2, false},
                                {SG_REDUCTION_MEAN, 4, 0, true}};
    for (size_t q = 0; q < N_OF(cs); q++)
      for (int nll = 0; nll < 2; nll++) {
        snprintf(name, sizeof name, "%s case %zu %s", nll ? "nll_loss" : "cross_entropy", q,
                 sg_dtype_name(dt));
        bo_case *c = op_case(name, nll ? f_nll : f_ce, 2, tol, tol);
        BO_CTX(c, cs[q]);
        bo_uniform(c, 46, dt, -3, 3, 2, SHAPE(12, 5));
        /* ignoring a real class (4): -100 is then an invalid target */
        bo_in(c, BO_VALUES, SG_INT64, 1, SHAPE(12))->values = cs[q].ignore == 4 ? tg2 : tg;
        bo_uniform(c, 47, dt, 0.2, 2, 1, SHAPE(5))->nograd = true;
        BO_SLOTS(c, SLOT(loss, nll_prepare), SLOT(reduce, take_along), SLOT(reduce, put_along));
        if (!nll) BO_SLOTS(c, SLOT(softmax, softmax), SLOT(softmax, softmax_backward));
      }
    ce_ctx c4 = {SG_REDUCTION_MEAN, -100, 0.1, true};
    snprintf(name, sizeof name, "cross_entropy N x C x H x W %s", sg_dtype_name(dt));
    bo_case *c = op_case(name, f_ce, 2, tol, tol);
    BO_CTX(c, c4);
    bo_uniform(c, 48, dt, -3, 3, 4, SHAPE(2, 4, 3, 5));
    index_in(c, 49, 4, 3, SHAPE(2, 3, 5));
    bo_uniform(c, 50, dt, 0.2, 2, 1, SHAPE(4))->nograd = true;
    BO_SLOTS(c, SLOT(loss, nll_prepare));
    /* a target out of range: the same error on both devices */
    ce_ctx plain = {SG_REDUCTION_MEAN, -100, 0, false};
    snprintf(name, sizeof name, "cross_entropy bad target %s", sg_dtype_name(dt));
    c = op_case(name, f_ce, 0, 0, 0);
    BO_CTX(c, plain);
    bo_uniform(c, 51, dt, -3, 3, 2, SHAPE(4, 5));
    bo_in(c, BO_VALUES, SG_INT64, 1, SHAPE(4))->values = bad;
    c->error = "out of range";
    BO_SLOTS(c, SLOT(loss, nll_prepare));
  }
  bo_case *b1 = op_case("cross_entropy 1-based labels", f_ce_base1, 2, 1e-11, 1e-11);
  bo_in(b1, BO_UNIFORM, SG_FLOAT64, 2, SHAPE(4, 5)); /* both inputs from build_ce_base1 */
  bo_in(b1, BO_VALUES, SG_INT64, 1, SHAPE(4))->nograd = true;
  b1->build = build_ce_base1;
  BO_SLOTS(b1, SLOT(loss, nll_prepare));
  /* determinism: the loss sums repeat bit for bit on the device */
  bo_case *c = op_case("mse_loss sum 200000 repeated", f_mse, 0, 1e-4, 1e-6);
  sg_reduction sum = SG_REDUCTION_SUM;
  BO_CTX(c, sum);
  bo_uniform(c, 82, SG_FLOAT32, -1, 1, 1, SHAPE(200000));
  bo_uniform(c, 83, SG_FLOAT32, -1, 1, 1, SHAPE(200000));
  c->repeat = true;
  BO_SLOTS(c, SLOT(loss, pointwise_sum));
}

/* ======================= index ======================= */

static sg_tensor *f_index_select(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_index_select(in[0], *(const int *)ctx, in[1]);
}
static sg_tensor *f_gather(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_gather(in[0], *(const int *)ctx, in[1]);
}
static sg_tensor *f_scatter(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_scatter(in[0], *(const int *)ctx, in[1], in[2]);
}
static sg_tensor *f_scatter_add(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_scatter_add(in[0], *(const int *)ctx, in[1], in[2]);
}

static void register_index(void) {
  static const sg_dtype all[5] = {SG_FLOAT64, SG_FLOAT32, SG_INT64, SG_UINT8, SG_BOOL};
  const int64_t *xs = SHAPE(4, 6, 5);
  char name[120];
  for (int k = 0; k < 5; k++) {
    sg_dtype dt = all[k];
    bool fl = sg_dtype_is_float(dt);
    int lv = fl ? 2 : 0;
    for (int dim = 0; dim < 3; dim++) {
      snprintf(name, sizeof name, "index_select %s dim %d", sg_dtype_name(dt), dim);
      bo_case *c = op_case(name, f_index_select, lv, 1e-12, 0);
      BO_CTX(c, dim);
      if (fl) bo_uniform(c, 61, dt, -1, 1, 3, xs);
      else ties(c, 61, dt, 40, false, 3, xs);
      index_in(c, 62 + (uint64_t)dim, xs[dim], 1, SHAPE(9));
      BO_SLOTS(c, SLOT(index, index_select), SLOT(index, scatter));
      int64_t ish[3] = {3, 4, 4};
      ish[dim] = 7;
      static const sg_fn fns[3] = {f_gather, f_scatter, f_scatter_add};
      static const char *names[3] = {"gather", "scatter", "scatter_add"};
      for (int f = 0; f < 3; f++) {
        snprintf(name, sizeof name, "%s %s dim %d", names[f], sg_dtype_name(dt), dim);
        c = op_case(name, fns[f], lv, 1e-12, 0);
        BO_CTX(c, dim);
        if (fl) bo_uniform(c, 61, dt, -1, 1, 3, xs);
        else ties(c, 61, dt, 40, false, 3, xs);
        index_in(c, 65 + (uint64_t)dim, xs[dim], 3, ish);
        if (f > 0) {
          if (fl) bo_uniform(c, 68, dt, -1, 1, 3, ish);
          else ties(c, 68, dt, 40, false, 3, ish);
        }
        BO_SLOTS(c, SLOT(index, gather), SLOT(index, scatter));
      }
    }
    /* gather from a strided (transposed) input */
    int dim = 1;
    snprintf(name, sizeof name, "gather strided %s", sg_dtype_name(dt));
    bo_case *c = op_case(name, f_gather, fl ? 1 : 0, 1e-12, 0);
    BO_CTX(c, dim);
    bo_input *x = fl ? bo_uniform(c, 61, dt, -1, 1, 3, xs) : ties(c, 61, dt, 40, false, 3, xs);
    x->transpose = true;
    index_in(c, 69, 4, 3, SHAPE(6, 3, 5));
    BO_SLOTS(c, SLOT(index, gather));
  }
  /* scatter_add over few long lines (the sorted path) and many short ones
   * (the line path), with heavy duplication: the sums in the same order
   * as the CPU give the same bits */
  for (int path = 0; path < 2; path++) {
    int dim = path == 0 ? 0 : 1;
    static const int64_t xsz[2][2] = {{50, 3}, {3000, 40}};
    static const int64_t isz[2][2] = {{5000, 3}, {3000, 32}};
    static const sg_fn fns[2] = {f_scatter_add, f_scatter};
    static const char *names[2] = {"scatter_add duplicates", "scatter duplicates (last wins)"};
    for (int f = 0; f < 2; f++) {
      snprintf(name, sizeof name, "%s path %d", names[f], path);
      bo_case *c = op_case(name, fns[f], 1, 0, 0);
      BO_CTX(c, dim);
      bo_uniform(c, 70, SG_FLOAT32, -1, 1, 2, xsz[path]);
      index_in(c, 71, xsz[path][dim], 2, isz[path]);
      bo_uniform(c, 72, SG_FLOAT32, -1, 1, 2, isz[path]);
      BO_SLOTS(c, SLOT(index, scatter), SLOT(index, gather));
    }
    snprintf(name, sizeof name, "index_select many path %d", path);
    bo_case *c = op_case(name, f_index_select, 1, 0, 0);
    BO_CTX(c, dim);
    bo_uniform(c, 70, SG_FLOAT32, -1, 1, 2, xsz[path]);
    index_in(c, 75, xsz[path][dim], 1, SHAPE(5000));
    BO_SLOTS(c, SLOT(index, index_select), SLOT(index, scatter));
  }
  /* determinism: the sorted scatter-add repeats bit for bit on the device */
  int dim0 = 0;
  bo_case *c = op_case("scatter_add 200000 into 64 repeated", f_scatter_add, 0, 1e-4, 1e-5);
  BO_CTX(c, dim0);
  bo_uniform(c, 80, SG_FLOAT32, 0, 0, 1, SHAPE(64));
  index_in(c, 81, 64, 1, SHAPE(200000));
  bo_uniform(c, 82, SG_FLOAT32, -1, 1, 1, SHAPE(200000));
  c->repeat = true;
  BO_SLOTS(c, SLOT(index, scatter));
  /* out-of-range indices: the same error */
  static const double bad[] = {0, 2, 5, 1}, bad2[] = {0, 2, 1, -1, 3, 0};
  int dim = 1;
  c = op_case("index_select bad index", f_index_select, 0, 0, 0);
  BO_CTX(c, dim);
  bo_uniform(c, 73, SG_FLOAT32, -1, 1, 2, SHAPE(4, 5));
  bo_in(c, BO_VALUES, SG_INT64, 1, SHAPE(4))->values = bad;
  c->error = "index 5 out of range";
  BO_SLOTS(c, SLOT(index, index_select));
  static const sg_fn fns[3] = {f_gather, f_scatter, f_scatter_add};
  static const char *names[3] = {"gather bad index", "scatter bad index", "scatter_add bad index"};
  for (int f = 0; f < 3; f++) {
    c = op_case(names[f], fns[f], 0, 0, 0);
    BO_CTX(c, dim);
    bo_uniform(c, 73, SG_FLOAT32, -1, 1, 2, SHAPE(4, 5));
    bo_in(c, BO_VALUES, SG_INT64, 2, SHAPE(2, 3))->values = bad2;
    if (f > 0) bo_uniform(c, 74, SG_FLOAT32, -1, 1, 2, SHAPE(2, 3));
    c->error = "index -1 out of range";
    BO_SLOTS(c, f ? SLOT(index, scatter) : SLOT(index, gather));
  }
}

/* ======================= sort ======================= */

typedef struct sel_ctx {
  int64_t k; /* 0: sort */
  int dim;
  bool largest;
  bool values;
} sel_ctx;

static sg_tensor *f_select(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const sel_ctx *c = ctx;
  sg_tensor *v = NULL, *i = NULL;
  sg_status s = c->k ? sg_topk(in[0], c->k, c->dim, c->largest, true, &v, &i)
                     : sg_sort(in[0], c->dim, c->largest, &v, &i);
  if (s != SG_OK) return NULL;
  sg_release(c->values ? i : v);
  return c->values ? v : i;
}

static void sel_case(sel_ctx s, sg_dtype dt, int levels, uint64_t seed,
                     int nd, const int64_t *shape) {
  char name[120];
  snprintf(name, sizeof name, "%s %s %s dim %d%s k %lld", s.k ? "topk" : "sort",
           s.values ? "values" : "indices", sg_dtype_name(dt), s.dim,
           s.largest ? " largest" : "", (long long)s.k);
  bo_case *c = op_case(name, f_select, s.values && sg_dtype_is_float(dt) ? 1 : 0, 0, 0);
  BO_CTX(c, s);
  ties(c, seed, dt, levels, true, nd, shape);
  BO_SLOTS(c, s.k ? SLOT(sort, topk) : SLOT(sort, sort));
}

static void register_sort(void) {
  static const sg_dtype all[4] = {SG_FLOAT32, SG_FLOAT64, SG_INT64, SG_UINT8};
  const int64_t *xs = SHAPE(5, 37, 6);
  for (int k = 0; k < 4; k++)
    /* ties, +-0 and NaN: orders and indices must be exactly the CPU's */
    for (int dim = 0; dim < 3; dim++)
      for (int lg = 0; lg < 2; lg++) {
        const int64_t ks[4] = {0, 1, 3, xs[dim]};
        for (int q = 0; q < 4; q++)
          for (int v = 0; v < 2; v++)
            sel_case((sel_ctx){ks[q], dim, lg == 1, v == 1}, all[k], 7, 91, 3, xs);
      }
  /* long rows (64-bit keys: two sort passes), many rows (composite keys) */
  sel_case((sel_ctx){100, 1, true, false}, SG_FLOAT64, 1000, 92, 2, SHAPE(3, 5000));
  sel_case((sel_ctx){2, 0, true, false}, SG_FLOAT64, 1000, 92, 2, SHAPE(3, 5000));
  sel_case((sel_ctx){5, 1, false, false}, SG_FLOAT32, 1000, 93, 2, SHAPE(4000, 17));
  sel_case((sel_ctx){0, 1, false, false}, SG_FLOAT32, 1000, 93, 2, SHAPE(4000, 17));
}

/* ======================= sparse ======================= */

typedef struct proj_ctx {
  int kind; /* 0 l0_mask, 1 l0_project, 2 l0inf_mask, 3 l0inf_project, 4 soft, 5 hard */
  double k;
  int dim;
} proj_ctx;

static sg_tensor *f_proj(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const proj_ctx *c = ctx;
  switch (c->kind) {
  case 0: return sg_l0_mask(in[0], c->k);
  case 1: return sg_l0_project(in[0], c->k);
  case 2: return sg_l0inf_mask(in[0], (int64_t)c->k, c->dim);
  case 3: return sg_l0inf_project(in[0], (int64_t)c->k, c->dim);
  case 4: return sg_soft_threshold(in[0], c->k);
  default: return sg_hard_threshold(in[0], c->k);
  }
}
static sg_tensor *f_soft_t(sg_tensor **in, int n, void *ctx) {
  (void)n;
  bool strided = *(const bool *)ctx;
  sg_tensor *x = strided ? sg_transpose(in[0], 2, 3) : sg_retain(in[0]);
  sg_tensor *y = x ? sg_soft_threshold_t(x, in[1]) : NULL;
  sg_release(x);
  return y;
}

static void proj_case(proj_ctx p, int level, double tol, bool tie, uint64_t seed, int tie_levels,
                      sg_dtype dt, int nd, const int64_t *shape) {
  static const char *kinds[6] = {"l0_mask", "l0_project", "l0inf_mask", "l0inf_project",
                                 "soft_threshold", "hard_threshold"};
  char name[120];
  snprintf(name, sizeof name, "%s%s %s k %g dim %d shape %lld", kinds[p.kind], tie ? " (ties)" : "",
           sg_dtype_name(dt), p.k, p.dim, (long long)shape[1]);
  bo_case *c = op_case(name, f_proj, level, tol, 0);
  BO_CTX(c, p);
  if (tie) ties(c, seed, dt, tie_levels, true, nd, shape);
  else bo_uniform(c, seed, dt, p.kind >= 4 ? -2 : -1, p.kind >= 4 ? 2 : 1, nd, shape);
  if (p.kind <= 1) BO_SLOTS(c, SLOT(sparse, l0_mask));
  else if (p.kind <= 3) BO_SLOTS(c, SLOT(sparse, l0inf_mask));
  else BO_SLOTS(c, SLOT(sparse, threshold));
}

static void register_sparse(void) {
  static const sg_dtype dts[2] = {SG_FLOAT32, SG_FLOAT64};
  for (int q = 0; q < 2; q++) {
    sg_dtype dt = dts[q];
    const int64_t *xs = SHAPE(3, 16, 7, 9);
    /* ties among |x| (+-v, +-0, NaN): the kept set must be the CPU's */
    static const double l0k[] = {1, 5, 0.1, 0.5, 1007};
    for (size_t j = 0; j < N_OF(l0k); j++) {
      proj_case((proj_ctx){0, l0k[j], 0}, 0, 0, true, 101, 9, dt, 4, xs);
      proj_case((proj_ctx){1, l0k[j], 0}, 1, 0, true, 101, 9, dt, 4, xs);
      proj_case((proj_ctx){1, l0k[j], 0}, 2, 0, false, 102, 9, dt, 4, xs);
    }
    for (int dim = -4; dim < 4; dim++) {
      const int64_t ks[3] = {1, 3, xs[dim < 0 ? dim + 4 : dim] - 1};
      for (int j = 0; j < 3; j++) {
        if (ks[j] < 1) continue;
        proj_case((proj_ctx){2, (double)ks[j], dim}, 0, 0, true, 101, 9, dt, 4, xs);
        proj_case((proj_ctx){3, (double)ks[j], dim}, 1, 0, true, 101, 9, dt, 4, xs);
        proj_case((proj_ctx){3, (double)ks[j], dim}, 2, 0, false, 102, 9, dt, 4, xs);
      }
    }
    /* many channels: the needles' keys no longer fit in shared memory (the
     * kernel reads x directly); more than 32 channels per needle */
    static const int64_t kk[4] = {1, 31, 33, 419};
    for (int j = 0; j < 4; j++)
      proj_case((proj_ctx){2, (double)kk[j], 1}, 0, 0, true, 103, 50, dt, 4, SHAPE(2, 420, 3, 5));
    proj_case((proj_ctx){2, 7, 1}, 0, 0, true, 104, 20, dt, 4, SHAPE(2, 100, 33, 35));
    proj_case((proj_ctx){0, 1000, 1}, 0, 0, true, 104, 20, dt, 4, SHAPE(2, 100, 33, 35));
    /* thresholds */
    static const double lams[3] = {0, 0.5, 2};
    for (int j = 0; j < 3; j++)
      for (int kind = 4; kind < 6; kind++) {
        proj_case((proj_ctx){kind, lams[j], 0}, 1, 0, true, 105, 9, dt, 3, SHAPE(4, 5, 6));
        proj_case((proj_ctx){kind, lams[j], 0}, 2, bo_tol_for(dt), false, 106, 9, dt, 3,
                  SHAPE(4, 5, 6));
      }
    for (int strided = 0; strided < 2; strided++) {
      char name[120];
      snprintf(name, sizeof name, "soft_threshold_t%s %s", strided ? " strided" : "",
               sg_dtype_name(dt));
      bo_case *c = op_case(name, f_soft_t, strided ? 1 : 2, bo_tol_for(dt), bo_tol_for(dt));
      bool s = strided == 1;
      BO_CTX(c, s);
      bo_uniform(c, 107, dt, -2, 2, 4, SHAPE(2, 3, 4, 5));
      bo_uniform(c, 108, dt, 0, 1, 3, SHAPE(3, 1, 1));
      BO_SLOTS(c, SLOT(sparse, soft_threshold_t));
    }
  }
}

void bo_register_ops(void) {
  register_pool();
  register_resample();
  register_softmax();
  register_loss();
  register_index();
  register_sort();
  register_sparse();
}
