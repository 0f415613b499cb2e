/* Finite-difference checks of first and second derivatives.
 *
 * The output is projected on fixed random weights u: s(x) = sum(u * f(x)),
 * and d s / d x from autograd is compared entry by entry with central
 * differences of s. For the second derivative the same check runs on
 * h(x) = sum_k <w_k, d s / d x_k> computed with create_graph, after checking
 * that the create_graph gradient itself matches the finite differences. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

static sg_gradcheck_opts defaults(const sg_gradcheck_opts *o) {
  sg_gradcheck_opts d = {.eps = 1e-6, .atol = 1e-5, .rtol = 1e-3, .seed = 1234};
  if (o) {
    if (o->eps > 0) d.eps = o->eps;
    if (o->atol > 0) d.atol = o->atol;
    if (o->rtol > 0) d.rtol = o->rtol;
    if (o->seed) d.seed = o->seed;
    d.input_base = o->input_base;
  }
  return d;
}

/* Deterministic weights in [0.5, 1.5) from a small LCG (independent of the
 * engine's RNG stream, so checks do not disturb it). */
static sg_tensor *weights_like(const sg_tensor *t, uint64_t *state) {
  sg_tensor *w = sg_empty(t->shape, t->ndim, SG_FLOAT64, sg_cpu_device());
  if (!w) return NULL;
  double *p = sg_data_ptr(w);
  for (int64_t i = 0; i < sg_numel(w); i++) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    p[i] = 0.5 + (double)(*state >> 11) / 9007199254740992.0;
  }
  return w;
}

typedef struct projected {
  sg_fn f;
  void *ctx;
  sg_tensor *u; /* weights for the output (lazily made) */
  uint64_t state;
} projected;

/* s = sum(u * f(x)) */
static sg_tensor *project(projected *p, sg_tensor **inputs, int n) {
  sg_tensor *y = p->f(inputs, n, p->ctx);
  if (!y) return NULL;
  if (!sg_dtype_is_float(y->dtype)) {
    sg_release(y);
    sg_error(SG_ERR_ARG, "gradcheck: function returned a %s tensor, expected float",
             sg_dtype_name(y->dtype));
    return NULL;
  }
  if (!p->u) p->u = weights_like(y, &p->state);
  sg_tensor *u = p->u ? sg_to_dtype(p->u, y->dtype) : NULL;
  sg_tensor *uy = u ? sg_mul(u, y) : NULL;
  sg_tensor *s = uy ? sg_sum(uy, NULL, 0, false) : NULL;
  sg_release(u);
  sg_release(uy);
  sg_release(y);
  return s;
}

/* The finite differences evaluate f with grad enabled, as PyTorch does: a
 * function that differentiates inside (a gradient penalty calling sg_grad)
 * fails under no_grad. The graph it builds is freed with the result. */
static int scalar_of(sg_fn f, void *ctx, sg_tensor **inputs, int n, double *out) {
  bool prev = sg_set_grad_enabled(true);
  sg_tensor *s = f(inputs, n, ctx);
  sg_set_grad_enabled(prev);
  if (!s) return -1;
  int rc = sg_item(s, out);
  sg_release(s);
  return rc;
}

/* Core check of a scalar-valued function g. */
static sg_status check_scalar(sg_fn g, void *gctx, sg_tensor **inputs, int n,
                              const sg_gradcheck_opts *o, const char *what, bool create_graph) {
  /* grad enabled even when the caller is inside no_grad: else the analytic
   * gradient would silently be zero */
  bool prev = sg_set_grad_enabled(true);
  sg_tensor *s = g(inputs, n, gctx);
  sg_set_grad_enabled(prev);
  if (!s) return sg_last_status();
  sg_tensor *req[16];
  int idx[16], nr = 0;
  for (int i = 0; i < n && nr < 16; i++)
    if (inputs[i] && inputs[i]->requires_grad) {
      if (inputs[i]->dtype != SG_FLOAT64) {
        sg_release(s);
        return sg_error(SG_ERR_ARG, "%s: input %d is %s; use float64 inputs", what,
                        i + o->input_base, sg_dtype_name(inputs[i]->dtype));
      }
      idx[nr] = i;
      req[nr++] = inputs[i];
    }
  if (nr == 0) {
    sg_release(s);
    return sg_error(SG_ERR_ARG, "%s: no input requires grad", what);
  }
  sg_tensor *grads[16] = {0};
  sg_status st;
  if (!s->requires_grad) {
    /* constant in all inputs: analytic gradient is zero */
    for (int r = 0; r < nr; r++) grads[r] = NULL;
    st = SG_OK;
  } else {
    st = sg_grad(&s, NULL, 1, req, nr, grads, create_graph, create_graph, true);
  }
  sg_release(s);
  if (st != SG_OK) return st;
  for (int r = 0; r < nr && st == SG_OK; r++) {
    sg_tensor *x = req[r];
    if (!sg_is_contiguous(x)) {
      st = sg_error(SG_ERR_ARG, "%s: input %d must be contiguous", what,
                    idx[r] + o->input_base);
      break;
    }
    double *px = sg_data_ptr(x);
    int64_t ne = sg_numel(x);
    for (int64_t e = 0; e < ne; e++) {
      double orig = px[e], fp, fm;
      px[e] = orig + o->eps;
      int rc = scalar_of(g, gctx, inputs, n, &fp);
      px[e] = orig - o->eps;
      if (!rc) rc = scalar_of(g, gctx, inputs, n, &fm);
      px[e] = orig;
      if (rc) {
        st = sg_last_status();
        break;
      }
      double num = (fp - fm) / (2 * o->eps);
      double ana = grads[r] ? sg_get_flat(grads[r], e) : 0.0;
      if (!(fabs(num - ana) <= o->atol + o->rtol * fabs(num))) {
        st = sg_error(SG_ERR_ARG,
                      "%s: input %d, element %lld: autograd %.10g vs finite difference %.10g "
                      "(|diff| %.3g > atol %.1g + rtol %.1g * |fd|)",
                      what, idx[r] + o->input_base, (long long)e, ana, num, fabs(num - ana),
                      o->atol, o->rtol);
        break;
      }
    }
  }
  sg_release_all(grads, nr);
  return st;
}

static sg_tensor *projected_fn(sg_tensor **inputs, int n, void *ctx) {
  return project(ctx, inputs, n);
}

static sg_status check_call(const char *what, sg_fn f, sg_tensor **inputs, int n,
                            const sg_gradcheck_opts *o) {
  if (!f) return sg_error(SG_ERR_ARG, "%s: function is NULL", what);
  if (o->input_base != 0 && o->input_base != 1) /* also catches an options struct left unset */
    return sg_error(SG_ERR_ARG, "%s: input_base %d, expected 0 or 1", what, o->input_base);
  if (!inputs || n < 1)
    return sg_error(SG_ERR_ARG, "%s: %d inputs given%s, expected at least one", what, n,
                    inputs ? "" : " (inputs array is NULL)");
  /* the finite differences write the inputs' host memory */
  for (int i = 0; i < n; i++)
    if (inputs[i] && inputs[i]->storage->device.type != SG_CPU)
      return sg_error(SG_ERR_ARG, "%s: input %d is on %s; finite differences run on the CPU",
                      what, i + o->input_base, sg_device_name(inputs[i]->storage->device));
  return SG_OK;
}

sg_status sg_gradcheck(sg_fn f, void *ctx, sg_tensor **inputs, int n,
                       const sg_gradcheck_opts *opts) {
  sg_gradcheck_opts o = defaults(opts);
  if (check_call("gradcheck", f, inputs, n, &o)) return sg_last_status();
  projected p = {f, ctx, NULL, o.seed};
  sg_status st = check_scalar(projected_fn, &p, inputs, n, &o, "gradcheck", false);
  sg_release(p.u);
  return st;
}

typedef struct second {
  projected p;
  sg_tensor *w[16]; /* weights for each input's gradient */
  uint64_t state;
} second;

/* h(x) = sum_k <w_k, d s/d x_k>, differentiable (create_graph). */
static sg_tensor *second_fn(sg_tensor **inputs, int n, void *ctx) {
  second *q = ctx;
  bool prev = sg_set_grad_enabled(true);
  sg_tensor *s = project(&q->p, inputs, n);
  sg_tensor *req[16];
  int nr = 0;
  for (int i = 0; i < n && nr < 16; i++)
    if (inputs[i] && inputs[i]->requires_grad) req[nr++] = inputs[i];
  sg_tensor *grads[16] = {0};
  sg_tensor *h = NULL;
  if (!s) goto out;
  if (!s->requires_grad) {
    h = sg_scalar_tensor(0.0, SG_FLOAT64, sg_cpu_device());
    goto out;
  }
  if (sg_grad(&s, NULL, 1, req, nr, grads, true, true, true) != SG_OK) goto out;
  h = sg_scalar_tensor(0.0, SG_FLOAT64, sg_cpu_device());
  for (int r = 0; r < nr && h; r++) {
    if (!grads[r]) continue;
    if (!q->w[r]) q->w[r] = weights_like(grads[r], &q->state);
    sg_tensor *wg = q->w[r] ? sg_mul(q->w[r], grads[r]) : NULL;
    sg_tensor *sw = wg ? sg_sum(wg, NULL, 0, false) : NULL;
    sg_tensor *h2 = sw ? sg_add(h, sw) : NULL;
    sg_release(wg);
    sg_release(sw);
    sg_release(h);
    h = h2;
  }
out:
  sg_release_all(grads, nr);
  sg_release(s);
  sg_set_grad_enabled(prev);
  return h;
}

sg_status sg_gradgradcheck(sg_fn f, void *ctx, sg_tensor **inputs, int n,
                           const sg_gradcheck_opts *opts) {
  sg_gradcheck_opts o = defaults(opts);
  if (check_call("gradgradcheck", f, inputs, n, &o)) return sg_last_status();
  /* Ops may take a different backward path under create_graph (fused first
   * order, composite otherwise): check that path's first derivative too,
   * since the second-order check below only differentiates it. */
  projected p = {f, ctx, NULL, o.seed};
  sg_status st = check_scalar(projected_fn, &p, inputs, n, &o,
                              "gradgradcheck (first order under create_graph)", true);
  sg_release(p.u);
  if (st != SG_OK) return st;
  second q = {{f, ctx, NULL, o.seed}, {0}, o.seed ^ 0x9e3779b97f4a7c15ULL};
  st = check_scalar(second_fn, &q, inputs, n, &o, "gradgradcheck", false);
  sg_release(q.p.u);
  sg_release_all(q.w, 16);
  return st;
}
