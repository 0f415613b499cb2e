/* Typed autograd context. An op that saves scalars for its backward
 * (dims, shapes, flags, coefficients) declares a small struct for them and
 * stores it in / loads it from its node with these macros, so backward
 * formulas read named fields instead of raw slot indices. The struct lives
 * in the node's context storage (sg_node.ctx, 192 bytes); a static
 * assert rejects a struct that does not fit. Usage:
 *   typedef struct { int64_t dim; bool log; } softmax_ctx;
 *   softmax_ctx c = {d, lg};  SG_CTX_STORE(n, &c);
 *   softmax_ctx c;  SG_CTX_LOAD(node, &c); */
#ifndef SG_INTERNAL_OP_CTX_H
#define SG_INTERNAL_OP_CTX_H

#include <string.h>

#include "sgen/autograd.h"
#include "sgen/tensor.h"

#define SG_CTX_FITS(node, value) \
  _Static_assert(sizeof *(value) <= sizeof (node)->ctx, "op context does not fit in sg_node.ctx")

#define SG_CTX_STORE(node, value)                \
  do {                                           \
    SG_CTX_FITS(node, value);                    \
    memcpy((node)->ctx, (value), sizeof *(value)); \
  } while (0)

#define SG_CTX_LOAD(node, value)                 \
  do {                                           \
    SG_CTX_FITS(node, value);                    \
    memcpy((value), (node)->ctx, sizeof *(value)); \
  } while (0)

/* A tensor's shape, which many contexts save (to rebuild a zero gradient
 * or reduce one back to an input's shape). */
typedef struct sg_ctx_shape {
  int ndim;
  int64_t shape[SG_MAX_DIMS];
} sg_ctx_shape;

static inline sg_ctx_shape sg_ctx_shape_of(const sg_tensor *t) {
  sg_ctx_shape s;
  memset(&s, 0, sizeof s);
  s.ndim = t->ndim;
  memcpy(s.shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
  return s;
}

#endif
