// im2col / col2im / per-channel bias on the GPU: unfold and fold, and the
// cuBLAS fallback of the convolutions when cuDNN cannot run a geometry
// (conv_cuda.c).
//
// Column layout as conv_cpu.c: row r = (c * kh + ki) * kw + kj, column
// l = oh * Wo + ow. im2col writes one element per thread; col2im gathers:
// one thread per image pixel sums the column entries that land on it, in
// the CPU's order (ki outer, kj inner), so fold matches the CPU bit for bit
// and needs no atomics.
#include "cuda/cuda_kernels.cuh"
#include "cuda/nn_kernels_cuda.h"

namespace {

using sgcuda::grid_for;
using sgcuda::kThreads;

template <typename T, typename I>
__global__ void im2col_kernel(sg_cuda_im2col_geom g, I total, const T *__restrict__ img,
                              T *__restrict__ cols) {
  const I L = (I)(g.Ho * g.Wo), ckk = (I)(g.C * g.kh * g.kw);
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    I l = i % L, rest = i / L;
    I r = rest % ckk, n = rest / ckk;
    I ow = l % (I)g.Wo, oh = l / (I)g.Wo;
    I kj = r % (I)g.kw, ki = (r / (I)g.kw) % (I)g.kh, c = r / (I)(g.kw * g.kh);
    int64_t ih = (int64_t)oh * g.sh - g.ph + (int64_t)ki * g.dh;
    int64_t iw = (int64_t)ow * g.sw - g.pw + (int64_t)kj * g.dw;
    T v = (T)0;
    if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W)
      v = img[(((I)n * (I)g.C + c) * (I)g.H + (I)ih) * (I)g.W + (I)iw];
    cols[i] = v;
  }
}

template <typename T, typename I>
__global__ void col2im_kernel(sg_cuda_im2col_geom g, I total, const T *__restrict__ cols,
                              T *__restrict__ img) {
  const I L = (I)(g.Ho * g.Wo), ckk = (I)(g.C * g.kh * g.kw);
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    I w = i % (I)g.W, rest = i / (I)g.W;
    I h = rest % (I)g.H;
    rest /= (I)g.H;
    I c = rest % (I)g.C, n = rest / (I)g.C;
    const T *cn = cols + (I)n * ckk * L;
    T acc = (T)0;
    for (int64_t ki = 0; ki < g.kh; ki++) {
      int64_t th = (int64_t)h + g.ph - ki * g.dh;
      if (th < 0 || th % g.sh != 0) continue;
      int64_t oh = th / g.sh;
      if (oh >= g.Ho) continue;
      for (int64_t kj = 0; kj < g.kw; kj++) {
        int64_t tw = (int64_t)w + g.pw - kj * g.dw;
        if (tw < 0 || tw % g.sw != 0) continue;
        int64_t ow = tw / g.sw;
        if (ow >= g.Wo) continue;
        I r = ((I)c * (I)g.kh + (I)ki) * (I)g.kw + (I)kj;
        acc += cn[r * L + (I)oh * (I)g.Wo + (I)ow];
      }
    }
    img[i] = acc;
  }
}

template <typename T, typename I>
__global__ void add_bias_kernel(T *out, I total, I C, I HW, const T *__restrict__ b) {
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x)
    out[i] += b[(i / HW) % C];
}

const int64_t kSmall = (int64_t)1 << 31;

template <typename T>
sg_status im2col_t(const sg_cuda_im2col_geom *g, int64_t n, const void *img, void *cols) {
  int64_t total = n * g->C * g->kh * g->kw * g->Ho * g->Wo;
  int64_t in = n * g->C * g->H * g->W;
  if (total == 0) return SG_OK;
  if (total < kSmall && in < kSmall)
    im2col_kernel<T, uint32_t><<<grid_for(total), kThreads, 0, sg_cuda_stream()>>>(
        *g, (uint32_t)total, (const T *)img, (T *)cols);
  else
    im2col_kernel<T, int64_t><<<grid_for(total), kThreads, 0, sg_cuda_stream()>>>(
        *g, total, (const T *)img, (T *)cols);
  return SG_CUDA_LAUNCH_CHECK("im2col_kernel");
}

template <typename T>
sg_status col2im_t(const sg_cuda_im2col_geom *g, int64_t n, const void *cols, void *img) {
  int64_t total = n * g->C * g->H * g->W;
  int64_t nc = n * g->C * g->kh * g->kw * g->Ho * g->Wo;
  if (total == 0) return SG_OK;
  if (total < kSmall && nc < kSmall)
    col2im_kernel<T, uint32_t><<<grid_for(total), kThreads, 0, sg_cuda_stream()>>>(
        *g, (uint32_t)total, (const T *)cols, (T *)img);
  else
    col2im_kernel<T, int64_t><<<grid_for(total), kThreads, 0, sg_cuda_stream()>>>(
        *g, total, (const T *)cols, (T *)img);
  return SG_CUDA_LAUNCH_CHECK("col2im_kernel");
}

template <typename T>
sg_status bias_t(void *out, int64_t n, int64_t C, int64_t HW, const void *b) {
  int64_t total = n * C * HW;
  if (total == 0) return SG_OK;
  if (total < kSmall)
    add_bias_kernel<T, uint32_t><<<grid_for(total), kThreads, 0, sg_cuda_stream()>>>(
        (T *)out, (uint32_t)total, (uint32_t)C, (uint32_t)HW, (const T *)b);
  else
    add_bias_kernel<T, int64_t><<<grid_for(total), kThreads, 0, sg_cuda_stream()>>>(
        (T *)out, total, C, HW, (const T *)b);
  return SG_CUDA_LAUNCH_CHECK("add_bias_kernel");
}

sg_status bad_dtype(const char *what, sg_dtype dt) {
  return sg_error(SG_ERR_UNSUPPORTED, "%s: dtype %s not supported on cuda", what,
                  sg_dtype_name(dt));
}

}  // namespace

extern "C" sg_status sg_cuda_im2col(sg_dtype dt, const sg_cuda_im2col_geom *g, int64_t n,
                                    const void *img, void *cols) {
  if (dt == SG_FLOAT32) return im2col_t<float>(g, n, img, cols);
  if (dt == SG_FLOAT64) return im2col_t<double>(g, n, img, cols);
  return bad_dtype("im2col", dt);
}

extern "C" sg_status sg_cuda_col2im(sg_dtype dt, const sg_cuda_im2col_geom *g, int64_t n,
                                    const void *cols, void *img) {
  if (dt == SG_FLOAT32) return col2im_t<float>(g, n, cols, img);
  if (dt == SG_FLOAT64) return col2im_t<double>(g, n, cols, img);
  return bad_dtype("col2im", dt);
}

extern "C" sg_status sg_cuda_add_channel_bias(sg_dtype dt, void *out, int64_t n, int64_t C,
                                              int64_t HW, const void *b) {
  if (dt == SG_FLOAT32) return bias_t<float>(out, n, C, HW, b);
  if (dt == SG_FLOAT64) return bias_t<double>(out, n, C, HW, b);
  return bad_dtype("conv bias", dt);
}
