/* Reductions: sum, mean, var, std, norm, logsumexp, max, min, argmax, argmin.
 * Each is a method (x:sum(2)) and a function (sgen.sum(x, 2)).
 *
 * Calling convention (docs/lua-api.md, section Reductions):
 *   x:sum()                      all dims
 *   x:sum(dim [, keepdim])       one dim (1-based, negative from the end)
 *   x:sum({d1, d2} [, keepdim])  several dims
 *   keepdim is a boolean, or an options table {keepdim = true} in its place;
 *   an options table may also stand in place of the dim: x:sum({keepdim=true}).
 * var and std take their flags only in the options table
 * (x:var(dim, {unbiased = false, keepdim = true})): a positional boolean is
 * refused there, because PyTorch's positional var(dim, unbiased) would be
 * silently misread as keepdim.
 * max/min/argmax/argmin reduce one dim; the indices they return are int64
 * and 1-based. */
#include <math.h>
#include <string.h>

#include "lsg.h"

/* A table that is not a tensor and has no list part: an options table. */
static bool is_opts_table(lua_State *L, int idx) {
  if (!lua_istable(L, idx) || lsg_is_tensor(L, idx)) return false;
  return lua_rawlen(L, idx) == 0;
}

/* Parsed (dims, keepdim, options) of a reduction. */
typedef struct rargs {
  int dims[SG_MAX_DIMS];
  int ndims; /* 0: all dims */
  bool keepdim;
  int opts;  /* stack index of the options table, 0 if none */
} rargs;

/* Reads x:f([dim | {dims} | opts] [, keepdim | opts]) starting at `first`.
 * allow_bool: a boolean may stand for keepdim after the dim. */
static void reduce_args(lua_State *L, int first, const sg_tensor *x, const char *fname,
                        const char *const *keys, bool allow_bool, rargs *r) {
  r->ndims = 0;
  r->keepdim = false;
  r->opts = 0;
  int after = first + 1;
  if (is_opts_table(L, first)) {
    r->opts = first;
    after = 0;
  } else if (lua_istable(L, first) && !lsg_is_tensor(L, first)) {
    lua_Integer n = luaL_len(L, first);
    if (n > SG_MAX_DIMS)
      luaL_error(L, "sgen.%s: %I dims listed, a tensor has at most %d", fname, n, SG_MAX_DIMS);
    bool seen[SG_MAX_DIMS] = {false};
    for (lua_Integer i = 1; i <= n; i++) {
      lua_geti(L, first, i);
      int isint = 0;
      lua_Integer v = lua_tointegerx(L, -1, &isint);
      if (!isint)
        luaL_error(L, "sgen.%s: dims[%I] expected an integer, got %s", fname, i,
                   lua_type(L, -1) == LUA_TNUMBER ? lua_pushfstring(L, "%f", lua_tonumber(L, -1))
                                                  : lsg_typename(L, -1));
      lua_pop(L, 1);
      int d = lsg_dim(L, v, x->ndim, 0, fname, "dim");
      if (x->ndim > 0) {
        if (seen[d]) luaL_error(L, "sgen.%s: dim %I listed twice", fname, v);
        seen[d] = true;
      }
      r->dims[r->ndims++] = d;
    }
  } else if (!lua_isnoneornil(L, first)) {
    if (lua_type(L, first) != LUA_TNUMBER)
      luaL_error(L, "sgen.%s: argument %d (dim) expected an integer or a table of integers, "
                 "got %s", fname, first, lsg_typename(L, first));
    r->dims[0] = lsg_check_dim(L, first, x->ndim, fname, "dim");
    r->ndims = 1;
  }
  if (after) {
    if (lua_isboolean(L, after) && allow_bool) {
      r->keepdim = lua_toboolean(L, after);
    } else if (is_opts_table(L, after)) {
      r->opts = after;
    } else if (!lua_isnoneornil(L, after)) {
      luaL_error(L, "sgen.%s: argument %d expected %s, got %s", fname, after,
                 allow_bool ? "a boolean (keepdim) or an options table"
                            : "an options table {unbiased=, correction=, keepdim=}",
                 lua_istable(L, after) && !lsg_is_tensor(L, after) ? "a list"
                                                                   : lsg_typename(L, after));
    }
  }
  if (r->opts) {
    lsg_check_opt_keys(L, r->opts, fname, keys);
    r->keepdim = lsg_opt_boolean(L, r->opts, "keepdim", r->keepdim, fname);
  }
}

static const char *const keepdim_keys[] = {"keepdim", NULL};

/* mean, var, std, norm and logsumexp need a float tensor (as in PyTorch). */
static void require_float(lua_State *L, const sg_tensor *x, const char *fname) {
  if (sg_dtype_is_float(x->dtype)) return;
  char b[128];
  luaL_error(L, "sgen.%s: expected a float tensor (float32 or float64), got %s (input %s); "
             "convert it with x:float() or x:double() first", fname, sg_dtype_name(x->dtype),
             sg_shape_str(x, b, sizeof b));
}

/* ---- sum / mean / logsumexp ---- */

typedef sg_tensor *(*dims_fn)(sg_tensor *, const int *, int, bool);

static int dims_reduction(lua_State *L, const char *fname, dims_fn fn) {
  sg_tensor *x = lsg_check_tensor(L, 1, fname, "input");
  rargs r;
  reduce_args(L, 2, x, fname, keepdim_keys, true, &r);
  if (fn != sg_sum) require_float(L, x, fname);
  return lsg_push_result(L, fn(x, r.dims, r.ndims, r.keepdim));
}

static int f_sum(lua_State *L) { return dims_reduction(L, "sum", sg_sum); }
static int f_mean(lua_State *L) { return dims_reduction(L, "mean", sg_mean); }
static int f_logsumexp(lua_State *L) { return dims_reduction(L, "logsumexp", sg_logsumexp); }

/* ---- var / std: options {unbiased = true, correction = n, keepdim = false} ---- */

static const char *const var_keys[] = {"unbiased", "correction", "keepdim", NULL};

static int var_std(lua_State *L, const char *fname, bool is_std) {
  sg_tensor *x = lsg_check_tensor(L, 1, fname, "input");
  rargs r;
  reduce_args(L, 2, x, fname, var_keys, false, &r);
  require_float(L, x, fname);
  int correction = 1;
  if (r.opts) {
    bool unbiased = lsg_opt_boolean(L, r.opts, "unbiased", true, fname);
    correction = unbiased ? 1 : 0;
    lua_getfield(L, r.opts, "correction");
    bool has_corr = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (has_corr) {
      lua_getfield(L, r.opts, "unbiased");
      bool has_unb = !lua_isnil(L, -1);
      lua_pop(L, 1);
      if (has_unb)
        return luaL_error(L, "sgen.%s: give either 'unbiased' or 'correction', not both", fname);
      int64_t c = lsg_opt_integer(L, r.opts, "correction", 1, fname);
      if (c < 0 || c > INT32_MAX)
        return luaL_error(L, "sgen.%s: option 'correction' must be >= 0, got %I", fname,
                          (lua_Integer)c);
      correction = (int)c;
    }
  }
  sg_tensor *y = is_std ? sg_std(x, r.dims, r.ndims, correction, r.keepdim)
                        : sg_var(x, r.dims, r.ndims, correction, r.keepdim);
  return lsg_push_result(L, y);
}

static int f_var(lua_State *L) { return var_std(L, "var", false); }
static int f_std(lua_State *L) { return var_std(L, "std", true); }

/* ---- norm(p = 2, dim, keepdim) ---- */

static int f_norm(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "norm", "input");
  double p = 2;
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *s = lua_tostring(L, 2);
    if (strcmp(s, "fro") == 0) p = 2;
    else if (strcmp(s, "inf") == 0) p = INFINITY;
    else
      return luaL_error(L, "sgen.norm: argument 2 (p) expected a number, \"fro\" or \"inf\", "
                        "got \"%s\"", s);
  } else if (!lua_isnoneornil(L, 2)) {
    p = lsg_check_number(L, 2, "norm", "p");
  }
  if (!(p > 0))
    return luaL_error(L, "sgen.norm: p = %f is not supported (expected p > 0, or math.huge for "
                      "the largest |x|)", (lua_Number)p);
  rargs r;
  reduce_args(L, 3, x, "norm", keepdim_keys, true, &r);
  require_float(L, x, "norm");
  return lsg_push_result(L, sg_norm(x, p, r.dims, r.ndims, r.keepdim));
}

/* ---- max / min / argmax / argmin ---- */

/* 0-based int64 indices -> a new 1-based tensor (idx is released). */
static sg_tensor *one_based(sg_tensor *idx) {
  if (!idx) return NULL;
  sg_tensor *r = sg_add_scalar(idx, 1);
  sg_release(idx);
  return r;
}

/* Reads the dim (nil: none) and keepdim of max/min/argmax/argmin. Returns
 * the 0-based dim or SG_ALL_DIMS. */
static int one_dim_args(lua_State *L, const sg_tensor *x, const char *fname, bool *keepdim) {
  rargs r;
  if (lua_istable(L, 2) && !is_opts_table(L, 2) && !lsg_is_tensor(L, 2))
    luaL_error(L, "sgen.%s: argument 2 (dim) expected an integer, got a table of dims "
               "(%s reduces one dim)", fname, fname);
  if (!lua_isnoneornil(L, 2) && lua_type(L, 2) != LUA_TNUMBER && !is_opts_table(L, 2))
    luaL_error(L, "sgen.%s: argument 2 (dim) expected an integer, got %s", fname,
               lsg_typename(L, 2));
  reduce_args(L, 2, x, fname, keepdim_keys, true, &r);
  *keepdim = r.keepdim;
  if (r.ndims == 0) return SG_ALL_DIMS;
  if (x->ndim > 0 && x->shape[r.dims[0]] == 0) {
    char b[128];
    luaL_error(L, "sgen.%s: cannot reduce over dim %d of size 0 (input %s): the operation has "
               "no identity", fname, r.dims[0] + 1, sg_shape_str(x, b, sizeof b));
  }
  return r.dims[0];
}

static int minmax(lua_State *L, const char *fname, bool is_max) {
  sg_tensor *x = lsg_check_tensor(L, 1, fname, "input");
  if (lsg_is_tensor(L, 2)) { /* PyTorch's max(x, other): elementwise */
    sg_tensor *o = lsg_check_tensor(L, 2, fname, "other");
    return lsg_push_result_in(L, sg_binary(is_max ? SG_MAXIMUM : SG_MINIMUM, x, o), fname);
  }
  bool keepdim;
  int d = one_dim_args(L, x, fname, &keepdim);
  if (d == SG_ALL_DIMS) {
    if (keepdim)
      return luaL_error(L, "sgen.%s: keepdim needs a dim (%s() without a dim gives a 0-dim "
                        "tensor)", fname, fname);
    return lsg_push_result(L, is_max ? sg_max_all(x) : sg_min_all(x));
  }
  sg_tensor *vals = NULL, *idx = NULL;
  sg_status st = is_max ? sg_max_dim(x, d, keepdim, &vals, &idx)
                        : sg_min_dim(x, d, keepdim, &vals, &idx);
  if (st != SG_OK) return lsg_raise_engine(L);
  lsg_push_tensor(L, vals);
  lsg_push_result_in(L, one_based(idx), fname);
  return 2;
}

static int f_max(lua_State *L) { return minmax(L, "max", true); }
static int f_min(lua_State *L) { return minmax(L, "min", false); }

static int argminmax(lua_State *L, const char *fname, bool is_max) {
  sg_tensor *x = lsg_check_tensor(L, 1, fname, "input");
  bool keepdim;
  int d = one_dim_args(L, x, fname, &keepdim);
  sg_tensor *idx = is_max ? sg_argmax(x, d, keepdim) : sg_argmin(x, d, keepdim);
  if (!idx) return lsg_raise_engine(L);
  return lsg_push_result_in(L, one_based(idx), fname);
}

static int f_argmax(lua_State *L) { return argminmax(L, "argmax", true); }
static int f_argmin(lua_State *L) { return argminmax(L, "argmin", false); }

void lsg_open_reduce(lua_State *L, int core, int methods) {
  static const luaL_Reg both[] = {
      {"sum", f_sum},       {"mean", f_mean},     {"var", f_var},
      {"std", f_std},       {"norm", f_norm},     {"logsumexp", f_logsumexp},
      {"max", f_max},       {"min", f_min},       {"argmax", f_argmax},
      {"argmin", f_argmin}, {NULL, NULL}};
  lsg_register(L, core, both);
  lsg_register(L, methods, both);
}
