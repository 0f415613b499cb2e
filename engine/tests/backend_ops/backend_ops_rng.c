/* Cases of the rng family (from the former test_cuda_ops.c). The Philox
 * streams are counter based, so the same seed gives the same bits on every
 * device: the draws compare bit for bit (not by distribution), and the
 * runner checks that the generator advanced alike. in[0] names the device
 * (and is p for bernoulli, x for dropout). */
#include "backend_ops.h"

typedef struct draw_ctx {
  int kind;
  int64_t n;
  sg_dtype dt;
  double a, b; /* mean/std, low/high, p */
} draw_ctx;

enum { D_RAND, D_RANDN, D_NORMAL, D_RANDINT, D_BERN_SCALAR, D_BERN, D_RANDPERM, D_DROPOUT };

static sg_tensor *f_draw(sg_tensor **in, int n, void *ctx) {
  (void)n;
  const draw_ctx *c = ctx;
  sg_device d = in[0]->storage->device;
  /* a first draw, so the one compared starts at an offset != 0 */
  sg_tensor *skip = sg_rand(SHAPE(5), 1, SG_FLOAT32, d);
  if (!skip) return NULL;
  sg_release(skip);
  switch (c->kind) {
  case D_RAND: return sg_rand(&c->n, 1, c->dt, d);
  case D_RANDN: return sg_randn(&c->n, 1, c->dt, d);
  case D_NORMAL: return sg_normal(c->a, c->b, &c->n, 1, c->dt, d);
  case D_RANDINT: return sg_randint((int64_t)c->a, (int64_t)c->b, &c->n, 1, c->dt, d);
  case D_BERN_SCALAR: return sg_bernoulli_scalar(c->a, &c->n, 1, c->dt, d);
  case D_BERN: return sg_bernoulli(in[0]);
  case D_RANDPERM: return sg_randperm(c->n, d);
  default: return sg_dropout(in[0], c->a, true);
  }
}

static void draw_case(draw_ctx d, uint64_t seed, int seed_no) {
  static const char *kinds[] = {"rand",      "randn",    "normal",   "randint",
                                "bernoulli scalar", "bernoulli", "randperm", "dropout"};
  static const bo_slot slots[] = {SLOT_INIT(rng, uniform),         SLOT_INIT(rng, normal),
                                  SLOT_INIT(rng, normal),          SLOT_INIT(rng, randint),
                                  SLOT_INIT(rng, bernoulli_scalar), SLOT_INIT(rng, bernoulli),
                                  SLOT_INIT(rng, randperm),        SLOT_INIT(rng, dropout)};
  char name[120];
  snprintf(name, sizeof name, "%s %s n=%lld seed %d", kinds[d.kind], sg_dtype_name(d.dt),
           (long long)d.n, seed_no);
  bo_case *c = bo_new(name, f_draw, 0);
  BO_CTX(c, d);
  c->exact = true;
  c->rng_seed = seed;
  if (d.kind == D_BERN) /* probabilities */
    bo_uniform(c, 111, d.dt, 0, 1, 1, &d.n);
  else if (d.kind == D_DROPOUT)
    bo_uniform(c, 112, d.dt, -1, 1, 1, &d.n);
  else
    bo_uniform(c, 1, SG_FLOAT32, 0, 1, 1, SHAPE(1));
  bo_slots(c, 1, &slots[d.kind]);
  if (d.kind == D_BERN) BO_SLOTS(c, SLOT(rng, check_prob));
}

/* dropout's gradient is the mask drawn from the same stream */
static sg_tensor *f_dropout(sg_tensor **in, int n, void *ctx) {
  (void)n;
  return sg_dropout(in[0], *(const double *)ctx, true);
}

static sg_tensor *f_bernoulli(sg_tensor **in, int n, void *ctx) {
  (void)n;
  (void)ctx;
  return sg_bernoulli(in[0]);
}

void bo_register_rng(void) {
  static const uint64_t seeds[3] = {0, 67280421310721ull, 0x123456789abcdef0ull};
  static const int64_t ns[4] = {1, 1001, 4096, 100003};
  static const sg_dtype fl[2] = {SG_FLOAT32, SG_FLOAT64};
  static const sg_dtype all[5] = {SG_INT64, SG_FLOAT64, SG_FLOAT32, SG_UINT8, SG_BOOL};
  static const double ranges[5][2] = {
      {-1000000007, 3000000000000.0}, {-5, 1e9}, {-7, 100}, {3, 200}, {0, 2}};
  for (int s = 0; s < 3; s++) {
    for (int q = 0; q < 4; q++) {
      for (int k = 0; k < 2; k++) {
        draw_case((draw_ctx){D_RAND, ns[q], fl[k], 0, 1}, seeds[s], s);
        draw_case((draw_ctx){D_RANDN, ns[q], fl[k], 0, 1}, seeds[s], s);
        draw_case((draw_ctx){D_NORMAL, ns[q], fl[k], -1.5, 0.3}, seeds[s], s);
        draw_case((draw_ctx){D_BERN_SCALAR, ns[q], fl[k], 0.3, 0}, seeds[s], s);
        draw_case((draw_ctx){D_BERN, ns[q], fl[k], 0.3, 0}, seeds[s], s);
        draw_case((draw_ctx){D_DROPOUT, ns[q], fl[k], 0.35, 0}, seeds[s], s);
      }
      for (int k = 0; k < 5; k++) {
        draw_case((draw_ctx){D_RANDINT, ns[q], all[k], ranges[k][0], ranges[k][1]}, seeds[s], s);
        draw_case((draw_ctx){D_BERN_SCALAR, ns[q], all[k], 0.6, 0}, seeds[s], s);
      }
      draw_case((draw_ctx){D_RANDPERM, ns[q], SG_INT64, 0, 0}, seeds[s], s);
    }
    /* randint over the whole int64 range */
    draw_case((draw_ctx){D_RANDINT, 777, SG_INT64, (double)INT64_MIN, 9.2e18}, seeds[s], s);
  }
  /* a probability out of range: the same error */
  static const double p[] = {0.5, 1.5, 0.2};
  bo_case *c = bo_new("bernoulli probability out of range", f_bernoulli, 0);
  bo_in(c, BO_VALUES, SG_FLOAT32, 1, SHAPE(3))->values = p;
  c->error = "flat index 1";
  BO_SLOTS(c, SLOT(rng, check_prob));
  for (int k = 0; k < 2; k++) {
    char name[64];
    snprintf(name, sizeof name, "dropout gradients %s", sg_dtype_name(fl[k]));
    c = bo_new(name, f_dropout, 2);
    double pd = 0.4;
    BO_CTX(c, pd);
    c->rng_seed = 2024;
    c->exact = true;
    bo_uniform(c, 113, fl[k], -1, 1, 3, SHAPE(3, 7, 11));
    BO_SLOTS(c, SLOT(rng, dropout));
  }
}
