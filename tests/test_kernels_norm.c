/* Batch norm (training and eval forward, backward) and layer norm
 * (forward, backward) against references and finite differences. */
#include "kernel_harness.h"

#include <math.h>

/* ---- batch norm ---- */

static void test_bn_train_fwd(void **state)
{
    (void)state;
    kh_bn_bufs b = kh_bn_alloc(3, 4, 13, 90);
    float *rm0 = kh_fcopy(b.rmean, (size_t)b.C), *rv0 = kh_fcopy(b.rvar, (size_t)b.C);
    kh_launch l = kh_bn_train_launch(&b);
    kh_run(&l);
    double *ref = kh_dzeros(b.n);
    double count = (double)b.N * b.HW;
    for (int c = 0; c < b.C; c++) {
        double mean = 0, var = 0;
        for (int n = 0; n < b.N; n++)
            for (int j = 0; j < b.HW; j++)
                mean += b.x[((size_t)n * b.C + c) * b.HW + j];
        mean /= count;
        for (int n = 0; n < b.N; n++)
            for (int j = 0; j < b.HW; j++) {
                double d = b.x[((size_t)n * b.C + c) * b.HW + j] - mean;
                var += d * d;
            }
        var /= count;
        double invstd = 1 / sqrt(var + 1e-5);
        for (int n = 0; n < b.N; n++)
            for (int j = 0; j < b.HW; j++) {
                size_t i = ((size_t)n * b.C + c) * b.HW + j;
                ref[i] = (b.x[i] - mean) * invstd * b.gamma[c] + b.beta[c];
            }
        kh_expect_close1(b.mean[c], mean, 1e-6, "save_mean");
        kh_expect_close1(b.invstd[c], invstd, 1e-6, "save_invstd");
        kh_expect_close1(b.rmean[c], 0.9 * rm0[c] + 0.1 * mean, 1e-6, "running_mean");
        kh_expect_close1(b.rvar[c], 0.9 * rv0[c] + 0.1 * var * count / (count - 1), 1e-6, "running_var");
    }
    kh_expect_close(b.y, ref, b.n, 1e-5, "bn y");
}

static void test_bn_eval_fwd(void **state)
{
    (void)state;
    kh_bn_bufs b = kh_bn_alloc(2, 5, 11, 95);
    kh_launch l = kh_make_launch(RT_K_BN_EVAL_FWD);
    l.p.i[0] = b.N, l.p.i[1] = b.C, l.p.i[2] = b.HW;
    l.p.f[0] = 1e-3f;
    kh_bind(&l, 0, b.x, b.n);
    kh_bind(&l, 1, b.gamma, (size_t)b.C);
    kh_bind(&l, 2, b.beta, (size_t)b.C);
    kh_bind(&l, 3, b.rmean, (size_t)b.C);
    kh_bind(&l, 4, b.rvar, (size_t)b.C);
    kh_bind(&l, 5, b.y, b.n);
    kh_run(&l);
    double *ref = kh_dzeros(b.n);
    for (size_t i = 0; i < b.n; i++) {
        int c = (int)(i / (size_t)b.HW % (size_t)b.C);
        ref[i] = (b.x[i] - b.rmean[c]) / sqrt((double)b.rvar[c] + 1e-3) * b.gamma[c] + b.beta[c];
    }
    kh_expect_close(b.y, ref, b.n, 1e-5, "bn eval y");
}

/* Recomputation: from a training forward's saved mean and inverse std,
 * the eval kernel repeats that forward's output bit for bit. */
static void test_bn_apply_batch_stats(void **state)
{
    (void)state;
    kh_bn_bufs b = kh_bn_alloc(3, 4, 37, 96);
    kh_launch train = kh_bn_train_launch(&b);
    kh_run(&train);
    float *again = kh_fzeros(b.n);
    kh_launch l = kh_make_launch(RT_K_BN_EVAL_FWD);
    l.p.i[0] = b.N, l.p.i[1] = b.C, l.p.i[2] = b.HW, l.p.i[3] = 1;
    l.p.f[0] = 1e-5f;
    kh_bind(&l, 0, b.x, b.n);
    kh_bind(&l, 1, b.gamma, (size_t)b.C);
    kh_bind(&l, 2, b.beta, (size_t)b.C);
    kh_bind(&l, 3, b.mean, (size_t)b.C);
    kh_bind(&l, 4, b.invstd, (size_t)b.C);
    kh_bind(&l, 5, again, b.n);
    kh_run(&l);
    assert_memory_equal(again, b.y, b.n * sizeof(float));
}

static void test_bn_bwd_gradcheck(void **state)
{
    (void)state;
    kh_bn_bufs b = kh_bn_alloc(3, 2, 5, 100);
    float *r = kh_frand(b.n, 101, -1, 1), *dx = kh_fzeros(b.n);
    float *dgamma = kh_fzeros((size_t)b.C), *dbeta = kh_fzeros((size_t)b.C);
    double *num = kh_dzeros(b.n);
    kh_launch fwd = kh_bn_train_launch(&b);

    kh_numeric_grad(&fwd, b.x, b.n, b.y, r, b.n, num);
    kh_run(&fwd); /* save_mean/invstd of the unperturbed x */
    kh_launch bwd = kh_bn_bwd_launch(&b, r, dx, dgamma, dbeta);
    kh_run(&bwd);
    kh_expect_grad(dx, num, b.n, 2e-3, "bn dx");
    kh_numeric_grad(&fwd, b.gamma, (size_t)b.C, b.y, r, b.n, num);
    kh_expect_grad(dgamma, num, (size_t)b.C, 2e-3, "bn dgamma");
    kh_numeric_grad(&fwd, b.beta, (size_t)b.C, b.y, r, b.n, num);
    kh_expect_grad(dbeta, num, (size_t)b.C, 2e-3, "bn dbeta");
    kh_run(&fwd);

    /* Each output alone, in both accum modes, equals the full run. */
    double *ref_dx = kh_dzeros(b.n), *ref_dg = kh_dzeros((size_t)b.C), *ref_db = kh_dzeros((size_t)b.C);
    for (size_t i = 0; i < b.n; i++)
        ref_dx[i] = dx[i];
    for (int c = 0; c < b.C; c++)
        ref_dg[c] = dgamma[c], ref_db[c] = dbeta[c];
    kh_launch only_dx = kh_bn_bwd_launch(&b, r, dx, NULL, NULL);
    kh_check_both_modes(&only_dx, 3, 5, b.n, ref_dx, 1e-6);
    kh_launch only_dg = kh_bn_bwd_launch(&b, r, NULL, dgamma, NULL);
    kh_check_both_modes(&only_dg, 4, 6, (size_t)b.C, ref_dg, 1e-6);
    kh_launch only_db = kh_bn_bwd_launch(&b, r, NULL, NULL, dbeta);
    kh_check_both_modes(&only_db, 4, 7, (size_t)b.C, ref_db, 1e-6);
}

/* ---- layer norm ---- */

static void test_ln_fwd(void **state)
{
    (void)state;
    kh_ln_bufs b = kh_ln_alloc(5, 19, 110);
    kh_launch l = kh_ln_fwd_launch(&b);
    kh_run(&l);
    double *ref = kh_dzeros(b.n);
    for (int r = 0; r < b.rows; r++) {
        const float *x = b.x + (size_t)r * b.D;
        double mean = 0, var = 0;
        for (int d = 0; d < b.D; d++)
            mean += x[d];
        mean /= b.D;
        for (int d = 0; d < b.D; d++)
            var += (x[d] - mean) * (x[d] - mean);
        double rstd = 1 / sqrt(var / b.D + 1e-5);
        for (int d = 0; d < b.D; d++)
            ref[(size_t)r * b.D + d] = (x[d] - mean) * rstd * b.gamma[d] + b.beta[d];
        kh_expect_close1(b.mean[r], mean, 1e-6, "save_mean");
        kh_expect_close1(b.rstd[r], rstd, 1e-6, "save_rstd");
    }
    kh_expect_close(b.y, ref, b.n, 1e-5, "ln y");
}

static void test_ln_bwd_gradcheck(void **state)
{
    (void)state;
    kh_ln_bufs b = kh_ln_alloc(4, 11, 120);
    float *r = kh_frand(b.n, 121, -1, 1), *dx = kh_fzeros(b.n);
    float *dgamma = kh_fzeros((size_t)b.D), *dbeta = kh_fzeros((size_t)b.D);
    double *num = kh_dzeros(b.n);
    kh_launch fwd = kh_ln_fwd_launch(&b);

    kh_numeric_grad(&fwd, b.x, b.n, b.y, r, b.n, num);
    kh_run(&fwd);
    kh_launch bwd = kh_ln_bwd_launch(&b, r, dx, dgamma, dbeta);
    kh_run(&bwd);
    kh_expect_grad(dx, num, b.n, 2e-3, "ln dx");
    kh_numeric_grad(&fwd, b.gamma, (size_t)b.D, b.y, r, b.n, num);
    kh_expect_grad(dgamma, num, (size_t)b.D, 2e-3, "ln dgamma");
    kh_numeric_grad(&fwd, b.beta, (size_t)b.D, b.y, r, b.n, num);
    kh_expect_grad(dbeta, num, (size_t)b.D, 2e-3, "ln dbeta");
    kh_run(&fwd);

    double *ref_dx = kh_dzeros(b.n), *ref_dg = kh_dzeros((size_t)b.D), *ref_db = kh_dzeros((size_t)b.D);
    for (size_t i = 0; i < b.n; i++)
        ref_dx[i] = dx[i];
    for (int d = 0; d < b.D; d++)
        ref_dg[d] = dgamma[d], ref_db[d] = dbeta[d];
    kh_launch only_dx = kh_ln_bwd_launch(&b, r, dx, NULL, NULL);
    kh_check_both_modes(&only_dx, 2, 5, b.n, ref_dx, 1e-6);
    kh_launch only_dg = kh_ln_bwd_launch(&b, r, NULL, dgamma, NULL);
    kh_check_both_modes(&only_dg, 3, 6, (size_t)b.D, ref_dg, 1e-6);
    kh_launch only_db = kh_ln_bwd_launch(&b, r, NULL, NULL, dbeta);
    kh_check_both_modes(&only_db, 3, 7, (size_t)b.D, ref_db, 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KH_TEST(test_bn_train_fwd),
        KH_TEST(test_bn_eval_fwd),
        KH_TEST(test_bn_apply_batch_stats),
        KH_TEST(test_bn_bwd_gradcheck),
        KH_TEST(test_ln_fwd),
        KH_TEST(test_ln_bwd_gradcheck),
    };
    return cmocka_run_group_tests(tests, kh_group_setup, kh_group_teardown);
}
