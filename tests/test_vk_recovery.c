/* Training on Vulkan (lavapipe, validation on) end to end, and recovery
 * from a lost device: a simulated VK_ERROR_DEVICE_LOST in the middle of
 * training gives a clear error, and a recoverable trainer continues on
 * the CPU backend from the last completed step with its weights intact. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/vktrain.h>

#include "src/context.h"
#include "test_util.h"

#define FEATURES 12
#define CLASSES 3
#define BATCH 16
#define HIDDEN 64 /* 16 x 64 floats: large enough for fp16 storage to apply */

static float xs[BATCH * FEATURES];
static int32_t ys[BATCH];

typedef struct model {
    vkt_graph *g;
    vkt_trainer *tr;
} model;

static vkt_context *make_context(const char *device)
{
    setenv("VKT_VULKAN_VALIDATION", "1", 1);
    vkt_context *ctx;
    vkt_context_options co = {device, 1};
    if (vkt_context_create(&co, &ctx) != VKT_OK)
        fail_msg("context %s: %s", device, vkt_last_error());
    return ctx;
}

static void model_make_opts(model *m, vkt_context *ctx, bool recoverable, bool fp16)
{
    assert_int_equal(vkt_graph_create(5, &m->g), VKT_OK);
    int d = FEATURES;
    vkt_tensor x = vkt_input(m->g, "x", VKT_F32, 1, &d);
    vkt_tensor y = vkt_input(m->g, "y", VKT_I32, 0, NULL);
    vkt_tensor h = vkt_relu(m->g, vkt_linear(m->g, x, HIDDEN, true, "0"));
    vkt_tensor loss = vkt_softmax_cross_entropy(m->g, vkt_linear(m->g, h, CLASSES, true, "2"), y, 0.0f);
    vkt_trainer_options to = {.batch_size = BATCH, .recoverable = recoverable, .fp16_activations = fp16,
                              .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.1f, .momentum = 0.9f}};
    if (vkt_trainer_create(ctx, m->g, loss, &to, &m->tr) != VKT_OK)
        fail_msg("trainer: %s", vkt_last_error());
}

static void model_make(model *m, vkt_context *ctx, bool recoverable)
{
    model_make_opts(m, ctx, recoverable, false);
}

static void model_free(model *m)
{
    vkt_trainer_destroy(m->tr);
    vkt_graph_destroy(m->g);
}

static void steps(model *m, int n)
{
    const void *in[2] = {xs, ys};
    for (int i = 0; i < n; i++)
        if (vkt_trainer_step(m->tr, in, BATCH) != VKT_OK)
            fail_msg("step: %s", vkt_last_error());
}

static void weights(model *m, float *w0, float *w2)
{
    assert_int_equal(vkt_trainer_sync_weights(m->tr), VKT_OK);
    assert_int_equal(vkt_graph_param_get(m->g, "0.weight", w0, HIDDEN * FEATURES), VKT_OK);
    assert_int_equal(vkt_graph_param_get(m->g, "2.weight", w2, CLASSES * HIDDEN), VKT_OK);
}

static void assert_no_validation(vkt_context *ctx)
{
    const char *first = NULL;
    if (rt_vulkan_validation_messages(ctx->backend, &first))
        fail_msg("validation: %s", first);
}

static void test_trains_like_cpu(void **state)
{
    (void)state;
    vkt_context *vk = make_context("vulkan"), *cpu = make_context("cpu");
    model a, b;
    model_make(&a, vk, false);
    model_make(&b, cpu, false);
    steps(&a, 20);
    steps(&b, 20);
    vkt_metrics ma, mb;
    assert_int_equal(vkt_trainer_read_train_metrics(a.tr, &ma), VKT_OK);
    assert_int_equal(vkt_trainer_read_train_metrics(b.tr, &mb), VKT_OK);
    assert_int_equal(ma.samples, 20 * BATCH);
    assert_true(fabs(ma.loss_mean - mb.loss_mean) < 1e-4 * fabs(mb.loss_mean) + 1e-5);
    float wa0[HIDDEN * FEATURES], wa2[CLASSES * HIDDEN], wb0[HIDDEN * FEATURES], wb2[CLASSES * HIDDEN];
    weights(&a, wa0, wa2);
    weights(&b, wb0, wb2);
    assert_true(tu_max_rel_diff(wa0, wb0, HIDDEN * FEATURES) < 1e-3);
    assert_true(tu_max_rel_diff(wa2, wb2, CLASSES * HIDDEN) < 1e-3);
    assert_no_validation(vk);
    model_free(&a);
    model_free(&b);
    vkt_context_destroy(vk);
    vkt_context_destroy(cpu);
}

/* fp16 storage of saved activations runs on Vulkan like on the CPU. */
static void test_fp16_activations_like_cpu(void **state)
{
    (void)state;
    vkt_context *vk = make_context("vulkan"), *cpu = make_context("cpu");
    model a, b;
    model_make_opts(&a, vk, false, true);
    model_make_opts(&b, cpu, false, true);
    steps(&a, 10);
    steps(&b, 10);
    float wa0[HIDDEN * FEATURES], wa2[CLASSES * HIDDEN], wb0[HIDDEN * FEATURES], wb2[CLASSES * HIDDEN];
    weights(&a, wa0, wa2);
    weights(&b, wb0, wb2);
    assert_true(tu_max_rel_diff(wa0, wb0, HIDDEN * FEATURES) < 1e-3);
    assert_true(tu_max_rel_diff(wa2, wb2, CLASSES * HIDDEN) < 1e-3);
    assert_no_validation(vk);
    model_free(&a);
    model_free(&b);
    vkt_context_destroy(vk);
    vkt_context_destroy(cpu);
}

static void test_device_lost_then_cpu(void **state)
{
    (void)state;
    vkt_context *vk = make_context("vulkan"), *vk_ref = make_context("vulkan"), *cpu = make_context("cpu");
    model a, ref;
    model_make(&a, vk, true);
    model_make(&ref, vk_ref, false);
    steps(&a, 5);
    steps(&ref, 5);

    rt_vulkan_inject_fault(vk->backend, 1);
    const void *in[2] = {xs, ys};
    assert_int_equal(vkt_trainer_step(a.tr, in, BATCH), VKT_ERR_DEVICE);
    assert_non_null(strstr(vkt_last_error(), "device lost"));
    assert_non_null(strstr(vkt_last_error(), "after step 5"));
    assert_int_equal(vkt_trainer_step(a.tr, in, BATCH), VKT_ERR_STATE); /* until migrated */

    assert_int_equal(vkt_trainer_migrate(a.tr, cpu), VKT_OK);
    assert_int_equal(vkt_trainer_step_count(a.tr), 5);
    float w0[HIDDEN * FEATURES], w2[CLASSES * HIDDEN], r0[HIDDEN * FEATURES], r2[CLASSES * HIDDEN];
    weights(&a, w0, w2);
    weights(&ref, r0, r2);
    assert_memory_equal(w0, r0, sizeof w0); /* nothing lost: exactly step 5's weights */
    assert_memory_equal(w2, r2, sizeof w2);

    steps(&a, 3); /* training goes on, on the CPU, with the momentum kept */
    steps(&ref, 3);
    weights(&a, w0, w2);
    weights(&ref, r0, r2);
    assert_int_equal(vkt_trainer_step_count(a.tr), 8);
    assert_true(tu_max_rel_diff(w0, r0, HIDDEN * FEATURES) < 1e-3);
    assert_true(tu_max_rel_diff(w2, r2, CLASSES * HIDDEN) < 1e-3);
    model_free(&a);
    model_free(&ref);
    vkt_context_destroy(vk);
    vkt_context_destroy(vk_ref);

    /* Not recoverable: a clear error, and no silent migration. */
    vkt_context *vk2 = make_context("vulkan");
    model c;
    model_make(&c, vk2, false);
    steps(&c, 2);
    rt_vulkan_inject_fault(vk2->backend, 1);
    assert_int_equal(vkt_trainer_step(c.tr, in, BATCH), VKT_ERR_DEVICE);
    assert_non_null(strstr(vkt_last_error(), "not created recoverable"));
    assert_int_equal(vkt_trainer_migrate(c.tr, cpu), VKT_ERR_STATE);
    model_free(&c);
    vkt_context_destroy(vk2);
    vkt_context_destroy(cpu);
}

static int setup(void **state)
{
    (void)state;
    tu_fill_uniform(xs, BATCH * FEATURES, 9, -1, 1);
    for (int i = 0; i < BATCH; i++) {
        ys[i] = i % CLASSES;
        xs[i * FEATURES + ys[i]] += 1.5f;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trains_like_cpu),
        cmocka_unit_test(test_fp16_activations_like_cpu),
        cmocka_unit_test(test_device_lost_then_cpu),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
