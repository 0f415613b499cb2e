// CUDA kernels of the rng family (internal/kernels_rng.h): the Philox
// stream of docs/rng.md, bit for bit the CPU's.
//
// The scalar building blocks (Philox4x32-10, the uniform / log / sincos /
// Box-Muller / mulhi64 transforms) are the very functions of
// kernels_rng.h, compiled for the device by defining SG_RNG_FN as
// __host__ __device__ before including it. They are plain IEEE arithmetic;
// identical bits need no FMA contraction (this file is compiled with
// -fmad=false, see CMakeLists.txt; the expressions written here also use
// the _rn intrinsics), correctly rounded division and square root (nvcc's
// defaults) and no fast-math.
//
// One thread per Philox block: element i of an output is a function of
// (seed, offset, i) only, as on the CPU. randperm's swaps are sequential:
// the permutation is computed on the host with the same stream and
// uploaded (docs/rng.md allows either).
#include <math.h>
#include <stdlib.h>

#define SG_RNG_FN static inline __host__ __device__
extern "C" {
#include "internal/kernels_rng.h"
}
#include "cuda/cuda_kernels.cuh"

using namespace sgcuda;

// Philox blocks for n values at `per` values per block.
__host__ __device__ static inline int64_t nblocks(int64_t n, int per) { return (n + per - 1) / per; }

#define BLOCK_LOOP(b, nb) \
  for (int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; b < (nb); b += (int64_t)gridDim.x * blockDim.x)

// ---------------- uniform ----------------

__global__ void uniform_f32_k(float *out, int64_t n, uint64_t seed, uint64_t offset) {
  BLOCK_LOOP(b, nblocks(n, 4)) {
    uint32_t w[4];
    sg_rng_block(seed, offset + (uint64_t)b, w);
    for (int k = 0; k < 4; k++) {
      int64_t i = 4 * b + k;
      if (i < n) out[i] = sg_rng_u01_f32(w[k]);
    }
  }
}

__global__ void uniform_f64_k(double *out, int64_t n, uint64_t seed, uint64_t offset) {
  BLOCK_LOOP(b, nblocks(n, 2)) {
    uint32_t w[4];
    sg_rng_block(seed, offset + (uint64_t)b, w);
    for (int k = 0; k < 2; k++) {
      int64_t i = 2 * b + k;
      if (i < n) out[i] = sg_rng_u01_f64(w[2 * k], w[2 * k + 1]);
    }
  }
}

static sg_status cuda_uniform(sg_tensor *out, uint64_t seed, uint64_t offset) {
  int64_t n = sg_numel(out);
  if (n == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  if (out->dtype == SG_FLOAT32)
    uniform_f32_k<<<grid_for(nblocks(n, 4)), 256, 0, st>>>(dptr<float>(out), n, seed, offset);
  else if (out->dtype == SG_FLOAT64)
    uniform_f64_k<<<grid_for(nblocks(n, 2)), 256, 0, st>>>(dptr<double>(out), n, seed, offset);
  else
    return sg_error(SG_ERR_ARG, "rng uniform kernel: dtype %s", sg_dtype_name(out->dtype));
  return SG_CUDA_LAUNCH_CHECK("rand kernel");
}

// ---------------- normal ----------------

// (r * c) * std + mean, each operation rounded (the CPU's expression)
__device__ __forceinline__ float affine(float r, float c, float sd, float mean) {
  return __fadd_rn(__fmul_rn(__fmul_rn(r, c), sd), mean);
}
__device__ __forceinline__ double affine(double r, double c, double sd, double mean) {
  return __dadd_rn(__dmul_rn(__dmul_rn(r, c), sd), mean);
}

__global__ void normal_f32_k(float *out, int64_t n, float mean, float sd, uint64_t seed,
                             uint64_t offset) {
  BLOCK_LOOP(b, nblocks(n, 4)) {
    uint32_t w[4];
    sg_rng_block(seed, offset + (uint64_t)b, w);
    for (int k = 0; k < 2; k++) {  // pairs (w0, w1), (w2, w3)
      float r = __fsqrt_rn(sg_rng_bm_r2_f32(w[2 * k]));
      float s, c;
      sg_rng_sincos_turn_f32(w[2 * k + 1], &s, &c);
      int64_t i = 4 * b + 2 * k;
      if (i < n) out[i] = affine(r, c, sd, mean);
      if (i + 1 < n) out[i + 1] = affine(r, s, sd, mean);
    }
  }
}

__global__ void normal_f64_k(double *out, int64_t n, double mean, double sd, uint64_t seed,
                             uint64_t offset) {
  BLOCK_LOOP(b, nblocks(n, 2)) {
    uint32_t w[4];
    sg_rng_block(seed, offset + (uint64_t)b, w);
    double r = __dsqrt_rn(sg_rng_bm_r2_f64(w[0], w[1]));
    double s, c;
    sg_rng_sincos_turn_f64(w[2], w[3], &s, &c);
    int64_t i = 2 * b;
    if (i < n) out[i] = affine(r, c, sd, mean);
    if (i + 1 < n) out[i + 1] = affine(r, s, sd, mean);
  }
}

static sg_status cuda_normal(sg_tensor *out, double mean, double std, uint64_t seed,
                             uint64_t offset) {
  int64_t n = sg_numel(out);
  if (n == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  if (out->dtype == SG_FLOAT32)
    normal_f32_k<<<grid_for(nblocks(n, 4)), 256, 0, st>>>(dptr<float>(out), n, (float)mean,
                                                            (float)std, seed, offset);
  else if (out->dtype == SG_FLOAT64)
    normal_f64_k<<<grid_for(nblocks(n, 2)), 256, 0, st>>>(dptr<double>(out), n, mean, std, seed,
                                                            offset);
  else
    return sg_error(SG_ERR_ARG, "rng normal kernel: dtype %s", sg_dtype_name(out->dtype));
  return SG_CUDA_LAUNCH_CHECK("randn kernel");
}

// ---------------- randint ----------------

template <int D>
__global__ void randint_k(typename dtype_of<D>::type *out, int64_t n, int64_t low, uint64_t range,
                          uint64_t seed, uint64_t offset) {
  typedef typename dtype_of<D>::type T;
  BLOCK_LOOP(b, nblocks(n, 2)) {
    uint32_t w[4];
    sg_rng_block(seed, offset + (uint64_t)b, w);
    for (int k = 0; k < 2; k++) {
      int64_t i = 2 * b + k;
      if (i >= n) break;
      uint64_t x = (uint64_t)w[2 * k] | ((uint64_t)w[2 * k + 1] << 32);
      int64_t r = (int64_t)((uint64_t)low + sg_rng_mulhi64(x, range));
      if (D == SG_BOOL) out[i] = (T)(r != 0);
      else if (D == SG_UINT8) out[i] = (T)(uint8_t)r;
      else out[i] = (T)r;
    }
  }
}

static sg_status cuda_randint(sg_tensor *out, int64_t low, uint64_t range, uint64_t seed,
                              uint64_t offset) {
  int64_t n = sg_numel(out);
  if (n == 0) return SG_OK;
  unsigned int nb = grid_for(nblocks(n, 2));
  cudaStream_t st = sg_cuda_stream();
  switch (out->dtype) {
    case SG_INT64:
      randint_k<SG_INT64><<<nb, 256, 0, st>>>(dptr<int64_t>(out), n, low, range, seed, offset);
      break;
    case SG_FLOAT64:
      randint_k<SG_FLOAT64><<<nb, 256, 0, st>>>(dptr<double>(out), n, low, range, seed, offset);
      break;
    case SG_FLOAT32:
      randint_k<SG_FLOAT32><<<nb, 256, 0, st>>>(dptr<float>(out), n, low, range, seed, offset);
      break;
    case SG_UINT8:
      randint_k<SG_UINT8><<<nb, 256, 0, st>>>(dptr<uint8_t>(out), n, low, range, seed, offset);
      break;
    case SG_BOOL:
      randint_k<SG_BOOL><<<nb, 256, 0, st>>>(dptr<uint8_t>(out), n, low, range, seed, offset);
      break;
    default: return sg_error(SG_ERR_ARG, "rng randint kernel: dtype %d", (int)out->dtype);
  }
  return SG_CUDA_LAUNCH_CHECK("randint kernel");
}

// ---------------- bernoulli ----------------

template <typename T>
__global__ void check_prob_k(const T *p, int64_t n, unsigned long long *bad) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    if (!(p[i] >= (T)0 && p[i] <= (T)1)) atomicMin(bad, (unsigned long long)i);
}

static sg_status cuda_check_prob(const sg_tensor *p, int64_t *bad_index, double *bad_value) {
  int64_t n = sg_numel(p);
  *bad_index = -1;
  *bad_value = 0;
  if (p->dtype != SG_FLOAT32 && p->dtype != SG_FLOAT64)
    return sg_error(SG_ERR_ARG, "rng check_prob kernel: dtype %s", sg_dtype_name(p->dtype));
  if (n == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  DevBuf flag;
  sg_status s = flag.alloc(sizeof(unsigned long long));
  if (s != SG_OK) return s;
  SG_CUDA_TRY(cudaMemsetAsync(flag.p, 0xff, sizeof(unsigned long long), st));
  if (p->dtype == SG_FLOAT32)
    check_prob_k<float><<<grid_for(n), 256, 0, st>>>(dptr<float>(p), n,
                                                       flag.as<unsigned long long>());
  else
    check_prob_k<double><<<grid_for(n), 256, 0, st>>>(dptr<double>(p), n,
                                                        flag.as<unsigned long long>());
  s = SG_CUDA_LAUNCH_CHECK("bernoulli check kernel");
  if (s != SG_OK) return s;
  unsigned long long pos;
  s = sg_cuda_memcpy_d2h(&pos, flag.p, sizeof pos);
  if (s != SG_OK) return s;
  if (pos == ~0ull) return SG_OK;
  if (p->dtype == SG_FLOAT32) {
    float v;
    s = sg_cuda_memcpy_d2h(&v, dptr<float>(p) + pos, sizeof v);
    *bad_value = v;
  } else {
    double v;
    s = sg_cuda_memcpy_d2h(&v, dptr<double>(p) + pos, sizeof v);
    *bad_value = v;
  }
  if (s != SG_OK) return s;
  *bad_index = (int64_t)pos;
  return SG_OK;
}

__global__ void bernoulli_f32_k(float *out, const float *p, int64_t n, uint64_t seed,
                                uint64_t offset) {
  BLOCK_LOOP(b, nblocks(n, 4)) {
    uint32_t w[4];
    sg_rng_block(seed, offset + (uint64_t)b, w);
    for (int k = 0; k < 4; k++) {
      int64_t i = 4 * b + k;
      if (i < n) out[i] = sg_rng_u01_f32(w[k]) < p[i] ? 1.0f : 0.0f;
    }
  }
}

__global__ void bernoulli_f64_k(double *out, const double *p, int64_t n, uint64_t seed,
                                uint64_t offset) {
  BLOCK_LOOP(b, nblocks(n, 2)) {
    uint32_t w[4];
    sg_rng_block(seed, offset + (uint64_t)b, w);
    for (int k = 0; k < 2; k++) {
      int64_t i = 2 * b + k;
      if (i < n) out[i] = sg_rng_u01_f64(w[2 * k], w[2 * k + 1]) < p[i] ? 1.0 : 0.0;
    }
  }
}

static sg_status cuda_bernoulli(sg_tensor *out, const sg_tensor *p, uint64_t seed,
                                uint64_t offset) {
  int64_t n = sg_numel(out);
  cudaStream_t st = sg_cuda_stream();
  if (out->dtype == SG_FLOAT32 && p->dtype == SG_FLOAT32) {
    if (n == 0) return SG_OK;
    bernoulli_f32_k<<<grid_for(nblocks(n, 4)), 256, 0, st>>>(dptr<float>(out), dptr<float>(p), n,
                                                               seed, offset);
  } else if (out->dtype == SG_FLOAT64 && p->dtype == SG_FLOAT64) {
    if (n == 0) return SG_OK;
    bernoulli_f64_k<<<grid_for(nblocks(n, 2)), 256, 0, st>>>(dptr<double>(out),
                                                                dptr<double>(p), n, seed, offset);
  } else {
    return sg_error(SG_ERR_ARG, "rng bernoulli kernel: dtype %s", sg_dtype_name(out->dtype));
  }
  return SG_CUDA_LAUNCH_CHECK("bernoulli kernel");
}

// ceil(p * 2^24): a 24-bit word k = w >> 8 satisfies k * 2^-24 < p iff k < it
// (rng_cpu.c's prob_threshold).
static uint32_t prob_threshold(double p) {
  if (!(p > 0.0)) return 0;
  if (p >= 1.0) return UINT32_C(1) << 24;
  return (uint32_t)ceil(p * 16777216.0);
}

template <typename T>
__global__ void bscalar_k(T *out, int64_t n, uint32_t thr, uint64_t seed, uint64_t offset) {
  BLOCK_LOOP(b, nblocks(n, 4)) {
    uint32_t w[4];
    sg_rng_block(seed, offset + (uint64_t)b, w);
    for (int k = 0; k < 4; k++) {
      int64_t i = 4 * b + k;
      if (i < n) out[i] = (T)((w[k] >> 8) < thr);
    }
  }
}

static sg_status cuda_bernoulli_scalar(sg_tensor *out, double p, uint64_t seed, uint64_t offset) {
  int64_t n = sg_numel(out);
  uint32_t thr = prob_threshold(p);
  unsigned int nb = grid_for(nblocks(n, 4));
  cudaStream_t st = sg_cuda_stream();
  if (n == 0) return SG_OK;
  switch (out->dtype) {
    case SG_FLOAT32:
      bscalar_k<float><<<nb, 256, 0, st>>>(dptr<float>(out), n, thr, seed, offset);
      break;
    case SG_FLOAT64:
      bscalar_k<double><<<nb, 256, 0, st>>>(dptr<double>(out), n, thr, seed, offset);
      break;
    case SG_INT64:
      bscalar_k<int64_t><<<nb, 256, 0, st>>>(dptr<int64_t>(out), n, thr, seed, offset);
      break;
    case SG_UINT8:
    case SG_BOOL:
      bscalar_k<uint8_t><<<nb, 256, 0, st>>>(dptr<uint8_t>(out), n, thr, seed, offset);
      break;
    default: return sg_error(SG_ERR_ARG, "rng bernoulli kernel: dtype %d", (int)out->dtype);
  }
  return SG_CUDA_LAUNCH_CHECK("bernoulli kernel");
}

// ---------------- dropout ----------------

template <typename T>
__global__ void dropout_k(T *out, T *mask, const T *x, int64_t n, uint32_t thr, T scale,
                          uint64_t seed, uint64_t offset) {
  BLOCK_LOOP(b, nblocks(n, 4)) {
    uint32_t w[4];
    sg_rng_block(seed, offset + (uint64_t)b, w);
    for (int k = 0; k < 4; k++) {
      int64_t i = 4 * b + k;
      if (i >= n) break;
      T m = (w[k] >> 8) >= thr ? scale : (T)0;
      out[i] = mul_rn(x[i], m);
      if (mask) mask[i] = m;
    }
  }
}

static sg_status cuda_dropout(sg_tensor *out, sg_tensor *mask, const sg_tensor *x, double p,
                              uint64_t seed, uint64_t offset) {
  int64_t n = sg_numel(out);
  uint32_t thr = prob_threshold(p);
  double scale = 1.0 / (1.0 - p);
  unsigned int nb = grid_for(nblocks(n, 4));
  cudaStream_t st = sg_cuda_stream();
  if (x->dtype == SG_FLOAT32) {
    if (n == 0) return SG_OK;
    dropout_k<float><<<nb, 256, 0, st>>>(dptr<float>(out), mask ? dptr<float>(mask) : NULL,
                                         dptr<float>(x), n, thr, (float)scale, seed, offset);
  } else if (x->dtype == SG_FLOAT64) {
    if (n == 0) return SG_OK;
    dropout_k<double><<<nb, 256, 0, st>>>(dptr<double>(out), mask ? dptr<double>(mask) : NULL,
                                          dptr<double>(x), n, thr, scale, seed, offset);
  } else {
    return sg_error(SG_ERR_ARG, "rng dropout kernel: dtype %s", sg_dtype_name(x->dtype));
  }
  return SG_CUDA_LAUNCH_CHECK("dropout kernel");
}

// ---------------- randperm ----------------

// Fisher-Yates with the CPU's draws (rng_cpu.c), on the host, uploaded.
static sg_status cuda_randperm(sg_tensor *out, uint64_t seed, uint64_t offset) {
  int64_t n = sg_numel(out);
  if (n == 0) return SG_OK;
  int64_t *a = (int64_t *)malloc(sizeof(int64_t) * (size_t)n);
  if (!a) return sg_error(SG_ERR_MEM, "randperm: out of host memory for %lld entries", (long long)n);
  for (int64_t i = 0; i < n; i++) a[i] = i;
  uint32_t w[4];
  int64_t cached = -1;
  for (int64_t i = n - 1; i >= 1; i--) {
    if (i / 2 != cached) {
      cached = i / 2;
      sg_rng_block(seed, offset + (uint64_t)cached, w);
    }
    int k = (int)(i % 2) * 2;
    uint64_t x = (uint64_t)w[k] | ((uint64_t)w[k + 1] << 32);
    int64_t j = (int64_t)sg_rng_mulhi64(x, (uint64_t)i + 1);
    int64_t t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  sg_status s = sg_cuda_memcpy_h2d(dptr<int64_t>(out), a, sizeof(int64_t) * (size_t)n);
  free(a);
  return s;
}

extern "C" const struct sg_rng_kernels sg_cuda_rng_kernels = {
    .uniform = cuda_uniform,
    .normal = cuda_normal,
    .randint = cuda_randint,
    .check_prob = cuda_check_prob,
    .bernoulli = cuda_bernoulli,
    .bernoulli_scalar = cuda_bernoulli_scalar,
    .dropout = cuda_dropout,
    .randperm = cuda_randperm,
};
