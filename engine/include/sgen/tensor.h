/* Tensors: refcounted storage + dtype + shape + strides + offset.
 *
 * Ownership rule: every function returning `sg_tensor *` returns a new
 * reference that the caller must drop with sg_release(). Arguments are
 * borrowed. NULL means failure; sg_last_error() says why.
 * Dimensions are 0-based in C (the Lua bindings convert from 1-based). */
#ifndef SGEN_TENSOR_H
#define SGEN_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sgen/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SG_MAX_DIMS 8

typedef enum sg_dtype {
  SG_FLOAT32 = 0,
  SG_FLOAT64,
  SG_INT64,
  SG_UINT8,
  SG_BOOL,
  SG_DTYPE_COUNT
} sg_dtype;

typedef enum sg_device_type { SG_CPU = 0, SG_CUDA = 1 } sg_device_type;

typedef struct sg_device {
  sg_device_type type;
  int index;
} sg_device;

typedef struct sg_storage {
  int refcount;
  void *data;
  size_t nbytes;
  sg_device device;
  bool owns_data; /* false for storage wrapping caller memory */
  /* Bumped by every in-place write (sg_bump_version): autograd compares it
   * with the value a saved tensor had when saved, as PyTorch's version
   * counter, shared here by all views of the storage. */
  uint64_t version;
} sg_storage;

struct sg_node;

typedef struct sg_tensor {
  int refcount;
  sg_storage *storage;
  sg_dtype dtype;
  int ndim;
  int64_t shape[SG_MAX_DIMS];
  int64_t strides[SG_MAX_DIMS]; /* in elements */
  int64_t offset;               /* in elements */
  /* autograd */
  bool requires_grad;
  struct sg_tensor *grad;   /* accumulated gradient of a leaf, or NULL */
  struct sg_node *grad_fn;  /* node that produced this tensor, or NULL */
  int output_index;         /* which output of grad_fn */
} sg_tensor;

/* ---- dtype / device helpers ---- */
size_t sg_dtype_size(sg_dtype dt);
const char *sg_dtype_name(sg_dtype dt);
/* Returns 0 and sets *out on success, -1 for an unknown name. */
int sg_dtype_from_name(const char *name, sg_dtype *out);
bool sg_dtype_is_float(sg_dtype dt);
/* PyTorch's type promotion for two tensor operands. */
sg_dtype sg_promote_types(sg_dtype a, sg_dtype b);
sg_device sg_cpu_device(void);
bool sg_device_equal(sg_device a, sg_device b);
const char *sg_device_name(sg_device d); /* "cpu", "cuda:0" */

/* Formats a shape as "3x32x32" ("scalar" for 0-dim) into buf. */
const char *sg_shape_str(const sg_tensor *t, char *buf, size_t n);
const char *sg_dims_str(const int64_t *shape, int ndim, char *buf, size_t n);

/* ---- lifetime ---- */
sg_tensor *sg_retain(sg_tensor *t);
void sg_release(sg_tensor *t); /* NULL-safe */
/* Releases n tensors of an array and sets the entries to NULL. */
void sg_release_all(sg_tensor **ts, int n);

/* ---- creation ---- */
sg_tensor *sg_empty(const int64_t *shape, int ndim, sg_dtype dt, sg_device dev);
sg_tensor *sg_zeros(const int64_t *shape, int ndim, sg_dtype dt, sg_device dev);
sg_tensor *sg_full(const int64_t *shape, int ndim, double value, sg_dtype dt, sg_device dev);
sg_tensor *sg_scalar_tensor(double value, sg_dtype dt, sg_device dev); /* 0-dim */
sg_tensor *sg_empty_like(const sg_tensor *t);
sg_tensor *sg_zeros_like(const sg_tensor *t);
sg_tensor *sg_full_like(const sg_tensor *t, double value);
/* Copies `count` elements of dtype dt from host memory into a new tensor. */
sg_tensor *sg_from_data(const void *data, const int64_t *shape, int ndim, sg_dtype dt);
sg_tensor *sg_arange(double start, double end, double step, sg_dtype dt, sg_device dev);
sg_tensor *sg_linspace(double start, double end, int64_t steps, sg_dtype dt, sg_device dev);
sg_tensor *sg_eye(int64_t n, int64_t m, sg_dtype dt, sg_device dev);

/* ---- queries ---- */
int64_t sg_numel(const sg_tensor *t);
bool sg_is_contiguous(const sg_tensor *t);
/* Pointer to the first element (storage data + offset). CPU tensors only. */
void *sg_data_ptr(const sg_tensor *t);
/* Reads element at flat (row-major logical) index as double. */
double sg_get_flat(const sg_tensor *t, int64_t i);
/* Value of a one-element tensor. Errors on other sizes. */
int sg_item(const sg_tensor *t, double *out);
/* Normalizes dim (negative counts from the end) against ndim; -1 on error
 * with a message naming `op`. */
int sg_wrap_dim(const char *op, int64_t dim, int ndim);
bool sg_same_shape(const sg_tensor *a, const sg_tensor *b);

/* ---- views (share storage; differentiable) ---- */
sg_tensor *sg_view(sg_tensor *t, const int64_t *shape, int ndim);    /* -1 inferred */
sg_tensor *sg_reshape(sg_tensor *t, const int64_t *shape, int ndim); /* copies if needed */
sg_tensor *sg_permute(sg_tensor *t, const int *perm, int ndim);
sg_tensor *sg_transpose(sg_tensor *t, int d0, int d1);
sg_tensor *sg_narrow(sg_tensor *t, int dim, int64_t start, int64_t length);
sg_tensor *sg_select(sg_tensor *t, int dim, int64_t index);
sg_tensor *sg_expand(sg_tensor *t, const int64_t *shape, int ndim); /* -1 keeps */
sg_tensor *sg_squeeze(sg_tensor *t, int dim);     /* dim < -ndim.. ; use SG_ALL_DIMS for all */
sg_tensor *sg_unsqueeze(sg_tensor *t, int dim);
sg_tensor *sg_flatten(sg_tensor *t, int start_dim, int end_dim);
#define SG_ALL_DIMS (-1000)

/* ---- copies ---- */
sg_tensor *sg_contiguous(sg_tensor *t);            /* same tensor (retained) if already */
sg_tensor *sg_clone(sg_tensor *t);                 /* differentiable */
sg_tensor *sg_to_dtype(sg_tensor *t, sg_dtype dt); /* differentiable between floats */
sg_tensor *sg_to_device(sg_tensor *t, sg_device dev);
sg_tensor *sg_detach(sg_tensor *t);                /* shares storage, no grad */
/* In place: dst <- src (broadcast, dtype converted). Not recorded by autograd. */
sg_status sg_copy_(sg_tensor *dst, const sg_tensor *src);
/* Marks t's storage as written in place (every in-place writer calls it). */
void sg_bump_version(sg_tensor *t);
sg_status sg_fill_(sg_tensor *t, double value);

#ifdef __cplusplus
}
#endif
#endif
