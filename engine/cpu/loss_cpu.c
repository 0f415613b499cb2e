/* Placeholder until the loss kernels land. */
#include "internal/kernels_loss.h"

const struct sg_loss_kernels sg_cpu_loss_kernels = {0};
