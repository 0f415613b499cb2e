/* libFuzzer harness: the Lua-side JSON readers (sgen.util.json, the
 * metadata decoder of sg.load and checkpoints, --resume's config.json),
 * through the checks of fuzz/json_check.lua. */
#include "fuzz_lua.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sg_fuzz_lua_run("json", "json_check.lua", data, size);
  return 0;
}
