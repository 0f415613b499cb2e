/* Graph nodes: creation, edges to inputs, saved tensors. */
#include <stdlib.h>
#include <string.h>

#include "internal/anomaly.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"

bool sg_needs_grad(sg_tensor *const *inputs, int n) {
  if (!sg_grad_enabled()) return false;
  for (int i = 0; i < n; i++)
    if (inputs[i] && inputs[i]->requires_grad) return true;
  return false;
}

sg_node *sg_node_new(const char *name, sg_backward_fn fn, sg_tensor *const *inputs,
                     int n_inputs) {
  SG_ASSERT(n_inputs <= SG_NODE_MAX_INPUTS);
  sg_node *n = calloc(1, sizeof *n);
  if (!n) {
    sg_error(SG_ERR_MEM, "out of memory allocating a graph node");
    return NULL;
  }
  n->refcount = 1;
  n->name = name;
  n->backward = fn;
  n->differentiable = true;
  n->n_inputs = n_inputs;
  for (int k = 0; k < n_inputs; k++) {
    sg_tensor *t = inputs[k];
    if (!t || !t->requires_grad) continue;
    if (t->grad_fn) {
      n->inputs[k].fn = t->grad_fn;
      n->inputs[k].index = t->output_index;
      sg_node_retain(t->grad_fn);
    } else {
      n->inputs[k].leaf = sg_retain(t);
    }
    n->input_needed |= 1u << k; /* until the engine narrows it for a grad() */
  }
  return n;
}

void sg_node_set_outputs(sg_node *node, sg_tensor **outputs, int n) {
  SG_ASSERT(n <= SG_NODE_MAX_OUTPUTS);
  node->n_outputs = n;
  for (int k = 0; k < n; k++) {
    sg_tensor *t = outputs[k];
    node->out_ndim[k] = t->ndim;
    memcpy(node->out_shape[k], t->shape, sizeof(int64_t) * (size_t)t->ndim);
    node->out_dtype[k] = t->dtype;
    if (!sg_dtype_is_float(t->dtype)) continue; /* indices carry no gradient */
    if (t->grad_fn) sg_node_release(t->grad_fn);
    t->grad_fn = node;
    sg_node_retain(node);
    t->output_index = k;
    t->requires_grad = true;
  }
}

sg_node *sg_record_multi(const char *name, sg_backward_fn fn, sg_tensor *const *inputs,
                         int n_inputs, sg_tensor **outs, int n_outs) {
  if (!sg_needs_grad(inputs, n_inputs)) return NULL;
  sg_node *n = sg_node_new(name, fn, inputs, n_inputs);
  if (!n) return NULL;
  sg_node_set_outputs(n, outs, n_outs);
  if (sg_anomaly_enabled()) sg_anomaly_on_record(n, inputs, n_inputs, outs, n_outs);
  sg_node_release(n); /* the outputs hold it */
  return n;
}

sg_node *sg_record(const char *name, sg_backward_fn fn, sg_tensor *const *inputs, int n_inputs,
                   sg_tensor *out) {
  return sg_record_multi(name, fn, inputs, n_inputs, &out, 1);
}

void sg_node_save(sg_node *node, sg_tensor *t) {
  SG_ASSERT(node->n_saved < SG_NODE_MAX_SAVED);
  struct sg_saved *s = &node->saved[node->n_saved++];
  s->t = sg_retain(t);
  s->is_output = false;
  s->version = t ? t->storage->version : 0;
}

void sg_node_save_output(sg_node *node, sg_tensor *t, int output_index) {
  SG_ASSERT(node->n_saved < SG_NODE_MAX_SAVED);
  struct sg_saved *s = &node->saved[node->n_saved++];
  /* A detached alias: holding t itself would make node -> t -> node a cycle. */
  s->t = sg_detach(t);
  s->is_output = true;
  s->output_index = output_index;
  s->version = t ? t->storage->version : 0;
}

sg_tensor *sg_node_saved(sg_node *node, int k) {
  if (!node) {
    sg_error(SG_ERR_ARG, "node_saved: node is NULL");
    return NULL;
  }
  SG_ASSERT(k >= 0 && k < node->n_saved);
  struct sg_saved *s = &node->saved[k];
  if (!s->t) {
    sg_error(SG_ERR_STATE,
             "%s: the graph was freed by an earlier backward; pass retain_graph=true to "
             "backward through it twice",
             node->name);
    return NULL;
  }
  if (s->t->storage->version != s->version) {
    char a[128];
    sg_error(SG_ERR_STATE,
             "%s: a tensor saved for its gradient (%s %s) was modified by an in-place "
             "operation after it was saved (its version is %llu, expected %llu); modify a "
             "copy (x:clone()) instead, or modify it after backward",
             node->name, sg_dtype_name(s->t->dtype), sg_shape_str(s->t, a, sizeof a),
             (unsigned long long)s->t->storage->version, (unsigned long long)s->version);
    return NULL;
  }
  if (!s->is_output || !sg_grad_enabled()) return sg_retain(s->t);
  /* Reconnect the saved output to this node so formulas using it are
   * differentiable (double backward through e.g. exp or tanh). */
  sg_tensor *t = sg_detach(s->t);
  if (!t) return NULL;
  t->grad_fn = node;
  sg_node_retain(node);
  t->output_index = s->output_index;
  t->requires_grad = true;
  return t;
}

sg_status sg_require_first_order(sg_node *node) {
  if (sg_grad_enabled())
    return sg_error(SG_ERR_UNSUPPORTED,
                    "%s: this op's backward is not differentiable (double backward / "
                    "create_graph is not supported through it)",
                    node->name);
  return SG_OK;
}

sg_status sg_set_requires_grad(sg_tensor *t, bool on) {
  if (sg_check_arg("requires_grad", "tensor", t)) return sg_last_status();
  if (on && !sg_dtype_is_float(t->dtype))
    return sg_error(SG_ERR_ARG, "requires_grad: only float tensors can require grad (got %s)",
                    sg_dtype_name(t->dtype));
  if (!on && t->grad_fn)
    return sg_error(SG_ERR_ARG,
                    "requires_grad(false): tensor is not a leaf (it was computed by %s); use "
                    "detach()",
                    t->grad_fn->name);
  t->requires_grad = on;
  return SG_OK;
}

void sg_set_grad(sg_tensor *t, sg_tensor *g) {
  if (!t) return;
  sg_retain(g);
  sg_release(t->grad);
  t->grad = g;
}
