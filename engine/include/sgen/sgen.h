/* libsgen: everything. */
#ifndef SGEN_SGEN_H
#define SGEN_SGEN_H

#include "sgen/error.h"
#include "sgen/tensor.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"
#include "sgen/rng.h"
#include "sgen/io.h"

#define SGEN_VERSION "0.1.0"

/* Threads used by CPU kernels and BLAS (one OpenMP pool for both). */
void sg_set_num_threads(int n);
int sg_get_num_threads(void);
/* Build description: BLAS, OpenMP, CUDA. */
const char *sg_build_info(void);

#endif
