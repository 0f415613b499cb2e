/* Kernel table of the loss family (see backend.h): fused losses. */
#ifndef SG_INTERNAL_KERNELS_LOSS_H
#define SG_INTERNAL_KERNELS_LOSS_H

#include <stdint.h>

#include "sgen/tensor.h"

/* pointwise losses with a fused reduction */
typedef enum sg_pointwise_loss { SG_LOSS_MSE = 0, SG_LOSS_L1 } sg_pointwise_loss;

struct sg_loss_kernels {
  /* *out = sum over all elements of (x - t)^2 (MSE) or |x - t| (L1);
   * x, t contiguous with the same numel and float dtype. */
  sg_status (*pointwise_sum)(sg_pointwise_loss kind, const sg_tensor *x, const sg_tensor *t,
                             double *out);
  /* gx = scale * 2 (x - t) (MSE) or scale * sign(x - t) (L1); contiguous. */
  sg_status (*pointwise_grad)(sg_pointwise_loss kind, sg_tensor *gx, const sg_tensor *x,
                              const sg_tensor *t, double scale);
  /* Class targets (int64, contiguous, M elements) counted from label_base
   * (0, or 1 from Lua), checked against [label_base, label_base + C) and
   * ignore_index (compared first, exactly, in the same numbering). Writes
   * safe_idx (int64, 0-based: target - label_base; ignored -> 0) and w (float
   * dtype of w: weight[target] or 1, 0 where ignored; weight contiguous of
   * w's dtype, or NULL), *wsum = sum of w and *n_ignored = number of
   * targets equal to ignore_index. *bad = flat position of the first
   * invalid target, or -1 when all are valid. */
  sg_status (*nll_prepare)(sg_tensor *safe_idx, sg_tensor *w, const sg_tensor *target,
                           const sg_tensor *weight, int64_t C, int64_t ignore_index,
                           int64_t label_base, int64_t *bad, double *wsum, int64_t *n_ignored);
};

extern const struct sg_loss_kernels sg_cpu_loss_kernels;

#endif
