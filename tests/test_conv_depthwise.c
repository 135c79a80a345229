/* The conv op's direct depthwise path (src/ops/op_conv2d.c) beyond the
 * finite-difference checks of tests/op_cases.c: which convolutions take
 * it, that a depthwise layer is one launch forward (not one GEMM per
 * group) and one per gradient backward, only the gradients the
 * trainable set needs, and no column buffer. */
#include <vktrain/vktrain.h>

#include "grad_harness.h"
#include "test_util.h"

#define CLASSES 3
#define CH 8

typedef struct net {
    vkt_context *ctx;
    vkt_graph *g;
    vkt_tensor loss;
} net;

/* conv "pw" 3->8 1x1 (direct GEMM) -> conv "dw" 8 groups 3x3 stride 2
 * pad 1 (depthwise) -> conv "gc" 8->8 3x3 in 2 groups (im2col + GEMM per
 * group) -> global average pool -> linear "fc" -> cross entropy. */
static void net_make(net *n)
{
    vkt_context_options co = {"cpu", 2};
    assert_int_equal(vkt_context_create(&co, &n->ctx), VKT_OK);
    assert_int_equal(vkt_graph_create(5, &n->g), VKT_OK);
    int img[3] = {3, 11, 11};
    vkt_tensor x = vkt_input(n->g, "x", VKT_F32, 3, img);
    vkt_tensor y = vkt_input(n->g, "y", VKT_I32, 0, NULL);
    vkt_conv2d_params pw = {.out_channels = CH, .kernel_h = 1, .kernel_w = 1, .bias = true};
    vkt_conv2d_params dw = {.out_channels = CH, .kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2,
                            .pad_h = 1, .pad_w = 1, .groups = CH, .bias = true};
    vkt_conv2d_params gc = {.out_channels = CH, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .groups = 2};
    vkt_tensor h = vkt_conv2d(n->g, x, &pw, "pw");
    h = vkt_conv2d(n->g, h, &dw, "dw");
    h = vkt_global_avg_pool(n->g, vkt_conv2d(n->g, h, &gc, "gc"));
    n->loss = vkt_softmax_cross_entropy(n->g, vkt_linear(n->g, h, CLASSES, true, "fc"), y, 0.0f);
    assert_int_equal(vkt_graph_status(n->g), VKT_OK);
}

static vkt_trainer *trainer_for(net *n, const vkt_trainable_set *set)
{
    vkt_trainer_options to = {.trainable = set, .batch_size = 5,
                              .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.05f, .momentum = 0.9f}};
    vkt_trainer *tr = NULL;
    if (vkt_trainer_create(n->ctx, n->g, n->loss, &to, &tr) != VKT_OK)
        fail_msg("trainer_create: %s", vkt_last_error());
    return tr;
}

static int forward_launches(const plan *pl, rt_kernel k)
{
    int c = 0;
    for (int i = 0; i < pl->launch_count; i++)
        c += pl->launches[i].kernel == k && pl->launches[i].phase == PLAN_FORWARD;
    return c;
}

static void test_depthwise_launches(void **state)
{
    (void)state;
    net n;
    net_make(&n);
    const char *const frozen_dw[] = {"pw.weight", "pw.bias", "gc.weight", "fc.weight", "fc.bias"};
    const vkt_trainable_set all_but_dw = {.policy = VKT_TRAIN_NAMED, .names = frozen_dw, .count = 5};
    const vkt_trainable_set head = {.policy = VKT_TRAIN_LAST_K, .count = 1};
    vkt_trainer *tf = trainer_for(&n, NULL), *tn = trainer_for(&n, &all_but_dw), *th = trainer_for(&n, &head);
    const plan *full = gh_training_plan(tf), *named = gh_training_plan(tn), *ph = gh_training_plan(th);

    /* "dw": one forward launch for its 8 groups, one per gradient. */
    assert_int_equal(forward_launches(full, RT_K_DWCONV_FWD), 1);
    assert_int_equal(gh_count_kernels(full, RT_K_DWCONV_FWD), 1);
    assert_int_equal(gh_count_kernels(full, RT_K_DWCONV_BWD_INPUT), 1);
    assert_int_equal(gh_count_kernels(full, RT_K_DWCONV_BWD_WEIGHT), 1);
    /* Forward GEMMs: "pw" (1), "gc" (one per group: 2), "fc" (1); the
     * depthwise layer adds none, and only "gc" unfolds columns (forward,
     * weight gradient) and folds them back. */
    assert_int_equal(forward_launches(full, RT_K_GEMM), 4);
    assert_int_equal(gh_count_kernels(full, RT_K_IM2COL), 2);
    assert_int_equal(gh_count_kernels(full, RT_K_COL2IM), 1);

    /* "dw.weight" frozen: its input gradient still feeds "pw". */
    assert_int_equal(gh_count_kernels(named, RT_K_DWCONV_BWD_WEIGHT), 0);
    assert_int_equal(gh_count_kernels(named, RT_K_DWCONV_BWD_INPUT), 1);

    /* Head only: no depthwise backward at all. */
    assert_int_equal(gh_count_kernels(ph, RT_K_DWCONV_FWD), 1);
    assert_int_equal(gh_count_kernels(ph, RT_K_DWCONV_BWD_INPUT), 0);
    assert_int_equal(gh_count_kernels(ph, RT_K_DWCONV_BWD_WEIGHT), 0);

    vkt_trainer_destroy(tf), vkt_trainer_destroy(tn), vkt_trainer_destroy(th);
    vkt_graph_destroy(n.g);
    vkt_context_destroy(n.ctx);
}

/* A few SGD steps train the depthwise layer: every weight moves. */
static void test_depthwise_trains(void **state)
{
    (void)state;
    enum { B = 5 };
    net n;
    net_make(&n);
    vkt_trainer *tr = trainer_for(&n, NULL);
    float x[B * 3 * 11 * 11], before[CH * 9], after[CH * 9];
    int32_t y[B];
    tu_fill_uniform(x, sizeof x / sizeof x[0], 3, -1, 1);
    for (int i = 0; i < B; i++)
        y[i] = i % CLASSES;
    assert_int_equal(vkt_graph_param_get(n.g, "dw.weight", before, CH * 9), VKT_OK);
    const void *in[2] = {x, y};
    for (int s = 0; s < 5; s++)
        assert_int_equal(vkt_trainer_step(tr, in, B), VKT_OK);
    assert_int_equal(vkt_trainer_sync_weights(tr), VKT_OK);
    assert_int_equal(vkt_graph_param_get(n.g, "dw.weight", after, CH * 9), VKT_OK);
    int moved = 0;
    for (int i = 0; i < CH * 9; i++)
        moved += before[i] != after[i];
    assert_true(moved == CH * 9);
    vkt_trainer_destroy(tr);
    vkt_graph_destroy(n.g);
    vkt_context_destroy(n.ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depthwise_launches),
        cmocka_unit_test(test_depthwise_trains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
