/* Kernel table of the elementwise family (see backend.h). */
#ifndef SG_INTERNAL_KERNELS_ELEMENTWISE_H
#define SG_INTERNAL_KERNELS_ELEMENTWISE_H

#include "sgen/ops_elementwise.h"

struct sg_elementwise_kernels {
  /* out = op(x); out and x have out's shape (x may have broadcast strides).
   * x and out share dtype, except comparisons / logical ops (out bool). */
  sg_status (*unary)(sg_unary_op op, sg_tensor *out, const sg_tensor *x);
  /* out = op(a, b) with a, b already broadcast to out's shape (strides may
   * be 0) and of one dtype; out has that dtype or bool. */
  sg_status (*binary)(sg_binary_op op, sg_tensor *out, const sg_tensor *a, const sg_tensor *b);
  /* out = where(cond, a, b), all broadcast to out's shape; cond bool. */
  sg_status (*where)(sg_tensor *out, const sg_tensor *cond, const sg_tensor *a,
                     const sg_tensor *b);
  /* out = leaky_relu(x, slope) and its backward mask form. */
  sg_status (*leaky_relu)(sg_tensor *out, const sg_tensor *x, double slope);
  /* out = clamp(x, lo, hi) (NAN = absent). */
  sg_status (*clamp)(sg_tensor *out, const sg_tensor *x, double lo, double hi);
  /* Optional (NULL: composed from other ops). The first-order gradient of leaky_relu (relu: slope 0) in
   * one pass: out = g * (x > 0 ? 1 : slope), the mask values computed in
   * x's dtype as the composed backward does, so the two agree bit for bit.
   * g, x, out of out's shape. */
  sg_status (*leaky_relu_backward)(sg_tensor *out, const sg_tensor *g, const sg_tensor *x,
                                   double slope);
};

extern const struct sg_elementwise_kernels sg_cpu_elementwise_kernels;

#endif
