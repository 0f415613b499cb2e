/* Anomaly mode from Lua: sg.autograd.set_detect_anomaly / is_anomaly_enabled
 * / detect_anomaly (engine/autograd/anomaly.c does the checks). The engine
 * calls a hook when it records an op in this mode; ours returns the Lua
 * traceback, so the error for a NaN names the script line that made the op.
 * Tracebacks are taken from the main Lua thread (the engine cannot know
 * which coroutine is running; a coroutine's ops show where it was resumed). */
#include <stdlib.h>
#include <string.h>

#include "lsg.h"

static char *traceback_hook(void *ud) {
  lua_State *L = ud;
  if (!lua_checkstack(L, 4)) return NULL;
  luaL_traceback(L, L, NULL, 1); /* level 1: the Lua code calling the op */
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);
  char *copy = s ? malloc(n + 1) : NULL;
  if (copy) memcpy(copy, s, n + 1);
  lua_pop(L, 1);
  return copy;
}

/* The hook points at this Lua state: when the state closes, a registry
 * value's __gc takes the hook (and the mode) back, so a later state on the
 * same thread never sees a dangling pointer. */
static int forget_state(lua_State *L) {
  lua_State *main = lua_touserdata(L, lua_upvalueindex(1));
  if (sg_anomaly_hook_ud() == main) {
    sg_set_anomaly_hook(NULL, NULL);
    sg_set_detect_anomaly(false);
  }
  return 0;
}

static void install_hook(lua_State *L) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  lua_State *main = lua_tothread(L, -1);
  lua_pop(L, 1);
  if (sg_anomaly_hook_ud() == main) return;
  sg_set_anomaly_hook(traceback_hook, main);
  if (lua_getfield(L, LUA_REGISTRYINDEX, "sgen.anomaly_guard") != LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  lsg_registry_guard(L, "sgen.anomaly_guard", forget_state, main);
}

static bool set_mode(lua_State *L, bool on) {
  if (on) install_hook(L);
  return sg_set_detect_anomaly(on);
}

static int f_set_detect_anomaly(lua_State *L) {
  bool on = lsg_check_boolean(L, 1, "set_detect_anomaly", "mode");
  lua_pushboolean(L, set_mode(L, on));
  return 1;
}

static int f_is_anomaly_enabled(lua_State *L) {
  lua_pushboolean(L, sg_anomaly_enabled());
  return 1;
}

/* detect_anomaly(fn, ...): fn(...) with the mode on, restored after (also on
 * error), as no_grad does for grad mode. */
static int f_detect_anomaly(lua_State *L) {
  if (lua_type(L, 1) != LUA_TFUNCTION && !luaL_getmetafield(L, 1, "__call"))
    return luaL_error(L, "sgen.detect_anomaly: argument 1 (fn) expected a function, got %s",
                      lsg_typename(L, 1));
  if (lua_type(L, 1) != LUA_TFUNCTION) lua_pop(L, 1); /* the __call field */
  bool prev = set_mode(L, true);
  int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  sg_set_detect_anomaly(prev);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

void lsg_anomaly_raise_pending(lua_State *L) {
  if (sg_anomaly_check() != SG_OK) lsg_raise_engine(L);
}

void lsg_open_anomaly(lua_State *L, int core, int methods) {
  (void)methods;
  static const luaL_Reg funcs[] = {{"set_detect_anomaly", f_set_detect_anomaly},
                                   {"is_anomaly_enabled", f_is_anomaly_enabled},
                                   {"detect_anomaly", f_detect_anomaly},
                                   {NULL, NULL}};
  lsg_register(L, core, funcs);
}
