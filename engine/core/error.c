/* Thread-local error message and status (see error.h for why). */
#include "sgen/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SG_ERROR_CAP 2048

static _Thread_local char error_message[SG_ERROR_CAP];
static _Thread_local sg_status error_status = SG_OK;

sg_status sg_error(sg_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(error_message, sizeof error_message, fmt, ap);
  va_end(ap);
  error_status = status;
  return status;
}

void sg_error_context(const char *fmt, ...) {
  char prefix[512];
  char old[SG_ERROR_CAP];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, error_message, sizeof old);
  size_t n = strlen(prefix);
  if (n > sizeof error_message - 3) n = sizeof error_message - 3;
  memcpy(error_message, prefix, n);
  error_message[n] = ':';
  error_message[n + 1] = ' ';
  size_t rest = sizeof error_message - n - 2;
  size_t len = strlen(old);
  if (len > rest - 1) len = rest - 1;
  memcpy(error_message + n + 2, old, len);
  error_message[n + 2 + len] = '\0';
  if (error_status == SG_OK) error_status = SG_ERR_ARG;
}

const char *sg_last_error(void) { return error_message; }
sg_status sg_last_status(void) { return error_status; }

void sg_clear_error(void) {
  error_message[0] = '\0';
  error_status = SG_OK;
}

_Noreturn void sg_fatal(const char *file, int line, const char *msg) {
  fprintf(stderr, "sgen: internal error at %s:%d: %s\n", file, line, msg);
  abort();
}
