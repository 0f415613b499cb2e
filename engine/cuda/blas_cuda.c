/* CUDA kernels of the blas family (internal/kernels_blas.h).
 * STUB: every slot is NULL (the ops report "not implemented on cuda:0")
 * until the family's kernels land. */
#include "cuda/cuda_internal.h"
#include "internal/kernels_blas.h"

const struct sg_blas_kernels sg_cuda_blas_kernels = {0};
