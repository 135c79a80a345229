/* The CPU thread pool (runtime/cpu/pool.c): every item of every job runs
 * exactly once, on a valid thread index, and nothing of a job runs after
 * cpu_parallel_for returns, including for long runs of tiny jobs, where
 * workers often arrive after the caller has done every chunk itself. */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "test_util.h"
#include "runtime/cpu/pool.h"

#define ITEMS 64

typedef struct job {
    int threads;
    int32_t id;                 /* this job's number */
    _Atomic int32_t seen[ITEMS]; /* id of the last job that ran item i */
    atomic_int runs[ITEMS];     /* times item i ran in this job */
    atomic_int bad_thread;
} job;

static void run_items(void *ctx, int64_t begin, int64_t end, int thread)
{
    job *j = ctx;
    if (thread < 0 || thread >= j->threads)
        atomic_store(&j->bad_thread, 1);
    for (int64_t i = begin; i < end; i++) {
        atomic_store(&j->seen[i], j->id);
        atomic_fetch_add(&j->runs[i], 1);
    }
}

static void run_jobs(int threads, int count)
{
    cpu_pool *pool;
    assert_int_equal(cpu_pool_create(threads, &pool), 0);
    static job j;
    memset(&j, 0, sizeof j);
    j.threads = threads;
    for (int k = 1; k <= count; k++) {
        int64_t n = 1 + k % ITEMS, grain = 1 + k % 3;
        for (int64_t i = 0; i < n; i++)
            atomic_store(&j.runs[i], 0);
        j.id = k;
        cpu_parallel_for(pool, n, grain, run_items, &j);
        for (int64_t i = 0; i < n; i++) {
            if (atomic_load(&j.runs[i]) != 1)
                fail_msg("%d threads, job %d: item %lld ran %d times", threads, k, (long long)i,
                         atomic_load(&j.runs[i]));
            if (atomic_load(&j.seen[i]) != k)
                fail_msg("%d threads, job %d: item %lld last run by job %d", threads, k, (long long)i,
                         atomic_load(&j.seen[i]));
        }
        for (int64_t i = n; i < ITEMS; i++) /* items of no job: untouched since */
            if (atomic_load(&j.seen[i]) > k)
                fail_msg("%d threads: item %lld ran for a future job", threads, (long long)i);
    }
    assert_int_equal(atomic_load(&j.bad_thread), 0);
    cpu_pool_destroy(pool);
}

static void test_items_run_once(void **state)
{
    (void)state;
    for (int t = 1; t <= 4; t++)
        run_jobs(t, 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items_run_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
