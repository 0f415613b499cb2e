/* Kernel table of the pool family (see backend.h): max / avg / adaptive
 * pooling. All tensors are contiguous; images are "planes" (N * C of them)
 * of H x W elements. Backward kernels are the exact adjoints of their
 * forward kernels (they overwrite their output, zeroing it first). */
#ifndef SG_INTERNAL_KERNELS_POOL_H
#define SG_INTERNAL_KERNELS_POOL_H

#include "sgen/ops_nn.h"
#include "sgen/tensor.h"

typedef struct sg_pool2d_geom {
  int64_t planes, ih, iw, oh, ow;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw; /* kernel, stride, padding, dilation */
  bool count_include_pad;                 /* avg pool */
} sg_pool2d_geom;

struct sg_pool_kernels {
  /* out and indices (int64, flat index into each input plane) of max pooling;
   * NaN wins, ties keep the first, as PyTorch. */
  sg_status (*max_pool2d)(sg_tensor *out, sg_tensor *indices, const sg_tensor *x,
                          const sg_pool2d_geom *g);
  /* dst (planes x dst_plane) = 0, then dst[p, idx[p, k]] += src[p, k]. */
  sg_status (*index_scatter_add)(sg_tensor *dst, const sg_tensor *src, const sg_tensor *idx,
                                 int64_t planes);
  /* dst[p, k] = src[p, idx[p, k]] (the adjoint of index_scatter_add). */
  sg_status (*index_gather)(sg_tensor *dst, const sg_tensor *src, const sg_tensor *idx,
                            int64_t planes);
  sg_status (*avg_pool2d)(sg_tensor *out, const sg_tensor *x, const sg_pool2d_geom *g);
  sg_status (*avg_pool2d_backward)(sg_tensor *dx, const sg_tensor *dy, const sg_pool2d_geom *g);
  /* adaptive pools use planes, ih, iw, oh, ow of the geometry */
  sg_status (*adaptive_avg_pool2d)(sg_tensor *out, const sg_tensor *x, const sg_pool2d_geom *g);
  sg_status (*adaptive_avg_pool2d_backward)(sg_tensor *dx, const sg_tensor *dy,
                                            const sg_pool2d_geom *g);
};

extern const struct sg_pool_kernels sg_cpu_pool_kernels;

#endif
