/* Kernel table of the conv family (see backend.h). */
#ifndef SG_INTERNAL_KERNELS_CONV_H
#define SG_INTERNAL_KERNELS_CONV_H

#include "sgen/tensor.h"

struct sg_conv_kernels {
  int placeholder; /* replace with the family's kernel function pointers */
};

extern const struct sg_conv_kernels sg_cpu_conv_kernels;

#endif
