/* Activation memory: the planner's savings (ReLU/ReLU6 bit masks, byte
 * argmax, in-place elementwise outputs) against plans compiled without
 * them (compile_request.plain_memory):
 *  - every op case of tests/op_cases.c gives the same loss, output and
 *    gradients bit for bit, and the cases use every saving;
 *  - in every plan, two tensors share arena bytes while both are live
 *    only as the input and output of an in-place launch, at that launch;
 *  - the cnn preset plans less activation memory (full, bias, last:1);
 *  - training a small cnn on the CPU gives bit-identical weights and
 *    losses, training and evaluation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/vktrain.h>

#include "grad_harness.h"
#include "op_cases.h"
#include "src/train/trainer_internal.h"
#include "test_util.h"

static rt_backend *g_cpu;
static int g_masks, g_in_place, g_byte_argmax;

static int setup(void **state)
{
    (void)state;
    return rt_cpu_backend_create(2, &g_cpu) == VKT_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rt_backend_destroy(g_cpu);
    return 0;
}

/* ---- plan checks ---- */

/* Launch l computes slot `out` in place over its input slot `in`. */
static bool in_place_pair(const plan *pl, int l, int in, int out)
{
    const plan_launch *la = &pl->launches[l];
    int out_arg = la->kernel == RT_K_ACT_FWD ? 1 : la->kernel == RT_K_ADD ? 2 : -1;
    if (out_arg < 0 || la->args[out_arg].slot != out)
        return false;
    for (int a = 0; a < out_arg; a++)
        if (la->args[a].slot == in)
            return true;
    return false;
}

/* Any two arena slots whose bytes overlap must not be live at once, but
 * for an in-place input and output that meet at one launch (the input's
 * last use, the output's first). */
static void expect_safe_placement(const plan *pl, const char *what)
{
    for (int i = 0; i < pl->slot_count; i++)
        for (int j = i + 1; j < pl->slot_count; j++) {
            const slot *a = &pl->slots[i], *b = &pl->slots[j];
            if (a->kind != SLOT_ARENA || b->kind != SLOT_ARENA || a->first_use < 0 || b->first_use < 0)
                continue;
            bool bytes = a->offset < b->offset + b->bytes && b->offset < a->offset + a->bytes;
            bool live = a->first_use <= b->last_use && b->first_use <= a->last_use;
            if (!bytes || !live)
                continue;
            bool ok = (a->last_use == b->first_use && in_place_pair(pl, a->last_use, i, j)) ||
                      (b->last_use == a->first_use && in_place_pair(pl, b->last_use, j, i));
            if (!ok)
                fail_msg("%s: slots %d [%d, %d] and %d [%d, %d] share bytes while both live", what, i, a->first_use,
                         a->last_use, j, b->first_use, b->last_use);
        }
}

static void count_savings(const plan *pl)
{
    for (int i = 0; i < pl->launch_count; i++) {
        const plan_launch *l = &pl->launches[i];
        g_masks += l->kernel == RT_K_ACT_BWD && l->params.i[3];
        g_byte_argmax += l->kernel == RT_K_MAXPOOL_FWD && l->params.i[12] == RT_ARGMAX_U8;
    }
    for (int s = 0; s < pl->slot_count; s++)
        g_in_place += pl->slots[s].shares >= 0;
}

/* The training plan of an op case (input gradients and the probe kept
 * readable, as gh_run compiles it), without a backend. */
static void compile_case(const gcase *c, bool plain, plan *pl)
{
    bool *trainable = calloc((size_t)c->g->param_count + 1, sizeof(bool));
    for (int i = 0; i < c->g->param_count; i++)
        trainable[i] = !c->g->params[i].is_state;
    int probe = c->g->nodes[c->loss].inputs[0];
    compile_request req = {c->g, c->loss, c->batch, true, trainable, NULL, true, probe, false, NULL, false, plain, 0,
                           false, 0, 0};
    assert_int_equal(compile_plan(pl, &req), VKT_OK);
    pl->trainable = NULL;
    free(trainable);
}

/* ---- every op case, with and without the savings ---- */

static void expect_same(const void *a, const void *b, size_t bytes, const char *what, const char *label)
{
    if ((a == NULL) != (b == NULL) || (a && memcmp(a, b, bytes) != 0))
        fail_msg("%s: %s differs from the plain plan's", label, what);
}

/* Convolutions with one image per im2col chunk give the same bits as
 * whole-batch columns (the chunks' weight-gradient sums chain in order). */
static void chunked_check(gcase *c, double eps, const char *label)
{
    (void)eps;
    const vkt_graph *g = c->g;
    const void *const *in = (const void *const *)c->inputs;
    grad_result whole, chunked;
    assert_int_equal(gh_run(g_cpu, g, c->loss, c->batch, in, -1, 7, &whole), 0);
    gh_col_chunk_bytes = 1;
    int rc = gh_run(g_cpu, g, c->loss, c->batch, in, -1, 7, &chunked);
    gh_col_chunk_bytes = 0;
    assert_int_equal(rc, 0);
    if (whole.loss != chunked.loss)
        fail_msg("%s: chunked loss differs", label);
    for (int i = 0; i < g->param_count; i++)
        if ((whole.param_grads[i] == NULL) != (chunked.param_grads[i] == NULL) ||
            (whole.param_grads[i] && memcmp(whole.param_grads[i], chunked.param_grads[i], g->params[i].numel * 4)))
            fail_msg("%s: chunked gradient of %s differs", label, g->params[i].name);
    for (int k = 0; k < g->input_count; k++)
        if (whole.input_grads[k] &&
            memcmp(whole.input_grads[k], chunked.input_grads[k], g->nodes[g->inputs[k]].numel * (size_t)c->batch * 4))
            fail_msg("%s: chunked input gradient differs", label);
    gh_free(g, &whole);
    gh_free(g, &chunked);
    gcase_free(c);
}

static void test_conv_chunks(void **state)
{
    (void)state;
    op_cases_conv2d(chunked_check);
    op_cases_lora(chunked_check);
    op_cases_small_networks(chunked_check);
}

static void bitwise_check(gcase *c, double eps, const char *label)
{
    (void)eps;
    const vkt_graph *g = c->g;
    int probe = g->nodes[c->loss].inputs[0];
    const void *const *in = (const void *const *)c->inputs;
    grad_result saved, plain;
    assert_int_equal(gh_run(g_cpu, g, c->loss, c->batch, in, probe, 7, &saved), 0);
    gh_plain_memory = true;
    int rc = gh_run(g_cpu, g, c->loss, c->batch, in, probe, 7, &plain);
    gh_plain_memory = false;
    assert_int_equal(rc, 0);
    expect_same(&saved.loss, &plain.loss, sizeof saved.loss, "loss", label);
    expect_same(saved.output, plain.output, g->nodes[probe].numel * (size_t)c->batch * 4, "output", label);
    for (int i = 0; i < g->param_count; i++)
        expect_same(saved.param_grads[i], plain.param_grads[i], g->params[i].numel * 4, g->params[i].name, label);
    for (int k = 0; k < g->input_count; k++)
        expect_same(saved.input_grads[k], plain.input_grads[k], g->nodes[g->inputs[k]].numel * (size_t)c->batch * 4,
                    "an input gradient", label);
    gh_free(g, &saved);
    gh_free(g, &plain);

    plan pl;
    compile_case(c, false, &pl);
    count_savings(&pl);
    expect_safe_placement(&pl, label);
    plan_free(&pl, NULL);
    gcase_free(c);
}

static void test_op_cases_match_plain_plans(void **state)
{
    (void)state;
    const gcase_fn check = bitwise_check;
    op_cases_linear(check);
    op_cases_conv2d(check);
    op_cases_lora(check);
    op_cases_pools(check);
    op_cases_norms(check);
    op_cases_activations(check);
    op_cases_structural(check);
    op_cases_dropout(check);
    op_cases_embedding(check);
    op_cases_losses(check);
    op_cases_small_networks(check);
    op_cases_attention(check);
    /* the cases reach every saving */
    assert_true(g_masks > 0);
    assert_true(g_in_place > 0);
    assert_true(g_byte_argmax > 0);
}

/* ---- the cnn preset ---- */

typedef struct cnn {
    vkt_context *ctx;
    vkt_graph *g;
    vkt_tensor loss;
    int batch, side;
} cnn;

/* conv3x3 1->c1, relu, maxpool2, conv3x3 c1->c2, relu, maxpool2, linear
 * -> 10, cross entropy (the CLI's cnn preset at c1 16, c2 32, 28x28). */
static void cnn_make(cnn *n, int batch, int side, int c1, int c2)
{
    n->batch = batch, n->side = side;
    vkt_context_options co = {"cpu", 2};
    assert_int_equal(vkt_context_create(&co, &n->ctx), VKT_OK);
    assert_int_equal(vkt_graph_create(5, &n->g), VKT_OK);
    int img[3] = {1, side, side};
    vkt_tensor x = vkt_input(n->g, "x", VKT_F32, 3, img);
    vkt_tensor y = vkt_input(n->g, "y", VKT_I32, 0, NULL);
    vkt_conv2d_params p1 = {.out_channels = c1, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true};
    vkt_conv2d_params p2 = {.out_channels = c2, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true};
    vkt_pool2d_params mp = {.kernel_h = 2, .kernel_w = 2};
    vkt_tensor h = vkt_max_pool2d(n->g, vkt_relu(n->g, vkt_conv2d(n->g, x, &p1, "0")), &mp);
    h = vkt_max_pool2d(n->g, vkt_relu(n->g, vkt_conv2d(n->g, h, &p2, "3")), &mp);
    n->loss = vkt_softmax_cross_entropy(n->g, vkt_linear(n->g, vkt_flatten(n->g, h), 10, true, "7"), y, 0.0f);
    assert_int_equal(vkt_graph_status(n->g), VKT_OK);
}

static void cnn_free(cnn *n)
{
    vkt_graph_destroy(n->g);
    vkt_context_destroy(n->ctx);
}

static vkt_trainer *cnn_trainer(cnn *n, const vkt_trainable_set *set, bool plain)
{
    /* Whole-batch prefix: these checks are about the savings in one pass
     * (test_frozen_prefix covers the chunks). */
    vkt_trainer_options to = {.trainable = set, .batch_size = n->batch, .seed = 11, .frozen_chunk = -1,
                              .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.05f, .momentum = 0.9f}};
    vkt_trainer *tr = NULL;
    assert_int_equal(vkt_trainer_create(n->ctx, n->g, n->loss, &to, &tr), VKT_OK);
    tr->plain_memory = plain; /* before any plan is compiled */
    return tr;
}

static const plan *training_plan(vkt_trainer *tr, size_t *activation_bytes)
{
    vkt_memory_report m;
    assert_int_equal(vkt_trainer_memory(tr, &m), VKT_OK); /* compiles the step */
    *activation_bytes = m.activations_bytes;
    for (int i = 0; i < TRAINER_MAX_PLANS; i++)
        if (tr->plans[i].used && tr->plans[i].training)
            return &tr->plans[i].pl;
    fail_msg("no training plan");
    return NULL;
}

static int count_launches(const plan *pl, rt_kernel k, int param, int value)
{
    int c = 0;
    for (int i = 0; i < pl->launch_count; i++)
        c += pl->launches[i].kernel == k && pl->launches[i].params.i[param] == value;
    return c;
}

static const vkt_trainable_set policies[] = {
    {.policy = VKT_TRAIN_ALL},
    {.policy = VKT_TRAIN_BIAS},
    {.policy = VKT_TRAIN_LAST_K, .count = 1},
};
static const char *const policy_names[] = {"full", "bias", "last:1"};

/* At batch 64 the savings are ReLU outputs replaced by masks, argmax in
 * bytes, and ReLU outputs in the memory of the conv outputs they follow;
 * what remains is dominated by the second conv's column buffer, a
 * forward temporary every policy needs. */
static void test_cnn_preset_plans_less(void **state)
{
    (void)state;
    cnn n;
    cnn_make(&n, 64, 28, 16, 32);
    for (size_t p = 0; p < sizeof policies / sizeof policies[0]; p++) {
        vkt_trainer *with = cnn_trainer(&n, &policies[p], false), *without = cnn_trainer(&n, &policies[p], true);
        size_t bytes, plain_bytes;
        const plan *pl = training_plan(with, &bytes), *pp = training_plan(without, &plain_bytes);
        print_message("cnn %s: activations %.2f MB planned, %.2f MB without the savings\n", policy_names[p],
                      (double)bytes / 1e6, (double)plain_bytes / 1e6);
        expect_safe_placement(pl, policy_names[p]);
        expect_safe_placement(pp, policy_names[p]);
        assert_int_equal(count_launches(pl, RT_K_MAXPOOL_FWD, 12, RT_ARGMAX_U8), 2);
        assert_int_equal(count_launches(pp, RT_K_MAXPOOL_FWD, 12, RT_ARGMAX_U8), 0);
        assert_int_equal(count_launches(pp, RT_K_ACT_BWD, 3, 1), 0);
        assert_true(bytes <= plain_bytes);
        if (p == 0) { /* both ReLUs: backward from masks, in place over the conv outputs */
            assert_int_equal(count_launches(pl, RT_K_ACT_BWD, 3, 1), 2);
            assert_int_equal(count_launches(pl, RT_K_ACT_FWD, 2, 1), 2);
        }
        if (p < 2) /* a quarter less, or better */
            assert_true(bytes * 4 <= plain_bytes * 3);
        vkt_trainer_destroy(with);
        vkt_trainer_destroy(without);
    }
    cnn_free(&n);
}

/* Same weights and losses, bit for bit, after steps on changing batches,
 * a partial batch (its own plan) and evaluation. */
static void test_training_bit_identical(void **state)
{
    (void)state;
    cnn n;
    cnn_make(&n, 8, 12, 4, 6);
    size_t px = (size_t)n.side * n.side;
    float *x = malloc(4 * (size_t)n.batch * px * sizeof *x);
    int32_t y[32];
    tu_fill_uniform(x, 4 * (size_t)n.batch * px, 21, 0, 1);
    for (int i = 0; i < 32; i++)
        y[i] = (i * 7) % 10;
    size_t nparams = 0;
    for (int i = 0; i < n.g->param_count; i++)
        nparams += n.g->params[i].numel;
    float *weights[2];
    double losses[2][2];
    vkt_trainer *tr[2] = {cnn_trainer(&n, NULL, false), cnn_trainer(&n, NULL, true)}; /* both from the initial weights */
    for (int t = 0; t < 2; t++) {
        for (int s = 0; s < 4; s++) {
            const void *in[2] = {x + (size_t)s * n.batch * px, y + s * n.batch};
            assert_int_equal(vkt_trainer_step(tr[t], in, s == 3 ? n.batch - 3 : n.batch), VKT_OK);
        }
        const void *in[2] = {x, y};
        assert_int_equal(vkt_trainer_eval_batch(tr[t], in, n.batch), VKT_OK);
        vkt_metrics m;
        assert_int_equal(vkt_trainer_read_train_metrics(tr[t], &m), VKT_OK);
        losses[t][0] = m.loss_mean;
        assert_int_equal(vkt_trainer_read_eval_metrics(tr[t], &m), VKT_OK);
        losses[t][1] = m.loss_mean;
        assert_int_equal(vkt_trainer_sync_weights(tr[t]), VKT_OK);
        weights[t] = malloc(nparams * sizeof(float));
        for (int i = 0, at = 0; i < n.g->param_count; at += (int)n.g->params[i].numel, i++)
            memcpy(weights[t] + at, n.g->params[i].data, n.g->params[i].numel * sizeof(float));
    }
    assert_true(memcmp(weights[0], weights[1], nparams * sizeof(float)) == 0);
    assert_true(memcmp(losses[0], losses[1], sizeof losses[0]) == 0);
    assert_true(losses[0][0] > 0 && isfinite(losses[0][1]));
    for (int t = 0; t < 2; t++) {
        vkt_trainer_destroy(tr[t]);
        free(weights[t]);
    }
    free(x);
    cnn_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_chunks),
        cmocka_unit_test(test_op_cases_match_plain_plans),
        cmocka_unit_test(test_cnn_preset_plans_less),
        cmocka_unit_test(test_training_bit_identical),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
