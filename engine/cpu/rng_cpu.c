/* Placeholder until the rng kernels land. */
#include "internal/kernels_rng.h"

const struct sg_rng_kernels sg_cpu_rng_kernels = {0};
