/* Placeholder until the conv kernels land. */
#include "internal/kernels_conv.h"

const struct sg_conv_kernels sg_cpu_conv_kernels = {0};
