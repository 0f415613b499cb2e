/* Elementwise ops: broadcasting, type promotion, and backward formulas
 * written with these same ops (so they are differentiable again). */
#include <math.h>
#include <string.h>

#include "internal/backend.h"
#include "internal/kernels_elementwise.h"
#include "internal/op_ctx.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

static const char *const unary_names[SG_UNARY_COUNT] = {
    [SG_NEG] = "neg",         [SG_ABS] = "abs",         [SG_SIGN] = "sign",
    [SG_EXP] = "exp",         [SG_LOG] = "log",         [SG_SQRT] = "sqrt",
    [SG_RSQRT] = "rsqrt",     [SG_SIN] = "sin",         [SG_COS] = "cos",
    [SG_TANH] = "tanh",       [SG_SIGMOID] = "sigmoid", [SG_RELU] = "relu",
    [SG_RECIPROCAL] = "reciprocal", [SG_SQUARE] = "square", [SG_LOG1P] = "log1p",
    [SG_EXPM1] = "expm1",     [SG_SOFTPLUS] = "softplus", [SG_FLOOR] = "floor",
    [SG_CEIL] = "ceil",       [SG_ROUND] = "round",     [SG_LOGICAL_NOT] = "logical_not",
    [SG_ERF] = "erf",
};

static const char *const binary_names[SG_BINARY_COUNT] = {
    [SG_ADD] = "add", [SG_SUB] = "sub", [SG_MUL] = "mul", [SG_DIV] = "div",
    [SG_POW] = "pow", [SG_MAXIMUM] = "maximum", [SG_MINIMUM] = "minimum",
    [SG_EQ] = "eq",   [SG_NE] = "ne",   [SG_LT] = "lt",   [SG_LE] = "le",
    [SG_GT] = "gt",   [SG_GE] = "ge",   [SG_LOGICAL_AND] = "logical_and",
    [SG_LOGICAL_OR] = "logical_or",
};

static bool binary_is_predicate(sg_binary_op op) { return op >= SG_EQ && op < SG_BINARY_COUNT; }

/* ---- small helpers for backward formulas (each returns a new ref) ---- */

/* Float mask (0/1, dtype like) from a bool tensor. */
static sg_tensor *mask_as(sg_tensor *cond, sg_dtype dt) {
  sg_tensor *m = sg_to_dtype(cond, dt);
  sg_release(cond);
  return m;
}

/* g * t, consuming t (convenient in formulas). */
static sg_tensor *mul_take(sg_tensor *g, sg_tensor *t) {
  if (!t) return NULL;
  sg_tensor *r = sg_mul(g, t);
  sg_release(t);
  return r;
}

sg_status sg_backward_fail2(sg_tensor **gi, sg_tensor *a, sg_tensor *b) {
  sg_status st = sg_last_status();
  sg_release(gi[0]);
  sg_release(gi[1]);
  gi[0] = gi[1] = NULL;
  sg_release(a);
  sg_release(b);
  return st != SG_OK ? st : SG_ERR_STATE;
}

sg_tensor *sg_grad_reduce_to(sg_tensor *g, const sg_tensor *like) {
  if (!g) return NULL;
  if (sg_same_shape(g, like)) return g;
  sg_tensor *r = sg_sum_to_shape(g, like->shape, like->ndim);
  sg_release(g);
  return r;
}

static sg_tensor *leaky_grad_fused(sg_tensor *g, sg_tensor *x, double slope);

/* ---------------- unary ---------------- */

/* What a unary op saves for its backward (besides x and maybe y). */
typedef struct unary_ctx {
  sg_unary_op op;
} unary_ctx;

static sg_status unary_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  unary_ctx c;
  SG_CTX_LOAD(node, &c);
  sg_unary_op op = c.op;
  sg_tensor *g = go[0];
  sg_tensor *x = sg_node_saved(node, 0);
  sg_tensor *y = node->n_saved > 1 ? sg_node_saved(node, 1) : NULL;
  sg_tensor *r = NULL;
  if (!x || (node->n_saved > 1 && !y)) goto out;
  switch (op) {
    case SG_NEG: r = sg_neg(g); break;
    case SG_ABS: r = mul_take(g, sg_sign(x)); break;
    case SG_SIGN: case SG_FLOOR: case SG_CEIL: case SG_ROUND: r = sg_zeros_like(x); break;
    case SG_EXP: r = sg_mul(g, y); break;
    case SG_LOG: r = sg_div(g, x); break;
    case SG_SQRT: r = sg_div(g, y); if (r) { sg_tensor *h = sg_mul_scalar(r, 0.5); sg_release(r); r = h; } break;
    case SG_RSQRT: /* -0.5 * g * y^3 */
      r = mul_take(g, sg_pow_scalar(y, 3.0));
      if (r) { sg_tensor *h = sg_mul_scalar(r, -0.5); sg_release(r); r = h; }
      break;
    case SG_SIN: r = mul_take(g, sg_cos(x)); break;
    case SG_COS: r = mul_take(g, sg_sin(x)); if (r) { sg_tensor *h = sg_neg(r); sg_release(r); r = h; } break;
    case SG_TANH: { /* g * (1 - y^2) */
      sg_tensor *y2 = sg_mul(y, y);
      r = y2 ? mul_take(g, sg_rsub_scalar(1.0, y2)) : NULL;
      sg_release(y2);
      break;
    }
    case SG_SIGMOID: r = mul_take(g, mul_take(y, sg_rsub_scalar(1.0, y))); break;
    case SG_RELU:
      if (!(r = leaky_grad_fused(g, y, 0.0)))
        r = mul_take(g, mask_as(sg_cmp_scalar(SG_GT, y, 0.0), y->dtype));
      break;
    case SG_RECIPROCAL: { /* -g * y^2 */
      sg_tensor *y2 = sg_mul(y, y);
      r = y2 ? mul_take(g, sg_neg(y2)) : NULL;
      sg_release(y2);
      break;
    }
    case SG_SQUARE: r = mul_take(g, sg_mul_scalar(x, 2.0)); break;
    case SG_LOG1P: {
      sg_tensor *d = sg_add_scalar(x, 1.0);
      r = d ? sg_div(g, d) : NULL;
      sg_release(d);
      break;
    }
    case SG_EXPM1: r = mul_take(g, sg_add_scalar(y, 1.0)); break;
    case SG_SOFTPLUS: r = mul_take(g, sg_sigmoid(x)); break;
    case SG_ERF: { /* g * 2/sqrt(pi) * exp(-x^2) */
      sg_tensor *nx2 = sg_mul_scalar(x, -1.0);
      sg_tensor *t = nx2 ? sg_mul(nx2, x) : NULL;
      sg_tensor *e = t ? sg_exp(t) : NULL;
      sg_tensor *d = e ? sg_mul_scalar(e, 1.1283791670955126) : NULL; /* 2/sqrt(pi) */
      sg_release(nx2);
      sg_release(t);
      sg_release(e);
      r = d ? mul_take(g, d) : NULL;
      break;
    }
    default:
      sg_error(SG_ERR_STATE, "%s has no gradient", unary_names[op]);
      break;
  }
out:
  sg_release(x);
  sg_release(y);
  gi[0] = r;
  return r ? SG_OK : sg_last_status();
}

/* Whether backward needs the output (saved without a cycle) besides x. */
static bool unary_saves_output(sg_unary_op op) {
  switch (op) {
    case SG_EXP: case SG_SQRT: case SG_RSQRT: case SG_TANH: case SG_SIGMOID: case SG_RELU:
    case SG_RECIPROCAL: case SG_EXPM1: return true;
    default: return false;
  }
}

static bool unary_needs_float(sg_unary_op op) {
  switch (op) {
    case SG_NEG: case SG_ABS: case SG_SIGN: case SG_RELU: case SG_SQUARE: case SG_FLOOR:
    case SG_CEIL: case SG_ROUND: case SG_LOGICAL_NOT: return false;
    default: return true;
  }
}

sg_tensor *sg_unary(sg_unary_op op, sg_tensor *x) {
  if ((unsigned)op >= SG_UNARY_COUNT) {
    sg_error(SG_ERR_ARG, "unary: invalid op %d", (int)op);
    return NULL;
  }
  const char *name = unary_names[op];
  if (sg_check_arg(name, "input", x)) return NULL;
  if (op == SG_NEG && x->dtype == SG_BOOL) {
    sg_error(SG_ERR_ARG,
             "neg: negation of a bool tensor is not supported (as in PyTorch); to invert a mask "
             "use logical_not");
    return NULL;
  }
  if (op == SG_ERF && x->storage->device.type != SG_CPU) {
    /* the CUDA unary kernels have no erf yet */
    sg_error(SG_ERR_ARG, "erf: not implemented on cuda");
    return NULL;
  }
  const sg_backend *be = sg_backend_checked(name, x, offsetof(sg_backend, elementwise));
  if (!be) return NULL;
  /* Integer inputs of float functions compute in float32, as PyTorch. */
  sg_tensor *in = (unary_needs_float(op) && !sg_dtype_is_float(x->dtype))
                      ? sg_to_dtype(x, SG_FLOAT32)
                      : sg_retain(x);
  if (!in) return NULL;
  sg_dtype odt = op == SG_LOGICAL_NOT ? SG_BOOL : in->dtype;
  sg_tensor *out = sg_empty(in->shape, in->ndim, odt, in->storage->device);
  if (!out || be->elementwise->unary(op, out, in) != SG_OK) {
    if (out) sg_error_context("%s", name);
    sg_release(out);
    sg_release(in);
    return NULL;
  }
  if (odt != SG_BOOL && sg_dtype_is_float(odt)) {
    sg_node *n = sg_record(name, unary_backward, &in, 1, out);
    if (n) {
      unary_ctx ctx = {op};
      SG_CTX_STORE(n, &ctx);
      sg_node_save(n, in);
      if (unary_saves_output(op)) sg_node_save_output(n, out, 0);
    }
  }
  sg_release(in);
  return out;
}

sg_tensor *sg_neg(sg_tensor *x) { return sg_unary(SG_NEG, x); }
sg_tensor *sg_abs(sg_tensor *x) { return sg_unary(SG_ABS, x); }
sg_tensor *sg_sign(sg_tensor *x) { return sg_unary(SG_SIGN, x); }
sg_tensor *sg_exp(sg_tensor *x) { return sg_unary(SG_EXP, x); }
sg_tensor *sg_log(sg_tensor *x) { return sg_unary(SG_LOG, x); }
sg_tensor *sg_sqrt(sg_tensor *x) { return sg_unary(SG_SQRT, x); }
sg_tensor *sg_rsqrt(sg_tensor *x) { return sg_unary(SG_RSQRT, x); }
sg_tensor *sg_sin(sg_tensor *x) { return sg_unary(SG_SIN, x); }
sg_tensor *sg_cos(sg_tensor *x) { return sg_unary(SG_COS, x); }
sg_tensor *sg_tanh(sg_tensor *x) { return sg_unary(SG_TANH, x); }
sg_tensor *sg_sigmoid(sg_tensor *x) { return sg_unary(SG_SIGMOID, x); }
sg_tensor *sg_relu(sg_tensor *x) { return sg_unary(SG_RELU, x); }
sg_tensor *sg_softplus(sg_tensor *x) { return sg_unary(SG_SOFTPLUS, x); }
sg_tensor *sg_erf(sg_tensor *x) { return sg_unary(SG_ERF, x); }

/* ---------------- binary ---------------- */

/* What a binary op saves for its backward (besides a and b). */
typedef struct binary_ctx {
  sg_binary_op op;
} binary_ctx;

static sg_status binary_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  binary_ctx c;
  SG_CTX_LOAD(node, &c);
  sg_binary_op op = c.op;
  sg_tensor *g = go[0];
  sg_tensor *a = sg_node_saved(node, 0), *b = sg_node_saved(node, 1);
  sg_tensor *ga = NULL, *gb = NULL;
  bool want_a = sg_node_wants(node, 0);
  bool want_b = sg_node_wants(node, 1);
  if (!a || !b) goto fail;
  switch (op) {
    case SG_ADD:
      if (want_a) ga = sg_retain(g);
      if (want_b) gb = sg_retain(g);
      break;
    case SG_SUB:
      if (want_a) ga = sg_retain(g);
      if (want_b) gb = sg_neg(g);
      break;
    case SG_MUL:
      if (want_a) ga = sg_mul(g, b);
      if (want_b) gb = sg_mul(g, a);
      break;
    case SG_DIV:
      if (want_a) ga = sg_div(g, b);
      if (want_b) { /* -g * a / b^2 */
        sg_tensor *t = sg_div(a, b);
        sg_tensor *u = t ? sg_div(t, b) : NULL;
        sg_release(t);
        gb = u ? mul_take(g, sg_neg(u)) : NULL;
        sg_release(u);
      }
      break;
    case SG_POW: {
      if (want_a) { /* g * b * a^(b-1) */
        sg_tensor *bm1 = sg_sub_scalar(b, 1.0);
        sg_tensor *p = bm1 ? sg_pow(a, bm1) : NULL;
        sg_release(bm1);
        ga = p ? mul_take(g, mul_take(b, p)) : NULL;
      }
      if (want_b) { /* g * a^b * log(a), 0 where a == 0 and b >= 0 */
        sg_tensor *p = sg_pow(a, b);
        sg_tensor *l = sg_log(a);
        sg_tensor *pl = (p && l) ? sg_mul(p, l) : NULL;
        sg_release(p);
        sg_release(l);
        sg_tensor *z = sg_cmp_scalar(SG_EQ, a, 0.0), *nn = sg_cmp_scalar(SG_GE, b, 0.0);
        sg_tensor *both = (z && nn) ? sg_binary(SG_LOGICAL_AND, z, nn) : NULL;
        sg_release(z);
        sg_release(nn);
        sg_tensor *safe = (pl && both) ? sg_masked_fill(pl, both, 0.0) : NULL;
        sg_release(pl);
        sg_release(both);
        gb = safe ? mul_take(g, safe) : NULL;
      }
      break;
    }
    case SG_MAXIMUM:
    case SG_MINIMUM: {
      /* ties split the gradient, as PyTorch */
      sg_tensor *win = sg_binary(op == SG_MAXIMUM ? SG_GT : SG_LT, a, b);
      sg_tensor *tie = sg_binary(SG_EQ, a, b);
      sg_tensor *mw = win ? mask_as(win, g->dtype) : NULL;
      sg_tensor *mt = tie ? mask_as(tie, g->dtype) : NULL;
      sg_tensor *half = mt ? sg_mul_scalar(mt, 0.5) : NULL;
      sg_tensor *ma = (mw && half) ? sg_add(mw, half) : NULL;
      if (want_a && ma) ga = sg_mul(g, ma);
      if (want_b && ma) gb = mul_take(g, sg_rsub_scalar(1.0, ma));
      sg_release(mw);
      sg_release(mt);
      sg_release(half);
      sg_release(ma);
      break;
    }
    default:
      sg_error(SG_ERR_STATE, "%s has no gradient", binary_names[op]);
      goto fail;
  }
  if ((want_a && !ga) || (want_b && !gb)) goto fail;
  gi[0] = sg_grad_reduce_to(ga, a);
  gi[1] = sg_grad_reduce_to(gb, b);
  if ((want_a && !gi[0]) || (want_b && !gi[1])) goto fail;
  sg_release(a);
  sg_release(b);
  return SG_OK;
fail:
  return sg_backward_fail2(gi, a, b);
}

sg_tensor *sg_binary(sg_binary_op op, sg_tensor *a, sg_tensor *b) {
  if ((unsigned)op >= SG_BINARY_COUNT) {
    sg_error(SG_ERR_ARG, "binary: invalid op %d", (int)op);
    return NULL;
  }
  const char *name = binary_names[op];
  if (sg_check_arg(name, "a", a) || sg_check_arg(name, "b", b) ||
      sg_check_same_device(name, a, b))
    return NULL;
  const sg_backend *be = sg_backend_checked(name, a, offsetof(sg_backend, elementwise));
  if (!be) return NULL;
  if (op == SG_SUB && (a->dtype == SG_BOOL || b->dtype == SG_BOOL)) {
    sg_error(SG_ERR_ARG,
             "sub: subtraction with a bool tensor is not supported (as in PyTorch); to invert a "
             "mask use logical_not");
    return NULL;
  }
  int64_t shape[SG_MAX_DIMS];
  int nd;
  if (sg_broadcast_shapes(name, a->shape, a->ndim, b->shape, b->ndim, shape, &nd)) return NULL;
  sg_dtype dt = sg_promote_types(a->dtype, b->dtype);
  /* true division of integers gives float32; bool arithmetic counts in int64 */
  if (op == SG_DIV && !sg_dtype_is_float(dt)) dt = SG_FLOAT32;
  if (dt == SG_BOOL && !binary_is_predicate(op)) dt = SG_INT64;
  sg_tensor *ca = sg_to_dtype(a, dt);
  sg_tensor *cb = ca ? sg_to_dtype(b, dt) : NULL;
  sg_tensor *out = cb ? sg_empty(shape, nd, binary_is_predicate(op) ? SG_BOOL : dt,
                                 a->storage->device)
                      : NULL;
  if (!out || be->elementwise->binary(op, out, ca, cb) != SG_OK) {
    if (out) sg_error_context("%s", name);
    sg_release(out);
    sg_release(ca);
    sg_release(cb);
    return NULL;
  }
  if (!binary_is_predicate(op) && sg_dtype_is_float(dt)) {
    sg_tensor *ins[2] = {ca, cb};
    sg_node *n = sg_record(name, binary_backward, ins, 2, out);
    if (n) {
      binary_ctx ctx = {op};
      SG_CTX_STORE(n, &ctx);
      sg_node_save(n, ca);
      sg_node_save(n, cb);
    }
  }
  sg_release(ca);
  sg_release(cb);
  return out;
}

sg_tensor *sg_add(sg_tensor *a, sg_tensor *b) { return sg_binary(SG_ADD, a, b); }
sg_tensor *sg_sub(sg_tensor *a, sg_tensor *b) { return sg_binary(SG_SUB, a, b); }
sg_tensor *sg_mul(sg_tensor *a, sg_tensor *b) { return sg_binary(SG_MUL, a, b); }
sg_tensor *sg_div(sg_tensor *a, sg_tensor *b) { return sg_binary(SG_DIV, a, b); }
sg_tensor *sg_pow(sg_tensor *a, sg_tensor *b) { return sg_binary(SG_POW, a, b); }
sg_tensor *sg_maximum(sg_tensor *a, sg_tensor *b) { return sg_binary(SG_MAXIMUM, a, b); }
sg_tensor *sg_minimum(sg_tensor *a, sg_tensor *b) { return sg_binary(SG_MINIMUM, a, b); }
sg_tensor *sg_eq(sg_tensor *a, sg_tensor *b) { return sg_binary(SG_EQ, a, b); }
sg_tensor *sg_ne(sg_tensor *a, sg_tensor *b) { return sg_binary(SG_NE, a, b); }
sg_tensor *sg_lt(sg_tensor *a, sg_tensor *b) { return sg_binary(SG_LT, a, b); }
sg_tensor *sg_le(sg_tensor *a, sg_tensor *b) { return sg_binary(SG_LE, a, b); }
sg_tensor *sg_gt(sg_tensor *a, sg_tensor *b) { return sg_binary(SG_GT, a, b); }
sg_tensor *sg_ge(sg_tensor *a, sg_tensor *b) { return sg_binary(SG_GE, a, b); }

/* ---------------- scalar forms ---------------- */

/* The scalar as a 0-dim tensor of x's dtype (float32 when x is integer and
 * the scalar is fractional), so broadcasting does the rest. */
static sg_tensor *scalar_for(const char *op, sg_tensor *x, double s) {
  if (sg_check_arg(op, "input", x)) return NULL;
  sg_dtype dt = x->dtype;
  if (!sg_dtype_is_float(dt) && (s != floor(s) || !isfinite(s))) dt = SG_FLOAT32;
  if (dt == SG_BOOL) dt = SG_INT64;
  return sg_scalar_tensor(s, dt, x->storage->device);
}

static sg_tensor *with_scalar(sg_binary_op op, sg_tensor *x, double s, bool scalar_first) {
  sg_tensor *c = scalar_for(binary_names[op], x, s);
  if (!c) return NULL;
  sg_tensor *r = scalar_first ? sg_binary(op, c, x) : sg_binary(op, x, c);
  sg_release(c);
  return r;
}

sg_tensor *sg_add_scalar(sg_tensor *a, double s) { return with_scalar(SG_ADD, a, s, false); }
sg_tensor *sg_sub_scalar(sg_tensor *a, double s) { return with_scalar(SG_SUB, a, s, false); }
sg_tensor *sg_rsub_scalar(double s, sg_tensor *a) { return with_scalar(SG_SUB, a, s, true); }
sg_tensor *sg_mul_scalar(sg_tensor *a, double s) { return with_scalar(SG_MUL, a, s, false); }
sg_tensor *sg_div_scalar(sg_tensor *a, double s) {
  if (a && !sg_dtype_is_float(a->dtype)) {
    sg_tensor *f = sg_to_dtype(a, SG_FLOAT32);
    sg_tensor *r = f ? with_scalar(SG_DIV, f, s, false) : NULL;
    sg_release(f);
    return r;
  }
  return with_scalar(SG_DIV, a, s, false);
}
sg_tensor *sg_rdiv_scalar(double s, sg_tensor *a) {
  if (a && !sg_dtype_is_float(a->dtype)) {
    sg_tensor *f = sg_to_dtype(a, SG_FLOAT32);
    sg_tensor *r = f ? with_scalar(SG_DIV, f, s, true) : NULL;
    sg_release(f);
    return r;
  }
  return with_scalar(SG_DIV, a, s, true);
}
sg_tensor *sg_pow_scalar(sg_tensor *a, double p) {
  if (!a) return with_scalar(SG_POW, a, p, false); /* reports the missing argument */
  if (p == 2.0) return sg_unary(SG_SQUARE, a);
  if (p == 1.0) return a ? sg_mul_scalar(a, 1.0) : NULL;
  return with_scalar(SG_POW, a, p, false);
}
sg_tensor *sg_rpow_scalar(double s, sg_tensor *a) { return with_scalar(SG_POW, a, s, true); }
sg_tensor *sg_cmp_scalar(sg_binary_op op, sg_tensor *a, double s) {
  if (!binary_is_predicate(op)) {
    sg_error(SG_ERR_ARG, "cmp_scalar: op %d is not a comparison (expected eq, ne, lt, le, gt or ge)",
             (int)op);
    return NULL;
  }
  return with_scalar(op, a, s, false);
}

/* ---------------- leaky_relu, clamp, where, masked_fill ---------------- */

/* The first-order gradient of leaky_relu (relu: slope 0) in one kernel
 * pass when the backend has it and no graph is being built; NULL with no
 * error set otherwise (the caller composes it). */
static sg_tensor *leaky_grad_fused(sg_tensor *g, sg_tensor *x, double slope) {
  if (sg_grad_enabled() || g->dtype != x->dtype || !sg_same_shape(g, x)) return NULL;
  const sg_backend *be = sg_backend_for(x->storage->device);
  if (!be || !be->elementwise->leaky_relu_backward || !sg_device_equal(g->storage->device, x->storage->device))
    return NULL;
  sg_tensor *out = sg_empty_like(x);
  if (out && be->elementwise->leaky_relu_backward(out, g, x, slope) != SG_OK) {
    sg_release(out);
    return NULL;
  }
  return out;
}

/* What leaky_relu saves for its backward (besides x). */
typedef struct leaky_ctx {
  double slope;
} leaky_ctx;

static sg_status leaky_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  leaky_ctx c;
  SG_CTX_LOAD(node, &c);
  sg_tensor *x = sg_node_saved(node, 0);
  if (!x) return sg_last_status();
  if ((gi[0] = leaky_grad_fused(go[0], x, c.slope)) != NULL) {
    sg_release(x);
    return SG_OK;
  }
  /* mask = slope + (1 - slope) * (x > 0) */
  sg_tensor *pos = mask_as(sg_cmp_scalar(SG_GT, x, 0.0), x->dtype);
  sg_tensor *m = pos ? sg_mul_scalar(pos, 1.0 - c.slope) : NULL;
  sg_tensor *mm = m ? sg_add_scalar(m, c.slope) : NULL;
  gi[0] = mm ? sg_mul(go[0], mm) : NULL;
  sg_release(pos);
  sg_release(m);
  sg_release(mm);
  sg_release(x);
  return gi[0] ? SG_OK : sg_last_status();
}

sg_tensor *sg_leaky_relu(sg_tensor *x, double slope) {
  if (sg_check_arg("leaky_relu", "input", x) || sg_check_float("leaky_relu", "input", x))
    return NULL;
  const sg_backend *be = sg_backend_checked("leaky_relu", x, offsetof(sg_backend, elementwise));
  if (!be) return NULL;
  sg_tensor *out = sg_empty_like(x);
  if (!out || be->elementwise->leaky_relu(out, x, slope) != SG_OK) {
    sg_release(out);
    return NULL;
  }
  sg_node *n = sg_record("leaky_relu", leaky_backward, &x, 1, out);
  if (n) {
    leaky_ctx ctx = {slope};
    SG_CTX_STORE(n, &ctx);
    sg_node_save(n, x);
  }
  return out;
}

/* What clamp saves for its backward (besides x); NAN = absent bound. */
typedef struct clamp_ctx {
  double lo, hi;
} clamp_ctx;

static sg_status clamp_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  clamp_ctx c;
  SG_CTX_LOAD(node, &c);
  sg_tensor *x = sg_node_saved(node, 0);
  if (!x) return sg_last_status();
  double lo = c.lo, hi = c.hi;
  sg_tensor *in = NULL;
  if (!isnan(lo)) in = sg_cmp_scalar(SG_GE, x, lo);
  if (!isnan(hi)) {
    sg_tensor *le = sg_cmp_scalar(SG_LE, x, hi);
    if (in && le) {
      sg_tensor *both = sg_binary(SG_LOGICAL_AND, in, le);
      sg_release(in);
      sg_release(le);
      in = both;
    } else {
      sg_release(in);
      in = le;
    }
  }
  gi[0] = in ? mul_take(go[0], mask_as(in, go[0]->dtype)) : sg_retain(go[0]);
  sg_release(x);
  return gi[0] ? SG_OK : sg_last_status();
}

sg_tensor *sg_clamp(sg_tensor *x, double lo, double hi) {
  if (sg_check_arg("clamp", "input", x)) return NULL;
  if (!isnan(lo) && !isnan(hi) && lo > hi) {
    sg_error(SG_ERR_ARG, "clamp: min %g is greater than max %g", lo, hi);
    return NULL;
  }
  const sg_backend *be = sg_backend_checked("clamp", x, offsetof(sg_backend, elementwise));
  if (!be) return NULL;
  sg_tensor *out = sg_empty_like(x);
  if (!out || be->elementwise->clamp(out, x, lo, hi) != SG_OK) {
    sg_release(out);
    return NULL;
  }
  if (sg_dtype_is_float(x->dtype)) {
    sg_node *n = sg_record("clamp", clamp_backward, &x, 1, out);
    if (n) {
      clamp_ctx ctx = {lo, hi};
      SG_CTX_STORE(n, &ctx);
      sg_node_save(n, x);
    }
  }
  return out;
}

static sg_status where_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  sg_tensor *c = sg_node_saved(node, 0), *a = sg_node_saved(node, 1), *b = sg_node_saved(node, 2);
  sg_status st = SG_OK;
  if (!c || !a || !b) {
    st = sg_last_status();
    goto out;
  }
  sg_tensor *zero = sg_scalar_tensor(0.0, go[0]->dtype, go[0]->storage->device);
  if (!zero) {
    st = sg_last_status();
    goto out;
  }
  if (sg_node_wants(node, 1)) {
    gi[1] = sg_grad_reduce_to(sg_where(c, go[0], zero), a);
    if (!gi[1]) st = sg_last_status();
  }
  if (st == SG_OK && sg_node_wants(node, 2)) {
    gi[2] = sg_grad_reduce_to(sg_where(c, zero, go[0]), b);
    if (!gi[2]) st = sg_last_status();
  }
  sg_release(zero);
out:
  sg_release(c);
  sg_release(a);
  sg_release(b);
  return st;
}

sg_tensor *sg_where(sg_tensor *cond, sg_tensor *a, sg_tensor *b) {
  if (sg_check_arg("where", "cond", cond) || sg_check_arg("where", "a", a) ||
      sg_check_arg("where", "b", b) || sg_check_same_device("where", cond, a) ||
      sg_check_same_device("where", a, b))
    return NULL;
  const sg_backend *be = sg_backend_checked("where", a, offsetof(sg_backend, elementwise));
  if (!be) return NULL;
  int64_t s1[SG_MAX_DIMS], shape[SG_MAX_DIMS];
  int n1, nd;
  if (sg_broadcast_shapes("where", cond->shape, cond->ndim, a->shape, a->ndim, s1, &n1) ||
      sg_broadcast_shapes("where", s1, n1, b->shape, b->ndim, shape, &nd))
    return NULL;
  sg_dtype dt = sg_promote_types(a->dtype, b->dtype);
  sg_tensor *c = sg_to_dtype(cond, SG_BOOL);
  sg_tensor *ca = c ? sg_to_dtype(a, dt) : NULL;
  sg_tensor *cb = ca ? sg_to_dtype(b, dt) : NULL;
  sg_tensor *out = cb ? sg_empty(shape, nd, dt, a->storage->device) : NULL;
  if (!out || be->elementwise->where(out, c, ca, cb) != SG_OK) {
    sg_release(out);
    out = NULL;
  } else if (sg_dtype_is_float(dt)) {
    sg_tensor *ins[3] = {c, ca, cb};
    sg_node *n = sg_record("where", where_backward, ins, 3, out);
    if (n) {
      sg_node_save(n, c);
      sg_node_save(n, ca);
      sg_node_save(n, cb);
    }
  }
  sg_release(c);
  sg_release(ca);
  sg_release(cb);
  return out;
}

sg_tensor *sg_masked_fill(sg_tensor *x, sg_tensor *mask, double value) {
  if (sg_check_arg("masked_fill", "input", x) || sg_check_arg("masked_fill", "mask", mask))
    return NULL;
  if (mask->dtype != SG_BOOL) {
    sg_error(SG_ERR_ARG, "masked_fill: mask has dtype %s, expected bool",
             sg_dtype_name(mask->dtype));
    return NULL;
  }
  int64_t shape[SG_MAX_DIMS];
  int nd;
  if (sg_broadcast_shapes("masked_fill", x->shape, x->ndim, mask->shape, mask->ndim, shape, &nd))
    return NULL;
  if (nd != x->ndim || sg_shape_numel(shape, nd) != sg_numel(x)) {
    char a[128], b[128];
    sg_error(SG_ERR_ARG, "masked_fill: mask of shape %s does not broadcast to the input's %s",
             sg_shape_str(mask, a, sizeof a), sg_shape_str(x, b, sizeof b));
    return NULL;
  }
  sg_tensor *v = sg_scalar_tensor(value, x->dtype, x->storage->device);
  sg_tensor *out = v ? sg_where(mask, v, x) : NULL;
  sg_release(v);
  return out;
}
