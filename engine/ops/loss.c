/* Losses with PyTorch's semantics.
 *  - mse_loss, l1_loss: fused reduction kernels for mean/sum (one pass);
 *    their backward is a fused kernel, or public ops under create_graph
 *    (double backward). reduction=none is a composite.
 *  - bce_with_logits: composite of stable ops:
 *    (1 - t) x + lw * softplus(-x), lw = 1 + (pos_weight - 1) t, times weight.
 *  - nll_loss: a differentiable gather of -logp at the targets (the internal
 *    take_along op, whose backward is a scatter into zeros and vice versa), so
 *    it is differentiable to any order. cross_entropy = log_softmax + nll_loss
 *    (+ label smoothing), hence double-differentiable as well.
 * Shapes: input and target must have the same shape for mse/l1/bce (PyTorch
 * broadcasts mse/l1 with a warning; here a mismatch is an error, it is
 * almost always a bug). */
#include <math.h>
#include <string.h>

#include "internal/backend.h"
#include "internal/kernels_loss.h"
#include "internal/ops_internal.h"
#include "internal/op_ctx.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

static int check_reduction(const char *op, sg_reduction r) {
  if (r == SG_REDUCTION_MEAN || r == SG_REDUCTION_SUM || r == SG_REDUCTION_NONE) return 0;
  return sg_error(SG_ERR_ARG,
                  "%s: invalid reduction %d (expected SG_REDUCTION_MEAN, SG_REDUCTION_SUM or "
                  "SG_REDUCTION_NONE)",
                  op, (int)r);
}

static int check_same_shape(const char *op, const sg_tensor *input, const sg_tensor *target) {
  if (sg_same_shape(input, target)) return 0;
  char a[128], b[128];
  return sg_error(SG_ERR_ARG, "%s: target has shape %s but input has shape %s; expected the same shape",
                  op, sg_shape_str(target, a, sizeof a), sg_shape_str(input, b, sizeof b));
}

/* Common float dtype of input and target (input must be float). */
static int loss_dtype(const char *op, const sg_tensor *input, const sg_tensor *target,
                      sg_dtype *dt) {
  if (sg_check_float(op, "input", input)) return -1;
  *dt = sg_promote_types(input->dtype, target->dtype);
  if (!sg_dtype_is_float(*dt))
    return sg_error(SG_ERR_ARG, "%s: target has dtype %s, expected a float tensor", op,
                    sg_dtype_name(target->dtype));
  return 0;
}

/* Consumes l: mean or sum over all elements, or l itself. */
static sg_tensor *reduce_take(sg_tensor *l, sg_reduction r) {
  if (!l || r == SG_REDUCTION_NONE) return l;
  sg_tensor *o = r == SG_REDUCTION_SUM ? sg_sum(l, NULL, 0, false) : sg_mean(l, NULL, 0, false);
  sg_release(l);
  return o;
}

/* ---------------- mse / l1 ---------------- */

/* What mse / l1 save for their backward (besides input and target). */
typedef struct pointwise_ctx {
  sg_pointwise_loss kind;
  double scale; /* 1 / numel for a mean, 1 for a sum */
} pointwise_ctx;

static sg_status pointwise_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  pointwise_ctx c;
  SG_CTX_LOAD(node, &c);
  sg_pointwise_loss kind = c.kind;
  double scale = c.scale;
  bool want_x = sg_node_wants(node, 0);
  bool want_t = sg_node_wants(node, 1);
  sg_tensor *x = sg_node_saved(node, 0), *t = sg_node_saved(node, 1);
  sg_tensor *gx = NULL;
  sg_status st = SG_OK;
  if (!x || !t) goto fail;
  if (!sg_grad_enabled()) {
    /* fused: gx = g * scale * (2 (x - t) | sign(x - t)) */
    double g;
    if (sg_item(go[0], &g)) goto fail;
    const sg_backend *be = sg_backend_checked(node->name, x, offsetof(sg_backend, loss));
    sg_tensor *xc = be ? sg_as_contiguous_dtype(x, x->dtype) : NULL;
    sg_tensor *tc = xc ? sg_as_contiguous_dtype(t, x->dtype) : NULL;
    gx = tc ? sg_empty(x->shape, x->ndim, x->dtype, x->storage->device) : NULL;
    if (gx && be->loss->pointwise_grad(kind, gx, xc, tc, g * scale) != SG_OK) {
      sg_release(gx);
      gx = NULL;
    }
    sg_release(xc);
    sg_release(tc);
  } else {
    sg_tensor *d = sg_sub(x, t), *b = NULL;
    if (d && kind == SG_LOSS_MSE) {
      b = sg_mul_scalar(d, 2.0 * scale);
    } else if (d) {
      sg_tensor *s = sg_sign(d);
      b = s ? sg_mul_scalar(s, scale) : NULL;
      sg_release(s);
    }
    gx = b ? sg_mul(b, go[0]) : NULL;
    sg_release(d);
    sg_release(b);
  }
  if (!gx) goto fail;
  if (want_t && !(gi[1] = sg_neg(gx))) goto fail;
  if (want_x) gi[0] = sg_retain(gx);
  sg_release(gx);
  sg_release(x);
  sg_release(t);
  return SG_OK;
fail:
  st = sg_last_status();
  sg_release(gx);
  sg_release(gi[1]);
  gi[1] = NULL;
  sg_release(x);
  sg_release(t);
  return st != SG_OK ? st : SG_ERR_STATE;
}

static sg_tensor *pointwise_loss(const char *op, sg_pointwise_loss kind, sg_tensor *input,
                                 sg_tensor *target, sg_reduction r) {
  if (sg_check_arg(op, "input", input) || sg_check_arg(op, "target", target) ||
      sg_check_same_device(op, input, target) || check_reduction(op, r) ||
      check_same_shape(op, input, target))
    return NULL;
  sg_dtype dt;
  if (loss_dtype(op, input, target, &dt)) return NULL;
  const sg_backend *be = sg_backend_checked(op, input, offsetof(sg_backend, loss));
  if (!be) return NULL;
  sg_tensor *x = sg_to_dtype(input, dt);
  sg_tensor *t = x ? sg_to_dtype(target, dt) : NULL;
  sg_tensor *out = NULL;
  if (!t) goto done;
  if (r == SG_REDUCTION_NONE) {
    sg_tensor *d = sg_sub(x, t);
    out = d ? (kind == SG_LOSS_MSE ? sg_pow_scalar(d, 2.0) : sg_abs(d)) : NULL;
    sg_release(d);
    goto done;
  }
  sg_tensor *xc = sg_as_contiguous_dtype(x, dt);
  sg_tensor *tc = xc ? sg_as_contiguous_dtype(t, dt) : NULL;
  double s = 0;
  sg_status st = tc ? be->loss->pointwise_sum(kind, xc, tc, &s) : sg_last_status();
  sg_release(xc);
  sg_release(tc);
  if (st != SG_OK) goto done;
  int64_t n = sg_numel(x);
  double scale = r == SG_REDUCTION_MEAN ? 1.0 / (double)n : 1.0;
  out = sg_scalar_tensor(r == SG_REDUCTION_MEAN ? s / (double)n : s, dt, x->storage->device);
  if (out) {
    sg_tensor *ins[2] = {x, t};
    sg_node *nd = sg_record(op, pointwise_backward, ins, 2, out);
    if (nd) {
      pointwise_ctx ctx = {kind, scale};
      SG_CTX_STORE(nd, &ctx);
      sg_node_save(nd, x);
      sg_node_save(nd, t);
    }
  }
done:
  sg_release(x);
  sg_release(t);
  return out;
}

sg_tensor *sg_mse_loss(sg_tensor *input, sg_tensor *target, sg_reduction r) {
  return pointwise_loss("mse_loss", SG_LOSS_MSE, input, target, r);
}

sg_tensor *sg_l1_loss(sg_tensor *input, sg_tensor *target, sg_reduction r) {
  return pointwise_loss("l1_loss", SG_LOSS_L1, input, target, r);
}

/* ---------------- bce_with_logits ---------------- */

/* w (optional) must broadcast to the input's shape without growing it. */
static int check_broadcasts_to(const char *op, const char *name, const sg_tensor *w,
                               const sg_tensor *input) {
  if (!w) return 0;
  if (sg_check_same_device(op, w, input)) return -1;
  if (!sg_dtype_is_float(w->dtype))
    return sg_error(SG_ERR_ARG, "%s: %s has dtype %s, expected a float tensor", op, name,
                    sg_dtype_name(w->dtype));
  int64_t sh[SG_MAX_DIMS];
  int nd;
  char a[128], b[128];
  if (sg_broadcast_shapes(op, w->shape, w->ndim, input->shape, input->ndim, sh, &nd) ||
      nd != input->ndim || sg_shape_numel(sh, nd) != sg_numel(input)) {
    sg_clear_error();
    return sg_error(SG_ERR_ARG, "%s: %s of shape %s does not broadcast to the input's shape %s",
                    op, name, sg_shape_str(w, a, sizeof a), sg_shape_str(input, b, sizeof b));
  }
  return 0;
}

sg_tensor *sg_bce_with_logits(sg_tensor *input, sg_tensor *target, sg_tensor *weight,
                              sg_tensor *pos_weight, sg_reduction r) {
  const char *op = "bce_with_logits";
  if (sg_check_arg(op, "input", input) || sg_check_arg(op, "target", target) ||
      sg_check_same_device(op, input, target) || check_reduction(op, r) ||
      check_same_shape(op, input, target) || check_broadcasts_to(op, "weight", weight, input) ||
      check_broadcasts_to(op, "pos_weight", pos_weight, input))
    return NULL;
  sg_dtype dt;
  if (loss_dtype(op, input, target, &dt)) return NULL;
  enum { X, T, NX, SP, TX, B, PW, PM1, LW0, LW, C, L, W, NT };
  sg_tensor *v[NT] = {0};
  sg_tensor *loss = NULL;
  v[X] = sg_to_dtype(input, dt);
  v[T] = v[X] ? sg_to_dtype(target, dt) : NULL;
  /* softplus(-x) = max(-x, 0) + log1p(exp(-|x|)), stable */
  v[NX] = v[T] ? sg_neg(v[X]) : NULL;
  v[SP] = v[NX] ? sg_softplus(v[NX]) : NULL;
  v[TX] = v[SP] ? sg_mul(v[T], v[X]) : NULL;
  v[B] = v[TX] ? sg_sub(v[X], v[TX]) : NULL; /* (1 - t) x */
  if (!v[B]) goto done;
  if (pos_weight) {
    v[PW] = sg_to_dtype(pos_weight, dt);
    v[PM1] = v[PW] ? sg_sub_scalar(v[PW], 1.0) : NULL;
    v[LW0] = v[PM1] ? sg_mul(v[PM1], v[T]) : NULL;
    v[LW] = v[LW0] ? sg_add_scalar(v[LW0], 1.0) : NULL;
    v[C] = v[LW] ? sg_mul(v[LW], v[SP]) : NULL;
  } else {
    v[C] = sg_retain(v[SP]);
  }
  v[L] = v[C] ? sg_add(v[B], v[C]) : NULL;
  if (!v[L]) goto done;
  if (weight) {
    sg_tensor *w = sg_to_dtype(weight, dt);
    v[W] = w ? sg_mul(v[L], w) : NULL;
    sg_release(w);
    if (!v[W]) goto done;
  } else {
    v[W] = sg_retain(v[L]);
  }
  loss = reduce_take(sg_retain(v[W]), r);
done:
  sg_release_all(v, NT);
  return loss;
}

/* ---------------- nll_loss / cross_entropy ---------------- */

/* Per-element losses -weight[t] * logp[t] (target's shape; 0 where ignored),
 * the sum of the weights of the non-ignored targets, and how many targets
 * were ignored. logp: (C), (N x C) or (N x C x d1 ...). */
/* The error for target element `bad` out of range, in the caller's label
 * numbering (base 0: C's message; else the Lua bindings' 1-based one). */
static void label_range_error(const char *op, const sg_tensor *tc, const sg_tensor *target,
                              int64_t bad, int64_t C, int64_t ignore, int64_t base) {
  char a[128];
  int64_t label = 0;
  if (sg_get_flat_int64(tc, bad, &label) != SG_OK) return;
  if (base == 0)
    sg_error(SG_ERR_ARG,
             "%s: target %lld (at flat position %lld of target %s) is out of range: expected "
             "0 <= target < %lld (the number of classes) or ignore_index %lld",
             op, (long long)label, (long long)bad, sg_shape_str(target, a, sizeof a),
             (long long)C, (long long)ignore);
  else
    sg_error(SG_ERR_ARG,
             "%s: target label %lld (at flat index %lld of target %s) is out of range: expected "
             "%lld..%lld (class labels are %lld-based) or ignore_index %lld",
             op, (long long)label, (long long)(bad + base), sg_shape_str(target, a, sizeof a),
             (long long)base, (long long)(C - 1 + base), (long long)base, (long long)ignore);
}

/* The numberings the class losses know: C's (0) and Lua's (1). */
static bool label_base_ok(const char *op, int64_t base) {
  if (base == 0 || base == 1) return true;
  sg_error(SG_ERR_ARG, "%s: label_base %lld, expected 0 or 1", op, (long long)base);
  return false;
}

static sg_tensor *nll_elements(const char *op, sg_tensor *logp, sg_tensor *target,
                               sg_tensor *weight, int64_t ignore, int64_t base, double *wsum,
                               int64_t *n_ignored) {
  char a[128], b[128], c[128];
  if (sg_check_arg(op, "input", logp) || sg_check_arg(op, "target", target) ||
      sg_check_float(op, "input", logp) || sg_check_same_device(op, logp, target))
    return NULL;
  if (logp->ndim < 1) {
    sg_error(SG_ERR_ARG, "%s: input is 0-dim, expected (C), (N x C) or (N x C x d1 ...)", op);
    return NULL;
  }
  if (target->dtype != SG_INT64) {
    if (base == 0)
      sg_error(SG_ERR_ARG, "%s: target has dtype %s, expected int64 class indices", op,
               sg_dtype_name(target->dtype));
    else
      sg_error(SG_ERR_ARG, "%s: target has dtype %s, expected int64 class labels (%lld-based)",
               op, sg_dtype_name(target->dtype), (long long)base);
    return NULL;
  }
  int64_t tshape[SG_MAX_DIMS];
  int tnd = 0;
  for (int i = 0; i < logp->ndim; i++)
    if (i != 1 || logp->ndim == 1) tshape[tnd++] = logp->shape[i];
  if (logp->ndim == 1) tnd = 0; /* (C) takes a 0-dim target */
  bool ok = target->ndim == tnd;
  for (int i = 0; ok && i < tnd; i++) ok = target->shape[i] == tshape[i];
  if (!ok) {
    sg_error(SG_ERR_ARG, "%s: target has shape %s, expected %s for input %s", op,
             sg_shape_str(target, a, sizeof a), sg_dims_str(tshape, tnd, b, sizeof b),
             sg_shape_str(logp, c, sizeof c));
    return NULL;
  }
  int64_t C = logp->ndim == 1 ? logp->shape[0] : logp->shape[1];
  if (weight) {
    if (sg_check_same_device(op, weight, logp) || sg_check_float(op, "weight", weight))
      return NULL;
    if (weight->ndim != 1 || weight->shape[0] != C) {
      sg_error(SG_ERR_ARG, "%s: weight has shape %s, expected %lld (one per class)", op,
               sg_shape_str(weight, a, sizeof a), (long long)C);
      return NULL;
    }
  }
  const sg_backend *be = sg_backend_checked(op, logp, offsetof(sg_backend, loss));
  if (!be) return NULL;
  enum { WC, TC, SAFE, W, LP, IDX, PICK, PK, IGN, PKM, WL, NT };
  sg_tensor *v[NT] = {0};
  sg_tensor *out = NULL;
  v[WC] = weight ? sg_as_contiguous_dtype(weight, logp->dtype) : NULL;
  v[TC] = (!weight || v[WC]) ? sg_as_contiguous_dtype(target, SG_INT64) : NULL;
  v[SAFE] = v[TC] ? sg_empty(target->shape, target->ndim, SG_INT64, target->storage->device)
                  : NULL;
  v[W] = v[SAFE] ? sg_empty(target->shape, target->ndim, logp->dtype, logp->storage->device)
                 : NULL;
  if (!v[W]) goto done;
  int64_t bad = -1;
  if (be->loss->nll_prepare(v[SAFE], v[W], v[TC], v[WC], C, ignore, base, &bad, wsum,
                            n_ignored) != SG_OK)
    goto done;
  if (bad >= 0) {
    label_range_error(op, v[TC], target, bad, C, ignore, base);
    goto done;
  }
  /* gather logp at the targets along the class dim */
  if (logp->ndim == 1) {
    const int64_t one[2] = {1, 1};
    v[LP] = sg_unsqueeze(logp, 0);
    v[IDX] = v[LP] ? sg_reshape(v[SAFE], one, 2) : NULL;
  } else {
    v[LP] = sg_retain(logp);
    v[IDX] = sg_unsqueeze(v[SAFE], 1);
  }
  v[PICK] = v[IDX] ? sg_internal_take_along(v[LP], v[IDX], 1) : NULL;
  v[PK] = v[PICK] ? sg_reshape(v[PICK], target->shape, target->ndim) : NULL;
  if (!v[PK]) goto done;
  if (*n_ignored > 0) { /* skip ignored entries even where logp[0] is -inf */
    v[IGN] = sg_cmp_scalar(SG_EQ, v[TC], (double)ignore);
    v[PKM] = v[IGN] ? sg_masked_fill(v[PK], v[IGN], 0.0) : NULL;
  } else {
    v[PKM] = sg_retain(v[PK]);
  }
  v[WL] = v[PKM] ? sg_mul(v[PKM], v[W]) : NULL;
  out = v[WL] ? sg_neg(v[WL]) : NULL;
done:
  sg_release_all(v, NT);
  return out;
}

/* Consumes l: reduction with the weighted mean of nll_loss. */
static sg_tensor *nll_reduce(sg_tensor *l, sg_reduction r, double wsum) {
  if (!l || r == SG_REDUCTION_NONE) return l;
  sg_tensor *s = sg_sum(l, NULL, 0, false);
  sg_release(l);
  if (!s || r == SG_REDUCTION_SUM) return s;
  /* weighted mean: divide by the total weight of the non-ignored targets
   * (0/0 = nan when every target is ignored, as PyTorch) */
  sg_tensor *m = sg_div_scalar(s, wsum);
  sg_release(s);
  return m;
}

sg_tensor *sg_nll_loss_ex(sg_tensor *logp, sg_tensor *target, sg_tensor *weight, sg_reduction r,
                          int64_t ignore_index, int64_t label_base) {
  if (check_reduction("nll_loss", r) || !label_base_ok("nll_loss", label_base)) return NULL;
  double wsum = 0;
  int64_t nign = 0;
  sg_tensor *l =
      nll_elements("nll_loss", logp, target, weight, ignore_index, label_base, &wsum, &nign);
  return nll_reduce(l, r, wsum);
}

sg_tensor *sg_nll_loss(sg_tensor *logp, sg_tensor *target, sg_tensor *weight, sg_reduction r,
                       int64_t ignore_index) {
  return sg_nll_loss_ex(logp, target, weight, r, ignore_index, 0);
}

sg_tensor *sg_cross_entropy(sg_tensor *logits, sg_tensor *target, sg_tensor *weight,
                            sg_reduction r, int64_t ignore_index, double label_smoothing) {
  return sg_cross_entropy_ex(logits, target, weight, r, ignore_index, label_smoothing, 0);
}

sg_tensor *sg_cross_entropy_ex(sg_tensor *logits, sg_tensor *target, sg_tensor *weight,
                               sg_reduction r, int64_t ignore_index, double label_smoothing,
                               int64_t label_base) {
  const char *op = "cross_entropy";
  if (sg_check_arg(op, "input", logits) || sg_check_float(op, "input", logits) ||
      check_reduction(op, r) || !label_base_ok(op, label_base))
    return NULL;
  if (logits->ndim < 1) {
    sg_error(SG_ERR_ARG, "%s: input is 0-dim, expected (C), (N x C) or (N x C x d1 ...)", op);
    return NULL;
  }
  if (!(label_smoothing >= 0 && label_smoothing <= 1)) {
    sg_error(SG_ERR_ARG, "%s: label_smoothing %g is out of range, expected 0 <= ls <= 1", op,
             label_smoothing);
    return NULL;
  }
  int cdim = logits->ndim == 1 ? 0 : 1;
  enum { LP, NLL, WB, LW, S, SM, IGN, SMM, RET, A, B, NT };
  sg_tensor *v[NT] = {0};
  sg_tensor *out = NULL;
  double wsum = 0;
  int64_t nign = 0;
  v[LP] = sg_log_softmax(logits, cdim);
  if (!v[LP]) goto done;
  /* two statements: wsum must be read after nll_elements sets it */
  v[NLL] = nll_elements(op, v[LP], target, weight, ignore_index, label_base, &wsum, &nign);
  v[NLL] = nll_reduce(v[NLL], r, wsum);
  if (!v[NLL]) goto done;
  if (label_smoothing == 0) {
    out = sg_retain(v[NLL]);
    goto done;
  }
  /* PyTorch: (1 - ls) * nll + ls / C * smooth, smooth = -sum_c w_c logp_c
   * (0 where ignored), reduced like nll (mean: by the same total weight) */
  int64_t C = logits->shape[cdim];
  if (weight) {
    int64_t wshape[SG_MAX_DIMS];
    for (int i = 0; i < logits->ndim; i++) wshape[i] = i == cdim ? C : 1;
    sg_tensor *wc = sg_to_dtype(weight, logits->dtype);
    v[WB] = wc ? sg_reshape(wc, wshape, logits->ndim) : NULL;
    sg_release(wc);
    v[LW] = v[WB] ? sg_mul(v[LP], v[WB]) : NULL;
  } else {
    v[LW] = sg_retain(v[LP]);
  }
  v[S] = v[LW] ? sg_sum(v[LW], &cdim, 1, false) : NULL;
  v[SM] = v[S] ? sg_neg(v[S]) : NULL;
  if (!v[SM]) goto done;
  if (nign > 0) {
    v[IGN] = sg_cmp_scalar(SG_EQ, target, (double)ignore_index);
    v[SMM] = v[IGN] ? sg_masked_fill(v[SM], v[IGN], 0.0) : NULL;
  } else {
    v[SMM] = sg_retain(v[SM]);
  }
  v[RET] = v[SMM] ? nll_reduce(sg_retain(v[SMM]), r, wsum) : NULL;
  v[A] = v[RET] ? sg_mul_scalar(v[NLL], 1.0 - label_smoothing) : NULL;
  v[B] = v[A] ? sg_mul_scalar(v[RET], label_smoothing / (double)C) : NULL;
  out = v[B] ? sg_add(v[A], v[B]) : NULL;
done:
  sg_release_all(v, NT);
  return out;
}
