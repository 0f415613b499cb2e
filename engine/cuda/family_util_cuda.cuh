// Helpers shared by the pool, loss, index and rng kernel files of the CUDA
// backend (pool_cuda.cu, loss_cuda.cu, index_cuda.cu, rng_cuda.cu), C++
// only: exactly rounded arithmetic, deterministic block reductions,
// temporary device buffers, small uploads, and the radix sort used for
// sort / topk / l0_mask and for deterministic scatter-adds.
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

// Number of bits needed to hold values 0..v.
static inline int bits_for(uint64_t v) {
  int b = 0;
  while (b < 64 && (v >> b) != 0) b++;
  return b;
}

}  // namespace sgfam

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
