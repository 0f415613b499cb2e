/* The MPI backend of sgen/dist.h (Debian's OpenMPI): CPU tensors. The only
 * file of the engine that includes mpi.h. Each sg_dist_init duplicates
 * MPI_COMM_WORLD, so destroy and init again work in one process; MPI itself
 * is finalized at exit (it cannot be initialized twice, and mpirun reports
 * a process that exits without MPI_Finalize as failed). */
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>

#include "dist/dist_internal.h"

static sg_status mpi_fail(int rc, const char *what) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) len = 0;
  msg[len] = '\0';
  return sg_error(SG_ERR_STATE, "%s: MPI error: %s", what, len > 0 ? msg : "unknown");
}

static void finalize_at_exit(void) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

static MPI_Datatype mpi_type(sg_dtype dt) {
  switch (dt) {
    case SG_FLOAT32: return MPI_FLOAT;
    case SG_FLOAT64: return MPI_DOUBLE;
    case SG_INT64: return MPI_INT64_T;
    case SG_UINT8:
    case SG_BOOL: return MPI_UINT8_T;
    default: return MPI_DATATYPE_NULL;
  }
}

static MPI_Comm comm_of(sg_dist_comm *c) { return *(MPI_Comm *)c->impl; }

static sg_status mpi_init(sg_dist_comm *c, const sg_dist_comm *host) {
  (void)host;
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (finalized) return sg_error(SG_ERR_STATE, "dist.init: MPI was finalized in this process");
  if (!initialized) {
    /* FUNNELED: only the thread that called init makes MPI calls (OpenMP
     * workers never do). */
    int provided = 0;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "dist.init");
    atexit(finalize_at_exit);
  }
  MPI_Comm *comm = malloc(sizeof *comm);
  if (comm == NULL) return sg_error(SG_ERR_MEM, "dist.init: out of memory");
  int rc = MPI_Comm_dup(MPI_COMM_WORLD, comm);
  if (rc != MPI_SUCCESS) {
    free(comm);
    return mpi_fail(rc, "dist.init");
  }
  /* errors come back as return codes (raised as Lua errors), not aborts */
  MPI_Comm_set_errhandler(*comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(*comm, &c->rank);
  MPI_Comm_size(*comm, &c->world);
  MPI_Comm node;
  c->local_rank = 0;
  if (MPI_Comm_split_type(*comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
    MPI_Comm_rank(node, &c->local_rank);
    MPI_Comm_free(&node);
  }
  c->impl = comm;
  return SG_OK;
}

static void mpi_destroy(sg_dist_comm *c) {
  if (c->impl == NULL) return;
  MPI_Comm *comm = c->impl;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(comm);
  free(comm);
  c->impl = NULL;
}

static MPI_Op mpi_op(sg_dist_op op) { return op == SG_DIST_MAX ? MPI_MAX : MPI_SUM; }

/* MPI counts are int: large buffers go in chunks. */
#define CHUNK ((int64_t)1 << 30)

static sg_status mpi_all_reduce(sg_dist_comm *c, void *buf, int64_t count, sg_dtype dt,
                                sg_dist_op op) {
  size_t es = sg_dtype_size(dt);
  for (int64_t off = 0; off < count; off += CHUNK) {
    int n = (int)(count - off < CHUNK ? count - off : CHUNK);
    int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + (size_t)off * es, n, mpi_type(dt),
                           mpi_op(op), comm_of(c));
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "dist.all_reduce");
  }
  return SG_OK;
}

static sg_status mpi_broadcast(sg_dist_comm *c, void *buf, int64_t count, sg_dtype dt, int root) {
  size_t es = sg_dtype_size(dt);
  for (int64_t off = 0; off < count; off += CHUNK) {
    int n = (int)(count - off < CHUNK ? count - off : CHUNK);
    int rc = MPI_Bcast((char *)buf + (size_t)off * es, n, mpi_type(dt), root, comm_of(c));
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "dist.broadcast");
  }
  return SG_OK;
}

static sg_status mpi_all_gather(sg_dist_comm *c, const void *send, void *recv, int64_t count,
                                sg_dtype dt) {
  if (count > INT_MAX) {
    return sg_error(SG_ERR_UNSUPPORTED, "dist.all_gather: %lld elements per rank is over MPI's "
                    "int count", (long long)count);
  }
  int rc = MPI_Allgather(send, (int)count, mpi_type(dt), recv, (int)count, mpi_type(dt),
                         comm_of(c));
  return rc == MPI_SUCCESS ? SG_OK : mpi_fail(rc, "dist.all_gather");
}

static sg_status mpi_reduce_scatter(sg_dist_comm *c, const void *send, void *recv, int64_t count,
                                    sg_dtype dt, sg_dist_op op) {
  if (count > INT_MAX) {
    return sg_error(SG_ERR_UNSUPPORTED, "dist.reduce_scatter: %lld elements per rank is over "
                    "MPI's int count", (long long)count);
  }
  int rc = MPI_Reduce_scatter_block(send, recv, (int)count, mpi_type(dt), mpi_op(op), comm_of(c));
  return rc == MPI_SUCCESS ? SG_OK : mpi_fail(rc, "dist.reduce_scatter");
}

static sg_status mpi_barrier(sg_dist_comm *c) {
  int rc = MPI_Barrier(comm_of(c));
  return rc == MPI_SUCCESS ? SG_OK : mpi_fail(rc, "dist.barrier");
}

void sg_dist_mpi_abort(int code) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, code);
}

const sg_dist_impl sg_dist_mpi_backend = {
    .name = "mpi",
    .device = SG_CPU,
    .init = mpi_init,
    .destroy = mpi_destroy,
    .all_reduce = mpi_all_reduce,
    .broadcast = mpi_broadcast,
    .all_gather = mpi_all_gather,
    .reduce_scatter = mpi_reduce_scatter,
    .barrier = mpi_barrier,
};
