/* CUDA kernels of the reduce family (internal/kernels_reduce.h).
 * STUB: every slot is NULL until the kernels land. */
#include "cuda/cuda_internal.h"
extern "C" {
#include "internal/kernels_reduce.h"
}

extern "C" const struct sg_reduce_kernels sg_cuda_reduce_kernels = {};
