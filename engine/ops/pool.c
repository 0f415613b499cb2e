/* Pooling: max_pool2d, avg_pool2d, adaptive_avg_pool2d (input N x C x H x W
 * or C x H x W).
 *
 * Each backward is an op of its own: the adjoint of a linear map, whose
 * backward is the forward map again, so double backward works.
 *  - max pool: backward scatters the gradient to the argmax (saved int64
 *    indices); the scatter's backward gathers at the same indices, and the
 *    gather's backward scatters. The indices are piecewise constant in x,
 *    so x gets no second-order term (as PyTorch).
 *  - avg / adaptive avg pool: forward and backward kernels are adjoint
 *    linear maps, each recorded with the other as its backward. */
#include <string.h>

#include "internal/backend.h"
#include "internal/kernels_pool.h"
#include "internal/op_ctx.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

/* ---------------- geometry ---------------- */

/* floor division (PyTorch's div_rtn) */
static int64_t div_floor(int64_t a, int64_t b) {
  int64_t q = a / b, r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? q - 1 : q;
}

/* PyTorch's pooling_output_shape: with ceil_mode the last window must start
 * inside the input or the left padding. */
static int64_t pool_out_size(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dil,
                             bool ceil_mode) {
  int64_t out = div_floor(in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0), stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) out--;
  return out;
}

static int check_image(const char *op, const sg_tensor *x) {
  if (sg_check_arg(op, "input", x) || sg_check_float(op, "input", x)) return -1;
  if (x->ndim != 3 && x->ndim != 4) {
    char a[128];
    return sg_error(SG_ERR_ARG,
                    "%s: input has %d dims (%s), expected 3 or 4 (C x H x W or N x C x H x W)", op,
                    x->ndim, sg_shape_str(x, a, sizeof a));
  }
  return 0;
}

static int64_t planes_of(const sg_tensor *x) {
  int64_t p = 1;
  for (int d = 0; d < x->ndim - 2; d++) p *= x->shape[d];
  return p;
}

static int pool_geom(const char *op, const sg_tensor *x, const sg_pool_opts *o, bool is_max,
                     sg_pool2d_geom *g) {
  if (check_image(op, x)) return -1;
  if (!o) return sg_error(SG_ERR_ARG, "%s: options are missing (NULL)", op);
  char a[128];
  int64_t k[2], s[2], p[2], d[2];
  for (int i = 0; i < 2; i++) {
    k[i] = o->kernel[i];
    s[i] = o->stride[i] == 0 ? k[i] : o->stride[i];
    p[i] = o->padding[i];
    d[i] = o->dilation[i] == 0 ? 1 : o->dilation[i];
  }
  if (k[0] <= 0 || k[1] <= 0)
    return sg_error(SG_ERR_ARG, "%s: kernel size must be positive, got %lldx%lld", op,
                    (long long)k[0], (long long)k[1]);
  if (s[0] <= 0 || s[1] <= 0)
    return sg_error(SG_ERR_ARG, "%s: stride must be positive, got %lldx%lld", op,
                    (long long)s[0], (long long)s[1]);
  if (d[0] <= 0 || d[1] <= 0)
    return sg_error(SG_ERR_ARG, "%s: dilation must be positive, got %lldx%lld", op,
                    (long long)d[0], (long long)d[1]);
  if (!is_max && (d[0] != 1 || d[1] != 1))
    return sg_error(SG_ERR_ARG, "%s: dilation is not supported (got %lldx%lld)", op,
                    (long long)d[0], (long long)d[1]);
  if (p[0] < 0 || p[1] < 0 || p[0] > k[0] / 2 || p[1] > k[1] / 2)
    return sg_error(SG_ERR_ARG,
                    "%s: padding %lldx%lld must be between 0 and half the kernel size %lldx%lld",
                    op, (long long)p[0], (long long)p[1], (long long)k[0], (long long)k[1]);
  int64_t ih = x->shape[x->ndim - 2], iw = x->shape[x->ndim - 1];
  int64_t oh = pool_out_size(ih, k[0], p[0], s[0], d[0], o->ceil_mode);
  int64_t ow = pool_out_size(iw, k[1], p[1], s[1], d[1], o->ceil_mode);
  if (oh < 1 || ow < 1)
    return sg_error(SG_ERR_ARG,
                    "%s: output size is too small: input %s with kernel %lldx%lld, stride "
                    "%lldx%lld, padding %lldx%lld, dilation %lldx%lld gives %lldx%lld",
                    op, sg_shape_str(x, a, sizeof a), (long long)k[0], (long long)k[1],
                    (long long)s[0], (long long)s[1], (long long)p[0], (long long)p[1],
                    (long long)d[0], (long long)d[1], (long long)oh, (long long)ow);
  *g = (sg_pool2d_geom){.planes = planes_of(x), .ih = ih, .iw = iw, .oh = oh, .ow = ow,
                        .kh = k[0], .kw = k[1], .sh = s[0], .sw = s[1], .ph = p[0], .pw = p[1],
                        .dh = d[0], .dw = d[1], .count_include_pad = o->count_include_pad};
  return 0;
}

/* Shape lead dims + (h, w) */
static int image_shape(const int64_t *lead, int ndim, int64_t h, int64_t w, int64_t *shape) {
  for (int d = 0; d < ndim - 2; d++) shape[d] = lead[d];
  shape[ndim - 2] = h;
  shape[ndim - 1] = w;
  return ndim;
}

/* ---------------- max pool ---------------- */

static sg_tensor *plane_scatter(sg_tensor *g, sg_tensor *idx, const int64_t *shape, int ndim,
                                int64_t planes);
static sg_tensor *plane_gather(sg_tensor *s, sg_tensor *idx, int64_t planes);

/* What max_pool2d and its backward / double backward save (besides the
 * argmax indices): the planes, and the shape of the scatter output (the
 * input of max_pool2d; unused by the scatter's own node). */
typedef struct plane_ctx {
  int64_t planes;
  sg_ctx_shape shape;
} plane_ctx;

static void plane_ctx_store(sg_node *n, int64_t planes, const sg_tensor *shape_of) {
  plane_ctx c;
  memset(&c, 0, sizeof c);
  c.planes = planes;
  if (shape_of) c.shape = sg_ctx_shape_of(shape_of);
  SG_CTX_STORE(n, &c);
}

static sg_status scatter_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  plane_ctx c;
  SG_CTX_LOAD(node, &c);
  sg_tensor *idx = sg_node_saved(node, 0);
  if (!idx) return sg_last_status();
  gi[0] = plane_gather(go[0], idx, c.planes);
  sg_release(idx);
  return gi[0] ? SG_OK : sg_last_status();
}

static sg_status gather_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  plane_ctx c;
  SG_CTX_LOAD(node, &c);
  sg_tensor *idx = sg_node_saved(node, 0);
  if (!idx) return sg_last_status();
  gi[0] = plane_scatter(go[0], idx, c.shape.shape, c.shape.ndim, c.planes);
  sg_release(idx);
  return gi[0] ? SG_OK : sg_last_status();
}

/* zeros of `shape` with g added at the saved argmax positions (per plane). */
static sg_tensor *plane_scatter(sg_tensor *g, sg_tensor *idx, const int64_t *shape, int ndim,
                                int64_t planes) {
  const sg_backend *be = sg_backend_checked("max_pool2d backward", g, offsetof(sg_backend, pool));
  if (!be) return NULL;
  sg_tensor *gc = sg_as_contiguous_dtype(g, g->dtype);
  sg_tensor *out = gc ? sg_empty(shape, ndim, g->dtype, g->storage->device) : NULL;
  if (!out || be->pool->index_scatter_add(out, gc, idx, planes) != SG_OK) {
    sg_release(out);
    sg_release(gc);
    return NULL;
  }
  sg_release(gc);
  sg_node *n = sg_record("max_pool2d_backward", scatter_backward, &g, 1, out);
  if (n) {
    plane_ctx_store(n, planes, NULL);
    sg_node_save(n, idx);
  }
  return out;
}

/* out[p, k] = s[p, idx[p, k]] (shape of idx). */
static sg_tensor *plane_gather(sg_tensor *s, sg_tensor *idx, int64_t planes) {
  const sg_backend *be = sg_backend_checked("max_pool2d double backward", s,
                                            offsetof(sg_backend, pool));
  if (!be) return NULL;
  sg_tensor *sc = sg_as_contiguous_dtype(s, s->dtype);
  sg_tensor *out = sc ? sg_empty(idx->shape, idx->ndim, s->dtype, s->storage->device) : NULL;
  if (!out || be->pool->index_gather(out, sc, idx, planes) != SG_OK) {
    sg_release(out);
    sg_release(sc);
    return NULL;
  }
  sg_release(sc);
  sg_node *n = sg_record("max_pool2d_backward_backward", gather_backward, &s, 1, out);
  if (n) {
    plane_ctx_store(n, planes, s);
    sg_node_save(n, idx);
  }
  return out;
}

static sg_status max_pool_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  if (!go[0]) return SG_OK;
  plane_ctx c;
  SG_CTX_LOAD(node, &c);
  sg_tensor *idx = sg_node_saved(node, 0);
  if (!idx) return sg_last_status();
  gi[0] = plane_scatter(go[0], idx, c.shape.shape, c.shape.ndim, c.planes);
  sg_release(idx);
  return gi[0] ? SG_OK : sg_last_status();
}

sg_tensor *sg_max_pool2d(sg_tensor *x, const sg_pool_opts *o, sg_tensor **indices) {
  const char *op = "max_pool2d";
  if (indices) *indices = NULL;
  sg_pool2d_geom g;
  if (pool_geom(op, x, o, true, &g)) return NULL;
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, pool));
  if (!be) return NULL;
  int64_t shape[4];
  int nd = image_shape(x->shape, x->ndim, g.oh, g.ow, shape);
  sg_tensor *xc = sg_as_contiguous_dtype(x, x->dtype);
  sg_tensor *out = xc ? sg_empty(shape, nd, x->dtype, x->storage->device) : NULL;
  sg_tensor *idx = out ? sg_empty(shape, nd, SG_INT64, x->storage->device) : NULL;
  if (!idx || be->pool->max_pool2d(out, idx, xc, &g) != SG_OK) {
    if (idx) sg_error_context("%s", op);
    sg_release(xc);
    sg_release(out);
    sg_release(idx);
    return NULL;
  }
  sg_release(xc);
  sg_node *n = sg_record(op, max_pool_backward, &x, 1, out);
  if (n) {
    plane_ctx_store(n, g.planes, x);
    sg_node_save(n, idx);
  }
  if (indices) *indices = idx;
  else sg_release(idx);
  return out;
}

/* ---------------- avg pool and adaptive avg pool ---------------- */

enum { LIN_AVG = 0, LIN_ADAPTIVE = 1 };
static const char *const lin_names[2][2] = {{"avg_pool2d", "avg_pool2d_backward"},
                                            {"adaptive_avg_pool2d",
                                             "adaptive_avg_pool2d_backward"}};

static sg_tensor *pool_linear(sg_tensor *t, int kind, const sg_pool2d_geom *g, bool adjoint,
                              const int64_t *lead, int ndim);

/* What avg / adaptive avg pooling and their adjoints save for their
 * backward. */
typedef struct linear_ctx {
  sg_pool2d_geom geom;
  int kind; /* LIN_* */
  bool adjoint;
  int ndim;
  int64_t lead[4]; /* the dims before (h, w) */
} linear_ctx;

static sg_status pool_linear_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  if (!go[0]) return SG_OK;
  linear_ctx c;
  SG_CTX_LOAD(node, &c);
  gi[0] = pool_linear(go[0], c.kind, &c.geom, !c.adjoint, c.lead, c.ndim);
  return gi[0] ? SG_OK : sg_last_status();
}

/* The pooling map (adjoint = false: planes ih x iw -> oh x ow) or its
 * adjoint (oh x ow -> ih x iw), recorded with the other as backward. */
static sg_tensor *pool_linear(sg_tensor *t, int kind, const sg_pool2d_geom *g, bool adjoint,
                              const int64_t *lead, int ndim) {
  const char *name = lin_names[kind][adjoint];
  const sg_backend *be = sg_backend_checked(name, t, offsetof(sg_backend, pool));
  if (!be) return NULL;
  int64_t shape[4];
  image_shape(lead, ndim, adjoint ? g->ih : g->oh, adjoint ? g->iw : g->ow, shape);
  sg_tensor *tc = sg_as_contiguous_dtype(t, t->dtype);
  sg_tensor *out = tc ? sg_empty(shape, ndim, t->dtype, t->storage->device) : NULL;
  sg_status st = SG_ERR_STATE;
  if (out) {
    if (kind == LIN_AVG)
      st = adjoint ? be->pool->avg_pool2d_backward(out, tc, g) : be->pool->avg_pool2d(out, tc, g);
    else
      st = adjoint ? be->pool->adaptive_avg_pool2d_backward(out, tc, g)
                   : be->pool->adaptive_avg_pool2d(out, tc, g);
  }
  sg_release(tc);
  if (st != SG_OK) {
    if (out) sg_error_context("%s", name);
    sg_release(out);
    return NULL;
  }
  sg_node *n = sg_record(name, pool_linear_backward, &t, 1, out);
  if (n) {
    linear_ctx c;
    memset(&c, 0, sizeof c);
    c.geom = *g;
    c.kind = kind;
    c.adjoint = adjoint;
    c.ndim = ndim;
    for (int d = 0; d < ndim - 2; d++) c.lead[d] = lead[d];
    SG_CTX_STORE(n, &c);
  }
  return out;
}

sg_tensor *sg_avg_pool2d(sg_tensor *x, const sg_pool_opts *o) {
  sg_pool2d_geom g;
  if (pool_geom("avg_pool2d", x, o, false, &g)) return NULL;
  return pool_linear(x, LIN_AVG, &g, false, x->shape, x->ndim);
}

sg_tensor *sg_adaptive_avg_pool2d(sg_tensor *x, int64_t out_h, int64_t out_w) {
  const char *op = "adaptive_avg_pool2d";
  if (check_image(op, x)) return NULL;
  char a[128];
  int64_t ih = x->shape[x->ndim - 2], iw = x->shape[x->ndim - 1];
  if (out_h <= 0 || out_w <= 0) {
    sg_error(SG_ERR_ARG, "%s: output size %lldx%lld must be positive (input %s)", op,
             (long long)out_h, (long long)out_w, sg_shape_str(x, a, sizeof a));
    return NULL;
  }
  if (ih == 0 || iw == 0) {
    sg_error(SG_ERR_ARG, "%s: input %s has an empty spatial dim", op,
             sg_shape_str(x, a, sizeof a));
    return NULL;
  }
  int64_t planes = planes_of(x) > 0 ? planes_of(x) : 1;
  if (out_h > (INT64_C(1) << 46) / out_w / planes) {
    sg_error(SG_ERR_ARG, "%s: output size %lldx%lld is too large (input %s)", op,
             (long long)out_h, (long long)out_w, sg_shape_str(x, a, sizeof a));
    return NULL;
  }
  sg_pool2d_geom g = {.planes = planes_of(x), .ih = ih, .iw = iw, .oh = out_h, .ow = out_w};
  return pool_linear(x, LIN_ADAPTIVE, &g, false, x->shape, x->ndim);
}
