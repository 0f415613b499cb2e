/* CUDA kernels of the linalg family (internal/kernels_linalg.h) through
 * cuSOLVER's dense LAPACK-style routines, one matrix at a time (potrf,
 * getrf, getrs), plus small kernels (linalg_kernels_cuda.cu).
 *
 * cuSOLVER is column-major, and as in linalg_cpu.c a row-major n x n
 * matrix is used as the column-major A^T at no cost:
 *  - cholesky: the factor of A^T's opposite triangle is L^T (column-major),
 *    i.e. L row-major (potrf with uplo swapped);
 *  - inv: getrf of A^T, then getrs solving A^T X = I gives
 *    X = (A^T)^-1 = (A^-1)^T column-major, i.e. A^-1 row-major;
 *  - solve: getrf of A^T and getrs with trans = T solves A x = b for
 *    column-major right-hand sides (b is transposed in and out when k > 1);
 *  - logdet, slogdet: getrf of A^T (det A^T = det A), then the diagonal
 *    and the pivots, with the CPU's rules for singular and negative
 *    determinants;
 *  - eigh: syevd of A^T reading its upper triangle (A's lower one), the
 *    column-major eigenvectors transposed back to row-major columns.
 * The info codes come back to the host once per call. */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cusolverDn.h>

#include "cuda/cuda_internal.h"
#include "cuda/nn_kernels_cuda.h"
#include "internal/kernels_linalg.h"

/* ---------------- cuSOLVER handle and error checking ---------------- */

static const char *cusolver_status_name(cusolverStatus_t s) {
  switch (s) {
    case CUSOLVER_STATUS_SUCCESS: return "CUSOLVER_STATUS_SUCCESS";
    case CUSOLVER_STATUS_NOT_INITIALIZED: return "CUSOLVER_STATUS_NOT_INITIALIZED";
    case CUSOLVER_STATUS_ALLOC_FAILED: return "CUSOLVER_STATUS_ALLOC_FAILED";
    case CUSOLVER_STATUS_INVALID_VALUE: return "CUSOLVER_STATUS_INVALID_VALUE";
    case CUSOLVER_STATUS_ARCH_MISMATCH: return "CUSOLVER_STATUS_ARCH_MISMATCH";
    case CUSOLVER_STATUS_EXECUTION_FAILED: return "CUSOLVER_STATUS_EXECUTION_FAILED";
    case CUSOLVER_STATUS_INTERNAL_ERROR: return "CUSOLVER_STATUS_INTERNAL_ERROR";
    case CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED:
      return "CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED";
    case CUSOLVER_STATUS_NOT_SUPPORTED: return "CUSOLVER_STATUS_NOT_SUPPORTED";
    default: return "unknown cuSOLVER status";
  }
}

static sg_status cusolver_check(cusolverStatus_t e, const char *call, const char *file, int line) {
  if (e == CUSOLVER_STATUS_SUCCESS) return SG_OK;
  const char *f = strstr(file, "engine/");
  sg_status st = e == CUSOLVER_STATUS_ALLOC_FAILED ? SG_ERR_MEM : SG_ERR_STATE;
  return sg_error(st, "cuSOLVER error: %s failed: %s (%d) at %s:%d", call,
                  cusolver_status_name(e), (int)e, f ? f : file, line);
}

#define SG_CUSOLVER_CHECK(call) cusolver_check((call), #call, __FILE__, __LINE__)

static pthread_mutex_t handle_lock = PTHREAD_MUTEX_INITIALIZER;
static cusolverDnHandle_t solver_handle;

/* The cuSOLVER handle bound to sg_cuda_stream(), created on first use. */
static cusolverDnHandle_t solver(void) {
  if (sg_cuda_init() != SG_OK) return NULL;
  pthread_mutex_lock(&handle_lock);
  if (!solver_handle) {
    cusolverDnHandle_t h = NULL;
    if (SG_CUSOLVER_CHECK(cusolverDnCreate(&h)) == SG_OK) {
      if (SG_CUSOLVER_CHECK(cusolverDnSetStream(h, sg_cuda_stream())) == SG_OK)
        solver_handle = h;
      else
        (void)cusolverDnDestroy(h);
    }
  }
  cusolverDnHandle_t h = solver_handle;
  pthread_mutex_unlock(&handle_lock);
  return h;
}

/* ---------------- typed wrappers ---------------- */

static cusolverStatus_t potrf_lwork(sg_dtype dt, cusolverDnHandle_t h, cublasFillMode_t uplo,
                                    int n, void *a, int *lwork) {
  return dt == SG_FLOAT32 ? cusolverDnSpotrf_bufferSize(h, uplo, n, a, n, lwork)
                          : cusolverDnDpotrf_bufferSize(h, uplo, n, a, n, lwork);
}

static cusolverStatus_t potrf(sg_dtype dt, cusolverDnHandle_t h, cublasFillMode_t uplo, int n,
                              void *a, void *work, int lwork, int *info) {
  return dt == SG_FLOAT32 ? cusolverDnSpotrf(h, uplo, n, a, n, work, lwork, info)
                          : cusolverDnDpotrf(h, uplo, n, a, n, work, lwork, info);
}

static cusolverStatus_t getrf_lwork(sg_dtype dt, cusolverDnHandle_t h, int n, void *a,
                                    int *lwork) {
  return dt == SG_FLOAT32 ? cusolverDnSgetrf_bufferSize(h, n, n, a, n, lwork)
                          : cusolverDnDgetrf_bufferSize(h, n, n, a, n, lwork);
}

static cusolverStatus_t getrf(sg_dtype dt, cusolverDnHandle_t h, int n, void *a, void *work,
                              int *ipiv, int *info) {
  return dt == SG_FLOAT32 ? cusolverDnSgetrf(h, n, n, a, n, work, ipiv, info)
                          : cusolverDnDgetrf(h, n, n, a, n, work, ipiv, info);
}

static cusolverStatus_t getrs(sg_dtype dt, cusolverDnHandle_t h, cublasOperation_t op, int n,
                              int nrhs, const void *lu, const int *ipiv, void *b, int *info) {
  return dt == SG_FLOAT32 ? cusolverDnSgetrs(h, op, n, nrhs, lu, n, ipiv, b, n, info)
                          : cusolverDnDgetrs(h, op, n, nrhs, lu, n, ipiv, b, n, info);
}

static cusolverStatus_t syevd_lwork(sg_dtype dt, cusolverDnHandle_t h, cublasFillMode_t uplo,
                                    int n, const void *a, const void *w, int *lwork) {
  return dt == SG_FLOAT32
             ? cusolverDnSsyevd_bufferSize(h, CUSOLVER_EIG_MODE_VECTOR, uplo, n, a, n, w, lwork)
             : cusolverDnDsyevd_bufferSize(h, CUSOLVER_EIG_MODE_VECTOR, uplo, n, a, n, w, lwork);
}

static cusolverStatus_t syevd(sg_dtype dt, cusolverDnHandle_t h, cublasFillMode_t uplo, int n,
                              void *a, void *w, void *work, int lwork, int *info) {
  return dt == SG_FLOAT32 ? cusolverDnSsyevd(h, CUSOLVER_EIG_MODE_VECTOR, uplo, n, a, n, w, work,
                                             lwork, info)
                          : cusolverDnDsyevd(h, CUSOLVER_EIG_MODE_VECTOR, uplo, n, a, n, w, work,
                                             lwork, info);
}

/* ---------------- shared pieces ---------------- */

static int contig(const sg_tensor *t) { return sg_numel(t) == 0 || sg_is_contiguous(t); }

/* (batch, n) of a contiguous float stack of square matrices. */
static int stack_dims(const sg_tensor *a, int64_t *batch, int *n) {
  if (a->ndim < 2 || (a->dtype != SG_FLOAT32 && a->dtype != SG_FLOAT64) || !contig(a)) return -1;
  int64_t m = a->shape[a->ndim - 1];
  if (m != a->shape[a->ndim - 2] || m > 0x7fffffff / 64) return -1;
  int64_t b = 1;
  for (int i = 0; i < a->ndim - 2; i++) b *= a->shape[i];
  *batch = b;
  *n = (int)m;
  return 0;
}

static sg_status bad_args(void) {
  return sg_error(SG_ERR_ARG,
                  "linalg kernel: expected a contiguous float stack of square matrices");
}

/* Device scratch freed at the end of a call (stream-ordered). */
typedef struct {
  void *p[8];
  size_t n[8];
  int k;
} scratch;

static void *scratch_get(scratch *s, size_t bytes) {
  if (s->k >= 8) {
    sg_error(SG_ERR_STATE, "linalg: internal scratch overflow");
    return NULL;
  }
  size_t n = bytes > 0 ? bytes : 1;
  void *p = sg_cuda_alloc(n);
  if (p) {
    s->p[s->k] = p;
    s->n[s->k] = n;
    s->k++;
  }
  return p;
}

static void scratch_free(scratch *s) {
  for (int i = 0; i < s->k; i++) sg_cuda_free(s->p[i], s->n[i]);
  s->k = 0;
}

/* info[b] (int64, host) <- dinfo[b] (int, device); waits for the GPU. */
static sg_status fetch_info(int64_t *info, const int *dinfo, int64_t batch) {
  if (batch == 0) return SG_OK;
  int *h = malloc(sizeof(int) * (size_t)batch);
  if (!h) return sg_error(SG_ERR_MEM, "linalg: out of memory for %lld status codes",
                          (long long)batch);
  sg_status st = sg_cuda_memcpy_d2h(h, dinfo, sizeof(int) * (size_t)batch);
  if (st == SG_OK)
    for (int64_t b = 0; b < batch; b++) info[b] = h[b];
  free(h);
  return st;
}

/* LU factors of every matrix of `a` (a copy: lu, ipiv, dinfo on the
 * device). */
static sg_status lu_all(cusolverDnHandle_t h, sg_dtype dt, const void *a, int64_t batch, int n,
                        scratch *s, char **lu_out, int **ipiv_out, int **dinfo_out) {
  const size_t es = sg_dtype_size(dt);
  const size_t nn = (size_t)n * (size_t)n;
  char *lu = scratch_get(s, nn * (size_t)batch * es);
  int *ipiv = lu ? scratch_get(s, sizeof(int) * (size_t)n * (size_t)batch) : NULL;
  int *dinfo = ipiv ? scratch_get(s, sizeof(int) * (size_t)batch) : NULL;
  if (!dinfo) return sg_last_status();
  *lu_out = lu;
  *ipiv_out = ipiv;
  *dinfo_out = dinfo;
  SG_CUDA_TRY(cudaMemsetAsync(dinfo, 0, sizeof(int) * (size_t)batch, sg_cuda_stream()));
  if (n == 0 || batch == 0) return SG_OK;
  SG_CUDA_TRY(cudaMemcpyAsync(lu, a, nn * (size_t)batch * es, cudaMemcpyDeviceToDevice,
                              sg_cuda_stream()));
  int lwork = 0;
  if (SG_CUSOLVER_CHECK(getrf_lwork(dt, h, n, lu, &lwork)) != SG_OK) return sg_last_status();
  void *work = scratch_get(s, (size_t)(lwork > 0 ? lwork : 1) * es);
  if (!work) return sg_last_status();
  for (int64_t b = 0; b < batch; b++)
    if (SG_CUSOLVER_CHECK(getrf(dt, h, n, lu + (size_t)b * nn * es, work,
                                ipiv + (size_t)b * (size_t)n, dinfo + b)) != SG_OK)
      return sg_last_status();
  return SG_OK;
}

/* ---------------- the slots ---------------- */

static sg_status cuda_cholesky(sg_tensor *a, bool upper, int64_t *info) {
  int64_t batch;
  int n;
  if (stack_dims(a, &batch, &n)) return bad_args();
  if (batch == 0) return SG_OK;
  if (n == 0) {
    for (int64_t b = 0; b < batch; b++) info[b] = 0;
    return SG_OK;
  }
  cusolverDnHandle_t h = solver();
  if (!h) return sg_last_status();
  const sg_dtype dt = a->dtype;
  const size_t es = sg_dtype_size(dt), nn = (size_t)n * (size_t)n;
  const cublasFillMode_t uplo = upper ? CUBLAS_FILL_MODE_LOWER : CUBLAS_FILL_MODE_UPPER;
  char *A = sg_data_ptr(a);
  scratch s = {{0}, {0}, 0};
  sg_status st = SG_OK;
  int lwork = 0;
  int *dinfo = scratch_get(&s, sizeof(int) * (size_t)batch);
  if (!dinfo) return sg_last_status();
  if ((st = SG_CUSOLVER_CHECK(potrf_lwork(dt, h, uplo, n, A, &lwork))) != SG_OK) goto done;
  void *work = scratch_get(&s, (size_t)(lwork > 0 ? lwork : 1) * es);
  if (!work) {
    st = sg_last_status();
    goto done;
  }
  for (int64_t b = 0; b < batch && st == SG_OK; b++)
    st = SG_CUSOLVER_CHECK(potrf(dt, h, uplo, n, A + (size_t)b * nn * es, work, lwork, dinfo + b));
  if (st == SG_OK) st = sg_cuda_tri_zero(dt, A, batch, n, upper);
  if (st == SG_OK) st = fetch_info(info, dinfo, batch);
done:
  scratch_free(&s);
  return st;
}

static sg_status cuda_logdet(sg_tensor *out, const sg_tensor *a) {
  int64_t batch;
  int n;
  if (stack_dims(a, &batch, &n) || out->dtype != a->dtype || !contig(out) ||
      sg_numel(out) != batch)
    return bad_args();
  if (batch == 0) return SG_OK;
  cusolverDnHandle_t h = solver();
  if (!h) return sg_last_status();
  scratch s = {{0}, {0}, 0};
  char *lu = NULL;
  int *ipiv = NULL, *dinfo = NULL;
  sg_status st = lu_all(h, a->dtype, sg_data_ptr(a), batch, n, &s, &lu, &ipiv, &dinfo);
  if (st == SG_OK) st = sg_cuda_lu_logdet(a->dtype, sg_data_ptr(out), lu, ipiv, dinfo, batch, n);
  scratch_free(&s);
  return st;
}

static sg_status cuda_inv(sg_tensor *a, int64_t *info) {
  int64_t batch;
  int n;
  if (stack_dims(a, &batch, &n)) return bad_args();
  if (batch == 0) return SG_OK;
  if (n == 0) {
    for (int64_t b = 0; b < batch; b++) info[b] = 0;
    return SG_OK;
  }
  cusolverDnHandle_t h = solver();
  if (!h) return sg_last_status();
  const sg_dtype dt = a->dtype;
  const size_t es = sg_dtype_size(dt), nn = (size_t)n * (size_t)n;
  char *A = sg_data_ptr(a);
  scratch s = {{0}, {0}, 0};
  char *lu = NULL;
  int *ipiv = NULL, *dinfo = NULL, *dinfo2 = NULL;
  sg_status st = lu_all(h, dt, A, batch, n, &s, &lu, &ipiv, &dinfo);
  if (st == SG_OK && !(dinfo2 = scratch_get(&s, sizeof(int)))) st = sg_last_status();
  if (st == SG_OK) st = sg_cuda_set_identity(dt, A, batch, n);
  /* Singular matrices (info > 0) get inf/NaN here; the op layer reports
   * them from info and discards the result. */
  for (int64_t b = 0; b < batch && st == SG_OK; b++)
    st = SG_CUSOLVER_CHECK(getrs(dt, h, CUBLAS_OP_N, n, n, lu + (size_t)b * nn * es,
                                 ipiv + (size_t)b * (size_t)n, A + (size_t)b * nn * es, dinfo2));
  if (st == SG_OK) st = fetch_info(info, dinfo, batch);
  scratch_free(&s);
  return st;
}

static sg_status cuda_solve(sg_tensor *x, const sg_tensor *a, const int64_t *a_index,
                            int64_t *info) {
  int64_t abatch;
  int n;
  if (stack_dims(a, &abatch, &n) || x->dtype != a->dtype || !contig(x) || x->ndim < 2 ||
      x->shape[x->ndim - 2] != n || x->shape[x->ndim - 1] > 0x7fffffff)
    return bad_args();
  const int64_t k = x->shape[x->ndim - 1];
  int64_t batch = 1;
  for (int i = 0; i < x->ndim - 2; i++) batch *= x->shape[i];
  if (n == 0) {
    for (int64_t j = 0; j < abatch; j++) info[j] = 0;
    return SG_OK;
  }
  if (abatch == 0) return SG_OK;
  cusolverDnHandle_t h = solver();
  if (!h) return sg_last_status();
  const sg_dtype dt = a->dtype;
  const size_t es = sg_dtype_size(dt), nn = (size_t)n * (size_t)n, nk = (size_t)n * (size_t)k;
  scratch s = {{0}, {0}, 0};
  char *lu = NULL, *tmp = NULL;
  int *ipiv = NULL, *dinfo = NULL, *dinfo2 = NULL;
  sg_status st = lu_all(h, dt, sg_data_ptr(a), abatch, n, &s, &lu, &ipiv, &dinfo);
  if (st == SG_OK) st = fetch_info(info, dinfo, abatch); /* which systems to solve */
  if (st != SG_OK || batch == 0 || k == 0) goto done;
  if (!(dinfo2 = scratch_get(&s, sizeof(int)))) {
    st = sg_last_status();
    goto done;
  }
  char *X = sg_data_ptr(x);
  /* Column-major right-hand sides: x (row-major n x k) transposed, unless
   * k = 1 where both layouts coincide. */
  if (k > 1) {
    if (!(tmp = scratch_get(&s, nk * (size_t)batch * es))) {
      st = sg_last_status();
      goto done;
    }
    st = sg_cuda_batch_transpose(dt, tmp, X, batch, n, k);
  }
  char *rhs = k > 1 ? tmp : X;
  for (int64_t b = 0; b < batch && st == SG_OK; b++) {
    int64_t j = a_index[b];
    if (info[j] != 0) continue; /* singular: left unchanged */
    st = SG_CUSOLVER_CHECK(getrs(dt, h, CUBLAS_OP_T, n, (int)k, lu + (size_t)j * nn * es,
                                 ipiv + (size_t)j * (size_t)n, rhs + (size_t)b * nk * es,
                                 dinfo2));
  }
  /* back to row-major; the singular elements' columns went through the
   * transposes unchanged */
  if (st == SG_OK && k > 1) st = sg_cuda_batch_transpose(dt, X, tmp, batch, (int64_t)k, n);
done:
  scratch_free(&s);
  return st;
}

/* syevd on a copy of each matrix (the column-major A^T: its upper triangle
 * is the row-major lower one), then the column-major eigenvectors
 * transposed back into a, row-major with the eigenvectors as columns. */
static sg_status cuda_eigh(sg_tensor *a, sg_tensor *w, int64_t *info) {
  int64_t batch;
  int n;
  if (stack_dims(a, &batch, &n) || w->dtype != a->dtype || !contig(w) ||
      sg_numel(w) != batch * (int64_t)n)
    return bad_args();
  if (batch == 0) return SG_OK;
  if (n == 0) {
    for (int64_t b = 0; b < batch; b++) info[b] = 0;
    return SG_OK;
  }
  cusolverDnHandle_t h = solver();
  if (!h) return sg_last_status();
  const sg_dtype dt = a->dtype;
  const size_t es = sg_dtype_size(dt), nn = (size_t)n * (size_t)n;
  const cublasFillMode_t uplo = CUBLAS_FILL_MODE_UPPER;
  char *A = sg_data_ptr(a), *W = sg_data_ptr(w);
  scratch s = {{0}, {0}, 0};
  sg_status st = SG_OK;
  int lwork = 0;
  char *z = scratch_get(&s, nn * (size_t)batch * es);
  int *dinfo = z ? scratch_get(&s, sizeof(int) * (size_t)batch) : NULL;
  void *work = NULL;
  if (!dinfo) {
    st = sg_last_status();
    goto done;
  }
  if ((st = SG_CUDA_CHECK(cudaMemcpyAsync(z, A, nn * (size_t)batch * es, cudaMemcpyDeviceToDevice,
                                          sg_cuda_stream()))) != SG_OK)
    goto done;
  if ((st = SG_CUSOLVER_CHECK(syevd_lwork(dt, h, uplo, n, z, W, &lwork))) != SG_OK) goto done;
  if (!(work = scratch_get(&s, (size_t)(lwork > 0 ? lwork : 1) * es))) {
    st = sg_last_status();
    goto done;
  }
  for (int64_t b = 0; b < batch && st == SG_OK; b++)
    st = SG_CUSOLVER_CHECK(syevd(dt, h, uplo, n, z + (size_t)b * nn * es,
                                 W + (size_t)b * (size_t)n * es, work, lwork, dinfo + b));
  if (st == SG_OK) st = sg_cuda_batch_transpose(dt, A, z, batch, n, n);
  if (st == SG_OK) st = fetch_info(info, dinfo, batch);
done:
  scratch_free(&s);
  return st;
}

static sg_status cuda_slogdet(sg_tensor *sign, sg_tensor *logabs, const sg_tensor *a) {
  int64_t batch;
  int n;
  if (stack_dims(a, &batch, &n) || sign->dtype != a->dtype || logabs->dtype != a->dtype ||
      !contig(sign) || !contig(logabs) || sg_numel(sign) != batch || sg_numel(logabs) != batch)
    return bad_args();
  if (batch == 0) return SG_OK;
  cusolverDnHandle_t h = solver();
  if (!h) return sg_last_status();
  scratch s = {{0}, {0}, 0};
  char *lu = NULL;
  int *ipiv = NULL, *dinfo = NULL;
  sg_status st = lu_all(h, a->dtype, sg_data_ptr(a), batch, n, &s, &lu, &ipiv, &dinfo);
  if (st == SG_OK)
    st = sg_cuda_lu_slogdet(a->dtype, sg_data_ptr(sign), sg_data_ptr(logabs), lu, ipiv, dinfo,
                            batch, n);
  scratch_free(&s);
  return st;
}

const struct sg_linalg_kernels sg_cuda_linalg_kernels = {
    .cholesky = cuda_cholesky,
    .logdet = cuda_logdet,
    .inv = cuda_inv,
    .solve = cuda_solve,
    .eigh = cuda_eigh,
    .slogdet = cuda_slogdet,
};
