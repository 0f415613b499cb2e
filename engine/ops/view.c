/* Views: new geometry over the same storage, each differentiable. An op
 * file without a kernel family: a view only computes shapes and strides
 * (sg_alias, engine/core/tensor.c) and records its backward. */
#include <stdlib.h>
#include <string.h>

#include "internal/op_ctx.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

/* ---- backward formulas ---- */

/* What the backward of a view needs: the input's shape, and for narrow and
 * select the dim and where the window starts; for permute the permutation. */
typedef struct view_ctx {
  sg_ctx_shape in;
  int64_t dim, start;
} view_ctx;

typedef struct permute_ctx {
  int ndim;
  int perm[SG_MAX_DIMS];
} permute_ctx;

/* The adjoint of narrow: a zero gradient window's position. */
typedef struct embed_ctx {
  int64_t dim, start, length;
} embed_ctx;

static sg_status reshape_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  view_ctx c;
  SG_CTX_LOAD(node, &c);
  gi[0] = sg_reshape(go[0], c.in.shape, c.in.ndim);
  return gi[0] ? SG_OK : sg_last_status();
}

static void record_view(const char *name, sg_backward_fn backward, sg_tensor *in, sg_tensor *out,
                        int64_t dim, int64_t start) {
  sg_node *n = sg_record(name, backward, &in, 1, out);
  if (n) {
    view_ctx c = {sg_ctx_shape_of(in), dim, start};
    SG_CTX_STORE(n, &c);
  }
}

static sg_status permute_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  permute_ctx c;
  SG_CTX_LOAD(node, &c);
  int inv[SG_MAX_DIMS];
  for (int d = 0; d < c.ndim; d++) inv[c.perm[d]] = d;
  gi[0] = sg_permute(go[0], inv, c.ndim);
  return gi[0] ? SG_OK : sg_last_status();
}

static sg_tensor *narrow_embed(sg_tensor *g, const sg_ctx_shape *shape, int dim, int64_t start);

static sg_status narrow_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  view_ctx c;
  SG_CTX_LOAD(node, &c);
  gi[0] = narrow_embed(go[0], &c.in, (int)c.dim, c.start);
  return gi[0] ? SG_OK : sg_last_status();
}

static sg_status embed_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  embed_ctx c;
  SG_CTX_LOAD(node, &c);
  gi[0] = sg_narrow(go[0], (int)c.dim, c.start, c.length);
  return gi[0] ? SG_OK : sg_last_status();
}

/* zeros of `shape` with g written at [start, start+len) along dim; the
 * adjoint of narrow, itself differentiable (its backward is narrow). */
static sg_tensor *narrow_embed(sg_tensor *g, const sg_ctx_shape *shape, int dim, int64_t start) {
  sg_tensor *out = sg_zeros(shape->shape, shape->ndim, g->dtype, g->storage->device);
  if (!out) return NULL;
  sg_tensor *window = sg_alias(out, g->shape, out->strides, shape->ndim,
                               out->offset + start * out->strides[dim]);
  sg_status st = window ? sg_copy_(window, g) : sg_last_status();
  sg_release(window);
  if (st != SG_OK) {
    sg_release(out);
    return NULL;
  }
  sg_node *n = sg_record("narrow_backward", embed_backward, &g, 1, out);
  if (n) {
    embed_ctx c = {dim, start, g->shape[dim]};
    SG_CTX_STORE(n, &c);
  }
  return out;
}

static sg_status select_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  view_ctx c;
  SG_CTX_LOAD(node, &c);
  sg_tensor *u = sg_unsqueeze(go[0], (int)c.dim);
  if (!u) return sg_last_status();
  gi[0] = narrow_embed(u, &c.in, (int)c.dim, c.start);
  sg_release(u);
  return gi[0] ? SG_OK : sg_last_status();
}

static sg_status expand_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  view_ctx c;
  SG_CTX_LOAD(node, &c);
  gi[0] = sg_sum_to_shape(go[0], c.in.shape, c.in.ndim);
  return gi[0] ? SG_OK : sg_last_status();
}

/* ---- views ---- */

/* Resolves one -1 in shape against numel; checks the product. */
static int infer_shape(const char *op, const sg_tensor *t, const int64_t *shape, int ndim,
                       int64_t *out) {
  char buf[128], buf2[128];
  if (ndim < 0 || ndim > SG_MAX_DIMS)
    return sg_error(SG_ERR_ARG, "%s: %d dims requested, at most %d supported", op, ndim,
                    SG_MAX_DIMS);
  if (ndim > 0 && !shape) return sg_error(SG_ERR_ARG, "%s: shape is NULL for %d dims", op, ndim);
  int infer = -1;
  int64_t known = 1;
  /* the nonzero sizes alone are bounded too: they make the strides of an
   * empty view, which {0, 2^40, 2^40} would overflow */
  int64_t span = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] > 0 && span > INT64_MAX / shape[i])
      return sg_error(SG_ERR_ARG, "%s: shape %s has too many elements", op,
                      sg_dims_str(shape, ndim, buf2, sizeof buf2));
    if (shape[i] > 0) span *= shape[i];
    if (shape[i] == -1) {
      if (infer >= 0) return sg_error(SG_ERR_ARG, "%s: only one dim can be -1", op);
      infer = i;
    } else if (shape[i] < 0) {
      return sg_error(SG_ERR_ARG, "%s: invalid size %lld in dim %d", op, (long long)shape[i], i);
    } else {
      known *= shape[i];
    }
    out[i] = shape[i];
  }
  int64_t n = sg_numel(t);
  if (infer >= 0) {
    if (known == 0 || n % known != 0)
      return sg_error(SG_ERR_ARG, "%s: cannot view a tensor of shape %s (%lld elements) as %s",
                      op, sg_shape_str(t, buf, sizeof buf), (long long)n,
                      sg_dims_str(shape, ndim, buf2, sizeof buf2));
    out[infer] = n / known;
  } else if (known != n) {
    return sg_error(SG_ERR_ARG, "%s: cannot view a tensor of shape %s (%lld elements) as %s",
                    op, sg_shape_str(t, buf, sizeof buf), (long long)n,
                    sg_dims_str(shape, ndim, buf2, sizeof buf2));
  }
  return 0;
}

/* Strides for viewing t as `shape` without copying, if possible (PyTorch's
 * computeStride): returns false when a copy is needed. */
static bool view_strides(const sg_tensor *t, const int64_t *shape, int ndim, int64_t *strides) {
  if (sg_numel(t) == 0 || sg_is_contiguous(t)) {
    sg_contiguous_strides(shape, ndim, strides);
    return true;
  }
  int view_d = ndim - 1;
  int64_t chunk_base_stride = t->ndim ? t->strides[t->ndim - 1] : 1;
  int64_t tensor_numel = 1, view_numel = 1;
  for (int td = t->ndim - 1; td >= 0; td--) {
    tensor_numel *= t->shape[td];
    if (td == 0 || (t->shape[td - 1] != 1 && t->strides[td - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return false;
      if (td > 0) {
        chunk_base_stride = t->strides[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

sg_tensor *sg_view(sg_tensor *t, const int64_t *shape, int ndim) {
  int64_t sh[SG_MAX_DIMS], st[SG_MAX_DIMS];
  if (sg_check_arg("view", "input", t) || infer_shape("view", t, shape, ndim, sh)) return NULL;
  if (!view_strides(t, sh, ndim, st)) {
    char buf[128];
    sg_error(SG_ERR_ARG,
             "view: the tensor (%s) is not laid out compatibly with the new shape; "
             "use reshape (which copies) or contiguous() first",
             sg_shape_str(t, buf, sizeof buf));
    return NULL;
  }
  sg_tensor *out = sg_alias(t, sh, st, ndim, t->offset);
  if (out) record_view("view", reshape_backward, t, out, 0, 0);
  return out;
}

sg_tensor *sg_reshape(sg_tensor *t, const int64_t *shape, int ndim) {
  int64_t sh[SG_MAX_DIMS], st[SG_MAX_DIMS];
  if (sg_check_arg("reshape", "input", t) || infer_shape("reshape", t, shape, ndim, sh))
    return NULL;
  if (view_strides(t, sh, ndim, st)) {
    sg_tensor *out = sg_alias(t, sh, st, ndim, t->offset);
    if (out) record_view("reshape", reshape_backward, t, out, 0, 0);
    return out;
  }
  sg_tensor *c = sg_contiguous(t);
  if (!c) return NULL;
  sg_tensor *out = sg_view(c, sh, ndim);
  sg_release(c);
  return out;
}

sg_tensor *sg_permute(sg_tensor *t, const int *perm, int ndim) {
  if (sg_check_arg("permute", "input", t)) return NULL;
  if (ndim != t->ndim) {
    sg_error(SG_ERR_ARG, "permute: got %d dims for a tensor with %d dims", ndim, t->ndim);
    return NULL;
  }
  if (ndim > 0 && !perm) {
    sg_error(SG_ERR_ARG, "permute: perm is NULL");
    return NULL;
  }
  int64_t sh[SG_MAX_DIMS], st[SG_MAX_DIMS];
  bool seen[SG_MAX_DIMS] = {false};
  int p[SG_MAX_DIMS];
  for (int i = 0; i < ndim; i++) {
    int d = sg_wrap_dim("permute", perm[i], ndim);
    if (d < 0) return NULL;
    if (seen[d]) {
      sg_error(SG_ERR_ARG, "permute: dim %d repeated", perm[i]);
      return NULL;
    }
    seen[d] = true;
    p[i] = d;
    sh[i] = t->shape[d];
    st[i] = t->strides[d];
  }
  sg_tensor *out = sg_alias(t, sh, st, ndim, t->offset);
  if (!out) return NULL;
  sg_node *n = sg_record("permute", permute_backward, &t, 1, out);
  if (n) {
    permute_ctx c = {.ndim = ndim};
    memcpy(c.perm, p, sizeof(int) * (size_t)ndim);
    SG_CTX_STORE(n, &c);
  }
  return out;
}

sg_tensor *sg_transpose(sg_tensor *t, int d0, int d1) {
  if (sg_check_arg("transpose", "input", t)) return NULL;
  int a = sg_wrap_dim("transpose", d0, t->ndim), b = sg_wrap_dim("transpose", d1, t->ndim);
  if (a < 0 || b < 0) return NULL;
  int perm[SG_MAX_DIMS];
  for (int i = 0; i < t->ndim; i++) perm[i] = i;
  if (t->ndim == 0) return sg_permute(t, perm, 0);
  perm[a] = b;
  perm[b] = a;
  return sg_permute(t, perm, t->ndim);
}

sg_tensor *sg_narrow(sg_tensor *t, int dim, int64_t start, int64_t length) {
  if (sg_check_arg("narrow", "input", t)) return NULL;
  if (t->ndim == 0) {
    sg_error(SG_ERR_ARG, "narrow: cannot narrow a 0-dim tensor");
    return NULL;
  }
  int d = sg_wrap_dim("narrow", dim, t->ndim);
  if (d < 0) return NULL;
  if (start < 0) start += t->shape[d];
  if (start < 0 || length < 0 || start > t->shape[d] || length > t->shape[d] - start) {
    char buf[128];
    sg_error(SG_ERR_ARG, "narrow: range [%lld, %lld) out of bounds for dim %d of size %lld (%s)",
             (long long)start, (long long)((uint64_t)start + (uint64_t)length), dim,
             (long long)t->shape[d],
             sg_shape_str(t, buf, sizeof buf));
    return NULL;
  }
  int64_t sh[SG_MAX_DIMS];
  memcpy(sh, t->shape, sizeof sh);
  sh[d] = length;
  sg_tensor *out = sg_alias(t, sh, t->strides, t->ndim, t->offset + start * t->strides[d]);
  if (!out) return NULL;
  record_view("narrow", narrow_backward, t, out, d, start);
  return out;
}

sg_tensor *sg_select(sg_tensor *t, int dim, int64_t index) {
  if (sg_check_arg("select", "input", t)) return NULL;
  if (t->ndim == 0) {
    sg_error(SG_ERR_ARG, "select: cannot index a 0-dim tensor");
    return NULL;
  }
  int d = sg_wrap_dim("select", dim, t->ndim);
  if (d < 0) return NULL;
  int64_t size = t->shape[d];
  if (index < -size || index >= size) {
    sg_error(SG_ERR_ARG, "select: index %lld out of range for dim %d of size %lld",
             (long long)index, dim, (long long)size);
    return NULL;
  }
  if (index < 0) index += size;
  int64_t sh[SG_MAX_DIMS], st[SG_MAX_DIMS];
  int k = 0;
  for (int i = 0; i < t->ndim; i++) {
    if (i == d) continue;
    sh[k] = t->shape[i];
    st[k++] = t->strides[i];
  }
  sg_tensor *out = sg_alias(t, sh, st, k, t->offset + index * t->strides[d]);
  if (!out) return NULL;
  record_view("select", select_backward, t, out, d, index);
  return out;
}

sg_tensor *sg_expand(sg_tensor *t, const int64_t *shape, int ndim) {
  if (sg_check_arg("expand", "input", t)) return NULL;
  char buf[128], buf2[128];
  if (ndim < t->ndim || ndim > SG_MAX_DIMS) {
    sg_error(SG_ERR_ARG, "expand: cannot expand %s to %d dims", sg_shape_str(t, buf, sizeof buf),
             ndim);
    return NULL;
  }
  if (ndim > 0 && !shape) {
    sg_error(SG_ERR_ARG, "expand: shape is NULL for %d dims", ndim);
    return NULL;
  }
  int64_t sh[SG_MAX_DIMS], st[SG_MAX_DIMS];
  for (int i = 0; i < ndim; i++) {
    int it = t->ndim - ndim + i;
    int64_t want = shape[i];
    if (it < 0) {
      if (want < 0) {
        sg_error(SG_ERR_ARG, "expand: -1 not allowed for a new leading dim");
        return NULL;
      }
      sh[i] = want;
      st[i] = 0;
      continue;
    }
    if (want == -1) want = t->shape[it];
    if (t->shape[it] == want) {
      sh[i] = want;
      st[i] = t->strides[it];
    } else if (t->shape[it] == 1 && want >= 0) {
      sh[i] = want;
      st[i] = 0;
    } else {
      sg_error(SG_ERR_ARG, "expand: cannot expand %s to %s (dim %d has size %lld, not 1)",
               sg_shape_str(t, buf, sizeof buf), sg_dims_str(shape, ndim, buf2, sizeof buf2), i,
               (long long)t->shape[it]);
      return NULL;
    }
  }
  int64_t total = 1;
  for (int i = 0; i < ndim; i++) {
    if (sh[i] > 0 && total > (INT64_C(1) << 46) / sh[i]) { /* SG_MAX_NUMEL */
      sg_error(SG_ERR_ARG, "expand: shape %s has too many elements",
               sg_dims_str(shape, ndim, buf2, sizeof buf2));
      return NULL;
    }
    total *= sh[i];
  }
  sg_tensor *out = sg_alias(t, sh, st, ndim, t->offset);
  if (!out) return NULL;
  record_view("expand", expand_backward, t, out, 0, 0);
  return out;
}

sg_tensor *sg_squeeze(sg_tensor *t, int dim) {
  if (sg_check_arg("squeeze", "input", t)) return NULL;
  int64_t sh[SG_MAX_DIMS];
  int k = 0;
  int d = -1;
  if (dim != SG_ALL_DIMS) {
    d = sg_wrap_dim("squeeze", dim, t->ndim);
    if (d < 0) return NULL;
  }
  for (int i = 0; i < t->ndim; i++) {
    bool drop = t->shape[i] == 1 && (d < 0 || i == d);
    if (!drop) sh[k++] = t->shape[i];
  }
  return sg_reshape(t, sh, k);
}

sg_tensor *sg_unsqueeze(sg_tensor *t, int dim) {
  if (sg_check_arg("unsqueeze", "input", t)) return NULL;
  if (t->ndim >= SG_MAX_DIMS) {
    sg_error(SG_ERR_ARG, "unsqueeze: tensor already has %d dims (the maximum)", t->ndim);
    return NULL;
  }
  int d = sg_wrap_dim("unsqueeze", dim, t->ndim + 1);
  if (d < 0) return NULL;
  int64_t sh[SG_MAX_DIMS];
  for (int i = 0, k = 0; i <= t->ndim; i++) sh[i] = i == d ? 1 : t->shape[k++];
  return sg_reshape(t, sh, t->ndim + 1);
}

sg_tensor *sg_flatten(sg_tensor *t, int start_dim, int end_dim) {
  if (sg_check_arg("flatten", "input", t)) return NULL;
  if (t->ndim == 0) {
    int64_t one = 1;
    return sg_reshape(t, &one, 1);
  }
  int s = sg_wrap_dim("flatten", start_dim, t->ndim), e = sg_wrap_dim("flatten", end_dim, t->ndim);
  if (s < 0 || e < 0) return NULL;
  if (s > e) {
    sg_error(SG_ERR_ARG, "flatten: start dim %d is after end dim %d", start_dim, end_dim);
    return NULL;
  }
  int64_t sh[SG_MAX_DIMS];
  int k = 0;
  for (int i = 0; i < s; i++) sh[k++] = t->shape[i];
  int64_t m = 1;
  for (int i = s; i <= e; i++) m *= t->shape[i];
  sh[k++] = m;
  for (int i = e + 1; i < t->ndim; i++) sh[k++] = t->shape[i];
  return sg_reshape(t, sh, k);
}
