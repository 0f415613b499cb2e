/* Cases of the elementwise, sum and reduce families and of the backend's
 * copy and fill (from the former test_cuda.c). */
#include <string.h>

#include "backend_ops.h"

/* Tolerances of these families: float64 1e-12, float32 2e-5. */
static double te(sg_dtype dt) { return dt == SG_FLOAT64 ? 1e-12 : 2e-5; }
static sg_device dev_of(const sg_tensor *t) { return t->storage->device; }

static const sg_dtype ALL5[5] = {SG_FLOAT32, SG_FLOAT64, SG_INT64, SG_UINT8, SG_BOOL};

/* ======================= copy and fill ======================= */

static sg_tensor *f_clone(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  return sg_clone(in[0]); /* device -> device; the runner moves host <-> device */
}

static sg_tensor *f_contig(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  sg_tensor *t = sg_transpose(in[0], 0, 2);
  sg_tensor *c = t ? sg_contiguous(t) : NULL;
  sg_release(t);
  return c;
}

static sg_tensor *f_narrow(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  sg_tensor *v = sg_narrow(in[0], 1, 1, 3);
  sg_tensor *c = v ? sg_contiguous(v) : NULL;
  sg_release(v);
  return c;
}

/* a strided host view copied to the device */
static sg_tensor *f_strided_up(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  sg_tensor *h = sg_to_device(in[0], sg_cpu_device());
  sg_tensor *ht = h ? sg_transpose(h, 0, 2) : NULL;
  sg_tensor *r = ht ? sg_to_device(ht, dev_of(in[0])) : NULL;
  sg_release_all((sg_tensor *[]){h, ht}, 2);
  return r;
}

/* dtype conversions: on the device, host -> device into another dtype,
 * device -> a strided host destination of another dtype */
static sg_tensor *f_convert(sg_tensor **in, int n, void *ctx) {
  (void)n;
  sg_dtype dt = *(const sg_dtype *)ctx;
  sg_tensor *x = in[0];
  sg_tensor *on_dev = sg_to_dtype(x, dt);
  sg_tensor *h = sg_to_device(x, sg_cpu_device());
  sg_tensor *up = sg_empty(x->shape, x->ndim, dt, dev_of(x));
  bool ok = h && up && sg_copy_(up, h) == SG_OK;
  sg_tensor *hb = sg_zeros((const int64_t[]){x->shape[2], x->shape[1], x->shape[0]}, 3, dt,
                           sg_cpu_device());
  sg_tensor *hv = hb ? sg_transpose(hb, 0, 2) : NULL;
  ok = ok && hv && sg_copy_(hv, x) == SG_OK;
  sg_tensor *down = ok ? sg_to_device(hv, dev_of(x)) : NULL;
  sg_release_all((sg_tensor *[]){h, hb, hv}, 3);
  sg_tensor *parts[3] = {on_dev, ok ? up : NULL, down};
  if (!ok) sg_release(up);
  return ok && on_dev ? bo_cat_flat(3, parts) : (sg_release_all(parts, 3), NULL);
}

/* broadcast copies: a host row into every row of a device matrix, a device
 * scalar into a host matrix */
static sg_tensor *f_broadcast_copy(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  sg_device d = dev_of(in[0]);
  sg_tensor *row = sg_to_device(in[0], sg_cpu_device());
  sg_tensor *m = sg_empty((const int64_t[]){5, 6}, 2, SG_FLOAT32, d);
  bool ok = row && m && sg_copy_(m, row) == SG_OK;
  sg_tensor *s = sg_scalar_tensor(2.5, SG_FLOAT32, d);
  sg_tensor *hm = sg_empty((const int64_t[]){5, 6}, 2, SG_FLOAT32, sg_cpu_device());
  ok = ok && s && hm && sg_copy_(hm, s) == SG_OK;
  sg_tensor *hd = ok ? sg_to_device(hm, d) : NULL;
  sg_release_all((sg_tensor *[]){row, s, hm}, 3);
  if (!ok) {
    sg_release(m);
    return NULL;
  }
  return bo_cat_flat(2, (sg_tensor *[]){m, hd});
}

/* single elements and items read from a device view (core paths) */
static sg_tensor *f_elements(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  sg_tensor *sel = sg_select(in[0], 1, 2);
  if (!sel) return NULL;
  double v[32];
  int m = 0;
  for (int64_t i = 0; i < sg_numel(sel) && m < 31; i += 5) v[m++] = sg_get_flat(sel, i);
  sg_tensor *one = sg_narrow(sel, 0, 3, 1);
  sg_tensor *one1 = one ? sg_narrow(one, 1, 4, 1) : NULL;
  bool ok = one1 && sg_item(one1, &v[m++]) == SG_OK;
  sg_release_all((sg_tensor *[]){sel, one, one1}, 3);
  sg_tensor *h = ok ? tt_from(SG_FLOAT64, v, 1, (const int64_t[]){m}) : NULL;
  sg_tensor *r = h ? sg_to_device(h, dev_of(in[0])) : NULL;
  sg_release(h);
  return r;
}

typedef struct fill_ctx {
  sg_dtype dt;
  double value;
} fill_ctx;

/* full, zeros (the memset path) and a strided fill (every other column) */
static sg_tensor *f_fill(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const fill_ctx *c = ctx;
  sg_device d = dev_of(in[0]);
  sg_tensor *full = sg_full((const int64_t[]){3, 1001}, 2, c->value, c->dt, d);
  sg_tensor *zeros = sg_zeros((const int64_t[]){3, 1001}, 2, c->dt, d);
  sg_tensor *v = zeros ? sg_transpose(zeros, 0, 1) : NULL;
  sg_tensor *vn = v ? sg_narrow(v, 0, 10, 500) : NULL;
  bool ok = full && vn && sg_fill_(vn, -2) == SG_OK;
  sg_release_all((sg_tensor *[]){v, vn}, 2);
  if (!ok) {
    sg_release_all((sg_tensor *[]){full, zeros}, 2);
    return NULL;
  }
  return bo_cat_flat(2, (sg_tensor *[]){full, zeros});
}

static void register_copy_fill(void) {
  char name[120];
  static const int64_t sizes[] = {0, 1, 7, 1000, 300001, 1 << 20};
  for (int i = 0; i < 5; i++)
    for (int k = 0; k < 6; k++) {
      snprintf(name, sizeof name, "copy round trip %s n=%lld", sg_dtype_name(ALL5[i]),
               (long long)sizes[k]);
      bo_case *c = bo_new(name, f_clone, 0);
      bo_input *x = bo_uniform(c, (uint64_t)k + 1, ALL5[i], -100, 100, 1, &sizes[k]);
      if (ALL5[i] == SG_BOOL) x->kind = BO_BOOL;
      c->exact = true;
      BO_SLOTS(c, BACKEND_SLOT(copy));
    }
  /* a large upload in several staging chunks (4 MB each) with an odd tail */
  bo_case *c = bo_new("copy 12 MB upload", f_clone, 0);
  bo_uniform(c, 9, SG_FLOAT32, -1, 1, 1, SHAPE((int64_t)3 * 1024 * 1024 + 5));
  c->exact = true;
  BO_SLOTS(c, BACKEND_SLOT(copy));
  c = bo_new("copy contiguous of a transpose", f_contig, 0);
  bo_uniform(c, 3, SG_FLOAT32, -5, 5, 3, SHAPE(4, 5, 6));
  c->exact = true;
  BO_SLOTS(c, BACKEND_SLOT(copy));
  c = bo_new("copy strided host view -> device", f_strided_up, 0);
  bo_uniform(c, 3, SG_FLOAT32, -5, 5, 3, SHAPE(4, 5, 6));
  c->exact = true;
  BO_SLOTS(c, BACKEND_SLOT(copy));
  c = bo_new("copy narrow", f_narrow, 0);
  bo_uniform(c, 3, SG_FLOAT32, -5, 5, 3, SHAPE(4, 5, 6));
  c->exact = true;
  BO_SLOTS(c, BACKEND_SLOT(copy));
  for (int i = 0; i < 5; i++) {
    snprintf(name, sizeof name, "copy converting float32 -> %s", sg_dtype_name(ALL5[i]));
    c = bo_new(name, f_convert, 0);
    BO_CTX(c, ALL5[i]);
    bo_uniform(c, 3, SG_FLOAT32, -5, 5, 3, SHAPE(4, 5, 6));
    c->exact = true;
    BO_SLOTS(c, BACKEND_SLOT(copy));
  }
  c = bo_new("copy broadcast row / scalar", f_broadcast_copy, 0);
  bo_uniform(c, 4, SG_FLOAT64, 0, 1, 1, SHAPE(6));
  BO_SLOTS(c, BACKEND_SLOT(copy));
  c = bo_new("copy single elements and item", f_elements, 0);
  bo_uniform(c, 3, SG_FLOAT32, -5, 5, 3, SHAPE(4, 5, 6));
  c->exact = true;
  BO_SLOTS(c, BACKEND_SLOT(copy));
  for (int i = 0; i < 5; i++) {
    snprintf(name, sizeof name, "fill %s", sg_dtype_name(ALL5[i]));
    c = bo_new(name, f_fill, 0);
    fill_ctx f = {ALL5[i], 7.0};
    BO_CTX(c, f);
    bo_uniform(c, 1, SG_FLOAT32, 0, 1, 1, SHAPE(1)); /* names the device */
    c->exact = true;
    BO_SLOTS(c, BACKEND_SLOT(fill));
  }
  /* -0.0 keeps its sign (not the memset path): compared bit for bit */
  c = bo_new("fill -0.0", f_fill, 0);
  fill_ctx f = {SG_FLOAT32, -0.0};
  BO_CTX(c, f);
  bo_uniform(c, 1, SG_FLOAT32, 0, 1, 1, SHAPE(1));
  c->exact = true;
  BO_SLOTS(c, BACKEND_SLOT(fill));
}

/* ======================= elementwise ======================= */

static sg_tensor *f_unary(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_unary(*(const sg_unary_op *)ctx, in[0]);
}
static sg_tensor *f_binary(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_binary(*(const sg_binary_op *)ctx, in[0], in[1]);
}
static sg_tensor *f_where(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  return sg_where(in[2], in[0], in[1]);
}
static sg_tensor *f_masked_fill(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  return sg_masked_fill(in[0], in[1], -7);
}
static sg_tensor *f_leaky(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_leaky_relu(in[0], *(const double *)ctx);
}
static sg_tensor *f_clamp(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const double *b = ctx;
  return sg_clamp(in[0], b[0], b[1]);
}

static const char *unary_name(sg_unary_op op) {
  static const char *names[SG_UNARY_COUNT] = {
      "neg",   "abs",   "sign",     "exp",   "log",  "sqrt",  "rsqrt",       "sin",
      "cos",   "tanh",  "sigmoid",  "relu",  "reciprocal", "square", "log1p", "expm1",
      "softplus", "floor", "ceil", "round", "logical_not", "erf"};
  return names[op];
}

static const char *binary_name(sg_binary_op op) {
  static const char *names[SG_BINARY_COUNT] = {"add", "sub", "mul", "div", "pow",
                                               "maximum", "minimum", "eq", "ne", "lt",
                                               "le", "gt", "ge", "logical_and", "logical_or"};
  return names[op];
}

static void register_unary(void) {
  char name[120];
  static const sg_dtype fdts[] = {SG_FLOAT32, SG_FLOAT64};
  for (int d = 0; d < 2; d++) {
    sg_dtype dt = fdts[d];
    for (int op = 0; op < SG_UNARY_COUNT; op++) {
      sg_unary_op u = (sg_unary_op)op;
      if (u == SG_ERF) continue; /* CPU only: test_cuda_runtime checks the CUDA error */
      bool positive = u == SG_LOG || u == SG_SQRT || u == SG_RSQRT || u == SG_LOG1P;
      double lo = positive ? 0.2 : -3, hi = 3;
      if (u == SG_RECIPROCAL) lo = 0.5;
      /* non-differentiable or piecewise-constant ops: forward only */
      bool grad = !(u == SG_SIGN || u == SG_FLOOR || u == SG_CEIL || u == SG_ROUND ||
                    u == SG_LOGICAL_NOT);
      /* contiguous (vector path, with a tail), then a transposed view (strided) */
      snprintf(name, sizeof name, "%s %s contiguous", unary_name(u), sg_dtype_name(dt));
      bo_case *c = bo_new(name, f_unary, grad ? 2 : 0);
      BO_CTX(c, u);
      bo_uniform(c, 10 + (uint64_t)op, dt, lo, hi, 1, SHAPE(1003));
      bo_tol(c, te(dt), te(dt), 10, 100);
      BO_SLOTS(c, SLOT(elementwise, unary));
      if (u == SG_RELU) BO_SLOTS(c, SLOT(elementwise, leaky_relu_backward));
      snprintf(name, sizeof name, "%s %s strided", unary_name(u), sg_dtype_name(dt));
      c = bo_new(name, f_unary, grad ? 1 : 0);
      BO_CTX(c, u);
      bo_uniform(c, 20 + (uint64_t)op, dt, lo, hi, 2, SHAPE(17, 33))->transpose = true;
      bo_tol(c, te(dt), te(dt), 10, 100);
      BO_SLOTS(c, SLOT(elementwise, unary));
    }
  }
  /* integer and bool dtypes: the ops defined there */
  static const sg_unary_op iops[] = {SG_NEG,         SG_ABS,   SG_SIGN, SG_RELU, SG_SQUARE,
                                     SG_LOGICAL_NOT, SG_FLOOR, SG_CEIL, SG_ROUND};
  static const sg_dtype idts[] = {SG_INT64, SG_UINT8};
  for (int d = 0; d < 2; d++)
    for (size_t k = 0; k < sizeof iops / sizeof iops[0]; k++) {
      snprintf(name, sizeof name, "%s %s", unary_name(iops[k]), sg_dtype_name(idts[d]));
      bo_case *c = bo_new(name, f_unary, 0);
      BO_CTX(c, iops[k]);
      bo_uniform(c, 30 + k, idts[d], idts[d] == SG_UINT8 ? 0 : -50, 50, 2, SHAPE(9, 101));
      c->exact = true;
      BO_SLOTS(c, SLOT(elementwise, unary));
    }
  bo_case *c = bo_new("logical_not bool", f_unary, 0);
  sg_unary_op nt = SG_LOGICAL_NOT;
  BO_CTX(c, nt);
  bo_in(c, BO_BOOL, SG_BOOL, 2, SHAPE(9, 101))->seed = 5;
  c->exact = true;
  BO_SLOTS(c, SLOT(elementwise, unary));
}

static void register_binary(void) {
  /* shapes: same-size contiguous (vector path + tail), broadcasting on both
   * sides, a scalar operand, and a transposed operand */
  static const struct {
    int na, nb;
    int64_t sa[3], sb[3];
    bool transpose_a;
  } shapes[] = {
      {1, 1, {1001}, {1001}, false}, {3, 2, {4, 1, 5}, {3, 1}, false},
      {2, 0, {33, 17}, {0}, false},  {0, 2, {0}, {33, 17}, false},
      {2, 2, {17, 33}, {33, 17}, true}, /* a transposed on the device */
  };
  char name[120];
  for (int op = 0; op < SG_BINARY_COUNT; op++) {
    sg_binary_op bop = (sg_binary_op)op;
    for (int d = 0; d < 5; d++) {
      sg_dtype dt = ALL5[d];
      bool fl = sg_dtype_is_float(dt);
      if (dt == SG_BOOL && bop == SG_SUB) continue; /* an error on both devices */
      for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        double lo = bop == SG_POW ? (fl ? 0.5 : 0) : (dt == SG_UINT8 ? 0 : -4);
        double hi = bop == SG_POW ? (fl ? 2 : 4) : 4;
        /* maximum/minimum gradients are ambiguous only at ties, which random
         * floats avoid; comparisons have no gradient */
        bool grad = fl && bop <= SG_MINIMUM;
        snprintf(name, sizeof name, "%s %s shapes %d", binary_name(bop), sg_dtype_name(dt), (int)s);
        bo_case *c = bo_new(name, f_binary, grad ? 1 : 0);
        BO_CTX(c, bop);
        bo_input *a = bo_uniform(c, 40 + (uint64_t)op, dt, lo, hi, shapes[s].na, shapes[s].sa);
        /* keep integer divisors non-zero: [1, 9) */
        bool nonzero = bop == SG_DIV && !fl;
        bo_input *b = bo_uniform(c, 60 + (uint64_t)op, dt, nonzero ? (dt == SG_UINT8 ? 5 : 1) : lo,
                                 nonzero ? 9 : hi, shapes[s].nb, shapes[s].sb);
        if (dt == SG_BOOL) a->kind = b->kind = BO_BOOL;
        a->transpose = shapes[s].transpose_a;
        double tol = fl ? te(dt) : 0;
        if (bop == SG_POW && dt == SG_FLOAT32) tol = 1e-4;
        bo_tol(c, tol, tol, 10, 100);
        c->exact = !fl;
        BO_SLOTS(c, SLOT(elementwise, binary));
      }
    }
  }
  /* NaN propagates through maximum/minimum on both devices */
  static const double av[] = {1, NAN, 3, -1}, bv[] = {NAN, 2, 1, -2};
  static const sg_binary_op mm[2] = {SG_MAXIMUM, SG_MINIMUM};
  for (int i = 0; i < 2; i++) {
    snprintf(name, sizeof name, "%s with NaN", binary_name(mm[i]));
    bo_case *c = bo_new(name, f_binary, 0);
    BO_CTX(c, mm[i]);
    bo_in(c, BO_VALUES, SG_FLOAT32, 1, SHAPE(4))->values = av;
    bo_in(c, BO_VALUES, SG_FLOAT32, 1, SHAPE(4))->values = bv;
    BO_SLOTS(c, SLOT(elementwise, binary));
  }
}

static void register_where_leaky_clamp(void) {
  char name[120];
  /* where: cond broadcast over columns, a over rows; values and gradients */
  static const sg_dtype dts[] = {SG_FLOAT32, SG_FLOAT64, SG_INT64, SG_UINT8, SG_BOOL};
  for (int i = 0; i < 5; i++) {
    bool fl = sg_dtype_is_float(dts[i]);
    snprintf(name, sizeof name, "where %s", sg_dtype_name(dts[i]));
    bo_case *c = bo_new(name, f_where, fl ? 1 : 0);
    bo_input *a = bo_uniform(c, 8, dts[i], fl ? -1 : -5, 5, 2, SHAPE(1, 6));
    bo_input *b = bo_uniform(c, 9, dts[i], fl ? -1 : -5, 5, 2, SHAPE(5, 6));
    if (dts[i] == SG_UINT8) a->lo = b->lo = 0;
    if (dts[i] == SG_BOOL) a->kind = b->kind = BO_BOOL;
    bo_in(c, BO_BOOL, SG_BOOL, 2, SHAPE(5, 1))->seed = 7;
    c->exact = true;
    BO_SLOTS(c, SLOT(elementwise, where));
  }
  /* a non-contiguous operand on the device */
  bo_case *c = bo_new("where strided", f_where, 1);
  bo_uniform(c, 10, SG_FLOAT32, -1, 1, 2, SHAPE(6, 5))->transpose = true;
  bo_uniform(c, 14, SG_FLOAT32, -1, 1, 2, SHAPE(5, 6));
  bo_in(c, BO_BOOL, SG_BOOL, 2, SHAPE(5, 1))->seed = 7;
  BO_SLOTS(c, SLOT(elementwise, where));
  c = bo_new("masked_fill", f_masked_fill, 1);
  bo_uniform(c, 9, SG_FLOAT32, -1, 1, 2, SHAPE(5, 6));
  bo_in(c, BO_BOOL, SG_BOOL, 2, SHAPE(5, 6))->seed = 11;
  BO_SLOTS(c, SLOT(elementwise, where));
  static const sg_dtype fdts[] = {SG_FLOAT32, SG_FLOAT64};
  for (int d = 0; d < 2; d++) {
    sg_dtype dt = fdts[d];
    double slope = 0.2;
    snprintf(name, sizeof name, "leaky_relu %s", sg_dtype_name(dt));
    c = bo_new(name, f_leaky, 2);
    BO_CTX(c, slope);
    bo_uniform(c, 12, dt, -2, 2, 2, SHAPE(31, 7));
    bo_tol(c, te(dt), te(dt), 10, 100);
    BO_SLOTS(c, SLOT(elementwise, leaky_relu), SLOT(elementwise, leaky_relu_backward));
    static const double bounds[3][2] = {{-0.5, 0.7}, {-0.5, NAN}, {NAN, 0.7}};
    static const char *labels[3] = {"clamp", "clamp lo", "clamp hi"};
    for (int b = 0; b < 3; b++) {
      snprintf(name, sizeof name, "%s %s", labels[b], sg_dtype_name(dt));
      c = bo_new(name, f_clamp, b == 0 ? 2 : 1);
      BO_CTX(c, bounds[b]);
      bo_uniform(c, 12, dt, -2, 2, 2, SHAPE(31, 7));
      bo_tol(c, te(dt), 0, 10, 100);
      BO_SLOTS(c, SLOT(elementwise, clamp));
    }
  }
  static const double bi[2] = {-3, 8};
  c = bo_new("clamp int64", f_clamp, 0);
  BO_CTX(c, bi);
  bo_uniform(c, 13, SG_INT64, -20, 20, 1, SHAPE(50));
  c->exact = true;
  BO_SLOTS(c, SLOT(elementwise, clamp));
}

/* ======================= sum and reductions ======================= */

typedef struct red_ctx {
  int dims[SG_MAX_DIMS];
  int ndims;
  bool keepdim;
  double p;
  int correction;
} red_ctx;

static sg_tensor *f_sum(sg_tensor **in, int n, void *c) {
  (void)n;
  red_ctx *r = c;
  return sg_sum(in[0], r->dims, r->ndims, r->keepdim);
}
static sg_tensor *f_mean(sg_tensor **in, int n, void *c) {
  (void)n;
  red_ctx *r = c;
  return sg_mean(in[0], r->dims, r->ndims, r->keepdim);
}
static sg_tensor *f_var(sg_tensor **in, int n, void *c) {
  (void)n;
  red_ctx *r = c;
  return sg_var(in[0], r->dims, r->ndims, r->correction, r->keepdim);
}
static sg_tensor *f_std(sg_tensor **in, int n, void *c) {
  (void)n;
  red_ctx *r = c;
  return sg_std(in[0], r->dims, r->ndims, r->correction, r->keepdim);
}
static sg_tensor *f_norm(sg_tensor **in, int n, void *c) {
  (void)n;
  red_ctx *r = c;
  return sg_norm(in[0], r->p, r->dims, r->ndims, r->keepdim);
}
static sg_tensor *f_lse(sg_tensor **in, int n, void *c) {
  (void)n;
  red_ctx *r = c;
  return sg_logsumexp(in[0], r->dims, r->ndims, r->keepdim);
}
/* max_dim / min_dim: values (ndims == 0 in p: is_max) or indices */
typedef struct mm_ctx {
  red_ctx r;
  bool is_max, indices;
} mm_ctx;
static sg_tensor *f_minmax(sg_tensor **in, int n, void *c) {
  (void)n;
  mm_ctx *m = c;
  sg_tensor *v = NULL, *i = NULL;
  sg_status s = m->is_max ? sg_max_dim(in[0], m->r.dims[0], m->r.keepdim, &v, &i)
                          : sg_min_dim(in[0], m->r.dims[0], m->r.keepdim, &v, &i);
  if (s != SG_OK) return NULL;
  sg_release(m->indices ? v : i);
  return m->indices ? i : v;
}
static sg_tensor *f_argmax(sg_tensor **in, int n, void *c) {
  (void)n;
  red_ctx *r = c;
  return sg_argmax(in[0], r->ndims ? r->dims[0] : SG_ALL_DIMS, r->keepdim);
}
static sg_tensor *f_max_all(sg_tensor **in, int n, void *c) {
  (void)n;
  (void)c;
  return sg_max_all(in[0]);
}

static void register_sums(void) {
  char name[120];
  /* every dim pattern of a 3-d tensor, both float dtypes, plus int64 */
  static const struct {
    int nd;
    int dims[3];
  } pats[] = {{1, {0}}, {1, {1}}, {1, {2}}, {2, {0, 2}}, {2, {0, 1}}, {2, {1, 2}}, {0, {0}}};
  static const sg_dtype dts[] = {SG_FLOAT32, SG_FLOAT64, SG_INT64};
  for (int d = 0; d < 3; d++)
    for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++) {
      red_ctx r = {{0}, pats[p].nd, p % 2 == 0, 2, 1};
      memcpy(r.dims, pats[p].dims, sizeof pats[p].dims);
      bool fl = sg_dtype_is_float(dts[d]);
      snprintf(name, sizeof name, "sum %s pattern %d", sg_dtype_name(dts[d]), (int)p);
      bo_case *c = bo_new(name, f_sum, fl ? 2 : 0);
      BO_CTX(c, r);
      bo_uniform(c, 50 + p, dts[d], -10, 10, 3, SHAPE(4, 5, 6));
      bo_tol(c, fl ? te(dts[d]) : 0, fl ? te(dts[d]) : 0, 10, 100);
      BO_SLOTS(c, SLOT(sum, sum));
      if (!fl) continue;
      snprintf(name, sizeof name, "mean %s pattern %d", sg_dtype_name(dts[d]), (int)p);
      c = bo_new(name, f_mean, 1);
      BO_CTX(c, r);
      bo_uniform(c, 50 + p, dts[d], -10, 10, 3, SHAPE(4, 5, 6));
      bo_tol(c, te(dts[d]), te(dts[d]), 10, 100);
      BO_SLOTS(c, SLOT(sum, sum));
    }
  /* large reductions that take the split (two-kernel) paths: a bias
   * gradient (N, H, W of N x C x H x W), column sums of a tall matrix,
   * one long row, a sum over everything, and a transposed input (permuted
   * copy). float32 sums accumulate in double on both devices. */
  static const struct {
    const char *name;
    red_ctx r;
    int nd;
    int64_t shape[4];
    sg_dtype dt;
    uint64_t seed;
    bool transpose;
    double tol;
  } big[] = {
      {"sum N,H,W of NCHW", {{0, 2, 3}, 3, false, 2, 1}, 4, {64, 3, 64, 64}, SG_FLOAT32, 60, false, 1e-5},
      {"column sums 20000x300", {{0}, 1, false, 2, 1}, 2, {20000, 300}, SG_FLOAT32, 61, false, 1e-5},
      {"sum of 6M elements", {{0}, 0, false, 2, 1}, 2, {20000, 300}, SG_FLOAT32, 61, false, 1e-5},
      {"row sums of a transposed matrix", {{1}, 1, true, 2, 1}, 2, {20000, 300}, SG_FLOAT32, 61, true, 1e-5},
      {"sum over dims 0 and 2", {{0, 2}, 2, false, 2, 1}, 3, {200, 100, 300}, SG_FLOAT32, 61, false, 1e-5},
      {"long rows float64", {{1}, 1, false, 2, 1}, 2, {3, 1000003}, SG_FLOAT64, 62, false, 1e-10},
  };
  for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
    bo_case *c = bo_new(big[i].name, f_sum, 1);
    BO_CTX(c, big[i].r);
    bo_uniform(c, big[i].seed, big[i].dt, -1, 1, big[i].nd, big[i].shape)->transpose =
        big[i].transpose;
    bo_tol(c, big[i].tol, big[i].tol, 10, 100);
    BO_SLOTS(c, SLOT(sum, sum));
  }
  /* an empty reduction gives zeros */
  red_ctx r = {{1}, 1, false, 2, 1};
  bo_case *c = bo_new("sum over an empty dim", f_sum, 0);
  BO_CTX(c, r);
  bo_uniform(c, 1, SG_FLOAT32, 0, 0, 2, SHAPE(3, 0));
  BO_SLOTS(c, SLOT(sum, sum));
}

static bo_case *red_case(const char *label, sg_fn fn, const void *ctx, size_t ctx_size,
                         int level, sg_dtype dt, int nd, const int64_t *shape, bool ties,
                         uint64_t seed, double tol, int case_no) {
  char name[120];
  snprintf(name, sizeof name, "%s %s case %d", label, sg_dtype_name(dt), case_no);
  bo_case *c = bo_new(name, fn, level);
  bo_ctx(c, ctx, ctx_size);
  bo_input *x = bo_uniform(c, seed, dt, -2, 2, nd, shape);
  if (ties) { /* a coarse grid: max/min have ties, whose index must be the first */
    x->kind = BO_TIES;
    x->levels = 40;
  }
  bo_tol(c, tol, tol, 10, 100);
  return c;
}

static void register_reductions(void) {
  /* [O, N, I] layouts: rows (last dim), columns (first / middle dims),
   * long rows (1024-thread blocks) */
  static const struct {
    int nd;
    int64_t shape[3];
    int dim;
  } cases[] = {
      {3, {7, 300, 9}, 0}, {3, {7, 300, 9}, 1}, {3, {7, 300, 9}, 2}, {2, {3, 70000}, 1},
      {1, {100003}, 0},
  };
  static const sg_dtype fdts[] = {SG_FLOAT32, SG_FLOAT64};
  for (int ci = 0; ci < (int)(sizeof cases / sizeof cases[0]); ci++)
    for (int d = 0; d < 2; d++) {
      sg_dtype dt = fdts[d];
      int nd = cases[ci].nd;
      const int64_t *sh = cases[ci].shape;
      red_ctx r = {{cases[ci].dim}, 1, ci % 2 == 1, 2, 1};
      double tol = dt == SG_FLOAT64 ? 1e-10 : 1e-5;
      for (int mx = 0; mx < 2; mx++) {
        mm_ctx m = {r, mx == 1, false};
        /* values: gradient through put_along; double backward through take_along */
        bo_case *c = red_case(mx ? "max values" : "min values", f_minmax, &m, sizeof m, 2, dt,
                              nd, sh, true, 70 + (uint64_t)ci, 0, ci);
        BO_SLOTS(c, SLOT(reduce, minmax), SLOT(reduce, put_along), SLOT(reduce, take_along));
        m.indices = true;
        c = red_case(mx ? "max indices" : "min indices", f_minmax, &m, sizeof m, 0, dt, nd, sh,
                     true, 70 + (uint64_t)ci, 0, ci);
        BO_SLOTS(c, SLOT(reduce, minmax));
      }
      bo_case *c = red_case("argmax", f_argmax, &r, sizeof r, 0, dt, nd, sh, true,
                            70 + (uint64_t)ci, 0, ci);
      BO_SLOTS(c, SLOT(reduce, minmax));
      c = red_case("var unbiased", f_var, &r, sizeof r, 2, dt, nd, sh, false, 80 + (uint64_t)ci,
                   tol, ci);
      BO_SLOTS(c, SLOT(reduce, var));
      r.correction = 0;
      c = red_case("var biased", f_var, &r, sizeof r, 1, dt, nd, sh, false, 80 + (uint64_t)ci,
                   tol, ci);
      BO_SLOTS(c, SLOT(reduce, var));
      c = red_case("std", f_std, &r, sizeof r, 1, dt, nd, sh, false, 80 + (uint64_t)ci, tol, ci);
      BO_SLOTS(c, SLOT(reduce, var));
      static const double ps[] = {1, 2, INFINITY, 3};
      for (int k = 0; k < 4; k++) {
        r.p = ps[k];
        char label[32];
        snprintf(label, sizeof label, "norm p=%g", ps[k]);
        c = red_case(label, f_norm, &r, sizeof r, k == 1 ? 2 : 1, dt, nd, sh, false,
                     80 + (uint64_t)ci, tol, ci);
        BO_SLOTS(c, SLOT(reduce, norm));
      }
      c = red_case("logsumexp", f_lse, &r, sizeof r, 2, dt, nd, sh, false, 80 + (uint64_t)ci,
                   tol, ci);
      BO_SLOTS(c, SLOT(reduce, logsumexp));
    }
  /* integer and bool max / argmax */
  static const sg_dtype odts[] = {SG_INT64, SG_UINT8, SG_BOOL};
  for (int d = 0; d < 3; d++) {
    for (int dim = 0; dim < 2; dim++) {
      red_ctx r = {{dim}, 1, false, 2, 1};
      static const char *labels[3] = {"max values int", "max indices int", "min indices int"};
      for (int q = 0; q < 3; q++) {
        mm_ctx m = {r, q < 2, q > 0};
        bo_case *c = red_case(labels[q], f_minmax, &m, sizeof m, 0, odts[d], 2, SHAPE(40, 50),
                              false, 90, 0, dim);
        c->in[0].lo = 0;
        c->in[0].hi = 9;
        if (odts[d] == SG_BOOL) c->in[0].kind = BO_BOOL;
        c->exact = true;
        BO_SLOTS(c, SLOT(reduce, minmax));
      }
    }
    red_ctx none = {{0}, 0, false, 2, 1};
    bo_case *c = red_case("argmax all", f_argmax, &none, sizeof none, 0, odts[d], 2,
                          SHAPE(40, 50), false, 90, 0, 0);
    c->in[0].lo = 0;
    c->in[0].hi = 9;
    if (odts[d] == SG_BOOL) c->in[0].kind = BO_BOOL;
    BO_SLOTS(c, SLOT(reduce, minmax));
    c = red_case("max all", f_max_all, &none, sizeof none, 0, odts[d], 2, SHAPE(40, 50), false,
                 90, 0, 0);
    c->in[0].lo = 0;
    c->in[0].hi = 9;
    if (odts[d] == SG_BOOL) c->in[0].kind = BO_BOOL;
    BO_SLOTS(c, SLOT(reduce, minmax));
  }
  /* NaN wins max and min; NaN in the inf-norm; inf in logsumexp */
  static const double xn[] = {1, NAN, 3, NAN, -INFINITY, 2, 5, 0};
  for (int dim = 0; dim < 2; dim++) {
    red_ctx r = {{dim}, 1, false, INFINITY, 1};
    static const char *labels[3] = {"max with NaN", "argmax with NaN", "argmin with NaN"};
    for (int q = 0; q < 3; q++) {
      mm_ctx m = {r, q < 2, q > 0};
      bo_case *c = red_case(labels[q], f_minmax, &m, sizeof m, 0, SG_FLOAT32, 2, SHAPE(2, 4),
                            false, 0, 0, dim);
      c->in[0].kind = BO_VALUES;
      c->in[0].values = xn;
      BO_SLOTS(c, SLOT(reduce, minmax));
    }
    bo_case *c = red_case("inf-norm with NaN", f_norm, &r, sizeof r, 0, SG_FLOAT32, 2,
                          SHAPE(2, 4), false, 0, 0, dim);
    c->in[0].kind = BO_VALUES;
    c->in[0].values = xn;
    BO_SLOTS(c, SLOT(reduce, norm));
  }
  static const double xi[] = {-INFINITY, -INFINITY, 1, INFINITY, 0, 1};
  red_ctx r1 = {{1}, 1, false, 2, 1};
  bo_case *c = red_case("logsumexp with infinities", f_lse, &r1, sizeof r1, 0, SG_FLOAT64, 2,
                        SHAPE(3, 2), false, 0, 1e-14, 0);
  c->in[0].kind = BO_VALUES;
  c->in[0].values = xi;
  BO_SLOTS(c, SLOT(reduce, logsumexp));
}

/* int64 at its edges, where C leaves overflow undefined: + - * neg abs and
 * pow wrap, sums wrap, clamp bounds and float -> int64 conversions and
 * fills saturate (NaN -> 0), on every backend as on the CPU
 * (elementwise_cpu.c, sum_cpu.c). Input 0: int64 extremes (built exactly,
 * beyond a double's 53 bits); input 1: floats out of int64's range. */
static sg_tensor *build_int64_edges(const bo_case *c, int k) {
  static const int64_t v[6] = {INT64_MAX, INT64_MIN, 3, -7, 0, (INT64_C(1) << 53) + 1};
  static const double fv[6] = {1e30, -1e30, NAN, 2.7, -2.7, 9.3e18};
  (void)c;
  if (k == 0) return sg_from_data(v, SHAPE(6), 1, SG_INT64);
  return tt_from(SG_FLOAT64, fv, 1, SHAPE(6));
}

static sg_tensor *f_int64_edges(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  sg_tensor *x = in[0], *f = in[1];
  sg_device dev = x->storage->device;
  sg_tensor *e = sg_full(SHAPE(6), 1, 39, SG_INT64, dev);
  sg_tensor *nx = sg_neg(x);
  sg_tensor *r[12] = {
      sg_add(x, x), nx ? sg_sub(nx, x) : NULL, sg_mul(x, x), nx, sg_abs(x),
      e ? sg_pow(x, e) : NULL, sg_sum(x, NULL, 0, false), sg_clamp(x, -1e30, 1e30),
      sg_clamp(x, 1e30, NAN), sg_to_dtype(f, SG_INT64), sg_full(SHAPE(2), 1, 1e30, SG_INT64, dev),
      sg_full(SHAPE(2), 1, NAN, SG_INT64, dev)};
  sg_release(e);
  return bo_cat_flat(12, r);
}

static void register_int64_edges(void) {
  bo_case *c = bo_new("int64 wrap and saturation", f_int64_edges, 0);
  bo_in(c, BO_VALUES, SG_INT64, 1, SHAPE(6)); /* both made by build_int64_edges */
  bo_in(c, BO_VALUES, SG_FLOAT64, 1, SHAPE(6));
  c->build = build_int64_edges;
  c->exact = true;
  BO_SLOTS(c, SLOT(elementwise, binary), SLOT(elementwise, unary), SLOT(elementwise, clamp),
           SLOT(sum, sum), BACKEND_SLOT(copy), BACKEND_SLOT(fill));
}

void bo_register_elementwise(void) {
  register_int64_edges();
  register_copy_fill();
  register_unary();
  register_binary();
  register_where_leaky_clamp();
  register_sums();
  register_reductions();
}
