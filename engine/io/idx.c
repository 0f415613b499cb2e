/* IDX reader (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
 *
 * Layout: bytes 0x00 0x00, a type code, the number of dims; then each dim as
 * a big-endian uint32; then the data, big-endian, row-major. Type codes:
 *   0x08 ubyte  -> uint8        0x0C int32  -> int64
 *   0x09 sbyte  -> int64        0x0D float  -> float32
 *   0x0B int16  -> int64        0x0E double -> float64
 * Files go through zlib's gzread, which reads uncompressed files as they are.
 * The size the header announces is checked against the file before anything
 * is allocated: exactly, for a plain file; against the most a gzip stream of
 * that size can inflate to (deflate's ratio is at most 1032:1), for a
 * compressed one. Trailing bytes after the data are an error. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "internal/tensor_internal.h"
#include "io/io_util.h"
#include "sgen/io.h"

#define IDX_MAX_BYTES (INT64_C(1) << 38) /* 256 GiB: anything larger is corrupt */
#define GZ_MAX_RATIO 1032

typedef struct idx_type {
  unsigned code;
  const char *name;
  size_t size;
  sg_dtype dt;
} idx_type;

static const idx_type idx_types[] = {
    {0x08, "ubyte", 1, SG_UINT8}, {0x09, "sbyte", 1, SG_INT64},    {0x0B, "short", 2, SG_INT64},
    {0x0C, "int", 4, SG_INT64},   {0x0D, "float", 4, SG_FLOAT32}, {0x0E, "double", 8, SG_FLOAT64},
};

/* Reads up to n bytes; returns the count read, or -1 on a zlib error. */
static int64_t gz_read_all(gzFile g, void *buf, int64_t n) {
  int64_t got = 0;
  while (got < n) {
    int64_t want = n - got;
    if (want > (1 << 30)) want = 1 << 30;
    int r = gzread(g, (char *)buf + got, (unsigned)want);
    if (r < 0) return -1;
    if (r == 0) break;
    got += r;
  }
  return got;
}

/* Describes a zlib problem after a short or failed read, "" if none. */
static const char *gz_problem(gzFile g) {
  int errnum = Z_OK;
  const char *msg = gzerror(g, &errnum);
  if (errnum == Z_OK) return "";
  if (errnum == Z_ERRNO) return strerror(errno);
  return msg ? msg : "zlib error";
}

static sg_tensor *idx_fail(const char *path, gzFile g, const char *what) {
  const char *z = g ? gz_problem(g) : "";
  if (*z)
    sg_error(SG_ERR_IO, "idx: '%s': %s (zlib: %s)", path, what, z);
  else
    sg_error(SG_ERR_IO, "idx: '%s': %s", path, what);
  return NULL;
}

/* Converts n big-endian elements at src to the output dtype at dst. */
static void convert_be(const idx_type *ty, const unsigned char *src, int64_t n, void *dst) {
  switch (ty->code) {
    case 0x08:
      memcpy(dst, src, (size_t)n);
      break;
    case 0x09: {
      int64_t *o = dst;
      for (int64_t i = 0; i < n; i++) o[i] = (int8_t)src[i];
      break;
    }
    case 0x0B: {
      int64_t *o = dst;
      for (int64_t i = 0; i < n; i++)
        o[i] = (int16_t)(uint16_t)((src[2 * i] << 8) | src[2 * i + 1]);
      break;
    }
    case 0x0C: {
      int64_t *o = dst;
      for (int64_t i = 0; i < n; i++) {
        const unsigned char *s = src + 4 * i;
        o[i] = (int32_t)(((uint32_t)s[0] << 24) | ((uint32_t)s[1] << 16) | ((uint32_t)s[2] << 8) |
                         (uint32_t)s[3]);
      }
      break;
    }
    case 0x0D: {
      float *o = dst;
      for (int64_t i = 0; i < n; i++) {
        const unsigned char *s = src + 4 * i;
        uint32_t v = ((uint32_t)s[0] << 24) | ((uint32_t)s[1] << 16) | ((uint32_t)s[2] << 8) |
                     (uint32_t)s[3];
        memcpy(&o[i], &v, 4);
      }
      break;
    }
    default: { /* 0x0E */
      double *o = dst;
      for (int64_t i = 0; i < n; i++) {
        const unsigned char *s = src + 8 * i;
        uint64_t v = 0;
        for (int k = 0; k < 8; k++) v = (v << 8) | s[k];
        memcpy(&o[i], &v, 8);
      }
      break;
    }
  }
}

static sg_tensor *idx_read_gz(const char *path, gzFile g, int64_t fsize, bool compressed) {
  unsigned char hdr[4];
  int64_t got = gz_read_all(g, hdr, 4);
  if (got < 0) return idx_fail(path, g, "cannot read the IDX header");
  if (got != 4) return idx_fail(path, g, "file is too short for the 4-byte IDX magic");
  if (hdr[0] != 0 || hdr[1] != 0) {
    char msg[256];
    snprintf(msg, sizeof msg,
             "bad magic 0x%02x%02x%02x%02x: an IDX file starts with two zero bytes, a type code "
             "and the number of dims",
             hdr[0], hdr[1], hdr[2], hdr[3]);
    return idx_fail(path, NULL, msg);
  }
  const idx_type *ty = NULL;
  for (size_t i = 0; i < sizeof idx_types / sizeof idx_types[0]; i++)
    if (idx_types[i].code == hdr[2]) ty = &idx_types[i];
  if (!ty) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "unknown data type code 0x%02x (expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E)",
             hdr[2]);
    return idx_fail(path, NULL, msg);
  }
  int nd = hdr[3];
  if (nd < 1 || nd > SG_MAX_DIMS) {
    char msg[128];
    snprintf(msg, sizeof msg, "header says %d dims, sgen reads 1 to %d", nd, SG_MAX_DIMS);
    return idx_fail(path, NULL, msg);
  }
  unsigned char dbuf[4 * SG_MAX_DIMS];
  if (gz_read_all(g, dbuf, 4 * nd) != 4 * nd)
    return idx_fail(path, g, "file is truncated in the dimension sizes");
  int64_t dims[SG_MAX_DIMS];
  int64_t numel = 1;
  bool too_big = false;
  for (int i = 0; i < nd; i++) {
    const unsigned char *s = dbuf + 4 * i;
    dims[i] = (int64_t)(((uint32_t)s[0] << 24) | ((uint32_t)s[1] << 16) | ((uint32_t)s[2] << 8) |
                        (uint32_t)s[3]);
  }
  /* The nonzero sizes are bounded even when another is 0: an empty tensor
   * of {0, 2^31, 2^31, 2^31} has strides that overflow (found by fuzzing). */
  bool has_zero = false;
  for (int i = 0; i < nd; i++) {
    if (dims[i] == 0) {
      has_zero = true;
      continue;
    }
    if (numel > IDX_MAX_BYTES / dims[i]) too_big = true;
    if (!too_big) numel *= dims[i];
  }
  if (has_zero && !too_big) numel = 0;
  char sbuf[160];
  sg_dims_str(dims, nd, sbuf, sizeof sbuf);
  int64_t nbytes = numel * (int64_t)ty->size;
  if (too_big || nbytes > IDX_MAX_BYTES) {
    char msg[256];
    snprintf(msg, sizeof msg, "header says %s of %s, an absurd size (corrupt header?)", sbuf,
             ty->name);
    return idx_fail(path, NULL, msg);
  }
  int64_t header_bytes = 4 + 4 * (int64_t)nd;
  if (!compressed && fsize != header_bytes + nbytes) {
    char msg[320];
    if (fsize < header_bytes + nbytes)
      snprintf(msg, sizeof msg,
               "file is truncated: header says %s of %s (%lld data bytes) but the file holds "
               "only %lld",
               sbuf, ty->name, (long long)nbytes, (long long)(fsize - header_bytes));
    else
      snprintf(msg, sizeof msg, "file has %lld trailing bytes after the %s of %s data",
               (long long)(fsize - header_bytes - nbytes), sbuf, ty->name);
    return idx_fail(path, NULL, msg);
  }
  if (compressed && (double)nbytes > (double)fsize * GZ_MAX_RATIO + 1024) {
    char msg[320];
    snprintf(msg, sizeof msg,
             "header says %s of %s (%lld bytes), more than a %lld-byte gzip file can hold "
             "(corrupt header?)",
             sbuf, ty->name, (long long)nbytes, (long long)fsize);
    return idx_fail(path, NULL, msg);
  }

  sg_tensor *t = sg_empty(dims, nd, ty->dt, sg_cpu_device());
  if (!t) {
    sg_error_context("idx: '%s'", path);
    return NULL;
  }
  unsigned char *dst = sg_data_ptr(t);
  int64_t done = 0;
  if (ty->code == 0x08) {
    done = gz_read_all(g, dst, nbytes);
  } else {
    enum { CHUNK = 1 << 16 };
    unsigned char *buf = malloc(CHUNK);
    if (!buf) {
      sg_release(t);
      sg_error(SG_ERR_MEM, "idx: '%s': out of memory", path);
      return NULL;
    }
    size_t out_size = sg_dtype_size(ty->dt);
    while (done < nbytes) {
      int64_t want = nbytes - done < CHUNK ? nbytes - done : CHUNK;
      int64_t r = gz_read_all(g, buf, want);
      if (r < 0) {
        done = -1;
        break;
      }
      int64_t whole = r / (int64_t)ty->size;
      convert_be(ty, buf, whole, dst + (done / (int64_t)ty->size) * (int64_t)out_size);
      done += r;
      if (r < want) break;
    }
    free(buf);
  }
  if (done != nbytes) {
    sg_release(t);
    char msg[320];
    if (done < 0)
      snprintf(msg, sizeof msg, "read error in the %s of %s data", sbuf, ty->name);
    else
      snprintf(msg, sizeof msg,
               "file is truncated: header says %s of %s (%lld data bytes) but only %lld are "
               "there",
               sbuf, ty->name, (long long)nbytes, (long long)done);
    return idx_fail(path, g, msg);
  }
  /* Nothing may follow; reading on also makes zlib check the gzip trailer
   * (CRC and length). */
  unsigned char extra;
  int64_t r = gz_read_all(g, &extra, 1);
  if (r != 0 || *gz_problem(g)) {
    sg_release(t);
    char msg[320];
    if (r > 0)
      snprintf(msg, sizeof msg, "file has trailing bytes after the %s of %s data", sbuf,
               ty->name);
    else
      snprintf(msg, sizeof msg, "corrupt data after the %s of %s", sbuf, ty->name);
    return idx_fail(path, g, msg);
  }
  return t;
}

sg_tensor *sg_idx_read(const char *path) {
  if (!path) {
    sg_error(SG_ERR_ARG, "idx: path is NULL");
    return NULL;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    sg_error(SG_ERR_IO, "idx: cannot open '%s': %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    sg_error(SG_ERR_IO, "idx: cannot open '%s': %s", path, strerror(errno));
    close(fd);
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    sg_error(SG_ERR_IO, "idx: cannot open '%s': %s", path,
             S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
    close(fd);
    return NULL;
  }
  unsigned char magic[2] = {0, 0};
  bool compressed = pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  gzFile g = gzdopen(fd, "rb");
  if (!g) {
    close(fd);
    sg_error(SG_ERR_MEM, "idx: '%s': cannot set up zlib", path);
    return NULL;
  }
  gzbuffer(g, 1 << 17);
  sg_tensor *t = idx_read_gz(path, g, (int64_t)st.st_size, compressed);
  gzclose_r(g);
  return t;
}
