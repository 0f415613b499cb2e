/* `sgen run FILE.lua [--key=value ...] [--] [ARGS]`: runs a script with the
 * typed options in the global `opts` and the positional arguments in `arg`
 * and `...` (parsed by sgen.cli). A Lua error prints its traceback and exits
 * with status 1; an option error (sgen.cli.options) prints its message
 * alone and exits with status 2; a script stopped by Ctrl-C prints its error
 * and then ends by SIGINT (status 130 in the shell). So does a script that
 * Ctrl-C reached and that returned anyway (it polled sg.interrupted() and
 * cleaned up, or a pcall caught "interrupted!"): the shell must learn that
 * the run was interrupted, or a loop over runs goes on. */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>

#include "sgen_cli.h"

static int set_args(lua_State *L) {
  /* upvalue-free: arguments are (argv table, script, progname) */
  lua_getglobal(L, "require");
  lua_pushliteral(L, "sgen.cli");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "_set_args");
  lua_pushvalue(L, 2); /* script */
  lua_pushvalue(L, 1); /* args */
  lua_pushvalue(L, 3); /* progname */
  int base = lua_gettop(L) - 4;
  lua_call(L, 3, LUA_MULTRET);
  return lua_gettop(L) - base;
}

int sgen_cmd_run(int argc, char **argv) {
  if (argc < 1) {
    fputs("sgen run: missing script (usage: sgen run FILE.lua [--key=value ...] [--] [ARGS])\n",
          stderr);
    return SGEN_EXIT_USAGE;
  }
  const char *script = argv[0];
  if (script[0] == '-' && script[1] == '-') {
    fprintf(stderr,
            "sgen run: unexpected option '%s' before the script (options go after it: "
            "sgen run FILE.lua %s)\n",
            script, script);
    return SGEN_EXIT_USAGE;
  }
  lua_State *L = sgen_new_state(0);
  if (L == NULL) return SGEN_EXIT_ERROR;

  int is_stdin = strcmp(script, "-") == 0;
  if (!is_stdin) {
    /* modules next to the script are found: require "common" in
     * experiments/x.lua loads experiments/common.lua */
    char dir[4096];
    sgen_dirname(script, dir, sizeof dir);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    const char *old = lua_tostring(L, -1);
    const char *sgenlib = sgen_lua_dir(NULL);
    /* after the sgen library, before LUA_PATH: rebuild as sgen;script;rest */
    size_t prefix_len = 2 * strlen(sgenlib) + strlen("/?.lua;/?/init.lua;");
    if (old != NULL && strlen(old) >= prefix_len) {
      lua_pushlstring(L, old, prefix_len);
      lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
      lua_pushstring(L, old + prefix_len);
      lua_concat(L, 3);
      lua_setfield(L, -3, "path");
    }
    lua_pop(L, 2);
  }

  int status = luaL_loadfile(L, is_stdin ? NULL : script);
  if (status != LUA_OK) {
    sgen_report(L);
    lua_close(L);
    return SGEN_EXIT_ERROR;
  }
  /* chunk; then the positional arguments returned by cli._set_args */
  int top = lua_gettop(L);
  lua_pushcfunction(L, set_args);
  lua_createtable(L, argc - 1, 0);
  for (int i = 1; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_pushstring(L, script);
  lua_pushstring(L, sgen_exe_path());
  status = sgen_docall(L, 3, LUA_MULTRET);
  if (status == LUA_OK) {
    int narg = lua_gettop(L) - top;
    status = sgen_docall(L, narg, 0);
  }
  if (status != LUA_OK) {
    int code = sgen_is_usage_error(L, -1) ? SGEN_EXIT_USAGE : SGEN_EXIT_ERROR;
    int interrupted = sgen_interrupted();
    sgen_report(L);
    lua_close(L);
    if (interrupted) sgen_exit_interrupted(); /* killed by SIGINT: 130 in the shell */
    return code;
  }
  int interrupted = sgen_interrupted();
  lua_close(L);
  if (interrupted) sgen_exit_interrupted();
  return 0;
}
