/* Per-launch profiling on the CPU backend: the backend op, and profiled
 * training steps grouped per node for several trainable policies, with
 * and without clipping (updates after backward or inside it), fp16
 * activation storage and recomputation, whose extra launches must be
 * grouped too. */
#include "profile_harness.h"
#include "test_util.h"

static void test_backend_profile(void **state)
{
    (void)state;
    rt_backend *be;
    assert_int_equal(rt_cpu_backend_create(2, &be), VKT_OK);
    ph_check_backend_profile(be);
    rt_backend_destroy(be);
}

static void test_trainer_profile_full(void **state)
{
    (void)state;
    ph_check_trainer_profile("cpu", (ph_config){.policy = "full", .clip = true});
    ph_check_trainer_profile("cpu", (ph_config){.policy = "full", .clip = false});
}

static void test_trainer_profile_policies(void **state)
{
    (void)state;
    ph_check_trainer_profile("cpu", (ph_config){.policy = "bias"});
    ph_check_trainer_profile("cpu", (ph_config){.policy = "last:1", .clip = true});
}

static void test_trainer_profile_fp16_recompute(void **state)
{
    (void)state;
    ph_check_trainer_profile("cpu", (ph_config){.policy = "full", .fp16 = true});
    ph_check_trainer_profile("cpu", (ph_config){.policy = "full", .recompute = true, .clip = true});
}

static void test_context_info(void **state)
{
    (void)state;
    vkt_context *ctx;
    vkt_context_options co = {"cpu", 3};
    assert_int_equal(vkt_context_create(&co, &ctx), VKT_OK);
    vkt_context_info info;
    assert_int_equal(vkt_context_get_info(ctx, &info), VKT_OK);
    assert_string_equal(info.backend, "cpu");
    assert_int_equal(info.threads, 3);
    assert_true(info.cpu_isa[0] != '\0');
    assert_false(info.has_device);
    assert_true(info.launch_timing);
    assert_int_equal(vkt_context_get_info(ctx, NULL), VKT_ERR_INVALID_ARG);
    vkt_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backend_profile),
        cmocka_unit_test(test_trainer_profile_full),
        cmocka_unit_test(test_trainer_profile_policies),
        cmocka_unit_test(test_trainer_profile_fp16_recompute),
        cmocka_unit_test(test_context_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
