/* Tracebacks whose function names do not depend on the order of a hash table.
 *
 * Lua's own luaL_traceback names a function after the first module table in
 * package.loaded that holds it. sgen publishes one C function under several
 * names (sgen.add is sgen.core.add; sgen.conv2d is sgen.F.conv2d), and the
 * walk order of package.loaded changes with what else is loaded: the same
 * error read "in function 'sgen.add'" under `sgen run` and "'sgen.core.add'"
 * at the REPL. Here every candidate is ranked (fewest dots, then shortest,
 * then alphabetical), so a function has one name everywhere: the
 * user-facing one. The layout of the text is luaL_traceback's. */
#include <string.h>

#include "lsg.h"

enum { LEVELS_HEAD = 10, LEVELS_TAIL = 11 }; /* as lauxlib: long stacks show both ends */

static int dots(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '.';
  return n;
}

/* a before b? */
static int better_name(const char *a, size_t alen, const char *b, size_t blen) {
  int da = dots(a), db = dots(b);
  if (da != db) return da < db;
  if (alen != blen) return alen < blen;
  return strcmp(a, b) < 0;
}

/* The function at the top of the stack -> pushes its best "module.field"
 * name (with "_G." dropped) and returns 1, or pushes nothing and returns 0.
 * The function is left in place. */
static int push_global_name(lua_State *L) {
  int fn = lua_gettop(L);
  luaL_checkstack(L, 8, "traceback");
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  int loaded = lua_gettop(L);
  int found = 0; /* when set, the best name is at loaded + 1 */
  lua_pushnil(L);
  while (lua_next(L, loaded) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TTABLE) {
      int mod = lua_gettop(L);
      lua_pushnil(L);
      while (lua_next(L, mod) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, fn)) {
          const char *modname = lua_tostring(L, mod - 1);
          if (strcmp(modname, LUA_GNAME) == 0) lua_pushvalue(L, -2);
          else lua_pushfstring(L, "%s.%s", modname, lua_tostring(L, -2));
          size_t nlen, blen;
          const char *name = lua_tolstring(L, -1, &nlen);
          const char *best = found ? lua_tolstring(L, loaded + 1, &blen) : NULL;
          if (!found || better_name(name, nlen, best, blen)) {
            if (found) lua_replace(L, loaded + 1);
            else {
              /* the slot above package.loaded holds the best name; keep the
               * two iteration keys and the module above it */
              lua_insert(L, loaded + 1);
              mod++;
              found = 1;
            }
          } else {
            lua_pop(L, 1);
          }
        }
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  if (found) {
    lua_replace(L, loaded); /* the name where package.loaded was */
    return 1;
  }
  lua_pop(L, 1);
  return 0;
}

static void push_func_name(lua_State *L, lua_State *L1, lua_Debug *ar) {
  lua_getinfo(L1, "f", ar);
  if (L1 != L) lua_xmove(L1, L, 1);
  if (push_global_name(L)) {
    lua_pushfstring(L, "function '%s'", lua_tostring(L, -1));
    lua_replace(L, -3);
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  if (*ar->namewhat != '\0') lua_pushfstring(L, "%s '%s'", ar->namewhat, ar->name);
  else if (*ar->what == 'm') lua_pushliteral(L, "main chunk");
  else if (*ar->what != 'C') lua_pushfstring(L, "function <%s:%d>", ar->short_src, ar->linedefined);
  else lua_pushliteral(L, "?");
}

static int last_level(lua_State *L1) {
  lua_Debug ar;
  int li = 1, le = 1;
  while (lua_getstack(L1, le, &ar)) {
    li = le;
    le *= 2;
  }
  while (li < le) {
    int m = (li + le) / 2;
    if (lua_getstack(L1, m, &ar)) li = m + 1;
    else le = m;
  }
  return le - 1;
}

void lsg_traceback(lua_State *L, lua_State *L1, const char *msg, int level) {
  luaL_checkstack(L, 12, "traceback");
  int base = lua_gettop(L);
  lua_Debug ar;
  int last = last_level(L1);
  int head = (last - level > LEVELS_HEAD + LEVELS_TAIL) ? LEVELS_HEAD : -1;
  if (msg) lua_pushfstring(L, "%s\n", msg);
  lua_pushliteral(L, "stack traceback:");
  while (lua_getstack(L1, level++, &ar)) {
    if (head-- == 0) {
      int n = last - level - LEVELS_TAIL + 1;
      lua_pushfstring(L, "\n\t...\t(skipping %d levels)", n);
      level += n;
    } else {
      lua_getinfo(L1, "Slnt", &ar);
      if (ar.currentline <= 0) lua_pushfstring(L, "\n\t%s: in ", ar.short_src);
      else lua_pushfstring(L, "\n\t%s:%d: in ", ar.short_src, ar.currentline);
      push_func_name(L, L1, &ar);
      lua_concat(L, 2);
      if (ar.istailcall) {
        lua_pushliteral(L, "\n\t(...tail calls...)");
        lua_concat(L, 2);
      }
    }
    lua_concat(L, 2); /* keep the stack short on deep traces */
  }
  lua_concat(L, lua_gettop(L) - base);
}

/* sg.traceback([msg [, level = 1]]): debug.traceback with sgen's names. */
static int f_traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL && !lua_isnoneornil(L, 1)) {
    lua_settop(L, 1); /* a non-string message is returned untouched, as debug.traceback */
    return 1;
  }
  int level = (int)luaL_optinteger(L, 2, 1);
  lsg_traceback(L, L, msg, level);
  return 1;
}

void lsg_open_traceback(lua_State *L, int core, int methods) {
  (void)methods;
  static const luaL_Reg funcs[] = {{"traceback", f_traceback}, {NULL, NULL}};
  lsg_register(L, core, funcs);
}
