/* Error reporting for libsgen.
 *
 * Every public function that can fail on user input returns NULL (for
 * functions returning a pointer) or a negative sg_status, and records a
 * message that names the op, the shapes and dtypes involved and what was
 * expected. The message lives in a thread-local buffer, like errno: the
 * alternative of threading an error context through every call would double
 * the noise of every backward formula (see docs/decisions.md). */
#ifndef SGEN_ERROR_H
#define SGEN_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sg_status {
  SG_OK = 0,
  SG_ERR_ARG = -1,    /* bad argument: shape, dtype, device, range */
  SG_ERR_MEM = -2,    /* allocation failed */
  SG_ERR_IO = -3,     /* file missing, unreadable, corrupt */
  SG_ERR_STATE = -4,  /* operation not valid now (e.g. backward twice) */
  SG_ERR_UNSUPPORTED = -5
} sg_status;

/* Records an error message (printf-style) and its status; returns status. */
sg_status sg_error(sg_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with "what: " (for adding context upward). */
void sg_error_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The last recorded message ("" if none) and status (SG_OK if none). */
const char *sg_last_error(void);
sg_status sg_last_status(void);
void sg_clear_error(void);

/* Internal invariant broken: prints and aborts. Never used for user input. */
#ifdef __cplusplus
[[noreturn]] void sg_fatal(const char *file, int line, const char *msg);
#else
_Noreturn void sg_fatal(const char *file, int line, const char *msg);
#endif
#define SG_ASSERT(cond) \
  do { if (!(cond)) sg_fatal(__FILE__, __LINE__, #cond); } while (0)

#ifdef __cplusplus
}
#endif
#endif
