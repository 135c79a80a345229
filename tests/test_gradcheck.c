/* Finite-difference gradient check of every op, for its inputs and its
 * parameters, through the real compile + CPU backend path (cases in
 * tests/op_cases.c). */
#include <math.h>

#include "grad_harness.h"
#include "op_cases.h"
#include "test_util.h"

#define ATOL 2e-4
#define RTOL 2e-2

static rt_backend *backend;

static int setup(void **state)
{
    (void)state;
    return rt_cpu_backend_create(2, &backend) == VKT_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rt_backend_destroy(backend);
    return 0;
}

static void fd_check(gcase *c, double eps, const char *label)
{
    double worst = gh_check(backend, c->g, c->loss, c->batch, c->inputs, eps, ATOL, RTOL, 24, label);
    gcase_free(c);
    if (!(worst <= 1.0))
        fail_msg("%s: gradient check failed (worst ratio %g)", label, worst);
}

static void test_linear(void **state)
{
    (void)state;
    op_cases_linear(fd_check);
}

static void test_conv2d(void **state)
{
    (void)state;
    op_cases_conv2d(fd_check);
}

static void test_lora(void **state)
{
    (void)state;
    op_cases_lora(fd_check);
}

static void test_pools(void **state)
{
    (void)state;
    op_cases_pools(fd_check);
}

static void test_norms(void **state)
{
    (void)state;
    op_cases_norms(fd_check);
}

/* Frozen statistics (compile_request.freeze_bn): running statistics in
 * training, beta and the input differentiated through the affine map. */
static void test_frozen_bn(void **state)
{
    (void)state;
    gh_freeze_bn = true;
    op_cases_frozen_bn(fd_check);
}

static int reset_frozen_bn(void **state)
{
    (void)state;
    gh_freeze_bn = false; /* also when the test failed */
    return 0;
}

static void test_activations(void **state)
{
    (void)state;
    op_cases_activations(fd_check);
}

static void test_structural(void **state)
{
    (void)state;
    op_cases_structural(fd_check);
}

static void test_dropout(void **state)
{
    (void)state;
    op_cases_dropout(fd_check);
}

static void test_embedding(void **state)
{
    (void)state;
    op_cases_embedding(fd_check);
}

static void test_losses(void **state)
{
    (void)state;
    op_cases_losses(fd_check);
}

static void test_attention(void **state)
{
    (void)state;
    op_cases_attention(fd_check);
}

static void test_small_networks(void **state)
{
    (void)state;
    op_cases_small_networks(fd_check);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),     cmocka_unit_test(test_conv2d),     cmocka_unit_test(test_pools),
        cmocka_unit_test(test_norms),      cmocka_unit_test_teardown(test_frozen_bn, reset_frozen_bn),
        cmocka_unit_test(test_activations), cmocka_unit_test(test_structural),
        cmocka_unit_test(test_dropout),    cmocka_unit_test(test_embedding),  cmocka_unit_test(test_losses),
        cmocka_unit_test(test_small_networks), cmocka_unit_test(test_lora),
        cmocka_unit_test(test_attention),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
