/* The backward pass: dependency counting over the graph reachable from the
 * outputs, then nodes run in topological order, accumulating gradients. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal/anomaly.h"
#include "internal/backend.h"
#include "internal/kernels_elementwise.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

typedef struct node_info {
  sg_node *node;
  int deps;        /* edges from pending nodes into this one */
  int needed;      /* -1 unknown, 0 no, 1 yes */
  sg_tensor *grads[SG_NODE_MAX_OUTPUTS];
} node_info;

typedef struct graph {
  node_info *slots;
  size_t cap, count;
} graph;

static size_t hash_ptr(const void *p, size_t cap) {
  uintptr_t x = (uintptr_t)p;
  x ^= x >> 17;
  x *= UINT64_C(0xed5ad4bb);
  x ^= x >> 11;
  return (size_t)x & (cap - 1);
}

static node_info *graph_find(graph *g, const sg_node *n) {
  for (size_t h = hash_ptr(n, g->cap);; h = (h + 1) & (g->cap - 1)) {
    if (g->slots[h].node == n) return &g->slots[h];
    if (!g->slots[h].node) return NULL;
  }
}

static int graph_grow(graph *g);

static node_info *graph_insert(graph *g, sg_node *n, bool *inserted) {
  if ((g->count + 1) * 2 > g->cap && graph_grow(g)) return NULL;
  size_t h = hash_ptr(n, g->cap);
  while (g->slots[h].node && g->slots[h].node != n) h = (h + 1) & (g->cap - 1);
  *inserted = !g->slots[h].node;
  if (*inserted) {
    g->slots[h].node = n;
    g->slots[h].needed = -1;
    g->count++;
  }
  return &g->slots[h];
}

static int graph_grow(graph *g) {
  size_t cap = g->cap ? g->cap * 2 : 64;
  node_info *old = g->slots;
  size_t old_cap = g->cap;
  g->slots = calloc(cap, sizeof *g->slots);
  if (!g->slots) {
    g->slots = old;
    return sg_error(SG_ERR_MEM, "backward: out of memory for the graph");
  }
  g->cap = cap;
  for (size_t i = 0; i < old_cap; i++) {
    if (!old[i].node) continue;
    size_t h = hash_ptr(old[i].node, cap);
    while (g->slots[h].node) h = (h + 1) & (cap - 1);
    g->slots[h] = old[i];
  }
  free(old);
  return 0;
}

static void graph_free(graph *g) {
  for (size_t i = 0; i < g->cap; i++)
    if (g->slots[i].node) sg_release_all(g->slots[i].grads, SG_NODE_MAX_OUTPUTS);
  free(g->slots);
}

/* Visits every node reachable from the roots, counting dependencies.
 * Iterative, since graphs of long training loops can be deep. */
static int graph_build(graph *g, sg_node **roots, int n_roots) {
  size_t cap = 256, top = 0;
  sg_node **stack = malloc(cap * sizeof *stack);
  if (!stack) return sg_error(SG_ERR_MEM, "backward: out of memory");
  for (int r = 0; r < n_roots; r++) {
    bool ins;
    if (!roots[r]) continue;
    if (!graph_insert(g, roots[r], &ins)) goto fail;
    if (ins) stack[top++] = roots[r];
    while (top) {
      sg_node *n = stack[--top];
      for (int k = 0; k < n->n_inputs; k++) {
        sg_node *next = n->inputs[k].fn;
        if (!next) continue;
        node_info *ni = graph_insert(g, next, &ins);
        if (!ni) goto fail;
        ni->deps++;
        if (!ins) continue;
        if (top == cap) {
          sg_node **s2 = realloc(stack, 2 * cap * sizeof *stack);
          if (!s2) goto fail;
          stack = s2;
          cap *= 2;
        }
        stack[top++] = next;
      }
    }
  }
  free(stack);
  return 0;
fail:
  free(stack);
  return sg_error(SG_ERR_MEM, "backward: out of memory walking the graph");
}

/* For grad(): which input slot (if any) a leaf or (node, index) maps to. */
typedef struct targets {
  sg_tensor **inputs;
  int n;
} targets;

static int target_of_leaf(const targets *tg, const sg_tensor *leaf) {
  for (int i = 0; tg && i < tg->n; i++)
    if (tg->inputs[i] == leaf) return i;
  return -1;
}

static int target_of_output(const targets *tg, const sg_node *n, int index) {
  for (int i = 0; tg && i < tg->n; i++)
    if (tg->inputs[i]->grad_fn == n && tg->inputs[i]->output_index == index) return i;
  return -1;
}

/* Whether running n can contribute to a target (memoized; iterative
 * post-order so deep graphs do not overflow the C stack). */
static int compute_needed(graph *g, sg_node *root, const targets *tg) {
  node_info *ri = graph_find(g, root);
  if (ri->needed >= 0) return 0;
  size_t cap = 256, top = 0;
  sg_node **stack = malloc(cap * sizeof *stack);
  if (!stack) return sg_error(SG_ERR_MEM, "grad: out of memory");
  stack[top++] = root;
  while (top) {
    sg_node *n = stack[top - 1];
    node_info *ni = graph_find(g, n);
    if (ni->needed >= 0) {
      top--;
      continue;
    }
    bool pushed = false, need = false;
    for (int k = 0; k < n->n_inputs; k++) {
      const struct sg_node_edge *e = &n->inputs[k];
      if (e->leaf && target_of_leaf(tg, e->leaf) >= 0) need = true;
      if (!e->fn) continue;
      if (target_of_output(tg, e->fn, e->index) >= 0) need = true;
      node_info *ci = graph_find(g, e->fn);
      if (ci->needed < 0) {
        if (top == cap) {
          sg_node **s2 = realloc(stack, 2 * cap * sizeof *stack);
          if (!s2) {
            free(stack);
            return sg_error(SG_ERR_MEM, "grad: out of memory");
          }
          stack = s2;
          cap *= 2;
        }
        stack[top++] = e->fn;
        pushed = true;
      } else if (ci->needed) {
        need = true;
      }
    }
    if (!pushed) {
      ni->needed = need;
      top--;
    }
  }
  free(stack);
  return 0;
}

/* Whether the gradient flowing into edge e can reach a leaf to fill
 * (backward) or a target of grad(). */
static bool input_wanted(graph *g, const targets *tg, const struct sg_node_edge *e) {
  if (!tg) return e->fn || e->leaf;
  if (e->leaf) return target_of_leaf(tg, e->leaf) >= 0;
  if (!e->fn) return false;
  return target_of_output(tg, e->fn, e->index) >= 0 || graph_find(g, e->fn)->needed == 1;
}

/* *slot += g (new tensor; differentiable when grad mode is on). */
static int accumulate(sg_tensor **slot, sg_tensor *g) {
  if (!*slot) {
    *slot = sg_retain(g);
    return 0;
  }
  sg_tensor *sum = sg_add(*slot, g);
  if (!sum) return -1;
  sg_release(*slot);
  *slot = sum;
  return 0;
}

static int accumulate_leaf_grad(sg_tensor *leaf, sg_tensor *g, bool create_graph) {
  if (!leaf->grad) {
    sg_tensor *own;
    if (create_graph)
      own = sg_retain(g);
    else if (g->refcount == 1 && g->storage->refcount == 1 && !g->grad_fn && sg_is_contiguous(g))
      own = sg_retain(g);
    else {
      bool prev = sg_set_grad_enabled(false);
      own = sg_clone(g);
      sg_set_grad_enabled(prev);
    }
    if (!own) return -1;
    leaf->grad = own;
    return 0;
  }
  if (create_graph || leaf->grad->grad_fn) {
    sg_tensor *sum = sg_add(leaf->grad, g);
    if (!sum) return -1;
    sg_release(leaf->grad);
    leaf->grad = sum;
    return 0;
  }
  /* In place, as PyTorch does when no graph is wanted: optimizers keep
   * references to .grad between steps only through the leaf. */
  const sg_backend *be = sg_backend_for(leaf->grad->storage->device);
  if (!be) return -1;
  if (!sg_same_shape(leaf->grad, g) || leaf->grad->dtype != g->dtype) {
    sg_tensor *sum = sg_add(leaf->grad, g);
    if (!sum) return -1;
    sg_release(leaf->grad);
    leaf->grad = sum;
    return 0;
  }
  if (be->elementwise->binary(SG_ADD, leaf->grad, leaf->grad, g) != SG_OK) return -1;
  sg_bump_version(leaf->grad);
  return 0;
}

static bool shape_matches(const sg_tensor *g, const int64_t *shape, int ndim) {
  if (g->ndim != ndim) return false;
  for (int i = 0; i < ndim; i++)
    if (g->shape[i] != shape[i]) return false;
  return true;
}

static int check_grad_shape(const sg_node *n, int k, const sg_tensor *g, const int64_t *shape,
                            int ndim) {
  if (shape_matches(g, shape, ndim)) return 0;
  char a[128], b[128];
  return sg_error(SG_ERR_STATE,
                  "backward of %s: gradient for input %d has shape %s, expected %s (internal "
                  "error in the op's backward formula)",
                  n->name, k, sg_shape_str(g, a, sizeof a), sg_dims_str(shape, ndim, b, sizeof b));
}

static int run_graph(sg_tensor **outputs, sg_tensor **grad_outputs, int n_out, const targets *tg,
                     sg_tensor **results, bool retain_graph, bool create_graph) {
  graph g = {0};
  int rc = 0;
  sg_node *roots[64];
  sg_tensor *seeds[64] = {0};
  sg_node **ready = NULL;
  if (n_out > 64) return sg_error(SG_ERR_ARG, "backward: at most 64 outputs at once");
  if (!outputs || n_out < 1)
    return sg_error(SG_ERR_ARG, "backward: %d outputs given%s, expected at least one", n_out,
                    outputs ? "" : " (outputs array is NULL)");

  for (int i = 0; i < n_out; i++) {
    sg_tensor *o = outputs[i];
    char buf[128];
    if (!o) {
      rc = sg_error(SG_ERR_ARG, "backward: output %d is missing", i);
      goto done;
    }
    if (!o->requires_grad) {
      rc = sg_error(SG_ERR_ARG,
                    "backward: output %d (%s) does not require grad and has no grad_fn; "
                    "did you compute it under no_grad or from tensors without requires_grad?",
                    i, sg_shape_str(o, buf, sizeof buf));
      goto done;
    }
    sg_tensor *seed = grad_outputs ? grad_outputs[i] : NULL;
    if (seed) {
      if (!sg_same_shape(seed, o)) {
        char b2[128];
        rc = sg_error(SG_ERR_ARG, "backward: grad_output %d has shape %s, output has %s", i,
                      sg_shape_str(seed, buf, sizeof buf), sg_shape_str(o, b2, sizeof b2));
        goto done;
      }
      seeds[i] = sg_retain(seed);
    } else {
      if (sg_numel(o) != 1) {
        rc = sg_error(SG_ERR_ARG,
                      "backward: output %d has shape %s; gradients can be implied only for "
                      "one-element outputs, pass grad_outputs",
                      i, sg_shape_str(o, buf, sizeof buf));
        goto done;
      }
      seeds[i] = sg_full_like(o, 1.0);
      if (!seeds[i]) {
        rc = -1;
        goto done;
      }
    }
    roots[i] = o->grad_fn;
  }

  if ((rc = graph_build(&g, roots, n_out))) goto done;
  if (tg)
    for (int i = 0; i < n_out; i++)
      if (roots[i] && (rc = compute_needed(&g, roots[i], tg))) goto done;

  /* Seed: a leaf output receives its seed directly. */
  for (int i = 0; i < n_out; i++) {
    if (roots[i]) {
      node_info *ni = graph_find(&g, roots[i]);
      if ((rc = accumulate(&ni->grads[outputs[i]->output_index], seeds[i]))) goto done;
    } else if (tg) {
      int t = target_of_leaf(tg, outputs[i]);
      if (t >= 0 && (rc = accumulate(&results[t], seeds[i]))) goto done;
    } else if ((rc = accumulate_leaf_grad(outputs[i], seeds[i], create_graph))) {
      goto done;
    }
  }

  size_t n_ready = 0;
  ready = malloc((g.count + 1) * sizeof *ready);
  if (!ready) {
    rc = sg_error(SG_ERR_MEM, "backward: out of memory");
    goto done;
  }
  for (int i = 0; i < n_out; i++) {
    if (!roots[i]) continue;
    node_info *ni = graph_find(&g, roots[i]);
    if (ni->deps == 0) {
      ready[n_ready++] = roots[i];
      ni->deps = -1; /* queued */
    }
  }

  while (n_ready) {
    sg_node *n = ready[--n_ready];
    node_info *ni = graph_find(&g, n);
    /* Gradients w.r.t. non-leaf targets are what flows into their producer. */
    if (tg)
      for (int k = 0; k < n->n_outputs; k++) {
        int t = target_of_output(tg, n, k);
        if (t >= 0 && ni->grads[k] && (rc = accumulate(&results[t], ni->grads[k]))) goto done;
      }
    sg_tensor *gin[SG_NODE_MAX_INPUTS] = {0};
    bool run = !tg || ni->needed == 1;
    bool any = false;
    for (int k = 0; k < n->n_outputs; k++) any = any || ni->grads[k];
    if (run && any) {
      if (n->released) {
        rc = sg_error(SG_ERR_STATE,
                      "backward through %s a second time: its saved tensors were freed; pass "
                      "retain_graph=true to the first backward",
                      n->name);
        goto done;
      }
      if (create_graph && !n->differentiable) {
        rc = sg_error(SG_ERR_UNSUPPORTED,
                      "%s: double backward (create_graph) is not supported through this op",
                      n->name);
        goto done;
      }
      n->input_needed = 0;
      for (int k = 0; k < n->n_inputs; k++)
        if (input_wanted(&g, tg, &n->inputs[k])) n->input_needed |= 1u << k;
      sg_status st = n->backward(n, ni->grads, gin);
      if (st != SG_OK) {
        sg_error_context("backward of %s", n->name);
        rc = -1;
        goto done;
      }
      if (sg_anomaly_enabled() && sg_anomaly_check_grads(n, gin)) {
        sg_release_all(gin, SG_NODE_MAX_INPUTS);
        rc = -1;
        goto done;
      }
      if (!retain_graph) {
        for (int k = 0; k < n->n_saved; k++) {
          sg_release(n->saved[k].t);
          n->saved[k].t = NULL;
        }
        n->released = n->n_saved > 0;
      }
    }
    sg_release_all(ni->grads, SG_NODE_MAX_OUTPUTS);
    for (int k = 0; k < n->n_inputs; k++) {
      const struct sg_node_edge *e = &n->inputs[k];
      if (gin[k]) {
        if (e->fn) {
          rc = check_grad_shape(n, k, gin[k], e->fn->out_shape[e->index],
                                e->fn->out_ndim[e->index]);
          if (!rc) rc = accumulate(&graph_find(&g, e->fn)->grads[e->index], gin[k]);
        } else if (e->leaf) {
          rc = check_grad_shape(n, k, gin[k], e->leaf->shape, e->leaf->ndim);
          if (!rc) {
            if (tg) {
              int t = target_of_leaf(tg, e->leaf);
              if (t >= 0) rc = accumulate(&results[t], gin[k]);
            } else {
              rc = accumulate_leaf_grad(e->leaf, gin[k], create_graph);
            }
          }
        }
        if (rc) {
          sg_release_all(gin, SG_NODE_MAX_INPUTS);
          goto done;
        }
      }
      if (e->fn) {
        node_info *ci = graph_find(&g, e->fn);
        if (--ci->deps == 0) {
          ready[n_ready++] = e->fn;
          ci->deps = -1;
        }
      }
    }
    sg_release_all(gin, SG_NODE_MAX_INPUTS);
  }

done:
  free(ready);
  sg_release_all(seeds, n_out);
  if (g.slots) graph_free(&g);
  return rc;
}

sg_status sg_backward(sg_tensor **outputs, sg_tensor **grad_outputs, int n, bool retain_graph,
                      bool create_graph) {
  if (sg_anomaly_enabled() && sg_anomaly_check()) return sg_last_status();
  bool prev = sg_set_grad_enabled(create_graph);
  int rc = run_graph(outputs, grad_outputs, n, NULL, NULL, retain_graph, create_graph);
  sg_set_grad_enabled(prev);
  return rc ? sg_last_status() : SG_OK;
}

sg_status sg_grad(sg_tensor **outputs, sg_tensor **grad_outputs, int n_out, sg_tensor **inputs,
                  int n_in, sg_tensor **grads_out, bool retain_graph, bool create_graph,
                  bool allow_unused) {
  if (sg_anomaly_enabled() && sg_anomaly_check()) return sg_last_status();
  if (!outputs || n_out < 1)
    return sg_error(SG_ERR_ARG, "grad: %d outputs given%s, expected at least one", n_out,
                    outputs ? "" : " (outputs array is NULL)");
  if (!inputs || !grads_out || n_in < 1)
    return sg_error(SG_ERR_ARG, "grad: %d inputs given%s, expected at least one", n_in,
                    !inputs ? " (inputs array is NULL)"
                            : !grads_out ? " (grads_out array is NULL)" : "");
  for (int i = 0; i < n_in; i++) {
    grads_out[i] = NULL;
    if (!inputs[i]) return sg_error(SG_ERR_ARG, "grad: input %d is missing", i);
    if (!inputs[i]->requires_grad)
      return sg_error(SG_ERR_ARG, "grad: input %d does not require grad", i);
  }
  targets tg = {inputs, n_in};
  bool prev = sg_set_grad_enabled(create_graph);
  int rc = run_graph(outputs, grad_outputs, n_out, &tg, grads_out, retain_graph, create_graph);
  sg_set_grad_enabled(prev);
  if (rc) {
    sg_release_all(grads_out, n_in);
    return sg_last_status();
  }
  for (int i = 0; i < n_in; i++) {
    if (grads_out[i]) continue;
    if (!allow_unused) {
      sg_release_all(grads_out, n_in);
      return sg_error(SG_ERR_ARG,
                      "grad: input %d is not reachable from the outputs (pass allow_unused to "
                      "get nil for it)",
                      i);
    }
  }
  return SG_OK;
}
