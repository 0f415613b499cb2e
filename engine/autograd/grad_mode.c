/* Grad mode is per thread, as in PyTorch: a no_grad region on one thread
 * does not change recording on another. */
#include "sgen/autograd.h"

static _Thread_local bool grad_disabled = false;

bool sg_grad_enabled(void) { return !grad_disabled; }

bool sg_set_grad_enabled(bool on) {
  bool prev = !grad_disabled;
  grad_disabled = !on;
  return prev;
}
