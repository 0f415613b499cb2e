/* The Tensor userdata: lifetime (__gc, __close, t:free()), field access
 * (.grad, .grad_fn, .is_leaf, x[i]), operators, and basic queries. */
#include <math.h>
#include <string.h>

#include "lsg.h"

/* ---- pushing and errors ---- */

/* Registry key of this state's collection threshold (a lua_Integer, bytes). */
static const char gc_threshold_key = 0;
enum { GC_MIN_THRESHOLD = 32 << 20 };

/* Garbage tensors must be collected at the pace of their memory, not of their
 * small userdata (Torch7's classic out-of-memory). Lua's incremental steps
 * alone do not keep up: LUA_GCSTEP debt runs few finalizers per step and
 * live bytes grew linearly in a 2,000-iteration loop (spec/memory_spec.lua).
 * So: report the bytes as debt (ordinary pacing), and when the engine's live
 * bytes exceed 1.5x what was live after the last full collection (at least
 * 32 MB), run a full collection. The Lua heap is small, so that is cheap.
 * Device storages count the same way: the live bytes are host plus GPU. */
static void account_storage(lua_State *L, size_t nbytes) {
  size_t kb = (nbytes + 1023) / 1024;
  if (kb > (size_t)INT32_MAX) kb = INT32_MAX;
  lua_gc(L, LUA_GCSTEP, (int)(kb ? kb : 1));
  lua_rawgetp(L, LUA_REGISTRYINDEX, &gc_threshold_key);
  lua_Integer threshold = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : GC_MIN_THRESHOLD;
  lua_pop(L, 1);
  size_t live = sg_live_bytes();
  if ((lua_Integer)live <= threshold) return;
  lua_gc(L, LUA_GCCOLLECT);
  live = sg_live_bytes();
  lua_Integer next = (lua_Integer)(live + live / 2);
  lua_pushinteger(L, next > GC_MIN_THRESHOLD ? next : GC_MIN_THRESHOLD);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &gc_threshold_key);
}

void lsg_push_tensor(lua_State *L, sg_tensor *t) {
  lsg_tensor *u = lua_newuserdatauv(L, sizeof(lsg_tensor), 0);
  u->t = t;
  luaL_setmetatable(L, LSG_TENSOR_MT);
  if (t->storage->refcount == 1 && t->storage->owns_data) account_storage(L, t->storage->nbytes);
}

int lsg_raise_engine_in(lua_State *L, const char *caller) {
  const char *msg = sg_last_error();
  if (!msg || !*msg) msg = "operation failed (no message from the engine)";
  if (caller) return luaL_error(L, "sgen.%s: %s", caller, msg);
  return luaL_error(L, "sgen.%s", msg);
}

int lsg_raise_engine(lua_State *L) { return lsg_raise_engine_in(L, NULL); }

int lsg_push_result_in(lua_State *L, sg_tensor *t, const char *caller) {
  if (!t) return lsg_raise_engine_in(L, caller);
  lsg_push_tensor(L, t);
  if (sg_anomaly_enabled()) lsg_anomaly_raise_pending(L);
  return 1;
}

int lsg_push_result(lua_State *L, sg_tensor *t) { return lsg_push_result_in(L, t, NULL); }

void lsg_check_status(lua_State *L, sg_status st) {
  if (st != SG_OK) lsg_raise_engine(L);
}

void lsg_push_dims(lua_State *L, const int64_t *shape, int ndim) {
  lua_createtable(L, ndim, 0);
  for (int i = 0; i < ndim; i++) {
    lua_pushinteger(L, (lua_Integer)shape[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

int64_t lsg_int64_at(const sg_tensor *t, int64_t flat) {
  int64_t off = t->offset;
  for (int d = t->ndim - 1; d >= 0; d--) {
    off += (flat % t->shape[d]) * t->strides[d];
    flat /= t->shape[d];
  }
  return ((const int64_t *)t->storage->data)[off];
}

void lsg_push_element(lua_State *L, const sg_tensor *t, int64_t flat) {
  if (t->dtype == SG_INT64) {
    /* not through sg_get_flat's double: int64 beyond 2^53 must stay exact */
    lua_pushinteger(L, (lua_Integer)lsg_int64_at(t, flat));
    return;
  }
  double v = sg_get_flat(t, flat);
  if (t->dtype == SG_BOOL) lua_pushboolean(L, v != 0);
  else if (sg_dtype_is_float(t->dtype)) lua_pushnumber(L, v);
  else lua_pushinteger(L, (lua_Integer)v);
}

/* ---- lifetime ---- */

static int t_free(lua_State *L) {
  lsg_tensor *u = luaL_checkudata(L, 1, LSG_TENSOR_MT);
  if (u->t) {
    sg_release(u->t);
    u->t = NULL;
  }
  return 0;
}

static int t_is_freed(lua_State *L) {
  lsg_tensor *u = luaL_checkudata(L, 1, LSG_TENSOR_MT);
  lua_pushboolean(L, u->t == NULL);
  return 1;
}

/* ---- queries ---- */

/* x.shape / x:shape() / x:size(): a table of the sizes whose metatable makes
 * both spellings work (x:shape() calls the table, which returns itself; with
 * a dim, x:shape(d) is x:size(d)) and compares by value (x.shape == y.shape,
 * x.shape == {2, 3}). */
#define LSG_SHAPE_MT "sgen.Shape"

static void push_shape(lua_State *L, const sg_tensor *t) {
  lsg_push_dims(L, t->shape, t->ndim);
  luaL_setmetatable(L, LSG_SHAPE_MT);
}

static int t_size(lua_State *L);

static int shape_call(lua_State *L) {
  if (lua_gettop(L) <= 2 || lua_isnil(L, 3)) {
    lua_settop(L, 1);
    return 1;
  }
  lua_remove(L, 1); /* (tensor, dim) */
  return t_size(L);
}

static int shape_eq(lua_State *L) {
  lua_Integer n = luaL_len(L, 1);
  if (luaL_len(L, 2) != n) {
    lua_pushboolean(L, 0);
    return 1;
  }
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, 1, i);
    lua_geti(L, 2, i);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (!same) {
      lua_pushboolean(L, 0);
      return 1;
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int shape_tostring(lua_State *L) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addchar(&b, '{');
  lua_Integer n = luaL_len(L, 1);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, 1, i);
    luaL_tolstring(L, -1, NULL);
    lua_remove(L, -2);
    luaL_addvalue(&b);
    if (i < n) luaL_addstring(&b, ", ");
  }
  luaL_addchar(&b, '}');
  luaL_pushresult(&b);
  return 1;
}

static int t_size(lua_State *L) {
  sg_tensor *t = lsg_check_tensor(L, 1, "size", "self");
  if (lua_isnoneornil(L, 2)) {
    push_shape(L, t);
    return 1;
  }
  if (t->ndim == 0) return luaL_error(L, "sgen.size: a 0-dim tensor has no dims");
  int d = lsg_check_dim(L, 2, t->ndim, "size", "dim");
  lua_pushinteger(L, (lua_Integer)t->shape[d]);
  return 1;
}

static int t_stride(lua_State *L) {
  sg_tensor *t = lsg_check_tensor(L, 1, "stride", "self");
  if (lua_isnoneornil(L, 2)) {
    lsg_push_dims(L, t->strides, t->ndim);
    return 1;
  }
  if (t->ndim == 0) return luaL_error(L, "sgen.stride: a 0-dim tensor has no dims");
  int d = lsg_check_dim(L, 2, t->ndim, "stride", "dim");
  lua_pushinteger(L, (lua_Integer)t->strides[d]);
  return 1;
}

static int t_dim(lua_State *L) {
  lua_pushinteger(L, lsg_check_tensor(L, 1, "dim", "self")->ndim);
  return 1;
}

static int t_numel(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)sg_numel(lsg_check_tensor(L, 1, "numel", "self")));
  return 1;
}

static int t_dtype(lua_State *L) {
  lua_pushstring(L, sg_dtype_name(lsg_check_tensor(L, 1, "dtype", "self")->dtype));
  return 1;
}

static int t_device(lua_State *L) {
  lua_pushstring(L, sg_device_name(lsg_check_tensor(L, 1, "device", "self")->storage->device));
  return 1;
}

static int t_is_contiguous(lua_State *L) {
  lua_pushboolean(L, sg_is_contiguous(lsg_check_tensor(L, 1, "is_contiguous", "self")));
  return 1;
}

static int t_item(lua_State *L) {
  sg_tensor *t = lsg_check_tensor(L, 1, "item", "self");
  double v;
  if (sg_item(t, &v) != SG_OK) return lsg_raise_engine(L);
  if (t->storage->device.type != SG_CPU || t->dtype != SG_INT64) {
    if (t->dtype == SG_BOOL) lua_pushboolean(L, v != 0);
    else if (sg_dtype_is_float(t->dtype)) lua_pushnumber(L, v);
    else lua_pushinteger(L, (lua_Integer)v);
    return 1;
  }
  lsg_push_element(L, t, 0);
  return 1;
}

static int t_requires_grad_(lua_State *L) {
  sg_tensor *t = lsg_check_tensor(L, 1, "requires_grad_", "self");
  bool on = lua_isnoneornil(L, 2) ? true : lsg_check_boolean(L, 2, "requires_grad_", "flag");
  lsg_check_status(L, sg_set_requires_grad(t, on));
  lua_settop(L, 1);
  return 1;
}

static int t_needs_grad(lua_State *L) {
  lua_pushboolean(L, lsg_check_tensor(L, 1, "needs_grad", "self")->requires_grad);
  return 1;
}

static int t_data_ptr(lua_State *L) {
  sg_tensor *t = lsg_check_tensor(L, 1, "data_ptr", "self");
  lua_pushlightuserdata(L, (char *)t->storage->data + t->offset * (int64_t)sg_dtype_size(t->dtype));
  return 1;
}

/* ---- field access ---- */

static int t_index(lua_State *L) {
  lsg_tensor *u = luaL_checkudata(L, 1, LSG_TENSOR_MT);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    sg_tensor *t = lsg_check_tensor(L, 1, "index", "self");
    if (t->ndim == 0) return luaL_error(L, "sgen.index: cannot index a 0-dim tensor (use x:item())");
    int isint = 0;
    lua_Integer i = lua_tointegerx(L, 2, &isint);
    if (!isint) return luaL_error(L, "sgen.index: index must be an integer, got %f", lua_tonumber(L, 2));
    int64_t n = t->shape[0];
    if (i == 0 || i > n || i < -n)
      return luaL_error(L, "sgen.index: index %I out of range for dim 1 of size %I "
                        "(expected 1..%I or -%I..-1; indices are 1-based)",
                        i, (lua_Integer)n, (lua_Integer)n, (lua_Integer)n);
    return lsg_push_result(L, sg_select(t, 0, i > 0 ? i - 1 : i + n));
  }
  if (lua_type(L, 2) == LUA_TTABLE || lua_type(L, 2) == LUA_TUSERDATA)
    return lsg_index_get(L, lsg_check_tensor(L, 1, "index", "self"));
  const char *key = lua_tostring(L, 2);
  if (key && lua_type(L, 2) == LUA_TSTRING) {
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "__methods");
    if (lua_getfield(L, -1, key) != LUA_TNIL) return 1;
    lua_pop(L, 3);
    if (strcmp(key, "grad") == 0) {
      sg_tensor *t = lsg_check_tensor(L, 1, "grad", "self");
      if (!t->grad) lua_pushnil(L);
      else lsg_push_tensor(L, sg_retain(t->grad));
      return 1;
    }
    if (strcmp(key, "grad_fn") == 0) {
      sg_tensor *t = lsg_check_tensor(L, 1, "grad_fn", "self");
      if (!t->grad_fn) lua_pushnil(L);
      else lua_pushstring(L, t->grad_fn->name);
      return 1;
    }
    if (strcmp(key, "is_leaf") == 0) {
      sg_tensor *t = lsg_check_tensor(L, 1, "is_leaf", "self");
      lua_pushboolean(L, t->grad_fn == NULL);
      return 1;
    }
    if (strcmp(key, "shape") == 0) {
      push_shape(L, lsg_check_tensor(L, 1, "shape", "self"));
      return 1;
    }
    /* a property, as in PyTorch: a method here would read as always true in
     * `if x.requires_grad then`; the setter is x:requires_grad_(flag) */
    if (strcmp(key, "requires_grad") == 0) {
      lua_pushboolean(L, lsg_check_tensor(L, 1, "requires_grad", "self")->requires_grad);
      return 1;
    }
    if (strcmp(key, "ndim") == 0) {
      lua_pushinteger(L, lsg_check_tensor(L, 1, "ndim", "self")->ndim);
      return 1;
    }
  }
  (void)u;
  return luaL_error(L, "sgen.Tensor: no method or field '%s' (see docs/lua-api.md)",
                    key ? key : lsg_typename(L, 2));
}

static int t_newindex(lua_State *L) {
  if (lua_type(L, 2) == LUA_TNUMBER || lua_type(L, 2) == LUA_TTABLE ||
      lua_type(L, 2) == LUA_TUSERDATA)
    return lsg_index_set(L, lsg_check_tensor(L, 1, "index", "self"));
  if (lua_type(L, 2) != LUA_TSTRING)
    return luaL_error(L, "sgen.index: x[key] = value takes an integer, an index table {...} or a "
                      "bool mask as the key, got %s", lsg_typename(L, 2));
  const char *key = lua_tostring(L, 2);
  if (key && strcmp(key, "grad") == 0) {
    sg_tensor *t = lsg_check_tensor(L, 1, "grad", "self");
    if (lua_isnil(L, 3)) {
      sg_set_grad(t, NULL);
      return 0;
    }
    sg_tensor *g = lsg_check_tensor(L, 3, "grad", "value");
    if (!sg_same_shape(t, g) || g->dtype != t->dtype) {
      char a[64], b[64];
      return luaL_error(L, "sgen.grad: assigned gradient is %s %s, expected %s %s like the tensor",
                        sg_shape_str(g, a, sizeof a), sg_dtype_name(g->dtype),
                        sg_shape_str(t, b, sizeof b), sg_dtype_name(t->dtype));
    }
    sg_set_grad(t, g);
    return 0;
  }
  if (key && strcmp(key, "requires_grad") == 0) {
    sg_tensor *t = lsg_check_tensor(L, 1, "requires_grad", "self");
    if (!lua_isboolean(L, 3))
      return luaL_error(L, "sgen.requires_grad: x.requires_grad = value takes a boolean, got %s",
                        lsg_typename(L, 3));
    lsg_check_status(L, sg_set_requires_grad(t, lua_toboolean(L, 3)));
    return 0;
  }
  return luaL_error(L, "sgen.Tensor: cannot set field '%s' (only .grad and .requires_grad can be "
                    "assigned)",
                    key ? key : lsg_typename(L, 2));
}

static int t_tostring(lua_State *L) {
  lsg_tensor *u = luaL_checkudata(L, 1, LSG_TENSOR_MT);
  if (!u->t) {
    lua_pushliteral(L, "tensor(<freed>)");
    return 1;
  }
  lsg_push_tensor_string(L, u->t);
  return 1;
}

static int t_len(lua_State *L) {
  sg_tensor *t = lsg_check_tensor(L, 1, "len", "self");
  if (t->ndim == 0) return luaL_error(L, "sgen.len: a 0-dim tensor has no length");
  lua_pushinteger(L, (lua_Integer)t->shape[0]);
  return 1;
}

/* ---- operators: numbers allowed on either side ---- */

typedef sg_tensor *(*binary_fn)(sg_tensor *, sg_tensor *);
typedef sg_tensor *(*scalar_fn)(sg_tensor *, double);
typedef sg_tensor *(*rscalar_fn)(double, sg_tensor *);

static int arith(lua_State *L, const char *name, binary_fn tt, scalar_fn ts, rscalar_fn st) {
  sg_tensor *a = lsg_to_tensor(L, 1), *b = lsg_to_tensor(L, 2);
  if (a && b) return lsg_push_result(L, tt(a, b));
  if (a && lua_type(L, 2) == LUA_TNUMBER) return lsg_push_result(L, ts(a, lua_tonumber(L, 2)));
  if (b && lua_type(L, 1) == LUA_TNUMBER) return lsg_push_result(L, st(lua_tonumber(L, 1), b));
  int bad = (a || lua_type(L, 1) == LUA_TNUMBER) ? 2 : 1;
  if (luaL_testudata(L, bad, LSG_TENSOR_MT))
    return luaL_error(L, "sgen.%s: operand %d is a freed tensor", name, bad);
  return luaL_error(L, "sgen.%s: operands must be tensors or numbers, got %s and %s", name,
                    lsg_typename(L, 1), lsg_typename(L, 2));
}

static sg_tensor *radd(double s, sg_tensor *a) { return sg_add_scalar(a, s); }
static sg_tensor *rmul(double s, sg_tensor *a) { return sg_mul_scalar(a, s); }

static int t_add(lua_State *L) { return arith(L, "add", sg_add, sg_add_scalar, radd); }
static int t_sub(lua_State *L) { return arith(L, "sub", sg_sub, sg_sub_scalar, sg_rsub_scalar); }
static int t_mul(lua_State *L) { return arith(L, "mul", sg_mul, sg_mul_scalar, rmul); }
static int t_div(lua_State *L) { return arith(L, "div", sg_div, sg_div_scalar, sg_rdiv_scalar); }
static int t_pow(lua_State *L) { return arith(L, "pow", sg_pow, sg_pow_scalar, sg_rpow_scalar); }
static int t_unm(lua_State *L) { return lsg_push_result(L, sg_neg(lsg_check_tensor(L, 1, "neg", "self"))); }

static int t_concat(lua_State *L) {
  /* "loss: " .. t  -- convenient in prints */
  luaL_tolstring(L, 1, NULL);
  luaL_tolstring(L, 2, NULL);
  lua_concat(L, 2);
  return 1;
}

void lsg_open_tensor(lua_State *L, int core, int methods) {
  static const luaL_Reg meths[] = {
      {"free", t_free},         {"is_freed", t_is_freed},
      {"size", t_size},
      {"stride", t_stride},     {"dim", t_dim},
      {"numel", t_numel},       {"dtype", t_dtype},
      {"device", t_device},     {"is_contiguous", t_is_contiguous},
      {"item", t_item},         {"requires_grad_", t_requires_grad_},
      {"needs_grad", t_needs_grad},
      {"data_ptr", t_data_ptr}, {"add", t_add},
      {"sub", t_sub},           {"mul", t_mul},
      {"div", t_div},           {"pow", t_pow},
      {NULL, NULL}};
  lsg_register(L, methods, meths);
  static const luaL_Reg funcs[] = {
      {"add", t_add}, {"sub", t_sub}, {"mul", t_mul}, {"div", t_div}, {"pow", t_pow},
      {"numel", t_numel}, {NULL, NULL}};
  lsg_register(L, core, funcs);

  luaL_getmetatable(L, LSG_TENSOR_MT);
  static const luaL_Reg metas[] = {
      {"__index", t_index},   {"__newindex", t_newindex}, {"__tostring", t_tostring},
      {"__gc", t_free},       {"__close", t_free},        {"__len", t_len},
      {"__add", t_add},       {"__sub", t_sub},           {"__mul", t_mul},
      {"__div", t_div},       {"__pow", t_pow},           {"__unm", t_unm},
      {"__concat", t_concat}, {NULL, NULL}};
  lsg_register(L, lua_gettop(L), metas);
  lua_pushliteral(L, "sgen.Tensor");
  lua_setfield(L, -2, "__name");
  /* the properties t_index answers, for the REPL's completion */
  lua_newtable(L);
  static const char *const fields[] = {"grad", "grad_fn", "is_leaf", "shape", "requires_grad",
                                       "ndim", NULL};
  for (int i = 0; fields[i]; i++) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, fields[i]);
  }
  lua_setfield(L, -2, "__fields");
  lua_pop(L, 1);

  luaL_newmetatable(L, LSG_SHAPE_MT);
  static const luaL_Reg shape_metas[] = {
      {"__call", shape_call}, {"__eq", shape_eq}, {"__tostring", shape_tostring}, {NULL, NULL}};
  luaL_setfuncs(L, shape_metas, 0);
  lua_pop(L, 1);
}
