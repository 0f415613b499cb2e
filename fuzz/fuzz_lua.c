/* Embedded Lua and Lua line coverage for the Lua-side harnesses (fuzz_lua.h). */
#include "fuzz_lua.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SGEN_SOURCE_DIR
#error "SGEN_SOURCE_DIR (the project root, for lua/) must be defined by the build"
#endif

#define LUA_COUNTERS 65536

/* libFuzzer reads the bytes of this section as extra coverage counters
 * (used: the linker must keep it although only the hook writes it). */
__attribute__((section("__libfuzzer_extra_counters"), used)) static uint8_t
    lua_counters[LUA_COUNTERS];
static uint32_t prev_loc;

/* The process's one state and check function (the registry reference):
 * libFuzzer runs the harness in one thread, and loading the modules per
 * input would cost more than the parse itself. */
static lua_State *state;
static int check_ref = LUA_NOREF;

/* A private directory for checks that read files (FUZZ_SCRATCH in Lua),
 * emptied and removed at exit. */
static char scratch[64];

static void remove_scratch(void) {
  DIR *d = opendir(scratch);
  if (d) {
    char p[sizeof scratch + 260];
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      snprintf(p, sizeof p, "%s/%s", scratch, e->d_name);
      unlink(p);
    }
    closedir(d);
  }
  rmdir(scratch);
}

static void line_hook(lua_State *L, lua_Debug *ar) {
  (void)L;
  /* The line number alone, without lua_getinfo's chunk name (which would
   * triple the cost of a run): lines of different files that share a
   * number collide, but the edges (previous line, line) mostly tell them
   * apart. */
  uint32_t loc = (uint32_t)ar->currentline * 2654435761u;
  uint8_t *c = &lua_counters[(loc ^ prev_loc) % LUA_COUNTERS];
  if (*c < 255) (*c)++;
  prev_loc = loc >> 1;
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = luaL_tolstring(L, 1, NULL);
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static void setup_state(const char *harness, const char *script) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "fuzz %s: cannot create a Lua state\n", harness);
    abort();
  }
  luaL_openlibs(L);
  const char *tmp = getenv("TMPDIR");
  snprintf(scratch, sizeof scratch, "%s/sgen-fuzz-XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
  if (!mkdtemp(scratch)) {
    perror("fuzz: mkdtemp");
    abort();
  }
  atexit(remove_scratch);
  lua_pushstring(L, scratch);
  lua_setglobal(L, "FUZZ_SCRATCH");
  lua_getglobal(L, "package");
  lua_pushstring(L, SGEN_SOURCE_DIR "/lua/?.lua;" SGEN_SOURCE_DIR "/lua/?/init.lua;");
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  lua_pushcfunction(L, traceback);
  lua_pushstring(L, SGEN_SOURCE_DIR "/fuzz/");
  lua_pushstring(L, script);
  lua_concat(L, 2);
  const char *file = lua_tostring(L, -1);
  if (luaL_loadfile(L, file) != LUA_OK || lua_pcall(L, 0, 1, -3) != LUA_OK ||
      !lua_isfunction(L, -1)) {
    fprintf(stderr, "fuzz %s: %s failed: %s\n", harness, file,
            lua_isstring(L, -1) ? lua_tostring(L, -1) : "it returned no function");
    abort();
  }
  check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pop(L, 2); /* the file name and the message handler */
  lua_sethook(L, line_hook, LUA_MASKLINE, 0);
  state = L;
}

void sg_fuzz_lua_run(const char *harness, const char *script, const uint8_t *data, size_t size) {
  if (!state) setup_state(harness, script);
  lua_State *L = state;
  prev_loc = 0;
  lua_pushcfunction(L, traceback);
  lua_rawgeti(L, LUA_REGISTRYINDEX, check_ref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, -3) != LUA_OK) {
    fprintf(stderr, "fuzz %s: %s\n", harness, lua_tostring(L, -1));
    abort();
  }
  lua_pop(L, 1);
}
