/* Helpers shared by engine files; not part of the public API. */
#ifndef SG_INTERNAL_TENSOR_H
#define SG_INTERNAL_TENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "sgen/tensor.h"

/* Contiguous row-major strides for shape. */
void sg_contiguous_strides(const int64_t *shape, int ndim, int64_t *strides);
int64_t sg_shape_numel(const int64_t *shape, int ndim);
/* New tensor struct viewing `base`'s storage with the given geometry (no
 * autograd). */
sg_tensor *sg_alias(const sg_tensor *base, const int64_t *shape, const int64_t *strides,
                    int ndim, int64_t offset);
/* Broadcast shapes a and b into out (PyTorch rules); -1 with error naming op. */
int sg_broadcast_shapes(const char *op, const int64_t *a, int na, const int64_t *b, int nb,
                        int64_t *out, int *nout);
/* Strides of t viewed as broadcast to shape (0 on broadcast dims). */
void sg_broadcast_strides(const sg_tensor *t, const int64_t *shape, int ndim, int64_t *strides);
/* Checks tensor non-NULL, reporting "op: argument `name` is NULL". */
int sg_check_arg(const char *op, const char *name, const sg_tensor *t);
/* Checks two tensors live on the same device. */
int sg_check_same_device(const char *op, const sg_tensor *a, const sg_tensor *b);
/* Checks floating dtype (float32/float64). */
int sg_check_float(const char *op, const char *name, const sg_tensor *t);
/* Contiguous tensor of dtype dt with t's values (retains t if it already is
 * one). Not recorded by autograd: use in kernels' preparation only. */
sg_tensor *sg_as_contiguous_dtype(const sg_tensor *t, sg_dtype dt);
/* A new contiguous tensor of t's shape with t's values, of dtype dt on dev;
 * not recorded by autograd (the differentiable copies call it). */
sg_tensor *sg_copy_to(const sg_tensor *t, sg_dtype dt, sg_device dev);
/* Element i (flat, row-major) of an int64 tensor, exactly (sg_get_flat's
 * double rounds past 2^53); from a device through the backend's copy. */
sg_status sg_get_flat_int64(const sg_tensor *t, int64_t i, int64_t *out);
/* Reduction helpers (ops/sum.c): parse a dim list (ndims == 0: all dims)
 * into a per-dim mask, and compute the result shape. */
int sg_reduce_mask(const char *op, const sg_tensor *x, const int *dims, int ndims, bool *mask);
int sg_reduced_shape(const sg_tensor *x, const bool *mask, bool keepdim, int64_t *shape);
/* Gradient g summed down to `like`'s shape (undoing broadcasting), consuming
 * g; returns g itself when the shapes already match, NULL when g is NULL
 * (ops/elementwise.c). */
sg_tensor *sg_grad_reduce_to(sg_tensor *g, const sg_tensor *like);
/* Failure exit of a two-input backward: releases gi[0], gi[1] (set to NULL)
 * and the saved a, b; returns the last error status (SG_ERR_STATE if none)
 * (ops/elementwise.c). */
sg_status sg_backward_fail2(sg_tensor **gi, sg_tensor *a, sg_tensor *b);

#endif
