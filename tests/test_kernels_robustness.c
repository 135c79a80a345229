/* Properties checked across kernels: empty dimensions read nothing and
 * still write their outputs, and reductions give the same bits with 1
 * and 3 threads. */
#include "kernel_harness.h"

#include <string.h>

/* Empty dimensions: nothing is read, outputs that exist are written. */
static void test_empty_shapes(void **state)
{
    (void)state;
    kh_launch act = kh_make_launch(RT_K_ACT_FWD); /* count 0, both views absent */
    act.p.i[1] = RT_ACT_GELU;
    kh_run(&act);

    float col[2 * 9 * 4], dx[2 * 3 * 3];
    kh_conv_case c = {1, 2, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1};
    kh_launch im = kh_make_launch(RT_K_IM2COL); /* W = 0: columns are all padding */
    kh_conv_params(&im.p, &c);
    im.p.i[3] = 0, im.p.i[12] = 2, im.p.i[13] = 2;
    kh_bind(&im, 1, col, sizeof col / sizeof col[0]);
    kh_fill_nan(col, sizeof col / sizeof col[0]);
    kh_run(&im);
    for (size_t i = 0; i < sizeof col / sizeof col[0]; i++)
        assert_true(col[i] == 0);

    kh_launch ci = kh_make_launch(RT_K_COL2IM); /* OH = 0: dx = 0 */
    kh_conv_params(&ci.p, &c);
    ci.p.i[12] = 0;
    kh_bind(&ci, 1, dx, sizeof dx / sizeof dx[0]);
    kh_fill_nan(dx, sizeof dx / sizeof dx[0]);
    kh_run(&ci);
    for (size_t i = 0; i < sizeof dx / sizeof dx[0]; i++)
        assert_true(dx[i] == 0);

    float dW[6];
    kh_launch eb = kh_make_launch(RT_K_EMBED_BWD); /* rows 0: dW = 0 */
    eb.p.i[1] = 3, eb.p.i[2] = 2;
    kh_bind(&eb, 2, dW, 6);
    kh_fill_nan(dW, 6);
    kh_run(&eb);
    for (int i = 0; i < 6; i++)
        assert_true(dW[i] == 0);

    float dg[4], db[4];
    kh_ln_bufs lb = {0, 4, 0, NULL, NULL, NULL, NULL, NULL, NULL};
    float gamma[4] = {1, 1, 1, 1};
    lb.gamma = gamma;
    kh_launch ln = kh_ln_bwd_launch(&lb, NULL, NULL, dg, db); /* rows 0: param grads 0 */
    kh_fill_nan(dg, 4);
    kh_fill_nan(db, 4);
    kh_run(&ln);
    for (int i = 0; i < 4; i++)
        assert_true(dg[i] == 0 && db[i] == 0);
}

static void test_thread_count_independence(void **state)
{
    (void)state;
    cpu_pool *one, *three;
    assert_int_equal(cpu_pool_create(1, &one), VKT_OK);
    assert_int_equal(cpu_pool_create(3, &three), VKT_OK);

    kh_bn_bufs b = kh_bn_alloc(4, 32, 3001, 300);
    kh_launch bn = kh_bn_train_launch(&b);
    kh_expect_thread_independent(&bn, one, three, "bn_train_fwd");
    float *dy = kh_frand(b.n, 301, -1, 1), *dx = kh_fzeros(b.n);
    float *dg = kh_fzeros((size_t)b.C), *db = kh_fzeros((size_t)b.C);
    kh_launch bnb = kh_bn_bwd_launch(&b, dy, dx, dg, db);
    kh_expect_thread_independent(&bnb, one, three, "bn_bwd");

    kh_ln_bufs lb = kh_ln_alloc(300, 777, 310);
    kh_launch ln = kh_ln_fwd_launch(&lb);
    kh_expect_thread_independent(&ln, one, three, "ln_fwd");
    float *ldy = kh_frand(lb.n, 311, -1, 1), *ldx = kh_fzeros(lb.n);
    float *ldg = kh_fzeros((size_t)lb.D), *ldb = kh_fzeros((size_t)lb.D);
    kh_launch lnb = kh_ln_bwd_launch(&lb, ldy, ldx, ldg, ldb);
    kh_expect_thread_independent(&lnb, one, three, "ln_bwd");

    const int shapes[2][3] = {{64, 3000, 1}, {8, 64, 4097}};
    for (int k = 0; k < 2; k++) {
        size_t n = (size_t)shapes[k][0] * shapes[k][1] * shapes[k][2];
        kh_launch bg = kh_make_launch(RT_K_BIAS_GRAD);
        memcpy(bg.p.i, shapes[k], sizeof shapes[k]);
        kh_bind(&bg, 0, kh_frand(n, 320 + (uint64_t)k, -1, 1), n);
        kh_bind(&bg, 1, kh_fzeros((size_t)shapes[k][1]), (size_t)shapes[k][1]);
        kh_expect_thread_independent(&bg, one, three, "bias_grad");
    }

    const int N = 3000, C = 37;
    int32_t *labels = kh_izeros((size_t)N);
    for (int i = 0; i < N; i++)
        labels[i] = (i * 7) % C;
    float sc[RT_SC_COUNT] = {0};
    kh_launch ce = kh_make_launch(RT_K_SOFTMAX_CE_FWD);
    ce.p.i[0] = N, ce.p.i[1] = C;
    ce.p.f[0] = 0.1f;
    kh_bind(&ce, 0, kh_frand((size_t)N * C, 330, -4, 4), (size_t)N * C);
    kh_bind(&ce, 1, labels, (size_t)N);
    kh_bind(&ce, 2, kh_fzeros((size_t)N * C), (size_t)N * C);
    kh_bind(&ce, 3, sc, RT_SC_COUNT);
    kh_expect_thread_independent(&ce, one, three, "softmax_ce_fwd");

    const size_t big = 1000003;
    kh_launch mse = kh_make_launch(RT_K_MSE_FWD);
    mse.p.i[0] = 1, mse.p.i[1] = (int)big;
    kh_bind(&mse, 0, kh_frand(big, 340, -1, 1), big);
    kh_bind(&mse, 1, kh_frand(big, 341, -1, 1), big);
    kh_bind(&mse, 2, sc, RT_SC_COUNT);
    kh_expect_thread_independent(&mse, one, three, "mse_fwd");

    kh_launch gn = kh_make_launch(RT_K_GRAD_NORM);
    gn.p.i[0] = (int)big;
    gn.p.f[0] = 1;
    kh_bind(&gn, 0, kh_frand(big, 350, -1, 1), big);
    kh_bind(&gn, 1, sc, RT_SC_COUNT);
    kh_expect_thread_independent(&gn, one, three, "grad_norm");

    const int rows = 5000, num = 50, dim = 300;
    int32_t *idx = kh_izeros((size_t)rows);
    for (int i = 0; i < rows; i++)
        idx[i] = (i * 13) % num;
    kh_launch eb = kh_make_launch(RT_K_EMBED_BWD);
    eb.p.i[0] = rows, eb.p.i[1] = num, eb.p.i[2] = dim;
    kh_bind(&eb, 0, idx, (size_t)rows);
    kh_bind(&eb, 1, kh_frand((size_t)rows * dim, 360, -1, 1), (size_t)rows * dim);
    kh_bind(&eb, 2, kh_fzeros((size_t)num * dim), (size_t)num * dim);
    kh_expect_thread_independent(&eb, one, three, "embed_bwd");

    cpu_pool_destroy(one);
    cpu_pool_destroy(three);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KH_TEST(test_empty_shapes),
        KH_TEST(test_thread_count_independence),
    };
    return cmocka_run_group_tests(tests, kh_group_setup, kh_group_teardown);
}
