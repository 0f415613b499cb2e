// CUDA kernels of the softmax family (internal/kernels_softmax.h): softmax
// / log_softmax and their backward.
//
// Semantics follow engine/cpu/softmax_cpu.c: max subtraction (the max skips
// NaN, as the CPU's `x > m ? x : m`), sums of exponentials and of products
// accumulated in double, the same formulas for the backward. Reductions
// are deterministic: a fixed partition and a fixed tree, no atomics, so a
// result repeats bit for bit run to run on one GPU. It is not bitwise the
// CPU's (different summation order; CUDA's expf / log differ from the
// CPU's by an ulp or so).
//
// Layout: a contiguous [O, N, I] block normalized along N. I == 1 (rows
// contiguous): one block of threads per row. I > 1 (channels of an image):
// one thread per column (o, i), reads coalesced across i.
#include <math.h>

#include "cuda/cuda_kernels.cuh"
extern "C" {
#include "internal/kernels_softmax.h"
}

using namespace sgcuda;

static const int ROW_THREADS = 256;

__device__ __forceinline__ float exp_t(float v) { return expf(v); }
__device__ __forceinline__ double exp_t(double v) { return exp(v); }

// ---------------- softmax ----------------

template <typename T>
__global__ void sm_row_k(T *y, const T *x, int64_t O, int64_t N, bool lg) {
  __shared__ T sm_t[32];
  __shared__ double sm_d[32];
  for (int64_t o = blockIdx.x; o < O; o += gridDim.x) {
    const T *xr = x + o * N;
    T *yr = y + o * N;
    T m = (T)-INFINITY;
    for (int64_t j = threadIdx.x; j < N; j += blockDim.x) m = xr[j] > m ? xr[j] : m;
    m = block_max_all(m, sm_t, (T)-INFINITY);
    double s = 0;
    if (lg) {
      for (int64_t j = threadIdx.x; j < N; j += blockDim.x) s += (double)exp_t(xr[j] - m);
      s = block_sum_all(s, sm_d);
      T ls = (T)log(s);
      for (int64_t j = threadIdx.x; j < N; j += blockDim.x) yr[j] = (xr[j] - m) - ls;
    } else {
      for (int64_t j = threadIdx.x; j < N; j += blockDim.x) {
        T e = exp_t(xr[j] - m);
        yr[j] = e;
        s += (double)e;
      }
      s = block_sum_all(s, sm_d);
      T inv = (T)(1.0 / s);
      // each thread rescales the entries it wrote itself
      for (int64_t j = threadIdx.x; j < N; j += blockDim.x) yr[j] = yr[j] * inv;
    }
  }
}

template <typename T>
__global__ void sm_col_k(T *y, const T *x, int64_t O, int64_t N, int64_t I, bool lg) {
  GRID_LOOP(c, O * I) {
    int64_t o = c / I, i = c % I;
    const T *xc = x + o * N * I + i;
    T *yc = y + o * N * I + i;
    T m = (T)-INFINITY;
    for (int64_t n = 0; n < N; n++) m = xc[n * I] > m ? xc[n * I] : m;
    double s = 0;
    for (int64_t n = 0; n < N; n++) {
      T e = exp_t(xc[n * I] - m);
      if (!lg) yc[n * I] = e;
      s += (double)e;
    }
    if (lg) {
      T f = (T)log(s);
      for (int64_t n = 0; n < N; n++) yc[n * I] = (xc[n * I] - m) - f;
    } else {
      T f = (T)(1.0 / s);
      for (int64_t n = 0; n < N; n++) yc[n * I] = yc[n * I] * f;
    }
  }
}

// softmax: gx = y (g - sum g y); log_softmax: gx = g - exp(y) sum g
template <typename T>
__global__ void smb_row_k(T *gx, const T *g, const T *y, int64_t O, int64_t N, bool lg) {
  __shared__ double sm_d[32];
  for (int64_t o = blockIdx.x; o < O; o += gridDim.x) {
    const T *gr = g + o * N, *yr = y + o * N;
    T *w = gx + o * N;
    double s = 0;
    if (lg)
      for (int64_t j = threadIdx.x; j < N; j += blockDim.x) s += (double)gr[j];
    else
      for (int64_t j = threadIdx.x; j < N; j += blockDim.x)
        s = add_rn(s, mul_rn((double)gr[j], (double)yr[j]));
    s = block_sum_all(s, sm_d);
    T st = (T)s;
    if (lg)
      for (int64_t j = threadIdx.x; j < N; j += blockDim.x) w[j] = sub_rn(gr[j], mul_rn(exp_t(yr[j]), st));
    else
      for (int64_t j = threadIdx.x; j < N; j += blockDim.x) w[j] = yr[j] * (gr[j] - st);
  }
}

template <typename T>
__global__ void smb_col_k(T *gx, const T *g, const T *y, int64_t O, int64_t N, int64_t I, bool lg) {
  GRID_LOOP(c, O * I) {
    int64_t o = c / I, i = c % I, base = o * N * I + i;
    double s = 0;
    for (int64_t n = 0; n < N; n++) {
      int64_t p = base + n * I;
      s = lg ? s + (double)g[p] : add_rn(s, mul_rn((double)g[p], (double)y[p]));
    }
    T st = (T)s;
    for (int64_t n = 0; n < N; n++) {
      int64_t p = base + n * I;
      gx[p] = lg ? sub_rn(g[p], mul_rn(exp_t(y[p]), st)) : y[p] * (g[p] - st);
    }
  }
}

static unsigned int row_blocks(int64_t O) {
  int64_t cap = (int64_t)sg_cuda_sm_count() * 16;
  int64_t b = O < cap ? O : cap;
  return (unsigned int)(b < 1 ? 1 : b);
}

template <typename T>
static sg_status softmax_t(sg_tensor *y, const sg_tensor *x, int64_t O, int64_t N, int64_t I,
                           bool lg) {
  cudaStream_t st = sg_cuda_stream();
  if (I == 1)
    sm_row_k<T><<<row_blocks(O), ROW_THREADS, 0, st>>>(dptr<T>(y), dptr<T>(x), O, N, lg);
  else
    sm_col_k<T><<<grid_for(O * I), 256, 0, st>>>(dptr<T>(y), dptr<T>(x), O, N, I, lg);
  return SG_CUDA_LAUNCH_CHECK(lg ? "log_softmax kernel" : "softmax kernel");
}

template <typename T>
static sg_status softmax_bwd_t(sg_tensor *gx, const sg_tensor *g, const sg_tensor *y, int64_t O,
                               int64_t N, int64_t I, bool lg) {
  cudaStream_t st = sg_cuda_stream();
  if (I == 1)
    smb_row_k<T><<<row_blocks(O), ROW_THREADS, 0, st>>>(dptr<T>(gx), dptr<T>(g), dptr<T>(y), O, N,
                                                        lg);
  else
    smb_col_k<T><<<grid_for(O * I), 256, 0, st>>>(dptr<T>(gx), dptr<T>(g), dptr<T>(y), O, N, I,
                                                    lg);
  return SG_CUDA_LAUNCH_CHECK(lg ? "log_softmax backward kernel" : "softmax backward kernel");
}

static sg_status cuda_softmax(sg_tensor *y, const sg_tensor *x, int64_t O, int64_t N, int64_t I,
                              bool lg) {
  if (O * N * I == 0) return SG_OK;
  switch (x->dtype) {
    case SG_FLOAT32: return softmax_t<float>(y, x, O, N, I, lg);
    case SG_FLOAT64: return softmax_t<double>(y, x, O, N, I, lg);
    default:
      return sg_error(SG_ERR_ARG, "softmax: dtype %s not supported", sg_dtype_name(x->dtype));
  }
}

static sg_status cuda_softmax_backward(sg_tensor *gx, const sg_tensor *g, const sg_tensor *y,
                                       int64_t O, int64_t N, int64_t I, bool lg) {
  if (O * N * I == 0) return SG_OK;
  switch (y->dtype) {
    case SG_FLOAT32: return softmax_bwd_t<float>(gx, g, y, O, N, I, lg);
    case SG_FLOAT64: return softmax_bwd_t<double>(gx, g, y, O, N, I, lg);
    default:
      return sg_error(SG_ERR_ARG, "softmax backward: dtype %s not supported",
                      sg_dtype_name(y->dtype));
  }
}

extern "C" const struct sg_softmax_kernels sg_cuda_softmax_kernels = {
    .softmax = cuda_softmax,
    .softmax_backward = cuda_softmax_backward,
};
