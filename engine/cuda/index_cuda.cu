/* CUDA kernels of the index family (internal/kernels_index.h).
 * STUB: every slot is NULL (the ops report "not implemented on cuda:0")
 * until the family's kernels land. */
#include "cuda/cuda_internal.h"
extern "C" {
#include "internal/kernels_index.h"
}

extern "C" const struct sg_index_kernels sg_cuda_index_kernels = {};
