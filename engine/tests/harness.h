/* Minimal C test harness: each test file's main() calls RUN(test) for each
 * test and returns sg_test_finish(). Failures print file:line and the
 * engine's last error message. */
#ifndef SG_TEST_HARNESS_H
#define SG_TEST_HARNESS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sgen/sgen.h"

void sg_test_run(const char *name, void (*fn)(void));
int sg_test_finish(void);
bool sg_test_check(bool ok, const char *expr, const char *file, int line);
bool sg_test_check_ok(int status, const char *expr, const char *file, int line);
bool sg_test_check_near(double a, double b, double tol, const char *expr, const char *file,
                        int line);
/* Every element of t within atol + rtol*|e| of expected[i] (row-major). */
bool sg_test_check_values(const sg_tensor *t, const double *expected, int64_t n, double atol,
                          double rtol, const char *expr, const char *file, int line);
/* t and u equal in shape and within tolerance elementwise. */
bool sg_test_check_close(const sg_tensor *t, const sg_tensor *u, double atol, double rtol,
                         const char *expr, const char *file, int line);
/* expr returned NULL / an error and the message contains `needle`. */
bool sg_test_check_error(bool failed, const char *needle, const char *expr, const char *file,
                         int line);

#define RUN(fn) sg_test_run(#fn, fn)
#define CHECK(c) sg_test_check((c), #c, __FILE__, __LINE__)
#define CHECK_OK(s) sg_test_check_ok((int)(s), #s, __FILE__, __LINE__)
#define CHECK_NEAR(a, b, tol) sg_test_check_near((a), (b), (tol), #a " ~ " #b, __FILE__, __LINE__)
#define CHECK_VALUES(t, exp, n, tol) \
  sg_test_check_values((t), (exp), (n), (tol), 0.0, #t, __FILE__, __LINE__)
#define CHECK_CLOSE(t, u, atol, rtol) \
  sg_test_check_close((t), (u), (atol), (rtol), #t " ~ " #u, __FILE__, __LINE__)
/* Checks that a pointer-returning call fails with a message containing needle. */
#define CHECK_FAILS(ptr_expr, needle)                                                \
  do {                                                                              \
    sg_clear_error();                                                               \
    sg_tensor *failing_ = (ptr_expr);                                               \
    sg_test_check_error(failing_ == NULL, (needle), #ptr_expr, __FILE__, __LINE__); \
    sg_release(failing_);                                                           \
  } while (0)
#define CHECK_STATUS_FAILS(status_expr, needle)                                               \
  do {                                                                                       \
    sg_clear_error();                                                                        \
    sg_test_check_error((status_expr) != SG_OK, (needle), #status_expr, __FILE__, __LINE__); \
  } while (0)

/* ---- tensor helpers ---- */
/* Tensor of dtype dt and shape from doubles. */
sg_tensor *tt_from(sg_dtype dt, const double *vals, int ndim, const int64_t *shape);
/* Deterministic pseudo-random values in [lo, hi) (independent of sg's RNG). */
sg_tensor *tt_uniform(uint64_t seed, sg_dtype dt, double lo, double hi, int ndim,
                      const int64_t *shape);
/* Same, marked requires_grad (for gradchecks: float64). */
sg_tensor *tt_param(uint64_t seed, double lo, double hi, int ndim, const int64_t *shape);
/* Smooth deterministic values x[i] = 3 sin(0.37 i) + cos(0.11 i) (distinct,
 * so no ties), of dtype dt and the given shape. */
sg_tensor *tt_wave(sg_dtype dt, int ndim, const int64_t *shape);
/* t is non-NULL and has exactly this shape. */
bool tt_has_shape(const sg_tensor *t, int ndim, const int64_t *shape);
#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})
#define NDIM(...) ((int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
#define VALS(...) ((const double[]){__VA_ARGS__})

/* Gradient checks with a clear failure message. */
#define CHECK_GRAD(f, ctx, ins, n) \
  sg_test_check_ok(sg_gradcheck((f), (ctx), (ins), (n), NULL), "gradcheck " #f, __FILE__, __LINE__)
#define CHECK_GRADGRAD(f, ctx, ins, n)                                                     \
  sg_test_check_ok(sg_gradgradcheck((f), (ctx), (ins), (n), NULL), "gradgradcheck " #f, \
                   __FILE__, __LINE__)
#define CHECK_GRAD_OPTS(f, ctx, ins, n, o) \
  sg_test_check_ok(sg_gradcheck((f), (ctx), (ins), (n), (o)), "gradcheck " #f, __FILE__, __LINE__)
#define CHECK_GRADGRAD_OPTS(f, ctx, ins, n, o)                                            \
  sg_test_check_ok(sg_gradgradcheck((f), (ctx), (ins), (n), (o)), "gradgradcheck " #f, \
                   __FILE__, __LINE__)

/* ---- PyTorch fixtures (engine/tests/fixtures, one .safetensors file each) ---- */
/* Loads fixture file `name` (without extension) from $SGEN_FIXTURES; NULL
 * (and a failed check) when missing. */
sg_tensor_dict *tt_fixture(const char *name);
/* The tensor called `key` in the fixture (borrowed), or NULL with a failed check. */
sg_tensor *tt_fixture_get(sg_tensor_dict *d, const char *key);
void tt_fixture_free(sg_tensor_dict *d);

#endif
