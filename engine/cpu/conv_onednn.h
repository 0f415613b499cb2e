/* oneDNN float32 convolutions (conv_onednn.c), the default CPU path where
 * the build found oneDNN; conv_cpu.c's im2col + GEMM path is the reference
 * and serves everything oneDNN declines. */
#ifndef SGEN_CPU_CONV_ONEDNN_H
#define SGEN_CPU_CONV_ONEDNN_H

#include <stdbool.h>

#include "internal/kernels_conv.h"
#include "sgen/tensor.h"

/* Whether oneDNN should try this call: built with oneDNN, float32, a
 * non-empty geometry, and SGEN_CONV not set to "im2col". */
bool sg_onednn_conv_wanted(sg_dtype dt, const sg_conv_geom *g);

/* Each returns SG_OK with *done = true when oneDNN computed the result,
 * SG_OK with *done = false when oneDNN has no implementation for the
 * geometry (the caller then takes the im2col path), or an error (out of
 * memory, a failed execution). Pointers are contiguous float32 data laid
 * out as in kernels_conv.h. */
sg_status sg_onednn_conv2d(float *out, const float *x, const float *w, const float *b,
                           const sg_conv_geom *g, bool *done);
sg_status sg_onednn_conv_transpose2d(float *out, const float *x, const float *w, const float *b,
                                     const sg_conv_geom *g, bool *done);
sg_status sg_onednn_conv2d_weight(float *gw, const float *x, const float *go,
                                  const sg_conv_geom *g, bool *done);

#endif
