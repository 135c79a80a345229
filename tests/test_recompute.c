/* Recomputation in backward: cheap layers' outputs are emitted again
 * instead of kept, which lowers the planned activation memory and
 * changes no result (bit-identical weights and running statistics on
 * the CPU), and batch norm's running statistics are updated once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/vktrain.h>

#include "grad_harness.h"
#include "src/train/trainer_internal.h"
#include "test_util.h"

#define BATCH 8
#define CLASSES 5

static float xs[BATCH * 3 * 12 * 12];
static int32_t ys[BATCH];

/* conv -> bn -> relu -> maxpool -> conv -> bn -> relu6 -> conv -> bn ->
 * relu -> (+ skip) -> gap -> dropout -> linear -> CE: every op that can
 * be recomputed */
static vkt_graph *build(vkt_tensor *loss)
{
    vkt_graph *g;
    assert_int_equal(vkt_graph_create(41, &g), VKT_OK);
    int img[3] = {3, 12, 12};
    vkt_tensor x = vkt_input(g, "x", VKT_F32, 3, img);
    vkt_tensor y = vkt_input(g, "y", VKT_I32, 0, NULL);
    vkt_conv2d_params c = {.out_channels = 8, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1};
    vkt_pool2d_params mp = {.kernel_h = 2, .kernel_w = 2};
    vkt_tensor h = vkt_relu(g, vkt_batch_norm(g, vkt_conv2d(g, x, &c, "c1"), 1e-5f, 0.1f, "bn1"));
    h = vkt_max_pool2d(g, h, &mp);
    vkt_tensor r = vkt_activation_op(g, vkt_batch_norm(g, vkt_conv2d(g, h, &c, "c2"), 1e-5f, 0.1f, "bn2"),
                                     VKT_ACT_RELU6);
    r = vkt_relu(g, vkt_batch_norm(g, vkt_conv2d(g, r, &c, "c3"), 1e-5f, 0.1f, "bn3"));
    h = vkt_dropout(g, vkt_global_avg_pool(g, vkt_add(g, h, r)), 0.25f);
    *loss = vkt_softmax_cross_entropy(g, vkt_linear(g, h, CLASSES, true, "fc"), y, 0.0f);
    assert_int_equal(vkt_graph_status(g), VKT_OK);
    return g;
}

/* conv -> bn -> relu blocks: each relu output is the next conv's input,
 * kept for its weight gradient unless recomputed from the conv output
 * that batch norm's backward keeps anyway. */
static vkt_graph *build_chain(vkt_tensor *loss)
{
    vkt_graph *g;
    assert_int_equal(vkt_graph_create(43, &g), VKT_OK);
    int img[3] = {3, 12, 12};
    vkt_tensor x = vkt_input(g, "x", VKT_F32, 3, img);
    vkt_tensor y = vkt_input(g, "y", VKT_I32, 0, NULL);
    vkt_conv2d_params c = {.out_channels = 8, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1};
    const char *names[3][2] = {{"c1", "bn1"}, {"c2", "bn2"}, {"c3", "bn3"}};
    vkt_tensor h = x;
    for (int b = 0; b < 3; b++)
        h = vkt_activation_op(g, vkt_batch_norm(g, vkt_conv2d(g, h, &c, names[b][0]), 1e-5f, 0.1f, names[b][1]),
                              b == 1 ? VKT_ACT_RELU6 : VKT_ACT_RELU);
    *loss = vkt_softmax_cross_entropy(g, vkt_linear(g, vkt_global_avg_pool(g, h), CLASSES, true, "fc"), y, 0.0f);
    assert_int_equal(vkt_graph_status(g), VKT_OK);
    return g;
}

static vkt_trainer *trainer(vkt_context *ctx, vkt_graph *g, vkt_tensor loss, bool recompute, bool fp16)
{
    vkt_trainer_options to = {.batch_size = BATCH, .recompute = recompute, .fp16_activations = fp16, .seed = 3,
                              .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.05f, .momentum = 0.9f}};
    vkt_trainer *tr;
    if (vkt_trainer_create(ctx, g, loss, &to, &tr) != VKT_OK)
        fail_msg("trainer: %s", vkt_last_error());
    return tr;
}

/* Two copies of one network on one CPU context: `keep` trains it as is,
 * `redo` with recomputation (and fp16 storage when asked). */
typedef struct pair {
    vkt_context *ctx;
    vkt_graph *a, *b;
    vkt_trainer *keep, *redo;
} pair;

static pair pair_make(vkt_graph *(*make)(vkt_tensor *), bool fp16)
{
    pair p;
    vkt_context_options co = {"cpu", 2};
    assert_int_equal(vkt_context_create(&co, &p.ctx), VKT_OK);
    vkt_tensor la, lb;
    p.a = make(&la);
    p.b = make(&lb);
    p.keep = trainer(p.ctx, p.a, la, false, false);
    p.redo = trainer(p.ctx, p.b, lb, true, fp16);
    return p;
}

static void pair_free(pair *p)
{
    vkt_trainer_destroy(p->keep);
    vkt_trainer_destroy(p->redo);
    vkt_graph_destroy(p->a);
    vkt_graph_destroy(p->b);
    vkt_context_destroy(p->ctx);
}

/* Trains `a` plainly and `b` recomputing, 4 steps each, and checks the
 * loss, weights and running statistics agree bit for bit. */
static void train_both(vkt_trainer *keep, vkt_trainer *redo, vkt_graph *a, vkt_graph *b)
{
    const void *in[2] = {xs, ys};
    for (int s = 0; s < 4; s++) {
        assert_int_equal(vkt_trainer_step(keep, in, BATCH), VKT_OK);
        assert_int_equal(vkt_trainer_step(redo, in, BATCH), VKT_OK);
    }
    vkt_metrics mk, mr;
    assert_int_equal(vkt_trainer_read_train_metrics(keep, &mk), VKT_OK);
    assert_int_equal(vkt_trainer_read_train_metrics(redo, &mr), VKT_OK);
    assert_true(mk.loss_mean == mr.loss_mean);
    vkt_trainer_sync_weights(keep);
    vkt_trainer_sync_weights(redo);
    for (int i = 0; i < a->param_count; i++) /* weights and running statistics */
        assert_memory_equal(a->params[i].data, b->params[i].data, a->params[i].numel * 4);
}

static void test_chain_less_memory(void **state)
{
    (void)state;
    pair p = pair_make(build_chain, false);
    const plan *pk = gh_training_plan(p.keep), *pr = gh_training_plan(p.redo);
    assert_true(pr->arena_bytes < pk->arena_bytes); /* the recomputing plan won */
    assert_int_equal(gh_count_kernels(pr, RT_K_BN_TRAIN_FWD), 3); /* running statistics updated once */
    assert_true(gh_count_kernels(pr, RT_K_BN_EVAL_FWD) >= 2);
    assert_int_equal(gh_count_kernels(pk, RT_K_BN_EVAL_FWD), 0);
    train_both(p.keep, p.redo, p.a, p.b);
    pair_free(&p);
}

/* The recompute emitters (batch norm, activations, pooling, dropout;
 * add is the plain forward too) repeat their forward bit for bit, even
 * where recomputing does not pay and the trainer would not choose it. */
static void test_every_op_same_results(void **state)
{
    (void)state;
    pair p = pair_make(build, false);
    p.redo->force_recompute = true; /* before any plan is compiled */
    const plan *pk = gh_training_plan(p.keep), *pr = gh_training_plan(p.redo);
    assert_int_equal(gh_count_kernels(pr, RT_K_BN_TRAIN_FWD), 3);
    assert_int_equal(gh_count_kernels(pr, RT_K_BN_EVAL_FWD), 3);
    assert_true(gh_count_kernels(pr, RT_K_MAXPOOL_FWD) > gh_count_kernels(pk, RT_K_MAXPOOL_FWD));
    assert_true(gh_count_kernels(pr, RT_K_DROPOUT_FWD) > gh_count_kernels(pk, RT_K_DROPOUT_FWD));
    assert_true(gh_count_kernels(pr, RT_K_ACT_FWD) > gh_count_kernels(pk, RT_K_ACT_FWD));
    train_both(p.keep, p.redo, p.a, p.b);
    pair_free(&p);
}

/* With fp16 storage of what is still kept, training stays close to the
 * fp32 run (fp16 only rounds the kept tensors). */
static void test_with_fp16(void **state)
{
    (void)state;
    pair p = pair_make(build, true);
    const void *in[2] = {xs, ys};
    for (int s = 0; s < 3; s++) {
        assert_int_equal(vkt_trainer_step(p.keep, in, BATCH), VKT_OK);
        assert_int_equal(vkt_trainer_step(p.redo, in, BATCH), VKT_OK);
    }
    vkt_trainer_sync_weights(p.keep);
    vkt_trainer_sync_weights(p.redo);
    for (int i = 0; i < p.a->param_count; i++)
        for (size_t j = 0; j < p.a->params[i].numel; j++) {
            float x = p.a->params[i].data[j], y = p.b->params[i].data[j];
            if (fabsf(x - y) > 2e-3f * (1 + fabsf(x)))
                fail_msg("%s[%zu]: %g vs %g", p.a->params[i].name, j, x, y);
        }
    pair_free(&p);
}

int main(void)
{
    tu_fill_uniform(xs, sizeof xs / sizeof xs[0], 12, -1, 1);
    for (int i = 0; i < BATCH; i++)
        ys[i] = i % CLASSES;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_less_memory),
        cmocka_unit_test(test_every_op_same_results),
        cmocka_unit_test(test_with_fp16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
