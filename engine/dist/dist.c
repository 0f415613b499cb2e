/* sgen/dist.h over the backend tables of dist_internal.h: argument checks,
 * strided tensors, MEAN, the debug-mode agreement check, byte counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_internal.h"
#include "sgen/autograd.h"
#include "sgen/ops_elementwise.h"

struct sg_dist {
  sg_dist_comm comm;       /* the data collectives */
  sg_dist_comm host;       /* NCCL's MPI bootstrap (unused for MPI) */
  sg_dist_comm *meta;      /* CPU collectives for the debug check: comm or host */
  bool debug;
  int64_t bytes;
};

static const sg_dist_impl *find_backend(const char *name) {
#ifdef SGEN_WITH_MPI
  if (strcmp(name, "mpi") == 0) return &sg_dist_mpi_backend;
#endif
#ifdef SGEN_WITH_NCCL
  if (strcmp(name, "nccl") == 0) return &sg_dist_nccl_backend;
#endif
  (void)name;
  return NULL;
}

bool sg_dist_backend_built(const char *backend) {
  return backend != NULL && find_backend(backend) != NULL;
}

sg_dist *sg_dist_init(const char *backend, bool debug) {
  if (backend == NULL || (strcmp(backend, "mpi") != 0 && strcmp(backend, "nccl") != 0)) {
    sg_error(SG_ERR_ARG, "dist.init: unknown backend '%s' (expected mpi or nccl)",
             backend ? backend : "(null)");
    return NULL;
  }
  const sg_dist_impl *be = find_backend(backend);
  if (be == NULL) {
    if (strcmp(backend, "mpi") == 0) {
      sg_error(SG_ERR_UNSUPPORTED, "dist.init: sgen was built without MPI (install libopenmpi-dev "
               "with scripts/install-deps.sh and configure with -DSGEN_MPI=ON)");
    } else {
      sg_error(SG_ERR_UNSUPPORTED, "dist.init: sgen was built without NCCL (it needs the CUDA "
               "build, MPI and nccl.h/libnccl under /usr/local/cuda or NCCL_ROOT)");
    }
    return NULL;
  }
  sg_dist *d = calloc(1, sizeof *d);
  if (d == NULL) {
    sg_error(SG_ERR_MEM, "dist.init: out of memory");
    return NULL;
  }
  d->debug = debug;
  d->comm.be = be;
  d->meta = &d->comm;
#ifdef SGEN_WITH_NCCL
  if (be == &sg_dist_nccl_backend) {
    d->host.be = &sg_dist_mpi_backend;
    if (d->host.be->init(&d->host, NULL) != SG_OK) {
      free(d);
      return NULL;
    }
    d->meta = &d->host;
  }
#endif
  if (be->init(&d->comm, d->meta == &d->host ? &d->host : NULL) != SG_OK) {
    if (d->host.be) d->host.be->destroy(&d->host);
    free(d);
    return NULL;
  }
  return d;
}

void sg_dist_destroy(sg_dist *d) {
  if (d == NULL) return;
  d->comm.be->destroy(&d->comm);
  if (d->host.be) d->host.be->destroy(&d->host);
  free(d);
}

const char *sg_dist_backend(const sg_dist *d) { return d->comm.be->name; }
int sg_dist_rank(const sg_dist *d) { return d->comm.rank; }
int sg_dist_world_size(const sg_dist *d) { return d->comm.world; }
int sg_dist_local_rank(const sg_dist *d) { return d->comm.local_rank; }
bool sg_dist_debug(const sg_dist *d) { return d->debug; }
int64_t sg_dist_bytes_communicated(const sg_dist *d) { return d->bytes; }

static const char *op_name(sg_dist_op op) {
  return op == SG_DIST_SUM ? "sum" : op == SG_DIST_MEAN ? "mean" : "max";
}

static sg_status check_tensor(const sg_dist *d, const char *fn, const sg_tensor *t, bool reduce,
                              sg_dist_op op) {
  if (d == NULL) return sg_error(SG_ERR_STATE, "%s: sg.dist.init() was not called", fn);
  if (t == NULL) return sg_error(SG_ERR_ARG, "%s: expected a tensor, got NULL", fn);
  if (t->storage->device.type != d->comm.be->device) {
    return sg_error(SG_ERR_ARG, "%s: the %s backend takes %s tensors, got a tensor on %s%s", fn,
                    d->comm.be->name, d->comm.be->device == SG_CPU ? "CPU" : "CUDA",
                    sg_device_name(t->storage->device),
                    d->comm.be->device == SG_CPU ? " (t:cpu(), or init the nccl backend)"
                                                 : " (t:cuda(), or init the mpi backend)");
  }
  if (reduce) {
    if (t->dtype == SG_BOOL) {
      return sg_error(SG_ERR_ARG, "%s: op %s is not defined for bool tensors", fn, op_name(op));
    }
    if (op == SG_DIST_MEAN && !sg_dtype_is_float(t->dtype)) {
      return sg_error(SG_ERR_ARG, "%s: op mean needs a float tensor, got %s (use sum)", fn,
                      sg_dtype_name(t->dtype));
    }
  }
  return SG_OK;
}

/* Debug mode: every rank shares (collective, op, root, dtype, shape) and
 * compares them with rank 0's, so that all ranks fail with the same message
 * instead of some hanging in mismatched collectives. */
enum { META_N = 5 + SG_MAX_DIMS };

static sg_status check_agreement(sg_dist *d, const char *fn, int code, const sg_tensor *t,
                                 int op, int root) {
  if (!d->debug) return SG_OK;
  int world = d->meta->world;
  int64_t mine[META_N] = {code, op, root, t ? (int64_t)t->dtype : -1, t ? t->ndim : -1};
  for (int i = 0; t && i < t->ndim; i++) mine[5 + i] = t->shape[i];
  int64_t *all = malloc(sizeof mine * (size_t)world);
  if (all == NULL) return sg_error(SG_ERR_MEM, "%s: out of memory", fn);
  sg_status st = d->meta->be->all_gather(d->meta, mine, all, META_N, SG_INT64);
  if (st != SG_OK) {
    free(all);
    return st;
  }
  for (int r = 1; r < world; r++) {
    const int64_t *a = all, *b = all + (size_t)r * META_N;
    if (memcmp(a, b, sizeof mine) == 0) continue;
    char sa[96], sb[96];
    const char *names[] = {"all_reduce", "broadcast", "all_gather", "reduce_scatter", "barrier"};
    snprintf(sa, sizeof sa, "%s", a[0] >= 0 && a[0] < 5 ? names[a[0]] : "?");
    snprintf(sb, sizeof sb, "%s", b[0] >= 0 && b[0] < 5 ? names[b[0]] : "?");
    if (a[0] != b[0]) {
      st = sg_error(SG_ERR_STATE, "%s: ranks disagree (SGEN_DIST_DEBUG): rank 0 called %s, "
                    "rank %d called %s", fn, sa, r, sb);
    } else if (a[1] != b[1] || a[2] != b[2]) {
      st = sg_error(SG_ERR_STATE, "%s: ranks disagree (SGEN_DIST_DEBUG): rank 0 passed op %s "
                    "root %lld, rank %d op %s root %lld", fn, op_name((sg_dist_op)a[1]),
                    (long long)a[2], r, op_name((sg_dist_op)b[1]), (long long)b[2]);
    } else {
      char da[64], db[64];
      sg_dims_str(a + 5, (int)a[4], da, sizeof da);
      sg_dims_str(b + 5, (int)b[4], db, sizeof db);
      st = sg_error(SG_ERR_STATE, "%s: ranks disagree (SGEN_DIST_DEBUG): rank 0 has a %s %s "
                    "tensor, rank %d a %s %s tensor", fn, sg_dtype_name((sg_dtype)a[3]), da, r,
                    sg_dtype_name((sg_dtype)b[3]), db);
    }
    break;
  }
  free(all);
  return st;
}

static void *raw_ptr(const sg_tensor *t) {
  return (char *)t->storage->data + (size_t)t->offset * sg_dtype_size(t->dtype);
}

/* A contiguous tensor holding t's values (t itself, retained, when it is
 * contiguous); no autograd record. */
static sg_tensor *dense(sg_tensor *t) {
  bool prev = sg_set_grad_enabled(false);
  sg_tensor *c = sg_contiguous(t);
  sg_set_grad_enabled(prev);
  return c;
}

/* Writes the contiguous result c back into t (when c is a copy) and marks t
 * as written in place. */
static sg_status write_back(sg_tensor *t, sg_tensor *c) {
  sg_status st = SG_OK;
  if (c != t) {
    st = sg_copy_(t, c);
  } else {
    sg_bump_version(t);
  }
  return st;
}

sg_status sg_dist_all_reduce(sg_dist *d, sg_tensor *t, sg_dist_op op) {
  const char *fn = "dist.all_reduce";
  sg_status st = check_tensor(d, fn, t, true, op);
  if (st == SG_OK) st = check_agreement(d, fn, 0, t, op, 0);
  if (st != SG_OK) return st;
  sg_tensor *c = dense(t);
  if (c == NULL) return sg_last_status();
  int64_t n = sg_numel(c);
  st = d->comm.be->all_reduce(&d->comm, raw_ptr(c), n, c->dtype,
                              op == SG_DIST_MAX ? SG_DIST_MAX : SG_DIST_SUM);
  if (st == SG_OK && op == SG_DIST_MEAN && d->comm.world > 1) {
    bool prev = sg_set_grad_enabled(false);
    sg_tensor *q = sg_div_scalar(c, (double)d->comm.world);
    sg_set_grad_enabled(prev);
    st = q ? sg_copy_(c, q) : sg_last_status();
    sg_release(q);
  }
  d->bytes += n * (int64_t)sg_dtype_size(c->dtype);
  if (st == SG_OK) st = write_back(t, c);
  sg_release(c);
  return st;
}

sg_status sg_dist_broadcast(sg_dist *d, sg_tensor *t, int root) {
  const char *fn = "dist.broadcast";
  sg_status st = check_tensor(d, fn, t, false, SG_DIST_SUM);
  /* agreement first: a bad root on one rank only must not leave the others waiting */
  if (st == SG_OK) st = check_agreement(d, fn, 1, t, 0, root);
  if (st != SG_OK) return st;
  if (root < 0 || root >= d->comm.world) {
    return sg_error(SG_ERR_ARG, "%s: root %d is not a rank (0 to %d)", fn, root,
                    d->comm.world - 1);
  }
  sg_tensor *c = dense(t);
  if (c == NULL) return sg_last_status();
  int64_t n = sg_numel(c);
  st = d->comm.be->broadcast(&d->comm, raw_ptr(c), n, c->dtype, root);
  d->bytes += n * (int64_t)sg_dtype_size(c->dtype);
  if (st == SG_OK) st = write_back(t, c);
  sg_release(c);
  return st;
}

sg_tensor *sg_dist_all_gather(sg_dist *d, sg_tensor *t) {
  const char *fn = "dist.all_gather";
  if (check_tensor(d, fn, t, false, SG_DIST_SUM) != SG_OK) return NULL;
  if (t->ndim + 1 > SG_MAX_DIMS) {
    sg_error(SG_ERR_ARG, "%s: the result would have %d dims (at most %d)", fn, t->ndim + 1,
             SG_MAX_DIMS);
    return NULL;
  }
  if (check_agreement(d, fn, 2, t, 0, 0) != SG_OK) return NULL;
  sg_tensor *c = dense(t);
  if (c == NULL) return NULL;
  int64_t shape[SG_MAX_DIMS];
  shape[0] = d->comm.world;
  memcpy(shape + 1, t->shape, sizeof(int64_t) * (size_t)t->ndim);
  sg_tensor *out = sg_empty(shape, t->ndim + 1, t->dtype, t->storage->device);
  if (out != NULL) {
    int64_t n = sg_numel(c);
    if (d->comm.be->all_gather(&d->comm, raw_ptr(c), raw_ptr(out), n, c->dtype) != SG_OK) {
      sg_release(out);
      out = NULL;
    }
    d->bytes += n * (int64_t)sg_dtype_size(c->dtype);
  }
  sg_release(c);
  return out;
}

sg_tensor *sg_dist_reduce_scatter(sg_dist *d, sg_tensor *t, sg_dist_op op) {
  const char *fn = "dist.reduce_scatter";
  if (check_tensor(d, fn, t, true, op) != SG_OK) return NULL;
  if (check_agreement(d, fn, 3, t, op, 0) != SG_OK) return NULL;
  int world = d->comm.world;
  if (t->ndim < 1 || t->shape[0] % world != 0) {
    char s[64];
    sg_error(SG_ERR_ARG, "%s: the first dim of the %s tensor must be a multiple of the world "
             "size %d", fn, sg_shape_str(t, s, sizeof s), world);
    return NULL;
  }
  sg_tensor *c = dense(t);
  if (c == NULL) return NULL;
  int64_t shape[SG_MAX_DIMS];
  memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
  shape[0] /= world;
  sg_tensor *out = sg_empty(shape, t->ndim, t->dtype, t->storage->device);
  if (out != NULL) {
    int64_t n = sg_numel(out);
    sg_status st = d->comm.be->reduce_scatter(&d->comm, raw_ptr(c), raw_ptr(out), n, c->dtype,
                                              op == SG_DIST_MAX ? SG_DIST_MAX : SG_DIST_SUM);
    if (st == SG_OK && op == SG_DIST_MEAN && world > 1) {
      bool prev = sg_set_grad_enabled(false);
      sg_tensor *q = sg_div_scalar(out, (double)world);
      sg_set_grad_enabled(prev);
      st = q ? sg_copy_(out, q) : sg_last_status();
      sg_release(q);
    }
    d->bytes += sg_numel(c) * (int64_t)sg_dtype_size(c->dtype);
    if (st != SG_OK) {
      sg_release(out);
      out = NULL;
    }
  }
  sg_release(c);
  return out;
}

sg_status sg_dist_barrier(sg_dist *d) {
  if (d == NULL) return sg_error(SG_ERR_STATE, "dist.barrier: sg.dist.init() was not called");
  sg_status st = check_agreement(d, "dist.barrier", 4, NULL, 0, 0);
  if (st != SG_OK) return st;
  return d->comm.be->barrier(&d->comm);
}

void sg_dist_abort_job(int code) {
#ifdef SGEN_WITH_MPI
  sg_dist_mpi_abort(code);
#else
  (void)code;
#endif
}

/* d(sum over ranks of t)/dt: the incoming gradients of all ranks summed
 * (every rank runs the same backward, so the collectives pair up). */
static sg_status all_reduce_backward(sg_node *node, sg_tensor **go, sg_tensor **gi) {
  sg_status st = sg_require_first_order(node);
  if (st != SG_OK) return st;
  gi[0] = NULL;
  if (go[0] == NULL || !sg_node_wants(node, 0)) return SG_OK;
  sg_tensor *g = sg_clone(go[0]);
  if (g == NULL) return sg_last_status();
  st = sg_dist_all_reduce(node->extra, g, SG_DIST_SUM);
  if (st != SG_OK) {
    sg_release(g);
    return st;
  }
  gi[0] = g;
  return SG_OK;
}

sg_tensor *sg_dist_all_reduce_autograd(sg_dist *d, sg_tensor *t) {
  if (check_tensor(d, "dist.nn.all_reduce", t, true, SG_DIST_SUM) != SG_OK) return NULL;
  bool prev = sg_set_grad_enabled(false);
  sg_tensor *out = sg_clone(t);
  sg_set_grad_enabled(prev);
  if (out == NULL) return NULL;
  if (sg_dist_all_reduce(d, out, SG_DIST_SUM) != SG_OK) {
    sg_release(out);
    return NULL;
  }
  sg_node *n = sg_record("dist_all_reduce", all_reduce_backward, &t, 1, out);
  if (n != NULL) {
    n->extra = d; /* borrowed: backward must run before sg_dist_destroy */
    n->differentiable = false;
  }
  return out;
}
