// CUDA kernels of the sparse family (internal/kernels_sparse.h): the
// sparsity masks (l0 per sample, l0inf per needle) and the thresholds.
//
// Semantics follow engine/cpu/sparse_cpu.c (|x| order keys of
// cuda_kernels.cuh; among equal keys the lower index is kept):
//  - l0_mask sorts each sample's (row, ~key) pairs with the stable radix
//    sort of sort_cuda.cu and keeps the first k;
//  - l0inf_mask is a dedicated kernel: a block holds the |x| keys of 32
//    needles in shared memory and one warp per needle finds the k-th
//    largest key bit by bit with warp ballots (radix select), then the
//    block writes mask / out coalesced.
#include "cuda/cuda_kernels.cuh"
extern "C" {
#include "internal/kernels_sparse.h"
#include "internal/tensor_internal.h"
}

using namespace sgcuda;

// ======================= mask outputs =======================

// Where the masks go: mask8 (bool / uint8) or maskT (x's dtype), and out.
template <typename T> struct MaskOut {
  uint8_t *m8;
  T *mT;
  T *out;
};

template <typename T> static MaskOut<T> mask_out(sg_tensor *mask, sg_tensor *out) {
  MaskOut<T> m = {NULL, NULL, NULL};
  if (mask && (mask->dtype == SG_BOOL || mask->dtype == SG_UINT8)) m.m8 = dptr<uint8_t>(mask);
  else if (mask) m.mT = dptr<T>(mask);
  if (out) m.out = dptr<T>(out);
  return m;
}

template <typename T>
__device__ __forceinline__ void mask_write(const MaskOut<T> &m, int64_t pos, bool keep, T v) {
  if (m.m8) m.m8[pos] = keep;
  if (m.mT) m.mT[pos] = keep ? (T)1 : (T)0;
  if (m.out) m.out[pos] = keep ? v : (T)0;
}

// ======================= l0: per sample =======================

// the first k of each sorted sample are kept (mask and out zeroed before)
template <typename T>
__global__ void l0_keep_k(MaskOut<T> m, const T *x, const int64_t *order, int64_t M, int64_t k,
                          int64_t total) {
  GRID_LOOP(e, total) {
    int64_t s = e / k, q = e % k;
    int64_t pos = s * M + order[s * M + q] % M;
    mask_write(m, pos, true, x[pos]);
  }
}

template <typename T>
static sg_status l0_impl(sg_tensor *mask, sg_tensor *out, const sg_tensor *x, int64_t k) {
  int64_t N = x->shape[0], M = N ? sg_numel(x) / N : 0;
  if (M == 0 || N == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  if (mask) SG_CUDA_TRY(cudaMemsetAsync(dptr<char>(mask), 0, (size_t)(N * M) * sg_dtype_size(mask->dtype), st));
  if (out) SG_CUDA_TRY(cudaMemsetAsync(dptr<char>(out), 0, sizeof(T) * (size_t)(N * M), st));
  DevBuf order;
  sg_status s = sort_rows(x, N, M, 1, KM_ABS, &order);
  if (s != SG_OK) return s;
  int64_t total = N * k;
  l0_keep_k<T><<<grid_for(total), 256, 0, st>>>(mask_out<T>(mask, out), dptr<T>(x),
                                                  order.as<int64_t>(), M, k, total);
  return SG_CUDA_LAUNCH_CHECK("l0_mask kernel");
}

static sg_status cuda_l0_mask(sg_tensor *mask, sg_tensor *out, const sg_tensor *x, int64_t k) {
  switch (x->dtype) {
    case SG_FLOAT32: return l0_impl<float>(mask, out, x, k);
    case SG_FLOAT64: return l0_impl<double>(mask, out, x, k);
    default: return sg_error(SG_ERR_ARG, "l0_mask: dtype %s is not supported", sg_dtype_name(x->dtype));
  }
}

// ======================= l0inf: per needle =======================

// x is [O, C, I] (C along dim); needle u = o * I + i has the C entries
// x[(o * C + c) * I + i]. A block takes 32 consecutive needles. With SMEM
// their |x| keys are staged in shared memory (keys[c * 33 + t], padded
// against bank conflicts); otherwise the warps read x directly.
//
// Per needle (one warp): thr = the k-th largest key, found from the top
// bit down (`need` counts how many keys >= the current prefix are still
// to be kept), then cut = the channel of the need-th key equal to thr in
// channel order. Kept: key > thr, or key == thr and c <= cut.
static const int L0INF_TILE = 32;
static const int L0INF_WARPS = 8;

template <typename T, typename UK, bool SMEM>
__global__ void l0inf_k(MaskOut<T> m, const T *x, int64_t C, int64_t I, int64_t needles,
                        int64_t k) {
  extern __shared__ __align__(16) unsigned char l0inf_smem[];
  UK *thr_s = (UK *)l0inf_smem;                       // [32]
  int64_t *cut_s = (int64_t *)(thr_s + L0INF_TILE);   // [32]
  UK *keys = (UK *)(cut_s + L0INF_TILE);              // [C * 33] when SMEM
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int nthreads = blockDim.x;
  const int64_t u0 = (int64_t)blockIdx.x * L0INF_TILE;
  const int KB = (int)(sizeof(UK) * 8);

  if (SMEM) {
    for (int64_t e = tid; e < C * L0INF_TILE; e += nthreads) {
      int64_t c = e / L0INF_TILE, t = e % L0INF_TILE, u = u0 + t;
      UK key = 0;
      if (u < needles) {
        int64_t o = u / I, i = u % I;
        key = (UK)Key<T>::of(x[(o * C + c) * I + i], KM_ABS);
      }
      keys[c * 33 + t] = key;
    }
    __syncthreads();
  }

  for (int t = warp; t < L0INF_TILE; t += L0INF_WARPS) {
    int64_t u = u0 + t;
    if (u >= needles) break;  // uniform across the warp
    int64_t o = u / I, i = u % I;
    const T *xn = x + o * C * I + i;
    UK prefix = 0, hi = 0;
    int64_t need = k;
    for (int b = KB - 1; b >= 0; b--) {
      const UK bit = (UK)1 << b;
      int64_t ones = 0;
      for (int64_t c0 = 0; c0 < C; c0 += 32) {
        int64_t c = c0 + lane;
        bool p = false;
        if (c < C) {
          UK key = SMEM ? keys[c * 33 + t] : (UK)Key<T>::of(xn[c * I], KM_ABS);
          p = (key & hi) == prefix && (key & bit) != 0;
        }
        ones += __popc(__ballot_sync(0xffffffffu, p));
      }
      if (ones >= need) prefix |= bit;
      else need -= ones;
      hi |= bit;
    }
    // the need-th key equal to prefix, in channel order
    int64_t cut = C - 1;
    for (int64_t c0 = 0; c0 < C; c0 += 32) {
      int64_t c = c0 + lane;
      bool p = false;
      if (c < C) {
        UK key = SMEM ? keys[c * 33 + t] : (UK)Key<T>::of(xn[c * I], KM_ABS);
        p = key == prefix;
      }
      unsigned int bal = __ballot_sync(0xffffffffu, p);
      int cnt = __popc(bal);
      if (need <= cnt) {
        for (int64_t r = 1; r < need; r++) bal &= bal - 1;
        cut = c0 + (__ffs(bal) - 1);
        break;
      }
      need -= cnt;
    }
    if (lane == 0) {
      thr_s[t] = prefix;
      cut_s[t] = cut;
    }
  }
  __syncthreads();

  // outputs, coalesced over the needles of the tile
  for (int64_t e = tid; e < C * L0INF_TILE; e += nthreads) {
    int64_t c = e / L0INF_TILE, t = e % L0INF_TILE, u = u0 + t;
    if (u >= needles) continue;
    int64_t o = u / I, i = u % I, pos = (o * C + c) * I + i;
    T v = x[pos];
    UK key = SMEM ? keys[c * 33 + t] : (UK)Key<T>::of(v, KM_ABS);
    bool keep = key > thr_s[t] || (key == thr_s[t] && c <= cut_s[t]);
    mask_write(m, pos, keep, v);
  }
}

template <typename T, typename UK>
static sg_status l0inf_impl(sg_tensor *mask, sg_tensor *out, const sg_tensor *x, int64_t k,
                            int dim) {
  int64_t O, C, I;
  dim_split(x, dim, &O, &C, &I);
  int64_t needles = O * I;
  if (needles == 0 || C == 0) return SG_OK;
  int64_t blocks = (needles + L0INF_TILE - 1) / L0INF_TILE;
  if (blocks > 0x7fffffff) return sg_error(SG_ERR_UNSUPPORTED, "l0inf_mask: too many needles");
  size_t head = L0INF_TILE * (sizeof(UK) + sizeof(int64_t));
  size_t smem = head + (size_t)C * 33 * sizeof(UK);
  cudaStream_t st = sg_cuda_stream();
  MaskOut<T> mo = mask_out<T>(mask, out);
  if (smem <= 40 * 1024)
    l0inf_k<T, UK, true><<<(unsigned int)blocks, L0INF_WARPS * 32, smem, st>>>(mo, dptr<T>(x), C,
                                                                               I, needles, k);
  else
    l0inf_k<T, UK, false><<<(unsigned int)blocks, L0INF_WARPS * 32, head, st>>>(mo, dptr<T>(x), C,
                                                                                I, needles, k);
  return SG_CUDA_LAUNCH_CHECK("l0inf_mask kernel");
}

static sg_status cuda_l0inf_mask(sg_tensor *mask, sg_tensor *out, const sg_tensor *x, int64_t k,
                                 int dim) {
  switch (x->dtype) {
    case SG_FLOAT32: return l0inf_impl<float, uint32_t>(mask, out, x, k, dim);
    case SG_FLOAT64: return l0inf_impl<double, uint64_t>(mask, out, x, k, dim);
    default:
      return sg_error(SG_ERR_ARG, "l0inf_mask: dtype %s is not supported", sg_dtype_name(x->dtype));
  }
}

// ======================= thresholds =======================

template <typename T>
__global__ void threshold_k(T *out, T *mask, const T *x, int64_t n, T lam, bool soft) {
  GRID_LOOP(i, n) {
    T v = x[i];
    if (soft) {
      T c = v < -lam ? -lam : v;
      c = c > lam ? lam : c;
      out[i] = v - c;
    } else {
      out[i] = (v < 0 ? -v : v) <= lam ? (T)0 : v;
    }
    if (mask) mask[i] = (v < 0 ? -v : v) > lam ? (T)1 : (T)0;
  }
}

static sg_status cuda_threshold(sg_tensor *out, sg_tensor *mask, const sg_tensor *x, double lambda,
                                bool soft) {
  int64_t n = sg_numel(x);
  if (n == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  if (x->dtype == SG_FLOAT32)
    threshold_k<float><<<grid_for(n), 256, 0, st>>>(dptr<float>(out),
                                                      mask ? dptr<float>(mask) : NULL,
                                                      dptr<float>(x), n, (float)lambda, soft);
  else if (x->dtype == SG_FLOAT64)
    threshold_k<double><<<grid_for(n), 256, 0, st>>>(dptr<double>(out),
                                                       mask ? dptr<double>(mask) : NULL,
                                                       dptr<double>(x), n, lambda, soft);
  else
    return sg_error(SG_ERR_ARG, "threshold: dtype %s is not supported", sg_dtype_name(x->dtype));
  return SG_CUDA_LAUNCH_CHECK("threshold kernel");
}

// operands: out (contiguous), x, lambda (broadcast); sgn has out's layout
template <typename T>
__global__ void soft_t_k(T *out, T *sgn, const T *x, const T *lam_p, Geom<3> g, int64_t n) {
  GRID_LOOP(e, n) {
    int64_t off[3];
    geom_offsets<3, int64_t>(g, e, off);
    T v = x[off[1]], lam = lam_p[off[2]];
    T sg = (T)((v > 0) - (v < 0));
    T a = v < 0 ? -v : v;
    T shrunk = sub_rn(v, mul_rn(sg, lam));
    out[off[0]] = a > lam ? shrunk : (a <= lam ? (T)0 : v);
    if (sgn) sgn[off[0]] = a > lam ? sg : (T)0;
  }
}

static sg_status cuda_soft_threshold_t(sg_tensor *out, sg_tensor *sgn, const sg_tensor *x,
                                       const sg_tensor *lambda) {
  int64_t n = sg_numel(out);
  if (n == 0) return SG_OK;
  Geom<3> g;
  sg_tensor *ts[3] = {out, (sg_tensor *)x, (sg_tensor *)lambda};
  make_geom<3>(&g, ts, out->shape, out->ndim);
  cudaStream_t st = sg_cuda_stream();
  if (x->dtype == SG_FLOAT32)
    soft_t_k<float><<<grid_for(n), 256, 0, st>>>(dptr<float>(out), sgn ? dptr<float>(sgn) : NULL,
                                                   dptr<float>(x), dptr<float>(lambda), g, n);
  else if (x->dtype == SG_FLOAT64)
    soft_t_k<double><<<grid_for(n), 256, 0, st>>>(dptr<double>(out),
                                                    sgn ? dptr<double>(sgn) : NULL,
                                                    dptr<double>(x), dptr<double>(lambda), g, n);
  else
    return sg_error(SG_ERR_ARG, "soft_threshold: dtype %s is not supported",
                    sg_dtype_name(x->dtype));
  return SG_CUDA_LAUNCH_CHECK("soft_threshold kernel");
}

extern "C" const struct sg_sparse_kernels sg_cuda_sparse_kernels = {
    .l0_mask = cuda_l0_mask,
    .l0inf_mask = cuda_l0inf_mask,
    .threshold = cuda_threshold,
    .soft_threshold_t = cuda_soft_threshold_t,
};
