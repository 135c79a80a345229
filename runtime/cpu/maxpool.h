/* Max pooling internals shared by maxpool.c (portable kernels, dispatch)
 * and maxpool_avx512.c (the 2x2 stride-2 window with AVX-512). */
#ifndef VKT_CPU_MAXPOOL_H
#define VKT_CPU_MAXPOOL_H

#include <stdint.h>

#include "pool2d.h"

/* Byte argmax value of a window wholly outside the input. */
#define ARGMAX_U8_NONE 255

typedef struct maxpool_job {
    pool_geom g;
    const float *src;   /* x (forward) or dy (backward) */
    float *dst;         /* y (forward) or dx (backward) */
    int32_t *arg32;     /* RT_ARGMAX_I32 argmax, else NULL */
    uint8_t *arg8;      /* RT_ARGMAX_U8 argmax, else NULL */
    int64_t arg8_bytes; /* bytes in the U8 argmax view */
    int accum;
    /* Backward, U8: window index -> row and column offset in the window,
     * -1 where the index names no element of the window. */
    int16_t win_h[256], win_w[256];
} maxpool_job;

/* Stores output o's winner: its index in the plane (I32) or in the
 * window (U8). */
static inline void maxpool_store_arg(const maxpool_job *j, int64_t o, int64_t flat, int64_t rel)
{
    if (j->arg8)
        j->arg8[o] = (uint8_t)rel;
    else
        j->arg32[o] = (int32_t)flat;
}

/* Backward of plane p by zero-or-keep, then adding each dy to the element
 * its argmax names, in output order; argmax values that name no element
 * (of the plane, or of the window) are skipped. */
void maxpool_scatter_plane(const maxpool_job *j, int64_t p);

/* The 2x2 stride-2 kernels of maxpool_avx512.c (call only when
 * cpu_simd_avx512()); same bits as the portable ones. The backward ones
 * need accum = 0. */
void maxpool2x2_fwd_planes_avx512(void *ctx, int64_t begin, int64_t end, int thread);
void maxpool2x2_fwd_narrow_avx512(void *ctx, int64_t begin, int64_t end, int thread);
void maxpool2x2_bwd_planes_avx512(void *ctx, int64_t begin, int64_t end, int thread);
void maxpool2x2_bwd_narrow_avx512(void *ctx, int64_t begin, int64_t end, int thread);

#endif
