/* System functions: memory statistics, the allocator cache, CPU threads,
 * build description, version, and the sg.cuda table (CPU-only for now: the
 * CUDA backend issue replaces it). */
#include <time.h>
#include <unistd.h>

#include "lsg.h"

/* sg.core.monotonic() -> seconds of a monotonic wall clock (timers, rates). */
static int f_monotonic(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

/* sg.core.isatty(fd) -> whether the file descriptor is a terminal. */
static int f_isatty(lua_State *L) {
  int64_t fd = lsg_check_integer(L, 1, "isatty", "fd");
  lua_pushboolean(L, fd >= 0 && fd <= INT32_MAX && isatty((int)fd));
  return 1;
}

/* sg.memory_stats() -> {live_bytes=, cached_bytes=, peak_bytes=, lua_bytes=} */
static int f_memory_stats(lua_State *L) {
  sg_memory_stats m = sg_cpu_memory_stats();
  lua_Integer lua_bytes =
      (lua_Integer)lua_gc(L, LUA_GCCOUNT) * 1024 + (lua_Integer)lua_gc(L, LUA_GCCOUNTB);
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)m.live_bytes);
  lua_setfield(L, -2, "live_bytes");
  lua_pushinteger(L, (lua_Integer)m.cached_bytes);
  lua_setfield(L, -2, "cached_bytes");
  lua_pushinteger(L, (lua_Integer)m.peak_bytes);
  lua_setfield(L, -2, "peak_bytes");
  lua_pushinteger(L, lua_bytes);
  lua_setfield(L, -2, "lua_bytes");
  return 1;
}

static int f_empty_cache(lua_State *L) {
  (void)L;
  sg_cpu_empty_cache();
  return 0;
}

static int f_set_num_threads(lua_State *L) {
  int64_t n = lsg_check_integer(L, 1, "set_num_threads", "n");
  if (n < 1 || n > 4096)
    return luaL_error(L, "sgen.set_num_threads: argument 1 (n) must be in 1..4096, got %I",
                      (lua_Integer)n);
  sg_set_num_threads((int)n);
  return 0;
}

static int f_get_num_threads(lua_State *L) {
  lua_pushinteger(L, sg_get_num_threads());
  return 1;
}

static int f_build_info(lua_State *L) {
  const char *s = sg_build_info();
  lua_pushstring(L, s ? s : "");
  return 1;
}

static int cuda_is_available(lua_State *L) {
  lua_pushboolean(L, 0);
  return 1;
}

static int cuda_device_count(lua_State *L) {
  lua_pushinteger(L, 0);
  return 1;
}

void lsg_open_system(lua_State *L, int core, int methods) {
  (void)methods;
  static const luaL_Reg funcs[] = {{"memory_stats", f_memory_stats},
                                   {"empty_cache", f_empty_cache},
                                   {"set_num_threads", f_set_num_threads},
                                   {"get_num_threads", f_get_num_threads},
                                   {"build_info", f_build_info},
                                   {"monotonic", f_monotonic},
                                   {"isatty", f_isatty},
                                   {NULL, NULL}};
  lsg_register(L, core, funcs);
  lua_pushliteral(L, SGEN_VERSION);
  lua_setfield(L, core, "version");
  static const luaL_Reg cuda[] = {{"is_available", cuda_is_available},
                                  {"device_count", cuda_device_count},
                                  {NULL, NULL}};
  lua_createtable(L, 0, 2);
  lsg_register(L, lua_gettop(L), cuda);
  lua_setfield(L, core, "cuda");
}
