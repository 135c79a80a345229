/* Every trainable-set policy on Vulkan (lavapipe, validation on): a few
 * training steps give the CPU backend's weights within tolerance, and
 * whatever the policy freezes stays bit-identical on the device too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/vktrain.h>

#include "src/context.h"
#include "src/graph/graph_internal.h"
#include "test_util.h"

#define BATCH 6
#define CLASSES 4
#define STEPS 3

static float xs[BATCH * 3 * 8 * 8];
static int32_t ys[BATCH];

/* conv3x3 -> bn -> relu -> pointwise conv -> relu -> gap -> linear ->
 * relu -> linear -> CE: every policy has something to choose from. */
static vkt_graph *build(vkt_tensor *loss)
{
    vkt_graph *g;
    assert_int_equal(vkt_graph_create(31, &g), VKT_OK);
    int img[3] = {3, 8, 8};
    vkt_tensor x = vkt_input(g, "x", VKT_F32, 3, img);
    vkt_tensor y = vkt_input(g, "y", VKT_I32, 0, NULL);
    /* No bias before batch norm: its gradient is rounding noise, which
     * AdamW's normalisation would blow up into backend differences. */
    vkt_conv2d_params c = {.out_channels = 8, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1};
    vkt_conv2d_params pw = {.out_channels = 12, .kernel_h = 1, .kernel_w = 1, .bias = true};
    vkt_tensor h = vkt_relu(g, vkt_batch_norm(g, vkt_conv2d(g, x, &c, "c"), 1e-5f, 0.1f, "bn"));
    h = vkt_global_avg_pool(g, vkt_relu(g, vkt_conv2d(g, h, &pw, "pw")));
    h = vkt_relu(g, vkt_linear(g, h, 10, true, "fc1"));
    *loss = vkt_softmax_cross_entropy(g, vkt_linear(g, h, CLASSES, true, "fc2"), y, 0.0f);
    assert_int_equal(vkt_graph_status(g), VKT_OK);
    return g;
}

static vkt_context *make_context(const char *device)
{
    setenv("VKT_VULKAN_VALIDATION", "1", 1);
    vkt_context *ctx;
    vkt_context_options co = {device, 2};
    if (vkt_context_create(&co, &ctx) != VKT_OK)
        fail_msg("context %s: %s", device, vkt_last_error());
    return ctx;
}

/* The network as `policy` trains it (LoRA: with adapters). */
static vkt_graph *build_for(const char *policy, vkt_trainable_set *set, vkt_tensor *loss)
{
    vkt_graph *g = build(loss);
    assert_int_equal(vkt_trainable_parse(policy, set), VKT_OK);
    if (set->policy == VKT_TRAIN_LORA) {
        assert_int_equal(vkt_graph_add_lora_all(g, set->lora_rank, 2.0f * (float)set->lora_rank, NULL), VKT_OK);
        for (int i = 0; i < g->param_count; i++) /* non-zero B: every adapter gradient carries signal */
            if (g->params[i].is_adapter)
                tu_fill_uniform(g->params[i].data, g->params[i].numel, (uint64_t)(40 + i), -0.3f, 0.3f);
    }
    return g;
}

/* "POLICY[+recompute][+freeze][+micro]": the policy and trainer options
 * (+freeze: frozen batch norm statistics and the frozen prefix in
 * chunks of 2 samples; +micro: steps in micro-batches of 4 samples). */
typedef struct variant {
    char policy[32];
    bool recompute, freeze, micro;
} variant;

static variant variant_of(const char *text)
{
    variant v = {{0}, strstr(text, "+recompute") != NULL, strstr(text, "+freeze") != NULL,
                 strstr(text, "+micro") != NULL};
    size_t n = strcspn(text, "+");
    assert_true(n < sizeof v.policy);
    memcpy(v.policy, text, n);
    return v;
}

/* Trains STEPS steps of a variant from the same initial weights; returns
 * the graph with the trained weights synced back. */
static vkt_graph *train(vkt_context *ctx, const char *text)
{
    variant v = variant_of(text);
    vkt_tensor loss;
    vkt_trainable_set set;
    vkt_graph *g = build_for(v.policy, &set, &loss);
    vkt_trainer_options to = {.trainable = &set, .batch_size = BATCH, .recompute = v.recompute,
                              .freeze_bn_stats = v.freeze, .frozen_chunk = v.freeze ? 2 : -1,
                              .micro_batch = v.micro ? 4 : 0,
                              .optimizer = {.kind = VKT_OPT_ADAMW, .lr = 0.01f, .weight_decay = 0.01f}};
    vkt_trainer *tr;
    if (vkt_trainer_create(ctx, g, loss, &to, &tr) != VKT_OK)
        fail_msg("%s: %s", text, vkt_last_error());
    const void *in[2] = {xs, ys};
    for (int s = 0; s < STEPS; s++)
        assert_int_equal(vkt_trainer_step(tr, in, BATCH), VKT_OK);
    assert_int_equal(vkt_trainer_sync_weights(tr), VKT_OK);
    vkt_trainer_destroy(tr);
    return g;
}

static void compare_policy(const char *text)
{
    variant v = variant_of(text);
    const char *policy = v.policy;
    vkt_context *cpu = make_context("cpu"), *vk = make_context("vulkan");
    vkt_tensor loss;
    vkt_trainable_set set;
    vkt_graph *init = build_for(policy, &set, &loss);
    vkt_graph *gc = train(cpu, text), *gv = train(vk, text);
    int moved = 0, frozen = 0;
    for (int i = 0; i < gc->param_count; i++) {
        const param *pc = &gc->params[i], *pv = &gv->params[i];
        const param *p0 = &init->params[i];
        for (size_t j = 0; j < pc->numel; j++) {
            double a = pc->data[j], b = pv->data[j];
            if (fabs(a - b) > 1e-4 * fabs(a) + 2e-5)
                fail_msg("%s: %s[%zu] cpu %.8g vulkan %.8g", policy, pc->name, j, a, b);
        }
        if (pc->is_state)
            continue;
        /* Frozen on the CPU means frozen (bit-identical) on Vulkan too,
         * row by row (a sparse update freezes rows of a weight). */
        size_t rows = pc->rank > 0 ? (size_t)pc->dims[0] : 1, width = pc->numel / rows;
        for (size_t r = 0; r < rows; r++) {
            bool cpu_same = memcmp(pc->data + r * width, p0->data + r * width, width * 4) == 0;
            bool vk_same = memcmp(pv->data + r * width, p0->data + r * width, width * 4) == 0;
            if (cpu_same != vk_same)
                fail_msg("%s: %s row %zu frozen on one backend only", policy, pc->name, r);
            moved += !cpu_same;
            frozen += cpu_same;
        }
    }
    assert_true(moved > 0);
    if (strcmp(policy, "full") != 0)
        assert_true(frozen > 0);
    const char *first = NULL;
    if (rt_vulkan_validation_messages(vk->backend, &first))
        fail_msg("validation: %s", first);
    vkt_graph_destroy(init);
    vkt_graph_destroy(gc);
    vkt_graph_destroy(gv);
    vkt_context_destroy(cpu);
    vkt_context_destroy(vk);
}

#define POLICY_TEST(fn, text)                                                                            \
    static void fn(void **state)                                                                         \
    {                                                                                                    \
        (void)state;                                                                                     \
        compare_policy(text);                                                                            \
    }
POLICY_TEST(test_full, "full")
POLICY_TEST(test_bias, "bias")
POLICY_TEST(test_last, "last:2")
POLICY_TEST(test_lora, "lora:2")
POLICY_TEST(test_channels, "channels:0.4")
POLICY_TEST(test_recompute, "full+recompute")
POLICY_TEST(test_bias_frozen_bn, "bias+freeze")
POLICY_TEST(test_last_chunked, "last:2+freeze")
POLICY_TEST(test_micro_batches, "bias+freeze+micro")

int main(void)
{
    tu_fill_uniform(xs, sizeof xs / sizeof xs[0], 9, -1, 1);
    for (int i = 0; i < BATCH; i++)
        ys[i] = i % CLASSES;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full), cmocka_unit_test(test_bias),     cmocka_unit_test(test_last),
        cmocka_unit_test(test_lora), cmocka_unit_test(test_channels), cmocka_unit_test(test_recompute),
        cmocka_unit_test(test_bias_frozen_bn), cmocka_unit_test(test_last_chunked),
        cmocka_unit_test(test_micro_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
