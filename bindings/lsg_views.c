/* Views: view, reshape, permute, transpose, t, narrow, select, expand,
 * expand_as, squeeze, unsqueeze, flatten, split, chunk. Each is a method
 * (x:view(2, 3)) and a function (sgen.view(x, 2, 3)).
 *
 * Dims and indices are 1-based (negative from the end) and are checked here,
 * so that every message speaks in the Lua numbering; the engine's own checks
 * (0-based) are a second line that user input does not reach. */
#include <string.h>

#include "lsg.h"

/* Nothing may follow the sizes (catches x:view(2, "3")). */
static void check_end(lua_State *L, int idx, const char *fname) {
  if (!lua_isnone(L, idx))
    luaL_error(L, "sgen.%s: argument %d expected an integer size, got %s (sizes are integers "
               "or one table of integers)", fname, idx, lsg_typename(L, idx));
}

/* ---- view / reshape ---- */

static int shape_op(lua_State *L, const char *fname, bool copy) {
  sg_tensor *x = lsg_check_tensor(L, 1, fname, "input");
  int64_t shape[SG_MAX_DIMS];
  int next;
  int nd = lsg_check_shape(L, 2, shape, &next, true, fname);
  check_end(L, next, fname);
  int infer = 0;
  for (int i = 0; i < nd; i++) infer += shape[i] == -1;
  if (infer > 1) return luaL_error(L, "sgen.%s: only one size can be -1 (inferred)", fname);
  return lsg_push_result(L, copy ? sg_reshape(x, shape, nd) : sg_view(x, shape, nd));
}

static int f_view(lua_State *L) { return shape_op(L, "view", false); }
static int f_reshape(lua_State *L) { return shape_op(L, "reshape", true); }

/* ---- permute / transpose / t ---- */

/* permute(2, 1) or permute({2, 1}): a permutation of 1..ndim. */
static int64_t perm_entry(lua_State *L, bool table, int i) {
  if (!table) return lsg_check_integer(L, i + 1, "permute", "dim");
  lua_geti(L, 2, i);
  int isint = 0;
  lua_Integer v = lua_tointegerx(L, -1, &isint);
  if (!isint)
    luaL_error(L, "sgen.permute: dims[%d] expected an integer, got %s", i, lsg_typename(L, -1));
  lua_pop(L, 1);
  return (int64_t)v;
}

static int f_permute(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "permute", "input");
  bool table = lua_istable(L, 2) && !lsg_is_tensor(L, 2);
  lua_Integer n = table ? luaL_len(L, 2) : lua_gettop(L) - 1;
  if (table) check_end(L, 3, "permute");
  if (n != x->ndim) {
    char b[128];
    return luaL_error(L, "sgen.permute: got %I dims for a tensor with %d dims (%s); expected a "
                      "permutation of 1..%d", n, x->ndim, sg_shape_str(x, b, sizeof b), x->ndim);
  }
  int perm[SG_MAX_DIMS];
  bool seen[SG_MAX_DIMS] = {false};
  for (int i = 0; i < (int)n; i++) {
    int64_t g = perm_entry(L, table, i + 1);
    int d = lsg_dim(L, g, x->ndim, 0, "permute", "dim");
    if (seen[d])
      return luaL_error(L, "sgen.permute: dim %I repeated (expected a permutation of 1..%d)",
                        (lua_Integer)g, x->ndim);
    seen[d] = true;
    perm[i] = d;
  }
  return lsg_push_result(L, sg_permute(x, perm, (int)n));
}

static int f_transpose(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "transpose", "input");
  int a = lsg_check_dim(L, 2, x->ndim, "transpose", "dim0");
  int b = lsg_check_dim(L, 3, x->ndim, "transpose", "dim1");
  return lsg_push_result(L, sg_transpose(x, a, b));
}

static int f_t(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "t", "input");
  if (x->ndim > 2) {
    char b[128];
    return luaL_error(L, "sgen.t: expected a tensor with at most 2 dims, got %d (%s); use "
                      "transpose(dim0, dim1) or permute", x->ndim, sg_shape_str(x, b, sizeof b));
  }
  if (x->ndim < 2) return lsg_push_result_in(L, sg_transpose(x, 0, 0), "t");
  return lsg_push_result_in(L, sg_transpose(x, 0, 1), "t");
}

/* ---- narrow / select ---- */

static int f_narrow(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "narrow", "input");
  if (x->ndim == 0) return luaL_error(L, "sgen.narrow: cannot narrow a 0-dim tensor");
  int d = lsg_check_dim(L, 2, x->ndim, "narrow", "dim");
  int64_t start = lsg_check_integer(L, 3, "narrow", "start");
  int64_t len = lsg_check_integer(L, 4, "narrow", "length");
  int64_t size = x->shape[d];
  int64_t s0 = start > 0 ? start - 1 : start + size;
  if (start == 0 || s0 < 0 || s0 > size || len < 0 || len > size - s0) {
    char b[128];
    return luaL_error(L, "sgen.narrow: start %I with length %I is out of range for dim %d of "
                      "size %I (%s); start is 1-based (negative from the end) and "
                      "start + length - 1 must be <= %I",
                      (lua_Integer)start, (lua_Integer)len, d + 1, (lua_Integer)size,
                      sg_shape_str(x, b, sizeof b), (lua_Integer)size);
  }
  return lsg_push_result(L, sg_narrow(x, d, s0, len));
}

static int f_select(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "select", "input");
  if (x->ndim == 0) return luaL_error(L, "sgen.select: cannot select from a 0-dim tensor");
  int d = lsg_check_dim(L, 2, x->ndim, "select", "dim");
  int64_t i = lsg_check_integer(L, 3, "select", "index");
  int64_t n = x->shape[d];
  if (i == 0 || i > n || i < -n)
    return luaL_error(L, "sgen.select: index %I out of range for dim %d of size %I "
                      "(expected 1..%I or -%I..-1; indices are 1-based)",
                      (lua_Integer)i, d + 1, (lua_Integer)n, (lua_Integer)n, (lua_Integer)n);
  return lsg_push_result(L, sg_select(x, d, i > 0 ? i - 1 : i + n));
}

/* ---- expand / expand_as ---- */

static void check_expand(lua_State *L, const sg_tensor *x, const int64_t *shape, int nd,
                         const char *fname) {
  char a[128], b[128];
  if (nd < x->ndim)
    luaL_error(L, "sgen.%s: cannot expand %s to %s: the target has %d dims, fewer than the "
               "tensor's %d", fname, sg_shape_str(x, a, sizeof a), sg_dims_str(shape, nd, b, sizeof b),
               nd, x->ndim);
  for (int i = 0; i < nd; i++) {
    int it = i - (nd - x->ndim);
    if (it < 0) {
      if (shape[i] < 0)
        luaL_error(L, "sgen.%s: size -1 is not allowed for the new leading dim %d", fname, i + 1);
      continue;
    }
    if (shape[i] != -1 && shape[i] != x->shape[it] && x->shape[it] != 1)
      luaL_error(L, "sgen.%s: cannot expand %s to %s: dim %d has size %I, expected 1 or %I "
                 "(only size-1 dims can be expanded)", fname, sg_shape_str(x, a, sizeof a),
                 sg_dims_str(shape, nd, b, sizeof b), it + 1, (lua_Integer)x->shape[it],
                 (lua_Integer)shape[i]);
  }
}

static int f_expand(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "expand", "input");
  int64_t shape[SG_MAX_DIMS];
  int next;
  int nd = lsg_check_shape(L, 2, shape, &next, true, "expand");
  check_end(L, next, "expand");
  check_expand(L, x, shape, nd, "expand");
  return lsg_push_result(L, sg_expand(x, shape, nd));
}

static int f_expand_as(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "expand_as", "input");
  sg_tensor *o = lsg_check_tensor(L, 2, "expand_as", "other");
  check_expand(L, x, o->shape, o->ndim, "expand_as");
  return lsg_push_result_in(L, sg_expand(x, o->shape, o->ndim), "expand_as");
}

/* ---- squeeze / unsqueeze / flatten ---- */

static int f_squeeze(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "squeeze", "input");
  int d = lua_isnoneornil(L, 2) ? SG_ALL_DIMS : lsg_check_dim(L, 2, x->ndim, "squeeze", "dim");
  return lsg_push_result(L, sg_squeeze(x, d));
}

static int f_unsqueeze(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "unsqueeze", "input");
  int64_t dl = lsg_check_integer(L, 2, "unsqueeze", "dim");
  if (x->ndim >= SG_MAX_DIMS)
    return luaL_error(L, "sgen.unsqueeze: the tensor already has %d dims (the maximum)", x->ndim);
  int d = lsg_dim(L, dl, x->ndim, 1, "unsqueeze", "dim");
  return lsg_push_result(L, sg_unsqueeze(x, d));
}

static int f_flatten(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "flatten", "input");
  int s = lsg_opt_dim(L, 2, x->ndim, 0, "flatten", "start_dim");
  int e = lsg_opt_dim(L, 3, x->ndim, x->ndim ? x->ndim - 1 : 0, "flatten", "end_dim");
  if (s > e)
    return luaL_error(L, "sgen.flatten: start_dim %d is after end_dim %d", s + 1, e + 1);
  return lsg_push_result(L, sg_flatten(x, s, e));
}

/* ---- split / chunk: Lua lists of views ---- */

/* Pushes a Lua list of the n tensors in outs (taking the references). */
static void push_list(lua_State *L, sg_tensor **outs, int n) {
  lua_createtable(L, n, 0);
  for (int k = 0; k < n; k++) {
    sg_tensor *t = outs[k];
    outs[k] = NULL;
    lsg_push_tensor(L, t);
    lua_rawseti(L, -2, k + 1);
  }
}

/* Pieces of split_size along d through sg_split; count pieces expected. */
static int split_even(lua_State *L, sg_tensor *x, int64_t split_size, int d, int64_t count,
                      const char *fname) {
  if (count > INT32_MAX / 2)
    return luaL_error(L, "sgen.%s: %I pieces are too many", fname, (lua_Integer)count);
  sg_tensor **outs = lua_newuserdatauv(L, sizeof(sg_tensor *) * (size_t)(count ? count : 1), 0);
  int n = 0;
  if (sg_split(x, split_size, d, outs, (int)count, &n) != SG_OK)
    return lsg_raise_engine_in(L, strcmp(fname, "split") == 0 ? NULL : fname);
  push_list(L, outs, n);
  return 1;
}

static int f_split(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "split", "input");
  if (x->ndim == 0) return luaL_error(L, "sgen.split: cannot split a 0-dim tensor");
  int d = lsg_opt_dim(L, 3, x->ndim, 0, "split", "dim");
  int64_t size = x->shape[d];
  if (lua_istable(L, 2) && !lsg_is_tensor(L, 2)) { /* sizes of the pieces */
    lua_Integer n = luaL_len(L, 2);
    int64_t total = 0;
    for (lua_Integer i = 1; i <= n; i++) {
      lua_geti(L, 2, i);
      int isint = 0;
      lua_Integer v = lua_tointegerx(L, -1, &isint);
      if (!isint || v < 0)
        return luaL_error(L, "sgen.split: sizes[%I] expected a non-negative integer, got %s", i,
                          isint ? lua_pushfstring(L, "%I", v) : lsg_typename(L, -1));
      lua_pop(L, 1);
      total = v > INT64_MAX - total ? INT64_MAX : total + v;
    }
    if (total != size) {
      char b[128];
      return luaL_error(L, "sgen.split: sizes add up to %I but dim %d has size %I (input %s)",
                        (lua_Integer)total, d + 1, (lua_Integer)size, sg_shape_str(x, b, sizeof b));
    }
    lua_createtable(L, (int)n, 0);
    int64_t off = 0;
    for (lua_Integer i = 1; i <= n; i++) {
      lua_geti(L, 2, i);
      int64_t len = (int64_t)lua_tointeger(L, -1);
      lua_pop(L, 1);
      lsg_push_result_in(L, sg_narrow(x, d, off, len), "split");
      lua_rawseti(L, -2, i);
      off += len;
    }
    return 1;
  }
  int64_t split_size = lsg_check_integer(L, 2, "split", "split_size");
  if (split_size < 1 && !(split_size == 0 && size == 0))
    return luaL_error(L, "sgen.split: split_size must be >= 1, got %I", (lua_Integer)split_size);
  int64_t count = size == 0 ? 1 : (size - 1) / split_size + 1;
  return split_even(L, x, split_size, d, count, "split");
}

static int f_chunk(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "chunk", "input");
  if (x->ndim == 0) return luaL_error(L, "sgen.chunk: cannot chunk a 0-dim tensor");
  int64_t chunks = lsg_check_integer(L, 2, "chunk", "chunks");
  if (chunks < 1)
    return luaL_error(L, "sgen.chunk: chunks must be >= 1, got %I", (lua_Integer)chunks);
  int d = lsg_opt_dim(L, 3, x->ndim, 0, "chunk", "dim");
  int64_t size = x->shape[d];
  if (size == 0) { /* PyTorch: `chunks` empty pieces */
    if (chunks > INT32_MAX / 2)
      return luaL_error(L, "sgen.chunk: %I pieces are too many", (lua_Integer)chunks);
    lua_createtable(L, (int)chunks, 0);
    for (int64_t k = 0; k < chunks; k++) {
      lsg_push_result_in(L, sg_narrow(x, d, 0, 0), "chunk");
      lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    return 1;
  }
  int64_t split_size = size / chunks + (size % chunks != 0);
  return split_even(L, x, split_size, d, (size - 1) / split_size + 1, "chunk");
}

void lsg_open_views(lua_State *L, int core, int methods) {
  static const luaL_Reg both[] = {
      {"view", f_view},           {"reshape", f_reshape},     {"permute", f_permute},
      {"transpose", f_transpose}, {"t", f_t},                 {"narrow", f_narrow},
      {"select", f_select},       {"expand", f_expand},       {"expand_as", f_expand_as},
      {"squeeze", f_squeeze},     {"unsqueeze", f_unsqueeze}, {"flatten", f_flatten},
      {"split", f_split},         {"chunk", f_chunk},         {NULL, NULL}};
  lsg_register(L, core, both);
  lsg_register(L, methods, both);
}
