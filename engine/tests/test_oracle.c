/* Oracle tests: sgen against PyTorch on the fixtures that
 * tools/make_fixtures.py wrote (engine/tests/fixtures/<op>.safetensors).
 *
 * Each fixture case holds float32 inputs, the forward output, an upstream
 * gradient `gout` and the gradients of the inputs (d sum(out * gout) / d in),
 * computed by torch in float64 from the float32 inputs. Every case runs twice:
 * in float32 (within 1e-5 relative + 1e-5 absolute of the reference) and in
 * float64 (within 1e-9 relative + 1e-10 absolute). A failure names the op, the
 * case, the tensor, the dtype and the worst element with both values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define F32_ATOL 1e-5
#define F32_RTOL 1e-5
#define F64_ATOL 1e-10
#define F64_RTOL 1e-9

typedef struct oc {
  sg_tensor_dict *d;
  const char *op; /* fixture file / op name, for messages */
  const char *cs; /* case name (key prefix) */
  sg_dtype dt;    /* dtype the op runs in */
} oc;

/* The fixture tensor "<case>.<name>" (borrowed), or NULL (a failed check). */
static sg_tensor *fx(const oc *c, const char *name) {
  char key[128];
  snprintf(key, sizeof key, "%s.%s", c->cs, name);
  return tt_fixture_get(c->d, key);
}

/* A fresh leaf of the run's dtype holding the fixture's values (new ref). */
static sg_tensor *in(const oc *c, const char *name, bool requires_grad) {
  sg_tensor *src = fx(c, name);
  if (!src) return NULL;
  sg_tensor *t = sg_to_dtype(src, c->dt);
  sg_tensor *leaf = t ? sg_clone(t) : NULL;
  sg_release(t);
  if (leaf && requires_grad) sg_set_requires_grad(leaf, true);
  if (!leaf) sg_test_check(false, name, __FILE__, __LINE__);
  return leaf;
}

/* The fixture tensor as stored (int64 class indices), new reference. */
static sg_tensor *raw(const oc *c, const char *name) {
  sg_tensor *t = fx(c, name);
  return t ? sg_retain(t) : NULL;
}

static bool cmp_at(const oc *c, sg_tensor *actual, const char *ref_name, int line) {
  char expr[256];
  snprintf(expr, sizeof expr, "%s case %s: %s (%s) vs torch", c->op, c->cs, ref_name,
           sg_dtype_name(c->dt));
  sg_tensor *ref = fx(c, ref_name);
  if (!ref) return false;
  if (!actual) return sg_test_check(false, expr, __FILE__, line);
  if (sg_dtype_is_float(ref->dtype) && actual->dtype != c->dt) {
    char msg[320];
    snprintf(msg, sizeof msg, "%s: result dtype %s, expected %s", expr,
             sg_dtype_name(actual->dtype), sg_dtype_name(c->dt));
    return sg_test_check(false, msg, __FILE__, line);
  }
  bool f32 = c->dt == SG_FLOAT32;
  return sg_test_check_close(actual, ref, f32 ? F32_ATOL : F64_ATOL, f32 ? F32_RTOL : F64_RTOL,
                             expr, __FILE__, line);
}
#define CMP(c, actual, ref_name) cmp_at((c), (actual), (ref_name), __LINE__)

/* Gradients of sum(out * gout) w.r.t. wrt[0..n) (via sg_grad), compared with
 * the fixture tensors ref_names[]. A NULL gradient (unused input) compares as
 * zeros. */
static void grads_at(const oc *c, sg_tensor *out, sg_tensor **wrt, int n,
                     const char *const *ref_names, int line) {
  if (!out) return;
  sg_tensor *gout = in(c, "gout", false);
  sg_tensor *g[8] = {0};
  char expr[256];
  snprintf(expr, sizeof expr, "%s case %s: sg_grad (%s)", c->op, c->cs, sg_dtype_name(c->dt));
  if (gout && sg_test_check_ok(sg_grad(&out, &gout, 1, wrt, n, g, false, false, true), expr,
                               __FILE__, line)) {
    for (int i = 0; i < n; i++) {
      if (!g[i]) g[i] = sg_zeros_like(wrt[i]);
      cmp_at(c, g[i], ref_names[i], line);
    }
  }
  sg_release_all(g, n);
  sg_release(gout);
}
#define GRADS(c, out, wrt, n, ...) \
  grads_at((c), (out), (wrt), (n), (const char *const[]){__VA_ARGS__}, __LINE__)

/* A case with one differentiable input x: out (computed from x) vs "out" and
 * its gradient vs "grad_x"; releases out and x. */
static void x_case_at(const oc *c, sg_tensor *x, sg_tensor *out, int line) {
  cmp_at(c, out, "out", line);
  grads_at(c, out, &x, 1, (const char *const[]){"grad_x"}, line);
  sg_release(out);
  sg_release(x);
}
#define X_CASE(c, x, out) x_case_at((c), (x), (out), __LINE__)

static sg_tensor_dict *open_fixture(const char *name) {
  sg_tensor_dict *d = tt_fixture(name);
  if (!d) printf("  (fixture %s: %s)\n", name, sg_last_error());
  return d;
}

static const sg_dtype DTS[2] = {SG_FLOAT32, SG_FLOAT64};

/* ---------------------------------------------------------------- conv2d */
typedef sg_tensor *(*conv_fn)(sg_tensor *, sg_tensor *, sg_tensor *, const sg_conv_opts *);

/* The two cases of a conv fixture: "a" (x, w, bias b) with options oa, "b"
 * (x, w, no bias) with ob. */
static void conv_cases(const char *op, conv_fn conv, const sg_conv_opts *oa,
                       const sg_conv_opts *ob) {
  sg_tensor_dict *d = open_fixture(op);
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    oc c = {d, op, "a", DTS[k]};
    sg_tensor *x = in(&c, "x", true), *w = in(&c, "w", true), *b = in(&c, "b", true);
    sg_tensor *out = conv(x, w, b, oa);
    CMP(&c, out, "out");
    GRADS(&c, out, ((sg_tensor *[]){x, w, b}), 3, "grad_x", "grad_w", "grad_b");
    sg_tensor *all[] = {x, w, b, out};
    sg_release_all(all, 4);

    c.cs = "b";
    x = in(&c, "x", true);
    w = in(&c, "w", true);
    out = conv(x, w, NULL, ob);
    CMP(&c, out, "out");
    GRADS(&c, out, ((sg_tensor *[]){x, w}), 2, "grad_x", "grad_w");
    sg_tensor *all_b[] = {x, w, out};
    sg_release_all(all_b, 3);
  }
  tt_fixture_free(d);
}

static void conv2d(void) {
  /* a: stride 2, padding 1, dilation 2, groups 2, bias */
  sg_conv_opts oa = {.stride = {2, 2}, .padding = {1, 1}, .dilation = {2, 2}, .groups = 2};
  /* b: 3x2 kernel, stride (1,2), padding (1,0), no bias */
  sg_conv_opts ob = {.stride = {1, 2}, .padding = {1, 0}};
  conv_cases("conv2d", sg_conv2d, &oa, &ob);
}

/* Double backward of conv2d: gx = d sum(out * gout)/dx with create_graph, then
 * d sum(gx * v) / d(x, w). */
static void conv2d_double_backward(void) {
  sg_tensor_dict *d = open_fixture("conv2d");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    oc c = {d, "conv2d", "c", DTS[k]};
    sg_tensor *x = in(&c, "x", true), *w = in(&c, "w", true), *b = in(&c, "b", true);
    sg_tensor *gout = in(&c, "gout", false), *v = in(&c, "v", false);
    sg_conv_opts o = {.stride = {2, 2}, .padding = {1, 1}, .groups = 2};
    sg_tensor *out = sg_conv2d(x, w, b, &o);
    CMP(&c, out, "out");
    sg_tensor *gx = NULL;
    if (out && CHECK_OK(sg_grad(&out, &gout, 1, &x, 1, &gx, true, true, false))) {
      CMP(&c, gx, "grad_x");
      sg_tensor *gg[2] = {0};
      if (CHECK_OK(sg_grad(&gx, &v, 1, ((sg_tensor *[]){x, w}), 2, gg, false, false, true))) {
        if (!gg[0]) gg[0] = sg_zeros_like(x); /* conv is linear in x */
        CMP(&c, gg[0], "gg_x");
        CMP(&c, gg[1], "gg_w");
      }
      sg_release_all(gg, 2);
    }
    sg_tensor *all[] = {x, w, b, gout, v, out, gx};
    sg_release_all(all, 7);
  }
  tt_fixture_free(d);
}

static void conv_transpose2d(void) {
  /* a: stride 2, padding 1, output_padding 1, groups 2, bias */
  sg_conv_opts oa = {.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1}, .groups = 2};
  /* b: stride 2, padding (0,1), output_padding (1,0), dilation 2, 4x3 kernel */
  sg_conv_opts ob = {.stride = {2, 2}, .padding = {0, 1}, .output_padding = {1, 0},
                     .dilation = {2, 2}};
  conv_cases("conv_transpose2d", sg_conv_transpose2d, &oa, &ob);
}

/* ------------------------------------------------------------ batch_norm */
static void batch_norm(void) {
  sg_tensor_dict *d = open_fixture("batch_norm");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    for (int training = 1; training >= 0; training--) {
      oc c = {d, "batch_norm", training ? "train" : "eval", DTS[k]};
      sg_tensor *x = in(&c, "x", true), *w = in(&c, "w", true), *b = in(&c, "b", true);
      sg_tensor *rm = in(&c, "rm", false), *rv = in(&c, "rv", false);
      sg_tensor *out = sg_batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5);
      CMP(&c, out, "out");
      if (training) {
        CMP(&c, rm, "rm_after");
        CMP(&c, rv, "rv_after");
      } else {
        CMP(&c, rm, "rm"); /* eval leaves the running stats alone */
        CMP(&c, rv, "rv");
      }
      GRADS(&c, out, ((sg_tensor *[]){x, w, b}), 3, "grad_x", "grad_w", "grad_b");
      sg_tensor *all[] = {x, w, b, rm, rv, out};
      sg_release_all(all, 6);
    }
  }
  tt_fixture_free(d);
}

/* ----------------------------------------------------------- interpolate */
static void interpolate_bilinear(void) {
  static const struct {
    const char *cs;
    int64_t h, w;
    bool align_corners;
    double scale; /* what the user gave as scale_factor (0: a size) */
  } cases[] = {
      {"up2", 8, 10, false, 2.0},   {"up2_ac", 8, 10, true, 2.0}, {"size", 7, 9, false, 0},
      {"size_ac", 7, 9, true, 0},   {"down", 3, 3, false, 0},     {"scale17", 6, 8, false, 1.7},
  };
  sg_tensor_dict *d = open_fixture("interpolate_bilinear");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      oc c = {d, "interpolate_bilinear", cases[i].cs, DTS[k]};
      sg_tensor *x = in(&c, "x", true);
      X_CASE(&c, x,
             sg_interpolate(x, cases[i].h, cases[i].w, SG_INTERP_BILINEAR,
                            cases[i].align_corners, cases[i].scale, cases[i].scale));
    }
  }
  tt_fixture_free(d);
}

/* ------------------------------------------------------------------- pad */
static void pad_reflect(void) {
  static const struct {
    const char *cs;
    int64_t pads[4];
  } cases[] = {{"a", {2, 1, 1, 3}}, {"b", {0, 5, 4, 0}}};
  sg_tensor_dict *d = open_fixture("pad_reflect");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      oc c = {d, "pad_reflect", cases[i].cs, DTS[k]};
      sg_tensor *x = in(&c, "x", true);
      X_CASE(&c, x, sg_pad(x, cases[i].pads, 4, SG_PAD_REFLECT, 0.0));
    }
  }
  tt_fixture_free(d);
}

/* ---------------------------------------------------------------- matmul */
static void matmul(void) {
  static const char *const cases[] = {"mm", "bcast", "mv", "vm"};
  sg_tensor_dict *d = open_fixture("matmul");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      oc c = {d, "matmul", cases[i], DTS[k]};
      sg_tensor *a = in(&c, "a", true), *b = in(&c, "b", true);
      sg_tensor *out = sg_matmul(a, b);
      CMP(&c, out, "out");
      GRADS(&c, out, ((sg_tensor *[]){a, b}), 2, "grad_a", "grad_b");
      sg_tensor *all[] = {a, b, out};
      sg_release_all(all, 3);
    }
  }
  tt_fixture_free(d);
}

/* --------------------------------------------------------- cross_entropy */
static void cross_entropy(void) {
  static const struct {
    const char *cs;
    sg_reduction r;
    int64_t ignore_index;
    double label_smoothing;
    bool weight;
  } cases[] = {
      {"a", SG_REDUCTION_MEAN, 2, 0.0, true},
      {"b", SG_REDUCTION_SUM, -100, 0.0, true},
      {"c", SG_REDUCTION_NONE, -100, 0.0, false},
      {"d", SG_REDUCTION_MEAN, 1, 0.1, true},
  };
  sg_tensor_dict *d = open_fixture("cross_entropy");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      oc c = {d, "cross_entropy", cases[i].cs, DTS[k]};
      sg_tensor *logits = in(&c, "logits", true);
      sg_tensor *target = raw(&c, "target"); /* int64, 0-based already */
      sg_tensor *weight = cases[i].weight ? in(&c, "weight", false) : NULL;
      CHECK(target && target->dtype == SG_INT64);
      sg_tensor *out = sg_cross_entropy(logits, target, weight, cases[i].r, cases[i].ignore_index,
                                        cases[i].label_smoothing);
      CMP(&c, out, "out");
      GRADS(&c, out, &logits, 1, "grad_logits");
      sg_tensor *all[] = {logits, target, weight, out};
      sg_release_all(all, 4);
    }
  }
  tt_fixture_free(d);
}

/* ---------------------------------------------------------------- logdet */
static void logdet(void) {
  static const char *const cases[] = {"a", "b", "c"};
  sg_tensor_dict *d = open_fixture("logdet");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      oc c = {d, "logdet", cases[i], DTS[k]};
      sg_tensor *a = in(&c, "a", true);
      sg_tensor *out = sg_logdet(a);
      CMP(&c, out, "out");
      GRADS(&c, out, &a, 1, "grad_a");
      sg_release(out);
      sg_release(a);
    }
  }
  tt_fixture_free(d);
}

/* ------------------------------------------------- sparsity projections */
static void l0_project(void) {
  static const struct {
    const char *cs;
    double k;
  } cases[] = {{"l0", 7.0}, {"l0_frac", 0.1}};
  sg_tensor_dict *d = open_fixture("sparse");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      oc c = {d, "l0_project", cases[i].cs, DTS[k]};
      sg_tensor *x = in(&c, "x", true);
      sg_tensor *out = sg_l0_project(x, cases[i].k);
      CMP(&c, out, "out");
      GRADS(&c, out, &x, 1, "grad_x");
      sg_tensor *mask = sg_l0_mask(x, cases[i].k);
      CMP(&c, mask, "mask");
      sg_tensor *all[] = {x, out, mask};
      sg_release_all(all, 3);
    }
  }
  tt_fixture_free(d);
}

static void l0inf_project(void) {
  static const struct {
    const char *cs;
    int64_t k;
    int dim;
  } cases[] = {{"l0inf", 2, 1}, {"l0inf_d2", 3, 2}};
  sg_tensor_dict *d = open_fixture("sparse");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      oc c = {d, "l0inf_project", cases[i].cs, DTS[k]};
      sg_tensor *x = in(&c, "x", true);
      sg_tensor *out = sg_l0inf_project(x, cases[i].k, cases[i].dim);
      CMP(&c, out, "out");
      GRADS(&c, out, &x, 1, "grad_x");
      sg_tensor *mask = sg_l0inf_mask(x, cases[i].k, cases[i].dim);
      CMP(&c, mask, "mask");
      sg_tensor *all[] = {x, out, mask};
      sg_release_all(all, 3);
    }
  }
  tt_fixture_free(d);
}

static void thresholds(void) {
  sg_tensor_dict *d = open_fixture("sparse");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    oc c = {d, "soft_threshold", "soft", DTS[k]};
    sg_tensor *x = in(&c, "x", true);
    X_CASE(&c, x, sg_soft_threshold(x, 0.75));

    c = (oc){d, "hard_threshold", "hard", DTS[k]};
    x = in(&c, "x", true);
    X_CASE(&c, x, sg_hard_threshold(x, 0.75));

    /* learnable per-channel lambda: gradients w.r.t. x and lambda */
    c = (oc){d, "soft_threshold_t", "soft_t", DTS[k]};
    x = in(&c, "x", true);
    sg_tensor *lam = in(&c, "lam", true);
    sg_tensor *out = sg_soft_threshold_t(x, lam);
    CMP(&c, out, "out");
    GRADS(&c, out, ((sg_tensor *[]){x, lam}), 2, "grad_x", "grad_lam");
    sg_tensor *all[] = {x, lam, out};
    sg_release_all(all, 3);

    c = (oc){d, "hard_threshold_t", "hard_t", DTS[k]};
    x = in(&c, "x", true);
    lam = in(&c, "lam", false);
    out = sg_hard_threshold_t(x, lam);
    CMP(&c, out, "out");
    GRADS(&c, out, &x, 1, "grad_x");
    sg_tensor *all_h[] = {x, lam, out};
    sg_release_all(all_h, 3);
  }
  tt_fixture_free(d);
}

/* ---------------------------------------------- more ops (beyond the main list) */
static void pooling(void) {
  static const struct {
    const char *cs;
    bool max;
    sg_pool_opts o;
  } cases[] = {
      {"max_a", true, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true}},
      {"max_b", true, {.kernel = {2, 3}, .stride = {2, 1}, .padding = {1, 1}, .dilation = {2, 2}}},
      {"avg_a", false,
       {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true,
        .count_include_pad = false}},
      {"avg_b", false, {.kernel = {2, 2}, .padding = {1, 0}, .count_include_pad = true}},
  };
  sg_tensor_dict *d = open_fixture("pool");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      oc c = {d, cases[i].max ? "max_pool2d" : "avg_pool2d", cases[i].cs, DTS[k]};
      sg_tensor *x = in(&c, "x", true), *idx = NULL;
      sg_tensor *out = cases[i].max ? sg_max_pool2d(x, &cases[i].o, &idx)
                                    : sg_avg_pool2d(x, &cases[i].o);
      CMP(&c, out, "out");
      if (cases[i].max) CMP(&c, idx, "indices");
      GRADS(&c, out, &x, 1, "grad_x");
      sg_tensor *all[] = {x, out, idx};
      sg_release_all(all, 3);
    }
    oc c = {d, "adaptive_avg_pool2d", "adaptive", DTS[k]};
    sg_tensor *x = in(&c, "x", true);
    X_CASE(&c, x, sg_adaptive_avg_pool2d(x, 3, 5));
  }
  tt_fixture_free(d);
}

static void layer_and_instance_norm(void) {
  sg_tensor_dict *d = open_fixture("norms");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    oc c = {d, "layer_norm", "layer", DTS[k]};
    sg_tensor *x = in(&c, "x", true), *w = in(&c, "w", true), *b = in(&c, "b", true);
    sg_tensor *out = sg_layer_norm(x, (const int64_t[]){5, 6}, 2, w, b, 1e-5);
    CMP(&c, out, "out");
    GRADS(&c, out, ((sg_tensor *[]){x, w, b}), 3, "grad_x", "grad_w", "grad_b");
    sg_tensor *all[] = {x, w, b, out};
    sg_release_all(all, 4);

    c = (oc){d, "instance_norm", "instance", DTS[k]};
    x = in(&c, "x", true);
    w = in(&c, "w", true);
    b = in(&c, "b", true);
    sg_tensor *rm = in(&c, "rm", false), *rv = in(&c, "rv", false);
    out = sg_instance_norm(x, rm, rv, w, b, true, 0.1, 1e-5);
    CMP(&c, out, "out");
    CMP(&c, rm, "rm_after");
    CMP(&c, rv, "rv_after");
    GRADS(&c, out, ((sg_tensor *[]){x, w, b}), 3, "grad_x", "grad_w", "grad_b");
    sg_tensor *all_i[] = {x, w, b, rm, rv, out};
    sg_release_all(all_i, 6);
  }
  tt_fixture_free(d);
}

static void resample_extra(void) {
  static const struct {
    const char *cs;
    int64_t h, w;
    double scale;
  } near[] = {{"nearest_size", 7, 9, 0}, {"nearest_down", 3, 2, 0}, {"nearest_x2", 8, 10, 2.0}};
  sg_tensor_dict *d = open_fixture("resample_extra");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    for (size_t i = 0; i < sizeof near / sizeof near[0]; i++) {
      oc c = {d, "interpolate_nearest", near[i].cs, DTS[k]};
      sg_tensor *x = in(&c, "x", true);
      X_CASE(&c, x,
             sg_interpolate(x, near[i].h, near[i].w, SG_INTERP_NEAREST, false, near[i].scale,
                            near[i].scale));
    }
    oc c = {d, "pad", "replicate", DTS[k]};
    sg_tensor *x = in(&c, "x", true);
    X_CASE(&c, x, sg_pad(x, (const int64_t[]){2, 1, 1, 3}, 4, SG_PAD_REPLICATE, 0));

    c.cs = "constant_crop";
    x = in(&c, "x", true);
    X_CASE(&c, x, sg_pad(x, (const int64_t[]){1, -1, 2, 0}, 4, SG_PAD_CONSTANT, 0.5));

    c = (oc){d, "pixel_shuffle", "pixel_shuffle", DTS[k]};
    x = in(&c, "x", true);
    X_CASE(&c, x, sg_pixel_shuffle(x, 2));
  }
  tt_fixture_free(d);
}

static void losses_extra(void) {
  sg_tensor_dict *d = open_fixture("losses_extra");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    oc c = {d, "bce_with_logits", "bce", DTS[k]};
    sg_tensor *x = in(&c, "x", true), *t = in(&c, "target", false);
    sg_tensor *w = in(&c, "weight", false), *pw = in(&c, "pos_weight", false);
    sg_tensor *out = sg_bce_with_logits(x, t, w, pw, SG_REDUCTION_MEAN);
    CMP(&c, out, "out");
    GRADS(&c, out, &x, 1, "grad_x");
    sg_tensor *all[] = {x, t, w, pw, out};
    sg_release_all(all, 5);

    c = (oc){d, "log_softmax", "log_softmax", DTS[k]};
    x = in(&c, "x", true);
    X_CASE(&c, x, sg_log_softmax(x, 1));

    c = (oc){d, "softmax", "softmax", DTS[k]};
    x = in(&c, "x", true);
    X_CASE(&c, x, sg_softmax(x, -1));

    c = (oc){d, "mse_loss", "mse", DTS[k]};
    x = in(&c, "x", true);
    sg_tensor *y = in(&c, "y", true);
    out = sg_mse_loss(x, y, SG_REDUCTION_MEAN);
    CMP(&c, out, "out");
    GRADS(&c, out, ((sg_tensor *[]){x, y}), 2, "grad_x", "grad_y");
    sg_tensor *all_m[] = {x, y, out};
    sg_release_all(all_m, 3);

    c = (oc){d, "l1_loss", "l1", DTS[k]};
    x = in(&c, "x", true);
    y = in(&c, "y", true);
    out = sg_l1_loss(x, y, SG_REDUCTION_SUM);
    CMP(&c, out, "out");
    GRADS(&c, out, ((sg_tensor *[]){x, y}), 2, "grad_x", "grad_y");
    sg_tensor *all_l[] = {x, y, out};
    sg_release_all(all_l, 3);
  }
  tt_fixture_free(d);
}

/* (A + A^T) / 2 with differentiable ops. */
static sg_tensor *sym(sg_tensor *a) {
  sg_tensor *t = sg_transpose(a, -1, -2);
  sg_tensor *s = t ? sg_add(a, t) : NULL;
  sg_tensor *r = s ? sg_mul_scalar(s, 0.5) : NULL;
  sg_release(t);
  sg_release(s);
  return r;
}

static void linalg_extra(void) {
  sg_tensor_dict *d = open_fixture("linalg_extra");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    oc c = {d, "cholesky", "cholesky", DTS[k]};
    sg_tensor *a = in(&c, "a", true);
    sg_tensor *s = sym(a);
    sg_tensor *out = s ? sg_cholesky(s, false) : NULL;
    CMP(&c, out, "out");
    GRADS(&c, out, &a, 1, "grad_a");
    sg_tensor *all[] = {a, s, out};
    sg_release_all(all, 3);

    c = (oc){d, "solve", "solve", DTS[k]};
    a = in(&c, "a", true);
    sg_tensor *b = in(&c, "b", true);
    out = sg_solve(a, b);
    CMP(&c, out, "out");
    GRADS(&c, out, ((sg_tensor *[]){a, b}), 2, "grad_a", "grad_b");
    sg_tensor *all_s[] = {a, b, out};
    sg_release_all(all_s, 3);

    c = (oc){d, "inv", "inv", DTS[k]};
    a = in(&c, "a", true);
    out = sg_inv(a);
    CMP(&c, out, "out");
    GRADS(&c, out, &a, 1, "grad_a");
    sg_release(out);
    sg_release(a);
  }
  tt_fixture_free(d);
}

/* ------------------------------------------ large cases (parallel / vectorized paths) */
/* Inputs of the large cases: the formula of tools/make_fixtures.py's
 * formula_input, bit for bit (odd multiples of 2^-24 in (-1, 1), times scale). */
#define SAMPLE 23
#define SAMPLE_MIN 2048

static sg_tensor *formula_input(uint64_t seed, const int64_t *shape, int ndim, double scale,
                                sg_dtype dt, bool requires_grad) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  double *v = malloc(sizeof(double) * (size_t)n);
  if (!v) return NULL;
  for (int64_t i = 0; i < n; i++) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)i * 0xBF58476D1CE4E5B9ULL +
                 0x94D049BB133111EBULL;
    z ^= z >> 31;
    z *= 0x94D049BB133111EBULL;
    z ^= z >> 29;
    z *= 0xBF58476D1CE4E5B9ULL;
    z ^= z >> 32;
    double m = (double)(z >> 40);
    v[i] = ((2.0 * m + 1.0) / 16777216.0 - 1.0) * scale;
  }
  sg_tensor *t = tt_from(dt, v, ndim, shape);
  free(v);
  if (t && requires_grad) sg_set_requires_grad(t, true);
  return t;
}
#define FORMULA(seed, scale, dt, rg, ...) \
  formula_input((seed), SHAPE(__VA_ARGS__), NDIM(__VA_ARGS__), (scale), (dt), (rg))

/* Compares actual with the reference, which holds every SAMPLE-th element of
 * the flattened tensor, or all of them for small tensors. */
static bool cmp_sampled_at(const oc *c, sg_tensor *actual, const char *ref_name, int line) {
  sg_tensor *ref = fx(c, ref_name);
  if (!ref || !actual) return cmp_at(c, actual, ref_name, line);
  int64_t n = sg_numel(actual);
  if (n <= SAMPLE_MIN) return cmp_at(c, actual, ref_name, line);
  char expr[256];
  snprintf(expr, sizeof expr, "%s case %s: %s (%s) vs torch, every %dth element", c->op, c->cs,
           ref_name, sg_dtype_name(c->dt), SAMPLE);
  if (actual->dtype != c->dt) return cmp_at(c, actual, ref_name, line); /* reports the dtype */
  int64_t m = (n + SAMPLE - 1) / SAMPLE;
  if (sg_numel(ref) != m) {
    char msg[320];
    snprintf(msg, sizeof msg, "%s: %lld elements give %lld samples, the fixture has %lld", expr,
             (long long)n, (long long)m, (long long)sg_numel(ref));
    return sg_test_check(false, msg, __FILE__, line);
  }
  double *v = malloc(sizeof(double) * (size_t)m);
  for (int64_t j = 0; j < m; j++) v[j] = sg_get_flat(actual, j * SAMPLE);
  sg_tensor *s = sg_from_data(v, &m, 1, SG_FLOAT64);
  free(v);
  bool f32 = c->dt == SG_FLOAT32;
  bool ok = sg_test_check_close(s, ref, f32 ? F32_ATOL : F64_ATOL, f32 ? F32_RTOL : F64_RTOL,
                                expr, __FILE__, line);
  sg_release(s);
  return ok;
}
#define CMPS(c, actual, ref_name) cmp_sampled_at((c), (actual), (ref_name), __LINE__)

/* Gradients of sum(out * gout), gout = formula_input(gout_seed, out's shape). */
static void grads_sampled_at(const oc *c, sg_tensor *out, uint64_t gout_seed, sg_tensor **wrt,
                             int n, const char *const *ref_names, int line) {
  if (!out) return;
  sg_tensor *gout = formula_input(gout_seed, out->shape, out->ndim, 1.0, c->dt, false);
  sg_tensor *g[8] = {0};
  char expr[256];
  snprintf(expr, sizeof expr, "%s case %s: sg_grad (%s)", c->op, c->cs, sg_dtype_name(c->dt));
  if (gout && sg_test_check_ok(sg_grad(&out, &gout, 1, wrt, n, g, false, false, true), expr,
                               __FILE__, line)) {
    for (int i = 0; i < n; i++) {
      if (!g[i]) g[i] = sg_zeros_like(wrt[i]);
      cmp_sampled_at(c, g[i], ref_names[i], line);
    }
  }
  sg_release_all(g, n);
  sg_release(gout);
}
#define GRADS_S(c, out, seed, wrt, n, ...) \
  grads_sampled_at((c), (out), (seed), (wrt), (n), (const char *const[]){__VA_ARGS__}, __LINE__)

/* X_CASE for the large cases: gout = formula_input(gout_seed, out's shape). */
static void x_case_sampled_at(const oc *c, sg_tensor *x, sg_tensor *out, uint64_t gout_seed,
                              int line) {
  cmp_sampled_at(c, out, "out", line);
  grads_sampled_at(c, out, gout_seed, &x, 1, (const char *const[]){"grad_x"}, line);
  sg_release(out);
  sg_release(x);
}
#define X_CASE_S(c, x, out, seed) x_case_sampled_at((c), (x), (out), (seed), __LINE__)

static void large_formula(void) {
  sg_tensor_dict *d = open_fixture("large");
  if (!d) return;
  oc c = {d, "formula_input", "formula", SG_FLOAT64};
  sg_tensor *t = FORMULA(99, 1.0, SG_FLOAT32, false, 16);
  sg_tensor *ref = fx(&c, "check");
  CHECK_CLOSE(t, ref, 0, 0); /* bit for bit */
  sg_release(t);
  tt_fixture_free(d);
}

static void large_conv(void) {
  sg_tensor_dict *d = open_fixture("large");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    sg_dtype dt = DTS[k];
    oc c = {d, "conv2d", "conv2d", dt};
    sg_tensor *x = FORMULA(1, 1.0, dt, true, 2, 16, 24, 24);
    sg_tensor *w = FORMULA(2, 0.125, dt, true, 32, 16, 3, 3);
    sg_tensor *b = FORMULA(3, 0.5, dt, true, 32);
    sg_conv_opts o = {.padding = {1, 1}};
    sg_tensor *out = sg_conv2d(x, w, b, &o);
    CMPS(&c, out, "out");
    GRADS_S(&c, out, 4, ((sg_tensor *[]){x, w, b}), 3, "grad_x", "grad_w", "grad_b");
    sg_tensor *all[] = {x, w, b, out};
    sg_release_all(all, 4);

    c = (oc){d, "conv_transpose2d", "conv_transpose2d", dt};
    x = FORMULA(5, 1.0, dt, true, 2, 32, 12, 12);
    w = FORMULA(6, 0.125, dt, true, 32, 16, 4, 4);
    sg_conv_opts ot = {.stride = {2, 2}, .padding = {1, 1}};
    out = sg_conv_transpose2d(x, w, NULL, &ot);
    CMPS(&c, out, "out");
    GRADS_S(&c, out, 7, ((sg_tensor *[]){x, w}), 2, "grad_x", "grad_w");
    sg_tensor *all_t[] = {x, w, out};
    sg_release_all(all_t, 3);
  }
  tt_fixture_free(d);
}

static void large_nn(void) {
  sg_tensor_dict *d = open_fixture("large");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    sg_dtype dt = DTS[k];
    oc c = {d, "batch_norm", "batch_norm", dt};
    sg_tensor *x = FORMULA(8, 2.0, dt, true, 8, 16, 24, 24);
    sg_tensor *w = FORMULA(9, 1.0, dt, true, 16), *b = FORMULA(10, 1.0, dt, true, 16);
    sg_tensor *rm = sg_zeros(SHAPE(16), 1, dt, sg_cpu_device());
    sg_tensor *rv = sg_full(SHAPE(16), 1, 1.0, dt, sg_cpu_device());
    sg_tensor *out = sg_batch_norm(x, rm, rv, w, b, true, 0.1, 1e-5);
    CMPS(&c, out, "out");
    CMPS(&c, rm, "rm_after");
    CMPS(&c, rv, "rv_after");
    GRADS_S(&c, out, 11, ((sg_tensor *[]){x, w, b}), 3, "grad_x", "grad_w", "grad_b");
    sg_tensor *all[] = {x, w, b, rm, rv, out};
    sg_release_all(all, 6);

    c = (oc){d, "interpolate_bilinear", "bilinear2x", dt};
    x = FORMULA(12, 1.0, dt, true, 2, 16, 24, 24);
    X_CASE_S(&c, x, sg_interpolate(x, 48, 48, SG_INTERP_BILINEAR, false, 2.0, 2.0), 13);

    c = (oc){d, "max_pool2d", "max_pool2d", dt};
    x = FORMULA(14, 1.0, dt, true, 2, 16, 48, 48);
    sg_pool_opts po = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}};
    X_CASE_S(&c, x, sg_max_pool2d(x, &po, NULL), 15);

    c = (oc){d, "cross_entropy", "cross_entropy", dt};
    x = FORMULA(22, 4.0, dt, true, 4096, 10);
    sg_tensor *tf = FORMULA(23, 1.0, SG_FLOAT64, false, 4096);
    sg_tensor *wf = FORMULA(24, 1.0, SG_FLOAT64, false, 10);
    /* target = clamp(floor((u + 1) / 2 * 10), 0, 9); weight = |u| + 0.5 rounded to float32
     * (as the script computes it) */
    int64_t tv[4096];
    double wv[10];
    for (int i = 0; i < 4096 && tf; i++) {
      int64_t cls = (int64_t)floor((sg_get_flat(tf, i) + 1.0) * 0.5 * 10);
      tv[i] = cls < 0 ? 0 : cls > 9 ? 9 : cls;
    }
    for (int i = 0; i < 10 && wf; i++) wv[i] = (double)(float)(fabs(sg_get_flat(wf, i)) + 0.5);
    sg_tensor *target = sg_from_data(tv, SHAPE(4096), 1, SG_INT64);
    sg_tensor *weight64 = sg_from_data(wv, SHAPE(10), 1, SG_FLOAT64);
    sg_tensor *weight = weight64 ? sg_to_dtype(weight64, dt) : NULL;
    sg_tensor *tcheck = fx(&c, "target_check");
    if (target && tcheck) {
      sg_tensor *head = sg_narrow(target, 0, 0, sg_numel(tcheck));
      CHECK_CLOSE(head, tcheck, 0, 0);
      sg_release(head);
    }
    out = sg_cross_entropy(x, target, weight, SG_REDUCTION_MEAN, 3, 0.0);
    CMPS(&c, out, "out");
    GRADS_S(&c, out, 25, &x, 1, "grad_logits");
    sg_tensor *all_ce[] = {x, tf, wf, target, weight64, weight, out};
    sg_release_all(all_ce, 7);

    c = (oc){d, "log_softmax", "log_softmax", dt};
    x = FORMULA(26, 8.0, dt, true, 128, 300);
    X_CASE_S(&c, x, sg_log_softmax(x, 1), 27);

    c = (oc){d, "layer_norm", "layer_norm", dt};
    x = FORMULA(28, 2.0, dt, true, 64, 600);
    w = FORMULA(29, 1.0, dt, true, 600);
    b = FORMULA(30, 1.0, dt, true, 600);
    out = sg_layer_norm(x, SHAPE(600), 1, w, b, 1e-5);
    CMPS(&c, out, "out");
    GRADS_S(&c, out, 31, ((sg_tensor *[]){x, w, b}), 3, "grad_x", "grad_w", "grad_b");
    sg_tensor *all_ln[] = {x, w, b, out};
    sg_release_all(all_ln, 4);
  }
  tt_fixture_free(d);
}

static void large_sparse(void) {
  sg_tensor_dict *d = open_fixture("large");
  if (!d) return;
  for (int k = 0; k < 2; k++) {
    sg_dtype dt = DTS[k];
    oc c = {d, "l0_project", "l0_project", dt};
    sg_tensor *x = FORMULA(16, 1.0, dt, true, 4, 16, 24, 24);
    X_CASE_S(&c, x, sg_l0_project(x, 0.05), 17);

    c = (oc){d, "l0inf_project", "l0inf_project", dt};
    x = FORMULA(18, 1.0, dt, true, 2, 64, 24, 24);
    X_CASE_S(&c, x, sg_l0inf_project(x, 4, 1), 19);

    c = (oc){d, "soft_threshold", "soft_threshold", dt};
    x = FORMULA(20, 1.0, dt, true, 4, 16, 24, 24);
    X_CASE_S(&c, x, sg_soft_threshold(x, 0.5), 21);
  }
  tt_fixture_free(d);
}

/* The fixtures themselves: present, readable, with the dtypes the script
 * writes (a check that cannot pass on an empty or mangled folder). */
static void fixtures_present(void) {
  static const char *const names[] = {"conv2d",      "conv_transpose2d", "batch_norm",
                                      "interpolate_bilinear", "pad_reflect", "matmul",
                                      "cross_entropy", "logdet",         "sparse",
                                      "pool",        "norms",            "resample_extra",
                                      "losses_extra", "linalg_extra",     "large"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    sg_tensor_dict *d = open_fixture(names[i]);
    CHECK(d != NULL && d->n >= 4);
    tt_fixture_free(d);
  }
  sg_tensor_dict *d = open_fixture("sparse");
  if (!d) return;
  sg_tensor *x = tt_fixture_get(d, "l0.x"), *m = tt_fixture_get(d, "l0.mask");
  sg_tensor *g = tt_fixture_get(d, "l0.grad_x");
  CHECK(x && x->dtype == SG_FLOAT32 && x->ndim == 4 && x->shape[0] == 3);
  CHECK(m && m->dtype == SG_BOOL);
  CHECK(g && g->dtype == SG_FLOAT64);
  tt_fixture_free(d);
}

int main(void) {
  RUN(fixtures_present);
  RUN(conv2d);
  RUN(conv2d_double_backward);
  RUN(conv_transpose2d);
  RUN(batch_norm);
  RUN(interpolate_bilinear);
  RUN(pad_reflect);
  RUN(matmul);
  RUN(cross_entropy);
  RUN(logdet);
  RUN(l0_project);
  RUN(l0inf_project);
  RUN(thresholds);
  RUN(pooling);
  RUN(layer_and_instance_norm);
  RUN(resample_extra);
  RUN(losses_extra);
  RUN(linalg_extra);
  RUN(large_formula);
  RUN(large_conv);
  RUN(large_nn);
  RUN(large_sparse);
  return sg_test_finish();
}
