/* Cases of the blas, conv, norm, linalg and optim families (from the former
 * test_cuda_nn.c): the public ops with gradients, and cases that call a
 * kernel slot directly through the device's table for what no public op
 * reaches (a permuted matmul batch, empty convolutions, in-place and
 * partial norm backward). Tolerances: float32 1e-4 relative (convolutions
 * 1e-3: cuDNN may use Winograd / FFT), float64 1e-10; gradients 10x,
 * double backward 100x. */
#include <string.h>

#include "backend_ops.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const sg_dtype F32_F64[2] = {SG_FLOAT32, SG_FLOAT64};
static double tol32(sg_dtype dt, double f32) { return dt == SG_FLOAT64 ? 1e-10 : f32; }
static sg_device dev_of(const sg_tensor *t) { return t->storage->device; }

static bo_case *nn_case(const char *name, sg_fn fn, int level, double tol) {
  bo_case *c = bo_new(name, fn, level);
  bo_tol(c, tol, tol, 10, 100);
  return c;
}

/* ======================= blas ======================= */

/* matmul of views: op(a) @ op(b) with transposes / expands made on each
 * device, so the kernel sees the same strides on both. */
typedef struct mm_ctx {
  bool ta, tb;         /* transpose the last two dims */
  int64_t expand_a[4]; /* expand a to this shape (ndim ea) first, if ea > 0 */
  int ea;
  bool narrow_b; /* take every other column of b (stride 2) */
} mm_ctx;

static sg_tensor *mm_view(sg_tensor *t, bool tr) {
  return tr ? sg_transpose(t, -1, -2) : sg_retain(t);
}

static sg_tensor *f_matmul(sg_tensor **in, int n, void *vctx) {
  (void)n;
  const mm_ctx *c = vctx;
  sg_tensor *a = mm_view(in[0], c->ta), *b = mm_view(in[1], c->tb);
  if (a && c->ea > 0) {
    sg_tensor *e = sg_expand(a, c->expand_a, c->ea);
    sg_release(a);
    a = e;
  }
  if (b && c->narrow_b) {
    /* columns 0, 2, 4, ...: a strided view through a reshape of the last dim */
    int64_t m = b->shape[b->ndim - 1];
    sg_tensor *nb = sg_narrow(b, b->ndim - 1, 0, m - m % 2);
    int64_t shp[SG_MAX_DIMS];
    for (int i = 0; i < b->ndim - 1; i++) shp[i] = b->shape[i];
    shp[b->ndim - 1] = (m - m % 2) / 2;
    shp[b->ndim] = 2;
    sg_tensor *r = nb ? sg_reshape(nb, shp, b->ndim + 1) : NULL;
    sg_tensor *s = r ? sg_select(r, b->ndim, 0) : NULL;
    sg_release_all((sg_tensor *[]){nb, r, b}, 3);
    b = s;
  }
  sg_tensor *y = a && b ? sg_matmul(a, b) : NULL;
  sg_release(a);
  sg_release(b);
  return y;
}

static void mm_case(sg_dtype dt, int nda, const int64_t *sa, int ndb, const int64_t *sb, mm_ctx m,
                    const char *what) {
  char name[120];
  snprintf(name, sizeof name, "matmul %s %s", what, sg_dtype_name(dt));
  bool in = dt == SG_INT64;
  bo_case *c = nn_case(name, f_matmul, in ? 0 : 1, in ? 0 : tol32(dt, 1e-4));
  BO_CTX(c, m);
  /* int64: values in [-50, 50) */
  bo_uniform(c, 11, dt, in ? -50 : -1, in ? 50 : 1, nda, sa);
  bo_uniform(c, 12, dt, in ? -50 : -1, in ? 50 : 1, ndb, sb);
  c->exact = in;
  BO_SLOTS(c, SLOT(blas, matmul));
}

/* the matmul slot on a permuted batch (dims that do not merge): looped */
static sg_tensor *f_matmul_slot(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  const sg_backend *be = sg_backend_for(dev_of(in[0]));
  sg_tensor *av = sg_transpose(in[0], 0, 1);
  sg_tensor *out = sg_empty(SHAPE(2, 3, 4, 6), 4, in[0]->dtype, dev_of(in[0]));
  bool ok = be && av && out && be->blas->matmul(out, av, in[1]) == SG_OK;
  sg_release(av);
  if (!ok) sg_release(out);
  return ok ? out : NULL;
}

static void register_blas(void) {
  static const sg_dtype dts[3] = {SG_FLOAT32, SG_FLOAT64, SG_INT64};
  for (int k = 0; k < 3; k++) {
    sg_dtype dt = dts[k];
    mm_ctx plain = {0};
    mm_case(dt, 2, SHAPE(7, 13), 2, SHAPE(13, 5), plain, "7x13 @ 13x5");
    mm_case(dt, 2, SHAPE(1, 9), 2, SHAPE(9, 6), plain, "row vector");
    mm_case(dt, 2, SHAPE(6, 9), 2, SHAPE(9, 1), plain, "column vector");
    mm_case(dt, 1, SHAPE(9), 1, SHAPE(9), plain, "dot");
    mm_case(dt, 3, SHAPE(4, 5, 7), 3, SHAPE(4, 7, 3), plain, "batched");
    mm_case(dt, 4, SHAPE(2, 3, 5, 7), 2, SHAPE(7, 3), plain, "N-D @ 2-D");
    mm_case(dt, 2, SHAPE(5, 7), 3, SHAPE(3, 7, 4), plain, "2-D @ batched (broadcast a)");
    mm_case(dt, 4, SHAPE(2, 1, 5, 7), 3, SHAPE(3, 7, 4), plain, "broadcast batch dims");
    mm_ctx t = {.ta = true, .tb = true};
    mm_case(dt, 3, SHAPE(3, 7, 5), 3, SHAPE(3, 4, 7), t, "both transposed");
    mm_ctx ta = {.ta = true};
    mm_case(dt, 2, SHAPE(9, 6), 2, SHAPE(9, 5), ta, "a transposed");
    mm_ctx e = {.expand_a = {3, 4, 5, 6}, .ea = 4};
    mm_case(dt, 2, SHAPE(5, 6), 3, SHAPE(4, 6, 2), e, "expanded a (stride-0 batch)");
    mm_ctx nb = {.narrow_b = true};
    mm_case(dt, 3, SHAPE(2, 5, 6), 3, SHAPE(2, 6, 8), nb, "b with column stride 2 (packed)");
    mm_case(dt, 2, SHAPE(4, 0), 2, SHAPE(0, 3), plain, "K = 0");
    mm_case(dt, 2, SHAPE(0, 4), 2, SHAPE(4, 3), plain, "M = 0");
  }
  /* a bigger float32 product, above the vector paths */
  mm_ctx plain = {0};
  mm_case(SG_FLOAT32, 3, SHAPE(3, 67, 129), 3, SHAPE(3, 129, 45), plain, "3x67x129 @ 3x129x45");
  bo_case *c = nn_case("matmul slot, permuted batch", f_matmul_slot, 0, 1e-12);
  bo_uniform(c, 21, SG_FLOAT64, -1, 1, 4, SHAPE(3, 2, 4, 5)); /* viewed as 2 x 3 x 4 x 5 */
  bo_uniform(c, 22, SG_FLOAT64, -1, 1, 4, SHAPE(2, 3, 5, 6));
  BO_SLOTS(c, SLOT(blas, matmul));
}

/* ======================= conv ======================= */

typedef struct conv_case {
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

typedef struct conv_ctx {
  sg_conv_opts o;
  int64_t wshape[4];
} conv_ctx;

static sg_tensor *f_conv2d(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_conv2d(in[0], in[1], in[2], &((const conv_ctx *)ctx)->o);
}
static sg_tensor *f_convt(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_conv_transpose2d(in[0], in[1], in[2], &((const conv_ctx *)ctx)->o);
}
static sg_tensor *f_convw(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const conv_ctx *c = ctx;
  return sg_conv2d_weight(in[0], in[1], c->wshape, &c->o);
}

static int64_t out_size(int64_t in, int64_t k, int s, int p, int d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

static void conv_cases_for(const conv_case *cc, sg_dtype dt, bool gradgrad) {
  char name[160];
  const double tol = tol32(dt, 1e-3);
  const int64_t Ho = out_size(cc->H, cc->kh, cc->sh, cc->ph, cc->dh);
  const int64_t Wo = out_size(cc->W, cc->kw, cc->sw, cc->pw, cc->dw);
  conv_ctx x = {{{cc->sh, cc->sw}, {cc->ph, cc->pw}, {cc->dh, cc->dw}, {0, 0}, cc->groups},
                {cc->K, cc->C / cc->groups, cc->kh, cc->kw}};
  for (int bias = 1; bias >= 0; bias--) {
    snprintf(name, sizeof name, "conv2d%s %lldx%lldx%lldx%lld k%lld %s", bias ? "" : " (no bias)",
             (long long)cc->N, (long long)cc->C, (long long)cc->H, (long long)cc->W,
             (long long)cc->K, sg_dtype_name(dt));
    bo_case *c = nn_case(name, f_conv2d, gradgrad && bias ? 2 : 1, tol);
    BO_CTX(c, x);
    bo_uniform(c, 41, dt, -1, 1, 4, SHAPE(cc->N, cc->C, cc->H, cc->W));
    bo_uniform(c, 42, dt, -1, 1, 4, SHAPE(cc->K, cc->C / cc->groups, cc->kh, cc->kw));
    if (bias) bo_uniform(c, 43, dt, -1, 1, 1, SHAPE(cc->K));
    else bo_in(c, BO_ABSENT, dt, 0, NULL);
    BO_SLOTS(c, SLOT(conv, conv2d), SLOT(conv, conv_transpose2d), SLOT(conv, conv2d_weight));
  }
  /* conv_transpose2d: input N x C x Ho x Wo, weight C x K/g x kh x kw */
  conv_ctx t = x;
  t.o.output_padding[0] = cc->oph < cc->sh ? cc->oph : 0;
  t.o.output_padding[1] = cc->opw < cc->sw ? cc->opw : 0;
  if (cc->oph >= cc->sh || cc->opw >= cc->sw) t.o.output_padding[0] = t.o.output_padding[1] = 0;
  snprintf(name, sizeof name, "conv_transpose2d %lldx%lldx%lldx%lld op %dx%d %s", (long long)cc->N,
           (long long)cc->C, (long long)Ho, (long long)Wo, t.o.output_padding[0],
           t.o.output_padding[1], sg_dtype_name(dt));
  bo_case *c = nn_case(name, f_convt, gradgrad ? 2 : 1, tol);
  BO_CTX(c, t);
  bo_uniform(c, 44, dt, -1, 1, 4, SHAPE(cc->N, cc->C, Ho, Wo));
  bo_uniform(c, 45, dt, -1, 1, 4, SHAPE(cc->C, cc->K / cc->groups, cc->kh, cc->kw));
  bo_uniform(c, 46, dt, -1, 1, 1, SHAPE(cc->K));
  BO_SLOTS(c, SLOT(conv, conv_transpose2d), SLOT(conv, conv2d), SLOT(conv, conv2d_weight));
  snprintf(name, sizeof name, "conv2d_weight %lldx%lld k%lld %s", (long long)cc->H,
           (long long)cc->W, (long long)cc->K, sg_dtype_name(dt));
  c = nn_case(name, f_convw, 1, tol);
  BO_CTX(c, x);
  bo_uniform(c, 47, dt, -1, 1, 4, SHAPE(cc->N, cc->C, cc->H, cc->W));
  bo_uniform(c, 48, dt, -1, 1, 4, SHAPE(cc->N, cc->K, Ho, Wo));
  BO_SLOTS(c, SLOT(conv, conv2d_weight));
}

/* Edges of the slots: no input channels (the output is the bias), a weight
 * gradient from an empty batch (zeros). in[0]: the bias (names the device). */
static sg_tensor *f_conv_edges(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  sg_device d = dev_of(in[0]);
  const sg_backend *be = sg_backend_for(d);
  /* N C H W K Ho Wo kh kw sh sw ph pw dh dw groups */
  sg_conv_geom g = {2, 0, 5, 5, 3, 3, 3, 3, 3, 1, 1, 0, 0, 1, 1, 1};
  sg_conv_geom g0 = {0, 2, 5, 5, 3, 3, 3, 3, 3, 1, 1, 0, 0, 1, 1, 1};
  sg_tensor *x = sg_empty(SHAPE(2, 0, 5, 5), 4, SG_FLOAT32, d);
  sg_tensor *w = sg_empty(SHAPE(3, 0, 3, 3), 4, SG_FLOAT32, d);
  sg_tensor *out = sg_full(SHAPE(2, 3, 3, 3), 4, 7.0, SG_FLOAT32, d);
  sg_tensor *x0 = sg_empty(SHAPE(0, 2, 5, 5), 4, SG_FLOAT32, d);
  sg_tensor *go0 = sg_empty(SHAPE(0, 3, 3, 3), 4, SG_FLOAT32, d);
  sg_tensor *gw = sg_full(SHAPE(3, 2, 3, 3), 4, 5.0, SG_FLOAT32, d);
  bool ok = be && x && w && out && x0 && go0 && gw &&
            be->conv->conv2d(out, x, w, in[0], &g) == SG_OK &&
            be->conv->conv2d_weight(gw, x0, go0, &g0) == SG_OK;
  sg_release_all((sg_tensor *[]){x, w, x0, go0}, 4);
  if (!ok) {
    sg_release(out);
    sg_release(gw);
    return NULL;
  }
  return bo_cat_flat(2, (sg_tensor *[]){out, gw});
}

typedef struct unf_ctx {
  sg_unfold_opts o;
  int64_t H, W;
} unf_ctx;

static sg_tensor *f_unfold(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_unfold(in[0], &((const unf_ctx *)ctx)->o);
}
static sg_tensor *f_fold(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const unf_ctx *c = ctx;
  return sg_fold(in[0], c->H, c->W, &c->o);
}

static void register_conv(void) {
  for (size_t i = 0; i < N_OF(conv_cases); i++)
    for (int k = 0; k < 2; k++) conv_cases_for(&conv_cases[i], F32_F64[k], i < 3);
  bo_case *c = nn_case("conv slots: no input channels, empty batch", f_conv_edges, 0, 0);
  bo_uniform(c, 51, SG_FLOAT32, -1, 1, 1, SHAPE(3));
  c->exact = true;
  BO_SLOTS(c, SLOT(conv, conv2d), SLOT(conv, conv2d_weight));
  static const struct {
    int64_t N, C, H, W;
    sg_unfold_opts o;
  } cs[] = {
      {2, 3, 7, 9, {{3, 3}, {1, 1}, {1, 1}, {1, 1}}},
      {1, 2, 10, 11, {{2, 3}, {2, 1}, {1, 0}, {2, 3}}},
      {3, 1, 5, 5, {{5, 5}, {1, 1}, {0, 0}, {1, 1}}},
      {2, 4, 8, 6, {{3, 2}, {1, 2}, {2, 1}, {3, 1}}},
  };
  char name[120];
  for (size_t i = 0; i < N_OF(cs); i++)
    for (int k = 0; k < 2; k++) {
      sg_dtype dt = F32_F64[k];
      unf_ctx u = {cs[i].o, cs[i].H, cs[i].W};
      snprintf(name, sizeof name, "unfold case %zu %s", i, sg_dtype_name(dt));
      c = nn_case(name, f_unfold, 1, 0); /* a copy: exact */
      BO_CTX(c, u);
      bo_uniform(c, 61, dt, -1, 1, 4, SHAPE(cs[i].N, cs[i].C, cs[i].H, cs[i].W));
      BO_SLOTS(c, SLOT(conv, unfold), SLOT(conv, fold));
      /* the shape of unfold's output, from a CPU run */
      sg_tensor *x = tt_uniform(61, dt, -1, 1, 4, SHAPE(cs[i].N, cs[i].C, cs[i].H, cs[i].W));
      sg_tensor *cols = x ? sg_unfold(x, &u.o) : NULL;
      if (cols) {
        snprintf(name, sizeof name, "fold case %zu %s", i, sg_dtype_name(dt));
        /* sums in the CPU's order: exact too, up to contraction */
        c = nn_case(name, f_fold, 1, tol32(dt, 1e-6));
        BO_CTX(c, u);
        bo_uniform(c, 62, dt, -1, 1, 3, cols->shape);
        BO_SLOTS(c, SLOT(conv, fold), SLOT(conv, unfold));
      }
      sg_release(cols);
      sg_release(x);
    }
}

/* ======================= norm ======================= */

typedef struct ns_ctx {
  int64_t A, G, B, C;
  bool affine;
} ns_ctx;

/* The norm slots on x viewed as [A, G, B]: moments, normalize (and in
 * place), normalize_backward (and without dx), with the same statistics
 * (in[2], in[3]: mean, invstd) on both devices. in: x, dy, mean, invstd,
 * w, b (w, b absent unless affine). */
static sg_tensor *f_norm_slots(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const ns_ctx *c = ctx;
  sg_device d = dev_of(in[0]);
  const struct sg_norm_kernels *k = sg_backend_for(d)->norm;
  sg_dtype dt = in[0]->dtype;
  const int64_t *xs = in[0]->shape, *gs = SHAPE(c->G);
  sg_tensor *o[9] = {0};
  for (int i = 0; i < 9; i++) o[i] = sg_empty(i < 2 || i >= 4 ? gs : xs, i < 2 || i >= 4 ? 1 : 3, dt, d);
  sg_tensor *xi = sg_clone(in[0]);
  bool ok = xi && o[8];
  ok = ok && k->moments(o[0], o[1], in[0], c->A, c->G, c->B) == SG_OK;
  ok = ok && k->normalize(o[2], in[0], c->A, c->G, c->B, in[2], in[3], in[4], in[5], c->C) == SG_OK;
  ok = ok && k->normalize(xi, xi, c->A, c->G, c->B, in[2], in[3], in[4], in[5], c->C) == SG_OK;
  ok = ok && k->normalize_backward(o[3], o[4], o[5], in[1], in[0], c->A, c->G, c->B, in[2], in[3],
                                   in[4], c->C) == SG_OK;
  ok = ok && k->normalize_backward(NULL, o[6], o[7], in[1], in[0], c->A, c->G, c->B, in[2], in[3],
                                   in[4], c->C) == SG_OK;
  sg_release(o[8]);
  o[8] = xi;
  return ok ? bo_cat_flat(9, o) : (sg_release_all(o, 9), NULL);
}

/* layer_norm and its backward (also dx alone, dw alone) with the same
 * statistics on both devices. in: x, dy, mean, invstd, w, b. */
static sg_tensor *f_layer_norm_slots(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const ns_ctx *c = ctx; /* A = R, B = D */
  sg_device d = dev_of(in[0]);
  const struct sg_norm_kernels *k = sg_backend_for(d)->norm;
  sg_dtype dt = in[0]->dtype;
  int64_t R = c->A, D = c->B;
  const int64_t *xs = SHAPE(R, D), *rs = SHAPE(R), *ds = SHAPE(D);
  sg_tensor *y = sg_empty(xs, 2, dt, d), *m = sg_empty(rs, 1, dt, d), *is = sg_empty(rs, 1, dt, d);
  sg_tensor *dx = sg_empty(xs, 2, dt, d), *dw = sg_empty(ds, 1, dt, d), *db = sg_empty(ds, 1, dt, d);
  sg_tensor *dx2 = sg_empty(xs, 2, dt, d), *dw2 = sg_empty(ds, 1, dt, d);
  sg_tensor *o[8] = {y, m, is, dx, dw, db, dx2, dw2};
  bool ok = y && m && is && dx && dw && db && dx2 && dw2;
  ok = ok && k->layer_norm(y, m, is, in[0], R, D, in[4], in[5], 1e-5) == SG_OK;
  ok = ok && k->layer_norm_backward(dx, dw, db, in[1], in[0], in[2], in[3], in[4], R, D) == SG_OK;
  ok = ok && k->layer_norm_backward(dx2, NULL, NULL, in[1], in[0], in[2], in[3], in[4], R, D) == SG_OK;
  ok = ok && k->layer_norm_backward(NULL, dw2, NULL, in[1], in[0], in[2], in[3], in[4], R, D) == SG_OK;
  return ok ? bo_cat_flat(8, o) : (sg_release_all(o, 8), NULL);
}

/* empty groups / rows fail as on the CPU */
static sg_tensor *f_norm_empty(sg_tensor **in, int n, void *ctx) {
  (void)n;
  bool layer = *(const bool *)ctx;
  sg_device d = dev_of(in[0]);
  const struct sg_norm_kernels *k = sg_backend_for(d)->norm;
  sg_tensor *e = sg_empty(SHAPE(0, 3, 4), 3, SG_FLOAT32, d), *m = sg_empty(SHAPE(3), 1, SG_FLOAT32, d);
  sg_status s = !e || !m ? SG_ERR_MEM
                : layer  ? k->layer_norm(e, m, m, e, 3, 0, NULL, NULL, 1e-5)
                         : k->moments(m, m, e, 0, 3, 4);
  sg_release(e);
  sg_release(m);
  return s == SG_OK ? sg_zeros(SHAPE(1), 1, SG_FLOAT32, d) : NULL;
}

static void norm_slot_case(sg_dtype dt, int64_t A, int64_t G, int64_t B, int64_t C, bool affine,
                           bool layer) {
  char name[160];
  snprintf(name, sizeof name, "%s slots %lld %lld %lld %s%s", layer ? "layer_norm" : "norm",
           (long long)A, (long long)G, (long long)B, sg_dtype_name(dt), affine ? " affine" : "");
  bo_case *c = nn_case(name, layer ? f_layer_norm_slots : f_norm_slots, 0, tol32(dt, 1e-5));
  ns_ctx n = {A, G, B, C, affine};
  BO_CTX(c, n);
  int64_t rows = layer ? A : G, cols = layer ? B : C;
  const int64_t *xs = layer ? SHAPE(A, B) : SHAPE(A, G, B);
  int nd = layer ? 2 : 3;
  bo_uniform(c, 81, dt, -2, 3, nd, xs);
  bo_uniform(c, 82, dt, -1, 1, nd, xs);
  bo_uniform(c, 84, dt, -1, 1, 1, SHAPE(rows));   /* mean */
  bo_uniform(c, 85, dt, 0.5, 2, 1, SHAPE(rows));  /* invstd */
  if (affine) {
    bo_uniform(c, 83, dt, 0.5, 1.5, 1, SHAPE(cols));
    bo_uniform(c, 86, dt, -1, 1, 1, SHAPE(cols));
  } else {
    bo_in(c, BO_ABSENT, dt, 0, NULL);
    bo_in(c, BO_ABSENT, dt, 0, NULL);
  }
  if (layer) BO_SLOTS(c, SLOT(norm, layer_norm), SLOT(norm, layer_norm_backward));
  else BO_SLOTS(c, SLOT(norm, moments), SLOT(norm, normalize), SLOT(norm, normalize_backward));
}

typedef struct bn_ctx {
  bool training;
  int act; /* -1: sg_batch_norm; else sg_batch_norm_act with this sg_activation */
  int64_t nshape[3];
  int nn;
} bn_ctx;

/* batch norm with running statistics (in[3], in[4], updated in place on
 * each device): the output, then the running statistics */
static sg_tensor *f_batch_norm(sg_tensor **in, int n, void *vctx) {
  (void)n;
  const bn_ctx *c = vctx;
  sg_tensor *y = c->act < 0 ? sg_batch_norm(in[0], in[3], in[4], in[1], in[2], c->training, 0.1, 1e-5)
                            : sg_batch_norm_act(in[0], in[3], in[4], in[1], in[2], c->training,
                                                0.1, 1e-5, (sg_activation)c->act, 0.2);
  if (!y) return NULL;
  return bo_cat_flat(3, (sg_tensor *[]){y, sg_detach(in[3]), sg_detach(in[4])});
}
static sg_tensor *f_instance_norm(sg_tensor **in, int n, void *vctx) {
  (void)n;
  (void)vctx;
  return sg_instance_norm(in[0], NULL, NULL, in[1], in[2], true, 0.1, 1e-5);
}
static sg_tensor *f_layer_norm(sg_tensor **in, int n, void *vctx) {
  (void)n;
  const bn_ctx *c = vctx;
  return sg_layer_norm(in[0], c->nshape, c->nn, in[1], in[2], 1e-5);
}

static void register_norm(void) {
  for (int k = 0; k < 2; k++) {
    sg_dtype dt = F32_F64[k];
    norm_slot_case(dt, 4, 3, 17, 3, true, false);    /* batch norm 2d */
    norm_slot_case(dt, 8, 5, 1, 5, false, false);    /* batch norm 1d (B = 1) */
    norm_slot_case(dt, 1, 6, 50, 3, true, false);    /* instance norm: G = N*C, C = 3 */
    norm_slot_case(dt, 3, 2, 70001, 2, true, false); /* large groups: many chunks each */
    norm_slot_case(dt, 2, 1, 5, 1, false, false);    /* one group */
    norm_slot_case(dt, 5, 0, 7, 0, true, true);      /* layer norm R = 5, D = 7 */
    norm_slot_case(dt, 3, 0, 1000, 0, false, true);
    norm_slot_case(dt, 700, 0, 33, 0, true, true); /* many rows: dw/db split over chunks */
    norm_slot_case(dt, 1, 0, 1, 0, true, true);
  }
  for (int layer = 0; layer < 2; layer++) {
    bo_case *c = nn_case(layer ? "layer_norm slot: empty rows" : "norm moments slot: empty groups",
                         f_norm_empty, 0, 0);
    bool l = layer == 1;
    BO_CTX(c, l);
    bo_uniform(c, 1, SG_FLOAT32, 0, 1, 1, SHAPE(1));
    c->error = layer ? "layer_norm: empty rows" : "norm moments: empty groups";
    BO_SLOTS(c, layer ? SLOT(norm, layer_norm) : SLOT(norm, moments));
  }
  char name[160];
  for (int k = 0; k < 2; k++) {
    sg_dtype dt = F32_F64[k];
    const double tol = tol32(dt, 1e-4);
    for (int four = 0; four < 2; four++) {
      const int64_t *xs = four ? SHAPE(3, 4, 5, 7) : SHAPE(6, 4);
      int nd = four ? 4 : 2;
      /* training (running statistics updated alike, with PyTorch's unbiased
       * variance), eval, and training fused with relu / leaky_relu */
      for (int mode = 0; mode < 4; mode++) {
        bn_ctx b = {mode != 1, mode < 2 ? -1 : (mode == 2 ? SG_ACT_RELU : SG_ACT_LEAKY_RELU), {0}, 0};
        static const char *modes[4] = {"training", "eval", "act relu", "act leaky_relu"};
        snprintf(name, sizeof name, "batch_norm %s %dd %s", modes[mode], nd, sg_dtype_name(dt));
        bo_case *c = nn_case(name, f_batch_norm, mode == 0 ? 2 : 1, tol);
        BO_CTX(c, b);
        bo_uniform(c, 101, dt, -2, 3, nd, xs);
        bo_uniform(c, 102, dt, 0.5, 1.5, 1, SHAPE(4));
        bo_uniform(c, 103, dt, -1, 1, 1, SHAPE(4));
        bo_uniform(c, 104, dt, -1, 1, 1, SHAPE(4))->nograd = true;
        bo_uniform(c, 105, dt, 0.5, 2, 1, SHAPE(4))->nograd = true;
        if (mode >= 2)
          BO_SLOTS(c, SLOT(norm, normalize_act), SLOT(norm, normalize_act_backward), SLOT(norm, moments));
        else
          BO_SLOTS(c, SLOT(norm, moments), SLOT(norm, normalize), SLOT(norm, normalize_backward));
      }
    }
    snprintf(name, sizeof name, "instance_norm %s", sg_dtype_name(dt));
    bo_case *c = nn_case(name, f_instance_norm, 2, tol);
    bo_uniform(c, 106, dt, -2, 3, 4, SHAPE(2, 3, 6, 5));
    bo_uniform(c, 107, dt, 0.5, 1.5, 1, SHAPE(3));
    bo_uniform(c, 108, dt, -1, 1, 1, SHAPE(3));
    BO_SLOTS(c, SLOT(norm, moments), SLOT(norm, normalize), SLOT(norm, normalize_backward));
    for (int affine = 1; affine >= 0; affine--) {
      bn_ctx b = {false, -1, {5, 6}, 2};
      snprintf(name, sizeof name, "layer_norm%s %s", affine ? "" : " no affine", sg_dtype_name(dt));
      c = nn_case(name, f_layer_norm, affine ? 2 : 1, tol);
      BO_CTX(c, b);
      bo_uniform(c, 109, dt, -2, 3, 3, SHAPE(4, 5, 6));
      if (affine) {
        bo_uniform(c, 110, dt, 0.5, 1.5, 2, SHAPE(5, 6));
        bo_uniform(c, 111, dt, -1, 1, 2, SHAPE(5, 6));
      } else {
        bo_in(c, BO_ABSENT, dt, 0, NULL);
        bo_in(c, BO_ABSENT, dt, 0, NULL);
      }
      BO_SLOTS(c, SLOT(norm, layer_norm), SLOT(norm, layer_norm_backward));
    }
  }
}

/* ======================= linalg ======================= */

typedef struct la_ctx {
  int op; /* see f_linalg */
  int64_t offset;
} la_ctx;

/* eigh of the symmetric part (X + X^T) / 2: the eigenvalues, or the squared
 * eigenvectors (invariant under the sign of each column, which cuSOLVER
 * and LAPACK may choose differently) */
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

enum { LA_CHOL_L, LA_CHOL_U, LA_INV, LA_LOGDET, LA_SOLVE, LA_SOLVE_SEL, LA_EIGH_VALS, LA_EIGH_VECS,
       LA_SLOGDET, LA_SLOGDET_SIGN, LA_DIAGONAL, LA_TRACE, LA_EIGH_RAW };

static sg_tensor *f_linalg(sg_tensor **in, int n, void *vctx) {
  (void)n;
  const la_ctx *c = vctx;
  switch (c->op) {
  case LA_CHOL_L: return sg_cholesky(in[0], false);
  case LA_CHOL_U: return sg_cholesky(in[0], true);
  case LA_INV: return sg_inv(in[0]);
  case LA_LOGDET: return sg_logdet(in[0]);
  case LA_SOLVE: return sg_solve(in[0], in[1]);
  case LA_SOLVE_SEL: { /* a single matrix broadcast over b's batch */
    sg_tensor *a = sg_select(in[0], 0, 1);
    sg_tensor *y = a ? sg_solve(a, in[1]) : NULL;
    sg_release(a);
    return y;
  }
  case LA_EIGH_VALS: return eigh_sym(in[0], false);
  case LA_EIGH_VECS: return eigh_sym(in[0], true);
  case LA_SLOGDET:
  case LA_SLOGDET_SIGN: {
    sg_tensor *s = NULL, *l = NULL;
    if (sg_slogdet(in[0], &s, &l) != SG_OK) return NULL;
    bool sign = c->op == LA_SLOGDET_SIGN;
    sg_release(sign ? l : s);
    return sign ? s : l;
  }
  case LA_DIAGONAL: return sg_diagonal(in[0], c->offset);
  case LA_TRACE: return sg_trace(in[0]);
  default: {
    sg_tensor *L = NULL, *V = NULL;
    if (sg_eigh(in[0], &L, &V) != SG_OK) return NULL;
    sg_release(V);
    return L;
  }
  }
}

static bo_case *la_case(const char *label, int op, int level, double tol, sg_dtype dt, int64_t n,
                        const bo_slot *slot) {
  char name[120];
  snprintf(name, sizeof name, "%s n=%lld %s", label, (long long)n, sg_dtype_name(dt));
  bo_case *c = nn_case(name, f_linalg, level, tol);
  la_ctx l = {op, 0};
  BO_CTX(c, l);
  if (slot) bo_slots(c, 1, slot);
  return c;
}

static bo_input *square_in(bo_case *c, bo_kind kind, uint64_t seed, sg_dtype dt, int64_t batch,
                           int64_t n) {
  bo_input *in = bo_in(c, kind, dt, 3, SHAPE(batch, n, n)); /* the builder reads batch, n */
  in->seed = seed;
  return in;
}

static void register_linalg(void) {
  const bo_slot chol = SLOT(linalg, cholesky), inv = SLOT(linalg, inv),
                       logdet = SLOT(linalg, logdet), solve = SLOT(linalg, solve),
                       eigh = SLOT(linalg, eigh), slogdet = SLOT(linalg, slogdet),
                       diag = SLOT(sum, sum);
  for (int k = 0; k < 2; k++) {
    sg_dtype dt = F32_F64[k];
    const double tol = tol32(dt, 1e-4);
    static const int64_t sizes[3] = {1, 5, 33};
    for (int s = 0; s < 3; s++) {
      int64_t n = sizes[s];
      bo_case *c = la_case("cholesky lower", LA_CHOL_L, 1, tol, dt, n, &chol);
      square_in(c, BO_SPD, 121 + (uint64_t)s, dt, 3, n);
      c = la_case("cholesky upper", LA_CHOL_U, 1, tol, dt, n, &chol);
      square_in(c, BO_SPD, 121 + (uint64_t)s, dt, 3, n);
      c = la_case("logdet spd", LA_LOGDET, 1, tol, dt, n, &logdet);
      square_in(c, BO_SPD, 121 + (uint64_t)s, dt, 3, n);
      c = la_case("inv", LA_INV, 1, tol, dt, n, &inv);
      square_in(c, BO_GENERAL, 131 + (uint64_t)s, dt, 2, n);
      c = la_case("logdet general", LA_LOGDET, 1, tol, dt, n, &logdet);
      square_in(c, BO_GENERAL, 131 + (uint64_t)s, dt, 2, n);
      /* solve: k = 1 (vector), k = 4, a broadcast over b's batch */
      c = la_case("solve vector rhs", LA_SOLVE, 1, tol, dt, n, &solve);
      square_in(c, BO_GENERAL, 131 + (uint64_t)s, dt, 2, n);
      bo_uniform(c, 141, dt, -1, 1, 2, SHAPE(2, n));
      c = la_case("solve k=4", LA_SOLVE, 1, tol, dt, n, &solve);
      square_in(c, BO_GENERAL, 131 + (uint64_t)s, dt, 2, n);
      bo_uniform(c, 142, dt, -1, 1, 3, SHAPE(2, n, 4));
      c = la_case("solve broadcast a", LA_SOLVE_SEL, 1, tol, dt, n, &solve);
      square_in(c, BO_GENERAL, 131 + (uint64_t)s, dt, 2, n);
      bo_uniform(c, 143, dt, -1, 1, 4, SHAPE(3, 2, n, 3));
      /* slogdet: log |det| with its gradient, the sign (no gradient) */
      c = la_case("slogdet", LA_SLOGDET, 1, tol, dt, n, &slogdet);
      square_in(c, BO_GENERAL, 131 + (uint64_t)s, dt, 2, n);
      c = la_case("slogdet sign", LA_SLOGDET_SIGN, 0, 0, dt, n, &slogdet);
      square_in(c, BO_GENERAL, 131 + (uint64_t)s, dt, 2, n);
      /* eigh: values and squared vectors with gradients (float32 vector
       * gradients only for small n: they scale with 1 / (L[i] - L[j])) */
      c = la_case("eigh values", LA_EIGH_VALS, 1, tol, dt, n, &eigh);
      bo_uniform(c, 151 + (uint64_t)s, dt, -1, 1, 3, SHAPE(3, n, n));
      double vt = dt == SG_FLOAT64 ? 1e-8 : 1e-3;
      c = la_case("eigh vectors^2", LA_EIGH_VECS, dt == SG_FLOAT64 || n <= 5 ? 1 : 0, vt, dt, n,
                  &eigh);
      bo_uniform(c, 151 + (uint64_t)s, dt, -1, 1, 3, SHAPE(3, n, n));
      /* diagonal (a view) and trace: composite */
      static const int64_t offs[3] = {0, 2, -1};
      for (int o = 0; o < 3; o++) {
        char label[40];
        snprintf(label, sizeof label, "diagonal offset %lld", (long long)offs[o]);
        c = la_case(label, LA_DIAGONAL, 1, tol, dt, n, &diag);
        ((la_ctx *)(void *)c->ctx)->offset = offs[o];
        bo_uniform(c, 161 + (uint64_t)s, dt, -1, 1, 3, SHAPE(2, n, n + 2));
      }
      c = la_case("trace", LA_TRACE, 1, tol, dt, n, &diag);
      bo_uniform(c, 161 + (uint64_t)s, dt, -1, 1, 3, SHAPE(2, n, n + 2));
    }
    /* eigh rejects NaN / Inf alike on both devices */
    static const double nan_m[] = {1, 0, 0, 1, 1, NAN, 0, 1};
    bo_case *c = la_case("eigh with NaN", LA_EIGH_RAW, 0, 0, dt, 2, &eigh);
    bo_in(c, BO_VALUES, dt, 3, SHAPE(2, 2, 2))->values = nan_m;
    c->error = "eigh: input contains NaN or Inf (batch element 1)";
    /* determinants with a sign and zero: NaN and -inf as the CPU */
    static const double signs[] = {0, 1, 1, 0, /* det -1 */ 1, 2, 2, 4, /* det 0 */ 2, 1, 1, 3};
    c = la_case("logdet signs", LA_LOGDET, 0, tol, dt, 2, &logdet);
    bo_in(c, BO_VALUES, dt, 3, SHAPE(3, 2, 2))->values = signs;
    /* singular and non positive definite matrices fail alike */
    c = la_case("inv singular", LA_INV, 0, 0, dt, 2, &inv);
    bo_in(c, BO_VALUES, dt, 3, SHAPE(1, 2, 2))->values = signs + 4;
    c->error = "inv";
    c = la_case("cholesky not positive definite", LA_CHOL_L, 0, 0, dt, 2, &chol);
    bo_in(c, BO_VALUES, dt, 3, SHAPE(3, 2, 2))->values = signs;
    c->error = "cholesky";
  }
}

/* ======================= optim ======================= */

/* one fused Adam step on copies of p, m, v; returns p, m, v after it */
static sg_tensor *f_adam(sg_tensor **in, int n, void *ctx) {
  (void)n;
  sg_tensor *p = sg_clone(in[0]), *m = sg_clone(in[2]), *v = sg_clone(in[3]);
  bool ok = p && m && v && sg_adam_step_(p, in[1], m, v, ctx) == SG_OK;
  sg_tensor *o[3] = {p, m, v};
  return ok ? bo_cat_flat(3, o) : (sg_release_all(o, 3), NULL);
}

static void register_optim(void) {
  char name[120];
  for (int k = 0; k < 2; k++)
    for (int variant = 0; variant < 3; variant++) {
      sg_dtype dt = F32_F64[k];
      sg_adam_opts o = {1e-3, 0.9, 0.999, 1e-8, variant ? 0.01 : 0, 3, variant == 1, variant == 2};
      static const char *vn[3] = {"adam", "adamw", "adam weight decay maximize"};
      snprintf(name, sizeof name, "%s step %s", vn[variant], sg_dtype_name(dt));
      bo_case *c = nn_case(name, f_adam, 0, tol32(dt, 1e-6));
      BO_CTX(c, o);
      bo_uniform(c, 171, dt, -1, 1, 2, SHAPE(33, 65));
      bo_uniform(c, 172, dt, -1, 1, 2, SHAPE(33, 65));
      bo_uniform(c, 173, dt, -0.1, 0.1, 2, SHAPE(33, 65));
      bo_uniform(c, 174, dt, 0, 0.01, 2, SHAPE(33, 65));
      BO_SLOTS(c, SLOT(optim, adam_step));
    }
}

void bo_register_nn(void) {
  register_blas();
  register_conv();
  register_norm();
  register_linalg();
  register_optim();
}
