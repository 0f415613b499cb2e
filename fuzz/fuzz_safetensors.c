/* libFuzzer harness: sg_safetensors_load on arbitrary bytes (header length,
 * header JSON, data offsets, dtype conversions). A load either fails
 * cleanly (fuzz_input.h) or returns a dict whose every tensor is a
 * CPU tensor of a loadable dtype, backed by as many bytes as its shape says
 * (all read here, so ASan sees a short buffer), with no more elements than
 * the file has bytes. Dictionary: fuzz/safetensors.dict. */
#include <stdio.h>
#include <string.h>

#include "fuzz_input.h"
#include "sgen/io.h"

static void check_tensor(const char *name, const sg_tensor *t, size_t file_size) {
  char what[256];
  if (!t) sg_fuzz_fail("safetensors", "a loaded tensor is NULL");
  if (t->dtype != SG_FLOAT32 && t->dtype != SG_FLOAT64 && t->dtype != SG_INT64 &&
      t->dtype != SG_UINT8 && t->dtype != SG_BOOL) {
    snprintf(what, sizeof what, "tensor '%s' loaded as dtype %d", name, (int)t->dtype);
    sg_fuzz_fail("safetensors", what);
  }
  if (t->ndim < 0 || t->ndim > SG_MAX_DIMS || !sg_is_contiguous(t))
    sg_fuzz_fail("safetensors", "a loaded tensor has a bad rank or is not contiguous");
  int64_t n = sg_numel(t);
  if (n < 0 || (uint64_t)n > file_size) {
    snprintf(what, sizeof what, "tensor '%s' has %lld elements, more than the file's %zu bytes",
             name, (long long)n, file_size);
    sg_fuzz_fail("safetensors", what);
  }
  const unsigned char *p = sg_data_ptr(t);
  size_t nbytes = (size_t)n * sg_dtype_size(t->dtype);
  unsigned sum = 0;
  for (size_t i = 0; i < nbytes; i++) sum += p[i];
  if (t->dtype == SG_BOOL)
    for (int64_t i = 0; i < n; i++)
      if (p[i] > 1) sg_fuzz_fail("safetensors", "a BOOL tensor holds a byte other than 0 or 1");
  (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = sg_fuzz_input_path(data, size);
  sg_clear_error();
  sg_tensor_dict d;
  sg_status st = sg_safetensors_load(path, &d);
  if (st != SG_OK) {
    if (st != sg_last_status()) sg_fuzz_fail("safetensors", "returned status differs from the recorded one");
    if (d.n != 0 || d.names || d.tensors || d.n_meta != 0)
      sg_fuzz_fail("safetensors", "a failed load left entries in the dict");
    sg_fuzz_check_failure("safetensors", path);
    return 0;
  }
  if (d.n < 0 || d.n_meta < 0) sg_fuzz_fail("safetensors", "negative counts in the dict");
  for (int i = 0; i < d.n; i++) {
    if (!d.names[i]) sg_fuzz_fail("safetensors", "a loaded name is NULL");
    check_tensor(d.names[i], d.tensors[i], size);
  }
  for (int i = 0; i < d.n_meta; i++) {
    if (!d.meta_keys[i] || !d.meta_values[i]) sg_fuzz_fail("safetensors", "a metadata string is NULL");
    (void)strlen(d.meta_keys[i]);
    (void)strlen(d.meta_values[i]);
  }
  sg_tensor_dict_free(&d);
  return 0;
}
