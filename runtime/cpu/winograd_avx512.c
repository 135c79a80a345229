/* AVX-512 versions of the Winograd transforms (see winograd.c): one tile
 * row of a plane at a time, 16 tiles to a vector (15 where a transform
 * needs the neighbouring tile too), lane t holding tile tw0 + t. The
 * image side is read or written as whole rows with masked loads and
 * stores (padding and ragged ends are masked-off lanes), and split into
 * or merged from even and odd columns with two-source permutes. The
 * arithmetic is winograd.h's formulas on vectors, so every lane computes
 * what the portable code computes for its tile, bit for bit.
 *
 * Masked stores are slow on some cores (on AMD Zen 4 the output adjoint
 * took twice as long with them), so rows of the transformed tensor are
 * stored whole where the lanes past the row's end land on tiles this
 * task writes later anyway: tasks take planes channel by channel (q = c *
 * batch + b), whose tile runs follow each other in every position row
 * (plane q's at q * TH * TW), and only stores that would reach past the
 * task's last plane are masked. */
#include "winograd.h"

#if CPU_HAVE_AVX512

#include <stdbool.h>

#define A512 CPU_TARGET_AVX512

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Lanes l with 0 <= first + l < len of row[first + l], the others 0.
 * Masked-off lanes are not read, so the address may lie outside the row
 * (it is formed as an integer). */
A512 static inline __m512 load_window(const float *row, int64_t first, int64_t len)
{
    __mmask16 m = lanes16(-first, len - first);
    uintptr_t at = (uintptr_t)row + (uintptr_t)first * sizeof(float);
    return _mm512_maskz_loadu_ps(m, (const void *)at);
}

A512 static inline __m512i index16(int start, int step)
{
    int32_t v[16];
    for (int l = 0; l < 16; l++) {
        int x = start + step * l;
        v[l] = x < 32 ? x : 31; /* lanes past the end: any valid index */
    }
    return _mm512_loadu_si512(v);
}

/* Interleaving permutes: lanes 0..7 (lo) or 8..15 (hi) of a and b as
 * a0 b0 a1 b1 ... */
A512 static inline __m512i interleave_index(int half)
{
    int32_t v[16];
    for (int l = 0; l < 16; l++)
        v[l] = (l % 2 ? 16 : 0) + 8 * half + l / 2;
    return _mm512_loadu_si512(v);
}

/* x shifted down one lane: lane l = x[l + 1] (lane 15 wraps; unused). */
A512 static inline __m512 next_lane(__m512 x)
{
    __m512i i = _mm512_castps_si512(x);
    return _mm512_castsi512_ps(_mm512_alignr_epi32(i, i, 1));
}

/* Plane q of a task's channel-major order: its image plane b*C + c. */
static inline int64_t image_plane(const wino_geom *g, int64_t q)
{
    return q % g->batch * g->C + q / g->batch;
}

/* A store of a chunk's tiles: the whole vector, or (masked) only its
 * valid lanes. The callers keep masked stores out of line: inlined next
 * to the whole one, GCC merges "whole ? store : masked store" into one
 * masked store with a chosen mask, the slow instruction. */
#define STORE(masked, dst, valid, v)                                          \
    ((masked) ? _mm512_mask_storeu_ps((dst), (valid), (v)) : _mm512_storeu_ps((dst), (v)))
#define INLINE inline __attribute__((always_inline))

/* ---- input: V = B^T d B ---- */

/* Tiles [tw0, tw0 + 15) of tile row th (those below TW) of image plane
 * x, into v (the chunk's first tile in position row 0). */
A512 static INLINE void input_chunk(const wino_geom *g, const float *x, float *v, int64_t th, int64_t tw0,
                                    bool masked)
{
    const int64_t xs = g->C * g->P;
    const __m512i even = index16(0, 2), odd = index16(1, 2), even1 = index16(2, 2), odd1 = index16(3, 2);
    __mmask16 mn = lanes16(0, min64(15, g->TW - tw0));
    int64_t first = 2 * tw0 - g->PW; /* image column of lane 0 of lo */
    __m512 lo[4], hi[4], tl[4], tr[4];
    for (int r = 0; r < 4; r++) {
        int64_t ih = 2 * th - g->PH + r;
        bool in = ih >= 0 && ih < g->H;
        lo[r] = in ? load_window(x + ih * g->W, first, g->W) : _mm512_setzero_ps();
        hi[r] = in ? load_window(x + ih * g->W, first + 16, g->W) : _mm512_setzero_ps();
    }
    WINO_BT4(lo[0], lo[1], lo[2], lo[3], tl[0], tl[1], tl[2], tl[3]);
    WINO_BT4(hi[0], hi[1], hi[2], hi[3], tr[0], tr[1], tr[2], tr[3]);
    for (int i = 0; i < 4; i++) {
        /* tile columns 0..3: columns 2t, 2t+1, 2t+2, 2t+3 */
        __m512 c0 = _mm512_permutex2var_ps(tl[i], even, tr[i]);
        __m512 c1 = _mm512_permutex2var_ps(tl[i], odd, tr[i]);
        __m512 c2 = _mm512_permutex2var_ps(tl[i], even1, tr[i]);
        __m512 c3 = _mm512_permutex2var_ps(tl[i], odd1, tr[i]);
        __m512 o0, o1, o2, o3;
        WINO_BT4(c0, c1, c2, c3, o0, o1, o2, o3);
        STORE(masked, v + (4 * i) * xs, mn, o0);
        STORE(masked, v + (4 * i + 1) * xs, mn, o1);
        STORE(masked, v + (4 * i + 2) * xs, mn, o2);
        STORE(masked, v + (4 * i + 3) * xs, mn, o3);
    }
}

A512 __attribute__((noinline)) static void input_chunk_masked(const wino_geom *g, const float *x, float *v,
                                                              int64_t th, int64_t tw0)
{
    input_chunk(g, x, v, th, tw0, true);
}

A512 void wino_input_planes_avx512(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const wino_job *j = ctx;
    const wino_geom *g = &j->g;
    const int64_t tiles = g->TH * g->TW;
    for (int64_t q = begin; q < end; q++) {
        int64_t pl = image_plane(g, q);
        const float *x = j->src + pl * g->H * g->W;
        float *v0 = j->dst + wino_plane_tiles(g, pl);
        for (int64_t th = 0; th < g->TH; th++)
            for (int64_t tw0 = 0; tw0 < g->TW; tw0 += 15) {
                float *v = v0 + th * g->TW + tw0;
                if ((q - end) * tiles + th * g->TW + tw0 + 16 <= 0)
                    input_chunk(g, x, v, th, tw0, false);
                else
                    input_chunk_masked(g, x, v, th, tw0);
            }
    }
}

/* ---- output: y = A^T M A (+ bias) ---- */

A512 __attribute__((noinline)) static void store_masked(float *dst, __m512 v, __mmask16 valid)
{
    _mm512_mask_storeu_ps(dst, valid, v);
}

A512 void wino_output_planes_avx512(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const wino_job *j = ctx;
    const wino_geom *g = &j->g;
    const int64_t xs = g->C * g->P;
    const __m512i mix_lo = interleave_index(0), mix_hi = interleave_index(1);
    for (int64_t q = begin; q < end; q++) {
        int64_t pl = image_plane(g, q);
        const float *m0 = j->src + wino_plane_tiles(g, pl);
        float *y = j->dst + pl * g->OH * g->OW;
        for (int64_t th = 0; th < g->TH; th++)
            for (int64_t tw0 = 0; tw0 < g->TW; tw0 += 16) {
                __mmask16 mn = lanes16(0, g->TW - tw0);
                const float *mt = m0 + th * g->TW + tw0;
                __m512 m[16], r0[4], r1[4], o[2][2];
                for (int xi = 0; xi < 16; xi++)
                    m[xi] = _mm512_maskz_loadu_ps(mn, mt + xi * xs);
                for (int q4 = 0; q4 < 4; q4++)
                    WINO_AT4(m[q4], m[4 + q4], m[8 + q4], m[12 + q4], r0[q4], r1[q4]);
                WINO_AT4(r0[0], r0[1], r0[2], r0[3], o[0][0], o[0][1]);
                WINO_AT4(r1[0], r1[1], r1[2], r1[3], o[1][0], o[1][1]);
                if (j->bias) {
                    __m512 b = _mm512_set1_ps(j->bias[pl % g->C]);
                    o[0][0] += b, o[0][1] += b, o[1][0] += b, o[1][1] += b;
                }
                int64_t cols = min64(2 * (g->TW - tw0), g->OW - 2 * tw0);
                __mmask16 mlo = lanes16(0, cols), mhi = lanes16(0, cols - 16);
                for (int i = 0; i < 2 && 2 * th + i < g->OH; i++) {
                    /* Rows of one vector are written in order, each
                     * before the next takes the lanes past its end: whole
                     * stores inside the plane. */
                    int64_t at = (2 * th + i) * g->OW + 2 * tw0;
                    __m512 lo = _mm512_permutex2var_ps(o[i][0], mix_lo, o[i][1]);
                    if (g->TW <= 8 && at + 16 <= g->OH * g->OW)
                        _mm512_storeu_ps(y + at, lo);
                    else
                        store_masked(y + at, lo, mlo);
                    if (mhi)
                        store_masked(y + at + 16, _mm512_permutex2var_ps(o[i][0], mix_hi, o[i][1]), mhi);
                }
            }
    }
}

/* ---- output adjoint: dM = A dY A^T ---- */

/* Tiles [tw0, tw0 + 16) of tile row th (those below TW) of dy plane dy,
 * into dm (the chunk's first tile in position row 0). */
A512 static INLINE void output_bwd_chunk(const wino_geom *g, const float *dy, float *dm, int64_t th, int64_t tw0,
                                         bool masked)
{
    const int64_t xs = g->C * g->P;
    const __m512i even = index16(0, 2), odd = index16(1, 2);
    __mmask16 mn = lanes16(0, g->TW - tw0);
    __m512 de[2], dodd[2], ue[4], uo[4];
    for (int i = 0; i < 2; i++) {
        __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
        if (2 * th + i < g->OH) {
            const float *row = dy + (2 * th + i) * g->OW;
            lo = load_window(row, 2 * tw0, g->OW);
            hi = load_window(row, 2 * tw0 + 16, g->OW);
        }
        de[i] = _mm512_permutex2var_ps(lo, even, hi);
        dodd[i] = _mm512_permutex2var_ps(lo, odd, hi);
    }
    WINO_A2(de[0], de[1], ue[0], ue[1], ue[2], ue[3]);
    WINO_A2(dodd[0], dodd[1], uo[0], uo[1], uo[2], uo[3]);
    for (int r = 0; r < 4; r++) {
        __m512 o0, o1, o2, o3;
        WINO_A2(ue[r], uo[r], o0, o1, o2, o3);
        STORE(masked, dm + (4 * r) * xs, mn, o0);
        STORE(masked, dm + (4 * r + 1) * xs, mn, o1);
        STORE(masked, dm + (4 * r + 2) * xs, mn, o2);
        STORE(masked, dm + (4 * r + 3) * xs, mn, o3);
    }
}

A512 __attribute__((noinline)) static void output_bwd_chunk_masked(const wino_geom *g, const float *dy, float *dm,
                                                                   int64_t th, int64_t tw0)
{
    output_bwd_chunk(g, dy, dm, th, tw0, true);
}

A512 void wino_output_bwd_planes_avx512(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const wino_job *j = ctx;
    const wino_geom *g = &j->g;
    const int64_t tiles = g->TH * g->TW;
    for (int64_t q = begin; q < end; q++) {
        int64_t pl = image_plane(g, q);
        const float *dy = j->src + pl * g->OH * g->OW;
        float *dm0 = j->dst + wino_plane_tiles(g, pl);
        for (int64_t th = 0; th < g->TH; th++)
            for (int64_t tw0 = 0; tw0 < g->TW; tw0 += 16) {
                float *dm = dm0 + th * g->TW + tw0;
                if ((q - end) * tiles + th * g->TW + tw0 + 16 <= 0)
                    output_bwd_chunk(g, dy, dm, th, tw0, false);
                else
                    output_bwd_chunk_masked(g, dy, dm, th, tw0);
            }
    }
}

/* ---- input adjoint: dx = scatter of B dV B^T ---- */

/* WINO_JOIN on lanes: a + b where both exist, else the one that does. */
A512 static inline __m512 join(__m512 a, __mmask16 has_a, __m512 b, __mmask16 has_b)
{
    return _mm512_mask_add_ps(_mm512_mask_blend_ps(has_a, b, a), has_a & has_b, a, b);
}

/* Sums of one tile row for column pairs k0 + l: h[r][e] = the terms of
 * tile row r, pair column e (0 even, 1 odd); the tiles come in lanes
 * l = tile k0 - 1 + l. */
A512 static void tile_row_sums(const float *dv, int64_t xs, __mmask16 tiles, __mmask16 has_k, __mmask16 has_left,
                               __m512 h[4][2])
{
    __m512 s[16], w[4][4], dd[4][4];
    for (int xi = 0; xi < 16; xi++) {
        uintptr_t at = (uintptr_t)dv + (uintptr_t)(xi * xs - 1) * sizeof(float); /* tile k0 - 1 */
        s[xi] = _mm512_maskz_loadu_ps(tiles, (const void *)at);
    }
    for (int e = 0; e < 4; e++)
        WINO_B4(s[e], s[4 + e], s[8 + e], s[12 + e], w[0][e], w[1][e], w[2][e], w[3][e]);
    for (int r = 0; r < 4; r++) {
        WINO_B4(w[r][0], w[r][1], w[r][2], w[r][3], dd[r][0], dd[r][1], dd[r][2], dd[r][3]);
        for (int e = 0; e < 2; e++) /* tile k's column e, tile k-1's column e+2 */
            h[r][e] = join(next_lane(dd[r][e]), has_k, dd[r][e + 2], has_left);
    }
}

A512 void wino_input_bwd_planes_avx512(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const wino_job *j = ctx;
    const wino_geom *g = &j->g;
    const int64_t xs = g->C * g->P;
    const __m512i mix_lo = interleave_index(0), mix_hi = interleave_index(1);
    for (int64_t q = begin; q < end; q++) {
        int64_t pl = image_plane(g, q);
        const float *dv0 = j->src + wino_plane_tiles(g, pl);
        float *dx = j->dst + pl * g->H * g->W;
        for (int64_t k0 = 0; k0 <= g->TW; k0 += 15) { /* column pairs k0 + l, l < np */
            int64_t np = min64(15, g->TW + 1 - k0);
            __mmask16 tiles = lanes16(1 - k0, g->TW - k0 + 1);
            __mmask16 has_k = lanes16(0, g->TW - k0), has_left = lanes16(1 - k0, 16);
            int64_t first = 2 * k0 - g->PW; /* image column of pair lane 0 */
            __mmask16 mlo = lanes16(-first, g->W - first) & lanes16(0, 2 * np);
            __mmask16 mhi = lanes16(-first - 16, g->W - first - 16) & lanes16(0, 2 * np - 16);
            __m512 up[2][2] = {{_mm512_setzero_ps()}}; /* tile row th - 1's rows 2, 3 */
            for (int64_t th = 0; th <= g->TH; th++) {
                bool has_up = th > 0, has_lo = th < g->TH;
                __m512 h[4][2] = {{_mm512_setzero_ps()}};
                if (has_lo)
                    tile_row_sums(dv0 + th * g->TW + k0, xs, tiles, has_k, has_left, h);
                for (int i = 0; i < 2; i++) {
                    int64_t ih = 2 * th + i - g->PH;
                    if (ih < 0 || ih >= g->H)
                        continue;
                    __m512 v[2];
                    for (int e = 0; e < 2; e++) {
                        if (has_up && has_lo)
                            v[e] = up[i][e] + h[i][e];
                        else
                            v[e] = has_up ? up[i][e] : h[i][e];
                    }
                    uintptr_t at = (uintptr_t)(dx + ih * g->W) + (uintptr_t)first * sizeof(float);
                    float *lo = (float *)at, *hi = (float *)(at + 16 * sizeof(float));
                    __m512 vlo = _mm512_permutex2var_ps(v[0], mix_lo, v[1]);
                    __m512 vhi = _mm512_permutex2var_ps(v[0], mix_hi, v[1]);
                    if (j->accum) {
                        vlo = _mm512_maskz_loadu_ps(mlo, lo) + vlo;
                        vhi = _mm512_maskz_loadu_ps(mhi, hi) + vhi;
                    }
                    _mm512_mask_storeu_ps(lo, mlo, vlo);
                    _mm512_mask_storeu_ps(hi, mhi, vhi);
                }
                if (has_lo)
                    for (int i = 0; i < 2; i++)
                        up[i][0] = h[i + 2][0], up[i][1] = h[i + 2][1];
            }
        }
    }
}

#endif
