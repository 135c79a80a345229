#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "../rt_error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* Spins before a worker sleeps: long enough to bridge the gap between two
 * kernels of a step, short enough not to burn a core when idle. */
#define SPIN_ROUNDS 20000
/* Spins of the calling thread waiting for workers to leave a job before
 * it yields its core to them (they may share it on a busy machine). */
#define JOIN_SPINS 2000

/* The job word: generation in the high 32 bits, then the open flag (new
 * workers may join), then the count of workers inside. A worker joins
 * only the job it saw published and only while it is open, so the
 * caller never waits for a worker that has not started: on a machine
 * with more runnable threads than cores, a worker that gets no core
 * until the caller has done every chunk itself costs nothing. */
#define JOB_OPEN ((uint64_t)1 << 31)
#define JOB_COUNT ((uint64_t)JOB_OPEN - 1)
#define JOB_GEN(s) ((uint32_t)((s) >> 32))

typedef struct worker_arg {
    cpu_pool *pool;
    int index;
} worker_arg;

struct cpu_pool {
    int threads;
    pthread_t *handles;
    worker_arg *args;
    void **scratch;

    pthread_mutex_t mutex;
    pthread_cond_t wake;
    _Atomic uint64_t job; /* generation, open flag, workers inside */
    atomic_bool stop;

    /* The current job. */
    cpu_task_fn fn;
    void *ctx;
    int64_t n, grain;
    atomic_llong next;
};

static void run_chunks(cpu_pool *p, int thread)
{
    for (;;) {
        int64_t begin = atomic_fetch_add_explicit(&p->next, p->grain, memory_order_relaxed);
        if (begin >= p->n)
            break;
        int64_t end = begin + p->grain < p->n ? begin + p->grain : p->n;
        p->fn(p->ctx, begin, end, thread);
    }
}

/* Enters job `gen` if it is still the open job; true if entered. */
static bool join_job(cpu_pool *p, uint32_t gen)
{
    uint64_t s = atomic_load_explicit(&p->job, memory_order_relaxed);
    while (JOB_GEN(s) == gen && (s & JOB_OPEN))
        if (atomic_compare_exchange_weak_explicit(&p->job, &s, s + 1, memory_order_acquire, memory_order_relaxed))
            return true;
    return false;
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    cpu_pool *p = wa->pool;
    uint32_t seen = 0; /* the generation at creation: no job can be missed */
    for (;;) {
        uint32_t gen;
        int spins = 0;
        while ((gen = JOB_GEN(atomic_load_explicit(&p->job, memory_order_relaxed))) == seen &&
               !atomic_load(&p->stop)) {
            if (++spins < SPIN_ROUNDS) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&p->mutex);
            while (JOB_GEN(atomic_load(&p->job)) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->wake, &p->mutex);
            pthread_mutex_unlock(&p->mutex);
        }
        if (atomic_load(&p->stop))
            return NULL;
        seen = gen;
        if (!join_job(p, gen))
            continue; /* the caller already finished it */
        run_chunks(p, wa->index);
        atomic_fetch_sub_explicit(&p->job, 1, memory_order_release);
    }
}

vkt_status cpu_pool_create(int threads, cpu_pool **out)
{
    *out = NULL;
    if (threads < 1 || threads > 256)
        return rt_error(VKT_ERR_INVALID_ARG, "thread count %d out of range 1..256", threads);
    cpu_pool *p = calloc(1, sizeof *p);
    if (!p)
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory creating thread pool");
    p->threads = threads;
    p->handles = calloc((size_t)threads, sizeof *p->handles);
    p->args = calloc((size_t)threads, sizeof *p->args);
    p->scratch = calloc((size_t)threads, sizeof *p->scratch);
    if (!p->handles || !p->args || !p->scratch)
        goto oom;
    for (int t = 0; t < threads; t++) {
        p->scratch[t] = aligned_alloc(64, CPU_SCRATCH_BYTES);
        if (!p->scratch[t])
            goto oom;
    }
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    atomic_init(&p->job, 0);
    atomic_init(&p->stop, false);
    atomic_init(&p->next, 0);
    for (int t = 1; t < threads; t++) {
        p->args[t] = (worker_arg){p, t};
        if (pthread_create(&p->handles[t], NULL, worker_main, &p->args[t]) != 0) {
            p->threads = t; /* join only the ones started */
            cpu_pool_destroy(p);
            return rt_error(VKT_ERR_NO_MEMORY, "cannot start worker thread %d", t);
        }
    }
    *out = p;
    return VKT_OK;
oom:
    if (p->scratch)
        for (int t = 0; t < threads; t++)
            free(p->scratch[t]);
    free(p->scratch);
    free(p->handles);
    free(p->args);
    free(p);
    return rt_error(VKT_ERR_NO_MEMORY, "out of memory creating thread pool");
}

void cpu_pool_destroy(cpu_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mutex);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    for (int t = 1; t < p->threads; t++)
        pthread_join(p->handles[t], NULL);
    pthread_mutex_destroy(&p->mutex);
    pthread_cond_destroy(&p->wake);
    for (int t = 0; t < p->threads; t++)
        free(p->scratch[t]);
    free(p->scratch);
    free(p->handles);
    free(p->args);
    free(p);
}

int cpu_pool_threads(const cpu_pool *p)
{
    return p->threads;
}

void *cpu_pool_scratch(cpu_pool *p, int thread)
{
    return p->scratch[thread];
}

void cpu_parallel_for(cpu_pool *p, int64_t n, int64_t grain, cpu_task_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (grain < 1)
        grain = 1;
    if (p->threads == 1 || n <= grain) {
        for (int64_t b = 0; b < n; b += grain)
            fn(ctx, b, b + grain < n ? b + grain : n, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->grain = grain;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    /* Publish: a new generation, open, nobody inside (the previous job
     * was closed and empty when its call returned). */
    uint32_t gen = JOB_GEN(atomic_load_explicit(&p->job, memory_order_relaxed)) + 1;
    pthread_mutex_lock(&p->mutex);
    atomic_store_explicit(&p->job, (uint64_t)gen << 32 | JOB_OPEN, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    run_chunks(p, 0);
    /* Every chunk is taken: close the job, wait for those inside. */
    atomic_fetch_and_explicit(&p->job, ~(uint64_t)JOB_OPEN, memory_order_relaxed);
    for (int spins = 0; atomic_load_explicit(&p->job, memory_order_acquire) & JOB_COUNT; spins++) {
        if (spins < JOIN_SPINS)
            cpu_relax();
        else
            sched_yield();
    }
}
