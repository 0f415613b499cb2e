/* Sparsity projections (the C side of sg.sparse, ARCHITECTURE.md §3).
 * Forward zeros entries; the gradient flows through the kept entries only.
 *
 * k for the L0 projection: a Lua integer is a count (keep k entries per
 * sample); a float in (0, 1] is a fraction of the entries per sample (1.0
 * keeps everything); a float with a whole value > 1 (e.g. n / 2) is a count.
 * dims are 1-based (the default dim of l0inf is 2, the channels of NxCxHxW). */
#include <math.h>
#include <stdio.h>

#include "lsg.h"

/* The engine's k (count >= 1, or fraction in (0, 1)) for l0_project. */
static double check_l0_k(lua_State *L, int idx, sg_tensor *x, const char *fn) {
  if (lua_type(L, idx) != LUA_TNUMBER)
    luaL_error(L, "sgen.%s: argument %d (k) expected an integer count or a fraction in (0, 1], "
               "got %s",
               fn, idx, lsg_typename(L, idx));
  if (lua_isinteger(L, idx)) {
    lua_Integer k = lua_tointeger(L, idx);
    if (k < 1)
      luaL_error(L, "sgen.%s: argument %d (k) must be a count >= 1 or a fraction in (0, 1], "
                 "got %I",
                 fn, idx, k);
    return (double)k;
  }
  double k = lua_tonumber(L, idx);
  if (k > 0 && k < 1) return k;
  if (k == 1) { /* the fraction 1: every entry of a sample */
    int64_t m = x->ndim >= 1 && x->shape[0] > 0 ? sg_numel(x) / x->shape[0] : 0;
    return m > 0 ? (double)m : 1.0;
  }
  if (k > 1 && k == floor(k) && k < 9007199254740992.0) return k;
  luaL_error(L, "sgen.%s: argument %d (k) must be a count >= 1 or a fraction in (0, 1], got %f",
             fn, idx, (lua_Number)k);
  return 0;
}

static void check_batched(lua_State *L, sg_tensor *x, const char *fn) {
  if (x->ndim < 2) {
    char a[128];
    luaL_error(L, "sgen.%s: input has %d dims (%s), expected at least 2 (dim 1 is the batch)",
               fn, x->ndim, sg_shape_str(x, a, sizeof a));
  }
}

static int l0(lua_State *L, const char *fn, bool mask) {
  sg_tensor *x = lsg_check_tensor(L, 1, fn, "input");
  check_batched(L, x, fn);
  double k = check_l0_k(L, 2, x, fn);
  if (!lua_isnoneornil(L, 3))
    return luaL_error(L, "sgen.%s: takes (input, k), got a 3rd argument (%s)", fn,
                      lsg_typename(L, 3));
  return lsg_push_result(L, mask ? sg_l0_mask(x, k) : sg_l0_project(x, k));
}

static int f_l0_project(lua_State *L) { return l0(L, "l0_project", false); }
static int f_l0_mask(lua_State *L) { return l0(L, "l0_mask", true); }

static int l0inf(lua_State *L, const char *fn, bool mask) {
  static const char *const keys[] = {"dim", NULL};
  sg_tensor *x = lsg_check_tensor(L, 1, fn, "input");
  int64_t k = lsg_check_integer(L, 2, fn, "k");
  lsg_check_opt_keys(L, 3, fn, keys);
  int64_t dl = lsg_opt_integer(L, 3, "dim", 2, fn);
  check_batched(L, x, fn);
  int d = lsg_dim(L, dl, x->ndim, 0, fn, "option 'dim'");
  if (k < 1 || k > x->shape[d]) {
    char a[128];
    return luaL_error(L, "sgen.%s: k = %I out of range: expected 1..%I (the size of dim %I of "
                      "input %s)",
                      fn, (lua_Integer)k, (lua_Integer)x->shape[d], (lua_Integer)(d + 1),
                      sg_shape_str(x, a, sizeof a));
  }
  return lsg_push_result(L, mask ? sg_l0inf_mask(x, k, d) : sg_l0inf_project(x, k, d));
}

static int f_l0inf_project(lua_State *L) { return l0inf(L, "l0inf_project", false); }
static int f_l0inf_mask(lua_State *L) { return l0inf(L, "l0inf_mask", true); }

static int threshold(lua_State *L, const char *fn, bool soft) {
  sg_tensor *x = lsg_check_tensor(L, 1, fn, "input");
  if (lua_type(L, 2) == LUA_TNUMBER) {
    double lambda = lua_tonumber(L, 2);
    if (!(lambda >= 0))
      return luaL_error(L, "sgen.%s: argument 2 (lambda) must be >= 0, got %f", fn,
                        (lua_Number)lambda);
    return lsg_push_result(L, soft ? sg_soft_threshold(x, lambda) : sg_hard_threshold(x, lambda));
  }
  if (!lsg_is_tensor(L, 2) && !luaL_testudata(L, 2, LSG_TENSOR_MT))
    return luaL_error(L, "sgen.%s: argument 2 (lambda) expected a number or a tensor, got %s", fn,
                      lsg_typename(L, 2));
  sg_tensor *lam = lsg_check_tensor(L, 2, fn, "lambda");
  return lsg_push_result(L, soft ? sg_soft_threshold_t(x, lam) : sg_hard_threshold_t(x, lam));
}

static int f_soft_threshold(lua_State *L) { return threshold(L, "soft_threshold", true); }
static int f_hard_threshold(lua_State *L) { return threshold(L, "hard_threshold", false); }

void lsg_open_sparse(lua_State *L, int core, int methods) {
  (void)methods;
  static const luaL_Reg fns[] = {{"l0_project", f_l0_project},
                                 {"l0_mask", f_l0_mask},
                                 {"l0inf_project", f_l0inf_project},
                                 {"l0inf_mask", f_l0inf_mask},
                                 {"soft_threshold", f_soft_threshold},
                                 {"hard_threshold", f_hard_threshold},
                                 {NULL, NULL}};
  lsg_register(L, core, fns);
}
