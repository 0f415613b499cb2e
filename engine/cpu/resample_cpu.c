/* CPU kernels of the resample family: nearest / bilinear interpolation and
 * reflect / replicate padding, each with its adjoint (backward). OpenMP
 * runs over planes (N * C images) or output rows; backward kernels scatter
 * within a plane, so they split planes across threads. Index and weight
 * tables are computed once per call, following PyTorch 1.13's formulas
 * (UpSample.h) for exact agreement. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "internal/kernels_resample.h"
#include "internal/tensor_internal.h"
#include "plane_cpu.h"

#define RESAMPLE_PAR_GRAIN 32768

/* ---------------- interpolation ---------------- */

/* PyTorch's legacy 'nearest' source index (computed in float, as PyTorch). */
static void nearest_table(int64_t in, int64_t out, double scale, int64_t *idx) {
  float s = scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
  for (int64_t o = 0; o < out; o++) {
    if (out == in) idx[o] = o;
    else if (out == 2 * in) idx[o] = o >> 1;
    else idx[o] = imin((int64_t)floorf((float)o * s), in - 1);
  }
}

/* Bilinear source indices and weights along one dim, computed in the data's
 * precision (PyTorch's compute_source_index_and_lambda with
 * area_pixel_compute_scale / area_pixel_compute_source_index). */
#define DEFINE_LIN_TABLE(SUF, T)                                                             \
  static void lin_table_##SUF(int64_t in, int64_t out, bool ac, double scale, int64_t *i0,  \
                              int64_t *i1, T *l0, T *l1) {                                   \
    T ratio;                                                                                 \
    if (ac) ratio = out > 1 ? (T)(in - 1) / (T)(out - 1) : (T)0;                             \
    else ratio = scale > 0 ? (T)(1.0 / scale) : (T)in / (T)out;                              \
    for (int64_t o = 0; o < out; o++) {                                                      \
      if (out == in) {                                                                       \
        i0[o] = i1[o] = o;                                                                   \
        l0[o] = 1;                                                                           \
        l1[o] = 0;                                                                           \
        continue;                                                                            \
      }                                                                                      \
      T real = ac ? ratio * (T)o : ratio * ((T)o + (T)0.5) - (T)0.5;                         \
      if (!ac && real < 0) real = 0;                                                         \
      int64_t k = (int64_t)real;                                                             \
      if (k > in - 1) k = in - 1;                                                            \
      i0[o] = k;                                                                             \
      i1[o] = k + (k < in - 1 ? 1 : 0);                                                      \
      T lam = real - (T)k;                                                                   \
      lam = lam < 0 ? (T)0 : lam > 1 ? (T)1 : lam;                                           \
      l1[o] = lam;                                                                           \
      l0[o] = (T)1 - lam;                                                                    \
    }                                                                                        \
  }
DEFINE_LIN_TABLE(f32, float)
DEFINE_LIN_TABLE(f64, double)

/* Tables of one call: indices (int64) then weights (T), in one block. */
typedef struct interp_tables {
  int64_t *hi0, *hi1, *wi0, *wi1;
  void *hl0, *hl1, *wl0, *wl1;
  void *block;
} interp_tables;

static sg_status make_tables(const sg_interp_geom *g, sg_dtype dt, interp_tables *t) {
  size_t es = sg_dtype_size(dt);
  size_t nh = (size_t)g->oh, nw = (size_t)g->ow;
  char *b = malloc((nh + nw) * 2 * (sizeof(int64_t) + es) + 64);
  if (!b) return sg_error(SG_ERR_MEM, "interpolate: out of memory for index tables");
  t->block = b;
  t->hi0 = (int64_t *)b;
  t->hi1 = t->hi0 + nh;
  t->wi0 = t->hi1 + nh;
  t->wi1 = t->wi0 + nw;
  char *w = (char *)(t->wi1 + nw);
  t->hl0 = w;
  t->hl1 = w + nh * es;
  t->wl0 = w + 2 * nh * es;
  t->wl1 = w + (2 * nh + nw) * es;
  if (g->mode == SG_INTERP_NEAREST) {
    nearest_table(g->ih, g->oh, g->scale_h, t->hi0);
    nearest_table(g->iw, g->ow, g->scale_w, t->wi0);
  } else if (dt == SG_FLOAT32) {
    lin_table_f32(g->ih, g->oh, g->align_corners, g->scale_h, t->hi0, t->hi1, t->hl0, t->hl1);
    lin_table_f32(g->iw, g->ow, g->align_corners, g->scale_w, t->wi0, t->wi1, t->wl0, t->wl1);
  } else {
    lin_table_f64(g->ih, g->oh, g->align_corners, g->scale_h, t->hi0, t->hi1, t->hl0, t->hl1);
    lin_table_f64(g->iw, g->ow, g->align_corners, g->scale_w, t->wi0, t->wi1, t->wl0, t->wl1);
  }
  return SG_OK;
}

/* Bilinear forward: each needed input row is interpolated horizontally once
 * into a two-slot row cache, then output rows blend two cached rows (a
 * contiguous, vectorizable loop). The arithmetic order is PyTorch's
 * (width first, then height). Nearest: a gather per output row. */
#define DEFINE_INTERP(SUF, T)                                                                   \
  static void hrow_##SUF(T *dst, const T *xr, const interp_tables *t, int64_t OW) {            \
    const int64_t *w0 = t->wi0, *w1 = t->wi1;                                                  \
    const T *l0 = t->wl0, *l1 = t->wl1;                                                        \
    for (int64_t o = 0; o < OW; o++) dst[o] = xr[w0[o]] * l0[o] + xr[w1[o]] * l1[o];           \
  }                                                                                            \
  static int interp_fwd_##SUF(T *out, const T *x, const sg_interp_geom *g,                     \
                              const interp_tables *t) {                                        \
    const int64_t P = g->planes, IH = g->ih, IW = g->iw, OH = g->oh, OW = g->ow;               \
    int failed = 0;                                                                            \
    if (g->mode == SG_INTERP_NEAREST) {                                                        \
      _Pragma("omp parallel for collapse(2) schedule(static) if (P * OH * OW > RESAMPLE_PAR_GRAIN)") \
      for (int64_t p = 0; p < P; p++)                                                          \
        for (int64_t oh = 0; oh < OH; oh++) {                                                  \
          const T *xr = x + (p * IH + t->hi0[oh]) * IW;                                        \
          T *o = out + (p * OH + oh) * OW;                                                     \
          const int64_t *wi = t->wi0;                                                          \
          for (int64_t ow = 0; ow < OW; ow++) o[ow] = xr[wi[ow]];                              \
        }                                                                                      \
      return 0;                                                                                \
    }                                                                                          \
    const T *hl0 = t->hl0, *hl1 = t->hl1;                                                      \
    _Pragma("omp parallel if (P * OH * OW > RESAMPLE_PAR_GRAIN && P > 1) reduction(| : failed)") { \
      T *buf = malloc(sizeof(T) * (size_t)(2 * OW + 1));                                       \
      if (!buf) failed = 1;                                                                    \
      _Pragma("omp for schedule(static)") for (int64_t p = 0; p < P; p++) {                    \
        if (!buf) continue;                                                                    \
        T *slot[2] = {buf, buf + OW};                                                          \
        int64_t held[2] = {-1, -1};                                                            \
        const T *xp = x + p * IH * IW;                                                         \
        for (int64_t oh = 0; oh < OH; oh++) {                                                  \
          const int64_t h0 = t->hi0[oh], h1 = t->hi1[oh];                                      \
          int s0 = held[0] == h0 ? 0 : held[1] == h0 ? 1 : -1;                                 \
          if (s0 < 0) {                                                                        \
            int keep = held[0] == h1 ? 0 : held[1] == h1 ? 1 : -1;                             \
            s0 = keep == 0 ? 1 : keep == 1 ? 0 : (held[0] <= held[1] ? 0 : 1);                \
            hrow_##SUF(slot[s0], xp + h0 * IW, t, OW);                                         \
            held[s0] = h0;                                                                     \
          }                                                                                    \
          int s1 = held[0] == h1 ? 0 : held[1] == h1 ? 1 : -1;                                 \
          if (s1 < 0) {                                                                        \
            s1 = 1 - s0;                                                                       \
            hrow_##SUF(slot[s1], xp + h1 * IW, t, OW);                                         \
            held[s1] = h1;                                                                     \
          }                                                                                    \
          const T a = hl0[oh], b = hl1[oh];                                                    \
          const T *r0 = slot[s0], *r1 = slot[s1];                                              \
          T *o = out + (p * OH + oh) * OW;                                                     \
          for (int64_t ow = 0; ow < OW; ow++) o[ow] = r0[ow] * a + r1[ow] * b;                 \
        }                                                                                      \
      }                                                                                        \
      free(buf);                                                                               \
    }                                                                                          \
    return failed;                                                                             \
  }                                                                                            \
  /* Adjoint: vertical first into an IH x OW buffer (contiguous axpys), then */                \
  /* the horizontal scatter into dx. */                                                         \
  static int interp_bwd_##SUF(T *dx, const T *dy, const sg_interp_geom *g,                     \
                              const interp_tables *t) {                                        \
    const int64_t P = g->planes, IH = g->ih, IW = g->iw, OH = g->oh, OW = g->ow;               \
    int failed = 0;                                                                            \
    if (g->mode == SG_INTERP_NEAREST) {                                                        \
      _Pragma("omp parallel for schedule(static) if (P * OH * OW > RESAMPLE_PAR_GRAIN && P > 1)")  \
      for (int64_t p = 0; p < P; p++) {                                                        \
        T *dp = dx + p * IH * IW;                                                              \
        memset(dp, 0, sizeof(T) * (size_t)(IH * IW));                                          \
        for (int64_t oh = 0; oh < OH; oh++) {                                                  \
          T *dr = dp + t->hi0[oh] * IW;                                                        \
          const T *gr = dy + (p * OH + oh) * OW;                                               \
          const int64_t *wi = t->wi0;                                                          \
          for (int64_t ow = 0; ow < OW; ow++) dr[wi[ow]] += gr[ow];                            \
        }                                                                                      \
      }                                                                                        \
      return 0;                                                                                \
    }                                                                                          \
    const T *hl0 = t->hl0, *hl1 = t->hl1, *wl0 = t->wl0, *wl1 = t->wl1;                        \
    _Pragma("omp parallel if (P * OH * OW > RESAMPLE_PAR_GRAIN && P > 1) reduction(| : failed)") { \
      T *tmp = malloc(sizeof(T) * (size_t)(IH * OW + 1));                                      \
      if (!tmp) failed = 1;                                                                    \
      _Pragma("omp for schedule(static)") for (int64_t p = 0; p < P; p++) {                    \
        if (!tmp) continue;                                                                    \
        memset(tmp, 0, sizeof(T) * (size_t)(IH * OW));                                         \
        for (int64_t oh = 0; oh < OH; oh++) {                                                  \
          const T *gr = dy + (p * OH + oh) * OW;                                               \
          T *t0 = tmp + t->hi0[oh] * OW, *t1 = tmp + t->hi1[oh] * OW;                          \
          const T a = hl0[oh], b = hl1[oh];                                                    \
          for (int64_t ow = 0; ow < OW; ow++) t0[ow] += gr[ow] * a;                            \
          for (int64_t ow = 0; ow < OW; ow++) t1[ow] += gr[ow] * b;                            \
        }                                                                                      \
        T *dp = dx + p * IH * IW;                                                              \
        memset(dp, 0, sizeof(T) * (size_t)(IH * IW));                                          \
        const int64_t *w0 = t->wi0, *w1 = t->wi1;                                              \
        for (int64_t h = 0; h < IH; h++) {                                                     \
          const T *tr = tmp + h * OW;                                                          \
          T *dr = dp + h * IW;                                                                 \
          for (int64_t ow = 0; ow < OW; ow++) {                                                \
            dr[w0[ow]] += tr[ow] * wl0[ow];                                                    \
            dr[w1[ow]] += tr[ow] * wl1[ow];                                                    \
          }                                                                                    \
        }                                                                                      \
      }                                                                                        \
      free(tmp);                                                                               \
    }                                                                                          \
    return failed;                                                                             \
  }
DEFINE_INTERP(f32, float)
DEFINE_INTERP(f64, double)

static sg_status cpu_interpolate(sg_tensor *out, const sg_tensor *x, const sg_interp_geom *g) {
  if (float_only("interpolate", x)) return sg_last_status();
  interp_tables t;
  if (make_tables(g, x->dtype, &t) != SG_OK) return sg_last_status();
  int failed = x->dtype == SG_FLOAT32
                   ? interp_fwd_f32(sg_data_ptr(out), sg_data_ptr(x), g, &t)
                   : interp_fwd_f64(sg_data_ptr(out), sg_data_ptr(x), g, &t);
  free(t.block);
  return failed ? sg_error(SG_ERR_MEM, "interpolate: out of memory for row buffers") : SG_OK;
}

static sg_status cpu_interpolate_backward(sg_tensor *dx, const sg_tensor *dy,
                                          const sg_interp_geom *g) {
  if (float_only("interpolate backward", dx)) return sg_last_status();
  interp_tables t;
  if (make_tables(g, dx->dtype, &t) != SG_OK) return sg_last_status();
  int failed = dx->dtype == SG_FLOAT32
                   ? interp_bwd_f32(sg_data_ptr(dx), sg_data_ptr(dy), g, &t)
                   : interp_bwd_f64(sg_data_ptr(dx), sg_data_ptr(dy), g, &t);
  free(t.block);
  return failed ? sg_error(SG_ERR_MEM, "interpolate backward: out of memory for buffers") : SG_OK;
}

/* ---------------- reflect / replicate padding ---------------- */

static int64_t pad_source(int64_t o, int64_t before, int64_t n, sg_pad_mode mode) {
  int64_t i = o - before;
  if (mode == SG_PAD_REFLECT && n > 1) {
    /* period 2(n-1); the op checks pads < n, so one fold suffices, but be
     * safe for any input */
    int64_t period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    if (i >= n) i = period - i;
  }
  return imin(imax(i, 0), n - 1);
}

/* maps[k][o]: source index along padded dim k for output index o. */
static int64_t *pad_maps(const sg_pad_geom *g, int64_t *m[3]) {
  int64_t total = g->out[0] + g->out[1] + g->out[2];
  int64_t *b = malloc(sizeof(int64_t) * (size_t)(total + 1));
  if (!b) return NULL;
  int64_t *q = b;
  for (int k = 0; k < 3; k++) {
    m[k] = q;
    for (int64_t o = 0; o < g->out[k]; o++) q[o] = pad_source(o, g->before[k], g->in[k], g->mode);
    q += g->out[k];
  }
  return b;
}

#define DEFINE_PAD_FWD(SUF, T)                                                                  \
  static void pad_fwd_##SUF(T *out, const T *x, const sg_pad_geom *g, int64_t *const *m) {     \
    const int64_t P = g->planes, I0 = g->in[0], I1 = g->in[1], I2 = g->in[2];                  \
    const int64_t O0 = g->out[0], O1 = g->out[1], O2 = g->out[2], B2 = g->before[2];           \
    const int64_t lo = imax(B2, 0), hi = imin(B2 + I2, O2);                                    \
    const int64_t *m0 = m[0], *m1 = m[1], *m2 = m[2];                                          \
    _Pragma("omp parallel for collapse(3) schedule(static) if (P * O0 * O1 * O2 > RESAMPLE_PAR_GRAIN)") \
    for (int64_t p = 0; p < P; p++)                                                            \
      for (int64_t o0 = 0; o0 < O0; o0++)                                                      \
        for (int64_t o1 = 0; o1 < O1; o1++) {                                                  \
          const T *src = x + ((p * I0 + m0[o0]) * I1 + m1[o1]) * I2;                           \
          T *dst = out + ((p * O0 + o0) * O1 + o1) * O2;                                       \
          if (hi > lo) {                                                                       \
            for (int64_t o = 0; o < lo; o++) dst[o] = src[m2[o]];                              \
            memcpy(dst + lo, src + (lo - B2), sizeof(T) * (size_t)(hi - lo));                  \
            for (int64_t o = hi; o < O2; o++) dst[o] = src[m2[o]];                             \
          } else {                                                                             \
            for (int64_t o = 0; o < O2; o++) dst[o] = src[m2[o]];                              \
          }                                                                                    \
        }                                                                                      \
  }
DEFINE_PAD_FWD(b1, uint8_t)
DEFINE_PAD_FWD(b4, uint32_t)
DEFINE_PAD_FWD(b8, uint64_t)

#define DEFINE_PAD_BWD(SUF, T)                                                                  \
  static void pad_bwd_##SUF(T *dx, const T *dy, const sg_pad_geom *g, int64_t *const *m) {     \
    const int64_t P = g->planes, I0 = g->in[0], I1 = g->in[1], I2 = g->in[2];                  \
    const int64_t O0 = g->out[0], O1 = g->out[1], O2 = g->out[2], B2 = g->before[2];           \
    const int64_t lo = imax(B2, 0), hi = imin(B2 + I2, O2);                                    \
    const int64_t *m0 = m[0], *m1 = m[1], *m2 = m[2];                                          \
    _Pragma("omp parallel for schedule(static) if (P * O0 * O1 * O2 > RESAMPLE_PAR_GRAIN && P > 1)") \
    for (int64_t p = 0; p < P; p++) {                                                          \
      memset(dx + p * I0 * I1 * I2, 0, sizeof(T) * (size_t)(I0 * I1 * I2));                   \
      for (int64_t o0 = 0; o0 < O0; o0++)                                                      \
        for (int64_t o1 = 0; o1 < O1; o1++) {                                                  \
          T *dst = dx + ((p * I0 + m0[o0]) * I1 + m1[o1]) * I2;                                \
          const T *src = dy + ((p * O0 + o0) * O1 + o1) * O2;                                  \
          if (hi > lo) {                                                                       \
            for (int64_t o = 0; o < lo; o++) dst[m2[o]] += src[o];                             \
            T *d = dst + (lo - B2);                                                            \
            const T *s = src + lo;                                                             \
            for (int64_t o = 0; o < hi - lo; o++) d[o] += s[o];                                \
            for (int64_t o = hi; o < O2; o++) dst[m2[o]] += src[o];                            \
          } else {                                                                             \
            for (int64_t o = 0; o < O2; o++) dst[m2[o]] += src[o];                             \
          }                                                                                    \
        }                                                                                      \
    }                                                                                          \
  }
DEFINE_PAD_BWD(f32, float)
DEFINE_PAD_BWD(f64, double)

static sg_status cpu_pad(sg_tensor *out, const sg_tensor *x, const sg_pad_geom *g) {
  int64_t *m[3];
  int64_t *block = pad_maps(g, m);
  if (!block) return sg_error(SG_ERR_MEM, "pad: out of memory for index maps");
  sg_status st = SG_OK;
  switch (sg_dtype_size(x->dtype)) {
    case 1: pad_fwd_b1(sg_data_ptr(out), sg_data_ptr(x), g, m); break;
    case 4: pad_fwd_b4(sg_data_ptr(out), sg_data_ptr(x), g, m); break;
    case 8: pad_fwd_b8(sg_data_ptr(out), sg_data_ptr(x), g, m); break;
    default:
      st = sg_error(SG_ERR_ARG, "pad: dtype %s is not supported", sg_dtype_name(x->dtype));
  }
  free(block);
  return st;
}

static sg_status cpu_pad_backward(sg_tensor *dx, const sg_tensor *dy, const sg_pad_geom *g) {
  if (float_only("pad backward", dx)) return sg_last_status();
  int64_t *m[3];
  int64_t *block = pad_maps(g, m);
  if (!block) return sg_error(SG_ERR_MEM, "pad backward: out of memory for index maps");
  if (dx->dtype == SG_FLOAT32) pad_bwd_f32(sg_data_ptr(dx), sg_data_ptr(dy), g, m);
  else pad_bwd_f64(sg_data_ptr(dx), sg_data_ptr(dy), g, m);
  free(block);
  return SG_OK;
}

const struct sg_resample_kernels sg_cpu_resample_kernels = {
    .interpolate = cpu_interpolate,
    .interpolate_backward = cpu_interpolate_backward,
    .pad = cpu_pad,
    .pad_backward = cpu_pad_backward,
};
