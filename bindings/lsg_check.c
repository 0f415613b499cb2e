/* Argument and option checking shared by every binding. Errors name the
 * function, the argument and what was expected. */
#include <math.h>
#include <string.h>

#include "lsg.h"
#include "sgen/cuda.h"

const char *lsg_typename(lua_State *L, int idx) {
  if (luaL_testudata(L, idx, LSG_TENSOR_MT)) return "tensor";
  return luaL_typename(L, idx);
}

sg_tensor *lsg_to_tensor(lua_State *L, int idx) {
  lsg_tensor *u = luaL_testudata(L, idx, LSG_TENSOR_MT);
  return u ? u->t : NULL;
}

bool lsg_is_tensor(lua_State *L, int idx) { return lsg_to_tensor(L, idx) != NULL; }

/* sgen.core.is_tensor(v): the Lua library's one type test. A freed tensor is
 * still a tensor, so that messages say "freed tensor" rather than "userdata". */
void lsg_registry_guard(lua_State *L, const char *key, lua_CFunction gc, void *ud) {
  lua_newuserdatauv(L, 0, 0);
  lua_createtable(L, 0, 1);
  lua_pushlightuserdata(L, ud);
  lua_pushcclosure(L, gc, 1);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, key);
}

int lsg_l_is_tensor(lua_State *L) {
  lua_pushboolean(L, luaL_testudata(L, 1, LSG_TENSOR_MT) != NULL);
  return 1;
}

static int arg_error(lua_State *L, int idx, const char *fname, const char *argname,
                     const char *expected) {
  return luaL_error(L, "sgen.%s: argument %d (%s) expected %s, got %s", fname, idx, argname,
                    expected, lsg_typename(L, idx));
}

sg_tensor *lsg_check_tensor(lua_State *L, int idx, const char *fname, const char *argname) {
  lsg_tensor *u = luaL_testudata(L, idx, LSG_TENSOR_MT);
  if (!u) arg_error(L, idx, fname, argname, "a tensor");
  if (!u->t)
    luaL_error(L, "sgen.%s: argument %d (%s) is a freed tensor (t:free() was called on it)",
               fname, idx, argname);
  return u->t;
}

sg_tensor *lsg_opt_tensor(lua_State *L, int idx, const char *fname, const char *argname) {
  if (lua_isnoneornil(L, idx)) return NULL;
  return lsg_check_tensor(L, idx, fname, argname);
}

sg_tensor *lsg_check_tensor_or_number(lua_State *L, int idx, const sg_tensor *like,
                                      const char *fname, const char *argname,
                                      sg_tensor **owned) {
  *owned = NULL;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    sg_dtype dt = like ? like->dtype : SG_FLOAT32;
    sg_device dev = like ? like->storage->device : sg_cpu_device();
    double v = lua_tonumber(L, idx);
    if (!sg_dtype_is_float(dt) && v != floor(v)) dt = SG_FLOAT32;
    *owned = sg_scalar_tensor(v, dt, dev);
    if (!*owned) lsg_raise_engine(L);
    return *owned;
  }
  if (lua_isboolean(L, idx)) {
    *owned = sg_scalar_tensor(lua_toboolean(L, idx), SG_BOOL,
                              like ? like->storage->device : sg_cpu_device());
    if (!*owned) lsg_raise_engine(L);
    return *owned;
  }
  lsg_tensor *u = luaL_testudata(L, idx, LSG_TENSOR_MT);
  if (!u) arg_error(L, idx, fname, argname, "a tensor or a number");
  if (!u->t)
    luaL_error(L, "sgen.%s: argument %d (%s) is a freed tensor (t:free() was called on it)",
               fname, idx, argname);
  return u->t;
}

double lsg_check_number(lua_State *L, int idx, const char *fname, const char *argname) {
  if (lua_type(L, idx) != LUA_TNUMBER) arg_error(L, idx, fname, argname, "a number");
  return lua_tonumber(L, idx);
}

int64_t lsg_check_integer(lua_State *L, int idx, const char *fname, const char *argname) {
  int isint = 0;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer v = lua_tointegerx(L, idx, &isint);
    if (isint) return (int64_t)v;
    luaL_error(L, "sgen.%s: argument %d (%s) expected an integer, got %f", fname, idx, argname,
               lua_tonumber(L, idx));
  }
  arg_error(L, idx, fname, argname, "an integer");
  return 0;
}

bool lsg_check_boolean(lua_State *L, int idx, const char *fname, const char *argname) {
  if (!lua_isboolean(L, idx)) arg_error(L, idx, fname, argname, "a boolean");
  return lua_toboolean(L, idx);
}

const char *lsg_check_string(lua_State *L, int idx, const char *fname, const char *argname) {
  if (lua_type(L, idx) != LUA_TSTRING) arg_error(L, idx, fname, argname, "a string");
  return lua_tostring(L, idx);
}

int lsg_dim(lua_State *L, int64_t d, int ndim, int ndim_extra, const char *fname,
            const char *argname) {
  int64_t n = ndim + ndim_extra;
  if (n == 0) n = 1; /* a 0-dim tensor accepts dim 1 / -1, as PyTorch accepts 0 / -1 */
  if (d == 0 || d > n || d < -n)
    luaL_error(L, "sgen.%s: %s %I out of range for a tensor with %d dims "
               "(expected 1..%I or -%I..-1; dims are 1-based)",
               fname, argname, (lua_Integer)d, ndim, (lua_Integer)n, (lua_Integer)n);
  return (int)(d > 0 ? d - 1 : d + n);
}

int lsg_check_dim(lua_State *L, int idx, int ndim, const char *fname, const char *argname) {
  return lsg_dim(L, lsg_check_integer(L, idx, fname, argname), ndim, 0, fname, argname);
}

int lsg_opt_dim(lua_State *L, int idx, int ndim, int def0, const char *fname,
                const char *argname) {
  if (lua_isnoneornil(L, idx)) return def0;
  return lsg_check_dim(L, idx, ndim, fname, argname);
}

static int64_t shape_entry(lua_State *L, int idx, int pos, bool allow_neg, const char *fname) {
  int isint = 0;
  lua_Integer v = lua_tointegerx(L, idx, &isint);
  if (!isint)
    luaL_error(L, "sgen.%s: size %d must be an integer, got %s", fname, pos,
               lua_type(L, idx) == LUA_TNUMBER ? "a fraction" : lsg_typename(L, idx));
  if (v < 0 && !(allow_neg && v == -1))
    luaL_error(L, "sgen.%s: size %d must be non-negative%s, got %I", fname, pos,
               allow_neg ? " (or -1 to infer it)" : "", (lua_Integer)v);
  return (int64_t)v;
}

int lsg_check_shape(lua_State *L, int idx, int64_t *shape, int *next, bool allow_neg,
                    const char *fname) {
  int ndim = 0;
  if (lua_istable(L, idx) && !lsg_is_tensor(L, idx)) {
    lua_Integer n = luaL_len(L, idx);
    if (n > SG_MAX_DIMS)
      luaL_error(L, "sgen.%s: shape has %I dims, at most %d are supported", fname,
                 (lua_Integer)n, SG_MAX_DIMS);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_geti(L, idx, i);
      shape[ndim] = shape_entry(L, -1, (int)i, allow_neg, fname);
      ndim++;
      lua_pop(L, 1);
    }
    if (next) *next = idx + 1;
    return ndim;
  }
  int top = lua_gettop(L);
  int i = idx;
  while (i <= top && lua_type(L, i) == LUA_TNUMBER) {
    if (ndim == SG_MAX_DIMS)
      luaL_error(L, "sgen.%s: more than %d sizes given; at most %d dims are supported", fname,
                 SG_MAX_DIMS, SG_MAX_DIMS);
    shape[ndim] = shape_entry(L, i, ndim + 1, allow_neg, fname);
    ndim++;
    i++;
  }
  if (next) *next = i;
  return ndim;
}

/* ---- options ---- */

bool lsg_has_opts(lua_State *L, int idx, const char *fname) {
  if (lua_isnoneornil(L, idx)) return false;
  if (lua_istable(L, idx)) return true;
  return luaL_error(L, "sgen.%s: argument %d expected an options table, got %s", fname, idx,
                    lsg_typename(L, idx));
}

void lsg_check_opt_keys(lua_State *L, int idx, const char *fname, const char *const *allowed) {
  if (!lsg_has_opts(L, idx, fname)) return;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    bool ok = false;
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -1);
      for (int i = 0; allowed[i]; i++)
        if (strcmp(k, allowed[i]) == 0) ok = true;
    }
    if (!ok) {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (int i = 0; allowed[i]; i++) {
        if (i) luaL_addstring(&b, ", ");
        luaL_addstring(&b, allowed[i]);
      }
      luaL_pushresult(&b);
      const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "(not a string)";
      luaL_error(L, "sgen.%s: unknown option '%s' (expected %s)", fname, key,
                 allowed[0] ? lua_tostring(L, -1) : "no options");
    }
  }
}

/* Pushes opts[key] (nil when there is no table) and returns its type. */
static int get_opt(lua_State *L, int idx, const char *key) {
  if (idx == 0 || lua_isnoneornil(L, idx)) {
    lua_pushnil(L);
    return LUA_TNIL;
  }
  return lua_getfield(L, idx, key);
}

double lsg_opt_number(lua_State *L, int idx, const char *key, double def, const char *fname) {
  int ty = get_opt(L, idx, key);
  double v = def;
  if (ty == LUA_TNUMBER) v = lua_tonumber(L, -1);
  else if (ty != LUA_TNIL)
    luaL_error(L, "sgen.%s: option '%s' expected a number, got %s", fname, key,
               lsg_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

int64_t lsg_opt_integer(lua_State *L, int idx, const char *key, int64_t def, const char *fname) {
  int ty = get_opt(L, idx, key);
  int64_t v = def;
  if (ty == LUA_TNUMBER) {
    int isint = 0;
    v = (int64_t)lua_tointegerx(L, -1, &isint);
    if (!isint)
      luaL_error(L, "sgen.%s: option '%s' expected an integer, got %f", fname, key,
                 lua_tonumber(L, -1));
  } else if (ty != LUA_TNIL) {
    luaL_error(L, "sgen.%s: option '%s' expected an integer, got %s", fname, key,
               lsg_typename(L, -1));
  }
  lua_pop(L, 1);
  return v;
}

bool lsg_opt_boolean(lua_State *L, int idx, const char *key, bool def, const char *fname) {
  int ty = get_opt(L, idx, key);
  bool v = def;
  if (ty == LUA_TBOOLEAN) v = lua_toboolean(L, -1);
  else if (ty != LUA_TNIL)
    luaL_error(L, "sgen.%s: option '%s' expected a boolean, got %s", fname, key,
               lsg_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

const char *lsg_opt_string(lua_State *L, int idx, const char *key, const char *def,
                           const char *fname) {
  int ty = get_opt(L, idx, key);
  const char *v = def;
  if (ty == LUA_TSTRING) v = lua_tostring(L, -1); /* anchored in the options table */
  else if (ty != LUA_TNIL)
    luaL_error(L, "sgen.%s: option '%s' expected a string, got %s", fname, key,
               lsg_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

static int pair_entry(lua_State *L, int vidx, const char *key, const char *fname) {
  int isint = 0;
  lua_Integer v = lua_tointegerx(L, vidx, &isint);
  if (!isint || v < INT32_MIN || v > INT32_MAX)
    luaL_error(L, "sgen.%s: option '%s' expected integers, got %s", fname, key,
               lua_type(L, vidx) == LUA_TNUMBER ? "a fraction" : lsg_typename(L, vidx));
  return (int)v;
}

void lsg_opt_pair(lua_State *L, int idx, const char *key, int def, int out[2],
                  const char *fname) {
  int ty = get_opt(L, idx, key);
  out[0] = out[1] = def;
  if (ty == LUA_TNUMBER) {
    out[0] = out[1] = pair_entry(L, -1, key, fname);
  } else if (ty == LUA_TTABLE) {
    if (luaL_len(L, -1) != 2)
      luaL_error(L, "sgen.%s: option '%s' expected a number or a pair {h, w}", fname, key);
    for (int i = 0; i < 2; i++) {
      lua_geti(L, -1, i + 1);
      out[i] = pair_entry(L, -1, key, fname);
      lua_pop(L, 1);
    }
  } else if (ty != LUA_TNIL) {
    luaL_error(L, "sgen.%s: option '%s' expected a number or a pair {h, w}, got %s", fname,
               key, lsg_typename(L, -1));
  }
  lua_pop(L, 1);
}

sg_dtype lsg_parse_dtype(lua_State *L, const char *name, const char *fname) {
  sg_dtype dt;
  if (sg_dtype_from_name(name, &dt) == 0) return dt;
  luaL_error(L, "sgen.%s: unknown dtype '%s' (expected float32, float64, int64, uint8 or bool)",
             fname, name);
  return SG_FLOAT32;
}

/* "cuda" -> 0, "cuda:N" -> N (decimal digits only); -1 if name is neither. */
static int cuda_index(const char *name) {
  if (strncmp(name, "cuda", 4) != 0) return -1;
  if (name[4] == '\0') return 0;
  if (name[4] != ':' || name[5] == '\0') return -1;
  long n = 0;
  for (const char *p = name + 5; *p; p++) {
    if (*p < '0' || *p > '9' || n > 1000000) return -1;
    n = n * 10 + (*p - '0');
  }
  return (int)n;
}

sg_device lsg_parse_device(lua_State *L, const char *name, const char *fname) {
  if (strcmp(name, "cpu") == 0) return sg_cpu_device();
  int index = cuda_index(name);
  if (index < 0)
    luaL_error(L, "sgen.%s: unknown device '%s' (expected \"cpu\", \"cuda\" or \"cuda:N\")",
               fname, name);
  if (!sg_cuda_built())
    luaL_error(L, "sgen.%s: device '%s' is not available: this sgen was built without CUDA "
               "(see `sgen info`)", fname, name);
  if (!sg_cuda_is_available())
    luaL_error(L, "sgen.%s: device '%s' is not available: %s", fname, name,
               sg_cuda_unavailable_reason());
  int count = sg_cuda_device_count();
  if (index >= count)
    luaL_error(L, "sgen.%s: device '%s' is not available: there %s %d CUDA device%s (cuda:0%s)",
               fname, name, count == 1 ? "is" : "are", count, count == 1 ? "" : "s",
               count == 1 ? "" : " ..");
  if (index > 0)
    luaL_error(L, "sgen.%s: device '%s' is not available: only cuda:0 is supported for now",
               fname, name);
  return (sg_device){SG_CUDA, index};
}

sg_dtype lsg_opt_dtype(lua_State *L, int idx, sg_dtype def, const char *fname) {
  const char *s = lsg_opt_string(L, idx, "dtype", NULL, fname);
  return s ? lsg_parse_dtype(L, s, fname) : def;
}

sg_device lsg_opt_device(lua_State *L, int idx, sg_device def, const char *fname) {
  const char *s = lsg_opt_string(L, idx, "device", NULL, fname);
  return s ? lsg_parse_device(L, s, fname) : def;
}

void lsg_register(lua_State *L, int idx, const luaL_Reg *regs) {
  for (; regs->name; regs++) {
    lua_pushcfunction(L, regs->func);
    lua_setfield(L, idx, regs->name);
  }
}
