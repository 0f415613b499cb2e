/* Random numbers: the generator's seed and state, and random tensor creation
 * (rand, randn, randint, normal, bernoulli, randperm, rand_like, randn_like).
 * The stream is the engine's counter-based Philox (docs/rng.md): a given seed
 * gives the same numbers on every device and thread count. */
#include <string.h>

#include "lsg.h"

static const char *const create_keys[] = {"dtype", "device", NULL};

/* The options table at idx (or none/nil): dtype and device. Anything after it
 * is an error: a misplaced argument should not be silently ignored. */
static void creation_opts(lua_State *L, int idx, const char *fname, sg_dtype *dt,
                          sg_device *dev) {
  lsg_check_opt_keys(L, idx, fname, create_keys);
  *dt = lsg_opt_dtype(L, idx, *dt, fname);
  *dev = lsg_opt_device(L, idx, *dev, fname);
  if (lua_gettop(L) > idx)
    luaL_error(L, "sgen.%s: unexpected argument %d (%s) after the options table", fname,
               idx + 1, lsg_typename(L, idx + 1));
}

/* A size table {2, 3} at idx (a list, possibly empty for a 0-dim result). */
static int check_size_table(lua_State *L, int idx, int64_t *shape, const char *fname) {
  if (!lua_istable(L, idx) || lsg_is_tensor(L, idx))
    luaL_error(L, "sgen.%s: argument %d (size) expected a table of sizes like {2, 3}, got %s",
               fname, idx, lsg_typename(L, idx));
  return lsg_check_shape(L, idx, shape, NULL, false, fname);
}

/* ---- generator state ---- */

static int f_manual_seed(lua_State *L) {
  /* Negative seeds wrap to 2^64 + n, as PyTorch's manual_seed. */
  int64_t s = lsg_check_integer(L, 1, "manual_seed", "seed");
  sg_manual_seed((uint64_t)s);
  return 0;
}

static int f_initial_seed(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)sg_initial_seed());
  return 1;
}

static int f_get_rng_state(lua_State *L) {
  sg_rng_state s = sg_rng_get_state();
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, (lua_Integer)s.seed);
  lua_setfield(L, -2, "seed");
  lua_pushinteger(L, (lua_Integer)s.offset);
  lua_setfield(L, -2, "offset");
  return 1;
}

static int64_t state_field(lua_State *L, const char *key) {
  if (lua_getfield(L, 1, key) == LUA_TNIL)
    luaL_error(L, "sgen.set_rng_state: argument 1 (state) has no field '%s' (expected a table "
               "{seed=, offset=} from sg.get_rng_state())", key);
  int isint = 0;
  lua_Integer v = lua_tointegerx(L, -1, &isint);
  if (lua_type(L, -1) != LUA_TNUMBER || !isint)
    luaL_error(L, "sgen.set_rng_state: field '%s' expected an integer, got %s", key,
               lua_type(L, -1) == LUA_TNUMBER ? "a fraction" : lsg_typename(L, -1));
  lua_pop(L, 1);
  return (int64_t)v;
}

static int f_set_rng_state(lua_State *L) {
  if (!lua_istable(L, 1) || lsg_is_tensor(L, 1))
    return luaL_error(L, "sgen.set_rng_state: argument 1 (state) expected a table {seed=, "
                      "offset=} from sg.get_rng_state(), got %s", lsg_typename(L, 1));
  static const char *const keys[] = {"seed", "offset", NULL};
  lsg_check_opt_keys(L, 1, "set_rng_state", keys);
  sg_rng_state s;
  s.seed = (uint64_t)state_field(L, "seed");
  s.offset = (uint64_t)state_field(L, "offset");
  sg_rng_set_state(s);
  return 0;
}

/* ---- rand / randn: sizes as integers or a table, then options ---- */

typedef sg_tensor *(*rand_fn)(const int64_t *, int, sg_dtype, sg_device);

static int rand_like_sizes(lua_State *L, const char *fname, rand_fn fn) {
  int64_t shape[SG_MAX_DIMS];
  int next;
  int ndim = lsg_check_shape(L, 1, shape, &next, false, fname);
  if (next == 1 && !lua_istable(L, 1))
    return luaL_error(L, "sgen.%s: argument 1 (size) expected sizes (integers or a table like "
                      "{2, 3}), got %s", fname, lsg_typename(L, 1));
  sg_dtype dt = SG_FLOAT32;
  sg_device dev = sg_cpu_device();
  creation_opts(L, next, fname, &dt, &dev);
  return lsg_push_result(L, fn(shape, ndim, dt, dev));
}

static int f_rand(lua_State *L) { return rand_like_sizes(L, "rand", sg_rand); }
static int f_randn(lua_State *L) { return rand_like_sizes(L, "randn", sg_randn); }

/* rand_like(x, opts) / randn_like(x, opts): x's shape, dtype and device. */
static int like(lua_State *L, const char *fname, rand_fn fn) {
  sg_tensor *t = lsg_check_tensor(L, 1, fname, "input");
  sg_dtype dt = t->dtype;
  sg_device dev = t->storage->device;
  creation_opts(L, 2, fname, &dt, &dev);
  return lsg_push_result(L, fn(t->shape, t->ndim, dt, dev));
}

static int f_rand_like(lua_State *L) { return like(L, "rand_like", sg_rand); }
static int f_randn_like(lua_State *L) { return like(L, "randn_like", sg_randn); }

/* randint(low, high, size, opts) or randint(high, size, opts): integers in
 * [low, high), int64 unless opts.dtype says otherwise. */
static int f_randint(lua_State *L) {
  int64_t low = 0, high;
  int si;
  if (lua_istable(L, 2) && !lsg_is_tensor(L, 2)) {
    high = lsg_check_integer(L, 1, "randint", "high");
    si = 2;
  } else {
    low = lsg_check_integer(L, 1, "randint", "low");
    high = lsg_check_integer(L, 2, "randint", "high");
    si = 3;
  }
  int64_t shape[SG_MAX_DIMS];
  int ndim = check_size_table(L, si, shape, "randint");
  sg_dtype dt = SG_INT64;
  sg_device dev = sg_cpu_device();
  creation_opts(L, si + 1, "randint", &dt, &dev);
  return lsg_push_result(L, sg_randint(low, high, shape, ndim, dt, dev));
}

/* normal(mean, std, size, opts) */
static int f_normal(lua_State *L) {
  double mean = lsg_check_number(L, 1, "normal", "mean");
  double std = lsg_check_number(L, 2, "normal", "std");
  int64_t shape[SG_MAX_DIMS];
  int ndim = check_size_table(L, 3, shape, "normal");
  sg_dtype dt = SG_FLOAT32;
  sg_device dev = sg_cpu_device();
  creation_opts(L, 4, "normal", &dt, &dev);
  return lsg_push_result(L, sg_normal(mean, std, shape, ndim, dt, dev));
}

/* bernoulli(p_tensor) -> p's dtype; bernoulli(p_number, size, opts) -> float32
 * unless opts.dtype. Values are 0 or 1. */
static int f_bernoulli(lua_State *L) {
  if (lua_type(L, 1) == LUA_TNUMBER) {
    double p = lua_tonumber(L, 1);
    int64_t shape[SG_MAX_DIMS];
    int ndim = check_size_table(L, 2, shape, "bernoulli");
    sg_dtype dt = SG_FLOAT32;
    sg_device dev = sg_cpu_device();
    creation_opts(L, 3, "bernoulli", &dt, &dev);
    return lsg_push_result(L, sg_bernoulli_scalar(p, shape, ndim, dt, dev));
  }
  if (!lsg_is_tensor(L, 1) && !luaL_testudata(L, 1, LSG_TENSOR_MT))
    return luaL_error(L, "sgen.bernoulli: argument 1 (p) expected a tensor of probabilities or "
                      "a number, got %s", lsg_typename(L, 1));
  sg_tensor *p = lsg_check_tensor(L, 1, "bernoulli", "p");
  if (lua_gettop(L) > 1)
    return luaL_error(L, "sgen.bernoulli: unexpected argument 2 (%s): with a tensor of "
                      "probabilities the result takes its shape", lsg_typename(L, 2));
  return lsg_push_result(L, sg_bernoulli(p));
}

/* randperm(n, opts) -> a random permutation of 1..n (1-based, for indexing). */
static int f_randperm(lua_State *L) {
  int64_t n = lsg_check_integer(L, 1, "randperm", "n");
  sg_dtype dt = SG_INT64;
  sg_device dev = sg_cpu_device();
  creation_opts(L, 2, "randperm", &dt, &dev);
  if (n < 0) return luaL_error(L, "sgen.randperm: n must be >= 0, got %I", (lua_Integer)n);
  sg_tensor *p = sg_randperm(n, sg_cpu_device());
  if (!p) return lsg_raise_engine(L);
  sg_tensor *p1 = sg_add_scalar(p, 1.0);
  sg_release(p);
  if (!p1) return lsg_raise_engine(L);
  if (dt != SG_INT64) {
    sg_tensor *c = sg_to_dtype(p1, dt);
    sg_release(p1);
    if (!c) return lsg_raise_engine(L);
    p1 = c;
  }
  if (dev.type != SG_CPU) {
    sg_tensor *m = sg_to_device(p1, dev);
    sg_release(p1);
    p1 = m;
  }
  return lsg_push_result(L, p1);
}

void lsg_open_random(lua_State *L, int core, int methods) {
  static const luaL_Reg funcs[] = {
      {"manual_seed", f_manual_seed},     {"initial_seed", f_initial_seed},
      {"get_rng_state", f_get_rng_state}, {"set_rng_state", f_set_rng_state},
      {"rand", f_rand},                   {"randn", f_randn},
      {"rand_like", f_rand_like},         {"randn_like", f_randn_like},
      {"randint", f_randint},             {"normal", f_normal},
      {"bernoulli", f_bernoulli},         {"randperm", f_randperm},
      {NULL, NULL}};
  lsg_register(L, core, funcs);
  static const luaL_Reg meths[] = {{"rand_like", f_rand_like},
                                   {"randn_like", f_randn_like},
                                   {"bernoulli", f_bernoulli},
                                   {NULL, NULL}};
  lsg_register(L, methods, meths);
}
