/* CUDA kernels of the blas family (internal/kernels_blas.h): matrix
 * products through cuBLAS.
 *
 * cuBLAS is column-major: a row-major M x N result C is the column-major
 * N x M matrix C^T = B^T A^T, so the product is computed as that, with
 * every operand passed as it lies in memory (row-major: its transpose
 * without a copy; column-major: itself, transposed by the call). As in
 * blas_cpu.c, operands whose matrix layout BLAS cannot express (e.g. both
 * strides > 1, or a broadcast row) are first packed into a contiguous copy.
 *
 * Batches: adjacent batch dims that merge for both operands and the
 * (contiguous) output are merged; the innermost remaining batch dim is one
 * strided batched GEMM (stride 0 on broadcast dims), the outer ones (rare:
 * a permuted batch) are looped on the host.
 *
 * Precision: float32 uses CUBLAS_COMPUTE_32F with the handle in
 * CUBLAS_DEFAULT_MATH (no TF32) unless sg_get_allow_tf32() is on
 * (CUBLAS_COMPUTE_32F_FAST_TF32); float64 uses CUBLAS_COMPUTE_64F. int64
 * has no cuBLAS routine: a plain kernel (blas_int_cuda.cu). */
#include <limits.h>
#include <string.h>

#include "cuda/cuda_internal.h"
#include "cuda/nn_kernels_cuda.h"
#include "internal/backend.h"
#include "internal/kernels_blas.h"
#include "internal/tensor_internal.h"

/* ---------------- the GEMM ---------------- */

sg_status sg_cuda_gemm(sg_dtype dt, bool transa, bool transb, int64_t m, int64_t n, int64_t k,
                       const void *A, int64_t lda, int64_t strideA, const void *B, int64_t ldb,
                       int64_t strideB, double beta, void *C, int64_t ldc, int64_t strideC,
                       int64_t batch) {
  if (dt != SG_FLOAT32 && dt != SG_FLOAT64)
    return sg_error(SG_ERR_UNSUPPORTED, "cuda gemm: dtype %s not supported", sg_dtype_name(dt));
  if (m <= 0 || n <= 0 || batch <= 0) return SG_OK;
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
      ldc > INT_MAX)
    return sg_error(SG_ERR_UNSUPPORTED,
                    "matmul: matrix of %lld x %lld x %lld too large for 32-bit cuBLAS",
                    (long long)m, (long long)k, (long long)n);
  cublasHandle_t h = sg_cuda_cublas();
  if (!h) return sg_last_status();
  /* The handle is shared: make sure no TF32 math mode lingers on it. */
  SG_CUBLAS_TRY(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
  const size_t es = sg_dtype_size(dt);
  if (k == 0) {
    /* C = beta C with nothing to multiply: BLAS leaves C alone for
     * beta = 1 and zeroes it for beta = 0 (only those are used). */
    if (beta != 0) return SG_OK;
    for (int64_t i = 0; i < batch; i++) {
      char *c = (char *)C + (size_t)(i * strideC) * es;
      if (ldc == m) {
        SG_CUDA_TRY(cudaMemsetAsync(c, 0, (size_t)(m * n) * es, sg_cuda_stream()));
      } else {
        SG_CUDA_TRY(cudaMemset2DAsync(c, (size_t)ldc * es, 0, (size_t)m * es, (size_t)n,
                                      sg_cuda_stream()));
      }
    }
    return SG_OK;
  }
  const cublasOperation_t opa = transa ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t opb = transb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const float af = 1.0f, bf = (float)beta;
  const double ad = 1.0, bd = beta;
  const bool f32 = dt == SG_FLOAT32;
  const cudaDataType_t ty = f32 ? CUDA_R_32F : CUDA_R_64F;
  const cublasComputeType_t ct =
      f32 ? (sg_get_allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F)
          : CUBLAS_COMPUTE_64F;
  for (int64_t done = 0; done < batch;) {
    int64_t cnt = batch - done < INT_MAX ? batch - done : INT_MAX;
    const char *a = (const char *)A + (size_t)(done * strideA) * es;
    const char *b = (const char *)B + (size_t)(done * strideB) * es;
    char *c = (char *)C + (size_t)(done * strideC) * es;
    if (cnt == 1) {
      SG_CUBLAS_TRY(cublasGemmEx(h, opa, opb, (int)m, (int)n, (int)k, f32 ? (const void *)&af
                                 : (const void *)&ad, a, ty, (int)lda, b, ty, (int)ldb,
                                 f32 ? (const void *)&bf : (const void *)&bd, c, ty, (int)ldc,
                                 ct, CUBLAS_GEMM_DEFAULT));
    } else {
      SG_CUBLAS_TRY(cublasGemmStridedBatchedEx(
          h, opa, opb, (int)m, (int)n, (int)k, f32 ? (const void *)&af : (const void *)&ad, a, ty,
          (int)lda, (long long)strideA, b, ty, (int)ldb, (long long)strideB,
          f32 ? (const void *)&bf : (const void *)&bd, c, ty, (int)ldc, (long long)strideC,
          (int)cnt, ct, CUBLAS_GEMM_DEFAULT));
    }
    done += cnt;
  }
  return SG_OK;
}

/* ---------------- matmul ---------------- */

/* How BLAS sees an r x c row-major-indexed matrix with strides (sr, sc):
 * stored row-major (trans = false: ld = row stride) or column-major
 * (trans = true: ld = column stride). Same rules as blas_cpu.c. */
typedef struct {
  bool ok, trans;
  int64_t ld;
} mat_layout;

static mat_layout layout_of(int64_t r, int64_t c, int64_t sr, int64_t sc) {
  mat_layout L = {false, false, 0};
  int64_t c1 = c > 1 ? c : 1, r1 = r > 1 ? r : 1;
  if ((c == 1 || sc == 1) && (r == 1 || sr >= c1)) {
    L.ok = true;
    L.ld = r == 1 ? c1 : sr;
  } else if ((r == 1 || sr == 1) && (c == 1 || sc >= r1)) {
    L.ok = true;
    L.trans = true;
    L.ld = c == 1 ? r1 : sc;
  }
  return L;
}

/* A contiguous copy of the strided operand t (its view, batch dims
 * included: broadcast batch dims are expanded). */
static sg_tensor *packed(const sg_tensor *t) {
  sg_tensor *p = sg_empty(t->shape, t->ndim, t->dtype, t->storage->device);
  if (!p) return NULL;
  if (sg_cuda_copy(p, t) != SG_OK) {
    sg_release(p);
    return NULL;
  }
  return p;
}

static sg_status cuda_matmul(sg_tensor *out, const sg_tensor *a, const sg_tensor *b) {
  const int nd = out->ndim, nbd = nd - 2;
  const int64_t M = a->shape[nd - 2], K = a->shape[nd - 1], N = b->shape[nd - 1];
  int64_t nb = 1;
  for (int d = 0; d < nbd; d++) nb *= out->shape[d];
  if (nb == 0 || M == 0 || N == 0) return SG_OK;
  if (out->dtype != a->dtype || out->dtype != b->dtype)
    return sg_error(SG_ERR_ARG, "matmul: operands and output must share one dtype");
  if (out->dtype == SG_INT64) {
    int64_t bshape[SG_MAX_DIMS], bsa[SG_MAX_DIMS], bsb[SG_MAX_DIMS];
    for (int d = 0; d < nbd; d++) {
      bshape[d] = out->shape[d];
      bsa[d] = a->strides[d];
      bsb[d] = b->strides[d];
    }
    return sg_cuda_matmul_int64(sg_data_ptr(out), sg_data_ptr(a), sg_data_ptr(b), M, N, K,
                                a->strides[nd - 2], a->strides[nd - 1], b->strides[nd - 2],
                                b->strides[nd - 1], nbd, bshape, bsa, bsb);
  }
  if (out->dtype != SG_FLOAT32 && out->dtype != SG_FLOAT64)
    return sg_error(SG_ERR_UNSUPPORTED, "matmul: dtype %s not supported by the CUDA kernel",
                    sg_dtype_name(out->dtype));
  const sg_dtype dt = out->dtype;
  const size_t es = sg_dtype_size(dt);
  if (K == 0) {
    size_t bytes = (size_t)(nb * M * N) * es;
    return SG_CUDA_CHECK(cudaMemsetAsync(sg_data_ptr(out), 0, bytes, sg_cuda_stream()));
  }
  sg_tensor *pa = NULL, *pb = NULL;
  const sg_tensor *A = a, *B = b;
  mat_layout la = layout_of(M, K, A->strides[nd - 2], A->strides[nd - 1]);
  mat_layout lb = layout_of(K, N, B->strides[nd - 2], B->strides[nd - 1]);
  sg_status st = SG_OK;
  if (!la.ok) {
    if (!(pa = packed(a))) return sg_last_status();
    A = pa;
    la = layout_of(M, K, A->strides[nd - 2], A->strides[nd - 1]);
  }
  if (!lb.ok) {
    if (!(pb = packed(b))) {
      sg_release(pa);
      return sg_last_status();
    }
    B = pb;
    lb = layout_of(K, N, B->strides[nd - 2], B->strides[nd - 1]);
  }
  /* Batch dims: drop size-1 dims, merge what merges for a, b and out. */
  int64_t shp[SG_MAX_DIMS], sa[SG_MAX_DIMS], sb[SG_MAX_DIMS], so[SG_MAX_DIMS];
  int n = 0;
  {
    int64_t ostr = M * N;
    int64_t os[SG_MAX_DIMS];
    for (int d = nbd - 1; d >= 0; d--) {
      os[d] = ostr;
      ostr *= out->shape[d];
    }
    for (int d = 0; d < nbd; d++) {
      if (out->shape[d] == 1) continue;
      if (n > 0 && sa[n - 1] == A->strides[d] * out->shape[d] &&
          sb[n - 1] == B->strides[d] * out->shape[d] && so[n - 1] == os[d] * out->shape[d]) {
        shp[n - 1] *= out->shape[d];
        sa[n - 1] = A->strides[d];
        sb[n - 1] = B->strides[d];
        so[n - 1] = os[d];
        continue;
      }
      shp[n] = out->shape[d];
      sa[n] = A->strides[d];
      sb[n] = B->strides[d];
      so[n] = os[d];
      n++;
    }
  }
  const int64_t inner = n > 0 ? shp[n - 1] : 1;
  const int64_t isa = n > 0 ? sa[n - 1] : 0, isb = n > 0 ? sb[n - 1] : 0,
                iso = n > 0 ? so[n - 1] : M * N;
  const int64_t outer = nb / inner;
  const char *pA = sg_data_ptr(A), *pB = sg_data_ptr(B);
  char *pC = sg_data_ptr(out);
  for (int64_t o = 0; o < outer && st == SG_OK; o++) {
    /* offsets of outer batch index o over dims 0 .. n-2 */
    int64_t rem = o, oa = 0, ob = 0, oc = 0;
    for (int d = n - 2; d >= 0; d--) {
      int64_t i = rem % shp[d];
      rem /= shp[d];
      oa += i * sa[d];
      ob += i * sb[d];
      oc += i * so[d];
    }
    /* C^T (N x M) = op(B-as-stored) op(A-as-stored) */
    st = sg_cuda_gemm(dt, lb.trans, la.trans, N, M, K, pB + (size_t)ob * es, lb.ld, isb,
                      pA + (size_t)oa * es, la.ld, isa, 0.0, pC + (size_t)oc * es, N, iso, inner);
  }
  sg_release(pa);
  sg_release(pb);
  return st;
}

const struct sg_blas_kernels sg_cuda_blas_kernels = {
    .matmul = cuda_matmul,
};
