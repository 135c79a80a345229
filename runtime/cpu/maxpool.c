/* 2-D max pooling with PyTorch semantics (max_pool2d): the first maximum
 * in row-major window order wins, a NaN wins (the last NaN), padding
 * never wins.
 *
 * Work is split by plane (one image channel): a plane's outputs depend
 * only on its own inputs, and its backward writes only its own dx plane,
 * adding window contributions in output order, so no two threads touch
 * the same element and results do not depend on the thread count.
 *
 * The argmax saved for backward comes in two formats (kernels.h): the
 * int32 index in the plane, or, for windows of at most 255 elements, one
 * byte per output holding the index in the window, a quarter of the
 * memory. Both name the same winner, so backward adds the same terms in
 * the same order and gives the same bits.
 *
 * A window that lies wholly outside the input (only possible when OH/OW
 * exceed PyTorch's output size) yields 0 and argmax -1 (byte 255), which
 * backward skips. Backward also skips an argmax that names no element of
 * the plane or window: the launch validator cannot see buffer contents. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "cpu_kernels.h"
#include "maxpool.h"
#include "simd.h"

/* ---- forward ---- */

static void maxpool_fwd_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const maxpool_job *j = ctx;
    const pool_geom *g = &j->g;
    for (int64_t p = begin; p < end; p++) {
        const float *x = j->src + p * g->H * g->W;
        int64_t out = p * g->OH * g->OW;
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++, out++) {
                window w = window_at(g, oh, ow);
                bool empty = window_empty(&w);
                float best = empty ? 0.0f : -INFINITY;
                int64_t best_h = w.h0, best_w = w.w0;
                for (int64_t h = w.h0; h < w.h1; h++)
                    for (int64_t c = w.w0; c < w.w1; c++) {
                        /* branch-free: window contents are unpredictable */
                        float v = x[h * g->W + c];
                        int take = (v > best) | isnan(v);
                        best = take ? v : best;
                        best_h = take ? h : best_h;
                        best_w = take ? c : best_w;
                    }
                j->dst[out] = best;
                maxpool_store_arg(j, out, empty ? -1 : best_h * g->W + best_w,
                                  empty ? ARGMAX_U8_NONE : (best_h - w.hs) * g->KW + (best_w - w.ws));
            }
    }
}

/* The 2x2, stride 2, unpadded window of most CNNs: every window lies
 * inside the plane, so no clamping, and the four candidates are compared
 * in torch's order (row-major, first max wins, NaN wins). */
static void maxpool2x2_fwd_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const maxpool_job *j = ctx;
    const pool_geom *g = &j->g;
    for (int64_t p = begin; p < end; p++) {
        const float *x = j->src + p * g->H * g->W;
        int64_t out = p * g->OH * g->OW;
        for (int64_t oh = 0; oh < g->OH; oh++) {
            const float *r0 = x + 2 * oh * g->W, *r1 = r0 + g->W;
            for (int64_t ow = 0; ow < g->OW; ow++, out++) {
                float v[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
                float best = v[0];
                int at = 0; /* 0..3: row-major in the window */
                for (int k = 1; k < 4; k++) {
                    int take = (v[k] > best) | (v[k] != v[k]);
                    best = take ? v[k] : best;
                    at = take ? k : at;
                }
                j->dst[out] = best;
                maxpool_store_arg(j, out, (2 * oh + at / 2) * g->W + 2 * ow + at % 2, at);
            }
        }
    }
}

/* The fast 2x2 path applies: unpadded 2x2 windows at stride 2 inside the
 * plane (a last odd row or column is not read). */
static bool is_2x2_s2(const pool_geom *g)
{
    return g->KH == 2 && g->KW == 2 && g->SH == 2 && g->SW == 2 && g->PH == 0 && g->PW == 0 && 2 * g->OH <= g->H &&
           2 * g->OW <= g->W;
}

/* The argmax arguments of a launch in the format of i[12]. */
static void bind_argmax(maxpool_job *j, const cpu_kernel_args *a, int slot)
{
    if (a->p->i[12] == RT_ARGMAX_U8) {
        j->arg8 = a->args[slot];
        j->arg8_bytes = (int64_t)a->sizes[slot];
    } else {
        j->arg32 = a->args[slot];
    }
}

void cpu_maxpool_fwd(const cpu_kernel_args *a)
{
    maxpool_job j = {.g = pool_geom_of(a->p), .src = a->args[0], .dst = a->args[1]};
    bind_argmax(&j, a, 2);
    int64_t n = j.g.planes * j.g.OH * j.g.OW;
    if (n == 0)
        return;
    cpu_task_fn fn = maxpool_fwd_planes;
    if (is_2x2_s2(&j.g)) {
        fn = maxpool2x2_fwd_planes;
#if CPU_HAVE_AVX512
        if (cpu_simd_avx512())
            fn = j.g.OW <= 8 ? maxpool2x2_fwd_narrow_avx512 : maxpool2x2_fwd_planes_avx512;
#endif
    }
    cpu_parallel_for(a->pool, j.g.planes, pool_chunk_of(j.g.OH * j.g.OW, j.g.KH * j.g.KW), fn, &j);
    for (int64_t o = n; j.arg8 && o % 4; o++) /* the last word's unused bytes, as the shaders write them */
        j.arg8[o] = ARGMAX_U8_NONE;
}

/* ---- backward ---- */

void maxpool_scatter_plane(const maxpool_job *j, int64_t p)
{
    const pool_geom *g = &j->g;
    int64_t hw = g->H * g->W, ohw = g->OH * g->OW;
    const float *dy = j->src + p * ohw;
    float *dx = j->dst + p * hw;
    zero_or_keep(dx, hw, j->accum);
    if (j->arg32) {
        const int32_t *arg = j->arg32 + p * ohw;
        for (int64_t o = 0; o < ohw; o++)
            if (arg[o] >= 0 && arg[o] < hw)
                dx[arg[o]] += dy[o];
        return;
    }
    const uint8_t *arg = j->arg8 + p * ohw;
    for (int64_t oh = 0, o = 0; oh < g->OH; oh++)
        for (int64_t ow = 0; ow < g->OW; ow++, o++) {
            int64_t dh = j->win_h[arg[o]], dw = j->win_w[arg[o]];
            int64_t h = oh * g->SH - g->PH + dh, c = ow * g->SW - g->PW + dw;
            if (dh >= 0 && h >= 0 && h < g->H && c >= 0 && c < g->W)
                dx[h * g->W + c] += dy[o];
        }
}

static void maxpool_bwd_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    for (int64_t p = begin; p < end; p++)
        maxpool_scatter_plane(ctx, p);
}

void cpu_maxpool_bwd(const cpu_kernel_args *a)
{
    maxpool_job j = {.g = pool_geom_of(a->p), .src = a->args[0], .dst = a->args[2], .accum = a->p->i[11]};
    bind_argmax(&j, a, 1);
    if (j.g.OH * j.g.OW == 0) { /* no outputs: dx (+)= 0 */
        zero_or_keep(j.dst, j.g.planes * j.g.H * j.g.W, j.accum);
        return;
    }
    for (int v = 0; v < 256; v++) { /* decode table of window indices */
        bool names = j.arg8 && v < j.g.KH * j.g.KW;
        j.win_h[v] = (int16_t)(names ? v / j.g.KW : -1);
        j.win_w[v] = (int16_t)(names ? v % j.g.KW : -1);
    }
    cpu_task_fn fn = maxpool_bwd_planes;
#if CPU_HAVE_AVX512
    if (!j.accum && is_2x2_s2(&j.g) && cpu_simd_avx512())
        fn = j.g.OW <= 8 ? maxpool2x2_bwd_narrow_avx512 : maxpool2x2_bwd_planes_avx512;
#endif
    cpu_parallel_for(a->pool, j.g.planes, pool_chunk_of(j.g.H * j.g.W + j.g.OH * j.g.OW, 1), fn, &j);
}
