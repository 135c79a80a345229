/* The conv op's Winograd path (src/ops/conv_winograd.c) beyond the
 * finite-difference checks of tests/op_cases.c: which convolutions take
 * it, and that backward emits only the Winograd work the trainable set
 * needs; a batch split into several image chunks (the last one short)
 * gives the per-image results; training is bit-identical across thread
 * counts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/vktrain.h>

#include "grad_harness.h"
#include "src/train/trainer_internal.h"
#include "test_util.h"

#define CLASSES 3

/* Counts of each kernel in the compiled training step. */
static int count_kernels(const plan *pl, rt_kernel k)
{
    int c = 0;
    for (int i = 0; i < pl->launch_count; i++)
        c += pl->launches[i].kernel == k;
    return c;
}

static const plan *training_plan(vkt_trainer *tr)
{
    vkt_memory_report m;
    assert_int_equal(vkt_trainer_memory(tr, &m), VKT_OK); /* compiles the step */
    for (int i = 0; i < TRAINER_MAX_PLANS; i++)
        if (tr->plans[i].used && tr->plans[i].training)
            return &tr->plans[i].pl;
    fail_msg("no training plan");
    return NULL;
}

typedef struct net {
    vkt_context *ctx;
    vkt_graph *g;
    vkt_tensor loss;
} net;

/* conv "0" 1->16 (one input channel: im2col) -> relu -> conv "2" 16->16
 * 3x3 pad 1 (Winograd) -> conv "3" 16->8 stride 2 (im2col) -> global
 * average pool -> linear "5" -> cross entropy. */
static void net_make(net *n, int threads)
{
    vkt_context_options co = {"cpu", threads};
    assert_int_equal(vkt_context_create(&co, &n->ctx), VKT_OK);
    assert_int_equal(vkt_graph_create(5, &n->g), VKT_OK);
    int img[3] = {1, 12, 12};
    vkt_tensor x = vkt_input(n->g, "x", VKT_F32, 3, img);
    vkt_tensor y = vkt_input(n->g, "y", VKT_I32, 0, NULL);
    vkt_conv2d_params c0 = {.out_channels = 16, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true};
    vkt_tensor h = vkt_relu(n->g, vkt_conv2d(n->g, x, &c0, "0"));
    vkt_conv2d_params c2 = c0;
    h = vkt_conv2d(n->g, h, &c2, "2");
    vkt_conv2d_params c3 = {.out_channels = 8, .kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2,
                            .pad_h = 1, .pad_w = 1, .bias = true};
    h = vkt_global_avg_pool(n->g, vkt_conv2d(n->g, h, &c3, "3"));
    n->loss = vkt_softmax_cross_entropy(n->g, vkt_linear(n->g, h, CLASSES, true, "5"), y, 0.0f);
    assert_int_equal(vkt_graph_status(n->g), VKT_OK);
}

static void net_free(net *n)
{
    vkt_graph_destroy(n->g);
    vkt_context_destroy(n->ctx);
}

static vkt_trainer *trainer_for(net *n, const vkt_trainable_set *set, int batch)
{
    vkt_trainer_options to = {.trainable = set, .batch_size = batch,
                              .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.05f, .momentum = 0.9f}};
    vkt_trainer *tr = NULL;
    if (vkt_trainer_create(n->ctx, n->g, n->loss, &to, &tr) != VKT_OK)
        fail_msg("trainer_create: %s", vkt_last_error());
    return tr;
}

static void test_paths_chosen(void **state)
{
    (void)state;
    net n;
    net_make(&n, 2);
    const vkt_trainable_set bias = {.policy = VKT_TRAIN_BIAS}, head = {.policy = VKT_TRAIN_LAST_K, .count = 1};
    vkt_trainer *tf = trainer_for(&n, NULL, 4), *tb = trainer_for(&n, &bias, 4), *th = trainer_for(&n, &head, 4);
    const plan *full = training_plan(tf), *pb = training_plan(tb), *ph = training_plan(th);

    /* "0" and "3" use im2col (forward, weight gradient) and "3" col2im;
     * "0" has no input gradient. */
    assert_int_equal(count_kernels(full, RT_K_IM2COL), 4);
    assert_int_equal(count_kernels(full, RT_K_COL2IM), 1);
    /* "2": one chunk (4 images); forward keeps V for dU, backward makes
     * dM, dU and dV. */
    assert_int_equal(count_kernels(full, RT_K_WINO_WEIGHT), 2); /* forward, and for dx */
    assert_int_equal(count_kernels(full, RT_K_WINO_INPUT), 1);
    assert_int_equal(count_kernels(full, RT_K_WINO_OUTPUT), 1);
    assert_int_equal(count_kernels(full, RT_K_WINO_OUTPUT_BWD), 1);
    assert_int_equal(count_kernels(full, RT_K_WINO_INPUT_BWD), 1);
    assert_int_equal(count_kernels(full, RT_K_WINO_WEIGHT_BWD), 1);

    /* Bias only: "2"'s input gradient still feeds "0".bias; no dU, and
     * V is not kept (a per-chunk temporary: a smaller arena). */
    assert_int_equal(count_kernels(pb, RT_K_WINO_INPUT), 1);
    assert_true(pb->arena_bytes < full->arena_bytes);
    assert_int_equal(count_kernels(pb, RT_K_WINO_WEIGHT_BWD), 0);
    assert_int_equal(count_kernels(pb, RT_K_WINO_INPUT_BWD), 1);
    assert_int_equal(count_kernels(pb, RT_K_GEMM), count_kernels(full, RT_K_GEMM) - 4); /* dU, 3 dW */

    /* Head only: no convolution backward at all. */
    assert_int_equal(count_kernels(ph, RT_K_WINO_OUTPUT_BWD), 0);
    assert_int_equal(count_kernels(ph, RT_K_WINO_INPUT_BWD), 0);
    assert_int_equal(count_kernels(ph, RT_K_WINO_WEIGHT_BWD), 0);
    assert_int_equal(count_kernels(ph, RT_K_WINO_WEIGHT), 1);

    vkt_trainer_destroy(tf), vkt_trainer_destroy(tb), vkt_trainer_destroy(th);
    net_free(&n);
}

/* conv 16->16 3x3 pad 1 on 12x12 -> MSE: at batch 40 the op splits the
 * images into chunks (14, 14, 12); every image's output and input
 * gradient, and the weight and bias gradients, must match 40 runs of
 * one image (one chunk each), the batch gradients being their mean. */
static void test_chunks_match_single_images(void **state)
{
    (void)state;
    enum { B = 40, C = 16, S = 12 };
    vkt_graph *g;
    assert_int_equal(vkt_graph_create(9, &g), VKT_OK);
    int img[3] = {C, S, S};
    vkt_tensor x = vkt_input(g, "x", VKT_F32, 3, img);
    vkt_conv2d_params cp = {.out_channels = C, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true};
    vkt_tensor y = vkt_conv2d(g, x, &cp, "conv");
    vkt_tensor t = vkt_input(g, "target", VKT_F32, 3, img);
    vkt_tensor loss = vkt_mse_loss(g, y, t);
    assert_int_equal(vkt_graph_status(g), VKT_OK);
    size_t per = (size_t)C * S * S;
    float *xs = malloc(B * per * sizeof(float)), *ts = malloc(B * per * sizeof(float));
    tu_fill_uniform(xs, B * per, 1, -1, 1);
    tu_fill_uniform(ts, B * per, 2, -1, 1);

    rt_backend *be;
    assert_int_equal(rt_cpu_backend_create(2, &be), VKT_OK);
    grad_result all;
    const void *in[2] = {xs, ts};
    assert_int_equal(gh_run(be, g, loss, B, in, y, 1, &all), 0);
    size_t nw = g->params[0].numel, nb = g->params[1].numel;
    double *dw = calloc(nw, sizeof(double)), *db = calloc(nb, sizeof(double));
    double worst = 0;
    for (int b = 0; b < B; b++) {
        grad_result one;
        const void *in1[2] = {xs + b * per, ts + b * per};
        assert_int_equal(gh_run(be, g, loss, 1, in1, y, 1, &one), 0);
        for (size_t i = 0; i < per; i++) {
            worst = fmax(worst, fabs(one.output[i] - all.output[b * per + i]));
            /* MSE over the batch: each image's share is 1/B of its own */
            worst = fmax(worst, fabs(one.input_grads[0][i] / B - all.input_grads[0][b * per + i]) * B);
        }
        for (size_t i = 0; i < nw; i++)
            dw[i] += one.param_grads[0][i] / B;
        for (size_t i = 0; i < nb; i++)
            db[i] += one.param_grads[1][i] / B;
        gh_free(g, &one);
    }
    for (size_t i = 0; i < nw; i++)
        worst = fmax(worst, fabs(dw[i] - all.param_grads[0][i]));
    for (size_t i = 0; i < nb; i++)
        worst = fmax(worst, fabs(db[i] - all.param_grads[1][i]));
    if (!(worst <= 1e-5))
        fail_msg("chunked batch differs from single images by %g", worst);
    gh_free(g, &all);
    free(dw), free(db), free(xs), free(ts);
    rt_backend_destroy(be);
    vkt_graph_destroy(g);
}

/* Weights after a few SGD steps at batch 40 (several chunks): the same
 * bits with 1 and 2 threads. */
static float *train_and_read(int threads)
{
    enum { B = 40 };
    net n;
    net_make(&n, threads);
    vkt_trainer *tr = trainer_for(&n, NULL, B);
    float x[B * 144];
    int32_t y[B];
    tu_fill_uniform(x, B * 144, 3, -1, 1);
    for (int i = 0; i < B; i++)
        y[i] = i % CLASSES;
    const void *in[2] = {x, y};
    for (int s = 0; s < 4; s++)
        assert_int_equal(vkt_trainer_step(tr, in, B), VKT_OK);
    assert_int_equal(vkt_trainer_sync_weights(tr), VKT_OK);
    float *w = malloc(16 * 16 * 9 * sizeof(float));
    assert_int_equal(vkt_graph_param_get(n.g, "2.weight", w, 16 * 16 * 9), VKT_OK);
    vkt_trainer_destroy(tr);
    net_free(&n);
    return w;
}

static void test_thread_count_independent(void **state)
{
    (void)state;
    float *w1 = train_and_read(1), *w2 = train_and_read(2);
    assert_memory_equal(w1, w2, 16 * 16 * 9 * sizeof(float));
    free(w1), free(w2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_chosen),
        cmocka_unit_test(test_chunks_match_single_images),
        cmocka_unit_test(test_thread_count_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
