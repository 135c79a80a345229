/* 2-D average pooling and global average pooling, with PyTorch
 * semantics (avg_pool2d / adaptive_avg_pool2d(1)); max pooling is in
 * maxpool.c.
 *
 * Work is split by plane (one image channel): a plane's outputs depend
 * only on its own inputs, and its backward writes only its own dx plane,
 * adding window contributions in output order, so no two threads touch
 * the same element and results do not depend on the thread count.
 *
 * A window that lies wholly outside the input (only possible when OH/OW
 * exceed PyTorch's output size) yields 0. */
#include "cpu_kernels.h"
#include "fastmath.h"
#include "pool2d.h"

typedef struct pool_job {
    pool_geom g;
    const float *src; /* x (forward) or dy (backward) */
    float *dst;       /* y (forward) or dx (backward) */
    int include_pad, accum;
} pool_job;

/* ---- average pool ---- */

static float avg_divisor(const window *w, int include_pad)
{
    return (float)(include_pad ? w->padded_size : (w->h1 - w->h0) * (w->w1 - w->w0));
}

static void avgpool_fwd_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const pool_job *j = ctx;
    const pool_geom *g = &j->g;
    for (int64_t p = begin; p < end; p++) {
        const float *x = j->src + p * g->H * g->W;
        float *y = j->dst + p * g->OH * g->OW;
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++) {
                window w = window_at(g, oh, ow);
                if (window_empty(&w)) {
                    y[oh * g->OW + ow] = 0.0f;
                    continue;
                }
                float sum = 0.0f;
                for (int64_t h = w.h0; h < w.h1; h++)
                    for (int64_t c = w.w0; c < w.w1; c++)
                        sum += x[h * g->W + c];
                y[oh * g->OW + ow] = sum / avg_divisor(&w, j->include_pad);
            }
    }
}

void cpu_avgpool_fwd(const cpu_kernel_args *a)
{
    pool_job j = {.g = pool_geom_of(a->p), .src = a->args[0], .dst = a->args[1], .include_pad = a->p->i[11]};
    if (j.g.OH * j.g.OW == 0)
        return;
    cpu_parallel_for(a->pool, j.g.planes, pool_chunk_of(j.g.OH * j.g.OW, j.g.KH * j.g.KW), avgpool_fwd_planes, &j);
}

static void avgpool_bwd_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const pool_job *j = ctx;
    const pool_geom *g = &j->g;
    for (int64_t p = begin; p < end; p++) {
        const float *dy = j->src + p * g->OH * g->OW;
        float *dx = j->dst + p * g->H * g->W;
        zero_or_keep(dx, g->H * g->W, j->accum);
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++) {
                window w = window_at(g, oh, ow);
                if (window_empty(&w))
                    continue;
                float share = dy[oh * g->OW + ow] / avg_divisor(&w, j->include_pad);
                for (int64_t h = w.h0; h < w.h1; h++)
                    for (int64_t c = w.w0; c < w.w1; c++)
                        dx[h * g->W + c] += share;
            }
    }
}

void cpu_avgpool_bwd(const cpu_kernel_args *a)
{
    pool_job j = {.g = pool_geom_of(a->p), .src = a->args[0], .dst = a->args[1], .include_pad = a->p->i[11],
                  .accum = a->p->i[12]};
    if (j.g.OH * j.g.OW == 0) {
        zero_or_keep(j.dst, j.g.planes * j.g.H * j.g.W, j.accum);
        return;
    }
    cpu_parallel_for(a->pool, j.g.planes, pool_chunk_of(j.g.OH * j.g.OW, j.g.KH * j.g.KW), avgpool_bwd_planes, &j);
}

/* ---- global average pool ---- */

typedef struct gap_job {
    const float *src;
    float *dst;
    int64_t hw;
    int accum;
} gap_job;


static void gap_fwd_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const gap_job *j = ctx;
    for (int64_t p = begin; p < end; p++)
        j->dst[p] = (float)(cpu_sum_f64(j->src + p * j->hw, j->hw) / (double)j->hw);
}

void cpu_gap_fwd(const cpu_kernel_args *a)
{
    gap_job j = {a->args[0], a->args[1], a->p->i[1], 0};
    cpu_parallel_for(a->pool, a->p->i[0], pool_chunk_of(j.hw, 1), gap_fwd_planes, &j);
}

static void gap_bwd_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const gap_job *j = ctx;
    for (int64_t p = begin; p < end; p++) {
        float share = j->src[p] / (float)j->hw;
        float *restrict dx = j->dst + p * j->hw;
        if (j->accum)
            for (int64_t k = 0; k < j->hw; k++)
                dx[k] += share;
        else
            for (int64_t k = 0; k < j->hw; k++)
                dx[k] = share;
    }
}

void cpu_gap_bwd(const cpu_kernel_args *a)
{
    gap_job j = {a->args[0], a->args[1], a->p->i[1], a->p->i[2]};
    cpu_parallel_for(a->pool, a->p->i[0], pool_chunk_of(j.hw, 1), gap_bwd_planes, &j);
}
