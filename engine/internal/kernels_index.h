/* Kernel table of the index family (see backend.h). */
#ifndef SG_INTERNAL_KERNELS_INDEX_H
#define SG_INTERNAL_KERNELS_INDEX_H

#include "sgen/tensor.h"

struct sg_index_kernels {
  int placeholder; /* replace with the family's kernel function pointers */
};

extern const struct sg_index_kernels sg_cpu_index_kernels;

#endif
