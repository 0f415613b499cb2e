/* Host memory with a cache of large blocks.
 *
 * glibc serves blocks above 32 MB with a fresh mmap and returns them with
 * munmap, so every large temporary (a 64 MB activation, say) is page-faulted
 * in again on first touch: c = a + b on 16M floats ran at a third of the
 * memory bandwidth. Freed blocks of 256 KB and more are kept, by size class,
 * and handed out again; the cache is bounded and sg_cpu_empty_cache() drops
 * it. Together with the RNG this is the engine's only global mutable state,
 * guarded by a mutex. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "cpu/allocator_cpu.h"

#define CACHE_MIN_BYTES ((size_t)256 << 10)
#define CACHE_SLOTS 128
#define CACHE_LIMIT_DEFAULT ((size_t)4 << 30)

typedef struct cached_block {
  void *ptr;
  size_t size;
} cached_block;

static struct {
  pthread_mutex_t lock;
  cached_block blocks[CACHE_SLOTS];
  int n;
  size_t cached_bytes;
  size_t live_bytes;
  size_t peak_bytes;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Size classes: 4 steps per power of two (at most 25 % rounding waste). */
static size_t size_class(size_t n) {
  if (n < CACHE_MIN_BYTES) return (n + 63) & ~(size_t)63;
  size_t p = (size_t)1 << (63 - __builtin_clzll((unsigned long long)n));
  size_t step = p / 4;
  return (n + step - 1) / step * step;
}

void *sg_cpu_alloc(size_t nbytes) {
  size_t size = size_class(nbytes);
  if (size >= CACHE_MIN_BYTES) {
    pthread_mutex_lock(&cache.lock);
    for (int i = 0; i < cache.n; i++) {
      if (cache.blocks[i].size != size) continue;
      void *p = cache.blocks[i].ptr;
      cache.blocks[i] = cache.blocks[--cache.n];
      cache.cached_bytes -= size;
      cache.live_bytes += size;
      if (cache.live_bytes > cache.peak_bytes) cache.peak_bytes = cache.live_bytes;
      pthread_mutex_unlock(&cache.lock);
      return p;
    }
    pthread_mutex_unlock(&cache.lock);
  }
  void *p = aligned_alloc(64, size);
  if (!p) {
    sg_cpu_empty_cache();
    p = aligned_alloc(64, size);
  }
  if (p) {
    pthread_mutex_lock(&cache.lock);
    cache.live_bytes += size;
    if (cache.live_bytes > cache.peak_bytes) cache.peak_bytes = cache.live_bytes;
    pthread_mutex_unlock(&cache.lock);
  }
  return p;
}

void sg_cpu_free(void *p, size_t nbytes) {
  if (!p) return;
  size_t size = size_class(nbytes);
  pthread_mutex_lock(&cache.lock);
  cache.live_bytes -= size;
  if (size >= CACHE_MIN_BYTES && cache.n < CACHE_SLOTS &&
      cache.cached_bytes + size <= CACHE_LIMIT_DEFAULT) {
    cache.blocks[cache.n++] = (cached_block){p, size};
    cache.cached_bytes += size;
    p = NULL;
  }
  pthread_mutex_unlock(&cache.lock);
  free(p);
}

void sg_cpu_empty_cache(void) {
  pthread_mutex_lock(&cache.lock);
  for (int i = 0; i < cache.n; i++) free(cache.blocks[i].ptr);
  cache.n = 0;
  cache.cached_bytes = 0;
  pthread_mutex_unlock(&cache.lock);
}

sg_memory_stats sg_cpu_memory_stats(void) {
  pthread_mutex_lock(&cache.lock);
  sg_memory_stats s = {cache.live_bytes, cache.cached_bytes, cache.peak_bytes};
  pthread_mutex_unlock(&cache.lock);
  return s;
}
