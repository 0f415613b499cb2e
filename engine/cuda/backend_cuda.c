/* The CUDA backend: the caching device allocator, host <-> device copies,
 * and one kernel table per op family (engine/cuda/<family>_cuda.*). A
 * family slot whose kernel is NULL makes its op fail with
 * "<op>: not implemented on cuda:0". */
#include "cuda/cuda_internal.h"
#include "internal/backend.h"
#include "internal/kernels_blas.h"
#include "internal/kernels_conv.h"
#include "internal/kernels_elementwise.h"
#include "internal/kernels_index.h"
#include "internal/kernels_linalg.h"
#include "internal/kernels_loss.h"
#include "internal/kernels_norm.h"
#include "internal/kernels_pool.h"
#include "internal/kernels_reduce.h"
#include "internal/kernels_resample.h"
#include "internal/kernels_rng.h"
#include "internal/kernels_softmax.h"
#include "internal/kernels_sort.h"
#include "internal/kernels_sparse.h"
#include "internal/kernels_sum.h"

const sg_backend sg_cuda_backend = {
    .name = "cuda",
    .alloc = sg_cuda_alloc,
    .free = sg_cuda_free,
    .memory_stats = sg_cuda_allocator_stats,
    .empty_cache = sg_cuda_empty_cache,
    .copy = sg_cuda_copy,
    .fill = sg_cuda_fill,
    .elementwise = &sg_cuda_elementwise_kernels,
    .sum = &sg_cuda_sum_kernels,
    .reduce = &sg_cuda_reduce_kernels,
    .blas = &sg_cuda_blas_kernels,
    .conv = &sg_cuda_conv_kernels,
    .norm = &sg_cuda_norm_kernels,
    .pool = &sg_cuda_pool_kernels,
    .resample = &sg_cuda_resample_kernels,
    .softmax = &sg_cuda_softmax_kernels,
    .loss = &sg_cuda_loss_kernels,
    .index = &sg_cuda_index_kernels,
    .sort = &sg_cuda_sort_kernels,
    .sparse = &sg_cuda_sparse_kernels,
    .linalg = &sg_cuda_linalg_kernels,
    .rng = &sg_cuda_rng_kernels,
};
