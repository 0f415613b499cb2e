/* Anomaly mode: off by default and silent; on, a NaN/Inf made by a forward
 * op is named (pending until sg_anomaly_check or the next backward), a
 * NaN/Inf gradient fails the backward naming the op whose formula made it,
 * with its input shapes and the hook's "traceback"; the mode is per thread. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static int hook_calls;

static char *fake_traceback(void *ud) {
  hook_calls++;
  const char *where = ud;
  char *s = malloc(strlen(where) + 1);
  if (s) strcpy(s, where);
  return s;
}

static void off_by_default_and_silent(void) {
  CHECK(!sg_anomaly_enabled());
  sg_tensor *x = tt_param(1, -1, 1, 1, SHAPE(3));
  sg_tensor *l = sg_log(x); /* NaN where x < 0: not checked when off */
  sg_tensor *s = sg_sum(l, NULL, 0, false);
  CHECK_OK(sg_anomaly_check());
  CHECK_OK(sg_backward(&s, NULL, 1, false, false));
  sg_release_all((sg_tensor *[]){s, l, x}, 3);
}

static void forward_nan_is_named(void) {
  sg_set_anomaly_hook(fake_traceback, "script.lua:7: in main chunk");
  CHECK(!sg_set_detect_anomaly(true));
  hook_calls = 0;
  double v[] = {1, -1, 2, 4};
  sg_tensor *x = tt_from(SG_FLOAT32, v, 2, SHAPE(2, 2));
  CHECK_OK(sg_set_requires_grad(x, true));
  sg_tensor *e = sg_exp(x); /* finite: nothing pending */
  CHECK_OK(sg_anomaly_check());
  sg_tensor *n = sg_neg(x);
  sg_tensor *l = sg_log(n);
  CHECK(hook_calls == 3);
  sg_clear_error();
  CHECK(sg_anomaly_check() == SG_ERR_STATE);
  const char *msg = sg_last_error();
  CHECK(strstr(msg, "detect_anomaly: log produced 3 NaN in its output 1 (float32 2x2)") != NULL);
  CHECK(strstr(msg, "inputs (float32 2x2)") != NULL);
  CHECK(strstr(msg, "script.lua:7: in main chunk") != NULL);
  CHECK_OK(sg_anomaly_check()); /* raised once */
  /* The first anomaly is kept; a later one does not replace it, and the
   * next backward reports it. */
  sg_tensor *z = sg_mul_scalar(l, 0.0);
  sg_tensor *inf = sg_div_scalar(x, 0.0);
  sg_tensor *s = sg_sum(e, NULL, 0, false);
  CHECK_STATUS_FAILS(sg_backward(&s, NULL, 1, true, false), "mul produced 3 NaN");
  CHECK_OK(sg_backward(&s, NULL, 1, false, false));
  sg_release_all((sg_tensor *[]){x, e, n, l, z, inf, s}, 7);
  sg_set_detect_anomaly(false);
  sg_set_anomaly_hook(NULL, NULL);
}

static void backward_nan_is_named(void) {
  sg_set_anomaly_hook(fake_traceback, "train.lua:12: in function 'step'");
  sg_set_detect_anomaly(true);
  /* sqrt(0) is finite, its gradient 0.5/sqrt(0) is Inf: the forward pass is
   * clean and the backward of sqrt is the first to go wrong. */
  double v[] = {0, 1, 4};
  sg_tensor *x = tt_from(SG_FLOAT64, v, 1, SHAPE(3));
  CHECK_OK(sg_set_requires_grad(x, true));
  sg_tensor *y = sg_mul_scalar(x, 2.0);
  sg_tensor *r = sg_sqrt(y);
  sg_tensor *s = sg_sum(r, NULL, 0, false);
  CHECK_OK(sg_anomaly_check());
  CHECK_STATUS_FAILS(sg_backward(&s, NULL, 1, true, false),
                     "detect_anomaly: the backward of sqrt returned 1 Inf in the gradient of "
                     "its input 1 (float64 3)");
  CHECK(strstr(sg_last_error(), "train.lua:12: in function 'step'") != NULL);
  CHECK(x->grad == NULL); /* stopped before reaching the leaf */
  /* grad() checks the same way */
  sg_tensor *g[1] = {NULL};
  CHECK_STATUS_FAILS(sg_grad(&s, NULL, 1, &x, 1, g, true, false, false), "backward of sqrt");
  CHECK(g[0] == NULL);
  /* Off again: the same backward runs and leaves the Inf in x.grad. */
  sg_set_detect_anomaly(false);
  CHECK_OK(sg_backward(&s, NULL, 1, false, false));
  CHECK(x->grad && isinf(sg_get_flat(x->grad, 0)));
  sg_release_all((sg_tensor *[]){x, y, r, s}, 4);
  sg_set_anomaly_hook(NULL, NULL);
}

/* A node recorded before the mode was on has no creation info; the error
 * still names the op. */
static void node_from_before_the_mode(void) {
  double v[] = {0, 1};
  sg_tensor *x = tt_from(SG_FLOAT64, v, 1, SHAPE(2));
  CHECK_OK(sg_set_requires_grad(x, true));
  sg_tensor *r = sg_sqrt(x);
  sg_tensor *s = sg_sum(r, NULL, 0, false);
  sg_set_detect_anomaly(true);
  CHECK_STATUS_FAILS(sg_backward(&s, NULL, 1, false, false), "recorded before anomaly mode");
  sg_set_detect_anomaly(false);
  sg_release_all((sg_tensor *[]){x, r, s}, 3);
}

static void *other_thread(void *arg) {
  (void)arg;
  return (void *)(intptr_t)sg_anomaly_enabled();
}

static void mode_is_per_thread(void) {
  sg_set_detect_anomaly(true);
  pthread_t th;
  void *seen = (void *)1;
  CHECK(pthread_create(&th, NULL, other_thread, NULL) == 0);
  CHECK(pthread_join(th, &seen) == 0);
  CHECK(seen == NULL);
  CHECK(sg_anomaly_enabled());
  /* turning the mode off drops a pending anomaly */
  double v[] = {-1};
  sg_tensor *x = tt_from(SG_FLOAT32, v, 1, SHAPE(1));
  CHECK_OK(sg_set_requires_grad(x, true));
  sg_tensor *l = sg_log(x);
  CHECK(sg_set_detect_anomaly(false));
  CHECK_OK(sg_anomaly_check());
  sg_release_all((sg_tensor *[]){x, l}, 2);
}

int main(void) {
  RUN(off_by_default_and_silent);
  RUN(forward_nan_is_named);
  RUN(backward_nan_is_named);
  RUN(node_from_before_the_mode);
  RUN(mode_is_per_thread);
  return sg_test_finish();
}
