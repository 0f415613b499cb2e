/* Shared file helpers for the readers and writers in engine/io (internal). */
#ifndef SG_IO_UTIL_H
#define SG_IO_UTIL_H

#include <stdint.h>
#include <stdio.h>

#include "sgen/tensor.h"

/* Opens `path` for reading; it must be a regular file. On failure records
 * "<op>: cannot open 'path': <reason>" (SG_ERR_IO) and returns NULL. *size
 * receives the file size in bytes. */
FILE *sg_io_open_read(const char *op, const char *path, int64_t *size);

/* Reads exactly n bytes; returns the number actually read (< n at end of
 * file or on a read error). */
size_t sg_io_read(FILE *fp, void *buf, size_t n);

/* Atomic writer: data goes to a fresh temp file in the target's directory,
 * which sg_atomic_commit flushes, fsyncs and renames over `path`. On any
 * failure the temp file is removed and the target is left untouched. */
typedef struct sg_atomic_file {
  FILE *fp;
  const char *op;
  const char *path;
  char *tmp_path;
  int failed_errno; /* first write error, 0 if none */
} sg_atomic_file;

sg_status sg_atomic_open(const char *op, const char *path, sg_atomic_file *af);
/* fwrite that remembers the first failure (checked again by commit). */
sg_status sg_atomic_write(sg_atomic_file *af, const void *buf, size_t n);
sg_status sg_atomic_commit(sg_atomic_file *af);
void sg_atomic_abort(sg_atomic_file *af); /* NULL-safe, idempotent */

/* A CPU, contiguous, non-autograd copy of t (t itself, retained, when it
 * already is one). NULL with the error set on failure. */
sg_tensor *sg_io_host_contiguous(sg_tensor *t);

#endif
