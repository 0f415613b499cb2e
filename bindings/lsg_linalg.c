/* Matrix products (matmul, mm, bmm, outer: methods and functions) and the
 * `linalg` subtable of the module: sgen.linalg.cholesky(A, {upper=false}),
 * logdet(A), solve(A, B), inv(A), all batched over leading dims and
 * differentiable. */
#include <string.h>

#include "lsg.h"

/* Raises the engine's last error as "sgen.<fname>: ..." (replacing the
 * engine's op tag, see lsg_views.c). */
static int raise_as(lua_State *L, const char *fname) {
  const char *msg = sg_last_error();
  if (!msg || !*msg) msg = "operation failed (no message from the engine)";
  const char *colon = strstr(msg, ": ");
  if (colon) {
    const char *p = msg;
    while (p < colon && (*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))) p++;
    if (p == colon && p > msg) msg = colon + 2;
  }
  return luaL_error(L, "sgen.%s: %s", fname, msg);
}

static int push_as(lua_State *L, sg_tensor *t, const char *fname) {
  if (!t) return raise_as(L, fname);
  lsg_push_tensor(L, t);
  return 1;
}

/* ---- products ---- */

typedef sg_tensor *(*product_fn)(sg_tensor *, sg_tensor *);

static int product(lua_State *L, const char *fname, product_fn fn) {
  sg_tensor *a = lsg_check_tensor(L, 1, fname, "input");
  sg_tensor *b = lsg_check_tensor(L, 2, fname, "other");
  return push_as(L, fn(a, b), fname);
}

static int f_matmul(lua_State *L) { return product(L, "matmul", sg_matmul); }
static int f_mm(lua_State *L) { return product(L, "mm", sg_mm); }
static int f_bmm(lua_State *L) { return product(L, "bmm", sg_bmm); }
static int f_outer(lua_State *L) { return product(L, "outer", sg_outer); }

/* ---- sgen.linalg ---- */

static const char *const cholesky_keys[] = {"upper", NULL};

static int f_cholesky(lua_State *L) {
  const char *fname = "linalg.cholesky";
  sg_tensor *a = lsg_check_tensor(L, 1, fname, "A");
  bool upper = false;
  if (lsg_has_opts(L, 2, fname)) {
    lsg_check_opt_keys(L, 2, fname, cholesky_keys);
    upper = lsg_opt_boolean(L, 2, "upper", false, fname);
  }
  return push_as(L, sg_cholesky(a, upper), fname);
}

static int f_logdet(lua_State *L) {
  return push_as(L, sg_logdet(lsg_check_tensor(L, 1, "linalg.logdet", "A")), "linalg.logdet");
}

static int f_solve(lua_State *L) {
  sg_tensor *a = lsg_check_tensor(L, 1, "linalg.solve", "A");
  sg_tensor *b = lsg_check_tensor(L, 2, "linalg.solve", "B");
  return push_as(L, sg_solve(a, b), "linalg.solve");
}

static int f_inv(lua_State *L) {
  return push_as(L, sg_inv(lsg_check_tensor(L, 1, "linalg.inv", "A")), "linalg.inv");
}

void lsg_open_linalg(lua_State *L, int core, int methods) {
  static const luaL_Reg both[] = {
      {"matmul", f_matmul}, {"mm", f_mm}, {"bmm", f_bmm}, {"outer", f_outer}, {NULL, NULL}};
  lsg_register(L, core, both);
  lsg_register(L, methods, both);
  static const luaL_Reg linalg[] = {{"cholesky", f_cholesky}, {"logdet", f_logdet},
                                    {"solve", f_solve},       {"inv", f_inv},
                                    {NULL, NULL}};
  lua_createtable(L, 0, 4);
  lsg_register(L, lua_gettop(L), linalg);
  lua_setfield(L, core, "linalg");
}
