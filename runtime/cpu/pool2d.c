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
#include "fastmath.h"
#include "simd.h"

/* Roughly how many elements one parallel chunk should touch. */
#define CHUNK_ELEMS 32768

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

/* The same 2x2 window, 16 outputs a vector: two rows of 32 inputs are
 * loaded (masked at the row end) and split into even and odd columns. */
CPU_TARGET_AVX512 static void maxpool2x2_fwd_planes_avx512(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const pool_job *j = ctx;
    const pool_geom *g = &j->g;
    const int64_t W = g->W, OH = g->OH, OW = g->OW;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i one = _mm512_set1_epi32(1), down = _mm512_set1_epi32((int32_t)W);
    for (int64_t p = begin; p < end; p++) {
        const float *x = j->src + p * g->H * W;
        float *y = j->dst + p * OH * OW;
        int32_t *arg = j->argmax_out + p * OH * OW;
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
                __m512i at_top = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(2 * oh * W + 2 * ow0)), even);
                __m512i at_bottom = _mm512_add_epi32(at_top, down);
                max2_first(&top, &at_top, _mm512_permutex2var_ps(a0, odd, a1), _mm512_add_epi32(at_top, one));
                max2_first(&bottom, &at_bottom, _mm512_permutex2var_ps(b0, odd, b1), _mm512_add_epi32(at_bottom, one));
                max2_first(&top, &at_top, bottom, at_bottom);
                _mm512_mask_storeu_ps(y + oh * OW + ow0, mn, top);
                _mm512_mask_storeu_epi32(arg + oh * OW + ow0, mn, at_top);
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
CPU_TARGET_AVX512 static void maxpool2x2_fwd_narrow_avx512(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const pool_job *j = ctx;
    const pool_geom *g = &j->g;
    const int64_t W = g->W, OH = g->OH, OW = g->OW;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i one = _mm512_set1_epi32(1), down = _mm512_set1_epi32((int32_t)W);
    __m512i window, spread, pack;
    narrow_lanes(W, OW, &window, &spread, &pack);
    (void)spread;
    const __mmask16 mrow = lanes16(0, 2 * OW);
    for (int64_t p = begin; p < end; p++) {
        const float *x = j->src + p * g->H * W;
        float *y = j->dst + p * OH * OW;
        int32_t *arg = j->argmax_out + p * OH * OW;
        for (int64_t oh = 0; oh < OH; oh += 2) {
            const float *r = x + 2 * oh * W;
            __mmask16 mnext = oh + 1 < OH ? mrow : 0; /* output row oh + 1 exists */
            __m512 a = _mm512_maskz_loadu_ps(mrow, r), b = _mm512_maskz_loadu_ps(mrow, r + W);
            __m512 c = _mm512_maskz_loadu_ps(mnext, r + 2 * W), d = _mm512_maskz_loadu_ps(mnext, r + 3 * W);
            __m512 top = _mm512_permutex2var_ps(a, even, c), bottom = _mm512_permutex2var_ps(b, even, d);
            __m512i at_top = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(2 * oh * W)), window);
            __m512i at_bottom = _mm512_add_epi32(at_top, down);
            max2_first(&top, &at_top, _mm512_permutex2var_ps(a, odd, c), _mm512_add_epi32(at_top, one));
            max2_first(&bottom, &at_bottom, _mm512_permutex2var_ps(b, odd, d), _mm512_add_epi32(at_bottom, one));
            max2_first(&top, &at_top, bottom, at_bottom);
            __mmask16 mout = lanes16(0, oh + 1 < OH ? 2 * OW : OW);
            _mm512_mask_storeu_ps(y + oh * OW, mout, _mm512_permutexvar_ps(pack, top));
            _mm512_mask_storeu_epi32(arg + oh * OW, mout, _mm512_permutexvar_epi32(pack, at_top));
        }
    }
}
#endif

/* The fast 2x2 path applies: unpadded 2x2 windows at stride 2 inside the
 * plane (a last odd row or column is not read). */
static bool is_2x2_s2(const pool_geom *g)
{
    return g->KH == 2 && g->KW == 2 && g->SH == 2 && g->SW == 2 && g->PH == 0 && g->PW == 0 && 2 * g->OH <= g->H &&
           2 * g->OW <= g->W;
}

void cpu_maxpool_fwd(const cpu_kernel_args *a)
{
    pool_job j = {.g = geom_of(a->p), .src = a->args[0], .dst = a->args[1], .argmax_out = a->args[2]};
    if (j.g.OH * j.g.OW == 0)
        return;
    cpu_task_fn fn = maxpool_fwd_planes;
    if (is_2x2_s2(&j.g)) {
        fn = maxpool2x2_fwd_planes;
#if CPU_HAVE_AVX512
        if (cpu_simd_avx512())
            fn = j.g.OW <= 8 ? maxpool2x2_fwd_narrow_avx512 : maxpool2x2_fwd_planes_avx512;
#endif
    }
    cpu_parallel_for(a->pool, j.g.planes, chunk_of(j.g.OH * j.g.OW, j.g.KH * j.g.KW), fn, &j);
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

#if CPU_HAVE_AVX512
/* Backward of the 2x2 stride-2 window with accum = 0. When every argmax
 * of a plane lies in its own window (always, after the forward pass),
 * each dx element gets at most one term, so dx is written in one pass:
 * 0 + dy at the argmax (the value zero-then-add gives, -0 included) and
 * 0 elsewhere, the column and row no window covers zeroed. Otherwise the
 * plane is redone by zero-then-scatter, as maxpool_bwd_planes. */
static void maxpool_bwd_plane_scatter(const pool_geom *g, const float *dy, const int32_t *arg, float *dx)
{
    int64_t hw = g->H * g->W, ohw = g->OH * g->OW;
    memset(dx, 0, (size_t)hw * sizeof *dx);
    for (int64_t o = 0; o < ohw; o++)
        if (arg[o] >= 0 && arg[o] < hw)
            dx[arg[o]] += dy[o];
}

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

CPU_TARGET_AVX512 static void maxpool2x2_bwd_planes_avx512(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const pool_job *j = ctx;
    const pool_geom *g = &j->g;
    const int64_t W = g->W, OH = g->OH, OW = g->OW;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    /* interleave a and b: lanes a0 b0 a1 b1 ... of the low and high halves */
    const __m512i mix_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i mix_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i one = _mm512_set1_epi32(1), down = _mm512_set1_epi32((int32_t)W);
    const __m512i down1 = _mm512_set1_epi32((int32_t)W + 1);
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t p = begin; p < end; p++) {
        const float *dy = j->src + p * OH * OW;
        const int32_t *arg = j->argmax + p * OH * OW;
        float *dx = j->dst + p * g->H * W;
        bool own_window = true;
        for (int64_t oh = 0; oh < OH && own_window; oh++) {
            float *r0 = dx + 2 * oh * W, *r1 = r0 + W;
            for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) {
                int64_t n = OW - ow0 < 16 ? OW - ow0 : 16;
                __mmask16 mn = lanes16(0, n), mlo = lanes16(0, 2 * n), mhi = lanes16(0, 2 * n - 16);
                __m512 d = _mm512_add_ps(zero, _mm512_maskz_loadu_ps(mn, dy + oh * OW + ow0));
                __m512i at = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(2 * oh * W + 2 * ow0)), even);
                __m512i rel = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(mn, arg + oh * OW + ow0), at);
                __mmask16 m0 = _mm512_mask_cmpeq_epi32_mask(mn, rel, _mm512_setzero_si512());
                __mmask16 m1 = _mm512_mask_cmpeq_epi32_mask(mn, rel, one);
                __mmask16 m2 = _mm512_mask_cmpeq_epi32_mask(mn, rel, down);
                __mmask16 m3 = _mm512_mask_cmpeq_epi32_mask(mn, rel, down1);
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
            maxpool_bwd_plane_scatter(g, dy, arg, dx);
    }
}

/* The backward for OW <= 8, two output rows a vector as
 * maxpool2x2_fwd_narrow_avx512. */
CPU_TARGET_AVX512 static void maxpool2x2_bwd_narrow_avx512(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const pool_job *j = ctx;
    const pool_geom *g = &j->g;
    const int64_t W = g->W, OH = g->OH, OW = g->OW;
    const __m512i mix_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i mix_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i one = _mm512_set1_epi32(1), down = _mm512_set1_epi32((int32_t)W);
    const __m512i down1 = _mm512_set1_epi32((int32_t)W + 1);
    const __m512 zero = _mm512_setzero_ps();
    __m512i window, spread, pack;
    narrow_lanes(W, OW, &window, &spread, &pack);
    (void)pack;
    const __mmask16 mrow = lanes16(0, 2 * OW), mtop = lanes16(0, OW);
    for (int64_t p = begin; p < end; p++) {
        const float *dy = j->src + p * OH * OW;
        const int32_t *arg = j->argmax + p * OH * OW;
        float *dx = j->dst + p * g->H * W;
        bool own_window = true;
        for (int64_t oh = 0; oh < OH; oh += 2) {
            bool two = oh + 1 < OH;
            __mmask16 min = two ? mrow : mtop;                   /* packed dy / argmax of the two rows */
            __mmask16 mn = two ? mtop | (__mmask16)(mtop << 8) : mtop; /* their lanes once spread */
            __m512 d = _mm512_permutexvar_ps(spread, _mm512_maskz_loadu_ps(min, dy + oh * OW));
            d = _mm512_add_ps(zero, d);
            __m512i a = _mm512_permutexvar_epi32(spread, _mm512_maskz_loadu_epi32(min, arg + oh * OW));
            __m512i rel = _mm512_sub_epi32(a, _mm512_add_epi32(_mm512_set1_epi32((int32_t)(2 * oh * W)), window));
            __mmask16 m0 = _mm512_mask_cmpeq_epi32_mask(mn, rel, _mm512_setzero_si512());
            __mmask16 m1 = _mm512_mask_cmpeq_epi32_mask(mn, rel, one);
            __mmask16 m2 = _mm512_mask_cmpeq_epi32_mask(mn, rel, down);
            __mmask16 m3 = _mm512_mask_cmpeq_epi32_mask(mn, rel, down1);
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
            maxpool_bwd_plane_scatter(g, dy, arg, dx);
    }
}
#endif

void cpu_maxpool_bwd(const cpu_kernel_args *a)
{
    pool_job j = {.g = geom_of(a->p), .src = a->args[0], .argmax = a->args[1], .dst = a->args[2],
                  .accum = a->p->i[11]};
    if (j.g.OH * j.g.OW == 0) { /* no outputs: dx (+)= 0 */
        zero_or_keep(j.dst, j.g.planes * j.g.H * j.g.W, j.accum);
        return;
    }
    cpu_task_fn fn = maxpool_bwd_planes;
#if CPU_HAVE_AVX512
    if (!j.accum && is_2x2_s2(&j.g) && cpu_simd_avx512())
        fn = j.g.OW <= 8 ? maxpool2x2_bwd_narrow_avx512 : maxpool2x2_bwd_planes_avx512;
#endif
    cpu_parallel_for(a->pool, j.g.planes, chunk_of(j.g.H * j.g.W + j.g.OH * j.g.OW, 1), fn, &j);
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
