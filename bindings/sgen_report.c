/* `sgen report RUN_DIR... [--out FILE]`: an HTML page of one run or a
 * comparison of several (lua/sgen/report). The work is in Lua; this file only
 * hands it the arguments and turns its result into the exit status. */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>

#include "sgen_cli.h"

static int call_main(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "sgen.report.cli");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "main");
  lua_createtable(L, argc, 0);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_call(L, 1, 1);
  return 1;
}

int sgen_cmd_report(int argc, char **argv) {
  lua_State *L = sgen_new_state(0);
  if (L == NULL) return SGEN_EXIT_ERROR;
  lua_pushcfunction(L, call_main);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  /* main() prints its own messages (user errors without a traceback); an
   * error that escapes it is a bug, reported with sgen_docall's traceback */
  int status = sgen_docall(L, 2, 1);
  int code = SGEN_EXIT_ERROR;
  if (status == LUA_OK) {
    code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : SGEN_EXIT_ERROR;
    lua_pop(L, 1);
  } else {
    sgen_report(L);
  }
  lua_close(L);
  return code;
}
