/* Kernel table of the blas family (see backend.h). */
#ifndef SG_INTERNAL_KERNELS_BLAS_H
#define SG_INTERNAL_KERNELS_BLAS_H

#include "sgen/tensor.h"

struct sg_blas_kernels {
  int placeholder; /* replace with the family's kernel function pointers */
};

extern const struct sg_blas_kernels sg_cpu_blas_kernels;

#endif
