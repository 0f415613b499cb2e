// Batch / instance / layer normalization kernels (norm_cuda.c's slots;
// layouts in internal/kernels_norm.h), with norm_cpu.c's arithmetic:
// statistics two-pass and accumulated in double, the same expressions in
// the data type T for the per-element results.
//
// Group statistics (batch / instance norm) are split over blocks: block
// (g, s) reduces chunk s of group g into a double partial, and a second
// kernel adds the partials of each group in order, so the results do not
// depend on timing. Layer norm uses one block per row; its dw / db column
// sums are split over row chunks the same way.
#include "cuda/cuda_kernels.cuh"
#include "cuda/nn_kernels_cuda.h"

namespace {

using sgcuda::block_sum_bcast;
using sgcuda::grid_for;
using sgcuda::kThreads;

const int64_t kSmall = (int64_t)1 << 31;

// ---------------- group reductions ----------------

enum { RED_SUM = 0, RED_SQDEV = 1, RED_BWD = 2 };

// part[(g * S + s) * 2 + k] for k < 2: partial sums of chunk s of group g.
//   RED_SUM:   sum x
//   RED_SQDEV: sum ((double)x - meand[g])^2
//   RED_BWD:   sum dy, sum dy * (double)(x - mean[g])   (x - mean in T)
template <typename T, typename I, int MODE>
__global__ void group_reduce_kernel(double *part, const T *__restrict__ x,
                                    const T *__restrict__ dy, const double *__restrict__ meand,
                                    const T *__restrict__ mean, I G, I B, I M, I chunk) {
  __shared__ double smem[32];
  const I g = (I)blockIdx.x, s = (I)blockIdx.y, S = (I)gridDim.y;
  const I lo = s * chunk, hi = lo + chunk < M ? lo + chunk : M;
  double a1 = 0, a2 = 0;
  const double md = MODE == RED_SQDEV ? meand[g] : 0.0;
  const T mt = MODE == RED_BWD ? mean[g] : (T)0;
  for (I i = lo + (I)threadIdx.x; i < hi; i += (I)blockDim.x) {
    const I a = i / B, b = i - a * B;
    const I off = (a * G + g) * B + b;
    const T v = x[off];
    if (MODE == RED_SUM) {
      a1 += (double)v;
    } else if (MODE == RED_SQDEV) {
      const double d = (double)v - md;
      a1 += d * d;
    } else {
      const T gv = dy[off];
      a1 += (double)gv;
      a2 += (double)gv * (double)(v - mt);
    }
  }
  a1 = block_sum_bcast(a1, smem);
  if (MODE == RED_BWD) a2 = block_sum_bcast(a2, smem);
  if (threadIdx.x == 0) {
    part[((int64_t)g * S + s) * 2] = a1;
    part[((int64_t)g * S + s) * 2 + 1] = a2;
  }
}

// Sum of the S partials of group g (component k), in order.
__device__ __forceinline__ double part_sum(const double *part, int64_t g, int64_t S, int k) {
  double t = 0;
  for (int64_t s = 0; s < S; s++) t += part[(g * S + s) * 2 + k];
  return t;
}

template <typename T>
__global__ void finish_mean_kernel(T *mean, double *meand, const double *part, int64_t G,
                                   int64_t S, double inv_m) {
  for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < G;
       g += (int64_t)gridDim.x * blockDim.x) {
    const double m = part_sum(part, g, S, 0) * inv_m;
    meand[g] = m;
    mean[g] = (T)m;
  }
}

template <typename T>
__global__ void finish_var_kernel(T *var, const double *part, int64_t G, int64_t S,
                                  double inv_m) {
  for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < G;
       g += (int64_t)gridDim.x * blockDim.x)
    var[g] = (T)(part_sum(part, g, S, 0) * inv_m);
}

// Backward sums and dx coefficients (coef[g * 3 + {0,1,2}] = c_dy, c_x, c_0).
template <typename T>
__global__ void finish_bwd_kernel(T *sdy, T *sdyx, T *coef, const double *part,
                                  const T *__restrict__ invstd, const T *__restrict__ w,
                                  int64_t C, int64_t G, int64_t S, double inv_m) {
  for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < G;
       g += (int64_t)gridDim.x * blockDim.x) {
    const double s1 = part_sum(part, g, S, 0), s2 = part_sum(part, g, S, 1);
    const double is = (double)invstd[g];
    sdy[g] = (T)s1;
    sdyx[g] = (T)(s2 * is);
    if (coef) {
      const double k = is * (w ? (double)w[g % C] : 1.0);
      coef[g * 3] = (T)k;
      coef[g * 3 + 1] = (T)(k * is * is * s2 * inv_m);
      coef[g * 3 + 2] = (T)(k * s1 * inv_m);
    }
  }
}

// ---------------- per-element kernels ----------------

template <typename T, typename I>
__global__ void normalize_kernel(T *y, const T *x, I total, I G, I B, const T *__restrict__ mean,
                                 const T *__restrict__ invstd, const T *__restrict__ w,
                                 const T *__restrict__ bias, I C) {
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    const I g = (i / B) % G;
    const T m = mean[g];
    const T s = invstd[g] * (w ? w[g % C] : (T)1);
    const T sh = bias ? bias[g % C] : (T)0;
    y[i] = (x[i] - m) * s + sh;
  }
}

template <typename T, typename I>
__global__ void norm_dx_kernel(T *dx, const T *__restrict__ dy, const T *__restrict__ x, I total,
                               I G, I B, const T *__restrict__ mean, const T *__restrict__ coef) {
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    const I g = (i / B) % G;
    const T m = mean[g];
    dx[i] = coef[g * 3] * dy[i] - coef[g * 3 + 1] * (x[i] - m) - coef[g * 3 + 2];
  }
}

// ---------------- layer norm ----------------

template <typename T>
__global__ void layer_norm_kernel(T *y, T *mean, T *invstd, const T *__restrict__ x, int64_t R,
                                  int64_t D, const T *__restrict__ w, const T *__restrict__ bias,
                                  double eps) {
  __shared__ double smem[32];
  const double inv_d = 1.0 / (double)D;
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const T *p = x + r * D;
    T *q = y + r * D;
    double s = 0;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) s += (double)p[d];
    s = block_sum_bcast(s, smem);
    const double m = s * inv_d;
    double v = 0;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
      const double e = (double)p[d] - m;
      v += e * e;
    }
    v = block_sum_bcast(v, smem);
    const double is = 1.0 / sqrt(v * inv_d + eps);
    if (threadIdx.x == 0) {
      mean[r] = (T)m;
      invstd[r] = (T)is;
    }
    const T mt = (T)m, it = (T)is;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
      T t = (p[d] - mt) * it;
      if (w) t = t * w[d];
      if (bias) t = t + bias[d];
      q[d] = t;
    }
  }
}

template <typename T>
__global__ void layer_norm_dx_kernel(T *dx, const T *__restrict__ dy, const T *__restrict__ x,
                                     const T *__restrict__ mean, const T *__restrict__ invstd,
                                     const T *__restrict__ w, int64_t R, int64_t D) {
  __shared__ double smem[32];
  const double inv_d = 1.0 / (double)D;
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const T *g = dy + r * D, *p = x + r * D;
    const T m = mean[r], is = invstd[r];
    double c1 = 0, c2 = 0;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
      const double gw = w ? (double)g[d] * (double)w[d] : (double)g[d];
      c1 += gw;
      c2 += gw * (double)(p[d] - m);
    }
    c1 = block_sum_bcast(c1, smem);
    c2 = block_sum_bcast(c2, smem);
    const T k1 = (T)(c1 * inv_d), k2 = (T)(c2 * (double)is * (double)is * inv_d);
    T *q = dx + r * D;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
      const T gw = w ? g[d] * w[d] : g[d];
      q[d] = is * (gw - k1 - (p[d] - m) * k2);
    }
  }
}

// part[(s * 2 + {0,1}) * D + d]: partial dw / db of column d over row chunk s.
template <typename T>
__global__ void layer_norm_dwdb_kernel(double *part, const T *__restrict__ dy,
                                       const T *__restrict__ x, const T *__restrict__ mean,
                                       const T *__restrict__ invstd, int64_t R, int64_t D,
                                       int64_t chunk) {
  const int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t s = blockIdx.y;
  if (d >= D) return;
  const int64_t r0 = s * chunk, r1 = r0 + chunk < R ? r0 + chunk : R;
  double aw = 0, ab = 0;
  for (int64_t r = r0; r < r1; r++) {
    const T g = dy[r * D + d];
    aw += (double)g * (double)((x[r * D + d] - mean[r]) * invstd[r]);
    ab += (double)g;
  }
  part[(s * 2) * D + d] = aw;
  part[(s * 2 + 1) * D + d] = ab;
}

template <typename T>
__global__ void layer_norm_dwdb_finish(T *dw, T *db, const double *part, int64_t D, int64_t S) {
  for (int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; d < D;
       d += (int64_t)gridDim.x * blockDim.x) {
    double aw = 0, ab = 0;
    for (int64_t s = 0; s < S; s++) {
      aw += part[(s * 2) * D + d];
      ab += part[(s * 2 + 1) * D + d];
    }
    if (dw) dw[d] = (T)aw;
    if (db) db[d] = (T)ab;
  }
}

// ---------------- host side ----------------

// Blocks per group: enough blocks overall to fill the GPU, each with at
// least 4 elements per thread.
int64_t chunks_for(int64_t G, int64_t M) {
  int64_t target = (int64_t)sg_cuda_sm_count() * 8;
  int64_t S = (target + G - 1) / G;
  int64_t most = (M + kThreads * 4 - 1) / (kThreads * 4);
  if (S > most) S = most;
  if (S > 65535) S = 65535;
  if (S < 1) S = 1;
  return S;
}

struct DevBuf {
  void *p;
  size_t n;
  DevBuf() : p(NULL), n(0) {}
  bool get(size_t bytes) {
    n = bytes > 0 ? bytes : 1;
    p = sg_cuda_alloc(n);
    return p != NULL;
  }
  ~DevBuf() {
    if (p) sg_cuda_free(p, n);
  }
};

template <typename T, typename I, int MODE>
sg_status launch_reduce(double *part, const T *x, const T *dy, const double *meand,
                        const T *mean, int64_t A, int64_t G, int64_t B, int64_t S) {
  const int64_t M = A * B, chunk = (M + S - 1) / S;
  dim3 grid((unsigned int)G, (unsigned int)S);
  group_reduce_kernel<T, I, MODE><<<grid, kThreads, 0, sg_cuda_stream()>>>(
      part, x, dy, meand, mean, (I)G, (I)B, (I)M, (I)chunk);
  return SG_CUDA_LAUNCH_CHECK("group_reduce_kernel");
}

template <typename T, int MODE>
sg_status reduce_any(double *part, const T *x, const T *dy, const double *meand, const T *mean,
                     int64_t A, int64_t G, int64_t B, int64_t S) {
  if (A * G * B < kSmall) return launch_reduce<T, uint32_t, MODE>(part, x, dy, meand, mean, A, G, B, S);
  return launch_reduce<T, int64_t, MODE>(part, x, dy, meand, mean, A, G, B, S);
}

sg_status too_many_groups(int64_t G) {
  return sg_error(SG_ERR_UNSUPPORTED, "batch_norm: %lld groups is too many for the CUDA kernel",
                  (long long)G);
}

template <typename T>
sg_status moments_t(T *mean, T *var, const T *x, int64_t A, int64_t G, int64_t B) {
  if (G > INT32_MAX) return too_many_groups(G);
  const int64_t S = chunks_for(G, A * B);
  const double inv_m = 1.0 / (double)(A * B);
  DevBuf part, meand;
  if (!part.get(sizeof(double) * (size_t)(G * S * 2)) || !meand.get(sizeof(double) * (size_t)G))
    return sg_last_status();
  double *pp = (double *)part.p, *md = (double *)meand.p;
  sg_status st = reduce_any<T, RED_SUM>(pp, x, NULL, NULL, NULL, A, G, B, S);
  if (st != SG_OK) return st;
  finish_mean_kernel<T><<<grid_for(G), kThreads, 0, sg_cuda_stream()>>>(mean, md, pp, G, S, inv_m);
  if ((st = SG_CUDA_LAUNCH_CHECK("finish_mean_kernel")) != SG_OK) return st;
  st = reduce_any<T, RED_SQDEV>(pp, x, NULL, md, NULL, A, G, B, S);
  if (st != SG_OK) return st;
  finish_var_kernel<T><<<grid_for(G), kThreads, 0, sg_cuda_stream()>>>(var, pp, G, S, inv_m);
  return SG_CUDA_LAUNCH_CHECK("finish_var_kernel");
}

template <typename T>
sg_status normalize_t(T *y, const T *x, int64_t A, int64_t G, int64_t B, const T *mean,
                      const T *invstd, const T *w, const T *b, int64_t C) {
  const int64_t total = A * G * B;
  if (total == 0) return SG_OK;
  if (total < kSmall)
    normalize_kernel<T, uint32_t><<<grid_for(total), kThreads, 0, sg_cuda_stream()>>>(
        y, x, (uint32_t)total, (uint32_t)G, (uint32_t)B, mean, invstd, w, b, (uint32_t)C);
  else
    normalize_kernel<T, int64_t><<<grid_for(total), kThreads, 0, sg_cuda_stream()>>>(
        y, x, total, G, B, mean, invstd, w, b, C);
  return SG_CUDA_LAUNCH_CHECK("normalize_kernel");
}

template <typename T>
sg_status backward_t(T *dx, T *sdy, T *sdyx, const T *dy, const T *x, int64_t A, int64_t G,
                     int64_t B, const T *mean, const T *invstd, const T *w, int64_t C) {
  if (G > INT32_MAX) return too_many_groups(G);
  const int64_t S = chunks_for(G, A * B);
  const double inv_m = 1.0 / (double)(A * B);
  DevBuf part, coef;
  if (!part.get(sizeof(double) * (size_t)(G * S * 2))) return sg_last_status();
  if (dx && !coef.get(sizeof(T) * (size_t)(G * 3))) return sg_last_status();
  double *pp = (double *)part.p;
  sg_status st = reduce_any<T, RED_BWD>(pp, x, dy, NULL, mean, A, G, B, S);
  if (st != SG_OK) return st;
  finish_bwd_kernel<T><<<grid_for(G), kThreads, 0, sg_cuda_stream()>>>(
      sdy, sdyx, dx ? (T *)coef.p : NULL, pp, invstd, w, C, G, S, inv_m);
  if ((st = SG_CUDA_LAUNCH_CHECK("finish_bwd_kernel")) != SG_OK || !dx) return st;
  const int64_t total = A * G * B;
  if (total < kSmall)
    norm_dx_kernel<T, uint32_t><<<grid_for(total), kThreads, 0, sg_cuda_stream()>>>(
        dx, dy, x, (uint32_t)total, (uint32_t)G, (uint32_t)B, mean, (const T *)coef.p);
  else
    norm_dx_kernel<T, int64_t><<<grid_for(total), kThreads, 0, sg_cuda_stream()>>>(
        dx, dy, x, total, G, B, mean, (const T *)coef.p);
  return SG_CUDA_LAUNCH_CHECK("norm_dx_kernel");
}

// Threads per row: a warp multiple covering D, at most 512.
int row_threads(int64_t D) {
  if (D >= 512) return 512;
  int t = (int)((D + 31) / 32) * 32;
  return t < 32 ? 32 : t;
}

unsigned int row_blocks(int64_t R) {
  int64_t cap = (int64_t)sg_cuda_sm_count() * 16;
  if (cap > 65535 * 16) cap = 65535 * 16;
  return (unsigned int)(R < cap ? (R > 0 ? R : 1) : cap);
}

template <typename T>
sg_status layer_norm_t(T *y, T *mean, T *invstd, const T *x, int64_t R, int64_t D, const T *w,
                       const T *b, double eps) {
  layer_norm_kernel<T><<<row_blocks(R), row_threads(D), 0, sg_cuda_stream()>>>(
      y, mean, invstd, x, R, D, w, b, eps);
  return SG_CUDA_LAUNCH_CHECK("layer_norm_kernel");
}

template <typename T>
sg_status layer_norm_backward_t(T *dx, T *dw, T *db, const T *dy, const T *x, const T *mean,
                                const T *invstd, const T *w, int64_t R, int64_t D) {
  sg_status st = SG_OK;
  if (R == 0) {
    if (dw) st = SG_CUDA_CHECK(cudaMemsetAsync(dw, 0, sizeof(T) * (size_t)D, sg_cuda_stream()));
    if (st == SG_OK && db)
      st = SG_CUDA_CHECK(cudaMemsetAsync(db, 0, sizeof(T) * (size_t)D, sg_cuda_stream()));
    return st;
  }
  if (dx) {
    layer_norm_dx_kernel<T><<<row_blocks(R), row_threads(D), 0, sg_cuda_stream()>>>(
        dx, dy, x, mean, invstd, w, R, D);
    if ((st = SG_CUDA_LAUNCH_CHECK("layer_norm_dx_kernel")) != SG_OK) return st;
  }
  if (!dw && !db) return SG_OK;
  const int64_t cols = (D + kThreads - 1) / kThreads;
  int64_t S = ((int64_t)sg_cuda_sm_count() * 8 + cols - 1) / cols;
  const int64_t most = (R + 63) / 64;  // at least 64 rows per chunk
  if (S > most) S = most;
  if (S > 65535) S = 65535;
  if (S < 1) S = 1;
  if (cols > INT32_MAX) return sg_error(SG_ERR_UNSUPPORTED, "layer_norm backward: rows too long");
  const int64_t chunk = (R + S - 1) / S;
  DevBuf part;
  if (!part.get(sizeof(double) * (size_t)(2 * S * D))) return sg_last_status();
  dim3 grid((unsigned int)cols, (unsigned int)S);
  layer_norm_dwdb_kernel<T><<<grid, kThreads, 0, sg_cuda_stream()>>>((double *)part.p, dy, x,
                                                                      mean, invstd, R, D, chunk);
  if ((st = SG_CUDA_LAUNCH_CHECK("layer_norm_dwdb_kernel")) != SG_OK) return st;
  layer_norm_dwdb_finish<T><<<grid_for(D), kThreads, 0, sg_cuda_stream()>>>(
      dw, db, (const double *)part.p, D, S);
  return SG_CUDA_LAUNCH_CHECK("layer_norm_dwdb_finish");
}

sg_status bad_dtype(const char *what, sg_dtype dt) {
  return sg_error(SG_ERR_UNSUPPORTED, "%s: dtype %s not supported on cuda", what,
                  sg_dtype_name(dt));
}

}  // namespace

extern "C" sg_status sg_cuda_norm_moments(sg_dtype dt, void *mean, void *var, const void *x,
                                          int64_t A, int64_t G, int64_t B) {
  if (dt == SG_FLOAT32)
    return moments_t<float>((float *)mean, (float *)var, (const float *)x, A, G, B);
  if (dt == SG_FLOAT64)
    return moments_t<double>((double *)mean, (double *)var, (const double *)x, A, G, B);
  return bad_dtype("norm moments", dt);
}

extern "C" sg_status sg_cuda_norm_normalize(sg_dtype dt, void *y, const void *x, int64_t A,
                                            int64_t G, int64_t B, const void *mean,
                                            const void *invstd, const void *w, const void *b,
                                            int64_t C) {
  if (dt == SG_FLOAT32)
    return normalize_t<float>((float *)y, (const float *)x, A, G, B, (const float *)mean,
                              (const float *)invstd, (const float *)w, (const float *)b, C);
  if (dt == SG_FLOAT64)
    return normalize_t<double>((double *)y, (const double *)x, A, G, B, (const double *)mean,
                               (const double *)invstd, (const double *)w, (const double *)b, C);
  return bad_dtype("normalize", dt);
}

extern "C" sg_status sg_cuda_norm_backward(sg_dtype dt, void *dx, void *sum_dy,
                                           void *sum_dy_xhat, const void *dy, const void *x,
                                           int64_t A, int64_t G, int64_t B, const void *mean,
                                           const void *invstd, const void *w, int64_t C) {
  if (dt == SG_FLOAT32)
    return backward_t<float>((float *)dx, (float *)sum_dy, (float *)sum_dy_xhat,
                             (const float *)dy, (const float *)x, A, G, B, (const float *)mean,
                             (const float *)invstd, (const float *)w, C);
  if (dt == SG_FLOAT64)
    return backward_t<double>((double *)dx, (double *)sum_dy, (double *)sum_dy_xhat,
                              (const double *)dy, (const double *)x, A, G, B,
                              (const double *)mean, (const double *)invstd, (const double *)w, C);
  return bad_dtype("norm backward", dt);
}

extern "C" sg_status sg_cuda_layer_norm(sg_dtype dt, void *y, void *mean, void *invstd,
                                        const void *x, int64_t R, int64_t D, const void *w,
                                        const void *b, double eps) {
  if (dt == SG_FLOAT32)
    return layer_norm_t<float>((float *)y, (float *)mean, (float *)invstd, (const float *)x, R, D,
                               (const float *)w, (const float *)b, eps);
  if (dt == SG_FLOAT64)
    return layer_norm_t<double>((double *)y, (double *)mean, (double *)invstd, (const double *)x,
                                R, D, (const double *)w, (const double *)b, eps);
  return bad_dtype("layer_norm", dt);
}

extern "C" sg_status sg_cuda_layer_norm_backward(sg_dtype dt, void *dx, void *dw, void *db,
                                                 const void *dy, const void *x, const void *mean,
                                                 const void *invstd, const void *w, int64_t R,
                                                 int64_t D) {
  if (dt == SG_FLOAT32)
    return layer_norm_backward_t<float>((float *)dx, (float *)dw, (float *)db, (const float *)dy,
                                        (const float *)x, (const float *)mean,
                                        (const float *)invstd, (const float *)w, R, D);
  if (dt == SG_FLOAT64)
    return layer_norm_backward_t<double>((double *)dx, (double *)dw, (double *)db,
                                         (const double *)dy, (const double *)x,
                                         (const double *)mean, (const double *)invstd,
                                         (const double *)w, R, D);
  return bad_dtype("layer_norm backward", dt);
}
