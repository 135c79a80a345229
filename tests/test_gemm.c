/* CPU GEMM tests: every feature of RT_K_GEMM against a double-precision
 * reference over a grid of ragged shapes, with every micro-kernel this CPU
 * runs; results bit-identical for 1, 2 and 3 threads, and between the
 * AVX-512 and AVX2 kernels. */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cpu/cpu_kernels.h"

/* gemm.c: force a micro-kernel ("avx512", "avx2", "generic"; NULL: the
 * best); returns the name in use. */
const char *cpu_gemm_use_isa(const char *name);

/* ---- one problem ---------------------------------------------------------- */

typedef struct gemm_case {
    int M, N, K;
    int trans_a, trans_b;
    int pad;       /* extra elements in every leading dimension */
    int batch;
    int shared_a;  /* strideA = 0: one A for every batch item */
    int reduce;    /* reduce_batch */
    int bias_mode; /* 0 none, 1 per row, 2 per column */
    int accum;
} gemm_case;

/* Storage of one problem: the case's layout and its buffers. */
typedef struct gemm_data {
    gemm_case c;
    int64_t lda, ldb, ldc, stride_a, stride_b, stride_c;
    size_t a_len, b_len, c_len, bias_len;
    float *A, *B, *C0, *bias;
} gemm_data;

static cpu_pool *pools[3]; /* 1, 2 and 3 threads */

/* Elements a batch of `count` items spans, `stride` apart. */
static size_t span(int64_t count, int64_t stride, size_t one)
{
    return count > 0 ? (size_t)((count - 1) * stride) + one : one;
}

static gemm_data make_data(const gemm_case *c, uint64_t seed)
{
    gemm_data d = {.c = *c};
    int a_rows = c->trans_a ? c->K : c->M, b_rows = c->trans_b ? c->N : c->K;
    d.lda = (c->trans_a ? c->M : c->K) + c->pad;
    d.ldb = (c->trans_b ? c->K : c->N) + c->pad;
    d.ldc = c->N + c->pad;
    size_t a_one = (size_t)(a_rows * d.lda), b_one = (size_t)(b_rows * d.ldb);
    size_t c_one = (size_t)(c->M * d.ldc);
    /* Gaps between batch items catch a wrong stride. */
    d.stride_a = c->shared_a ? 0 : (int64_t)a_one + 5;
    d.stride_b = (int64_t)b_one + 3;
    d.stride_c = c->reduce ? 0 : (int64_t)c_one + 7;
    d.a_len = span(c->batch, d.stride_a, a_one);
    d.b_len = span(c->batch, d.stride_b, b_one);
    d.c_len = span(c->reduce ? 1 : c->batch, d.stride_c, c_one);
    d.bias_len = c->bias_mode == 1 ? (size_t)c->M : c->bias_mode == 2 ? (size_t)c->N : 0;

    d.A = malloc((d.a_len + 1) * sizeof(float));
    d.B = malloc((d.b_len + 1) * sizeof(float));
    d.C0 = malloc((d.c_len + 1) * sizeof(float));
    d.bias = malloc((d.bias_len + 1) * sizeof(float));
    assert_true(d.A && d.B && d.C0 && d.bias);
    tu_fill_uniform(d.A, d.a_len, seed, -1, 1);
    tu_fill_uniform(d.B, d.b_len, seed + 1, -1, 1);
    tu_fill_uniform(d.C0, d.c_len, seed + 2, -1, 1);
    tu_fill_uniform(d.bias, d.bias_len, seed + 3, -1, 1);
    return d;
}

static void free_data(gemm_data *d)
{
    free(d->A);
    free(d->B);
    free(d->C0);
    free(d->bias);
}

static double op_a(const gemm_data *d, int64_t b, int m, int k)
{
    const float *A = d->A + b * d->stride_a;
    return d->c.trans_a ? A[k * d->lda + m] : A[m * d->lda + k];
}

static double op_b(const gemm_data *d, int64_t b, int k, int n)
{
    const float *B = d->B + b * d->stride_b;
    return d->c.trans_b ? B[n * d->ldb + k] : B[k * d->ldb + n];
}

/* The expected C buffer, padding included (which must stay as it was). */
static float *reference(const gemm_data *d)
{
    const gemm_case *c = &d->c;
    float *ref = malloc((d->c_len + 1) * sizeof(float));
    memcpy(ref, d->C0, d->c_len * sizeof(float));
    int outputs = c->reduce ? 1 : c->batch;
    for (int o = 0; o < outputs; o++) {
        int b_begin = c->reduce ? 0 : o, b_end = c->reduce ? c->batch : o + 1;
        float *C = ref + o * d->stride_c;
        for (int m = 0; m < c->M; m++)
            for (int n = 0; n < c->N; n++) {
                double sum = c->accum ? C[m * d->ldc + n] : 0.0;
                for (int b = b_begin; b < b_end; b++)
                    for (int k = 0; k < c->K; k++)
                        sum += op_a(d, b, m, k) * op_b(d, b, k, n);
                if (c->bias_mode)
                    sum += d->bias[c->bias_mode == 1 ? m : n];
                C[m * d->ldc + n] = (float)sum;
            }
    }
    return ref;
}

static void run_gemm(const gemm_data *d, cpu_pool *pool, float *C)
{
    const gemm_case *c = &d->c;
    rt_params p = {0};
    int32_t iv[] = {c->M, c->N, c->K, c->trans_a, c->trans_b, (int32_t)d->lda, (int32_t)d->ldb,
                    (int32_t)d->ldc, c->batch, (int32_t)d->stride_a, (int32_t)d->stride_b,
                    (int32_t)d->stride_c, c->bias_mode, c->accum, c->reduce};
    memcpy(p.i, iv, sizeof iv);
    cpu_kernel_args a = {.pool = pool, .p = &p};
    a.args[0] = d->A, a.sizes[0] = d->a_len * sizeof(float);
    a.args[1] = d->B, a.sizes[1] = d->b_len * sizeof(float);
    a.args[2] = C, a.sizes[2] = d->c_len * sizeof(float);
    a.args[3] = d->bias, a.sizes[3] = d->bias_len * sizeof(float);
    cpu_gemm(&a);
}

static void describe(const gemm_case *c, char *buf, size_t size)
{
    snprintf(buf, size,
             "M=%d N=%d K=%d tA=%d tB=%d pad=%d batch=%d shared_a=%d reduce=%d bias=%d accum=%d",
             c->M, c->N, c->K, c->trans_a, c->trans_b, c->pad, c->batch, c->shared_a, c->reduce,
             c->bias_mode, c->accum);
}

/* Runs a case on every pool: the result must match the reference within
 * tolerance and be bit-identical across thread counts. */
static void check_case(const gemm_case *c)
{
    static uint64_t seed = 1;
    char what[200];
    describe(c, what, sizeof what);
    gemm_data d = make_data(c, seed += 4);
    float *ref = reference(&d);
    float *first = malloc((d.c_len + 1) * sizeof(float));
    float *out = malloc((d.c_len + 1) * sizeof(float));
    /* Float sums of K*batch terms in [-1, 1] drift with their length. */
    double terms = (double)c->K * (c->reduce ? c->batch : 1);
    double tol = 2e-6 * fmax(4.0, sqrt(terms));

    for (int t = 0; t < 3; t++) {
        float *C = t == 0 ? first : out;
        memcpy(C, d.C0, d.c_len * sizeof(float));
        run_gemm(&d, pools[t], C);
        if (t == 0) {
            double err = tu_max_rel_diff(C, ref, d.c_len);
            if (!(err <= tol))
                fail_msg("%s: error %g > %g", what, err, tol);
        } else if (memcmp(C, first, d.c_len * sizeof(float)) != 0) {
            fail_msg("%s: %d threads differ from 1 thread", what, t + 1);
        }
    }
    free(out);
    free(first);
    free(ref);
    free_data(&d);
}

/* Runs `body` once per micro-kernel this CPU supports. */
static void for_each_kernel(void (*body)(void))
{
    static const char *const kernels[] = {"avx512", "avx2", "generic"};
    for (size_t i = 0; i < sizeof kernels / sizeof *kernels; i++) {
        if (strcmp(cpu_gemm_use_isa(kernels[i]), kernels[i]) != 0)
            continue;
        body();
    }
    cpu_gemm_use_isa(NULL);
}

/* ---- tests ---------------------------------------------------------------- */

static const int odd_sizes[] = {1, 3, 17, 33, 67, 130};
#define N_ODD (int)(sizeof odd_sizes / sizeof *odd_sizes)

/* All transposes over ragged M and N; K short, medium and longer than a
 * K block. Bias, accumulation and padding vary along the grid. */
static void grid_body(void)
{
    static const int ks[] = {1, 17, 300};
    int step = 0;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int mi = 0; mi < N_ODD; mi++)
                for (int ni = 0; ni < N_ODD; ni++)
                    for (int ki = 0; ki < 3; ki++, step++) {
                        gemm_case c = {
                            .M = odd_sizes[mi], .N = odd_sizes[ni], .K = ks[ki],
                            .trans_a = ta, .trans_b = tb, .pad = step % 4 == 0 ? 0 : step % 5,
                            .batch = 1, .bias_mode = step % 3, .accum = step / 3 % 2,
                        };
                        check_case(&c);
                    }
}

static void test_grid_every_kernel(void **state)
{
    (void)state;
    for_each_kernel(grid_body);
}

static void test_tiny(void **state)
{
    (void)state;
    for (int bias = 0; bias < 3; bias++)
        for (int accum = 0; accum < 2; accum++) {
            gemm_case c = {.M = 1, .N = 1, .K = 1, .batch = 1, .bias_mode = bias, .accum = accum};
            check_case(&c);
            c.trans_a = c.trans_b = 1;
            c.pad = 2;
            check_case(&c);
        }
}

/* Independent problems with strides, padding between items, and a shared
 * A (strideA = 0, as convolution weights are). */
static void batched_body(void)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int shared = 0; shared < 2; shared++) {
                gemm_case c = {.M = 19, .N = 37, .K = 23, .trans_a = ta, .trans_b = tb,
                               .pad = 1 + shared, .batch = 5, .shared_a = shared,
                               .bias_mode = (ta + tb + shared) % 3, .accum = tb};
                check_case(&c);
            }
}

static void test_batched_every_kernel(void **state)
{
    (void)state;
    for_each_kernel(batched_body);
}

/* C = (C +) sum over the batch, bias added once. */
static void reduce_body(void)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int accum = 0; accum < 2; accum++)
                for (int bias = 0; bias < 3; bias++) {
                    gemm_case c = {.M = 13, .N = 35, .K = 29, .trans_a = ta, .trans_b = tb,
                                   .pad = bias, .batch = 4 + accum, .shared_a = ta && bias == 1,
                                   .reduce = 1, .bias_mode = bias, .accum = accum};
                    check_case(&c);
                    c.batch = 1;
                    check_case(&c);
                }
    /* small and narrow (one half-width column panel), long K */
    gemm_case narrow = {.M = 13, .N = 10, .K = 300, .trans_b = 1, .pad = 2, .batch = 4,
                        .reduce = 1, .bias_mode = 1, .accum = 1};
    check_case(&narrow);
}

static void test_reduce_batch_every_kernel(void **state)
{
    (void)state;
    for_each_kernel(reduce_body);
}

/* No products: C becomes the bias (or zero), or keeps its value plus the
 * bias with accum; also an empty batch in reduce mode. */
static void test_no_products(void **state)
{
    (void)state;
    for (int bias = 0; bias < 3; bias++)
        for (int accum = 0; accum < 2; accum++) {
            gemm_case c = {.M = 5, .N = 7, .K = 0, .pad = 2, .batch = 3, .bias_mode = bias,
                           .accum = accum};
            check_case(&c);
            c.reduce = 1;
            check_case(&c);
            c.K = 4;
            c.batch = 0;
            check_case(&c);
        }
}

/* The shapes training runs (batch-64 MLP and CNN), which take the
 * multi-tile plans, plus tall and narrow problems cut along M, and long K
 * in batches. */
static void test_training_shapes(void **state)
{
    (void)state;
    static const gemm_case cases[] = {
        {.M = 64, .N = 256, .K = 784, .trans_b = 1, .batch = 1, .bias_mode = 2},
        {.M = 256, .N = 784, .K = 64, .trans_a = 1, .batch = 1, .accum = 1},
        {.M = 64, .N = 784, .K = 256, .batch = 1},
        {.M = 64, .N = 10, .K = 128, .trans_b = 1, .batch = 1, .bias_mode = 2},
        {.M = 16, .N = 784, .K = 9, .batch = 64, .shared_a = 1, .bias_mode = 1},
        {.M = 32, .N = 196, .K = 144, .batch = 64, .shared_a = 1, .bias_mode = 1},
        {.M = 32, .N = 144, .K = 196, .trans_b = 1, .batch = 64, .reduce = 1},
        {.M = 144, .N = 196, .K = 32, .trans_a = 1, .batch = 64, .shared_a = 1},
        {.M = 16, .N = 9, .K = 784, .trans_b = 1, .batch = 64, .reduce = 1},
        {.M = 64, .N = 10, .K = 1568, .trans_b = 1, .batch = 1, .bias_mode = 2},
        {.M = 530, .N = 45, .K = 70, .pad = 3, .batch = 1, .bias_mode = 1},
        {.M = 300, .N = 9, .K = 600, .trans_a = 1, .trans_b = 1, .batch = 1, .accum = 1},
        /* several K blocks per batch item */
        {.M = 20, .N = 70, .K = 520, .trans_b = 1, .pad = 1, .batch = 3, .reduce = 1,
         .bias_mode = 2, .accum = 1},
        {.M = 9, .N = 100, .K = 270, .batch = 3, .shared_a = 1, .bias_mode = 1},
        /* narrow weight gradients */
        {.M = 64, .N = 1, .K = 256, .trans_b = 1, .pad = 1, .batch = 2, .reduce = 1,
         .bias_mode = 2},
        {.M = 3, .N = 12, .K = 1000, .trans_b = 1, .batch = 3, .reduce = 1, .accum = 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_case(&cases[i]);
}

/* Every element is the same chain of multiply-adds whichever FMA kernel
 * computes it, so the AVX-512 and AVX2 kernels agree bit for bit (and a
 * model trains the same on either machine). */
static void test_fma_kernels_agree(void **state)
{
    (void)state;
    if (strcmp(cpu_gemm_use_isa("avx512"), "avx512") != 0 ||
        strcmp(cpu_gemm_use_isa("avx2"), "avx2") != 0) {
        cpu_gemm_use_isa(NULL);
        skip();
    }
    static const gemm_case cases[] = {
        {.M = 64, .N = 256, .K = 784, .trans_b = 1, .batch = 1, .bias_mode = 2},
        {.M = 37, .N = 53, .K = 300, .trans_a = 1, .pad = 2, .batch = 1, .accum = 1},
        {.M = 130, .N = 67, .K = 17, .trans_a = 1, .trans_b = 1, .batch = 1, .bias_mode = 1},
        {.M = 19, .N = 9, .K = 70, .trans_b = 1, .batch = 6, .reduce = 1, .accum = 1},
        {.M = 19, .N = 9, .K = 270, .trans_b = 1, .batch = 6, .reduce = 1, .accum = 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gemm_data d = make_data(&cases[i], 100 + i);
        float *c512 = malloc((d.c_len + 1) * sizeof(float));
        float *c256 = malloc((d.c_len + 1) * sizeof(float));
        memcpy(c512, d.C0, d.c_len * sizeof(float));
        memcpy(c256, d.C0, d.c_len * sizeof(float));
        cpu_gemm_use_isa("avx512");
        run_gemm(&d, pools[1], c512);
        cpu_gemm_use_isa("avx2");
        run_gemm(&d, pools[1], c256);
        assert_memory_equal(c512, c256, d.c_len * sizeof(float));
        free(c512);
        free(c256);
        free_data(&d);
    }
    cpu_gemm_use_isa(NULL);
}

/* ---- main ----------------------------------------------------------------- */

static int create_pools(void **state)
{
    (void)state;
    for (int t = 0; t < 3; t++)
        if (cpu_pool_create(t + 1, &pools[t]) != VKT_OK)
            return -1;
    return 0;
}

static int destroy_pools(void **state)
{
    (void)state;
    for (int t = 0; t < 3; t++)
        cpu_pool_destroy(pools[t]);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_every_kernel),
        cmocka_unit_test(test_tiny),
        cmocka_unit_test(test_batched_every_kernel),
        cmocka_unit_test(test_reduce_batch_every_kernel),
        cmocka_unit_test(test_no_products),
        cmocka_unit_test(test_training_shapes),
        cmocka_unit_test(test_fma_kernels_agree),
    };
    return cmocka_run_group_tests(tests, create_pools, destroy_pools);
}
