/* CUDA kernels of the conv family (internal/kernels_conv.h).
 *
 * conv2d, conv_transpose2d and conv2d_weight run through cuDNN (its legacy
 * convolution API, still in cuDNN 9): conv2d is cuDNN's forward
 * convolution, conv_transpose2d its backward-data (the adjoint of conv2d's
 * input map) and conv2d_weight its backward-filter, all in cross-correlation
 * mode with groups and dilation set on the descriptor, NCHW tensors. The
 * bias is added by a small kernel afterwards (as the CPU adds it after the
 * GEMM).
 *
 * Algorithms are chosen once per (op, dtype, TF32 switch, geometry) and
 * kept in a small hash table: cudnnFind*AlgorithmEx times the candidates on
 * the call's own buffers with a workspace from the sgen allocator (sized
 * from cudnnGet*_v7's list, capped at SG_CONV_WS_CAP); if Find fails, the
 * first usable entry of the _v7 heuristics is taken. Float32 math is FMA
 * only (no TF32) unless sg_get_allow_tf32() is on; candidates whose math
 * type is not allowed are skipped (if none is left, the first candidate
 * runs with FMA math forced on the descriptor); half-precision
 * down-conversion is never allowed.
 *
 * When cuDNN cannot do a geometry (no algorithm, CUDNN_STATUS_NOT_SUPPORTED,
 * or a tensor of 2^31 elements or more) the op falls back to im2col /
 * col2im kernels (conv_im2col_cuda.cu) and cuBLAS GEMMs, the CPU's method,
 * a chunk of images at a time. unfold and fold are im2col / col2im. */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "cuda/cuda_internal.h"
#include "cuda/nn_kernels_cuda.h"
#include "internal/kernels_conv.h"

/* Most workspace handed to one cuDNN convolution. */
#define SG_CONV_WS_CAP ((size_t)512 << 20)
/* Column buffer of the fallback path: at least one image. */
#define SG_CONV_COL_BYTES ((size_t)64 << 20)

typedef enum { OP_FWD = 0, OP_BWD_DATA = 1, OP_BWD_FILTER = 2 } conv_op;

static const char *op_name(conv_op op) {
  return op == OP_FWD ? "conv2d" : op == OP_BWD_DATA ? "conv_transpose2d" : "conv2d_weight";
}

/* ---------------- algorithm cache ---------------- */

#define KEY_LEN 19
#define CACHE_SLOTS 1024 /* power of 2 */

typedef struct {
  bool used;
  int64_t key[KEY_LEN];
  int algo; /* -1: cuDNN cannot do it, use the fallback */
  cudnnMathType_t math;
  size_t ws;
} algo_entry;

static struct {
  pthread_mutex_t lock;
  algo_entry slot[CACHE_SLOTS];
  int count;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void make_key(int64_t *key, conv_op op, sg_dtype dt, bool tf32, const sg_conv_geom *g) {
  const int64_t k[KEY_LEN] = {op,    dt,    tf32,  g->N,  g->C,  g->H,  g->W,
                              g->K,  g->Ho, g->Wo, g->kh, g->kw, g->sh, g->sw,
                              g->ph, g->pw, g->dh, g->dw, g->groups};
  memcpy(key, k, sizeof k);
}

static uint64_t hash_key(const int64_t *key) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a over the words */
  for (int i = 0; i < KEY_LEN; i++) {
    h ^= (uint64_t)key[i];
    h *= 1099511628211ull;
    h ^= h >> 29;
  }
  return h;
}

static bool cache_get(const int64_t *key, algo_entry *out) {
  bool found = false;
  pthread_mutex_lock(&cache.lock);
  for (uint64_t i = hash_key(key) & (CACHE_SLOTS - 1), n = 0; n < CACHE_SLOTS;
       i = (i + 1) & (CACHE_SLOTS - 1), n++) {
    algo_entry *e = &cache.slot[i];
    if (!e->used) break;
    if (memcmp(e->key, key, sizeof e->key) == 0) {
      *out = *e;
      found = true;
      break;
    }
  }
  pthread_mutex_unlock(&cache.lock);
  return found;
}

/* Stores (or replaces) an entry; when the table is 3/4 full, new shapes
 * are simply not cached (chosen again on each call). */
static void cache_put(const algo_entry *in) {
  pthread_mutex_lock(&cache.lock);
  for (uint64_t i = hash_key(in->key) & (CACHE_SLOTS - 1), n = 0; n < CACHE_SLOTS;
       i = (i + 1) & (CACHE_SLOTS - 1), n++) {
    algo_entry *e = &cache.slot[i];
    if (e->used && memcmp(e->key, in->key, sizeof e->key) == 0) {
      *e = *in;
      break;
    }
    if (!e->used) {
      if (cache.count < CACHE_SLOTS * 3 / 4) {
        *e = *in;
        e->used = true;
        cache.count++;
      }
      break;
    }
  }
  pthread_mutex_unlock(&cache.lock);
}

/* ---------------- descriptors ---------------- */

typedef struct {
  cudnnTensorDescriptor_t x, y; /* image side, column side */
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t c;
} conv_descs;

static void descs_destroy(conv_descs *d) {
  if (d->x) (void)cudnnDestroyTensorDescriptor(d->x);
  if (d->y) (void)cudnnDestroyTensorDescriptor(d->y);
  if (d->w) (void)cudnnDestroyFilterDescriptor(d->w);
  if (d->c) (void)cudnnDestroyConvolutionDescriptor(d->c);
  memset(d, 0, sizeof *d);
}

static bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

/* Whether cuDNN's int dims and its < 2^31 elements per tensor hold. */
static bool fits_cudnn(const sg_conv_geom *g) {
  const int64_t v[] = {g->N,  g->C,  g->H,  g->W,  g->K,  g->Ho, g->Wo, g->kh,
                       g->kw, g->sh, g->sw, g->ph, g->pw, g->dh, g->dw, g->groups};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
    if (!fits_int(v[i])) return false;
  const double lim = (double)INT_MAX;
  return (double)g->N * (double)g->C * (double)g->H * (double)g->W <= lim &&
         (double)g->N * (double)g->K * (double)g->Ho * (double)g->Wo <= lim &&
         (double)g->K * (double)(g->C / g->groups) * (double)g->kh * (double)g->kw <= lim;
}

static cudnnMathType_t base_math(sg_dtype dt, bool tf32) {
  return dt == SG_FLOAT32 && !tf32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}

/* Float32 without TF32: FMA math only. Never a down-conversion to half. */
static bool math_ok(sg_dtype dt, bool tf32, cudnnMathType_t m) {
  if (m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;
  return !(dt == SG_FLOAT32 && !tf32) || m == CUDNN_FMA_MATH;
}

static sg_status descs_make(conv_descs *d, const sg_conv_geom *g, sg_dtype dt, bool tf32) {
  memset(d, 0, sizeof *d);
  const cudnnDataType_t ty = dt == SG_FLOAT32 ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
  SG_CUDNN_TRY(cudnnCreateTensorDescriptor(&d->x));
  SG_CUDNN_TRY(cudnnCreateTensorDescriptor(&d->y));
  SG_CUDNN_TRY(cudnnCreateFilterDescriptor(&d->w));
  SG_CUDNN_TRY(cudnnCreateConvolutionDescriptor(&d->c));
  SG_CUDNN_TRY(cudnnSetTensor4dDescriptor(d->x, CUDNN_TENSOR_NCHW, ty, (int)g->N, (int)g->C,
                                          (int)g->H, (int)g->W));
  SG_CUDNN_TRY(cudnnSetTensor4dDescriptor(d->y, CUDNN_TENSOR_NCHW, ty, (int)g->N, (int)g->K,
                                          (int)g->Ho, (int)g->Wo));
  SG_CUDNN_TRY(cudnnSetFilter4dDescriptor(d->w, ty, CUDNN_TENSOR_NCHW, (int)g->K,
                                          (int)(g->C / g->groups), (int)g->kh, (int)g->kw));
  SG_CUDNN_TRY(cudnnSetConvolution2dDescriptor(d->c, (int)g->ph, (int)g->pw, (int)g->sh,
                                               (int)g->sw, (int)g->dh, (int)g->dw,
                                               CUDNN_CROSS_CORRELATION, ty));
  SG_CUDNN_TRY(cudnnSetConvolutionGroupCount(d->c, (int)g->groups));
  SG_CUDNN_TRY(cudnnSetConvolutionMathType(d->c, base_math(dt, tf32)));
  /* cuDNN's idea of the output size must be ours (it is, by construction
   * of the geometry in ops/conv.c; a mismatch means: use the fallback). */
  int on, oc, oh, ow;
  SG_CUDNN_TRY(cudnnGetConvolution2dForwardOutputDim(d->c, d->x, d->w, &on, &oc, &oh, &ow));
  if (on != g->N || oc != g->K || oh != g->Ho || ow != g->Wo) return SG_ERR_UNSUPPORTED;
  return SG_OK;
}

/* ---------------- choosing the algorithm ---------------- */

typedef struct {
  int algo;
  cudnnStatus_t status;
  size_t memory;
  cudnnMathType_t math;
} perf_t;

#define MAX_ALGOS 16

/* The _v7 heuristics' candidates of op (count returned, 0 on failure). */
static int heuristics(conv_op op, cudnnHandle_t h, const conv_descs *d, perf_t *out) {
  int n = 0;
  cudnnStatus_t s;
  if (op == OP_FWD) {
    cudnnConvolutionFwdAlgoPerf_t p[MAX_ALGOS];
    s = cudnnGetConvolutionForwardAlgorithm_v7(h, d->x, d->w, d->c, d->y, MAX_ALGOS, &n, p);
    for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < n; i++)
      out[i] = (perf_t){(int)p[i].algo, p[i].status, p[i].memory, p[i].mathType};
  } else if (op == OP_BWD_DATA) {
    cudnnConvolutionBwdDataAlgoPerf_t p[MAX_ALGOS];
    s = cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d->w, d->y, d->c, d->x, MAX_ALGOS, &n, p);
    for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < n; i++)
      out[i] = (perf_t){(int)p[i].algo, p[i].status, p[i].memory, p[i].mathType};
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t p[MAX_ALGOS];
    s = cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d->x, d->y, d->c, d->w, MAX_ALGOS, &n,
                                                      p);
    for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < n; i++)
      out[i] = (perf_t){(int)p[i].algo, p[i].status, p[i].memory, p[i].mathType};
  }
  if (s != CUDNN_STATUS_SUCCESS || n < 0) return 0;
  return n > MAX_ALGOS ? MAX_ALGOS : n;
}

/* cudnnFind*Ex on the real buffers (the output is overwritten, which is
 * fine: the chosen algorithm writes it again). Count returned, -1 when Find
 * itself failed. */
static int find(conv_op op, cudnnHandle_t h, const conv_descs *d, void *x, void *w, void *y,
                void *ws, size_t wsb, perf_t *out) {
  int n = 0;
  cudnnStatus_t s;
  if (op == OP_FWD) {
    cudnnConvolutionFwdAlgoPerf_t p[MAX_ALGOS];
    s = cudnnFindConvolutionForwardAlgorithmEx(h, d->x, x, d->w, w, d->c, d->y, y, MAX_ALGOS,
                                               &n, p, ws, wsb);
    for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < n; i++)
      out[i] = (perf_t){(int)p[i].algo, p[i].status, p[i].memory, p[i].mathType};
  } else if (op == OP_BWD_DATA) {
    cudnnConvolutionBwdDataAlgoPerf_t p[MAX_ALGOS];
    s = cudnnFindConvolutionBackwardDataAlgorithmEx(h, d->w, w, d->y, y, d->c, d->x, x,
                                                    MAX_ALGOS, &n, p, ws, wsb);
    for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < n; i++)
      out[i] = (perf_t){(int)p[i].algo, p[i].status, p[i].memory, p[i].mathType};
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t p[MAX_ALGOS];
    s = cudnnFindConvolutionBackwardFilterAlgorithmEx(h, d->x, x, d->y, y, d->c, d->w, w,
                                                      MAX_ALGOS, &n, p, ws, wsb);
    for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < n; i++)
      out[i] = (perf_t){(int)p[i].algo, p[i].status, p[i].memory, p[i].mathType};
  }
  if (s != CUDNN_STATUS_SUCCESS || n < 0) return -1;
  return n > MAX_ALGOS ? MAX_ALGOS : n;
}

/* The first candidate that succeeded, needs at most `limit` bytes and
 * uses an allowed math type; -1 if none. */
static int pick(const perf_t *p, int n, size_t limit, sg_dtype dt, bool tf32) {
  for (int i = 0; i < n; i++)
    if (p[i].status == CUDNN_STATUS_SUCCESS && p[i].memory <= limit &&
        math_ok(dt, tf32, p[i].math))
      return i;
  return -1;
}

/* Sets e from candidate p, with the math type it reported, or (float32
 * without TF32, when no candidate reported FMA math) FMA math forced on
 * the descriptor: cuDNN then runs the algorithm without tensor cores or
 * answers NOT_SUPPORTED, which sends the geometry to the fallback. */
static void take(algo_entry *e, const perf_t *p, bool force_fma) {
  e->algo = p->algo;
  e->math = force_fma ? CUDNN_FMA_MATH : p->math;
  e->ws = p->memory;
}

/* The first candidate that succeeded within `limit` bytes, whatever its
 * math type (still never a down-conversion); -1 if none. */
static int pick_any(const perf_t *p, int n, size_t limit) {
  for (int i = 0; i < n; i++)
    if (p[i].status == CUDNN_STATUS_SUCCESS && p[i].memory <= limit &&
        p[i].math != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
      return i;
  return -1;
}

/* Chooses the algorithm of (op, geometry); sets e->algo = -1 when cuDNN
 * has none. Errors only for a failed device call. */
static sg_status choose(algo_entry *e, conv_op op, cudnnHandle_t h, const conv_descs *d,
                        sg_dtype dt, bool tf32, void *x, void *w, void *y) {
  perf_t hp[MAX_ALGOS], fp[MAX_ALGOS];
  int nh = heuristics(op, h, d, hp);
  size_t want = 0;
  for (int i = 0; i < nh; i++)
    if (hp[i].status == CUDNN_STATUS_SUCCESS && math_ok(dt, tf32, hp[i].math) &&
        hp[i].memory > want)
      want = hp[i].memory;
  if (want > SG_CONV_WS_CAP) want = SG_CONV_WS_CAP;
  void *ws = NULL;
  while (want > 0 && !(ws = sg_cuda_alloc(want))) want /= 2; /* tight memory: try less */
  if (!ws) want = 0;
  sg_clear_error();
  int nf = find(op, h, d, x, w, y, ws, want, fp);
  if (ws) sg_cuda_free(ws, want);
  (void)cudaGetLastError(); /* a failed candidate must not leave an error behind */
  e->algo = -1;
  const bool fma_only = dt == SG_FLOAT32 && !tf32;
  int i;
  if (nf > 0 && (i = pick(fp, nf, want, dt, tf32)) >= 0)
    take(e, &fp[i], false);
  else if ((i = pick(hp, nh, SG_CONV_WS_CAP, dt, tf32)) >= 0)
    take(e, &hp[i], false);
  else if (nf > 0 && (i = pick_any(fp, nf, want)) >= 0)
    take(e, &fp[i], fma_only);
  else if ((i = pick_any(hp, nh, SG_CONV_WS_CAP)) >= 0)
    take(e, &hp[i], fma_only);
  return SG_OK;
}

/* ---------------- running through cuDNN ---------------- */

/* Tests: route every convolution through the fallback. */
static bool force_fallback;

void sg_cuda_conv_force_fallback(bool on) { __atomic_store_n(&force_fallback, on, __ATOMIC_RELAXED); }

/* 0: done; 1: cuDNN cannot do it (use the fallback); -1: error recorded.
 * x: image side, w: weight, y: column side; which one is written depends
 * on op (y, x, w). */
static int run_cudnn_aligned(conv_op op, sg_dtype dt, const sg_conv_geom *g, void *x, void *w,
                             void *y) {
  cudnnHandle_t h = sg_cuda_cudnn();
  if (!h) return -1;
  const bool tf32 = dt == SG_FLOAT32 && sg_get_allow_tf32();
  algo_entry e;
  memset(&e, 0, sizeof e);
  make_key(e.key, op, dt, tf32, g);
  conv_descs d;
  sg_status st = descs_make(&d, g, dt, tf32);
  if (st != SG_OK) {
    /* a geometry cuDNN's descriptors refuse: the fallback can do it */
    descs_destroy(&d);
    return 1;
  }
  if (!cache_get(e.key, &e)) {
    if (choose(&e, op, h, &d, dt, tf32, x, w, y) != SG_OK) {
      descs_destroy(&d);
      return -1;
    }
    cache_put(&e);
  }
  if (e.algo < 0) {
    descs_destroy(&d);
    return 1;
  }
  if (SG_CUDNN_CHECK(cudnnSetConvolutionMathType(d.c, e.math)) != SG_OK) {
    descs_destroy(&d);
    return -1;
  }
  void *ws = NULL;
  if (e.ws > 0 && !(ws = sg_cuda_alloc(e.ws))) {
    descs_destroy(&d);
    return -1;
  }
  const float af = 1.0f, bf = 0.0f;
  const double ad = 1.0, bd = 0.0;
  const void *alpha = dt == SG_FLOAT32 ? (const void *)&af : (const void *)&ad;
  const void *beta = dt == SG_FLOAT32 ? (const void *)&bf : (const void *)&bd;
  cudnnStatus_t s;
  if (op == OP_FWD)
    s = cudnnConvolutionForward(h, alpha, d.x, x, d.w, w, d.c, (cudnnConvolutionFwdAlgo_t)e.algo,
                                ws, e.ws, beta, d.y, y);
  else if (op == OP_BWD_DATA)
    s = cudnnConvolutionBackwardData(h, alpha, d.w, w, d.y, y, d.c,
                                     (cudnnConvolutionBwdDataAlgo_t)e.algo, ws, e.ws, beta, d.x,
                                     x);
  else
    s = cudnnConvolutionBackwardFilter(h, alpha, d.x, x, d.y, y, d.c,
                                       (cudnnConvolutionBwdFilterAlgo_t)e.algo, ws, e.ws, beta,
                                       d.w, w);
  if (ws) sg_cuda_free(ws, e.ws);
  descs_destroy(&d);
  if (s == CUDNN_STATUS_NOT_SUPPORTED) {
    /* remember: this geometry goes to the fallback from now on */
    e.algo = -1;
    cache_put(&e);
    return 1;
  }
  const char *call = op == OP_FWD        ? "cudnnConvolutionForward"
                     : op == OP_BWD_DATA ? "cudnnConvolutionBackwardData"
                                         : "cudnnConvolutionBackwardFilter";
  return sg_cudnn_check_(s, call, __FILE__, __LINE__) == SG_OK ? 0 : -1;
}

/* cuDNN's kernels may load vectors: every buffer is given 16-byte aligned.
 * Tensors from the allocator are (256 bytes); a view with an element
 * offset may not be, and is then staged through an aligned copy (inputs
 * copied in, the output copied back). Returns as run_cudnn_aligned. */
static int run_cudnn(conv_op op, sg_dtype dt, const sg_conv_geom *g, void *x, void *w, void *y) {
  if (!fits_cudnn(g) || __atomic_load_n(&force_fallback, __ATOMIC_RELAXED)) return 1;
  const size_t es = sg_dtype_size(dt);
  void *ptr[3] = {x, w, y};
  const size_t bytes[3] = {(size_t)(g->N * g->C * g->H * g->W) * es,
                           (size_t)(g->K * (g->C / g->groups) * g->kh * g->kw) * es,
                           (size_t)(g->N * g->K * g->Ho * g->Wo) * es};
  const int out = op == OP_FWD ? 2 : op == OP_BWD_DATA ? 0 : 1;
  void *tmp[3] = {NULL, NULL, NULL};
  int r = 0;
  for (int i = 0; i < 3 && r == 0; i++) {
    if ((uintptr_t)ptr[i] % 16 == 0) continue;
    if (!(tmp[i] = sg_cuda_alloc(bytes[i]))) {
      r = -1;
    } else if (i != out && SG_CUDA_CHECK(cudaMemcpyAsync(tmp[i], ptr[i], bytes[i],
                                                         cudaMemcpyDeviceToDevice,
                                                         sg_cuda_stream())) != SG_OK) {
      r = -1;
    }
  }
  if (r == 0)
    r = run_cudnn_aligned(op, dt, g, tmp[0] ? tmp[0] : x, tmp[1] ? tmp[1] : w,
                          tmp[2] ? tmp[2] : y);
  if (r == 0 && tmp[out] &&
      SG_CUDA_CHECK(cudaMemcpyAsync(ptr[out], tmp[out], bytes[out], cudaMemcpyDeviceToDevice,
                                    sg_cuda_stream())) != SG_OK)
    r = -1;
  for (int i = 0; i < 3; i++)
    if (tmp[i]) sg_cuda_free(tmp[i], bytes[i]);
  return r;
}

/* ---------------- fallback: im2col + cuBLAS ---------------- */

static sg_cuda_im2col_geom col_geom(const sg_conv_geom *g) {
  sg_cuda_im2col_geom c = {g->C,  g->H,  g->W,  g->Ho, g->Wo, g->kh, g->kw,
                           g->sh, g->sw, g->ph, g->pw, g->dh, g->dw};
  return c;
}

/* Images per chunk of the column buffer, and that buffer. */
static void *col_buffer(const sg_conv_geom *g, size_t es, int64_t *chunk, size_t *bytes) {
  size_t per = (size_t)(g->C * g->kh * g->kw) * (size_t)(g->Ho * g->Wo) * es;
  int64_t n = per > 0 ? (int64_t)(SG_CONV_COL_BYTES / per) : g->N;
  if (n < 1) n = 1;
  if (n > g->N) n = g->N;
  *chunk = n;
  *bytes = per * (size_t)n;
  return sg_cuda_alloc(*bytes > 0 ? *bytes : 1);
}

static sg_status fallback(conv_op op, sg_dtype dt, const sg_conv_geom *g, char *x, char *w,
                          char *y) {
  const size_t es = sg_dtype_size(dt);
  const int64_t G = g->groups, Cg = g->C / G, Kg = g->K / G;
  const int64_t ckk = Cg * g->kh * g->kw, P = g->Ho * g->Wo, HW = g->H * g->W;
  const sg_cuda_im2col_geom cg = col_geom(g);
  int64_t chunk;
  size_t bytes;
  char *cols = col_buffer(g, es, &chunk, &bytes);
  if (!cols) return sg_last_status();
  const size_t col_img = (size_t)(g->C * g->kh * g->kw * P) * es; /* bytes per image */
  sg_status st = SG_OK;
  for (int64_t n0 = 0; n0 < g->N && st == SG_OK; n0 += chunk) {
    int64_t nc = g->N - n0 < chunk ? g->N - n0 : chunk;
    char *xi = x + (size_t)(n0 * g->C * HW) * es;
    char *yi = y + (size_t)(n0 * g->K * P) * es;
    if (op != OP_BWD_DATA) st = sg_cuda_im2col(dt, &cg, nc, xi, cols);
    for (int64_t i = 0; i < nc && st == SG_OK; i++) {
      char *ci = cols + (size_t)i * col_img;
      char *yn = yi + (size_t)(i * g->K * P) * es;
      if (op == OP_FWD) {
        /* y_g^T (P x Kg) = cols_g^T (P x ckk) W_g^T (ckk x Kg) */
        st = sg_cuda_gemm(dt, false, false, P, Kg, ckk, ci, P, ckk * P, w, ckk, Kg * ckk, 0.0,
                          yn, P, Kg * P, G);
      } else if (op == OP_BWD_DATA) {
        /* cols_g^T (P x ckk) = y_g^T (P x Kg) W_g (Kg x ckk) */
        st = sg_cuda_gemm(dt, false, true, P, ckk, Kg, yn, P, Kg * P, w, ckk, Kg * ckk, 0.0, ci,
                          P, ckk * P, G);
      } else {
        /* gw_g^T (ckk x Kg) (+)= cols_g (ckk x P) y_g^T (P x Kg) */
        st = sg_cuda_gemm(dt, true, false, ckk, Kg, P, ci, P, ckk * P, yn, P, Kg * P,
                          n0 + i == 0 ? 0.0 : 1.0, w, ckk, Kg * ckk, G);
      }
    }
    if (st == SG_OK && op == OP_BWD_DATA) st = sg_cuda_col2im(dt, &cg, nc, cols, xi);
  }
  sg_cuda_free(cols, bytes > 0 ? bytes : 1);
  return st;
}

/* ---------------- the slots ---------------- */

static sg_status check_dtype(const char *op, const sg_tensor *t) {
  if (t->dtype == SG_FLOAT32 || t->dtype == SG_FLOAT64) return SG_OK;
  return sg_error(SG_ERR_UNSUPPORTED, "%s: dtype %s not supported on cuda", op,
                  sg_dtype_name(t->dtype));
}

static sg_status zero(sg_tensor *t) {
  size_t bytes = (size_t)sg_numel(t) * sg_dtype_size(t->dtype);
  if (bytes == 0) return SG_OK;
  return SG_CUDA_CHECK(cudaMemsetAsync(sg_data_ptr(t), 0, bytes, sg_cuda_stream()));
}

/* Runs op through cuDNN, or the fallback when cuDNN cannot. */
static sg_status conv_any(conv_op op, sg_dtype dt, const sg_conv_geom *g, void *x, void *w,
                          void *y) {
  int r = run_cudnn(op, dt, g, x, w, y);
  if (r < 0) return sg_last_status() != SG_OK ? sg_last_status() : SG_ERR_STATE;
  if (r == 0) return SG_OK;
  sg_clear_error();
  return fallback(op, dt, g, x, w, y);
}

static sg_status cuda_conv2d(sg_tensor *out, const sg_tensor *x, const sg_tensor *w,
                             const sg_tensor *b, const sg_conv_geom *g) {
  if (check_dtype(op_name(OP_FWD), x) != SG_OK) return sg_last_status();
  if (sg_numel(out) == 0) return SG_OK;
  const sg_dtype dt = x->dtype;
  sg_status st;
  if (g->C == 0) /* nothing to sum: the output is the bias */
    st = zero(out);
  else
    st = conv_any(OP_FWD, dt, g, sg_data_ptr(x), sg_data_ptr(w), sg_data_ptr(out));
  if (st == SG_OK && b)
    st = sg_cuda_add_channel_bias(dt, sg_data_ptr(out), g->N, g->K, g->Ho * g->Wo,
                                  sg_data_ptr(b));
  return st;
}

static sg_status cuda_conv_transpose2d(sg_tensor *out, const sg_tensor *x, const sg_tensor *w,
                                       const sg_tensor *b, const sg_conv_geom *g) {
  if (check_dtype(op_name(OP_BWD_DATA), x) != SG_OK) return sg_last_status();
  if (sg_numel(out) == 0) return SG_OK;
  const sg_dtype dt = x->dtype;
  sg_status st;
  if (g->K == 0)
    st = zero(out);
  else
    st = conv_any(OP_BWD_DATA, dt, g, sg_data_ptr(out), sg_data_ptr(w), sg_data_ptr(x));
  if (st == SG_OK && b)
    st = sg_cuda_add_channel_bias(dt, sg_data_ptr(out), g->N, g->C, g->H * g->W,
                                  sg_data_ptr(b));
  return st;
}

static sg_status cuda_conv2d_weight(sg_tensor *gw, const sg_tensor *x, const sg_tensor *go,
                                    const sg_conv_geom *g) {
  if (check_dtype(op_name(OP_BWD_FILTER), x) != SG_OK) return sg_last_status();
  if (sg_numel(gw) == 0) return SG_OK;
  if (g->N == 0 || g->Ho * g->Wo == 0) return zero(gw);
  return conv_any(OP_BWD_FILTER, x->dtype, g, sg_data_ptr(x), sg_data_ptr(gw), sg_data_ptr(go));
}

static sg_status cuda_unfold(sg_tensor *cols, const sg_tensor *x, const sg_conv_geom *g) {
  if (check_dtype("unfold", x) != SG_OK) return sg_last_status();
  sg_cuda_im2col_geom cg = col_geom(g);
  return sg_cuda_im2col(x->dtype, &cg, g->N, sg_data_ptr(x), sg_data_ptr(cols));
}

static sg_status cuda_fold(sg_tensor *out, const sg_tensor *cols, const sg_conv_geom *g) {
  if (check_dtype("fold", out) != SG_OK) return sg_last_status();
  sg_cuda_im2col_geom cg = col_geom(g);
  return sg_cuda_col2im(out->dtype, &cg, g->N, sg_data_ptr(cols), sg_data_ptr(out));
}

const struct sg_conv_kernels sg_cuda_conv_kernels = {
    .conv2d = cuda_conv2d,
    .conv_transpose2d = cuda_conv_transpose2d,
    .conv2d_weight = cuda_conv2d_weight,
    .unfold = cuda_unfold,
    .fold = cuda_fold,
};
