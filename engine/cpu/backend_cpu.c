/* The CPU backend: 64-byte aligned host memory and the CPU kernel tables. */
#include "cpu/allocator_cpu.h"
#include "internal/backend.h"
#include "internal/kernels_blas.h"
#include "internal/kernels_conv.h"
#include "internal/kernels_elementwise.h"
#include "internal/kernels_index.h"
#include "internal/kernels_linalg.h"
#include "internal/kernels_loss.h"
#include "internal/kernels_norm.h"
#include "internal/kernels_optim.h"
#include "internal/kernels_pool.h"
#include "internal/kernels_reduce.h"
#include "internal/kernels_resample.h"
#include "internal/kernels_rng.h"
#include "internal/kernels_softmax.h"
#include "internal/kernels_sort.h"
#include "internal/kernels_sparse.h"
#include "internal/kernels_sum.h"

sg_status sg_cpu_copy(sg_tensor *dst, const sg_tensor *src);
sg_status sg_cpu_fill(sg_tensor *t, double value);


const sg_backend sg_cpu_backend = {
    .name = "cpu",
    .alloc = sg_cpu_alloc,
    .free = sg_cpu_free,
    .memory_stats = sg_cpu_memory_stats,
    .empty_cache = sg_cpu_empty_cache,
    .copy = sg_cpu_copy,
    .fill = sg_cpu_fill,
    .elementwise = &sg_cpu_elementwise_kernels,
    .sum = &sg_cpu_sum_kernels,
    .reduce = &sg_cpu_reduce_kernels,
    .blas = &sg_cpu_blas_kernels,
    .conv = &sg_cpu_conv_kernels,
    .norm = &sg_cpu_norm_kernels,
    .pool = &sg_cpu_pool_kernels,
    .resample = &sg_cpu_resample_kernels,
    .softmax = &sg_cpu_softmax_kernels,
    .loss = &sg_cpu_loss_kernels,
    .index = &sg_cpu_index_kernels,
    .sort = &sg_cpu_sort_kernels,
    .sparse = &sg_cpu_sparse_kernels,
    .linalg = &sg_cpu_linalg_kernels,
    .rng = &sg_cpu_rng_kernels,
    .optim = &sg_cpu_optim_kernels,
};
