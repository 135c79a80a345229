/* The direct depthwise convolution kernels (RT_K_DWCONV_*) on Vulkan:
 * against the naive references of tests/depthwise_ref.c and against the
 * CPU backend (forward bit-exact: both add the same terms in the same
 * order without fused multiply-adds), both accum modes of the gradients,
 * and a weight gradient long enough that the backend must split it into
 * chained dispatches (lavapipe stops an invocation's loops at 65535
 * iterations), with the validation layer on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/status.h>

#include "depthwise_ref.h"
#include "test_util.h"
#include "vk_harness.h"

#define RTOL 1e-5
#define ATOL 1e-6

static void expect_parity(rt_kernel k, const rt_params *p, int nargs, const vkh_arg *args, double rtol,
                          const char *what, const char *label)
{
    char buf[160];
    snprintf(buf, sizeof buf, "%s %s", what, label);
    double worst = vkh_compare(k, p, nargs, args, rtol, rtol ? ATOL : 0, buf);
    if (!(worst <= 1))
        fail_msg("%s: CPU and Vulkan differ (worst error / tolerance %g)", buf, worst);
}

/* Runs one launch on the Vulkan backend and returns argument `out`'s
 * final contents (caller frees). */
static float *run_vulkan(rt_kernel k, const rt_params *p, int nargs, const vkh_arg *args, int out)
{
    rt_backend *be = vkh_vulkan();
    if (!be)
        fail_msg("no Vulkan device");
    rt_buffer *bufs[RT_MAX_ARGS] = {0};
    rt_launch l = {.kernel = k, .nargs = nargs, .params = *p};
    for (int a = 0; a < nargs; a++) {
        if (!args[a].count)
            continue;
        if (rt_buffer_create(be, args[a].count * 4, &bufs[a]) != VKT_OK)
            fail_msg("buffer: %s", vkt_last_error());
        if (args[a].init)
            rt_upload(be, bufs[a], 0, args[a].init, args[a].count * 4);
        l.args[a] = (rt_view){bufs[a], 0, args[a].count * 4};
    }
    rt_program *prog = NULL;
    if (rt_program_create(be, &l, 1, &prog) != VKT_OK || rt_program_run(be, prog) != VKT_OK)
        fail_msg("%s: %s", rt_kernel_name(k), vkt_last_error());
    float *got = malloc(args[out].count * 4);
    rt_download(be, bufs[out], 0, got, args[out].count * 4);
    rt_program_destroy(be, prog);
    for (int a = 0; a < nargs; a++)
        rt_buffer_destroy(be, bufs[a]);
    return got;
}

/* |got - (base + ref)| <= tol * max(1, |want|) everywhere (base NULL: 0). */
static void expect_close(const float *got, const double *ref, const float *base, size_t n, double tol,
                         const char *what, const char *label)
{
    for (size_t i = 0; i < n; i++) {
        double want = ref[i] + (base ? (double)base[i] : 0.0);
        double err = fabs((double)got[i] - want), scale = fabs(want) > 1 ? fabs(want) : 1;
        if (!(err <= tol * scale))
            fail_msg("%s %s: element %zu is %.9g, expected %.9g", what, label, i, (double)got[i], want);
    }
}

static void test_vk_dwconv_fwd(void **state)
{
    (void)state;
    for (size_t t = 0; t < dwr_case_count; t++) {
        const dwr_case *c = &dwr_cases[t];
        size_t nx = dwr_x_elems(c), nw = dwr_w_elems(c), ny = dwr_y_elems(c), nb = c->bias ? (size_t)c->C : 0;
        float *x = vkh_rand(nx, 10 + (unsigned)t, -1, 1), *w = vkh_rand(nw, 20 + (unsigned)t, -1, 1);
        float *b = vkh_rand(nb, 30 + (unsigned)t, -1, 1), *y = vkh_rand(ny, 40 + (unsigned)t, -1, 1);
        rt_params p = dwr_params(c);
        vkh_arg args[4] = {{nx, false, x}, {nw, false, w}, {nb, false, c->bias ? b : NULL}, {ny, false, y}};
        expect_parity(RT_K_DWCONV_FWD, &p, 4, args, 0, "dwconv_fwd", c->label);
        double *ref = calloc(ny ? ny : 1, sizeof *ref);
        dwr_forward(c, x, w, c->bias ? b : NULL, ref);
        float *got = run_vulkan(RT_K_DWCONV_FWD, &p, 4, args, 3);
        expect_close(got, ref, NULL, ny, RTOL, "dwconv_fwd", c->label);
        free(got), free(ref), free(x), free(w), free(b), free(y);
    }
    vkh_assert_no_validation_messages();
}

/* A gradient kernel (output in slot 2, accum in i[14]) in both modes. */
static void check_gradient(rt_kernel k, const dwr_case *c, const float *in0, size_t n0, const float *in1, size_t n1,
                           size_t nout, const double *ref, unsigned seed)
{
    const char *name = rt_kernel_name(k);
    float *old = vkh_rand(nout, seed, -1, 1);
    for (int accum = 0; accum < 2; accum++) {
        rt_params p = dwr_params(c);
        p.i[14] = accum;
        vkh_arg args[3] = {{n0, false, in0}, {n1, false, in1}, {nout, false, old}};
        expect_parity(k, &p, 3, args, RTOL, name, c->label);
        float *got = run_vulkan(k, &p, 3, args, 2);
        expect_close(got, ref, accum ? old : NULL, nout, RTOL, name, c->label);
        free(got);
    }
    free(old);
}

static void test_vk_dwconv_gradients(void **state)
{
    (void)state;
    for (size_t t = 0; t < dwr_case_count; t++) {
        const dwr_case *c = &dwr_cases[t];
        size_t nx = dwr_x_elems(c), nw = dwr_w_elems(c), ny = dwr_y_elems(c);
        float *x = vkh_rand(nx, 50 + (unsigned)t, -1, 1), *w = vkh_rand(nw, 60 + (unsigned)t, -1, 1);
        float *dy = vkh_rand(ny, 70 + (unsigned)t, -1, 1);
        double *dx = calloc(nx ? nx : 1, sizeof *dx), *dw = calloc(nw, sizeof *dw);
        dwr_input_grad(c, dy, w, dx);
        dwr_weight_grad(c, dy, x, dw);
        check_gradient(RT_K_DWCONV_BWD_INPUT, c, dy, ny, w, nw, nx, dx, 80 + (unsigned)t);
        check_gradient(RT_K_DWCONV_BWD_WEIGHT, c, dy, ny, x, nx, nw, dw, 90 + (unsigned)t);
        free(x), free(w), free(dy), free(dx), free(dw);
    }
    vkh_assert_no_validation_messages();
}

/* 3 images of 2100 x 2100 outputs: one dispatch would loop about 103k
 * times per invocation, past lavapipe's 65535; the backend chains three
 * (one image each) and the sum must still be whole. */
static void test_vk_dwconv_weight_grad_long_sum(void **state)
{
    (void)state;
    dwr_case c = {3, 1, 2100, 2100, 1, 1, 1, 1, 0, 0, 1, 1, false, "long sum"};
    size_t n = dwr_x_elems(&c);
    float *x = vkh_rand(n, 5, 0.5f, 1), *dy = vkh_rand(n, 6, 0.5f, 1); /* positive: no cancellation */
    double ref;
    dwr_weight_grad(&c, dy, x, &ref);
    rt_params p = dwr_params(&c);
    vkh_arg args[3] = {{n, false, dy}, {n, false, x}, {1, false, NULL}};
    float *got = run_vulkan(RT_K_DWCONV_BWD_WEIGHT, &p, 3, args, 2);
    expect_close(got, &ref, NULL, 1, RTOL, "dwconv_bwd_weight", c.label);
    free(got), free(x), free(dy);
    vkh_assert_no_validation_messages();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vk_dwconv_fwd),
        cmocka_unit_test(test_vk_dwconv_gradients),
        cmocka_unit_test(test_vk_dwconv_weight_grad_long_sum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
