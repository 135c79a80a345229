/* Pooling geometry shared by the max pool (maxpool*.c) and average pool
 * (pool2d.c) kernels: the launch's shape, chunk sizes, and the input
 * rows and columns each output window covers. */
#ifndef VKT_CPU_POOL2D_H
#define VKT_CPU_POOL2D_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../kernels.h"

/* Roughly how many elements one parallel chunk should touch. */
#define POOL_CHUNK_ELEMS 32768

typedef struct pool_geom {
    int64_t planes, H, W, KH, KW, SH, SW, PH, PW, OH, OW;
} pool_geom;

static inline pool_geom pool_geom_of(const rt_params *p)
{
    const int32_t *i = p->i;
    return (pool_geom){i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], i[8], i[9], i[10]};
}

/* Items per chunk when an item touches about a*b elements; divides
 * twice rather than multiplying, which could overflow for absurd (but
 * valid) window sizes. */
static inline int64_t pool_chunk_of(int64_t a, int64_t b)
{
    int64_t g = POOL_CHUNK_ELEMS / (a > 0 ? a : 1) / (b > 0 ? b : 1);
    return g > 0 ? g : 1;
}

static inline int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static inline int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* One pooling window: rows [h0, h1), columns [w0, w1) of the input, its
 * padded origin (hs, ws), and PyTorch's count_include_pad divisor (the
 * window clipped to the padded input rather than to the input). */
typedef struct window {
    int64_t h0, h1, w0, w1, hs, ws, padded_size;
} window;

static inline window window_at(const pool_geom *g, int64_t oh, int64_t ow)
{
    int64_t hs = oh * g->SH - g->PH, ws = ow * g->SW - g->PW;
    int64_t he = min64(hs + g->KH, g->H + g->PH), we = min64(ws + g->KW, g->W + g->PW);
    window w = {max64(hs, 0), min64(he, g->H), max64(ws, 0), min64(we, g->W), hs, ws, (he - hs) * (we - ws)};
    return w;
}

static inline bool window_empty(const window *w)
{
    return w->h0 >= w->h1 || w->w0 >= w->w1;
}

static inline void zero_or_keep(float *plane, int64_t n, int accum)
{
    if (!accum)
        memset(plane, 0, (size_t)n * sizeof *plane);
}

#endif
