/* Matrix products: matmul (numpy/PyTorch semantics), mm, bmm, outer, linear.
 *
 * Every form reduces to one recorded op, the broadcast batched product of
 * two tensors of at least 2 dims ("matmul" node); 1-D operands are lifted
 * with reshapes (views), and an N-D @ 2-D product folds the batch into the
 * rows so it is one GEMM. The backward is g @ b^T and a^T @ g (summed to
 * the operands' shapes), written with sg_matmul, so it is differentiable. */
#include <string.h>

#include "internal/backend.h"
#include "internal/kernels_blas.h"
#include "internal/tensor_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops.h"

static sg_status matmul_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  sg_tensor *g = go[0];
  bool want_a = sg_node_wants(node, 0);
  bool want_b = sg_node_wants(node, 1);
  sg_tensor *a = sg_node_saved(node, 0), *b = sg_node_saved(node, 1);
  if (!a || !b) goto fail;
  if (want_a) {
    sg_tensor *bt = sg_transpose(b, -1, -2);
    gi[0] = bt ? sg_grad_reduce_to(sg_matmul(g, bt), a) : NULL;
    sg_release(bt);
    if (!gi[0]) goto fail;
  }
  if (want_b) {
    sg_tensor *at = sg_transpose(a, -1, -2);
    gi[1] = at ? sg_grad_reduce_to(sg_matmul(at, g), b) : NULL;
    sg_release(at);
    if (!gi[1]) goto fail;
  }
  sg_release(a);
  sg_release(b);
  return SG_OK;
fail:
  return sg_backward_fail2(gi, a, b);
}

/* The result dtype of a product, or -1 with an error naming op. */
static int product_dtype(const char *op, const sg_tensor *a, const sg_tensor *b, sg_dtype *dt) {
  /* Same dtype required, as PyTorch: a silent float64 promotion of a float32
   * model would double its cost without the user noticing. */
  if (a->dtype != b->dtype)
    return sg_error(SG_ERR_ARG, "%s: expected both operands to have the same dtype, got %s and %s",
                    op, sg_dtype_name(a->dtype), sg_dtype_name(b->dtype));
  *dt = a->dtype;
  if (*dt == SG_FLOAT32 || *dt == SG_FLOAT64 || *dt == SG_INT64) return 0;
  return sg_error(SG_ERR_ARG, "%s: dtype %s is not supported (expected float32, float64 or int64)",
                  op, sg_dtype_name(*dt));
}

/* Broadcast batched product; a and b have >= 2 dims and matching inner
 * sizes (checked by the callers, which know the user's shapes). */
static sg_tensor *mm_core(const char *op, sg_tensor *a, sg_tensor *b) {
  const sg_backend *be = sg_backend_checked(op, a, offsetof(sg_backend, blas));
  if (!be) return NULL;
  if (sg_check_same_device(op, a, b)) return NULL;
  sg_dtype dt = a->dtype;
  if (product_dtype(op, a, b, &dt)) return NULL;
  int na = a->ndim - 2, nbt = b->ndim - 2;
  int nbd = na > nbt ? na : nbt, nd = nbd + 2;
  int64_t oshape[SG_MAX_DIMS], sa[SG_MAX_DIMS], sb[SG_MAX_DIMS], ash[SG_MAX_DIMS],
      bsh[SG_MAX_DIMS];
  for (int i = 0; i < nbd; i++) {
    int ia = na - nbd + i, ib = nbt - nbd + i;
    int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
    if (da != db && da != 1 && db != 1) {
      char s1[128], s2[128];
      sg_error(SG_ERR_ARG, "%s: batch dims of %s and %s do not broadcast", op,
               sg_shape_str(a, s1, sizeof s1), sg_shape_str(b, s2, sizeof s2));
      return NULL;
    }
    oshape[i] = da == 1 ? db : da;
    sa[i] = (ia >= 0 && da != 1) ? a->strides[ia] : 0;
    sb[i] = (ib >= 0 && db != 1) ? b->strides[ib] : 0;
  }
  memcpy(ash, oshape, sizeof(int64_t) * (size_t)nbd);
  memcpy(bsh, oshape, sizeof(int64_t) * (size_t)nbd);
  ash[nbd] = a->shape[na];
  ash[nbd + 1] = a->shape[na + 1];
  bsh[nbd] = b->shape[nbt];
  bsh[nbd + 1] = b->shape[nbt + 1];
  oshape[nbd] = a->shape[na];
  oshape[nbd + 1] = b->shape[nbt + 1];
  sg_tensor *ca = sg_to_dtype(a, dt);
  sg_tensor *cb = ca ? sg_to_dtype(b, dt) : NULL;
  sg_tensor *out = cb ? sg_empty(oshape, nd, dt, a->storage->device) : NULL;
  if (!out) goto fail;
  sa[nbd] = ca->strides[na];
  sa[nbd + 1] = ca->strides[na + 1];
  sb[nbd] = cb->strides[nbt];
  sb[nbd + 1] = cb->strides[nbt + 1];
  sg_tensor *va = sg_alias(ca, ash, sa, nd, ca->offset);
  sg_tensor *vb = va ? sg_alias(cb, bsh, sb, nd, cb->offset) : NULL;
  sg_status st = vb ? be->blas->matmul(out, va, vb) : SG_ERR_MEM;
  sg_release(va);
  sg_release(vb);
  if (st != SG_OK) goto fail;
  if (sg_dtype_is_float(dt)) {
    sg_tensor *ins[2] = {ca, cb};
    sg_node *n = sg_record("matmul", matmul_backward, ins, 2, out);
    if (n) {
      sg_node_save(n, ca);
      sg_node_save(n, cb);
    }
  }
  sg_release(ca);
  sg_release(cb);
  return out;
fail:
  sg_release(out);
  sg_release(ca);
  sg_release(cb);
  return NULL;
}

static sg_tensor *mismatch(const char *op, const sg_tensor *a, const sg_tensor *b, int64_t ka,
                           int64_t kb) {
  char s1[128], s2[128];
  sg_error(SG_ERR_ARG, "%s: shapes %s and %s cannot be multiplied (%lld != %lld)", op,
           sg_shape_str(a, s1, sizeof s1), sg_shape_str(b, s2, sizeof s2), (long long)ka,
           (long long)kb);
  return NULL;
}

sg_tensor *sg_matmul(sg_tensor *a, sg_tensor *b) {
  const char *op = "matmul";
  if (sg_check_arg(op, "a", a) || sg_check_arg(op, "b", b)) return NULL;
  if (a->ndim == 0 || b->ndim == 0) {
    char s1[128], s2[128];
    sg_error(SG_ERR_ARG, "%s: both arguments need at least 1 dim, got %s and %s", op,
             sg_shape_str(a, s1, sizeof s1), sg_shape_str(b, s2, sizeof s2));
    return NULL;
  }
  int64_t ka = a->shape[a->ndim - 1];
  int64_t kb = b->ndim == 1 ? b->shape[0] : b->shape[b->ndim - 2];
  if (ka != kb) return mismatch(op, a, b, ka, kb);
  /* Result shape: batch dims (from mm_core), then M unless a is 1-D, then
   * N unless b is 1-D. */
  sg_tensor *a2 = NULL, *b2 = NULL, *r = NULL, *out = NULL;
  if (a->ndim == 1) {
    a2 = sg_reshape(a, (int64_t[]){1, ka}, 2);
  } else {
    a2 = sg_retain(a);
  }
  if (b->ndim == 1) {
    b2 = sg_reshape(b, (int64_t[]){kb, 1}, 2);
  } else {
    b2 = sg_retain(b);
  }
  if (!a2 || !b2) goto done;
  if (a2->ndim > 2 && b2->ndim == 2) {
    /* Fold the batch into the rows: one GEMM, and a weight gradient that is
     * one GEMM too instead of a batch of products summed. */
    int64_t rows = 1;
    for (int i = 0; i < a2->ndim - 1; i++) rows *= a2->shape[i];
    sg_tensor *flat = sg_reshape(a2, (int64_t[]){rows, ka}, 2);
    sg_tensor *p = flat ? mm_core(op, flat, b2) : NULL;
    sg_release(flat);
    if (!p) goto done;
    int64_t sh[SG_MAX_DIMS];
    memcpy(sh, a2->shape, sizeof(int64_t) * (size_t)(a2->ndim - 1));
    sh[a2->ndim - 1] = b2->shape[1];
    r = sg_reshape(p, sh, a2->ndim);
    sg_release(p);
  } else {
    r = mm_core(op, a2, b2);
  }
  if (!r) goto done;
  if (a->ndim == 1 || b->ndim == 1) {
    int64_t sh[SG_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < r->ndim - 2; i++) sh[nd++] = r->shape[i];
    if (a->ndim > 1) sh[nd++] = r->shape[r->ndim - 2];
    if (b->ndim > 1) sh[nd++] = r->shape[r->ndim - 1];
    out = sg_reshape(r, sh, nd);
  } else {
    out = sg_retain(r);
  }
done:
  sg_release(a2);
  sg_release(b2);
  sg_release(r);
  return out;
}

sg_tensor *sg_mm(sg_tensor *a, sg_tensor *b) {
  if (sg_check_arg("mm", "a", a) || sg_check_arg("mm", "b", b)) return NULL;
  if (a->ndim != 2 || b->ndim != 2) {
    char s1[128], s2[128];
    sg_error(SG_ERR_ARG, "mm: expected two 2-D tensors, got %s and %s",
             sg_shape_str(a, s1, sizeof s1), sg_shape_str(b, s2, sizeof s2));
    return NULL;
  }
  if (a->shape[1] != b->shape[0]) return mismatch("mm", a, b, a->shape[1], b->shape[0]);
  return mm_core("mm", a, b);
}

sg_tensor *sg_bmm(sg_tensor *a, sg_tensor *b) {
  if (sg_check_arg("bmm", "a", a) || sg_check_arg("bmm", "b", b)) return NULL;
  char s1[128], s2[128];
  if (a->ndim != 3 || b->ndim != 3) {
    sg_error(SG_ERR_ARG, "bmm: expected two 3-D tensors (BxMxK and BxKxN), got %s and %s",
             sg_shape_str(a, s1, sizeof s1), sg_shape_str(b, s2, sizeof s2));
    return NULL;
  }
  if (a->shape[0] != b->shape[0]) {
    sg_error(SG_ERR_ARG, "bmm: batch sizes differ (%s and %s)", sg_shape_str(a, s1, sizeof s1),
             sg_shape_str(b, s2, sizeof s2));
    return NULL;
  }
  if (a->shape[2] != b->shape[1]) return mismatch("bmm", a, b, a->shape[2], b->shape[1]);
  return mm_core("bmm", a, b);
}

sg_tensor *sg_outer(sg_tensor *a, sg_tensor *b) {
  if (sg_check_arg("outer", "a", a) || sg_check_arg("outer", "b", b)) return NULL;
  if (a->ndim != 1 || b->ndim != 1) {
    char s1[128], s2[128];
    sg_error(SG_ERR_ARG, "outer: expected two 1-D tensors, got %s and %s",
             sg_shape_str(a, s1, sizeof s1), sg_shape_str(b, s2, sizeof s2));
    return NULL;
  }
  sg_tensor *ca = sg_reshape(a, (int64_t[]){a->shape[0], 1}, 2);
  sg_tensor *cb = ca ? sg_reshape(b, (int64_t[]){1, b->shape[0]}, 2) : NULL;
  sg_tensor *r = cb ? sg_mul(ca, cb) : NULL;
  sg_release(ca);
  sg_release(cb);
  return r;
}

sg_tensor *sg_linear(sg_tensor *x, sg_tensor *w, sg_tensor *b) {
  const char *op = "linear";
  if (sg_check_arg(op, "input", x) || sg_check_arg(op, "weight", w)) return NULL;
  char s1[128], s2[128], s3[128];
  if (w->ndim != 2) {
    sg_error(SG_ERR_ARG, "linear: weight has %d dims (%s), expected 2 (out x in)", w->ndim,
             sg_shape_str(w, s1, sizeof s1));
    return NULL;
  }
  if (x->ndim == 0 || x->shape[x->ndim - 1] != w->shape[1]) {
    sg_error(SG_ERR_ARG,
             "linear: input %s does not match weight %s (expected last dim of input = %lld)",
             sg_shape_str(x, s1, sizeof s1), sg_shape_str(w, s2, sizeof s2),
             (long long)w->shape[1]);
    return NULL;
  }
  if (b && (b->ndim != 1 || b->shape[0] != w->shape[0])) {
    sg_error(SG_ERR_ARG, "linear: bias %s does not match weight %s (expected bias of size %lld)",
             sg_shape_str(b, s3, sizeof s3), sg_shape_str(w, s2, sizeof s2),
             (long long)w->shape[0]);
    return NULL;
  }
  sg_tensor *wt = sg_transpose(w, 0, 1);
  sg_tensor *y = wt ? sg_matmul(x, wt) : NULL;
  sg_release(wt);
  if (!y || !b) return y;
  sg_tensor *r = sg_add(y, b);
  sg_release(y);
  return r;
}
