/* Convolution ops: conv2d, conv_transpose2d, conv2d_weight, unfold, fold.
 *
 * The three convolution ops are each other's gradients, so every backward
 * formula here is written with them and is differentiable to any order:
 *   conv2d(x, w):            dx = conv_transpose2d(g, w), dw = conv2d_weight(x, g)
 *   conv_transpose2d(x, w):  dx = conv2d(g, w),           dw = conv2d_weight(g, x)
 *   conv2d_weight(x, go):    dx = conv_transpose2d(go, G), dgo = conv2d(x, G)
 * and unfold and fold are each other's adjoints. */
#include <limits.h>
#include <string.h>

#include "internal/backend.h"
#include "internal/kernels_conv.h"
#include "internal/op_ctx.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

/* Normalized parameters; also what the convolutions save for their
 * backward (besides input and weight). */
typedef struct {
  int64_t sh, sw, ph, pw, dh, dw, oph, opw, groups;
} conv_p;

static void p_store(sg_node *n, const conv_p *p) { SG_CTX_STORE(n, p); }

static conv_p p_load(const sg_node *n) {
  conv_p p;
  SG_CTX_LOAD(n, &p);
  return p;
}

static sg_conv_opts p_opts(const conv_p *p, int64_t oph, int64_t opw) {
  sg_conv_opts o;
  memset(&o, 0, sizeof o);
  o.stride[0] = (int)p->sh;
  o.stride[1] = (int)p->sw;
  o.padding[0] = (int)p->ph;
  o.padding[1] = (int)p->pw;
  o.dilation[0] = (int)p->dh;
  o.dilation[1] = (int)p->dw;
  o.output_padding[0] = (int)oph;
  o.output_padding[1] = (int)opw;
  o.groups = (int)p->groups;
  return o;
}

/* Reads opts (NULL: defaults; 0 stride/dilation/groups mean 1). */
static int parse_opts(const char *op, const sg_conv_opts *o, conv_p *p) {
  sg_conv_opts d;
  memset(&d, 0, sizeof d);
  if (!o) o = &d;
  if (o->stride[0] < 0 || o->stride[1] < 0)
    return sg_error(SG_ERR_ARG, "%s: stride must be positive, got %dx%d", op, o->stride[0],
                    o->stride[1]);
  if (o->dilation[0] < 0 || o->dilation[1] < 0)
    return sg_error(SG_ERR_ARG, "%s: dilation must be positive, got %dx%d", op, o->dilation[0],
                    o->dilation[1]);
  if (o->padding[0] < 0 || o->padding[1] < 0)
    return sg_error(SG_ERR_ARG, "%s: padding must be non-negative, got %dx%d", op,
                    o->padding[0], o->padding[1]);
  if (o->output_padding[0] < 0 || o->output_padding[1] < 0)
    return sg_error(SG_ERR_ARG, "%s: output_padding must be non-negative, got %dx%d", op,
                    o->output_padding[0], o->output_padding[1]);
  if (o->groups < 0)
    return sg_error(SG_ERR_ARG, "%s: groups must be positive, got %d", op, o->groups);
  p->sh = o->stride[0] ? o->stride[0] : 1;
  p->sw = o->stride[1] ? o->stride[1] : 1;
  p->ph = o->padding[0];
  p->pw = o->padding[1];
  p->dh = o->dilation[0] ? o->dilation[0] : 1;
  p->dw = o->dilation[1] ? o->dilation[1] : 1;
  p->oph = o->output_padding[0];
  p->opw = o->output_padding[1];
  p->groups = o->groups ? o->groups : 1;
  return 0;
}


/* The one float dtype of the tensors (NULL entries skipped), or -1 with an
 * error: like PyTorch, and like matmul, operands must agree (a float64
 * weight silently promoting a float32 model would double its cost). */
static int float_dtype(const char *op, sg_tensor *const *ts, const char *const *names, int n,
                       sg_dtype *dt) {
  bool first = true;
  for (int i = 0; i < n; i++) {
    if (!ts[i]) continue;
    if (!sg_dtype_is_float(ts[i]->dtype))
      return sg_error(SG_ERR_ARG, "%s: %s has dtype %s, expected float32 or float64", op,
                      names[i], sg_dtype_name(ts[i]->dtype));
    if (!first && ts[i]->dtype != *dt)
      return sg_error(SG_ERR_ARG, "%s: %s has dtype %s but %s has %s; expected the same dtype",
                      op, names[i], sg_dtype_name(ts[i]->dtype), names[0], sg_dtype_name(*dt));
    *dt = ts[i]->dtype;
    first = false;
  }
  for (int i = 1; i < n; i++)
    if (ts[i] && sg_check_same_device(op, ts[0], ts[i])) return -1;
  return 0;
}

/* a * b * c, or -1 when it overflows (all factors non-negative). */
static int64_t mul3(int64_t a, int64_t b, int64_t c) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r) || __builtin_mul_overflow(r, c, &r)) return -1;
  return r;
}

static int check_int_range(const char *op, const sg_conv_geom *g) {
  int64_t hw = mul3(g->H, g->W, 1), howo = mul3(g->Ho, g->Wo, 1);
  int64_t ckk = mul3(g->C / g->groups, g->kh, g->kw), ckk_all = mul3(g->C, g->kh, g->kw);
  if (hw < 0 || hw > INT_MAX || howo < 0 || howo > INT_MAX || ckk < 0 || ckk > INT_MAX ||
      g->K > INT_MAX || ckk_all < 0 || ckk_all > INT_MAX)
    return sg_error(SG_ERR_UNSUPPORTED, "%s: sizes too large for 32-bit BLAS", op);
  return 0;
}

/* Output size of conv2d along one dim, or -1 when the dilated kernel does
 * not fit in the padded input. */
static int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t d) {
  int64_t e = in + 2 * pad - d * (k - 1) - 1;
  return e < 0 ? -1 : e / s + 1;
}

/* output_padding that makes conv_transpose2d give back `in` from `out`. */
static int64_t out_pad(int64_t in, int64_t out, int64_t k, int64_t s, int64_t pad, int64_t d) {
  return in - ((out - 1) * s - 2 * pad + d * (k - 1) + 1);
}

/* Contiguous copies for the kernels, not recorded. */
typedef struct {
  sg_tensor *t[3];
} kargs;

static int prepare(kargs *k, sg_tensor *a, sg_tensor *b, sg_tensor *c, sg_dtype dt) {
  memset(k, 0, sizeof *k);
  sg_tensor *in[3] = {a, b, c};
  for (int i = 0; i < 3; i++) {
    if (!in[i]) continue;
    k->t[i] = sg_as_contiguous_dtype(in[i], dt);
    if (!k->t[i]) return -1;
  }
  return 0;
}

static void kargs_free(kargs *k) { sg_release_all(k->t, 3); }

/* Casts (recorded, differentiable) to dt; returns -1 on failure. */
static int cast_all(sg_tensor **out, sg_tensor *const *in, int n, sg_dtype dt) {
  for (int i = 0; i < n; i++) out[i] = NULL;
  for (int i = 0; i < n; i++) {
    if (!in[i]) continue;
    out[i] = sg_to_dtype(in[i], dt);
    if (!out[i]) return -1;
  }
  return 0;
}

/* Sum of g over N, H, W (bias gradient). */
static sg_tensor *bias_grad(sg_tensor *g) { return sg_sum(g, (int[]){0, 2, 3}, 3, false); }

static sg_status finish_backward(sg_tensor **gi, int n, bool ok) {
  if (ok) return SG_OK;
  sg_status st = sg_last_status();
  sg_release_all(gi, n);
  return st != SG_OK ? st : SG_ERR_STATE;
}

/* Shared start of conv2d and conv_transpose2d: both tensors given and 4-D,
 * options valid. `wlayout` describes the weight's expected layout. */
static int check_x_w(const char *op, const sg_tensor *x, const sg_tensor *w, const char *wlayout,
                     const sg_conv_opts *o, conv_p *p) {
  char s1[128];
  if (sg_check_arg(op, "input", x) || sg_check_arg(op, "weight", w)) return -1;
  if (x->ndim != 4)
    return sg_error(SG_ERR_ARG, "%s: input has %d dims (%s), expected 4 (NxCxHxW)", op, x->ndim,
                    sg_shape_str(x, s1, sizeof s1));
  if (w->ndim != 4)
    return sg_error(SG_ERR_ARG, "%s: weight has %d dims (%s), expected 4 (%s)", op, w->ndim,
                    sg_shape_str(w, s1, sizeof s1), wlayout);
  return parse_opts(op, o, p);
}

/* The weight's kernel is not empty and the bias (may be NULL) has `n` values. */
static int check_kernel_bias(const char *op, const sg_tensor *w, const sg_tensor *b, int64_t n) {
  char s1[128], s2[128];
  if (w->shape[2] < 1 || w->shape[3] < 1)
    return sg_error(SG_ERR_ARG, "%s: weight %s has an empty kernel", op,
                    sg_shape_str(w, s1, sizeof s1));
  if (b && (b->ndim != 1 || b->shape[0] != n))
    return sg_error(SG_ERR_ARG, "%s: bias %s does not match weight %s (expected %lld values)", op,
                    sg_shape_str(b, s1, sizeof s1), sg_shape_str(w, s2, sizeof s2), (long long)n);
  return 0;
}

/* End of the conv2d and conv_transpose2d backwards: bias gradient, release. */
static sg_status backward_end(sg_node *node, sg_tensor *g, sg_tensor **gi, sg_tensor *x,
                              sg_tensor *w, bool ok) {
  if (ok && sg_node_wants(node, 2)) ok = (gi[2] = bias_grad(g)) != NULL;
  sg_release(x);
  sg_release(w);
  return finish_backward(gi, 3, ok);
}

/* Shared tail of conv2d, conv_transpose2d and conv2d_weight: casts the
 * inputs (recorded) to dt, runs the kernel on contiguous copies into a new
 * tensor of `shape`, records `bw` saving inputs 0 and 1. */
typedef enum { K_CONV2D, K_CONVT, K_CONVW } conv_kind;

static sg_tensor *run_conv(const char *op, conv_kind kind, const sg_backend *be,
                           sg_tensor *const *ins, int nin, const int64_t *shape, sg_dtype dt,
                           const sg_conv_geom *geo, const conv_p *p, sg_backward_fn bw) {
  sg_tensor *c[3] = {NULL, NULL, NULL};
  kargs k = {{NULL, NULL, NULL}};
  sg_tensor *out = NULL;
  if (cast_all(c, ins, nin, dt) || prepare(&k, c[0], c[1], nin > 2 ? c[2] : NULL, dt)) goto fail;
  out = sg_empty(shape, 4, dt, ins[0]->storage->device);
  if (!out) goto fail;
  sg_status st = kind == K_CONV2D ? be->conv->conv2d(out, k.t[0], k.t[1], k.t[2], geo)
                 : kind == K_CONVT ? be->conv->conv_transpose2d(out, k.t[0], k.t[1], k.t[2], geo)
                                   : be->conv->conv2d_weight(out, k.t[0], k.t[1], geo);
  if (st != SG_OK) goto fail;
  sg_node *n = sg_record(op, bw, c, nin, out);
  if (n) {
    p_store(n, p);
    sg_node_save(n, c[0]);
    sg_node_save(n, c[1]);
  }
  kargs_free(&k);
  sg_release_all(c, nin);
  return out;
fail:
  sg_release(out);
  kargs_free(&k);
  sg_release_all(c, nin);
  return NULL;
}

/* ================= conv2d ================= */

static sg_status conv2d_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  conv_p p = p_load(node);
  sg_tensor *g = go[0];
  sg_tensor *x = sg_node_saved(node, 0), *w = sg_node_saved(node, 1);
  bool ok = x && w;
  if (ok && sg_node_wants(node, 0)) {
    sg_conv_opts o = p_opts(&p, out_pad(x->shape[2], g->shape[2], w->shape[2], p.sh, p.ph, p.dh),
                            out_pad(x->shape[3], g->shape[3], w->shape[3], p.sw, p.pw, p.dw));
    ok = (gi[0] = sg_conv_transpose2d(g, w, NULL, &o)) != NULL;
  }
  if (ok && sg_node_wants(node, 1)) {
    sg_conv_opts o = p_opts(&p, 0, 0);
    ok = (gi[1] = sg_conv2d_weight(x, g, w->shape, &o)) != NULL;
  }
  return backward_end(node, g, gi, x, w, ok);
}

sg_tensor *sg_conv2d(sg_tensor *x, sg_tensor *w, sg_tensor *b, const sg_conv_opts *o) {
  const char *op = "conv2d";
  char s1[128], s2[128];
  conv_p p;
  if (check_x_w(op, x, w, "Cout x Cin/groups x kh x kw", o, &p)) return NULL;
  int64_t C = x->shape[1], K = w->shape[0], G = p.groups;
  if (C % G) {
    sg_error(SG_ERR_ARG, "conv2d: groups %lld does not divide the %lld input channels (input %s)",
             (long long)G, (long long)C, sg_shape_str(x, s1, sizeof s1));
    return NULL;
  }
  if (K % G) {
    sg_error(SG_ERR_ARG, "conv2d: groups %lld does not divide the %lld output channels (weight %s)",
             (long long)G, (long long)K, sg_shape_str(w, s1, sizeof s1));
    return NULL;
  }
  if (w->shape[1] * G != C) {
    sg_error(SG_ERR_ARG,
             "conv2d: weight %s expects %lld input channels (%lld x groups %lld), input %s has %lld",
             sg_shape_str(w, s1, sizeof s1), (long long)(w->shape[1] * G), (long long)w->shape[1],
             (long long)G, sg_shape_str(x, s2, sizeof s2), (long long)C);
    return NULL;
  }
  if (check_kernel_bias(op, w, b, K)) return NULL;
  int64_t Ho = conv_out(x->shape[2], w->shape[2], p.sh, p.ph, p.dh);
  int64_t Wo = conv_out(x->shape[3], w->shape[3], p.sw, p.pw, p.dw);
  if (Ho < 1 || Wo < 1) {
    sg_error(SG_ERR_ARG,
             "conv2d: output size would be <= 0 (input %s, kernel %lldx%lld, padding %lldx%lld, "
             "dilation %lldx%lld): the dilated kernel is larger than the padded input",
             sg_shape_str(x, s1, sizeof s1), (long long)w->shape[2], (long long)w->shape[3],
             (long long)p.ph, (long long)p.pw, (long long)p.dh, (long long)p.dw);
    return NULL;
  }
  sg_dtype dt = SG_FLOAT32;
  sg_tensor *ins[3] = {x, w, b};
  if (float_dtype(op, ins, (const char *const[]){"input", "weight", "bias"}, 3, &dt)) return NULL;
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, conv));
  if (!be) return NULL;
  sg_conv_geom geo = {x->shape[0], C, x->shape[2], x->shape[3], K, Ho, Wo,
                      w->shape[2], w->shape[3], p.sh, p.sw, p.ph, p.pw, p.dh, p.dw, G};
  if (check_int_range(op, &geo)) return NULL;
  return run_conv(op, K_CONV2D, be, ins, 3, (int64_t[]){geo.N, K, Ho, Wo}, dt, &geo, &p,
                  conv2d_backward);
}

/* ================= conv_transpose2d ================= */

static sg_status convt_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  conv_p p = p_load(node);
  sg_tensor *g = go[0];
  sg_tensor *x = sg_node_saved(node, 0), *w = sg_node_saved(node, 1);
  bool ok = x && w;
  sg_conv_opts o = p_opts(&p, 0, 0);
  if (ok && sg_node_wants(node, 0)) ok = (gi[0] = sg_conv2d(g, w, NULL, &o)) != NULL;
  if (ok && sg_node_wants(node, 1)) ok = (gi[1] = sg_conv2d_weight(g, x, w->shape, &o)) != NULL;
  return backward_end(node, g, gi, x, w, ok);
}

sg_tensor *sg_conv_transpose2d(sg_tensor *x, sg_tensor *w, sg_tensor *b, const sg_conv_opts *o) {
  const char *op = "conv_transpose2d";
  char s1[128], s2[128];
  conv_p p;
  if (check_x_w(op, x, w, "Cin x Cout/groups x kh x kw", o, &p)) return NULL;
  int64_t Cin = x->shape[1], G = p.groups;
  if (w->shape[0] != Cin) {
    sg_error(SG_ERR_ARG, "conv_transpose2d: weight %s expects %lld input channels, input %s has %lld",
             sg_shape_str(w, s1, sizeof s1), (long long)w->shape[0],
             sg_shape_str(x, s2, sizeof s2), (long long)Cin);
    return NULL;
  }
  if (Cin % G) {
    sg_error(SG_ERR_ARG,
             "conv_transpose2d: groups %lld does not divide the %lld input channels (input %s)",
             (long long)G, (long long)Cin, sg_shape_str(x, s1, sizeof s1));
    return NULL;
  }
  if (p.oph >= p.sh || p.opw >= p.sw) {
    sg_error(SG_ERR_ARG, "conv_transpose2d: output_padding %lldx%lld must be smaller than stride %lldx%lld",
             (long long)p.oph, (long long)p.opw, (long long)p.sh, (long long)p.sw);
    return NULL;
  }
  int64_t Cout = w->shape[1] * G;
  if (check_kernel_bias(op, w, b, Cout)) return NULL;
  int64_t H = x->shape[2], W = x->shape[3];
  int64_t Ho = (H - 1) * p.sh - 2 * p.ph + p.dh * (w->shape[2] - 1) + p.oph + 1;
  int64_t Wo = (W - 1) * p.sw - 2 * p.pw + p.dw * (w->shape[3] - 1) + p.opw + 1;
  if (H < 1 || W < 1 || Ho < 1 || Wo < 1) {
    sg_error(SG_ERR_ARG,
             "conv_transpose2d: output size would be %lldx%lld (input %s, kernel %lldx%lld, "
             "stride %lldx%lld, padding %lldx%lld): expected a positive size",
             (long long)Ho, (long long)Wo, sg_shape_str(x, s1, sizeof s1), (long long)w->shape[2],
             (long long)w->shape[3], (long long)p.sh, (long long)p.sw, (long long)p.ph,
             (long long)p.pw);
    return NULL;
  }
  sg_dtype dt = SG_FLOAT32;
  sg_tensor *ins[3] = {x, w, b};
  if (float_dtype(op, ins, (const char *const[]){"input", "weight", "bias"}, 3, &dt)) return NULL;
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, conv));
  if (!be) return NULL;
  /* In conv2d terms: the output is the image side, x the column side. */
  sg_conv_geom geo = {x->shape[0], Cout, Ho, Wo, Cin, H, W, w->shape[2], w->shape[3],
                      p.sh, p.sw, p.ph, p.pw, p.dh, p.dw, G};
  if (check_int_range(op, &geo)) return NULL;
  return run_conv(op, K_CONVT, be, ins, 3, (int64_t[]){geo.N, Cout, Ho, Wo}, dt, &geo, &p,
                  convt_backward);
}

/* ================= conv2d_weight ================= */

static sg_status convw_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  conv_p p = p_load(node);
  sg_tensor *G = go[0]; /* shaped like the weight */
  sg_tensor *x = sg_node_saved(node, 0), *gout = sg_node_saved(node, 1);
  bool ok = x && gout;
  if (ok && sg_node_wants(node, 0)) {
    sg_conv_opts o =
        p_opts(&p, out_pad(x->shape[2], gout->shape[2], G->shape[2], p.sh, p.ph, p.dh),
               out_pad(x->shape[3], gout->shape[3], G->shape[3], p.sw, p.pw, p.dw));
    ok = (gi[0] = sg_conv_transpose2d(gout, G, NULL, &o)) != NULL;
  }
  if (ok && sg_node_wants(node, 1)) {
    sg_conv_opts o = p_opts(&p, 0, 0);
    ok = (gi[1] = sg_conv2d(x, G, NULL, &o)) != NULL;
  }
  sg_release(x);
  sg_release(gout);
  return finish_backward(gi, 2, ok);
}

sg_tensor *sg_conv2d_weight(sg_tensor *x, sg_tensor *grad_out, const int64_t *weight_shape,
                            const sg_conv_opts *o) {
  const char *op = "conv2d_weight";
  char s1[128], s2[128], s3[128];
  if (sg_check_arg(op, "input", x) || sg_check_arg(op, "grad_out", grad_out)) return NULL;
  if (!weight_shape) {
    sg_error(SG_ERR_ARG, "conv2d_weight: argument `weight_shape` is missing (NULL)");
    return NULL;
  }
  if (x->ndim != 4 || grad_out->ndim != 4) {
    sg_error(SG_ERR_ARG,
             "conv2d_weight: input %s and grad_out %s must both have 4 dims (NxCxHxW)",
             sg_shape_str(x, s1, sizeof s1), sg_shape_str(grad_out, s2, sizeof s2));
    return NULL;
  }
  conv_p p;
  if (parse_opts(op, o, &p)) return NULL;
  int64_t K = weight_shape[0], Cg = weight_shape[1], kh = weight_shape[2], kw = weight_shape[3];
  int64_t C = x->shape[1], G = p.groups;
  sg_dims_str(weight_shape, 4, s3, sizeof s3);
  if (K < 1 || Cg < 1 || kh < 1 || kw < 1 || K % G || Cg * G != C) {
    sg_error(SG_ERR_ARG,
             "conv2d_weight: weight shape %s does not fit input %s with groups %lld (expected "
             "Cout x %lld x kh x kw, Cout divisible by groups)",
             s3, sg_shape_str(x, s1, sizeof s1), (long long)G, (long long)(C / G));
    return NULL;
  }
  int64_t Ho = conv_out(x->shape[2], kh, p.sh, p.ph, p.dh);
  int64_t Wo = conv_out(x->shape[3], kw, p.sw, p.pw, p.dw);
  if (grad_out->shape[0] != x->shape[0] || grad_out->shape[1] != K || grad_out->shape[2] != Ho ||
      grad_out->shape[3] != Wo) {
    sg_error(SG_ERR_ARG,
             "conv2d_weight: grad_out %s does not match the conv2d output %lldx%lldx%lldx%lld of "
             "input %s and weight %s",
             sg_shape_str(grad_out, s2, sizeof s2), (long long)x->shape[0], (long long)K,
             (long long)Ho, (long long)Wo, sg_shape_str(x, s1, sizeof s1), s3);
    return NULL;
  }
  sg_dtype dt = SG_FLOAT32;
  sg_tensor *ins[2] = {x, grad_out};
  if (float_dtype(op, ins, (const char *const[]){"input", "grad_out"}, 2, &dt)) return NULL;
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, conv));
  if (!be) return NULL;
  sg_conv_geom geo = {x->shape[0], C, x->shape[2], x->shape[3], K, Ho, Wo,
                      kh, kw, p.sh, p.sw, p.ph, p.pw, p.dh, p.dw, G};
  if (check_int_range(op, &geo)) return NULL;
  return run_conv(op, K_CONVW, be, ins, 2, weight_shape, dt, &geo, &p, convw_backward);
}

/* ================= unfold / fold ================= */

typedef struct {
  int64_t kh, kw, dh, dw, ph, pw, sh, sw;
} unf_p;

static int parse_unfold(const char *op, const sg_unfold_opts *o, unf_p *p) {
  if (!o) return sg_error(SG_ERR_ARG, "%s: options (kernel size) are missing (NULL)", op);
  if (o->kernel[0] < 1 || o->kernel[1] < 1)
    return sg_error(SG_ERR_ARG, "%s: kernel size must be positive, got %dx%d", op, o->kernel[0],
                    o->kernel[1]);
  if (o->stride[0] < 0 || o->stride[1] < 0 || o->dilation[0] < 0 || o->dilation[1] < 0)
    return sg_error(SG_ERR_ARG, "%s: stride and dilation must be positive, got %dx%d and %dx%d",
                    op, o->stride[0], o->stride[1], o->dilation[0], o->dilation[1]);
  if (o->padding[0] < 0 || o->padding[1] < 0)
    return sg_error(SG_ERR_ARG, "%s: padding must be non-negative, got %dx%d", op, o->padding[0],
                    o->padding[1]);
  p->kh = o->kernel[0];
  p->kw = o->kernel[1];
  p->dh = o->dilation[0] ? o->dilation[0] : 1;
  p->dw = o->dilation[1] ? o->dilation[1] : 1;
  p->ph = o->padding[0];
  p->pw = o->padding[1];
  p->sh = o->stride[0] ? o->stride[0] : 1;
  p->sw = o->stride[1] ? o->stride[1] : 1;
  return 0;
}

/* What unfold / fold save for their backward: the normalized parameters
 * and the image size (h, w). */
typedef struct {
  unf_p p;
  int64_t h, w;
} unf_ctx;

static void unf_store(sg_node *n, const unf_p *p, int64_t H, int64_t W) {
  unf_ctx c = {*p, H, W};
  SG_CTX_STORE(n, &c);
}

static unf_ctx unf_load(const sg_node *n) {
  unf_ctx c;
  SG_CTX_LOAD(n, &c);
  return c;
}

static sg_unfold_opts unf_opts(const unf_p *p) {
  sg_unfold_opts o;
  o.kernel[0] = (int)p->kh;
  o.kernel[1] = (int)p->kw;
  o.dilation[0] = (int)p->dh;
  o.dilation[1] = (int)p->dw;
  o.padding[0] = (int)p->ph;
  o.padding[1] = (int)p->pw;
  o.stride[0] = (int)p->sh;
  o.stride[1] = (int)p->sw;
  return o;
}

static sg_status unfold_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  unf_ctx c = unf_load(node);
  sg_unfold_opts o = unf_opts(&c.p);
  gi[0] = sg_fold(go[0], c.h, c.w, &o);
  return gi[0] ? SG_OK : sg_last_status();
}

static sg_status fold_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  unf_ctx c = unf_load(node);
  sg_unfold_opts o = unf_opts(&c.p);
  gi[0] = sg_unfold(go[0], &o);
  return gi[0] ? SG_OK : sg_last_status();
}

/* Views t with a leading batch dim of 1 (for unbatched inputs). */
static sg_tensor *unsqueeze0(sg_tensor *t) { return sg_unsqueeze(t, 0); }

static sg_tensor *squeeze0(sg_tensor *r) {
  if (!r) return NULL;
  sg_tensor *s = sg_squeeze(r, 0);
  sg_release(r);
  return s;
}

sg_tensor *sg_unfold(sg_tensor *x, const sg_unfold_opts *o) {
  const char *op = "unfold";
  char s1[128];
  if (sg_check_arg(op, "input", x)) return NULL;
  if (x->ndim == 3) {
    sg_tensor *x4 = unsqueeze0(x);
    sg_tensor *r = x4 ? sg_unfold(x4, o) : NULL;
    sg_release(x4);
    return squeeze0(r);
  }
  if (x->ndim != 4) {
    sg_error(SG_ERR_ARG, "unfold: input has %d dims (%s), expected 4 (NxCxHxW) or 3 (CxHxW)",
             x->ndim, sg_shape_str(x, s1, sizeof s1));
    return NULL;
  }
  unf_p p;
  if (parse_unfold(op, o, &p)) return NULL;
  if (sg_check_float(op, "input", x)) return NULL;
  int64_t Ho = conv_out(x->shape[2], p.kh, p.sh, p.ph, p.dh);
  int64_t Wo = conv_out(x->shape[3], p.kw, p.sw, p.pw, p.dw);
  if (Ho < 1 || Wo < 1) {
    sg_error(SG_ERR_ARG,
             "unfold: no blocks fit (input %s, kernel %lldx%lld, padding %lldx%lld, dilation "
             "%lldx%lld): the dilated kernel is larger than the padded input",
             sg_shape_str(x, s1, sizeof s1), (long long)p.kh, (long long)p.kw, (long long)p.ph,
             (long long)p.pw, (long long)p.dh, (long long)p.dw);
    return NULL;
  }
  const sg_backend *be = sg_backend_checked(op, x, offsetof(sg_backend, conv));
  if (!be) return NULL;
  int64_t C = x->shape[1];
  int64_t rows = mul3(C, p.kh, p.kw), L = mul3(Ho, Wo, 1), total = mul3(x->shape[0], rows, L);
  if (rows < 0 || L < 0 || total < 0 || total > ((int64_t)1 << 46)) {
    sg_error(SG_ERR_ARG,
             "unfold: output would be too large (input %s, kernel %lldx%lld, padding %lldx%lld: "
             "%lldx%lld blocks)",
             sg_shape_str(x, s1, sizeof s1), (long long)p.kh, (long long)p.kw, (long long)p.ph,
             (long long)p.pw, (long long)Ho, (long long)Wo);
    return NULL;
  }
  sg_conv_geom geo = {x->shape[0], C, x->shape[2], x->shape[3], C * p.kh * p.kw, Ho, Wo,
                      p.kh, p.kw, p.sh, p.sw, p.ph, p.pw, p.dh, p.dw, 1};
  sg_tensor *kx = sg_as_contiguous_dtype(x, x->dtype);
  sg_tensor *out = kx ? sg_empty((int64_t[]){geo.N, C * p.kh * p.kw, Ho * Wo}, 3, x->dtype,
                                 x->storage->device)
                      : NULL;
  if (!out || be->conv->unfold(out, kx, &geo) != SG_OK) {
    sg_release(out);
    sg_release(kx);
    return NULL;
  }
  sg_release(kx);
  sg_node *n = sg_record(op, unfold_backward, &x, 1, out);
  if (n) unf_store(n, &p, x->shape[2], x->shape[3]);
  return out;
}

sg_tensor *sg_fold(sg_tensor *cols, int64_t out_h, int64_t out_w, const sg_unfold_opts *o) {
  const char *op = "fold";
  char s1[128];
  if (sg_check_arg(op, "input", cols)) return NULL;
  if (cols->ndim == 2) {
    sg_tensor *c3 = unsqueeze0(cols);
    sg_tensor *r = c3 ? sg_fold(c3, out_h, out_w, o) : NULL;
    sg_release(c3);
    return squeeze0(r);
  }
  if (cols->ndim != 3) {
    sg_error(SG_ERR_ARG,
             "fold: input has %d dims (%s), expected 3 (N x C*kh*kw x L) or 2 (C*kh*kw x L)",
             cols->ndim, sg_shape_str(cols, s1, sizeof s1));
    return NULL;
  }
  unf_p p;
  if (parse_unfold(op, o, &p)) return NULL;
  if (sg_check_float(op, "input", cols)) return NULL;
  if (out_h < 1 || out_w < 1) {
    sg_error(SG_ERR_ARG, "fold: output size must be positive, got %lldx%lld", (long long)out_h,
             (long long)out_w);
    return NULL;
  }
  int64_t kk = p.kh * p.kw;
  if (cols->shape[1] % kk) {
    sg_error(SG_ERR_ARG,
             "fold: dim 1 of input %s must be divisible by the kernel size %lldx%lld = %lld",
             sg_shape_str(cols, s1, sizeof s1), (long long)p.kh, (long long)p.kw, (long long)kk);
    return NULL;
  }
  int64_t Ho = conv_out(out_h, p.kh, p.sh, p.ph, p.dh);
  int64_t Wo = conv_out(out_w, p.kw, p.sw, p.pw, p.dw);
  int64_t L = Ho < 1 || Wo < 1 ? 0 : mul3(Ho, Wo, 1);
  if (L < 1 || L != cols->shape[2]) {
    sg_error(SG_ERR_ARG,
             "fold: input %s has %lld blocks, expected %lld for output %lldx%lld with kernel "
             "%lldx%lld, padding %lldx%lld, stride %lldx%lld, dilation %lldx%lld",
             sg_shape_str(cols, s1, sizeof s1), (long long)cols->shape[2],
             (long long)(L < 0 ? 0 : L), (long long)out_h, (long long)out_w,
             (long long)p.kh, (long long)p.kw, (long long)p.ph, (long long)p.pw, (long long)p.sh,
             (long long)p.sw, (long long)p.dh, (long long)p.dw);
    return NULL;
  }
  const sg_backend *be = sg_backend_checked(op, cols, offsetof(sg_backend, conv));
  if (!be) return NULL;
  int64_t C = cols->shape[1] / kk;
  sg_conv_geom geo = {cols->shape[0], C, out_h, out_w, C * kk, Ho, Wo,
                      p.kh, p.kw, p.sh, p.sw, p.ph, p.pw, p.dh, p.dw, 1};
  sg_tensor *kc = sg_as_contiguous_dtype(cols, cols->dtype);
  sg_tensor *out =
      kc ? sg_empty((int64_t[]){geo.N, C, out_h, out_w}, 4, cols->dtype, cols->storage->device)
         : NULL;
  if (!out || be->conv->fold(out, kc, &geo) != SG_OK) {
    sg_release(out);
    sg_release(kc);
    return NULL;
  }
  sg_release(kc);
  sg_node *n = sg_record(op, fold_backward, &cols, 1, out);
  if (n) unf_store(n, &p, out_h, out_w);
  return out;
}
