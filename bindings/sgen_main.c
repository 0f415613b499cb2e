/* The `sgen` executable: `sgen run FILE.lua [--key=value ...]`, the REPL,
 * `sgen launch`, `sgen info`, `sgen test`, `sgen report`, `sgen help`, `sgen --version`
 * (ARCHITECTURE.md §4). The bindings are linked in: sgen.core is put in
 * package.preload and the Lua library (lua/sgen) is found next to the
 * executable after `cmake --install`, else in the source tree. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lsg.h"
#include "sgen_cli.h"

static void usage(FILE *f) {
  fputs("usage: sgen [COMMAND] [ARGS]\n"
        "\n"
        "  sgen                        interactive Lua REPL with `sgen` loaded (reads\n"
        "                              stdin line by line when it is not a terminal)\n"
        "  sgen run FILE.lua [--key=value | --flag | --no-flag ...] [--] [ARGS]\n"
        "                              run a script; options reach it as the global\n"
        "                              table `opts` (numbers, true/false, strings),\n"
        "                              other arguments as arg[1..n] and `...`;\n"
        "                              FILE - reads the script from stdin\n"
        "  sgen run --detect-anomaly FILE.lua [...]\n"
        "                              same, in anomaly mode: the first op whose\n"
        "                              output or gradient holds NaN/Inf is an error\n"
        "  sgen FILE.lua [...]         same as sgen run FILE.lua [...]\n"
        "  sgen -e CODE [ARGS]         run the Lua chunk CODE (sg, nn, F defined)\n"
        "  sgen launch -n N [--backend=mpi|nccl] FILE.lua [...]\n"
        "                              run FILE.lua as N data-parallel ranks (mpirun;\n"
        "                              sg.dist, docs/distributed.md)\n"
        "  sgen info                   version, build options, BLAS, threads, CUDA\n"
        "  sgen test [BUSTED ARGS]     run the spec suite with busted (build tree)\n"
        "  sgen report RUN_DIR... [--out FILE] [--images embed|link|none] [--title T]\n"
        "                              one HTML page of a run folder, or comparing\n"
        "                              several (default FILE: report.html in the one\n"
        "                              folder given, else ./report.html)\n"
        "  sgen help, -h, --help       this help\n"
        "  sgen --version, -v          the version\n"
        "\n"
        "Environment: SGEN_NUM_THREADS (threads), SGEN_LUA_DIR (Lua library),\n"
        "LUA_PATH / LUA_CPATH (searched after the sgen library), SGEN_HISTORY\n"
        "(REPL history file, default ~/.sgen_history; empty: none), SGEN_DOCS\n"
        "(the lua-api.md read by help() in the REPL).\n",
        f);
}

/* ---- Lua state ---- */

void sgen_prepend_path(lua_State *L, const char *dir) {
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
}

void sgen_insert_path(lua_State *L, const char *dir) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  const char *old = lua_tostring(L, -1);
  const char *sgenlib = sgen_lua_dir(NULL);
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

void sgen_add_project_root(lua_State *L, const char *start) {
  char root[4096];
  if (sgen_project_root(start, root, sizeof root)) sgen_insert_path(L, root);
}

static int set_interactive_globals(lua_State *L) {
  const char *docs = lua_tostring(L, 1);
  lua_getglobal(L, "sgen");
  if (!lua_istable(L, -1)) return 0;
  lua_pushvalue(L, -1);
  lua_setglobal(L, "sg");
  lua_getfield(L, -1, "nn");
  lua_setglobal(L, "nn");
  lua_getfield(L, -1, "F");
  lua_setglobal(L, "F");
  lua_getglobal(L, "require");
  lua_pushliteral(L, "sgen.help");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "new");
  lua_pushstring(L, docs);
  lua_call(L, 1, 1);
  lua_setglobal(L, "help");
  return 0;
}

void sgen_interactive_globals(lua_State *L) {
  lua_pushcfunction(L, set_interactive_globals);
  lua_pushstring(L, sgen_docs_path());
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "sgen: cannot set sg, nn, F and help: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
}

static int load_sgen(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "sgen");
  lua_call(L, 1, 1);
  lua_setglobal(L, "sgen");
  return 0;
}

lua_State *sgen_new_state(int lenient) {
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fputs("sgen: cannot create the Lua state (out of memory)\n", stderr);
    return NULL;
  }
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_sgen_core);
  lua_setfield(L, -2, "sgen.core");
  lua_pop(L, 1);
  sgen_prepend_path(L, sgen_lua_dir(NULL));
  lua_pushcfunction(L, load_sgen);
  if (sgen_docall(L, 0, 0) != LUA_OK) {
    const char *origin;
    const char *dir = sgen_lua_dir(&origin);
    fprintf(stderr, "sgen: cannot load the sgen Lua library (looked first in %s, %s): %s\n", dir,
            origin, lua_tostring(L, -1));
    lua_pop(L, 1);
    if (!lenient) {
      lua_close(L);
      return NULL;
    }
  }
  return L;
}

/* ---- calling Lua with a traceback and Ctrl-C ---- */

static lua_State *volatile interrupted_state;

static void interrupt_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

/* Ctrl-C: noted for sg.interrupted() (and the exit status, see
 * sgen_exit_interrupted); raised in the running Lua code at once unless the
 * script deferred it (sg.defer_interrupt: a checkpointed training loop stops
 * at the end of the iteration). A second Ctrl-C kills the process. */
static void on_sigint(int sig) {
  signal(sig, SIG_DFL);
  lsg_interrupt_note();
  lua_State *L = interrupted_state;
  if (L != NULL && !lsg_interrupt_deferred()) {
    lua_sethook(L, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
  }
}

int sgen_interrupted(void) { return lsg_interrupt_pending(); }

void sgen_exit_interrupted(void) {
  fflush(NULL);
  signal(SIGINT, SIG_DFL);
  raise(SIGINT);
}

static int is_usage_message(lua_State *L, const char *msg) {
  int usage = 0;
  if (lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE) == LUA_TTABLE) {
    if (lua_getfield(L, -1, "sgen.cli") == LUA_TTABLE) {
      if (lua_getfield(L, -1, "_usage_error") == LUA_TSTRING) {
        usage = strcmp(lua_tostring(L, -1), msg) == 0;
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return usage;
}

int sgen_is_usage_error(lua_State *L, int idx) {
  const char *msg = lua_tostring(L, idx);
  return msg != NULL && lua_type(L, idx) == LUA_TSTRING && is_usage_message(L, msg);
}

static int message_handler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  } else if (lua_type(L, 1) == LUA_TSTRING && is_usage_message(L, msg)) {
    return 1; /* an option error: no traceback */
  } else if (lua_type(L, 1) == LUA_TSTRING && strstr(msg, "\nstack traceback:\n") != NULL) {
    return 1; /* re-raised with the traceback of where it began (sg.train's loops) */
  }
  lsg_traceback(L, L, msg, 1);
  return 1;
}

int sgen_docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, message_handler);
  lua_insert(L, base);
  interrupted_state = L;
  lsg_interrupt_reset();
  /* the handler in place before (default for `sgen run`, the prompt's for
   * the REPL, which must survive a Ctrl-C after the chunk) comes back after */
  struct sigaction sa, prev;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  int saved = sigaction(SIGINT, &sa, &prev) == 0;
  int status = lua_pcall(L, narg, nres, base);
  if (saved) {
    sigaction(SIGINT, &prev, NULL);
  } else {
    signal(SIGINT, SIG_DFL);
  }
  interrupted_state = NULL;
  lua_remove(L, base);
  return status;
}

void sgen_report(lua_State *L) {
  fflush(stdout); /* what the chunk printed comes before its error */
  if (lua_gettop(L) == 0) {
    fputs("sgen: error (no message)\n", stderr);
    return;
  }
  const char *msg = lua_tostring(L, -1);
  if (msg == NULL) msg = "(error object is not a string)";
  if (strncmp(msg, "sgen: ", 6) == 0) {
    fprintf(stderr, "%s\n", msg);
  } else {
    fprintf(stderr, "sgen: %s\n", msg);
  }
  fflush(stderr);
  lua_pop(L, 1);
}

/* ---- main ---- */

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* OpenMP threads that spin while waiting turn a busy 2-core machine into a
 * 2-30x slowdown (measured: DIP --quick 13.0 s spinning vs 5.4 s passive
 * beside one compile job; 5.2 s on the quiet machine). libgomp reads its
 * policy when it loads, before main, so when the user has not chosen one the
 * executable sets "passive" and re-executes itself once. */
static void default_passive_openmp(char **argv) {
  if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  execv("/proc/self/exe", argv);
  /* exec failed: carry on with libgomp's default policy */
}

int main(int argc, char **argv) {
  sgen_launcher_env();
  default_passive_openmp(argv);
  sgen_set_argv0(argc > 0 ? argv[0] : NULL);
  if (argc < 2) return sgen_cmd_repl();
  const char *cmd = argv[1];
  if (strcmp(cmd, "run") == 0) return sgen_cmd_run(argc - 2, argv + 2);
  if (strcmp(cmd, "-e") == 0) return sgen_cmd_eval(argc - 2, argv + 2);
  if (strcmp(cmd, "info") == 0) {
    if (argc > 2) {
      fprintf(stderr, "sgen info: unexpected argument '%s' (sgen info takes none)\n", argv[2]);
      return SGEN_EXIT_USAGE;
    }
    return sgen_cmd_info();
  }
  if (strcmp(cmd, "test") == 0) return sgen_cmd_test(argc - 2, argv + 2);
  if (strcmp(cmd, "report") == 0) return sgen_cmd_report(argc - 2, argv + 2);
  if (strcmp(cmd, "launch") == 0) return sgen_cmd_launch(argc - 2, argv + 2);
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-v") == 0 || strcmp(cmd, "version") == 0) {
    printf("sgen %s (%s)\n", SGEN_VERSION, LUA_RELEASE);
    return 0;
  }
  if (strcmp(cmd, "repl") == 0 && argc == 2) return sgen_cmd_repl();
  if (ends_with(cmd, ".lua") || strcmp(cmd, "-") == 0) return sgen_cmd_run(argc - 1, argv + 1);
  fprintf(stderr, "sgen: unknown command '%s'\n\n", cmd);
  usage(stderr);
  return SGEN_EXIT_USAGE;
}
