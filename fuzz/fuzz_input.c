/* In-memory input file for the reader harnesses (fuzz_input.h). */
#define _GNU_SOURCE /* memfd_create */
#include "fuzz_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sgen/error.h"

/* One memfd for the whole run: libFuzzer calls the harness in one thread,
 * and making a file per input would cost more than most reads. */
static int input_fd = -1;
static char input_path[64];

const char *sg_fuzz_input_path(const uint8_t *data, size_t size) {
  if (input_fd < 0) {
    input_fd = memfd_create("sgen-fuzz-input", MFD_CLOEXEC);
    if (input_fd < 0) {
      perror("sg_fuzz_input_path: memfd_create");
      abort();
    }
    snprintf(input_path, sizeof input_path, "/proc/self/fd/%d", input_fd);
  }
  if (ftruncate(input_fd, 0) != 0) {
    perror("sg_fuzz_input_path: ftruncate");
    abort();
  }
  size_t done = 0;
  while (done < size) {
    ssize_t w = pwrite(input_fd, data + done, size - done, (off_t)done);
    if (w <= 0) {
      perror("sg_fuzz_input_path: pwrite");
      abort();
    }
    done += (size_t)w;
  }
  return input_path;
}

_Noreturn void sg_fuzz_fail(const char *reader, const char *what) {
  fprintf(stderr, "fuzz %s: %s\n", reader, what);
  abort();
}

void sg_fuzz_check_failure(const char *reader, const char *path) {
  sg_status st = sg_last_status();
  const char *msg = sg_last_error();
  if (st != SG_ERR_IO && st != SG_ERR_MEM) {
    fprintf(stderr, "fuzz %s: failed with status %d (expected SG_ERR_IO or SG_ERR_MEM): %s\n",
            reader, (int)st, msg);
    abort();
  }
  if (!strstr(msg, path)) {
    fprintf(stderr, "fuzz %s: the error does not name the file '%s': %s\n", reader, path, msg);
    abort();
  }
}
