/* sum over dims and sum_to_shape (the adjoint of broadcasting). */
#include <string.h>

#include "internal/backend.h"
#include "internal/kernels_sum.h"
#include "internal/op_ctx.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

/* Parses a dim list into a reduce mask; ndims == 0 means all. */
int sg_reduce_mask(const char *op, const sg_tensor *x, const int *dims, int ndims, bool *mask) {
  if (ndims < 0 || ndims > SG_MAX_DIMS || (ndims > 0 && !dims))
    return sg_error(SG_ERR_ARG, "%s: invalid dim list (%d dims%s)", op, ndims,
                    dims ? "" : ", NULL array");
  for (int i = 0; i < SG_MAX_DIMS; i++) mask[i] = ndims == 0;
  for (int i = 0; i < ndims; i++) {
    int d = sg_wrap_dim(op, dims[i], x->ndim);
    if (d < 0) return -1;
    if (x->ndim == 0) continue;
    if (mask[d]) return sg_error(SG_ERR_ARG, "%s: dim %d listed twice", op, dims[i]);
    mask[d] = true;
  }
  return 0;
}

/* Shape of a reduction result. */
int sg_reduced_shape(const sg_tensor *x, const bool *mask, bool keepdim, int64_t *shape) {
  int k = 0;
  for (int i = 0; i < x->ndim; i++) {
    if (!mask[i]) shape[k++] = x->shape[i];
    else if (keepdim) shape[k++] = 1;
  }
  return k;
}

/* What sum saves for its backward. */
typedef struct sum_ctx {
  sg_ctx_shape in;           /* the input's shape */
  bool reduced[SG_MAX_DIMS]; /* the reduce mask */
} sum_ctx;

static sg_status sum_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  sum_ctx c;
  SG_CTX_LOAD(node, &c);
  /* Re-insert the reduced dims as size 1, then broadcast back. */
  int ndim = c.in.ndim;
  int64_t kshape[SG_MAX_DIMS];
  for (int i = 0; i < ndim; i++) kshape[i] = c.reduced[i] ? 1 : c.in.shape[i];
  sg_tensor *g = sg_reshape(go[0], kshape, ndim);
  gi[0] = g ? sg_expand(g, c.in.shape, ndim) : NULL;
  sg_release(g);
  return gi[0] ? SG_OK : sg_last_status();
}

sg_tensor *sg_sum(sg_tensor *x, const int *dims, int ndims, bool keepdim) {
  if (sg_check_arg("sum", "input", x)) return NULL;
  const sg_backend *be = sg_backend_checked("sum", x, offsetof(sg_backend, sum));
  if (!be) return NULL;
  bool mask[SG_MAX_DIMS];
  if (sg_reduce_mask("sum", x, dims, ndims, mask)) return NULL;
  int64_t shape[SG_MAX_DIMS];
  int nd = sg_reduced_shape(x, mask, keepdim, shape);
  /* Integer sums accumulate in int64, as PyTorch. */
  sg_dtype dt = sg_dtype_is_float(x->dtype) ? x->dtype : SG_INT64;
  sg_tensor *c = sg_as_contiguous_dtype(x, dt);
  sg_tensor *out = c ? sg_empty(shape, nd, dt, x->storage->device) : NULL;
  if (!out || be->sum->sum(out, c, mask) != SG_OK) {
    sg_release(out);
    sg_release(c);
    return NULL;
  }
  sg_release(c);
  if (sg_dtype_is_float(dt)) {
    sg_node *n = sg_record("sum", sum_backward, &x, 1, out);
    if (n) {
      sum_ctx ctx = {sg_ctx_shape_of(x), {false}};
      memcpy(ctx.reduced, mask, sizeof ctx.reduced);
      SG_CTX_STORE(n, &ctx);
    }
  }
  return out;
}

sg_tensor *sg_sum_to_shape(sg_tensor *x, const int64_t *shape, int ndim) {
  if (sg_check_arg("sum_to_shape", "input", x)) return NULL;
  if (ndim < 0 || (ndim > 0 && !shape)) {
    sg_error(SG_ERR_ARG, "sum_to_shape: invalid target shape (%d dims%s)", ndim,
             shape ? "" : ", NULL array");
    return NULL;
  }
  if (ndim > x->ndim) {
    char a[128], b[128];
    sg_error(SG_ERR_ARG, "sum_to_shape: cannot reduce %s to %s", sg_shape_str(x, a, sizeof a),
             sg_dims_str(shape, ndim, b, sizeof b));
    return NULL;
  }
  int dims[SG_MAX_DIMS], nd = 0;
  int lead = x->ndim - ndim;
  for (int i = 0; i < x->ndim; i++) {
    if (i < lead) {
      dims[nd++] = i;
    } else if (shape[i - lead] == 1 && x->shape[i] != 1) {
      dims[nd++] = i;
    } else if (shape[i - lead] != x->shape[i]) {
      char a[128], b[128];
      sg_error(SG_ERR_ARG, "sum_to_shape: cannot reduce %s to %s", sg_shape_str(x, a, sizeof a),
               sg_dims_str(shape, ndim, b, sizeof b));
      return NULL;
    }
  }
  if (nd == 0) return sg_reshape(x, shape, ndim);
  sg_tensor *s = sg_sum(x, dims, nd, true);
  if (!s) return NULL;
  sg_tensor *r = sg_reshape(s, shape, ndim);
  sg_release(s);
  return r;
}
