/* Elementwise ops with PyTorch broadcasting and type promotion. */
#ifndef SGEN_OPS_ELEMENTWISE_H
#define SGEN_OPS_ELEMENTWISE_H

#include "sgen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sg_unary_op {
  SG_NEG, SG_ABS, SG_SIGN, SG_EXP, SG_LOG, SG_SQRT, SG_RSQRT, SG_SIN, SG_COS,
  SG_TANH, SG_SIGMOID, SG_RELU, SG_RECIPROCAL, SG_SQUARE, SG_LOG1P, SG_EXPM1,
  SG_SOFTPLUS, SG_FLOOR, SG_CEIL, SG_ROUND, SG_LOGICAL_NOT, SG_ERF, SG_UNARY_COUNT
} sg_unary_op;

typedef enum sg_binary_op {
  SG_ADD, SG_SUB, SG_MUL, SG_DIV, SG_POW, SG_MAXIMUM, SG_MINIMUM,
  SG_EQ, SG_NE, SG_LT, SG_LE, SG_GT, SG_GE, SG_LOGICAL_AND, SG_LOGICAL_OR,
  SG_BINARY_COUNT
} sg_binary_op;

sg_tensor *sg_unary(sg_unary_op op, sg_tensor *x);
sg_tensor *sg_binary(sg_binary_op op, sg_tensor *a, sg_tensor *b);

sg_tensor *sg_add(sg_tensor *a, sg_tensor *b);
sg_tensor *sg_sub(sg_tensor *a, sg_tensor *b);
sg_tensor *sg_mul(sg_tensor *a, sg_tensor *b);
sg_tensor *sg_div(sg_tensor *a, sg_tensor *b);
sg_tensor *sg_pow(sg_tensor *a, sg_tensor *b);
sg_tensor *sg_maximum(sg_tensor *a, sg_tensor *b);
sg_tensor *sg_minimum(sg_tensor *a, sg_tensor *b);
/* comparisons return bool tensors (no gradient) */
sg_tensor *sg_eq(sg_tensor *a, sg_tensor *b);
sg_tensor *sg_ne(sg_tensor *a, sg_tensor *b);
sg_tensor *sg_lt(sg_tensor *a, sg_tensor *b);
sg_tensor *sg_le(sg_tensor *a, sg_tensor *b);
sg_tensor *sg_gt(sg_tensor *a, sg_tensor *b);
sg_tensor *sg_ge(sg_tensor *a, sg_tensor *b);

/* scalar forms: the scalar keeps the tensor's dtype (PyTorch's rule for
 * Python numbers), except that an integer tensor with a fractional scalar
 * becomes float32. */
sg_tensor *sg_add_scalar(sg_tensor *a, double s);
sg_tensor *sg_sub_scalar(sg_tensor *a, double s);   /* a - s */
sg_tensor *sg_rsub_scalar(double s, sg_tensor *a);  /* s - a */
sg_tensor *sg_mul_scalar(sg_tensor *a, double s);
sg_tensor *sg_div_scalar(sg_tensor *a, double s);   /* a / s */
sg_tensor *sg_rdiv_scalar(double s, sg_tensor *a);  /* s / a */
sg_tensor *sg_pow_scalar(sg_tensor *a, double p);   /* a ^ p */
sg_tensor *sg_rpow_scalar(double s, sg_tensor *a);  /* s ^ a */
sg_tensor *sg_cmp_scalar(sg_binary_op op, sg_tensor *a, double s);

sg_tensor *sg_neg(sg_tensor *x);
sg_tensor *sg_abs(sg_tensor *x);
sg_tensor *sg_sign(sg_tensor *x);
sg_tensor *sg_exp(sg_tensor *x);
sg_tensor *sg_log(sg_tensor *x);
sg_tensor *sg_sqrt(sg_tensor *x);
sg_tensor *sg_rsqrt(sg_tensor *x);
sg_tensor *sg_sin(sg_tensor *x);
sg_tensor *sg_cos(sg_tensor *x);
sg_tensor *sg_tanh(sg_tensor *x);
sg_tensor *sg_sigmoid(sg_tensor *x);
sg_tensor *sg_relu(sg_tensor *x);
sg_tensor *sg_leaky_relu(sg_tensor *x, double negative_slope);
sg_tensor *sg_softplus(sg_tensor *x); /* log(1 + exp(x)), stable */
sg_tensor *sg_erf(sg_tensor *x);      /* error function (CPU only for now) */

/* where(cond, a, b): cond bool (or any dtype, nonzero = true), broadcast. */
sg_tensor *sg_where(sg_tensor *cond, sg_tensor *a, sg_tensor *b);
/* clamp with optional bounds: pass NAN for an absent bound. */
sg_tensor *sg_clamp(sg_tensor *x, double lo, double hi);
/* out = x with entries where mask is true replaced by value (broadcast mask). */
sg_tensor *sg_masked_fill(sg_tensor *x, sg_tensor *mask, double value);

#ifdef __cplusplus
}
#endif
#endif
