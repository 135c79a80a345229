/* Embedding lookup (torch.nn.Embedding) and its gradient.
 *
 * Forward gathers rows of W; an index outside [0, num) gives a zero row
 * (the host checks indices beforehand; this only keeps a bad one from
 * reading out of bounds). Backward scatter-adds dy rows into dW in row
 * order. Repeated indices make rows collide, so the work is split by
 * column block instead of by row: every dW element is then summed by a
 * single thread in row order, whatever the thread count. */
#include <string.h>

#include "cpu_kernels.h"

/* Roughly how many elements one parallel chunk should touch. */
#define CHUNK_ELEMS 32768
/* Columns of dW one backward task owns. */
#define COL_BLOCK 64

static int64_t chunk_of(int64_t elems_per_item)
{
    int64_t g = CHUNK_ELEMS / (elems_per_item > 0 ? elems_per_item : 1);
    return g > 0 ? g : 1;
}

typedef struct embed_job {
    const int32_t *idx;
    const float *src; /* W (forward) or dy (backward) */
    float *dst;       /* y (forward) or dW (backward) */
    int64_t rows, num, dim;
} embed_job;

static void embed_fwd_rows(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const embed_job *j = ctx;
    for (int64_t r = begin; r < end; r++) {
        int64_t i = j->idx[r];
        float *y = j->dst + r * j->dim;
        if (i >= 0 && i < j->num)
            memcpy(y, j->src + i * j->dim, (size_t)j->dim * sizeof *y);
        else
            memset(y, 0, (size_t)j->dim * sizeof *y);
    }
}

void cpu_embed_fwd(const cpu_kernel_args *a)
{
    embed_job j = {a->args[0], a->args[1], a->args[2], a->p->i[0], a->p->i[1], a->p->i[2]};
    if (j.dim == 0)
        return;
    cpu_parallel_for(a->pool, j.rows, chunk_of(j.dim), embed_fwd_rows, &j);
}

static void zero_rows(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const embed_job *j = ctx;
    memset(j->dst + begin * j->dim, 0, (size_t)((end - begin) * j->dim) * sizeof *j->dst);
}

static void embed_bwd_blocks(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const embed_job *j = ctx;
    int64_t d0 = begin * COL_BLOCK;
    int64_t d1 = end * COL_BLOCK < j->dim ? end * COL_BLOCK : j->dim;
    for (int64_t r = 0; r < j->rows; r++) {
        int64_t i = j->idx[r];
        if (i < 0 || i >= j->num)
            continue;
        const float *restrict g = j->src + r * j->dim;
        float *restrict w = j->dst + i * j->dim;
        for (int64_t d = d0; d < d1; d++)
            w[d] += g[d];
    }
}

void cpu_embed_bwd(const cpu_kernel_args *a)
{
    embed_job j = {a->args[0], a->args[1], a->args[2], a->p->i[0], a->p->i[1], a->p->i[2]};
    if (j.dim == 0 || j.num == 0)
        return;
    if (!a->p->i[3])
        cpu_parallel_for(a->pool, j.num, chunk_of(j.dim), zero_rows, &j);
    int64_t blocks = (j.dim + COL_BLOCK - 1) / COL_BLOCK;
    cpu_parallel_for(a->pool, blocks, chunk_of(j.rows * COL_BLOCK), embed_bwd_blocks, &j);
}
