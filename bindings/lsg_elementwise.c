/* Elementwise ops: unary math, binary arithmetic and comparisons (numbers
 * allowed for the second operand), where, clamp, masked_fill. */
#include <math.h>

#include "lsg.h"

/* ---- unary ---- */

#define UNARY(name, fn)                                              \
  static int u_##name(lua_State *L) {                                \
    return lsg_push_result(L, fn(lsg_check_tensor(L, 1, #name, "input"))); \
  }

UNARY(neg, sg_neg)
UNARY(abs, sg_abs)
UNARY(sign, sg_sign)
UNARY(exp, sg_exp)
UNARY(log, sg_log)
UNARY(sqrt, sg_sqrt)
UNARY(rsqrt, sg_rsqrt)
UNARY(sin, sg_sin)
UNARY(cos, sg_cos)
UNARY(tanh, sg_tanh)
UNARY(sigmoid, sg_sigmoid)
UNARY(relu, sg_relu)
UNARY(softplus, sg_softplus)

#define UNARY_OP(name, op)                                                        \
  static int u_##name(lua_State *L) {                                             \
    return lsg_push_result(L, sg_unary(op, lsg_check_tensor(L, 1, #name, "input"))); \
  }

UNARY_OP(reciprocal, SG_RECIPROCAL)
UNARY_OP(square, SG_SQUARE)
UNARY_OP(log1p, SG_LOG1P)
UNARY_OP(expm1, SG_EXPM1)
UNARY_OP(floor, SG_FLOOR)
UNARY_OP(ceil, SG_CEIL)
UNARY_OP(round, SG_ROUND)
UNARY_OP(logical_not, SG_LOGICAL_NOT)
UNARY_OP(erf, SG_ERF)

static int u_leaky_relu(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "leaky_relu", "input");
  double slope = lua_isnoneornil(L, 2) ? 0.01 : lsg_check_number(L, 2, "leaky_relu", "negative_slope");
  return lsg_push_result(L, sg_leaky_relu(x, slope));
}

/* ---- binary: second operand a tensor or a number ---- */

static int binary(lua_State *L, const char *name, sg_binary_op op) {
  sg_tensor *a = lsg_check_tensor(L, 1, name, "input");
  if (lua_type(L, 2) == LUA_TNUMBER) {
    double s = lua_tonumber(L, 2);
    switch (op) {
      case SG_ADD: return lsg_push_result(L, sg_add_scalar(a, s));
      case SG_SUB: return lsg_push_result(L, sg_sub_scalar(a, s));
      case SG_MUL: return lsg_push_result(L, sg_mul_scalar(a, s));
      case SG_DIV: return lsg_push_result(L, sg_div_scalar(a, s));
      case SG_POW: return lsg_push_result(L, sg_pow_scalar(a, s));
      case SG_EQ: case SG_NE: case SG_LT: case SG_LE: case SG_GT: case SG_GE:
        return lsg_push_result(L, sg_cmp_scalar(op, a, s));
      default: break;
    }
  }
  sg_tensor *owned = NULL;
  sg_tensor *b = lsg_check_tensor_or_number(L, 2, a, name, "other", &owned);
  sg_tensor *r = sg_binary(op, a, b);
  sg_release(owned);
  return lsg_push_result(L, r);
}

#define BINARY(name, op) \
  static int b_##name(lua_State *L) { return binary(L, #name, op); }

BINARY(maximum, SG_MAXIMUM)
BINARY(minimum, SG_MINIMUM)
BINARY(eq, SG_EQ)
BINARY(ne, SG_NE)
BINARY(lt, SG_LT)
BINARY(le, SG_LE)
BINARY(gt, SG_GT)
BINARY(ge, SG_GE)
BINARY(logical_and, SG_LOGICAL_AND)
BINARY(logical_or, SG_LOGICAL_OR)

/* x:where(cond, y) as in the contract (PyTorch's Tensor.where): cond ? x : y.
 * sgen.where(cond, x, y) is the functional form. */
static int where_impl(lua_State *L, int cond_i, int x_i, int y_i) {
  sg_tensor *cond = lsg_check_tensor(L, cond_i, "where", "condition");
  sg_tensor *ox = NULL, *oy = NULL;
  sg_tensor *x = lsg_is_tensor(L, x_i) ? lsg_check_tensor(L, x_i, "where", "input")
                                       : NULL;
  sg_tensor *y = lsg_is_tensor(L, y_i) ? lsg_check_tensor(L, y_i, "where", "other") : NULL;
  const sg_tensor *like = x ? x : y;
  /* Scalars become 0-dim tensors pushed on the stack, so that the collector
   * owns them if a later argument check raises. */
  if (!x) {
    x = lsg_check_tensor_or_number(L, x_i, like, "where", "input", &ox);
    if (ox) lsg_push_tensor(L, ox);
  }
  if (!y) {
    y = lsg_check_tensor_or_number(L, y_i, like ? like : x, "where", "other", &oy);
    if (oy) lsg_push_tensor(L, oy);
  }
  return lsg_push_result(L, sg_where(cond, x, y));
}

static int m_where(lua_State *L) { return where_impl(L, 2, 1, 3); }
static int f_where(lua_State *L) { return where_impl(L, 1, 2, 3); }

static int u_clamp(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "clamp", "input");
  double lo = lua_isnoneornil(L, 2) ? NAN : lsg_check_number(L, 2, "clamp", "min");
  double hi = lua_isnoneornil(L, 3) ? NAN : lsg_check_number(L, 3, "clamp", "max");
  if (isnan(lo) && isnan(hi))
    return luaL_error(L, "sgen.clamp: at least one of min and max must be given");
  return lsg_push_result(L, sg_clamp(x, lo, hi));
}

static int u_masked_fill(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "masked_fill", "input");
  sg_tensor *mask = lsg_check_tensor(L, 2, "masked_fill", "mask");
  double v = lua_isboolean(L, 3) ? lua_toboolean(L, 3) : lsg_check_number(L, 3, "masked_fill", "value");
  return lsg_push_result(L, sg_masked_fill(x, mask, v));
}

void lsg_open_elementwise(lua_State *L, int core, int methods) {
  static const luaL_Reg both[] = {
      {"neg", u_neg},         {"abs", u_abs},           {"sign", u_sign},
      {"exp", u_exp},         {"log", u_log},           {"sqrt", u_sqrt},
      {"rsqrt", u_rsqrt},     {"sin", u_sin},           {"cos", u_cos},
      {"tanh", u_tanh},       {"sigmoid", u_sigmoid},   {"relu", u_relu},
      {"softplus", u_softplus}, {"reciprocal", u_reciprocal}, {"square", u_square},
      {"log1p", u_log1p},     {"expm1", u_expm1},       {"floor", u_floor},
      {"ceil", u_ceil},       {"round", u_round},       {"logical_not", u_logical_not},
      {"erf", u_erf},
      {"leaky_relu", u_leaky_relu}, {"maximum", b_maximum}, {"minimum", b_minimum},
      {"eq", b_eq},           {"ne", b_ne},             {"lt", b_lt},
      {"le", b_le},           {"gt", b_gt},             {"ge", b_ge},
      {"logical_and", b_logical_and}, {"logical_or", b_logical_or},
      {"clamp", u_clamp},     {"masked_fill", u_masked_fill},
      {NULL, NULL}};
  lsg_register(L, core, both);
  lsg_register(L, methods, both);
  lua_pushcfunction(L, m_where);
  lua_setfield(L, methods, "where");
  lua_pushcfunction(L, f_where);
  lua_setfield(L, core, "where");
}
