/* CUDA kernels of the norm family (internal/kernels_norm.h).
 *
 * The slots are the building blocks of batch, instance and layer norm
 * (group moments, normalize with given statistics, the fused first-order
 * backward); running statistics and their unbiased-variance update are done
 * by the op layer (ops/norm.c) with elementwise ops. cuDNN's batch-norm
 * calls fuse those steps differently (running-average update inside, its
 * own saved inverse std, float accumulation), so they do not fit these
 * contracts: the slots are plain CUDA kernels (norm_kernels_cuda.cu) that
 * follow norm_cpu.c's arithmetic (two-pass statistics accumulated in
 * double). */
#include "cuda/cuda_internal.h"
#include "cuda/nn_kernels_cuda.h"
#include "internal/kernels_norm.h"

static const void *opt_ptr(const sg_tensor *t) { return t ? sg_data_ptr(t) : NULL; }

static sg_status cuda_moments(sg_tensor *mean, sg_tensor *var, const sg_tensor *x, int64_t A,
                              int64_t G, int64_t B) {
  if (A * B == 0 || G == 0) return sg_error(SG_ERR_ARG, "norm moments: empty groups");
  return sg_cuda_norm_moments(x->dtype, sg_data_ptr(mean), sg_data_ptr(var), sg_data_ptr(x), A,
                              G, B);
}

static sg_status cuda_normalize(sg_tensor *y, const sg_tensor *x, int64_t A, int64_t G,
                                int64_t B, const sg_tensor *mean, const sg_tensor *invstd,
                                const sg_tensor *w, const sg_tensor *b, int64_t C) {
  if (C <= 0) C = G;
  return sg_cuda_norm_normalize(x->dtype, sg_data_ptr(y), sg_data_ptr(x), A, G, B,
                                sg_data_ptr(mean), sg_data_ptr(invstd), opt_ptr(w), opt_ptr(b), C);
}

static sg_status cuda_normalize_backward(sg_tensor *dx, sg_tensor *sum_dy, sg_tensor *sum_dy_xhat,
                                         const sg_tensor *dy, const sg_tensor *x, int64_t A,
                                         int64_t G, int64_t B, const sg_tensor *mean,
                                         const sg_tensor *invstd, const sg_tensor *w, int64_t C) {
  if (A * B == 0 || G == 0) return sg_error(SG_ERR_ARG, "norm backward: empty groups");
  if (C <= 0) C = G;
  return sg_cuda_norm_backward(x->dtype, dx ? sg_data_ptr(dx) : NULL, sg_data_ptr(sum_dy),
                               sg_data_ptr(sum_dy_xhat), sg_data_ptr(dy), sg_data_ptr(x), A, G, B,
                               sg_data_ptr(mean), sg_data_ptr(invstd), opt_ptr(w), C);
}

static sg_status cuda_layer_norm(sg_tensor *y, sg_tensor *mean, sg_tensor *invstd,
                                 const sg_tensor *x, int64_t R, int64_t D, const sg_tensor *w,
                                 const sg_tensor *b, double eps) {
  if (R == 0) return SG_OK;
  if (D == 0) return sg_error(SG_ERR_ARG, "layer_norm: empty rows");
  return sg_cuda_layer_norm(x->dtype, sg_data_ptr(y), sg_data_ptr(mean), sg_data_ptr(invstd),
                            sg_data_ptr(x), R, D, opt_ptr(w), opt_ptr(b), eps);
}

static sg_status cuda_layer_norm_backward(sg_tensor *dx, sg_tensor *dw, sg_tensor *db,
                                          const sg_tensor *dy, const sg_tensor *x,
                                          const sg_tensor *mean, const sg_tensor *invstd,
                                          const sg_tensor *w, int64_t R, int64_t D) {
  if (D == 0) return sg_error(SG_ERR_ARG, "layer_norm backward: empty rows");
  if ((dw && dw->dtype != x->dtype) || (db && db->dtype != x->dtype))
    return sg_error(SG_ERR_ARG, "layer_norm backward: dw and db must have the dtype of x");
  return sg_cuda_layer_norm_backward(x->dtype, dx ? sg_data_ptr(dx) : NULL,
                                     dw ? sg_data_ptr(dw) : NULL, db ? sg_data_ptr(db) : NULL,
                                     sg_data_ptr(dy), sg_data_ptr(x), sg_data_ptr(mean),
                                     sg_data_ptr(invstd), opt_ptr(w), R, D);
}

const struct sg_norm_kernels sg_cuda_norm_kernels = {
    .moments = cuda_moments,
    .normalize = cuda_normalize,
    .normalize_backward = cuda_normalize_backward,
    .layer_norm = cuda_layer_norm,
    .layer_norm_backward = cuda_layer_norm_backward,
};
