/* The direct depthwise convolution kernels (RT_K_DWCONV_*) on the CPU
 * against naive references (tests/depthwise_ref.c), both accum modes of
 * the gradients, the same bits with 1 and 3 threads, and the launches
 * the validator rejects. */
#include "kernel_harness.h"

#include <string.h>

#include "depthwise_ref.h"
#include "runtime/rt_error.h"

#define TOL 1e-5

typedef struct dw_bufs {
    size_t nx, nw, ny;
    float *x, *w, *b, *y, *dy, *dx, *dw;
} dw_bufs;

static dw_bufs bufs_for(const dwr_case *c, uint64_t seed)
{
    dw_bufs b;
    b.nx = dwr_x_elems(c), b.nw = dwr_w_elems(c), b.ny = dwr_y_elems(c);
    b.x = kh_frand(b.nx, seed, -1, 1);
    b.w = kh_frand(b.nw, seed + 1, -1, 1);
    b.b = c->bias ? kh_frand((size_t)c->C, seed + 2, -1, 1) : NULL;
    b.y = kh_fzeros(b.ny);
    b.dy = kh_frand(b.ny, seed + 3, -1, 1);
    b.dx = kh_fzeros(b.nx);
    b.dw = kh_fzeros(b.nw);
    return b;
}

static kh_launch fwd_launch(const dwr_case *c, dw_bufs *b)
{
    kh_launch l = kh_make_launch(RT_K_DWCONV_FWD);
    l.p = dwr_params(c);
    kh_bind(&l, 0, b->x, b->nx);
    kh_bind(&l, 1, b->w, b->nw);
    kh_bind(&l, 2, b->b, b->b ? (size_t)c->C : 0);
    kh_bind(&l, 3, b->y, b->ny);
    return l;
}

static kh_launch input_grad_launch(const dwr_case *c, dw_bufs *b)
{
    kh_launch l = kh_make_launch(RT_K_DWCONV_BWD_INPUT);
    l.p = dwr_params(c);
    kh_bind(&l, 0, b->dy, b->ny);
    kh_bind(&l, 1, b->w, b->nw);
    kh_bind(&l, 2, b->dx, b->nx);
    return l;
}

static kh_launch weight_grad_launch(const dwr_case *c, dw_bufs *b)
{
    kh_launch l = kh_make_launch(RT_K_DWCONV_BWD_WEIGHT);
    l.p = dwr_params(c);
    kh_bind(&l, 0, b->dy, b->ny);
    kh_bind(&l, 1, b->x, b->nx);
    kh_bind(&l, 2, b->dw, b->nw);
    return l;
}

static void test_dwconv_fwd_matches_reference(void **state)
{
    (void)state;
    for (size_t k = 0; k < dwr_case_count; k++) {
        const dwr_case *c = &dwr_cases[k];
        dw_bufs b = bufs_for(c, 10 + 10 * k);
        double *ref = kh_dzeros(b.ny);
        dwr_forward(c, b.x, b.w, b.b, ref);
        kh_launch l = fwd_launch(c, &b);
        kh_fill_nan(b.y, b.ny); /* every output must be written */
        kh_run(&l);
        kh_expect_close(b.y, ref, b.ny, TOL, c->label);
    }
}

static void test_dwconv_input_grad_matches_reference(void **state)
{
    (void)state;
    for (size_t k = 0; k < dwr_case_count; k++) {
        const dwr_case *c = &dwr_cases[k];
        dw_bufs b = bufs_for(c, 20 + 10 * k);
        double *ref = kh_dzeros(b.nx);
        dwr_input_grad(c, b.dy, b.w, ref);
        kh_launch l = input_grad_launch(c, &b);
        kh_check_both_modes(&l, 14, 2, b.nx, ref, TOL);
    }
}

static void test_dwconv_weight_grad_matches_reference(void **state)
{
    (void)state;
    for (size_t k = 0; k < dwr_case_count; k++) {
        const dwr_case *c = &dwr_cases[k];
        dw_bufs b = bufs_for(c, 30 + 10 * k);
        double *ref = kh_dzeros(b.nw);
        dwr_weight_grad(c, b.dy, b.x, ref);
        kh_launch l = weight_grad_launch(c, &b);
        kh_check_both_modes(&l, 14, 2, b.nw, ref, TOL);
    }
}

/* Planes and channels are split into chunks across threads; each output
 * is still summed by one thread in one order. */
static void test_dwconv_thread_independent(void **state)
{
    (void)state;
    cpu_pool *one = NULL, *three = NULL;
    assert_int_equal(cpu_pool_create(1, &one), VKT_OK);
    assert_int_equal(cpu_pool_create(3, &three), VKT_OK);
    dwr_case c = {8, 37, 23, 21, 3, 3, 1, 1, 1, 1, 1, 1, true, "many planes"};
    for (int stride = 1; stride <= 2; stride++) {
        c.SH = c.SW = stride;
        dw_bufs b = bufs_for(&c, 77 + (uint64_t)stride);
        kh_launch fwd = fwd_launch(&c, &b), dx = input_grad_launch(&c, &b), dw = weight_grad_launch(&c, &b);
        kh_expect_thread_independent(&fwd, one, three, "dwconv_fwd");
        kh_expect_thread_independent(&dx, one, three, "dwconv_bwd_input");
        dx.p.i[14] = 1;
        kh_expect_thread_independent(&dx, one, three, "dwconv_bwd_input accum");
        kh_expect_thread_independent(&dw, one, three, "dwconv_bwd_weight");
        dw.p.i[14] = 1;
        kh_expect_thread_independent(&dw, one, three, "dwconv_bwd_weight accum");
    }
    cpu_pool_destroy(one);
    cpu_pool_destroy(three);
}

/* ---- validation ---- */

static char g_buf; /* non-NULL rt_buffer stand-in */

/* Argument `slot` of `elems` elements; slots lie 1 MiB apart. */
static rt_view view(int slot, size_t elems)
{
    return (rt_view){elems ? (rt_buffer *)(void *)&g_buf : NULL, (size_t)slot << 20, elems * 4};
}

static rt_launch launch_of(rt_kernel k, const dwr_case *c)
{
    rt_launch l;
    memset(&l, 0, sizeof l);
    l.kernel = k;
    l.params = dwr_params(c);
    if (k == RT_K_DWCONV_FWD) {
        l.nargs = 4;
        l.args[0] = view(0, dwr_x_elems(c)), l.args[1] = view(1, dwr_w_elems(c)), l.args[3] = view(3, dwr_y_elems(c));
    } else {
        l.nargs = 3;
        l.args[0] = view(0, dwr_y_elems(c));
        l.args[1] = view(1, k == RT_K_DWCONV_BWD_INPUT ? dwr_w_elems(c) : dwr_x_elems(c));
        l.args[2] = view(2, k == RT_K_DWCONV_BWD_INPUT ? dwr_x_elems(c) : dwr_w_elems(c));
    }
    return l;
}

static void expect_rejected(const rt_launch *l, const char *why)
{
    rt_error_clear();
    if (rt_launch_validate(l) != VKT_ERR_INVALID_ARG)
        fail_msg("%s: accepted a launch with %s", rt_kernel_name(l->kernel), why);
}

static void test_dwconv_validation(void **state)
{
    (void)state;
    const dwr_case *c = &dwr_cases[1];
    const rt_kernel kernels[3] = {RT_K_DWCONV_FWD, RT_K_DWCONV_BWD_INPUT, RT_K_DWCONV_BWD_WEIGHT};
    for (int k = 0; k < 3; k++) {
        rt_launch l = launch_of(kernels[k], c);
        if (rt_launch_validate(&l) != VKT_OK)
            fail_msg("%s: rejected a correct launch: %s", rt_kernel_name(l.kernel), rt_error_message());
        int out = kernels[k] == RT_K_DWCONV_FWD ? 3 : 2;
        for (int a = 0; a < out + 1; a++) {
            if (a == 2 && kernels[k] == RT_K_DWCONV_FWD)
                continue; /* the optional bias */
            l = launch_of(kernels[k], c);
            l.args[a].size -= 4;
            expect_rejected(&l, "an argument one element short");
        }
        static const int positive[] = {4, 5, 6, 7, 10, 11}; /* KH, KW, SH, SW, DH, DW */
        for (size_t i = 0; i < sizeof positive / sizeof positive[0]; i++) {
            l = launch_of(kernels[k], c);
            l.params.i[positive[i]] = 0;
            expect_rejected(&l, "a zero size, stride or dilation");
        }
        l = launch_of(kernels[k], c);
        l.params.i[8] = -1;
        expect_rejected(&l, "negative padding");
        l = launch_of(kernels[k], c);
        l.params.i[12] = -1;
        expect_rejected(&l, "negative OH");
        for (int a = 0; a < out; a++) {
            l = launch_of(kernels[k], c);
            l.args[out].offset = l.args[a].offset + 4; /* the output over an input */
            expect_rejected(&l, "the output overlapping an input");
        }
        if (kernels[k] != RT_K_DWCONV_FWD) {
            l = launch_of(kernels[k], c);
            l.params.i[14] = 2;
            expect_rejected(&l, "accum 2");
        }
    }
    rt_launch l = launch_of(RT_K_DWCONV_FWD, c);
    l.args[2] = view(2, (size_t)c->C);
    if (rt_launch_validate(&l) != VKT_OK)
        fail_msg("dwconv_fwd rejected a bias: %s", rt_error_message());
    l.args[2] = view(2, (size_t)c->C - 1);
    expect_rejected(&l, "a bias one element short");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KH_TEST(test_dwconv_fwd_matches_reference),
        KH_TEST(test_dwconv_input_grad_matches_reference),
        KH_TEST(test_dwconv_weight_grad_matches_reference),
        KH_TEST(test_dwconv_thread_independent),
        KH_TEST(test_dwconv_validation),
    };
    return cmocka_run_group_tests(tests, kh_group_setup, kh_group_teardown);
}
