/* libFuzzer harness: sg_cifar10_read on arbitrary bytes. A read either
 * fails cleanly with both outputs NULL (fuzz_input.h) or returns uint8
 * N x 3 x 32 x 32 images and int64 labels in 0..9, N = size / 3073, the
 * pixels equal to the file's bytes. */
#include <string.h>

#include "fuzz_input.h"
#include "sgen/io.h"

#define RECORD 3073

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = sg_fuzz_input_path(data, size);
  sg_clear_error();
  sg_tensor *img = NULL, *lab = NULL;
  sg_status st = sg_cifar10_read(path, &img, &lab);
  if (st != SG_OK) {
    if (img || lab) sg_fuzz_fail("cifar10", "a failed read left an output set");
    sg_fuzz_check_failure("cifar10", path);
    return 0;
  }
  int64_t n = (int64_t)(size / RECORD);
  if (size % RECORD != 0 || n < 1) sg_fuzz_fail("cifar10", "read a file whose size is no multiple of 3073");
  if (!img || !lab || img->dtype != SG_UINT8 || img->ndim != 4 || img->shape[0] != n ||
      img->shape[1] != 3 || img->shape[2] != 32 || img->shape[3] != 32 ||
      lab->dtype != SG_INT64 || lab->ndim != 1 || lab->shape[0] != n)
    sg_fuzz_fail("cifar10", "outputs of the wrong shape or dtype");
  const int64_t *lb = sg_data_ptr(lab);
  const unsigned char *px = sg_data_ptr(img);
  for (int64_t i = 0; i < n; i++) {
    if (lb[i] != data[i * RECORD]) sg_fuzz_fail("cifar10", "a label differs from the file");
    if (memcmp(px + i * 3072, data + i * RECORD + 1, 3072) != 0)
      sg_fuzz_fail("cifar10", "pixels differ from the file");
  }
  sg_release(img);
  sg_release(lab);
  return 0;
}
