/* softmax and log_softmax along one dim: fused, numerically stable kernels
 * (max subtraction). The backward is the fused kernel when no graph is being
 * built, and the same formula written with public ops under create_graph,
 * so double backward works:
 *   softmax:     gx = y * (g - sum(g * y, dim, keepdim))
 *   log_softmax: gx = g - exp(y) * sum(g, dim, keepdim) */
#include <string.h>

#include "internal/backend.h"
#include "internal/kernels_softmax.h"
#include "internal/op_ctx.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

/* [O, N, I] around dim d (a 0-dim tensor is [1, 1, 1]). */
static void softmax_geometry(const sg_tensor *t, int d, int64_t *O, int64_t *N, int64_t *I) {
  *O = *N = *I = 1;
  for (int i = 0; i < t->ndim; i++) {
    if (i < d) *O *= t->shape[i];
    else if (i == d) *N = t->shape[i];
    else *I *= t->shape[i];
  }
}

static sg_tensor *softmax_backward_fused(sg_tensor *g, sg_tensor *y, int d, bool lg) {
  const sg_backend *be = sg_backend_checked("softmax backward", y, offsetof(sg_backend, softmax));
  if (!be) return NULL;
  int64_t O, N, I;
  softmax_geometry(y, d, &O, &N, &I);
  sg_tensor *gc = sg_as_contiguous_dtype(g, y->dtype);
  sg_tensor *yc = gc ? sg_as_contiguous_dtype(y, y->dtype) : NULL;
  sg_tensor *gx = yc ? sg_empty(y->shape, y->ndim, y->dtype, y->storage->device) : NULL;
  if (gx && be->softmax->softmax_backward(gx, gc, yc, O, N, I, lg) != SG_OK) {
    sg_release(gx);
    gx = NULL;
  }
  sg_release(gc);
  sg_release(yc);
  return gx;
}

static sg_tensor *softmax_backward_ops(sg_tensor *g, sg_tensor *y, int d, bool lg) {
  sg_tensor *t[4] = {0}, *r = NULL;
  if (lg) {
    t[0] = sg_sum(g, &d, 1, true);
    t[1] = t[0] ? sg_exp(y) : NULL;
    t[2] = t[1] ? sg_mul(t[1], t[0]) : NULL;
    r = t[2] ? sg_sub(g, t[2]) : NULL;
  } else {
    t[0] = sg_mul(g, y);
    t[1] = t[0] ? sg_sum(t[0], &d, 1, true) : NULL;
    t[2] = t[1] ? sg_sub(g, t[1]) : NULL;
    r = t[2] ? sg_mul(y, t[2]) : NULL;
  }
  sg_release_all(t, 4);
  return r;
}

/* What softmax saves for its backward (besides its output). */
typedef struct softmax_ctx {
  int dim;
  bool log;
} softmax_ctx;

static sg_status softmax_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  softmax_ctx c;
  SG_CTX_LOAD(node, &c);
  int d = c.dim;
  bool lg = c.log;
  sg_tensor *y = sg_node_saved(node, 0);
  if (!y) return sg_last_status();
  /* grad mode is on during backward exactly when create_graph was asked */
  gi[0] = sg_grad_enabled() ? softmax_backward_ops(go[0], y, d, lg)
                            : softmax_backward_fused(go[0], y, d, lg);
  sg_release(y);
  return gi[0] ? SG_OK : sg_last_status();
}

static sg_tensor *softmax_impl(const char *op, sg_tensor *x, int dim, bool lg) {
  if (sg_check_arg(op, "input", x) || sg_check_float(op, "input", x)) return NULL;
  int d = sg_wrap_dim(op, dim, x->ndim);
  if (d < 0) return NULL;
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, softmax));
  if (!be) return NULL;
  int64_t O, N, I;
  softmax_geometry(x, d, &O, &N, &I);
  sg_tensor *c = sg_as_contiguous_dtype(x, x->dtype);
  sg_tensor *y = c ? sg_empty(x->shape, x->ndim, x->dtype, x->storage->device) : NULL;
  if (!y || be->softmax->softmax(y, c, O, N, I, lg) != SG_OK) {
    if (y) sg_error_context("%s", op);
    sg_release(y);
    sg_release(c);
    return NULL;
  }
  sg_release(c);
  sg_node *n = sg_record(op, softmax_backward, &x, 1, y);
  if (n) {
    softmax_ctx ctx = {d, lg};
    SG_CTX_STORE(n, &ctx);
    sg_node_save_output(n, y, 0);
  }
  return y;
}

sg_tensor *sg_softmax(sg_tensor *x, int dim) { return softmax_impl("softmax", x, dim, false); }

sg_tensor *sg_log_softmax(sg_tensor *x, int dim) {
  return softmax_impl("log_softmax", x, dim, true);
}
