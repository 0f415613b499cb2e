/* Random numbers: Philox4x32-10 known answers, the documented stream layout
 * (docs/rng.md) element by element, reproducibility and generator state,
 * statistics, thread-count independence, dropout (values, gradients) and
 * errors. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal/kernels_rng.h"

#define TWO_PI 6.283185307179586

static const sg_device CPU = {SG_CPU, 0};

/* Same dtype, shape and bytes. */
static bool same_bits(const sg_tensor *a, const sg_tensor *b) {
  if (!a || !b || a->dtype != b->dtype || !sg_same_shape(a, b)) return false;
  if (!sg_is_contiguous(a) || !sg_is_contiguous(b)) return false;
  return memcmp(sg_data_ptr(a), sg_data_ptr(b), (size_t)sg_numel(a) * sg_dtype_size(a->dtype)) ==
         0;
}

/* Word k (0..3) of block `block` of the stream `seed`. */
static uint32_t word(uint64_t seed, uint64_t block, int k) {
  uint32_t w[4];
  sg_rng_block(seed, block, w);
  return w[k];
}

/* 64-bit value i of a 2-per-block stream starting at block `offset`. */
static uint64_t value64(uint64_t seed, uint64_t offset, int64_t i) {
  uint32_t w[4];
  sg_rng_block(seed, offset + (uint64_t)(i / 2), w);
  int k = (int)(i % 2) * 2;
  return (uint64_t)w[k] | ((uint64_t)w[k + 1] << 32);
}

static uint64_t offset_now(void) { return sg_rng_get_state().offset; }

/* ---------------- Philox ---------------- */

static void philox_known_answers(void) {
  /* Random123 kat_vectors, philox4x32_10 */
  const uint32_t ctr[3][4] = {{0, 0, 0, 0},
                              {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                              {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}};
  const uint32_t key[3][2] = {{0, 0}, {0xffffffffu, 0xffffffffu}, {0xa4093822u, 0x299f31d0u}};
  const uint32_t want[3][4] = {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
                               {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu},
                               {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}};
  for (int t = 0; t < 3; t++) {
    uint32_t out[4];
    sg_philox4x32_10(ctr[t], key[t], out);
    for (int k = 0; k < 4; k++) CHECK(out[k] == want[t][k]);
  }
  /* sg_rng_block: key = seed halves, counter = block number halves */
  uint32_t out[4];
  sg_rng_block(UINT64_C(0x299f31d0a4093822), UINT64_C(0x85a308d3243f6a88), out);
  uint32_t ref[4];
  const uint32_t c[4] = {0x243f6a88u, 0x85a308d3u, 0, 0};
  const uint32_t k[2] = {0xa4093822u, 0x299f31d0u};
  sg_philox4x32_10(c, k, ref);
  CHECK(memcmp(out, ref, sizeof out) == 0);
}

static void mulhi64_exact(void) {
  uint64_t s = 88172645463325252ULL;
  for (int i = 0; i < 10000; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    uint64_t x = s;
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    uint64_t r = (i % 3 == 0) ? (s >> (i % 60)) : s;
    unsigned __int128 p = (unsigned __int128)x * r;
    if (!CHECK(sg_rng_mulhi64(x, r) == (uint64_t)(p >> 64))) break;
  }
  CHECK(sg_rng_mulhi64(UINT64_MAX, UINT64_MAX) == UINT64_MAX - 1);
  CHECK(sg_rng_mulhi64(UINT64_MAX, 10) == 9);
}

/* The polynomial log and sincos against libm, over their whole domains. */
static void transcendental_accuracy(void) {
  double worst_l32 = 0, worst_l64 = 0, worst_s32 = 0, worst_s64 = 0;
  for (int i = 0; i < 200000; i++) {
    uint32_t a = (uint32_t)i * 2654435761u, b = (uint32_t)i * 40503u + 0x9e3779b9u;
    if (i < 256) a = (uint32_t)i << 8; /* the smallest u */
    if (i >= 256 && i < 512) a = 0xffffffffu - ((uint32_t)(i - 256) << 8); /* u near 1 */
    float u = (float)(int32_t)((a >> 8) + 1u) * 0x1p-24f;
    double e = fabs(sg_rng_log_f32(u) - log((double)u)) / fmax(1.0, fabs(log((double)u)));
    if (e > worst_l32) worst_l32 = e;
    double ud = ((double)(a >> 5) * 0x1p26 + (double)(b >> 6) + 1.0) * 0x1p-53;
    e = fabs(sg_rng_log_f64(ud) - log(ud)) / fmax(1.0, fabs(log(ud)));
    if (e > worst_l64) worst_l64 = e;
    float s, c;
    sg_rng_sincos_turn_f32(a, &s, &c);
    double t = (double)(a >> 8) * 0x1p-24 * TWO_PI;
    e = fmax(fabs(s - sin(t)), fabs(c - cos(t)));
    if (e > worst_s32) worst_s32 = e;
    double sd, cd;
    sg_rng_sincos_turn_f64(a, b, &sd, &cd);
    t = sg_rng_u01_f64(a, b) * TWO_PI;
    e = fmax(fabs(sd - sin(t)), fabs(cd - cos(t)));
    if (e > worst_s64) worst_s64 = e;
  }
  CHECK(worst_l32 < 3e-7); /* a few float ulps (relative where |log u| > 1) */
  CHECK(worst_l64 < 1e-15);
  CHECK(worst_s32 < 2e-7);
  CHECK(worst_s64 < 2e-15);
  /* log(1) = 0, the smallest u gives the largest radius, finite */
  CHECK(sg_rng_log_f32(1.0f) == 0.0f && sg_rng_log_f64(1.0) == 0.0);
  float z0, z1;
  sg_rng_normal2_f32(0u, 0u, &z0, &z1);
  CHECK(isfinite(z0) && isfinite(z1));
  CHECK_NEAR(z0, sqrt(-2 * log(0x1p-24)), 1e-5);
  CHECK(z1 == 0.0f);
  sg_rng_normal2_f32(0xffffffffu, 0x40000000u, &z0, &z1); /* u1 = 1: radius 0 */
  CHECK(z0 == 0.0f && z1 == 0.0f);
  double d0, d1;
  const uint32_t w0[4] = {0, 0, 0, 0};
  sg_rng_normal2_f64(w0, &d0, &d1);
  CHECK(isfinite(d0) && isfinite(d1));
  CHECK_NEAR(d0, sqrt(-2 * log(0x1p-53)), 1e-12);
}

/* ---------------- stream layout ---------------- */

static void layout_uniform(void) {
  const uint64_t seed = UINT64_C(0x0123456789abcdef);
  sg_manual_seed(seed);
  sg_rng_state st = sg_rng_get_state();
  CHECK(st.seed == seed && st.offset == 0);
  int64_t n = 4 * 16 * 3 + 5; /* crosses batch boundaries, ragged end */
  sg_tensor *r = sg_rand(SHAPE(n), 1, SG_FLOAT32, CPU);
  CHECK(r && r->dtype == SG_FLOAT32);
  CHECK(offset_now() == (uint64_t)(n + 3) / 4);
  for (int64_t i = 0; r && i < n; i++) {
    float want = (float)(word(seed, (uint64_t)(i / 4), (int)(i % 4)) >> 8) * 0x1p-24f;
    if (!CHECK(((const float *)sg_data_ptr(r))[i] == want)) break;
  }
  sg_release(r);
  uint64_t off = offset_now();
  n = 2 * 16 * 2 + 3;
  r = sg_rand(SHAPE(n), 1, SG_FLOAT64, CPU);
  CHECK(r && r->dtype == SG_FLOAT64);
  CHECK(offset_now() == off + (uint64_t)(n + 1) / 2);
  for (int64_t i = 0; r && i < n; i++) {
    uint64_t b = off + (uint64_t)(i / 2);
    int k = (int)(i % 2) * 2;
    uint64_t bits53 = ((uint64_t)(word(seed, b, k) >> 5) << 26) | (word(seed, b, k + 1) >> 6);
    double want = (double)bits53 * 0x1p-53;
    if (!CHECK(((const double *)sg_data_ptr(r))[i] == want)) break;
  }
  sg_release(r);
}

static void layout_normal(void) {
  const uint64_t seed = 77;
  sg_manual_seed(seed);
  int64_t n = 4 * 16 * 70 + 3; /* > 4096: the parallel path */
  sg_tensor *r = sg_randn(SHAPE(n), 1, SG_FLOAT32, CPU);
  CHECK(offset_now() == (uint64_t)(n + 3) / 4);
  double worst = 0;
  for (int64_t i = 0; r && i < n; i++) {
    uint32_t w[4];
    sg_rng_block(seed, (uint64_t)(i / 4), w);
    int p = (int)(i % 4) / 2;
    float z[2];
    sg_rng_normal2_f32(w[2 * p], w[2 * p + 1], &z[0], &z[1]);
    float got = ((const float *)sg_data_ptr(r))[i];
    if (!CHECK(got == z[i % 2])) break;
    /* and against Box-Muller in double with libm */
    double u1 = ((double)(w[2 * p] >> 8) + 1) * 0x1p-24, u2 = (double)(w[2 * p + 1] >> 8) * 0x1p-24;
    double ref = sqrt(-2 * log(u1)) * (i % 2 ? sin(TWO_PI * u2) : cos(TWO_PI * u2));
    double e = fabs(got - ref) / fmax(1.0, fabs(ref));
    if (e > worst) worst = e;
  }
  CHECK(worst < 5e-7);
  sg_release(r);

  uint64_t off = offset_now();
  n = 2 * 16 * 3 + 1;
  r = sg_randn(SHAPE(n), 1, SG_FLOAT64, CPU);
  CHECK(offset_now() == off + (uint64_t)(n + 1) / 2);
  worst = 0;
  for (int64_t i = 0; r && i < n; i++) {
    uint32_t w[4];
    sg_rng_block(seed, off + (uint64_t)(i / 2), w);
    double z[2];
    sg_rng_normal2_f64(w, &z[0], &z[1]);
    double got = ((const double *)sg_data_ptr(r))[i];
    if (!CHECK(got == z[i % 2])) break;
    double u1 = ((double)(((uint64_t)(w[0] >> 5) << 26) | (w[1] >> 6)) + 1) * 0x1p-53;
    double u2 = sg_rng_u01_f64(w[2], w[3]);
    double ref = sqrt(-2 * log(u1)) * (i % 2 ? sin(TWO_PI * u2) : cos(TWO_PI * u2));
    double e = fabs(got - ref) / fmax(1.0, fabs(ref));
    if (e > worst) worst = e;
  }
  CHECK(worst < 1e-14);
  sg_release(r);

  /* normal(mean, std) = mean + std * randn on the same stream */
  for (int dt = SG_FLOAT32; dt <= SG_FLOAT64; dt++) {
    sg_manual_seed(5);
    sg_tensor *z = sg_randn(SHAPE(3, 7), 2, dt, CPU);
    sg_manual_seed(5);
    sg_tensor *g = sg_normal(2.5, 0.5, SHAPE(3, 7), 2, dt, CPU);
    sg_tensor *zs = z ? sg_mul_scalar(z, 0.5) : NULL;
    sg_tensor *want = zs ? sg_add_scalar(zs, 2.5) : NULL;
    CHECK(g && g->ndim == 2 && g->shape[0] == 3 && g->shape[1] == 7 && (int)g->dtype == dt);
    CHECK_CLOSE(g, want, 0, 0);
    sg_release(z);
    sg_release(zs);
    sg_release(want);
    sg_release(g);
    sg_manual_seed(5);
    g = sg_normal(-1.0, 0.0, SHAPE(5), 1, dt, CPU);
    CHECK_VALUES(g, VALS(-1, -1, -1, -1, -1), 5, 0);
    sg_release(g);
  }
}

static void layout_randint(void) {
  const uint64_t seed = 1;
  sg_manual_seed(seed);
  const int64_t n = 101;
  sg_tensor *r = sg_randint(-7, 1000003, SHAPE(n), 1, SG_INT64, CPU);
  CHECK(r && r->dtype == SG_INT64);
  CHECK(offset_now() == (uint64_t)(n + 1) / 2);
  for (int64_t i = 0; r && i < n; i++) {
    int64_t want = -7 + (int64_t)sg_rng_mulhi64(value64(seed, 0, i), 1000010);
    if (!CHECK(((const int64_t *)sg_data_ptr(r))[i] == want)) break;
  }
  sg_release(r);
  /* the same values in every dtype that holds them */
  sg_manual_seed(3);
  sg_tensor *ri = sg_randint(0, 2, SHAPE(40), 1, SG_INT64, CPU);
  const sg_dtype dts[4] = {SG_FLOAT32, SG_FLOAT64, SG_UINT8, SG_BOOL};
  for (int d = 0; d < 4; d++) {
    sg_manual_seed(3);
    sg_tensor *o = sg_randint(0, 2, SHAPE(40), 1, dts[d], CPU);
    CHECK(o && o->dtype == dts[d]);
    for (int64_t i = 0; o && ri && i < 40; i++)
      if (!CHECK(sg_get_flat(o, i) == sg_get_flat(ri, i))) break;
    sg_release(o);
  }
  sg_release(ri);
  /* the full int64 range */
  sg_manual_seed(seed);
  r = sg_randint(INT64_MIN, INT64_MAX, SHAPE(4), 1, SG_INT64, CPU);
  for (int64_t i = 0; r && i < 4; i++) {
    uint64_t v = (uint64_t)INT64_MIN + sg_rng_mulhi64(value64(seed, 0, i), UINT64_MAX);
    CHECK(((const int64_t *)sg_data_ptr(r))[i] == (int64_t)v);
  }
  sg_release(r);
}

static void layout_bernoulli(void) {
  const uint64_t seed = 99;
  const int64_t n = 333;
  /* tensor p, float32: one iff u_i < p_i with u the float32 uniform */
  sg_tensor *p = tt_uniform(4, SG_FLOAT32, 0, 1, 1, SHAPE(n));
  sg_manual_seed(seed);
  sg_tensor *u = sg_rand(SHAPE(n), 1, SG_FLOAT32, CPU);
  sg_manual_seed(seed);
  sg_tensor *b = sg_bernoulli(p);
  CHECK(b && b->dtype == SG_FLOAT32 && sg_same_shape(b, p));
  CHECK(offset_now() == (uint64_t)(n + 3) / 4);
  for (int64_t i = 0; b && i < n; i++)
    if (!CHECK(sg_get_flat(b, i) == (sg_get_flat(u, i) < sg_get_flat(p, i) ? 1.0 : 0.0))) break;
  sg_release(p);
  sg_release(u);
  sg_release(b);
  /* float64: the 53-bit uniform; non-contiguous p is read in logical order */
  sg_tensor *p2 = tt_uniform(5, SG_FLOAT64, 0, 1, 2, SHAPE(9, 11));
  sg_tensor *pt = sg_transpose(p2, 0, 1);
  sg_manual_seed(seed);
  u = sg_rand(SHAPE(11, 9), 2, SG_FLOAT64, CPU);
  sg_manual_seed(seed);
  b = sg_bernoulli(pt);
  CHECK(b && b->dtype == SG_FLOAT64 && b->shape[0] == 11 && b->shape[1] == 9);
  CHECK(offset_now() == (99 + 1) / 2);
  for (int64_t i = 0; b && i < 99; i++)
    if (!CHECK(sg_get_flat(b, i) == (sg_get_flat(u, i) < sg_get_flat(pt, i) ? 1.0 : 0.0))) break;
  sg_release(p2);
  sg_release(pt);
  sg_release(u);
  sg_release(b);
  /* scalar p: one iff (w >> 8) < ceil(p 2^24), i.e. u_i < p */
  sg_manual_seed(seed);
  u = sg_rand(SHAPE(n), 1, SG_FLOAT32, CPU);
  for (int dt = 0; dt < SG_DTYPE_COUNT; dt++) {
    sg_manual_seed(seed);
    b = sg_bernoulli_scalar(0.3, SHAPE(n), 1, dt, CPU);
    CHECK(b && (int)b->dtype == dt);
    CHECK(offset_now() == (uint64_t)(n + 3) / 4);
    for (int64_t i = 0; b && i < n; i++)
      if (!CHECK(sg_get_flat(b, i) == (sg_get_flat(u, i) < 0.3 ? 1.0 : 0.0))) break;
    sg_release(b);
  }
  sg_release(u);
  /* p = 0 and p = 1 are certain */
  b = sg_bernoulli_scalar(0.0, SHAPE(1000), 1, SG_FLOAT32, CPU);
  sg_tensor *s = b ? sg_sum(b, NULL, 0, false) : NULL;
  CHECK(s && sg_get_flat(s, 0) == 0);
  sg_release(b);
  sg_release(s);
  b = sg_bernoulli_scalar(1.0, SHAPE(1000), 1, SG_UINT8, CPU);
  s = b ? sg_sum(b, NULL, 0, false) : NULL;
  CHECK(s && sg_get_flat(s, 0) == 1000);
  sg_release(b);
  sg_release(s);
  p = tt_from(SG_FLOAT64, VALS(0, 1, 0, 1, 1, 0), 1, SHAPE(6));
  b = sg_bernoulli(p);
  CHECK_VALUES(b, VALS(0, 1, 0, 1, 1, 0), 6, 0);
  sg_release(b);
  sg_release(p);
}

static void layout_randperm(void) {
  const uint64_t seed = 2024;
  const int64_t n = 1001;
  sg_manual_seed(seed);
  sg_tensor *r = sg_randperm(n, CPU);
  CHECK(r && r->dtype == SG_INT64 && r->ndim == 1 && r->shape[0] == n);
  CHECK(offset_now() == (uint64_t)(n + 1) / 2);
  int64_t *ref = malloc(sizeof(int64_t) * (size_t)n);
  for (int64_t i = 0; i < n; i++) ref[i] = i;
  for (int64_t i = n - 1; i >= 1; i--) {
    int64_t j = (int64_t)sg_rng_mulhi64(value64(seed, 0, i), (uint64_t)i + 1);
    int64_t t = ref[i];
    ref[i] = ref[j];
    ref[j] = t;
  }
  CHECK(r && memcmp(sg_data_ptr(r), ref, sizeof(int64_t) * (size_t)n) == 0);
  /* a permutation */
  char *seen = calloc((size_t)n, 1);
  bool ok = r != NULL;
  for (int64_t i = 0; r && i < n; i++) {
    int64_t v = ((const int64_t *)sg_data_ptr(r))[i];
    if (v < 0 || v >= n || seen[v]) ok = false;
    else seen[v] = 1;
  }
  CHECK(ok);
  free(seen);
  free(ref);
  sg_release(r);
  r = sg_randperm(0, CPU);
  CHECK(r && r->ndim == 1 && r->shape[0] == 0);
  sg_release(r);
  r = sg_randperm(1, CPU);
  CHECK_VALUES(r, VALS(0), 1, 0);
  sg_release(r);
}

/* ---------------- reproducibility and state ---------------- */

static void seeds_and_state(void) {
  int64_t n = 1000;
  sg_manual_seed(42);
  CHECK(sg_initial_seed() == 42);
  sg_tensor *a = sg_randn(SHAPE(n), 1, SG_FLOAT32, CPU);
  sg_tensor *a2 = sg_randn(SHAPE(n), 1, SG_FLOAT32, CPU); /* continues the stream */
  sg_manual_seed(42);
  sg_tensor *b = sg_randn(SHAPE(n), 1, SG_FLOAT32, CPU);
  CHECK(same_bits(a, b));
  CHECK(!same_bits(a, a2));
  sg_manual_seed(43);
  sg_tensor *c = sg_randn(SHAPE(n), 1, SG_FLOAT32, CPU);
  CHECK(!same_bits(a, c));
  /* the high word of the seed is part of the key */
  sg_manual_seed(42 + (UINT64_C(1) << 32));
  sg_tensor *d = sg_randn(SHAPE(n), 1, SG_FLOAT32, CPU);
  CHECK(!same_bits(a, d));
  sg_release_all((sg_tensor *[]){a, a2, b, c, d}, 5);

  /* get/set state reproduces a stream mid-way */
  sg_manual_seed(7);
  sg_tensor *t = sg_rand(SHAPE(10), 1, SG_FLOAT64, CPU);
  sg_rng_state st = sg_rng_get_state();
  CHECK(st.seed == 7 && st.offset == 5);
  sg_tensor *x1 = sg_randint(0, 100, SHAPE(50), 1, SG_INT64, CPU);
  sg_tensor *y1 = sg_randn(SHAPE(3, 3), 2, SG_FLOAT64, CPU);
  sg_manual_seed(1); /* elsewhere */
  sg_tensor *junk = sg_rand(SHAPE(10), 1, SG_FLOAT32, CPU);
  sg_rng_set_state(st);
  CHECK(sg_initial_seed() == 7);
  sg_tensor *x2 = sg_randint(0, 100, SHAPE(50), 1, SG_INT64, CPU);
  sg_tensor *y2 = sg_randn(SHAPE(3, 3), 2, SG_FLOAT64, CPU);
  CHECK(same_bits(x1, x2));
  CHECK(same_bits(y1, y2));
  sg_release_all((sg_tensor *[]){t, x1, y1, junk, x2, y2}, 6);

  /* offsets: whole blocks per call, so rand(4) then rand(4) = rand(8) */
  sg_manual_seed(11);
  sg_tensor *p = sg_rand(SHAPE(4), 1, SG_FLOAT32, CPU), *q = sg_rand(SHAPE(4), 1, SG_FLOAT32, CPU);
  sg_manual_seed(11);
  sg_tensor *pq = sg_rand(SHAPE(8), 1, SG_FLOAT32, CPU);
  for (int i = 0; p && q && pq && i < 4; i++) {
    CHECK(sg_get_flat(pq, i) == sg_get_flat(p, i));
    CHECK(sg_get_flat(pq, 4 + i) == sg_get_flat(q, i));
  }
  sg_release_all((sg_tensor *[]){p, q, pq}, 3);
  /* the advance of each op */
  uint64_t o = 0;
  sg_manual_seed(0);
  sg_tensor *z;
#define ADV(expr, amount)             \
  do {                                \
    z = (expr);                       \
    CHECK(z != NULL);                 \
    o += (amount);                    \
    CHECK(offset_now() == o);         \
    sg_release(z);                    \
  } while (0)
  ADV(sg_rand(SHAPE(10), 1, SG_FLOAT32, CPU), 3);
  ADV(sg_randn(SHAPE(10), 1, SG_FLOAT64, CPU), 5);
  ADV(sg_randint(0, 3, SHAPE(10), 1, SG_UINT8, CPU), 5);
  ADV(sg_bernoulli_scalar(0.5, SHAPE(10), 1, SG_FLOAT64, CPU), 3);
  ADV(sg_randperm(10, CPU), 5);
  ADV(sg_rand(NULL, 0, SG_FLOAT32, CPU), 1);
  ADV(sg_randn(SHAPE(0, 5), 2, SG_FLOAT32, CPU), 0);
  sg_tensor *xd = tt_uniform(1, SG_FLOAT64, -1, 1, 1, SHAPE(10));
  ADV(sg_dropout(xd, 0.5, true), 3);
  ADV(sg_dropout(xd, 0.5, false), 0);
  ADV(sg_dropout(xd, 0.0, true), 0);
  sg_release(xd);
#undef ADV
  /* a failing call leaves the generator alone */
  sg_rng_state before = sg_rng_get_state();
  CHECK_FAILS(sg_randint(5, 5, SHAPE(10), 1, SG_INT64, CPU), "randint");
  sg_tensor *bad = tt_from(SG_FLOAT32, VALS(0.5, 2), 1, SHAPE(2));
  CHECK_FAILS(sg_bernoulli(bad), "bernoulli");
  sg_release(bad);
  sg_rng_state after = sg_rng_get_state();
  CHECK(before.seed == after.seed && before.offset == after.offset);
}

/* ---------------- statistics ---------------- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double normal_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* Kolmogorov-Smirnov statistic sqrt(n) * D against cdf (NULL: uniform). */
static double ks_stat(const sg_tensor *t, double (*cdf)(double)) {
  int64_t n = sg_numel(t);
  double *v = malloc(sizeof(double) * (size_t)n);
  for (int64_t i = 0; i < n; i++) v[i] = sg_get_flat(t, i);
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  double d = 0;
  for (int64_t i = 0; i < n; i++) {
    double f = cdf ? cdf(v[i]) : v[i];
    d = fmax(d, fmax(fabs(f - (double)i / n), fabs((double)(i + 1) / n - f)));
  }
  free(v);
  return d * sqrt((double)n);
}

static void moments(const sg_tensor *t, int64_t lag, double *mean, double *var, double *corr) {
  int64_t n = sg_numel(t);
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < n; i++) {
    double x = sg_get_flat(t, i);
    s += x;
    s2 += x * x;
  }
  *mean = s / n;
  *var = s2 / n - *mean * *mean;
  double c = 0;
  for (int64_t i = 0; i + lag < n; i++)
    c += (sg_get_flat(t, i) - *mean) * (sg_get_flat(t, i + lag) - *mean);
  *corr = c / (n - lag) / *var;
}

static void statistics_uniform_normal(void) {
  const int64_t n = 100000;
  const double sq = sqrt((double)n);
  sg_manual_seed(123);
  for (int dt = SG_FLOAT32; dt <= SG_FLOAT64; dt++) {
    double m, v, c;
    sg_tensor *u = sg_rand(SHAPE(n), 1, dt, CPU);
    moments(u, 1, &m, &v, &c);
    CHECK(fabs(m - 0.5) < 5 * sqrt(1.0 / 12) / sq);
    CHECK(fabs(v - 1.0 / 12) < 5 * sqrt(1.0 / 80 - 1.0 / 144) / sq);
    CHECK(fabs(c) < 5 / sq);
    CHECK(ks_stat(u, NULL) < 1.95); /* alpha = 0.001 */
    double lo = 1, hi = 0;
    for (int64_t i = 0; i < n; i++) {
      double x = sg_get_flat(u, i);
      lo = fmin(lo, x);
      hi = fmax(hi, x);
    }
    CHECK(lo >= 0 && hi < 1 && lo < 1e-3 && hi > 1 - 1e-3);
    sg_release(u);

    sg_tensor *z = sg_randn(SHAPE(n), 1, dt, CPU);
    moments(z, 1, &m, &v, &c);
    CHECK(fabs(m) < 5 / sq);
    CHECK(fabs(v - 1) < 5 * sqrt(2.0) / sq);
    CHECK(fabs(c) < 5 / sq); /* the cos and sin of one pair are independent */
    CHECK(ks_stat(z, normal_cdf) < 1.95);
    /* independence within Box-Muller pairs: corr(z0^2, z1^2) = 0 */
    double a = 0, b = 0, ab = 0, a2 = 0, b2 = 0;
    int64_t np = n / 2;
    for (int64_t i = 0; i < np; i++) {
      double x = sg_get_flat(z, 2 * i), y = sg_get_flat(z, 2 * i + 1);
      x *= x, y *= y;
      a += x, b += y, ab += x * y, a2 += x * x, b2 += y * y;
    }
    a /= np, b /= np, ab /= np, a2 /= np, b2 /= np;
    double cc = (ab - a * b) / sqrt((a2 - a * a) * (b2 - b * b));
    CHECK(fabs(cc) < 5 / sqrt((double)np));
    /* tails: P(|z| > 2) = 0.0455 */
    int64_t tail = 0;
    for (int64_t i = 0; i < n; i++) tail += fabs(sg_get_flat(z, i)) > 2;
    CHECK(fabs((double)tail / n - 0.0455) < 5 * sqrt(0.0455 * 0.9545) / sq);
    sg_release(z);
  }
}

static void statistics_discrete(void) {
  const int64_t n = 100000;
  sg_manual_seed(321);
  /* randint: chi-square over 10 cells (df 9; 27.9 at alpha = 0.001) */
  sg_tensor *r = sg_randint(-3, 7, SHAPE(n), 1, SG_INT64, CPU);
  int64_t cnt[10] = {0};
  bool in_range = r != NULL;
  for (int64_t i = 0; r && i < n; i++) {
    int64_t v = ((const int64_t *)sg_data_ptr(r))[i];
    if (v < -3 || v >= 7) in_range = false;
    else cnt[v + 3]++;
  }
  CHECK(in_range);
  double chi = 0, e = n / 10.0;
  for (int k = 0; k < 10; k++) chi += (cnt[k] - e) * (cnt[k] - e) / e;
  CHECK(chi < 27.9);
  sg_release(r);
  /* a range that does not divide 2^32 */
  r = sg_randint(0, 3, SHAPE(30000), 1, SG_UINT8, CPU);
  int64_t c3[3] = {0};
  for (int64_t i = 0; r && i < 30000; i++) c3[(int)sg_get_flat(r, i)]++;
  chi = 0;
  for (int k = 0; k < 3; k++) chi += (c3[k] - 10000.0) * (c3[k] - 10000.0) / 10000.0;
  CHECK(chi < 13.8); /* df 2 */
  sg_release(r);
  /* a huge range: mean of value / 2^63 is 0 (sd 0.577) */
  r = sg_randint(INT64_MIN, INT64_MAX, SHAPE(n), 1, SG_INT64, CPU);
  double m = 0;
  for (int64_t i = 0; r && i < n; i++) m += ldexp((double)((const int64_t *)sg_data_ptr(r))[i], -63);
  CHECK(fabs(m / n) < 5 * 0.5774 / sqrt((double)n));
  sg_release(r);

  /* bernoulli frequencies */
  const double ps[3] = {0.3, 0.01, 0.97};
  for (int k = 0; k < 3; k++) {
    sg_tensor *b = sg_bernoulli_scalar(ps[k], SHAPE(n), 1, SG_BOOL, CPU);
    int64_t ones = 0;
    for (int64_t i = 0; b && i < n; i++) ones += sg_get_flat(b, i) != 0;
    CHECK(fabs((double)ones / n - ps[k]) < 5 * sqrt(ps[k] * (1 - ps[k]) / n));
    sg_release(b);
  }
  sg_tensor *p = sg_full(SHAPE(n), 1, 0.75, SG_FLOAT64, CPU);
  sg_tensor *b = sg_bernoulli(p);
  sg_tensor *s = b ? sg_sum(b, NULL, 0, false) : NULL;
  CHECK(s && fabs(sg_get_flat(s, 0) / n - 0.75) < 5 * sqrt(0.75 * 0.25 / n));
  sg_release_all((sg_tensor *[]){p, b, s}, 3);

  /* randperm(3): the 6 orders equally often (chi-square, df 5) */
  int64_t perms[6] = {0};
  for (int t = 0; t < 6000; t++) {
    sg_tensor *q = sg_randperm(3, CPU);
    const int64_t *v = sg_data_ptr(q);
    int code = (int)(v[0] * 3 + v[1]); /* 01 02 10 12 20 21 */
    int idx = code == 1 ? 0 : code == 2 ? 1 : code == 3 ? 2 : code == 5 ? 3 : code == 6 ? 4 : 5;
    perms[idx]++;
    sg_release(q);
  }
  chi = 0;
  for (int k = 0; k < 6; k++) chi += (perms[k] - 1000.0) * (perms[k] - 1000.0) / 1000.0;
  CHECK(chi < 20.5);
  for (int k = 0; k < 6; k++) CHECK(perms[k] > 0);
}

/* ---------------- threads ---------------- */

static void thread_count_independence(void) {
  int saved = sg_get_num_threads();
  const int64_t n = 4 * 16 * 200 + 7; /* above the parallel threshold */
  sg_tensor *x = tt_uniform(8, SG_FLOAT32, -1, 1, 1, SHAPE(n));
  sg_tensor *p = tt_uniform(9, SG_FLOAT64, 0, 1, 1, SHAPE(n));
  sg_tensor *out[2][9];
  for (int t = 0; t < 2; t++) {
    sg_set_num_threads(t + 1);
    sg_manual_seed(555);
    out[t][0] = sg_rand(SHAPE(n), 1, SG_FLOAT32, CPU);
    out[t][1] = sg_rand(SHAPE(n), 1, SG_FLOAT64, CPU);
    out[t][2] = sg_randn(SHAPE(n), 1, SG_FLOAT32, CPU);
    out[t][3] = sg_normal(1, 2, SHAPE(n), 1, SG_FLOAT64, CPU);
    out[t][4] = sg_randint(-5, 1 << 20, SHAPE(n), 1, SG_INT64, CPU);
    out[t][5] = sg_bernoulli(p);
    out[t][6] = sg_bernoulli_scalar(0.4, SHAPE(n), 1, SG_UINT8, CPU);
    out[t][7] = sg_dropout(x, 0.3, true);
    out[t][8] = sg_randperm(n, CPU);
  }
  sg_set_num_threads(saved);
  for (int k = 0; k < 9; k++) {
    if (!CHECK(same_bits(out[0][k], out[1][k]))) fprintf(stderr, "  (output %d)\n", k);
  }
  for (int t = 0; t < 2; t++) sg_release_all(out[t], 9);
  sg_release(x);
  sg_release(p);
}

/* ---------------- dropout ---------------- */

static void dropout_values(void) {
  const int64_t n = 4 * 16 * 5 + 3;
  const double p = 0.25;
  for (int dt = SG_FLOAT32; dt <= SG_FLOAT64; dt++) {
    sg_tensor *x = tt_uniform(10, dt, 0.5, 2, 1, SHAPE(n));
    sg_manual_seed(31);
    sg_tensor *u = sg_rand(SHAPE(n), 1, SG_FLOAT32, CPU);
    sg_manual_seed(31);
    sg_tensor *y = sg_dropout(x, p, true);
    CHECK(y && (int)y->dtype == dt && sg_same_shape(x, y) && !y->requires_grad);
    int64_t dropped = 0;
    const double scale = dt == SG_FLOAT32 ? (double)(float)(1 / (1 - p)) : 1 / (1 - p);
    for (int64_t i = 0; y && i < n; i++) {
      bool keep = sg_get_flat(u, i) >= p;
      double want = keep ? sg_get_flat(x, i) * scale : 0.0;
      if (dt == SG_FLOAT32) want = (float)want;
      if (!CHECK(sg_get_flat(y, i) == want)) break;
      dropped += !keep;
    }
    CHECK(dropped > 0 && dropped < n);
    sg_release_all((sg_tensor *[]){x, u, y}, 3);
  }
  /* frequency of drops, and the mean is preserved */
  sg_tensor *ones = sg_full(SHAPE(100000), 1, 1.0, SG_FLOAT32, CPU);
  sg_tensor *y = sg_dropout(ones, 0.6, true);
  int64_t zeros = 0;
  double sum = 0;
  for (int64_t i = 0; y && i < 100000; i++) {
    double v = sg_get_flat(y, i);
    zeros += v == 0;
    sum += v;
    if (v != 0 && !CHECK_NEAR(v, 2.5, 1e-6)) break;
  }
  CHECK(fabs(zeros / 1e5 - 0.6) < 5 * sqrt(0.24 / 1e5));
  CHECK(fabs(sum / 1e5 - 1.0) < 5 * 2.5 * sqrt(0.24 / 1e5));
  sg_release(y);
  /* eval mode and p = 0 return x itself */
  y = sg_dropout(ones, 0.6, false);
  CHECK(y == ones);
  sg_release(y);
  y = sg_dropout(ones, 0.0, true);
  CHECK(y == ones);
  sg_release(y);
  CHECK(ones->refcount == 1);
  sg_release(ones);
  /* a non-contiguous input: the mask follows the logical (row-major) order */
  sg_tensor *a = tt_uniform(12, SG_FLOAT64, -1, 1, 2, SHAPE(6, 5));
  sg_tensor *at = sg_transpose(a, 0, 1);
  sg_tensor *ac = sg_contiguous(at);
  sg_manual_seed(8);
  sg_tensor *y1 = sg_dropout(at, 0.5, true);
  sg_manual_seed(8);
  sg_tensor *y2 = sg_dropout(ac, 0.5, true);
  CHECK(y1 && y1->shape[0] == 5 && y1->shape[1] == 6);
  CHECK(same_bits(y1, y2));
  sg_release_all((sg_tensor *[]){a, at, ac, y1, y2}, 5);
  /* NaN propagates through dropped entries like x * 0 */
  sg_tensor *nanx = sg_full(SHAPE(64), 1, NAN, SG_FLOAT32, CPU);
  y = sg_dropout(nanx, 0.5, true);
  bool all_nan = y != NULL;
  for (int i = 0; y && i < 64; i++) all_nan = all_nan && isnan(sg_get_flat(y, i));
  CHECK(all_nan);
  sg_release(y);
  sg_release(nanx);
}

typedef struct {
  double p;
} drop_ctx;

static sg_tensor *dropout_fn(sg_tensor **in, int n, void *ctx) {
  (void)n;
  sg_manual_seed(1234); /* the same mask at every evaluation */
  return sg_dropout(in[0], ((drop_ctx *)ctx)->p, true);
}

/* dropout(x) * x: a nonlinear use, so the second derivative is not zero */
static sg_tensor *dropout_sq_fn(sg_tensor **in, int n, void *ctx) {
  sg_tensor *d = dropout_fn(in, n, ctx);
  sg_tensor *r = d ? sg_mul(d, in[0]) : NULL;
  sg_release(d);
  return r;
}

static void dropout_gradients(void) {
  drop_ctx c = {0.4};
  sg_tensor *x = tt_param(20, -1, 1, 2, SHAPE(4, 5));
  CHECK_GRAD(dropout_fn, &c, &x, 1);
  CHECK_GRADGRAD(dropout_fn, &c, &x, 1);
  CHECK_GRAD(dropout_sq_fn, &c, &x, 1);
  CHECK_GRADGRAD(dropout_sq_fn, &c, &x, 1);
  /* backward = g * mask / (1 - p), checked against the stream */
  sg_manual_seed(66);
  sg_tensor *u = sg_rand(SHAPE(20), 1, SG_FLOAT32, CPU);
  sg_manual_seed(66);
  sg_tensor *y = sg_dropout(x, c.p, true);
  CHECK(y && y->requires_grad && y->grad_fn);
  sg_tensor *g = tt_uniform(21, SG_FLOAT64, -1, 1, 2, SHAPE(4, 5));
  CHECK_OK(sg_backward(&y, &g, 1, false, false));
  for (int64_t i = 0; x->grad && i < 20; i++) {
    double want = sg_get_flat(u, i) >= c.p ? sg_get_flat(g, i) / (1 - c.p) : 0.0;
    if (!CHECK_NEAR(sg_get_flat(x->grad, i), want, 1e-15)) break;
  }
  CHECK(x->grad != NULL);
  sg_release_all((sg_tensor *[]){u, y, g, x}, 4);
  /* eval mode passes the gradient through unchanged */
  x = tt_param(22, -1, 1, 1, SHAPE(6));
  y = sg_dropout(x, 0.5, false);
  sg_tensor *s = sg_sum(y, NULL, 0, false);
  CHECK_OK(sg_backward(&s, NULL, 1, false, false));
  CHECK_VALUES(x->grad, VALS(1, 1, 1, 1, 1, 1), 6, 0);
  sg_release_all((sg_tensor *[]){x, y, s}, 3);
}

/* ---------------- errors ---------------- */

static void errors(void) {
  sg_device cuda = {SG_CUDA, 0};
  CHECK_FAILS(sg_rand(SHAPE(3), 1, SG_INT64, CPU),
              "rand: dtype int64 is not supported, expected float32 or float64");
  CHECK_FAILS(sg_randn(SHAPE(3), 1, SG_BOOL, CPU), "randn: dtype bool is not supported");
  CHECK_FAILS(sg_rand(SHAPE(2, -3), 2, SG_FLOAT32, CPU), "rand: negative size -3 in dim 1");
  CHECK_FAILS(sg_rand(NULL, 2, SG_FLOAT32, CPU), "rand: shape is NULL but 2 dims");
  CHECK_FAILS(sg_randn(SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1), 9, SG_FLOAT32, CPU),
              "randn: 9 dims requested, expected 0 to 8");
  CHECK_FAILS(sg_randn(SHAPE(3), 1, SG_FLOAT32, cuda), "randn: device cuda:0 is not available");
  CHECK_FAILS(sg_rand(SHAPE(3), 1, (sg_dtype)42, CPU), "rand: dtype invalid");
  CHECK_FAILS(sg_normal(0, -1, SHAPE(3), 1, SG_FLOAT32, CPU),
              "normal: std must be finite and >= 0, got -1");
  CHECK_FAILS(sg_normal(NAN, 1, SHAPE(3), 1, SG_FLOAT32, CPU), "normal: mean must be finite");
  CHECK_FAILS(sg_randint(5, 5, SHAPE(3), 1, SG_INT64, CPU),
              "randint: high (5) must be greater than low (5)");
  CHECK_FAILS(sg_randint(5, 2, SHAPE(3), 1, SG_INT64, CPU), "randint: high (2)");
  CHECK_FAILS(sg_randint(-1, 10, SHAPE(3), 1, SG_UINT8, CPU),
              "randint: range [-1, 10) does not fit dtype uint8, expected values in [0, 255]");
  CHECK_FAILS(sg_randint(0, 3, SHAPE(3), 1, SG_BOOL, CPU), "does not fit dtype bool");
  CHECK_FAILS(sg_randint(0, (1 << 24) + 2, SHAPE(3), 1, SG_FLOAT32, CPU),
              "does not fit dtype float32");
  CHECK_FAILS(sg_randint(0, 3, SHAPE(-1), 1, SG_INT64, CPU), "randint: negative size -1");
  CHECK_FAILS(sg_randint(0, 3, SHAPE(3), 1, SG_INT64, cuda), "randint: device cuda:0");
  CHECK_FAILS(sg_bernoulli(NULL), "bernoulli: argument `p` is missing");
  sg_tensor *pi = tt_from(SG_INT64, VALS(0, 1), 1, SHAPE(2));
  CHECK_FAILS(sg_bernoulli(pi), "bernoulli: p (2) has dtype int64, expected float32 or float64");
  sg_release(pi);
  sg_tensor *pb = tt_from(SG_FLOAT32, VALS(0.5, 0.25, 1.5, 0.1), 2, SHAPE(2, 2));
  CHECK_FAILS(sg_bernoulli(pb), "bernoulli: p (2x2) must hold probabilities in [0, 1], got 1.5 "
                                "at flat index 2");
  sg_release(pb);
  pb = tt_from(SG_FLOAT64, VALS(0.5, NAN), 1, SHAPE(2));
  CHECK_FAILS(sg_bernoulli(pb), "got nan at flat index 1");
  sg_release(pb);
  pb = tt_from(SG_FLOAT64, VALS(-0.01), 1, SHAPE(1));
  CHECK_FAILS(sg_bernoulli(pb), "got -0.01 at flat index 0");
  sg_release(pb);
  CHECK_FAILS(sg_bernoulli_scalar(1.5, SHAPE(3), 1, SG_FLOAT32, CPU),
              "bernoulli: p must be a probability in [0, 1], got 1.5");
  CHECK_FAILS(sg_bernoulli_scalar(NAN, SHAPE(3), 1, SG_FLOAT32, CPU), "got nan");
  CHECK_FAILS(sg_bernoulli_scalar(0.5, SHAPE(-2), 1, SG_FLOAT32, CPU),
              "bernoulli: negative size -2");
  CHECK_FAILS(sg_randperm(-1, CPU), "randperm: n must be >= 0, got -1");
  CHECK_FAILS(sg_randperm(4, cuda), "randperm: device cuda:0 is not available");
  /* dropout */
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(1, 2, 3), 1, SHAPE(3));
  CHECK_FAILS(sg_dropout(NULL, 0.5, true), "dropout: argument `input` is missing");
  CHECK_FAILS(sg_dropout(x, 1.0, true), "dropout: p must be in [0, 1), got 1");
  CHECK_FAILS(sg_dropout(x, -0.1, true), "dropout: p must be in [0, 1), got -0.1");
  CHECK_FAILS(sg_dropout(x, NAN, false), "dropout: p must be in [0, 1), got nan");
  sg_tensor *xi = tt_from(SG_INT64, VALS(1, 2, 3), 2, SHAPE(1, 3));
  CHECK_FAILS(sg_dropout(xi, 0.5, true),
              "dropout: input (1x3) has dtype int64, expected float32 or float64");
  sg_release(xi);
  sg_release(x);
}

int main(void) {
  RUN(philox_known_answers);
  RUN(mulhi64_exact);
  RUN(transcendental_accuracy);
  RUN(layout_uniform);
  RUN(layout_normal);
  RUN(layout_randint);
  RUN(layout_bernoulli);
  RUN(layout_randperm);
  RUN(seeds_and_state);
  RUN(statistics_uniform_normal);
  RUN(statistics_discrete);
  RUN(thread_count_independence);
  RUN(dropout_values);
  RUN(dropout_gradients);
  RUN(errors);
  return sg_test_finish();
}
