/* The vectorised fast paths of the non-GEMM CPU kernels (runtime/cpu/
 * simd.h) against plain references that do the same float operations in
 * the same order: results must match bit for bit, on the AVX-512 paths
 * and on the portable ones (forced with cpu_simd_use_isa), with one and
 * with two threads. Covers im2col / col2im with unit column stride, the
 * 2x2 stride-2 max pool forward and backward (ties, NaN, signed zeros,
 * odd sizes, foreign argmax), ReLU forward / backward and the bias
 * gradient. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "runtime/cpu/cpu_kernels.h"

/* Not a public API (runtime/cpu/simd.h). */
const char *cpu_simd_use_isa(const char *name);

static const char *const isas[] = {"avx512", "generic"};
#define N_ISAS 2

/* Runs `fn` for each ISA the CPU has and for 1 and 2 threads. */
typedef void (*case_fn)(cpu_pool *pool, const char *isa);

static void for_each_config(case_fn fn)
{
    for (int t = 1; t <= 2; t++) {
        cpu_pool *pool = NULL;
        assert_int_equal(cpu_pool_create(t, &pool), 0);
        for (int i = 0; i < N_ISAS; i++) {
            if (strcmp(cpu_simd_use_isa(isas[i]), isas[i]) != 0)
                continue; /* no AVX-512 on this CPU */
            fn(pool, isas[i]);
        }
        cpu_simd_use_isa(NULL);
        cpu_pool_destroy(pool);
    }
}

static float *falloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    return p;
}

/* Values with the cases that tell orders apart: signed zeros, ties. */
static void fill_tricky(float *x, size_t n, uint64_t seed)
{
    tu_fill_uniform(x, n, seed, -2.0f, 2.0f);
    for (size_t i = 0; i < n; i++) {
        if (i % 7 == 3)
            x[i] = -0.0f;
        else if (i % 11 == 5)
            x[i] = 0.0f;
        else if (i % 5 == 1)
            x[i] = roundf(x[i]); /* ties */
    }
}

static void expect_bits(const void *a, const void *b, size_t bytes, const char *what, const char *isa)
{
    if (memcmp(a, b, bytes) != 0) {
        const uint32_t *u = a, *v = b;
        size_t i = 0;
        while (u[i] == v[i])
            i++;
        fail_msg("%s (%s): element %zu is %08x, expected %08x", what, isa, i, (unsigned)u[i], (unsigned)v[i]);
    }
}

static cpu_kernel_args args_of(cpu_pool *pool, const rt_params *p, void *a0, void *a1, void *a2, void *a3)
{
    cpu_kernel_args a;
    memset(&a, 0, sizeof a);
    a.pool = pool;
    a.p = p;
    void *v[4] = {a0, a1, a2, a3};
    for (int i = 0; i < 4; i++) {
        a.args[i] = v[i];
        a.sizes[i] = v[i] ? 4 : 0; /* kernels only test presence */
    }
    return a;
}

/* ---- im2col / col2im ---- */

typedef struct conv_case {
    int batch, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW;
} conv_case;

static const conv_case conv_cases[] = {
    {2, 3, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1},   /* the cnn's second conv, small */
    {2, 1, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1},   /* the first: rows over 16 */
    {1, 2, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1},     /* odd, tiny */
    {1, 2, 9, 40, 5, 3, 2, 1, 2, 1, 1, 1},    /* row stride 2, three chunks */
    {1, 2, 10, 17, 3, 4, 1, 1, 3, 2, 2, 3},   /* dilation, wide padding */
    {1, 1, 4, 3, 3, 3, 1, 1, 4, 5, 1, 1},     /* padding wider than the image */
    {2, 2, 6, 33, 1, 1, 1, 1, 0, 0, 1, 1},    /* 1x1, 33 columns */
    {1, 1, 5, 16, 2, 2, 3, 1, 0, 0, 1, 1},    /* exactly 16 columns */
    {1, 2, 5, 20, 3, 3, 1, 1, 1, 6, 1, 1},    /* 30 columns, wide padding */
    {1, 1, 3, 30, 2, 1, 1, 1, 1, 1, 1, 1},    /* exactly 32 columns */
    {1, 1, 4, 2, 3, 5, 1, 1, 1, 12, 1, 4},    /* 10 columns of padding around 2 */
    {1, 2, 50, 40, 3, 3, 1, 1, 1, 1, 1, 1},   /* col2im in two strips of rows */
    {1, 1, 13, 12, 12, 12, 1, 1, 1, 0, 1, 1}, /* 144 taps */
    {2, 2, 7, 19, 1, 1, 2, 1, 0, 0, 1, 1},    /* odd rows get no term: keep -0 / become +0 */
    {1, 2, 8, 6, 2, 1, 3, 1, 0, 0, 3, 1},     /* row stride 3, dilation 3 */
    {1, 3, 6, 9, 3, 3, 2, 2, 1, 1, 1, 1},     /* stride 2: the general path */
};

static int conv_out(int in, int k, int s, int p, int d)
{
    return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

static rt_params conv_params(const conv_case *c, int *OH, int *OW)
{
    rt_params p;
    memset(&p, 0, sizeof p);
    *OH = conv_out(c->H, c->KH, c->SH, c->PH, c->DH);
    *OW = conv_out(c->W, c->KW, c->SW, c->PW, c->DW);
    int v[14] = {c->batch, c->C, c->H, c->W, c->KH, c->KW, c->SH, c->SW, c->PH, c->PW, c->DH, c->DW, *OH, *OW};
    memcpy(p.i, v, sizeof v);
    return p;
}

static const conv_case *cur_conv;

static void im2col_case(cpu_pool *pool, const char *isa)
{
    const conv_case *c = cur_conv;
    int OH, OW;
    rt_params p = conv_params(c, &OH, &OW);
    size_t nx = (size_t)c->batch * c->C * c->H * c->W, ohw = (size_t)OH * OW;
    size_t ncol = (size_t)c->batch * c->C * c->KH * c->KW * ohw;
    float *x = falloc(nx), *col = falloc(ncol), *ref = falloc(ncol);
    fill_tricky(x, nx, 11);
    for (size_t i = 0; i < ncol; i++)
        col[i] = NAN; /* every element must be written */
    for (int b = 0; b < c->batch; b++)
        for (int ch = 0; ch < c->C; ch++)
            for (int kh = 0; kh < c->KH; kh++)
                for (int kw = 0; kw < c->KW; kw++) {
                    size_t row = (((size_t)b * c->C + ch) * c->KH + kh) * c->KW + kw;
                    for (int oh = 0; oh < OH; oh++)
                        for (int ow = 0; ow < OW; ow++) {
                            int ih = oh * c->SH - c->PH + kh * c->DH, iw = ow * c->SW - c->PW + kw * c->DW;
                            bool in = ih >= 0 && ih < c->H && iw >= 0 && iw < c->W;
                            ref[row * ohw + (size_t)oh * OW + ow] =
                                in ? x[(((size_t)b * c->C + ch) * c->H + ih) * c->W + iw] : 0.0f;
                        }
                }
    cpu_kernel_args a = args_of(pool, &p, x, col, NULL, NULL);
    cpu_im2col(&a);
    expect_bits(col, ref, ncol * sizeof *col, "im2col", isa);
    free(x), free(col), free(ref);
}

static void col2im_case(cpu_pool *pool, const char *isa)
{
    const conv_case *c = cur_conv;
    int OH, OW;
    rt_params p = conv_params(c, &OH, &OW);
    size_t nx = (size_t)c->batch * c->C * c->H * c->W, ohw = (size_t)OH * OW;
    size_t ncol = (size_t)c->batch * c->C * c->KH * c->KW * ohw;
    float *col = falloc(ncol), *dx = falloc(nx), *ref = falloc(nx);
    fill_tricky(col, ncol, 12);
    for (int accum = 0; accum <= 1; accum++) {
        p.i[14] = accum;
        fill_tricky(dx, nx, 13);
        for (size_t i = 0; i < nx; i++) /* accum 0 must overwrite: NaN shows what was not */
            if (!accum && i % 3 == 0)
                dx[i] = NAN;
        memcpy(ref, dx, nx * sizeof *dx);
        /* The reference order: zero (accum 0), then taps in order. */
        for (int b = 0; b < c->batch; b++)
            for (int ch = 0; ch < c->C; ch++) {
                float *plane = ref + ((size_t)b * c->C + ch) * c->H * c->W;
                if (!accum)
                    memset(plane, 0, (size_t)c->H * c->W * sizeof *plane);
                for (int kh = 0; kh < c->KH; kh++)
                    for (int kw = 0; kw < c->KW; kw++) {
                        size_t row = (((size_t)b * c->C + ch) * c->KH + kh) * c->KW + kw;
                        for (int oh = 0; oh < OH; oh++)
                            for (int ow = 0; ow < OW; ow++) {
                                int ih = oh * c->SH - c->PH + kh * c->DH, iw = ow * c->SW - c->PW + kw * c->DW;
                                if (ih >= 0 && ih < c->H && iw >= 0 && iw < c->W)
                                    plane[ih * c->W + iw] += col[row * ohw + (size_t)oh * OW + ow];
                            }
                    }
            }
        cpu_kernel_args a = args_of(pool, &p, col, dx, NULL, NULL);
        cpu_col2im(&a);
        expect_bits(dx, ref, nx * sizeof *dx, accum ? "col2im accum" : "col2im", isa);
    }
    /* -0 + -0 stays -0: an element must not see a +0 where a tap has no
     * term for it (a plain add of a masked-off lane would). */
    for (size_t i = 0; i < ncol; i++)
        col[i] = -0.0f;
    for (size_t i = 0; i < nx; i++)
        dx[i] = -0.0f;
    p.i[14] = 1;
    cpu_kernel_args a = args_of(pool, &p, col, dx, NULL, NULL);
    cpu_col2im(&a);
    for (size_t i = 0; i < nx; i++)
        if (!(dx[i] == 0.0f && signbit(dx[i])))
            fail_msg("col2im (%s): -0 + -0 gave %g at %zu", isa, (double)dx[i], i);
    free(col), free(dx), free(ref);
}

static void test_im2col_col2im(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof conv_cases / sizeof conv_cases[0]; k++) {
        cur_conv = &conv_cases[k];
        for_each_config(im2col_case);
        for_each_config(col2im_case);
    }
}

/* ---- 2x2 stride-2 max pool ---- */

typedef struct pool_case {
    int planes, H, W;
} pool_case;

static const pool_case pool_cases[] = {
    {3, 28, 28}, {3, 14, 14}, {2, 7, 9}, {2, 2, 2},  {1, 5, 3},  {2, 6, 33},
    {1, 4, 65},  {2, 3, 32},  {1, 9, 34}, {2, 6, 16}, {1, 5, 17}, {2, 11, 18},
};

static const pool_case *cur_pool;

static rt_params pool_params(const pool_case *c, int accum)
{
    rt_params p;
    memset(&p, 0, sizeof p);
    int v[12] = {c->planes, c->H, c->W, 2, 2, 2, 2, 0, 0, c->H / 2, c->W / 2, accum};
    memcpy(p.i, v, sizeof v);
    return p;
}

static void pool_input(float *x, size_t n, uint64_t seed)
{
    fill_tricky(x, n, seed);
    for (size_t i = 0; i < n; i++) {
        if (i % 13 == 4)
            x[i] = NAN;
        else if (i % 17 == 8)
            x[i] = -INFINITY;
        else if (i % 19 == 2)
            x[i] = x[i ^ 1]; /* a tie inside the window row */
    }
}

static void ref_maxpool_fwd(const pool_case *c, const float *x, float *y, int32_t *arg)
{
    int OH = c->H / 2, OW = c->W / 2;
    for (int p = 0; p < c->planes; p++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                const float *px = x + (size_t)p * c->H * c->W;
                float best = -INFINITY;
                int at = -1;
                for (int h = 2 * oh; h < 2 * oh + 2; h++)
                    for (int w = 2 * ow; w < 2 * ow + 2; w++) {
                        float v = px[h * c->W + w];
                        if (at < 0 || v > best || isnan(v)) {
                            best = v;
                            at = h * c->W + w;
                        }
                    }
                y[((size_t)p * OH + oh) * OW + ow] = best;
                arg[((size_t)p * OH + oh) * OW + ow] = at;
            }
}

static void maxpool_case(cpu_pool *pool, const char *isa)
{
    const pool_case *c = cur_pool;
    size_t nx = (size_t)c->planes * c->H * c->W, ny = (size_t)c->planes * (c->H / 2) * (c->W / 2);
    float *x = falloc(nx), *y = falloc(ny), *ref_y = falloc(ny), *dy = falloc(ny);
    float *dx = falloc(nx), *ref_dx = falloc(nx);
    int32_t *arg = malloc(ny * sizeof *arg), *ref_arg = malloc(ny * sizeof *arg);
    assert_true(arg && ref_arg);
    pool_input(x, nx, 21);
    /* Crafted windows: several NaNs (the last one wins), full ties,
     * signed zeros (the first wins: -0 > +0 is false). */
    for (int pl = 0, k = 0; pl < c->planes; pl++)
        for (int oh = 0; oh < c->H / 2; oh++)
            for (int ow = 0; ow < c->W / 2; ow++, k++) {
                float *w0 = x + ((size_t)pl * c->H + 2 * oh) * c->W + 2 * ow, *w1 = w0 + c->W;
                switch (k % 8) {
                case 0: w0[0] = NAN, w1[1] = NAN; break;
                case 1: w0[1] = NAN, w1[0] = NAN, w1[1] = 1.0f; break;
                case 2: w0[0] = w0[1] = w1[0] = w1[1] = 0.5f; break;
                case 3: w0[0] = -0.0f, w0[1] = 0.0f, w1[0] = -0.0f, w1[1] = -1.0f; break;
                case 4: w1[0] = NAN, w1[1] = NAN, w0[0] = INFINITY; break;
                default: break;
                }
            }
    ref_maxpool_fwd(c, x, ref_y, ref_arg);
    rt_params p = pool_params(c, 0);
    cpu_kernel_args a = args_of(pool, &p, x, y, arg, NULL);
    cpu_maxpool_fwd(&a);
    expect_bits(y, ref_y, ny * sizeof *y, "maxpool y", isa);
    expect_bits(arg, ref_arg, ny * sizeof *arg, "maxpool argmax", isa);

    /* Backward, accum 0 and 1, with the forward's argmax and then with
     * argmax values outside their window (one plane each). */
    fill_tricky(dy, ny, 22);
    for (size_t i = 0; i < ny; i++)
        if (i % 9 == 4)
            dy[i] = NAN;
    for (int variant = 0; variant < 4; variant++) {
        int accum = variant & 1;
        if (variant == 2 && ny > 0) {
            arg[0] = arg[0] == 0 ? 1 : 0;                     /* still in the plane: another window or none */
            arg[ny - 1] = (int32_t)(c->H * c->W);             /* outside the plane */
            if (ny > 2)
                arg[ny / 2] = -1;
            if (c->W / 2 > 1)
                arg[0] = 2; /* the next window's element */
        }
        fill_tricky(dx, nx, 23 + (uint64_t)variant);
        memcpy(ref_dx, dx, nx * sizeof *dx);
        int OHW = (c->H / 2) * (c->W / 2), HW = c->H * c->W;
        for (int pl = 0; pl < c->planes; pl++) {
            float *d = ref_dx + (size_t)pl * HW;
            if (!accum)
                memset(d, 0, (size_t)HW * sizeof *d);
            for (int o = 0; o < OHW; o++) {
                int32_t at = arg[(size_t)pl * OHW + o];
                if (at >= 0 && at < HW)
                    d[at] += dy[(size_t)pl * OHW + o];
            }
        }
        rt_params pb = pool_params(c, accum);
        cpu_kernel_args b = args_of(pool, &pb, dy, arg, dx, NULL);
        cpu_maxpool_bwd(&b);
        expect_bits(dx, ref_dx, nx * sizeof *dx, variant < 2 ? "maxpool dx" : "maxpool dx, foreign argmax", isa);
    }
    free(x), free(y), free(ref_y), free(dy), free(dx), free(ref_dx), free(arg), free(ref_arg);
}

/* The byte argmax (kernels.h format 1): the same winners as the int32
 * one, and backward from it, foreign values included (4 and up name no
 * element of a 2x2 window), against a plain decode-and-scatter. */
static void maxpool_bytes_case(cpu_pool *pool, const char *isa)
{
    const pool_case *c = cur_pool;
    int OH = c->H / 2, OW = c->W / 2;
    size_t nx = (size_t)c->planes * c->H * c->W, ny = (size_t)c->planes * OH * OW, words = (ny + 3) / 4;
    float *x = falloc(nx), *y = falloc(ny), *y8 = falloc(ny), *dy = falloc(ny);
    float *dx = falloc(nx), *ref_dx = falloc(nx);
    int32_t *arg = malloc(ny * sizeof *arg);
    uint8_t *arg8 = malloc(words * 4);
    assert_true(arg && arg8);
    pool_input(x, nx, 24);
    rt_params p = pool_params(c, 0);
    cpu_kernel_args a = args_of(pool, &p, x, y, arg, NULL);
    cpu_maxpool_fwd(&a);
    rt_params p8 = p;
    p8.i[12] = RT_ARGMAX_U8;
    a = args_of(pool, &p8, x, y8, arg8, NULL);
    a.sizes[2] = words * 4;
    cpu_maxpool_fwd(&a);
    expect_bits(y8, y, ny * sizeof *y, "maxpool y, byte argmax", isa);
    for (size_t o = 0; o < ny; o++) {
        int oh = (int)(o / (size_t)OW % (size_t)OH), ow = (int)(o % (size_t)OW);
        int rel = (arg[o] / c->W - 2 * oh) * 2 + arg[o] % c->W - 2 * ow;
        if (arg8[o] != rel)
            fail_msg("byte argmax (%s): output %zu is %d, expected %d", isa, o, arg8[o], rel);
    }
    fill_tricky(dy, ny, 25);
    for (int variant = 0; variant < 4; variant++) {
        int accum = variant & 1;
        if (variant == 2) { /* values that name nothing */
            arg8[0] = 4;
            arg8[ny - 1] = 255;
            arg8[ny / 2] = 200;
        }
        fill_tricky(dx, nx, 26 + (uint64_t)variant);
        memcpy(ref_dx, dx, nx * sizeof *dx);
        for (int pl = 0; pl < c->planes; pl++) {
            float *d = ref_dx + (size_t)pl * c->H * c->W;
            if (!accum)
                memset(d, 0, (size_t)c->H * c->W * sizeof *d);
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    size_t o = ((size_t)pl * OH + oh) * OW + ow;
                    if (arg8[o] < 4)
                        d[(2 * oh + arg8[o] / 2) * c->W + 2 * ow + arg8[o] % 2] += dy[o];
                }
        }
        rt_params pb = pool_params(c, accum);
        pb.i[12] = RT_ARGMAX_U8;
        cpu_kernel_args b = args_of(pool, &pb, dy, arg8, dx, NULL);
        b.sizes[1] = words * 4;
        cpu_maxpool_bwd(&b);
        expect_bits(dx, ref_dx, nx * sizeof *dx, variant < 2 ? "maxpool dx, byte argmax" : "maxpool dx, foreign bytes",
                    isa);
    }
    free(x), free(y), free(y8), free(dy), free(dx), free(ref_dx), free(arg), free(arg8);
}

/* Every window over 7 values that order ties and NaN differently. */
static void maxpool_exhaustive_case(cpu_pool *pool, const char *isa)
{
    static const float vals[7] = {NAN, -INFINITY, -1.0f, -0.0f, 0.0f, 1.0f, INFINITY};
    enum { WINDOWS = 7 * 7 * 7 * 7 };
    pool_case c = {1, 2, 2 * WINDOWS};
    float *x = falloc(4 * WINDOWS), *y = falloc(WINDOWS), *ref_y = falloc(WINDOWS);
    int32_t *arg = malloc(WINDOWS * sizeof *arg), *ref_arg = malloc(WINDOWS * sizeof *arg);
    assert_true(arg && ref_arg);
    for (int w = 0; w < WINDOWS; w++) {
        x[2 * w] = vals[w % 7];
        x[2 * w + 1] = vals[w / 7 % 7];
        x[2 * WINDOWS + 2 * w] = vals[w / 49 % 7];
        x[2 * WINDOWS + 2 * w + 1] = vals[w / 343];
    }
    ref_maxpool_fwd(&c, x, ref_y, ref_arg);
    rt_params p = pool_params(&c, 0);
    cpu_kernel_args a = args_of(pool, &p, x, y, arg, NULL);
    cpu_maxpool_fwd(&a);
    expect_bits(y, ref_y, WINDOWS * sizeof *y, "maxpool y, all windows", isa);
    expect_bits(arg, ref_arg, WINDOWS * sizeof *arg, "maxpool argmax, all windows", isa);
    free(x), free(y), free(ref_y), free(arg), free(ref_arg);
}

static void test_maxpool_2x2(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof pool_cases / sizeof pool_cases[0]; k++) {
        cur_pool = &pool_cases[k];
        for_each_config(maxpool_case);
        for_each_config(maxpool_bytes_case);
    }
    for_each_config(maxpool_exhaustive_case);
}

/* ---- ReLU and bias gradient (compiled per ISA by the compiler) ---- */

static void relu_case(cpu_pool *pool, const char *isa)
{
    size_t n = 100003;
    float *x = falloc(n), *y = falloc(n), *dy = falloc(n), *dx = falloc(n), *ref = falloc(n);
    pool_input(x, n, 31);
    fill_tricky(dy, n, 32);
    rt_params p;
    memset(&p, 0, sizeof p);
    p.i[0] = (int32_t)n, p.i[1] = RT_ACT_RELU;
    cpu_kernel_args a = args_of(pool, &p, x, y, NULL, NULL);
    cpu_act_fwd(&a);
    for (size_t i = 0; i < n; i++)
        ref[i] = x[i] < 0.0f ? 0.0f : x[i];
    expect_bits(y, ref, n * sizeof *y, "relu fwd", isa);
    for (int accum = 0; accum <= 1; accum++) {
        p.i[2] = accum;
        fill_tricky(dx, n, 33);
        for (size_t i = 0; i < n; i++)
            ref[i] = accum ? dx[i] + (y[i] > 0.0f ? dy[i] : 0.0f) : (y[i] > 0.0f ? dy[i] : 0.0f);
        cpu_kernel_args b = args_of(pool, &p, NULL, y, dy, dx);
        cpu_act_bwd(&b);
        expect_bits(dx, ref, n * sizeof *dx, accum ? "relu bwd accum" : "relu bwd", isa);
    }
    /* With the derivative mask, ReLU and ReLU6, out of place and in
     * place: the same y, the mask by the documented rule, and backward
     * from the mask as from y. */
    uint32_t *mask = malloc((n + 31) / 32 * 4), *ref_mask = malloc((n + 31) / 32 * 4);
    float *v = falloc(n);
    assert_true(mask && ref_mask);
    for (size_t i = 0; i < n; i++) /* reach ReLU6's upper kink, and sit on it */
        x[i] = i % 23 == 7 ? 6.0f : i % 4 == 1 ? 4.0f * x[i] : x[i];
    for (int act = RT_ACT_RELU; act <= RT_ACT_RELU6; act++)
        for (int in_place = 0; in_place <= 1; in_place++) {
            memset(ref_mask, 0, (n + 31) / 32 * 4);
            for (size_t i = 0; i < n; i++) {
                ref[i] = x[i] < 0.0f ? 0.0f : act == RT_ACT_RELU6 && x[i] > 6.0f ? 6.0f : x[i];
                bool on = act == RT_ACT_RELU ? ref[i] > 0.0f : ref[i] > 0.0f && ref[i] < 6.0f;
                ref_mask[i / 32] |= (uint32_t)on << (i % 32);
            }
            memset(&p, 0, sizeof p);
            p.i[0] = (int32_t)n, p.i[1] = act, p.i[2] = 1;
            memcpy(v, x, n * sizeof *v);
            memset(mask, 0xff, (n + 31) / 32 * 4);
            cpu_kernel_args a2 = args_of(pool, &p, in_place ? v : x, v, mask, NULL);
            cpu_act_fwd(&a2);
            expect_bits(v, ref, n * sizeof *v, in_place ? "relu fwd + mask, in place" : "relu fwd + mask", isa);
            expect_bits(mask, ref_mask, (n + 31) / 32 * 4, "relu mask", isa);
            memset(&p, 0, sizeof p);
            p.i[0] = (int32_t)n, p.i[1] = act, p.i[2] = in_place, p.i[3] = 1; /* accum: in_place */
            fill_tricky(dx, n, 34);
            for (size_t i = 0; i < n; i++) {
                float g = (ref_mask[i / 32] >> (i % 32)) & 1u ? dy[i] : 0.0f;
                ref[i] = in_place ? dx[i] + g : g;
            }
            cpu_kernel_args b = args_of(pool, &p, NULL, NULL, dy, dx);
            b.args[4] = mask, b.sizes[4] = 4;
            cpu_act_bwd(&b);
            expect_bits(dx, ref, n * sizeof *dx, "relu bwd from mask", isa);
        }
    free(mask), free(ref_mask), free(v);
    free(x), free(y), free(dy), free(dx), free(ref);
}

/* The documented order: per channel, image runs in order, each summed in
 * double over 8 lanes (tail first, then the lanes). */
static double ref_run(const float *x, int64_t n)
{
    double lane[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            lane[k] += x[i + k];
    double s = 0;
    for (; i < n; i++)
        s += x[i];
    for (int k = 0; k < 8; k++)
        s += lane[k];
    return s;
}

static void bias_grad_case(cpu_pool *pool, const char *isa)
{
    static const int shapes[][3] = {{64, 16, 784}, {7, 5, 196}, {5, 3, 13}, {3, 2, 7}, {9, 4, 2}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int outer = shapes[k][0], C = shapes[k][1], inner = shapes[k][2];
        size_t n = (size_t)outer * C * inner;
        float *dy = falloc(n), db[16], ref[16];
        tu_fill_uniform(dy, n, 40 + k, -1.0f, 1.0f);
        for (int accum = 0; accum <= 1; accum++) {
            for (int c = 0; c < C; c++) {
                db[c] = 0.25f * (float)c - 1.0f;
                double s = 0;
                for (int o = 0; o < outer; o++)
                    s += ref_run(dy + ((size_t)o * C + c) * inner, inner);
                ref[c] = accum ? (float)((double)db[c] + s) : (float)s;
            }
            rt_params p;
            memset(&p, 0, sizeof p);
            p.i[0] = outer, p.i[1] = C, p.i[2] = inner, p.i[3] = accum;
            cpu_kernel_args a = args_of(pool, &p, dy, db, NULL, NULL);
            cpu_bias_grad(&a);
            expect_bits(db, ref, (size_t)C * sizeof *db, "bias_grad", isa);
        }
        free(dy);
    }
}

static void test_relu(void **state)
{
    (void)state;
    for_each_config(relu_case);
}

static void test_bias_grad(void **state)
{
    (void)state;
    for_each_config(bias_grad_case);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_im2col_col2im),
        cmocka_unit_test(test_maxpool_2x2),
        cmocka_unit_test(test_relu),
        cmocka_unit_test(test_bias_grad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
