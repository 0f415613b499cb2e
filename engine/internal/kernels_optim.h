/* Kernel table of fused optimizer updates (sgen/ops_optim.h). */
#ifndef SG_INTERNAL_KERNELS_OPTIM_H
#define SG_INTERNAL_KERNELS_OPTIM_H

#include "sgen/ops_optim.h"

struct sg_optim_kernels {
  /* All four tensors contiguous, same dtype (float32/float64) and numel. */
  sg_status (*adam_step)(sg_tensor *p, const sg_tensor *grad, sg_tensor *exp_avg,
                         sg_tensor *exp_avg_sq, const sg_adam_opts *o);
};

extern const struct sg_optim_kernels sg_cpu_optim_kernels;

#endif
