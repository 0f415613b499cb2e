/* Fused optimizer steps: sgen.core.adam_step_(p, grad, exp_avg, exp_avg_sq, opts). */
#include "lsg.h"

static const char *const adam_keys[] = {"lr", "beta1", "beta2", "eps", "weight_decay", "step",
                                        "decoupled", "maximize", NULL};

static int f_adam_step_(lua_State *L) {
  const char *fn = "adam_step_";
  sg_tensor *p = lsg_check_tensor(L, 1, fn, "param");
  sg_tensor *g = lsg_check_tensor(L, 2, fn, "grad");
  sg_tensor *m = lsg_check_tensor(L, 3, fn, "exp_avg");
  sg_tensor *v = lsg_check_tensor(L, 4, fn, "exp_avg_sq");
  luaL_checktype(L, 5, LUA_TTABLE);
  lsg_check_opt_keys(L, 5, fn, adam_keys);
  sg_adam_opts o = {
      .lr = lsg_opt_number(L, 5, "lr", 1e-3, fn),
      .beta1 = lsg_opt_number(L, 5, "beta1", 0.9, fn),
      .beta2 = lsg_opt_number(L, 5, "beta2", 0.999, fn),
      .eps = lsg_opt_number(L, 5, "eps", 1e-8, fn),
      .weight_decay = lsg_opt_number(L, 5, "weight_decay", 0, fn),
      .step = lsg_opt_integer(L, 5, "step", 0, fn),
      .decoupled = lsg_opt_boolean(L, 5, "decoupled", false, fn),
      .maximize = lsg_opt_boolean(L, 5, "maximize", false, fn),
  };
  lsg_check_status(L, sg_adam_step_(p, g, m, v, &o));
  return 0;
}

void lsg_open_optim(lua_State *L, int core, int methods) {
  (void)methods;
  static const luaL_Reg funcs[] = {{"adam_step_", f_adam_step_}, {NULL, NULL}};
  lsg_register(L, core, funcs);
}
