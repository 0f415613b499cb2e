/* interpolate: nearest (PyTorch's legacy 'nearest') and bilinear resampling
 * of N x C x H x W images, with PyTorch 1.13's coordinate rules
 * (area_pixel_compute_source_index; 1/scale when a scale factor is given).
 *
 * The map is linear in x. Its backward is its adjoint, an op of its own
 * ("interpolate_backward") whose backward is interpolate again, so double
 * backward works. */
#include <math.h>
#include <string.h>

#include "internal/backend.h"
#include "internal/kernels_pool.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

static sg_tensor *interp_apply(sg_tensor *t, const sg_interp_geom *g, bool adjoint, int64_t n,
                               int64_t c);

/* i: planes ih iw oh ow mode align_corners adjoint N C; f: scale_h scale_w */
static sg_status interp_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  if (!go[0]) return SG_OK;
  const int64_t *v = node->i;
  sg_interp_geom g = {.planes = v[0], .ih = v[1], .iw = v[2], .oh = v[3], .ow = v[4],
                      .mode = (sg_interp_mode)v[5], .align_corners = v[6],
                      .scale_h = node->f[0], .scale_w = node->f[1]};
  gi[0] = interp_apply(go[0], &g, !v[7], v[8], v[9]);
  return gi[0] ? SG_OK : sg_last_status();
}

/* adjoint = false: N x C x ih x iw -> N x C x oh x ow; true: the reverse. */
static sg_tensor *interp_apply(sg_tensor *t, const sg_interp_geom *g, bool adjoint, int64_t n,
                               int64_t c) {
  const char *name = adjoint ? "interpolate_backward" : "interpolate";
  const sg_backend *be = sg_backend_checked(name, t, offsetof(sg_backend, pool));
  if (!be) return NULL;
  const int64_t shape[4] = {n, c, adjoint ? g->ih : g->oh, adjoint ? g->iw : g->ow};
  sg_tensor *tc = sg_as_contiguous_dtype(t, t->dtype);
  sg_tensor *out = tc ? sg_empty(shape, 4, t->dtype, t->storage->device) : NULL;
  sg_status st = SG_ERR_STATE;
  if (out)
    st = adjoint ? be->pool->interpolate_backward(out, tc, g) : be->pool->interpolate(out, tc, g);
  sg_release(tc);
  if (st != SG_OK) {
    if (out) sg_error_context("%s", name);
    sg_release(out);
    return NULL;
  }
  sg_node *nd = sg_record(name, interp_backward, &t, 1, out);
  if (nd) {
    const int64_t v[10] = {g->planes, g->ih, g->iw, g->oh, g->ow, g->mode, g->align_corners,
                           adjoint, n, c};
    memcpy(nd->i, v, sizeof v);
    nd->f[0] = g->scale_h;
    nd->f[1] = g->scale_w;
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
