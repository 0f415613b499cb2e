/* CPU kernels of the rng family. Philox blocks are computed BATCH at a time
 * in structure-of-arrays form so the compiler vectorizes the 32x32->64-bit
 * multiplies; OpenMP splits the batches (static schedule). Every output
 * element depends only on (seed, offset, its index), never on the thread
 * count. The transforms are the scalar helpers of kernels_rng.h.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "internal/backend.h"
#include "internal/kernels_rng.h"

#define BATCH 16            /* Philox blocks per batch */
#define PAR_MIN_BATCHES 64  /* fewer batches than this (4096 floats) stay serial */

typedef uint8_t sg_bool8;

/* o[w][j] = word w of the block `first + j` of the stream of `seed`. */
static inline void philox_batch(uint64_t seed, uint64_t first, uint32_t o[4][BATCH]) {
  uint32_t c0[BATCH], c1[BATCH], c2[BATCH], c3[BATCH];
  for (int j = 0; j < BATCH; j++) {
    uint64_t b = first + (uint64_t)j;
    c0[j] = (uint32_t)b;
    c1[j] = (uint32_t)(b >> 32);
    c2[j] = 0;
    c3[j] = 0;
  }
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int r = 0; r < 10; r++) {
    /* high and low halves written separately: this form vectorizes */
#pragma GCC unroll 1
    for (int j = 0; j < BATCH; j++) {
      uint32_t hi0 = (uint32_t)(((uint64_t)SG_PHILOX_M0 * c0[j]) >> 32);
      uint32_t lo0 = SG_PHILOX_M0 * c0[j];
      uint32_t hi1 = (uint32_t)(((uint64_t)SG_PHILOX_M1 * c2[j]) >> 32);
      uint32_t lo1 = SG_PHILOX_M1 * c2[j];
      uint32_t n0 = hi1 ^ c1[j] ^ k0;
      uint32_t n2 = hi0 ^ c3[j] ^ k1;
      c1[j] = lo1;
      c3[j] = lo0;
      c0[j] = n0;
      c2[j] = n2;
    }
    k0 += SG_PHILOX_W0;
    k1 += SG_PHILOX_W1;
  }
  memcpy(o[0], c0, sizeof c0);
  memcpy(o[1], c1, sizeof c1);
  memcpy(o[2], c2, sizeof c2);
  memcpy(o[3], c3, sizeof c3);
}

/* Words in stream order: w[4*j + k] = word k of block first + j. */
static inline void words_batch(uint64_t seed, uint64_t first, uint32_t w[4 * BATCH]) {
  uint32_t o[4][BATCH];
  philox_batch(seed, first, o);
  for (int j = 0; j < BATCH; j++)
    for (int k = 0; k < 4; k++) w[4 * j + k] = o[k][j];
}

static inline int64_t nbatches(int64_t n, int per_block) {
  int64_t blocks = (n + per_block - 1) / per_block;
  return (blocks + BATCH - 1) / BATCH;
}

/* Number of elements of batch bi (of `per_batch`) that lie below n. */
static inline int64_t batch_count(int64_t n, int64_t bi, int64_t per_batch) {
  int64_t left = n - bi * per_batch;
  return left < per_batch ? left : per_batch;
}

/* The parallel loop over batches; the pragma names the variable nb. */
#define FOR_BATCHES(bi)                                                            \
  _Pragma("omp parallel for schedule(static) if (nb >= PAR_MIN_BATCHES)")          \
  for (int64_t bi = 0; bi < nb; bi++)

/* ---------------- uniform ---------------- */

static void uniform_f32(float *out, int64_t n, uint64_t seed, uint64_t offset) {
  const int64_t per = 4 * BATCH, nb = nbatches(n, 4);
  FOR_BATCHES(bi) {
    uint32_t w[4 * BATCH];
    float v[4 * BATCH];
    words_batch(seed, offset + (uint64_t)(bi * BATCH), w);
    for (int k = 0; k < 4 * BATCH; k++) v[k] = sg_rng_u01_f32(w[k]);
    memcpy(out + bi * per, v, sizeof(float) * (size_t)batch_count(n, bi, per));
  }
}

static void uniform_f64(double *out, int64_t n, uint64_t seed, uint64_t offset) {
  const int64_t per = 2 * BATCH, nb = nbatches(n, 2);
  FOR_BATCHES(bi) {
    uint32_t w[4 * BATCH];
    double v[2 * BATCH];
    words_batch(seed, offset + (uint64_t)(bi * BATCH), w);
    for (int k = 0; k < 2 * BATCH; k++) v[k] = sg_rng_u01_f64(w[2 * k], w[2 * k + 1]);
    memcpy(out + bi * per, v, sizeof(double) * (size_t)batch_count(n, bi, per));
  }
}

static sg_status cpu_uniform(sg_tensor *out, uint64_t seed, uint64_t offset) {
  int64_t n = sg_numel(out);
  if (out->dtype == SG_FLOAT32) uniform_f32(sg_data_ptr(out), n, seed, offset);
  else if (out->dtype == SG_FLOAT64) uniform_f64(sg_data_ptr(out), n, seed, offset);
  else return sg_error(SG_ERR_ARG, "rng uniform kernel: dtype %s", sg_dtype_name(out->dtype));
  return SG_OK;
}

/* ---------------- normal ---------------- */

/* In-place IEEE square roots. sqrtf with errno handling (the default) keeps
 * the compiler from vectorizing, so use the vector instruction directly:
 * the same correctly rounded results. */
static inline void sqrt_f32(float *x, int n) {
  int i = 0;
#if defined(__AVX__)
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_sqrt_ps(_mm256_loadu_ps(x + i)));
#endif
  for (; i < n; i++) x[i] = sqrtf(x[i]);
}

static inline void sqrt_f64(double *x, int n) {
  int i = 0;
#if defined(__AVX__)
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(x + i, _mm256_sqrt_pd(_mm256_loadu_pd(x + i)));
#endif
  for (; i < n; i++) x[i] = sqrt(x[i]);
}

/* Box-Muller as sg_rng_normal2_f32/_f64, in three vectorizable passes. */
static void normal_f32(float *out, int64_t n, float mean, float std, uint64_t seed,
                       uint64_t offset) {
  const int64_t per = 4 * BATCH, nb = nbatches(n, 4);
  FOR_BATCHES(bi) {
    uint32_t w[4 * BATCH];
    float r[2 * BATCH], s[2 * BATCH], c[2 * BATCH], v[4 * BATCH];
    words_batch(seed, offset + (uint64_t)(bi * BATCH), w);
    /* pairs (w[2k], w[2k+1]) -> v[2k] = r cos, v[2k+1] = r sin */
    for (int k = 0; k < 2 * BATCH; k++) {
      r[k] = sg_rng_bm_r2_f32(w[2 * k]);
      sg_rng_sincos_turn_f32(w[2 * k + 1], &s[k], &c[k]);
    }
    sqrt_f32(r, 2 * BATCH);
    for (int k = 0; k < 2 * BATCH; k++) {
      v[2 * k] = (r[k] * c[k]) * std + mean;
      v[2 * k + 1] = (r[k] * s[k]) * std + mean;
    }
    memcpy(out + bi * per, v, sizeof(float) * (size_t)batch_count(n, bi, per));
  }
}

static void normal_f64(double *out, int64_t n, double mean, double std, uint64_t seed,
                       uint64_t offset) {
  const int64_t per = 2 * BATCH, nb = nbatches(n, 2);
  FOR_BATCHES(bi) {
    uint32_t w[4 * BATCH];
    double r[BATCH], s[BATCH], c[BATCH], v[2 * BATCH];
    words_batch(seed, offset + (uint64_t)(bi * BATCH), w);
    for (int j = 0; j < BATCH; j++) {
      r[j] = sg_rng_bm_r2_f64(w[4 * j], w[4 * j + 1]);
      sg_rng_sincos_turn_f64(w[4 * j + 2], w[4 * j + 3], &s[j], &c[j]);
    }
    sqrt_f64(r, BATCH);
    for (int j = 0; j < BATCH; j++) {
      v[2 * j] = (r[j] * c[j]) * std + mean;
      v[2 * j + 1] = (r[j] * s[j]) * std + mean;
    }
    memcpy(out + bi * per, v, sizeof(double) * (size_t)batch_count(n, bi, per));
  }
}

static sg_status cpu_normal(sg_tensor *out, double mean, double std, uint64_t seed,
                            uint64_t offset) {
  int64_t n = sg_numel(out);
  if (out->dtype == SG_FLOAT32)
    normal_f32(sg_data_ptr(out), n, (float)mean, (float)std, seed, offset);
  else if (out->dtype == SG_FLOAT64)
    normal_f64(sg_data_ptr(out), n, mean, std, seed, offset);
  else
    return sg_error(SG_ERR_ARG, "rng normal kernel: dtype %s", sg_dtype_name(out->dtype));
  return SG_OK;
}

/* ---------------- randint ---------------- */

#define DEFINE_RANDINT(NAME, T, CONV)                                                    \
  static void NAME(T *out, int64_t n, int64_t low, uint64_t range, uint64_t seed,       \
                   uint64_t offset) {                                                    \
    const int64_t per = 2 * BATCH, nb = nbatches(n, 2);                                  \
    FOR_BATCHES(bi) {                                                                    \
      uint32_t w[4 * BATCH];                                                             \
      T v[2 * BATCH];                                                                    \
      words_batch(seed, offset + (uint64_t)(bi * BATCH), w);                             \
      for (int k = 0; k < 2 * BATCH; k++) {                                              \
        uint64_t x = (uint64_t)w[2 * k] | ((uint64_t)w[2 * k + 1] << 32);                \
        int64_t r = (int64_t)((uint64_t)low + sg_rng_mulhi64(x, range));                 \
        v[k] = CONV(r);                                                                  \
      }                                                                                  \
      memcpy(out + bi * per, v, sizeof(T) * (size_t)batch_count(n, bi, per));            \
    }                                                                                    \
  }

#define CONV_PLAIN(r) (r)
#define CONV_F(r) ((double)(r))
#define CONV_FF(r) ((float)(r))
#define CONV_U8(r) ((uint8_t)(r))
#define CONV_B(r) ((sg_bool8)((r) != 0))
DEFINE_RANDINT(randint_i64, int64_t, CONV_PLAIN)
DEFINE_RANDINT(randint_f64, double, CONV_F)
DEFINE_RANDINT(randint_f32, float, CONV_FF)
DEFINE_RANDINT(randint_u8, uint8_t, CONV_U8)
DEFINE_RANDINT(randint_b, sg_bool8, CONV_B)

static sg_status cpu_randint(sg_tensor *out, int64_t low, uint64_t range, uint64_t seed,
                             uint64_t offset) {
  int64_t n = sg_numel(out);
  void *p = sg_data_ptr(out);
  switch (out->dtype) {
    case SG_INT64: randint_i64(p, n, low, range, seed, offset); break;
    case SG_FLOAT64: randint_f64(p, n, low, range, seed, offset); break;
    case SG_FLOAT32: randint_f32(p, n, low, range, seed, offset); break;
    case SG_UINT8: randint_u8(p, n, low, range, seed, offset); break;
    case SG_BOOL: randint_b(p, n, low, range, seed, offset); break;
    default: return sg_error(SG_ERR_ARG, "rng randint kernel: dtype %d", (int)out->dtype);
  }
  return SG_OK;
}

/* ---------------- bernoulli ---------------- */

static sg_status cpu_check_prob(const sg_tensor *p, int64_t *bad_index, double *bad_value) {
  int64_t n = sg_numel(p), bad = n;
  *bad_index = -1;
  *bad_value = 0;
  if (p->dtype == SG_FLOAT32) {
    const float *x = sg_data_ptr(p);
#pragma omp parallel for schedule(static) reduction(min : bad) if (n > 65536)
    for (int64_t i = 0; i < n; i++)
      if (!(x[i] >= 0.0f && x[i] <= 1.0f) && i < bad) bad = i;
    if (bad < n) *bad_value = x[bad];
  } else if (p->dtype == SG_FLOAT64) {
    const double *x = sg_data_ptr(p);
#pragma omp parallel for schedule(static) reduction(min : bad) if (n > 65536)
    for (int64_t i = 0; i < n; i++)
      if (!(x[i] >= 0.0 && x[i] <= 1.0) && i < bad) bad = i;
    if (bad < n) *bad_value = x[bad];
  } else {
    return sg_error(SG_ERR_ARG, "rng check_prob kernel: dtype %s", sg_dtype_name(p->dtype));
  }
  if (bad < n) *bad_index = bad;
  return SG_OK;
}

static void bernoulli_f32(float *out, const float *p, int64_t n, uint64_t seed,
                          uint64_t offset) {
  const int64_t per = 4 * BATCH, nb = nbatches(n, 4);
  FOR_BATCHES(bi) {
    uint32_t w[4 * BATCH];
    words_batch(seed, offset + (uint64_t)(bi * BATCH), w);
    int64_t base = bi * per, cnt = batch_count(n, bi, per);
    for (int64_t k = 0; k < cnt; k++) out[base + k] = sg_rng_u01_f32(w[k]) < p[base + k] ? 1.0f : 0.0f;
  }
}

static void bernoulli_f64(double *out, const double *p, int64_t n, uint64_t seed,
                          uint64_t offset) {
  const int64_t per = 2 * BATCH, nb = nbatches(n, 2);
  FOR_BATCHES(bi) {
    uint32_t w[4 * BATCH];
    words_batch(seed, offset + (uint64_t)(bi * BATCH), w);
    int64_t base = bi * per, cnt = batch_count(n, bi, per);
    for (int64_t k = 0; k < cnt; k++)
      out[base + k] = sg_rng_u01_f64(w[2 * k], w[2 * k + 1]) < p[base + k] ? 1.0 : 0.0;
  }
}

static sg_status cpu_bernoulli(sg_tensor *out, const sg_tensor *p, uint64_t seed,
                               uint64_t offset) {
  int64_t n = sg_numel(out);
  if (out->dtype == SG_FLOAT32 && p->dtype == SG_FLOAT32)
    bernoulli_f32(sg_data_ptr(out), sg_data_ptr(p), n, seed, offset);
  else if (out->dtype == SG_FLOAT64 && p->dtype == SG_FLOAT64)
    bernoulli_f64(sg_data_ptr(out), sg_data_ptr(p), n, seed, offset);
  else
    return sg_error(SG_ERR_ARG, "rng bernoulli kernel: dtype %s", sg_dtype_name(out->dtype));
  return SG_OK;
}

/* ceil(p * 2^24): a 24-bit word k = w >> 8 satisfies k * 2^-24 < p iff k < it. */
static uint32_t prob_threshold(double p) {
  if (!(p > 0.0)) return 0;
  if (p >= 1.0) return UINT32_C(1) << 24;
  return (uint32_t)ceil(p * 16777216.0);
}

#define DEFINE_BERNOULLI_SCALAR(NAME, T)                                                \
  static void NAME(T *out, int64_t n, uint32_t thr, uint64_t seed, uint64_t offset) {   \
    const int64_t per = 4 * BATCH, nb = nbatches(n, 4);                                 \
    FOR_BATCHES(bi) {                                                                   \
      uint32_t w[4 * BATCH];                                                            \
      T v[4 * BATCH];                                                                   \
      words_batch(seed, offset + (uint64_t)(bi * BATCH), w);                            \
      for (int k = 0; k < 4 * BATCH; k++) v[k] = (T)((w[k] >> 8) < thr);               \
      memcpy(out + bi * per, v, sizeof(T) * (size_t)batch_count(n, bi, per));           \
    }                                                                                   \
  }
DEFINE_BERNOULLI_SCALAR(bscalar_f32, float)
DEFINE_BERNOULLI_SCALAR(bscalar_f64, double)
DEFINE_BERNOULLI_SCALAR(bscalar_i64, int64_t)
DEFINE_BERNOULLI_SCALAR(bscalar_u8, uint8_t)

static sg_status cpu_bernoulli_scalar(sg_tensor *out, double p, uint64_t seed,
                                      uint64_t offset) {
  int64_t n = sg_numel(out);
  uint32_t thr = prob_threshold(p);
  void *d = sg_data_ptr(out);
  switch (out->dtype) {
    case SG_FLOAT32: bscalar_f32(d, n, thr, seed, offset); break;
    case SG_FLOAT64: bscalar_f64(d, n, thr, seed, offset); break;
    case SG_INT64: bscalar_i64(d, n, thr, seed, offset); break;
    case SG_UINT8: case SG_BOOL: bscalar_u8(d, n, thr, seed, offset); break;
    default: return sg_error(SG_ERR_ARG, "rng bernoulli kernel: dtype %d", (int)out->dtype);
  }
  return SG_OK;
}

/* ---------------- dropout ---------------- */

#define DEFINE_DROPOUT(NAME, T)                                                          \
  static void NAME(T *out, T *mask, const T *x, int64_t n, uint32_t thr, T scale,       \
                   uint64_t seed, uint64_t offset) {                                     \
    const int64_t per = 4 * BATCH, nb = nbatches(n, 4);                                  \
    FOR_BATCHES(bi) {                                                                    \
      uint32_t w[4 * BATCH];                                                             \
      T m[4 * BATCH];                                                                    \
      words_batch(seed, offset + (uint64_t)(bi * BATCH), w);                             \
      for (int k = 0; k < 4 * BATCH; k++) m[k] = (w[k] >> 8) >= thr ? scale : (T)0;     \
      int64_t base = bi * per, cnt = batch_count(n, bi, per);                            \
      if (cnt == per) {                                                                  \
        for (int k = 0; k < 4 * BATCH; k++) out[base + k] = x[base + k] * m[k];          \
      } else {                                                                           \
        for (int64_t k = 0; k < cnt; k++) out[base + k] = x[base + k] * m[k];            \
      }                                                                                  \
      if (mask) memcpy(mask + base, m, sizeof(T) * (size_t)cnt);                         \
    }                                                                                    \
  }
DEFINE_DROPOUT(dropout_f32, float)
DEFINE_DROPOUT(dropout_f64, double)

static sg_status cpu_dropout(sg_tensor *out, sg_tensor *mask, const sg_tensor *x, double p,
                             uint64_t seed, uint64_t offset) {
  int64_t n = sg_numel(out);
  uint32_t thr = prob_threshold(p);
  double scale = 1.0 / (1.0 - p);
  if (x->dtype == SG_FLOAT32)
    dropout_f32(sg_data_ptr(out), mask ? sg_data_ptr(mask) : NULL, sg_data_ptr(x), n, thr,
                (float)scale, seed, offset);
  else if (x->dtype == SG_FLOAT64)
    dropout_f64(sg_data_ptr(out), mask ? sg_data_ptr(mask) : NULL, sg_data_ptr(x), n, thr,
                scale, seed, offset);
  else
    return sg_error(SG_ERR_ARG, "rng dropout kernel: dtype %s", sg_dtype_name(x->dtype));
  return SG_OK;
}

/* ---------------- randperm ---------------- */

static sg_status cpu_randperm(sg_tensor *out, uint64_t seed, uint64_t offset) {
  int64_t n = sg_numel(out);
  int64_t *a = sg_data_ptr(out);
  for (int64_t i = 0; i < n; i++) a[i] = i;
  uint32_t w[4];
  int64_t cached = -1;
  for (int64_t i = n - 1; i >= 1; i--) {
    if (i / 2 != cached) {
      cached = i / 2;
      sg_rng_block(seed, offset + (uint64_t)cached, w);
    }
    int k = (int)(i % 2) * 2;
    uint64_t x = (uint64_t)w[k] | ((uint64_t)w[k + 1] << 32);
    int64_t j = (int64_t)sg_rng_mulhi64(x, (uint64_t)i + 1);
    int64_t t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return SG_OK;
}

const struct sg_rng_kernels sg_cpu_rng_kernels = {
    .uniform = cpu_uniform,
    .normal = cpu_normal,
    .randint = cpu_randint,
    .check_prob = cpu_check_prob,
    .bernoulli = cpu_bernoulli,
    .bernoulli_scalar = cpu_bernoulli_scalar,
    .dropout = cpu_dropout,
    .randperm = cpu_randperm,
};
