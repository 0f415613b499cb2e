/* Where the executable and its Lua library are. */
#define _XOPEN_SOURCE 700 /* realpath (XSI) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sgen_cli.h"

#ifndef SGEN_SOURCE_LUA_DIR
#define SGEN_SOURCE_LUA_DIR "lua"
#endif
#ifndef SGEN_INSTALL_LUA_DIR
#define SGEN_INSTALL_LUA_DIR "/usr/local/share/lua/5.4"
#endif

#define SGEN_PATH_MAX 4096

static const char *argv0 = "sgen";
static char exe_path[SGEN_PATH_MAX];
static char lua_dir[SGEN_PATH_MAX];
static const char *lua_origin;

void sgen_set_argv0(const char *a) {
  if (a != NULL) argv0 = a;
}

const char *sgen_exe_path(void) {
  if (exe_path[0] == '\0') {
    ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    if (n > 0) {
      exe_path[n] = '\0';
    } else {
      snprintf(exe_path, sizeof exe_path, "%s", argv0);
    }
  }
  return exe_path;
}

void sgen_dirname(const char *path, char *out, size_t n) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL) {
    snprintf(out, n, ".");
  } else if (slash == path) {
    snprintf(out, n, "/");
  } else {
    snprintf(out, n, "%.*s", (int)(slash - path), path);
  }
}

int sgen_file_exists(const char *path) { return access(path, R_OK) == 0; }

static int has_library(const char *dir) {
  char probe[SGEN_PATH_MAX];
  int w = snprintf(probe, sizeof probe, "%s/sgen/init.lua", dir);
  return w > 0 && (size_t)w < sizeof probe && sgen_file_exists(probe);
}

const char *sgen_lua_dir(const char **origin) {
  if (lua_origin == NULL) {
    const char *env = getenv("SGEN_LUA_DIR");
    char bindir[SGEN_PATH_MAX], prefix[SGEN_PATH_MAX], cand[SGEN_PATH_MAX];
    sgen_dirname(sgen_exe_path(), bindir, sizeof bindir);
    sgen_dirname(bindir, prefix, sizeof prefix);
    int w = snprintf(cand, sizeof cand, "%s/share/lua/5.4", prefix);
    if (env != NULL && env[0] != '\0') {
      snprintf(lua_dir, sizeof lua_dir, "%s", env);
      lua_origin = "SGEN_LUA_DIR";
    } else if (w > 0 && (size_t)w < sizeof cand && has_library(cand)) {
      /* Installed: <prefix>/bin/sgen next to <prefix>/share/lua/5.4/sgen,
       * whatever prefix `cmake --install --prefix` was given. */
      snprintf(lua_dir, sizeof lua_dir, "%s", cand);
      lua_origin = "install";
    } else if (has_library(SGEN_SOURCE_LUA_DIR)) {
      snprintf(lua_dir, sizeof lua_dir, "%s", SGEN_SOURCE_LUA_DIR);
      lua_origin = "source tree";
    } else {
      snprintf(lua_dir, sizeof lua_dir, "%s", SGEN_INSTALL_LUA_DIR);
      lua_origin = "configured install prefix";
    }
  }
  if (origin != NULL) *origin = lua_origin;
  return lua_dir;
}

/* The API reference: SGEN_DOCS; else, from the Lua library's directory, an
 * install's <prefix>/share/doc/sgen/lua-api.md (the library being
 * <prefix>/share/lua/5.4) or a checkout's docs/lua-api.md (the library being
 * <checkout>/lua). Whether the file exists is for the caller to see. */
const char *sgen_docs_path(void) {
  static char docs[SGEN_PATH_MAX];
  const char *env = getenv("SGEN_DOCS");
  if (env != NULL && env[0] != '\0') return env;
  const char *origin;
  const char *dir = sgen_lua_dir(&origin);
  char up1[SGEN_PATH_MAX], up2[SGEN_PATH_MAX];
  sgen_dirname(dir, up1, sizeof up1);
  int w;
  if (strcmp(origin, "install") == 0 || strcmp(origin, "configured install prefix") == 0) {
    sgen_dirname(up1, up2, sizeof up2); /* <prefix>/share/lua/5.4 -> <prefix>/share */
    w = snprintf(docs, sizeof docs, "%s/doc/sgen/lua-api.md", up2);
  } else {
    w = snprintf(docs, sizeof docs, "%s/docs/lua-api.md", up1);
  }
  if (w < 0 || (size_t)w >= sizeof docs) docs[0] = '\0'; /* too long: "not installed" */
  return docs;
}

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_project_root(const char *dir) {
  char a[SGEN_PATH_MAX], b[SGEN_PATH_MAX];
  int wa = snprintf(a, sizeof a, "%s/models", dir);
  int wb = snprintf(b, sizeof b, "%s/lua", dir);
  return wa > 0 && (size_t)wa < sizeof a && wb > 0 && (size_t)wb < sizeof b && is_dir(a) &&
         is_dir(b);
}

int sgen_project_root(const char *start, char *out, size_t n) {
  char cur[SGEN_PATH_MAX], up[SGEN_PATH_MAX];
  if (start != NULL && realpath(start, cur) != NULL) {
    for (;;) {
      if (is_project_root(cur)) {
        snprintf(out, n, "%s", cur);
        return 1;
      }
      sgen_dirname(cur, up, sizeof up);
      if (strcmp(up, cur) == 0) break;
      snprintf(cur, sizeof cur, "%s", up);
    }
  }
#ifdef SGEN_SOURCE_DIR
  if (is_project_root(SGEN_SOURCE_DIR)) {
    snprintf(out, n, "%s", SGEN_SOURCE_DIR);
    return 1;
  }
#endif
  return 0;
}
