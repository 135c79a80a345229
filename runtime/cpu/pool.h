/* A small persistent thread pool for the CPU backend.
 *
 * cpu_parallel_for() splits [0, n) into chunks of `grain` items handed out
 * dynamically; the calling thread works too. Chunk boundaries depend only
 * on n and grain, never on the thread count, so a kernel whose chunks
 * write disjoint outputs gives the same bits with any number of threads.
 * Workers spin briefly between jobs (kernels come in quick succession
 * during a step) and then sleep. */
#ifndef VKT_CPU_POOL_H
#define VKT_CPU_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <vktrain/status.h>

typedef struct cpu_pool cpu_pool;

/* Work on items [begin, end); `thread` is in [0, threads). */
typedef void (*cpu_task_fn)(void *ctx, int64_t begin, int64_t end, int thread);

/* Per-thread scratch memory, allocated once with the pool, for kernels
 * that pack data (GEMM): no allocation happens inside a step. */
#define CPU_SCRATCH_BYTES ((size_t)2 << 20)

vkt_status cpu_pool_create(int threads, cpu_pool **out);
void cpu_pool_destroy(cpu_pool *pool);
int cpu_pool_threads(const cpu_pool *pool);
void *cpu_pool_scratch(cpu_pool *pool, int thread);
void cpu_parallel_for(cpu_pool *pool, int64_t n, int64_t grain, cpu_task_fn fn, void *ctx);

#endif
