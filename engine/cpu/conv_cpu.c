/* CPU convolution: im2col / col2im + OpenBLAS GEMM.
 *
 * The column matrix is never built for a whole image at once: each image
 * is processed in tiles of output rows, so the column buffer (C/groups *
 * kh * kw x tile) stays in cache. Two schedules:
 *  - many work items (images x groups x tiles >= threads): items are spread
 *    over OpenMP threads, each calling single-threaded BLAS (OpenBLAS's
 *    OpenMP build runs a call made inside a parallel region on one thread);
 *  - few items (e.g. a single 256x256 image): items run in order, BLAS
 *    uses all threads, and im2col is split over threads (conv_transpose2d
 *    splits the image's channels over the threads instead).
 * 1x1 stride-1 unpadded convolutions skip im2col: the image is the column
 * matrix. A kernel covering the whole unpadded image (one output position)
 * is one GEMM on the NCHW data (conv_cpu_dense.c), before oneDNN too. Small output maps (a few positions per image) take the batched
 * schedule of conv_cpu_batch.c instead: one GEMM over many images. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu/conv_cols.h"
#include "cpu/conv_onednn.h"
#include "internal/kernels_conv.h"
#include "sgen/error.h"

/* Bytes of one thread's column buffer (a tile is at least one output row). */
#define SG_CONV_TILE_BYTES ((int64_t)1 << 20)

static int max_threads(void) {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

static int thread_id(void) {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

static int num_threads_now(void) {
#ifdef _OPENMP
  return omp_get_num_threads();
#else
  return 1;
#endif
}

static void *data_of(const sg_tensor *t) {
  return (char *)t->storage->data + t->offset * (int64_t)sg_dtype_size(t->dtype);
}

/* ---- im2col / col2im on one image (C/groups channels) ----
 * Column row r = (c * kh + ki) * kw + kj; column index (oh - oh0) * Wo + ow;
 * ld is the column matrix's row stride. */

/* Output columns ow in [*lo, *hi) read input columns inside [0, W). */
static void valid_range(const sg_conv_geom *g, int64_t kj, int64_t *lo, int64_t *hi) {
  int64_t off = kj * g->dw - g->pw;
  int64_t l = off >= 0 ? 0 : (-off + g->sw - 1) / g->sw;
  int64_t h = g->W - 1 - off >= 0 ? (g->W - 1 - off) / g->sw + 1 : 0;
  if (l > g->Wo) l = g->Wo;
  if (h > g->Wo) h = g->Wo;
  if (h < l) h = l;
  *lo = l;
  *hi = h;
}

#define DEFINE_COLS(T, P)                                                                         \
  static void im2col_##P(const sg_conv_geom *g, const T *img, T *col, int64_t ld, int64_t oh0,     \
                         int64_t oh1, int64_t r0, int64_t r1) {                                    \
    const int64_t H = g->H, W = g->W, Wo = g->Wo, sw = g->sw;                                      \
    for (int64_t r = r0; r < r1; r++) {                                                           \
      int64_t kj = r % g->kw, ki = (r / g->kw) % g->kh, c = r / (g->kw * g->kh);                   \
      const T *src = img + c * H * W;                                                             \
      T *dst = col + r * ld;                                                                      \
      int64_t lo, hi, off = kj * g->dw - g->pw;                                                   \
      valid_range(g, kj, &lo, &hi);                                                               \
      for (int64_t oh = oh0; oh < oh1; oh++, dst += Wo) {                                          \
        int64_t ih = oh * g->sh - g->ph + ki * g->dh;                                              \
        if (ih < 0 || ih >= H) {                                                                  \
          memset(dst, 0, sizeof(T) * (size_t)Wo);                                                 \
          continue;                                                                               \
        }                                                                                         \
        for (int64_t ow = 0; ow < lo; ow++) dst[ow] = 0;                                          \
        if (sw == 1) {                                                                            \
          if (hi > lo) memcpy(dst + lo, src + ih * W + off + lo, sizeof(T) * (size_t)(hi - lo));  \
        } else {                                                                                  \
          for (int64_t ow = lo; ow < hi; ow++) dst[ow] = src[ih * W + off + ow * sw];             \
        }                                                                                         \
        for (int64_t ow = hi; ow < Wo; ow++) dst[ow] = 0;                                         \
      }                                                                                           \
    }                                                                                             \
  }                                                                                               \
  /* img[c0..c1) += the patches of col (accumulates; the caller zeroes). */                      \
  static void col2im_##P(const sg_conv_geom *g, const T *col, int64_t ld, T *img, int64_t oh0,     \
                         int64_t oh1, int64_t c0, int64_t c1) {                                    \
    const int64_t H = g->H, W = g->W, Wo = g->Wo, sw = g->sw;                                      \
    for (int64_t c = c0; c < c1; c++) {                                                           \
      T *dstc = img + c * H * W;                                                                  \
      for (int64_t ki = 0; ki < g->kh; ki++)                                                      \
        for (int64_t kj = 0; kj < g->kw; kj++) {                                                  \
          int64_t r = (c * g->kh + ki) * g->kw + kj;                                              \
          const T *src = col + r * ld;                                                            \
          int64_t lo, hi, off = kj * g->dw - g->pw;                                               \
          valid_range(g, kj, &lo, &hi);                                                           \
          for (int64_t oh = oh0; oh < oh1; oh++, src += Wo) {                                      \
            int64_t ih = oh * g->sh - g->ph + ki * g->dh;                                          \
            if (ih < 0 || ih >= H || hi == lo) continue;                                          \
            T *d = dstc + ih * W + off + lo * sw; /* the first element written */                 \
            const T *s = src + lo;                                                                \
            if (sw == 1) {                                                                        \
              for (int64_t j = 0; j < hi - lo; j++) d[j] += s[j];                                 \
            } else {                                                                              \
              for (int64_t j = 0; j < hi - lo; j++) d[j * sw] += s[j];                            \
            }                                                                                     \
          }                                                                                       \
        }                                                                                         \
    }                                                                                             \
  }                                                                                               \
  static void add_bias_##P(T *out, int64_t ld, int64_t rows, int64_t cols, const T *b) {          \
    for (int64_t r = 0; r < rows; r++) {                                                          \
      T v = b[r], *o = out + r * ld;                                                              \
      for (int64_t j = 0; j < cols; j++) o[j] += v;                                               \
    }                                                                                             \
  }

DEFINE_COLS(float, s)
DEFINE_COLS(double, d)

void sg_cpu_conv_im2col(sg_dtype dt, const sg_conv_geom *g, const void *img, void *col, int64_t ld,
                   int64_t oh0, int64_t oh1, int64_t r0, int64_t r1) {
  if (dt == SG_FLOAT32)
    im2col_s(g, img, col, ld, oh0, oh1, r0, r1);
  else
    im2col_d(g, img, col, ld, oh0, oh1, r0, r1);
}

void sg_cpu_conv_col2im(sg_dtype dt, const sg_conv_geom *g, const void *col, int64_t ld, void *img,
                   int64_t oh0, int64_t oh1, int64_t c0, int64_t c1) {
  if (dt == SG_FLOAT32)
    col2im_s(g, col, ld, img, oh0, oh1, c0, c1);
  else
    col2im_d(g, col, ld, img, oh0, oh1, c0, c1);
}

void sg_cpu_conv_add_bias(sg_dtype dt, void *out, int64_t ld, int64_t rows, int64_t cols,
                     const void *b) {
  if (dt == SG_FLOAT32)
    add_bias_s(out, ld, rows, cols, b);
  else
    add_bias_d(out, ld, rows, cols, b);
}

/* C = alpha op(A) op(B) + beta C, row-major. */
void sg_cpu_conv_gemm(sg_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double beta,
                 const void *A, int64_t lda, const void *B, int64_t ldb, void *C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (dt == SG_FLOAT32)
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, 1.0f, A, (int)lda, B, (int)ldb, (float)beta, C, (int)ldc);
  else
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, 1.0, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

static bool is_direct(const sg_conv_geom *g) {
  return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

/* Output rows per tile so that a column tile fits SG_CONV_TILE_BYTES. */
static int64_t tile_rows(const sg_conv_geom *g, int64_t ckk, size_t es) {
  if (is_direct(g) || g->Ho == 0) return g->Ho > 0 ? g->Ho : 1;
  int64_t row_bytes = ckk * g->Wo * (int64_t)es;
  int64_t rows = row_bytes > 0 ? SG_CONV_TILE_BYTES / row_bytes : g->Ho;
  if (rows < 1) rows = 1;
  if (rows > g->Ho) rows = g->Ho;
  return rows;
}

/* Whether `items` independent work items keep `nth` threads busy. */
static bool spread_items(int64_t items, int nth) {
  return nth <= 1 || items >= 4 * (int64_t)nth || (items >= nth && items % nth == 0);
}

/* Splits [0, n) evenly over the threads of the current team. */
static void my_share(int64_t n, int64_t *lo, int64_t *hi) {
  int t = thread_id(), nt = num_threads_now();
  *lo = n * t / nt;
  *hi = n * (t + 1) / nt;
}

static sg_status oom(const char *op) {
  return sg_error(SG_ERR_MEM, "%s: out of memory for the column buffer", op);
}

/* Sizes shared by conv2d and conv2d_weight, which both walk the items
 * (image, group, tile of output rows) and build each tile's column matrix. */
typedef struct {
  const sg_conv_geom *g;
  sg_dtype dt;
  size_t es;
  int64_t G, Cg, Kg, ckk, HW, P, rows, ntiles, items;
  bool direct;
  size_t buf_bytes;
} conv_plan;

static conv_plan make_plan(const sg_conv_geom *g, sg_dtype dt) {
  conv_plan c;
  c.g = g;
  c.dt = dt;
  c.es = sg_dtype_size(dt);
  c.G = g->groups;
  c.Cg = g->C / c.G;
  c.Kg = g->K / c.G;
  c.ckk = c.Cg * g->kh * g->kw;
  c.HW = g->H * g->W;
  c.P = g->Ho * g->Wo;
  c.direct = is_direct(g);
  c.rows = tile_rows(g, c.ckk, c.es);
  c.ntiles = (g->Ho + c.rows - 1) / c.rows;
  c.items = g->N * c.G * c.ntiles;
  c.buf_bytes = c.direct ? 0 : (size_t)(c.ckk * c.rows * g->Wo) * c.es;
  return c;
}

/* One work item: image n, group gi, output rows [oh0, oh0 + T / Wo). */
typedef struct {
  int64_t n, gi, oh0, T, ldb;
  const char *cols; /* ckk x T column matrix, row stride ldb */
} conv_tile;

/* Builds item `it`'s column matrix from the image X into buf (the image
 * itself for direct convolutions); `split`: im2col split over a new team. */
static conv_tile load_tile(const conv_plan *c, const char *X, int64_t it, char *buf, bool split) {
  const sg_conv_geom *g = c->g;
  conv_tile t;
  int64_t tile = it % c->ntiles, ng = it / c->ntiles;
  t.n = ng / c->G;
  t.gi = ng % c->G;
  t.oh0 = tile * c->rows;
  int64_t oh1 = t.oh0 + c->rows < g->Ho ? t.oh0 + c->rows : g->Ho;
  t.T = (oh1 - t.oh0) * g->Wo;
  const char *xi = X + (size_t)((t.n * g->C + t.gi * c->Cg) * c->HW) * c->es;
  t.cols = xi + (size_t)(t.oh0 * g->Wo) * c->es;
  t.ldb = c->HW;
  if (!c->direct) {
    const int64_t ckk = c->ckk;
#pragma omp parallel if (split && ckk * t.T > 32768)
    {
      int64_t r0 = 0, r1 = ckk;
      if (split) my_share(ckk, &r0, &r1);
      sg_cpu_conv_im2col(c->dt, g, xi, buf, t.T, t.oh0, oh1, r0, r1);
    }
    t.cols = buf;
    t.ldb = t.T;
  }
  return t;
}

/* out = conv2d(X, Wt) + B on raw contiguous data (B may be NULL). */
static sg_status conv2d_raw(sg_dtype dt, char *O, const char *X, const char *Wt, const char *B,
                            const sg_conv_geom *g, const char *op) {
  const conv_plan c = make_plan(g, dt);
  const size_t es = c.es;
  const int64_t P = c.P, Kg = c.Kg, ckk = c.ckk;
  if (c.items == 0 || P == 0) return SG_OK;
  if (spread_items(c.items, max_threads())) {
    int fail = 0;
#pragma omp parallel reduction(| : fail)
    {
      char *buf = c.buf_bytes ? malloc(c.buf_bytes) : NULL;
      if (c.buf_bytes && !buf) fail = 1;
#pragma omp for schedule(dynamic, 1)
      for (int64_t it = 0; it < c.items; it++) {
        if (c.buf_bytes && !buf) continue;
        conv_tile t = load_tile(&c, X, it, buf, false);
        char *oi = O + (size_t)((t.n * g->K + t.gi * Kg) * P + t.oh0 * g->Wo) * es;
        sg_cpu_conv_gemm(dt, false, false, Kg, t.T, ckk, 0.0, Wt + (size_t)(t.gi * Kg * ckk) * es, ckk, t.cols,
             t.ldb, oi, P);
        if (B) sg_cpu_conv_add_bias(dt, oi, P, Kg, t.T, B + (size_t)(t.gi * Kg) * es);
      }
      free(buf);
    }
    return fail ? oom(op) : SG_OK;
  }
  char *buf = c.buf_bytes ? malloc(c.buf_bytes) : NULL;
  if (c.buf_bytes && !buf) return oom(op);
  for (int64_t it = 0; it < c.items; it++) {
    conv_tile t = load_tile(&c, X, it, buf, true);
    char *oi = O + (size_t)((t.n * g->K + t.gi * Kg) * P + t.oh0 * g->Wo) * es;
    sg_cpu_conv_gemm(dt, false, false, Kg, t.T, ckk, 0.0, Wt + (size_t)(t.gi * Kg * ckk) * es, ckk, t.cols,
         t.ldb, oi, P);
    if (B) {
#pragma omp parallel if (Kg * t.T > 32768)
      {
        int64_t r0, r1;
        my_share(Kg, &r0, &r1);
        sg_cpu_conv_add_bias(dt, oi + (size_t)(r0 * P) * es, P, r1 - r0, t.T,
                 B + (size_t)(t.gi * Kg + r0) * es);
      }
    }
  }
  free(buf);
  return SG_OK;
}

static sg_status cpu_conv2d(sg_tensor *out, const sg_tensor *x, const sg_tensor *w,
                            const sg_tensor *b, const sg_conv_geom *g) {
  if (sg_cpu_conv_is_dense(g)) {
    sg_cpu_conv2d_dense(x->dtype, data_of(out), data_of(x), data_of(w), b ? data_of(b) : NULL, g);
    return SG_OK;
  }
  if (sg_onednn_conv_wanted(x->dtype, g)) {
    bool done;
    sg_status st = sg_onednn_conv2d(data_of(out), data_of(x), data_of(w), b ? data_of(b) : NULL,
                                    g, &done);
    if (st != SG_OK || done) return st;
  }
  if (sg_cpu_conv_use_batched(g))
    return sg_cpu_conv2d_batched(x->dtype, data_of(out), data_of(x), data_of(w),
                                 b ? data_of(b) : NULL, g, "conv2d");
  return conv2d_raw(x->dtype, data_of(out), data_of(x), data_of(w), b ? data_of(b) : NULL, g,
                    "conv2d");
}

/* ---------------- conv_transpose2d ---------------- */

/* One work item of conv_transpose2d: channels [c0, c1) of image n, group
 * gi. Tiles of one image scatter into overlapping rows, so an item covers
 * all tiles of its channels: it computes their rows of the column matrix
 * (GEMM into buf) and scatters them (col2im) into its own channels only. */
static void convt_item(const conv_plan *c, char *O, const char *X, const char *Wt, const char *B,
                       int64_t n, int64_t gi, int64_t c0, int64_t c1, char *buf) {
  const sg_conv_geom *g = c->g;
  const sg_dtype dt = c->dt;
  const size_t es = c->es;
  const int64_t Cg = c->Cg, Kg = c->Kg, ckk = c->ckk, HW = c->HW, P = c->P;
  const int64_t kk = g->kh * g->kw, cn = c1 - c0;
  char *oc = O + (size_t)((n * g->C + gi * Cg + c0) * HW) * es;
  const char *xi = X + (size_t)((n * g->K + gi * Kg) * P) * es;
  const char *wc = Wt + (size_t)(gi * Kg * ckk + c0 * kk) * es;
  if (c->direct) {
    sg_cpu_conv_gemm(dt, true, false, cn, P, Kg, 0.0, wc, ckk, xi, P, oc, HW);
  } else {
    memset(oc, 0, (size_t)(cn * HW) * es);
    for (int64_t tile = 0; tile < c->ntiles; tile++) {
      int64_t oh0 = tile * c->rows, oh1 = oh0 + c->rows < g->Ho ? oh0 + c->rows : g->Ho;
      int64_t T = (oh1 - oh0) * g->Wo;
      sg_cpu_conv_gemm(dt, true, false, cn * kk, T, Kg, 0.0, wc, ckk, xi + (size_t)(oh0 * g->Wo) * es, P, buf,
           T);
      sg_cpu_conv_col2im(dt, g, buf, T, oc, oh0, oh1, 0, cn);
    }
  }
  if (B) sg_cpu_conv_add_bias(dt, oc, HW, cn, HW, B + (size_t)(gi * Cg + c0) * es);
}

static sg_status cpu_conv_transpose2d(sg_tensor *out, const sg_tensor *x, const sg_tensor *w,
                                      const sg_tensor *b, const sg_conv_geom *g) {
  if (sg_cpu_conv_is_dense(g)) {
    sg_cpu_conv_transpose2d_dense(x->dtype, data_of(out), data_of(x), data_of(w),
                                  b ? data_of(b) : NULL, g);
    return SG_OK;
  }
  if (sg_onednn_conv_wanted(x->dtype, g)) {
    bool done;
    sg_status st = sg_onednn_conv_transpose2d(data_of(out), data_of(x), data_of(w),
                                              b ? data_of(b) : NULL, g, &done);
    if (st != SG_OK || done) return st;
  }
  if (sg_cpu_conv_use_batched(g))
    return sg_cpu_conv_transpose2d_batched(x->dtype, data_of(out), data_of(x), data_of(w),
                                           b ? data_of(b) : NULL, g);
  const conv_plan c = make_plan(g, x->dtype);
  const int64_t nimg = g->N * c.G, Cg = c.Cg;
  const char *X = data_of(x), *Wt = data_of(w), *B = b ? data_of(b) : NULL;
  char *O = data_of(out);
  if (nimg == 0 || c.HW == 0) return SG_OK;
  const int nth = max_threads();
  /* Enough images: one item per image (x group). Few images: the threads
   * split each image's channels (one block per thread, single-threaded
   * BLAS each); few channels or little work: in order, BLAS threaded. */
  const bool spread = spread_items(nimg, nth);
  const int64_t nblk =
      !spread && !c.direct && Cg >= nth && Cg * c.HW * c.Kg > 32768 ? (int64_t)nth : 1;
  const int64_t items = nimg * nblk;
  int fail = 0;
  if (spread || nblk > 1) {
#pragma omp parallel reduction(| : fail)
    {
      char *buf = c.buf_bytes ? malloc(c.buf_bytes) : NULL;
      if (c.buf_bytes && !buf) fail = 1;
#pragma omp for schedule(dynamic, 1)
      for (int64_t it = 0; it < items; it++) {
        if (c.buf_bytes && !buf) continue;
        int64_t ng = it / nblk, blk = it % nblk;
        convt_item(&c, O, X, Wt, B, ng / c.G, ng % c.G, Cg * blk / nblk, Cg * (blk + 1) / nblk,
                   buf);
      }
      free(buf);
    }
    return fail ? oom("conv_transpose2d") : SG_OK;
  }
  char *buf = c.buf_bytes ? malloc(c.buf_bytes) : NULL;
  if (c.buf_bytes && !buf) return oom("conv_transpose2d");
  for (int64_t it = 0; it < items; it++) {
    int64_t ng = it / nblk, blk = it % nblk;
    convt_item(&c, O, X, Wt, B, ng / c.G, ng % c.G, Cg * blk / nblk, Cg * (blk + 1) / nblk, buf);
  }
  free(buf);
  return SG_OK;
}

/* ---------------- conv2d_weight ---------------- */

static sg_status cpu_conv2d_weight(sg_tensor *gw, const sg_tensor *x, const sg_tensor *go,
                                   const sg_conv_geom *g) {
  const sg_dtype dt = x->dtype;
  if (sg_cpu_conv_is_dense(g)) {
    sg_cpu_conv2d_weight_dense(dt, data_of(gw), data_of(x), data_of(go), g);
    return SG_OK;
  }
  if (sg_onednn_conv_wanted(dt, g)) {
    bool done;
    sg_status st = sg_onednn_conv2d_weight(data_of(gw), data_of(x), data_of(go), g, &done);
    if (st != SG_OK || done) return st;
  }
  if (sg_cpu_conv_use_batched(g))
    return sg_cpu_conv2d_weight_batched(dt, data_of(gw), data_of(x), data_of(go), g);
  const conv_plan c = make_plan(g, dt);
  const size_t es = c.es;
  const int64_t P = c.P, Kg = c.Kg, ckk = c.ckk;
  const int64_t wn = g->K * ckk; /* elements of gw */
  const char *X = data_of(x), *GO = data_of(go);
  char *GW = data_of(gw);
  memset(GW, 0, (size_t)wn * es);
  if (c.items == 0 || P == 0) return SG_OK;
  const int nth = max_threads();
  if (spread_items(c.items, nth) && nth > 1) {
    /* Each thread accumulates into its own copy of gw; then they are summed.
     * Static schedule: which items each copy holds must not depend on the
     * threads' timing, or the sums (so the gradient's last bits) change
     * from run to run. */
    char *acc = calloc((size_t)nth, (size_t)wn * es);
    if (!acc) return oom("conv2d_weight");
    int fail = 0;
#pragma omp parallel reduction(| : fail)
    {
      char *buf = c.buf_bytes ? malloc(c.buf_bytes) : NULL;
      char *mine = acc + (size_t)thread_id() * (size_t)wn * es;
      if (c.buf_bytes && !buf) fail = 1;
#pragma omp for schedule(static)
      for (int64_t it = 0; it < c.items; it++) {
        if (c.buf_bytes && !buf) continue;
        conv_tile t = load_tile(&c, X, it, buf, false);
        const char *goi = GO + (size_t)((t.n * g->K + t.gi * Kg) * P + t.oh0 * g->Wo) * es;
        sg_cpu_conv_gemm(dt, false, true, Kg, ckk, t.T, 1.0, goi, P, t.cols, t.ldb,
             mine + (size_t)(t.gi * Kg * ckk) * es, ckk);
      }
      free(buf);
      int nt = num_threads_now();
#pragma omp barrier
      int64_t lo, hi;
      my_share(wn, &lo, &hi);
      if (dt == SG_FLOAT32) {
        float *o = (float *)GW;
        for (int t = 0; t < nt; t++) {
          const float *a = (const float *)acc + (size_t)t * (size_t)wn;
          for (int64_t i = lo; i < hi; i++) o[i] += a[i];
        }
      } else {
        double *o = (double *)GW;
        for (int t = 0; t < nt; t++) {
          const double *a = (const double *)acc + (size_t)t * (size_t)wn;
          for (int64_t i = lo; i < hi; i++) o[i] += a[i];
        }
      }
    }
    free(acc);
    return fail ? oom("conv2d_weight") : SG_OK;
  }
  char *buf = c.buf_bytes ? malloc(c.buf_bytes) : NULL;
  if (c.buf_bytes && !buf) return oom("conv2d_weight");
  for (int64_t it = 0; it < c.items; it++) {
    conv_tile t = load_tile(&c, X, it, buf, true);
    const char *goi = GO + (size_t)((t.n * g->K + t.gi * Kg) * P + t.oh0 * g->Wo) * es;
    sg_cpu_conv_gemm(dt, false, true, Kg, ckk, t.T, 1.0, goi, P, t.cols, t.ldb,
         GW + (size_t)(t.gi * Kg * ckk) * es, ckk);
  }
  free(buf);
  return SG_OK;
}

/* ---------------- unfold / fold ---------------- */

static sg_status cpu_unfold(sg_tensor *cols, const sg_tensor *x, const sg_conv_geom *g) {
  const sg_dtype dt = x->dtype;
  const size_t es = sg_dtype_size(dt);
  const int64_t ckk = g->C * g->kh * g->kw, L = g->Ho * g->Wo, HW = g->H * g->W;
  const char *X = data_of(x);
  char *O = data_of(cols);
  const int64_t nrows = g->N * ckk;
#pragma omp parallel for schedule(static) if (nrows * L > 32768)
  for (int64_t nr = 0; nr < nrows; nr++) {
    int64_t n = nr / ckk, r = nr % ckk;
    sg_cpu_conv_im2col(dt, g, X + (size_t)(n * g->C * HW) * es, O + (size_t)(n * ckk * L) * es, L, 0, g->Ho,
           r, r + 1);
  }
  return SG_OK;
}

static sg_status cpu_fold(sg_tensor *out, const sg_tensor *cols, const sg_conv_geom *g) {
  const sg_dtype dt = out->dtype;
  const size_t es = sg_dtype_size(dt);
  const int64_t ckk = g->C * g->kh * g->kw, L = g->Ho * g->Wo, HW = g->H * g->W;
  const char *CL = data_of(cols);
  char *O = data_of(out);
  const int64_t nch = g->N * g->C;
#pragma omp parallel for schedule(static) if (nch * HW > 32768)
  for (int64_t nc = 0; nc < nch; nc++) {
    int64_t n = nc / g->C, c = nc % g->C;
    char *oi = O + (size_t)(n * g->C * HW) * es;
    memset(oi + (size_t)(c * HW) * es, 0, (size_t)HW * es);
    sg_cpu_conv_col2im(dt, g, CL + (size_t)(n * ckk * L) * es, L, oi, 0, g->Ho, c, c + 1);
  }
  return SG_OK;
}

const struct sg_conv_kernels sg_cpu_conv_kernels = {
    .conv2d = cpu_conv2d,
    .conv_transpose2d = cpu_conv_transpose2d,
    .conv2d_weight = cpu_conv2d_weight,
    .unfold = cpu_unfold,
    .fold = cpu_fold,
};
