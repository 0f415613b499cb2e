/* Kernel table of the loss family (see backend.h). */
#ifndef SG_INTERNAL_KERNELS_LOSS_H
#define SG_INTERNAL_KERNELS_LOSS_H

#include "sgen/tensor.h"

struct sg_loss_kernels {
  int placeholder; /* replace with the family's kernel function pointers */
};

extern const struct sg_loss_kernels sg_cpu_loss_kernels;

#endif
