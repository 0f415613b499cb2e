/* CUDA kernels of the linalg family (internal/kernels_linalg.h).
 * STUB: every slot is NULL (the ops report "not implemented on cuda:0")
 * until the family's kernels land. */
#include "cuda/cuda_internal.h"
#include "internal/kernels_linalg.h"

const struct sg_linalg_kernels sg_cuda_linalg_kernels = {0};
