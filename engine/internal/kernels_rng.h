/* Kernel table of the rng family (see backend.h). */
#ifndef SG_INTERNAL_KERNELS_RNG_H
#define SG_INTERNAL_KERNELS_RNG_H

#include "sgen/tensor.h"

struct sg_rng_kernels {
  int placeholder; /* replace with the family's kernel function pointers */
};

extern const struct sg_rng_kernels sg_cpu_rng_kernels;

#endif
