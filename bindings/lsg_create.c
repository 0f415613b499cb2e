/* Creating tensors (from Lua tables, constants, ranges), converting them back
 * to tables, and copies between dtypes and devices. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lsg.h"

static const char *const create_keys[] = {"dtype", "device", NULL};

/* Options table at idx (or none): dtype and device. */
static void creation_opts(lua_State *L, int idx, const char *fname, sg_dtype *dt, sg_device *dev) {
  lsg_check_opt_keys(L, idx, fname, create_keys);
  *dt = lsg_opt_dtype(L, idx, *dt, fname);
  *dev = lsg_opt_device(L, idx, *dev, fname);
}

/* Moves a freshly created CPU tensor to dev (no-op on the CPU). */
static sg_tensor *to_dev(sg_tensor *t, sg_device dev) {
  if (!t || dev.type == SG_CPU) return t;
  sg_tensor *m = sg_to_device(t, dev);
  sg_release(t);
  return m;
}

/* ---- sg.tensor(data, opts) ---- */

typedef struct nested {
  int ndim;
  int64_t shape[SG_MAX_DIMS];
  int64_t count;
  bool all_bool;
  bool all_int; /* every number a Lua integer: sg.tensor({1, 3}) is int64, as PyTorch infers */
} nested;

/* First pass: shape from the first elements. */
static void nested_shape(lua_State *L, int idx, nested *n) {
  n->ndim = 0;
  lua_pushvalue(L, idx);
  while (lua_istable(L, -1) && !lsg_is_tensor(L, -1)) {
    if (n->ndim == SG_MAX_DIMS)
      luaL_error(L, "sgen.tensor: data nested deeper than %d levels", SG_MAX_DIMS);
    lua_Integer len = luaL_len(L, -1);
    n->shape[n->ndim++] = (int64_t)len;
    if (len == 0) break;
    lua_geti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
}

/* Second pass: walk, check regularity, store values. */
static void nested_fill(lua_State *L, int idx, nested *n, int depth, double *dbuf,
                        int64_t *ibuf, char *path, size_t pathlen) {
  if (depth == n->ndim) {
    int ty = lua_type(L, idx);
    if (ty == LUA_TBOOLEAN) {
      double v = lua_toboolean(L, idx);
      if (dbuf) dbuf[n->count] = v;
      if (ibuf) ibuf[n->count] = (int64_t)v;
    } else if (ty == LUA_TNUMBER) {
      n->all_bool = false;
      if (!lua_isinteger(L, idx)) n->all_int = false;
      if (dbuf) dbuf[n->count] = lua_tonumber(L, idx);
      if (ibuf) {
        int isint = 0;
        lua_Integer v = lua_tointegerx(L, idx, &isint);
        if (!isint)
          luaL_error(L, "sgen.tensor: element data%s is %f, not an integer (dtype int64)", path,
                     lua_tonumber(L, idx));
        ibuf[n->count] = (int64_t)v;
      }
    } else {
      luaL_error(L, "sgen.tensor: element data%s is %s, expected a number%s", path,
                 lsg_typename(L, idx), n->ndim < SG_MAX_DIMS && ty == LUA_TTABLE
                     ? " (the nesting is deeper here than at data[1]...; tables must be regular)"
                     : "");
    }
    n->count++;
    return;
  }
  if (!lua_istable(L, idx) || lsg_is_tensor(L, idx))
    luaL_error(L, "sgen.tensor: data%s is %s, expected a table of %I entries (tables must be "
               "regular, shape taken from the first entries)",
               path, lsg_typename(L, idx), (lua_Integer)n->shape[depth]);
  lua_Integer len = luaL_len(L, idx);
  if (len != n->shape[depth])
    luaL_error(L, "sgen.tensor: data%s has %I entries, expected %I like its first sibling "
               "(tables must be regular)", path, len, (lua_Integer)n->shape[depth]);
  for (lua_Integer i = 1; i <= len; i++) {
    lua_geti(L, idx, i);
    size_t used = strlen(path);
    snprintf(path + used, pathlen - used, "[%lld]", (long long)i);
    nested_fill(L, lua_gettop(L), n, depth + 1, dbuf, ibuf, path, pathlen);
    path[used] = '\0';
    lua_pop(L, 1);
  }
}

static int f_tensor(lua_State *L) {
  sg_dtype dt = SG_FLOAT32;
  sg_device dev = sg_cpu_device();
  if (lsg_is_tensor(L, 1)) {
    sg_tensor *src = lsg_check_tensor(L, 1, "tensor", "data");
    dt = src->dtype;
    dev = src->storage->device;
    creation_opts(L, 2, "tensor", &dt, &dev);
    sg_tensor *d = sg_detach(src);
    if (!d) return lsg_raise_engine(L);
    sg_tensor *c = sg_to_dtype(d, dt);
    sg_release(d);
    if (!c) return lsg_raise_engine(L);
    sg_tensor *out = c->storage == src->storage ? sg_clone(c) : sg_retain(c);
    sg_release(c);
    return lsg_push_result(L, to_dev(out, dev));
  }
  int ty = lua_type(L, 1);
  if (ty != LUA_TTABLE && ty != LUA_TNUMBER && ty != LUA_TBOOLEAN)
    return luaL_error(L, "sgen.tensor: argument 1 (data) expected a (nested) table of numbers, "
                      "a number or a tensor, got %s", lsg_typename(L, 1));
  nested n = {0};
  n.all_bool = true;
  n.all_int = true;
  nested_shape(L, 1, &n);
  int64_t total = 1;
  for (int i = 0; i < n.ndim; i++) total *= n.shape[i];
  /* Guess the dtype before reading options, as torch.tensor does: all booleans -> bool,
   * all integers (Lua's integer subtype: 3, not 3.0) -> int64, any float -> float32. */
  {
    nested probe = n;
    probe.count = 0;
    char path[256] = "";
    nested_fill(L, 1, &probe, 0, NULL, NULL, path, sizeof path);
    if (probe.all_bool && total > 0) dt = SG_BOOL;
    else if (probe.all_int && total > 0) dt = SG_INT64;
  }
  creation_opts(L, 2, "tensor", &dt, &dev);
  bool want_int = dt == SG_INT64 || dt == SG_UINT8;
  /* A userdata buffer: collected even if a later check raises. */
  void *buf = lua_newuserdatauv(L, (size_t)(total > 0 ? total : 1) * 8, 0);
  char path[256] = "";
  n.count = 0;
  nested_fill(L, 1, &n, 0, want_int ? NULL : (double *)buf, want_int ? (int64_t *)buf : NULL,
              path, sizeof path);
  sg_tensor *raw = sg_from_data(buf, n.shape, n.ndim, want_int ? SG_INT64 : SG_FLOAT64);
  lua_pop(L, 1);
  if (!raw) return lsg_raise_engine(L);
  sg_tensor *out = sg_to_dtype(raw, dt);
  sg_release(raw);
  return lsg_push_result(L, to_dev(out, dev));
}

/* ---- constants ---- */

typedef enum { K_ZEROS, K_ONES, K_EMPTY } const_kind;

static int make_const(lua_State *L, const char *fname, const_kind kind) {
  int64_t shape[SG_MAX_DIMS];
  int next;
  int ndim = lsg_check_shape(L, 1, shape, &next, false, fname);
  sg_dtype dt = SG_FLOAT32;
  sg_device dev = sg_cpu_device();
  creation_opts(L, next, fname, &dt, &dev);
  if (!lua_isnoneornil(L, next + 1) || (lua_gettop(L) > next && lua_gettop(L) != next))
    return luaL_error(L, "sgen.%s: unexpected argument %d (%s): give sizes, then an options "
                      "table", fname, next + 1, lsg_typename(L, next + 1));
  sg_tensor *t = kind == K_ZEROS  ? sg_zeros(shape, ndim, dt, dev)
                 : kind == K_ONES ? sg_full(shape, ndim, 1.0, dt, dev)
                                  : sg_empty(shape, ndim, dt, dev);
  return lsg_push_result(L, t);
}

static int f_zeros(lua_State *L) { return make_const(L, "zeros", K_ZEROS); }
static int f_ones(lua_State *L) { return make_const(L, "ones", K_ONES); }
static int f_empty(lua_State *L) { return make_const(L, "empty", K_EMPTY); }

static int f_full(lua_State *L) {
  int64_t shape[SG_MAX_DIMS];
  int ndim;
  if (!lua_istable(L, 1))
    return luaL_error(L, "sgen.full: argument 1 (size) expected a table of sizes like {2, 3}, "
                      "got %s", lsg_typename(L, 1));
  ndim = lsg_check_shape(L, 1, shape, NULL, false, "full");
  double v = lua_isboolean(L, 2) ? lua_toboolean(L, 2) : lsg_check_number(L, 2, "full", "value");
  sg_dtype dt = lua_isboolean(L, 2) ? SG_BOOL : SG_FLOAT32;
  sg_device dev = sg_cpu_device();
  creation_opts(L, 3, "full", &dt, &dev);
  return lsg_push_result(L, sg_full(shape, ndim, v, dt, dev));
}

static int like(lua_State *L, const char *fname, int kind) {
  sg_tensor *t = lsg_check_tensor(L, 1, fname, "input");
  sg_dtype dt = t->dtype;
  sg_device dev = t->storage->device;
  double v = 0;
  int oi = 2;
  if (kind == 2) {
    v = lsg_check_number(L, 2, fname, "value");
    oi = 3;
  }
  creation_opts(L, oi, fname, &dt, &dev);
  double fill = kind == 0 ? 0.0 : kind == 1 ? 1.0 : v;
  return lsg_push_result(L, sg_full(t->shape, t->ndim, fill, dt, dev));
}

static int f_zeros_like(lua_State *L) { return like(L, "zeros_like", 0); }
static int f_ones_like(lua_State *L) { return like(L, "ones_like", 1); }
static int f_full_like(lua_State *L) { return like(L, "full_like", 2); }

static int f_empty_like(lua_State *L) {
  sg_tensor *t = lsg_check_tensor(L, 1, "empty_like", "input");
  sg_dtype dt = t->dtype;
  sg_device dev = t->storage->device;
  creation_opts(L, 2, "empty_like", &dt, &dev);
  return lsg_push_result(L, sg_empty(t->shape, t->ndim, dt, dev));
}

/* arange(end) | arange(start, end[, step]) [, opts]: end exclusive, as PyTorch. */
static int f_arange(lua_State *L) {
  int nnum = 0;
  while (nnum < 3 && lua_type(L, nnum + 1) == LUA_TNUMBER) nnum++;
  if (nnum == 0)
    return luaL_error(L, "sgen.arange: expected (end), (start, end) or (start, end, step), got %s",
                      lsg_typename(L, 1));
  double start = 0, end, step = 1;
  bool all_int = true;
  for (int i = 1; i <= nnum; i++)
    if (!lua_isinteger(L, i)) all_int = false;
  if (nnum == 1) end = lua_tonumber(L, 1);
  else {
    start = lua_tonumber(L, 1);
    end = lua_tonumber(L, 2);
    if (nnum == 3) step = lua_tonumber(L, 3);
  }
  sg_dtype dt = all_int ? SG_INT64 : SG_FLOAT32;
  sg_device dev = sg_cpu_device();
  creation_opts(L, nnum + 1, "arange", &dt, &dev);
  return lsg_push_result(L, sg_arange(start, end, step, dt, dev));
}

static int f_linspace(lua_State *L) {
  double a = lsg_check_number(L, 1, "linspace", "start");
  double b = lsg_check_number(L, 2, "linspace", "end");
  int64_t steps = lsg_check_integer(L, 3, "linspace", "steps");
  sg_dtype dt = SG_FLOAT32;
  sg_device dev = sg_cpu_device();
  creation_opts(L, 4, "linspace", &dt, &dev);
  return lsg_push_result(L, sg_linspace(a, b, steps, dt, dev));
}

static int f_eye(lua_State *L) {
  int64_t n = lsg_check_integer(L, 1, "eye", "n");
  int64_t m = n;
  int oi = 2;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    m = lsg_check_integer(L, 2, "eye", "m");
    oi = 3;
  }
  sg_dtype dt = SG_FLOAT32;
  sg_device dev = sg_cpu_device();
  creation_opts(L, oi, "eye", &dt, &dev);
  return lsg_push_result(L, sg_eye(n, m, dt, dev));
}

/* ---- back to Lua tables ---- */

static void totable_rec(lua_State *L, sg_tensor *t, int depth, int64_t *flat) {
  if (depth == t->ndim) {
    lsg_push_element(L, t, (*flat)++);
    return;
  }
  lua_createtable(L, (int)t->shape[depth], 0);
  for (int64_t i = 0; i < t->shape[depth]; i++) {
    totable_rec(L, t, depth + 1, flat);
    lua_rawseti(L, -2, (lua_Integer)(i + 1));
  }
}

static int t_totable(lua_State *L) {
  sg_tensor *t = lsg_check_tensor(L, 1, "totable", "self");
  sg_tensor *c = t->storage->device.type == SG_CPU ? sg_retain(t) : sg_to_device(t, sg_cpu_device());
  if (!c) return lsg_raise_engine(L);
  lsg_push_tensor(L, c); /* anchors c while building (luaL errors cannot leak it) */
  int64_t flat = 0;
  totable_rec(L, c, 0, &flat);
  return 1;
}

/* ---- copies ---- */

static int t_clone(lua_State *L) {
  return lsg_push_result(L, sg_clone(lsg_check_tensor(L, 1, "clone", "self")));
}

static int t_detach(lua_State *L) {
  return lsg_push_result(L, sg_detach(lsg_check_tensor(L, 1, "detach", "self")));
}

static int t_contiguous(lua_State *L) {
  return lsg_push_result(L, sg_contiguous(lsg_check_tensor(L, 1, "contiguous", "self")));
}

static int convert(lua_State *L, const char *fname, sg_dtype dt) {
  return lsg_push_result(L, sg_to_dtype(lsg_check_tensor(L, 1, fname, "self"), dt));
}
static int t_float(lua_State *L) { return convert(L, "float", SG_FLOAT32); }
static int t_double(lua_State *L) { return convert(L, "double", SG_FLOAT64); }
static int t_long(lua_State *L) { return convert(L, "long", SG_INT64); }
static int t_byte(lua_State *L) { return convert(L, "byte", SG_UINT8); }
static int t_bool(lua_State *L) { return convert(L, "bool", SG_BOOL); }

/* x:to("float64") | x:to("cuda") | x:to({dtype=, device=}) | x:to(other_tensor) */
static int t_to(lua_State *L) {
  sg_tensor *t = lsg_check_tensor(L, 1, "to", "self");
  sg_dtype dt = t->dtype;
  sg_device dev = t->storage->device;
  if (lsg_is_tensor(L, 2)) {
    sg_tensor *o = lsg_check_tensor(L, 2, "to", "other");
    dt = o->dtype;
    dev = o->storage->device;
  } else if (lua_type(L, 2) == LUA_TSTRING) {
    const char *s = lua_tostring(L, 2);
    sg_dtype d2;
    if (sg_dtype_from_name(s, &d2) == 0) dt = d2;
    else dev = lsg_parse_device(L, s, "to");
    if (lua_type(L, 3) == LUA_TSTRING) dt = lsg_parse_dtype(L, lua_tostring(L, 3), "to");
  } else if (lua_istable(L, 2)) {
    creation_opts(L, 2, "to", &dt, &dev);
  } else {
    return luaL_error(L, "sgen.to: argument 2 expected a dtype or device name, an options table "
                      "or a tensor, got %s", lsg_typename(L, 2));
  }
  sg_tensor *a = sg_to_dtype(t, dt);
  if (!a) return lsg_raise_engine(L);
  if (sg_device_equal(a->storage->device, dev)) return lsg_push_result(L, a);
  sg_tensor *b = sg_to_device(a, dev);
  sg_release(a);
  return lsg_push_result(L, b);
}

static int t_cpu(lua_State *L) {
  sg_tensor *t = lsg_check_tensor(L, 1, "cpu", "self");
  if (t->storage->device.type == SG_CPU) return lsg_push_result(L, sg_retain(t));
  return lsg_push_result(L, sg_to_device(t, sg_cpu_device()));
}

static int t_cuda(lua_State *L) {
  sg_tensor *t = lsg_check_tensor(L, 1, "cuda", "self");
  sg_device dev = lsg_parse_device(L, "cuda", "cuda");
  return lsg_push_result(L, sg_to_device(t, dev));
}

/* ---- in place ----
 * copy_, fill_ and zero_ follow the autograd rules of every in-place op
 * (sg_assign_): a leaf that requires grad is written only under no_grad; a
 * copy_ of a tensor that requires grad is recorded (the gradient reaches
 * src); a constant written over a computed tensor cuts it from its
 * history. Without autograd in play they write directly. */

/* Whether src broadcasts to t's shape (the trailing dims of src are 1 or
 * t's). */
static bool broadcasts_to(const sg_tensor *src, const sg_tensor *t) {
  if (src->ndim > t->ndim) return false;
  for (int i = 1; i <= src->ndim; i++) {
    int64_t a = src->shape[src->ndim - i], b = t->shape[t->ndim - i];
    if (a != 1 && a != b) return false;
  }
  return true;
}

void lsg_copy_into(lua_State *L, sg_tensor *t, sg_tensor *src, const char *op) {
  if (!broadcasts_to(src, t)) {
    char a[128], b[128];
    luaL_error(L, "sgen.%s: source of shape %s does not broadcast to %s", op,
               sg_shape_str(src, a, sizeof a), sg_shape_str(t, b, sizeof b));
  }
  if (sg_grad_enabled() && (t->requires_grad || src->requires_grad)) {
    /* the value written, of t's shape, dtype and device, differentiable */
    sg_tensor *e = sg_expand(src, t->shape, t->ndim);
    sg_tensor *c = e ? sg_to_dtype(e, t->dtype) : NULL;
    sg_tensor *r = c ? sg_to_device(c, t->storage->device) : NULL;
    sg_status st = r ? sg_assign_(t, r, op) : sg_last_status();
    sg_release(e);
    sg_release(c);
    sg_release(r);
    lsg_check_status(L, st);
  } else {
    lsg_check_status(L, sg_copy_(t, src));
  }
}

static int t_copy_(lua_State *L) {
  sg_tensor *t = lsg_check_tensor(L, 1, "copy_", "self");
  sg_tensor *src = lsg_check_tensor(L, 2, "copy_", "src");
  lsg_copy_into(L, t, src, "copy_");
  lua_settop(L, 1);
  return 1;
}

void lsg_fill_into(lua_State *L, sg_tensor *t, double v, const char *op) {
  if (sg_grad_enabled() && t->requires_grad) {
    sg_tensor *r = sg_full_like(t, v);
    sg_status st = r ? sg_assign_(t, r, op) : sg_last_status();
    sg_release(r);
    lsg_check_status(L, st);
    return;
  }
  lsg_check_status(L, sg_fill_(t, v));
}

static int t_fill_(lua_State *L) {
  sg_tensor *t = lsg_check_tensor(L, 1, "fill_", "self");
  double v = lua_isboolean(L, 2) ? lua_toboolean(L, 2) : lsg_check_number(L, 2, "fill_", "value");
  lsg_fill_into(L, t, v, "fill_");
  lua_settop(L, 1);
  return 1;
}

static int t_zero_(lua_State *L) {
  sg_tensor *t = lsg_check_tensor(L, 1, "zero_", "self");
  lsg_fill_into(L, t, 0.0, "zero_");
  lua_settop(L, 1);
  return 1;
}

/* sgen.core.check_inplace_(t, name): the leaf rule, before an in-place
 * method computes (and, for uniform_ / normal_, draws) anything. */
static int f_check_inplace_(lua_State *L) {
  sg_tensor *t = lsg_check_tensor(L, 1, "check_inplace_", "self");
  lsg_check_status(L, sg_check_inplace(t, luaL_optstring(L, 2, "check_inplace_")));
  return 0;
}

/* sgen.core.assign_(t, r, name): the end of the Lua in-place methods
 * (lua/sgen/inplace.lua). */
static int f_assign_(lua_State *L) {
  sg_tensor *t = lsg_check_tensor(L, 1, "assign_", "self");
  sg_tensor *r = lsg_check_tensor(L, 2, "assign_", "result");
  const char *name = luaL_optstring(L, 3, "assign_");
  lsg_check_status(L, sg_assign_(t, r, name));
  lua_settop(L, 1);
  return 1;
}

void lsg_open_create(lua_State *L, int core, int methods) {
  static const luaL_Reg funcs[] = {
      {"tensor", f_tensor},         {"zeros", f_zeros},         {"ones", f_ones},
      {"empty", f_empty},           {"full", f_full},           {"zeros_like", f_zeros_like},
      {"ones_like", f_ones_like},   {"full_like", f_full_like}, {"empty_like", f_empty_like},
      {"arange", f_arange},         {"linspace", f_linspace},   {"eye", f_eye},
      {"clone", t_clone},           {"detach", t_detach},       {"contiguous", t_contiguous},
      {"totable", t_totable},       {"assign_", f_assign_},     {"check_inplace_", f_check_inplace_},
      {NULL, NULL}};
  lsg_register(L, core, funcs);
  static const luaL_Reg meths[] = {
      {"totable", t_totable}, {"clone", t_clone},   {"detach", t_detach},
      {"contiguous", t_contiguous}, {"float", t_float}, {"double", t_double},
      {"long", t_long},       {"byte", t_byte},     {"bool", t_bool},
      {"to", t_to},           {"cpu", t_cpu},       {"cuda", t_cuda},
      {"copy_", t_copy_},     {"fill_", t_fill_},   {"zero_", t_zero_},
      {NULL, NULL}};
  lsg_register(L, methods, meths);
}
