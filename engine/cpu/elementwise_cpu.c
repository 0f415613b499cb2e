/* CPU elementwise kernels: copy/convert, fill, unary, binary, where, clamp.
 * Each op is a row function specialised per dtype; rows whose operands are
 * contiguous (stride 1) or broadcast scalars (stride 0) take branch-free
 * loops the compiler vectorizes. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "internal/backend.h"
#include "internal/int_arith.h"
#include "internal/iter.h"
#include "internal/kernels_elementwise.h"
#include "internal/tensor_internal.h"

typedef uint8_t sg_bool8;

static void iter_for(sg_iter *it, int nops, sg_tensor *const *ts, const int64_t *shape, int ndim) {
  char *data[SG_ITER_MAX_OPS];
  size_t elsize[SG_ITER_MAX_OPS];
  int64_t strides[SG_ITER_MAX_OPS][SG_MAX_DIMS];
  for (int k = 0; k < nops; k++) {
    data[k] = sg_data_ptr(ts[k]);
    elsize[k] = sg_dtype_size(ts[k]->dtype);
    sg_broadcast_strides(ts[k], shape, ndim, strides[k]);
  }
  sg_iter_init(it, nops, shape, ndim, data, elsize, strides);
}

/* ---------------- copy with conversion ---------------- */

#define CONV_TO(TD, v) ((TD)(v))
#define CONV_BOOL(v) ((sg_bool8)((v) != 0))

#define DEFINE_COPY(NAME, TD, TS, CONV)                                        \
  static void NAME(char **p, const int64_t *s, int64_t n, void *ctx) {         \
    (void)ctx;                                                                 \
    TD *o = (TD *)p[0];                                                        \
    const TS *x = (const TS *)p[1];                                            \
    if (s[0] == 1 && s[1] == 1)                                                \
      for (int64_t i = 0; i < n; i++) o[i] = CONV(x[i]);                       \
    else                                                                       \
      for (int64_t i = 0; i < n; i++) o[i * s[0]] = CONV(x[i * s[1]]);         \
  }

#define CONV_F32(v) CONV_TO(float, v)
#define CONV_F64(v) CONV_TO(double, v)
#define CONV_I64(v) CONV_TO(int64_t, v)
#define CONV_I64_SAT(v) sg_f2i64((double)(v))
/* via int64 so negative values wrap instead of being undefined */
#define CONV_U8(v) ((uint8_t)(int64_t)(v))
#define CONV_U8_SAT(v) ((uint8_t)sg_f2i64((double)(v)))

#define DEFINE_COPY_FROM(SUF, TS, TO_I64, TO_U8)                               \
  DEFINE_COPY(copy_f32_##SUF, float, TS, CONV_F32)                             \
  DEFINE_COPY(copy_f64_##SUF, double, TS, CONV_F64)                            \
  DEFINE_COPY(copy_i64_##SUF, int64_t, TS, TO_I64)                             \
  DEFINE_COPY(copy_u8_##SUF, uint8_t, TS, TO_U8)                               \
  DEFINE_COPY(copy_b_##SUF, sg_bool8, TS, CONV_BOOL)

DEFINE_COPY_FROM(f32, float, CONV_I64_SAT, CONV_U8_SAT)
DEFINE_COPY_FROM(f64, double, CONV_I64_SAT, CONV_U8_SAT)
DEFINE_COPY_FROM(i64, int64_t, CONV_I64, CONV_U8)
DEFINE_COPY_FROM(u8, uint8_t, CONV_I64, CONV_U8)
DEFINE_COPY_FROM(b, sg_bool8, CONV_I64, CONV_U8)

static const sg_row_fn copy_table[SG_DTYPE_COUNT][SG_DTYPE_COUNT] = {
#define ROW(D) {copy_##D##_f32, copy_##D##_f64, copy_##D##_i64, copy_##D##_u8, copy_##D##_b}
    ROW(f32), ROW(f64), ROW(i64), ROW(u8), ROW(b)
#undef ROW
};

static sg_status cpu_copy(sg_tensor *dst, const sg_tensor *src) {
  if (src->storage->device.type != SG_CPU || dst->storage->device.type != SG_CPU)
    return sg_error(SG_ERR_UNSUPPORTED, "copy: the CPU backend cannot copy %s -> %s",
                    sg_device_name(src->storage->device), sg_device_name(dst->storage->device));
  if (dst->dtype == src->dtype && sg_is_contiguous(dst) && sg_is_contiguous(src) &&
      sg_same_shape(dst, src)) {
    size_t nbytes = (size_t)sg_numel(dst) * sg_dtype_size(dst->dtype);
    if (nbytes && sg_data_ptr(dst) != sg_data_ptr(src))
      memmove(sg_data_ptr(dst), sg_data_ptr(src), nbytes);
    return SG_OK;
  }
  sg_iter it;
  sg_tensor *ts[2] = {dst, (sg_tensor *)src};
  iter_for(&it, 2, ts, dst->shape, dst->ndim);
  sg_iter_run(&it, copy_table[dst->dtype][src->dtype], NULL);
  return SG_OK;
}

/* ---------------- fill ---------------- */

#define DEFINE_FILL(NAME, T)                                                   \
  static void NAME(char **p, const int64_t *s, int64_t n, void *ctx) {         \
    T v = *(const T *)ctx;                                                     \
    T *o = (T *)p[0];                                                          \
    if (s[0] == 1)                                                             \
      for (int64_t i = 0; i < n; i++) o[i] = v;                                \
    else                                                                       \
      for (int64_t i = 0; i < n; i++) o[i * s[0]] = v;                         \
  }
DEFINE_FILL(fill_f32, float)
DEFINE_FILL(fill_f64, double)
DEFINE_FILL(fill_i64, int64_t)
DEFINE_FILL(fill_u8, uint8_t)

static sg_status cpu_fill(sg_tensor *t, double value) {
  union {
    float f;
    double d;
    int64_t i;
    uint8_t u;
  } v;
  sg_row_fn fn;
  switch (t->dtype) {
    case SG_FLOAT32: v.f = (float)value; fn = fill_f32; break;
    case SG_FLOAT64: v.d = value; fn = fill_f64; break;
    case SG_INT64: v.i = sg_f2i64(value); fn = fill_i64; break;
    case SG_UINT8: v.u = (uint8_t)sg_f2i64(value); fn = fill_u8; break;
    case SG_BOOL: v.u = value != 0; fn = fill_u8; break;
    default: return sg_error(SG_ERR_ARG, "fill_: invalid dtype");
  }
  sg_iter it;
  iter_for(&it, 1, &t, t->shape, t->ndim);
  sg_iter_run(&it, fn, &v);
  return SG_OK;
}

/* ---------------- unary ---------------- */

#define UNARY_ROW(NAME, TO, TI, EXPR)                                          \
  static void NAME(char **p, const int64_t *s, int64_t n, void *ctx) {         \
    (void)ctx;                                                                 \
    TO *o = (TO *)p[0];                                                        \
    const TI *x = (const TI *)p[1];                                            \
    if (s[0] == 1 && s[1] == 1)                                                \
      for (int64_t i = 0; i < n; i++) {                                        \
        TI v = x[i];                                                           \
        o[i] = (TO)(EXPR);                                                     \
      }                                                                        \
    else                                                                       \
      for (int64_t i = 0; i < n; i++) {                                        \
        TI v = x[i * s[1]];                                                    \
        o[i * s[0]] = (TO)(EXPR);                                              \
      }                                                                        \
  }

/* Float math: F selects the float or double libm function. */
#define FLOAT_UNARY(SUF, T, F)                                                         \
  UNARY_ROW(neg_##SUF, T, T, -v)                                                       \
  UNARY_ROW(abs_##SUF, T, T, F(fabs)(v))                                               \
  UNARY_ROW(sign_##SUF, T, T, (T)((v > 0) - (v < 0)))                                  \
  UNARY_ROW(exp_##SUF, T, T, F(exp)(v))                                                \
  UNARY_ROW(log_##SUF, T, T, F(log)(v))                                                \
  UNARY_ROW(sqrt_##SUF, T, T, F(sqrt)(v))                                              \
  UNARY_ROW(rsqrt_##SUF, T, T, (T)1 / F(sqrt)(v))                                      \
  UNARY_ROW(sin_##SUF, T, T, F(sin)(v))                                                \
  UNARY_ROW(cos_##SUF, T, T, F(cos)(v))                                                \
  UNARY_ROW(tanh_##SUF, T, T, F(tanh)(v))                                              \
  UNARY_ROW(sigmoid_##SUF, T, T, (T)1 / ((T)1 + F(exp)(-v)))                           \
  UNARY_ROW(relu_##SUF, T, T, v < 0 ? (T)0 : v)                                        \
  UNARY_ROW(recip_##SUF, T, T, (T)1 / v)                                               \
  UNARY_ROW(square_##SUF, T, T, v * v)                                                 \
  UNARY_ROW(log1p_##SUF, T, T, F(log1p)(v))                                            \
  UNARY_ROW(expm1_##SUF, T, T, F(expm1)(v))                                            \
  UNARY_ROW(softplus_##SUF, T, T, (v > 0 ? v : (T)0) + F(log1p)(F(exp)(-F(fabs)(v)))) \
  UNARY_ROW(floor_##SUF, T, T, F(floor)(v))                                            \
  UNARY_ROW(ceil_##SUF, T, T, F(ceil)(v))                                              \
  UNARY_ROW(round_##SUF, T, T, F(nearbyint)(v))                                        \
  UNARY_ROW(not_##SUF, sg_bool8, T, v == 0)                                            \
  UNARY_ROW(erf_##SUF, T, T, F(erf)(v))

#define FN_F32(name) name##f
#define FN_F64(name) name
FLOAT_UNARY(f32, float, FN_F32)
FLOAT_UNARY(f64, double, FN_F64)

#define INT_UNARY(SUF, T, ABS)                                                 \
  UNARY_ROW(neg_##SUF, T, T, sg_i64_neg(v))                                      \
  UNARY_ROW(abs_##SUF, T, T, ABS)                                              \
  UNARY_ROW(sign_##SUF, T, T, (v > 0) - (v < 0))                               \
  UNARY_ROW(relu_##SUF, T, T, v < 0 ? 0 : v)                                   \
  UNARY_ROW(square_##SUF, T, T, sg_i64_mul(v, v))                                \
  UNARY_ROW(not_##SUF, sg_bool8, T, v == 0)
/* negation wraps (abs(INT64_MIN) is INT64_MIN), as in PyTorch */
INT_UNARY(i64, int64_t, v < 0 ? sg_i64_neg(v) : v)
UNARY_ROW(neg_u8, uint8_t, uint8_t, (uint8_t)(0u - v))
UNARY_ROW(abs_u8, uint8_t, uint8_t, v)
UNARY_ROW(sign_u8, uint8_t, uint8_t, v > 0)
UNARY_ROW(square_u8, uint8_t, uint8_t, (uint8_t)(v * v))
UNARY_ROW(not_u8, sg_bool8, uint8_t, v == 0)

static const sg_row_fn unary_float[SG_UNARY_COUNT][2] = {
#define E(OP, N) [OP] = {N##_f32, N##_f64}
    E(SG_NEG, neg),         E(SG_ABS, abs),      E(SG_SIGN, sign),         E(SG_EXP, exp),
    E(SG_LOG, log),         E(SG_SQRT, sqrt),    E(SG_RSQRT, rsqrt),       E(SG_SIN, sin),
    E(SG_COS, cos),         E(SG_TANH, tanh),    E(SG_SIGMOID, sigmoid),   E(SG_RELU, relu),
    E(SG_RECIPROCAL, recip), E(SG_SQUARE, square), E(SG_LOG1P, log1p),     E(SG_EXPM1, expm1),
    E(SG_SOFTPLUS, softplus), E(SG_FLOOR, floor), E(SG_CEIL, ceil),        E(SG_ROUND, round),
    E(SG_LOGICAL_NOT, not), E(SG_ERF, erf),
#undef E
};

static sg_row_fn unary_int(sg_unary_op op, sg_dtype dt) {
  bool u8 = dt == SG_UINT8 || dt == SG_BOOL;
  switch (op) {
    case SG_NEG: return u8 ? neg_u8 : neg_i64;
    case SG_ABS: return u8 ? abs_u8 : abs_i64;
    case SG_SIGN: return u8 ? sign_u8 : sign_i64;
    case SG_RELU: return u8 ? abs_u8 : relu_i64;
    case SG_SQUARE: return u8 ? square_u8 : square_i64;
    case SG_LOGICAL_NOT: return u8 ? not_u8 : not_i64;
    case SG_FLOOR: case SG_CEIL: case SG_ROUND: return u8 ? copy_u8_u8 : copy_i64_i64;
    default: return NULL;
  }
}

static sg_status cpu_unary(sg_unary_op op, sg_tensor *out, const sg_tensor *x) {
  sg_row_fn fn = NULL;
  if (x->dtype == SG_FLOAT32 || x->dtype == SG_FLOAT64)
    fn = unary_float[op][x->dtype == SG_FLOAT64];
  else
    fn = unary_int(op, x->dtype);
  if (!fn)
    return sg_error(SG_ERR_ARG, "unary op %d: not defined for dtype %s", (int)op,
                    sg_dtype_name(x->dtype));
  sg_iter it;
  sg_tensor *ts[2] = {out, (sg_tensor *)x};
  iter_for(&it, 2, ts, out->shape, out->ndim);
  sg_iter_run(&it, fn, NULL);
  return SG_OK;
}

/* ---------------- binary ---------------- */

#define BINARY_ROW(NAME, TO, TI, EXPR)                                         \
  static void NAME(char **p, const int64_t *s, int64_t n, void *ctx) {         \
    (void)ctx;                                                                 \
    TO *o = (TO *)p[0];                                                        \
    const TI *x = (const TI *)p[1];                                            \
    const TI *y = (const TI *)p[2];                                            \
    if (s[0] == 1 && s[1] == 1 && s[2] == 1) {                                 \
      for (int64_t i = 0; i < n; i++) {                                        \
        TI a = x[i], b = y[i];                                                 \
        o[i] = (TO)(EXPR);                                                     \
      }                                                                        \
    } else if (s[0] == 1 && s[1] == 1 && s[2] == 0) {                          \
      TI b = y[0];                                                             \
      for (int64_t i = 0; i < n; i++) {                                        \
        TI a = x[i];                                                           \
        o[i] = (TO)(EXPR);                                                     \
      }                                                                        \
    } else if (s[0] == 1 && s[1] == 0 && s[2] == 1) {                          \
      TI a = x[0];                                                             \
      for (int64_t i = 0; i < n; i++) {                                        \
        TI b = y[i];                                                           \
        o[i] = (TO)(EXPR);                                                     \
      }                                                                        \
    } else {                                                                   \
      for (int64_t i = 0; i < n; i++) {                                        \
        TI a = x[i * s[1]], b = y[i * s[2]];                                   \
        o[i * s[0]] = (TO)(EXPR);                                              \
      }                                                                        \
    }                                                                          \
  }

#define ALL_BINARY(SUF, T, ADD, SUB, MUL, POW, MAXX, MINX)                      \
  BINARY_ROW(add_##SUF, T, T, ADD)                                             \
  BINARY_ROW(sub_##SUF, T, T, SUB)                                             \
  BINARY_ROW(mul_##SUF, T, T, MUL)                                             \
  BINARY_ROW(div_##SUF, T, T, a / b)                                           \
  BINARY_ROW(pow_##SUF, T, T, POW)                                             \
  BINARY_ROW(max_##SUF, T, T, MAXX)                                            \
  BINARY_ROW(min_##SUF, T, T, MINX)                                            \
  BINARY_ROW(eq_##SUF, sg_bool8, T, a == b)                                    \
  BINARY_ROW(ne_##SUF, sg_bool8, T, a != b)                                    \
  BINARY_ROW(lt_##SUF, sg_bool8, T, a < b)                                     \
  BINARY_ROW(le_##SUF, sg_bool8, T, a <= b)                                    \
  BINARY_ROW(gt_##SUF, sg_bool8, T, a > b)                                     \
  BINARY_ROW(ge_##SUF, sg_bool8, T, a >= b)                                    \
  BINARY_ROW(and_##SUF, sg_bool8, T, (a != 0) && (b != 0))                     \
  BINARY_ROW(or_##SUF, sg_bool8, T, (a != 0) || (b != 0))

/* NaN propagates through maximum/minimum, as in PyTorch. */
ALL_BINARY(f32, float, a + b, a - b, a * b, powf(a, b), (a > b || a != a) ? a : b,
           (a < b || a != a) ? a : b)
ALL_BINARY(f64, double, a + b, a - b, a * b, pow(a, b), (a > b || a != a) ? a : b,
           (a < b || a != a) ? a : b)
ALL_BINARY(i64, int64_t, sg_i64_add(a, b), sg_i64_sub(a, b), sg_i64_mul(a, b), sg_i64_pow(a, b),
           a > b ? a : b, a < b ? a : b)
ALL_BINARY(u8, uint8_t, a + b, a - b, a * b, (uint8_t)sg_i64_pow(a, b), a > b ? a : b, a < b ? a : b)

static const sg_row_fn binary_table[SG_BINARY_COUNT][SG_DTYPE_COUNT] = {
#define E(OP, N) [OP] = {N##_f32, N##_f64, N##_i64, N##_u8, N##_u8}
    E(SG_ADD, add), E(SG_SUB, sub), E(SG_MUL, mul), E(SG_DIV, div),
    E(SG_POW, pow), E(SG_MAXIMUM, max), E(SG_MINIMUM, min), E(SG_EQ, eq),
    E(SG_NE, ne), E(SG_LT, lt), E(SG_LE, le), E(SG_GT, gt),
    E(SG_GE, ge), E(SG_LOGICAL_AND, and), E(SG_LOGICAL_OR, or),
#undef E
};

static sg_status cpu_binary(sg_binary_op op, sg_tensor *out, const sg_tensor *a,
                            const sg_tensor *b) {
  if (a->dtype != b->dtype)
    return sg_error(SG_ERR_ARG, "binary op: operand dtypes differ (%s, %s)",
                    sg_dtype_name(a->dtype), sg_dtype_name(b->dtype));
  if ((op == SG_DIV) && !sg_dtype_is_float(a->dtype)) {
    /* integer division by zero would trap: refuse instead */
    return sg_error(SG_ERR_ARG, "div: integer operands must be converted to float first");
  }
  sg_iter it;
  sg_tensor *ts[3] = {out, (sg_tensor *)a, (sg_tensor *)b};
  iter_for(&it, 3, ts, out->shape, out->ndim);
  sg_iter_run(&it, binary_table[op][a->dtype], NULL);
  return SG_OK;
}

/* ---------------- where, leaky_relu, clamp ---------------- */

#define DEFINE_WHERE(NAME, T)                                                  \
  static void NAME(char **p, const int64_t *s, int64_t n, void *ctx) {         \
    (void)ctx;                                                                 \
    T *o = (T *)p[0];                                                          \
    const sg_bool8 *c = (const sg_bool8 *)p[1];                                \
    const T *x = (const T *)p[2], *y = (const T *)p[3];                        \
    for (int64_t i = 0; i < n; i++)                                            \
      o[i * s[0]] = c[i * s[1]] ? x[i * s[2]] : y[i * s[3]];                   \
  }
DEFINE_WHERE(where_f32, float)
DEFINE_WHERE(where_f64, double)
DEFINE_WHERE(where_i64, int64_t)
DEFINE_WHERE(where_u8, uint8_t)

static sg_status cpu_where(sg_tensor *out, const sg_tensor *cond, const sg_tensor *a,
                           const sg_tensor *b) {
  static const sg_row_fn table[SG_DTYPE_COUNT] = {where_f32, where_f64, where_i64, where_u8,
                                                  where_u8};
  sg_iter it;
  sg_tensor *ts[4] = {out, (sg_tensor *)cond, (sg_tensor *)a, (sg_tensor *)b};
  iter_for(&it, 4, ts, out->shape, out->ndim);
  sg_iter_run(&it, table[out->dtype], NULL);
  return SG_OK;
}

typedef struct {
  double a, b;
} two_params;

#define DEFINE_LEAKY(NAME, T)                                                  \
  static void NAME(char **p, const int64_t *s, int64_t n, void *ctx) {         \
    T slope = (T)((const two_params *)ctx)->a;                                 \
    T *o = (T *)p[0];                                                          \
    const T *x = (const T *)p[1];                                              \
    if (s[0] == 1 && s[1] == 1)                                                \
      for (int64_t i = 0; i < n; i++) o[i] = x[i] > 0 ? x[i] : x[i] * slope;   \
    else                                                                       \
      for (int64_t i = 0; i < n; i++) {                                        \
        T v = x[i * s[1]];                                                     \
        o[i * s[0]] = v > 0 ? v : v * slope;                                   \
      }                                                                        \
  }
DEFINE_LEAKY(leaky_f32, float)
DEFINE_LEAKY(leaky_f64, double)

static sg_status cpu_leaky_relu(sg_tensor *out, const sg_tensor *x, double slope) {
  if (!sg_dtype_is_float(x->dtype))
    return sg_error(SG_ERR_ARG, "leaky_relu: expected a float tensor, got %s",
                    sg_dtype_name(x->dtype));
  two_params prm = {slope, 0};
  sg_iter it;
  sg_tensor *ts[2] = {out, (sg_tensor *)x};
  iter_for(&it, 2, ts, out->shape, out->ndim);
  sg_iter_run(&it, x->dtype == SG_FLOAT32 ? leaky_f32 : leaky_f64, &prm);
  return SG_OK;
}

/* g * mask, mask = slope + (1 - slope) * (x > 0) evaluated in T as the
 * composed backward evaluates it (elementwise.c). */
#define DEFINE_LEAKY_BWD(NAME, T)                                                   \
  static void NAME(char **p, const int64_t *s, int64_t n, void *ctx) {              \
    const double slope = ((const two_params *)ctx)->a;                              \
    const T pos = (T)((T)(1.0 - slope) + (T)slope), neg = (T)slope;                 \
    T *o = (T *)p[0];                                                               \
    const T *g = (const T *)p[1], *x = (const T *)p[2];                             \
    if (s[0] == 1 && s[1] == 1 && s[2] == 1)                                        \
      for (int64_t i = 0; i < n; i++) o[i] = g[i] * (x[i] > 0 ? pos : neg);         \
    else                                                                            \
      for (int64_t i = 0; i < n; i++)                                               \
        o[i * s[0]] = g[i * s[1]] * (x[i * s[2]] > 0 ? pos : neg);                  \
  }
DEFINE_LEAKY_BWD(leaky_bwd_f32, float)
DEFINE_LEAKY_BWD(leaky_bwd_f64, double)

static sg_status cpu_leaky_relu_backward(sg_tensor *out, const sg_tensor *g, const sg_tensor *x,
                                         double slope) {
  if (!sg_dtype_is_float(x->dtype) || g->dtype != x->dtype)
    return sg_error(SG_ERR_ARG, "leaky_relu backward: expected float tensors of one dtype");
  two_params prm = {slope, 0};
  sg_iter it;
  sg_tensor *ts[3] = {out, (sg_tensor *)g, (sg_tensor *)x};
  iter_for(&it, 3, ts, out->shape, out->ndim);
  sg_iter_run(&it, x->dtype == SG_FLOAT32 ? leaky_bwd_f32 : leaky_bwd_f64, &prm);
  return SG_OK;
}

/* A clamp bound in the tensor's type: float casts; integer types saturate
 * out-of-range bounds (sg_f2i64, sg_u8_bound: a cast would be undefined),
 * fractions truncate. */
static inline float bound_f32(double v) { return (float)v; }
static inline double bound_f64(double v) { return v; }

/* NaN input stays NaN; absent bounds are NaN and compare false. */
#define DEFINE_CLAMP(NAME, T, BOUND)                                           \
  static void NAME(char **p, const int64_t *s, int64_t n, void *ctx) {         \
    const two_params *c = ctx;                                                 \
    bool has_lo = c->a == c->a, has_hi = c->b == c->b;                         \
    T lo = has_lo ? BOUND(c->a) : 0, hi = has_hi ? BOUND(c->b) : 0;            \
    T *o = (T *)p[0];                                                          \
    const T *x = (const T *)p[1];                                              \
    for (int64_t i = 0; i < n; i++) {                                          \
      T v = x[i * s[1]];                                                       \
      if (has_lo && v < lo) v = lo;                                            \
      if (has_hi && v > hi) v = hi;                                            \
      o[i * s[0]] = v;                                                         \
    }                                                                          \
  }
DEFINE_CLAMP(clamp_f32, float, bound_f32)
DEFINE_CLAMP(clamp_f64, double, bound_f64)
DEFINE_CLAMP(clamp_i64, int64_t, sg_f2i64)
DEFINE_CLAMP(clamp_u8, uint8_t, sg_u8_bound)

static sg_status cpu_clamp(sg_tensor *out, const sg_tensor *x, double lo, double hi) {
  static const sg_row_fn table[SG_DTYPE_COUNT] = {clamp_f32, clamp_f64, clamp_i64, clamp_u8,
                                                  clamp_u8};
  two_params prm = {lo, hi};
  sg_iter it;
  sg_tensor *ts[2] = {out, (sg_tensor *)x};
  iter_for(&it, 2, ts, out->shape, out->ndim);
  sg_iter_run(&it, table[x->dtype], &prm);
  return SG_OK;
}

const struct sg_elementwise_kernels sg_cpu_elementwise_kernels = {
    .unary = cpu_unary,
    .binary = cpu_binary,
    .where = cpu_where,
    .leaky_relu = cpu_leaky_relu,
    .leaky_relu_backward = cpu_leaky_relu_backward,
    .clamp = cpu_clamp,
};

sg_status sg_cpu_copy(sg_tensor *dst, const sg_tensor *src) { return cpu_copy(dst, src); }
sg_status sg_cpu_fill(sg_tensor *t, double value) { return cpu_fill(t, value); }
