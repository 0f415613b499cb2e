/* Bad-input sweep: every public function declared in engine/include/sgen/ (all headers)
 * is called with bad arguments (NULL tensors, wrong dtypes, 0-dim / empty
 * tensors, wrong ndim, mismatched shapes, out-of-range dims and counts,
 * overflowing sizes, NaN parameters, out-of-range indices, autograd misuse,
 * bad paths) and must return NULL / a non-OK status with a non-empty message
 * naming the op: never crash, abort, hang or leak (run under ASan too). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

/* ---- checks ---- */
/* Pointer call must fail with a non-empty message containing needle. */
#define BAD(expr, needle)                                                          \
  do {                                                                             \
    sg_clear_error();                                                              \
    sg_tensor *bad_ = (expr);                                                      \
    if (sg_test_check_error(bad_ == NULL, (needle), #expr, __FILE__, __LINE__))    \
      sg_test_check(sg_last_error()[0] != '\0', "non-empty message: " #expr,       \
                    __FILE__, __LINE__);                                           \
    sg_release(bad_);                                                              \
  } while (0)
/* Status call must fail with a non-empty message containing needle. */
#define BADS(expr, needle)                                                         \
  do {                                                                             \
    sg_clear_error();                                                              \
    sg_status bads_ = (expr);                                                      \
    if (sg_test_check_error(bads_ != SG_OK, (needle), #expr, __FILE__, __LINE__))  \
      sg_test_check(sg_last_error()[0] != '\0', "non-empty message: " #expr,       \
                    __FILE__, __LINE__);                                           \
  } while (0)
/* Pointer call must succeed; the result is released. */
#define GOOD(expr)                                                                 \
  do {                                                                             \
    sg_clear_error();                                                              \
    sg_tensor *good_ = (expr);                                                     \
    sg_test_check(good_ != NULL, #expr " succeeds", __FILE__, __LINE__);           \
    sg_release(good_);                                                             \
  } while (0)
/* Pointer call must succeed with the given shape. */
#define GOOD_SHAPE(expr, nd, ...)                                                  \
  do {                                                                             \
    sg_clear_error();                                                              \
    sg_tensor *good_ = (expr);                                                     \
    if (sg_test_check(good_ != NULL, #expr " succeeds", __FILE__, __LINE__)) {     \
      const int64_t want_[] = {__VA_ARGS__};                                       \
      bool same_ = good_->ndim == (nd);                                            \
      for (int d_ = 0; same_ && d_ < (nd); d_++) same_ = good_->shape[d_] == want_[d_]; \
      sg_test_check(same_, #expr " has shape " #__VA_ARGS__, __FILE__, __LINE__);  \
    }                                                                              \
    sg_release(good_);                                                             \
  } while (0)
#define SCALAR_SHAPE 0, 0
/* Either outcome is acceptable (PyTorch accepts it too), but no crash, and a
 * failure carries a message. */
#define NOCRASH(expr)                                                              \
  do {                                                                             \
    sg_clear_error();                                                              \
    sg_tensor *nc_ = (expr);                                                       \
    sg_test_check(nc_ != NULL || sg_last_error()[0] != '\0', #expr " fails cleanly", \
                  __FILE__, __LINE__);                                             \
    sg_release(nc_);                                                               \
  } while (0)

#define CPU sg_cpu_device()
#define F32 SG_FLOAT32
#define F64 SG_FLOAT64
#define I64 SG_INT64

/* Temporaries made inside checks are kept here and released by fx_free. */
static sg_tensor *pool[512];
static int npool;
static sg_tensor *K(sg_tensor *t) {
  if (npool < 512) pool[npool++] = t;
  return t;
}
static sg_tensor *T(sg_dtype dt, int ndim, const int64_t *shape) {
  return K(tt_uniform(7, dt, 0.0, 1.0, ndim, shape));
}
static sg_tensor *TF(sg_dtype dt, const double *vals, int ndim, const int64_t *shape) {
  return K(tt_from(dt, vals, ndim, shape));
}

/* Shared fixtures, created per test and released at its end. */
static sg_tensor *f1, *f2, *f3, *f4, *i2, *b2, *u2, *s0, *e0, *e2;
static void fx_make(void) {
  f1 = T(F32, 1, SHAPE(4));
  f2 = T(F32, 2, SHAPE(3, 4));
  f3 = T(F32, 3, SHAPE(2, 3, 4));
  f4 = T(F32, 4, SHAPE(2, 3, 5, 5));
  i2 = tt_from(I64, VALS(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3), 2, SHAPE(3, 4));
  b2 = tt_from(SG_BOOL, VALS(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1), 2, SHAPE(3, 4));
  u2 = tt_from(SG_UINT8, VALS(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1), 2, SHAPE(3, 4));
  s0 = sg_scalar_tensor(2.0, F32, CPU);
  e0 = sg_empty(SHAPE(0), 1, F32, CPU);
  e2 = sg_empty(SHAPE(0, 4), 2, F32, CPU);
  npool = 0; /* the fixtures above are released by name in fx_free */
}
static void fx_free(void) {
  sg_tensor *all[] = {f1, f2, f3, f4, i2, b2, u2, s0, e0, e2};
  sg_release_all(all, 10);
  sg_release_all(pool, npool);
  npool = 0;
  f1 = f2 = f3 = f4 = i2 = b2 = u2 = s0 = e0 = e2 = NULL;
}

/* ================= tensor.h ================= */
static void test_tensor_api(void) {
  fx_make();
  const int64_t huge[] = {(int64_t)1 << 40, (int64_t)1 << 40};
  /* creation */
  BAD(sg_empty(NULL, 2, F32, CPU), "");
  BAD(sg_empty(SHAPE(2, -1), 2, F32, CPU), "");
  BAD(sg_empty(SHAPE(2), -1, F32, CPU), "");
  BAD(sg_empty(SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1), 9, F32, CPU), "");
  BAD(sg_empty(huge, 2, F32, CPU), "");
  BAD(sg_empty(SHAPE((int64_t)1 << 62), 1, F64, CPU), "");
  BAD(sg_empty(SHAPE(2), 1, (sg_dtype)99, CPU), "");
  BAD(sg_empty(SHAPE(2), 1, F32, ((sg_device){SG_CUDA, 0})), "");
  BAD(sg_zeros(huge, 2, F32, CPU), "");
  BAD(sg_full(huge, 2, 1.0, F32, CPU), "");
  BAD(sg_full(SHAPE(-3), 1, 1.0, F32, CPU), "");
  BAD(sg_scalar_tensor(1.0, (sg_dtype)-1, CPU), "");
  GOOD_SHAPE(sg_empty(SHAPE(0, 5), 2, F32, CPU), 2, 0, 5);
  GOOD_SHAPE(sg_zeros(NULL, 0, F32, CPU), 0, SCALAR_SHAPE);
  BAD(sg_empty_like(NULL), "");
  BAD(sg_zeros_like(NULL), "");
  BAD(sg_full_like(NULL, 1.0), "");
  BAD(sg_from_data(NULL, SHAPE(2), 1, F32), "");
  BAD(sg_from_data(VALS(1, 2), SHAPE(-2), 1, F64), "");
  BAD(sg_from_data(VALS(1, 2), huge, 2, F64), "");
  BAD(sg_arange(0, 1, 0, F32, CPU), "arange");
  BAD(sg_arange(0, 1, NAN, F32, CPU), "arange");
  BAD(sg_arange(0, INFINITY, 1, F32, CPU), "arange");
  BAD(sg_arange(NAN, 1, 1, F32, CPU), "arange");
  BAD(sg_arange(0, 1, 1e-30, F64, CPU), "arange");
  BAD(sg_arange(0, 1, -1, F32, CPU), "arange");
  BAD(sg_arange(0, 1, 1, SG_BOOL, CPU), "arange");
  GOOD_SHAPE(sg_arange(0, 0, 1, F32, CPU), 1, 0);
  BAD(sg_linspace(0, 1, -1, F32, CPU), "linspace");
  BAD(sg_linspace(0, 1, (int64_t)1 << 62, F32, CPU), "linspace");
  GOOD_SHAPE(sg_linspace(0, 1, 0, F32, CPU), 1, 0);
  BAD(sg_eye(-1, 2, F32, CPU), "eye");
  BAD(sg_eye(2, -5, F32, CPU), "eye");
  BAD(sg_eye((int64_t)1 << 40, (int64_t)1 << 40, F32, CPU), "eye");
  /* queries */
  CHECK(sg_numel(NULL) <= 0);
  double v = 0;
  BADS(sg_item(NULL, &v), "item");
  BADS(sg_item(f2, &v), "item");
  BADS(sg_item(e0, &v), "item");
  BADS(sg_item(s0, NULL), "item");
  sg_clear_error();
  CHECK(sg_wrap_dim("myop", 100, 2) == -1 && strstr(sg_last_error(), "myop"));
  CHECK(sg_wrap_dim("myop", -100, 2) == -1 && strstr(sg_last_error(), "myop"));
  CHECK(sg_wrap_dim("myop", 0, 0) == -1 || sg_wrap_dim("myop", 0, 0) == 0);
  CHECK(!sg_same_shape(NULL, f2));
  char buf[64];
  CHECK(sg_shape_str(NULL, buf, sizeof buf) != NULL);
  CHECK(sg_dims_str(NULL, 0, buf, sizeof buf) != NULL);
  CHECK(sg_dtype_name((sg_dtype)99) != NULL);
  sg_dtype dt;
  CHECK(sg_dtype_from_name("float17", &dt) == -1);
  CHECK(sg_dtype_from_name(NULL, &dt) == -1);
  CHECK(sg_dtype_from_name("float32", NULL) == -1);
  CHECK(sg_device_name((sg_device){(sg_device_type)7, 0}) != NULL);
  /* views */
  BAD(sg_view(NULL, SHAPE(12), 1), "view");
  BAD(sg_view(f2, SHAPE(5), 1), "view");
  BAD(sg_view(f2, SHAPE(-1, -1), 2), "view");
  BAD(sg_view(f2, NULL, 2), "view");
  BAD(sg_view(f2, huge, 2), "view");
  BAD(sg_view(f2, SHAPE(-2, 6), 2), "view");
  GOOD_SHAPE(sg_view(e2, SHAPE(4, 0), 2), 2, 4, 0);
  BAD(sg_reshape(NULL, SHAPE(12), 1), "reshape");
  BAD(sg_reshape(f2, SHAPE(7), 1), "reshape");
  BAD(sg_reshape(e2, SHAPE(-1, 0), 2), "reshape");
  BAD(sg_permute(NULL, (const int[]){1, 0}, 2), "permute");
  BAD(sg_permute(f2, (const int[]){0, 0}, 2), "permute");
  BAD(sg_permute(f2, (const int[]){0, 100}, 2), "permute");
  BAD(sg_permute(f2, (const int[]){0}, 1), "permute");
  BAD(sg_permute(f2, NULL, 2), "permute");
  BAD(sg_transpose(NULL, 0, 1), "transpose");
  BAD(sg_transpose(f2, 0, 100), "transpose");
  BAD(sg_transpose(f2, -100, 0), "transpose");
  BAD(sg_narrow(NULL, 0, 0, 1), "narrow");
  BAD(sg_narrow(f2, 100, 0, 1), "narrow");
  BAD(sg_narrow(f2, 0, 2, 5), "narrow");
  BAD(sg_narrow(f2, 0, -100, 1), "narrow");
  BAD(sg_narrow(f2, 0, 0, -1), "narrow");
  BAD(sg_narrow(f2, 0, INT64_MAX, 2), "narrow");
  BAD(sg_narrow(f2, 0, 1, INT64_MAX), "narrow");
  GOOD_SHAPE(sg_narrow(f2, 0, 3, 0), 2, 0, 4);
  BAD(sg_narrow(s0, 0, 0, 1), "narrow");
  BAD(sg_select(NULL, 0, 0), "select");
  BAD(sg_select(f2, 0, 3), "select");
  BAD(sg_select(f2, 0, -4), "select");
  BAD(sg_select(f2, 100, 0), "select");
  BAD(sg_select(s0, 0, 0), "select");
  BAD(sg_select(e2, 0, 0), "select");
  BAD(sg_expand(NULL, SHAPE(3, 4), 2), "expand");
  BAD(sg_expand(f2, SHAPE(3, 5), 2), "expand");
  BAD(sg_expand(f2, SHAPE(4), 1), "expand");
  BAD(sg_expand(f2, SHAPE(-1, 3, 4), 3), "expand");
  BAD(sg_expand(f2, NULL, 2), "expand");
  BAD(sg_expand(s0, SHAPE((int64_t)1 << 62, (int64_t)1 << 62), 2), "expand");
  BAD(sg_squeeze(NULL, 0), "squeeze");
  BAD(sg_squeeze(f2, 100), "squeeze");
  BAD(sg_squeeze(f2, -100), "squeeze");
  BAD(sg_unsqueeze(NULL, 0), "unsqueeze");
  BAD(sg_unsqueeze(f2, 100), "unsqueeze");
  BAD(sg_unsqueeze(f2, -100), "unsqueeze");
  {
    sg_tensor *x8 = sg_zeros(SHAPE(1, 1, 1, 1, 1, 1, 1, 1), 8, F32, CPU);
    BAD(sg_unsqueeze(x8, 0), "unsqueeze");
    sg_release(x8);
  }
  GOOD_SHAPE(sg_unsqueeze(s0, 0), 1, 1);
  BAD(sg_flatten(NULL, 0, -1), "flatten");
  BAD(sg_flatten(f3, 0, 100), "flatten");
  BAD(sg_flatten(f3, 2, 1), "flatten");
  BAD(sg_flatten(f3, -100, 1), "flatten");
  GOOD_SHAPE(sg_flatten(s0, 0, -1), 1, 1);
  /* copies */
  BAD(sg_contiguous(NULL), "contiguous");
  BAD(sg_clone(NULL), "clone");
  BAD(sg_to_dtype(NULL, F64), "");
  BAD(sg_to_dtype(f2, (sg_dtype)99), "");
  BAD(sg_to_device(NULL, CPU), "");
  BAD(sg_to_device(f2, ((sg_device){(sg_device_type)9, 0})), "");
  BAD(sg_detach(NULL), "detach");
  BADS(sg_copy_(NULL, f2), "copy");
  BADS(sg_copy_(f2, NULL), "copy");
  BADS(sg_copy_(f2, f3), "copy");
  CHECK_OK(sg_copy_(f2, f1)); /* 4 broadcasts to 3x4 */
  {
    /* copying into an expanded (overlapping) view is refused or well defined */
    sg_tensor *ex = sg_expand(f1, SHAPE(3, 4), 2);
    sg_clear_error();
    sg_status st = sg_copy_(ex, f2);
    CHECK(st == SG_OK || sg_last_error()[0] != '\0');
    sg_release(ex);
  }
  BADS(sg_fill_(NULL, 1.0), "fill");
  fx_free();
}

/* Queries and helpers of tensor.h that return plain values: defined results
 * on NULL / out-of-range arguments, no crash. */
static void test_tensor_queries(void) {
  fx_make();
  CHECK(sg_data_ptr(NULL) == NULL);
  CHECK(isnan(sg_get_flat(NULL, 0)));
  CHECK(isnan(sg_get_flat(f2, -1)));
  CHECK(isnan(sg_get_flat(f2, 12)));
  CHECK(isnan(sg_get_flat(e2, 0)));
  CHECK(!sg_get_flat(f2, 11) || true);
  CHECK(sg_is_contiguous(NULL) || !sg_is_contiguous(NULL));
  CHECK(sg_dtype_size((sg_dtype)99) == 0);
  CHECK(!sg_dtype_is_float((sg_dtype)99));
  sg_dtype pr = sg_promote_types((sg_dtype)99, F32);
  CHECK((unsigned)pr < SG_DTYPE_COUNT || pr == (sg_dtype)99);
  CHECK(!sg_needs_grad(NULL, 0));
  sg_release_all(NULL, 0);
  sg_release(NULL);
  CHECK(sg_retain(NULL) == NULL);
  fx_free();
}

/* ================= ops_elementwise.h ================= */
typedef sg_tensor *(*un_fn)(sg_tensor *);
typedef sg_tensor *(*bin_fn)(sg_tensor *, sg_tensor *);
typedef sg_tensor *(*sc_fn)(sg_tensor *, double);
typedef sg_tensor *(*rsc_fn)(double, sg_tensor *);

static void test_elementwise_api(void) {
  fx_make();
  static const struct { const char *name; un_fn f; } un[] = {
      {"neg", sg_neg},     {"abs", sg_abs},         {"sign", sg_sign},   {"exp", sg_exp},
      {"log", sg_log},     {"sqrt", sg_sqrt},       {"rsqrt", sg_rsqrt}, {"sin", sg_sin},
      {"cos", sg_cos},     {"tanh", sg_tanh},       {"sigmoid", sg_sigmoid},
      {"relu", sg_relu},   {"softplus", sg_softplus}};
  for (size_t i = 0; i < sizeof un / sizeof un[0]; i++) {
    BAD(un[i].f(NULL), un[i].name);
    GOOD_SHAPE(un[i].f(e2), 2, 0, 4);
    GOOD_SHAPE(un[i].f(s0), 0, SCALAR_SHAPE);
  }
  static const struct { const char *name; bin_fn f; } bin[] = {
      {"add", sg_add}, {"sub", sg_sub}, {"mul", sg_mul}, {"div", sg_div},
      {"pow", sg_pow}, {"maximum", sg_maximum}, {"minimum", sg_minimum},
      {"eq", sg_eq},   {"ne", sg_ne},   {"lt", sg_lt},   {"le", sg_le},
      {"gt", sg_gt},   {"ge", sg_ge}};
  for (size_t i = 0; i < sizeof bin / sizeof bin[0]; i++) {
    BAD(bin[i].f(NULL, f2), bin[i].name);
    BAD(bin[i].f(f2, NULL), bin[i].name);
      BAD(bin[i].f(f2, T(F32, 1, SHAPE(5))), bin[i].name);
    GOOD_SHAPE(bin[i].f(e2, f1), 2, 0, 4);
    GOOD_SHAPE(bin[i].f(s0, f2), 2, 3, 4);
  }
  static const struct { const char *name; sc_fn f; } sc[] = {
      {"add", sg_add_scalar}, {"sub", sg_sub_scalar}, {"mul", sg_mul_scalar},
      {"div", sg_div_scalar}, {"pow", sg_pow_scalar}, {"leaky_relu", sg_leaky_relu}};
  for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) BAD(sc[i].f(NULL, 2.0), sc[i].name);
  static const struct { const char *name; rsc_fn f; } rsc[] = {
      {"sub", sg_rsub_scalar}, {"div", sg_rdiv_scalar}, {"pow", sg_rpow_scalar}};
  for (size_t i = 0; i < sizeof rsc / sizeof rsc[0]; i++) BAD(rsc[i].f(2.0, NULL), rsc[i].name);
  BAD(sg_unary((sg_unary_op)SG_UNARY_COUNT, f2), "");
  BAD(sg_unary((sg_unary_op)-1, f2), "");
  BAD(sg_unary(SG_EXP, NULL), "exp");
  BAD(sg_binary((sg_binary_op)SG_BINARY_COUNT, f2, f2), "");
  BAD(sg_binary((sg_binary_op)-1, f2, f2), "");
  BAD(sg_binary(SG_ADD, NULL, f2), "add");
  BAD(sg_cmp_scalar(SG_ADD, f2, 1.0), "");
  BAD(sg_cmp_scalar((sg_binary_op)99, f2, 1.0), "");
  BAD(sg_cmp_scalar(SG_LT, NULL, 1.0), "");
  /* float-only math on bool: must not crash (error or promote) */
  {
    sg_clear_error();
    sg_tensor *r = sg_exp(b2);
    CHECK(r != NULL || sg_last_error()[0] != '\0');
    sg_release(r);
    r = sg_sub(b2, b2); /* PyTorch refuses bool subtraction */
    CHECK(r == NULL && sg_last_error()[0] != '\0');
    sg_release(r);
    r = sg_neg(b2); /* PyTorch refuses bool negation */
    CHECK(r == NULL && sg_last_error()[0] != '\0');
    sg_release(r);
  }
  BAD(sg_where(NULL, f2, f2), "where");
  BAD(sg_where(b2, NULL, f2), "where");
  BAD(sg_where(b2, f2, NULL), "where");
  BAD(sg_where(b2, f2, T(F32, 1, SHAPE(5))), "where");
  BAD(sg_where(T(SG_BOOL, 1, SHAPE(7)), f2, f2), "where");
  BAD(sg_clamp(NULL, 0, 1), "clamp");
  GOOD(sg_clamp(f2, NAN, NAN));
  NOCRASH(sg_clamp(b2, 0, 1));
  BAD(sg_masked_fill(NULL, b2, 0), "masked_fill");
  BAD(sg_masked_fill(f2, NULL, 0), "masked_fill");
  BAD(sg_masked_fill(f2, T(SG_BOOL, 1, SHAPE(5)), 0), "masked_fill");
  BAD(sg_masked_fill(f2, f2 /* float mask */, 0), "masked_fill");
  BAD(sg_masked_fill(f1, b2 /* mask larger than x */, 0), "masked_fill");
  fx_free();
}

/* ================= ops_reduce.h ================= */
typedef sg_tensor *(*red_fn)(sg_tensor *, const int *, int, bool);
static sg_tensor *var1(sg_tensor *x, const int *d, int n, bool k) { return sg_var(x, d, n, 1, k); }
static sg_tensor *std1(sg_tensor *x, const int *d, int n, bool k) { return sg_std(x, d, n, 1, k); }
static sg_tensor *norm2(sg_tensor *x, const int *d, int n, bool k) { return sg_norm(x, 2, d, n, k); }

static void test_reduce_api(void) {
  fx_make();
  static const struct { const char *name; red_fn f; } red[] = {
      {"sum", sg_sum}, {"mean", sg_mean}, {"var", var1}, {"std", std1},
      {"norm", norm2}, {"logsumexp", sg_logsumexp}};
  for (size_t i = 0; i < sizeof red / sizeof red[0]; i++) {
    const char *n = red[i].name;
    BAD(red[i].f(NULL, NULL, 0, false), n);
    BAD(red[i].f(f2, (const int[]){100}, 1, false), n);
    BAD(red[i].f(f2, (const int[]){-100}, 1, false), n);
    BAD(red[i].f(f2, (const int[]){0, 0}, 2, false), n);
    BAD(red[i].f(f2, NULL, 1, false), n);
    BAD(red[i].f(f2, (const int[]){0}, -1, false), n);
    BAD(red[i].f(f2, (const int[]){0, 1, 0, 1, 0, 1, 0, 1, 0}, 9, false), n);
    GOOD_SHAPE(red[i].f(s0, NULL, 0, false), 0, SCALAR_SHAPE);
    GOOD_SHAPE(red[i].f(e2, (const int[]){0}, 1, false), 1, 4);
  }
  GOOD_SHAPE(sg_sum(b2, NULL, 0, false), 0, SCALAR_SHAPE);
  BAD(sg_mean(i2, NULL, 0, false), "mean");
  BAD(sg_var(i2, NULL, 0, 1, false), "var");
  NOCRASH(sg_var(f2, NULL, 0, -1, false));
  NOCRASH(sg_norm(f2, NAN, NULL, 0, false));
  sg_tensor *v = NULL, *ix = NULL;
  BADS(sg_max_dim(NULL, 0, false, &v, &ix), "max");
  BADS(sg_max_dim(f2, 100, false, &v, &ix), "max");
  BADS(sg_max_dim(e2, 0, false, &v, &ix), "max");
  BADS(sg_max_dim(f2, 0, false, NULL, NULL), "max");
  BADS(sg_min_dim(NULL, 0, false, &v, &ix), "min");
  BADS(sg_min_dim(f2, -100, false, &v, &ix), "min");
  BADS(sg_min_dim(e2, 0, false, &v, &ix), "min");
  CHECK(v == NULL && ix == NULL);
  BAD(sg_max_all(NULL), "max");
  BAD(sg_max_all(e2), "max");
  BAD(sg_min_all(NULL), "min");
  BAD(sg_min_all(e0), "min");
  BAD(sg_argmax(NULL, 0, false), "argmax");
  BAD(sg_argmax(f2, 100, false), "argmax");
  BAD(sg_argmax(e2, SG_ALL_DIMS, false), "argmax");
  BAD(sg_argmin(NULL, 0, false), "argmin");
  BAD(sg_argmin(f2, -100, false), "argmin");
  BAD(sg_argmin(e0, 0, false), "argmin");
  BAD(sg_sum_to_shape(NULL, SHAPE(4), 1), "sum_to_shape");
  BAD(sg_sum_to_shape(f2, SHAPE(5), 1), "sum_to_shape");
  BAD(sg_sum_to_shape(f2, SHAPE(2, 3, 4), 3), "sum_to_shape");
  BAD(sg_sum_to_shape(f2, NULL, 1), "sum_to_shape");
  fx_free();
}

/* ================= ops_linalg.h ================= */
static void test_linalg_api(void) {
  fx_make();
  static const struct { const char *name; bin_fn f; } bin[] = {
      {"matmul", sg_matmul}, {"mm", sg_mm}, {"bmm", sg_bmm}, {"outer", sg_outer},
      {"solve", sg_solve}};
  for (size_t i = 0; i < sizeof bin / sizeof bin[0]; i++) {
    BAD(bin[i].f(NULL, f2), bin[i].name);
    BAD(bin[i].f(f2, NULL), bin[i].name);
    BAD(bin[i].f(i2, i2), bin[i].name);
  }
  sg_tensor *f5 = T(F32, 1, SHAPE(5));
  BAD(sg_matmul(f3, f5), "matmul");
  BAD(sg_matmul(f2, f2), "matmul");
  BAD(sg_matmul(s0, f2), "matmul");
  BAD(sg_matmul(f2, s0), "matmul");
  BAD(sg_matmul(f2, T(F64, 2, SHAPE(4, 2))), "matmul");
  GOOD_SHAPE(sg_matmul(e2, T(F32, 2, SHAPE(4, 2))), 2, 0, 2);
  GOOD_SHAPE(sg_matmul(T(F32, 2, SHAPE(2, 0)), T(F32, 2, SHAPE(0, 3))), 2, 2, 3);
  BAD(sg_mm(f3, f2), "mm");
  BAD(sg_mm(f2, f2), "mm");
  BAD(sg_mm(f1, f2), "mm");
  BAD(sg_bmm(f2, f2), "bmm");
  BAD(sg_bmm(f3, f3), "bmm");
  BAD(sg_bmm(f3, T(F32, 3, SHAPE(3, 4, 2))), "bmm");
  BAD(sg_outer(f2, f1), "outer");
  BAD(sg_outer(s0, f1), "outer");
  BAD(sg_linear(NULL, f2, NULL), "linear");
  BAD(sg_linear(f2, NULL, NULL), "linear");
  GOOD_SHAPE(sg_linear(f2, f2, NULL), 2, 3, 3);
  BAD(sg_linear(f2, f2, f5), "linear");
  BAD(sg_linear(f2, T(F32, 2, SHAPE(3, 5)), NULL), "linear");
  BAD(sg_linear(f2, f1, NULL), "linear");
  BAD(sg_linear(s0, f2, NULL), "linear");
  BAD(sg_cholesky(NULL, false), "cholesky");
  BAD(sg_cholesky(f2, false), "cholesky");
  BAD(sg_cholesky(f1, false), "cholesky");
  BAD(sg_cholesky(i2, false), "cholesky");
  BAD(sg_cholesky(TF(F64, VALS(-1, 0, 0, -1), 2, SHAPE(2, 2)), false), "cholesky");
  BAD(sg_logdet(NULL), "logdet");
  BAD(sg_logdet(f2), "logdet");
  BAD(sg_logdet(s0), "logdet");
  BAD(sg_inv(NULL), "inv");
  BAD(sg_inv(f2), "inv");
  BAD(sg_inv(f1), "inv");
  BAD(sg_inv(TF(F64, VALS(0, 0, 0, 0), 2, SHAPE(2, 2))), "inv");
  {
    sg_tensor *a = T(F32, 2, SHAPE(3, 3));
    BAD(sg_solve(a, f1), "solve");
    BAD(sg_solve(f2, f2), "solve");
    BAD(sg_solve(a, T(F32, 2, SHAPE(4, 2))), "solve");
  }
  fx_free();
}

/* ================= ops_nn.h: convolution ================= */
static void test_conv_api(void) {
  fx_make();
  sg_tensor *w = T(F32, 4, SHAPE(4, 3, 3, 3));
  sg_tensor *b = T(F32, 1, SHAPE(4));
  sg_conv_opts o = {0};
  BAD(sg_conv2d(NULL, w, NULL, &o), "conv2d");
  BAD(sg_conv2d(f4, NULL, NULL, &o), "conv2d");
  GOOD_SHAPE(sg_conv2d(f4, w, NULL, &o), 4, 2, 4, 3, 3);
  GOOD_SHAPE(sg_conv2d(f4, w, b, NULL), 4, 2, 4, 3, 3);
  BAD(sg_conv2d(f2, w, NULL, &o), "conv2d");
  BAD(sg_conv2d(f4, f2, NULL, &o), "conv2d");
  BAD(sg_conv2d(f4, w, f2, &o), "conv2d");
  BAD(sg_conv2d(f4, w, T(F32, 1, SHAPE(5)), &o), "conv2d");
  BAD(sg_conv2d(f4, T(F32, 4, SHAPE(4, 2, 3, 3)), NULL, &o), "conv2d");
  BAD(sg_conv2d(T(I64, 4, SHAPE(2, 3, 5, 5)), T(I64, 4, SHAPE(4, 3, 3, 3)), NULL, &o), "conv2d");
  BAD(sg_conv2d(f4, T(F64, 4, SHAPE(4, 3, 3, 3)), NULL, &o), "conv2d");
  BAD(sg_conv2d(f4, T(F32, 4, SHAPE(4, 3, 7, 7)), NULL, &o), "conv2d"); /* kernel > input */
  BAD(sg_conv2d(f4, T(F32, 4, SHAPE(4, 3, 0, 3)), NULL, &o), "conv2d");
  BAD(sg_conv2d(f4, w, NULL, &((sg_conv_opts){.stride = {-1, 1}})), "conv2d");
  BAD(sg_conv2d(f4, w, NULL, &((sg_conv_opts){.padding = {-1, 0}})), "conv2d");
  BAD(sg_conv2d(f4, w, NULL, &((sg_conv_opts){.dilation = {-2, 1}})), "conv2d");
  BAD(sg_conv2d(f4, w, NULL, &((sg_conv_opts){.groups = -1})), "conv2d");
  BAD(sg_conv2d(f4, w, NULL, &((sg_conv_opts){.groups = 2})), "conv2d");
  BAD(sg_conv2d(f4, w, NULL, &((sg_conv_opts){.padding = {1 << 30, 1 << 30}})), "conv2d");
  GOOD_SHAPE(sg_conv2d(f4, w, NULL, &((sg_conv_opts){.dilation = {0, 0}})), 4, 2, 4, 3, 3);
  GOOD_SHAPE(sg_conv2d(T(F32, 4, SHAPE(0, 3, 5, 5)), w, NULL, &o), 4, 0, 4, 3, 3);
  /* transposed */
  sg_tensor *wt = T(F32, 4, SHAPE(3, 4, 3, 3));
  BAD(sg_conv_transpose2d(NULL, wt, NULL, &o), "conv_transpose2d");
  BAD(sg_conv_transpose2d(f4, NULL, NULL, &o), "conv_transpose2d");
  GOOD_SHAPE(sg_conv_transpose2d(f4, wt, NULL, &o), 4, 2, 4, 7, 7);
  BAD(sg_conv_transpose2d(f3, wt, NULL, &o), "conv_transpose2d");
  BAD(sg_conv_transpose2d(f4, w, NULL, &o), "conv_transpose2d");
  BAD(sg_conv_transpose2d(f4, wt, T(F32, 1, SHAPE(3)), &o), "conv_transpose2d");
  BAD(sg_conv_transpose2d(f4, wt, NULL, &((sg_conv_opts){.stride = {-1, -1}})), "conv_transpose2d");
  BAD(sg_conv_transpose2d(f4, wt, NULL, &((sg_conv_opts){.output_padding = {1, 1}})),
      "conv_transpose2d"); /* output_padding must be < stride (1) */
  BAD(sg_conv_transpose2d(f4, wt, NULL, &((sg_conv_opts){.groups = 2})), "conv_transpose2d");
  BAD(sg_conv_transpose2d(f4, wt, NULL, &((sg_conv_opts){.padding = {9, 9}})), "conv_transpose2d");
  BAD(sg_conv_transpose2d(f4, wt, NULL, &((sg_conv_opts){.stride = {1 << 30, 1 << 30}})),
      "conv_transpose2d");
  /* conv2d_weight */
  sg_tensor *go = T(F32, 4, SHAPE(2, 4, 3, 3));
  GOOD_SHAPE(sg_conv2d_weight(f4, go, SHAPE(4, 3, 3, 3), &o), 4, 4, 3, 3, 3);
  BAD(sg_conv2d_weight(NULL, go, SHAPE(4, 3, 3, 3), &o), "conv2d_weight");
  BAD(sg_conv2d_weight(f4, NULL, SHAPE(4, 3, 3, 3), &o), "conv2d_weight");
  BAD(sg_conv2d_weight(f4, go, NULL, &o), "conv2d_weight");
  BAD(sg_conv2d_weight(f4, go, SHAPE(4, 3, 2, 2), &o), "conv2d_weight");
  BAD(sg_conv2d_weight(f4, go, SHAPE(4, 3, -3, 3), &o), "conv2d_weight");
  BAD(sg_conv2d_weight(f4, go, SHAPE(5, 3, 3, 3), &o), "conv2d_weight");
  BAD(sg_conv2d_weight(f3, go, SHAPE(4, 3, 3, 3), &o), "conv2d_weight");
  /* unfold / fold */
  sg_unfold_opts u = {.kernel = {2, 2}};
  GOOD_SHAPE(sg_unfold(f4, &u), 3, 2, 12, 16);
  BAD(sg_unfold(NULL, &u), "unfold");
  BAD(sg_unfold(f4, NULL), "unfold");
  BAD(sg_unfold(f2, &u), "unfold");
  BAD(sg_unfold(f4, &((sg_unfold_opts){.kernel = {0, 2}})), "unfold");
  BAD(sg_unfold(f4, &((sg_unfold_opts){.kernel = {-2, 2}})), "unfold");
  BAD(sg_unfold(f4, &((sg_unfold_opts){.kernel = {9, 9}})), "unfold");
  BAD(sg_unfold(f4, &((sg_unfold_opts){.kernel = {2, 2}, .stride = {-1, 1}})), "unfold");
  BAD(sg_unfold(f4, &((sg_unfold_opts){.kernel = {2, 2}, .padding = {-1, 0}})), "unfold");
  BAD(sg_unfold(f4, &((sg_unfold_opts){.kernel = {2, 2}, .dilation = {-1, 1}})), "unfold");
  BAD(sg_unfold(f4, &((sg_unfold_opts){.kernel = {1 << 30, 1 << 30}, .dilation = {1 << 30, 1}})),
      "unfold");
  GOOD_SHAPE(sg_unfold(f4, &((sg_unfold_opts){.kernel = {2, 2}, .dilation = {0, 0}})), 3, 2, 12, 16);
  BAD(sg_unfold(f4, &((sg_unfold_opts){.kernel = {2, 2}, .padding = {1 << 30, 1 << 30}})),
      "unfold");
  sg_tensor *cols = T(F32, 3, SHAPE(2, 12, 16));
  GOOD_SHAPE(sg_fold(cols, 5, 5, &u), 4, 2, 3, 5, 5);
  BAD(sg_fold(NULL, 5, 5, &u), "fold");
  BAD(sg_fold(cols, 5, 5, NULL), "fold");
  BAD(sg_fold(cols, 6, 5, &u), "fold");
  BAD(sg_fold(cols, -5, 5, &u), "fold");
  BAD(sg_fold(cols, (int64_t)1 << 40, (int64_t)1 << 40, &u), "fold");
  BAD(sg_fold(T(F32, 3, SHAPE(2, 11, 16)), 5, 5, &u), "fold");
  BAD(sg_fold(f4, 5, 5, &u), "fold");
  BAD(sg_fold(cols, 5, 5, &((sg_unfold_opts){.kernel = {0, 0}})), "fold");
  fx_free();
}

/* ================= ops_nn.h: normalization ================= */
static void test_norm_api(void) {
  fx_make();
  sg_tensor *rm = sg_zeros(SHAPE(3), 1, F32, CPU), *rv = sg_full(SHAPE(3), 1, 1.0, F32, CPU);
  sg_tensor *g = T(F32, 1, SHAPE(3)), *bb = T(F32, 1, SHAPE(3)), *g5 = T(F32, 1, SHAPE(5));
  GOOD_SHAPE(sg_batch_norm(f4, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), 4, 2, 3, 5, 5);
  GOOD_SHAPE(sg_batch_norm(f4, rm, rv, g, bb, true, 0.1, 1e-5), 4, 2, 3, 5, 5);
  GOOD_SHAPE(sg_batch_norm(f2 /* N x C, C = 4 */, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), 2,
             3, 4);
  BAD(sg_batch_norm(NULL, rm, rv, g, bb, true, 0.1, 1e-5), "batch_norm");
  BAD(sg_batch_norm(f4, NULL, NULL, NULL, NULL, false, 0.1, 1e-5), "batch_norm");
  BAD(sg_batch_norm(f4, rm, NULL, NULL, NULL, false, 0.1, 1e-5), "batch_norm");
  BAD(sg_batch_norm(f4, g5, rv, NULL, NULL, true, 0.1, 1e-5), "batch_norm");
  BAD(sg_batch_norm(f4, rm, g5, NULL, NULL, true, 0.1, 1e-5), "batch_norm");
  BAD(sg_batch_norm(f4, rm, rv, g5, NULL, true, 0.1, 1e-5), "batch_norm");
  BAD(sg_batch_norm(f4, rm, rv, g, g5, true, 0.1, 1e-5), "batch_norm");
  BAD(sg_batch_norm(f1, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), "batch_norm");
  BAD(sg_batch_norm(s0, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), "batch_norm");
  BAD(sg_batch_norm(T(F32, 4, SHAPE(1, 3, 1, 1)), NULL, NULL, NULL, NULL, true, 0.1, 1e-5),
      "batch_norm"); /* one value per channel in training */
  BAD(sg_batch_norm(T(I64, 4, SHAPE(2, 3, 5, 5)), NULL, NULL, NULL, NULL, true, 0.1, 1e-5),
      "batch_norm");
  NOCRASH(sg_batch_norm(f4, rm, rv, g, bb, true, NAN, 1e-5));
  BAD(sg_batch_norm(f4, rm, rv, g, bb, true, 0.1, NAN), "batch_norm");
  NOCRASH(sg_batch_norm(f4, rm, rv, g, bb, true, 0.1, -1.0));
  NOCRASH(sg_batch_norm(f4, rm, rv, g, bb, true, INFINITY, 1e-5));
  BAD(sg_instance_norm(NULL, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), "instance_norm");
  GOOD_SHAPE(sg_instance_norm(f4, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), 4, 2, 3, 5, 5);
  BAD(sg_instance_norm(f4, NULL, NULL, g5, NULL, true, 0.1, 1e-5), "instance_norm");
  BAD(sg_instance_norm(f4, g5, rv, NULL, NULL, true, 0.1, 1e-5), "instance_norm");
  BAD(sg_instance_norm(f4, NULL, NULL, NULL, NULL, false, 0.1, 1e-5), "instance_norm");
  BAD(sg_instance_norm(f1, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), "instance_norm");
  BAD(sg_instance_norm(T(F32, 4, SHAPE(2, 3, 1, 1)), NULL, NULL, NULL, NULL, true, 0.1, 1e-5),
      "instance_norm");
  BAD(sg_instance_norm(f4, NULL, NULL, NULL, NULL, true, 0.1, NAN), "instance_norm");
  GOOD_SHAPE(sg_layer_norm(f2, SHAPE(4), 1, NULL, NULL, 1e-5), 2, 3, 4);
  BAD(sg_layer_norm(NULL, SHAPE(4), 1, NULL, NULL, 1e-5), "layer_norm");
  BAD(sg_layer_norm(f2, SHAPE(5), 1, NULL, NULL, 1e-5), "layer_norm");
  BAD(sg_layer_norm(f2, SHAPE(2, 3, 4), 3, NULL, NULL, 1e-5), "layer_norm");
  BAD(sg_layer_norm(f2, NULL, 1, NULL, NULL, 1e-5), "layer_norm");
  BAD(sg_layer_norm(f2, SHAPE(4), 0, NULL, NULL, 1e-5), "layer_norm");
  BAD(sg_layer_norm(f2, SHAPE(4), -1, NULL, NULL, 1e-5), "layer_norm");
  BAD(sg_layer_norm(f2, SHAPE(4), 1, g, NULL, 1e-5), "layer_norm");
  BAD(sg_layer_norm(f2, SHAPE(4), 1, NULL, g, 1e-5), "layer_norm");
  BAD(sg_layer_norm(i2, SHAPE(4), 1, NULL, NULL, 1e-5), "layer_norm");
  BAD(sg_layer_norm(f2, SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1), 9, NULL, NULL, 1e-5), "layer_norm");
  BAD(sg_batch_norm(f4, TF(I64, VALS(0, 0, 0), 1, SHAPE(3)), rv, NULL, NULL, true, 0.1, 1e-5),
      "batch_norm");
  BAD(sg_layer_norm(f2, SHAPE(4), 1, NULL, NULL, NAN), "layer_norm");
  NOCRASH(sg_layer_norm(f2, SHAPE(4), 1, NULL, NULL, -1.0));
  GOOD_SHAPE(sg_layer_norm(e2, SHAPE(4), 1, NULL, NULL, 1e-5), 2, 0, 4);
  sg_release(rm);
  sg_release(rv);
  fx_free();
}

/* ================= ops_nn.h: pooling ================= */
static void test_pool_api(void) {
  fx_make();
  sg_pool_opts o = {.kernel = {2, 2}};
  sg_tensor *ix = NULL;
  GOOD_SHAPE(sg_max_pool2d(f4, &o, NULL), 4, 2, 3, 2, 2);
  GOOD_SHAPE(sg_max_pool2d(T(F32, 3, SHAPE(3, 5, 5)), &o, NULL), 3, 3, 2, 2);
  BAD(sg_max_pool2d(NULL, &o, &ix), "max_pool2d");
  BAD(sg_max_pool2d(f4, NULL, &ix), "max_pool2d");
  BAD(sg_max_pool2d(f2, &o, &ix), "max_pool2d");
  BAD(sg_max_pool2d(i2, &o, &ix), "max_pool2d");
  BAD(sg_max_pool2d(f4, &((sg_pool_opts){.kernel = {0, 2}}), &ix), "max_pool2d");
  BAD(sg_max_pool2d(f4, &((sg_pool_opts){.kernel = {-2, 2}}), &ix), "max_pool2d");
  BAD(sg_max_pool2d(f4, &((sg_pool_opts){.kernel = {2, 2}, .stride = {-1, 1}}), &ix),
      "max_pool2d");
  BAD(sg_max_pool2d(f4, &((sg_pool_opts){.kernel = {2, 2}, .padding = {2, 0}}), &ix),
      "max_pool2d"); /* pad > kernel/2 */
  BAD(sg_max_pool2d(f4, &((sg_pool_opts){.kernel = {2, 2}, .padding = {-1, 0}}), &ix),
      "max_pool2d");
  BAD(sg_max_pool2d(f4, &((sg_pool_opts){.kernel = {2, 2}, .dilation = {-1, 1}}), &ix),
      "max_pool2d");
  BAD(sg_max_pool2d(f4, &((sg_pool_opts){.kernel = {9, 9}}), &ix), "max_pool2d");
  BAD(sg_max_pool2d(f4, &((sg_pool_opts){.kernel = {1 << 30, 1 << 30}, .dilation = {1 << 30, 1}}),
                    &ix), "max_pool2d");
  BAD(sg_avg_pool2d(f4, &((sg_pool_opts){.kernel = {1 << 30, 1 << 30}})), "avg_pool2d");
  NOCRASH(sg_avg_pool2d(f4, &((sg_pool_opts){.kernel = {2, 2}, .stride = {1 << 30, 1 << 30},
                                             .padding = {1, 1}, .ceil_mode = true})));
  CHECK(ix == NULL);
  GOOD_SHAPE(sg_max_pool2d(f4, &((sg_pool_opts){.kernel = {2, 2}, .dilation = {0, 0}}), NULL), 4,
             2, 3, 2, 2);
  BAD(sg_max_pool2d(T(F32, 4, SHAPE(2, 3, 0, 5)), &o, NULL), "max_pool2d");
  GOOD_SHAPE(sg_avg_pool2d(f4, &o), 4, 2, 3, 2, 2);
  BAD(sg_avg_pool2d(NULL, &o), "avg_pool2d");
  BAD(sg_avg_pool2d(f4, NULL), "avg_pool2d");
  BAD(sg_avg_pool2d(f1, &o), "avg_pool2d");
  BAD(sg_avg_pool2d(i2, &o), "avg_pool2d");
  BAD(sg_avg_pool2d(f4, &((sg_pool_opts){.kernel = {0, 0}})), "avg_pool2d");
  BAD(sg_avg_pool2d(f4, &((sg_pool_opts){.kernel = {2, 2}, .stride = {-2, 2}})), "avg_pool2d");
  BAD(sg_avg_pool2d(f4, &((sg_pool_opts){.kernel = {2, 2}, .padding = {3, 3}})), "avg_pool2d");
  BAD(sg_avg_pool2d(f4, &((sg_pool_opts){.kernel = {7, 7}})), "avg_pool2d");
  GOOD_SHAPE(sg_adaptive_avg_pool2d(f4, 2, 3), 4, 2, 3, 2, 3);
  BAD(sg_adaptive_avg_pool2d(NULL, 2, 2), "adaptive_avg_pool2d");
  BAD(sg_adaptive_avg_pool2d(f2, 2, 2), "adaptive_avg_pool2d");
  BAD(sg_adaptive_avg_pool2d(f4, 0, 2), "adaptive_avg_pool2d");
  BAD(sg_adaptive_avg_pool2d(f4, -1, 2), "adaptive_avg_pool2d");
  BAD(sg_adaptive_avg_pool2d(f4, (int64_t)1 << 40, (int64_t)1 << 40), "adaptive_avg_pool2d");
  BAD(sg_adaptive_avg_pool2d(i2, 1, 1), "adaptive_avg_pool2d");
  NOCRASH(sg_adaptive_avg_pool2d(T(F32, 4, SHAPE(2, 3, 0, 5)), 1, 1));
  fx_free();
}

/* ================= ops_nn.h: interpolate, pad, pixel_shuffle ================= */
static void test_resample_api(void) {
  fx_make();
  GOOD_SHAPE(sg_interpolate(f4, 10, 10, SG_INTERP_BILINEAR, false, 0, 0), 4, 2, 3, 10, 10);
  BAD(sg_interpolate(NULL, 4, 4, SG_INTERP_NEAREST, false, 0, 0), "interpolate");
  BAD(sg_interpolate(f2, 4, 4, SG_INTERP_NEAREST, false, 0, 0), "interpolate");
  BAD(sg_interpolate(i2, 4, 4, SG_INTERP_NEAREST, false, 0, 0), "interpolate");
  BAD(sg_interpolate(f4, 0, 4, SG_INTERP_NEAREST, false, 0, 0), "interpolate");
  BAD(sg_interpolate(f4, -4, 4, SG_INTERP_NEAREST, false, 0, 0), "interpolate");
  BAD(sg_interpolate(f4, (int64_t)1 << 40, (int64_t)1 << 40, SG_INTERP_NEAREST, false, 0, 0),
      "interpolate");
  BAD(sg_interpolate(f4, 4, 4, (sg_interp_mode)7, false, 0, 0), "interpolate");
  BAD(sg_interpolate(f4, 4, 4, SG_INTERP_NEAREST, false, -2, 0), "interpolate");
  BAD(sg_interpolate(f4, 4, 4, SG_INTERP_NEAREST, false, NAN, NAN), "interpolate");
  BAD(sg_interpolate(f4, 0, 0, SG_INTERP_NEAREST, false, 1e300, 1e300), "interpolate");
  BAD(sg_interpolate(f4, 4, 4, SG_INTERP_NEAREST, true, 0, 0), "interpolate");
  BAD(sg_interpolate(f4, 4, 4, SG_INTERP_BILINEAR, false, INFINITY, 1), "interpolate");
  BAD(sg_interpolate(T(F32, 4, SHAPE(2, 3, 0, 5)), 4, 4, SG_INTERP_BILINEAR, false, 0, 0),
      "interpolate");
  GOOD_SHAPE(sg_pad(f2, (const int64_t[]){1, 1}, 2, SG_PAD_CONSTANT, 0), 2, 3, 6);
  GOOD_SHAPE(sg_pad(f2, (const int64_t[]){-1, -1}, 2, SG_PAD_CONSTANT, 0), 2, 3, 2);
  BAD(sg_pad(NULL, (const int64_t[]){1, 1}, 2, SG_PAD_CONSTANT, 0), "pad");
  BAD(sg_pad(f2, NULL, 2, SG_PAD_CONSTANT, 0), "pad");
  BAD(sg_pad(f2, (const int64_t[]){1}, 1, SG_PAD_CONSTANT, 0), "pad");
  BAD(sg_pad(f2, (const int64_t[]){1, 1, 1, 1, 1, 1}, 6, SG_PAD_CONSTANT, 0), "pad");
  BAD(sg_pad(f2, (const int64_t[]){1, 1}, -2, SG_PAD_CONSTANT, 0), "pad");
  BAD(sg_pad(f2, (const int64_t[]){-3, -3}, 2, SG_PAD_CONSTANT, 0), "pad");
  BAD(sg_pad(f2, (const int64_t[]){(int64_t)1 << 62, (int64_t)1 << 62}, 2, SG_PAD_CONSTANT, 0),
      "pad");
  BAD(sg_pad(f2, (const int64_t[]){(int64_t)1 << 40, 0, (int64_t)1 << 40, 0}, 4,
             SG_PAD_CONSTANT, 0), "pad");
  BAD(sg_pad(f2, (const int64_t[]){INT64_MIN, 0}, 2, SG_PAD_CONSTANT, 0), "pad");
  BAD(sg_pad(f3, (const int64_t[]){4, 4}, 2, SG_PAD_REFLECT, 0), "pad"); /* pad >= size */
  NOCRASH(sg_pad(f3, (const int64_t[]){-1, 1}, 2, SG_PAD_REFLECT, 0));
  BAD(sg_pad(f3, (const int64_t[]){(int64_t)1 << 62, 0}, 2, SG_PAD_REPLICATE, 0), "pad");
  BAD(sg_pad(T(F32, 3, SHAPE(2, 3, 0)), (const int64_t[]){1, 1}, 2, SG_PAD_REPLICATE, 0), "pad");
  BAD(sg_pad(f3, (const int64_t[]){1, 1}, 2, (sg_pad_mode)9, 0), "pad");
  BAD(sg_pad(s0, (const int64_t[]){1, 1}, 2, SG_PAD_CONSTANT, 0), "pad");
  GOOD_SHAPE(sg_pixel_shuffle(T(F32, 4, SHAPE(1, 8, 2, 3)), 2), 4, 1, 2, 4, 6);
  BAD(sg_pixel_shuffle(NULL, 2), "pixel_shuffle");
  BAD(sg_pixel_shuffle(f4, 2), "pixel_shuffle"); /* 3 channels not divisible by 4 */
  BAD(sg_pixel_shuffle(f4, 0), "pixel_shuffle");
  BAD(sg_pixel_shuffle(f4, -1), "pixel_shuffle");
  BAD(sg_pixel_shuffle(f2, 1), "pixel_shuffle");
  BAD(sg_pixel_shuffle(T(F32, 4, SHAPE(1, 4, 2, 2)), 1 << 30), "pixel_shuffle");
  fx_free();
}

/* ================= ops_nn.h: softmax, dropout, losses ================= */
typedef sg_tensor *(*loss2_fn)(sg_tensor *, sg_tensor *, sg_reduction);

static void test_loss_api(void) {
  fx_make();
  BAD(sg_softmax(NULL, 0), "softmax");
  BAD(sg_softmax(f2, 100), "softmax");
  BAD(sg_softmax(f2, -100), "softmax");
  BAD(sg_softmax(i2, 1), "softmax");
  GOOD_SHAPE(sg_softmax(e2, 1), 2, 0, 4);
  GOOD_SHAPE(sg_softmax(s0, 0), 0, SCALAR_SHAPE);
  BAD(sg_log_softmax(NULL, 0), "log_softmax");
  BAD(sg_log_softmax(f2, 2), "log_softmax");
  BAD(sg_log_softmax(b2, 1), "log_softmax");
  BAD(sg_dropout(NULL, 0.5, true), "dropout");
  BAD(sg_dropout(f2, -0.1, true), "dropout");
  BAD(sg_dropout(f2, 1.5, true), "dropout");
  BAD(sg_dropout(f2, NAN, true), "dropout");
  BAD(sg_dropout(i2, 0.5, true), "dropout");
  /* PyTorch accepts p = 1 (all zeros); sgen refuses it on purpose (test_rng.c). */
  NOCRASH(sg_dropout(f2, 1.0, true));
  GOOD_SHAPE(sg_dropout(e2, 0.5, true), 2, 0, 4);
  static const struct { const char *name; loss2_fn f; } l2[] = {
      {"mse_loss", sg_mse_loss}, {"l1_loss", sg_l1_loss}};
  for (size_t i = 0; i < 2; i++) {
    BAD(l2[i].f(NULL, f2, SG_REDUCTION_MEAN), l2[i].name);
    BAD(l2[i].f(f2, NULL, SG_REDUCTION_MEAN), l2[i].name);
    BAD(l2[i].f(f2, T(F32, 1, SHAPE(5)), SG_REDUCTION_MEAN), l2[i].name);
    BAD(l2[i].f(f2, f2, (sg_reduction)9), l2[i].name);
    BAD(l2[i].f(i2, i2, SG_REDUCTION_MEAN), l2[i].name);
    GOOD_SHAPE(l2[i].f(f2, f2, SG_REDUCTION_NONE), 2, 3, 4);
    GOOD_SHAPE(l2[i].f(e2, e2, SG_REDUCTION_SUM), 0, SCALAR_SHAPE);
  }
  sg_tensor *t01 = T(F32, 2, SHAPE(3, 4));
  GOOD_SHAPE(sg_bce_with_logits(f2, t01, NULL, NULL, SG_REDUCTION_NONE), 2, 3, 4);
  BAD(sg_bce_with_logits(NULL, t01, NULL, NULL, SG_REDUCTION_MEAN), "bce");
  BAD(sg_bce_with_logits(f2, NULL, NULL, NULL, SG_REDUCTION_MEAN), "bce");
  BAD(sg_bce_with_logits(f2, f3, NULL, NULL, SG_REDUCTION_MEAN), "bce");
  BAD(sg_bce_with_logits(f2, t01, T(F32, 1, SHAPE(5)), NULL, SG_REDUCTION_MEAN), "bce");
  BAD(sg_bce_with_logits(f2, t01, NULL, T(F32, 1, SHAPE(5)), SG_REDUCTION_MEAN), "bce");
  BAD(sg_bce_with_logits(f2, t01, NULL, NULL, (sg_reduction)-1), "bce");
  BAD(sg_bce_with_logits(i2, i2, NULL, NULL, SG_REDUCTION_MEAN), "bce");
  /* cross entropy / nll */
  sg_tensor *tgt = TF(I64, VALS(0, 3, 1), 1, SHAPE(3));
  sg_tensor *w4 = T(F32, 1, SHAPE(4));
  GOOD_SHAPE(sg_cross_entropy(f2, tgt, NULL, SG_REDUCTION_NONE, -100, 0), 1, 3);
  GOOD_SHAPE(sg_cross_entropy(f2, tgt, w4, SG_REDUCTION_MEAN, -100, 0.1), 0, SCALAR_SHAPE);
  BAD(sg_cross_entropy(NULL, tgt, NULL, SG_REDUCTION_MEAN, -100, 0), "cross_entropy");
  BAD(sg_cross_entropy(f2, NULL, NULL, SG_REDUCTION_MEAN, -100, 0), "cross_entropy");
  BAD(sg_cross_entropy(f2, TF(I64, VALS(0, 4, 1), 1, SHAPE(3)), NULL, SG_REDUCTION_MEAN, -100, 0),
      "cross_entropy");
  BAD(sg_cross_entropy(f2, TF(I64, VALS(0, -1, 1), 1, SHAPE(3)), NULL, SG_REDUCTION_MEAN, -100, 0),
      "cross_entropy");
  BAD(sg_cross_entropy(f2, TF(I64, VALS(0, 1), 1, SHAPE(2)), NULL, SG_REDUCTION_MEAN, -100, 0),
      "cross_entropy");
  /* float targets are probabilities and need the logits' shape */
  BAD(sg_cross_entropy(f2, TF(F32, VALS(0, 1, 1), 1, SHAPE(3)), NULL, SG_REDUCTION_MEAN, -100, 0),
      "cross_entropy");
  BAD(sg_cross_entropy(f2, tgt, T(F32, 1, SHAPE(3)), SG_REDUCTION_MEAN, -100, 0), "cross_entropy");
  BAD(sg_cross_entropy(f2, tgt, NULL, (sg_reduction)5, -100, 0), "cross_entropy");
  BAD(sg_cross_entropy(f2, tgt, NULL, SG_REDUCTION_MEAN, -100, -0.1), "cross_entropy");
  BAD(sg_cross_entropy(f2, tgt, NULL, SG_REDUCTION_MEAN, -100, 1.5), "cross_entropy");
  BAD(sg_cross_entropy(f2, tgt, NULL, SG_REDUCTION_MEAN, -100, NAN), "cross_entropy");
  BAD(sg_cross_entropy(f1, TF(I64, VALS(9), 0, NULL), NULL, SG_REDUCTION_MEAN, -100, 0),
      "cross_entropy");
  BAD(sg_cross_entropy(s0, tgt, NULL, SG_REDUCTION_MEAN, -100, 0), "cross_entropy");
  BAD(sg_cross_entropy(i2, tgt, NULL, SG_REDUCTION_MEAN, -100, 0), "cross_entropy");
  BAD(sg_cross_entropy(f3, TF(I64, VALS(0, 7, 1, 0, 0, 0, 0, 0), 2, SHAPE(2, 4)), NULL,
                       SG_REDUCTION_MEAN, -100, 0), "cross_entropy");
  GOOD_SHAPE(sg_cross_entropy(f2, TF(I64, VALS(0, -100, 1), 1, SHAPE(3)), NULL, SG_REDUCTION_NONE,
                              -100, 0), 1, 3);
  BAD(sg_nll_loss(NULL, tgt, NULL, SG_REDUCTION_MEAN, -100), "nll_loss");
  BAD(sg_nll_loss(f2, NULL, NULL, SG_REDUCTION_MEAN, -100), "nll_loss");
  BAD(sg_nll_loss(f2, TF(I64, VALS(0, 4, 1), 1, SHAPE(3)), NULL, SG_REDUCTION_MEAN, -100),
      "nll_loss");
  BAD(sg_nll_loss(f2, TF(I64, VALS(0, -5, 1), 1, SHAPE(3)), NULL, SG_REDUCTION_MEAN, -100),
      "nll_loss");
  BAD(sg_nll_loss(f2, TF(I64, VALS(0, 1, 1, 1), 1, SHAPE(4)), NULL, SG_REDUCTION_MEAN, -100),
      "nll_loss");
  BAD(sg_nll_loss(f2, tgt, T(F32, 1, SHAPE(7)), SG_REDUCTION_MEAN, -100), "nll_loss");
  BAD(sg_nll_loss(f2, tgt, NULL, (sg_reduction)5, -100), "nll_loss");
  BAD(sg_nll_loss(f2, TF(F32, VALS(0, 1, 1), 1, SHAPE(3)), NULL, SG_REDUCTION_MEAN, -100),
      "nll_loss");
  BAD(sg_nll_loss(i2, tgt, NULL, SG_REDUCTION_MEAN, -100), "nll_loss");
  BAD(sg_nll_loss(f2, TF(I64, VALS(0, INT64_MAX, 1), 1, SHAPE(3)), NULL, SG_REDUCTION_MEAN, -100),
      "nll_loss");
  BAD(sg_cross_entropy(f2, TF(I64, VALS(0, INT64_MIN, 1), 1, SHAPE(3)), NULL, SG_REDUCTION_MEAN,
                       -100, 0.2), "cross_entropy");
  GOOD_SHAPE(sg_cross_entropy(f2, TF(I64, VALS(-100, -100, -100), 1, SHAPE(3)), NULL,
                              SG_REDUCTION_MEAN, -100, 0.1), 0, SCALAR_SHAPE);
  fx_free();
}

/* ================= ops_index.h ================= */
static void test_index_api(void) {
  fx_make();
  sg_tensor *two[] = {f2, f2};
  sg_tensor *withnull[] = {f2, NULL};
  sg_tensor *mism[] = {f2, f3};
  sg_tensor *mixdt[] = {f2, i2};
  GOOD_SHAPE(sg_cat(two, 2, 0), 2, 6, 4);
  BAD(sg_cat(NULL, 2, 0), "cat");
  BAD(sg_cat(withnull, 2, 0), "cat");
  BAD(sg_cat(two, 0, 0), "cat");
  BAD(sg_cat(two, -1, 0), "cat");
  BAD(sg_cat(two, 2, 100), "cat");
  BAD(sg_cat(two, 2, -100), "cat");
  BAD(sg_cat(mism, 2, 0), "cat");
  BAD(sg_cat((sg_tensor *[]){f2, T(F32, 2, SHAPE(3, 5))}, 2, 0), "cat");
  BAD(sg_cat((sg_tensor *[]){s0, s0}, 2, 0), "cat");
  {
    sg_clear_error();
    sg_tensor *r = sg_cat(mixdt, 2, 0); /* PyTorch promotes; either way no crash */
    CHECK(r != NULL || sg_last_error()[0]);
    sg_release(r);
  }
  GOOD_SHAPE(sg_stack(two, 2, 2), 3, 3, 4, 2);
  BAD(sg_stack(NULL, 2, 0), "stack");
  BAD(sg_stack(withnull, 2, 0), "stack");
  BAD(sg_stack(two, 0, 0), "stack");
  BAD(sg_stack(two, 2, 3), "stack");
  BAD(sg_stack(two, 2, -100), "stack");
  BAD(sg_stack((sg_tensor *[]){f2, T(F32, 2, SHAPE(4, 3))}, 2, 0), "stack");
  sg_tensor *outs[4] = {0};
  int n = -7;
  BADS(sg_split(NULL, 1, 0, outs, 4, &n), "split");
  BADS(sg_split(f2, 0, 0, outs, 4, &n), "split");
  BADS(sg_split(f2, -1, 0, outs, 4, &n), "split");
  BADS(sg_split(f2, 1, 100, outs, 4, &n), "split");
  BADS(sg_split(f2, 1, 1, outs, 2, &n), "split"); /* 4 pieces do not fit in 2 */
  BADS(sg_split(f2, 1, 0, NULL, 4, &n), "split");
  BADS(sg_split(f2, 1, 0, outs, 4, NULL), "split");
  BADS(sg_split(s0, 1, 0, outs, 4, &n), "split");
  BADS(sg_split(f2, 1, 0, outs, -1, &n), "split");
  CHECK(outs[0] == NULL && outs[1] == NULL && outs[2] == NULL && outs[3] == NULL);
  CHECK_OK(sg_split(f2, INT64_MAX, 0, outs, 4, &n));
  CHECK(n == 1);
  sg_release_all(outs, 4);
  sg_tensor *ix = TF(I64, VALS(0, 2), 1, SHAPE(2));
  GOOD_SHAPE(sg_index_select(f2, 1, ix), 2, 3, 2);
  BAD(sg_index_select(NULL, 0, ix), "index_select");
  BAD(sg_index_select(f2, 0, NULL), "index_select");
  BAD(sg_index_select(f2, 100, ix), "index_select");
  BAD(sg_index_select(f2, 0, TF(I64, VALS(0, 3), 1, SHAPE(2))), "index_select");
  BAD(sg_index_select(f2, 0, TF(I64, VALS(-1), 1, SHAPE(1))), "index_select");
  BAD(sg_index_select(f2, 0, TF(I64, VALS(INT64_MIN), 1, SHAPE(1))), "index_select");
  BAD(sg_index_select(f2, 0, TF(F32, VALS(0, 1), 1, SHAPE(2))), "index_select");
  BAD(sg_index_select(f2, 0, i2), "index_select");
  BAD(sg_index_select(e2, 0, ix), "index_select");
  GOOD_SHAPE(sg_index_select(f2, 0, TF(I64, NULL, 1, SHAPE(0))), 2, 0, 4);
  sg_tensor *gi = TF(I64, VALS(0, 1, 2, 1, 0, 2), 2, SHAPE(3, 2));
  GOOD_SHAPE(sg_gather(f2, 1, gi), 2, 3, 2);
  BAD(sg_gather(NULL, 1, gi), "gather");
  BAD(sg_gather(f2, 1, NULL), "gather");
  BAD(sg_gather(f2, 100, gi), "gather");
  BAD(sg_gather(f2, 1, TF(I64, VALS(0, 1, 4, 1, 0, 2), 2, SHAPE(3, 2))), "gather");
  BAD(sg_gather(f2, 1, TF(I64, VALS(0, 1, -1, 1, 0, 2), 2, SHAPE(3, 2))), "gather");
  BAD(sg_gather(f2, 1, TF(F32, VALS(0, 1, 2, 1, 0, 2), 2, SHAPE(3, 2))), "gather");
  BAD(sg_gather(f2, 1, ix /* 1-D vs 2-D */), "gather");
  BAD(sg_gather(f2, 1, TF(I64, VALS(0, 0, 0, 0, 0, 0, 0, 0), 2, SHAPE(4, 2))), "gather");
  sg_tensor *src = T(F32, 2, SHAPE(3, 2));
  GOOD_SHAPE(sg_scatter(f2, 1, gi, src), 2, 3, 4);
  GOOD_SHAPE(sg_scatter_add(f2, 1, gi, src), 2, 3, 4);
  BAD(sg_scatter(NULL, 1, gi, src), "scatter");
  BAD(sg_scatter(f2, 1, NULL, src), "scatter");
  BAD(sg_scatter(f2, 1, gi, NULL), "scatter");
  BAD(sg_scatter(f2, -100, gi, src), "scatter");
  BAD(sg_scatter(f2, 1, TF(I64, VALS(0, 1, 9, 1, 0, 2), 2, SHAPE(3, 2)), src), "scatter");
  BAD(sg_scatter(f2, 1, TF(I64, VALS(0, 1, -9, 1, 0, 2), 2, SHAPE(3, 2)), src), "scatter");
  BAD(sg_scatter(f2, 1, gi, T(F32, 2, SHAPE(2, 2))), "scatter");
  BAD(sg_scatter(f2, 1, gi, T(F64, 2, SHAPE(3, 2))), "scatter");
  BAD(sg_scatter(f2, 1, TF(F32, VALS(0, 1, 2, 1, 0, 2), 2, SHAPE(3, 2)), src), "scatter");
  BAD(sg_scatter_add(NULL, 1, gi, src), "scatter_add");
  BAD(sg_scatter_add(f2, 1, NULL, src), "scatter_add");
  BAD(sg_scatter_add(f2, 1, gi, NULL), "scatter_add");
  BAD(sg_scatter_add(f2, 100, gi, src), "scatter_add");
  BAD(sg_scatter_add(f2, 1, TF(I64, VALS(0, 1, 4, 1, 0, 2), 2, SHAPE(3, 2)), src), "scatter_add");
  BAD(sg_scatter_add(f2, 1, TF(I64, VALS(0, 1, -1, 1, 0, 2), 2, SHAPE(3, 2)), src), "scatter_add");
  BAD(sg_scatter_add(f2, 1, gi, f1), "scatter_add");
  sg_tensor *v = NULL, *vi = NULL;
  BADS(sg_topk(NULL, 1, 0, true, true, &v, &vi), "topk");
  CHECK_OK(sg_topk(f2, 0, 1, true, true, &v, &vi)); /* k = 0 is valid: empty result */
  CHECK(v && vi && v->ndim == 2 && v->shape[0] == 3 && v->shape[1] == 0);
  sg_release(v);
  sg_release(vi);
  v = vi = NULL;
  BADS(sg_topk(f2, 5, 1, true, true, &v, &vi), "topk");
  BADS(sg_topk(f2, -1, 1, true, true, &v, &vi), "topk");
  BADS(sg_topk(f2, 1, 100, true, true, &v, &vi), "topk");
  BADS(sg_topk(f2, 1, -100, true, true, &v, &vi), "topk");
  BADS(sg_topk(f2, 1, 1, true, true, NULL, &vi), "topk");
  BADS(sg_topk(f2, INT64_MAX, 1, true, true, &v, &vi), "topk");
  BADS(sg_topk(s0, 2, 0, true, true, &v, &vi), "topk");
  BADS(sg_topk(b2, 1, 1, true, true, &v, &vi), "topk");
  CHECK(v == NULL && vi == NULL);
  BADS(sg_sort(NULL, 0, false, &v, &vi), "sort");
  BADS(sg_sort(f2, 100, false, &v, &vi), "sort");
  BADS(sg_sort(f2, -100, false, &v, &vi), "sort");
  BADS(sg_sort(f2, 0, false, NULL, NULL), "sort");
  CHECK(v == NULL && vi == NULL);
  CHECK_OK(sg_sort(e2, 0, false, &v, &vi));
  CHECK(v && vi && v->ndim == 2 && v->shape[0] == 0);
  sg_release(v);
  sg_release(vi);
  v = vi = NULL;
  CHECK_OK(sg_sort(s0, 0, false, &v, &vi));
  CHECK(v && vi && v->ndim == 0);
  sg_release(v);
  sg_release(vi);
  fx_free();
}

/* ================= ops_sparse.h ================= */
static void test_sparse_api(void) {
  fx_make();
  GOOD_SHAPE(sg_l0_project(f2, 2), 2, 3, 4);
  GOOD_SHAPE(sg_l0_project(f2, 0.5), 2, 3, 4);
  BAD(sg_l0_project(NULL, 2), "l0_project");
  BAD(sg_l0_project(f2, 0), "l0_project");
  BAD(sg_l0_project(f2, -1), "l0_project");
  BAD(sg_l0_project(f2, 5), "l0_project");
  BAD(sg_l0_project(f2, 1.5), "l0_project");
  BAD(sg_l0_project(f2, NAN), "l0_project");
  BAD(sg_l0_project(f2, INFINITY), "l0_project");
  BAD(sg_l0_project(s0, 1), "l0_project");
  BAD(sg_l0_project(b2, 1), "l0_project");
  BAD(sg_l0_mask(NULL, 2), "l0_mask");
  BAD(sg_l0_mask(f2, 0), "l0_mask");
  BAD(sg_l0_mask(f2, 5), "l0_mask");
  BAD(sg_l0_mask(f2, 2.5), "l0_mask");
  BAD(sg_l0_mask(f2, NAN), "l0_mask");
  GOOD_SHAPE(sg_l0inf_project(f4, 2, 1), 4, 2, 3, 5, 5);
  BAD(sg_l0inf_project(NULL, 1, 1), "l0inf_project");
  BAD(sg_l0inf_project(f4, 0, 1), "l0inf_project");
  BAD(sg_l0inf_project(f4, -1, 1), "l0inf_project");
  BAD(sg_l0inf_project(f4, 4, 1), "l0inf_project");
  BAD(sg_l0inf_project(f4, 1, 100), "l0inf_project");
  BAD(sg_l0inf_project(f4, 1, -100), "l0inf_project");
  BAD(sg_l0inf_project(s0, 1, 0), "l0inf_project");
  BAD(sg_l0inf_project(f4, INT64_MAX, 1), "l0inf_project");
  BAD(sg_l0_project(f2, 1e300), "l0_project");
  BAD(sg_l0inf_mask(NULL, 1, 1), "l0inf_mask");
  BAD(sg_l0inf_mask(f4, 0, 1), "l0inf_mask");
  BAD(sg_l0inf_mask(f4, 9, 1), "l0inf_mask");
  BAD(sg_l0inf_mask(f4, 1, 100), "l0inf_mask");
  GOOD_SHAPE(sg_soft_threshold(f2, 0.5), 2, 3, 4);
  BAD(sg_soft_threshold(NULL, 0.5), "soft_threshold");
  BAD(sg_soft_threshold(f2, -0.5), "soft_threshold");
  BAD(sg_soft_threshold(f2, NAN), "soft_threshold");
  BAD(sg_soft_threshold(i2, 0.5), "soft_threshold");
  BAD(sg_soft_threshold_t(NULL, f1), "soft_threshold");
  BAD(sg_soft_threshold_t(f2, NULL), "soft_threshold");
  BAD(sg_soft_threshold_t(f2, T(F32, 1, SHAPE(5))), "soft_threshold");
  BAD(sg_soft_threshold_t(f2, f3), "soft_threshold"); /* lambda must broadcast to x's shape */
  GOOD_SHAPE(sg_soft_threshold_t(f2, f1), 2, 3, 4);
  GOOD_SHAPE(sg_hard_threshold(f2, 0.5), 2, 3, 4);
  BAD(sg_hard_threshold(NULL, 0.5), "hard_threshold");
  BAD(sg_hard_threshold(f2, -0.5), "hard_threshold");
  BAD(sg_hard_threshold(f2, NAN), "hard_threshold");
  BAD(sg_hard_threshold_t(NULL, f1), "hard_threshold");
  BAD(sg_hard_threshold_t(f2, NULL), "hard_threshold");
  BAD(sg_hard_threshold_t(f2, T(F32, 1, SHAPE(5))), "hard_threshold");
  GOOD_SHAPE(sg_l0_project(e2, 1), 2, 0, 4);
  fx_free();
}

/* ================= rng.h ================= */
static void test_rng_api(void) {
  fx_make();
  sg_rng_state st = sg_rng_get_state();
  const int64_t huge[] = {(int64_t)1 << 40, (int64_t)1 << 40};
  BAD(sg_rand(NULL, 2, F32, CPU), "rand");
  BAD(sg_rand(SHAPE(-1), 1, F32, CPU), "rand");
  BAD(sg_rand(huge, 2, F32, CPU), "rand");
  BAD(sg_rand(SHAPE(2), 1, I64, CPU), "rand");
  BAD(sg_rand(SHAPE(2), 1, F32, ((sg_device){SG_CUDA, 3})), "rand");
  BAD(sg_randn(SHAPE(-1), 1, F32, CPU), "randn");
  BAD(sg_randn(huge, 2, F64, CPU), "randn");
  BAD(sg_randn(SHAPE(2), 1, SG_BOOL, CPU), "randn");
  BAD(sg_normal(0, -1, SHAPE(2), 1, F32, CPU), "normal");
  BAD(sg_normal(0, NAN, SHAPE(2), 1, F32, CPU), "normal");
  NOCRASH(sg_normal(NAN, 1, SHAPE(2), 1, F32, CPU));
  BAD(sg_normal(0, 1, huge, 2, F32, CPU), "normal");
  BAD(sg_normal(0, 1, SHAPE(2), 1, I64, CPU), "normal");
  BAD(sg_randint(5, 5, SHAPE(2), 1, I64, CPU), "randint");
  BAD(sg_randint(5, 2, SHAPE(2), 1, I64, CPU), "randint");
  BAD(sg_randint(0, 2, SHAPE(-2), 1, I64, CPU), "randint");
  BAD(sg_randint(0, 2, huge, 2, I64, CPU), "randint");
  BAD(sg_randint(0, 300, SHAPE(2), 1, SG_UINT8, CPU), "randint");
  BAD(sg_bernoulli(NULL), "bernoulli");
  BAD(sg_bernoulli(i2), "bernoulli");
  BAD(sg_bernoulli(TF(F32, VALS(0.5, 1.5), 1, SHAPE(2))), "bernoulli");
  BAD(sg_bernoulli(TF(F32, VALS(0.5, -0.5), 1, SHAPE(2))), "bernoulli");
  BAD(sg_bernoulli(TF(F32, VALS(0.5, NAN), 1, SHAPE(2))), "bernoulli");
  BAD(sg_bernoulli_scalar(-0.1, SHAPE(2), 1, F32, CPU), "bernoulli");
  BAD(sg_bernoulli_scalar(1.1, SHAPE(2), 1, F32, CPU), "bernoulli");
  BAD(sg_bernoulli_scalar(NAN, SHAPE(2), 1, F32, CPU), "bernoulli");
  BAD(sg_bernoulli_scalar(0.5, huge, 2, F32, CPU), "bernoulli");
  BAD(sg_bernoulli_scalar(0.5, SHAPE(-2), 1, F32, CPU), "bernoulli");
  BAD(sg_randperm(-1, CPU), "randperm");
  BAD(sg_randperm((int64_t)1 << 62, CPU), "randperm");
  /* failed calls must not advance the stream */
  sg_rng_state st2 = sg_rng_get_state();
  CHECK(st2.seed == st.seed && st2.offset == st.offset);
  GOOD_SHAPE(sg_randint(INT64_MIN, INT64_MAX, SHAPE(3), 1, I64, CPU), 1, 3);
  GOOD_SHAPE(sg_bernoulli(e2), 2, 0, 4);
  GOOD_SHAPE(sg_randperm(0, CPU), 1, 0);
  sg_rng_set_state(st);
  fx_free();
}

/* ================= io.h ================= */
static char tmpdir[256];

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return;
  if (n) fwrite(data, 1, n, f);
  fclose(f);
}

static void test_io_api(void) {
  fx_make();
  char empty[300], junk[300], missing[300], nodir[300], hugehdr[300], trunc_png[300];
  snprintf(empty, sizeof empty, "%s/empty.bin", tmpdir);
  snprintf(junk, sizeof junk, "%s/junk.bin", tmpdir);
  snprintf(missing, sizeof missing, "%s/does_not_exist.bin", tmpdir);
  snprintf(nodir, sizeof nodir, "%s/no/such/dir/out.bin", tmpdir);
  snprintf(hugehdr, sizeof hugehdr, "%s/hugehdr.safetensors", tmpdir);
  snprintf(trunc_png, sizeof trunc_png, "%s/trunc.png", tmpdir);
  write_file(empty, "", 0);
  write_file(junk, "this is not any format at all, just text\n", 42);
  /* safetensors header claiming 2^60 bytes of JSON */
  const unsigned char hh[8] = {0, 0, 0, 0, 0, 0, 0, 0x10};
  write_file(hugehdr, hh, 8);
  const unsigned char png_sig[12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
  write_file(trunc_png, png_sig, 12);
  /* IDX ubyte header claiming 3 dims of 2^31-1 each, no data */
  char idxhuge[300], st_badjson[300], st_offsets[300], cifar_lbl[300], cifar_short[300];
  snprintf(idxhuge, sizeof idxhuge, "%s/huge.idx", tmpdir);
  const unsigned char ih[16] = {0, 0, 8, 3, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff,
                                0x7f, 0xff, 0xff, 0xff};
  write_file(idxhuge, ih, 16);
  /* safetensors: valid length, broken JSON; and offsets beyond the file */
  snprintf(st_badjson, sizeof st_badjson, "%s/badjson.safetensors", tmpdir);
  const char bj[] = "\x10\0\0\0\0\0\0\0{\"a\":{\"dtype\":\"F3";
  write_file(st_badjson, bj, sizeof bj - 1);
  snprintf(st_offsets, sizeof st_offsets, "%s/offsets.safetensors", tmpdir);
  {
    const char js[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],"
                      "\"data_offsets\":[0,4]}}";
    unsigned char buf[256] = {0};
    size_t n = sizeof js - 1;
    buf[0] = (unsigned char)n;
    memcpy(buf + 8, js, n);
    write_file(st_offsets, buf, 8 + n + 4);
  }
  /* CIFAR: one full record with label 10; and a record cut short */
  snprintf(cifar_lbl, sizeof cifar_lbl, "%s/lbl.bin", tmpdir);
  snprintf(cifar_short, sizeof cifar_short, "%s/short.bin", tmpdir);
  {
    unsigned char *rec = calloc(3073, 1);
    if (rec) {
      rec[0] = 10;
      write_file(cifar_lbl, rec, 3073);
      rec[0] = 1;
      write_file(cifar_short, rec, 3072);
      free(rec);
    }
  }
  const char *bad_paths[] = {NULL, "", missing, tmpdir /* a directory */, empty, junk, hugehdr,
                             trunc_png, idxhuge, st_badjson, st_offsets, cifar_lbl, cifar_short};
  for (size_t i = 0; i < sizeof bad_paths / sizeof bad_paths[0]; i++) {
    const char *p = bad_paths[i];
    sg_tensor_dict d = {0};
    BADS(sg_safetensors_load(p, &d), "");
    CHECK(d.n == 0);
    sg_tensor_dict_free(&d);
    BAD(sg_png_read(p), "");
    BAD(sg_idx_read(p), "");
    sg_tensor *im = (sg_tensor *)1, *lb = (sg_tensor *)1;
    BADS(sg_cifar10_read(p, &im, &lb), "");
    CHECK(im == NULL && lb == NULL);
  }
  BADS(sg_safetensors_load(empty, NULL), "");
  BADS(sg_cifar10_read(junk, NULL, NULL), "");
  /* writes */
  char *names[] = {"a", "a"};
  sg_tensor *ts[] = {f2, f1};
  sg_tensor_dict d1 = {.n = 1, .names = names, .tensors = ts};
  sg_tensor_dict dup = {.n = 2, .names = names, .tensors = ts};
  char *meta_name[] = {"__metadata__"};
  sg_tensor_dict reserved = {.n = 1, .names = meta_name, .tensors = ts};
  sg_tensor *nullt[] = {NULL};
  sg_tensor_dict withnull = {.n = 1, .names = names, .tensors = nullt};
  char *nullname[] = {NULL};
  sg_tensor_dict nullnm = {.n = 1, .names = nullname, .tensors = ts};
  char *badutf[] = {"\xff\xfe"};
  sg_tensor_dict badu = {.n = 1, .names = badutf, .tensors = ts};
  sg_tensor_dict negn = {.n = -1, .names = names, .tensors = ts};
  char out[300];
  snprintf(out, sizeof out, "%s/out.safetensors", tmpdir);
  BADS(sg_safetensors_save(NULL, &d1), "");
  BADS(sg_safetensors_save("", &d1), "");
  BADS(sg_safetensors_save(nodir, &d1), "");
  BADS(sg_safetensors_save(tmpdir, &d1), "");
  BADS(sg_safetensors_save(out, NULL), "");
  BADS(sg_safetensors_save(out, &dup), "");
  BADS(sg_safetensors_save(out, &reserved), "");
  BADS(sg_safetensors_save(out, &withnull), "");
  BADS(sg_safetensors_save(out, &nullnm), "");
  BADS(sg_safetensors_save(out, &badu), "");
  BADS(sg_safetensors_save(out, &negn), "");
  CHECK(access(out, F_OK) != 0); /* no partial file left behind */
  sg_tensor_dict_free(NULL);
  char png[300];
  snprintf(png, sizeof png, "%s/out.png", tmpdir);
  sg_tensor *img = T(F32, 3, SHAPE(3, 4, 4));
  BADS(sg_png_write(NULL, img), "");
  BADS(sg_png_write(nodir, img), "");
  BADS(sg_png_write(tmpdir, img), "");
  BADS(sg_png_write(png, NULL), "png");
  BADS(sg_png_write(png, f2), "png");
  BADS(sg_png_write(png, T(F32, 3, SHAPE(5, 4, 4))), "png");
  BADS(sg_png_write(png, T(F32, 3, SHAPE(3, 0, 4))), "png");
  BADS(sg_png_write(png, T(I64, 3, SHAPE(3, 4, 4))), "png");
  {
    /* a 1 x 2^31 x 1 image as a broadcast view (no 8 GB allocation) */
    sg_tensor *tall = sg_expand(T(F32, 3, SHAPE(1, 1, 1)), SHAPE(1, (int64_t)1 << 31, 1), 3);
    BADS(sg_png_write(png, tall), "png");
    sg_release(tall);
  }
  CHECK(access(png, F_OK) != 0);
  fx_free();
}

/* ================= autograd.h ================= */
static sg_tensor *fn_bad_sum(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  return sg_sum(in[0], NULL, 0, false);
}
static sg_tensor *fn_null(sg_tensor **in, int n, void *ctx) {
  (void)in;
  (void)n;
  (void)ctx;
  sg_error(SG_ERR_ARG, "fn_null: deliberately failing");
  return NULL;
}

static void test_autograd_api(void) {
  fx_make();
  BADS(sg_set_requires_grad(NULL, true), "requires_grad");
  BADS(sg_set_requires_grad(i2, true), "requires_grad");
  BADS(sg_set_requires_grad(b2, true), "requires_grad");
  sg_set_grad(NULL, NULL);
  sg_tensor *x = tt_param(3, -1, 1, 1, SHAPE(3));
  sg_tensor *y = sg_mul(x, x);  /* 3 elements: no implicit seed */
  sg_tensor *s = sg_sum(y, NULL, 0, false);
  sg_tensor *nog = sg_sum(f2, NULL, 0, false);
  sg_tensor *outs[] = {s};
  sg_tensor *youts[] = {y};
  sg_tensor *nogo[] = {nog};
  sg_tensor *nullo[] = {NULL};
  sg_tensor *wrong_go[] = {f2};
  sg_tensor *null_go[] = {NULL};
  /* backward */
  BADS(sg_backward(NULL, NULL, 1, false, false), "backward");
  BADS(sg_backward(outs, NULL, 0, false, false), "backward");
  BADS(sg_backward(outs, NULL, -1, false, false), "backward");
  BADS(sg_backward(nullo, NULL, 1, false, false), "backward");
  BADS(sg_backward(nogo, NULL, 1, false, false), "backward");
  BADS(sg_backward(youts, NULL, 1, false, false), "backward");  /* non-scalar, no grad_outputs */
  BADS(sg_backward(youts, null_go, 1, false, false), "backward");
  BADS(sg_backward(youts, wrong_go, 1, false, false), "backward");
  BADS(sg_backward(outs, wrong_go, 1, false, false), "backward");
  CHECK(x->grad == NULL);
  CHECK_OK(sg_backward(outs, NULL, 1, false, false));
  BADS(sg_backward(outs, NULL, 1, false, false), "second time");
  /* grad */
  sg_tensor *x2 = tt_param(4, -1, 1, 1, SHAPE(3));
  sg_tensor *x2sq = sg_mul(x2, x2);
  sg_tensor *z = sg_sum(x2sq, NULL, 0, false);
  sg_release(x2sq);
  sg_tensor *zo[] = {z};
  sg_tensor *ins[] = {x2};
  sg_tensor *ins_nog[] = {f2};
  sg_tensor *ins_null[] = {NULL};
  sg_tensor *g[1] = {NULL};
  BADS(sg_grad(NULL, NULL, 1, ins, 1, g, true, false, false), "grad");
  BADS(sg_grad(zo, NULL, 1, NULL, 1, g, true, false, false), "grad");
  BADS(sg_grad(zo, NULL, 1, ins, 1, NULL, true, false, false), "grad");
  BADS(sg_grad(zo, NULL, 0, ins, 1, g, true, false, false), "grad");
  BADS(sg_grad(zo, NULL, 1, ins, 0, g, true, false, false), "grad");
  BADS(sg_grad(zo, NULL, 1, ins, -3, g, true, false, false), "grad");
  BADS(sg_grad(zo, NULL, 1, ins_nog, 1, g, true, false, false), "grad");
  BADS(sg_grad(zo, NULL, 1, ins_null, 1, g, true, false, false), "grad");
  BADS(sg_grad(zo, wrong_go, 1, ins, 1, g, true, false, false), "grad");
  BADS(sg_grad(nogo, NULL, 1, ins, 1, g, true, false, false), "grad");
  {
    /* input not reachable from the output: error unless allow_unused */
    sg_tensor *other = tt_param(5, -1, 1, 1, SHAPE(2));
    sg_tensor *ins_o[] = {other};
    BADS(sg_grad(zo, NULL, 1, ins_o, 1, g, true, false, false), "grad");
    CHECK(g[0] == NULL);
    CHECK_OK(sg_grad(zo, NULL, 1, ins_o, 1, g, true, false, true));
    CHECK(g[0] == NULL);
    sg_release(other);
  }
  CHECK(g[0] == NULL);
  CHECK_OK(sg_grad(zo, NULL, 1, ins, 1, g, false, false, false));
  sg_release(g[0]);
  g[0] = NULL;
  BADS(sg_grad(zo, NULL, 1, ins, 1, g, false, false, false), "second time");
  CHECK(g[0] == NULL);
  /* gradcheck misuse */
  sg_tensor *gc_in[] = {x};
  BADS(sg_gradcheck(NULL, NULL, gc_in, 1, NULL), "gradcheck");
  BADS(sg_gradcheck(fn_bad_sum, NULL, NULL, 1, NULL), "gradcheck");
  BADS(sg_gradcheck(fn_bad_sum, NULL, gc_in, 0, NULL), "gradcheck");
  BADS(sg_gradcheck(fn_null, NULL, gc_in, 1, NULL), "");
  sg_tensor *f32p = T(F32, 1, SHAPE(3));
  sg_set_requires_grad(f32p, true);
  sg_tensor *gc32[] = {f32p};
  BADS(sg_gradcheck(fn_bad_sum, NULL, gc32, 1, NULL), "gradcheck"); /* float64 inputs only */
  CHECK(strstr(sg_last_error(), "gradcheck: input 0 is float32") != NULL);
  sg_gradcheck_opts from1 = {.input_base = 1}; /* the Lua bindings' numbering */
  BADS(sg_gradcheck(fn_bad_sum, NULL, gc32, 1, &from1), "gradcheck");
  CHECK(strstr(sg_last_error(), "gradcheck: input 1 is float32") != NULL);
  sg_gradcheck_opts from5 = {.input_base = 5};
  BADS(sg_gradcheck(fn_bad_sum, NULL, gc32, 1, &from5), "gradcheck: input_base 5, expected 0 or 1");
  BADS(sg_gradgradcheck(NULL, NULL, gc_in, 1, NULL), "gradgradcheck");
  BADS(sg_gradgradcheck(fn_null, NULL, gc_in, 1, NULL), "");
  BADS(sg_gradgradcheck(fn_bad_sum, NULL, NULL, 1, NULL), "gradgradcheck");
  /* nodes */
  CHECK(sg_node_saved(NULL, 0) == NULL);
  sg_node_release(NULL);
  sg_tensor *all[] = {x, y, s, nog, x2, z};
  sg_release_all(all, 6);
  fx_free();
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/sgen_bad_input_XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  RUN(test_tensor_api);
  RUN(test_tensor_queries);
  RUN(test_elementwise_api);
  RUN(test_reduce_api);
  RUN(test_linalg_api);
  RUN(test_conv_api);
  RUN(test_norm_api);
  RUN(test_pool_api);
  RUN(test_resample_api);
  RUN(test_loss_api);
  RUN(test_index_api);
  RUN(test_sparse_api);
  RUN(test_rng_api);
  RUN(test_io_api);
  RUN(test_autograd_api);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  return sg_test_finish();
}
