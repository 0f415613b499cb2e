/* Batched dense linear algebra: cholesky, logdet, slogdet, solve, inv, eigh
 * on (..., n, n) stacks, float32/float64, with backward formulas written
 * with public differentiable ops (matmul, transpose, inv, solve,
 * elementwise), so that gradients are themselves differentiable (eigh's
 * is first order only); diagonal (a view) and trace on (..., n, m).
 *
 * Kernels (ops on contiguous stacks) are in cpu/linalg_cpu.c; this file
 * checks arguments, broadcasts the batch dims of solve, and turns the
 * kernels' info codes into messages naming the batch element. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/backend.h"
#include "internal/kernels_linalg.h"
#include "internal/op_ctx.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

/* ---------------- helpers ---------------- */

static const struct sg_linalg_kernels *linalg_kernels(const char *op, const sg_tensor *t) {
  const sg_backend *be = sg_backend_checked(op, t, offsetof(sg_backend, linalg));
  return be ? be->linalg : NULL;
}

/* Reports "op: not available on <device>" when the backend lacks the kernel. */
static int kernel_missing(const char *op, const sg_tensor *a, bool present) {
  if (present) return 0;
  sg_error(SG_ERR_UNSUPPORTED, "%s: not available on %s", op, sg_device_name(a->storage->device));
  return -1;
}

/* a is a float stack of square matrices (..., n, n). */
static int check_square(const char *op, const char *name, const sg_tensor *a) {
  if (sg_check_arg(op, name, a) || sg_check_float(op, name, a)) return -1;
  char s[128];
  if (a->ndim < 2)
    return sg_error(SG_ERR_ARG, "%s: `%s` has %d dims (%s), expected at least 2 (...xnxn)", op,
                    name, a->ndim, sg_shape_str(a, s, sizeof s));
  if (a->shape[a->ndim - 1] != a->shape[a->ndim - 2])
    return sg_error(SG_ERR_ARG,
                    "%s: `%s` has shape %s, expected square matrices (...xnxn): the last two "
                    "dims differ",
                    op, name, sg_shape_str(a, s, sizeof s));
  return 0;
}

static int64_t batch_count(const sg_tensor *t) {
  int64_t b = 1;
  for (int i = 0; i < t->ndim - 2; i++) b *= t->shape[i];
  return b;
}

/* "" for a single matrix, " (batch element 3)" for a stack. */
static const char *batch_label(const sg_tensor *a, int64_t b, char *buf, size_t n) {
  if (a->ndim <= 2) buf[0] = '\0';
  else snprintf(buf, n, " (batch element %lld)", (long long)b);
  return buf;
}

/* New contiguous copy of t in dtype dt (the kernels overwrite it). */
static sg_tensor *fresh_copy(const sg_tensor *t, sg_dtype dt) {
  sg_tensor *c = sg_empty(t->shape, t->ndim, dt, t->storage->device);
  if (c && sg_copy_(c, t) != SG_OK) {
    sg_release(c);
    return NULL;
  }
  return c;
}

static int64_t *alloc_info(int64_t n) {
  int64_t *p = calloc((size_t)(n > 0 ? n : 1), sizeof(int64_t));
  if (!p) sg_error(SG_ERR_MEM, "linalg: out of memory for %lld status codes", (long long)n);
  return p;
}

/* a @ b, releasing both (NULL-safe). */
static sg_tensor *mm_take(sg_tensor *a, sg_tensor *b) {
  sg_tensor *r = (a && b) ? sg_matmul(a, b) : NULL;
  sg_release(a);
  sg_release(b);
  return r;
}

/* transpose of the last two dims (a view). */
static sg_tensor *mT(sg_tensor *t) { return t ? sg_transpose(t, -2, -1) : NULL; }

/* Runs the in-place kernel cholesky (chol) or inv on a fresh copy of a:
 * returns the copy, with the per-matrix status codes in *info (freed by the
 * caller), or NULL with an error naming op. */
static sg_tensor *factor_copy(const char *op, const struct sg_linalg_kernels *k,
                              const sg_tensor *a, bool chol, bool upper, int64_t **info) {
  sg_tensor *out = fresh_copy(a, a->dtype);
  int64_t *inf = out ? alloc_info(batch_count(a)) : NULL;
  sg_status st = SG_OK;
  if (inf) st = chol ? k->cholesky(out, upper, inf) : k->inv(out, inf);
  if (!inf || st != SG_OK) {
    if (inf) sg_error_context("%s", op);
    free(inf);
    sg_release(out);
    return NULL;
  }
  *info = inf;
  return out;
}

/* ---------------- cholesky ---------------- */

/* PyTorch's formula: with L = chol(A) lower and gL its gradient,
 *   P = tril(L^T gL) with its diagonal halved,  S = (P + P^T) / 2,
 *   gA = L^-T S L^-1  (symmetric).
 * For upper, U = L^T and gL = gU^T. */
/* What cholesky saves for its backward (besides its output). */
typedef struct cholesky_ctx {
  bool upper;
} cholesky_ctx;

static sg_status cholesky_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  cholesky_ctx c;
  SG_CTX_LOAD(node, &c);
  bool upper = c.upper;
  sg_tensor *f = sg_node_saved(node, 0);
  if (!f) return sg_last_status();
  sg_tensor *L = upper ? mT(f) : sg_retain(f);
  sg_tensor *gL = upper ? mT(go[0]) : sg_retain(go[0]);
  sg_release(f);
  sg_tensor *r = NULL;
  if (!L || !gL) goto out;
  int64_t n = L->shape[L->ndim - 1];
  /* W: 1/2 strictly below the diagonal, 1/4 on it (the /2 of S folded in). */
  double *w = calloc((size_t)(n * n > 0 ? n * n : 1), sizeof(double));
  if (!w) {
    sg_error(SG_ERR_MEM, "cholesky backward: out of memory");
    goto out;
  }
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j <= i; j++) w[i * n + j] = i == j ? 0.25 : 0.5;
  sg_tensor *w64 = sg_from_data(w, (const int64_t[]){n, n}, 2, SG_FLOAT64);
  free(w);
  sg_tensor *wd = w64 ? sg_to_dtype(w64, L->dtype) : NULL;
  sg_release(w64);
  sg_tensor *W = wd ? sg_to_device(wd, L->storage->device) : NULL;
  sg_release(wd);
  sg_tensor *LtgL = W ? mm_take(mT(L), sg_retain(gL)) : NULL;
  sg_tensor *P = LtgL ? sg_mul(LtgL, W) : NULL;
  sg_release(LtgL);
  sg_release(W);
  sg_tensor *Pt = mT(P);
  sg_tensor *S = (P && Pt) ? sg_add(P, Pt) : NULL;
  sg_release(P);
  sg_release(Pt);
  sg_tensor *Li = S ? sg_inv(L) : NULL;
  if (S && !Li) sg_error_context("cholesky backward");
  if (S && Li) r = mm_take(mm_take(mT(Li), S), sg_retain(Li)); /* takes S */
  else sg_release(S);
  sg_release(Li);
out:
  sg_release(L);
  sg_release(gL);
  gi[0] = r;
  return r ? SG_OK : sg_last_status();
}

sg_tensor *sg_cholesky(sg_tensor *a, bool upper) {
  const char *op = "linalg.cholesky";
  if (check_square(op, "input", a)) return NULL;
  const struct sg_linalg_kernels *k = linalg_kernels(op, a);
  if (!k || kernel_missing(op, a, k->cholesky != NULL)) return NULL;
  int64_t batch = batch_count(a);
  int64_t *info;
  sg_tensor *out = factor_copy(op, k, a, true, upper, &info);
  if (!out) return NULL;
  for (int64_t b = 0; b < batch; b++) {
    if (info[b] != 0) {
      char lb[64];
      sg_error(SG_ERR_ARG,
               "%s: the input%s is not positive definite: leading minor of order %lld is not "
               "positive",
               op, batch_label(a, b, lb, sizeof lb), (long long)info[b]);
      free(info);
      sg_release(out);
      return NULL;
    }
  }
  free(info);
  sg_node *n = sg_record("cholesky", cholesky_backward, &a, 1, out);
  if (n) {
    cholesky_ctx c = {upper};
    SG_CTX_STORE(n, &c);
    sg_node_save_output(n, out, 0);
  }
  return out;
}

/* ---------------- inv ---------------- */

/* gA = -A^-T g A^-T */
static sg_status inv_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  sg_tensor *ai = sg_node_saved(node, 0);
  if (!ai) return sg_last_status();
  sg_tensor *m = mm_take(mm_take(mT(ai), sg_retain(go[0])), mT(ai));
  sg_release(ai);
  gi[0] = m ? sg_neg(m) : NULL;
  sg_release(m);
  return gi[0] ? SG_OK : sg_last_status();
}

static sg_status singular_error(const char *op, const char *what, const sg_tensor *a, int64_t b,
                                int64_t i) {
  char lb[64];
  /* as PyTorch: batch elements count from 0, diagonal elements from 1 */
  return sg_error(SG_ERR_ARG,
                  "%s: %s%s is singular: diagonal element %lld of its LU factorization is zero",
                  op, what, batch_label(a, b, lb, sizeof lb), (long long)i);
}

sg_tensor *sg_inv(sg_tensor *a) {
  const char *op = "linalg.inv";
  if (check_square(op, "input", a)) return NULL;
  const struct sg_linalg_kernels *k = linalg_kernels(op, a);
  if (!k || kernel_missing(op, a, k->inv != NULL)) return NULL;
  int64_t batch = batch_count(a);
  int64_t *info;
  sg_tensor *out = factor_copy(op, k, a, false, false, &info);
  if (!out) return NULL;
  for (int64_t b = 0; b < batch; b++) {
    if (info[b] != 0) {
      singular_error(op, "the input", a, b, info[b]);
      free(info);
      sg_release(out);
      return NULL;
    }
  }
  free(info);
  sg_node *n = sg_record("inv", inv_backward, &a, 1, out);
  if (n) sg_node_save_output(n, out, 0);
  return out;
}

/* ---------------- logdet ---------------- */

/* gA = g A^-T (g broadcast over the two matrix dims) */
static sg_status logdet_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  sg_tensor *a = sg_node_saved(node, 0);
  if (!a) return sg_last_status();
  sg_tensor *ai = sg_inv(a);
  if (!ai) sg_error_context("%s backward", node->name);
  sg_release(a);
  sg_tensor *g1 = ai ? sg_unsqueeze(go[0], -1) : NULL;
  sg_tensor *g2 = g1 ? sg_unsqueeze(g1, -1) : NULL;
  sg_release(g1);
  sg_tensor *ait = mT(ai);
  gi[0] = (g2 && ait) ? sg_mul(g2, ait) : NULL;
  sg_release(g2);
  sg_release(ait);
  sg_release(ai);
  return gi[0] ? SG_OK : sg_last_status();
}

sg_tensor *sg_logdet(sg_tensor *a) {
  const char *op = "linalg.logdet";
  if (check_square(op, "input", a)) return NULL;
  const struct sg_linalg_kernels *k = linalg_kernels(op, a);
  if (!k || kernel_missing(op, a, k->logdet != NULL)) return NULL;
  sg_tensor *c = sg_as_contiguous_dtype(a, a->dtype);
  sg_tensor *out = c ? sg_empty(a->shape, a->ndim - 2, a->dtype, a->storage->device) : NULL;
  if (!out || k->logdet(out, c) != SG_OK) {
    if (out) sg_error_context("%s", op);
    sg_release(out);
    sg_release(c);
    return NULL;
  }
  sg_release(c);
  sg_node *n = sg_record("logdet", logdet_backward, &a, 1, out);
  if (n) sg_node_save(n, a);
  return out;
}

/* ---------------- solve ---------------- */

static sg_tensor *solve_matrix(sg_tensor *a, sg_tensor *b);

/* What solve saves for its backward (besides A and X): the shapes of its
 * inputs, to sum the gradients back over broadcast batch dims. */
typedef struct solve_ctx {
  sg_ctx_shape a, b;
} solve_ctx;

/* X = A^-1 B:  gB = solve(A^T, g),  gA = -gB X^T, each summed back over the
 * batch dims its input was broadcast along. */
static sg_status solve_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  solve_ctx c;
  SG_CTX_LOAD(node, &c);
  bool want_a = sg_node_wants(node, 0);
  bool want_b = sg_node_wants(node, 1);
  sg_tensor *a = sg_node_saved(node, 0);
  sg_tensor *x = a && want_a ? sg_node_saved(node, 1) : NULL;
  sg_tensor *gb = NULL, *ga = NULL;
  sg_status st;
  if (!a || (want_a && !x)) goto fail;
  sg_tensor *at = mT(a);
  gb = at ? solve_matrix(at, go[0]) : NULL;
  sg_release(at);
  if (!gb) {
    sg_error_context("solve backward");
    goto fail;
  }
  if (want_a) {
    sg_tensor *m = mm_take(sg_retain(gb), mT(x));
    sg_tensor *nm = m ? sg_neg(m) : NULL;
    sg_release(m);
    ga = nm ? sg_sum_to_shape(nm, c.a.shape, c.a.ndim) : NULL;
    sg_release(nm);
    if (!ga) goto fail;
  }
  if (want_b) {
    sg_tensor *r = sg_sum_to_shape(gb, c.b.shape, c.b.ndim);
    sg_release(gb);
    gb = r;
    if (!gb) goto fail;
  } else {
    sg_release(gb);
    gb = NULL;
  }
  sg_release(a);
  sg_release(x);
  gi[0] = ga;
  gi[1] = gb;
  return SG_OK;
fail:
  st = sg_last_status();
  sg_release(a);
  sg_release(x);
  sg_release(ga);
  sg_release(gb);
  return st != SG_OK ? st : SG_ERR_STATE;
}

/* a (..., n, n), b (..., n, k) of one float dtype; batch dims broadcast. */
static sg_tensor *solve_matrix(sg_tensor *a, sg_tensor *b) {
  const char *op = "linalg.solve";
  const struct sg_linalg_kernels *k = linalg_kernels(op, a);
  if (!k || kernel_missing(op, a, k->solve != NULL)) return NULL;
  int64_t n = a->shape[a->ndim - 1];
  int64_t bs[SG_MAX_DIMS];
  int nb;
  if (sg_broadcast_shapes(op, a->shape, a->ndim - 2, b->shape, b->ndim - 2, bs, &nb)) {
    char sa[128], sb[128];
    sg_error(SG_ERR_ARG,
             "%s: the batch dims of a (%s) and b (%s) cannot be broadcast together", op,
             sg_shape_str(a, sa, sizeof sa), sg_shape_str(b, sb, sizeof sb));
    return NULL;
  }
  if (nb + 2 > SG_MAX_DIMS) {
    sg_error(SG_ERR_ARG, "%s: result would have more than %d dims", op, SG_MAX_DIMS);
    return NULL;
  }
  int64_t xs[SG_MAX_DIMS];
  memcpy(xs, bs, sizeof(int64_t) * (size_t)nb);
  xs[nb] = n;
  xs[nb + 1] = b->shape[b->ndim - 1];
  int64_t batch = sg_shape_numel(bs, nb);
  int64_t abatch = batch_count(a);
  sg_tensor *x = sg_empty(xs, nb + 2, a->dtype, a->storage->device);
  if (x && sg_copy_(x, b) != SG_OK) {
    sg_release(x);
    x = NULL;
  }
  sg_tensor *ac = x ? sg_as_contiguous_dtype(a, a->dtype) : NULL;
  int64_t *info = ac ? alloc_info(abatch) : NULL;
  int64_t *a_index = info ? alloc_info(batch) : NULL;
  if (!a_index) goto fail;
  /* flat index into a's batch for every element of the broadcast batch */
  {
    int na = a->ndim - 2, off = nb - na;
    int64_t astr[SG_MAX_DIMS];
    int64_t s = 1;
    for (int d = na - 1; d >= 0; d--) {
      astr[d] = a->shape[d] == 1 ? 0 : s;
      s *= a->shape[d];
    }
    for (int64_t e = 0; e < batch; e++) {
      int64_t rem = e, idx = 0;
      for (int d = nb - 1; d >= 0; d--) {
        int64_t c = rem % bs[d];
        rem /= bs[d];
        if (d >= off) idx += c * astr[d - off];
      }
      a_index[e] = idx;
    }
  }
  if (k->solve(x, ac, a_index, info) != SG_OK) {
    sg_error_context("%s", op);
    goto fail;
  }
  for (int64_t j = 0; j < abatch; j++) {
    if (info[j] != 0) {
      singular_error(op, "the matrix a", a, j, info[j]);
      goto fail;
    }
  }
  free(info);
  free(a_index);
  sg_release(ac);
  sg_tensor *ins[2] = {a, b};
  sg_node *node = sg_record("solve", solve_backward, ins, 2, x);
  if (node) {
    solve_ctx c = {sg_ctx_shape_of(a), sg_ctx_shape_of(b)};
    SG_CTX_STORE(node, &c);
    sg_node_save(node, a);
    sg_node_save_output(node, x, 0);
  }
  return x;
fail:
  free(info);
  free(a_index);
  sg_release(ac);
  sg_release(x);
  return NULL;
}

sg_tensor *sg_solve(sg_tensor *a, sg_tensor *b) {
  const char *op = "linalg.solve";
  if (check_square(op, "a", a)) return NULL;
  if (sg_check_arg(op, "b", b) || sg_check_float(op, "b", b) || sg_check_same_device(op, a, b))
    return NULL;
  int64_t n = a->shape[a->ndim - 1];
  /* PyTorch's rule: b is a (batch of) vector(s) if it is 1-D or has the
   * shape of a without its last dim. */
  bool vec = b->ndim == 1 ||
             (b->ndim == a->ndim - 1 && memcmp(b->shape, a->shape, sizeof(int64_t) * (size_t)b->ndim) == 0);
  char sa[128], sb[128];
  if (b->ndim == 0 || (vec ? b->shape[b->ndim - 1] != n : b->shape[b->ndim - 2] != n)) {
    sg_error(SG_ERR_ARG,
             "%s: a has shape %s and b has shape %s: expected b of shape (...x%lldxk) or "
             "(...x%lld)",
             op, sg_shape_str(a, sa, sizeof sa), sg_shape_str(b, sb, sizeof sb), (long long)n,
             (long long)n);
    return NULL;
  }
  sg_dtype dt = sg_promote_types(a->dtype, b->dtype);
  sg_tensor *ca = sg_to_dtype(a, dt);
  sg_tensor *cb = ca ? sg_to_dtype(b, dt) : NULL;
  sg_tensor *bm = cb ? (vec ? sg_unsqueeze(cb, -1) : sg_retain(cb)) : NULL;
  sg_tensor *x = bm ? solve_matrix(ca, bm) : NULL;
  sg_tensor *r = (x && vec) ? sg_squeeze(x, -1) : sg_retain(x);
  sg_release(x);
  sg_release(bm);
  sg_release(cb);
  sg_release(ca);
  return r;
}

/* ---------------- slogdet ---------------- */

sg_status sg_slogdet(sg_tensor *a, sg_tensor **sign, sg_tensor **logabsdet) {
  const char *op = "linalg.slogdet";
  if (sign) *sign = NULL;
  if (logabsdet) *logabsdet = NULL;
  if (!sign || !logabsdet)
    return sg_error(SG_ERR_ARG, "%s: an output pointer (sign, logabsdet) is NULL", op);
  if (check_square(op, "input", a)) return sg_last_status();
  const struct sg_linalg_kernels *k = linalg_kernels(op, a);
  if (!k || kernel_missing(op, a, k->slogdet != NULL)) return sg_last_status();
  sg_tensor *c = sg_as_contiguous_dtype(a, a->dtype);
  sg_tensor *s = c ? sg_empty(a->shape, a->ndim - 2, a->dtype, a->storage->device) : NULL;
  sg_tensor *l = s ? sg_empty(a->shape, a->ndim - 2, a->dtype, a->storage->device) : NULL;
  if (!l || k->slogdet(s, l, c) != SG_OK) {
    if (l) sg_error_context("%s", op);
    sg_release(c);
    sg_release(s);
    sg_release(l);
    return sg_last_status();
  }
  sg_release(c);
  /* log |det A| has logdet's gradient g A^-T; the sign has none. */
  sg_node *n = sg_record("slogdet", logdet_backward, &a, 1, l);
  if (n) sg_node_save(n, a);
  *sign = s;
  *logabsdet = l;
  return SG_OK;
}

/* ---------------- eigh ---------------- */

/* n x n identity of t's dtype and device. */
static sg_tensor *eye_like(const sg_tensor *t, int64_t n) {
  return sg_eye(n, n, t->dtype, t->storage->device);
}

/* PyTorch's linalg_eig_backward for a Hermitian (here real symmetric) input:
 *   gV = NULL:  gA = (V * gL[..., None, :]) V^T
 *   otherwise:  X = V^T gV,  X <- (X - X^T) / 2  (projection onto the skew-
 *               symmetric matrices: a change of the eigenvectors that keeps
 *               them orthonormal),
 *               E[i][j] = L[j] - L[i] with its diagonal set to 1,
 *               G = X / E with diag(G) = gL (0 without gL),
 *               gA = V G V^T  (symmetric).
 * Not differentiable itself (first order only). */
static sg_status eigh_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  sg_status st = sg_require_first_order(node);
  if (st != SG_OK) return st;
  sg_tensor *gL = go[0], *gV = go[1];
  if (!gL && !gV) return SG_OK;
  sg_tensor *L = sg_node_saved(node, 0);
  sg_tensor *V = L ? sg_node_saved(node, 1) : NULL;
  sg_tensor *Vt = mT(V);
  sg_tensor *r = NULL;
  if (!Vt) goto out;
  if (!gV) {
    sg_tensor *g2 = sg_unsqueeze(gL, -2);
    sg_tensor *vg = g2 ? sg_mul(V, g2) : NULL;
    sg_release(g2);
    r = mm_take(vg, sg_retain(Vt));
    goto out;
  }
  int64_t n = V->shape[V->ndim - 1];
  sg_tensor *X = sg_matmul(Vt, gV);
  sg_tensor *Xt = mT(X);
  sg_tensor *D = (X && Xt) ? sg_sub(X, Xt) : NULL;
  sg_release(X);
  sg_release(Xt);
  sg_tensor *S = D ? sg_mul_scalar(D, 0.5) : NULL;
  sg_release(D);
  sg_tensor *Lr = S ? sg_unsqueeze(L, -2) : NULL; /* L[j] */
  sg_tensor *Lc = Lr ? sg_unsqueeze(L, -1) : NULL; /* L[i] */
  sg_tensor *E0 = Lc ? sg_sub(Lr, Lc) : NULL;
  sg_release(Lr);
  sg_release(Lc);
  sg_tensor *I = E0 ? eye_like(V, n) : NULL;
  /* E0's diagonal is exactly 0: adding I sets it to 1 */
  sg_tensor *E = I ? sg_add(E0, I) : NULL;
  sg_release(E0);
  sg_tensor *G = E ? sg_div(S, E) : NULL; /* diagonal 0: S's is exactly 0 */
  sg_release(S);
  sg_release(E);
  if (G && gL) {
    sg_tensor *g1 = sg_unsqueeze(gL, -1);
    sg_tensor *dg = g1 ? sg_mul(g1, I) : NULL; /* diag_embed(gL) */
    sg_release(g1);
    sg_tensor *G2 = dg ? sg_add(G, dg) : NULL;
    sg_release(dg);
    sg_release(G);
    G = G2;
  }
  sg_release(I);
  r = G ? mm_take(mm_take(sg_retain(V), G), sg_retain(Vt)) : NULL;
out:
  if (!r) sg_error_context("eigh backward");
  sg_release(L);
  sg_release(V);
  sg_release(Vt);
  gi[0] = r;
  return r ? SG_OK : sg_last_status();
}

/* Index of the first matrix of a holding a NaN or an infinity, or -1 (-2
 * with an error set). Device-agnostic: sum(a - a) over the matrix dims is
 * NaN exactly there; the batch of sums is read on the host. */
static int64_t first_nonfinite(const sg_tensor *a) {
  bool prev = sg_set_grad_enabled(false);
  sg_tensor *d = sg_detach((sg_tensor *)a);
  sg_tensor *z = d ? sg_sub(d, d) : NULL;
  sg_tensor *s = z ? sg_sum(z, (const int[]){-2, -1}, 2, false) : NULL;
  sg_tensor *h = s ? sg_to_device(s, sg_cpu_device()) : NULL;
  sg_set_grad_enabled(prev);
  int64_t r = h ? -1 : -2;
  for (int64_t b = 0; h && b < sg_numel(h); b++)
    if (isnan(sg_get_flat(h, b))) {
      r = b;
      break;
    }
  sg_release(d);
  sg_release(z);
  sg_release(s);
  sg_release(h);
  return r;
}

sg_status sg_eigh(sg_tensor *a, sg_tensor **eigenvalues, sg_tensor **eigenvectors) {
  const char *op = "linalg.eigh";
  if (eigenvalues) *eigenvalues = NULL;
  if (eigenvectors) *eigenvectors = NULL;
  if (!eigenvalues || !eigenvectors)
    return sg_error(SG_ERR_ARG, "%s: an output pointer (eigenvalues, eigenvectors) is NULL", op);
  if (check_square(op, "input", a)) return sg_last_status();
  const struct sg_linalg_kernels *k = linalg_kernels(op, a);
  if (!k || kernel_missing(op, a, k->eigh != NULL)) return sg_last_status();
  char lb[64];
  int64_t bad = first_nonfinite(a);
  if (bad == -2) {
    sg_error_context("%s", op);
    return sg_last_status();
  }
  if (bad >= 0)
    return sg_error(SG_ERR_ARG, "%s: input contains NaN or Inf%s", op,
                    batch_label(a, bad, lb, sizeof lb));
  int64_t batch = batch_count(a);
  sg_tensor *V = fresh_copy(a, a->dtype);
  sg_tensor *L = V ? sg_empty(a->shape, a->ndim - 1, a->dtype, a->storage->device) : NULL;
  int64_t *info = L ? alloc_info(batch) : NULL;
  if (!info || k->eigh(V, L, info) != SG_OK) {
    if (info) sg_error_context("%s", op);
    goto fail;
  }
  for (int64_t b = 0; b < batch; b++) {
    if (info[b] != 0) {
      sg_error(SG_ERR_ARG,
               "%s: the eigenvalue algorithm failed to converge for the input%s (info %lld): "
               "the matrix may be ill-conditioned or have too many repeated eigenvalues",
               op, batch_label(a, b, lb, sizeof lb), (long long)info[b]);
      goto fail;
    }
  }
  free(info);
  sg_tensor *outs[2] = {L, V};
  sg_node *n = sg_record_multi("eigh", eigh_backward, &a, 1, outs, 2);
  if (n) {
    sg_node_save_output(n, L, 0);
    sg_node_save_output(n, V, 1);
  }
  *eigenvalues = L;
  *eigenvectors = V;
  return SG_OK;
fail:
  free(info);
  sg_release(V);
  sg_release(L);
  return sg_last_status();
}

/* ---------------- diagonal, trace ---------------- */

/* The gradient of the diagonal view: g (..., len) written on the diagonal
 * of zeros (..., n, m), with public ops (so that it is differentiable):
 * the rows g[..., k] * Q[k, :] (Q one-hot at column k + max(offset, 0)),
 * placed at rows k + max(-offset, 0) between blocks of zero rows. */
typedef struct diagonal_ctx {
  sg_ctx_shape in; /* the input's shape */
  int64_t offset;
} diagonal_ctx;

static sg_status diagonal_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  diagonal_ctx c;
  SG_CTX_LOAD(node, &c);
  const int nd = c.in.ndim;
  const int64_t *shape = c.in.shape, off = c.offset;
  const int64_t n = shape[nd - 2], m = shape[nd - 1];
  const int64_t c0 = off > 0 ? off : 0, r0 = off < 0 ? -off : 0;
  sg_tensor *g = go[0];
  const int64_t len = g->shape[g->ndim - 1];
  sg_device dev = g->storage->device;
  if (len == 0) {
    gi[0] = sg_zeros(shape, nd, g->dtype, dev);
    return gi[0] ? SG_OK : sg_last_status();
  }
  sg_tensor *e = sg_eye(len + c0, m, g->dtype, dev);
  sg_tensor *Q = e ? sg_narrow(e, 0, c0, len) : NULL;
  sg_release(e);
  sg_tensor *g1 = Q ? sg_unsqueeze(g, -1) : NULL;
  sg_tensor *rows = g1 ? sg_mul(g1, Q) : NULL;
  sg_release(g1);
  sg_release(Q);
  if (!rows) return sg_last_status();
  int64_t zs[SG_MAX_DIMS];
  memcpy(zs, shape, sizeof(int64_t) * (size_t)nd);
  sg_tensor *parts[3];
  int np = 0;
  bool ok = true;
  const int64_t below = n - r0 - len;
  if (r0 > 0) {
    zs[nd - 2] = r0;
    ok = (parts[np++] = sg_zeros(zs, nd, g->dtype, dev)) != NULL;
  }
  parts[np++] = rows;
  if (ok && below > 0) {
    zs[nd - 2] = below;
    ok = (parts[np++] = sg_zeros(zs, nd, g->dtype, dev)) != NULL;
  }
  gi[0] = ok ? (np == 1 ? sg_retain(rows) : sg_cat(parts, np, nd - 2)) : NULL;
  sg_release_all(parts, np);
  return gi[0] ? SG_OK : sg_last_status();
}

sg_tensor *sg_diagonal(sg_tensor *a, int64_t offset) {
  const char *op = "linalg.diagonal";
  if (sg_check_arg(op, "input", a)) return NULL;
  char s[128];
  if (a->ndim < 2) {
    sg_error(SG_ERR_ARG, "%s: `input` has %d dims (%s), expected at least 2 (...xnxm)", op,
             a->ndim, sg_shape_str(a, s, sizeof s));
    return NULL;
  }
  const int nd = a->ndim;
  const int64_t n = a->shape[nd - 2], m = a->shape[nd - 1];
  const int64_t sr = a->strides[nd - 2], sc = a->strides[nd - 1];
  /* length of the diagonal: offset > 0 is above the main one, < 0 below */
  int64_t len = offset >= 0 ? (m - offset < n ? m - offset : n) : (n + offset < m ? n + offset : m);
  if (len < 0) len = 0;
  int64_t sh[SG_MAX_DIMS], st[SG_MAX_DIMS];
  memcpy(sh, a->shape, sizeof(int64_t) * (size_t)(nd - 2));
  memcpy(st, a->strides, sizeof(int64_t) * (size_t)(nd - 2));
  sh[nd - 2] = len;
  st[nd - 2] = sr + sc;
  int64_t start = a->offset;
  if (len > 0) start += offset >= 0 ? offset * sc : -offset * sr;
  sg_tensor *out = sg_alias(a, sh, st, nd - 1, start);
  if (!out) return NULL;
  sg_node *node = sg_record("diagonal", diagonal_backward, &a, 1, out);
  if (node) {
    diagonal_ctx c = {sg_ctx_shape_of(a), offset};
    SG_CTX_STORE(node, &c);
  }
  return out;
}

sg_tensor *sg_trace(sg_tensor *a) {
  const char *op = "linalg.trace";
  if (sg_check_arg(op, "input", a)) return NULL;
  if (a->ndim < 2) {
    char s[128];
    sg_error(SG_ERR_ARG, "%s: `input` has %d dims (%s), expected at least 2 (...xnxm)", op,
             a->ndim, sg_shape_str(a, s, sizeof s));
    return NULL;
  }
  sg_tensor *d = sg_diagonal(a, 0);
  sg_tensor *r = d ? sg_sum(d, (const int[]){-1}, 1, false) : NULL;
  sg_release(d);
  return r;
}
