/* Internal interface of the `sgen` executable (bindings/sgen_*.c):
 * subcommands run, REPL, info, test, and the shared Lua set-up. */
#ifndef SGEN_BINDINGS_SGEN_CLI_H
#define SGEN_BINDINGS_SGEN_CLI_H

#include <lua.h>

/* Exit statuses: a script or Lua error, a usage error (bad command line or
 * bad option of a script that declares its options). */
#define SGEN_EXIT_ERROR 1
#define SGEN_EXIT_USAGE 2

/* ---- sgen_paths.c ---- */
/* The executable's own path (/proc/self/exe, else argv[0]). */
const char *sgen_exe_path(void);
void sgen_set_argv0(const char *argv0);
/* The directory holding sgen/init.lua, and where it came from:
 * "SGEN_LUA_DIR" (environment), "install" (next to the executable:
 * <prefix>/bin/sgen -> <prefix>/share/lua/5.4), "source tree" or
 * "configured install prefix". */
const char *sgen_lua_dir(const char **origin);
/* Directory part of path into out (size n): "." when path has none. */
void sgen_dirname(const char *path, char *out, size_t n);
int sgen_file_exists(const char *path);
/* The API reference docs/lua-api.md for help(): SGEN_DOCS, else found from
 * the Lua library's directory (installed: <prefix>/share/doc/sgen). */
const char *sgen_docs_path(void);
/* The project root for `require "models.dcgan"`: the nearest ancestor of
 * `start` (a directory) holding models/ and lua/, else the sgen source tree
 * when it still exists. Writes it to out and returns 1, or returns 0. */
int sgen_project_root(const char *start, char *out, size_t n);

/* ---- sgen_main.c ---- */
/* A new Lua state: standard libraries, sgen.core preloaded, the sgen Lua
 * library first on package.path (LUA_PATH from the environment kept after
 * it), global `sgen` = require "sgen". On failure to load sgen, prints the
 * error and returns NULL unless `lenient` (the REPL keeps going). */
lua_State *sgen_new_state(int lenient);
/* Prepends dir/?.lua;dir/?/init.lua to package.path. */
void sgen_prepend_path(lua_State *L, const char *dir);
/* Inserts dir/?.lua;dir/?/init.lua into package.path right after the sgen
 * library's entries (before LUA_PATH's). */
void sgen_insert_path(lua_State *L, const char *dir);
/* Puts the project root (sgen_project_root of `start`) on package.path. */
void sgen_add_project_root(lua_State *L, const char *start);
/* The interactive globals of the REPL and `sgen -e`: sg (= sgen), nn, F and
 * help (sgen.help, reading sgen_docs_path()). Failures are ignored. */
void sgen_interactive_globals(lua_State *L);
/* Calls the function below narg arguments with a traceback message handler
 * and Ctrl-C turned into the Lua error "interrupted!" (as lua.c does), or,
 * while the script defers it (sg.defer_interrupt), noted for sg.interrupted().
 * A message that already holds a traceback (re-raised) is kept as it is. */
int sgen_docall(lua_State *L, int narg, int nres);
/* True when Ctrl-C reached the last sgen_docall. */
int sgen_interrupted(void);
/* Exits by SIGINT (status 130 in the shell), the convention for a program
 * stopped by Ctrl-C; call it after reporting the error and lua_close. */
void sgen_exit_interrupted(void);
/* True if the error message on top of the stack is an option error raised
 * by sgen.cli (printed without a traceback, exit status 2). */
int sgen_is_usage_error(lua_State *L, int idx);
/* Prints "sgen: <message on top of the stack>" to stderr and pops it. */
void sgen_report(lua_State *L);

/* ---- subcommands ---- */
int sgen_cmd_run(int argc, char **argv);   /* sgen_run.c: argv[0] is the script */
int sgen_cmd_eval(int argc, char **argv);  /* sgen_run.c: sgen -e CODE [ARGS] */
int sgen_cmd_repl(void);                   /* sgen_repl.c */
int sgen_cmd_info(void);                   /* sgen_info.c */
int sgen_cmd_test(int argc, char **argv);  /* sgen_info.c: argv = busted's arguments */
int sgen_cmd_report(int argc, char **argv); /* sgen_report.c: RUN_DIR... [--out FILE] */
/* sgen_run.c: after a script, rewrites the live report.html of each run
 * folder its metrics log touched, without the refresh (sgen.report.live);
 * status is "done" or "stopped". */
void sgen_finish_live_reports(lua_State *L, const char *status);
int sgen_cmd_launch(int argc, char **argv); /* sgen_launch.c: sgen launch -n N FILE.lua ... */
/* sgen_launch.c: RANK, WORLD_SIZE, LOCAL_RANK (and the NCCL rank's GPU) from
 * the MPI launcher's environment; called first thing in main. */
void sgen_launcher_env(void);

#endif
