/* Fused optimizer updates: one pass over memory instead of a dozen
 * out-of-place ops. In place, never recorded by autograd. */
#ifndef SGEN_OPS_OPTIM_H
#define SGEN_OPS_OPTIM_H

#include "sgen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sg_adam_opts {
  double lr, beta1, beta2, eps, weight_decay;
  int64_t step;      /* the step being taken, >= 1 (bias corrections use it) */
  bool decoupled;    /* AdamW: p *= 1 - lr * weight_decay; else grad += weight_decay * p */
  bool maximize;     /* ascend: grad = -grad */
} sg_adam_opts;

/* PyTorch 1.13's single-tensor Adam/AdamW step (amsgrad off):
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
 *   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * p, grad, exp_avg, exp_avg_sq: same shape, same float dtype, contiguous, one
 * device (a backend without the kernel reports "not implemented"). */
sg_status sg_adam_step_(sg_tensor *p, const sg_tensor *grad, sg_tensor *exp_avg,
                        sg_tensor *exp_avg_sq, const sg_adam_opts *o);

#ifdef __cplusplus
}
#endif
#endif
