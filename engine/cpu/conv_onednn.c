/* CPU convolutions through oneDNN, the library PyTorch's CPU convolutions
 * come from.
 *
 * The three kernels of the conv family map onto oneDNN's convolution
 * primitives: conv2d is forward propagation, conv_transpose2d is backward
 * data (plus our own bias add), conv2d_weight is backward weights. The
 * engine's tensors stay NCHW; oneDNN's fast kernels want channel-blocked
 * layouts (nChw8c on AVX2), so each call reorders its operands into the
 * layout the primitive chose and the result back (measured in
 * docs/performance.md: the reorders cost less than the blocked kernels
 * save). SGEN_ONEDNN_LAYOUT=plain keeps every operand NCHW, for
 * benchmarks.
 *
 * Creating a primitive descriptor and JIT-compiling its kernel costs far
 * more than a small convolution, so primitives are cached by (kind,
 * geometry, bias, layout) in a small LRU table. The table, the oneDNN
 * engine and stream are process-wide (docs/decisions.md), guarded by a
 * mutex; execution runs outside it on the caller's OpenMP pool, the one
 * OpenBLAS and our kernels share (oneDNN is built on OpenMP too).
 *
 * float64 is not served: oneDNN's CPU convolutions are float32/bf16/int8. */
#include "cpu/conv_onednn.h"

#include <stdlib.h>
#include <string.h>

#include "internal/backend.h"
#include "sgen/error.h"
#include "sgen/sgen.h"

#ifndef SGEN_WITH_ONEDNN

sg_onednn_stats sg_onednn_conv_stats(void) {
  sg_onednn_stats s = {false, 0, 0, 0, 0};
  return s;
}

bool sg_onednn_conv_wanted(sg_dtype dt, const sg_conv_geom *g) {
  (void)dt;
  (void)g;
  return false;
}

sg_status sg_onednn_conv2d(float *out, const float *x, const float *w, const float *b,
                           const sg_conv_geom *g, bool *done) {
  (void)out, (void)x, (void)w, (void)b, (void)g;
  *done = false;
  return SG_OK;
}

sg_status sg_onednn_conv_transpose2d(float *out, const float *x, const float *w, const float *b,
                                     const sg_conv_geom *g, bool *done) {
  (void)out, (void)x, (void)w, (void)b, (void)g;
  *done = false;
  return SG_OK;
}

sg_status sg_onednn_conv2d_weight(float *gw, const float *x, const float *go,
                                  const sg_conv_geom *g, bool *done) {
  (void)gw, (void)x, (void)go, (void)g;
  *done = false;
  return SG_OK;
}

#else

#include <dnnl.h>
#include <pthread.h>

typedef enum { K_FWD, K_BWD_DATA, K_BWD_WEIGHTS } conv_kind;

/* Operand slots of one primitive: two inputs and one output, each with
 * the engine's plain layout and the layout the primitive computes in. */
enum { S_IN0, S_IN1, S_OUT, NSLOTS };

typedef struct {
  conv_kind kind;
  sg_conv_geom g;
  bool bias;
  bool blocked;
  int threads; /* oneDNN fixes a primitive's thread count when it is created */
} conv_key;

typedef struct {
  conv_key key;
  bool declined; /* oneDNN has no implementation: remembered, not retried */
  unsigned long long last_use;
  dnnl_primitive_t prim;
  int arg[NSLOTS];
  dnnl_memory_desc_t plain[NSLOTS], used[NSLOTS], bias_md, scratch_md;
  dnnl_primitive_t reorder[NSLOTS]; /* NULL where plain == used */
  size_t used_bytes[NSLOTS], scratch_bytes;
} conv_entry;

#define CACHE_ENTRIES 256

static struct {
  pthread_mutex_t lock;
  bool init_failed;
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  conv_entry entries[CACHE_ENTRIES];
  int n;
  unsigned long long clock;
  int64_t calls, declined, by_rule;
} dnn = {.lock = PTHREAD_MUTEX_INITIALIZER};

bool sg_onednn_conv_wanted(sg_dtype dt, const sg_conv_geom *g) {
  if (dt != SG_FLOAT32) return false;
  if (g->N == 0 || g->C == 0 || g->K == 0 || g->H * g->W == 0 || g->Ho * g->Wo == 0) return false;
  const char *env = getenv("SGEN_CONV");
  return !(env && strcmp(env, "im2col") == 0);
}

sg_onednn_stats sg_onednn_conv_stats(void) {
  pthread_mutex_lock(&dnn.lock);
  sg_onednn_stats s = {true, dnn.calls, dnn.declined, dnn.by_rule, 0};
  for (int i = 0; i < dnn.n; i++) s.primitives += !dnn.entries[i].declined;
  pthread_mutex_unlock(&dnn.lock);
  return s;
}

static bool want_blocked(void) {
  const char *env = getenv("SGEN_ONEDNN_LAYOUT");
  return !(env && strcmp(env, "plain") == 0);
}

/* Lazily made engine and stream; false when oneDNN cannot start. */
static bool ensure_engine(void) {
  if (dnn.engine) return true;
  if (dnn.init_failed) return false;
  if (dnnl_engine_create(&dnn.engine, dnnl_cpu, 0) != dnnl_success) {
    dnn.engine = NULL;
    dnn.init_failed = true;
    return false;
  }
  if (dnnl_stream_create(&dnn.stream, dnn.engine, dnnl_stream_default_flags) != dnnl_success) {
    dnnl_engine_destroy(dnn.engine);
    dnn.engine = NULL;
    dnn.init_failed = true;
    return false;
  }
  return true;
}

static bool key_equal(const conv_key *a, const conv_key *b) {
  return a->kind == b->kind && a->bias == b->bias && a->blocked == b->blocked &&
         a->threads == b->threads && memcmp(&a->g, &b->g, sizeof a->g) == 0;
}

static void entry_release(conv_entry *e) {
  if (e->prim) dnnl_primitive_destroy(e->prim);
  for (int s = 0; s < NSLOTS; s++)
    if (e->reorder[s]) dnnl_primitive_destroy(e->reorder[s]);
  memset(e, 0, sizeof *e);
}

static dnnl_status_t md_tag(dnnl_memory_desc_t *md, int nd, const dnnl_dims_t dims,
                            dnnl_format_tag_t tag) {
  return dnnl_memory_desc_init_by_tag(md, nd, dims, dnnl_f32, tag);
}

/* Plain (engine-layout) descriptors of the image side, column side and
 * weight of a geometry. */
static dnnl_status_t plain_mds(const sg_conv_geom *g, dnnl_memory_desc_t *img,
                               dnnl_memory_desc_t *col, dnnl_memory_desc_t *wei,
                               dnnl_format_tag_t tag_img, dnnl_format_tag_t tag_wei) {
  dnnl_dims_t di = {g->N, g->C, g->H, g->W}, dc = {g->N, g->K, g->Ho, g->Wo};
  dnnl_status_t st = md_tag(img, 4, di, tag_img);
  if (st == dnnl_success) st = md_tag(col, 4, dc, tag_img);
  if (st != dnnl_success) return st;
  if (g->groups == 1) {
    dnnl_dims_t dw = {g->K, g->C, g->kh, g->kw};
    return md_tag(wei, 4, dw, tag_wei == dnnl_format_tag_any ? dnnl_format_tag_any : dnnl_oihw);
  }
  dnnl_dims_t dw = {g->groups, g->K / g->groups, g->C / g->groups, g->kh, g->kw};
  return md_tag(wei, 5, dw, tag_wei == dnnl_format_tag_any ? dnnl_format_tag_any : dnnl_goihw);
}

/* Builds the primitive of a key into e; false (e->declined) when oneDNN
 * has no implementation for it. */
static bool entry_build(conv_entry *e, const conv_key *k) {
  memset(e, 0, sizeof *e);
  e->key = *k;
  const sg_conv_geom *g = &k->g;
  dnnl_dims_t strides = {g->sh, g->sw}, dil = {g->dh - 1, g->dw - 1};
  dnnl_dims_t pad_l = {g->ph, g->pw}, pad_r = {g->ph, g->pw};
  dnnl_memory_desc_t img, col, wei, img_a, col_a, wei_a;
  dnnl_format_tag_t any = k->blocked ? dnnl_format_tag_any : dnnl_nchw;
  if (plain_mds(g, &img, &col, &wei, dnnl_nchw, dnnl_oihw) != dnnl_success ||
      plain_mds(g, &img_a, &col_a, &wei_a, any, k->blocked ? dnnl_format_tag_any : dnnl_oihw) !=
          dnnl_success) {
    e->declined = true;
    return false;
  }
  dnnl_dims_t db = {k->kind == K_FWD ? g->K : g->C};
  md_tag(&e->bias_md, 1, db, dnnl_x);
  dnnl_primitive_attr_t attr = NULL;
  dnnl_primitive_desc_t hint = NULL, pd = NULL;
  dnnl_convolution_desc_t fwd_d, d;
  bool ok = dnnl_primitive_attr_create(&attr) == dnnl_success &&
            dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) ==
                dnnl_success;
  /* Backward primitives take the forward one as a hint. */
  ok = ok && dnnl_dilated_convolution_forward_desc_init(
                 &fwd_d, dnnl_forward_training, dnnl_convolution_direct, &img_a, &wei_a,
                 k->kind == K_FWD && k->bias ? &e->bias_md : NULL, &col_a, strides, dil, pad_l,
                 pad_r) == dnnl_success;
  if (ok && k->kind == K_FWD) {
    ok = dnnl_primitive_desc_create(&pd, &fwd_d, attr, dnn.engine, NULL) == dnnl_success;
  } else if (ok) {
    ok = dnnl_primitive_desc_create(&hint, &fwd_d, NULL, dnn.engine, NULL) == dnnl_success;
    if (ok && k->kind == K_BWD_DATA)
      ok = dnnl_dilated_convolution_backward_data_desc_init(&d, dnnl_convolution_direct, &img_a,
                                                            &wei_a, &col_a, strides, dil, pad_l,
                                                            pad_r) == dnnl_success;
    else if (ok)
      ok = dnnl_dilated_convolution_backward_weights_desc_init(&d, dnnl_convolution_direct, &img_a,
                                                               &wei_a, NULL, &col_a, strides, dil,
                                                               pad_l, pad_r) == dnnl_success;
    ok = ok && dnnl_primitive_desc_create(&pd, &d, attr, dnn.engine, hint) == dnnl_success;
  }
  if (attr) dnnl_primitive_attr_destroy(attr);
  if (hint) dnnl_primitive_desc_destroy(hint);
  if (!ok) {
    if (pd) dnnl_primitive_desc_destroy(pd);
    e->declined = true;
    return false;
  }
  dnnl_query_t q[NSLOTS];
  if (k->kind == K_FWD) {
    e->plain[S_IN0] = img, e->plain[S_IN1] = wei, e->plain[S_OUT] = col;
    q[S_IN0] = dnnl_query_src_md, q[S_IN1] = dnnl_query_weights_md, q[S_OUT] = dnnl_query_dst_md;
    e->arg[S_IN0] = DNNL_ARG_SRC, e->arg[S_IN1] = DNNL_ARG_WEIGHTS, e->arg[S_OUT] = DNNL_ARG_DST;
  } else if (k->kind == K_BWD_DATA) {
    e->plain[S_IN0] = col, e->plain[S_IN1] = wei, e->plain[S_OUT] = img;
    q[S_IN0] = dnnl_query_diff_dst_md, q[S_IN1] = dnnl_query_weights_md,
    q[S_OUT] = dnnl_query_diff_src_md;
    e->arg[S_IN0] = DNNL_ARG_DIFF_DST, e->arg[S_IN1] = DNNL_ARG_WEIGHTS,
    e->arg[S_OUT] = DNNL_ARG_DIFF_SRC;
  } else {
    e->plain[S_IN0] = img, e->plain[S_IN1] = col, e->plain[S_OUT] = wei;
    q[S_IN0] = dnnl_query_src_md, q[S_IN1] = dnnl_query_diff_dst_md,
    q[S_OUT] = dnnl_query_diff_weights_md;
    e->arg[S_IN0] = DNNL_ARG_SRC, e->arg[S_IN1] = DNNL_ARG_DIFF_DST,
    e->arg[S_OUT] = DNNL_ARG_DIFF_WEIGHTS;
  }
  for (int s = 0; s < NSLOTS && ok; s++) {
    e->used[s] = *dnnl_primitive_desc_query_md(pd, q[s], 0);
    e->used_bytes[s] = dnnl_memory_desc_get_size(&e->used[s]);
    if (dnnl_memory_desc_equal(&e->used[s], &e->plain[s])) continue;
    const dnnl_memory_desc_t *from = s == S_OUT ? &e->used[s] : &e->plain[s];
    const dnnl_memory_desc_t *to = s == S_OUT ? &e->plain[s] : &e->used[s];
    dnnl_primitive_desc_t rpd = NULL;
    ok = dnnl_reorder_primitive_desc_create(&rpd, from, dnn.engine, to, dnn.engine, NULL) ==
             dnnl_success &&
         dnnl_primitive_create(&e->reorder[s], rpd) == dnnl_success;
    if (rpd) dnnl_primitive_desc_destroy(rpd);
  }
  e->scratch_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  e->scratch_bytes = dnnl_memory_desc_get_size(&e->scratch_md);
  ok = ok && dnnl_primitive_create(&e->prim, pd) == dnnl_success;
  dnnl_primitive_desc_destroy(pd);
  if (!ok) {
    entry_release(e);
    e->key = *k;
    e->declined = true;
    return false;
  }
  return true;
}

/* Geometries where the im2col + GEMM path measured faster (2 cores,
 * AVX-512, docs/performance.md), because oneDNN's blocked kernels pad the
 * channels to blocks of 16 and every call pays the reorders:
 *  - 1x1 unstrided unpadded convolutions: im2col multiplies the NCHW image
 *    directly, with no column matrix and no reorder (DIP's 128 -> 4 skip
 *    convolution: 1.9 against 2.8 ms forward + backward at 128x128);
 *  - backward data onto few image channels (a critic's 1- or 3-channel
 *    input for the gradient penalty: 0.9 against 2.9 ms);
 *  - one image with a small output map (DIP's deepest levels, 8x8:
 *    0.6 against 1.1 ms forward + backward).
 * A fixed rule, not a timing at run time, so that the path (and so the
 * rounding) does not change from run to run. */
static bool im2col_is_faster(conv_kind kind, const sg_conv_geom *g) {
  if (g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 &&
      g->groups == 1)
    return true;
  if (kind == K_BWD_DATA && g->C / g->groups < 16) return true;
  return g->N == 1 && g->Ho * g->Wo <= 256;
}

/* The cached entry of a key, built on first use; a copy is returned so
 * that execution runs outside the lock (primitives are immutable and may
 * run concurrently; an evicted entry's primitives are destroyed only when
 * the table is full, CACHE_ENTRIES distinct geometries later). false:
 * declined. */
static bool lookup(const conv_key *k, conv_entry *copy) {
  pthread_mutex_lock(&dnn.lock);
  bool found = false;
  if (im2col_is_faster(k->kind, &k->g)) {
    dnn.by_rule++;
    pthread_mutex_unlock(&dnn.lock);
    return false;
  }
  if (!ensure_engine()) {
    pthread_mutex_unlock(&dnn.lock);
    return false;
  }
  conv_entry *e = NULL;
  for (int i = 0; i < dnn.n; i++)
    if (key_equal(&dnn.entries[i].key, k)) {
      e = &dnn.entries[i];
      break;
    }
  if (!e) {
    if (dnn.n < CACHE_ENTRIES) {
      e = &dnn.entries[dnn.n++];
    } else {
      e = &dnn.entries[0];
      for (int i = 1; i < dnn.n; i++)
        if (dnn.entries[i].last_use < e->last_use) e = &dnn.entries[i];
      entry_release(e);
    }
    entry_build(e, k);
  }
  e->last_use = ++dnn.clock;
  found = !e->declined;
  if (found) {
    *copy = *e;
    dnn.calls++;
  } else {
    dnn.declined++;
  }
  pthread_mutex_unlock(&dnn.lock);
  return found;
}

static sg_status run_failed(const char *op, dnnl_status_t st) {
  if (st == dnnl_out_of_memory) return sg_error(SG_ERR_MEM, "%s: out of memory in oneDNN", op);
  return sg_error(SG_ERR_STATE, "%s: oneDNN execution failed (status %d)", op, (int)st);
}

/* Runs the entry's primitive on plain buffers in[2] -> out, reordering
 * through temporary blocked buffers where the primitive wants them. */
static sg_status execute(const char *op, const conv_entry *e, const void *in0, const void *in1,
                         const float *bias, void *out) {
  void *plain_ptr[NSLOTS] = {(void *)in0, (void *)in1, out};
  void *used_ptr[NSLOTS] = {0};
  void *scratch = NULL;
  dnnl_memory_t plain_mem[NSLOTS] = {0}, used_mem[NSLOTS] = {0}, bias_mem = NULL,
                scratch_mem = NULL;
  dnnl_status_t st = dnnl_success;
  sg_status rc = SG_OK;
  for (int s = 0; s < NSLOTS && st == dnnl_success; s++) {
    if (e->reorder[s]) {
      used_ptr[s] = sg_cpu_backend.alloc(e->used_bytes[s]);
      if (!used_ptr[s]) {
        rc = sg_error(SG_ERR_MEM, "%s: out of memory for a oneDNN layout buffer (%zu bytes)", op,
                      e->used_bytes[s]);
        goto done;
      }
      st = dnnl_memory_create(&plain_mem[s], &e->plain[s], dnn.engine, plain_ptr[s]);
    }
    if (st == dnnl_success)
      st = dnnl_memory_create(&used_mem[s], &e->used[s], dnn.engine,
                              e->reorder[s] ? used_ptr[s] : plain_ptr[s]);
  }
  if (st == dnnl_success && bias)
    st = dnnl_memory_create(&bias_mem, &e->bias_md, dnn.engine, (void *)bias);
  if (st == dnnl_success && e->scratch_bytes) {
    scratch = sg_cpu_backend.alloc(e->scratch_bytes);
    if (!scratch) {
      rc = sg_error(SG_ERR_MEM, "%s: out of memory for oneDNN's scratchpad (%zu bytes)", op,
                    e->scratch_bytes);
      goto done;
    }
    st = dnnl_memory_create(&scratch_mem, &e->scratch_md, dnn.engine, scratch);
  }
  for (int s = S_IN0; s <= S_IN1 && st == dnnl_success; s++)
    if (e->reorder[s]) {
      dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, plain_mem[s]}, {DNNL_ARG_TO, used_mem[s]}};
      st = dnnl_primitive_execute(e->reorder[s], dnn.stream, 2, a);
    }
  if (st == dnnl_success) {
    dnnl_exec_arg_t a[5];
    int na = 0;
    for (int s = 0; s < NSLOTS; s++) a[na++] = (dnnl_exec_arg_t){e->arg[s], used_mem[s]};
    if (bias_mem) a[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, bias_mem};
    if (scratch_mem) a[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, scratch_mem};
    st = dnnl_primitive_execute(e->prim, dnn.stream, na, a);
  }
  if (st == dnnl_success && e->reorder[S_OUT]) {
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, used_mem[S_OUT]}, {DNNL_ARG_TO, plain_mem[S_OUT]}};
    st = dnnl_primitive_execute(e->reorder[S_OUT], dnn.stream, 2, a);
  }
  if (st == dnnl_success) st = dnnl_stream_wait(dnn.stream);
  if (st != dnnl_success) rc = run_failed(op, st);
done:
  for (int s = 0; s < NSLOTS; s++) {
    if (plain_mem[s]) dnnl_memory_destroy(plain_mem[s]);
    if (used_mem[s]) dnnl_memory_destroy(used_mem[s]);
    if (used_ptr[s]) sg_cpu_backend.free(used_ptr[s], e->used_bytes[s]);
  }
  if (bias_mem) dnnl_memory_destroy(bias_mem);
  if (scratch_mem) dnnl_memory_destroy(scratch_mem);
  if (scratch) sg_cpu_backend.free(scratch, e->scratch_bytes);
  return rc;
}

sg_status sg_onednn_conv2d(float *out, const float *x, const float *w, const float *b,
                           const sg_conv_geom *g, bool *done) {
  conv_key k = {K_FWD, *g, b != NULL, want_blocked(), sg_get_num_threads()};
  conv_entry e;
  *done = lookup(&k, &e);
  return *done ? execute("conv2d", &e, x, w, b, out) : SG_OK;
}

sg_status sg_onednn_conv_transpose2d(float *out, const float *x, const float *w, const float *b,
                                     const sg_conv_geom *g, bool *done) {
  conv_key k = {K_BWD_DATA, *g, false, want_blocked(), sg_get_num_threads()};
  conv_entry e;
  *done = lookup(&k, &e);
  if (!*done) return SG_OK;
  sg_status st = execute("conv_transpose2d", &e, x, w, NULL, out);
  if (st != SG_OK || !b) return st;
  const int64_t HW = g->H * g->W;
#pragma omp parallel for collapse(2) if (g->N * g->C * HW > 32768)
  for (int64_t n = 0; n < g->N; n++)
    for (int64_t c = 0; c < g->C; c++) {
      float v = b[c], *o = out + (n * g->C + c) * HW;
      for (int64_t j = 0; j < HW; j++) o[j] += v;
    }
  return SG_OK;
}

sg_status sg_onednn_conv2d_weight(float *gw, const float *x, const float *go,
                                  const sg_conv_geom *g, bool *done) {
  conv_key k = {K_BWD_WEIGHTS, *g, false, want_blocked(), sg_get_num_threads()};
  conv_entry e;
  *done = lookup(&k, &e);
  return *done ? execute("conv2d_weight", &e, x, go, NULL, gw) : SG_OK;
}

#endif
