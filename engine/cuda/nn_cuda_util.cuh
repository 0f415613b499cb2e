// Small device helpers shared by the blas / conv / norm / linalg kernel
// files (C++ only). Kept apart from cuda_kernels.cuh so that these files
// depend on nothing but cuda_internal.h.
#ifndef SG_CUDA_NN_UTIL_CUH
#define SG_CUDA_NN_UTIL_CUH

#include <stdint.h>

#include "cuda/cuda_internal.h"

namespace sgnn {

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

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024),
// returned to every thread. `smem` holds 32 values. Fixed tree: the result
// does not depend on timing.
__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ double block_sum(double v, double *smem) {
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

}  // namespace sgnn

#endif
