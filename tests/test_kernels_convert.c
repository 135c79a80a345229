/* fp16 pack/unpack kernels: every half value survives unpack then pack,
 * and packing rounds exactly like the compiler's _Float16 conversion
 * (IEEE round to nearest even) over edge cases and random floats. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_harness.h"
#include "test_util.h"

static void run_convert(rt_kernel k, const void *src, void *dst, int count)
{
    kh_launch l = kh_make_launch(k);
    l.p.i[0] = count;
    size_t words = (size_t)(count + 1) / 2;
    kh_bind(&l, 0, (void *)src, k == RT_K_PACK_F16 ? (size_t)count : words);
    kh_bind(&l, 1, dst, k == RT_K_PACK_F16 ? words : (size_t)count);
    kh_run(&l);
}

static void test_all_halves_round_trip(void **state)
{
    (void)state;
    const int n = 65536;
    uint32_t *packed = malloc((size_t)n / 2 * 4), *again = malloc((size_t)n / 2 * 4);
    float *f = malloc((size_t)n * 4);
    for (int i = 0; i < n; i += 2)
        packed[i / 2] = (uint32_t)i | (uint32_t)(i + 1) << 16;
    run_convert(RT_K_UNPACK_F16, packed, f, n);
    run_convert(RT_K_PACK_F16, f, again, n);
    for (int i = 0; i < n; i++) {
        uint16_t want = (uint16_t)i, got = (uint16_t)(again[i / 2] >> (16 * (i % 2)));
        bool nan = (want & 0x7c00u) == 0x7c00u && (want & 0x3ffu);
        if (nan ? !((got & 0x7c00u) == 0x7c00u && (got & 0x3ffu)) : got != want)
            fail_msg("half 0x%04x came back as 0x%04x", want, got);
        _Float16 h;
        memcpy(&h, &want, 2);
        if (!nan && memcmp(&(float){(float)h}, &f[i], 4) != 0)
            fail_msg("half 0x%04x unpacked to %g, expected %g", want, f[i], (double)(float)h);
    }
    free(packed), free(again), free(f);
}

static void test_rounding_matches_ieee(void **state)
{
    (void)state;
    const int n = 1 << 20;
    float *x = malloc((size_t)n * 4);
    uint32_t *packed = malloc((size_t)(n + 1) / 2 * 4);
    uint32_t s = 12345;
    const float edges[] = {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 1e9f, -1e9f, INFINITY, -INFINITY,
                           5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f, 6.1035156e-5f, 6.1035152e-5f, 1.0f + 0x1p-11f,
                           1.0f + 0x1p-11f + 0x1p-23f, 1.0f + 3 * 0x1p-11f};
    int ne = (int)(sizeof edges / sizeof edges[0]);
    for (int i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        uint32_t bits = (s & 0x8fffffffu) | (((s >> 4) % 40 + 100) << 23); /* exponents around half's range */
        memcpy(&x[i], &bits, 4);
        if (i < ne)
            x[i] = edges[i];
    }
    run_convert(RT_K_PACK_F16, x, packed, n - 1); /* odd count: last word half-filled */
    for (int i = 0; i < n - 1; i++) {
        _Float16 h = (_Float16)x[i];
        uint16_t want, got = (uint16_t)(packed[i / 2] >> (16 * (i % 2)));
        memcpy(&want, &h, 2);
        if (got != want)
            fail_msg("%.9g packed to 0x%04x, IEEE says 0x%04x", (double)x[i], got, want);
    }
    assert_int_equal(packed[(n - 2) / 2] >> 16, 0); /* the unused upper half of the last word */
    free(x), free(packed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KH_TEST(test_all_halves_round_trip),
        KH_TEST(test_rounding_matches_ieee),
    };
    return cmocka_run_group_tests(tests, kh_group_setup, kh_group_teardown);
}
