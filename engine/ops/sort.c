/* topk and stable sort along a dim: values (differentiable: the gradient is
 * scattered back to the source indices) and int64 indices.
 *
 * Order: NaN counts as larger than every number (PyTorch); among equal
 * values the lower index comes first (sort is stable, topk deterministic).
 * topk with sorted=false still returns a deterministic order. */
#include <string.h>

#include "internal/backend.h"
#include "internal/kernels_sort.h"
#include "internal/op_ctx.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

/* What topk / sort save for their backward (besides the indices). */
typedef struct select_ctx {
  int dim;
  sg_ctx_shape in; /* the input's shape */
} select_ctx;

static sg_status select_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  select_ctx c;
  SG_CTX_LOAD(node, &c);
  sg_tensor *index = sg_node_saved(node, 0);
  sg_tensor *z = index ? sg_zeros(c.in.shape, c.in.ndim, go[0]->dtype, go[0]->storage->device)
                       : NULL;
  gi[0] = z ? sg_scatter_add(z, c.dim, index, go[0]) : NULL;
  sg_release(z);
  sg_release(index);
  return gi[0] ? SG_OK : sg_last_status();
}

/* Shared by topk (k >= 0) and sort (k < 0: all). */
static sg_status select_impl(const char *op, sg_tensor *x, int64_t k, int dim, bool largest,
                             bool sorted, sg_tensor **values, sg_tensor **indices) {
  char a[128];
  if (values) *values = NULL;
  if (indices) *indices = NULL;
  if (sg_check_arg(op, "input", x)) return sg_last_status();
  if (!values || !indices)
    return sg_error(SG_ERR_ARG, "%s: the values or indices output pointer is NULL", op);
  int d = sg_wrap_dim(op, dim, x->ndim);
  if (d < 0) return sg_last_status();
  int64_t n = x->ndim ? x->shape[d] : 1;
  if (k < 0) k = n;
  else if (k > n || (x->ndim == 0 && k != 1))
    return sg_error(SG_ERR_ARG, "%s: k = %lld out of range for dim %d of size %lld (input %s)",
                    op, (long long)k, dim, (long long)n, sg_shape_str(x, a, sizeof a));
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, sort));
  if (!be) return sg_last_status();
  int64_t shape[SG_MAX_DIMS];
  memcpy(shape, x->shape, sizeof shape);
  if (x->ndim) shape[d] = k;
  sg_tensor *xc = sg_as_contiguous_dtype(x, x->dtype);
  sg_tensor *v = xc ? sg_empty(shape, x->ndim, x->dtype, x->storage->device) : NULL;
  sg_tensor *ix = v ? sg_empty(shape, x->ndim, SG_INT64, x->storage->device) : NULL;
  sg_status st = ix ? SG_OK : sg_last_status();
  if (st == SG_OK) {
    if (strcmp(op, "sort") == 0) st = be->sort->sort(v, ix, xc, d, largest);
    else st = be->sort->topk(v, ix, xc, d, k, largest, sorted);
  }
  sg_release(xc);
  if (st != SG_OK) {
    sg_release(v);
    sg_release(ix);
    return st;
  }
  if (sg_dtype_is_float(x->dtype)) {
    sg_node *node = sg_record(op, select_backward, &x, 1, v);
    if (node) {
      select_ctx ctx = {d, sg_ctx_shape_of(x)};
      SG_CTX_STORE(node, &ctx);
      sg_node_save(node, ix);
    }
  }
  *values = v;
  *indices = ix;
  return SG_OK;
}

sg_status sg_topk(sg_tensor *x, int64_t k, int dim, bool largest, bool sorted,
                  sg_tensor **values, sg_tensor **indices) {
  if (k < 0) {
    if (values) *values = NULL;
    if (indices) *indices = NULL;
    char a[128];
    return sg_error(SG_ERR_ARG, "topk: k = %lld must be >= 0 (input %s)", (long long)k,
                    x ? sg_shape_str(x, a, sizeof a) : "NULL");
  }
  if (x && x->dtype == SG_BOOL) {
    if (values) *values = NULL;
    if (indices) *indices = NULL;
    return sg_error(SG_ERR_ARG, "topk: not implemented for dtype bool");
  }
  return select_impl("topk", x, k, dim, largest, sorted, values, indices);
}

sg_status sg_sort(sg_tensor *x, int dim, bool descending, sg_tensor **values,
                  sg_tensor **indices) {
  return select_impl("sort", x, -1, dim, descending, true, values, indices);
}
