/* One threading layer: OpenMP, shared by our kernels and OpenBLAS (linked
 * against its OpenMP build), so the two never oversubscribe the cores. */
#include <stdio.h>
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "sgen/runtime.h"

#ifdef SGEN_HAVE_OPENBLAS
void openblas_set_num_threads(int n);
char *openblas_get_config(void);
#endif

/* SGEN_NUM_THREADS (ARCHITECTURE.md §2) sets the one pool for kernels and
 * BLAS when the library loads; later calls to sg_set_num_threads win. An
 * unparsable or non-positive value is ignored (OpenMP's own default stays). */
__attribute__((constructor)) static void threads_from_env(void) {
  const char *v = getenv("SGEN_NUM_THREADS");
  if (!v || !*v) return;
  char *end;
  long n = strtol(v, &end, 10);
  if (*end == '\0' && n > 0 && n <= 4096) sg_set_num_threads((int)n);
}

void sg_set_num_threads(int n) {
  if (n < 1) n = 1;
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
#ifdef SGEN_HAVE_OPENBLAS
  openblas_set_num_threads(n);
#endif
}

int sg_get_num_threads(void) {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

#ifdef SGEN_WITH_ONEDNN
#include <dnnl.h>
static const char *onednn_version(void) {
  static char v[48];
  const dnnl_version_t *d = dnnl_version();
  snprintf(v, sizeof v, "%d.%d.%d (float32 convolutions)", d->major, d->minor, d->patch);
  return v;
}
#endif

const char *sg_build_info(void) {
  static char info[512];
  const char *blas = "none";
#ifdef SGEN_HAVE_OPENBLAS
  blas = openblas_get_config();
#endif
  snprintf(info, sizeof info, "sgen %s; BLAS: %s; OpenMP: %s; oneDNN: %s; CUDA: %s", SGEN_VERSION,
           blas,
#ifdef _OPENMP
           "yes",
#else
           "no",
#endif
#ifdef SGEN_WITH_ONEDNN
           onednn_version(),
#else
           "no",
#endif
#ifdef SGEN_WITH_CUDA
           "yes"
#else
           "no"
#endif
  );
  return info;
}
