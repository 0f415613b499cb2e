/* CPU kernels of the pool family: max / avg / adaptive-avg pooling, each
 * with its adjoint (backward). OpenMP runs over planes (N * C images) or
 * output rows; backward kernels scatter within a plane, so they split
 * planes across threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "internal/kernels_pool.h"
#include "internal/tensor_internal.h"
#include "plane_cpu.h"

#define POOL_PAR_GRAIN 32768

/* ---------------- max pool ---------------- */

#define DEFINE_MAXPOOL(SUF, T)                                                                \
  static void maxpool_##SUF(T *out, int64_t *ind, const T *x, const sg_pool2d_geom *g) {     \
    const int64_t P = g->planes, IH = g->ih, IW = g->iw, OH = g->oh, OW = g->ow;             \
    const int64_t KH = g->kh, KW = g->kw, SH = g->sh, SW = g->sw, PH = g->ph, PW = g->pw;    \
    const int64_t DH = g->dh, DW = g->dw;                                                    \
    _Pragma("omp parallel for collapse(2) schedule(static) if (P * OH * OW * KH * KW > POOL_PAR_GRAIN)") \
    for (int64_t p = 0; p < P; p++) {                                                        \
      for (int64_t oh = 0; oh < OH; oh++) {                                                  \
        const T *xp = x + p * IH * IW;                                                       \
        int64_t ih0 = oh * SH - PH;                                                          \
        const int64_t ih1 = imin(ih0 + (KH - 1) * DH + 1, IH);                               \
        while (ih0 < 0) ih0 += DH;                                                           \
        T *op = out + (p * OH + oh) * OW;                                                    \
        int64_t *ip = ind + (p * OH + oh) * OW;                                              \
        for (int64_t ow = 0; ow < OW; ow++) {                                                \
          int64_t iw0 = ow * SW - PW;                                                        \
          const int64_t iw1 = imin(iw0 + (KW - 1) * DW + 1, IW);                             \
          while (iw0 < 0) iw0 += DW;                                                         \
          int64_t mi = ih0 * IW + iw0;                                                       \
          T mv = -INFINITY;                                                                  \
          for (int64_t ih = ih0; ih < ih1; ih += DH)                                         \
            for (int64_t iw = iw0; iw < iw1; iw += DW) {                                     \
              const T v = xp[ih * IW + iw];                                                  \
              if (v > mv || v != v) {                                                        \
                mv = v;                                                                      \
                mi = ih * IW + iw;                                                           \
              }                                                                              \
            }                                                                                \
          op[ow] = mv;                                                                       \
          ip[ow] = mi;                                                                       \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
  }
DEFINE_MAXPOOL(f32, float)
DEFINE_MAXPOOL(f64, double)

static sg_status cpu_max_pool2d(sg_tensor *out, sg_tensor *indices, const sg_tensor *x,
                                const sg_pool2d_geom *g) {
  if (float_only("max_pool2d", x)) return sg_last_status();
  if (x->dtype == SG_FLOAT32)
    maxpool_f32(sg_data_ptr(out), sg_data_ptr(indices), sg_data_ptr(x), g);
  else
    maxpool_f64(sg_data_ptr(out), sg_data_ptr(indices), sg_data_ptr(x), g);
  return SG_OK;
}

/* ---------------- index scatter / gather within planes ---------------- */

#define DEFINE_SCATTER(SUF, T)                                                               \
  static void scatter_##SUF(T *dst, const T *src, const int64_t *idx, int64_t P,            \
                            int64_t dplane, int64_t splane) {                                \
    _Pragma("omp parallel for schedule(static) if (P * (splane + dplane) > POOL_PAR_GRAIN && P > 1)") \
    for (int64_t p = 0; p < P; p++) {                                                        \
      T *d = dst + p * dplane;                                                               \
      const T *s = src + p * splane;                                                         \
      const int64_t *ix = idx + p * splane;                                                  \
      memset(d, 0, sizeof(T) * (size_t)dplane);                                              \
      for (int64_t k = 0; k < splane; k++) {                                                 \
        const int64_t j = ix[k];                                                             \
        if (j >= 0 && j < dplane) d[j] += s[k];                                              \
      }                                                                                      \
    }                                                                                        \
  }                                                                                          \
  static void gather_##SUF(T *dst, const T *src, const int64_t *idx, int64_t P,             \
                           int64_t dplane, int64_t splane) {                                 \
    _Pragma("omp parallel for schedule(static) if (P * dplane > POOL_PAR_GRAIN && P > 1)")   \
    for (int64_t p = 0; p < P; p++) {                                                        \
      T *d = dst + p * dplane;                                                               \
      const T *s = src + p * splane;                                                         \
      const int64_t *ix = idx + p * dplane;                                                  \
      for (int64_t k = 0; k < dplane; k++) {                                                 \
        const int64_t j = ix[k];                                                             \
        d[k] = (j >= 0 && j < splane) ? s[j] : (T)0;                                         \
      }                                                                                      \
    }                                                                                        \
  }
DEFINE_SCATTER(f32, float)
DEFINE_SCATTER(f64, double)

static sg_status cpu_index_scatter_add(sg_tensor *dst, const sg_tensor *src, const sg_tensor *idx,
                                       int64_t planes) {
  if (float_only("max_pool2d backward", dst)) return sg_last_status();
  if (planes <= 0) return SG_OK;
  int64_t dplane = sg_numel(dst) / planes, splane = sg_numel(src) / planes;
  if (dst->dtype == SG_FLOAT32)
    scatter_f32(sg_data_ptr(dst), sg_data_ptr(src), sg_data_ptr(idx), planes, dplane, splane);
  else
    scatter_f64(sg_data_ptr(dst), sg_data_ptr(src), sg_data_ptr(idx), planes, dplane, splane);
  return SG_OK;
}

static sg_status cpu_index_gather(sg_tensor *dst, const sg_tensor *src, const sg_tensor *idx,
                                  int64_t planes) {
  if (float_only("max_pool2d double backward", dst)) return sg_last_status();
  if (planes <= 0) return SG_OK;
  int64_t dplane = sg_numel(dst) / planes, splane = sg_numel(src) / planes;
  if (dst->dtype == SG_FLOAT32)
    gather_f32(sg_data_ptr(dst), sg_data_ptr(src), sg_data_ptr(idx), planes, dplane, splane);
  else
    gather_f64(sg_data_ptr(dst), sg_data_ptr(src), sg_data_ptr(idx), planes, dplane, splane);
  return SG_OK;
}

/* ---------------- avg pool ---------------- */

/* Window of output (oh, ow) clipped to the input, and its divisor
 * (PyTorch's cpu_avg_pool). Returns false for an empty window. */
static inline bool avg_window(const sg_pool2d_geom *g, int64_t oh, int64_t ow, int64_t *h0,
                              int64_t *h1, int64_t *w0, int64_t *w1, int64_t *div) {
  int64_t hs = oh * g->sh - g->ph, ws = ow * g->sw - g->pw;
  int64_t he = imin(hs + g->kh, g->ih + g->ph), we = imin(ws + g->kw, g->iw + g->pw);
  int64_t pool = (he - hs) * (we - ws);
  hs = imax(hs, 0);
  ws = imax(ws, 0);
  he = imin(he, g->ih);
  we = imin(we, g->iw);
  if (hs >= he || ws >= we) return false;
  *h0 = hs;
  *h1 = he;
  *w0 = ws;
  *w1 = we;
  *div = g->count_include_pad ? pool : (he - hs) * (we - ws);
  return true;
}

#define DEFINE_AVGPOOL(SUF, T)                                                                \
  static void avgpool_##SUF(T *out, const T *x, const sg_pool2d_geom *g) {                   \
    const int64_t P = g->planes, IH = g->ih, IW = g->iw, OH = g->oh, OW = g->ow;             \
    _Pragma("omp parallel for collapse(2) schedule(static) if (P * OH * OW * g->kh * g->kw > POOL_PAR_GRAIN)") \
    for (int64_t p = 0; p < P; p++) {                                                        \
      for (int64_t oh = 0; oh < OH; oh++) {                                                  \
        const T *xp = x + p * IH * IW;                                                       \
        T *op = out + (p * OH + oh) * OW;                                                    \
        for (int64_t ow = 0; ow < OW; ow++) {                                                \
          int64_t h0, h1, w0, w1, div;                                                       \
          if (!avg_window(g, oh, ow, &h0, &h1, &w0, &w1, &div)) {                            \
            op[ow] = 0;                                                                      \
            continue;                                                                        \
          }                                                                                  \
          double s = 0;                                                                      \
          for (int64_t h = h0; h < h1; h++)                                                  \
            for (int64_t w = w0; w < w1; w++) s += xp[h * IW + w];                           \
          op[ow] = (T)(s / (double)div);                                                     \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
  }                                                                                          \
  static void avgpool_bwd_##SUF(T *dx, const T *dy, const sg_pool2d_geom *g) {               \
    const int64_t P = g->planes, IH = g->ih, IW = g->iw, OH = g->oh, OW = g->ow;             \
    _Pragma("omp parallel for schedule(static) if (P * OH * OW * g->kh * g->kw > POOL_PAR_GRAIN && P > 1)") \
    for (int64_t p = 0; p < P; p++) {                                                        \
      T *dp = dx + p * IH * IW;                                                              \
      const T *gp = dy + p * OH * OW;                                                        \
      memset(dp, 0, sizeof(T) * (size_t)(IH * IW));                                          \
      for (int64_t oh = 0; oh < OH; oh++)                                                    \
        for (int64_t ow = 0; ow < OW; ow++) {                                                \
          int64_t h0, h1, w0, w1, div;                                                       \
          if (!avg_window(g, oh, ow, &h0, &h1, &w0, &w1, &div)) continue;                    \
          const T v = gp[oh * OW + ow] / (T)div;                                             \
          for (int64_t h = h0; h < h1; h++)                                                  \
            for (int64_t w = w0; w < w1; w++) dp[h * IW + w] += v;                           \
        }                                                                                    \
    }                                                                                        \
  }
DEFINE_AVGPOOL(f32, float)
DEFINE_AVGPOOL(f64, double)

static sg_status cpu_avg_pool2d(sg_tensor *out, const sg_tensor *x, const sg_pool2d_geom *g) {
  if (float_only("avg_pool2d", x)) return sg_last_status();
  if (x->dtype == SG_FLOAT32) avgpool_f32(sg_data_ptr(out), sg_data_ptr(x), g);
  else avgpool_f64(sg_data_ptr(out), sg_data_ptr(x), g);
  return SG_OK;
}

static sg_status cpu_avg_pool2d_backward(sg_tensor *dx, const sg_tensor *dy,
                                         const sg_pool2d_geom *g) {
  if (float_only("avg_pool2d backward", dx)) return sg_last_status();
  if (dx->dtype == SG_FLOAT32) avgpool_bwd_f32(sg_data_ptr(dx), sg_data_ptr(dy), g);
  else avgpool_bwd_f64(sg_data_ptr(dx), sg_data_ptr(dy), g);
  return SG_OK;
}

/* ---------------- adaptive avg pool ---------------- */

/* PyTorch: start = floor(o * in / out), end = ceil((o + 1) * in / out). */
static inline int64_t ad_start(int64_t o, int64_t out, int64_t in) { return (o * in) / out; }
static inline int64_t ad_end(int64_t o, int64_t out, int64_t in) {
  return ((o + 1) * in + out - 1) / out;
}

#define DEFINE_ADAPTIVE(SUF, T)                                                               \
  static void adaptive_##SUF(T *out, const T *x, const sg_pool2d_geom *g) {                  \
    const int64_t P = g->planes, IH = g->ih, IW = g->iw, OH = g->oh, OW = g->ow;             \
    _Pragma("omp parallel for collapse(2) schedule(static) if (P * IH * IW > POOL_PAR_GRAIN)") \
    for (int64_t p = 0; p < P; p++) {                                                        \
      for (int64_t oh = 0; oh < OH; oh++) {                                                  \
        const T *xp = x + p * IH * IW;                                                       \
        T *op = out + (p * OH + oh) * OW;                                                    \
        const int64_t h0 = ad_start(oh, OH, IH), h1 = ad_end(oh, OH, IH);                    \
        for (int64_t ow = 0; ow < OW; ow++) {                                                \
          const int64_t w0 = ad_start(ow, OW, IW), w1 = ad_end(ow, OW, IW);                  \
          double s = 0;                                                                      \
          for (int64_t h = h0; h < h1; h++)                                                  \
            for (int64_t w = w0; w < w1; w++) s += xp[h * IW + w];                           \
          op[ow] = (T)(s / (double)((h1 - h0) * (w1 - w0)));                                 \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
  }                                                                                          \
  static void adaptive_bwd_##SUF(T *dx, const T *dy, const sg_pool2d_geom *g) {              \
    const int64_t P = g->planes, IH = g->ih, IW = g->iw, OH = g->oh, OW = g->ow;             \
    _Pragma("omp parallel for schedule(static) if (P * IH * IW > POOL_PAR_GRAIN && P > 1)")  \
    for (int64_t p = 0; p < P; p++) {                                                        \
      T *dp = dx + p * IH * IW;                                                              \
      const T *gp = dy + p * OH * OW;                                                        \
      memset(dp, 0, sizeof(T) * (size_t)(IH * IW));                                          \
      for (int64_t oh = 0; oh < OH; oh++) {                                                  \
        const int64_t h0 = ad_start(oh, OH, IH), h1 = ad_end(oh, OH, IH);                    \
        for (int64_t ow = 0; ow < OW; ow++) {                                                \
          const int64_t w0 = ad_start(ow, OW, IW), w1 = ad_end(ow, OW, IW);                  \
          const T v = gp[oh * OW + ow] / (T)((h1 - h0) * (w1 - w0));                         \
          for (int64_t h = h0; h < h1; h++)                                                  \
            for (int64_t w = w0; w < w1; w++) dp[h * IW + w] += v;                           \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
  }
DEFINE_ADAPTIVE(f32, float)
DEFINE_ADAPTIVE(f64, double)

static sg_status cpu_adaptive_avg_pool2d(sg_tensor *out, const sg_tensor *x,
                                         const sg_pool2d_geom *g) {
  if (float_only("adaptive_avg_pool2d", x)) return sg_last_status();
  if (x->dtype == SG_FLOAT32) adaptive_f32(sg_data_ptr(out), sg_data_ptr(x), g);
  else adaptive_f64(sg_data_ptr(out), sg_data_ptr(x), g);
  return SG_OK;
}

static sg_status cpu_adaptive_avg_pool2d_backward(sg_tensor *dx, const sg_tensor *dy,
                                                  const sg_pool2d_geom *g) {
  if (float_only("adaptive_avg_pool2d backward", dx)) return sg_last_status();
  if (dx->dtype == SG_FLOAT32) adaptive_bwd_f32(sg_data_ptr(dx), sg_data_ptr(dy), g);
  else adaptive_bwd_f64(sg_data_ptr(dx), sg_data_ptr(dy), g);
  return SG_OK;
}

const struct sg_pool_kernels sg_cpu_pool_kernels = {
    .max_pool2d = cpu_max_pool2d,
    .index_scatter_add = cpu_index_scatter_add,
    .index_gather = cpu_index_gather,
    .avg_pool2d = cpu_avg_pool2d,
    .avg_pool2d_backward = cpu_avg_pool2d_backward,
    .adaptive_avg_pool2d = cpu_adaptive_avg_pool2d,
    .adaptive_avg_pool2d_backward = cpu_adaptive_avg_pool2d_backward,
};
