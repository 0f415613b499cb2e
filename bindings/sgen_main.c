/* The `sgen` executable (minimal first version: `sgen run FILE`). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

#include "lsg.h"

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_sgen_core);
  lua_setfield(L, -2, "sgen.core");
  lua_pop(L, 1);
  lua_getglobal(L, "package");
  lua_pushstring(L, SGEN_SOURCE_LUA_DIR "/?.lua;" SGEN_SOURCE_LUA_DIR "/?/init.lua;");
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  if (argc < 3 || strcmp(argv[1], "run") != 0) {
    fprintf(stderr, "usage: sgen run FILE.lua\n");
    return 2;
  }
  lua_pushcfunction(L, traceback);
  if (luaL_loadfile(L, argv[2]) != LUA_OK || lua_pcall(L, 0, 0, 1) != LUA_OK) {
    fprintf(stderr, "sgen: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return 1;
  }
  lua_close(L);
  return 0;
}
