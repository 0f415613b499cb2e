/* In-place writes with autograd: t <- r, where r was computed out of place.
 *
 * The in-place ops (add_, mul_, exp_, clamp_, copy_, fill_, ...) compute
 * their result with the out-of-place op, so they share its kernels and
 * gradient formula, then hand it to sg_assign_, which writes it into t and
 * gives t r's place in the graph. When autograd records the op, the caller
 * computes r from a clone of t, so that what r's node saved is not the
 * storage about to be overwritten (PyTorch saves the original self the same
 * way). What PyTorch refuses, sgen refuses, with a message: a leaf that
 * requires grad written outside no_grad, and a recorded write into a
 * tensor that shares its storage with another one (a view or its base:
 * PyTorch rebases the base's history there, which sgen does not do; or a
 * result saved by its own op, exp's say, which PyTorch would refuse at
 * backward time, sgen refuses at once). The
 * storage's version counter catches writes into tensors saved for backward
 * (sg_node_saved). */
#include <stdio.h>

#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

static bool is_leaf(const sg_tensor *t) { return t->grad_fn == NULL; }

sg_status sg_check_inplace(sg_tensor *t, const char *op) {
  char a[128];
  if (sg_check_arg(op, "self", t)) return sg_last_status();
  if (sg_grad_enabled() && t->requires_grad && is_leaf(t))
    return sg_error(SG_ERR_STATE,
                    "%s: a leaf tensor that requires grad (%s %s) cannot be modified in place "
                    "while autograd records; do it under sg.no_grad (parameter updates, "
                    "initialization) or on a copy",
                    op, sg_dtype_name(t->dtype), sg_shape_str(t, a, sizeof a));
  return SG_OK;
}

sg_status sg_assign_(sg_tensor *t, sg_tensor *r, const char *op) {
  char a[128], b[128];
  if (sg_check_arg(op, "self", t) || sg_check_arg(op, "result", r)) return sg_last_status();
  if (!sg_same_shape(t, r))
    return sg_error(SG_ERR_ARG, "%s: the result has shape %s, which does not fit the tensor "
                    "written in place (%s)", op, sg_shape_str(r, a, sizeof a),
                    sg_shape_str(t, b, sizeof b));
  if (sg_dtype_is_float(r->dtype) && !sg_dtype_is_float(t->dtype))
    return sg_error(SG_ERR_ARG, "%s: the result is %s, which cannot be written into a %s tensor "
                    "in place (convert with :to() first)", op, sg_dtype_name(r->dtype),
                    sg_dtype_name(t->dtype));
  const bool grad_on = sg_grad_enabled();
  sg_status chk = sg_check_inplace(t, op);
  if (chk != SG_OK) return chk;
  const bool recorded = grad_on && r->requires_grad;
  sg_tensor *owned = NULL;
  if (recorded && r->dtype != t->dtype) {
    /* t keeps its dtype: the recorded value is r converted (differentiably),
     * so the gradient reaching r's inputs has their dtypes */
    if (!(owned = sg_to_dtype(r, t->dtype))) return sg_last_status();
    r = owned;
  }
  if (recorded && !r->grad_fn) {
    /* r is a leaf itself (copy_ of a parameter): a clone gives t a node
     * whose gradient reaches it */
    sg_tensor *c = sg_clone(r);
    sg_release(owned);
    if (!(owned = c)) return sg_last_status();
    r = owned;
  }
  /* a shared storage cannot take the write's effect on autograd: neither a
   * recorded op nor the cut of a computed tensor's history reaches the
   * other tensors viewing it */
  if ((recorded || (grad_on && t->grad_fn)) && t->storage->refcount > 1) {
    sg_release(owned);
    return sg_error(SG_ERR_STATE,
                    "%s: the tensor written in place (%s) shares its memory with another tensor "
                    "(a view of it, the tensor it views, or a copy autograd saved for a backward "
                    "formula) and autograd cannot record the write for both; clone() it first, "
                    "or use the out-of-place op",
                    op, sg_shape_str(t, a, sizeof a));
  }
  bool prev = sg_set_grad_enabled(false);
  sg_status st = sg_copy_(t, r);
  sg_set_grad_enabled(prev);
  if (st != SG_OK) {
    sg_release(owned);
    return st;
  }
  if (recorded) {
    /* t takes r's place in the graph: its gradient flows into r's node */
    sg_node_retain(r->grad_fn);
    if (t->grad_fn) sg_node_release(t->grad_fn);
    t->grad_fn = r->grad_fn;
    t->output_index = r->output_index;
    t->requires_grad = true;
  } else if (grad_on && t->grad_fn) {
    /* a constant written over a computed tensor (fill_, zero_, uniform_,
     * copy_ of a constant): it no longer depends on its history, so no
     * gradient flows back through it (PyTorch's zero gradient) */
    sg_node_release(t->grad_fn);
    t->grad_fn = NULL;
    t->output_index = 0;
    t->requires_grad = false;
  }
  sg_release(owned);
  return SG_OK;
}
