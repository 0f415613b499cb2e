/* tostring(tensor), PyTorch style: values with one common format, nested
 * brackets, the middle of large tensors elided ("..."), then size, dtype,
 * device (when not the CPU) and grad_fn. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lsg.h"

enum { SUMMARIZE_ABOVE = 1000, EDGE_ITEMS = 3, LINE_WIDTH = 80 };

typedef struct fmt {
  sg_tensor *t;
  bool summarize;
  int kind;  /* 0 int, 1 float integer-valued ("3."), 2 fixed, 3 scientific, 4 bool */
  int width;
} fmt;

static bool shown(const fmt *f, int dim, int64_t i) {
  int64_t n = f->t->shape[dim];
  return !f->summarize || n <= 2 * EDGE_ITEMS || i < EDGE_ITEMS || i >= n - EDGE_ITEMS;
}

static int64_t flat_of(const sg_tensor *t, const int64_t *idx) {
  int64_t flat = 0;
  for (int d = 0; d < t->ndim; d++) flat = flat * t->shape[d] + idx[d];
  return flat;
}

static int format_value(const fmt *f, double v, char *buf, size_t n) {
  switch (f->kind) {
    case 0: return snprintf(buf, n, "%lld", (long long)v);
    case 4: return snprintf(buf, n, "%s", v != 0 ? "true" : "false");
    default: break;
  }
  if (isnan(v)) return snprintf(buf, n, "nan");
  if (isinf(v)) return snprintf(buf, n, v > 0 ? "inf" : "-inf");
  if (f->kind == 1) return snprintf(buf, n, "%.0f.", v);
  if (f->kind == 2) return snprintf(buf, n, "%.4f", v);
  return snprintf(buf, n, "%.4e", v);
}

static double value_at(sg_tensor *t, const int64_t *idx) {
  return sg_get_flat(t, flat_of(t, idx));
}

/* Formats the element at idx; int64 read exactly (not through a double). */
static int format_at(const fmt *f, const int64_t *idx, char *buf, size_t n) {
  if (f->t->dtype == SG_INT64)
    return snprintf(buf, n, "%lld", (long long)lsg_int64_at(f->t, flat_of(f->t, idx)));
  return format_value(f, value_at(f->t, idx), buf, n);
}

/* Visits every shown element (to choose the format). */
static void scan(fmt *f, int dim, int64_t *idx, double *amax, double *amin, bool *all_int,
                 bool *any) {
  sg_tensor *t = f->t;
  if (dim == t->ndim) {
    double v = value_at(t, idx);
    if (isfinite(v)) {
      double a = fabs(v);
      if (a > *amax) *amax = a;
      if (a != 0 && a < *amin) *amin = a;
      if (v != floor(v)) *all_int = false;
      *any = true;
    }
    return;
  }
  for (int64_t i = 0; i < t->shape[dim]; i++) {
    if (!shown(f, dim, i)) continue;
    idx[dim] = i;
    scan(f, dim + 1, idx, amax, amin, all_int, any);
  }
}

static void measure(fmt *f, int dim, int64_t *idx) {
  sg_tensor *t = f->t;
  if (dim == t->ndim) {
    char buf[64];
    int w = format_at(f, idx, buf, sizeof buf);
    if (w > f->width) f->width = w;
    return;
  }
  for (int64_t i = 0; i < t->shape[dim]; i++) {
    if (!shown(f, dim, i)) continue;
    idx[dim] = i;
    measure(f, dim + 1, idx);
  }
}

static void emit(luaL_Buffer *b, fmt *f, int dim, int64_t *idx, int indent) {
  sg_tensor *t = f->t;
  char buf[64];
  if (dim == t->ndim) {
    int w = format_at(f, idx, buf, sizeof buf);
    for (int k = w; k < f->width; k++) luaL_addchar(b, ' ');
    luaL_addstring(b, buf);
    return;
  }
  luaL_addchar(b, '[');
  bool last = dim == t->ndim - 1;
  int per_line = last ? (LINE_WIDTH - indent) / (f->width + 2) : 0;
  if (per_line < 1) per_line = 1;
  int on_line = 0;
  bool first = true;
  bool elided = false;
  for (int64_t i = 0; i < t->shape[dim]; i++) {
    if (!shown(f, dim, i)) {
      if (!elided) {
        elided = true;
        if (last) {
          luaL_addstring(b, ", ...");
        } else {
          luaL_addchar(b, ',');
          for (int k = 0; k < t->ndim - dim - 1; k++) luaL_addchar(b, '\n');
          for (int k = 0; k < indent + 1; k++) luaL_addchar(b, ' ');
          luaL_addstring(b, "...");
        }
      }
      continue;
    }
    if (!first) {
      luaL_addchar(b, ',');
      if (last) {
        if (on_line >= per_line) {
          luaL_addchar(b, '\n');
          for (int k = 0; k < indent + 1; k++) luaL_addchar(b, ' ');
          on_line = 0;
        } else {
          luaL_addchar(b, ' ');
        }
      } else {
        for (int k = 0; k < t->ndim - dim - 1; k++) luaL_addchar(b, '\n');
        for (int k = 0; k < indent + 1; k++) luaL_addchar(b, ' ');
      }
    }
    first = false;
    idx[dim] = i;
    emit(b, f, dim + 1, idx, indent + 1);
    on_line++;
  }
  luaL_addchar(b, ']');
}

void lsg_push_tensor_string(lua_State *L, sg_tensor *t) {
  sg_tensor *c = t->storage->device.type == SG_CPU ? sg_retain(t)
                                                   : sg_to_device(t, sg_cpu_device());
  if (!c) {
    lua_pushfstring(L, "tensor(<unprintable: %s>)", sg_last_error());
    return;
  }
  fmt f = {.t = c, .summarize = sg_numel(c) > SUMMARIZE_ABOVE, .kind = 0, .width = 0};
  int64_t idx[SG_MAX_DIMS] = {0};
  if (c->dtype == SG_BOOL) f.kind = 4;
  else if (sg_dtype_is_float(c->dtype)) {
    double amax = 0, amin = INFINITY;
    bool all_int = true, any = false;
    scan(&f, 0, idx, &amax, &amin, &all_int, &any);
    if (!any || (all_int && amax < 1e8)) f.kind = 1;
    else if (amax > 1e8 || (amin < 1e-4) || (amin > 0 && amax / amin > 1000)) f.kind = 3;
    else f.kind = 2;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "tensor(");
  if (sg_numel(c) == 0) {
    luaL_addstring(&b, "[]");
  } else if (c->ndim == 0) {
    char buf[64];
    format_at(&f, idx, buf, sizeof buf);
    luaL_addstring(&b, buf);
  } else {
    measure(&f, 0, idx);
    emit(&b, &f, 0, idx, 7);
  }
  char shape[96];
  if (t->ndim > 0) {
    luaL_addstring(&b, ", size=");
    luaL_addstring(&b, sg_shape_str(t, shape, sizeof shape));
  }
  luaL_addstring(&b, ", dtype=");
  luaL_addstring(&b, sg_dtype_name(t->dtype));
  if (t->storage->device.type != SG_CPU) {
    luaL_addstring(&b, ", device=");
    luaL_addstring(&b, sg_device_name(t->storage->device));
  }
  if (t->grad_fn) {
    luaL_addstring(&b, ", grad_fn=<");
    luaL_addstring(&b, t->grad_fn->name);
    luaL_addchar(&b, '>');
  } else if (t->requires_grad) {
    luaL_addstring(&b, ", requires_grad=true");
  }
  luaL_addchar(&b, ')');
  sg_release(c);
  luaL_pushresult(&b);
}
