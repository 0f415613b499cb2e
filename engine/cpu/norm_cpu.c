/* Placeholder until the norm kernels land. */
#include "internal/kernels_norm.h"

const struct sg_norm_kernels sg_cpu_norm_kernels = {0};
