/* The differentiable copies: clone, contiguous, and conversion to another
 * dtype or device. An op file without a kernel family: the data moves
 * through the backend's copy (sg_copy_to, engine/core/copy.c). */
#include "internal/op_ctx.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

/* What a conversion's backward converts back to. */
typedef struct to_ctx {
  sg_dtype dtype;
  sg_device device;
} to_ctx;

static sg_status identity_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  (void)node;
  gi[0] = sg_retain(go[0]);
  return SG_OK;
}

static sg_status to_dtype_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  to_ctx c;
  SG_CTX_LOAD(node, &c);
  gi[0] = sg_to_dtype(go[0], c.dtype);
  return gi[0] ? SG_OK : sg_last_status();
}

static sg_status to_device_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  to_ctx c;
  SG_CTX_LOAD(node, &c);
  gi[0] = sg_to_device(go[0], c.device);
  return gi[0] ? SG_OK : sg_last_status();
}

sg_tensor *sg_contiguous(sg_tensor *t) {
  if (sg_check_arg("contiguous", "input", t)) return NULL;
  if (sg_is_contiguous(t)) return sg_retain(t);
  return sg_clone(t);
}

sg_tensor *sg_clone(sg_tensor *t) {
  if (sg_check_arg("clone", "input", t)) return NULL;
  sg_tensor *out = sg_copy_to(t, t->dtype, t->storage->device);
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
  sg_tensor *out = sg_copy_to(t, dt, t->storage->device);
  if (!out) return NULL;
  if (sg_dtype_is_float(dt) && sg_dtype_is_float(t->dtype)) {
    sg_node *n = sg_record("to_dtype", to_dtype_backward, &t, 1, out);
    if (n) {
      to_ctx c = {.dtype = t->dtype};
      SG_CTX_STORE(n, &c);
    }
  }
  return out;
}

sg_tensor *sg_to_device(sg_tensor *t, sg_device dev) {
  if (sg_check_arg("to", "input", t)) return NULL;
  if (sg_device_equal(t->storage->device, dev)) return sg_retain(t);
  sg_tensor *out = sg_copy_to(t, t->dtype, dev);
  if (!out) return NULL;
  sg_node *n = sg_record("to_device", to_device_backward, &t, 1, out);
  if (n) {
    to_ctx c = {.device = t->storage->device};
    SG_CTX_STORE(n, &c);
  }
  return out;
}
