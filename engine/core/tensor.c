/* Tensor and storage lifetime, creation and queries. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal/backend.h"
#include "internal/tensor_internal.h"
#include "sgen/node.h"

/* Refuse absurd sizes before asking the allocator: a corrupt header must
 * give an error, not an attempt to allocate exabytes. */
#define SG_MAX_NUMEL (INT64_C(1) << 46)

static sg_storage *storage_new(size_t nbytes, sg_device dev) {
  const sg_backend *be = sg_backend_for(dev);
  if (!be) return NULL;
  sg_storage *s = calloc(1, sizeof *s);
  if (!s) {
    sg_error(SG_ERR_MEM, "out of memory allocating a storage header");
    return NULL;
  }
  s->refcount = 1;
  s->nbytes = nbytes;
  s->device = dev;
  s->owns_data = true;
  s->data = be->alloc(nbytes ? nbytes : 1);
  if (!s->data) {
    free(s);
    /* Device backends record their own message (the CUDA allocator names
     * the request and what it holds); the host allocator records none. */
    if (dev.type == SG_CPU)
      sg_error(SG_ERR_MEM, "out of memory allocating %zu bytes on %s", nbytes,
               sg_device_name(dev));
    return NULL;
  }
  return s;
}

static void storage_release(sg_storage *s) {
  if (!s || --s->refcount > 0) return;
  if (s->owns_data) {
    const sg_backend *be = sg_backend_for(s->device);
    if (be) be->free(s->data, s->nbytes ? s->nbytes : 1);
  }
  free(s);
}

sg_tensor *sg_retain(sg_tensor *t) {
  if (t) t->refcount++;
  return t;
}

void sg_release(sg_tensor *t) {
  if (!t) return;
  SG_ASSERT(t->refcount > 0);
  if (--t->refcount > 0) return;
  storage_release(t->storage);
  sg_release(t->grad);
  if (t->grad_fn) sg_node_release(t->grad_fn);
  free(t);
}

void sg_release_all(sg_tensor **ts, int n) {
  for (int i = 0; i < n; i++) {
    sg_release(ts[i]);
    ts[i] = NULL;
  }
}

void sg_contiguous_strides(const int64_t *shape, int ndim, int64_t *strides) {
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i] > 0 ? shape[i] : 1;
  }
}

int64_t sg_shape_numel(const int64_t *shape, int ndim) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  return n;
}

static int check_shape(const char *op, const int64_t *shape, int ndim) {
  if (ndim < 0 || ndim > SG_MAX_DIMS)
    return sg_error(SG_ERR_ARG, "%s: %d dims requested, at most %d supported", op, ndim,
                    SG_MAX_DIMS);
  if (ndim > 0 && !shape) return sg_error(SG_ERR_ARG, "%s: shape is NULL for %d dims", op, ndim);
  /* The bound is on the product of the nonzero sizes: an empty tensor's
   * strides multiply the other sizes too (sg_contiguous_strides), and
   * {0, 2^40, 2^40} would overflow them (found by fuzzing the IDX reader). */
  int64_t n = 1;
  bool has_zero = false;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0)
      return sg_error(SG_ERR_ARG, "%s: negative size %lld in dim %d", op, (long long)shape[i],
                      i);
    if (shape[i] == 0) has_zero = true;
  }
  for (int i = 0; i < ndim; i++) {
    if (shape[i] == 0) continue;
    if (n > SG_MAX_NUMEL / shape[i]) {
      if (has_zero)
        return sg_error(SG_ERR_ARG,
                        "%s: shape's nonzero sizes multiply to more than 2^46 (its strides "
                        "would overflow)",
                        op);
      return sg_error(SG_ERR_ARG, "%s: shape has more than 2^46 elements", op);
    }
    n *= shape[i];
  }
  return 0;
}

sg_tensor *sg_empty(const int64_t *shape, int ndim, sg_dtype dt, sg_device dev) {
  if ((unsigned)dt >= SG_DTYPE_COUNT) {
    sg_error(SG_ERR_ARG, "sg_empty: invalid dtype %d", (int)dt);
    return NULL;
  }
  if (check_shape("sg_empty", shape, ndim)) return NULL;
  sg_tensor *t = calloc(1, sizeof *t);
  if (!t) {
    sg_error(SG_ERR_MEM, "out of memory allocating a tensor header");
    return NULL;
  }
  int64_t n = sg_shape_numel(shape, ndim);
  t->storage = storage_new((size_t)n * sg_dtype_size(dt), dev);
  if (!t->storage) {
    free(t);
    return NULL;
  }
  t->refcount = 1;
  t->dtype = dt;
  t->ndim = ndim;
  if (ndim) memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
  sg_contiguous_strides(shape, ndim, t->strides);
  return t;
}

sg_tensor *sg_full(const int64_t *shape, int ndim, double value, sg_dtype dt, sg_device dev) {
  sg_tensor *t = sg_empty(shape, ndim, dt, dev);
  if (t && sg_fill_(t, value) != SG_OK) {
    sg_release(t);
    return NULL;
  }
  return t;
}

sg_tensor *sg_zeros(const int64_t *shape, int ndim, sg_dtype dt, sg_device dev) {
  return sg_full(shape, ndim, 0.0, dt, dev);
}

sg_tensor *sg_scalar_tensor(double value, sg_dtype dt, sg_device dev) {
  return sg_full(NULL, 0, value, dt, dev);
}

sg_tensor *sg_empty_like(const sg_tensor *t) {
  if (sg_check_arg("empty_like", "t", t)) return NULL;
  return sg_empty(t->shape, t->ndim, t->dtype, t->storage->device);
}

sg_tensor *sg_zeros_like(const sg_tensor *t) {
  if (sg_check_arg("zeros_like", "t", t)) return NULL;
  return sg_zeros(t->shape, t->ndim, t->dtype, t->storage->device);
}

sg_tensor *sg_full_like(const sg_tensor *t, double value) {
  if (sg_check_arg("full_like", "t", t)) return NULL;
  return sg_full(t->shape, t->ndim, value, t->dtype, t->storage->device);
}

sg_tensor *sg_from_data(const void *data, const int64_t *shape, int ndim, sg_dtype dt) {
  sg_tensor *t = sg_empty(shape, ndim, dt, sg_cpu_device());
  if (!t) return NULL;
  size_t nbytes = (size_t)sg_numel(t) * sg_dtype_size(dt);
  if (nbytes && !data) {
    sg_release(t);
    sg_error(SG_ERR_ARG, "sg_from_data: data is NULL for %zu bytes", nbytes);
    return NULL;
  }
  if (nbytes) memcpy(t->storage->data, data, nbytes);
  return t;
}

sg_tensor *sg_arange(double start, double end, double step, sg_dtype dt, sg_device dev) {
  if (step == 0 || !isfinite(start) || !isfinite(end) || !isfinite(step) ||
      (end - start) / step < 0) {
    sg_error(SG_ERR_ARG, "sg_arange: cannot go from %g to %g in steps of %g", start, end, step);
    return NULL;
  }
  if (dt == SG_BOOL) {
    sg_error(SG_ERR_ARG, "sg_arange: not implemented for dtype bool");
    return NULL;
  }
  double count = ceil((end - start) / step);
  if (count > (double)SG_MAX_NUMEL) {
    sg_error(SG_ERR_ARG, "sg_arange: %g elements is too many", count);
    return NULL;
  }
  int64_t n = (int64_t)count;
  sg_tensor *host = sg_empty(&n, 1, SG_FLOAT64, sg_cpu_device());
  if (!host) return NULL;
  double *p = host->storage->data;
  for (int64_t i = 0; i < n; i++) p[i] = start + (double)i * step;
  sg_tensor *out = sg_empty(&n, 1, dt, dev);
  if (out && sg_copy_(out, host) != SG_OK) {
    sg_release(out);
    out = NULL;
  }
  sg_release(host);
  return out;
}

sg_tensor *sg_linspace(double start, double end, int64_t steps, sg_dtype dt, sg_device dev) {
  if (steps < 0) {
    sg_error(SG_ERR_ARG, "sg_linspace: steps must be >= 0, got %lld", (long long)steps);
    return NULL;
  }
  sg_tensor *host = sg_empty(&steps, 1, SG_FLOAT64, sg_cpu_device());
  if (!host) {
    sg_error_context("sg_linspace");
    return NULL;
  }
  double *p = host->storage->data;
  double step = steps > 1 ? (end - start) / (double)(steps - 1) : 0.0;
  /* PyTorch fills the second half from the end for symmetry. */
  for (int64_t i = 0; i < steps; i++)
    p[i] = i < steps / 2 ? start + step * (double)i : end - step * (double)(steps - 1 - i);
  sg_tensor *out = sg_empty(&steps, 1, dt, dev);
  if (out && sg_copy_(out, host) != SG_OK) {
    sg_release(out);
    out = NULL;
  }
  sg_release(host);
  return out;
}

sg_tensor *sg_eye(int64_t n, int64_t m, sg_dtype dt, sg_device dev) {
  int64_t shape[2] = {n, m};
  sg_tensor *host = sg_zeros(shape, 2, SG_FLOAT64, sg_cpu_device());
  if (!host) {
    sg_error_context("sg_eye");
    return NULL;
  }
  double *p = host->storage->data;
  for (int64_t i = 0; i < n && i < m; i++) p[i * m + i] = 1.0;
  sg_tensor *out = sg_empty(shape, 2, dt, dev);
  if (out && sg_copy_(out, host) != SG_OK) {
    sg_release(out);
    out = NULL;
  }
  sg_release(host);
  return out;
}

int64_t sg_numel(const sg_tensor *t) {
  if (!t) return 0;
  return sg_shape_numel(t->shape, t->ndim); }

bool sg_is_contiguous(const sg_tensor *t) {
  if (!t) return false;
  if (sg_numel(t) == 0) return true; /* nothing to lay out */
  int64_t expected = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    if (t->shape[i] == 1) continue;
    if (t->strides[i] != expected) return false;
    expected *= t->shape[i];
  }
  return true;
}

void *sg_data_ptr(const sg_tensor *t) {
  if (!t) return NULL;
  return (char *)t->storage->data + t->offset * (int64_t)sg_dtype_size(t->dtype);
}

static double load_as_double(const void *p, sg_dtype dt) {
  switch (dt) {
    case SG_FLOAT32: return *(const float *)p;
    case SG_FLOAT64: return *(const double *)p;
    case SG_INT64: return (double)*(const int64_t *)p;
    case SG_UINT8: return *(const uint8_t *)p;
    case SG_BOOL: return *(const uint8_t *)p ? 1.0 : 0.0;
    default: return NAN;
  }
}

/* The bytes of element i (flat, row-major) of t into out (at least 8
 * bytes); a device tensor's element is copied to the host through the
 * backend without autograd. */
static sg_status flat_element(const sg_tensor *t, int64_t i, unsigned char *out) {
  int64_t off = t->offset;
  for (int d = t->ndim - 1; d >= 0; d--) {
    int64_t idx = i % t->shape[d];
    i /= t->shape[d];
    off += idx * t->strides[d];
  }
  size_t size = sg_dtype_size(t->dtype);
  if (t->storage->device.type == SG_CPU) {
    memcpy(out, (char *)t->storage->data + off * (int64_t)size, size);
    return SG_OK;
  }
  sg_tensor *el = sg_alias(t, NULL, NULL, 0, off);
  sg_tensor *host = el ? sg_empty(NULL, 0, t->dtype, sg_cpu_device()) : NULL;
  sg_status s = host ? sg_copy_(host, el) : sg_last_status();
  if (s == SG_OK) memcpy(out, sg_data_ptr(host), size);
  sg_release(host);
  sg_release(el);
  return s;
}

double sg_get_flat(const sg_tensor *t, int64_t i) {
  if (!t || i < 0 || i >= sg_numel(t)) return NAN; /* no such element */
  unsigned char bytes[8];
  if (flat_element(t, i, bytes) != SG_OK) return NAN;
  return load_as_double(bytes, t->dtype);
}

sg_status sg_get_flat_int64(const sg_tensor *t, int64_t i, int64_t *out) {
  if (sg_check_arg("get_flat_int64", "t", t)) return sg_last_status();
  if (t->dtype != SG_INT64)
    return sg_error(SG_ERR_ARG, "get_flat_int64: dtype %s, expected int64",
                    sg_dtype_name(t->dtype));
  if (i < 0 || i >= sg_numel(t))
    return sg_error(SG_ERR_ARG, "get_flat_int64: element %lld of %lld", (long long)i,
                    (long long)sg_numel(t));
  unsigned char bytes[8];
  sg_status s = flat_element(t, i, bytes);
  if (s == SG_OK) memcpy(out, bytes, sizeof *out);
  return s;
}

int sg_item(const sg_tensor *t, double *out) {
  char buf[128];
  if (sg_check_arg("item", "t", t)) return SG_ERR_ARG;
  if (!out) return sg_error(SG_ERR_ARG, "item: output pointer is NULL");
  if (sg_numel(t) != 1)
    return sg_error(SG_ERR_ARG, "item: tensor has %lld elements (%s), expected exactly 1",
                    (long long)sg_numel(t), sg_shape_str(t, buf, sizeof buf));
  unsigned char bytes[8];
  sg_status s = flat_element(t, 0, bytes);
  if (s == SG_OK) *out = load_as_double(bytes, t->dtype);
  return s;
}

int sg_wrap_dim(const char *op, int64_t dim, int ndim) {
  int n = ndim > 0 ? ndim : 1;
  if (dim < -n || dim >= n) {
    sg_error(SG_ERR_ARG, "%s: dim %lld out of range for a tensor with %d dims", op,
             (long long)dim, ndim);
    return -1;
  }
  return (int)(dim < 0 ? dim + n : dim);
}

bool sg_same_shape(const sg_tensor *a, const sg_tensor *b) {
  if (!a || !b) return false;
  if (a->ndim != b->ndim) return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return false;
  return true;
}

sg_tensor *sg_alias(const sg_tensor *base, const int64_t *shape, const int64_t *strides,
                    int ndim, int64_t offset) {
  sg_tensor *t = calloc(1, sizeof *t);
  if (!t) {
    sg_error(SG_ERR_MEM, "out of memory allocating a tensor header");
    return NULL;
  }
  t->refcount = 1;
  t->storage = base->storage;
  t->storage->refcount++;
  t->dtype = base->dtype;
  t->ndim = ndim;
  if (ndim) {
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    memcpy(t->strides, strides, sizeof(int64_t) * (size_t)ndim);
  }
  t->offset = offset;
  return t;
}

int sg_broadcast_shapes(const char *op, const int64_t *a, int na, const int64_t *b, int nb,
                        int64_t *out, int *nout) {
  int n = na > nb ? na : nb;
  for (int i = 0; i < n; i++) {
    int ia = na - n + i, ib = nb - n + i;
    int64_t sa = ia >= 0 ? a[ia] : 1, sb = ib >= 0 ? b[ib] : 1;
    if (sa != sb && sa != 1 && sb != 1) {
      char bufa[128], bufb[128];
      return sg_error(SG_ERR_ARG,
                      "%s: shapes %s and %s cannot be broadcast (sizes %lld vs %lld at dim %d, "
                      "counted from the end)", op,
                      sg_dims_str(a, na, bufa, sizeof bufa), sg_dims_str(b, nb, bufb, sizeof bufb),
                      (long long)sa, (long long)sb, i - n);
    }
    out[i] = sa == 1 ? sb : sa;
  }
  *nout = n;
  return 0;
}

void sg_broadcast_strides(const sg_tensor *t, const int64_t *shape, int ndim, int64_t *strides) {
  for (int i = 0; i < ndim; i++) {
    int it = t->ndim - ndim + i;
    strides[i] = (it >= 0 && t->shape[it] == shape[i] && shape[i] != 1) ? t->strides[it] : 0;
  }
}

int sg_check_arg(const char *op, const char *name, const sg_tensor *t) {
  if (!t) return sg_error(SG_ERR_ARG, "%s: argument `%s` is missing (NULL)", op, name);
  return 0;
}

int sg_check_same_device(const char *op, const sg_tensor *a, const sg_tensor *b) {
  if (!sg_device_equal(a->storage->device, b->storage->device))
    return sg_error(SG_ERR_ARG, "%s: tensors on different devices (%s and %s)", op,
                    sg_device_name(a->storage->device), sg_device_name(b->storage->device));
  return 0;
}

int sg_check_float(const char *op, const char *name, const sg_tensor *t) {
  if (!sg_dtype_is_float(t->dtype))
    return sg_error(SG_ERR_ARG, "%s: `%s` has dtype %s, expected float32 or float64", op, name,
                    sg_dtype_name(t->dtype));
  return 0;
}
