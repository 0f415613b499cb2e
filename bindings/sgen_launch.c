/* `sgen launch -n N [--backend=mpi|nccl] [--debug] [--dry-run] FILE.lua
 * [--key=value ...]`: starts N ranks of `sgen run FILE.lua ...` on this
 * machine through the MPI launcher (mpirun from Debian's OpenMPI), as
 * torchrun does for PyTorch (docs/distributed.md). mpirun ends the whole job
 * with a non-zero status as soon as one rank exits non-zero, so a failing
 * rank never leaves the others hanging in a collective. Several nodes:
 * call mpirun yourself with -H or a hostfile (the docs give the line). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sgen_cli.h"

#ifndef SGEN_MPIEXEC
#define SGEN_MPIEXEC ""
#endif

static void launch_usage(FILE *f) {
  fputs("usage: sgen launch -n N [--backend=mpi|nccl] [--debug] [--dry-run] FILE.lua [OPTIONS]\n"
        "  -n N, --nproc=N   number of ranks (processes) on this machine\n"
        "  --backend=B       mpi (CPU tensors, default) or nccl (one GPU per rank)\n"
        "  --debug           SGEN_DIST_DEBUG=1: collectives check that ranks agree\n"
        "  --dry-run         print the mpirun command and exit\n"
        "Each rank runs `sgen run FILE.lua [OPTIONS]` with RANK, WORLD_SIZE and\n"
        "LOCAL_RANK set; the script calls sg.dist.init(). Several machines:\n"
        "mpirun -H host1,host2 -n N sgen run FILE.lua (docs/distributed.md).\n",
        f);
}

static int parse_count(const char *s, int *out) {
  if (s == NULL || *s == '\0') return 0;
  for (const char *p = s; *p; p++) {
    if (!isdigit((unsigned char)*p)) return 0;
  }
  long v = strtol(s, NULL, 10);
  if (v < 1 || v > 4096) return 0;
  *out = (int)v;
  return 1;
}

/* Sets name=value unless the user set it; returns 1 when it was set here. */
static int default_env(const char *name, const char *value) {
  if (getenv(name) != NULL) return 0;
  return setenv(name, value, 1) == 0;
}

int sgen_cmd_launch(int argc, char **argv) {
  int n = 0, dry_run = 0, i = 0;
  const char *backend = "mpi";
  int debug = 0;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-n") == 0 || strcmp(a, "--nproc") == 0 || strcmp(a, "-np") == 0) {
      if (i + 1 >= argc || !parse_count(argv[i + 1], &n)) {
        fprintf(stderr, "sgen launch: %s expects a number of ranks from 1, got '%s'\n", a,
                i + 1 < argc ? argv[i + 1] : "");
        return SGEN_EXIT_USAGE;
      }
      i++;
    } else if (strncmp(a, "--nproc=", 8) == 0 || strncmp(a, "-n=", 3) == 0) {
      const char *v = strchr(a, '=') + 1;
      if (!parse_count(v, &n)) {
        fprintf(stderr, "sgen launch: -n expects a number of ranks from 1, got '%s'\n", v);
        return SGEN_EXIT_USAGE;
      }
    } else if (strncmp(a, "--backend=", 10) == 0 || strcmp(a, "--backend") == 0) {
      backend = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : "");
      if (strcmp(backend, "mpi") != 0 && strcmp(backend, "nccl") != 0) {
        fprintf(stderr, "sgen launch: unknown backend '%s' (expected mpi or nccl)\n", backend);
        return SGEN_EXIT_USAGE;
      }
    } else if (strcmp(a, "--debug") == 0) {
      debug = 1;
    } else if (strcmp(a, "--dry-run") == 0) {
      dry_run = 1;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      launch_usage(stdout);
      return 0;
    } else if (a[0] == '-' && strcmp(a, "-") != 0) {
      fprintf(stderr, "sgen launch: unknown option '%s' (options of the script come after it)\n",
              a);
      launch_usage(stderr);
      return SGEN_EXIT_USAGE;
    } else {
      break;
    }
  }
  if (i >= argc) {
    fputs("sgen launch: missing script\n", stderr);
    launch_usage(stderr);
    return SGEN_EXIT_USAGE;
  }
  if (n == 0) {
    fputs("sgen launch: missing -n N (the number of ranks)\n", stderr);
    return SGEN_EXIT_USAGE;
  }
  const char *mpiexec = SGEN_MPIEXEC;
  if (mpiexec[0] == '\0') {
    fputs("sgen launch: sgen was built without MPI (install libopenmpi-dev and openmpi-bin "
          "with scripts/install-deps.sh, then reconfigure)\n", stderr);
    return SGEN_EXIT_ERROR;
  }

  /* What each rank inherits (mpirun passes the environment to local ranks;
   * -x also to remote ones). One BLAS/OpenMP thread per core share, as
   * torchrun defaults to, unless the user chose. */
  char threads[24];
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  long per = cores > 0 ? cores / n : 1;
  snprintf(threads, sizeof threads, "%ld", per < 1 ? 1 : per);
  if (getenv("SGEN_NUM_THREADS") == NULL) default_env("OMP_NUM_THREADS", threads);
  setenv("SGEN_DIST_BACKEND", backend, 1);
  if (debug) setenv("SGEN_DIST_DEBUG", "1", 1);

  const char *args[64 + 16];
  int k = 0;
  args[k++] = mpiexec;
  /* OpenMPI refuses root without it (containers, CI runners) */
  if (geteuid() == 0) args[k++] = "--allow-run-as-root";
  /* more ranks than cores is fine for tests and small machines; binding
   * each rank to one core would leave its OpenMP threads on that core */
  args[k++] = "--oversubscribe";
  args[k++] = "--bind-to";
  args[k++] = "none";
  args[k++] = "-n";
  char nbuf[16];
  snprintf(nbuf, sizeof nbuf, "%d", n);
  args[k++] = nbuf;
  static const char *const forwarded[] = {"OMP_NUM_THREADS", "SGEN_NUM_THREADS",
                                          "SGEN_DIST_BACKEND", "SGEN_DIST_DEBUG",
                                          "OMP_WAIT_POLICY"};
  for (size_t j = 0; j < sizeof forwarded / sizeof *forwarded; j++) {
    if (getenv(forwarded[j]) != NULL) {
      args[k++] = "-x";
      args[k++] = forwarded[j];
    }
  }
  args[k++] = sgen_exe_path();
  args[k++] = "run";
  int rest = argc - i;
  if (rest > 64) {
    fputs("sgen launch: too many arguments for the script (at most 64)\n", stderr);
    return SGEN_EXIT_USAGE;
  }
  for (int j = 0; j < rest; j++) args[k++] = argv[i + j];
  args[k] = NULL;

  if (dry_run) {
    for (int j = 0; j < k; j++) printf("%s%s", j ? " " : "", args[j]);
    printf("\n");
    return 0;
  }
  fflush(NULL);
  execvp(mpiexec, (char *const *)args);
  fprintf(stderr, "sgen launch: cannot run %s: ", mpiexec);
  perror(NULL);
  return SGEN_EXIT_ERROR;
}

/* In a rank started by mpirun: RANK, WORLD_SIZE and LOCAL_RANK as torchrun
 * sets them (scripts and tools read those), and for NCCL the rank's own GPU
 * (the engine uses device 0: CUDA_VISIBLE_DEVICES narrowed to the local
 * rank's entry). Runs before anything touches CUDA. */
void sgen_launcher_env(void) {
  const char *rank = getenv("OMPI_COMM_WORLD_RANK");
  const char *size = getenv("OMPI_COMM_WORLD_SIZE");
  const char *local = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
  if (rank == NULL) rank = getenv("PMI_RANK"); /* MPICH / Hydra */
  if (size == NULL) size = getenv("PMI_SIZE");
  if (local == NULL) local = getenv("MPI_LOCALRANKID");
  if (rank == NULL || size == NULL) return;
  default_env("RANK", rank);
  default_env("WORLD_SIZE", size);
  if (local != NULL) default_env("LOCAL_RANK", local);
  const char *be = getenv("SGEN_DIST_BACKEND");
  if (local == NULL || be == NULL || strcmp(be, "nccl") != 0) return;
  int lr = atoi(local);
  const char *vis = getenv("CUDA_VISIBLE_DEVICES");
  char pick[64];
  if (vis == NULL || *vis == '\0') {
    snprintf(pick, sizeof pick, "%d", lr);
  } else {
    /* the lr-th entry of the user's list ("2,3" -> rank 1 gets "3") */
    const char *p = vis;
    for (int j = 0; j < lr && p != NULL; j++) {
      p = strchr(p, ',');
      if (p) p++;
    }
    if (p == NULL) return; /* fewer GPUs than ranks: dist.init reports it */
    size_t len = strcspn(p, ",");
    if (len >= sizeof pick) return;
    memcpy(pick, p, len);
    pick[len] = '\0';
  }
  setenv("CUDA_VISIBLE_DEVICES", pick, 1);
}
