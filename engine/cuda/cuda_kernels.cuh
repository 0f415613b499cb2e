// Device-side helpers shared by the backend's .cu files (C++ only):
// dtype traits, strided geometry and launch configuration.
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

#include "cuda/cuda_internal.h"
extern "C" {
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

// Value conversion with the CPU backend's rules (elementwise_cpu.c).
template <int DD, typename TS>
__device__ __forceinline__ typename dtype_of<DD>::type convert(TS v) {
  typedef typename dtype_of<DD>::type TD;
  if (DD == SG_BOOL) return (TD)(v != (TS)0);
  if (DD == SG_UINT8) return (TD)(uint8_t)(int64_t)v;  // via int64: negatives wrap
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

}  // namespace sgcuda

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
