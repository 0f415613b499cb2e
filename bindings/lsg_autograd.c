/* Autograd from Lua: x:backward, sg.backward, sg.grad, grad mode
 * (no_grad / enable_grad / set_grad_enabled / is_grad_enabled) and finite
 * difference checks (gradcheck / gradgradcheck) of Lua functions.
 *
 * Positions in messages are 1-based like everything else on the Lua side:
 * the bindings check outputs, gradients and inputs themselves before the
 * engine (whose messages count from 0) sees them. */
#include <ctype.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsg.h"

#define MAX_TENSORS 64 /* the engine's limit on outputs of one backward */

/* ---- lists of tensors ---- */

/* A tensor or a list {t1, t2, ...} at idx into out[] (borrowed). Returns the
 * count. `what` names the argument in errors ("tensors", "inputs"). */
static int check_tensor_list(lua_State *L, int idx, const char *fname, const char *what,
                             sg_tensor **out) {
  if (lsg_is_tensor(L, idx)) {
    out[0] = lsg_to_tensor(L, idx);
    return 1;
  }
  if (luaL_testudata(L, idx, LSG_TENSOR_MT))
    luaL_error(L, "sgen.%s: argument %d (%s) is a freed tensor", fname, idx, what);
  if (!lua_istable(L, idx))
    luaL_error(L, "sgen.%s: argument %d (%s) expected a tensor or a list of tensors, got %s",
               fname, idx, what, lsg_typename(L, idx));
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  if (n < 1)
    luaL_error(L, "sgen.%s: argument %d (%s) is an empty list, expected at least one tensor",
               fname, idx, what);
  if (n > MAX_TENSORS)
    luaL_error(L, "sgen.%s: argument %d (%s) has %I tensors, at most %d are supported", fname,
               idx, what, n, MAX_TENSORS);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    sg_tensor *t = lsg_to_tensor(L, -1);
    if (!t)
      luaL_error(L, "sgen.%s: %s[%I] is %s, expected a tensor", fname, what, i,
                 luaL_testudata(L, -1, LSG_TENSOR_MT) ? "a freed tensor" : lsg_typename(L, -1));
    out[i - 1] = t;
    lua_pop(L, 1);
  }
  return (int)n;
}

/* Gradients for n outputs at idx: nil, a tensor (n == 1) or a list whose
 * entries may be nil (implied gradient of one-element outputs). Fills
 * grads[0..n-1] (borrowed, NULL = implied). */
static void check_grad_list(lua_State *L, int idx, int n, const char *fname, const char *what,
                            sg_tensor **grads) {
  for (int i = 0; i < n; i++) grads[i] = NULL;
  if (lua_isnoneornil(L, idx)) return;
  if (lsg_is_tensor(L, idx)) {
    if (n != 1)
      luaL_error(L, "sgen.%s: %s is one tensor for %d outputs, expected a list of %d", fname,
                 what, n, n);
    grads[0] = lsg_to_tensor(L, idx);
    return;
  }
  if (!lua_istable(L, idx) || luaL_testudata(L, idx, LSG_TENSOR_MT))
    luaL_error(L, "sgen.%s: %s expected a tensor or a list of tensors, got %s", fname, what,
               luaL_testudata(L, idx, LSG_TENSOR_MT) ? "a freed tensor" : lsg_typename(L, idx));
  lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
  if (len > n)
    luaL_error(L, "sgen.%s: %s has %I entries for %d outputs", fname, what, len, n);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, idx, i + 1);
    if (!lua_isnil(L, -1)) {
      grads[i] = lsg_to_tensor(L, -1);
      if (!grads[i])
        luaL_error(L, "sgen.%s: %s[%d] is %s, expected a tensor or nil", fname, what, i + 1,
                   luaL_testudata(L, -1, LSG_TENSOR_MT) ? "a freed tensor" : lsg_typename(L, -1));
    }
    lua_pop(L, 1);
  }
}

/* The checks the engine would make, with 1-based positions. */
static void check_outputs(lua_State *L, sg_tensor **outs, sg_tensor **grads, int n,
                          const char *fname) {
  char a[128], b[128];
  for (int i = 0; i < n; i++) {
    sg_tensor *o = outs[i];
    if (!o->requires_grad)
      luaL_error(L, "sgen.%s: tensor %d (%s) does not require grad and has no grad_fn; was it "
                 "computed under no_grad or from tensors without requires_grad?",
                 fname, i + 1, sg_shape_str(o, a, sizeof a));
    if (grads[i]) {
      if (!sg_same_shape(grads[i], o))
        luaL_error(L, "sgen.%s: gradient %d has shape %s, the tensor has %s", fname, i + 1,
                   sg_shape_str(grads[i], a, sizeof a), sg_shape_str(o, b, sizeof b));
    } else if (sg_numel(o) != 1) {
      luaL_error(L, "sgen.%s: tensor %d has shape %s; a gradient can be implied only for a "
                 "one-element tensor, pass one", fname, i + 1, sg_shape_str(o, a, sizeof a));
    }
  }
}

static const char *const backward_keys[] = {"retain_graph", "create_graph", NULL};

/* ---- x:backward([gradient], {retain_graph=, create_graph=}) ---- */

static int t_backward(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "backward", "self");
  int gi = 2, oi = 3;
  if (lua_istable(L, 2) && !luaL_testudata(L, 2, LSG_TENSOR_MT)) {
    oi = 2; /* x:backward({retain_graph = true}) */
    gi = 0;
  }
  sg_tensor *g = NULL;
  if (gi && !lua_isnoneornil(L, gi)) g = lsg_check_tensor(L, gi, "backward", "gradient");
  lsg_check_opt_keys(L, oi, "backward", backward_keys);
  if (lua_gettop(L) > oi)
    return luaL_error(L, "sgen.backward: unexpected argument %d (%s) after the options table",
                      oi + 1, lsg_typename(L, oi + 1));
  bool create = lsg_opt_boolean(L, oi, "create_graph", false, "backward");
  bool retain = lsg_opt_boolean(L, oi, "retain_graph", create, "backward");
  check_outputs(L, &x, &g, 1, "backward");
  lsg_check_status(L, sg_backward(&x, g ? &g : NULL, 1, retain, create));
  return 0;
}

/* True if the table at idx looks like an options table (string keys only). */
static bool is_opts_table(lua_State *L, int idx) {
  if (!lua_istable(L, idx) || luaL_testudata(L, idx, LSG_TENSOR_MT)) return false;
  if (lua_rawlen(L, idx) > 0) return false;
  lua_pushnil(L);
  if (!lua_next(L, idx)) return false; /* empty: as nil */
  bool str = lua_type(L, -2) == LUA_TSTRING;
  lua_pop(L, 2);
  return str;
}

/* ---- sg.backward(tensors, grad_tensors, {retain_graph=, create_graph=}) ---- */

static int f_backward(lua_State *L) {
  sg_tensor *outs[MAX_TENSORS], *grads[MAX_TENSORS];
  int n = check_tensor_list(L, 1, "backward", "tensors", outs);
  int gi = 2, oi = 3;
  if (lua_gettop(L) == 2 && is_opts_table(L, 2)) {
    gi = 0;
    oi = 2;
  }
  if (gi) check_grad_list(L, gi, n, "backward", "argument 2 (grad_tensors)", grads);
  else
    for (int i = 0; i < n; i++) grads[i] = NULL;
  lsg_check_opt_keys(L, oi, "backward", backward_keys);
  if (lua_gettop(L) > oi)
    return luaL_error(L, "sgen.backward: unexpected argument %d (%s) after the options table",
                      oi + 1, lsg_typename(L, oi + 1));
  bool create = lsg_opt_boolean(L, oi, "create_graph", false, "backward");
  bool retain = lsg_opt_boolean(L, oi, "retain_graph", create, "backward");
  check_outputs(L, outs, grads, n, "backward");
  lsg_check_status(L, sg_backward(outs, grads, n, retain, create));
  return 0;
}

/* ---- sg.grad(outputs, inputs, {grad_outputs=, retain_graph=, create_graph=, allow_unused=}) ---- */

static int f_grad(lua_State *L) {
  sg_tensor *outs[MAX_TENSORS], *gouts[MAX_TENSORS], *ins[MAX_TENSORS];
  int n_out = check_tensor_list(L, 1, "grad", "outputs", outs);
  int n_in = check_tensor_list(L, 2, "grad", "inputs", ins);
  static const char *const keys[] = {"grad_outputs", "retain_graph", "create_graph",
                                     "allow_unused", NULL};
  lsg_check_opt_keys(L, 3, "grad", keys);
  if (lua_gettop(L) > 3)
    return luaL_error(L, "sgen.grad: unexpected argument 4 (%s) after the options table",
                      lsg_typename(L, 4));
  bool create = lsg_opt_boolean(L, 3, "create_graph", false, "grad");
  bool retain = lsg_opt_boolean(L, 3, "retain_graph", create, "grad");
  bool allow_unused = lsg_opt_boolean(L, 3, "allow_unused", false, "grad");
  if (lua_istable(L, 3)) lua_getfield(L, 3, "grad_outputs");
  else lua_pushnil(L);
  check_grad_list(L, lua_gettop(L), n_out, "grad", "option 'grad_outputs'", gouts);
  check_outputs(L, outs, gouts, n_out, "grad");
  for (int i = 0; i < n_in; i++)
    if (!ins[i]->requires_grad) {
      char a[128];
      return luaL_error(L, "sgen.grad: inputs[%d] (%s) does not require grad", i + 1,
                        sg_shape_str(ins[i], a, sizeof a));
    }
  /* A userdata holds the results so that nothing leaks if pushing raises. */
  sg_tensor **res = lua_newuserdatauv(L, sizeof(sg_tensor *) * (size_t)n_in, 0);
  memset(res, 0, sizeof(sg_tensor *) * (size_t)n_in);
  /* allow_unused is applied here, to name the input 1-based. */
  lsg_check_status(L, sg_grad(outs, gouts, n_out, ins, n_in, res, retain, create, true));
  for (int i = 0; i < n_in; i++)
    if (!res[i] && !allow_unused) {
      sg_release_all(res, n_in);
      return luaL_error(L, "sgen.grad: inputs[%d] is not reachable from the outputs (pass "
                        "allow_unused=true to get nil for it)", i + 1);
    }
  lua_createtable(L, n_in, 0);
  for (int i = 0; i < n_in; i++) {
    if (!res[i]) continue;
    sg_tensor *g = res[i];
    res[i] = NULL;
    lsg_push_tensor(L, g);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* ---- grad mode ---- */

/* Calls the function at 1 with the arguments after it with grad mode `on`;
 * restores the previous mode even on error, then re-raises the error or
 * returns the function's results. */
static int run_with_mode(lua_State *L, bool on, const char *fname) {
  if (lua_type(L, 1) != LUA_TFUNCTION && !luaL_getmetafield(L, 1, "__call"))
    return luaL_error(L, "sgen.%s: argument 1 (fn) expected a function, got %s", fname,
                      lsg_typename(L, 1));
  if (lua_type(L, 1) != LUA_TFUNCTION) lua_pop(L, 1); /* the __call field */
  bool prev = sg_set_grad_enabled(on);
  int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  sg_set_grad_enabled(prev);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

static int f_no_grad(lua_State *L) { return run_with_mode(L, false, "no_grad"); }
static int f_enable_grad(lua_State *L) { return run_with_mode(L, true, "enable_grad"); }

static int f_set_grad_enabled(lua_State *L) {
  bool on = lsg_check_boolean(L, 1, "set_grad_enabled", "mode");
  lua_pushboolean(L, sg_set_grad_enabled(on));
  return 1;
}

static int f_is_grad_enabled(lua_State *L) {
  lua_pushboolean(L, sg_grad_enabled());
  return 1;
}

/* ---- gradcheck / gradgradcheck of a Lua function ----
 *
 * The engine calls check_cb (a C function) with the input tensors; check_cb
 * runs the Lua function under lua_pcall so that an error inside it never
 * unwinds through engine frames. The error object waits in a stack slot of
 * f_gradcheck and is raised after the engine returns. */

#define MAX_CHECK_INPUTS 16 /* the engine checks at most 16 inputs */

typedef struct check_ctx {
  lua_State *L;
  int fn;      /* absolute stack indices in the frame of the binding */
  int list;    /* the inputs list: its userdata stand for orig[] */
  int errslot; /* the error object, once failed */
  int n;
  sg_tensor *orig[MAX_CHECK_INPUTS];
  bool failed;
  bool bad_return; /* f returned a non-tensor, whose type name is the error */
  sg_tensor *result;
} check_ctx;

/* Runs under lua_pcall: (fn, list, ctx, inputs) -> stores f's tensor. */
static int check_call(lua_State *L) {
  check_ctx *c = lua_touserdata(L, 3);
  sg_tensor **inputs = lua_touserdata(L, 4);
  lua_settop(L, 2);
  lua_pushvalue(L, 1);
  for (int i = 0; i < c->n; i++) {
    if (inputs[i] == c->orig[i]) lua_rawgeti(L, 2, i + 1);
    else lsg_push_tensor(L, sg_retain(inputs[i]));
  }
  lua_call(L, c->n, 1);
  sg_tensor *r = lsg_to_tensor(L, -1);
  if (!r) {
    c->bad_return = true;
    lua_pushstring(L, lsg_typename(L, -1));
    return lua_error(L);
  }
  c->result = sg_retain(r);
  return 0;
}

static sg_tensor *check_cb(sg_tensor **inputs, int n, void *ctx) {
  check_ctx *c = ctx;
  lua_State *L = c->L;
  if (c->failed) {
    sg_error(SG_ERR_ARG, "the Lua function raised an error");
    return NULL;
  }
  if (n != c->n || !lua_checkstack(L, 8)) {
    sg_error(SG_ERR_ARG, "gradcheck: internal error calling the Lua function");
    return NULL;
  }
  lua_pushcfunction(L, check_call);
  lua_pushvalue(L, c->fn);
  lua_pushvalue(L, c->list);
  lua_pushlightuserdata(L, c);
  lua_pushlightuserdata(L, inputs);
  c->result = NULL;
  if (lua_pcall(L, 4, 0, 0) != LUA_OK) {
    lua_replace(L, c->errslot);
    c->failed = true;
    sg_release(c->result);
    c->result = NULL;
    sg_error(SG_ERR_ARG, "the Lua function raised an error");
    return NULL;
  }
  sg_tensor *r = c->result;
  c->result = NULL;
  return r;
}

static int run_check(lua_State *L, const char *fname, bool second) {
  if (lua_type(L, 1) != LUA_TFUNCTION)
    return luaL_error(L, "sgen.%s: argument 1 (f) expected a function, got %s", fname,
                      lsg_typename(L, 1));
  sg_tensor *ins[MAX_TENSORS];
  int n = check_tensor_list(L, 2, fname, "inputs", ins);
  if (n > MAX_CHECK_INPUTS)
    return luaL_error(L, "sgen.%s: %d inputs given, at most %d are supported", fname, n,
                      MAX_CHECK_INPUTS);
  static const char *const keys[] = {"eps", "atol", "rtol", "seed", "raise_exception", NULL};
  lsg_check_opt_keys(L, 3, fname, keys);
  if (lua_gettop(L) > 3)
    return luaL_error(L, "sgen.%s: unexpected argument 4 (%s) after the options table", fname,
                      lsg_typename(L, 4));
  sg_gradcheck_opts o = {.input_base = 1}; /* messages number the inputs as Lua lists do */
  o.eps = lsg_opt_number(L, 3, "eps", 1e-6, fname);
  o.atol = lsg_opt_number(L, 3, "atol", 1e-5, fname);
  o.rtol = lsg_opt_number(L, 3, "rtol", 1e-3, fname);
  int64_t seed = lsg_opt_integer(L, 3, "seed", 1234, fname);
  bool raise = lsg_opt_boolean(L, 3, "raise_exception", true, fname);
  if (!(o.eps > 0 && o.eps < 1))
    return luaL_error(L, "sgen.%s: option 'eps' must be in (0, 1), got %f", fname, o.eps);
  if (!(o.atol >= 0) || !(o.rtol >= 0))
    return luaL_error(L, "sgen.%s: options 'atol' and 'rtol' must be >= 0, got %f and %f",
                      fname, o.atol, o.rtol);
  /* The engine reads 0 as "default": the smallest positive double is 0 for
   * every practical purpose. */
  if (o.atol == 0) o.atol = DBL_MIN;
  if (o.rtol == 0) o.rtol = DBL_MIN;
  o.seed = seed ? (uint64_t)seed : 1234;
  /* A table of the inputs (tensor or list) for check_call to pass on. */
  if (lsg_is_tensor(L, 2)) {
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, 1);
  } else {
    lua_pushvalue(L, 2);
  }
  check_ctx *c = lua_newuserdatauv(L, sizeof *c, 0);
  memset(c, 0, sizeof *c);
  c->L = L;
  c->fn = 1;
  c->list = lua_gettop(L) - 1;
  lua_pushnil(L);
  c->errslot = lua_gettop(L);
  c->n = n;
  for (int i = 0; i < n; i++) c->orig[i] = ins[i];
  sg_tensor *args[MAX_CHECK_INPUTS];
  for (int i = 0; i < n; i++) args[i] = ins[i];
  int top = lua_gettop(L);
  sg_status st = second ? sg_gradgradcheck(check_cb, c, args, n, &o)
                        : sg_gradcheck(check_cb, c, args, n, &o);
  lua_settop(L, top);
  if (c->failed) {
    if (c->bad_return)
      return luaL_error(L, "sgen.%s: f returned %s, expected a tensor", fname,
                        lua_tostring(L, c->errslot));
    if (lua_type(L, c->errslot) == LUA_TSTRING)
      return luaL_error(L, "sgen.%s: the function raised an error: %s", fname,
                        lua_tostring(L, c->errslot));
    lua_pushvalue(L, c->errslot);
    return lua_error(L);
  }
  if (st == SG_OK) {
    lua_pushboolean(L, 1);
    return 1;
  }
  const char *msg = sg_last_error();
  if (!msg || !*msg) msg = "check failed (no message from the engine)";
  if (raise) return luaL_error(L, "sgen.%s", msg);
  lua_pushstring(L, msg);
  lua_pushboolean(L, 0);
  lua_insert(L, -2);
  return 2;
}

static int f_gradcheck(lua_State *L) { return run_check(L, "gradcheck", false); }
static int f_gradgradcheck(lua_State *L) { return run_check(L, "gradgradcheck", true); }

void lsg_open_autograd(lua_State *L, int core, int methods) {
  static const luaL_Reg funcs[] = {{"backward", f_backward},
                                   {"grad", f_grad},
                                   {"no_grad", f_no_grad},
                                   {"enable_grad", f_enable_grad},
                                   {"set_grad_enabled", f_set_grad_enabled},
                                   {"is_grad_enabled", f_is_grad_enabled},
                                   {"gradcheck", f_gradcheck},
                                   {"gradgradcheck", f_gradgradcheck},
                                   {NULL, NULL}};
  lsg_register(L, core, funcs);
  static const luaL_Reg meths[] = {{"backward", t_backward}, {NULL, NULL}};
  lsg_register(L, methods, meths);
}
