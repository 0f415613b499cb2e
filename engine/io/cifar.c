/* CIFAR-10 binary batches (data_batch_1.bin ... test_batch.bin): records of
 * 1 label byte followed by 3072 pixel bytes, the 32x32 R plane, then G, then
 * B. Returns images uint8 N x 3 x 32 x 32 and labels int64 N. */
#include <stdlib.h>
#include <string.h>

#include "internal/tensor_internal.h"
#include "io/io_util.h"
#include "sgen/io.h"

#define CIFAR_PIXELS 3072
#define CIFAR_RECORD (1 + CIFAR_PIXELS)
#define CIFAR_CHUNK 1024 /* records per read */

sg_status sg_cifar10_read(const char *path, sg_tensor **images, sg_tensor **labels) {
  if (images) *images = NULL;
  if (labels) *labels = NULL;
  if (!images || !labels)
    return sg_error(SG_ERR_ARG, "cifar10: images and labels output pointers must not be NULL");
  int64_t size = 0;
  FILE *fp = sg_io_open_read("cifar10", path, &size);
  if (!fp) return sg_last_status();
  if (size == 0 || size % CIFAR_RECORD != 0) {
    fclose(fp);
    return sg_error(SG_ERR_IO,
                    "cifar10: '%s': file size %lld is not a positive multiple of %d (records of "
                    "1 label byte + %d pixel bytes)",
                    path, (long long)size, CIFAR_RECORD, CIFAR_PIXELS);
  }
  int64_t n = size / CIFAR_RECORD;
  sg_tensor *img = sg_empty((const int64_t[]){n, 3, 32, 32}, 4, SG_UINT8, sg_cpu_device());
  sg_tensor *lab = img ? sg_empty(&n, 1, SG_INT64, sg_cpu_device()) : NULL;
  /* no bigger than the file: a small file need not cost a 3 MB buffer */
  int64_t chunk = n < CIFAR_CHUNK ? n : CIFAR_CHUNK;
  unsigned char *buf = lab ? malloc((size_t)chunk * CIFAR_RECORD) : NULL;
  sg_status st = SG_OK;
  if (!img || !lab) {
    sg_error_context("cifar10: '%s'", path);
    st = sg_last_status();
  } else if (!buf) {
    st = sg_error(SG_ERR_MEM, "cifar10: '%s': out of memory", path);
  }
  unsigned char *px = img ? sg_data_ptr(img) : NULL;
  int64_t *lb = lab ? sg_data_ptr(lab) : NULL;
  for (int64_t r0 = 0; st == SG_OK && r0 < n; r0 += CIFAR_CHUNK) {
    int64_t m = n - r0 < CIFAR_CHUNK ? n - r0 : CIFAR_CHUNK;
    size_t want = (size_t)m * CIFAR_RECORD;
    size_t got = sg_io_read(fp, buf, want);
    if (got != want) {
      st = sg_error(SG_ERR_IO, "cifar10: '%s': file truncated while reading record %lld", path,
                    (long long)(r0 + (int64_t)(got / CIFAR_RECORD)));
      break;
    }
    for (int64_t i = 0; i < m; i++) {
      const unsigned char *rec = buf + i * CIFAR_RECORD;
      if (rec[0] >= 10) {
        st = sg_error(SG_ERR_IO, "cifar10: '%s': record %lld has label %d, expected 0..9", path,
                      (long long)(r0 + i), rec[0]);
        break;
      }
      lb[r0 + i] = rec[0];
      memcpy(px + (r0 + i) * CIFAR_PIXELS, rec + 1, CIFAR_PIXELS);
    }
  }
  free(buf);
  fclose(fp);
  if (st != SG_OK) {
    sg_release(img);
    sg_release(lab);
    return st;
  }
  *images = img;
  *labels = lab;
  return SG_OK;
}
