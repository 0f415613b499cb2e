/* Placeholder until the linalg kernels land. */
#include "internal/kernels_linalg.h"

const struct sg_linalg_kernels sg_cpu_linalg_kernels = {0};
