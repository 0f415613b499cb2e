/* Neural-network ops: convolution, normalization, pooling, resampling,
 * padding, softmax and losses. Images are N x C x H x W. */
#ifndef SGEN_OPS_NN_H
#define SGEN_OPS_NN_H

#include "sgen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sg_reduction { SG_REDUCTION_MEAN = 0, SG_REDUCTION_SUM, SG_REDUCTION_NONE } sg_reduction;

/* ---- convolution (im2col + GEMM on the CPU) ---- */
typedef struct sg_conv_opts {
  int stride[2];          /* 0 means 1 */
  int padding[2];
  int dilation[2];        /* 0 means 1 */
  int output_padding[2];  /* transposed conv only */
  int groups;             /* 0 means 1 */
} sg_conv_opts;
/* x: N x Cin x H x W, w: Cout x Cin/groups x kh x kw, b: Cout or NULL. */
sg_tensor *sg_conv2d(sg_tensor *x, sg_tensor *w, sg_tensor *b, const sg_conv_opts *o);
/* x: N x Cin x H x W, w: Cin x Cout/groups x kh x kw, b: Cout or NULL. */
sg_tensor *sg_conv_transpose2d(sg_tensor *x, sg_tensor *w, sg_tensor *b, const sg_conv_opts *o);
/* Gradient of conv2d w.r.t. its weight, as a differentiable op of (x, grad_out). */
sg_tensor *sg_conv2d_weight(sg_tensor *x, sg_tensor *grad_out, const int64_t *weight_shape,
                            const sg_conv_opts *o);
/* unfold: N x C x H x W -> N x (C*kh*kw) x L; fold is its adjoint. */
typedef struct sg_unfold_opts {
  int kernel[2];
  int dilation[2];  /* 0 means 1 */
  int padding[2];
  int stride[2];    /* 0 means 1 */
} sg_unfold_opts;
sg_tensor *sg_unfold(sg_tensor *x, const sg_unfold_opts *o);
sg_tensor *sg_fold(sg_tensor *cols, int64_t out_h, int64_t out_w, const sg_unfold_opts *o);

/* ---- normalization ---- */
/* Training mode uses batch statistics and, when running_mean/var are given,
 * updates them in place: r = (1 - momentum) r + momentum * stat (unbiased var). */
sg_tensor *sg_batch_norm(sg_tensor *x, sg_tensor *running_mean, sg_tensor *running_var,
                         sg_tensor *weight, sg_tensor *bias, bool training, double momentum,
                         double eps);
/* batch_norm followed by an activation, in one pass over the data forward
 * and backward in training mode (first-order gradients). The output is bit
 * for bit that of sg_batch_norm then sg_relu / sg_leaky_relu, the gradients
 * agree to rounding (their sums may be vectorized differently). slope:
 * leaky_relu's negative slope, >= 0. Eval mode, a slope < 0 and backends
 * without the fused kernels run the two ops in turn. */
typedef enum { SG_ACT_NONE, SG_ACT_RELU, SG_ACT_LEAKY_RELU } sg_activation;
sg_tensor *sg_batch_norm_act(sg_tensor *x, sg_tensor *running_mean, sg_tensor *running_var,
                             sg_tensor *weight, sg_tensor *bias, bool training, double momentum,
                             double eps, sg_activation act, double slope);
sg_tensor *sg_instance_norm(sg_tensor *x, sg_tensor *running_mean, sg_tensor *running_var,
                            sg_tensor *weight, sg_tensor *bias, bool use_input_stats,
                            double momentum, double eps);
/* Normalizes over the last `nnorm` dims, whose sizes must equal normalized_shape. */
sg_tensor *sg_layer_norm(sg_tensor *x, const int64_t *normalized_shape, int nnorm,
                         sg_tensor *weight, sg_tensor *bias, double eps);

/* ---- pooling ---- */
typedef struct sg_pool_opts {
  int kernel[2];
  int stride[2];    /* 0 means kernel */
  int padding[2];
  int dilation[2];  /* 0 means 1 (max pool only) */
  bool ceil_mode;
  bool count_include_pad; /* avg pool; PyTorch's default is true */
} sg_pool_opts;
/* indices (optional out): int64 flat index into each H x W plane, 0-based. */
sg_tensor *sg_max_pool2d(sg_tensor *x, const sg_pool_opts *o, sg_tensor **indices);
sg_tensor *sg_avg_pool2d(sg_tensor *x, const sg_pool_opts *o);
sg_tensor *sg_adaptive_avg_pool2d(sg_tensor *x, int64_t out_h, int64_t out_w);

/* ---- resampling and padding ---- */
typedef enum sg_interp_mode { SG_INTERP_NEAREST = 0, SG_INTERP_BILINEAR } sg_interp_mode;
/* scale_h/scale_w > 0: the user gave scale factors (PyTorch then maps
 * coordinates with 1/scale rather than in/out size); 0: derived from sizes. */
sg_tensor *sg_interpolate(sg_tensor *x, int64_t out_h, int64_t out_w, sg_interp_mode mode,
                          bool align_corners, double scale_h, double scale_w);
typedef enum sg_pad_mode { SG_PAD_CONSTANT = 0, SG_PAD_REFLECT, SG_PAD_REPLICATE } sg_pad_mode;
/* pads: PyTorch's order, last dim first: {left, right, top, bottom, ...};
 * npads even, at most 2 * ndim. Negative pads crop (constant mode). */
sg_tensor *sg_pad(sg_tensor *x, const int64_t *pads, int npads, sg_pad_mode mode, double value);
sg_tensor *sg_pixel_shuffle(sg_tensor *x, int upscale);

/* ---- softmax and losses ---- */
sg_tensor *sg_softmax(sg_tensor *x, int dim);
sg_tensor *sg_log_softmax(sg_tensor *x, int dim);
sg_tensor *sg_dropout(sg_tensor *x, double p, bool training);
sg_tensor *sg_mse_loss(sg_tensor *input, sg_tensor *target, sg_reduction r);
sg_tensor *sg_l1_loss(sg_tensor *input, sg_tensor *target, sg_reduction r);
/* pos_weight optional (broadcast over the last dim, as PyTorch). */
sg_tensor *sg_bce_with_logits(sg_tensor *input, sg_tensor *target, sg_tensor *weight,
                              sg_tensor *pos_weight, sg_reduction r);
/* logits N x C (or N x C x d...), target int64 class indices (0-based) of
 * shape N (x d...); weight optional (C); entries equal to ignore_index skip. */
sg_tensor *sg_cross_entropy(sg_tensor *logits, sg_tensor *target, sg_tensor *weight,
                            sg_reduction r, int64_t ignore_index, double label_smoothing);
sg_tensor *sg_nll_loss(sg_tensor *logp, sg_tensor *target, sg_tensor *weight, sg_reduction r,
                       int64_t ignore_index);
/* The same with class labels counted from label_base, 0 (as above) or 1
 * (what the Lua bindings pass): target and ignore_index are in that
 * numbering, and so are the label and position an out-of-range error
 * names. */
sg_tensor *sg_cross_entropy_ex(sg_tensor *logits, sg_tensor *target, sg_tensor *weight,
                               sg_reduction r, int64_t ignore_index, double label_smoothing,
                               int64_t label_base);
sg_tensor *sg_nll_loss_ex(sg_tensor *logp, sg_tensor *target, sg_tensor *weight, sg_reduction r,
                          int64_t ignore_index, int64_t label_base);

#ifdef __cplusplus
}
#endif
#endif
