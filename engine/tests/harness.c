/* Minimal C test harness (see harness.h). */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static int n_tests, n_failed_tests, n_checks_failed_in_test;

void sg_test_run(const char *name, void (*fn)(void)) {
  n_checks_failed_in_test = 0;
  sg_clear_error();
  fn();
  n_tests++;
  if (n_checks_failed_in_test) {
    n_failed_tests++;
    printf("FAIL %s\n", name);
  } else {
    printf("ok   %s\n", name);
  }
  fflush(stdout);
}

int sg_test_finish(void) {
  printf("%d passed, %d failed\n", n_tests - n_failed_tests, n_failed_tests);
  return n_failed_tests ? 1 : 0;
}

bool sg_test_check(bool ok, const char *expr, const char *file, int line) {
  if (!ok) {
    n_checks_failed_in_test++;
    printf("  %s:%d: check failed: %s\n", file, line, expr);
    if (sg_last_error()[0]) printf("    last sgen error: %s\n", sg_last_error());
  }
  return ok;
}

bool sg_test_check_ok(int status, const char *expr, const char *file, int line) {
  if (status != SG_OK) {
    n_checks_failed_in_test++;
    printf("  %s:%d: %s failed (status %d): %s\n", file, line, expr, status, sg_last_error());
    return false;
  }
  return true;
}

bool sg_test_check_near(double a, double b, double tol, const char *expr, const char *file,
                        int line) {
  if (!(fabs(a - b) <= tol)) {
    n_checks_failed_in_test++;
    printf("  %s:%d: %s: %.10g vs %.10g (tol %g)\n", file, line, expr, a, b, tol);
    return false;
  }
  return true;
}

bool sg_test_check_values(const sg_tensor *t, const double *expected, int64_t n, double atol,
                          double rtol, const char *expr, const char *file, int line) {
  if (!t) {
    n_checks_failed_in_test++;
    printf("  %s:%d: %s is NULL: %s\n", file, line, expr, sg_last_error());
    return false;
  }
  if (sg_numel(t) != n) {
    char buf[128];
    n_checks_failed_in_test++;
    printf("  %s:%d: %s has %lld elements (%s), expected %lld\n", file, line, expr,
           (long long)sg_numel(t), sg_shape_str(t, buf, sizeof buf), (long long)n);
    return false;
  }
  for (int64_t i = 0; i < n; i++) {
    double v = sg_get_flat(t, i);
    bool same_nan = isnan(v) && isnan(expected[i]);
    bool same_inf = isinf(v) && isinf(expected[i]) && (v > 0) == (expected[i] > 0);
    if (!same_nan && !same_inf && !(fabs(v - expected[i]) <= atol + rtol * fabs(expected[i]))) {
      n_checks_failed_in_test++;
      printf("  %s:%d: %s[%lld] = %.10g, expected %.10g\n", file, line, expr, (long long)i, v,
             expected[i]);
      return false;
    }
  }
  return true;
}

bool sg_test_check_close(const sg_tensor *t, const sg_tensor *u, double atol, double rtol,
                         const char *expr, const char *file, int line) {
  char a[128], b[128];
  if (!t || !u) {
    n_checks_failed_in_test++;
    printf("  %s:%d: %s: NULL tensor: %s\n", file, line, expr, sg_last_error());
    return false;
  }
  if (!sg_same_shape(t, u)) {
    n_checks_failed_in_test++;
    printf("  %s:%d: %s: shapes %s vs %s\n", file, line, expr, sg_shape_str(t, a, sizeof a),
           sg_shape_str(u, b, sizeof b));
    return false;
  }
  int64_t n = sg_numel(t), worst = -1;
  double worst_excess = 0;
  for (int64_t i = 0; i < n; i++) {
    double x = sg_get_flat(t, i), y = sg_get_flat(u, i);
    if (isnan(x) && isnan(y)) continue;
    double excess = fabs(x - y) - (atol + rtol * fabs(y));
    if (excess > worst_excess || (isnan(excess))) {
      worst_excess = isnan(excess) ? INFINITY : excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    n_checks_failed_in_test++;
    printf("  %s:%d: %s: element %lld: %.10g vs %.10g (atol %g, rtol %g)\n", file, line, expr,
           (long long)worst, sg_get_flat(t, worst), sg_get_flat(u, worst), atol, rtol);
    return false;
  }
  return true;
}

bool sg_test_check_error(bool failed, const char *needle, const char *expr, const char *file,
                         int line) {
  if (!failed) {
    n_checks_failed_in_test++;
    printf("  %s:%d: expected %s to fail\n", file, line, expr);
    return false;
  }
  if (needle && !strstr(sg_last_error(), needle)) {
    n_checks_failed_in_test++;
    printf("  %s:%d: %s failed with \"%s\", expected the message to contain \"%s\"\n", file,
           line, expr, sg_last_error(), needle);
    return false;
  }
  return true;
}

sg_tensor *tt_from(sg_dtype dt, const double *vals, int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  sg_tensor *d = sg_from_data(vals, &n, 1, SG_FLOAT64);
  if (!d) return NULL;
  sg_tensor *c = sg_to_dtype(d, dt);
  sg_release(d);
  if (!c) return NULL;
  sg_tensor *r = sg_reshape(c, shape, ndim);
  sg_release(c);
  return r;
}

sg_tensor *tt_wave(sg_dtype dt, int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  double *v = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
  if (!v) return NULL;
  for (int64_t i = 0; i < n; i++) v[i] = sin(0.37 * i) * 3 + cos(0.11 * i);
  sg_tensor *t = tt_from(dt, v, ndim, shape);
  free(v);
  return t;
}

bool tt_has_shape(const sg_tensor *t, int ndim, const int64_t *shape) {
  if (!t || t->ndim != ndim) return false;
  for (int d = 0; d < ndim; d++)
    if (t->shape[d] != shape[d]) return false;
  return true;
}

sg_tensor *tt_uniform(uint64_t seed, sg_dtype dt, double lo, double hi, int ndim,
                      const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
  uint64_t s = seed * 2654435761u + 1;
  for (int64_t i = 0; i < n; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    v[i] = lo + (hi - lo) * ((double)(s >> 11) / 9007199254740992.0);
  }
  sg_tensor *t = tt_from(dt, v, ndim, shape);
  free(v);
  return t;
}

sg_tensor *tt_param(uint64_t seed, double lo, double hi, int ndim, const int64_t *shape) {
  sg_tensor *t = tt_uniform(seed, SG_FLOAT64, lo, hi, ndim, shape);
  if (t) sg_set_requires_grad(t, true);
  return t;
}

sg_tensor_dict *tt_fixture(const char *name) {
  const char *dir = getenv("SGEN_FIXTURES");
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.safetensors", dir ? dir : "engine/tests/fixtures", name);
  sg_tensor_dict *d = calloc(1, sizeof *d);
  if (sg_safetensors_load(path, d) != SG_OK) {
    sg_test_check(false, path, __FILE__, __LINE__);
    free(d);
    return NULL;
  }
  return d;
}

sg_tensor *tt_fixture_get(sg_tensor_dict *d, const char *key) {
  for (int i = 0; d && i < d->n; i++)
    if (strcmp(d->names[i], key) == 0) return d->tensors[i];
  sg_test_check(false, key, __FILE__, __LINE__);
  return NULL;
}

void tt_fixture_free(sg_tensor_dict *d) {
  if (!d) return;
  sg_tensor_dict_free(d);
  free(d);
}
