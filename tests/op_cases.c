/* The op cases shared by the finite-difference gradient check and the
 * CPU-vs-Vulkan parity test: tiny graphs, one per op configuration,
 * each op -> MSE (or the op's own loss) at an odd batch size, with
 * inputs chosen away from kinks and ties. */
#include "op_cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

void gcase_begin(gcase *c, int batch)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(vkt_graph_create(42, &c->g), VKT_OK);
    c->batch = batch;
}

static vkt_tensor in_f32(gcase *c, int rank, int d0, int d1, int d2)
{
    int dims[3] = {d0, d1, d2};
    return vkt_input(c->g, "x", VKT_F32, rank, dims);
}

static vkt_tensor in_labels(gcase *c, int classes)
{
    vkt_tensor t = vkt_input(c->g, "y", VKT_I32, 0, NULL);
    c->label_bound[c->g->input_count - 1] = classes;
    return t;
}

/* Loss = MSE(y, target) with the target a further graph input. */
static void finish_mse(gcase *c, vkt_tensor y)
{
    int dims[VKT_MAX_RANK];
    int rank = vkt_tensor_shape(c->g, y, dims);
    assert_true(rank >= 0);
    vkt_tensor t = vkt_input(c->g, "target", VKT_F32, rank, dims);
    c->loss = vkt_mse_loss(c->g, y, t);
    assert_int_equal(vkt_graph_status(c->g), VKT_OK);
}

/* Random inputs, kept at least `gap` away from zero (activation kinks). */
static void fill_inputs(gcase *c, float gap)
{
    for (int k = 0; k < c->g->input_count; k++) {
        const node *n = &c->g->nodes[c->g->inputs[k]];
        size_t count = n->numel * (size_t)c->batch;
        c->inputs[k] = malloc(count * 4 + 4);
        if (n->dtype == VKT_I32) {
            int32_t *v = c->inputs[k];
            for (size_t i = 0; i < count; i++)
                v[i] = (int32_t)((i * 7 + 3) % (size_t)c->label_bound[k]);
            continue;
        }
        float *v = c->inputs[k];
        tu_fill_uniform(v, count, 1000 + (uint64_t)k, -1.0f, 1.0f);
        for (size_t i = 0; i < count; i++)
            v[i] = v[i] < 0 ? v[i] - gap : v[i] + gap;
    }
}

/* Distinct, well-separated values (max pooling must not see near-ties). */
static void fill_distinct(gcase *c, int input)
{
    const node *n = &c->g->nodes[c->g->inputs[input]];
    size_t count = n->numel * (size_t)c->batch;
    float *v = c->inputs[input];
    for (size_t i = 0; i < count; i++)
        v[i] = -1.0f + 2.0f * (float)((i * 37) % count) / (float)count;
}

void gcase_free(gcase *c)
{
    for (int k = 0; k < c->g->input_count; k++)
        free(c->inputs[k]);
    vkt_graph_destroy(c->g);
}

#define EPS 1e-2

void op_cases_linear(gcase_fn check)
{
    gcase c;
    gcase_begin(&c, 3);
    vkt_tensor x = in_f32(&c, 1, 5, 0, 0);
    finish_mse(&c, vkt_linear(c.g, x, 4, true, "fc"));
    fill_inputs(&c, 0);
    check(&c, EPS, "linear");

    gcase_begin(&c, 2); /* rank-2 input: rows share the weight */
    x = in_f32(&c, 2, 3, 4, 0);
    finish_mse(&c, vkt_linear(c.g, x, 3, false, "fc"));
    fill_inputs(&c, 0);
    check(&c, EPS, "linear rank-2, no bias");
}

static void conv_case(gcase_fn check, int cin, int h, int w, vkt_conv2d_params p, const char *label)
{
    gcase c;
    gcase_begin(&c, 2);
    vkt_tensor x = in_f32(&c, 3, cin, h, w);
    finish_mse(&c, vkt_conv2d(c.g, x, &p, "conv"));
    fill_inputs(&c, 0);
    check(&c, EPS, label);
}

void op_cases_conv2d(gcase_fn check)
{
    conv_case(check, 2, 5, 6, (vkt_conv2d_params){.out_channels = 3, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1,
                                           .bias = true}, "conv 3x3 pad 1");
    conv_case(check, 3, 7, 6, (vkt_conv2d_params){.out_channels = 2, .kernel_h = 3, .kernel_w = 2, .stride_h = 2,
                                           .stride_w = 1, .pad_h = 1, .bias = true}, "conv stride 2, 3x2");
    conv_case(check, 2, 7, 7, (vkt_conv2d_params){.out_channels = 2, .kernel_h = 3, .kernel_w = 3, .dilation_h = 2,
                                           .dilation_w = 2, .pad_h = 2, .pad_w = 1}, "conv dilation 2");
    conv_case(check, 4, 5, 5, (vkt_conv2d_params){.out_channels = 4, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1,
                                           .groups = 4, .bias = true}, "depthwise conv");
    /* more depthwise (direct kernels): stride 2, no padding, dilation,
     * no bias, rectangular kernels, sizes that fill no workgroup */
    conv_case(check, 3, 7, 6, (vkt_conv2d_params){.out_channels = 3, .kernel_h = 3, .kernel_w = 3, .stride_h = 2,
                                           .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 3},
              "depthwise stride 2 pad 1");
    conv_case(check, 2, 8, 9, (vkt_conv2d_params){.out_channels = 2, .kernel_h = 3, .kernel_w = 3, .stride_h = 2,
                                           .stride_w = 2, .groups = 2, .bias = true},
              "depthwise stride 2 pad 0");
    conv_case(check, 5, 9, 8, (vkt_conv2d_params){.out_channels = 5, .kernel_h = 3, .kernel_w = 3, .dilation_h = 2,
                                           .dilation_w = 2, .pad_h = 2, .pad_w = 2, .groups = 5, .bias = true},
              "depthwise dilation 2");
    conv_case(check, 3, 6, 7, (vkt_conv2d_params){.out_channels = 3, .kernel_h = 2, .kernel_w = 3, .stride_w = 2,
                                           .pad_w = 1, .groups = 3}, "depthwise 2x3, stride 1x2, no bias");
    conv_case(check, 4, 4, 5, (vkt_conv2d_params){.out_channels = 6, .kernel_h = 3, .kernel_w = 3, .groups = 2,
                                           .bias = true}, "grouped conv");
    conv_case(check, 3, 4, 5, (vkt_conv2d_params){.out_channels = 5, .kernel_h = 1, .kernel_w = 1, .bias = true},
              "pointwise conv");
    /* 3x3 stride 1 with enough channels and outputs: Winograd F(2x2, 3x3)
     * (odd output sizes leave edge tiles partly outside) */
    conv_case(check, 8, 11, 10, (vkt_conv2d_params){.out_channels = 8, .kernel_h = 3, .kernel_w = 3, .pad_h = 1,
                                             .pad_w = 1, .bias = true}, "winograd conv pad 1");
    conv_case(check, 9, 13, 12, (vkt_conv2d_params){.out_channels = 8, .kernel_h = 3, .kernel_w = 3},
              "winograd conv pad 0");
    conv_case(check, 8, 9, 10, (vkt_conv2d_params){.out_channels = 10, .kernel_h = 3, .kernel_w = 3, .pad_h = 2,
                                            .pad_w = 1, .bias = true}, "winograd conv pad 2x1");
}

/* B starts at zero (the adapter is a no-op until trained), which would
 * leave A's gradient zero: give both factors values before checking. */
static void randomise_lora(gcase *c, const char *layer)
{
    char name[96];
    const char *which[2] = {"lora_A.weight", "lora_B.weight"};
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof name, "%s.%s", layer, which[k]);
        int i = graph_param_find(c->g, name);
        assert_true(i >= 0);
        for (size_t j = 0; j < c->g->params[i].numel; j++)
            c->g->params[i].data[j] = 0.5f * sinf(1.7f * (float)(j + 3 * k) + 0.3f);
    }
}

void op_cases_lora(gcase_fn check)
{
    gcase c;
    gcase_begin(&c, 3); /* two adapted linears: dX flows through the upper adapter */
    vkt_tensor x = in_f32(&c, 2, 2, 5, 0);
    vkt_tensor h = vkt_linear(c.g, x, 4, true, "fc1");
    finish_mse(&c, vkt_linear(c.g, h, 3, true, "fc2"));
    assert_int_equal(vkt_graph_add_lora(c.g, "fc1", 2, 4.0f), VKT_OK);
    assert_int_equal(vkt_graph_add_lora(c.g, "fc2", 3, 1.5f), VKT_OK);
    randomise_lora(&c, "fc1");
    randomise_lora(&c, "fc2");
    fill_inputs(&c, 0);
    check(&c, EPS, "lora linear");

    gcase_begin(&c, 2);
    x = in_f32(&c, 3, 3, 4, 5);
    vkt_conv2d_params pw = {.out_channels = 5, .kernel_h = 1, .kernel_w = 1, .bias = true};
    finish_mse(&c, vkt_conv2d(c.g, vkt_conv2d(c.g, x, &pw, "pw1"), &pw, "pw2"));
    int added = 0;
    assert_int_equal(vkt_graph_add_lora_all(c.g, 2, 2.0f, &added), VKT_OK);
    assert_int_equal(added, 2);
    randomise_lora(&c, "pw1");
    randomise_lora(&c, "pw2");
    fill_inputs(&c, 0);
    check(&c, EPS, "lora pointwise conv");
}

void op_cases_pools(gcase_fn check)
{
    gcase c;
    gcase_begin(&c, 2);
    vkt_tensor x = in_f32(&c, 3, 2, 6, 7);
    vkt_pool2d_params mp = {.kernel_h = 3, .kernel_w = 2, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
    finish_mse(&c, vkt_max_pool2d(c.g, x, &mp));
    fill_inputs(&c, 0);
    fill_distinct(&c, 0);
    check(&c, 1e-3, "max pool");

    gcase_begin(&c, 2); /* 256-element windows: too large for a byte argmax */
    x = in_f32(&c, 3, 1, 17, 17);
    vkt_pool2d_params big = {.kernel_h = 16, .kernel_w = 16, .stride_h = 1, .stride_w = 1};
    finish_mse(&c, vkt_max_pool2d(c.g, x, &big));
    fill_inputs(&c, 0);
    fill_distinct(&c, 0);
    check(&c, 1e-3, "max pool 16x16 (int32 argmax)");

    for (int include = 0; include < 2; include++) {
        gcase_begin(&c, 3);
        x = in_f32(&c, 3, 2, 5, 6);
        vkt_pool2d_params ap = {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 1, .pad_h = 1,
                                .pad_w = 1, .count_include_pad = include};
        finish_mse(&c, vkt_avg_pool2d(c.g, x, &ap));
        fill_inputs(&c, 0);
        check(&c, EPS, include ? "avg pool incl. pad" : "avg pool excl. pad");
    }

    gcase_begin(&c, 3);
    x = in_f32(&c, 3, 3, 4, 5);
    finish_mse(&c, vkt_global_avg_pool(c.g, x));
    fill_inputs(&c, 0);
    check(&c, EPS, "global avg pool");
}

void op_cases_norms(gcase_fn check)
{
    gcase c;
    gcase_begin(&c, 4);
    vkt_tensor x = in_f32(&c, 3, 3, 2, 3);
    vkt_tensor y = vkt_batch_norm(c.g, x, 1e-5f, 0.1f, "bn");
    finish_mse(&c, vkt_linear(c.g, vkt_flatten(c.g, y), 2, true, "head")); /* non-trivial loss of y */
    fill_inputs(&c, 0);
    check(&c, EPS, "batch norm 2d");

    gcase_begin(&c, 5);
    x = in_f32(&c, 1, 4, 0, 0);
    y = vkt_batch_norm(c.g, x, 1e-5f, 0.1f, "bn");
    finish_mse(&c, vkt_linear(c.g, y, 3, true, "head"));
    fill_inputs(&c, 0);
    check(&c, EPS, "batch norm 1d");

    gcase_begin(&c, 3);
    x = in_f32(&c, 2, 2, 6, 0);
    y = vkt_layer_norm(c.g, x, 1e-5f, "ln");
    finish_mse(&c, vkt_linear(c.g, y, 3, true, "head"));
    fill_inputs(&c, 0);
    check(&c, EPS, "layer norm");
}

/* Batch norm as frozen statistics run it (the caller compiles with
 * compile_request.freeze_bn): running statistics away from 0 and 1, a
 * trainable beta, and in the 2d case a second path from the input so
 * the input's gradient accumulates across the two. */
static void set_running_stats(gcase *c, int channels)
{
    float mean[8], var[8];
    for (int i = 0; i < channels; i++) {
        mean[i] = 0.3f * (float)i - 0.4f;
        var[i] = 0.5f + 0.25f * (float)i;
    }
    assert_int_equal(vkt_graph_param_set(c->g, "bn.running_mean", mean, (size_t)channels), VKT_OK);
    assert_int_equal(vkt_graph_param_set(c->g, "bn.running_var", var, (size_t)channels), VKT_OK);
}

void op_cases_frozen_bn(gcase_fn check)
{
    gcase c;
    gcase_begin(&c, 4);
    vkt_tensor x = in_f32(&c, 3, 3, 2, 3);
    vkt_tensor y = vkt_activation_op(c.g, vkt_batch_norm(c.g, x, 1e-5f, 0.1f, "bn"), VKT_ACT_TANH);
    finish_mse(&c, vkt_linear(c.g, vkt_flatten(c.g, vkt_add(c.g, x, y)), 2, true, "head"));
    set_running_stats(&c, 3);
    fill_inputs(&c, 0);
    check(&c, EPS, "frozen batch norm 2d, residual");

    gcase_begin(&c, 5);
    x = in_f32(&c, 1, 4, 0, 0);
    y = vkt_batch_norm(c.g, vkt_linear(c.g, x, 4, true, "fc"), 1e-5f, 0.1f, "bn");
    finish_mse(&c, vkt_linear(c.g, y, 3, true, "head"));
    set_running_stats(&c, 4);
    fill_inputs(&c, 0);
    check(&c, EPS, "frozen batch norm 1d");
}

/* Shifts each bias of linear layer `fc` (on input 0, `rows` rows) so no
 * pre-activation lies within `gap` of a kink (0, and 6 for ReLU6): the
 * finite differences must not step across one. */
static void bias_off_kinks(gcase *c, int weight, int rows, float gap)
{
    const param *w = &c->g->params[weight], *b = &c->g->params[weight + 1];
    int out = (int)w->dims[0], in = (int)w->dims[1];
    const float *x = c->inputs[0];
    for (int o = 0; o < out; o++)
        for (int k = 0; k < 40; k++) {
            float shift = (k % 2 ? -0.03f : 0.03f) * (float)((k + 1) / 2); /* 0, +-0.03, +-0.06, ... */
            bool clear = true;
            for (int r = 0; r < rows && clear; r++) {
                float h = b->data[o] + shift;
                for (int i = 0; i < in; i++)
                    h += w->data[o * in + i] * x[r * in + i];
                clear = fabsf(h) >= gap && fabsf(h - 6.0f) >= gap;
            }
            if (clear) {
                b->data[o] += shift;
                break;
            }
        }
}

void op_cases_activations(gcase_fn check)
{
    const char *names[] = {"relu", "relu6", "gelu", "silu", "sigmoid", "tanh"};
    for (int a = VKT_ACT_RELU; a <= VKT_ACT_TANH; a++) {
        gcase c;
        gcase_begin(&c, 3);
        vkt_tensor x = in_f32(&c, 2, 3, 4, 0);
        finish_mse(&c, vkt_activation_op(c.g, x, (vkt_activation)a));
        fill_inputs(&c, 0.05f);
        if (a == VKT_ACT_RELU6) /* reach the upper kink too, away from 6 */
            for (size_t i = 0; i < 36; i++)
                ((float *)c.inputs[0])[i] *= (i % 3 == 0) ? 7.0f : 1.0f;
        check(&c, EPS / 2, names[a]);
    }
    /* Activations between layers, where the planner saves memory: the
     * activation runs in place over the linear output that dies there,
     * ReLU/ReLU6 backward reads a bit mask (add's backward does not read
     * the activation), and add runs in place over an input that dies
     * there. The residual form gives the linear output two gradient
     * contributions (backward from the mask accumulates). */
    for (int residual = 0; residual < 2; residual++)
        for (int a = VKT_ACT_RELU; a <= VKT_ACT_TANH; a++) {
            gcase c;
            gcase_begin(&c, 3);
            vkt_tensor x = in_f32(&c, 2, 2, 5, 0);
            vkt_tensor h = vkt_linear(c.g, x, 4, true, "fc1");
            vkt_tensor r = vkt_activation_op(c.g, h, (vkt_activation)a);
            finish_mse(&c, vkt_add(c.g, r, residual ? h : vkt_linear(c.g, x, 4, false, "fc2")));
            fill_inputs(&c, 0);
            if (a == VKT_ACT_RELU6) /* reach the upper kink too */
                for (size_t k = 0; k < c.g->params[0].numel; k++)
                    c.g->params[0].data[k] *= 8.0f;
            bias_off_kinks(&c, 0, 2 * c.batch, 0.02f);
            char label[64];
            snprintf(label, sizeof label, "%s between layers%s", names[a], residual ? ", residual" : "");
            check(&c, EPS / 2, label);
        }
}

void op_cases_structural(gcase_fn check)
{
    gcase c;
    gcase_begin(&c, 3); /* add, including x + x (two contributions) */
    vkt_tensor x = in_f32(&c, 1, 4, 0, 0);
    vkt_tensor h = vkt_linear(c.g, x, 4, true, "fc");
    vkt_tensor s = vkt_add(c.g, vkt_add(c.g, h, x), h);
    finish_mse(&c, s);
    fill_inputs(&c, 0);
    check(&c, EPS, "add / residual");

    gcase_begin(&c, 2); /* concat along channels and along width */
    vkt_tensor a = in_f32(&c, 3, 2, 3, 2);
    vkt_tensor b = in_f32(&c, 3, 1, 3, 2);
    vkt_tensor both[2] = {a, b};
    vkt_tensor cat = vkt_concat(c.g, 2, both, 0);
    vkt_tensor pair[2] = {cat, cat};
    finish_mse(&c, vkt_concat(c.g, 2, pair, 2));
    fill_inputs(&c, 0);
    check(&c, EPS, "concat");

    gcase_begin(&c, 3); /* reshape shares memory and gradient */
    x = in_f32(&c, 3, 2, 2, 3);
    int dims[2] = {4, 3};
    vkt_tensor r = vkt_reshape(c.g, x, 2, dims);
    finish_mse(&c, vkt_linear(c.g, r, 2, true, "fc"));
    fill_inputs(&c, 0);
    check(&c, EPS, "reshape");
}

void op_cases_dropout(gcase_fn check)
{
    gcase c;
    gcase_begin(&c, 4);
    vkt_tensor x = in_f32(&c, 1, 16, 0, 0);
    finish_mse(&c, vkt_dropout(c.g, vkt_linear(c.g, x, 8, true, "fc"), 0.4f));
    fill_inputs(&c, 0);
    check(&c, EPS, "dropout");
}

void op_cases_embedding(gcase_fn check)
{
    gcase c;
    gcase_begin(&c, 3);
    int dims[1] = {4};
    vkt_tensor idx = vkt_input(c.g, "idx", VKT_I32, 1, dims);
    c.label_bound[0] = 5; /* indices repeat: scatter-add must sum */
    finish_mse(&c, vkt_embedding(c.g, idx, 5, 3, "emb"));
    fill_inputs(&c, 0);
    check(&c, EPS, "embedding");
}

void op_cases_losses(gcase_fn check)
{
    for (int smooth = 0; smooth < 2; smooth++) {
        gcase c;
        gcase_begin(&c, 5);
        vkt_tensor x = in_f32(&c, 1, 6, 0, 0);
        vkt_tensor logits = vkt_linear(c.g, x, 4, true, "fc");
        c.loss = vkt_softmax_cross_entropy(c.g, logits, in_labels(&c, 4), smooth ? 0.1f : 0.0f);
        assert_int_equal(vkt_graph_status(c.g), VKT_OK);
        fill_inputs(&c, 0);
        check(&c, EPS, smooth ? "cross entropy, smoothing 0.1" : "cross entropy");
    }
    gcase c;
    gcase_begin(&c, 3);
    vkt_tensor x = in_f32(&c, 1, 5, 0, 0);
    finish_mse(&c, vkt_linear(c.g, x, 3, true, "fc")); /* target gradient too */
    fill_inputs(&c, 0);
    check(&c, EPS, "mse");
}

/* q, k, v projections of their own inputs (or of one), so the check
 * covers dQ, dK and dV through the projections' weights as well as the
 * inputs' gradients. */
static void attention_case(gcase_fn check, int batch, int tq, int tk, int e, int heads, bool causal,
                           const char *label)
{
    gcase c;
    gcase_begin(&c, batch);
    vkt_tensor xq = in_f32(&c, 2, tq, e, 0);
    vkt_tensor xkv = tk ? in_f32(&c, 2, tk, e, 0) : xq; /* tk 0: self-attention */
    vkt_tensor q = vkt_linear(c.g, xq, e, true, "q");
    vkt_tensor k = vkt_linear(c.g, xkv, e, false, "k");
    vkt_tensor v = vkt_linear(c.g, xkv, e, true, "v");
    finish_mse(&c, vkt_attention(c.g, q, k, v, heads, causal));
    fill_inputs(&c, 0);
    check(&c, EPS, label);
}

void op_cases_attention(gcase_fn check)
{
    attention_case(check, 2, 5, 0, 4, 1, false, "attention, 1 head");
    attention_case(check, 3, 6, 0, 6, 2, true, "attention, 2 heads, causal");
    attention_case(check, 2, 3, 6, 4, 2, false, "cross attention, Tq < Tk");
    attention_case(check, 2, 7, 4, 8, 4, true, "cross attention, causal, Tq > Tk");
    attention_case(check, 3, 4, 9, 6, 3, true, "cross attention, causal, Tq < Tk");
    /* rows times head dim over several 128-thread workgroups, not a multiple */
    attention_case(check, 3, 37, 0, 8, 2, false, "attention, 37 positions");

    gcase c; /* q, k and v all one tensor: three contributions to its gradient */
    gcase_begin(&c, 2);
    vkt_tensor x = vkt_linear(c.g, in_f32(&c, 2, 5, 6, 0), 6, true, "proj");
    finish_mse(&c, vkt_attention(c.g, x, x, x, 2, false));
    fill_inputs(&c, 0);
    check(&c, EPS, "attention of one tensor (q = k = v)");

    gcase_begin(&c, 2); /* directly on inputs: k and v the same input, q another */
    vkt_tensor a = in_f32(&c, 2, 4, 4, 0), b = in_f32(&c, 2, 3, 4, 0);
    finish_mse(&c, vkt_attention(c.g, a, b, b, 2, true));
    fill_inputs(&c, 0);
    check(&c, EPS, "attention on inputs, k = v");
}

void op_cases_small_networks(gcase_fn check)
{
    gcase c; /* conv -> bn -> relu -> pool -> residual -> gap -> linear -> CE */
    gcase_begin(&c, 3);
    vkt_tensor x = in_f32(&c, 3, 2, 6, 6);
    vkt_conv2d_params cp = {.out_channels = 4, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1};
    vkt_tensor h = vkt_conv2d(c.g, x, &cp, "c1");
    h = vkt_batch_norm(c.g, h, 1e-5f, 0.1f, "bn1");
    h = vkt_activation_op(c.g, h, VKT_ACT_SILU);
    vkt_conv2d_params dw = {.out_channels = 4, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .groups = 4};
    h = vkt_add(c.g, h, vkt_conv2d(c.g, h, &dw, "dw"));
    vkt_pool2d_params ap = {.kernel_h = 2, .kernel_w = 2};
    h = vkt_avg_pool2d(c.g, h, &ap);
    h = vkt_global_avg_pool(c.g, h);
    vkt_tensor logits = vkt_linear(c.g, h, 3, true, "fc");
    c.loss = vkt_softmax_cross_entropy(c.g, logits, in_labels(&c, 3), 0.05f);
    assert_int_equal(vkt_graph_status(c.g), VKT_OK);
    fill_inputs(&c, 0);
    check(&c, EPS, "small cnn");
}

