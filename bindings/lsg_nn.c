/* Neural-network functional ops (the C side of sg.F): convolution, linear,
 * normalization, pooling, resampling, padding, softmax, dropout and losses.
 *
 * Tensors are positional in PyTorch's order (nil = absent), scalar settings
 * go in a trailing options table whose keys are checked (typos fail).
 * Lua conventions: dims are 1-based (softmax), the indices returned by
 * max_pool2d are 1-based, and the class labels given to cross_entropy and
 * nll_loss are 1-based (ignore_index is in the same label space). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lsg.h"

/* ---- argument helpers ---- */

/* Formats a pair as "3" when both entries agree, "3x5" otherwise. */
static const char *pair_str(char *buf, size_t n, const int64_t v[2]) {
  if (v[0] == v[1]) snprintf(buf, n, "%lld", (long long)v[0]);
  else snprintf(buf, n, "%lldx%lld", (long long)v[0], (long long)v[1]);
  return buf;
}

/* Reads the integer or pair {h, w} at vidx into v; false if it is neither. */
static bool read_int_pair(lua_State *L, int vidx, int64_t v[2]) {
  int isint = 0;
  if (lua_type(L, vidx) == LUA_TNUMBER) {
    v[0] = v[1] = (int64_t)lua_tointegerx(L, vidx, &isint);
    return isint;
  }
  if (!lua_istable(L, vidx) || lsg_is_tensor(L, vidx) || luaL_len(L, vidx) != 2) return false;
  for (int i = 0; i < 2; i++) {
    lua_geti(L, vidx, i + 1);
    v[i] = (int64_t)lua_tointegerx(L, -1, &isint);
    lua_pop(L, 1);
    if (!isint) return false;
  }
  return true;
}

/* A positional size (kernel, output size): a positive integer or {h, w}. */
static void check_size_arg(lua_State *L, int idx, const char *fname, const char *argname,
                           int out[2]) {
  int64_t v[2];
  if (!read_int_pair(L, idx, v))
    luaL_error(L, "sgen.%s: argument %d (%s) expected an integer or a pair {h, w} of integers, "
               "got %s",
               fname, idx, argname, lsg_typename(L, idx));
  if (v[0] < 1 || v[1] < 1 || v[0] > INT_MAX || v[1] > INT_MAX) {
    char b[64];
    if (v[0] > INT_MAX || v[1] > INT_MAX)
      luaL_error(L, "sgen.%s: argument %d (%s) is too large, got %s", fname, idx, argname,
                 pair_str(b, sizeof b, v));
    luaL_error(L, "sgen.%s: argument %d (%s) must be positive, got %s", fname, idx, argname,
               pair_str(b, sizeof b, v));
  }
  out[0] = (int)v[0];
  out[1] = (int)v[1];
}

/* An option that is an integer or a pair {h, w}, each entry >= minv (and
 * fitting an int). Returns false (out = def) when the option is absent. */
static bool opt_pair(lua_State *L, int o, const char *key, int def, int minv, int out[2],
                     const char *fname) {
  out[0] = out[1] = def;
  if (lua_isnoneornil(L, o)) return false;
  if (lua_getfield(L, o, key) == LUA_TNIL) {
    lua_pop(L, 1);
    return false;
  }
  int64_t v[2];
  if (!read_int_pair(L, -1, v))
    luaL_error(L, "sgen.%s: option '%s' expected an integer or a pair {h, w} of integers, got %s",
               fname, key, lsg_typename(L, -1));
  if (v[0] < minv || v[1] < minv || v[0] > INT_MAX || v[1] > INT_MAX) {
    char b[64];
    if (v[0] > INT_MAX || v[1] > INT_MAX)
      luaL_error(L, "sgen.%s: option '%s' is too large, got %s", fname, key,
                 pair_str(b, sizeof b, v));
    luaL_error(L, "sgen.%s: option '%s' must be %s, got %s", fname, key,
               minv > 0 ? "positive" : "non-negative", pair_str(b, sizeof b, v));
  }
  lua_pop(L, 1);
  out[0] = (int)v[0];
  out[1] = (int)v[1];
  return true;
}

/* An option holding a tensor (borrowed: anchored in the options table). */
static sg_tensor *opt_tensor(lua_State *L, int o, const char *key, const char *fname) {
  if (lua_isnoneornil(L, o)) return NULL;
  lua_getfield(L, o, key);
  sg_tensor *t = NULL;
  if (!lua_isnil(L, -1)) {
    lsg_tensor *u = luaL_testudata(L, -1, LSG_TENSOR_MT);
    if (!u)
      luaL_error(L, "sgen.%s: option '%s' expected a tensor, got %s", fname, key,
                 lsg_typename(L, -1));
    if (!u->t)
      luaL_error(L, "sgen.%s: option '%s' is a freed tensor (t:free() was called on it)", fname,
                 key);
    t = u->t;
  }
  lua_pop(L, 1);
  return t;
}

/* An integer option within [lo, hi]. */
static int64_t opt_int_range(lua_State *L, int o, const char *key, int64_t def, int64_t lo,
                             int64_t hi, const char *fname) {
  int64_t v = lsg_opt_integer(L, o, key, def, fname);
  if (v < lo || v > hi)
    luaL_error(L, "sgen.%s: option '%s' must be between %I and %I, got %I", fname, key,
               (lua_Integer)lo, (lua_Integer)hi, (lua_Integer)v);
  return v;
}

static double opt_nonneg(lua_State *L, int o, const char *key, double def, const char *fname) {
  double v = lsg_opt_number(L, o, key, def, fname);
  if (!(v >= 0))
    luaL_error(L, "sgen.%s: option '%s' must be >= 0, got %f", fname, key, (lua_Number)v);
  return v;
}

static sg_reduction opt_reduction(lua_State *L, int o, const char *fname) {
  const char *s = lsg_opt_string(L, o, "reduction", "mean", fname);
  if (strcmp(s, "mean") == 0) return SG_REDUCTION_MEAN;
  if (strcmp(s, "sum") == 0) return SG_REDUCTION_SUM;
  if (strcmp(s, "none") == 0) return SG_REDUCTION_NONE;
  luaL_error(L, "sgen.%s: option 'reduction' expected \"mean\", \"sum\" or \"none\", got \"%s\"",
             fname, s);
  return SG_REDUCTION_MEAN;
}

static int check_int_arg(lua_State *L, int idx, int64_t lo, const char *fname,
                         const char *argname) {
  int64_t v = lsg_check_integer(L, idx, fname, argname);
  if (v < lo || v > INT_MAX)
    luaL_error(L, "sgen.%s: argument %d (%s) must be %s, got %I", fname, idx, argname,
               lo > 0 ? "positive" : "non-negative", (lua_Integer)v);
  return (int)v;
}

/* ---- convolution and linear ---- */

static int f_conv2d(lua_State *L) {
  static const char *const keys[] = {"stride", "padding", "dilation", "groups", NULL};
  const char *fn = "conv2d";
  sg_tensor *x = lsg_check_tensor(L, 1, fn, "input");
  sg_tensor *w = lsg_check_tensor(L, 2, fn, "weight");
  sg_tensor *b = lsg_opt_tensor(L, 3, fn, "bias");
  lsg_check_opt_keys(L, 4, fn, keys);
  sg_conv_opts o;
  memset(&o, 0, sizeof o);
  opt_pair(L, 4, "stride", 1, 1, o.stride, fn);
  opt_pair(L, 4, "padding", 0, 0, o.padding, fn);
  opt_pair(L, 4, "dilation", 1, 1, o.dilation, fn);
  o.groups = (int)opt_int_range(L, 4, "groups", 1, 1, INT_MAX, fn);
  return lsg_push_result(L, sg_conv2d(x, w, b, &o));
}

static int f_conv_transpose2d(lua_State *L) {
  static const char *const keys[] = {"stride", "padding", "output_padding", "groups",
                                     "dilation", NULL};
  const char *fn = "conv_transpose2d";
  sg_tensor *x = lsg_check_tensor(L, 1, fn, "input");
  sg_tensor *w = lsg_check_tensor(L, 2, fn, "weight");
  sg_tensor *b = lsg_opt_tensor(L, 3, fn, "bias");
  lsg_check_opt_keys(L, 4, fn, keys);
  sg_conv_opts o;
  memset(&o, 0, sizeof o);
  opt_pair(L, 4, "stride", 1, 1, o.stride, fn);
  opt_pair(L, 4, "padding", 0, 0, o.padding, fn);
  opt_pair(L, 4, "output_padding", 0, 0, o.output_padding, fn);
  opt_pair(L, 4, "dilation", 1, 1, o.dilation, fn);
  o.groups = (int)opt_int_range(L, 4, "groups", 1, 1, INT_MAX, fn);
  return lsg_push_result(L, sg_conv_transpose2d(x, w, b, &o));
}

static int f_linear(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "linear", "input");
  sg_tensor *w = lsg_check_tensor(L, 2, "linear", "weight");
  sg_tensor *b = lsg_opt_tensor(L, 3, "linear", "bias");
  if (!lua_isnoneornil(L, 4))
    return luaL_error(L, "sgen.linear: takes (input, weight, bias), got a 4th argument (%s)",
                      lsg_typename(L, 4));
  return lsg_push_result(L, sg_linear(x, w, b));
}

static void check_unfold_opts(lua_State *L, int o, const char *fn, sg_unfold_opts *u) {
  static const char *const keys[] = {"dilation", "padding", "stride", NULL};
  lsg_check_opt_keys(L, o, fn, keys);
  opt_pair(L, o, "dilation", 1, 1, u->dilation, fn);
  opt_pair(L, o, "padding", 0, 0, u->padding, fn);
  opt_pair(L, o, "stride", 1, 1, u->stride, fn);
}

static int f_unfold(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "unfold", "input");
  sg_unfold_opts u;
  memset(&u, 0, sizeof u);
  check_size_arg(L, 2, "unfold", "kernel_size", u.kernel);
  check_unfold_opts(L, 3, "unfold", &u);
  return lsg_push_result(L, sg_unfold(x, &u));
}

static int f_fold(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "fold", "input");
  int osz[2];
  sg_unfold_opts u;
  memset(&u, 0, sizeof u);
  check_size_arg(L, 2, "fold", "output_size", osz);
  check_size_arg(L, 3, "fold", "kernel_size", u.kernel);
  check_unfold_opts(L, 4, "fold", &u);
  return lsg_push_result(L, sg_fold(x, osz[0], osz[1], &u));
}

/* ---- normalization ---- */

static int f_batch_norm(lua_State *L) {
  static const char *const keys[] = {"training", "momentum", "eps", "activation",
                                     "negative_slope", NULL};
  const char *fn = "batch_norm";
  sg_tensor *x = lsg_check_tensor(L, 1, fn, "input");
  sg_tensor *rm = lsg_opt_tensor(L, 2, fn, "running_mean");
  sg_tensor *rv = lsg_opt_tensor(L, 3, fn, "running_var");
  sg_tensor *w = lsg_opt_tensor(L, 4, fn, "weight");
  sg_tensor *b = lsg_opt_tensor(L, 5, fn, "bias");
  lsg_check_opt_keys(L, 6, fn, keys);
  bool training = lsg_opt_boolean(L, 6, "training", false, fn);
  double momentum = lsg_opt_number(L, 6, "momentum", 0.1, fn);
  double eps = opt_nonneg(L, 6, "eps", 1e-5, fn);
  const char *a = lsg_opt_string(L, 6, "activation", "none", fn);
  double slope = lsg_opt_number(L, 6, "negative_slope", 0.01, fn);
  sg_activation act;
  if (strcmp(a, "none") == 0)
    act = SG_ACT_NONE;
  else if (strcmp(a, "relu") == 0)
    act = SG_ACT_RELU;
  else if (strcmp(a, "leaky_relu") == 0)
    act = SG_ACT_LEAKY_RELU;
  else
    return luaL_error(L, "sgen.%s: option 'activation' expected \"none\", \"relu\" or "
                      "\"leaky_relu\", got \"%s\"", fn, a);
  return lsg_push_result(L, sg_batch_norm_act(x, rm, rv, w, b, training, momentum, eps, act, slope));
}

static int f_instance_norm(lua_State *L) {
  static const char *const keys[] = {"use_input_stats", "momentum", "eps", NULL};
  const char *fn = "instance_norm";
  sg_tensor *x = lsg_check_tensor(L, 1, fn, "input");
  sg_tensor *rm = lsg_opt_tensor(L, 2, fn, "running_mean");
  sg_tensor *rv = lsg_opt_tensor(L, 3, fn, "running_var");
  sg_tensor *w = lsg_opt_tensor(L, 4, fn, "weight");
  sg_tensor *b = lsg_opt_tensor(L, 5, fn, "bias");
  lsg_check_opt_keys(L, 6, fn, keys);
  bool use_input_stats = lsg_opt_boolean(L, 6, "use_input_stats", true, fn);
  double momentum = lsg_opt_number(L, 6, "momentum", 0.1, fn);
  double eps = opt_nonneg(L, 6, "eps", 1e-5, fn);
  return lsg_push_result(
      L, sg_instance_norm(x, rm, rv, w, b, use_input_stats, momentum, eps));
}

static int f_layer_norm(lua_State *L) {
  static const char *const keys[] = {"eps", NULL};
  const char *fn = "layer_norm";
  sg_tensor *x = lsg_check_tensor(L, 1, fn, "input");
  int64_t shape[SG_MAX_DIMS];
  int nd;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    shape[0] = lsg_check_integer(L, 2, fn, "normalized_shape");
    nd = 1;
  } else if (lua_istable(L, 2) && !lsg_is_tensor(L, 2)) {
    nd = lsg_check_shape(L, 2, shape, NULL, false, fn);
  } else {
    return luaL_error(L, "sgen.%s: argument 2 (normalized_shape) expected an integer or a table "
                      "of sizes, got %s",
                      fn, lsg_typename(L, 2));
  }
  for (int i = 0; i < nd; i++)
    if (shape[i] < 1)
      return luaL_error(L, "sgen.%s: normalized_shape entry %d must be positive, got %I", fn,
                        i + 1, (lua_Integer)shape[i]);
  if (nd == 0)
    return luaL_error(L, "sgen.%s: normalized_shape is empty, expected at least one size", fn);
  sg_tensor *w = lsg_opt_tensor(L, 3, fn, "weight");
  sg_tensor *b = lsg_opt_tensor(L, 4, fn, "bias");
  lsg_check_opt_keys(L, 5, fn, keys);
  double eps = opt_nonneg(L, 5, "eps", 1e-5, fn);
  return lsg_push_result(L, sg_layer_norm(x, shape, nd, w, b, eps));
}

/* ---- pooling ---- */

static int f_max_pool2d(lua_State *L) {
  static const char *const keys[] = {"stride", "padding", "dilation", "ceil_mode",
                                     "return_indices", NULL};
  const char *fn = "max_pool2d";
  sg_tensor *x = lsg_check_tensor(L, 1, fn, "input");
  sg_pool_opts o;
  memset(&o, 0, sizeof o);
  check_size_arg(L, 2, fn, "kernel_size", o.kernel);
  lsg_check_opt_keys(L, 3, fn, keys);
  if (!opt_pair(L, 3, "stride", 1, 1, o.stride, fn)) {
    o.stride[0] = o.kernel[0];
    o.stride[1] = o.kernel[1];
  }
  opt_pair(L, 3, "padding", 0, 0, o.padding, fn);
  opt_pair(L, 3, "dilation", 1, 1, o.dilation, fn);
  o.ceil_mode = lsg_opt_boolean(L, 3, "ceil_mode", false, fn);
  bool want_idx = lsg_opt_boolean(L, 3, "return_indices", false, fn);
  if (!want_idx) return lsg_push_result(L, sg_max_pool2d(x, &o, NULL));
  sg_tensor *idx = NULL;
  sg_tensor *y = sg_max_pool2d(x, &o, &idx);
  sg_tensor *idx1 = y && idx ? sg_add_scalar(idx, 1.0) : NULL; /* 1-based for Lua */
  sg_release(idx);
  if (!idx1) {
    sg_release(y);
    return lsg_raise_engine(L);
  }
  lsg_push_tensor(L, y);
  lsg_push_tensor(L, idx1);
  return 2;
}

static int f_avg_pool2d(lua_State *L) {
  static const char *const keys[] = {"stride", "padding", "ceil_mode", "count_include_pad", NULL};
  const char *fn = "avg_pool2d";
  sg_tensor *x = lsg_check_tensor(L, 1, fn, "input");
  sg_pool_opts o;
  memset(&o, 0, sizeof o);
  check_size_arg(L, 2, fn, "kernel_size", o.kernel);
  lsg_check_opt_keys(L, 3, fn, keys);
  if (!opt_pair(L, 3, "stride", 1, 1, o.stride, fn)) {
    o.stride[0] = o.kernel[0];
    o.stride[1] = o.kernel[1];
  }
  opt_pair(L, 3, "padding", 0, 0, o.padding, fn);
  o.dilation[0] = o.dilation[1] = 1;
  o.ceil_mode = lsg_opt_boolean(L, 3, "ceil_mode", false, fn);
  o.count_include_pad = lsg_opt_boolean(L, 3, "count_include_pad", true, fn);
  return lsg_push_result(L, sg_avg_pool2d(x, &o));
}

static int f_adaptive_avg_pool2d(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "adaptive_avg_pool2d", "input");
  int sz[2];
  check_size_arg(L, 2, "adaptive_avg_pool2d", "output_size", sz);
  return lsg_push_result(L, sg_adaptive_avg_pool2d(x, sz[0], sz[1]));
}

/* ---- resampling and padding ---- */

static int f_interpolate(lua_State *L) {
  static const char *const keys[] = {"size", "scale_factor", "mode", "align_corners", NULL};
  const char *fn = "interpolate";
  sg_tensor *x = lsg_check_tensor(L, 1, fn, "input");
  if (!lsg_has_opts(L, 2, fn))
    return luaL_error(L, "sgen.%s: argument 2 expected an options table with size or "
                      "scale_factor, got %s",
                      fn, lsg_typename(L, 2));
  lsg_check_opt_keys(L, 2, fn, keys);
  int size[2] = {0, 0};
  bool has_size = opt_pair(L, 2, "size", 0, 1, size, fn);
  double scale[2] = {0, 0};
  bool has_scale = false;
  int ty = lua_getfield(L, 2, "scale_factor");
  if (ty == LUA_TNUMBER) {
    scale[0] = scale[1] = lua_tonumber(L, -1);
    has_scale = true;
  } else if (ty == LUA_TTABLE && !lsg_is_tensor(L, -1) && luaL_len(L, -1) == 2) {
    for (int i = 0; i < 2; i++) {
      if (lua_geti(L, -1, i + 1) != LUA_TNUMBER)
        return luaL_error(L, "sgen.%s: option 'scale_factor' expected a number or a pair {h, w} "
                          "of numbers, got a %s entry",
                          fn, lsg_typename(L, -1));
      scale[i] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    has_scale = true;
  } else if (ty != LUA_TNIL) {
    return luaL_error(L, "sgen.%s: option 'scale_factor' expected a number or a pair {h, w} of "
                      "numbers, got %s",
                      fn, lsg_typename(L, -1));
  }
  lua_pop(L, 1);
  if (has_size == has_scale)
    return luaL_error(L, "sgen.%s: give exactly one of the options size and scale_factor", fn);
  if (has_scale && !(scale[0] > 0 && scale[1] > 0))
    return luaL_error(L, "sgen.%s: option 'scale_factor' must be positive, got %f and %f", fn,
                      (lua_Number)scale[0], (lua_Number)scale[1]);
  const char *mode = lsg_opt_string(L, 2, "mode", "nearest", fn);
  sg_interp_mode m;
  if (strcmp(mode, "nearest") == 0) m = SG_INTERP_NEAREST;
  else if (strcmp(mode, "bilinear") == 0) m = SG_INTERP_BILINEAR;
  else
    return luaL_error(L, "sgen.%s: option 'mode' expected \"nearest\" or \"bilinear\", got \"%s\"",
                      fn, mode);
  bool align = lsg_opt_boolean(L, 2, "align_corners", false, fn);
  return lsg_push_result(L, sg_interpolate(x, size[0], size[1], m, align, scale[0], scale[1]));
}

static int f_pad(lua_State *L) {
  static const char *const keys[] = {"mode", "value", NULL};
  const char *fn = "pad";
  sg_tensor *x = lsg_check_tensor(L, 1, fn, "input");
  if (!lua_istable(L, 2) || lsg_is_tensor(L, 2))
    return luaL_error(L, "sgen.%s: argument 2 (pad) expected a table of integers {left, right, "
                      "top, bottom, ...}, got %s",
                      fn, lsg_typename(L, 2));
  lua_Integer n = luaL_len(L, 2);
  if (n > 2 * SG_MAX_DIMS)
    return luaL_error(L, "sgen.%s: argument 2 (pad) has %I entries, at most %d are supported", fn,
                      n, 2 * SG_MAX_DIMS);
  int64_t pads[2 * SG_MAX_DIMS];
  for (lua_Integer i = 1; i <= n; i++) {
    int isint = 0;
    lua_geti(L, 2, i);
    pads[i - 1] = (int64_t)lua_tointegerx(L, -1, &isint);
    if (!isint)
      return luaL_error(L, "sgen.%s: pad entry %I expected an integer, got %s", fn, i,
                        lua_type(L, -1) == LUA_TNUMBER ? "a fraction" : lsg_typename(L, -1));
    lua_pop(L, 1);
  }
  lsg_check_opt_keys(L, 3, fn, keys);
  const char *mode = lsg_opt_string(L, 3, "mode", "constant", fn);
  sg_pad_mode m;
  if (strcmp(mode, "constant") == 0) m = SG_PAD_CONSTANT;
  else if (strcmp(mode, "reflect") == 0) m = SG_PAD_REFLECT;
  else if (strcmp(mode, "replicate") == 0) m = SG_PAD_REPLICATE;
  else
    return luaL_error(L, "sgen.%s: option 'mode' expected \"constant\", \"reflect\" or "
                      "\"replicate\", got \"%s\"",
                      fn, mode);
  double value = lsg_opt_number(L, 3, "value", 0.0, fn);
  if (m != SG_PAD_CONSTANT && value != 0.0)
    return luaL_error(L, "sgen.%s: option 'value' only applies to mode \"constant\" (mode is "
                      "\"%s\")",
                      fn, mode);
  return lsg_push_result(L, sg_pad(x, pads, (int)n, m, value));
}

static int f_pixel_shuffle(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "pixel_shuffle", "input");
  int r = check_int_arg(L, 2, 1, "pixel_shuffle", "upscale_factor");
  return lsg_push_result(L, sg_pixel_shuffle(x, r));
}

/* ---- softmax and dropout ---- */

static int f_softmax(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "softmax", "input");
  int d = lsg_check_dim(L, 2, x->ndim, "softmax", "dim");
  return lsg_push_result(L, sg_softmax(x, d));
}

static int f_log_softmax(lua_State *L) {
  sg_tensor *x = lsg_check_tensor(L, 1, "log_softmax", "input");
  int d = lsg_check_dim(L, 2, x->ndim, "log_softmax", "dim");
  return lsg_push_result(L, sg_log_softmax(x, d));
}

static int f_dropout(lua_State *L) {
  static const char *const keys[] = {"p", "training", NULL};
  sg_tensor *x = lsg_check_tensor(L, 1, "dropout", "input");
  lsg_check_opt_keys(L, 2, "dropout", keys);
  double p = lsg_opt_number(L, 2, "p", 0.5, "dropout");
  bool training = lsg_opt_boolean(L, 2, "training", true, "dropout");
  return lsg_push_result(L, sg_dropout(x, p, training));
}

/* ---- losses ---- */

static int pointwise_loss(lua_State *L, const char *fn,
                          sg_tensor *(*f)(sg_tensor *, sg_tensor *, sg_reduction)) {
  static const char *const keys[] = {"reduction", NULL};
  sg_tensor *a = lsg_check_tensor(L, 1, fn, "input");
  sg_tensor *b = lsg_check_tensor(L, 2, fn, "target");
  lsg_check_opt_keys(L, 3, fn, keys);
  return lsg_push_result(L, f(a, b, opt_reduction(L, 3, fn)));
}

static int f_mse_loss(lua_State *L) { return pointwise_loss(L, "mse_loss", sg_mse_loss); }
static int f_l1_loss(lua_State *L) { return pointwise_loss(L, "l1_loss", sg_l1_loss); }

static int f_bce_with_logits(lua_State *L) {
  static const char *const keys[] = {"weight", "pos_weight", "reduction", NULL};
  const char *fn = "binary_cross_entropy_with_logits";
  sg_tensor *a = lsg_check_tensor(L, 1, fn, "input");
  sg_tensor *b = lsg_check_tensor(L, 2, fn, "target");
  lsg_check_opt_keys(L, 3, fn, keys);
  sg_tensor *w = opt_tensor(L, 3, "weight", fn);
  sg_tensor *pw = opt_tensor(L, 3, "pos_weight", fn);
  sg_reduction r = opt_reduction(L, 3, fn);
  return lsg_push_result(L, sg_bce_with_logits(a, b, w, pw, r));
}

/* cross_entropy (smoothing >= 0) and nll_loss (smoothing < 0). */
static int class_loss(lua_State *L, const char *fn, bool ce) {
  static const char *const ce_keys[] = {"weight", "reduction", "ignore_index",
                                        "label_smoothing", NULL};
  static const char *const nll_keys[] = {"weight", "reduction", "ignore_index", NULL};
  sg_tensor *logits = lsg_check_tensor(L, 1, fn, "input");
  sg_tensor *target = lsg_check_tensor(L, 2, fn, "target");
  lsg_check_opt_keys(L, 3, fn, ce ? ce_keys : nll_keys);
  sg_tensor *w = opt_tensor(L, 3, "weight", fn);
  sg_reduction r = opt_reduction(L, 3, fn);
  int64_t ignore = opt_int_range(L, 3, "ignore_index", -100, INT64_MIN + 1, INT64_MAX, fn);
  double ls = ce ? lsg_opt_number(L, 3, "label_smoothing", 0.0, fn) : 0.0;
  if (!(ls >= 0 && ls <= 1))
    return luaL_error(L, "sgen.%s: option 'label_smoothing' must be in [0, 1], got %f", fn,
                      (lua_Number)ls);
  /* Lua's class labels are 1-based: the engine checks them in that
   * numbering and names a bad one as the user wrote it. */
  sg_tensor *out = ce ? sg_cross_entropy_ex(logits, target, w, r, ignore, ls, 1)
                      : sg_nll_loss_ex(logits, target, w, r, ignore, 1);
  return lsg_push_result(L, out);
}

static int f_cross_entropy(lua_State *L) { return class_loss(L, "cross_entropy", true); }
static int f_nll_loss(lua_State *L) { return class_loss(L, "nll_loss", false); }

void lsg_open_nn(lua_State *L, int core, int methods) {
  static const luaL_Reg fns[] = {
      {"conv2d", f_conv2d},
      {"conv_transpose2d", f_conv_transpose2d},
      {"linear", f_linear},
      {"unfold", f_unfold},
      {"fold", f_fold},
      {"batch_norm", f_batch_norm},
      {"instance_norm", f_instance_norm},
      {"layer_norm", f_layer_norm},
      {"max_pool2d", f_max_pool2d},
      {"avg_pool2d", f_avg_pool2d},
      {"adaptive_avg_pool2d", f_adaptive_avg_pool2d},
      {"interpolate", f_interpolate},
      {"pad", f_pad},
      {"pixel_shuffle", f_pixel_shuffle},
      {"dropout", f_dropout},
      {"mse_loss", f_mse_loss},
      {"l1_loss", f_l1_loss},
      {"binary_cross_entropy_with_logits", f_bce_with_logits},
      {"cross_entropy", f_cross_entropy},
      {"nll_loss", f_nll_loss},
      {NULL, NULL}};
  static const luaL_Reg both[] = {
      {"softmax", f_softmax}, {"log_softmax", f_log_softmax}, {NULL, NULL}};
  lsg_register(L, core, fns);
  lsg_register(L, core, both);
  lsg_register(L, methods, both);
}
