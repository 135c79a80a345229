/* Loss kernels (softmax cross entropy, MSE) and optimizer kernels
 * (gradient norm / clipping, SGD, AdamW) against references. */
#include "kernel_harness.h"

#include <math.h>

/* ---- softmax cross entropy ---- */

static void ref_softmax_ce(const float *x, const int32_t *labels, int N, int C, double s, double *probs,
                           double *loss, unsigned *correct)
{
    *loss = 0;
    *correct = 0;
    for (int n = 0; n < N; n++) {
        const float *row = x + (size_t)n * C;
        double top = row[0], z = 0;
        int arg = 0;
        for (int c = 1; c < C; c++)
            if (row[c] > top)
                top = row[c], arg = c;
        for (int c = 0; c < C; c++)
            z += exp(row[c] - top);
        double log_z = top + log(z);
        for (int c = 0; c < C; c++) {
            probs[(size_t)n * C + c] = exp(row[c] - log_z);
            double q = (c == labels[n] ? 1 - s : 0) + s / C;
            *loss -= q * (row[c] - log_z);
        }
        *correct += arg == labels[n];
    }
    *loss /= N;
}

static void test_softmax_ce(void **state)
{
    (void)state;
    const int N = 7, C = 11;
    const size_t n = (size_t)N * C;
    int32_t labels[7] = {0, 10, 3, 3, 5, 7, 1};
    const float smoothing[2] = {0, 0.1f};
    for (int si = 0; si < 2; si++) {
        float *x = kh_frand(n, 140 + si, -3, 3), *probs = kh_fzeros(n), *dl = kh_fzeros(n);
        x[2 * C + 3] = 9, x[2 * C + 6] = 9; /* tie, label 3 first: correct */
        x[3 * C + 1] = 9, x[3 * C + 3] = 9; /* tie, label 3 second: wrong */
        float sc[RT_SC_COUNT] = {0};
        sc[RT_SC_LOSS_SUM] = 1.5f;
        ((unsigned *)sc)[RT_SC_CORRECT] = 2;
        ((unsigned *)sc)[RT_SC_SAMPLES] = 10;

        kh_launch fwd = kh_make_launch(RT_K_SOFTMAX_CE_FWD);
        fwd.p.i[0] = N, fwd.p.i[1] = C;
        fwd.p.f[0] = smoothing[si];
        kh_bind(&fwd, 0, x, n);
        kh_bind(&fwd, 1, labels, (size_t)N);
        kh_bind(&fwd, 2, probs, n);
        kh_bind(&fwd, 3, sc, RT_SC_COUNT);
        kh_run(&fwd);

        double *ref = kh_dzeros(n), loss;
        unsigned correct;
        ref_softmax_ce(x, labels, N, C, smoothing[si], ref, &loss, &correct);
        kh_expect_close(probs, ref, n, 1e-6, "probs");
        kh_expect_close1(sc[RT_SC_LOSS], loss, 1e-6, "LOSS");
        kh_expect_close1(sc[RT_SC_LOSS_SUM], 1.5 + loss * N, 1e-6, "LOSS_SUM");
        assert_int_equal(((unsigned *)sc)[RT_SC_CORRECT], 2 + correct);
        assert_int_equal(((unsigned *)sc)[RT_SC_SAMPLES], 10 + N);
        assert_true(correct >= 1); /* row 2 */

        /* Gradient of LOSS through finite differences. */
        double *num = kh_dzeros(n);
        float one = 1;
        kh_numeric_grad(&fwd, x, n, &sc[RT_SC_LOSS], &one, 1, num);
        kh_run(&fwd);
        kh_launch bwd = kh_make_launch(RT_K_SOFTMAX_CE_BWD);
        bwd.p.i[0] = N, bwd.p.i[1] = C;
        bwd.p.f[0] = smoothing[si];
        kh_bind(&bwd, 0, probs, n);
        kh_bind(&bwd, 1, labels, (size_t)N);
        kh_bind(&bwd, 2, dl, n);
        kh_run(&bwd);
        kh_expect_grad(dl, num, n, 1e-3, "softmax ce");
        for (int i = 0; i < N; i++)
            for (int c = 0; c < C; c++) {
                size_t k = (size_t)i * C + c;
                num[k] = (ref[k] - ((c == labels[i] ? 1 - smoothing[si] : 0) + smoothing[si] / C)) / N;
            }
        kh_check_both_modes(&bwd, 2, 2, n, num, 1e-6);
    }
}

static void test_softmax_ce_extreme_logits(void **state)
{
    (void)state;
    float x[4] = {1000, -1000, 0, 999}, probs[4], sc[RT_SC_COUNT] = {0};
    int32_t labels[1] = {3};
    kh_launch l = kh_make_launch(RT_K_SOFTMAX_CE_FWD);
    l.p.i[0] = 1, l.p.i[1] = 4;
    kh_bind(&l, 0, x, 4);
    kh_bind(&l, 1, labels, 1);
    kh_bind(&l, 2, probs, 4);
    kh_bind(&l, 3, sc, RT_SC_COUNT);
    kh_run(&l);
    kh_expect_close1(sc[RT_SC_LOSS], 1 + log1p(exp(-1.0)), 1e-6, "stable loss");
    assert_true(isfinite(probs[0]) && probs[1] == 0 && isfinite(probs[3]));
}

/* A label outside [0, C) contributes no loss, no correct count and no
 * gradient; the mean still divides by N. */
static void test_softmax_ce_ignores_bad_label(void **state)
{
    (void)state;
    float x[6] = {1, 2, 3, 3, 2, 1}, probs[6], dl[6], sc[RT_SC_COUNT] = {0};
    int32_t labels[2] = {2, 7};
    kh_launch l = kh_make_launch(RT_K_SOFTMAX_CE_FWD);
    l.p.i[0] = 2, l.p.i[1] = 3;
    kh_bind(&l, 0, x, 6);
    kh_bind(&l, 1, labels, 2);
    kh_bind(&l, 2, probs, 6);
    kh_bind(&l, 3, sc, RT_SC_COUNT);
    kh_run(&l);
    double row0 = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3;
    kh_expect_close1(sc[RT_SC_LOSS], row0 / 2, 1e-6, "loss without the bad row");
    assert_int_equal(((unsigned *)sc)[RT_SC_CORRECT], 1);
    kh_launch b = kh_make_launch(RT_K_SOFTMAX_CE_BWD);
    b.p.i[0] = 2, b.p.i[1] = 3;
    kh_bind(&b, 0, probs, 6);
    kh_bind(&b, 1, labels, 2);
    kh_bind(&b, 2, dl, 6);
    kh_fill_nan(dl, 6);
    kh_run(&b);
    for (int c = 3; c < 6; c++)
        assert_true(dl[c] == 0);
    assert_true(dl[2] < 0 && dl[0] > 0);
}

/* ---- mean squared error ---- */

static void test_mse(void **state)
{
    (void)state;
    const int N = 6, D = 7;
    const size_t n = (size_t)N * D;
    float *pred = kh_frand(n, 150, -1, 1), *target = kh_frand(n, 151, -1, 1), *dp = kh_fzeros(n);
    float sc[RT_SC_COUNT] = {0};
    sc[RT_SC_LOSS_SUM] = 0.25f;
    kh_launch fwd = kh_make_launch(RT_K_MSE_FWD);
    fwd.p.i[0] = N, fwd.p.i[1] = D;
    kh_bind(&fwd, 0, pred, n);
    kh_bind(&fwd, 1, target, n);
    kh_bind(&fwd, 2, sc, RT_SC_COUNT);
    kh_run(&fwd);
    double loss = 0;
    for (size_t i = 0; i < n; i++)
        loss += ((double)pred[i] - target[i]) * ((double)pred[i] - target[i]);
    loss /= (double)n;
    kh_expect_close1(sc[RT_SC_LOSS], loss, 1e-6, "mse LOSS");
    kh_expect_close1(sc[RT_SC_LOSS_SUM], 0.25 + loss * N, 1e-6, "mse LOSS_SUM");
    assert_int_equal(((unsigned *)sc)[RT_SC_SAMPLES], N);
    assert_int_equal(((unsigned *)sc)[RT_SC_CORRECT], 0);

    double *num = kh_dzeros(n);
    float one = 1;
    kh_numeric_grad(&fwd, pred, n, &sc[RT_SC_LOSS], &one, 1, num);
    kh_launch bwd = kh_make_launch(RT_K_MSE_BWD);
    bwd.p.i[0] = N, bwd.p.i[1] = D;
    kh_bind(&bwd, 0, pred, n);
    kh_bind(&bwd, 1, target, n);
    kh_bind(&bwd, 2, dp, n);
    kh_run(&bwd);
    kh_expect_grad(dp, num, n, 1e-3, "mse");
    for (size_t i = 0; i < n; i++)
        num[i] = 2 * ((double)pred[i] - target[i]) / (double)n;
    kh_check_both_modes(&bwd, 2, 2, n, num, 1e-6);
}

/* ---- optimizers ---- */

static void test_grad_norm(void **state)
{
    (void)state;
    const size_t n = 1003;
    float *g = kh_frand(n, 160, -1, 1);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)g[i] * g[i];
    double norm = sqrt(sum);
    const float max_norms[3] = {1.0f, 1000.0f, 0.0f};
    for (int k = 0; k < 3; k++) {
        float sc[RT_SC_COUNT] = {0};
        kh_launch l = kh_make_launch(RT_K_GRAD_NORM);
        l.p.i[0] = (int)n;
        l.p.f[0] = max_norms[k];
        kh_bind(&l, 0, g, n);
        kh_bind(&l, 1, sc, RT_SC_COUNT);
        kh_run(&l);
        kh_expect_close1(sc[RT_SC_GRAD_NORM], norm, 1e-6, "norm");
        kh_expect_close1(sc[RT_SC_CLIP_SCALE], fmin(1.0, max_norms[k] / (norm + 1e-6)), 1e-6, "clip");
    }
}

typedef struct sgd_case {
    int has_momentum, nesterov, use_clip;
    float momentum, dampening, wd;
} sgd_case;

static void test_sgd_three_steps(void **state)
{
    (void)state;
    const sgd_case cases[] = {
        {0, 0, 0, 0, 0, 0},         {0, 0, 1, 0, 0, 0.01f},      {1, 0, 0, 0.9f, 0, 0},
        {1, 0, 1, 0.9f, 0.1f, 0.01f}, {1, 1, 0, 0.9f, 0, 0.001f},
    };
    const size_t n = 37;
    const float lrs[3] = {0.1f, 0.05f, 0.02f};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const sgd_case *c = &cases[k];
        float *p = kh_frand(n, 170 + k, -1, 1), *buf = kh_fzeros(n);
        kh_fill_nan(buf, n); /* the first step must not read the buffer */
        double *rp = kh_dzeros(n), *rb = kh_dzeros(n);
        for (size_t i = 0; i < n; i++)
            rp[i] = p[i];
        for (int t = 1; t <= 3; t++) {
            float *grad = kh_frand(n, 180 + 10 * k + (uint64_t)t, -1, 1);
            float sc[RT_SC_COUNT] = {0};
            sc[RT_SC_LR] = lrs[t - 1];
            ((unsigned *)sc)[RT_SC_STEP] = (unsigned)t;
            sc[RT_SC_CLIP_SCALE] = 0.5f;
            kh_launch l = kh_make_launch(RT_K_SGD);
            l.p.i[0] = (int)n, l.p.i[1] = c->has_momentum, l.p.i[2] = c->nesterov, l.p.i[3] = c->use_clip;
            l.p.f[0] = c->momentum, l.p.f[1] = c->dampening, l.p.f[2] = c->wd;
            kh_bind(&l, 0, p, n);
            kh_bind(&l, 1, grad, n);
            kh_bind(&l, 2, c->has_momentum ? buf : NULL, n);
            kh_bind(&l, 3, sc, RT_SC_COUNT);
            kh_run(&l);
            for (size_t i = 0; i < n; i++) { /* torch.optim.SGD */
                double g = grad[i] * (c->use_clip ? 0.5 : 1.0) + (double)c->wd * rp[i];
                if (c->has_momentum) {
                    rb[i] = t == 1 ? g : c->momentum * rb[i] + (1 - (double)c->dampening) * g;
                    g = c->nesterov ? g + c->momentum * rb[i] : rb[i];
                }
                rp[i] -= lrs[t - 1] * g;
            }
            kh_expect_close(p, rp, n, 1e-6, "sgd param");
            if (c->has_momentum)
                kh_expect_close(buf, rb, n, 1e-6, "sgd momentum buffer");
        }
    }
}

static void test_adamw_three_steps(void **state)
{
    (void)state;
    const size_t n = 41;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
    const float lrs[3] = {1e-2f, 5e-3f, 2e-3f};
    for (int use_clip = 0; use_clip <= 1; use_clip++) {
        float *p = kh_frand(n, 190, -1, 1), *m = kh_fzeros(n), *v = kh_fzeros(n);
        double *rp = kh_dzeros(n), *rm = kh_dzeros(n), *rv = kh_dzeros(n);
        for (size_t i = 0; i < n; i++)
            rp[i] = p[i];
        for (int t = 1; t <= 3; t++) {
            float *grad = kh_frand(n, 200 + (uint64_t)t, -1, 1);
            float sc[RT_SC_COUNT] = {0};
            sc[RT_SC_LR] = lrs[t - 1];
            ((unsigned *)sc)[RT_SC_STEP] = (unsigned)t;
            sc[RT_SC_BIAS_CORR1] = (float)(1 - pow(b1, t));
            sc[RT_SC_BIAS_CORR2] = (float)(1 - pow(b2, t));
            sc[RT_SC_CLIP_SCALE] = 0.25f;
            kh_launch l = kh_make_launch(RT_K_ADAMW);
            l.p.i[0] = (int)n, l.p.i[1] = use_clip;
            l.p.f[0] = (float)b1, l.p.f[1] = (float)b2, l.p.f[2] = (float)eps, l.p.f[3] = (float)wd;
            kh_bind(&l, 0, p, n);
            kh_bind(&l, 1, grad, n);
            kh_bind(&l, 2, m, n);
            kh_bind(&l, 3, v, n);
            kh_bind(&l, 4, sc, RT_SC_COUNT);
            kh_run(&l);
            double lr = lrs[t - 1], bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
            for (size_t i = 0; i < n; i++) { /* torch.optim.AdamW */
                double g = grad[i] * (use_clip ? 0.25 : 1.0);
                rp[i] *= 1 - lr * wd;
                rm[i] = b1 * rm[i] + (1 - b1) * g;
                rv[i] = b2 * rv[i] + (1 - b2) * g * g;
                rp[i] -= lr / bc1 * rm[i] / (sqrt(rv[i]) / sqrt(bc2) + eps);
            }
            kh_expect_close(p, rp, n, 2e-6, "adamw param");
            kh_expect_close(m, rm, n, 1e-6, "adamw m");
            kh_expect_close(v, rv, n, 1e-6, "adamw v");
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KH_TEST(test_softmax_ce),
        KH_TEST(test_softmax_ce_extreme_logits),
        KH_TEST(test_softmax_ce_ignores_bad_label),
        KH_TEST(test_mse),
        KH_TEST(test_grad_norm),
        KH_TEST(test_sgd_three_steps),
        KH_TEST(test_adamw_three_steps),
    };
    return cmocka_run_group_tests(tests, kh_group_setup, kh_group_teardown);
}
