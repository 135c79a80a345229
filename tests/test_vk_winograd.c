/* CPU-vs-Vulkan parity of the Winograd F(2x2, 3x3) kernels: WINO_WEIGHT,
 * WINO_WEIGHT_BWD, WINO_INPUT, WINO_INPUT_BWD, WINO_OUTPUT,
 * WINO_OUTPUT_BWD over odd sizes, padding 0/1/2, tile rows longer than
 * the CPU's vector chunks, many channels, an output smaller than the
 * convolution's (pixels no tile reaches), bias present or absent and
 * accum 0/1, with the validation layer on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/status.h>

#include "test_util.h"
#include "vk_harness.h"

#define RTOL 1e-5
#define ATOL 1e-6

typedef struct wcase {
    int batch, C, K, H, W, PH, PW;
    int OH, OW; /* 0: the convolution's output size */
} wcase;

static const wcase cases[] = {
    /* batch C   K   H   W  PH PW OH OW */
    {1, 1, 1, 3, 3, 0, 0, 0, 0},      /* one output: a single, mostly padded tile */
    {2, 3, 4, 5, 6, 1, 1, 0, 0},      /* odd output rows */
    {1, 2, 3, 7, 4, 2, 2, 0, 0},      /* padding 2 */
    {3, 5, 2, 6, 9, 0, 1, 0, 0},      /* odd output columns, mixed padding */
    {2, 40, 36, 9, 11, 1, 0, 0, 0},   /* many channels */
    {1, 4, 3, 5, 70, 1, 1, 0, 0},     /* 35 tiles a row */
    {1, 3, 2, 1, 2, 2, 2, 0, 0},      /* image smaller than the kernel */
    {8, 16, 32, 14, 14, 1, 1, 0, 0},  /* the cnn preset's second convolution */
    {2, 2, 3, 8, 9, 1, 1, 5, 4},      /* output smaller than the convolution's */
};
#define N_CASES (sizeof cases / sizeof cases[0])

typedef struct wsizes {
    int OH, OW;
    size_t P, x, y, w, u, v, m;
} wsizes;

static wsizes sizes_of(const wcase *c)
{
    wsizes s;
    s.OH = c->OH ? c->OH : c->H + 2 * c->PH - 2;
    s.OW = c->OW ? c->OW : c->W + 2 * c->PW - 2;
    s.P = (size_t)c->batch * ((s.OH + 1) / 2) * ((s.OW + 1) / 2);
    s.x = (size_t)c->batch * c->C * c->H * c->W;
    s.y = (size_t)c->batch * c->K * s.OH * s.OW;
    s.w = (size_t)c->K * c->C * 9;
    s.u = 16 * (size_t)c->K * c->C;
    s.v = 16 * (size_t)c->C * s.P;
    s.m = 16 * (size_t)c->K * s.P;
    return s;
}

static void check(rt_kernel k, const rt_params *p, int nargs, const vkh_arg *args, const char *what, size_t t)
{
    char label[80];
    snprintf(label, sizeof label, "%s case %zu", what, t);
    double worst = vkh_compare(k, p, nargs, args, RTOL, ATOL, label);
    if (!(worst <= 1))
        fail_msg("%s: CPU and Vulkan differ (worst error / tolerance %g)", label, worst);
}

static rt_params input_params(const wcase *c, const wsizes *s, int accum)
{
    rt_params p = {{0}, {0}};
    int v[9] = {c->batch, c->C, c->H, c->W, c->PH, c->PW, s->OH, s->OW, accum};
    memcpy(p.i, v, sizeof v);
    return p;
}

static rt_params output_params(const wcase *c, const wsizes *s)
{
    rt_params p = {{0}, {0}};
    int v[4] = {c->batch, c->K, s->OH, s->OW};
    memcpy(p.i, v, sizeof v);
    return p;
}

static void test_weight_transforms(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_CASES; t++) {
        const wcase *c = &cases[t];
        wsizes s = sizes_of(c);
        rt_params p = {{0}, {0}};
        p.i[0] = c->K, p.i[1] = c->C;
        float *w = vkh_rand(s.w, 100 + (unsigned)t, -1, 1), *u = vkh_rand(s.u, 200 + (unsigned)t, -1, 1);
        vkh_arg fwd[2] = {{s.w, false, w}, {s.u, false, u}}; /* stale U: all must be written */
        check(RT_K_WINO_WEIGHT, &p, 2, fwd, "wino_weight", t);
        for (int accum = 0; accum < 2; accum++) {
            p.i[2] = accum;
            vkh_arg bwd[2] = {{s.u, false, u}, {s.w, false, w}};
            check(RT_K_WINO_WEIGHT_BWD, &p, 2, bwd, accum ? "wino_weight_bwd accum" : "wino_weight_bwd", t);
        }
        free(w);
        free(u);
    }
    vkh_assert_no_validation_messages();
}

static void test_input_transforms(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_CASES; t++) {
        const wcase *c = &cases[t];
        wsizes s = sizes_of(c);
        float *x = vkh_rand(s.x, 300 + (unsigned)t, -1, 1), *v = vkh_rand(s.v, 400 + (unsigned)t, -1, 1);
        rt_params p = input_params(c, &s, 0);
        vkh_arg fwd[2] = {{s.x, false, x}, {s.v, false, v}};
        check(RT_K_WINO_INPUT, &p, 2, fwd, "wino_input", t);
        for (int accum = 0; accum < 2; accum++) {
            p = input_params(c, &s, accum);
            vkh_arg bwd[2] = {{s.v, false, v}, {s.x, false, x}};
            check(RT_K_WINO_INPUT_BWD, &p, 2, bwd, accum ? "wino_input_bwd accum" : "wino_input_bwd", t);
        }
        free(x);
        free(v);
    }
    vkh_assert_no_validation_messages();
}

static void test_output_transforms(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_CASES; t++) {
        const wcase *c = &cases[t];
        wsizes s = sizes_of(c);
        float *m = vkh_rand(s.m, 500 + (unsigned)t, -1, 1), *y = vkh_rand(s.y, 600 + (unsigned)t, -1, 1);
        float *bias = vkh_rand((size_t)c->K, 700 + (unsigned)t, -1, 1);
        rt_params p = output_params(c, &s);
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            vkh_arg fwd[3] = {{s.m, false, m}, {with_bias ? (size_t)c->K : 0, false, bias}, {s.y, false, y}};
            check(RT_K_WINO_OUTPUT, &p, 3, fwd, with_bias ? "wino_output with bias" : "wino_output", t);
        }
        vkh_arg bwd[2] = {{s.y, false, y}, {s.m, false, m}};
        check(RT_K_WINO_OUTPUT_BWD, &p, 2, bwd, "wino_output_bwd", t);
        free(m);
        free(y);
        free(bias);
    }
    vkh_assert_no_validation_messages();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weight_transforms),
        cmocka_unit_test(test_input_transforms),
        cmocka_unit_test(test_output_transforms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
