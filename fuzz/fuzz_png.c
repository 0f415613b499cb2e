/* libFuzzer harness: sg_png_read on arbitrary bytes (libpng plus the
 * engine's own checks: pixel-count and file-size limits, layout after
 * expansion, the 8/16-bit conversion). A read either fails cleanly
 * (fuzz_input.h) or returns a float32 C x H x W image, C in 1..4, every
 * value in [0, 1].
 *
 * libpng rejects a chunk whose CRC does not match, so nearly every mutation
 * of a header would stop at the CRC check. The harness therefore rewrites
 * the CRC of every whole chunk before the read, except for inputs whose
 * size is a multiple of 8, which go in as they are (the CRC errors stay
 * covered). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_input.h"
#include "sgen/io.h"

static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Recomputes the CRC of each chunk that lies wholly inside buf. */
static void fix_crcs(uint8_t *buf, size_t size) {
  size_t pos = 8; /* after the signature */
  while (pos + 12 <= size) {
    uint32_t len = be32(buf + pos);
    if (len > size - pos - 12) break;
    uint32_t crc = (uint32_t)crc32(0L, buf + pos + 4, (uInt)len + 4);
    uint8_t *c = buf + pos + 8 + len;
    c[0] = (uint8_t)(crc >> 24);
    c[1] = (uint8_t)(crc >> 16);
    c[2] = (uint8_t)(crc >> 8);
    c[3] = (uint8_t)crc;
    pos += 12 + (size_t)len;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path;
  if (size % 8 == 0) {
    path = sg_fuzz_input_path(data, size);
  } else {
    uint8_t *buf = malloc(size);
    if (!buf) return 0;
    memcpy(buf, data, size);
    fix_crcs(buf, size);
    path = sg_fuzz_input_path(buf, size);
    free(buf);
  }
  sg_clear_error();
  sg_tensor *img = sg_png_read(path);
  if (!img) {
    sg_fuzz_check_failure("png", path);
    return 0;
  }
  if (img->dtype != SG_FLOAT32 || img->ndim != 3 || img->shape[0] < 1 || img->shape[0] > 4 ||
      img->shape[1] < 1 || img->shape[2] < 1 || !sg_is_contiguous(img))
    sg_fuzz_fail("png", "the image is not float32 C x H x W with C in 1..4");
  const float *p = sg_data_ptr(img);
  int64_t n = sg_numel(img);
  for (int64_t i = 0; i < n; i++)
    if (!(p[i] >= 0.0f && p[i] <= 1.0f)) sg_fuzz_fail("png", "a pixel value is outside [0, 1]");
  sg_release(img);
  return 0;
}
