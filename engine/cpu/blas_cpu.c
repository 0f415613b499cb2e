/* Placeholder until the blas kernels land. */
#include "internal/kernels_blas.h"

const struct sg_blas_kernels sg_cpu_blas_kernels = {0};
