// int64 matrix product (cuBLAS has none): one thread per output element,
// a plain dot product over K with the operands' strides. Wrapping int64
// arithmetic, like the CPU loop in blas_cpu.c.
#include "cuda/cuda_kernels.cuh"
#include "cuda/nn_kernels_cuda.h"

namespace {

struct MMInt {
  int64_t M, N, K, sam, sak, sbk, sbn;
  int nbd;
  int64_t bshape[SG_MAX_DIMS], bsa[SG_MAX_DIMS], bsb[SG_MAX_DIMS];
};

__global__ void matmul_int64_kernel(int64_t *c, const int64_t *a, const int64_t *b, MMInt p,
                                    int64_t total) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t j = i % p.N, r = (i / p.N) % p.M, bi = i / (p.N * p.M);
    int64_t oa = 0, ob = 0;
    for (int d = p.nbd - 1; d >= 0; d--) {
      int64_t k = bi % p.bshape[d];
      bi /= p.bshape[d];
      oa += k * p.bsa[d];
      ob += k * p.bsb[d];
    }
    const int64_t *ar = a + oa + r * p.sam;
    const int64_t *bc = b + ob + j * p.sbn;
    // unsigned accumulation: wraps like the CPU's int64 loop, without UB
    uint64_t s = 0;
    for (int64_t k = 0; k < p.K; k++) s += (uint64_t)ar[k * p.sak] * (uint64_t)bc[k * p.sbk];
    c[i] = (int64_t)s;
  }
}

}  // namespace

extern "C" sg_status sg_cuda_matmul_int64(int64_t *c, const int64_t *a, const int64_t *b,
                                          int64_t M, int64_t N, int64_t K, int64_t sam,
                                          int64_t sak, int64_t sbk, int64_t sbn, int nbd,
                                          const int64_t *bshape, const int64_t *bsa,
                                          const int64_t *bsb) {
  MMInt p;
  p.M = M;
  p.N = N;
  p.K = K;
  p.sam = sam;
  p.sak = sak;
  p.sbk = sbk;
  p.sbn = sbn;
  p.nbd = nbd;
  int64_t nb = 1;
  for (int d = 0; d < SG_MAX_DIMS; d++) {
    p.bshape[d] = d < nbd ? bshape[d] : 1;
    p.bsa[d] = d < nbd ? bsa[d] : 0;
    p.bsb[d] = d < nbd ? bsb[d] : 0;
    if (d < nbd) nb *= bshape[d];
  }
  int64_t total = nb * M * N;
  if (total == 0) return SG_OK;
  matmul_int64_kernel<<<sgcuda::grid_for(total), sgcuda::kThreads, 0, sg_cuda_stream()>>>(
      c, a, b, p, total);
  return SG_CUDA_LAUNCH_CHECK("matmul_int64_kernel");
}
