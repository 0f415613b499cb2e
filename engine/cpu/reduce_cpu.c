/* Placeholder until the reduce kernels land. */
#include "internal/kernels_reduce.h"

const struct sg_reduce_kernels sg_cpu_reduce_kernels = {0};
