/* The case table of test_backend_ops and the input builders. */
#include <stdlib.h>
#include <string.h>

#include "backend_ops.h"

static bo_case *cases;
static int n_cases, cap_cases;

bo_case *bo_new(const char *name, sg_fn fn, int level) {
  if (n_cases == cap_cases) {
    cap_cases = cap_cases ? 2 * cap_cases : 256;
    bo_case *c = realloc(cases, sizeof *cases * (size_t)cap_cases);
    if (!c) abort();
    cases = c;
  }
  bo_case *c = &cases[n_cases++];
  memset(c, 0, sizeof *c);
  snprintf(c->name, sizeof c->name, "%s", name);
  c->fn = fn;
  c->level = level;
  return c;
}

void bo_tol(bo_case *c, double atol, double rtol, double gmul, double hmul) {
  c->atol = atol;
  c->rtol = rtol;
  c->gatol = atol * gmul;
  c->grtol = rtol * gmul;
  c->hatol = atol * hmul;
  c->hrtol = rtol * hmul;
}

void bo_ctx(bo_case *c, const void *ctx, size_t n) {
  if (n > sizeof c->ctx) {
    fprintf(stderr, "%s: ctx of %zu bytes > BO_CTX_BYTES\n", c->name, n);
    abort();
  }
  memcpy(c->ctx, ctx, n);
}

bo_input *bo_in(bo_case *c, bo_kind kind, sg_dtype dt, int ndim, const int64_t *shape) {
  if (c->n_in == BO_MAX_IN) abort();
  bo_input *in = &c->in[c->n_in++];
  in->kind = kind;
  in->dtype = dt;
  in->ndim = ndim;
  for (int d = 0; d < ndim; d++) in->shape[d] = shape[d];
  in->lo = -1;
  in->hi = 1;
  in->seed = (uint64_t)c->n_in;
  in->levels = 7;
  return in;
}

bo_input *bo_uniform(bo_case *c, uint64_t seed, sg_dtype dt, double lo, double hi, int ndim,
                     const int64_t *shape) {
  bo_input *in = bo_in(c, BO_UNIFORM, dt, ndim, shape);
  in->seed = seed;
  in->lo = lo;
  in->hi = hi;
  return in;
}

void bo_slots(bo_case *c, int n, const bo_slot *slots) {
  for (int i = 0; i < n; i++) {
    if (c->n_slots == BO_MAX_SLOTS) abort();
    c->slots[c->n_slots++] = slots[i];
  }
}

int bo_count(void) { return n_cases; }
bo_case *bo_get(int i) { return &cases[i]; }
void bo_free_all(void) {
  free(cases);
  cases = NULL;
  n_cases = cap_cases = 0;
}

double bo_tol_for(sg_dtype dt) { return dt == SG_FLOAT64 ? 1e-11 : 3e-5; }

/* Values in [-levels/2, levels/2) with many ties (small integers), and a
 * few -0.0, +0.0 and NaN (when nan) at fixed places. */
sg_tensor *bo_tie_data(uint64_t seed, sg_dtype dt, int levels, bool nan, int ndim,
                       const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
  if (!v) return NULL;
  uint64_t s = seed * 2654435761u + 7;
  for (int64_t i = 0; i < n; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    v[i] = (double)((int64_t)((s >> 33) % (uint64_t)levels) - levels / 2);
    if (dt == SG_FLOAT32 || dt == SG_FLOAT64) {
      if (i % 13 == 5) v[i] = -0.0;
      if (i % 17 == 3) v[i] = 0.0;
      if (nan && i % 29 == 11) v[i] = NAN;
    } else if (dt == SG_UINT8 || dt == SG_BOOL) {
      v[i] = dt == SG_BOOL ? (double)((s >> 40) & 1) : (double)((s >> 40) % 7);
    }
  }
  sg_tensor *t = tt_from(dt, v, ndim, shape);
  free(v);
  return t;
}

sg_tensor *bo_rand_index(uint64_t seed, int64_t hi, int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
  if (!v) return NULL;
  uint64_t s = seed * 2654435761u + 3;
  for (int64_t i = 0; i < n; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    v[i] = (double)((s >> 33) % (uint64_t)hi);
  }
  sg_tensor *t = tt_from(SG_INT64, v, ndim, shape);
  free(v);
  return t;
}

sg_tensor *bo_cat_flat(int n, sg_tensor **ts) {
  sg_tensor *flat[12] = {0};
  int m = 0;
  bool ok = n <= 12;
  for (int i = 0; i < n && ok; i++) {
    if (!ts[i]) continue;
    flat[m] = sg_reshape(ts[i], (const int64_t[]){-1}, 1);
    ok = flat[m++] != NULL;
  }
  sg_tensor *r = ok && m > 0 ? sg_cat(flat, m, 0) : NULL;
  sg_release_all(flat, m);
  sg_release_all(ts, n);
  return r;
}

static sg_tensor *bool_tensor(uint64_t seed, int ndim, const int64_t *shape) {
  sg_tensor *u = tt_uniform(seed, SG_FLOAT32, 0, 1, ndim, shape);
  sg_tensor *b = u ? sg_cmp_scalar(SG_GT, u, 0.5) : NULL;
  sg_release(u);
  return b;
}

/* batch x n x n: M M^T + n I (spd) or M + (n + 2) I (general). */
static sg_tensor *square(uint64_t seed, sg_dtype dt, int64_t batch, int64_t n, bool spd) {
  sg_tensor *m = tt_uniform(seed, SG_FLOAT64, -1, 1, 3, (const int64_t[]){batch, n, n});
  sg_tensor *mt = m && spd ? sg_transpose(m, -1, -2) : NULL;
  sg_tensor *p = spd ? (mt ? sg_matmul(m, mt) : NULL) : sg_retain(m);
  sg_tensor *e = sg_eye(n, n, SG_FLOAT64, sg_cpu_device());
  sg_tensor *en = e ? sg_mul_scalar(e, spd ? (double)n : (double)(n + 2)) : NULL;
  sg_tensor *s = p && en ? sg_add(p, en) : NULL;
  sg_tensor *r = s ? sg_to_dtype(s, dt) : NULL;
  sg_release_all((sg_tensor *[]){m, mt, p, e, en, s}, 6);
  return r;
}

sg_tensor *bo_build_input(const bo_case *c, int k) {
  if (c->build) return c->build(c, k);
  const bo_input *in = &c->in[k];
  switch (in->kind) {
  case BO_UNIFORM:
    return tt_uniform(in->seed, in->dtype, in->lo, in->hi, in->ndim, in->shape);
  case BO_BOOL:
    return bool_tensor(in->seed, in->ndim, in->shape);
  case BO_TIES:
    return bo_tie_data(in->seed, in->dtype, in->levels, in->nan, in->ndim, in->shape);
  case BO_INDEX:
    return bo_rand_index(in->seed, in->levels, in->ndim, in->shape);
  case BO_VALUES:
    return tt_from(in->dtype, in->values, in->ndim, in->shape);
  case BO_SPD:
  case BO_GENERAL:
    return square(in->seed, in->dtype, in->shape[0], in->shape[1], in->kind == BO_SPD);
  case BO_ABSENT:
    return NULL;
  }
  return NULL;
}
