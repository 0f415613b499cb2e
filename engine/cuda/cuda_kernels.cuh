// The one helper header of the backend's .cu files (C++ only): dtype
// traits, strided geometry, launch configuration (grid_for), block
// reductions, exactly rounded arithmetic, temporary device buffers, order
// keys, and the radix sort / deterministic scatter shared by the index,
// sort, sparse and pool kernels.
//
// Strided work: the host builds a Geom from tensors with the CPU's
// iterator set-up (sg_iter_init: drops size-1 dims and merges dims every
// operand can merge), so a contiguous or broadcast-scalar operand costs one
// dim; the kernel turns the linear index into per-operand offsets. Index
// math is 32-bit when the element count and every offset fit (the common
// case; 64-bit division is several times slower on the GPU).
#ifndef SG_CUDA_KERNELS_CUH
#define SG_CUDA_KERNELS_CUH

#include <stdint.h>

#include <type_traits>

#include "cuda/cuda_internal.h"
extern "C" {
#include "internal/int_arith.h"
#include "internal/iter.h"
#include "internal/tensor_internal.h"
}

namespace sgcuda {

// ---------------- dtypes ----------------
template <int D> struct dtype_of;
template <> struct dtype_of<SG_FLOAT32> { typedef float type; };
template <> struct dtype_of<SG_FLOAT64> { typedef double type; };
template <> struct dtype_of<SG_INT64> { typedef int64_t type; };
template <> struct dtype_of<SG_UINT8> { typedef uint8_t type; };
template <> struct dtype_of<SG_BOOL> { typedef uint8_t type; };  // one byte, 0 or 1

// Value conversion with the CPU backend's rules (elementwise_cpu.c): floats
// saturate into int64 and uint8 (through int64), integers wrap.
template <int DD, typename TS>
__device__ __forceinline__ typename dtype_of<DD>::type convert(TS v) {
  typedef typename dtype_of<DD>::type TD;
  constexpr bool from_float = std::is_floating_point<TS>::value;
  if (DD == SG_BOOL) return (TD)(v != (TS)0);
  if (DD == SG_UINT8) return (TD)(uint8_t)(from_float ? sg_f2i64((double)v) : (int64_t)v);
  if (DD == SG_INT64) return (TD)(from_float ? sg_f2i64((double)v) : (int64_t)v);
  return (TD)v;
}

// ---------------- geometry ----------------
template <int NOPS> struct Geom {
  int ndim;
  int64_t shape[SG_MAX_DIMS];
  int64_t strides[NOPS][SG_MAX_DIMS];  // elements
};

// Geometry of ts[0..NOPS) over `shape` (each broadcast to it), coalesced.
// Returns whether 32-bit index math is safe.
template <int NOPS>
bool make_geom(Geom<NOPS> *g, sg_tensor *const *ts, const int64_t *shape, int ndim) {
  char *data[SG_ITER_MAX_OPS];
  size_t elsize[SG_ITER_MAX_OPS];
  int64_t strides[SG_ITER_MAX_OPS][SG_MAX_DIMS];
  for (int k = 0; k < NOPS; k++) {
    data[k] = NULL;
    elsize[k] = sg_dtype_size(ts[k]->dtype);
    sg_broadcast_strides(ts[k], shape, ndim, strides[k]);
  }
  sg_iter it;
  sg_iter_init(&it, NOPS, shape, ndim, data, elsize, strides);
  g->ndim = it.ndim;
  bool small = it.numel < (INT64_C(1) << 31);
  int64_t span[NOPS];
  for (int k = 0; k < NOPS; k++) span[k] = 0;
  for (int d = 0; d < it.ndim; d++) {
    g->shape[d] = it.shape[d];
    for (int k = 0; k < NOPS; k++) {
      g->strides[k][d] = it.strides[k][d];
      int64_t s = it.strides[k][d] < 0 ? -it.strides[k][d] : it.strides[k][d];
      span[k] += s * (it.shape[d] - 1);  // largest offset reached
    }
  }
  for (int k = 0; k < NOPS; k++)
    if (span[k] >= (INT64_C(1) << 31)) small = false;
  return small;
}

// Offsets of element i (row-major over g.shape) for every operand.
template <int NOPS, typename I>
__device__ __forceinline__ void geom_offsets(const Geom<NOPS> &g, I i, I *off) {
#pragma unroll
  for (int k = 0; k < NOPS; k++) off[k] = 0;
  for (int d = g.ndim - 1; d >= 0; d--) {
    I n = (I)g.shape[d];
    I idx = i % n;
    i /= n;
#pragma unroll
    for (int k = 0; k < NOPS; k++) off[k] += idx * (I)g.strides[k][d];
  }
}

// True when every operand is contiguous in the coalesced geometry (one
// dim, stride 1), or stride 0 for the operands allowed to be scalars.
template <int NOPS>
bool geom_flat(const Geom<NOPS> &g) {
  if (g.ndim != 1) return false;
  for (int k = 0; k < NOPS; k++)
    if (g.strides[k][0] != 1) return false;
  return true;
}

// ---------------- launch configuration ----------------
static const int kThreads = 256;

// Blocks for n work items with a grid-stride loop: enough to fill the GPU
// several times over, never more than needed.
static inline unsigned int grid_for(int64_t n, int threads = kThreads) {
  int64_t want = (n + threads - 1) / threads;
  int64_t cap = (int64_t)sg_cuda_sm_count() * 32;
  if (want > cap) want = cap;
  if (want < 1) want = 1;
  return (unsigned int)want;
}

// Host-side data pointer of a device tensor (storage + offset).
template <typename T> static inline T *dptr(const sg_tensor *t) {
  return (T *)sg_data_ptr(t);
}

// ---------------- block reductions ----------------
// Sum of v over the block, valid in thread 0. `smem` holds 32 values.
// Every thread of the block must call it; it ends with __syncthreads(), so
// smem may be reused right away. The tree is fixed: results do not depend
// on timing.
template <typename T> __device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

template <typename T> __device__ T block_sum(T v, T *smem) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  int nw = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  if (lane == 0) smem[w] = v;
  __syncthreads();
  if (w == 0) {
    v = lane < nw ? smem[lane] : (T)0;
    v = warp_sum(v);
  }
  __syncthreads();
  return v;
}

// Vector of N T's with the alignment of one N*sizeof(T) access.
template <typename T, int N> struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

static inline bool aligned_to(const void *p, size_t a) { return ((uintptr_t)p % a) == 0; }


// Sum of v over the block (blockDim.x a multiple of 32, at most 1024),
// returned to every thread: block_sum's tree, then a broadcast through
// smem[0]. It starts with __syncthreads(), so smem may be reused between
// calls. `smem` holds 32 values.
__device__ __forceinline__ double block_sum_bcast(double v, double *smem) {
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  const int nw = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  __syncthreads();  // smem may still be read by a previous call
  if (lane == 0) smem[w] = v;
  __syncthreads();
  double r = 0;
  if (w == 0) {
    r = lane < nw ? smem[lane] : 0.0;
    r = warp_sum(r);
    if (lane == 0) smem[0] = r;
  }
  __syncthreads();
  return smem[0];
}

// ---------------- deterministic helpers ----------------
// Determinism: nothing here uses floating-point atomics. Reductions run a
// fixed tree over a fixed partition (the grid size depends only on the
// problem size and the GPU's SM count), so a result repeats bit for bit run
// to run on one GPU. Scatter-adds sort the (target, source position) pairs
// with a stable radix sort and add each target's sources in source order,
// which is also the CPU kernels' order.

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

// ---------------- block reductions to every thread ----------------
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

// Item ids of every row of x ([O, n, I] around a dim) ordered by
// descending key (mode: KM_*), ties by lower index: row r's q-th is
// order[r * n + q] (the element c = order % n of that row). `order` gets
// O*I*n int64 (sort_cuda.cu).
sg_status sort_rows(const sg_tensor *x, int64_t O, int64_t n, int64_t I, int mode, DevBuf *order);

// Stable ascending radix sort of n (key, value) pairs on bits
// [0, end_bit) of the keys (sort_cuda.cu). keys_out / vals_out may not
// alias the inputs. Equal keys keep their input order.
sg_status sort_pairs(const uint64_t *keys_in, uint64_t *keys_out, const int64_t *vals_in,
                     int64_t *vals_out, int64_t n, int end_bit);

// Deterministic scatter into contiguous dst (index_cuda.cu): item i
// (0 <= i < n) targets element target[i] of dst (target[i] == skip: none;
// otherwise 0 <= target[i] < skip) with the value src[i] (contiguous, dst's
// dtype). Each target's items are applied in item order: mode 0 sets (the
// last item wins), mode 1 adds (d += s, bool: d |= s != 0). dst keeps its
// values where no item points.
enum { SCATTER_SET = 0, SCATTER_ADD = 1 };
sg_status scatter_by_target(void *dst, sg_dtype dt, const void *src, const uint64_t *target,
                            uint64_t skip, int64_t n, int mode);

}  // namespace sgcuda

// A grid-stride loop over [0, n).
#define GRID_LOOP(i, n) \
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

// Dispatch on a runtime dtype to a compile-time constant D, e.g.
//   SG_CUDA_DTYPE_SWITCH(x->dtype, D, return launch<D>(...));
#define SG_CUDA_DTYPE_SWITCH(dt, D, ...)          \
  switch (dt) {                                   \
    case SG_FLOAT32: {                            \
      const int D = SG_FLOAT32;                   \
      __VA_ARGS__;                                \
    } break;                                      \
    case SG_FLOAT64: {                            \
      const int D = SG_FLOAT64;                   \
      __VA_ARGS__;                                \
    } break;                                      \
    case SG_INT64: {                              \
      const int D = SG_INT64;                     \
      __VA_ARGS__;                                \
    } break;                                      \
    case SG_UINT8: {                              \
      const int D = SG_UINT8;                     \
      __VA_ARGS__;                                \
    } break;                                      \
    case SG_BOOL: {                               \
      const int D = SG_BOOL;                      \
      __VA_ARGS__;                                \
    } break;                                      \
    default: break;                               \
  }

#endif
