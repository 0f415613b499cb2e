/* CUDA kernels of the conv family (internal/kernels_conv.h).
 * STUB: every slot is NULL (the ops report "not implemented on cuda:0")
 * until the family's kernels land. */
#include "cuda/cuda_internal.h"
#include "internal/kernels_conv.h"

const struct sg_conv_kernels sg_cuda_conv_kernels = {0};
