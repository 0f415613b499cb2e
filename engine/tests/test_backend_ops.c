/* Every op against the CPU on every backend present, from one table of
 * cases (engine/tests/backend_ops/): forward values, input gradients of
 * sum(y * w) and double backward, plus a coverage check that fails when a
 * filled kernel slot of a backend has no case (ggml's test-backend-ops is
 * the model). docs/engine-internals.md, "Tests", has the rules.
 *
 * Device under test: cuda:0 when a GPU is usable. Without one the program
 * still checks the coverage of the CUDA kernel tables (in a CUDA build),
 * prints "SKIPPED: ..." and exits with 77 (ctest: skipped). With
 * SGEN_TEST_BACKEND_ON_CPU=1 the CPU stands in for the device (inputs are
 * separate CPU copies), so every case runs CPU against CPU: a check of the
 * table and the runner on any machine (c.test_backend_ops_selftest). */
#include <stdlib.h>
#include <string.h>

#include "backend_ops/backend_ops.h"
#include "internal/tensor_internal.h"
#include "sgen/cuda.h"
#ifdef SGEN_WITH_CUDA
#include "cuda/nn_kernels_cuda.h"
extern const sg_backend sg_cuda_backend;
#endif

#define SKIP_CODE 77

static sg_device DEV = {SG_CUDA, 0};
static bool selftest;
static int n_run, n_forward, n_grad, n_gradgrad, n_repeat;

/* ======================= coverage ======================= */

/* Each family's slots by name, in the order of its kernel struct. A slot
 * added to a struct without a name here fails the size check below; a
 * named slot without a case fails the coverage check. */
#define ELEMENTWISE_SLOTS(X) \
  X(elementwise, unary) X(elementwise, binary) X(elementwise, where) X(elementwise, leaky_relu) \
  X(elementwise, clamp) X(elementwise, leaky_relu_backward)
#define SUM_SLOTS(X) X(sum, sum)
#define REDUCE_SLOTS(X) \
  X(reduce, minmax) X(reduce, var) X(reduce, norm) X(reduce, logsumexp) X(reduce, take_along) \
  X(reduce, put_along)
#define BLAS_SLOTS(X) X(blas, matmul)
#define CONV_SLOTS(X) \
  X(conv, conv2d) X(conv, conv_transpose2d) X(conv, conv2d_weight) X(conv, unfold) X(conv, fold)
#define NORM_SLOTS(X)                                                                       \
  X(norm, moments) X(norm, normalize) X(norm, normalize_backward) X(norm, normalize_act) \
  X(norm, normalize_act_backward) X(norm, layer_norm) X(norm, layer_norm_backward)
#define POOL_SLOTS(X)                                                                       \
  X(pool, max_pool2d) X(pool, index_scatter_add) X(pool, index_gather) X(pool, avg_pool2d) \
  X(pool, avg_pool2d_backward) X(pool, adaptive_avg_pool2d) X(pool, adaptive_avg_pool2d_backward)
#define RESAMPLE_SLOTS(X) \
  X(resample, interpolate) X(resample, interpolate_backward) X(resample, pad) X(resample, pad_backward)
#define SOFTMAX_SLOTS(X) X(softmax, softmax) X(softmax, softmax_backward)
#define LOSS_SLOTS(X) X(loss, pointwise_sum) X(loss, pointwise_grad) X(loss, nll_prepare)
#define INDEX_SLOTS(X) X(index, index_select) X(index, gather) X(index, scatter)
#define SORT_SLOTS(X) X(sort, topk) X(sort, sort)
#define SPARSE_SLOTS(X) \
  X(sparse, l0_mask) X(sparse, l0inf_mask) X(sparse, threshold) X(sparse, soft_threshold_t)
#define LINALG_SLOTS(X)                                                                  \
  X(linalg, cholesky) X(linalg, logdet) X(linalg, inv) X(linalg, solve) X(linalg, eigh) \
  X(linalg, slogdet)
#define RNG_SLOTS(X)                                                                       \
  X(rng, uniform) X(rng, normal) X(rng, randint) X(rng, check_prob) X(rng, bernoulli)     \
  X(rng, bernoulli_scalar) X(rng, dropout) X(rng, randperm)
#define OPTIM_SLOTS(X) X(optim, adam_step)

#define AS_SLOT(fam, slot) SLOT_INIT(fam, slot),
typedef struct family {
  const char *name;
  size_t offset, size;
  const bo_slot *slots;
  int n_slots;
} family;
#define FAMILY(fam, LIST)                                                               \
  {#fam, offsetof(sg_backend, fam), sizeof(struct sg_##fam##_kernels),                 \
   (const bo_slot[]){LIST(AS_SLOT)},                                                   \
   (int)(sizeof((const bo_slot[]){LIST(AS_SLOT)}) / sizeof(bo_slot))}

/* Backend-level slots that no op case exercises, each with why and where it
 * is checked instead. */
static const struct {
  size_t offset;
  const char *name, *why;
} exempt[] = {
    {offsetof(sg_backend, alloc), "backend.alloc",
     "memory, not an op: test_cuda_runtime (memory flat over 10,000 allocations, out of "
     "memory); every case allocates through it"},
    {offsetof(sg_backend, free), "backend.free",
     "memory, not an op: test_cuda_runtime (allocated bytes back where they were)"},
    {offsetof(sg_backend, memory_stats), "backend.memory_stats",
     "the allocator's counters, not an op: test_tensor (CPU) and test_cuda_runtime (CUDA)"},
    {offsetof(sg_backend, empty_cache), "backend.empty_cache",
     "the allocator's cache, not an op: test_tensor (CPU) and test_cuda_runtime (CUDA)"},
};

/* Slots with a case: true when some case names (family, offset). */
static bool covered(size_t fam, size_t off) {
  for (int i = 0; i < bo_count(); i++) {
    const bo_case *c = bo_get(i);
    for (int s = 0; s < c->n_slots; s++)
      if (c->slots[s].family == fam && c->slots[s].offset == off) return true;
  }
  return false;
}

/* Walks every family table of `be` and every function pointer in it, as
 * fails naming each filled slot without a case, and each table with no filled
 * slot (a family a backend lacks is a NULL pointer, which ops report as "not
 * implemented"; an all-NULL table would make them call NULL). Returns the number of filled slots covered. */
static int check_coverage(const sg_backend *be, const char *label) {
  const family fams[] = {
      FAMILY(elementwise, ELEMENTWISE_SLOTS), FAMILY(sum, SUM_SLOTS),
      FAMILY(reduce, REDUCE_SLOTS),           FAMILY(blas, BLAS_SLOTS),
      FAMILY(conv, CONV_SLOTS),               FAMILY(norm, NORM_SLOTS),
      FAMILY(pool, POOL_SLOTS),               FAMILY(resample, RESAMPLE_SLOTS),
      FAMILY(softmax, SOFTMAX_SLOTS),         FAMILY(loss, LOSS_SLOTS),
      FAMILY(index, INDEX_SLOTS),             FAMILY(sort, SORT_SLOTS),
      FAMILY(sparse, SPARSE_SLOTS),           FAMILY(linalg, LINALG_SLOTS),
      FAMILY(rng, RNG_SLOTS),                 FAMILY(optim, OPTIM_SLOTS),
  };
  typedef void (*fnptr)(void);
  int n_covered = 0;
  char msg[400];
  /* every family pointer of sg_backend is listed: the families sit between
   * `fill` and the end of the struct, one pointer each */
  size_t first = offsetof(sg_backend, fill) + sizeof(fnptr);
  size_t n_family_ptrs = (sizeof(sg_backend) - first) / sizeof(void *);
  snprintf(msg, sizeof msg, "sg_backend has %zu family tables, this test lists %zu",
           n_family_ptrs, sizeof fams / sizeof fams[0]);
  CHECK(sg_test_check(n_family_ptrs == sizeof fams / sizeof fams[0], msg, __FILE__, __LINE__));
  for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
    const family *F = &fams[f];
    snprintf(msg, sizeof msg, "family %s: struct sg_%s_kernels has %zu slots, this test names %d "
             "(name the new slot in %s's list and give it a case)",
             F->name, F->name, F->size / sizeof(fnptr), F->n_slots, F->name);
    sg_test_check(F->size == (size_t)F->n_slots * sizeof(fnptr), msg, __FILE__, __LINE__);
    const void *table = *(const void *const *)((const char *)be + F->offset);
    if (!table) continue; /* a family the backend leaves out: ops report "not implemented" */
    int n_filled = 0;
    for (int s = 0; s < F->n_slots; s++) {
      fnptr fp;
      memcpy(&fp, (const char *)table + F->slots[s].offset, sizeof fp);
      if (!fp) continue;
      n_filled++;
      if (covered(F->offset, F->slots[s].offset)) {
        n_covered++;
      } else {
        snprintf(msg, sizeof msg, "%s backend: kernel slot %s is filled but no case covers it",
                 label, F->slots[s].name);
        sg_test_check(false, msg, __FILE__, __LINE__);
      }
    }
    snprintf(msg, sizeof msg, "%s backend: family %s has a table with no kernel in it (leave "
             "its pointer NULL until it is written)", label, F->name);
    sg_test_check(n_filled > 0, msg, __FILE__, __LINE__);
  }
  /* backend-level slots: copy and fill have cases, the allocator's are
   * exempt; every pointer from alloc to fill is one of them */
  size_t n_level = (offsetof(sg_backend, fill) - offsetof(sg_backend, alloc)) / sizeof(fnptr) + 1;
  size_t n_named = 2 + sizeof exempt / sizeof exempt[0];
  snprintf(msg, sizeof msg, "sg_backend has %zu backend-level slots, this test names %zu "
           "(give a new one a case or an exemption)", n_level, n_named);
  sg_test_check(n_level == n_named, msg, __FILE__, __LINE__);
  const size_t level[] = {offsetof(sg_backend, copy), offsetof(sg_backend, fill)};
  const char *level_names[] = {"backend.copy", "backend.fill"};
  for (int i = 0; i < 2; i++) {
    fnptr fp;
    memcpy(&fp, (const char *)be + level[i], sizeof fp);
    if (!fp) continue;
    if (covered(BO_BACKEND_LEVEL, level[i])) {
      n_covered++;
    } else {
      snprintf(msg, sizeof msg, "%s backend: %s is filled but no case covers it", label,
               level_names[i]);
      sg_test_check(false, msg, __FILE__, __LINE__);
    }
  }
  for (size_t i = 0; i < sizeof exempt / sizeof exempt[0]; i++) {
    const void *p = *(const void *const *)((const char *)be + exempt[i].offset);
    if (p) printf("  %s: exempt (%s)\n", exempt[i].name, exempt[i].why);
  }
  return n_covered;
}

/* ======================= comparison ======================= */

static sg_tensor *to_dev(sg_tensor *t) {
  if (!t) return NULL;
  if (!selftest) return sg_to_device(t, DEV);
  /* a separate CPU copy, so that in-place updates stay apart */
  sg_tensor *c = sg_clone(t);
  sg_tensor *d = c ? sg_detach(c) : NULL;
  sg_release(c);
  return d;
}
static sg_tensor *to_cpu(sg_tensor *t) { return t ? sg_to_device(t, sg_cpu_device()) : NULL; }

static bool bits_equal(const sg_tensor *a, const sg_tensor *b) {
  sg_tensor *ah = to_cpu((sg_tensor *)a), *bh = to_cpu((sg_tensor *)b);
  sg_tensor *ac = ah ? sg_contiguous(ah) : NULL, *bc = bh ? sg_contiguous(bh) : NULL;
  bool ok = ac && bc && ac->dtype == bc->dtype && sg_same_shape(ac, bc) &&
            memcmp(sg_data_ptr(ac), sg_data_ptr(bc),
                   (size_t)sg_numel(ac) * sg_dtype_size(ac->dtype)) == 0;
  sg_release_all((sg_tensor *[]){ah, bh, ac, bc}, 4);
  return ok;
}

/* c (CPU) against g (device under test): same device kinds, dtype, shape,
 * values within atol + rtol |c| (NaN matches NaN, an infinity itself), and
 * bit for bit when exact. Consumes neither. */
static bool compare(const bo_case *k, const char *stage, const sg_tensor *c, const sg_tensor *g,
                    double atol, double rtol, bool exact) {
  char msg[600];
  if (!c || !g) {
    snprintf(msg, sizeof msg, "%s: %s: %s result is NULL (%s)", k->name, stage,
             c ? "device" : "CPU", sg_last_error());
    return sg_test_check(false, msg, __FILE__, __LINE__);
  }
  if (c->storage->device.type != SG_CPU || g->storage->device.type != DEV.type) {
    snprintf(msg, sizeof msg, "%s: %s: results on %s and %s", k->name, stage,
             sg_device_name(c->storage->device), sg_device_name(g->storage->device));
    return sg_test_check(false, msg, __FILE__, __LINE__);
  }
  sg_tensor *h = to_cpu((sg_tensor *)g);
  sg_tensor *hd = h ? sg_as_contiguous_dtype(h, SG_FLOAT64) : NULL;
  sg_tensor *cd = sg_as_contiguous_dtype((sg_tensor *)c, SG_FLOAT64);
  bool ok = true;
  char s1[128], s2[128];
  if (!hd || !cd || c->dtype != g->dtype || !sg_same_shape(c, g)) {
    snprintf(msg, sizeof msg, "%s: %s: CPU %s %s vs device %s %s", k->name, stage,
             sg_shape_str(c, s1, sizeof s1), sg_dtype_name(c->dtype),
             sg_shape_str(g, s2, sizeof s2), sg_dtype_name(g->dtype));
    ok = false;
  } else {
    const double *x = sg_data_ptr(cd), *y = sg_data_ptr(hd);
    int64_t n = sg_numel(cd), worst = -1;
    double worst_excess = 0;
    for (int64_t i = 0; i < n; i++) {
      if ((isnan(x[i]) && isnan(y[i])) || (isinf(x[i]) && x[i] == y[i])) continue;
      double e = fabs(x[i] - y[i]) - (atol + rtol * fabs(x[i]));
      if (isnan(e)) e = INFINITY;
      if (e > worst_excess) {
        worst_excess = e;
        worst = i;
      }
    }
    if (worst >= 0) {
      snprintf(msg, sizeof msg, "%s: %s: element %lld: CPU %.12g vs device %.12g (atol %g, rtol %g)",
               k->name, stage, (long long)worst, x[worst], y[worst], atol, rtol);
      ok = false;
    } else if (exact && !bits_equal(c, g)) {
      snprintf(msg, sizeof msg, "%s: %s: values agree but not bit for bit", k->name, stage);
      ok = false;
    }
  }
  sg_release_all((sg_tensor *[]){h, hd, cd}, 3);
  return ok ? true : sg_test_check(false, msg, __FILE__, __LINE__);
}

static bool fail(const bo_case *k, const char *what) {
  char msg[600];
  snprintf(msg, sizeof msg, "%s: %s", k->name, what);
  return sg_test_check(false, msg, __FILE__, __LINE__);
}

/* ======================= one case ======================= */

typedef struct side {
  sg_tensor *leaf[BO_MAX_IN]; /* what gradients are taken w.r.t. */
  sg_tensor *view[BO_MAX_IN]; /* what the op sees */
  sg_tensor *wrt[BO_MAX_IN + 1];
  int n_wrt;
  sg_tensor *y;
  char err[512];
  sg_rng_state rng;
} side;

static sg_tensor *forward(const bo_case *k, side *s) {
  sg_manual_seed(k->rng_seed);
  sg_clear_error();
  sg_tensor *y = k->fn(s->view, k->n_in, (void *)k->ctx);
  snprintf(s->err, sizeof s->err, "%s", sg_last_error());
  s->rng = sg_rng_get_state();
  return y;
}

static void release_side(side *s, int n) {
  sg_release_all(s->leaf, n);
  sg_release_all(s->view, n);
  sg_release(s->y);
}

/* Gradients (and for level 2 double backward) of both sides. */
static void gradients(const bo_case *k, side *c, side *d) {
  sg_tensor *yc = c->y, *yd = d->y;
  if (!sg_dtype_is_float(yc->dtype)) {
    fail(k, "declares gradients but its output is not float");
    return;
  }
  if (c->n_wrt == 0) {
    fail(k, "declares gradients but has no float input to take them for");
    return;
  }
  bool dbl = k->level >= 2;
  sg_tensor *w = tt_uniform(77, yc->dtype, -1, 1, yc->ndim, yc->shape), *wd = to_dev(w);
  if (dbl) {
    sg_set_requires_grad(w, true);
    sg_set_requires_grad(wd, true);
  }
  int m = c->n_wrt;
  sg_tensor *gc[BO_MAX_IN + 1] = {0}, *gd[BO_MAX_IN + 1] = {0};
  char msg[200];
  sg_status s1 = sg_grad(&yc, &w, 1, c->wrt, m, gc, true, dbl, true);
  snprintf(msg, sizeof msg, "%s: CPU backward", k->name);
  sg_test_check_ok(s1, msg, __FILE__, __LINE__);
  sg_status s2 = sg_grad(&yd, &wd, 1, d->wrt, m, gd, true, dbl, true);
  snprintf(msg, sizeof msg, "%s: device backward", k->name);
  sg_test_check_ok(s2, msg, __FILE__, __LINE__);
  if (s1 != SG_OK || s2 != SG_OK) goto done;
  int compared = 0;
  for (int j = 0; j < m; j++) {
    if (!gc[j] && !gd[j]) continue;
    snprintf(msg, sizeof msg, "gradient of input %d", j);
    compare(k, msg, gc[j], gd[j], k->gatol, k->grtol, false);
    compared++;
  }
  n_grad += compared;
  if (!compared) fail(k, "gradient: no input has one");
  if (!dbl) goto done;
  /* double backward: S = sum_j sum(g_j * v_j) over the gradients that
   * depend on something, differentiated w.r.t. the inputs and w */
  sg_tensor *tc = NULL, *td = NULL;
  for (int j = 0; j < m; j++) {
    if (!gc[j] || !gd[j] || !gc[j]->requires_grad) continue;
    sg_tensor *v = tt_uniform(7 + (uint64_t)j, gc[j]->dtype, -1, 1, gc[j]->ndim, gc[j]->shape);
    sg_tensor *vd = to_dev(v);
    sg_tensor *pc = sg_mul(gc[j], v), *pd = sg_mul(gd[j], vd);
    sg_tensor *qc = pc ? sg_sum(pc, NULL, 0, false) : NULL, *qd = pd ? sg_sum(pd, NULL, 0, false) : NULL;
    sg_tensor *nc = tc ? sg_add(tc, qc) : sg_retain(qc), *nd = td ? sg_add(td, qd) : sg_retain(qd);
    sg_release_all((sg_tensor *[]){v, vd, pc, pd, qc, qd, tc, td}, 8);
    tc = nc;
    td = nd;
  }
  if (!tc || !td) {
    fail(k, "declares double backward but no gradient depends on the inputs or w");
  } else {
    c->wrt[m] = w;
    d->wrt[m] = wd;
    sg_tensor *hc[BO_MAX_IN + 1] = {0}, *hd[BO_MAX_IN + 1] = {0};
    s1 = sg_grad(&tc, NULL, 1, c->wrt, m + 1, hc, false, false, true);
    s2 = sg_grad(&td, NULL, 1, d->wrt, m + 1, hd, false, false, true);
    snprintf(msg, sizeof msg, "%s: double backward ran (%s)", k->name, sg_last_error());
    if (sg_test_check(s1 == SG_OK && s2 == SG_OK, msg, __FILE__, __LINE__)) {
      int hcount = 0;
      for (int j = 0; j <= m; j++) {
        if (!hc[j] && !hd[j]) continue;
        snprintf(msg, sizeof msg, "double backward d/d(%s %d)", j < m ? "input" : "w", j);
        compare(k, msg, hc[j], hd[j], k->hatol, k->hrtol, false);
        hcount++;
      }
      n_gradgrad += hcount;
      if (!hcount) fail(k, "double backward: nothing to compare");
    }
    sg_release_all(hc, m + 1);
    sg_release_all(hd, m + 1);
  }
  sg_release(tc);
  sg_release(td);
done:
  sg_release_all(gc, m);
  sg_release_all(gd, m);
  sg_release(w);
  sg_release(wd);
}

static void run_case(const bo_case *k) {
  side c = {0}, d = {0};
  n_run++;
  for (int i = 0; i < k->n_in; i++) {
    sg_tensor *t = bo_build_input(k, i);
    if (!t && k->in[i].kind != BO_ABSENT && !k->build) {
      fail(k, "input could not be built");
      release_side(&c, i);
      release_side(&d, i);
      return;
    }
    if (!t) continue;
    sg_tensor *tc = sg_clone(t);
    c.leaf[i] = tc ? sg_detach(tc) : NULL;
    sg_release(tc);
    d.leaf[i] = to_dev(t);
    sg_release(t);
    if (!c.leaf[i] || !d.leaf[i]) {
      fail(k, "input moved to the device");
      continue;
    }
    if (k->level >= 1 && !k->in[i].nograd && sg_dtype_is_float(c.leaf[i]->dtype)) {
      sg_set_requires_grad(c.leaf[i], true);
      sg_set_requires_grad(d.leaf[i], true);
      c.wrt[c.n_wrt++] = c.leaf[i];
      d.wrt[d.n_wrt++] = d.leaf[i];
    }
    bool tr = k->in[i].transpose;
    c.view[i] = tr ? sg_transpose(c.leaf[i], 0, 1) : sg_retain(c.leaf[i]);
    d.view[i] = tr ? sg_transpose(d.leaf[i], 0, 1) : sg_retain(d.leaf[i]);
  }
  c.y = forward(k, &c);
  d.y = forward(k, &d);
  char msg[1400];
  if (k->error) {
    snprintf(msg, sizeof msg, "%s: both fail with the same message holding '%s' (cpu '%s', device '%s')",
             k->name, k->error, c.err, d.err);
    sg_test_check(!c.y && !d.y && strcmp(c.err, d.err) == 0 && strstr(c.err, k->error), msg,
                  __FILE__, __LINE__);
    n_forward++;
  } else if (compare(k, "forward", c.y, d.y, k->atol, k->rtol, k->exact)) {
    n_forward++;
    snprintf(msg, sizeof msg, "%s: generator state after the op (cpu %llu/%llu, device %llu/%llu)",
             k->name, (unsigned long long)c.rng.seed, (unsigned long long)c.rng.offset,
             (unsigned long long)d.rng.seed, (unsigned long long)d.rng.offset);
    sg_test_check(c.rng.seed == d.rng.seed && c.rng.offset == d.rng.offset, msg, __FILE__,
                  __LINE__);
    if (k->repeat) {
      side again = d;
      sg_tensor *y2 = forward(k, &again);
      snprintf(msg, sizeof msg, "%s: the device repeats its result bit for bit", k->name);
      sg_test_check(y2 && bits_equal(d.y, y2), msg, __FILE__, __LINE__);
      sg_release(y2);
      n_repeat++;
    }
    if (k->level >= 1) gradients(k, &c, &d);
  }
  release_side(&c, k->n_in);
  release_side(&d, k->n_in);
}

/* Runs the cases whose first slot's name starts with family_prefix
 * ("elementwise.", "conv."; all when NULL). */
static void run_cases(const char *family_prefix) {
  for (int i = 0; i < bo_count(); i++) {
    const bo_case *k = bo_get(i);
    if (family_prefix && strncmp(k->slots[0].name, family_prefix, strlen(family_prefix)) != 0)
      continue;
    run_case(k);
  }
}

static void all_cases(void) { run_cases(getenv("SGEN_TEST_BACKEND_ONLY")); }

#ifdef SGEN_WITH_CUDA
/* The convolutions again through the im2col + cuBLAS fallback. */
static void conv_fallback(void) {
  sg_cuda_conv_force_fallback(true);
  run_cases("conv.");
  sg_cuda_conv_force_fallback(false);
}
#endif

/* The coverage check runs in every build, before the device is looked for. */
static void coverage(void) {
  int covered_cpu = check_coverage(&sg_cpu_backend, "cpu");
  printf("  cpu: %d slots covered by %d cases\n", covered_cpu, bo_count());
  CHECK(covered_cpu > 0);
#ifdef SGEN_WITH_CUDA
  int covered_cuda = check_coverage(&sg_cuda_backend, "cuda");
  printf("  cuda: %d slots covered\n", covered_cuda);
  CHECK(covered_cuda > 0);
#endif
}

/* A run that compared nothing must fail. */
static void counts(void) {
  printf("  compared: %d cases, %d forward, %d gradients, %d double backward, %d repeats\n",
         n_run, n_forward, n_grad, n_gradgrad, n_repeat);
  CHECK((n_run >= bo_count() || getenv("SGEN_TEST_BACKEND_ONLY")) && n_forward > 0 && n_grad > 0 && n_gradgrad > 0 && n_repeat > 0);
}

int main(void) {
  bo_register_elementwise();
  bo_register_ops();
  bo_register_nn();
  bo_register_rng();
  RUN(coverage);
  /* a coverage failure stops here, unless SGEN_TEST_BACKEND_ONLY picks
   * cases to work on (the run then still fails at the end) */
  if (sg_test_finish() != 0 && !getenv("SGEN_TEST_BACKEND_ONLY")) {
    bo_free_all();
    return 1;
  }
  const char *st = getenv("SGEN_TEST_BACKEND_ON_CPU");
  if (st && strcmp(st, "1") == 0) {
    selftest = true;
    DEV = sg_cpu_device();
    printf("SGEN_TEST_BACKEND_ON_CPU=1: the CPU stands in for the device (checks the test)\n");
  } else if (!sg_cuda_built()) {
    printf("SKIPPED: sgen was built without CUDA\n");
    bo_free_all();
    return SKIP_CODE;
  } else if (!sg_cuda_is_available()) {
    printf("SKIPPED: no CUDA device usable here: %s\n", sg_cuda_unavailable_reason());
    bo_free_all();
    return SKIP_CODE;
  } else {
    printf("device: %s\n", sg_cuda_device_name(0));
  }
  RUN(all_cases);
#ifdef SGEN_WITH_CUDA
  if (!selftest) RUN(conv_fallback);
#endif
  RUN(counts);
  bo_free_all();
  return sg_test_finish();
}
