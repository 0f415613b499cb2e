/* Anomaly mode: NaN/Inf checks of recorded forward outputs and backward
 * gradients, naming the op that produced the first one (PyTorch's
 * detect_anomaly). The mode, the hook and the pending forward anomaly are
 * per thread, like grad mode (docs/decisions.md): recording happens on the
 * thread running the script, never inside kernels' worker threads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/anomaly.h"
#include "internal/tensor_internal.h"
#include "sgen/ops.h"

#define ANOMALY_CAP 2048 /* the engine's error buffer holds as much */

static _Thread_local bool anomaly_on = false;
static _Thread_local sg_anomaly_hook hook_fn = NULL;
static _Thread_local void *hook_ud = NULL;
static _Thread_local bool pending = false;
static _Thread_local char pending_msg[ANOMALY_CAP];

bool sg_anomaly_enabled(void) { return anomaly_on; }

bool sg_set_detect_anomaly(bool on) {
  bool prev = anomaly_on;
  anomaly_on = on;
  if (!on) pending = false;
  return prev;
}

void sg_set_anomaly_hook(sg_anomaly_hook fn, void *ud) {
  hook_fn = fn;
  hook_ud = ud;
}

void *sg_anomaly_hook_ud(void) { return hook_ud; }

sg_status sg_anomaly_check(void) {
  if (!pending) return SG_OK;
  pending = false;
  return sg_error(SG_ERR_STATE, "%s", pending_msg);
}

/* Counts NaN and +-Inf entries of a float tensor. The common case (all
 * finite) costs one scale and one sum: 0 * x is NaN exactly where x is NaN
 * or infinite, and sums never overflow. Returns false when all are finite
 * or the check itself failed (then the error is dropped: a check must not
 * turn a working op into a failing one). */
static bool count_nonfinite(sg_tensor *x, double *nan_count, double *inf_count) {
  if (!x || !sg_dtype_is_float(x->dtype) || sg_numel(x) == 0) return false;
  bool prev = sg_set_grad_enabled(false);
  bool bad = false;
  sg_tensor *z = sg_mul_scalar(x, 0.0);
  sg_tensor *s = z ? sg_sum(z, NULL, 0, false) : NULL;
  double v = 0;
  if (s && sg_item(s, &v) == 0 && isnan(v)) {
    bad = true;
    sg_tensor *isnan_t = sg_ne(x, x);
    sg_tensor *nn = isnan_t ? sg_sum(isnan_t, NULL, 0, false) : NULL;
    sg_tensor *ab = sg_abs(x);
    sg_tensor *isinf_t = ab ? sg_cmp_scalar(SG_EQ, ab, INFINITY) : NULL;
    sg_tensor *ni = isinf_t ? sg_sum(isinf_t, NULL, 0, false) : NULL;
    *nan_count = *inf_count = -1;
    if (nn) sg_item(nn, nan_count);
    if (ni) sg_item(ni, inf_count);
    sg_release(isnan_t);
    sg_release(nn);
    sg_release(ab);
    sg_release(isinf_t);
    sg_release(ni);
  }
  sg_release(z);
  sg_release(s);
  sg_set_grad_enabled(prev);
  if (!bad) sg_clear_error();
  return bad;
}

static void describe_counts(char *buf, size_t n, double nans, double infs) {
  if (nans < 0 || infs < 0)
    snprintf(buf, n, "NaN or Inf");
  else if (nans > 0 && infs > 0)
    snprintf(buf, n, "%.0f NaN and %.0f Inf", nans, infs);
  else if (nans > 0)
    snprintf(buf, n, "%.0f NaN", nans);
  else
    snprintf(buf, n, "%.0f Inf", infs);
}

void sg_anomaly_on_record(sg_node *node, sg_tensor *const *inputs, int n_inputs,
                          sg_tensor **outs, int n_outs) {
  char info[ANOMALY_CAP];
  size_t len = (size_t)snprintf(info, sizeof info, "inputs (");
  for (int k = 0; k < n_inputs && len < sizeof info; k++) {
    char shape[128];
    const sg_tensor *t = inputs[k];
    len += (size_t)snprintf(info + len, sizeof info - len, "%s%s %s", k ? ", " : "",
                            t ? sg_dtype_name(t->dtype) : "none",
                            t ? sg_shape_str(t, shape, sizeof shape) : "-");
  }
  if (len < sizeof info) len += (size_t)snprintf(info + len, sizeof info - len, ")");
  char *where = hook_fn ? hook_fn(hook_ud) : NULL;
  if (len < sizeof info)
    snprintf(info + len, sizeof info - len, "; created at:\n%s",
             where ? where : "(no traceback: no hook registered)");
  free(where);
  size_t n = strlen(info) + 1;
  node->anomaly_info = malloc(n);
  if (node->anomaly_info) memcpy(node->anomaly_info, info, n);

  if (pending) return; /* the first anomaly is the one worth naming */
  for (int k = 0; k < n_outs; k++) {
    double nans, infs;
    if (!count_nonfinite(outs[k], &nans, &infs)) continue;
    char what[96], shape[128];
    describe_counts(what, sizeof what, nans, infs);
    snprintf(pending_msg, sizeof pending_msg,
             "detect_anomaly: %s produced %s in its output %d (%s %s) in the forward pass; %s",
             node->name, what, k + 1, sg_dtype_name(outs[k]->dtype),
             sg_shape_str(outs[k], shape, sizeof shape),
             node->anomaly_info ? node->anomaly_info : "");
    pending = true;
    return;
  }
}

sg_status sg_anomaly_check_grads(sg_node *node, sg_tensor **grads) {
  for (int k = 0; k < node->n_inputs; k++) {
    double nans, infs;
    if (!count_nonfinite(grads[k], &nans, &infs)) continue;
    char what[96], shape[128];
    describe_counts(what, sizeof what, nans, infs);
    return sg_error(SG_ERR_STATE,
                    "detect_anomaly: the backward of %s returned %s in the gradient of its input "
                    "%d (%s %s); the op's %s",
                    node->name, what, k + 1, sg_dtype_name(grads[k]->dtype),
                    sg_shape_str(grads[k], shape, sizeof shape),
                    node->anomaly_info ? node->anomaly_info : "inputs (unknown: the op was "
                                                              "recorded before anomaly mode was "
                                                              "turned on)");
  }
  return SG_OK;
}
