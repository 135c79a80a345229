/* Vulkan backend basics on the real driver (lavapipe in CI) with the
 * validation layer on: transfers, unaligned views, simple kernels against
 * the CPU backend, and one submit per program run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/context.h>

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
        for (int mode = 0; mode < 4; mode++) {
            p.i[1] = mode & 1;       /* accum */
            p.i[2] = mode >> 1;      /* scaled by f[0] */
            p.f[0] = mode >> 1 ? -0.75f : 2.5f;
            vkh_arg args[2] = {{n, false, src}, {n, false, dst}};
            assert_true(vkh_compare(RT_K_COPY, &p, 2, args, 0, 0, "copy") == 0);
        }
        p.i[1] = p.i[2] = 0;
        free(src);
        free(dst);
    }
}

/* fp16 pack/unpack agree with the CPU bit for bit (lavapipe rounds to
 * nearest even like the CPU; the spec leaves packHalf2x16's rounding to
 * the device, so a real GPU may differ by one half-ulp). */
static void test_fp16_conversions(void **state)
{
    (void)state;
    int counts[] = {1, 2, 129, 100001};
    for (int k = 0; k < 4; k++) {
        int n = counts[k];
        float *x = vkh_rand((size_t)n, 11, -70000.0f, 70000.0f);
        for (int i = 0; i < n; i += 7)
            x[i] *= 1e-6f; /* some subnormal halves too */
        rt_params p = {{0}, {0}};
        p.i[0] = n;
        vkh_arg pack[2] = {{(size_t)n, false, x}, {(size_t)(n + 1) / 2, true, NULL}};
        assert_true(vkh_compare(RT_K_PACK_F16, &p, 2, pack, 0, 0, "pack_f16") == 0);
        int *words = vkh_rand_int((size_t)(n + 1) / 2, 5, 1 << 30);
        vkh_arg unpack[2] = {{(size_t)(n + 1) / 2, true, words}, {(size_t)n, false, NULL}};
        assert_true(vkh_compare(RT_K_UNPACK_F16, &p, 2, unpack, 0, 0, "unpack_f16") == 0);
        free(x);
        free(words);
    }
}

/* The 16-bit storage variant is used where the device has it; the quirk
 * mechanism (here through VKT_VULKAN_DISABLE) turns it off, and the
 * packed fallback then gives the same bits. */
static void test_storage16_and_quirks(void **state)
{
    (void)state;
    rt_backend *vk = vkh_vulkan();
    vkt_device_info info[4];
    int count = 0;
    assert_int_equal(vkt_list_devices(info, 4, &count), VKT_OK);
    assert_int_equal(rt_vulkan_uses_storage16(vk), info[0].storage_16bit);

    setenv("VKT_VULKAN_DISABLE", "storage16", 1);
    rt_backend *plain;
    assert_int_equal(rt_vulkan_backend_create(-1, true, &plain), VKT_OK);
    assert_false(rt_vulkan_uses_storage16(plain));
    assert_int_equal(vkt_list_devices(info, 4, &count), VKT_OK);
    assert_non_null(strstr(info[0].disabled_features, "storage16"));
    unsetenv("VKT_VULKAN_DISABLE");

    int n = 1001;
    float *x = vkh_rand((size_t)n, 3, -3000.0f, 3000.0f), y1[1001], y2[1001];
    uint32_t w1[501], w2[501];
    rt_backend *bes[2] = {vk, plain};
    uint32_t *ws[2] = {w1, w2};
    float *ys[2] = {y1, y2};
    for (int b = 0; b < 2; b++) {
        rt_buffer *src, *mid, *dst;
        assert_int_equal(rt_buffer_create(bes[b], (size_t)n * 4, &src), VKT_OK);
        assert_int_equal(rt_buffer_create(bes[b], 501 * 4, &mid), VKT_OK);
        assert_int_equal(rt_buffer_create(bes[b], (size_t)n * 4, &dst), VKT_OK);
        rt_upload(bes[b], src, 0, x, (size_t)n * 4);
        rt_launch l[2] = {{.kernel = RT_K_PACK_F16, .nargs = 2}, {.kernel = RT_K_UNPACK_F16, .nargs = 2}};
        l[0].args[0] = (rt_view){src, 0, (size_t)n * 4};
        l[0].args[1] = (rt_view){mid, 0, 501 * 4};
        l[1].args[0] = (rt_view){mid, 0, 501 * 4};
        l[1].args[1] = (rt_view){dst, 0, (size_t)n * 4};
        l[0].params.i[0] = l[1].params.i[0] = n;
        rt_program *prog;
        assert_int_equal(rt_program_create(bes[b], l, 2, &prog), VKT_OK);
        assert_int_equal(rt_program_run(bes[b], prog), VKT_OK);
        rt_download(bes[b], mid, 0, ws[b], 501 * 4);
        rt_download(bes[b], dst, 0, ys[b], (size_t)n * 4);
        rt_program_destroy(bes[b], prog);
        rt_buffer_destroy(bes[b], src);
        rt_buffer_destroy(bes[b], mid);
        rt_buffer_destroy(bes[b], dst);
    }
    assert_memory_equal(w1, w2, sizeof w1);
    assert_memory_equal(y1, y2, sizeof y1);
    const char *first = NULL;
    if (rt_vulkan_validation_messages(plain, &first))
        fail_msg("validation: %s", first);
    rt_backend_destroy(plain);
    free(x);
    vkh_assert_no_validation_messages();
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

/* The pipeline cache file is written at shutdown, loaded at the next
 * start, and ignored (never trusted) when corrupt or foreign. */
static void test_pipeline_cache_file(void **state)
{
    (void)state;
    char *dir = tu_temp_path("pcache");
    setenv("VKT_PIPELINE_CACHE_DIR", dir, 1);
    for (int round = 0; round < 4; round++) {
        rt_backend *vk;
        assert_int_equal(rt_vulkan_backend_create(-1, true, &vk), VKT_OK);
        /* round 0: no file; 1: the file written by round 0; 2: garbage; 3: foreign header */
        assert_int_equal(rt_vulkan_pipeline_cache_loaded(vk), round == 1);
        rt_buffer *b;
        assert_int_equal(rt_buffer_create(vk, 64, &b), VKT_OK);
        rt_launch l = {.kernel = RT_K_FILL, .nargs = 1};
        l.args[0] = (rt_view){b, 0, 64};
        l.params.i[0] = 16;
        rt_program *prog;
        assert_int_equal(rt_program_create(vk, &l, 1, &prog), VKT_OK);
        assert_int_equal(rt_program_run(vk, prog), VKT_OK);
        rt_program_destroy(vk, prog);
        rt_buffer_destroy(vk, b);
        const char *first = NULL;
        if (rt_vulkan_validation_messages(vk, &first))
            fail_msg("validation: %s", first);
        rt_backend_destroy(vk);
        if (round >= 1) { /* overwrite the cache file for the next round */
            char cmd[600];
            snprintf(cmd, sizeof cmd, round == 1 ? "for f in %s/*.bin; do echo garbage > $f; done"
                                                 : "for f in %s/*.bin; do printf '\\040\\0\\0\\0\\1\\0\\0\\0"
                                                   "\\377\\377\\0\\0\\0\\0\\0\\0%%032d' 0 > $f; done",
                     dir);
            assert_int_equal(system(cmd), 0);
        }
    }
    unsetenv("VKT_PIPELINE_CACHE_DIR");
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfers),
        cmocka_unit_test(test_fill_and_copy),
        cmocka_unit_test(test_fp16_conversions),
        cmocka_unit_test(test_storage16_and_quirks),
        cmocka_unit_test(test_one_submit_per_run),
        cmocka_unit_test(test_pipeline_cache_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
