/* sgen.core's face of sgen/dist.h: a communicator userdata (LSG_DIST_MT)
 * whose methods are the collectives. lua/sgen/dist.lua keeps the one
 * communicator of sg.dist and checks the Lua-level options. */
#include <string.h>

#include "lsg.h"
#include "sgen/dist.h"

#define LSG_DIST_MT "sgen.DistComm"

typedef struct lsg_dist {
  sg_dist *d; /* NULL after destroy */
} lsg_dist;

static sg_dist *check_comm(lua_State *L, const char *fn) {
  lsg_dist *u = luaL_checkudata(L, 1, LSG_DIST_MT);
  if (u->d == NULL) luaL_error(L, "sgen.dist.%s: the communicator was destroyed", fn);
  return u->d;
}

static sg_dist_op check_op(lua_State *L, int idx, const char *fn) {
  const char *op = luaL_optstring(L, idx, "sum");
  if (strcmp(op, "sum") == 0) return SG_DIST_SUM;
  if (strcmp(op, "mean") == 0) return SG_DIST_MEAN;
  if (strcmp(op, "max") == 0) return SG_DIST_MAX;
  return (sg_dist_op)luaL_error(L, "sgen.dist.%s: unknown op '%s' (expected sum, mean or max)",
                                fn, op);
}

/* The engine's "dist.<op>: why" becomes "sgen.dist.<op>: why". */
static int raise_dist(lua_State *L) {
  const char *msg = sg_last_error();
  if (msg == NULL || *msg == '\0') msg = "operation failed (no message from the engine)";
  /* no position: lua/sgen/dist.lua re-raises at the caller's line */
  lua_pushfstring(L, "sgen.%s", msg);
  return lua_error(L);
}

static void check(lua_State *L, sg_status st) {
  if (st != SG_OK) raise_dist(L);
}

static int push_result(lua_State *L, sg_tensor *t) {
  if (t == NULL) return raise_dist(L);
  lsg_push_tensor(L, t);
  return 1;
}

static int f_built(lua_State *L) {
  lua_pushboolean(L, sg_dist_backend_built(luaL_checkstring(L, 1)));
  return 1;
}

static int f_init(lua_State *L) {
  const char *backend = luaL_checkstring(L, 1);
  bool debug = lua_toboolean(L, 2);
  lsg_dist *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->d = NULL;
  luaL_setmetatable(L, LSG_DIST_MT);
  u->d = sg_dist_init(backend, debug);
  if (u->d == NULL) raise_dist(L);
  return 1;
}

static int m_destroy(lua_State *L) {
  lsg_dist *u = luaL_checkudata(L, 1, LSG_DIST_MT);
  sg_dist_destroy(u->d);
  u->d = NULL;
  return 0;
}

static int m_info(lua_State *L) {
  sg_dist *d = check_comm(L, "info");
  lua_createtable(L, 0, 6);
  lua_pushstring(L, sg_dist_backend(d));
  lua_setfield(L, -2, "backend");
  lua_pushinteger(L, sg_dist_rank(d));
  lua_setfield(L, -2, "rank");
  lua_pushinteger(L, sg_dist_world_size(d));
  lua_setfield(L, -2, "world_size");
  lua_pushinteger(L, sg_dist_local_rank(d));
  lua_setfield(L, -2, "local_rank");
  lua_pushboolean(L, sg_dist_debug(d));
  lua_setfield(L, -2, "debug");
  return 1;
}

static int m_bytes(lua_State *L) {
  lua_pushinteger(L, sg_dist_bytes_communicated(check_comm(L, "bytes_communicated")));
  return 1;
}

static int m_all_reduce(lua_State *L) {
  sg_dist *d = check_comm(L, "all_reduce");
  sg_tensor *t = lsg_check_tensor(L, 2, "dist.all_reduce", "tensor");
  check(L, sg_dist_all_reduce(d, t, check_op(L, 3, "all_reduce")));
  lua_settop(L, 2);
  return 1;
}

static int m_broadcast(lua_State *L) {
  sg_dist *d = check_comm(L, "broadcast");
  sg_tensor *t = lsg_check_tensor(L, 2, "dist.broadcast", "tensor");
  int64_t root = lsg_check_integer(L, 3, "dist.broadcast", "root");
  if (root < 0 || root > 1 << 30) root = -1;
  check(L, sg_dist_broadcast(d, t, (int)root));
  lua_settop(L, 2);
  return 1;
}

static int m_all_gather(lua_State *L) {
  sg_dist *d = check_comm(L, "all_gather");
  sg_tensor *t = lsg_check_tensor(L, 2, "dist.all_gather", "tensor");
  return push_result(L, sg_dist_all_gather(d, t));
}

static int m_reduce_scatter(lua_State *L) {
  sg_dist *d = check_comm(L, "reduce_scatter");
  sg_tensor *t = lsg_check_tensor(L, 2, "dist.reduce_scatter", "tensor");
  sg_dist_op op = check_op(L, 3, "reduce_scatter");
  return push_result(L, sg_dist_reduce_scatter(d, t, op));
}

static int m_all_reduce_autograd(lua_State *L) {
  sg_dist *d = check_comm(L, "nn.all_reduce");
  sg_tensor *t = lsg_check_tensor(L, 2, "dist.nn.all_reduce", "tensor");
  return push_result(L, sg_dist_all_reduce_autograd(d, t));
}

static int m_barrier(lua_State *L) {
  check(L, sg_dist_barrier(check_comm(L, "barrier")));
  return 0;
}

void lsg_open_dist(lua_State *L, int core, int methods) {
  (void)methods;
  static const luaL_Reg comm_methods[] = {
      {"destroy", m_destroy},       {"info", m_info},
      {"all_reduce", m_all_reduce}, {"broadcast", m_broadcast},
      {"all_gather", m_all_gather}, {"reduce_scatter", m_reduce_scatter},
      {"barrier", m_barrier},       {"bytes_communicated", m_bytes},
      {"all_reduce_autograd", m_all_reduce_autograd},
      {NULL, NULL}};
  luaL_newmetatable(L, LSG_DIST_MT);
  int mt = lua_gettop(L);
  lua_newtable(L);
  lsg_register(L, lua_gettop(L), comm_methods);
  lua_setfield(L, mt, "__index");
  lua_pushcfunction(L, m_destroy);
  lua_setfield(L, mt, "__gc");
  lua_pop(L, 1);
  static const luaL_Reg funcs[] = {{"dist_built", f_built}, {"dist_init", f_init}, {NULL, NULL}};
  lsg_register(L, core, funcs);
}
