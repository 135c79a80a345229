/* Trainable-set policies: the gradients of the trained parameters equal
 * those of full backprop bit for bit (CPU), frozen parameters get no
 * gradient and stay bit-identical, pruned backward work is really absent
 * from the compiled step, and memory budgets are enforced at compile. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/vktrain.h>

#include "grad_harness.h"
#include "src/train/trainer_internal.h"
#include "test_util.h"

#define BATCH 5
#define CLASSES 4

typedef struct net {
    vkt_context *ctx;
    vkt_graph *g;
    vkt_tensor loss;
    float x[BATCH * 2 * 8 * 8];
    int32_t y[BATCH];
} net;

/* conv -> bn -> relu -> conv -> relu -> gap -> linear -> CE */
static void net_make(net *n)
{
    vkt_context_options co = {"cpu", 2};
    assert_int_equal(vkt_context_create(&co, &n->ctx), VKT_OK);
    assert_int_equal(vkt_graph_create(3, &n->g), VKT_OK);
    int img[3] = {2, 8, 8};
    vkt_tensor x = vkt_input(n->g, "x", VKT_F32, 3, img);
    vkt_tensor y = vkt_input(n->g, "y", VKT_I32, 0, NULL);
    vkt_conv2d_params c1 = {.out_channels = 4, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true};
    vkt_tensor h = vkt_conv2d(n->g, x, &c1, "0");
    h = vkt_relu(n->g, vkt_batch_norm(n->g, h, 1e-5f, 0.1f, "1"));
    vkt_conv2d_params c2 = {.out_channels = 6, .kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2,
                            .pad_h = 1, .pad_w = 1, .bias = true};
    h = vkt_relu(n->g, vkt_conv2d(n->g, h, &c2, "3"));
    h = vkt_global_avg_pool(n->g, h);
    n->loss = vkt_softmax_cross_entropy(n->g, vkt_linear(n->g, h, CLASSES, true, "6"), y, 0.0f);
    assert_int_equal(vkt_graph_status(n->g), VKT_OK);
    tu_fill_uniform(n->x, sizeof n->x / sizeof n->x[0], 4, -1, 1);
    for (int i = 0; i < BATCH; i++)
        n->y[i] = i % CLASSES;
}

static void net_free(net *n)
{
    vkt_graph_destroy(n->g);
    vkt_context_destroy(n->ctx);
}

static vkt_trainer *trainer_for(net *n, const vkt_trainable_set *set, size_t budget, vkt_status want)
{
    vkt_trainer_options to = {.trainable = set, .batch_size = BATCH, .memory_budget = budget,
                              .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.1f, .momentum = 0.9f}};
    vkt_trainer *tr = NULL;
    vkt_status st = vkt_trainer_create(n->ctx, n->g, n->loss, &to, &tr);
    if (st != want)
        fail_msg("trainer_create: %s (%s)", vkt_status_name(st), vkt_last_error());
    return tr;
}

static const char *const conv2_names[] = {"3.weight"};

static const vkt_trainable_set policies[] = {
    {.policy = VKT_TRAIN_LAST_K, .count = 1},
    {.policy = VKT_TRAIN_LAST_K, .count = 2},
    {.policy = VKT_TRAIN_BIAS},
    {.policy = VKT_TRAIN_NAMED, .names = conv2_names, .count = 1},
    {.policy = VKT_TRAIN_BIAS, .head_layers = 1},
};
static const char *const policy_names[] = {"last:1", "last:2", "bias", "named conv2 weight", "bias+last:1"};

static void test_gradients_equal_full_backprop(void **state)
{
    (void)state;
    net n;
    net_make(&n);
    rt_backend *be = n.ctx->backend;
    const void *in[2] = {n.x, n.y};
    grad_result full;
    assert_int_equal(gh_run_trainable(be, n.g, n.loss, BATCH, in, NULL, &full), 0);
    for (size_t p = 0; p < sizeof policies / sizeof policies[0]; p++) {
        vkt_trainer *tr = trainer_for(&n, &policies[p], 0, VKT_OK);
        grad_result part;
        assert_int_equal(gh_run_trainable(be, n.g, n.loss, BATCH, in, tr->trainable, &part), 0);
        int trained = 0;
        for (int i = 0; i < n.g->param_count; i++) {
            if (!tr->trainable[i]) {
                if (part.param_grads[i])
                    fail_msg("%s: frozen %s got a gradient", policy_names[p], n.g->params[i].name);
                continue;
            }
            trained++;
            assert_non_null(part.param_grads[i]);
            if (memcmp(part.param_grads[i], full.param_grads[i], n.g->params[i].numel * 4) != 0)
                fail_msg("%s: gradient of %s differs from full backprop", policy_names[p], n.g->params[i].name);
        }
        assert_true(trained > 0);
        if (policies[p].head_layers) /* the head trains whole, other weights stay */
            assert_true(tr->trainable[graph_param_find(n.g, "6.weight")] &&
                        !tr->trainable[graph_param_find(n.g, "3.weight")]);
        gh_free(n.g, &part);
        vkt_trainer_destroy(tr);
    }
    gh_free(n.g, &full);
    net_free(&n);
}

/* The compiled step holds no work for what is frozen: last:1 trains the
 * head only, so no convolution, batch norm or activation backward runs,
 * and only one optimizer update. */
static void test_pruned_work_absent(void **state)
{
    (void)state;
    net n;
    net_make(&n);
    vkt_trainer *full = trainer_for(&n, NULL, 0, VKT_OK);
    vkt_trainer *head = trainer_for(&n, &policies[0], 0, VKT_OK);
    vkt_trainer *bias = trainer_for(&n, &policies[2], 0, VKT_OK);
    const plan *pf = gh_training_plan(full), *ph = gh_training_plan(head), *pb = gh_training_plan(bias);
    assert_int_equal(gh_count_kernels(pf, RT_K_COL2IM), 1); /* conv "3" input gradient; "0" has none */
    assert_int_equal(gh_count_kernels(pf, RT_K_BN_BWD), 1);
    assert_int_equal(gh_count_kernels(pf, RT_K_SGD), 8);
    assert_int_equal(gh_count_kernels(ph, RT_K_COL2IM), 0);
    assert_int_equal(gh_count_kernels(ph, RT_K_BN_BWD), 0);
    assert_int_equal(gh_count_kernels(ph, RT_K_ACT_BWD), 0);
    assert_int_equal(gh_count_kernels(ph, RT_K_GAP_BWD), 0);
    assert_int_equal(gh_count_kernels(ph, RT_K_SGD), 2);
    assert_true(ph->launch_count < pf->launch_count);
    /* bias-only: no weight-gradient GEMMs (forward GEMMs: 2 convs + linear;
     * backward: input gradients of linear and conv "3" only). */
    assert_int_equal(gh_count_kernels(pb, RT_K_GEMM), gh_count_kernels(pf, RT_K_GEMM) - 3);
    assert_int_equal(gh_count_kernels(pb, RT_K_SGD), 4); /* 0.bias, 1.bias (batch norm), 3.bias, 6.bias */
    /* Memory follows: fewer gradients, less optimizer state, smaller arena. */
    vkt_memory_report mf, mh;
    vkt_trainer_memory(full, &mf);
    vkt_trainer_memory(head, &mh);
    assert_int_equal(mh.trained_params, CLASSES * 6 + CLASSES);
    assert_int_equal(mh.grads_bytes, 0); /* no clipping: gradients live in the arena */
    assert_true(mh.activations_bytes < mf.activations_bytes);
    vkt_trainer_destroy(full);
    vkt_trainer_destroy(head);
    vkt_trainer_destroy(bias);
    net_free(&n);
}

static void test_frozen_stay_identical(void **state)
{
    (void)state;
    net n;
    net_make(&n);
    vkt_trainer *tr = trainer_for(&n, &policies[2], 0, VKT_OK);
    /* (conv "0"'s bias feeds batch norm, which cancels its gradient:
     * conv "3"'s bias shows the motion.) */
    float w0[4 * 2 * 9], w1[4 * 2 * 9], b0[6], b1[6];
    vkt_graph_param_get(n.g, "0.weight", w0, 72);
    vkt_graph_param_get(n.g, "3.bias", b0, 6);
    const void *in[2] = {n.x, n.y};
    for (int s = 0; s < 5; s++)
        assert_int_equal(vkt_trainer_step(tr, in, BATCH), VKT_OK);
    assert_int_equal(vkt_trainer_sync_weights(tr), VKT_OK);
    vkt_graph_param_get(n.g, "0.weight", w1, 72);
    vkt_graph_param_get(n.g, "3.bias", b1, 6);
    assert_memory_equal(w0, w1, sizeof w0);
    assert_memory_not_equal(b0, b1, sizeof b0);
    vkt_trainer_destroy(tr);
    net_free(&n);
}

static void test_memory_budget(void **state)
{
    (void)state;
    net n;
    net_make(&n);
    vkt_trainer *tr = trainer_for(&n, NULL, 1000, VKT_ERR_NO_MEMORY);
    assert_null(tr);
    assert_non_null(strstr(vkt_last_error(), "memory budget"));
    tr = trainer_for(&n, NULL, 64 << 20, VKT_OK);
    vkt_memory_report m;
    assert_int_equal(vkt_trainer_memory(tr, &m), VKT_OK);
    vkt_trainer_destroy(tr);
    /* The budget that fits the head only refuses full training. */
    vkt_trainer *head = trainer_for(&n, &policies[0], 0, VKT_OK);
    vkt_memory_report mh;
    vkt_trainer_memory(head, &mh);
    vkt_trainer_destroy(head);
    assert_true(mh.total_bytes < m.total_bytes);
    assert_null(trainer_for(&n, NULL, mh.total_bytes, VKT_ERR_NO_MEMORY));
    tr = trainer_for(&n, &policies[0], mh.total_bytes, VKT_OK);
    vkt_trainer_destroy(tr);
    vkt_trainable_set bad = {.policy = VKT_TRAIN_LAST_K, .count = 0};
    assert_null(trainer_for(&n, &bad, 0, VKT_ERR_INVALID_ARG));
    net_free(&n);
}

/* fp16 storage of saved activations: less activation memory, the same
 * compiled work plus pack/unpack launches, and training that follows the
 * fp32 run closely. */
static void test_fp16_activations(void **state)
{
    (void)state;
    net n;
    net_make(&n);
    vkt_trainer *tr32 = trainer_for(&n, NULL, 0, VKT_OK), *tr16;
    vkt_trainer_options to = {.batch_size = BATCH, .fp16_activations = true,
                              .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.1f, .momentum = 0.9f}};
    assert_int_equal(vkt_trainer_create(n.ctx, n.g, n.loss, &to, &tr16), VKT_OK);
    const plan *p32 = gh_training_plan(tr32), *p16 = gh_training_plan(tr16);
    int packs = gh_count_kernels(p16, RT_K_PACK_F16);
    assert_true(packs >= 2);
    assert_int_equal(gh_count_kernels(p16, RT_K_UNPACK_F16), packs);
    assert_int_equal(p16->launch_count, p32->launch_count + 2 * packs);
    assert_true(p16->arena_bytes < p32->arena_bytes);
    const void *in[2] = {n.x, n.y};
    for (int s = 0; s < 20; s++) {
        assert_int_equal(vkt_trainer_step(tr32, in, BATCH), VKT_OK);
        assert_int_equal(vkt_trainer_step(tr16, in, BATCH), VKT_OK);
    }
    vkt_metrics m32, m16;
    assert_int_equal(vkt_trainer_read_train_metrics(tr32, &m32), VKT_OK);
    assert_int_equal(vkt_trainer_read_train_metrics(tr16, &m16), VKT_OK);
    assert_true(fabs(m16.loss_mean - m32.loss_mean) < 0.01 * m32.loss_mean);
    assert_true(isfinite(m16.last_loss) && m16.last_loss < m16.loss_mean); /* still learning */
    vkt_trainer_destroy(tr32);
    vkt_trainer_destroy(tr16);
    net_free(&n);
}

/* auto: the candidate training the most parameters within the budget. */
static void test_auto_policy(void **state)
{
    (void)state;
    net n;
    net_make(&n);
    vkt_trainable_set autoset = {.policy = VKT_TRAIN_AUTO};
    vkt_trainer *full = trainer_for(&n, NULL, 0, VKT_OK);
    vkt_trainer *last2 = trainer_for(&n, &policies[1], 0, VKT_OK);
    vkt_trainer *last1 = trainer_for(&n, &policies[0], 0, VKT_OK);
    vkt_memory_report mf, m2, m1;
    vkt_trainer_memory(full, &mf);
    vkt_trainer_memory(last2, &m2);
    vkt_trainer_memory(last1, &m1);
    vkt_trainer_destroy(full);
    vkt_trainer_destroy(last2);
    vkt_trainer_destroy(last1);
    assert_true(m1.total_bytes < m2.total_bytes && m2.total_bytes < mf.total_bytes);

    vkt_trainable_set got;
    vkt_trainer *tr = trainer_for(&n, &autoset, mf.total_bytes, VKT_OK);
    assert_int_equal(vkt_trainer_policy(tr, &got), VKT_OK);
    assert_int_equal(got.policy, VKT_TRAIN_ALL);
    vkt_trainer_destroy(tr);
    tr = trainer_for(&n, &autoset, mf.total_bytes - 1, VKT_OK);
    vkt_trainer_policy(tr, &got);
    assert_true(got.policy != VKT_TRAIN_ALL);
    vkt_memory_report m;
    vkt_trainer_memory(tr, &m);
    assert_true(m.total_bytes < mf.total_bytes);
    vkt_trainer_destroy(tr);
    tr = trainer_for(&n, &autoset, m2.total_bytes, VKT_OK);
    vkt_trainer_policy(tr, &got); /* last:2 fits; bias trains fewer parameters here */
    assert_int_equal(got.policy, VKT_TRAIN_LAST_K);
    assert_true(got.count >= 2);
    vkt_trainer_memory(tr, &m);
    assert_true(m.total_bytes <= m2.total_bytes);
    vkt_trainer_destroy(tr);
    assert_null(trainer_for(&n, &autoset, 1000, VKT_ERR_NO_MEMORY));
    assert_non_null(strstr(vkt_last_error(), "no trainable set fits"));
    assert_null(trainer_for(&n, &autoset, 0, VKT_ERR_INVALID_ARG));
    net_free(&n);
}

/* Without clipping each update follows its layer's backward and the
 * gradient lives in the arena; the weights equal those of the clipped
 * (persistent-gradient) path with a clipping scale of exactly 1. */
static void test_early_updates(void **state)
{
    (void)state;
    net a, b;
    net_make(&a);
    net_make(&b);
    vkt_trainer_options to = {.batch_size = BATCH, .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.1f, .momentum = 0.9f}};
    vkt_trainer *early, *late;
    assert_int_equal(vkt_trainer_create(a.ctx, a.g, a.loss, &to, &early), VKT_OK);
    to.optimizer.clip_grad_norm = 1e30f;
    assert_int_equal(vkt_trainer_create(b.ctx, b.g, b.loss, &to, &late), VKT_OK);
    const plan *pe = gh_training_plan(early), *pl = gh_training_plan(late);
    int first_update = -1, last_gemm = -1;
    for (int i = 0; i < pe->launch_count; i++) {
        if (pe->launches[i].kernel == RT_K_SGD && first_update < 0)
            first_update = i;
        if (pe->launches[i].kernel == RT_K_GEMM)
            last_gemm = i;
    }
    assert_true(first_update >= 0 && first_update < last_gemm); /* the head updates before conv backward */
    for (int i = 0; i < pl->slot_count; i++)
        assert_int_not_equal(pl->slots[i].kind == SLOT_ARENA && pl->slots[i].index >= 0, 1);
    vkt_memory_report me, ml;
    vkt_trainer_memory(early, &me);
    vkt_trainer_memory(late, &ml);
    assert_int_equal(me.grads_bytes, 0);
    assert_int_equal(ml.grads_bytes, ml.trained_params * 4);
    assert_int_equal(me.trained_params, ml.trained_params);
    assert_true(me.total_bytes < ml.total_bytes);
    const void *ia[2] = {a.x, a.y}, *ib[2] = {b.x, b.y};
    for (int s = 0; s < 3; s++) {
        assert_int_equal(vkt_trainer_step(early, ia, BATCH), VKT_OK);
        assert_int_equal(vkt_trainer_step(late, ib, BATCH), VKT_OK);
    }
    vkt_trainer_sync_weights(early);
    vkt_trainer_sync_weights(late);
    for (int i = 0; i < a.g->param_count; i++)
        assert_memory_equal(a.g->params[i].data, b.g->params[i].data, a.g->params[i].numel * 4);
    vkt_trainer_destroy(early);
    vkt_trainer_destroy(late);
    net_free(&a);
    net_free(&b);
}

static void test_policy_parse(void **state)
{
    (void)state;
    vkt_trainable_set s;
    assert_int_equal(vkt_trainable_parse("full", &s), VKT_OK);
    assert_int_equal(s.policy, VKT_TRAIN_ALL);
    assert_int_equal(vkt_trainable_parse("bias", &s), VKT_OK);
    assert_int_equal(s.policy, VKT_TRAIN_BIAS);
    assert_int_equal(vkt_trainable_parse("last:3", &s), VKT_OK);
    assert_int_equal(s.policy, VKT_TRAIN_LAST_K);
    assert_int_equal(s.count, 3);
    assert_int_equal(vkt_trainable_parse("lora:8", &s), VKT_OK);
    assert_int_equal(s.policy, VKT_TRAIN_LORA);
    assert_int_equal(s.lora_rank, 8);
    assert_int_equal(vkt_trainable_parse("channels:0.25", &s), VKT_OK);
    assert_int_equal(s.policy, VKT_TRAIN_CHANNELS);
    assert_true(s.fraction == 0.25f);
    assert_int_equal(vkt_trainable_parse("auto", &s), VKT_OK);
    assert_int_equal(s.policy, VKT_TRAIN_AUTO);
    assert_int_equal(vkt_trainable_parse("bias+last:1", &s), VKT_OK);
    assert_true(s.policy == VKT_TRAIN_BIAS && s.head_layers == 1);
    assert_int_equal(vkt_trainable_parse("lora:4+last:2", &s), VKT_OK);
    assert_true(s.policy == VKT_TRAIN_LORA && s.lora_rank == 4 && s.head_layers == 2);
    static const char *const bad[] = {"", "Full", "last:", "last:0", "last:-1", "last:2x", "lora:0", "lora:1025",
                                      "channels:0", "channels:1.5", "channels:nan", "channels:", "bias ", "auto:1",
                                      "full+last:1", "last:1+last:1", "bias+", "bias+last:0", "bias+lora:2",
                                      "bias+last:1+last:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (vkt_trainable_parse(bad[i], &s) != VKT_ERR_INVALID_ARG)
            fail_msg("'%s' accepted", bad[i]);
        assert_non_null(strstr(vkt_last_error(), "invalid policy"));
    }
    assert_int_equal(vkt_trainable_parse(NULL, &s), VKT_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_equal_full_backprop),
        cmocka_unit_test(test_pruned_work_absent),
        cmocka_unit_test(test_frozen_stay_identical),
        cmocka_unit_test(test_memory_budget),
        cmocka_unit_test(test_fp16_activations),
        cmocka_unit_test(test_policy_parse),
        cmocka_unit_test(test_auto_policy),
        cmocka_unit_test(test_early_updates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
