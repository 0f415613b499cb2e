/* Placeholder until the safetensors reader/writer lands. */
#include <stdlib.h>

#include "sgen/io.h"

void sg_tensor_dict_free(sg_tensor_dict *d) { (void)d; }

sg_status sg_safetensors_load(const char *path, sg_tensor_dict *out) {
  (void)out;
  return sg_error(SG_ERR_UNSUPPORTED, "safetensors: not implemented yet (%s)", path);
}
