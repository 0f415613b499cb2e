/* libFuzzer harness: the `sgen run` option parser (lua/sgen/cli.lua),
 * through the checks of fuzz/cli_check.lua (what is fed and what counts as
 * a finding is described there). */
#include "fuzz_lua.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sg_fuzz_lua_run("cli", "cli_check.lua", data, size);
  return 0;
}
