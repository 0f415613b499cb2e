/* Kernel table of the conv family (see backend.h). */
#ifndef SG_INTERNAL_KERNELS_CONV_H
#define SG_INTERNAL_KERNELS_CONV_H

#include "sgen/tensor.h"

/* Geometry of a 2-D convolution, always in conv2d terms: the image side
 * (conv2d's input, conv_transpose2d's output) is N x C x H x W, the column
 * side (conv2d's output, conv_transpose2d's input) is N x K x Ho x Wo, and
 * the weight is K x C/groups x kh x kw. For unfold/fold, groups = 1 and the
 * column side is N x (C*kh*kw) x (Ho*Wo). */
typedef struct sg_conv_geom {
  int64_t N, C, H, W;
  int64_t K, Ho, Wo;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t groups;
} sg_conv_geom;

/* All tensors contiguous, one float dtype (float32 or float64); outputs
 * are fully overwritten; b may be NULL. */
struct sg_conv_kernels {
  /* out (N x K x Ho x Wo) = conv2d(x (N x C x H x W), w, b (K)) */
  sg_status (*conv2d)(sg_tensor *out, const sg_tensor *x, const sg_tensor *w, const sg_tensor *b,
                      const sg_conv_geom *g);
  /* out (N x C x H x W) = conv_transpose2d(x (N x K x Ho x Wo), w, b (C)): the
   * adjoint of conv2d's input map. */
  sg_status (*conv_transpose2d)(sg_tensor *out, const sg_tensor *x, const sg_tensor *w,
                                const sg_tensor *b, const sg_conv_geom *g);
  /* gw (K x C/groups x kh x kw) = gradient of conv2d w.r.t. its weight for
   * input x (N x C x H x W) and output gradient go (N x K x Ho x Wo). */
  sg_status (*conv2d_weight)(sg_tensor *gw, const sg_tensor *x, const sg_tensor *go,
                             const sg_conv_geom *g);
  /* cols (N x C*kh*kw x Ho*Wo) = unfold(x (N x C x H x W)) */
  sg_status (*unfold)(sg_tensor *cols, const sg_tensor *x, const sg_conv_geom *g);
  /* out (N x C x H x W) = fold(cols): sums overlapping patches. */
  sg_status (*fold)(sg_tensor *out, const sg_tensor *cols, const sg_conv_geom *g);
};

extern const struct sg_conv_kernels sg_cpu_conv_kernels;

#endif
