/* The host allocator (allocator_cpu.c): 64-byte aligned blocks with a cache
 * of large freed blocks. Reached only through the CPU backend's table
 * (backend_cpu.c); everything else asks sg_device_memory_stats and
 * sg_device_empty_cache (sgen/runtime.h). */
#ifndef SG_CPU_ALLOCATOR_CPU_H
#define SG_CPU_ALLOCATOR_CPU_H

#include <stddef.h>

#include "sgen/runtime.h"

void *sg_cpu_alloc(size_t nbytes);
void sg_cpu_free(void *p, size_t nbytes);
sg_memory_stats sg_cpu_memory_stats(void);
void sg_cpu_empty_cache(void);

#endif
