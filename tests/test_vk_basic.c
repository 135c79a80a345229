/* Vulkan backend basics on the real driver (lavapipe in CI) with the
 * validation layer on: transfers, unaligned views, simple kernels against
 * the CPU backend, and one submit per program run. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "vk_harness.h"

static void test_transfers(void **state)
{
    (void)state;
    rt_backend *vk = vkh_vulkan();
    assert_non_null(vk);
    rt_buffer *b;
    assert_int_equal(rt_buffer_create(vk, 1000, &b), VKT_OK);
    float *x = vkh_rand(250, 1, -1, 1), y[250];
    assert_int_equal(rt_upload(vk, b, 0, x, 1000), VKT_OK);
    assert_int_equal(rt_download(vk, b, 0, y, 1000), VKT_OK);
    assert_memory_equal(x, y, 1000);
    assert_int_equal(rt_upload(vk, b, 996, x, 8), VKT_ERR_INVALID_ARG); /* past the end */
    rt_buffer_destroy(vk, b);
    free(x);
    vkh_assert_no_validation_messages();
}

static void test_fill_and_copy(void **state)
{
    (void)state;
    size_t sizes[] = {1, 127, 128, 1000, 70001};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        rt_params p = {{0}, {0}};
        p.i[0] = (int)n;
        p.f[0] = 2.5f;
        vkh_arg fill_args[1] = {{n, false, NULL}};
        assert_true(vkh_compare(RT_K_FILL, &p, 1, fill_args, 0, 0, "fill") == 0);
        float *src = vkh_rand(n, 2, -1, 1), *dst = vkh_rand(n, 3, -1, 1);
        for (int accum = 0; accum < 2; accum++) {
            p.i[1] = accum;
            vkh_arg args[2] = {{n, false, src}, {n, false, dst}};
            assert_true(vkh_compare(RT_K_COPY, &p, 2, args, 0, 0, accum ? "copy accum" : "copy") == 0);
        }
        free(src);
        free(dst);
    }
}

/* A program run is exactly one queue submit and no host wait; the wait
 * happens when the result is read. */
static void test_one_submit_per_run(void **state)
{
    (void)state;
    rt_backend *vk = vkh_vulkan();
    rt_buffer *b;
    assert_int_equal(rt_buffer_create(vk, 4096, &b), VKT_OK);
    rt_launch l[2] = {{.kernel = RT_K_FILL, .nargs = 1}, {.kernel = RT_K_FILL, .nargs = 1}};
    l[0].args[0] = (rt_view){b, 0, 4096};
    l[0].params.i[0] = 1024;
    l[0].params.f[0] = 1.0f;
    l[1] = l[0];
    l[1].args[0] = (rt_view){b, 256, 512};
    l[1].params.i[0] = 128;
    l[1].params.f[0] = 7.0f;
    rt_program *prog;
    assert_int_equal(rt_program_create(vk, l, 2, &prog), VKT_OK);
    rt_backend_stats before = vk->stats;
    assert_int_equal(rt_program_run(vk, prog), VKT_OK);
    assert_int_equal(vk->stats.submits - before.submits, 1);
    assert_int_equal(vk->stats.host_waits - before.host_waits, 0);
    float y[1024];
    assert_int_equal(rt_download(vk, b, 0, y, sizeof y), VKT_OK);
    for (int i = 0; i < 1024; i++)
        assert_true(y[i] == (i >= 64 && i < 192 ? 7.0f : 1.0f));
    rt_program_destroy(vk, prog);
    rt_buffer_destroy(vk, b);
    vkh_assert_no_validation_messages();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfers),
        cmocka_unit_test(test_fill_and_copy),
        cmocka_unit_test(test_one_submit_per_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
