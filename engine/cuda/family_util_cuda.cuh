// Helpers shared by the pool, resample, softmax, loss, index, sort, sparse
// and rng kernel files of the CUDA backend, C++ only: exactly rounded
// arithmetic, deterministic block reductions, temporary device buffers,
// small uploads, order keys, and the radix sort used for sort / topk /
// l0_mask and for deterministic scatter-adds.
//
// Determinism: nothing here uses floating-point atomics. Reductions run a
// fixed tree over a fixed partition (the grid size depends only on the
// problem size and the GPU's SM count), so a result repeats bit for bit run
// to run on one GPU. Scatter-adds sort the (target, source position) pairs
// with a stable radix sort and add each target's sources in source order,
// which is also the CPU kernels' order.
#ifndef SG_CUDA_FAMILY_UTIL_CUH
#define SG_CUDA_FAMILY_UTIL_CUH

#include <stdint.h>

#include "cuda/cuda_kernels.cuh"

namespace sgfam {

// ---------------- exactly rounded arithmetic ----------------
// nvcc contracts a * b + c into one FMA by default; the CPU kernels are
// built without contraction (-std=c11). These force separately rounded
// operations where the CPU's rounding is mirrored.
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double sub_rn(double a, double b) { return __dsub_rn(a, b); }

// ---------------- block reductions ----------------
// Every thread of the block calls these with blockDim.x a multiple of 32
// (at most 1024); the result is returned to every thread. smem holds 32
// values. A fixed tree: the result does not depend on timing.
template <typename T> __device__ __forceinline__ T warp_sum_all(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <typename T> __device__ __forceinline__ T warp_max_all(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    T u = __shfl_xor_sync(0xffffffffu, v, o);
    v = u > v ? u : v;  // as the CPU's `x > m ? x : m`: NaN is skipped
  }
  return v;
}

template <typename T> __device__ T block_sum_all(T v, T *smem) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum_all(v);
  __syncthreads();  // smem may still be read by a previous call
  if (lane == 0) smem[w] = v;
  __syncthreads();
  v = lane < nw ? smem[lane] : (T)0;
  return warp_sum_all(v);
}

template <typename T> __device__ T block_max_all(T v, T *smem, T lowest) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_max_all(v);
  __syncthreads();
  if (lane == 0) smem[w] = v;
  __syncthreads();
  v = lane < nw ? smem[lane] : lowest;
  return warp_max_all(v);
}

// ---------------- temporary device memory ----------------
// Device memory from the caching allocator, freed at scope exit (stream
// ordered: kernels queued before the free still see it).
struct DevBuf {
  void *p;
  size_t n;
  DevBuf() : p(NULL), n(0) {}
  ~DevBuf() { release(); }
  // SG_OK, or the allocator's error. A zero-byte request gets 1 byte.
  sg_status alloc(size_t nbytes) {
    release();
    n = nbytes ? nbytes : 1;
    p = sg_cuda_alloc(n);
    if (!p) {
      n = 0;
      return sg_last_status() != SG_OK ? sg_last_status() : SG_ERR_MEM;
    }
    return SG_OK;
  }
  void release() {
    if (p) sg_cuda_free(p, n);
    p = NULL;
    n = 0;
  }
  template <typename T> T *as() const { return (T *)p; }
  DevBuf(const DevBuf &) = delete;
  DevBuf &operator=(const DevBuf &) = delete;
};

// Copies nbytes of host memory into a new device buffer.
static inline sg_status upload(DevBuf *b, const void *host, size_t nbytes) {
  sg_status s = b->alloc(nbytes);
  if (s != SG_OK) return s;
  return sg_cuda_memcpy_h2d(b->p, host, nbytes);
}

// Blocks for a grid-stride loop over n items.
static inline unsigned int blocks_for(int64_t n, int threads = 256) {
  return sgcuda::grid_for(n, threads);
}

// [outer, n, inner] view around dim (0-dim counts as [1, 1, 1]).
static inline void dim_split(const sg_tensor *t, int dim, int64_t *outer, int64_t *n, int64_t *inner) {
  *outer = 1;
  *inner = 1;
  *n = t->ndim ? t->shape[dim] : 1;
  for (int d = 0; d < dim && d < t->ndim; d++) *outer *= t->shape[d];
  for (int d = dim + 1; d < t->ndim; d++) *inner *= t->shape[d];
}

// ---------------- order keys ----------------
// The unsigned integer order of a key is the wanted order of the values
// (NaN above +inf, -0 == +0; KM_ABS: |v|), as the CPU's (select_cpu.h).
enum { KM_LARGEST = 0, KM_SMALLEST = 1, KM_ABS = 2 };

__device__ __forceinline__ uint32_t key_f32(float v, int mode) {
  uint32_t b;
  if (mode == KM_ABS) {
    b = __float_as_uint(v) & 0x7fffffffu;
    return b > 0x7f800000u ? 0x7f800001u : b;  // every NaN just above inf
  }
  float w = v == 0.0f ? 0.0f : v;  // -0 -> +0
  b = __float_as_uint(w);
  b ^= (uint32_t)((int32_t)b >> 31) | 0x80000000u;
  b = v != v ? 0xffffffffu : b;
  return mode == KM_SMALLEST ? ~b : b;
}

__device__ __forceinline__ uint64_t key_f64(double v, int mode) {
  uint64_t b;
  if (mode == KM_ABS) {
    b = (uint64_t)__double_as_longlong(v) & 0x7fffffffffffffffull;
    return b > 0x7ff0000000000000ull ? 0x7ff0000000000001ull : b;
  }
  double w = v == 0.0 ? 0.0 : v;
  b = (uint64_t)__double_as_longlong(w);
  b ^= (uint64_t)((int64_t)b >> 63) | 0x8000000000000000ull;
  b = v != v ? ~0ull : b;
  return mode == KM_SMALLEST ? ~b : b;
}

__device__ __forceinline__ uint64_t key_i64(int64_t v, int mode) {
  if (mode == KM_ABS) return v < 0 ? 0ull - (uint64_t)v : (uint64_t)v;
  uint64_t b = (uint64_t)v ^ 0x8000000000000000ull;
  return mode == KM_SMALLEST ? ~b : b;
}

__device__ __forceinline__ uint32_t key_u8(uint8_t v, int mode) {
  return mode == KM_SMALLEST ? ~(uint32_t)v : (uint32_t)v;
}

// The key of element v of dtype T (32-bit keys widened).
template <typename T> struct Key;
template <> struct Key<float> {
  static const int bits = 32;
  __device__ static uint64_t of(float v, int m) { return key_f32(v, m); }
};
template <> struct Key<double> {
  static const int bits = 64;
  __device__ static uint64_t of(double v, int m) { return key_f64(v, m); }
};
template <> struct Key<int64_t> {
  static const int bits = 64;
  __device__ static uint64_t of(int64_t v, int m) { return key_i64(v, m); }
};
template <> struct Key<uint8_t> {
  static const int bits = 32;
  __device__ static uint64_t of(uint8_t v, int m) { return key_u8(v, m); }
};

// Number of bits needed to hold values 0..v.
static inline int bits_for(uint64_t v) {
  int b = 0;
  while (b < 64 && (v >> b) != 0) b++;
  return b;
}

}  // namespace sgfam

// A grid-stride loop over [0, n).
#define GRID_LOOP(i, n) \
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

// Item ids of every row of x ([O, n, I] around a dim) ordered by
// descending key (mode: KM_*), ties by lower index: row r's q-th is
// order[r * n + q] (the element c = order % n of that row). `order` gets
// O*I*n int64 (sort_cuda.cu).
sg_status sgfam_sort_rows(const sg_tensor *x, int64_t O, int64_t n, int64_t I, int mode,
                          sgfam::DevBuf *order);

// Stable ascending radix sort of n (key, value) pairs on bits
// [0, end_bit) of the keys (index_cuda.cu). keys_out / vals_out may not
// alias the inputs. Equal keys keep their input order.
sg_status sgfam_sort_pairs(const uint64_t *keys_in, uint64_t *keys_out, const int64_t *vals_in,
                           int64_t *vals_out, int64_t n, int end_bit);

// Deterministic scatter into contiguous dst (index_cuda.cu): item i
// (0 <= i < n) targets element target[i] of dst (target[i] == skip: none;
// otherwise 0 <= target[i] < skip) with the value src[i] (contiguous, dst's
// dtype). Each target's items are applied in item order: mode 0 sets (the
// last item wins), mode 1 adds (d += s, bool: d |= s != 0). dst keeps its
// values where no item points.
enum { SGFAM_SCATTER_SET = 0, SGFAM_SCATTER_ADD = 1 };
sg_status sgfam_scatter_by_target(void *dst, sg_dtype dt, const void *src,
                                  const uint64_t *target, uint64_t skip, int64_t n, int mode);

#endif
