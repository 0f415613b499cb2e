/* CPU convolution for small output maps: one GEMM over a chunk of images.
 *
 * The per-image schedule of conv_cpu.c multiplies K x ckk weights by a
 * ckk x (Ho*Wo) column matrix per image: with a 4x4 or 1x1 output map
 * that is a GEMM of 16 or 1 columns, far from the BLAS peak, repeated N
 * times (a DCGAN critic's last layers, CSC-CTRL's 4x4 -> 1x1 layer: 2-5x
 * slower than PyTorch). Here the column matrices of several images sit
 * side by side (ckk x b*P, P = Ho*Wo), so one GEMM covers b images; the
 * result (K x b*P, image-major within a row) is then scattered to NCHW.
 * Chunks keep the two buffers within SG_CONV_BATCH_BYTES, and run in
 * order (deterministic sums; BLAS threads inside each GEMM).
 *
 * SGEN_CONV_BATCH=0 in the environment turns the schedule off (bisection,
 * benchmarks); the per-image schedule is the tests' reference. */
#include <stdlib.h>
#include <string.h>

#include "cpu/conv_cols.h"
#include "sgen/error.h"

/* Output maps of at most this many positions use the batched schedule. */
#define SG_CONV_BATCH_MAX_P 256
/* Bytes of the column buffer plus the GEMM result buffer of one chunk. */
#define SG_CONV_BATCH_BYTES ((int64_t)2 << 20)

bool sg_cpu_conv_use_batched(const sg_conv_geom *g) {
  if (g->groups != 1 || g->N < 2 || g->Ho * g->Wo > SG_CONV_BATCH_MAX_P || g->Ho * g->Wo == 0)
    return false;
  const char *env = getenv("SGEN_CONV_BATCH");
  return !(env && strcmp(env, "0") == 0);
}

typedef struct {
  size_t es;
  int64_t ckk, P, HW, nb; /* nb: images per chunk */
  char *cols, *tmp;       /* ckk x nb*P and K x nb*P */
} batch_plan;

static sg_status plan_batch(batch_plan *b, sg_dtype dt, const sg_conv_geom *g, const char *op) {
  b->es = sg_dtype_size(dt);
  b->ckk = g->C * g->kh * g->kw;
  b->P = g->Ho * g->Wo;
  b->HW = g->H * g->W;
  int64_t per_image = (b->ckk + g->K) * b->P * (int64_t)b->es;
  b->nb = per_image > 0 ? SG_CONV_BATCH_BYTES / per_image : g->N;
  if (b->nb < 1) b->nb = 1;
  if (b->nb > g->N) b->nb = g->N;
  b->cols = malloc((size_t)(b->ckk * b->nb * b->P) * b->es);
  b->tmp = malloc((size_t)(g->K * b->nb * b->P) * b->es);
  if (!b->cols || !b->tmp) {
    free(b->cols);
    free(b->tmp);
    return sg_error(SG_ERR_MEM, "%s: out of memory for the column buffer", op);
  }
  return SG_OK;
}

static void free_batch(batch_plan *b) {
  free(b->cols);
  free(b->tmp);
}

/* cols (ckk x cnt*P, row stride cnt*P) <- the column matrices of images
 * [n0, n0 + cnt) of X (N x C x H x W), side by side. */
static void gather_cols(sg_dtype dt, const sg_conv_geom *g, const batch_plan *b, const char *X,
                        int64_t n0, int64_t cnt) {
  const int64_t L = cnt * b->P;
#pragma omp parallel for schedule(static) if (b->ckk * L > 32768)
  for (int64_t i = 0; i < cnt; i++)
    sg_cpu_conv_im2col(dt, g, X + (size_t)((n0 + i) * g->C * b->HW) * b->es,
                       b->cols + (size_t)(i * b->P) * b->es, L, 0, g->Ho, 0, b->ckk);
}

/* tmp (K x cnt*P) <- images [n0, n0 + cnt) of Y (N x K x P), channel-major. */
static void gather_maps(const sg_conv_geom *g, const batch_plan *b, const char *Y, int64_t n0,
                        int64_t cnt) {
  const int64_t L = cnt * b->P;
  const size_t row = (size_t)b->P * b->es;
#pragma omp parallel for schedule(static) if (g->K * L > 32768)
  for (int64_t k = 0; k < g->K; k++)
    for (int64_t i = 0; i < cnt; i++)
      memcpy(b->tmp + (size_t)(k * L + i * b->P) * b->es,
             Y + (size_t)(((n0 + i) * g->K + k) * b->P) * b->es, row);
}

sg_status sg_cpu_conv2d_batched(sg_dtype dt, char *O, const char *X, const char *Wt, const char *B,
                                const sg_conv_geom *g, const char *op) {
  batch_plan b;
  sg_status st = plan_batch(&b, dt, g, op);
  if (st != SG_OK) return st;
  const size_t es = b.es, row = (size_t)b.P * es;
  for (int64_t n0 = 0; n0 < g->N; n0 += b.nb) {
    const int64_t cnt = n0 + b.nb <= g->N ? b.nb : g->N - n0, L = cnt * b.P;
    gather_cols(dt, g, &b, X, n0, cnt);
    sg_cpu_conv_gemm(dt, false, false, g->K, L, b.ckk, 0.0, Wt, b.ckk, b.cols, L, b.tmp, L);
#pragma omp parallel for schedule(static) if (g->K * L > 32768)
    for (int64_t i = 0; i < cnt; i++) {
      char *oi = O + (size_t)((n0 + i) * g->K * b.P) * es;
      for (int64_t k = 0; k < g->K; k++)
        memcpy(oi + (size_t)(k * b.P) * es, b.tmp + (size_t)(k * L + i * b.P) * es, row);
      if (B) sg_cpu_conv_add_bias(dt, oi, b.P, g->K, b.P, B);
    }
  }
  free_batch(&b);
  return SG_OK;
}

sg_status sg_cpu_conv_transpose2d_batched(sg_dtype dt, char *O, const char *X, const char *Wt,
                                          const char *B, const sg_conv_geom *g) {
  batch_plan b;
  sg_status st = plan_batch(&b, dt, g, "conv_transpose2d");
  if (st != SG_OK) return st;
  const size_t es = b.es;
  for (int64_t n0 = 0; n0 < g->N; n0 += b.nb) {
    const int64_t cnt = n0 + b.nb <= g->N ? b.nb : g->N - n0, L = cnt * b.P;
    gather_maps(g, &b, X, n0, cnt);
    /* cols = Wᵀ (ckk x K) tmp (K x L) */
    sg_cpu_conv_gemm(dt, true, false, b.ckk, L, g->K, 0.0, Wt, b.ckk, b.tmp, L, b.cols, L);
#pragma omp parallel for schedule(static) if (b.ckk * L > 32768)
    for (int64_t i = 0; i < cnt; i++) {
      char *oi = O + (size_t)((n0 + i) * g->C * b.HW) * es;
      memset(oi, 0, (size_t)(g->C * b.HW) * es);
      sg_cpu_conv_col2im(dt, g, b.cols + (size_t)(i * b.P) * es, L, oi, 0, g->Ho, 0, g->C);
      if (B) sg_cpu_conv_add_bias(dt, oi, b.HW, g->C, b.HW, B);
    }
  }
  free_batch(&b);
  return SG_OK;
}

sg_status sg_cpu_conv2d_weight_batched(sg_dtype dt, char *GW, const char *X, const char *GO,
                                       const sg_conv_geom *g) {
  batch_plan b;
  sg_status st = plan_batch(&b, dt, g, "conv2d_weight");
  if (st != SG_OK) return st;
  memset(GW, 0, (size_t)(g->K * b.ckk) * b.es);
  for (int64_t n0 = 0; n0 < g->N; n0 += b.nb) {
    const int64_t cnt = n0 + b.nb <= g->N ? b.nb : g->N - n0, L = cnt * b.P;
    gather_cols(dt, g, &b, X, n0, cnt);
    gather_maps(g, &b, GO, n0, cnt);
    /* GW += tmp (K x L) colsᵀ (L x ckk) */
    sg_cpu_conv_gemm(dt, false, true, g->K, b.ckk, L, 1.0, b.tmp, L, b.cols, L, GW, b.ckk);
  }
  free_batch(&b);
  return SG_OK;
}
