/* The tools' networks (models.h). */
#include "models.h"

#include <stdio.h>
#include <string.h>

static const char *const names[MODEL_KIND_COUNT] = {"mlp", "cnn", "mnv2", "transformer"};

const char *model_name(model_kind kind)
{
    return (unsigned)kind < MODEL_KIND_COUNT ? names[kind] : "none";
}

bool model_from_name(const char *name, model_kind *out)
{
    for (int k = 0; k < MODEL_KIND_COUNT; k++)
        if (strcmp(name, names[k]) == 0) {
            *out = (model_kind)k;
            return true;
        }
    return false;
}

model_config model_defaults(model_kind kind)
{
    model_config c = {kind, kind == MODEL_MNV2 ? 32 : 28, 10, 0.0f, 0};
    return c;
}

void model_input_shape(const model_config *c, int dims[3])
{
    dims[0] = c->kind == MODEL_MNV2 ? 3 : 1;
    dims[1] = dims[2] = c->image_size;
}

/* nn.Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10)) */
static vkt_tensor build_mlp(vkt_graph *g, vkt_tensor x, int classes)
{
    vkt_tensor h = vkt_flatten(g, x);
    h = vkt_relu(g, vkt_linear(g, h, 256, true, "0"));
    h = vkt_relu(g, vkt_linear(g, h, 128, true, "2"));
    return vkt_linear(g, h, classes, true, "4");
}

/* nn.Sequential(Conv2d(1, 16, 3, padding=1), ReLU(), MaxPool2d(2),
 *               Conv2d(16, 32, 3, padding=1), ReLU(), MaxPool2d(2),
 *               Flatten(), Linear(1568, 10)) */
static vkt_tensor build_cnn(vkt_graph *g, vkt_tensor x, int classes)
{
    const vkt_pool2d_params pool = {.kernel_h = 2, .kernel_w = 2};
    vkt_conv2d_params conv = {.kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true};

    conv.out_channels = 16;
    vkt_tensor h = vkt_max_pool2d(g, vkt_relu(g, vkt_conv2d(g, x, &conv, "0")), &pool);
    conv.out_channels = 32;
    h = vkt_max_pool2d(g, vkt_relu(g, vkt_conv2d(g, h, &conv, "3")), &pool);
    return vkt_linear(g, vkt_flatten(g, h), classes, true, "7");
}

/* ---- MobileNetV2-style ----
 * torchvision's MobileNetV2 layout scaled down for small images: stem
 * conv 3x3 stride 2 (16 channels), the inverted residual stages below,
 * a 1x1 conv to HEAD_WIDTH, global average pooling and the classifier.
 * Convs have no bias (batch norm follows), as in torchvision. */

typedef struct ir_stage {
    int expand; /* t: hidden = in * t */
    int out;    /* c */
    int repeat; /* n */
    int stride; /* s of the first block */
} ir_stage;

static const ir_stage stages[] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 2, 2}, {6, 64, 2, 1}};
#define STEM_WIDTH 16
#define HEAD_WIDTH 256
#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

/* Conv2d(k, stride, groups, bias=False) + BatchNorm2d (+ ReLU6), named
 * "<prefix>.0" / "<prefix>.1" like torchvision's Conv2dNormActivation;
 * a bare conv + bn pair (the projection) passes its own two names. */
static vkt_tensor conv_bn(vkt_graph *g, vkt_tensor x, int out, int k, int stride, int groups, bool relu6,
                          const char *conv_name, const char *bn_name)
{
    vkt_conv2d_params p = {.out_channels = out, .kernel_h = k, .kernel_w = k, .stride_h = stride,
                           .stride_w = stride, .pad_h = k / 2, .pad_w = k / 2, .groups = groups};
    vkt_tensor h = vkt_batch_norm(g, vkt_conv2d(g, x, &p, conv_name), BN_EPS, BN_MOMENTUM, bn_name);
    return relu6 ? vkt_activation_op(g, h, VKT_ACT_RELU6) : h;
}

static vkt_tensor conv_bn_act(vkt_graph *g, vkt_tensor x, int out, int k, int stride, int groups,
                              const char *prefix)
{
    char conv[80], bn[80];
    snprintf(conv, sizeof conv, "%s.0", prefix);
    snprintf(bn, sizeof bn, "%s.1", prefix);
    return conv_bn(g, x, out, k, stride, groups, true, conv, bn);
}

/* torchvision InvertedResidual as features.<index>: [1x1 expand conv,
 * bn, relu6,] depthwise 3x3 conv, bn, relu6, 1x1 project conv, bn,
 * plus the input when the shape is kept. */
static vkt_tensor inverted_residual(vkt_graph *g, vkt_tensor x, int in, const ir_stage *st, int stride, int index)
{
    char prefix[64], conv[64], bn[64];
    int hidden = in * st->expand, layer = 0;
    vkt_tensor h = x;
    if (st->expand != 1) {
        snprintf(prefix, sizeof prefix, "features.%d.conv.%d", index, layer++);
        h = conv_bn_act(g, h, hidden, 1, 1, 1, prefix);
    }
    snprintf(prefix, sizeof prefix, "features.%d.conv.%d", index, layer++);
    h = conv_bn_act(g, h, hidden, 3, stride, hidden, prefix);
    snprintf(conv, sizeof conv, "features.%d.conv.%d", index, layer++);
    snprintf(bn, sizeof bn, "features.%d.conv.%d", index, layer);
    h = conv_bn(g, h, st->out, 1, 1, 1, false, conv, bn);
    return stride == 1 && in == st->out ? vkt_add(g, x, h) : h;
}

static vkt_tensor build_mnv2(vkt_graph *g, vkt_tensor x, int classes)
{
    vkt_tensor h = conv_bn_act(g, x, STEM_WIDTH, 3, 2, 1, "features.0");
    int in = STEM_WIDTH, index = 1;
    for (size_t s = 0; s < sizeof stages / sizeof stages[0]; s++)
        for (int r = 0; r < stages[s].repeat; r++, index++) {
            h = inverted_residual(g, h, in, &stages[s], r == 0 ? stages[s].stride : 1, index);
            in = stages[s].out;
        }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "features.%d", index);
    h = conv_bn_act(g, h, HEAD_WIDTH, 1, 1, 1, prefix);
    /* torchvision's classifier is Sequential(Dropout, Linear): index 1. */
    return vkt_linear(g, vkt_global_avg_pool(g, h), classes, true, "classifier.1");
}

/* ---- transformer ----
 * The image's 28 rows as 28 tokens of 28 features, a linear embedding
 * to TF_WIDTH, one pre-LN encoder block as torch's
 * TransformerEncoderLayer(norm_first=True, activation="gelu", no
 * dropout) but with separate q, k, v projections:
 *   x = x + out(attention(q(ln1(x)), k(ln1(x)), v(ln1(x))))
 *   x = x + mlp.2(gelu(mlp.0(ln2(x))))
 * then a final layer norm and a linear classifier on the flattened
 * tokens (which also gives it the rows' positions). */
#define TF_TOKENS 28
#define TF_WIDTH 64
#define TF_HEADS 4
#define TF_HIDDEN 128
#define LN_EPS 1e-5f

static vkt_tensor build_transformer(vkt_graph *g, vkt_tensor x, int classes)
{
    int tokens[2] = {TF_TOKENS, TF_TOKENS};
    vkt_tensor h = vkt_linear(g, vkt_reshape(g, x, 2, tokens), TF_WIDTH, true, "embed");

    vkt_tensor n = vkt_layer_norm(g, h, LN_EPS, "block.ln1");
    vkt_tensor q = vkt_linear(g, n, TF_WIDTH, true, "block.attn.q");
    vkt_tensor k = vkt_linear(g, n, TF_WIDTH, true, "block.attn.k");
    vkt_tensor v = vkt_linear(g, n, TF_WIDTH, true, "block.attn.v");
    vkt_tensor a = vkt_attention(g, q, k, v, TF_HEADS, false);
    h = vkt_add(g, h, vkt_linear(g, a, TF_WIDTH, true, "block.attn.out"));

    n = vkt_layer_norm(g, h, LN_EPS, "block.ln2");
    vkt_tensor f = vkt_activation_op(g, vkt_linear(g, n, TF_HIDDEN, true, "block.mlp.0"), VKT_ACT_GELU);
    h = vkt_add(g, h, vkt_linear(g, f, TF_WIDTH, true, "block.mlp.2"));

    h = vkt_layer_norm(g, h, LN_EPS, "norm");
    return vkt_linear(g, vkt_flatten(g, h), classes, true, "head");
}

bool model_build(const model_config *c, vkt_graph **graph_out, vkt_tensor *loss_out, char *err, size_t err_size)
{
    if ((unsigned)c->kind >= MODEL_KIND_COUNT || c->classes < 2) {
        snprintf(err, err_size, "unknown model or fewer than 2 classes");
        return false;
    }
    if (c->kind == MODEL_MNV2 ? (c->image_size < 16 || c->image_size % 8 != 0) : c->image_size != 28) {
        snprintf(err, err_size, "%s: input size %d not supported (%s)", model_name(c->kind), c->image_size,
                 c->kind == MODEL_MNV2 ? "a multiple of 8 from 16" : "the presets take 28x28 images");
        return false;
    }
    vkt_graph *g = NULL;
    vkt_status status = vkt_graph_create(c->seed, &g);
    if (status != VKT_OK) {
        snprintf(err, err_size, "cannot create the graph: %s", vkt_last_error());
        return false;
    }
    int dims[3];
    model_input_shape(c, dims);
    vkt_tensor x = vkt_input(g, "x", VKT_F32, 3, dims);
    vkt_tensor y = vkt_input(g, "y", VKT_I32, 0, NULL);
    vkt_tensor logits = c->kind == MODEL_MLP           ? build_mlp(g, x, c->classes)
                        : c->kind == MODEL_CNN         ? build_cnn(g, x, c->classes)
                        : c->kind == MODEL_TRANSFORMER ? build_transformer(g, x, c->classes)
                                                       : build_mnv2(g, x, c->classes);
    vkt_tensor loss = vkt_softmax_cross_entropy(g, logits, y, c->label_smoothing);
    status = vkt_graph_status(g);
    if (status != VKT_OK) {
        snprintf(err, err_size, "cannot build the %s model: %s", model_name(c->kind), vkt_last_error());
        vkt_graph_destroy(g);
        return false;
    }
    *graph_out = g;
    *loss_out = loss;
    return true;
}
