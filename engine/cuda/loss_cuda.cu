/* CUDA kernels of the loss family (internal/kernels_loss.h).
 * STUB: every slot is NULL (the ops report "not implemented on cuda:0")
 * until the family's kernels land. */
#include "cuda/cuda_internal.h"
extern "C" {
#include "internal/kernels_loss.h"
}

extern "C" const struct sg_loss_kernels sg_cuda_loss_kernels = {};
