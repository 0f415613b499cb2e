// Copies and fill for the CUDA backend (backend.copy / backend.fill).
//
// copy(dst, src): same shape, any strides, dtype converted, either side on
// the host or the device:
//  - device -> device: cudaMemcpyAsync when both are contiguous with one
//    dtype, else a strided converting kernel;
//  - host -> device: contiguous bytes are uploaded (through pinned staging
//    buffers when large), then converted / scattered on the device if dst
//    needs it. A broadcast source (stride 0) is uploaded compactly and
//    expanded on the device;
//  - device -> host: the source is made contiguous in dst's dtype on the
//    device, downloaded, and scattered on the host if dst is strided.
#include <pthread.h>
#include <math.h>
#include <string.h>

#include "cuda/cuda_kernels.cuh"
extern "C" {
#include "internal/backend.h"
}

using namespace sgcuda;

// ---------------- raw transfers ----------------

#define STAGE_MIN ((size_t)1 << 20)    // smaller uploads go straight
#define STAGE_CHUNK ((size_t)4 << 20)  // size of each pinned buffer

static struct {
  pthread_mutex_t lock;
  bool ready, failed;
  void *buf[2];
  cudaEvent_t done[2];  // recorded after the upload that read buf[k]
} stage = {PTHREAD_MUTEX_INITIALIZER, false, false, {NULL, NULL}, {NULL, NULL}};

// Allocates the two pinned buffers once. Lock held. false: staging is not
// possible (the caller falls back to a plain copy).
static bool stage_init(void) {
  if (stage.ready) return true;
  if (stage.failed) return false;
  for (int k = 0; k < 2; k++) {
    if (cudaHostAlloc(&stage.buf[k], STAGE_CHUNK, cudaHostAllocDefault) != cudaSuccess ||
        cudaEventCreateWithFlags(&stage.done[k], cudaEventDisableTiming) != cudaSuccess) {
      (void)cudaGetLastError();
      stage.failed = true;  // pinned memory is a nicety: do without it
      return false;
    }
  }
  stage.ready = true;
  return true;
}

extern "C" sg_status sg_cuda_memcpy_h2d(void *dst, const void *src, size_t nbytes) {
  if (nbytes == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  if (nbytes >= STAGE_MIN) {
    pthread_mutex_lock(&stage.lock);
    if (stage_init()) {
      // Double buffering: fill one pinned buffer while the other uploads.
      sg_status s = SG_OK;
      size_t off = 0;
      int k = 0;
      while (off < nbytes && s == SG_OK) {
        size_t len = nbytes - off < STAGE_CHUNK ? nbytes - off : STAGE_CHUNK;
        s = SG_CUDA_CHECK(cudaEventSynchronize(stage.done[k]));
        if (s != SG_OK) break;
        memcpy(stage.buf[k], (const char *)src + off, len);
        s = SG_CUDA_CHECK(cudaMemcpyAsync((char *)dst + off, stage.buf[k], len,
                                          cudaMemcpyHostToDevice, st));
        if (s == SG_OK) s = SG_CUDA_CHECK(cudaEventRecord(stage.done[k], st));
        off += len;
        k ^= 1;
      }
      pthread_mutex_unlock(&stage.lock);
      return s;
    }
    pthread_mutex_unlock(&stage.lock);
  }
  // From pageable memory the call returns once src has been read.
  return SG_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, st));
}

extern "C" sg_status sg_cuda_memcpy_d2h(void *dst, const void *src, size_t nbytes) {
  if (nbytes == 0) return SG_OK;
  cudaStream_t st = sg_cuda_stream();
  SG_CUDA_TRY(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, st));
  return SG_CUDA_CHECK(cudaStreamSynchronize(st));
}

// ---------------- device kernels ----------------

template <int DD, int DS, typename I>
__global__ void copy_kernel(typename dtype_of<DD>::type *dst,
                            const typename dtype_of<DS>::type *src, Geom<2> g, I n) {
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I off[2];
    geom_offsets<2, I>(g, i, off);
    dst[off[0]] = convert<DD>(src[off[1]]);
  }
}

template <int DD, int DS>
__global__ void copy_flat_kernel(typename dtype_of<DD>::type *dst,
                                 const typename dtype_of<DS>::type *src, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    dst[i] = convert<DD>(src[i]);
}

template <int DD, int DS>
static sg_status launch_copy(sg_tensor *dst, const sg_tensor *src) {
  typedef typename dtype_of<DD>::type TD;
  typedef typename dtype_of<DS>::type TS;
  int64_t n = sg_numel(dst);
  Geom<2> g;
  sg_tensor *ts[2] = {dst, (sg_tensor *)src};
  bool small = make_geom<2>(&g, ts, dst->shape, dst->ndim);
  cudaStream_t st = sg_cuda_stream();
  if (geom_flat(g))
    copy_flat_kernel<DD, DS><<<grid_for(n), kThreads, 0, st>>>(dptr<TD>(dst), dptr<TS>(src), n);
  else if (small)
    copy_kernel<DD, DS, int32_t>
        <<<grid_for(n), kThreads, 0, st>>>(dptr<TD>(dst), dptr<TS>(src), g, (int32_t)n);
  else
    copy_kernel<DD, DS, int64_t>
        <<<grid_for(n), kThreads, 0, st>>>(dptr<TD>(dst), dptr<TS>(src), g, n);
  return SG_CUDA_LAUNCH_CHECK("copy_kernel");
}

// dst <- src, both on the device, same shape.
static sg_status device_copy(sg_tensor *dst, const sg_tensor *src) {
  int64_t n = sg_numel(dst);
  if (n == 0) return SG_OK;
  if (dst->dtype == src->dtype && sg_is_contiguous(dst) && sg_is_contiguous(src)) {
    if (sg_data_ptr(dst) == sg_data_ptr(src)) return SG_OK;
    return SG_CUDA_CHECK(cudaMemcpyAsync(sg_data_ptr(dst), sg_data_ptr(src),
                                         (size_t)n * sg_dtype_size(dst->dtype),
                                         cudaMemcpyDeviceToDevice, sg_cuda_stream()));
  }
  SG_CUDA_DTYPE_SWITCH(dst->dtype, DD, SG_CUDA_DTYPE_SWITCH(src->dtype, DS,
                                                            return launch_copy<DD, DS>(dst, src)))
  return sg_error(SG_ERR_ARG, "copy: unsupported dtypes %s -> %s", sg_dtype_name(src->dtype),
                  sg_dtype_name(dst->dtype));
}

// The compact form of a broadcast view: dims of stride 0 get size 1.
static sg_tensor *compact_view(const sg_tensor *t) {
  int64_t shape[SG_MAX_DIMS];
  for (int d = 0; d < t->ndim; d++) shape[d] = t->strides[d] == 0 ? 1 : t->shape[d];
  return sg_alias(t, shape, t->strides, t->ndim, t->offset);
}

// A view of contiguous `c` (compact shape) broadcast to `shape`.
static sg_tensor *expand_view(const sg_tensor *c, const int64_t *shape, int ndim) {
  int64_t st[SG_MAX_DIMS];
  sg_broadcast_strides(c, shape, ndim, st);
  return sg_alias(c, shape, st, ndim, c->offset);
}

static sg_status host_to_device(sg_tensor *dst, const sg_tensor *src) {
  size_t nbytes = (size_t)sg_numel(dst) * sg_dtype_size(src->dtype);
  if (nbytes == 0) return SG_OK;
  if (dst->dtype == src->dtype && sg_is_contiguous(dst) && sg_is_contiguous(src))
    return sg_cuda_memcpy_h2d(sg_data_ptr(dst), sg_data_ptr(src), nbytes);
  // Upload src's compact contiguous form in its own dtype, then convert,
  // expand and scatter on the device.
  sg_status s = SG_OK;
  sg_tensor *cv = NULL, *hc = NULL, *dc = NULL, *ev = NULL;
  cv = compact_view(src);
  if (cv) hc = sg_as_contiguous_dtype(cv, src->dtype);  // host, CPU backend
  if (hc) dc = sg_empty(hc->shape, hc->ndim, hc->dtype, dst->storage->device);
  if (!dc) s = sg_last_status();
  if (s == SG_OK)
    s = sg_cuda_memcpy_h2d(sg_data_ptr(dc), sg_data_ptr(hc),
                           (size_t)sg_numel(hc) * sg_dtype_size(hc->dtype));
  if (s == SG_OK) {
    ev = expand_view(dc, dst->shape, dst->ndim);
    s = ev ? device_copy(dst, ev) : sg_last_status();
  }
  sg_release(ev);
  sg_release(dc);  // stream-ordered: the kernel reading it runs first
  sg_release(hc);
  sg_release(cv);
  return s;
}

static sg_status device_to_host(sg_tensor *dst, const sg_tensor *src) {
  int64_t n = sg_numel(dst);
  if (n == 0) return SG_OK;
  if (dst->dtype == src->dtype && sg_is_contiguous(dst) && sg_is_contiguous(src))
    return sg_cuda_memcpy_d2h(sg_data_ptr(dst), sg_data_ptr(src),
                              (size_t)n * sg_dtype_size(dst->dtype));
  // Make src's compact form contiguous in dst's dtype on the device,
  // download it, then expand / scatter on the host.
  sg_status s = SG_OK;
  sg_tensor *cv = NULL, *dc = NULL, *hc = NULL, *ev = NULL;
  cv = compact_view(src);
  if (cv) dc = sg_empty(cv->shape, cv->ndim, dst->dtype, src->storage->device);
  if (!dc) s = sg_last_status();
  if (s == SG_OK) s = device_copy(dc, cv);
  bool direct = s == SG_OK && sg_is_contiguous(dst) && sg_numel(dc) == n;
  if (direct)
    s = sg_cuda_memcpy_d2h(sg_data_ptr(dst), sg_data_ptr(dc),
                           (size_t)n * sg_dtype_size(dst->dtype));
  else if (s == SG_OK) {
    hc = sg_empty(dc->shape, dc->ndim, dc->dtype, sg_cpu_device());
    s = hc ? sg_cuda_memcpy_d2h(sg_data_ptr(hc), sg_data_ptr(dc),
                                (size_t)sg_numel(dc) * sg_dtype_size(dc->dtype))
           : sg_last_status();
    if (s == SG_OK) {
      ev = expand_view(hc, dst->shape, dst->ndim);
      s = ev ? sg_cpu_backend.copy(dst, ev) : sg_last_status();
    }
  }
  sg_release(ev);
  sg_release(hc);
  sg_release(dc);
  sg_release(cv);
  return s;
}

extern "C" sg_status sg_cuda_copy(sg_tensor *dst, const sg_tensor *src) {
  sg_device dd = dst->storage->device, sd = src->storage->device;
  if (dd.type == SG_CUDA && sg_cuda_check_device("copy", dd) != SG_OK) return sg_last_status();
  if (sd.type == SG_CUDA && sg_cuda_check_device("copy", sd) != SG_OK) return sg_last_status();
  if (dd.type == SG_CUDA && sd.type == SG_CUDA) return device_copy(dst, src);
  if (dd.type == SG_CUDA && sd.type == SG_CPU) return host_to_device(dst, src);
  if (dd.type == SG_CPU && sd.type == SG_CUDA) return device_to_host(dst, src);
  return sg_error(SG_ERR_UNSUPPORTED, "copy: the CUDA backend cannot copy %s -> %s",
                  sg_device_name(sd), sg_device_name(dd));
}

// ---------------- fill ----------------

template <typename T, typename I>
__global__ void fill_kernel(T *dst, T v, Geom<1> g, I n) {
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I off[1];
    geom_offsets<1, I>(g, i, off);
    dst[off[0]] = v;
  }
}

template <typename T>
__global__ void fill_flat_kernel(T *dst, T v, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    dst[i] = v;
}

template <typename T>
static sg_status launch_fill(sg_tensor *t, T v) {
  int64_t n = sg_numel(t);
  Geom<1> g;
  bool small = make_geom<1>(&g, &t, t->shape, t->ndim);
  cudaStream_t st = sg_cuda_stream();
  if (geom_flat(g))
    fill_flat_kernel<T><<<grid_for(n), kThreads, 0, st>>>(dptr<T>(t), v, n);
  else if (small)
    fill_kernel<T, int32_t><<<grid_for(n), kThreads, 0, st>>>(dptr<T>(t), v, g, (int32_t)n);
  else
    fill_kernel<T, int64_t><<<grid_for(n), kThreads, 0, st>>>(dptr<T>(t), v, g, n);
  return SG_CUDA_LAUNCH_CHECK("fill_kernel");
}

extern "C" sg_status sg_cuda_fill(sg_tensor *t, double value) {
  if (sg_cuda_check_device("fill_", t->storage->device) != SG_OK) return sg_last_status();
  int64_t n = sg_numel(t);
  if (n == 0) return SG_OK;
  // All-zero bytes: a memset when the tensor is one block.
  if (value == 0 && !signbit(value) && sg_is_contiguous(t))
    return SG_CUDA_CHECK(cudaMemsetAsync(sg_data_ptr(t), 0, (size_t)n * sg_dtype_size(t->dtype),
                                         sg_cuda_stream()));
  switch (t->dtype) {
    case SG_FLOAT32: return launch_fill<float>(t, (float)value);
    case SG_FLOAT64: return launch_fill<double>(t, value);
    case SG_INT64: return launch_fill<int64_t>(t, sg_f2i64(value));
    case SG_UINT8: return launch_fill<uint8_t>(t, (uint8_t)sg_f2i64(value));
    case SG_BOOL: return launch_fill<uint8_t>(t, (uint8_t)(value != 0));
    default: return sg_error(SG_ERR_ARG, "fill_: invalid dtype");
  }
}
