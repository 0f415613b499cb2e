/* Random numbers: counter-based Philox4x32-10 (see docs/rng.md for the exact
 * stream, so the CUDA backend reproduces it). The generator is the engine's
 * one piece of global mutable state besides the allocator. */
#ifndef SGEN_RNG_H
#define SGEN_RNG_H

#include "sgen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

void sg_manual_seed(uint64_t seed);
uint64_t sg_initial_seed(void);
/* Generator state (seed, offset) for saving and restoring a stream. */
typedef struct sg_rng_state { uint64_t seed; uint64_t offset; } sg_rng_state;
sg_rng_state sg_rng_get_state(void);
void sg_rng_set_state(sg_rng_state s);

sg_tensor *sg_rand(const int64_t *shape, int ndim, sg_dtype dt, sg_device dev);   /* U[0,1) */
sg_tensor *sg_randn(const int64_t *shape, int ndim, sg_dtype dt, sg_device dev);  /* N(0,1) */
sg_tensor *sg_normal(double mean, double std, const int64_t *shape, int ndim, sg_dtype dt,
                     sg_device dev);
/* Uniform integers in [low, high). */
sg_tensor *sg_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, sg_dtype dt,
                      sg_device dev);
/* Bernoulli(p) per element of p (float tensor), result has p's dtype. */
sg_tensor *sg_bernoulli(sg_tensor *p);
sg_tensor *sg_bernoulli_scalar(double p, const int64_t *shape, int ndim, sg_dtype dt,
                               sg_device dev);
/* A random permutation of 0..n-1 (int64). */
sg_tensor *sg_randperm(int64_t n, sg_device dev);

#ifdef __cplusplus
}
#endif
#endif
