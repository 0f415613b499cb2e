/* CUDA kernels of the ew family (internal/kernels_ew.h).
 * STUB: every slot is NULL until the kernels land. */
#include "cuda/cuda_internal.h"
extern "C" {
#include "internal/kernels_ew.h"
}

extern "C" const struct sg_ew_kernels sg_cuda_ew_kernels = {};
