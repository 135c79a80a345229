/* LoRA adapters: a no-op until trained, adapter gradients equal to those
 * of full backprop bit for bit (CPU), frozen base weights untouched, no
 * base weight-gradient work in the step, merged saves that reproduce the
 * adapted model without adapters, and clear errors. (Finite-difference
 * checks and Vulkan parity of the adapter gradients are op cases, see
 * tests/op_cases.c.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vktrain/vktrain.h>

#include "grad_harness.h"
#include "src/train/trainer_internal.h"
#include "test_util.h"

#define BATCH 6
#define CLASSES 3

typedef struct net {
    vkt_context *ctx;
    vkt_graph *g;
    vkt_tensor loss;
    float x[BATCH * 3 * 6 * 6];
    int32_t y[BATCH];
} net;

/* pointwise conv "pw" -> relu -> conv 3x3 "c" -> gap -> linear "fc1" ->
 * relu -> linear "fc2" -> CE: pw, fc1 and fc2 can take adapters. */
static void net_make(net *n, uint64_t seed)
{
    vkt_context_options co = {"cpu", 2};
    assert_int_equal(vkt_context_create(&co, &n->ctx), VKT_OK);
    assert_int_equal(vkt_graph_create(seed, &n->g), VKT_OK);
    int img[3] = {3, 6, 6};
    vkt_tensor x = vkt_input(n->g, "x", VKT_F32, 3, img);
    vkt_tensor y = vkt_input(n->g, "y", VKT_I32, 0, NULL);
    vkt_conv2d_params pw = {.out_channels = 4, .kernel_h = 1, .kernel_w = 1, .bias = true};
    vkt_conv2d_params c3 = {.out_channels = 5, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true};
    vkt_tensor h = vkt_relu(n->g, vkt_conv2d(n->g, x, &pw, "pw"));
    h = vkt_global_avg_pool(n->g, vkt_conv2d(n->g, h, &c3, "c"));
    h = vkt_relu(n->g, vkt_linear(n->g, h, 8, true, "fc1"));
    n->loss = vkt_softmax_cross_entropy(n->g, vkt_linear(n->g, h, CLASSES, true, "fc2"), y, 0.0f);
    assert_int_equal(vkt_graph_status(n->g), VKT_OK);
    tu_fill_uniform(n->x, sizeof n->x / sizeof n->x[0], 5, -1, 1);
    for (int i = 0; i < BATCH; i++)
        n->y[i] = i % CLASSES;
}

static void net_free(net *n)
{
    vkt_graph_destroy(n->g);
    vkt_context_destroy(n->ctx);
}

static vkt_trainer *lora_trainer(net *n, vkt_status want)
{
    vkt_trainable_set set = {.policy = VKT_TRAIN_LORA};
    vkt_trainer_options to = {.trainable = &set, .batch_size = BATCH,
                              .optimizer = {.kind = VKT_OPT_ADAMW, .lr = 0.05f}};
    vkt_trainer *tr = NULL;
    vkt_status st = vkt_trainer_create(n->ctx, n->g, n->loss, &to, &tr);
    if (st != want)
        fail_msg("trainer_create: %s (%s)", vkt_status_name(st), vkt_last_error());
    return tr;
}

static double eval_loss(net *n)
{
    vkt_trainable_set none = {.policy = VKT_TRAIN_NAMED};
    vkt_trainer_options to = {.trainable = &none, .batch_size = BATCH, .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.1f}};
    vkt_trainer *tr = NULL;
    assert_int_equal(vkt_trainer_create(n->ctx, n->g, n->loss, &to, &tr), VKT_OK);
    const void *in[2] = {n->x, n->y};
    assert_int_equal(vkt_trainer_eval_batch(tr, in, BATCH), VKT_OK);
    vkt_metrics m;
    assert_int_equal(vkt_trainer_read_eval_metrics(tr, &m), VKT_OK);
    vkt_trainer_destroy(tr);
    return m.loss_mean;
}

static void test_adapters_start_as_no_op(void **state)
{
    (void)state;
    net n;
    net_make(&n, 11);
    double before = eval_loss(&n);
    int added = 0;
    assert_int_equal(vkt_graph_add_lora_all(n.g, 2, 4.0f, &added), VKT_OK);
    assert_int_equal(added, 3); /* pw, fc1, fc2; the 3x3 conv cannot take one */
    double after = eval_loss(&n);
    assert_true(before == after);
    vkt_param_info info;
    int idx = -1;
    for (int i = 0; i < vkt_graph_param_count(n.g); i++) {
        assert_int_equal(vkt_graph_param_info(n.g, i, &info), VKT_OK);
        if (strcmp(info.name, "pw.lora_A.weight") == 0)
            idx = i;
    }
    assert_true(idx >= 0);
    vkt_graph_param_info(n.g, idx, &info);
    assert_int_equal(info.rank, 4); /* PEFT's conv adapter shape [r, in, 1, 1] */
    assert_int_equal(info.dims[0], 2);
    assert_int_equal(info.dims[1], 3);
    net_free(&n);
}

static void test_gradients_equal_full_backprop(void **state)
{
    (void)state;
    net n;
    net_make(&n, 12);
    assert_int_equal(vkt_graph_add_lora_all(n.g, 3, 3.0f, NULL), VKT_OK);
    /* Non-zero B, so every adapter gradient carries signal. */
    for (int i = 0; i < n.g->param_count; i++)
        if (n.g->params[i].is_adapter)
            tu_fill_uniform(n.g->params[i].data, n.g->params[i].numel, (uint32_t)(20 + i), -0.5f, 0.5f);
    rt_backend *be = n.ctx->backend;
    const void *in[2] = {n.x, n.y};
    grad_result full, part;
    bool *everything = calloc((size_t)vkt_graph_param_count(n.g) + 1, sizeof(bool));
    for (int i = 0; i < n.g->param_count; i++)
        everything[i] = !n.g->params[i].is_state;
    assert_int_equal(gh_run_trainable(be, n.g, n.loss, BATCH, in, everything, &full), 0);
    vkt_trainer *tr = lora_trainer(&n, VKT_OK);
    assert_int_equal(gh_run_trainable(be, n.g, n.loss, BATCH, in, tr->trainable, &part), 0);
    int trained = 0;
    for (int i = 0; i < n.g->param_count; i++) {
        const param *p = &n.g->params[i];
        assert_int_equal(tr->trainable[i], p->is_adapter);
        if (!p->is_adapter) {
            if (part.param_grads[i])
                fail_msg("frozen %s got a gradient", p->name);
            continue;
        }
        trained++;
        assert_non_null(part.param_grads[i]);
        if (memcmp(part.param_grads[i], full.param_grads[i], p->numel * 4) != 0)
            fail_msg("gradient of %s differs from full backprop", p->name);
    }
    assert_int_equal(trained, 6);
    gh_free(n.g, &part);
    gh_free(n.g, &full);
    free(everything);
    vkt_trainer_destroy(tr);
    net_free(&n);
}

/* Only adapter gradients and updates: no base weight gradient, no bias
 * gradient, gradients and optimizer state sized by the adapters. */
static void test_pruned_work_and_memory(void **state)
{
    (void)state;
    net n;
    net_make(&n, 13);
    assert_int_equal(vkt_graph_add_lora_all(n.g, 2, 2.0f, NULL), VKT_OK);
    vkt_trainer *tr = lora_trainer(&n, VKT_OK);
    const plan *pl = gh_training_plan(tr);
    assert_int_equal(gh_count_kernels(pl, RT_K_ADAMW), 6);
    assert_int_equal(gh_count_kernels(pl, RT_K_BIAS_GRAD), 0);
    size_t adapter_floats = 0;
    for (int i = 0; i < n.g->param_count; i++)
        if (n.g->params[i].is_adapter)
            adapter_floats += n.g->params[i].numel;
    assert_int_equal(adapter_floats, 2 * 3 + 4 * 2 + 2 * 5 + 8 * 2 + 2 * 8 + 3 * 2);
    vkt_memory_report m;
    assert_int_equal(vkt_trainer_memory(tr, &m), VKT_OK);
    assert_int_equal(m.trained_params, adapter_floats);
    /* No GEMM writes a base weight's gradient: every GEMM output is an
     * activation, an adapter gradient or an input gradient. */
    int grads = 0;
    for (int i = 0; i < pl->launch_count; i++) {
        const plan_launch *l = &pl->launches[i];
        if (l->kernel != RT_K_GEMM)
            continue;
        int p = slot_param_grad(&pl->slots[l->args[2].slot]);
        if (p >= 0)
            assert_true(n.g->params[p].is_adapter);
        grads += p >= 0;
    }
    assert_int_equal(grads, 6); /* dA and dB of three adapters */
    vkt_trainer_destroy(tr);
    net_free(&n);
}

static void test_training_moves_adapters_only(void **state)
{
    (void)state;
    net n;
    net_make(&n, 14);
    assert_int_equal(vkt_graph_add_lora_all(n.g, 2, 4.0f, NULL), VKT_OK);
    size_t np = (size_t)n.g->param_count;
    float **before = calloc(np, sizeof *before);
    for (size_t i = 0; i < np; i++) {
        before[i] = malloc(n.g->params[i].numel * 4);
        memcpy(before[i], n.g->params[i].data, n.g->params[i].numel * 4);
    }
    double loss0 = eval_loss(&n);
    vkt_trainer *tr = lora_trainer(&n, VKT_OK);
    const void *in[2] = {n.x, n.y};
    for (int s = 0; s < 30; s++)
        assert_int_equal(vkt_trainer_step(tr, in, BATCH), VKT_OK);
    assert_int_equal(vkt_trainer_sync_weights(tr), VKT_OK);
    vkt_trainer_destroy(tr);
    for (size_t i = 0; i < np; i++) {
        const param *p = &n.g->params[i];
        bool same = memcmp(before[i], p->data, p->numel * 4) == 0;
        if (p->is_adapter && same)
            fail_msg("adapter %s did not train", p->name);
        if (!p->is_adapter && !p->is_state && !same)
            fail_msg("frozen %s changed", p->name);
        free(before[i]);
    }
    free(before);
    assert_true(eval_loss(&n) < loss0); /* the adapters fit the batch */
    net_free(&n);
}

/* A merged save is the adapted model as a plain one: loaded into the
 * same network built without adapters it gives the same loss. */
static void test_merged_save(void **state)
{
    (void)state;
    char dir[] = "/tmp/vkt_lora_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char merged[256], plain[256];
    snprintf(merged, sizeof merged, "%s/merged.safetensors", dir);
    snprintf(plain, sizeof plain, "%s/plain.safetensors", dir);

    net n;
    net_make(&n, 15);
    assert_int_equal(vkt_graph_add_lora_all(n.g, 2, 4.0f, NULL), VKT_OK);
    vkt_trainer *tr = lora_trainer(&n, VKT_OK);
    const void *in[2] = {n.x, n.y};
    for (int s = 0; s < 10; s++)
        assert_int_equal(vkt_trainer_step(tr, in, BATCH), VKT_OK);
    assert_int_equal(vkt_trainer_sync_weights(tr), VKT_OK);
    vkt_trainer_destroy(tr);
    double adapted = eval_loss(&n);
    assert_int_equal(vkt_graph_save_merged_safetensors(n.g, merged), VKT_OK);
    assert_int_equal(vkt_graph_save_safetensors(n.g, plain), VKT_OK);

    net base;
    net_make(&base, 99); /* other initial weights: the file must supply them all */
    assert_int_equal(vkt_graph_load_safetensors(base.g, merged, false), VKT_OK); /* no adapter tensors */
    double merged_loss = eval_loss(&base);
    assert_true(fabs(merged_loss - adapted) <= 1e-5 * fabs(adapted) + 1e-6);
    /* The unmerged file carries the adapters: a plain model refuses it. */
    assert_int_equal(vkt_graph_load_safetensors(base.g, plain, false), VKT_ERR_FORMAT);
    /* A base-model file loads into an adapted graph, keeping adapters. */
    assert_int_equal(vkt_graph_add_lora_all(base.g, 2, 4.0f, NULL), VKT_OK);
    assert_int_equal(vkt_graph_load_safetensors(base.g, merged, false), VKT_OK);
    assert_true(fabs(eval_loss(&base) - merged_loss) <= 1e-6 * fabs(merged_loss) + 1e-7); /* B still zero */
    net_free(&base);
    net_free(&n);
    unlink(merged);
    unlink(plain);
    rmdir(dir);
}

static void test_errors(void **state)
{
    (void)state;
    net n;
    net_make(&n, 16);
    (void)lora_trainer(&n, VKT_ERR_INVALID_ARG); /* no adapters yet */
    assert_non_null(strstr(vkt_last_error(), "adapters"));
    assert_int_equal(vkt_graph_add_lora(n.g, "c", 2, 2.0f), VKT_ERR_INVALID_ARG); /* 3x3 conv */
    assert_non_null(strstr(vkt_last_error(), "cannot take"));
    assert_int_equal(vkt_graph_add_lora(n.g, "nope", 2, 2.0f), VKT_ERR_NOT_FOUND);
    assert_int_equal(vkt_graph_add_lora(n.g, "fc1", 0, 2.0f), VKT_ERR_INVALID_ARG);
    assert_int_equal(vkt_graph_add_lora(n.g, "fc1", 2, NAN), VKT_ERR_INVALID_ARG);
    assert_int_equal(vkt_graph_add_lora(n.g, NULL, 2, 2.0f), VKT_ERR_NOT_FOUND);
    assert_int_equal(vkt_graph_add_lora(NULL, "fc1", 2, 2.0f), VKT_ERR_INVALID_ARG);
    assert_int_equal(vkt_graph_add_lora(n.g, "fc1", 2, 2.0f), VKT_OK);
    assert_int_equal(vkt_graph_add_lora(n.g, "fc1", 2, 2.0f), VKT_ERR_INVALID_ARG); /* twice */
    assert_int_equal(vkt_graph_status(n.g), VKT_OK); /* refusals do not poison the graph */
    /* "full" on an adapted graph trains the base, not the adapters. */
    vkt_trainer_options to = {.batch_size = BATCH, .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.1f}};
    vkt_trainer *tr = NULL;
    assert_int_equal(vkt_trainer_create(n.ctx, n.g, n.loss, &to, &tr), VKT_OK);
    for (int i = 0; i < n.g->param_count; i++)
        assert_int_equal(tr->trainable[i], !n.g->params[i].is_state && !n.g->params[i].is_adapter);
    vkt_trainer_destroy(tr);
    net_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adapters_start_as_no_op),
        cmocka_unit_test(test_gradients_equal_full_backprop),
        cmocka_unit_test(test_pruned_work_and_memory),
        cmocka_unit_test(test_training_moves_adapters_only),
        cmocka_unit_test(test_merged_save),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
