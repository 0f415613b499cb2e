/* Tensor core: creation, dtypes, views, copies, broadcasting errors. */
#include "harness.h"

#include <string.h>

static void creation(void) {
  sg_tensor *z = sg_zeros(SHAPE(2, 3), 2, SG_FLOAT32, sg_cpu_device());
  CHECK(z && sg_numel(z) == 6 && z->ndim == 2 && sg_is_contiguous(z));
  CHECK_VALUES(z, VALS(0, 0, 0, 0, 0, 0), 6, 0);
  sg_tensor *f = sg_full(SHAPE(2), 1, 2.5, SG_FLOAT64, sg_cpu_device());
  CHECK_VALUES(f, VALS(2.5, 2.5), 2, 0);
  sg_tensor *a = sg_arange(0, 5, 1, SG_INT64, sg_cpu_device());
  CHECK_VALUES(a, VALS(0, 1, 2, 3, 4), 5, 0);
  sg_tensor *l = sg_linspace(0, 1, 5, SG_FLOAT32, sg_cpu_device());
  CHECK_VALUES(l, VALS(0, 0.25, 0.5, 0.75, 1), 5, 1e-7);
  sg_tensor *e = sg_eye(2, 3, SG_UINT8, sg_cpu_device());
  CHECK_VALUES(e, VALS(1, 0, 0, 0, 1, 0), 6, 0);
  sg_tensor *s = sg_scalar_tensor(3, SG_BOOL, sg_cpu_device());
  CHECK(s && s->ndim == 0 && sg_get_flat(s, 0) == 1.0);
  sg_release(z);
  sg_release(f);
  sg_release(a);
  sg_release(l);
  sg_release(e);
  sg_release(s);
}

static void empty_tensors(void) {
  sg_tensor *e = sg_zeros(SHAPE(2, 0, 0), 3, SG_FLOAT32, sg_cpu_device());
  CHECK(e && sg_numel(e) == 0 && sg_is_contiguous(e));
  sg_tensor *s = sg_sum(e, NULL, 0, false);
  CHECK_VALUES(s, VALS(0), 1, 0);
  sg_tensor *v = sg_reshape(e, SHAPE(0, 5), 2);
  CHECK(v && sg_numel(v) == 0);
  sg_release(e);
  sg_release(s);
  sg_release(v);
}

static void creation_errors(void) {
  CHECK_FAILS(sg_empty(SHAPE(-1, 2), 2, SG_FLOAT32, sg_cpu_device()), "negative size");
  CHECK_FAILS(sg_empty(SHAPE(1 << 30, 1 << 30), 2, SG_FLOAT32, sg_cpu_device()), "2^46");
  /* empty, but the other sizes would overflow the strides */
  CHECK_FAILS(sg_empty(SHAPE(0, INT64_C(1) << 40, INT64_C(1) << 40), 3, SG_FLOAT32, sg_cpu_device()),
              "sg_empty: shape's nonzero sizes multiply to more than 2^46 (its strides would overflow)");
  sg_tensor *wide_empty = sg_empty(SHAPE(INT64_C(1) << 23, 0, INT64_C(1) << 23), 3, SG_FLOAT32, sg_cpu_device());
  CHECK(wide_empty && sg_numel(wide_empty) == 0);
  sg_release(wide_empty);
  /* the same for a view of an empty tensor */
  sg_tensor *e0 = sg_empty(SHAPE(0), 1, SG_FLOAT32, sg_cpu_device());
  CHECK_FAILS(sg_view(e0, SHAPE(0, INT64_C(1) << 40, INT64_C(1) << 40), 3),
              "view: shape 0x1099511627776x1099511627776 has too many elements");
  CHECK_FAILS(sg_reshape(e0, SHAPE(0, INT64_C(1) << 40, INT64_C(1) << 40), 3),
              "has too many elements");
  sg_release(e0);
  CHECK_FAILS(sg_empty(SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1), 9, SG_FLOAT32, sg_cpu_device()),
              "at most 8");
  CHECK_FAILS(sg_arange(0, 5, 0, SG_FLOAT32, sg_cpu_device()), "steps of 0");
  CHECK_FAILS(sg_empty(SHAPE(2), 1, SG_FLOAT32, (sg_device){SG_CUDA, 0}), "not available");
}

static void dtype_conversion(void) {
  sg_tensor *f = tt_from(SG_FLOAT32, VALS(-1.5, 0, 2.7, 300), 1, SHAPE(4));
  sg_tensor *i = sg_to_dtype(f, SG_INT64);
  CHECK_VALUES(i, VALS(-1, 0, 2, 300), 4, 0);
  sg_tensor *b = sg_to_dtype(f, SG_BOOL);
  CHECK_VALUES(b, VALS(1, 0, 1, 1), 4, 0);
  sg_tensor *u = sg_to_dtype(f, SG_UINT8);
  CHECK_VALUES(u, VALS(255, 0, 2, 44), 4, 0);
  sg_dtype dt;
  CHECK(sg_dtype_from_name("double", &dt) == 0 && dt == SG_FLOAT64);
  CHECK(sg_dtype_from_name("complex", &dt) == -1);
  CHECK(sg_promote_types(SG_INT64, SG_FLOAT32) == SG_FLOAT32);
  CHECK(sg_promote_types(SG_UINT8, SG_BOOL) == SG_UINT8);
  sg_release(f);
  sg_release(i);
  sg_release(b);
  sg_release(u);
}

static void views_share_storage(void) {
  sg_tensor *x = tt_from(SG_FLOAT32, VALS(0, 1, 2, 3, 4, 5), 2, SHAPE(2, 3));
  sg_tensor *t = sg_transpose(x, 0, 1);
  CHECK(t && t->shape[0] == 3 && t->shape[1] == 2 && !sg_is_contiguous(t));
  CHECK(t->storage == x->storage);
  CHECK_VALUES(t, VALS(0, 3, 1, 4, 2, 5), 6, 0);
  sg_tensor *n = sg_narrow(x, 1, 1, 2);
  CHECK_VALUES(n, VALS(1, 2, 4, 5), 4, 0);
  sg_tensor *s = sg_select(x, 0, -1);
  CHECK(s && s->ndim == 1);
  CHECK_VALUES(s, VALS(3, 4, 5), 3, 0);
  sg_tensor *v = sg_view(x, SHAPE(3, -1), 2);
  CHECK(v && v->shape[0] == 3 && v->shape[1] == 2);
  CHECK_FAILS(sg_view(t, SHAPE(6), 1), "not laid out compatibly");
  sg_tensor *r = sg_reshape(t, SHAPE(6), 1);
  CHECK_VALUES(r, VALS(0, 3, 1, 4, 2, 5), 6, 0);
  CHECK(r && r->storage != x->storage);
  sg_tensor *u = sg_unsqueeze(x, 0);
  CHECK(u && u->ndim == 3 && u->shape[0] == 1);
  sg_tensor *q = sg_squeeze(u, SG_ALL_DIMS);
  CHECK(q && q->ndim == 2);
  sg_tensor *e = sg_expand(s, SHAPE(4, 3), 2);
  CHECK(e && e->strides[0] == 0);
  CHECK_VALUES(e, VALS(3, 4, 5, 3, 4, 5, 3, 4, 5, 3, 4, 5), 12, 0);
  sg_tensor *fl = sg_flatten(u, 0, -1);
  CHECK(fl && fl->ndim == 1 && fl->shape[0] == 6);
  int perm[2] = {1, 0};
  sg_tensor *p = sg_permute(x, perm, 2);
  CHECK_VALUES(p, VALS(0, 3, 1, 4, 2, 5), 6, 0);
  /* writing through a view changes the base */
  CHECK_OK(sg_fill_(n, 9));
  CHECK_VALUES(x, VALS(0, 9, 9, 3, 9, 9), 6, 0);
  sg_tensor *c = sg_contiguous(t);
  CHECK(c && sg_is_contiguous(c));
  CHECK_VALUES(c, VALS(0, 3, 9, 9, 9, 9), 6, 0);
  sg_tensor *all[] = {x, t, n, s, v, r, u, q, e, fl, p, c};
  sg_release_all(all, 12);
}

static void view_errors(void) {
  sg_tensor *x = sg_zeros(SHAPE(2, 3), 2, SG_FLOAT32, sg_cpu_device());
  CHECK_FAILS(sg_view(x, SHAPE(4), 1), "2x3");
  CHECK_FAILS(sg_narrow(x, 1, 2, 2), "out of bounds");
  CHECK_FAILS(sg_select(x, 2, 0), "out of range");
  CHECK_FAILS(sg_expand(x, SHAPE(3, 3), 2), "cannot expand 2x3 to 3x3");
  CHECK_FAILS(sg_transpose(x, 0, 5), "dim 5 out of range");
  CHECK_FAILS(sg_permute(x, (const int[]){0, 0}, 2), "repeated");
  CHECK_FAILS(sg_view(x, SHAPE(-1, -1), 2), "only one dim");
  sg_release(x);
}

static void copy_broadcast(void) {
  sg_tensor *dst = sg_zeros(SHAPE(2, 3), 2, SG_FLOAT64, sg_cpu_device());
  sg_tensor *row = tt_from(SG_INT64, VALS(1, 2, 3), 1, SHAPE(3));
  CHECK_OK(sg_copy_(dst, row));
  CHECK_VALUES(dst, VALS(1, 2, 3, 1, 2, 3), 6, 0);
  sg_tensor *bad = tt_from(SG_INT64, VALS(1, 2), 1, SHAPE(2));
  CHECK_STATUS_FAILS(sg_copy_(dst, bad), "cannot be broadcast");
  double v;
  CHECK_STATUS_FAILS(sg_item(dst, &v), "expected exactly 1");
  sg_release(dst);
  sg_release(row);
  sg_release(bad);
}

static void shape_strings(void) {
  char buf[64];
  sg_tensor *x = sg_zeros(SHAPE(3, 32, 32), 3, SG_FLOAT32, sg_cpu_device());
  CHECK(strcmp(sg_shape_str(x, buf, sizeof buf), "3x32x32") == 0);
  sg_tensor *s = sg_scalar_tensor(1, SG_FLOAT32, sg_cpu_device());
  CHECK(strcmp(sg_shape_str(s, buf, sizeof buf), "scalar") == 0);
  sg_release(x);
  sg_release(s);
}

/* The allocator's counters through the backend table (sgen/runtime.h):
 * a 1 MB tensor (cached when freed: blocks of 256 KB and more are kept)
 * shows in the live bytes, then in the cached bytes, which empty_cache
 * returns. */
static void memory_stats(void) {
  sg_memory_stats s0, s1, s2, s3;
  CHECK_OK(sg_device_empty_cache(sg_cpu_device()));
  CHECK_OK(sg_device_memory_stats(sg_cpu_device(), &s0));
  sg_tensor *t = sg_empty(SHAPE(1 << 18), 1, SG_FLOAT32, sg_cpu_device());
  CHECK_OK(sg_device_memory_stats(sg_cpu_device(), &s1));
  CHECK(s1.live_bytes >= s0.live_bytes + ((size_t)1 << 20));
  CHECK(s1.peak_bytes >= s1.live_bytes);
  CHECK(sg_live_bytes() >= s1.live_bytes);
  sg_release(t);
  CHECK_OK(sg_device_memory_stats(sg_cpu_device(), &s2));
  CHECK(s2.live_bytes == s0.live_bytes);
  CHECK(s2.cached_bytes >= s0.cached_bytes + ((size_t)1 << 20));
  CHECK_OK(sg_device_empty_cache(sg_cpu_device()));
  CHECK_OK(sg_device_memory_stats(sg_cpu_device(), &s3));
  CHECK(s3.cached_bytes == 0);
  CHECK_STATUS_FAILS(sg_device_memory_stats(sg_cpu_device(), NULL), "memory_stats: out is NULL");
}

int main(void) {
  RUN(creation);
  RUN(empty_tensors);
  RUN(creation_errors);
  RUN(dtype_conversion);
  RUN(views_share_storage);
  RUN(view_errors);
  RUN(copy_broadcast);
  RUN(shape_strings);
  RUN(memory_stats);
  return sg_test_finish();
}
