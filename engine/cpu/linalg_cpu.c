/* CPU linalg kernels: LAPACK from OpenBLAS, OpenMP over the batch.
 *
 * LAPACK is column-major: a row-major n x n matrix seen by LAPACK is its
 * transpose. That costs nothing here: the Cholesky factor of A^T's upper
 * triangle is L^T (column-major), i.e. L row-major; the inverse of A^T is
 * (A^-1)^T, i.e. A^-1 row-major; det A^T = det A; and A x = b is solved
 * from the LU factors of A^T with trans = 'T'.
 *
 * Small matrices run one per thread (OpenBLAS sees it is inside an OpenMP
 * region and stays single-threaded); a single large matrix is left to
 * OpenBLAS's own threading. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal/kernels_linalg.h"

/* LP64 Fortran LAPACK symbols (OpenBLAS contains LAPACK). The trailing
 * size_t is gfortran's hidden length of a character argument. */
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t);
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t);
void sgetrf_(const int *m, const int *n, float *a, const int *lda, int *ipiv, int *info);
void dgetrf_(const int *m, const int *n, double *a, const int *lda, int *ipiv, int *info);
void sgetrs_(const char *trans, const int *n, const int *nrhs, const float *a, const int *lda,
             const int *ipiv, float *b, const int *ldb, int *info, size_t);
void dgetrs_(const char *trans, const int *n, const int *nrhs, const double *a, const int *lda,
             const int *ipiv, double *b, const int *ldb, int *info, size_t);
void sgetri_(const int *n, float *a, const int *lda, const int *ipiv, float *work,
             const int *lwork, int *info);
void dgetri_(const int *n, double *a, const int *lda, const int *ipiv, double *work,
             const int *lwork, int *info);
void ssyevd_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda, float *w,
             float *work, const int *lwork, int *iwork, const int *liwork, int *info, size_t,
             size_t);
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t, size_t);

/* One matrix per thread when there are several and each is small enough
 * that single-threaded LAPACK is the efficient way to factor it. */
static inline int batch_parallel(int64_t batch, int64_t n) {
  return batch > 1 && n <= 384 && (double)batch * (double)n * (double)n * (double)n >= 2e4;
}

static void *xmalloc(size_t n) { return malloc(n ? n : 1); }

#define SG_LINALG_KERNELS(T, P)                                                               \
  /* x (row-major n x k) <- A^-1 x, from getrf's factors of A^T (= P L U,                     \
   * column-major). Row-major, that storage reads as A = U^T L^T P^T: U^T is                  \
   * its lower triangle, L^T its unit upper one. Same operations as getrs                     \
   * with trans = 'T', but on rows of k contiguous entries (no transposes),                   \
   * and without getrs's per-call buffers, which serialize small solves. */                   \
  static void lu_solve_##P(const T *lu, const int *ipiv, int n, T *x, int k) {                \
    for (int r = 0; r < n; r++) {                                                             \
      T *xr = x + (int64_t)r * k;                                                             \
      const T *row = lu + (int64_t)r * n;                                                     \
      for (int c = 0; c < r; c++) {                                                           \
        const T f = row[c];                                                                   \
        const T *xc = x + (int64_t)c * k;                                                     \
        for (int j = 0; j < k; j++) xr[j] -= f * xc[j];                                       \
      }                                                                                       \
      const T d = row[r];                                                                     \
      for (int j = 0; j < k; j++) xr[j] /= d;                                                 \
    }                                                                                         \
    for (int r = n - 1; r >= 0; r--) {                                                        \
      T *xr = x + (int64_t)r * k;                                                             \
      const T *row = lu + (int64_t)r * n;                                                     \
      for (int c = r + 1; c < n; c++) {                                                       \
        const T f = row[c];                                                                   \
        const T *xc = x + (int64_t)c * k;                                                     \
        for (int j = 0; j < k; j++) xr[j] -= f * xc[j];                                       \
      }                                                                                       \
    }                                                                                         \
    for (int i = n - 1; i >= 0; i--) {                                                        \
      const int p = ipiv[i] - 1;                                                              \
      if (p == i) continue;                                                                   \
      T *a = x + (int64_t)i * k, *b = x + (int64_t)p * k;                                     \
      for (int j = 0; j < k; j++) {                                                           \
        const T t = a[j];                                                                     \
        a[j] = b[j];                                                                          \
        b[j] = t;                                                                             \
      }                                                                                       \
    }                                                                                         \
  }                                                                                           \
                                                                                              \
  static sg_status cholesky_##P(T *a, int64_t batch, int n, bool upper, int64_t *info) {      \
    const char uplo = upper ? 'L' : 'U';                                                      \
    const int lda = n > 0 ? n : 1;                                                            \
    const int64_t nn = (int64_t)n * n;                                                        \
    _Pragma("omp parallel for schedule(static) if(batch_parallel(batch, n))")                 \
    for (int64_t b = 0; b < batch; b++) {                                                     \
      T *m = a + b * nn;                                                                      \
      int inf = 0;                                                                            \
      if (n > 0) P##potrf_(&uplo, &n, m, &lda, &inf, 1);                                      \
      info[b] = inf;                                                                          \
      for (int i = 0; i < n; i++) {                                                           \
        T *row = m + (int64_t)i * n;                                                          \
        if (upper) {                                                                          \
          for (int j = 0; j < i; j++) row[j] = 0;                                             \
        } else {                                                                              \
          for (int j = i + 1; j < n; j++) row[j] = 0;                                         \
        }                                                                                     \
      }                                                                                       \
    }                                                                                         \
    return SG_OK;                                                                             \
  }                                                                                           \
                                                                                              \
  static sg_status logdet_##P(T *out, const T *a, int64_t batch, int n) {                     \
    const int lda = n > 0 ? n : 1;                                                            \
    const int64_t nn = (int64_t)n * n;                                                        \
    int failed = 0;                                                                           \
    _Pragma("omp parallel if(batch_parallel(batch, n))")                                      \
    {                                                                                         \
      T *lu = xmalloc(sizeof(T) * (size_t)nn);                                                \
      int *ipiv = xmalloc(sizeof(int) * (size_t)(n > 0 ? n : 1));                             \
      if (!lu || !ipiv) {                                                                     \
        _Pragma("omp atomic write") failed = 1;                                               \
      }                                                                                       \
      _Pragma("omp for schedule(static)")                                                     \
      for (int64_t b = 0; b < batch; b++) {                                                   \
        if (!lu || !ipiv) continue;                                                           \
        memcpy(lu, a + b * nn, sizeof(T) * (size_t)nn);                                       \
        int inf = 0;                                                                          \
        if (n > 0) P##getrf_(&n, &n, lu, &lda, ipiv, &inf);                                   \
        double s = 0;                                                                         \
        int neg = 0;                                                                          \
        for (int i = 0; i < n; i++) {                                                         \
          double d = (double)lu[(int64_t)i * n + i];                                          \
          if (d < 0) neg ^= 1;                                                                \
          if (ipiv[i] != i + 1) neg ^= 1;                                                     \
          s += log(fabs(d));                                                                  \
        }                                                                                     \
        /* log(0) = -inf already marks det == 0 (info > 0); a NaN entry                       \
         * propagates through the sum. */                                                     \
        if (inf > 0) s = -INFINITY;                                                           \
        else if (neg && !isnan(s)) s = NAN;                                                   \
        out[b] = (T)s;                                                                        \
      }                                                                                       \
      free(lu);                                                                               \
      free(ipiv);                                                                             \
    }                                                                                         \
    return failed ? sg_error(SG_ERR_MEM, "logdet: out of memory for the LU workspace") : SG_OK; \
  }                                                                                           \
                                                                                              \
  static sg_status inv_##P(T *a, int64_t batch, int n, int64_t *info) {                       \
    const int lda = n > 0 ? n : 1;                                                            \
    const int64_t nn = (int64_t)n * n;                                                        \
    int lwork = n * 64 > 1 ? n * 64 : 1;                                                      \
    int failed = 0;                                                                           \
    _Pragma("omp parallel if(batch_parallel(batch, n))")                                      \
    {                                                                                         \
      T *work = xmalloc(sizeof(T) * (size_t)lwork);                                           \
      int *ipiv = xmalloc(sizeof(int) * (size_t)(n > 0 ? n : 1));                             \
      if (!work || !ipiv) {                                                                   \
        _Pragma("omp atomic write") failed = 1;                                               \
      }                                                                                       \
      _Pragma("omp for schedule(static)")                                                     \
      for (int64_t b = 0; b < batch; b++) {                                                   \
        info[b] = 0;                                                                          \
        if (!work || !ipiv || n == 0) continue;                                               \
        T *m = a + b * nn;                                                                    \
        int inf = 0;                                                                          \
        P##getrf_(&n, &n, m, &lda, ipiv, &inf);                                               \
        if (inf == 0) P##getri_(&n, m, &lda, ipiv, work, &lwork, &inf);                       \
        info[b] = inf;                                                                        \
      }                                                                                       \
      free(work);                                                                             \
      free(ipiv);                                                                             \
    }                                                                                         \
    return failed ? sg_error(SG_ERR_MEM, "inv: out of memory for the LU workspace") : SG_OK;  \
  }                                                                                           \
                                                                                              \
  static sg_status solve_##P(T *x, int64_t batch, int64_t k64, const T *a, int64_t abatch,    \
                             int n, const int64_t *a_index, int64_t *info) {                  \
    const int lda = n > 0 ? n : 1;                                                            \
    const int64_t nn = (int64_t)n * n;                                                        \
    const int k = (int)k64;                                                                   \
    if (n == 0) {                                                                             \
      for (int64_t j = 0; j < abatch; j++) info[j] = 0;                                       \
      return SG_OK;                                                                           \
    }                                                                                         \
    T *lu = xmalloc(sizeof(T) * (size_t)(abatch * nn));                                       \
    int *ipiv = xmalloc(sizeof(int) * (size_t)(abatch * n));                                  \
    if (!lu || !ipiv) {                                                                       \
      free(lu);                                                                               \
      free(ipiv);                                                                             \
      return sg_error(SG_ERR_MEM, "solve: out of memory for the LU factors");                 \
    }                                                                                         \
    memcpy(lu, a, sizeof(T) * (size_t)(abatch * nn));                                         \
    _Pragma("omp parallel for schedule(static) if(batch_parallel(abatch, n))")                \
    for (int64_t j = 0; j < abatch; j++) {                                                    \
      int inf = 0;                                                                            \
      P##getrf_(&n, &n, lu + j * nn, &lda, ipiv + j * n, &inf);                               \
      info[j] = inf;                                                                          \
    }                                                                                         \
    const int64_t nk = (int64_t)n * k;                                                        \
    if (n <= 128 || k <= 16) {                                                                \
      /* substitution on row-major x: each solve costs ~2 n^2 k */                            \
      const int par = batch > 1 && (double)batch * (double)n * (double)n * (double)k >= 2e4; \
      _Pragma("omp parallel for schedule(static) if(par)")                                    \
      for (int64_t b = 0; b < batch; b++) {                                                   \
        int64_t j = a_index[b];                                                               \
        if (info[j] == 0) lu_solve_##P(lu + j * nn, ipiv + j * n, n, x + b * nk, k);         \
      }                                                                                       \
    } else {                                                                                  \
      /* large: OpenBLAS's blocked, threaded getrs, one system at a time */                   \
      T *tmp = xmalloc(sizeof(T) * (size_t)nk);                                               \
      if (!tmp) {                                                                             \
        free(lu);                                                                             \
        free(ipiv);                                                                           \
        return sg_error(SG_ERR_MEM, "solve: out of memory for the right-hand side");          \
      }                                                                                       \
      for (int64_t b = 0; b < batch; b++) {                                                   \
        int64_t j = a_index[b];                                                               \
        if (info[j] != 0) continue;                                                           \
        T *xb = x + b * nk;                                                                   \
        int inf = 0;                                                                          \
        /* row-major n x k -> column-major n x k and back */                                  \
        for (int i = 0; i < n; i++)                                                           \
          for (int c = 0; c < k; c++) tmp[(int64_t)c * n + i] = xb[(int64_t)i * k + c];       \
        P##getrs_("T", &n, &k, lu + j * nn, &lda, ipiv + j * n, tmp, &lda, &inf, 1);          \
        for (int i = 0; i < n; i++)                                                           \
          for (int c = 0; c < k; c++) xb[(int64_t)i * k + c] = tmp[(int64_t)c * n + i];       \
      }                                                                                       \
      free(tmp);                                                                              \
    }                                                                                         \
    free(lu);                                                                                 \
    free(ipiv);                                                                               \
    return SG_OK;                                                                             \
  }

SG_LINALG_KERNELS(float, s)
SG_LINALG_KERNELS(double, d)

/* eigh: syevd ('V') on the column-major A^T, whose upper triangle is the
 * row-major lower one (uplo = 'U'); its eigenvectors come back as the
 * columns of a column-major matrix, i.e. as rows row-major, and are
 * transposed in place. Matrices are independent (one per thread when
 * batched), so the result does not depend on the schedule.
 * slogdet: as logdet, with the sign kept apart. */
#define SG_LINALG_EIGH_KERNELS(T, P)                                                          \
  static sg_status eigh_##P(T *a, T *w, int64_t batch, int n, int64_t *info) {                \
    if (n == 0 || batch == 0) {                                                               \
      for (int64_t b = 0; b < batch; b++) info[b] = 0;                                        \
      return SG_OK;                                                                           \
    }                                                                                         \
    const int64_t nn = (int64_t)n * n;                                                        \
    /* workspace query (depends on n only) */                                                 \
    T wq = 0;                                                                                 \
    int iwq = 0, qinfo = 0, m1 = -1;                                                          \
    P##syevd_("V", "U", &n, a, &n, w, &wq, &m1, &iwq, &m1, &qinfo, 1, 1);                     \
    if (qinfo != 0)                                                                           \
      return sg_error(SG_ERR_STATE, "eigh: LAPACK workspace query failed (info %d)", qinfo); \
    /* at least the documented minimum for jobz = 'V' (a float32 query may                   \
     * round the size down) */                                                                \
    const double lmin = 1.0 + 6.0 * n + 2.0 * (double)n * n;                                  \
    if (lmin > 0x7fffffff)                                                                    \
      return sg_error(SG_ERR_ARG, "eigh: matrices of order %d are too large for LAPACK", n);  \
    const int lwork = (double)wq > lmin ? (int)ceil((double)wq) : (int)lmin;                  \
    const int liwork = iwq > 3 + 5 * n ? iwq : 3 + 5 * n;                                     \
    int failed = 0;                                                                           \
    _Pragma("omp parallel if(batch_parallel(batch, n))")                                      \
    {                                                                                         \
      T *work = xmalloc(sizeof(T) * (size_t)lwork);                                           \
      int *iwork = xmalloc(sizeof(int) * (size_t)liwork);                                     \
      if (!work || !iwork) {                                                                  \
        _Pragma("omp atomic write") failed = 1;                                               \
      }                                                                                       \
      _Pragma("omp for schedule(static)")                                                     \
      for (int64_t b = 0; b < batch; b++) {                                                   \
        info[b] = 0;                                                                          \
        if (!work || !iwork) continue;                                                        \
        T *m = a + b * nn;                                                                    \
        int inf = 0;                                                                          \
        P##syevd_("V", "U", &n, m, &n, w + b * n, work, &lwork, iwork, &liwork, &inf, 1, 1);  \
        info[b] = inf;                                                                        \
        for (int i = 0; i < n; i++)                                                           \
          for (int j = i + 1; j < n; j++) {                                                   \
            const T t = m[(int64_t)i * n + j];                                                \
            m[(int64_t)i * n + j] = m[(int64_t)j * n + i];                                    \
            m[(int64_t)j * n + i] = t;                                                        \
          }                                                                                   \
      }                                                                                       \
      free(work);                                                                             \
      free(iwork);                                                                            \
    }                                                                                         \
    return failed ? sg_error(SG_ERR_MEM, "eigh: out of memory for the LAPACK workspace")      \
                  : SG_OK;                                                                    \
  }                                                                                           \
                                                                                              \
  static sg_status slogdet_##P(T *sign, T *logabs, const T *a, int64_t batch, int n) {        \
    const int lda = n > 0 ? n : 1;                                                            \
    const int64_t nn = (int64_t)n * n;                                                        \
    int failed = 0;                                                                           \
    _Pragma("omp parallel if(batch_parallel(batch, n))")                                      \
    {                                                                                         \
      T *lu = xmalloc(sizeof(T) * (size_t)nn);                                                \
      int *ipiv = xmalloc(sizeof(int) * (size_t)(n > 0 ? n : 1));                             \
      if (!lu || !ipiv) {                                                                     \
        _Pragma("omp atomic write") failed = 1;                                               \
      }                                                                                       \
      _Pragma("omp for schedule(static)")                                                     \
      for (int64_t b = 0; b < batch; b++) {                                                   \
        if (!lu || !ipiv) continue;                                                           \
        memcpy(lu, a + b * nn, sizeof(T) * (size_t)nn);                                       \
        int inf = 0;                                                                          \
        if (n > 0) P##getrf_(&n, &n, lu, &lda, ipiv, &inf);                                   \
        double s = 0;                                                                         \
        int neg = 0;                                                                          \
        for (int i = 0; i < n; i++) {                                                         \
          double d = (double)lu[(int64_t)i * n + i];                                          \
          if (d < 0) neg ^= 1;                                                                \
          if (ipiv[i] != i + 1) neg ^= 1;                                                     \
          s += log(fabs(d));                                                                  \
        }                                                                                     \
        double sgn = neg ? -1.0 : 1.0;                                                        \
        if (isnan(s)) sgn = NAN;                                                              \
        else if (inf > 0) {                                                                   \
          sgn = 0;                                                                            \
          s = -INFINITY;                                                                      \
        }                                                                                     \
        sign[b] = (T)sgn;                                                                     \
        logabs[b] = (T)s;                                                                     \
      }                                                                                       \
      free(lu);                                                                               \
      free(ipiv);                                                                             \
    }                                                                                         \
    return failed ? sg_error(SG_ERR_MEM, "slogdet: out of memory for the LU workspace") : SG_OK; \
  }

SG_LINALG_EIGH_KERNELS(float, s)
SG_LINALG_EIGH_KERNELS(double, d)

/* Empty tensors are contiguous whatever their strides. */
static int contig(const sg_tensor *t) { return sg_numel(t) == 0 || sg_is_contiguous(t); }

/* (batch, n) of a contiguous stack of square matrices. */
static int stack_dims(const sg_tensor *a, int64_t *batch, int *n) {
  if (a->ndim < 2 || a->dtype > SG_FLOAT64 || !contig(a)) return -1;
  int64_t m = a->shape[a->ndim - 1];
  if (m != a->shape[a->ndim - 2] || m > 0x7fffffff / 64) return -1;
  int64_t b = 1;
  for (int i = 0; i < a->ndim - 2; i++) b *= a->shape[i];
  *batch = b;
  *n = (int)m;
  return 0;
}

static sg_status bad_args(void) {
  return sg_error(SG_ERR_ARG, "linalg kernel: expected a contiguous float stack of square matrices");
}

static sg_status cpu_cholesky(sg_tensor *a, bool upper, int64_t *info) {
  int64_t batch;
  int n;
  if (stack_dims(a, &batch, &n)) return bad_args();
  if (a->dtype == SG_FLOAT32) return cholesky_s(sg_data_ptr(a), batch, n, upper, info);
  return cholesky_d(sg_data_ptr(a), batch, n, upper, info);
}

static sg_status cpu_logdet(sg_tensor *out, const sg_tensor *a) {
  int64_t batch;
  int n;
  if (stack_dims(a, &batch, &n) || out->dtype != a->dtype || !contig(out) ||
      sg_numel(out) != batch)
    return bad_args();
  if (a->dtype == SG_FLOAT32) return logdet_s(sg_data_ptr(out), sg_data_ptr(a), batch, n);
  return logdet_d(sg_data_ptr(out), sg_data_ptr(a), batch, n);
}

static sg_status cpu_inv(sg_tensor *a, int64_t *info) {
  int64_t batch;
  int n;
  if (stack_dims(a, &batch, &n)) return bad_args();
  if (a->dtype == SG_FLOAT32) return inv_s(sg_data_ptr(a), batch, n, info);
  return inv_d(sg_data_ptr(a), batch, n, info);
}

static sg_status cpu_solve(sg_tensor *x, const sg_tensor *a, const int64_t *a_index,
                           int64_t *info) {
  int64_t abatch;
  int n;
  if (stack_dims(a, &abatch, &n) || x->dtype != a->dtype || !contig(x) ||
      x->ndim < 2 || x->shape[x->ndim - 2] != n || x->shape[x->ndim - 1] > 0x7fffffff)
    return bad_args();
  int64_t k = x->shape[x->ndim - 1];
  int64_t batch = 1;
  for (int i = 0; i < x->ndim - 2; i++) batch *= x->shape[i];
  if (a->dtype == SG_FLOAT32)
    return solve_s(sg_data_ptr(x), batch, k, sg_data_ptr(a), abatch, n, a_index, info);
  return solve_d(sg_data_ptr(x), batch, k, sg_data_ptr(a), abatch, n, a_index, info);
}

static sg_status cpu_eigh(sg_tensor *a, sg_tensor *w, int64_t *info) {
  int64_t batch;
  int n;
  if (stack_dims(a, &batch, &n) || w->dtype != a->dtype || !contig(w) ||
      sg_numel(w) != batch * n)
    return bad_args();
  if (a->dtype == SG_FLOAT32) return eigh_s(sg_data_ptr(a), sg_data_ptr(w), batch, n, info);
  return eigh_d(sg_data_ptr(a), sg_data_ptr(w), batch, n, info);
}

static sg_status cpu_slogdet(sg_tensor *sign, sg_tensor *logabs, const sg_tensor *a) {
  int64_t batch;
  int n;
  if (stack_dims(a, &batch, &n) || sign->dtype != a->dtype || logabs->dtype != a->dtype ||
      !contig(sign) || !contig(logabs) || sg_numel(sign) != batch || sg_numel(logabs) != batch)
    return bad_args();
  if (a->dtype == SG_FLOAT32)
    return slogdet_s(sg_data_ptr(sign), sg_data_ptr(logabs), sg_data_ptr(a), batch, n);
  return slogdet_d(sg_data_ptr(sign), sg_data_ptr(logabs), sg_data_ptr(a), batch, n);
}

const struct sg_linalg_kernels sg_cpu_linalg_kernels = {
    .cholesky = cpu_cholesky,
    .logdet = cpu_logdet,
    .inv = cpu_inv,
    .solve = cpu_solve,
    .eigh = cpu_eigh,
    .slogdet = cpu_slogdet,
};
