/* Integer arithmetic without undefined behaviour, shared by the CPU and
 * CUDA kernels so both backends give the same bits (docs/reliability.md):
 * int64 + - * and negation wrap through uint64, as PyTorch's results do;
 * integer powers multiply by squaring (exact below 2^63, wrapping above);
 * floats convert to int64 saturating, NaN -> 0 (the C cast is undefined
 * out of range); clamp bounds saturate to the tensor's integer type. Plain C for engine/cpu, host and device code for the .cu
 * files. */
#ifndef SG_INTERNAL_INT_ARITH_H
#define SG_INTERNAL_INT_ARITH_H

#include <stdint.h>

#ifdef __CUDACC__
#define SG_INT_ARITH static __host__ __device__ __forceinline__
#else
#define SG_INT_ARITH static inline
#endif

SG_INT_ARITH int64_t sg_i64_add(int64_t a, int64_t b) {
  return (int64_t)((uint64_t)a + (uint64_t)b);
}
SG_INT_ARITH int64_t sg_i64_sub(int64_t a, int64_t b) {
  return (int64_t)((uint64_t)a - (uint64_t)b);
}
SG_INT_ARITH int64_t sg_i64_mul(int64_t a, int64_t b) {
  return (int64_t)((uint64_t)a * (uint64_t)b);
}
SG_INT_ARITH int64_t sg_i64_neg(int64_t a) { return (int64_t)(UINT64_C(0) - (uint64_t)a); }

/* a^b by squaring; negative powers truncate toward zero (1/a^|b|) */
SG_INT_ARITH int64_t sg_i64_pow(int64_t a, int64_t b) {
  if (b < 0) return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;
  uint64_t r = 1, x = (uint64_t)a;
  for (uint64_t e = (uint64_t)b; e; e >>= 1) {
    if (e & 1) r *= x;
    x *= x;
  }
  return (int64_t)r;
}

SG_INT_ARITH int64_t sg_f2i64(double v) {
  if (v != v) return 0;
  if (v >= 9223372036854775808.0) return INT64_MAX;
  if (v < -9223372036854775808.0) return INT64_MIN;
  return (int64_t)v;
}

/* A bound for a uint8 comparison (clamp): saturates to 0..255 instead of
 * wrapping, NaN aside (callers treat a NaN bound as absent). */
SG_INT_ARITH uint8_t sg_u8_bound(double v) {
  return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
}

#undef SG_INT_ARITH
#endif
