/* Inverted dropout: y = x * m, m_i = 1/(1-p) where the element is kept and 0
 * where it is dropped (keep iff the float32 uniform u_i >= p; the stream is
 * the one of sg_rand(float32), docs/rng.md). Backward: g * m, written with
 * sg_mul, so it is differentiable again (double backward works). */
#include <math.h>

#include "internal/backend.h"
#include "internal/kernels_rng.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"
#include "sgen/rng.h"

static sg_status dropout_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  if (!go[0]) {
    gi[0] = NULL;
    return SG_OK;
  }
  sg_tensor *m = sg_node_saved(node, 0);
  if (!m) return sg_last_status();
  gi[0] = sg_mul(go[0], m);
  sg_release(m);
  return gi[0] ? SG_OK : sg_last_status();
}

sg_tensor *sg_dropout(sg_tensor *x, double p, bool training) {
  if (sg_check_arg("dropout", "input", x)) return NULL;
  if (!sg_dtype_is_float(x->dtype)) {
    char buf[128];
    sg_error(SG_ERR_ARG, "dropout: input (%s) has dtype %s, expected float32 or float64",
             sg_shape_str(x, buf, sizeof buf), sg_dtype_name(x->dtype));
    return NULL;
  }
  if (!(p >= 0.0 && p < 1.0)) {
    sg_error(SG_ERR_ARG, "dropout: p must be in [0, 1), got %g", p);
    return NULL;
  }
  if (!training || p == 0.0) return sg_retain(x);
  const sg_backend *be = sg_backend_checked("dropout", x, offsetof(sg_backend, rng));
  if (!be) return NULL;
  if (!be->rng->dropout) {
    sg_error(SG_ERR_UNSUPPORTED, "dropout: not implemented on %s",
             sg_device_name(x->storage->device));
    return NULL;
  }
  sg_tensor *c = sg_as_contiguous_dtype(x, x->dtype);
  if (!c) return NULL;
  bool need_grad = sg_needs_grad(&x, 1);
  sg_tensor *out = sg_empty(c->shape, c->ndim, c->dtype, c->storage->device);
  sg_tensor *mask = (out && need_grad)
                        ? sg_empty(c->shape, c->ndim, c->dtype, c->storage->device)
                        : NULL;
  if (!out || (need_grad && !mask)) goto fail;
  uint64_t seed, offset;
  sg_rng_reserve((uint64_t)((sg_numel(c) + 3) / 4), &seed, &offset);
  if (be->rng->dropout(out, mask, c, p, seed, offset) != SG_OK) {
    sg_error_context("dropout");
    goto fail;
  }
  sg_release(c);
  if (need_grad) {
    sg_node *n = sg_record("dropout", dropout_backward, &x, 1, out);
    if (n) sg_node_save(n, mask); /* the mask holds the 1 / (1 - p) scale */
  }
  sg_release(mask);
  return out;
fail:
  sg_release(c);
  sg_release(out);
  sg_release(mask);
  return NULL;
}
