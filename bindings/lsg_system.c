/* System functions: memory statistics, the allocator cache, CPU threads,
 * build description, version, the sg.cuda table (devices, device memory,
 * the out-of-memory hook) and sg.backends (allow_tf32). The sgen/cuda.h API
 * exists in CPU-only builds too, answering "not available". */
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lsg.h"
#include "sgen/cuda.h"

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
  sg_memory_stats m;
  lsg_check_status(L, sg_device_memory_stats(sg_cpu_device(), &m));
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
  lsg_check_status(L, sg_device_empty_cache(sg_cpu_device()));
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

/* ---- Ctrl-C: sg.interrupted(), sg.defer_interrupt(on) ---- */

/* Written by the executable's SIGINT handler: sig_atomic_t only. */
static volatile sig_atomic_t interrupt_pending;
static volatile sig_atomic_t interrupt_deferred;

void lsg_interrupt_note(void) { interrupt_pending = 1; }
int lsg_interrupt_pending(void) { return interrupt_pending != 0; }
int lsg_interrupt_deferred(void) { return interrupt_deferred != 0; }
void lsg_interrupt_reset(void) {
  interrupt_pending = 0;
  interrupt_deferred = 0;
}

/* sg.interrupted() -> true once Ctrl-C (SIGINT) reached `sgen run` or the
 * REPL during the current script or line; always false under another host
 * (plain lua5.4 handles SIGINT itself). */
static int f_interrupted(lua_State *L) {
  lua_pushboolean(L, interrupt_pending != 0);
  return 1;
}

/* sg.defer_interrupt(on) -> previous setting. On, Ctrl-C only sets the flag
 * of sg.interrupted() (the code polls it at a safe point; a second Ctrl-C
 * still kills the process); off (the default), it raises the error
 * "interrupted!" in the running Lua code at once. */
static int f_defer_interrupt(lua_State *L) {
  if (lua_type(L, 1) != LUA_TBOOLEAN)
    return luaL_error(L, "sgen.defer_interrupt: argument 1 (on) expected a boolean, got %s",
                      lsg_typename(L, 1));
  lua_pushboolean(L, interrupt_deferred != 0);
  interrupt_deferred = lua_toboolean(L, 1) ? 1 : 0;
  return 1;
}

/* ---- sg.cuda ---- */

/* sg.cuda.is_available() -> true when built with CUDA and a GPU is usable */
static int cuda_is_available(lua_State *L) {
  lua_pushboolean(L, sg_cuda_is_available());
  return 1;
}

static int cuda_device_count(lua_State *L) {
  lua_pushinteger(L, sg_cuda_device_count());
  return 1;
}

/* sg.cuda.device_name([i]) -> "NVIDIA H200" for device i (0-based, as in
 * "cuda:0"; default 0) */
static int cuda_device_name(lua_State *L) {
  int64_t i = lua_isnoneornil(L, 1) ? 0 : lsg_check_integer(L, 1, "cuda.device_name", "device");
  int n = sg_cuda_device_count();
  if (n == 0)
    return luaL_error(L, "sgen.cuda.device_name: no CUDA device: %s",
                      sg_cuda_unavailable_reason());
  if (i < 0 || i >= n)
    return luaL_error(L, "sgen.cuda.device_name: argument 1 (device) must be in 0..%d, got %I",
                      n - 1, (lua_Integer)i);
  const char *name = sg_cuda_device_name((int)i);
  if (!name) return lsg_raise_engine(L);
  lua_pushstring(L, name);
  return 1;
}

/* sg.cuda.unavailable_reason() -> why CUDA cannot be used ("" when it can) */
static int cuda_unavailable_reason(lua_State *L) {
  lua_pushstring(L, sg_cuda_unavailable_reason());
  return 1;
}

static void set_int_field(lua_State *L, const char *key, size_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, key);
}

/* sg.cuda.memory_stats() -> {allocated_bytes=, reserved_bytes=,
 * peak_allocated_bytes=, peak_reserved_bytes=, requested_bytes=,
 * num_device_allocs=, num_device_frees=, num_alloc_retries=, num_ooms=}
 * (all 0 without CUDA) */
static int cuda_memory_stats(lua_State *L) {
  sg_cuda_memstats m = sg_cuda_memory_stats();
  lua_createtable(L, 0, 9);
  set_int_field(L, "allocated_bytes", m.allocated_bytes);
  set_int_field(L, "reserved_bytes", m.reserved_bytes);
  set_int_field(L, "peak_allocated_bytes", m.peak_allocated_bytes);
  set_int_field(L, "peak_reserved_bytes", m.peak_reserved_bytes);
  set_int_field(L, "requested_bytes", m.requested_bytes);
  set_int_field(L, "num_device_allocs", m.num_device_allocs);
  set_int_field(L, "num_device_frees", m.num_device_frees);
  set_int_field(L, "num_alloc_retries", m.num_alloc_retries);
  set_int_field(L, "num_ooms", m.num_ooms);
  return 1;
}

static int cuda_reset_peak_memory_stats(lua_State *L) {
  (void)L;
  sg_cuda_reset_peak_stats();
  return 0;
}

static int cuda_empty_cache(lua_State *L) {
  (void)L;
  sg_cuda_empty_cache();
  return 0;
}

static int cuda_synchronize(lua_State *L) {
  lsg_check_status(L, sg_cuda_synchronize());
  return 0;
}

/* sg.cuda.versions() -> {runtime=13000, driver=, cudnn=, cublas=} (0 when
 * not available) */
static int cuda_versions(lua_State *L) {
  lua_createtable(L, 0, 4);
  set_int_field(L, "runtime", (size_t)sg_cuda_runtime_version());
  set_int_field(L, "driver", (size_t)sg_cuda_driver_version());
  set_int_field(L, "cudnn", (size_t)sg_cudnn_version());
  set_int_field(L, "cublas", (size_t)sg_cublas_version());
  return 1;
}

/* The allocator's out-of-memory hook: a full collection frees the blocks of
 * unreachable tensors before the allocator empties its cache and retries.
 * One hook per process: the state that opened sgen.core last owns it, and a
 * sentinel in its registry removes it when that state closes. */
static lua_State *hook_state;

static void oom_hook(void *ud) {
  lua_State *L = ud;
  lua_gc(L, LUA_GCCOLLECT);
}

static int hook_sentinel_gc(lua_State *L) {
  lua_State *main = lua_touserdata(L, lua_upvalueindex(1));
  if (hook_state == main) {
    sg_cuda_set_oom_hook(NULL, NULL);
    hook_state = NULL;
  }
  return 0;
}

static void install_oom_hook(lua_State *L) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  lua_State *main = lua_tothread(L, -1);
  lua_pop(L, 1);
  hook_state = main;
  sg_cuda_set_oom_hook(oom_hook, main);
  lsg_registry_guard(L, "sgen.cuda.oom_hook_sentinel", hook_sentinel_gc, main);
}

/* ---- sg.backends: settings read and written as fields ---- */

static int backends_index(lua_State *L) {
  const char *key = lua_tostring(L, 2);
  if (key && strcmp(key, "allow_tf32") == 0) {
    lua_pushboolean(L, sg_get_allow_tf32());
    return 1;
  }
  lua_pushnil(L);
  return 1;
}

static int backends_newindex(lua_State *L) {
  const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
  if (!key || strcmp(key, "allow_tf32") != 0)
    return luaL_error(L, "sgen.backends: unknown setting '%s' (expected allow_tf32)",
                      key ? key : luaL_tolstring(L, 2, NULL));
  if (!lua_isboolean(L, 3))
    return luaL_error(L, "sgen.backends.allow_tf32: expected a boolean, got %s",
                      lsg_typename(L, 3));
  sg_set_allow_tf32(lua_toboolean(L, 3));
  return 0;
}

void lsg_open_system(lua_State *L, int core, int methods) {
  (void)methods;
  static const luaL_Reg funcs[] = {{"memory_stats", f_memory_stats},
                                   {"empty_cache", f_empty_cache},
                                   {"set_num_threads", f_set_num_threads},
                                   {"get_num_threads", f_get_num_threads},
                                   {"build_info", f_build_info},
                                   {"interrupted", f_interrupted},
                                   {"defer_interrupt", f_defer_interrupt},
                                   {"monotonic", f_monotonic},
                                   {"isatty", f_isatty},
                                   {NULL, NULL}};
  lsg_register(L, core, funcs);
  lua_pushliteral(L, SGEN_VERSION);
  lua_setfield(L, core, "version");
  static const luaL_Reg cuda[] = {{"is_available", cuda_is_available},
                                  {"device_count", cuda_device_count},
                                  {"device_name", cuda_device_name},
                                  {"unavailable_reason", cuda_unavailable_reason},
                                  {"memory_stats", cuda_memory_stats},
                                  {"reset_peak_memory_stats", cuda_reset_peak_memory_stats},
                                  {"empty_cache", cuda_empty_cache},
                                  {"synchronize", cuda_synchronize},
                                  {"versions", cuda_versions},
                                  {NULL, NULL}};
  lua_createtable(L, 0, 10);
  lsg_register(L, lua_gettop(L), cuda);
  lua_pushboolean(L, sg_cuda_built());
  lua_setfield(L, -2, "built");
  lua_setfield(L, core, "cuda");
  install_oom_hook(L);
  /* sg.backends.allow_tf32: TF32 for float32 matmul / convolutions on CUDA
   * (off by default, as PyTorch's matmul) */
  lua_createtable(L, 0, 0);
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, backends_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, backends_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_setmetatable(L, -2);
  lua_setfield(L, core, "backends");
}
