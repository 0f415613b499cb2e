/* Joining and indexing: sgen.cat, sgen.stack (functions), and gather,
 * scatter, scatter_add, index_select, topk, sort, argsort (methods and
 * functions).
 *
 * Every index is 1-based on the Lua side: index tensors given to gather,
 * scatter, scatter_add and index_select are int64 tensors of 1..size, checked
 * and converted to a new 0-based tensor before the engine sees them (the
 * caller's tensor is never modified); indices returned by topk, sort and
 * argsort are converted to 1-based. Index tensors are int64 and carry no
 * gradient, so the conversion leaves autograd through the values intact. */
#include <string.h>

#include "lsg.h"

/* ---- cat / stack ---- */

/* The tensors of the list at idx, in a buffer owned by a userdata pushed on
 * the stack (borrowed pointers; the list keeps them alive). */
static sg_tensor **tensor_list(lua_State *L, int idx, const char *fname, int *n_out) {
  if (!lua_istable(L, idx) || lsg_is_tensor(L, idx))
    luaL_error(L, "sgen.%s: argument %d (tensors) expected a list of tensors, got %s", fname,
               idx, lsg_typename(L, idx));
  lua_Integer n = luaL_len(L, idx);
  if (n < 1)
    luaL_error(L, "sgen.%s: argument %d (tensors) expected a non-empty list of tensors", fname,
               idx);
  if (n > INT32_MAX / 2) luaL_error(L, "sgen.%s: too many tensors (%I)", fname, n);
  sg_tensor **ts = lua_newuserdatauv(L, sizeof(sg_tensor *) * (size_t)n, 0);
  for (lua_Integer k = 1; k <= n; k++) {
    lua_geti(L, idx, k);
    lsg_tensor *u = luaL_testudata(L, -1, LSG_TENSOR_MT);
    if (!u)
      luaL_error(L, "sgen.%s: tensors[%I] expected a tensor, got %s", fname, k,
                 lsg_typename(L, -1));
    if (!u->t) luaL_error(L, "sgen.%s: tensors[%I] is a freed tensor", fname, k);
    ts[k - 1] = u->t;
    lua_pop(L, 1);
  }
  *n_out = (int)n;
  return ts;
}

/* 1-D empty tensors are skipped by cat (PyTorch's legacy rule). */
static bool cat_skipped(const sg_tensor *t) { return t->ndim == 1 && t->shape[0] == 0; }

static int f_cat(lua_State *L) {
  lua_settop(L, 2); /* the list's buffer goes above the arguments */
  int n;
  sg_tensor **ts = tensor_list(L, 1, "cat", &n);
  int ref = -1;
  for (int k = 0; k < n && ref < 0; k++)
    if (!cat_skipped(ts[k])) ref = k;
  if (ref >= 0 && ts[ref]->ndim == 0)
    return luaL_error(L, "sgen.cat: tensors[%d] is 0-dim; 0-dim tensors cannot be "
                      "concatenated (unsqueeze them or use sgen.stack)", ref + 1);
  int nd = ref >= 0 ? ts[ref]->ndim : 1;
  int d = lsg_opt_dim(L, 2, nd, 0, "cat", "dim");
  for (int k = 0; ref >= 0 && k < n; k++) {
    const sg_tensor *t = ts[k], *r = ts[ref];
    if (cat_skipped(t)) continue;
    bool ok = t->ndim == r->ndim;
    for (int i = 0; ok && i < t->ndim; i++)
      if (i != d && t->shape[i] != r->shape[i]) ok = false;
    if (!ok) {
      char a[128], b[128];
      return luaL_error(L, "sgen.cat: tensors[%d] has shape %s, expected the shape of "
                        "tensors[%d] (%s) in every dim but dim %d", k + 1,
                        sg_shape_str(t, a, sizeof a), ref + 1, sg_shape_str(r, b, sizeof b),
                        d + 1);
    }
  }
  return lsg_push_result(L, sg_cat(ts, n, d));
}

static int f_stack(lua_State *L) {
  lua_settop(L, 2);
  int n;
  sg_tensor **ts = tensor_list(L, 1, "stack", &n);
  for (int k = 1; k < n; k++)
    if (!sg_same_shape(ts[k], ts[0])) {
      char a[128], b[128];
      return luaL_error(L, "sgen.stack: tensors[%d] has shape %s, expected %s like tensors[1]",
                        k + 1, sg_shape_str(ts[k], a, sizeof a), sg_shape_str(ts[0], b, sizeof b));
    }
  int d = 0;
  if (!lua_isnoneornil(L, 2))
    d = lsg_dim(L, lsg_check_integer(L, 2, "stack", "dim"), ts[0]->ndim, 1, "stack", "dim");
  return lsg_push_result(L, sg_stack(ts, n, d));
}

/* ---- 1-based index tensors ---- */

/* Checks that the int64 tensor at idx holds indices in 1..size along Lua dim
 * `ldim` and returns a new 0-based copy (release it). */
static sg_tensor *zero_based(lua_State *L, int idx, int64_t size, int ldim, const char *fname) {
  sg_tensor *index = lsg_check_tensor(L, idx, fname, "index");
  if (index->dtype != SG_INT64)
    luaL_error(L, "sgen.%s: argument %d (index) has dtype %s, expected int64 (1-based "
               "indices; convert with :long())", fname, idx, sg_dtype_name(index->dtype));
  if (sg_numel(index) > 0) {
    double lo = 0, hi = 0;
    sg_tensor *mn = sg_min_all(index);
    sg_status st = mn ? sg_item(mn, &lo) : sg_last_status();
    sg_release(mn);
    sg_tensor *mx = st == SG_OK ? sg_max_all(index) : NULL;
    st = mx ? sg_item(mx, &hi) : sg_last_status();
    sg_release(mx);
    if (st != SG_OK) lsg_raise_engine_in(L, fname);
    if (lo < 1 || hi > (double)size) {
      double bad = lo < 1 ? lo : hi;
      luaL_error(L, "sgen.%s: index %I out of range for dim %d of size %I (expected 1..%I; "
                 "indices are 1-based)", fname, (lua_Integer)bad, ldim, (lua_Integer)size,
                 (lua_Integer)size);
    }
  }
  sg_tensor *z = sg_sub_scalar(index, 1);
  if (!z) lsg_raise_engine_in(L, fname);
  return z;
}

/* index must have x's number of dims and fit inside `what` in every dim but
 * skip (-1: every dim), as gather and scatter require. */
static void check_fits(lua_State *L, const sg_tensor *index, const sg_tensor *t,
                       const char *what, int skip, const char *fname) {
  char a[128], b[128];
  if (index->ndim != t->ndim)
    luaL_error(L, "sgen.%s: index has %d dims (%s), expected %d like the %s (%s)", fname,
               index->ndim, sg_shape_str(index, a, sizeof a), t->ndim, what,
               sg_shape_str(t, b, sizeof b));
  for (int d = 0; d < t->ndim; d++)
    if (d != skip && index->shape[d] > t->shape[d])
      luaL_error(L, "sgen.%s: index (%s) is larger than the %s (%s) in dim %d", fname,
                 sg_shape_str(index, a, sizeof a), what, sg_shape_str(t, b, sizeof b), d + 1);
}

static int64_t dim_size(const sg_tensor *x, int d) { return x->ndim ? x->shape[d] : 1; }

static int f_gather(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "gather", "input");
  int d = lsg_check_dim(L, 2, x->ndim, "gather", "dim");
  check_fits(L, lsg_check_tensor(L, 3, "gather", "index"), x, "input", d, "gather");
  sg_tensor *z = zero_based(L, 3, dim_size(x, d), d + 1, "gather");
  sg_tensor *r = sg_gather(x, d, z);
  sg_release(z);
  return lsg_push_result(L, r);
}

static int scatter_impl(lua_State *L, const char *fname, bool accumulate) {
  sg_tensor *x = lsg_check_tensor(L, 1, fname, "input");
  int d = lsg_check_dim(L, 2, x->ndim, fname, "dim");
  sg_tensor *index = lsg_check_tensor(L, 3, fname, "index");
  check_fits(L, index, x, "input", d, fname);
  sg_tensor *src = NULL, *owned = NULL;
  if (!accumulate && lua_type(L, 4) == LUA_TNUMBER) { /* scatter(dim, index, value) */
    owned = sg_full(index->shape, index->ndim, lua_tonumber(L, 4), x->dtype, x->storage->device);
    if (!owned) return lsg_raise_engine_in(L, fname);
    lsg_push_tensor(L, owned); /* the collector owns it from here */
    src = owned;
  } else {
    if (!accumulate && !luaL_testudata(L, 4, LSG_TENSOR_MT))
      return luaL_error(L, "sgen.%s: argument 4 (src) expected a tensor or a number, got %s",
                        fname, lsg_typename(L, 4));
    src = lsg_check_tensor(L, 4, fname, "src");
    check_fits(L, index, src, "src", -1, fname);
    if (src->dtype != x->dtype)
      return luaL_error(L, "sgen.%s: src has dtype %s, expected the input's dtype %s", fname,
                        sg_dtype_name(src->dtype), sg_dtype_name(x->dtype));
  }
  sg_tensor *z = zero_based(L, 3, dim_size(x, d), d + 1, fname);
  sg_tensor *r = accumulate ? sg_scatter_add(x, d, z, src) : sg_scatter(x, d, z, src);
  sg_release(z);
  return lsg_push_result(L, r);
}

static int f_scatter(lua_State *L) { return scatter_impl(L, "scatter", false); }
static int f_scatter_add(lua_State *L) { return scatter_impl(L, "scatter_add", true); }

static int f_index_select(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "index_select", "input");
  if (x->ndim == 0) return luaL_error(L, "sgen.index_select: the input is 0-dim, expected at least 1 dim");
  int d = lsg_check_dim(L, 2, x->ndim, "index_select", "dim");
  lua_settop(L, 3);
  if (lua_istable(L, 3) && !lsg_is_tensor(L, 3)) { /* a Lua list of indices */
    lua_Integer n = luaL_len(L, 3);
    if (n < 0 || n > INT32_MAX) return luaL_error(L, "sgen.index_select: index list too long");
    int64_t *buf = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)(n ? n : 1), 0);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_geti(L, 3, i);
      int isint = 0;
      buf[i - 1] = (int64_t)lua_tointegerx(L, -1, &isint);
      if (!isint)
        return luaL_error(L, "sgen.index_select: index[%I] expected an integer, got %s", i,
                          lua_type(L, -1) == LUA_TNUMBER
                              ? lua_pushfstring(L, "%f", lua_tonumber(L, -1))
                              : lsg_typename(L, -1));
      lua_pop(L, 1);
    }
    int64_t shape[1] = {(int64_t)n};
    sg_tensor *t = sg_from_data(buf, shape, 1, SG_INT64);
    if (t && x->storage->device.type != SG_CPU) {
      sg_tensor *m = sg_to_device(t, x->storage->device);
      sg_release(t);
      t = m;
    }
    if (!t) return lsg_raise_engine_in(L, "index_select");
    lsg_push_tensor(L, t);
    lua_replace(L, 3);
  }
  sg_tensor *index = lsg_check_tensor(L, 3, "index_select", "index");
  if (index->ndim > 1) {
    char a[128];
    return luaL_error(L, "sgen.index_select: index has shape %s, expected a 1-D tensor", sg_shape_str(index, a, sizeof a));
  }
  sg_tensor *z = zero_based(L, 3, x->shape[d], d + 1, "index_select");
  sg_tensor *r = sg_index_select(x, d, z);
  sg_release(z);
  return lsg_push_result(L, r);
}

/* ---- topk / sort / argsort ---- */

/* 0-based int64 indices -> a new 1-based tensor (idx is released). */
static sg_tensor *one_based(sg_tensor *idx) {
  if (!idx) return NULL;
  sg_tensor *r = sg_add_scalar(idx, 1);
  sg_release(idx);
  return r;
}

/* Pushes values and 1-based indices (taking both references). */
static int push_pair(lua_State *L, sg_tensor *v, sg_tensor *i, const char *fname) {
  lsg_push_tensor(L, v);
  lsg_push_result_in(L, one_based(i), fname);
  return 2;
}

/* An optional dim at idx (default: the last) followed by an optional options
 * table; an options table may also stand at idx. Sets *opts (0: none). */
static int dim_then_opts(lua_State *L, int idx, const sg_tensor *x, const char *fname,
                         const char *const *keys, int *opts) {
  int d = x->ndim ? x->ndim - 1 : 0;
  *opts = 0;
  if (lua_istable(L, idx) && !lsg_is_tensor(L, idx)) {
    if (lua_rawlen(L, idx) > 0)
      luaL_error(L, "sgen.%s: argument %d (dim) expected an integer or an options table, got a "
                 "list (%s works along one dim)", fname, idx, fname);
    *opts = idx;
  } else {
    if (!lua_isnoneornil(L, idx)) d = lsg_check_dim(L, idx, x->ndim, fname, "dim");
    if (lsg_has_opts(L, idx + 1, fname)) *opts = idx + 1;
  }
  if (*opts) lsg_check_opt_keys(L, *opts, fname, keys);
  return d;
}

static const char *const topk_keys[] = {"largest", "sorted", NULL};

static int f_topk(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "topk", "input");
  int64_t k = lsg_check_integer(L, 2, "topk", "k");
  int opts;
  int d = dim_then_opts(L, 3, x, "topk", topk_keys, &opts);
  bool largest = lsg_opt_boolean(L, opts, "largest", true, "topk");
  bool sorted = lsg_opt_boolean(L, opts, "sorted", true, "topk");
  int64_t n = dim_size(x, d);
  if (x->ndim == 0 && k != 1)
    return luaL_error(L, "sgen.topk: k = %I out of range for a 0-dim tensor (expected 1)",
                      (lua_Integer)k);
  if (k < 0 || k > n) {
    char a[128];
    return luaL_error(L, "sgen.topk: k = %I out of range for dim %d of size %I (expected 0..%I; "
                      "input %s)", (lua_Integer)k, d + 1, (lua_Integer)n, (lua_Integer)n,
                      sg_shape_str(x, a, sizeof a));
  }
  sg_tensor *v = NULL, *i = NULL;
  if (sg_topk(x, k, d, largest, sorted, &v, &i) != SG_OK) return lsg_raise_engine(L);
  return push_pair(L, v, i, "topk");
}

static const char *const sort_keys[] = {"descending", "stable", NULL};

static int sort_impl(lua_State *L, const char *fname, bool want_values) {
  sg_tensor *x = lsg_check_tensor(L, 1, fname, "input");
  int opts;
  int d = dim_then_opts(L, 2, x, fname, sort_keys, &opts);
  bool descending = lsg_opt_boolean(L, opts, "descending", false, fname);
  (void)lsg_opt_boolean(L, opts, "stable", true, fname); /* always stable */
  sg_tensor *v = NULL, *i = NULL;
  bool prev = want_values ? sg_grad_enabled() : sg_set_grad_enabled(false);
  sg_status st = sg_sort(x, d, descending, &v, &i);
  if (!want_values) sg_set_grad_enabled(prev);
  if (st != SG_OK) return lsg_raise_engine_in(L, want_values ? NULL : fname);
  if (want_values) return push_pair(L, v, i, fname);
  sg_release(v);
  return lsg_push_result_in(L, one_based(i), fname);
}

static int f_sort(lua_State *L) { return sort_impl(L, "sort", true); }
static int f_argsort(lua_State *L) { return sort_impl(L, "argsort", false); }

void lsg_open_index(lua_State *L, int core, int methods) {
  static const luaL_Reg funcs[] = {{"cat", f_cat}, {"stack", f_stack}, {NULL, NULL}};
  lsg_register(L, core, funcs);
  static const luaL_Reg both[] = {
      {"gather", f_gather},   {"scatter", f_scatter},   {"scatter_add", f_scatter_add},
      {"index_select", f_index_select}, {"topk", f_topk}, {"sort", f_sort},
      {"argsort", f_argsort}, {NULL, NULL}};
  lsg_register(L, core, both);
  lsg_register(L, methods, both);
}
