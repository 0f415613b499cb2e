/* The case table of test_backend_ops (engine/tests/test_backend_ops.c):
 * every op is a case {name, inputs, forward function, tolerances, levels,
 * kernel slots}. The runner builds the inputs on the CPU, moves them to the
 * device under test, runs the forward on both and compares; then the input
 * gradients of sum(y * w) and, for level 2, the gradients of a scalar of
 * those gradients (double backward). Cases are added by the register
 * functions of backend_ops_*.c, in loops over dtypes and shapes, as ggml's
 * tests/test-backend-ops.cpp builds its list. */
#ifndef SG_TEST_BACKEND_OPS_H
#define SG_TEST_BACKEND_OPS_H

#include <stddef.h>

#include "harness.h"
#include "internal/backend.h"
#include "internal/kernels_blas.h"
#include "internal/kernels_conv.h"
#include "internal/kernels_elementwise.h"
#include "internal/kernels_index.h"
#include "internal/kernels_linalg.h"
#include "internal/kernels_loss.h"
#include "internal/kernels_norm.h"
#include "internal/kernels_optim.h"
#include "internal/kernels_pool.h"
#include "internal/kernels_reduce.h"
#include "internal/kernels_resample.h"
#include "internal/kernels_rng.h"
#include "internal/kernels_softmax.h"
#include "internal/kernels_sort.h"
#include "internal/kernels_sparse.h"
#include "internal/kernels_sum.h"

#define BO_MAX_IN 6
#define BO_MAX_SLOTS 8
#define BO_CTX_BYTES 160

/* A kernel slot: the family's offset in sg_backend and the slot's offset in
 * the family's kernel table. Backend-level slots (copy, fill) have family
 * BO_BACKEND_LEVEL and their offset in sg_backend. */
#define BO_BACKEND_LEVEL ((size_t)-1)
typedef struct bo_slot {
  size_t family, offset;
  const char *name;
} bo_slot;
#define SLOT(fam, slot)                                                          \
  ((bo_slot){offsetof(sg_backend, fam), offsetof(struct sg_##fam##_kernels, slot), \
             #fam "." #slot})
/* the same as a brace initializer (for static tables) */
#define SLOT_INIT(fam, slot) \
  {offsetof(sg_backend, fam), offsetof(struct sg_##fam##_kernels, slot), #fam "." #slot}
#define BACKEND_SLOT(slot) ((bo_slot){BO_BACKEND_LEVEL, offsetof(sg_backend, slot), "backend." #slot})

/* How an input is made on the CPU (deterministic: the seed fixes it). */
typedef enum bo_kind {
  BO_UNIFORM,  /* tt_uniform in [lo, hi) (uint8/int64: truncated) */
  BO_BOOL,     /* about half true */
  BO_TIES,     /* small integers in [-levels/2, levels/2) with +-0 and (nan) NaN */
  BO_INDEX,    /* int64 in [0, levels) */
  BO_VALUES,   /* from values[] */
  BO_SPD,      /* batch x n x n symmetric positive definite (shape[0], shape[1]) */
  BO_GENERAL,  /* batch x n x n random + (n + 2) I: well conditioned */
  BO_ABSENT,   /* a NULL input (an optional argument left out) */
} bo_kind;

typedef struct bo_input {
  bo_kind kind;
  sg_dtype dtype;
  int ndim;
  int64_t shape[SG_MAX_DIMS];
  double lo, hi;
  uint64_t seed;
  int levels;
  bool nan;
  bool transpose; /* the op sees transpose(0, 1) of it, made on each device */
  bool nograd;    /* never marked requires_grad (running statistics, targets) */
  const double *values;
} bo_input;

typedef struct bo_case bo_case;
struct bo_case {
  char name[120];
  sg_fn fn; /* fn(inputs, n, ctx): ctx points at this case's ctx bytes */
  _Alignas(16) unsigned char ctx[BO_CTX_BYTES];
  int n_in;
  bo_input in[BO_MAX_IN];
  /* optional: builds input k itself (NULL: from in[k]) */
  sg_tensor *(*build)(const bo_case *c, int k);
  int level;           /* 0: forward; 1: + gradients; 2: + double backward */
  double atol, rtol;   /* forward */
  double gatol, grtol; /* gradients */
  double hatol, hrtol; /* double backward */
  bool exact;          /* forward bit for bit (not only to tolerance) */
  bool repeat;         /* the device forward twice gives the same bits */
  const char *error;   /* both devices fail with the same message holding this */
  uint64_t rng_seed;   /* sg_manual_seed before each forward */
  int n_slots;
  bo_slot slots[BO_MAX_SLOTS];
};

/* ---- building the table (backend_ops_table.c) ---- */
/* A new zeroed case at the end of the table (valid until the next bo_new). */
bo_case *bo_new(const char *name, sg_fn fn, int level);
/* Forward tolerance; gradients get gmul times it, double backward hmul. */
void bo_tol(bo_case *c, double atol, double rtol, double gmul, double hmul);
/* Copies n bytes of a ctx struct into the case (aborts if too big). */
void bo_ctx(bo_case *c, const void *ctx, size_t n);
#define BO_CTX(c, value) bo_ctx((c), &(value), sizeof(value))
bo_input *bo_in(bo_case *c, bo_kind kind, sg_dtype dt, int ndim, const int64_t *shape);
/* bo_in of BO_UNIFORM in [lo, hi) with the given seed. */
bo_input *bo_uniform(bo_case *c, uint64_t seed, sg_dtype dt, double lo, double hi, int ndim,
                     const int64_t *shape);
void bo_slots(bo_case *c, int n, const bo_slot *slots);
#define BO_SLOTS(c, ...) \
  bo_slots((c), (int)(sizeof((bo_slot[]){__VA_ARGS__}) / sizeof(bo_slot)), (bo_slot[]){__VA_ARGS__})
int bo_count(void);
bo_case *bo_get(int i);
void bo_free_all(void);
/* The CPU tensor of input k of c (new reference; NULL for BO_ABSENT). */
sg_tensor *bo_build_input(const bo_case *c, int k);
double bo_tol_for(sg_dtype dt); /* 1e-11 (float64) or 3e-5 */

/* Deterministic data helpers shared by the case files. */
sg_tensor *bo_tie_data(uint64_t seed, sg_dtype dt, int levels, bool nan, int ndim,
                       const int64_t *shape);
sg_tensor *bo_rand_index(uint64_t seed, int64_t hi, int ndim, const int64_t *shape);
/* The tensors flattened and concatenated (several outputs of one op as one
 * result); consumes its arguments, NULL ones are skipped. */
sg_tensor *bo_cat_flat(int n, sg_tensor **ts);

/* ---- the register functions, one per group of families ---- */
void bo_register_elementwise(void); /* elementwise, sum, reduce, copy, fill */
void bo_register_nn(void);          /* blas, conv, norm, linalg, optim */
void bo_register_ops(void);         /* pool, resample, softmax, loss, index, sort, sparse */
void bo_register_rng(void);         /* rng */

#endif
