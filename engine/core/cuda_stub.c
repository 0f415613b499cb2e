/* The CUDA API of sgen/cuda.h in a build without the CUDA backend: every
 * query answers "not available", so callers never need #ifdef. CMake
 * compiles this file only when SGEN_WITH_CUDA is off (the guard makes that
 * explicit). */
#include <stdbool.h>

#include "sgen/cuda.h"

#ifndef SGEN_WITH_CUDA

static bool allow_tf32 = false;

bool sg_cuda_built(void) { return false; }
bool sg_cuda_is_available(void) { return false; }
const char *sg_cuda_unavailable_reason(void) {
  return "sgen was built without CUDA (configure with -DSGEN_CUDA=ON on a machine with the "
         "CUDA toolkit and cuDNN)";
}
int sg_cuda_device_count(void) { return 0; }

const char *sg_cuda_device_name(int i) {
  sg_error(SG_ERR_UNSUPPORTED, "cuda device %d: %s", i, sg_cuda_unavailable_reason());
  return NULL;
}

size_t sg_cuda_device_total_memory(int i) {
  (void)i;
  return 0;
}

sg_cuda_memstats sg_cuda_memory_stats(void) {
  sg_cuda_memstats s = {0};
  return s;
}

void sg_cuda_reset_peak_stats(void) {}
void sg_cuda_empty_cache(void) {}
sg_status sg_cuda_synchronize(void) { return SG_OK; }

void sg_cuda_set_oom_hook(void (*hook)(void *ud), void *ud) {
  (void)hook;
  (void)ud;
}

int sg_cuda_runtime_version(void) { return 0; }
int sg_cuda_driver_version(void) { return 0; }
int sg_cudnn_version(void) { return 0; }
int sg_cublas_version(void) { return 0; }

void sg_set_allow_tf32(bool allow) { allow_tf32 = allow; }
bool sg_get_allow_tf32(void) { return allow_tf32; }

#else
typedef int sg_cuda_stub_unused; /* ISO C: a translation unit is not empty */
#endif
