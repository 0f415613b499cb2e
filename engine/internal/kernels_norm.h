/* Kernel table of the norm family (see backend.h): batch / instance / layer
 * normalization.
 *
 * Batch and instance norm share one layout: x contiguous, viewed as
 * [A, G, B]; group g holds the M = A * B elements x[a, g, b] (batch norm:
 * A = N, G = C, B = spatial; instance norm: A = 1, G = N * C, B = spatial).
 * The affine weight/bias of group g is w[g % C]. Statistics tensors (mean,
 * var, invstd) have G elements and x's dtype; float32 data accumulates in
 * double. Layer norm works on rows: x contiguous [R, D], w/b of D elements. */
#ifndef SG_INTERNAL_KERNELS_NORM_H
#define SG_INTERNAL_KERNELS_NORM_H

#include "sgen/ops_nn.h"
#include "sgen/tensor.h"

struct sg_norm_kernels {
  /* mean[g] and biased variance var[g] of each group (two-pass). */
  sg_status (*moments)(sg_tensor *mean, sg_tensor *var, const sg_tensor *x, int64_t A,
                       int64_t G, int64_t B);
  /* y = (x - mean[g]) * invstd[g] * w[g % C] + b[g % C]; w and/or b may be
   * NULL (1 and 0). y may alias x. */
  sg_status (*normalize)(sg_tensor *y, const sg_tensor *x, int64_t A, int64_t G, int64_t B,
                         const sg_tensor *mean, const sg_tensor *invstd, const sg_tensor *w,
                         const sg_tensor *b, int64_t C);
  /* First-order backward of normalize with batch statistics (mean, invstd
   * computed from x itself): per group sum_dy[g] = sum dy and
   * sum_dy_xhat[g] = sum dy * xhat, xhat = (x - mean) * invstd; and, when dx
   * is not NULL, dx = w * invstd * (dy - sum_dy / M - xhat * sum_dy_xhat / M).
   * dy and x contiguous [A, G, B]; w may be NULL. */
  sg_status (*normalize_backward)(sg_tensor *dx, sg_tensor *sum_dy, sg_tensor *sum_dy_xhat,
                                  const sg_tensor *dy, const sg_tensor *x, int64_t A, int64_t G,
                                  int64_t B, const sg_tensor *mean, const sg_tensor *invstd,
                                  const sg_tensor *w, int64_t C);
  /* Optional (NULL: the op runs normalize and the activation in turn).
   * y = act(normalize(x)), bit for bit the values of normalize followed by
   * the relu / leaky_relu kernel; when mask (bool, x's shape) is given,
   * also mask = normalize(x) > 0, what the backward needs. */
  sg_status (*normalize_act)(sg_tensor *y, sg_tensor *mask, const sg_tensor *x, int64_t A,
                             int64_t G, int64_t B, const sg_tensor *mean, const sg_tensor *invstd,
                             const sg_tensor *w, const sg_tensor *b, int64_t C, sg_activation act,
                             double slope);
  /* normalize_backward of act(normalize(x)): dy is the gradient of the
   * activation's output, turned into the gradient of normalize's output
   * on the fly from the forward's mask: what the activation's backward
   * followed by normalize_backward give, to the rounding of the group
   * sums. */
  sg_status (*normalize_act_backward)(sg_tensor *dx, sg_tensor *sum_dy, sg_tensor *sum_dy_xhat,
                                      const sg_tensor *dy, const sg_tensor *mask,
                                      const sg_tensor *x, int64_t A, int64_t G, int64_t B,
                                      const sg_tensor *mean, const sg_tensor *invstd,
                                      const sg_tensor *w, int64_t C, sg_activation act,
                                      double slope);
  /* Layer norm over rows: mean[r], invstd[r] = 1 / sqrt(var[r] + eps) and
   * y = (x - mean) * invstd * w[d] + b[d] (w, b may be NULL). */
  sg_status (*layer_norm)(sg_tensor *y, sg_tensor *mean, sg_tensor *invstd, const sg_tensor *x,
                          int64_t R, int64_t D, const sg_tensor *w, const sg_tensor *b,
                          double eps);
  /* First-order backward of layer_norm: dx (may be NULL), dw and db (D
   * elements each, may be NULL) from dy, x, mean, invstd and w (may be NULL). */
  sg_status (*layer_norm_backward)(sg_tensor *dx, sg_tensor *dw, sg_tensor *db,
                                   const sg_tensor *dy, const sg_tensor *x,
                                   const sg_tensor *mean, const sg_tensor *invstd,
                                   const sg_tensor *w, int64_t R, int64_t D);
};

extern const struct sg_norm_kernels sg_cpu_norm_kernels;

#endif
