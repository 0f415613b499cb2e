/* Benchmark of a few engine ops (not a test): the same work as
 * bench/bench_ops.py does in PyTorch; bench/run_bench.sh runs both and
 * prints the ratios.
 *
 *   bench_ops [--threads N] [--reps N] [--only NAME]
 *
 * Each op runs a warm-up, then REPS timed runs; the median is reported. The
 * lines "RESULT <name> <median ms>" are what run_bench.sh reads; "INFO" lines
 * add derived numbers (GFLOP/s, GB/s, the bandwidth ratio). */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgen/sgen.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef int (*work_fn)(void *ctx); /* 0 on success */

static int g_reps = 0; /* 0: per-op default */
static const char *g_only = NULL;

/* Median of reps timed runs after `warmup` untimed ones; NAN on failure. */
static double time_median(work_fn f, void *ctx, int warmup, int reps, double *min_out) {
  if (g_reps > 0) reps = g_reps;
  for (int i = 0; i < warmup; i++)
    if (f(ctx)) return NAN;
  double *t = malloc(sizeof(double) * (size_t)reps);
  for (int i = 0; i < reps; i++) {
    double t0 = now_ms();
    if (f(ctx)) {
      free(t);
      return NAN;
    }
    t[i] = now_ms() - t0;
  }
  qsort(t, (size_t)reps, sizeof(double), cmp_double);
  double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
  if (min_out) *min_out = t[0];
  free(t);
  return med;
}

static void report(const char *name, double ms, double min_ms, const char *extra) {
  if (isnan(ms)) {
    printf("%-22s failed: %s\n", name, sg_last_error());
    printf("RESULT %s nan\n", name);
  } else {
    printf("%-22s median %9.3f ms  (min %9.3f)  %s\n", name, ms, min_ms, extra ? extra : "");
    printf("RESULT %s %.4f\n", name, ms);
  }
  fflush(stdout);
}

static bool selected(const char *name) {
  return !g_only || strstr(name, g_only) != NULL || strstr(g_only, name) != NULL;
}

/* A float32 tensor of the shape with values in [-1, 1) from a fixed LCG. */
static sg_tensor *filled(const int64_t *shape, int ndim, uint64_t seed) {
  sg_tensor *t = sg_empty(shape, ndim, SG_FLOAT32, sg_cpu_device());
  if (!t) return NULL;
  float *p = sg_data_ptr(t);
  int64_t n = sg_numel(t);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    uint64_t s = (uint64_t)i * 6364136223846793005ULL + seed * 1442695040888963407ULL + 1;
    s ^= s >> 33;
    s *= 0xff51afd7ed558ccdULL;
    s ^= s >> 33;
    p[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
  return t;
}

/* ---------------------------------------------------------------- sgemm */
typedef struct {
  sg_tensor *a, *b;
} mm_ctx;
static int mm_work(void *p) {
  mm_ctx *c = p;
  sg_tensor *r = sg_mm(c->a, c->b);
  sg_release(r);
  return r ? 0 : 1;
}

/* --------------------------------------------------------------- conv2d */
typedef struct {
  sg_tensor *x, *w, *g;
  sg_conv_opts o;
} conv_ctx;
static int conv_fwd_work(void *p) {
  conv_ctx *c = p;
  bool prev = sg_set_grad_enabled(false);
  sg_tensor *y = sg_conv2d(c->x, c->w, NULL, &c->o);
  sg_set_grad_enabled(prev);
  sg_release(y);
  return y ? 0 : 1;
}
static int conv_fwd_bwd_work(void *p) {
  conv_ctx *c = p;
  sg_tensor *y = sg_conv2d(c->x, c->w, NULL, &c->o);
  if (!y) return 1;
  sg_status s = sg_backward(&y, &c->g, 1, false, false);
  sg_release(y);
  bool ok = s == SG_OK && c->x->grad && c->w->grad;
  sg_set_grad(c->x, NULL);
  sg_set_grad(c->w, NULL);
  return ok ? 0 : 1;
}

/* ------------------------------------------------------------------ add */
typedef struct {
  sg_tensor *a, *b;
  float *src, *dst, *c;
  int64_t n;
} add_ctx;
static int add_work(void *p) {
  add_ctx *c = p;
  sg_tensor *r = sg_add(c->a, c->b);
  sg_release(r);
  return r ? 0 : 1;
}
/* memcpy-like streaming: each thread copies its contiguous chunk. */
static int copy_work(void *p) {
  add_ctx *c = p;
#pragma omp parallel
  {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t lo = c->n * t / nt, hi = c->n * (t + 1) / nt;
    memcpy(c->dst + lo, c->src + lo, (size_t)(hi - lo) * sizeof(float));
  }
  return 0;
}
/* The same add as a plain loop into a preallocated (already touched) buffer. */
static int loop_add_work(void *p) {
  add_ctx *c = p;
  const float *x = sg_data_ptr(c->a), *y = sg_data_ptr(c->b);
  float *z = c->c;
  int64_t n = c->n;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) z[i] = x[i] + y[i];
  return 0;
}

/* ---------------------------------------------------------- interpolate */
typedef struct {
  sg_tensor *x, *g;
} up_ctx;
static int up_fwd_work(void *p) {
  up_ctx *c = p;
  bool prev = sg_set_grad_enabled(false);
  sg_tensor *y = sg_interpolate(c->x, c->x->shape[2] * 2, c->x->shape[3] * 2,
                                SG_INTERP_BILINEAR, false, 2.0, 2.0);
  sg_set_grad_enabled(prev);
  sg_release(y);
  return y ? 0 : 1;
}
static int up_fwd_bwd_work(void *p) {
  up_ctx *c = p;
  sg_tensor *y = sg_interpolate(c->x, c->x->shape[2] * 2, c->x->shape[3] * 2,
                                SG_INTERP_BILINEAR, false, 2.0, 2.0);
  if (!y) return 1;
  sg_status s = sg_backward(&y, &c->g, 1, false, false);
  sg_release(y);
  bool ok = s == SG_OK && c->x->grad;
  sg_set_grad(c->x, NULL);
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  int threads = 2;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) g_reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--only") && i + 1 < argc) g_only = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--threads N] [--reps N] [--only NAME]\n", argv[0]);
      return 2;
    }
  }
  sg_set_num_threads(threads);
  printf("sgen bench_ops: %d threads (OpenMP max %d); %s\n", threads, omp_get_max_threads(),
         sg_build_info());
  char buf[160];
  double mn = 0, ms;

  if (selected("sgemm_1024")) {
    mm_ctx c = {filled((int64_t[]){1024, 1024}, 2, 1), filled((int64_t[]){1024, 1024}, 2, 2)};
    ms = time_median(mm_work, &c, 2, 10, &mn);
    snprintf(buf, sizeof buf, "%.1f GFLOP/s", 2.0 * 1024 * 1024 * 1024 / (ms * 1e6));
    report("sgemm_1024", ms, mn, buf);
    sg_release(c.a);
    sg_release(c.b);
  }

  if (selected("conv2d_3x3_128")) {
    conv_ctx c = {filled((int64_t[]){8, 128, 64, 64}, 4, 3),
                  filled((int64_t[]){128, 128, 3, 3}, 4, 4),
                  filled((int64_t[]){8, 128, 64, 64}, 4, 5),
                  {.padding = {1, 1}}};
    /* scale the weight like a Kaiming init so values stay O(1) */
    sg_tensor *ws = sg_mul_scalar(c.w, 1.0 / sqrt(128.0 * 9.0));
    sg_release(c.w);
    c.w = ws;
    double flops = 2.0 * 8 * 128 * 128 * 9 * 64 * 64;
    if (selected("conv2d_3x3_128_fwd")) {
      ms = time_median(conv_fwd_work, &c, 1, 5, &mn);
      snprintf(buf, sizeof buf, "%.1f GFLOP/s", flops / (ms * 1e6));
      report("conv2d_3x3_128_fwd", ms, mn, buf);
    }
    if (selected("conv2d_3x3_128_fwd_bwd")) {
      sg_set_requires_grad(c.x, true);
      sg_set_requires_grad(c.w, true);
      ms = time_median(conv_fwd_bwd_work, &c, 1, 5, &mn);
      snprintf(buf, sizeof buf, "%.1f GFLOP/s (3 convs' worth)", 3 * flops / (ms * 1e6));
      report("conv2d_3x3_128_fwd_bwd", ms, mn, buf);
    }
    sg_release(c.x);
    sg_release(c.w);
    sg_release(c.g);
  }

  if (selected("add_16M")) {
    const int64_t n = 16 << 20;
    add_ctx c = {filled(&n, 1, 6), filled(&n, 1, 7), NULL, NULL, NULL, n};
    c.src = malloc(sizeof(float) * (size_t)n);
    c.dst = malloc(sizeof(float) * (size_t)n);
    c.c = malloc(sizeof(float) * (size_t)n);
    memset(c.src, 1, sizeof(float) * (size_t)n); /* touch every page first */
    memset(c.dst, 0, sizeof(float) * (size_t)n);
    memset(c.c, 0, sizeof(float) * (size_t)n);
    double bytes = 3.0 * 4.0 * (double)n;
    ms = time_median(add_work, &c, 3, 20, &mn);
    double gbps = bytes / (ms * 1e6);
    snprintf(buf, sizeof buf, "%.2f GB/s (3 x 4 B x 16M)", gbps);
    report("add_16M", ms, mn, buf);
    double cms = time_median(copy_work, &c, 3, 20, NULL);
    double copy_gbps = 2.0 * 4.0 * (double)n / (cms * 1e6);
    double lms = time_median(loop_add_work, &c, 3, 20, NULL);
    double loop_gbps = bytes / (lms * 1e6);
    printf("INFO memcpy_16M %.3f ms: %.2f GB/s streaming bandwidth (read + write, 2 x 4 B x 16M)\n",
           cms, copy_gbps);
    printf("INFO loop_add_16M %.3f ms: %.2f GB/s (plain C loop into a preallocated buffer)\n",
           lms, loop_gbps);
    printf("INFO add_bandwidth_ratio %.3f (sg_add GB/s / memcpy GB/s); %.3f vs the plain loop\n",
           gbps / copy_gbps, gbps / loop_gbps);
    printf("RESULT memcpy_16M %.4f\n", cms);
    sg_release(c.a);
    sg_release(c.b);
    free(c.src);
    free(c.dst);
    free(c.c);
  }

  if (selected("upsample_bilinear2x")) {
    up_ctx c = {filled((int64_t[]){8, 128, 64, 64}, 4, 8),
                filled((int64_t[]){8, 128, 128, 128}, 4, 9)};
    if (selected("upsample_bilinear2x_fwd")) {
      ms = time_median(up_fwd_work, &c, 2, 10, &mn);
      report("upsample_bilinear2x_fwd", ms, mn, NULL);
    }
    if (selected("upsample_bilinear2x_fwd_bwd")) {
      sg_set_requires_grad(c.x, true);
      ms = time_median(up_fwd_bwd_work, &c, 2, 10, &mn);
      report("upsample_bilinear2x_fwd_bwd", ms, mn, NULL);
    }
    sg_release(c.x);
    sg_release(c.g);
  }
  return 0;
}
