/* safetensors reader and writer (https://github.com/huggingface/safetensors).
 *
 * Layout: an unsigned 64-bit little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"key": "value", ...},
 *    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 * (padded with spaces), then the data section; offsets are relative to its
 * start, data is little-endian and row-major.
 *
 * dtypes: F32, F64, I64, U8 and BOOL load as the matching sgen dtype (BOOL
 * bytes are normalized to 0/1). Other dtypes are converted on load, exactly:
 * F16 and BF16 -> float32; I32, I16, I8, U32, U16 -> int64; U64 -> int64 (an
 * error if a value exceeds 2^63-1). F8_E4M3 / F8_E5M2 are refused. Writing
 * uses F32, F64, I64, U8, BOOL.
 *
 * The writer follows the official one: "__metadata__" first, tensors ordered
 * by dtype as the official writer does (I64, F64, F32, U8, BOOL) then name,
 * compact JSON padded with spaces to a multiple of 8 bytes, so every tensor
 * is aligned to its element size. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "internal/tensor_internal.h"
#include "io/io_util.h"
#include "sgen/io.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "engine/io/safetensors.c assumes a little-endian host"
#endif

#define ST_MAX_HEADER 100000000ULL     /* the official reader's limit */
#define ST_MAX_INT 9007199254740992.0 /* 2^53: larger JSON numbers are not exact */
#define ST_MAX_SPAN (UINT64_C(1) << 46) /* sg_empty's limit on a shape */

typedef enum { K_DIRECT, K_F16, K_BF16, K_SINT, K_UINT, K_REFUSED } st_kind;

typedef struct st_type {
  const char *name;
  size_t size;
  st_kind kind;
  sg_dtype dt; /* dtype it loads as */
} st_type;

static const st_type st_types[] = {
    {"F32", 4, K_DIRECT, SG_FLOAT32}, {"F64", 8, K_DIRECT, SG_FLOAT64},
    {"I64", 8, K_DIRECT, SG_INT64},   {"U8", 1, K_DIRECT, SG_UINT8},
    {"BOOL", 1, K_DIRECT, SG_BOOL},   {"F16", 2, K_F16, SG_FLOAT32},
    {"BF16", 2, K_BF16, SG_FLOAT32},  {"I32", 4, K_SINT, SG_INT64},
    {"I16", 2, K_SINT, SG_INT64},     {"I8", 1, K_SINT, SG_INT64},
    {"U64", 8, K_UINT, SG_INT64},     {"U32", 4, K_UINT, SG_INT64},
    {"U16", 2, K_UINT, SG_INT64},     {"F8_E4M3", 1, K_REFUSED, SG_FLOAT32},
    {"F8_E5M2", 1, K_REFUSED, SG_FLOAT32},
};

static const char *st_name_of(sg_dtype dt) {
  switch (dt) {
    case SG_FLOAT32: return "F32";
    case SG_FLOAT64: return "F64";
    case SG_INT64: return "I64";
    case SG_UINT8: return "U8";
    case SG_BOOL: return "BOOL";
    default: return NULL;
  }
}

typedef struct st_entry {
  const char *name; /* borrowed from the parsed JSON */
  const st_type *type;
  int ndim;
  int64_t shape[SG_MAX_DIMS];
  uint64_t begin, end;
} st_entry;

__attribute__((format(printf, 2, 3))) static sg_status st_fail(const char *path,
                                                               const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return sg_error(SG_ERR_IO, "safetensors: '%s': %s", path, msg);
}

/* A JSON number that must be an integer in [0, 2^53]. 0 ok, -1 not an
 * integer, -2 negative, -3 too large. */
static int json_uint(const cJSON *v, uint64_t *out) {
  if (!cJSON_IsNumber(v)) return -1;
  double x = v->valuedouble;
  if (x != x) return -1;
  if (x < 0) return -2;
  if (x > ST_MAX_INT) return -3;
  if (x != (double)(uint64_t)x) return -1;
  *out = (uint64_t)x;
  return 0;
}

static sg_status parse_entry(const char *path, const cJSON *item, uint64_t data_size,
                             st_entry *e) {
  const char *nm = e->name = item->string;
  if (!cJSON_IsObject(item)) return st_fail(path, "tensor '%s': entry is not a JSON object", nm);
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(item, "shape");
  const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
  if (!dt) return st_fail(path, "tensor '%s': missing \"dtype\"", nm);
  if (!sh) return st_fail(path, "tensor '%s': missing \"shape\"", nm);
  if (!off) return st_fail(path, "tensor '%s': missing \"data_offsets\"", nm);
  if (!cJSON_IsString(dt)) return st_fail(path, "tensor '%s': \"dtype\" is not a string", nm);
  e->type = NULL;
  for (size_t i = 0; i < sizeof st_types / sizeof st_types[0]; i++)
    if (strcmp(dt->valuestring, st_types[i].name) == 0) e->type = &st_types[i];
  if (!e->type) return st_fail(path, "tensor '%s': unknown dtype '%s'", nm, dt->valuestring);
  if (e->type->kind == K_REFUSED)
    return st_fail(path,
                   "tensor '%s': dtype %s is not supported (sgen reads F64 F32 F16 BF16 I64 "
                   "I32 I16 I8 U64 U32 U16 U8 BOOL)",
                   nm, dt->valuestring);

  if (!cJSON_IsArray(sh)) return st_fail(path, "tensor '%s': \"shape\" is not an array", nm);
  int nd = cJSON_GetArraySize(sh);
  if (nd > SG_MAX_DIMS)
    return st_fail(path, "tensor '%s': shape has %d dims, sgen supports at most %d", nm, nd,
                   SG_MAX_DIMS);
  e->ndim = nd;
  bool has_zero = false;
  for (int i = 0; i < nd; i++) {
    const cJSON *v = cJSON_GetArrayItem(sh, i);
    uint64_t x = 0;
    int rc = json_uint(v, &x);
    if (rc == -2)
      return st_fail(path, "tensor '%s': negative size %g in shape", nm, v->valuedouble);
    if (rc == -3) return st_fail(path, "tensor '%s': huge size %g in shape", nm, v->valuedouble);
    if (rc) return st_fail(path, "tensor '%s': shape entry %d is not an integer", nm, i);
    e->shape[i] = (int64_t)x;
    if (x == 0) has_zero = true;
  }
  char sbuf[256];
  sg_dims_str(e->shape, nd, sbuf, sizeof sbuf);
  /* An empty tensor's other sizes still make its strides: bounded like any
   * shape's (2^46), or {0, 2^40, 2^40} would overflow them (found by
   * fuzzing). */
  if (has_zero) {
    uint64_t span = 1;
    for (int i = 0; i < nd; i++) {
      uint64_t d = (uint64_t)e->shape[i];
      if (d == 0) continue;
      if (span > ST_MAX_SPAN / d)
        return st_fail(path,
                       "tensor '%s': shape %s is absurd (its nonzero sizes multiply to more "
                       "than 2^46)",
                       nm, sbuf);
      span *= d;
    }
  }
  /* Bytes the shape needs, compared with the data section as we go so that
   * no product can overflow. */
  uint64_t need = has_zero ? 0 : e->type->size;
  for (int i = 0; i < nd && need; i++) {
    uint64_t d = (uint64_t)e->shape[i];
    if (need > data_size / d)
      return st_fail(path,
                     "tensor '%s': shape %s of %s is larger than the whole data section "
                     "(%llu bytes)",
                     nm, sbuf, e->type->name, (unsigned long long)data_size);
    need *= d;
  }

  if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
    return st_fail(path, "tensor '%s': \"data_offsets\" must be [begin, end]", nm);
  const cJSON *b = cJSON_GetArrayItem(off, 0), *en = cJSON_GetArrayItem(off, 1);
  if (json_uint(b, &e->begin) || json_uint(en, &e->end))
    return st_fail(path,
                   "tensor '%s': \"data_offsets\" must hold two non-negative integers below "
                   "2^53",
                   nm);
  if (e->begin > e->end)
    return st_fail(path, "tensor '%s': data_offsets [%llu, %llu] end before they begin", nm,
                   (unsigned long long)e->begin, (unsigned long long)e->end);
  if (e->end > data_size)
    return st_fail(path,
                   "tensor '%s': data_offsets [%llu, %llu] lie outside the data section "
                   "(%llu bytes)",
                   nm, (unsigned long long)e->begin, (unsigned long long)e->end,
                   (unsigned long long)data_size);
  if (e->end - e->begin != need)
    return st_fail(path,
                   "tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but shape %s of %s "
                   "needs %llu",
                   nm, (unsigned long long)e->begin, (unsigned long long)e->end,
                   (unsigned long long)(e->end - e->begin), sbuf, e->type->name,
                   (unsigned long long)need);
  return SG_OK;
}

static int cmp_entry_name(const void *a, const void *b) {
  return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

static int cmp_entry_begin(const void *a, const void *b) {
  const st_entry *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    float f = (float)man * 5.9604644775390625e-8f; /* man * 2^-24, exact */
    return sign ? -f : f;
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 112u) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* Converts n raw little-endian elements of type ty at src into t's storage. */
static sg_status convert_into(const char *path, const char *name, const st_type *ty,
                              const unsigned char *src, int64_t n, sg_tensor *t) {
  if (ty->kind == K_F16 || ty->kind == K_BF16) {
    float *o = sg_data_ptr(t);
    for (int64_t i = 0; i < n; i++) {
      uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
      if (ty->kind == K_F16) {
        o[i] = half_to_float(h);
      } else {
        uint32_t bits = (uint32_t)h << 16;
        memcpy(&o[i], &bits, sizeof bits);
      }
    }
    return SG_OK;
  }
  int64_t *o = sg_data_ptr(t);
  if (ty->kind == K_SINT && ty->size == 1) {
    const int8_t *s = (const int8_t *)src;
    for (int64_t i = 0; i < n; i++) o[i] = s[i];
  } else if (ty->kind == K_SINT && ty->size == 2) {
    for (int64_t i = 0; i < n; i++) {
      int16_t v;
      memcpy(&v, src + 2 * i, 2);
      o[i] = v;
    }
  } else if (ty->kind == K_SINT && ty->size == 4) {
    for (int64_t i = 0; i < n; i++) {
      int32_t v;
      memcpy(&v, src + 4 * i, 4);
      o[i] = v;
    }
  } else if (ty->kind == K_UINT && ty->size == 2) {
    for (int64_t i = 0; i < n; i++) {
      uint16_t v;
      memcpy(&v, src + 2 * i, 2);
      o[i] = v;
    }
  } else if (ty->kind == K_UINT && ty->size == 4) {
    for (int64_t i = 0; i < n; i++) {
      uint32_t v;
      memcpy(&v, src + 4 * i, 4);
      o[i] = v;
    }
  } else if (ty->kind == K_UINT && ty->size == 8) {
    for (int64_t i = 0; i < n; i++) {
      uint64_t v;
      memcpy(&v, src + 8 * i, 8);
      if (v > (uint64_t)INT64_MAX)
        return st_fail(path, "tensor '%s': U64 value %llu at index %lld does not fit in int64",
                       name, (unsigned long long)v, (long long)i);
      o[i] = (int64_t)v;
    }
  } else {
    return st_fail(path, "tensor '%s': internal error converting %s", name, ty->name);
  }
  return SG_OK;
}

static sg_status read_tensor(const char *path, FILE *fp, uint64_t data_start, const st_entry *e,
                             sg_tensor **out) {
  *out = NULL;
  sg_tensor *t = sg_empty(e->shape, e->ndim, e->type->dt, sg_cpu_device());
  if (!t) {
    sg_error_context("safetensors: '%s': tensor '%s'", path, e->name);
    return sg_last_status();
  }
  uint64_t nbytes = e->end - e->begin;
  if (nbytes == 0) {
    *out = t;
    return SG_OK;
  }
  if (fseeko(fp, (off_t)(data_start + e->begin), SEEK_SET) != 0) {
    sg_release(t);
    return st_fail(path, "tensor '%s': cannot seek to its data", e->name);
  }
  unsigned char *dst, *tmp = NULL;
  if (e->type->kind == K_DIRECT) {
    dst = sg_data_ptr(t);
  } else {
    dst = tmp = malloc((size_t)nbytes);
    if (!tmp) {
      sg_release(t);
      return sg_error(SG_ERR_MEM, "safetensors: '%s': out of memory reading tensor '%s'", path,
                      e->name);
    }
  }
  if (sg_io_read(fp, dst, (size_t)nbytes) != nbytes) {
    free(tmp);
    sg_release(t);
    return st_fail(path, "tensor '%s': file truncated while reading its data", e->name);
  }
  sg_status st = SG_OK;
  int64_t n = sg_numel(t);
  if (tmp) {
    st = convert_into(path, e->name, e->type, tmp, n, t);
    free(tmp);
  } else if (e->type->dt == SG_BOOL) {
    for (int64_t i = 0; i < n; i++) dst[i] = dst[i] != 0;
  }
  if (st != SG_OK) {
    sg_release(t);
    return st;
  }
  *out = t;
  return SG_OK;
}

void sg_tensor_dict_free(sg_tensor_dict *d) {
  if (!d) return;
  for (int i = 0; i < d->n; i++) {
    if (d->names) free(d->names[i]);
    if (d->tensors) sg_release(d->tensors[i]);
  }
  for (int i = 0; i < d->n_meta; i++) {
    if (d->meta_keys) free(d->meta_keys[i]);
    if (d->meta_values) free(d->meta_values[i]);
  }
  free(d->names);
  free(d->tensors);
  free(d->meta_keys);
  free(d->meta_values);
  memset(d, 0, sizeof *d);
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* Everything after the file is open; fills out (left for the caller to
 * free on failure). */
static sg_status load_open(const char *path, FILE *fp, int64_t fsize, sg_tensor_dict *out) {
  if (fsize < 8)
    return st_fail(path, "file is %lld bytes, too short for the 8-byte header length",
                   (long long)fsize);
  unsigned char lenbuf[8];
  if (sg_io_read(fp, lenbuf, 8) != 8) return st_fail(path, "cannot read the header length");
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | lenbuf[i];
  if (hlen > ST_MAX_HEADER)
    return st_fail(path, "header length %llu is absurd (more than %llu bytes): not a safetensors "
                   "file?",
                   (unsigned long long)hlen, ST_MAX_HEADER);
  if (hlen > (uint64_t)fsize - 8)
    return st_fail(path, "header length %llu is larger than the rest of the file (%lld bytes)",
                   (unsigned long long)hlen, (long long)fsize - 8);
  uint64_t data_start = 8 + hlen, data_size = (uint64_t)fsize - data_start;

  char *hdr = malloc((size_t)hlen + 1);
  if (!hdr) return sg_error(SG_ERR_MEM, "safetensors: '%s': out of memory for the header", path);
  if (sg_io_read(fp, hdr, (size_t)hlen) != hlen) {
    free(hdr);
    return st_fail(path, "cannot read the %llu-byte header", (unsigned long long)hlen);
  }
  hdr[hlen] = '\0';
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, false);
  if (!root) {
    long pos = end && end >= hdr && end <= hdr + hlen ? (long)(end - hdr) : -1;
    free(hdr);
    return st_fail(path, "header is not valid JSON (parse error near byte %ld of %llu)", pos,
                   (unsigned long long)hlen);
  }
  for (const char *p = end; p && p < hdr + hlen; p++) {
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '\0') {
      cJSON_Delete(root);
      long pos = (long)(p - hdr);
      free(hdr);
      return st_fail(path, "header has trailing bytes after the JSON object (at byte %ld)", pos);
    }
  }
  free(hdr);
  sg_status st = SG_OK;
  st_entry *ents = NULL;
  const cJSON *meta = NULL;
  if (!cJSON_IsObject(root)) {
    st = st_fail(path, "header is not a JSON object");
    goto done;
  }
  int count = 0, nmeta_items = 0;
  for (const cJSON *it = root->child; it; it = it->next) {
    if (strcmp(it->string, "__metadata__") == 0) {
      nmeta_items++;
      meta = it;
    } else {
      count++;
    }
  }
  if (nmeta_items > 1) {
    st = st_fail(path, "tensor name '__metadata__' appears twice in the header");
    goto done;
  }
  ents = calloc((size_t)(count ? count : 1), sizeof *ents);
  if (!ents) {
    st = sg_error(SG_ERR_MEM, "safetensors: '%s': out of memory", path);
    goto done;
  }
  int k = 0;
  for (const cJSON *it = root->child; it; it = it->next) {
    if (it == meta) continue;
    ents[k].name = it->string;
    if ((st = parse_entry(path, it, data_size, &ents[k])) != SG_OK) goto done;
    k++;
  }
  /* duplicate names (cJSON keeps every duplicate key) */
  qsort(ents, (size_t)count, sizeof *ents, cmp_entry_name);
  for (int i = 1; i < count; i++) {
    if (strcmp(ents[i - 1].name, ents[i].name) == 0) {
      st = st_fail(path, "tensor name '%s' appears twice in the header", ents[i].name);
      goto done;
    }
  }
  /* overlapping data (empty tensors occupy nothing) */
  qsort(ents, (size_t)count, sizeof *ents, cmp_entry_begin);
  const st_entry *prev = NULL;
  for (int i = 0; i < count; i++) {
    if (ents[i].begin == ents[i].end) continue;
    if (prev && ents[i].begin < prev->end) {
      st = st_fail(path, "tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap", prev->name,
                   (unsigned long long)prev->begin, (unsigned long long)prev->end,
                   ents[i].name, (unsigned long long)ents[i].begin,
                   (unsigned long long)ents[i].end);
      goto done;
    }
    prev = &ents[i];
  }

  /* metadata: a string -> string map */
  if (meta) {
    if (!cJSON_IsObject(meta)) {
      st = st_fail(path, "\"__metadata__\" is not a JSON object");
      goto done;
    }
    int nm = cJSON_GetArraySize(meta);
    out->meta_keys = calloc((size_t)(nm ? nm : 1), sizeof(char *));
    out->meta_values = calloc((size_t)(nm ? nm : 1), sizeof(char *));
    if (!out->meta_keys || !out->meta_values) {
      st = sg_error(SG_ERR_MEM, "safetensors: '%s': out of memory", path);
      goto done;
    }
    for (const cJSON *it = meta->child; it; it = it->next) {
      if (!cJSON_IsString(it)) {
        st = st_fail(path, "\"__metadata__\" value of '%s' is not a string", it->string);
        goto done;
      }
      for (int i = 0; i < out->n_meta; i++) {
        if (strcmp(out->meta_keys[i], it->string) == 0) {
          st = st_fail(path, "\"__metadata__\" key '%s' appears twice", it->string);
          goto done;
        }
      }
      char *key = dup_str(it->string), *val = dup_str(it->valuestring);
      if (!key || !val) {
        free(key);
        free(val);
        st = sg_error(SG_ERR_MEM, "safetensors: '%s': out of memory", path);
        goto done;
      }
      out->meta_keys[out->n_meta] = key;
      out->meta_values[out->n_meta] = val;
      out->n_meta++;
    }
  }

  /* tensors, in file order (sorted by data offset) */
  out->names = calloc((size_t)(count ? count : 1), sizeof(char *));
  out->tensors = calloc((size_t)(count ? count : 1), sizeof(sg_tensor *));
  if (!out->names || !out->tensors) {
    st = sg_error(SG_ERR_MEM, "safetensors: '%s': out of memory", path);
    goto done;
  }
  for (int i = 0; i < count; i++) {
    sg_tensor *t = NULL;
    if ((st = read_tensor(path, fp, data_start, &ents[i], &t)) != SG_OK) goto done;
    char *name = dup_str(ents[i].name);
    if (!name) {
      sg_release(t);
      st = sg_error(SG_ERR_MEM, "safetensors: '%s': out of memory", path);
      goto done;
    }
    out->names[out->n] = name;
    out->tensors[out->n] = t;
    out->n++;
  }
done:
  free(ents);
  cJSON_Delete(root);
  return st;
}

sg_status sg_safetensors_load(const char *path, sg_tensor_dict *out) {
  if (!out) return sg_error(SG_ERR_ARG, "safetensors: output dict is NULL");
  memset(out, 0, sizeof *out);
  int64_t fsize = 0;
  FILE *fp = sg_io_open_read("safetensors", path, &fsize);
  if (!fp) return sg_last_status();
  sg_status st = load_open(path, fp, fsize, out);
  fclose(fp);
  if (st != SG_OK) sg_tensor_dict_free(out);
  return st;
}

/* ---- writing ---- */

static bool valid_utf8(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    unsigned c = *p;
    int n;
    uint32_t cp;
    if (c < 0x80) {
      p++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (int i = 1; i <= n; i++) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    p += n + 1;
  }
  return true;
}

typedef struct save_item {
  const char *name;
  sg_tensor *t;
  uint64_t nbytes;
} save_item;

static int cmp_save_name(const void *a, const void *b) {
  return strcmp(((const save_item *)a)->name, ((const save_item *)b)->name);
}

/* Rank of a dtype in the official writer's Dtype enum (it writes the
 * highest rank first): BOOL < U8 < ... < F32 < F64 < I64. */
static int st_rank(sg_dtype dt) {
  switch (dt) {
    case SG_BOOL: return 0;
    case SG_UINT8: return 1;
    case SG_FLOAT32: return 11;
    case SG_FLOAT64: return 12;
    default: return 13; /* SG_INT64 */
  }
}

static int cmp_save_order(const void *a, const void *b) {
  const save_item *x = a, *y = b;
  int rx = st_rank(x->t->dtype), ry = st_rank(y->t->dtype);
  if (rx != ry) return rx > ry ? -1 : 1;
  return strcmp(x->name, y->name);
}

static sg_status check_dict(const char *path, const sg_tensor_dict *d) {
  if (!path || !*path) return sg_error(SG_ERR_ARG, "safetensors: save: path is NULL or empty");
  if (!d) return sg_error(SG_ERR_ARG, "safetensors: save '%s': dict is NULL", path);
  if (d->n < 0 || d->n_meta < 0)
    return sg_error(SG_ERR_ARG, "safetensors: save '%s': negative count (n=%d, n_meta=%d)", path,
                    d->n, d->n_meta);
  if (d->n > 0 && (!d->names || !d->tensors))
    return sg_error(SG_ERR_ARG, "safetensors: save '%s': names or tensors array is NULL", path);
  if (d->n_meta > 0 && (!d->meta_keys || !d->meta_values))
    return sg_error(SG_ERR_ARG, "safetensors: save '%s': metadata arrays are NULL", path);
  for (int i = 0; i < d->n; i++) {
    const char *nm = d->names[i];
    if (!nm) return sg_error(SG_ERR_ARG, "safetensors: save '%s': name %d is NULL", path, i);
    if (strcmp(nm, "__metadata__") == 0)
      return sg_error(SG_ERR_ARG,
                      "safetensors: save '%s': '__metadata__' is reserved, not a tensor name",
                      path);
    if (!valid_utf8(nm))
      return sg_error(SG_ERR_ARG, "safetensors: save '%s': name %d is not valid UTF-8", path, i);
    const sg_tensor *t = d->tensors[i];
    if (!t) return sg_error(SG_ERR_ARG, "safetensors: save '%s': tensor '%s' is NULL", path, nm);
    if (!st_name_of(t->dtype))
      return sg_error(SG_ERR_ARG, "safetensors: save '%s': tensor '%s' has invalid dtype %d",
                      path, nm, (int)t->dtype);
  }
  for (int i = 0; i < d->n_meta; i++) {
    const char *k = d->meta_keys[i], *v = d->meta_values[i];
    if (!k || !v)
      return sg_error(SG_ERR_ARG, "safetensors: save '%s': metadata entry %d is NULL", path, i);
    if (!valid_utf8(k) || !valid_utf8(v))
      return sg_error(SG_ERR_ARG, "safetensors: save '%s': metadata '%s' is not valid UTF-8",
                      path, k);
    for (int j = 0; j < i; j++)
      if (strcmp(d->meta_keys[j], k) == 0)
        return sg_error(SG_ERR_ARG, "safetensors: save '%s': metadata key '%s' appears twice",
                        path, k);
  }
  return SG_OK;
}

sg_status sg_safetensors_save(const char *path, const sg_tensor_dict *d) {
  sg_status st = check_dict(path, d);
  if (st != SG_OK) return st;
  save_item *items = calloc((size_t)(d->n ? d->n : 1), sizeof *items);
  if (!items) return sg_error(SG_ERR_MEM, "safetensors: save '%s': out of memory", path);
  for (int i = 0; i < d->n; i++) {
    items[i].name = d->names[i];
    items[i].t = d->tensors[i];
    items[i].nbytes = (uint64_t)sg_numel(d->tensors[i]) * sg_dtype_size(d->tensors[i]->dtype);
  }
  qsort(items, (size_t)d->n, sizeof *items, cmp_save_name);
  for (int i = 1; i < d->n; i++) {
    if (strcmp(items[i - 1].name, items[i].name) == 0) {
      st = sg_error(SG_ERR_ARG, "safetensors: save '%s': tensor name '%s' appears twice", path,
                    items[i].name);
      free(items);
      return st;
    }
  }
  qsort(items, (size_t)d->n, sizeof *items, cmp_save_order);

  cJSON *root = cJSON_CreateObject();
  bool ok = root != NULL;
  if (ok && d->n_meta > 0) {
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    ok = meta != NULL;
    for (int i = 0; ok && i < d->n_meta; i++)
      ok = cJSON_AddStringToObject(meta, d->meta_keys[i], d->meta_values[i]) != NULL;
  }
  uint64_t offset = 0;
  for (int i = 0; ok && i < d->n; i++) {
    const sg_tensor *t = items[i].t;
    cJSON *e = cJSON_AddObjectToObject(root, items[i].name);
    char buf[256];
    int len = snprintf(buf, sizeof buf, "[");
    for (int k = 0; k < t->ndim; k++)
      len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%lld", k ? "," : "",
                      (long long)t->shape[k]);
    snprintf(buf + len, sizeof buf - (size_t)len, "]");
    char obuf[64];
    snprintf(obuf, sizeof obuf, "[%llu,%llu]", (unsigned long long)offset,
             (unsigned long long)(offset + items[i].nbytes));
    offset += items[i].nbytes;
    ok = e && cJSON_AddStringToObject(e, "dtype", st_name_of(t->dtype)) &&
         cJSON_AddRawToObject(e, "shape", buf) && cJSON_AddRawToObject(e, "data_offsets", obuf);
  }
  char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!json) {
    free(items);
    return sg_error(SG_ERR_MEM, "safetensors: save '%s': out of memory building the header",
                    path);
  }
  size_t jlen = strlen(json), pad = (8 - jlen % 8) % 8;
  uint64_t hlen = jlen + pad;
  unsigned char lenbuf[8];
  for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)(hlen >> (8 * i));
  static const char spaces[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

  sg_atomic_file af;
  st = sg_atomic_open("safetensors", path, &af);
  if (st == SG_OK) st = sg_atomic_write(&af, lenbuf, 8);
  if (st == SG_OK) st = sg_atomic_write(&af, json, jlen);
  if (st == SG_OK) st = sg_atomic_write(&af, spaces, pad);
  cJSON_free(json);
  for (int i = 0; st == SG_OK && i < d->n; i++) {
    if (items[i].nbytes == 0) continue;
    sg_tensor *c = sg_io_host_contiguous(items[i].t);
    if (!c) {
      sg_error_context("safetensors: save '%s': tensor '%s'", path, items[i].name);
      st = sg_last_status();
      break;
    }
    st = sg_atomic_write(&af, sg_data_ptr(c), (size_t)items[i].nbytes);
    sg_release(c);
  }
  if (st == SG_OK)
    st = sg_atomic_commit(&af);
  else
    sg_atomic_abort(&af);
  free(items);
  return st;
}
