/* Normalization: batch_norm, instance_norm, layer_norm.
 *
 * Forward passes are fused CPU kernels (kernels_norm.h). Backward:
 *  - first order (no create_graph): fused kernels, one pass for the group
 *    sums and one for dx. This is the path DIP's BatchNorm2d takes.
 *  - create_graph on: the same gradient written with public differentiable
 *    ops (sum, sub, mul, rsqrt, ...), recomputing the statistics from the
 *    saved input, so the gradient is itself differentiable (double backward
 *    of batch_norm, instance_norm and layer_norm).
 * Eval-mode batch norm (running statistics) is linear in x; its backward is
 * always the composite formula.
 *
 * Batch and instance norm share one core on x viewed as [A, G, B] (see
 * kernels_norm.h): batch norm A = N, G = C; instance norm A = 1, G = N * C,
 * with the affine parameters of group g being w[g % C]. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal/backend.h"
#include "internal/kernels_norm.h"
#include "internal/op_ctx.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

/* ---------------- helpers ---------------- */


/* Temporaries of a composite formula: released together; the first failure
 * sticks (later steps are skipped so the first error message survives). */
typedef struct tmps {
  sg_tensor *t[64];
  int n;
  bool fail;
  sg_status status; /* the first failure, re-raised by tmps_end */
  char msg[512];
} tmps;

static sg_tensor *keep(tmps *p, sg_tensor *t) {
  if (!t) {
    if (!p->fail) {
      p->status = sg_last_status() != SG_OK ? sg_last_status() : SG_ERR_STATE;
      snprintf(p->msg, sizeof p->msg, "%s", sg_last_error());
    }
    p->fail = true;
    return NULL;
  }
  if (p->n == 64) {
    sg_release(t);
    return keep(p, (sg_error(SG_ERR_STATE, "norm: too many temporaries (internal error)"), NULL));
  }
  p->t[p->n++] = t;
  return t;
}
#define K(P, expr) ((P)->fail ? NULL : keep((P), (expr)))

/* Releases the temporaries; on failure releases gi[0..n) too and restores
 * the first error. */
static sg_status tmps_end(tmps *p, sg_tensor **gi, int n) {
  sg_release_all(p->t, p->n);
  if (!p->fail) return SG_OK;
  sg_release_all(gi, n);
  return sg_error(p->status, "%s", p->msg);
}

/* A result of the formula (owned by the caller, not a temporary); a NULL
 * records the failure like keep. */
static sg_tensor *res(tmps *p, sg_tensor *t) {
  if (!t) keep(p, NULL);
  return t;
}
#define RES(P, expr) ((P)->fail ? NULL : res((P), (expr)))

static int check_param(const char *op, const char *name, const sg_tensor *p, const sg_tensor *x,
                       int64_t C) {
  if (!p) return 0;
  char a[128], b[128];
  if (sg_check_same_device(op, x, p)) return -1;
  if (p->dtype != x->dtype)
    return sg_error(SG_ERR_ARG, "%s: %s has dtype %s, expected %s like the input", op, name,
                    sg_dtype_name(p->dtype), sg_dtype_name(x->dtype));
  if (p->ndim != 1 || p->shape[0] != C)
    return sg_error(SG_ERR_ARG, "%s: %s has shape %s, expected %lld (the channels of input %s)",
                    op, name, sg_shape_str(p, a, sizeof a), (long long)C,
                    sg_shape_str(x, b, sizeof b));
  return 0;
}

static int check_running(const char *op, const char *name, const sg_tensor *p,
                         const sg_tensor *x, int64_t C) {
  if (!p) return 0;
  char a[128], b[128];
  if (sg_check_same_device(op, x, p)) return -1;
  if (!sg_dtype_is_float(p->dtype))
    return sg_error(SG_ERR_ARG, "%s: %s has dtype %s, expected float32 or float64", op, name,
                    sg_dtype_name(p->dtype));
  if (p->ndim != 1 || p->shape[0] != C)
    return sg_error(SG_ERR_ARG, "%s: %s has shape %s, expected %lld (the channels of input %s)",
                    op, name, sg_shape_str(p, a, sizeof a), (long long)C,
                    sg_shape_str(x, b, sizeof b));
  return 0;
}

static int check_input(const char *op, const sg_tensor *x, int min_dims) {
  if (sg_check_arg(op, "input", x) || sg_check_float(op, "input", x)) return -1;
  if (x->ndim < min_dims) {
    char a[128];
    return sg_error(SG_ERR_ARG, "%s: input has %d dims (%s), expected at least %d (N x C x ...)",
                    op, x->ndim, sg_shape_str(x, a, sizeof a), min_dims);
  }
  return 0;
}

/* Sums per-group values [G] (any shape with G elements) down to the C
 * channels: reshape [G / C, C] and sum over the first dim. */
static sg_tensor *groups_to_channels(sg_tensor *s, int64_t G, int64_t C) {
  if (G == C) return sg_reshape(s, (const int64_t[]){C}, 1);
  sg_tensor *v = sg_reshape(s, (const int64_t[]){G / C, C}, 2);
  sg_tensor *r = v ? sg_sum(v, (const int[]){0}, 1, false) : NULL;
  sg_release(v);
  return r;
}

/* ---------------- training mode: batch statistics ---------------- */
/* saved: 0 x, 1 mean, 2 invstd, [3 w], [then the bool mask z > 0 when an
 * activation is fused]; the scalars: */
typedef struct train_ctx {
  int64_t A, G, B, C; /* the layout (kernels_norm.h) */
  bool has_w;
  sg_activation act; /* fused after the normalization */
  int mask_slot;     /* saved slot of the mask z > 0 */
  double eps, slope;
} train_ctx;

static train_ctx train_ctx_load(const sg_node *n) {
  train_ctx c;
  SG_CTX_LOAD(n, &c);
  return c;
}

static sg_status norm_train_backward_composite(sg_node *node, sg_tensor *dy, sg_tensor **gi) {
  const train_ctx nc = train_ctx_load(node);
  int64_t A = nc.A, G = nc.G, B = nc.B, C = nc.C;
  bool has_w = nc.has_w;
  double eps = nc.eps, M = (double)(A * B);
  tmps P = {0};
  tmps *p = &P;
  sg_tensor *x = K(p, sg_node_saved(node, 0));
  sg_tensor *w = has_w ? K(p, sg_node_saved(node, 3)) : NULL;
  const int64_t s3[3] = {A, G, B};
  const int red[2] = {0, 2};
  sg_tensor *xv = K(p, sg_reshape(x, s3, 3));
  sg_tensor *dyv = K(p, sg_reshape(dy, s3, 3));
  sg_tensor *mean = K(p, sg_div_scalar(K(p, sg_sum(xv, red, 2, true)), M));
  sg_tensor *xc = K(p, sg_sub(xv, mean));
  sg_tensor *var = K(p, sg_div_scalar(K(p, sg_sum(K(p, sg_mul(xc, xc)), red, 2, true)), M));
  sg_tensor *invstd = K(p, sg_rsqrt(K(p, sg_add_scalar(var, eps))));
  sg_tensor *xhat = K(p, sg_mul(xc, invstd));
  sg_tensor *s1 = K(p, sg_sum(dyv, red, 2, true));
  sg_tensor *s2 = K(p, sg_sum(K(p, sg_mul(dyv, xhat)), red, 2, true));
  if (sg_node_wants(node, 0)) {
    sg_tensor *t = K(p, sg_sub(dyv, K(p, sg_div_scalar(s1, M))));
    t = K(p, sg_sub(t, K(p, sg_mul(xhat, K(p, sg_div_scalar(s2, M))))));
    t = K(p, sg_mul(t, invstd));
    if (has_w) {
      sg_tensor *w2 = K(p, sg_reshape(w, (const int64_t[]){1, C}, 2));
      sg_tensor *we = K(p, sg_expand(w2, (const int64_t[]){G / C, C}, 2));
      sg_tensor *wg = K(p, sg_reshape(we, (const int64_t[]){1, G, 1}, 3));
      t = K(p, sg_mul(t, wg));
    }
    gi[0] = RES(p, sg_reshape(t, x->shape, x->ndim));
  }
  if (sg_node_wants(node, 1)) gi[1] = RES(p, groups_to_channels(s2, G, C));
  if (sg_node_wants(node, 2)) gi[2] = RES(p, groups_to_channels(s1, G, C));
  return tmps_end(p, gi, 3);
}

/* The gradient of the fused activation's input from that of its output,
 * with differentiable ops (the double-backward path): dy * m, m = (z > 0)
 * for relu and slope + (1 - slope) * (z > 0) for leaky_relu, as their own
 * backward formulas; zpos is the forward's bool mask z > 0. */
static sg_tensor *act_input_grad(sg_activation act, double slope, sg_tensor *zpos,
                                 sg_tensor *dy) {
  sg_tensor *pos = sg_to_dtype(zpos, dy->dtype);
  if (!pos) return NULL;
  sg_tensor *mask = pos;
  if (act == SG_ACT_LEAKY_RELU) {
    sg_tensor *m = sg_mul_scalar(pos, 1.0 - slope);
    mask = m ? sg_add_scalar(m, slope) : NULL;
    sg_release(m);
    sg_release(pos);
    if (!mask) return NULL;
  }
  sg_tensor *r = sg_mul(dy, mask);
  sg_release(mask);
  return r;
}

static sg_status norm_train_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  if (!go[0]) return SG_OK;
  const train_ctx nc = train_ctx_load(node);
  const sg_activation act = nc.act;
  const double slope = nc.slope;
  if (sg_grad_enabled()) {
    if (act == SG_ACT_NONE) return norm_train_backward_composite(node, go[0], gi);
    sg_tensor *zpos = sg_node_saved(node, nc.mask_slot);
    sg_tensor *dz = zpos ? act_input_grad(act, slope, zpos, go[0]) : NULL;
    sg_release(zpos);
    if (!dz) return sg_last_status() != SG_OK ? sg_last_status() : SG_ERR_STATE;
    sg_status st = norm_train_backward_composite(node, dz, gi);
    sg_release(dz);
    return st;
  }
  /* first order: fused kernel */
  int64_t A = nc.A, G = nc.G, B = nc.B, C = nc.C;
  bool has_w = nc.has_w;
  sg_tensor *x = sg_node_saved(node, 0), *mean = sg_node_saved(node, 1),
            *invstd = sg_node_saved(node, 2), *w = has_w ? sg_node_saved(node, 3) : NULL;
  sg_tensor *zpos = act != SG_ACT_NONE ? sg_node_saved(node, nc.mask_slot) : NULL;
  sg_tensor *xc = NULL, *dyc = NULL, *wc = NULL, *dx = NULL, *s1 = NULL, *s2 = NULL;
  sg_status st = SG_OK;
  if (!x || !mean || !invstd || (has_w && !w) || (act != SG_ACT_NONE && !zpos)) goto fail;
  const sg_backend *be = sg_backend_checked("batch_norm backward", x, offsetof(sg_backend, norm));
  if (!be) goto fail;
  xc = sg_as_contiguous_dtype(x, x->dtype);
  dyc = xc ? sg_as_contiguous_dtype(go[0], x->dtype) : NULL;
  wc = (dyc && w) ? sg_as_contiguous_dtype(w, x->dtype) : NULL;
  if (!dyc || (w && !wc)) goto fail;
  if (sg_node_wants(node, 0) && !(dx = sg_empty_like(xc))) goto fail;
  s1 = sg_empty((const int64_t[]){G}, 1, x->dtype, x->storage->device);
  s2 = s1 ? sg_empty((const int64_t[]){G}, 1, x->dtype, x->storage->device) : NULL;
  if (!s2) goto fail;
  st = act == SG_ACT_NONE
           ? be->norm->normalize_backward(dx, s1, s2, dyc, xc, A, G, B, mean, invstd, wc, C)
           : be->norm->normalize_act_backward(dx, s1, s2, dyc, zpos, xc, A, G, B, mean, invstd, wc,
                                              C, act, slope);
  if (st != SG_OK) goto fail;
  gi[0] = dx;
  dx = NULL;
  if (sg_node_wants(node, 1) && !(gi[1] = groups_to_channels(s2, G, C))) goto fail;
  if (sg_node_wants(node, 2) && !(gi[2] = groups_to_channels(s1, G, C))) goto fail;
  goto done;
fail:
  st = sg_last_status() != SG_OK ? sg_last_status() : SG_ERR_STATE;
  sg_release_all(gi, 3);
done: {
  sg_tensor *all[] = {x, mean, invstd, w, xc, dyc, wc, dx, s1, s2, zpos};
  sg_release_all(all, 11);
}
  return st;
}

/* y = act(normalize(x)) with the batch statistics of each group; returns y
 * and (new references) the group mean and biased variance. act != NONE
 * needs the backend's normalize_act kernels. */
static sg_tensor *norm_train(const char *op, sg_tensor *x, int64_t A, int64_t G, int64_t B,
                             sg_tensor *w, sg_tensor *b, int64_t C, double eps,
                             sg_activation act, double slope, sg_tensor **mean_out,
                             sg_tensor **var_out) {
  *mean_out = *var_out = NULL;
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, norm));
  if (!be) return NULL;
  sg_tensor *xc = sg_as_contiguous_dtype(x, x->dtype);
  sg_tensor *wc = (xc && w) ? sg_as_contiguous_dtype(w, x->dtype) : NULL;
  sg_tensor *bc = (xc && b) ? sg_as_contiguous_dtype(b, x->dtype) : NULL;
  sg_tensor *mean = NULL, *var = NULL, *invstd = NULL, *y = NULL, *zpos = NULL;
  if (!xc || (w && !wc) || (b && !bc)) goto fail;
  mean = sg_empty((const int64_t[]){G}, 1, x->dtype, x->storage->device);
  var = mean ? sg_empty((const int64_t[]){G}, 1, x->dtype, x->storage->device) : NULL;
  if (!var || be->norm->moments(mean, var, xc, A, G, B) != SG_OK) goto fail;
  {
    bool prev = sg_set_grad_enabled(false);
    sg_tensor *ve = sg_add_scalar(var, eps);
    invstd = ve ? sg_rsqrt(ve) : NULL;
    sg_release(ve);
    sg_set_grad_enabled(prev);
  }
  if (!invstd) goto fail;
  y = sg_empty_like(xc);
  if (!y) goto fail;
  /* the fused activation's gradient mask (z > 0), when a graph is built */
  if (act != SG_ACT_NONE && sg_needs_grad((sg_tensor *const[]){x, w, b}, 3) &&
      !(zpos = sg_empty(x->shape, x->ndim, SG_BOOL, x->storage->device)))
    goto fail;
  if ((act == SG_ACT_NONE
           ? be->norm->normalize(y, xc, A, G, B, mean, invstd, wc, bc, C)
           : be->norm->normalize_act(y, zpos, xc, A, G, B, mean, invstd, wc, bc, C, act, slope)) !=
      SG_OK)
    goto fail;
  {
    sg_tensor *ins[3] = {x, w, b};
    sg_node *n = sg_record(op, norm_train_backward, ins, 3, y);
    if (n) {
      train_ctx nc = {A, G, B, C, w != NULL, act, w ? 4 : 3, eps, slope};
      SG_CTX_STORE(n, &nc);
      sg_node_save(n, x);
      sg_node_save(n, mean);
      sg_node_save(n, invstd);
      if (w) sg_node_save(n, w);
      if (act != SG_ACT_NONE) sg_node_save(n, zpos);
    }
  }
  sg_release(xc);
  sg_release(wc);
  sg_release(bc);
  sg_release(invstd);
  sg_release(zpos);
  *mean_out = mean;
  *var_out = var;
  return y;
fail:
  if (y) sg_error_context("%s", op);
  sg_release(xc);
  sg_release(wc);
  sg_release(bc);
  sg_release(mean);
  sg_release(var);
  sg_release(invstd);
  sg_release(y);
  sg_release(zpos);
  return NULL;
}

/* running <- (1 - momentum) * running + momentum * stat, in place (no grad). */
static sg_status update_running(sg_tensor *running, sg_tensor *stat, double momentum) {
  bool prev = sg_set_grad_enabled(false);
  sg_tensor *s = sg_to_dtype(stat, running->dtype);
  sg_tensor *a = s ? sg_mul_scalar(running, 1.0 - momentum) : NULL;
  sg_tensor *bb = a ? sg_mul_scalar(s, momentum) : NULL;
  sg_tensor *r = bb ? sg_add(a, bb) : NULL;
  sg_status st = r ? sg_copy_(running, r) : sg_last_status();
  sg_release(s);
  sg_release(a);
  sg_release(bb);
  sg_release(r);
  sg_set_grad_enabled(prev);
  return st;
}

/* ---------------- eval mode: running statistics ---------------- */
/* saved: 0 x, 1 running mean, 2 invstd, [3 w]; the scalars: */
typedef struct eval_ctx {
  int64_t A, G, B;
  bool has_w;
} eval_ctx;

static sg_status norm_eval_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  if (!go[0]) return SG_OK;
  eval_ctx nc;
  SG_CTX_LOAD(node, &nc);
  int64_t A = nc.A, G = nc.G, B = nc.B;
  bool has_w = nc.has_w;
  tmps P = {0};
  tmps *p = &P;
  const int64_t s3[3] = {A, G, B}, c3[3] = {1, G, 1};
  const int red[2] = {0, 2};
  sg_tensor *x = K(p, sg_node_saved(node, 0));
  sg_tensor *rm = K(p, sg_reshape(K(p, sg_node_saved(node, 1)), c3, 3));
  sg_tensor *is = K(p, sg_reshape(K(p, sg_node_saved(node, 2)), c3, 3));
  sg_tensor *w = has_w ? K(p, sg_reshape(K(p, sg_node_saved(node, 3)), c3, 3)) : NULL;
  sg_tensor *dyv = K(p, sg_reshape(go[0], s3, 3));
  if (sg_node_wants(node, 0)) {
    sg_tensor *scale = has_w ? K(p, sg_mul(is, w)) : is;
    sg_tensor *g = K(p, sg_mul(dyv, scale));
    gi[0] = RES(p, sg_reshape(g, x->shape, x->ndim));
  }
  if (sg_node_wants(node, 1)) {
    sg_tensor *xv = K(p, sg_reshape(x, s3, 3));
    sg_tensor *xhat = K(p, sg_mul(K(p, sg_sub(xv, rm)), is));
    sg_tensor *s = K(p, sg_sum(K(p, sg_mul(dyv, xhat)), red, 2, false));
    gi[1] = RES(p, sg_retain(s));
  }
  if (sg_node_wants(node, 2)) gi[2] = RES(p, sg_sum(dyv, red, 2, false));
  return tmps_end(p, gi, 3);
}

static sg_tensor *norm_eval(const char *op, sg_tensor *x, int64_t A, int64_t G, int64_t B,
                            sg_tensor *rm, sg_tensor *rv, sg_tensor *w, sg_tensor *b,
                            double eps) {
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, norm));
  if (!be) return NULL;
  bool prev = sg_set_grad_enabled(false);
  sg_tensor *xc = sg_as_contiguous_dtype(x, x->dtype);
  sg_tensor *mc = xc ? sg_as_contiguous_dtype(rm, x->dtype) : NULL;
  sg_tensor *vc = mc ? sg_as_contiguous_dtype(rv, x->dtype) : NULL;
  sg_tensor *ve = vc ? sg_add_scalar(vc, eps) : NULL;
  sg_tensor *invstd = ve ? sg_rsqrt(ve) : NULL;
  sg_tensor *wc = (invstd && w) ? sg_as_contiguous_dtype(w, x->dtype) : NULL;
  sg_tensor *bc = (invstd && b) ? sg_as_contiguous_dtype(b, x->dtype) : NULL;
  sg_set_grad_enabled(prev);
  sg_tensor *y = NULL;
  if (!invstd || (w && !wc) || (b && !bc)) goto done;
  y = sg_empty_like(xc);
  if (!y || be->norm->normalize(y, xc, A, G, B, mc, invstd, wc, bc, G) != SG_OK) {
    if (y) sg_error_context("%s", op);
    sg_release(y);
    y = NULL;
    goto done;
  }
  {
    sg_tensor *ins[3] = {x, w, b};
    sg_node *n = sg_record(op, norm_eval_backward, ins, 3, y);
    if (n) {
      eval_ctx nc = {A, G, B, w != NULL};
      SG_CTX_STORE(n, &nc);
      sg_node_save(n, x);
      sg_node_save(n, mc);
      sg_node_save(n, invstd);
      if (w) sg_node_save(n, w);
    }
  }
done: {
  sg_tensor *all[] = {xc, mc, vc, ve, invstd, wc, bc};
  sg_release_all(all, 7);
}
  return y;
}

/* ---------------- batch_norm ---------------- */

/* Argument checks shared by batch_norm and instance_norm (x is N x C x ...,
 * per-channel weight/bias/running stats); sets N, C and S (the spatial size).
 * Returns -1 (error set) on bad input. */
static int check_channel_norm(const char *op, const sg_tensor *x, const sg_tensor *running_mean,
                              const sg_tensor *running_var, const sg_tensor *weight,
                              const sg_tensor *bias, double eps, int64_t *N, int64_t *C,
                              int64_t *S) {
  if (check_input(op, x, 2)) return -1;
  *N = x->shape[0];
  *C = x->shape[1];
  *S = 1;
  for (int d = 2; d < x->ndim; d++) *S *= x->shape[d];
  if (check_param(op, "weight", weight, x, *C) || check_param(op, "bias", bias, x, *C) ||
      check_running(op, "running_mean", running_mean, x, *C) ||
      check_running(op, "running_var", running_var, x, *C))
    return -1;
  if (!(eps >= 0)) {
    sg_error(SG_ERR_ARG, "%s: eps %g must be >= 0", op, eps);
    return -1;
  }
  if ((running_mean == NULL) != (running_var == NULL)) {
    sg_error(SG_ERR_ARG, "%s: running_mean and running_var must be given together", op);
    return -1;
  }
  return 0;
}

/* The activation applied as its own op (eval mode, backends without the
 * fused kernels); takes y. */
static sg_tensor *apply_act(sg_tensor *y, sg_activation act, double slope) {
  if (!y || act == SG_ACT_NONE) return y;
  sg_tensor *r = act == SG_ACT_RELU ? sg_relu(y) : sg_leaky_relu(y, slope);
  sg_release(y);
  return r;
}

static sg_tensor *batch_norm_impl(const char *op, sg_tensor *x, sg_tensor *running_mean,
                                  sg_tensor *running_var, sg_tensor *weight, sg_tensor *bias,
                                  bool training, double momentum, double eps, sg_activation act,
                                  double slope);

sg_tensor *sg_batch_norm(sg_tensor *x, sg_tensor *running_mean, sg_tensor *running_var,
                         sg_tensor *weight, sg_tensor *bias, bool training, double momentum,
                         double eps) {
  return batch_norm_impl("batch_norm", x, running_mean, running_var, weight, bias, training,
                         momentum, eps, SG_ACT_NONE, 0.0);
}

sg_tensor *sg_batch_norm_act(sg_tensor *x, sg_tensor *running_mean, sg_tensor *running_var,
                             sg_tensor *weight, sg_tensor *bias, bool training, double momentum,
                             double eps, sg_activation act, double slope) {
  const char *op = "batch_norm";
  if (act != SG_ACT_NONE && act != SG_ACT_RELU && act != SG_ACT_LEAKY_RELU) {
    sg_error(SG_ERR_ARG, "%s: unknown activation %d", op, (int)act);
    return NULL;
  }
  if (!(slope == slope)) {
    sg_error(SG_ERR_ARG, "%s: leaky_relu slope is NaN", op);
    return NULL;
  }
  return batch_norm_impl(op, x, running_mean, running_var, weight, bias, training, momentum, eps,
                         act, slope);
}

static sg_tensor *batch_norm_impl(const char *op, sg_tensor *x, sg_tensor *running_mean,
                                  sg_tensor *running_var, sg_tensor *weight, sg_tensor *bias,
                                  bool training, double momentum, double eps, sg_activation act,
                                  double slope) {
  int64_t N, C, S;
  if (check_channel_norm(op, x, running_mean, running_var, weight, bias, eps, &N, &C, &S))
    return NULL;
  char a[128];
  if (!training) {
    if (!running_mean) {
      sg_error(SG_ERR_ARG, "%s: running_mean and running_var are required in eval mode", op);
      return NULL;
    }
    if (C == 0 || sg_numel(x) == 0) return apply_act(sg_empty_like(x), act, slope);
    return apply_act(norm_eval(op, x, N, C, S, running_mean, running_var, weight, bias, eps), act,
                     slope);
  }
  if (N * S <= 1 || C == 0) {
    sg_error(SG_ERR_ARG,
             "%s: expected more than 1 value per channel when training, got input of shape %s",
             op, sg_shape_str(x, a, sizeof a));
    return NULL;
  }
  /* fused when the backend has the kernels and the mask can be read off
   * the output (slope >= 0) */
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, norm));
  if (!be) return NULL;
  const bool fuse = act != SG_ACT_NONE && (act == SG_ACT_RELU || slope >= 0) &&
                    be->norm->normalize_act && be->norm->normalize_act_backward;
  sg_tensor *mean, *var;
  sg_tensor *y = norm_train(op, x, N, C, S, weight, bias, C, eps, fuse ? act : SG_ACT_NONE, slope,
                            &mean, &var);
  if (!y) return NULL;
  if (!fuse && act != SG_ACT_NONE && !(y = apply_act(y, act, slope))) {
    sg_release(mean);
    sg_release(var);
    return NULL;
  }
  if (running_mean) {
    /* running_var takes the unbiased variance, as PyTorch */
    double M = (double)(N * S);
    sg_tensor *uv = sg_mul_scalar(var, M / (M - 1));
    if (!uv || update_running(running_mean, mean, momentum) != SG_OK ||
        update_running(running_var, uv, momentum) != SG_OK) {
      sg_error_context("%s: updating the running statistics", op);
      sg_release(y);
      y = NULL;
    }
    sg_release(uv);
  }
  sg_release(mean);
  sg_release(var);
  return y;
}

/* ---------------- instance_norm ---------------- */

sg_tensor *sg_instance_norm(sg_tensor *x, sg_tensor *running_mean, sg_tensor *running_var,
                            sg_tensor *weight, sg_tensor *bias, bool use_input_stats,
                            double momentum, double eps) {
  const char *op = "instance_norm";
  int64_t N, C, S;
  if (check_channel_norm(op, x, running_mean, running_var, weight, bias, eps, &N, &C, &S))
    return NULL;
  char a[128];
  if (!use_input_stats) {
    if (!running_mean) {
      sg_error(SG_ERR_ARG,
               "%s: running_mean and running_var are required when use_input_stats is false",
               op);
      return NULL;
    }
    if (C == 0 || sg_numel(x) == 0) return sg_empty_like(x);
    return norm_eval(op, x, N, C, S, running_mean, running_var, weight, bias, eps);
  }
  if (S <= 1 || N * C == 0) {
    sg_error(SG_ERR_ARG,
             "%s: expected more than 1 spatial element per instance, got input of shape %s", op,
             sg_shape_str(x, a, sizeof a));
    return NULL;
  }
  sg_tensor *mean, *var;
  sg_tensor *y =
      norm_train(op, x, 1, N * C, S, weight, bias, C, eps, SG_ACT_NONE, 0.0, &mean, &var);
  if (!y) return NULL;
  if (running_mean) {
    /* PyTorch: the running stats move toward the batch average of the
     * per-instance mean and unbiased variance. */
    bool prev = sg_set_grad_enabled(false);
    sg_tensor *ms = groups_to_channels(mean, N * C, C);
    sg_tensor *mm = ms ? sg_div_scalar(ms, (double)N) : NULL;
    sg_tensor *vs = mm ? groups_to_channels(var, N * C, C) : NULL;
    sg_tensor *vm = vs ? sg_mul_scalar(vs, (double)S / ((double)(S - 1) * (double)N)) : NULL;
    sg_set_grad_enabled(prev);
    if (!vm || update_running(running_mean, mm, momentum) != SG_OK ||
        update_running(running_var, vm, momentum) != SG_OK) {
      sg_error_context("%s: updating the running statistics", op);
      sg_release(y);
      y = NULL;
    }
    sg_tensor *all[] = {ms, mm, vs, vm};
    sg_release_all(all, 4);
  }
  sg_release(mean);
  sg_release(var);
  return y;
}

/* ---------------- layer_norm ---------------- */
/* saved: 0 x, 1 mean, 2 invstd, [3 w]; the scalars: */
typedef struct layer_ctx {
  int64_t R, D; /* rows, normalized entries per row */
  bool has_w;
  int nnorm; /* normalized dims */
  double eps;
} layer_ctx;

static layer_ctx layer_ctx_load(const sg_node *n) {
  layer_ctx c;
  SG_CTX_LOAD(n, &c);
  return c;
}

static sg_status layer_norm_backward_composite(sg_node *node, sg_tensor *dy, sg_tensor **gi) {
  const layer_ctx nc = layer_ctx_load(node);
  int64_t R = nc.R, D = nc.D;
  bool has_w = nc.has_w;
  double eps = nc.eps, Dd = (double)D;
  tmps P = {0};
  tmps *p = &P;
  const int64_t s2[2] = {R, D};
  const int last[1] = {1}, first[1] = {0};
  sg_tensor *x = K(p, sg_node_saved(node, 0));
  sg_tensor *w = has_w ? K(p, sg_node_saved(node, 3)) : NULL;
  sg_tensor *xv = K(p, sg_reshape(x, s2, 2));
  sg_tensor *dyv = K(p, sg_reshape(dy, s2, 2));
  sg_tensor *mean = K(p, sg_div_scalar(K(p, sg_sum(xv, last, 1, true)), Dd));
  sg_tensor *xc = K(p, sg_sub(xv, mean));
  sg_tensor *var = K(p, sg_div_scalar(K(p, sg_sum(K(p, sg_mul(xc, xc)), last, 1, true)), Dd));
  sg_tensor *invstd = K(p, sg_rsqrt(K(p, sg_add_scalar(var, eps))));
  sg_tensor *xhat = K(p, sg_mul(xc, invstd));
  if (sg_node_wants(node, 0)) {
    sg_tensor *g = has_w ? K(p, sg_mul(dyv, K(p, sg_reshape(w, (const int64_t[]){1, D}, 2))))
                         : dyv;
    sg_tensor *c1 = K(p, sg_div_scalar(K(p, sg_sum(g, last, 1, true)), Dd));
    sg_tensor *c2 = K(p, sg_div_scalar(K(p, sg_sum(K(p, sg_mul(g, xhat)), last, 1, true)), Dd));
    sg_tensor *t = K(p, sg_sub(K(p, sg_sub(g, c1)), K(p, sg_mul(xhat, c2))));
    t = K(p, sg_mul(t, invstd));
    gi[0] = RES(p, sg_reshape(t, x->shape, x->ndim));
  }
  if (sg_node_wants(node, 1)) {
    sg_tensor *s = K(p, sg_sum(K(p, sg_mul(dyv, xhat)), first, 1, false));
    gi[1] = RES(p, sg_reshape(s, w->shape, w->ndim));
  }
  if (sg_node_wants(node, 2)) {
    sg_tensor *s = K(p, sg_sum(dyv, first, 1, false));
    int nn = nc.nnorm;
    gi[2] = RES(p, sg_reshape(s, x->shape + x->ndim - nn, nn));
  }
  return tmps_end(p, gi, 3);
}

static sg_status layer_norm_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  if (!go[0]) return SG_OK;
  if (sg_grad_enabled()) return layer_norm_backward_composite(node, go[0], gi);
  const layer_ctx nc = layer_ctx_load(node);
  int64_t R = nc.R, D = nc.D;
  bool has_w = nc.has_w;
  int nn = nc.nnorm;
  sg_tensor *x = sg_node_saved(node, 0), *mean = sg_node_saved(node, 1),
            *invstd = sg_node_saved(node, 2), *w = has_w ? sg_node_saved(node, 3) : NULL;
  sg_tensor *xc = NULL, *dyc = NULL, *wc = NULL, *dx = NULL, *dw = NULL, *db = NULL;
  sg_status st = SG_OK;
  if (!x || !mean || !invstd || (has_w && !w)) goto fail;
  const sg_backend *be = sg_backend_checked("layer_norm backward", x, offsetof(sg_backend, norm));
  if (!be) goto fail;
  xc = sg_as_contiguous_dtype(x, x->dtype);
  dyc = xc ? sg_as_contiguous_dtype(go[0], x->dtype) : NULL;
  wc = (dyc && w) ? sg_as_contiguous_dtype(w, x->dtype) : NULL;
  if (!dyc || (w && !wc)) goto fail;
  const int64_t *nshape = x->shape + x->ndim - nn;
  if (sg_node_wants(node, 0) && !(dx = sg_empty_like(xc))) goto fail;
  if (sg_node_wants(node, 1) && !(dw = sg_empty(nshape, nn, x->dtype, x->storage->device))) goto fail;
  if (sg_node_wants(node, 2) && !(db = sg_empty(nshape, nn, x->dtype, x->storage->device))) goto fail;
  if (R > 0 || (!dw && !db)) {
    st = be->norm->layer_norm_backward(dx, dw, db, dyc, xc, mean, invstd, wc, R, D);
    if (st != SG_OK) goto fail;
  } else {
    if (dw && sg_fill_(dw, 0) != SG_OK) goto fail;
    if (db && sg_fill_(db, 0) != SG_OK) goto fail;
  }
  gi[0] = dx;
  gi[1] = dw;
  gi[2] = db;
  dx = dw = db = NULL;
  goto done;
fail:
  st = sg_last_status() != SG_OK ? sg_last_status() : SG_ERR_STATE;
done: {
  sg_tensor *all[] = {x, mean, invstd, w, xc, dyc, wc, dx, dw, db};
  sg_release_all(all, 10);
}
  return st;
}

sg_tensor *sg_layer_norm(sg_tensor *x, const int64_t *normalized_shape, int nnorm,
                         sg_tensor *weight, sg_tensor *bias, double eps) {
  const char *op = "layer_norm";
  if (sg_check_arg(op, "input", x) || sg_check_float(op, "input", x)) return NULL;
  char a[128], b[128];
  if (!normalized_shape || nnorm < 1 || nnorm > x->ndim) {
    sg_error(SG_ERR_ARG,
             "%s: normalized_shape has %d dims, expected 1 to %d (the dims of input %s)", op,
             nnorm, x->ndim, sg_shape_str(x, a, sizeof a));
    return NULL;
  }
  int lead = x->ndim - nnorm;
  int64_t R = 1, D = 1;
  for (int d = 0; d < lead; d++) R *= x->shape[d];
  for (int d = 0; d < nnorm; d++) {
    if (x->shape[lead + d] != normalized_shape[d]) {
      sg_error(SG_ERR_ARG, "%s: input of shape %s does not end with normalized_shape %s", op,
               sg_shape_str(x, a, sizeof a), sg_dims_str(normalized_shape, nnorm, b, sizeof b));
      return NULL;
    }
    D *= normalized_shape[d];
  }
  if (D == 0) {
    sg_error(SG_ERR_ARG, "%s: normalized_shape %s has no elements", op,
             sg_dims_str(normalized_shape, nnorm, b, sizeof b));
    return NULL;
  }
  if (!(eps >= 0)) {
    sg_error(SG_ERR_ARG, "%s: eps %g must be >= 0", op, eps);
    return NULL;
  }
  sg_tensor *params[2] = {weight, bias};
  const char *names[2] = {"weight", "bias"};
  for (int k = 0; k < 2; k++) {
    sg_tensor *p = params[k];
    if (!p) continue;
    if (sg_check_same_device(op, x, p)) return NULL;
    if (p->dtype != x->dtype) {
      sg_error(SG_ERR_ARG, "%s: %s has dtype %s, expected %s like the input", op, names[k],
               sg_dtype_name(p->dtype), sg_dtype_name(x->dtype));
      return NULL;
    }
    bool ok = p->ndim == nnorm;
    for (int d = 0; ok && d < nnorm; d++) ok = p->shape[d] == normalized_shape[d];
    if (!ok) {
      sg_error(SG_ERR_ARG, "%s: %s has shape %s, expected normalized_shape %s", op, names[k],
               sg_shape_str(p, a, sizeof a), sg_dims_str(normalized_shape, nnorm, b, sizeof b));
      return NULL;
    }
  }
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, norm));
  if (!be) return NULL;
  sg_tensor *xc = sg_as_contiguous_dtype(x, x->dtype);
  sg_tensor *wc = (xc && weight) ? sg_as_contiguous_dtype(weight, x->dtype) : NULL;
  sg_tensor *bc = (xc && bias) ? sg_as_contiguous_dtype(bias, x->dtype) : NULL;
  sg_tensor *mean = NULL, *invstd = NULL, *y = NULL;
  if (!xc || (weight && !wc) || (bias && !bc)) goto done;
  mean = sg_empty((const int64_t[]){R}, 1, x->dtype, x->storage->device);
  invstd = mean ? sg_empty((const int64_t[]){R}, 1, x->dtype, x->storage->device) : NULL;
  y = invstd ? sg_empty_like(xc) : NULL;
  if (!y || be->norm->layer_norm(y, mean, invstd, xc, R, D, wc, bc, eps) != SG_OK) {
    if (y) sg_error_context("%s", op);
    sg_release(y);
    y = NULL;
    goto done;
  }
  {
    sg_tensor *ins[3] = {x, weight, bias};
    sg_node *n = sg_record(op, layer_norm_backward, ins, 3, y);
    if (n) {
      layer_ctx nc = {R, D, weight != NULL, nnorm, eps};
      SG_CTX_STORE(n, &nc);
      sg_node_save(n, x);
      sg_node_save(n, mean);
      sg_node_save(n, invstd);
      if (weight) sg_node_save(n, weight);
    }
  }
done: {
  sg_tensor *all[] = {xc, wc, bc, mean, invstd};
  sg_release_all(all, 5);
}
  return y;
}
