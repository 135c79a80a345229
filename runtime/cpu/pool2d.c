/* 2-D max and average pooling and global average pooling, with PyTorch
 * semantics (max_pool2d / avg_pool2d / adaptive_avg_pool2d(1)).
 *
 * Work is split by plane (one image channel): a plane's outputs depend
 * only on its own inputs, and its backward writes only its own dx plane,
 * adding window contributions in output order, so no two threads touch
 * the same element and results do not depend on the thread count.
 *
 * A window that lies wholly outside the input (only possible when OH/OW
 * exceed PyTorch's output size) yields 0, and for max pooling argmax -1,
 * which backward skips. Backward also skips any argmax outside the plane:
 * the launch validator cannot see buffer contents. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "cpu_kernels.h"

/* Roughly how many elements one parallel chunk should touch. */
#define CHUNK_ELEMS 32768
#define SUM_LANES 8

typedef struct pool_geom {
    int64_t planes, H, W, KH, KW, SH, SW, PH, PW, OH, OW;
} pool_geom;

static pool_geom geom_of(const rt_params *p)
{
    const int32_t *i = p->i;
    return (pool_geom){i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], i[8], i[9], i[10]};
}

/* Items per chunk when an item touches about a*b elements; divides
 * twice rather than multiplying, which could overflow for absurd (but
 * valid) window sizes. */
static int64_t chunk_of(int64_t a, int64_t b)
{
    int64_t g = CHUNK_ELEMS / (a > 0 ? a : 1) / (b > 0 ? b : 1);
    return g > 0 ? g : 1;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* One pooling window: rows [h0, h1), columns [w0, w1) of the input, and
 * PyTorch's count_include_pad divisor (the window clipped to the padded
 * input rather than to the input). */
typedef struct window {
    int64_t h0, h1, w0, w1, padded_size;
} window;

static window window_at(const pool_geom *g, int64_t oh, int64_t ow)
{
    int64_t hs = oh * g->SH - g->PH, ws = ow * g->SW - g->PW;
    int64_t he = min64(hs + g->KH, g->H + g->PH), we = min64(ws + g->KW, g->W + g->PW);
    window w = {max64(hs, 0), min64(he, g->H), max64(ws, 0), min64(we, g->W), (he - hs) * (we - ws)};
    return w;
}

static bool window_empty(const window *w)
{
    return w->h0 >= w->h1 || w->w0 >= w->w1;
}

typedef struct pool_job {
    pool_geom g;
    const float *src;  /* x (forward) or dy (backward) */
    const int32_t *argmax;
    float *dst;        /* y (forward) or dx (backward) */
    int32_t *argmax_out;
    int include_pad, accum;
} pool_job;

static void zero_or_keep(float *plane, int64_t n, int accum)
{
    if (!accum)
        memset(plane, 0, (size_t)n * sizeof *plane);
}

/* ---- max pool ---- */

static void maxpool_fwd_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const pool_job *j = ctx;
    const pool_geom *g = &j->g;
    for (int64_t p = begin; p < end; p++) {
        const float *x = j->src + p * g->H * g->W;
        float *y = j->dst + p * g->OH * g->OW;
        int32_t *arg = j->argmax_out + p * g->OH * g->OW;
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++) {
                window w = window_at(g, oh, ow);
                float best = window_empty(&w) ? 0.0f : -INFINITY;
                int64_t best_at = window_empty(&w) ? -1 : w.h0 * g->W + w.w0;
                for (int64_t h = w.h0; h < w.h1; h++)
                    for (int64_t c = w.w0; c < w.w1; c++) {
                        /* as torch: the first max wins, a NaN wins; branch-free
                         * since window contents are unpredictable */
                        float v = x[h * g->W + c];
                        int take = (v > best) | isnan(v);
                        best = take ? v : best;
                        best_at = take ? h * g->W + c : best_at;
                    }
                y[oh * g->OW + ow] = best;
                arg[oh * g->OW + ow] = (int32_t)best_at;
            }
    }
}

/* The 2x2, stride 2, unpadded window of most CNNs: every window lies
 * inside the plane, so no clamping, and the four candidates are compared
 * in torch's order (row-major, first max wins, NaN wins). */
static void maxpool2x2_fwd_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const pool_job *j = ctx;
    const pool_geom *g = &j->g;
    for (int64_t p = begin; p < end; p++) {
        const float *x = j->src + p * g->H * g->W;
        float *y = j->dst + p * g->OH * g->OW;
        int32_t *arg = j->argmax_out + p * g->OH * g->OW;
        for (int64_t oh = 0; oh < g->OH; oh++) {
            const float *r0 = x + 2 * oh * g->W, *r1 = r0 + g->W;
            int32_t base = (int32_t)(2 * oh * g->W);
            for (int64_t ow = 0; ow < g->OW; ow++) {
                float v0 = r0[2 * ow], v1 = r0[2 * ow + 1], v2 = r1[2 * ow], v3 = r1[2 * ow + 1];
                float best = v0;
                int32_t at = base + (int32_t)(2 * ow);
                int take = (v1 > best) | (v1 != v1);
                best = take ? v1 : best, at = take ? base + (int32_t)(2 * ow + 1) : at;
                take = ((v2 > best) | (v2 != v2));
                best = take ? v2 : best, at = take ? base + (int32_t)(g->W + 2 * ow) : at;
                take = ((v3 > best) | (v3 != v3));
                best = take ? v3 : best, at = take ? base + (int32_t)(g->W + 2 * ow + 1) : at;
                y[oh * g->OW + ow] = best;
                arg[oh * g->OW + ow] = at;
            }
        }
    }
}

void cpu_maxpool_fwd(const cpu_kernel_args *a)
{
    pool_job j = {.g = geom_of(a->p), .src = a->args[0], .dst = a->args[1], .argmax_out = a->args[2]};
    if (j.g.OH * j.g.OW == 0)
        return;
    bool is_2x2 = j.g.KH == 2 && j.g.KW == 2 && j.g.SH == 2 && j.g.SW == 2 && j.g.PH == 0 && j.g.PW == 0 &&
                  2 * j.g.OH <= j.g.H && 2 * j.g.OW <= j.g.W;
    cpu_parallel_for(a->pool, j.g.planes, chunk_of(j.g.OH * j.g.OW, j.g.KH * j.g.KW),
                     is_2x2 ? maxpool2x2_fwd_planes : maxpool_fwd_planes, &j);
}

static void maxpool_bwd_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const pool_job *j = ctx;
    const pool_geom *g = &j->g;
    int64_t hw = g->H * g->W, ohw = g->OH * g->OW;
    for (int64_t p = begin; p < end; p++) {
        const float *dy = j->src + p * ohw;
        const int32_t *arg = j->argmax + p * ohw;
        float *dx = j->dst + p * hw;
        zero_or_keep(dx, hw, j->accum);
        for (int64_t o = 0; o < ohw; o++)
            if (arg[o] >= 0 && arg[o] < hw)
                dx[arg[o]] += dy[o];
    }
}

void cpu_maxpool_bwd(const cpu_kernel_args *a)
{
    pool_job j = {.g = geom_of(a->p), .src = a->args[0], .argmax = a->args[1], .dst = a->args[2],
                  .accum = a->p->i[11]};
    if (j.g.OH * j.g.OW == 0) { /* no outputs: dx (+)= 0 */
        zero_or_keep(j.dst, j.g.planes * j.g.H * j.g.W, j.accum);
        return;
    }
    cpu_parallel_for(a->pool, j.g.planes, chunk_of(j.g.H * j.g.W + j.g.OH * j.g.OW, 1), maxpool_bwd_planes, &j);
}

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
    pool_job j = {.g = geom_of(a->p), .src = a->args[0], .dst = a->args[1], .include_pad = a->p->i[11]};
    if (j.g.OH * j.g.OW == 0)
        return;
    cpu_parallel_for(a->pool, j.g.planes, chunk_of(j.g.OH * j.g.OW, j.g.KH * j.g.KW), avgpool_fwd_planes, &j);
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
    pool_job j = {.g = geom_of(a->p), .src = a->args[0], .dst = a->args[1], .include_pad = a->p->i[11],
                  .accum = a->p->i[12]};
    if (j.g.OH * j.g.OW == 0) {
        zero_or_keep(j.dst, j.g.planes * j.g.H * j.g.W, j.accum);
        return;
    }
    cpu_parallel_for(a->pool, j.g.planes, chunk_of(j.g.OH * j.g.OW, j.g.KH * j.g.KW), avgpool_bwd_planes, &j);
}

/* ---- global average pool ---- */

typedef struct gap_job {
    const float *src;
    float *dst;
    int64_t hw;
    int accum;
} gap_job;

/* Sum of a contiguous run in double, lanes combined in a fixed order. */
static double sum_run(const float *restrict x, int64_t n)
{
    double lane[SUM_LANES] = {0};
    int64_t i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int k = 0; k < SUM_LANES; k++)
            lane[k] += x[i + k];
    double s = 0;
    for (; i < n; i++)
        s += x[i];
    for (int k = 0; k < SUM_LANES; k++)
        s += lane[k];
    return s;
}

static void gap_fwd_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const gap_job *j = ctx;
    for (int64_t p = begin; p < end; p++)
        j->dst[p] = (float)(sum_run(j->src + p * j->hw, j->hw) / (double)j->hw);
}

void cpu_gap_fwd(const cpu_kernel_args *a)
{
    gap_job j = {a->args[0], a->args[1], a->p->i[1], 0};
    cpu_parallel_for(a->pool, a->p->i[0], chunk_of(j.hw, 1), gap_fwd_planes, &j);
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
    cpu_parallel_for(a->pool, a->p->i[0], chunk_of(j.hw, 1), gap_bwd_planes, &j);
}
