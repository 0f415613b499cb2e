/* A CPU helper shared by reduce_cpu.c and softmax_cpu.c. */
#ifndef SG_CPU_EXPF_CPU_H
#define SG_CPU_EXPF_CPU_H

#include <stdint.h>
#include <string.h>

/* exp for float32 that the compiler vectorizes (Cephes polynomial, about
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
