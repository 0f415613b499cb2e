/* Kernel table of the pool family (see backend.h). */
#ifndef SG_INTERNAL_KERNELS_POOL_H
#define SG_INTERNAL_KERNELS_POOL_H

#include "sgen/tensor.h"

struct sg_pool_kernels {
  int placeholder; /* replace with the family's kernel function pointers */
};

extern const struct sg_pool_kernels sg_cpu_pool_kernels;

#endif
