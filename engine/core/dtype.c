/* dtype and device descriptions, PyTorch's type promotion. */
#include <stdio.h>
#include <string.h>

#include "sgen/tensor.h"

static const struct {
  const char *name;
  size_t size;
} dtype_info[SG_DTYPE_COUNT] = {
    [SG_FLOAT32] = {"float32", 4}, [SG_FLOAT64] = {"float64", 8}, [SG_INT64] = {"int64", 8},
    [SG_UINT8] = {"uint8", 1},     [SG_BOOL] = {"bool", 1},
};

size_t sg_dtype_size(sg_dtype dt) { return (unsigned)dt < SG_DTYPE_COUNT ? dtype_info[dt].size : 0; }

const char *sg_dtype_name(sg_dtype dt) {
  return (unsigned)dt < SG_DTYPE_COUNT ? dtype_info[dt].name : "invalid";
}

int sg_dtype_from_name(const char *name, sg_dtype *out) {
  static const struct { const char *alias; sg_dtype dt; } aliases[] = {
      {"float", SG_FLOAT32}, {"double", SG_FLOAT64}, {"long", SG_INT64}, {"byte", SG_UINT8},
  };
  if (!name || !out) return -1;
  for (int i = 0; i < SG_DTYPE_COUNT; i++)
    if (strcmp(name, dtype_info[i].name) == 0) { *out = (sg_dtype)i; return 0; }
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcmp(name, aliases[i].alias) == 0) { *out = aliases[i].dt; return 0; }
  return -1;
}

bool sg_dtype_is_float(sg_dtype dt) { return dt == SG_FLOAT32 || dt == SG_FLOAT64; }

/* Category order bool < integer < float; within a category, the wider. */
sg_dtype sg_promote_types(sg_dtype a, sg_dtype b) {
  if (a == b) return a;
  if (a == SG_FLOAT64 || b == SG_FLOAT64) return SG_FLOAT64;
  if (a == SG_FLOAT32 || b == SG_FLOAT32) return SG_FLOAT32;
  if (a == SG_INT64 || b == SG_INT64) return SG_INT64;
  if (a == SG_UINT8 || b == SG_UINT8) return SG_UINT8;
  return SG_BOOL;
}

sg_device sg_cpu_device(void) { return (sg_device){SG_CPU, 0}; }

bool sg_device_equal(sg_device a, sg_device b) { return a.type == b.type && a.index == b.index; }

const char *sg_device_name(sg_device d) {
  static const char *const cuda_names[] = {"cuda:0", "cuda:1", "cuda:2", "cuda:3",
                                           "cuda:4", "cuda:5", "cuda:6", "cuda:7"};
  if (d.type == SG_CPU) return "cpu";
  if (d.index >= 0 && d.index < 8) return cuda_names[d.index];
  return "cuda:?";
}

const char *sg_dims_str(const int64_t *shape, int ndim, char *buf, size_t n) {
  if (n == 0) return buf;
  if (ndim == 0) {
    snprintf(buf, n, "scalar");
    return buf;
  }
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < ndim && used < n; i++) {
    int w = snprintf(buf + used, n - used, i ? "x%lld" : "%lld", (long long)shape[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
  return buf;
}

const char *sg_shape_str(const sg_tensor *t, char *buf, size_t n) {
  if (!t) {
    snprintf(buf, n, "nil");
    return buf;
  }
  return sg_dims_str(t->shape, t->ndim, buf, n);
}
