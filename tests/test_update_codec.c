/* The codec stages on their own: top-k selection, int8 error bound and
 * unbiased stochastic rounding, strict varints, the DP step's clipping
 * and noise, and the deterministic test RNG. */
#include "test_util.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/update/bytes.h"
#include "src/update/codec.h"
#include "src/update/dp.h"
#include "src/update/rng.h"

static const uint8_t seed1[32] = {1, 2, 3};
static const uint8_t seed2[32] = {9, 9, 9};

static void test_topk_count(void **state)
{
    (void)state;
    assert_int_equal(upd_topk_count(0.01f, 100000), 1000);
    assert_int_equal(upd_topk_count(0.01f, 10), 1);
    assert_int_equal(upd_topk_count(0.5f, 3), 2);
    assert_int_equal(upd_topk_count(1e-9f, 5), 1);
    assert_int_equal(upd_topk_count(0.999f, 5), 5);
}

static void test_topk_select(void **state)
{
    (void)state;
    const uint32_t n = 5000;
    float *v = malloc(n * sizeof *v);
    uint32_t *idx = malloc(n * sizeof *idx);
    tu_fill_uniform(v, n, 7, -1.0f, 1.0f);
    for (uint32_t k = 1; k <= n; k = k * 3 + 1) {
        upd_topk_select(v, n, k, idx);
        float smallest_in = INFINITY;
        for (uint32_t j = 0; j < k; j++) {
            if (j > 0)
                assert_true(idx[j] > idx[j - 1]);
            smallest_in = fminf(smallest_in, fabsf(v[idx[j]]));
        }
        /* Everything left out is no larger than anything taken. */
        uint32_t taken = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (taken < k && idx[taken] == i)
                taken++;
            else
                assert_true(fabsf(v[i]) <= smallest_in);
        }
    }
    /* Ties, zeros, negative zero, huge and tiny values. */
    float t[8] = {0.0f, -0.0f, 2.0f, -2.0f, 2.0f, FLT_MIN, -FLT_MAX, 1e-45f};
    upd_topk_select(t, 8, 3, idx);
    assert_int_equal(idx[0], 2);
    assert_int_equal(idx[1], 3);
    assert_int_equal(idx[2], 6);
    upd_topk_select(t, 8, 4, idx);
    assert_int_equal(idx[3], 6);
    assert_int_equal(idx[2], 4);
    upd_topk_select(t, 8, 8, idx);
    for (uint32_t j = 0; j < 8; j++)
        assert_int_equal(idx[j], j);
    free(v);
    free(idx);
}

static void test_int8_error_bound(void **state)
{
    (void)state;
    const uint32_t n = 10000, block = 64;
    float *x = malloc(n * sizeof *x), *recon = malloc(n * sizeof *recon);
    float scales[10000 / 64 + 1];
    int8_t *q = malloc(n);
    tu_fill_uniform(x, n, 3, -5.0f, 5.0f);
    x[100] = 0.0f;
    for (uint32_t i = 128; i < 192; i++)
        x[i] = 0.0f; /* an all-zero block */
    upd_rng rng;
    upd_rng_init(&rng, seed1);
    upd_quantize_int8(x, n, block, &rng, scales, q, recon);
    for (uint32_t i = 0; i < n; i++) {
        float s = scales[i / block];
        assert_true(q[i] >= -127 && q[i] <= 127);
        assert_true(recon[i] == (float)q[i] * s);
        /* Stochastic rounding moves to one of the two neighbouring
         * levels: the error is below one step (round to nearest would
         * halve that, at the price of a bias). */
        assert_true(fabsf(recon[i] - x[i]) <= s * 1.000001f);
        if (x[i] == 0.0f)
            assert_int_equal(q[i], 0);
    }
    assert_true(scales[2] == 0.0f);
    /* The block maximum is represented exactly (it is +-127 steps). */
    free(x);
    free(recon);
    free(q);
}

static void test_int8_unbiased(void **state)
{
    (void)state;
    /* Blocks of [127, 0.3, 0.3, ...]: scale 1, so 0.3 rounds to 0 or 1
     * and must average 0.3; -2.75 averages to -2.75 likewise. */
    const uint32_t block = 256, blocks = 400, n = block * blocks;
    float *x = malloc(n * sizeof *x), *recon = malloc(n * sizeof *recon), *scales = malloc(blocks * sizeof *scales);
    int8_t *q = malloc(n);
    for (uint32_t i = 0; i < n; i++)
        x[i] = i % block == 0 ? 127.0f : (i % 2 ? 0.3f : -2.75f);
    upd_rng rng;
    upd_rng_init(&rng, seed2);
    upd_quantize_int8(x, n, block, &rng, scales, q, recon);
    double sum_a = 0.0, sum_b = 0.0;
    uint32_t na = 0, nb = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i % block == 0)
            continue;
        if (i % 2)
            sum_a += recon[i], na++;
        else
            sum_b += recon[i], nb++;
    }
    /* Standard errors: sqrt(p(1-p)/n) ~ 0.0013 and 0.0012; allow 5. */
    assert_float_equal(sum_a / na, 0.3, 0.0065);
    assert_float_equal(sum_b / nb, -2.75, 0.006);
    free(x);
    free(recon);
    free(scales);
    free(q);
}

static void test_varint_strict(void **state)
{
    (void)state;
    upd_buf b = {0};
    const uint32_t values[] = {0, 1, 127, 128, 300, 16383, 16384, 0x7fffffffu, 0xffffffffu};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++)
        upd_buf_varint(&b, values[i]);
    upd_reader r = {b.data, b.len};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        uint32_t v;
        assert_int_equal(upd_get_varint(&r, &v), UPD_VARINT_OK);
        assert_int_equal(v, values[i]);
    }
    assert_int_equal(r.left, 0);
    upd_buf_wipe(&b);

    struct {
        uint8_t bytes[7];
        size_t len;
        upd_varint_result want;
    } bad[] = {
        {{0x80}, 1, UPD_VARINT_TRUNCATED},
        {{0x80, 0x00}, 2, UPD_VARINT_BAD},                         /* overlong zero */
        {{0xff, 0x80, 0x00}, 3, UPD_VARINT_BAD},                   /* overlong */
        {{0xff, 0xff, 0xff, 0xff, 0x10}, 5, UPD_VARINT_BAD},       /* 33 bits */
        {{0xff, 0xff, 0xff, 0xff, 0x8f, 0x01}, 6, UPD_VARINT_BAD}, /* six bytes */
        {{0}, 0, UPD_VARINT_TRUNCATED},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        upd_reader br = {bad[i].bytes, bad[i].len};
        uint32_t v;
        assert_int_equal(upd_get_varint(&br, &v), bad[i].want);
    }
}

static void test_dp_clip_and_noise(void **state)
{
    (void)state;
    const size_t n = 40000;
    float *v = malloc(n * sizeof *v), *ref = malloc(n * sizeof *ref);
    tu_fill_uniform(v, n, 5, -1.0f, 1.0f);
    upd_rng rng;
    upd_rng_init(&rng, seed1);

    /* Noise 0: only the clip. */
    memcpy(ref, v, n * sizeof *v);
    double norm;
    bool clipped;
    upd_dp_apply(v, n, 2.0f, 0.0f, &rng, &norm, &clipped);
    assert_true(clipped);
    assert_float_equal(norm, upd_l2_norm(ref, n), 1e-9);
    assert_float_equal(upd_l2_norm(v, n), 2.0, 1e-5);
    /* A small update is left alone. */
    memcpy(v, ref, n * sizeof *v);
    upd_dp_apply(v, n, 1e6f, 0.0f, &rng, &norm, &clipped);
    assert_false(clipped);
    assert_memory_equal(v, ref, n * sizeof *v);

    /* Noise: mean 0, standard deviation noise * clip. */
    memset(v, 0, n * sizeof *v);
    upd_dp_apply(v, n, 0.5f, 3.0f, &rng, &norm, &clipped);
    double mean = 0.0, var = 0.0;
    for (size_t i = 0; i < n; i++)
        mean += v[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        var += (v[i] - mean) * (v[i] - mean);
    double sd = sqrt(var / (double)(n - 1));
    assert_float_equal(sd, 1.5, 1.5 * 0.03);
    assert_float_equal(mean, 0.0, 5 * 1.5 / sqrt((double)n));
    free(v);
    free(ref);
}

static void test_rng_streams(void **state)
{
    (void)state;
    upd_rng a, b, c, s1, s2;
    upd_rng_init(&a, seed1);
    upd_rng_init(&b, seed1);
    upd_rng_init(&c, seed2);
    upd_rng_init(&s1, NULL);
    upd_rng_init(&s2, NULL);
    int same_ab = 0, same_ac = 0, same_sys = 0;
    for (int i = 0; i < 3000; i++) { /* crosses several buffer refills */
        uint32_t x = upd_rng_u32(&a);
        same_ab += x == upd_rng_u32(&b);
        same_ac += x == upd_rng_u32(&c);
        same_sys += upd_rng_u32(&s1) == upd_rng_u32(&s2);
    }
    assert_int_equal(same_ab, 3000);
    assert_true(same_ac < 3);
    assert_true(same_sys < 3);
    double u = upd_rng_uniform(&a);
    assert_true(u >= 0.0 && u < 1.0);
    upd_rng_wipe(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topk_count),
        cmocka_unit_test(test_topk_select),
        cmocka_unit_test(test_int8_error_bound),
        cmocka_unit_test(test_int8_unbiased),
        cmocka_unit_test(test_varint_strict),
        cmocka_unit_test(test_dp_clip_and_noise),
        cmocka_unit_test(test_rng_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
