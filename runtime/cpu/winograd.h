/* Shared by the Winograd F(2x2, 3x3) transform kernels (winograd.c,
 * portable, and winograd_avx512.c): geometry, the per-plane job, and the
 * transform formulas.
 *
 * The formulas are macros so that the portable code (on floats) and the
 * AVX-512 code (on 16-lane vectors, through GCC's vector operators) do
 * the very same operations in the same order: both paths give the same
 * bits. Each 4x4 (or 2x2) matrix product is applied rows first (to each
 * column of the tile), then columns (to each row of the result). */
#ifndef VKT_CPU_WINOGRAD_H
#define VKT_CPU_WINOGRAD_H

#include <stdint.h>

#include "cpu_kernels.h"
#include "simd.h"

typedef struct wino_geom {
    int64_t batch, C, H, W, PH, PW, OH, OW;
    int64_t TH, TW, P; /* tiles per column and row of an image; tiles in all */
} wino_geom;

/* Work on image planes [begin, end) (plane = b*C + c). src/dst: the
 * launch's input and output; bias optional (WINO_OUTPUT). */
typedef struct wino_job {
    wino_geom g;
    const float *src, *bias;
    float *dst;
    int accum;
} wino_job;

/* Offset of plane (b, c)'s first tile in a transformed tensor
 * T[16][C][P]: T[xi] of the plane's tile t is at this + xi*C*P + t. */
static inline int64_t wino_plane_tiles(const wino_geom *g, int64_t plane)
{
    return plane % g->C * g->P + plane / g->C * g->TH * g->TW;
}

/* B^T (input transform) of a, b, c, d. */
#define WINO_BT4(a, b, c, d, r0, r1, r2, r3)                                  \
    ((r0) = (a) - (c), (r1) = (b) + (c), (r2) = (c) - (b), (r3) = (b) - (d))
/* B, its transpose (input adjoint). */
#define WINO_B4(a, b, c, d, r0, r1, r2, r3)                                   \
    ((r0) = (a), (r1) = ((b) - (c)) + (d), (r2) = ((b) + (c)) - (a), (r3) = -(d))
/* A^T (output transform) of a, b, c, d. */
#define WINO_AT4(a, b, c, d, r0, r1) ((r0) = ((a) + (b)) + (c), (r1) = ((b) - (c)) - (d))
/* A, its transpose (output adjoint), of a, b. */
#define WINO_A2(a, b, r0, r1, r2, r3) ((r0) = (a), (r1) = (a) + (b), (r2) = (a) - (b), (r3) = -(b))

/* The input adjoint's sums: padded row 2 th + i (i = 0, 1) takes terms
 * from tile rows th - 1 (its row i + 2) and th (row i), padded column
 * 2 k + j from tiles k - 1 (column j + 2) and k (column j). A pixel is
 * WINO_JOIN(upper, lower), each WINO_JOIN(tile k term, tile k-1 term),
 * where a term whose tile lies outside the grid is left out. */
#define WINO_JOIN(a, has_a, b, has_b) ((has_a) && (has_b) ? (a) + (b) : (has_a) ? (a) : (b))

#if CPU_HAVE_AVX512
void wino_input_planes_avx512(void *ctx, int64_t begin, int64_t end, int thread);
void wino_input_bwd_planes_avx512(void *ctx, int64_t begin, int64_t end, int thread);
void wino_output_planes_avx512(void *ctx, int64_t begin, int64_t end, int thread);
void wino_output_bwd_planes_avx512(void *ctx, int64_t begin, int64_t end, int thread);
#endif

#endif
