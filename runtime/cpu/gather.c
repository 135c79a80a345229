/* Row gather and scatter for sparse channel updates: the selected
 * output channels of a weight (or of an activation gradient, per image)
 * are moved to and from a compact [k, width] block. Each destination
 * row is written by one task, so any thread count gives the same bytes. */
#include <string.h>

#include "cpu_kernels.h"

typedef struct rows_job {
    const float *src;
    const int32_t *idx;
    float *dst;
    int64_t rows, k, width;
} rows_job;

/* Task t moves compact row t = b*k + r. */
static void gather_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const rows_job *j = ctx;
    for (int64_t t = begin; t < end; t++) {
        int64_t b = t / j->k, i = j->idx[t - b * j->k];
        float *d = j->dst + t * j->width;
        if (i >= 0 && i < j->rows)
            memcpy(d, j->src + (b * j->rows + i) * j->width, (size_t)j->width * sizeof *d);
        else
            memset(d, 0, (size_t)j->width * sizeof *d);
    }
}

static void scatter_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const rows_job *j = ctx;
    for (int64_t t = begin; t < end; t++) {
        int64_t b = t / j->k, i = j->idx[t - b * j->k];
        if (i >= 0 && i < j->rows)
            memcpy(j->dst + (b * j->rows + i) * j->width, j->src + t * j->width, (size_t)j->width * sizeof(float));
    }
}

static void run_rows(const cpu_kernel_args *a, cpu_task_fn fn)
{
    const int32_t *i = a->p->i;
    rows_job j = {a->args[0], a->args[1], a->args[2], i[1], i[2], i[3]};
    if (j.width == 0 || j.k == 0)
        return;
    int64_t per_task = 16384 / j.width;
    cpu_parallel_for(a->pool, (int64_t)i[0] * j.k, per_task > 0 ? per_task : 1, fn, &j);
}

void cpu_gather_rows(const cpu_kernel_args *a)
{
    run_rows(a, gather_range);
}

void cpu_scatter_rows(const cpu_kernel_args *a)
{
    run_rows(a, scatter_range);
}
