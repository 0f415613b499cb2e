/* CUDA kernels of the pool family (internal/kernels_pool.h).
 * STUB: every slot is NULL (the ops report "not implemented on cuda:0")
 * until the family's kernels land. */
#include "cuda/cuda_internal.h"
extern "C" {
#include "internal/kernels_pool.h"
}

extern "C" const struct sg_pool_kernels sg_cuda_pool_kernels = {};
