/* Placeholder until the pool kernels land. */
#include "internal/kernels_pool.h"

const struct sg_pool_kernels sg_cpu_pool_kernels = {0};
