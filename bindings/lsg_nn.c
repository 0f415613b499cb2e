/* Bindings: nn (being written). */
#include "lsg.h"

void lsg_open_nn(lua_State *L, int core, int methods) {
  (void)L;
  (void)core;
  (void)methods;
}
