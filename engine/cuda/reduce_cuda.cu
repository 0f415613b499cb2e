// CUDA kernels of the reduce family (internal/kernels_reduce.h): min/max
// with indices, var, norm, logsumexp over the middle dim of a contiguous
// [O, N, I] block, and take/put along that dim.
//
// Two layouts, as on the CPU (engine/cpu/reduce_cpu.c):
//  - rows (I == 1): one block per output row o, its threads stride over n
//    and combine with a fixed tree (deterministic);
//  - columns (I > 1): one thread per output (o, i), streaming over n;
//    adjacent threads read adjacent i, so loads are coalesced.
// Sums accumulate in double for float32 and float64, like the CPU.
//
// Few outputs over a long strided dim are copied to rows first. Not done
// yet: splitting one long row (O * I small, N huge) across several blocks;
// such a row runs on one block of 1024 threads.
#include <math.h>

#include "cuda/cuda_kernels.cuh"
extern "C" {
#include "internal/kernels_reduce.h"
}

using namespace sgcuda;

static const int kRowThreads = 256;
static const int kLongRowThreads = 1024;

static int row_threads(int64_t O, int64_t N) {
  return (O < 64 && N >= 65536) ? kLongRowThreads : kRowThreads;
}

__device__ __forceinline__ bool is_nan_v(float v) { return v != v; }
__device__ __forceinline__ bool is_nan_v(double v) { return v != v; }
__device__ __forceinline__ bool is_nan_v(int64_t) { return false; }
__device__ __forceinline__ bool is_nan_v(uint8_t) { return false; }

// Few outputs over a long strided dim (say max over dim 0 of 100000 x 3)
// would leave the GPU with a handful of threads each walking N elements:
// such reductions first copy x to [O, I, N] (one coalesced pass) and run as
// rows.
static bool prefer_rows(int64_t O, int64_t N, int64_t I) {
  return I > 1 && O * I < 2048 && N >= 64;
}

// x viewed as [O, N, I] -> a contiguous [O, I, N] copy (new reference).
static sg_tensor *to_rows(const sg_tensor *x, int64_t O, int64_t N, int64_t I) {
  int64_t sh[3] = {O, I, N}, st[3] = {N * I, 1, I};
  sg_tensor *v = sg_alias(x, sh, st, 3, x->offset);
  sg_tensor *c = v ? sg_as_contiguous_dtype(v, x->dtype) : NULL;
  sg_release(v);
  return c;
}

// ---------------- min / max ----------------

// Whether (v, i) beats (b, bi): NaN wins over numbers, then the larger
// (max) or smaller (min) value, ties and NaN-vs-NaN go to the lower index.
template <bool MAX, typename T>
__device__ __forceinline__ bool better(T v, int64_t i, T b, int64_t bi) {
  bool vn = is_nan_v(v), bn = is_nan_v(b);
  if (vn || bn) return vn && (!bn || i < bi);
  if (MAX ? v > b : v < b) return true;
  if (v == b) return i < bi;
  return false;
}

template <bool MAX, typename T>
__global__ void minmax_rows(T *val, int64_t *idx, const T *x, int64_t O, int64_t N) {
  __shared__ T sv[32];
  __shared__ int64_t si[32];
  int64_t o = blockIdx.x;
  const T *row = x + o * N;
  // thread-local best over n = tid, tid + bs, ... (increasing n: ties keep
  // the first)
  T b = row[0];
  int64_t bi = 0;
  for (int64_t n = threadIdx.x; n < N; n += blockDim.x) {
    T v = row[n];
    if (better<MAX>(v, n, b, bi)) {
      b = v;
      bi = n;
    }
  }
  // warp then block combination
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    T ov = __shfl_down_sync(0xffffffffu, b, off);
    int64_t oi = __shfl_down_sync(0xffffffffu, bi, off);
    if (lane + off < 32 && better<MAX>(ov, oi, b, bi)) {
      b = ov;
      bi = oi;
    }
  }
  if (lane == 0) {
    sv[w] = b;
    si[w] = bi;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int k = 1; k < nw; k++)
      if (better<MAX>(sv[k], si[k], b, bi)) {
        b = sv[k];
        bi = si[k];
      }
    val[o] = b;
    if (idx) idx[o] = bi;
  }
}

template <bool MAX, typename T>
__global__ void minmax_cols(T *val, int64_t *idx, const T *x, int64_t O, int64_t N, int64_t I) {
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < O * I;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t o = e / I, i = e - o * I;
    const T *p = x + o * N * I + i;
    T b = p[0];
    int64_t bi = 0;
    for (int64_t n = 1; n < N; n++) {
      T v = p[n * I];
      bool take = (MAX ? v > b : v < b) || (is_nan_v(v) && !is_nan_v(b));
      if (take) {
        b = v;
        bi = n;
      }
    }
    val[e] = b;
    if (idx) idx[e] = bi;
  }
}

// uint8 / bool through a shuffle needs a 32-bit carrier: __shfl on a
// one-byte type is not provided. Widen for the row kernel's exchange.
template <bool MAX>
__global__ void minmax_rows_u8(uint8_t *val, int64_t *idx, const uint8_t *x, int64_t O,
                               int64_t N) {
  __shared__ int sv[32];
  __shared__ int64_t si[32];
  int64_t o = blockIdx.x;
  const uint8_t *row = x + o * N;
  int b = row[0];
  int64_t bi = 0;
  for (int64_t n = threadIdx.x; n < N; n += blockDim.x) {
    int v = row[n];
    if (better<MAX, int64_t>(v, n, b, bi)) {
      b = v;
      bi = n;
    }
  }
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    int ov = __shfl_down_sync(0xffffffffu, b, off);
    int64_t oi = __shfl_down_sync(0xffffffffu, bi, off);
    if (lane + off < 32 && better<MAX, int64_t>(ov, oi, b, bi)) {
      b = ov;
      bi = oi;
    }
  }
  if (lane == 0) {
    sv[w] = b;
    si[w] = bi;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int k = 1; k < nw; k++)
      if (better<MAX, int64_t>(sv[k], si[k], b, bi)) {
        b = sv[k];
        bi = si[k];
      }
    val[o] = (uint8_t)b;
    if (idx) idx[o] = bi;
  }
}

template <bool MAX, typename T>
static sg_status minmax_t(sg_tensor *values, sg_tensor *indices, const sg_tensor *x, int64_t O,
                          int64_t N, int64_t I) {
  if (prefer_rows(O, N, I)) {
    sg_tensor *c = to_rows(x, O, N, I);
    if (!c) return sg_last_status();
    sg_status s = minmax_t<MAX, T>(values, indices, c, O * I, N, 1);
    sg_release(c);  // stream-ordered: the kernel reading it runs first
    return s;
  }
  cudaStream_t st = sg_cuda_stream();
  T *v = dptr<T>(values);
  int64_t *ix = indices ? dptr<int64_t>(indices) : NULL;
  const T *p = dptr<const T>(x);
  if (I == 1) {
    if (O > INT64_C(2147483647)) return sg_error(SG_ERR_UNSUPPORTED, "max/min: too many rows");
    minmax_rows<MAX, T><<<(unsigned)O, row_threads(O, N), 0, st>>>(v, ix, p, O, N);
  } else {
    minmax_cols<MAX, T><<<grid_for(O * I), kThreads, 0, st>>>(v, ix, p, O, N, I);
  }
  return SG_CUDA_LAUNCH_CHECK("minmax");
}

template <bool MAX>
static sg_status minmax_u8(sg_tensor *values, sg_tensor *indices, const sg_tensor *x, int64_t O,
                           int64_t N, int64_t I) {
  if (prefer_rows(O, N, I)) {
    sg_tensor *c = to_rows(x, O, N, I);
    if (!c) return sg_last_status();
    sg_status s = minmax_u8<MAX>(values, indices, c, O * I, N, 1);
    sg_release(c);
    return s;
  }
  cudaStream_t st = sg_cuda_stream();
  uint8_t *v = dptr<uint8_t>(values);
  int64_t *ix = indices ? dptr<int64_t>(indices) : NULL;
  const uint8_t *p = dptr<const uint8_t>(x);
  if (I == 1) {
    if (O > INT64_C(2147483647)) return sg_error(SG_ERR_UNSUPPORTED, "max/min: too many rows");
    minmax_rows_u8<MAX><<<(unsigned)O, row_threads(O, N), 0, st>>>(v, ix, p, O, N);
  } else {
    minmax_cols<MAX, uint8_t><<<grid_for(O * I), kThreads, 0, st>>>(v, ix, p, O, N, I);
  }
  return SG_CUDA_LAUNCH_CHECK("minmax");
}

static sg_status cuda_minmax(sg_tensor *values, sg_tensor *indices, const sg_tensor *x,
                             int64_t O, int64_t N, int64_t I, bool is_max) {
  if (N < 1) return sg_error(SG_ERR_ARG, "max/min: reduction over an empty dim");
  if (O * I == 0) return SG_OK;
  switch (x->dtype) {
    case SG_FLOAT32:
      return is_max ? minmax_t<true, float>(values, indices, x, O, N, I)
                    : minmax_t<false, float>(values, indices, x, O, N, I);
    case SG_FLOAT64:
      return is_max ? minmax_t<true, double>(values, indices, x, O, N, I)
                    : minmax_t<false, double>(values, indices, x, O, N, I);
    case SG_INT64:
      return is_max ? minmax_t<true, int64_t>(values, indices, x, O, N, I)
                    : minmax_t<false, int64_t>(values, indices, x, O, N, I);
    case SG_UINT8:
    case SG_BOOL:  // one byte holding 0 or 1: ordered like uint8
      return is_max ? minmax_u8<true>(values, indices, x, O, N, I)
                    : minmax_u8<false>(values, indices, x, O, N, I);
    default:
      return sg_error(SG_ERR_ARG, "max/min: dtype %s not supported", sg_dtype_name(x->dtype));
  }
}

// ---------------- var, norm, logsumexp ----------------
// Each op is a functor with
//   row(const T *x, N, smem)  -> value (block-wide, result in thread 0)
//   col(const T *p, N, I)     -> value (one thread, p[n * I])

template <typename T> struct VarOp {
  double div;
  __device__ T row(const T *x, int64_t N, double *smem) const {
    __shared__ double mean;
    double s = 0;
    for (int64_t n = threadIdx.x; n < N; n += blockDim.x) s += (double)x[n];
    s = block_sum(s, smem);
    if (threadIdx.x == 0) mean = s / (double)N;
    __syncthreads();
    double mu = mean, q = 0;
    for (int64_t n = threadIdx.x; n < N; n += blockDim.x) {
      double d = (double)x[n] - mu;
      q += d * d;
    }
    q = block_sum(q, smem);
    return (T)(q / div);
  }
  __device__ T col(const T *p, int64_t N, int64_t I) const {
    double s = 0, q = 0;
    for (int64_t n = 0; n < N; n++) s += (double)p[n * I];
    double mu = s / (double)N;
    for (int64_t n = 0; n < N; n++) {
      double d = (double)p[n * I] - mu;
      q += d * d;
    }
    return (T)(q / div);
  }
};

enum { NORM_1, NORM_2, NORM_INF, NORM_P };

// max of |x| with NaN sticking, in double (|x| is exact there)
__device__ __forceinline__ double nan_max(double a, double b) {
  return (a != a || b != b) ? (double)NAN : (a > b ? a : b);
}

template <typename T> struct NormOp {
  int kind;
  double p;
  __device__ __forceinline__ double term(T v) const {
    double a = fabs((double)v);
    switch (kind) {
      case NORM_1: return a;
      case NORM_2: return a * a;
      default: return pow(a, p);
    }
  }
  __device__ __forceinline__ T finish(double s) const {
    switch (kind) {
      case NORM_2: return (T)sqrt(s);
      case NORM_P: return (T)pow(s, 1.0 / p);
      default: return (T)s;
    }
  }
  __device__ T row(const T *x, int64_t N, double *smem) const {
    if (kind == NORM_INF) {
      double m = 0;
      for (int64_t n = threadIdx.x; n < N; n += blockDim.x) m = nan_max(m, fabs((double)x[n]));
      // block max through shared memory (no NaN-aware shuffle reduction)
      __shared__ double wm[1024];
      wm[threadIdx.x] = m;
      __syncthreads();
      if (threadIdx.x == 0) {
        for (unsigned k = 1; k < blockDim.x; k++) m = nan_max(m, wm[k]);
      }
      __syncthreads();
      return (T)m;
    }
    double s = 0;
    for (int64_t n = threadIdx.x; n < N; n += blockDim.x) s += term(x[n]);
    s = block_sum(s, smem);
    return finish(s);
  }
  __device__ T col(const T *p_, int64_t N, int64_t I) const {
    if (kind == NORM_INF) {
      double m = 0;
      for (int64_t n = 0; n < N; n++) m = nan_max(m, fabs((double)p_[n * I]));
      return (T)m;
    }
    double s = 0;
    for (int64_t n = 0; n < N; n++) s += term(p_[n * I]);
    return finish(s);
  }
};

__device__ __forceinline__ float exp_t(float v) { return expf(v); }
__device__ __forceinline__ double exp_t(double v) { return exp(v); }

// log(sum exp(x)): the max ignores NaN (as the CPU's `x > m ? x : m`), an
// infinite max is the result, a NaN element makes the sum NaN.
template <typename T> struct LseOp {
  __device__ T row(const T *x, int64_t N, double *smem) const {
    __shared__ T wm[1024];
    __shared__ T mx;
    T m = -INFINITY;
    for (int64_t n = threadIdx.x; n < N; n += blockDim.x) m = x[n] > m ? x[n] : m;
    wm[threadIdx.x] = m;
    __syncthreads();
    if (threadIdx.x == 0) {
      for (unsigned k = 1; k < blockDim.x; k++) m = wm[k] > m ? wm[k] : m;
      mx = m;
    }
    __syncthreads();
    m = mx;
    if (isinf(m)) return m;  // uniform across the block: no thread skips a barrier
    double s = 0;
    for (int64_t n = threadIdx.x; n < N; n += blockDim.x) s += (double)exp_t(x[n] - m);
    s = block_sum(s, smem);
    return (T)((double)m + log(s));
  }
  __device__ T col(const T *p, int64_t N, int64_t I) const {
    T m = -INFINITY;
    for (int64_t n = 0; n < N; n++) m = p[n * I] > m ? p[n * I] : m;
    if (isinf(m)) return m;
    double s = 0;
    for (int64_t n = 0; n < N; n++) s += (double)exp_t(p[n * I] - m);
    return (T)((double)m + log(s));
  }
};

template <typename T, typename Op>
__global__ void reduce_rows(Op op, T *out, const T *x, int64_t N) {
  __shared__ double smem[32];
  int64_t o = blockIdx.x;
  T v = op.row(x + o * N, N, smem);
  if (threadIdx.x == 0) out[o] = v;
}

template <typename T, typename Op>
__global__ void reduce_cols(Op op, T *out, const T *x, int64_t O, int64_t N, int64_t I) {
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < O * I;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t o = e / I, i = e - o * I;
    out[e] = op.col(x + o * N * I + i, N, I);
  }
}

template <typename T, typename Op>
static sg_status launch_reduce(Op op, sg_tensor *out, const sg_tensor *x, int64_t O, int64_t N,
                               int64_t I, const char *name) {
  if (O * I == 0) return SG_OK;
  if (prefer_rows(O, N, I)) {
    sg_tensor *c = to_rows(x, O, N, I);
    if (!c) return sg_last_status();
    sg_status s = launch_reduce<T, Op>(op, out, c, O * I, N, 1, name);
    sg_release(c);
    return s;
  }
  cudaStream_t st = sg_cuda_stream();
  if (I == 1) {
    if (O > INT64_C(2147483647)) return sg_error(SG_ERR_UNSUPPORTED, "%s: too many rows", name);
    reduce_rows<T, Op><<<(unsigned)O, row_threads(O, N), 0, st>>>(op, dptr<T>(out),
                                                                  dptr<const T>(x), N);
  } else {
    reduce_cols<T, Op><<<grid_for(O * I), kThreads, 0, st>>>(op, dptr<T>(out), dptr<const T>(x),
                                                             O, N, I);
  }
  return SG_CUDA_LAUNCH_CHECK(name);
}

static sg_status cuda_var(sg_tensor *out, const sg_tensor *x, int64_t O, int64_t N, int64_t I,
                          double correction) {
  double div = (double)N - correction;
  if (div < 0) div = 0;  // PyTorch: max(0, N - correction)
  switch (x->dtype) {
    case SG_FLOAT32: {
      VarOp<float> op = {div};
      return launch_reduce<float>(op, out, x, O, N, I, "var");
    }
    case SG_FLOAT64: {
      VarOp<double> op = {div};
      return launch_reduce<double>(op, out, x, O, N, I, "var");
    }
    default:
      return sg_error(SG_ERR_ARG, "var: dtype %s not supported", sg_dtype_name(x->dtype));
  }
}

static sg_status cuda_norm(sg_tensor *out, const sg_tensor *x, int64_t O, int64_t N, int64_t I,
                           double p) {
  int kind = p == 1 ? NORM_1 : p == 2 ? NORM_2 : isinf(p) ? NORM_INF : NORM_P;
  switch (x->dtype) {
    case SG_FLOAT32: {
      NormOp<float> op = {kind, p};
      return launch_reduce<float>(op, out, x, O, N, I, "norm");
    }
    case SG_FLOAT64: {
      NormOp<double> op = {kind, p};
      return launch_reduce<double>(op, out, x, O, N, I, "norm");
    }
    default:
      return sg_error(SG_ERR_ARG, "norm: dtype %s not supported", sg_dtype_name(x->dtype));
  }
}

static sg_status cuda_logsumexp(sg_tensor *out, const sg_tensor *x, int64_t O, int64_t N,
                                int64_t I) {
  switch (x->dtype) {
    case SG_FLOAT32: return launch_reduce<float>(LseOp<float>(), out, x, O, N, I, "logsumexp");
    case SG_FLOAT64: return launch_reduce<double>(LseOp<double>(), out, x, O, N, I, "logsumexp");
    default:
      return sg_error(SG_ERR_ARG, "logsumexp: dtype %s not supported", sg_dtype_name(x->dtype));
  }
}

// ---------------- take / put along a dim ----------------

template <typename T>
__global__ void take_kernel(T *out, const T *x, const int64_t *idx, int64_t O, int64_t N,
                            int64_t I, int64_t K) {
  int64_t total = O * K * I;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t o = e / (K * I), i = e % I;
    out[e] = x[(o * N + idx[e]) * I + i];
  }
}

// One thread per (o, i) adds its K sources in order: duplicates in idx
// accumulate deterministically, in the CPU's order, without atomics.
template <typename T>
__global__ void put_kernel(T *out, const T *src, const int64_t *idx, int64_t O, int64_t N,
                           int64_t I, int64_t K) {
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < O * I;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t o = e / I, i = e - o * I;
    for (int64_t k = 0; k < K; k++) {
      int64_t s = (o * K + k) * I + i;
      out[(o * N + idx[s]) * I + i] += src[s];
    }
  }
}

template <typename T>
static sg_status along_t(bool put, sg_tensor *out, const sg_tensor *src, const sg_tensor *idx,
                         int64_t O, int64_t N, int64_t I, int64_t K) {
  cudaStream_t st = sg_cuda_stream();
  if (put) {
    SG_CUDA_TRY(cudaMemsetAsync(sg_data_ptr(out), 0, sizeof(T) * (size_t)(O * N * I), st));
    if (O * I * K == 0) return SG_OK;
    put_kernel<T><<<grid_for(O * I), kThreads, 0, st>>>(dptr<T>(out), dptr<const T>(src),
                                                        dptr<const int64_t>(idx), O, N, I, K);
    return SG_CUDA_LAUNCH_CHECK("put_along");
  }
  if (O * K * I == 0) return SG_OK;
  take_kernel<T><<<grid_for(O * K * I), kThreads, 0, st>>>(dptr<T>(out), dptr<const T>(src),
                                                           dptr<const int64_t>(idx), O, N, I, K);
  return SG_CUDA_LAUNCH_CHECK("take_along");
}

static sg_status along(const char *op, bool put, sg_tensor *out, const sg_tensor *src,
                       const sg_tensor *idx, int64_t O, int64_t N, int64_t I, int64_t K) {
  switch (src->dtype) {
    case SG_FLOAT32: return along_t<float>(put, out, src, idx, O, N, I, K);
    case SG_FLOAT64: return along_t<double>(put, out, src, idx, O, N, I, K);
    default:
      return sg_error(SG_ERR_ARG, "%s: dtype %s not supported", op, sg_dtype_name(src->dtype));
  }
}

static sg_status cuda_take_along(sg_tensor *out, const sg_tensor *x, const sg_tensor *idx,
                                 int64_t O, int64_t N, int64_t I, int64_t K) {
  return along("take_along", false, out, x, idx, O, N, I, K);
}

static sg_status cuda_put_along(sg_tensor *out, const sg_tensor *src, const sg_tensor *idx,
                                int64_t O, int64_t N, int64_t I, int64_t K) {
  return along("put_along", true, out, src, idx, O, N, I, K);
}

extern "C" const struct sg_reduce_kernels sg_cuda_reduce_kernels = {
    .minmax = cuda_minmax,
    .var = cuda_var,
    .norm = cuda_norm,
    .logsumexp = cuda_logsumexp,
    .take_along = cuda_take_along,
    .put_along = cuda_put_along,
};
