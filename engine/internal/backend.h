/* A backend is a table of kernel tables, one per op family, so ops never
 * contain #ifdef CUDA (ARCHITECTURE.md §2). Each family declares its kernel
 * struct in kernels_<family>.h; the CPU backend fills every slot, a CUDA
 * backend may leave a slot NULL (the op then fails with a clear error). */
#ifndef SG_INTERNAL_BACKEND_H
#define SG_INTERNAL_BACKEND_H

#include "sgen/runtime.h"
#include "sgen/tensor.h"

struct sg_elementwise_kernels;
struct sg_sum_kernels;
struct sg_reduce_kernels;
struct sg_blas_kernels;
struct sg_conv_kernels;
struct sg_norm_kernels;
struct sg_pool_kernels;
struct sg_resample_kernels;
struct sg_softmax_kernels;
struct sg_loss_kernels;
struct sg_index_kernels;
struct sg_sort_kernels;
struct sg_sparse_kernels;
struct sg_linalg_kernels;
struct sg_rng_kernels;
struct sg_optim_kernels;

typedef struct sg_backend {
  const char *name;
  void *(*alloc)(size_t nbytes);          /* NULL on failure */
  void (*free)(void *p, size_t nbytes);  /* nbytes as given to alloc */
  /* The allocator's counters and its cache of freed blocks (sgen/runtime.h). */
  sg_memory_stats (*memory_stats)(void);
  void (*empty_cache)(void);
  /* dst <- src: same shape, any strides, dtype converted. Devices may differ
   * only where the backend knows how (host <-> device). */
  sg_status (*copy)(sg_tensor *dst, const sg_tensor *src);
  sg_status (*fill)(sg_tensor *t, double value);
  const struct sg_elementwise_kernels *elementwise; /* unary, binary, where, clamp, ... */
  const struct sg_sum_kernels *sum;             /* sum over dims */
  const struct sg_reduce_kernels *reduce;
  const struct sg_blas_kernels *blas;
  const struct sg_conv_kernels *conv;
  const struct sg_norm_kernels *norm;
  const struct sg_pool_kernels *pool;           /* max / avg / adaptive pooling */
  const struct sg_resample_kernels *resample;   /* interpolate, pad */
  const struct sg_softmax_kernels *softmax;
  const struct sg_loss_kernels *loss;           /* fused losses */
  const struct sg_index_kernels *index;         /* index_select, gather, scatter */
  const struct sg_sort_kernels *sort;           /* sort, topk */
  const struct sg_sparse_kernels *sparse;       /* sparsity masks, thresholds */
  const struct sg_linalg_kernels *linalg;
  const struct sg_rng_kernels *rng;
  const struct sg_optim_kernels *optim;         /* fused optimizer steps (may be NULL) */
} sg_backend;

/* The backend of a device; NULL with an error if it is not compiled in. */
const sg_backend *sg_backend_for(sg_device dev);
extern const sg_backend sg_cpu_backend;

/* Returns the backend of t, checking the family slot is filled; on failure
 * sets an error naming `op` and returns NULL. Usage:
 *   const sg_backend *be = sg_backend_checked("sg_conv2d", x, offsetof(sg_backend, conv)); */
const sg_backend *sg_backend_checked(const char *op, const sg_tensor *t, size_t slot_offset);

#endif
