/* Copies between layouts, dtypes and devices through the backend's copy
 * and fill, never recorded by autograd; the differentiable copies (clone,
 * contiguous, to) are ops (engine/ops/copy.c). */
#include <string.h>

#include "internal/backend.h"
#include "internal/tensor_internal.h"

sg_status sg_copy_(sg_tensor *dst, const sg_tensor *src) {
  if (sg_check_arg("copy_", "dst", dst) || sg_check_arg("copy_", "src", src))
    return sg_last_status();
  int64_t shape[SG_MAX_DIMS];
  int nd;
  if (sg_broadcast_shapes("copy_", dst->shape, dst->ndim, src->shape, src->ndim, shape, &nd))
    return sg_last_status();
  for (int i = 0; i < nd; i++) {
    if (nd != dst->ndim || shape[i] != dst->shape[i]) {
      char a[128], b[128];
      return sg_error(SG_ERR_ARG, "copy_: source of shape %s does not broadcast to %s",
                      sg_shape_str(src, a, sizeof a), sg_shape_str(dst, b, sizeof b));
    }
  }
  int64_t st[SG_MAX_DIMS];
  sg_broadcast_strides(src, dst->shape, dst->ndim, st);
  sg_tensor *view = sg_alias(src, dst->shape, st, dst->ndim, src->offset);
  if (!view) return sg_last_status();
  /* Cross-device copies are handled by the non-CPU backend. */
  const sg_backend *be = sg_backend_for(dst->storage->device.type != SG_CPU ? dst->storage->device
                                                                           : src->storage->device);
  sg_status s = be ? be->copy(dst, view) : sg_last_status();
  sg_release(view);
  if (s == SG_OK) sg_bump_version(dst);
  return s;
}

void sg_bump_version(sg_tensor *t) {
  if (t && t->storage) t->storage->version++;
}

sg_status sg_fill_(sg_tensor *t, double value) {
  if (sg_check_arg("fill_", "tensor", t)) return sg_last_status();
  const sg_backend *be = sg_backend_for(t->storage->device);
  sg_status s = be ? be->fill(t, value) : sg_last_status();
  if (s == SG_OK) sg_bump_version(t);
  return s;
}

sg_tensor *sg_copy_to(const sg_tensor *t, sg_dtype dt, sg_device dev) {
  sg_tensor *out = sg_empty(t->shape, t->ndim, dt, dev);
  if (out && sg_copy_(out, t) != SG_OK) {
    sg_release(out);
    return NULL;
  }
  return out;
}

sg_tensor *sg_as_contiguous_dtype(const sg_tensor *t, sg_dtype dt) {
  if (t->dtype == dt && sg_is_contiguous(t)) return sg_retain((sg_tensor *)t);
  return sg_copy_to(t, dt, t->storage->device);
}

sg_tensor *sg_detach(sg_tensor *t) {
  if (sg_check_arg("detach", "input", t)) return NULL;
  return sg_alias(t, t->shape, t->strides, t->ndim, t->offset);
}
