/* Graph building: shape rules, PyTorch parameter names and layouts,
 * initialisation ranges, and sticky, readable build errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/vktrain.h>

#include "test_util.h"

static vkt_graph *new_graph(void)
{
    vkt_graph *g;
    assert_int_equal(vkt_graph_create(7, &g), VKT_OK);
    return g;
}

static void expect_shape(vkt_graph *g, vkt_tensor t, int rank, int d0, int d1, int d2)
{
    int dims[VKT_MAX_RANK];
    assert_int_equal(vkt_tensor_shape(g, t, dims), rank);
    int want[3] = {d0, d1, d2};
    for (int i = 0; i < rank && i < 3; i++)
        assert_int_equal(dims[i], want[i]);
}

static void expect_param(vkt_graph *g, int index, const char *name, int rank, int64_t d0, int64_t d1, int64_t d2,
                         int64_t d3)
{
    vkt_param_info info;
    assert_int_equal(vkt_graph_param_info(g, index, &info), VKT_OK);
    assert_string_equal(info.name, name);
    assert_int_equal(info.rank, rank);
    int64_t want[4] = {d0, d1, d2, d3};
    for (int i = 0; i < rank; i++)
        assert_int_equal(info.dims[i], want[i]);
}

static void test_cnn_shapes_and_names(void **state)
{
    (void)state;
    vkt_graph *g = new_graph();
    int img[3] = {1, 28, 28};
    vkt_tensor x = vkt_input(g, "x", VKT_F32, 3, img);
    vkt_conv2d_params c1 = {.out_channels = 16, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true};
    vkt_tensor h = vkt_conv2d(g, x, &c1, "0");
    expect_shape(g, h, 3, 16, 28, 28);
    vkt_pool2d_params mp = {.kernel_h = 2, .kernel_w = 2};
    h = vkt_max_pool2d(g, vkt_relu(g, h), &mp);
    expect_shape(g, h, 3, 16, 14, 14);
    vkt_conv2d_params c2 = {.out_channels = 32, .kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2,
                            .pad_h = 1, .pad_w = 1, .dilation_h = 1, .groups = 4, .bias = false};
    h = vkt_conv2d(g, h, &c2, "3");
    expect_shape(g, h, 3, 32, 7, 7);
    vkt_tensor f = vkt_flatten(g, h);
    expect_shape(g, f, 1, 32 * 49, 0, 0);
    vkt_tensor logits = vkt_linear(g, f, 10, true, "7");
    expect_shape(g, logits, 1, 10, 0, 0);
    assert_int_equal(vkt_graph_status(g), VKT_OK);
    assert_int_equal(vkt_graph_param_count(g), 5);
    expect_param(g, 0, "0.weight", 4, 16, 1, 3, 3);
    expect_param(g, 1, "0.bias", 1, 16, 0, 0, 0);
    expect_param(g, 2, "3.weight", 4, 32, 4, 3, 3); /* in/groups */
    expect_param(g, 3, "7.weight", 2, 10, 1568, 0, 0);
    expect_param(g, 4, "7.bias", 1, 10, 0, 0, 0);
    assert_int_equal(vkt_graph_trainable_numel(g), 16 * 9 + 16 + 32 * 4 * 9 + 15680 + 10);

    /* PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
    float w[15680];
    assert_int_equal(vkt_graph_param_get(g, "7.weight", w, 15680), VKT_OK);
    float bound = 1.0f / sqrtf(1568.0f), lo = 1, hi = -1;
    for (int i = 0; i < 15680; i++)
        lo = fminf(lo, w[i]), hi = fmaxf(hi, w[i]);
    assert_true(lo >= -bound && hi <= bound);
    assert_true(lo < -0.9f * bound && hi > 0.9f * bound);
    vkt_graph_destroy(g);
}

static void test_norm_and_misc_shapes(void **state)
{
    (void)state;
    vkt_graph *g = new_graph();
    int d[3] = {8, 5, 5};
    vkt_tensor x = vkt_input(g, "x", VKT_F32, 3, d);
    vkt_tensor bn = vkt_batch_norm(g, x, 1e-5f, 0.1f, "bn");
    expect_param(g, 0, "bn.weight", 1, 8, 0, 0, 0);
    expect_param(g, 2, "bn.running_mean", 1, 8, 0, 0, 0);
    expect_param(g, 4, "bn.num_batches_tracked", 0, 0, 0, 0, 0);
    vkt_param_info info;
    vkt_graph_param_info(g, 3, &info);
    assert_true(info.is_state);
    float var[8];
    vkt_graph_param_get(g, "bn.running_var", var, 8);
    assert_true(var[0] == 1.0f && var[7] == 1.0f);
    vkt_tensor gap = vkt_global_avg_pool(g, bn);
    expect_shape(g, gap, 1, 8, 0, 0);
    vkt_pool2d_params ap = {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
    expect_shape(g, vkt_avg_pool2d(g, x, &ap), 3, 8, 3, 3);
    vkt_tensor parts[2] = {x, bn};
    expect_shape(g, vkt_concat(g, 2, parts, 0), 3, 16, 5, 5);
    int rd[2] = {8, 25};
    vkt_tensor r = vkt_reshape(g, x, 2, rd);
    expect_shape(g, vkt_layer_norm(g, r, 1e-5f, "ln"), 2, 8, 25, 0);
    int seq = 6;
    vkt_tensor ids = vkt_input(g, "ids", VKT_I32, 1, &seq);
    expect_shape(g, vkt_embedding(g, ids, 100, 12, "emb"), 2, 6, 12, 0);
    expect_shape(g, vkt_dropout(g, r, 0.5f), 2, 8, 25, 0);
    assert_int_equal(vkt_graph_status(g), VKT_OK);
    vkt_graph_destroy(g);
}

static void expect_error(vkt_graph *g, vkt_tensor t, vkt_status st, const char *needle)
{
    assert_int_equal(t, VKT_NO_TENSOR);
    assert_int_equal(vkt_graph_status(g), st);
    if (!strstr(vkt_last_error(), needle))
        fail_msg("error '%s' does not mention '%s'", vkt_last_error(), needle);
    vkt_graph_destroy(g);
}

static void test_build_errors(void **state)
{
    (void)state;
    int d3[3] = {3, 8, 8}, d1 = 10;
    vkt_graph *g = new_graph();
    vkt_tensor x = vkt_input(g, "x", VKT_F32, 3, d3);
    vkt_conv2d_params bad_groups = {.out_channels = 4, .kernel_h = 3, .kernel_w = 3, .groups = 2};
    expect_error(g, vkt_conv2d(g, x, &bad_groups, "c"), VKT_ERR_SHAPE, "groups");

    g = new_graph();
    x = vkt_input(g, "x", VKT_F32, 1, &d1);
    vkt_conv2d_params ok = {.out_channels = 4, .kernel_h = 3, .kernel_w = 3};
    expect_error(g, vkt_conv2d(g, x, &ok, "c"), VKT_ERR_SHAPE, "[C, H, W]");

    g = new_graph();
    x = vkt_input(g, "x", VKT_F32, 3, d3);
    vkt_conv2d_params huge = {.out_channels = 4, .kernel_h = 9, .kernel_w = 9};
    expect_error(g, vkt_conv2d(g, x, &huge, "c"), VKT_ERR_SHAPE, "larger");

    g = new_graph(); /* sticky: later calls fail too, first message kept */
    x = vkt_input(g, "x", VKT_F32, 1, &d1);
    vkt_tensor y = vkt_add(g, x, vkt_linear(g, x, 5, true, "fc"));
    assert_int_equal(y, VKT_NO_TENSOR);
    assert_int_equal(vkt_linear(g, x, 3, true, "fc2"), VKT_NO_TENSOR);
    expect_error(g, VKT_NO_TENSOR, VKT_ERR_SHAPE, "differ");

    g = new_graph();
    x = vkt_input(g, "x", VKT_F32, 1, &d1);
    vkt_linear(g, x, 3, true, "fc");
    expect_error(g, vkt_linear(g, x, 3, true, "fc"), VKT_ERR_INVALID_ARG, "used twice");

    g = new_graph();
    x = vkt_input(g, "x", VKT_F32, 1, &d1);
    vkt_tensor labels = vkt_input(g, "y", VKT_I32, 0, NULL);
    vkt_tensor loss = vkt_softmax_cross_entropy(g, x, labels, 0);
    expect_error(g, vkt_relu(g, loss), VKT_ERR_INVALID_ARG, "loss");

    g = new_graph();
    x = vkt_input(g, "x", VKT_F32, 1, &d1);
    int seven = 7;
    expect_error(g, vkt_reshape(g, x, 1, &seven), VKT_ERR_SHAPE, "elements");

    g = new_graph();
    x = vkt_input(g, "x", VKT_F32, 1, &d1);
    expect_error(g, vkt_relu(g, 12345), VKT_ERR_INVALID_ARG, "not a tensor");

    g = new_graph();
    x = vkt_input(g, "x", VKT_F32, 1, &d1);
    expect_error(g, vkt_dropout(g, x, 1.0f), VKT_ERR_INVALID_ARG, "dropout");

    g = new_graph();
    x = vkt_input(g, "x", VKT_F32, 1, &d1);
    expect_error(g, vkt_embedding(g, x, 5, 3, "e"), VKT_ERR_SHAPE, "I32");

    g = new_graph();
    x = vkt_input(g, "x", VKT_F32, 1, &d1);
    expect_error(g, vkt_linear(g, x, 4, true, NULL), VKT_ERR_INVALID_ARG, "name");
}

static void test_attention_shapes_and_errors(void **state)
{
    (void)state;
    int tq[2] = {5, 12}, tk[2] = {7, 12}, e8[2] = {7, 8}, d1 = 12;
    vkt_graph *g = new_graph();
    vkt_tensor q = vkt_input(g, "q", VKT_F32, 2, tq), kv = vkt_input(g, "kv", VKT_F32, 2, tk);
    expect_shape(g, vkt_attention(g, q, kv, kv, 3, false), 2, 5, 12, 0);
    expect_shape(g, vkt_attention(g, q, q, q, 12, true), 2, 5, 12, 0);
    assert_int_equal(vkt_graph_status(g), VKT_OK);
    vkt_graph_destroy(g);

    g = new_graph();
    q = vkt_input(g, "q", VKT_F32, 2, tq), kv = vkt_input(g, "kv", VKT_F32, 2, tk);
    expect_error(g, vkt_attention(g, q, kv, kv, 5, false), VKT_ERR_INVALID_ARG, "divide E = 12");

    g = new_graph();
    q = vkt_input(g, "q", VKT_F32, 2, tq), kv = vkt_input(g, "kv", VKT_F32, 2, tk);
    expect_error(g, vkt_attention(g, q, kv, kv, 0, false), VKT_ERR_INVALID_ARG, "heads 0");

    g = new_graph(); /* k and v of different lengths */
    q = vkt_input(g, "q", VKT_F32, 2, tq), kv = vkt_input(g, "kv", VKT_F32, 2, tk);
    expect_error(g, vkt_attention(g, q, kv, q, 2, false), VKT_ERR_SHAPE, "same length");

    g = new_graph(); /* a different E */
    q = vkt_input(g, "q", VKT_F32, 2, tq);
    vkt_tensor k8 = vkt_input(g, "k", VKT_F32, 2, e8);
    expect_error(g, vkt_attention(g, q, k8, k8, 2, false), VKT_ERR_SHAPE, "[7, 8]");

    g = new_graph(); /* heads past RT_ATTN_MAX_HEAD_DIM (1024) wide */
    int wide[2] = {2, 2048};
    q = vkt_input(g, "q", VKT_F32, 2, wide);
    expect_error(g, vkt_attention(g, q, q, q, 1, false), VKT_ERR_INVALID_ARG, "head dimension 2048");

    g = new_graph(); /* not [T, E] */
    vkt_tensor flat = vkt_input(g, "x", VKT_F32, 1, &d1);
    expect_error(g, vkt_attention(g, flat, flat, flat, 1, false), VKT_ERR_SHAPE, "[T, E]");
}

static void test_trainer_refuses_bad_graph(void **state)
{
    (void)state;
    vkt_context *ctx;
    vkt_context_options co = {"cpu", 1};
    assert_int_equal(vkt_context_create(&co, &ctx), VKT_OK);
    vkt_graph *g = new_graph();
    int d = 4;
    vkt_tensor x = vkt_input(g, "x", VKT_F32, 1, &d);
    vkt_tensor h = vkt_linear(g, x, 3, true, "fc");
    vkt_trainer_options to = {.batch_size = 4, .optimizer = {.kind = VKT_OPT_SGD, .lr = 0.1f}};
    vkt_trainer *tr = NULL;
    assert_int_equal(vkt_trainer_create(ctx, g, h, &to, &tr), VKT_ERR_INVALID_ARG); /* not a loss */
    assert_null(tr);
    vkt_relu(g, 999);
    assert_int_equal(vkt_trainer_create(ctx, g, h, &to, &tr), VKT_ERR_INVALID_ARG); /* graph has an error */
    vkt_graph_destroy(g);
    vkt_context_destroy(ctx);

    co.device = "tpu";
    assert_int_equal(vkt_context_create(&co, &ctx), VKT_ERR_INVALID_ARG);
    co.device = "cpu";
    co.threads = -2;
    assert_int_equal(vkt_context_create(&co, &ctx), VKT_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnn_shapes_and_names),
        cmocka_unit_test(test_norm_and_misc_shapes),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_attention_shapes_and_errors),
        cmocka_unit_test(test_trainer_refuses_bad_graph),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
