/* Steps in micro-batches (gradient accumulation, CPU): a step run a few
 * samples at a time trains as the whole-batch step does (up to the
 * order of the gradient sums), with less planned memory and each layer
 * run once per micro-batch; losses average over the whole batch and
 * dropout draws the whole batch's mask; layers that mix samples (batch
 * statistics) are refused at trainer creation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/vktrain.h>

#include "grad_harness.h"
#include "src/train/trainer_internal.h"
#include "test_util.h"

#define BATCH 10
#define CLASSES 4

static float xs[BATCH * 2 * 8 * 8];
static int32_t ys[BATCH];

typedef enum net_kind { NET_CNN, NET_MSE, NET_BN, NET_DROPOUT } net_kind;

/* conv -> relu -> maxpool (-> dropout) -> conv -> relu -> flatten ->
 * linear, cross entropy; NET_MSE ends in MSE against the first 4 pixels;
 * NET_BN puts batch norm after the first conv. */
static vkt_graph *build(net_kind kind, vkt_tensor *loss)
{
    vkt_graph *g;
    assert_int_equal(vkt_graph_create(9, &g), VKT_OK);
    int img[3] = {2, 8, 8};
    vkt_tensor x = vkt_input(g, "x", VKT_F32, 3, img);
    vkt_pool2d_params pool = {.kernel_h = 2, .kernel_w = 2};
    vkt_conv2d_params c = {.out_channels = 4, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true};
    vkt_tensor h = vkt_conv2d(g, x, &c, "c1");
    if (kind == NET_BN)
        h = vkt_batch_norm(g, h, 1e-5f, 0.1f, "bn");
    h = vkt_max_pool2d(g, vkt_relu(g, h), &pool);
    if (kind == NET_DROPOUT)
        h = vkt_dropout(g, h, 0.2f);
    c.out_channels = 6;
    h = vkt_flatten(g, vkt_relu(g, vkt_conv2d(g, h, &c, "c2")));
    if (kind == NET_MSE) {
        int four = 4;
        vkt_tensor t = vkt_input(g, "t", VKT_F32, 1, &four);
        *loss = vkt_mse_loss(g, vkt_linear(g, h, 4, true, "fc"), t);
    } else {
        vkt_tensor y = vkt_input(g, "y", VKT_I32, 0, NULL);
        *loss = vkt_softmax_cross_entropy(g, vkt_linear(g, h, CLASSES, true, "fc"), y, 0.1f);
    }
    assert_int_equal(vkt_graph_status(g), VKT_OK);
    return g;
}

typedef struct run {
    vkt_graph *g;
    size_t arena;
    int maxpools;
    double loss_mean;
} run;

static vkt_context *cpu(void)
{
    vkt_context *ctx;
    vkt_context_options co = {"cpu", 2};
    assert_int_equal(vkt_context_create(&co, &ctx), VKT_OK);
    return ctx;
}

static void train(vkt_context *ctx, net_kind kind, const char *policy, int micro, float clip, run *r)
{
    vkt_tensor loss;
    vkt_trainable_set set;
    r->g = build(kind, &loss);
    assert_int_equal(vkt_trainable_parse(policy, &set), VKT_OK);
    vkt_trainer_options to = {.trainable = &set, .batch_size = BATCH, .micro_batch = micro, .frozen_chunk = -1,
                              .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.1f, .momentum = 0.9f, .clip_grad_norm = clip}};
    vkt_trainer *tr;
    if (vkt_trainer_create(ctx, r->g, loss, &to, &tr) != VKT_OK)
        fail_msg("%s, micro-batch %d: %s", policy, micro, vkt_last_error());
    const void *in[2] = {xs, kind == NET_MSE ? (const void *)xs : (const void *)ys};
    for (int s = 0; s < 3; s++)
        assert_int_equal(vkt_trainer_step(tr, in, BATCH), VKT_OK);
    vkt_metrics m;
    assert_int_equal(vkt_trainer_read_train_metrics(tr, &m), VKT_OK);
    assert_true(m.samples == 3 * BATCH);
    r->loss_mean = m.loss_mean;
    assert_int_equal(vkt_trainer_sync_weights(tr), VKT_OK);
    const plan *pl = gh_training_plan(tr);
    r->arena = pl->arena_bytes;
    r->maxpools = gh_count_kernels(pl, RT_K_MAXPOOL_FWD);
    vkt_trainer_destroy(tr);
}

/* Same training as the whole batch, within float rounding of the sums. */
static void assert_close(const run *a, const run *b, const char *what)
{
    if (fabs(a->loss_mean - b->loss_mean) > 1e-5 * fabs(a->loss_mean))
        fail_msg("%s: mean loss %.8g against %.8g", what, a->loss_mean, b->loss_mean);
    int moved = 0;
    for (int i = 0; i < a->g->param_count; i++) {
        const param *p = &a->g->params[i], *q = &b->g->params[i];
        for (size_t j = 0; j < p->numel; j++) {
            if (fabs(p->data[j] - q->data[j]) > 1e-5 * fabs(p->data[j]) + 1e-6)
                fail_msg("%s: %s[%zu] %.8g against %.8g", what, p->name, j, p->data[j], q->data[j]);
        }
        moved += memcmp(p->data, q->data, p->numel * 4) != 0;
    }
    (void)moved; /* the sums' order may or may not change the bits */
}

static void check(net_kind kind, const char *policy, float clip)
{
    vkt_context *ctx = cpu();
    run whole, part;
    train(ctx, kind, policy, 0, clip, &whole);
    train(ctx, kind, policy, 3, clip, &part); /* 3 + 3 + 3 + 1 samples */
    assert_close(&whole, &part, policy);
    assert_true(part.arena < whole.arena);
    assert_int_equal(part.maxpools, 4 * whole.maxpools);
    vkt_graph_destroy(whole.g);
    vkt_graph_destroy(part.g);
    vkt_context_destroy(ctx);
}

static void test_full(void **state)
{
    (void)state;
    check(NET_CNN, "full", 0);
}

static void test_bias_and_last(void **state)
{
    (void)state;
    check(NET_CNN, "bias", 0);
    check(NET_CNN, "last:1", 0);
}

/* Each micro-batch draws its part of the whole batch's dropout mask. */
static void test_dropout(void **state)
{
    (void)state;
    check(NET_DROPOUT, "full", 0);
}

/* MSE's mean runs over the whole batch too. */
static void test_mse(void **state)
{
    (void)state;
    check(NET_MSE, "full", 0);
}

/* Clipping sees the summed gradients: the norm of the whole batch's. */
static void test_clipping(void **state)
{
    (void)state;
    check(NET_CNN, "full", 0.05f);
}

static void expect_refused(net_kind kind, const char *policy, bool freeze_bn, bool fp16, const char *why)
{
    vkt_context *ctx = cpu();
    vkt_tensor loss;
    vkt_trainable_set set;
    vkt_graph *g = build(kind, &loss);
    assert_int_equal(vkt_trainable_parse(policy, &set), VKT_OK);
    vkt_trainer_options to = {.trainable = &set, .batch_size = BATCH, .micro_batch = 4, .freeze_bn_stats = freeze_bn,
                              .fp16_activations = fp16, .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.1f}};
    vkt_trainer *tr = NULL;
    vkt_status st = vkt_trainer_create(ctx, g, loss, &to, &tr);
    if (why) {
        assert_int_equal(st, VKT_ERR_UNSUPPORTED);
        assert_null(tr);
        if (!strstr(vkt_last_error(), why))
            fail_msg("'%s' does not say '%s'", vkt_last_error(), why);
    } else {
        assert_int_equal(st, VKT_OK);
        vkt_trainer_destroy(tr);
    }
    vkt_graph_destroy(g);
    vkt_context_destroy(ctx);
}

static void test_refusals(void **state)
{
    (void)state;
    expect_refused(NET_BN, "full", false, false, "batch_norm");
    expect_refused(NET_BN, "bias", false, false, "--freeze-bn");
    expect_refused(NET_BN, "bias", true, false, NULL); /* frozen statistics: per sample */
    expect_refused(NET_CNN, "full", false, true, "fp16");
}

int main(void)
{
    tu_fill_uniform(xs, sizeof xs / sizeof xs[0], 5, -1, 1);
    for (int i = 0; i < BATCH; i++)
        ys[i] = (i * 3) % CLASSES;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),     cmocka_unit_test(test_bias_and_last), cmocka_unit_test(test_mse),
        cmocka_unit_test(test_clipping), cmocka_unit_test(test_dropout),       cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
