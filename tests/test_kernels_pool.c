/* Max, average and global average pooling: forward against a reference,
 * backward against finite differences, ties, NaN and windows outside the
 * input. */
#include "kernel_harness.h"

#include <math.h>
#include <string.h>

/* ---- pooling ---- */

typedef struct pool_case {
    int planes, H, W, KH, KW, SH, SW, PH, PW;
} pool_case;

static const pool_case pool_cases[] = {
    {3, 7, 9, 3, 3, 2, 2, 1, 1}, /* padding, stride != kernel, odd sizes */
    {2, 8, 6, 2, 2, 2, 2, 0, 0}, /* the classic 2x2 */
    {3, 7, 9, 2, 2, 2, 2, 0, 0}, /* 2x2 fast path on odd sizes (last row/column dropped) */
    {2, 5, 7, 3, 2, 1, 2, 1, 1}, /* overlapping rectangular windows */
};

static int pool_out(int in, int k, int s, int p)
{
    return (in + 2 * p - k) / s + 1;
}

static void pool_params(rt_params *p, const pool_case *c)
{
    int v[11] = {c->planes, c->H, c->W, c->KH, c->KW, c->SH, c->SW, c->PH, c->PW,
                 pool_out(c->H, c->KH, c->SH, c->PH), pool_out(c->W, c->KW, c->SW, c->PW)};
    memcpy(p->i, v, sizeof v);
}

static void pool_sizes(const pool_case *c, size_t *nx, size_t *ny)
{
    *nx = (size_t)c->planes * c->H * c->W;
    *ny = (size_t)c->planes * pool_out(c->H, c->KH, c->SH, c->PH) * pool_out(c->W, c->KW, c->SW, c->PW);
}

/* Distinct values at least 0.01 apart (shuffled), so a finite-difference
 * step never changes which element wins a window. All negative, so a
 * padded window shows whether padding could win. */
static float *distinct_values(size_t n, uint64_t seed)
{
    float *x = kh_fzeros(n), *u = kh_frand(n, seed, 0, 1);
    for (size_t i = 0; i < n; i++)
        x[i] = -0.01f * (float)(i + 1);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(u[i - 1] * (float)i) % i;
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
    return x;
}

static void ref_pool(const pool_case *c, const float *x, bool max, bool include_pad, double *y, int32_t *arg)
{
    int OH = pool_out(c->H, c->KH, c->SH, c->PH), OW = pool_out(c->W, c->KW, c->SW, c->PW);
    for (int p = 0; p < c->planes; p++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double best = -INFINITY, sum = 0;
                int best_at = -1, inside = 0, padded = 0;
                for (int kh = 0; kh < c->KH; kh++)
                    for (int kw = 0; kw < c->KW; kw++) {
                        int h = oh * c->SH - c->PH + kh, w = ow * c->SW - c->PW + kw;
                        if (h >= c->H + c->PH || w >= c->W + c->PW)
                            continue; /* beyond the padded input */
                        padded++;
                        if (h < 0 || h >= c->H || w < 0 || w >= c->W)
                            continue;
                        double v = x[(p * c->H + h) * c->W + w];
                        inside++;
                        sum += v;
                        if (v > best) {
                            best = v;
                            best_at = h * c->W + w;
                        }
                    }
                size_t o = ((size_t)p * OH + oh) * OW + ow;
                y[o] = max ? best : sum / (include_pad ? padded : inside);
                if (arg)
                    arg[o] = best_at;
            }
}

static void test_maxpool(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof pool_cases / sizeof pool_cases[0]; k++) {
        const pool_case *c = &pool_cases[k];
        size_t nx, ny;
        pool_sizes(c, &nx, &ny);
        float *x = distinct_values(nx, 40 + k), *y = kh_fzeros(ny), *r = kh_frand(ny, 50 + k, -1, 1);
        float *dx = kh_fzeros(nx);
        int32_t *arg = kh_izeros(ny), *ref_arg = kh_izeros(ny);
        double *ref = kh_dzeros(ny), *num = kh_dzeros(nx);
        ref_pool(c, x, true, false, ref, ref_arg);

        kh_launch fwd = kh_make_launch(RT_K_MAXPOOL_FWD);
        pool_params(&fwd.p, c);
        kh_bind(&fwd, 0, x, nx);
        kh_bind(&fwd, 1, y, ny);
        kh_bind(&fwd, 2, arg, ny);
        kh_run(&fwd);
        kh_expect_close(y, ref, ny, 0, "maxpool y");
        assert_memory_equal(arg, ref_arg, ny * sizeof *arg);

        kh_numeric_grad(&fwd, x, nx, y, r, ny, num);
        kh_run(&fwd);
        kh_launch bwd = kh_make_launch(RT_K_MAXPOOL_BWD);
        pool_params(&bwd.p, c);
        kh_bind(&bwd, 0, r, ny);
        kh_bind(&bwd, 1, arg, ny);
        kh_bind(&bwd, 2, dx, nx);
        kh_run(&bwd);
        kh_expect_grad(dx, num, nx, 2e-3, "maxpool");
        for (size_t i = 0; i < nx; i++)
            num[i] = dx[i];
        kh_check_both_modes(&bwd, 11, 2, nx, num, 1e-6);
    }
}

/* The byte argmax a plane-index argmax stands for (255: none). */
static uint8_t window_index(const pool_case *c, size_t o, int32_t at)
{
    int OH = pool_out(c->H, c->KH, c->SH, c->PH), OW = pool_out(c->W, c->KW, c->SW, c->PW);
    int oh = (int)(o / (size_t)OW % (size_t)OH), ow = (int)(o % (size_t)OW);
    if (at < 0)
        return 255;
    return (uint8_t)((at / c->W - (oh * c->SH - c->PH)) * c->KW + (at % c->W - (ow * c->SW - c->PW)));
}

/* Byte argmax: the same winners as int32 (bytes past the outputs 255),
 * and a backward with the same bits, both accum modes, 1 and 3 threads. */
static void test_maxpool_byte_argmax(void **state)
{
    (void)state;
    cpu_pool *one = NULL, *three = NULL;
    assert_int_equal(cpu_pool_create(1, &one), VKT_OK);
    assert_int_equal(cpu_pool_create(3, &three), VKT_OK);
    for (size_t k = 0; k < sizeof pool_cases / sizeof pool_cases[0]; k++) {
        const pool_case *c = &pool_cases[k];
        size_t nx, ny;
        pool_sizes(c, &nx, &ny);
        size_t words = (ny + 3) / 4;
        float *x = distinct_values(nx, 140 + k), *y = kh_fzeros(ny), *y8 = kh_fzeros(ny);
        int32_t *arg = kh_izeros(ny);
        uint8_t *arg8 = (uint8_t *)kh_izeros(words);
        for (size_t i = 0; i < nx; i += 5)
            x[i] = x[i ^ 1]; /* ties */
        kh_launch fwd = kh_make_launch(RT_K_MAXPOOL_FWD);
        pool_params(&fwd.p, c);
        kh_bind(&fwd, 0, x, nx);
        kh_bind(&fwd, 1, y, ny);
        kh_bind(&fwd, 2, arg, ny);
        kh_run(&fwd);
        kh_launch fwd8 = fwd;
        fwd8.p.i[12] = RT_ARGMAX_U8;
        kh_bind(&fwd8, 1, y8, ny);
        kh_bind(&fwd8, 2, arg8, words);
        memset(arg8, 0x5a, words * 4);
        kh_run(&fwd8);
        assert_memory_equal(y8, y, ny * sizeof *y);
        for (size_t o = 0; o < words * 4; o++) {
            uint8_t want = o < ny ? window_index(c, o, arg[o]) : 255;
            if (arg8[o] != want)
                fail_msg("case %zu: byte argmax %zu is %d, expected %d", k, o, arg8[o], want);
        }
        kh_expect_thread_independent(&fwd8, one, three, "maxpool_fwd byte argmax");

        float *dy = kh_frand(ny, 150 + k, -1, 1), *dx = kh_fzeros(nx), *want = kh_fzeros(nx);
        kh_launch bwd = kh_make_launch(RT_K_MAXPOOL_BWD);
        pool_params(&bwd.p, c);
        kh_bind(&bwd, 0, dy, ny);
        kh_bind(&bwd, 1, arg, ny);
        kh_bind(&bwd, 2, want, nx);
        kh_launch bwd8 = bwd;
        bwd8.p.i[12] = RT_ARGMAX_U8;
        kh_bind(&bwd8, 1, arg8, words);
        kh_bind(&bwd8, 2, dx, nx);
        for (int accum = 0; accum <= 1; accum++) {
            bwd.p.i[11] = bwd8.p.i[11] = accum;
            tu_fill_uniform(want, nx, 160, -1, 1);
            memcpy(dx, want, nx * sizeof *dx);
            kh_run(&bwd);
            kh_run(&bwd8);
            assert_memory_equal(dx, want, nx * sizeof *dx);
        }
        kh_expect_thread_independent(&bwd8, one, three, "maxpool_bwd byte argmax");
    }
    cpu_pool_destroy(one);
    cpu_pool_destroy(three);
}

static void test_maxpool_ties_and_nan(void **state)
{
    (void)state;
    /* One 2x2 window: ties go to the first element, NaN wins. */
    float x[4] = {1, 3, 3, 2}, y[1];
    int32_t arg[1];
    pool_case c = {1, 2, 2, 2, 2, 2, 2, 0, 0};
    kh_launch l = kh_make_launch(RT_K_MAXPOOL_FWD);
    pool_params(&l.p, &c);
    kh_bind(&l, 0, x, 4);
    kh_bind(&l, 1, y, 1);
    kh_bind(&l, 2, arg, 1);
    kh_run(&l);
    assert_true(y[0] == 3 && arg[0] == 1);
    x[3] = NAN;
    kh_run(&l);
    assert_true(isnan(y[0]) && arg[0] == 3);

    /* A window wholly outside the input (OH beyond PyTorch's size) gives
     * 0 and argmax -1, for average pooling 0. */
    float x2[4] = {-1, -2, -3, -4}, y2[2];
    int32_t arg2[2];
    l.p.i[0] = 1, l.p.i[9] = 2, l.p.i[10] = 1; /* OH = 2: rows 2..3 do not exist */
    kh_bind(&l, 0, x2, 4);
    kh_bind(&l, 1, y2, 2);
    kh_bind(&l, 2, arg2, 2);
    kh_run(&l);
    assert_true(y2[0] == -1 && arg2[0] == 0 && y2[1] == 0 && arg2[1] == -1);
    kh_launch avg = kh_make_launch(RT_K_AVGPOOL_FWD);
    avg.p = l.p;
    kh_bind(&avg, 0, x2, 4);
    kh_bind(&avg, 1, y2, 2);
    kh_run(&avg);
    assert_true(y2[0] == -2.5f && y2[1] == 0);

    /* The same in bytes: 255 for the outside window and the unused bytes. */
    uint32_t word = 0;
    l.p.i[12] = RT_ARGMAX_U8;
    kh_bind(&l, 2, &word, 1);
    kh_run(&l);
    assert_true(word == 0xffffff00u);

    /* Backward ignores an argmax outside the plane. */
    float dy[1] = {5}, dx[4];
    arg[0] = 99;
    kh_launch b = kh_make_launch(RT_K_MAXPOOL_BWD);
    pool_params(&b.p, &c);
    kh_bind(&b, 0, dy, 1);
    kh_bind(&b, 1, arg, 1);
    kh_bind(&b, 2, dx, 4);
    kh_run(&b);
    for (int i = 0; i < 4; i++)
        assert_true(dx[i] == 0);

    /* ...and a byte argmax naming no element of the window (4 of a 2x2,
     * 255), or one in the padding (window index 0 of a window at -1). */
    b.p.i[12] = RT_ARGMAX_U8;
    const uint32_t foreign[2] = {4, 255};
    for (int k = 0; k < 2; k++) {
        word = foreign[k];
        kh_bind(&b, 1, &word, 1);
        kh_run(&b);
        for (int i = 0; i < 4; i++)
            assert_true(dx[i] == 0);
    }
    pool_case pc = {1, 2, 2, 2, 2, 1, 1, 1, 1}; /* padded: 3x3 outputs */
    float dy9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    uint32_t zeros[3] = {0, 0, 0}; /* index 0 everywhere: in the padding for row 0 and column 0 */
    kh_launch pb = kh_make_launch(RT_K_MAXPOOL_BWD);
    pool_params(&pb.p, &pc);
    pb.p.i[12] = RT_ARGMAX_U8;
    kh_bind(&pb, 0, dy9, 9);
    kh_bind(&pb, 1, zeros, 3);
    kh_bind(&pb, 2, dx, 4);
    kh_run(&pb);
    for (int i = 0; i < 4; i++) /* one term each, from the window whose origin it is */
        assert_true(dx[i] == 1);
}

static void test_avgpool(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof pool_cases / sizeof pool_cases[0]; k++)
        for (int include_pad = 0; include_pad <= 1; include_pad++) {
            const pool_case *c = &pool_cases[k];
            size_t nx, ny;
            pool_sizes(c, &nx, &ny);
            float *x = kh_frand(nx, 60 + k, -1, 1), *y = kh_fzeros(ny), *r = kh_frand(ny, 70 + k, -1, 1);
            float *dx = kh_fzeros(nx);
            double *ref = kh_dzeros(ny), *num = kh_dzeros(nx);
            ref_pool(c, x, false, include_pad, ref, NULL);

            kh_launch fwd = kh_make_launch(RT_K_AVGPOOL_FWD);
            pool_params(&fwd.p, c);
            fwd.p.i[11] = include_pad;
            kh_bind(&fwd, 0, x, nx);
            kh_bind(&fwd, 1, y, ny);
            kh_run(&fwd);
            kh_expect_close(y, ref, ny, 1e-6, "avgpool y");

            kh_numeric_grad(&fwd, x, nx, y, r, ny, num);
            kh_launch bwd = kh_make_launch(RT_K_AVGPOOL_BWD);
            pool_params(&bwd.p, c);
            bwd.p.i[11] = include_pad;
            kh_bind(&bwd, 0, r, ny);
            kh_bind(&bwd, 1, dx, nx);
            kh_run(&bwd);
            kh_expect_grad(dx, num, nx, 2e-3, "avgpool");
            for (size_t i = 0; i < nx; i++)
                num[i] = dx[i];
            kh_check_both_modes(&bwd, 12, 1, nx, num, 1e-6);
        }
}

static void test_global_avg_pool(void **state)
{
    (void)state;
    const int planes = 7, hw = 37;
    size_t nx = (size_t)planes * hw;
    float *x = kh_frand(nx, 80, -1, 1), *y = kh_fzeros((size_t)planes), *r = kh_frand((size_t)planes, 81, -1, 1);
    float *dx = kh_fzeros(nx);
    double *ref = kh_dzeros((size_t)planes), *num = kh_dzeros(nx);
    for (int p = 0; p < planes; p++) {
        for (int j = 0; j < hw; j++)
            ref[p] += x[p * hw + j];
        ref[p] /= hw;
    }
    kh_launch fwd = kh_make_launch(RT_K_GAP_FWD);
    fwd.p.i[0] = planes, fwd.p.i[1] = hw;
    kh_bind(&fwd, 0, x, nx);
    kh_bind(&fwd, 1, y, (size_t)planes);
    kh_run(&fwd);
    kh_expect_close(y, ref, (size_t)planes, 1e-6, "gap y");

    kh_numeric_grad(&fwd, x, nx, y, r, (size_t)planes, num);
    kh_launch bwd = kh_make_launch(RT_K_GAP_BWD);
    bwd.p.i[0] = planes, bwd.p.i[1] = hw;
    kh_bind(&bwd, 0, r, (size_t)planes);
    kh_bind(&bwd, 1, dx, nx);
    kh_run(&bwd);
    kh_expect_grad(dx, num, nx, 2e-3, "gap");
    for (size_t i = 0; i < nx; i++)
        num[i] = (double)r[i / hw] / hw;
    kh_check_both_modes(&bwd, 2, 1, nx, num, 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KH_TEST(test_maxpool),
        KH_TEST(test_maxpool_byte_argmax),
        KH_TEST(test_maxpool_ties_and_nan),
        KH_TEST(test_avgpool),
        KH_TEST(test_global_avg_pool),
    };
    return cmocka_run_group_tests(tests, kh_group_setup, kh_group_teardown);
}
