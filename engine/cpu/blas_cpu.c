/* CPU matrix products through OpenBLAS (its OpenMP build: BLAS and our
 * kernels share one thread pool). Strided operands are passed to BLAS with
 * transpose flags and leading dimensions whenever their layout allows;
 * other layouts are packed one matrix at a time into a scratch buffer. */
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "internal/kernels_blas.h"
#include "sgen/error.h"

/* Below this many multiply-adds per matrix, a batch is spread over threads
 * (one single-threaded BLAS call per matrix) instead of threading each call:
 * measured on 2 cores, spreading wins from 16^3 up to 512^3 (8 x 512^3:
 * 181 vs 162 GFLOP/s) and loses at 1024^3. */
#define SG_BATCH_PAR_FLOPS (640.0 * 640.0 * 640.0)

/* How BLAS sees an r x c matrix with strides (sr, sc): stored row-major as
 * is (trans = false, r x c with leading dim ld) or as its transpose
 * (trans = true, c x r with leading dim ld). */
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

typedef struct {
  int64_t M, N, K;
  int64_t sam, sak, sbk, sbn; /* strides of the matrix dims */
  mat_layout la, lb;
  int nbd;                    /* batch dims */
  int64_t bshape[SG_MAX_DIMS], bsa[SG_MAX_DIMS], bsb[SG_MAX_DIMS];
} mm_plan;

static void batch_offsets(const mm_plan *p, int64_t idx, int64_t *oa, int64_t *ob) {
  int64_t a = 0, b = 0;
  for (int d = p->nbd - 1; d >= 0; d--) {
    int64_t i = idx % p->bshape[d];
    idx /= p->bshape[d];
    a += i * p->bsa[d];
    b += i * p->bsb[d];
  }
  *oa = a;
  *ob = b;
}

/* One product per dtype: C (M x N, contiguous) = A @ B. `scratch` holds
 * M*K + K*N elements when an operand must be packed. */
#define DEFINE_ITEM(T, P)                                                                       \
  static void pack_##P(T *dst, const T *src, int64_t r, int64_t c, int64_t sr, int64_t sc) {    \
    for (int64_t i = 0; i < r; i++)                                                             \
      for (int64_t j = 0; j < c; j++) dst[i * c + j] = src[i * sr + j * sc];                    \
  }                                                                                             \
  static void item_##P(const mm_plan *p, const T *A, const T *B, T *C, T *scratch) {            \
    int64_t M = p->M, N = p->N, K = p->K;                                                       \
    if (M == 0 || N == 0) return;                                                               \
    if (K == 0) {                                                                               \
      memset(C, 0, sizeof(T) * (size_t)(M * N));                                                \
      return;                                                                                   \
    }                                                                                           \
    mat_layout la = p->la, lb = p->lb;                                                          \
    int64_t inca = K == 1 ? 1 : p->sak, incb = K == 1 ? 1 : p->sbk;                             \
    T *sb_ = la.ok ? scratch : scratch + M * K;                                                 \
    if (!la.ok) {                                                                               \
      pack_##P(scratch, A, M, K, p->sam, p->sak);                                               \
      A = scratch;                                                                              \
      la = (mat_layout){true, false, K};                                                        \
      inca = 1;                                                                                 \
    }                                                                                           \
    if (!lb.ok) {                                                                               \
      pack_##P(sb_, B, K, N, p->sbk, p->sbn);                                                   \
      B = sb_;                                                                                  \
      lb = (mat_layout){true, false, N};                                                        \
      incb = N;                                                                                 \
    }                                                                                           \
    if (M == 1 && N == 1) {                                                                     \
      C[0] = cblas_##P##dot((int)K, A, (int)inca, B, (int)incb);                                \
    } else if (N == 1) {                                                                        \
      cblas_##P##gemv(CblasRowMajor, la.trans ? CblasTrans : CblasNoTrans,                      \
                      (int)(la.trans ? K : M), (int)(la.trans ? M : K), 1, A, (int)la.ld, B,    \
                      (int)incb, 0, C, 1);                                                      \
    } else if (M == 1) {                                                                        \
      cblas_##P##gemv(CblasRowMajor, lb.trans ? CblasNoTrans : CblasTrans,                      \
                      (int)(lb.trans ? N : K), (int)(lb.trans ? K : N), 1, B, (int)lb.ld, A,    \
                      (int)inca, 0, C, 1);                                                      \
    } else {                                                                                    \
      cblas_##P##gemm(CblasRowMajor, la.trans ? CblasTrans : CblasNoTrans,                      \
                      lb.trans ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1, A,       \
                      (int)la.ld, B, (int)lb.ld, 0, C, (int)N);                                 \
    }                                                                                           \
  }                                                                                             \
  static sg_status run_##P(const mm_plan *p, const T *a, const T *b, T *c, int64_t nb) {        \
    size_t ns = (!p->la.ok ? (size_t)(p->M * p->K) : 0) + (!p->lb.ok ? (size_t)(p->K * p->N) : 0); \
    bool par = nb > 1 && (double)p->M * (double)p->N * (double)p->K < SG_BATCH_PAR_FLOPS;       \
    int fail = 0;                                                                               \
    _Pragma("omp parallel if(par) reduction(|: fail)") {                                        \
      T *scratch = ns ? malloc(sizeof(T) * (ns + 1)) : NULL;                                    \
      if (ns && !scratch) fail = 1;                                                             \
      _Pragma("omp for schedule(static)") for (int64_t i = 0; i < nb; i++) {                    \
        if (ns && !scratch) continue;                                                           \
        int64_t oa, ob;                                                                         \
        batch_offsets(p, i, &oa, &ob);                                                          \
        item_##P(p, a + oa, b + ob, c + i * p->M * p->N, scratch);                              \
      }                                                                                         \
      free(scratch);                                                                            \
    }                                                                                           \
    return fail ? sg_error(SG_ERR_MEM, "matmul: out of memory") : SG_OK;                        \
  }

DEFINE_ITEM(float, s)
DEFINE_ITEM(double, d)

static sg_status run_int64(const mm_plan *p, const int64_t *a, const int64_t *b, int64_t *c,
                           int64_t nb) {
  int64_t M = p->M, N = p->N, K = p->K;
#pragma omp parallel for collapse(2) schedule(static) if (nb * M * N * K > 32768)
  for (int64_t bi = 0; bi < nb; bi++) {
    for (int64_t i = 0; i < M; i++) {
      int64_t oa, ob;
      batch_offsets(p, bi, &oa, &ob);
      const int64_t *ar = a + oa + i * p->sam;
      const int64_t *bb = b + ob;
      int64_t *cr = c + (bi * M + i) * N;
      for (int64_t j = 0; j < N; j++) cr[j] = 0;
      for (int64_t k = 0; k < K; k++) {
        int64_t av = ar[k * p->sak];
        const int64_t *br = bb + k * p->sbk;
        for (int64_t j = 0; j < N; j++) cr[j] += av * br[j * p->sbn];
      }
    }
  }
  return SG_OK;
}

static sg_status cpu_matmul(sg_tensor *out, const sg_tensor *a, const sg_tensor *b) {
  int nd = out->ndim;
  mm_plan p;
  memset(&p, 0, sizeof p);
  p.M = a->shape[nd - 2];
  p.K = a->shape[nd - 1];
  p.N = b->shape[nd - 1];
  p.sam = a->strides[nd - 2];
  p.sak = a->strides[nd - 1];
  p.sbk = b->strides[nd - 2];
  p.sbn = b->strides[nd - 1];
  p.nbd = nd - 2;
  int64_t nb = 1;
  for (int d = 0; d < p.nbd; d++) {
    p.bshape[d] = out->shape[d];
    p.bsa[d] = a->strides[d];
    p.bsb[d] = b->strides[d];
    nb *= out->shape[d];
  }
  if (nb == 0 || p.M == 0 || p.N == 0) return SG_OK;
  if (out->dtype != SG_INT64) {
    if (p.M > INT_MAX || p.N > INT_MAX || p.K > INT_MAX || p.sam > INT_MAX || p.sak > INT_MAX ||
        p.sbk > INT_MAX || p.sbn > INT_MAX)
      return sg_error(SG_ERR_UNSUPPORTED,
                      "matmul: matrix of %lld x %lld x %lld too large for 32-bit BLAS",
                      (long long)p.M, (long long)p.K, (long long)p.N);
    p.la = layout_of(p.M, p.K, p.sam, p.sak);
    p.lb = layout_of(p.K, p.N, p.sbk, p.sbn);
  }
  void *pa = (char *)a->storage->data + a->offset * (int64_t)sg_dtype_size(a->dtype);
  void *pb = (char *)b->storage->data + b->offset * (int64_t)sg_dtype_size(b->dtype);
  void *pc = (char *)out->storage->data + out->offset * (int64_t)sg_dtype_size(out->dtype);
  switch (out->dtype) {
    case SG_FLOAT32: return run_s(&p, pa, pb, pc, nb);
    case SG_FLOAT64: return run_d(&p, pa, pb, pc, nb);
    case SG_INT64: return run_int64(&p, pa, pb, pc, nb);
    default:
      return sg_error(SG_ERR_UNSUPPORTED, "matmul: dtype %s not supported by the CPU kernel",
                      sg_dtype_name(out->dtype));
  }
}

const struct sg_blas_kernels sg_cpu_blas_kernels = {
    .matmul = cpu_matmul,
};
