/* CPU strided iteration (see internal/iter.h). */
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "internal/iter.h"

/* Below this many elements a parallel region costs more than it saves. */
#define SG_PARALLEL_GRAIN 32768

void sg_iter_init(sg_iter *it, int nops, const int64_t *shape, int ndim, char **data,
                  const size_t *elsize, int64_t strides[][SG_MAX_DIMS]) {
  it->nops = nops;
  it->numel = 1;
  for (int d = 0; d < ndim; d++) it->numel *= shape[d];
  for (int k = 0; k < nops; k++) {
    it->data[k] = data[k];
    it->elsize[k] = elsize[k];
  }
  /* Drop size-1 dims, then merge dim d into d+1 where every operand's
   * stride allows (stride[d] == stride[d+1] * shape[d+1]). */
  int n = 0;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 1) continue;
    it->shape[n] = shape[d];
    for (int k = 0; k < nops; k++) it->strides[k][n] = strides[k][d];
    n++;
  }
  if (n == 0) {
    it->shape[0] = 1;
    for (int k = 0; k < nops; k++) it->strides[k][0] = 0;
    n = 1;
  }
  int m = 0;
  for (int d = 1; d < n; d++) {
    bool ok = true;
    for (int k = 0; k < nops && ok; k++)
      ok = it->strides[k][m] == it->strides[k][d] * it->shape[d];
    if (ok) {
      it->shape[m] *= it->shape[d];
      for (int k = 0; k < nops; k++) it->strides[k][m] = it->strides[k][d];
    } else {
      m++;
      it->shape[m] = it->shape[d];
      for (int k = 0; k < nops; k++) it->strides[k][m] = it->strides[k][d];
    }
  }
  it->ndim = m + 1;
}

/* Runs rows [begin, end) of the outer index space; when ndim == 1 the single
 * row is split into [begin, end) element ranges instead. */
static void run_range(const sg_iter *it, sg_row_fn fn, void *ctx, int64_t begin, int64_t end) {
  int nd = it->ndim;
  int64_t inner = it->shape[nd - 1];
  int64_t s[SG_ITER_MAX_OPS];
  for (int k = 0; k < it->nops; k++) s[k] = it->strides[k][nd - 1];
  char *p[SG_ITER_MAX_OPS];
  if (nd == 1) {
    for (int k = 0; k < it->nops; k++)
      p[k] = it->data[k] + begin * s[k] * (int64_t)it->elsize[k];
    fn(p, s, end - begin, ctx);
    return;
  }
  int64_t idx[SG_MAX_DIMS];
  int64_t r = begin;
  for (int d = nd - 2; d >= 0; d--) {
    idx[d] = r % it->shape[d];
    r /= it->shape[d];
  }
  for (int64_t row = begin; row < end; row++) {
    for (int k = 0; k < it->nops; k++) {
      int64_t off = 0;
      for (int d = 0; d < nd - 1; d++) off += idx[d] * it->strides[k][d];
      p[k] = it->data[k] + off * (int64_t)it->elsize[k];
    }
    fn(p, s, inner, ctx);
    for (int d = nd - 2; d >= 0; d--) {
      if (++idx[d] < it->shape[d]) break;
      idx[d] = 0;
    }
  }
}

void sg_iter_run(const sg_iter *it, sg_row_fn fn, void *ctx) {
  if (it->numel == 0) return;
  int64_t units = it->ndim == 1 ? it->shape[0] : it->numel / it->shape[it->ndim - 1];
#ifdef _OPENMP
  int nthreads = omp_get_max_threads();
  if (nthreads > 1 && it->numel >= SG_PARALLEL_GRAIN && units > 1 && !omp_in_parallel()) {
#pragma omp parallel
    {
      int nt = omp_get_num_threads(), t = omp_get_thread_num();
      int64_t chunk = (units + nt - 1) / nt;
      /* Keep element ranges a multiple of 16 so vector loops stay aligned. */
      if (it->ndim == 1) chunk = (chunk + 15) & ~(int64_t)15;
      int64_t b = (int64_t)t * chunk, e = b + chunk < units ? b + chunk : units;
      if (b < e) run_range(it, fn, ctx, b, e);
    }
    return;
  }
#endif
  run_range(it, fn, ctx, 0, units);
}
