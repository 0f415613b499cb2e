// CUDA kernels of the sum family (internal/kernels_sum.h): the sum over
// dims. The semantics follow engine/cpu/sum_cpu.c.
#include "cuda/cuda_kernels.cuh"
extern "C" {
#include "internal/kernels_sum.h"
}

using namespace sgcuda;

// ---------------- sum over dims ----------------
//
// As on the CPU, the reduced dims are brought into the form
// out[k] = sum over (a, r) of x[a][k][r] (a: outer reduced block, k: kept
// block, r: inner reduced block), permuting into a contiguous copy when the
// layout is not of that form. float32 accumulates in double (see
// docs/decisions.md), int64 in int64. Long reductions are split across
// blocks writing partial sums that a second kernel adds in a fixed order, so
// results are deterministic.

// Rows (r contiguous, or the whole of x when K == 1). Block (k, s) sums the
// a-range [s*chunk, ...) (A > 1) or the r-range [s*chunk, ...) (A == 1).
template <typename T, typename ACC>
__global__ void sum_rows_kernel(const T *x, ACC *partial, T *out, int64_t A, int64_t K,
                                int64_t R, int64_t chunk, int nsplit) {
  __shared__ ACC smem[32];
  int64_t k = blockIdx.x;
  int s = blockIdx.y;
  ACC acc = 0;
  if (A == 1) {
    int64_t r0 = (int64_t)s * chunk, r1 = r0 + chunk < R ? r0 + chunk : R;
    const T *row = x + k * R;
    for (int64_t r = r0 + threadIdx.x; r < r1; r += blockDim.x) acc += (ACC)row[r];
  } else {
    int64_t a0 = (int64_t)s * chunk, a1 = a0 + chunk < A ? a0 + chunk : A;
    if (R >= (int64_t)blockDim.x) {
      for (int64_t a = a0; a < a1; a++) {
        const T *row = x + (a * K + k) * R;
        for (int64_t r = threadIdx.x; r < R; r += blockDim.x) acc += (ACC)row[r];
      }
    } else {  // short rows: walk (a, r) pairs
      for (int64_t j = a0 * R + threadIdx.x; j < a1 * R; j += blockDim.x) {
        int64_t a = j / R, r = j - a * R;
        acc += (ACC)x[(a * K + k) * R + r];
      }
    }
  }
  acc = block_sum(acc, smem);
  if (threadIdx.x == 0) {
    if (nsplit == 1)
      out[k] = (T)acc;
    else
      partial[k * nsplit + s] = acc;
  }
}

template <typename T, typename ACC>
__global__ void sum_rows_finish(const ACC *partial, T *out, int64_t K, int nsplit) {
  for (int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; k < K;
       k += (int64_t)gridDim.x * blockDim.x) {
    ACC acc = 0;
    for (int s = 0; s < nsplit; s++) acc += partial[k * nsplit + s];
    out[k] = (T)acc;
  }
}

// Columns (R == 1, K > 1): thread per k, block row s sums a in
// [s*chunk, ...); coalesced across k.
template <typename T, typename ACC>
__global__ void sum_cols_kernel(const T *x, ACC *partial, T *out, int64_t A, int64_t K,
                                int64_t chunk, int nsplit) {
  int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  int s = blockIdx.y;
  if (k >= K) return;
  int64_t a0 = (int64_t)s * chunk, a1 = a0 + chunk < A ? a0 + chunk : A;
  ACC acc = 0;
  for (int64_t a = a0; a < a1; a++) acc += (ACC)x[a * K + k];
  if (nsplit == 1)
    out[k] = (T)acc;
  else
    partial[(int64_t)s * K + k] = acc;
}

template <typename T, typename ACC>
__global__ void sum_cols_finish(const ACC *partial, T *out, int64_t K, int nsplit) {
  for (int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; k < K;
       k += (int64_t)gridDim.x * blockDim.x) {
    ACC acc = 0;
    for (int s = 0; s < nsplit; s++) acc += partial[(int64_t)s * K + k];
    out[k] = (T)acc;
  }
}

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <typename T, typename ACC>
static sg_status sum_akr(T *out, const T *x, int64_t A, int64_t K, int64_t R) {
  cudaStream_t st = sg_cuda_stream();
  int64_t target = (int64_t)sg_cuda_sm_count() * 4;  // blocks to keep the GPU busy
  int nsplit;
  int64_t chunk;
  bool cols = R == 1 && K > 1;
  if (cols) {
    int64_t bx = cdiv(K, kThreads);
    int64_t want = cdiv(target, bx), most = cdiv(A, 32);  // >= 32 rows per split
    int64_t ns = want < most ? want : most;
    if (ns < 1) ns = 1;
    if (ns > 65535) ns = 65535;
    chunk = cdiv(A, ns);
    nsplit = (int)cdiv(A, chunk);
  } else {
    if (K == 1) {  // one long row
      R *= A;
      A = 1;
    }
    int64_t len = A == 1 ? R : A;     // what is split
    int64_t per = A == 1 ? 8192 : cdiv(8192, R);  // elements per split >= 8192
    int64_t want = cdiv(target, K), most = cdiv(len, per);
    int64_t ns = want < most ? want : most;
    if (ns < 1) ns = 1;
    if (ns > 65535) ns = 65535;
    chunk = cdiv(len, ns);
    nsplit = (int)cdiv(len, chunk);
  }
  ACC *partial = NULL;
  if (nsplit > 1) {
    partial = (ACC *)sg_cuda_alloc(sizeof(ACC) * (size_t)nsplit * (size_t)K);
    if (!partial) return sg_last_status();
  }
  sg_status s;
  if (cols) {
    dim3 grid((unsigned)cdiv(K, kThreads), (unsigned)nsplit);
    sum_cols_kernel<T, ACC><<<grid, kThreads, 0, st>>>(x, partial, out, A, K, chunk, nsplit);
    s = SG_CUDA_LAUNCH_CHECK("sum_cols_kernel");
    if (s == SG_OK && nsplit > 1) {
      sum_cols_finish<T, ACC><<<grid_for(K), kThreads, 0, st>>>(partial, out, K, nsplit);
      s = SG_CUDA_LAUNCH_CHECK("sum_cols_finish");
    }
  } else {
    dim3 grid((unsigned)K, (unsigned)nsplit);
    sum_rows_kernel<T, ACC><<<grid, kThreads, 0, st>>>(x, partial, out, A, K, R, chunk, nsplit);
    s = SG_CUDA_LAUNCH_CHECK("sum_rows_kernel");
    if (s == SG_OK && nsplit > 1) {
      sum_rows_finish<T, ACC><<<grid_for(K), kThreads, 0, st>>>(partial, out, K, nsplit);
      s = SG_CUDA_LAUNCH_CHECK("sum_rows_finish");
    }
  }
  if (partial) sg_cuda_free(partial, sizeof(ACC) * (size_t)nsplit * (size_t)K);
  return s;
}

static sg_status sum_dispatch(sg_tensor *out, const sg_tensor *x, int64_t A, int64_t K,
                              int64_t R) {
  if (K == 0) return SG_OK;
  if (K > INT64_C(2147483647))
    return sg_error(SG_ERR_UNSUPPORTED, "sum: %lld outputs is more than the CUDA kernel handles",
                    (long long)K);
  switch (x->dtype) {
    case SG_FLOAT32:
      return sum_akr<float, double>(dptr<float>(out), dptr<const float>(x), A, K, R);
    case SG_FLOAT64:
      return sum_akr<double, double>(dptr<double>(out), dptr<const double>(x), A, K, R);
    default:
      // int64 sums wrap on overflow through uint64, as on the CPU (sum_cpu.c)
      return sum_akr<int64_t, uint64_t>(dptr<int64_t>(out), dptr<const int64_t>(x), A, K, R);
  }
}

static sg_status cuda_sum(sg_tensor *out, const sg_tensor *x, const bool *reduce) {
  if (x->dtype != SG_FLOAT32 && x->dtype != SG_FLOAT64 && x->dtype != SG_INT64)
    return sg_error(SG_ERR_ARG, "sum: dtype %s not supported by the kernel",
                    sg_dtype_name(x->dtype));
  if (sg_numel(x) == 0) return sg_fill_(out, 0.0);
  int nd = x->ndim;
  // Find the pattern reduced* kept* reduced*.
  int d = 0;
  int64_t A = 1, K = 1, R = 1;
  while (d < nd && reduce[d]) A *= x->shape[d++];
  while (d < nd && !reduce[d]) K *= x->shape[d++];
  while (d < nd && reduce[d]) R *= x->shape[d++];
  if (d == nd) return sum_dispatch(out, x, A, K, R);
  // General layout: permute kept dims first, reduced last, and copy.
  int perm[SG_MAX_DIMS], k = 0;
  for (int i = 0; i < nd; i++)
    if (!reduce[i]) perm[k++] = i;
  for (int i = 0; i < nd; i++)
    if (reduce[i]) perm[k++] = i;
  int64_t sh[SG_MAX_DIMS], stv[SG_MAX_DIMS];
  K = 1;
  R = 1;
  for (int i = 0; i < nd; i++) {
    sh[i] = x->shape[perm[i]];
    stv[i] = x->strides[perm[i]];
    if (reduce[perm[i]]) R *= sh[i]; else K *= sh[i];
  }
  sg_tensor *pv = sg_alias(x, sh, stv, nd, x->offset);
  if (!pv) return sg_last_status();
  sg_tensor *c = sg_as_contiguous_dtype(pv, x->dtype);
  sg_release(pv);
  if (!c) return sg_last_status();
  sg_status s = sum_dispatch(out, c, 1, K, R);
  sg_release(c);  // stream-ordered: the kernel reading it runs first
  return s;
}

extern "C" const struct sg_sum_kernels sg_cuda_sum_kernels = {
    .sum = cuda_sum,
};
