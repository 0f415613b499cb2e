/* The graph's lifetime: node reference counts, and the iterative teardown
 * that releases a node's saved tensors and edges (sgen/node.h says why the
 * core owns it). */
#include <stdlib.h>

#include "internal/tensor_internal.h"
#include "sgen/node.h"

void sg_node_retain(sg_node *n) {
  if (n) n->refcount++;
}

/* Graph teardown is iterative: a chain of 10^5 ops (x = x + 1 in a loop)
 * would overflow the C stack if each node released the next recursively. */
typedef struct worklist {
  sg_node **items;
  size_t n, cap;
} worklist;

static void push_unref(worklist *w, sg_node *fn) {
  if (!fn) return;
  SG_ASSERT(fn->refcount > 0);
  if (--fn->refcount > 0) return;
  if (w->n == w->cap) {
    size_t cap = w->cap ? 2 * w->cap : 64;
    sg_node **items = realloc(w->items, cap * sizeof *items);
    SG_ASSERT(items != NULL);
    w->items = items;
    w->cap = cap;
  }
  w->items[w->n++] = fn;
}

/* Drops a reference to t; a dying tensor hands its grad_fn to the worklist
 * instead of releasing it recursively. */
static void drop_tensor(sg_tensor *t, worklist *w) {
  if (!t) return;
  if (t->refcount == 1 && t->grad_fn) {
    sg_node *fn = t->grad_fn;
    t->grad_fn = NULL;
    push_unref(w, fn);
  }
  sg_release(t);
}

void sg_node_release(sg_node *n) {
  if (!n) return;
  worklist w = {0};
  push_unref(&w, n);
  while (w.n) {
    sg_node *m = w.items[--w.n];
    for (int k = 0; k < m->n_saved; k++) drop_tensor(m->saved[k].t, &w);
    for (int k = 0; k < m->n_inputs; k++) {
      push_unref(&w, m->inputs[k].fn);
      drop_tensor(m->inputs[k].leaf, &w);
    }
    if (m->free_extra) m->free_extra(m->extra);
    free(m->anomaly_info);
    free(m);
  }
  free(w.items);
}
