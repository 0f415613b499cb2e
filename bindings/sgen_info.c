/* `sgen info` (version, build, BLAS, oneDNN, threads, CUDA) and `sgen test`. */
#include <errno.h>
#include <stdbool.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sgen/cuda.h"
#include "sgen/sgen.h"
#include "sgen_cli.h"

#ifndef SGEN_BUILD_TYPE
#define SGEN_BUILD_TYPE "unknown"
#endif
#ifndef SGEN_BUILD_OPTIONS
#define SGEN_BUILD_OPTIONS "unknown"
#endif
#ifndef SGEN_COMPILER
#define SGEN_COMPILER "unknown"
#endif

/* Finds "Key: value" in sg_build_info()'s "sgen X; BLAS: ...; OpenMP: yes;
 * CUDA: no" into out; returns 0 when absent. */
static int build_field(const char *key, char *out, size_t n) {
  const char *info = sg_build_info();
  size_t klen = strlen(key);
  const char *p = info;
  while (p != NULL && *p) {
    const char *end = strstr(p, "; ");
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > klen + 1 && strncmp(p, key, klen) == 0 && p[klen] == ':') {
      const char *v = p + klen + 1;
      while (*v == ' ') v++;
      snprintf(out, n, "%.*s", (int)(len - (size_t)(v - p)), v);
      return 1;
    }
    p = end ? end + 2 : NULL;
  }
  return 0;
}

int sgen_cmd_info(void) {
  char blas[512], openmp[64], onednn[96];
  const char *origin;
  const char *luadir = sgen_lua_dir(&origin);
  if (!build_field("BLAS", blas, sizeof blas)) snprintf(blas, sizeof blas, "unknown");
  if (!build_field("OpenMP", openmp, sizeof openmp)) snprintf(openmp, sizeof openmp, "unknown");
  if (!build_field("oneDNN", onednn, sizeof onednn)) snprintf(onednn, sizeof onednn, "unknown");
  const char *conv_env = getenv("SGEN_CONV");
  bool im2col_forced = conv_env && strcmp(conv_env, "im2col") == 0;
  printf("sgen %s\n", SGEN_VERSION);
  printf("  executable:  %s\n", sgen_exe_path());
  printf("  Lua:         %s, library %s (%s)\n", LUA_RELEASE, luadir, origin);
  printf("  build type:  %s\n", SGEN_BUILD_TYPE);
  printf("  options:     %s\n", SGEN_BUILD_OPTIONS);
  printf("  compiler:    %s\n", SGEN_COMPILER);
  printf("  BLAS:        %s\n", blas);
  printf("  OpenMP:      %s\n", openmp);
  if (strcmp(onednn, "no") == 0)
    printf("  oneDNN:      not built (convolutions: im2col + GEMM)\n");
  else
    printf("  oneDNN:      %s%s\n", onednn,
           im2col_forced ? "; off by SGEN_CONV=im2col (convolutions: im2col + GEMM)" : "");
  printf("  threads:     %d\n", sg_get_num_threads());
  /* CUDA: the toolkit's versions and the GPUs (sgen/cuda.h). */
  if (!sg_cuda_built()) {
    printf("  CUDA:        not built\n");
    printf("  cuDNN:       not built\n");
    printf("  GPUs:        none (CUDA not built)\n");
  } else {
    int rt = sg_cuda_runtime_version(), drv = sg_cuda_driver_version();
    int dnn = sg_cudnn_version(), blasv = sg_cublas_version();
    char drvs[64];
    if (drv > 0)
      snprintf(drvs, sizeof drvs, "driver %d.%d", drv / 1000, drv % 1000 / 10);
    else
      snprintf(drvs, sizeof drvs, "no driver");
    printf("  CUDA:        runtime %d.%d, %s, cuBLAS %d.%d.%d, TF32 %s\n", rt / 1000,
           rt % 1000 / 10, drvs, blasv / 10000, blasv / 100 % 100, blasv % 100,
           sg_get_allow_tf32() ? "allowed" : "off");
    printf("  cuDNN:       %d.%d.%d\n", dnn / 10000, dnn / 100 % 100, dnn % 100);
    int n = sg_cuda_device_count();
    if (n == 0) {
      printf("  GPUs:        none (%s)\n", sg_cuda_unavailable_reason());
    } else {
      for (int i = 0; i < n; i++) {
        const char *name = sg_cuda_device_name(i);
        printf("  %s cuda:%d %s, %.1f GiB\n", i == 0 ? "GPUs:       " : "            ", i,
               name ? name : "?", (double)sg_cuda_device_total_memory(i) / (1 << 30));
      }
    }
  }
  return 0;
}

/* ---- sgen test ---- */

static int prepend_env(const char *name, const char *value) {
  const char *old = getenv(name);
  size_t n = strlen(value) + (old ? strlen(old) : 0) + 3;
  char *buf = malloc(n);
  if (buf == NULL) return -1;
  if (old != NULL && old[0] != '\0') {
    snprintf(buf, n, "%s;%s", value, old);
  } else {
    snprintf(buf, n, "%s;;", value); /* ";;": the default path too */
  }
  int r = setenv(name, buf, 1);
  free(buf);
  return r;
}

int sgen_cmd_test(int argc, char **argv) {
#ifndef SGEN_SOURCE_DIR
  (void)argc;
  (void)argv;
  fputs("sgen test: this sgen was built without its source directory\n", stderr);
  return SGEN_EXIT_ERROR;
#else
  const char *src = SGEN_SOURCE_DIR;
  char bindir[4096], prefix[4096], path[4200], cpath[4200];
  snprintf(path, sizeof path, "%s/spec", src);
  if (!sgen_file_exists(path)) {
    fprintf(stderr, "sgen test: the spec suite %s is not there (sgen test runs from a source "
                    "checkout)\n", path);
    return SGEN_EXIT_ERROR;
  }
  /* sgen.core for busted's lua5.4: <build>/lua/sgen/core.so next to
   * <build>/bin/sgen, or <prefix>/lib/lua/5.4/sgen/core.so once installed */
  sgen_dirname(sgen_exe_path(), bindir, sizeof bindir);
  sgen_dirname(bindir, prefix, sizeof prefix);
  snprintf(path, sizeof path, "%s/lua/sgen/core.so", prefix);
  if (sgen_file_exists(path)) {
    snprintf(cpath, sizeof cpath, "%s/lua/?.so", prefix);
  } else {
    snprintf(path, sizeof path, "%s/lib/lua/5.4/sgen/core.so", prefix);
    if (!sgen_file_exists(path)) {
      fprintf(stderr, "sgen test: sgen.core (core.so) not found next to %s\n", sgen_exe_path());
      return SGEN_EXIT_ERROR;
    }
    snprintf(cpath, sizeof cpath, "%s/lib/lua/5.4/?.so", prefix);
  }
  char lpath[3 * 4096 + 64];
  snprintf(lpath, sizeof lpath, "%s/lua/?.lua;%s/lua/?/init.lua;%s/?.lua", src, src, src);
  if (prepend_env("LUA_PATH", lpath) != 0 || prepend_env("LUA_CPATH", cpath) != 0 ||
      setenv("SGEN_BIN", sgen_exe_path(), 1) != 0 || setenv("SGEN_SOURCE_DIR", src, 1) != 0) {
    fprintf(stderr, "sgen test: cannot set the environment: %s\n", strerror(errno));
    return SGEN_EXIT_ERROR;
  }
  if (chdir(src) != 0) {
    fprintf(stderr, "sgen test: cannot enter %s: %s\n", src, strerror(errno));
    return SGEN_EXIT_ERROR;
  }
  /* busted --lua=lua5.4 [--exclude-tags=gpu spec | ARGS...] */
  char **args = calloc((size_t)argc + 5, sizeof *args);
  if (args == NULL) return SGEN_EXIT_ERROR;
  int n = 0;
  int has_lua = 0;
  for (int i = 0; i < argc; i++) {
    if (strncmp(argv[i], "--lua", 5) == 0) has_lua = 1;
  }
  args[n++] = "busted";
  if (!has_lua) args[n++] = "--lua=lua5.4";
  if (argc == 0) {
    args[n++] = "--exclude-tags=gpu";
    args[n++] = "spec";
  }
  for (int i = 0; i < argc; i++) args[n++] = argv[i];
  args[n] = NULL;
  fflush(stdout);
  execvp("busted", args);
  fprintf(stderr, "sgen test: cannot run busted: %s (install it: scripts/install-deps.sh)\n",
          strerror(errno));
  free(args);
  return 127;
#endif
}
