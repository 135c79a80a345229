/* The 2x2, stride 2, unpadded max pool of most CNNs with AVX-512, in both
 * argmax formats (maxpool.c has the portable kernels these must match bit
 * for bit: same winners, same values, same dx). */
#include <string.h>

#include "cpu_kernels.h"
#include "maxpool.h"
#include "simd.h"

#if CPU_HAVE_AVX512

/* Of two candidates (value, index), a earlier in torch's order than b:
 * b wins when b > a or b is NaN. Applied as a tree, ((v0, v1), (v2, v3)),
 * this picks the same winner as the scalar left-to-right scan: the last
 * NaN if there is one (a NaN always takes over, a number never replaces
 * a NaN), else the first maximum. */
CPU_TARGET_AVX512 static inline __attribute__((always_inline)) void max2_first(__m512 *a, __m512i *ia, __m512 b,
                                                                              __m512i ib)
{
    __mmask16 take = _mm512_cmp_ps_mask(b, *a, _CMP_GT_OQ) | _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q);
    *a = _mm512_mask_mov_ps(*a, take, b);
    *ia = _mm512_mask_mov_epi32(*ia, take, ib);
}

/* 16 byte argmax values from output o on, as int32 lanes; bytes past n
 * (or past the view) read as 0 and must be masked off by the caller. */
CPU_TARGET_AVX512 static inline __m512i load_arg8(const maxpool_job *j, int64_t o, int64_t n)
{
    __m128i b;
    if (o + 16 <= j->arg8_bytes) {
        b = _mm_loadu_si128((const __m128i *)(const void *)(j->arg8 + o));
    } else {
        uint8_t t[16] = {0};
        memcpy(t, j->arg8 + o, (size_t)n);
        b = _mm_loadu_si128((const __m128i *)(const void *)t);
    }
    return _mm512_cvtepu8_epi32(b);
}

/* The same 2x2 window, 16 outputs a vector: two rows of 32 inputs are
 * loaded (masked at the row end) and split into even and odd columns. */
CPU_TARGET_AVX512 void maxpool2x2_fwd_planes_avx512(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const maxpool_job *j = ctx;
    const pool_geom *g = &j->g;
    const int64_t W = g->W, OH = g->OH, OW = g->OW;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const bool bytes = j->arg8 != NULL;
    const __m512i one = _mm512_set1_epi32(1), zero = _mm512_setzero_si512();
    const __m512i down = _mm512_set1_epi32(bytes ? 2 : (int32_t)W); /* from the top row to the bottom */
    for (int64_t p = begin; p < end; p++) {
        const float *x = j->src + p * g->H * W;
        int64_t out = p * OH * OW;
        for (int64_t oh = 0; oh < OH; oh++) {
            const float *r0 = x + 2 * oh * W, *r1 = r0 + W;
            for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) {
                int64_t n = OW - ow0 < 16 ? OW - ow0 : 16;
                __mmask16 mn = lanes16(0, n), mlo = lanes16(0, 2 * n), mhi = lanes16(0, 2 * n - 16);
                __m512 a0 = _mm512_maskz_loadu_ps(mlo, r0 + 2 * ow0);
                __m512 a1 = _mm512_maskz_loadu_ps(mhi, r0 + 2 * ow0 + 16);
                __m512 b0 = _mm512_maskz_loadu_ps(mlo, r1 + 2 * ow0);
                __m512 b1 = _mm512_maskz_loadu_ps(mhi, r1 + 2 * ow0 + 16);
                __m512 top = _mm512_permutex2var_ps(a0, even, a1), bottom = _mm512_permutex2var_ps(b0, even, b1);
                /* plane indices, or (byte argmax) window indices 0..3 */
                __m512i at_top = bytes ? zero : _mm512_add_epi32(_mm512_set1_epi32((int32_t)(2 * oh * W + 2 * ow0)), even);
                __m512i at_bottom = _mm512_add_epi32(at_top, down);
                max2_first(&top, &at_top, _mm512_permutex2var_ps(a0, odd, a1), _mm512_add_epi32(at_top, one));
                max2_first(&bottom, &at_bottom, _mm512_permutex2var_ps(b0, odd, b1), _mm512_add_epi32(at_bottom, one));
                max2_first(&top, &at_top, bottom, at_bottom);
                _mm512_mask_storeu_ps(j->dst + out + oh * OW + ow0, mn, top);
                if (bytes)
                    _mm512_mask_cvtepi32_storeu_epi8(j->arg8 + out + oh * OW + ow0, mn, at_top);
                else
                    _mm512_mask_storeu_epi32(j->arg32 + out + oh * OW + ow0, mn, at_top);
            }
        }
    }
}

/* Lane l of the narrow kernels' vectors is output column l of row oh
 * for l < 8 and column l - 8 of row oh + 1 from 8 on; this is the offset
 * of each lane's window from the first one's, and the index vectors
 * that move 2*OW packed outputs to these lanes and back. */
CPU_TARGET_AVX512 static void narrow_lanes(int64_t W, int64_t OW, __m512i *window, __m512i *spread, __m512i *pack)
{
    int32_t w[16], s[16], k[16];
    for (int l = 0; l < 16; l++) {
        w[l] = l < 8 ? 2 * l : (int32_t)(2 * W) + 2 * (l - 8);
        s[l] = l < 8 ? (l < OW ? l : 0) : (l - 8 < OW ? (int32_t)OW + l - 8 : 0);
        k[l] = l < OW ? l : (l < 2 * OW ? 8 + l - (int32_t)OW : 0);
    }
    *window = _mm512_loadu_si512(w);
    *spread = _mm512_loadu_si512(s);
    *pack = _mm512_loadu_si512(k);
}

/* OW <= 8: half a vector a row would idle, so two output rows share one:
 * the four input rows of output rows oh and oh + 1 are loaded whole and
 * their even and odd columns gathered with two-source permutes. */
CPU_TARGET_AVX512 void maxpool2x2_fwd_narrow_avx512(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const maxpool_job *j = ctx;
    const pool_geom *g = &j->g;
    const int64_t W = g->W, OH = g->OH, OW = g->OW;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const bool bytes = j->arg8 != NULL;
    const __m512i one = _mm512_set1_epi32(1), zero = _mm512_setzero_si512();
    const __m512i down = _mm512_set1_epi32(bytes ? 2 : (int32_t)W);
    __m512i window, spread, pack;
    narrow_lanes(W, OW, &window, &spread, &pack);
    (void)spread;
    const __mmask16 mrow = lanes16(0, 2 * OW);
    for (int64_t p = begin; p < end; p++) {
        const float *x = j->src + p * g->H * W;
        int64_t out = p * OH * OW;
        for (int64_t oh = 0; oh < OH; oh += 2) {
            const float *r = x + 2 * oh * W;
            __mmask16 mnext = oh + 1 < OH ? mrow : 0; /* output row oh + 1 exists */
            __m512 a = _mm512_maskz_loadu_ps(mrow, r), b = _mm512_maskz_loadu_ps(mrow, r + W);
            __m512 c = _mm512_maskz_loadu_ps(mnext, r + 2 * W), d = _mm512_maskz_loadu_ps(mnext, r + 3 * W);
            __m512 top = _mm512_permutex2var_ps(a, even, c), bottom = _mm512_permutex2var_ps(b, even, d);
            __m512i at_top = bytes ? zero : _mm512_add_epi32(_mm512_set1_epi32((int32_t)(2 * oh * W)), window);
            __m512i at_bottom = _mm512_add_epi32(at_top, down);
            max2_first(&top, &at_top, _mm512_permutex2var_ps(a, odd, c), _mm512_add_epi32(at_top, one));
            max2_first(&bottom, &at_bottom, _mm512_permutex2var_ps(b, odd, d), _mm512_add_epi32(at_bottom, one));
            max2_first(&top, &at_top, bottom, at_bottom);
            __mmask16 mout = lanes16(0, oh + 1 < OH ? 2 * OW : OW);
            _mm512_mask_storeu_ps(j->dst + out + oh * OW, mout, _mm512_permutexvar_ps(pack, top));
            if (bytes)
                _mm512_mask_cvtepi32_storeu_epi8(j->arg8 + out + oh * OW, mout, _mm512_permutexvar_epi32(pack, at_top));
            else
                _mm512_mask_storeu_epi32(j->arg32 + out + oh * OW, mout, _mm512_permutexvar_epi32(pack, at_top));
        }
    }
}

/* Backward of the 2x2 stride-2 window with accum = 0. When every argmax
 * of a plane lies in its own window (always, after the forward pass),
 * each dx element gets at most one term, so dx is written in one pass:
 * 0 + dy at the argmax (the value zero-then-add gives, -0 included) and
 * 0 elsewhere, the column and row no window covers zeroed. Otherwise the
 * plane is redone by zero-then-scatter, as the portable kernel. */

/* Zero what no 2x2 window covers: columns [2*OW, W) of the covered rows,
 * rows [2*OH, H). */
static void maxpool2x2_zero_uncovered(const pool_geom *g, float *dx)
{
    if (g->W > 2 * g->OW)
        for (int64_t h = 0; h < 2 * g->OH; h++)
            for (int64_t w = 2 * g->OW; w < g->W; w++)
                dx[h * g->W + w] = 0.0f;
    memset(dx + 2 * g->OH * g->W, 0, (size_t)((g->H - 2 * g->OH) * g->W) * sizeof *dx);
}

/* Window positions of the argmax lanes: the argmax relative to each
 * lane's window start (I32: plane index minus origin; U8: as stored),
 * and the values that mean bottom-left and bottom-right. */
typedef struct rel_consts {
    __m512i c2, c3;
} rel_consts;

CPU_TARGET_AVX512 static rel_consts rel_consts_of(const maxpool_job *j)
{
    int32_t W = (int32_t)j->g.W;
    rel_consts r = {_mm512_set1_epi32(j->arg8 ? 2 : W), _mm512_set1_epi32(j->arg8 ? 3 : W + 1)};
    return r;
}

CPU_TARGET_AVX512 void maxpool2x2_bwd_planes_avx512(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const maxpool_job *j = ctx;
    const pool_geom *g = &j->g;
    const int64_t W = g->W, OH = g->OH, OW = g->OW;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    /* interleave a and b: lanes a0 b0 a1 b1 ... of the low and high halves */
    const __m512i mix_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i mix_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i one = _mm512_set1_epi32(1);
    const rel_consts rc = rel_consts_of(j);
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t p = begin; p < end; p++) {
        int64_t out = p * OH * OW;
        const float *dy = j->src + out;
        float *dx = j->dst + p * g->H * W;
        bool own_window = true;
        for (int64_t oh = 0; oh < OH && own_window; oh++) {
            float *r0 = dx + 2 * oh * W, *r1 = r0 + W;
            for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) {
                int64_t n = OW - ow0 < 16 ? OW - ow0 : 16, o = out + oh * OW + ow0;
                __mmask16 mn = lanes16(0, n), mlo = lanes16(0, 2 * n), mhi = lanes16(0, 2 * n - 16);
                __m512 d = _mm512_add_ps(zero, _mm512_maskz_loadu_ps(mn, dy + oh * OW + ow0));
                __m512i rel;
                if (j->arg8) {
                    rel = load_arg8(j, o, n);
                } else {
                    __m512i at = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(2 * oh * W + 2 * ow0)), even);
                    rel = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(mn, j->arg32 + o), at);
                }
                __mmask16 m0 = _mm512_mask_cmpeq_epi32_mask(mn, rel, _mm512_setzero_si512());
                __mmask16 m1 = _mm512_mask_cmpeq_epi32_mask(mn, rel, one);
                __mmask16 m2 = _mm512_mask_cmpeq_epi32_mask(mn, rel, rc.c2);
                __mmask16 m3 = _mm512_mask_cmpeq_epi32_mask(mn, rel, rc.c3);
                if ((__mmask16)(m0 | m1 | m2 | m3) != mn) {
                    own_window = false;
                    break;
                }
                __m512 u0 = _mm512_maskz_mov_ps(m0, d), u1 = _mm512_maskz_mov_ps(m1, d);
                __m512 u2 = _mm512_maskz_mov_ps(m2, d), u3 = _mm512_maskz_mov_ps(m3, d);
                _mm512_mask_storeu_ps(r0 + 2 * ow0, mlo, _mm512_permutex2var_ps(u0, mix_lo, u1));
                _mm512_mask_storeu_ps(r0 + 2 * ow0 + 16, mhi, _mm512_permutex2var_ps(u0, mix_hi, u1));
                _mm512_mask_storeu_ps(r1 + 2 * ow0, mlo, _mm512_permutex2var_ps(u2, mix_lo, u3));
                _mm512_mask_storeu_ps(r1 + 2 * ow0 + 16, mhi, _mm512_permutex2var_ps(u2, mix_hi, u3));
            }
        }
        if (own_window)
            maxpool2x2_zero_uncovered(g, dx);
        else
            maxpool_scatter_plane(j, p);
    }
}

/* The backward for OW <= 8, two output rows a vector as
 * maxpool2x2_fwd_narrow_avx512. */
CPU_TARGET_AVX512 void maxpool2x2_bwd_narrow_avx512(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const maxpool_job *j = ctx;
    const pool_geom *g = &j->g;
    const int64_t W = g->W, OH = g->OH, OW = g->OW;
    const __m512i mix_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i mix_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i one = _mm512_set1_epi32(1);
    const rel_consts rc = rel_consts_of(j);
    const __m512 zero = _mm512_setzero_ps();
    __m512i window, spread, pack;
    narrow_lanes(W, OW, &window, &spread, &pack);
    (void)pack;
    const __mmask16 mrow = lanes16(0, 2 * OW), mtop = lanes16(0, OW);
    for (int64_t p = begin; p < end; p++) {
        int64_t out = p * OH * OW;
        const float *dy = j->src + out;
        float *dx = j->dst + p * g->H * W;
        bool own_window = true;
        for (int64_t oh = 0; oh < OH; oh += 2) {
            bool two = oh + 1 < OH;
            __mmask16 min = two ? mrow : mtop;                   /* packed dy / argmax of the two rows */
            __mmask16 mn = two ? mtop | (__mmask16)(mtop << 8) : mtop; /* their lanes once spread */
            __m512 d = _mm512_permutexvar_ps(spread, _mm512_maskz_loadu_ps(min, dy + oh * OW));
            d = _mm512_add_ps(zero, d);
            __m512i rel;
            if (j->arg8) {
                rel = _mm512_permutexvar_epi32(spread, load_arg8(j, out + oh * OW, two ? 2 * OW : OW));
            } else {
                __m512i a = _mm512_permutexvar_epi32(spread, _mm512_maskz_loadu_epi32(min, j->arg32 + out + oh * OW));
                rel = _mm512_sub_epi32(a, _mm512_add_epi32(_mm512_set1_epi32((int32_t)(2 * oh * W)), window));
            }
            __mmask16 m0 = _mm512_mask_cmpeq_epi32_mask(mn, rel, _mm512_setzero_si512());
            __mmask16 m1 = _mm512_mask_cmpeq_epi32_mask(mn, rel, one);
            __mmask16 m2 = _mm512_mask_cmpeq_epi32_mask(mn, rel, rc.c2);
            __mmask16 m3 = _mm512_mask_cmpeq_epi32_mask(mn, rel, rc.c3);
            if ((__mmask16)(m0 | m1 | m2 | m3) != mn) {
                own_window = false;
                break;
            }
            __m512 u0 = _mm512_maskz_mov_ps(m0, d), u1 = _mm512_maskz_mov_ps(m1, d);
            __m512 u2 = _mm512_maskz_mov_ps(m2, d), u3 = _mm512_maskz_mov_ps(m3, d);
            float *r = dx + 2 * oh * W;
            _mm512_mask_storeu_ps(r, mrow, _mm512_permutex2var_ps(u0, mix_lo, u1));
            _mm512_mask_storeu_ps(r + W, mrow, _mm512_permutex2var_ps(u2, mix_lo, u3));
            if (two) {
                _mm512_mask_storeu_ps(r + 2 * W, mrow, _mm512_permutex2var_ps(u0, mix_hi, u1));
                _mm512_mask_storeu_ps(r + 3 * W, mrow, _mm512_permutex2var_ps(u2, mix_hi, u3));
            }
        }
        if (own_window)
            maxpool2x2_zero_uncovered(g, dx);
        else
            maxpool_scatter_plane(j, p);
    }
}

#endif
