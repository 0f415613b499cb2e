/* Collective communication for data-parallel training (ARCHITECTURE.md §8,
 * docs/distributed.md): a communicator over an existing collective library
 * (MPI for CPU tensors, NCCL for CUDA tensors), never a home-made protocol.
 *
 * Ranks are 0-based (rank 0 is the first process), as in MPI, NCCL and
 * torch.distributed. Collectives work in place on contiguous or strided
 * tensors (strided ones go through a contiguous copy), write raw data and
 * are not recorded by autograd (torch.distributed's rule). Every rank must
 * call the same collectives in the same order with tensors of the same
 * shape and dtype; with `debug` on, each collective first exchanges its
 * shape, dtype and op so that a mismatch is an error on every rank instead
 * of a hang or garbage. */
#ifndef SGEN_DIST_H
#define SGEN_DIST_H

#include <stdbool.h>

#include "sgen/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sg_dist_op { SG_DIST_SUM = 0, SG_DIST_MEAN, SG_DIST_MAX } sg_dist_op;

typedef struct sg_dist sg_dist;

/* Whether this build has the backend "mpi" or "nccl" (compiled in; says
 * nothing about a GPU being present). */
bool sg_dist_backend_built(const char *backend);
/* Joins the job started by the launcher (mpirun / sgen launch); run without
 * a launcher, a process is a world of size 1. NULL with an error naming the
 * backend and why on failure. */
sg_dist *sg_dist_init(const char *backend, bool debug);
/* Leaves the job (NULL-safe). MPI itself is finalized at process exit, so a
 * later sg_dist_init in the same process works. */
void sg_dist_destroy(sg_dist *d);

const char *sg_dist_backend(const sg_dist *d);
int sg_dist_rank(const sg_dist *d);
int sg_dist_world_size(const sg_dist *d);
/* Rank among the processes of this node (the launcher's local rank). */
int sg_dist_local_rank(const sg_dist *d);
bool sg_dist_debug(const sg_dist *d);

/* t <- op over all ranks of t (MEAN: float dtypes only). */
sg_status sg_dist_all_reduce(sg_dist *d, sg_tensor *t, sg_dist_op op);
/* t <- rank root's t. */
sg_status sg_dist_broadcast(sg_dist *d, sg_tensor *t, int root);
/* A new tensor of shape {world_size, t's shape}: entry r is rank r's t. */
sg_tensor *sg_dist_all_gather(sg_dist *d, sg_tensor *t);
/* t's first dim must be a multiple of world_size; returns the reduction
 * over ranks of the rank's block of t along dim 0 (shape {n / world, ...}). */
sg_tensor *sg_dist_reduce_scatter(sg_dist *d, sg_tensor *t, sg_dist_op op);
sg_status sg_dist_barrier(sg_dist *d);
/* Out of place and recorded by autograd (torch.distributed.nn.all_reduce):
 * the sum over ranks of t; its backward sums the gradients over ranks, so
 * every rank must run backward through it (SyncBatchNorm's statistics).
 * d must outlive the backward. */
sg_tensor *sg_dist_all_reduce_autograd(sg_dist *d, sg_tensor *t);
/* Bytes this communicator has sent as collective payload (the ring/tree
 * algorithms' internal traffic is the library's business: this counts the
 * tensors handed to it, for per-step communication volume). */
int64_t sg_dist_bytes_communicated(const sg_dist *d);

/* For a rank that fails: when this process joined an MPI job (MPI is
 * initialized and not finalized) ends the whole job now with status `code`
 * (MPI_Abort), so that the other ranks do not wait for it in a collective
 * (finalizing instead would wait for them). Returns, doing nothing,
 * otherwise. */
void sg_dist_abort_job(int code);

#ifdef __cplusplus
}
#endif
#endif
