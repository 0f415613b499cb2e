/* Thread count: SGEN_NUM_THREADS at load, sg_set_num_threads after. */
#include <stdlib.h>

#include "harness.h"

static void env_sets_threads(void) {
  const char *v = getenv("SGEN_NUM_THREADS");
  CHECK(v != NULL); /* set by ctest for this program */
  if (v) CHECK(sg_get_num_threads() == atoi(v));
}

static void set_and_results_independent(void) {
  sg_tensor *a = tt_uniform(1, SG_FLOAT32, -1, 1, 2, SHAPE(512, 512));
  sg_set_num_threads(1);
  CHECK(sg_get_num_threads() == 1);
  sg_tensor *s1 = sg_sum(a, NULL, 0, false);
  sg_tensor *m1 = sg_matmul(a, a);
  sg_set_num_threads(2);
  CHECK(sg_get_num_threads() == 2);
  sg_tensor *s2 = sg_sum(a, NULL, 0, false);
  sg_tensor *m2 = sg_matmul(a, a);
  CHECK_CLOSE(s1, s2, 1e-6, 1e-6);
  CHECK_CLOSE(m1, m2, 1e-5, 1e-5);
  sg_set_num_threads(0); /* clamps to 1 */
  CHECK(sg_get_num_threads() == 1);
  sg_release_all((sg_tensor *[]){a, s1, m1, s2, m2}, 5);
}

int main(void) {
  RUN(env_sets_threads);
  RUN(set_and_results_independent);
  return sg_test_finish();
}
