/* Torch7-style indexing, 1-based: x[i], x[{i, {a, b}, {}}], x[mask], and
 * the matching assignments x[...] = value.
 *
 *   integer i      selects index i of the next dim (the dim goes away);
 *                  negative counts from the end (-1 the last)
 *   {a, b}         the inclusive range a..b of the next dim (a view)
 *   {a}            the single index a, keeping the dim
 *   {}             the whole dim
 *   bool tensor    (alone) the elements where it is true, as a 1-d copy
 *
 * Reads of integers and ranges return views, as PyTorch's basic indexing;
 * a mask returns a copy (index_select), differentiable. Assignments write
 * in place through the view with copy_ / fill_, so they follow the
 * in-place rules of autograd (lsg_create.c, engine/autograd/inplace.c). */
#include <string.h>

#include "lsg.h"

/* Resolves a 1-based (or negative) index on a dim of size n; -1 on error
 * (message pushed as a Lua error by the caller). */
static int64_t resolve(lua_State *L, lua_Integer i, int64_t n, int pos, int dim) {
  if (i == 0 || i > n || i < -n)
    luaL_error(L, "sgen.index: index %I (entry %d) out of range for dim %d of size %I "
               "(expected 1..%I or -%I..-1; indices are 1-based)", i, pos, dim + 1,
               (lua_Integer)n, (lua_Integer)n, (lua_Integer)n);
  return i > 0 ? i - 1 : i + n;
}

static lua_Integer entry_integer(lua_State *L, int idx, int pos, const char *what) {
  int isint = 0;
  lua_Integer v = lua_tointegerx(L, idx, &isint);
  if (!isint)
    luaL_error(L, "sgen.index: entry %d: %s must be an integer, got %s", pos, what,
               lsg_typename(L, idx));
  return v;
}

/* One parsed entry: select index `a` of the dim (the dim goes away), or
 * narrow it to [a, a + len). */
typedef struct {
  bool select;
  int64_t a, len;
} index_entry;

/* The view of t selected by the index table at stack index `idx`. Every
 * entry is checked before a view is made, so an error leaks nothing. */
static sg_tensor *index_table(lua_State *L, sg_tensor *t, int idx) {
  int n = (int)lua_rawlen(L, idx);
  /* a list only: {a = 1} (or a typo'd key) must not read as {} (everything) */
  int nkeys = 0;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    nkeys++;
    lua_pop(L, 1);
  }
  if (nkeys != n)
    luaL_error(L, "sgen.index: an index table is a list {i, {a, b}, {}, ...}; this one has %d "
               "entries that are not at positions 1..%d", nkeys - n, n);
  if (n > t->ndim) luaL_error(L, "sgen.index: %d indices for a %d-dim tensor", n, t->ndim);
  index_entry e[SG_MAX_DIMS];
  int dim = 0; /* the dim of t the next entry indexes */
  for (int k = 1; k <= n; k++, dim++) {
    const int64_t size = t->shape[dim];
    lua_rawgeti(L, idx, k);
    if (lua_type(L, -1) == LUA_TNUMBER) {
      e[k - 1] = (index_entry){true, resolve(L, entry_integer(L, -1, k, "an index"), size, k, dim), 1};
    } else if (lua_type(L, -1) == LUA_TTABLE) {
      int m = (int)lua_rawlen(L, -1);
      if (m == 0) {
        e[k - 1] = (index_entry){false, 0, size};
      } else if (m <= 2) {
        lua_rawgeti(L, -1, 1);
        lua_Integer a = entry_integer(L, -1, k, "the range's first index");
        lua_pop(L, 1);
        lua_Integer b = a;
        if (m == 2) {
          lua_rawgeti(L, -1, 2);
          b = entry_integer(L, -1, k, "the range's last index");
          lua_pop(L, 1);
        }
        int64_t a0 = resolve(L, a, size, k, dim), b0 = resolve(L, b, size, k, dim);
        if (b0 < a0)
          luaL_error(L, "sgen.index: entry %d: range {%I, %I} is empty on dim %d of size %I "
                     "(the last index comes before the first)", k, a, b, dim + 1,
                     (lua_Integer)size);
        e[k - 1] = (index_entry){false, a0, b0 - a0 + 1};
      } else {
        luaL_error(L, "sgen.index: entry %d: a range is {first, last}, {index} or {}, got a "
                   "table of %d entries", k, m);
      }
    } else {
      luaL_error(L, "sgen.index: entry %d: expected an integer, a range {first, last} or {}, "
                 "got %s", k, lsg_typename(L, -1));
    }
    lua_pop(L, 1);
  }
  /* apply: a select removes its dim, so later entries shift down by one */
  sg_tensor *cur = sg_retain(t);
  for (int k = 0, d = 0; k < n && cur; k++) {
    sg_tensor *next = e[k].select ? sg_select(cur, d, e[k].a) : sg_narrow(cur, d, e[k].a, e[k].len);
    if (!e[k].select) d++;
    sg_release(cur);
    cur = next;
  }
  if (!cur) lsg_raise_engine(L);
  return cur;
}

/* Checks a boolean mask of t's shape and returns the flat int64 positions
 * where it is true (CPU). */
static sg_tensor *mask_positions(lua_State *L, sg_tensor *t, sg_tensor *mask) {
  char a[128], b[128];
  if (mask->dtype != SG_BOOL)
    luaL_error(L, "sgen.index: a tensor index must be a bool mask, got %s (integer indices: "
               "x:index_select)", sg_dtype_name(mask->dtype));
  if (!sg_same_shape(mask, t))
    luaL_error(L, "sgen.index: mask of shape %s, expected the tensor's shape %s",
               sg_shape_str(mask, a, sizeof a), sg_shape_str(t, b, sizeof b));
  sg_tensor *m = sg_to_device(mask, sg_cpu_device());
  sg_tensor *mc = m ? sg_contiguous(m) : NULL;
  sg_release(m);
  if (!mc) lsg_raise_engine(L);
  const unsigned char *p = sg_data_ptr(mc);
  int64_t n = sg_numel(mc), count = 0;
  for (int64_t i = 0; i < n; i++) count += p[i] != 0;
  sg_tensor *pos = sg_empty(&count, 1, SG_INT64, sg_cpu_device());
  if (!pos) {
    sg_release(mc);
    lsg_raise_engine(L);
  }
  int64_t *q = sg_data_ptr(pos);
  for (int64_t i = 0, j = 0; i < n; i++)
    if (p[i]) q[j++] = i;
  sg_release(mc);
  sg_tensor *pd = sg_to_device(pos, t->storage->device);
  sg_release(pos);
  if (!pd) lsg_raise_engine(L);
  return pd;
}

int lsg_index_get(lua_State *L, sg_tensor *t) {
  if (lua_type(L, 2) == LUA_TTABLE) return lsg_push_result(L, index_table(L, t, 2));
  sg_tensor *mask = lsg_check_tensor(L, 2, "index", "mask");
  sg_tensor *pos = mask_positions(L, t, mask);
  const int64_t all = sg_numel(t);
  sg_tensor *flat = sg_reshape(t, &all, 1);
  sg_tensor *r = flat ? sg_index_select(flat, 0, pos) : NULL;
  sg_release(flat);
  sg_release(pos);
  return lsg_push_result(L, r);
}

/* t[key] = value (stack: 1 t, 2 key, 3 value). */
int lsg_index_set(lua_State *L, sg_tensor *t) {
  const int kt = lua_type(L, 2);
  if (kt == LUA_TUSERDATA) {
    sg_tensor *mask = lsg_check_tensor(L, 2, "index", "mask");
    if (lua_type(L, 3) != LUA_TNUMBER && lua_type(L, 3) != LUA_TBOOLEAN)
      return luaL_error(L, "sgen.index: x[mask] = value takes a number, got %s (tensors: "
                        "sg.where(mask, value, x))", lsg_typename(L, 3));
    double v = lua_isboolean(L, 3) ? lua_toboolean(L, 3) : lua_tonumber(L, 3);
    sg_tensor *pos = mask_positions(L, t, mask); /* checks the mask */
    sg_release(pos);
    const bool recorded = sg_grad_enabled() && t->requires_grad;
    sg_tensor *src = recorded ? sg_clone(t) : sg_retain(t);
    sg_tensor *r = src ? sg_masked_fill(src, mask, v) : NULL;
    sg_status st = r ? sg_assign_(t, r, "index") : sg_last_status();
    sg_release(src);
    sg_release(r);
    lsg_check_status(L, st);
    return 0;
  }
  /* the leaf rule first: the view written below is not a leaf, and would
   * draw the shared-memory refusal instead of the advice that applies */
  lsg_check_status(L, sg_check_inplace(t, "index"));
  sg_tensor *view;
  if (kt == LUA_TNUMBER) {
    if (t->ndim == 0) return luaL_error(L, "sgen.index: cannot index a 0-dim tensor");
    int isint = 0;
    lua_Integer i = lua_tointegerx(L, 2, &isint);
    if (!isint) return luaL_error(L, "sgen.index: index must be an integer, got %f", lua_tonumber(L, 2));
    view = sg_select(t, 0, resolve(L, i, t->shape[0], 1, 0));
    if (!view) lsg_raise_engine(L);
  } else {
    view = index_table(L, t, 2);
  }
  lsg_push_tensor(L, view); /* owned by Lua from here: an error below leaks nothing */
  if (lua_type(L, 3) == LUA_TNUMBER || lua_type(L, 3) == LUA_TBOOLEAN) {
    double v = lua_isboolean(L, 3) ? lua_toboolean(L, 3) : lua_tonumber(L, 3);
    lsg_fill_into(L, view, v, "index");
  } else if (lsg_is_tensor(L, 3)) {
    lsg_copy_into(L, view, lsg_check_tensor(L, 3, "index", "value"), "index");
  } else {
    return luaL_error(L, "sgen.index: x[...] = value takes a number or a tensor, got %s",
                      lsg_typename(L, 3));
  }
  return 0;
}
