/* CPU-vs-Vulkan parity of the element-wise kernels: activations (forward
 * and backward), add, copy2d, bias gradient, dropout and embedding.
 *
 * Tolerances (vkh_compare: |vk - cpu| <= atol + rtol |cpu|):
 *  - exact (0, 0) for everything that only moves, adds or selects floats
 *    (ReLU/ReLU6, add, copy2d, dropout, embedding), and for dropout that
 *    includes the scale: the mask and every kept value match bit for bit;
 *  - transcendental activations: rtol 1e-6 (8 ulp), atol 1e-30 forward
 *    (both sides underflow differently far in the tails) and 1e-7 backward
 *    (the derivatives of GELU and SiLU cross zero, where relative error is
 *    meaningless; dy is O(1)). The shaders mirror the CPU's polynomials
 *    operation for operation, so the difference is the division's rounding;
 *  - bias gradient: rtol 1e-6 plus atol 4 ulp of the largest channel's
 *    sum of |dy| (see bias_grad_atol: the CPU's [rows, C] path sums groups
 *    of rows in float; the shader is within about an ulp of the exact sum).
 * Denormal inputs may be flushed by a device (Vulkan allows it), so the
 * exact checks carry atol FLT_MIN where the inputs include denormals. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "vk_harness.h"

#define TRANS_RTOL 1e-6
#define FWD_ATOL 1e-30
#define BWD_ATOL 1e-7

static const char *const act_names[] = {"relu", "relu6", "gelu", "silu", "sigmoid", "tanh"};

static bool act_is_piecewise(int act)
{
    return act == RT_ACT_RELU || act == RT_ACT_RELU6;
}

/* Special values first (large magnitudes, kinks, the switch points of the
 * approximations, NaN, inf, a denormal), then a dense sweep of [-12, 12],
 * then wide random values. */
static float *act_inputs(size_t n, unsigned seed)
{
    static const float special[] = {
        NAN, INFINITY, -INFINITY, 1e30f, -1e30f, 1e10f, -1e10f, 100, -100, 88.5f, -88.5f, 88.3f, -88.3f, 87.5f,
        -87.5f, 87.3f, -87.3f, 44.2f, -44.2f, 30, -30, 20, -20, 10, -10, 9.5f, -9.5f, 5, -5, 6, -6, 6.0000005f,
        5.9999995f, 0, -0.0f, 1e-6f, -1e-6f, 1e-30f, -1e-30f, 1e-40f, -1e-40f, 0.625f, -0.625f, 0.6249999f,
        -0.6249999f, 1.4142135f, -1.4142135f, 1.4142137f, -1.4142137f, -0.7517916f, -1.2784646f, 7.07f, -7.07f,
        13.5f, -13.5f, 1, -1, 0.5f, -0.5f, 3, -3};
    size_t ns = sizeof special / sizeof special[0];
    float *x = vkh_rand(n, seed, -40, 40);
    memcpy(x, special, (ns < n ? ns : n) * sizeof *x);
    size_t dense = n > ns ? (n - ns) / 2 : 0;
    for (size_t i = 0; i < dense; i++)
        x[ns + i] = -12.0f + 24.0f * (float)i / (float)(dense ? dense : 1);
    return x;
}

static double act_fwd_case(int act, size_t n, unsigned seed)
{
    float *x = act_inputs(n, seed);
    rt_params p = {{0}, {0}};
    p.i[0] = (int)n;
    p.i[1] = act;
    vkh_arg args[2] = {{n, false, x}, {n, false, NULL}};
    char label[64];
    snprintf(label, sizeof label, "act_fwd %s n=%zu", act_names[act], n);
    double worst = act_is_piecewise(act) ? vkh_compare(RT_K_ACT_FWD, &p, 2, args, 0, FLT_MIN, label)
                                         : vkh_compare(RT_K_ACT_FWD, &p, 2, args, TRANS_RTOL, FWD_ATOL, label);
    free(x);
    return worst;
}

static void test_act_fwd(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 61, 129, 4099};
    for (int act = RT_ACT_RELU; act <= RT_ACT_TANH; act++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
            if (!(act_fwd_case(act, sizes[k], 11 + (unsigned)k) <= 1))
                fail_msg("act_fwd %s n=%zu", act_names[act], sizes[k]);
    vkh_assert_no_validation_messages();
}

/* More than 128 * 1000 items: a multi-group dispatch. */
static void test_act_fwd_large(void **state)
{
    (void)state;
    const int acts[] = {RT_ACT_RELU, RT_ACT_GELU, RT_ACT_TANH};
    for (size_t k = 0; k < 3; k++)
        if (!(act_fwd_case(acts[k], 200003, 5) <= 1))
            fail_msg("act_fwd %s large", act_names[acts[k]]);
    vkh_assert_no_validation_messages();
}

/* y as the forward gives it (the derivative of RELU, RELU6, SIGMOID, TANH
 * reads y), computed here with libm; the parity test does not depend on
 * y being exactly act(x). RELU6 gets exact 0 and 6 plateaus. */
static float act_y(int act, float x)
{
    switch (act) {
    case RT_ACT_RELU:
        return x < 0 ? 0 : x;
    case RT_ACT_RELU6:
        return x < 0 ? 0 : x > 6 ? 6 : x;
    case RT_ACT_SIGMOID:
        return 1.0f / (1.0f + expf(-x));
    case RT_ACT_TANH:
        return tanhf(x);
    default:
        return x * 0.5f; /* unused by GELU and SILU */
    }
}

static bool act_bwd_case(int act, size_t n, int accum, bool both_inputs, unsigned seed)
{
    float *x = act_inputs(n, seed), *y = malloc(n * sizeof *y);
    float *dy = vkh_rand(n, seed + 1, -2, 2), *dx = vkh_rand(n, seed + 2, -1, 1);
    for (size_t i = 0; i < n; i++)
        y[i] = act_y(act, x[i]);
    if (n > 2) { /* dy that is large or non-finite on a few elements */
        dy[n - 1] = 1e30f;
        dy[n - 2] = NAN;
    }
    bool reads_x = act == RT_ACT_GELU || act == RT_ACT_SILU;
    rt_params p = {{0}, {0}};
    p.i[0] = (int)n;
    p.i[1] = act;
    p.i[2] = accum;
    vkh_arg args[4] = {{both_inputs || reads_x ? n : 0, false, x},
                       {both_inputs || !reads_x ? n : 0, false, y},
                       {n, false, dy},
                       {n, false, dx}};
    char label[96];
    snprintf(label, sizeof label, "act_bwd %s n=%zu accum=%d%s", act_names[act], n, accum,
             both_inputs ? " (x and y)" : "");
    double worst = act_is_piecewise(act) ? vkh_compare(RT_K_ACT_BWD, &p, 4, args, 0, FLT_MIN, label)
                                         : vkh_compare(RT_K_ACT_BWD, &p, 4, args, TRANS_RTOL, BWD_ATOL, label);
    free(x);
    free(y);
    free(dy);
    free(dx);
    return worst <= 1;
}

static void test_act_bwd(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 129, 4099};
    for (int act = RT_ACT_RELU; act <= RT_ACT_TANH; act++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
            for (int accum = 0; accum < 2; accum++)
                if (!act_bwd_case(act, sizes[k], accum, false, 21 + (unsigned)k))
                    fail_msg("act_bwd %s n=%zu accum=%d", act_names[act], sizes[k], accum);
    for (int act = RT_ACT_RELU; act <= RT_ACT_TANH; act++)
        if (!act_bwd_case(act, 333, 1, true, 40))
            fail_msg("act_bwd %s with both inputs", act_names[act]);
    assert_true(act_bwd_case(RT_ACT_SILU, 200003, 1, false, 50));
    vkh_assert_no_validation_messages();
}

/* act_inputs without denormals: a device may flush them to zero (Vulkan
 * allows it), which moves a mask bit, not just a value by FLT_MIN. */
static float *mask_inputs(size_t n, unsigned seed)
{
    float *x = act_inputs(n, seed);
    for (size_t i = 0; i < n; i++)
        if (x[i] != 0 && fabsf(x[i]) < FLT_MIN)
            x[i] = 0;
    return x;
}

/* write_mask: y and every mask word (bits past count 0) as the CPU's. */
static void test_act_fwd_mask(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 31, 32, 33, 4099, 200003};
    for (int act = RT_ACT_RELU; act <= RT_ACT_RELU6; act++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t n = sizes[k], words = (n + 31) / 32;
            float *x = mask_inputs(n, 80 + (unsigned)k);
            int *junk = vkh_rand_int(words, 81, 1 << 30); /* every word must be written */
            rt_params p = {{0}, {0}};
            p.i[0] = (int)n, p.i[1] = act, p.i[2] = 1;
            vkh_arg args[3] = {{n, false, x}, {n, false, NULL}, {words, true, junk}};
            char label[64];
            snprintf(label, sizeof label, "act_fwd %s write_mask n=%zu", act_names[act], n);
            if (vkh_compare(RT_K_ACT_FWD, &p, 3, args, 0, 0, label) != 0)
                fail_msg("%s", label);
            free(x);
            free(junk);
        }
    vkh_assert_no_validation_messages();
}

/* from_mask: any bits (those past count ignored), both accum modes. */
static void test_act_bwd_mask(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 31, 32, 33, 4099, 200003};
    for (int act = RT_ACT_RELU; act <= RT_ACT_RELU6; act++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
            for (int accum = 0; accum <= 1; accum++) {
                size_t n = sizes[k], words = (n + 31) / 32;
                int *mask = vkh_rand_int(words, 90 + (unsigned)k, 1 << 30);
                for (size_t w = 0; w < words; w++)
                    mask[w] = (int)((unsigned)mask[w] << 2 | (unsigned)(w & 3)); /* all 32 bits vary */
                float *dy = vkh_rand(n, 91, -2, 2), *dx = vkh_rand(n, 92, -1, 1);
                dy[0] = -0.0f; /* a masked-off -0 gives +0, a kept one -0 */
                rt_params p = {{0}, {0}};
                p.i[0] = (int)n, p.i[1] = act, p.i[2] = accum, p.i[3] = 1;
                vkh_arg args[5] = {{0, false, NULL}, {0, false, NULL}, {n, false, dy}, {n, false, dx},
                                   {words, true, mask}};
                char label[80];
                snprintf(label, sizeof label, "act_bwd %s from_mask n=%zu accum=%d", act_names[act], n, accum);
                if (vkh_compare(RT_K_ACT_BWD, &p, 5, args, 0, 0, label) != 0)
                    fail_msg("%s", label);
                free(mask);
                free(dy);
                free(dx);
            }
    vkh_assert_no_validation_messages();
}

/* x and y one view: every activation, and ReLU/ReLU6 with a mask. */
static void test_act_fwd_in_place(void **state)
{
    (void)state;
    const size_t n = 4099, words = (n + 31) / 32;
    const int shares[3] = {0, 1, 0};
    for (int act = RT_ACT_RELU; act <= RT_ACT_TANH; act++)
        for (int with_mask = 0; with_mask <= act_is_piecewise(act); with_mask++) {
            float *x = with_mask ? mask_inputs(n, 100) : act_inputs(n, 100);
            rt_params p = {{0}, {0}};
            p.i[0] = (int)n, p.i[1] = act, p.i[2] = with_mask;
            vkh_arg args[3] = {{n, false, x}, {0, false, NULL}, {with_mask ? words : 0, true, NULL}};
            char label[64];
            snprintf(label, sizeof label, "act_fwd %s in place%s", act_names[act], with_mask ? ", mask" : "");
            double worst = act_is_piecewise(act)
                               ? vkh_compare_shared(RT_K_ACT_FWD, &p, 3, args, shares, 0, FLT_MIN, label)
                               : vkh_compare_shared(RT_K_ACT_FWD, &p, 3, args, shares, TRANS_RTOL, FWD_ATOL, label);
            if (!(worst <= 1))
                fail_msg("%s", label);
            free(x);
        }
    vkh_assert_no_validation_messages();
}

static void test_add_in_place(void **state)
{
    (void)state;
    const size_t n = 200003;
    float *a = vkh_rand(n, 110, -1e3f, 1e3f), *b = vkh_rand(n, 111, -1, 1);
    rt_params p = {{0}, {0}};
    p.i[0] = (int)n;
    vkh_arg args[3] = {{n, false, a}, {n, false, b}, {0, false, NULL}};
    const int over_a[3] = {0, 0, 1}, over_b[3] = {0, 0, 2};
    assert_true(vkh_compare_shared(RT_K_ADD, &p, 3, args, over_a, 0, 0, "add in place over a") == 0);
    assert_true(vkh_compare_shared(RT_K_ADD, &p, 3, args, over_b, 0, 0, "add in place over b") == 0);
    free(a);
    free(b);
    vkh_assert_no_validation_messages();
}

static void test_add(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 127, 128, 129, 1001, 200003};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        float *a = vkh_rand(n, 60 + (unsigned)k, -1e3f, 1e3f), *b = vkh_rand(n, 70 + (unsigned)k, -1, 1);
        if (n > 3) {
            a[0] = INFINITY, b[0] = -INFINITY; /* NaN */
            a[1] = 3e38f, b[1] = 3e38f;        /* overflow */
            a[2] = NAN;
        }
        rt_params p = {{0}, {0}};
        p.i[0] = (int)n;
        vkh_arg args[3] = {{n, false, a}, {n, false, b}, {n, false, NULL}};
        assert_true(vkh_compare(RT_K_ADD, &p, 3, args, 0, 0, "add") == 0);
        free(a);
        free(b);
    }
    vkh_assert_no_validation_messages();
}

static void test_copy2d(void **state)
{
    (void)state;
    /* rows, cols, src_stride, dst_stride, src_off, dst_off */
    const int cases[][6] = {
        {7, 5, 9, 6, 3, 2},
        {1, 1000, 1000, 1000, 0, 0},
        {300, 1, 2, 3, 1, 4},
        {4, 8, 8, 8, 0, 0},
        {3, 129, 200, 129, 71, 0},
        {513, 333, 400, 350, 17, 5}, /* 170829 items: multi-group */
        {0, 5, 5, 5, 0, 0},
        {5, 0, 5, 5, 0, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const int *c = cases[k];
        size_t rows = (size_t)c[0], cols = (size_t)c[1];
        size_t src_n = (size_t)c[4] + (rows ? (rows - 1) * (size_t)c[2] : 0) + cols + 3;
        size_t dst_n = (size_t)c[5] + (rows ? (rows - 1) * (size_t)c[3] : 0) + cols + 2;
        float *src = vkh_rand(src_n, 80 + (unsigned)k, -1, 1), *dst = vkh_rand(dst_n, 90 + (unsigned)k, -1, 1);
        for (int accum = 0; accum < 2; accum++) {
            rt_params p = {{0}, {0}};
            memcpy(p.i, c, sizeof cases[0]);
            p.i[6] = accum;
            vkh_arg args[2] = {{src_n, false, src}, {dst_n, false, dst}};
            char label[64];
            snprintf(label, sizeof label, "copy2d case %zu accum=%d", k, accum);
            assert_true(vkh_compare(RT_K_COPY2D, &p, 2, args, 0, 0, label) == 0);
        }
        free(src);
        free(dst);
    }
    vkh_assert_no_validation_messages();
}

/* The CPU adds [rows, C] inputs (inner 1) in float over groups of 32
 * rows, so its own error is a few float ulp of the magnitudes summed,
 * not of the result (which may cancel to near zero): the absolute
 * tolerance is 4 ulp of the largest sum of |dy| over a channel, plus the
 * 1e-6 relative one. */
static double bias_grad_atol(const float *dy, int outer, int C, int inner)
{
    double worst = 0;
    for (int c = 0; c < C; c++) {
        double s = 0;
        for (int n = 0; n < outer; n++)
            for (int j = 0; j < inner; j++)
                s += fabs(dy[((size_t)n * C + c) * inner + j]);
        worst = s > worst ? s : worst;
    }
    return 4 * FLT_EPSILON * worst + 1e-30;
}

static void test_bias_grad(void **state)
{
    (void)state;
    /* outer, C, inner */
    const int cases[][3] = {
        {64, 37, 1}, {1000, 3, 1}, {1, 1, 1},    {5, 3, 7}, {2, 4, 129}, {3, 5, 300},
        {7, 130, 49}, {2, 2, 1000}, {33, 1, 127}, {0, 3, 4}, {4, 3, 0}, /* the last two: empty sums */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const int *c = cases[k];
        size_t n = (size_t)c[0] * (size_t)c[1] * (size_t)c[2], C = (size_t)c[1];
        float *dy = vkh_rand(n, 100 + (unsigned)k, -1, 1), *db = vkh_rand(C, 110 + (unsigned)k, -5, 5);
        for (size_t i = 0; i < n; i += 3) /* mixed magnitudes: rounding matters */
            dy[i] *= 1000.0f;
        double atol = bias_grad_atol(dy, c[0], c[1], c[2]);
        for (int accum = 0; accum < 2; accum++) {
            rt_params p = {{0}, {0}};
            p.i[0] = c[0], p.i[1] = c[1], p.i[2] = c[2], p.i[3] = accum;
            vkh_arg args[2] = {{n, false, dy}, {C, false, db}};
            char label[80];
            snprintf(label, sizeof label, "bias_grad %dx%dx%d accum=%d", c[0], c[1], c[2], accum);
            assert_true(vkh_compare(RT_K_BIAS_GRAD, &p, 2, args, 1e-6, atol, label) <= 1);
        }
        free(dy);
        free(db);
    }
    vkh_assert_no_validation_messages();
}

/* A channel holding inf or NaN sums to inf or NaN, as on the CPU. */
static void test_bias_grad_nonfinite(void **state)
{
    (void)state;
    const int outer = 3, C = 4, inner = 200;
    size_t n = (size_t)outer * C * inner;
    float *dy = vkh_rand(n, 120, -1, 1);
    dy[(size_t)(1 * C + 0) * inner + 17] = INFINITY;   /* channel 0: +inf */
    dy[(size_t)(2 * C + 1) * inner + 150] = -INFINITY; /* channel 1: -inf */
    dy[(size_t)(0 * C + 2) * inner + 3] = NAN;         /* channel 2: NaN */
    rt_params p = {{0}, {0}};
    p.i[0] = outer, p.i[1] = C, p.i[2] = inner;
    vkh_arg args[2] = {{n, false, dy}, {(size_t)C, false, NULL}};
    assert_true(vkh_compare(RT_K_BIAS_GRAD, &p, 2, args, 1e-6, 1e-6, "bias_grad non-finite") <= 1);
    free(dy);
    vkh_assert_no_validation_messages();
}

static void run_dropout(rt_kernel k, size_t n, float p_drop, uint32_t seed, int salt, int accum, int first)
{
    float *x = vkh_rand(n, seed, -3, 3), *y = vkh_rand(n, seed + 1, -1, 1);
    if (n > 4) {
        x[1] = NAN;
        x[2] = INFINITY;
        x[3] = -0.0f;
    }
    uint32_t scalars[RT_SC_COUNT] = {0};
    scalars[RT_SC_SEED] = seed;
    rt_params p = {{0}, {0}};
    p.i[0] = (int)n;
    p.i[1] = salt;
    p.i[2] = accum;
    p.i[3] = first;
    p.f[0] = p_drop;
    vkh_arg args[3] = {{n, false, x}, {n, false, k == RT_K_DROPOUT_BWD ? y : NULL}, {RT_SC_COUNT, true, scalars}};
    char label[96];
    snprintf(label, sizeof label, "%s n=%zu p=%g seed=%u salt=%d accum=%d",
             k == RT_K_DROPOUT_FWD ? "dropout_fwd" : "dropout_bwd", n, (double)p_drop, seed, salt, accum);
    /* Tolerance 0: the same elements are zero and every kept one is equal. */
    if (vkh_compare(k, &p, 3, args, 0, 0, label) != 0)
        fail_msg("%s differs", label);
    free(x);
    free(y);
}

static const float drop_ps[] = {0.0f, 0.1f, 0.3333333f, 0.5f, 0.9f, 0.999f, 1.0f};

static void test_dropout_fwd(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof drop_ps / sizeof drop_ps[0]; k++)
        run_dropout(RT_K_DROPOUT_FWD, 1001, drop_ps[k], 7 + (uint32_t)k, (int)k, 0, 0);
    run_dropout(RT_K_DROPOUT_FWD, 1, 0.5f, 3, 1, 0, 0);
    run_dropout(RT_K_DROPOUT_FWD, 200003, 0.25f, 0xdeadbeefu, -5, 0, 0);
    run_dropout(RT_K_DROPOUT_FWD, 1001, 0.5f, 9, 2, 0, 123457); /* a part of a larger batch */
    vkh_assert_no_validation_messages();
}

static void test_dropout_bwd(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof drop_ps / sizeof drop_ps[0]; k++)
        for (int accum = 0; accum < 2; accum++)
            run_dropout(RT_K_DROPOUT_BWD, 1001, drop_ps[k], 17 + (uint32_t)k, 3 * (int)k, accum, 0);
    run_dropout(RT_K_DROPOUT_BWD, 200003, 0.25f, 0xdeadbeefu, -5, 1, 0);
    vkh_assert_no_validation_messages();
}

/* The mask itself, as a property: dropout of ones is 0 or 1/(1-p) exactly
 * where the CPU draws it, and the kept fraction is about 1 - p. */
static void test_dropout_mask(void **state)
{
    (void)state;
    const size_t n = 50001;
    const float p_drop = 0.3f;
    float *ones = malloc(n * sizeof *ones), *out = malloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        ones[i] = 1.0f;
    uint32_t scalars[RT_SC_COUNT] = {0};
    scalars[RT_SC_SEED] = 99;
    rt_backend *vk = vkh_vulkan();
    assert_non_null(vk);
    rt_buffer *bx, *by, *bs;
    assert_int_equal(rt_buffer_create(vk, n * 4, &bx), VKT_OK);
    assert_int_equal(rt_buffer_create(vk, n * 4, &by), VKT_OK);
    assert_int_equal(rt_buffer_create(vk, sizeof scalars, &bs), VKT_OK);
    assert_int_equal(rt_upload(vk, bx, 0, ones, n * 4), VKT_OK);
    assert_int_equal(rt_upload(vk, bs, 0, scalars, sizeof scalars), VKT_OK);
    rt_launch l = {.kernel = RT_K_DROPOUT_FWD, .nargs = 3};
    l.args[0] = (rt_view){bx, 0, n * 4};
    l.args[1] = (rt_view){by, 0, n * 4};
    l.args[2] = (rt_view){bs, 0, sizeof scalars};
    l.params.i[0] = (int)n;
    l.params.i[1] = 4;
    l.params.f[0] = p_drop;
    rt_program *prog;
    assert_int_equal(rt_program_create(vk, &l, 1, &prog), VKT_OK);
    assert_int_equal(rt_program_run(vk, prog), VKT_OK);
    assert_int_equal(rt_download(vk, by, 0, out, n * 4), VKT_OK);
    const float scale = 1.0f / (1.0f - p_drop);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        bool keep = rt_hash_uniform(99, 4, (uint32_t)i) >= p_drop;
        if (memcmp(&out[i], keep ? &scale : &(float){0.0f}, 4) != 0)
            fail_msg("element %zu: %.9g (keep %d)", i, (double)out[i], keep);
        kept += keep;
    }
    assert_true(fabs((double)kept / n - (1 - p_drop)) < 0.01);
    rt_program_destroy(vk, prog);
    rt_buffer_destroy(vk, bx);
    rt_buffer_destroy(vk, by);
    rt_buffer_destroy(vk, bs);
    free(ones);
    free(out);
    vkh_assert_no_validation_messages();
}

/* Indices in [0, bound) with out-of-range ones (-1, num) sprinkled in. */
static int *embed_indices(size_t rows, int bound, int num, unsigned seed)
{
    int *idx = vkh_rand_int(rows, seed, bound);
    for (size_t r = 5; r < rows; r += 11)
        idx[r] = (r / 11) % 2 ? -1 : num;
    return idx;
}

static void test_embed_fwd(void **state)
{
    (void)state;
    /* rows, num, dim */
    const int cases[][3] = {{37, 11, 19}, {1, 1, 1}, {200, 7, 128}, {1000, 50, 131} /* 131000 items */, {5, 3, 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t rows = (size_t)cases[k][0], num = (size_t)cases[k][1], dim = (size_t)cases[k][2];
        int *idx = embed_indices(rows, (int)num, (int)num, 130 + (unsigned)k);
        float *w = vkh_rand(num * dim, 140 + (unsigned)k, -1, 1), *y = vkh_rand(rows * dim, 150, -1, 1);
        rt_params p = {{0}, {0}};
        p.i[0] = (int)rows, p.i[1] = (int)num, p.i[2] = (int)dim;
        vkh_arg args[3] = {{rows, true, idx}, {num * dim, false, w}, {rows * dim, false, y}};
        assert_true(vkh_compare(RT_K_EMBED_FWD, &p, 3, args, 0, 0, "embed_fwd") == 0);
        free(idx);
        free(w);
        free(y);
    }
    vkh_assert_no_validation_messages();
}

/* Repeated indices, rows no index names, out-of-range indices, more rows
 * than a workgroup stages at once; exact: the shader adds in row order. */
static void test_embed_bwd(void **state)
{
    (void)state;
    /* rows, num, dim, bound of the drawn indices */
    const int cases[][4] = {
        {300, 9, 33, 7}, {1, 1, 1, 1}, {129, 4, 200, 4}, {200, 1000, 131, 1000} /* 131000 dW items */, {64, 5, 3, 2},
        {0, 4, 3, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t rows = (size_t)cases[k][0], num = (size_t)cases[k][1], dim = (size_t)cases[k][2];
        int *idx = embed_indices(rows, cases[k][3], (int)num, 160 + (unsigned)k);
        float *dy = vkh_rand(rows * dim, 170 + (unsigned)k, -1, 1), *dw = vkh_rand(num * dim, 180, -1, 1);
        for (size_t i = 0; i < rows * dim; i += 5) /* mixed magnitudes: the order of additions shows */
            dy[i] *= 4096.0f;
        for (int accum = 0; accum < 2; accum++) {
            rt_params p = {{0}, {0}};
            p.i[0] = (int)rows, p.i[1] = (int)num, p.i[2] = (int)dim, p.i[3] = accum;
            vkh_arg args[3] = {{rows, true, idx}, {rows * dim, false, dy}, {num * dim, false, dw}};
            char label[80];
            snprintf(label, sizeof label, "embed_bwd %zux%zux%zu accum=%d", rows, num, dim, accum);
            assert_true(vkh_compare(RT_K_EMBED_BWD, &p, 3, args, 0, 0, label) == 0);
        }
        free(idx);
        free(dy);
        free(dw);
    }
    vkh_assert_no_validation_messages();
}

static void test_gather_scatter_rows(void **state)
{
    (void)state;
    /* items, rows, k, width */
    const int cases[][4] = {{1, 5, 2, 3}, {64, 16, 5, 196}, {1, 1568, 1, 10}, {3, 7, 4, 1}, {2, 3, 3, 129}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t items = (size_t)cases[c][0], rows = (size_t)cases[c][1], k = (size_t)cases[c][2];
        size_t width = (size_t)cases[c][3];
        int *idx = vkh_rand_int(k, 170 + (unsigned)c, 1);
        for (size_t r = 0; r < k; r++) /* distinct, unsorted, one out of range when k > 2 */
            idx[r] = (int)((rows - 1 - r * 3) % rows);
        if (k > 2)
            idx[1] = (int)rows + 4;
        float *src = vkh_rand(items * rows * width, 180 + (unsigned)c, -1, 1);
        float *dst = vkh_rand(items * rows * width, 190 + (unsigned)c, -1, 1);
        float *packed = vkh_rand(items * k * width, 200 + (unsigned)c, -1, 1);
        rt_params p = {{0}, {0}};
        p.i[0] = (int)items, p.i[1] = (int)rows, p.i[2] = (int)k, p.i[3] = (int)width;
        vkh_arg ga[3] = {{items * rows * width, false, src}, {k, true, idx}, {items * k * width, false, packed}};
        assert_true(vkh_compare(RT_K_GATHER_ROWS, &p, 3, ga, 0, 0, "gather_rows") == 0);
        vkh_arg sa[3] = {{items * k * width, false, packed}, {k, true, idx}, {items * rows * width, false, dst}};
        assert_true(vkh_compare(RT_K_SCATTER_ROWS, &p, 3, sa, 0, 0, "scatter_rows") == 0);
        free(idx);
        free(src);
        free(dst);
        free(packed);
    }
    vkh_assert_no_validation_messages();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_act_fwd),
        cmocka_unit_test(test_gather_scatter_rows),
        cmocka_unit_test(test_act_fwd_large),
        cmocka_unit_test(test_act_bwd),
        cmocka_unit_test(test_act_fwd_mask),
        cmocka_unit_test(test_act_bwd_mask),
        cmocka_unit_test(test_act_fwd_in_place),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_add_in_place),
        cmocka_unit_test(test_copy2d),
        cmocka_unit_test(test_bias_grad),
        cmocka_unit_test(test_bias_grad_nonfinite),
        cmocka_unit_test(test_dropout_fwd),
        cmocka_unit_test(test_dropout_bwd),
        cmocka_unit_test(test_dropout_mask),
        cmocka_unit_test(test_embed_fwd),
        cmocka_unit_test(test_embed_bwd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
