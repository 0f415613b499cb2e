/* Kernel table of the linalg family (see backend.h). */
#ifndef SG_INTERNAL_KERNELS_LINALG_H
#define SG_INTERNAL_KERNELS_LINALG_H

#include "sgen/tensor.h"

struct sg_linalg_kernels {
  int placeholder; /* replace with the family's kernel function pointers */
};

extern const struct sg_linalg_kernels sg_cpu_linalg_kernels;

#endif
