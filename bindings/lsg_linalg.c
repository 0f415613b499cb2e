/* Bindings: linalg (being written). */
#include "lsg.h"

void lsg_open_linalg(lua_State *L, int core, int methods) {
  (void)L;
  (void)core;
  (void)methods;
}
