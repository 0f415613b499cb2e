/* The NCCL backend of sgen/dist.h: CUDA tensors, one GPU per process. The
 * only file of the engine that includes nccl.h; compiled when the CUDA build
 * finds NCCL (and MPI, which bootstraps it).
 *
 * Bootstrap: rank 0 makes the unique id and the MPI communicator started by
 * mpirun / sgen launch broadcasts it (NCCL's documented MPI recipe), so one
 * launcher serves both backends, on one node or several. The engine uses
 * CUDA device 0 only; `sgen launch --backend=nccl` gives each rank its own
 * GPU through CUDA_VISIBLE_DEVICES = local rank. Collectives run on
 * sg_cuda_stream(), ordered with the kernels that produce and consume the
 * tensors. */
#include <nccl.h>
#include <stdlib.h>

#include "cuda/cuda_internal.h"
#include "dist/dist_internal.h"

static sg_status nccl_fail(ncclResult_t r, const char *what) {
  return sg_error(SG_ERR_STATE, "%s: NCCL error: %s", what, ncclGetErrorString(r));
}

static ncclDataType_t nccl_type(sg_dtype dt) {
  switch (dt) {
    case SG_FLOAT32: return ncclFloat32;
    case SG_FLOAT64: return ncclFloat64;
    case SG_INT64: return ncclInt64;
    default: return ncclUint8;
  }
}

static ncclRedOp_t nccl_op(sg_dist_op op) { return op == SG_DIST_MAX ? ncclMax : ncclSum; }

static ncclComm_t comm_of(sg_dist_comm *c) { return *(ncclComm_t *)c->impl; }

static sg_status nccl_init(sg_dist_comm *c, const sg_dist_comm *host) {
  if (host == NULL) return sg_error(SG_ERR_STATE, "dist.init: nccl needs the MPI bootstrap");
  if (sg_cuda_init() != SG_OK) {
    sg_error_context("dist.init (nccl)");
    return sg_last_status();
  }
  int visible = 0;
  if (SG_CUDA_CHECK(cudaGetDeviceCount(&visible)) != SG_OK) return sg_last_status();
  if (visible > 1 && host->world > 1) {
    return sg_error(SG_ERR_STATE, "dist.init: nccl: this process sees %d GPUs and would share "
                    "GPU 0 with the other ranks; start it with `sgen launch --backend=nccl`, "
                    "which gives each rank its own GPU (CUDA_VISIBLE_DEVICES = local rank)",
                    visible);
  }
  ncclUniqueId id;
  if (host->rank == 0) {
    ncclResult_t r = ncclGetUniqueId(&id);
    if (r != ncclSuccess) return nccl_fail(r, "dist.init");
  }
  sg_dist_comm *h = (sg_dist_comm *)host;
  sg_status st = h->be->broadcast(h, &id, (int64_t)sizeof id, SG_UINT8, 0);
  if (st != SG_OK) return st;
  ncclComm_t *comm = malloc(sizeof *comm);
  if (comm == NULL) return sg_error(SG_ERR_MEM, "dist.init: out of memory");
  ncclResult_t r = ncclCommInitRank(comm, host->world, id, host->rank);
  if (r != ncclSuccess) {
    free(comm);
    return nccl_fail(r, "dist.init");
  }
  c->impl = comm;
  c->rank = host->rank;
  c->world = host->world;
  c->local_rank = host->local_rank;
  return SG_OK;
}

static void nccl_destroy(sg_dist_comm *c) {
  if (c->impl == NULL) return;
  ncclCommDestroy(comm_of(c));
  free(c->impl);
  c->impl = NULL;
}

static sg_status nccl_all_reduce(sg_dist_comm *c, void *buf, int64_t count, sg_dtype dt,
                                 sg_dist_op op) {
  ncclResult_t r = ncclAllReduce(buf, buf, (size_t)count, nccl_type(dt), nccl_op(op), comm_of(c),
                                 sg_cuda_stream());
  return r == ncclSuccess ? SG_OK : nccl_fail(r, "dist.all_reduce");
}

static sg_status nccl_broadcast(sg_dist_comm *c, void *buf, int64_t count, sg_dtype dt,
                                int root) {
  ncclResult_t r = ncclBroadcast(buf, buf, (size_t)count, nccl_type(dt), root, comm_of(c),
                                 sg_cuda_stream());
  return r == ncclSuccess ? SG_OK : nccl_fail(r, "dist.broadcast");
}

static sg_status nccl_all_gather(sg_dist_comm *c, const void *send, void *recv, int64_t count,
                                 sg_dtype dt) {
  ncclResult_t r = ncclAllGather(send, recv, (size_t)count, nccl_type(dt), comm_of(c),
                                 sg_cuda_stream());
  return r == ncclSuccess ? SG_OK : nccl_fail(r, "dist.all_gather");
}

static sg_status nccl_reduce_scatter(sg_dist_comm *c, const void *send, void *recv,
                                     int64_t count, sg_dtype dt, sg_dist_op op) {
  ncclResult_t r = ncclReduceScatter(send, recv, (size_t)count, nccl_type(dt), nccl_op(op),
                                     comm_of(c), sg_cuda_stream());
  return r == ncclSuccess ? SG_OK : nccl_fail(r, "dist.reduce_scatter");
}

/* NCCL has no barrier: a one-element all-reduce, waited for. */
static sg_status nccl_barrier(sg_dist_comm *c) {
  float *one = sg_cuda_alloc(sizeof(float));
  if (one == NULL) return sg_last_status();
  sg_status st = SG_CUDA_CHECK(cudaMemsetAsync(one, 0, sizeof(float), sg_cuda_stream()));
  if (st == SG_OK) st = nccl_all_reduce(c, one, 1, SG_FLOAT32, SG_DIST_SUM);
  if (st == SG_OK) st = SG_CUDA_CHECK(cudaStreamSynchronize(sg_cuda_stream()));
  sg_cuda_free(one, sizeof(float));
  return st;
}

const sg_dist_impl sg_dist_nccl_backend = {
    .name = "nccl",
    .device = SG_CUDA,
    .init = nccl_init,
    .destroy = nccl_destroy,
    .all_reduce = nccl_all_reduce,
    .broadcast = nccl_broadcast,
    .all_gather = nccl_all_gather,
    .reduce_scatter = nccl_reduce_scatter,
    .barrier = nccl_barrier,
};
