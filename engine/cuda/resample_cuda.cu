// CUDA kernels of the resample family (internal/kernels_resample.h):
// nearest / bilinear interpolation and reflect / replicate padding, each
// with its adjoint.
//
// Semantics and arithmetic follow engine/cpu/resample_cpu.c operation for
// operation (PyTorch 1.13's index and weight formulas; the same tables are
// computed on the host with the CPU's code and uploaded). The backward
// (adjoint) kernels are gathers: one thread per input element sums, in the
// CPU's order, the output elements that map to it, found through inverse
// tables built on the host. No atomics, so every result repeats bit for bit;
// products go through mul_rn so nvcc cannot contract them into FMAs the CPU
// does not use.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_kernels.cuh"
extern "C" {
#include "internal/kernels_resample.h"
}

using namespace sgcuda;

static inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

static sg_status float_only(const char *op, const sg_tensor *t) {
  if (t->dtype == SG_FLOAT32 || t->dtype == SG_FLOAT64) return SG_OK;
  return sg_error(SG_ERR_ARG, "%s: dtype %s is not supported by the CUDA kernel (float32/float64)",
                  op, sg_dtype_name(t->dtype));
}

// ---------------- interpolation ----------------

// Host tables, computed exactly as pool_cpu.c computes them.

// PyTorch's legacy 'nearest' source index (computed in float, as PyTorch).
static void nearest_table(int64_t in, int64_t out, double scale, int64_t *idx) {
  float s = scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
  for (int64_t o = 0; o < out; o++) {
    if (out == in) idx[o] = o;
    else if (out == 2 * in) idx[o] = o >> 1;
    else idx[o] = imin((int64_t)floorf((float)o * s), in - 1);
  }
}

template <typename T>
static void lin_table(int64_t in, int64_t out, bool ac, double scale, int64_t *i0, int64_t *i1,
                      T *l0, T *l1) {
  T ratio;
  if (ac) ratio = out > 1 ? (T)(in - 1) / (T)(out - 1) : (T)0;
  else ratio = scale > 0 ? (T)(1.0 / scale) : (T)in / (T)out;
  for (int64_t o = 0; o < out; o++) {
    if (out == in) {
      i0[o] = i1[o] = o;
      l0[o] = 1;
      l1[o] = 0;
      continue;
    }
    // separately rounded, as the CPU build (no contraction in host code:
    // the product is stored before the subtraction)
    volatile T prod = ac ? ratio * (T)o : ratio * ((T)o + (T)0.5);
    T real = ac ? (T)prod : (T)prod - (T)0.5;
    if (!ac && real < 0) real = 0;
    int64_t k = (int64_t)real;
    if (k > in - 1) k = in - 1;
    i0[o] = k;
    i1[o] = k + (k < in - 1 ? 1 : 0);
    T lam = real - (T)k;
    lam = lam < 0 ? (T)0 : lam > 1 ? (T)1 : lam;
    l1[o] = lam;
    l0[o] = (T)1 - lam;
  }
}

// range[2 * i], range[2 * i + 1]: the outputs o in [lo, hi) that may map to
// input i (through i0 or i1, both nondecreasing in o); lo = hi when none.
static void inverse_ranges(const int64_t *i0, const int64_t *i1, int64_t out, int64_t in,
                           int64_t *range) {
  for (int64_t i = 0; i < in; i++) {
    range[2 * i] = 0;
    range[2 * i + 1] = 0;
  }
  for (int64_t o = 0; o < out; o++) {
    int64_t a[2] = {i0[o], i1[o]};
    for (int q = 0; q < 2; q++) {
      int64_t i = a[q];
      if (i < 0 || i >= in) continue;
      if (range[2 * i] == range[2 * i + 1]) {
        range[2 * i] = o;
        range[2 * i + 1] = o + 1;
      } else {
        if (o < range[2 * i]) range[2 * i] = o;
        if (o + 1 > range[2 * i + 1]) range[2 * i + 1] = o + 1;
      }
    }
  }
}

// Device view of the uploaded tables.
template <typename T> struct InterpTab {
  const int64_t *hi0, *hi1, *wi0, *wi1;
  const int64_t *hr, *wr;  // inverse ranges (backward only)
  const T *hl0, *hl1, *wl0, *wl1;
};

// Builds and uploads the tables of g for dtype T (inverse ranges when inv).
template <typename T>
static sg_status make_tables(const sg_interp_geom *g, bool inv, DevBuf *buf, InterpTab<T> *t) {
  const int64_t OH = g->oh, OW = g->ow, IH = g->ih, IW = g->iw;
  size_t nidx = (size_t)(2 * OH + 2 * OW + (inv ? 2 * IH + 2 * IW : 0));
  size_t nw = (size_t)(2 * OH + 2 * OW);
  size_t bytes = nidx * sizeof(int64_t) + nw * sizeof(T);
  char *h = (char *)malloc(bytes + 16);
  if (!h) return sg_error(SG_ERR_MEM, "interpolate: out of memory for index tables");
  int64_t *hi0 = (int64_t *)h, *hi1 = hi0 + OH, *wi0 = hi1 + OH, *wi1 = wi0 + OW;
  int64_t *hr = wi1 + OW, *wr = hr + (inv ? 2 * IH : 0);
  T *hl0 = (T *)(h + nidx * sizeof(int64_t)), *hl1 = hl0 + OH, *wl0 = hl1 + OH, *wl1 = wl0 + OW;
  if (g->mode == SG_INTERP_NEAREST) {
    nearest_table(IH, OH, g->scale_h, hi0);
    nearest_table(IW, OW, g->scale_w, wi0);
    memcpy(hi1, hi0, sizeof(int64_t) * (size_t)OH);
    memcpy(wi1, wi0, sizeof(int64_t) * (size_t)OW);
    for (int64_t o = 0; o < OH; o++) hl0[o] = 1, hl1[o] = 0;
    for (int64_t o = 0; o < OW; o++) wl0[o] = 1, wl1[o] = 0;
  } else {
    lin_table<T>(IH, OH, g->align_corners, g->scale_h, hi0, hi1, hl0, hl1);
    lin_table<T>(IW, OW, g->align_corners, g->scale_w, wi0, wi1, wl0, wl1);
  }
  if (inv) {
    inverse_ranges(hi0, hi1, OH, IH, hr);
    inverse_ranges(wi0, wi1, OW, IW, wr);
  }
  sg_status s = upload(buf, h, bytes);
  free(h);
  if (s != SG_OK) return s;
  const int64_t *d = buf->as<int64_t>();
  t->hi0 = d;
  t->hi1 = d + OH;
  t->wi0 = d + 2 * OH;
  t->wi1 = d + 2 * OH + OW;
  t->hr = d + 2 * OH + 2 * OW;
  t->wr = t->hr + (inv ? 2 * IH : 0);
  const T *dw = (const T *)(buf->as<char>() + nidx * sizeof(int64_t));
  t->hl0 = dw;
  t->hl1 = dw + OH;
  t->wl0 = dw + 2 * OH;
  t->wl1 = dw + 2 * OH + OW;
  return SG_OK;
}

template <typename T>
__global__ void interp_fwd_k(T *out, const T *x, InterpTab<T> t, int64_t IH, int64_t IW,
                             int64_t OH, int64_t OW, bool nearest, int64_t total) {
  GRID_LOOP(e, total) {
    int64_t ow = e % OW, r = e / OW, oh = r % OH, p = r / OH;
    const T *xp = x + p * IH * IW;
    if (nearest) {
      out[e] = xp[t.hi0[oh] * IW + t.wi0[ow]];
      continue;
    }
    const T *x0 = xp + t.hi0[oh] * IW, *x1 = xp + t.hi1[oh] * IW;
    const int64_t w0 = t.wi0[ow], w1 = t.wi1[ow];
    const T l0 = t.wl0[ow], l1 = t.wl1[ow];
    // width first, then height (the CPU's and PyTorch's order)
    T r0 = add_rn(mul_rn(x0[w0], l0), mul_rn(x0[w1], l1));
    T r1 = add_rn(mul_rn(x1[w0], l0), mul_rn(x1[w1], l1));
    out[e] = add_rn(mul_rn(r0, t.hl0[oh]), mul_rn(r1, t.hl1[oh]));
  }
}

// nearest adjoint: dx[p, h, w] = sum of dy[p, oh, ow] over hi0[oh] == h,
// wi0[ow] == w, in (oh, ow) order
template <typename T>
__global__ void interp_bwd_nearest_k(T *dx, const T *dy, InterpTab<T> t, int64_t IH, int64_t IW,
                                     int64_t OH, int64_t OW, int64_t total) {
  GRID_LOOP(e, total) {
    int64_t w = e % IW, r = e / IW, h = r % IH, p = r / IH;
    const T *gp = dy + p * OH * OW;
    T acc = (T)0;
    for (int64_t oh = t.hr[2 * h]; oh < t.hr[2 * h + 1]; oh++) {
      if (t.hi0[oh] != h) continue;
      for (int64_t ow = t.wr[2 * w]; ow < t.wr[2 * w + 1]; ow++)
        if (t.wi0[ow] == w) acc = add_rn(acc, gp[oh * OW + ow]);
    }
    dx[e] = acc;
  }
}

// bilinear adjoint, vertical pass: tmp[p, h, ow] = sum over oh (in order) of
// dy * hl0 where hi0 == h, then dy * hl1 where hi1 == h
template <typename T>
__global__ void interp_bwd_v_k(T *tmp, const T *dy, InterpTab<T> t, int64_t IH, int64_t OH,
                               int64_t OW, int64_t total) {
  GRID_LOOP(e, total) {
    int64_t ow = e % OW, r = e / OW, h = r % IH, p = r / IH;
    const T *gp = dy + p * OH * OW + ow;
    T acc = (T)0;
    for (int64_t oh = t.hr[2 * h]; oh < t.hr[2 * h + 1]; oh++) {
      T gv = gp[oh * OW];
      if (t.hi0[oh] == h) acc = add_rn(acc, mul_rn(gv, t.hl0[oh]));
      if (t.hi1[oh] == h) acc = add_rn(acc, mul_rn(gv, t.hl1[oh]));
    }
    tmp[e] = acc;
  }
}

// horizontal pass: dx[p, h, w] = sum over ow (in order) of tmp * wl0 where
// wi0 == w, then tmp * wl1 where wi1 == w
template <typename T>
__global__ void interp_bwd_h_k(T *dx, const T *tmp, InterpTab<T> t, int64_t IH, int64_t IW,
                               int64_t OW, int64_t total) {
  GRID_LOOP(e, total) {
    int64_t w = e % IW, r = e / IW;  // r = p * IH + h
    const T *tr = tmp + r * OW;
    T acc = (T)0;
    for (int64_t ow = t.wr[2 * w]; ow < t.wr[2 * w + 1]; ow++) {
      T v = tr[ow];
      if (t.wi0[ow] == w) acc = add_rn(acc, mul_rn(v, t.wl0[ow]));
      if (t.wi1[ow] == w) acc = add_rn(acc, mul_rn(v, t.wl1[ow]));
    }
    dx[e] = acc;
  }
  (void)IH;
}

template <typename T>
static sg_status interp_fwd(sg_tensor *out, const sg_tensor *x, const sg_interp_geom *g) {
  int64_t total = g->planes * g->oh * g->ow;
  if (total == 0) return SG_OK;
  DevBuf buf;
  InterpTab<T> t;
  sg_status s = make_tables<T>(g, false, &buf, &t);
  if (s != SG_OK) return s;
  interp_fwd_k<T><<<grid_for(total), 256, 0, sg_cuda_stream()>>>(
      dptr<T>(out), dptr<T>(x), t, g->ih, g->iw, g->oh, g->ow, g->mode == SG_INTERP_NEAREST, total);
  return SG_CUDA_LAUNCH_CHECK("interpolate kernel");
}

template <typename T>
static sg_status interp_bwd(sg_tensor *dx, const sg_tensor *dy, const sg_interp_geom *g) {
  const int64_t P = g->planes, IH = g->ih, IW = g->iw, OH = g->oh, OW = g->ow;
  int64_t total = P * IH * IW;
  if (total == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  if (OH * OW == 0) return SG_CUDA_CHECK(cudaMemsetAsync(dptr<T>(dx), 0, sizeof(T) * (size_t)total, st));
  DevBuf buf;
  InterpTab<T> t;
  sg_status s = make_tables<T>(g, true, &buf, &t);
  if (s != SG_OK) return s;
  if (g->mode == SG_INTERP_NEAREST) {
    interp_bwd_nearest_k<T><<<grid_for(total), 256, 0, st>>>(dptr<T>(dx), dptr<T>(dy), t, IH, IW,
                                                               OH, OW, total);
    return SG_CUDA_LAUNCH_CHECK("interpolate backward kernel");
  }
  DevBuf tmp;
  int64_t nt = P * IH * OW;
  s = tmp.alloc(sizeof(T) * (size_t)nt);
  if (s != SG_OK) return s;
  interp_bwd_v_k<T><<<grid_for(nt), 256, 0, st>>>(tmp.as<T>(), dptr<T>(dy), t, IH, OH, OW, nt);
  s = SG_CUDA_LAUNCH_CHECK("interpolate backward kernel (vertical)");
  if (s != SG_OK) return s;
  interp_bwd_h_k<T><<<grid_for(total), 256, 0, st>>>(dptr<T>(dx), tmp.as<T>(), t, IH, IW, OW,
                                                       total);
  return SG_CUDA_LAUNCH_CHECK("interpolate backward kernel (horizontal)");
}

static sg_status cuda_interpolate(sg_tensor *out, const sg_tensor *x, const sg_interp_geom *g) {
  if (float_only("interpolate", x)) return sg_last_status();
  return x->dtype == SG_FLOAT32 ? interp_fwd<float>(out, x, g) : interp_fwd<double>(out, x, g);
}

static sg_status cuda_interpolate_backward(sg_tensor *dx, const sg_tensor *dy,
                                           const sg_interp_geom *g) {
  if (float_only("interpolate backward", dx)) return sg_last_status();
  return dx->dtype == SG_FLOAT32 ? interp_bwd<float>(dx, dy, g) : interp_bwd<double>(dx, dy, g);
}

// ---------------- reflect / replicate padding ----------------

// The CPU's pad_source: source index along a padded dim for output o.
__host__ __device__ __forceinline__ int64_t pad_source(int64_t o, int64_t before, int64_t n,
                                                       sg_pad_mode mode) {
  int64_t i = o - before;
  if (mode == SG_PAD_REFLECT && n > 1) {
    int64_t period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    if (i >= n) i = period - i;
  }
  i = i > 0 ? i : 0;
  return i < n - 1 ? i : n - 1;
}

// Forward: a gather, for every element size (any dtype).
template <typename E>
__global__ void pad_fwd_k(E *out, const E *x, sg_pad_geom g, int64_t total) {
  GRID_LOOP(e, total) {
    int64_t o2 = e % g.out[2], r = e / g.out[2];
    int64_t o1 = r % g.out[1];
    r /= g.out[1];
    int64_t o0 = r % g.out[0], p = r / g.out[0];
    int64_t s0 = pad_source(o0, g.before[0], g.in[0], g.mode);
    int64_t s1 = pad_source(o1, g.before[1], g.in[1], g.mode);
    int64_t s2 = pad_source(o2, g.before[2], g.in[2], g.mode);
    out[e] = x[((p * g.in[0] + s0) * g.in[1] + s1) * g.in[2] + s2];
  }
}

static sg_status cuda_pad(sg_tensor *out, const sg_tensor *x, const sg_pad_geom *g) {
  int64_t total = sg_numel(out);
  if (total == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  switch (sg_dtype_size(x->dtype)) {
    case 1:
      pad_fwd_k<uint8_t><<<grid_for(total), 256, 0, st>>>(dptr<uint8_t>(out), dptr<uint8_t>(x), *g,
                                                            total);
      break;
    case 4:
      pad_fwd_k<uint32_t><<<grid_for(total), 256, 0, st>>>(dptr<uint32_t>(out),
                                                             dptr<uint32_t>(x), *g, total);
      break;
    case 8:
      pad_fwd_k<uint64_t><<<grid_for(total), 256, 0, st>>>(dptr<uint64_t>(out),
                                                             dptr<uint64_t>(x), *g, total);
      break;
    default: return sg_error(SG_ERR_ARG, "pad: dtype %s is not supported", sg_dtype_name(x->dtype));
  }
  return SG_CUDA_LAUNCH_CHECK("pad kernel");
}

// Inverse maps of the three padded dims in CSR form: for input index i of
// dim k, the outputs o (increasing) with pad_source(o) == i are
// list[off[i] .. off[i + 1]). Offsets of dim k start at offs[k], lists at lsts[k].
struct PadInv {
  const int64_t *off[3];
  const int64_t *lst[3];
};

template <typename T>
__global__ void pad_bwd_k(T *dx, const T *dy, sg_pad_geom g, PadInv v, int64_t total) {
  GRID_LOOP(e, total) {
    int64_t i2 = e % g.in[2], r = e / g.in[2];
    int64_t i1 = r % g.in[1];
    r /= g.in[1];
    int64_t i0 = r % g.in[0], p = r / g.in[0];
    const T *gp = dy + p * g.out[0] * g.out[1] * g.out[2];
    T acc = (T)0;
    // the CPU adds in (o0, o1, o2) order
    for (int64_t a = v.off[0][i0]; a < v.off[0][i0 + 1]; a++) {
      int64_t o0 = v.lst[0][a];
      for (int64_t b = v.off[1][i1]; b < v.off[1][i1 + 1]; b++) {
        int64_t o1 = v.lst[1][b];
        const T *row = gp + (o0 * g.out[1] + o1) * g.out[2];
        for (int64_t c = v.off[2][i2]; c < v.off[2][i2 + 1]; c++) acc = add_rn(acc, row[v.lst[2][c]]);
      }
    }
    dx[e] = acc;
  }
}

static sg_status cuda_pad_backward(sg_tensor *dx, const sg_tensor *dy, const sg_pad_geom *g) {
  if (float_only("pad backward", dx)) return sg_last_status();
  int64_t total = sg_numel(dx);
  if (total == 0) return SG_OK;
  size_t n = 0;
  for (int k = 0; k < 3; k++) n += (size_t)(g->in[k] + 1 + g->out[k]);
  int64_t *h = (int64_t *)malloc(sizeof(int64_t) * (n + 1));
  if (!h) return sg_error(SG_ERR_MEM, "pad backward: out of memory for index maps");
  size_t pos[3][2];
  size_t q = 0;
  for (int k = 0; k < 3; k++) {
    int64_t I = g->in[k], O = g->out[k];
    int64_t *off = h + q, *lst = off + I + 1;
    pos[k][0] = q;
    pos[k][1] = q + (size_t)(I + 1);
    for (int64_t i = 0; i <= I; i++) off[i] = 0;
    for (int64_t o = 0; o < O; o++) off[pad_source(o, g->before[k], I, g->mode) + 1]++;
    for (int64_t i = 0; i < I; i++) off[i + 1] += off[i];
    // fill in increasing o: a cursor per input index
    int64_t *cur = (int64_t *)malloc(sizeof(int64_t) * (size_t)(I + 1));
    if (!cur) {
      free(h);
      return sg_error(SG_ERR_MEM, "pad backward: out of memory for index maps");
    }
    for (int64_t i = 0; i < I; i++) cur[i] = off[i];
    for (int64_t o = 0; o < O; o++) lst[cur[pad_source(o, g->before[k], I, g->mode)]++] = o;
    free(cur);
    q += (size_t)(I + 1 + O);
  }
  DevBuf buf;
  sg_status s = upload(&buf, h, sizeof(int64_t) * (n + 1));
  free(h);
  if (s != SG_OK) return s;
  PadInv v;
  for (int k = 0; k < 3; k++) {
    v.off[k] = buf.as<int64_t>() + pos[k][0];
    v.lst[k] = buf.as<int64_t>() + pos[k][1];
  }
  cudaStream_t st = sg_cuda_stream();
  if (dx->dtype == SG_FLOAT32)
    pad_bwd_k<float><<<grid_for(total), 256, 0, st>>>(dptr<float>(dx), dptr<float>(dy), *g, v,
                                                        total);
  else
    pad_bwd_k<double><<<grid_for(total), 256, 0, st>>>(dptr<double>(dx), dptr<double>(dy), *g, v,
                                                         total);
  return SG_CUDA_LAUNCH_CHECK("pad backward kernel");
}

extern "C" const struct sg_resample_kernels sg_cuda_resample_kernels = {
    .interpolate = cuda_interpolate,
    .interpolate_backward = cuda_interpolate_backward,
    .pad = cuda_pad,
    .pad_backward = cuda_pad_backward,
};
