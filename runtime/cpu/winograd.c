/* Winograd F(2x2, 3x3) transform kernels (RT_K_WINO_*, formulas in
 * kernels.h): the weight transforms, the portable per-tile versions of
 * the input and output transforms, and the choice of the AVX-512 ones
 * (winograd_avx512.c) when the CPU has it.
 *
 * The GEMMs between the transforms do the multiplications; these kernels
 * only add and reshuffle, so they are bound by memory traffic. Work is
 * split by image plane: a plane's tiles are a contiguous run in every
 * position row of the transformed tensor, and only its own task writes
 * them (or, for the input adjoint, the plane of dx), every element as
 * one fixed expression, so results depend neither on the thread count
 * nor on the ISA (winograd.h). */
#include <stdbool.h>
#include <string.h>

#include "winograd.h"

/* Roughly how many elements one parallel chunk should touch. */
#define CHUNK_ELEMS 32768
/* Column pairs per strip of the portable input adjoint. */
#define STRIP 32

static int64_t chunk_of(int64_t elems_per_item)
{
    int64_t g = CHUNK_ELEMS / (elems_per_item > 0 ? elems_per_item : 1);
    return g > 0 ? g : 1;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static wino_geom tiles_of(wino_geom g)
{
    g.TH = (g.OH + 1) / 2;
    g.TW = (g.OW + 1) / 2;
    g.P = g.batch * g.TH * g.TW;
    return g;
}

/* Input side: i = batch, C, H, W, PH, PW, OH, OW. */
static wino_geom input_geom(const rt_params *p)
{
    const int32_t *i = p->i;
    return tiles_of((wino_geom){i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], 0, 0, 0});
}

/* Output side: i = batch, K, OH, OW (no input image). */
static wino_geom output_geom(const rt_params *p)
{
    const int32_t *i = p->i;
    return tiles_of((wino_geom){i[0], i[1], 0, 0, 0, 0, i[2], i[3], 0, 0, 0});
}

/* ---- weights: U = G g G^T, dg = G^T dU G (tiny: plain loops) ---- */

typedef struct weight_job {
    int64_t pairs; /* K * C */
    const float *src;
    float *dst;
    int accum;
} weight_job;

/* G applied to a, b, c, and its transpose to a, b, c, d. */
#define G3(a, b, c, r0, r1, r2, r3)                                           \
    ((r0) = (a), (r1) = (((a) + (b)) + (c)) * 0.5f, (r2) = (((a) - (b)) + (c)) * 0.5f, (r3) = (c))
#define GT4(a, b, c, d, r0, r1, r2)                                           \
    ((r0) = (a) + ((b) + (c)) * 0.5f, (r1) = ((b) - (c)) * 0.5f, (r2) = ((b) + (c)) * 0.5f + (d))

static void weight_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const weight_job *j = ctx;
    for (int64_t kc = begin; kc < end; kc++) {
        const float *g = j->src + kc * 9;
        float t[4][3], u[4][4];
        for (int q = 0; q < 3; q++)
            G3(g[q], g[3 + q], g[6 + q], t[0][q], t[1][q], t[2][q], t[3][q]);
        for (int i = 0; i < 4; i++)
            G3(t[i][0], t[i][1], t[i][2], u[i][0], u[i][1], u[i][2], u[i][3]);
        for (int xi = 0; xi < 16; xi++)
            j->dst[xi * j->pairs + kc] = u[xi / 4][xi % 4];
    }
}

static void weight_bwd_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const weight_job *j = ctx;
    for (int64_t kc = begin; kc < end; kc++) {
        float d[4][4], t[3][4], g[3][3];
        for (int xi = 0; xi < 16; xi++)
            d[xi / 4][xi % 4] = j->src[xi * j->pairs + kc];
        for (int q = 0; q < 4; q++)
            GT4(d[0][q], d[1][q], d[2][q], d[3][q], t[0][q], t[1][q], t[2][q]);
        for (int a = 0; a < 3; a++)
            GT4(t[a][0], t[a][1], t[a][2], t[a][3], g[a][0], g[a][1], g[a][2]);
        float *dw = j->dst + kc * 9;
        for (int e = 0; e < 9; e++)
            dw[e] = j->accum ? dw[e] + g[e / 3][e % 3] : g[e / 3][e % 3];
    }
}

void cpu_wino_weight(const cpu_kernel_args *a)
{
    weight_job j = {(int64_t)a->p->i[0] * a->p->i[1], a->args[0], a->args[1], 0};
    cpu_parallel_for(a->pool, j.pairs, chunk_of(25), weight_range, &j);
}

void cpu_wino_weight_bwd(const cpu_kernel_args *a)
{
    weight_job j = {(int64_t)a->p->i[0] * a->p->i[1], a->args[0], a->args[1], a->p->i[2]};
    cpu_parallel_for(a->pool, j.pairs, chunk_of(25), weight_bwd_range, &j);
}

/* ---- portable transforms, one tile at a time ---- */

static void input_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const wino_job *j = ctx;
    const wino_geom *g = &j->g;
    const int64_t xs = g->C * g->P;
    for (int64_t pl = begin; pl < end; pl++) {
        const float *x = j->src + pl * g->H * g->W;
        float *v0 = j->dst + wino_plane_tiles(g, pl);
        for (int64_t th = 0; th < g->TH; th++)
            for (int64_t tw = 0; tw < g->TW; tw++) {
                float d[4][4], t[4][4], v[4][4];
                for (int r = 0; r < 4; r++)
                    for (int q = 0; q < 4; q++) {
                        int64_t ih = 2 * th - g->PH + r, iw = 2 * tw - g->PW + q;
                        d[r][q] = ih >= 0 && ih < g->H && iw >= 0 && iw < g->W ? x[ih * g->W + iw] : 0.0f;
                    }
                for (int q = 0; q < 4; q++)
                    WINO_BT4(d[0][q], d[1][q], d[2][q], d[3][q], t[0][q], t[1][q], t[2][q], t[3][q]);
                for (int i = 0; i < 4; i++)
                    WINO_BT4(t[i][0], t[i][1], t[i][2], t[i][3], v[i][0], v[i][1], v[i][2], v[i][3]);
                for (int xi = 0; xi < 16; xi++)
                    v0[xi * xs + th * g->TW + tw] = v[xi / 4][xi % 4];
            }
    }
}

static void output_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const wino_job *j = ctx;
    const wino_geom *g = &j->g;
    const int64_t xs = g->C * g->P;
    for (int64_t pl = begin; pl < end; pl++) {
        const float *m0 = j->src + wino_plane_tiles(g, pl);
        float *y = j->dst + pl * g->OH * g->OW;
        for (int64_t th = 0; th < g->TH; th++)
            for (int64_t tw = 0; tw < g->TW; tw++) {
                float m[4][4], r[2][4], o[2][2];
                for (int xi = 0; xi < 16; xi++)
                    m[xi / 4][xi % 4] = m0[xi * xs + th * g->TW + tw];
                for (int q = 0; q < 4; q++)
                    WINO_AT4(m[0][q], m[1][q], m[2][q], m[3][q], r[0][q], r[1][q]);
                for (int i = 0; i < 2; i++) {
                    WINO_AT4(r[i][0], r[i][1], r[i][2], r[i][3], o[i][0], o[i][1]);
                    if (j->bias)
                        o[i][0] += j->bias[pl % g->C], o[i][1] += j->bias[pl % g->C];
                }
                for (int i = 0; i < 2; i++)
                    for (int e = 0; e < 2; e++)
                        if (2 * th + i < g->OH && 2 * tw + e < g->OW)
                            y[(2 * th + i) * g->OW + 2 * tw + e] = o[i][e];
            }
    }
}

static void output_bwd_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const wino_job *j = ctx;
    const wino_geom *g = &j->g;
    const int64_t xs = g->C * g->P;
    for (int64_t pl = begin; pl < end; pl++) {
        const float *dy = j->src + pl * g->OH * g->OW;
        float *dm0 = j->dst + wino_plane_tiles(g, pl);
        for (int64_t th = 0; th < g->TH; th++)
            for (int64_t tw = 0; tw < g->TW; tw++) {
                float d[2][2], u[4][2], dm[4][4];
                for (int i = 0; i < 2; i++)
                    for (int e = 0; e < 2; e++) {
                        int64_t oh = 2 * th + i, ow = 2 * tw + e;
                        d[i][e] = oh < g->OH && ow < g->OW ? dy[oh * g->OW + ow] : 0.0f;
                    }
                for (int e = 0; e < 2; e++)
                    WINO_A2(d[0][e], d[1][e], u[0][e], u[1][e], u[2][e], u[3][e]);
                for (int r = 0; r < 4; r++)
                    WINO_A2(u[r][0], u[r][1], dm[r][0], dm[r][1], dm[r][2], dm[r][3]);
                for (int xi = 0; xi < 16; xi++)
                    dm0[xi * xs + th * g->TW + tw] = dm[xi / 4][xi % 4];
            }
    }
}

/* dd = B dV B^T of one tile whose 16 values are dv[xi * xs]. */
static void tile_adjoint(const float *dv, int64_t xs, float dd[4][4])
{
    float w[4][4];
    for (int e = 0; e < 4; e++)
        WINO_B4(dv[e * xs], dv[(4 + e) * xs], dv[(8 + e) * xs], dv[(12 + e) * xs], w[0][e], w[1][e], w[2][e],
                w[3][e]);
    for (int r = 0; r < 4; r++)
        WINO_B4(w[r][0], w[r][1], w[r][2], w[r][3], dd[r][0], dd[r][1], dd[r][2], dd[r][3]);
}

/* One strip of column pairs [k0, k0 + np) of a dx plane, swept down the
 * tile rows with the tiles of the row above kept (WINO_JOIN order). */
static void input_bwd_strip(const wino_job *j, const float *dv0, float *dx, int64_t k0, int64_t np)
{
    const wino_geom *g = &j->g;
    const int64_t xs = g->C * g->P;
    float dd[2][STRIP + 1][4][4]; /* [tile row parity][tile k0 - 1 + l] */
    for (int64_t th = 0; th <= g->TH; th++) {
        int cur = (int)(th & 1), up = cur ^ 1;
        bool has_up = th > 0, has_lo = th < g->TH;
        for (int64_t l = 0; has_lo && l <= np; l++) {
            int64_t tw = k0 - 1 + l;
            if (tw >= 0 && tw < g->TW)
                tile_adjoint(dv0 + th * g->TW + tw, xs, dd[cur][l]);
        }
        for (int i = 0; i < 2; i++) {
            int64_t ih = 2 * th + i - g->PH;
            if (ih < 0 || ih >= g->H)
                continue;
            float *row = dx + ih * g->W;
            for (int64_t q = 0; q < 2 * np; q++) {
                int64_t k = k0 + q / 2, iw = 2 * k0 + q - g->PW, l = q / 2 + 1;
                int e = (int)(q % 2);
                if (iw < 0 || iw >= g->W)
                    continue;
                bool has_k = k < g->TW, has_left = k > 0;
                float hu = 0, hl = 0;
                if (has_up)
                    hu = WINO_JOIN(dd[up][l][i + 2][e], has_k, dd[up][l - 1][i + 2][e + 2], has_left);
                if (has_lo)
                    hl = WINO_JOIN(dd[cur][l][i][e], has_k, dd[cur][l - 1][i][e + 2], has_left);
                float v = WINO_JOIN(hu, has_up, hl, has_lo);
                row[iw] = j->accum ? row[iw] + v : v;
            }
        }
    }
}

static void input_bwd_planes(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const wino_job *j = ctx;
    const wino_geom *g = &j->g;
    for (int64_t pl = begin; pl < end; pl++) {
        const float *dv0 = j->src + wino_plane_tiles(g, pl);
        float *dx = j->dst + pl * g->H * g->W;
        for (int64_t k0 = 0; k0 <= g->TW; k0 += STRIP)
            input_bwd_strip(j, dv0, dx, k0, min64(STRIP, g->TW + 1 - k0));
    }
}

/* ---- launches ---- */

/* Runs `fn` over the planes, or the AVX-512 version when it runs here. */
static void run_planes(const cpu_kernel_args *a, wino_job *j, cpu_task_fn fn, cpu_task_fn fn_avx512)
{
    (void)fn_avx512;
#if CPU_HAVE_AVX512
    if (cpu_simd_avx512())
        fn = fn_avx512;
#endif
    const wino_geom *g = &j->g;
    int64_t per_plane = 16 * (g->TH + 1) * (g->TW + 1);
    cpu_parallel_for(a->pool, g->batch * g->C, chunk_of(per_plane), fn, j);
}

#if CPU_HAVE_AVX512
#define AVX512(fn) fn
#else
#define AVX512(fn) NULL
#endif

void cpu_wino_input(const cpu_kernel_args *a)
{
    wino_job j = {.g = input_geom(a->p), .src = a->args[0], .dst = a->args[1]};
    if (j.g.P * j.g.C > 0)
        run_planes(a, &j, input_planes, AVX512(wino_input_planes_avx512));
}

void cpu_wino_output(const cpu_kernel_args *a)
{
    wino_job j = {.g = output_geom(a->p), .src = a->args[0], .dst = a->args[2]};
    j.bias = a->sizes[1] ? a->args[1] : NULL;
    if (j.g.P * j.g.C > 0)
        run_planes(a, &j, output_planes, AVX512(wino_output_planes_avx512));
}

void cpu_wino_output_bwd(const cpu_kernel_args *a)
{
    wino_job j = {.g = output_geom(a->p), .src = a->args[0], .dst = a->args[1]};
    if (j.g.P * j.g.C > 0)
        run_planes(a, &j, output_bwd_planes, AVX512(wino_output_bwd_planes_avx512));
}

void cpu_wino_input_bwd(const cpu_kernel_args *a)
{
    wino_job j = {.g = input_geom(a->p), .src = a->args[0], .dst = a->args[1], .accum = a->p->i[8]};
    const wino_geom *g = &j.g;
    int64_t planes = g->batch * g->C;
    if (planes * g->H * g->W == 0)
        return;
    /* Pixels that no tile reaches (an OH or OW below the convolution's)
     * get no term: dx keeps its value, or becomes 0. */
    bool partial = g->P == 0 || 2 * g->TH + 2 - g->PH < g->H || 2 * g->TW + 2 - g->PW < g->W;
    if (partial && !j.accum)
        memset(j.dst, 0, (size_t)(planes * g->H * g->W) * sizeof(float));
    if (g->P > 0)
        run_planes(a, &j, input_bwd_planes, AVX512(wino_input_bwd_planes_avx512));
}
