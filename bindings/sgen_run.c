/* `sgen run [--detect-anomaly] FILE.lua [--key=value ...] [--] [ARGS]`: runs a script with the
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

#include "sgen/dist.h"
#include "sgen_cli.h"

/* After a script that declared no options (sgen.cli.options) ends: names
 * the --options it never read from `opts` (a typo, or a script that takes
 * none), on stderr; the exit status is unchanged. */
static void warn_unread_options(lua_State *L) {
  int top = lua_gettop(L);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaded");
  lua_getfield(L, -1, "sgen.cli");
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "_unread_options");
    if (lua_isfunction(L, -1) && lua_pcall(L, 0, 1, 0) == LUA_OK && lua_istable(L, -1)) {
      lua_Integer n = luaL_len(L, -1);
      fprintf(stderr, "sgen: warning:");
      for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        fprintf(stderr, "%s %s", i == 1 ? "" : ",", lua_tostring(L, -1));
        lua_pop(L, 1);
      }
      fprintf(stderr, " given but never read by the script (it declares no options with "
              "sgen.cli.options and never looked %s up in opts); misspelled?\n",
              n == 1 ? "it" : "them");
    }
  }
  lua_settop(L, top);
}

static int finish_live(lua_State *L) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaded");
  /* only when the script's logs loaded it: no live report was written else */
  if (lua_getfield(L, -1, "sgen.report.live") != LUA_TTABLE) return 0;
  lua_getfield(L, -1, "finish_all");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 0);
  return 0;
}

void sgen_finish_live_reports(lua_State *L, const char *status) {
  int top = lua_gettop(L);
  lua_pushcfunction(L, finish_live);
  lua_pushstring(L, status);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "sgen: warning: cannot finish the live report.html: %s\n", lua_tostring(L, -1));
  }
  lua_settop(L, top);
}

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

/* Anomaly mode through the Lua binding, which installs the traceback hook. */
static int enable_anomaly(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "sgen.autograd");
  int st = lua_pcall(L, 1, 1, 0);
  if (st != LUA_OK) return st;
  lua_getfield(L, -1, "set_detect_anomaly");
  lua_remove(L, -2);
  lua_pushboolean(L, 1);
  st = lua_pcall(L, 1, 0, 0);
  return st;
}

int sgen_cmd_run(int argc, char **argv) {
  if (argc < 1) {
    fputs("sgen run: missing script (usage: sgen run FILE.lua [--key=value ...] [--] [ARGS])\n",
          stderr);
    return SGEN_EXIT_USAGE;
  }
  /* sgen's own flags go before the script, the script's options after it,
   * so neither can shadow the other. */
  int detect_anomaly = 0;
  while (argc >= 1 && strcmp(argv[0], "--detect-anomaly") == 0) {
    detect_anomaly = 1;
    argc--;
    argv++;
  }
  if (argc < 1) {
    fputs("sgen run: missing script after --detect-anomaly\n", stderr);
    return SGEN_EXIT_USAGE;
  }
  const char *script = argv[0];
  if (script[0] == '-' && script[1] == '-') {
    fprintf(stderr,
            "sgen run: unexpected option '%s' before the script (the script's options go "
            "after it: sgen run FILE.lua %s; sgen run's own: --detect-anomaly)\n",
            script, script);
    return SGEN_EXIT_USAGE;
  }
  lua_State *L = sgen_new_state(0);
  if (L == NULL) return SGEN_EXIT_ERROR;
  if (detect_anomaly && enable_anomaly(L) != LUA_OK) {
    sgen_report(L);
    lua_close(L);
    return SGEN_EXIT_ERROR;
  }

  int is_stdin = strcmp(script, "-") == 0;
  if (!is_stdin) {
    /* modules next to the script are found: require "common" in
     * experiments/x.lua loads experiments/common.lua */
    char dir[4096];
    sgen_dirname(script, dir, sizeof dir);
    /* each goes right after the sgen library: the script's directory, then
     * the project root (require "models.dcgan" from anywhere), then LUA_PATH */
    sgen_add_project_root(L, dir);
    sgen_insert_path(L, dir);
  } else {
    sgen_add_project_root(L, ".");
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
    sgen_finish_live_reports(L, interrupted ? "interrupted" : "stopped by an error");
    /* a rank of `sgen launch` (sg.dist): the others must not wait for it */
    sg_dist_abort_job(code);
    lua_close(L);
    if (interrupted) sgen_exit_interrupted(); /* killed by SIGINT: 130 in the shell */
    return code;
  }
  sgen_finish_live_reports(L, sgen_interrupted() ? "interrupted" : "done");
  warn_unread_options(L);
  int interrupted = sgen_interrupted();
  lua_close(L);
  if (interrupted) sgen_exit_interrupted();
  return 0;
}

/* `sgen -e CODE [ARGS]`: runs CODE as a chunk named "=(command line)" with
 * the REPL's globals (sg, nn, F, help), the project root of the current
 * directory on package.path, arg[1..n] = ARGS (arg[0] = "-e") and ... the
 * same; exit statuses as `sgen run`. */
int sgen_cmd_eval(int argc, char **argv) {
  if (argc < 1) {
    fputs("sgen -e: missing code (usage: sgen -e 'print(sg.ones(2))' [ARGS])\n", stderr);
    return SGEN_EXIT_USAGE;
  }
  lua_State *L = sgen_new_state(0);
  if (L == NULL) return SGEN_EXIT_ERROR;
  sgen_add_project_root(L, ".");
  sgen_interactive_globals(L);
  lua_createtable(L, argc - 1, 1);
  lua_pushliteral(L, "-e");
  lua_rawseti(L, -2, 0);
  for (int i = 1; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_setglobal(L, "arg");
  int status = luaL_loadbuffer(L, argv[0], strlen(argv[0]), "=(command line)");
  if (status != LUA_OK) {
    sgen_report(L);
    lua_close(L);
    return SGEN_EXIT_ERROR;
  }
  for (int i = 1; i < argc; i++) lua_pushstring(L, argv[i]);
  status = sgen_docall(L, argc - 1, 0);
  int interrupted = sgen_interrupted();
  int code = 0;
  if (status != LUA_OK) {
    code = sgen_is_usage_error(L, -1) ? SGEN_EXIT_USAGE : SGEN_EXIT_ERROR;
    sgen_report(L);
    sg_dist_abort_job(code);
  }
  lua_close(L);
  if (interrupted) sgen_exit_interrupted();
  return code;
}
