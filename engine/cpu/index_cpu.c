/* Placeholder until the index kernels land. */
#include "internal/kernels_index.h"

const struct sg_index_kernels sg_cpu_index_kernels = {0};
