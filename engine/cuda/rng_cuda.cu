/* CUDA kernels of the rng family (internal/kernels_rng.h).
 * STUB: every slot is NULL (the ops report "not implemented on cuda:0")
 * until the family's kernels land. */
#include "cuda/cuda_internal.h"
extern "C" {
#include "internal/kernels_rng.h"
}

extern "C" const struct sg_rng_kernels sg_cuda_rng_kernels = {};
