/* Per-launch profiling on Vulkan (lavapipe, validation on): timestamps
 * per launch from the lazily recorded profiling command buffer, profiled
 * training steps grouped per node, ordinary runs unchanged (one submit),
 * and a clear error where the queue cannot write timestamps. */
#include <string.h>

#include "profile_harness.h"
#include "runtime/vulkan/vk_backend.h"
#include "src/context.h"
#include "test_util.h"
#include "vk_harness.h"

static void test_backend_profile(void **state)
{
    (void)state;
    rt_backend *vk = vkh_vulkan();
    assert_non_null(vk);
    ph_check_backend_profile(vk);
    vkh_assert_no_validation_messages();
}

static void test_trainer_profile(void **state)
{
    (void)state;
    ph_check_trainer_profile("vulkan", (ph_config){.policy = "full", .fp16 = true});
    ph_check_trainer_profile("vulkan", (ph_config){.policy = "last:1", .clip = true});
}

static void test_context_info(void **state)
{
    (void)state;
    vkt_context *ctx;
    vkt_context_options co = {"vulkan", 1};
    assert_int_equal(vkt_context_create(&co, &ctx), VKT_OK);
    vkt_context_info info;
    assert_int_equal(vkt_context_get_info(ctx, &info), VKT_OK);
    assert_string_equal(info.backend, "vulkan");
    assert_true(info.has_device);
    assert_string_equal(info.cpu_isa, "");
    assert_true(strstr(vkt_context_device_name(ctx), info.device.name) != NULL);
    vkt_device_info devs[16];
    int count = 0;
    assert_int_equal(vkt_list_devices(devs, 16, &count), VKT_OK);
    assert_true(info.device.index >= 0 && info.device.index < count);
    assert_string_equal(devs[info.device.index].name, info.device.name);
    assert_int_equal(devs[info.device.index].subgroup_size, info.device.subgroup_size);
    vkt_context_destroy(ctx);
}

/* A queue without timestamps: profiling refuses with a message that
 * says why; running is unaffected. */
static void test_no_timestamps(void **state)
{
    (void)state;
    rt_backend *vk = vkh_vulkan();
    vk_backend *vb = (vk_backend *)vk;
    rt_buffer *b;
    assert_int_equal(rt_buffer_create(vk, 256, &b), VKT_OK);
    rt_launch l = {.kernel = RT_K_FILL, .nargs = 1, .args = {{b, 0, 256}}};
    l.params.i[0] = 64;
    rt_program *prog;
    assert_int_equal(rt_program_create(vk, &l, 1, &prog), VKT_OK);
    uint32_t bits = vb->timestamp_bits;
    vb->timestamp_bits = 0;
    uint64_t ns = 0;
    assert_int_equal(rt_program_profile(vk, prog, &ns), VKT_ERR_UNSUPPORTED);
    assert_non_null(strstr(vkt_last_error(), "timestampValidBits"));
    assert_false(rt_vulkan_can_time(vk));
    assert_int_equal(rt_program_run(vk, prog), VKT_OK);
    vb->timestamp_bits = bits;
    assert_int_equal(rt_program_profile(vk, prog, &ns), VKT_OK);
    assert_true(ns > 0);
    rt_program_destroy(vk, prog);
    rt_buffer_destroy(vk, b);
    vkh_assert_no_validation_messages();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backend_profile),
        cmocka_unit_test(test_trainer_profile),
        cmocka_unit_test(test_context_info),
        cmocka_unit_test(test_no_timestamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
