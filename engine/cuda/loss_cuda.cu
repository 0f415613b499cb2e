// CUDA kernels of the loss family (internal/kernels_loss.h): the MSE / L1
// fused reductions and their gradients, and the class-target check of
// nll_loss.
//
// Semantics follow engine/cpu/loss_cpu.c. Reductions are deterministic: a fixed partition and a fixed tree (block
// reductions, then one block over the per-block partials), no atomics, so
// a result repeats bit for bit run to run on one GPU. It is not bitwise the
// CPU's (different summation order).
#include <limits.h>
#include <math.h>

#include "cuda/cuda_kernels.cuh"
extern "C" {
#include "internal/kernels_loss.h"
}

using namespace sgcuda;

// ---------------- MSE / L1 ----------------

// pass 1: partial[b] = the block's sum over its grid-stride elements
template <typename T>
__global__ void pw_sum_k(double *partial, const T *x, const T *t, int64_t n, bool mse) {
  __shared__ double sm[32];
  double s = 0;
  GRID_LOOP(j, n) {
    double d = (double)x[j] - (double)t[j];
    s = mse ? add_rn(s, mul_rn(d, d)) : s + fabs(d);
  }
  s = block_sum_all(s, sm);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// pass 2 (one block): out[0] = sum of the partials
__global__ void sum_partials_k(double *out, const double *partial, int np) {
  __shared__ double sm[32];
  double s = 0;
  for (int j = threadIdx.x; j < np; j += blockDim.x) s += partial[j];
  s = block_sum_all(s, sm);
  if (threadIdx.x == 0) out[0] = s;
}

template <typename T>
static sg_status pw_sum_t(sg_pointwise_loss kind, const sg_tensor *x, const sg_tensor *t,
                          double *out) {
  int64_t n = sg_numel(x);
  *out = 0;
  if (n == 0) return SG_OK;
  unsigned int nb = grid_for(n);
  DevBuf buf;
  sg_status s = buf.alloc(sizeof(double) * (nb + 1));
  if (s != SG_OK) return s;
  double *partial = buf.as<double>() + 1;
  cudaStream_t st = sg_cuda_stream();
  pw_sum_k<T><<<nb, 256, 0, st>>>(partial, dptr<T>(x), dptr<T>(t), n, kind == SG_LOSS_MSE);
  s = SG_CUDA_LAUNCH_CHECK("loss sum kernel");
  if (s != SG_OK) return s;
  sum_partials_k<<<1, 256, 0, st>>>(buf.as<double>(), partial, (int)nb);
  s = SG_CUDA_LAUNCH_CHECK("loss sum kernel (final)");
  if (s != SG_OK) return s;
  return sg_cuda_memcpy_d2h(out, buf.p, sizeof(double));
}

template <typename T>
__global__ void pw_grad_k(T *gx, const T *x, const T *t, int64_t n, T c, bool mse) {
  GRID_LOOP(j, n) {
    T d = x[j] - t[j];
    gx[j] = mse ? c * d : c * (T)((d > 0) - (d < 0));
  }
}

template <typename T>
static sg_status pw_grad_t(sg_pointwise_loss kind, sg_tensor *gx, const sg_tensor *x,
                           const sg_tensor *t, double scale) {
  int64_t n = sg_numel(x);
  if (n == 0) return SG_OK;
  bool mse = kind == SG_LOSS_MSE;
  T c = mse ? (T)(2.0 * scale) : (T)scale;
  pw_grad_k<T><<<grid_for(n), 256, 0, sg_cuda_stream()>>>(dptr<T>(gx), dptr<T>(x), dptr<T>(t), n,
                                                            c, mse);
  return SG_CUDA_LAUNCH_CHECK("loss backward kernel");
}

static sg_status cuda_pointwise_sum(sg_pointwise_loss kind, const sg_tensor *x,
                                    const sg_tensor *t, double *out) {
  switch (x->dtype) {
    case SG_FLOAT32: return pw_sum_t<float>(kind, x, t, out);
    case SG_FLOAT64: return pw_sum_t<double>(kind, x, t, out);
    default:
      return sg_error(SG_ERR_ARG, "loss: dtype %s not supported", sg_dtype_name(x->dtype));
  }
}

static sg_status cuda_pointwise_grad(sg_pointwise_loss kind, sg_tensor *gx, const sg_tensor *x,
                                     const sg_tensor *t, double scale) {
  switch (x->dtype) {
    case SG_FLOAT32: return pw_grad_t<float>(kind, gx, x, t, scale);
    case SG_FLOAT64: return pw_grad_t<double>(kind, gx, x, t, scale);
    default:
      return sg_error(SG_ERR_ARG, "loss backward: dtype %s not supported",
                      sg_dtype_name(x->dtype));
  }
}

// ---------------- nll_loss targets ----------------

struct NllStats {
  double wsum;
  long long n_ignored;
  long long first_bad;  // LLONG_MAX: none
};

__device__ __forceinline__ long long warp_min_ll(long long v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    long long u = __shfl_xor_sync(0xffffffffu, v, o);
    v = u < v ? u : v;
  }
  return v;
}

__device__ long long block_min_ll(long long v, long long *smem) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_min_ll(v);
  __syncthreads();
  if (lane == 0) smem[w] = v;
  __syncthreads();
  v = lane < nw ? smem[lane] : LLONG_MAX;
  return warp_min_ll(v);
}

// Sums of one block's statistics into st[blockIdx.x].
__device__ void nll_block_stats(NllStats *st, double ws, long long ni, long long bad) {
  __shared__ double sd[32];
  __shared__ long long sl[32];
  ws = block_sum_all(ws, sd);
  ni = block_sum_all(ni, sl);
  bad = block_min_ll(bad, sl);
  if (threadIdx.x == 0) {
    st[blockIdx.x].wsum = ws;
    st[blockIdx.x].n_ignored = ni;
    st[blockIdx.x].first_bad = bad;
  }
}

template <typename T>
__global__ void nll_prep_k(NllStats *partial, int64_t *safe, T *w, const int64_t *tg,
                           const T *weight, int64_t M, int64_t C, int64_t ignore,
                           int64_t base) {
  double ws = 0;
  long long ni = 0, bad = LLONG_MAX;
  GRID_LOOP(m, M) {
    int64_t v = tg[m];
    if (v == ignore) {
      safe[m] = 0;
      w[m] = (T)0;
      ni++;
    } else if (v < base || (uint64_t)v - (uint64_t)base >= (uint64_t)C) {
      safe[m] = 0;  // the unsigned difference: v - base overflows no int64
      w[m] = (T)0;
      bad = m < bad ? m : bad;
    } else {
      int64_t c = (int64_t)((uint64_t)v - (uint64_t)base);
      T wv = weight ? weight[c] : (T)1;
      safe[m] = c;
      w[m] = wv;
      ws += (double)wv;
    }
  }
  nll_block_stats(partial, ws, ni, bad);
}

__global__ void nll_final_k(NllStats *out, const NllStats *partial, int np) {
  double ws = 0;
  long long ni = 0, bad = LLONG_MAX;
  for (int j = threadIdx.x; j < np; j += blockDim.x) {
    ws += partial[j].wsum;
    ni += partial[j].n_ignored;
    bad = partial[j].first_bad < bad ? partial[j].first_bad : bad;
  }
  nll_block_stats(out, ws, ni, bad);
}

template <typename T>
static sg_status nll_prep_t(sg_tensor *safe_idx, sg_tensor *w, const sg_tensor *target,
                            const sg_tensor *weight, int64_t C, int64_t ignore, int64_t base,
                            int64_t *bad, double *wsum, int64_t *n_ignored) {
  int64_t M = sg_numel(target);
  *bad = -1;
  *wsum = 0;
  *n_ignored = 0;
  if (M == 0) return SG_OK;
  unsigned int nb = grid_for(M);
  DevBuf buf;
  sg_status s = buf.alloc(sizeof(NllStats) * (nb + 1));
  if (s != SG_OK) return s;
  NllStats *partial = buf.as<NllStats>() + 1;
  cudaStream_t st = sg_cuda_stream();
  nll_prep_k<T><<<nb, 256, 0, st>>>(partial, dptr<int64_t>(safe_idx), dptr<T>(w),
                                    dptr<int64_t>(target), weight ? dptr<T>(weight) : NULL, M, C,
                                    ignore, base);
  s = SG_CUDA_LAUNCH_CHECK("nll_loss target kernel");
  if (s != SG_OK) return s;
  nll_final_k<<<1, 256, 0, st>>>(buf.as<NllStats>(), partial, (int)nb);
  s = SG_CUDA_LAUNCH_CHECK("nll_loss target kernel (final)");
  if (s != SG_OK) return s;
  NllStats r;
  s = sg_cuda_memcpy_d2h(&r, buf.p, sizeof r);
  if (s != SG_OK) return s;
  *wsum = r.wsum;
  *n_ignored = (int64_t)r.n_ignored;
  *bad = r.first_bad == LLONG_MAX ? -1 : (int64_t)r.first_bad;
  return SG_OK;
}

static sg_status cuda_nll_prepare(sg_tensor *safe_idx, sg_tensor *w, const sg_tensor *target,
                                  const sg_tensor *weight, int64_t C, int64_t ignore_index,
                                  int64_t label_base, int64_t *bad, double *wsum,
                                  int64_t *n_ignored) {
  switch (w->dtype) {
    case SG_FLOAT32:
      return nll_prep_t<float>(safe_idx, w, target, weight, C, ignore_index, label_base, bad, wsum,
                                 n_ignored);
    case SG_FLOAT64:
      return nll_prep_t<double>(safe_idx, w, target, weight, C, ignore_index, label_base, bad, wsum,
                                 n_ignored);
    default:
      return sg_error(SG_ERR_ARG, "nll_loss: dtype %s not supported", sg_dtype_name(w->dtype));
  }
}

extern "C" const struct sg_loss_kernels sg_cuda_loss_kernels = {
    .pointwise_sum = cuda_pointwise_sum,
    .pointwise_grad = cuda_pointwise_grad,
    .nll_prepare = cuda_nll_prepare,
};
