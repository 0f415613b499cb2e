/* libFuzzer harness: sg_png_read on arbitrary bytes (libpng plus the
 * engine's own checks: pixel-count limit, layout after expansion, the
 * 8/16-bit conversion). A read either fails cleanly (fuzz_input.h) or
 * returns a float32 C x H x W image, C in 1..4, every value in [0, 1]. */
#include <stdio.h>

#include "fuzz_input.h"
#include "sgen/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = sg_fuzz_input_path(data, size);
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
