/* Bindings: reduce (being written). */
#include "lsg.h"

void lsg_open_reduce(lua_State *L, int core, int methods) {
  (void)L;
  (void)core;
  (void)methods;
}
