/* libFuzzer harness: sg_idx_read on arbitrary bytes, plain or gzip (the
 * reader tells them apart by the gzip magic, so the corpus holds both).
 * A read either fails cleanly (fuzz_input.h) or returns a contiguous CPU
 * tensor of 1..SG_MAX_DIMS dims in one of the IDX dtypes whose every byte
 * is readable; a plain file must hold all its elements. */
#include <stdio.h>

#include "fuzz_input.h"
#include "sgen/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = sg_fuzz_input_path(data, size);
  sg_clear_error();
  sg_tensor *t = sg_idx_read(path);
  if (!t) {
    sg_fuzz_check_failure("idx", path);
    return 0;
  }
  if (t->ndim < 1 || t->ndim > SG_MAX_DIMS || !sg_is_contiguous(t))
    sg_fuzz_fail("idx", "the tensor has a bad rank or is not contiguous");
  if (t->dtype != SG_UINT8 && t->dtype != SG_INT64 && t->dtype != SG_FLOAT32 &&
      t->dtype != SG_FLOAT64)
    sg_fuzz_fail("idx", "the tensor has a dtype IDX does not map to");
  int64_t n = sg_numel(t);
  bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  if (!gz && (uint64_t)n > size) sg_fuzz_fail("idx", "a plain file gave more elements than bytes");
  const unsigned char *p = sg_data_ptr(t);
  size_t nbytes = (size_t)n * sg_dtype_size(t->dtype);
  unsigned sum = 0;
  for (size_t i = 0; i < nbytes; i++) sum += p[i];
  (void)sum;
  sg_release(t);
  return 0;
}
