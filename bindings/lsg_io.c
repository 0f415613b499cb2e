/* Bindings: io (being written). */
#include "lsg.h"

void lsg_open_io(lua_State *L, int core, int methods) {
  (void)L;
  (void)core;
  (void)methods;
}
