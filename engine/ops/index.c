/* index_select, gather, scatter (out of place) and scatter_add, with int64
 * 0-based indices. Range checks run in the kernels (they can read device
 * memory) and name the bad index and the size.
 *
 * Backward formulas use these same ops, so they are differentiable:
 *   index_select -> scatter_add of g into zeros (index expanded to g's shape)
 *   gather       -> scatter_add of g into zeros
 *   scatter      -> x: g with the scattered positions zeroed; src: gather(g)
 *   scatter_add  -> x: g;                                       src: gather(g)
 * (src's gradient is padded with zeros where src is larger than index). */
#include <string.h>

#include "internal/backend.h"
#include "internal/kernels_index.h"
#include "internal/op_ctx.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

static int check_index(const char *op, const sg_tensor *x, const sg_tensor *index) {
  if (sg_check_arg(op, "index", index) || sg_check_same_device(op, x, index)) return -1;
  if (index->dtype != SG_INT64)
    return sg_error(SG_ERR_ARG, "%s: index has dtype %s, expected int64", op,
                    sg_dtype_name(index->dtype));
  return 0;
}

/* What index_select, gather and scatter save for their backward (besides
 * the index): the dim, and the shape of the input (index_select, gather)
 * or of src (scatter). */
typedef struct index_ctx {
  int dim;
  bool accumulate; /* scatter_add */
  sg_ctx_shape shape;
} index_ctx;

static void save_ctx(sg_node *n, int dim, bool accumulate, const sg_tensor *shape_of) {
  index_ctx c = {dim, accumulate, sg_ctx_shape_of(shape_of)};
  SG_CTX_STORE(n, &c);
}

static index_ctx load_ctx(const sg_node *n) {
  index_ctx c;
  SG_CTX_LOAD(n, &c);
  return c;
}

static sg_tensor *zeros_saved_shape(const index_ctx *c, sg_tensor *like) {
  return sg_zeros(c->shape.shape, c->shape.ndim, like->dtype, like->storage->device);
}

/* t padded with zeros at the end of each dim up to shape (differentiable:
 * a chain of cats). Consumes t. */
static sg_tensor *pad_to(sg_tensor *t, const int64_t *shape, int ndim) {
  for (int d = 0; t && d < ndim; d++) {
    if (t->shape[d] == shape[d]) continue;
    int64_t zs[SG_MAX_DIMS];
    memcpy(zs, t->shape, sizeof(int64_t) * (size_t)ndim);
    zs[d] = shape[d] - t->shape[d];
    sg_tensor *z = sg_zeros(zs, ndim, t->dtype, t->storage->device);
    sg_tensor *parts[2] = {t, z};
    sg_tensor *c = z ? sg_cat(parts, 2, d) : NULL;
    sg_release(z);
    sg_release(t);
    t = c;
  }
  return t;
}

/* ---------------- index_select ---------------- */

static sg_status index_select_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  index_ctx c = load_ctx(node);
  int d = c.dim;
  sg_tensor *index = sg_node_saved(node, 0);
  if (!index) return sg_last_status();
  sg_tensor *g = go[0];
  /* index as [1, .., L, .., 1] expanded to g's shape */
  int64_t vs[SG_MAX_DIMS];
  for (int k = 0; k < g->ndim; k++) vs[k] = k == d ? g->shape[d] : 1;
  sg_tensor *v = sg_reshape(index, vs, g->ndim);
  sg_tensor *e = v ? sg_expand(v, g->shape, g->ndim) : NULL;
  sg_tensor *z = e ? zeros_saved_shape(&c, g) : NULL;
  gi[0] = z ? sg_scatter_add(z, d, e, g) : NULL;
  sg_release(v);
  sg_release(e);
  sg_release(z);
  sg_release(index);
  return gi[0] ? SG_OK : sg_last_status();
}

sg_tensor *sg_index_select(sg_tensor *x, int dim, sg_tensor *index) {
  const char *op = "index_select";
  char a[128], b[128];
  if (sg_check_arg(op, "input", x) || check_index(op, x, index)) return NULL;
  if (x->ndim == 0) {
    sg_error(SG_ERR_ARG, "%s: input is 0-dim, expected at least 1 dim", op);
    return NULL;
  }
  if (index->ndim > 1) {
    sg_error(SG_ERR_ARG, "%s: index has shape %s, expected a 1-D tensor (input %s)", op,
             sg_shape_str(index, a, sizeof a), sg_shape_str(x, b, sizeof b));
    return NULL;
  }
  int d = sg_wrap_dim(op, dim, x->ndim);
  if (d < 0) return NULL;
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, index));
  if (!be) return NULL;
  int64_t shape[SG_MAX_DIMS];
  memcpy(shape, x->shape, sizeof shape);
  shape[d] = sg_numel(index);
  sg_tensor *xc = sg_as_contiguous_dtype(x, x->dtype);
  sg_tensor *ic = xc ? sg_as_contiguous_dtype(index, SG_INT64) : NULL;
  sg_tensor *out = ic ? sg_empty(shape, x->ndim, x->dtype, x->storage->device) : NULL;
  if (out && be->index->index_select(op, out, xc, d, ic) != SG_OK) {
    sg_release(out);
    out = NULL;
  }
  if (out && sg_dtype_is_float(x->dtype)) {
    sg_node *n = sg_record(op, index_select_backward, &x, 1, out);
    if (n) {
      save_ctx(n, d, false, x);
      sg_node_save(n, ic);
    }
  }
  sg_release(xc);
  sg_release(ic);
  return out;
}

/* ---------------- gather ---------------- */

static sg_status gather_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  index_ctx c = load_ctx(node);
  sg_tensor *index = sg_node_saved(node, 0);
  sg_tensor *z = index ? zeros_saved_shape(&c, go[0]) : NULL;
  gi[0] = z ? sg_scatter_add(z, c.dim, index, go[0]) : NULL;
  sg_release(z);
  sg_release(index);
  return gi[0] ? SG_OK : sg_last_status();
}

/* index.shape[d] <= t.shape[d] for every d (but `skip`); same ndim. */
static int check_fits(const char *op, const sg_tensor *index, const sg_tensor *t,
                      const char *what, int skip) {
  char a[128], b[128];
  if (index->ndim != t->ndim)
    return sg_error(SG_ERR_ARG, "%s: index has %d dims (%s), expected %d like the %s (%s)", op,
                    index->ndim, sg_shape_str(index, a, sizeof a), t->ndim, what,
                    sg_shape_str(t, b, sizeof b));
  for (int d = 0; d < t->ndim; d++)
    if (d != skip && index->shape[d] > t->shape[d])
      return sg_error(SG_ERR_ARG,
                      "%s: index of shape %s is larger than the %s (%s) in dim %d; expected "
                      "index size <= %lld there",
                      op, sg_shape_str(index, a, sizeof a), what, sg_shape_str(t, b, sizeof b),
                      d, (long long)t->shape[d]);
  return 0;
}

sg_tensor *sg_gather(sg_tensor *x, int dim, sg_tensor *index) {
  const char *op = "gather";
  if (sg_check_arg(op, "input", x) || check_index(op, x, index)) return NULL;
  int d = sg_wrap_dim(op, dim, x->ndim);
  if (d < 0 || check_fits(op, index, x, "input", d)) return NULL;
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, index));
  if (!be) return NULL;
  sg_tensor *out = sg_empty(index->shape, index->ndim, x->dtype, x->storage->device);
  if (!out) return NULL;
  if (be->index->gather(op, out, x, d, index) != SG_OK) {
    sg_release(out);
    return NULL;
  }
  if (sg_dtype_is_float(x->dtype)) {
    sg_node *n = sg_record(op, gather_backward, &x, 1, out);
    if (n) {
      save_ctx(n, d, false, x);
      sg_node_save(n, index);
    }
  }
  return out;
}

/* ---------------- scatter / scatter_add ---------------- */

static sg_status scatter_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  index_ctx c = load_ctx(node);
  int d = c.dim;
  bool accumulate = c.accumulate;
  sg_tensor *g = go[0];
  sg_tensor *index = sg_node_saved(node, 0);
  if (!index) return sg_last_status();
  sg_status st = SG_OK;
  if (sg_node_wants(node, 0)) {
    if (accumulate) {
      gi[0] = sg_retain(g);
    } else {
      sg_tensor *z = sg_zeros(index->shape, index->ndim, g->dtype, g->storage->device);
      gi[0] = z ? sg_scatter(g, d, index, z) : NULL;
      sg_release(z);
    }
    if (!gi[0]) st = sg_last_status();
  }
  if (st == SG_OK && sg_node_wants(node, 1)) {
    gi[1] = pad_to(sg_gather(g, d, index), c.shape.shape, c.shape.ndim);
    if (!gi[1]) st = sg_last_status();
  }
  sg_release(index);
  return st;
}

static sg_tensor *scatter_impl(const char *op, sg_tensor *x, int dim, sg_tensor *index,
                               sg_tensor *src, bool accumulate) {
  if (sg_check_arg(op, "input", x) || check_index(op, x, index) ||
      sg_check_arg(op, "src", src) || sg_check_same_device(op, x, src))
    return NULL;
  int d = sg_wrap_dim(op, dim, x->ndim);
  if (d < 0 || check_fits(op, index, x, "input", d) || check_fits(op, index, src, "src", -1))
    return NULL;
  if (src->dtype != x->dtype) {
    sg_error(SG_ERR_ARG, "%s: src has dtype %s, expected the input's dtype %s", op,
             sg_dtype_name(src->dtype), sg_dtype_name(x->dtype));
    return NULL;
  }
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, index));
  if (!be) return NULL;
  sg_tensor *s = sg_to_dtype(src, x->dtype);
  sg_tensor *out = s ? sg_empty(x->shape, x->ndim, x->dtype, x->storage->device) : NULL;
  if (out && (sg_copy_(out, x) != SG_OK ||
              be->index->scatter(op, out, d, index, s, accumulate) != SG_OK)) {
    sg_release(out);
    out = NULL;
  }
  if (out && sg_dtype_is_float(x->dtype)) {
    sg_tensor *ins[2] = {x, s};
    sg_node *n = sg_record(op, scatter_backward, ins, 2, out);
    if (n) {
      save_ctx(n, d, accumulate, s);
      sg_node_save(n, index);
    }
  }
  sg_release(s);
  return out;
}

sg_tensor *sg_scatter(sg_tensor *x, int dim, sg_tensor *index, sg_tensor *src) {
  return scatter_impl("scatter", x, dim, index, src, false);
}

sg_tensor *sg_scatter_add(sg_tensor *x, int dim, sg_tensor *index, sg_tensor *src) {
  return scatter_impl("scatter_add", x, dim, index, src, true);
}
