/* The parts of secure aggregation on their own: Shamir sharing over
 * GF(2^8) (any t of n shares rebuild the secret, t - 1 do not), the mask
 * PRG (its chunks join into ChaCha20's one stream; adding then
 * subtracting a mask restores the vector), the fixed-point encoding (its
 * range check, sums of max_clients extremes that do not wrap, decoding
 * within the stated error) and the round parameters. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <vktrain/vktrain.h>

#include "src/secagg/secagg_internal.h"

static void random_secret(uint8_t secret[SA_KEY_BYTES], uint64_t seed)
{
    for (int i = 0; i < SA_KEY_BYTES; i++)
        secret[i] = (uint8_t)((seed * 131 + (uint64_t)i * 29 + 7) ^ (seed >> 3));
}

static void test_shamir_any_t_of_n(void **state)
{
    (void)state;
    enum { N = 7, T = 4 };
    uint8_t secret[SA_KEY_BYTES], shares[N][SA_KEY_BYTES];
    uint8_t xs[N] = {1, 2, 3, 5, 8, 13, 255};
    random_secret(secret, 42);
    assert_int_equal(sa_shamir_split(secret, T, xs, N, shares), VKT_OK);
    int subsets = 0;
    for (unsigned mask = 0; mask < (1u << N); mask++) {
        if (__builtin_popcount(mask) != T)
            continue;
        uint8_t sx[T], ss[T][SA_KEY_BYTES], got[SA_KEY_BYTES];
        int k = 0;
        for (int i = 0; i < N; i++)
            if (mask & (1u << i)) {
                sx[k] = xs[i];
                memcpy(ss[k], shares[i], SA_KEY_BYTES);
                k++;
            }
        assert_int_equal(sa_shamir_combine(sx, (const uint8_t(*)[SA_KEY_BYTES])ss, T, T, got), VKT_OK);
        assert_memory_equal(got, secret, SA_KEY_BYTES);
        subsets++;
    }
    assert_int_equal(subsets, 35);
    /* All seven agree too. */
    uint8_t got[SA_KEY_BYTES];
    assert_int_equal(sa_shamir_combine(xs, (const uint8_t(*)[SA_KEY_BYTES])shares, N, T, got), VKT_OK);
    assert_memory_equal(got, secret, SA_KEY_BYTES);
}

static void test_shamir_fails_below_threshold(void **state)
{
    (void)state;
    enum { N = 5, T = 3 };
    uint8_t secret[SA_KEY_BYTES], shares[N][SA_KEY_BYTES], got[SA_KEY_BYTES];
    uint8_t xs[N] = {1, 2, 3, 4, 5};
    random_secret(secret, 7);
    assert_int_equal(sa_shamir_split(secret, T, xs, N, shares), VKT_OK);
    /* The API refuses t - 1 shares ... */
    assert_int_equal(sa_shamir_combine(xs, (const uint8_t(*)[SA_KEY_BYTES])shares, T - 1, T, got), VKT_ERR_STATE);
    /* ... and interpolating them anyway gives something else. */
    assert_int_equal(sa_shamir_combine(xs, (const uint8_t(*)[SA_KEY_BYTES])shares, T - 1, T - 1, got), VKT_OK);
    assert_memory_not_equal(got, secret, SA_KEY_BYTES);
    /* Shares are not the secret, and duplicate or zero indices are refused. */
    for (int i = 0; i < N; i++)
        assert_memory_not_equal(shares[i], secret, SA_KEY_BYTES);
    uint8_t bad[N] = {1, 2, 2, 4, 5};
    assert_int_equal(sa_shamir_split(secret, T, bad, N, shares), VKT_ERR_INVALID_ARG);
    uint8_t zero[N] = {0, 1, 2, 3, 4};
    assert_int_equal(sa_shamir_split(secret, T, zero, N, shares), VKT_ERR_INVALID_ARG);
    assert_int_equal(sa_shamir_split(secret, N + 1, xs, N, shares), VKT_ERR_INVALID_ARG);
}

static void test_mask_is_chacha20_stream(void **state)
{
    (void)state;
    enum { COUNT = 3000 }; /* crosses the 1024-value chunks */
    uint8_t seed[SA_KEY_BYTES], nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    random_secret(seed, 3);
    uint8_t *stream = malloc(COUNT * 4);
    uint32_t *v = calloc(COUNT, sizeof *v), *orig = malloc(COUNT * sizeof *orig);
    assert_non_null(stream);
    assert_non_null(v);
    assert_non_null(orig);
    crypto_stream_chacha20(stream, COUNT * 4, nonce, seed);
    sa_mask_add(seed, +1, v, COUNT);
    for (int i = 0; i < COUNT; i++)
        assert_int_equal(v[i], upd_load_le32(stream + 4 * i));
    for (int i = 0; i < COUNT; i++)
        orig[i] = v[i] = (uint32_t)i * 2654435761u;
    sa_mask_add(seed, +1, v, COUNT);
    assert_memory_not_equal(v, orig, COUNT * sizeof *v);
    sa_mask_add(seed, -1, v, COUNT);
    assert_memory_equal(v, orig, COUNT * sizeof *v);
    free(stream);
    free(v);
    free(orig);
}

static void test_quantize_range_check(void **state)
{
    (void)state;
    const double range = 2.0;
    uint32_t out[3] = {7, 7, 7};
    float ok[3] = {-2.0f, 0.0f, 2.0f};
    assert_int_equal(vkt_secagg_quantize(ok, 3, range, 10, out), VKT_OK);
    assert_int_equal(out[1], 0);
    assert_int_equal((int32_t)out[2], INT32_MAX / 10);
    assert_int_equal((int32_t)out[0], -(INT32_MAX / 10));

    uint32_t untouched[3] = {7, 7, 7};
    float over[3] = {0.5f, nextafterf(2.0f, 3.0f), 0.0f};
    assert_int_equal(vkt_secagg_quantize(over, 3, range, 10, untouched), VKT_ERR_INVALID_ARG);
    assert_non_null(strstr(vkt_last_error(), "element 1"));
    assert_int_equal(untouched[0], 7);
    float nan_in[1] = {NAN};
    assert_int_equal(vkt_secagg_quantize(nan_in, 1, range, 10, untouched), VKT_ERR_INVALID_ARG);
    assert_int_equal(vkt_secagg_quantize(ok, 3, 0.0, 10, out), VKT_ERR_INVALID_ARG);
    assert_int_equal(vkt_secagg_quantize(ok, 3, range, 0, out), VKT_ERR_INVALID_ARG);
    assert_int_equal(vkt_secagg_quantize(ok, 3, range, VKT_SECAGG_MAX_CLIENTS + 1, out), VKT_ERR_INVALID_ARG);
}

/* max_clients values at the extremes sum without wrapping; random sums
 * decode within max_clients * step / 2. */
static void test_quantize_sums(void **state)
{
    (void)state;
    enum { CLIENTS = 255, N = 64 };
    const double range = 1000.0;
    double step = vkt_secagg_quant_step(range, CLIENTS);
    assert_true(step > 0.0);
    float hi = (float)range, lo = (float)-range;
    uint32_t qhi, qlo, sum_hi = 0, sum_lo = 0;
    assert_int_equal(vkt_secagg_quantize(&hi, 1, range, CLIENTS, &qhi), VKT_OK);
    assert_int_equal(vkt_secagg_quantize(&lo, 1, range, CLIENTS, &qlo), VKT_OK);
    for (int c = 0; c < CLIENTS; c++) {
        sum_hi += qhi;
        sum_lo += qlo;
    }
    double got;
    assert_int_equal(vkt_secagg_dequantize(&sum_hi, 1, range, CLIENTS, &got), VKT_OK);
    assert_true(fabs(got - CLIENTS * range) <= CLIENTS * step / 2 + 1e-9);
    assert_int_equal(vkt_secagg_dequantize(&sum_lo, 1, range, CLIENTS, &got), VKT_OK);
    assert_true(fabs(got + CLIENTS * range) <= CLIENTS * step / 2 + 1e-9);

    const int clients = 20;
    float x[N];
    uint32_t q[N], sum[N] = {0};
    double want[N] = {0}, decoded[N];
    for (int c = 0; c < clients; c++) {
        tu_fill_uniform(x, N, 100 + (uint64_t)c, (float)-range, (float)range);
        assert_int_equal(vkt_secagg_quantize(x, N, range, clients, q), VKT_OK);
        for (int i = 0; i < N; i++) {
            sum[i] += q[i];
            want[i] += x[i];
        }
    }
    assert_int_equal(vkt_secagg_dequantize(sum, N, range, clients, decoded), VKT_OK);
    double bound = clients * vkt_secagg_quant_step(range, clients) / 2;
    for (int i = 0; i < N; i++)
        assert_true(fabs(decoded[i] - want[i]) <= bound + 1e-9);
}

static void test_params(void **state)
{
    (void)state;
    vkt_secagg_params p = {.client_count = 9, .vector_length = 4}, out;
    assert_int_equal(vkt_secagg_params_resolve(&p, &out), VKT_OK);
    assert_int_equal(out.threshold, 6);
    p.client_count = 20;
    assert_int_equal(vkt_secagg_params_resolve(&p, &out), VKT_OK);
    assert_int_equal(out.threshold, 14);
    p.client_count = 2;
    assert_int_equal(vkt_secagg_params_resolve(&p, &out), VKT_OK);
    assert_int_equal(out.threshold, 2);
    p = (vkt_secagg_params){.client_count = 9, .vector_length = 4, .threshold = 5};
    assert_int_equal(vkt_secagg_params_resolve(&p, &out), VKT_OK);
    assert_int_equal(out.threshold, 5);
    p.threshold = 4; /* not > n/2 */
    assert_int_equal(vkt_secagg_params_resolve(&p, &out), VKT_ERR_INVALID_ARG);
    p.threshold = 10;
    assert_int_equal(vkt_secagg_params_resolve(&p, &out), VKT_ERR_INVALID_ARG);
    p = (vkt_secagg_params){.client_count = 256, .vector_length = 4};
    assert_int_equal(vkt_secagg_params_resolve(&p, &out), VKT_ERR_INVALID_ARG);
    p = (vkt_secagg_params){.client_count = 1, .vector_length = 4};
    assert_int_equal(vkt_secagg_params_resolve(&p, &out), VKT_ERR_INVALID_ARG);
    p = (vkt_secagg_params){.client_count = 3, .vector_length = 0};
    assert_int_equal(vkt_secagg_params_resolve(&p, &out), VKT_ERR_INVALID_ARG);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shamir_any_t_of_n),
        cmocka_unit_test(test_shamir_fails_below_threshold),
        cmocka_unit_test(test_mask_is_chacha20_stream),
        cmocka_unit_test(test_quantize_range_check),
        cmocka_unit_test(test_quantize_sums),
        cmocka_unit_test(test_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
