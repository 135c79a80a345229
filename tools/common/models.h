/* Networks shared by the tools: vktrain trains the mlp and cnn presets
 * on Fashion-MNIST, vkbench times all of them.
 *
 * Built with the public graph API only. Layers carry the names PyTorch
 * gives the equivalent module's parameters (nn.Sequential indices for
 * the presets, torchvision's MobileNetV2 layout for mnv2), so a
 * state_dict of the torch model loads and weights saved here load into
 * torch. Every model takes the inputs "x" (F32 image [C, H, W]) then
 * "y" (I32 class label) and ends in softmax cross-entropy. */
#ifndef VKT_TOOLS_MODELS_H
#define VKT_TOOLS_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vktrain/vktrain.h>

typedef enum model_kind {
    MODEL_MLP,  /* Linear(784, 256), ReLU, Linear(256, 128), ReLU, Linear(128, 10)    */
    MODEL_CNN,  /* 2 x (Conv2d 3x3, ReLU, MaxPool2d 2), Linear(1568, 10)               */
    MODEL_MNV2, /* MobileNetV2-style: inverted residual blocks, depthwise convs      */
    MODEL_TRANSFORMER, /* image rows as 28 tokens, one pre-LN encoder block (4 heads) */
    MODEL_KIND_COUNT
} model_kind;

typedef struct model_config {
    model_kind kind;
    /* Input side: 28 for the presets (1 x 28 x 28, what Fashion-MNIST
     * gives); mnv2 takes 3 x side x side, side a multiple of 8 from 16
     * (32 and 64 are the benchmarked ones). */
    int image_size;
    int classes;
    float label_smoothing;
    uint64_t seed; /* parameter initialisation */
} model_config;

/* "mlp", "cnn", "mnv2", "transformer". */
const char *model_name(model_kind kind);
bool model_from_name(const char *name, model_kind *out);
/* The kind's standard input, 10 classes, no smoothing, seed 0. */
model_config model_defaults(model_kind kind);
/* Per-sample shape of "x". */
void model_input_shape(const model_config *config, int dims[3]);
/* Build the network. On failure returns false with the reason in
 * err (config or library error) and creates nothing. */
bool model_build(const model_config *config, vkt_graph **graph, vkt_tensor *loss, char *err, size_t err_size);

#endif
