/* Strided elementwise iteration over up to 3 operands (CPU). The geometry
 * is coalesced (adjacent dims merged where every operand allows) and the
 * outer rows are split across OpenMP threads; the kernel sees one row at a
 * time with per-operand element strides, so the contiguous and
 * scalar-broadcast cases vectorize. */
#ifndef SG_INTERNAL_ITER_H
#define SG_INTERNAL_ITER_H

#include <stdint.h>

#include "sgen/tensor.h"

#define SG_ITER_MAX_OPS 4

typedef struct sg_iter {
  int nops;
  int ndim;
  int64_t shape[SG_MAX_DIMS];
  int64_t strides[SG_ITER_MAX_OPS][SG_MAX_DIMS]; /* elements */
  char *data[SG_ITER_MAX_OPS];
  size_t elsize[SG_ITER_MAX_OPS];
  int64_t numel;
} sg_iter;

/* Row kernel: p[k] points at operand k's first element of the row; s[k] is
 * its element stride within the row; n the row length. */
typedef void (*sg_row_fn)(char **p, const int64_t *s, int64_t n, void *ctx);

/* Builds an iterator over `shape` for operands ops[0..nops) whose
 * (broadcast) strides are given in elements. */
void sg_iter_init(sg_iter *it, int nops, const int64_t *shape, int ndim, char **data,
                  const size_t *elsize, int64_t strides[][SG_MAX_DIMS]);
/* Runs fn over all rows, in parallel when the work is large enough. */
void sg_iter_run(const sg_iter *it, sg_row_fn fn, void *ctx);

#endif
