/* The caching device allocator (ARCHITECTURE.md §2), after PyTorch's.
 *
 * cudaMalloc and cudaFree are slow (cudaFree synchronizes the device), and a
 * training step allocates and frees hundreds of tensors, so device memory is
 * obtained in segments and never returned on free: freed blocks go back to
 * a pool and are handed out again.
 *
 *  - Sizes are rounded up to multiples of 512 bytes.
 *  - Two pools: small requests (<= 1 MB) are carved from 2 MB segments,
 *    large ones from 20 MB segments (requests under 10 MB) or from a
 *    segment of their own size rounded to 2 MB.
 *  - Best fit: the smallest free block of the pool, on the same stream, that
 *    is large enough; it is split when the rest is worth keeping (>= 512 B
 *    in the small pool, > 1 MB in the large one). Freed blocks merge with
 *    free neighbours of their segment.
 *  - Each block remembers the stream it was allocated on and is only reused
 *    on that stream: work on one stream runs in order, so a block freed
 *    while a kernel reading it is still queued is only overwritten by work
 *    queued after that kernel. There is one stream for now
 *    (sg_cuda_stream()).
 *  - When cudaMalloc fails: the host's hook runs (the Lua bindings collect
 *    garbage there, which frees blocks), the pool is searched again, the
 *    cached segments are returned to the driver (sg_cuda_empty_cache), and
 *    cudaMalloc is retried once. If that fails too, the error names the
 *    request and what is held.
 *
 * Free blocks are kept in one list per pool sorted by (stream, size,
 * address), live blocks in a hash table by address. Both are plain linked
 * structures under one mutex: the lists stay short (a few hundred blocks)
 * next to the cost of a kernel launch. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "cuda/cuda_internal.h"

#define MIN_BLOCK ((size_t)512)
#define SMALL_SIZE ((size_t)1 << 20)      /* largest request of the small pool */
#define SMALL_SEGMENT ((size_t)2 << 20)   /* segments of the small pool */
#define MIN_LARGE_ALLOC ((size_t)10 << 20) /* below: 20 MB segments */
#define LARGE_SEGMENT ((size_t)20 << 20)
#define ROUND_LARGE ((size_t)2 << 20)     /* larger segments: multiples of 2 MB */
#define HASH_BUCKETS 4096

typedef struct block {
  char *ptr;
  size_t size;      /* bytes of the block (multiple of 512) */
  size_t requested; /* bytes asked for (live blocks) */
  cudaStream_t stream;
  bool allocated;
  bool small;                /* pool */
  struct block *prev, *next; /* neighbours in the segment (address order) */
  struct block *link;        /* free list (sorted) or hash chain */
} block;

typedef struct pool {
  block *free_list; /* sorted by (stream, size, ptr) */
} pool;

static struct {
  pthread_mutex_t lock;
  pool small, large;
  block *live[HASH_BUCKETS];
  sg_cuda_memstats stats;
  void (*oom_hook)(void *);
  void *oom_ud;
} A = {.lock = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local bool in_oom_hook;

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

static size_t round_size(size_t n) { return n < MIN_BLOCK ? MIN_BLOCK : round_up(n, MIN_BLOCK); }

static size_t segment_size(size_t size) {
  if (size <= SMALL_SIZE) return SMALL_SEGMENT;
  if (size < MIN_LARGE_ALLOC) return LARGE_SEGMENT;
  return round_up(size, ROUND_LARGE);
}

static size_t hash_ptr(const void *p) { return ((uintptr_t)p >> 9) % HASH_BUCKETS; }

/* (stream, size, ptr) order of the free lists */
static bool before(const block *a, const block *b) {
  if ((uintptr_t)a->stream != (uintptr_t)b->stream)
    return (uintptr_t)a->stream < (uintptr_t)b->stream;
  if (a->size != b->size) return a->size < b->size;
  return (uintptr_t)a->ptr < (uintptr_t)b->ptr;
}

static void free_insert(pool *pl, block *b) {
  block **pp = &pl->free_list;
  while (*pp && before(*pp, b)) pp = &(*pp)->link;
  b->link = *pp;
  *pp = b;
}

static void free_remove(pool *pl, block *b) {
  block **pp = &pl->free_list;
  while (*pp && *pp != b) pp = &(*pp)->link;
  SG_ASSERT(*pp == b);
  *pp = b->link;
  b->link = NULL;
}

/* Smallest free block on `stream` holding `size` bytes, removed from the
 * list; NULL if none. */
static block *free_take(pool *pl, cudaStream_t stream, size_t size) {
  block **pp = &pl->free_list;
  for (; *pp; pp = &(*pp)->link) {
    block *b = *pp;
    if (b->stream == stream && b->size >= size) {
      *pp = b->link;
      b->link = NULL;
      return b;
    }
  }
  return NULL;
}

static void live_insert(block *b) {
  size_t h = hash_ptr(b->ptr);
  b->link = A.live[h];
  A.live[h] = b;
}

static block *live_remove(const void *p) {
  block **pp = &A.live[hash_ptr(p)];
  for (; *pp; pp = &(*pp)->link) {
    if ((*pp)->ptr == p) {
      block *b = *pp;
      *pp = b->link;
      b->link = NULL;
      return b;
    }
  }
  return NULL;
}

static void update_peaks(void) {
  if (A.stats.allocated_bytes > A.stats.peak_allocated_bytes)
    A.stats.peak_allocated_bytes = A.stats.allocated_bytes;
  if (A.stats.reserved_bytes > A.stats.peak_reserved_bytes)
    A.stats.peak_reserved_bytes = A.stats.reserved_bytes;
}

/* A new segment as one free block; NULL when cudaMalloc fails (the CUDA
 * error is cleared, nothing recorded). Lock held. */
static block *new_segment(size_t seg, bool small, cudaStream_t stream) {
  void *p = NULL;
  cudaError_t e = cudaMalloc(&p, seg);
  if (e != cudaSuccess) {
    (void)cudaGetLastError(); /* out of memory is not sticky: clear it */
    return NULL;
  }
  block *b = calloc(1, sizeof *b);
  if (!b) {
    (void)SG_CUDA_CHECK(cudaFree(p));
    return NULL;
  }
  b->ptr = p;
  b->size = seg;
  b->stream = stream;
  b->small = small;
  A.stats.reserved_bytes += seg;
  A.stats.num_device_allocs++;
  update_peaks();
  return b;
}

/* Returns every segment that is entirely free to the driver. Lock held. */
static void release_cached(pool *pl) {
  block **pp = &pl->free_list;
  while (*pp) {
    block *b = *pp;
    if (!b->prev && !b->next) {
      *pp = b->link;
      (void)SG_CUDA_CHECK(cudaFree(b->ptr));
      A.stats.reserved_bytes -= b->size;
      A.stats.num_device_frees++;
      free(b);
    } else {
      pp = &b->link;
    }
  }
}

static void release_all_cached(void) {
  release_cached(&A.small);
  release_cached(&A.large);
}

static void format_bytes(char *buf, size_t n, size_t bytes) {
  double v = (double)bytes;
  const char *unit = "B";
  if (v >= 1024.0 * 1024 * 1024 * 1024) {
    v /= 1024.0 * 1024 * 1024 * 1024;
    unit = "TiB";
  } else if (v >= 1024.0 * 1024 * 1024) {
    v /= 1024.0 * 1024 * 1024;
    unit = "GiB";
  } else if (v >= 1024.0 * 1024) {
    v /= 1024.0 * 1024;
    unit = "MiB";
  } else if (v >= 1024.0) {
    v /= 1024.0;
    unit = "KiB";
  }
  snprintf(buf, n, "%.2f %s", v, unit);
}

/* Records the out-of-memory error. Lock held. */
static void oom_error(size_t nbytes, size_t seg) {
  char req[32], segs[32], held[32], cached[32], freeb[32], total[32];
  format_bytes(req, sizeof req, nbytes);
  format_bytes(segs, sizeof segs, seg);
  format_bytes(held, sizeof held, A.stats.allocated_bytes);
  format_bytes(cached, sizeof cached, A.stats.reserved_bytes - A.stats.allocated_bytes);
  size_t fr = 0, tot = 0;
  if (cudaMemGetInfo(&fr, &tot) != cudaSuccess) {
    (void)cudaGetLastError();
    fr = tot = 0;
  }
  format_bytes(freeb, sizeof freeb, fr);
  format_bytes(total, sizeof total, tot);
  A.stats.num_ooms++;
  sg_error(SG_ERR_MEM,
           "cuda: out of memory: tried to allocate %s (%zu bytes; a segment of %s) on cuda:0; "
           "the GPU has %s free of %s; sgen holds %s in live tensors and %s cached, after a "
           "garbage collection and emptying the cache",
           req, nbytes, segs, freeb, total, held, cached);
}

void *sg_cuda_alloc(size_t nbytes) {
  if (sg_cuda_init() != SG_OK) return NULL;
  cudaStream_t stream = sg_cuda_stream();
  size_t size = round_size(nbytes);
  bool small = size <= SMALL_SIZE;
  size_t seg = segment_size(size);
  pthread_mutex_lock(&A.lock);
  pool *pl = small ? &A.small : &A.large;
  block *b = free_take(pl, stream, size);
  if (!b) b = new_segment(seg, small, stream);
  if (!b) {
    /* Out of memory: let the host free garbage (outside the lock: its
     * finalizers free blocks), look again, empty the cache, retry once. */
    A.stats.num_alloc_retries++;
    void (*hook)(void *) = A.oom_hook;
    void *ud = A.oom_ud;
    if (hook && !in_oom_hook) {
      pthread_mutex_unlock(&A.lock);
      in_oom_hook = true;
      hook(ud);
      in_oom_hook = false;
      pthread_mutex_lock(&A.lock);
      b = free_take(pl, stream, size);
    }
    if (!b) {
      release_all_cached();
      b = new_segment(seg, small, stream);
    }
    if (!b) {
      oom_error(nbytes, seg);
      pthread_mutex_unlock(&A.lock);
      return NULL;
    }
  }
  /* split off the rest when it is worth keeping */
  size_t rest = b->size - size;
  if (small ? rest >= MIN_BLOCK : rest > SMALL_SIZE) {
    block *r = calloc(1, sizeof *r);
    if (r) {
      r->ptr = b->ptr + size;
      r->size = rest;
      r->stream = b->stream;
      r->small = b->small;
      r->prev = b;
      r->next = b->next;
      if (b->next) b->next->prev = r;
      b->next = r;
      b->size = size;
      free_insert(pl, r);
    }
  }
  b->allocated = true;
  b->requested = nbytes;
  live_insert(b);
  A.stats.allocated_bytes += b->size;
  A.stats.requested_bytes += nbytes;
  update_peaks();
  void *p = b->ptr;
  pthread_mutex_unlock(&A.lock);
  return p;
}

void sg_cuda_free(void *p, size_t nbytes) {
  (void)nbytes;
  if (!p) return;
  pthread_mutex_lock(&A.lock);
  block *b = live_remove(p);
  if (!b) {
    pthread_mutex_unlock(&A.lock);
    SG_ASSERT(!"sg_cuda_free: pointer not allocated by the CUDA allocator");
    return;
  }
  pool *pl = b->small ? &A.small : &A.large;
  A.stats.allocated_bytes -= b->size;
  A.stats.requested_bytes -= b->requested;
  b->allocated = false;
  b->requested = 0;
  /* merge with free neighbours of the same segment */
  block *prev = b->prev;
  if (prev && !prev->allocated) {
    free_remove(pl, prev);
    prev->size += b->size;
    prev->next = b->next;
    if (b->next) b->next->prev = prev;
    free(b);
    b = prev;
  }
  block *next = b->next;
  if (next && !next->allocated) {
    free_remove(pl, next);
    b->size += next->size;
    b->next = next->next;
    if (next->next) next->next->prev = b;
    free(next);
  }
  free_insert(pl, b);
  pthread_mutex_unlock(&A.lock);
}

void sg_cuda_empty_cache(void) {
  if (!sg_cuda_is_available()) return;
  pthread_mutex_lock(&A.lock);
  release_all_cached();
  pthread_mutex_unlock(&A.lock);
}

sg_cuda_memstats sg_cuda_memory_stats(void) {
  pthread_mutex_lock(&A.lock);
  sg_cuda_memstats s = A.stats;
  pthread_mutex_unlock(&A.lock);
  return s;
}

/* The counters every backend reports (sgen/runtime.h): live = allocated,
 * cached = reserved but not allocated. */
sg_memory_stats sg_cuda_allocator_stats(void) {
  sg_cuda_memstats c = sg_cuda_memory_stats();
  sg_memory_stats s = {c.allocated_bytes, c.reserved_bytes - c.allocated_bytes,
                       c.peak_allocated_bytes};
  return s;
}

void sg_cuda_reset_peak_stats(void) {
  pthread_mutex_lock(&A.lock);
  A.stats.peak_allocated_bytes = A.stats.allocated_bytes;
  A.stats.peak_reserved_bytes = A.stats.reserved_bytes;
  pthread_mutex_unlock(&A.lock);
}

void sg_cuda_set_oom_hook(void (*hook)(void *ud), void *ud) {
  pthread_mutex_lock(&A.lock);
  A.oom_hook = hook;
  A.oom_ud = ud;
  pthread_mutex_unlock(&A.lock);
}
