/* Reductions: mean, var, std, norm, logsumexp, max/min along a dim (values
 * and indices) and over all elements, argmax/argmin; plus the internal
 * take/put-along-dim pair that max/min and nll_loss use in their backward.
 *
 * mean (and std over var) are composites of sum / var. var, norm and
 * logsumexp have fused kernels; their backward formulas are written with
 * public ops, so they are differentiable again (double backward).
 *
 * Integer inputs: max/min/argmax/argmin work on every dtype; mean, var,
 * std, norm and logsumexp need a float tensor and say so (PyTorch also
 * refuses integer mean/var), rather than silently promoting. */
#include <math.h>
#include <string.h>

#include "internal/backend.h"
#include "internal/kernels_reduce.h"
#include "internal/ops_internal.h"
#include "internal/op_ctx.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

/* ---------------- helpers ---------------- */

typedef struct rlayout {
  int64_t O, N, I;
} rlayout;

/* A contiguous tensor of dtype dt holding x arranged as [O, N, I], the
 * masked dims making up N. Kept dims keep their order across O and I, so
 * an [O, I] buffer is the reduced result in row-major order. Copies only
 * when the reduced dims (of size > 1) are not one block. */
static sg_tensor *reduce_layout(const sg_tensor *x, const bool *mask, sg_dtype dt, rlayout *L) {
  int nd = x->ndim, first = -1, last = -1;
  for (int d = 0; d < nd; d++)
    if (mask[d] && x->shape[d] != 1) {
      if (first < 0) first = d;
      last = d;
    }
  bool block = true;
  if (first >= 0)
    for (int d = first; d <= last; d++)
      if (!mask[d] && x->shape[d] != 1) block = false;
  L->O = L->N = L->I = 1;
  if (block) {
    if (first < 0) {
      L->O = sg_numel(x);
    } else {
      for (int d = 0; d < first; d++) L->O *= x->shape[d];
      for (int d = first; d <= last; d++) L->N *= x->shape[d];
      for (int d = last + 1; d < nd; d++) L->I *= x->shape[d];
    }
    return sg_as_contiguous_dtype(x, dt);
  }
  /* kept dims first, reduced dims last, then copy */
  int64_t sh[SG_MAX_DIMS], st[SG_MAX_DIMS];
  int k = 0;
  for (int d = 0; d < nd; d++)
    if (!mask[d]) {
      sh[k] = x->shape[d];
      st[k++] = x->strides[d];
      L->O *= x->shape[d];
    }
  for (int d = 0; d < nd; d++)
    if (mask[d]) {
      sh[k] = x->shape[d];
      st[k++] = x->strides[d];
      L->N *= x->shape[d];
    }
  sg_tensor *pv = sg_alias(x, sh, st, nd, x->offset);
  if (!pv) return NULL;
  sg_tensor *c = sg_as_contiguous_dtype(pv, dt);
  sg_release(pv);
  return c;
}

/* The float reductions var / norm / logsumexp share their kernel call: x laid
 * out as [O, N, I] over mask, the result a new tensor of the reduced shape.
 * param is var's correction or norm's p. NULL (error naming op) on failure. */
typedef enum { RK_VAR, RK_NORM, RK_LSE } reduce_kind;

static sg_tensor *run_float_reduction(const char *op, const sg_backend *be, reduce_kind kind,
                                      const sg_tensor *x, const bool *mask,
                                      const int64_t *shape, int nd, double param) {
  rlayout L;
  sg_tensor *c = reduce_layout(x, mask, x->dtype, &L);
  sg_tensor *out = c ? sg_empty(shape, nd, x->dtype, x->storage->device) : NULL;
  sg_status st = SG_OK;
  if (out) {
    switch (kind) {
      case RK_VAR: st = be->reduce->var(out, c, L.O, L.N, L.I, param); break;
      case RK_NORM: st = be->reduce->norm(out, c, L.O, L.N, L.I, param); break;
      case RK_LSE: st = be->reduce->logsumexp(out, c, L.O, L.N, L.I); break;
    }
  }
  if (!out || st != SG_OK) {
    if (out) sg_error_context("%s", op);
    sg_release(out);
    sg_release(c);
    return NULL;
  }
  sg_release(c);
  return out;
}

static int64_t reduced_count(const sg_tensor *x, const bool *mask) {
  int64_t n = 1;
  for (int d = 0; d < x->ndim; d++)
    if (mask[d]) n *= x->shape[d];
  return n;
}

static int require_float(const char *op, const sg_tensor *x) {
  if (sg_dtype_is_float(x->dtype)) return 0;
  char b[128];
  return sg_error(SG_ERR_ARG,
                  "%s: expected a float tensor (float32 or float64), got %s (input %s); "
                  "convert it with to_dtype first",
                  op, sg_dtype_name(x->dtype), sg_shape_str(x, b, sizeof b));
}

/* What the dim-list reductions (var, norm, logsumexp) save for their
 * backward (besides x and maybe the output). */
typedef struct reduce_ctx {
  bool reduced[SG_MAX_DIMS]; /* the reduce mask */
  int ndim;                  /* the input's */
  bool keepdim;
  double coef; /* var: the divisor N - correction (>= 0); norm: p */
} reduce_ctx;

static void store_ctx(sg_node *n, const sg_tensor *x, const bool *mask, bool keepdim,
                      double coef) {
  reduce_ctx c;
  memset(&c, 0, sizeof c);
  memcpy(c.reduced, mask, sizeof(bool) * (size_t)x->ndim);
  c.ndim = x->ndim;
  c.keepdim = keepdim;
  c.coef = coef;
  SG_CTX_STORE(n, &c);
}

static reduce_ctx load_ctx(const sg_node *n) {
  reduce_ctx c;
  SG_CTX_LOAD(n, &c);
  return c;
}

/* The reduced dims as a list (for sum/mean with keepdim). */
static int node_dims(const reduce_ctx *c, int *dims) {
  int k = 0;
  for (int d = 0; d < c->ndim; d++)
    if (c->reduced[d]) dims[k++] = d;
  return k;
}

/* t (a reduction result) reshaped to the keepdim shape of x, so that it
 * broadcasts against x. New reference. */
static sg_tensor *as_keepdim(const reduce_ctx *c, sg_tensor *t, const sg_tensor *x) {
  int64_t ks[SG_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) ks[d] = c->reduced[d] ? 1 : x->shape[d];
  return sg_reshape(t, ks, x->ndim);
}

/* Releases the n temporaries of a formula (NULL entries are fine). */
static void drop(sg_tensor **ts, int n) { sg_release_all(ts, n); }

/* ---------------- mean ---------------- */

sg_tensor *sg_mean(sg_tensor *x, const int *dims, int ndims, bool keepdim) {
  if (sg_check_arg("mean", "input", x) || require_float("mean", x)) return NULL;
  bool mask[SG_MAX_DIMS];
  if (sg_reduce_mask("mean", x, dims, ndims, mask)) return NULL;
  int64_t cnt = reduced_count(x, mask);
  sg_tensor *s = sg_sum(x, dims, ndims, keepdim);
  sg_tensor *r = s ? sg_div_scalar(s, (double)cnt) : NULL; /* empty: 0/0 = nan, as PyTorch */
  sg_release(s);
  return r;
}

/* ---------------- var / std ---------------- */

/* d var / dx = g * 2 (x - mean) / (N - correction) */
static sg_status var_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  reduce_ctx rc = load_ctx(node);
  sg_tensor *x = sg_node_saved(node, 0);
  if (!x) return sg_last_status();
  int dims[SG_MAX_DIMS];
  int nd = node_dims(&rc, dims);
  sg_tensor *t[5] = {0};
  t[0] = as_keepdim(&rc, go[0], x);
  t[1] = t[0] ? sg_mean(x, dims, nd, true) : NULL;
  t[2] = t[1] ? sg_sub(x, t[1]) : NULL;
  t[3] = t[2] ? sg_mul(t[2], t[0]) : NULL;
  gi[0] = t[3] ? sg_mul_scalar(t[3], 2.0 / rc.coef) : NULL;
  drop(t, 5);
  sg_release(x);
  return gi[0] ? SG_OK : sg_last_status();
}

static sg_tensor *var_impl(const char *op, sg_tensor *x, const int *dims, int ndims,
                           int correction, bool keepdim) {
  if (sg_check_arg(op, "input", x) || require_float(op, x)) return NULL;
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, reduce));
  if (!be) return NULL;
  bool mask[SG_MAX_DIMS];
  if (sg_reduce_mask(op, x, dims, ndims, mask)) return NULL;
  int64_t shape[SG_MAX_DIMS];
  int nd = sg_reduced_shape(x, mask, keepdim, shape);
  sg_tensor *out = run_float_reduction(op, be, RK_VAR, x, mask, shape, nd, (double)correction);
  if (!out) return NULL;
  sg_node *n = sg_record("var", var_backward, &x, 1, out);
  if (n) {
    double div = (double)reduced_count(x, mask) - (double)correction;
    store_ctx(n, x, mask, keepdim, div > 0 ? div : 0);
    sg_node_save(n, x);
  }
  return out;
}

sg_tensor *sg_var(sg_tensor *x, const int *dims, int ndims, int correction, bool keepdim) {
  return var_impl("var", x, dims, ndims, correction, keepdim);
}

sg_tensor *sg_std(sg_tensor *x, const int *dims, int ndims, int correction, bool keepdim) {
  sg_tensor *v = var_impl("std", x, dims, ndims, correction, keepdim);
  sg_tensor *s = v ? sg_sqrt(v) : NULL;
  sg_release(v);
  return s;
}

/* ---------------- norm ---------------- */

static sg_status norm_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  reduce_ctx rc = load_ctx(node);
  sg_tensor *x = sg_node_saved(node, 0), *y = sg_node_saved(node, 1);
  double p = rc.coef;
  sg_tensor *t[12] = {0};
  sg_tensor *r = NULL;
  if (!x || !y) goto out;
  sg_tensor *g = t[0] = as_keepdim(&rc, go[0], x);
  sg_tensor *yk = t[1] = g ? as_keepdim(&rc, y, x) : NULL;
  if (!yk) goto out;
  if (p == 1) {
    /* g * sign(x) */
    t[2] = sg_sign(x);
    r = t[2] ? sg_mul(t[2], g) : NULL;
  } else if (p == 2) {
    /* x * (g / y), 0 where y == 0 (PyTorch) */
    t[2] = sg_div(g, yk);
    t[3] = t[2] ? sg_cmp_scalar(SG_EQ, yk, 0.0) : NULL;
    t[4] = t[3] ? sg_masked_fill(t[2], t[3], 0.0) : NULL;
    r = t[4] ? sg_mul(x, t[4]) : NULL;
  } else if (isinf(p)) {
    /* sign(x) * [|x| == y] * g / count of the maxima (ties share evenly) */
    int dims[SG_MAX_DIMS];
    int nd = node_dims(&rc, dims);
    t[2] = sg_abs(x);
    t[3] = t[2] ? sg_eq(t[2], yk) : NULL;
    t[4] = t[3] ? sg_to_dtype(t[3], x->dtype) : NULL;
    t[5] = t[4] ? sg_sum(t[4], dims, nd, true) : NULL;
    t[6] = t[5] ? sg_sign(x) : NULL;
    t[7] = t[6] ? sg_mul(t[6], t[4]) : NULL;
    t[8] = t[7] ? sg_div(g, t[5]) : NULL;
    r = t[8] ? sg_mul(t[7], t[8]) : NULL;
  } else {
    /* sign(x) |x|^(p-1) * g / y^(p-1), 0 where y == 0 (and where x == 0 for p < 1) */
    t[2] = sg_abs(x);
    t[3] = t[2] ? sg_pow_scalar(t[2], p - 1) : NULL;
    if (t[3] && p < 1) {
      sg_tensor *z = sg_cmp_scalar(SG_EQ, x, 0.0);
      sg_tensor *m = z ? sg_masked_fill(t[3], z, 0.0) : NULL;
      sg_release(z);
      sg_release(t[3]);
      t[3] = m;
    }
    t[4] = t[3] ? sg_sign(x) : NULL;
    t[5] = t[4] ? sg_mul(t[4], t[3]) : NULL;
    t[6] = t[5] ? sg_pow_scalar(yk, p - 1) : NULL;
    t[7] = t[6] ? sg_div(g, t[6]) : NULL;
    t[8] = t[7] ? sg_cmp_scalar(SG_EQ, yk, 0.0) : NULL;
    t[9] = t[8] ? sg_masked_fill(t[7], t[8], 0.0) : NULL;
    r = t[9] ? sg_mul(t[5], t[9]) : NULL;
  }
out:
  drop(t, 12);
  sg_release(x);
  sg_release(y);
  gi[0] = r;
  return r ? SG_OK : sg_last_status();
}

sg_tensor *sg_norm(sg_tensor *x, double p, const int *dims, int ndims, bool keepdim) {
  if (sg_check_arg("norm", "input", x) || require_float("norm", x)) return NULL;
  if (!(p > 0)) {
    sg_error(SG_ERR_ARG, "norm: p = %g is not supported (expected p > 0, or INFINITY)", p);
    return NULL;
  }
  const sg_backend *be = sg_backend_checked("norm", x, offsetof(sg_backend, reduce));
  if (!be) return NULL;
  bool mask[SG_MAX_DIMS];
  if (sg_reduce_mask("norm", x, dims, ndims, mask)) return NULL;
  int64_t shape[SG_MAX_DIMS];
  int nd = sg_reduced_shape(x, mask, keepdim, shape);
  if (isinf(p) && reduced_count(x, mask) == 0 && sg_shape_numel(shape, nd) > 0) {
    char b[128];
    sg_error(SG_ERR_ARG,
             "norm: the infinity norm over an empty reduction (input %s) has no identity",
             sg_shape_str(x, b, sizeof b));
    return NULL;
  }
  sg_tensor *out = run_float_reduction("norm", be, RK_NORM, x, mask, shape, nd, p);
  if (!out) return NULL;
  sg_node *n = sg_record("norm", norm_backward, &x, 1, out);
  if (n) {
    store_ctx(n, x, mask, keepdim, p);
    sg_node_save(n, x);
    sg_node_save_output(n, out, 0);
  }
  return out;
}

/* ---------------- logsumexp ---------------- */

/* g * exp(x - y) */
static sg_status lse_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  reduce_ctx rc = load_ctx(node);
  sg_tensor *x = sg_node_saved(node, 0), *y = sg_node_saved(node, 1);
  sg_tensor *t[4] = {0};
  if (x && y) {
    t[0] = as_keepdim(&rc, go[0], x);
    t[1] = t[0] ? as_keepdim(&rc, y, x) : NULL;
    t[2] = t[1] ? sg_sub(x, t[1]) : NULL;
    t[3] = t[2] ? sg_exp(t[2]) : NULL;
    gi[0] = t[3] ? sg_mul(t[3], t[0]) : NULL;
  }
  drop(t, 4);
  sg_release(x);
  sg_release(y);
  return gi[0] ? SG_OK : sg_last_status();
}

sg_tensor *sg_logsumexp(sg_tensor *x, const int *dims, int ndims, bool keepdim) {
  if (sg_check_arg("logsumexp", "input", x) || require_float("logsumexp", x)) return NULL;
  const sg_backend *be = sg_backend_checked("logsumexp", x, offsetof(sg_backend, reduce));
  if (!be) return NULL;
  bool mask[SG_MAX_DIMS];
  if (sg_reduce_mask("logsumexp", x, dims, ndims, mask)) return NULL;
  int64_t shape[SG_MAX_DIMS];
  int nd = sg_reduced_shape(x, mask, keepdim, shape);
  sg_tensor *out = run_float_reduction("logsumexp", be, RK_LSE, x, mask, shape, nd, 0);
  if (!out) return NULL;
  sg_node *n = sg_record("logsumexp", lse_backward, &x, 1, out);
  if (n) {
    store_ctx(n, x, mask, keepdim, 0);
    sg_node_save(n, x);
    sg_node_save_output(n, out, 0);
  }
  return out;
}

/* ---------------- max / min along a dim ---------------- */

/* What max / min along a dim save for their backward (besides the
 * indices). */
typedef struct minmax_ctx {
  int dim;
  int64_t n; /* the input's size along dim */
  bool keepdim;
  int ndim; /* the input's */
} minmax_ctx;

/* The gradient goes to the selected index: put_along(g, indices). */
static sg_status minmax_dim_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  if (!go[0]) return SG_OK;
  minmax_ctx c;
  SG_CTX_LOAD(node, &c);
  int d = c.dim;
  int64_t N = c.n;
  bool keepdim = c.keepdim;
  int ndim = c.ndim;
  if (ndim == 0) { /* max of a scalar is the scalar */
    gi[0] = sg_retain(go[0]);
    return SG_OK;
  }
  sg_tensor *idx = sg_node_saved(node, 0);
  if (!idx) return sg_last_status();
  sg_tensor *gk = keepdim ? sg_retain(go[0]) : sg_unsqueeze(go[0], d);
  sg_tensor *ik = keepdim ? sg_retain(idx) : sg_unsqueeze(idx, d);
  gi[0] = (gk && ik) ? sg_internal_put_along(gk, ik, d, N) : NULL;
  sg_release(gk);
  sg_release(ik);
  sg_release(idx);
  return gi[0] ? SG_OK : sg_last_status();
}

static sg_status minmax_dim_impl(const char *op, sg_tensor *x, int dim, bool keepdim,
                                 sg_tensor **values, sg_tensor **indices, bool is_max,
                                 bool record) {
  if (values) *values = NULL;
  if (indices) *indices = NULL;
  if (sg_check_arg(op, "input", x)) return sg_last_status();
  if (!values && !indices)
    return sg_error(SG_ERR_ARG, "%s: both output pointers (values, indices) are NULL", op);
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, reduce));
  if (!be) return sg_last_status();
  int d = sg_wrap_dim(op, dim, x->ndim);
  if (d < 0) return sg_last_status();
  int64_t N = x->ndim ? x->shape[d] : 1, O = 1, I = 1;
  if (N == 0) {
    char b[128];
    return sg_error(SG_ERR_ARG,
                    "%s: cannot reduce over dim %d of size 0 (input %s): the operation has no "
                    "identity",
                    op, dim, sg_shape_str(x, b, sizeof b));
  }
  int64_t shape[SG_MAX_DIMS];
  int nd = 0;
  for (int i = 0; i < x->ndim; i++) {
    if (i < d) O *= x->shape[i];
    if (i > d) I *= x->shape[i];
    if (i != d) shape[nd++] = x->shape[i];
    else if (keepdim) shape[nd++] = 1;
  }
  sg_tensor *c = sg_as_contiguous_dtype(x, x->dtype);
  sg_tensor *vals = c ? sg_empty(shape, nd, x->dtype, x->storage->device) : NULL;
  sg_tensor *idx = vals ? sg_empty(shape, nd, SG_INT64, x->storage->device) : NULL;
  if (!idx || be->reduce->minmax(vals, idx, c, O, N, I, is_max) != SG_OK) {
    if (idx) sg_error_context("%s", op);
    sg_release(c);
    sg_release(vals);
    sg_release(idx);
    return sg_last_status();
  }
  sg_release(c);
  if (record && sg_dtype_is_float(x->dtype)) {
    sg_tensor *outs[2] = {vals, idx};
    sg_node *n = sg_record_multi(op, minmax_dim_backward, &x, 1, outs, 2);
    if (n) {
      minmax_ctx ctx = {d, N, keepdim, x->ndim};
      SG_CTX_STORE(n, &ctx);
      sg_node_save(n, idx); /* int64, holds no node: no cycle */
    }
  }
  if (values) *values = vals;
  else sg_release(vals);
  if (indices) *indices = idx;
  else sg_release(idx);
  return SG_OK;
}

sg_status sg_max_dim(sg_tensor *x, int dim, bool keepdim, sg_tensor **values,
                     sg_tensor **indices) {
  return minmax_dim_impl("max", x, dim, keepdim, values, indices, true, true);
}

sg_status sg_min_dim(sg_tensor *x, int dim, bool keepdim, sg_tensor **values,
                     sg_tensor **indices) {
  return minmax_dim_impl("min", x, dim, keepdim, values, indices, false, true);
}

/* ---------------- max / min over all elements ---------------- */

/* Ties share the gradient evenly (PyTorch's amax/amin):
 * g * [x == y] / count(x == y). */
static sg_status minmax_all_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  sg_tensor *x = sg_node_saved(node, 0), *y = sg_node_saved(node, 1);
  sg_tensor *t[4] = {0};
  if (x && y) {
    t[0] = sg_eq(x, y);
    t[1] = t[0] ? sg_to_dtype(t[0], x->dtype) : NULL;
    t[2] = t[1] ? sg_sum(t[1], NULL, 0, false) : NULL;
    t[3] = t[2] ? sg_div(go[0], t[2]) : NULL;
    gi[0] = t[3] ? sg_mul(t[1], t[3]) : NULL;
  }
  drop(t, 4);
  sg_release(x);
  sg_release(y);
  return gi[0] ? SG_OK : sg_last_status();
}

/* min/max/argmin/argmax over all of an empty x has no identity: -1 (error). */
static int check_nonempty(const char *op, const sg_tensor *x) {
  if (sg_numel(x) != 0) return 0;
  char b[128];
  sg_error(SG_ERR_ARG, "%s: the input (%s) is empty; the operation has no identity", op,
           sg_shape_str(x, b, sizeof b));
  return -1;
}

static sg_tensor *minmax_all(const char *op, sg_tensor *x, bool is_max) {
  if (sg_check_arg(op, "input", x)) return NULL;
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, reduce));
  if (!be) return NULL;
  int64_t n = sg_numel(x);
  if (check_nonempty(op, x)) return NULL;
  sg_tensor *c = sg_as_contiguous_dtype(x, x->dtype);
  sg_tensor *out = c ? sg_empty(NULL, 0, x->dtype, x->storage->device) : NULL;
  if (!out || be->reduce->minmax(out, NULL, c, 1, n, 1, is_max) != SG_OK) {
    if (out) sg_error_context("%s", op);
    sg_release(out);
    sg_release(c);
    return NULL;
  }
  sg_release(c);
  if (sg_dtype_is_float(x->dtype)) {
    sg_node *nd = sg_record(op, minmax_all_backward, &x, 1, out);
    if (nd) {
      sg_node_save(nd, x);
      sg_node_save_output(nd, out, 0);
    }
  }
  return out;
}

sg_tensor *sg_max_all(sg_tensor *x) { return minmax_all("max", x, true); }
sg_tensor *sg_min_all(sg_tensor *x) { return minmax_all("min", x, false); }

/* ---------------- argmax / argmin ---------------- */

static sg_tensor *arg_impl(const char *op, sg_tensor *x, int dim, bool keepdim, bool is_max) {
  if (sg_check_arg(op, "input", x)) return NULL;
  if (dim != SG_ALL_DIMS) {
    sg_tensor *idx = NULL;
    bool prev = sg_set_grad_enabled(false);
    minmax_dim_impl(op, x, dim, keepdim, NULL, &idx, is_max, false);
    sg_set_grad_enabled(prev);
    return idx;
  }
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, reduce));
  if (!be) return NULL;
  int64_t n = sg_numel(x);
  if (check_nonempty(op, x)) return NULL;
  int64_t ones[SG_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) ones[i] = 1;
  sg_tensor *c = sg_as_contiguous_dtype(x, x->dtype);
  sg_tensor *val = c ? sg_empty(NULL, 0, x->dtype, x->storage->device) : NULL;
  sg_tensor *idx = val ? sg_empty(ones, keepdim ? x->ndim : 0, SG_INT64, x->storage->device)
                       : NULL;
  if (!idx || be->reduce->minmax(val, idx, c, 1, n, 1, is_max) != SG_OK) {
    if (idx) sg_error_context("%s", op);
    sg_release(idx);
    idx = NULL;
  }
  sg_release(c);
  sg_release(val);
  return idx;
}

sg_tensor *sg_argmax(sg_tensor *x, int dim, bool keepdim) {
  return arg_impl("argmax", x, dim, keepdim, true);
}

sg_tensor *sg_argmin(sg_tensor *x, int dim, bool keepdim) {
  return arg_impl("argmin", x, dim, keepdim, false);
}

/* ---------------- take / put along a dim (internal) ---------------- */

/* Geometry of t around dim as [O, t->shape[dim], I]; a 0-dim tensor is [1, 1, 1]. */
static void along_geometry(const sg_tensor *t, int dim, int64_t *O, int64_t *I) {
  *O = *I = 1;
  for (int i = 0; i < t->ndim; i++) {
    if (i < dim) *O *= t->shape[i];
    if (i > dim) *I *= t->shape[i];
  }
}

/* idx must have x's ndim and x's shape except along dim. */
static int check_along(const char *op, const sg_tensor *x, const sg_tensor *idx, int dim) {
  if (sg_check_arg(op, "input", x) || sg_check_arg(op, "index", idx)) return -1;
  bool ok = idx->dtype == SG_INT64 && idx->ndim == x->ndim && sg_dtype_is_float(x->dtype) &&
            (x->ndim == 0 ? dim == 0 : (dim >= 0 && dim < x->ndim));
  for (int i = 0; ok && i < x->ndim; i++)
    if (i != dim && idx->shape[i] != x->shape[i]) ok = false;
  if (!ok) {
    char a[128], b[128];
    return sg_error(SG_ERR_ARG, "%s: index %s (%s) does not fit input %s (%s) along dim %d", op,
                    sg_shape_str(idx, a, sizeof a), sg_dtype_name(idx->dtype),
                    sg_shape_str(x, b, sizeof b), sg_dtype_name(x->dtype), dim);
  }
  return 0;
}

/* What take_along / put_along save for their backward (besides idx). */
typedef struct along_ctx {
  int dim;
  int64_t n; /* take_along: the input's size along dim */
} along_ctx;

static sg_status take_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  along_ctx c;
  SG_CTX_LOAD(node, &c);
  sg_tensor *idx = sg_node_saved(node, 0);
  if (!idx) return sg_last_status();
  gi[0] = sg_internal_put_along(go[0], idx, c.dim, c.n);
  sg_release(idx);
  return gi[0] ? SG_OK : sg_last_status();
}

static sg_status put_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  along_ctx c;
  SG_CTX_LOAD(node, &c);
  sg_tensor *idx = sg_node_saved(node, 0);
  if (!idx) return sg_last_status();
  gi[0] = sg_internal_take_along(go[0], idx, c.dim);
  sg_release(idx);
  return gi[0] ? SG_OK : sg_last_status();
}

sg_tensor *sg_internal_take_along(sg_tensor *x, sg_tensor *idx, int dim) {
  if (check_along("take_along", x, idx, dim)) return NULL;
  const sg_backend *be = sg_backend_checked("take_along", x, offsetof(sg_backend, reduce));
  if (!be) return NULL;
  int64_t O, I;
  along_geometry(x, dim, &O, &I);
  int64_t N = x->ndim ? x->shape[dim] : 1, K = idx->ndim ? idx->shape[dim] : 1;
  sg_tensor *c = sg_as_contiguous_dtype(x, x->dtype);
  sg_tensor *ic = c ? sg_as_contiguous_dtype(idx, SG_INT64) : NULL;
  sg_tensor *out = ic ? sg_empty(idx->shape, idx->ndim, x->dtype, x->storage->device) : NULL;
  if (!out || be->reduce->take_along(out, c, ic, O, N, I, K) != SG_OK) {
    sg_release(out);
    out = NULL;
  } else {
    sg_node *n = sg_record("take_along", take_backward, &x, 1, out);
    if (n) {
      along_ctx ctx = {dim, N};
      SG_CTX_STORE(n, &ctx);
      sg_node_save(n, ic);
    }
  }
  sg_release(c);
  sg_release(ic);
  return out;
}

sg_tensor *sg_internal_put_along(sg_tensor *src, sg_tensor *idx, int dim, int64_t n) {
  if (check_along("put_along", src, idx, dim)) return NULL;
  const sg_backend *be = sg_backend_checked("put_along", src, offsetof(sg_backend, reduce));
  if (!be) return NULL;
  int64_t O, I, shape[SG_MAX_DIMS];
  along_geometry(src, dim, &O, &I);
  int64_t K = src->ndim ? src->shape[dim] : 1;
  if (src->ndim) {
    memcpy(shape, src->shape, sizeof(int64_t) * (size_t)src->ndim);
    shape[dim] = n;
  } else if (n != 1) {
    sg_error(SG_ERR_ARG, "put_along: a 0-dim source needs n == 1 (got %lld)", (long long)n);
    return NULL;
  }
  sg_tensor *c = sg_as_contiguous_dtype(src, src->dtype);
  sg_tensor *ic = c ? sg_as_contiguous_dtype(idx, SG_INT64) : NULL;
  sg_tensor *out = ic ? sg_empty(shape, src->ndim, src->dtype, src->storage->device) : NULL;
  if (!out || be->reduce->put_along(out, c, ic, O, src->ndim ? n : 1, I, K) != SG_OK) {
    sg_release(out);
    out = NULL;
  } else {
    sg_node *nd = sg_record("put_along", put_backward, &src, 1, out);
    if (nd) {
      along_ctx ctx = {dim, 0};
      SG_CTX_STORE(nd, &ctx);
      sg_node_save(nd, ic);
    }
  }
  sg_release(c);
  sg_release(ic);
  return out;
}
