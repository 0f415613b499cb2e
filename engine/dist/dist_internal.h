/* The backend interface under sgen/dist.h: one table of raw-buffer
 * collectives per collective library. dist.c does the checks (device,
 * dtype, contiguity, the debug-mode shape exchange) and the bookkeeping;
 * a backend file (dist_mpi.c, dist_nccl.c) is the only place that includes
 * its library's headers. */
#ifndef SGEN_ENGINE_DIST_INTERNAL_H
#define SGEN_ENGINE_DIST_INTERNAL_H

#include <stdint.h>

#include "sgen/dist.h"

typedef struct sg_dist_impl sg_dist_impl;

/* A joined communicator of some backend. */
typedef struct sg_dist_comm {
  const sg_dist_impl *be;
  void *impl;
  int rank, world, local_rank;
} sg_dist_comm;

struct sg_dist_impl {
  const char *name;
  sg_device_type device; /* where its tensors must live */
  /* host: an already joined MPI communicator for bootstrapping (NCCL's
   * unique id), NULL for MPI itself. Fills c. */
  sg_status (*init)(sg_dist_comm *c, const sg_dist_comm *host);
  void (*destroy)(sg_dist_comm *c);
  /* op is SG_DIST_SUM or SG_DIST_MAX (MEAN is SUM then a division). */
  sg_status (*all_reduce)(sg_dist_comm *c, void *buf, int64_t count, sg_dtype dt, sg_dist_op op);
  sg_status (*broadcast)(sg_dist_comm *c, void *buf, int64_t count, sg_dtype dt, int root);
  /* recv holds world * count elements, rank r's at r * count. */
  sg_status (*all_gather)(sg_dist_comm *c, const void *send, void *recv, int64_t count,
                          sg_dtype dt);
  /* send holds world * count elements; recv gets this rank's block reduced. */
  sg_status (*reduce_scatter)(sg_dist_comm *c, const void *send, void *recv, int64_t count,
                              sg_dtype dt, sg_dist_op op);
  sg_status (*barrier)(sg_dist_comm *c);
};

#ifdef SGEN_WITH_MPI
extern const sg_dist_impl sg_dist_mpi_backend;
/* sg_dist_abort_job's MPI part (dist_mpi.c). */
void sg_dist_mpi_abort(int code);
#endif
#ifdef SGEN_WITH_NCCL
extern const sg_dist_impl sg_dist_nccl_backend;
#endif

#endif
