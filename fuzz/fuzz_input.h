/* Shared by the libFuzzer harnesses of the file readers: the readers take a
 * path, so each input is written to an in-memory file (memfd) and read back
 * through /proc/self/fd/N, the exact code path a real file takes (open,
 * fstat, fread / gzread) without touching the disk. */
#ifndef SG_FUZZ_INPUT_H
#define SG_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

/* Replaces the contents of the harness's in-memory file with data[0..size)
 * and returns its path (valid for the process's life). Aborts when the
 * memfd cannot be made: a broken harness, not a finding. */
const char *sg_fuzz_input_path(const uint8_t *data, size_t size);

/* The checks every reader's failure must pass: a negative status (SG_ERR_IO,
 * or SG_ERR_MEM for an allocation the input asked for) and a message that
 * names the file. Aborts (a libFuzzer crash) otherwise. */
void sg_fuzz_check_failure(const char *reader, const char *path);

/* Aborts with a message: a broken promise of the reader found by the fuzzer. */
_Noreturn void sg_fuzz_fail(const char *reader, const char *what);

#endif
