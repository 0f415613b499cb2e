/* luaopen_sgen_core: builds the module table and the Tensor metatable and
 * lets each op family register its functions and methods. */
#include "lsg.h"

int luaopen_sgen_core(lua_State *L) {
  lua_newtable(L);
  int core = lua_gettop(L);
  luaL_newmetatable(L, LSG_TENSOR_MT);
  lua_newtable(L);
  int methods = lua_gettop(L);
  lua_pushvalue(L, methods);
  lua_setfield(L, -3, "__methods");
  /* Lua code extends tensors through sgen.core.Tensor (the method table). */
  lua_pushvalue(L, methods);
  lua_setfield(L, core, "Tensor");

  lsg_open_tensor(L, core, methods);
  lsg_open_create(L, core, methods);
  lsg_open_elementwise(L, core, methods);
  lsg_open_views(L, core, methods);
  lsg_open_reduce(L, core, methods);
  lsg_open_linalg(L, core, methods);
  lsg_open_index(L, core, methods);
  lsg_open_nn(L, core, methods);
  lsg_open_sparse(L, core, methods);
  lsg_open_random(L, core, methods);
  lsg_open_io(L, core, methods);
  lsg_open_autograd(L, core, methods);
  lsg_open_system(L, core, methods);
  lsg_open_optim(L, core, methods);
  lsg_open_dist(L, core, methods);
  lsg_open_traceback(L, core, methods);
  lua_pushcfunction(L, lsg_l_is_tensor);
  lua_setfield(L, core, "is_tensor");
  lsg_open_anomaly(L, core, methods);

  lua_settop(L, core);
  return 1;
}
