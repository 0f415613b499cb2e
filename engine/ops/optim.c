/* Fused optimizer steps: argument checks and dispatch (sgen/ops_optim.h). */
#include <math.h>
#include <stddef.h>

#include "internal/backend.h"
#include "internal/kernels_optim.h"
#include "sgen/ops_optim.h"

static sg_status check_same(const char *op, const char *name, const sg_tensor *p,
                            const sg_tensor *t) {
  char a[96], b[96];
  if (!t) return sg_error(SG_ERR_ARG, "%s: %s is missing", op, name);
  if (!sg_same_shape(p, t) || t->dtype != p->dtype)
    return sg_error(SG_ERR_ARG, "%s: %s is %s %s, expected %s %s like the parameter", op, name,
                    sg_shape_str(t, a, sizeof a), sg_dtype_name(t->dtype),
                    sg_shape_str(p, b, sizeof b), sg_dtype_name(p->dtype));
  if (!sg_device_equal(t->storage->device, p->storage->device))
    return sg_error(SG_ERR_ARG, "%s: %s is on %s, the parameter on %s", op, name,
                    sg_device_name(t->storage->device), sg_device_name(p->storage->device));
  if (!sg_is_contiguous(t))
    return sg_error(SG_ERR_ARG, "%s: %s must be contiguous", op, name);
  return SG_OK;
}

sg_status sg_adam_step_(sg_tensor *p, const sg_tensor *grad, sg_tensor *exp_avg,
                        sg_tensor *exp_avg_sq, const sg_adam_opts *o) {
  const char *op = "adam_step_";
  if (!p || !o) return sg_error(SG_ERR_ARG, "%s: parameter or options missing", op);
  if (!sg_dtype_is_float(p->dtype))
    return sg_error(SG_ERR_ARG, "%s: the parameter is %s, expected float32 or float64", op,
                    sg_dtype_name(p->dtype));
  if (!sg_is_contiguous(p)) return sg_error(SG_ERR_ARG, "%s: the parameter must be contiguous", op);
  sg_status st;
  if ((st = check_same(op, "grad", p, grad)) != SG_OK) return st;
  if ((st = check_same(op, "exp_avg", p, exp_avg)) != SG_OK) return st;
  if ((st = check_same(op, "exp_avg_sq", p, exp_avg_sq)) != SG_OK) return st;
  if (o->step < 1) return sg_error(SG_ERR_ARG, "%s: step must be >= 1, got %lld", op, (long long)o->step);
  if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
    return sg_error(SG_ERR_ARG, "%s: betas must be in [0, 1), got %g and %g", op, o->beta1, o->beta2);
  if (!(o->lr >= 0) || !(o->eps >= 0) || !(o->weight_decay >= 0))
    return sg_error(SG_ERR_ARG, "%s: lr, eps and weight_decay must be >= 0", op);
  const sg_backend *be = sg_backend_checked(op, p, offsetof(sg_backend, optim));
  if (!be) return sg_last_status();
  if (!be->optim->adam_step)
    return sg_error(SG_ERR_UNSUPPORTED, "%s: not implemented on %s", op,
                    sg_device_name(p->storage->device));
  st = be->optim->adam_step(p, grad, exp_avg, exp_avg_sq, o);
  if (st == SG_OK) {
    sg_bump_version(p);
    sg_bump_version(exp_avg);
    sg_bump_version(exp_avg_sq);
  }
  return st;
}
