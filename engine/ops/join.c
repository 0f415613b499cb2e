/* cat, stack, split. cat copies each piece into a window of the output
 * (the backend's copy); its backward narrows the gradient back into pieces
 * (narrow is a differentiable view, so double backward works). */
#include <stdlib.h>
#include <string.h>

#include "internal/backend.h"
#include "internal/op_ctx.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

/* What cat saves for its backward: the pieces' lengths along dim. */
typedef struct cat_ctx {
  int dim;
  int64_t len[SG_NODE_MAX_INPUTS];
} cat_ctx;

static sg_status cat_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  cat_ctx c;
  SG_CTX_LOAD(node, &c);
  int dim = c.dim;
  int64_t off = 0;
  for (int k = 0; k < node->n_inputs; k++) {
    int64_t len = c.len[k];
    if (sg_node_wants(node, k)) {
      gi[k] = sg_narrow(go[0], dim, off, len);
      if (!gi[k]) return sg_last_status();
    }
    off += len;
  }
  return SG_OK;
}

/* 1-D empty tensors are skipped by cat, as PyTorch (legacy behaviour). */
static bool cat_skipped(const sg_tensor *t) { return t->ndim == 1 && t->shape[0] == 0; }

/* Same-dtype, validated pieces (n <= SG_NODE_MAX_INPUTS): copies and records. */
static sg_tensor *cat_pieces(sg_tensor *const *ts, int n, int dim, const int64_t *shape0,
                             int ndim) {
  int64_t shape[SG_MAX_DIMS];
  memcpy(shape, shape0, sizeof(int64_t) * (size_t)ndim);
  shape[dim] = 0;
  for (int k = 0; k < n; k++) shape[dim] += ts[k]->shape[dim];
  sg_tensor *out = sg_empty(shape, ndim, ts[0]->dtype, ts[0]->storage->device);
  if (!out) return NULL;
  int64_t off = 0;
  for (int k = 0; k < n; k++) {
    int64_t len = ts[k]->shape[dim];
    if (len > 0 && sg_numel(ts[k]) > 0) {
      sg_tensor *win = sg_alias(out, ts[k]->shape, out->strides, ndim,
                                out->offset + off * out->strides[dim]);
      sg_status st = win ? sg_copy_(win, ts[k]) : sg_last_status();
      sg_release(win);
      if (st != SG_OK) {
        sg_error_context("cat");
        sg_release(out);
        return NULL;
      }
    }
    off += len;
  }
  if (sg_dtype_is_float(out->dtype)) {
    sg_node *nd = sg_record("cat", cat_backward, ts, n, out);
    if (nd) {
      cat_ctx ctx = {dim, {0}};
      for (int k = 0; k < n; k++) ctx.len[k] = ts[k]->shape[dim];
      SG_CTX_STORE(nd, &ctx);
    }
  }
  return out;
}

sg_tensor *sg_cat(sg_tensor *const *ts, int n, int dim) {
  char a[128], b[128];
  if (!ts || n < 1) {
    sg_error(SG_ERR_ARG, "cat: expected a non-empty list of tensors (got %d)", n);
    return NULL;
  }
  int first = -1;
  sg_dtype dt = SG_BOOL;
  for (int k = 0; k < n; k++) {
    if (!ts[k]) {
      sg_error(SG_ERR_ARG, "cat: tensor %d is missing (NULL)", k);
      return NULL;
    }
    if (k > 0 && sg_check_same_device("cat", ts[0], ts[k])) return NULL;
    dt = k == 0 ? ts[0]->dtype : sg_promote_types(dt, ts[k]->dtype);
    if (first < 0 && !cat_skipped(ts[k])) first = k;
  }
  if (first < 0) /* only 1-D empty tensors */
    return sg_empty((const int64_t[]){0}, 1, dt, ts[0]->storage->device);
  const sg_tensor *ref = ts[first];
  if (ref->ndim == 0) {
    sg_error(SG_ERR_ARG, "cat: tensor %d is 0-dim; zero-dimensional tensors cannot be "
             "concatenated (unsqueeze them or use stack)", first);
    return NULL;
  }
  int d = sg_wrap_dim("cat", dim, ref->ndim);
  if (d < 0) return NULL;
  for (int k = 0; k < n; k++) {
    const sg_tensor *t = ts[k];
    if (cat_skipped(t)) continue;
    bool ok = t->ndim == ref->ndim;
    for (int i = 0; ok && i < t->ndim; i++)
      if (i != d && t->shape[i] != ref->shape[i]) ok = false;
    if (!ok) {
      sg_error(SG_ERR_ARG,
               "cat: tensor %d has shape %s, expected the shape of tensor %d (%s) in every dim "
               "but dim %d",
               k, sg_shape_str(t, a, sizeof a), first, sg_shape_str(ref, b, sizeof b), dim);
      return NULL;
    }
  }
  /* the pieces in the output dtype (to_dtype is differentiable) */
  sg_tensor *stack_buf[64];
  sg_tensor **pieces = stack_buf;
  if (n > 64) {
    pieces = calloc((size_t)n, sizeof *pieces);
    if (!pieces) {
      sg_error(SG_ERR_MEM, "cat: out of memory");
      return NULL;
    }
  }
  int m = 0;
  sg_tensor *out = NULL;
  for (int k = 0; k < n; k++) {
    if (cat_skipped(ts[k])) continue;
    pieces[m] = sg_to_dtype(ts[k], dt);
    if (!pieces[m]) goto done;
    m++;
  }
  /* a graph node holds at most SG_NODE_MAX_INPUTS inputs: join in groups */
  while (m > SG_NODE_MAX_INPUTS) {
    int g = 0;
    for (int s = 0; s < m; s += SG_NODE_MAX_INPUTS) {
      int cnt = m - s < SG_NODE_MAX_INPUTS ? m - s : SG_NODE_MAX_INPUTS;
      sg_tensor *part = cat_pieces(pieces + s, cnt, d, ref->shape, ref->ndim);
      if (!part) goto done;
      for (int q = 0; q < cnt; q++) {
        sg_release(pieces[s + q]);
        pieces[s + q] = NULL;
      }
      pieces[g++] = part;
    }
    m = g;
  }
  out = cat_pieces(pieces, m, d, ref->shape, ref->ndim);
done:
  for (int k = 0; k < m; k++) sg_release(pieces[k]);
  if (pieces != stack_buf) free(pieces);
  return out;
}

sg_tensor *sg_stack(sg_tensor *const *ts, int n, int dim) {
  char a[128], b[128];
  if (!ts || n < 1) {
    sg_error(SG_ERR_ARG, "stack: expected a non-empty list of tensors (got %d)", n);
    return NULL;
  }
  for (int k = 0; k < n; k++) {
    if (!ts[k]) {
      sg_error(SG_ERR_ARG, "stack: tensor %d is missing (NULL)", k);
      return NULL;
    }
    if (!sg_same_shape(ts[k], ts[0])) {
      sg_error(SG_ERR_ARG, "stack: tensor %d has shape %s, expected %s like tensor 0", k,
               sg_shape_str(ts[k], a, sizeof a), sg_shape_str(ts[0], b, sizeof b));
      return NULL;
    }
  }
  int d = sg_wrap_dim("stack", dim, ts[0]->ndim + 1);
  if (d < 0) return NULL;
  sg_tensor *stack_buf[64];
  sg_tensor **us = stack_buf;
  if (n > 64) {
    us = calloc((size_t)n, sizeof *us);
    if (!us) {
      sg_error(SG_ERR_MEM, "stack: out of memory");
      return NULL;
    }
  }
  sg_tensor *out = NULL;
  int m = 0;
  for (; m < n; m++) {
    us[m] = sg_unsqueeze(ts[m], d);
    if (!us[m]) break;
  }
  if (m == n) out = sg_cat(us, n, d);
  for (int k = 0; k < m; k++) sg_release(us[k]);
  if (us != stack_buf) free(us);
  if (!out) sg_error_context("stack");
  return out;
}

sg_status sg_split(sg_tensor *x, int64_t split_size, int dim, sg_tensor **outs, int max_out,
                   int *n_out) {
  char a[128];
  if (n_out) *n_out = 0;
  if (sg_check_arg("split", "input", x)) return sg_last_status();
  if (!outs || !n_out)
    return sg_error(SG_ERR_ARG, "split: the output array or count pointer is NULL");
  if (x->ndim == 0) return sg_error(SG_ERR_ARG, "split: cannot split a 0-dim tensor");
  int d = sg_wrap_dim("split", dim, x->ndim);
  if (d < 0) return sg_last_status();
  int64_t size = x->shape[d];
  if (split_size < 1 && !(split_size == 0 && size == 0))
    return sg_error(SG_ERR_ARG, "split: split_size must be >= 1 (got %lld) for input %s",
                    (long long)split_size, sg_shape_str(x, a, sizeof a));
  int64_t count = size == 0 ? 1 : (size - 1) / split_size + 1; /* no overflow */
  if (count > max_out)
    return sg_error(SG_ERR_ARG,
                    "split: dim %d of size %lld in pieces of %lld gives %lld pieces, more than "
                    "max_out = %d",
                    dim, (long long)size, (long long)split_size, (long long)count, max_out);
  for (int64_t k = 0; k < count; k++) {
    int64_t start = k * split_size;
    int64_t len = size - start < split_size ? size - start : split_size;
    if (size == 0) start = len = 0;
    outs[k] = sg_narrow(x, d, start, len);
    if (!outs[k]) {
      sg_release_all(outs, (int)k);
      return sg_last_status();
    }
  }
  *n_out = (int)count;
  return SG_OK;
}
