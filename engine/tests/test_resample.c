/* Resampling and padding: interpolate (nearest, bilinear with and without
 * align_corners, sizes and scale factors), pad (constant with crop,
 * reflect, replicate over 1-3 dims), pixel_shuffle, against PyTorch 1.13
 * values; first and second order gradients; errors. */
#include <math.h>

#include "harness.h"

static void interpolate_values(void) {
  sg_tensor *x = tt_wave(SG_FLOAT64, 4, SHAPE(1, 1, 3, 4));
  /* nearest, sizes 3x4 -> 5x7: src = floor(dst * in / out) */
  sg_tensor *y = sg_interpolate(x, 5, 7, SG_INTERP_NEAREST, false, 0, 0);
  CHECK(tt_has_shape(y, 4, SHAPE(1, 1, 5, 7)));
  CHECK_VALUES(y, VALS(1, 1, 2.07880239, 2.07880239, 2.99876118, 2.99876118, 3.6331384, 1, 1,
                       2.07880239, 2.07880239, 2.99876118, 2.99876118, 3.6331384, 3.8923942,
                       3.8923942, 3.73635013, 3.73635013, 3.17968865, 3.17968865, 2.29004369,
                       3.8923942, 3.8923942, 3.73635013, 3.73635013, 3.17968865, 3.17968865,
                       2.29004369, 1.17893995, 1.17893995, -0.01319413, -0.01319413, -1.1359123,
                       -1.1359123, -2.04898095),
               35, 1e-8);
  sg_release(y);
  /* nearest, scale factor 1.7: size floor(in * 1.7), src = floor(dst / 1.7) */
  y = sg_interpolate(x, 0, 0, SG_INTERP_NEAREST, false, 1.7, 1.7);
  CHECK(tt_has_shape(y, 4, SHAPE(1, 1, 5, 6)));
  CHECK_VALUES(y, VALS(1, 1, 2.07880239, 2.07880239, 2.99876118, 2.99876118, 1, 1, 2.07880239,
                       2.07880239, 2.99876118, 2.99876118, 3.8923942, 3.8923942, 3.73635013,
                       3.73635013, 3.17968865, 3.17968865, 3.8923942, 3.8923942, 3.73635013,
                       3.73635013, 3.17968865, 3.17968865, 1.17893995, 1.17893995, -0.01319413,
                       -0.01319413, -1.1359123, -1.1359123),
               30, 1e-8);
  sg_release(y);
  /* bilinear, align_corners = false, 3x4 -> 5x7 */
  y = sg_interpolate(x, 5, 7, SG_INTERP_BILINEAR, false, 0, 0);
  CHECK_VALUES(y, VALS(1, 1.38528657, 2.00174508, 2.53878179, 3.04407384, 3.40657511, 3.6331384,
                       2.15695768, 2.36583761, 2.7000455, 2.90647683, 3.07290134, 3.08705468,
                       3.09590052, 3.8923942, 3.83666417, 3.74749614, 3.45801939, 3.11614258,
                       2.60777404, 2.29004369, 2.26432165, 1.98657234, 1.54217344, 1.03847583,
                       0.525778138, 0.00937861348, -0.313371089, 1.17893995, 0.753177777,
                       0.0719583041, -0.574553216, -1.20113149, -1.722885, -2.04898095),
               35, 1e-8);
  sg_release(y);
  /* bilinear, align_corners = true */
  y = sg_interpolate(x, 5, 7, SG_INTERP_BILINEAR, true, 0, 0);
  CHECK_VALUES(y, VALS(1, 1.5394012, 2.07880239, 2.53878179, 2.99876118, 3.31594979, 3.6331384,
                       2.4461971, 2.67688668, 2.90757626, 2.99840059, 3.08922492, 3.02540798,
                       2.96159105, 3.8923942, 3.81437216, 3.73635013, 3.45801939, 3.17968865,
                       2.73486617, 2.29004369, 2.53566707, 2.19862254, 1.861578, 1.44173309,
                       1.02188817, 0.571209774, 0.120531375, 1.17893995, 0.582872909,
                       -0.01319413, -0.574553216, -1.1359123, -1.59244662, -2.04898095),
               35, 1e-8);
  sg_release(y);
  /* bilinear with scale factors 1.5 x 2.5 (coordinates use 1/scale) */
  y = sg_interpolate(x, 0, 0, SG_INTERP_BILINEAR, false, 1.5, 2.5);
  CHECK(tt_has_shape(y, 4, SHAPE(1, 1, 4, 10)));
  CHECK_VALUES(y, VALS(1, 1.10788024, 1.5394012, 1.97092215, 2.35479003, 2.72277355, 3.06219891,
                       3.31594979, 3.56970068, 3.6331384, 2.4461971, 2.49233501, 2.67688668,
                       2.86143835, 2.96207086, 3.03473032, 3.07646153, 3.02540798, 2.97435443,
                       2.96159105, 3.44015182, 3.40727925, 3.27578895, 3.14429866, 2.91612481,
                       2.6557231, 2.37106693, 2.01364737, 1.65622781, 1.56687292, 1.63118232,
                       1.52923708, 1.12145612, 0.713675154, 0.303217297, -0.108132859,
                       -0.507561946, -0.871227824, -1.2348937, -1.32581017),
               40, 1e-8);
  sg_release(y);
  /* downsampling, both corner modes, and a 1x1 output */
  y = sg_interpolate(x, 2, 3, SG_INTERP_BILINEAR, false, 0, 0);
  CHECK_VALUES(y, VALS(1.85144701, 2.76859119, 3.25513611, 1.70178491, 0.433589936, -0.813022665),
               6, 1e-8);
  sg_release(y);
  y = sg_interpolate(x, 2, 3, SG_INTERP_BILINEAR, true, 0, 0);
  CHECK_VALUES(y, VALS(1, 2.53878179, 3.6331384, 1.17893995, -0.574553216, -2.04898095), 6,
               1e-8);
  sg_release(y);
  y = sg_interpolate(x, 1, 1, SG_INTERP_BILINEAR, true, 0, 0);
  CHECK_VALUES(y, VALS(1), 1, 1e-12);
  sg_release(y);
  /* same size: a copy */
  y = sg_interpolate(x, 3, 4, SG_INTERP_BILINEAR, false, 0, 0);
  CHECK_CLOSE(y, x, 0, 0);
  sg_release(y);
  sg_release(x);
  /* float32, x2 bilinear (DIP's upsampler) */
  x = tt_wave(SG_FLOAT32, 4, SHAPE(1, 1, 3, 4));
  y = sg_interpolate(x, 0, 0, SG_INTERP_BILINEAR, false, 2, 2);
  CHECK(tt_has_shape(y, 4, SHAPE(1, 1, 6, 8)) && y->dtype == SG_FLOAT32);
  CHECK_VALUES(y, VALS(1, 1.26970053, 1.80910182, 2.30879211, 2.76877141, 3.15735555, 3.47454405,
                       3.63313842, 1.72309852, 1.91562128, 2.30066657, 2.63089013, 2.9062922,
                       3.10733604, 3.2340219, 3.29736471, 3.16929579, 3.20746255, 3.28379631,
                       3.27508664, 3.1813333, 3.00729704, 2.75297713, 2.6258173, 3.21403074,
                       3.11026406, 2.9027307, 2.62442017, 2.27533245, 1.87691319, 1.42916274,
                       1.20528746, 1.8573035, 1.62402558, 1.15746987, 0.678890944, 0.188288942,
                       -0.283815235, -0.737421632, -0.964224815, 1.17893994, 0.880906403,
                       0.284839392, -0.293873668, -0.855232775, -1.36417949, -1.82071376,
                       -2.04898095),
               48, 1e-6);
  sg_release(y);
  /* nearest x2 */
  y = sg_interpolate(x, 6, 8, SG_INTERP_NEAREST, false, 0, 0);
  if (CHECK(tt_has_shape(y, 4, SHAPE(1, 1, 6, 8))))
    for (int i = 0; i < 48; i++)
      CHECK_NEAR(sg_get_flat(y, i), sg_get_flat(x, (i / 8 / 2) * 4 + (i % 8) / 2), 0);
  sg_release(y);
  sg_release(x);
}

static void pad_values(void) {
  sg_tensor *x = tt_wave(SG_FLOAT64, 4, SHAPE(1, 2, 3, 4));
  /* constant: grows the width, crops one row on top, grows one at the bottom */
  sg_tensor *y = sg_pad(x, (const int64_t[]){1, 2, -1, 1}, 4, SG_PAD_CONSTANT, 0.5);
  CHECK(tt_has_shape(y, 4, SHAPE(1, 2, 3, 7)));
  CHECK_VALUES(y, VALS(0.5, 3.8923942, 3.73635013, 3.17968865, 2.29004369, 0.5, 0.5, 0.5,
                       1.17893995, -0.01319413, -1.1359123, -2.04898095, 0.5, 0.5, 0.5, 0.5, 0.5,
                       0.5, 0.5, 0.5, 0.5, 0.5, -1.25383752, -0.274315433, 0.706002658,
                       1.54172504, 0.5, 0.5, 0.5, 2.10762317, 2.31572721, 2.1273699, 1.55854691,
                       0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5),
               42, 1e-8);
  sg_release(y);
  y = sg_pad(x, (const int64_t[]){2, 1, 1, 2}, 4, SG_PAD_REFLECT, 0);
  CHECK(tt_has_shape(y, 4, SHAPE(1, 2, 6, 7)));
  CHECK_VALUES(y, VALS(3.17968865, 3.73635013, 3.8923942, 3.73635013, 3.17968865, 2.29004369,
                       3.17968865, 2.99876118, 2.07880239, 1, 2.07880239, 2.99876118, 3.6331384,
                       2.99876118, 3.17968865, 3.73635013, 3.8923942, 3.73635013, 3.17968865,
                       2.29004369, 3.17968865, -1.1359123, -0.01319413, 1.17893995, -0.01319413,
                       -1.1359123, -2.04898095, -1.1359123, 3.17968865, 3.73635013, 3.8923942,
                       3.73635013, 3.17968865, 2.29004369, 3.17968865, 2.99876118, 2.07880239, 1,
                       2.07880239, 2.99876118, 3.6331384, 2.99876118, 0.706002658, -0.274315433,
                       -1.25383752, -0.274315433, 0.706002658, 1.54172504, 0.706002658,
                       -2.64715158, -2.84538787, -2.64121734, -2.84538787, -2.64715158,
                       -2.08684046, -2.64715158, 0.706002658, -0.274315433, -1.25383752,
                       -0.274315433, 0.706002658, 1.54172504, 0.706002658, 2.1273699, 2.31572721,
                       2.10762317, 2.31572721, 2.1273699, 1.55854691, 2.1273699, 0.706002658,
                       -0.274315433, -1.25383752, -0.274315433, 0.706002658, 1.54172504,
                       0.706002658, -2.64715158, -2.84538787, -2.64121734, -2.84538787,
                       -2.64715158, -2.08684046, -2.64715158),
               84, 1e-8);
  sg_release(y);
  y = sg_pad(x, (const int64_t[]){2, 1, 1, 2}, 4, SG_PAD_REPLICATE, 0);
  CHECK(tt_has_shape(y, 4, SHAPE(1, 2, 6, 7)));
  CHECK_VALUES(y, VALS(1, 1, 1, 2.07880239, 2.99876118, 3.6331384, 3.6331384, 1, 1, 1, 2.07880239,
                       2.99876118, 3.6331384, 3.6331384, 3.8923942, 3.8923942, 3.8923942,
                       3.73635013, 3.17968865, 2.29004369, 2.29004369, 1.17893995, 1.17893995,
                       1.17893995, -0.01319413, -1.1359123, -2.04898095, -2.04898095, 1.17893995,
                       1.17893995, 1.17893995, -0.01319413, -1.1359123, -2.04898095, -2.04898095,
                       1.17893995, 1.17893995, 1.17893995, -0.01319413, -1.1359123, -2.04898095,
                       -2.04898095, -2.64121734, -2.64121734, -2.64121734, -2.84538787,
                       -2.64715158, -2.08684046, -2.08684046, -2.64121734, -2.64121734,
                       -2.64121734, -2.84538787, -2.64715158, -2.08684046, -2.08684046,
                       -1.25383752, -1.25383752, -1.25383752, -0.274315433, 0.706002658,
                       1.54172504, 1.54172504, 2.10762317, 2.10762317, 2.10762317, 2.31572721,
                       2.1273699, 1.55854691, 1.55854691, 2.10762317, 2.10762317, 2.10762317,
                       2.31572721, 2.1273699, 1.55854691, 1.55854691, 2.10762317, 2.10762317,
                       2.10762317, 2.31572721, 2.1273699, 1.55854691, 1.55854691),
               84, 1e-8);
  sg_release(y);
  /* reflect with a negative (cropping) pad */
  y = sg_pad(x, (const int64_t[]){-1, 2, 0, 1}, 4, SG_PAD_REFLECT, 0);
  CHECK(tt_has_shape(y, 4, SHAPE(1, 2, 4, 5)));
  CHECK_VALUES(y, VALS(2.07880239, 2.99876118, 3.6331384, 2.99876118, 2.07880239, 3.73635013,
                       3.17968865, 2.29004369, 3.17968865, 3.73635013, -0.01319413, -1.1359123,
                       -2.04898095, -1.1359123, -0.01319413, 3.73635013, 3.17968865, 2.29004369,
                       3.17968865, 3.73635013, -2.84538787, -2.64715158, -2.08684046,
                       -2.64715158, -2.84538787, -0.274315433, 0.706002658, 1.54172504,
                       0.706002658, -0.274315433, 2.31572721, 2.1273699, 1.55854691, 2.1273699,
                       2.31572721, -0.274315433, 0.706002658, 1.54172504, 0.706002658,
                       -0.274315433),
               40, 1e-8);
  sg_release(y);
  sg_release(x);
  /* reflect over the last dim of a 3-d input (float32) */
  x = tt_wave(SG_FLOAT32, 3, SHAPE(2, 3, 4));
  y = sg_pad(x, (const int64_t[]){3, 2}, 2, SG_PAD_REFLECT, 0);
  CHECK(tt_has_shape(y, 3, SHAPE(2, 3, 9)));
  CHECK_VALUES(y, VALS(3.6331384, 2.99876118, 2.07880239, 1, 2.07880239, 2.99876118, 3.6331384,
                       2.99876118, 2.07880239, 2.29004369, 3.17968865, 3.73635013, 3.8923942,
                       3.73635013, 3.17968865, 2.29004369, 3.17968865, 3.73635013, -2.04898095,
                       -1.1359123, -0.01319413, 1.17893995, -0.01319413, -1.1359123, -2.04898095,
                       -1.1359123, -0.01319413, -2.08684046, -2.64715158, -2.84538787,
                       -2.64121734, -2.84538787, -2.64715158, -2.08684046, -2.64715158,
                       -2.84538787, 1.54172504, 0.706002658, -0.274315433, -1.25383752,
                       -0.274315433, 0.706002658, 1.54172504, 0.706002658, -0.274315433,
                       1.55854691, 2.1273699, 2.31572721, 2.10762317, 2.31572721, 2.1273699,
                       1.55854691, 2.1273699, 2.31572721),
               54, 1e-6);
  sg_release(y);
  sg_release(x);
  /* replicate over three dims of a 5-d input */
  x = tt_wave(SG_FLOAT64, 5, SHAPE(1, 1, 2, 2, 3));
  y = sg_pad(x, (const int64_t[]){1, 1, 2, 0, 1, 2}, 6, SG_PAD_REPLICATE, 0);
  CHECK(tt_has_shape(y, 5, SHAPE(1, 1, 5, 4, 5)));
  CHECK_VALUES(y, VALS(1, 1, 2.07880239, 2.99876118, 2.99876118, 1, 1, 2.07880239, 2.99876118,
                       2.99876118, 1, 1, 2.07880239, 2.99876118, 2.99876118, 3.6331384, 3.6331384,
                       3.8923942, 3.73635013, 3.73635013, 1, 1, 2.07880239, 2.99876118,
                       2.99876118, 1, 1, 2.07880239, 2.99876118, 2.99876118, 1, 1, 2.07880239,
                       2.99876118, 2.99876118, 3.6331384, 3.6331384, 3.8923942, 3.73635013,
                       3.73635013, 3.17968865, 3.17968865, 2.29004369, 1.17893995, 1.17893995,
                       3.17968865, 3.17968865, 2.29004369, 1.17893995, 1.17893995, 3.17968865,
                       3.17968865, 2.29004369, 1.17893995, 1.17893995, -0.01319413, -0.01319413,
                       -1.1359123, -2.04898095, -2.04898095, 3.17968865, 3.17968865, 2.29004369,
                       1.17893995, 1.17893995, 3.17968865, 3.17968865, 2.29004369, 1.17893995,
                       1.17893995, 3.17968865, 3.17968865, 2.29004369, 1.17893995, 1.17893995,
                       -0.01319413, -0.01319413, -1.1359123, -2.04898095, -2.04898095,
                       3.17968865, 3.17968865, 2.29004369, 1.17893995, 1.17893995, 3.17968865,
                       3.17968865, 2.29004369, 1.17893995, 1.17893995, 3.17968865, 3.17968865,
                       2.29004369, 1.17893995, 1.17893995, -0.01319413, -0.01319413, -1.1359123,
                       -2.04898095, -2.04898095),
               100, 1e-8);
  sg_release(y);
  sg_release(x);
  /* integer dtypes: constant and reflect */
  x = tt_from(SG_INT64, VALS(1, 2, 3), 2, SHAPE(1, 3));
  y = sg_pad(x, (const int64_t[]){1, 2}, 2, SG_PAD_CONSTANT, 7);
  CHECK(y && y->dtype == SG_INT64);
  CHECK_VALUES(y, VALS(7, 1, 2, 3, 7, 7), 6, 0);
  sg_release(y);
  y = sg_pad(x, (const int64_t[]){2, 2}, 2, SG_PAD_REFLECT, 0);
  CHECK_VALUES(y, VALS(3, 2, 1, 2, 3, 2, 1), 7, 0);
  sg_release(y);
  sg_release(x);
  x = tt_from(SG_UINT8, VALS(4, 5), 1, SHAPE(2));
  y = sg_pad(x, (const int64_t[]){1, 2}, 2, SG_PAD_REPLICATE, 0);
  CHECK_VALUES(y, VALS(4, 4, 5, 5, 5), 5, 0);
  sg_release(y);
  sg_release(x);
}

static void pixel_shuffle_values(void) {
  sg_tensor *x = tt_wave(SG_FLOAT64, 4, SHAPE(1, 8, 2, 3));
  sg_tensor *y = sg_pixel_shuffle(x, 2);
  CHECK(tt_has_shape(y, 4, SHAPE(1, 2, 4, 6)));
  CHECK_VALUES(y, VALS(1, 3.17968865, 2.07880239, 2.29004369, 2.99876118, 1.17893995, -2.64121734,
                       0.706002658, -2.84538787, 1.54172504, -2.64715158, 2.10762317, 3.6331384,
                       -0.01319413, 3.8923942, -1.1359123, 3.73635013, -2.04898095, -2.08684046,
                       2.31572721, -1.25383752, 2.1273699, -0.274315433, 1.55854691, 0.677866727,
                       -3.97113753, -0.402633922, -3.63286014, -1.54256716, -2.92173638,
                       1.36948473, 0.40926628, 2.10591738, -0.584385042, 2.4834792, -1.49677201,
                       -2.59212407, -1.92970685, -3.4122965, -0.785346957, -3.89365438,
                       0.363466444, 2.4623491, -2.19089155, 2.05742333, -2.55947167, 1.33615389,
                       -2.5396513),
               48, 1e-8);
  sg_release(y);
  /* a 3-d input (C x H x W) */
  sg_tensor *x3 = sg_reshape(x, SHAPE(8, 2, 3), 3);
  y = sg_pixel_shuffle(x3, 2);
  CHECK(tt_has_shape(y, 3, SHAPE(2, 4, 6)));
  sg_release(y);
  sg_release(x3);
  sg_release(x);
}

/* ---- gradients ---- */

typedef struct {
  int kind; /* 0 interpolate, 1 pad, 2 pixel_shuffle */
  int64_t oh, ow;
  sg_interp_mode mode;
  bool ac;
  double sh, sw;
  int64_t pads[6];
  int npads;
  sg_pad_mode pmode;
  bool square; /* f = op(x)^2: double backward goes through the backward op */
} rctx;

static sg_tensor *f_resample(sg_tensor **in, int n, void *ctx) {
  (void)n;
  rctx *c = ctx;
  sg_tensor *y = c->kind == 0   ? sg_interpolate(in[0], c->oh, c->ow, c->mode, c->ac, c->sh, c->sw)
                 : c->kind == 1 ? sg_pad(in[0], c->pads, c->npads, c->pmode, 0.25)
                                : sg_pixel_shuffle(in[0], 2);
  if (!y || !c->square) return y;
  sg_tensor *r = sg_mul(y, y);
  sg_release(y);
  return r;
}

static void check_both(rctx *c, sg_tensor *x) {
  c->square = false;
  CHECK_GRAD(f_resample, c, &x, 1);
  c->square = true;
  CHECK_GRAD(f_resample, c, &x, 1);
  CHECK_GRADGRAD(f_resample, c, &x, 1);
}

static void interpolate_gradients(void) {
  const struct {
    int64_t oh, ow;
    sg_interp_mode mode;
    bool ac;
    double sh, sw;
  } cases[] = {
      {7, 9, SG_INTERP_NEAREST, false, 0, 0},  {8, 10, SG_INTERP_NEAREST, false, 0, 0},
      {2, 3, SG_INTERP_NEAREST, false, 0, 0},  {0, 0, SG_INTERP_NEAREST, false, 1.7, 2.2},
      {7, 9, SG_INTERP_BILINEAR, false, 0, 0}, {7, 9, SG_INTERP_BILINEAR, true, 0, 0},
      {8, 10, SG_INTERP_BILINEAR, false, 0, 0}, {2, 3, SG_INTERP_BILINEAR, false, 0, 0},
      {2, 3, SG_INTERP_BILINEAR, true, 0, 0},  {0, 0, SG_INTERP_BILINEAR, false, 1.5, 2.5},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    sg_tensor *x = tt_param(800 + k, -1, 1, 4, SHAPE(2, 2, 4, 5));
    rctx c = {.kind = 0, .oh = cases[k].oh, .ow = cases[k].ow, .mode = cases[k].mode,
              .ac = cases[k].ac, .sh = cases[k].sh, .sw = cases[k].sw};
    check_both(&c, x);
    sg_release(x);
  }
}

static void pad_gradients(void) {
  const struct {
    int64_t pads[6];
    int npads;
    sg_pad_mode mode;
  } cases[] = {
      {{1, 2, -1, 1}, 4, SG_PAD_CONSTANT},  {{0, 0, 0, 0, 1, 0}, 6, SG_PAD_CONSTANT},
      {{-1, -1}, 2, SG_PAD_CONSTANT},       {{2, 1, 1, 2}, 4, SG_PAD_REFLECT},
      {{3, 3}, 2, SG_PAD_REFLECT},          {{-1, 2, 0, 1}, 4, SG_PAD_REFLECT},
      {{2, 1, 1, 2}, 4, SG_PAD_REPLICATE},  {{4, 1}, 2, SG_PAD_REPLICATE},
      {{1, 1, 2, 0, 1, 1}, 6, SG_PAD_REFLECT}, {{1, 2, 0, 1, 2, 1}, 6, SG_PAD_REPLICATE},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    sg_tensor *x = tt_param(900 + k, -1, 1, 4, SHAPE(2, 3, 4, 4));
    rctx c = {.kind = 1, .npads = cases[k].npads, .pmode = cases[k].mode};
    for (int j = 0; j < 6; j++) c.pads[j] = cases[k].pads[j];
    check_both(&c, x);
    sg_release(x);
  }
  sg_tensor *x = tt_param(950, -1, 1, 4, SHAPE(1, 8, 2, 3));
  rctx c = {.kind = 2};
  check_both(&c, x);
  sg_release(x);
}

/* The adjoint identity <L x, y> = <x, L^T y> on a float32 input large enough
 * for the parallel kernels (DIP's x2 bilinear upsampling and reflect pad),
 * with L^T from autograd. */
static void large_adjoint(void) {
  int64_t shape[4] = {1, 8, 48, 40};
  for (int kind = 0; kind < 4; kind++) {
    sg_tensor *x = tt_uniform(1000 + kind, SG_FLOAT32, -1, 1, 4, shape);
    CHECK_OK(sg_set_requires_grad(x, true));
    sg_tensor *y = NULL;
    switch (kind) {
      case 0: y = sg_interpolate(x, 0, 0, SG_INTERP_BILINEAR, false, 2, 2); break;
      case 1: y = sg_interpolate(x, 100, 70, SG_INTERP_BILINEAR, true, 0, 0); break;
      case 2: y = sg_interpolate(x, 0, 0, SG_INTERP_NEAREST, false, 2, 2); break;
      default: y = sg_pad(x, (const int64_t[]){2, 2, 3, 1}, 4, SG_PAD_REFLECT, 0); break;
    }
    if (!CHECK(y != NULL)) {
      sg_release(x);
      continue;
    }
    sg_tensor *u = tt_uniform(1100 + kind, SG_FLOAT32, -1, 1, y->ndim, y->shape);
    sg_tensor *g = NULL;
    CHECK_OK(sg_grad(&y, &u, 1, &x, 1, &g, false, false, false));
    sg_tensor *uy = sg_mul(u, y), *xg = g ? sg_mul(x, g) : NULL;
    sg_tensor *a = uy ? sg_sum(uy, NULL, 0, false) : NULL;
    sg_tensor *b = xg ? sg_sum(xg, NULL, 0, false) : NULL;
    if (CHECK(a && b)) CHECK_NEAR(sg_get_flat(a, 0), sg_get_flat(b, 0), 1e-2);
    sg_tensor *all[] = {x, y, u, g, uy, xg, a, b};
    sg_release_all(all, 8);
  }
}

static void errors(void) {
  sg_tensor *x3 = sg_zeros(SHAPE(3, 32, 32), 3, SG_FLOAT32, sg_cpu_device());
  sg_tensor *x = sg_zeros(SHAPE(1, 2, 3, 4), 4, SG_FLOAT32, sg_cpu_device());
  sg_tensor *xi = sg_zeros(SHAPE(1, 1, 2, 2), 4, SG_INT64, sg_cpu_device());
  CHECK_FAILS(sg_interpolate(x3, 64, 64, SG_INTERP_BILINEAR, false, 0, 0),
              "interpolate: input has 3 dims (3x32x32), expected 4 (N x C x H x W)");
  CHECK_FAILS(sg_interpolate(x, 0, 5, SG_INTERP_BILINEAR, false, 0, 0),
              "interpolate: output size 0x5 must be positive (input 1x2x3x4");
  CHECK_FAILS(sg_interpolate(x, 0, 0, SG_INTERP_BILINEAR, false, 0.2, 0.2),
              "output size 0x0 must be positive");
  CHECK_FAILS(sg_interpolate(x, 4, 4, SG_INTERP_NEAREST, true, 0, 0), "align_corners");
  CHECK_FAILS(sg_interpolate(x, 4, 4, (sg_interp_mode)7, false, 0, 0), "unknown mode");
  CHECK_FAILS(sg_interpolate(x, 4, 4, SG_INTERP_BILINEAR, false, -1, 0), "scale factors");
  CHECK_FAILS(sg_interpolate(xi, 4, 4, SG_INTERP_NEAREST, false, 0, 0), "expected float32");
  CHECK_FAILS(sg_interpolate(NULL, 4, 4, SG_INTERP_NEAREST, false, 0, 0), "interpolate");
  CHECK_FAILS(sg_pad(x, (const int64_t[]){4, 0}, 2, SG_PAD_REFLECT, 0),
              "pad: reflect padding (4, 0) of dim 3 must be less than its size 4 (input 1x2x3x4)");
  CHECK_FAILS(sg_pad(x, (const int64_t[]){0, 0, 1, 3}, 4, SG_PAD_REFLECT, 0),
              "reflect padding (1, 3) of dim 2 must be less than its size 3");
  CHECK_FAILS(sg_pad(x, (const int64_t[]){1, 1, 1}, 3, SG_PAD_CONSTANT, 0),
              "pad: 3 pad values given for input 1x2x3x4; expected an even number");
  CHECK_FAILS(sg_pad(x, (const int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 10, SG_PAD_CONSTANT, 0),
              "at most 2 per dim");
  CHECK_FAILS(sg_pad(x, (const int64_t[]){1, 1, 1, 1, 1, 1, 1, 1}, 8, SG_PAD_REPLICATE, 0),
              "replicate padding pads the last 1, 2 or 3 dims");
  CHECK_FAILS(sg_pad(x, (const int64_t[]){-3, -2}, 2, SG_PAD_CONSTANT, 0),
              "pad: dim 3 of input 1x2x3x4 with padding (-3, -2) would have negative size -1");
  CHECK_FAILS(sg_pad(x, (const int64_t[]){-2, -2}, 2, SG_PAD_REPLICATE, 0),
              "replicate padding (-2, -2) of dim 3 of input 1x2x3x4 gives size 0");
  CHECK_FAILS(sg_pad(x, (const int64_t[]){1, 1}, 2, (sg_pad_mode)9, 0), "unknown mode");
  CHECK_FAILS(sg_pad(NULL, (const int64_t[]){1, 1}, 2, SG_PAD_CONSTANT, 0), "pad");
  CHECK_FAILS(sg_pixel_shuffle(x, 2), "pixel_shuffle: input 1x2x3x4 has 2 channels, not divisible by upscale^2 = 4");
  CHECK_FAILS(sg_pixel_shuffle(x, 0), "upscale factor 0 must be positive");
  sg_tensor *v = sg_zeros(SHAPE(4), 1, SG_FLOAT32, sg_cpu_device());
  CHECK_FAILS(sg_pixel_shuffle(v, 2), "pixel_shuffle: input has 1 dims (4), expected at least 3");
  /* constant pad of zero size is fine (PyTorch allows it) */
  sg_tensor *z = sg_pad(x, (const int64_t[]){-2, -2}, 2, SG_PAD_CONSTANT, 0);
  CHECK(z && z->shape[3] == 0);
  sg_tensor *all[] = {x3, x, xi, v, z};
  sg_release_all(all, 5);
}

int main(void) {
  RUN(interpolate_values);
  RUN(pad_values);
  RUN(pixel_shuffle_values);
  RUN(interpolate_gradients);
  RUN(pad_gradients);
  RUN(large_adjoint);
  RUN(errors);
  return sg_test_finish();
}
