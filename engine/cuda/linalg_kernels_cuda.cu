// Small kernels around cuSOLVER's factorizations (linalg_cuda.c): zeroing
// a triangle, identities, batched transposes, and log det / sign and log
// |det| from LU factors with linalg_cpu.c's rules.
#include <math.h>

#include "cuda/cuda_kernels.cuh"
#include "cuda/nn_kernels_cuda.h"

namespace {

using sgcuda::grid_for;
using sgcuda::kThreads;

template <typename T>
__global__ void tri_zero_kernel(T *a, int64_t total, int64_t n, bool upper) {
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total;
       t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t j = t % n, i = (t / n) % n;
    if (upper ? j < i : j > i) a[t] = (T)0;
  }
}

template <typename T>
__global__ void identity_kernel(T *a, int64_t total, int64_t n) {
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total;
       t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t j = t % n, i = (t / n) % n;
    a[t] = i == j ? (T)1 : (T)0;
  }
}

// one thread per destination element: dst[b][j][i] = src[b][i][j]
template <typename T>
__global__ void transpose_kernel(T *dst, const T *src, int64_t total, int64_t r, int64_t c) {
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total;
       t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = t % r, rest = t / r, j = rest % c, b = rest / c;
    dst[t] = src[(b * r + i) * c + j];
  }
}

template <typename T>
__global__ void lu_logdet_kernel(T *out, const T *lu, const int *ipiv, const int *info,
                                 int64_t batch, int64_t n) {
  for (int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; b < batch;
       b += (int64_t)gridDim.x * blockDim.x) {
    const T *m = lu + b * n * n;
    const int *p = ipiv + b * n;
    double s = 0;
    int neg = 0;
    for (int64_t i = 0; i < n; i++) {
      const double d = (double)m[i * n + i];
      if (d < 0) neg ^= 1;
      if (p[i] != i + 1) neg ^= 1;
      s += log(fabs(d));
    }
    if (info[b] > 0)
      s = -INFINITY;
    else if (neg && !isnan(s))
      s = NAN;
    out[b] = (T)s;
  }
}

template <typename T>
__global__ void lu_slogdet_kernel(T *sign, T *logabs, const T *lu, const int *ipiv,
                                  const int *info, int64_t batch, int64_t n) {
  for (int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; b < batch;
       b += (int64_t)gridDim.x * blockDim.x) {
    const T *m = lu + b * n * n;
    const int *p = ipiv + b * n;
    double s = 0;
    int neg = 0;
    for (int64_t i = 0; i < n; i++) {
      const double d = (double)m[i * n + i];
      if (d < 0) neg ^= 1;
      if (p[i] != i + 1) neg ^= 1;
      s += log(fabs(d));
    }
    double sg = neg ? -1.0 : 1.0;
    if (isnan(s)) {
      sg = NAN;
    } else if (info[b] > 0) {
      sg = 0;
      s = -INFINITY;
    }
    sign[b] = (T)sg;
    logabs[b] = (T)s;
  }
}

sg_status bad_dtype(const char *what, sg_dtype dt) {
  return sg_error(SG_ERR_UNSUPPORTED, "%s: dtype %s not supported on cuda", what,
                  sg_dtype_name(dt));
}

}  // namespace

extern "C" sg_status sg_cuda_tri_zero(sg_dtype dt, void *a, int64_t batch, int64_t n, bool upper) {
  const int64_t total = batch * n * n;
  if (total == 0) return SG_OK;
  if (dt == SG_FLOAT32)
    tri_zero_kernel<float><<<grid_for(total), kThreads, 0, sg_cuda_stream()>>>((float *)a, total, n,
                                                                              upper);
  else if (dt == SG_FLOAT64)
    tri_zero_kernel<double><<<grid_for(total), kThreads, 0, sg_cuda_stream()>>>((double *)a, total,
                                                                               n, upper);
  else
    return bad_dtype("cholesky", dt);
  return SG_CUDA_LAUNCH_CHECK("tri_zero_kernel");
}

extern "C" sg_status sg_cuda_set_identity(sg_dtype dt, void *a, int64_t batch, int64_t n) {
  const int64_t total = batch * n * n;
  if (total == 0) return SG_OK;
  if (dt == SG_FLOAT32)
    identity_kernel<float><<<grid_for(total), kThreads, 0, sg_cuda_stream()>>>((float *)a, total, n);
  else if (dt == SG_FLOAT64)
    identity_kernel<double><<<grid_for(total), kThreads, 0, sg_cuda_stream()>>>((double *)a, total,
                                                                               n);
  else
    return bad_dtype("inv", dt);
  return SG_CUDA_LAUNCH_CHECK("identity_kernel");
}

extern "C" sg_status sg_cuda_batch_transpose(sg_dtype dt, void *dst, const void *src,
                                             int64_t batch, int64_t r, int64_t c) {
  const int64_t total = batch * r * c;
  if (total == 0) return SG_OK;
  if (dt == SG_FLOAT32)
    transpose_kernel<float><<<grid_for(total), kThreads, 0, sg_cuda_stream()>>>(
        (float *)dst, (const float *)src, total, r, c);
  else if (dt == SG_FLOAT64)
    transpose_kernel<double><<<grid_for(total), kThreads, 0, sg_cuda_stream()>>>(
        (double *)dst, (const double *)src, total, r, c);
  else
    return bad_dtype("solve", dt);
  return SG_CUDA_LAUNCH_CHECK("transpose_kernel");
}

extern "C" sg_status sg_cuda_lu_logdet(sg_dtype dt, void *out, const void *lu, const int *ipiv,
                                       const int *info, int64_t batch, int64_t n) {
  if (batch == 0) return SG_OK;
  if (dt == SG_FLOAT32)
    lu_logdet_kernel<float><<<grid_for(batch), kThreads, 0, sg_cuda_stream()>>>(
        (float *)out, (const float *)lu, ipiv, info, batch, n);
  else if (dt == SG_FLOAT64)
    lu_logdet_kernel<double><<<grid_for(batch), kThreads, 0, sg_cuda_stream()>>>(
        (double *)out, (const double *)lu, ipiv, info, batch, n);
  else
    return bad_dtype("logdet", dt);
  return SG_CUDA_LAUNCH_CHECK("lu_logdet_kernel");
}

extern "C" sg_status sg_cuda_lu_slogdet(sg_dtype dt, void *sign, void *logabs, const void *lu,
                                        const int *ipiv, const int *info, int64_t batch,
                                        int64_t n) {
  if (batch == 0) return SG_OK;
  if (dt == SG_FLOAT32)
    lu_slogdet_kernel<float><<<grid_for(batch), kThreads, 0, sg_cuda_stream()>>>(
        (float *)sign, (float *)logabs, (const float *)lu, ipiv, info, batch, n);
  else if (dt == SG_FLOAT64)
    lu_slogdet_kernel<double><<<grid_for(batch), kThreads, 0, sg_cuda_stream()>>>(
        (double *)sign, (double *)logabs, (const double *)lu, ipiv, info, batch, n);
  else
    return bad_dtype("slogdet", dt);
  return SG_CUDA_LAUNCH_CHECK("lu_slogdet_kernel");
}
