/* Kernel table of the resample family (see backend.h): interpolation and
 * reflect / replicate padding (ops/resample.c). All tensors are contiguous;
 * images are "planes" (N * C of them) of H x W elements. Backward kernels
 * are the exact adjoints of their forward kernels (they overwrite their
 * output, zeroing it first). */
#ifndef SG_INTERNAL_KERNELS_RESAMPLE_H
#define SG_INTERNAL_KERNELS_RESAMPLE_H

#include "sgen/ops_nn.h"
#include "sgen/tensor.h"

typedef struct sg_interp_geom {
  int64_t planes, ih, iw, oh, ow;
  sg_interp_mode mode;
  bool align_corners;
  double scale_h, scale_w; /* > 0: user scale factors (coordinates use 1/scale) */
} sg_interp_geom;

/* Reflect / replicate padding of the last three dims of x viewed as
 * [planes, in[0], in[1], in[2]] (dims that are not padded have size 1 and
 * zero pads). out[k] = in[k] + before[k] + after[k]; pads may be negative
 * (cropping). */
typedef struct sg_pad_geom {
  int64_t planes;
  int64_t in[3], out[3], before[3];
  sg_pad_mode mode; /* SG_PAD_REFLECT or SG_PAD_REPLICATE */
} sg_pad_geom;

struct sg_resample_kernels {
  sg_status (*interpolate)(sg_tensor *out, const sg_tensor *x, const sg_interp_geom *g);
  sg_status (*interpolate_backward)(sg_tensor *dx, const sg_tensor *dy, const sg_interp_geom *g);
  /* any dtype forward; float backward */
  sg_status (*pad)(sg_tensor *out, const sg_tensor *x, const sg_pad_geom *g);
  sg_status (*pad_backward)(sg_tensor *dx, const sg_tensor *dy, const sg_pad_geom *g);
};

extern const struct sg_resample_kernels sg_cpu_resample_kernels;

#endif
