/* File I/O: safetensors (sg.save / sg.load) and the raw readers and writers
 * the Lua helpers (sg.image, sg.data) build on: PNG, IDX, CIFAR-10 batches.
 * Engine errors come through as "sgen.<function>: <engine message>", and the
 * engine's message names the file. */
#include <string.h>

#include "lsg.h"

/* Raises "sgen.<fname>: <engine message>". */
static int raise_io(lua_State *L, const char *fname) {
  const char *msg = sg_last_error();
  if (!msg || !*msg) msg = "operation failed (no message from the engine)";
  return luaL_error(L, "sgen.%s: %s", fname, msg);
}

/* A path argument: a non-empty string without embedded zeros. */
static const char *check_path(lua_State *L, int idx, const char *fname) {
  if (lua_type(L, idx) != LUA_TSTRING)
    luaL_error(L, "sgen.%s: argument %d (path) expected a string, got %s", fname, idx,
               lsg_typename(L, idx));
  size_t len;
  const char *p = lua_tolstring(L, idx, &len);
  if (len == 0) luaL_error(L, "sgen.%s: argument %d (path) is an empty string", fname, idx);
  if (strlen(p) != len)
    luaL_error(L, "sgen.%s: argument %d (path) contains a zero byte", fname, idx);
  return p;
}

/* A Lua string key without embedded zeros, for names and metadata. */
static const char *check_name(lua_State *L, int idx, const char *fname, const char *what) {
  size_t len;
  const char *s = lua_tolstring(L, idx, &len);
  if (strlen(s) != len)
    luaL_error(L, "sgen.%s: %s '%s...' contains a zero byte", fname, what, s);
  return s;
}

/* ---- sg.save(path, {name = tensor, ...}, {metadata = {key = "value"}}) ---- */

static int f_save(lua_State *L) {
  const char *path = check_path(L, 1, "save");
  if (!lua_istable(L, 2) || lsg_is_tensor(L, 2))
    return luaL_error(L, "sgen.save: argument 2 (tensors) expected a table {name = tensor, ...}, "
                      "got %s", lsg_typename(L, 2));
  static const char *const keys[] = {"metadata", NULL};
  lsg_check_opt_keys(L, 3, "save", keys);
  if (lua_gettop(L) > 3)
    return luaL_error(L, "sgen.save: unexpected argument 4 (%s) after the options table",
                      lsg_typename(L, 4));
  int meta = 0;
  if (!lua_isnoneornil(L, 3)) {
    int ty = lua_getfield(L, 3, "metadata");
    if (ty == LUA_TNIL) {
      lua_pop(L, 1);
    } else if (ty != LUA_TTABLE || lsg_is_tensor(L, -1)) {
      return luaL_error(L, "sgen.save: option 'metadata' expected a table {key = \"value\"}, "
                        "got %s", lsg_typename(L, -1));
    } else {
      meta = lua_gettop(L);
    }
  }

  /* Count, then fill arrays held by userdata (freed by the collector even if
   * a check below raises). Names and tensors are borrowed from the tables. */
  int n = 0, n_meta = 0;
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      return luaL_error(L, "sgen.save: argument 2 (tensors) has a %s key, expected string names "
                        "(a table {name = tensor, ...}, not a list)", lsg_typename(L, -2));
    const char *name = check_name(L, -2, "save", "tensor name");
    if (!lsg_is_tensor(L, -1)) {
      if (luaL_testudata(L, -1, LSG_TENSOR_MT))
        return luaL_error(L, "sgen.save: entry '%s' is a freed tensor", name);
      return luaL_error(L, "sgen.save: entry '%s' is %s, expected a tensor", name,
                        lsg_typename(L, -1));
    }
    lua_pop(L, 1);
    if (n == INT32_MAX / 2) return luaL_error(L, "sgen.save: too many tensors");
    n++;
  }
  if (meta) {
    lua_pushnil(L);
    while (lua_next(L, meta)) {
      if (lua_type(L, -2) != LUA_TSTRING)
        return luaL_error(L, "sgen.save: metadata has a %s key, expected string keys",
                          lsg_typename(L, -2));
      const char *key = check_name(L, -2, "save", "metadata key");
      if (lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "sgen.save: metadata '%s' is %s, expected a string (safetensors "
                          "metadata holds strings only; convert with tostring)",
                          key, lsg_typename(L, -1));
      check_name(L, -1, "save", "metadata value");
      lua_pop(L, 1);
      if (n_meta == INT32_MAX / 2) return luaL_error(L, "sgen.save: too many metadata entries");
      n_meta++;
    }
  }
  char **names = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n ? n : 1), 0);
  sg_tensor **tensors = lua_newuserdatauv(L, sizeof(sg_tensor *) * (size_t)(n ? n : 1), 0);
  char **mkeys = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n_meta ? n_meta : 1), 0);
  char **mvals = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n_meta ? n_meta : 1), 0);
  int i = 0;
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    /* strings stay anchored as keys/values of the argument tables */
    names[i] = (char *)lua_tostring(L, -2);
    tensors[i] = lsg_to_tensor(L, -1);
    i++;
    lua_pop(L, 1);
  }
  if (meta) {
    i = 0;
    lua_pushnil(L);
    while (lua_next(L, meta)) {
      mkeys[i] = (char *)lua_tostring(L, -2);
      mvals[i] = (char *)lua_tostring(L, -1);
      i++;
      lua_pop(L, 1);
    }
  }
  sg_tensor_dict d = {n, names, tensors, n_meta, mkeys, mvals};
  if (sg_safetensors_save(path, &d) != SG_OK) return raise_io(L, "save");
  return 0;
}

/* ---- sg.load(path) -> {name = tensor, ...}, {key = "value", ...} ---- */

#define DICT_GUARD_MT "sgen.io.dict_guard"

static int dict_guard_gc(lua_State *L) {
  sg_tensor_dict *d = luaL_checkudata(L, 1, DICT_GUARD_MT);
  sg_tensor_dict_free(d);
  return 0;
}

static int f_load(lua_State *L) {
  const char *path = check_path(L, 1, "load");
  if (lua_gettop(L) > 1)
    return luaL_error(L, "sgen.load: unexpected argument 2 (%s): load takes a path",
                      lsg_typename(L, 2));
  /* The dict lives in a userdata whose __gc frees what was not handed over,
   * should a Lua allocation fail while the tables are built. */
  sg_tensor_dict *d = lua_newuserdatauv(L, sizeof *d, 0);
  memset(d, 0, sizeof *d);
  luaL_setmetatable(L, DICT_GUARD_MT);
  if (sg_safetensors_load(path, d) != SG_OK) return raise_io(L, "load");
  lua_createtable(L, 0, d->n);
  for (int i = 0; i < d->n; i++) {
    sg_tensor *t = d->tensors[i];
    lua_pushstring(L, d->names[i]);
    d->tensors[i] = NULL; /* handed over to the userdata below */
    lsg_push_tensor(L, t);
    lua_rawset(L, -3);
  }
  lua_createtable(L, 0, d->n_meta);
  for (int i = 0; i < d->n_meta; i++) {
    lua_pushstring(L, d->meta_values[i]);
    lua_setfield(L, -2, d->meta_keys[i]);
  }
  sg_tensor_dict_free(d);
  return 2;
}

/* ---- raw readers and writers (sg.core.*) ---- */

/* sg.core.write_file(path, bytes): the engine's crash-safe write, for the
 * text files the Lua library writes (JSON, SVG, CSV rewrites). */
static int f_write_file(lua_State *L) {
  const char *path = check_path(L, 1, "write_file");
  if (lua_type(L, 2) != LUA_TSTRING)
    return luaL_error(L, "sgen.write_file: argument 2 (data) expected a string, got %s",
                      lsg_typename(L, 2));
  size_t n;
  const char *data = lua_tolstring(L, 2, &n);
  if (sg_write_file_atomic("write_file", path, data, n) != SG_OK)
    return luaL_error(L, "sgen.%s", sg_last_error());
  return 0;
}

static int f_png_read(lua_State *L) {
  const char *path = check_path(L, 1, "png_read");
  sg_tensor *t = sg_png_read(path);
  if (!t) return raise_io(L, "png_read");
  lsg_push_tensor(L, t);
  return 1;
}

static int f_png_write(lua_State *L) {
  const char *path = check_path(L, 1, "png_write");
  sg_tensor *t = lsg_check_tensor(L, 2, "png_write", "image");
  if (sg_png_write(path, t) != SG_OK) return raise_io(L, "png_write");
  return 0;
}

static int f_idx_read(lua_State *L) {
  const char *path = check_path(L, 1, "idx_read");
  sg_tensor *t = sg_idx_read(path);
  if (!t) return raise_io(L, "idx_read");
  lsg_push_tensor(L, t);
  return 1;
}

/* images uint8 N x 3 x 32 x 32, labels int64 N with the file's values 0..9
 * (not shifted to 1-based: sg.data converts when it builds a data set). */
static int f_cifar10_read(lua_State *L) {
  const char *path = check_path(L, 1, "cifar10_read");
  sg_tensor *images = NULL, *labels = NULL;
  if (sg_cifar10_read(path, &images, &labels) != SG_OK) {
    sg_release(images);
    sg_release(labels);
    return raise_io(L, "cifar10_read");
  }
  lsg_push_tensor(L, images);
  lsg_push_tensor(L, labels);
  return 2;
}

void lsg_open_io(lua_State *L, int core, int methods) {
  (void)methods;
  if (luaL_newmetatable(L, DICT_GUARD_MT)) {
    lua_pushcfunction(L, dict_guard_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  static const luaL_Reg funcs[] = {{"save", f_save},           {"load", f_load},
                                   {"png_read", f_png_read},   {"png_write", f_png_write},
                                   {"idx_read", f_idx_read},   {"cifar10_read", f_cifar10_read},
                                   {"write_file", f_write_file}, {NULL, NULL}};
  lsg_register(L, core, funcs);
}
