/* CPU-vs-Vulkan parity of the convolution and pooling kernels: IM2COL,
 * COL2IM, MAXPOOL_FWD/BWD, AVGPOOL_FWD/BWD, GAP_FWD/BWD, over odd sizes,
 * strides, padding, dilation, windows partly or wholly outside the input
 * (OH/OW beyond PyTorch's output size), count_include_pad both ways and
 * accum 0/1, with the validation layer on. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/status.h>

#include "test_util.h"
#include "vk_harness.h"

#define RTOL 1e-5
#define ATOL 1e-6

static void check(rt_kernel k, const rt_params *p, int nargs, const vkh_arg *args, double rtol, double atol,
                  const char *label)
{
    double worst = vkh_compare(k, p, nargs, args, rtol, atol, label);
    if (!(worst <= 1))
        fail_msg("%s: CPU and Vulkan differ (worst error / tolerance %g)", label, worst);
}

/* n distinct values spread over [lo, hi), in shuffled order. */
static float *distinct_values(size_t n, unsigned seed, float lo, float hi)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)((double)i / (double)n);
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = n; i > 1; i--) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        size_t j = (size_t)((s >> 33) % i);
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
    return x;
}

/* ---- im2col / col2im ---- */

typedef struct conv_case {
    int batch, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW;
    int OH, OW; /* 0: PyTorch's output size */
} conv_case;

static int conv_out(int n, int k, int s, int pad, int d)
{
    int o = (n + 2 * pad - d * (k - 1) - 1) / s + 1;
    return o > 0 ? o : 0;
}

static rt_params conv_params(const conv_case *c, size_t *x_elems, size_t *col_elems)
{
    rt_params p = {{0}, {0}};
    int oh = c->OH ? c->OH : conv_out(c->H, c->KH, c->SH, c->PH, c->DH);
    int ow = c->OW ? c->OW : conv_out(c->W, c->KW, c->SW, c->PW, c->DW);
    int v[14] = {c->batch, c->C, c->H, c->W, c->KH, c->KW, c->SH, c->SW, c->PH, c->PW, c->DH, c->DW, oh, ow};
    memcpy(p.i, v, sizeof v);
    *x_elems = (size_t)c->batch * c->C * c->H * c->W;
    *col_elems = (size_t)c->batch * c->C * c->KH * c->KW * oh * ow;
    return p;
}

static const conv_case conv_cases[] = {
    /* batch C  H   W  KH KW SH SW PH PW DH DW  OH OW */
    {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0},     /* a single element */
    {2, 3, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0},     /* 3x3 same padding, odd sizes */
    {1, 2, 8, 11, 3, 2, 2, 3, 1, 0, 2, 1, 0, 0},    /* stride 2x3, dilation 2x1 */
    {3, 1, 5, 5, 1, 1, 2, 2, 0, 0, 1, 1, 0, 0},     /* 1x1 stride 2 (downsample) */
    {2, 4, 13, 10, 5, 5, 2, 2, 2, 2, 1, 1, 0, 0},   /* 5x5 stride 2 */
    {1, 3, 9, 7, 3, 3, 2, 1, 2, 2, 2, 3, 0, 0},     /* dilation 2x3 with padding */
    {2, 2, 4, 5, 2, 2, 1, 1, 3, 3, 1, 1, 0, 0},     /* padding beyond the kernel: zero rows */
    {1, 2, 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, 5, 4},     /* OH/OW beyond PyTorch's: outside columns */
    {1, 1, 6, 8, 7, 9, 1, 1, 0, 0, 1, 1, 0, 0},     /* kernel larger than the image: no output */
    {2, 16, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0},  /* a realistic layer */
};
#define N_CONV (sizeof conv_cases / sizeof conv_cases[0])

static void test_im2col(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_CONV; t++) {
        size_t xn, cn;
        rt_params p = conv_params(&conv_cases[t], &xn, &cn);
        float *x = vkh_rand(xn, 100 + (unsigned)t, -1, 1);
        float *col = vkh_rand(cn, 200 + (unsigned)t, -1, 1); /* stale contents: all must be written */
        vkh_arg args[2] = {{xn, false, x}, {cn, false, col}};
        char label[64];
        snprintf(label, sizeof label, "im2col case %zu", t);
        check(RT_K_IM2COL, &p, 2, args, 0, 0, label); /* a pure copy: bit-exact */
        free(x);
        free(col);
    }
    vkh_assert_no_validation_messages();
}

/* More than 65535 workgroups of 128: the grid is folded into 2-D. */
static void test_im2col_folded_grid(void **state)
{
    (void)state;
    conv_case c = {4, 64, 24, 24, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0}; /* 4*64*9*576 = 1327104 items */
    c.batch = 8 * 4; /* 10.6M items > 65535 * 128 */
    size_t xn, cn;
    rt_params p = conv_params(&c, &xn, &cn);
    assert_true(cn > 65535u * 128u);
    float *x = vkh_rand(xn, 7, -1, 1);
    vkh_arg args[2] = {{xn, false, x}, {cn, false, NULL}};
    check(RT_K_IM2COL, &p, 2, args, 0, 0, "im2col folded grid");
    free(x);
    vkh_assert_no_validation_messages();
}

static void test_col2im(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_CONV; t++) {
        for (int accum = 0; accum < 2; accum++) {
            size_t xn, cn;
            rt_params p = conv_params(&conv_cases[t], &xn, &cn);
            p.i[14] = accum;
            float *col = vkh_rand(cn, 300 + (unsigned)t, -1, 1);
            float *dx = vkh_rand(xn, 400 + (unsigned)t, -1, 1);
            vkh_arg args[2] = {{cn, false, col}, {xn, false, dx}};
            char label[64];
            snprintf(label, sizeof label, "col2im case %zu accum %d", t, accum);
            check(RT_K_COL2IM, &p, 2, args, RTOL, ATOL, label);
            free(col);
            free(dx);
        }
    }
    vkh_assert_no_validation_messages();
}

/* ---- max / average pooling ---- */

typedef struct pool_case {
    int planes, H, W, KH, KW, SH, SW, PH, PW;
    int OH, OW; /* 0: PyTorch's output size (floor mode) */
} pool_case;

static rt_params pool_params(const pool_case *c, size_t *x_elems, size_t *y_elems)
{
    rt_params p = {{0}, {0}};
    int oh = c->OH ? c->OH : (c->H + 2 * c->PH - c->KH) / c->SH + 1;
    int ow = c->OW ? c->OW : (c->W + 2 * c->PW - c->KW) / c->SW + 1;
    int v[11] = {c->planes, c->H, c->W, c->KH, c->KW, c->SH, c->SW, c->PH, c->PW, oh, ow};
    memcpy(p.i, v, sizeof v);
    *x_elems = (size_t)c->planes * c->H * c->W;
    *y_elems = (size_t)c->planes * oh * ow;
    return p;
}

static const pool_case pool_cases[] = {
    /* planes H  W  KH KW SH SW PH PW OH OW */
    {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},     /* a single element */
    {6, 8, 8, 2, 2, 2, 2, 0, 0, 0, 0},     /* the common 2x2 stride 2 */
    {5, 9, 7, 3, 3, 2, 2, 1, 1, 0, 0},     /* 3x3 stride 2 pad 1, odd sizes (ResNet stem) */
    {3, 10, 11, 3, 2, 1, 1, 1, 1, 0, 0},   /* stride 1, overlapping windows */
    {4, 7, 9, 3, 5, 3, 2, 0, 2, 0, 0},     /* asymmetric kernel / stride / padding */
    {2, 5, 5, 2, 2, 2, 2, 0, 0, 3, 3},     /* ceil mode: last window partly outside */
    {2, 6, 5, 3, 3, 2, 2, 1, 1, 5, 4},     /* windows wholly outside: 0 and argmax -1 */
    {3, 4, 6, 4, 4, 1, 3, 2, 2, 0, 0},     /* windows mostly padding */
    {64, 17, 15, 3, 3, 2, 2, 1, 1, 0, 0},  /* many planes */
};
#define N_POOL (sizeof pool_cases / sizeof pool_cases[0])

/* The argmax format the max pool tests run with (i[12]): the *_bytes
 * tests repeat them with the byte argmax. */
static int g_format = RT_ARGMAX_I32;

static size_t argmax_words(size_t yn)
{
    return g_format == RT_ARGMAX_U8 ? (yn + 3) / 4 : yn;
}

static void test_maxpool_fwd(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_POOL; t++) {
        size_t xn, yn;
        rt_params p = pool_params(&pool_cases[t], &xn, &yn);
        p.i[12] = g_format;
        /* distinct values (so there is one argmax), and all negative so a
         * padded zero would win were padding considered */
        float *x = distinct_values(xn, 500 + (unsigned)t, -2, -1);
        int *stale = vkh_rand_int(yn, 3, 50);
        vkh_arg args[3] = {{xn, false, x}, {yn, false, NULL}, {argmax_words(yn), true, stale}};
        char label[64];
        snprintf(label, sizeof label, "maxpool_fwd case %zu", t);
        check(RT_K_MAXPOOL_FWD, &p, 3, args, 0, 0, label);
        free(x);
        free(stale);
    }
    vkh_assert_no_validation_messages();
}

/* Ties (the first max in row-major window order wins), NaNs (a NaN
 * wins), infinities. */
static void test_maxpool_fwd_ties_nan(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_POOL; t++) {
        size_t xn, yn;
        rt_params p = pool_params(&pool_cases[t], &xn, &yn);
        p.i[12] = g_format;
        int *q = vkh_rand_int(xn, 600 + (unsigned)t, 4);
        float *x = malloc(xn * sizeof *x), *x2 = malloc(xn * sizeof *x2);
        for (size_t i = 0; i < xn; i++) {
            x[i] = (float)q[i] - 3.0f; /* values -3..0: many ties */
            x2[i] = x[i];
            if (i % 7 == 3)
                x2[i] = NAN;
            else if (i % 11 == 5)
                x2[i] = -INFINITY;
            else if (i % 13 == 6)
                x2[i] = INFINITY;
        }
        for (int v = 0; v < 2; v++) {
            vkh_arg args[3] = {{xn, false, v ? x2 : x}, {yn, false, NULL}, {argmax_words(yn), true, NULL}};
            char label[64];
            snprintf(label, sizeof label, "maxpool_fwd %s case %zu", v ? "nan/inf" : "ties", t);
            check(RT_K_MAXPOOL_FWD, &p, 3, args, 0, 0, label);
        }
        free(q);
        free(x);
        free(x2);
    }
    vkh_assert_no_validation_messages();
}

/* Runs one launch on the CPU backend; outs[a] (when not NULL) receives
 * argument a afterwards. */
static void cpu_run(rt_kernel k, const rt_params *p, int nargs, const vkh_arg *args, void **outs)
{
    rt_backend *be = vkh_cpu();
    rt_buffer *bufs[RT_MAX_ARGS] = {0};
    rt_launch l = {.kernel = k, .nargs = nargs, .params = *p};
    for (int a = 0; a < nargs; a++) {
        assert_int_equal(rt_buffer_create(be, args[a].count * 4, &bufs[a]), VKT_OK);
        if (args[a].init)
            assert_int_equal(rt_upload(be, bufs[a], 0, args[a].init, args[a].count * 4), VKT_OK);
        l.args[a] = (rt_view){bufs[a], 0, args[a].count * 4};
    }
    rt_program *prog;
    assert_int_equal(rt_program_create(be, &l, 1, &prog), VKT_OK);
    assert_int_equal(rt_program_run(be, prog), VKT_OK);
    for (int a = 0; a < nargs; a++)
        if (outs[a])
            assert_int_equal(rt_download(be, bufs[a], 0, outs[a], args[a].count * 4), VKT_OK);
    rt_program_destroy(be, prog);
    for (int a = 0; a < nargs; a++)
        rt_buffer_destroy(be, bufs[a]);
}

/* argmax from MAXPOOL_FWD on the CPU backend (argmax_words(yn) words). */
static int *argmax_of(const rt_params *p, const float *x, size_t xn, size_t yn)
{
    int *arg = malloc((yn ? yn : 1) * sizeof *arg);
    if (!yn)
        return arg;
    vkh_arg args[3] = {{xn, false, x}, {yn, false, NULL}, {argmax_words(yn), true, NULL}};
    void *outs[3] = {NULL, NULL, arg};
    cpu_run(RT_K_MAXPOOL_FWD, p, 3, args, outs);
    return arg;
}

static void test_maxpool_bwd(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_POOL; t++) {
        for (int ties = 0; ties < 2; ties++) {
            size_t xn, yn;
            rt_params p = pool_params(&pool_cases[t], &xn, &yn);
            p.i[12] = g_format;
            float *x = distinct_values(xn, 700 + (unsigned)t, -2, -1);
            if (ties) /* few levels: with overlapping windows, elements win several */
                for (size_t i = 0; i < xn; i++)
                    x[i] = floorf(x[i] * 2.0f);
            int *arg = argmax_of(&p, x, xn, yn);
            size_t hw = (size_t)pool_cases[t].H * pool_cases[t].W;
            uint8_t *bytes = (uint8_t *)arg;
            int minus_one = 0;
            for (size_t o = 0; o < yn; o++)
                minus_one += g_format == RT_ARGMAX_U8 ? bytes[o] == 255 : arg[o] == -1;
            if (pool_cases[t].OH == 5) /* the case with windows wholly outside */
                assert_true(minus_one > 0);
            if (ties && yn > 2 && g_format == RT_ARGMAX_U8) { /* naming nothing in the window */
                bytes[yn / 2] = 254;
                bytes[yn - 1] = (uint8_t)(pool_cases[t].KH * pool_cases[t].KW);
            } else if (ties && yn > 2) { /* argmax outside the plane contributes nothing */
                arg[yn / 2] = (int)hw + 3;
                arg[yn - 1] = -7;
            }
            float *dy = vkh_rand(yn, 800 + (unsigned)t, -1, 1);
            float *dx = vkh_rand(xn, 900 + (unsigned)t, -1, 1);
            for (int accum = 0; accum < 2; accum++) {
                p.i[11] = accum;
                vkh_arg args[3] = {{yn, false, dy}, {argmax_words(yn), true, arg}, {xn, false, dx}};
                char label[80];
                snprintf(label, sizeof label, "maxpool_bwd case %zu%s accum %d", t, ties ? " ties" : "", accum);
                check(RT_K_MAXPOOL_BWD, &p, 3, args, RTOL, ATOL, label);
            }
            free(x);
            free(arg);
            free(dy);
            free(dx);
        }
    }
    vkh_assert_no_validation_messages();
}

static void test_avgpool_fwd(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_POOL; t++) {
        for (int include_pad = 0; include_pad < 2; include_pad++) {
            size_t xn, yn;
            rt_params p = pool_params(&pool_cases[t], &xn, &yn);
            p.i[11] = include_pad;
            float *x = vkh_rand(xn, 1000 + (unsigned)t, -1, 1);
            float *stale = vkh_rand(yn, 1100 + (unsigned)t, -1, 1);
            vkh_arg args[2] = {{xn, false, x}, {yn, false, stale}};
            char label[80];
            snprintf(label, sizeof label, "avgpool_fwd case %zu include_pad %d", t, include_pad);
            check(RT_K_AVGPOOL_FWD, &p, 2, args, RTOL, ATOL, label);
            free(x);
            free(stale);
        }
    }
    vkh_assert_no_validation_messages();
}

static void test_avgpool_bwd(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_POOL; t++) {
        for (int include_pad = 0; include_pad < 2; include_pad++) {
            for (int accum = 0; accum < 2; accum++) {
                size_t xn, yn;
                rt_params p = pool_params(&pool_cases[t], &xn, &yn);
                p.i[11] = include_pad;
                p.i[12] = accum;
                float *dy = vkh_rand(yn, 1200 + (unsigned)t, -1, 1);
                float *dx = vkh_rand(xn, 1300 + (unsigned)t, -1, 1);
                vkh_arg args[2] = {{yn, false, dy}, {xn, false, dx}};
                char label[80];
                snprintf(label, sizeof label, "avgpool_bwd case %zu include_pad %d accum %d", t, include_pad, accum);
                check(RT_K_AVGPOOL_BWD, &p, 2, args, RTOL, ATOL, label);
                free(dy);
                free(dx);
            }
        }
    }
    vkh_assert_no_validation_messages();
}

/* ---- global average pool ---- */

typedef struct gap_case {
    int planes, hw;
} gap_case;

static const gap_case gap_cases[] = {
    {1, 1}, {3, 7}, {4, 128}, {5, 129}, {2, 200}, {64, 49}, {16, 1000}, {8, 3136}, {1, 100003},
};
#define N_GAP (sizeof gap_cases / sizeof gap_cases[0])

static void test_gap_fwd(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_GAP; t++) {
        size_t n = (size_t)gap_cases[t].planes * gap_cases[t].hw, pl = (size_t)gap_cases[t].planes;
        rt_params p = {{0}, {0}};
        p.i[0] = gap_cases[t].planes;
        p.i[1] = gap_cases[t].hw;
        for (int mixed = 0; mixed < 2; mixed++) {
            /* mixed signs: means near zero, where only the absolute
             * tolerance (relative to the inputs' scale) is meaningful */
            float *x = mixed ? vkh_rand(n, 1400 + (unsigned)t, -1, 1) : vkh_rand(n, 1500 + (unsigned)t, 0.5f, 1.5f);
            float *stale = vkh_rand(pl, 3, -1, 1);
            vkh_arg args[2] = {{n, false, x}, {pl, false, stale}};
            char label[64];
            snprintf(label, sizeof label, "gap_fwd case %zu%s", t, mixed ? " mixed" : "");
            check(RT_K_GAP_FWD, &p, 2, args, RTOL, mixed ? 1e-7 : 0, label);
            free(x);
            free(stale);
        }
    }
    vkh_assert_no_validation_messages();
}

/* Inputs whose float sum cancels badly: the compensated sum keeps the
 * double result; inf and NaN propagate as in the double sum. */
static void test_gap_fwd_hard(void **state)
{
    (void)state;
    enum { HW = 300, PL = 4 };
    float *x = malloc(PL * HW * sizeof *x);
    for (int j = 0; j < HW; j++) {
        x[0 * HW + j] = (j % 2 ? -1.0f : 1.0f) * (1e7f + (float)j); /* large cancelling terms */
        x[1 * HW + j] = j == 17 ? INFINITY : 1.0f;
        x[2 * HW + j] = j == 250 ? NAN : 1.0f;
        x[3 * HW + j] = j == 0 ? 1e8f : (j == HW - 1 ? -1e8f : 0.001f * (float)j);
    }
    rt_params p = {{0}, {0}};
    p.i[0] = PL;
    p.i[1] = HW;
    vkh_arg args[2] = {{PL * HW, false, x}, {PL, false, NULL}};
    check(RT_K_GAP_FWD, &p, 2, args, RTOL, 0, "gap_fwd hard");
    free(x);
    vkh_assert_no_validation_messages();
}

/* More than 65535 rows: the grid of workgroups is folded into 2-D. */
static void test_gap_fwd_folded_grid(void **state)
{
    (void)state;
    enum { PL = 70001, HW = 3 };
    float *x = vkh_rand(PL * HW, 5, 0.5f, 1.5f);
    rt_params p = {{0}, {0}};
    p.i[0] = PL;
    p.i[1] = HW;
    vkh_arg args[2] = {{PL * HW, false, x}, {PL, false, NULL}};
    check(RT_K_GAP_FWD, &p, 2, args, RTOL, 0, "gap_fwd folded grid");
    free(x);
    vkh_assert_no_validation_messages();
}

static void test_gap_bwd(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_GAP; t++) {
        size_t n = (size_t)gap_cases[t].planes * gap_cases[t].hw, pl = (size_t)gap_cases[t].planes;
        for (int accum = 0; accum < 2; accum++) {
            rt_params p = {{0}, {0}};
            p.i[0] = gap_cases[t].planes;
            p.i[1] = gap_cases[t].hw;
            p.i[2] = accum;
            float *dy = vkh_rand(pl, 1600 + (unsigned)t, -1, 1);
            float *dx = vkh_rand(n, 1700 + (unsigned)t, -1, 1);
            vkh_arg args[2] = {{pl, false, dy}, {n, false, dx}};
            char label[64];
            snprintf(label, sizeof label, "gap_bwd case %zu accum %d", t, accum);
            check(RT_K_GAP_BWD, &p, 2, args, RTOL, ATOL, label);
            free(dy);
            free(dx);
        }
    }
    vkh_assert_no_validation_messages();
}

static void test_maxpool_bytes(void **state)
{
    g_format = RT_ARGMAX_U8;
    test_maxpool_fwd(state);
    test_maxpool_fwd_ties_nan(state);
    test_maxpool_bwd(state);
    g_format = RT_ARGMAX_I32;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_im2col),
        cmocka_unit_test(test_im2col_folded_grid),
        cmocka_unit_test(test_col2im),
        cmocka_unit_test(test_maxpool_fwd),
        cmocka_unit_test(test_maxpool_fwd_ties_nan),
        cmocka_unit_test(test_maxpool_bwd),
        cmocka_unit_test(test_maxpool_bytes),
        cmocka_unit_test(test_avgpool_fwd),
        cmocka_unit_test(test_avgpool_bwd),
        cmocka_unit_test(test_gap_fwd),
        cmocka_unit_test(test_gap_fwd_hard),
        cmocka_unit_test(test_gap_fwd_folded_grid),
        cmocka_unit_test(test_gap_bwd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
