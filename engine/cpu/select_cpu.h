/* CPU helpers shared by the index, sort and sparse families
 * (index_cpu.c, sort_cpu.c, sparse_cpu.c): the [outer, n, inner] split,
 * the OpenMP grain, the order keys and the top-k job that sort / topk and
 * the l0inf mask run on (see sort_cpu.c). */
#ifndef SG_CPU_SELECT_CPU_H
#define SG_CPU_SELECT_CPU_H

#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sgen/tensor.h"

#define GRAIN 32768

static inline bool parallel_ok(int64_t work, int64_t units) {
  return work >= GRAIN && units > 1 && omp_get_max_threads() > 1 && !omp_in_parallel();
}

/* [outer, n, inner] view of a tensor around dim (0-dim counts as [1,1,1]). */
static inline void dim_split(const sg_tensor *t, int dim, int64_t *outer, int64_t *n, int64_t *inner) {
  *outer = 1;
  *inner = 1;
  *n = t->ndim ? t->shape[dim] : 1;
  for (int d = 0; d < dim && d < t->ndim; d++) *outer *= t->shape[d];
  for (int d = dim + 1; d < t->ndim; d++) *inner *= t->shape[d];
}

/* Order keys: the unsigned integer order of key_*(v, mode) is the wanted
 * order of v (NaN above +inf, -0 == +0; KM_ABS: |v|). */
enum { KM_LARGEST = 0, KM_SMALLEST = 1, KM_ABS = 2 };

static inline uint32_t key_f32(float v, int mode) {
  uint32_t b;
  if (mode == KM_ABS) {
    memcpy(&b, &v, sizeof b);
    b &= 0x7fffffffu;
    return b > 0x7f800000u ? 0x7f800001u : b; /* every NaN just above inf */
  }
  float w = v + 0.0f; /* -0 -> +0 */
  memcpy(&b, &w, sizeof b);
  b ^= (uint32_t)((int32_t)b >> 31) | 0x80000000u;
  b = v != v ? 0xffffffffu : b;
  return mode == KM_SMALLEST ? ~b : b;
}

static inline uint32_t key_u8(uint8_t v, int mode) {
  return mode == KM_SMALLEST ? ~(uint32_t)v : (uint32_t)v;
}

static inline uint64_t key_f64(double v, int mode) {
  uint64_t b;
  if (mode == KM_ABS) {
    memcpy(&b, &v, sizeof b);
    b &= 0x7fffffffffffffffull;
    return b > 0x7ff0000000000000ull ? 0x7ff0000000000001ull : b;
  }
  double w = v + 0.0;
  memcpy(&b, &w, sizeof b);
  b ^= (uint64_t)((int64_t)b >> 63) | 0x8000000000000000ull;
  b = v != v ? ~0ull : b;
  return mode == KM_SMALLEST ? ~b : b;
}

static inline uint64_t key_i64(int64_t v, int mode) {
  if (mode == KM_ABS) return v < 0 ? 0ull - (uint64_t)v : (uint64_t)v;
  uint64_t b = (uint64_t)v ^ 0x8000000000000000ull;
  return mode == KM_SMALLEST ? ~b : b;
}

/* One job over contiguous [outer, n, inner] data: either top-k values and
 * indices ([outer, k, inner]; vals may be NULL), or a mask ([outer, n,
 * inner], u8 or T, and/or out = x * mask). */
typedef struct topk_job {
  int64_t outer, n, inner, k;
  int mode;
  bool sorted;
  void *vals;
  int64_t *idx;
  bool mask_mode;
  uint8_t *mask8;
  void *maskT;
  void *out;
  int failed; /* out of memory in a worker */
} topk_job;

/* Runs a top-k or mask job on contiguous x (sort_cpu.c). */
sg_status sg_cpu_topk_run(topk_job *j, const sg_tensor *x, const char *op);

#endif
