/* CUDA kernels of the norm family (internal/kernels_norm.h).
 * STUB: every slot is NULL (the ops report "not implemented on cuda:0")
 * until the family's kernels land. */
#include "cuda/cuda_internal.h"
#include "internal/kernels_norm.h"

const struct sg_norm_kernels sg_cuda_norm_kernels = {0};
