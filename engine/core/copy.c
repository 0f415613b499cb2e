/* Copies between layouts, dtypes and devices. */
#include <string.h>

#include "internal/backend.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

static sg_status identity_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  (void)node;
  gi[0] = sg_retain(go[0]);
  return SG_OK;
}

static sg_status to_dtype_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  gi[0] = sg_to_dtype(go[0], (sg_dtype)node->i[0]);
  return gi[0] ? SG_OK : sg_last_status();
}

static sg_status to_device_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  sg_device d = {(sg_device_type)node->i[0], (int)node->i[1]};
  gi[0] = sg_to_device(go[0], d);
  return gi[0] ? SG_OK : sg_last_status();
}

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

static sg_tensor *copy_to(sg_tensor *t, sg_dtype dt, sg_device dev) {
  sg_tensor *out = sg_empty(t->shape, t->ndim, dt, dev);
  if (out && sg_copy_(out, t) != SG_OK) {
    sg_release(out);
    return NULL;
  }
  return out;
}

sg_tensor *sg_as_contiguous_dtype(const sg_tensor *t, sg_dtype dt) {
  if (t->dtype == dt && sg_is_contiguous(t)) return sg_retain((sg_tensor *)t);
  return copy_to((sg_tensor *)t, dt, t->storage->device);
}

sg_tensor *sg_contiguous(sg_tensor *t) {
  if (sg_check_arg("contiguous", "input", t)) return NULL;
  if (sg_is_contiguous(t)) return sg_retain(t);
  return sg_clone(t);
}

sg_tensor *sg_clone(sg_tensor *t) {
  if (sg_check_arg("clone", "input", t)) return NULL;
  sg_tensor *out = copy_to(t, t->dtype, t->storage->device);
  if (out) sg_record("clone", identity_backward, &t, 1, out);
  return out;
}

sg_tensor *sg_to_dtype(sg_tensor *t, sg_dtype dt) {
  if (sg_check_arg("to", "input", t)) return NULL;
  if ((unsigned)dt >= SG_DTYPE_COUNT) {
    sg_error(SG_ERR_ARG, "to: invalid dtype %d", (int)dt);
    return NULL;
  }
  if (t->dtype == dt) return sg_retain(t);
  sg_tensor *out = copy_to(t, dt, t->storage->device);
  if (!out) return NULL;
  if (sg_dtype_is_float(dt) && sg_dtype_is_float(t->dtype)) {
    sg_node *n = sg_record("to_dtype", to_dtype_backward, &t, 1, out);
    if (n) n->i[0] = t->dtype;
  }
  return out;
}

sg_tensor *sg_to_device(sg_tensor *t, sg_device dev) {
  if (sg_check_arg("to", "input", t)) return NULL;
  if (sg_device_equal(t->storage->device, dev)) return sg_retain(t);
  sg_tensor *out = copy_to(t, t->dtype, dev);
  if (!out) return NULL;
  sg_node *n = sg_record("to_device", to_device_backward, &t, 1, out);
  if (n) {
    n->i[0] = t->storage->device.type;
    n->i[1] = t->storage->device.index;
  }
  return out;
}

sg_tensor *sg_detach(sg_tensor *t) {
  if (sg_check_arg("detach", "input", t)) return NULL;
  return sg_alias(t, t->shape, t->strides, t->ndim, t->offset);
}
