/* The resample family (kernels_resample.h).
 *
 * interpolate: nearest (PyTorch's legacy 'nearest') and bilinear resampling
 * of N x C x H x W images, with PyTorch 1.13's coordinate rules
 * (area_pixel_compute_source_index; 1/scale when a scale factor is given).
 *
 * The map is linear in x. Its backward is its adjoint, an op of its own
 * ("interpolate_backward") whose backward is interpolate again, so double
 * backward works.
 *
 * pad (constant, reflect, replicate) and pixel_shuffle.
 *
 * Constant padding works on any dims and any dtype: negative pads crop
 * (narrow views), positive pads embed the tensor in a filled one (op
 * "constant_pad", whose backward narrows the gradient back; narrow's
 * backward embeds again, so double backward works).
 * Reflect and replicate pad the last 1, 2 or 3 dims with a fused kernel;
 * their backward is the adjoint kernel (accumulating the gradient of every
 * copy of an element) recorded as an op whose backward is the pad again.
 * pixel_shuffle is a reshape / permute composite. */
#include <math.h>
#include <string.h>

#include "internal/backend.h"
#include "internal/kernels_resample.h"
#include "internal/op_ctx.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

static sg_tensor *interp_apply(sg_tensor *t, const sg_interp_geom *g, bool adjoint, int64_t n,
                               int64_t c);

/* What interpolate and its adjoint save for their backward. */
typedef struct interp_ctx {
  sg_interp_geom geom;
  bool adjoint;
  int64_t n, c; /* the images' N and C */
} interp_ctx;

static sg_status interp_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  if (!go[0]) return SG_OK;
  interp_ctx c;
  SG_CTX_LOAD(node, &c);
  gi[0] = interp_apply(go[0], &c.geom, !c.adjoint, c.n, c.c);
  return gi[0] ? SG_OK : sg_last_status();
}

/* adjoint = false: N x C x ih x iw -> N x C x oh x ow; true: the reverse. */
static sg_tensor *interp_apply(sg_tensor *t, const sg_interp_geom *g, bool adjoint, int64_t n,
                               int64_t c) {
  const char *name = adjoint ? "interpolate_backward" : "interpolate";
  const sg_backend *be = sg_backend_checked(name, t, offsetof(sg_backend, resample));
  if (!be) return NULL;
  const int64_t shape[4] = {n, c, adjoint ? g->ih : g->oh, adjoint ? g->iw : g->ow};
  sg_tensor *tc = sg_as_contiguous_dtype(t, t->dtype);
  sg_tensor *out = tc ? sg_empty(shape, 4, t->dtype, t->storage->device) : NULL;
  sg_status st = SG_ERR_STATE;
  if (out)
    st = adjoint ? be->resample->interpolate_backward(out, tc, g)
                 : be->resample->interpolate(out, tc, g);
  sg_release(tc);
  if (st != SG_OK) {
    if (out) sg_error_context("%s", name);
    sg_release(out);
    return NULL;
  }
  sg_node *nd = sg_record(name, interp_backward, &t, 1, out);
  if (nd) {
    interp_ctx ctx = {*g, adjoint, n, c};
    SG_CTX_STORE(nd, &ctx);
  }
  return out;
}

sg_tensor *sg_interpolate(sg_tensor *x, int64_t out_h, int64_t out_w, sg_interp_mode mode,
                          bool align_corners, double scale_h, double scale_w) {
  const char *op = "interpolate";
  if (sg_check_arg(op, "input", x) || sg_check_float(op, "input", x)) return NULL;
  char a[128];
  if (x->ndim != 4) {
    sg_error(SG_ERR_ARG, "%s: input has %d dims (%s), expected 4 (N x C x H x W)", op, x->ndim,
             sg_shape_str(x, a, sizeof a));
    return NULL;
  }
  if (mode != SG_INTERP_NEAREST && mode != SG_INTERP_BILINEAR) {
    sg_error(SG_ERR_ARG, "%s: unknown mode %d (expected nearest or bilinear)", op, (int)mode);
    return NULL;
  }
  if (mode == SG_INTERP_NEAREST && align_corners) {
    sg_error(SG_ERR_ARG,
             "%s: align_corners can only be set with the interpolating mode bilinear, not "
             "nearest",
             op);
    return NULL;
  }
  if (!(scale_h >= 0) || !(scale_w >= 0) || isinf(scale_h) || isinf(scale_w)) {
    sg_error(SG_ERR_ARG, "%s: scale factors %gx%g must be positive and finite", op, scale_h,
             scale_w);
    return NULL;
  }
  int64_t ih = x->shape[2], iw = x->shape[3];
  const double lim = (double)(INT64_C(1) << 46);
  if ((double)ih * scale_h > lim || (double)iw * scale_w > lim || out_h > (int64_t)lim ||
      out_w > (int64_t)lim ||
      (out_h > 0 && out_w > 0 &&
       (double)out_h * (double)out_w * (double)(x->shape[0] * x->shape[1]) > lim)) {
    sg_error(SG_ERR_ARG, "%s: output size %lldx%lld (scale factors %gx%g) is too large for input %s",
             op, (long long)out_h, (long long)out_w, scale_h, scale_w,
             sg_shape_str(x, a, sizeof a));
    return NULL;
  }
  /* a size not given comes from the scale factor, as PyTorch: floor(in * scale) */
  if (out_h <= 0 && scale_h > 0) out_h = (int64_t)floor((double)ih * scale_h);
  if (out_w <= 0 && scale_w > 0) out_w = (int64_t)floor((double)iw * scale_w);
  if (out_h <= 0 || out_w <= 0) {
    sg_error(SG_ERR_ARG,
             "%s: output size %lldx%lld must be positive (input %s, scale factors %gx%g)", op,
             (long long)out_h, (long long)out_w, sg_shape_str(x, a, sizeof a), scale_h, scale_w);
    return NULL;
  }
  if (ih <= 0 || iw <= 0) {
    sg_error(SG_ERR_ARG, "%s: input %s has an empty spatial dim", op,
             sg_shape_str(x, a, sizeof a));
    return NULL;
  }
  sg_interp_geom g = {.planes = x->shape[0] * x->shape[1], .ih = ih, .iw = iw, .oh = out_h,
                      .ow = out_w, .mode = mode, .align_corners = align_corners,
                      .scale_h = scale_h, .scale_w = scale_w};
  return interp_apply(x, &g, false, x->shape[0], x->shape[1]);
}

/* ---------------- pad ---------------- */

/* ---------------- constant ---------------- */

/* What constant padding saves for its backward: where the input sits in
 * the output. */
typedef struct constant_pad_ctx {
  int ndim;
  int64_t before[SG_MAX_DIMS];
  int64_t size[SG_MAX_DIMS]; /* the input's shape */
} constant_pad_ctx;

static sg_status constant_pad_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  if (!go[0]) return SG_OK;
  constant_pad_ctx c;
  SG_CTX_LOAD(node, &c);
  int ndim = c.ndim;
  sg_tensor *t = sg_retain(go[0]);
  for (int d = 0; d < ndim && t; d++) {
    int64_t before = c.before[d], size = c.size[d];
    if (before == 0 && size == t->shape[d]) continue;
    sg_tensor *n = sg_narrow(t, d, before, size);
    sg_release(t);
    t = n;
  }
  gi[0] = t;
  return t ? SG_OK : sg_last_status();
}

/* x embedded at offset `before` in a tensor of x's shape grown by before +
 * after (all >= 0), filled with value elsewhere. */
static sg_tensor *constant_embed(sg_tensor *x, const int64_t *before, const int64_t *after,
                                 double value) {
  int64_t shape[SG_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d] + before[d] + after[d];
  sg_tensor *out = sg_full(shape, x->ndim, value, x->dtype, x->storage->device);
  if (!out) return NULL;
  int64_t off = out->offset;
  for (int d = 0; d < x->ndim; d++) off += before[d] * out->strides[d];
  sg_tensor *win = sg_numel(x) ? sg_alias(out, x->shape, out->strides, x->ndim, off) : NULL;
  if (sg_numel(x) && (!win || sg_copy_(win, x) != SG_OK)) {
    sg_release(win);
    sg_release(out);
    return NULL;
  }
  sg_release(win);
  if (sg_dtype_is_float(x->dtype)) {
    sg_node *n = sg_record("constant_pad", constant_pad_backward, &x, 1, out);
    if (n) {
      constant_pad_ctx c;
      memset(&c, 0, sizeof c);
      c.ndim = x->ndim;
      for (int d = 0; d < x->ndim; d++) {
        c.before[d] = before[d];
        c.size[d] = x->shape[d];
      }
      SG_CTX_STORE(n, &c);
    }
  }
  return out;
}

static sg_tensor *pad_constant(sg_tensor *x, const int64_t *before, const int64_t *after,
                               double value) {
  /* crop first (views), then embed */
  sg_tensor *t = sg_retain(x);
  int64_t b[SG_MAX_DIMS], a[SG_MAX_DIMS];
  bool grow = false;
  for (int d = 0; d < x->ndim && t; d++) {
    int64_t cb = before[d] < 0 ? -before[d] : 0, ca = after[d] < 0 ? -after[d] : 0;
    b[d] = before[d] > 0 ? before[d] : 0;
    a[d] = after[d] > 0 ? after[d] : 0;
    grow = grow || b[d] || a[d];
    if (cb || ca) {
      sg_tensor *n = sg_narrow(t, d, cb, t->shape[d] - cb - ca);
      sg_release(t);
      t = n;
    }
  }
  if (!t) return NULL;
  sg_tensor *out = grow ? constant_embed(t, b, a, value) : sg_clone(t);
  sg_release(t);
  return out;
}

/* ---------------- reflect / replicate ---------------- */

static sg_tensor *pad_apply(sg_tensor *t, const sg_pad_geom *g, bool adjoint, int k,
                            const int64_t *lead, int nlead);

/* What reflect / replicate padding and its adjoint save for their
 * backward. */
typedef struct pad_ctx {
  sg_pad_geom geom;
  bool adjoint;
  int k;     /* padded dims */
  int nlead; /* the dims before them */
  int64_t lead[SG_MAX_DIMS];
} pad_ctx;

static sg_status pad_kernel_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  if (!go[0]) return SG_OK;
  pad_ctx c;
  SG_CTX_LOAD(node, &c);
  gi[0] = pad_apply(go[0], &c.geom, !c.adjoint, c.k, c.lead, c.nlead);
  return gi[0] ? SG_OK : sg_last_status();
}

/* adjoint = false: pad (lead x in -> lead x out); true: accumulate back. */
static sg_tensor *pad_apply(sg_tensor *t, const sg_pad_geom *g, bool adjoint, int k,
                            const int64_t *lead, int nlead) {
  const char *name = adjoint ? "pad_backward" : "pad";
  const sg_backend *be = sg_backend_checked(name, t, offsetof(sg_backend, resample));
  if (!be) return NULL;
  int64_t shape[SG_MAX_DIMS];
  for (int d = 0; d < nlead; d++) shape[d] = lead[d];
  for (int j = 0; j < k; j++) shape[nlead + j] = adjoint ? g->in[3 - k + j] : g->out[3 - k + j];
  sg_tensor *tc = sg_as_contiguous_dtype(t, t->dtype);
  sg_tensor *out = tc ? sg_empty(shape, nlead + k, t->dtype, t->storage->device) : NULL;
  sg_status st = SG_ERR_STATE;
  if (out) st = adjoint ? be->resample->pad_backward(out, tc, g) : be->resample->pad(out, tc, g);
  sg_release(tc);
  if (st != SG_OK) {
    if (out) sg_error_context("%s", name);
    sg_release(out);
    return NULL;
  }
  if (sg_dtype_is_float(t->dtype)) {
    sg_node *n = sg_record(name, pad_kernel_backward, &t, 1, out);
    if (n) {
      pad_ctx c;
      memset(&c, 0, sizeof c);
      c.geom = *g;
      c.adjoint = adjoint;
      c.k = k;
      c.nlead = nlead;
      for (int d = 0; d < nlead; d++) c.lead[d] = lead[d];
      SG_CTX_STORE(n, &c);
    }
  }
  return out;
}

static const char *mode_name(sg_pad_mode m) {
  return m == SG_PAD_CONSTANT ? "constant" : m == SG_PAD_REFLECT ? "reflect" : "replicate";
}

sg_tensor *sg_pad(sg_tensor *x, const int64_t *pads, int npads, sg_pad_mode mode, double value) {
  const char *op = "pad";
  if (sg_check_arg(op, "input", x)) return NULL;
  char a[128];
  if (mode != SG_PAD_CONSTANT && mode != SG_PAD_REFLECT && mode != SG_PAD_REPLICATE) {
    sg_error(SG_ERR_ARG, "%s: unknown mode %d (expected constant, reflect or replicate)", op,
             (int)mode);
    return NULL;
  }
  if (npads < 0 || npads % 2 || npads > 2 * x->ndim || (npads && !pads)) {
    sg_error(SG_ERR_ARG,
             "%s: %d pad values given for input %s; expected an even number, at most 2 per dim "
             "(%d)",
             op, npads, sg_shape_str(x, a, sizeof a), 2 * x->ndim);
    return NULL;
  }
  int k = npads / 2;
  /* per-dim pads, dims in order */
  int64_t before[SG_MAX_DIMS] = {0}, after[SG_MAX_DIMS] = {0}, oshape[SG_MAX_DIMS];
  for (int j = 0; j < k; j++) {
    int d = x->ndim - 1 - j;
    before[d] = pads[2 * j];
    after[d] = pads[2 * j + 1];
  }
  for (int d = 0; d < x->ndim; d++) {
    const int64_t lim = INT64_C(1) << 46; /* the engine's largest tensor */
    if (before[d] > lim || before[d] < -lim || after[d] > lim || after[d] < -lim) {
      sg_error(SG_ERR_ARG, "%s: padding (%lld, %lld) of dim %d of input %s is too large", op,
               (long long)before[d], (long long)after[d], d, sg_shape_str(x, a, sizeof a));
      return NULL;
    }
    oshape[d] = x->shape[d] + before[d] + after[d];
    if (oshape[d] < 0) {
      sg_error(SG_ERR_ARG,
               "%s: dim %d of input %s with padding (%lld, %lld) would have negative size %lld",
               op, d, sg_shape_str(x, a, sizeof a), (long long)before[d], (long long)after[d],
               (long long)oshape[d]);
      return NULL;
    }
  }
  int64_t total = 1;
  for (int d = 0; d < x->ndim; d++) {
    if (oshape[d] > 0 && total > (INT64_C(1) << 46) / oshape[d]) {
      sg_error(SG_ERR_ARG, "%s: padding input %s gives too many elements", op,
               sg_shape_str(x, a, sizeof a));
      return NULL;
    }
    total *= oshape[d];
  }
  if (mode == SG_PAD_CONSTANT) return pad_constant(x, before, after, value);

  if (k < 1 || k > 3) {
    sg_error(SG_ERR_ARG, "%s: %s padding pads the last 1, 2 or 3 dims; got %d pad values", op,
             mode_name(mode), npads);
    return NULL;
  }
  for (int j = 0; j < k; j++) {
    int d = x->ndim - 1 - j;
    int64_t n = x->shape[d];
    if (mode == SG_PAD_REFLECT && (before[d] >= n || after[d] >= n)) {
      sg_error(SG_ERR_ARG,
               "%s: reflect padding (%lld, %lld) of dim %d must be less than its size %lld "
               "(input %s)",
               op, (long long)before[d], (long long)after[d], d, (long long)n,
               sg_shape_str(x, a, sizeof a));
      return NULL;
    }
    if (n == 0 || oshape[d] < 1) {
      sg_error(SG_ERR_ARG, "%s: %s padding (%lld, %lld) of dim %d of input %s gives size %lld",
               op, mode_name(mode), (long long)before[d], (long long)after[d], d,
               sg_shape_str(x, a, sizeof a), (long long)oshape[d]);
      return NULL;
    }
  }
  int nlead = x->ndim - k;
  sg_pad_geom g = {.planes = 1, .in = {1, 1, 1}, .out = {1, 1, 1}, .before = {0, 0, 0},
                   .mode = mode};
  for (int d = 0; d < nlead; d++) g.planes *= x->shape[d];
  for (int j = 0; j < k; j++) {
    int d = nlead + j, slot = 3 - k + j;
    g.in[slot] = x->shape[d];
    g.out[slot] = oshape[d];
    g.before[slot] = before[d];
  }
  if (sg_dtype_size(x->dtype) != 1 && sg_dtype_size(x->dtype) != 4 &&
      sg_dtype_size(x->dtype) != 8) {
    sg_error(SG_ERR_ARG, "%s: dtype %s is not supported", op, sg_dtype_name(x->dtype));
    return NULL;
  }
  return pad_apply(x, &g, false, k, x->shape, nlead);
}

/* ---------------- pixel_shuffle ---------------- */

sg_tensor *sg_pixel_shuffle(sg_tensor *x, int upscale) {
  const char *op = "pixel_shuffle";
  if (sg_check_arg(op, "input", x)) return NULL;
  char a[128];
  if (x->ndim < 3 || x->ndim > SG_MAX_DIMS) {
    sg_error(SG_ERR_ARG, "%s: input has %d dims (%s), expected at least 3 (... x C x H x W)", op,
             x->ndim, sg_shape_str(x, a, sizeof a));
    return NULL;
  }
  if (upscale < 1) {
    sg_error(SG_ERR_ARG, "%s: upscale factor %d must be positive", op, upscale);
    return NULL;
  }
  int64_t r = upscale, nd = x->ndim;
  int64_t C = x->shape[nd - 3], H = x->shape[nd - 2], W = x->shape[nd - 1];
  if (C % (r * r)) {
    sg_error(SG_ERR_ARG, "%s: input %s has %lld channels, not divisible by upscale^2 = %lld", op,
             sg_shape_str(x, a, sizeof a), (long long)C, (long long)(r * r));
    return NULL;
  }
  int64_t B = 1;
  for (int d = 0; d < nd - 3; d++) B *= x->shape[d];
  const int64_t s6[6] = {B, C / (r * r), r, r, H, W};
  const int perm[6] = {0, 1, 4, 2, 5, 3};
  int64_t oshape[SG_MAX_DIMS];
  for (int d = 0; d < nd - 3; d++) oshape[d] = x->shape[d];
  oshape[nd - 3] = C / (r * r);
  oshape[nd - 2] = H * r;
  oshape[nd - 1] = W * r;
  sg_tensor *v = sg_reshape(x, s6, 6);
  sg_tensor *p = v ? sg_permute(v, perm, 6) : NULL;
  sg_tensor *out = p ? sg_reshape(p, oshape, (int)nd) : NULL;
  sg_release(v);
  sg_release(p);
  return out;
}
