/* The autograd engine: accumulation, grad(), retain_graph, no_grad,
 * non-leaf inputs, deep graphs, and error reporting. */
#include <math.h>

#include "harness.h"

static void backward_accumulates(void) {
  sg_tensor *w = tt_param(1, -1, 1, 2, SHAPE(2, 2));
  for (int rep = 0; rep < 2; rep++) {
    sg_tensor *sq = sg_mul(w, w);
    sg_tensor *loss = sg_sum(sq, NULL, 0, false);
    CHECK_OK(sg_backward(&loss, NULL, 1, false, false));
    sg_release(sq);
    sg_release(loss);
  }
  /* d/dw sum(w^2) = 2w, twice accumulated = 4w */
  CHECK(w->grad != NULL);
  for (int i = 0; i < 4 && w->grad; i++)
    CHECK_NEAR(sg_get_flat(w->grad, i), 4 * sg_get_flat(w, i), 1e-12);
  sg_set_grad(w, NULL);
  CHECK(w->grad == NULL);
  sg_release(w);
}

static void grad_does_not_touch_dot_grad(void) {
  sg_tensor *x = tt_param(2, -1, 1, 1, SHAPE(3));
  sg_tensor *y = sg_exp(x);
  sg_tensor *s = sg_sum(y, NULL, 0, false);
  sg_tensor *g[1];
  CHECK_OK(sg_grad(&s, NULL, 1, &x, 1, g, false, false, false));
  CHECK(x->grad == NULL);
  CHECK_CLOSE(g[0], y, 1e-12, 0);
  sg_release(g[0]);
  sg_release(y);
  sg_release(s);
  sg_release(x);
}

static void grad_wrt_non_leaf(void) {
  sg_tensor *x = tt_param(3, -1, 1, 1, SHAPE(4));
  sg_tensor *h = sg_mul_scalar(x, 3);
  sg_tensor *y = sg_mul(h, h);
  sg_tensor *s = sg_sum(y, NULL, 0, false);
  sg_tensor *g[2];
  sg_tensor *ins[2] = {h, x};
  CHECK_OK(sg_grad(&s, NULL, 1, ins, 2, g, false, false, false));
  /* ds/dh = 2h, ds/dx = 6h */
  sg_tensor *h2 = sg_mul_scalar(h, 2), *h6 = sg_mul_scalar(h, 6);
  CHECK_CLOSE(g[0], h2, 1e-12, 0);
  CHECK_CLOSE(g[1], h6, 1e-12, 0);
  sg_tensor *all[] = {g[0], g[1], h2, h6, y, s, h, x};
  sg_release_all(all, 8);
}

static void retain_graph(void) {
  sg_tensor *x = tt_param(4, -1, 1, 1, SHAPE(3));
  sg_tensor *y = sg_tanh(x);
  sg_tensor *s = sg_sum(y, NULL, 0, false);
  CHECK_OK(sg_backward(&s, NULL, 1, true, false));
  CHECK_OK(sg_backward(&s, NULL, 1, false, false));
  CHECK_STATUS_FAILS(sg_backward(&s, NULL, 1, false, false), "retain_graph");
  sg_tensor *all[] = {x, y, s};
  sg_release_all(all, 3);
}

static void no_grad_and_errors(void) {
  sg_tensor *x = tt_param(5, -1, 1, 1, SHAPE(3));
  bool prev = sg_set_grad_enabled(false);
  sg_tensor *y = sg_mul(x, x);
  sg_set_grad_enabled(prev);
  CHECK(y && !y->requires_grad && y->grad_fn == NULL);
  CHECK_STATUS_FAILS(sg_backward(&y, NULL, 1, false, false), "does not require grad");
  sg_tensor *z = sg_mul(x, x);
  CHECK_STATUS_FAILS(sg_backward(&z, NULL, 1, false, false), "one-element outputs");
  sg_tensor *bad = sg_zeros(SHAPE(2), 1, SG_FLOAT64, sg_cpu_device());
  CHECK_STATUS_FAILS(sg_backward(&z, &bad, 1, false, false), "grad_output 0 has shape 2");
  sg_tensor *c = sg_zeros(SHAPE(3), 1, SG_FLOAT64, sg_cpu_device());
  sg_set_requires_grad(c, true);
  sg_tensor *s = sg_sum(z, NULL, 0, false);
  sg_tensor *g[1];
  CHECK_STATUS_FAILS(sg_grad(&s, NULL, 1, &c, 1, g, true, false, false), "not reachable");
  CHECK_OK(sg_grad(&s, NULL, 1, &c, 1, g, true, false, true));
  CHECK(g[0] == NULL);
  CHECK_STATUS_FAILS(sg_set_requires_grad(z, false), "not a leaf");
  sg_tensor *all[] = {x, y, z, bad, c, s};
  sg_release_all(all, 6);
}

static void integer_outputs_have_no_grad(void) {
  sg_tensor *x = tt_param(6, -1, 1, 1, SHAPE(3));
  sg_tensor *m = sg_cmp_scalar(SG_GT, x, 0);
  CHECK(m && !m->requires_grad);
  sg_release(m);
  sg_release(x);
}

static void deep_chain(void) {
  /* 100k nodes: backward and teardown must not recurse per node */
  sg_tensor *x = tt_param(7, -1, 1, 1, SHAPE(1));
  sg_tensor *y = sg_retain(x);
  for (int i = 0; i < 100000; i++) {
    sg_tensor *next = sg_add_scalar(y, 1e-3);
    sg_release(y);
    y = next;
  }
  sg_tensor *s = sg_sum(y, NULL, 0, false);
  CHECK_OK(sg_backward(&s, NULL, 1, false, false));
  CHECK(x->grad && sg_get_flat(x->grad, 0) == 1.0);
  sg_release(s);
  sg_release(y);
  sg_release(x);
}

static void double_backward_create_graph(void) {
  /* d/dx (d/dx sum(x^3)) = 6x */
  sg_tensor *x = tt_param(8, -1, 1, 1, SHAPE(3));
  sg_tensor *c = sg_pow_scalar(x, 3);
  sg_tensor *s = sg_sum(c, NULL, 0, false);
  sg_tensor *g[1];
  CHECK_OK(sg_grad(&s, NULL, 1, &x, 1, g, true, true, false));
  CHECK(g[0] && g[0]->requires_grad);
  sg_tensor *gs = sg_sum(g[0], NULL, 0, false);
  sg_tensor *gg[1];
  CHECK_OK(sg_grad(&gs, NULL, 1, &x, 1, gg, false, false, false));
  sg_tensor *x6 = sg_mul_scalar(x, 6);
  CHECK_CLOSE(gg[0], x6, 1e-12, 0);
  sg_tensor *all[] = {x, c, s, g[0], gs, gg[0], x6};
  sg_release_all(all, 7);
}

/* A custom op whose backward is declared first-order only. */
static sg_status first_order_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  (void)node;
  bool prev = sg_set_grad_enabled(false);
  gi[0] = sg_mul_scalar(go[0], 2.0);
  sg_set_grad_enabled(prev);
  return gi[0] ? SG_OK : sg_last_status();
}

static sg_tensor *first_order_op(sg_tensor *x) {
  bool prev = sg_set_grad_enabled(false);
  sg_tensor *out = sg_mul_scalar(x, 2.0);
  sg_set_grad_enabled(prev);
  sg_node *n = sg_record("first_order_op", first_order_backward, &x, 1, out);
  if (n) n->differentiable = false;
  return out;
}

static void first_order_only_ops_refuse_create_graph(void) {
  sg_tensor *x = tt_param(9, -1, 1, 1, SHAPE(3));
  sg_tensor *y = first_order_op(x);
  sg_tensor *s = sg_sum(y, NULL, 0, false);
  sg_tensor *g[1] = {NULL};
  /* first order works */
  CHECK_OK(sg_grad(&s, NULL, 1, &x, 1, g, true, false, false));
  CHECK(g[0] && sg_get_flat(g[0], 0) == 2.0);
  sg_release(g[0]);
  /* asking for a differentiable gradient names the op */
  CHECK_STATUS_FAILS(sg_grad(&s, NULL, 1, &x, 1, g, true, true, false),
                     "first_order_op: double backward (create_graph) is not supported");
  /* and sg_require_first_order gives the same kind of message */
  bool prev = sg_set_grad_enabled(true);
  CHECK_STATUS_FAILS(sg_require_first_order(y->grad_fn), "not differentiable");
  sg_set_grad_enabled(prev);
  sg_release(s);
  sg_release(y);
  sg_release(x);
}


/* A two-input op that records which input gradients the engine asked for. */
static unsigned seen_mask;
static sg_status mask_recording_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  seen_mask = node->input_needed;
  for (int k = 0; k < 2; k++)
    if (sg_node_wants(node, k) && !(gi[k] = sg_mul_scalar(go[0], 1.0))) return sg_last_status();
  return SG_OK;
}

static sg_tensor *mask_recording_op(sg_tensor *a, sg_tensor *b) {
  bool prev = sg_set_grad_enabled(false);
  sg_tensor *out = sg_add(a, b);
  sg_set_grad_enabled(prev);
  sg_tensor *in[2] = {a, b};
  sg_record("mask_recording_op", mask_recording_backward, in, 2, out);
  return out;
}

/* grad() asks a backward formula only for the gradients that reach one of
 * its inputs (a gradient penalty wants d/dx, not the weights' gradients). */
static void grad_asks_only_for_needed_inputs(void) {
  sg_tensor *x = tt_param(10, -1, 1, 1, SHAPE(3));
  sg_tensor *w = tt_param(11, -1, 1, 1, SHAPE(3));
  sg_tensor *h = sg_exp(w); /* a non-leaf between w and the op */
  sg_tensor *y = mask_recording_op(x, h);
  sg_tensor *s = sg_sum(y, NULL, 0, false);
  sg_tensor *g[2] = {NULL, NULL};
  CHECK_OK(sg_grad(&s, NULL, 1, &x, 1, g, true, false, false));
  CHECK(seen_mask == 1u);
  CHECK(g[0] && sg_get_flat(g[0], 0) == 1.0);
  sg_release(g[0]);
  CHECK_OK(sg_grad(&s, NULL, 1, &w, 1, g, true, false, false));
  CHECK(seen_mask == 2u);
  CHECK(g[0] && fabs(sg_get_flat(g[0], 1) - exp(sg_get_flat(w, 1))) < 1e-12);
  sg_release(g[0]);
  sg_tensor *both[2] = {x, h};
  CHECK_OK(sg_grad(&s, NULL, 1, both, 2, g, true, false, false));
  CHECK(seen_mask == 3u);
  sg_release_all(g, 2);
  CHECK_OK(sg_backward(&s, NULL, 1, false, false));
  CHECK(seen_mask == 3u);
  CHECK(x->grad && w->grad);
  sg_tensor *all[] = {x, w, h, y, s};
  sg_release_all(all, 5);
}

int main(void) {
  RUN(backward_accumulates);
  RUN(grad_does_not_touch_dot_grad);
  RUN(grad_wrt_non_leaf);
  RUN(retain_graph);
  RUN(no_grad_and_errors);
  RUN(integer_outputs_have_no_grad);
  RUN(deep_chain);
  RUN(double_backward_create_graph);
  RUN(first_order_only_ops_refuse_create_graph);
  RUN(grad_asks_only_for_needed_inputs);
  return sg_test_finish();
}
