/* The frozen prefix in chunks and frozen batch norm statistics (CPU):
 * chunked steps train bit for bit as unchunked ones while the plan holds
 * less memory and really runs the prefix once per chunk; the prefix
 * stops at layers that mix samples (batch statistics) and runs through
 * dropout; frozen statistics normalise like
 * evaluation and leave the running statistics and counters alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/vktrain.h>

#include "grad_harness.h"
#include "src/train/trainer_internal.h"
#include "test_util.h"

#define CLASSES 4
#define MAX_BATCH 64

static float xs[MAX_BATCH * 2 * 12 * 12];
static int32_t ys[MAX_BATCH];

typedef enum net_kind { NET_CNN, NET_DROPOUT, NET_BN, NET_ATTN } net_kind;

/* NET_CNN: conv -> relu -> maxpool -> conv -> relu -> maxpool -> flatten
 * -> linear -> relu -> linear; NET_DROPOUT puts dropout after the first
 * pool; NET_BN: conv -> bn -> relu6 -> depthwise conv -> bn -> relu6 ->
 * gap -> linear -> linear; NET_ATTN: the image as 12 tokens of 24
 * values -> q, k, v projections -> 2-head attention -> layer norm ->
 * flatten -> linear -> linear. */
static vkt_graph *build(net_kind kind, vkt_tensor *loss)
{
    vkt_graph *g;
    assert_int_equal(vkt_graph_create(5, &g), VKT_OK);
    int img[3] = {2, 12, 12};
    vkt_tensor x = vkt_input(g, "x", VKT_F32, 3, img);
    vkt_tensor y = vkt_input(g, "y", VKT_I32, 0, NULL);
    vkt_pool2d_params pool = {.kernel_h = 2, .kernel_w = 2};
    vkt_conv2d_params c = {.out_channels = 6, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true};
    vkt_tensor h;
    if (kind == NET_ATTN) {
        int tokens[2] = {12, 24};
        vkt_tensor t = vkt_reshape(g, x, 2, tokens);
        vkt_tensor q = vkt_linear(g, t, 8, true, "q"), k = vkt_linear(g, t, 8, true, "k");
        h = vkt_attention(g, q, k, vkt_linear(g, t, 8, true, "v"), 2, false);
        h = vkt_flatten(g, vkt_layer_norm(g, h, 1e-5f, "ln"));
    } else if (kind == NET_BN) {
        c.bias = false;
        h = vkt_batch_norm(g, vkt_conv2d(g, x, &c, "c1"), 1e-5f, 0.1f, "bn1");
        h = vkt_activation_op(g, h, VKT_ACT_RELU6);
        c.groups = 6;
        h = vkt_batch_norm(g, vkt_conv2d(g, h, &c, "dw"), 1e-5f, 0.1f, "bn2");
        h = vkt_global_avg_pool(g, vkt_activation_op(g, h, VKT_ACT_RELU6));
    } else {
        h = vkt_max_pool2d(g, vkt_relu(g, vkt_conv2d(g, x, &c, "c1")), &pool);
        if (kind == NET_DROPOUT)
            h = vkt_dropout(g, h, 0.3f);
        c.out_channels = 8;
        h = vkt_max_pool2d(g, vkt_relu(g, vkt_conv2d(g, h, &c, "c2")), &pool);
        h = vkt_flatten(g, h);
    }
    h = vkt_relu(g, vkt_linear(g, h, 12, true, "fc1"));
    *loss = vkt_softmax_cross_entropy(g, vkt_linear(g, h, CLASSES, true, "fc2"), y, 0.0f);
    assert_int_equal(vkt_graph_status(g), VKT_OK);
    return g;
}

typedef struct run {
    vkt_graph *g;
    vkt_trainer *tr;
    size_t arena;
    bool chunked;
    int maxpools, bn_eval, bn_train, attention;
    double first_loss;
} run;

/* Trains `steps` steps of `policy`; the trainer stays for inspection. */
static void train(vkt_context *ctx, net_kind kind, const char *policy, int batch, int chunk, bool freeze_bn,
                  int steps, run *r)
{
    vkt_tensor loss;
    vkt_trainable_set set;
    memset(r, 0, sizeof *r);
    r->g = build(kind, &loss);
    assert_int_equal(vkt_trainable_parse(policy, &set), VKT_OK);
    if (set.policy == VKT_TRAIN_LORA)
        assert_int_equal(vkt_graph_add_lora_all(r->g, set.lora_rank, 4.0f, NULL), VKT_OK);
    vkt_trainer_options to = {.trainable = &set, .batch_size = batch, .seed = 3, .frozen_chunk = chunk,
                              .freeze_bn_stats = freeze_bn,
                              .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.05f, .momentum = 0.9f}};
    if (vkt_trainer_create(ctx, r->g, loss, &to, &r->tr) != VKT_OK)
        fail_msg("%s: %s", policy, vkt_last_error());
    const void *in[2] = {xs, ys};
    for (int s = 0; s < steps; s++) {
        assert_int_equal(vkt_trainer_step(r->tr, in, batch), VKT_OK);
        if (s == 0) {
            vkt_metrics m;
            assert_int_equal(vkt_trainer_read_train_metrics(r->tr, &m), VKT_OK);
            r->first_loss = m.last_loss;
        }
    }
    assert_int_equal(vkt_trainer_sync_weights(r->tr), VKT_OK);
    const plan *pl = gh_training_plan(r->tr);
    r->arena = pl->arena_bytes;
    r->chunked = pl->chunk_local != NULL;
    r->maxpools = gh_count_kernels(pl, RT_K_MAXPOOL_FWD);
    r->bn_eval = gh_count_kernels(pl, RT_K_BN_EVAL_FWD);
    r->bn_train = gh_count_kernels(pl, RT_K_BN_TRAIN_FWD);
    r->attention = gh_count_kernels(pl, RT_K_ATTN_FWD);
}

static void run_free(run *r)
{
    vkt_trainer_destroy(r->tr);
    vkt_graph_destroy(r->g);
}

static vkt_context *cpu(void)
{
    vkt_context *ctx;
    vkt_context_options co = {"cpu", 2};
    assert_int_equal(vkt_context_create(&co, &ctx), VKT_OK);
    return ctx;
}

static void assert_same_weights(const run *a, const run *b, const char *what)
{
    for (int i = 0; i < a->g->param_count; i++)
        if (memcmp(a->g->params[i].data, b->g->params[i].data, a->g->params[i].numel * 4) != 0)
            fail_msg("%s: %s differs between the chunked and the whole-batch prefix", what, a->g->params[i].name);
}

/* Chunks that divide the batch and one that does not (10 = 3+3+3+1). */
static void check_bit_identical(net_kind kind, const char *policy, bool freeze_bn, int per_chunk_kernels)
{
    vkt_context *ctx = cpu();
    const int chunks[2] = {3, 5};
    run whole;
    train(ctx, kind, policy, 10, -1, freeze_bn, 3, &whole);
    assert_false(whole.chunked);
    for (int k = 0; k < 2; k++) {
        run part;
        train(ctx, kind, policy, 10, chunks[k], freeze_bn, 3, &part);
        assert_true(part.chunked);
        assert_same_weights(&whole, &part, policy);
        assert_true(part.first_loss == whole.first_loss);
        assert_true(part.arena < whole.arena);
        /* Pruned work stays pruned, the prefix's runs once per chunk. */
        int n = (10 + chunks[k] - 1) / chunks[k];
        if (kind == NET_BN)
            assert_int_equal(part.bn_eval, per_chunk_kernels * n);
        else if (kind == NET_ATTN)
            assert_int_equal(part.attention, per_chunk_kernels * n);
        else
            assert_int_equal(part.maxpools, per_chunk_kernels * n + (whole.maxpools - per_chunk_kernels));
        run_free(&part);
    }
    run_free(&whole);
    vkt_context_destroy(ctx);
}

static void test_last_layers_chunked(void **state)
{
    (void)state;
    check_bit_identical(NET_CNN, "last:1", false, 2);
    check_bit_identical(NET_CNN, "last:2", false, 2);
}

/* LoRA on the linear layers only: the convolutions form the prefix. */
static void test_lora_chunked(void **state)
{
    (void)state;
    check_bit_identical(NET_CNN, "lora:2", false, 2);
}

/* Attention and layer norm treat samples alone: a transformer-like
 * prefix runs in chunks too. */
static void test_attention_chunked(void **state)
{
    (void)state;
    check_bit_identical(NET_ATTN, "last:1", false, 1);
}

/* Dropout draws each chunk's part of the whole batch's mask (the
 * kernels' first), so the prefix runs through it, bit for bit. */
static void test_prefix_through_dropout(void **state)
{
    (void)state;
    check_bit_identical(NET_DROPOUT, "last:1", false, 2);
}

/* Batch statistics mix samples: the prefix ends at the first batch norm
 * (only the first conv runs in chunks) unless statistics are frozen. */
static void test_prefix_needs_frozen_bn(void **state)
{
    (void)state;
    vkt_context *ctx = cpu();
    run whole, part;
    train(ctx, NET_BN, "last:1", 10, -1, false, 2, &whole);
    train(ctx, NET_BN, "last:1", 10, 3, false, 2, &part);
    assert_true(part.chunked);
    assert_int_equal(part.bn_train, 2);
    assert_int_equal(part.bn_eval, 0);
    assert_same_weights(&whole, &part, "batch statistics");
    run_free(&whole);
    run_free(&part);
    vkt_context_destroy(ctx);
    check_bit_identical(NET_BN, "last:1", true, 2);
}

/* The trainer's own choice at batch 64: the smallest plan, by far. */
static void test_auto_chunk(void **state)
{
    (void)state;
    vkt_context *ctx = cpu();
    run whole, pick;
    train(ctx, NET_CNN, "last:1", MAX_BATCH, -1, false, 1, &whole);
    train(ctx, NET_CNN, "last:1", MAX_BATCH, 0, false, 1, &pick);
    assert_true(pick.chunked);
    assert_true(pick.arena * 3 < whole.arena);
    assert_same_weights(&whole, &pick, "auto");
    /* Full training has no frozen prefix: the choice leaves it alone. */
    run full;
    train(ctx, NET_CNN, "full", MAX_BATCH, 0, false, 1, &full);
    assert_false(full.chunked);
    run_free(&full);
    run_free(&whole);
    run_free(&pick);
    vkt_context_destroy(ctx);
}

static void get_param(const vkt_graph *g, const char *name, float *dst, size_t n)
{
    assert_int_equal(vkt_graph_param_get(g, name, dst, n), VKT_OK);
}

/* Frozen statistics: a training step's loss is the evaluation loss of
 * the same weights, running statistics and batch counters stay as they
 * were, and beta (trainable under the bias policy) still learns; with
 * batch statistics the same step moves the running statistics. */
static void test_frozen_bn_statistics(void **state)
{
    (void)state;
    vkt_context *ctx = cpu();
    for (int frozen = 0; frozen <= 1; frozen++) {
        vkt_tensor loss;
        vkt_graph *g = build(NET_BN, &loss);
        float mean[6] = {0.1f, -0.2f, 0.3f, 0, 0.05f, -0.1f}, var[6] = {0.5f, 1.5f, 2, 0.8f, 1, 1.2f};
        assert_int_equal(vkt_graph_param_set(g, "bn1.running_mean", mean, 6), VKT_OK);
        assert_int_equal(vkt_graph_param_set(g, "bn1.running_var", var, 6), VKT_OK);
        vkt_trainable_set set;
        assert_int_equal(vkt_trainable_parse("bias", &set), VKT_OK);
        vkt_trainer_options to = {.trainable = &set, .batch_size = 8, .freeze_bn_stats = frozen,
                                  .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.1f}};
        vkt_trainer *tr;
        assert_int_equal(vkt_trainer_create(ctx, g, loss, &to, &tr), VKT_OK);
        const void *in[2] = {xs, ys};
        assert_int_equal(vkt_trainer_eval_batch(tr, in, 8), VKT_OK);
        vkt_metrics ev, tm;
        assert_int_equal(vkt_trainer_read_eval_metrics(tr, &ev), VKT_OK);
        float beta0[6], beta1[6], m1[6], v1[6], count = 0;
        get_param(g, "bn1.bias", beta0, 6);
        for (int s = 0; s < 2; s++)
            assert_int_equal(vkt_trainer_step(tr, in, 8), VKT_OK);
        assert_int_equal(vkt_trainer_read_train_metrics(tr, &tm), VKT_OK);
        assert_int_equal(vkt_trainer_sync_weights(tr), VKT_OK);
        get_param(g, "bn1.bias", beta1, 6);
        get_param(g, "bn1.running_mean", m1, 6);
        get_param(g, "bn1.running_var", v1, 6);
        get_param(g, "bn1.num_batches_tracked", &count, 1);
        assert_true(memcmp(beta0, beta1, sizeof beta0) != 0);
        bool stats_kept = memcmp(mean, m1, sizeof mean) == 0 && memcmp(var, v1, sizeof var) == 0;
        assert_true(stats_kept == (bool)frozen);
        assert_true(count == (frozen ? 0.0f : 2.0f));
        /* The first step's loss: before any update, so eval's. */
        assert_true(tm.samples == 16);
        if (frozen)
            assert_true(fabs(tm.loss_mean * 2 - tm.last_loss - ev.loss_mean) < 1e-5 * fabs(ev.loss_mean));
        vkt_trainer_destroy(tr);
        vkt_graph_destroy(g);
    }
    vkt_context_destroy(ctx);
}

int main(void)
{
    tu_fill_uniform(xs, sizeof xs / sizeof xs[0], 11, -1, 1);
    for (int i = 0; i < MAX_BATCH; i++)
        ys[i] = (i * 3) % CLASSES;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_last_layers_chunked),  cmocka_unit_test(test_lora_chunked),
        cmocka_unit_test(test_prefix_through_dropout), cmocka_unit_test(test_prefix_needs_frozen_bn),
        cmocka_unit_test(test_auto_chunk),           cmocka_unit_test(test_attention_chunked),           cmocka_unit_test(test_frozen_bn_statistics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
