/* Sparsity projections (ARCHITECTURE.md §3; Ganz & Elad §3).
 *
 * A projection is x * mask with the mask a constant (computed without
 * gradient): forward zeros the dropped entries, the gradient flows through
 * the kept ones only (the projection's Jacobian), and since the backward is
 * g * mask (a differentiable mul), double backward works. The kernels write
 * the projected output and the mask in one pass.
 *
 * Ties: among entries of equal |x| the one with the lower row-major index
 * is kept (deterministic; e.g. l0 with k = 1 on [2, -2, 1] keeps the first).
 * NaN counts as the largest magnitude. */
#include <math.h>
#include <string.h>

#include "internal/backend.h"
#include "internal/kernels_sparse.h"
#include "internal/op_ctx.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

static int check_proj_input(const char *op, const sg_tensor *x) {
  char a[128];
  if (sg_check_arg(op, "input", x) || sg_check_float(op, "input", x)) return -1;
  if (x->ndim < 2)
    return sg_error(SG_ERR_ARG,
                    "%s: input has %d dims (%s), expected at least 2 (dim 0 is the batch)", op,
                    x->ndim, sg_shape_str(x, a, sizeof a));
  return 0;
}

static sg_status mask_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  sg_tensor *mask = sg_node_saved(node, 0);
  gi[0] = mask ? sg_mul(go[0], mask) : NULL;
  sg_release(mask);
  return gi[0] ? SG_OK : sg_last_status();
}

/* out already holds x * mask; mask (x's dtype) is saved when recording. */
static void record_mask_op(const char *op, sg_tensor *x, sg_tensor *out, sg_tensor *mask) {
  sg_node *n = sg_record(op, mask_backward, &x, 1, out);
  if (n) sg_node_save(n, mask);
}

/* The masked ops (l0 projections, thresholds) run their kernel between these
 * two: masked_prepare makes x contiguous (xc) and allocates the output and,
 * when grad, the 0/1 mask, returning the status to run the kernel under;
 * masked_finish releases the temporaries, records the op when grad, and
 * returns the output (NULL when st is not SG_OK). */
static sg_status masked_prepare(const sg_tensor *x, bool grad, sg_tensor **xc, sg_tensor **out,
                                sg_tensor **mask) {
  *xc = sg_as_contiguous_dtype(x, x->dtype);
  *out = *xc ? sg_empty(x->shape, x->ndim, x->dtype, x->storage->device) : NULL;
  *mask = *out && grad ? sg_empty(x->shape, x->ndim, x->dtype, x->storage->device) : NULL;
  return *out && (*mask || !grad) ? SG_OK : sg_last_status();
}

static sg_tensor *masked_finish(const char *op, sg_tensor *x, bool grad, sg_status st,
                                sg_tensor *xc, sg_tensor *out, sg_tensor *mask) {
  sg_release(xc);
  if (st != SG_OK) {
    sg_release(out);
    sg_release(mask);
    return NULL;
  }
  if (grad) record_mask_op(op, x, out, mask);
  sg_release(mask);
  return out;
}

/* ---------------- l0 ---------------- */

/* k per sample from a count or a fraction; -1 with an error. */
static int64_t l0_count(const char *op, const sg_tensor *x, double k, int64_t m) {
  char a[128];
  if (!(k > 0) || isinf(k)) {
    sg_error(SG_ERR_ARG,
             "%s: k = %g must be a count >= 1 or a fraction in (0, 1) of the %lld entries per "
             "sample (input %s)",
             op, k, (long long)m, sg_shape_str(x, a, sizeof a));
    return -1;
  }
  if (k < 1) {
    int64_t c = (int64_t)ceil(k * (double)m * (1 - 1e-12));
    return c < 1 ? 1 : c;
  }
  if (k != floor(k)) {
    sg_error(SG_ERR_ARG,
             "%s: k = %g must be a whole count >= 1 or a fraction in (0, 1) (input %s)", op, k,
             sg_shape_str(x, a, sizeof a));
    return -1;
  }
  if (k > (double)m) {
    sg_error(SG_ERR_ARG, "%s: k = %g is more than the %lld entries per sample (input %s)", op,
             k, (long long)m, sg_shape_str(x, a, sizeof a));
    return -1;
  }
  return (int64_t)k;
}

/* The common path of the four mask ops: kind 0 = l0, 1 = l0inf. */
static sg_tensor *project(const char *op, int kind, sg_tensor *x, double kf, int64_t ki, int dim,
                          bool want_mask) {
  if (check_proj_input(op, x)) return NULL;
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, sparse));
  if (!be) return NULL;
  int64_t k, size;
  int d = 0;
  char a[128];
  if (kind == 0) {
    size = x->shape[0] ? sg_numel(x) / x->shape[0] : 0;
    if (size == 0) { /* nothing to keep; any positive k is fine */
      if (!(kf > 0)) {
        sg_error(SG_ERR_ARG, "%s: k = %g must be positive (input %s)", op, kf,
                 sg_shape_str(x, a, sizeof a));
        return NULL;
      }
      k = 0;
    } else {
      k = l0_count(op, x, kf, size);
      if (k < 0) return NULL;
    }
  } else {
    d = sg_wrap_dim(op, dim, x->ndim);
    if (d < 0) return NULL;
    size = x->shape[d];
    if (ki < 1 || ki > size) {
      sg_error(SG_ERR_ARG, "%s: k = %lld out of range [1, %lld] for dim %d of input %s", op,
               (long long)ki, (long long)size, dim, sg_shape_str(x, a, sizeof a));
      return NULL;
    }
    k = ki;
  }
  bool keep_all = k >= size;
  if (want_mask) {
    if (keep_all || sg_numel(x) == 0)
      return sg_full(x->shape, x->ndim, 1.0, SG_BOOL, x->storage->device);
    sg_tensor *xc = sg_as_contiguous_dtype(x, x->dtype);
    sg_tensor *m = xc ? sg_empty(x->shape, x->ndim, SG_BOOL, x->storage->device) : NULL;
    sg_status st = m ? (kind == 0 ? be->sparse->l0_mask(m, NULL, xc, k)
                                  : be->sparse->l0inf_mask(m, NULL, xc, k, d))
                     : sg_last_status();
    sg_release(xc);
    if (st != SG_OK) {
      sg_release(m);
      return NULL;
    }
    return m;
  }
  if (keep_all || sg_numel(x) == 0) return sg_mul_scalar(x, 1.0); /* identity, recorded */
  bool grad = sg_needs_grad(&x, 1);
  sg_tensor *xc, *out, *mask;
  sg_status st = masked_prepare(x, grad, &xc, &out, &mask);
  if (st == SG_OK)
    st = kind == 0 ? be->sparse->l0_mask(mask, out, xc, k)
                   : be->sparse->l0inf_mask(mask, out, xc, k, d);
  return masked_finish(op, x, grad, st, xc, out, mask);
}

sg_tensor *sg_l0_project(sg_tensor *x, double k) {
  return project("l0_project", 0, x, k, 0, 0, false);
}

sg_tensor *sg_l0_mask(sg_tensor *x, double k) { return project("l0_mask", 0, x, k, 0, 0, true); }

sg_tensor *sg_l0inf_project(sg_tensor *x, int64_t k, int dim) {
  return project("l0inf_project", 1, x, 0, k, dim, false);
}

sg_tensor *sg_l0inf_mask(sg_tensor *x, int64_t k, int dim) {
  return project("l0inf_mask", 1, x, 0, k, dim, true);
}

/* ---------------- thresholds ---------------- */

static sg_tensor *threshold_scalar(const char *op, sg_tensor *x, double lambda, bool soft) {
  if (sg_check_arg(op, "input", x) || sg_check_float(op, "input", x)) return NULL;
  if (!(lambda >= 0)) {
    sg_error(SG_ERR_ARG, "%s: lambda = %g, expected a number >= 0", op, lambda);
    return NULL;
  }
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, sparse));
  if (!be) return NULL;
  bool grad = sg_needs_grad(&x, 1);
  sg_tensor *xc, *out, *mask;
  sg_status st = masked_prepare(x, grad, &xc, &out, &mask);
  if (st == SG_OK) st = be->sparse->threshold(out, mask, xc, lambda, soft);
  return masked_finish(op, x, grad, st, xc, out, mask);
}

sg_tensor *sg_soft_threshold(sg_tensor *x, double lambda) {
  return threshold_scalar("soft_threshold", x, lambda, true);
}

sg_tensor *sg_hard_threshold(sg_tensor *x, double lambda) {
  return threshold_scalar("hard_threshold", x, lambda, false);
}

static int check_lambda_t(const char *op, const sg_tensor *x, const sg_tensor *lambda) {
  char a[128], b[128];
  if (sg_check_arg(op, "input", x) || sg_check_float(op, "input", x) ||
      sg_check_arg(op, "lambda", lambda) || sg_check_same_device(op, x, lambda))
    return -1;
  int64_t shape[SG_MAX_DIMS];
  int nd;
  bool ok = sg_broadcast_shapes(op, x->shape, x->ndim, lambda->shape, lambda->ndim, shape,
                                &nd) == 0 &&
            nd == x->ndim && sg_shape_numel(shape, nd) == sg_numel(x);
  if (!ok)
    return sg_error(SG_ERR_ARG, "%s: lambda of shape %s does not broadcast to the input's %s",
                    op, sg_shape_str(lambda, a, sizeof a), sg_shape_str(x, b, sizeof b));
  return 0;
}

/* d out / d x = |s|, d out / d lambda = -s with s = sign(x) * 1(|x| > lambda)
 * saved by the forward; both formulas are differentiable in g (s is
 * constant almost everywhere, as the composite sign(x) * relu(|x| - l)). */
static sg_status soft_t_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  sg_ctx_shape lambda_shape; /* what the forward saves besides s */
  SG_CTX_LOAD(node, &lambda_shape);
  sg_tensor *s = sg_node_saved(node, 0);
  if (!s) return sg_last_status();
  sg_status st = SG_OK;
  if (sg_node_wants(node, 0)) {
    sg_tensor *m = sg_abs(s);
    gi[0] = m ? sg_mul(go[0], m) : NULL;
    sg_release(m);
    if (!gi[0]) st = sg_last_status();
  }
  if (st == SG_OK && sg_node_wants(node, 1)) {
    sg_tensor *gs = sg_mul(go[0], s);
    sg_tensor *ng = gs ? sg_neg(gs) : NULL;
    gi[1] = ng ? sg_sum_to_shape(ng, lambda_shape.shape, lambda_shape.ndim) : NULL;
    sg_release(gs);
    sg_release(ng);
    if (!gi[1]) st = sg_last_status();
  }
  sg_release(s);
  return st;
}

/* sign(x) * max(|x| - lambda, 0), fused; differentiable in x and lambda. */
sg_tensor *sg_soft_threshold_t(sg_tensor *x, sg_tensor *lambda) {
  const char *op = "soft_threshold";
  if (check_lambda_t(op, x, lambda)) return NULL;
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, sparse));
  if (!be) return NULL;
  sg_dtype dt = sg_promote_types(x->dtype, lambda->dtype);
  if (!sg_dtype_is_float(dt)) dt = x->dtype;
  sg_tensor *xc = sg_to_dtype(x, dt);
  sg_tensor *lc = xc ? sg_to_dtype(lambda, dt) : NULL;
  sg_tensor *ins[2] = {xc, lc};
  bool grad = lc && sg_needs_grad(ins, 2);
  sg_tensor *out = lc ? sg_empty(x->shape, x->ndim, dt, x->storage->device) : NULL;
  sg_tensor *sgn = out && grad ? sg_empty(x->shape, x->ndim, dt, x->storage->device) : NULL;
  sg_status st = out && (sgn || !grad) ? SG_OK : sg_last_status();
  if (st == SG_OK) st = be->sparse->soft_threshold_t(out, sgn, xc, lc);
  if (st != SG_OK) {
    sg_release(out);
    out = NULL;
  } else if (grad) {
    sg_node *n = sg_record(op, soft_t_backward, ins, 2, out);
    if (n) {
      sg_ctx_shape lambda_shape = sg_ctx_shape_of(lc);
      SG_CTX_STORE(n, &lambda_shape);
      sg_node_save(n, sgn);
    }
  }
  sg_release(sgn);
  sg_release(xc);
  sg_release(lc);
  return out;
}

/* x * 1(|x| > lambda); the mask carries no gradient (nor does lambda). */
sg_tensor *sg_hard_threshold_t(sg_tensor *x, sg_tensor *lambda) {
  const char *op = "hard_threshold";
  if (check_lambda_t(op, x, lambda)) return NULL;
  bool prev = sg_set_grad_enabled(false);
  sg_tensor *ax = sg_abs(x);
  sg_tensor *m = ax ? sg_gt(ax, lambda) : NULL;
  sg_set_grad_enabled(prev);
  sg_tensor *out = m ? sg_mul(x, m) : NULL;
  sg_release(ax);
  sg_release(m);
  if (!out) sg_error_context("%s", op);
  return out;
}
