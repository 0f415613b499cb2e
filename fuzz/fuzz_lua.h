/* Shared by the harnesses of the Lua-side parsers (the `sgen run` option
 * parser, the JSON readers): one embedded Lua 5.4 state with the project's
 * lua/ on package.path, and Lua line coverage fed to libFuzzer.
 *
 * liblua5.4 is Debian's uninstrumented library, so libFuzzer's own coverage
 * would see only the harness; a line hook hashes each (chunk, line, previous
 * line) step into libFuzzer's extra counters instead, which gives the
 * mutator the edges of the Lua code under test.
 *
 * Run them with -detect_leaks=0 (fuzz/run.sh does): libFuzzer re-runs every
 * input that malloc'ed more than it freed under LeakSanitizer, which a
 * garbage-collected heap always does, and Lua code cannot leak C memory. */
#ifndef SG_FUZZ_LUA_H
#define SG_FUZZ_LUA_H

#include <stddef.h>
#include <stdint.h>

/* Runs fuzz/<script> once in a fresh state; it must return the check
 * function, which is then called with each input as a string. The
 * check function classifies the outcome itself: it returns for every
 * accepted outcome (a value, or the clean Lua error the parser promises)
 * and raises for a broken promise, which aborts (a libFuzzer crash) with
 * the Lua message and traceback. */
void sg_fuzz_lua_run(const char *harness, const char *script, const uint8_t *data, size_t size);

#endif
