/* Internals shared by the CUDA backend's files (engine/cuda: .c and .cu).
 *
 * Usable from C (gcc) and CUDA C++ (nvcc): everything is declared with C
 * linkage. Rules for every file of the backend:
 *  - every CUDA, cuBLAS and cuDNN call is checked with SG_CUDA_CHECK /
 *    SG_CUBLAS_CHECK / SG_CUDNN_CHECK (or their _TRY forms that return the
 *    status), which record "<call> failed: <reason> (file:line)" with
 *    sg_error, so a failure on the GPU machine names the call;
 *  - kernels run on sg_cuda_stream() and device memory comes from
 *    sg_cuda_alloc / sg_cuda_free (the caching allocator), also for
 *    temporaries: blocks are stream-ordered, so freeing a temporary right
 *    after launching the kernel that reads it is safe;
 *  - only device 0 is used for now (the backend's alloc has no device
 *    argument); "cuda:N" with N > 0 is refused by sg_cuda_check_device. */
#ifndef SG_CUDA_INTERNAL_H
#define SG_CUDA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "sgen/cuda.h"
#include "sgen/runtime.h"
#include "sgen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- error checking ---- */
sg_status sg_cuda_check_(cudaError_t e, const char *call, const char *file, int line);
sg_status sg_cublas_check_(cublasStatus_t e, const char *call, const char *file, int line);
sg_status sg_cudnn_check_(cudnnStatus_t e, const char *call, const char *file, int line);

/* SG_OK, or the error status with the message recorded. */
#define SG_CUDA_CHECK(call) sg_cuda_check_((call), #call, __FILE__, __LINE__)
#define SG_CUBLAS_CHECK(call) sg_cublas_check_((call), #call, __FILE__, __LINE__)
#define SG_CUDNN_CHECK(call) sg_cudnn_check_((call), #call, __FILE__, __LINE__)

/* Return the status from the enclosing function (returning sg_status) on
 * failure. */
#define SG_CUDA_TRY(call)                                     \
  do {                                                        \
    sg_status sg_cuda_s_ = SG_CUDA_CHECK(call);               \
    if (sg_cuda_s_ != SG_OK) return sg_cuda_s_;               \
  } while (0)
#define SG_CUBLAS_TRY(call)                                   \
  do {                                                        \
    sg_status sg_cuda_s_ = SG_CUBLAS_CHECK(call);             \
    if (sg_cuda_s_ != SG_OK) return sg_cuda_s_;               \
  } while (0)
#define SG_CUDNN_TRY(call)                                    \
  do {                                                        \
    sg_status sg_cuda_s_ = SG_CUDNN_CHECK(call);              \
    if (sg_cuda_s_ != SG_OK) return sg_cuda_s_;               \
  } while (0)

/* After a kernel launch: reports a launch failure (bad configuration, no
 * kernel image for this GPU) naming the kernel. */
#define SG_CUDA_LAUNCH_CHECK(name) sg_cuda_check_(cudaGetLastError(), name, __FILE__, __LINE__)

/* ---- device, stream, library handles (device_cuda.c) ---- */
/* Initializes the runtime on device 0 once; SG_OK or an error saying why
 * no GPU can be used. */
sg_status sg_cuda_init(void);
/* Checks that dev is a CUDA device this build can use (index 0). */
sg_status sg_cuda_check_device(const char *op, sg_device dev);
/* The stream every kernel and copy of the backend runs on. For now the
 * legacy default stream (0), so that synchronous cudaMemcpy calls and
 * library calls are ordered with the kernels; a real stream later changes
 * this one function. */
cudaStream_t sg_cuda_stream(void);
/* Library handles bound to sg_cuda_stream(), created on first use; NULL
 * with an error recorded on failure. */
cublasHandle_t sg_cuda_cublas(void);
cudnnHandle_t sg_cuda_cudnn(void);
/* Number of streaming multiprocessors of device 0 (for grid sizes; 1 when
 * unknown). */
int sg_cuda_sm_count(void);

/* ---- caching allocator (allocator_cuda.c) ---- */
/* Device memory of at least nbytes (256-byte aligned), ordered on
 * sg_cuda_stream(); NULL with an error naming the size and what is held. */
void *sg_cuda_alloc(size_t nbytes);
void sg_cuda_free(void *p, size_t nbytes);
/* The backend table's memory_stats: the counters every device reports. */
sg_memory_stats sg_cuda_allocator_stats(void);

/* ---- copies (copy_cuda.cu) ---- */
sg_status sg_cuda_copy(sg_tensor *dst, const sg_tensor *src);
sg_status sg_cuda_fill(sg_tensor *t, double value);
/* Raw host <-> device transfers (contiguous bytes). Host-to-device
 * transfers above a threshold go through pinned staging buffers; both
 * return when the host buffer may be reused (device-to-host: when the data
 * has arrived). */
sg_status sg_cuda_memcpy_h2d(void *dst_dev, const void *src_host, size_t nbytes);
sg_status sg_cuda_memcpy_d2h(void *dst_host, const void *src_dev, size_t nbytes);

/* ---- kernel tables, one per family (engine/cuda/<family>_cuda.*); the
 * structs are declared in internal/kernels_<family>.h ---- */
extern const struct sg_elementwise_kernels sg_cuda_elementwise_kernels;
extern const struct sg_sum_kernels sg_cuda_sum_kernels;
extern const struct sg_reduce_kernels sg_cuda_reduce_kernels;
extern const struct sg_blas_kernels sg_cuda_blas_kernels;
extern const struct sg_conv_kernels sg_cuda_conv_kernels;
extern const struct sg_norm_kernels sg_cuda_norm_kernels;
extern const struct sg_pool_kernels sg_cuda_pool_kernels;
extern const struct sg_resample_kernels sg_cuda_resample_kernels;
extern const struct sg_softmax_kernels sg_cuda_softmax_kernels;
extern const struct sg_loss_kernels sg_cuda_loss_kernels;
extern const struct sg_index_kernels sg_cuda_index_kernels;
extern const struct sg_sort_kernels sg_cuda_sort_kernels;
extern const struct sg_sparse_kernels sg_cuda_sparse_kernels;
extern const struct sg_linalg_kernels sg_cuda_linalg_kernels;
extern const struct sg_rng_kernels sg_cuda_rng_kernels;

#ifdef __cplusplus
}
#endif

#endif
