/* Anomaly mode's engine-side checks (engine/autograd/anomaly.c), called by
 * node creation and the backward loop only while sg_anomaly_enabled(). */
#ifndef SGEN_INTERNAL_ANOMALY_H
#define SGEN_INTERNAL_ANOMALY_H

#include "sgen/autograd.h"

/* Fills node->anomaly_info (input shapes, the hook's traceback) and checks
 * the outputs; the first non-finite output becomes the pending anomaly. */
void sg_anomaly_on_record(sg_node *node, sg_tensor *const *inputs, int n_inputs,
                          sg_tensor **outs, int n_outs);
/* SG_OK, or an error naming node when one of the gradients it returned
 * (grads[k], k < node->n_inputs, NULL = none) holds NaN or Inf. */
sg_status sg_anomaly_check_grads(sg_node *node, sg_tensor **grads);

#endif
