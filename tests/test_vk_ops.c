/* Every op, forward and every gradient, on the Vulkan backend against the
 * CPU backend: the cases of tests/op_cases.c run through the real
 * compiler on both backends (validation layer on), comparing the loss,
 * the op's output, every parameter gradient and every input gradient. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <vktrain/status.h>

#include "grad_harness.h"
#include "op_cases.h"
#include "test_util.h"
#include "vk_harness.h"

/* fp32 on both sides, different summation orders: 1e-4 relative. */
#define RTOL 1e-4
#define ATOL 1e-6

static double worst_diff(const float *cpu, const float *vk, size_t n, const char *what, const char *label)
{
    double worst = 0;
    int shown = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)vk[i] - cpu[i]) / (ATOL + RTOL * fabs((double)cpu[i]));
        if (!(d <= 1) && shown++ < 4)
            fprintf(stderr, "  %s %s[%zu]: cpu %.8g vulkan %.8g\n", label, what, i, cpu[i], vk[i]);
        if (!(d <= worst))
            worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

static void parity_check(gcase *c, double eps, const char *label)
{
    (void)eps;
    rt_backend *vk = vkh_vulkan();
    assert_non_null(vk);
    const vkt_graph *g = c->g;
    int probe = g->nodes[c->loss].inputs[0];
    grad_result rc, rv;
    assert_int_equal(gh_run(vkh_cpu(), g, c->loss, c->batch, (const void *const *)c->inputs, probe, 7, &rc), 0);
    if (gh_run(vk, g, c->loss, c->batch, (const void *const *)c->inputs, probe, 7, &rv) != 0)
        fail_msg("%s: Vulkan run failed: %s", label, vkt_last_error());
    double worst = fabs(rv.loss - rc.loss) / (ATOL + RTOL * fabs(rc.loss));
    if (worst > 1)
        fprintf(stderr, "  %s loss: cpu %.8g vulkan %.8g\n", label, rc.loss, rv.loss);
    worst = fmax(worst, worst_diff(rc.output, rv.output, g->nodes[probe].numel * (size_t)c->batch, "output", label));
    for (int i = 0; i < g->param_count; i++) {
        assert_true((rc.param_grads[i] == NULL) == (rv.param_grads[i] == NULL));
        if (rc.param_grads[i])
            worst = fmax(worst, worst_diff(rc.param_grads[i], rv.param_grads[i], g->params[i].numel,
                                           g->params[i].name, label));
    }
    for (int k = 0; k < g->input_count; k++)
        if (rc.input_grads[k])
            worst = fmax(worst, worst_diff(rc.input_grads[k], rv.input_grads[k],
                                           g->nodes[g->inputs[k]].numel * (size_t)c->batch, "input grad", label));
    gh_free(g, &rc);
    gh_free(g, &rv);
    gcase_free(c);
    if (!(worst <= 1))
        fail_msg("%s: Vulkan differs from the CPU (worst ratio %g)", label, worst);
    vkh_assert_no_validation_messages();
}

#define FAMILY(name)                                                                                     \
    static void test_##name(void **state)                                                                \
    {                                                                                                    \
        (void)state;                                                                                     \
        op_cases_##name(parity_check);                                                                   \
    }
FAMILY(linear)
FAMILY(conv2d)
FAMILY(lora)

/* Convolutions through one-image im2col chunks, on both backends. */
static void test_conv2d_chunked(void **state)
{
    (void)state;
    gh_col_chunk_bytes = 1;
    op_cases_conv2d(parity_check);
    gh_col_chunk_bytes = 0;
}
FAMILY(pools)
FAMILY(norms)

/* Batch norm with frozen statistics, on both backends. */
static void test_frozen_bn(void **state)
{
    (void)state;
    gh_freeze_bn = true;
    op_cases_frozen_bn(parity_check);
}

static int reset_frozen_bn(void **state)
{
    (void)state;
    gh_freeze_bn = false; /* also when the test failed */
    return 0;
}
FAMILY(activations)
FAMILY(structural)
FAMILY(dropout)
FAMILY(embedding)
FAMILY(losses)
FAMILY(small_networks)
FAMILY(attention)

/* The cnn preset at its real size (batch 64, 28x28): long reductions
 * and multi-group dispatches that the tiny op cases do not reach. */
static void test_cnn_preset_full_size(void **state)
{
    (void)state;
    gcase c;
    gcase_begin(&c, 64);
    int img[3] = {1, 28, 28};
    vkt_tensor x = vkt_input(c.g, "x", VKT_F32, 3, img);
    vkt_tensor y = vkt_input(c.g, "y", VKT_I32, 0, NULL);
    c.label_bound[1] = 10;
    vkt_conv2d_params c1 = {.out_channels = 16, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true};
    vkt_pool2d_params mp = {.kernel_h = 2, .kernel_w = 2};
    vkt_tensor h = vkt_max_pool2d(c.g, vkt_relu(c.g, vkt_conv2d(c.g, x, &c1, "0")), &mp);
    vkt_conv2d_params c2 = {.out_channels = 32, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true};
    h = vkt_max_pool2d(c.g, vkt_relu(c.g, vkt_conv2d(c.g, h, &c2, "3")), &mp);
    c.loss = vkt_softmax_cross_entropy(c.g, vkt_linear(c.g, vkt_flatten(c.g, h), 10, true, "7"), y, 0.0f);
    assert_int_equal(vkt_graph_status(c.g), VKT_OK);
    c.inputs[0] = malloc(64 * 784 * 4);
    c.inputs[1] = malloc(64 * 4);
    tu_fill_uniform(c.inputs[0], 64 * 784, 3, 0.0f, 1.0f);
    for (int i = 0; i < 64; i++)
        ((int32_t *)c.inputs[1])[i] = i % 10;
    parity_check(&c, 0, "cnn preset, batch 64");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),     cmocka_unit_test(test_conv2d), cmocka_unit_test(test_lora),
        cmocka_unit_test(test_conv2d_chunked), cmocka_unit_test(test_pools), cmocka_unit_test(test_norms),
        cmocka_unit_test_teardown(test_frozen_bn, reset_frozen_bn),
        cmocka_unit_test(test_activations), cmocka_unit_test(test_structural),
        cmocka_unit_test(test_dropout),    cmocka_unit_test(test_embedding),   cmocka_unit_test(test_losses),
        cmocka_unit_test(test_small_networks),
        cmocka_unit_test(test_attention),
        cmocka_unit_test(test_cnn_preset_full_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
