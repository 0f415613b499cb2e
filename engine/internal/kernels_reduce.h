/* Kernel table of the reduce family (see backend.h). */
#ifndef SG_INTERNAL_KERNELS_REDUCE_H
#define SG_INTERNAL_KERNELS_REDUCE_H

#include "sgen/tensor.h"

struct sg_reduce_kernels {
  int placeholder; /* replace with the family's kernel function pointers */
};

extern const struct sg_reduce_kernels sg_cpu_reduce_kernels;

#endif
