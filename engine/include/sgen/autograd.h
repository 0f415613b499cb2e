/* Reverse-mode automatic differentiation on a dynamic graph.
 *
 * Ops record an sg_node when grad mode is on and an input requires grad.
 * A node's backward formula is written with the engine's public ops, so
 * running backward with create_graph records a graph of its own: gradients
 * are differentiable (double backward). */
#ifndef SGEN_AUTOGRAD_H
#define SGEN_AUTOGRAD_H

#include "sgen/node.h"
#include "sgen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- grad mode (thread-local, like PyTorch) ---- */
bool sg_grad_enabled(void);
/* Sets grad mode, returns the previous value. */
bool sg_set_grad_enabled(bool on);

/* ---- anomaly mode (thread-local, like grad mode; PyTorch's detect_anomaly) ----
 * On: every recorded op's outputs and every gradient a backward formula
 * returns are checked for NaN/Inf. A non-finite gradient fails the backward
 * with an error naming the op, its input shapes and where it was created.
 * A non-finite forward output cannot fail the op that made it (ops ignore
 * sg_record's result), so the first one is kept pending: sg_anomaly_check
 * raises it (the Lua bindings call it after each op) and so does the next
 * sg_backward / sg_grad. Off (the default) costs one branch per record. */
bool sg_anomaly_enabled(void);
/* Sets anomaly mode, returns the previous value; turning it off drops a
 * pending forward anomaly. */
bool sg_set_detect_anomaly(bool on);
/* Called (anomaly mode on) when a node is recorded: returns a malloc'd text
 * saying where (a Lua traceback), or NULL. One per thread. */
typedef char *(*sg_anomaly_hook)(void *ud);
void sg_set_anomaly_hook(sg_anomaly_hook fn, void *ud);
void *sg_anomaly_hook_ud(void);
/* SG_OK, or the pending forward anomaly as the current error (cleared). */
sg_status sg_anomaly_check(void);

/* ---- leaves ---- */
sg_status sg_set_requires_grad(sg_tensor *t, bool on);
/* Sets t->grad (retains g; NULL clears). */
void sg_set_grad(sg_tensor *t, sg_tensor *g);

/* ---- running backward ---- */
/* Accumulates d(sum(grad_outputs[i] * outputs[i]))/d(leaf) into leaf->grad.
 * grad_outputs may be NULL (then each output must be a one-element tensor
 * and its gradient is 1). */
sg_status sg_backward(sg_tensor **outputs, sg_tensor **grad_outputs, int n,
                      bool retain_graph, bool create_graph);
/* Returns gradients of outputs w.r.t. inputs in grads_out[] (new refs;
 * NULL where an input is unreachable and allow_unused). */
sg_status sg_grad(sg_tensor **outputs, sg_tensor **grad_outputs, int n_out,
                  sg_tensor **inputs, int n_in, sg_tensor **grads_out,
                  bool retain_graph, bool create_graph, bool allow_unused);

/* ---- for op implementations ---- */
/* True if grad mode is on and any of the inputs requires grad. */
bool sg_needs_grad(sg_tensor *const *inputs, int n);
/* Creates a node with edges to the inputs that require grad. */
sg_node *sg_node_new(const char *name, sg_backward_fn fn, sg_tensor *const *inputs,
                     int n_inputs);
/* Attaches node to outputs (sets grad_fn, requires_grad, output_index). */
void sg_node_set_outputs(sg_node *node, sg_tensor **outputs, int n);
/* Saves a tensor for backward: an input (or any tensor) ... */
void sg_node_save(sg_node *node, sg_tensor *t);
/* ... or an output of this same node (kept without a reference cycle). */
void sg_node_save_output(sg_node *node, sg_tensor *t, int output_index);
/* Returns saved tensor k as a new reference, reconnected to the graph so
 * that formulas using it are differentiable; NULL if already released. */
sg_tensor *sg_node_saved(sg_node *node, int k);
/* Convenience: the common case for a single-output op. Creates the node if
 * sg_needs_grad(inputs) and attaches it to out; returns the node (borrowed,
 * owned by out) or NULL when no graph is recorded. */
sg_node *sg_record(const char *name, sg_backward_fn fn, sg_tensor *const *inputs,
                   int n_inputs, sg_tensor *out);
sg_node *sg_record_multi(const char *name, sg_backward_fn fn, sg_tensor *const *inputs,
                         int n_inputs, sg_tensor **outs, int n_outs);

/* Raises a clear error if a non-differentiable backward is run with
 * create_graph; call at the top of such backward functions. */
sg_status sg_require_first_order(sg_node *node);

/* The end of an in-place op (engine/autograd/inplace.c): writes r (the
 * op's result, computed out of place, of t's shape) into t. With grad mode
 * on: refuses a leaf t that requires grad; when r requires grad, t takes
 * r's place in the graph (and must not share its storage with another
 * tensor), else t loses its history. `op` names the op in errors. The
 * caller computes r from a clone of t when autograd records it. */
sg_status sg_assign_(sg_tensor *t, sg_tensor *r, const char *op);
/* The first of sg_assign_'s rules, alone (checked before an in-place op
 * computes anything): grad mode on and t a leaf that requires grad is an
 * error. */
sg_status sg_check_inplace(sg_tensor *t, const char *op);

/* ---- finite-difference checks (float64 inputs) ---- */
/* A function of n tensors returning one tensor (new reference) or NULL. */
typedef sg_tensor *(*sg_fn)(sg_tensor **inputs, int n, void *ctx);
typedef struct sg_gradcheck_opts {
  double eps;   /* default 1e-6 */
  double atol;  /* default 1e-5 */
  double rtol;  /* default 1e-3 */
  uint64_t seed; /* for the random output weights */
  /* Inputs are numbered from this in error messages: 0 in C (the default),
   * 1 from Lua, whose lists count from 1; anything else is an error.
   * Initialize the struct (= {...} or memset): no field may be left unset. */
  int input_base;
} sg_gradcheck_opts;
/* Compares autograd with central differences for every input that requires
 * grad. f always runs with grad enabled (it may call sg_grad itself, as a
 * gradient penalty does). Returns SG_OK, or SG_ERR_ARG with a message naming
 * the worst entry. */
sg_status sg_gradcheck(sg_fn f, void *ctx, sg_tensor **inputs, int n,
                       const sg_gradcheck_opts *opts);
/* Same for the gradient of f (checks double backward). */
sg_status sg_gradgradcheck(sg_fn f, void *ctx, sg_tensor **inputs, int n,
                           const sg_gradcheck_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
