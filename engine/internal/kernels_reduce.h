/* Kernel table of the reduce family (see backend.h).
 *
 * Every reduction kernel sees its input as a contiguous [O, N, I] block and
 * reduces the middle dim: out[o, i] = reduce over n of x[o, n, i]. The op
 * layer (ops/reduce.c) arranges that layout, permuting and copying only when
 * the reduced dims are not one block. Outputs are contiguous [O, I]. */
#ifndef SG_INTERNAL_KERNELS_REDUCE_H
#define SG_INTERNAL_KERNELS_REDUCE_H

#include <stdint.h>
#include <string.h>

#include "sgen/tensor.h"

struct sg_reduce_kernels {
  /* max (is_max) or min of x over n: values (x's dtype, required) and
   * indices (int64, may be NULL). NaN wins over numbers, ties keep the
   * first index (PyTorch). N >= 1. dtypes: float32/64, int64, uint8, bool. */
  sg_status (*minmax)(sg_tensor *values, sg_tensor *indices, const sg_tensor *x, int64_t O,
                      int64_t N, int64_t I, bool is_max);
  /* out = sum_n (x - mean)^2 / max(N - correction, 0) (float32/64). */
  sg_status (*var)(sg_tensor *out, const sg_tensor *x, int64_t O, int64_t N, int64_t I,
                   double correction);
  /* out = (sum_n |x|^p)^(1/p); p == INFINITY: max |x| (NaN propagates). */
  sg_status (*norm)(sg_tensor *out, const sg_tensor *x, int64_t O, int64_t N, int64_t I,
                    double p);
  /* out = log(sum_n exp(x)), with max subtraction. */
  sg_status (*logsumexp)(sg_tensor *out, const sg_tensor *x, int64_t O, int64_t N, int64_t I);
  /* out[o,k,i] = x[o, idx[o,k,i], i]; x [O,N,I], idx (int64) and out [O,K,I].
   * Indices are trusted (validated by the caller). */
  sg_status (*take_along)(sg_tensor *out, const sg_tensor *x, const sg_tensor *idx, int64_t O,
                          int64_t N, int64_t I, int64_t K);
  /* out = 0, then out[o, idx[o,k,i], i] += src[o,k,i]; the adjoint of take_along. */
  sg_status (*put_along)(sg_tensor *out, const sg_tensor *src, const sg_tensor *idx, int64_t O,
                         int64_t N, int64_t I, int64_t K);
};

extern const struct sg_reduce_kernels sg_cpu_reduce_kernels;

/* ---- internal differentiable ops (ops/reduce.c), used by backward
 * formulas of max/min and by nll_loss. idx is int64 with x's ndim and x's
 * shape except along dim; its values must lie in [0, x->shape[dim]). ---- */
/* out = x gathered along dim at idx (shape of idx). Backward: put_along. */
sg_tensor *sg_internal_take_along(sg_tensor *x, sg_tensor *idx, int dim);
/* out (src's shape with dim of size n) = zeros with src added at idx along
 * dim. Backward: take_along. */
sg_tensor *sg_internal_put_along(sg_tensor *src, sg_tensor *idx, int dim, int64_t n);

/* ---- CPU helper shared by reduce_cpu.c and softmax_cpu.c ----
 * exp for float32 that the compiler vectorizes (Cephes polynomial, about
 * 1 ulp on [-87, 88]); returns 0 below -87.5 (where expf is subnormal) and
 * propagates NaN. Used where arguments are <= 0 (x - max). */
static inline float sg_cpu_expf(float x) {
  float xc = x > -87.5f ? x : -87.5f; /* NaN -> -87.5, fixed up below */
  xc = xc < 88.5f ? xc : 88.5f;
  /* n = round(xc / ln2) with the 1.5 * 2^23 trick (round to nearest even) */
  float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  int32_t e = ((int32_t)n + 127) << 23;
  float s;
  memcpy(&s, &e, sizeof s);
  float res = p * s;
  res = x < -87.5f ? 0.0f : res;
  return x != x ? x : res;
}

#endif
