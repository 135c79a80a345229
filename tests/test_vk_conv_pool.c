/* Placeholder until the shaders of this family land: replaced by the
 * parity tests of its kernels. */
#include "test_util.h"
#include "vk_harness.h"

static void test_backend_available(void **state)
{
    (void)state;
    assert_non_null(vkh_vulkan());
    vkh_assert_no_validation_messages();
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_backend_available)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
