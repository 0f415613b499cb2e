/* CUDA runtime set-up: error checking, device discovery, the stream, the
 * cuBLAS / cuDNN handles, versions and the TF32 switch (sgen/cuda.h). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cuda/cuda_internal.h"

/* ---------------- error checking ---------------- */

static const char *short_file(const char *file) {
  const char *s = strstr(file, "engine/");
  return s ? s : file;
}

sg_status sg_cuda_check_(cudaError_t e, const char *call, const char *file, int line) {
  if (e == cudaSuccess) return SG_OK;
  sg_status st = e == cudaErrorMemoryAllocation ? SG_ERR_MEM : SG_ERR_STATE;
  return sg_error(st, "CUDA error: %s failed: %s (%s) at %s:%d", call, cudaGetErrorString(e),
                  cudaGetErrorName(e), short_file(file), line);
}

sg_status sg_cublas_check_(cublasStatus_t e, const char *call, const char *file, int line) {
  if (e == CUBLAS_STATUS_SUCCESS) return SG_OK;
  sg_status st = e == CUBLAS_STATUS_ALLOC_FAILED ? SG_ERR_MEM : SG_ERR_STATE;
  return sg_error(st, "cuBLAS error: %s failed: %s (%s) at %s:%d", call,
                  cublasGetStatusString(e), cublasGetStatusName(e), short_file(file), line);
}

sg_status sg_cudnn_check_(cudnnStatus_t e, const char *call, const char *file, int line) {
  if (e == CUDNN_STATUS_SUCCESS) return SG_OK;
  sg_status st = e == CUDNN_STATUS_ALLOC_FAILED ? SG_ERR_MEM : SG_ERR_STATE;
  return sg_error(st, "cuDNN error: %s failed: %s at %s:%d", call, cudnnGetErrorString(e),
                  short_file(file), line);
}

/* ---------------- device discovery ---------------- */

#define MAX_DEVICES 16

static struct {
  pthread_once_t once;
  int count;                       /* usable devices */
  char reason[512];                /* why none, "" if some */
  char names[MAX_DEVICES][256];
  size_t total_mem[MAX_DEVICES];
  int sm_count;
  sg_status init_status;
  char init_error[512];
} dev = {.once = PTHREAD_ONCE_INIT};

/* Why cudaGetDeviceCount failed, in words. Without any driver (no libcuda:
 * a machine with the toolkit but no GPU) the runtime says "CUDA driver
 * version is insufficient for CUDA runtime version", which sends people
 * to update a driver they do not have: say what `sgen info` says. */
static void explain_no_device(cudaError_t e) {
  int drv = 0;
  if (cudaDriverGetVersion(&drv) != cudaSuccess) drv = 0;
  (void)cudaGetLastError();
  int rt = 0;
  if (cudaRuntimeGetVersion(&rt) != cudaSuccess) rt = 0;
  (void)cudaGetLastError();
  if (e == cudaErrorInsufficientDriver && drv == 0) {
    snprintf(dev.reason, sizeof dev.reason, "no CUDA driver / no GPU found");
  } else if (e == cudaErrorInsufficientDriver) {
    snprintf(dev.reason, sizeof dev.reason,
             "the CUDA driver (%d.%d) is older than the CUDA runtime sgen was built with "
             "(%d.%d): update the driver",
             drv / 1000, drv % 1000 / 10, rt / 1000, rt % 1000 / 10);
  } else if (e == cudaErrorNoDevice) {
    snprintf(dev.reason, sizeof dev.reason, "no GPU found (cudaGetDeviceCount: %s)",
             cudaGetErrorString(e));
  } else {
    snprintf(dev.reason, sizeof dev.reason, "no CUDA device (cudaGetDeviceCount: %s)",
             cudaGetErrorString(e));
  }
}

static void discover(void) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError(); /* clear the sticky-free error state */
    explain_no_device(e);
    dev.count = 0;
  } else if (n == 0) {
    snprintf(dev.reason, sizeof dev.reason, "no CUDA device found");
    dev.count = 0;
  } else {
    dev.count = n < MAX_DEVICES ? n : MAX_DEVICES;
    for (int i = 0; i < dev.count; i++) {
      struct cudaDeviceProp prop;
      if (cudaGetDeviceProperties(&prop, i) == cudaSuccess) {
        snprintf(dev.names[i], sizeof dev.names[i], "%s", prop.name);
        dev.total_mem[i] = prop.totalGlobalMem;
        if (i == 0) dev.sm_count = prop.multiProcessorCount;
      } else {
        snprintf(dev.names[i], sizeof dev.names[i], "CUDA device %d", i);
        (void)cudaGetLastError();
      }
    }
  }
  if (dev.sm_count < 1) dev.sm_count = 1;
  if (dev.count == 0) {
    dev.init_status = SG_ERR_UNSUPPORTED;
    snprintf(dev.init_error, sizeof dev.init_error, "%s", dev.reason);
    return;
  }
  e = cudaSetDevice(0);
  if (e != cudaSuccess) {
    dev.init_status = SG_ERR_STATE;
    snprintf(dev.init_error, sizeof dev.init_error, "CUDA error: cudaSetDevice(0) failed: %s",
             cudaGetErrorString(e));
    snprintf(dev.reason, sizeof dev.reason, "%s", dev.init_error);
    dev.count = 0;
    return;
  }
  dev.init_status = SG_OK;
}

static void ensure_discovered(void) { pthread_once(&dev.once, discover); }

/* This thread has device 0 current (checked once per thread). */
static _Thread_local bool thread_ready;

sg_status sg_cuda_init(void) {
  if (thread_ready) return SG_OK;
  ensure_discovered();
  if (dev.init_status != SG_OK) return sg_error(dev.init_status, "%s", dev.init_error);
  /* The runtime binds the device per host thread: make sure this one uses
   * device 0, once per thread. */
  int cur = -1;
  if (cudaGetDevice(&cur) != cudaSuccess || cur != 0) {
    (void)cudaGetLastError();
    sg_status s = SG_CUDA_CHECK(cudaSetDevice(0));
    if (s != SG_OK) return s;
  }
  thread_ready = true;
  return SG_OK;
}

sg_status sg_cuda_check_device(const char *op, sg_device d) {
  const char *pre = op ? op : "", *sep = op ? ": " : "";
  if (d.type != SG_CUDA)
    return sg_error(SG_ERR_ARG, "%s%sexpected a CUDA device, got %s", pre, sep,
                    sg_device_name(d));
  if (d.index == 0 && thread_ready) return SG_OK;
  if (sg_cuda_init() != SG_OK) {
    char why[512];
    snprintf(why, sizeof why, "%s", sg_last_error());
    return sg_error(sg_last_status(), "%s%sdevice %s is not available: %s", pre, sep,
                    sg_device_name(d), why);
  }
  if (d.index != 0)
    return sg_error(SG_ERR_UNSUPPORTED,
                    "%s%sdevice %s is not available: only cuda:0 is supported for now", pre, sep,
                    sg_device_name(d));
  return SG_OK;
}

bool sg_cuda_built(void) { return true; }

bool sg_cuda_is_available(void) {
  ensure_discovered();
  return dev.count > 0;
}

const char *sg_cuda_unavailable_reason(void) {
  ensure_discovered();
  return dev.count > 0 ? "" : dev.reason;
}

int sg_cuda_device_count(void) {
  ensure_discovered();
  return dev.count;
}

const char *sg_cuda_device_name(int i) {
  ensure_discovered();
  if (i < 0 || i >= dev.count) {
    if (dev.count == 0)
      sg_error(SG_ERR_UNSUPPORTED, "cuda device %d: %s", i, dev.reason);
    else
      sg_error(SG_ERR_ARG, "cuda device %d does not exist (%d device%s)", i, dev.count,
               dev.count == 1 ? "" : "s");
    return NULL;
  }
  return dev.names[i];
}

size_t sg_cuda_device_total_memory(int i) {
  ensure_discovered();
  return i >= 0 && i < dev.count ? dev.total_mem[i] : 0;
}

int sg_cuda_sm_count(void) {
  ensure_discovered();
  return dev.sm_count;
}

cudaStream_t sg_cuda_stream(void) { return (cudaStream_t)0; }

sg_status sg_cuda_synchronize(void) {
  if (!sg_cuda_is_available()) return SG_OK;
  if (sg_cuda_init() != SG_OK) return sg_last_status();
  return SG_CUDA_CHECK(cudaDeviceSynchronize());
}

/* ---------------- library handles ---------------- */

static pthread_mutex_t handle_lock = PTHREAD_MUTEX_INITIALIZER;
static cublasHandle_t cublas_handle;
static cudnnHandle_t cudnn_handle;

cublasHandle_t sg_cuda_cublas(void) {
  if (sg_cuda_init() != SG_OK) return NULL;
  pthread_mutex_lock(&handle_lock);
  if (!cublas_handle) {
    cublasHandle_t h = NULL;
    if (SG_CUBLAS_CHECK(cublasCreate(&h)) == SG_OK) {
      if (SG_CUBLAS_CHECK(cublasSetStream(h, sg_cuda_stream())) == SG_OK)
        cublas_handle = h;
      else
        (void)cublasDestroy(h);
    }
  }
  cublasHandle_t h = cublas_handle;
  pthread_mutex_unlock(&handle_lock);
  return h;
}

cudnnHandle_t sg_cuda_cudnn(void) {
  if (sg_cuda_init() != SG_OK) return NULL;
  pthread_mutex_lock(&handle_lock);
  if (!cudnn_handle) {
    cudnnHandle_t h = NULL;
    if (SG_CUDNN_CHECK(cudnnCreate(&h)) == SG_OK) {
      if (SG_CUDNN_CHECK(cudnnSetStream(h, sg_cuda_stream())) == SG_OK)
        cudnn_handle = h;
      else
        (void)cudnnDestroy(h);
    }
  }
  cudnnHandle_t h = cudnn_handle;
  pthread_mutex_unlock(&handle_lock);
  return h;
}

/* ---------------- versions ---------------- */

int sg_cuda_runtime_version(void) {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return v;
}

int sg_cuda_driver_version(void) {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return v;
}

int sg_cudnn_version(void) { return (int)cudnnGetVersion(); }

int sg_cublas_version(void) {
  /* cublasGetProperty needs no handle (hence no GPU). */
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) != CUBLAS_STATUS_SUCCESS ||
      cublasGetProperty(MINOR_VERSION, &minor) != CUBLAS_STATUS_SUCCESS ||
      cublasGetProperty(PATCH_LEVEL, &patch) != CUBLAS_STATUS_SUCCESS)
    return 0;
  return major * 10000 + minor * 100 + patch;
}

/* ---------------- TF32 ---------------- */

static bool allow_tf32 = false;

void sg_set_allow_tf32(bool allow) { __atomic_store_n(&allow_tf32, allow, __ATOMIC_RELAXED); }
bool sg_get_allow_tf32(void) { return __atomic_load_n(&allow_tf32, __ATOMIC_RELAXED); }
