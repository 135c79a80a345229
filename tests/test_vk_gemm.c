/* RT_K_GEMM on Vulkan (shaders/gemm.comp) against the CPU backend, with
 * the validation layer on: every transpose combination, ragged edge
 * tiles, padded leading dimensions, batches with strides (and broadcast
 * operands), reduce_batch, bias modes, accum, K = 0 and the shapes the
 * example models run. Whole arguments are compared, so gaps left by
 * padded leading dimensions and strides must come back untouched. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"
#include "vk_harness.h"

typedef struct gemm_case {
    int M, N, K;
    int ta, tb;
    int lda, ldb, ldc; /* 0: minimal */
    int batch;         /* 0: 1 */
    int sa, sb, sc;    /* -1: packed (the matrix's span) */
    int bias_mode, accum, reduce;
    bool bias_always; /* pass a bias buffer even with bias_mode 0 */
    bool nonfinite;   /* an inf in A and a -inf in B */
} gemm_case;

static double worst_seen;

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

static size_t span(int rows, int cols, int ld)
{
    return rows == 0 || cols == 0 ? 0 : (size_t)(rows - 1) * (size_t)ld + (size_t)cols;
}

static size_t batch_span(int count, int stride, size_t one)
{
    return one == 0 ? 0 : (size_t)(count - 1) * (size_t)stride + one;
}

static void run_case(gemm_case c, unsigned seed)
{
    int a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
    int b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
    int lda = c.lda ? c.lda : max_int(a_cols, 1);
    int ldb = c.ldb ? c.ldb : max_int(b_cols, 1);
    int ldc = c.ldc ? c.ldc : max_int(c.N, 1);
    int batch = c.batch ? c.batch : 1;
    size_t a1 = span(a_rows, a_cols, lda), b1 = span(b_rows, b_cols, ldb), c1 = span(c.M, c.N, ldc);
    int sa = c.sa >= 0 ? c.sa : (int)a1, sb = c.sb >= 0 ? c.sb : (int)b1, sc = c.sc >= 0 ? c.sc : (int)c1;
    size_t na = batch_span(batch, sa, a1), nb = batch_span(batch, sb, b1);
    size_t nc = c.reduce ? c1 : batch_span(batch, sc, c1);
    size_t nbias = c.bias_mode == 1 ? (size_t)c.M : c.bias_mode == 2 ? (size_t)c.N : c.bias_always ? 7 : 0;

    rt_params p = {{0}, {0}};
    int32_t *i = p.i;
    i[0] = c.M, i[1] = c.N, i[2] = c.K, i[3] = c.ta, i[4] = c.tb;
    i[5] = lda, i[6] = ldb, i[7] = ldc, i[8] = batch, i[9] = sa, i[10] = sb, i[11] = sc;
    i[12] = c.bias_mode, i[13] = c.accum, i[14] = c.reduce;

    float *A = vkh_rand(na, seed, -1, 1), *B = vkh_rand(nb, seed + 1, -1, 1);
    float *C = vkh_rand(nc, seed + 2, -1, 1), *bias = vkh_rand(nbias, seed + 3, -1, 1);
    if (c.nonfinite) {
        A[na / 2] = INFINITY;
        B[nb - 1] = -INFINITY; /* the last element of a span is always read */
    }
    vkh_arg args[4] = {{na, false, A}, {nb, false, B}, {nc, false, C}, {nbias, false, bias}};

    char label[200];
    snprintf(label, sizeof label,
             "gemm M=%d N=%d K=%d t=%d%d ld=%d/%d/%d batch=%d s=%d/%d/%d bias=%d accum=%d reduce=%d", c.M, c.N,
             c.K, c.ta, c.tb, lda, ldb, ldc, batch, sa, sb, sc, c.bias_mode, c.accum, c.reduce);
    /* fp32 sums of `terms` products of values in [-1, 1): allow rounding
     * that grows with the length of the sum. */
    double terms = (double)c.K * (c.reduce ? batch : 1) + 2;
    double worst = vkh_compare(RT_K_GEMM, &p, 4, args, 1e-5, 1e-6 * terms, label);
    if (worst > 1)
        fail_msg("%s: worst error ratio %g", label, worst);
    if (getenv("VKT_GEMM_VERBOSE") && worst > 0) /* how close to exact */
        fprintf(stderr, "%s: worst error ratio %g\n", label, worst);
    if (worst > worst_seen)
        worst_seen = worst;
    free(A);
    free(B);
    free(C);
    free(bias);
}

static const int odd[] = {1, 3, 17, 63, 64, 65, 130};
#define NODD ((int)(sizeof odd / sizeof odd[0]))

/* All four layouts over ragged sizes: M, N and K each run through the odd
 * sizes (shifted against each other so every size meets several others),
 * bias mode and accum rotate along. */
static void test_transposes_odd_sizes(void **state)
{
    (void)state;
    unsigned seed = 100;
    for (int t = 0; t < 4; t++)
        for (int s = 0; s < NODD; s++) {
            gemm_case c = {.M = odd[s], .N = odd[(s + 2) % NODD], .K = odd[(s + 5) % NODD],
                           .ta = t & 1, .tb = t >> 1, .sa = -1, .sb = -1, .sc = -1,
                           .bias_mode = (s + t) % 3, .accum = (s + t) / 3 % 2};
            run_case(c, seed += 4);
        }
    vkh_assert_no_validation_messages();
}

/* A full grid of the odd sizes on one layout per size of K: every edge
 * tile shape in M x N. */
static void test_edge_tiles(void **state)
{
    (void)state;
    unsigned seed = 200;
    static const int ks[] = {1, 33, 65};
    for (int k = 0; k < 3; k++)
        for (int m = 0; m < NODD; m++)
            for (int n = 0; n < NODD; n += 2) {
                gemm_case c = {.M = odd[m], .N = odd[n], .K = ks[k], .ta = k == 1, .tb = k == 2,
                               .sa = -1, .sb = -1, .sc = -1, .bias_mode = (m + n) % 3};
                run_case(c, seed += 4);
            }
    vkh_assert_no_validation_messages();
}

/* Leading dimensions larger than the rows they hold. */
static void test_leading_dims(void **state)
{
    (void)state;
    unsigned seed = 300;
    for (int t = 0; t < 4; t++) {
        int M = 37, N = 70, K = 45;
        int ta = t & 1, tb = t >> 1;
        gemm_case c = {.M = M, .N = N, .K = K, .ta = ta, .tb = tb,
                       .lda = (ta ? M : K) + 5, .ldb = (tb ? K : N) + 3, .ldc = N + 11,
                       .sa = -1, .sb = -1, .sc = -1, .bias_mode = t % 3, .accum = t == 3};
        run_case(c, seed += 4);
        c.M = 1, c.N = 1, c.K = 1, c.lda = 4, c.ldb = 9, c.ldc = 2;
        run_case(c, seed += 4);
    }
    vkh_assert_no_validation_messages();
}

/* Batches with strides: gaps between items, broadcast A or B (stride 0),
 * outputs spread out with gaps that must stay untouched. */
static void test_batched_strides(void **state)
{
    (void)state;
    unsigned seed = 400;
    for (int t = 0; t < 4; t++) {
        int ta = t & 1, tb = t >> 1;
        gemm_case c = {.M = 20, .N = 67, .K = 30, .ta = ta, .tb = tb, .batch = 3,
                       .sa = 20 * 30 + 13, .sb = 30 * 67 + 2, .sc = 20 * 67 + 5, .bias_mode = t % 3,
                       .accum = t >= 2};
        run_case(c, seed += 4);
        c.sa = 0; /* one A for every item */
        run_case(c, seed += 4);
        c.sa = -1, c.sb = 0; /* one B for every item */
        c.ldc = 70, c.sc = 20 * 70;
        run_case(c, seed += 4);
    }
    gemm_case many = {.M = 5, .N = 9, .K = 7, .batch = 40, .sa = -1, .sb = -1, .sc = -1, .bias_mode = 2};
    run_case(many, seed += 4);
    vkh_assert_no_validation_messages();
}

/* reduce_batch: one output, the sum over the batch, bias added once. */
static void test_reduce_batch(void **state)
{
    (void)state;
    unsigned seed = 500;
    for (int t = 0; t < 4; t++)
        for (int accum = 0; accum < 2; accum++) {
            int ta = t & 1, tb = t >> 1;
            gemm_case c = {.M = 33, .N = 65, .K = 18, .ta = ta, .tb = tb, .batch = 5, .sa = -1, .sb = -1,
                           .sc = 12345 /* ignored */, .bias_mode = (t + accum) % 3, .accum = accum, .reduce = 1};
            run_case(c, seed += 4);
        }
    /* conv weight gradient: dW = sum_b dY_b col_b^T, shared nothing */
    gemm_case dw = {.M = 16, .N = 27, .K = 100, .tb = 1, .batch = 6, .sa = -1, .sb = -1, .sc = 0,
                    .accum = 1, .reduce = 1};
    run_case(dw, seed += 4);
    /* broadcast operand and a batch of one */
    gemm_case bc = {.M = 70, .N = 3, .K = 9, .ta = 1, .batch = 4, .sa = 0, .sb = -1, .sc = 0, .bias_mode = 1,
                    .reduce = 1};
    run_case(bc, seed += 4);
    bc.batch = 1;
    run_case(bc, seed += 4);
    vkh_assert_no_validation_messages();
}

/* Long reductions: the cnn's first-layer weight gradient at batch 64
 * (64 x 784 products per element) and a long K. Drivers that bound the
 * loop iterations of one invocation (lavapipe: 65535) need the backend
 * to split these; the split must not change the result or drop terms. */
static void test_long_reductions(void **state)
{
    (void)state;
    unsigned seed = 900;
    gemm_case conv1_dw = {.M = 16, .N = 9, .K = 784, .tb = 1, .batch = 64, .sa = 16 * 784, .sb = 9 * 784,
                          .sc = 0, .reduce = 1};
    run_case(conv1_dw, seed += 4);
    conv1_dw.bias_mode = 1, conv1_dw.accum = 1; /* bias once, on the last link */
    run_case(conv1_dw, seed += 4);
    gemm_case long_k = {.M = 8, .N = 5, .K = 20000, .tb = 1, .batch = 7, .sa = -1, .sb = -1, .sc = 0,
                        .bias_mode = 2, .reduce = 1};
    run_case(long_k, seed += 4);
    vkh_assert_no_validation_messages();
}

/* Every bias mode with and without accum; a bias buffer passed with bias
 * mode 0 is ignored. */
static void test_bias_accum(void **state)
{
    (void)state;
    unsigned seed = 600;
    for (int mode = 0; mode < 3; mode++)
        for (int accum = 0; accum < 2; accum++)
            for (int always = 0; always < (mode == 0 ? 2 : 1); always++) {
                gemm_case c = {.M = 66, .N = 129, .K = 40, .tb = 1, .sa = -1, .sb = -1, .sc = -1,
                               .bias_mode = mode, .accum = accum, .bias_always = always};
                run_case(c, seed += 4);
                c.batch = 2, c.ta = 1, c.tb = 0;
                run_case(c, seed += 4);
            }
    vkh_assert_no_validation_messages();
}

/* K = 0: C = bias, or C + bias with accum (A and B are absent). */
static void test_k_zero(void **state)
{
    (void)state;
    unsigned seed = 700;
    for (int mode = 0; mode < 3; mode++)
        for (int accum = 0; accum < 2; accum++)
            for (int reduce = 0; reduce < 2; reduce++) {
                gemm_case c = {.M = 65, .N = 17, .K = 0, .ta = mode == 1, .tb = accum, .batch = 2,
                               .sa = 0, .sb = 0, .sc = -1, .bias_mode = mode, .accum = accum,
                               .reduce = reduce};
                run_case(c, seed += 4);
            }
    vkh_assert_no_validation_messages();
}

/* Infinities propagate as on the CPU (and a short last K slice adds no
 * padded 0 * inf terms). */
static void test_nonfinite(void **state)
{
    (void)state;
    unsigned seed = 900;
    for (int t = 0; t < 4; t++) {
        gemm_case c = {.M = 5, .N = 70, .K = 37, .ta = t & 1, .tb = t >> 1, .sa = -1, .sb = -1, .sc = -1,
                       .bias_mode = 2, .nonfinite = true};
        run_case(c, seed += 4);
    }
    vkh_assert_no_validation_messages();
}

/* The example models' GEMMs: mlp forward (x W^T), its weight gradient
 * (dY^T X) and a conv layer's im2col GEMM with one weight matrix for a
 * batch of 8 images. */
static void test_model_shapes(void **state)
{
    (void)state;
    unsigned seed = 800;
    gemm_case fwd = {.M = 64, .N = 256, .K = 784, .tb = 1, .sa = -1, .sb = -1, .sc = -1, .bias_mode = 2};
    run_case(fwd, seed += 4);
    gemm_case wgrad = {.M = 256, .N = 784, .K = 64, .ta = 1, .sa = -1, .sb = -1, .sc = -1, .accum = 1};
    run_case(wgrad, seed += 4);
    gemm_case dx = {.M = 64, .N = 784, .K = 256, .sa = -1, .sb = -1, .sc = -1};
    run_case(dx, seed += 4);
    gemm_case conv = {.M = 32, .N = 196, .K = 144, .batch = 8, .sa = 0, .sb = -1, .sc = -1, .bias_mode = 1};
    run_case(conv, seed += 4);
    gemm_case conv_dw = {.M = 32, .N = 144, .K = 196, .tb = 1, .batch = 8, .sa = -1, .sb = -1, .sc = 0,
                         .reduce = 1, .accum = 1};
    run_case(conv_dw, seed += 4);
    gemm_case conv_dcol = {.M = 144, .N = 196, .K = 32, .ta = 1, .batch = 8, .sa = 0, .sb = -1, .sc = -1};
    run_case(conv_dcol, seed += 4);
    fprintf(stderr, "worst error ratio over all cases so far: %g\n", worst_seen);
    vkh_assert_no_validation_messages();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transposes_odd_sizes),
        cmocka_unit_test(test_edge_tiles),
        cmocka_unit_test(test_leading_dims),
        cmocka_unit_test(test_batched_strides),
        cmocka_unit_test(test_reduce_batch),
        cmocka_unit_test(test_long_reductions),
        cmocka_unit_test(test_bias_accum),
        cmocka_unit_test(test_k_zero),
        cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_model_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
