/* Matrix products (matmul, mm, bmm, outer: methods and functions) and the
 * `linalg` subtable of the module: sgen.linalg.cholesky(A, {upper=false}),
 * logdet(A), slogdet(A) -> sign, logabsdet, solve(A, B), inv(A),
 * eigh(A) -> eigenvalues, eigenvectors, trace(A), diagonal(A, {offset=0}),
 * all batched over leading dims and differentiable. */
#include <string.h>

#include "lsg.h"

/* ---- products ---- */

typedef sg_tensor *(*product_fn)(sg_tensor *, sg_tensor *);

static int product(lua_State *L, const char *fname, product_fn fn) {
  sg_tensor *a = lsg_check_tensor(L, 1, fname, "input");
  sg_tensor *b = lsg_check_tensor(L, 2, fname, "other");
  return lsg_push_result(L, fn(a, b));
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
  return lsg_push_result(L, sg_cholesky(a, upper));
}

static int f_logdet(lua_State *L) {
  return lsg_push_result(L, sg_logdet(lsg_check_tensor(L, 1, "linalg.logdet", "A")));
}

static int f_solve(lua_State *L) {
  sg_tensor *a = lsg_check_tensor(L, 1, "linalg.solve", "A");
  sg_tensor *b = lsg_check_tensor(L, 2, "linalg.solve", "B");
  return lsg_push_result(L, sg_solve(a, b));
}

static int f_inv(lua_State *L) {
  return lsg_push_result(L, sg_inv(lsg_check_tensor(L, 1, "linalg.inv", "A")));
}

static int f_slogdet(lua_State *L) {
  const char *fname = "linalg.slogdet";
  sg_tensor *a = lsg_check_tensor(L, 1, fname, "A");
  sg_tensor *sign = NULL, *logabs = NULL;
  if (sg_slogdet(a, &sign, &logabs) != SG_OK) return lsg_raise_engine(L);
  lsg_push_tensor(L, sign);
  lsg_push_tensor(L, logabs);
  return 2;
}

static int f_eigh(lua_State *L) {
  const char *fname = "linalg.eigh";
  sg_tensor *a = lsg_check_tensor(L, 1, fname, "A");
  sg_tensor *w = NULL, *v = NULL;
  if (sg_eigh(a, &w, &v) != SG_OK) return lsg_raise_engine(L);
  lsg_push_tensor(L, w);
  lsg_push_tensor(L, v);
  return 2;
}

static int f_trace(lua_State *L) {
  return lsg_push_result(L, sg_trace(lsg_check_tensor(L, 1, "linalg.trace", "A")));
}

static const char *const diagonal_keys[] = {"offset", NULL};

static int f_diagonal(lua_State *L) {
  const char *fname = "linalg.diagonal";
  sg_tensor *a = lsg_check_tensor(L, 1, fname, "A");
  int64_t offset = 0;
  if (lsg_has_opts(L, 2, fname)) {
    lsg_check_opt_keys(L, 2, fname, diagonal_keys);
    offset = lsg_opt_integer(L, 2, "offset", 0, fname);
  }
  return lsg_push_result(L, sg_diagonal(a, offset));
}

void lsg_open_linalg(lua_State *L, int core, int methods) {
  static const luaL_Reg both[] = {
      {"matmul", f_matmul}, {"mm", f_mm}, {"bmm", f_bmm}, {"outer", f_outer}, {NULL, NULL}};
  lsg_register(L, core, both);
  lsg_register(L, methods, both);
  static const luaL_Reg linalg[] = {{"cholesky", f_cholesky}, {"logdet", f_logdet},
                                    {"slogdet", f_slogdet},   {"solve", f_solve},
                                    {"inv", f_inv},           {"eigh", f_eigh},
                                    {"trace", f_trace},       {"diagonal", f_diagonal},
                                    {NULL, NULL}};
  lua_createtable(L, 0, 8);
  lsg_register(L, lua_gettop(L), linalg);
  lua_setfield(L, core, "linalg");
}
