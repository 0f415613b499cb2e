/* The random generator: global state (seed, offset) and the random tensor
 * creation ops. The stream is counter-based Philox4x32-10; a call takes the
 * next nblocks blocks of the stream (sg_rng_reserve) and hands the seed and
 * first block number to the device kernel, so element i of the result is a
 * pure function of (seed, offset, i). docs/rng.md gives the exact layout. */
#include <math.h>
#include <pthread.h>

#include "internal/backend.h"
#include "internal/kernels_rng.h"
#include "internal/tensor_internal.h"
#include "sgen/rng.h"

/* Same default as PyTorch's default generator. */
#define SG_RNG_DEFAULT_SEED UINT64_C(67280421310721)

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t g_seed = SG_RNG_DEFAULT_SEED;
static uint64_t g_offset = 0; /* next unused Philox block */

void sg_manual_seed(uint64_t seed) {
  pthread_mutex_lock(&g_lock);
  g_seed = seed;
  g_offset = 0;
  pthread_mutex_unlock(&g_lock);
}

uint64_t sg_initial_seed(void) {
  pthread_mutex_lock(&g_lock);
  uint64_t s = g_seed;
  pthread_mutex_unlock(&g_lock);
  return s;
}

sg_rng_state sg_rng_get_state(void) {
  pthread_mutex_lock(&g_lock);
  sg_rng_state s = {g_seed, g_offset};
  pthread_mutex_unlock(&g_lock);
  return s;
}

void sg_rng_set_state(sg_rng_state s) {
  pthread_mutex_lock(&g_lock);
  g_seed = s.seed;
  g_offset = s.offset;
  pthread_mutex_unlock(&g_lock);
}

void sg_rng_reserve(uint64_t nblocks, uint64_t *seed, uint64_t *offset) {
  pthread_mutex_lock(&g_lock);
  *seed = g_seed;
  *offset = g_offset;
  g_offset += nblocks;
  pthread_mutex_unlock(&g_lock);
}

/* ---------------- helpers ---------------- */

static uint64_t blocks_for(int64_t n, int per_block) {
  return (uint64_t)((n + per_block - 1) / per_block);
}

/* Checks the requested shape, dtype and device, and allocates the output.
 * On success *be is the device's backend (with an rng table). */
static sg_tensor *new_output(const char *op, const int64_t *shape, int ndim, sg_dtype dt,
                             sg_device dev, const sg_backend **be) {
  if (ndim < 0 || ndim > SG_MAX_DIMS) {
    sg_error(SG_ERR_ARG, "%s: %d dims requested, expected 0 to %d", op, ndim, SG_MAX_DIMS);
    return NULL;
  }
  if (ndim > 0 && !shape) {
    sg_error(SG_ERR_ARG, "%s: shape is NULL but %d dims were requested", op, ndim);
    return NULL;
  }
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) {
      char buf[160];
      sg_error(SG_ERR_ARG, "%s: negative size %lld in dim %d of shape %s, expected sizes >= 0",
               op, (long long)shape[i], i, sg_dims_str(shape, ndim, buf, sizeof buf));
      return NULL;
    }
  }
  if ((unsigned)dt >= SG_DTYPE_COUNT) {
    sg_error(SG_ERR_ARG, "%s: invalid dtype %d", op, (int)dt);
    return NULL;
  }
  const sg_backend *b = sg_backend_for(dev);
  if (!b) {
    sg_error_context("%s", op);
    return NULL;
  }
  if (!b->rng) {
    sg_error(SG_ERR_UNSUPPORTED, "%s: not implemented on %s", op, sg_device_name(dev));
    return NULL;
  }
  sg_tensor *out = sg_empty(shape, ndim, dt, dev);
  if (!out) {
    sg_error_context("%s", op);
    return NULL;
  }
  *be = b;
  return out;
}

/* A kernel slot the device's backend leaves NULL. */
static sg_tensor *not_implemented(const char *op, sg_tensor *out) {
  sg_error(SG_ERR_UNSUPPORTED, "%s: not implemented on %s", op,
           sg_device_name(out->storage->device));
  sg_release(out);
  return NULL;
}

static sg_tensor *finish(const char *op, sg_tensor *out, sg_status st) {
  if (st != SG_OK) {
    sg_error_context("%s", op);
    sg_release(out);
    return NULL;
  }
  return out;
}

static int check_float_dtype(const char *op, sg_dtype dt) {
  if (dt == SG_FLOAT32 || dt == SG_FLOAT64) return 0;
  const char *name = (unsigned)dt < SG_DTYPE_COUNT ? sg_dtype_name(dt) : "invalid";
  return sg_error(SG_ERR_ARG, "%s: dtype %s is not supported, expected float32 or float64", op,
                  name);
}

/* ---------------- rand / randn / normal ---------------- */

sg_tensor *sg_rand(const int64_t *shape, int ndim, sg_dtype dt, sg_device dev) {
  const sg_backend *be = NULL;
  if (check_float_dtype("rand", dt)) return NULL;
  sg_tensor *out = new_output("rand", shape, ndim, dt, dev, &be);
  if (!out) return NULL;
  if (!be->rng->uniform) return not_implemented("rand", out);
  uint64_t seed, offset;
  sg_rng_reserve(blocks_for(sg_numel(out), dt == SG_FLOAT32 ? 4 : 2), &seed, &offset);
  return finish("rand", out, be->rng->uniform(out, seed, offset));
}

static sg_tensor *normal_impl(const char *op, double mean, double std, const int64_t *shape,
                              int ndim, sg_dtype dt, sg_device dev) {
  const sg_backend *be = NULL;
  if (check_float_dtype(op, dt)) return NULL;
  if (!isfinite(mean)) {
    sg_error(SG_ERR_ARG, "%s: mean must be finite, got %g", op, mean);
    return NULL;
  }
  if (!(isfinite(std) && std >= 0)) {
    sg_error(SG_ERR_ARG, "%s: std must be finite and >= 0, got %g", op, std);
    return NULL;
  }
  sg_tensor *out = new_output(op, shape, ndim, dt, dev, &be);
  if (!out) return NULL;
  if (!be->rng->normal) return not_implemented(op, out);
  uint64_t seed, offset;
  sg_rng_reserve(blocks_for(sg_numel(out), dt == SG_FLOAT32 ? 4 : 2), &seed, &offset);
  return finish(op, out, be->rng->normal(out, mean, std, seed, offset));
}

sg_tensor *sg_randn(const int64_t *shape, int ndim, sg_dtype dt, sg_device dev) {
  return normal_impl("randn", 0.0, 1.0, shape, ndim, dt, dev);
}

sg_tensor *sg_normal(double mean, double std, const int64_t *shape, int ndim, sg_dtype dt,
                     sg_device dev) {
  return normal_impl("normal", mean, std, shape, ndim, dt, dev);
}

/* ---------------- randint ---------------- */

sg_tensor *sg_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, sg_dtype dt,
                      sg_device dev) {
  if (high <= low) {
    sg_error(SG_ERR_ARG, "randint: high (%lld) must be greater than low (%lld)",
             (long long)high, (long long)low);
    return NULL;
  }
  /* every value in [low, high - 1] must be exact in the dtype */
  int64_t lo = INT64_MIN, hi = INT64_MAX;
  switch (dt) {
    case SG_INT64: break;
    case SG_FLOAT64: lo = -(INT64_C(1) << 53); hi = INT64_C(1) << 53; break;
    case SG_FLOAT32: lo = -(INT64_C(1) << 24); hi = INT64_C(1) << 24; break;
    case SG_UINT8: lo = 0; hi = 255; break;
    case SG_BOOL: lo = 0; hi = 1; break;
    default:
      sg_error(SG_ERR_ARG, "randint: invalid dtype %d", (int)dt);
      return NULL;
  }
  if (low < lo || high - 1 > hi) {
    sg_error(SG_ERR_ARG,
             "randint: range [%lld, %lld) does not fit dtype %s, expected values in "
             "[%lld, %lld]",
             (long long)low, (long long)high, sg_dtype_name(dt), (long long)lo, (long long)hi);
    return NULL;
  }
  const sg_backend *be = NULL;
  sg_tensor *out = new_output("randint", shape, ndim, dt, dev, &be);
  if (!out) return NULL;
  if (!be->rng->randint) return not_implemented("randint", out);
  uint64_t range = (uint64_t)high - (uint64_t)low;
  uint64_t seed, offset;
  sg_rng_reserve(blocks_for(sg_numel(out), 2), &seed, &offset);
  return finish("randint", out, be->rng->randint(out, low, range, seed, offset));
}

/* ---------------- bernoulli ---------------- */

sg_tensor *sg_bernoulli(sg_tensor *p) {
  if (sg_check_arg("bernoulli", "p", p)) return NULL;
  if (!sg_dtype_is_float(p->dtype)) {
    char buf[128];
    sg_error(SG_ERR_ARG, "bernoulli: p (%s) has dtype %s, expected float32 or float64",
             sg_shape_str(p, buf, sizeof buf), sg_dtype_name(p->dtype));
    return NULL;
  }
  const sg_backend *be = sg_backend_checked("bernoulli", p, offsetof(sg_backend, rng));
  if (!be) return NULL;
  if (!be->rng->bernoulli || !be->rng->check_prob) {
    sg_error(SG_ERR_UNSUPPORTED, "bernoulli: not implemented on %s",
             sg_device_name(p->storage->device));
    return NULL;
  }
  sg_tensor *c = sg_as_contiguous_dtype(p, p->dtype);
  if (!c) return NULL;
  int64_t bad = -1;
  double badv = 0;
  if (be->rng->check_prob(c, &bad, &badv) != SG_OK) {
    sg_error_context("bernoulli");
    sg_release(c);
    return NULL;
  }
  if (bad >= 0) {
    char buf[128];
    sg_error(SG_ERR_ARG,
             "bernoulli: p (%s) must hold probabilities in [0, 1], got %g at flat index %lld",
             sg_shape_str(p, buf, sizeof buf), badv, (long long)bad);
    sg_release(c);
    return NULL;
  }
  sg_tensor *out = sg_empty(c->shape, c->ndim, c->dtype, c->storage->device);
  if (!out) {
    sg_release(c);
    return NULL;
  }
  uint64_t seed, offset;
  sg_rng_reserve(blocks_for(sg_numel(out), c->dtype == SG_FLOAT32 ? 4 : 2), &seed, &offset);
  sg_status st = be->rng->bernoulli(out, c, seed, offset);
  sg_release(c);
  return finish("bernoulli", out, st);
}

sg_tensor *sg_bernoulli_scalar(double p, const int64_t *shape, int ndim, sg_dtype dt,
                               sg_device dev) {
  if (!(p >= 0.0 && p <= 1.0)) {
    sg_error(SG_ERR_ARG, "bernoulli: p must be a probability in [0, 1], got %g", p);
    return NULL;
  }
  const sg_backend *be = NULL;
  sg_tensor *out = new_output("bernoulli", shape, ndim, dt, dev, &be);
  if (!out) return NULL;
  if (!be->rng->bernoulli_scalar) return not_implemented("bernoulli", out);
  uint64_t seed, offset;
  sg_rng_reserve(blocks_for(sg_numel(out), 4), &seed, &offset);
  return finish("bernoulli", out, be->rng->bernoulli_scalar(out, p, seed, offset));
}

/* ---------------- randperm ---------------- */

sg_tensor *sg_randperm(int64_t n, sg_device dev) {
  if (n < 0) {
    sg_error(SG_ERR_ARG, "randperm: n must be >= 0, got %lld", (long long)n);
    return NULL;
  }
  const sg_backend *be = NULL;
  sg_tensor *out = new_output("randperm", &n, 1, SG_INT64, dev, &be);
  if (!out) return NULL;
  if (!be->rng->randperm) return not_implemented("randperm", out);
  uint64_t seed, offset;
  sg_rng_reserve(blocks_for(n, 2), &seed, &offset);
  return finish("randperm", out, be->rng->randperm(out, seed, offset));
}
