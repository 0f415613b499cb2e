/* Shared file helpers for engine/io: checked opening and atomic writes. */
#include "io/io_util.h"
#include "internal/tensor_internal.h"
#include "sgen/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

FILE *sg_io_open_read(const char *op, const char *path, int64_t *size) {
  if (!path) {
    sg_error(SG_ERR_ARG, "%s: path is NULL", op);
    return NULL;
  }
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    sg_error(SG_ERR_IO, "%s: cannot open '%s': %s", op, path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fileno(fp), &st) != 0) {
    sg_error(SG_ERR_IO, "%s: cannot open '%s': %s", op, path, strerror(errno));
    fclose(fp);
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    sg_error(SG_ERR_IO, "%s: cannot open '%s': %s", op, path,
             S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
    fclose(fp);
    return NULL;
  }
  if (size) *size = (int64_t)st.st_size;
  return fp;
}

size_t sg_io_read(FILE *fp, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    size_t r = fread((char *)buf + got, 1, n - got, fp);
    if (r == 0) break;
    got += r;
  }
  return got;
}

static atomic_uint tmp_counter;

sg_status sg_atomic_open(const char *op, const char *path, sg_atomic_file *af) {
  memset(af, 0, sizeof *af);
  af->op = op;
  af->path = path;
  if (!path || !*path) return sg_error(SG_ERR_ARG, "%s: path is NULL or empty", op);
  size_t len = strlen(path) + 64;
  af->tmp_path = malloc(len);
  if (!af->tmp_path) return sg_error(SG_ERR_MEM, "%s: out of memory", op);
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
    unsigned k = atomic_fetch_add(&tmp_counter, 1u);
    snprintf(af->tmp_path, len, "%s.tmp.%ld.%u", path, (long)getpid(), k);
    fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    int e = errno;
    free(af->tmp_path);
    af->tmp_path = NULL;
    return sg_error(SG_ERR_IO, "%s: cannot write '%s': cannot create a temp file next to it: %s",
                    op, path, strerror(e));
  }
  af->fp = fdopen(fd, "wb");
  if (!af->fp) {
    int e = errno;
    close(fd);
    unlink(af->tmp_path);
    free(af->tmp_path);
    af->tmp_path = NULL;
    return sg_error(SG_ERR_IO, "%s: cannot write '%s': %s", op, path, strerror(e));
  }
  return SG_OK;
}

sg_status sg_atomic_write(sg_atomic_file *af, const void *buf, size_t n) {
  if (af->failed_errno) return SG_ERR_IO;
  if (n && fwrite(buf, 1, n, af->fp) != n) {
    af->failed_errno = errno ? errno : EIO;
    return sg_error(SG_ERR_IO, "%s: writing '%s' failed: %s", af->op, af->path,
                    strerror(af->failed_errno));
  }
  return SG_OK;
}

void sg_atomic_abort(sg_atomic_file *af) {
  if (!af) return;
  if (af->fp) fclose(af->fp);
  af->fp = NULL;
  if (af->tmp_path) {
    unlink(af->tmp_path);
    free(af->tmp_path);
  }
  af->tmp_path = NULL;
}

/* fsync the directory holding path so the rename itself is durable
 * (best effort: some file systems refuse it). */
static void sync_parent_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir;
  if (!slash) {
    dir = strdup(".");
  } else if (slash == path) {
    dir = strdup("/");
  } else {
    dir = malloc((size_t)(slash - path) + 1);
    if (dir) {
      memcpy(dir, path, (size_t)(slash - path));
      dir[slash - path] = '\0';
    }
  }
  if (!dir) return;
  int fd = open(dir, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  free(dir);
}

sg_status sg_atomic_commit(sg_atomic_file *af) {
  if (af->failed_errno) {
    sg_atomic_abort(af);
    return SG_ERR_IO;
  }
  int e = 0;
  if (fflush(af->fp) != 0) e = errno ? errno : EIO;
  if (!e && fsync(fileno(af->fp)) != 0) e = errno;
  int rc = fclose(af->fp);
  af->fp = NULL;
  if (!e && rc != 0) e = errno ? errno : EIO;
  if (e) {
    sg_atomic_abort(af);
    return sg_error(SG_ERR_IO, "%s: writing '%s' failed: %s", af->op, af->path, strerror(e));
  }
  if (rename(af->tmp_path, af->path) != 0) {
    e = errno;
    sg_atomic_abort(af);
    return sg_error(SG_ERR_IO, "%s: cannot write '%s': rename from temp file failed: %s", af->op,
                    af->path, strerror(e));
  }
  free(af->tmp_path);
  af->tmp_path = NULL;
  sync_parent_dir(af->path);
  return SG_OK;
}

sg_status sg_write_file_atomic(const char *op, const char *path, const void *buf, size_t n) {
  sg_atomic_file af;
  sg_status st = sg_atomic_open(op, path, &af);
  if (st != SG_OK) return st;
  st = sg_atomic_write(&af, buf, n);
  if (st != SG_OK) {
    sg_atomic_abort(&af);
    return st;
  }
  return sg_atomic_commit(&af);
}

sg_tensor *sg_io_host_contiguous(sg_tensor *t) {
  sg_tensor *d = sg_detach(t);
  if (!d) return NULL;
  if (d->storage->device.type != SG_CPU) {
    sg_tensor *h = sg_to_device(d, sg_cpu_device());
    sg_release(d);
    if (!h) return NULL;
    d = h;
  }
  sg_tensor *c = sg_as_contiguous_dtype(d, d->dtype);
  sg_release(d);
  return c;
}
