/* File I/O: safetensors, PNG, IDX, CIFAR-10. Round trips for every format
 * and dtype, files written by other tools (PyTorch, PIL: engine/tests/data,
 * made by tools/make_io_samples.py; Fashion-MNIST from Debian), and a
 * malformed-file test for every reader. Scratch files go to a temp dir that
 * is removed at the end. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- scratch dir and file helpers ---- */

static char scratch[512];

static const char *tmp_path(const char *name) {
  static char bufs[4][1024];
  static int k;
  char *b = bufs[k++ & 3];
  snprintf(b, 1024, "%s/%s", scratch, name);
  return b;
}

static const char *data_path(const char *name) {
  static char bufs[4][1024];
  static int k;
  char *b = bufs[k++ & 3];
  const char *src = getenv("SGEN_SOURCE_DIR");
  struct stat st;
  if (src) {
    snprintf(b, 1024, "%s/engine/tests/data/%s", src, name);
    return b;
  }
  static const char *const rel[] = {"engine/tests/data", "../engine/tests/data",
                                    "../../engine/tests/data"};
  for (int i = 0; i < 3; i++) {
    snprintf(b, 1024, "%s/%s", rel[i], name);
    if (stat(b, &st) == 0) return b;
  }
  return b;
}

static bool write_bytes(const char *path, const void *buf, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return false;
  bool ok = fwrite(buf, 1, n, f) == n;
  return fclose(f) == 0 && ok;
}

/* Whole file into a malloc'd buffer (NULL if unreadable). */
static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)len + 1);
  if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *n = (size_t)len;
  return buf;
}

/* Number of leftover temp files ("*.tmp.*") in the scratch dir. */
static int temp_files_left(void) {
  DIR *d = opendir(scratch);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strstr(e->d_name, ".tmp.")) n++;
  closedir(d);
  return n;
}

static void remove_scratch(void) {
  DIR *d = opendir(scratch);
  if (!d) return;
  struct dirent *e;
  char p[1200];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(p, sizeof p, "%s/%s", scratch, e->d_name);
    if (rmdir(p) != 0) unlink(p);
  }
  closedir(d);
  rmdir(scratch);
}

static bool has_shape(const sg_tensor *t, sg_dtype dt, int ndim, const int64_t *shape) {
  if (!t || t->dtype != dt || t->ndim != ndim) return false;
  for (int i = 0; i < ndim; i++)
    if (t->shape[i] != shape[i]) return false;
  return true;
}

static sg_tensor *dict_get(const sg_tensor_dict *d, const char *name) {
  for (int i = 0; i < d->n; i++)
    if (strcmp(d->names[i], name) == 0) return d->tensors[i];
  return NULL;
}

static const char *meta_get(const sg_tensor_dict *d, const char *key) {
  for (int i = 0; i < d->n_meta; i++)
    if (strcmp(d->meta_keys[i], key) == 0) return d->meta_values[i];
  return NULL;
}

/* Exact element-by-element equality of two int64 tensors (no double trip). */
static bool same_i64(const sg_tensor *t, const int64_t *expect, int64_t n) {
  if (!t || t->dtype != SG_INT64 || sg_numel(t) != n) return false;
  sg_tensor *c = sg_contiguous((sg_tensor *)t);
  bool ok = c && memcmp(sg_data_ptr(c), expect, sizeof(int64_t) * (size_t)n) == 0;
  sg_release(c);
  return ok;
}

/* Loading `path` fails with SG_ERR_IO, a message that names the file and
 * contains needle, and leaves the dict empty. */
static void check_load_fails(const char *path, const char *needle, int line) {
  sg_tensor_dict d;
  memset(&d, 0x5a, sizeof d);
  sg_clear_error();
  sg_status st = sg_safetensors_load(path, &d);
  char what[64];
  snprintf(what, sizeof what, "safetensors load (line %d)", line);
  sg_test_check_error(st != SG_OK, needle, what, __FILE__, line);
  sg_test_check(st == SG_ERR_IO && strstr(sg_last_error(), path) != NULL,
                "status is SG_ERR_IO and the message names the file", __FILE__, line);
  sg_test_check(d.n == 0 && d.names == NULL && d.tensors == NULL && d.n_meta == 0,
                "dict left empty", __FILE__, line);
  sg_tensor_dict_free(&d);
}

/* Writes a safetensors file with the given header text and `data_len`
 * bytes of data (value i & 0xff at byte i), then expects the load to fail. */
static void st_bad(const char *header, size_t data_len, const char *needle, int line) {
  size_t hl = strlen(header);
  size_t n = 8 + hl + data_len;
  unsigned char *buf = malloc(n);
  for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(buf + 8, header, hl);
  for (size_t i = 0; i < data_len; i++) buf[8 + hl + i] = (unsigned char)i;
  const char *p = tmp_path("bad.safetensors");
  CHECK(write_bytes(p, buf, n));
  free(buf);
  check_load_fails(p, needle, line);
}
#define ST_BAD(header, data_len, needle) st_bad((header), (data_len), (needle), __LINE__)

/* ---- safetensors ---- */

static void safetensors_roundtrip(void) {
  sg_tensor *f32 = tt_from(SG_FLOAT32, VALS(1.5, -2, 3.25, 0, 1e-3, -7.5), 2, SHAPE(2, 3));
  sg_tensor *f64 = tt_from(SG_FLOAT64, VALS(0.1, -1e300, 2.5, 1e-310), 1, SHAPE(4));
  const int64_t ivals[4] = {(INT64_C(1) << 53) + 1, -5, INT64_MAX, INT64_MIN};
  sg_tensor *i64 = sg_from_data(ivals, SHAPE(2, 2), 2, SG_INT64);
  sg_tensor *u8 = tt_from(SG_UINT8, VALS(0, 7, 255), 1, SHAPE(3));
  sg_tensor *b = tt_from(SG_BOOL, VALS(1, 0, 1, 1, 0), 1, SHAPE(5));
  sg_tensor *sc = sg_scalar_tensor(4.5, SG_FLOAT32, sg_cpu_device());
  sg_tensor *empty = sg_zeros(SHAPE(0, 3), 2, SG_FLOAT64, sg_cpu_device());
  sg_tensor *base = tt_from(SG_FLOAT32, VALS(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 2, SHAPE(3, 4));
  sg_tensor *tr = sg_transpose(base, 0, 1);      /* 4x3, non-contiguous */
  sg_tensor *nar = sg_narrow(base, 1, 1, 2);     /* 3x2 with an offset */
  sg_tensor *grad = tt_param(7, -1, 1, 2, SHAPE(2, 2)); /* requires_grad is fine */
  char *names[] = {"f32", "f64", "i64", "u8", "mask", "scalar", "empty", "w.t", "narrow", "p"};
  sg_tensor *ts[] = {f32, f64, i64, u8, b, sc, empty, tr, nar, grad};
  char *mk[] = {"format", "note"};
  char *mv[] = {"pt", "quote \" backslash \\ newline \n \xc3\xbc"};
  sg_tensor_dict d = {10, names, ts, 2, mk, mv};
  const char *p = tmp_path("rt.safetensors");
  CHECK_OK(sg_safetensors_save(p, &d));
  CHECK_OK(sg_safetensors_save(p, &d)); /* overwriting works */
  CHECK(temp_files_left() == 0);

  sg_tensor_dict r;
  CHECK_OK(sg_safetensors_load(p, &r));
  CHECK(r.n == 10 && r.n_meta == 2);
  for (int i = 0; i < 10; i++) {
    sg_tensor *got = dict_get(&r, names[i]);
    if (!CHECK(got != NULL)) continue;
    CHECK(has_shape(got, ts[i]->dtype, ts[i]->ndim, ts[i]->shape));
    if (ts[i]->dtype == SG_INT64)
      CHECK(same_i64(got, ivals, 4));
    else
      CHECK_CLOSE(got, ts[i], 0, 0);
    CHECK(!got->requires_grad && sg_is_contiguous(got));
  }
  CHECK_VALUES(dict_get(&r, "w.t"), VALS(0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11), 12, 0);
  CHECK_VALUES(dict_get(&r, "narrow"), VALS(1, 2, 5, 6, 9, 10), 6, 0);
  CHECK(meta_get(&r, "format") && strcmp(meta_get(&r, "format"), "pt") == 0);
  CHECK(meta_get(&r, "note") && strcmp(meta_get(&r, "note"), mv[1]) == 0);
  sg_tensor_dict_free(&r);
  CHECK(r.n == 0 && r.names == NULL);
  sg_tensor_dict_free(&r); /* idempotent */

  /* The layout matches the official writer: 8-aligned header starting with
   * the metadata, tensors widest dtype first, each aligned to its size. */
  size_t n = 0;
  unsigned char *raw = slurp(p, &n);
  if (CHECK(raw != NULL && n > 8)) {
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | raw[i];
    CHECK(hl % 8 == 0 && 8 + hl <= n);
    CHECK(memcmp(raw + 8, "{\"__metadata__\":{\"format\":\"pt\",", 31) == 0);
    CHECK(raw[8 + hl - 1] == ' ' || raw[8 + hl - 1] == '}');
    char *hdr = malloc(hl + 1);
    memcpy(hdr, raw + 8, hl);
    hdr[hl] = 0;
    CHECK(strstr(hdr, "\"i64\":{\"dtype\":\"I64\",\"shape\":[2,2],\"data_offsets\":[") != NULL);
    CHECK(strstr(hdr, "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],") != NULL);
    CHECK(strstr(hdr, "\"mask\":{\"dtype\":\"BOOL\"") != NULL);
    /* the official writer's order: I64, F64, F32, U8, BOOL, then by name */
    const char *order[] = {"\"i64\"", "\"empty\"", "\"f64\"", "\"p\"", "\"f32\"",
                           "\"narrow\"", "\"scalar\"", "\"w.t\"", "\"u8\"", "\"mask\""};
    const char *prev = hdr;
    for (int i = 0; i < 10; i++) {
      const char *q = strstr(hdr, order[i]);
      CHECK(q && q > prev);
      prev = q ? q : prev;
    }
    free(hdr);
    /* the data section holds exactly the tensors' bytes */
    size_t data = 0;
    for (int i = 0; i < 10; i++) data += (size_t)sg_numel(ts[i]) * sg_dtype_size(ts[i]->dtype);
    CHECK(n == 8 + hl + data);
  }
  free(raw);

  /* an empty dict is a valid file too */
  sg_tensor_dict e = {0, NULL, NULL, 0, NULL, NULL};
  CHECK_OK(sg_safetensors_save(tmp_path("empty.safetensors"), &e));
  CHECK_OK(sg_safetensors_load(tmp_path("empty.safetensors"), &r));
  CHECK(r.n == 0 && r.n_meta == 0);
  sg_tensor_dict_free(&r);
  raw = slurp(tmp_path("empty.safetensors"), &n);
  CHECK(raw && n == 16 && memcmp(raw + 8, "{}      ", 8) == 0);
  free(raw);
  CHECK(temp_files_left() == 0);

  for (int i = 0; i < 10; i++) sg_release(ts[i]);
  sg_release(base);
}

static void safetensors_torch_sample(void) {
  sg_tensor_dict d;
  if (!CHECK_OK(sg_safetensors_load(data_path("torch_sample.safetensors"), &d))) return;
  CHECK(d.n == 13);
  CHECK(meta_get(&d, "format") && strcmp(meta_get(&d, "format"), "pt") == 0);
  CHECK(meta_get(&d, "note") && strcmp(meta_get(&d, "note"), "quote \" and \xc3\xbc") == 0);
  sg_tensor *t = dict_get(&d, "f32");
  CHECK(has_shape(t, SG_FLOAT32, 2, SHAPE(2, 3)));
  CHECK_VALUES(t, VALS(1.5, -2, 3.25, 0, (float)1e-3, -7.5), 6, 0);
  t = dict_get(&d, "f64");
  CHECK(has_shape(t, SG_FLOAT64, 1, SHAPE(3)));
  CHECK_VALUES(t, VALS(0.1, -1e300, 2.5), 3, 0);
  t = dict_get(&d, "i64");
  CHECK(has_shape(t, SG_INT64, 2, SHAPE(2, 2)));
  CHECK(same_i64(t, (const int64_t[]){(INT64_C(1) << 40) + 1, -5, 0, INT64_C(9007199254740993)},
                 4));
  t = dict_get(&d, "u8");
  CHECK(has_shape(t, SG_UINT8, 1, SHAPE(3)));
  CHECK_VALUES(t, VALS(0, 7, 255), 3, 0);
  t = dict_get(&d, "flags");
  CHECK(has_shape(t, SG_BOOL, 1, SHAPE(4)));
  CHECK_VALUES(t, VALS(1, 0, 1, 1), 4, 0);
  /* F16 -> float32, exactly, with signed zero, subnormals, inf and NaN */
  t = dict_get(&d, "f16");
  CHECK(has_shape(t, SG_FLOAT32, 1, SHAPE(10)));
  CHECK_VALUES(t, VALS(0, 0, 1.5, -2.25, 65504, ldexp(1, -14), ldexp(1, -24), INFINITY,
                       -INFINITY, NAN),
               10, 0);
  if (t) CHECK(signbit(((float *)sg_data_ptr(t))[1]) && !signbit(((float *)sg_data_ptr(t))[0]));
  t = dict_get(&d, "bf16");
  CHECK(has_shape(t, SG_FLOAT32, 1, SHAPE(6)));
  CHECK_VALUES(t, VALS(1, -3.5, 3.3895313892515355e38, ldexp(1, -133), INFINITY, NAN), 6, 0);
  /* narrow integers -> int64 */
  t = dict_get(&d, "i32");
  CHECK(same_i64(t, (const int64_t[]){INT32_MIN, INT32_MAX, 3}, 3));
  t = dict_get(&d, "i16");
  CHECK(has_shape(t, SG_INT64, 2, SHAPE(2, 2)));
  CHECK(same_i64(t, (const int64_t[]){-32768, 32767, 1, -1}, 4));
  t = dict_get(&d, "i8");
  CHECK(same_i64(t, (const int64_t[]){-128, 127, 0}, 3));
  t = dict_get(&d, "scalar");
  CHECK(has_shape(t, SG_FLOAT32, 0, NULL));
  CHECK_VALUES(t, VALS(4.5), 1, 0);
  t = dict_get(&d, "empty");
  CHECK(has_shape(t, SG_FLOAT32, 2, SHAPE(0, 3)));
  t = dict_get(&d, "w.t"); /* PyTorch's transposed tensor, stored row-major */
  CHECK(has_shape(t, SG_FLOAT32, 2, SHAPE(3, 2)));
  CHECK_VALUES(t, VALS(0, 3, 1, 4, 2, 5), 6, 0);
  /* loading, saving with sgen and loading again preserves the converted values */
  CHECK_OK(sg_safetensors_save(tmp_path("resaved.safetensors"), &d));
  sg_tensor_dict r;
  if (CHECK_OK(sg_safetensors_load(tmp_path("resaved.safetensors"), &r))) {
    CHECK(r.n == d.n && r.n_meta == 2);
    for (int i = 0; i < d.n; i++) {
      sg_tensor *u = dict_get(&r, d.names[i]);
      CHECK(u && has_shape(u, d.tensors[i]->dtype, d.tensors[i]->ndim, d.tensors[i]->shape));
      if (u && sg_numel(u))
        CHECK(memcmp(sg_data_ptr(u), sg_data_ptr(d.tensors[i]),
                     (size_t)sg_numel(u) * sg_dtype_size(u->dtype)) == 0);
    }
    sg_tensor_dict_free(&r);
  }
  sg_tensor_dict_free(&d);
}

/* A header written by hand: whitespace, keys in another order, extra keys,
 * unsigned dtypes, a hole in the data section. */
static void safetensors_handwritten(void) {
  const char *hdr =
      "{\n  \"u16\": {\"data_offsets\": [0, 4], \"shape\": [2], \"dtype\": \"U16\", \"x\": 1},\n"
      "  \"u32\": {\"shape\": [1], \"dtype\": \"U32\", \"data_offsets\": [8, 12]},\n"
      "  \"u64\": {\"dtype\": \"U64\", \"shape\": [1, 1], \"data_offsets\": [16, 24]}\n}";
  size_t hl = strlen(hdr);
  unsigned char buf[512] = {0};
  for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(buf + 8, hdr, hl);
  unsigned char *data = buf + 8 + hl;
  const unsigned char bytes[24] = {0xff, 0xff, 0x01, 0x00, 9, 9, 9, 9, 0xfe, 0xff, 0xff, 0xff,
                                   9,    9,    9,    9,    1, 2, 3, 4, 5, 6, 7, 0x7f};
  memcpy(data, bytes, 24);
  const char *p = tmp_path("hand.safetensors");
  CHECK(write_bytes(p, buf, 8 + hl + 24));
  sg_tensor_dict d;
  if (CHECK_OK(sg_safetensors_load(p, &d))) {
    CHECK(d.n == 3 && d.n_meta == 0);
    CHECK(same_i64(dict_get(&d, "u16"), (const int64_t[]){65535, 1}, 2));
    CHECK(same_i64(dict_get(&d, "u32"), (const int64_t[]){INT64_C(4294967294)}, 1));
    CHECK(same_i64(dict_get(&d, "u64"), (const int64_t[]){INT64_C(0x7f07060504030201)}, 1));
    CHECK(has_shape(dict_get(&d, "u64"), SG_INT64, 2, SHAPE(1, 1)));
    sg_tensor_dict_free(&d);
  }
  /* a U64 value above 2^63-1 cannot become int64 */
  data[23] = 0x80;
  CHECK(write_bytes(p, buf, 8 + hl + 24));
  check_load_fails(p, "does not fit in int64", __LINE__);
  /* bool bytes other than 0/1 are normalized */
  const char *bh = "{\"b\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]}}";
  hl = strlen(bh);
  memset(buf, 0, sizeof buf);
  for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(buf + 8, bh, hl);
  buf[8 + hl] = 0;
  buf[8 + hl + 1] = 2;
  buf[8 + hl + 2] = 255;
  CHECK(write_bytes(p, buf, 8 + hl + 3));
  if (CHECK_OK(sg_safetensors_load(p, &d))) {
    const unsigned char *bv = sg_data_ptr(d.tensors[0]);
    CHECK(d.tensors[0]->dtype == SG_BOOL && bv[0] == 0 && bv[1] == 1 && bv[2] == 1);
    sg_tensor_dict_free(&d);
  }
}

static void safetensors_corrupt(void) {
  /* a good file to damage */
  sg_tensor *a = tt_from(SG_FLOAT32, VALS(1, 2, 3, 4), 2, SHAPE(2, 2));
  sg_tensor *b = tt_from(SG_INT64, VALS(5, 6), 1, SHAPE(2));
  char *names[] = {"a", "b"};
  sg_tensor *ts[] = {a, b};
  sg_tensor_dict d = {2, names, ts, 0, NULL, NULL};
  const char *good = tmp_path("good.safetensors");
  CHECK_OK(sg_safetensors_save(good, &d));
  size_t n = 0;
  unsigned char *raw = slurp(good, &n);
  const char *p = tmp_path("cut.safetensors");

  /* shorter than the 8-byte length, empty */
  CHECK(write_bytes(p, raw, 5));
  check_load_fails(p, "too short for the 8-byte header length", __LINE__);
  CHECK(write_bytes(p, raw, 0));
  check_load_fails(p, "file is 0 bytes", __LINE__);
  /* truncated inside the header, inside the data */
  CHECK(write_bytes(p, raw, 20));
  check_load_fails(p, "larger than the rest of the file", __LINE__);
  CHECK(write_bytes(p, raw, n - 3));
  check_load_fails(p, "outside the data section", __LINE__);
  /* absurd header length (but a file long enough to tempt a reader) */
  unsigned char big[16] = {0, 0, 0, 0, 0, 1, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
  CHECK(write_bytes(p, big, 16));
  check_load_fails(p, "absurd", __LINE__);
  unsigned char big2[16] = {0x00, 0xe2, 0xf5, 0x05, 0, 0, 0, 0, '{', '}'}; /* 100000256 */
  CHECK(write_bytes(p, big2, 16));
  check_load_fails(p, "absurd", __LINE__);
  free(raw);
  /* missing file, a directory */
  check_load_fails(tmp_path("nope.safetensors"), "cannot open", __LINE__);
  sg_tensor_dict m;
  CHECK_STATUS_FAILS(sg_safetensors_load(tmp_path("nope.safetensors"), &m),
                     "safetensors: cannot open '");
  CHECK(strstr(sg_last_error(), "nope.safetensors': No such file or directory") != NULL);
  CHECK(sg_last_status() == SG_ERR_IO);
  check_load_fails(scratch, "it is a directory", __LINE__);
  CHECK_STATUS_FAILS(sg_safetensors_load(good, NULL), "output dict is NULL");

  const char *A = "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}";
  char h[1024];
  /* JSON problems */
  ST_BAD("{\"a\":{\"dtype\":", 16, "not valid JSON");
  ST_BAD("", 16, "not valid JSON");
  ST_BAD("[1, 2]   ", 16, "header is not a JSON object");
  /* an empty tensor whose other sizes would overflow its strides (the same
   * defect fuzz/fuzz_idx found in the IDX reader) */
  ST_BAD("{\"e\":{\"dtype\":\"F32\",\"shape\":[0,1099511627776,1099511627776],"
         "\"data_offsets\":[0,0]}}",
         0, "tensor 'e': shape 0x1099511627776x1099511627776 is absurd (its nonzero sizes "
            "multiply to more than 2^46)");
  ST_BAD("{}  x    ", 16, "trailing bytes after the JSON object");
  /* entries */
  ST_BAD("{\"a\":3}", 16, "tensor 'a': entry is not a JSON object");
  ST_BAD("{\"a\":{\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, "tensor 'a': missing \"dtype\"");
  ST_BAD("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", 16,
         "tensor 'a': missing \"shape\"");
  ST_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2]}}", 16,
         "tensor 'a': missing \"data_offsets\"");
  ST_BAD("{\"a\":{\"dtype\":7,\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16,
         "\"dtype\" is not a string");
  ST_BAD("{\"a\":{\"dtype\":\"F99\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16,
         "tensor 'a': unknown dtype 'F99'");
  ST_BAD("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 16,
         "dtype F8_E4M3 is not supported");
  /* shapes */
  ST_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2,2],\"data_offsets\":[0,16]}}", 16,
         "tensor 'a': negative size -2 in shape");
  ST_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,16]}}", 16,
         "huge size");
  ST_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}}",
         16, "shape 4294967296x4294967296 of F32 is larger than the whole data section (16 bytes)");
  ST_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,16]}}", 16,
         "shape entry 0 is not an integer");
  ST_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,16]}}", 16,
         "shape entry 0 is not an integer");
  ST_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", 16,
         "\"shape\" is not an array");
  ST_BAD("{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 16,
         "shape has 9 dims, sgen supports at most 8");
  /* offsets */
  ST_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 16,
         "data_offsets [0, 12] hold 12 bytes but shape 2x2 of F32 needs 16");
  ST_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}}", 16,
         "data_offsets [8, 24] lie outside the data section (16 bytes)");
  ST_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,0]}}", 16,
         "end before they begin");
  ST_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0]}}", 16,
         "\"data_offsets\" must be [begin, end]");
  ST_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[-1,15]}}", 16,
         "two non-negative integers");
  ST_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,1e20]}}", 16,
         "two non-negative integers");
  snprintf(h, sizeof h, "{%s,\"b\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[8,24]}}", A);
  ST_BAD(h, 32, "tensors 'a' [0, 16] and 'b' [8, 24] overlap");
  snprintf(h, sizeof h, "{\"b\":{\"dtype\":\"U8\",\"shape\":[16],\"data_offsets\":[0,16]},%s}", A);
  ST_BAD(h, 16, "overlap");
  /* duplicates: cJSON keeps both keys, the reader must notice */
  snprintf(h, sizeof h, "{%s,\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[16,17]},%s}",
           A, A);
  ST_BAD(h, 17, "tensor name 'a' appears twice");
  ST_BAD("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "'__metadata__' appears twice");
  /* metadata */
  snprintf(h, sizeof h, "{\"__metadata__\":{\"k\":1},%s}", A);
  ST_BAD(h, 16, "\"__metadata__\" value of 'k' is not a string");
  snprintf(h, sizeof h, "{\"__metadata__\":[\"k\"],%s}", A);
  ST_BAD(h, 16, "\"__metadata__\" is not a JSON object");
  snprintf(h, sizeof h, "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"},%s}", A);
  ST_BAD(h, 16, "\"__metadata__\" key 'k' appears twice");
  /* and a well-formed one passes through the same helper's file layout */
  snprintf(h, sizeof h, "{%s}", A);
  size_t hl = strlen(h);
  unsigned char fb[256];
  for (int i = 0; i < 8; i++) fb[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(fb + 8, h, hl);
  float fv[4] = {1, 2, 3, 4};
  memcpy(fb + 8 + hl, fv, 16);
  CHECK(write_bytes(p, fb, 8 + hl + 16));
  sg_tensor_dict ok;
  if (CHECK_OK(sg_safetensors_load(p, &ok))) {
    CHECK_VALUES(ok.tensors[0], VALS(1, 2, 3, 4), 4, 0);
    sg_tensor_dict_free(&ok);
  }
  sg_release(a);
  sg_release(b);
}

static void safetensors_save_errors(void) {
  sg_tensor *a = tt_from(SG_FLOAT32, VALS(1, 2), 1, SHAPE(2));
  char *names[] = {"a", "a"};
  sg_tensor *ts[] = {a, a};
  sg_tensor_dict d = {2, names, ts, 0, NULL, NULL};
  const char *p = tmp_path("save_err.safetensors");
  CHECK_STATUS_FAILS(sg_safetensors_save(p, &d), "tensor name 'a' appears twice");
  CHECK_STATUS_FAILS(sg_safetensors_save(p, NULL), "dict is NULL");
  CHECK_STATUS_FAILS(sg_safetensors_save(NULL, &d), "path is NULL");
  char *n2[] = {"__metadata__"};
  sg_tensor_dict d2 = {1, n2, ts, 0, NULL, NULL};
  CHECK_STATUS_FAILS(sg_safetensors_save(p, &d2), "'__metadata__' is reserved");
  char *n3[] = {"x"};
  sg_tensor *nul[] = {NULL};
  sg_tensor_dict d3 = {1, n3, nul, 0, NULL, NULL};
  CHECK_STATUS_FAILS(sg_safetensors_save(p, &d3), "tensor 'x' is NULL");
  char *n4[] = {"bad\xff"};
  sg_tensor_dict d4 = {1, n4, ts, 0, NULL, NULL};
  CHECK_STATUS_FAILS(sg_safetensors_save(p, &d4), "not valid UTF-8");
  char *mk[] = {"k", "k"}, *mv[] = {"1", "2"};
  sg_tensor_dict d5 = {1, n3, ts, 2, mk, mv};
  CHECK_STATUS_FAILS(sg_safetensors_save(p, &d5), "metadata key 'k' appears twice");
  sg_tensor_dict d6 = {-1, n3, ts, 0, NULL, NULL};
  CHECK_STATUS_FAILS(sg_safetensors_save(p, &d6), "negative count");
  sg_tensor_dict ok = {1, n3, ts, 0, NULL, NULL};
  CHECK_STATUS_FAILS(sg_safetensors_save(tmp_path("no/such/dir/x.safetensors"), &ok),
                     "cannot create a temp file next to it: No such file or directory");
  CHECK(sg_last_status() == SG_ERR_IO);
  /* target is a directory: the rename fails, the temp file is removed */
  CHECK(mkdir(tmp_path("adir"), 0755) == 0);
  CHECK_STATUS_FAILS(sg_safetensors_save(tmp_path("adir"), &ok), "rename from temp file failed");
  CHECK(temp_files_left() == 0);
  /* a failed save leaves the existing file as it was */
  CHECK_OK(sg_safetensors_save(p, &ok));
  CHECK_STATUS_FAILS(sg_safetensors_save(p, &d), "appears twice");
  sg_tensor_dict r;
  if (CHECK_OK(sg_safetensors_load(p, &r))) {
    CHECK(r.n == 1 && strcmp(r.names[0], "x") == 0);
    sg_tensor_dict_free(&r);
  }
  CHECK(temp_files_left() == 0);
  sg_release(a);
}

/* ---- PNG ---- */

static void check_png(const char *file, int64_t c, const double *expect, double tol) {
  sg_tensor *t = sg_png_read(data_path(file));
  if (!sg_test_check(t != NULL, file, __FILE__, __LINE__)) return;
  if (!sg_test_check(has_shape(t, SG_FLOAT32, 3, (const int64_t[]){c, 2, 3}), file, __FILE__,
                     __LINE__)) {
    printf("    got dims %d, C=%lld\n", t->ndim, (long long)t->shape[0]);
  }
  sg_test_check_values(t, expect, c * 6, tol, 0, file, __FILE__, __LINE__);
  sg_release(t);
}

static void png_read_samples(void) {
  const double k = 1.0 / 255, w = 1.0 / 65535;
  check_png("png_gray.png", 1, VALS(0, 51 * k, 102 * k, 153 * k, 204 * k, 1), 1e-7);
  check_png("png_gray_alpha.png", 2,
            VALS(0, 51 * k, 102 * k, 153 * k, 204 * k, 1, 1, 0, 128 * k, k, 2 * k, 3 * k), 1e-7);
  check_png("png_rgb.png", 3,
            VALS(1, 0, 0, 10 * k, 40 * k, 70 * k, 0, 1, 0, 20 * k, 50 * k, 80 * k, 0, 0, 1,
                 30 * k, 60 * k, 90 * k),
            1e-7);
  check_png("png_rgba.png", 4,
            VALS(1, 0, 0, 10 * k, 50 * k, 90 * k, 0, 1, 0, 20 * k, 60 * k, 100 * k, 0, 0, 1,
                 30 * k, 70 * k, 110 * k, 1, 128 * k, 0, 40 * k, 80 * k, 120 * k),
            1e-7);
  check_png("png_palette.png", 3,
            VALS(1, 0, 0, 0, 0, 1, 0, 128 * k, 0, 0, 128 * k, 0, 0, 0, 1, 1, 0, 0), 1e-7);
  check_png("png_palette_trns.png", 4,
            VALS(1, 0, 0, 0, 0, 1, 0, 128 * k, 0, 0, 128 * k, 0, 0, 0, 1, 1, 0, 0, 1, 64 * k, 0,
                 0, 64 * k, 1),
            1e-7);
  check_png("png_gray16.png", 1, VALS(0, w, 257 * w, 32768 * w, 65534 * w, 1), 1e-7);
  check_png("png_gray1.png", 1, VALS(0, 1, 0, 1, 1, 0), 0);
  check_png("png_rgb16.png", 3,
            VALS(1, 2 * w, 5 * w, 8 * w, 11 * w, 1, 0, 3 * w, 6 * w, 9 * w, 12 * w, 1, w, 4 * w,
                 7 * w, 10 * w, 13 * w, 1),
            1e-7);
}

/* Writes an Adam7-interlaced 8-bit RGB PNG of w x h with pixel (x, y) =
 * (x*3, y*5, x+y) using libpng directly. */
static bool write_interlaced(const char *path, int w, int h) {
  FILE *f = fopen(path, "wb");
  if (!f) return false;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  unsigned char *px = malloc((size_t)w * h * 3);
  png_bytep *rows = malloc(sizeof(png_bytep) * (size_t)h);
  for (int y = 0; y < h; y++) {
    rows[y] = px + (size_t)y * w * 3;
    for (int x = 0; x < w; x++) {
      rows[y][3 * x] = (unsigned char)(x * 3);
      rows[y][3 * x + 1] = (unsigned char)(y * 5);
      rows[y][3 * x + 2] = (unsigned char)(x + y);
    }
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fclose(f);
    free(px);
    free(rows);
    return false;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_ADAM7, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  free(px);
  free(rows);
  return fclose(f) == 0;
}

/* A PNG whose ancillary chunk (sPLT) claims 1.9 GB in a 65-byte file: the
 * read fails cleanly without libpng allocating what the length claims (it
 * did, and touched it: peak RSS +1.9 GB; found by fuzz.smoke). */
static void png_huge_ancillary_chunk(void) {
  static const unsigned char head[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  unsigned char buf[128];
  size_t n = 0;
  memcpy(buf, head, 8);
  n = 8;
  /* IHDR 8x2, 2-bit palette, with its CRC */
  const unsigned char ihdr[17] = {'I', 'H', 'D', 'R', 0, 0, 0, 8, 0, 0, 0, 2, 2, 3, 0, 0, 0};
  buf[n++] = 0, buf[n++] = 0, buf[n++] = 0, buf[n++] = 13;
  memcpy(buf + n, ihdr, 17);
  n += 17;
  uLong crc = crc32(0L, ihdr, 17);
  for (int k = 3; k >= 0; k--) buf[n++] = (unsigned char)(crc >> (8 * k));
  /* sPLT claiming 0x70726f63 bytes, then the file ends */
  const unsigned char splt[] = {0x70, 0x72, 0x6f, 0x63, 's', 'P', 'L', 'T', 'x', 0, 1, 2};
  memcpy(buf + n, splt, sizeof splt);
  n += sizeof splt;
  const char *p = tmp_path("huge_splt.png");
  CHECK(write_bytes(p, buf, n));
  struct rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  CHECK_FAILS(sg_png_read(p), "huge_splt.png");
  getrusage(RUSAGE_SELF, &after);
  long grew_kb = after.ru_maxrss - before.ru_maxrss;
  char msg[96];
  snprintf(msg, sizeof msg, "peak RSS grew by %ld kB reading a %zu-byte PNG", grew_kb, n);
  sg_test_check(grew_kb < 64 * 1024, msg, __FILE__, __LINE__);
}

static void png_roundtrip(void) {
  /* float32 in [-0.2, 1.2]: clamped, scaled by 255 and rounded */
  sg_tensor *x = tt_uniform(11, SG_FLOAT32, -0.2, 1.2, 3, SHAPE(3, 4, 5));
  float *xv = sg_data_ptr(x);
  xv[0] = NAN;
  xv[1] = 0.5f / 255 + 1e-4f; /* rounds up */
  xv[2] = 0.5f / 255 - 1e-4f; /* rounds down */
  const char *p = tmp_path("rt.png");
  CHECK_OK(sg_png_write(p, x));
  sg_tensor *y = sg_png_read(p);
  CHECK(has_shape(y, SG_FLOAT32, 3, SHAPE(3, 4, 5)));
  double expect[60];
  for (int i = 0; i < 60; i++) {
    double v = xv[i];
    v = !(v > 0) ? 0 : v > 1 ? 1 : v;
    expect[i] = floor(v * 255 + 0.5) / 255;
  }
  CHECK(expect[0] == 0 && fabs(expect[1] - 1.0 / 255) < 1e-12 && expect[2] == 0);
  CHECK_VALUES(y, expect, 60, 1e-7);
  sg_release(y);

  /* float64, non-contiguous (an H x W x C tensor permuted to C x H x W) */
  sg_tensor *hwc = tt_uniform(12, SG_FLOAT64, 0, 1, 3, SHAPE(6, 7, 4));
  sg_tensor *chw = sg_permute(hwc, (const int[]){2, 0, 1}, 3);
  CHECK(chw && !sg_is_contiguous(chw));
  CHECK_OK(sg_png_write(p, chw));
  y = sg_png_read(p);
  CHECK(has_shape(y, SG_FLOAT32, 3, SHAPE(4, 6, 7)));
  CHECK_CLOSE(y, chw, 0.5 / 255 + 1e-6, 0);
  sg_release(y);

  /* uint8 is exact, for 1, 2, 3 and 4 channels */
  for (int64_t c = 1; c <= 4; c++) {
    sg_tensor *u = tt_uniform(20 + (uint64_t)c, SG_FLOAT64, 0, 256, 3, SHAPE(c, 5, 9));
    sg_tensor *u8 = sg_to_dtype(u, SG_UINT8);
    CHECK_OK(sg_png_write(p, u8));
    y = sg_png_read(p);
    CHECK(has_shape(y, SG_FLOAT32, 3, ((const int64_t[]){c, 5, 9})));
    sg_tensor *back = y ? sg_full_like(y, 0) : NULL;
    if (back) {
      float *bv = sg_data_ptr(back);
      const float *yv = sg_data_ptr(y);
      for (int64_t i = 0; i < sg_numel(y); i++) bv[i] = roundf(yv[i] * 255);
    }
    CHECK_CLOSE(back, u8, 0, 0);
    sg_release(back);
    sg_release(y);
    sg_release(u);
    sg_release(u8);
  }

  /* a larger image takes the parallel conversion paths */
  sg_tensor *big = tt_uniform(13, SG_FLOAT32, 0, 1, 3, SHAPE(3, 300, 400));
  CHECK_OK(sg_png_write(p, big));
  y = sg_png_read(p);
  CHECK_CLOSE(y, big, 0.5 / 255 + 1e-6, 0);
  sg_release(y);
  sg_release(big);

  /* an all-zero image compresses close to deflate's best ratio, and must
   * still pass the reader's check of the header against the file size */
  sg_tensor *zeros = sg_zeros(SHAPE(3, 1000, 1000), 3, SG_FLOAT32, sg_cpu_device());
  CHECK_OK(sg_png_write(p, zeros));
  y = sg_png_read(p);
  CHECK_CLOSE(y, zeros, 0, 0);
  sg_release(y);
  sg_release(zeros);

  /* an interlaced file written by libpng directly */
  const char *pi = tmp_path("interlaced.png");
  CHECK(write_interlaced(pi, 13, 11));
  y = sg_png_read(pi);
  if (CHECK(has_shape(y, SG_FLOAT32, 3, SHAPE(3, 11, 13)))) {
    const float *yv = sg_data_ptr(y);
    bool ok = true;
    for (int yy = 0; yy < 11; yy++)
      for (int xx = 0; xx < 13; xx++) {
        ok &= yv[0 * 143 + yy * 13 + xx] == (float)(xx * 3) / 255.0f;
        ok &= yv[1 * 143 + yy * 13 + xx] == (float)(yy * 5) / 255.0f;
        ok &= yv[2 * 143 + yy * 13 + xx] == (float)(xx + yy) / 255.0f;
      }
    CHECK(ok);
  }
  sg_release(y);
  CHECK(temp_files_left() == 0);
  sg_release(x);
  sg_release(hwc);
  sg_release(chw);
}

/* Rewrites the IHDR width/height of a PNG in buf (fixing the CRC). */
static void patch_ihdr(unsigned char *buf, uint32_t w, uint32_t h) {
  unsigned char *d = buf + 16; /* 8 signature + 4 length + 4 "IHDR" */
  for (int i = 0; i < 4; i++) {
    d[i] = (unsigned char)(w >> (24 - 8 * i));
    d[4 + i] = (unsigned char)(h >> (24 - 8 * i));
  }
  uLong crc = crc32(0, buf + 12, 17);
  for (int i = 0; i < 4; i++) buf[29 + i] = (unsigned char)(crc >> (24 - 8 * i));
}

static void png_errors(void) {
  CHECK_FAILS(sg_png_read(tmp_path("missing.png")), "png: cannot open '");
  CHECK(strstr(sg_last_error(), "missing.png': No such file or directory") != NULL);
  CHECK(sg_last_status() == SG_ERR_IO);
  CHECK_FAILS(sg_png_read(NULL), "path is NULL");
  const char *p = tmp_path("bad.png");
  CHECK(write_bytes(p, "hello, this is not a png", 24));
  CHECK_FAILS(sg_png_read(p), "not a PNG file (bad signature)");
  CHECK(write_bytes(p, "\x89PNG", 4));
  CHECK_FAILS(sg_png_read(p), "not a PNG file");

  /* a good file, then damaged copies of it */
  sg_tensor *img = tt_uniform(14, SG_FLOAT32, 0, 1, 3, SHAPE(3, 64, 80));
  const char *good = tmp_path("good.png");
  CHECK_OK(sg_png_write(good, img));
  sg_release(img);
  size_t n = 0;
  unsigned char *raw = slurp(good, &n);
  if (!CHECK(raw && n > 200)) {
    free(raw);
    return;
  }
  /* truncated: after the signature, in IHDR, in the middle of IDAT, before IEND */
  size_t cuts[] = {8, 20, n / 2, n - 12};
  for (int i = 0; i < 4; i++) {
    CHECK(write_bytes(p, raw, cuts[i]));
    sg_clear_error();
    sg_tensor *t = sg_png_read(p);
    CHECK(t == NULL && sg_last_status() == SG_ERR_IO);
    CHECK(strstr(sg_last_error(), "png: '") && strstr(sg_last_error(), "bad.png'"));
    sg_release(t);
  }
  /* bad IHDR CRC */
  unsigned char *bad = malloc(n);
  memcpy(bad, raw, n);
  bad[29] ^= 0xff;
  CHECK(write_bytes(p, bad, n));
  CHECK_FAILS(sg_png_read(p), "CRC error");
  /* garbage in the compressed data */
  memcpy(bad, raw, n);
  for (size_t i = 60; i < 90 && i < n; i++) bad[i] ^= 0x5a;
  CHECK(write_bytes(p, bad, n));
  CHECK_FAILS(sg_png_read(p), "png: '");
  /* absurd dimensions are refused before any pixel memory is allocated */
  memcpy(bad, raw, n);
  patch_ihdr(bad, 20000, 20000);
  CHECK(write_bytes(p, bad, n));
  CHECK_FAILS(sg_png_read(p), "image is 20000x20000, more than 2^28 pixels");
  /* a header announcing more pixel data than the file can hold compressed
   * is refused before the pixel buffer is allocated (a 74-byte file with a
   * 16384x16384 RGBA 16-bit IHDR made the reader allocate 2 GiB, which
   * fuzz/fuzz_png reports as out-of-memory; kept as fuzz/corpus/png/huge_ihdr.png) */
  patch_ihdr(bad, 16000, 16000);
  CHECK(write_bytes(p, bad, n));
  CHECK_FAILS(sg_png_read(p), "image is 16000x16000 (8-bit, 3 channels), 768000000 bytes of pixel "
                              "data, more than a ");
  CHECK(strstr(sg_last_error(), "-byte file can hold (corrupt header?)") != NULL);
  patch_ihdr(bad, 3000000, 1);
  CHECK(write_bytes(p, bad, n));
  CHECK_FAILS(sg_png_read(p), "width exceeds user limit");
  patch_ihdr(bad, 0, 10);
  CHECK(write_bytes(p, bad, n));
  CHECK_FAILS(sg_png_read(p), "Invalid IHDR data (last warning: Image width is zero in IHDR)");
  free(bad);
  free(raw);

  /* writer argument checks */
  sg_tensor *two = sg_zeros(SHAPE(4, 4), 2, SG_FLOAT32, sg_cpu_device());
  CHECK_STATUS_FAILS(sg_png_write(p, two), "png_write: image has shape 4x4, expected C x H x W");
  sg_tensor *five = sg_zeros(SHAPE(5, 2, 2), 3, SG_FLOAT32, sg_cpu_device());
  CHECK_STATUS_FAILS(sg_png_write(p, five), "image has shape 5x2x2");
  sg_tensor *ints = sg_zeros(SHAPE(3, 2, 2), 3, SG_INT64, sg_cpu_device());
  CHECK_STATUS_FAILS(sg_png_write(p, ints), "image has dtype int64, expected float32");
  sg_tensor *empty = sg_zeros(SHAPE(3, 0, 2), 3, SG_FLOAT32, sg_cpu_device());
  CHECK_STATUS_FAILS(sg_png_write(p, empty), "expected 1 to 2^28 pixels");
  CHECK_STATUS_FAILS(sg_png_write(p, NULL), "image is NULL");
  sg_tensor *okimg = sg_zeros(SHAPE(1, 2, 2), 3, SG_FLOAT32, sg_cpu_device());
  CHECK_STATUS_FAILS(sg_png_write(tmp_path("no/dir/x.png"), okimg), "cannot create a temp file");
  CHECK(temp_files_left() == 0);
  sg_release(two);
  sg_release(five);
  sg_release(ints);
  sg_release(empty);
  sg_release(okimg);
}

/* ---- IDX ---- */

/* Builds an IDX file image: header for `type` and dims, then the payload. */
static size_t idx_build(unsigned char *buf, int type, int nd, const uint32_t *dims,
                        const void *payload, size_t payload_len) {
  buf[0] = 0;
  buf[1] = 0;
  buf[2] = (unsigned char)type;
  buf[3] = (unsigned char)nd;
  for (int i = 0; i < nd; i++)
    for (int k = 0; k < 4; k++) buf[4 + 4 * i + k] = (unsigned char)(dims[i] >> (24 - 8 * k));
  if (payload_len) memcpy(buf + 4 + 4 * nd, payload, payload_len);
  return 4 + 4 * (size_t)nd + payload_len;
}

static bool write_gz(const char *path, const void *buf, size_t n) {
  gzFile g = gzopen(path, "wb");
  if (!g) return false;
  bool ok = n == 0 || gzwrite(g, buf, (unsigned)n) == (int)n;
  return gzclose(g) == Z_OK && ok;
}

/* Writes the file plain and gzipped, reads both, checks shape/dtype and
 * (for float/int types) the values. */
static void idx_case(int type, int nd, const uint32_t *dims, const unsigned char *payload,
                     size_t len, sg_dtype dt, const double *expect, int64_t n) {
  unsigned char buf[256];
  size_t total = idx_build(buf, type, nd, dims, payload, len);
  int64_t shape[8];
  for (int i = 0; i < nd; i++) shape[i] = dims[i];
  for (int gz = 0; gz < 2; gz++) {
    const char *p = tmp_path(gz ? "t.idx.gz" : "t.idx");
    CHECK(gz ? write_gz(p, buf, total) : write_bytes(p, buf, total));
    sg_tensor *t = sg_idx_read(p);
    if (!CHECK(has_shape(t, dt, nd, shape))) printf("    type 0x%02x gz=%d\n", type, gz);
    CHECK_VALUES(t, expect, n, 0);
    sg_release(t);
  }
}

static void idx_roundtrip(void) {
  /* ubyte 2x3x2 */
  unsigned char ub[12];
  double ube[12];
  for (int i = 0; i < 12; i++) ube[i] = ub[i] = (unsigned char)(i * 23);
  idx_case(0x08, 3, (const uint32_t[]){2, 3, 2}, ub, 12, SG_UINT8, ube, 12);
  /* sbyte */
  const unsigned char sb[4] = {0x80, 0x7f, 0xff, 0x00};
  idx_case(0x09, 1, (const uint32_t[]){4}, sb, 4, SG_INT64, VALS(-128, 127, -1, 0), 4);
  /* short (big-endian) 2x2 */
  const unsigned char sh[8] = {0x80, 0x00, 0x7f, 0xff, 0x01, 0x02, 0xff, 0xfe};
  idx_case(0x0B, 2, (const uint32_t[]){2, 2}, sh, 8, SG_INT64, VALS(-32768, 32767, 258, -2), 4);
  /* int */
  const unsigned char in[12] = {0x80, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 1, 0x01, 0xd0};
  idx_case(0x0C, 1, (const uint32_t[]){3}, in, 12, SG_INT64,
           VALS(-2147483648.0, 2147483647.0, 66000), 3);
  /* float: 1.5 = 0x3fc00000, -2.25 = 0xc0100000 */
  const unsigned char fl[8] = {0x3f, 0xc0, 0, 0, 0xc0, 0x10, 0, 0};
  idx_case(0x0D, 2, (const uint32_t[]){1, 2}, fl, 8, SG_FLOAT32, VALS(1.5, -2.25), 2);
  /* double, big-endian (0.1 = 0x3fb999999999999a) */
  double dv[2] = {0.1, -1e300};
  unsigned char db[16];
  for (int j = 0; j < 2; j++) {
    uint64_t bits;
    memcpy(&bits, &dv[j], 8);
    for (int k = 0; k < 8; k++) db[8 * j + k] = (unsigned char)(bits >> (56 - 8 * k));
  }
  CHECK(db[0] == 0x3f && db[1] == 0xb9 && db[7] == 0x9a);
  idx_case(0x0E, 1, (const uint32_t[]){2}, db, 16, SG_FLOAT64, VALS(0.1, -1e300), 2);
  /* zero-size dims are fine */
  idx_case(0x08, 2, (const uint32_t[]){0, 28}, ub, 0, SG_UINT8, NULL, 0);
  /* a larger ubyte file through gzip, beyond zlib's buffer */
  int64_t big_n = 300000;
  unsigned char *big = malloc((size_t)big_n + 12); /* 12-byte header for 2 dims */
  uint32_t bd[2] = {300, 1000};
  for (int64_t i = 0; i < big_n; i++) big[12 + i] = (unsigned char)(i * 7 + (i >> 9));
  idx_build(big, 0x08, 2, bd, NULL, 0);
  const char *p = tmp_path("big.idx.gz");
  CHECK(write_gz(p, big, (size_t)big_n + 12));
  sg_tensor *t = sg_idx_read(p);
  CHECK(has_shape(t, SG_UINT8, 2, SHAPE(300, 1000)));
  if (t) CHECK(memcmp(sg_data_ptr(t), big + 12, (size_t)big_n) == 0);
  sg_release(t);
  /* int type larger than one conversion chunk */
  int64_t m = 40000;
  unsigned char *ib = malloc((size_t)m * 4 + 8);
  uint32_t md[1] = {(uint32_t)m};
  idx_build(ib, 0x0C, 1, md, NULL, 0); /* 8-byte header */
  for (int64_t i = 0; i < m; i++) {
    uint32_t v = (uint32_t)(i * 100003 - 7);
    for (int k = 0; k < 4; k++) ib[8 + 4 * i + k] = (unsigned char)(v >> (24 - 8 * k));
  }
  CHECK(write_bytes(tmp_path("int.idx"), ib, (size_t)m * 4 + 8));
  t = sg_idx_read(tmp_path("int.idx"));
  if (CHECK(has_shape(t, SG_INT64, 1, SHAPE(m)))) {
    const int64_t *v = sg_data_ptr(t);
    bool ok = true;
    for (int64_t i = 0; i < m; i++) ok &= v[i] == (int32_t)(uint32_t)(i * 100003 - 7);
    CHECK(ok);
  }
  sg_release(t);
  free(ib);
  free(big);
}

static void idx_errors(void) {
  CHECK_FAILS(sg_idx_read(tmp_path("missing.idx")), "idx: cannot open '");
  CHECK(strstr(sg_last_error(), "missing.idx': No such file or directory") != NULL);
  CHECK(sg_last_status() == SG_ERR_IO);
  CHECK_FAILS(sg_idx_read(scratch), "it is a directory");
  const char *p = tmp_path("bad.idx");
  unsigned char buf[128];
  const unsigned char payload[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(write_bytes(p, "\0\0", 2));
  CHECK_FAILS(sg_idx_read(p), "too short for the 4-byte IDX magic");
  CHECK(write_bytes(p, "", 0));
  CHECK_FAILS(sg_idx_read(p), "too short");
  size_t n = idx_build(buf, 0x08, 1, (const uint32_t[]){8}, payload, 8);
  buf[0] = 1;
  CHECK(write_bytes(p, buf, n));
  CHECK_FAILS(sg_idx_read(p), "bad magic 0x01000801");
  buf[0] = 0;
  buf[2] = 0x0A;
  CHECK(write_bytes(p, buf, n));
  CHECK_FAILS(sg_idx_read(p), "unknown data type code 0x0a");
  buf[2] = 0x08;
  buf[3] = 0;
  CHECK(write_bytes(p, buf, n));
  CHECK_FAILS(sg_idx_read(p), "header says 0 dims");
  buf[3] = 9;
  CHECK(write_bytes(p, buf, n));
  CHECK_FAILS(sg_idx_read(p), "header says 9 dims, sgen reads 1 to 8");
  /* truncated in the dims, in the data; trailing bytes */
  n = idx_build(buf, 0x08, 3, (const uint32_t[]){2, 2, 2}, payload, 8);
  CHECK(write_bytes(p, buf, 10));
  CHECK_FAILS(sg_idx_read(p), "truncated in the dimension sizes");
  CHECK(write_bytes(p, buf, n - 3));
  CHECK_FAILS(sg_idx_read(p), "file is truncated: header says 2x2x2 of ubyte (8 data bytes) but "
                              "the file holds only 5");
  buf[n] = 9;
  CHECK(write_bytes(p, buf, n + 1));
  CHECK_FAILS(sg_idx_read(p), "file has 1 trailing bytes");
  /* absurd dims are refused before allocating */
  n = idx_build(buf, 0x0E, 3, (const uint32_t[]){0xffffffffu, 0xffffffffu, 7}, payload, 8);
  CHECK(write_bytes(p, buf, n));
  CHECK_FAILS(sg_idx_read(p), "an absurd size");
  /* ... also beside a size-0 dim (the tensor is empty, but its strides
   * overflowed; found by fuzz/fuzz_idx, kept in fuzz/corpus/idx) */
  n = idx_build(buf, 0x08, 4, (const uint32_t[]){0x2f0b0000u, 0, 0x0b0b0b0bu, 0x0b0b0b0bu},
                NULL, 0);
  CHECK(write_bytes(p, buf, n));
  CHECK_FAILS(sg_idx_read(p), "header says 789250048x0x185273099x185273099 of ubyte, an absurd size");
  n = idx_build(buf, 0x08, 3, (const uint32_t[]){3, 0, 100000}, NULL, 0);
  CHECK(write_bytes(p, buf, n));
  sg_tensor *empty = sg_idx_read(p);
  CHECK(has_shape(empty, SG_UINT8, 3, SHAPE(3, 0, 100000)));
  sg_release(empty);
  n = idx_build(buf, 0x08, 2, (const uint32_t[]){100000, 100000}, payload, 8);
  CHECK(write_bytes(p, buf, n));
  CHECK_FAILS(sg_idx_read(p), "file is truncated");
  /* gzip: header promising more than the stream can hold */
  const char *g = tmp_path("bad.idx.gz");
  CHECK(write_gz(g, buf, n));
  CHECK_FAILS(sg_idx_read(g), "more than a");
  /* gzip: fewer data bytes than the header says, trailing bytes */
  n = idx_build(buf, 0x0B, 1, (const uint32_t[]){4}, payload, 8);
  CHECK(write_gz(g, buf, n - 2));
  CHECK_FAILS(sg_idx_read(g), "file is truncated: header says 4 of short (8 data bytes) but "
                              "only 6 are there");
  buf[n] = 1;
  CHECK(write_gz(g, buf, n + 1));
  CHECK_FAILS(sg_idx_read(g), "trailing bytes after the 4 of short data");
  /* gzip: a cut stream, a damaged CRC */
  unsigned char *big = malloc(20016);
  for (int i = 0; i < 20000; i++) big[16 + i] = (unsigned char)(i * 131 + (i >> 5));
  idx_build(big, 0x08, 3, (const uint32_t[]){20, 20, 50}, NULL, 0); /* 16-byte header */
  CHECK(write_gz(g, big, 20016));
  sg_tensor *ok = sg_idx_read(g);
  CHECK(has_shape(ok, SG_UINT8, 3, SHAPE(20, 20, 50)));
  sg_release(ok);
  size_t gn = 0;
  unsigned char *graw = slurp(g, &gn);
  if (CHECK(graw && gn > 100)) {
    CHECK(write_bytes(g, graw, gn / 2));
    CHECK_FAILS(sg_idx_read(g), "file is truncated");
    CHECK(strstr(sg_last_error(), "unexpected end of file") != NULL);
    CHECK(write_bytes(g, graw, gn - 4)); /* only the length field is missing */
    CHECK_FAILS(sg_idx_read(g), "idx: '");
    graw[gn - 6] ^= 0xff; /* CRC */
    CHECK(write_bytes(g, graw, gn));
    CHECK_FAILS(sg_idx_read(g), "incorrect data check");
    graw[gn - 6] ^= 0xff;
    graw[10] = 0xff; /* broken deflate data */
    graw[11] = 0xff;
    CHECK(write_bytes(g, graw, gn));
    CHECK_FAILS(sg_idx_read(g), "idx: '");
    CHECK(sg_last_status() == SG_ERR_IO);
  }
  free(graw);
  free(big);
}

static void idx_fashion_mnist(void) {
  const char *dir = "/usr/share/datasets/fashion-mnist";
  char lp[256], ip[256];
  snprintf(lp, sizeof lp, "%s/t10k-labels-idx1-ubyte.gz", dir);
  snprintf(ip, sizeof ip, "%s/t10k-images-idx3-ubyte.gz", dir);
  if (access(lp, R_OK) != 0 || access(ip, R_OK) != 0) {
    printf("  skip: Fashion-MNIST not found in %s (Debian package dataset-fashion-mnist)\n", dir);
    return;
  }
  sg_tensor *l = sg_idx_read(lp);
  CHECK(has_shape(l, SG_UINT8, 1, SHAPE(10000)));
  if (l) {
    const unsigned char *v = sg_data_ptr(l);
    const unsigned char first[12] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5};
    CHECK(memcmp(v, first, 12) == 0);
    int count[10] = {0};
    bool in_range = true;
    for (int i = 0; i < 10000; i++) {
      if (v[i] < 10)
        count[v[i]]++;
      else
        in_range = false;
    }
    CHECK(in_range);
    for (int k = 0; k < 10; k++) CHECK(count[k] == 1000);
  }
  sg_tensor *im = sg_idx_read(ip);
  CHECK(has_shape(im, SG_UINT8, 3, SHAPE(10000, 28, 28)));
  if (im) {
    const unsigned char *v = sg_data_ptr(im);
    long s0 = 0, slast = 0;
    for (int i = 0; i < 784; i++) {
      s0 += v[i];
      slast += v[9999 * 784 + i];
    }
    CHECK(s0 == 33456 && slast == 24390);
    const unsigned char row[8] = {0, 0, 98, 136, 110, 109, 110, 162};
    CHECK(memcmp(v + 14 * 28 + 10, row, 8) == 0);
  }
  sg_release(l);
  sg_release(im);
}

/* ---- CIFAR-10 ---- */

static unsigned char cifar_px(int rec, int i) {
  return (unsigned char)(rec * 7 + i * 13 + (i >> 8));
}

static void cifar10(void) {
  const int n = 3;
  const unsigned char labels[3] = {0, 9, 3};
  unsigned char *buf = malloc(3073 * 4);
  for (int r = 0; r < n; r++) {
    buf[r * 3073] = labels[r];
    for (int i = 0; i < 3072; i++) buf[r * 3073 + 1 + i] = cifar_px(r, i);
  }
  const char *p = tmp_path("data_batch.bin");
  CHECK(write_bytes(p, buf, 3073 * n));
  sg_tensor *img = NULL, *lab = NULL;
  CHECK_OK(sg_cifar10_read(p, &img, &lab));
  CHECK(has_shape(img, SG_UINT8, 4, SHAPE(3, 3, 32, 32)));
  CHECK(same_i64(lab, (const int64_t[]){0, 9, 3}, 3));
  if (img) {
    const unsigned char *v = sg_data_ptr(img);
    bool ok = true;
    for (int r = 0; r < n; r++)
      for (int i = 0; i < 3072; i++) ok &= v[r * 3072 + i] == cifar_px(r, i);
    CHECK(ok);
    /* record 1, G plane (index 1024 of the record), pixel (2, 5) */
    CHECK(sg_get_flat(img, 3072 + 1024 + 2 * 32 + 5) == cifar_px(1, 1024 + 69));
  }
  sg_release(img);
  sg_release(lab);

  /* errors: size, labels, missing file, NULL outputs */
  CHECK(write_bytes(p, buf, 3073 * 2 + 5));
  img = lab = (sg_tensor *)1;
  CHECK_STATUS_FAILS(sg_cifar10_read(p, &img, &lab),
                     "file size 6151 is not a positive multiple of 3073");
  CHECK(img == NULL && lab == NULL && sg_last_status() == SG_ERR_IO);
  CHECK(write_bytes(p, buf, 0));
  CHECK_STATUS_FAILS(sg_cifar10_read(p, &img, &lab), "file size 0 is not a positive multiple");
  buf[3073] = 10;
  CHECK(write_bytes(p, buf, 3073 * n));
  CHECK_STATUS_FAILS(sg_cifar10_read(p, &img, &lab), "record 1 has label 10, expected 0..9");
  CHECK(img == NULL && lab == NULL);
  CHECK_STATUS_FAILS(sg_cifar10_read(tmp_path("nope.bin"), &img, &lab), "cifar10: cannot open '");
  CHECK(strstr(sg_last_error(), "No such file or directory") != NULL);
  CHECK_STATUS_FAILS(sg_cifar10_read(p, NULL, &lab), "must not be NULL");
  free(buf);
}

int main(void) {
  char base[400];
  const char *td = getenv("TMPDIR");
  snprintf(base, sizeof base, "%s/sgen-io-XXXXXX", td && *td ? td : "/tmp");
  if (!mkdtemp(base)) {
    printf("cannot create a scratch dir: %s\n", strerror(errno));
    return 1;
  }
  snprintf(scratch, sizeof scratch, "%s", base);
  RUN(safetensors_roundtrip);
  RUN(safetensors_torch_sample);
  RUN(safetensors_handwritten);
  RUN(safetensors_corrupt);
  RUN(safetensors_save_errors);
  RUN(png_read_samples);
  RUN(png_roundtrip);
  RUN(png_errors);
  RUN(png_huge_ancillary_chunk);
  RUN(idx_roundtrip);
  RUN(idx_errors);
  RUN(idx_fashion_mnist);
  RUN(cifar10);
  remove_scratch();
  return sg_test_finish();
}
