// CUDA kernels of the pool family (internal/kernels_pool.h): max / avg /
// adaptive-avg pooling, each with its adjoint.
//
// Semantics and arithmetic follow engine/cpu/pool_cpu.c operation for
// operation (PyTorch 1.13's index and weight formulas; the same tables are
// computed on the host with the CPU's code and uploaded). The backward
// (adjoint) kernels are gathers: one thread per input element sums, in the
// CPU's order, the output elements that map to it, found through inverse
// tables built on the host. No atomics, so every result repeats bit for bit;
// products go through mul_rn so nvcc cannot contract them into FMAs the CPU
// does not use. The max-pool gradient scatter (index_scatter_add) uses the
// deterministic sorted scatter of index_cuda.cu.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_kernels.cuh"
extern "C" {
#include "internal/kernels_pool.h"
}

using namespace sgcuda;

__device__ __forceinline__ int64_t dmin(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ __forceinline__ int64_t dmax(int64_t a, int64_t b) { return a > b ? a : b; }
// floor(a / b) for b > 0 and any sign of a
__device__ __forceinline__ int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

static sg_status float_only(const char *op, const sg_tensor *t) {
  if (t->dtype == SG_FLOAT32 || t->dtype == SG_FLOAT64) return SG_OK;
  return sg_error(SG_ERR_ARG, "%s: dtype %s is not supported by the CUDA kernel (float32/float64)",
                  op, sg_dtype_name(t->dtype));
}

// ---------------- max pool ----------------

template <typename T>
__global__ void maxpool_k(T *out, int64_t *ind, const T *x, sg_pool2d_geom g, int64_t total) {
  const int64_t IH = g.ih, IW = g.iw, OH = g.oh, OW = g.ow;
  GRID_LOOP(t, total) {
    int64_t ow = t % OW, r = t / OW, oh = r % OH, p = r / OH;
    const T *xp = x + p * IH * IW;
    int64_t ih0 = oh * g.sh - g.ph;
    const int64_t ih1 = dmin(ih0 + (g.kh - 1) * g.dh + 1, IH);
    if (ih0 < 0) ih0 += ((-ih0 + g.dh - 1) / g.dh) * g.dh;  // the CPU's `while (ih0 < 0) ih0 += DH`
    int64_t iw0 = ow * g.sw - g.pw;
    const int64_t iw1 = dmin(iw0 + (g.kw - 1) * g.dw + 1, IW);
    if (iw0 < 0) iw0 += ((-iw0 + g.dw - 1) / g.dw) * g.dw;
    int64_t mi = ih0 * IW + iw0;
    T mv = (T)-INFINITY;
    for (int64_t ih = ih0; ih < ih1; ih += g.dh)
      for (int64_t iw = iw0; iw < iw1; iw += g.dw) {
        const T v = xp[ih * IW + iw];
        if (v > mv || v != v) {  // NaN wins (the last NaN, as the CPU loop)
          mv = v;
          mi = ih * IW + iw;
        }
      }
    out[t] = mv;
    ind[t] = mi;
  }
}

static sg_status cuda_max_pool2d(sg_tensor *out, sg_tensor *indices, const sg_tensor *x,
                                 const sg_pool2d_geom *g) {
  if (float_only("max_pool2d", x)) return sg_last_status();
  int64_t total = g->planes * g->oh * g->ow;
  if (total == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  if (x->dtype == SG_FLOAT32)
    maxpool_k<float><<<grid_for(total), 256, 0, st>>>(dptr<float>(out), dptr<int64_t>(indices),
                                                         dptr<float>(x), *g, total);
  else
    maxpool_k<double><<<grid_for(total), 256, 0, st>>>(
        dptr<double>(out), dptr<int64_t>(indices), dptr<double>(x), *g, total);
  return SG_CUDA_LAUNCH_CHECK("max_pool2d kernel");
}

// ---------------- index scatter / gather within planes ----------------

// target of src element k of plane p: p * dplane + idx (skip when outside)
__global__ void plane_targets_k(uint64_t *tg, const int64_t *idx, int64_t n, int64_t splane,
                                int64_t dplane, uint64_t skip) {
  GRID_LOOP(i, n) {
    int64_t p = i / splane, j = idx[i];
    tg[i] = (j >= 0 && j < dplane) ? (uint64_t)(p * dplane + j) : skip;
  }
}

static sg_status cuda_index_scatter_add(sg_tensor *dst, const sg_tensor *src, const sg_tensor *idx,
                                        int64_t planes) {
  if (float_only("max_pool2d backward", dst)) return sg_last_status();
  if (planes <= 0) return SG_OK;
  int64_t dn = sg_numel(dst), n = sg_numel(src);
  int64_t dplane = dn / planes, splane = n / planes;
  cudaStream_t st = sg_cuda_stream();
  if (dn > 0) SG_CUDA_TRY(cudaMemsetAsync(dptr<char>(dst), 0, (size_t)dn * sg_dtype_size(dst->dtype), st));
  if (n == 0 || dn == 0) return SG_OK;
  DevBuf tg;
  sg_status s = tg.alloc(sizeof(uint64_t) * (size_t)n);
  if (s != SG_OK) return s;
  uint64_t skip = (uint64_t)dn;
  plane_targets_k<<<grid_for(n), 256, 0, st>>>(tg.as<uint64_t>(), dptr<int64_t>(idx), n, splane,
                                                 dplane, skip);
  s = SG_CUDA_LAUNCH_CHECK("max_pool2d backward targets kernel");
  if (s != SG_OK) return s;
  return scatter_by_target(dptr<void>(dst), dst->dtype, dptr<void>(src), tg.as<uint64_t>(),
                                 skip, n, SCATTER_ADD);
}

template <typename T>
__global__ void plane_gather_k(T *d, const T *s, const int64_t *idx, int64_t n, int64_t dplane,
                               int64_t splane) {
  GRID_LOOP(i, n) {
    int64_t p = i / dplane, j = idx[i];
    d[i] = (j >= 0 && j < splane) ? s[p * splane + j] : (T)0;
  }
}

static sg_status cuda_index_gather(sg_tensor *dst, const sg_tensor *src, const sg_tensor *idx,
                                   int64_t planes) {
  if (float_only("max_pool2d double backward", dst)) return sg_last_status();
  if (planes <= 0) return SG_OK;
  int64_t n = sg_numel(dst), dplane = n / planes, splane = sg_numel(src) / planes;
  if (n == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  if (dst->dtype == SG_FLOAT32)
    plane_gather_k<float><<<grid_for(n), 256, 0, st>>>(dptr<float>(dst), dptr<float>(src),
                                                         dptr<int64_t>(idx), n, dplane, splane);
  else
    plane_gather_k<double><<<grid_for(n), 256, 0, st>>>(dptr<double>(dst), dptr<double>(src),
                                                          dptr<int64_t>(idx), n, dplane, splane);
  return SG_CUDA_LAUNCH_CHECK("max_pool2d double backward kernel");
}

// ---------------- avg pool ----------------

// The CPU's avg_window: output (oh, ow)'s window clipped to the input and
// its divisor; false for an empty window.
__device__ __forceinline__ bool avg_window(const sg_pool2d_geom &g, int64_t oh, int64_t ow,
                                           int64_t *h0, int64_t *h1, int64_t *w0, int64_t *w1,
                                           int64_t *div) {
  int64_t hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
  int64_t he = dmin(hs + g.kh, g.ih + g.ph), we = dmin(ws + g.kw, g.iw + g.pw);
  int64_t pool = (he - hs) * (we - ws);
  hs = dmax(hs, 0);
  ws = dmax(ws, 0);
  he = dmin(he, g.ih);
  we = dmin(we, g.iw);
  if (hs >= he || ws >= we) return false;
  *h0 = hs;
  *h1 = he;
  *w0 = ws;
  *w1 = we;
  *div = g.count_include_pad ? pool : (he - hs) * (we - ws);
  return true;
}

template <typename T>
__global__ void avgpool_k(T *out, const T *x, sg_pool2d_geom g, int64_t total) {
  GRID_LOOP(t, total) {
    int64_t ow = t % g.ow, r = t / g.ow, oh = r % g.oh, p = r / g.oh;
    int64_t h0, h1, w0, w1, div;
    if (!avg_window(g, oh, ow, &h0, &h1, &w0, &w1, &div)) {
      out[t] = (T)0;
      continue;
    }
    const T *xp = x + p * g.ih * g.iw;
    double s = 0;
    for (int64_t h = h0; h < h1; h++)
      for (int64_t w = w0; w < w1; w++) s += (double)xp[h * g.iw + w];
    out[t] = (T)(s / (double)div);
  }
}

// dx[p, h, w] = sum over the windows holding (h, w), in (oh, ow) order, of
// dy / div (the CPU adds the same terms in the same order).
template <typename T>
__global__ void avgpool_bwd_k(T *dx, const T *dy, sg_pool2d_geom g, int64_t total) {
  GRID_LOOP(t, total) {
    int64_t w = t % g.iw, r = t / g.iw, h = r % g.ih, p = r / g.ih;
    const T *gp = dy + p * g.oh * g.ow;
    int64_t oh0 = dmax(floordiv(h + g.ph - g.kh, g.sh), 0), oh1 = dmin(floordiv(h + g.ph, g.sh), g.oh - 1);
    int64_t ow0 = dmax(floordiv(w + g.pw - g.kw, g.sw), 0), ow1 = dmin(floordiv(w + g.pw, g.sw), g.ow - 1);
    T acc = (T)0;
    for (int64_t oh = oh0; oh <= oh1; oh++)
      for (int64_t ow = ow0; ow <= ow1; ow++) {
        int64_t h0, h1, w0, w1, div;
        if (!avg_window(g, oh, ow, &h0, &h1, &w0, &w1, &div)) continue;
        if (h < h0 || h >= h1 || w < w0 || w >= w1) continue;
        acc = add_rn(acc, gp[oh * g.ow + ow] / (T)div);
      }
    dx[t] = acc;
  }
}

static sg_status cuda_avg_pool2d(sg_tensor *out, const sg_tensor *x, const sg_pool2d_geom *g) {
  if (float_only("avg_pool2d", x)) return sg_last_status();
  int64_t total = g->planes * g->oh * g->ow;
  if (total == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  if (x->dtype == SG_FLOAT32)
    avgpool_k<float><<<grid_for(total), 256, 0, st>>>(dptr<float>(out), dptr<float>(x), *g, total);
  else
    avgpool_k<double><<<grid_for(total), 256, 0, st>>>(dptr<double>(out), dptr<double>(x), *g,
                                                         total);
  return SG_CUDA_LAUNCH_CHECK("avg_pool2d kernel");
}

static sg_status cuda_avg_pool2d_backward(sg_tensor *dx, const sg_tensor *dy,
                                          const sg_pool2d_geom *g) {
  if (float_only("avg_pool2d backward", dx)) return sg_last_status();
  int64_t total = g->planes * g->ih * g->iw;
  if (total == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  if (dx->dtype == SG_FLOAT32)
    avgpool_bwd_k<float><<<grid_for(total), 256, 0, st>>>(dptr<float>(dx), dptr<float>(dy), *g,
                                                            total);
  else
    avgpool_bwd_k<double><<<grid_for(total), 256, 0, st>>>(dptr<double>(dx), dptr<double>(dy),
                                                             *g, total);
  return SG_CUDA_LAUNCH_CHECK("avg_pool2d backward kernel");
}

// ---------------- adaptive avg pool ----------------

// PyTorch: start = floor(o * in / out), end = ceil((o + 1) * in / out).
__device__ __forceinline__ int64_t ad_start(int64_t o, int64_t out, int64_t in) {
  return (o * in) / out;
}
__device__ __forceinline__ int64_t ad_end(int64_t o, int64_t out, int64_t in) {
  return ((o + 1) * in + out - 1) / out;
}

template <typename T>
__global__ void adaptive_k(T *out, const T *x, sg_pool2d_geom g, int64_t total) {
  GRID_LOOP(t, total) {
    int64_t ow = t % g.ow, r = t / g.ow, oh = r % g.oh, p = r / g.oh;
    const T *xp = x + p * g.ih * g.iw;
    const int64_t h0 = ad_start(oh, g.oh, g.ih), h1 = ad_end(oh, g.oh, g.ih);
    const int64_t w0 = ad_start(ow, g.ow, g.iw), w1 = ad_end(ow, g.ow, g.iw);
    double s = 0;
    for (int64_t h = h0; h < h1; h++)
      for (int64_t w = w0; w < w1; w++) s += (double)xp[h * g.iw + w];
    out[t] = (T)(s / (double)((h1 - h0) * (w1 - w0)));
  }
}

template <typename T>
__global__ void adaptive_bwd_k(T *dx, const T *dy, sg_pool2d_geom g, int64_t total) {
  GRID_LOOP(t, total) {
    int64_t w = t % g.iw, r = t / g.iw, h = r % g.ih, p = r / g.ih;
    const T *gp = dy + p * g.oh * g.ow;
    // candidate windows (a superset; membership is checked)
    int64_t oh0 = dmax((h * g.oh) / g.ih - 1, 0);
    int64_t oh1 = dmin(((h + 1) * g.oh + g.ih - 1) / g.ih, g.oh - 1);
    int64_t ow0 = dmax((w * g.ow) / g.iw - 1, 0);
    int64_t ow1 = dmin(((w + 1) * g.ow + g.iw - 1) / g.iw, g.ow - 1);
    T acc = (T)0;
    for (int64_t oh = oh0; oh <= oh1; oh++) {
      const int64_t h0 = ad_start(oh, g.oh, g.ih), h1 = ad_end(oh, g.oh, g.ih);
      if (h < h0 || h >= h1) continue;
      for (int64_t ow = ow0; ow <= ow1; ow++) {
        const int64_t w0 = ad_start(ow, g.ow, g.iw), w1 = ad_end(ow, g.ow, g.iw);
        if (w < w0 || w >= w1) continue;
        acc = add_rn(acc, gp[oh * g.ow + ow] / (T)((h1 - h0) * (w1 - w0)));
      }
    }
    dx[t] = acc;
  }
}

static sg_status cuda_adaptive_avg_pool2d(sg_tensor *out, const sg_tensor *x,
                                          const sg_pool2d_geom *g) {
  if (float_only("adaptive_avg_pool2d", x)) return sg_last_status();
  int64_t total = g->planes * g->oh * g->ow;
  if (total == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  if (x->dtype == SG_FLOAT32)
    adaptive_k<float><<<grid_for(total), 256, 0, st>>>(dptr<float>(out), dptr<float>(x), *g,
                                                         total);
  else
    adaptive_k<double><<<grid_for(total), 256, 0, st>>>(dptr<double>(out), dptr<double>(x), *g,
                                                          total);
  return SG_CUDA_LAUNCH_CHECK("adaptive_avg_pool2d kernel");
}

static sg_status cuda_adaptive_avg_pool2d_backward(sg_tensor *dx, const sg_tensor *dy,
                                                   const sg_pool2d_geom *g) {
  if (float_only("adaptive_avg_pool2d backward", dx)) return sg_last_status();
  int64_t total = g->planes * g->ih * g->iw;
  if (total == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  if (dx->dtype == SG_FLOAT32)
    adaptive_bwd_k<float><<<grid_for(total), 256, 0, st>>>(dptr<float>(dx), dptr<float>(dy), *g,
                                                             total);
  else
    adaptive_bwd_k<double><<<grid_for(total), 256, 0, st>>>(dptr<double>(dx), dptr<double>(dy),
                                                              *g, total);
  return SG_CUDA_LAUNCH_CHECK("adaptive_avg_pool2d backward kernel");
}

extern "C" const struct sg_pool_kernels sg_cuda_pool_kernels = {
    .max_pool2d = cuda_max_pool2d,
    .index_scatter_add = cuda_index_scatter_add,
    .index_gather = cuda_index_gather,
    .avg_pool2d = cuda_avg_pool2d,
    .avg_pool2d_backward = cuda_avg_pool2d_backward,
    .adaptive_avg_pool2d = cuda_adaptive_avg_pool2d,
    .adaptive_avg_pool2d_backward = cuda_adaptive_avg_pool2d_backward,
};
