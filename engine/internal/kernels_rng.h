/* Kernel table of the rng family (see backend.h), and the scalar building
 * blocks of the random stream: Philox4x32-10 and the transforms from its
 * 32-bit words to uniforms, normals and bounded integers. docs/rng.md states
 * the stream layout; every backend must reproduce it bit for bit, so the
 * helpers below are written in plain IEEE arithmetic (no libm, no FMA) and
 * can be compiled for a GPU by defining SG_RNG_FN (e.g. as
 * `static inline __host__ __device__`) before including this header. */
#ifndef SG_INTERNAL_KERNELS_RNG_H
#define SG_INTERNAL_KERNELS_RNG_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "sgen/tensor.h"

#ifndef SG_RNG_FN
#define SG_RNG_FN static inline
#endif

/* ---- Philox4x32-10 (Salmon et al. 2011; Random123 / cuRAND constants) ---- */
#define SG_PHILOX_M0 0xD2511F53u
#define SG_PHILOX_M1 0xCD9E8D57u
#define SG_PHILOX_W0 0x9E3779B9u
#define SG_PHILOX_W1 0xBB67AE85u

/* One Philox4x32-10 block: out = philox(ctr, key). */
SG_RNG_FN void sg_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int r = 0; r < 10; r++) {
    if (r > 0) {
      k0 += SG_PHILOX_W0;
      k1 += SG_PHILOX_W1;
    }
    uint64_t p0 = (uint64_t)SG_PHILOX_M0 * c0;
    uint64_t p1 = (uint64_t)SG_PHILOX_M1 * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c1 = (uint32_t)p1;
    c3 = (uint32_t)p0;
    c0 = n0;
    c2 = n2;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/* Block b of the stream (seed, offset): key = (seed lo, seed hi), counter =
 * (lo, hi of the 64-bit block number offset + b, 0, 0). */
SG_RNG_FN void sg_rng_block(uint64_t seed, uint64_t block, uint32_t out[4]) {
  const uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), 0u, 0u};
  const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  sg_philox4x32_10(ctr, key, out);
}

/* ---- uniforms ---- */
/* float32 U[0,1): the top 24 bits of one word, (w >> 8) * 2^-24. */
SG_RNG_FN float sg_rng_u01_f32(uint32_t w) { return (float)(int32_t)(w >> 8) * 0x1p-24f; }
/* float64 U[0,1): 53 bits, ((a >> 5) * 2^26 + (b >> 6)) * 2^-53. */
SG_RNG_FN double sg_rng_u01_f64(uint32_t a, uint32_t b) {
  return ((double)(int32_t)(a >> 5) * 0x1p26 + (double)(int32_t)(b >> 6)) * 0x1p-53;
}

/* ---- natural log on (0, 1] (u is k * 2^-24 or k * 2^-53, never 0) ----
 * u = 2^e * m with m in [sqrt(1/2), sqrt(2)); log m = 2s(1 + s^2/3 + ...),
 * s = (m - 1)/(m + 1); log u = e*ln2_hi + (e*ln2_lo + log m). */
SG_RNG_FN float sg_rng_log_f32(float u) {
  uint32_t b;
  memcpy(&b, &u, sizeof b);
  uint32_t ix = b - 0x3f3504f3u;
  int32_t e = (int32_t)(ix >> 23) - (int32_t)((ix >> 31) << 9); /* arithmetic shift */
  uint32_t iz = b - ((uint32_t)e << 23);
  float m;
  memcpy(&m, &iz, sizeof m);
  float f = m - 1.0f;
  float s = f / (m + 1.0f);
  float z = s * s;
  float p = 0x1.c71c72p-4f;       /* 1/9 */
  p = p * z + 0x1.24924ap-3f;     /* 1/7 */
  p = p * z + 0x1.99999ap-3f;     /* 1/5 */
  p = p * z + 0x1.555556p-2f;     /* 1/3 */
  p = p * z + 1.0f;
  float ef = (float)e;
  return ef * 0x1.62e300p-1f + (ef * 0x1.2fefa2p-17f + 2.0f * s * p);
}

SG_RNG_FN double sg_rng_log_f64(double u) {
  uint64_t b;
  memcpy(&b, &u, sizeof b);
  uint64_t ix = b - UINT64_C(0x3fe6a09e667f3bcd);
  int32_t e = (int32_t)(ix >> 52) - (int32_t)((ix >> 63) << 12); /* arithmetic shift */
  uint64_t iz = b - ((uint64_t)(int64_t)e << 52);
  double m;
  memcpy(&m, &iz, sizeof m);
  double f = m - 1.0;
  double s = f / (m + 1.0);
  double z = s * s;
  double p = 0x1.8618618618618p-5; /* 1/21 */
  p = p * z + 0x1.af286bca1af28p-5; /* 1/19 */
  p = p * z + 0x1.e1e1e1e1e1e1ep-5; /* 1/17 */
  p = p * z + 0x1.1111111111111p-4; /* 1/15 */
  p = p * z + 0x1.3b13b13b13b14p-4; /* 1/13 */
  p = p * z + 0x1.745d1745d1746p-4; /* 1/11 */
  p = p * z + 0x1.c71c71c71c71cp-4; /* 1/9 */
  p = p * z + 0x1.2492492492492p-3; /* 1/7 */
  p = p * z + 0x1.999999999999ap-3; /* 1/5 */
  p = p * z + 0x1.5555555555555p-2; /* 1/3 */
  p = p * z + 1.0;
  double ed = (double)e;
  return ed * 0x1.62e42fee00000p-1 + (ed * 0x1.a39ef35793c76p-33 + 2.0 * s * p);
}

/* ---- sin and cos of a turn fraction ----
 * The angle is 2*pi*t with t = k * 2^-bits in [0, 1). With q = round(4t)
 * (ties up, 0..4) and f = 4t - q in [-1/2, 1/2), the angle is q*pi/2 + f*pi/2;
 * sin/cos(f*pi/2) are Taylor polynomials in f (|f*pi/2| <= pi/4), then the
 * quadrant q rotates them. */
/* t = (w >> 8) * 2^-24 */
SG_RNG_FN void sg_rng_sincos_turn_f32(uint32_t w, float *s, float *c) {
  int32_t k = (int32_t)(w >> 8);
  int32_t q = (k + (1 << 21)) >> 22;
  float f = (float)(k - (q << 22)) * 0x1p-22f;
  float z = f * f;
  float ps = -0x1.e30750p-19f;      /* sin: (pi/2)^11/11! ... */
  ps = ps * z + 0x1.507834p-13f;
  ps = ps * z - 0x1.32d2ccp-8f;
  ps = ps * z + 0x1.466bc6p-4f;
  ps = ps * z - 0x1.4abbcep-1f;
  ps = ps * z + 0x1.921fb6p+0f;     /* ... pi/2 */
  float pc = -0x1.a6d1f2p-16f;      /* cos: -(pi/2)^10/10! ... */
  pc = pc * z + 0x1.e1f506p-11f;
  pc = pc * z - 0x1.55d3c8p-6f;
  pc = pc * z + 0x1.03c1f0p-2f;
  pc = pc * z - 0x1.3bd3ccp+0f;     /* ... -(pi/2)^2/2 */
  float sv = f * ps;
  float cv = pc * z + 1.0f;
  float so = (q & 1) ? cv : sv;
  float co = (q & 1) ? sv : cv;
  *s = (q & 2) ? -so : so;
  *c = ((q + 1) & 2) ? -co : co;
}

/* t = ((a >> 5) * 2^26 + (b >> 6)) * 2^-53 */
SG_RNG_FN void sg_rng_sincos_turn_f64(uint32_t a, uint32_t b, double *s, double *c) {
  int32_t hi = (int32_t)(a >> 5); /* top 27 of the 53 bits */
  int32_t q = (hi + (1 << 24)) >> 25;
  double f = ((double)(hi - (q << 25)) * 0x1p26 + (double)(int32_t)(b >> 6)) * 0x1p-51;
  double z = f * f;
  double ps = 0x1.aaec32af93359p-38; /* sin: (pi/2)^17/17! ... */
  ps = ps * z - 0x1.6fadb9f155744p-31;
  ps = ps * z + 0x1.e8f434d018d63p-25;
  ps = ps * z - 0x1.e3074fde8871fp-19;
  ps = ps * z + 0x1.50783487ee782p-13;
  ps = ps * z - 0x1.32d2cce62bd86p-8;
  ps = ps * z + 0x1.466bc6775aae2p-4;
  ps = ps * z - 0x1.4abbce625be53p-1;
  ps = ps * z + 0x1.921fb54442d18p+0; /* ... pi/2 */
  double pc = 0x1.20c62c2f2d7f5p-34; /* cos: (pi/2)^16/16! ... */
  pc = pc * z - 0x1.b6e24f44b128fp-28;
  pc = pc * z + 0x1.f9d38a3763cc3p-22;
  pc = pc * z - 0x1.a6d1f2a204a8cp-16;
  pc = pc * z + 0x1.e1f506891babbp-11;
  pc = pc * z - 0x1.55d3c7e3cbffap-6;
  pc = pc * z + 0x1.03c1f081b5ac4p-2;
  pc = pc * z - 0x1.3bd3cc9be45dep+0; /* ... -(pi/2)^2/2 */
  double sv = f * ps;
  double cv = pc * z + 1.0;
  double so = (q & 1) ? cv : sv;
  double co = (q & 1) ? sv : cv;
  *s = (q & 2) ? -so : so;
  *c = ((q + 1) & 2) ? -co : co;
}

/* ---- Box-Muller ----
 * float32: words (a, b) -> u1 = ((a >> 8) + 1) * 2^-24 in (0, 1] (never 0),
 * r = sqrt(|-2 log u1|), theta = 2*pi*((b >> 8) * 2^-24); z0 = r cos theta,
 * z1 = r sin theta. (|.| only turns the -0 of u1 = 1 into +0.) */
SG_RNG_FN float sg_rng_bm_r2_f32(uint32_t a) {
  float u1 = (float)(int32_t)((a >> 8) + 1u) * 0x1p-24f;
  return fabsf(-2.0f * sg_rng_log_f32(u1));
}

SG_RNG_FN void sg_rng_normal2_f32(uint32_t a, uint32_t b, float *z0, float *z1) {
  float r = sqrtf(sg_rng_bm_r2_f32(a));
  float s, c;
  sg_rng_sincos_turn_f32(b, &s, &c);
  *z0 = r * c;
  *z1 = r * s;
}

/* float64: u1 = (53-bit integer of (w0, w1) + 1) * 2^-53 in (0, 1], theta
 * from the 53-bit turn of (w2, w3). */
SG_RNG_FN double sg_rng_bm_r2_f64(uint32_t w0, uint32_t w1) {
  double u1 =
      ((double)(int32_t)(w0 >> 5) * 0x1p26 + (double)(int32_t)(w1 >> 6) + 1.0) * 0x1p-53;
  return fabs(-2.0 * sg_rng_log_f64(u1));
}

SG_RNG_FN void sg_rng_normal2_f64(const uint32_t w[4], double *z0, double *z1) {
  double r = sqrt(sg_rng_bm_r2_f64(w[0], w[1]));
  double s, c;
  sg_rng_sincos_turn_f64(w[2], w[3], &s, &c);
  *z0 = r * c;
  *z1 = r * s;
}

/* ---- bounded integers ----
 * floor(x * range / 2^64) for the 64-bit word x = lo | hi << 32 (Lemire's
 * multiply-shift without rejection: each value's probability is within
 * range / 2^64 of 1/range, relatively). */
SG_RNG_FN uint64_t sg_rng_mulhi64(uint64_t x, uint64_t range) {
  uint64_t xl = (uint32_t)x, xh = x >> 32, rl = (uint32_t)range, rh = range >> 32;
  uint64_t ll = xl * rl, lh = xl * rh, hl = xh * rl, hh = xh * rh;
  uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;
  return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

/* ---- the generator (engine/core/rng.c) ----
 * Reserves nblocks consecutive Philox blocks of the global stream: returns
 * the seed and the first block number, and advances the offset by nblocks
 * (atomically with respect to other threads). */
void sg_rng_reserve(uint64_t nblocks, uint64_t *seed, uint64_t *offset);

/* ---- kernel table ----
 * Every output is contiguous and is filled in its row-major order: element
 * i is a pure function of (seed, offset, i) (docs/rng.md). */
struct sg_rng_kernels {
  /* out float32 (4 values per block) or float64 (2 per block): U[0,1). */
  sg_status (*uniform)(sg_tensor *out, uint64_t seed, uint64_t offset);
  /* out float: mean + std * N(0,1), Box-Muller (float32: 4 per block,
   * float64: 2 per block). */
  sg_status (*normal)(sg_tensor *out, double mean, double std, uint64_t seed, uint64_t offset);
  /* out any dtype: low + mulhi64(x_i, range), x_i = 64-bit value i (2 per
   * block); range >= 1 and every value representable in out's dtype. */
  sg_status (*randint)(sg_tensor *out, int64_t low, uint64_t range, uint64_t seed,
                       uint64_t offset);
  /* First element of p (contiguous float) outside [0, 1] or NaN: its index
   * and value, *bad_index = -1 if none. */
  sg_status (*check_prob)(const sg_tensor *p, int64_t *bad_index, double *bad_value);
  /* out[i] = u_i < p[i] (u_i the uniform of p's dtype); out, p contiguous,
   * same float dtype. */
  sg_status (*bernoulli)(sg_tensor *out, const sg_tensor *p, uint64_t seed, uint64_t offset);
  /* out[i] = (w_i >> 8) < ceil(p * 2^24), i.e. float32 u_i < p (4 per block),
   * any dtype. */
  sg_status (*bernoulli_scalar)(sg_tensor *out, double p, uint64_t seed, uint64_t offset);
  /* out = x * m with m_i = (w_i >> 8) >= ceil(p * 2^24) ? 1/(1-p) : 0
   * (4 per block); mask (may be NULL) receives m. x, out, mask contiguous,
   * same float dtype. */
  sg_status (*dropout)(sg_tensor *out, sg_tensor *mask, const sg_tensor *x, double p,
                       uint64_t seed, uint64_t offset);
  /* out int64 of size n: Fisher-Yates, for i = n-1 .. 1 swap out[i] and
   * out[mulhi64(x_i, i + 1)], x_i = 64-bit value i (2 per block). */
  sg_status (*randperm)(sg_tensor *out, uint64_t seed, uint64_t offset);
};

extern const struct sg_rng_kernels sg_cpu_rng_kernels;

#endif
