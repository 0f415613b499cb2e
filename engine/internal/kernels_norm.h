/* Kernel table of the norm family (see backend.h). */
#ifndef SG_INTERNAL_KERNELS_NORM_H
#define SG_INTERNAL_KERNELS_NORM_H

#include "sgen/tensor.h"

struct sg_norm_kernels {
  int placeholder; /* replace with the family's kernel function pointers */
};

extern const struct sg_norm_kernels sg_cpu_norm_kernels;

#endif
